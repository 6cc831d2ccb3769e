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
    /// Longer than [`MAX_EMAIL_LEN`] bytes.
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
    /// Parses and normalises an address: trims it, refuses control characters and inner
    /// white space, lowercases the domain and converts it to IDNA ASCII form.
    /// Does not apply the department-address policy (see [`EmailPolicy::parse`]).
    ///
    /// # Errors
    /// An [`EmailError`] naming the reason.
    pub fn parse(text: &str) -> Result<Email, EmailError> {
        if text.len() > MAX_EMAIL_LEN * 4 {
            return Err(EmailError::TooLong);
        }
        let text = text.trim_matches(|c: char| c == ' ' || c == '\t');
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
    if valid { Ok(ascii) } else { Err(EmailError::InvalidDomain) }
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
        "admin",
        "administrator",
        "billing",
        "compta",
        "comptabilite",
        "contact",
        "direction",
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
        "no-reply",
        "noreply",
        "office",
        "postmaster",
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
