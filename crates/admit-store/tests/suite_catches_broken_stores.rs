//! The suite is not a rubber stamp: stores with classic bugs fail the cases meant to catch them.

use std::panic::{AssertUnwindSafe, catch_unwind};

use admit_store::conformance::{self, run_case};
use admit_store::query::{AccountFilter, AccountQuery, AuditQuery, MailQuery, Page, StatusCounts};
use admit_store::{
    AccountId, AccountRecord, AuditId, AuditRecord, ChangeSet, EmailKey, MailClaim, MailId, MailRecord, MemoryStore,
    PurgeReport, RateLimitDecision, Result, Store, StoreError, Timestamp, TokenRecord, TokenSelector,
};
use async_trait::async_trait;
use time::Duration;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Flaw {
    /// Checks the token, then consumes it in a second step (check-then-act).
    RacyConsume,
    /// Commits each account write on its own.
    SplitCommit,
    /// Treats a token as expired at exactly `expires_at`.
    StrictExpiry,
}

#[derive(Debug)]
struct Broken {
    inner: MemoryStore,
    flaw: Flaw,
}

#[async_trait]
impl Store for Broken {
    async fn commit(&self, mut change: ChangeSet) -> Result<()> {
        match (self.flaw, change.consume.clone()) {
            (Flaw::RacyConsume, Some(consume)) => {
                let token = self.inner.token(&consume.selector).await?;
                if !token.is_some_and(|t| t.is_live(consume.at)) {
                    return Err(StoreError::TokenUnavailable);
                }
                tokio::task::yield_now().await;
                change.consume = None;
                self.inner.commit(change).await?;
                let _ = self.inner.commit(ChangeSet { consume: Some(consume), ..ChangeSet::default() }).await;
                Ok(())
            }
            (Flaw::StrictExpiry, Some(consume)) => {
                let token = self.inner.token(&consume.selector).await?;
                if token.is_some_and(|t| consume.at >= t.expires_at) {
                    return Err(StoreError::TokenUnavailable);
                }
                self.inner.commit(change).await
            }
            (Flaw::SplitCommit, _) => {
                for write in std::mem::take(&mut change.accounts) {
                    self.inner.commit(ChangeSet { accounts: vec![write], ..ChangeSet::default() }).await?;
                }
                self.inner.commit(change).await
            }
            _ => self.inner.commit(change).await,
        }
    }
    async fn account(&self, id: AccountId) -> Result<Option<AccountRecord>> {
        self.inner.account(id).await
    }
    async fn account_by_email(&self, key: &EmailKey) -> Result<Option<AccountRecord>> {
        self.inner.account_by_email(key).await
    }
    async fn accounts_by_emails(&self, keys: &[EmailKey]) -> Result<Vec<AccountRecord>> {
        self.inner.accounts_by_emails(keys).await
    }
    async fn accounts_by_ids(&self, ids: &[AccountId]) -> Result<Vec<AccountRecord>> {
        self.inner.accounts_by_ids(ids).await
    }
    async fn list_accounts(&self, query: &AccountQuery) -> Result<Page<AccountRecord, AccountId>> {
        self.inner.list_accounts(query).await
    }
    async fn count_accounts(&self, filter: &AccountFilter, now: Timestamp) -> Result<StatusCounts> {
        self.inner.count_accounts(filter, now).await
    }
    async fn count_platform_administrators(&self) -> Result<u64> {
        self.inner.count_platform_administrators().await
    }
    async fn token(&self, selector: &TokenSelector) -> Result<Option<TokenRecord>> {
        self.inner.token(selector).await
    }
    async fn tokens_of(&self, account: AccountId) -> Result<Vec<TokenRecord>> {
        self.inner.tokens_of(account).await
    }
    async fn claim_mails(&self, claim: &MailClaim) -> Result<Vec<MailRecord>> {
        self.inner.claim_mails(claim).await
    }
    async fn arm_mails(
        &self,
        owner: &str,
        at: Timestamp,
        arms: &[admit_store::MailArming],
    ) -> Result<Vec<admit_store::ArmOutcome>> {
        self.inner.arm_mails(owner, at, arms).await
    }
    async fn mark_mail_sent(&self, id: MailId, owner: &str, at: Timestamp) -> Result<()> {
        self.inner.mark_mail_sent(id, owner, at).await
    }
    async fn retry_mail(&self, id: MailId, owner: &str, next_attempt_at: Timestamp, error: &str) -> Result<()> {
        self.inner.retry_mail(id, owner, next_attempt_at, error).await
    }
    async fn fail_mail(&self, id: MailId, owner: &str, at: Timestamp, error: &str) -> Result<()> {
        self.inner.fail_mail(id, owner, at, error).await
    }
    async fn release_mail(&self, id: MailId, owner: &str) -> Result<()> {
        self.inner.release_mail(id, owner).await
    }
    async fn mail(&self, id: MailId) -> Result<Option<MailRecord>> {
        self.inner.mail(id).await
    }
    async fn journal(&self, query: &MailQuery) -> Result<Page<MailRecord, MailId>> {
        self.inner.journal(query).await
    }
    async fn hit_rate_limit(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
        now: Timestamp,
    ) -> Result<RateLimitDecision> {
        self.inner.hit_rate_limit(key, limit, window, now).await
    }
    async fn rate_limit_count(&self, key: &str, window: Duration, now: Timestamp) -> Result<u64> {
        self.inner.rate_limit_count(key, window, now).await
    }
    async fn audit(&self, query: &AuditQuery) -> Result<Page<AuditRecord, AuditId>> {
        self.inner.audit(query).await
    }
    async fn purge(&self, before: Timestamp) -> Result<PurgeReport> {
        self.inner.purge(before).await
    }
}

/// Runs the named case on a store with `flaw` and returns its panic message, if any.
fn failure(flaw: Flaw, case: &str) -> Option<String> {
    let (_, case) = conformance::TABLE.iter().find(|(name, _)| *name == case).expect("the case exists");
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        run_case(true, async move { Broken { inner: MemoryStore::new(), flaw } }, case);
    }));
    outcome.err().map(|panic| {
        panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    })
}

#[test]
fn check_then_act_consumption_is_caught() {
    let message = failure(Flaw::RacyConsume, "concurrency_token_consumed_at_most_once").expect("the case fails");
    assert!(message.contains("contract: of 64 concurrent consumptions of one token exactly one succeeds"), "{message}");
}

#[test]
fn non_atomic_commit_is_caught() {
    let message = failure(Flaw::SplitCommit, "atomicity_stale_version_leaves_nothing").expect("the case fails");
    assert!(message.contains("contract: a commit refused for a stale version writes nothing"), "{message}");
}

#[test]
fn off_by_one_expiry_is_caught() {
    let message =
        failure(Flaw::StrictExpiry, "tokens_consume_valid_until_expires_at_inclusive").expect("the case fails");
    assert!(message.contains("contract: a token is consumable at exactly expires_at"), "{message}");
    // The same flawed store passes cases the flaw does not touch.
    assert_eq!(failure(Flaw::StrictExpiry, "outbox_retry_reschedules"), None);
}
