//! [`Error`]: what opening, connecting or migrating a SQL store can fail with.

use admit_store::{BoxError, StoreError};

/// Why a SQL store could not be opened, configured or migrated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The table prefix is not 1 to 32 lower-case ASCII letters, digits or underscores
    /// starting with a letter.
    #[error("table prefix is invalid")]
    InvalidTablePrefix,
    /// The database holds a migration this version of admit does not know: it was
    /// migrated by a newer version.
    #[error("database schema has unknown migration {version}")]
    UnknownMigration {
        /// The unknown version.
        version: i64,
    },
    /// An applied migration's text differs from the one this version of admit ships.
    #[error("applied migration {version} differs from this version of admit")]
    ChangedMigration {
        /// The changed version.
        version: i64,
    },
    /// The database failed (connection, I/O, SQL).
    #[error("database failed")]
    Database(#[source] BoxError),
}

impl Error {
    pub(crate) fn database(error: impl Into<BoxError>) -> Self {
        Error::Database(error.into())
    }
}

impl From<Error> for StoreError {
    fn from(error: Error) -> Self {
        StoreError::backend(error)
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
