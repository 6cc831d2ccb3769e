//! `decide::invite` and `decide::reinvite`: from which statuses, what link, what mail.

mod support_decide;

use admit_core::decide::{self, Decision, DecisionError};
use admit_core::{
    AccountRecord, AccountStatus, AuditAction, ForbiddenReason, Lifecycle, MailKind, StatusEvent, TokenPurpose,
    TransitionError,
};
use support_decide::*;
use time::Duration;

/// Checks an invitation decision on `before`; returns the updated record.
fn check_invitation(fx: &Fx, d: &Decision, before: &AccountRecord, kind: MailKind, action: AuditAction) {
    check_decision(d, NOW, Some(before));
    let after = the_update(&d.change, before, NOW);
    assert_eq!(d.account.as_ref(), Some(after));
    let deadline = NOW + fx.rules.invitation_ttl;
    assert_eq!(after.lifecycle, Lifecycle::Invited);
    assert_eq!(after.status(NOW), AccountStatus::Invited);
    assert_eq!(after.invitation_expires_at, Some(deadline));
    assert_eq!(after.last_invitation_sent_at, Some(NOW));
    assert_eq!(after.credential_epoch, before.credential_epoch, "inviting does not move the epoch");
    assert_eq!(after.password_hash, before.password_hash);
    assert_eq!(after.email, before.email);
    assert_eq!(after.grants, before.grants);

    assert_eq!(d.change.tokens.len(), 1);
    let token = &d.change.tokens[0];
    assert_eq!(token.account_id, before.id);
    assert_eq!(token.purpose, TokenPurpose::Invitation);
    assert_eq!(token.credential_epoch, before.credential_epoch);
    assert_eq!(token.expires_at, deadline);
    // The previous link is replaced by the store when the new token is inserted; nothing
    // else is revoked (a pending reset link stays).
    assert!(d.change.revocations.is_empty());
    assert!(d.change.consume.is_none());

    assert_eq!(d.change.mails.len(), 1);
    let mail = &d.change.mails[0];
    assert_eq!(mail.kind, kind);
    assert_eq!(mail.to.as_str(), before.email.as_ref().unwrap().as_str());
    assert_eq!(mail.params.expires_at, Some(deadline));
    verify_link(mail, &fx.rules.links, token, NOW);

    assert_eq!(d.change.audit.len(), 1);
    assert_eq!(d.change.audit[0].action, action);
    assert_eq!(d.change.audit[0].actor, Some(root().id));
    assert_eq!(d.change.audit[0].target, Some(before.id));
    assert!(d.events.is_empty());
    assert!(!d.change.require_platform_administrator);
}

#[test]
fn invite_sends_the_first_invitation_to_a_created_account() {
    let mut fx = Fx::new();
    let before = collaborator(State::Created);
    let d = decide::invite(&mut fx.ctx(), &root(), &before).unwrap();
    check_invitation(&fx, &d, &before, MailKind::Invitation, AuditAction::InvitationSent);
    assert_eq!(d.account.unwrap().invited_at, Some(NOW));
}

#[test]
fn invite_is_refused_from_every_other_status() {
    for state in State::ALL.into_iter().filter(|s| *s != State::Created) {
        let mut fx = Fx::new();
        let account = collaborator(state);
        let from = account.status(NOW);
        let err = decide::invite(&mut fx.ctx(), &root(), &account).unwrap_err();
        assert_eq!(err, DecisionError::Status(TransitionError { from, event: StatusEvent::Invite }), "{state:?}");
    }
}

#[test]
fn invite_without_email_is_refused() {
    let mut fx = Fx::new();
    let err = decide::invite(&mut fx.ctx(), &root(), &without_email(collaborator(State::Created))).unwrap_err();
    assert_eq!(err, DecisionError::NoEmail);
}

#[test]
fn reinvite_from_invited_replaces_the_link_with_a_full_lifetime() {
    let mut fx = Fx::new();
    let before = collaborator(State::Invited);
    let d = decide::reinvite(&mut fx.ctx(), &root(), &before).unwrap();
    check_invitation(&fx, &d, &before, MailKind::InvitationReminder, AuditAction::InvitationResent);
    let after = d.account.unwrap();
    assert_eq!(after.invited_at, before.invited_at, "the first invitation date is kept");
    assert!(after.invitation_expires_at > before.invitation_expires_at);
}

#[test]
fn reinvite_after_expiry_lives_a_full_lifetime_from_now() {
    let mut fx = Fx::new();
    let before = collaborator(State::InvitationExpired);
    assert_eq!(before.status(NOW), AccountStatus::InvitationExpired);
    let d = decide::reinvite(&mut fx.ctx(), &root(), &before).unwrap();
    check_invitation(&fx, &d, &before, MailKind::InvitationReminder, AuditAction::InvitationResent);
    let after = d.account.unwrap();
    assert_eq!(after.invitation_expires_at, Some(NOW + Duration::days(7)));
    assert_eq!(after.invited_at, before.invited_at);
}

#[test]
fn reinvite_at_the_exact_deadline_is_still_from_invited() {
    let mut fx = Fx::new();
    let mut before = collaborator(State::Invited);
    before.invitation_expires_at = Some(NOW);
    assert_eq!(before.status(NOW), AccountStatus::Invited);
    let d = decide::reinvite(&mut fx.ctx(), &root(), &before).unwrap();
    assert_eq!(d.change.tokens[0].expires_at, NOW + Duration::days(7));
}

#[test]
fn reinvite_is_refused_from_created_active_disabled_and_trashed() {
    for state in [State::Created, State::Active, State::Disabled, State::Trashed, State::DisabledTrashed] {
        let mut fx = Fx::new();
        let account = collaborator(state);
        let from = account.status(NOW);
        let err = decide::reinvite(&mut fx.ctx(), &root(), &account).unwrap_err();
        assert_eq!(err, DecisionError::Status(TransitionError { from, event: StatusEvent::Reinvite }), "{state:?}");
    }
}

#[test]
fn invitations_obey_the_authorization_policy() {
    let mut fx = Fx::new();
    // A program administrator may invite its program's collaborators…
    let d = decide::invite(&mut fx.ctx(), &program_admin(), &collaborator(State::Created)).unwrap();
    assert_eq!(d.change.audit[0].actor, Some(program_admin().id));
    decide::reinvite(&mut fx.ctx(), &program_admin(), &collaborator(State::Invited)).unwrap();
    // …not public accounts, nor members of another program too, and collaborators nobody.
    let cases = [
        (program_admin(), public(State::Created), ForbiddenReason::PublicAccountOutsidePlatform),
        (program_admin(), two_programs(State::Created), ForbiddenReason::OutsideScope),
        (collaborator_actor(), collaborator(State::Created), ForbiddenReason::NotAnAdministrator),
    ];
    for (actor, target, reason) in cases {
        match decide::invite(&mut fx.ctx(), &actor, &target) {
            Err(DecisionError::Forbidden(f)) => assert_eq!(f.reason(), reason),
            other => panic!("{other:?}"),
        }
        let mut invited = target.clone();
        invited.lifecycle = Lifecycle::Invited;
        invited.invitation_expires_at = Some(NOW + Duration::days(1));
        match decide::reinvite(&mut fx.ctx(), &actor, &invited) {
            Err(DecisionError::Forbidden(f)) => assert_eq!(f.reason(), reason),
            other => panic!("{other:?}"),
        }
    }
    // The platform administrator invites public accounts.
    decide::invite(&mut fx.ctx(), &root(), &public(State::Created)).unwrap();
}

#[test]
fn invitation_mail_goes_to_the_stored_address_in_the_accounts_locale() {
    let mut fx = Fx::new();
    let before = public(State::Created);
    let d = decide::invite(&mut fx.ctx(), &root(), &before).unwrap();
    let mail = &d.change.mails[0];
    assert_eq!(mail.to.as_str(), "Jeanne.Martin20@exemple.fr");
    assert_eq!(mail.locale.as_str(), "fr");
    assert_eq!(mail.subject, "Invitation fr");
}

#[test]
fn two_reinvites_issue_different_links() {
    let mut fx = Fx::new();
    let before = collaborator(State::Invited);
    let a = decide::reinvite(&mut fx.ctx(), &root(), &before).unwrap();
    let b = decide::reinvite(&mut fx.ctx(), &root(), &before).unwrap();
    assert_ne!(a.change.tokens[0].selector, b.change.tokens[0].selector);
    let (link_a, _) = arm_link(&a.change.mails[0], &fx.rules.links, &a.change.tokens[0]);
    let (_, armed_b) = arm_link(&b.change.mails[0], &fx.rules.links, &b.change.tokens[0]);
    let parsed_a = admit_core::token::parse(&raw_of(&link_a, &fx.rules.links, TokenPurpose::Invitation)).unwrap();
    assert!(parsed_a.verify(&armed_b, TokenPurpose::Invitation, NOW).is_err());
}
