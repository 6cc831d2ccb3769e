//! Email addresses: parsing, normalisation and the department-address policy.
//!
//! An [`Email`] keeps the address as typed (local part case included) for display and
//! sending, with the domain lowercased in IDNA ASCII form. Its [`EmailKey`] lowercases the
//! local part too (never uppercases: the dotless-ı collision of CVE-2019-19844) and is what
//! uniqueness and look-ups use.

use std::collections::BTreeSet;
use std::fmt;

/// Longest address accepted, in bytes (RFC 5321 path limit).
pub const MAX_EMAIL_LEN: usize = 254;
/// Longest local part accepted, in bytes (RFC 5321).
pub const MAX_LOCAL_PART_LEN: usize = 64;

/// Why an address was refused. Each reason has its own variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EmailError {
    /// Nothing but white space was given.
    #[error("email address is empty")]
    Empty,
    /// The address, or its lowercase lookup key ([`EmailKey`]), is longer than [`MAX_EMAIL_LEN`] bytes.
    #[error("email address is too long")]
    TooLong,
    /// A control character (including CR, LF and NUL) appears.
    #[error("email address contains a control character")]
    ControlCharacter,
    /// White space appears inside the address.
    #[error("email address contains white space")]
    Whitespace,
    /// No `@`, or more than one.
    #[error("email address must contain exactly one @")]
    MissingAt,
    /// The part before `@` is empty, too long or has a character outside the accepted set.
    #[error("email local part is invalid")]
    InvalidLocalPart,
    /// The domain is empty, not a valid (internationalised) host name, or has no dot.
    #[error("email domain is invalid")]
    InvalidDomain,
    /// A department or role address (`maintenance@`, `info@`, …), refused by the policy.
    #[error("department or role addresses are not accepted")]
    RoleAddress,
}

/// The case-insensitive lookup key of an address: lowercase local part, `@`, IDNA ASCII domain.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct EmailKey(String);

impl EmailKey {
    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for EmailKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EmailKey({:?})", self.0)
    }
}

impl fmt::Display for EmailKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A syntactically valid, normalised email address.
///
/// ```
/// use admit_core::Email;
/// let email = Email::parse("  Jeanne.Martin@Exemple.FR ").unwrap();
/// assert_eq!(email.as_str(), "Jeanne.Martin@exemple.fr");
/// assert_eq!(email.key().as_str(), "jeanne.martin@exemple.fr");
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email {
    address: String,
    key: EmailKey,
}

impl Email {
    /// Parses and normalises an address: trims white space at both ends, refuses control
    /// characters and inner white space, lowercases the domain and converts it to IDNA
    /// ASCII form (UTS 46). The domain needs at least one dot and a top-level label that is
    /// not all digits (so no bare IP address); address literals (`[…]`) are refused.
    /// Does not apply the department-address policy (see [`EmailPolicy::parse`]).
    ///
    /// # Errors
    /// An [`EmailError`] naming the reason.
    pub fn parse(text: &str) -> Result<Email, EmailError> {
        if text.len() > MAX_EMAIL_LEN * 4 {
            return Err(EmailError::TooLong);
        }
        // Unicode white space at either end (spaces, tabs, a pasted no-break space, the CR LF
        // that ends a line of a CSV file) is trimmed; inside, it is refused below.
        let text = text.trim();
        if text.is_empty() {
            return Err(EmailError::Empty);
        }
        if text.chars().any(char::is_control) {
            return Err(EmailError::ControlCharacter);
        }
        if text.chars().any(char::is_whitespace) {
            return Err(EmailError::Whitespace);
        }
        let mut parts = text.split('@');
        let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(EmailError::MissingAt);
        };
        if !is_valid_local_part(local) {
            return Err(EmailError::InvalidLocalPart);
        }
        let domain = normalise_domain(domain)?;
        let address = format!("{local}@{domain}");
        if address.len() > MAX_EMAIL_LEN {
            return Err(EmailError::TooLong);
        }
        let key = EmailKey(format!("{}@{domain}", local.to_lowercase()));
        // Lowercasing may lengthen a local part ("İ", 2 bytes, becomes "i̇", 3 bytes): the
        // key, which stores index and compare, is bounded like the address.
        if key.0.len() > MAX_EMAIL_LEN {
            return Err(EmailError::TooLong);
        }
        Ok(Email { address, key })
    }

    /// The address as typed, with the domain normalised: what mail is sent to.
    pub fn as_str(&self) -> &str {
        &self.address
    }

    /// The lookup key (case-insensitive identity).
    pub fn key(&self) -> &EmailKey {
        &self.key
    }

    /// The part before `@`, as typed.
    pub fn local_part(&self) -> &str {
        self.address.rsplit_once('@').map_or("", |(l, _)| l)
    }

    /// The domain, lowercased, in IDNA ASCII form.
    pub fn domain(&self) -> &str {
        self.address.rsplit_once('@').map_or("", |(_, d)| d)
    }
}

fn is_valid_local_part(local: &str) -> bool {
    // dot-atom of RFC 5322, extended to non-ASCII letters (RFC 6531); no quoted strings.
    !local.is_empty()
        && local.len() <= MAX_LOCAL_PART_LEN
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local.chars().all(|c| {
            c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c) || (!c.is_ascii() && c.is_alphanumeric())
        })
}

fn normalise_domain(domain: &str) -> Result<String, EmailError> {
    if domain.is_empty() {
        return Err(EmailError::InvalidDomain);
    }
    let ascii = idna::domain_to_ascii(domain).map_err(|_| EmailError::InvalidDomain)?;
    let valid = !ascii.is_empty()
        && ascii.len() <= 253
        && ascii.contains('.')
        && ascii.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    // No top-level domain is numeric: `user@192.168.1.10` is an IP address written without
    // the brackets of an address literal, and mail would not be routed as the person meant.
    let numeric_tld = ascii.rsplit('.').next().is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()));
    if valid && !numeric_tld { Ok(ascii) } else { Err(EmailError::InvalidDomain) }
}

impl TryFrom<String> for Email {
    type Error = EmailError;
    fn try_from(text: String) -> Result<Self, EmailError> {
        Email::parse(&text)
    }
}

impl From<Email> for String {
    fn from(email: Email) -> String {
        email.address
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.address)
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({:?})", self.address)
    }
}

/// Which addresses an administrator may give an account.
///
/// By default, department and role addresses such as `maintenance@`, `info@`,
/// `contact@`, `support@`, `admin@`, `noreply@` and `postmaster@` are refused: an account
/// belongs to one person (« nous ne pouvons pas créer de comptes pour des départements
/// entiers »). The list is configurable.
///
/// ```
/// use admit_core::{EmailError, EmailPolicy};
/// let policy = EmailPolicy::default();
/// assert_eq!(policy.parse("maintenance@nomdelentreprise.fr"), Err(EmailError::RoleAddress));
/// assert!(policy.parse("jeanne@nomdelentreprise.fr").is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailPolicy {
    refused_local_parts: BTreeSet<String>,
}

impl EmailPolicy {
    /// The local parts refused by default (compared case-insensitively, ignoring any
    /// `+tag` suffix).
    pub const DEFAULT_REFUSED_LOCAL_PARTS: &'static [&'static str] = &[
        "abuse",
        "accounting",
        "accounts",
        "accueil",
        "admin",
        "administrator",
        "billing",
        "commercial",
        "compta",
        "comptabilite",
        "contact",
        "direction",
        "dpo",
        "facturation",
        "help",
        "hostmaster",
        "hr",
        "info",
        "infos",
        "information",
        "it",
        "mailer-daemon",
        "maintenance",
        "marketing",
        "ne-pas-repondre",
        "nepasrepondre",
        "no-reply",
        "noreply",
        "office",
        "postmaster",
        "recrutement",
        "rgpd",
        "rh",
        "root",
        "sales",
        "secretariat",
        "security",
        "service",
        "support",
        "team",
        "webmaster",
    ];

    /// A policy that refuses nothing beyond syntax.
    pub fn allow_role_addresses() -> Self {
        EmailPolicy { refused_local_parts: BTreeSet::new() }
    }

    /// Adds a local part to refuse.
    pub fn refuse(mut self, local_part: &str) -> Self {
        self.refused_local_parts.insert(local_part.to_lowercase());
        self
    }

    /// Stops refusing a local part.
    pub fn allow(mut self, local_part: &str) -> Self {
        self.refused_local_parts.remove(&local_part.to_lowercase());
        self
    }

    /// Whether `email` is a refused department or role address.
    pub fn is_refused(&self, email: &Email) -> bool {
        let local = email.key().as_str().rsplit_once('@').map_or("", |(l, _)| l);
        let base = local.split_once('+').map_or(local, |(b, _)| b);
        self.refused_local_parts.contains(base)
    }

    /// Checks an already parsed address against the policy.
    ///
    /// # Errors
    /// [`EmailError::RoleAddress`] if it is refused.
    pub fn check(&self, email: &Email) -> Result<(), EmailError> {
        if self.is_refused(email) { Err(EmailError::RoleAddress) } else { Ok(()) }
    }

    /// Parses `text` ([`Email::parse`]) and applies the policy.
    ///
    /// # Errors
    /// Any [`EmailError`].
    pub fn parse(&self, text: &str) -> Result<Email, EmailError> {
        let email = Email::parse(text)?;
        self.check(&email)?;
        Ok(email)
    }
}

impl Default for EmailPolicy {
    fn default() -> Self {
        EmailPolicy { refused_local_parts: Self::DEFAULT_REFUSED_LOCAL_PARTS.iter().map(|s| (*s).to_owned()).collect() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Email, EmailError> {
        Email::parse(text)
    }

    #[test]
    fn normalises_domain_and_keeps_local_part_as_typed() {
        let email = parse("  Jeanne.Martin@Exemple.FR\t").unwrap();
        assert_eq!(email.as_str(), "Jeanne.Martin@exemple.fr");
        assert_eq!(email.local_part(), "Jeanne.Martin");
        assert_eq!(email.domain(), "exemple.fr");
        assert_eq!(email.key().as_str(), "jeanne.martin@exemple.fr");
        assert_eq!(email.to_string(), "Jeanne.Martin@exemple.fr");
    }

    #[test]
    fn trims_unicode_white_space_and_line_ends() {
        for padded in ["\u{a0}jeanne@exemple.fr\u{a0}", "jeanne@exemple.fr\r\n", "\n jeanne@exemple.fr \u{3000}"] {
            assert_eq!(parse(padded).unwrap().as_str(), "jeanne@exemple.fr", "{padded:?}");
        }
    }

    #[test]
    fn idn_domains_become_ascii() {
        assert_eq!(parse("élise@École.FR").unwrap().as_str(), "élise@xn--cole-9oa.fr");
        assert_eq!(parse("a@münchen.de").unwrap().domain(), "xn--mnchen-3ya.de");
        assert_eq!(parse("a@XN--MNCHEN-3YA.DE").unwrap().domain(), "xn--mnchen-3ya.de");
        // Full-width letters and dot are mapped (UTS 46).
        assert_eq!(parse("a@ｅｘｅｍｐｌｅ．ｆｒ").unwrap().domain(), "exemple.fr");
    }

    #[test]
    fn error_empty() {
        assert_eq!(parse(""), Err(EmailError::Empty));
        assert_eq!(parse(" \t \u{a0}"), Err(EmailError::Empty));
    }

    #[test]
    fn error_too_long() {
        let local = "a".repeat(MAX_LOCAL_PART_LEN);
        let label = "b".repeat(63);
        let address = |filler: usize| format!("{local}@{label}.{label}.{}.fr", "c".repeat(filler));
        assert_eq!(address(59).len(), MAX_EMAIL_LEN + 1);
        assert_eq!(parse(&address(59)), Err(EmailError::TooLong));
        assert_eq!(address(58).len(), MAX_EMAIL_LEN);
        assert!(parse(&address(58)).is_ok());
        assert_eq!(parse(&"a".repeat(10_000)), Err(EmailError::TooLong));
        // The lookup key is bounded too: 32 × "İ" is a 64-byte local part whose lowercase
        // form is 96 bytes.
        let dotted = "\u{130}".repeat(32);
        let domain = |filler: usize| format!("{label}.{label}.{}.fr", "c".repeat(filler));
        let at_limit = format!("{dotted}@{}", domain(58));
        assert_eq!(at_limit.len(), MAX_EMAIL_LEN);
        assert_eq!(parse(&at_limit), Err(EmailError::TooLong));
        let key_at_limit = format!("{dotted}@{}", domain(26));
        assert_eq!(key_at_limit.to_lowercase().len(), MAX_EMAIL_LEN);
        assert_eq!(parse(&key_at_limit).unwrap().key().as_str().len(), MAX_EMAIL_LEN);
        assert_eq!(parse(&format!("{dotted}@{}", domain(27))), Err(EmailError::TooLong));
        // The limit applies to the normalised (ASCII) form: five labels of fifteen CJK
        // characters are 297 bytes as typed, 247 once in Punycode.
        let label: String = (0..15).map(|i| char::from_u32(0x4e00 + i * 37).unwrap()).collect();
        let typed = format!("{local}@{label}.{label}.{label}.{label}.{label}.fr");
        assert_eq!(typed.len(), 297);
        assert_eq!(parse(&typed).unwrap().as_str().len(), 247);
    }

    #[test]
    fn error_control_character() {
        for text in
            ["jeanne@exemple.fr\r\nBcc: x@y.fr", "jea\0nne@exemple.fr", "jeanne@exem\u{7f}ple.fr", "\u{1b}[31m@x.fr"]
        {
            assert_eq!(parse(text), Err(EmailError::ControlCharacter), "{text:?}");
        }
    }

    #[test]
    fn error_whitespace() {
        for text in
            ["jeanne martin@exemple.fr", "jeanne@exemple .fr", "jeanne\u{a0}martin@exemple.fr", "a\u{2003}b@x.fr"]
        {
            assert_eq!(parse(text), Err(EmailError::Whitespace), "{text:?}");
        }
    }

    #[test]
    fn error_missing_at() {
        for text in ["jeanne.exemple.fr", "jeanne@martin@exemple.fr", "@@"] {
            assert_eq!(parse(text), Err(EmailError::MissingAt), "{text:?}");
        }
    }

    #[test]
    fn error_invalid_local_part() {
        let too_long = format!("{}@exemple.fr", "a".repeat(MAX_LOCAL_PART_LEN + 1));
        for text in [
            "@exemple.fr",
            ".jeanne@exemple.fr",
            "jeanne.@exemple.fr",
            "jeanne..martin@exemple.fr",
            "\"jeanne\"@exemple.fr",
            "jeanne(martin)@exemple.fr",
            "jeanne,martin@exemple.fr",
            "a\u{202e}b@exemple.fr",
            too_long.as_str(),
        ] {
            assert_eq!(parse(text), Err(EmailError::InvalidLocalPart), "{text:?}");
        }
        assert!(parse("o'brien+tag_1{x}@exemple.fr").is_ok());
        assert!(parse("zoë@exemple.fr").is_ok());
    }

    #[test]
    fn error_invalid_domain() {
        for text in [
            "jeanne@",
            "jeanne@localhost",
            "jeanne@exemple.fr.",
            "jeanne@.exemple.fr",
            "jeanne@exemple..fr",
            "jeanne@-exemple.fr",
            "jeanne@exemple-.fr",
            "jeanne@exem_ple.fr",
            "jeanne@[192.168.1.10]",
            "jeanne@192.168.1.10",
            "jeanne@exemple.123",
            "jeanne@xn--.fr",
            "jeanne@xn--abc.fr",
            "jeanne@\u{202e}exemple.fr",
        ] {
            assert_eq!(parse(text), Err(EmailError::InvalidDomain), "{text:?}");
        }
        let long_label = format!("jeanne@{}.fr", "a".repeat(64));
        assert_eq!(parse(&long_label), Err(EmailError::InvalidDomain));
        assert!(parse("jeanne@123.fr").is_ok());
        assert!(parse("jeanne@exemple.xn--p1ai").is_ok());
    }

    #[test]
    fn error_role_address() {
        let policy = EmailPolicy::default();
        for text in ["maintenance@x.fr", "Info@x.fr", "CONTACT+site@x.fr", "no-reply@x.fr", "accueil@x.fr"] {
            assert_eq!(policy.parse(text), Err(EmailError::RoleAddress), "{text}");
        }
        assert!(policy.parse("jeanne@x.fr").is_ok());
        assert!(policy.parse("information.jeanne@x.fr").is_ok());
        // Syntax errors come first.
        assert_eq!(policy.parse("info@"), Err(EmailError::InvalidDomain));
    }

    #[test]
    fn role_policy_is_configurable() {
        let policy = EmailPolicy::default().allow("Support").refuse("Standard");
        assert!(policy.parse("support@x.fr").is_ok());
        assert_eq!(policy.parse("standard@x.fr"), Err(EmailError::RoleAddress));
        let open = EmailPolicy::allow_role_addresses();
        assert!(open.parse("maintenance@x.fr").is_ok());
        assert!(open.check(&Email::parse("admin@x.fr").unwrap()).is_ok());
        assert!(EmailPolicy::default().is_refused(&Email::parse("Admin@x.fr").unwrap()));
    }

    #[test]
    fn error_messages_are_lower_case_without_period() {
        for error in [
            EmailError::Empty,
            EmailError::TooLong,
            EmailError::ControlCharacter,
            EmailError::Whitespace,
            EmailError::MissingAt,
            EmailError::InvalidLocalPart,
            EmailError::InvalidDomain,
            EmailError::RoleAddress,
        ] {
            let text = error.to_string();
            assert!(text.starts_with(char::is_lowercase) && !text.ends_with('.'), "{text}");
        }
    }

    #[test]
    fn keys_lowercase_and_never_uppercase() {
        // CVE-2019-19844: uppercasing maps the Turkish dotless ı to I, so "ı@…" and "I@…"
        // (or "i@…") would share a key, and a reset for one could reach the other.
        let dotless = parse("ı@exemple.fr").unwrap();
        let capital = parse("I@exemple.fr").unwrap();
        let small = parse("i@exemple.fr").unwrap();
        assert_ne!(dotless.key(), capital.key());
        assert_ne!(dotless.key(), small.key());
        assert_eq!(capital.key(), small.key());
        assert_eq!(dotless.key().as_str(), "ı@exemple.fr");
        let dotted = parse("İ@exemple.fr").unwrap();
        assert_ne!(dotted.key(), small.key());
        assert_eq!(parse("MIXED.Case@X.FR").unwrap().key(), parse("mixed.case@x.fr").unwrap().key());
        assert_eq!(parse("ÉLISE@x.fr").unwrap().key(), parse("élise@x.fr").unwrap().key());
    }

    #[test]
    fn string_round_trip_parses_again() {
        let email = parse("Jeanne@Exemple.FR").unwrap();
        let text = String::from(email.clone());
        assert_eq!(text, "Jeanne@exemple.fr");
        assert_eq!(Email::try_from(text).unwrap(), email);
        assert_eq!(Email::try_from("jeanne@exemple.fr\r\nBcc: x@y.fr".to_owned()), Err(EmailError::ControlCharacter));
    }
}
