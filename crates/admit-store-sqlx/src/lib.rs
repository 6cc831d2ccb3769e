//! SQL stores for admit. Most hosts enable the `sqlite` (default) or `postgres` feature of
//! `admit` instead.
//!
//! - [`SqliteStore`] (feature `sqlite`, on by default): one process, a file in WAL mode,
//!   or an in-memory database for tests.
//! - [`PostgresStore`] (feature `postgres`): many app instances sharing one database;
//!   token consumption, outbox claims and rate limits hold across hosts.
//!
//! Both apply their schema with [`SqliteStore::migrate`] / [`PostgresStore::migrate`]
//! (the `open`, `in_memory` and `connect` constructors do it for you): versioned,
//! forward-only migrations embedded in the crate, recorded in admit's own history table
//! (`admit_migrations`), never in the host's `_sqlx_migrations`. Every table name starts
//! with a prefix (`admit_` unless [`SqliteStore::with_table_prefix`] says otherwise).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! use admit_store_sqlx::SqliteStore;
//! let store = SqliteStore::open(dir.path().join("admit.db")).await?;
//! assert_eq!(store.applied_migrations().await?, vec![1]);
//! # Ok(()) }
//! ```
//!
//! See `docs/storage.md` for the schema, the index behind each query and their plans.
//!
//! # Features
//! - `sqlite` (default): [`SqliteStore`], with SQLite bundled.
//! - `postgres`: [`PostgresStore`].
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]

#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod codec;
mod error;
mod migrate;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

pub use error::{Error, Result};
pub use migrate::DEFAULT_TABLE_PREFIX;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use postgres::PostgresStore;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use sqlite::SqliteStore;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
#[doc(no_inline)]
pub use sqlx;
