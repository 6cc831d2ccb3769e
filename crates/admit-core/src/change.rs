//! [`ChangeSet`]: everything one workflow step writes, applied by a store atomically or
//! not at all.

use crate::{
    AccountId, AccountRecord, AuditRecord, CredentialEpoch, MailRecord, RevokeReason, Timestamp, TokenPurpose,
    TokenRecord, TokenSelector,
};

/// A write to one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountWrite {
    /// A new account (`version` 1). Fails with a conflict if the email key is taken.
    Insert(AccountRecord),
    /// Replaces the account with `record` if its stored version is still
    /// `expected_version`; `record.version` is `expected_version + 1`.
    Update {
        /// The version the decision was made on.
        expected_version: u64,
        /// The new state.
        record: AccountRecord,
    },
    /// Deletes the account (and its tokens) if its stored version is still `expected_version`.
    Delete {
        /// Which account.
        id: AccountId,
        /// The version the decision was made on.
        expected_version: u64,
    },
}

impl AccountWrite {
    /// The account written.
    pub fn account_id(&self) -> AccountId {
        match self {
            AccountWrite::Insert(record) | AccountWrite::Update { record, .. } => record.id,
            AccountWrite::Delete { id, .. } => *id,
        }
    }
}

/// Use of a one-time link, as a precondition of the whole change: it applies only if the
/// token exists, belongs to `account_id`, is unused, unrevoked, not expired at `at`, and
/// both the token and the stored account are in `credential_epoch`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenConsumption {
    /// Which token.
    pub selector: TokenSelector,
    /// Its account.
    pub account_id: AccountId,
    /// The epoch the token and the account must both be in.
    pub credential_epoch: CredentialEpoch,
    /// When it is used (also the expiry check instant).
    pub at: Timestamp,
}

/// Revokes every live token of an account, or only those of one purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRevocation {
    /// Whose tokens.
    pub account_id: AccountId,
    /// Only this purpose, or all.
    pub purpose: Option<TokenPurpose>,
    /// Why (kept on each revoked record).
    pub reason: RevokeReason,
    /// When.
    pub at: Timestamp,
}

/// Cancels every pending mail of an account that carries a secret (a link or a temporary
/// password), leased or not: each becomes [`crate::MailStatus::Superseded`] with `reason`.
/// A mail a dispatcher has claimed but not yet armed is then refused at arming and never
/// sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailCancellation {
    /// Whose mails.
    pub account_id: AccountId,
    /// Why (kept in the journal as the mail's `last_error`).
    pub reason: RevokeReason,
    /// When.
    pub at: Timestamp,
}

impl MailCancellation {
    /// The journal text for a mail cancelled for `reason`.
    pub fn journal_reason(reason: RevokeReason) -> String {
        format!("cancelled before sending: {}", reason.as_str().replace('_', " "))
    }
}

/// Everything one workflow step writes. Stores apply it in this order, atomically:
/// the token consumption (precondition), the account writes (version preconditions),
/// the revocations, the mail cancellations, the token inserts (each revoking the live token of the same account
/// and purpose as [`RevokeReason::Replaced`]), the mails, the audit entries, and finally
/// the platform-administrator check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeSet {
    /// A link used by this step, if any.
    pub consume: Option<TokenConsumption>,
    /// Account inserts, updates and deletes.
    pub accounts: Vec<AccountWrite>,
    /// Token revocations.
    pub revocations: Vec<TokenRevocation>,
    /// Pending secret-carrying mails to cancel.
    pub cancel_mails: Vec<MailCancellation>,
    /// New tokens.
    pub tokens: Vec<TokenRecord>,
    /// Mails to enqueue in the outbox.
    pub mails: Vec<MailRecord>,
    /// Audit entries to append.
    pub audit: Vec<AuditRecord>,
    /// If set, the change applies only if afterwards at least one acting platform
    /// administrator remains ([`AccountRecord::is_platform_administrator`]).
    pub require_platform_administrator: bool,
}

impl ChangeSet {
    /// An empty change.
    pub fn new() -> Self {
        ChangeSet::default()
    }

    /// Whether it writes nothing.
    pub fn is_empty(&self) -> bool {
        self.consume.is_none()
            && self.accounts.is_empty()
            && self.revocations.is_empty()
            && self.cancel_mails.is_empty()
            && self.tokens.is_empty()
            && self.mails.is_empty()
            && self.audit.is_empty()
    }

    /// Appends everything in `other` (used to batch many rows into one commit).
    pub fn merge(&mut self, other: ChangeSet) {
        if other.consume.is_some() {
            self.consume = other.consume;
        }
        self.accounts.extend(other.accounts);
        self.revocations.extend(other.revocations);
        self.cancel_mails.extend(other.cancel_mails);
        self.tokens.extend(other.tokens);
        self.mails.extend(other.mails);
        self.audit.extend(other.audit);
        self.require_platform_administrator |= other.require_platform_administrator;
    }
}
