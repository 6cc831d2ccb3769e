//! [`DispatcherHealth`]: what a host's health endpoint shows about a [`crate::Dispatcher`].

use std::sync::Mutex;

use admit_core::Timestamp;

/// A dispatcher's health, from [`crate::Dispatcher::health`]: cheap to read, needs no
/// administrator and no store access.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DispatcherHealth {
    /// When the last round that reached the store ended (`None`: none yet).
    pub last_successful_round: Option<Timestamp>,
    /// When the last mail was sent (`None`: none yet).
    pub last_sent: Option<Timestamp>,
    /// Transient transport failures (SMTP down, timeouts, misconfiguration) since the last
    /// mail this dispatcher sent; 0 after any successful send.
    pub consecutive_transport_failures: u32,
    /// Rounds that failed on the store since the last one that succeeded.
    pub consecutive_store_failures: u32,
}

/// The shared state behind [`DispatcherHealth`] (one per dispatcher and its clones).
#[derive(Debug, Default)]
pub(crate) struct HealthState(Mutex<DispatcherHealth>);

impl HealthState {
    fn with<T>(&self, f: impl FnOnce(&mut DispatcherHealth) -> T) -> T {
        let mut guard = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard)
    }

    pub(crate) fn snapshot(&self) -> DispatcherHealth {
        self.with(|h| *h)
    }

    /// A mail settled: sent resets the transport failure count, a transient failure adds one.
    pub(crate) fn mail(&self, sent: bool, transient_failure: bool, at: Timestamp) {
        self.with(|h| {
            if sent {
                h.last_sent = Some(at);
                h.consecutive_transport_failures = 0;
            } else if transient_failure {
                h.consecutive_transport_failures = h.consecutive_transport_failures.saturating_add(1);
            }
        });
    }

    /// A round ended (`ok`: it reached the store throughout).
    pub(crate) fn round(&self, ok: bool, at: Timestamp) {
        let failures = self.with(|h| {
            if ok {
                h.last_successful_round = Some(at);
                h.consecutive_store_failures = 0;
            } else {
                h.consecutive_store_failures = h.consecutive_store_failures.saturating_add(1);
            }
            h.consecutive_transport_failures
        });
        crate::telemetry::round(ok, failures);
    }
}
