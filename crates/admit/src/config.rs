//! [`AdmitBuilder`]: builds an [`Admit`](crate::Admit) from a store, a transport and
//! settings. Every default is the safe one; all validation happens in [`AdmitBuilder::build`].

use std::sync::Arc;

use admit_core::decide::{Links, Rules};
use admit_core::password::{Argon2Params, PasswordHasher, PasswordPolicy};
use admit_core::{Clock, Email, EmailPolicy, Locale, SystemClock};
use admit_mail::{Templates, Transport};
use admit_store::Store;
use time::Duration;

use crate::Admit;

/// A rate limit: at most `count` events per `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Events allowed per window.
    pub count: u32,
    /// The window.
    pub per: Duration,
}

impl Limit {
    /// `count` per `per`.
    pub const fn new(count: u32, per: Duration) -> Self {
        Limit { count, per }
    }
}

/// Every rate limit admit enforces (through the store, so they hold across hosts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Administrator re-sends (invite, re-invite, reset) per account. Default: 1 a minute.
    pub resend_per_account: Limit,
    /// Self-service reset requests per typed address. Default: 5 an hour.
    pub reset_per_email: Limit,
    /// Self-service reset requests per requester key. Default: 20 an hour.
    pub reset_per_requester: Limit,
    /// Failed link attempts (inspect, accept, complete) per requester key. Default: 20 per
    /// 15 minutes. Over it, failures are answered as rate-limited; a valid link still works
    /// (nobody can stop a person from using their own link).
    pub link_failures_per_requester: Limit,
    /// Failed sign-ins per address from requesters that never signed in to it. Default: 10
    /// per 15 minutes. A requester that has signed in successfully to the address before (a
    /// "known requester", remembered for [`RateLimits::known_requester_memory`]) is not
    /// stopped by it: it has its own limit of the same size for that address, so strangers
    /// cannot lock the owner out (NIST SP 800-63B 5.2.2).
    pub sign_in_failures_per_email: Limit,
    /// Consecutive failed sign-ins per address (since its last successful sign-in or
    /// password change) from requesters that never signed in to it, over `per`. Default: 100
    /// per 30 days; `count` may not exceed 100 (NIST SP 800-63B 5.2.2).
    pub sign_in_consecutive_failures_per_email: Limit,
    /// Failed sign-ins per requester key, whatever the address. Default: 50 per 15 minutes.
    pub sign_in_failures_per_requester: Limit,
    /// How long a requester key that signed in successfully to an address is remembered as
    /// known for it (between one and two times this, windows being fixed). Default: 30 days.
    pub known_requester_memory: Duration,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            resend_per_account: Limit::new(1, Duration::minutes(1)),
            reset_per_email: Limit::new(5, Duration::hours(1)),
            reset_per_requester: Limit::new(20, Duration::hours(1)),
            link_failures_per_requester: Limit::new(20, Duration::minutes(15)),
            sign_in_failures_per_email: Limit::new(10, Duration::minutes(15)),
            sign_in_consecutive_failures_per_email: Limit::new(100, Duration::days(30)),
            sign_in_failures_per_requester: Limit::new(50, Duration::minutes(15)),
            known_requester_memory: Duration::days(30),
        }
    }
}

/// Where the mailed links point: the base URL and the two paths, as configured
/// ([`AdmitBuilder::link_base`], [`AdmitBuilder::link_paths`]). The web pages read their
/// routes from here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkPaths {
    base: String,
    invitation: String,
    reset: String,
}

impl LinkPaths {
    /// The default path of invitation links.
    pub const DEFAULT_INVITATION: &'static str = "/accept-invitation";
    /// The default path of reset links.
    pub const DEFAULT_RESET: &'static str = "/reset-password";

    /// The base URL, without a trailing `/` (`https://app.example.org/portal`).
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The origin of the base URL (`https://app.example.org`): what a browser sends in
    /// `Origin` from these pages.
    pub fn origin(&self) -> &str {
        let after_scheme = self.base.find("://").map_or(0, |i| i + 3);
        match self.base[after_scheme..].find('/') {
            Some(i) => &self.base[..after_scheme + i],
            None => &self.base,
        }
    }

    /// The path part of the base URL (`/portal`, or empty): the prefix every page lives under.
    pub fn prefix(&self) -> &str {
        &self.base[self.origin().len()..]
    }

    /// Whether the base URL is https (cookies are then `Secure`).
    pub fn is_https(&self) -> bool {
        self.base.starts_with("https://")
    }

    /// The invitation path, relative to the base (`/accept-invitation`).
    pub fn invitation(&self) -> &str {
        &self.invitation
    }

    /// The reset path, relative to the base (`/reset-password`).
    pub fn reset(&self) -> &str {
        &self.reset
    }
}

/// A setting [`AdmitBuilder::build`] refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No store was given.
    #[error("a store is required")]
    MissingStore,
    /// No transport was given.
    #[error("a transport is required")]
    MissingTransport,
    /// No link base URL was given.
    #[error("a link base URL is required")]
    MissingLinkBase,
    /// The link base URL is not https (or http on localhost).
    #[error("link base URL is invalid")]
    InvalidLinkBase,
    /// A link lifetime, retention or rate-limit window is zero or negative, or a count is zero.
    #[error("{0} must be positive")]
    NotPositive(&'static str),
    /// A limit above what the standards admit allow (NIST SP 800-63B: at most 100
    /// consecutive failed sign-ins per account).
    #[error("{0} is above its allowed maximum")]
    TooLenient(&'static str),
    /// The sender address is invalid.
    #[error("sender address is invalid")]
    InvalidSender,
    /// A link path is not `/` followed by URL path characters (letters, digits, `/-_.~`).
    #[error("link path is invalid")]
    InvalidLinkPath,
    /// The default templates could not be built with these settings.
    #[error("templates are invalid: {0}")]
    Templates(String),
    /// The digest key is shorter than [`AdmitBuilder::MIN_DIGEST_KEY_LEN`] bytes.
    #[error("digest key must be at least 32 bytes")]
    DigestKeyTooShort,
}

/// The digest key used when the host gives none: public, so it protects nothing. Building
/// with it logs a warning.
const DEVELOPMENT_DIGEST_KEY: &[u8] = b"admit development digest key: public, set AdmitBuilder::digest_key";

/// Builds an [`Admit`]. See the crate docs for an example.
#[derive(Debug)]
pub struct AdmitBuilder {
    store: Option<Arc<dyn Store>>,
    transport: Option<Arc<dyn Transport>>,
    clock: Arc<dyn Clock>,
    templates: Option<Templates>,
    link_base: Option<String>,
    link_paths: Option<(String, String)>,
    invitation_ttl: Duration,
    reset_ttl: Duration,
    trash_retention: Duration,
    temporary_password_ttl: Duration,
    password_policy: PasswordPolicy,
    argon2: Argon2Params,
    email_policy: EmailPolicy,
    rate_limits: RateLimits,
    admin_set_password: bool,
    hashing_concurrency: usize,
    reset_response_floor: std::time::Duration,
    sender_name: String,
    sender_address: String,
    default_locale: Locale,
    digest_key: Option<secrecy::SecretSlice<u8>>,
}

impl Default for AdmitBuilder {
    fn default() -> Self {
        AdmitBuilder {
            store: None,
            transport: None,
            clock: Arc::new(SystemClock),
            templates: None,
            link_base: None,
            link_paths: None,
            invitation_ttl: Rules::DEFAULT_INVITATION_TTL,
            reset_ttl: Rules::DEFAULT_RESET_TTL,
            trash_retention: Rules::DEFAULT_TRASH_RETENTION,
            temporary_password_ttl: crate::DEFAULT_TEMPORARY_PASSWORD_TTL,
            password_policy: PasswordPolicy::default(),
            argon2: Argon2Params::default(),
            email_policy: EmailPolicy::default(),
            rate_limits: RateLimits::default(),
            admin_set_password: true,
            hashing_concurrency: std::thread::available_parallelism().map_or(2, usize::from),
            reset_response_floor: Self::DEFAULT_RESET_RESPONSE_FLOOR,
            sender_name: "admit".to_owned(),
            sender_address: "no-reply@localhost.localdomain".to_owned(),
            default_locale: Locale::en(),
            digest_key: None,
        }
    }
}

impl AdmitBuilder {
    /// The default [`AdmitBuilder::reset_response_floor`]: 50 ms.
    pub const DEFAULT_RESET_RESPONSE_FLOOR: std::time::Duration = std::time::Duration::from_millis(50);

    /// The least time a self-service reset request takes to answer (default 50 ms). A known
    /// address costs a token, a rendered subject and a larger commit; an unknown one does
    /// not. Answering no sooner than this floor keeps the two indistinguishable by timing
    /// (the call sleeps, off the executor's threads, for whatever the work left). Zero turns
    /// the padding off.
    pub fn reset_response_floor(mut self, floor: std::time::Duration) -> Self {
        self.reset_response_floor = floor;
        self
    }

    /// The store (required).
    pub fn store(mut self, store: impl Store) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// The store, already shared.
    pub fn shared_store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// The mail transport (required).
    pub fn transport(mut self, transport: impl Transport) -> Self {
        self.transport = Some(Arc::new(transport));
        self
    }

    /// The mail transport, already shared.
    pub fn shared_transport(mut self, transport: Arc<dyn Transport>) -> Self {
        self.transport = Some(transport);
        self
    }

    /// The clock (default: the system clock). Tests pass a `TestClock`.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Mail templates (default: the built-in French and English ones).
    pub fn templates(mut self, templates: Templates) -> Self {
        self.templates = Some(templates);
        self
    }

    /// The base URL links point to (required): `https://app.example.org`, or `http://localhost…`.
    pub fn link_base(mut self, base: impl Into<String>) -> Self {
        self.link_base = Some(base.into());
        self
    }

    /// The paths of the invitation and reset links under the link base (default
    /// `/accept-invitation` and `/reset-password`). The web pages (admit-axum) serve the
    /// same paths, so a link in a mail always reaches its page.
    pub fn link_paths(mut self, invitation: impl Into<String>, reset: impl Into<String>) -> Self {
        self.link_paths = Some((invitation.into(), reset.into()));
        self
    }

    /// How long invitation links live (default 7 days).
    pub fn invitation_ttl(mut self, ttl: Duration) -> Self {
        self.invitation_ttl = ttl;
        self
    }

    /// How long reset links live (default 1 hour).
    pub fn reset_ttl(mut self, ttl: Duration) -> Self {
        self.reset_ttl = ttl;
        self
    }

    /// How long a password an administrator gave (a temporary password, or one set with
    /// "must change at next sign-in") may be used to sign in (default 72 hours, counted from
    /// when it was issued): after that, signing in with it is refused with the same answer as
    /// a wrong password, and [`AccountView::temporary_password_expired`](crate::AccountView)
    /// tells the administrator, who issues a new one or sends a reset link (ASVS 6.4.1).
    pub fn temporary_password_ttl(mut self, ttl: Duration) -> Self {
        self.temporary_password_ttl = ttl;
        self
    }

    /// How long trashed accounts stay restorable (default 30 days).
    pub fn trash_retention(mut self, retention: Duration) -> Self {
        self.trash_retention = retention;
        self
    }

    /// The password policy (default: minimum 15 characters as NIST SP 800-63B-4 asks of a password used alone — a host with a second factor may lower it to 8 — a blocklist, no composition rules).
    pub fn password_policy(mut self, policy: PasswordPolicy) -> Self {
        self.password_policy = policy;
        self
    }

    /// Argon2id parameters (default: OWASP, m = 19 MiB, t = 2, p = 1).
    pub fn argon2_params(mut self, params: Argon2Params) -> Self {
        self.argon2 = params;
        self
    }

    /// Which addresses accounts may have (default: department addresses refused).
    pub fn email_policy(mut self, policy: EmailPolicy) -> Self {
        self.email_policy = policy;
        self
    }

    /// Rate limits.
    pub fn rate_limits(mut self, limits: RateLimits) -> Self {
        self.rate_limits = limits;
        self
    }

    /// Whether administrators may set a password directly (default: yes). A host following
    /// ASVS level 3 turns it off; the call then fails with
    /// [`AdmitError::SetPasswordDisabled`](crate::AdmitError::SetPasswordDisabled).
    pub fn admin_set_password(mut self, allowed: bool) -> Self {
        self.admin_set_password = allowed;
        self
    }

    /// How many passwords may be hashed at once (default: the number of cores). Each runs on
    /// tokio's blocking pool, never on the executor; waiting requests queue for a permit
    /// (more hashes at once than cores would only share the cores and their caches). The
    /// hasher keeps as many Argon2 working buffers between hashes (`m_cost` KiB each: 19 MiB
    /// at the default parameters), see [`PasswordHasher::keep_memory`].
    pub fn hashing_concurrency(mut self, permits: usize) -> Self {
        self.hashing_concurrency = permits.max(1);
        self
    }

    /// The sender of every mail.
    pub fn sender(mut self, name: impl Into<String>, address: impl Into<String>) -> Self {
        self.sender_name = name.into();
        self.sender_address = address.into();
        self
    }

    /// The locale used when an account's locale has no templates (default: English).
    pub fn default_locale(mut self, locale: Locale) -> Self {
        self.default_locale = locale;
        self
    }

    /// The least length of a digest key: 32 bytes.
    pub const MIN_DIGEST_KEY_LEN: usize = 32;

    /// The deployment's digest key: the HMAC-SHA256 key of the digests that stand for an
    /// address or a requester in rate-limit keys and audit details. Without it, a copy of
    /// the database cannot tell who asked for what (an unkeyed hash of an IP address or a
    /// likely address is found by trying them all). Give every instance of a deployment the
    /// same random key of at least 32 bytes (for example 32 bytes from the operating
    /// system's generator, kept with the host's other secrets, never in the database).
    /// Changing it only restarts the rate-limit windows and makes older audit digests
    /// incomparable with newer ones.
    ///
    /// Without this call a public development key is used and [`AdmitBuilder::build`] logs
    /// a warning (`tracing`, target `admit`).
    pub fn digest_key(mut self, key: secrecy::SecretSlice<u8>) -> Self {
        self.digest_key = Some(key);
        self
    }

    /// Validates everything and builds.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the setting.
    pub fn build(self) -> Result<Admit, ConfigError> {
        let store = self.store.ok_or(ConfigError::MissingStore)?;
        let transport = self.transport.ok_or(ConfigError::MissingTransport)?;
        let base = self.link_base.ok_or(ConfigError::MissingLinkBase)?;
        let links = Links::new(&base).map_err(|_| ConfigError::InvalidLinkBase)?;
        let (invitation_path, reset_path) = self
            .link_paths
            .unwrap_or_else(|| (LinkPaths::DEFAULT_INVITATION.to_owned(), LinkPaths::DEFAULT_RESET.to_owned()));
        let links = links.with_paths(&invitation_path, &reset_path).map_err(|_| ConfigError::InvalidLinkPath)?;
        if invitation_path == reset_path {
            return Err(ConfigError::InvalidLinkPath);
        }
        let link_paths =
            LinkPaths { base: base.trim_end_matches('/').to_owned(), invitation: invitation_path, reset: reset_path };
        for (name, d) in [
            ("invitation_ttl", self.invitation_ttl),
            ("reset_ttl", self.reset_ttl),
            ("trash_retention", self.trash_retention),
            ("temporary_password_ttl", self.temporary_password_ttl),
        ] {
            if d <= Duration::ZERO {
                return Err(ConfigError::NotPositive(name));
            }
        }
        let limits = self.rate_limits;
        for (name, limit) in [
            ("resend_per_account", limits.resend_per_account),
            ("reset_per_email", limits.reset_per_email),
            ("reset_per_requester", limits.reset_per_requester),
            ("link_failures_per_requester", limits.link_failures_per_requester),
            ("sign_in_failures_per_email", limits.sign_in_failures_per_email),
            ("sign_in_consecutive_failures_per_email", limits.sign_in_consecutive_failures_per_email),
            ("sign_in_failures_per_requester", limits.sign_in_failures_per_requester),
            ("known_requester_memory", Limit::new(1, limits.known_requester_memory)),
        ] {
            if limit.count == 0 || limit.per <= Duration::ZERO {
                return Err(ConfigError::NotPositive(name));
            }
        }
        if limits.sign_in_consecutive_failures_per_email.count > 100 {
            return Err(ConfigError::TooLenient("sign_in_consecutive_failures_per_email"));
        }
        let sender = Email::parse(&self.sender_address).map_err(|_| ConfigError::InvalidSender)?;
        let digest_key = match self.digest_key {
            Some(key) => {
                if secrecy::ExposeSecret::expose_secret(&key).len() < Self::MIN_DIGEST_KEY_LEN {
                    return Err(ConfigError::DigestKeyTooShort);
                }
                key
            }
            None => {
                tracing::warn!(
                    target: "admit",
                    "no digest key configured (AdmitBuilder::digest_key): using the public development key; \
                     rate-limit keys and audit digests can then be reversed from a copy of the database"
                );
                secrecy::SecretSlice::from(DEVELOPMENT_DIGEST_KEY.to_vec())
            }
        };
        let rules = Rules {
            invitation_ttl: self.invitation_ttl,
            reset_ttl: self.reset_ttl,
            trash_retention: self.trash_retention,
            links,
        };
        let templates = match self.templates {
            Some(t) => t,
            None => Templates::builder()
                .product_name(self.sender_name.clone())
                .default_locale(self.default_locale.clone())
                .build()
                .map_err(|e| ConfigError::Templates(e.to_string()))?,
        };
        Ok(Admit::from_parts(crate::Parts {
            store,
            transport,
            clock: self.clock,
            templates: Arc::new(templates),
            rules,
            link_paths,
            password_policy: self.password_policy,
            hasher: PasswordHasher::new(self.argon2).keep_memory(self.hashing_concurrency),
            email_policy: self.email_policy,
            rate_limits: limits,
            admin_set_password: self.admin_set_password,
            hashing_concurrency: self.hashing_concurrency,
            reset_response_floor: self.reset_response_floor,
            temporary_password_ttl: self.temporary_password_ttl,
            sender_name: self.sender_name,
            sender,
            default_locale: self.default_locale,
            digest_key,
        }))
    }
}
