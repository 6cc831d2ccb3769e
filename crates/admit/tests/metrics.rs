//! Metrics through the `metrics` facade, asserted with `metrics-util`'s debugging recorder;
//! and `Dispatcher::health()`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use admit::mail::{Message, Transport, TransportError};
use admit::{Admit, CaptureTransport, CreateAccount, DispatcherConfig, Grant, Invite, MemoryStore, telemetry};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use secrecy::SecretString;

/// Fails transiently while `down` is set, then delivers.
#[derive(Debug, Default)]
struct Flaky {
    down: AtomicBool,
    inner: CaptureTransport,
}

#[async_trait::async_trait]
impl Transport for Flaky {
    async fn send(&self, message: &Message) -> Result<(), TransportError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(TransportError::transient("connection refused"));
        }
        self.inner.send(message).await
    }
}

#[tokio::test(flavor = "current_thread")]
async fn metrics_and_health_carry_no_personal_data() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().expect("the only recorder of this test binary");

    let transport = Arc::new(Flaky::default());
    let admit = Admit::builder()
        .store(MemoryStore::new())
        .shared_transport(transport.clone())
        .link_base("https://console.example.org/")
        .argon2_params(admit::core::password::Argon2Params::dangerous_fast_for_tests())
        .build()
        .expect("admit");
    let admin = admit
        .bootstrap_administrator("ada@example.org", "Ada Lovelace", SecretString::from("Quartz-Lantern-Meadow-91"))
        .await
        .expect("bootstrap");
    for email in ["chloe@example.org", "dev@example.org"] {
        let input = CreateAccount::member(email, "Chloé Martin", Grant::platform_administrator());
        admit.create_account(admin.id, input, Invite::Now).await.expect("created");
    }
    let _ = admit.sign_in("ada@example.org", SecretString::from("wrong password entirely"), "198.51.100.7").await;

    let dispatcher = admit.dispatcher(DispatcherConfig {
        backoff_base: time::Duration::milliseconds(1),
        backoff_max: time::Duration::milliseconds(1),
        ..DispatcherConfig::default()
    });
    assert_eq!(dispatcher.health(), admit::DispatcherHealth::default());
    // The SMTP server is down: two transient failures, the round itself succeeds.
    transport.down.store(true, Ordering::SeqCst);
    dispatcher.run_once().await.expect("round");
    let health = dispatcher.health();
    assert_eq!(health.consecutive_transport_failures, 2);
    assert!(health.last_successful_round.is_some() && health.last_sent.is_none());
    // It is back: both go out, the count resets, and clones share the health.
    transport.down.store(false, Ordering::SeqCst);
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let report = dispatcher.clone().drain().await.expect("drain");
    assert_eq!(report.sent, 2);
    let health = dispatcher.health();
    assert_eq!(health.consecutive_transport_failures, 0);
    assert!(health.last_sent.is_some());

    let snapshot = snapshotter.snapshot().into_vec();
    let value = |name: &str, labels: &[(&str, &str)]| {
        snapshot
            .iter()
            .find(|(key, ..)| {
                key.key().name() == name
                    && labels.iter().all(|(k, v)| key.key().labels().any(|l| l.key() == *k && l.value() == *v))
            })
            .map(|entry| &entry.3)
    };
    assert_eq!(value(telemetry::MAILS_ENQUEUED, &[("template", "invitation")]), Some(&DebugValue::Counter(2)));
    assert_eq!(
        value(telemetry::MAILS_SETTLED, &[("template", "invitation"), ("outcome", "retried")]),
        Some(&DebugValue::Counter(2))
    );
    assert_eq!(
        value(telemetry::MAILS_SETTLED, &[("template", "invitation"), ("outcome", "sent")]),
        Some(&DebugValue::Counter(2))
    );
    match value(telemetry::DELIVERY_LATENCY, &[("template", "invitation")]) {
        Some(DebugValue::Histogram(samples)) => {
            assert_eq!(samples.len(), 2);
            assert!(samples.iter().all(|s| s.into_inner() >= 0.0));
        }
        other => panic!("latency histogram: {other:?}"),
    }
    match value(telemetry::REFUSALS, &[("kind", "sign_in_failed")]) {
        Some(DebugValue::Counter(n)) => assert!(*n >= 1),
        other => panic!("sign-in refusals: {other:?}"),
    }
    match value(telemetry::ARGON2_QUEUE_WAIT, &[]) {
        Some(DebugValue::Histogram(samples)) => assert!(samples.len() >= 2, "bootstrap and sign-in"),
        other => panic!("argon2 wait: {other:?}"),
    }
    assert!(value(telemetry::DISPATCH_ROUNDS, &[("result", "ok")]).is_some());
    assert_eq!(value(telemetry::CONSECUTIVE_TRANSPORT_FAILURES, &[]), Some(&DebugValue::Gauge(0.0.into())));
    // No label value is personal data: no address, name, id or requester.
    for (key, ..) in &snapshot {
        for label in key.key().labels() {
            let v = label.value();
            assert!(
                !v.contains('@') && !v.contains("Chlo") && !v.contains("Ada") && !v.contains("198.51") && v.len() < 40,
                "label {}={v} on {}",
                label.key(),
                key.key().name()
            );
            assert!(v.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "label {}={v}", label.key());
        }
    }
}
