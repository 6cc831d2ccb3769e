//! PostgreSQL test support: a fresh schema per store, so tests run in parallel and leave
//! nothing behind for long.

#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, Ordering};

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

/// A migrated store in a fresh schema.
pub async fn fresh_store() -> PostgresStore {
    let schema = fresh_schema().await;
    let store = PostgresStore::new(pool_in(&schema, 16).await);
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
