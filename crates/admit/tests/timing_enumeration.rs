//! Enumeration by timing: self-service reset and sign-in take as long for an unknown
//! address as for a known one. Many alternating samples on a SQLite file, medians compared
//! (robust to a noisy, shared machine); the bound is stated in each assertion and the
//! figures are printed (`cargo test -p admit --test timing_enumeration -- --nocapture`).
//! This checks that admit does the same work for both; it does not benchmark anything.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use admit::core::password::Argon2Params;
use admit::{Admit, CaptureTransport, Limit, RateLimits, SqliteStore};
use support::*;

const SAMPLES: usize = 31;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Alternates known/unknown `SAMPLES` times each; returns both medians.
async fn medians<F, Fut>(mut call: F) -> (Duration, Duration)
where
    F: FnMut(bool, usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    // One warm-up round each, not counted (caches, the first Argon2 buffer).
    call(true, usize::MAX).await;
    call(false, usize::MAX).await;
    for i in 0..SAMPLES {
        // Alternate which goes first, so a drift of the machine hits both alike.
        for known_first in [i % 2 == 0, i % 2 != 0] {
            let started = Instant::now();
            call(known_first, i).await;
            if known_first { known.push(started.elapsed()) } else { unknown.push(started.elapsed()) }
        }
    }
    (median(known), median(unknown))
}

/// The relative difference of two medians.
fn gap(a: Duration, b: Duration) -> f64 {
    let (a, b) = (a.as_secs_f64(), b.as_secs_f64());
    (a - b).abs() / a.max(b)
}

async fn deployment() -> (Admit, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("admit.db")).await.unwrap();
    let many = Limit::new(u32::MAX, time::Duration::hours(1));
    let limits = RateLimits {
        reset_per_email: many,
        reset_per_requester: many,
        sign_in_failures_per_email: many,
        sign_in_failures_per_requester: many,
        ..RateLimits::default()
    };
    let admit = Admit::builder()
        .shared_store(Arc::new(store))
        .transport(CaptureTransport::new())
        // The cheapest Argon2 OWASP allows: the same cost for a real and a dummy hash.
        .argon2_params(Argon2Params::new(7_168, 5, 1).unwrap())
        .rate_limits(limits)
        .link_base("https://app.example.org")
        .build()
        .unwrap();
    (admit, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_and_sign_in_take_as_long_for_unknown_addresses() {
    let (admit, _dir) = deployment().await;
    let admin =
        admit.bootstrap_administrator("known@example.org", "Known Person", password(ADMIN_PASSWORD)).await.unwrap();
    let _ = admin;

    // Self-service reset, with the default 50 ms response floor.
    let (known, unknown) = medians(|is_known, i| {
        let admit = admit.clone();
        async move {
            let email = if is_known { "known@example.org" } else { "nobody@example.org" };
            admit.request_password_reset(email, &format!("198.51.100.{}", i % 200)).await.unwrap();
        }
    })
    .await;
    println!("request_password_reset: known {known:?}, unknown {unknown:?}, gap {:.1} %", gap(known, unknown) * 100.0);
    assert!(
        gap(known, unknown) <= 0.10,
        "reset medians differ by more than 10 %: known {known:?}, unknown {unknown:?}"
    );

    // Sign-in with a wrong password: a real Argon2 verify against a dummy one.
    let (known, unknown) = medians(|is_known, i| {
        let admit = admit.clone();
        async move {
            let email = if is_known { "known@example.org" } else { "nobody@example.org" };
            let r = admit.sign_in(email, password("not the right phrase"), &format!("203.0.113.{}", i % 200)).await;
            assert!(matches!(r, Err(admit::SignInError::InvalidCredentials)), "{r:?}");
        }
    })
    .await;
    println!(
        "sign_in (wrong password): known {known:?}, unknown {unknown:?}, gap {:.1} %",
        gap(known, unknown) * 100.0
    );
    assert!(
        gap(known, unknown) <= 0.20,
        "sign-in medians differ by more than 20 %: known {known:?}, unknown {unknown:?}"
    );
}
