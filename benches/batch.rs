//! Batch create + invite of 10,000 accounts in one pass (`Admit::create_accounts` with
//! `Invite::Now`): accounts, invitation tokens, outbox mails and audit entries in one
//! commit. SqliteStore (a WAL file in a temporary directory) and PostgresStore (schema
//! `admit_bench_batch`, skipped when `ADMIT_TEST_POSTGRES_URL` is unset), a fresh store per
//! iteration. See docs/benchmarks.md.
//!
//! ```text
//! cargo bench --bench batch
//! ```

mod stores;

use std::time::{Duration, Instant};

use admit::{BatchRowOutcome, Invite, MAX_BATCH_ROWS};
use admit_core::Argon2Params;
use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use stores::{Backend, Deployment};

/// Rows in the batch.
const ROWS: usize = MAX_BATCH_ROWS;

fn batch_create_invite(c: &mut Criterion) {
    let rt = stores::runtime();
    let mut group = c.benchmark_group("batch_create_invite_10000");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(10));
    for backend in Backend::available(false) {
        group.bench_function(backend.name(), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    total += rt.block_on(async {
                        let deployment =
                            Deployment::new(backend, "admit_bench_batch", Argon2Params::dangerous_fast_for_tests())
                                .await;
                        let rows = stores::rows(0, ROWS);
                        let started = Instant::now();
                        let outcome = deployment
                            .admit
                            .create_accounts(deployment.admin, rows, Invite::Now)
                            .await
                            .expect("the batch is committed");
                        let elapsed = started.elapsed();
                        let invited =
                            outcome.iter().filter(|r| matches!(r.outcome, BatchRowOutcome::Invited(_))).count();
                        assert_eq!(invited, ROWS, "{}: every row invited", backend.name());
                        // The invitations are in the outbox, committed with the accounts.
                        let report = deployment
                            .admit
                            .dispatcher(admit::DispatcherConfig { batch_size: 1, ..Default::default() })
                            .run_once()
                            .await
                            .expect("one mail claimed");
                        assert_eq!(report.sent, 1, "{}: an invitation is pending", backend.name());
                        deployment.fresh.close().await;
                        elapsed
                    });
                }
                total
            })
        });
    }
    group.finish();
}

criterion_group!(benches, batch_create_invite);
criterion_main!(benches);
