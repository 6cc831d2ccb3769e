//! [`AdmitError`]: every way a workflow call can refuse or fail.

use admit_core::authz::Forbidden;
use admit_core::decide::DecisionError;
use admit_core::password::{PasswordError, PasswordRefusal};
use admit_core::{AccountId, EmailError, FieldError, LinkError, Timestamp, TransitionError};
use admit_store::StoreError;

/// `Result` with [`AdmitError`].
pub type Result<T, E = AdmitError> = std::result::Result<T, E>;

/// Why a workflow call refused or failed. Nothing was written when it returns an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdmitError {
    /// The actor may not do this (the policy's reason inside).
    #[error(transparent)]
    Forbidden(#[from] Forbidden),
    /// The acting account does not exist.
    #[error("acting account is unknown")]
    UnknownActor,
    /// No account has this id.
    #[error("account {0} not found")]
    NotFound(AccountId),
    /// The account's status does not allow it.
    #[error(transparent)]
    Status(#[from] TransitionError),
    /// An administrator's reset for an account never invited: invite it instead.
    #[error("account was never invited: send an invitation instead")]
    NotInvitedYet,
    /// The account has no email address.
    #[error("account has no email address")]
    NoEmail,
    /// The account is disabled or in the trash.
    #[error("account is disabled or in the trash")]
    AccountUnavailable,
    /// Another account already uses this address (any status, any case).
    #[error("another account already uses this email address")]
    EmailTaken,
    /// The account is not in the trash, or (for the retention job) not long enough.
    #[error("account is not purgeable")]
    NotPurgeable,
    /// The address is malformed or refused (department address…).
    #[error(transparent)]
    InvalidEmail(#[from] EmailError),
    /// A field (name, phone, locale, label, grants) is invalid.
    #[error(transparent)]
    InvalidField(#[from] FieldError),
    /// Several fields of an account form are invalid: every one of them, so a form marks
    /// them all in one round trip ([`AdmitError::field_problems`] reads all three variants).
    #[error(transparent)]
    InvalidFields(#[from] crate::FieldProblems),
    /// The new password is refused (every rule it breaks, at once: too short, mismatched
    /// confirmation, common, built from the account's name…), or the current password given
    /// to change it is wrong ([`PasswordError::Incorrect`]).
    #[error(transparent)]
    Password(#[from] PasswordRefusal),
    /// The link is invalid or expired (one message for every reason; see
    /// [`LinkError::reason`] for logs).
    #[error(transparent)]
    InvalidLink(#[from] LinkError),
    /// Too many requests; nothing was done.
    #[error("too many requests, try again later")]
    RateLimited {
        /// When the current window ends.
        retry_at: Timestamp,
    },
    /// Administrators may not choose passwords on this deployment (ASVS level 3).
    #[error("setting a password directly is turned off")]
    SetPasswordDisabled,
    /// The input is larger than admit accepts (rows in a batch, …).
    #[error("input is too large")]
    TooLarge,
    /// The account changed while the call ran; nothing was written: call again.
    #[error("account changed concurrently, try again")]
    Concurrent,
    /// The settings are invalid (for example a link base that is not https, or http on
    /// localhost).
    #[error("invalid configuration: {0}")]
    Config(#[from] crate::ConfigError),
    /// A file or directory admit was asked to create or open could not be (the embedded
    /// default's directory or database).
    #[error("{what} {path:?} cannot be created or opened")]
    Io {
        /// What it is.
        what: &'static str,
        /// Where.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: admit_store::BoxError,
    },
    /// The store failed.
    #[error("store failed")]
    Store(#[source] StoreError),
    /// Hashing a password failed (the blocking pool is gone).
    #[error("password hashing failed")]
    Hashing,
}

impl From<StoreError> for AdmitError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::StaleVersion { .. } | StoreError::TokenUnavailable => AdmitError::Concurrent,
            StoreError::Conflict { what: admit_store::ConflictKind::Email } => AdmitError::EmailTaken,
            StoreError::LastPlatformAdministrator => {
                AdmitError::Forbidden(Forbidden::from(admit_core::authz::ForbiddenReason::LastPlatformAdministrator))
            }
            other => AdmitError::Store(other),
        }
    }
}

impl From<DecisionError> for AdmitError {
    fn from(error: DecisionError) -> Self {
        match error {
            DecisionError::Forbidden(f) => AdmitError::Forbidden(f),
            DecisionError::Status(s) => AdmitError::Status(s),
            DecisionError::NotInvitedYet => AdmitError::NotInvitedYet,
            DecisionError::NoEmail => AdmitError::NoEmail,
            DecisionError::AccountUnavailable => AdmitError::AccountUnavailable,
            DecisionError::EmailTaken => AdmitError::EmailTaken,
            DecisionError::NotPurgeable => AdmitError::NotPurgeable,
            other => AdmitError::Store(StoreError::Corrupt(other.to_string())),
        }
    }
}

impl From<PasswordError> for AdmitError {
    fn from(reason: PasswordError) -> Self {
        AdmitError::Password(PasswordRefusal::new(reason))
    }
}

impl AdmitError {
    /// Every invalid field this error reports, with the field it concerns (empty for
    /// errors that are not about a form's fields): one for [`AdmitError::InvalidEmail`] and
    /// [`AdmitError::InvalidField`], all of them for [`AdmitError::InvalidFields`].
    pub fn field_problems(&self) -> Vec<crate::FieldProblem> {
        match self {
            AdmitError::InvalidEmail(e) => crate::BatchRowOutcome::InvalidEmail(e.clone()).field_problems(),
            AdmitError::InvalidField(e) => crate::BatchRowOutcome::InvalidField(e.clone()).field_problems(),
            AdmitError::InvalidFields(all) => all.0.clone(),
            _ => Vec::new(),
        }
    }
}
