//! The outbox [`Dispatcher`]: claims due mails with a lease, mints their secrets, arms
//! them, renders and sends the mails, settles each one. Any number of dispatchers, on any
//! number of hosts, may share one store: a lease keeps a mail with one of them at a time.
//!
//! # Secrets are minted here
//!
//! The outbox holds no secret: a mail carries an intent (a reserved token's selector, or
//! the credential epoch of a temporary password). After each claim the dispatcher mints
//! the secrets in memory (a fresh verifier per link with `admit_core::token::arm`; a fresh
//! temporary password, hashed with Argon2id off the executor under the hashing
//! concurrency), then stores only their digests with one [`Store::arm_mails`] call per
//! batch, which re-checks every lease and supersedes the mails whose link was revoked,
//! used or expired, or whose temporary password was replaced, meanwhile. Only then does it
//! render and send. Claim and arm are two transactions on purpose: nothing secret exists
//! until the arm commits, and the arm re-checks the lease, so a mail whose lease passed to
//! another dispatcher in between is neither armed nor sent by this one. A retry after a
//! crash arms the mail again with a new secret: the link or password minted before dies.
//!
//! Nothing is lost: a mail leaves the outbox only as `Sent` or `Failed` (with the reason).
//! A dispatcher that dies between sending and marking leaves a claimed mail whose lease
//! lapses; another dispatcher sends it again with the same Message-ID, so the receiving
//! side can recognise the duplicate. Transient failures are retried with exponential
//! backoff and jitter up to `max_attempts`; permanent ones fail at once.

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use admit_core::{MailIntent, MailRecord, MailSecret, Timestamp};
use admit_mail::{MailContext, Mailbox, Message};
use admit_store::{ArmOutcome, ArmedSecret, MailArming, MailClaim, Store, StoreError};
use rand::RngExt;
use secrecy::ExposeSecret;
use time::Duration;
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::{Admit, AdmitError, Result};

type StoreResult<T> = std::result::Result<T, StoreError>;

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

/// What a dispatcher did: its counters.
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
    /// Mails released unsent (shutdown, or too little of the lease left to start a send).
    pub released: u64,
    /// Mails not sent because what they carried no longer held when they were armed (link
    /// revoked, used or expired; temporary password replaced; account unavailable).
    pub superseded: u64,
}

impl DispatchReport {
    fn add(&mut self, other: DispatchReport) {
        self.claimed += other.claimed;
        self.sent += other.sent;
        self.retried += other.retried;
        self.failed += other.failed;
        self.lost_leases += other.lost_leases;
        self.released += other.released;
        self.superseded += other.superseded;
    }

    fn count(&mut self, settled: Settled) {
        match settled {
            Settled::Sent => self.sent += 1,
            Settled::Retried => self.retried += 1,
            Settled::Failed => self.failed += 1,
            Settled::LeaseLost => self.lost_leases += 1,
            Settled::Released => self.released += 1,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Settled {
    Sent,
    Retried,
    Failed,
    LeaseLost,
    Released,
}

impl Settled {
    /// The `outcome` label of the settled-mails counter.
    const fn as_str(self) -> &'static str {
        match self {
            Settled::Sent => "sent",
            Settled::Retried => "retried",
            Settled::Failed => "failed",
            Settled::LeaseLost => "lease_lost",
            Settled::Released => "released",
        }
    }
}

/// Delivers the outbox. Build one with [`Admit::dispatcher`].
///
/// Each round claims up to `batch_size` due mails under a fresh random owner id, mints and
/// arms their secrets in one store call (superseding the mails whose link or temporary
/// password no longer holds), sends them `concurrency` at a time, and settles each one:
/// sent, retried later, failed with the reason, or released. Tracing: one `admit.mail` span per attempt
/// with the mail id, kind and attempt number only (never the address or the secret), and
/// one `dispatch round` event with the round's counters.
#[derive(Debug, Clone)]
pub struct Dispatcher {
    admit: Admit,
    config: Arc<DispatcherConfig>,
    domain: Arc<str>,
    health: Arc<crate::health::HealthState>,
}

impl Dispatcher {
    pub(crate) fn new(admit: Admit, config: DispatcherConfig) -> Self {
        let domain = config.message_id_domain.clone().unwrap_or_else(|| admit.inner.sender.domain().to_owned());
        Dispatcher { admit, config: Arc::new(config), domain: domain.into(), health: Arc::default() }
    }

    /// Its health (shared by its clones): the last successful round, the last mail sent,
    /// consecutive transport and store failures. For a host's health endpoint; it reads no
    /// store and needs no administrator.
    pub fn health(&self) -> crate::DispatcherHealth {
        self.health.snapshot()
    }

    /// The delay before the attempt after `attempts` failed ones: `backoff_base` doubled for
    /// each failure after the first, capped at `backoff_max`, with jitter (a uniform draw
    /// between half and all of it). Never less than a millisecond.
    pub fn backoff(&self, attempts: u32) -> Duration {
        let delay = self.backoff_ceiling(attempts);
        let millis = delay.whole_milliseconds().max(1) as f64;
        let jittered = millis * rand::rng().random_range(0.5..=1.0);
        Duration::milliseconds((jittered as i64).max(1))
    }

    /// The un-jittered delay after `attempts` failed attempts.
    fn backoff_ceiling(&self, attempts: u32) -> Duration {
        let base = self.config.backoff_base.max(Duration::milliseconds(1));
        let max = self.config.backoff_max.max(Duration::milliseconds(1));
        // base · 2^(attempts-1), computed without overflow: stop doubling at the cap.
        let mut delay = base;
        for _ in 1..attempts {
            if delay >= max {
                break;
            }
            delay = delay.saturating_mul(2);
        }
        delay.min(max)
    }

    fn message(&self, mail: &MailRecord) -> std::result::Result<Message, String> {
        let inner = &self.admit.inner;
        if mail.kind.carries_secret() && mail.params.secret.is_none() {
            // Only a mail enqueued before the outbox kept intents (its secret was erased by
            // the migration) gets here: there is nothing to send; issue it again.
            return Err(
                "no secret to send (mail enqueued before secrets were minted at dispatch); issue it again".to_owned()
            );
        }
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
            // The send time: the journal keeps when it was enqueued (`created_at`) and sent.
            .date(self.admit.now())
            .header("X-Admit-Mail-Kind", mail.kind.as_str())
            .build()
            .map_err(|e| format!("message: {e}"))
    }

    /// Settles one claimed mail, inside its own span (a guard from `Span::enter` must not
    /// be held across an `.await`: the span would leak onto other tasks of the thread).
    async fn deliver(self, mail: MailRecord, owner: Arc<str>, lease_until: Timestamp) -> StoreResult<Settled> {
        let span =
            tracing::info_span!("admit.mail", mail_id = %mail.id, kind = mail.kind.as_str(), attempt = mail.attempts);
        let (kind, created_at) = (mail.kind, mail.created_at);
        let result = self.deliver_inner(mail, owner, lease_until).instrument(span).await;
        if let Ok(settled) = &result {
            let now = self.admit.now();
            let sent = matches!(settled, Settled::Sent);
            self.health.mail(sent, matches!(settled, Settled::Retried), now);
            crate::telemetry::settled(kind, settled.as_str(), sent.then(|| now.since(created_at)));
        }
        result
    }

    async fn deliver_inner(&self, mail: MailRecord, owner: Arc<str>, lease_until: Timestamp) -> StoreResult<Settled> {
        let store = &self.admit.inner.store;
        let started = self.admit.now();
        // Start a send only while at least half the lease remains: a send begun later could
        // outlive the lease, and another dispatcher would then send the mail a second time.
        let result = if started >= lease_until - self.config.lease / 2 {
            tracing::debug!("too little of the lease left; releasing");
            store.release_mail(mail.id, &owner).await.map(|()| Settled::Released)
        } else if mail.attempts > self.config.max_attempts {
            // Attempts beyond the limit come from claims that never settled (a dispatcher
            // died while sending): give up rather than risk a crash loop on one mail.
            let reason =
                format!("gave up after {} attempts, the last ones interrupted before they settled", mail.attempts);
            tracing::warn!(%reason, "delivery failed");
            store.fail_mail(mail.id, &owner, started, &reason).await.map(|()| Settled::Failed)
        } else {
            self.send(&mail, &owner).await
        };
        match result {
            Err(StoreError::LeaseLost) => {
                tracing::warn!("lease lost before the mail was settled; another dispatcher has it");
                Ok(Settled::LeaseLost)
            }
            Err(error) => {
                tracing::error!(%error, "could not settle the mail; it is retried when its lease lapses");
                Err(error)
            }
            Ok(settled) => Ok(settled),
        }
    }

    async fn send(&self, mail: &MailRecord, owner: &str) -> StoreResult<Settled> {
        let store = &self.admit.inner.store;
        let outcome = match self.message(mail) {
            Ok(message) => {
                self.admit.inner.transport.send(&message).await.map_err(|e| {
                    if e.is_configuration() {
                        // Not the mail's fault: retried with backoff like a transient failure,
                        // and said loudly, since nothing goes out until the host fixes it.
                        tracing::error!(reason = e.reason(), "mail transport misconfigured");
                    }
                    (e.is_transient() || e.is_configuration(), e.to_string())
                })
            }
            Err(reason) => Err((false, reason)),
        };
        let now = self.admit.now();
        match outcome {
            Ok(()) => {
                tracing::debug!("sent");
                store.mark_mail_sent(mail.id, owner, now).await.map(|()| Settled::Sent)
            }
            Err((true, reason)) if mail.attempts < self.config.max_attempts => {
                let next = now + self.backoff(mail.attempts);
                tracing::warn!(%reason, next_attempt_at = %next, "transient delivery failure");
                store.retry_mail(mail.id, owner, next, &reason).await.map(|()| Settled::Retried)
            }
            Err((transient, reason)) => {
                let reason =
                    if transient { format!("gave up after {} attempts: {reason}", mail.attempts) } else { reason };
                tracing::warn!(%reason, "delivery failed");
                store.fail_mail(mail.id, owner, now, &reason).await.map(|()| Settled::Failed)
            }
        }
    }

    /// Mints the secret of every claimed mail that carries one, arms the batch in one
    /// store call, and returns the mails to deliver (armed ones with their secret in
    /// `params.secret`, in memory only). Superseded mails and lost leases are counted and
    /// left out. Mails beyond `max_attempts` are not armed (they are given up unsent).
    ///
    /// A store failure here returns the error: nothing was sent, and the mails are claimed
    /// again (and armed with new secrets) when their lease lapses.
    async fn arm(&self, mails: Vec<MailRecord>, owner: &str, report: &mut DispatchReport) -> Result<Vec<MailRecord>> {
        let inner = &self.admit.inner;
        let (to_arm, mut ready): (Vec<MailRecord>, Vec<MailRecord>) =
            mails.into_iter().partition(|m| m.params.intent.is_some() && m.attempts <= self.config.max_attempts);
        if to_arm.is_empty() {
            return Ok(ready);
        }
        let mut arms = Vec::with_capacity(to_arm.len());
        let mut secrets: Vec<MailSecret> = Vec::with_capacity(to_arm.len());
        let mut hashing = JoinSet::new();
        for (index, mail) in to_arm.iter().enumerate() {
            match mail.params.intent {
                Some(MailIntent::Link { selector, purpose }) => {
                    let armed = admit_core::token::arm(&mut rand::rng(), &selector);
                    secrets.push(MailSecret::new(inner.rules.links.link(purpose, armed.raw.expose())));
                    arms.push(MailArming { mail: mail.id, secret: ArmedSecret::Link(armed.verifier_hash) });
                }
                Some(MailIntent::TemporaryPassword { .. }) => {
                    let password = admit_core::password::generate_temporary_password(&mut rand::rng());
                    secrets.push(MailSecret::new(password.expose_secret().to_owned()));
                    // Placeholder until the hash is ready (replaced below, before arming).
                    arms.push(MailArming {
                        mail: mail.id,
                        secret: ArmedSecret::TemporaryPassword(admit_core::PasswordHash::from_phc(String::new())),
                    });
                    let admit = self.admit.clone();
                    hashing.spawn(async move { (index, admit.hash_password(password).await) });
                }
                None => unreachable!("partitioned on intent"),
            }
        }
        while let Some(joined) = hashing.join_next().await {
            let (index, hash) = joined.map_err(|_| AdmitError::Hashing)?;
            arms[index].secret = ArmedSecret::TemporaryPassword(hash?);
        }
        let outcomes = inner.store.arm_mails(owner, self.admit.now(), &arms).await?;
        if outcomes.len() != to_arm.len() {
            return Err(AdmitError::Store(StoreError::Corrupt(
                "arm_mails returned the wrong number of outcomes".into(),
            )));
        }
        for ((mut mail, secret), outcome) in to_arm.into_iter().zip(secrets).zip(outcomes) {
            match outcome {
                ArmOutcome::Armed => {
                    mail.params.secret = Some(secret);
                    ready.push(mail);
                }
                ArmOutcome::Superseded(reason) => {
                    tracing::info!(mail_id = %mail.id, kind = mail.kind.as_str(), %reason, "mail superseded, not sent");
                    report.superseded += 1;
                }
                _ => {
                    tracing::warn!(mail_id = %mail.id, "lease lost before the mail was armed; not sent");
                    report.lost_leases += 1;
                }
            }
        }
        ready.sort_by_key(|m| m.id);
        Ok(ready)
    }

    /// One round: claim, arm, send and settle. When `stop` completes (or the store fails), no
    /// further send starts: the sends under way finish and settle, the mails not yet
    /// started are released.
    /// Returns the round's outcome and whether `stop` completed (it is not polled again).
    async fn round<F: Future<Output = ()> + ?Sized>(&self, mut stop: Pin<&mut F>) -> (Result<DispatchReport>, bool) {
        let owner: Arc<str> = format!("{:032x}", rand::rng().random::<u128>()).into();
        let claimed_at = self.admit.now();
        let claim = MailClaim {
            owner: owner.to_string(),
            now: claimed_at,
            lease: self.config.lease,
            limit: self.config.batch_size.max(1),
        };
        let mails = match self.admit.inner.store.claim_mails(&claim).await {
            Ok(mails) => mails,
            Err(error) => return (Err(AdmitError::from(error)), false),
        };
        let mut report = DispatchReport { claimed: mails.len() as u64, ..DispatchReport::default() };
        let mails = match self.arm(mails, &owner, &mut report).await {
            Ok(mails) => mails,
            Err(error) => return (Err(error), false),
        };
        let mut tasks = JoinSet::new();
        let mut queue = mails.into_iter();
        let mut first_error = None;
        let mut stopped = false;
        loop {
            // After a store failure no new send starts: its result could not be recorded,
            // and the mail would be sent again when its lease lapses.
            while !stopped && first_error.is_none() && tasks.len() < self.config.concurrency.max(1) {
                let Some(mail) = queue.next() else { break };
                tasks.spawn(self.clone().deliver(mail, owner.clone(), claimed_at + self.config.lease));
            }
            if tasks.is_empty() {
                break;
            }
            tokio::select! {
                biased;
                () = &mut stop, if !stopped => stopped = true,
                Some(joined) = tasks.join_next() => match joined {
                    Ok(Ok(settled)) => report.count(settled),
                    Ok(Err(error)) => {
                        first_error.get_or_insert(AdmitError::from(error));
                    }
                    Err(join) => {
                        first_error.get_or_insert(AdmitError::Store(StoreError::backend(join)));
                    }
                },
            }
        }
        // A stop or a store failure leaves mails unstarted: give them back, attempt uncounted
        // (if the store is down they stay leased until the lease lapses).
        for mail in queue {
            match self.admit.inner.store.release_mail(mail.id, &owner).await {
                Ok(()) => report.released += 1,
                Err(StoreError::LeaseLost) => report.lost_leases += 1,
                Err(error) => {
                    first_error.get_or_insert(AdmitError::from(error));
                }
            }
        }
        if report.claimed > 0 {
            tracing::info!(
                claimed = report.claimed,
                sent = report.sent,
                retried = report.retried,
                failed = report.failed,
                lost_leases = report.lost_leases,
                released = report.released,
                superseded = report.superseded,
                "dispatch round"
            );
        }
        let result = match first_error {
            Some(error) => Err(error),
            None => Ok(report),
        };
        self.health.round(result.is_ok(), self.admit.now());
        (result, stopped)
    }

    /// Claims one batch of due mails and settles every one of them.
    ///
    /// # Errors
    /// A store failure while claiming or settling. The round then starts no further send;
    /// the mail whose result could not be recorded stays leased and is sent again, with the
    /// same Message-ID, when the lease lapses; unstarted mails are released (or, if the store
    /// is still down, claimed again when the lease lapses, unsent so far).
    pub async fn run_once(&self) -> Result<DispatchReport> {
        self.round(pin!(std::future::pending::<()>())).await.0
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
    /// `idle_poll` otherwise. On shutdown the sends under way finish and are settled, the
    /// claimed mails not yet started are released (their attempt uncounted), and it returns:
    /// no mail stays leased by this dispatcher (unless the store fails meanwhile, in which
    /// case the lease lapses). A store outage is logged and retried after `idle_poll`.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) -> DispatchReport {
        let mut shutdown = pin!(shutdown);
        let mut total = DispatchReport::default();
        loop {
            // A stop requested between rounds ends the loop before the next claim.
            tokio::select! {
                biased;
                () = shutdown.as_mut() => return total,
                () = std::future::ready(()) => {}
            }
            let (round, stopped) = self.round(shutdown.as_mut()).await;
            let idle = match round {
                Ok(report) => {
                    total.add(report);
                    report.claimed == 0
                }
                Err(error) => {
                    tracing::error!(%error, "dispatch round failed; retrying");
                    true
                }
            };
            if stopped {
                return total;
            }
            if idle {
                tokio::select! {
                    biased;
                    () = shutdown.as_mut() => return total,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn dispatcher(config: DispatcherConfig) -> Dispatcher {
        let admit = Admit::builder()
            .store(admit_store::MemoryStore::new())
            .transport(admit_mail::CaptureTransport::new())
            .link_base("https://app.example.org")
            .sender("Plateforme", "no-reply@example.org")
            .build()
            .unwrap();
        admit.dispatcher(config)
    }

    #[test]
    fn backoff_doubles_from_the_base_and_stops_at_the_cap() {
        let d = dispatcher(DispatcherConfig {
            backoff_base: Duration::seconds(30),
            backoff_max: Duration::minutes(10),
            ..DispatcherConfig::default()
        });
        let ceilings: Vec<i64> = (1..=8).map(|n| d.backoff_ceiling(n).whole_seconds()).collect();
        assert_eq!(ceilings, [30, 60, 120, 240, 480, 600, 600, 600]);
        assert_eq!(d.backoff_ceiling(0), Duration::seconds(30));
        assert_eq!(d.backoff_ceiling(u32::MAX), Duration::minutes(10));
        for attempts in [1, 2, 5, 40, u32::MAX] {
            let ceiling = d.backoff_ceiling(attempts);
            for _ in 0..200 {
                let delay = d.backoff(attempts);
                assert!(delay <= ceiling && delay >= ceiling / 2, "{delay} outside [{}, {ceiling}]", ceiling / 2);
            }
        }
    }

    #[test]
    fn backoff_jitters() {
        let d = dispatcher(DispatcherConfig::default());
        let draws: std::collections::BTreeSet<i128> = (0..50).map(|_| d.backoff(3).whole_milliseconds()).collect();
        assert!(draws.len() > 10, "jitter spreads retries: {draws:?}");
    }

    #[test]
    fn backoff_handles_degenerate_settings() {
        let d = dispatcher(DispatcherConfig {
            backoff_base: Duration::ZERO,
            backoff_max: Duration::seconds(-5),
            ..DispatcherConfig::default()
        });
        for attempts in [0, 1, 10] {
            assert!(d.backoff(attempts) >= Duration::milliseconds(1), "a retry is always in the future");
        }
        let d = dispatcher(DispatcherConfig {
            backoff_base: Duration::hours(2),
            backoff_max: Duration::hours(1),
            ..DispatcherConfig::default()
        });
        assert_eq!(d.backoff_ceiling(1), Duration::hours(1), "the cap holds even below the base");
    }
}
