//! Accounts: the [`AccountRecord`] stores keep, its validated fields, and its
//! [`AccountStatus`] state machine.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::{AccountId, AccountKind, Email, Grant, PasswordHash, Role, Scope, Timestamp};

/// Why a field of an account was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FieldError {
    /// The full name is empty once trimmed.
    #[error("name is empty")]
    EmptyName,
    /// The full name is longer than [`FullName::MAX_CHARS`].
    #[error("name is too long")]
    NameTooLong,
    /// The text holds a control character (CR, LF, NUL, …) or a bidirectional override.
    #[error("text contains a control character")]
    ControlCharacter,
    /// The phone number is not in E.164 form (`+` then 8 to 15 digits).
    #[error("phone number must be in E.164 form")]
    InvalidPhone,
    /// The locale is not a language tag such as `fr`, `en` or `fr-CA`.
    #[error("locale is not a language tag")]
    InvalidLocale,
    /// A label key or value is empty, too long, or there are too many.
    #[error("label is invalid")]
    InvalidLabel,
    /// An account needs at least one grant, and at most [`AccountRecord::MAX_GRANTS`].
    #[error("grants are invalid")]
    InvalidGrants,
}

fn has_forbidden_char(text: &str) -> bool {
    text.chars().any(|c| {
        c.is_control()
            // bidirectional embeddings, overrides and isolates: they can reorder what a reader sees
            || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    })
}

/// A person's full name, as shown in mails and lists.
///
/// Trimmed, non-empty, at most [`FullName::MAX_CHARS`] characters, with no control
/// character or bidirectional override (so no header injection through a name).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FullName(String);

impl FullName {
    /// Longest name accepted, in characters.
    pub const MAX_CHARS: usize = 200;

    /// Validates a name.
    ///
    /// # Errors
    /// [`FieldError::EmptyName`], [`FieldError::NameTooLong`] or [`FieldError::ControlCharacter`].
    ///
    /// ```
    /// use admit_core::FullName;
    /// assert_eq!(FullName::parse("  Jeanne Martin ").unwrap().as_str(), "Jeanne Martin");
    /// assert!(FullName::parse("Eve\r\nBcc: x@y.z").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<FullName, FieldError> {
        if text.len() > Self::MAX_CHARS * 4 {
            return Err(FieldError::NameTooLong);
        }
        let text = text.trim();
        if text.is_empty() {
            return Err(FieldError::EmptyName);
        }
        if text.chars().count() > Self::MAX_CHARS {
            return Err(FieldError::NameTooLong);
        }
        if has_forbidden_char(text) {
            return Err(FieldError::ControlCharacter);
        }
        Ok(FullName(text.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for FullName {
    type Error = FieldError;
    fn try_from(text: String) -> Result<Self, FieldError> {
        FullName::parse(&text)
    }
}
impl From<FullName> for String {
    fn from(name: FullName) -> String {
        name.0
    }
}
impl fmt::Debug for FullName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}
impl fmt::Display for FullName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A phone number in E.164 form (`+33612345678`). Spaces, dots and dashes are removed.
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

impl Phone {
    /// Parses a phone number.
    ///
    /// # Errors
    /// [`FieldError::InvalidPhone`].
    ///
    /// ```
    /// use admit_core::Phone;
    /// assert_eq!(Phone::parse("+33 6 12 34 56 78").unwrap().as_str(), "+33612345678");
    /// assert!(Phone::parse("0612345678").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Phone, FieldError> {
        if text.len() > 64 {
            return Err(FieldError::InvalidPhone);
        }
        let compact: String = text.trim().chars().filter(|c| !matches!(c, ' ' | '.' | '-')).collect();
        let digits = compact.strip_prefix('+').ok_or(FieldError::InvalidPhone)?;
        let ok =
            (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0');
        if ok { Ok(Phone(compact)) } else { Err(FieldError::InvalidPhone) }
    }

    /// The number in E.164 form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Phone {
    type Error = FieldError;
    fn try_from(text: String) -> Result<Self, FieldError> {
        Phone::parse(&text)
    }
}
impl From<Phone> for String {
    fn from(phone: Phone) -> String {
        phone.0
    }
}
impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// A language tag choosing the language of an account's mails (`fr`, `en`, `fr-CA`, …).
///
/// French and English are built in; other tags fall back to the configured default
/// unless the host supplies templates for them.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Locale(String);

impl Locale {
    /// Parses a tag: a 2–3 letter language, then optional `-` subtags of 2–8 letters or
    /// digits. The language is lowercased, a 2-letter region uppercased.
    ///
    /// # Errors
    /// [`FieldError::InvalidLocale`].
    ///
    /// ```
    /// use admit_core::Locale;
    /// assert_eq!(Locale::parse("FR_ca").unwrap().as_str(), "fr-CA");
    /// assert_eq!(Locale::parse("fr-CA").unwrap().language(), "fr");
    /// ```
    pub fn parse(text: &str) -> Result<Locale, FieldError> {
        if text.is_empty() || text.len() > 35 {
            return Err(FieldError::InvalidLocale);
        }
        let mut out = String::with_capacity(text.len());
        for (i, part) in text.split(['-', '_']).enumerate() {
            let ok = if i == 0 {
                (2..=3).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_alphabetic())
            } else {
                (2..=8).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_alphanumeric())
            };
            if !ok {
                return Err(FieldError::InvalidLocale);
            }
            if i == 0 {
                out.push_str(&part.to_ascii_lowercase());
            } else {
                out.push('-');
                if part.len() == 2 {
                    out.push_str(&part.to_ascii_uppercase());
                } else {
                    out.push_str(&part.to_ascii_lowercase());
                }
            }
        }
        Ok(Locale(out))
    }

    /// French.
    pub fn fr() -> Locale {
        Locale("fr".to_owned())
    }

    /// English.
    pub fn en() -> Locale {
        Locale("en".to_owned())
    }

    /// The tag.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The primary language subtag (`fr` for `fr-CA`).
    pub fn language(&self) -> &str {
        self.0.split('-').next().unwrap_or(&self.0)
    }
}

impl TryFrom<String> for Locale {
    type Error = FieldError;
    fn try_from(text: String) -> Result<Self, FieldError> {
        Locale::parse(&text)
    }
}
impl From<Locale> for String {
    fn from(locale: Locale) -> String {
        locale.0
    }
}
impl fmt::Debug for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}
impl fmt::Display for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Host-defined labels: a key (`contact_for`, `position`, `themes`, `applications`, …)
/// mapped to a set of values (« chef d'entreprise », « facturation », …).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Labels(BTreeMap<String, BTreeSet<String>>);

impl Labels {
    /// Most keys an account may carry.
    pub const MAX_KEYS: usize = 32;
    /// Most values per key.
    pub const MAX_VALUES: usize = 64;
    /// Longest key or value, in characters.
    pub const MAX_CHARS: usize = 100;

    /// No labels.
    pub fn new() -> Self {
        Labels::default()
    }

    /// Adds `value` under `key`.
    ///
    /// # Errors
    /// [`FieldError::InvalidLabel`] if the key or value is empty, too long or has a control
    /// character, or a limit would be passed.
    ///
    /// ```
    /// use admit_core::Labels;
    /// let mut labels = Labels::new();
    /// labels.insert("position", "Gérant").unwrap();
    /// labels.insert("contact_for", "facturation").unwrap();
    /// assert!(labels.values("position").any(|v| v == "Gérant"));
    /// ```
    pub fn insert(&mut self, key: &str, value: &str) -> Result<(), FieldError> {
        let key = key.trim();
        let value = value.trim();
        for text in [key, value] {
            if text.is_empty() || text.chars().count() > Self::MAX_CHARS || has_forbidden_char(text) {
                return Err(FieldError::InvalidLabel);
            }
        }
        if !self.0.contains_key(key) && self.0.len() >= Self::MAX_KEYS {
            return Err(FieldError::InvalidLabel);
        }
        let values = self.0.entry(key.to_owned()).or_default();
        if !values.contains(value) && values.len() >= Self::MAX_VALUES {
            return Err(FieldError::InvalidLabel);
        }
        values.insert(value.to_owned());
        Ok(())
    }

    /// Removes every value of `key`.
    pub fn remove(&mut self, key: &str) {
        self.0.remove(key);
    }

    /// The values under `key`.
    pub fn values(&self, key: &str) -> impl Iterator<Item = &str> {
        self.0.get(key).into_iter().flatten().map(String::as_str)
    }

    /// Every (key, values) pair.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &BTreeSet<String>)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Whether there are no labels.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The stored lifecycle stage of an account, before the disabled and trashed flags and
/// the clock are taken into account (see [`AccountRecord::status`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Lifecycle {
    /// No invitation pending, never activated.
    Created,
    /// An invitation was sent and not yet accepted.
    Invited,
    /// The person has set a password at least once.
    Active,
}

impl Lifecycle {
    /// The stable lower-case name stores persist.
    pub const fn as_str(self) -> &'static str {
        match self {
            Lifecycle::Created => "created",
            Lifecycle::Invited => "invited",
            Lifecycle::Active => "active",
        }
    }

    /// Parses [`Lifecycle::as_str`]'s output.
    pub fn from_name(name: &str) -> Option<Lifecycle> {
        [Lifecycle::Created, Lifecycle::Invited, Lifecycle::Active].into_iter().find(|l| l.as_str() == name)
    }
}

/// The status an administrator sees in the « Statut » column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub enum AccountStatus {
    /// Created, no invitation sent yet (or its link was revoked by a disable or trash).
    Created,
    /// Invitation sent, link still valid.
    Invited,
    /// Invitation sent, link past its deadline (derived from the clock).
    InvitationExpired,
    /// The person has set a password.
    Active,
    /// Disabled by an administrator: cannot sign in, gets no mail.
    Disabled,
    /// In the trash: restorable until the retention period ends, then purged.
    Trashed,
}

/// What happens to an account, as far as its status is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusEvent {
    /// An invitation is sent (first time).
    Invite,
    /// An invitation is sent again (« relance »), replacing the previous link.
    Reinvite,
    /// The invitation link's deadline passes (the clock moves).
    InvitationExpires,
    /// A password is set: invitation accepted, reset completed, set by an administrator, or
    /// a temporary password issued.
    SetPassword,
    /// An administrator disables the account.
    Disable,
    /// An administrator enables it again.
    Enable,
    /// An administrator moves it to the trash.
    Trash,
    /// An administrator restores it from the trash.
    Restore,
}

impl StatusEvent {
    /// A stable snake-case name (`invite`, `invitation_expires`, `set_password`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            StatusEvent::Invite => "invite",
            StatusEvent::Reinvite => "reinvite",
            StatusEvent::InvitationExpires => "invitation_expires",
            StatusEvent::SetPassword => "set_password",
            StatusEvent::Disable => "disable",
            StatusEvent::Enable => "enable",
            StatusEvent::Trash => "trash",
            StatusEvent::Restore => "restore",
        }
    }
}

/// A status change the state machine does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{} is not allowed from status {}", event.as_str(), from.as_str())]
pub struct TransitionError {
    /// The status the account was in.
    pub from: AccountStatus,
    /// What was attempted.
    pub event: StatusEvent,
}

impl AccountStatus {
    /// Every status.
    pub const ALL: [AccountStatus; 6] = [
        AccountStatus::Created,
        AccountStatus::Invited,
        AccountStatus::InvitationExpired,
        AccountStatus::Active,
        AccountStatus::Disabled,
        AccountStatus::Trashed,
    ];

    /// The stable lower-case name used in queries and stores.
    pub const fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Created => "created",
            AccountStatus::Invited => "invited",
            AccountStatus::InvitationExpired => "invitation_expired",
            AccountStatus::Active => "active",
            AccountStatus::Disabled => "disabled",
            AccountStatus::Trashed => "trashed",
        }
    }

    /// The state machine: the statuses `event` may lead to from `self` (empty when the
    /// event is not allowed).
    ///
    /// Most events have one outcome. `Enable` leads back to `Active` for an account that
    /// was ever activated and to `Created` otherwise (links revoked by a disable are not
    /// brought back: the administrator re-invites); `Restore` does the same, or leads back
    /// to `Disabled` for an account that was disabled when it was trashed.
    /// [`AccountRecord::status`] after the change tells which one applies.
    ///
    /// ```
    /// use admit_core::{AccountStatus::*, StatusEvent};
    /// assert_eq!(Created.successors(StatusEvent::Invite), &[Invited]);
    /// assert!(Active.successors(StatusEvent::Invite).is_empty());
    /// ```
    pub fn successors(self, event: StatusEvent) -> &'static [AccountStatus] {
        use AccountStatus as S;
        use StatusEvent as E;
        match (self, event) {
            (S::Created, E::Invite) => &[S::Invited],
            (S::Invited | S::InvitationExpired, E::Reinvite) => &[S::Invited],
            (S::Invited, E::InvitationExpires) => &[S::InvitationExpired],
            (S::Created | S::Invited | S::InvitationExpired | S::Active, E::SetPassword) => &[S::Active],
            (S::Created | S::Invited | S::InvitationExpired | S::Active, E::Disable) => &[S::Disabled],
            (S::Disabled, E::Enable) => &[S::Active, S::Created],
            (S::Created | S::Invited | S::InvitationExpired | S::Active | S::Disabled, E::Trash) => &[S::Trashed],
            (S::Trashed, E::Restore) => &[S::Active, S::Created, S::Disabled],
            _ => &[],
        }
    }

    /// Whether `event` is allowed from `self`.
    ///
    /// # Errors
    /// [`TransitionError`] if it is not.
    pub fn check(self, event: StatusEvent) -> Result<(), TransitionError> {
        if self.successors(event).is_empty() { Err(TransitionError { from: self, event }) } else { Ok(()) }
    }

    /// Whether some single event leads from `self` to `to`.
    pub fn can_become(self, to: AccountStatus) -> bool {
        ALL_EVENTS.iter().any(|e| self.successors(*e).contains(&to))
    }
}

/// Every status event, for exhaustive tests.
pub const ALL_EVENTS: [StatusEvent; 8] = [
    StatusEvent::Invite,
    StatusEvent::Reinvite,
    StatusEvent::InvitationExpires,
    StatusEvent::SetPassword,
    StatusEvent::Disable,
    StatusEvent::Enable,
    StatusEvent::Trash,
    StatusEvent::Restore,
];

/// A counter that moves whenever the account's password changes; every link carries the
/// epoch it was issued in and dies when it moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct CredentialEpoch(pub u64);

impl CredentialEpoch {
    /// The next epoch.
    pub const fn next(self) -> CredentialEpoch {
        CredentialEpoch(self.0.wrapping_add(1))
    }
}

/// An account as stores keep it. Plain data: the rules that change it live in
/// [`crate::decide`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRecord {
    /// Its id (UUIDv7).
    pub id: AccountId,
    /// Its address, unique case-insensitively through [`Email::key`]. `None` until one is
    /// assigned: a host may create accounts for people whose address it does not know yet
    /// (a family-portal « responsable »), who can receive no mail until then.
    pub email: Option<Email>,
    /// The person's full name.
    pub full_name: FullName,
    /// An optional phone number.
    pub phone: Option<Phone>,
    /// The language of its mails.
    pub locale: Locale,
    /// Team member or public account.
    pub kind: AccountKind,
    /// Roles in scopes (at least one).
    pub grants: Vec<Grant>,
    /// Host-defined labels.
    pub labels: Labels,
    /// Lifecycle stage before the flags below and the clock.
    pub lifecycle: Lifecycle,
    /// When the live invitation link expires, while `lifecycle` is `Invited`.
    pub invitation_expires_at: Option<Timestamp>,
    /// The PHC string of its password hash, once one is set.
    pub password_hash: Option<PasswordHash>,
    /// Whether the person must change the password at the next sign-in.
    pub must_change_password: bool,
    /// Moves with every password change; kills outstanding links.
    pub credential_epoch: CredentialEpoch,
    /// Optimistic concurrency version: 1 on insert, +1 on every update.
    pub version: u64,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was last changed.
    pub updated_at: Timestamp,
    /// When the first invitation was sent.
    pub invited_at: Option<Timestamp>,
    /// When the last invitation or reminder was sent.
    pub last_invitation_sent_at: Option<Timestamp>,
    /// When a password was first set.
    pub activated_at: Option<Timestamp>,
    /// The last successful sign-in.
    pub last_login_at: Option<Timestamp>,
    /// The last password change.
    pub password_changed_at: Option<Timestamp>,
    /// Set while disabled.
    pub disabled_at: Option<Timestamp>,
    /// Set while in the trash.
    pub trashed_at: Option<Timestamp>,
}

impl AccountRecord {
    /// Most grants an account may hold.
    pub const MAX_GRANTS: usize = 1_000;

    /// The status an administrator sees at `now`.
    pub fn status(&self, now: Timestamp) -> AccountStatus {
        if self.trashed_at.is_some() {
            AccountStatus::Trashed
        } else if self.disabled_at.is_some() {
            AccountStatus::Disabled
        } else {
            match self.lifecycle {
                Lifecycle::Created => AccountStatus::Created,
                Lifecycle::Active => AccountStatus::Active,
                Lifecycle::Invited => match self.invitation_expires_at {
                    Some(deadline) if now <= deadline => AccountStatus::Invited,
                    _ => AccountStatus::InvitationExpired,
                },
            }
        }
    }

    /// Whether the account may sign in and receive mail (neither disabled nor trashed).
    pub fn is_available(&self) -> bool {
        self.disabled_at.is_none() && self.trashed_at.is_none()
    }

    /// The strongest role it holds in a scope containing `scope`, if any.
    pub fn role_in(&self, scope: &Scope) -> Option<Role> {
        self.grants.iter().filter(|g| g.scope.contains(scope)).map(|g| g.role).max()
    }

    /// Whether it is an acting platform administrator: available, active (has set a
    /// password), and holding the platform administrator grant. This is what the "last
    /// platform administrator" rule counts (see [`crate::authz`]).
    pub fn is_platform_administrator(&self) -> bool {
        self.is_available()
            && self.lifecycle == Lifecycle::Active
            && self.grants.iter().any(|g| g.scope == Scope::Platform && g.role == Role::Administrator)
    }
}
