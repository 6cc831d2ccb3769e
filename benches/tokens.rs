//! One-time link tokens: admit against the floor, latchkey and jsonwebtoken HS256, in one
//! run so that the ratios come from the same machine state. See docs/benchmarks.md.
//!
//! ```text
//! cargo bench --bench tokens
//! ```

use std::hint::black_box;
use std::time::Duration;

use admit_core::token;
use admit_core::{Clock, SystemClock, TokenSelector};
use criterion::{Criterion, criterion_group, criterion_main};
use rand::Rng;
use rand::rand_core::UnwrapErr;
use rand::rngs::SysRng;
use sha2::{Digest, Sha256};

mod support;
use support::*;

fn issue(c: &mut Criterion) {
    let now = SystemClock.now();
    let keys = JwtKeys::new(&[0x5a; 32]);
    let mut rng = rand::rng();
    let mut group = c.benchmark_group("tokens_issue");
    group.bench_function("admit", |b| b.iter(|| admit_issue(&mut rng, black_box(now))));
    group.bench_function("floor", |b| b.iter(|| floor_issue(&mut rng, black_box(now))));
    group.bench_function("latchkey", |b| b.iter(|| latchkey_issue(&mut rng, black_box(now))));
    group.bench_function("jsonwebtoken_hs256", |b| b.iter(|| jwt_issue(&keys, black_box(ACCOUNT), now + TTL)));
    group.finish();

    // The same with every token's bytes read from the OS (getrandom) instead of ThreadRng.
    let mut os = UnwrapErr(SysRng);
    let mut group = c.benchmark_group("tokens_issue_os_rng");
    group.bench_function("admit", |b| b.iter(|| admit_issue(&mut os, black_box(now))));
    group.bench_function("floor", |b| b.iter(|| floor_issue(&mut os, black_box(now))));
    group.finish();
}

/// Runs `check` on the fixture's texts in turn (`LIVE_TOKENS` of them, a power of two, so
/// that picking the next one costs a mask rather than a division).
fn cycle<'a, T>(texts: &'a [String], mut check: impl FnMut(&'a str) -> T) -> impl FnMut() -> T {
    const { assert!(LIVE_TOKENS.is_power_of_two()) };
    assert_eq!(texts.len(), LIVE_TOKENS);
    let mut at = 0;
    move || {
        at = (at + 1) & (LIVE_TOKENS - 1);
        check(black_box(&texts[at]))
    }
}

fn verify(c: &mut Criterion) {
    let now = SystemClock.now();
    let mut rng = rand::rng();
    let (admit_texts, admit_records) = admit_fixture(&mut rng, now);
    let (floor_texts, floor_records) = floor_fixture(&mut rng, now);
    let (latchkey_texts, latchkey_records) = latchkey_fixture(&mut rng, now);
    let keys = JwtKeys::new(&[0x5a; 32]);
    let jwt_texts = jwt_fixture(&keys, now + TTL);

    let mut group = c.benchmark_group("tokens_verify");
    let mut f = cycle(&admit_texts, |t| admit_verify(&admit_records, t, now).is_ok());
    group.bench_function("admit", |b| b.iter(&mut f));
    let mut f = cycle(&floor_texts, |t| floor_verify(&floor_records, t, now).is_some());
    group.bench_function("floor", |b| b.iter(&mut f));
    let mut f = cycle(&latchkey_texts, |t| latchkey_verify(&latchkey_records, t, now).is_some());
    group.bench_function("latchkey", |b| b.iter(&mut f));
    let mut f = cycle(&jwt_texts, |t| jwt_verify(&keys, t).is_some());
    group.bench_function("jsonwebtoken_hs256", |b| b.iter(&mut f));
    group.finish();

    let wrong: Vec<String> = admit_texts.iter().map(|t| with_wrong_verifier(t)).collect();
    let malformed_texts: Vec<String> = admit_texts.iter().map(|t| malformed(t)).collect();
    let mut group = c.benchmark_group("tokens_reject");
    let mut f = cycle(&malformed_texts, |t| admit_verify(&admit_records, t, now).is_err());
    group.bench_function("malformed", |b| b.iter(&mut f));
    let mut f = cycle(&wrong, |t| admit_verify(&admit_records, t, now).is_err());
    group.bench_function("wrong_verifier", |b| b.iter(&mut f));
    let short: Vec<String> = admit_texts.iter().map(|t| t[..20].to_owned()).collect();
    let mut f = cycle(&short, |t| admit_verify(&admit_records, t, now).is_err());
    group.bench_function("wrong_length", |b| b.iter(&mut f));
    group.finish();

    let mut group = c.benchmark_group("tokens_parse");
    let mut f = cycle(&admit_texts, |t| token::parse(t).is_ok());
    group.bench_function("admit_valid", |b| b.iter(&mut f));
    let mut f = cycle(&malformed_texts, |t| token::parse(t).is_ok());
    group.bench_function("admit_malformed", |b| b.iter(&mut f));
    group.finish();
}

/// What bounds the figures above: the parts every design pays, measured alone.
fn parts(c: &mut Criterion) {
    let now = SystemClock.now();
    let mut rng = rand::rng();
    let mut os = UnwrapErr(SysRng);
    let (texts, records) = admit_fixture(&mut rng, now);
    let selectors: Vec<TokenSelector> =
        texts.iter().filter_map(|t| token::parse(t).ok()).map(|parsed| *parsed.selector()).collect();
    assert_eq!(selectors.len(), LIVE_TOKENS);
    let verifier = [0x5a_u8; 16];

    let mut group = c.benchmark_group("tokens_parts");
    group.bench_function("thread_rng_32_bytes", |b| {
        b.iter(|| {
            let mut bytes = [0u8; 32];
            rng.fill_bytes(&mut bytes);
            bytes
        })
    });
    group.bench_function("os_rng_32_bytes", |b| {
        b.iter(|| {
            let mut bytes = [0u8; 32];
            os.fill_bytes(&mut bytes);
            bytes
        })
    });
    group.bench_function("sha256_16_bytes", |b| b.iter(|| <[u8; 32]>::from(Sha256::digest(black_box(verifier)))));
    let mut at = 0;
    group.bench_function("selector_lookup", |b| {
        b.iter(|| {
            at = (at + 1) & (LIVE_TOKENS - 1);
            records.get(black_box(&selectors[at])).map(|record| record.expires_at)
        })
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = tokens;
    config = config();
    targets = issue, verify, parts
}
criterion_main!(tokens);
