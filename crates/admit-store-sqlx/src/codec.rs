//! Conversions between stored column values and admit's types. Errors name the column,
//! never the value.

use admit_core::{
    AccountId, AccountKind, AuditAction, AuditId, Email, FullName, Grant, Labels, Lifecycle, Locale, MailId, MailKind,
    MailStatus, Phone, RevokeReason, Role, Scope, Timestamp, TokenPurpose, TokenSelector, VerifierHash,
};
use admit_store::{Result, StoreError};

/// Which unique key a unique violation hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UniqueKey {
    /// A primary key.
    Primary,
    /// The accounts' email key.
    Email,
    /// Anything else.
    Other,
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("stored {what} is invalid"))
}

/// Bit-preserving: counters are `u64` in admit and `BIGINT` in SQL.
pub(crate) fn u64_to_i64(v: u64) -> i64 {
    i64::from_ne_bytes(v.to_ne_bytes())
}

/// The inverse of [`u64_to_i64`].
pub(crate) fn i64_to_u64(v: i64) -> u64 {
    u64::from_ne_bytes(v.to_ne_bytes())
}

pub(crate) fn opt_ts(v: Option<i64>) -> Option<Timestamp> {
    v.map(Timestamp::from_unix_micros)
}

fn bytes16(bytes: &[u8], what: &str) -> Result<[u8; 16]> {
    bytes.try_into().map_err(|_| corrupt(what))
}

pub(crate) fn account_id(bytes: &[u8]) -> Result<AccountId> {
    bytes16(bytes, "account id").map(AccountId::from_bytes)
}

pub(crate) fn mail_id(bytes: &[u8]) -> Result<MailId> {
    bytes16(bytes, "mail id").map(MailId::from_bytes)
}

pub(crate) fn audit_id(bytes: &[u8]) -> Result<AuditId> {
    bytes16(bytes, "audit id").map(AuditId::from_bytes)
}

pub(crate) fn selector(bytes: &[u8]) -> Result<TokenSelector> {
    bytes16(bytes, "token selector").map(TokenSelector::from_bytes)
}

pub(crate) fn verifier_hash(bytes: &[u8]) -> Result<VerifierHash> {
    let hash: [u8; 32] = bytes.try_into().map_err(|_| corrupt("verifier hash"))?;
    Ok(VerifierHash::from_bytes(hash))
}

pub(crate) fn email(text: &str) -> Result<Email> {
    Email::parse(text).map_err(|_| corrupt("email"))
}

pub(crate) fn full_name(text: &str) -> Result<FullName> {
    FullName::parse(text).map_err(|_| corrupt("full name"))
}

pub(crate) fn phone(text: &str) -> Result<Phone> {
    Phone::parse(text).map_err(|_| corrupt("phone"))
}

pub(crate) fn locale(text: &str) -> Result<Locale> {
    Locale::parse(text).map_err(|_| corrupt("locale"))
}

pub(crate) fn kind(text: &str) -> Result<AccountKind> {
    AccountKind::from_name(text).ok_or_else(|| corrupt("account kind"))
}

pub(crate) fn lifecycle(text: &str) -> Result<Lifecycle> {
    Lifecycle::from_name(text).ok_or_else(|| corrupt("lifecycle"))
}

pub(crate) fn labels(text: &str) -> Result<Labels> {
    serde_json::from_str(text).map_err(|_| corrupt("labels"))
}

pub(crate) fn labels_json(labels: &Labels) -> Result<String> {
    serde_json::to_string(labels).map_err(|_| corrupt("labels"))
}

pub(crate) fn grant(scope: &str, role: &str) -> Result<Grant> {
    let scope = Scope::from_key(scope).ok_or_else(|| corrupt("grant scope"))?;
    let role = Role::from_name(role).ok_or_else(|| corrupt("grant role"))?;
    Ok(Grant::new(scope, role))
}

pub(crate) fn purpose(text: &str) -> Result<TokenPurpose> {
    TokenPurpose::from_name(text).ok_or_else(|| corrupt("token purpose"))
}

pub(crate) fn revoke_reason(text: &str) -> Result<RevokeReason> {
    RevokeReason::from_name(text).ok_or_else(|| corrupt("revoke reason"))
}

pub(crate) fn mail_kind(text: &str) -> Result<MailKind> {
    MailKind::from_name(text).ok_or_else(|| corrupt("mail kind"))
}

pub(crate) fn mail_status(text: &str) -> Result<MailStatus> {
    MailStatus::from_name(text).ok_or_else(|| corrupt("mail status"))
}

pub(crate) fn audit_action(text: &str) -> Result<AuditAction> {
    AuditAction::from_name(text).ok_or_else(|| corrupt("audit action"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_round_trip_bit_for_bit() {
        for v in [0, 1, u64::MAX, 1 << 63] {
            assert_eq!(i64_to_u64(u64_to_i64(v)), v);
        }
    }

    #[test]
    fn corrupt_values_are_not_echoed() {
        let err = email("secret-value-not-an-email").unwrap_err();
        assert!(!err.to_string().contains("secret-value"));
        assert!(account_id(&[1, 2, 3]).is_err());
        assert!(grant("platform", "emperor").is_err());
    }
}
