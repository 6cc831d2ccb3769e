//! Every workflow's decision as a pure function: the records read, the actor, the input
//! and the instant in; a [`Decision`] (the [`ChangeSet`] to commit, the account's new
//! state, the events for the host) or a typed [`DecisionError`] out.
//!
//! No I/O happens here. The facade (`admit`) loads the records, hashes passwords off the
//! executor, calls one of these functions, and commits the change set atomically. A rule
//! is written once, here, and tested without a store.

use std::fmt;

use rand_core::CryptoRng;
use time::Duration;

use crate::authz::{self, Action, Forbidden, Target};
use crate::token;
use crate::{
    AccountId, AccountKind, AccountRecord, AccountStatus, AccountWrite, AuditAction, AuditId, AuditRecord, ChangeSet,
    CredentialEpoch, Email, FullName, Grant, Labels, Lifecycle, Locale, MailCancellation, MailId, MailIntent, MailKind,
    MailParams, MailRecord, MailStatus, PasswordHash, Phone, RevokeReason, Scope, StatusEvent, Timestamp,
    TokenConsumption, TokenPurpose, TokenRecord, TokenRevocation, TransitionError,
};

/// Renders a mail's subject line at enqueue time (the journal filters on it). The
/// `admit-mail` templates implement it.
pub trait Subjects: fmt::Debug + Send + Sync {
    /// The subject of a mail of `kind` in `locale` with `params`. `params.secret` is always
    /// `None` here: a secret never reaches a subject line.
    fn subject(&self, kind: MailKind, locale: &Locale, params: &MailParams) -> String;
}

/// Builds the links put in mails, from a base URL in the configuration — never from
/// anything a request carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Links {
    base: String,
    invitation_path: String,
    reset_path: String,
}

/// A base URL or path that [`Links`] refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("link base must be an https URL (http only for localhost) without query or fragment")]
pub struct LinkBaseError;

impl Links {
    /// Links under `base` (`https://app.example.org`), with the default paths
    /// `/accept-invitation` and `/reset-password`; the token goes in the `token` query
    /// parameter.
    ///
    /// # Errors
    /// [`LinkBaseError`] unless `base` is `https://host[:port][/path]`, or `http://` for
    /// `localhost`, `127.0.0.1` or `[::1]`, with no query, fragment, user info, white space
    /// or control character.
    ///
    /// ```
    /// use admit_core::decide::Links;
    /// assert!(Links::new("https://app.example.org").is_ok());
    /// assert!(Links::new("http://localhost:8080").is_ok());
    /// assert!(Links::new("http://app.example.org").is_err());
    /// ```
    pub fn new(base: &str) -> Result<Links, LinkBaseError> {
        let base = base.trim_end_matches('/');
        let (rest, loopback_only) = if let Some(rest) = base.strip_prefix("https://") {
            (rest, false)
        } else if let Some(rest) = base.strip_prefix("http://") {
            (rest, true)
        } else {
            return Err(LinkBaseError);
        };
        let bad = rest.contains(['?', '#', '@', '\\'])
            || rest.chars().any(|c| c.is_whitespace() || c.is_control() || !c.is_ascii());
        if bad {
            return Err(LinkBaseError);
        }
        // The authority is the host, bracketed if IPv6, then an optional `:port`; nothing
        // may follow the closing bracket but the port (`http://[::1].evil.example` is refused).
        let authority = rest.split('/').next().unwrap_or("");
        let (host, port) = if authority.starts_with('[') {
            let end = authority.find(']').ok_or(LinkBaseError)?;
            authority.split_at(end + 1)
        } else {
            authority.split_at(authority.find(':').unwrap_or(authority.len()))
        };
        let port_ok = port.is_empty()
            || port
                .strip_prefix(':')
                .is_some_and(|p| (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()));
        if host.is_empty() || host == "[]" || !port_ok {
            return Err(LinkBaseError);
        }
        if loopback_only && !matches!(host, "localhost" | "127.0.0.1" | "[::1]") {
            return Err(LinkBaseError);
        }
        Ok(Links {
            base: base.to_owned(),
            invitation_path: "/accept-invitation".to_owned(),
            reset_path: "/reset-password".to_owned(),
        })
    }

    /// Changes the paths (each must start with `/` and hold only URL path characters).
    ///
    /// # Errors
    /// [`LinkBaseError`] if a path is not acceptable.
    pub fn with_paths(mut self, invitation: &str, reset: &str) -> Result<Links, LinkBaseError> {
        for path in [invitation, reset] {
            let ok = path.starts_with('/')
                && path.bytes().all(|b| b.is_ascii_alphanumeric() || b"/-_.~".contains(&b))
                && path.len() <= 200;
            if !ok {
                return Err(LinkBaseError);
            }
        }
        self.invitation_path = invitation.to_owned();
        self.reset_path = reset.to_owned();
        Ok(self)
    }

    /// The link for a raw token of `purpose`.
    pub fn link(&self, purpose: TokenPurpose, raw: &str) -> String {
        let path = match purpose {
            TokenPurpose::Invitation => &self.invitation_path,
            TokenPurpose::PasswordReset => &self.reset_path,
        };
        format!("{}{}?token={}", self.base, path, raw)
    }
}

/// The settings decisions depend on.
#[derive(Debug, Clone)]
pub struct Rules {
    /// How long an invitation link lives.
    pub invitation_ttl: Duration,
    /// How long a reset link lives.
    pub reset_ttl: Duration,
    /// How long a trashed account stays restorable.
    pub trash_retention: Duration,
    /// Where links point.
    pub links: Links,
}

impl Rules {
    /// Invitation links live 7 days by default.
    pub const DEFAULT_INVITATION_TTL: Duration = Duration::days(7);
    /// Reset links live 1 hour by default.
    pub const DEFAULT_RESET_TTL: Duration = Duration::hours(1);
    /// Trashed accounts are purged after 30 days by default.
    pub const DEFAULT_TRASH_RETENTION: Duration = Duration::days(30);

    /// Default lifetimes with these links.
    pub fn new(links: Links) -> Self {
        Rules {
            invitation_ttl: Self::DEFAULT_INVITATION_TTL,
            reset_ttl: Self::DEFAULT_RESET_TTL,
            trash_retention: Self::DEFAULT_TRASH_RETENTION,
            links,
        }
    }

    fn ttl(&self, purpose: TokenPurpose) -> Duration {
        match purpose {
            TokenPurpose::Invitation => self.invitation_ttl,
            TokenPurpose::PasswordReset => self.reset_ttl,
        }
    }
}

/// What every decision needs besides its records: the instant, randomness, the rules and
/// the subject renderer.
pub struct Ctx<'a, R: CryptoRng + ?Sized> {
    /// The current instant (from the injected clock).
    pub now: Timestamp,
    /// A cryptographically secure generator.
    pub rng: &'a mut R,
    /// The settings.
    pub rules: &'a Rules,
    /// Renders subjects.
    pub subjects: &'a dyn Subjects,
}

impl<R: CryptoRng + ?Sized> fmt::Debug for Ctx<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ctx").field("now", &self.now).field("rules", &self.rules).finish_non_exhaustive()
    }
}

/// Something the host should react to, typically by ending the account's sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccountEvent {
    /// The account was activated (first password set).
    Activated(AccountId),
    /// The password changed: end every session of the account.
    PasswordChanged(AccountId),
    /// The address changed: end every session of the account.
    EmailChanged(AccountId),
    /// The account was disabled: end every session.
    Disabled(AccountId),
    /// The account was trashed: end every session.
    Trashed(AccountId),
    /// A security-relevant refusal (failed sign-in, refused link, rate limit, forbidden
    /// administrative call), for the host's security monitoring. Nothing changed.
    Refused(Refusal),
}

/// What kind of refusal a [`Refusal`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RefusalKind {
    /// A sign-in with a wrong password, an unknown address or an account that may not sign in.
    SignInFailed,
    /// A sign-in refused by a rate limit (the requester's, or the address's for strangers).
    SignInRateLimited,
    /// A link (inspect, accept, complete) refused; the reason is the real one.
    LinkRefused,
    /// A self-service reset request over a limit (answered like any other, no mail sent).
    ResetRateLimited,
    /// A password change with a wrong current password, or refused by its rate limit.
    CurrentPasswordRefused,
    /// An authenticated actor's administrative call refused by the authorization policy.
    CallRefused,
    /// An administrative re-send (invite, re-invite, reset) over the per-account limit.
    ResendRateLimited,
}

impl RefusalKind {
    /// The stable snake-case name (the `event` field of the `admit::security` trace).
    pub const fn as_str(self) -> &'static str {
        match self {
            RefusalKind::SignInFailed => "sign_in_failed",
            RefusalKind::SignInRateLimited => "sign_in_rate_limited",
            RefusalKind::LinkRefused => "link_refused",
            RefusalKind::ResetRateLimited => "reset_rate_limited",
            RefusalKind::CurrentPasswordRefused => "current_password_refused",
            RefusalKind::CallRefused => "call_refused",
            RefusalKind::ResendRateLimited => "resend_rate_limited",
        }
    }
}

/// A security-relevant refusal: what was refused, whom it concerned and why. Never a
/// password, a token, a link or an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Refusal {
    /// What was refused.
    pub kind: RefusalKind,
    /// The account concerned, when one is known (never for an unknown address).
    pub account: Option<AccountId>,
    /// The authenticated actor, for administrative calls and password changes.
    pub actor: Option<AccountId>,
    /// The administrative call refused (`invite`, `set_password`, …), if any.
    pub call: Option<&'static str>,
    /// The real reason, a stable snake-case name (`wrong_verifier`, `outside_scope`, …).
    pub reason: &'static str,
}

/// The audit entry of an administrative call refused by the policy: committed on its own,
/// nothing else changes. The event [`AccountEvent::Refused`] goes with it.
pub fn call_refused<R: CryptoRng + ?Sized>(
    ctx: &mut Ctx<'_, R>,
    actor: &AccountRecord,
    call: &'static str,
    target: Option<AccountId>,
    reason: crate::authz::ForbiddenReason,
) -> Decision {
    let mut change = ChangeSet::new();
    let detail = format!("call={call} reason={}", reason.as_str());
    change.audit.push(audit(ctx, Some(actor.id), AuditAction::CallRefused, target, detail));
    let refusal = Refusal {
        kind: RefusalKind::CallRefused,
        account: target,
        actor: Some(actor.id),
        call: Some(call),
        reason: reason.as_str(),
    };
    Decision { change, account: None, events: vec![AccountEvent::Refused(refusal)] }
}

/// The outcome of a decision.
#[derive(Debug, Clone, Default)]
pub struct Decision {
    /// What to commit, atomically.
    pub change: ChangeSet,
    /// The account's state after the change, when one account is concerned.
    pub account: Option<AccountRecord>,
    /// Events for the host, to publish once the change is committed.
    pub events: Vec<AccountEvent>,
}

/// Why a decision was refused. Nothing is written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecisionError {
    /// The actor may not do this.
    #[error(transparent)]
    Forbidden(#[from] Forbidden),
    /// The account's status does not allow it (inviting an active account, restoring one
    /// that is not in the trash, …).
    #[error(transparent)]
    Status(#[from] TransitionError),
    /// An administrator's reset for an account that was never invited: invite it instead.
    #[error("account was never invited: send an invitation instead")]
    NotInvitedYet,
    /// The account has no email address to send to.
    #[error("account has no email address")]
    NoEmail,
    /// The account is disabled or trashed.
    #[error("account is disabled or in the trash")]
    AccountUnavailable,
    /// Another account already uses this address (any status, any case).
    #[error("another account already uses this email address")]
    EmailTaken,
    /// The account is in the trash but its retention period has not ended (for the
    /// retention purge) — or is not in the trash.
    #[error("account is not purgeable yet")]
    NotPurgeable,
}

/// A new account's fields, already validated by their types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccount {
    /// Its address, if known.
    pub email: Option<Email>,
    /// Full name.
    pub full_name: FullName,
    /// Optional phone.
    pub phone: Option<Phone>,
    /// Language of its mails.
    pub locale: Locale,
    /// Member or public.
    pub kind: AccountKind,
    /// Roles in scopes; at least one.
    pub grants: Vec<Grant>,
    /// Host-defined labels.
    pub labels: Labels,
}

fn audit<R: CryptoRng + ?Sized>(
    ctx: &mut Ctx<'_, R>,
    actor: Option<AccountId>,
    action: AuditAction,
    target: Option<AccountId>,
    detail: String,
) -> AuditRecord {
    AuditRecord { id: AuditId::generate(ctx.now, ctx.rng), at: ctx.now, actor, action, target, detail }
}

fn target_of(account: &AccountRecord, is_last_platform_administrator: bool) -> Target<'_> {
    Target { kind: account.kind, grants: &account.grants, is_last_platform_administrator }
}

fn mail<R: CryptoRng + ?Sized>(
    ctx: &mut Ctx<'_, R>,
    account: &AccountRecord,
    to: &Email,
    kind: MailKind,
    intent: Option<MailIntent>,
    expires_at: Option<Timestamp>,
    new_email: Option<String>,
) -> MailRecord {
    // The secret does not exist yet (the dispatcher mints it when sending), so no template
    // can put it in a subject line.
    let params = MailParams {
        recipient_name: account.full_name.as_str().to_owned(),
        intent,
        secret: None,
        expires_at,
        new_email,
    };
    let subject = ctx.subjects.subject(kind, &account.locale, &params);
    MailRecord {
        id: MailId::generate(ctx.now, ctx.rng),
        account_id: Some(account.id),
        to: to.clone(),
        locale: account.locale.clone(),
        kind,
        subject,
        params,
        status: MailStatus::Pending,
        attempts: 0,
        next_attempt_at: ctx.now,
        lease: None,
        last_error: None,
        created_at: ctx.now,
        sent_at: None,
        failed_at: None,
    }
}

/// A reserved token (no verifier: the link does not exist until the dispatcher arms it)
/// and the mail intent that refers to it.
fn reserve<R: CryptoRng + ?Sized>(
    ctx: &mut Ctx<'_, R>,
    account: &AccountRecord,
    purpose: TokenPurpose,
) -> (TokenRecord, MailIntent) {
    let record =
        token::reserve(ctx.rng, account.id, purpose, account.credential_epoch, ctx.now, ctx.rules.ttl(purpose));
    let intent = MailIntent::Link { selector: record.selector, purpose };
    (record, intent)
}

fn updated(account: &AccountRecord, now: Timestamp) -> AccountRecord {
    let mut next = account.clone();
    next.version = account.version + 1;
    next.updated_at = now;
    next
}

fn update(before: &AccountRecord, after: AccountRecord) -> AccountWrite {
    AccountWrite::Update { expected_version: before.version, record: after }
}

fn grants_detail(grants: &[Grant]) -> String {
    grants.iter().map(|g| format!("{}@{}", g.role, g.scope)).collect::<Vec<_>>().join(",")
}

fn deliverable(account: &AccountRecord) -> Result<&Email, DecisionError> {
    if !account.is_available() {
        return Err(DecisionError::AccountUnavailable);
    }
    account.email.as_ref().ok_or(DecisionError::NoEmail)
}

/// Creates an account, and invites it at once if `invite_now` (and it has an address).
///
/// `existing` is the account already holding the same email key, if any: any status, any
/// case is a conflict (re-invite is the way to send a pending person a new link).
///
/// # Errors
/// [`DecisionError::Forbidden`], [`DecisionError::EmailTaken`], [`DecisionError::NoEmail`]
/// (invite requested without an address).
pub fn create_account<R: CryptoRng + ?Sized>(
    ctx: &mut Ctx<'_, R>,
    actor: &AccountRecord,
    input: NewAccount,
    existing: Option<&AccountRecord>,
    invite_now: bool,
) -> Result<Decision, DecisionError> {
    authz::authorize_grants(actor, input.kind, &input.grants)?;
    authz::authorize(
        actor,
        Action::Create,
        &Target { kind: input.kind, grants: &input.grants, is_last_platform_administrator: false },
    )?;
    if existing.is_some() {
        return Err(DecisionError::EmailTaken);
    }
    if invite_now && input.email.is_none() {
        return Err(DecisionError::NoEmail);
    }
    let now = ctx.now;
    let record = AccountRecord {
        id: AccountId::generate(now, ctx.rng),
        email: input.email,
        full_name: input.full_name,
        phone: input.phone,
        locale: input.locale,
        kind: input.kind,
        grants: input.grants,
        labels: input.labels,
        lifecycle: Lifecycle::Created,
        invitation_expires_at: None,
        password_hash: None,
        must_change_password: false,
        credential_epoch: CredentialEpoch::default(),
        version: 1,
        created_at: now,
        updated_at: now,
        invited_at: None,
        last_invitation_sent_at: None,
        activated_at: None,
        last_login_at: None,
        password_changed_at: None,
        disabled_at: None,
        trashed_at: None,
    };
    let detail = format!("kind={} grants={}", record.kind.as_str(), grants_detail(&record.grants));
    let created = audit(ctx, Some(actor.id), AuditAction::AccountCreated, Some(record.id), detail);
    let mut decision = Decision::default();
    decision.change.audit.push(created);
    if invite_now {
        let (record, change) = invitation(ctx, actor, record, MailKind::Invitation, true)?;
        decision.change.merge(change);
        decision.change.accounts.push(AccountWrite::Insert(record.clone()));
        decision.account = Some(record);
    } else {
        decision.change.accounts.push(AccountWrite::Insert(record.clone()));
        decision.account = Some(record);
    }
    Ok(decision)
}

/// The invitation part shared by create-and-invite, invite and re-invite: a fresh link (the
/// store revokes the previous one), the account marked invited, the mail, the audit entry.
fn invitation<R: CryptoRng + ?Sized>(
    ctx: &mut Ctx<'_, R>,
    actor: &AccountRecord,
    account: AccountRecord,
    kind: MailKind,
    first: bool,
) -> Result<(AccountRecord, ChangeSet), DecisionError> {
    let to = deliverable(&account)?.clone();
    let (reserved, intent) = reserve(ctx, &account, TokenPurpose::Invitation);
    let mut next = account;
    next.lifecycle = Lifecycle::Invited;
    next.invitation_expires_at = Some(reserved.expires_at);
    next.invited_at = next.invited_at.or(Some(ctx.now));
    next.last_invitation_sent_at = Some(ctx.now);
    let mut change = ChangeSet::new();
    change.mails.push(mail(ctx, &next, &to, kind, Some(intent), Some(reserved.expires_at), None));
    let action = if first { AuditAction::InvitationSent } else { AuditAction::InvitationResent };
    change.audit.push(audit(ctx, Some(actor.id), action, Some(next.id), format!("expires_at={}", reserved.expires_at)));
    change.tokens.push(reserved);
    Ok((next, change))
}

/// Sends the first invitation to an account created without one.
///
/// # Errors
/// [`DecisionError::Forbidden`]; [`DecisionError::Status`] unless the account is
/// `Created`; [`DecisionError::NoEmail`], [`DecisionError::AccountUnavailable`].
pub fn invite<R: CryptoRng + ?Sized>(
    ctx: &mut Ctx<'_, R>,
    actor: &AccountRecord,
    account: &AccountRecord,
) -> Result<Decision, DecisionError> {
    authz::authorize(actor, Action::Invite, &target_of(account, false))?;
    account.status(ctx.now).check(StatusEvent::Invite)?;
    let (next, mut change) = invitation(ctx, actor, updated(account, ctx.now), MailKind::Invitation, true)?;
    change.accounts.push(update(account, next.clone()));
    Ok(Decision { change, account: Some(next), events: Vec::new() })
}

/// Re-sends the invitation (« relance ») to an account that never activated: a new link
/// replaces the old one and lives a full lifetime from now, even if the old one had
/// expired; the reminder template is used.
///
/// # Errors
/// As [`invite`], with [`DecisionError::Status`] unless the account is `Invited` or
/// `InvitationExpired`.
pub fn reinvite<R: CryptoRng + ?Sized>(
    ctx: &mut Ctx<'_, R>,
    actor: &AccountRecord,
    account: &AccountRecord,
) -> Result<Decision, DecisionError> {
    authz::authorize(actor, Action::Reinvite, &target_of(account, false))?;
    account.status(ctx.now).check(StatusEvent::Reinvite)?;
    let (next, mut change) = invitation(ctx, actor, updated(account, ctx.now), MailKind::InvitationReminder, false)?;
    change.accounts.push(update(account, next.clone()));
    Ok(Decision { change, account: Some(next), events: Vec::new() })
}

fn reset_link<R: CryptoRng + ?Sized>(
    ctx: &mut Ctx<'_, R>,
    actor: Option<AccountId>,
    account: &AccountRecord,
    to: &Email,
    action: AuditAction,
    detail: String,
) -> ChangeSet {
    let (reserved, intent) = reserve(ctx, account, TokenPurpose::PasswordReset);
    let mut change = ChangeSet::new();
    change.mails.push(mail(ctx, account, to, MailKind::PasswordReset, Some(intent), Some(reserved.expires_at), None));
    change.audit.push(audit(ctx, actor, action, Some(account.id), detail));
    change.tokens.push(reserved);
    change
}

/// An administrator sends a password-reset link. For an invited (or invitation-expired)
/// account, the link also activates it when used.
///
/// # Errors
/// [`DecisionError::Forbidden`]; [`DecisionError::NotInvitedYet`] for a `Created`
/// account; [`DecisionError::AccountUnavailable`]; [`DecisionError::NoEmail`].
pub fn send_reset<R: CryptoRng + ?Sized>(
    ctx: &mut Ctx<'_, R>,
    actor: &AccountRecord,
    account: &AccountRecord,
) -> Result<Decision, DecisionError> {
    authz::authorize(actor, Action::SendReset, &target_of(account, false))?;
    let to = deliverable(account)?.clone();
    if account.lifecycle == Lifecycle::Created {
        return Err(DecisionError::NotInvitedYet);
    }
    let change = reset_link(ctx, Some(actor.id), account, &to, AuditAction::PasswordResetSent, String::new());
    Ok(Decision { change, account: Some(account.clone()), events: Vec::new() })
}

/// Self-service "forgot password". `account` is the account found for the typed address,
/// if any; `requester` a secret-free digest of the requester key for the audit entry.
///
/// Known and eligible (available, invited or active, with an address): a reset link is
/// mailed to the stored address. Unknown, never invited, disabled or trashed: no mail,
/// only the audit entry. Either way the change set has one audit entry, so the store does
/// the same work; the facade answers the same in every case.
pub fn request_reset<R: CryptoRng + ?Sized>(
    ctx: &mut Ctx<'_, R>,
    account: Option<&AccountRecord>,
    requester: &str,
) -> Decision {
    let detail = format!("requester={requester}");
    let eligible = account.filter(|a| a.is_available() && a.lifecycle != Lifecycle::Created && a.email.is_some());
    match eligible {
        Some(account) => {
            let to = account.email.clone().unwrap_or_else(|| unreachable!("filtered on is_some"));
            let change = reset_link(ctx, None, account, &to, AuditAction::PasswordResetRequested, detail);
            Decision { change, account: Some(account.clone()), events: Vec::new() }
        }
        None => {
            // Same randomness as a real reservation, thrown away.
            let _decoy = token::reserve(
                ctx.rng,
                AccountId::from_bytes([0; 16]),
                TokenPurpose::PasswordReset,
                CredentialEpoch::default(),
                ctx.now,
                ctx.rules.reset_ttl,
            );
            let mut change = ChangeSet::new();
            change.audit.push(audit(ctx, None, AuditAction::PasswordResetRequested, None, detail));
            Decision { change, account: None, events: Vec::new() }
        }
    }
}

/// A password change common to every path: new hash, epoch moved, every outstanding link
/// revoked, the account active.
fn apply_password(next: &mut AccountRecord, hash: Option<PasswordHash>, must_change: bool, now: Timestamp) -> bool {
    let activated = next.activated_at.is_none();
    next.password_hash = hash;
    next.must_change_password = must_change;
    next.credential_epoch = next.credential_epoch.next();
    next.password_changed_at = Some(now);
    next.activated_at = next.activated_at.or(Some(now));
    next.lifecycle = Lifecycle::Active;
    next.invitation_expires_at = None;
    activated
}

fn revoke_all(account: AccountId, reason: RevokeReason, at: Timestamp) -> TokenRevocation {
    TokenRevocation { account_id: account, purpose: None, reason, at }
}

/// The part every password change shares: the account's next state (new hash, epoch
/// moved, active), its versioned update, the revocation of every outstanding link, and the
/// events for the host.
fn password_change(
    account: &AccountRecord,
    hash: Option<PasswordHash>,
    must_change: bool,
    now: Timestamp,
) -> (AccountRecord, ChangeSet, Vec<AccountEvent>) {
    let mut next = updated(account, now);
    let activated = apply_password(&mut next, hash, must_change, now);
    let mut change = ChangeSet::new();
    change.accounts.push(update(account, next.clone()));
    change.revocations.push(revoke_all(account.id, RevokeReason::PasswordChanged, now));
    let mut events = vec![AccountEvent::PasswordChanged(account.id)];
    if activated {
        events.insert(0, AccountEvent::Activated(account.id));
    }
    (next, change, events)
}

/// Completes a one-time link with a new password (already checked against the policy and
/// hashed): accepting an invitation, or completing a reset. The token was verified by the
/// caller; the change consumes it atomically (at most once under any concurrency), moves
/// the credential epoch (killing every other link), and activates the account. A
/// completed reset also mails the "password changed" notice; an accepted invitation does not.
///
/// # Errors
/// [`DecisionError::AccountUnavailable`] for a disabled or trashed account (the link
/// never lifts the status); [`DecisionError::Status`] for an invitation link on an
/// account that is not invited.
pub fn complete_link<R: CryptoRng + ?Sized>(
    ctx: &mut Ctx<'_, R>,
    token: &TokenRecord,
    account: &AccountRecord,
    hash: PasswordHash,
) -> Result<Decision, DecisionError> {
    if !account.is_available() || token.account_id != account.id {
        return Err(DecisionError::AccountUnavailable);
    }
    let now = ctx.now;
    if token.purpose == TokenPurpose::Invitation && account.lifecycle == Lifecycle::Active {
        return Err(DecisionError::Status(TransitionError { from: AccountStatus::Active, event: StatusEvent::Invite }));
    }
    let (next, mut change, events) = password_change(account, Some(hash), false, now);
    change.consume = Some(TokenConsumption {
        selector: token.selector,
        account_id: account.id,
        credential_epoch: account.credential_epoch,
        at: now,
    });
    let action = match token.purpose {
        TokenPurpose::Invitation => AuditAction::InvitationAccepted,
        TokenPurpose::PasswordReset => AuditAction::PasswordResetCompleted,
    };
    change.audit.push(audit(ctx, Some(account.id), action, Some(account.id), format!("selector={}", token.selector)));
    if token.purpose == TokenPurpose::PasswordReset
        && let Some(to) = next.email.clone()
    {
        change.mails.push(mail(ctx, &next, &to, MailKind::PasswordChanged, None, None, None));
    }
    Ok(Decision { change, account: Some(next), events })
}

/// An administrator sets the password directly (new + confirmation checked by the
/// caller). Takes effect at once, activates an invited account and revokes its links,
/// and notifies the person.
///
/// # Errors
/// [`DecisionError::Forbidden`], [`DecisionError::AccountUnavailable`].
pub fn set_password<R: CryptoRng + ?Sized>(
    ctx: &mut Ctx<'_, R>,
    actor: &AccountRecord,
    account: &AccountRecord,
    hash: PasswordHash,
    must_change: bool,
) -> Result<Decision, DecisionError> {
    authz::authorize(actor, Action::SetPassword, &target_of(account, false))?;
    if !account.is_available() {
        return Err(DecisionError::AccountUnavailable);
    }
    let (next, mut change, events) = password_change(account, Some(hash), must_change, ctx.now);
    change.audit.push(audit(
        ctx,
        Some(actor.id),
        AuditAction::PasswordSetByAdministrator,
        Some(account.id),
        format!("must_change={must_change}"),
    ));
    if let Some(to) = next.email.clone() {
        change.mails.push(mail(ctx, &next, &to, MailKind::PasswordChanged, None, None, None));
    }
    Ok(Decision { change, account: Some(next), events })
}

/// Issues a temporary password: the account becomes active with "must change at next
/// sign-in", its credential epoch moves (every link and any earlier temporary password
/// die) and it holds **no** password hash yet; the mail carries the intent
/// [`MailIntent::TemporaryPassword`] with the new epoch. The dispatcher generates the
/// password and stores its hash just before sending (`Store::arm_mails`), and only while
/// the account is still in that epoch: no byte written here lets anyone sign in.
///
/// # Errors
/// [`DecisionError::Forbidden`], [`DecisionError::AccountUnavailable`],
/// [`DecisionError::NoEmail`] (only accounts with an address are eligible).
pub fn issue_temporary_password<R: CryptoRng + ?Sized>(
    ctx: &mut Ctx<'_, R>,
    actor: &AccountRecord,
    account: &AccountRecord,
) -> Result<Decision, DecisionError> {
    authz::authorize(actor, Action::IssueTemporaryPassword, &target_of(account, false))?;
    let to = deliverable(account)?.clone();
    let (next, mut change, events) = password_change(account, None, true, ctx.now);
    let intent = MailIntent::TemporaryPassword { credential_epoch: next.credential_epoch };
    change.mails.push(mail(ctx, &next, &to, MailKind::TemporaryPassword, Some(intent), None, None));
    change.audit.push(audit(
        ctx,
        Some(actor.id),
        AuditAction::TemporaryPasswordIssued,
        Some(account.id),
        String::new(),
    ));
    Ok(Decision { change, account: Some(next), events })
}

/// The person changes their own password after signing in (for example because it was
/// temporary). The caller checked the current password and the policy.
pub fn change_own_password<R: CryptoRng + ?Sized>(
    ctx: &mut Ctx<'_, R>,
    account: &AccountRecord,
    hash: PasswordHash,
) -> Result<Decision, DecisionError> {
    if !account.is_available() {
        return Err(DecisionError::AccountUnavailable);
    }
    let (next, mut change, events) = password_change(account, Some(hash), false, ctx.now);
    change.audit.push(audit(ctx, Some(account.id), AuditAction::PasswordChanged, Some(account.id), String::new()));
    if let Some(to) = next.email.clone() {
        change.mails.push(mail(ctx, &next, &to, MailKind::PasswordChanged, None, None, None));
    }
    Ok(Decision { change, account: Some(next), events })
}

/// A successful sign-in: records it, revokes an outstanding reset link (the person
/// remembered the password), and stores `rehashed` if the hash parameters changed.
pub fn sign_in<R: CryptoRng + ?Sized>(
    ctx: &mut Ctx<'_, R>,
    account: &AccountRecord,
    rehashed: Option<PasswordHash>,
) -> Decision {
    let now = ctx.now;
    let mut next = updated(account, now);
    next.last_login_at = Some(now);
    if let Some(hash) = rehashed {
        next.password_hash = Some(hash);
    }
    let mut change = ChangeSet::new();
    change.accounts.push(update(account, next.clone()));
    change.revocations.push(TokenRevocation {
        account_id: account.id,
        purpose: Some(TokenPurpose::PasswordReset),
        reason: RevokeReason::SignedIn,
        at: now,
    });
    change.audit.push(audit(ctx, Some(account.id), AuditAction::SignedIn, Some(account.id), String::new()));
    Decision { change, account: Some(next), events: Vec::new() }
}

/// Assigns or changes an account's address. Revokes every outstanding link (an invited
/// account goes back to `Created`: re-invite it), and notifies the old address.
///
/// `holder` is the account already using the new address, if any.
///
/// # Errors
/// [`DecisionError::Forbidden`], [`DecisionError::EmailTaken`].
pub fn change_email<R: CryptoRng + ?Sized>(
    ctx: &mut Ctx<'_, R>,
    actor: &AccountRecord,
    account: &AccountRecord,
    email: Email,
    holder: Option<&AccountRecord>,
) -> Result<Decision, DecisionError> {
    authz::authorize(actor, Action::ChangeEmail, &target_of(account, false))?;
    if holder.is_some_and(|h| h.id != account.id) {
        return Err(DecisionError::EmailTaken);
    }
    let now = ctx.now;
    let old = account.email.clone();
    let mut next = updated(account, now);
    next.email = Some(email.clone());
    if next.lifecycle == Lifecycle::Invited {
        next.lifecycle = Lifecycle::Created;
        next.invitation_expires_at = None;
    }
    let mut change = ChangeSet::new();
    change.accounts.push(update(account, next.clone()));
    change.revocations.push(revoke_all(account.id, RevokeReason::EmailChanged, now));
    // A link or temporary password still waiting for the old address must not reach it.
    change.cancel_mails.push(MailCancellation { account_id: account.id, reason: RevokeReason::EmailChanged, at: now });
    if let Some(old) = old.as_ref().filter(|old| old.key() != email.key())
        && account.is_available()
    {
        change.mails.push(mail(ctx, &next, old, MailKind::EmailChanged, None, None, Some(email.as_str().to_owned())));
    }
    let detail = format!("had_email={}", old.is_some());
    change.audit.push(audit(ctx, Some(actor.id), AuditAction::EmailChanged, Some(account.id), detail));
    let events = if old.is_some() { vec![AccountEvent::EmailChanged(account.id)] } else { Vec::new() };
    Ok(Decision { change, account: Some(next), events })
}

/// Replaces an account's grants. The actor must be allowed to act on the account as it is
/// and to give every new grant; removing the last platform administrator is refused (and
/// re-checked by the store at commit).
///
/// # Errors
/// [`DecisionError::Forbidden`].
pub fn change_grants<R: CryptoRng + ?Sized>(
    ctx: &mut Ctx<'_, R>,
    actor: &AccountRecord,
    account: &AccountRecord,
    grants: Vec<Grant>,
    is_last_platform_administrator: bool,
) -> Result<Decision, DecisionError> {
    authz::authorize_grant_change(actor, &target_of(account, is_last_platform_administrator), &grants)?;
    let mut next = updated(account, ctx.now);
    let detail = format!("from={} to={}", grants_detail(&account.grants), grants_detail(&grants));
    next.grants = grants;
    let mut change = ChangeSet::new();
    change.accounts.push(update(account, next.clone()));
    change.audit.push(audit(ctx, Some(actor.id), AuditAction::GrantsChanged, Some(account.id), detail));
    change.require_platform_administrator = account.is_platform_administrator();
    Ok(Decision { change, account: Some(next), events: Vec::new() })
}

/// What a profile update changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileChange {
    /// New full name.
    pub full_name: Option<FullName>,
    /// New phone (`Some(None)` removes it).
    pub phone: Option<Option<Phone>>,
    /// New locale.
    pub locale: Option<Locale>,
    /// New labels (replace all).
    pub labels: Option<Labels>,
}

/// Updates the name, phone, locale or labels (« contact pour » tags, position, themes,
/// applications).
///
/// # Errors
/// [`DecisionError::Forbidden`].
pub fn update_profile<R: CryptoRng + ?Sized>(
    ctx: &mut Ctx<'_, R>,
    actor: &AccountRecord,
    account: &AccountRecord,
    change_: ProfileChange,
) -> Result<Decision, DecisionError> {
    authz::authorize(actor, Action::ChangeProfile, &target_of(account, false))?;
    let mut next = updated(account, ctx.now);
    let mut fields = Vec::new();
    if let Some(name) = change_.full_name {
        next.full_name = name;
        fields.push("full_name");
    }
    if let Some(phone) = change_.phone {
        next.phone = phone;
        fields.push("phone");
    }
    if let Some(locale) = change_.locale {
        next.locale = locale;
        fields.push("locale");
    }
    if let Some(labels) = change_.labels {
        next.labels = labels;
        fields.push("labels");
    }
    let mut change = ChangeSet::new();
    change.accounts.push(update(account, next.clone()));
    change.audit.push(audit(ctx, Some(actor.id), AuditAction::ProfileChanged, Some(account.id), fields.join(",")));
    Ok(Decision { change, account: Some(next), events: Vec::new() })
}

/// The administrative status changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusChange {
    /// Disable: no sign-in, no mail; links revoked.
    Disable,
    /// Enable again (links are not brought back).
    Enable,
    /// Move to the trash; links revoked.
    Trash,
    /// Restore from the trash.
    Restore,
}

/// Disables, enables, trashes or restores an account.
///
/// # Errors
/// [`DecisionError::Forbidden`] (including the last platform administrator),
/// [`DecisionError::Status`].
pub fn change_status<R: CryptoRng + ?Sized>(
    ctx: &mut Ctx<'_, R>,
    actor: &AccountRecord,
    account: &AccountRecord,
    what: StatusChange,
    is_last_platform_administrator: bool,
) -> Result<Decision, DecisionError> {
    let (action, event, audit_action) = match what {
        StatusChange::Disable => (Action::Disable, StatusEvent::Disable, AuditAction::AccountDisabled),
        StatusChange::Enable => (Action::Enable, StatusEvent::Enable, AuditAction::AccountEnabled),
        StatusChange::Trash => (Action::Trash, StatusEvent::Trash, AuditAction::AccountTrashed),
        StatusChange::Restore => (Action::Restore, StatusEvent::Restore, AuditAction::AccountRestored),
    };
    authz::authorize(actor, action, &target_of(account, is_last_platform_administrator))?;
    let now = ctx.now;
    account.status(now).check(event)?;
    let mut next = updated(account, now);
    let mut change = ChangeSet::new();
    let mut events = Vec::new();
    match what {
        StatusChange::Disable | StatusChange::Trash => {
            let reason = if what == StatusChange::Disable {
                next.disabled_at = Some(now);
                events.push(AccountEvent::Disabled(account.id));
                RevokeReason::AccountDisabled
            } else {
                next.trashed_at = Some(now);
                events.push(AccountEvent::Trashed(account.id));
                RevokeReason::AccountTrashed
            };
            if next.lifecycle == Lifecycle::Invited {
                next.lifecycle = Lifecycle::Created;
                next.invitation_expires_at = None;
            }
            change.revocations.push(revoke_all(account.id, reason, now));
            change.require_platform_administrator = account.is_platform_administrator();
        }
        StatusChange::Enable => next.disabled_at = None,
        StatusChange::Restore => next.trashed_at = None,
    }
    change.accounts.push(update(account, next.clone()));
    change.audit.push(audit(ctx, Some(actor.id), audit_action, Some(account.id), String::new()));
    Ok(Decision { change, account: Some(next), events })
}

/// Deletes a trashed account for good, by an administrator (`actor`), or by the retention
/// job (`actor` = `None`) once `trash_retention` has passed since it was trashed.
///
/// # Errors
/// [`DecisionError::Forbidden`], [`DecisionError::NotPurgeable`].
pub fn purge<R: CryptoRng + ?Sized>(
    ctx: &mut Ctx<'_, R>,
    actor: Option<&AccountRecord>,
    account: &AccountRecord,
) -> Result<Decision, DecisionError> {
    let Some(trashed_at) = account.trashed_at else {
        return Err(DecisionError::NotPurgeable);
    };
    match actor {
        Some(actor) => authz::authorize(actor, Action::Purge, &target_of(account, false))?,
        None if ctx.now < trashed_at + ctx.rules.trash_retention => return Err(DecisionError::NotPurgeable),
        None => {}
    }
    let mut change = ChangeSet::new();
    change.accounts.push(AccountWrite::Delete { id: account.id, expected_version: account.version });
    let detail = format!("trashed_at={trashed_at}");
    change.audit.push(audit(ctx, actor.map(|a| a.id), AuditAction::AccountPurged, Some(account.id), detail));
    change.require_platform_administrator = account.grants.iter().any(|g| g.scope == Scope::Platform);
    Ok(Decision { change, account: None, events: Vec::new() })
}

/// Creates the first platform administrator of an empty deployment, active with the given
/// (policy-checked, hashed) password. The caller checks that no platform administrator
/// exists; the audit entry has no actor.
pub fn bootstrap_administrator<R: CryptoRng + ?Sized>(
    ctx: &mut Ctx<'_, R>,
    input: NewAccount,
    hash: PasswordHash,
) -> Decision {
    let now = ctx.now;
    let mut record = AccountRecord {
        id: AccountId::generate(now, ctx.rng),
        email: input.email,
        full_name: input.full_name,
        phone: input.phone,
        locale: input.locale,
        kind: AccountKind::Member,
        grants: vec![Grant::platform_administrator()],
        labels: input.labels,
        lifecycle: Lifecycle::Created,
        invitation_expires_at: None,
        password_hash: None,
        must_change_password: false,
        credential_epoch: CredentialEpoch::default(),
        version: 1,
        created_at: now,
        updated_at: now,
        invited_at: None,
        last_invitation_sent_at: None,
        activated_at: None,
        last_login_at: None,
        password_changed_at: None,
        disabled_at: None,
        trashed_at: None,
    };
    apply_password(&mut record, Some(hash), false, now);
    let mut change = ChangeSet::new();
    change.audit.push(audit(
        ctx,
        None,
        AuditAction::AccountCreated,
        Some(record.id),
        "bootstrap platform administrator".into(),
    ));
    change.accounts.push(AccountWrite::Insert(record.clone()));
    Decision { change, events: vec![AccountEvent::Activated(record.id)], account: Some(record) }
}
