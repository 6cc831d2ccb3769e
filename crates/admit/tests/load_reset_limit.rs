//! Load on the self-service reset limit: 1,000 concurrent reset requests for one known
//! address, from many requester keys, with the per-address limit at 25 an hour. Every
//! request gets the same answer (`Ok`), and exactly 25 reset mails (and 25 reset tokens'
//! worth of links) are enqueued: the limit holds exactly under concurrency, on every store.

mod dispatch_common;

use std::sync::Arc;
use std::time::Instant;

use admit::core::password::Argon2Params;
use admit::store::conformance::fixtures::Fixtures;
use admit::store::{AuditQuery, MailQuery, Store};
use admit::{Admit, CaptureTransport, Limit, RateLimits, TestClock};
use admit_core::AccountWrite;
use admit_core::audit::AuditAction;
use admit_core::{ChangeSet, Clock, Lifecycle, MailKind};
use dispatch_common::*;
use time::Duration;

/// Concurrent requests.
const REQUESTS: usize = 1_000;
/// Distinct requester keys (each sends `REQUESTS / REQUESTERS`).
const REQUESTERS: usize = 250;
/// The per-address limit under test.
const PER_EMAIL: u32 = 25;
/// The known address.
const ADDRESS: &str = "known.person@example.net";

/// What one run saw.
#[derive(Debug)]
struct Figures {
    ok: usize,
    reset_mails: usize,
    requested_audits: usize,
    throttled_audits: usize,
}

async fn reset_storm(store: Arc<dyn Store>, label: &str) -> Figures {
    let clock = TestClock::default_start();
    let mut fx = Fixtures::new(11);
    let mut account = fx.account(ADDRESS, clock.now());
    account.lifecycle = Lifecycle::Active;
    account.activated_at = Some(clock.now());
    store
        .commit(ChangeSet { accounts: vec![AccountWrite::Insert(account.clone())], ..ChangeSet::default() })
        .await
        .unwrap();

    let admit = Admit::builder()
        .shared_store(store.clone())
        .transport(CaptureTransport::new())
        .clock(clock.clone())
        .link_base("https://app.example.org")
        .sender("Plateforme", "no-reply@example.org")
        .argon2_params(Argon2Params::dangerous_fast_for_tests())
        .rate_limits(RateLimits {
            reset_per_email: Limit::new(PER_EMAIL, Duration::hours(1)),
            reset_per_requester: Limit::new(100_000, Duration::hours(1)),
            ..RateLimits::default()
        })
        .build()
        .unwrap();

    let started = Instant::now();
    let tasks: Vec<_> = (0..REQUESTS)
        .map(|i| {
            let admit = admit.clone();
            // Vary the case of the address: the limit is on the address's key, not its spelling.
            let typed = if i % 3 == 0 { ADDRESS.to_uppercase() } else { ADDRESS.to_owned() };
            tokio::spawn(
                async move { admit.request_password_reset(&typed, &format!("203.0.113.{}", i % REQUESTERS)).await },
            )
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => ok += 1,
            Err(error) => panic!("{label}: a reset request failed: {error}"),
        }
    }
    let elapsed = started.elapsed();

    let reset_mails = all_mails(store.as_ref())
        .await
        .values()
        .filter(|m| m.kind == MailKind::PasswordReset && m.to == *account.email.as_ref().unwrap())
        .count();
    // Cross-check with the journal's own filters.
    let mut journal = 0;
    let mut query = MailQuery {
        recipient: Some("KNOWN.person@".to_owned()),
        kind: Some(MailKind::PasswordReset),
        limit: 100,
        ..MailQuery::default()
    };
    loop {
        let page = store.journal(&query).await.unwrap();
        journal += page.items.len();
        match page.next {
            Some(next) => query.after = Some(next),
            None => break,
        }
    }
    assert_eq!(journal, reset_mails, "{label}: journal filter and full scan disagree");

    let mut requested_audits = 0;
    let mut throttled_audits = 0;
    let mut query =
        AuditQuery { action: Some(AuditAction::PasswordResetRequested), limit: 500, ..AuditQuery::default() };
    loop {
        let page = store.audit(&query).await.unwrap();
        for entry in &page.items {
            requested_audits += 1;
            if entry.detail.ends_with(" throttled") {
                throttled_audits += 1;
            }
        }
        match page.next {
            Some(next) => query.after = Some(next),
            None => break,
        }
    }
    let figures = Figures { ok, reset_mails, requested_audits, throttled_audits };
    println!("reset storm [{label}]: {REQUESTS} requests in {elapsed:?}: {figures:?}");
    figures
}

fn check(figures: &Figures) {
    assert_eq!(figures.ok, REQUESTS, "every request gets the same answer");
    assert_eq!(figures.reset_mails, PER_EMAIL as usize, "exactly the limit's worth of reset mails");
    assert_eq!(figures.requested_audits, REQUESTS, "every request is audited");
    assert_eq!(figures.throttled_audits, REQUESTS - PER_EMAIL as usize, "the others are audited as throttled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reset_limit_holds_memory() {
    check(&reset_storm(Arc::new(admit::MemoryStore::new()), "memory").await);
}

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reset_limit_holds_sqlite() {
    let (_dir, _path, store) = sqlite_file().await;
    check(&reset_storm(Arc::new(store), "sqlite").await);
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reset_limit_holds_postgres() {
    if !pg::enabled() {
        return;
    }
    let schema = pg::fresh_schema().await;
    let store = pg::store_in(&schema).await;
    let figures = reset_storm(Arc::new(store), "postgres").await;
    pg::drop_schema(&schema).await;
    check(&figures);
}
