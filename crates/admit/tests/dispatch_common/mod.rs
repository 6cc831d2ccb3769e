//! Shared set-up for the dispatcher tests: stores, a fault-injecting transport, bulk
//! enqueueing straight through the store, and the end-of-run figures.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration as StdDuration;

use admit::mail::{Message, Transport, TransportError};
use admit::store::conformance::fixtures::Fixtures;
use admit::store::{MailQuery, Store};
use admit::{Admit, DispatcherConfig, TestClock};
use admit_core::mail::{MailParams, MailStatus};
use admit_core::{
    AccountRecord, ChangeSet, Clock, Locale, MailIntent, MailKind, MailRecord, Timestamp, TokenPurpose, TokenRecord,
};
use time::Duration;
use tokio::sync::Notify;

/// Every mailed secret (a link's token) starts with this, so a leak is easy to find.
pub const SECRET_MARK: &str = "adm_";
/// The Message-ID domain (the sender's).
pub const DOMAIN: &str = "example.org";
/// Mails per enqueue commit.
pub const CHUNK: usize = 500;

/// The configuration of the fault-injection runs.
pub fn fault_config() -> DispatcherConfig {
    DispatcherConfig {
        batch_size: 200,
        concurrency: 8,
        lease: Duration::minutes(5),
        max_attempts: 6,
        backoff_base: Duration::seconds(1),
        backoff_max: Duration::seconds(30),
        idle_poll: StdDuration::from_millis(10),
        message_id_domain: None,
    }
}

/// An `Admit` over `store` and `transport`, on `clock`.
pub fn admit_over(store: Arc<dyn Store>, transport: impl Transport, clock: &TestClock) -> Admit {
    Admit::builder()
        .shared_store(store)
        .transport(transport)
        .clock(clock.clone())
        .link_base("https://app.example.org")
        .sender("Plateforme", "no-reply@example.org")
        .build()
        .unwrap()
}

/// The recipient of mail number `i`: every 50th bounces (`bounce-…`), the others exist.
pub fn recipient(i: usize) -> String {
    if i % 50 == 7 { format!("bounce-{i:05}@example.net") } else { format!("user-{i:05}@example.net") }
}

/// Enqueues `count` password-reset mails due now, `CHUNK` per commit, each to its own
/// account (address `to(i)`) with its own reserved token. Returns the mails (intents only:
/// the dispatcher mints each link when it sends it).
pub async fn enqueue(
    store: &dyn Store,
    clock: &TestClock,
    count: usize,
    seed: u64,
    to: impl Fn(usize) -> String,
) -> Vec<MailRecord> {
    let mut fx = Fixtures::new(seed);
    let parts: Vec<(AccountRecord, TokenRecord, MailRecord)> =
        (0..count).map(|i| mail_parts(&mut fx, clock.now(), i, &to(i))).collect();
    for chunk in parts.chunks(CHUNK) {
        store
            .commit(ChangeSet {
                accounts: chunk.iter().map(|(a, _, _)| admit_core::AccountWrite::Insert(a.clone())).collect(),
                tokens: chunk.iter().map(|(_, t, _)| t.clone()).collect(),
                mails: chunk.iter().map(|(_, _, m)| m.clone()).collect(),
                ..ChangeSet::default()
            })
            .await
            .unwrap();
    }
    parts.into_iter().map(|(_, _, m)| m).collect()
}

/// Mail number `i` to `to` with what it needs in the store: its account and its reserved
/// reset token (valid 30 days from `now`).
pub fn mail_parts(fx: &mut Fixtures, now: Timestamp, i: usize, to: &str) -> (AccountRecord, TokenRecord, MailRecord) {
    let account = fx.account(to, now);
    let token = fx.reserved_token(&account, TokenPurpose::PasswordReset, now, Duration::days(30));
    let mut mail = mail_record(fx, now, i, to);
    mail.account_id = Some(account.id);
    mail.params.intent = Some(MailIntent::Link { selector: token.selector, purpose: TokenPurpose::PasswordReset });
    (account, token, mail)
}

/// A pending password-reset mail number `i` to `to`, enqueued and due at `now`, without
/// account or intent ([`mail_parts`] gives it both).
pub fn mail_record(fx: &mut Fixtures, now: Timestamp, i: usize, to: &str) -> MailRecord {
    let id = fx.mail_id(now);
    MailRecord {
        id,
        account_id: None,
        to: admit_core::Email::parse(to).unwrap(),
        locale: Locale::fr(),
        kind: MailKind::PasswordReset,
        subject: "Réinitialisation de votre mot de passe".to_owned(),
        params: MailParams {
            recipient_name: format!("Personne Numéro{i}"),
            intent: None,
            secret: None,
            expires_at: Some(now + Duration::days(1)),
            new_email: None,
        },
        status: MailStatus::Pending,
        attempts: 0,
        next_attempt_at: now,
        lease: None,
        last_error: None,
        created_at: now,
        sent_at: None,
        failed_at: None,
    }
}

/// Every mail of the journal (secrets scrubbed), by id.
pub async fn all_mails(store: &dyn Store) -> BTreeMap<admit_core::MailId, MailRecord> {
    let mut out = BTreeMap::new();
    let mut query = MailQuery { limit: 1000, ..MailQuery::default() };
    loop {
        let page = store.journal(&query).await.unwrap();
        out.extend(page.items.into_iter().map(|m| (m.id, m)));
        match page.next {
            Some(next) => query.after = Some(next),
            None => return out,
        }
    }
}

/// How many mails are still pending.
pub async fn pending(store: &dyn Store) -> usize {
    let mut count = 0;
    let mut query = MailQuery { limit: 1000, status: Some(MailStatus::Pending), ..MailQuery::default() };
    loop {
        let page = store.journal(&query).await.unwrap();
        count += page.items.len();
        match page.next {
            Some(next) => query.after = Some(next),
            None => return count,
        }
    }
}

/// What a send did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Handed over.
    Delivered,
    /// Failed, retry may help.
    Transient,
    /// Failed for good (a bouncing recipient).
    Permanent,
}

/// One call of [`FaultTransport::send`].
#[derive(Debug, Clone)]
pub struct Call {
    /// The Message-ID sent.
    pub message_id: String,
    /// What happened.
    pub outcome: Outcome,
}

#[derive(Debug, Default)]
struct Log {
    /// Calls per recipient address, in order.
    calls: HashMap<String, Vec<Call>>,
    total: u64,
    delivered: u64,
}

#[derive(Debug)]
struct FaultState {
    log: Mutex<Log>,
    transient_percent: u64,
    /// After this many deliveries, a send that would succeed is handed over and then never
    /// returns (the process "dies" before marking it sent).
    crash_after: Mutex<Option<u64>>,
    parked: AtomicUsize,
    parked_changed: Notify,
    yield_each: AtomicBool,
}

/// A transport that fails `transient_percent` % of the calls transiently (decided by a
/// hash of the Message-ID and the call number, so runs repeat), refuses `bounce-*`
/// recipients permanently, and records every call.
#[derive(Debug, Clone)]
pub struct FaultTransport {
    state: Arc<FaultState>,
}

impl FaultTransport {
    /// A transport failing transiently `transient_percent` % of the time.
    pub fn new(transient_percent: u64) -> Self {
        FaultTransport {
            state: Arc::new(FaultState {
                log: Mutex::new(Log::default()),
                transient_percent,
                crash_after: Mutex::new(None),
                parked: AtomicUsize::new(0),
                parked_changed: Notify::new(),
                yield_each: AtomicBool::new(false),
            }),
        }
    }

    /// A transport that never fails and yields once per send (so concurrent dispatchers interleave).
    pub fn reliable() -> Self {
        let transport = FaultTransport::new(0);
        transport.state.yield_each.store(true, Ordering::Relaxed);
        transport
    }

    fn log(&self) -> MutexGuard<'_, Log> {
        self.state.log.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Arms (or disarms) the crash.
    pub fn crash_after(&self, deliveries: Option<u64>) {
        *self.state.crash_after.lock().unwrap() = deliveries;
    }

    /// Sends handed over and then parked forever.
    pub fn parked(&self) -> usize {
        self.state.parked.load(Ordering::SeqCst)
    }

    /// Waits until at least `n` sends are parked.
    pub async fn wait_parked(&self, n: usize) {
        loop {
            let notified = self.state.parked_changed.notified();
            if self.parked() >= n {
                return;
            }
            notified.await;
        }
    }

    /// Every call, per recipient address.
    pub fn calls(&self) -> HashMap<String, Vec<Call>> {
        self.log().calls.clone()
    }

    /// Total calls.
    pub fn total_calls(&self) -> u64 {
        self.log().total
    }

    /// Total deliveries.
    pub fn delivered(&self) -> u64 {
        self.log().delivered
    }
}

/// FNV-1a then the SplitMix64 finalizer: a stable, well-mixed hash, so the injected
/// faults are the same on every run and independent from one attempt to the next.
fn fnv(text: &str) -> u64 {
    let mut z = text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[async_trait::async_trait]
impl Transport for FaultTransport {
    async fn send(&self, message: &Message) -> Result<(), TransportError> {
        if self.state.yield_each.load(Ordering::Relaxed) {
            tokio::task::yield_now().await;
        }
        let to = message.to().address.as_str().to_owned();
        let park = {
            let mut log = self.log();
            let calls = log.calls.entry(to.clone()).or_default();
            let n = calls.len();
            let outcome = if to.starts_with("bounce-") {
                Outcome::Permanent
            } else if fnv(&format!("{}#{n}", message.message_id())) % 100 < self.state.transient_percent {
                Outcome::Transient
            } else {
                Outcome::Delivered
            };
            calls.push(Call { message_id: message.message_id().to_owned(), outcome });
            log.total += 1;
            match outcome {
                Outcome::Transient => return Err(TransportError::transient("421 try again later")),
                Outcome::Permanent => return Err(TransportError::permanent("550 mailbox unavailable")),
                Outcome::Delivered => {}
            }
            log.delivered += 1;
            self.state.crash_after.lock().unwrap().is_some_and(|n| log.delivered > n)
        };
        if park {
            self.state.parked.fetch_add(1, Ordering::SeqCst);
            self.state.parked_changed.notify_waiters();
            std::future::pending::<()>().await;
        }
        Ok(())
    }
}

/// The end-of-run figures of one store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Figures {
    /// Mails enqueued.
    pub mails: usize,
    /// Transport calls.
    pub attempts: u64,
    /// Mails `Sent`.
    pub sent: usize,
    /// Mails `Failed`.
    pub failed: usize,
    /// Of which permanent (bounces).
    pub failed_permanent: usize,
    /// Mails neither sent nor failed (pending or missing).
    pub lost: usize,
    /// Mails handed over more than once.
    pub duplicates: usize,
    /// Mails handed over but not marked when the dispatcher was killed.
    pub in_flight_at_crash: usize,
}

impl Figures {
    /// Prints one row (shows with `--nocapture`).
    pub fn print(&self, store: &str, test: &str) {
        println!(
            "[{test}] store={store:<10} mails={} attempts={} sent={} failed={} (permanent {}, after retries {}) \
             lost={} duplicates={} in_flight_at_crash={}",
            self.mails,
            self.attempts,
            self.sent,
            self.failed,
            self.failed_permanent,
            self.failed - self.failed_permanent,
            self.lost,
            self.duplicates,
            self.in_flight_at_crash
        );
    }
}

/// Moves the clock past any lease and backoff of [`fault_config`] and drains again, until
/// nothing is pending.
pub async fn drain_until_settled(admit: &Admit, clock: &TestClock, config: &DispatcherConfig) {
    let dispatcher = admit.dispatcher(config.clone());
    for _ in 0..(config.max_attempts * 3) {
        dispatcher.drain().await.unwrap();
        if pending(admit.store().as_ref()).await == 0 {
            return;
        }
        clock.advance(config.backoff_max.max(config.lease) + Duration::seconds(1));
    }
    panic!("mails still pending after {} drains", config.max_attempts * 3);
}

/// A clock time, for messages.
pub fn now(clock: &TestClock) -> Timestamp {
    clock.now()
}

/// A store that fails every call with a backend error while its switch is on (an outage).
#[derive(Debug, Clone)]
pub struct FlakyStore {
    inner: Arc<dyn Store>,
    /// The outage switch.
    pub down: Arc<AtomicBool>,
}

impl FlakyStore {
    /// A store forwarding to `inner`, up.
    pub fn new(inner: Arc<dyn Store>) -> Self {
        FlakyStore { inner, down: Arc::new(AtomicBool::new(false)) }
    }

    fn check(&self) -> admit::store::Result<()> {
        if self.down.load(Ordering::SeqCst) {
            Err(admit::store::StoreError::backend(std::io::Error::other("connection refused")))
        } else {
            Ok(())
        }
    }
}

mod flaky {
    use admit::store::{
        AccountFilter, AccountQuery, AuditQuery, MailClaim, MailQuery, Page, PurgeReport, RateLimitDecision, Result,
        StatusCounts, Store,
    };
    use admit_core::{
        AccountId, AccountRecord, AuditId, AuditRecord, ChangeSet, EmailKey, MailId, MailRecord, Timestamp,
        TokenRecord, TokenSelector,
    };
    use time::Duration;

    use super::FlakyStore;

    #[async_trait::async_trait]
    impl Store for FlakyStore {
        async fn commit(&self, change: ChangeSet) -> Result<()> {
            self.check()?;
            self.inner.commit(change).await
        }
        async fn account(&self, id: AccountId) -> Result<Option<AccountRecord>> {
            self.check()?;
            self.inner.account(id).await
        }
        async fn account_by_email(&self, key: &EmailKey) -> Result<Option<AccountRecord>> {
            self.check()?;
            self.inner.account_by_email(key).await
        }
        async fn accounts_by_emails(&self, keys: &[EmailKey]) -> Result<Vec<AccountRecord>> {
            self.check()?;
            self.inner.accounts_by_emails(keys).await
        }
        async fn accounts_by_ids(&self, ids: &[AccountId]) -> Result<Vec<AccountRecord>> {
            self.check()?;
            self.inner.accounts_by_ids(ids).await
        }
        async fn list_accounts(&self, query: &AccountQuery) -> Result<Page<AccountRecord, AccountId>> {
            self.check()?;
            self.inner.list_accounts(query).await
        }
        async fn count_accounts(&self, filter: &AccountFilter, now: Timestamp) -> Result<StatusCounts> {
            self.check()?;
            self.inner.count_accounts(filter, now).await
        }
        async fn count_platform_administrators(&self) -> Result<u64> {
            self.check()?;
            self.inner.count_platform_administrators().await
        }
        async fn token(&self, selector: &TokenSelector) -> Result<Option<TokenRecord>> {
            self.check()?;
            self.inner.token(selector).await
        }
        async fn tokens_of(&self, account: AccountId) -> Result<Vec<TokenRecord>> {
            self.check()?;
            self.inner.tokens_of(account).await
        }
        async fn claim_mails(&self, claim: &MailClaim) -> Result<Vec<MailRecord>> {
            self.check()?;
            self.inner.claim_mails(claim).await
        }
        async fn arm_mails(
            &self,
            owner: &str,
            at: Timestamp,
            arms: &[admit::store::MailArming],
        ) -> Result<Vec<admit::store::ArmOutcome>> {
            self.check()?;
            self.inner.arm_mails(owner, at, arms).await
        }
        async fn mark_mail_sent(&self, id: MailId, owner: &str, at: Timestamp) -> Result<()> {
            self.check()?;
            self.inner.mark_mail_sent(id, owner, at).await
        }
        async fn retry_mail(&self, id: MailId, owner: &str, next_attempt_at: Timestamp, error: &str) -> Result<()> {
            self.check()?;
            self.inner.retry_mail(id, owner, next_attempt_at, error).await
        }
        async fn fail_mail(&self, id: MailId, owner: &str, at: Timestamp, error: &str) -> Result<()> {
            self.check()?;
            self.inner.fail_mail(id, owner, at, error).await
        }
        async fn release_mail(&self, id: MailId, owner: &str) -> Result<()> {
            self.check()?;
            self.inner.release_mail(id, owner).await
        }
        async fn mail(&self, id: MailId) -> Result<Option<MailRecord>> {
            self.check()?;
            self.inner.mail(id).await
        }
        async fn journal(&self, query: &MailQuery) -> Result<Page<MailRecord, MailId>> {
            self.check()?;
            self.inner.journal(query).await
        }
        async fn hit_rate_limit(
            &self,
            key: &str,
            limit: u32,
            window: Duration,
            now: Timestamp,
        ) -> Result<RateLimitDecision> {
            self.check()?;
            self.inner.hit_rate_limit(key, limit, window, now).await
        }
        async fn rate_limit_count(&self, key: &str, window: Duration, now: Timestamp) -> Result<u64> {
            self.check()?;
            self.inner.rate_limit_count(key, window, now).await
        }
        async fn audit(&self, query: &AuditQuery) -> Result<Page<AuditRecord, AuditId>> {
            self.check()?;
            self.inner.audit(query).await
        }
        async fn purge(&self, before: Timestamp) -> Result<PurgeReport> {
            self.check()?;
            self.inner.purge(before).await
        }
    }
}

/// After this many deliveries, switch this outage on.
pub type Outage = (usize, Arc<AtomicBool>);

/// A transport that holds every send until the test lets it through, and records what it
/// delivered (by recipient, with the Message-ID).
#[derive(Debug, Clone)]
pub struct GateTransport {
    gate: Arc<tokio::sync::Semaphore>,
    started: Arc<AtomicUsize>,
    started_changed: Arc<Notify>,
    delivered: Arc<Mutex<Vec<(String, String)>>>,
    /// Switched on (an outage) by the `n`-th delivery, if set.
    pub outage_on: Arc<Mutex<Option<Outage>>>,
}

impl GateTransport {
    /// A closed gate.
    pub fn closed() -> Self {
        GateTransport {
            gate: Arc::new(tokio::sync::Semaphore::new(0)),
            started: Arc::default(),
            started_changed: Arc::default(),
            delivered: Arc::default(),
            outage_on: Arc::default(),
        }
    }

    /// An open gate.
    pub fn open() -> Self {
        let transport = GateTransport::closed();
        transport.let_through(usize::MAX >> 4);
        transport
    }

    /// Lets `n` more sends through.
    pub fn let_through(&self, n: usize) {
        self.gate.add_permits(n);
    }

    /// Sends started so far.
    pub fn started(&self) -> usize {
        self.started.load(Ordering::SeqCst)
    }

    /// Waits until `n` sends have started.
    pub async fn wait_started(&self, n: usize) {
        loop {
            let notified = self.started_changed.notified();
            if self.started() >= n {
                return;
            }
            notified.await;
        }
    }

    /// (recipient, Message-ID) of every delivery, in order.
    pub fn delivered(&self) -> Vec<(String, String)> {
        self.delivered.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl Transport for GateTransport {
    async fn send(&self, message: &Message) -> Result<(), TransportError> {
        self.started.fetch_add(1, Ordering::SeqCst);
        self.started_changed.notify_waiters();
        self.gate.acquire().await.expect("gate open").forget();
        let mut delivered = self.delivered.lock().unwrap();
        delivered.push((message.to().address.as_str().to_owned(), message.message_id().to_owned()));
        if let Some((n, switch)) = self.outage_on.lock().unwrap().as_ref()
            && delivered.len() == *n
        {
            switch.store(true, Ordering::SeqCst);
        }
        Ok(())
    }
}

/// A migrated `SqliteStore` on a WAL file in a fresh temporary directory (kept alive by
/// the returned guard), and the file's path (to open a second store on it).
#[cfg(feature = "sqlite")]
pub async fn sqlite_file() -> (tempfile::TempDir, std::path::PathBuf, admit::SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("admit.db");
    let store = admit::SqliteStore::open(&path).await.unwrap();
    (dir, path, store)
}

/// PostgreSQL support: a fresh schema per test (as admit-store-sqlx's own tests do), so
/// tests run in parallel and leave nothing behind.
#[cfg(feature = "postgres")]
pub mod pg {
    use std::sync::atomic::{AtomicBool, Ordering};

    use admit::PostgresStore;
    use admit_store_sqlx::sqlx::postgres::{PgPool, PgPoolOptions};
    use admit_store_sqlx::sqlx::{self, AssertSqlSafe, Executor};

    /// The variable naming the test server.
    pub const URL_VAR: &str = "ADMIT_TEST_POSTGRES_URL";

    fn url() -> Option<String> {
        std::env::var(URL_VAR).ok().filter(|u| !u.is_empty())
    }

    /// Whether the PostgreSQL tests run; says loudly how to enable them when they do not.
    pub fn enabled() -> bool {
        let on = url().is_some();
        if !on {
            println!("PostgreSQL suite SKIPPED: set {URL_VAR} (e.g. postgres://postgres@127.0.0.1:5432/test)");
            eprintln!("PostgreSQL suite SKIPPED: set {URL_VAR} (e.g. postgres://postgres@127.0.0.1:5432/test)");
        }
        on
    }

    fn unreachable(error: impl std::fmt::Display) -> ! {
        panic!("{URL_VAR} is set but PostgreSQL cannot be used: {error}")
    }

    /// Schemas older than this are left-overs of earlier runs.
    const STALE_AFTER_SECONDS: i64 = 3_600;

    /// Creates a fresh `admit_test_<epoch>_<random>` schema and returns its name.
    pub async fn fresh_schema() -> String {
        let url = url().unwrap_or_else(|| unreachable("the variable is empty"));
        let admin = PgPoolOptions::new().max_connections(1).connect(&url).await.unwrap_or_else(|e| unreachable(e));
        static CLEANED: AtomicBool = AtomicBool::new(false);
        if !CLEANED.swap(true, Ordering::Relaxed) {
            let stale: Vec<String> = sqlx::query_scalar(
                "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'admit\\_test\\_%' \
                 AND split_part(nspname, '_', 3) ~ '^[0-9]+$' \
                 AND split_part(nspname, '_', 3)::bigint < extract(epoch FROM now())::bigint - $1",
            )
            .bind(STALE_AFTER_SECONDS)
            .fetch_all(&admin)
            .await
            .unwrap_or_else(|e| unreachable(e));
            for schema in stale {
                let _ = admin.execute(AssertSqlSafe(format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))).await;
            }
        }
        let schema: String = sqlx::query_scalar(
            "SELECT 'admit_test_' || floor(extract(epoch FROM now()))::bigint || '_' \
             || substr(md5(random()::text || clock_timestamp()::text), 1, 12)",
        )
        .fetch_one(&admin)
        .await
        .unwrap_or_else(|e| unreachable(e));
        admin.execute(AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\""))).await.unwrap_or_else(|e| unreachable(e));
        admin.close().await;
        schema
    }

    async fn pool_in(schema: &str, max_connections: u32) -> PgPool {
        let url = url().unwrap_or_else(|| unreachable("the variable is empty"));
        let set_path = format!("SET search_path TO \"{schema}\"");
        PgPoolOptions::new()
            .max_connections(max_connections)
            .after_connect(move |conn, _meta| {
                let set_path = set_path.clone();
                Box::pin(async move {
                    conn.execute(AssertSqlSafe(set_path)).await?;
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .unwrap_or_else(|e| unreachable(e))
    }

    /// A store on its own pool (one "host") in `schema`, migrated.
    pub async fn store_in(schema: &str) -> PostgresStore {
        let store = PostgresStore::new(pool_in(schema, 10).await);
        store.migrate().await.unwrap_or_else(|e| unreachable(e));
        store
    }

    /// Drops a schema made by [`fresh_schema`].
    pub async fn drop_schema(schema: &str) {
        let url = url().unwrap_or_else(|| unreachable("the variable is empty"));
        let admin = PgPoolOptions::new().max_connections(1).connect(&url).await.unwrap_or_else(|e| unreachable(e));
        admin
            .execute(AssertSqlSafe(format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")))
            .await
            .unwrap_or_else(|e| unreachable(e));
        admin.close().await;
    }
}
