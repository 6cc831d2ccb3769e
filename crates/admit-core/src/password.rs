//! Passwords: the policy (after NIST SP 800-63B), Argon2id hashing, and temporary passwords.
//!
//! - [`PasswordPolicy`] decides whether a new password is acceptable: length in characters,
//!   new and confirmation equal, no control character, not a common password, not the
//!   account's own name or email. No composition rules ("one digit, one symbol"): NIST
//!   SP 800-63B §5.1.1.2 advises against them.
//! - [`PasswordHasher`] hashes with Argon2id into PHC strings, verifies, tells when a stored
//!   hash should be upgraded, and burns the same time for unknown accounts.
//! - [`generate_temporary_password`] makes strong random passwords for administrators to send.
//!
//! Every password is normalised to Unicode NFKC ([`normalize`], NIST SP 800-63B §5.1.1.2)
//! before the policy counts it and before it is hashed, so a person who typed a composed
//! "é" signs in with a decomposed one. Hashes made before normalisation keep working:
//! [`PasswordHasher::check`] also tries the password as typed, and says when the stored
//! hash should be replaced by one of the normalised form.
//!
//! ```
//! use admit_core::{Argon2Params, PasswordContext, PasswordHasher, PasswordPolicy};
//! use rand::{SeedableRng, rngs::StdRng};
//! use secrecy::SecretString;
//!
//! let new = SecretString::from("correct cheval agrafe pile");
//! let confirmation = SecretString::from("correct cheval agrafe pile");
//! PasswordPolicy::default().check(&new, &confirmation, &PasswordContext::new())?;
//!
//! let hasher = PasswordHasher::new(Argon2Params::dangerous_fast_for_tests());
//! let hash = hasher.hash(&new, &mut StdRng::seed_from_u64(1))?;
//! assert!(hasher.verify(&new, &hash)?);
//! assert!(!hasher.verify(&SecretString::from("something else entirely"), &hash)?);
//! # Ok::<(), admit_core::PasswordError>(())
//! ```

use std::collections::BTreeSet;
use std::fmt;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use argon2::password_hash::phc;
use argon2::{ARGON2ID_IDENT, Algorithm, Argon2, Block, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use rand_core::CryptoRng;
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};

use crate::{AccountRecord, Email, FullName, Locale};

/// The password in Unicode Normalization Form KC (NIST SP 800-63B §5.1.1.2), or `None` when
/// it already is (the common case: nothing is copied).
fn nfkc(password: &str) -> Option<SecretString> {
    if is_nfkc_quick(password.chars()) == IsNormalized::Yes {
        return None;
    }
    let normalized: String = password.nfkc().collect();
    (normalized != password).then(|| SecretString::from(normalized))
}

/// A password in Unicode Normalization Form KC, the form admit counts, checks and hashes.
///
/// ```
/// use admit_core::password::normalize;
/// use secrecy::{ExposeSecret, SecretString};
/// let decomposed = SecretString::from("cafe\u{301} crème brûlée");
/// assert_eq!(normalize(&decomposed).expose_secret(), "café crème brûlée");
/// ```
pub fn normalize(password: &SecretString) -> SecretString {
    nfkc(password.expose_secret()).unwrap_or_else(|| password.clone())
}

/// Hard bound on a password's size in bytes, checked before anything else (so a 1 MiB
/// password is refused at once, without counting its characters or hashing it).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Bytes of random salt in every hash (the PHC recommendation).
pub const SALT_LEN: usize = 16;

/// Bytes of Argon2 output in every hash.
pub const HASH_LEN: usize = 32;

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

/// Why a password was refused, or why hashing failed. Never contains the password.
///
/// The policy reasons ([`PasswordError::is_policy_refusal`]) are meant for the person
/// choosing the password; [`PasswordError::localized`] words them in French or English.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordError {
    /// No password was given (empty).
    #[error("password is required")]
    Required,
    /// The password and its confirmation differ.
    #[error("password and confirmation do not match")]
    Mismatch,
    /// Fewer characters than the policy's minimum.
    #[error("password is too short (at least {min} characters)")]
    TooShort {
        /// The minimum, in characters.
        min: usize,
    },
    /// More characters than the policy's maximum.
    #[error("password is too long (at most {max} characters)")]
    TooLong {
        /// The maximum, in characters.
        max: usize,
    },
    /// More than [`MAX_PASSWORD_BYTES`] bytes.
    #[error("password is too long (at most {max_bytes} bytes)")]
    TooManyBytes {
        /// The bound, in bytes ([`MAX_PASSWORD_BYTES`]).
        max_bytes: usize,
    },
    /// A control character (NUL, tab, line feed, …) appears.
    #[error("password contains a control character")]
    ControlCharacter,
    /// The password is on the blocklist of common passwords (built in or added by the host).
    #[error("password is too common")]
    Common,
    /// The password contains the account's email local part or name.
    #[error("password contains the account's name or email address")]
    ContainsPersonalInfo,
    /// Argon2 parameters that the crate does not accept or that are weaker than OWASP's minimum.
    #[error("argon2 parameters are invalid: {reason}")]
    InvalidParams {
        /// What is wrong with them.
        reason: &'static str,
    },
    /// A stored hash is not a complete Argon2 PHC string.
    #[error("stored password hash is not a valid argon2 phc string")]
    InvalidHash,
    /// Hashing itself failed (for example out of memory).
    #[error("password hashing failed")]
    Hashing,
    /// The current password given to change it is wrong.
    #[error("current password is incorrect")]
    Incorrect,
}

impl PasswordError {
    /// Whether this is a refusal by the policy, to show to the person choosing the password
    /// (as opposed to a configuration or stored-data problem).
    pub const fn is_policy_refusal(&self) -> bool {
        matches!(
            self,
            PasswordError::Required
                | PasswordError::Mismatch
                | PasswordError::TooShort { .. }
                | PasswordError::TooLong { .. }
                | PasswordError::TooManyBytes { .. }
                | PasswordError::ControlCharacter
                | PasswordError::Common
                | PasswordError::ContainsPersonalInfo
        )
    }

    /// The message for the person choosing the password, in French for a French locale and
    /// in English otherwise. Errors that are not policy refusals get a generic message.
    ///
    /// ```
    /// use admit_core::{Locale, PasswordError};
    /// let fr = Locale::parse("fr-FR").unwrap();
    /// assert_eq!(
    ///     PasswordError::TooShort { min: 15 }.localized(&fr),
    ///     "Le mot de passe doit contenir au moins 15 caractères."
    /// );
    /// ```
    pub fn localized(&self, locale: &Locale) -> String {
        let french = locale.language() == "fr";
        match (self, french) {
            (PasswordError::Required, true) => "Le mot de passe est obligatoire.".to_owned(),
            (PasswordError::Required, false) => "A password is required.".to_owned(),
            (PasswordError::Mismatch, true) => "Le mot de passe et sa confirmation ne correspondent pas.".to_owned(),
            (PasswordError::Mismatch, false) => "The password and its confirmation do not match.".to_owned(),
            (PasswordError::TooShort { min }, true) => {
                format!("Le mot de passe doit contenir au moins {min} caractères.")
            }
            (PasswordError::TooShort { min }, false) => format!("The password must have at least {min} characters."),
            (PasswordError::TooLong { max }, true) => {
                format!("Le mot de passe doit contenir au plus {max} caractères.")
            }
            (PasswordError::TooLong { max }, false) => format!("The password must have at most {max} characters."),
            (PasswordError::TooManyBytes { .. }, true) => "Le mot de passe est trop long.".to_owned(),
            (PasswordError::TooManyBytes { .. }, false) => "The password is too long.".to_owned(),
            (PasswordError::ControlCharacter, true) => {
                "Le mot de passe contient un caractère non autorisé (caractère de contrôle).".to_owned()
            }
            (PasswordError::ControlCharacter, false) => {
                "The password contains a character that is not allowed (control character).".to_owned()
            }
            (PasswordError::Common, true) => {
                "Ce mot de passe est trop courant et facile à deviner : choisissez-en un autre.".to_owned()
            }
            (PasswordError::Common, false) => {
                "This password is too common and easy to guess: please choose another one.".to_owned()
            }
            (PasswordError::ContainsPersonalInfo, true) => {
                "Le mot de passe ne doit contenir ni votre nom ni votre adresse e-mail.".to_owned()
            }
            (PasswordError::ContainsPersonalInfo, false) => {
                "The password must not contain your name or your email address.".to_owned()
            }
            (PasswordError::Incorrect, true) => "Le mot de passe actuel est incorrect.".to_owned(),
            (PasswordError::Incorrect, false) => "The current password is incorrect.".to_owned(),
            (_, true) => "Une erreur interne est survenue. Veuillez réessayer plus tard.".to_owned(),
            (_, false) => "An internal error occurred. Please try again later.".to_owned(),
        }
    }
}

/// Every rule a new password breaks, at once (so a form can show them all in one round
/// trip), in the order of [`PasswordPolicy::check`]; never empty. Never contains the password.
///
/// ```
/// use admit_core::{Email, PasswordContext, PasswordError, PasswordPolicy};
/// use secrecy::SecretString;
/// let email = Email::parse("jeanne.martin@exemple.fr").unwrap();
/// let short = SecretString::from("martin");
/// let refusal = PasswordPolicy::default()
///     .check_all(&short, &short, &PasswordContext::new().email(&email))
///     .unwrap_err();
/// assert_eq!(refusal.reasons(), [PasswordError::TooShort { min: 15 }, PasswordError::ContainsPersonalInfo]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PasswordRefusal {
    first: PasswordError,
    rest: Vec<PasswordError>,
}

impl PasswordRefusal {
    /// A refusal for one reason.
    pub fn new(reason: PasswordError) -> Self {
        PasswordRefusal { first: reason, rest: Vec::new() }
    }

    /// The first reason (the one [`PasswordPolicy::check`] reports).
    pub fn first(&self) -> PasswordError {
        self.first
    }

    /// Every reason, in order.
    pub fn reasons(&self) -> Vec<PasswordError> {
        std::iter::once(self.first).chain(self.rest.iter().copied()).collect()
    }

    /// Whether `reason` is among them.
    pub fn contains(&self, reason: PasswordError) -> bool {
        self.first == reason || self.rest.contains(&reason)
    }

    /// Whether every reason is a refusal by the policy (as opposed to a wrong current
    /// password or a hashing failure).
    pub fn is_policy_refusal(&self) -> bool {
        self.first.is_policy_refusal() && self.rest.iter().all(PasswordError::is_policy_refusal)
    }

    /// Each reason worded for the person ([`PasswordError::localized`]).
    pub fn localized(&self, locale: &Locale) -> Vec<String> {
        self.reasons().iter().map(|reason| reason.localized(locale)).collect()
    }

    fn from_list(mut reasons: Vec<PasswordError>) -> Option<Self> {
        if reasons.is_empty() {
            return None;
        }
        let first = reasons.remove(0);
        Some(PasswordRefusal { first, rest: reasons })
    }
}

impl From<PasswordError> for PasswordRefusal {
    fn from(reason: PasswordError) -> Self {
        PasswordRefusal::new(reason)
    }
}

impl fmt::Display for PasswordRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.first)?;
        for reason in &self.rest {
            write!(f, "; {reason}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PasswordRefusal {}

/// What the policy knows about the account, to refuse passwords built from it.
///
/// ```
/// use admit_core::{Email, FullName, PasswordContext};
/// let email = Email::parse("jeanne.martin@exemple.fr").unwrap();
/// let name = FullName::parse("Jeanne Martin").unwrap();
/// let context = PasswordContext::new().email(&email).full_name(&name);
/// # let _ = context;
/// ```
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct PasswordContext<'a> {
    /// The account's address: its local part (and each part of it) must not appear.
    pub email: Option<&'a Email>,
    /// The account's name: neither it nor any of its words must appear.
    pub full_name: Option<&'a FullName>,
}

impl<'a> PasswordContext<'a> {
    /// An empty context (nothing personal known).
    pub fn new() -> Self {
        PasswordContext::default()
    }

    /// The context of an existing account: its email and full name.
    pub fn of_account(account: &'a AccountRecord) -> Self {
        PasswordContext { email: account.email.as_ref(), full_name: Some(&account.full_name) }
    }

    /// Sets the email address.
    pub fn email(mut self, email: &'a Email) -> Self {
        self.email = Some(email);
        self
    }

    /// Sets the full name.
    pub fn full_name(mut self, full_name: &'a FullName) -> Self {
        self.full_name = Some(full_name);
        self
    }

    /// The lowercase fragments a password must not contain.
    fn fragments(&self) -> Vec<String> {
        fn push(out: &mut Vec<String>, fragment: &str) {
            if fragment.chars().count() >= PasswordPolicy::MIN_PERSONAL_FRAGMENT_CHARS
                && !out.iter().any(|f| f == fragment)
            {
                out.push(fragment.to_owned());
            }
        }
        let mut out = Vec::new();
        if let Some(email) = self.email {
            let local = email.local_part().to_lowercase();
            push(&mut out, &local);
            for part in local.split(|c: char| !c.is_alphanumeric()) {
                push(&mut out, part);
            }
        }
        if let Some(name) = self.full_name {
            let name = name.as_str().to_lowercase();
            push(&mut out, &name);
            let compact: String = name.chars().filter(|c| c.is_alphanumeric()).collect();
            push(&mut out, &compact);
            for word in name.split(|c: char| !c.is_alphanumeric()) {
                push(&mut out, word);
            }
        }
        out
    }
}

/// The built-in blocklist: `data/common-passwords.txt`, sorted, one lowercase password per
/// line (sources and licence in `data/README.md`).
static COMMON_PASSWORDS: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| include_str!("../data/common-passwords.txt").lines().filter(|line| !line.is_empty()).collect());

fn is_builtin_common(lowercase: &str) -> bool {
    COMMON_PASSWORDS.binary_search(&lowercase).is_ok()
}

/// Which new passwords are accepted, after NIST SP 800-63B: a length range counted in
/// characters, new and confirmation equal, no control characters, not a common password,
/// not built from the account's email or name. No composition rules.
///
/// `Default` is the safe default: 15 to 128 characters (NIST SP 800-63B-4 for a password used alone; a host with a second factor may lower it to 8) and the built-in blocklist
/// (about 19,000 common passwords, compared case-insensitively).
///
/// ```
/// use admit_core::{PasswordContext, PasswordError, PasswordPolicy};
/// use secrecy::SecretString;
///
/// let policy = PasswordPolicy::default().min_length(14).blocklist(["nomdelentreprise2025"]);
/// let check = |p: &str| {
///     let p = SecretString::from(p);
///     policy.check(&p, &p, &PasswordContext::new())
/// };
/// assert_eq!(check("short"), Err(PasswordError::TooShort { min: 14 }));
/// assert_eq!(check("azertyuiop123"), Err(PasswordError::TooShort { min: 14 }));
/// assert_eq!(check("NomDeLEntreprise2025"), Err(PasswordError::Common));
/// assert_eq!(check("password123456"), Err(PasswordError::Common));
/// assert!(check("trois chats sur un piano").is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordPolicy {
    min_length: usize,
    max_length: usize,
    blocklist: BTreeSet<String>,
}

impl PasswordPolicy {
    /// Default minimum length, in characters.
    pub const DEFAULT_MIN_LENGTH: usize = 15;
    /// Default maximum length, in characters.
    pub const DEFAULT_MAX_LENGTH: usize = 128;
    /// The lowest minimum [`PasswordPolicy::min_length`] accepts (NIST SP 800-63B's floor).
    pub const LOWEST_MIN_LENGTH: usize = 8;
    /// The lowest maximum [`PasswordPolicy::max_length`] accepts (NIST: allow at least 64).
    pub const LOWEST_MAX_LENGTH: usize = 64;
    /// Email local parts, their parts, names and name words shorter than this (in characters)
    /// are not looked for in passwords: too many passwords would contain them by chance.
    pub const MIN_PERSONAL_FRAGMENT_CHARS: usize = 4;

    /// The default policy.
    pub fn new() -> Self {
        PasswordPolicy::default()
    }

    /// Sets the minimum length in characters, raised to [`PasswordPolicy::LOWEST_MIN_LENGTH`]
    /// and capped at [`MAX_PASSWORD_BYTES`].
    pub fn min_length(mut self, chars: usize) -> Self {
        self.min_length = chars.clamp(Self::LOWEST_MIN_LENGTH, MAX_PASSWORD_BYTES);
        self
    }

    /// Sets the maximum length in characters, raised to [`PasswordPolicy::LOWEST_MAX_LENGTH`]
    /// and capped at [`MAX_PASSWORD_BYTES`] (the byte bound applies anyway). A maximum below
    /// the minimum is treated as the minimum.
    pub fn max_length(mut self, chars: usize) -> Self {
        self.max_length = chars.clamp(Self::LOWEST_MAX_LENGTH, MAX_PASSWORD_BYTES);
        self
    }

    /// Adds passwords to refuse (compared case-insensitively), on top of the built-in list:
    /// the service's or the company's name, local favourites… Empty entries are ignored.
    pub fn blocklist<I, S>(mut self, passwords: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.blocklist.extend(passwords.into_iter().map(|p| p.as_ref().to_lowercase()).filter(|p| !p.is_empty()));
        self
    }

    /// The minimum length in force, in characters.
    pub fn min_chars(&self) -> usize {
        self.min_length
    }

    /// The maximum length in force, in characters (never below the minimum).
    pub fn max_chars(&self) -> usize {
        self.max_length.max(self.min_length)
    }

    /// Whether `password` is on the built-in blocklist or on the host's additions
    /// (case-insensitive).
    pub fn is_common(&self, password: &str) -> bool {
        let lowercase = password.to_lowercase();
        is_builtin_common(&lowercase) || self.blocklist.contains(&lowercase)
    }

    /// Checks a new password and its confirmation.
    ///
    /// The byte bound ([`MAX_PASSWORD_BYTES`]) is checked first, on both; then both are
    /// normalised ([`normalize`]) and compared in constant time; then
    /// [`PasswordPolicy::validate`] runs on the new password.
    ///
    /// # Errors
    /// The first [`PasswordError`] reason that applies, in this order: `TooManyBytes`,
    /// `Mismatch`, `TooShort`, `TooLong`, `ControlCharacter`, `Common`, `ContainsPersonalInfo`.
    pub fn check(
        &self,
        new: &SecretString,
        confirmation: &SecretString,
        context: &PasswordContext<'_>,
    ) -> Result<(), PasswordError> {
        self.check_all(new, confirmation, context).map_err(|refusal| refusal.first())
    }

    /// Checks a new password and its confirmation, reporting every rule broken at once:
    /// `Required` alone for an empty password, `TooManyBytes` alone above the byte bound,
    /// otherwise each of `Mismatch`, `TooShort`, `TooLong`, `ControlCharacter`, `Common`,
    /// `ContainsPersonalInfo` that applies, in that order.
    ///
    /// # Errors
    /// A [`PasswordRefusal`] with every reason.
    pub fn check_all(
        &self,
        new: &SecretString,
        confirmation: &SecretString,
        context: &PasswordContext<'_>,
    ) -> Result<(), PasswordRefusal> {
        if new.expose_secret().is_empty() {
            return Err(PasswordRefusal::new(PasswordError::Required));
        }
        let (new_bytes, confirmation_bytes) = (new.expose_secret().as_bytes(), confirmation.expose_secret().as_bytes());
        if new_bytes.len() > MAX_PASSWORD_BYTES || confirmation_bytes.len() > MAX_PASSWORD_BYTES {
            return Err(PasswordRefusal::new(PasswordError::TooManyBytes { max_bytes: MAX_PASSWORD_BYTES }));
        }
        let (new, confirmation) = (normalize(new), normalize(confirmation));
        // Different lengths return early; that reveals only the length of the person's own
        // confirmation to the person.
        let mut reasons = Vec::new();
        if !bool::from(new.expose_secret().as_bytes().ct_eq(confirmation.expose_secret().as_bytes())) {
            reasons.push(PasswordError::Mismatch);
        }
        reasons.extend(self.refusals(&new, context));
        PasswordRefusal::from_list(reasons).map_or(Ok(()), Err)
    }

    /// Every reason [`PasswordPolicy::check`] could give for this pair, not only the first,
    /// so a form can show them all at once (empty when `check` accepts): the reasons of
    /// [`PasswordPolicy::check_all`].
    pub fn problems(
        &self,
        new: &SecretString,
        confirmation: &SecretString,
        context: &PasswordContext<'_>,
    ) -> Vec<PasswordError> {
        self.check_all(new, confirmation, context).err().map(|refusal| refusal.reasons()).unwrap_or_default()
    }

    /// Checks a password without a confirmation (for example one generated by the system).
    /// Lengths are counted on the normalised form ([`normalize`]).
    ///
    /// # Errors
    /// As [`PasswordPolicy::check`], without `Mismatch`.
    pub fn validate(&self, password: &SecretString, context: &PasswordContext<'_>) -> Result<(), PasswordError> {
        match self.refusals(password, context).first() {
            Some(reason) => Err(*reason),
            None => Ok(()),
        }
    }

    /// Every rule `password` breaks (without a confirmation), in order; empty if none.
    fn refusals(&self, password: &SecretString, context: &PasswordContext<'_>) -> Vec<PasswordError> {
        if password.expose_secret().is_empty() {
            return vec![PasswordError::Required];
        }
        if password.expose_secret().len() > MAX_PASSWORD_BYTES {
            return vec![PasswordError::TooManyBytes { max_bytes: MAX_PASSWORD_BYTES }];
        }
        let password = normalize(password);
        let password = password.expose_secret();
        // NFKC may expand a few characters into many: the bound holds for the form hashed too.
        if password.len() > MAX_PASSWORD_BYTES {
            return vec![PasswordError::TooManyBytes { max_bytes: MAX_PASSWORD_BYTES }];
        }
        let mut reasons = Vec::new();
        let chars = password.chars().count();
        if chars < self.min_chars() {
            reasons.push(PasswordError::TooShort { min: self.min_chars() });
        }
        if chars > self.max_chars() {
            reasons.push(PasswordError::TooLong { max: self.max_chars() });
        }
        if password.chars().any(char::is_control) {
            reasons.push(PasswordError::ControlCharacter);
        }
        let lowercase = password.to_lowercase();
        if is_builtin_common(&lowercase) || self.blocklist.contains(&lowercase) {
            reasons.push(PasswordError::Common);
        }
        if context.fragments().iter().any(|fragment| lowercase.contains(fragment.as_str())) {
            reasons.push(PasswordError::ContainsPersonalInfo);
        }
        reasons
    }

    /// A temporary password ([`generate_temporary_password`]) that this policy accepts for
    /// `context`. A random password contains a name fragment of four letters about once in
    /// 100,000 draws; this draws again in that case.
    ///
    /// # Errors
    /// The last refusal if 16 draws in a row are refused, which happens only when the policy
    /// cannot accept a temporary password at all (a minimum above 23 characters).
    pub fn temporary_password(
        &self,
        rng: &mut (impl CryptoRng + ?Sized),
        context: &PasswordContext<'_>,
    ) -> Result<SecretString, PasswordError> {
        let mut last = PasswordError::Hashing;
        for _ in 0..16 {
            let password = generate_temporary_password(rng);
            match self.validate(&password, context) {
                Ok(()) => return Ok(password),
                Err(error) => last = error,
            }
        }
        Err(last)
    }
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            min_length: Self::DEFAULT_MIN_LENGTH,
            max_length: Self::DEFAULT_MAX_LENGTH,
            blocklist: BTreeSet::new(),
        }
    }
}

/// What [`PasswordHasher::check`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PasswordMatch {
    /// The password does not match.
    Mismatch,
    /// The password, normalised, matches.
    Match,
    /// The password matches only as typed, not normalised: the hash predates normalisation
    /// and should be replaced by [`PasswordHasher::hash`] of the same password.
    MatchAsTyped,
}

/// Argon2id cost parameters.
///
/// `Default` is OWASP's recommendation and the argon2 crate's default: m = 19456 KiB
/// (19 MiB), t = 2, p = 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Argon2Params {
    m_cost: u32,
    t_cost: u32,
    p_cost: u32,
}

impl Argon2Params {
    /// Default memory cost in KiB (19 MiB).
    pub const DEFAULT_M_COST: u32 = Params::DEFAULT_M_COST;
    /// Default number of passes.
    pub const DEFAULT_T_COST: u32 = Params::DEFAULT_T_COST;
    /// Default parallelism (lanes).
    pub const DEFAULT_P_COST: u32 = Params::DEFAULT_P_COST;

    /// OWASP's minimum Argon2id configurations (Password Storage Cheat Sheet), as
    /// (memory in KiB, passes): more passes allow less memory.
    pub const OWASP_MINIMUMS: [(u32, u32); 5] = [(47_104, 1), (19_456, 2), (12_288, 3), (9_216, 4), (7_168, 5)];

    /// Validated parameters: memory `m_cost` in KiB, `t_cost` passes, `p_cost` lanes.
    ///
    /// ```
    /// use admit_core::Argon2Params;
    /// assert!(Argon2Params::new(65_536, 3, 1).is_ok());
    /// assert!(Argon2Params::new(12_288, 3, 1).is_ok());
    /// assert!(Argon2Params::new(12_288, 2, 1).is_err()); // weaker than OWASP's minimum
    /// ```
    ///
    /// # Errors
    /// [`PasswordError::InvalidParams`] if the argon2 crate refuses them (for example
    /// `p_cost` 0, or `m_cost` below 8 × `p_cost`), or if they are weaker than every one of
    /// OWASP's minimum configurations ([`Argon2Params::OWASP_MINIMUMS`]). Use
    /// [`Argon2Params::dangerous_fast_for_tests`] for tests.
    pub fn new(m_cost: u32, t_cost: u32, p_cost: u32) -> Result<Self, PasswordError> {
        let params = Argon2Params { m_cost, t_cost, p_cost };
        params.to_argon2()?;
        let strong_enough = Self::OWASP_MINIMUMS.iter().any(|&(m, t)| m_cost >= m && t_cost >= t);
        if !strong_enough {
            return Err(PasswordError::InvalidParams { reason: "weaker than the owasp minimum" });
        }
        Ok(params)
    }

    /// The cheapest parameters the argon2 crate allows (m = 8 KiB, t = 1, p = 1): for tests
    /// only, never for real passwords.
    pub const fn dangerous_fast_for_tests() -> Self {
        Argon2Params { m_cost: Params::MIN_M_COST, t_cost: Params::MIN_T_COST, p_cost: Params::MIN_P_COST }
    }

    /// Memory cost in KiB.
    pub const fn m_cost(&self) -> u32 {
        self.m_cost
    }

    /// Number of passes.
    pub const fn t_cost(&self) -> u32 {
        self.t_cost
    }

    /// Parallelism (lanes).
    pub const fn p_cost(&self) -> u32 {
        self.p_cost
    }

    fn to_argon2(self) -> Result<Params, PasswordError> {
        Params::new(self.m_cost, self.t_cost, self.p_cost, Some(HASH_LEN)).map_err(|error| {
            let reason = match error {
                argon2::Error::MemoryTooLittle => "memory cost is too small",
                argon2::Error::MemoryTooMuch => "memory cost is too large",
                argon2::Error::TimeTooSmall => "time cost is too small",
                argon2::Error::ThreadsTooFew => "parallelism is too small",
                argon2::Error::ThreadsTooMany => "parallelism is too large",
                _ => "refused by the argon2 crate",
            };
            PasswordError::InvalidParams { reason }
        })
    }
}

impl Default for Argon2Params {
    fn default() -> Self {
        Argon2Params { m_cost: Self::DEFAULT_M_COST, t_cost: Self::DEFAULT_T_COST, p_cost: Self::DEFAULT_P_COST }
    }
}

/// Hashes and verifies passwords with Argon2id (version 0x13), into PHC strings with a
/// 16-byte salt and a 32-byte output.
///
/// Named after what it does for admit (not to be confused with the `password_hash` crate's
/// trait of the same name, which it uses). Cheap to clone; hashing and verifying are CPU-
/// and memory-bound (about 19 MiB and tens of milliseconds at the default parameters), so
/// async hosts run them off the executor.
///
/// ```
/// use admit_core::{Argon2Params, PasswordHasher};
/// use rand::{SeedableRng, rngs::StdRng};
/// use secrecy::SecretString;
///
/// let old = PasswordHasher::new(Argon2Params::dangerous_fast_for_tests());
/// let hash = old.hash(&SecretString::from("un mot de passe"), &mut StdRng::seed_from_u64(3)).unwrap();
/// assert!(hash.as_phc().starts_with("$argon2id$v=19$m=8,t=1,p=1$"));
/// assert!(!old.needs_rehash(&hash));
/// assert!(PasswordHasher::default().needs_rehash(&hash));
/// ```
#[derive(Clone)]
pub struct PasswordHasher {
    params: Argon2Params,
    dummy: PasswordHash,
    memory: Arc<WorkingMemory>,
}

/// Argon2 working memory kept between hashes, shared by a hasher's clones.
///
/// A hash at the default parameters fills 19 MiB. Allocating that anew each time means
/// zeroing it (Argon2 does not need it zeroed: its first pass writes every block before
/// reading it) and, when the allocator returns it to the system, faulting it in page by
/// page and a TLB shootdown on every core when it is unmapped. Reusing a buffer skips all
/// of that. Only buffers of the hasher's own size are kept, at most `keep` of them.
struct WorkingMemory {
    blocks: usize,
    keep: usize,
    free: Mutex<Vec<Box<[Block]>>>,
}

impl WorkingMemory {
    fn new(blocks: usize, keep: usize) -> Self {
        WorkingMemory { blocks, keep, free: Mutex::new(Vec::new()) }
    }

    /// Runs `fill` with at least `blocks` blocks of memory, reused when one of the kept
    /// buffers is large enough; kept afterwards if it has the hasher's own size and fewer
    /// than `keep` are kept.
    fn with<R>(&self, blocks: usize, fill: impl FnOnce(&mut [Block]) -> R) -> R {
        let kept =
            if blocks <= self.blocks { self.free.lock().unwrap_or_else(PoisonError::into_inner).pop() } else { None };
        // A buffer that may be kept gets the hasher's own size, so a smaller stored hash can
        // still leave one behind; with nothing kept, exactly what this hash needs.
        let size = if self.keep == 0 { blocks } else { blocks.max(self.blocks) };
        let mut buffer = kept.unwrap_or_else(|| vec![Block::default(); size].into_boxed_slice());
        let result = fill(&mut buffer);
        if buffer.len() == self.blocks {
            let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
            if free.len() < self.keep {
                free.push(buffer);
            }
        }
        result
    }
}

impl PasswordHasher {
    /// A hasher with `params`.
    pub fn new(params: Argon2Params) -> Self {
        // A well-formed hash with the current parameters; no password hashes to an all-zero
        // output (short of a 2^-256 accident), and verifying against it costs a real
        // verification. It needs no hashing to build.
        let dummy = format!(
            "${ARGON2ID}$v=19$m={},t={},p={}${}${}",
            params.m_cost,
            params.t_cost,
            params.p_cost,
            STANDARD_NO_PAD.encode(b"admit-dummy-salt"),
            STANDARD_NO_PAD.encode([0u8; HASH_LEN]),
            ARGON2ID = ARGON2ID_IDENT.as_str(),
        );
        let blocks = params.to_argon2().map_or(0, |argon2_params| argon2_params.block_count());
        let keep = std::thread::available_parallelism().map_or(1, usize::from);
        PasswordHasher { params, dummy: PasswordHash(dummy), memory: Arc::new(WorkingMemory::new(blocks, keep)) }
    }

    /// Keeps at most `buffers` Argon2 working buffers (each `m_cost` KiB: 19 MiB at the
    /// default parameters) between hashes instead of allocating one per hash; `0` keeps
    /// none. The default is the number of cores (`std::thread::available_parallelism`).
    /// Hosts that bound concurrent hashing (the `admit` facade does) pass that bound.
    ///
    /// Reusing the memory changes no output: Argon2 writes every block before reading it.
    ///
    /// ```
    /// use admit_core::{Argon2Params, PasswordHasher};
    /// use rand::{SeedableRng, rngs::StdRng};
    /// use secrecy::SecretString;
    ///
    /// let password = SecretString::from("un mot de passe");
    /// let keeping = PasswordHasher::new(Argon2Params::dangerous_fast_for_tests()).keep_memory(2);
    /// let allocating = PasswordHasher::new(Argon2Params::dangerous_fast_for_tests()).keep_memory(0);
    /// let a = keeping.hash(&password, &mut StdRng::seed_from_u64(5)).unwrap();
    /// let b = allocating.hash(&password, &mut StdRng::seed_from_u64(5)).unwrap();
    /// assert_eq!(a, b);
    /// ```
    pub fn keep_memory(mut self, buffers: usize) -> Self {
        self.memory = Arc::new(WorkingMemory::new(self.memory.blocks, buffers));
        self
    }

    /// The parameters new hashes use.
    pub fn params(&self) -> Argon2Params {
        self.params
    }

    /// Hashes `password`, normalised ([`normalize`]), with a fresh 16-byte salt drawn from
    /// `rng` (a cryptographically secure generator: `rand::rng()` in production).
    ///
    /// Does not apply the policy; run [`PasswordPolicy::check`] first.
    ///
    /// # Errors
    /// [`PasswordError::TooManyBytes`] above [`MAX_PASSWORD_BYTES`] (before any hashing),
    /// [`PasswordError::Hashing`] if Argon2 fails (out of memory).
    pub fn hash(
        &self,
        password: &SecretString,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<PasswordHash, PasswordError> {
        if password.expose_secret().len() > MAX_PASSWORD_BYTES {
            return Err(PasswordError::TooManyBytes { max_bytes: MAX_PASSWORD_BYTES });
        }
        let password = normalize(password);
        self.hash_bytes(password.expose_secret().as_bytes(), rng)
    }

    fn hash_bytes(&self, password: &[u8], rng: &mut (impl CryptoRng + ?Sized)) -> Result<PasswordHash, PasswordError> {
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(PasswordError::TooManyBytes { max_bytes: MAX_PASSWORD_BYTES });
        }
        let mut salt = [0u8; SALT_LEN];
        rng.fill_bytes(&mut salt);
        let params = self.params.to_argon2()?;
        let blocks = params.block_count();
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let mut output = [0u8; HASH_LEN];
        self.memory
            .with(blocks, |memory| argon2.hash_password_into_with_memory(password, &salt, &mut output, memory))
            .map_err(|_| PasswordError::Hashing)?;
        Ok(PasswordHash(format!(
            "${ARGON2ID}$v=19$m={},t={},p={}${}${}",
            self.params.m_cost,
            self.params.t_cost,
            self.params.p_cost,
            STANDARD_NO_PAD.encode(salt),
            STANDARD_NO_PAD.encode(output),
            ARGON2ID = ARGON2ID_IDENT.as_str(),
        )))
    }

    /// Whether `password` matches `hash` ([`PasswordHasher::check`] without telling which
    /// form matched).
    ///
    /// # Errors
    /// As [`PasswordHasher::check`].
    pub fn verify(&self, password: &SecretString, hash: &PasswordHash) -> Result<bool, PasswordError> {
        Ok(self.check(password, hash)? != PasswordMatch::Mismatch)
    }

    /// Whether `password` matches `hash`, with the algorithm and parameters written in the
    /// hash (Argon2id, Argon2i or Argon2d of any version and cost). The outputs are
    /// compared in constant time.
    ///
    /// The normalised form ([`normalize`]) is tried first; when the password as typed is
    /// not already normalised and that form does not match, the password as typed is tried
    /// too (a hash made before admit normalised passwords): such a match is
    /// [`PasswordMatch::MatchAsTyped`], and the hash should be replaced. A wrong password
    /// that is not normalised therefore costs two Argon2 runs, for a known account and for
    /// [`PasswordHasher::dummy_verify`] alike.
    ///
    /// A password above [`MAX_PASSWORD_BYTES`] matches nothing (no such hash can be made
    /// here) and is answered at once.
    ///
    /// ```
    /// use admit_core::password::{Argon2Params, PasswordHasher, PasswordMatch};
    /// use secrecy::SecretString;
    /// let hasher = PasswordHasher::new(Argon2Params::dangerous_fast_for_tests());
    /// let hash = hasher.hash(&SecretString::from("un café sur la terrasse"), &mut rand::rng())?;
    /// let decomposed = SecretString::from("un cafe\u{301} sur la terrasse");
    /// assert_eq!(hasher.check(&decomposed, &hash)?, PasswordMatch::Match);
    /// # Ok::<(), admit_core::PasswordError>(())
    /// ```
    ///
    /// # Errors
    /// [`PasswordError::InvalidHash`] if `hash` is not a complete Argon2 PHC string;
    /// [`PasswordError::Hashing`] if Argon2 fails.
    pub fn check(&self, password: &SecretString, hash: &PasswordHash) -> Result<PasswordMatch, PasswordError> {
        let typed = password.expose_secret();
        if typed.len() > MAX_PASSWORD_BYTES {
            // Parses the hash (a malformed one is still an error) and answers at once.
            self.verify_bytes(typed.as_bytes(), hash)?;
            return Ok(PasswordMatch::Mismatch);
        }
        match nfkc(typed) {
            None => Ok(if self.verify_bytes(typed.as_bytes(), hash)? {
                PasswordMatch::Match
            } else {
                PasswordMatch::Mismatch
            }),
            Some(normalized) => {
                if self.verify_bytes(normalized.expose_secret().as_bytes(), hash)? {
                    Ok(PasswordMatch::Match)
                } else if self.verify_bytes(typed.as_bytes(), hash)? {
                    Ok(PasswordMatch::MatchAsTyped)
                } else {
                    Ok(PasswordMatch::Mismatch)
                }
            }
        }
    }

    fn verify_bytes(&self, password: &[u8], hash: &PasswordHash) -> Result<bool, PasswordError> {
        let parsed = phc::PasswordHash::new(hash.as_phc()).map_err(|_| PasswordError::InvalidHash)?;
        let algorithm = Algorithm::new(parsed.algorithm.as_str()).map_err(|_| PasswordError::InvalidHash)?;
        let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
            return Err(PasswordError::InvalidHash);
        };
        let version = match parsed.version {
            Some(version) => Version::try_from(version).map_err(|_| PasswordError::InvalidHash)?,
            None => Version::default(),
        };
        let params = Params::try_from(&parsed).map_err(|_| PasswordError::InvalidHash)?;
        if password.len() > MAX_PASSWORD_BYTES {
            return Ok(false);
        }
        let blocks = params.block_count();
        let argon2 = Argon2::new(algorithm, version, params);
        let mut buffer = [0u8; phc::Output::MAX_LENGTH];
        let output = buffer.get_mut(..expected.len()).ok_or(PasswordError::InvalidHash)?;
        self.memory
            .with(blocks, |memory| argon2.hash_password_into_with_memory(password, salt, &mut *output, memory))
            .map_err(|error| match error {
                argon2::Error::OutOfMemory => PasswordError::Hashing,
                _ => PasswordError::InvalidHash,
            })?;
        Ok(bool::from(output.ct_eq(expected.as_bytes())))
    }

    /// Whether `hash` should be replaced by a new hash of the same password (after a
    /// successful sign-in): it is not Argon2id version 0x13 with this hasher's parameters,
    /// a 16-byte salt (or longer) and a 32-byte output, or it cannot be read at all.
    pub fn needs_rehash(&self, hash: &PasswordHash) -> bool {
        let Ok(parsed) = phc::PasswordHash::new(hash.as_phc()) else {
            return true;
        };
        let Ok(params) = Params::try_from(&parsed) else {
            return true;
        };
        parsed.algorithm != ARGON2ID_IDENT
            || parsed.version != Some(Version::V0x13.into())
            || params.m_cost() != self.params.m_cost
            || params.t_cost() != self.params.t_cost
            || params.p_cost() != self.params.p_cost
            || !params.keyid().is_empty()
            || !params.data().is_empty()
            || parsed.salt.is_none_or(|salt| salt.len() < SALT_LEN)
            || parsed.hash.is_none_or(|output| output.len() != HASH_LEN)
    }

    /// A hash with the current parameters that no password matches.
    pub fn dummy_hash(&self) -> &PasswordHash {
        &self.dummy
    }

    /// Does the work of [`PasswordHasher::verify`] against [`PasswordHasher::dummy_hash`]
    /// and throws the answer away: call it when a sign-in names an unknown account, so that
    /// it takes as long as one that names a known account.
    pub fn dummy_verify(&self, password: &SecretString) {
        let _ = std::hint::black_box(self.verify(password, &self.dummy));
    }
}

impl Default for PasswordHasher {
    fn default() -> Self {
        PasswordHasher::new(Argon2Params::default())
    }
}

impl fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHasher").field("params", &self.params).finish_non_exhaustive()
    }
}

/// The characters of temporary passwords: digits and letters without those that look alike
/// (`0`/`O`/`o`, `1`/`l`/`I`/`i`). 55 characters.
pub const TEMPORARY_PASSWORD_ALPHABET: &str = "23456789abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";
/// Random characters in a temporary password.
pub const TEMPORARY_PASSWORD_RANDOM_CHARS: usize = 20;
/// Random characters between two dashes.
pub const TEMPORARY_PASSWORD_GROUP: usize = 5;
/// Length of a temporary password: 20 random characters in four groups of five, joined by
/// three dashes (`xxxxx-xxxxx-xxxxx-xxxxx`).
pub const TEMPORARY_PASSWORD_LEN: usize =
    TEMPORARY_PASSWORD_RANDOM_CHARS + TEMPORARY_PASSWORD_RANDOM_CHARS / TEMPORARY_PASSWORD_GROUP - 1;

/// A random temporary password, such as `t7Kqm-3xWvb-Pd9hs-ZeR4n`: 20 characters drawn
/// uniformly (rejection sampling, no modulo bias) from [`TEMPORARY_PASSWORD_ALPHABET`]'s 55,
/// in groups of five joined by dashes. Entropy: 20 × log2(55) ≈ 115.6 bits.
///
/// The default [`PasswordPolicy`] accepts it with an empty context; use
/// [`PasswordPolicy::temporary_password`] to get one checked against an account.
///
/// ```
/// use admit_core::generate_temporary_password;
/// use admit_core::password::TEMPORARY_PASSWORD_LEN;
/// use secrecy::ExposeSecret;
/// let password = generate_temporary_password(&mut rand::rng());
/// assert_eq!(password.expose_secret().len(), TEMPORARY_PASSWORD_LEN);
/// ```
pub fn generate_temporary_password(rng: &mut (impl CryptoRng + ?Sized)) -> SecretString {
    let alphabet = TEMPORARY_PASSWORD_ALPHABET.as_bytes();
    // Bytes at or above the largest multiple of 55 that fits in a byte are drawn again.
    let limit = 256 - 256 % alphabet.len();
    let mut password = String::with_capacity(TEMPORARY_PASSWORD_LEN);
    let mut taken = 0;
    let mut buffer = [0u8; 32];
    while taken < TEMPORARY_PASSWORD_RANDOM_CHARS {
        rng.fill_bytes(&mut buffer);
        for &byte in &buffer {
            if taken == TEMPORARY_PASSWORD_RANDOM_CHARS {
                break;
            }
            if usize::from(byte) >= limit {
                continue;
            }
            if taken > 0 && taken % TEMPORARY_PASSWORD_GROUP == 0 {
                password.push('-');
            }
            password.push(char::from(alphabet[usize::from(byte) % alphabet.len()]));
            taken += 1;
        }
    }
    buffer.fill(0);
    SecretString::from(password)
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::PasswordHasher as _;
    use rand::rngs::StdRng;
    use rand::{Rng as _, SeedableRng};

    fn secret(text: &str) -> SecretString {
        SecretString::from(text)
    }

    fn check(policy: &PasswordPolicy, password: &str, context: &PasswordContext<'_>) -> Result<(), PasswordError> {
        policy.check(&secret(password), &secret(password), context)
    }

    fn none() -> PasswordContext<'static> {
        PasswordContext::new()
    }

    #[test]
    fn builtin_blocklist_is_sorted_lowercase_and_deduplicated() {
        assert!(COMMON_PASSWORDS.len() > 15_000, "{} entries", COMMON_PASSWORDS.len());
        for pair in COMMON_PASSWORDS.windows(2) {
            assert!(pair[0] < pair[1], "not sorted or duplicated: {:?} then {:?}", pair[0], pair[1]);
        }
        for entry in COMMON_PASSWORDS.iter() {
            assert_eq!(*entry, entry.to_lowercase());
            assert!(entry.len() >= 8, "{entry:?} is shorter than any policy allows");
        }
    }

    #[test]
    fn accepts_a_reasonable_password() {
        let policy = PasswordPolicy::default();
        assert_eq!(check(&policy, "trois chats sur un piano", &none()), Ok(()));
        assert_eq!(check(&policy, "ünïcödé pässwörd ✓", &none()), Ok(()));
        assert_eq!(check(&policy, &"xy".repeat(8), &none()), Ok(()));
    }

    #[test]
    fn refuses_mismatch() {
        let policy = PasswordPolicy::default();
        let result = policy.check(&secret("trois chats sur un piano"), &secret("trois chats sur un pianO"), &none());
        assert_eq!(result, Err(PasswordError::Mismatch));
        let result = policy.check(&secret("trois chats sur un piano"), &secret("trois chats"), &none());
        assert_eq!(result, Err(PasswordError::Mismatch));
        // Mismatch comes before the length rules.
        assert_eq!(policy.check(&secret("a"), &secret("b"), &none()), Err(PasswordError::Mismatch));
    }

    #[test]
    fn refuses_too_short_counting_characters_not_bytes() {
        let policy = PasswordPolicy::default();
        assert_eq!(check(&policy, "elevenchars", &none()), Err(PasswordError::TooShort { min: 15 }));
        // 14 characters but 28 bytes.
        assert_eq!(check(&policy, &"é".repeat(14), &none()), Err(PasswordError::TooShort { min: 15 }));
        assert_eq!(check(&policy, &"é".repeat(15), &none()), Ok(()));
        assert_eq!(check(&policy, "", &none()), Err(PasswordError::Required));
    }

    #[test]
    fn refuses_too_long() {
        let policy = PasswordPolicy::default();
        let at_max: String = "ab".repeat(64);
        assert_eq!(check(&policy, &at_max, &none()), Ok(()));
        assert_eq!(check(&policy, &format!("{at_max}c"), &none()), Err(PasswordError::TooLong { max: 128 }));
        // 200 characters, 400 bytes: over the character limit, under the byte bound.
        assert_eq!(check(&policy, &"é".repeat(200), &none()), Err(PasswordError::TooLong { max: 128 }));
    }

    #[test]
    fn byte_bound_comes_first() {
        let policy = PasswordPolicy::default().max_length(MAX_PASSWORD_BYTES);
        let huge = "\0".repeat(1 << 20);
        let expected = Err(PasswordError::TooManyBytes { max_bytes: MAX_PASSWORD_BYTES });
        // 1 MiB of NULs, mismatched with the confirmation: still the byte bound first.
        assert_eq!(policy.check(&secret(&huge), &secret("x"), &none()), expected);
        assert_eq!(policy.check(&secret("x"), &secret(&huge), &none()), expected);
        // 1024 characters are allowed by max_length, but 1025 bytes are not.
        let ok = "ab".repeat(512);
        assert_eq!(check(&policy, &ok, &none()), Ok(()));
        assert_eq!(check(&policy, &format!("{ok}c"), &none()), expected);
        // 600 characters of 2 bytes: under max_length in characters, over the byte bound.
        assert_eq!(check(&policy, &"é".repeat(600), &none()), expected);
    }

    #[test]
    fn refuses_control_characters() {
        let policy = PasswordPolicy::default();
        for control in ['\0', '\t', '\n', '\r', '\u{1b}', '\u{7f}', '\u{85}'] {
            let password = format!("trois chats{control}sur un piano");
            assert_eq!(check(&policy, &password, &none()), Err(PasswordError::ControlCharacter), "{control:?}");
        }
        // Spaces are fine (NIST: allow them).
        assert_eq!(check(&policy, "   trois chats   ", &none()), Ok(()));
    }

    #[test]
    fn refuses_common_passwords_case_insensitively() {
        // The default minimum (15) already refuses these for their length: a policy at 12
        // shows the blocklist refusing them on its own.
        let policy = PasswordPolicy::default().min_length(12);
        for common in
            ["motdepasse123", "azertyuiop123", "password1234", "PASSWORD1234", "AzertyUiop123", "qwertyuiop123"]
        {
            assert_eq!(check(&policy, common, &none()), Err(PasswordError::Common), "{common}");
        }
        // From the zxcvbn list, once the minimum allows them.
        let eight = PasswordPolicy::default().min_length(8);
        for common in ["sunshine", "iloveyou", "Football", "1qaz2wsx3edc"] {
            assert_eq!(check(&eight, common, &none()), Err(PasswordError::Common), "{common}");
        }
        assert!(policy.is_common("MotDePasse2024!"));
        assert!(!policy.is_common("trois chats sur un piano"));
    }

    #[test]
    fn host_blocklist_extends_the_builtin_one() {
        let policy =
            PasswordPolicy::default().blocklist(["NomDeLEntreprise2025", ""]).blocklist(vec!["Admit Admit Admit"]);
        assert_eq!(check(&policy, "nomdelentreprise2025", &none()), Err(PasswordError::Common));
        assert_eq!(check(&policy, "ADMIT ADMIT ADMIT", &none()), Err(PasswordError::Common));
        assert_eq!(check(&policy, "password1234", &none()).map_err(|_| ()), Err(()));
        assert_eq!(check(&policy.clone().min_length(12), "password1234", &none()), Err(PasswordError::Common));
        assert_eq!(check(&policy, "nomdelentreprise2026", &none()), Ok(()));
    }

    #[test]
    fn refuses_email_local_part_and_its_parts() {
        let policy = PasswordPolicy::default();
        let email = Email::parse("Jeanne.Martin@exemple.fr").unwrap();
        let context = PasswordContext::new().email(&email);
        for password in ["jeanne.martin!2025", "xxJEANNE.MARTINxx", "jeanne-aime-les-chats", "les chats de martin"] {
            assert_eq!(check(&policy, password, &context), Err(PasswordError::ContainsPersonalInfo), "{password}");
        }
        assert_eq!(check(&policy, "les chats de jean marc", &context), Ok(()));

        // A local part shorter than four characters is not looked for.
        let short = Email::parse("al@exemple.fr").unwrap();
        assert_eq!(check(&policy, "al al al al al al", &PasswordContext::new().email(&short)), Ok(()));
        let four = Email::parse("alix@exemple.fr").unwrap();
        assert_eq!(
            check(&policy, "hello alix hello", &PasswordContext::new().email(&four)),
            Err(PasswordError::ContainsPersonalInfo)
        );
    }

    #[test]
    fn refuses_full_name_and_its_words() {
        let policy = PasswordPolicy::default();
        let name = FullName::parse("Anne-Sophie de La Tour").unwrap();
        let context = PasswordContext::new().full_name(&name);
        for password in [
            "anne-sophie de la tour",
            "ANNESOPHIEDELATOUR",
            "xx sophie aime le piano",
            "le piano d'anne, vraiment",
            "la tour eiffel est haute",
        ] {
            assert_eq!(check(&policy, password, &context), Err(PasswordError::ContainsPersonalInfo), "{password}");
        }
        // "de" and "la" (under four characters) are allowed on their own.
        assert_eq!(check(&policy, "de la musique le soir", &context), Ok(()));

        // A short whole name is looked for once it reaches four characters.
        let short = FullName::parse("Al Li").unwrap();
        let context = PasswordContext::new().full_name(&short);
        assert_eq!(check(&policy, "mon ami alli est là", &context), Err(PasswordError::ContainsPersonalInfo));
        assert_eq!(check(&policy, "al et li vont au parc", &context), Ok(()));
    }

    #[test]
    fn setters_clamp_to_safe_bounds() {
        let policy = PasswordPolicy::default().min_length(3);
        assert_eq!(policy.min_chars(), PasswordPolicy::LOWEST_MIN_LENGTH);
        let policy = PasswordPolicy::default().max_length(10);
        assert_eq!(policy.max_chars(), PasswordPolicy::LOWEST_MAX_LENGTH);
        let policy = PasswordPolicy::default().max_length(1 << 30);
        assert_eq!(policy.max_chars(), MAX_PASSWORD_BYTES);
        let policy = PasswordPolicy::default().min_length(100).max_length(64);
        assert_eq!((policy.min_chars(), policy.max_chars()), (100, 100));
        assert_eq!(check(&policy, &"ab".repeat(50), &none()), Ok(()));
        assert_eq!(check(&policy, &"ab".repeat(49), &none()), Err(PasswordError::TooShort { min: 100 }));
    }

    #[test]
    fn errors_never_contain_the_password() {
        let policy = PasswordPolicy::default().blocklist(["secret-value-123"]);
        let email = Email::parse("hunter@exemple.fr").unwrap();
        let context = PasswordContext::new().email(&email);
        let fr = Locale::parse("fr").unwrap();
        let en = Locale::parse("en").unwrap();
        for password in ["s3cr", "secret-value-123", "hunter-is-my-password", "secret\0value-longer"] {
            let error = check(&policy, password, &context).unwrap_err();
            for text in [format!("{error}"), format!("{error:?}"), error.localized(&fr), error.localized(&en)] {
                assert!(!text.contains(password), "{text:?} contains {password:?}");
            }
        }
    }

    #[test]
    fn localized_messages_differ_by_language() {
        let fr = Locale::parse("fr-CA").unwrap();
        let en = Locale::parse("en").unwrap();
        let de = Locale::parse("de").unwrap();
        let all = [
            PasswordError::Mismatch,
            PasswordError::TooShort { min: 15 },
            PasswordError::TooLong { max: 128 },
            PasswordError::TooManyBytes { max_bytes: MAX_PASSWORD_BYTES },
            PasswordError::ControlCharacter,
            PasswordError::Common,
            PasswordError::ContainsPersonalInfo,
            PasswordError::InvalidHash,
        ];
        for error in all {
            assert_ne!(error.localized(&fr), error.localized(&en), "{error:?}");
            assert_eq!(error.localized(&de), error.localized(&en), "{error:?}");
            assert_eq!(error.is_policy_refusal(), error != PasswordError::InvalidHash);
        }
        assert!(PasswordError::TooShort { min: 14 }.localized(&en).contains("14"));
    }

    #[test]
    fn params_validation() {
        assert_eq!(Argon2Params::default(), Argon2Params::new(19_456, 2, 1).unwrap());
        for (m, t) in Argon2Params::OWASP_MINIMUMS {
            assert!(Argon2Params::new(m, t, 1).is_ok(), "m={m} t={t}");
            assert!(Argon2Params::new(m - 1, t, 1).is_err(), "m={m}-1 t={t}");
        }
        assert!(Argon2Params::new(47_104, 0, 1).is_err());
        assert!(Argon2Params::new(19_456, 2, 0).is_err());
        assert!(matches!(Argon2Params::new(65_536, 3, 0x100_0000), Err(PasswordError::InvalidParams { .. })));
        let fast = Argon2Params::dangerous_fast_for_tests();
        assert_eq!((fast.m_cost(), fast.t_cost(), fast.p_cost()), (8, 1, 1));
        assert!(fast.to_argon2().is_ok());
    }

    #[test]
    fn hash_and_verify_round_trip() {
        let hasher = PasswordHasher::new(Argon2Params::dangerous_fast_for_tests());
        let mut rng = StdRng::seed_from_u64(11);
        let password = secret("trois chats sur un piano");
        let hash = hasher.hash(&password, &mut rng).unwrap();
        assert!(hash.as_phc().starts_with("$argon2id$v=19$m=8,t=1,p=1$"), "{}", hash.as_phc());
        assert_eq!(hasher.verify(&password, &hash), Ok(true));
        assert_eq!(hasher.verify(&secret("trois chats sur un pianO"), &hash), Ok(false));
        assert_eq!(hasher.verify(&secret(""), &hash), Ok(false));
        // A fresh salt each time.
        let again = hasher.hash(&password, &mut rng).unwrap();
        assert_ne!(hash, again);
        assert_eq!(hasher.verify(&password, &again), Ok(true));
    }

    #[test]
    fn hash_refuses_oversized_passwords_and_verify_answers_false() {
        let hasher = PasswordHasher::new(Argon2Params::dangerous_fast_for_tests());
        let mut rng = StdRng::seed_from_u64(12);
        let huge = secret(&"a".repeat(MAX_PASSWORD_BYTES + 1));
        assert_eq!(hasher.hash(&huge, &mut rng), Err(PasswordError::TooManyBytes { max_bytes: MAX_PASSWORD_BYTES }));
        let at_bound = secret(&"a".repeat(MAX_PASSWORD_BYTES));
        let hash = hasher.hash(&at_bound, &mut rng).unwrap();
        assert_eq!(hasher.verify(&at_bound, &hash), Ok(true));
        assert_eq!(hasher.verify(&huge, &hash), Ok(false));
    }

    /// The PHC string the argon2 crate itself makes, with its own allocation, for `salt`.
    fn crate_phc(params: Params, algorithm: Algorithm, password: &[u8], salt: &[u8]) -> String {
        Argon2::new(algorithm, Version::V0x13, params).hash_password_with_salt(password, salt).unwrap().to_string()
    }

    #[test]
    fn reused_memory_gives_the_argon2_crates_own_strings() {
        // Small but real sizes (64 and 256 KiB, 2 lanes): the buffers are reused across
        // hashes and verifications of other sizes, and every answer must match the crate's.
        let params = Argon2Params { m_cost: 64, t_cost: 2, p_cost: 2 };
        let hasher = PasswordHasher::new(params).keep_memory(1);
        for round in 0..6u8 {
            let password = format!("mot de passe numéro {round}");
            let mut salt = [0u8; SALT_LEN];
            StdRng::seed_from_u64(u64::from(round)).fill_bytes(&mut salt);
            let ours = hasher.hash(&secret(&password), &mut StdRng::seed_from_u64(u64::from(round))).unwrap();
            let theirs = crate_phc(params.to_argon2().unwrap(), Algorithm::Argon2id, password.as_bytes(), &salt);
            assert_eq!(ours.as_phc(), theirs);
            // A larger and a smaller stored hash in between: neither may disturb the next one.
            for m in [256, 16] {
                let other = Params::new(m, 1, 1, Some(HASH_LEN)).unwrap();
                let stored = PasswordHash::from_phc(crate_phc(other, Algorithm::Argon2i, password.as_bytes(), &salt));
                assert_eq!(hasher.verify(&secret(&password), &stored), Ok(true), "m = {m}");
                assert_eq!(hasher.verify(&secret("autre chose, vraiment"), &stored), Ok(false), "m = {m}");
            }
            assert_eq!(hasher.verify(&secret(&password), &ours), Ok(true));
        }
        // Only buffers of the hasher's own size are kept, never more than asked.
        let kept = hasher.memory.free.lock().unwrap();
        assert_eq!(kept.len(), 1);
        assert!(kept.iter().all(|buffer| buffer.len() == params.to_argon2().unwrap().block_count()));
    }

    #[test]
    fn keep_memory_bounds_the_buffers_kept_under_concurrency() {
        let params = Argon2Params { m_cost: 32, t_cost: 1, p_cost: 1 };
        for keep in [0, 2] {
            let hasher = PasswordHasher::new(params).keep_memory(keep);
            std::thread::scope(|scope| {
                for thread in 0..4u64 {
                    let hasher = hasher.clone();
                    scope.spawn(move || {
                        let mut rng = StdRng::seed_from_u64(thread);
                        for _ in 0..20 {
                            let hash = hasher.hash(&secret("un cheval de course"), &mut rng).unwrap();
                            assert_eq!(hasher.verify(&secret("un cheval de course"), &hash), Ok(true));
                        }
                    });
                }
            });
            assert!(hasher.memory.free.lock().unwrap().len() <= keep, "keep = {keep}");
        }
    }

    #[test]
    fn verify_refuses_unparsable_hashes() {
        let hasher = PasswordHasher::new(Argon2Params::dangerous_fast_for_tests());
        let password = secret("trois chats sur un piano");
        for bad in [
            "",
            "not a hash",
            "$argon2id$v=19$m=8,t=1,p=1",
            "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHRzYWx0",
            "$argon2id$v=19$m=8,t=1,p=0$c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "$argon2id$v=19$m=8,t=1,p=1,x=3$c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "$argon2id$v=12$m=8,t=1,p=1$c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "$scrypt$ln=16,r=8,p=1$c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
        ] {
            let hash = PasswordHash::from_phc(bad.to_owned());
            assert_eq!(hasher.verify(&password, &hash), Err(PasswordError::InvalidHash), "{bad}");
            assert!(hasher.needs_rehash(&hash), "{bad}");
        }
    }

    #[test]
    fn verify_accepts_older_argon2_variants_and_asks_for_rehash() {
        let hasher = PasswordHasher::new(Argon2Params::dangerous_fast_for_tests());
        let password = b"trois chats sur un piano";
        let salt = [7u8; SALT_LEN];
        let params = Params::new(8, 1, 1, Some(HASH_LEN)).unwrap();
        for (algorithm, version) in [
            (Algorithm::Argon2i, Version::V0x13),
            (Algorithm::Argon2d, Version::V0x13),
            (Algorithm::Argon2id, Version::V0x10),
        ] {
            let phc = Argon2::new(algorithm, version, params.clone()).hash_password_with_salt(password, &salt).unwrap();
            let hash = PasswordHash::from_phc(phc.to_string());
            assert_eq!(hasher.verify(&secret("trois chats sur un piano"), &hash), Ok(true), "{hash:?}");
            assert_eq!(hasher.verify(&secret("trois chats sur un pianO"), &hash), Ok(false));
            assert!(hasher.needs_rehash(&hash), "{algorithm:?} {version:?}");
        }
    }

    #[test]
    fn needs_rehash_when_params_differ() {
        let mut rng = StdRng::seed_from_u64(13);
        let password = secret("trois chats sur un piano");
        let fast = PasswordHasher::new(Argon2Params::dangerous_fast_for_tests());
        let hash = fast.hash(&password, &mut rng).unwrap();
        assert!(!fast.needs_rehash(&hash));
        assert!(PasswordHasher::default().needs_rehash(&hash));
        let hash = |m, t, p| {
            PasswordHash::from_phc(format!(
                "$argon2id$v=19$m={m},t={t},p={p}$c2FsdHNhbHRzYWx0c2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
            ))
        };
        assert!(!fast.needs_rehash(&hash(8, 1, 1)));
        assert!(fast.needs_rehash(&hash(16, 1, 1)));
        assert!(fast.needs_rehash(&hash(8, 2, 1)));
        assert!(fast.needs_rehash(&hash(16, 1, 2)));
        // Short salt (8 bytes), short output (16 bytes).
        let short_salt = "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        assert!(fast.needs_rehash(&PasswordHash::from_phc(short_salt.to_owned())));
        let short_output = "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$AAAAAAAAAAAAAAAAAAAAAA";
        assert!(fast.needs_rehash(&PasswordHash::from_phc(short_output.to_owned())));
    }

    #[test]
    fn dummy_hash_is_well_formed_with_current_params_and_matches_nothing() {
        for params in [Argon2Params::dangerous_fast_for_tests(), Argon2Params::new(12_288, 3, 2).unwrap()] {
            let hasher = PasswordHasher::new(params);
            let dummy = hasher.dummy_hash();
            assert!(!hasher.needs_rehash(dummy), "{}", dummy.as_phc());
            if params == Argon2Params::dangerous_fast_for_tests() {
                assert_eq!(hasher.verify(&secret("trois chats sur un piano"), dummy), Ok(false));
                assert_eq!(hasher.verify(&secret(""), dummy), Ok(false));
                hasher.dummy_verify(&secret("trois chats sur un piano"));
            }
        }
    }

    #[test]
    fn hash_at_default_params() {
        // The one test at the real (OWASP) cost.
        let hasher = PasswordHasher::default();
        let password = secret("trois chats sur un piano");
        let hash = hasher.hash(&password, &mut StdRng::seed_from_u64(14)).unwrap();
        assert!(hash.as_phc().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{}", hash.as_phc());
        assert_eq!(hasher.verify(&password, &hash), Ok(true));
        assert!(!hasher.needs_rehash(&hash));
        assert!(!hasher.needs_rehash(hasher.dummy_hash()));
    }

    #[test]
    fn temporary_password_shape_and_policy() {
        let mut rng = StdRng::seed_from_u64(15);
        let policy = PasswordPolicy::default();
        let mut seen = BTreeSet::new();
        for _ in 0..200 {
            let password = generate_temporary_password(&mut rng);
            let text = password.expose_secret();
            assert_eq!(text.len(), TEMPORARY_PASSWORD_LEN);
            let groups: Vec<&str> = text.split('-').collect();
            assert_eq!(groups.len(), 4, "{text}");
            assert!(
                groups.iter().all(|g| g.len() == TEMPORARY_PASSWORD_GROUP
                    && g.chars().all(|c| TEMPORARY_PASSWORD_ALPHABET.contains(c)))
            );
            assert_eq!(policy.validate(&password, &none()), Ok(()));
            assert!(seen.insert(text.to_owned()), "repeated {text}");
        }
    }

    #[test]
    fn temporary_password_uses_the_whole_alphabet_evenly() {
        let mut rng = StdRng::seed_from_u64(16);
        let mut counts = std::collections::BTreeMap::new();
        let draws = 2_000;
        for _ in 0..draws {
            for c in generate_temporary_password(&mut rng).expose_secret().chars().filter(|&c| c != '-') {
                *counts.entry(c).or_insert(0u32) += 1;
            }
        }
        assert_eq!(counts.len(), TEMPORARY_PASSWORD_ALPHABET.len());
        // 40,000 characters: 727 expected per character; a biased modulo (256 % 55 = 36
        // characters at 5/256 instead of 4/256) would show +20% on the first 36.
        let expected = f64::from(draws * 20) / 55.0;
        for (c, n) in counts {
            let ratio = f64::from(n) / expected;
            assert!((0.85..1.15).contains(&ratio), "{c}: {n} ({ratio:.2})");
        }
        for ambiguous in ['0', 'O', 'o', '1', 'l', 'I', 'i'] {
            assert!(!TEMPORARY_PASSWORD_ALPHABET.contains(ambiguous));
        }
    }

    #[test]
    fn policy_temporary_password_respects_the_context() {
        let mut rng = StdRng::seed_from_u64(17);
        let email = Email::parse("jeanne@exemple.fr").unwrap();
        let context = PasswordContext::new().email(&email);
        let policy = PasswordPolicy::default();
        let password = policy.temporary_password(&mut rng, &context).unwrap();
        assert_eq!(policy.validate(&password, &context), Ok(()));
        let impossible = PasswordPolicy::default().min_length(30);
        assert_eq!(impossible.temporary_password(&mut rng, &context).unwrap_err(), PasswordError::TooShort { min: 30 });
    }

    #[test]
    fn debug_never_shows_secrets() {
        let hasher = PasswordHasher::new(Argon2Params::dangerous_fast_for_tests());
        let password = secret("trois chats sur un piano");
        let hash = hasher.hash(&password, &mut StdRng::seed_from_u64(18)).unwrap();
        let phc_tail = hash.as_phc().rsplit('$').next().unwrap().to_owned();
        let salt = hash.as_phc().split('$').nth(4).unwrap().to_owned();
        for text in [format!("{hash:?}"), format!("{hasher:?}"), format!("{password:?}")] {
            assert!(!text.contains("trois chats"), "{text}");
            assert!(!text.contains(&phc_tail), "{text}");
            assert!(!text.contains(&salt), "{text}");
        }
        let temporary = generate_temporary_password(&mut StdRng::seed_from_u64(19));
        assert!(!format!("{temporary:?}").contains(temporary.expose_secret()));
        let policy = PasswordPolicy::default();
        assert!(!format!("{policy:?}").contains("password1234"));
    }

    mod normalization {
        use super::*;
        use rand::SeedableRng;
        use rand::rngs::StdRng;

        const COMPOSED: &str = "un caf\u{e9} au lait, s'il vous pla\u{ee}t";
        const DECOMPOSED: &str = "un cafe\u{301} au lait, s'il vous plai\u{302}t";

        fn fast() -> PasswordHasher {
            PasswordHasher::new(Argon2Params::dangerous_fast_for_tests())
        }

        #[test]
        fn composed_and_decomposed_forms_are_one_password() {
            assert_ne!(COMPOSED, DECOMPOSED);
            let hasher = fast();
            let mut rng = StdRng::seed_from_u64(7);
            let hash = hasher.hash(&SecretString::from(COMPOSED), &mut rng).unwrap();
            assert_eq!(hasher.check(&SecretString::from(DECOMPOSED), &hash).unwrap(), PasswordMatch::Match);
            let hash = hasher.hash(&SecretString::from(DECOMPOSED), &mut rng).unwrap();
            assert_eq!(hasher.check(&SecretString::from(COMPOSED), &hash).unwrap(), PasswordMatch::Match);
            assert_eq!(
                hasher.check(&SecretString::from("un cafe au lait, s'il vous plait"), &hash).unwrap(),
                PasswordMatch::Mismatch
            );
        }

        #[test]
        fn compatibility_forms_are_folded() {
            // NFKC, not only NFC: full-width letters and the "fi" ligature fold too.
            assert_eq!(normalize(&SecretString::from("\u{ff21}\u{fb01}")).expose_secret(), "Afi");
            assert_eq!(normalize(&SecretString::from(COMPOSED)).expose_secret(), COMPOSED);
        }

        #[test]
        fn a_hash_of_the_form_as_typed_still_matches_and_asks_for_a_new_hash() {
            let hasher = fast();
            // A hash made before normalisation: of the decomposed bytes themselves.
            let legacy = hasher.hash_bytes(DECOMPOSED.as_bytes(), &mut StdRng::seed_from_u64(3)).unwrap();
            assert_eq!(hasher.check(&SecretString::from(DECOMPOSED), &legacy).unwrap(), PasswordMatch::MatchAsTyped);
            assert!(hasher.verify(&SecretString::from(DECOMPOSED), &legacy).unwrap());
            // The composed form never produced that hash, and the hash cannot tell it was meant.
            assert_eq!(hasher.check(&SecretString::from(COMPOSED), &legacy).unwrap(), PasswordMatch::Mismatch);
            assert_eq!(hasher.check(&SecretString::from("wrong entirely"), &legacy).unwrap(), PasswordMatch::Mismatch);
        }

        #[test]
        fn the_policy_counts_and_compares_the_normalised_form() {
            let policy = PasswordPolicy::default();
            // Confirmation typed in the other form still matches.
            assert_eq!(
                policy.check(&SecretString::from(COMPOSED), &SecretString::from(DECOMPOSED), &PasswordContext::new()),
                Ok(())
            );
            // Fourteen decomposed "e\u{301}" are 28 code points but 14 characters once composed.
            let twelve = "e\u{301}".repeat(14);
            assert_eq!(
                policy.validate(&SecretString::from(twelve), &PasswordContext::new()),
                Err(PasswordError::TooShort { min: PasswordPolicy::DEFAULT_MIN_LENGTH })
            );
        }

        #[test]
        fn expansion_past_the_byte_bound_is_refused() {
            // U+FDFA expands to 18 characters (33 bytes) under NFKC.
            let expanding = "\u{fdfa}".repeat(100);
            assert!(expanding.len() <= MAX_PASSWORD_BYTES);
            assert_eq!(
                PasswordPolicy::default().validate(&SecretString::from(expanding), &PasswordContext::new()),
                Err(PasswordError::TooManyBytes { max_bytes: MAX_PASSWORD_BYTES })
            );
        }
    }

    mod every_reason {
        use super::*;

        fn secret(text: &str) -> SecretString {
            SecretString::from(text.to_owned())
        }

        #[test]
        fn a_short_password_resembling_the_address_gets_both_reasons() {
            let email = Email::parse("dominique.lefevre@exemple.fr").unwrap();
            let context = PasswordContext::new().email(&email);
            let refusal = PasswordPolicy::default().check_all(&secret("lefevre1"), &secret("lefevre1"), &context);
            let refusal = refusal.unwrap_err();
            assert_eq!(refusal.reasons(), [PasswordError::TooShort { min: 15 }, PasswordError::ContainsPersonalInfo]);
            assert_eq!(refusal.first(), PasswordError::TooShort { min: 15 });
            let fr = Locale::parse("fr").unwrap();
            assert_eq!(refusal.localized(&fr).len(), 2);
            assert_eq!(
                refusal.to_string(),
                "password is too short (at least 15 characters); password contains the account's name or email address"
            );
        }

        #[test]
        fn mismatch_comes_with_the_new_passwords_own_reasons() {
            let refusal =
                PasswordPolicy::default().check_all(&secret("password"), &secret("passw0rd"), &PasswordContext::new());
            assert_eq!(
                refusal.unwrap_err().reasons(),
                [PasswordError::Mismatch, PasswordError::TooShort { min: 15 }, PasswordError::Common]
            );
        }

        #[test]
        fn empty_is_required_and_nothing_else() {
            let refusal = PasswordPolicy::default().check_all(&secret(""), &secret("x"), &PasswordContext::new());
            assert_eq!(refusal.unwrap_err().reasons(), [PasswordError::Required]);
            let en = Locale::parse("en").unwrap();
            assert_eq!(PasswordError::Required.localized(&en), "A password is required.");
            assert_eq!(
                PasswordError::Required.localized(&Locale::parse("fr").unwrap()),
                "Le mot de passe est obligatoire."
            );
            assert!(PasswordError::Required.is_policy_refusal());
        }

        #[test]
        fn an_acceptable_password_has_no_reason() {
            let ok = secret("trois chats sur un piano");
            assert_eq!(PasswordPolicy::default().check_all(&ok, &ok, &PasswordContext::new()), Ok(()));
        }
    }
}
