//! The public conformance suite on [`SqliteStore`]: on a private in-memory database, and
//! again on a WAL file with a pool of several connections (where SQLite's real locking
//! applies to the concurrency cases).
#![cfg(feature = "sqlite")]

use admit_store_sqlx::SqliteStore;

admit_store::conformance_tests!(async { SqliteStore::in_memory().await.expect("an in-memory SQLite store opens") });

#[test]
fn the_macro_expands_every_case() {
    assert_eq!(ADMIT_STORE_CONFORMANCE_CASES, admit_store::conformance::CASES, "one test per case, none left out");
}

mod file {
    use admit_store_sqlx::SqliteStore;

    /// A store on a fresh file in its own temporary directory. The directory is leaked for
    /// the test's lifetime (the store keeps the file open) and removed by the OS's tmp cleaning.
    async fn fresh_file_store() -> SqliteStore {
        let dir = tempfile::Builder::new().prefix("admit-sqlite-").tempdir().expect("a temp dir").keep();
        SqliteStore::open(dir.join("admit.db")).await.expect("a file SQLite store opens")
    }

    admit_store::conformance_tests!(fresh_file_store());
}
