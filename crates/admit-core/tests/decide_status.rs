//! `decide::change_status` (disable, enable, trash, restore) and `decide::purge`.

mod support_decide;

use admit_core::decide::{self, AccountEvent, Decision, DecisionError, StatusChange};
use admit_core::{
    AccountRecord, AccountStatus, AccountWrite, AuditAction, ForbiddenReason, Grant, Lifecycle, RevokeReason,
    StatusEvent, TokenRevocation, TransitionError,
};
use support_decide::*;
use time::Duration;

const ALL: [StatusChange; 4] =
    [StatusChange::Disable, StatusChange::Enable, StatusChange::Trash, StatusChange::Restore];

fn event(what: StatusChange) -> StatusEvent {
    match what {
        StatusChange::Disable => StatusEvent::Disable,
        StatusChange::Enable => StatusEvent::Enable,
        StatusChange::Trash => StatusEvent::Trash,
        StatusChange::Restore => StatusEvent::Restore,
    }
}

fn audit_action(what: StatusChange) -> AuditAction {
    match what {
        StatusChange::Disable => AuditAction::AccountDisabled,
        StatusChange::Enable => AuditAction::AccountEnabled,
        StatusChange::Trash => AuditAction::AccountTrashed,
        StatusChange::Restore => AuditAction::AccountRestored,
    }
}

fn reason(result: Result<Decision, DecisionError>) -> ForbiddenReason {
    match result {
        Err(DecisionError::Forbidden(f)) => f.reason(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// Every (state, change) pair: allowed exactly when the state machine allows it, and then
/// the status after is one of the machine's successors.
#[test]
fn transitions_follow_the_state_machine() {
    for state in State::ALL {
        for what in ALL {
            let mut fx = Fx::new();
            let before = collaborator(state);
            let from = before.status(NOW);
            let allowed = from.successors(event(what));
            match decide::change_status(&mut fx.ctx(), &root(), &before, what, false) {
                Ok(d) => {
                    assert!(!allowed.is_empty(), "{state:?} {what:?} should be refused");
                    check_decision(&d, NOW, Some(&before));
                    let after = the_update(&d.change, &before, NOW);
                    assert_eq!(d.account.as_ref(), Some(after));
                    assert!(allowed.contains(&after.status(NOW)), "{state:?} {what:?} -> {:?}", after.status(NOW));
                    assert_eq!(d.change.audit.len(), 1);
                    assert_eq!(d.change.audit[0].action, audit_action(what));
                    assert_eq!(d.change.audit[0].target, Some(before.id));
                    assert!(d.change.mails.is_empty(), "status changes send no mail");
                    assert!(d.change.tokens.is_empty(), "no link is brought back");
                    assert_eq!(after.credential_epoch, before.credential_epoch);
                    assert_eq!(after.password_hash, before.password_hash);
                }
                Err(err) => {
                    assert!(allowed.is_empty(), "{state:?} {what:?} should be allowed: {err:?}");
                    assert_eq!(err, DecisionError::Status(TransitionError { from, event: event(what) }));
                }
            }
        }
    }
}

#[test]
fn disable_and_trash_revoke_every_link_and_end_sessions() {
    for (what, reason, ev) in [
        (StatusChange::Disable, RevokeReason::AccountDisabled, AccountEvent::Disabled as fn(_) -> _),
        (StatusChange::Trash, RevokeReason::AccountTrashed, AccountEvent::Trashed as fn(_) -> _),
    ] {
        for state in [State::Created, State::Invited, State::InvitationExpired, State::Active] {
            let mut fx = Fx::new();
            let before = collaborator(state);
            let d = decide::change_status(&mut fx.ctx(), &root(), &before, what, false).unwrap();
            let after = the_update(&d.change, &before, NOW);
            assert_eq!(
                d.change.revocations,
                [TokenRevocation { account_id: before.id, purpose: None, reason, at: NOW }],
                "{what:?} {state:?}"
            );
            assert_eq!(d.events, [ev(before.id)]);
            // An invited account loses its link, so it is back to "not invited yet".
            let expected = if before.lifecycle == Lifecycle::Active { Lifecycle::Active } else { Lifecycle::Created };
            assert_eq!(after.lifecycle, expected, "{what:?} {state:?}");
            assert_eq!(after.invitation_expires_at.is_none(), expected != Lifecycle::Invited);
            match what {
                StatusChange::Disable => {
                    assert_eq!(after.disabled_at, Some(NOW));
                    assert_eq!(after.status(NOW), AccountStatus::Disabled);
                }
                _ => {
                    assert_eq!(after.trashed_at, Some(NOW));
                    assert_eq!(after.status(NOW), AccountStatus::Trashed);
                }
            }
            assert!(!d.change.require_platform_administrator, "a collaborator is no platform administrator");
        }
    }
}

#[test]
fn enable_and_restore_bring_no_link_back() {
    let mut fx = Fx::new();
    // Invited, then disabled: the decision turns it back to Created.
    let disabled =
        decide::change_status(&mut fx.ctx(), &root(), &collaborator(State::Invited), StatusChange::Disable, false)
            .unwrap()
            .account
            .unwrap();
    let d = decide::change_status(&mut fx.ctx(), &root(), &disabled, StatusChange::Enable, false).unwrap();
    let after = the_update(&d.change, &disabled, NOW);
    assert_eq!(after.status(NOW), AccountStatus::Created, "re-invite to send a new link");
    assert_eq!(after.disabled_at, None);
    assert!(d.change.tokens.is_empty() && d.change.revocations.is_empty() && d.change.mails.is_empty());
    assert!(d.events.is_empty());
    assert!(!d.change.require_platform_administrator);

    let trashed = collaborator(State::Trashed);
    let d = decide::change_status(&mut fx.ctx(), &root(), &trashed, StatusChange::Restore, false).unwrap();
    let after = the_update(&d.change, &trashed, NOW);
    assert_eq!(after.status(NOW), AccountStatus::Active);
    assert_eq!(after.trashed_at, None);
    assert!(d.change.tokens.is_empty() && d.change.revocations.is_empty() && d.change.mails.is_empty());
}

#[test]
fn restoring_a_disabled_then_trashed_account_leaves_it_disabled() {
    let mut fx = Fx::new();
    let before = collaborator(State::DisabledTrashed);
    let d = decide::change_status(&mut fx.ctx(), &root(), &before, StatusChange::Restore, false).unwrap();
    let after = the_update(&d.change, &before, NOW);
    assert_eq!(after.status(NOW), AccountStatus::Disabled);
    assert_eq!(after.disabled_at, before.disabled_at);
    assert_eq!(after.trashed_at, None);
}

#[test]
fn the_last_platform_administrator_can_be_neither_disabled_nor_trashed() {
    let mut fx = Fx::new();
    let last = root();
    for what in [StatusChange::Disable, StatusChange::Trash] {
        let r = decide::change_status(&mut fx.ctx(), &root(), &last, what, true);
        assert_eq!(reason(r), ForbiddenReason::LastPlatformAdministrator);
        // With another acting administrator it may be, and the store re-checks at commit.
        let d = decide::change_status(&mut fx.ctx(), &root(), &last, what, false).unwrap();
        assert!(d.change.require_platform_administrator, "{what:?}");
    }
    // Enabling or restoring a platform administrator adds one: no check needed.
    for (state, what) in [(State::Disabled, StatusChange::Enable), (State::Trashed, StatusChange::Restore)] {
        let admin = in_state(active(5, vec![Grant::platform_administrator()]), state);
        let d = decide::change_status(&mut fx.ctx(), &root(), &admin, what, true).unwrap();
        assert!(!d.change.require_platform_administrator);
    }
}

#[test]
fn status_changes_obey_the_policy() {
    let mut fx = Fx::new();
    for what in ALL {
        let target = match what {
            StatusChange::Enable => State::Disabled,
            StatusChange::Restore => State::Trashed,
            _ => State::Active,
        };
        let r = decide::change_status(&mut fx.ctx(), &collaborator_actor(), &collaborator(target), what, false);
        assert_eq!(reason(r), ForbiddenReason::NotAnAdministrator, "{what:?}");
        let r = decide::change_status(&mut fx.ctx(), &program_admin(), &public(target), what, false);
        assert_eq!(reason(r), ForbiddenReason::PublicAccountOutsidePlatform, "{what:?}");
        let r = decide::change_status(&mut fx.ctx(), &program_admin(), &two_programs(target), what, false);
        assert_eq!(reason(r), ForbiddenReason::OutsideScope, "{what:?}");
        let d = decide::change_status(&mut fx.ctx(), &program_admin(), &collaborator(target), what, false).unwrap();
        assert_eq!(d.change.audit[0].actor, Some(program_admin().id));
    }
}

fn trashed_since(days: i64) -> AccountRecord {
    let mut account = collaborator(State::Trashed);
    account.trashed_at = Some(NOW - Duration::days(days));
    account
}

#[test]
fn purge_deletes_a_trashed_account_with_its_version() {
    let mut fx = Fx::new();
    let before = trashed_since(1);
    let d = decide::purge(&mut fx.ctx(), Some(&root()), &before).unwrap();
    check_decision(&d, NOW, Some(&before));
    assert_eq!(d.change.accounts, [AccountWrite::Delete { id: before.id, expected_version: before.version }]);
    assert_eq!(d.account, None);
    assert!(d.change.mails.is_empty() && d.change.tokens.is_empty());
    assert_eq!(d.change.audit.len(), 1);
    let audit = &d.change.audit[0];
    assert_eq!(audit.action, AuditAction::AccountPurged);
    assert_eq!((audit.actor, audit.target), (Some(root().id), Some(before.id)));
}

#[test]
fn only_trashed_accounts_are_purged() {
    for state in [State::Created, State::Invited, State::InvitationExpired, State::Active, State::Disabled] {
        let mut fx = Fx::new();
        let account = collaborator(state);
        let err = decide::purge(&mut fx.ctx(), Some(&root()), &account).unwrap_err();
        assert_eq!(err, DecisionError::NotPurgeable, "{state:?}");
        let err = decide::purge(&mut fx.ctx(), None, &account).unwrap_err();
        assert_eq!(err, DecisionError::NotPurgeable, "{state:?}");
    }
    let mut fx = Fx::new();
    decide::purge(&mut fx.ctx(), Some(&root()), &collaborator(State::DisabledTrashed)).unwrap();
}

#[test]
fn the_retention_job_purges_only_after_the_retention_period() {
    let mut fx = Fx::new();
    let retention = fx.rules.trash_retention;
    let mut account = collaborator(State::Trashed);
    // One microsecond short of the period: kept.
    account.trashed_at = Some(NOW - retention + Duration::microseconds(1));
    assert_eq!(decide::purge(&mut fx.ctx(), None, &account).unwrap_err(), DecisionError::NotPurgeable);
    // At the end of the period: purged, with no actor in the audit entry.
    account.trashed_at = Some(NOW - retention);
    let d = decide::purge(&mut fx.ctx(), None, &account).unwrap();
    assert_eq!(d.change.accounts, [AccountWrite::Delete { id: account.id, expected_version: account.version }]);
    assert_eq!(d.change.audit[0].actor, None);
    assert_eq!(d.change.audit[0].action, AuditAction::AccountPurged);
    // A shorter configured retention is honoured.
    fx.rules.trash_retention = Duration::days(1);
    decide::purge(&mut fx.ctx(), None, &trashed_since(1)).unwrap();
    // An administrator may purge at once.
    decide::purge(&mut fx.ctx(), Some(&root()), &trashed_since(0)).unwrap();
}

#[test]
fn purge_obeys_the_policy() {
    let mut fx = Fx::new();
    let r = decide::purge(&mut fx.ctx(), Some(&collaborator_actor()), &trashed_since(40));
    assert_eq!(reason(r), ForbiddenReason::NotAnAdministrator);
    let mut public = public(State::Trashed);
    public.trashed_at = Some(NOW - Duration::days(40));
    let r = decide::purge(&mut fx.ctx(), Some(&program_admin()), &public);
    assert_eq!(reason(r), ForbiddenReason::PublicAccountOutsidePlatform);
    decide::purge(&mut fx.ctx(), Some(&program_admin()), &trashed_since(40)).unwrap();
}
