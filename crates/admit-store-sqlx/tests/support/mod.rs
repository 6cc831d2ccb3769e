//! PostgreSQL test support: a fresh schema per store, so tests run in parallel and leave
//! nothing behind for long.

#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, Ordering};

use admit_store::conformance::Fresh;
use admit_store_sqlx::PostgresStore;
use admit_store_sqlx::sqlx::postgres::{PgPool, PgPoolOptions};
use admit_store_sqlx::sqlx::{self, AssertSqlSafe, Executor};

/// The variable naming the test server.
pub const URL_VAR: &str = "ADMIT_TEST_POSTGRES_URL";

/// The test server's URL, if the PostgreSQL tests are enabled.
pub fn url() -> Option<String> {
    std::env::var(URL_VAR).ok().filter(|u| !u.is_empty())
}

/// Whether the PostgreSQL tests run; says how to enable them when they do not.
pub fn enabled() -> bool {
    static TOLD: AtomicBool = AtomicBool::new(false);
    let on = url().is_some();
    if !on && !TOLD.swap(true, Ordering::Relaxed) {
        eprintln!(
            "PostgreSQL suite SKIPPED: set {URL_VAR} (e.g. {URL_VAR}=postgres://postgres@127.0.0.1:5432/test) to run it"
        );
    }
    on
}

fn unreachable(error: impl std::fmt::Display) -> ! {
    panic!("{URL_VAR} is set but PostgreSQL cannot be used: {error}")
}

/// Schemas older than this (by the server's clock) are left-overs of earlier runs.
const STALE_AFTER_SECONDS: i64 = 3_600;

/// Creates a fresh `admit_test_<epoch>_<random>` schema (dropping stale ones once per
/// process) and returns its name. Panics loudly if the server cannot be reached.
pub async fn fresh_schema() -> String {
    let url = url().unwrap_or_else(|| unreachable("the variable is empty"));
    let admin = PgPoolOptions::new().max_connections(1).connect(&url).await.unwrap_or_else(|e| unreachable(e));
    static CLEANED: AtomicBool = AtomicBool::new(false);
    if !CLEANED.swap(true, Ordering::Relaxed) {
        keep_extensions_out_of_test_schemas(&admin).await;
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
            // Names come from the catalogue and match admit_test_<digits>_…; quoted anyway.
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

/// Migration 2 creates `pg_trgm` if it is missing, in the schema it runs in: in a test
/// schema, dropping that schema would drop the extension and, by cascade, the trigram
/// indexes of every other test schema while their tests run (PostgreSQL reports a
/// deadlock). So the extension lives in `public`: created there, or moved there (it is
/// relocatable), before any test schema is made or dropped.
async fn keep_extensions_out_of_test_schemas(admin: &PgPool) {
    // One process at a time (other test binaries may run at once).
    let mut conn = admin.acquire().await.unwrap_or_else(|e| unreachable(e));
    conn.execute("SELECT pg_advisory_lock(hashtext('admit-test:pg_trgm'))").await.unwrap_or_else(|e| unreachable(e));
    let schema: Option<String> = sqlx::query_scalar(
        "SELECT n.nspname::text FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace \
         WHERE e.extname = 'pg_trgm'",
    )
    .fetch_optional(&mut *conn)
    .await
    .unwrap_or_else(|e| unreachable(e));
    // Without the privilege to create it, migration 2 creates nothing either: nothing to do.
    let _ = match schema.as_deref() {
        None => conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public").await,
        Some("public") => Ok(Default::default()),
        Some(_) => conn.execute("ALTER EXTENSION pg_trgm SET SCHEMA public").await,
    };
    conn.execute("SELECT pg_advisory_unlock(hashtext('admit-test:pg_trgm'))").await.unwrap_or_else(|e| unreachable(e));
}

/// A pool whose every connection works in `schema`.
pub async fn pool_in(schema: &str, max_connections: u32) -> PgPool {
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

/// Connections per conformance case: with `--test-threads 4`, 4 cases at once hold at most
/// 40 of the server's default 100 (`max_connections`).
pub const CASE_POOL: u32 = 10;

/// A migrated store in a fresh schema, and the schema's name.
pub async fn fresh_store_in_schema() -> (PostgresStore, String) {
    let schema = fresh_schema().await;
    let store = PostgresStore::new(pool_in(&schema, CASE_POOL).await);
    store.migrate().await.unwrap_or_else(|e| unreachable(e));
    (store, schema)
}

/// A migrated store in a fresh schema (left for the stale-schema cleaning of a later run).
pub async fn fresh_store() -> PostgresStore {
    fresh_store_in_schema().await.0
}

/// A migrated store in a fresh schema, for the conformance suite: its teardown closes the
/// store's pool and drops the schema once the case is over.
pub async fn fresh_store_with_teardown() -> Fresh<PostgresStore> {
    let (store, schema) = fresh_store_in_schema().await;
    let pool = store.pool().clone();
    Fresh::with_teardown(store, async move {
        pool.close().await;
        drop_schema(&schema).await;
    })
}

/// Whether a schema exists (to check a teardown).
pub async fn schema_exists(schema: &str) -> bool {
    let url = url().unwrap_or_else(|| unreachable("the variable is empty"));
    let admin = PgPoolOptions::new().max_connections(1).connect(&url).await.unwrap_or_else(|e| unreachable(e));
    let found: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
        .bind(schema)
        .fetch_one(&admin)
        .await
        .unwrap_or_else(|e| unreachable(e));
    admin.close().await;
    found
}

/// Tests that open many connections (two hosts of [`HOST_POOL`] each) hold this lock while
/// they run, one at a time, so that `--test-threads 4` stays under the server's default
/// `max_connections` (100) however the tests are scheduled.
pub static MANY_CONNECTIONS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Connections per simulated host in the cross-host tests (two hosts per test).
pub const HOST_POOL: u32 = 24;

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
