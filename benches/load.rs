//! Load figures: 100,000 accounts over 50 programmes and 100,000 journal mails, in
//! `SqliteStore` (a WAL file under `target/admit-load/`) and `PostgresStore` (schema
//! `admit_load` of `ADMIT_TEST_POSTGRES_URL`, skipped when unset). The administration
//! console's reads must stay fast: list pages (first, deep via keyset, by programme, by
//! text), status counts, and the mail journal by subject and by recipient.
//!
//! The data is generated deterministically (same seed, same ids) and committed through
//! `Store::commit` in chunks of 5,000; a populated database is reused by later runs.
//!
//! ```text
//! cargo bench --bench load
//! ```

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use admit::store::conformance::fixtures::{Fixtures, program, subject};
use admit::store::{AccountFilter, AccountQuery, GrantFilter, MailQuery, Store};
use admit::{PostgresStore, SqliteStore};
use admit_core::{
    AccountId, AccountRecord, AccountWrite, ChangeSet, Clock, Grant, Lifecycle, MailKind, MailRecord, MailStatus, Role,
    TestClock, Timestamp,
};
use admit_store_sqlx::sqlx::postgres::{PgPool, PgPoolOptions};
use admit_store_sqlx::sqlx::{self, AssertSqlSafe, Executor};
use criterion::{Criterion, criterion_group, criterion_main};
use time::Duration;
use tokio::runtime::Runtime;

/// Accounts generated.
const ACCOUNTS: usize = 100_000;
/// Journal mails generated.
const MAILS: usize = 100_000;
/// Programmes the accounts are spread over.
const PROGRAMMES: usize = 50;
/// Records per commit.
const CHUNK: usize = 5_000;
/// The console's page size.
const PAGE: u32 = 50;
/// The position of the deep page's cursor.
const DEEP: usize = 90_000;
/// Family names the generated people carry (the text filter looks for one of them).
const SURNAMES: [&str; 20] = [
    "martin", "bernard", "thomas", "petit", "robert", "richard", "durand", "dubois", "moreau", "laurent", "simon",
    "michel", "lefebvre", "leroy", "roux", "david", "bertrand", "morel", "fournier", "girard",
];
/// The PostgreSQL variable (the tests' one).
const URL_VAR: &str = "ADMIT_TEST_POSTGRES_URL";
/// The PostgreSQL schema the load data lives in.
const PG_SCHEMA: &str = "admit_load";

/// The generated data set.
struct Data {
    now: Timestamp,
    accounts: Vec<AccountRecord>,
    mails: Vec<MailRecord>,
}

/// Generates the data set: same seed, same records, so a reused database matches it.
fn generate() -> Data {
    let start = TestClock::default_start().now();
    let mut fx = Fixtures::new(2026);
    let mut accounts = Vec::with_capacity(ACCOUNTS);
    for i in 0..ACCOUNTS {
        let at = start + Duration::seconds(i as i64);
        let surname = SURNAMES[i % SURNAMES.len()];
        let mut account = fx.account(&format!("user{i:06}.{surname}@example.net"), at);
        let role = if i % 25 == 0 { Role::Administrator } else { Role::Collaborator };
        account.grants = vec![Grant::new(program(&format!("prog-{}", i % PROGRAMMES)), role)];
        match i % 10 {
            0..=5 => {
                account.lifecycle = Lifecycle::Active;
                account.activated_at = Some(at);
            }
            6 | 7 => {
                account.lifecycle = Lifecycle::Invited;
                account.invited_at = Some(at);
                account.last_invitation_sent_at = Some(at);
                // Half the invitations expire before `now`, half after.
                account.invitation_expires_at = Some(at + Duration::days(if i % 20 < 10 { 1 } else { 400 }));
            }
            8 => {}
            _ => {
                account.lifecycle = Lifecycle::Active;
                account.activated_at = Some(at);
                account.disabled_at = Some(at + Duration::hours(1));
            }
        }
        accounts.push(account);
    }
    let kinds = [
        MailKind::Invitation,
        MailKind::InvitationReminder,
        MailKind::PasswordReset,
        MailKind::TemporaryPassword,
        MailKind::PasswordChanged,
        MailKind::EmailChanged,
    ];
    let mut mails = Vec::with_capacity(MAILS);
    for i in 0..MAILS {
        let account = &accounts[(i * 7) % ACCOUNTS];
        let at = start + Duration::seconds(i as i64 + 30);
        let mut mail = fx.mail(account, kinds[i % kinds.len()], at);
        // The journal is mostly delivered mail, its secrets scrubbed; a few failures.
        if i % 100 == 99 {
            mail.status = MailStatus::Failed;
            mail.failed_at = Some(at);
            mail.attempts = 6;
            mail.last_error = Some("550 mailbox unavailable".to_owned());
        } else {
            mail.status = MailStatus::Sent;
            mail.sent_at = Some(at + Duration::seconds(2));
            mail.attempts = 1;
        }
        mail.params.secret = None;
        mails.push(mail);
    }
    let now = start + Duration::seconds(ACCOUNTS as i64) + Duration::days(30);
    Data { now, accounts, mails }
}

/// Whether `store` already holds the whole data set.
async fn populated(store: &dyn Store, data: &Data) -> bool {
    let counts = store.count_accounts(&AccountFilter::default(), data.now).await.unwrap();
    let total = counts.created + counts.invited + counts.invitation_expired + counts.active + counts.disabled;
    let last_mail = data.mails.last().map(|m| m.id);
    let newest = store.journal(&MailQuery { limit: 1, ..MailQuery::default() }).await.unwrap();
    total == ACCOUNTS as u64 && newest.items.first().map(|m| m.id) == last_mail
}

/// Commits the data set in chunks of [`CHUNK`].
async fn populate(store: &dyn Store, data: &Data) {
    for chunk in data.accounts.chunks(CHUNK) {
        let accounts = chunk.iter().cloned().map(AccountWrite::Insert).collect();
        store.commit(ChangeSet { accounts, ..ChangeSet::default() }).await.unwrap();
    }
    for chunk in data.mails.chunks(CHUNK) {
        store.commit(ChangeSet { mails: chunk.to_vec(), ..ChangeSet::default() }).await.unwrap();
    }
}

/// The SQLite file, populated (reused when complete, rebuilt otherwise).
async fn sqlite_store(data: &Data) -> SqliteStore {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/admit-load");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("admit.db");
    if path.exists() {
        let store = SqliteStore::open(&path).await.unwrap();
        if populated(&store, data).await {
            return store;
        }
        store.pool().close().await;
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(dir.join(format!("admit.db{suffix}")));
        }
    }
    let store = SqliteStore::open(&path).await.unwrap();
    let started = std::time::Instant::now();
    populate(&store, data).await;
    eprintln!("sqlite: populated in {:?}", started.elapsed());
    store
}

fn pg_unusable(error: impl std::fmt::Display) -> ! {
    panic!("{URL_VAR} is set but PostgreSQL cannot be used: {error}")
}

async fn pg_pool(url: &str) -> PgPool {
    let set_path = format!("SET search_path TO \"{PG_SCHEMA}\"");
    PgPoolOptions::new()
        .max_connections(4)
        .after_connect(move |conn, _meta| {
            let set_path = set_path.clone();
            Box::pin(async move {
                conn.execute(AssertSqlSafe(set_path)).await?;
                Ok(())
            })
        })
        .connect(url)
        .await
        .unwrap_or_else(|e| pg_unusable(e))
}

/// The PostgreSQL store in schema `admit_load`, populated (recreated when absent or
/// incomplete); `None` when the variable is unset.
async fn postgres_store(data: &Data) -> Option<PostgresStore> {
    let Some(url) = std::env::var(URL_VAR).ok().filter(|u| !u.is_empty()) else {
        eprintln!("PostgreSQL load SKIPPED: set {URL_VAR} (e.g. postgres://postgres@127.0.0.1:5432/test)");
        return None;
    };
    let admin = PgPoolOptions::new().max_connections(1).connect(&url).await.unwrap_or_else(|e| pg_unusable(e));
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
        .bind(PG_SCHEMA)
        .fetch_one(&admin)
        .await
        .unwrap_or_else(|e| pg_unusable(e));
    if exists {
        let store = PostgresStore::new(pg_pool(&url).await);
        store.migrate().await.unwrap_or_else(|e| pg_unusable(e));
        if populated(&store, data).await {
            admin.close().await;
            return Some(store);
        }
        store.pool().close().await;
        admin
            .execute(AssertSqlSafe(format!("DROP SCHEMA \"{PG_SCHEMA}\" CASCADE")))
            .await
            .unwrap_or_else(|e| pg_unusable(e));
    }
    admin.execute(AssertSqlSafe(format!("CREATE SCHEMA \"{PG_SCHEMA}\""))).await.unwrap_or_else(|e| pg_unusable(e));
    admin.close().await;
    let store = PostgresStore::new(pg_pool(&url).await);
    store.migrate().await.unwrap_or_else(|e| pg_unusable(e));
    let started = std::time::Instant::now();
    populate(&store, data).await;
    // Fresh statistics, as autovacuum would eventually give them.
    store.pool().execute("ANALYZE").await.unwrap_or_else(|e| pg_unusable(e));
    eprintln!("postgres: populated in {:?}", started.elapsed());
    Some(store)
}

/// The queries measured, each checked once for a sensible answer before timing.
fn queries(c: &mut Criterion, rt: &Runtime, label: &str, store: Arc<dyn Store>, data: &Data) {
    let now = data.now;
    let deep_after: AccountId = data.accounts[DEEP - 1].id;
    let by_programme = AccountFilter {
        grant: Some(GrantFilter { scope: Some(program("prog-17")), role: None }),
        ..AccountFilter::default()
    };
    let by_text = AccountFilter { text: Some("Fournier".to_owned()), ..AccountFilter::default() };
    // « Réinitialisation de votre mot de passe »: one mail in six.
    let reset_subject = subject(MailKind::PasswordReset).split(' ').next().unwrap_or_default();
    let recipient_needle = "user012345.";
    let recipient_count = data.mails.iter().filter(|m| m.to.as_str().contains(recipient_needle)).count();

    let account_page = |filter: AccountFilter, after: Option<AccountId>| AccountQuery {
        filter,
        after,
        limit: PAGE,
        ..AccountQuery::new(now)
    };
    let list = |query: AccountQuery| {
        let store = store.clone();
        move || rt.block_on(store.list_accounts(&query)).unwrap()
    };
    let journal = |query: MailQuery| {
        let store = store.clone();
        move || rt.block_on(store.journal(&query)).unwrap()
    };

    // Sanity checks: the pages are the expected ones.
    let first = list(account_page(AccountFilter::default(), None))();
    assert_eq!(first.items.first().map(|a| a.id), Some(data.accounts[0].id), "{label}: first page");
    let deep = list(account_page(AccountFilter::default(), Some(deep_after)))();
    assert_eq!(deep.items.first().map(|a| a.id), Some(data.accounts[DEEP].id), "{label}: deep page");
    let programme = list(account_page(by_programme.clone(), None))();
    assert_eq!(programme.items.len(), PAGE as usize, "{label}: programme page");
    assert!(programme.items.iter().all(|a| a.grants.iter().any(|g| g.scope == program("prog-17"))));
    let text = list(account_page(by_text.clone(), None))();
    assert_eq!(text.items.len(), PAGE as usize, "{label}: text page");
    let counts = rt.block_on(store.count_accounts(&AccountFilter::default(), now)).unwrap();
    assert_eq!(counts.active, 60_000, "{label}: active count");
    assert_eq!(counts.disabled, 10_000, "{label}: disabled count");
    let subjects =
        journal(MailQuery { subject: Some("mot de passe".to_owned()), limit: PAGE, ..MailQuery::default() })();
    assert!(subjects.items.iter().all(|m| m.subject.contains("mot de passe")), "{label}: subject page");
    assert_eq!(subjects.items.len(), PAGE as usize);
    let recipient =
        journal(MailQuery { recipient: Some(recipient_needle.to_owned()), limit: PAGE, ..MailQuery::default() })();
    assert_eq!(recipient.items.len(), recipient_count, "{label}: recipient page");

    let mut group = c.benchmark_group(format!("load_{label}"));
    group.sample_size(10).warm_up_time(StdDuration::from_millis(500)).measurement_time(StdDuration::from_secs(2));
    group.bench_function("accounts_first_page", |b| b.iter(list(account_page(AccountFilter::default(), None))));
    group.bench_function("accounts_deep_page_keyset", |b| {
        b.iter(list(account_page(AccountFilter::default(), Some(deep_after))))
    });
    group.bench_function("accounts_programme_page", |b| b.iter(list(account_page(by_programme.clone(), None))));
    group.bench_function("accounts_text_page", |b| b.iter(list(account_page(by_text.clone(), None))));
    group.bench_function("accounts_text_page_rare", |b| {
        let rare = AccountFilter { text: Some("user099999".to_owned()), ..AccountFilter::default() };
        b.iter(list(account_page(rare.clone(), None)))
    });
    group.bench_function("status_counts_all", |b| {
        b.iter(|| rt.block_on(store.count_accounts(&AccountFilter::default(), now)).unwrap())
    });
    group.bench_function("status_counts_programme", |b| {
        b.iter(|| rt.block_on(store.count_accounts(&by_programme, now)).unwrap())
    });
    group.bench_function("journal_first_page", |b| b.iter(journal(MailQuery { limit: PAGE, ..MailQuery::default() })));
    group.bench_function("journal_by_subject", |b| {
        b.iter(journal(MailQuery { subject: Some(reset_subject.to_owned()), limit: PAGE, ..MailQuery::default() }))
    });
    group.bench_function("journal_by_recipient", |b| {
        b.iter(journal(MailQuery { recipient: Some(recipient_needle.to_owned()), limit: PAGE, ..MailQuery::default() }))
    });
    group.finish();
}

fn load(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let data = generate();
    let sqlite = rt.block_on(sqlite_store(&data));
    queries(c, &rt, "sqlite", Arc::new(sqlite), &data);
    if let Some(postgres) = rt.block_on(postgres_store(&data)) {
        queries(c, &rt, "postgres", Arc::new(postgres), &data);
    }
}

criterion_group!(benches, load);
criterion_main!(benches);
