//! The checks of [`Store::arm_mails`](crate::Store::arm_mails), written once for every
//! store: given the records a store read (and locked) in its arming transaction, whether a
//! claimed mail's secret may still be minted, and if not, the journal's reason.

use admit_core::{AccountRecord, CredentialEpoch, RevokeReason, Timestamp, TokenPurpose, TokenRecord};

/// Why a mail is superseded instead of armed: the text the journal keeps.
pub type SupersededReason = String;

fn revoked(reason: Option<RevokeReason>) -> String {
    match reason {
        Some(RevokeReason::Replaced) => "link replaced by a newer one".to_owned(),
        Some(reason) => format!("link revoked: {}", reason.as_str().replace('_', " ")),
        None => "link revoked".to_owned(),
    }
}

fn unavailable(account: Option<&AccountRecord>) -> Option<String> {
    match account {
        None => Some("account deleted".to_owned()),
        Some(a) if a.trashed_at.is_some() => Some("account in the trash".to_owned()),
        Some(a) if a.disabled_at.is_some() => Some("account disabled".to_owned()),
        Some(_) => None,
    }
}

/// Whether the reserved token `token` (looked up by the intent's selector) may be armed at
/// `at` for `purpose`: it exists, has that purpose, is unused, unrevoked, not expired, its
/// epoch is the account's, and the account is available.
///
/// # Errors
/// The reason the mail is superseded.
pub fn check_link(
    token: Option<&TokenRecord>,
    purpose: TokenPurpose,
    account: Option<&AccountRecord>,
    at: Timestamp,
) -> Result<(), SupersededReason> {
    let Some(token) = token else { return Err("link no longer exists".to_owned()) };
    if token.purpose != purpose || account.is_some_and(|a| a.id != token.account_id) {
        return Err("link does not match the mail".to_owned());
    }
    if token.consumed_at.is_some() {
        return Err("link already used".to_owned());
    }
    if token.revoked_at.is_some() {
        return Err(revoked(token.revoked_reason));
    }
    if at > token.expires_at {
        return Err("link expired".to_owned());
    }
    if let Some(reason) = unavailable(account) {
        return Err(reason);
    }
    if account.is_some_and(|a| a.credential_epoch != token.credential_epoch) {
        return Err(revoked(Some(RevokeReason::PasswordChanged)));
    }
    Ok(())
}

/// Whether a temporary password issued in `epoch` may still be set on `account`: it is
/// available, still in `epoch`, and still flagged "must change".
///
/// # Errors
/// The reason the mail is superseded.
pub fn check_temporary_password(
    account: Option<&AccountRecord>,
    epoch: CredentialEpoch,
) -> Result<(), SupersededReason> {
    if let Some(reason) = unavailable(account) {
        return Err(reason);
    }
    match account {
        Some(a) if a.credential_epoch == epoch && a.must_change_password => Ok(()),
        _ => Err("temporary password replaced (the password changed since)".to_owned()),
    }
}

/// The journal reason of a mail whose secret and intent disagree (a caller bug).
pub const MISMATCH: &str = "secret does not match the mail's intent";
