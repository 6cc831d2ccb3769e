//! Opening the database named by `--database-url`, without migrating it behind the
//! operator's back: only `admit migrate` changes the schema.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use admit::store::Store;
use admit::{Admit, PostgresStore, SqliteStore};
use admit_store_sqlx::sqlx;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::exit::Failure;

/// A SQLite or PostgreSQL store, connected but not migrated.
#[derive(Debug, Clone)]
pub enum Database {
    /// A SQLite file.
    Sqlite(SqliteStore),
    /// A PostgreSQL database.
    Postgres(PostgresStore),
}

/// What `--database-url` names.
#[derive(Debug, PartialEq, Eq)]
enum Target<'a> {
    Sqlite(&'a str),
    Postgres(&'a str),
}

fn target(url: &str) -> Result<Target<'_>, Failure> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Target::Postgres(url));
    }
    let path = if let Some(rest) = url.strip_prefix("sqlite://") {
        rest
    } else if let Some(rest) = url.strip_prefix("sqlite:") {
        rest
    } else if let Some((scheme, _)) = url.split_once("://") {
        return Err(Failure::database(format!(
            "malformed database URL: unknown scheme `{scheme}` (expected a SQLite path, sqlite:PATH or postgres://…)"
        )));
    } else {
        url
    };
    if path.is_empty() || path.contains(['?', '\0']) || path == ":memory:" {
        return Err(Failure::database(format!(
            "malformed database URL: `{url}` is not a SQLite file path (in-memory databases make no sense here)"
        )));
    }
    Ok(Target::Sqlite(path))
}

impl Database {
    /// Connects; creates a missing SQLite file only if `create` (for `admit migrate`).
    pub async fn open(url: &str, create: bool) -> Result<Database, Failure> {
        match target(url)? {
            Target::Sqlite(path) => {
                if !create && !std::path::Path::new(path).exists() {
                    return Err(Failure::database(format!(
                        "database unreachable: no SQLite file at {path} (run `admit migrate` to create it)"
                    )));
                }
                let options = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(create)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(5))
                    .foreign_keys(true);
                let pool = SqlitePoolOptions::new()
                    .max_connections(8)
                    .acquire_timeout(Duration::from_secs(5))
                    .connect_with(options)
                    .await
                    .map_err(|e| Failure::database(format!("database unreachable: {path}: {e}")))?;
                Ok(Database::Sqlite(SqliteStore::new(pool)))
            }
            Target::Postgres(url) => {
                let options = PgConnectOptions::from_str(url)
                    .map_err(|e| Failure::database(format!("malformed database URL: {e}")))?;
                let pool = PgPoolOptions::new()
                    .max_connections(10)
                    .acquire_timeout(Duration::from_secs(5))
                    .connect_with(options)
                    .await
                    .map_err(|e| Failure::database(format!("database unreachable: {e}")))?;
                Ok(Database::Postgres(PostgresStore::new(pool)))
            }
        }
    }

    /// Connects and checks that the schema is exactly the one this binary ships.
    pub async fn open_current(url: &str) -> Result<Database, Failure> {
        let db = Database::open(url, false).await?;
        let applied = db.applied().await?;
        let shipped = db.shipped();
        if let Some(unknown) = applied.iter().find(|v| !shipped.contains(v)) {
            return Err(Failure::schema(format!(
                "the database has migration {unknown}, unknown to this binary: a newer admit migrated it"
            )));
        }
        let missing: Vec<i64> = shipped.iter().copied().filter(|v| !applied.contains(v)).collect();
        if !missing.is_empty() {
            return Err(Failure::schema(format!(
                "schema behind (missing migrations {missing:?}): run `admit migrate`"
            )));
        }
        Ok(db)
    }

    /// The migrations recorded in the database (none before the first `admit migrate`).
    pub async fn applied(&self) -> Result<Vec<i64>, Failure> {
        let applied = match self {
            Database::Sqlite(s) => s.applied_migrations().await,
            Database::Postgres(s) => s.applied_migrations().await,
        };
        match applied {
            Ok(versions) => Ok(versions),
            // The history table is missing (never migrated) if the server still answers.
            Err(_) if self.ping().await => Ok(Vec::new()),
            Err(e) => Err(Failure::database(format!("database unreachable: {e}"))),
        }
    }

    async fn ping(&self) -> bool {
        match self {
            Database::Sqlite(s) => sqlx::query("SELECT 1").execute(s.pool()).await.is_ok(),
            Database::Postgres(s) => sqlx::query("SELECT 1").execute(s.pool()).await.is_ok(),
        }
    }

    /// The migrations this binary ships.
    pub fn shipped(&self) -> Vec<i64> {
        match self {
            Database::Sqlite(s) => s.shipped_migrations(),
            Database::Postgres(s) => s.shipped_migrations(),
        }
    }

    /// Applies the missing migrations.
    pub async fn migrate(&self) -> Result<(), Failure> {
        let result = match self {
            Database::Sqlite(s) => s.migrate().await,
            Database::Postgres(s) => s.migrate().await,
        };
        result.map_err(|e| Failure::schema(format!("migration failed: {e}")))
    }

    fn store(&self) -> Arc<dyn Store> {
        match self {
            Database::Sqlite(s) => Arc::new(s.clone()),
            Database::Postgres(s) => Arc::new(s.clone()),
        }
    }

    /// A facade for reads and administrative commands: it sends no mail itself (the
    /// outbox is delivered by `admit dispatch`), so its transport only captures.
    pub fn admit(&self, retention: Option<time::Duration>) -> Result<Admit, Failure> {
        let mut builder = Admit::builder()
            .shared_store(self.store())
            .transport(admit::CaptureTransport::new())
            .link_base("https://admit.invalid/");
        if let Some(retention) = retention {
            builder = builder.trash_retention(retention);
        }
        builder.build().map_err(|e| Failure::usage(format!("configuration: {e}")))
    }

    /// A facade whose retention period is `retention` (the retention job).
    pub fn admit_retention(&self, retention: time::Duration) -> Result<Admit, Failure> {
        self.admit(Some(retention))
    }

    /// A facade that delivers through `transport` (the dispatcher).
    pub fn admit_with(
        &self,
        transport: Arc<dyn admit::mail::Transport>,
        link_base: &str,
        sender_name: &str,
        sender_address: &str,
        retention: time::Duration,
    ) -> Result<Admit, Failure> {
        Admit::builder()
            .shared_store(self.store())
            .shared_transport(transport)
            .link_base(link_base)
            .sender(sender_name, sender_address)
            .trash_retention(retention)
            .build()
            .map_err(|e| Failure::usage(format!("configuration: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_backend() {
        assert_eq!(target("postgres://u@h/db").ok(), Some(Target::Postgres("postgres://u@h/db")));
        assert_eq!(target("postgresql://u@h/db").ok(), Some(Target::Postgres("postgresql://u@h/db")));
        assert_eq!(target("sqlite:/tmp/a.db").ok(), Some(Target::Sqlite("/tmp/a.db")));
        assert_eq!(target("sqlite:///tmp/a.db").ok(), Some(Target::Sqlite("/tmp/a.db")));
        assert_eq!(target("data/admit.db").ok(), Some(Target::Sqlite("data/admit.db")));
        assert!(target("mysql://h/db").is_err());
        assert!(target("").is_err());
        assert!(target("sqlite::memory:").is_err());
    }
}
