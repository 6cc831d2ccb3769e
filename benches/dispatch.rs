//! Draining 10,000 outbox mails to `CaptureTransport` with 1 and with 4 dispatchers running
//! at once (`batch_size` 200, `concurrency` 8, each `drain()` in its own tokio task), on
//! MemoryStore, SqliteStore (a WAL file in a temporary directory) and PostgresStore (schema
//! `admit_bench_dispatch`, skipped when `ADMIT_TEST_POSTGRES_URL` is unset). The mails are
//! enqueued untimed, by a batch create + invite of 10,000 accounts on a fresh store.
//! See docs/benchmarks.md.
//!
//! ```text
//! cargo bench --bench dispatch
//! ```

mod stores;

use std::time::{Duration, Instant};

use admit::{DispatcherConfig, Invite};
use admit_core::Argon2Params;
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use stores::{Backend, Deployment};

/// Mails drained per iteration.
const MAILS: usize = 10_000;

/// Enqueues `MAILS` invitations on a fresh store, then times `dispatchers` concurrent drains.
async fn drain_once(backend: Backend, dispatchers: usize) -> Duration {
    let deployment = Deployment::new(backend, "admit_bench_dispatch", Argon2Params::dangerous_fast_for_tests()).await;
    let config = DispatcherConfig { batch_size: 200, concurrency: 8, ..DispatcherConfig::default() };
    // Whatever the bootstrap enqueued goes first, untimed.
    deployment.admit.dispatcher(config.clone()).drain().await.expect("drained");
    deployment.mails.take();
    deployment.admit.create_accounts(deployment.admin, stores::rows(0, MAILS), Invite::Now).await.expect("enqueued");
    let started = Instant::now();
    let tasks: Vec<_> = (0..dispatchers)
        .map(|_| {
            let dispatcher = deployment.admit.dispatcher(config.clone());
            tokio::spawn(async move { dispatcher.drain().await })
        })
        .collect();
    let mut sent = 0;
    for task in tasks {
        sent += task.await.expect("the task ran").expect("drained").sent;
    }
    let elapsed = started.elapsed();
    assert_eq!(sent, MAILS as u64, "{}: every mail sent once", backend.name());
    assert_eq!(deployment.mails.len(), MAILS, "{}: every mail delivered", backend.name());
    deployment.fresh.close().await;
    elapsed
}

fn dispatch_drain(c: &mut Criterion) {
    let rt = stores::runtime();
    let mut group = c.benchmark_group("dispatch_drain_10000");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Elements(MAILS as u64))
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(5));
    for backend in Backend::available(true) {
        for dispatchers in [1, 4] {
            group.bench_function(format!("{}_{dispatchers}x", backend.name()), |b| {
                b.iter_custom(|iters| (0..iters).map(|_| rt.block_on(drain_once(backend, dispatchers))).sum())
            });
        }
    }
    group.finish();
}

criterion_group!(benches, dispatch_drain);
criterion_main!(benches);
