//! The worked example of `docs/implementing-a-store.md`: a custom store that wraps
//! `MemoryStore`, counts the calls it forwards, and passes the conformance suite.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

// Everything comes from `admit-store`, the only dependency a store needs.
use admit_store::query::{AccountFilter, AccountQuery, AuditQuery, MailQuery, Page, StatusCounts};
use admit_store::{
    AccountId, AccountRecord, AuditId, AuditRecord, ChangeSet, Duration, EmailKey, MailClaim, MailId, MailRecord,
    MemoryStore, PurgeReport, RateLimitDecision, Result, Store, Timestamp, TokenRecord, TokenSelector, async_trait,
};

/// How many calls a [`CountingStore`] forwarded, and how many of its commits were refused.
#[derive(Debug, Default)]
pub struct Counters {
    /// Calls to `commit`.
    pub commits: AtomicU64,
    /// Commits the inner store refused (stale version, conflict, token unavailable, …).
    pub refused_commits: AtomicU64,
    /// Calls to every read method.
    pub reads: AtomicU64,
    /// Calls to the outbox methods (claim and settlements).
    pub outbox: AtomicU64,
    /// Calls to `hit_rate_limit`.
    pub rate_limit_hits: AtomicU64,
}

/// A store that forwards every call to `S` and counts it.
///
/// Wrapping is the safe way to add behaviour (metrics, logging, tracing spans) to a store:
/// every guarantee of the contract comes from the inner store, unchanged.
#[derive(Debug)]
pub struct CountingStore<S> {
    inner: S,
    counters: Arc<Counters>,
}

impl<S: Store> CountingStore<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        CountingStore { inner, counters: Arc::default() }
    }

    /// The counters, shared: keep a clone to read them while the store is in use.
    pub fn counters(&self) -> Arc<Counters> {
        Arc::clone(&self.counters)
    }

    fn read(&self) {
        self.counters.reads.fetch_add(1, Ordering::Relaxed);
    }

    fn outbox(&self) {
        self.counters.outbox.fetch_add(1, Ordering::Relaxed);
    }
}

#[async_trait]
impl<S: Store> Store for CountingStore<S> {
    async fn commit(&self, change: ChangeSet) -> Result<()> {
        self.counters.commits.fetch_add(1, Ordering::Relaxed);
        let outcome = self.inner.commit(change).await;
        if outcome.is_err() {
            self.counters.refused_commits.fetch_add(1, Ordering::Relaxed);
        }
        outcome
    }

    async fn account(&self, id: AccountId) -> Result<Option<AccountRecord>> {
        self.read();
        self.inner.account(id).await
    }

    async fn account_by_email(&self, key: &EmailKey) -> Result<Option<AccountRecord>> {
        self.read();
        self.inner.account_by_email(key).await
    }

    async fn accounts_by_emails(&self, keys: &[EmailKey]) -> Result<Vec<AccountRecord>> {
        self.read();
        self.inner.accounts_by_emails(keys).await
    }

    async fn accounts_by_ids(&self, ids: &[AccountId]) -> Result<Vec<AccountRecord>> {
        self.read();
        self.inner.accounts_by_ids(ids).await
    }

    async fn list_accounts(&self, query: &AccountQuery) -> Result<Page<AccountRecord, AccountId>> {
        self.read();
        self.inner.list_accounts(query).await
    }

    async fn count_accounts(&self, filter: &AccountFilter, now: Timestamp) -> Result<StatusCounts> {
        self.read();
        self.inner.count_accounts(filter, now).await
    }

    async fn count_platform_administrators(&self) -> Result<u64> {
        self.read();
        self.inner.count_platform_administrators().await
    }

    async fn token(&self, selector: &TokenSelector) -> Result<Option<TokenRecord>> {
        self.read();
        self.inner.token(selector).await
    }

    async fn tokens_of(&self, account: AccountId) -> Result<Vec<TokenRecord>> {
        self.read();
        self.inner.tokens_of(account).await
    }

    async fn claim_mails(&self, claim: &MailClaim) -> Result<Vec<MailRecord>> {
        self.outbox();
        self.inner.claim_mails(claim).await
    }

    async fn arm_mails(
        &self,
        owner: &str,
        at: Timestamp,
        arms: &[admit_store::MailArming],
    ) -> Result<Vec<admit_store::ArmOutcome>> {
        self.outbox();
        self.inner.arm_mails(owner, at, arms).await
    }

    async fn mark_mail_sent(&self, id: MailId, owner: &str, at: Timestamp) -> Result<()> {
        self.outbox();
        self.inner.mark_mail_sent(id, owner, at).await
    }

    async fn retry_mail(&self, id: MailId, owner: &str, next_attempt_at: Timestamp, error: &str) -> Result<()> {
        self.outbox();
        self.inner.retry_mail(id, owner, next_attempt_at, error).await
    }

    async fn fail_mail(&self, id: MailId, owner: &str, at: Timestamp, error: &str) -> Result<()> {
        self.outbox();
        self.inner.fail_mail(id, owner, at, error).await
    }

    async fn release_mail(&self, id: MailId, owner: &str) -> Result<()> {
        self.outbox();
        self.inner.release_mail(id, owner).await
    }

    async fn mail(&self, id: MailId) -> Result<Option<MailRecord>> {
        self.read();
        self.inner.mail(id).await
    }

    async fn journal(&self, query: &MailQuery) -> Result<Page<MailRecord, MailId>> {
        self.read();
        self.inner.journal(query).await
    }

    async fn hit_rate_limit(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
        now: Timestamp,
    ) -> Result<RateLimitDecision> {
        self.counters.rate_limit_hits.fetch_add(1, Ordering::Relaxed);
        self.inner.hit_rate_limit(key, limit, window, now).await
    }

    async fn rate_limit_count(&self, key: &str, window: Duration, now: Timestamp) -> Result<u64> {
        self.read();
        self.inner.rate_limit_count(key, window, now).await
    }

    async fn audit(&self, query: &AuditQuery) -> Result<Page<AuditRecord, AuditId>> {
        self.read();
        self.inner.audit(query).await
    }

    async fn purge(&self, before: Timestamp) -> Result<PurgeReport> {
        self.inner.purge(before).await
    }
}

// One test per conformance case, each on a fresh CountingStore.
admit_store::conformance_tests!(async { CountingStore::new(MemoryStore::new()) });

// The counters really count: run one case and look.
#[test]
fn counting_store_counts_what_it_forwards() {
    let store = CountingStore::new(MemoryStore::new());
    let counters = store.counters();
    admit_store::conformance::run_case(
        true,
        async move { store },
        admit_store::conformance::concurrency_token_consumed_at_most_once,
    );
    // 1 account insert, then per round 1 token insert and 64 consumptions, of which 63 refused.
    assert_eq!(counters.commits.load(Ordering::Relaxed), 1 + 20 * (1 + 64));
    assert_eq!(counters.refused_commits.load(Ordering::Relaxed), 20 * 63);
    assert_eq!(counters.outbox.load(Ordering::Relaxed), 0);
}

// docs/implementing-a-store.md shows this file verbatim.
#[test]
fn the_guide_shows_this_file() {
    let guide = include_str!("../../../docs/implementing-a-store.md");
    let this = include_str!("custom_store_example.rs");
    assert!(
        guide.contains(this),
        "docs/implementing-a-store.md holds crates/admit-store/tests/custom_store_example.rs verbatim"
    );
}
