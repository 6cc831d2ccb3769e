//! The outbox: [`MailRecord`], one row per mail, written in the same atomic step as the
//! change that causes it, then delivered by the dispatcher. It doubles as the mail journal.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

use crate::{AccountId, CredentialEpoch, Email, Locale, MailId, Timestamp, TokenPurpose, TokenSelector};

/// Which mail it is; chooses the template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub enum MailKind {
    /// First invitation to set a password.
    Invitation,
    /// A reminder (« relance ») with a new invitation link.
    InvitationReminder,
    /// A password-reset link.
    PasswordReset,
    /// A temporary password, to change at the next sign-in.
    TemporaryPassword,
    /// Notice that the password was changed.
    PasswordChanged,
    /// Notice, sent to the old address, that the address was changed.
    EmailChanged,
}

impl MailKind {
    /// Every kind.
    pub const ALL: [MailKind; 6] = [
        MailKind::Invitation,
        MailKind::InvitationReminder,
        MailKind::PasswordReset,
        MailKind::TemporaryPassword,
        MailKind::PasswordChanged,
        MailKind::EmailChanged,
    ];

    /// The stable snake-case name (also the template name).
    pub const fn as_str(self) -> &'static str {
        match self {
            MailKind::Invitation => "invitation",
            MailKind::InvitationReminder => "invitation_reminder",
            MailKind::PasswordReset => "password_reset",
            MailKind::TemporaryPassword => "temporary_password",
            MailKind::PasswordChanged => "password_changed",
            MailKind::EmailChanged => "email_changed",
        }
    }

    /// Parses [`MailKind::as_str`]'s output.
    pub fn from_name(name: &str) -> Option<MailKind> {
        MailKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// Whether mails of this kind carry a secret (a link or a temporary password).
    pub const fn carries_secret(self) -> bool {
        matches!(
            self,
            MailKind::Invitation | MailKind::InvitationReminder | MailKind::PasswordReset | MailKind::TemporaryPassword
        )
    }
}

/// What secret a mail will carry, as the outbox keeps it: a reference, never the secret.
///
/// The secret itself is minted by the dispatcher just before sending
/// (`Store::arm_mails`): a verifier for the reserved token, or a temporary password.
/// Nothing in an intent lets anyone complete a link or sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MailIntent {
    /// A link on the reserved token `selector` (a selector alone opens nothing).
    Link {
        /// The reserved token's selector.
        selector: TokenSelector,
        /// Its purpose (chooses the link path).
        purpose: TokenPurpose,
    },
    /// A temporary password for the account, valid only while its credential epoch is
    /// still `credential_epoch` (a newer password, or a newer temporary password,
    /// supersedes the mail).
    TemporaryPassword {
        /// The epoch the issuing decision moved the account to.
        credential_epoch: CredentialEpoch,
    },
}

impl MailIntent {
    /// The stable lower-case name stores persist.
    pub const fn kind_name(&self) -> &'static str {
        match self {
            MailIntent::Link { purpose: TokenPurpose::Invitation, .. } => "invitation_link",
            MailIntent::Link { purpose: TokenPurpose::PasswordReset, .. } => "reset_link",
            MailIntent::TemporaryPassword { .. } => "temporary_password",
        }
    }
}

/// The secret part of a mail as rendered: a link with a token, or a temporary password.
/// It exists only in the dispatcher's memory, between arming and sending: no store ever
/// keeps it.
#[derive(Clone)]
pub struct MailSecret(SecretString);

impl MailSecret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        MailSecret(SecretString::from(secret.into()))
    }

    /// The secret, for rendering the mail and for stores to persist.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for MailSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MailSecret([redacted])")
    }
}

impl PartialEq for MailSecret {
    fn eq(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq;
        self.expose().as_bytes().ct_eq(other.expose().as_bytes()).into()
    }
}
impl Eq for MailSecret {}

/// What a template needs besides the kind and the locale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailParams {
    /// The recipient's name as the account holds it.
    pub recipient_name: String,
    /// What secret the mail carries, by reference (`None` for notices). Stores keep it.
    pub intent: Option<MailIntent>,
    /// The link or temporary password, filled only by the dispatcher after arming, to
    /// render the mail. Never stored: stores ignore it when they enqueue and always
    /// return `None`.
    pub secret: Option<MailSecret>,
    /// The link's deadline, stated in the mail in the recipient's language.
    pub expires_at: Option<Timestamp>,
    /// For [`MailKind::EmailChanged`]: the new address.
    pub new_email: Option<String>,
}

/// Where a mail is in its delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum MailStatus {
    /// Waiting for delivery (first try or a retry).
    Pending,
    /// Delivered to the transport.
    Sent,
    /// Given up, with the reason in [`MailRecord::last_error`].
    Failed,
    /// Not sent because what it carried no longer holds (its link was revoked, used or
    /// expired, its temporary password replaced, its address changed), with the reason in
    /// [`MailRecord::last_error`] and the instant in [`MailRecord::failed_at`].
    Superseded,
}

impl MailStatus {
    /// The stable lower-case name stores persist.
    pub const fn as_str(self) -> &'static str {
        match self {
            MailStatus::Pending => "pending",
            MailStatus::Sent => "sent",
            MailStatus::Failed => "failed",
            MailStatus::Superseded => "superseded",
        }
    }

    /// Parses [`MailStatus::as_str`]'s output.
    pub fn from_name(name: &str) -> Option<MailStatus> {
        [MailStatus::Pending, MailStatus::Sent, MailStatus::Failed, MailStatus::Superseded]
            .into_iter()
            .find(|s| s.as_str() == name)
    }
}

/// A claim on a mail by one dispatcher, until `until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// Who holds it: a random id per claim, so a late writer whose lease passed to
    /// someone else is refused.
    pub owner: String,
    /// When it lapses; after that another dispatcher may claim the mail.
    pub until: Timestamp,
}

/// One outbox mail and its journal entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailRecord {
    /// Its id; also the stable part of the Message-ID, so a re-send after a crash is
    /// recognisable.
    pub id: MailId,
    /// The account it concerns, if any.
    pub account_id: Option<AccountId>,
    /// The recipient (the stored address, never one a requester typed).
    pub to: Email,
    /// The language it is written in.
    pub locale: Locale,
    /// Which template.
    pub kind: MailKind,
    /// The rendered subject line (the journal filters on it).
    pub subject: String,
    /// What the body needs.
    pub params: MailParams,
    /// Delivery state.
    pub status: MailStatus,
    /// Delivery attempts started so far (incremented on each claim).
    pub attempts: u32,
    /// Not to be tried before this instant.
    pub next_attempt_at: Timestamp,
    /// The current claim, if any.
    pub lease: Option<Lease>,
    /// The last failure, if any (never a secret).
    pub last_error: Option<String>,
    /// When it was enqueued.
    pub created_at: Timestamp,
    /// When it was delivered.
    pub sent_at: Option<Timestamp>,
    /// When it was given up or superseded.
    pub failed_at: Option<Timestamp>,
}

impl MailRecord {
    /// The RFC 5322 Message-ID for this mail under `domain` (without angle brackets).
    pub fn message_id(&self, domain: &str) -> String {
        format!("{}@{}", self.id, domain)
    }
}
