//! `decide::change_email`: links revoked, invited accounts back to `Created`, the old
//! address notified.

mod support_decide;

use admit_core::decide::{self, AccountEvent, Decision, DecisionError};
use admit_core::{
    AccountRecord, AccountStatus, AuditAction, Email, ForbiddenReason, Lifecycle, MailKind, RevokeReason,
    TokenRevocation,
};
use support_decide::*;

fn new_address() -> Email {
    Email::parse("Camille.NEW@Exemple.org").unwrap()
}

fn change(before: &AccountRecord, email: Email) -> Decision {
    let mut fx = Fx::new();
    let d = decide::change_email(&mut fx.ctx(), &root(), before, email, None).unwrap();
    check_decision(&d, NOW, Some(before));
    d
}

fn check_common(d: &Decision, before: &AccountRecord, email: &Email) -> AccountRecord {
    let after = the_update(&d.change, before, NOW).clone();
    assert_eq!(d.account.as_ref(), Some(&after));
    assert_eq!(after.email.as_ref().map(Email::as_str), Some(email.as_str()));
    assert_eq!(
        d.change.revocations,
        [TokenRevocation { account_id: before.id, purpose: None, reason: RevokeReason::EmailChanged, at: NOW }]
    );
    assert_eq!(after.credential_epoch, before.credential_epoch);
    assert_eq!(after.password_hash, before.password_hash);
    assert!(d.change.tokens.is_empty() && d.change.consume.is_none());
    assert_eq!(d.change.audit.len(), 1);
    assert_eq!(d.change.audit[0].action, AuditAction::EmailChanged);
    assert_eq!(d.change.audit[0].target, Some(before.id));
    assert!(!d.change.audit[0].detail.contains("NEW"), "addresses stay out of the audit detail");
    after
}

#[test]
fn changing_an_active_accounts_address_notifies_the_old_address() {
    let before = collaborator(State::Active);
    let d = change(&before, new_address());
    let after = check_common(&d, &before, &new_address());
    assert_eq!(after.lifecycle, Lifecycle::Active);
    assert_eq!(d.change.mails.len(), 1);
    let mail = &d.change.mails[0];
    assert_eq!(mail.kind, MailKind::EmailChanged);
    assert_eq!(mail.to.as_str(), "Jeanne.Martin10@exemple.fr", "the notice goes to the OLD address");
    assert_eq!(mail.params.new_email.as_deref(), Some("Camille.NEW@exemple.org"));
    assert!(mail.params.secret.is_none());
    assert_eq!(d.events, [AccountEvent::EmailChanged(before.id)]);
}

#[test]
fn an_invited_account_goes_back_to_created() {
    for state in [State::Invited, State::InvitationExpired] {
        let before = collaborator(state);
        let d = change(&before, new_address());
        let after = check_common(&d, &before, &new_address());
        assert_eq!(after.lifecycle, Lifecycle::Created, "{state:?}");
        assert_eq!(after.status(NOW), AccountStatus::Created);
        assert_eq!(after.invitation_expires_at, None);
        assert_eq!(d.change.mails.len(), 1);
        assert_eq!(d.change.mails[0].to.as_str(), "Jeanne.Martin10@exemple.fr");
    }
}

#[test]
fn assigning_a_first_address_sends_no_mail() {
    let before = without_email(collaborator(State::Created));
    let d = change(&before, new_address());
    let after = check_common(&d, &before, &new_address());
    assert_eq!(after.lifecycle, Lifecycle::Created);
    assert!(d.change.mails.is_empty());
    assert!(d.events.is_empty());
    assert!(d.change.audit[0].detail.contains("had_email=false"));
}

#[test]
fn disabled_and_trashed_accounts_get_no_notice() {
    for state in [State::Disabled, State::Trashed] {
        let before = collaborator(state);
        let d = change(&before, new_address());
        check_common(&d, &before, &new_address());
        assert!(d.change.mails.is_empty(), "{state:?}");
    }
}

#[test]
fn the_holder_of_the_address_decides_the_conflict() {
    let mut fx = Fx::new();
    let before = collaborator(State::Active);
    let other = two_programs(State::Trashed);
    let err = decide::change_email(&mut fx.ctx(), &root(), &before, new_address(), Some(&other)).unwrap_err();
    assert_eq!(err, DecisionError::EmailTaken, "taken by another account, even in the trash");
    // The account itself holding it (a change of case) is no conflict, and nobody needs a
    // notice about their own address in other letters.
    let recased = Email::parse("JEANNE.MARTIN10@exemple.fr").unwrap();
    let d = decide::change_email(&mut fx.ctx(), &root(), &before, recased.clone(), Some(&before)).unwrap();
    check_decision(&d, NOW, Some(&before));
    let after = the_update(&d.change, &before, NOW);
    assert_eq!(after.email.as_ref().unwrap().as_str(), "JEANNE.MARTIN10@exemple.fr");
    assert!(d.change.mails.is_empty());
}

#[test]
fn changing_the_address_obeys_the_policy() {
    let mut fx = Fx::new();
    let reason = |r: Result<Decision, DecisionError>| match r {
        Err(DecisionError::Forbidden(f)) => f.reason(),
        other => panic!("{other:?}"),
    };
    let r =
        decide::change_email(&mut fx.ctx(), &collaborator_actor(), &collaborator(State::Active), new_address(), None);
    assert_eq!(reason(r), ForbiddenReason::NotAnAdministrator);
    let r = decide::change_email(&mut fx.ctx(), &program_admin(), &public(State::Active), new_address(), None);
    assert_eq!(reason(r), ForbiddenReason::PublicAccountOutsidePlatform);
    // Authorization before the conflict: no probing for addresses.
    let holder = two_programs(State::Active);
    let r = decide::change_email(
        &mut fx.ctx(),
        &program_admin(),
        &two_programs(State::Active),
        new_address(),
        Some(&holder),
    );
    assert_eq!(reason(r), ForbiddenReason::OutsideScope);
    let d = decide::change_email(&mut fx.ctx(), &program_admin(), &collaborator(State::Active), new_address(), None)
        .unwrap();
    assert_eq!(d.change.audit[0].actor, Some(program_admin().id));
}
