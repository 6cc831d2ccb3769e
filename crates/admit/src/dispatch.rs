//! The outbox [`Dispatcher`]: claims due mails with a lease, renders and sends them,
//! settles each one. Any number of dispatchers, on any number of hosts, may share one
//! store: a lease keeps a mail with one of them at a time.
//!
//! Nothing is lost: a mail leaves the outbox only as `Sent` or `Failed` (with the reason).
//! A dispatcher that dies between sending and marking leaves a claimed mail whose lease
//! lapses; another dispatcher sends it again with the same Message-ID, so the receiving
//! side can recognise the duplicate. Transient failures are retried with exponential
//! backoff and jitter up to `max_attempts`; permanent ones fail at once.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use admit_core::{MailRecord, Timestamp};
use admit_mail::{MailContext, Mailbox, Message};
use admit_store::{MailClaim, StoreError};
use rand::RngExt;
use time::Duration;
use tokio::task::JoinSet;

use crate::{Admit, AdmitError, Result};

/// How a [`Dispatcher`] works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispatcherConfig {
    /// Mails claimed per round (default 64).
    pub batch_size: u32,
    /// Mails sent at once (default 8).
    pub concurrency: usize,
    /// How long a claim holds before another dispatcher may take the mail (default 5 minutes;
    /// longer than any send).
    pub lease: Duration,
    /// Attempts before a transiently failing mail is given up (default 8).
    pub max_attempts: u32,
    /// First retry delay; doubles each attempt (default 30 s).
    pub backoff_base: Duration,
    /// Longest retry delay (default 1 hour).
    pub backoff_max: Duration,
    /// How long [`Dispatcher::run`] sleeps when nothing is due (default 1 s).
    pub idle_poll: StdDuration,
    /// The domain of Message-IDs (`<mail-id@domain>`; default: the sender's domain).
    pub message_id_domain: Option<String>,
}

impl Default for DispatcherConfig {
    fn default() -> Self {
        DispatcherConfig {
            batch_size: 64,
            concurrency: 8,
            lease: Duration::minutes(5),
            max_attempts: 8,
            backoff_base: Duration::seconds(30),
            backoff_max: Duration::hours(1),
            idle_poll: StdDuration::from_secs(1),
            message_id_domain: None,
        }
    }
}

/// What a dispatcher did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DispatchReport {
    /// Mails claimed.
    pub claimed: u64,
    /// Mails sent and marked sent.
    pub sent: u64,
    /// Transient failures scheduled for another attempt.
    pub retried: u64,
    /// Mails given up (permanent failure or too many attempts).
    pub failed: u64,
    /// Mails whose lease was lost before they could be settled (another dispatcher has them).
    pub lost_leases: u64,
    /// Mails released untouched at shutdown.
    pub released: u64,
}

impl DispatchReport {
    fn add(&mut self, other: DispatchReport) {
        self.claimed += other.claimed;
        self.sent += other.sent;
        self.retried += other.retried;
        self.failed += other.failed;
        self.lost_leases += other.lost_leases;
        self.released += other.released;
    }
}

enum Settled {
    Sent,
    Retried,
    Failed,
    LeaseLost,
}

/// Delivers the outbox. Build one with [`Admit::dispatcher`].
#[derive(Debug, Clone)]
pub struct Dispatcher {
    admit: Admit,
    config: Arc<DispatcherConfig>,
    domain: Arc<str>,
}

impl Dispatcher {
    pub(crate) fn new(admit: Admit, config: DispatcherConfig) -> Self {
        let domain = config.message_id_domain.clone().unwrap_or_else(|| admit.inner.sender.domain().to_owned());
        Dispatcher { admit, config: Arc::new(config), domain: domain.into() }
    }

    /// The delay before attempt `attempts + 1`: exponential from `backoff_base`, capped at
    /// `backoff_max`, with jitter (a uniform draw between half and all of it).
    pub fn backoff(&self, attempts: u32) -> Duration {
        let exp = attempts.saturating_sub(1).min(30);
        let base = self.config.backoff_base.whole_milliseconds().max(1) as f64;
        let max = self.config.backoff_max.whole_milliseconds().max(1) as f64;
        let delay = (base * f64::from(1u32 << exp.min(20))).min(max);
        let jittered = delay * rand::rng().random_range(0.5..=1.0);
        Duration::milliseconds(jittered as i64)
    }

    fn message(&self, mail: &MailRecord) -> std::result::Result<Message, String> {
        let inner = &self.admit.inner;
        let context = MailContext::from_params(mail.kind, &mail.params);
        let rendered =
            inner.templates.render(mail.kind, &mail.locale, &context).map_err(|e| format!("template: {e}"))?;
        Message::builder()
            .from(Mailbox::new(inner.sender_name.clone(), inner.sender.clone()))
            .to(Mailbox::new(mail.params.recipient_name.clone(), mail.to.clone()))
            .subject(mail.subject.clone())
            .text(rendered.text)
            .html(rendered.html)
            .message_id(mail.message_id(&self.domain))
            .date(mail.created_at)
            .header("X-Admit-Mail-Kind", mail.kind.as_str())
            .build()
            .map_err(|e| format!("message: {e}"))
    }

    async fn deliver(self, mail: MailRecord, owner: Arc<str>) -> std::result::Result<Settled, StoreError> {
        let store = &self.admit.inner.store;
        let span = tracing::info_span!("mail", id = %mail.id, kind = mail.kind.as_str(), attempt = mail.attempts);
        let _guard = span.enter();
        let outcome = match self.message(&mail) {
            Ok(message) => {
                self.admit.inner.transport.send(&message).await.map_err(|e| (e.is_transient(), e.to_string()))
            }
            Err(reason) => Err((false, reason)),
        };
        let now = self.admit.now();
        let result = match outcome {
            Ok(()) => store.mark_mail_sent(mail.id, &owner, now).await.map(|()| Settled::Sent),
            Err((true, reason)) if mail.attempts < self.config.max_attempts => {
                let next = now + self.backoff(mail.attempts);
                tracing::warn!(%reason, next_attempt_at = %next, "transient delivery failure");
                store.retry_mail(mail.id, &owner, next, &reason).await.map(|()| Settled::Retried)
            }
            Err((transient, reason)) => {
                let reason =
                    if transient { format!("gave up after {} attempts: {reason}", mail.attempts) } else { reason };
                tracing::warn!(%reason, "delivery failed");
                store.fail_mail(mail.id, &owner, now, &reason).await.map(|()| Settled::Failed)
            }
        };
        match result {
            Err(StoreError::LeaseLost) => Ok(Settled::LeaseLost),
            other => other,
        }
    }

    /// Claims one batch of due mails and settles every one of them.
    ///
    /// # Errors
    /// A store failure while claiming or settling (mails already claimed stay leased and are
    /// picked up again when the lease lapses).
    pub async fn run_once(&self) -> Result<DispatchReport> {
        let owner: Arc<str> = format!("{:032x}", rand::rng().random::<u128>()).into();
        let claim = MailClaim {
            owner: owner.to_string(),
            now: self.admit.now(),
            lease: self.config.lease,
            limit: self.config.batch_size,
        };
        let mails = self.admit.inner.store.claim_mails(&claim).await.map_err(AdmitError::from)?;
        let mut report = DispatchReport { claimed: mails.len() as u64, ..DispatchReport::default() };
        let mut tasks = JoinSet::new();
        let mut queue = mails.into_iter();
        let mut first_error = None;
        loop {
            while tasks.len() < self.config.concurrency.max(1) {
                let Some(mail) = queue.next() else { break };
                tasks.spawn(self.clone().deliver(mail, owner.clone()));
            }
            let Some(joined) = tasks.join_next().await else { break };
            match joined {
                Ok(Ok(Settled::Sent)) => report.sent += 1,
                Ok(Ok(Settled::Retried)) => report.retried += 1,
                Ok(Ok(Settled::Failed)) => report.failed += 1,
                Ok(Ok(Settled::LeaseLost)) => report.lost_leases += 1,
                Ok(Err(error)) => {
                    first_error.get_or_insert(AdmitError::from(error));
                }
                Err(join) => {
                    first_error.get_or_insert(AdmitError::Store(StoreError::backend(join)));
                }
            }
        }
        tracing::debug!(
            claimed = report.claimed,
            sent = report.sent,
            retried = report.retried,
            failed = report.failed,
            "dispatch round"
        );
        match first_error {
            Some(error) => Err(error),
            None => Ok(report),
        }
    }

    /// Runs rounds until no mail is due now.
    ///
    /// # Errors
    /// As [`Dispatcher::run_once`].
    pub async fn drain(&self) -> Result<DispatchReport> {
        let mut total = DispatchReport::default();
        loop {
            let report = self.run_once().await?;
            total.add(report);
            if report.claimed == 0 {
                return Ok(total);
            }
        }
    }

    /// Runs until `shutdown` completes: rounds back to back while mails are due, a pause of
    /// `idle_poll` otherwise. On shutdown the current round finishes (every claimed mail is
    /// settled) before it returns. A store outage is logged and retried after `idle_poll`.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) -> DispatchReport {
        tokio::pin!(shutdown);
        let mut total = DispatchReport::default();
        loop {
            // Check for shutdown between rounds only: a round always runs to its end.
            tokio::select! {
                biased;
                () = &mut shutdown => return total,
                () = std::future::ready(()) => {}
            }
            let round = self.run_once().await;
            let idle = match round {
                Ok(report) => {
                    total.add(report);
                    report.claimed == 0
                }
                Err(error) => {
                    tracing::error!(error = %error, "dispatch round failed; retrying");
                    true
                }
            };
            if idle {
                tokio::select! {
                    biased;
                    () = &mut shutdown => return total,
                    () = tokio::time::sleep(self.config.idle_poll) => {}
                }
            }
        }
    }

    /// The instant a due mail must be claimed by (for tests that move a `TestClock`): the
    /// end of a lease started `now`.
    pub fn lease_end(&self, now: Timestamp) -> Timestamp {
        now + self.config.lease
    }
}
