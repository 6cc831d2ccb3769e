//! The authorization policy: who may do what to which account.
//!
//! One pure decision, split by what the caller knows:
//!
//! - [`authorize`]: may `actor` apply an [`Action`] to an account ([`Target`])?
//! - [`authorize_grants`]: may `actor` give every one of these grants (creating an account)?
//! - [`authorize_grant_change`]: may `actor` replace a target's grants by these ones?
//! - [`authorize_global`]: may `actor` read journals and audit logs across all accounts?
//!
//! The rules, in the order they are checked (the first that fails is the [`ForbiddenReason`]):
//!
//! 1. The actor is available (neither disabled nor trashed): [`ForbiddenReason::ActorUnavailable`].
//! 2. The actor is active (has set a password): [`ForbiddenReason::ActorNotActive`].
//! 3. Collaborators and guests manage no one: the actor holds an administrator grant
//!    somewhere, [`ForbiddenReason::NotAnAdministrator`].
//! 4. Platform administrators may do everything (but rule 8).
//! 5. Public accounts are managed from the platform scope only:
//!    [`ForbiddenReason::PublicAccountOutsidePlatform`].
//! 6. A program or client-file administrator acts only on accounts whose *every* grant lies in a
//!    scope the actor administers ([`ForbiddenReason::OutsideScope`]; an account with no grant is
//!    [`ForbiddenReason::NoGrants`]), and only gives grants in scopes it administers
//!    ([`ForbiddenReason::OutsideScope`]), never a role above its own there
//!    ([`ForbiddenReason::RoleAboveOwn`]).
//! 7. An account needs at least one grant: [`ForbiddenReason::NoGrants`].
//! 8. The last platform administrator can be neither disabled, trashed, purged, nor lose that
//!    grant: [`ForbiddenReason::LastPlatformAdministrator`].
//!
//! The policy does not look at the target's status: whether an event is allowed from the
//! account's current status is [`AccountStatus::check`](crate::AccountStatus::check)'s answer.

use std::fmt;

use crate::{AccountKind, AccountRecord, Grant, Lifecycle, Role, Scope};

/// Something an administrator does to an account, or reads about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub enum Action {
    /// Create an account (one, or one row of a batch).
    Create,
    /// Send the first invitation.
    Invite,
    /// Send the invitation again (« relance »).
    Reinvite,
    /// Send a password-reset link.
    SendReset,
    /// Set the password directly.
    SetPassword,
    /// Issue a temporary password (single or batch).
    IssueTemporaryPassword,
    /// Change the account's grants.
    ChangeGrants,
    /// Change labels, name, phone or locale.
    ChangeProfile,
    /// Change the address.
    ChangeEmail,
    /// Disable the account.
    Disable,
    /// Enable it again.
    Enable,
    /// Move it to the trash.
    Trash,
    /// Restore it from the trash.
    Restore,
    /// Delete it for good.
    Purge,
    /// See the account (in a list or alone).
    ReadAccount,
    /// See the mails sent to the account (the mail journal).
    ReadJournal,
    /// See the audit log.
    ReadAudit,
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 17] = [
        Action::Create,
        Action::Invite,
        Action::Reinvite,
        Action::SendReset,
        Action::SetPassword,
        Action::IssueTemporaryPassword,
        Action::ChangeGrants,
        Action::ChangeProfile,
        Action::ChangeEmail,
        Action::Disable,
        Action::Enable,
        Action::Trash,
        Action::Restore,
        Action::Purge,
        Action::ReadAccount,
        Action::ReadJournal,
        Action::ReadAudit,
    ];

    /// A stable snake-case name (`create`, `send_reset`, `read_audit`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Invite => "invite",
            Action::Reinvite => "reinvite",
            Action::SendReset => "send_reset",
            Action::SetPassword => "set_password",
            Action::IssueTemporaryPassword => "issue_temporary_password",
            Action::ChangeGrants => "change_grants",
            Action::ChangeProfile => "change_profile",
            Action::ChangeEmail => "change_email",
            Action::Disable => "disable",
            Action::Enable => "enable",
            Action::Trash => "trash",
            Action::Restore => "restore",
            Action::Purge => "purge",
            Action::ReadAccount => "read_account",
            Action::ReadJournal => "read_journal",
            Action::ReadAudit => "read_audit",
        }
    }

    /// Whether the action only reads ([`Action::ReadAccount`], [`Action::ReadJournal`],
    /// [`Action::ReadAudit`]).
    pub const fn is_read(self) -> bool {
        matches!(self, Action::ReadAccount | Action::ReadJournal | Action::ReadAudit)
    }

    /// Whether the action would leave the platform without an available administrator when
    /// applied to the last one ([`Action::Disable`], [`Action::Trash`], [`Action::Purge`]).
    pub const fn removes_access(self) -> bool {
        matches!(self, Action::Disable | Action::Trash | Action::Purge)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The account an action is applied to, as far as the policy is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target<'a> {
    /// Team member or public account.
    pub kind: AccountKind,
    /// Its grants (for [`Action::Create`], the proposed ones).
    pub grants: &'a [Grant],
    /// Whether it is the only platform administrator able to act
    /// ([`is_acting_platform_administrator`]).
    pub is_last_platform_administrator: bool,
}

impl<'a> Target<'a> {
    /// A target from its parts.
    pub fn new(kind: AccountKind, grants: &'a [Grant], is_last_platform_administrator: bool) -> Self {
        Target { kind, grants, is_last_platform_administrator }
    }

    /// A stored account, given how many accounts of the store pass
    /// [`is_acting_platform_administrator`] (the account included, if it does).
    pub fn account(account: &'a AccountRecord, acting_platform_administrators: usize) -> Self {
        Target {
            kind: account.kind,
            grants: &account.grants,
            is_last_platform_administrator: is_acting_platform_administrator(account)
                && acting_platform_administrators <= 1,
        }
    }
}

/// Whether `account` is a platform administrator able to act now: available (neither disabled
/// nor trashed), active (has set a password) and holding the platform administrator grant.
///
/// These are the accounts the last-administrator rule counts: an invited administrator who
/// never set a password cannot take over, so it does not count.
///
/// ```
/// # use admit_core::*;
/// # fn account(grants: &[Grant]) -> AccountRecord {
/// #     let t = Timestamp::from_unix_micros(1_767_225_600_000_000);
/// #     AccountRecord { id: AccountId::from_bytes([7; 16]), email: Email::parse("a@exemple.fr").unwrap().into(),
/// #         full_name: FullName::parse("A").unwrap(), phone: None, locale: Locale::fr(), kind: AccountKind::Member,
/// #         grants: grants.to_vec(), labels: Labels::new(), lifecycle: Lifecycle::Active,
/// #         invitation_expires_at: None, password_hash: None, must_change_password: false,
/// #         credential_epoch: CredentialEpoch::default(), version: 1, created_at: t, updated_at: t,
/// #         invited_at: None, last_invitation_sent_at: None, activated_at: Some(t), last_login_at: None,
/// #         password_changed_at: None, disabled_at: None, trashed_at: None }
/// # }
/// use admit_core::authz::is_acting_platform_administrator;
/// let mut root = account(&[Grant::platform_administrator()]);
/// assert!(is_acting_platform_administrator(&root));
/// root.lifecycle = Lifecycle::Invited;
/// assert!(!is_acting_platform_administrator(&root));
/// ```
pub fn is_acting_platform_administrator(account: &AccountRecord) -> bool {
    account.is_available() && account.lifecycle == Lifecycle::Active && holds_platform_administrator(account)
}

/// Why the policy refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum ForbiddenReason {
    /// The actor is disabled or in the trash.
    #[error("actor is disabled or trashed")]
    ActorUnavailable,
    /// The actor has never set a password.
    #[error("actor has not activated their account")]
    ActorNotActive,
    /// The actor holds no administrator grant: collaborators and guests manage no one.
    #[error("actor is not an administrator")]
    NotAnAdministrator,
    /// The action is reserved to platform administrators (reads across every account).
    #[error("only platform administrators may do this")]
    NotPlatformAdministrator,
    /// The target holds a grant in a scope the actor does not administer, or a proposed grant
    /// lies in such a scope.
    #[error("account or grant lies outside the actor's scopes")]
    OutsideScope,
    /// Public accounts are managed from the platform scope only.
    #[error("public accounts are managed by platform administrators only")]
    PublicAccountOutsidePlatform,
    /// A proposed grant is above the role the actor holds in its scope.
    #[error("grant is above the actor's own role")]
    RoleAboveOwn,
    /// The action would leave no available platform administrator.
    #[error("the last platform administrator cannot lose access")]
    LastPlatformAdministrator,
    /// The account (or the proposed set of grants) has no grant.
    #[error("account has no grant")]
    NoGrants,
    /// The action concerns one account; [`authorize_global`] answers reads only.
    #[error("action needs a target account")]
    NeedsTarget,
}

impl ForbiddenReason {
    /// A stable snake-case name for audit details, traces and metrics.
    pub const fn as_str(self) -> &'static str {
        match self {
            ForbiddenReason::ActorUnavailable => "actor_unavailable",
            ForbiddenReason::ActorNotActive => "actor_not_active",
            ForbiddenReason::NotAnAdministrator => "not_an_administrator",
            ForbiddenReason::NotPlatformAdministrator => "not_platform_administrator",
            ForbiddenReason::OutsideScope => "outside_scope",
            ForbiddenReason::PublicAccountOutsidePlatform => "public_account_outside_platform",
            ForbiddenReason::RoleAboveOwn => "role_above_own",
            ForbiddenReason::LastPlatformAdministrator => "last_platform_administrator",
            ForbiddenReason::NoGrants => "no_grants",
            ForbiddenReason::NeedsTarget => "needs_target",
        }
    }
}

/// A refusal of the authorization policy; [`Forbidden::reason`] tells which rule refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("forbidden: {reason}")]
pub struct Forbidden {
    reason: ForbiddenReason,
}

impl Forbidden {
    /// Why.
    pub const fn reason(self) -> ForbiddenReason {
        self.reason
    }
}

impl From<ForbiddenReason> for Forbidden {
    fn from(reason: ForbiddenReason) -> Self {
        Forbidden { reason }
    }
}

fn deny(reason: ForbiddenReason) -> Result<(), Forbidden> {
    Err(Forbidden { reason })
}

/// Rules 1 and 2, then rule 3.
fn check_administrator(actor: &AccountRecord) -> Result<(), Forbidden> {
    if !actor.is_available() {
        return deny(ForbiddenReason::ActorUnavailable);
    }
    if actor.lifecycle != Lifecycle::Active {
        return deny(ForbiddenReason::ActorNotActive);
    }
    if !actor.grants.iter().any(|g| g.role == Role::Administrator) {
        return deny(ForbiddenReason::NotAnAdministrator);
    }
    Ok(())
}

fn holds_platform_administrator(actor: &AccountRecord) -> bool {
    actor.grants.iter().any(|g| g.scope == Scope::Platform && g.role == Role::Administrator)
}

fn administers(actor: &AccountRecord, scope: &Scope) -> bool {
    actor.role_in(scope) == Some(Role::Administrator)
}

/// Whether `actor` may apply `action` to `target`.
///
/// Rules, first failure wins:
/// 1. the actor must be available and active ([`ForbiddenReason::ActorUnavailable`],
///    [`ForbiddenReason::ActorNotActive`]);
/// 2. it must hold an administrator grant somewhere ([`ForbiddenReason::NotAnAdministrator`]);
/// 3. a platform administrator passes every scope rule (even for an account with no grant, so
///    that it can be repaired);
/// 4. otherwise a public target is refused ([`ForbiddenReason::PublicAccountOutsidePlatform`]),
///    a target without grants too ([`ForbiddenReason::NoGrants`]), and so is a target holding
///    any grant in a scope the actor does not administer ([`ForbiddenReason::OutsideScope`]);
/// 5. the last platform administrator can be neither disabled, trashed nor purged
///    ([`ForbiddenReason::LastPlatformAdministrator`]).
///
/// For [`Action::Create`] the target is the account to be created; call [`authorize_grants`]
/// for its grants. For [`Action::ChangeGrants`] call [`authorize_grant_change`], which also
/// checks the new grants.
///
/// # Errors
/// [`Forbidden`] with the reason of the first rule that fails.
///
/// ```
/// use admit_core::authz::{authorize, Action, ForbiddenReason, Target};
/// use admit_core::{AccountKind::*, Grant, ProgramId, Role::*, Scope};
/// # use admit_core::*;
/// # fn account(grants: &[Grant]) -> AccountRecord {
/// #     let t = Timestamp::from_unix_micros(1_767_225_600_000_000);
/// #     AccountRecord { id: AccountId::from_bytes([7; 16]), email: Email::parse("a@exemple.fr").unwrap().into(),
/// #         full_name: FullName::parse("A").unwrap(), phone: None, locale: Locale::fr(), kind: AccountKind::Member,
/// #         grants: grants.to_vec(), labels: Labels::new(), lifecycle: Lifecycle::Active,
/// #         invitation_expires_at: None, password_hash: None, must_change_password: false,
/// #         credential_epoch: CredentialEpoch::default(), version: 1, created_at: t, updated_at: t,
/// #         invited_at: None, last_invitation_sent_at: None, activated_at: Some(t), last_login_at: None,
/// #         password_changed_at: None, disabled_at: None, trashed_at: None }
/// # }
/// let p1 = Scope::Program(ProgramId::parse("p1").unwrap());
/// let p2 = Scope::Program(ProgramId::parse("p2").unwrap());
/// let admin_p1 = account(&[Grant::new(p1.clone(), Administrator)]);
/// let only_p1 = [Grant::new(p1.clone(), Collaborator)];
/// let p1_and_p2 = [Grant::new(p1.clone(), Guest), Grant::new(p2.clone(), Guest)];
/// let reason = |r: Result<(), _>| r.map_err(|e: admit_core::authz::Forbidden| e.reason());
///
/// // A program administrator acts on accounts wholly inside its program…
/// assert_eq!(authorize(&admin_p1, Action::SendReset, &Target::new(Member, &only_p1, false)), Ok(()));
/// // …not on one that also belongs elsewhere…
/// assert_eq!(
///     reason(authorize(&admin_p1, Action::SendReset, &Target::new(Member, &p1_and_p2, false))),
///     Err(ForbiddenReason::OutsideScope)
/// );
/// // …and never on a public account.
/// assert_eq!(
///     reason(authorize(&admin_p1, Action::SendReset, &Target::new(Public, &only_p1, false))),
///     Err(ForbiddenReason::PublicAccountOutsidePlatform)
/// );
/// // Collaborators manage no one.
/// let collaborator = account(&[Grant::new(p1.clone(), Collaborator)]);
/// assert_eq!(
///     reason(authorize(&collaborator, Action::ReadAccount, &Target::new(Member, &only_p1, false))),
///     Err(ForbiddenReason::NotAnAdministrator)
/// );
/// // A platform administrator does everything, but trash the last platform administrator.
/// let root = account(&[Grant::platform_administrator()]);
/// assert_eq!(authorize(&root, Action::Trash, &Target::new(Public, &p1_and_p2, false)), Ok(()));
/// let last = [Grant::platform_administrator()];
/// assert_eq!(
///     reason(authorize(&root, Action::Trash, &Target::new(Member, &last, true))),
///     Err(ForbiddenReason::LastPlatformAdministrator)
/// );
/// ```
pub fn authorize(actor: &AccountRecord, action: Action, target: &Target<'_>) -> Result<(), Forbidden> {
    check_administrator(actor)?;
    if !holds_platform_administrator(actor) {
        if target.kind == AccountKind::Public {
            return deny(ForbiddenReason::PublicAccountOutsidePlatform);
        }
        if target.grants.is_empty() {
            return deny(ForbiddenReason::NoGrants);
        }
        if !target.grants.iter().all(|g| administers(actor, &g.scope)) {
            return deny(ForbiddenReason::OutsideScope);
        }
    }
    if target.is_last_platform_administrator && action.removes_access() {
        return deny(ForbiddenReason::LastPlatformAdministrator);
    }
    Ok(())
}

/// Whether `actor` may give every grant of `new_grants` to an account of `kind` (creating it,
/// or as part of [`authorize_grant_change`]).
///
/// Rules, first failure wins:
/// 1. the actor must be available, active and an administrator somewhere (as in [`authorize`]);
/// 2. `new_grants` must not be empty ([`ForbiddenReason::NoGrants`]);
/// 3. a platform administrator may give any grant to any account;
/// 4. otherwise the account must be a member ([`ForbiddenReason::PublicAccountOutsidePlatform`])
///    and, for each grant in order, the actor must administer its scope; the first grant that
///    fails gives [`ForbiddenReason::RoleAboveOwn`] when the actor holds a weaker role than the
///    grant's there, [`ForbiddenReason::OutsideScope`] otherwise. Since only administrators
///    grant, and only where they administer, nobody grants a role above their own.
///
/// # Errors
/// [`Forbidden`] with the reason of the first rule that fails.
///
/// ```
/// use admit_core::authz::{authorize_grants, ForbiddenReason};
/// use admit_core::{AccountKind::*, ClientFileId, Grant, Role::*, Scope};
/// # use admit_core::*;
/// # fn account(grants: &[Grant]) -> AccountRecord {
/// #     let t = Timestamp::from_unix_micros(1_767_225_600_000_000);
/// #     AccountRecord { id: AccountId::from_bytes([7; 16]), email: Email::parse("a@exemple.fr").unwrap().into(),
/// #         full_name: FullName::parse("A").unwrap(), phone: None, locale: Locale::fr(), kind: AccountKind::Member,
/// #         grants: grants.to_vec(), labels: Labels::new(), lifecycle: Lifecycle::Active,
/// #         invitation_expires_at: None, password_hash: None, must_change_password: false,
/// #         credential_epoch: CredentialEpoch::default(), version: 1, created_at: t, updated_at: t,
/// #         invited_at: None, last_invitation_sent_at: None, activated_at: Some(t), last_login_at: None,
/// #         password_changed_at: None, disabled_at: None, trashed_at: None }
/// # }
/// let c1 = Scope::ClientFile(ClientFileId::parse("c1").unwrap());
/// let c2 = Scope::ClientFile(ClientFileId::parse("c2").unwrap());
/// let actor = account(&[Grant::new(c1.clone(), Administrator), Grant::new(c2.clone(), Collaborator)]);
/// let reason = |grants: &[Grant], kind| authorize_grants(&actor, kind, grants).map_err(|e| e.reason());
///
/// assert_eq!(reason(&[Grant::new(c1.clone(), Administrator)], Member), Ok(()));
/// assert_eq!(reason(&[Grant::new(c2.clone(), Administrator)], Member), Err(ForbiddenReason::RoleAboveOwn));
/// assert_eq!(reason(&[Grant::new(c2.clone(), Guest)], Member), Err(ForbiddenReason::OutsideScope));
/// assert_eq!(reason(&[Grant::new(Scope::Platform, Guest)], Member), Err(ForbiddenReason::OutsideScope));
/// assert_eq!(reason(&[Grant::new(c1.clone(), Guest)], Public), Err(ForbiddenReason::PublicAccountOutsidePlatform));
/// assert_eq!(reason(&[], Member), Err(ForbiddenReason::NoGrants));
/// ```
pub fn authorize_grants(actor: &AccountRecord, kind: AccountKind, new_grants: &[Grant]) -> Result<(), Forbidden> {
    check_administrator(actor)?;
    if new_grants.is_empty() {
        return deny(ForbiddenReason::NoGrants);
    }
    if holds_platform_administrator(actor) {
        return Ok(());
    }
    if kind == AccountKind::Public {
        return deny(ForbiddenReason::PublicAccountOutsidePlatform);
    }
    for grant in new_grants {
        if administers(actor, &grant.scope) {
            continue;
        }
        return match actor.role_in(&grant.scope) {
            Some(own) if grant.role > own => deny(ForbiddenReason::RoleAboveOwn),
            _ => deny(ForbiddenReason::OutsideScope),
        };
    }
    Ok(())
}

/// Whether `actor` may replace `target`'s grants by `new_grants`.
///
/// [`authorize`] with [`Action::ChangeGrants`] on the target as it is, then
/// [`authorize_grants`] on the new grants, then: the last platform administrator keeps that
/// grant ([`ForbiddenReason::LastPlatformAdministrator`]). An actor changing its own grants is
/// bound by the same rules, so it can never raise them.
///
/// # Errors
/// [`Forbidden`] with the reason of the first rule that fails.
///
/// ```
/// use admit_core::authz::{authorize_grant_change, ForbiddenReason, Target};
/// use admit_core::{AccountKind::*, Grant, ProgramId, Role::*, Scope};
/// # use admit_core::*;
/// # fn account(grants: &[Grant]) -> AccountRecord {
/// #     let t = Timestamp::from_unix_micros(1_767_225_600_000_000);
/// #     AccountRecord { id: AccountId::from_bytes([7; 16]), email: Email::parse("a@exemple.fr").unwrap().into(),
/// #         full_name: FullName::parse("A").unwrap(), phone: None, locale: Locale::fr(), kind: AccountKind::Member,
/// #         grants: grants.to_vec(), labels: Labels::new(), lifecycle: Lifecycle::Active,
/// #         invitation_expires_at: None, password_hash: None, must_change_password: false,
/// #         credential_epoch: CredentialEpoch::default(), version: 1, created_at: t, updated_at: t,
/// #         invited_at: None, last_invitation_sent_at: None, activated_at: Some(t), last_login_at: None,
/// #         password_changed_at: None, disabled_at: None, trashed_at: None }
/// # }
/// let p1 = Scope::Program(ProgramId::parse("p1").unwrap());
/// let root = account(&[Grant::platform_administrator()]);
/// let last = [Grant::platform_administrator()];
/// let demoted = [Grant::new(p1.clone(), Administrator)];
/// // The last platform administrator keeps that grant, even when it demotes itself…
/// assert_eq!(
///     authorize_grant_change(&root, &Target::new(Member, &last, true), &demoted).map_err(|e| e.reason()),
///     Err(ForbiddenReason::LastPlatformAdministrator)
/// );
/// // …but may add grants to it.
/// let more = [Grant::platform_administrator(), Grant::new(p1.clone(), Guest)];
/// assert_eq!(authorize_grant_change(&root, &Target::new(Member, &last, true), &more), Ok(()));
///
/// // A program administrator cannot raise itself to the platform.
/// let admin_p1 = account(&demoted);
/// let raised = [Grant::new(p1.clone(), Administrator), Grant::new(Scope::Platform, Guest)];
/// assert_eq!(
///     authorize_grant_change(&admin_p1, &Target::new(Member, &demoted, false), &raised).map_err(|e| e.reason()),
///     Err(ForbiddenReason::OutsideScope)
/// );
/// ```
pub fn authorize_grant_change(
    actor: &AccountRecord,
    target: &Target<'_>,
    new_grants: &[Grant],
) -> Result<(), Forbidden> {
    authorize(actor, Action::ChangeGrants, target)?;
    authorize_grants(actor, target.kind, new_grants)?;
    if target.is_last_platform_administrator && !new_grants.contains(&Grant::platform_administrator()) {
        return deny(ForbiddenReason::LastPlatformAdministrator);
    }
    Ok(())
}

/// Whether `actor` may read across every account at once: the whole account list, mail
/// journal or audit log. Platform administrators only.
///
/// Rules, first failure wins: the action must be a read ([`ForbiddenReason::NeedsTarget`]);
/// the actor must be available and active; it must be a platform administrator
/// ([`ForbiddenReason::NotPlatformAdministrator`]). A scoped administrator reads one
/// account's journal or audit through [`authorize`].
///
/// # Errors
/// [`Forbidden`] with the reason of the first rule that fails.
///
/// ```
/// use admit_core::authz::{authorize_global, Action, ForbiddenReason};
/// use admit_core::{Grant, ProgramId, Role::*, Scope};
/// # use admit_core::*;
/// # fn account(grants: &[Grant]) -> AccountRecord {
/// #     let t = Timestamp::from_unix_micros(1_767_225_600_000_000);
/// #     AccountRecord { id: AccountId::from_bytes([7; 16]), email: Email::parse("a@exemple.fr").unwrap().into(),
/// #         full_name: FullName::parse("A").unwrap(), phone: None, locale: Locale::fr(), kind: AccountKind::Member,
/// #         grants: grants.to_vec(), labels: Labels::new(), lifecycle: Lifecycle::Active,
/// #         invitation_expires_at: None, password_hash: None, must_change_password: false,
/// #         credential_epoch: CredentialEpoch::default(), version: 1, created_at: t, updated_at: t,
/// #         invited_at: None, last_invitation_sent_at: None, activated_at: Some(t), last_login_at: None,
/// #         password_changed_at: None, disabled_at: None, trashed_at: None }
/// # }
/// let root = account(&[Grant::platform_administrator()]);
/// let admin_p1 = account(&[Grant::new(Scope::Program(ProgramId::parse("p1").unwrap()), Administrator)]);
/// assert_eq!(authorize_global(&root, Action::ReadJournal), Ok(()));
/// assert_eq!(
///     authorize_global(&admin_p1, Action::ReadAudit).map_err(|e| e.reason()),
///     Err(ForbiddenReason::NotPlatformAdministrator)
/// );
/// assert_eq!(
///     authorize_global(&root, Action::Trash).map_err(|e| e.reason()),
///     Err(ForbiddenReason::NeedsTarget)
/// );
/// ```
pub fn authorize_global(actor: &AccountRecord, action: Action) -> Result<(), Forbidden> {
    if !action.is_read() {
        return deny(ForbiddenReason::NeedsTarget);
    }
    if !actor.is_available() {
        return deny(ForbiddenReason::ActorUnavailable);
    }
    if actor.lifecycle != Lifecycle::Active {
        return deny(ForbiddenReason::ActorNotActive);
    }
    if !holds_platform_administrator(actor) {
        return deny(ForbiddenReason::NotPlatformAdministrator);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_names_are_unique_and_all_is_complete() {
        let mut names: Vec<_> = Action::ALL.iter().map(|a| a.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Action::ALL.len());
    }

    #[test]
    fn messages_are_lower_case_without_period() {
        let reasons = [
            ForbiddenReason::ActorUnavailable,
            ForbiddenReason::ActorNotActive,
            ForbiddenReason::NotAnAdministrator,
            ForbiddenReason::NotPlatformAdministrator,
            ForbiddenReason::OutsideScope,
            ForbiddenReason::PublicAccountOutsidePlatform,
            ForbiddenReason::RoleAboveOwn,
            ForbiddenReason::LastPlatformAdministrator,
            ForbiddenReason::NoGrants,
            ForbiddenReason::NeedsTarget,
        ];
        for reason in reasons {
            let text = Forbidden::from(reason).to_string();
            assert!(text.starts_with("forbidden: "), "{text}");
            assert!(!text.ends_with('.'), "{text}");
            assert!(!text.chars().any(char::is_uppercase), "{text}");
        }
    }
}
