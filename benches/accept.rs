//! Accept throughput: N invitations accepted at once (N concurrent `accept_invitation`
//! calls, each its own tokio task) with production Argon2 parameters on MemoryStore, for
//! N = 1, 2, 4, 8; and, in the same run, one Argon2id hash at those parameters, the
//! reference: N accepts cannot finish faster than ⌈N ÷ cores⌉ hashes.
//! See docs/benchmarks.md.
//!
//! ```text
//! cargo bench --bench accept
//! ```

mod stores;

use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use admit::secrecy::SecretString;
use admit::{DispatcherConfig, Invite};
use admit_core::{Argon2Params, PasswordHasher};
use argon2::PasswordHasher as _;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use stores::{Backend, Deployment};

const PASSWORD: &str = "une phrase de passe assez longue";

/// Invites `n` new accounts (untimed), then times their `n` concurrent acceptances.
async fn accept_once(deployment: &Deployment, next: &AtomicUsize, n: usize) -> Duration {
    let first = next.fetch_add(n, Ordering::Relaxed);
    deployment.admit.create_accounts(deployment.admin, stores::rows(first, n), Invite::Now).await.expect("invited");
    deployment.admit.dispatcher(DispatcherConfig::default()).drain().await.expect("delivered");
    let tokens: Vec<String> =
        deployment.mails.take().iter().map(|m| stores::token_in(m).expect("a link")).collect::<Vec<_>>();
    assert_eq!(tokens.len(), n);
    let started = Instant::now();
    let tasks: Vec<_> = tokens
        .into_iter()
        .map(|token| {
            let admit = deployment.admit.clone();
            tokio::spawn(async move {
                let password = || SecretString::from(PASSWORD);
                admit.accept_invitation(&token, password(), password(), "203.0.113.7").await
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("the task ran").expect("accepted");
    }
    let elapsed = started.elapsed();
    // The "password changed" / welcome mails, if any, are not this benchmark's concern.
    deployment.admit.dispatcher(DispatcherConfig::default()).drain().await.expect("delivered");
    deployment.mails.take();
    elapsed
}

fn accept_concurrent(c: &mut Criterion) {
    let rt = stores::runtime();
    let mut group = c.benchmark_group("accept_concurrent");
    group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    let hasher = PasswordHasher::new(Argon2Params::default());
    let password = SecretString::from(PASSWORD);
    let mut rng = rand::rng();
    group.throughput(Throughput::Elements(1));
    group.bench_function("argon2id_hash_default", |b| b.iter(|| hasher.hash(black_box(&password), &mut rng)));
    // The same hash as the argon2 crate computes it when called plainly (a fresh 19 MiB
    // allocation per hash): the reference does not depend on admit's memory reuse.
    let argon2 = argon2::Argon2::default();
    group.bench_function("argon2_crate_hash_password", |b| {
        b.iter(|| {
            let salt: [u8; 16] = rand::random();
            argon2.hash_password_with_salt(black_box(PASSWORD.as_bytes()), &salt).expect("hashed")
        })
    });
    // The machine's own parallel ceiling: one hash on each core at once, plain threads.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    group.throughput(Throughput::Elements(cores as u64));
    group.bench_function(format!("argon2id_hash_default_x{cores}_threads"), |b| {
        b.iter(|| {
            std::thread::scope(|scope| {
                for _ in 0..cores {
                    scope.spawn(|| hasher.hash(black_box(&password), &mut rand::rng()));
                }
            })
        })
    });
    let deployment = rt.block_on(Deployment::new(Backend::Memory, "unused", Argon2Params::default()));
    let next = AtomicUsize::new(0);
    for n in [1, 2, 4, 8] {
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(format!("memory_{n}"), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| rt.block_on(accept_once(&deployment, &next, n))).sum())
        });
    }
    group.finish();
}

criterion_group!(benches, accept_concurrent);
criterion_main!(benches);
