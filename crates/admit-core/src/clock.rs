//! Time: the [`Timestamp`] type (whole microseconds, UTC) and the [`Clock`] that produces it.
//!
//! Every timestamp admit creates is truncated to whole microseconds, so a value read back
//! from SQLite or PostgreSQL equals the one written, and the deadline printed in a mail is
//! the one enforced. This module is the only place allowed to read the system time.

use std::fmt;
use std::sync::{Arc, Mutex};

use time::{Duration, OffsetDateTime};

/// An instant in UTC, with whole-microsecond precision.
///
/// ```
/// use admit_core::Timestamp;
/// let t = Timestamp::from_unix_micros(1_700_000_000_123_456);
/// assert_eq!(t.as_unix_micros(), 1_700_000_000_123_456);
/// assert_eq!(t + time::Duration::microseconds(1), Timestamp::from_unix_micros(1_700_000_000_123_457));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The Unix epoch, 1970-01-01T00:00:00Z.
    pub const UNIX_EPOCH: Timestamp = Timestamp(0);

    /// A timestamp from microseconds since the Unix epoch.
    pub const fn from_unix_micros(micros: i64) -> Self {
        Timestamp(micros)
    }

    /// Microseconds since the Unix epoch (what stores persist).
    pub const fn as_unix_micros(self) -> i64 {
        self.0
    }

    /// Converts a [`time::OffsetDateTime`], truncating below the microsecond.
    pub fn from_datetime(at: OffsetDateTime) -> Self {
        let nanos = at.unix_timestamp_nanos();
        // Truncate towards negative infinity so that ordering is preserved.
        let micros = nanos.div_euclid(1_000);
        Timestamp(i64::try_from(micros).unwrap_or(if micros < 0 { i64::MIN } else { i64::MAX }))
    }

    /// This instant as a [`time::OffsetDateTime`] in UTC.
    pub fn to_datetime(self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// `self + duration`, truncated to microseconds and saturating at the representable range.
    pub fn saturating_add(self, duration: Duration) -> Self {
        let micros = duration.whole_microseconds();
        let micros = i64::try_from(micros).unwrap_or(if micros < 0 { i64::MIN } else { i64::MAX });
        Timestamp(self.0.saturating_add(micros))
    }

    /// `self - duration`, truncated to microseconds and saturating.
    pub fn saturating_sub(self, duration: Duration) -> Self {
        self.saturating_add(-duration)
    }

    /// The signed duration `self - earlier`.
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::microseconds(self.0.saturating_sub(earlier.0))
    }
}

impl std::ops::Add<Duration> for Timestamp {
    type Output = Timestamp;
    fn add(self, rhs: Duration) -> Timestamp {
        self.saturating_add(rhs)
    }
}

impl std::ops::Sub<Duration> for Timestamp {
    type Output = Timestamp;
    fn sub(self, rhs: Duration) -> Timestamp {
        self.saturating_sub(rhs)
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = self.to_datetime();
        match at.format(&time::format_description::well_known::Rfc3339) {
            Ok(text) => f.write_str(&text),
            Err(_) => write!(f, "@{}us", self.0),
        }
    }
}

impl From<OffsetDateTime> for Timestamp {
    fn from(at: OffsetDateTime) -> Self {
        Timestamp::from_datetime(at)
    }
}

/// A source of the current time. Inject [`TestClock`] in tests to move time by hand.
pub trait Clock: fmt::Debug + Send + Sync + 'static {
    /// The current instant, truncated to whole microseconds.
    fn now(&self) -> Timestamp;
}

/// The operating system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one place allowed to read the system time
    fn now(&self) -> Timestamp {
        Timestamp::from_datetime(OffsetDateTime::now_utc())
    }
}

/// A clock that only moves when told to. Clones share the same time.
///
/// ```
/// use admit_core::{Clock, TestClock, Timestamp};
/// let clock = TestClock::new(Timestamp::from_unix_micros(0));
/// clock.advance(time::Duration::hours(1));
/// assert_eq!(clock.now(), Timestamp::from_unix_micros(3_600_000_000));
/// ```
#[derive(Debug, Clone)]
pub struct TestClock {
    now: Arc<Mutex<Timestamp>>,
}

impl TestClock {
    /// A clock stopped at `start`.
    pub fn new(start: Timestamp) -> Self {
        TestClock { now: Arc::new(Mutex::new(start)) }
    }

    /// A clock stopped at 2026-01-01T00:00:00Z, a convenient fixed start for tests.
    pub fn default_start() -> Self {
        TestClock::new(Timestamp::from_unix_micros(1_767_225_600_000_000))
    }

    /// Moves the clock forward (or backward, with a negative duration).
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        *now = now.saturating_add(by);
    }

    /// Sets the clock to `at`.
    pub fn set(&self, at: Timestamp) {
        *self.now.lock().unwrap_or_else(|e| e.into_inner()) = at;
    }
}

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_clock_is_truncated_to_microseconds() {
        let now = SystemClock.now();
        assert_eq!(Timestamp::from_datetime(now.to_datetime()), now);
    }

    #[test]
    fn from_datetime_truncates_nanoseconds() {
        let at = OffsetDateTime::from_unix_timestamp_nanos(1_000_000_999).unwrap();
        assert_eq!(Timestamp::from_datetime(at).as_unix_micros(), 1_000_000);
    }

    #[test]
    fn arithmetic_saturates() {
        assert_eq!(Timestamp::from_unix_micros(i64::MAX) + Duration::days(1), Timestamp::from_unix_micros(i64::MAX));
    }
}
