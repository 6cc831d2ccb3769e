//! Fault injection: 10,000 mails through a transport that fails transiently 30% of the
//! time and permanently for `bounce-*` recipients, with the dispatcher killed mid-batch and
//! a fresh one draining after the lease lapses. At the end every mail is sent (once, or
//! re-sent with the same Message-ID if it was in flight at the crash) or failed with its
//! reason; none is lost; the journal holds no secret. Each mail's link is minted at
//! dispatch: a mail re-sent after the crash carries a new verifier, and only the link of
//! its last send opens the account.

mod dispatch_common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use admit::TestClock;
use admit::store::Store;
use admit_core::mail::MailStatus;
use admit_core::{MailId, MailRecord};
use dispatch_common::*;
use time::Duration;

const MAILS: usize = 10_000;
/// Deliveries before the first dispatcher "dies".
const CRASH_AFTER: u64 = 3_000;

/// `restarted` is the store the restarted process opens: the same data as `store`.
async fn fault_injection(store: Arc<dyn Store>, restarted: Arc<dyn Store>, label: &str) -> Figures {
    let clock = TestClock::default_start();
    let transport = FaultTransport::new(30);
    let config = fault_config();
    let enqueued = enqueue(store.as_ref(), &clock, MAILS, 42, recipient).await;
    let started = Instant::now();

    // The first dispatcher hands mails over until the crash point, then every send that
    // succeeds never returns; once they are stuck, the process is killed.
    transport.crash_after(Some(CRASH_AFTER));
    let first = admit_over(store.clone(), transport.clone(), &clock).dispatcher(config.clone());
    let task = tokio::spawn(async move { first.drain().await });
    tokio::time::timeout(StdDuration::from_secs(60), transport.wait_parked(1))
        .await
        .expect("the crash point is reached");
    // Let the other sends under way park or settle, then kill it.
    tokio::time::sleep(StdDuration::from_millis(300)).await;
    task.abort();
    let killed = task.await.expect_err("the first dispatcher was still running");
    assert!(killed.is_cancelled());
    tokio::time::sleep(StdDuration::from_millis(100)).await;
    transport.crash_after(None);
    let parked = transport.parked();

    // What the crash left: mails handed over but not marked, and claims never sent.
    let at_crash = all_mails(store.as_ref()).await;
    let calls_at_crash = transport.calls();
    let calls_of = |calls: &HashMap<String, Vec<Call>>, mail: &MailRecord| {
        calls.get(mail.to.as_str()).cloned().unwrap_or_default()
    };
    let mut in_flight = HashSet::new();
    let mut stolen: HashMap<MailId, u32> = HashMap::new();
    for mail in &enqueued {
        let then = &at_crash[&mail.id];
        let calls = calls_of(&calls_at_crash, mail);
        let unmarked = then.status == MailStatus::Pending;
        if unmarked && calls.last().is_some_and(|c| c.outcome == Outcome::Delivered) {
            in_flight.insert(mail.id);
        }
        let claims_without_send = then.attempts - calls.len() as u32;
        assert!(claims_without_send <= 1, "a claim without a send only in the killed round");
        assert!(claims_without_send == 0 || unmarked, "a claim without a send is never settled");
        stolen.insert(mail.id, claims_without_send);
    }
    assert!(parked >= 1 && in_flight.len() >= parked, "every parked send is in flight ({parked} parked)");

    // Restart: a fresh instance after the lease lapsed, draining to the end.
    clock.advance(config.lease + Duration::seconds(1));
    let restarted = admit_over(restarted, transport.clone(), &clock);
    drain_until_settled(&restarted, &clock, &config).await;
    let elapsed = started.elapsed();

    let finals: BTreeMap<MailId, MailRecord> = all_mails(store.as_ref()).await;
    let calls = transport.calls();
    let mut figures = Figures {
        mails: enqueued.len(),
        attempts: transport.total_calls(),
        in_flight_at_crash: in_flight.len(),
        ..Figures::default()
    };
    assert_eq!(finals.len(), MAILS, "the journal holds every mail");
    for mail in &enqueued {
        let Some(last) = finals.get(&mail.id) else {
            figures.lost += 1;
            continue;
        };
        let calls = calls_of(&calls, mail);
        let message_id = mail.message_id(DOMAIN);
        assert!(calls.iter().all(|c| c.message_id == message_id), "every send of a mail has its Message-ID");
        assert_eq!(
            last.attempts,
            calls.len() as u32 + stolen[&mail.id],
            "attempts count the sends plus the claim lost in the crash"
        );
        let deliveries = calls.iter().filter(|c| c.outcome == Outcome::Delivered).count();
        let was_in_flight = in_flight.contains(&mail.id);
        if deliveries > 1 {
            assert!(was_in_flight, "only a mail in flight at the crash is sent twice");
            assert_eq!(deliveries, 2);
            figures.duplicates += 1;
        }
        let bounces = mail.to.as_str().starts_with("bounce-");
        assert!(last.params.secret.is_none(), "the journal never shows a secret");
        match last.status {
            MailStatus::Sent => {
                figures.sent += 1;
                assert!(!bounces);
                assert!(calls.last().is_some_and(|c| c.outcome == Outcome::Delivered), "sent after a delivery");
                assert!(last.sent_at.is_some());
            }
            MailStatus::Failed => {
                figures.failed += 1;
                let reason = last.last_error.as_deref().unwrap_or_default();
                assert!(!reason.is_empty(), "a failed mail carries its reason");
                assert!(last.failed_at.is_some());
                if bounces {
                    figures.failed_permanent += 1;
                    assert_eq!(calls.len(), 1, "a permanent failure is not retried");
                    assert_eq!(calls[0].outcome, Outcome::Permanent);
                    assert!(reason.contains("550 mailbox unavailable"), "{reason}");
                } else {
                    assert!(last.attempts >= config.max_attempts, "gave up only after max_attempts: {last:?}");
                    assert!(reason.starts_with("gave up after"), "{reason}");
                    let undelivered = calls.iter().filter(|c| c.outcome != Outcome::Delivered).count();
                    assert!(
                        calls.iter().all(|c| c.outcome != Outcome::Permanent)
                            && undelivered + deliveries == calls.len()
                    );
                    assert_eq!(deliveries, usize::from(was_in_flight), "a failed mail was delivered only in the crash");
                }
            }
            MailStatus::Pending | MailStatus::Superseded => figures.lost += 1,
        }
    }
    let journal = format!("{finals:?}");
    assert!(!journal.contains(SECRET_MARK), "no secret anywhere in the journal");

    figures.print(label, "fault_injection");
    println!("[fault_injection] store={label:<10} elapsed={elapsed:.1?} parked_at_crash={parked}");
    assert_eq!(figures.lost, 0, "no mail lost");
    assert_eq!(figures.sent + figures.failed, MAILS);
    assert_eq!(figures.failed_permanent, (0..MAILS).filter(|i| recipient(*i).starts_with("bounce-")).count());
    assert!(figures.duplicates >= 1 && figures.duplicates <= figures.in_flight_at_crash);
    assert!(figures.attempts > MAILS as u64 * 5 / 4, "about 30% of the sends failed and were retried");
    figures
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatch_fault_injection_memory() {
    let store: Arc<dyn Store> = Arc::new(admit::MemoryStore::new());
    fault_injection(store.clone(), store, "memory").await;
}

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatch_fault_injection_sqlite() {
    let (_dir, path, store) = sqlite_file().await;
    let restarted = admit::SqliteStore::open(&path).await.unwrap();
    fault_injection(Arc::new(store), Arc::new(restarted), "sqlite").await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatch_fault_injection_postgres() {
    if !pg::enabled() {
        return;
    }
    let schema = pg::fresh_schema().await;
    let store = pg::store_in(&schema).await;
    let restarted = pg::store_in(&schema).await;
    fault_injection(Arc::new(store), Arc::new(restarted), "postgres").await;
    pg::drop_schema(&schema).await;
}
