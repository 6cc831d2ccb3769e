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
use std::sync::Mutex;
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
/// Before them, times one hash alone with the deployment's parameters into `paired`: the
/// machine's speed drifts by tens of percent over a minute, so each figure gets a
/// reference taken right beside it.
async fn accept_once(
    deployment: &Deployment,
    next: &AtomicUsize,
    n: usize,
    hasher: &PasswordHasher,
    paired: &Mutex<Vec<u64>>,
) -> Duration {
    let first = next.fetch_add(n, Ordering::Relaxed);
    deployment.admit.create_accounts(deployment.admin, stores::rows(first, n), Invite::Now).await.expect("invited");
    deployment.admit.dispatcher(DispatcherConfig::default()).drain().await.expect("delivered");
    let tokens: Vec<String> =
        deployment.mails.take().iter().map(|m| stores::token_in(m).expect("a link")).collect::<Vec<_>>();
    assert_eq!(tokens.len(), n);
    let alone = Instant::now();
    black_box(hasher.hash(&SecretString::from(PASSWORD), &mut rand::rng()).expect("hashed"));
    paired.lock().expect("not poisoned").push(alone.elapsed().as_nanos() as u64);
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
    let mut paired_hashes = Vec::new();
    for n in [1, 2, 4, 8] {
        let paired = Mutex::new(Vec::new());
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(format!("memory_{n}"), |b| {
            b.iter_custom(|iters| {
                (0..iters).map(|_| rt.block_on(accept_once(&deployment, &next, n, &hasher, &paired))).sum()
            })
        });
        let samples = paired.into_inner().expect("not poisoned");
        paired_hashes.push(format!("\"memory_{n}\": {samples:?}"));
    }
    group.finish();
    // The hashes timed beside each figure, for benches/table.py (criterion knows nothing
    // of them). Written only when criterion measured (not under `cargo test`).
    let folder = criterion_folder().join("accept_concurrent");
    if folder.is_dir() {
        let json = format!("{{{}}}\n", paired_hashes.join(", "));
        std::fs::write(folder.join("paired_hash_ns.json"), json).expect("written");
    }
}

/// Where criterion writes its results: `$CARGO_TARGET_DIR/criterion`, else `target/criterion`
/// at the workspace root (benches run with the package directory as working directory).
fn criterion_folder() -> std::path::PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => std::path::PathBuf::from(dir).join("criterion"),
        None => std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/criterion"),
    }
}

criterion_group!(benches, accept_concurrent);
criterion_main!(benches);
