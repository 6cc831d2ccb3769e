//! [`SqliteStore`]: admit on SQLite, the embedded default (one process, a file in WAL mode).

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool};

use crate::error::Error;
use crate::migrate::DEFAULT_TABLE_PREFIX;

type Db = Sqlite;
type This = SqliteStore;

// The shared code, compiled once per backend (`Db`, `This` and `dialect` differ).
#[allow(clippy::duplicate_mod)]
#[path = "shared.rs"]
mod shared;

/// admit's [`Store`](admit_store::Store) on SQLite.
///
/// Writes run in `BEGIN IMMEDIATE` transactions: the write lock is taken up front, so
/// concurrent writers queue on the busy timeout instead of failing on a lock upgrade.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use admit_store::Store;
/// use admit_store_sqlx::SqliteStore;
/// let store = SqliteStore::in_memory().await?;
/// assert_eq!(store.count_platform_administrators().await?, 0);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    prefix: String,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore").field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// A store on the host's pool, with the default table prefix (`admit_`). Call
    /// [`SqliteStore::migrate`] before use. The pool's connections should have a busy
    /// timeout (sqlx's default is 5 s).
    pub fn new(pool: SqlitePool) -> Self {
        SqliteStore { pool, prefix: DEFAULT_TABLE_PREFIX.to_owned() }
    }

    /// Opens (and creates if missing) the database file at `path` in WAL mode, with a 5 s
    /// busy timeout, foreign keys on and `synchronous = NORMAL`, then migrates it.
    ///
    /// # Errors
    /// [`Error::Database`] if the file cannot be opened, or a migration error.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new().max_connections(8).connect_with(options).await.map_err(Error::database)?;
        let store = SqliteStore::new(pool);
        store.migrate().await?;
        Ok(store)
    }

    /// A fresh, migrated in-memory database, private to this store (for tests and
    /// throw-away hosts). It lives on one connection that the pool never closes, so every
    /// call sees the same data; it is gone when the store is dropped.
    ///
    /// # Errors
    /// [`Error::Database`] or a migration error.
    pub async fn in_memory() -> Result<Self, Error> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")
            .map_err(Error::database)?
            .shared_cache(false)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(Error::database)?;
        let store = SqliteStore::new(pool);
        store.migrate().await?;
        Ok(store)
    }

    /// The underlying pool.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

mod dialect {
    use sqlx::error::DatabaseError;
    use sqlx::{Sqlite, SqliteConnection, SqlitePool, Transaction};

    use crate::codec::UniqueKey;
    use crate::migrate::{Migration, SQLITE};

    pub(super) const FOR_UPDATE: &str = "";
    pub(super) const SKIP_LOCKED: &str = "";
    pub(super) const MAX_BINDS: usize = 32_766;
    pub(super) const ANONYMOUS_PLACEHOLDERS: bool = true;
    pub(super) const MIGRATIONS: &[Migration] = SQLITE;

    pub(super) async fn begin(pool: &SqlitePool) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        pool.begin_with("BEGIN IMMEDIATE").await
    }

    pub(super) async fn begin_migration(
        pool: &SqlitePool,
        _prefix: &str,
    ) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        begin(pool).await
    }

    /// Nothing to do: `BEGIN IMMEDIATE` already serialises writers.
    pub(super) async fn lock_platform_administrators(
        _conn: &mut SqliteConnection,
        _prefix: &str,
    ) -> Result<(), sqlx::Error> {
        Ok(())
    }

    const SQLITE_CONSTRAINT_PRIMARYKEY: &str = "1555";
    const SQLITE_CONSTRAINT_UNIQUE: &str = "2067";

    /// By extended result code: the only UNIQUE constraint besides primary keys is the
    /// accounts' email key.
    pub(super) fn unique_key(error: &dyn DatabaseError) -> UniqueKey {
        match error.code().as_deref() {
            Some(SQLITE_CONSTRAINT_PRIMARYKEY) => UniqueKey::Primary,
            Some(SQLITE_CONSTRAINT_UNIQUE) => UniqueKey::Email,
            _ => UniqueKey::Other,
        }
    }
}
