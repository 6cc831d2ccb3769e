//! Two dispatchers (two `Admit` instances, as on two hosts) drain one store at once with a
//! transport that never fails: each mail is delivered exactly once.

mod dispatch_common;

use std::sync::Arc;
use std::time::Instant;

use admit::store::Store;
use admit::{DispatchReport, DispatcherConfig, TestClock};
use admit_core::mail::MailStatus;
use dispatch_common::*;

/// Runs two dispatchers, one over each store (both views of the same data), to the end.
async fn two_dispatchers(first: Arc<dyn Store>, second: Arc<dyn Store>, mails: usize, label: &str) -> Figures {
    let clock = TestClock::default_start();
    let transport = FaultTransport::reliable();
    let enqueued = enqueue(first.as_ref(), &clock, mails, 7, |i| format!("user-{i:05}@example.net")).await;
    // Small batches, so that the two dispatchers' claims overlap often.
    let config = DispatcherConfig { batch_size: 50, ..fault_config() };
    let started = Instant::now();
    let a = admit_over(first.clone(), transport.clone(), &clock).dispatcher(config.clone());
    let b = admit_over(second.clone(), transport.clone(), &clock).dispatcher(config.clone());
    let a = tokio::spawn(async move { a.drain().await.unwrap() });
    let b = tokio::spawn(async move { b.drain().await.unwrap() });
    let (a, b): (DispatchReport, DispatchReport) = (a.await.unwrap(), b.await.unwrap());
    let elapsed = started.elapsed();

    let finals = all_mails(first.as_ref()).await;
    let calls = transport.calls();
    let mut figures = Figures { mails, attempts: transport.total_calls(), ..Figures::default() };
    for mail in &enqueued {
        let sends = calls.get(mail.to.as_str()).map_or(0, Vec::len);
        match finals.get(&mail.id).map(|m| m.status) {
            Some(MailStatus::Sent) => figures.sent += 1,
            Some(MailStatus::Failed) => figures.failed += 1,
            _ => figures.lost += 1,
        }
        if sends > 1 {
            figures.duplicates += 1;
        }
        assert_eq!(sends, 1, "mail {} delivered exactly once", mail.id);
        assert!(calls[mail.to.as_str()].iter().all(|c| c.message_id == mail.message_id(DOMAIN)));
    }
    figures.print(label, "two_dispatchers");
    println!(
        "[two_dispatchers] store={label:<10} elapsed={elapsed:.1?} claimed: first={} second={}",
        a.claimed, b.claimed
    );
    assert_eq!((figures.sent, figures.failed, figures.lost, figures.duplicates), (mails, 0, 0, 0));
    assert_eq!(figures.attempts, mails as u64);
    assert_eq!(a.claimed + b.claimed, mails as u64, "no mail claimed twice");
    assert_eq!(a.sent + b.sent, mails as u64);
    assert_eq!(a.lost_leases + b.lost_leases, 0);
    assert!(a.claimed > 0 && b.claimed > 0, "both dispatchers took part");
    figures
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatch_two_dispatchers_memory() {
    let store: Arc<dyn Store> = Arc::new(admit::MemoryStore::new());
    two_dispatchers(store.clone(), store, 10_000, "memory").await;
}

/// Two stores on one WAL file: two processes sharing the embedded database.
#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatch_two_dispatchers_sqlite() {
    let (_dir, path, first) = sqlite_file().await;
    let second = admit::SqliteStore::open(&path).await.unwrap();
    two_dispatchers(Arc::new(first), Arc::new(second), 10_000, "sqlite").await;
}

/// Two `PostgresStore`s with their own pools on one database: two hosts.
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatch_two_dispatchers_postgres() {
    if !pg::enabled() {
        return;
    }
    let schema = pg::fresh_schema().await;
    let first = pg::store_in(&schema).await;
    let second = pg::store_in(&schema).await;
    two_dispatchers(Arc::new(first), Arc::new(second), 10_000, "postgres").await;
    pg::drop_schema(&schema).await;
}
