//! Exit codes scripts can rely on, and the failures that carry them.

use std::process::ExitCode;

use admit::AdmitError;
use serde_json::Value;

/// Success.
pub const OK: u8 = 0;
/// Refused or failed: forbidden, not found, bootstrap refused, a store error mid-command.
pub const REFUSED: u8 = 1;
/// Usage: unknown flag or command, invalid value, missing setting (clap's own code too).
pub const USAGE: u8 = 2;
/// The database is unreachable, or its URL is malformed.
pub const DATABASE: u8 = 3;
/// The schema is behind this binary (run `admit migrate`) or newer than it.
pub const SCHEMA: u8 = 4;

/// A command that did not succeed: its exit code and a message for standard error.
#[derive(Debug)]
pub struct Failure {
    code: u8,
    message: String,
    output: Option<(String, Value)>,
}

impl Failure {
    fn new(code: u8, message: impl Into<String>) -> Self {
        Failure { code, message: message.into(), output: None }
    }

    /// Exit 2.
    pub fn usage(message: impl Into<String>) -> Self {
        Failure::new(USAGE, message)
    }

    /// Exit 1.
    pub fn refused(message: impl Into<String>) -> Self {
        Failure::new(REFUSED, message)
    }

    /// Exit 1, for failures outside admit (the runtime).
    pub fn other(message: impl Into<String>) -> Self {
        Failure::new(REFUSED, message)
    }

    /// Exit 3.
    pub fn database(message: impl Into<String>) -> Self {
        Failure::new(DATABASE, message)
    }

    /// Exit 4.
    pub fn schema(message: impl Into<String>) -> Self {
        Failure::new(SCHEMA, message)
    }

    /// The same failure, with what the command would have printed on success (a table and
    /// a JSON document), printed on stdout before the message.
    pub fn with_output(mut self, text: String, json: Value) -> Self {
        self.output = Some((text, json));
        self
    }

    /// A store failure mid-command: exit 3 when the database went away, 1 otherwise.
    pub fn store(error: admit::store::StoreError) -> Self {
        if error.is_transient() {
            Failure::database(format!("database error: {error}"))
        } else {
            Failure::refused(format!("store error: {error}"))
        }
    }

    /// An admit error: input errors are usage (2), store outages 3, the rest 1.
    pub fn admit(error: AdmitError) -> Self {
        match error {
            AdmitError::Store(e) => Failure::store(e),
            e @ (AdmitError::InvalidEmail(_)
            | AdmitError::InvalidField(_)
            | AdmitError::InvalidFields(_)
            | AdmitError::Password(_)) => Failure::usage(e.to_string()),
            e @ AdmitError::Forbidden(_) => Failure::refused(format!("refused: {e}")),
            e => Failure::refused(e.to_string()),
        }
    }

    /// Prints the output if any (JSON with `--json`) and the message, and gives the exit code.
    pub fn report(self, json: bool) -> ExitCode {
        match &self.output {
            Some((_, value)) if json => println!("{value}"),
            Some((text, _)) => print!("{text}"),
            None => {}
        }
        eprintln!("admit: {}", self.message);
        ExitCode::from(self.code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct() {
        let codes = [OK, REFUSED, USAGE, DATABASE, SCHEMA];
        for (i, a) in codes.iter().enumerate() {
            for b in &codes[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(Failure::admit(AdmitError::UnknownActor).code, REFUSED);
        assert_eq!(Failure::admit(AdmitError::NotPurgeable).code, REFUSED);
    }
}
