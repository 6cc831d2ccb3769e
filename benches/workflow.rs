//! Whole workflows through the facade, on MemoryStore and on SqliteStore (a file, WAL),
//! with mails captured in memory. See docs/benchmarks.md.
//!
//! ```text
//! cargo bench --bench workflow
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use admit::mail::{CaptureTransport, Message};
use admit::secrecy::SecretString;
use admit::{
    Admit, CreateAccount, Dispatcher, DispatcherConfig, Grant, Invite, Limit, RateLimits, Role, Scope, SqliteStore,
};
use admit::{MemoryStore, store::Store};
use admit_core::{AccountId, Argon2Params};
use criterion::{Criterion, criterion_group, criterion_main};
use tokio::runtime::Runtime;

/// One deployment under test.
struct Deployment {
    admit: Admit,
    admin: AccountId,
    mails: CaptureTransport,
    dispatcher: Dispatcher,
    next: AtomicU64,
    _dir: tempfile::TempDir,
}

const PASSWORD: &str = "une phrase de passe assez longue";

impl Deployment {
    async fn new(sqlite: bool, params: Argon2Params) -> Deployment {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store: Arc<dyn Store> = if sqlite {
            Arc::new(SqliteStore::open(dir.path().join("admit.db")).await.expect("sqlite opens"))
        } else {
            Arc::new(MemoryStore::new())
        };
        // Limits out of the way: the benchmark repeats what a person would do a few times.
        let many = Limit::new(u32::MAX, time::Duration::seconds(1));
        let limits = RateLimits {
            resend_per_account: many,
            reset_per_email: many,
            reset_per_requester: many,
            link_failures_per_requester: many,
            sign_in_failures_per_email: many,
        };
        let mails = CaptureTransport::new();
        let admit = Admit::builder()
            .shared_store(store)
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
        let dispatcher = admit.dispatcher(DispatcherConfig::default());
        Deployment { admit, admin, mails, dispatcher, next: AtomicU64::new(0), _dir: dir }
    }

    fn fresh_email(&self) -> String {
        format!("person{}@example.org", self.next.fetch_add(1, Ordering::Relaxed))
    }

    /// Creates and invites an account, delivers the invitation, follows its link.
    async fn invite_accept(&self) {
        let email = self.fresh_email();
        let input = CreateAccount::member(&email, "Camille Dupont", Grant::new(Scope::Platform, Role::Guest));
        self.admit.create_account(self.admin, input, Invite::Now).await.expect("created");
        self.dispatcher.drain().await.expect("delivered");
        let mail = self.mails.take().into_iter().find(|m| m.to().address.as_str() == email).expect("an invitation");
        let token = token_in(&mail).expect("a link");
        let password = || SecretString::from(PASSWORD);
        self.admit.accept_invitation(&token, password(), password(), "203.0.113.7").await.expect("accepted");
    }
}

fn token_in(mail: &Message) -> Option<String> {
    let text = mail.text();
    let start = text.find("token=")? + "token=".len();
    Some(text[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || "_-".contains(*c)).collect())
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a runtime")
}

fn invite_accept(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("workflow_invite_accept");
    for (backend, sqlite) in [("memory", false), ("sqlite", true)] {
        for (name, params) in
            [("production", Argon2Params::default()), ("cheapest", Argon2Params::dangerous_fast_for_tests())]
        {
            let deployment = rt.block_on(Deployment::new(sqlite, params));
            group.bench_function(format!("{backend}_{name}"), |b| b.iter(|| rt.block_on(deployment.invite_accept())));
        }
    }
    group.finish();
}

fn reset_request(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("workflow_reset_request");
    for (backend, sqlite) in [("memory", false), ("sqlite", true)] {
        let deployment = rt.block_on(async {
            let deployment = Deployment::new(sqlite, Argon2Params::dangerous_fast_for_tests()).await;
            deployment.invite_accept().await; // person0 is active
            deployment
        });
        let request = |email: &'static str| {
            rt.block_on(deployment.admit.request_password_reset(email, "198.51.100.9")).expect("same answer")
        };
        group.bench_function(format!("{backend}_known"), |b| b.iter(|| request("person0@example.org")));
        group.bench_function(format!("{backend}_unknown"), |b| b.iter(|| request("nobody@example.org")));
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default().sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4))
}

criterion_group! {
    name = workflow;
    config = config();
    targets = invite_accept, reset_request
}
criterion_main!(workflow);
