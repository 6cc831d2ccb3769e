//! Whole workflows through the facade, on MemoryStore and on SqliteStore (a file, WAL),
//! with mails captured in memory; and invite → accept on SQLite split into the time spent
//! inside the store, in Argon2, and in the rest (the workflow's own overhead).
//! See docs/benchmarks.md.
//!
//! ```text
//! cargo bench --bench workflow
//! ```

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use admit::mail::CaptureTransport;
use admit::secrecy::SecretString;
use admit::store::Store;
use admit::{Admit, CreateAccount, Dispatcher, DispatcherConfig, Grant, Invite, Role, Scope};
use admit_core::{AccountId, Argon2Params, PasswordHasher};
use admit_store::{
    AccountFilter, AccountQuery, AccountRecord, AuditId, AuditQuery, AuditRecord, ChangeSet, EmailKey, MailClaim,
    MailId, MailQuery, MailRecord, Page, PurgeReport, RateLimitDecision, Result as StoreResult, StatusCounts,
    Timestamp, TokenRecord, TokenSelector,
};
use async_trait::async_trait;
use criterion::{Criterion, criterion_group, criterion_main};

mod stores;

use stores::{Backend, runtime, token_in};

/// One deployment under test, with its dispatcher and a counter for fresh addresses.
struct Deployment {
    admit: Admit,
    admin: AccountId,
    mails: CaptureTransport,
    dispatcher: Dispatcher,
    next: AtomicU64,
    _deployment: stores::Deployment,
}

const PASSWORD: &str = "une phrase de passe assez longue";

impl Deployment {
    async fn new(sqlite: bool, params: Argon2Params) -> Deployment {
        Deployment::with_store(sqlite, params, |store| store).await
    }

    /// A deployment whose store is `wrap(the store)`.
    async fn with_store(
        sqlite: bool,
        params: Argon2Params,
        wrap: impl FnOnce(Arc<dyn Store>) -> Arc<dyn Store>,
    ) -> Deployment {
        let backend = if sqlite { Backend::Sqlite } else { Backend::Memory };
        let deployment = stores::Deployment::with_store(backend, "unused", params, wrap).await;
        let dispatcher = deployment.admit.dispatcher(DispatcherConfig::default());
        Deployment {
            admit: deployment.admit.clone(),
            admin: deployment.admin,
            mails: deployment.mails.clone(),
            dispatcher,
            next: AtomicU64::new(0),
            _deployment: deployment,
        }
    }

    fn fresh_email(&self) -> String {
        format!("person{}@example.org", self.next.fetch_add(1, Ordering::Relaxed))
    }

    /// Creates and invites an account, delivers the invitation, follows its link.
    async fn invite_accept(&self) {
        let email = self.fresh_email();
        let input = CreateAccount::member(&email, "Camille Dupont", Grant::new(Scope::Platform, Role::Guest));
        self.admit.create_account(self.admin, input, Invite::Now).await.expect("created");
        self.dispatcher.drain().await.expect("delivered");
        let mail = self.mails.take().into_iter().find(|m| m.to().address.as_str() == email).expect("an invitation");
        let token = token_in(&mail).expect("a link");
        let password = || SecretString::from(PASSWORD);
        self.admit.accept_invitation(&token, password(), password(), "203.0.113.7").await.expect("accepted");
    }
}

fn invite_accept(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("workflow_invite_accept");
    for (backend, sqlite) in [("memory", false), ("sqlite", true)] {
        for (name, params) in
            [("production", Argon2Params::default()), ("cheapest", Argon2Params::dangerous_fast_for_tests())]
        {
            let deployment = rt.block_on(Deployment::new(sqlite, params));
            group.bench_function(format!("{backend}_{name}"), |b| b.iter(|| rt.block_on(deployment.invite_accept())));
        }
    }
    group.finish();
}

/// Adds the wall-clock time of every call it forwards to `nanos`. The workflows timed
/// through it call the store one call at a time (one account, one mail), so no time is
/// counted twice.
#[derive(Debug)]
struct TimedStore {
    inner: Arc<dyn Store>,
    nanos: Arc<AtomicU64>,
}

impl TimedStore {
    async fn timed<T>(&self, call: impl Future<Output = T>) -> T {
        let started = Instant::now();
        let result = call.await;
        self.nanos.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        result
    }
}

#[async_trait]
impl Store for TimedStore {
    async fn commit(&self, change: ChangeSet) -> StoreResult<()> {
        self.timed(self.inner.commit(change)).await
    }
    async fn account(&self, id: AccountId) -> StoreResult<Option<AccountRecord>> {
        self.timed(self.inner.account(id)).await
    }
    async fn account_by_email(&self, key: &EmailKey) -> StoreResult<Option<AccountRecord>> {
        self.timed(self.inner.account_by_email(key)).await
    }
    async fn accounts_by_emails(&self, keys: &[EmailKey]) -> StoreResult<Vec<AccountRecord>> {
        self.timed(self.inner.accounts_by_emails(keys)).await
    }
    async fn accounts_by_ids(&self, ids: &[AccountId]) -> StoreResult<Vec<AccountRecord>> {
        self.timed(self.inner.accounts_by_ids(ids)).await
    }
    async fn list_accounts(&self, query: &AccountQuery) -> StoreResult<Page<AccountRecord, AccountId>> {
        self.timed(self.inner.list_accounts(query)).await
    }
    async fn count_accounts(&self, filter: &AccountFilter, now: Timestamp) -> StoreResult<StatusCounts> {
        self.timed(self.inner.count_accounts(filter, now)).await
    }
    async fn count_platform_administrators(&self) -> StoreResult<u64> {
        self.timed(self.inner.count_platform_administrators()).await
    }
    async fn token(&self, selector: &TokenSelector) -> StoreResult<Option<TokenRecord>> {
        self.timed(self.inner.token(selector)).await
    }
    async fn tokens_of(&self, account: AccountId) -> StoreResult<Vec<TokenRecord>> {
        self.timed(self.inner.tokens_of(account)).await
    }
    async fn claim_mails(&self, claim: &MailClaim) -> StoreResult<Vec<MailRecord>> {
        self.timed(self.inner.claim_mails(claim)).await
    }
    async fn arm_mails(
        &self,
        owner: &str,
        at: Timestamp,
        arms: &[admit_store::MailArming],
    ) -> StoreResult<Vec<admit_store::ArmOutcome>> {
        self.timed(self.inner.arm_mails(owner, at, arms)).await
    }
    async fn mark_mail_sent(&self, id: MailId, owner: &str, at: Timestamp) -> StoreResult<()> {
        self.timed(self.inner.mark_mail_sent(id, owner, at)).await
    }
    async fn retry_mail(&self, id: MailId, owner: &str, next: Timestamp, error: &str) -> StoreResult<()> {
        self.timed(self.inner.retry_mail(id, owner, next, error)).await
    }
    async fn fail_mail(&self, id: MailId, owner: &str, at: Timestamp, error: &str) -> StoreResult<()> {
        self.timed(self.inner.fail_mail(id, owner, at, error)).await
    }
    async fn release_mail(&self, id: MailId, owner: &str) -> StoreResult<()> {
        self.timed(self.inner.release_mail(id, owner)).await
    }
    async fn mail(&self, id: MailId) -> StoreResult<Option<MailRecord>> {
        self.timed(self.inner.mail(id)).await
    }
    async fn journal(&self, query: &MailQuery) -> StoreResult<Page<MailRecord, MailId>> {
        self.timed(self.inner.journal(query)).await
    }
    async fn hit_rate_limit(
        &self,
        key: &str,
        limit: u32,
        window: time::Duration,
        now: Timestamp,
    ) -> StoreResult<RateLimitDecision> {
        self.timed(self.inner.hit_rate_limit(key, limit, window, now)).await
    }
    async fn rate_limit_count(&self, key: &str, window: time::Duration, now: Timestamp) -> StoreResult<u64> {
        self.timed(self.inner.rate_limit_count(key, window, now)).await
    }
    async fn audit(&self, query: &AuditQuery) -> StoreResult<Page<AuditRecord, AuditId>> {
        self.timed(self.inner.audit(query)).await
    }
    async fn purge(&self, before: Timestamp) -> StoreResult<PurgeReport> {
        self.timed(self.inner.purge(before)).await
    }
}

/// Invite → accept on SQLite, split: each function times one part of the same workflow
/// (`iter_custom` returns only that part), so that the parts' medians can be compared with
/// the whole (`workflow_invite_accept/sqlite_production`) and with one Argon2id hash.
fn invite_accept_parts(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("workflow_invite_accept_parts");
    // The hash an accept computes, with the facade's own hasher settings.
    let hasher = PasswordHasher::new(Argon2Params::default());
    let password = SecretString::from(PASSWORD);
    let mut rng = rand::rng();
    group.bench_function("argon2id_hash_default", |b| b.iter(|| hasher.hash(black_box(&password), &mut rng)));
    for (name, params) in
        [("production", Argon2Params::default()), ("cheapest", Argon2Params::dangerous_fast_for_tests())]
    {
        let nanos = Arc::new(AtomicU64::new(0));
        let counter = nanos.clone();
        let deployment =
            rt.block_on(Deployment::with_store(true, params, |inner| Arc::new(TimedStore { inner, nanos: counter })));
        // Each iteration gives (whole, inside the store); each function keeps one part.
        let run = |iters: u64, part: fn(Duration, Duration) -> Duration| {
            (0..iters)
                .map(|_| {
                    nanos.store(0, Ordering::Relaxed);
                    let started = Instant::now();
                    rt.block_on(deployment.invite_accept());
                    let whole = started.elapsed();
                    part(whole, Duration::from_nanos(nanos.load(Ordering::Relaxed)))
                })
                .sum()
        };
        group.bench_function(format!("sqlite_{name}_whole"), |b| b.iter_custom(|iters| run(iters, |whole, _| whole)));
        group.bench_function(format!("sqlite_{name}_in_store"), |b| {
            b.iter_custom(|iters| run(iters, |_, in_store| in_store))
        });
        group.bench_function(format!("sqlite_{name}_outside_store"), |b| {
            b.iter_custom(|iters| run(iters, |whole, in_store| whole.saturating_sub(in_store)))
        });
    }
    group.finish();
}

fn reset_request(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("workflow_reset_request");
    for (backend, sqlite) in [("memory", false), ("sqlite", true)] {
        let deployment = rt.block_on(async {
            let deployment = Deployment::new(sqlite, Argon2Params::dangerous_fast_for_tests()).await;
            deployment.invite_accept().await; // person0 is active
            deployment
        });
        let request = |email: &'static str| {
            rt.block_on(deployment.admit.request_password_reset(email, "198.51.100.9")).expect("same answer")
        };
        group.bench_function(format!("{backend}_known"), |b| b.iter(|| request("person0@example.org")));
        group.bench_function(format!("{backend}_unknown"), |b| b.iter(|| request("nobody@example.org")));
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default().sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4))
}

criterion_group! {
    name = workflow;
    config = config();
    targets = invite_accept, invite_accept_parts, reset_request
}
criterion_main!(workflow);
