//! Argon2id hashing and verification at admit's default parameters (OWASP: m = 19 MiB,
//! t = 2, p = 1). See docs/benchmarks.md.
//!
//! ```text
//! cargo bench --bench passwords
//! ```

use std::hint::black_box;
use std::time::Duration;

use admit_core::{Argon2Params, PasswordHasher};
use argon2::PasswordHasher as _;
use criterion::{Criterion, criterion_group, criterion_main};
use secrecy::{ExposeSecret, SecretString};

fn passwords(c: &mut Criterion) {
    let hasher = PasswordHasher::new(Argon2Params::default());
    let password = SecretString::from("correct horse battery staple");
    let wrong = SecretString::from("correct horse battery stapler");
    let mut rng = rand::rng();
    let stored = hasher.hash(&password, &mut rng).expect("hashing works");

    let mut group = c.benchmark_group("passwords");
    group.bench_function("argon2id_hash_default", |b| b.iter(|| hasher.hash(black_box(&password), &mut rng)));
    group.bench_function("argon2id_verify_default", |b| {
        b.iter(|| assert!(hasher.verify(black_box(&password), &stored).expect("a valid hash")))
    });
    group.bench_function("argon2id_verify_wrong_default", |b| {
        b.iter(|| assert!(!hasher.verify(black_box(&wrong), &stored).expect("a valid hash")))
    });
    // What an unknown email costs at sign-in: the same work as a known one.
    group.bench_function("argon2id_dummy_verify_default", |b| b.iter(|| hasher.dummy_verify(black_box(&password))));
    // The same hash without reusing the 19 MiB of working memory (a fresh zeroed allocation
    // each time), and the argon2 crate's own `hash_password`, which allocates likewise.
    let fresh = PasswordHasher::new(Argon2Params::default()).keep_memory(0);
    group.bench_function("argon2id_hash_default_fresh_memory", |b| {
        b.iter(|| fresh.hash(black_box(&password), &mut rng))
    });
    let argon2 = argon2::Argon2::default();
    group.bench_function("argon2_crate_hash_password", |b| {
        b.iter(|| {
            let salt: [u8; 16] = rand::random();
            argon2.hash_password_with_salt(black_box(password.expose_secret().as_bytes()), &salt).expect("hashed")
        })
    });
    group.finish();
}

fn config() -> Criterion {
    // One Argon2id call at the defaults takes tens of milliseconds: ten samples are enough.
    Criterion::default().sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(6))
}

criterion_group! {
    name = benches;
    config = config();
    targets = passwords
}
criterion_main!(benches);
