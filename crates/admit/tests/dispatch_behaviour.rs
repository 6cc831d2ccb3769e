//! The dispatcher's behaviour, case by case on MemoryStore: graceful shutdown, store
//! outages, lost leases, the lease left before a send, backoff and giving up, interrupted
//! attempts, permanent failures, and what its tracing shows.

mod dispatch_common;

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use admit::store::conformance::fixtures::Fixtures;
use admit::store::{MailClaim, Store};
use admit::{DispatchReport, DispatcherConfig, MemoryStore, TestClock};
use admit_core::mail::MailStatus;
use admit_core::{ChangeSet, Clock};
use dispatch_common::*;
use time::Duration;

fn memory() -> Arc<dyn Store> {
    Arc::new(MemoryStore::new())
}

fn users(i: usize) -> String {
    format!("user-{i:05}@example.net")
}

fn config(batch_size: u32, concurrency: usize) -> DispatcherConfig {
    DispatcherConfig { batch_size, concurrency, ..fault_config() }
}

async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if done() {
            return;
        }
        tokio::time::sleep(StdDuration::from_millis(10)).await;
    }
    panic!("timed out waiting for: {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatch_shutdown_finishes_sends_under_way_and_releases_the_rest() {
    shutdown_mid_round(memory()).await;
}

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatch_shutdown_finishes_sends_under_way_and_releases_the_rest_sqlite() {
    let (_dir, _path, store) = sqlite_file().await;
    shutdown_mid_round(Arc::new(store)).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatch_shutdown_finishes_sends_under_way_and_releases_the_rest_postgres() {
    if !pg::enabled() {
        return;
    }
    let schema = pg::fresh_schema().await;
    shutdown_mid_round(Arc::new(pg::store_in(&schema).await)).await;
    pg::drop_schema(&schema).await;
}

async fn shutdown_mid_round(store: Arc<dyn Store>) {
    let clock = TestClock::default_start();
    let transport = GateTransport::closed();
    enqueue(store.as_ref(), &clock, 50, 1, users).await;
    let dispatcher = admit_over(store.clone(), transport.clone(), &clock).dispatcher(config(50, 4));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(async move {
        dispatcher
            .run(async {
                let _ = stopped.await;
            })
            .await
    });
    transport.wait_started(4).await;
    stop.send(()).unwrap();
    tokio::time::sleep(StdDuration::from_millis(100)).await;
    assert!(!run.is_finished(), "run waits for the sends under way");
    transport.let_through(4);
    let report = tokio::time::timeout(StdDuration::from_secs(10), run).await.unwrap().unwrap();
    assert_eq!(report, DispatchReport { claimed: 50, sent: 4, released: 46, ..DispatchReport::default() });
    assert_eq!(transport.started(), 4, "no send starts after the stop");

    let mails = all_mails(store.as_ref()).await;
    assert!(mails.values().all(|m| m.lease.is_none()), "no mail stays leased after run returns");
    let sent = mails.values().filter(|m| m.status == MailStatus::Sent).count();
    assert_eq!(sent, 4);
    let released: Vec<_> = mails.values().filter(|m| m.status == MailStatus::Pending).collect();
    assert_eq!(released.len(), 46);
    assert!(released.iter().all(|m| m.attempts == 0), "a released mail's attempt is taken back");

    // The next dispatcher delivers the rest, each once.
    transport.let_through(1000);
    let rest = admit_over(store.clone(), transport.clone(), &clock).dispatcher(config(50, 4)).drain().await.unwrap();
    assert_eq!(rest.sent, 46);
    let delivered = transport.delivered();
    assert_eq!(delivered.len(), 50);
    assert_eq!(delivered.iter().map(|(to, _)| to).collect::<HashSet<_>>().len(), 50, "each mail delivered once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatch_shutdown_while_idle_returns_at_once() {
    let store = memory();
    let clock = TestClock::default_start();
    let config = DispatcherConfig { idle_poll: StdDuration::from_secs(3600), ..fault_config() };
    let dispatcher = admit_over(store, GateTransport::open(), &clock).dispatcher(config);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(async move {
        dispatcher
            .run(async {
                let _ = stopped.await;
            })
            .await
    });
    tokio::time::sleep(StdDuration::from_millis(50)).await;
    assert!(!run.is_finished());
    stop.send(()).unwrap();
    let report = tokio::time::timeout(StdDuration::from_secs(5), run).await.expect("the idle pause ends on shutdown");
    assert_eq!(report.unwrap(), DispatchReport::default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatch_run_survives_a_store_outage_and_resumes() {
    let flaky = FlakyStore::new(memory());
    let store: Arc<dyn Store> = Arc::new(flaky.clone());
    let clock = TestClock::default_start();
    let transport = GateTransport::open();
    enqueue(store.as_ref(), &clock, 20, 2, users).await;
    flaky.down.store(true, Ordering::SeqCst);
    let dispatcher = admit_over(store.clone(), transport.clone(), &clock).dispatcher(config(50, 4));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(async move {
        dispatcher
            .run(async {
                let _ = stopped.await;
            })
            .await
    });
    tokio::time::sleep(StdDuration::from_millis(200)).await;
    assert!(transport.delivered().is_empty(), "nothing is sent while the store is down");
    assert!(!run.is_finished(), "run keeps retrying through the outage");
    flaky.down.store(false, Ordering::SeqCst);
    eventually("every mail delivered after the outage", || transport.delivered().len() == 20).await;
    stop.send(()).unwrap();
    let report = tokio::time::timeout(StdDuration::from_secs(10), run).await.unwrap().unwrap();
    assert_eq!(report.sent, 20);
    assert!(all_mails(store.as_ref()).await.values().all(|m| m.status == MailStatus::Sent));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatch_outage_between_send_and_mark_leads_to_one_resend_with_the_same_message_id() {
    let flaky = FlakyStore::new(memory());
    let store: Arc<dyn Store> = Arc::new(flaky.clone());
    let clock = TestClock::default_start();
    let transport = GateTransport::open();
    // The store goes down right after the 5th delivery, before it is marked.
    *transport.outage_on.lock().unwrap() = Some((5, flaky.down.clone()));
    enqueue(store.as_ref(), &clock, 20, 3, users).await;
    let config = config(20, 1);
    let dispatcher = admit_over(store.clone(), transport.clone(), &clock).dispatcher(config.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(async move {
        dispatcher
            .run(async {
                let _ = stopped.await;
            })
            .await
    });
    eventually("five deliveries", || transport.delivered().len() == 5).await;
    tokio::time::sleep(StdDuration::from_millis(100)).await;
    assert_eq!(transport.delivered().len(), 5, "no send starts once the store failed");
    flaky.down.store(false, Ordering::SeqCst);
    tokio::time::sleep(StdDuration::from_millis(100)).await;
    assert_eq!(transport.delivered().len(), 5, "the unsettled mails stay leased until the lease lapses");
    clock.advance(config.lease + Duration::seconds(1));
    eventually("the rest delivered", || transport.delivered().len() == 21).await;
    stop.send(()).unwrap();
    tokio::time::timeout(StdDuration::from_secs(10), run).await.unwrap().unwrap();

    let delivered = transport.delivered();
    let fifth = delivered[4].clone();
    let twice: Vec<_> = delivered.iter().filter(|d| **d == fifth).collect();
    assert_eq!(twice.len(), 2, "the mail whose mark failed is re-sent once, with the same Message-ID");
    assert_eq!(delivered.iter().map(|(to, _)| to).collect::<HashSet<_>>().len(), 20);
    let mails = all_mails(store.as_ref()).await;
    assert!(mails.values().all(|m| m.status == MailStatus::Sent && m.lease.is_none()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatch_a_late_mark_after_the_lease_passed_on_counts_as_lost() {
    let store = memory();
    let clock = TestClock::default_start();
    let mails = enqueue(store.as_ref(), &clock, 1, 4, users).await;
    let slow = GateTransport::closed();
    let fast = GateTransport::open();
    let config = config(10, 1);
    let a = admit_over(store.clone(), slow.clone(), &clock).dispatcher(config.clone());
    let a = tokio::spawn(async move { a.run_once().await });
    slow.wait_started(1).await;
    clock.advance(config.lease + Duration::seconds(1));
    let b = admit_over(store.clone(), fast.clone(), &clock).dispatcher(config.clone()).run_once().await.unwrap();
    assert_eq!((b.claimed, b.sent), (1, 1), "a lapsed lease passes the mail on");
    slow.let_through(1);
    let a = a.await.unwrap().unwrap();
    assert_eq!(a, DispatchReport { claimed: 1, lost_leases: 1, ..DispatchReport::default() });
    let mail = store.mail(mails[0].id).await.unwrap().unwrap();
    assert_eq!((mail.status, mail.attempts), (MailStatus::Sent, 2));
    assert_eq!(slow.delivered()[0].1, fast.delivered()[0].1, "both sends carry the same Message-ID");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatch_releases_mails_when_too_little_of_the_lease_is_left() {
    let store = memory();
    let clock = TestClock::default_start();
    enqueue(store.as_ref(), &clock, 10, 5, users).await;
    let transport = GateTransport::closed();
    let config = config(10, 1);
    let a = admit_over(store.clone(), transport.clone(), &clock).dispatcher(config.clone());
    let a = tokio::spawn(async move { a.run_once().await });
    transport.wait_started(1).await;
    // The first send takes three of the lease's five minutes.
    clock.advance(Duration::minutes(3));
    transport.let_through(100);
    let report = a.await.unwrap().unwrap();
    assert_eq!(report, DispatchReport { claimed: 10, sent: 1, released: 9, ..DispatchReport::default() });
    let mails = all_mails(store.as_ref()).await;
    let pending: Vec<_> = mails.values().filter(|m| m.status == MailStatus::Pending).collect();
    assert_eq!(pending.len(), 9);
    assert!(pending.iter().all(|m| m.lease.is_none() && m.attempts == 0));
    let rest = admit_over(store.clone(), transport.clone(), &clock).dispatcher(config).drain().await.unwrap();
    assert_eq!(rest.sent, 9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatch_transient_failures_back_off_exponentially_then_give_up() {
    let store = memory();
    let clock = TestClock::default_start();
    let mails = enqueue(store.as_ref(), &clock, 1, 6, users).await;
    let transport = FaultTransport::new(100);
    let config = DispatcherConfig {
        max_attempts: 5,
        backoff_base: Duration::seconds(10),
        backoff_max: Duration::seconds(60),
        ..fault_config()
    };
    let dispatcher = admit_over(store.clone(), transport.clone(), &clock).dispatcher(config);
    for attempt in 1..=5u32 {
        let report = dispatcher.drain().await.unwrap();
        assert_eq!(report.claimed, 1);
        let mail = store.mail(mails[0].id).await.unwrap().unwrap();
        assert_eq!(mail.attempts, attempt);
        if attempt < 5 {
            assert_eq!((report.retried, mail.status), (1, MailStatus::Pending));
            let ceiling = Duration::seconds(60).min(Duration::seconds(10) * 2i32.pow(attempt - 1));
            let delay = mail.next_attempt_at.since(clock.now());
            assert!(
                delay >= ceiling / 2 && delay <= ceiling,
                "attempt {attempt}: {delay} not in [{}, {ceiling}]",
                ceiling / 2
            );
            assert!(mail.last_error.as_deref().unwrap().contains("421 try again later"));
            assert_eq!(dispatcher.drain().await.unwrap().claimed, 0, "not due before the backoff ends");
            clock.set(mail.next_attempt_at);
        } else {
            assert_eq!((report.failed, mail.status), (1, MailStatus::Failed));
            assert_eq!(
                mail.last_error.as_deref(),
                Some("gave up after 5 attempts: transient mail transport failure: 421 try again later")
            );
        }
    }
    assert_eq!(transport.total_calls(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatch_gives_up_a_mail_whose_claims_keep_being_interrupted() {
    let store = memory();
    let clock = TestClock::default_start();
    let mails = enqueue(store.as_ref(), &clock, 1, 7, users).await;
    let config = DispatcherConfig { max_attempts: 3, ..fault_config() };
    // Three dispatchers claimed it and died before settling it.
    for n in 0..3 {
        let claim = MailClaim { owner: format!("dead-{n}"), now: clock.now(), lease: config.lease, limit: 10 };
        assert_eq!(store.claim_mails(&claim).await.unwrap().len(), 1);
        clock.advance(config.lease + Duration::seconds(1));
    }
    let transport = FaultTransport::new(0);
    let report = admit_over(store.clone(), transport.clone(), &clock).dispatcher(config).drain().await.unwrap();
    assert_eq!((report.claimed, report.failed), (1, 1));
    assert_eq!(transport.total_calls(), 0, "not sent again");
    let mail = store.mail(mails[0].id).await.unwrap().unwrap();
    assert_eq!(mail.status, MailStatus::Failed);
    assert_eq!(
        mail.last_error.as_deref(),
        Some("gave up after 4 attempts, the last ones interrupted before they settled")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatch_fails_at_once_a_mail_that_cannot_be_rendered() {
    let store = memory();
    let clock = TestClock::default_start();
    // A reset mail with no intent (as the migration leaves one enqueued before intents):
    // nothing to mint, nothing to send.
    let broken = mail_record(&mut Fixtures::new(8), clock.now(), 0, "user-00000@example.net");
    store.commit(ChangeSet { mails: vec![broken.clone()], ..ChangeSet::default() }).await.unwrap();
    let transport = FaultTransport::new(0);
    let report = admit_over(store.clone(), transport.clone(), &clock).dispatcher(fault_config()).drain().await.unwrap();
    assert_eq!((report.claimed, report.failed, report.retried), (1, 1, 0));
    assert_eq!(transport.total_calls(), 0);
    let mail = store.mail(broken.id).await.unwrap().unwrap();
    assert_eq!((mail.status, mail.attempts), (MailStatus::Failed, 1));
    assert_eq!(
        mail.last_error.as_deref(),
        Some("no secret to send (mail enqueued before secrets were minted at dispatch); issue it again")
    );
}

/// A subscriber keeping every span and event, with all their fields, as text.
struct Capture {
    lines: Arc<Mutex<Vec<String>>>,
    next: std::sync::atomic::AtomicU64,
}

struct Fields<'a>(&'a mut String);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!(" {}={value:?}", field.name()));
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let mut line = format!("span {}", span.metadata().name());
        span.record(&mut Fields(&mut line));
        self.lines.lock().unwrap().push(line);
        tracing::span::Id::from_u64(self.next.fetch_add(1, Ordering::Relaxed))
    }
    fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        let mut line = "record".to_owned();
        values.record(&mut Fields(&mut line));
        self.lines.lock().unwrap().push(line);
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut line = format!("event {}", event.metadata().level());
        event.record(&mut Fields(&mut line));
        self.lines.lock().unwrap().push(line);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

// The capture is this test binary's global subscriber: a thread-local one (`set_default`)
// was flaky, as callsites first hit by other tests' threads could keep a cached "never"
// interest. Other tests' lines land in the buffer too; every check below is either about
// this test's own mails or holds for every mail of every test.
static TRACES: std::sync::OnceLock<Arc<Mutex<Vec<String>>>> = std::sync::OnceLock::new();

#[tokio::test]
async fn dispatch_tracing_shows_mail_ids_never_secrets_or_addresses() {
    let lines = TRACES
        .get_or_init(|| {
            let lines = Arc::new(Mutex::new(Vec::new()));
            let capture = Capture { lines: lines.clone(), next: std::sync::atomic::AtomicU64::new(1) };
            tracing::subscriber::set_global_default(capture).expect("the only global subscriber of this binary");
            lines
        })
        .clone();
    let flaky = FlakyStore::new(memory());
    let store: Arc<dyn Store> = Arc::new(flaky.clone());
    let clock = TestClock::default_start();
    let mails = enqueue(store.as_ref(), &clock, 60, 9, recipient).await;
    let transport = FaultTransport::new(30);
    let admit = admit_over(store.clone(), transport.clone(), &clock);
    flaky.down.store(true, Ordering::SeqCst);
    assert!(admit.dispatcher(fault_config()).run_once().await.is_err());
    flaky.down.store(false, Ordering::SeqCst);
    drain_until_settled(&admit, &clock, &fault_config()).await;

    let lines = lines.lock().unwrap().clone();
    let text = lines.join("\n");
    assert!(text.contains("span admit.mail"), "one span per attempt");
    assert!(mails.iter().all(|m| text.contains(&format!("mail_id={}", m.id))), "spans carry the mail id");
    assert!(text.contains("transient delivery failure") && text.contains("delivery failed"));
    assert!(text.contains("dispatch round") && text.contains("claimed="), "rounds report their counters");
    for mail in &mails {
        assert!(!text.contains(mail.to.as_str()), "an address in the traces");
        assert!(!text.contains(&mail.params.recipient_name), "a name in the traces");
    }
    // Every token minted starts with `adm_`: none reached the traces.
    assert!(!text.contains(SECRET_MARK) && !text.contains("token=") && !text.contains("example.net"));
    assert!(!text.contains("Personne"));
}
