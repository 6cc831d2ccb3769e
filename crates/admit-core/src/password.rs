//! Passwords: the policy (after NIST SP 800-63B), Argon2id hashing, and temporary passwords.

use std::fmt;

/// A password hash in PHC string format (`$argon2id$v=19$m=19456,t=2,p=1$…`).
///
/// Not a secret in itself, but never printed: its `Debug` shows only the algorithm.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a PHC string read from a store. The string is checked when it is verified.
    pub fn from_phc(phc: String) -> Self {
        PasswordHash(phc)
    }

    /// The PHC string, for stores to persist.
    pub fn as_phc(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let algorithm = self.0.split('$').nth(1).unwrap_or("?");
        write!(f, "PasswordHash({algorithm}, [redacted])")
    }
}
