//! Migrations: applied once, recorded in admit's own history table, under any table prefix.

#[cfg(feature = "postgres")]
mod support;

#[cfg(feature = "sqlite")]
mod sqlite {
    use admit_core::{Clock, TestClock};
    use admit_store::Store;
    use admit_store::conformance::fixtures::{Fixtures, insert_accounts};
    use admit_store_sqlx::sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
    use admit_store_sqlx::sqlx::{self, SqlitePool};
    use admit_store_sqlx::{Error, SqliteStore};

    async fn file_pool(dir: &tempfile::TempDir) -> SqlitePool {
        let options = SqliteConnectOptions::new().filename(dir.path().join("host.db")).create_if_missing(true);
        SqlitePoolOptions::new().max_connections(4).connect_with(options).await.unwrap()
    }

    async fn tables(pool: &SqlitePool) -> Vec<String> {
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .fetch_all(pool)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn migrating_twice_is_a_no_op() {
        let dir = tempfile::tempdir().unwrap();
        let pool = file_pool(&dir).await;
        let store = SqliteStore::new(pool.clone());
        store.migrate().await.unwrap();
        let before = tables(&pool).await;
        store.migrate().await.unwrap();
        SqliteStore::new(pool.clone()).migrate().await.unwrap();
        assert_eq!(store.applied_migrations().await.unwrap(), vec![1, 2, 3], "each migration is recorded once");
        assert_eq!(tables(&pool).await, before, "a second migrate creates nothing");
        let history: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM admit_migrations").fetch_one(&pool).await.unwrap();
        assert_eq!(history, 3);
    }

    #[tokio::test]
    async fn history_is_admits_own_table() {
        let dir = tempfile::tempdir().unwrap();
        let pool = file_pool(&dir).await;
        SqliteStore::new(pool.clone()).migrate().await.unwrap();
        let names = tables(&pool).await;
        assert!(names.contains(&"admit_migrations".to_owned()), "history in admit_migrations: {names:?}");
        assert!(!names.iter().any(|n| n == "_sqlx_migrations"), "never sqlx's history table: {names:?}");
        for table in ["accounts", "grants", "tokens", "outbox", "audit", "rate_limits"] {
            assert!(names.contains(&format!("admit_{table}")), "admit_{table} exists: {names:?}");
        }
    }

    #[tokio::test]
    async fn table_prefix_separates_instances() {
        let dir = tempfile::tempdir().unwrap();
        let pool = file_pool(&dir).await;
        let one = SqliteStore::new(pool.clone()).with_table_prefix("tenant_one_").unwrap();
        let two = SqliteStore::new(pool.clone()).with_table_prefix("tenant_two_").unwrap();
        one.migrate().await.unwrap();
        two.migrate().await.unwrap();
        let names = tables(&pool).await;
        for prefix in ["tenant_one_", "tenant_two_"] {
            assert!(names.contains(&format!("{prefix}accounts")), "{prefix}accounts exists: {names:?}");
            assert!(names.contains(&format!("{prefix}migrations")), "{prefix}migrations exists: {names:?}");
        }
        assert!(!names.iter().any(|n| n.starts_with("admit_")), "the default prefix is unused: {names:?}");
        let clock = TestClock::default_start();
        let mut fx = Fixtures::new(1);
        let account = fx.account("jeanne@exemple.fr", clock.now());
        one.commit(insert_accounts([account.clone()])).await.unwrap();
        assert_eq!(one.account(account.id).await.unwrap(), Some(account.clone()));
        assert_eq!(two.account(account.id).await.unwrap(), None, "another prefix is another store");
        two.commit(insert_accounts([account.clone()])).await.expect("the same email is free under another prefix");
    }

    #[tokio::test]
    async fn invalid_prefixes_are_refused() {
        let store = SqliteStore::in_memory().await.unwrap();
        for prefix in ["", "1x_", "x-y", "x; DROP TABLE admit_accounts; --", "Admit_"] {
            assert!(
                matches!(store.clone().with_table_prefix(prefix), Err(Error::InvalidTablePrefix)),
                "prefix {prefix:?} is refused"
            );
        }
        assert_eq!(store.with_table_prefix("ok_2").unwrap().table_prefix(), "ok_2");
    }

    /// Migration 2 rebuilds `rate_limits` with the window's length in its key: a database
    /// migrated by an earlier admit keeps its live windows.
    #[tokio::test]
    async fn rate_limit_windows_survive_the_key_migration() {
        use admit_store::{Duration, window_start};

        let dir = tempfile::tempdir().unwrap();
        let pool = file_pool(&dir).await;
        let store = SqliteStore::new(pool.clone());
        store.migrate().await.unwrap();
        // Back to the table of version 1, with a live window in it.
        sqlx::raw_sql(
            "DROP TABLE admit_rate_limits; \
             CREATE TABLE admit_rate_limits (key TEXT NOT NULL, window_start BIGINT NOT NULL, \
             window_end BIGINT NOT NULL, count BIGINT NOT NULL, PRIMARY KEY (key, window_start)); \
             CREATE INDEX admit_rate_limits_end_idx ON admit_rate_limits (window_end); \
             DELETE FROM admit_migrations WHERE version = 2;",
        )
        .execute(&pool)
        .await
        .unwrap();
        let now = TestClock::default_start().now();
        let hour = Duration::hours(1);
        let start = window_start(now, hour);
        sqlx::query("INSERT INTO admit_rate_limits VALUES ('link:jeanne', ?, ?, 7)")
            .bind(start.as_unix_micros())
            .bind((start + hour).as_unix_micros())
            .execute(&pool)
            .await
            .unwrap();
        store.migrate().await.unwrap();
        assert_eq!(store.applied_migrations().await.unwrap(), vec![1, 2, 3]);
        assert_eq!(store.rate_limit_count("link:jeanne", hour, now).await.unwrap(), 7, "the window is kept");
        let short = store.hit_rate_limit("link:jeanne", 10, Duration::minutes(1), now).await.unwrap();
        assert_eq!(short.count, 1, "a window of another length starting at once counts apart");
        assert_eq!(store.hit_rate_limit("link:jeanne", 10, hour, now).await.unwrap().count, 8);
    }

    #[tokio::test]
    async fn changed_or_unknown_migrations_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let pool = file_pool(&dir).await;
        let store = SqliteStore::new(pool.clone());
        store.migrate().await.unwrap();
        sqlx::query("UPDATE admit_migrations SET checksum = checksum + 1 WHERE version = 1")
            .execute(&pool)
            .await
            .unwrap();
        assert!(matches!(store.migrate().await, Err(Error::ChangedMigration { version: 1 })));
        sqlx::query("UPDATE admit_migrations SET checksum = checksum - 1 WHERE version = 1")
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query("INSERT INTO admit_migrations (version, name, checksum) VALUES (999, 'future', 0)")
            .execute(&pool)
            .await
            .unwrap();
        let error = store.migrate().await.unwrap_err();
        assert!(matches!(error, Error::UnknownMigration { version: 999 }), "got {error:?}");
        assert_eq!(error.to_string(), "database schema has unknown migration 999");
    }

    #[tokio::test]
    async fn open_creates_a_wal_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub.db");
        let store = SqliteStore::open(&path).await.unwrap();
        assert!(path.exists(), "open creates the file");
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(store.pool()).await.unwrap();
        assert_eq!(mode, "wal");
        let timeout: i64 = sqlx::query_scalar("PRAGMA busy_timeout").fetch_one(store.pool()).await.unwrap();
        assert_eq!(timeout, 5_000);
        drop(store);
        let again = SqliteStore::open(&path).await.expect("reopening an existing file migrates nothing new");
        assert_eq!(again.applied_migrations().await.unwrap(), vec![1, 2, 3]);
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use admit_store_sqlx::PostgresStore;
    use admit_store_sqlx::sqlx;

    use super::support;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_migrations_apply_once() {
        if !support::enabled() {
            return;
        }
        let schema = support::fresh_schema().await;
        let mut hosts = Vec::new();
        for _ in 0..4 {
            hosts.push(PostgresStore::new(support::pool_in(&schema, 2).await));
        }
        let results = join_all(hosts.iter().cloned().map(|h| async move { h.migrate().await })).await;
        for result in results {
            result.expect("every host's migrate succeeds, one after the other");
        }
        hosts[0].migrate().await.expect("migrating again is a no-op");
        assert_eq!(hosts[1].applied_migrations().await.unwrap(), vec![1, 2, 3, 4]);
        let history: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM admit_migrations").fetch_one(hosts[0].pool()).await.unwrap();
        assert_eq!(history, 4, "each migration recorded once");
        let sqlx_history: Option<String> = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations')::text")
            .fetch_one(hosts[0].pool())
            .await
            .unwrap();
        assert_eq!(sqlx_history, None, "never sqlx's history table");
        support::drop_schema(&schema).await;
    }

    #[tokio::test]
    async fn table_prefix_applies_to_every_table() {
        if !support::enabled() {
            return;
        }
        let schema = support::fresh_schema().await;
        let store = PostgresStore::new(support::pool_in(&schema, 2).await).with_table_prefix("tenant_").unwrap();
        store.migrate().await.unwrap();
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename",
        )
        .fetch_all(store.pool())
        .await
        .unwrap();
        assert_eq!(
            names,
            ["accounts", "audit", "grants", "migrations", "outbox", "rate_limits", "tokens"]
                .map(|t| format!("tenant_{t}"))
                .to_vec()
        );
        support::drop_schema(&schema).await;
    }

    async fn join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let handles: Vec<_> = futures.map(tokio::spawn).collect();
        let mut out = Vec::new();
        for handle in handles {
            out.push(handle.await.unwrap());
        }
        out
    }
}
