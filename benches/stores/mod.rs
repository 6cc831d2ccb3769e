//! What the store, batch, dispatch and accept benchmarks share: fresh stores of each kind
//! (MemoryStore; SqliteStore on a WAL file in a temporary directory; PostgresStore in a
//! dedicated schema of `ADMIT_TEST_POSTGRES_URL`, skipped when unset) and a facade
//! deployment over one of them, with mails captured in memory.

// Each bench target uses a part of this module.
#![allow(dead_code)]

use std::sync::Arc;

use admit::mail::{CaptureTransport, Message};
use admit::secrecy::SecretString;
use admit::store::Store;
use admit::{Admit, CreateAccount, Grant, Limit, MemoryStore, PostgresStore, RateLimits, Role, Scope, SqliteStore};
use admit_core::{AccountId, Argon2Params};
use admit_store_sqlx::sqlx::postgres::{PgPool, PgPoolOptions};
use admit_store_sqlx::sqlx::{AssertSqlSafe, Executor};

/// The PostgreSQL variable (the tests' one).
pub const URL_VAR: &str = "ADMIT_TEST_POSTGRES_URL";

/// The PostgreSQL URL, or `None` (with a note on stderr) when the variable is unset.
pub fn postgres_url() -> Option<String> {
    let url = std::env::var(URL_VAR).ok().filter(|u| !u.is_empty());
    if url.is_none() {
        eprintln!("PostgreSQL benchmarks SKIPPED: set {URL_VAR} (e.g. postgres://postgres@127.0.0.1:5432/test)");
    }
    url
}

/// Which store a benchmark runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `MemoryStore`.
    Memory,
    /// `SqliteStore` on a WAL file in a temporary directory.
    Sqlite,
    /// `PostgresStore` in a dedicated schema.
    Postgres,
}

impl Backend {
    /// The benchmark function's name.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Memory => "memory",
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    /// The backends to run: memory and sqlite always, postgres when the variable is set.
    pub fn available(with_memory: bool) -> Vec<Backend> {
        let mut backends = Vec::new();
        if with_memory {
            backends.push(Backend::Memory);
        }
        backends.push(Backend::Sqlite);
        if postgres_url().is_some() {
            backends.push(Backend::Postgres);
        }
        backends
    }
}

fn pg_unusable(error: impl std::fmt::Display) -> ! {
    panic!("{URL_VAR} is set but PostgreSQL cannot be used: {error}")
}

async fn pg_pool(url: &str, schema: &str) -> PgPool {
    let set_path = format!("SET search_path TO \"{schema}\"");
    PgPoolOptions::new()
        .max_connections(8)
        .after_connect(move |conn, _meta| {
            let set_path = set_path.clone();
            Box::pin(async move {
                conn.execute(AssertSqlSafe(set_path)).await?;
                Ok(())
            })
        })
        .connect(url)
        .await
        .unwrap_or_else(|e| pg_unusable(e))
}

/// A fresh store of one kind: empty, migrated. Dropping it removes the SQLite file; the
/// PostgreSQL schema is dropped and recreated by the next `Fresh::new` of the same name.
pub struct Fresh {
    /// The store.
    pub store: Arc<dyn Store>,
    postgres: Option<PostgresStore>,
    _dir: Option<tempfile::TempDir>,
}

impl Fresh {
    /// A fresh store; `schema` names the PostgreSQL schema (dropped first if it exists).
    pub async fn new(backend: Backend, schema: &str) -> Fresh {
        match backend {
            Backend::Memory => Fresh { store: Arc::new(MemoryStore::new()), postgres: None, _dir: None },
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("a temporary directory");
                let store = SqliteStore::open(dir.path().join("admit.db")).await.expect("sqlite opens");
                Fresh { store: Arc::new(store), postgres: None, _dir: Some(dir) }
            }
            Backend::Postgres => {
                let url = std::env::var(URL_VAR).unwrap_or_else(|e| pg_unusable(e));
                let admin =
                    PgPoolOptions::new().max_connections(1).connect(&url).await.unwrap_or_else(|e| pg_unusable(e));
                admin
                    .execute(AssertSqlSafe(format!(
                        "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE; CREATE SCHEMA \"{schema}\""
                    )))
                    .await
                    .unwrap_or_else(|e| pg_unusable(e));
                admin.close().await;
                let store = PostgresStore::new(pg_pool(&url, schema).await);
                store.migrate().await.unwrap_or_else(|e| pg_unusable(e));
                Fresh { store: Arc::new(store.clone()), postgres: Some(store), _dir: None }
            }
        }
    }

    /// Closes the PostgreSQL pool (so that the schema can be dropped without waiting).
    pub async fn close(self) {
        if let Some(postgres) = self.postgres {
            postgres.pool().close().await;
        }
    }
}

/// A facade over a fresh store, rate limits lifted, mails captured.
pub struct Deployment {
    /// The facade.
    pub admit: Admit,
    /// The platform administrator (bootstrapped).
    pub admin: AccountId,
    /// Every mail the dispatchers deliver.
    pub mails: CaptureTransport,
    /// The store.
    pub fresh: Fresh,
}

impl Deployment {
    /// A deployment on a fresh store of `backend` hashing passwords with `params`.
    pub async fn new(backend: Backend, schema: &str, params: Argon2Params) -> Deployment {
        Deployment::with_store(backend, schema, params, |store| store).await
    }

    /// The same, the facade reaching the store through `wrap(store)` (a timing wrapper, say).
    pub async fn with_store(
        backend: Backend,
        schema: &str,
        params: Argon2Params,
        wrap: impl FnOnce(Arc<dyn Store>) -> Arc<dyn Store>,
    ) -> Deployment {
        let fresh = Fresh::new(backend, schema).await;
        let many = Limit::new(u32::MAX, time::Duration::seconds(1));
        let limits = RateLimits {
            resend_per_account: many,
            reset_per_email: many,
            reset_per_requester: many,
            link_failures_per_requester: many,
            sign_in_failures_per_email: many,
            sign_in_consecutive_failures_per_email: Limit::new(100, time::Duration::seconds(1)),
            sign_in_failures_per_requester: many,
            ..RateLimits::default()
        };
        let mails = CaptureTransport::new();
        let admit = Admit::builder()
            .shared_store(wrap(fresh.store.clone()))
            .transport(mails.clone())
            .link_base("http://localhost:8080")
            .sender("Bench", "no-reply@example.org")
            .argon2_params(params)
            .rate_limits(limits)
            .build()
            .expect("a valid configuration");
        let admin = admit
            .bootstrap_administrator(
                "jeanne.martin@example.org",
                "Jeanne Martin",
                SecretString::from("violet meadow under rain 42"),
            )
            .await
            .expect("bootstrap")
            .id;
        Deployment { admit, admin, mails, fresh }
    }
}

/// `n` new members (`person{i}@example.org` for i in `first..first + n`, platform
/// guests), the rows of one batch.
pub fn rows(first: usize, n: usize) -> Vec<CreateAccount> {
    (first..first + n)
        .map(|i| {
            CreateAccount::member(
                &format!("person{i}@example.org"),
                &format!("Camille Dupont {i}"),
                Grant::new(Scope::Platform, Role::Guest),
            )
        })
        .collect()
}

/// The link token in a mail's text.
pub fn token_in(mail: &Message) -> Option<String> {
    let text = mail.text();
    let start = text.find("token=")? + "token=".len();
    Some(text[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || "_-".contains(*c)).collect())
}

/// A multi-thread tokio runtime (one worker per core).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a runtime")
}
