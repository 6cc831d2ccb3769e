//! The [`Store`] trait and its error.

use std::fmt::Debug;

use async_trait::async_trait;
use time::Duration;

use crate::{
    AccountFilter, AccountId, AccountQuery, AccountRecord, AuditId, AuditQuery, AuditRecord, ChangeSet, EmailKey,
    MailId, MailQuery, MailRecord, Page, PasswordHash, StatusCounts, Timestamp, TokenRecord, TokenSelector,
    VerifierHash,
};

/// A boxed error from a storage backend.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// `Result` with [`StoreError`].
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// What already exists, in a [`StoreError::Conflict`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConflictKind {
    /// An account with the same email key (case-insensitive).
    Email,
    /// An account with the same id.
    AccountId,
    /// A token with the same selector.
    TokenSelector,
    /// A mail with the same id.
    MailId,
    /// An audit entry with the same id.
    AuditId,
}

impl std::fmt::Display for ConflictKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ConflictKind::Email => "account with this email",
            ConflictKind::AccountId => "account with this id",
            ConflictKind::TokenSelector => "token with this selector",
            ConflictKind::MailId => "mail with this id",
            ConflictKind::AuditId => "audit entry with this id",
        })
    }
}

/// Why a store refused or failed an operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// An account changed (or disappeared) since it was read: the decision must be made again.
    #[error("account version changed since it was read")]
    StaleVersion {
        /// Which account.
        account: AccountId,
    },
    /// A unique key is taken.
    #[error("{what} already exists")]
    Conflict {
        /// Which key.
        what: ConflictKind,
    },
    /// The token of a [`crate::TokenConsumption`] is missing, used, revoked, expired, or
    /// its epoch no longer matches the account's.
    #[error("token is no longer usable")]
    TokenUnavailable,
    /// The mail's lease passed to another claimer (or the mail is not claimed).
    #[error("mail lease was lost")]
    LeaseLost,
    /// The change would leave no available platform administrator.
    #[error("change would leave no platform administrator")]
    LastPlatformAdministrator,
    /// A row read back could not be decoded into a record.
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    /// The backend failed (connection, I/O, …).
    #[error("store backend failed")]
    Backend(#[source] BoxError),
}

impl StoreError {
    /// Wraps a backend error.
    pub fn backend(error: impl Into<BoxError>) -> Self {
        StoreError::Backend(error.into())
    }

    /// Whether retrying the same operation later may succeed (a backend failure), as
    /// opposed to a refusal that will repeat until the caller decides again.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Backend(_))
    }
}

/// A dispatcher's request for due mails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailClaim {
    /// A random id for this claim; only it may then mark, retry, fail or release the mails.
    pub owner: String,
    /// The current instant.
    pub now: Timestamp,
    /// How long the claim holds.
    pub lease: Duration,
    /// At most this many mails.
    pub limit: u32,
}

/// The digest of a secret the dispatcher minted for one claimed mail: what the store keeps
/// in place of the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArmedSecret {
    /// The SHA-256 of a fresh verifier for the mail's reserved token
    /// ([`admit_core::MailIntent::Link`]).
    Link(VerifierHash),
    /// The Argon2id PHC hash of a fresh temporary password
    /// ([`admit_core::MailIntent::TemporaryPassword`]).
    TemporaryPassword(PasswordHash),
}

/// One claimed mail to arm with [`Store::arm_mails`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailArming {
    /// Which mail.
    pub mail: MailId,
    /// The digest to store.
    pub secret: ArmedSecret,
}

/// What [`Store::arm_mails`] did with one mail.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ArmOutcome {
    /// The digest is stored: send the mail now.
    Armed,
    /// What the mail carried no longer holds; it is now
    /// [`MailStatus::Superseded`](crate::MailStatus::Superseded) with this reason, and must
    /// not be sent.
    Superseded(String),
    /// `owner` no longer holds the mail's lease, or the mail is no longer pending
    /// (cancelled, settled by another dispatcher): nothing was written; do not send it.
    LeaseLost,
}

/// The answer of [`Store::hit_rate_limit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitDecision {
    /// Whether this hit is within the limit.
    pub allowed: bool,
    /// Hits counted in the current window, this one included.
    pub count: u64,
    /// When the current window ends.
    pub resets_at: Timestamp,
}

/// What [`Store::purge`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// Token records removed.
    pub tokens: u64,
    /// Rate-limit windows removed.
    pub rate_limits: u64,
}

/// The start of the fixed window of length `window` containing `now` (windows are
/// aligned on the Unix epoch).
pub fn window_start(now: Timestamp, window: Duration) -> Timestamp {
    let len = i64::try_from(window.whole_microseconds()).unwrap_or(i64::MAX).max(1);
    Timestamp::from_unix_micros(now.as_unix_micros() - now.as_unix_micros().rem_euclid(len))
}

/// Persistent state of admit: accounts, one-time link tokens, the outbox (which is also the
/// mail journal), rate-limit counters and the audit log.
///
/// Implementations must pass the conformance suite (`admit_store::conformance`, feature
/// `conformance`). A store never decides anything: the rules live in `admit-core`, and the
/// store applies [`ChangeSet`]s atomically with the preconditions they carry. Time always
/// comes in as an argument.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait Store: Debug + Send + Sync + 'static {
    /// Applies every part of `change` atomically, or none of it.
    ///
    /// # Contract
    /// In one transaction, in this order: the token consumption precondition (the token
    /// exists for that account, is armed (`verifier_hash` set: a reserved token is never
    /// consumed), unused, unrevoked, `at <= expires_at`, and the token's and the stored
    /// account's credential epochs both equal the one given; it is marked consumed at
    /// `at`); account writes (an insert whose email key or id is taken, or an update or
    /// delete whose stored version differs from `expected_version`, fails the whole
    /// change); revocations (every live token of the account, of the purpose if given, gets
    /// `revoked_at` and the reason); mail cancellations (every pending mail of the account
    /// that has an intent, leased or not, becomes `Superseded` at `at` with
    /// [`admit_core::MailCancellation::journal_reason`] as `last_error`, lease cleared);
    /// token inserts (each first revokes the
    /// live tokens of the same account and purpose with [`crate::RevokeReason::Replaced`]
    /// at the new token's `created_at`); mail enqueues (`params.secret` is never stored;
    /// the intent is); audit appends; then, if
    /// `require_platform_administrator` is set, at least one acting platform administrator
    /// must remain: an account that is available (neither disabled nor trashed), active
    /// (lifecycle `Active`) and holds the platform administrator grant
    /// ([`AccountRecord::is_platform_administrator`]). Under any concurrency, two changes
    /// consuming the same token never both succeed, and two inserts of the same email key
    /// never both succeed.
    ///
    /// # Errors
    /// [`StoreError::TokenUnavailable`], [`StoreError::StaleVersion`],
    /// [`StoreError::Conflict`], [`StoreError::LastPlatformAdministrator`] (and nothing is
    /// written), or [`StoreError::Backend`].
    async fn commit(&self, change: ChangeSet) -> Result<()>;

    /// The account with this id.
    ///
    /// # Errors
    /// [`StoreError::Backend`] or [`StoreError::Corrupt`].
    async fn account(&self, id: AccountId) -> Result<Option<AccountRecord>>;

    /// The account whose email key is `key` (case-insensitive identity).
    ///
    /// # Errors
    /// [`StoreError::Backend`] or [`StoreError::Corrupt`].
    async fn account_by_email(&self, key: &EmailKey) -> Result<Option<AccountRecord>>;

    /// The accounts among `keys`, in any order (missing ones are left out). Lets a batch of
    /// thousands of rows be checked in one round trip.
    ///
    /// # Errors
    /// [`StoreError::Backend`] or [`StoreError::Corrupt`].
    async fn accounts_by_emails(&self, keys: &[EmailKey]) -> Result<Vec<AccountRecord>>;

    /// The accounts with these ids, in any order (missing ones are left out).
    ///
    /// # Errors
    /// [`StoreError::Backend`] or [`StoreError::Corrupt`].
    async fn accounts_by_ids(&self, ids: &[AccountId]) -> Result<Vec<AccountRecord>>;

    /// One page of accounts matching `query`, ascending by id.
    ///
    /// # Contract
    /// `next` is the last returned id when more rows may follow (a page of `limit` rows),
    /// `None` otherwise. Statuses are computed at `query.now` exactly as
    /// [`AccountRecord::status`] does.
    ///
    /// # Errors
    /// [`StoreError::Backend`] or [`StoreError::Corrupt`].
    async fn list_accounts(&self, query: &AccountQuery) -> Result<Page<AccountRecord, AccountId>>;

    /// How many accounts matching `filter` are in each status at `now`.
    ///
    /// # Errors
    /// [`StoreError::Backend`].
    async fn count_accounts(&self, filter: &AccountFilter, now: Timestamp) -> Result<StatusCounts>;

    /// The number of acting platform administrators: available, active accounts holding the
    /// platform administrator grant ([`AccountRecord::is_platform_administrator`]).
    ///
    /// # Errors
    /// [`StoreError::Backend`].
    async fn count_platform_administrators(&self) -> Result<u64>;

    /// The token record with this selector, whatever its state.
    ///
    /// # Errors
    /// [`StoreError::Backend`] or [`StoreError::Corrupt`].
    async fn token(&self, selector: &TokenSelector) -> Result<Option<TokenRecord>>;

    /// Every token record of an account, whatever its state, oldest first.
    ///
    /// # Errors
    /// [`StoreError::Backend`] or [`StoreError::Corrupt`].
    async fn tokens_of(&self, account: AccountId) -> Result<Vec<TokenRecord>>;

    /// Claims up to `claim.limit` due mails, oldest first.
    ///
    /// # Contract
    /// A mail is due if it is pending, `next_attempt_at <= now`, and it has no lease or its
    /// lease ended (`until < now`). Each claimed mail gets the lease
    /// (`owner`, `now + lease`) and `attempts + 1`, atomically: while a lease holds, no
    /// other claimer receives the mail. Returned records carry their intents (never a
    /// secret: none is stored); the dispatcher then mints the secrets and arms them with
    /// [`Store::arm_mails`].
    ///
    /// # Errors
    /// [`StoreError::Backend`] or [`StoreError::Corrupt`].
    async fn claim_mails(&self, claim: &MailClaim) -> Result<Vec<MailRecord>>;

    /// Stores the digests of the secrets the dispatcher just minted for claimed mails, or
    /// supersedes the mails whose secret must no longer exist.
    ///
    /// # Contract
    /// In **one** transaction, for each arming in order:
    /// - the mail must be pending and leased by `owner`; otherwise its outcome is
    ///   [`ArmOutcome::LeaseLost`] and nothing is written for it;
    /// - for a mail whose intent is [`MailIntent::Link`](crate::MailIntent::Link) and a
    ///   secret [`ArmedSecret::Link`]: the reserved token must exist, have that purpose, be
    ///   unused, unrevoked and `at <= expires_at`, its epoch must equal the stored
    ///   account's, and the account must be available
    ///   ([`crate::arming::check_link`]); then the token's `verifier_hash` is set (replacing
    ///   any earlier one: re-arming after a crash kills the link minted before);
    /// - for [`MailIntent::TemporaryPassword`](crate::MailIntent::TemporaryPassword) and
    ///   [`ArmedSecret::TemporaryPassword`]: the account must be available, in the intent's
    ///   credential epoch, with `must_change_password` set
    ///   ([`crate::arming::check_temporary_password`]); then its `password_hash` is set and
    ///   its `version` incremented (`updated_at` untouched);
    /// - otherwise (the check failed, the mail has no intent, or the secret's kind differs
    ///   from the intent's) the mail becomes `Superseded` at `at` (`failed_at = at`,
    ///   `last_error` = the reason, lease cleared) and its outcome says why.
    ///
    /// Each check sees the state committed before the transaction, and no concurrent
    /// [`Store::commit`] can interleave with it (row locks or a write lock): a change that
    /// revokes the token, moves the epoch or cancels the mail either commits before (and
    /// the mail is superseded or its lease is lost) or after (and then revokes what was
    /// armed). One outcome per arming, in order.
    ///
    /// # Errors
    /// [`StoreError::Backend`] or [`StoreError::Corrupt`]; nothing is written.
    async fn arm_mails(&self, owner: &str, at: Timestamp, arms: &[MailArming]) -> Result<Vec<ArmOutcome>>;

    /// Marks a claimed mail sent at `at` and clears its lease.
    ///
    /// # Errors
    /// [`StoreError::LeaseLost`] if `owner` no longer holds the mail's lease (another
    /// claimer took it, or it is not pending).
    async fn mark_mail_sent(&self, id: MailId, owner: &str, at: Timestamp) -> Result<()>;

    /// Gives a claimed mail back for another attempt at `next_attempt_at`, recording `error`.
    ///
    /// # Errors
    /// [`StoreError::LeaseLost`] as for [`Store::mark_mail_sent`].
    async fn retry_mail(&self, id: MailId, owner: &str, next_attempt_at: Timestamp, error: &str) -> Result<()>;

    /// Gives a claimed mail up at `at` with `error`.
    ///
    /// # Errors
    /// [`StoreError::LeaseLost`] as for [`Store::mark_mail_sent`].
    async fn fail_mail(&self, id: MailId, owner: &str, at: Timestamp, error: &str) -> Result<()>;

    /// Releases a claimed mail untouched (graceful shutdown): clears its lease and takes back
    /// the attempt the claim counted.
    ///
    /// # Errors
    /// [`StoreError::LeaseLost`] as for [`Store::mark_mail_sent`].
    async fn release_mail(&self, id: MailId, owner: &str) -> Result<()>;

    /// One mail (its intent, never a secret).
    ///
    /// # Errors
    /// [`StoreError::Backend`] or [`StoreError::Corrupt`].
    async fn mail(&self, id: MailId) -> Result<Option<MailRecord>>;

    /// One page of the mail journal, newest first.
    ///
    /// # Contract
    /// Returned records never carry a secret (`params.secret` is `None`): no store keeps
    /// one. `next` is the last returned id when more may follow.
    ///
    /// # Errors
    /// [`StoreError::Backend`] or [`StoreError::Corrupt`].
    async fn journal(&self, query: &MailQuery) -> Result<Page<MailRecord, MailId>>;

    /// Counts a hit on `key` in the fixed window of length `window` containing `now`
    /// ([`window_start`]), and says whether it is within `limit`.
    ///
    /// # Contract
    /// Atomic: under any concurrency, across every process sharing the store, exactly
    /// `limit` hits per key and window are allowed. Refused hits are counted too.
    ///
    /// # Errors
    /// [`StoreError::Backend`].
    async fn hit_rate_limit(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
        now: Timestamp,
    ) -> Result<RateLimitDecision>;

    /// The hits counted so far on `key` in the fixed window of length `window` containing
    /// `now`, without counting one (0 if none). Lets a caller refuse early once a limit on
    /// failures is reached, while only failures are counted with [`Store::hit_rate_limit`].
    ///
    /// # Errors
    /// [`StoreError::Backend`].
    async fn rate_limit_count(&self, key: &str, window: Duration, now: Timestamp) -> Result<u64>;

    /// One page of the audit log, newest first.
    ///
    /// # Errors
    /// [`StoreError::Backend`] or [`StoreError::Corrupt`].
    async fn audit(&self, query: &AuditQuery) -> Result<Page<AuditRecord, AuditId>>;

    /// Retention: removes token records whose `expires_at` is before `before` (used,
    /// revoked or not), and rate-limit windows that ended before `before`.
    ///
    /// # Errors
    /// [`StoreError::Backend`].
    async fn purge(&self, before: Timestamp) -> Result<PurgeReport>;
}

#[async_trait]
impl<S: Store + ?Sized> Store for std::sync::Arc<S> {
    async fn commit(&self, change: ChangeSet) -> Result<()> {
        (**self).commit(change).await
    }

    async fn account(&self, id: AccountId) -> Result<Option<AccountRecord>> {
        (**self).account(id).await
    }

    async fn account_by_email(&self, key: &EmailKey) -> Result<Option<AccountRecord>> {
        (**self).account_by_email(key).await
    }

    async fn accounts_by_emails(&self, keys: &[EmailKey]) -> Result<Vec<AccountRecord>> {
        (**self).accounts_by_emails(keys).await
    }

    async fn accounts_by_ids(&self, ids: &[AccountId]) -> Result<Vec<AccountRecord>> {
        (**self).accounts_by_ids(ids).await
    }

    async fn list_accounts(&self, query: &AccountQuery) -> Result<Page<AccountRecord, AccountId>> {
        (**self).list_accounts(query).await
    }

    async fn count_accounts(&self, filter: &AccountFilter, now: Timestamp) -> Result<StatusCounts> {
        (**self).count_accounts(filter, now).await
    }

    async fn count_platform_administrators(&self) -> Result<u64> {
        (**self).count_platform_administrators().await
    }

    async fn token(&self, selector: &TokenSelector) -> Result<Option<TokenRecord>> {
        (**self).token(selector).await
    }

    async fn tokens_of(&self, account: AccountId) -> Result<Vec<TokenRecord>> {
        (**self).tokens_of(account).await
    }

    async fn claim_mails(&self, claim: &MailClaim) -> Result<Vec<MailRecord>> {
        (**self).claim_mails(claim).await
    }

    async fn arm_mails(&self, owner: &str, at: Timestamp, arms: &[MailArming]) -> Result<Vec<ArmOutcome>> {
        (**self).arm_mails(owner, at, arms).await
    }

    async fn mark_mail_sent(&self, id: MailId, owner: &str, at: Timestamp) -> Result<()> {
        (**self).mark_mail_sent(id, owner, at).await
    }

    async fn retry_mail(&self, id: MailId, owner: &str, next_attempt_at: Timestamp, error: &str) -> Result<()> {
        (**self).retry_mail(id, owner, next_attempt_at, error).await
    }

    async fn fail_mail(&self, id: MailId, owner: &str, at: Timestamp, error: &str) -> Result<()> {
        (**self).fail_mail(id, owner, at, error).await
    }

    async fn release_mail(&self, id: MailId, owner: &str) -> Result<()> {
        (**self).release_mail(id, owner).await
    }

    async fn mail(&self, id: MailId) -> Result<Option<MailRecord>> {
        (**self).mail(id).await
    }

    async fn journal(&self, query: &MailQuery) -> Result<Page<MailRecord, MailId>> {
        (**self).journal(query).await
    }

    async fn hit_rate_limit(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
        now: Timestamp,
    ) -> Result<RateLimitDecision> {
        (**self).hit_rate_limit(key, limit, window, now).await
    }

    async fn rate_limit_count(&self, key: &str, window: Duration, now: Timestamp) -> Result<u64> {
        (**self).rate_limit_count(key, window, now).await
    }

    async fn audit(&self, query: &AuditQuery) -> Result<Page<AuditRecord, AuditId>> {
        (**self).audit(query).await
    }

    async fn purge(&self, before: Timestamp) -> Result<PurgeReport> {
        (**self).purge(before).await
    }
}
