//! A `Store` wrapper that counts every trait call and fails the Nth one with
//! `StoreError::Backend`, for fault-injection tests.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use admit::store::{
    AccountFilter, AccountQuery, AuditQuery, MailClaim, MailQuery, Page, PurgeReport, RateLimitDecision, Result,
    StatusCounts, Store, StoreError,
};
use admit_core::{
    AccountId, AccountRecord, AuditId, AuditRecord, ChangeSet, EmailKey, MailId, MailRecord, Timestamp, TokenRecord,
    TokenSelector,
};
use async_trait::async_trait;
use time::Duration;

/// Forwards to `inner`; call number `fail_at` (1-based, counted since the last `arm`)
/// fails with a backend error. `fail_at == 0` never fails.
#[derive(Debug)]
pub struct FaultyStore {
    inner: Arc<dyn Store>,
    calls: AtomicU64,
    fail_at: AtomicU64,
    injected: AtomicU64,
    down: std::sync::atomic::AtomicBool,
    log: std::sync::Mutex<Vec<&'static str>>,
    before_commit: std::sync::Mutex<Option<CommitHook>>,
}

/// Work run once, right before the next commit goes through (to lose a race on purpose).
pub struct CommitHook(Box<dyn FnOnce() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> + Send>);

impl std::fmt::Debug for CommitHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CommitHook")
    }
}

#[derive(Debug, thiserror::Error)]
#[error("injected fault")]
pub struct Injected;

impl FaultyStore {
    pub fn new(inner: Arc<dyn Store>) -> Arc<FaultyStore> {
        Arc::new(FaultyStore {
            inner,
            calls: AtomicU64::new(0),
            fail_at: AtomicU64::new(0),
            injected: AtomicU64::new(0),
            down: std::sync::atomic::AtomicBool::new(false),
            log: std::sync::Mutex::new(Vec::new()),
            before_commit: std::sync::Mutex::new(None),
        })
    }

    /// Runs `hook` to completion right before the next commit is forwarded (the hook's own
    /// commits go straight through): the caller's commit then meets the state the hook left.
    pub fn before_next_commit<F, Fut>(&self, hook: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        *self.before_commit.lock().unwrap() = Some(CommitHook(Box::new(move || Box::pin(hook()))));
    }

    /// Resets the call count and fails call `n` from now on (0: never).
    pub fn arm(&self, n: u64) {
        self.calls.store(0, Ordering::SeqCst);
        self.fail_at.store(n, Ordering::SeqCst);
        self.log.lock().unwrap().clear();
    }

    /// Stops failing; returns the number of calls since `arm`.
    pub fn disarm(&self) -> u64 {
        self.fail_at.store(0, Ordering::SeqCst);
        self.calls.load(Ordering::SeqCst)
    }

    /// Faults injected so far (ever).
    pub fn injected(&self) -> u64 {
        self.injected.load(Ordering::SeqCst)
    }

    /// The names of the calls since `arm`, in order.
    pub fn log(&self) -> Vec<&'static str> {
        self.log.lock().unwrap().clone()
    }

    /// While down, every call fails (an outage).
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    fn tick(&self, name: &'static str) -> Result<()> {
        if self.down.load(Ordering::SeqCst) {
            self.injected.fetch_add(1, Ordering::SeqCst);
            return Err(StoreError::backend(Injected));
        }
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        self.log.lock().unwrap().push(name);
        if n == self.fail_at.load(Ordering::SeqCst) {
            self.injected.fetch_add(1, Ordering::SeqCst);
            return Err(StoreError::backend(Injected));
        }
        Ok(())
    }
}

#[async_trait]
impl Store for FaultyStore {
    async fn commit(&self, change: ChangeSet) -> Result<()> {
        let hook = self.before_commit.lock().unwrap().take();
        if let Some(CommitHook(hook)) = hook {
            hook().await;
        }
        self.tick("commit")?;
        self.inner.commit(change).await
    }
    async fn account(&self, id: AccountId) -> Result<Option<AccountRecord>> {
        self.tick("account")?;
        self.inner.account(id).await
    }
    async fn account_by_email(&self, key: &EmailKey) -> Result<Option<AccountRecord>> {
        self.tick("account_by_email")?;
        self.inner.account_by_email(key).await
    }
    async fn accounts_by_emails(&self, keys: &[EmailKey]) -> Result<Vec<AccountRecord>> {
        self.tick("accounts_by_emails")?;
        self.inner.accounts_by_emails(keys).await
    }
    async fn accounts_by_ids(&self, ids: &[AccountId]) -> Result<Vec<AccountRecord>> {
        self.tick("accounts_by_ids")?;
        self.inner.accounts_by_ids(ids).await
    }
    async fn list_accounts(&self, query: &AccountQuery) -> Result<Page<AccountRecord, AccountId>> {
        self.tick("list_accounts")?;
        self.inner.list_accounts(query).await
    }
    async fn count_accounts(&self, filter: &AccountFilter, now: Timestamp) -> Result<StatusCounts> {
        self.tick("count_accounts")?;
        self.inner.count_accounts(filter, now).await
    }
    async fn count_platform_administrators(&self) -> Result<u64> {
        self.tick("count_platform_administrators")?;
        self.inner.count_platform_administrators().await
    }
    async fn token(&self, selector: &TokenSelector) -> Result<Option<TokenRecord>> {
        self.tick("token")?;
        self.inner.token(selector).await
    }
    async fn tokens_of(&self, account: AccountId) -> Result<Vec<TokenRecord>> {
        self.tick("tokens_of")?;
        self.inner.tokens_of(account).await
    }
    async fn claim_mails(&self, claim: &MailClaim) -> Result<Vec<MailRecord>> {
        self.tick("claim_mails")?;
        self.inner.claim_mails(claim).await
    }
    async fn arm_mails(
        &self,
        owner: &str,
        at: Timestamp,
        arms: &[admit::store::MailArming],
    ) -> Result<Vec<admit::store::ArmOutcome>> {
        self.tick("arm_mails")?;
        self.inner.arm_mails(owner, at, arms).await
    }
    async fn mark_mail_sent(&self, id: MailId, owner: &str, at: Timestamp) -> Result<()> {
        self.tick("mark_mail_sent")?;
        self.inner.mark_mail_sent(id, owner, at).await
    }
    async fn retry_mail(&self, id: MailId, owner: &str, next_attempt_at: Timestamp, error: &str) -> Result<()> {
        self.tick("retry_mail")?;
        self.inner.retry_mail(id, owner, next_attempt_at, error).await
    }
    async fn fail_mail(&self, id: MailId, owner: &str, at: Timestamp, error: &str) -> Result<()> {
        self.tick("fail_mail")?;
        self.inner.fail_mail(id, owner, at, error).await
    }
    async fn release_mail(&self, id: MailId, owner: &str) -> Result<()> {
        self.tick("release_mail")?;
        self.inner.release_mail(id, owner).await
    }
    async fn mail(&self, id: MailId) -> Result<Option<MailRecord>> {
        self.tick("mail")?;
        self.inner.mail(id).await
    }
    async fn journal(&self, query: &MailQuery) -> Result<Page<MailRecord, MailId>> {
        self.tick("journal")?;
        self.inner.journal(query).await
    }
    async fn hit_rate_limit(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
        now: Timestamp,
    ) -> Result<RateLimitDecision> {
        self.tick("hit_rate_limit")?;
        self.inner.hit_rate_limit(key, limit, window, now).await
    }
    async fn rate_limit_count(&self, key: &str, window: Duration, now: Timestamp) -> Result<u64> {
        self.tick("rate_limit_count")?;
        self.inner.rate_limit_count(key, window, now).await
    }
    async fn audit(&self, query: &AuditQuery) -> Result<Page<AuditRecord, AuditId>> {
        self.tick("audit")?;
        self.inner.audit(query).await
    }
    async fn purge(&self, before: Timestamp) -> Result<PurgeReport> {
        self.tick("purge")?;
        self.inner.purge(before).await
    }
}
