//! `decide::create_account`: the record inserted, the invitation sent with it, and every
//! refusal writing nothing.

mod support_decide;

use admit_core::decide::{self, DecisionError, NewAccount};
use admit_core::{
    AccountKind, AuditAction, ForbiddenReason, FullName, Grant, Labels, Lifecycle, Locale, MailKind, Role, TokenPurpose,
};
use support_decide::*;
use time::Duration;

fn new_account(email: Option<&str>) -> NewAccount {
    let mut labels = Labels::new();
    labels.insert("position", "Gérant").unwrap();
    NewAccount {
        email: email.map(|e| admit_core::Email::parse(e).unwrap()),
        full_name: FullName::parse("Camille Durand").unwrap(),
        phone: None,
        locale: Locale::fr(),
        kind: AccountKind::Member,
        grants: vec![Grant::new(p1(), Role::Collaborator)],
        labels,
    }
}

#[test]
fn create_without_invitation_inserts_a_created_account_at_version_1() {
    let mut fx = Fx::new();
    let input = new_account(Some("Camille.Durand@Exemple.fr"));
    let d = decide::create_account(&mut fx.ctx(), &root(), input.clone(), None, false).unwrap();
    check_decision(&d, NOW, None);
    let record = the_insert(&d.change);
    assert_eq!(d.account.as_ref(), Some(record));
    assert_eq!(record.version, 1);
    assert_eq!(record.lifecycle, Lifecycle::Created);
    assert_eq!(record.status(NOW), admit_core::AccountStatus::Created);
    assert_eq!(record.email, input.email);
    assert_eq!(record.email.as_ref().unwrap().as_str(), "Camille.Durand@exemple.fr");
    assert_eq!(record.full_name, input.full_name);
    assert_eq!(record.grants, input.grants);
    assert_eq!(record.labels, input.labels);
    assert_eq!(record.kind, AccountKind::Member);
    assert_eq!(record.credential_epoch, admit_core::CredentialEpoch::default());
    assert_eq!((record.created_at, record.updated_at), (NOW, NOW));
    assert_eq!(record.invitation_expires_at, None);
    assert_eq!(record.invited_at, None);
    assert_eq!(record.password_hash, None);
    assert!(!record.must_change_password);
    assert!(record.activated_at.is_none() && record.disabled_at.is_none() && record.trashed_at.is_none());
    assert!(d.change.tokens.is_empty() && d.change.mails.is_empty() && d.change.revocations.is_empty());
    assert!(d.change.consume.is_none());
    assert!(!d.change.require_platform_administrator);
    assert!(d.events.is_empty());
    assert_eq!(d.change.audit.len(), 1);
    let audit = &d.change.audit[0];
    assert_eq!(audit.action, AuditAction::AccountCreated);
    assert_eq!(audit.actor, Some(root().id));
    assert_eq!(audit.target, Some(record.id));
}

#[test]
fn create_and_invite_issues_one_link_mailed_to_the_stored_address() {
    let mut fx = Fx::new();
    let input = new_account(Some("Camille.Durand@Exemple.fr"));
    let d = decide::create_account(&mut fx.ctx(), &root(), input, None, true).unwrap();
    check_decision(&d, NOW, None);
    let record = the_insert(&d.change);
    assert_eq!(record.version, 1);
    assert_eq!(record.lifecycle, Lifecycle::Invited);
    assert_eq!(record.status(NOW), admit_core::AccountStatus::Invited);
    let deadline = NOW + Duration::days(7);
    assert_eq!(record.invitation_expires_at, Some(deadline));
    assert_eq!(record.invited_at, Some(NOW));
    assert_eq!(record.last_invitation_sent_at, Some(NOW));

    assert_eq!(d.change.tokens.len(), 1);
    let token = &d.change.tokens[0];
    assert_eq!(token.account_id, record.id);
    assert_eq!(token.purpose, TokenPurpose::Invitation);
    assert_eq!(token.credential_epoch, record.credential_epoch);
    assert_eq!(token.expires_at, deadline);

    assert_eq!(d.change.mails.len(), 1);
    let mail = &d.change.mails[0];
    assert_eq!(mail.kind, MailKind::Invitation);
    assert_eq!(mail.to.as_str(), "Camille.Durand@exemple.fr");
    assert_eq!(mail.account_id, Some(record.id));
    assert_eq!(mail.params.expires_at, Some(deadline));
    assert_eq!(mail.params.recipient_name, "Camille Durand");
    assert_eq!(mail.subject, subject(MailKind::Invitation, "fr"));
    let (parsed, armed, link) = verify_link(mail, &fx.rules.links, token, NOW);
    // Valid up to and including the deadline, not a microsecond after.
    assert!(parsed.verify(&armed, TokenPurpose::Invitation, deadline).is_ok());
    assert!(parsed.verify(&armed, TokenPurpose::Invitation, deadline + Duration::microseconds(1)).is_err());
    assert!(parsed.verify(&armed, TokenPurpose::PasswordReset, NOW).is_err());
    assert!(link.starts_with("https://app.exemple.fr/espace/accept-invitation?token=adm_"), "{link}");

    let actions: Vec<_> = d.change.audit.iter().map(|a| a.action).collect();
    assert_eq!(actions, [AuditAction::AccountCreated, AuditAction::InvitationSent]);
    assert!(d.change.audit.iter().all(|a| a.actor == Some(root().id) && a.target == Some(record.id)));
    assert!(d.events.is_empty());
}

#[test]
fn existing_email_is_taken_in_any_status() {
    for state in State::ALL {
        let holder = collaborator(state);
        for invite in [false, true] {
            let mut fx = Fx::new();
            let result = decide::create_account(
                &mut fx.ctx(),
                &root(),
                new_account(Some("jeanne.martin10@exemple.fr")),
                Some(&holder),
                invite,
            );
            assert_eq!(result.unwrap_err(), DecisionError::EmailTaken, "{state:?}");
        }
    }
}

#[test]
fn invite_without_email_is_refused_but_creating_without_email_is_fine() {
    let mut fx = Fx::new();
    let err = decide::create_account(&mut fx.ctx(), &root(), new_account(None), None, true).unwrap_err();
    assert_eq!(err, DecisionError::NoEmail);
    let d = decide::create_account(&mut fx.ctx(), &root(), new_account(None), None, false).unwrap();
    let record = the_insert(&d.change);
    assert_eq!(record.email, None);
    assert_eq!(record.lifecycle, Lifecycle::Created);
    assert!(d.change.mails.is_empty());
}

fn forbidden(result: Result<decide::Decision, DecisionError>) -> ForbiddenReason {
    match result {
        Err(DecisionError::Forbidden(f)) => f.reason(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn forbidden_actors_get_a_typed_refusal_and_nothing_else() {
    let mut fx = Fx::new();
    let input = new_account(Some("x@exemple.fr"));
    let r = decide::create_account(&mut fx.ctx(), &collaborator_actor(), input.clone(), None, true);
    assert_eq!(forbidden(r), ForbiddenReason::NotAnAdministrator);

    let mut outside = input.clone();
    outside.grants = vec![Grant::new(p2(), Role::Guest)];
    let r = decide::create_account(&mut fx.ctx(), &program_admin(), outside, None, true);
    assert_eq!(forbidden(r), ForbiddenReason::OutsideScope);

    let mut public = input.clone();
    public.kind = AccountKind::Public;
    let r = decide::create_account(&mut fx.ctx(), &program_admin(), public, None, true);
    assert_eq!(forbidden(r), ForbiddenReason::PublicAccountOutsidePlatform);

    let mut no_grants = input.clone();
    no_grants.grants = vec![];
    let r = decide::create_account(&mut fx.ctx(), &root(), no_grants, None, false);
    assert_eq!(forbidden(r), ForbiddenReason::NoGrants);

    let disabled_root = in_state(root(), State::Disabled);
    let r = decide::create_account(&mut fx.ctx(), &disabled_root, input.clone(), None, true);
    assert_eq!(forbidden(r), ForbiddenReason::ActorUnavailable);

    let invited_root = in_state(root(), State::Invited);
    let r = decide::create_account(&mut fx.ctx(), &invited_root, input.clone(), None, true);
    assert_eq!(forbidden(r), ForbiddenReason::ActorNotActive);

    // Refused before the conflict check: a forbidden actor learns nothing about addresses.
    let holder = collaborator(State::Active);
    let r = decide::create_account(&mut fx.ctx(), &collaborator_actor(), input, Some(&holder), true);
    assert_eq!(forbidden(r), ForbiddenReason::NotAnAdministrator);
}

#[test]
fn program_administrator_creates_inside_its_program() {
    let mut fx = Fx::new();
    let d =
        decide::create_account(&mut fx.ctx(), &program_admin(), new_account(Some("x@exemple.fr")), None, true).unwrap();
    check_decision(&d, NOW, None);
    assert_eq!(the_insert(&d.change).lifecycle, Lifecycle::Invited);
    assert!(d.change.audit.iter().all(|a| a.actor == Some(program_admin().id)));
}

#[test]
fn two_creations_get_distinct_ids_tokens_mails_and_audit_entries() {
    let mut fx = Fx::new();
    let a = decide::create_account(&mut fx.ctx(), &root(), new_account(Some("a@exemple.fr")), None, true).unwrap();
    let b = decide::create_account(&mut fx.ctx(), &root(), new_account(Some("b@exemple.fr")), None, true).unwrap();
    assert_ne!(a.account.as_ref().unwrap().id, b.account.as_ref().unwrap().id);
    assert_ne!(a.change.tokens[0].selector, b.change.tokens[0].selector);
    assert_eq!((a.change.tokens[0].verifier_hash, b.change.tokens[0].verifier_hash), (None, None), "reserved");
    assert_ne!(a.change.mails[0].params.intent, b.change.mails[0].params.intent);
    assert_ne!(a.change.mails[0].id, b.change.mails[0].id);
    let ids: std::collections::HashSet<_> = a.change.audit.iter().chain(&b.change.audit).map(|e| e.id).collect();
    assert_eq!(ids.len(), 4);
}

#[test]
fn invitation_lifetime_follows_the_rules() {
    let mut fx = Fx::new();
    fx.rules.invitation_ttl = Duration::hours(50);
    let d = decide::create_account(&mut fx.ctx(), &root(), new_account(Some("a@exemple.fr")), None, true).unwrap();
    let deadline = NOW + Duration::hours(50);
    assert_eq!(d.change.tokens[0].expires_at, deadline);
    assert_eq!(d.change.mails[0].params.expires_at, Some(deadline));
    assert_eq!(the_insert(&d.change).invitation_expires_at, Some(deadline));
}

#[test]
fn bootstrap_administrator_is_active_platform_administrator_without_actor() {
    let mut fx = Fx::new();
    let mut input = new_account(Some("root@exemple.fr"));
    input.kind = AccountKind::Public; // ignored: the first administrator is a member
    let d = decide::bootstrap_administrator(&mut fx.ctx(), input, hash(9));
    check_decision(&d, NOW, None);
    let record = the_insert(&d.change);
    assert_eq!(record.version, 1);
    assert_eq!(record.kind, AccountKind::Member);
    assert_eq!(record.grants, vec![Grant::platform_administrator()]);
    assert_eq!(record.lifecycle, Lifecycle::Active);
    assert!(record.is_platform_administrator());
    assert_eq!(record.password_hash, Some(hash(9)));
    assert_eq!(record.activated_at, Some(NOW));
    assert_eq!(d.events, [decide::AccountEvent::Activated(record.id)]);
    assert_eq!(d.change.audit.len(), 1);
    assert_eq!(d.change.audit[0].actor, None);
    assert_eq!(d.change.audit[0].action, AuditAction::AccountCreated);
    assert!(d.change.mails.is_empty() && d.change.tokens.is_empty());
}
