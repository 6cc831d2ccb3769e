#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]
#![forbid(unsafe_code)]
//!
//! # Features
//! - `sqlite` (default): `SqliteStore`, the embedded default, and [`Admit::embedded`].
//! - `postgres`: `PostgresStore`, for many application instances sharing one database.
//! - `smtp`: `SmtpTransport` on lettre.
//!
//! `MemoryStore`, `CaptureTransport` and `FileTransport` are always available.

mod accounts;
mod config;
mod dispatch;
mod error;
mod health;
mod links;
mod queries;
pub mod telemetry;

use std::sync::Arc;

use admit_core::decide::{self, AccountEvent, Ctx, Decision, DecisionError, Rules, Subjects};
use admit_core::password::{PasswordHasher, PasswordMatch, PasswordPolicy};
use admit_core::{AccountId, AccountRecord, Clock, EmailPolicy, Locale, MailKind, MailParams, PasswordHash, Timestamp};
use admit_mail::{MailContext, Templates, Transport};
use admit_store::Store;
use hmac::{KeyInit, Mac};
use secrecy::SecretString;
use sha2::Sha256;
use tokio::sync::{Semaphore, broadcast};

pub use accounts::{
    BatchRow, BatchRowOutcome, CreateAccount, EmailAssignment, FieldProblem, FieldProblems, Invite, MAX_BATCH_ROWS,
};
pub use config::{AdmitBuilder, ConfigError, Limit, LinkPaths, RateLimits};
pub use dispatch::{DispatchReport, Dispatcher, DispatcherConfig};
pub use error::{AdmitError, Result};
pub use health::DispatcherHealth;
pub use links::{Completion, CompletionError, InspectError, LinkInfo, SignIn, SignInError};
pub use queries::{AccountView, SessionAccount};

#[doc(inline)]
pub use admit_core as core;
#[doc(inline)]
pub use admit_core::decide::{AccountEvent as Event, ProfileChange, Refusal, RefusalKind, StatusChange};
#[doc(inline)]
pub use admit_core::{
    AccountKind, AccountStatus, AuditAction, ClientFileId, Email, FullName, Grant, Labels, ProgramId, Role, Scope,
    TestClock,
};
#[doc(inline)]
pub use admit_mail as mail;
#[doc(inline)]
pub use admit_mail::{CaptureTransport, FileTransport};
#[cfg(feature = "smtp")]
#[cfg_attr(docsrs, doc(cfg(feature = "smtp")))]
#[doc(inline)]
pub use admit_mail_smtp::SmtpTransport;
#[doc(inline)]
pub use admit_store as store;
#[doc(inline)]
pub use admit_store::MemoryStore;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
#[doc(inline)]
pub use admit_store_sqlx::PostgresStore;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
#[doc(inline)]
pub use admit_store_sqlx::SqliteStore;
pub use secrecy;

/// The subjects of outbox mails, rendered at enqueue time from the templates.
#[derive(Debug)]
struct TemplateSubjects {
    templates: Arc<Templates>,
}

impl Subjects for TemplateSubjects {
    fn subject(&self, kind: MailKind, locale: &Locale, params: &MailParams) -> String {
        let context = MailContext::from_params(kind, params);
        self.templates.render_subject(kind, locale, &context).unwrap_or_else(|_| kind.as_str().to_owned())
    }
}

pub(crate) struct Parts {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) transport: Arc<dyn Transport>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) templates: Arc<Templates>,
    pub(crate) rules: Rules,
    pub(crate) link_paths: LinkPaths,
    pub(crate) password_policy: PasswordPolicy,
    pub(crate) hasher: PasswordHasher,
    pub(crate) email_policy: EmailPolicy,
    pub(crate) rate_limits: RateLimits,
    pub(crate) admin_set_password: bool,
    pub(crate) hashing_concurrency: usize,
    pub(crate) reset_response_floor: std::time::Duration,
    pub(crate) temporary_password_ttl: time::Duration,
    pub(crate) sender_name: String,
    pub(crate) sender: admit_core::Email,
    pub(crate) default_locale: Locale,
    pub(crate) digest_key: secrecy::SecretSlice<u8>,
}

pub(crate) struct Inner {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) transport: Arc<dyn Transport>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) templates: Arc<Templates>,
    subjects: TemplateSubjects,
    pub(crate) rules: Rules,
    pub(crate) link_paths: LinkPaths,
    pub(crate) password_policy: PasswordPolicy,
    pub(crate) hasher: Arc<PasswordHasher>,
    pub(crate) email_policy: EmailPolicy,
    pub(crate) rate_limits: RateLimits,
    pub(crate) admin_set_password: bool,
    hashing: Arc<Semaphore>,
    pub(crate) reset_response_floor: std::time::Duration,
    pub(crate) temporary_password_ttl: time::Duration,
    pub(crate) sender_name: String,
    pub(crate) sender: admit_core::Email,
    #[allow(dead_code)]
    pub(crate) default_locale: Locale,
    events: broadcast::Sender<AccountEvent>,
    /// HMAC-SHA256 keyed with the deployment's digest key, cloned for each digest.
    digest_mac: hmac::Hmac<Sha256>,
}

/// How long an administrator-given password (temporary, or set with "must change") lets its
/// holder sign in, by default: 72 hours ([`AdmitBuilder::temporary_password_ttl`]).
pub const DEFAULT_TEMPORARY_PASSWORD_TTL: time::Duration = time::Duration::hours(72);

/// The account invitation and password-reset workflows, over a [`Store`] and a
/// [`Transport`]. Cheap to clone; share one per process.
///
/// Every administrative call takes the acting account's id (the host authenticated it),
/// checks admit-core's authorization policy, validates its input, and commits its state
/// change, its mails and its audit entry atomically. A refused call writes nothing.
#[derive(Clone)]
pub struct Admit {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Admit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admit").field("store", &self.inner.store).field("transport", &self.inner.transport).finish()
    }
}

impl Admit {
    /// Starts building an `Admit`.
    pub fn builder() -> AdmitBuilder {
        AdmitBuilder::default()
    }

    pub(crate) fn from_parts(parts: Parts) -> Admit {
        let (events, _) = broadcast::channel(1024);
        let subjects = TemplateSubjects { templates: parts.templates.clone() };
        Admit {
            inner: Arc::new(Inner {
                store: parts.store,
                transport: parts.transport,
                clock: parts.clock,
                templates: parts.templates,
                subjects,
                rules: parts.rules,
                link_paths: parts.link_paths,
                password_policy: parts.password_policy,
                hasher: Arc::new(parts.hasher),
                email_policy: parts.email_policy,
                rate_limits: parts.rate_limits,
                admin_set_password: parts.admin_set_password,
                hashing: Arc::new(Semaphore::new(parts.hashing_concurrency)),
                reset_response_floor: parts.reset_response_floor,
                temporary_password_ttl: parts.temporary_password_ttl,
                sender_name: parts.sender_name,
                sender: parts.sender,
                default_locale: parts.default_locale,
                events,
                digest_mac: {
                    use secrecy::ExposeSecret;
                    hmac::Hmac::<Sha256>::new_from_slice(parts.digest_key.expose_secret())
                        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"))
                },
            }),
        }
    }

    /// **For development only**: a SQLite file `admit.db` and a folder `mail/` under `dir`
    /// (both created if missing), links under `link_base`.
    ///
    /// It **never sends mail**: every invitation, reset link and temporary password is
    /// written as an `.eml` file in `dir/mail/` (readable by its owner only), for a
    /// developer to open. It also uses the development digest key (a warning is logged).
    /// In production, build with [`Admit::builder`]: a real transport (`SmtpTransport`,
    /// feature `smtp`, or your own [`Transport`]), a deployment digest key
    /// ([`AdmitBuilder::digest_key`]), and `PostgresStore` when several instances share
    /// the data.
    ///
    /// # Errors
    /// [`AdmitError::Io`] if `dir` cannot be created or the database file cannot be opened
    /// or migrated; [`AdmitError::Config`] if `link_base` is not an https URL (or http on
    /// localhost).
    #[cfg(feature = "sqlite")]
    #[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
    pub async fn embedded(dir: impl AsRef<std::path::Path>, link_base: &str) -> Result<Admit> {
        let dir = dir.as_ref();
        // Check the settings before touching the disk.
        admit_core::decide::Links::new(link_base).map_err(|_| AdmitError::Config(ConfigError::InvalidLinkBase))?;
        std::fs::create_dir_all(dir).map_err(|e| AdmitError::Io {
            what: "embedded directory",
            path: dir.to_owned(),
            source: Box::new(e),
        })?;
        let db = dir.join("admit.db");
        let store = SqliteStore::open(&db).await.map_err(|e| AdmitError::Io {
            what: "SQLite database",
            path: db.clone(),
            source: Box::new(e),
        })?;
        let transport = FileTransport::new(dir.join("mail"));
        Ok(Admit::builder().store(store).transport(transport).link_base(link_base).build()?)
    }

    /// The store, for hosts that query it directly.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// Where the mailed links point (base URL, invitation and reset paths).
    pub fn link_paths(&self) -> &LinkPaths {
        &self.inner.link_paths
    }

    /// The password policy new passwords are checked against (for the hints a form shows).
    pub fn password_policy(&self) -> &PasswordPolicy {
        &self.inner.password_policy
    }

    /// The rate limits in force (for `Retry-After` answers).
    pub fn rate_limits(&self) -> RateLimits {
        self.inner.rate_limits
    }

    /// The clock in use.
    pub fn now(&self) -> Timestamp {
        self.inner.clock.now()
    }

    /// Subscribes to account events (password changed, activated, disabled, …), published
    /// after each commit, so the host can end sessions. Slow receivers miss old events
    /// (see [`broadcast`]); the return values of the calls carry the same events.
    pub fn subscribe(&self) -> broadcast::Receiver<AccountEvent> {
        self.inner.events.subscribe()
    }

    /// A dispatcher delivering this instance's outbox through its transport.
    pub fn dispatcher(&self, config: DispatcherConfig) -> Dispatcher {
        Dispatcher::new(self.clone(), config)
    }

    /// Runs a decision with a fresh context. The thread-local RNG never crosses an `.await`.
    pub(crate) fn decide<T>(&self, f: impl FnOnce(&mut Ctx<'_, rand::rngs::ThreadRng>) -> T) -> T {
        let mut rng = rand::rng();
        let mut ctx = Ctx {
            now: self.inner.clock.now(),
            rng: &mut rng,
            rules: &self.inner.rules,
            subjects: &self.inner.subjects,
        };
        f(&mut ctx)
    }

    /// Runs an administrative decision for `actor`. A refusal by the authorization policy
    /// is recorded before it is returned: an audit entry [`AuditAction::CallRefused`]
    /// committed on its own, a trace on `admit::security` and an [`AccountEvent::Refused`].
    pub(crate) async fn decide_for(
        &self,
        actor: &AccountRecord,
        call: &'static str,
        target: Option<AccountId>,
        f: impl FnOnce(&mut Ctx<'_, rand::rngs::ThreadRng>) -> std::result::Result<Decision, DecisionError>,
    ) -> Result<Decision> {
        match self.decide(f) {
            Err(DecisionError::Forbidden(forbidden)) => {
                self.record_refused_call(actor, call, target, forbidden.reason()).await;
                Err(AdmitError::Forbidden(forbidden))
            }
            other => other.map_err(AdmitError::from),
        }
    }

    /// Checks the policy for `actor` on `target` (for calls that look before they decide),
    /// recording a refusal as [`Admit::decide_for`] does.
    pub(crate) async fn authorize_for(
        &self,
        actor: &AccountRecord,
        call: &'static str,
        action: admit_core::authz::Action,
        target: &AccountRecord,
    ) -> Result<()> {
        let subject = admit_core::authz::Target {
            kind: target.kind,
            grants: &target.grants,
            is_last_platform_administrator: false,
        };
        if let Err(forbidden) = admit_core::authz::authorize(actor, action, &subject) {
            self.record_refused_call(actor, call, Some(target.id), forbidden.reason()).await;
            return Err(AdmitError::Forbidden(forbidden));
        }
        Ok(())
    }

    pub(crate) async fn record_refused_call(
        &self,
        actor: &AccountRecord,
        call: &'static str,
        target: Option<AccountId>,
        reason: admit_core::authz::ForbiddenReason,
    ) {
        let decision = self.decide(|ctx| decide::call_refused(ctx, actor, call, target, reason));
        if let Err(error) = self.inner.store.commit(decision.change).await {
            tracing::error!(target: "admit::security", %error, "could not record a refused call in the audit log");
        }
        for event in decision.events {
            if let AccountEvent::Refused(refusal) = event {
                self.refused(refusal, None);
            }
        }
    }

    /// Publishes a refusal: one `admit::security` trace (fields in docs/security.md) and an
    /// [`AccountEvent::Refused`] to subscribers. `requester` is digested, never printed.
    pub(crate) fn refused(&self, refusal: Refusal, requester: Option<&str>) {
        let id = |id: Option<AccountId>| id.map_or_else(String::new, |id| id.to_string());
        tracing::info!(
            target: "admit::security",
            event = refusal.kind.as_str(),
            reason = refusal.reason,
            call = refusal.call.unwrap_or(""),
            account = %id(refusal.account),
            actor = %id(refusal.actor),
            requester = %requester.map(|r| self.digest(r)).unwrap_or_default(),
            "refused"
        );
        telemetry::refused(&refusal);
        let _ = self.inner.events.send(AccountEvent::Refused(refusal));
    }

    /// Runs `attempt` again (at most three times in all) while it fails with
    /// [`AdmitError::Concurrent`]: an administrative call that lost an optimistic race
    /// against another change of the account reads the fresh account and decides again,
    /// so the caller gets the answer for the state that won (« already active », say).
    pub(crate) async fn decide_again_on_conflict<T, F, Fut>(&self, mut attempt: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let mut tries = 0;
        loop {
            tries += 1;
            match attempt().await {
                Err(AdmitError::Concurrent) if tries < 3 => continue,
                other => return other,
            }
        }
    }

    /// Makes `decision` apply only if `account` is still at the version it was read at, when
    /// the decision does not write the account itself (a reset link read the address: a
    /// concurrent address change must not let the link go to the old one). The version moves
    /// on; nothing else in the record changes.
    pub(crate) fn guard(decision: &mut Decision, account: &AccountRecord) {
        if decision.change.accounts.iter().any(|write| write.account_id() == account.id) {
            return;
        }
        let record = AccountRecord { version: account.version + 1, ..account.clone() };
        decision.change.accounts.push(admit_core::AccountWrite::Update { expected_version: account.version, record });
    }

    /// Commits a decision and publishes its events.
    /// The returned decision keeps the account and the events; its change set has been
    /// handed to the store (moved, not copied: a batch's change set can hold 10,000 rows).
    pub(crate) async fn commit(&self, mut decision: Decision) -> Result<Decision> {
        let kinds: Vec<MailKind> = decision.change.mails.iter().map(|m| m.kind).collect();
        self.inner.store.commit(std::mem::take(&mut decision.change)).await?;
        kinds.into_iter().for_each(telemetry::enqueued);
        for event in &decision.events {
            let _ = self.inner.events.send(*event);
        }
        Ok(decision)
    }

    pub(crate) async fn actor(&self, id: AccountId) -> Result<AccountRecord> {
        self.inner.store.account(id).await?.ok_or(AdmitError::UnknownActor)
    }

    pub(crate) async fn account(&self, id: AccountId) -> Result<AccountRecord> {
        self.inner.store.account(id).await?.ok_or(AdmitError::NotFound(id))
    }

    pub(crate) async fn is_last_platform_administrator(&self, account: &AccountRecord) -> Result<bool> {
        if !account.is_platform_administrator() {
            return Ok(false);
        }
        Ok(self.inner.store.count_platform_administrators().await? <= 1)
    }

    /// Hashes a password on the blocking pool, at most `hashing_concurrency` at once, so
    /// Argon2 never blocks the async executor.
    pub(crate) async fn hash_password(&self, password: SecretString) -> Result<PasswordHash> {
        let waiting = std::time::Instant::now();
        let _permit = self.inner.hashing.clone().acquire_owned().await.map_err(|_| AdmitError::Hashing)?;
        telemetry::argon2_wait(waiting.elapsed());
        let hasher = self.inner.hasher.clone();
        tokio::task::spawn_blocking(move || hasher.hash(&password, &mut rand::rng()))
            .await
            .map_err(|_| AdmitError::Hashing)?
            .map_err(AdmitError::from)
    }

    /// Verifies a password on the blocking pool (`None`: verify against a dummy hash, so an
    /// unknown account costs the same).
    pub(crate) async fn verify_password_hash(
        &self,
        password: SecretString,
        hash: Option<PasswordHash>,
    ) -> Result<PasswordMatch> {
        let waiting = std::time::Instant::now();
        let _permit = self.inner.hashing.clone().acquire_owned().await.map_err(|_| AdmitError::Hashing)?;
        telemetry::argon2_wait(waiting.elapsed());
        let hasher = self.inner.hasher.clone();
        tokio::task::spawn_blocking(move || match hash {
            Some(hash) => hasher.check(&password, &hash).unwrap_or(PasswordMatch::Mismatch),
            None => {
                hasher.dummy_verify(&password);
                PasswordMatch::Mismatch
            }
        })
        .await
        .map_err(|_| AdmitError::Hashing)
    }
}

impl Admit {
    /// A short keyed digest of a requester key or address, for rate-limit keys and audit
    /// details: HMAC-SHA256 under the deployment's digest key
    /// ([`AdmitBuilder::digest_key`]), its first 8 bytes in hex. Without the key, a copy of
    /// the database cannot tell which address or requester a digest stands for, even by
    /// trying every IPv4 address or a list of likely addresses.
    pub(crate) fn digest(&self, text: &str) -> String {
        let mut mac = self.inner.digest_mac.clone();
        mac.update(text.as_bytes());
        mac.finalize().into_bytes().iter().take(8).map(|b| format!("{b:02x}")).collect()
    }
}
