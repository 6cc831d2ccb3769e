//! Passwords set by an administrator, temporary passwords, a person's own change, and
//! sign-in.

mod support_decide;

use admit_core::decide::{self, AccountEvent, Decision, DecisionError};
use admit_core::{
    AccountRecord, AccountStatus, AuditAction, ForbiddenReason, Lifecycle, MailKind, RevokeReason, TokenPurpose,
    TokenRevocation,
};
use support_decide::*;

fn reason(result: Result<Decision, DecisionError>) -> ForbiddenReason {
    match result {
        Err(DecisionError::Forbidden(f)) => f.reason(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn revoke_all(account: &AccountRecord) -> [TokenRevocation; 1] {
    [TokenRevocation { account_id: account.id, purpose: None, reason: RevokeReason::PasswordChanged, at: NOW }]
}

/// What every password change does to the record.
fn check_password_changed(d: &Decision, before: &AccountRecord, must_change: bool) -> AccountRecord {
    check_decision(d, NOW, Some(before));
    let after = the_update(&d.change, before, NOW).clone();
    assert_eq!(d.account.as_ref(), Some(&after));
    assert_eq!(after.lifecycle, Lifecycle::Active);
    assert_eq!(after.status(NOW), AccountStatus::Active);
    if d.change.mails.iter().any(|m| m.kind == MailKind::TemporaryPassword) {
        assert_eq!(after.password_hash, None, "a temporary password is hashed at dispatch, not before");
    } else {
        assert_eq!(after.password_hash, Some(hash(55)));
    }
    assert_eq!(after.must_change_password, must_change);
    assert_eq!(after.credential_epoch, before.credential_epoch.next());
    assert_eq!(after.password_changed_at, Some(NOW));
    assert_eq!(after.invitation_expires_at, None);
    assert_eq!(after.activated_at, before.activated_at.or(Some(NOW)));
    assert_eq!(d.change.revocations, revoke_all(before));
    assert!(d.change.tokens.is_empty() && d.change.consume.is_none());
    let mut events = vec![AccountEvent::PasswordChanged(before.id)];
    if before.activated_at.is_none() {
        events.insert(0, AccountEvent::Activated(before.id));
    }
    assert_eq!(d.events, events);
    after
}

#[test]
fn set_password_takes_effect_at_once_and_notifies() {
    for state in [State::Created, State::Invited, State::InvitationExpired, State::Active] {
        for must_change in [true, false] {
            let mut fx = Fx::new();
            let before = collaborator(state);
            let d = decide::set_password(&mut fx.ctx(), &root(), &before, hash(55), must_change).unwrap();
            check_password_changed(&d, &before, must_change);
            assert_eq!(d.change.mails.len(), 1);
            assert_eq!(d.change.mails[0].kind, MailKind::PasswordChanged);
            assert!(d.change.mails[0].params.secret.is_none());
            assert_eq!(d.change.audit.len(), 1);
            let audit = &d.change.audit[0];
            assert_eq!(audit.action, AuditAction::PasswordSetByAdministrator);
            assert_eq!((audit.actor, audit.target), (Some(root().id), Some(before.id)));
            assert!(audit.detail.contains(&format!("must_change={must_change}")));
        }
    }
}

#[test]
fn set_password_activates_an_invited_account() {
    let mut fx = Fx::new();
    let before = collaborator(State::Invited);
    let d = decide::set_password(&mut fx.ctx(), &root(), &before, hash(55), true).unwrap();
    let after = check_password_changed(&d, &before, true);
    assert_eq!(after.activated_at, Some(NOW));
    assert_eq!(d.events, [AccountEvent::Activated(before.id), AccountEvent::PasswordChanged(before.id)]);
}

#[test]
fn set_password_without_email_sends_nothing_but_still_applies() {
    let mut fx = Fx::new();
    let before = without_email(collaborator(State::Created));
    let d = decide::set_password(&mut fx.ctx(), &root(), &before, hash(55), true).unwrap();
    check_password_changed(&d, &before, true);
    assert!(d.change.mails.is_empty());
}

#[test]
fn set_password_refusals() {
    let mut fx = Fx::new();
    let r = decide::set_password(&mut fx.ctx(), &collaborator_actor(), &collaborator(State::Active), hash(1), true);
    assert_eq!(reason(r), ForbiddenReason::NotAnAdministrator);
    let r = decide::set_password(&mut fx.ctx(), &program_admin(), &public(State::Active), hash(1), true);
    assert_eq!(reason(r), ForbiddenReason::PublicAccountOutsidePlatform);
    let r = decide::set_password(&mut fx.ctx(), &program_admin(), &two_programs(State::Active), hash(1), true);
    assert_eq!(reason(r), ForbiddenReason::OutsideScope);
    for state in [State::Disabled, State::Trashed, State::DisabledTrashed] {
        let r = decide::set_password(&mut fx.ctx(), &root(), &collaborator(state), hash(1), true);
        assert_eq!(r.unwrap_err(), DecisionError::AccountUnavailable, "{state:?}");
    }
    decide::set_password(&mut fx.ctx(), &program_admin(), &collaborator(State::Active), hash(1), false).unwrap();
}

#[test]
fn temporary_password_is_mailed_and_must_be_changed() {
    for state in [State::Created, State::Invited, State::InvitationExpired, State::Active] {
        let mut fx = Fx::new();
        let before = collaborator(state);
        let d = decide::issue_temporary_password(&mut fx.ctx(), &root(), &before).unwrap();
        let after = check_password_changed(&d, &before, true);
        assert_eq!(d.change.mails.len(), 1);
        let mail = &d.change.mails[0];
        assert_eq!(mail.kind, MailKind::TemporaryPassword);
        assert!(mail.params.secret.is_none(), "no password exists before dispatch");
        assert_eq!(
            mail.params.intent,
            Some(admit_core::MailIntent::TemporaryPassword { credential_epoch: after.credential_epoch }),
            "the intent names the epoch the decision moved the account to"
        );
        assert_eq!(mail.to.as_str(), before.email.as_ref().unwrap().as_str());
        assert_eq!(d.change.audit.len(), 1);
        assert_eq!(d.change.audit[0].action, AuditAction::TemporaryPasswordIssued);
    }
}

#[test]
fn temporary_password_refusals() {
    let mut fx = Fx::new();
    let r = decide::issue_temporary_password(&mut fx.ctx(), &root(), &without_email(collaborator(State::Active)));
    assert_eq!(r.unwrap_err(), DecisionError::NoEmail);
    for state in [State::Disabled, State::Trashed] {
        let r = decide::issue_temporary_password(&mut fx.ctx(), &root(), &collaborator(state));
        assert_eq!(r.unwrap_err(), DecisionError::AccountUnavailable);
    }
    let r = decide::issue_temporary_password(&mut fx.ctx(), &collaborator_actor(), &collaborator(State::Active));
    assert_eq!(reason(r), ForbiddenReason::NotAnAdministrator);
    let r = decide::issue_temporary_password(&mut fx.ctx(), &program_admin(), &public(State::Active));
    assert_eq!(reason(r), ForbiddenReason::PublicAccountOutsidePlatform);
}

#[test]
fn changing_ones_own_password_clears_must_change() {
    let mut fx = Fx::new();
    let mut before = collaborator(State::Active);
    before.must_change_password = true;
    let d = decide::change_own_password(&mut fx.ctx(), &before, hash(55)).unwrap();
    let after = check_password_changed(&d, &before, false);
    assert_eq!(after.activated_at, Some(EARLIER));
    assert_eq!(d.change.audit[0].action, AuditAction::PasswordChanged);
    assert_eq!(d.change.audit[0].actor, Some(before.id));
    assert_eq!(d.change.mails.len(), 1);
    assert_eq!(d.change.mails[0].kind, MailKind::PasswordChanged);
    for state in [State::Disabled, State::Trashed] {
        let err = decide::change_own_password(&mut fx.ctx(), &collaborator(state), hash(1)).unwrap_err();
        assert_eq!(err, DecisionError::AccountUnavailable);
    }
}

#[test]
fn sign_in_records_it_and_revokes_only_reset_links() {
    let mut fx = Fx::new();
    let mut before = collaborator(State::Active);
    before.must_change_password = true;
    let d = decide::sign_in(&mut fx.ctx(), &before, None);
    check_decision(&d, NOW, Some(&before));
    let after = the_update(&d.change, &before, NOW);
    assert_eq!(after.last_login_at, Some(NOW));
    assert_eq!(after.password_hash, before.password_hash, "no rehash: the hash is kept");
    assert_eq!(after.credential_epoch, before.credential_epoch, "a sign-in is not a password change");
    assert!(after.must_change_password, "the flag is reported, and cleared only by a change");
    assert_eq!(after.lifecycle, Lifecycle::Active);
    assert_eq!(
        d.change.revocations,
        [TokenRevocation {
            account_id: before.id,
            purpose: Some(TokenPurpose::PasswordReset),
            reason: RevokeReason::SignedIn,
            at: NOW
        }]
    );
    assert!(d.change.mails.is_empty() && d.change.tokens.is_empty() && d.change.consume.is_none());
    assert_eq!(d.change.audit.len(), 1);
    assert_eq!(d.change.audit[0].action, AuditAction::SignedIn);
    assert_eq!(d.change.audit[0].actor, Some(before.id));
    assert!(d.events.is_empty());
}

#[test]
fn sign_in_stores_a_rehash() {
    let mut fx = Fx::new();
    let before = collaborator(State::Active);
    let d = decide::sign_in(&mut fx.ctx(), &before, Some(hash(999)));
    let after = the_update(&d.change, &before, NOW);
    assert_eq!(after.password_hash, Some(hash(999)));
    assert_eq!(after.credential_epoch, before.credential_epoch, "a rehash of the same password kills no link");
    assert_eq!(after.password_changed_at, before.password_changed_at);
}
