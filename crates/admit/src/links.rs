//! What the people at the other end of the mails do: follow a link, set a password, ask
//! for a reset, sign in. Also the administrator's direct password paths.

use std::collections::HashMap;

use admit_core::decide::{self, AccountEvent, Refusal, RefusalKind};
use admit_core::password::{PasswordContext, PasswordError, PasswordMatch, PasswordRefusal};
use admit_core::token::{self, LinkError, LinkFailure, ParsedToken};
use admit_core::{AccountId, AccountRecord, Email, Locale, Timestamp, TokenPurpose, TokenRecord};
use secrecy::SecretString;

use crate::accounts::{BatchRow, BatchRowOutcome, MAX_BATCH_ROWS};
use crate::config::Limit;
use crate::{Admit, AdmitError, Result};

/// What the landing page of a valid link may show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    /// Invitation or reset.
    pub purpose: TokenPurpose,
    /// The account it acts on.
    pub account_id: AccountId,
    /// The person's name.
    pub full_name: String,
    /// The person's address.
    pub email: Option<String>,
    /// The person's language (the pages speak it).
    pub locale: Locale,
    /// The link's deadline.
    pub expires_at: Timestamp,
}

/// A completed link: the account is active with its new password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// The account.
    pub account_id: AccountId,
    /// Events for the host (activated, password changed: end other sessions).
    pub events: Vec<AccountEvent>,
}

/// Why completing a link failed. Only two things can be said to the person: the link is
/// invalid or expired (one message for every reason), or the new password was refused
/// (they may try again with the same link).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CompletionError {
    /// Invalid or expired link.
    #[error(transparent)]
    InvalidLink(#[from] LinkError),
    /// The new password was refused, with every rule it breaks; nothing was consumed.
    #[error(transparent)]
    Password(#[from] PasswordRefusal),
    /// The service failed; nothing was consumed.
    #[error("service unavailable")]
    Unavailable(#[source] AdmitError),
}

/// Why [`Admit::inspect_link`] could not show a link's page: the link is invalid or expired
/// (one answer for every reason), or the service failed, which a page shows as "try again
/// later" (HTTP 503), never as an invalid link.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InspectError {
    /// Invalid or expired link.
    #[error(transparent)]
    InvalidLink(#[from] LinkError),
    /// The service failed (the store could not be read); the link may well be valid.
    #[error("service unavailable")]
    Unavailable(#[source] AdmitError),
}

impl InspectError {
    /// The link error, when the link itself was refused (`None` when the service failed).
    pub fn link_error(&self) -> Option<LinkError> {
        match self {
            InspectError::InvalidLink(error) => Some(*error),
            InspectError::Unavailable(_) => None,
        }
    }
}

/// A successful sign-in check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignIn {
    /// Who signed in.
    pub account_id: AccountId,
    /// The password is temporary (or was set by an administrator who required it): the
    /// host must make the person change it now.
    pub must_change_password: bool,
}

/// Why a sign-in check failed. One message for unknown address, wrong password,
/// disabled or trashed account.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignInError {
    /// Unknown address, wrong password, or an account that may not sign in.
    #[error("invalid email or password")]
    InvalidCredentials,
    /// Too many failures for this address; try later.
    #[error("too many attempts, try again later")]
    RateLimited,
    /// The service failed.
    #[error("service unavailable")]
    Unavailable(#[source] AdmitError),
}

/// The rate-limit keys of one sign-in attempt.
struct SignInKeys {
    requester: String,
    address: AddressKeys,
}

enum AddressKeys {
    /// The requester signed in to this address before: its own counter for the address.
    Known { pair: String },
    /// Anyone else: the address's recent failures and its consecutive failures since the
    /// last successful sign-in or password change (the key names both, so either resets it).
    Stranger { recent: String, consecutive: String },
}

impl SignInKeys {
    fn new(
        digest: impl Fn(&str) -> String,
        address: &str,
        requester: &str,
        account: Option<&AccountRecord>,
        known: bool,
    ) -> Self {
        let requester_key = format!("signin:req:{}", digest(requester));
        let address = if known {
            AddressKeys::Known { pair: format!("signin:pair:{}", digest(&format!("{address}\n{requester}"))) }
        } else {
            let since =
                account.map_or((0, 0), |a| (a.last_login_at.map_or(0, |t| t.as_unix_micros()), a.credential_epoch.0));
            AddressKeys::Stranger {
                recent: format!("signin:{}", digest(address)),
                consecutive: format!("signin:run:{}:{}:{}", digest(address), since.0, since.1),
            }
        };
        SignInKeys { requester: requester_key, address }
    }
}

fn failure(reason: LinkFailure) -> LinkError {
    LinkError::new(reason)
}

impl Admit {
    async fn link_failures_exceeded(&self, requester: &str) -> Result<bool> {
        let limit = self.inner.rate_limits.link_failures_per_requester;
        let count = self
            .inner
            .store
            .rate_limit_count(&format!("link:{}", self.digest(requester)), limit.per, self.now())
            .await?;
        Ok(count >= u64::from(limit.count))
    }

    /// Counts a failed link attempt against `requester`. Over the limit, the failure is
    /// answered as [`LinkFailure::RateLimited`] (the real reason goes to the trace).
    async fn record_link_failure(
        &self,
        requester: &str,
        error: LinkError,
        over_limit: bool,
        account: Option<AccountId>,
    ) -> LinkError {
        let limit = self.inner.rate_limits.link_failures_per_requester;
        let key = format!("link:{}", self.digest(requester));
        let _ = self.inner.store.hit_rate_limit(&key, limit.count, limit.per, self.now()).await;
        let refusal = Refusal {
            kind: RefusalKind::LinkRefused,
            account,
            actor: None,
            call: None,
            reason: error.reason().as_str(),
        };
        self.refused(refusal, Some(requester));
        if over_limit { failure(LinkFailure::RateLimited) } else { error }
    }

    /// Resolves a link: parse (malformed input costs no store call), look up, verify, check
    /// the account. Every failure after parsing counts against the requester; over its
    /// limit, failures are answered as rate-limited, but a valid link still resolves, so a
    /// stranger sharing the person's requester key (a proxy's address) cannot stop them
    /// from using their own link.
    async fn resolve(
        &self,
        text: &str,
        purpose: Option<TokenPurpose>,
        requester: &str,
    ) -> std::result::Result<(ParsedToken, TokenRecord, AccountRecord), CompletionError> {
        let parsed = token::parse(text)?;
        let over = self.link_failures_exceeded(requester).await.map_err(CompletionError::Unavailable)?;
        let now = self.now();
        let record = match self
            .inner
            .store
            .token(parsed.selector())
            .await
            .map_err(|e| CompletionError::Unavailable(e.into()))?
        {
            Some(record) => record,
            None => {
                return Err(self
                    .record_link_failure(requester, failure(LinkFailure::Unknown), over, None)
                    .await
                    .into());
            }
        };
        let purpose = purpose.unwrap_or(record.purpose);
        if let Err(error) = parsed.verify(&record, purpose, now) {
            return Err(self.record_link_failure(requester, error, over, Some(record.account_id)).await.into());
        }
        let account =
            self.inner.store.account(record.account_id).await.map_err(|e| CompletionError::Unavailable(e.into()))?;
        let account = match account {
            Some(account) => account,
            None => {
                return Err(self
                    .record_link_failure(
                        requester,
                        failure(LinkFailure::AccountUnavailable),
                        over,
                        Some(record.account_id),
                    )
                    .await
                    .into());
            }
        };
        if let Err(error) = record.check_account(&account) {
            return Err(self.record_link_failure(requester, error, over, Some(account.id)).await.into());
        }
        Ok((parsed, record, account))
    }

    /// Tells whether a link is valid, for the page a person lands on. Never consumes it
    /// (mail scanners that prefetch links must not burn them). `requester` is the key the
    /// host rate-limits failures by, e.g. the client IP.
    ///
    /// # Errors
    /// [`InspectError::InvalidLink`] ("invalid or expired link"; the real reason is in
    /// [`LinkError::reason`] and the logs), or [`InspectError::Unavailable`] when the store
    /// failed.
    pub async fn inspect_link(&self, token: &str, requester: &str) -> std::result::Result<LinkInfo, InspectError> {
        match self.resolve(token, None, requester).await {
            Ok((_, record, account)) => Ok(LinkInfo {
                purpose: record.purpose,
                account_id: account.id,
                full_name: account.full_name.as_str().to_owned(),
                email: account.email.as_ref().map(|e| e.as_str().to_owned()),
                locale: account.locale.clone(),
                expires_at: record.expires_at,
            }),
            Err(CompletionError::InvalidLink(e)) => Err(InspectError::InvalidLink(e)),
            Err(CompletionError::Unavailable(e)) => Err(InspectError::Unavailable(e)),
            // Resolving a link checks no password.
            Err(CompletionError::Password(_)) => Err(InspectError::InvalidLink(failure(LinkFailure::Unknown))),
        }
    }

    async fn complete(
        &self,
        purpose: TokenPurpose,
        token: &str,
        new_password: SecretString,
        confirmation: SecretString,
        requester: &str,
    ) -> std::result::Result<Completion, CompletionError> {
        let (_, record, account) = self.resolve(token, Some(purpose), requester).await?;
        let context = PasswordContext::of_account(&account);
        self.inner.password_policy.check_all(&new_password, &confirmation, &context)?;
        let hash = self.hash_password(new_password).await.map_err(CompletionError::Unavailable)?;
        let mut account = account;
        // An unrelated concurrent update (a sign-in, a profile edit) makes the commit stale:
        // decide again on the fresh account, with the same hash.
        for _ in 0..3 {
            let decision = self.decide(|ctx| decide::complete_link(ctx, &record, &account, hash.clone()));
            let decision = match decision {
                Ok(d) => d,
                Err(_) => return Err(failure(LinkFailure::AccountUnavailable).into()),
            };
            match self.commit(decision).await {
                Ok(decision) => return Ok(Completion { account_id: account.id, events: decision.events }),
                Err(AdmitError::Concurrent) => {
                    let fresh = self
                        .inner
                        .store
                        .account(account.id)
                        .await
                        .map_err(|e| CompletionError::Unavailable(e.into()))?;
                    let still = self
                        .inner
                        .store
                        .token(&record.selector)
                        .await
                        .map_err(|e| CompletionError::Unavailable(e.into()))?;
                    match (fresh, still) {
                        (Some(fresh), Some(still))
                            if still.check_state(purpose, self.now()).is_ok()
                                && still.check_account(&fresh).is_ok() =>
                        {
                            account = fresh;
                        }
                        _ => return Err(failure(LinkFailure::Used).into()),
                    }
                }
                Err(other) => return Err(CompletionError::Unavailable(other)),
            }
        }
        Err(failure(LinkFailure::Used).into())
    }

    /// Accepts an invitation: sets the first password (new + confirmation) and activates the
    /// account. Consumes the link exactly once and moves the credential epoch (every other
    /// link dies). No "password changed" mail is sent.
    ///
    /// # Errors
    /// [`CompletionError::InvalidLink`], or [`CompletionError::Password`] (nothing consumed:
    /// the person can try again with the same link).
    pub async fn accept_invitation(
        &self,
        token: &str,
        new_password: SecretString,
        confirmation: SecretString,
        requester: &str,
    ) -> std::result::Result<Completion, CompletionError> {
        self.complete(TokenPurpose::Invitation, token, new_password, confirmation, requester).await
    }

    /// Completes a password reset: sets the new password, activates a never-activated
    /// account (« vous pouvez activer votre compte en réinitialisant votre mot de passe »),
    /// consumes the link once, kills every other link, and mails the "password changed"
    /// notice.
    ///
    /// # Errors
    /// As [`Admit::accept_invitation`].
    pub async fn complete_password_reset(
        &self,
        token: &str,
        new_password: SecretString,
        confirmation: SecretString,
        requester: &str,
    ) -> std::result::Result<Completion, CompletionError> {
        self.complete(TokenPurpose::PasswordReset, token, new_password, confirmation, requester).await
    }

    /// Self-service "forgot password". Answers `Ok(())` whether or not the address exists,
    /// is invited, disabled, or the request is throttled, with the same store work each
    /// time (two rate-limit hits, one look-up, one commit), and no sooner than the
    /// [response floor](crate::AdmitBuilder::reset_response_floor), so timing does not tell
    /// a known address from an unknown one: a known, eligible account gets
    /// a reset link at its stored address; anyone else gets no mail (admit sends no
    /// "unknown address" notice, so a typed address receives nothing it did not ask for).
    /// `requester` is the key the host rate-limits by (the client IP, say).
    ///
    /// # Errors
    /// [`AdmitError::InvalidEmail`] for a malformed address (that reveals nothing), or a
    /// store failure.
    pub async fn request_password_reset(&self, email: &str, requester: &str) -> Result<()> {
        let email = Email::parse(email)?;
        let answer_at = tokio::time::Instant::now() + self.inner.reset_response_floor;
        let now = self.now();
        let limits = self.inner.rate_limits;
        let store = &self.inner.store;
        // A requester that signed in to this address before has its own allowance for it:
        // strangers using up the address's requests cannot stop the owner's.
        let known = self.is_known_requester(email.key().as_str(), requester).await?;
        let per_email_key = if known {
            format!("reset:pair:{}", self.digest(&format!("{}\n{requester}", email.key().as_str())))
        } else {
            format!("reset:email:{}", self.digest(email.key().as_str()))
        };
        let per_email =
            store.hit_rate_limit(&per_email_key, limits.reset_per_email.count, limits.reset_per_email.per, now).await?;
        let per_requester = store
            .hit_rate_limit(
                &format!("reset:req:{}", self.digest(requester)),
                limits.reset_per_requester.count,
                limits.reset_per_requester.per,
                now,
            )
            .await?;
        let account = store.account_by_email(email.key()).await?;
        let throttled = !(per_email.allowed && per_requester.allowed);
        if throttled {
            let refusal = Refusal {
                kind: RefusalKind::ResetRateLimited,
                account: None,
                actor: None,
                call: None,
                reason: if per_email.allowed { "requester_rate_limited" } else { "address_rate_limited" },
            };
            self.refused(refusal, Some(requester));
        }
        let requester =
            if throttled { format!("{} throttled", self.digest(requester)) } else { self.digest(requester) };
        // Not guarded by the account's version (a thousand concurrent requests for one address
        // would then fail each other). An address change committed before this commit revokes
        // nothing of it; one committed after revokes its link and cancels its mail. What stays
        // open is the instant between reading the address and committing (docs/security.md).
        let candidate = if throttled { None } else { account.as_ref() };
        let decision = self.decide(|ctx| decide::request_reset(ctx, candidate, &requester));
        self.commit(decision).await?;
        tokio::time::sleep_until(answer_at).await;
        Ok(())
    }

    /// Sign-in check: address + password. Constant-time behaviour for unknown addresses
    /// (a dummy hash is verified), records the sign-in, revokes an outstanding reset link,
    /// rehashes when the Argon2 parameters changed, and reports the "must change" flag.
    /// Disabled and trashed accounts cannot sign in.
    ///
    /// # Errors
    /// [`SignInError`].
    pub async fn sign_in(
        &self,
        email: &str,
        password: SecretString,
        requester: &str,
    ) -> std::result::Result<SignIn, SignInError> {
        let unavailable = SignInError::Unavailable;
        let parsed = Email::parse(email).ok();
        let address = parsed.as_ref().map_or(email, |e| e.key().as_str());
        let limits = self.inner.rate_limits;
        let now = self.now();
        let store = &self.inner.store;
        // The same reads whatever the address and requester: the account, whether the
        // requester is known for the address, and the counters that apply.
        let account = match &parsed {
            Some(email) => store.account_by_email(email.key()).await.map_err(|e| unavailable(e.into()))?,
            None => None,
        };
        let known = self.is_known_requester(address, requester).await.map_err(unavailable)?;
        let keys = SignInKeys::new(|text| self.digest(text), address, requester, account.as_ref(), known);
        let counted = |key: String, limit: Limit| async move {
            store.rate_limit_count(&key, limit.per, now).await.map(|n| n >= u64::from(limit.count))
        };
        let requester_over = counted(keys.requester.clone(), limits.sign_in_failures_per_requester)
            .await
            .map_err(|e| unavailable(e.into()))?;
        let address_over = match &keys.address {
            AddressKeys::Known { pair } => {
                counted(pair.clone(), limits.sign_in_failures_per_email).await.map_err(|e| unavailable(e.into()))?
            }
            AddressKeys::Stranger { recent, consecutive } => {
                counted(recent.clone(), limits.sign_in_failures_per_email).await.map_err(|e| unavailable(e.into()))?
                    || counted(consecutive.clone(), limits.sign_in_consecutive_failures_per_email)
                        .await
                        .map_err(|e| unavailable(e.into()))?
            }
        };
        if requester_over || address_over {
            let refusal = Refusal {
                kind: RefusalKind::SignInRateLimited,
                account: account.as_ref().map(|a| a.id),
                actor: None,
                call: None,
                reason: if requester_over { "requester_rate_limited" } else { "address_rate_limited" },
            };
            self.refused(refusal, Some(requester));
            return Err(SignInError::RateLimited);
        }
        let known_account = account.as_ref().map(|a| a.id);
        let expired = |a: &AccountRecord| self.temporary_password_deadline(a).is_some_and(|at| now > at);
        let mut failure_reason = match &account {
            None => "unknown_address",
            Some(a) if !a.is_available() => "account_unavailable",
            Some(a) if a.password_hash.is_none() => "no_password",
            Some(_) => "wrong_password",
        };
        let account = account.filter(|a| a.is_available() && a.password_hash.is_some());
        let hash = account.as_ref().and_then(|a| a.password_hash.clone());
        let matched = self.verify_password_hash(password.clone(), hash.clone()).await.map_err(unavailable)?;
        // An administrator-given password past its deadline is refused like a wrong one (after
        // the same Argon2 work), and the account view says it expired.
        let account = account.filter(|a| {
            let usable = !expired(a);
            if !usable && matched != PasswordMatch::Mismatch {
                failure_reason = "temporary_password_expired";
            }
            usable
        });
        let Some(account) = account.filter(|_| matched != PasswordMatch::Mismatch) else {
            let hit = |key: String, limit: Limit| async move {
                let _ = store.hit_rate_limit(&key, limit.count, limit.per, now).await;
            };
            hit(keys.requester.clone(), limits.sign_in_failures_per_requester).await;
            match &keys.address {
                AddressKeys::Known { pair } => hit(pair.clone(), limits.sign_in_failures_per_email).await,
                AddressKeys::Stranger { recent, consecutive } => {
                    hit(recent.clone(), limits.sign_in_failures_per_email).await;
                    hit(consecutive.clone(), limits.sign_in_consecutive_failures_per_email).await;
                }
            }
            let refusal = Refusal {
                kind: RefusalKind::SignInFailed,
                account: known_account,
                actor: None,
                call: None,
                reason: failure_reason,
            };
            self.refused(refusal, Some(requester));
            return Err(SignInError::InvalidCredentials);
        };
        let rehashed = match hash {
            Some(hash) if matched == PasswordMatch::MatchAsTyped || self.inner.hasher.needs_rehash(&hash) => {
                Some(self.hash_password(password).await.map_err(unavailable)?)
            }
            _ => None,
        };
        let mut account = account;
        for _ in 0..3 {
            let decision = self.decide(|ctx| decide::sign_in(ctx, &account, rehashed.clone()));
            match self.commit(decision).await {
                Ok(_) => {
                    self.remember_requester(address, requester).await;
                    return Ok(SignIn { account_id: account.id, must_change_password: account.must_change_password });
                }
                Err(AdmitError::Concurrent) => match self.inner.store.account(account.id).await {
                    Ok(Some(fresh)) if fresh.is_available() => account = fresh,
                    Ok(_) => return Err(SignInError::InvalidCredentials),
                    Err(e) => return Err(unavailable(e.into())),
                },
                Err(other) => return Err(unavailable(other)),
            }
        }
        Err(unavailable(AdmitError::Concurrent))
    }

    fn known_requester_key(&self, address: &str, requester: &str) -> String {
        format!("known:{}", self.digest(&format!("{address}\n{requester}")))
    }

    /// Whether `requester` signed in successfully to `address` within the memory
    /// ([`RateLimits::known_requester_memory`](crate::RateLimits::known_requester_memory)):
    /// one read, since a successful sign-in marks both the current fixed window and the next.
    pub(crate) async fn is_known_requester(&self, address: &str, requester: &str) -> Result<bool> {
        let memory = self.inner.rate_limits.known_requester_memory;
        let key = self.known_requester_key(address, requester);
        Ok(self.inner.store.rate_limit_count(&key, memory, self.now()).await? > 0)
    }

    /// Marks `requester` as known for `address` in the current window and the next, so it
    /// stays known between one and two memories after its last successful sign-in.
    async fn remember_requester(&self, address: &str, requester: &str) {
        let memory = self.inner.rate_limits.known_requester_memory;
        let key = self.known_requester_key(address, requester);
        let now = self.now();
        for at in [now, now.saturating_add(memory)] {
            if let Err(error) = self.inner.store.hit_rate_limit(&key, u32::MAX, memory, at).await {
                tracing::warn!(%error, "could not remember the requester of a successful sign-in");
            }
        }
    }

    /// The person changes their own password after signing in (required when
    /// [`SignIn::must_change_password`] is set). Checks the current password.
    ///
    /// # Errors
    /// [`AdmitError::Password`] (wrong current password: `PasswordError::Incorrect`, or
    /// policy), [`AdmitError::AccountUnavailable`], [`AdmitError::NotFound`].
    pub async fn change_own_password(
        &self,
        account: AccountId,
        current: SecretString,
        new_password: SecretString,
        confirmation: SecretString,
    ) -> Result<Vec<AccountEvent>> {
        let account = self.account(account).await?;
        if !account.is_available() {
            return Err(AdmitError::AccountUnavailable);
        }
        // A wrong current password is a failed attempt, throttled like sign-in (ASVS 6.2.3):
        // a stolen session cannot be used to guess the password behind it.
        let limit = self.inner.rate_limits.sign_in_failures_per_email;
        let key = format!("password_change:{}", account.id);
        let now = self.now();
        let refusal = |reason| Refusal {
            kind: RefusalKind::CurrentPasswordRefused,
            account: Some(account.id),
            actor: Some(account.id),
            call: Some("change_own_password"),
            reason,
        };
        if self.inner.store.rate_limit_count(&key, limit.per, now).await? >= u64::from(limit.count) {
            self.refused(refusal("rate_limited"), None);
            let retry_at = admit_store::window_start(now, limit.per).saturating_add(limit.per);
            return Err(AdmitError::RateLimited { retry_at });
        }
        if self.verify_password_hash(current, account.password_hash.clone()).await? == PasswordMatch::Mismatch {
            self.inner.store.hit_rate_limit(&key, limit.count, limit.per, now).await?;
            self.refused(refusal("wrong_current_password"), None);
            return Err(AdmitError::from(PasswordError::Incorrect));
        }
        let context = PasswordContext::of_account(&account);
        self.inner.password_policy.check_all(&new_password, &confirmation, &context)?;
        let hash = self.hash_password(new_password).await?;
        let decision = self.decide(|ctx| decide::change_own_password(ctx, &account, hash))?;
        Ok(self.commit(decision).await?.events)
    }

    /// An administrator sets a password directly (new + confirmation); it takes effect at
    /// once, activates an invited account and revokes its links, and the person is
    /// notified. `must_change` (checked by default in consoles) makes them change it at the
    /// next sign-in. Turned off by [`AdmitBuilder::admin_set_password`](crate::AdmitBuilder::admin_set_password).
    ///
    /// # Errors
    /// [`AdmitError::SetPasswordDisabled`], [`AdmitError::Forbidden`],
    /// [`AdmitError::Password`], [`AdmitError::AccountUnavailable`], [`AdmitError::NotFound`].
    pub async fn set_password(
        &self,
        actor: AccountId,
        account: AccountId,
        new_password: SecretString,
        confirmation: SecretString,
        must_change: bool,
    ) -> Result<Vec<AccountEvent>> {
        if !self.inner.admin_set_password {
            return Err(AdmitError::SetPasswordDisabled);
        }
        let (actor_record, account_record) = (self.actor(actor).await?, self.account(account).await?);
        // Authorize before looking at the password, so a forbidden call learns nothing.
        self.authorize_for(&actor_record, "set_password", admit_core::authz::Action::SetPassword, &account_record)
            .await?;
        let context = PasswordContext::of_account(&account_record);
        self.inner.password_policy.check_all(&new_password, &confirmation, &context)?;
        let hash = self.hash_password(new_password).await?;
        // Lost a race against another change of the account (the person accepted their
        // invitation meanwhile, say): decide again on the fresh account, with the same hash.
        // A mutex, not a `Cell`: the future must stay `Send` (web handlers run it).
        let first = std::sync::Mutex::new(Some((actor_record, account_record)));
        self.decide_again_on_conflict(|| {
            let taken = first.lock().map(|mut slot| slot.take()).unwrap_or(None);
            let (hash, first) = (hash.clone(), taken);
            async move {
                let (actor, account) = match first {
                    Some(records) => records,
                    None => (self.actor(actor).await?, self.account(account).await?),
                };
                let decision = self
                    .decide_for(&actor, "set_password", Some(account.id), |ctx| {
                        decide::set_password(ctx, &actor, &account, hash, must_change)
                    })
                    .await?;
                Ok(self.commit(decision).await?.events)
            }
        })
        .await
    }

    /// Generates temporary passwords for many accounts at once (« Génération par lot »):
    /// only accounts with an address (and available) are eligible; each is flagged "must
    /// change at next sign-in", its links and any earlier password stop working, and a
    /// temporary password mail is queued. A result per row.
    ///
    /// No password exists yet when this returns: the dispatcher generates each one just
    /// before sending its mail and stores only its Argon2id hash (see
    /// [`Dispatcher`](crate::Dispatcher)), so no byte in the store lets anyone sign in with
    /// a password still waiting to be sent, and the mail journal never shows it. Every
    /// eligible row is committed in one atomic step: if the store fails, no row is written
    /// and the call returns the error.
    ///
    /// # Errors
    /// [`AdmitError::TooLarge`], [`AdmitError::UnknownActor`], a store failure.
    pub async fn issue_temporary_passwords(&self, actor: AccountId, accounts: Vec<AccountId>) -> Result<Vec<BatchRow>> {
        if accounts.len() > MAX_BATCH_ROWS {
            return Err(AdmitError::TooLarge);
        }
        let actor = self.actor(actor).await?;
        let found: HashMap<AccountId, AccountRecord> =
            self.inner.store.accounts_by_ids(&accounts).await?.into_iter().map(|a| (a.id, a)).collect();
        let mut outcomes: Vec<Option<BatchRowOutcome>> = vec![None; accounts.len()];
        let mut seen = std::collections::HashSet::new();
        let ids = accounts.clone();
        let decisions = self.decide(|ctx| {
            let mut decisions = Vec::new();
            for (index, id) in accounts.into_iter().enumerate() {
                let account = match found.get(&id) {
                    None => {
                        outcomes[index] = Some(BatchRowOutcome::Refused(AdmitError::NotFound(id).to_string()));
                        continue;
                    }
                    Some(_) if !seen.insert(id) => {
                        outcomes[index] = Some(BatchRowOutcome::Duplicate);
                        continue;
                    }
                    Some(account) => account,
                };
                match decide::issue_temporary_password(ctx, &actor, account) {
                    Ok(decision) => decisions.push((index, decision)),
                    Err(decide::DecisionError::Forbidden(f)) => outcomes[index] = Some(BatchRowOutcome::Forbidden(f)),
                    Err(error) => outcomes[index] = Some(BatchRowOutcome::Refused(AdmitError::from(error).to_string())),
                }
            }
            decisions
        });
        self.record_forbidden_rows(&actor, "issue_temporary_passwords", &outcomes, |index| ids.get(index).copied())
            .await;
        self.commit_rows(decisions, &mut outcomes, |d| {
            BatchRowOutcome::Done(d.account.as_ref().map(|a| a.id).unwrap_or_else(|| unreachable!()))
        })
        .await?;
        Ok(crate::accounts::rows(outcomes))
    }

    /// Generates one temporary password (« Génération responsable par responsable »): the
    /// account is flagged "must change", its links and earlier password stop working, and
    /// the dispatcher generates the password when it sends the mail (see
    /// [`Admit::issue_temporary_passwords`]).
    ///
    /// # Errors
    /// [`AdmitError::Forbidden`], [`AdmitError::NoEmail`], [`AdmitError::AccountUnavailable`],
    /// [`AdmitError::NotFound`].
    pub async fn issue_temporary_password(&self, actor: AccountId, account: AccountId) -> Result<()> {
        let (actor, account) = (self.actor(actor).await?, self.account(account).await?);
        let decision = self
            .decide_for(&actor, "issue_temporary_password", Some(account.id), |ctx| {
                decide::issue_temporary_password(ctx, &actor, &account)
            })
            .await?;
        self.commit(decision).await?;
        Ok(())
    }
}
