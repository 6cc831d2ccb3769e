//! Metrics through the [`metrics`] facade: the host installs the recorder (Prometheus,
//! StatsD, …); without one every call is a no-op. Labels are closed sets (template names,
//! outcomes, refusal kinds and reasons): never an address, a name, an id or a secret.
//! The names and labels are listed in docs/operations.md.

use std::time::Duration as StdDuration;

use admit_core::MailKind;
use admit_core::decide::Refusal;

/// Mails enqueued, by `template`.
pub const MAILS_ENQUEUED: &str = "admit_mails_enqueued_total";
/// Mails settled by a dispatcher, by `template` and `outcome`
/// (`sent`, `retried`, `failed`, `released`, `lease_lost`).
pub const MAILS_SETTLED: &str = "admit_mails_settled_total";
/// Seconds from enqueue to sent, by `template`.
pub const DELIVERY_LATENCY: &str = "admit_mail_delivery_latency_seconds";
/// Refusals, by `kind` (sign_in_failed, link_refused, reset_rate_limited, …) and `reason`.
pub const REFUSALS: &str = "admit_refusals_total";
/// Seconds a password hash or check waited for an Argon2 slot.
pub const ARGON2_QUEUE_WAIT: &str = "admit_argon2_queue_wait_seconds";
/// Dispatcher rounds, by `result` (`ok`, `store_error`).
pub const DISPATCH_ROUNDS: &str = "admit_dispatch_rounds_total";
/// Transient transport failures since the last mail a dispatcher sent.
pub const CONSECUTIVE_TRANSPORT_FAILURES: &str = "admit_dispatch_consecutive_transport_failures";

pub(crate) fn enqueued(kind: MailKind) {
    metrics::counter!(MAILS_ENQUEUED, "template" => kind.as_str()).increment(1);
}

pub(crate) fn settled(kind: MailKind, outcome: &'static str, latency: Option<time::Duration>) {
    metrics::counter!(MAILS_SETTLED, "template" => kind.as_str(), "outcome" => outcome).increment(1);
    if let Some(latency) = latency {
        metrics::histogram!(DELIVERY_LATENCY, "template" => kind.as_str()).record(latency.as_seconds_f64().max(0.0));
    }
}

pub(crate) fn refused(refusal: &Refusal) {
    metrics::counter!(REFUSALS, "kind" => refusal.kind.as_str(), "reason" => refusal.reason).increment(1);
}

pub(crate) fn argon2_wait(waited: StdDuration) {
    metrics::histogram!(ARGON2_QUEUE_WAIT).record(waited.as_secs_f64());
}

pub(crate) fn round(ok: bool, consecutive_transport_failures: u32) {
    metrics::counter!(DISPATCH_ROUNDS, "result" => if ok { "ok" } else { "store_error" }).increment(1);
    metrics::gauge!(CONSECUTIVE_TRANSPORT_FAILURES).set(f64::from(consecutive_transport_failures));
}
