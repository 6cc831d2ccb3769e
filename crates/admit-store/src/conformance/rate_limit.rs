//! `rate_limit_*`: fixed-window counters.

use std::sync::Arc;

use time::Duration;

use admit_core::{Clock, TestClock, Timestamp};

use super::support::ok;
use crate::{RateLimitDecision, Store, window_start};

async fn hit(store: &Arc<dyn Store>, key: &str, limit: u32, window: Duration, now: Timestamp) -> RateLimitDecision {
    ok(store.hit_rate_limit(key, limit, window, now).await, "hit_rate_limit works")
}

/// Exactly `limit` hits are allowed per window; refused hits are counted too.
pub async fn rate_limit_allows_exactly_limit_per_window(store: Arc<dyn Store>, clock: TestClock) {
    let window = Duration::minutes(1);
    let start = window_start(clock.now(), window);
    let resets_at = start + window;
    for i in 1..=8u64 {
        let decision = hit(&store, "reset:jeanne@exemple.fr", 5, window, clock.now()).await;
        assert_eq!(
            decision,
            RateLimitDecision { allowed: i <= 5, count: i, resets_at },
            "contract: hit {i} with limit 5: allowed while count <= limit, refused hits counted, resets_at the window end"
        );
        clock.advance(Duration::seconds(1));
    }
    let one = hit(&store, "single", 1, window, clock.now()).await;
    let two = hit(&store, "single", 1, window, clock.now()).await;
    assert!(one.allowed && !two.allowed, "contract: limit 1 allows exactly one hit");
    let zero = hit(&store, "never", 0, window, clock.now()).await;
    assert!(!zero.allowed && zero.count == 1, "contract: limit 0 allows nothing, and counts the hit");
}

/// The window resets at its end; windows are aligned on the Unix epoch.
pub async fn rate_limit_window_resets(store: Arc<dyn Store>, clock: TestClock) {
    let window = Duration::seconds(60);
    let start = window_start(clock.now(), window);
    assert_eq!(start.as_unix_micros() % 60_000_000, 0, "window_start aligns on the epoch");
    clock.set(start + Duration::seconds(30));
    for _ in 0..3 {
        hit(&store, "k", 3, window, clock.now()).await;
    }
    clock.set(start + window - Duration::microseconds(1));
    let last = hit(&store, "k", 3, window, clock.now()).await;
    assert_eq!(
        last,
        RateLimitDecision { allowed: false, count: 4, resets_at: start + window },
        "contract: the last microsecond belongs to the same window"
    );
    clock.set(start + window);
    let fresh = hit(&store, "k", 3, window, clock.now()).await;
    assert_eq!(
        fresh,
        RateLimitDecision { allowed: true, count: 1, resets_at: start + window + window },
        "contract: a new window starts at the old one's end, with a fresh count"
    );
    let hour = Duration::hours(1);
    let other = hit(&store, "k-hourly", 3, hour, clock.now()).await;
    assert_eq!(other.resets_at, window_start(clock.now(), hour) + hour, "contract: resets_at is window_start + window");
    let before_epoch = hit(&store, "old", 3, window, Timestamp::from_unix_micros(-1)).await;
    assert_eq!(
        before_epoch.resets_at,
        Timestamp::UNIX_EPOCH,
        "contract: windows before the epoch align too (window_start rounds down)"
    );
}

/// Keys count apart.
pub async fn rate_limit_keys_are_independent(store: Arc<dyn Store>, clock: TestClock) {
    let window = Duration::minutes(10);
    for _ in 0..4 {
        hit(&store, "requester:203.0.113.7", 2, window, clock.now()).await;
    }
    let other = hit(&store, "requester:203.0.113.8", 2, window, clock.now()).await;
    assert!(other.allowed && other.count == 1, "contract: another key has its own count");
    let similar = hit(&store, "requester:203.0.113.7 ", 2, window, clock.now()).await;
    assert!(similar.allowed && similar.count == 1, "contract: keys are compared exactly");
    let upper = hit(&store, "REQUESTER:203.0.113.7", 2, window, clock.now()).await;
    assert!(upper.allowed && upper.count == 1, "contract: keys are case-sensitive");
    let same = hit(&store, "requester:203.0.113.7", 2, window, clock.now()).await;
    assert_eq!(same.count, 5, "contract: the first key kept counting");
}

/// `rate_limit_count` reads the current window's count without counting a hit.
pub async fn rate_limit_count_peeks_without_counting(store: Arc<dyn Store>, clock: TestClock) {
    let window = Duration::minutes(15);
    let count = ok(store.rate_limit_count("link:peek", window, clock.now()).await, "rate_limit_count works");
    assert_eq!(count, 0, "contract: a key never hit counts 0");
    for _ in 0..3 {
        hit(&store, "link:peek", 10, window, clock.now()).await;
    }
    for _ in 0..2 {
        let count = ok(store.rate_limit_count("link:peek", window, clock.now()).await, "rate_limit_count works");
        assert_eq!(count, 3, "contract: rate_limit_count returns the hits so far and counts nothing itself");
    }
    assert_eq!(hit(&store, "link:peek", 10, window, clock.now()).await.count, 4, "contract: peeking did not count");
    clock.advance(window);
    let count = ok(store.rate_limit_count("link:peek", window, clock.now()).await, "rate_limit_count works");
    assert_eq!(count, 0, "contract: the next window starts from 0");
}
