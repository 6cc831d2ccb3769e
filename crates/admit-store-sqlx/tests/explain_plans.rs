//! Prints the query plans of the hot queries on a populated store (10,000 accounts and
//! mails), for `docs/storage.md`. Ignored by default; run with
//!
//! ```text
//! cargo test -p admit-store-sqlx --features postgres --test explain_plans -- --ignored --nocapture --test-threads 1
//! ```
//!
//! (with `ADMIT_TEST_POSTGRES_URL` set for the PostgreSQL plans). The SQL mirrors what the
//! stores issue (same shape, table prefix `admit_`).

#[cfg(feature = "postgres")]
mod support;

use admit_core::{AccountKind, Clock, Grant, MailKind, Role, TestClock, TokenPurpose};
use admit_store::conformance::fixtures::{Fixtures, program};
use admit_store::{AccountWrite, ChangeSet, Store};

const MAIL_COLS: &str = "id, account_id, to_address, to_key, locale, kind, subject, subject_lc, recipient_name, secret, \
    expires_at, new_email, status, attempts, next_attempt_at, lease_owner, lease_until, last_error, created_at, sent_at, \
    failed_at";

/// (title, SQL, arguments): text arguments are bound as text, the others as BIGINT or BLOB.
enum Arg {
    Text(&'static str),
    Int(i64),
    Bytes(Vec<u8>),
}

fn queries(selector: Vec<u8>, id: Vec<u8>, now: i64) -> Vec<(&'static str, String, Vec<Arg>)> {
    vec![
        (
            "token by selector",
            "SELECT selector, verifier_hash, account_id, purpose, epoch, created_at, expires_at, consumed_at, \
             revoked_at, revoked_reason FROM admit_tokens WHERE selector = $1"
                .to_owned(),
            vec![Arg::Bytes(selector)],
        ),
        (
            "outbox claim",
            format!(
                "UPDATE admit_outbox SET lease_owner = $1, lease_until = $2, attempts = attempts + 1 WHERE id IN \
                 (SELECT id FROM admit_outbox WHERE status = 'pending' AND next_attempt_at <= $3 \
                 AND (lease_until IS NULL OR lease_until < $3) ORDER BY id LIMIT $4{{LOCK}}) RETURNING {MAIL_COLS}"
            ),
            vec![Arg::Text("dispatcher-1"), Arg::Int(now + 600_000_000), Arg::Int(now), Arg::Int(50)],
        ),
        (
            "account by email",
            "SELECT * FROM admit_accounts WHERE email_key IN ($1)".to_owned(),
            vec![Arg::Text("p9e3779b1@exemple.fr")],
        ),
        (
            "grants of the accounts read",
            "SELECT account_id, scope_key, role FROM admit_grants WHERE account_id IN ($1) ORDER BY account_id, ord"
                .to_owned(),
            vec![Arg::Bytes(id.clone())],
        ),
        (
            "account list page, no filter",
            "SELECT a.* FROM admit_accounts a WHERE a.id > $1 ORDER BY a.id LIMIT $2".to_owned(),
            vec![Arg::Bytes(id.clone()), Arg::Int(50)],
        ),
        (
            "account list page, text filter",
            "SELECT a.* FROM admit_accounts a WHERE (a.name_lc LIKE $1 ESCAPE '\\' OR a.email_key LIKE $1 ESCAPE '\\') \
             ORDER BY a.id LIMIT $2"
                .to_owned(),
            vec![Arg::Text("%9e3779%"), Arg::Int(50)],
        ),
        (
            "account list page, grant + kind + status filter",
            "SELECT a.* FROM admit_accounts a WHERE a.kind = $1 AND a.id IN (SELECT g.account_id FROM admit_grants g \
             WHERE g.scope_key = $2 AND g.role = $3) AND (a.trashed_at IS NULL AND a.disabled_at IS NULL \
             AND a.lifecycle = 'created') ORDER BY a.id LIMIT $4"
                .to_owned(),
            vec![Arg::Text("member"), Arg::Text("program:prog-7"), Arg::Text("collaborator"), Arg::Int(50)],
        ),
        (
            "journal by subject text",
            format!(
                "SELECT {MAIL_COLS} FROM admit_outbox WHERE subject_lc LIKE $1 ESCAPE '\\' ORDER BY id DESC LIMIT $2"
            ),
            vec![Arg::Text("%mot de passe%"), Arg::Int(50)],
        ),
        (
            "journal by recipient text",
            format!("SELECT {MAIL_COLS} FROM admit_outbox WHERE to_key LIKE $1 ESCAPE '\\' ORDER BY id DESC LIMIT $2"),
            vec![Arg::Text("%9e3779%"), Arg::Int(50)],
        ),
    ]
}

/// A varied local part (`p` and 8 hex digits), so that a name or address search is as
/// selective as a real one.
fn local_part(i: u64) -> String {
    format!("p{:08x}", i.wrapping_mul(2_654_435_761) % (1 << 32))
}

/// 10,000 accounts over 50 programmes, half of them public, each with an invitation token
/// and a mail (a third of them password resets), in one commit.
async fn populate(store: &dyn Store) -> (Vec<u8>, Vec<u8>, i64) {
    let clock = TestClock::default_start();
    let now = clock.now();
    let mut fx = Fixtures::new(42);
    let mut change = ChangeSet::new();
    let mut selector = Vec::new();
    let mut middle = Vec::new();
    for i in 0..10_000u64 {
        let mut account = fx.account(&format!("{}@exemple.fr", local_part(i)), now);
        account.grants = vec![Grant::new(program(&format!("prog-{}", i % 50)), Role::Collaborator)];
        if i % 2 == 1 {
            account.kind = AccountKind::Public;
        }
        let token = fx.token(&account, TokenPurpose::Invitation, now, time::Duration::days(7));
        let kind = if i % 3 == 0 { MailKind::PasswordReset } else { MailKind::Invitation };
        let mut mail = fx.mail(&account, kind, now);
        if i % 20 != 0 {
            // Most of an outbox is history: sent, secret scrubbed.
            mail.status = admit_core::MailStatus::Sent;
            mail.sent_at = Some(now);
            mail.params.secret = None;
        }
        change.mails.push(mail);
        if i == 5_000 {
            selector = token.selector.to_bytes().to_vec();
            middle = account.id.to_bytes().to_vec();
        }
        change.tokens.push(token);
        change.accounts.push(AccountWrite::Insert(account));
    }
    store.commit(change).await.expect("the population commits");
    (selector, middle, now.as_unix_micros())
}

#[cfg(feature = "sqlite")]
#[tokio::test]
#[ignore = "prints query plans for docs/storage.md"]
async fn sqlite_query_plans() {
    use admit_store_sqlx::SqliteStore;
    use admit_store_sqlx::sqlx::{self, AssertSqlSafe, Row};

    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("plans.db")).await.unwrap();
    let (selector, id, now) = populate(&store).await;
    sqlx::query("ANALYZE").execute(store.pool()).await.unwrap();
    println!(
        "## SQLite {}",
        sqlx::query_scalar::<_, String>("SELECT sqlite_version()").fetch_one(store.pool()).await.unwrap()
    );
    for (title, sql, args) in queries(selector, id, now) {
        let sql = sql.replace("{LOCK}", "");
        let mut query = sqlx::query(AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")));
        for arg in args {
            query = match arg {
                Arg::Text(v) => query.bind(v),
                Arg::Int(v) => query.bind(v),
                Arg::Bytes(v) => query.bind(v),
            };
        }
        println!("\n### {title}\n```\n{sql}\n--\nQUERY PLAN");
        let rows = query.fetch_all(store.pool()).await.unwrap();
        let mut depth: Vec<(i64, usize)> = Vec::new();
        for row in rows {
            let (node, parent, detail): (i64, i64, String) = (row.get(0), row.get(1), row.get(3));
            let level = depth.iter().find(|(n, _)| *n == parent).map_or(0, |(_, l)| l + 1);
            depth.push((node, level));
            println!("{}`--{detail}", "   ".repeat(level));
        }
        println!("```");
    }
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "prints query plans for docs/storage.md"]
async fn postgres_query_plans() {
    use admit_store_sqlx::sqlx::{self, AssertSqlSafe, Row};

    if !support::enabled() {
        return;
    }
    let store = support::fresh_store().await;
    let (selector, id, now) = populate(&store).await;
    sqlx::query("ANALYZE").execute(store.pool()).await.unwrap();
    let version: String = sqlx::query_scalar("SHOW server_version").fetch_one(store.pool()).await.unwrap();
    println!("## PostgreSQL {version}");
    for (title, sql, args) in queries(selector, id, now) {
        let sql = sql.replace("{LOCK}", " FOR UPDATE SKIP LOCKED");
        let mut query = sqlx::query(AssertSqlSafe(format!("EXPLAIN (COSTS OFF) {sql}")));
        for arg in args {
            query = match arg {
                Arg::Text(v) => query.bind(v),
                Arg::Int(v) => query.bind(v),
                Arg::Bytes(v) => query.bind(v),
            };
        }
        println!("\n### {title}\n```\n{sql}\n--\nQUERY PLAN");
        for row in query.fetch_all(store.pool()).await.unwrap() {
            println!("{}", row.get::<String, _>(0));
        }
        println!("```");
    }
}
