//! The audit log: who did what, to whom, when. One entry per administrative action and per
//! credential event, written in the same atomic step as the change.

use crate::{AccountId, AuditId, Timestamp};

/// What was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub enum AuditAction {
    /// An account was created.
    AccountCreated,
    /// The first invitation was sent.
    InvitationSent,
    /// An invitation was sent again (« relance »).
    InvitationResent,
    /// An administrator sent a password-reset link.
    PasswordResetSent,
    /// Someone asked for a reset link for themselves (recorded whether or not the address exists).
    PasswordResetRequested,
    /// An invitation was accepted with a new password.
    InvitationAccepted,
    /// A reset link was used to set a new password.
    PasswordResetCompleted,
    /// An administrator set the password directly.
    PasswordSetByAdministrator,
    /// A temporary password was issued.
    TemporaryPasswordIssued,
    /// The person changed their own password (after sign-in).
    PasswordChanged,
    /// Grants changed.
    GrantsChanged,
    /// Labels or profile fields changed.
    ProfileChanged,
    /// The address changed.
    EmailChanged,
    /// The account was disabled.
    AccountDisabled,
    /// The account was enabled again.
    AccountEnabled,
    /// The account was moved to the trash.
    AccountTrashed,
    /// The account was restored from the trash.
    AccountRestored,
    /// The account was deleted for good.
    AccountPurged,
    /// A successful sign-in.
    SignedIn,
    /// An authenticated actor attempted an administrative call the policy forbids (the
    /// detail names the call and the rule); committed on its own, nothing else changed.
    CallRefused,
}

impl AuditAction {
    /// Every action.
    pub const ALL: [AuditAction; 20] = [
        AuditAction::AccountCreated,
        AuditAction::InvitationSent,
        AuditAction::InvitationResent,
        AuditAction::PasswordResetSent,
        AuditAction::PasswordResetRequested,
        AuditAction::InvitationAccepted,
        AuditAction::PasswordResetCompleted,
        AuditAction::PasswordSetByAdministrator,
        AuditAction::TemporaryPasswordIssued,
        AuditAction::PasswordChanged,
        AuditAction::GrantsChanged,
        AuditAction::ProfileChanged,
        AuditAction::EmailChanged,
        AuditAction::AccountDisabled,
        AuditAction::AccountEnabled,
        AuditAction::AccountTrashed,
        AuditAction::AccountRestored,
        AuditAction::AccountPurged,
        AuditAction::SignedIn,
        AuditAction::CallRefused,
    ];

    /// The stable snake-case name stores persist.
    pub const fn as_str(self) -> &'static str {
        match self {
            AuditAction::AccountCreated => "account_created",
            AuditAction::InvitationSent => "invitation_sent",
            AuditAction::InvitationResent => "invitation_resent",
            AuditAction::PasswordResetSent => "password_reset_sent",
            AuditAction::PasswordResetRequested => "password_reset_requested",
            AuditAction::InvitationAccepted => "invitation_accepted",
            AuditAction::PasswordResetCompleted => "password_reset_completed",
            AuditAction::PasswordSetByAdministrator => "password_set_by_administrator",
            AuditAction::TemporaryPasswordIssued => "temporary_password_issued",
            AuditAction::PasswordChanged => "password_changed",
            AuditAction::GrantsChanged => "grants_changed",
            AuditAction::ProfileChanged => "profile_changed",
            AuditAction::EmailChanged => "email_changed",
            AuditAction::AccountDisabled => "account_disabled",
            AuditAction::AccountEnabled => "account_enabled",
            AuditAction::AccountTrashed => "account_trashed",
            AuditAction::AccountRestored => "account_restored",
            AuditAction::AccountPurged => "account_purged",
            AuditAction::SignedIn => "signed_in",
            AuditAction::CallRefused => "call_refused",
        }
    }

    /// Parses [`AuditAction::as_str`]'s output.
    pub fn from_name(name: &str) -> Option<AuditAction> {
        AuditAction::ALL.into_iter().find(|a| a.as_str() == name)
    }
}

/// One audit entry. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Its id (UUIDv7).
    pub id: AuditId,
    /// When.
    pub at: Timestamp,
    /// Who acted: an administrator, or the person themselves; `None` for an anonymous
    /// requester (self-service reset) or the system.
    pub actor: Option<AccountId>,
    /// What.
    pub action: AuditAction,
    /// On which account, if any.
    pub target: Option<AccountId>,
    /// Short, secret-free details (`role=administrator scope=program:p1`, a requester key
    /// digest, …).
    pub detail: String,
}
