//! [`PostgresStore`]: admit on PostgreSQL, for many app instances sharing one database.

use std::fmt;

use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Postgres};

use crate::error::Error;
use crate::migrate::DEFAULT_TABLE_PREFIX;

type Db = Postgres;
type This = PostgresStore;

// The shared code, compiled once per backend (`Db`, `This` and `dialect` differ).
#[allow(clippy::duplicate_mod)]
#[path = "shared.rs"]
mod shared;

/// admit's [`Store`](admit_store::Store) on PostgreSQL.
///
/// Transactions run at READ COMMITTED; every precondition is one atomic statement (a
/// conditional `UPDATE` whose row count is checked, the account row locked `FOR UPDATE`),
/// outbox claims use `FOR UPDATE SKIP LOCKED`, and changes that must keep a platform
/// administrator take a transaction-scoped advisory lock, so all of it holds across hosts.
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    prefix: String,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore").field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// A store on the host's pool, with the default table prefix (`admit_`). Call
    /// [`PostgresStore::migrate`] before use.
    pub fn new(pool: PgPool) -> Self {
        PostgresStore { pool, prefix: DEFAULT_TABLE_PREFIX.to_owned() }
    }

    /// Connects to `url` (`postgres://user@host/db`) with a pool of 10 connections and
    /// migrates the database.
    ///
    /// # Errors
    /// [`Error::Database`] if the server cannot be reached, or a migration error.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        let pool = PgPoolOptions::new().max_connections(10).connect(url).await.map_err(Error::database)?;
        let store = PostgresStore::new(pool);
        store.migrate().await?;
        Ok(store)
    }

    /// The underlying pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

mod dialect {
    use sqlx::error::DatabaseError;
    use sqlx::{PgConnection, PgPool, Postgres, Transaction};

    use crate::codec::UniqueKey;
    use crate::migrate::{Migration, POSTGRES};

    pub(super) const FOR_UPDATE: &str = " FOR UPDATE";
    pub(super) const SKIP_LOCKED: &str = " FOR UPDATE SKIP LOCKED";
    pub(super) const MAX_BINDS: usize = 65_535;
    pub(super) const ANONYMOUS_PLACEHOLDERS: bool = false;
    pub(super) const MIGRATIONS: &[Migration] = POSTGRES;

    pub(super) async fn begin(pool: &PgPool) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        pool.begin().await
    }

    async fn advisory_lock(conn: &mut PgConnection, purpose: &'static str, prefix: &str) -> Result<(), sqlx::Error> {
        // One lock per purpose, schema and prefix: stores on other schemas never wait.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1 || ':' || coalesce(current_schema(), ''), 0))")
            .bind(format!("admit:{purpose}:{prefix}"))
            .execute(conn)
            .await
            .map(drop)
    }

    /// Migrations from several hosts at once run one after the other.
    pub(super) async fn begin_migration(
        pool: &PgPool,
        prefix: &str,
    ) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        let mut tx = pool.begin().await?;
        advisory_lock(&mut tx, "migrate", prefix).await?;
        Ok(tx)
    }

    /// Changes that must keep a platform administrator run one after the other, so two of
    /// them cannot each remove one of the last two administrators.
    pub(super) async fn lock_platform_administrators(conn: &mut PgConnection, prefix: &str) -> Result<(), sqlx::Error> {
        advisory_lock(conn, "platform-administrators", prefix).await
    }

    /// By constraint name: `…_pkey` for primary keys, `…accounts_email_key_uq` for emails.
    pub(super) fn unique_key(error: &dyn DatabaseError) -> UniqueKey {
        match error.constraint() {
            Some(name) if name.ends_with("_pkey") => UniqueKey::Primary,
            Some(name) if name.ends_with("accounts_email_key_uq") => UniqueKey::Email,
            _ => UniqueKey::Other,
        }
    }
}
