//! `decide::send_reset` (an administrator) and `decide::request_reset` (self-service).

mod support_decide;

use admit_core::decide::{self, Decision, DecisionError};
use admit_core::{AccountRecord, AuditAction, ForbiddenReason, Grant, MailKind, Role, TokenPurpose};
use support_decide::*;
use time::Duration;

/// A reset decision for `account`: one token, one mail, no account write.
fn check_reset_link(fx: &Fx, d: &Decision, account: &AccountRecord) {
    check_decision(d, NOW, Some(account));
    assert!(d.change.accounts.is_empty(), "a reset link changes no account field");
    assert_eq!(d.account.as_ref(), Some(account));
    assert!(d.change.revocations.is_empty() && d.change.consume.is_none());
    assert_eq!(d.change.tokens.len(), 1);
    let token = &d.change.tokens[0];
    assert_eq!(token.account_id, account.id);
    assert_eq!(token.purpose, TokenPurpose::PasswordReset);
    assert_eq!(token.credential_epoch, account.credential_epoch);
    assert_eq!(token.expires_at, NOW + fx.rules.reset_ttl);
    assert_eq!(d.change.mails.len(), 1);
    let mail = &d.change.mails[0];
    assert_eq!(mail.kind, MailKind::PasswordReset);
    assert_eq!(mail.to.as_str(), account.email.as_ref().unwrap().as_str());
    assert_eq!(mail.params.expires_at, Some(NOW + fx.rules.reset_ttl));
    let (_, _, link) = verify_link(mail, &fx.rules.links, token, NOW);
    assert!(link.starts_with("https://app.exemple.fr/espace/reset-password?token="), "{link}");
    assert!(d.events.is_empty());
}

fn reason(result: Result<Decision, DecisionError>) -> ForbiddenReason {
    match result {
        Err(DecisionError::Forbidden(f)) => f.reason(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn send_reset_is_allowed_for_invited_expired_and_active_accounts() {
    for state in [State::Invited, State::InvitationExpired, State::Active] {
        let mut fx = Fx::new();
        let account = collaborator(state);
        let d = decide::send_reset(&mut fx.ctx(), &root(), &account).unwrap();
        check_reset_link(&fx, &d, &account);
        assert_eq!(d.change.audit.len(), 1);
        let audit = &d.change.audit[0];
        assert_eq!(audit.action, AuditAction::PasswordResetSent);
        assert_eq!((audit.actor, audit.target), (Some(root().id), Some(account.id)));
    }
}

#[test]
fn send_reset_refuses_a_never_invited_account() {
    let mut fx = Fx::new();
    let err = decide::send_reset(&mut fx.ctx(), &root(), &collaborator(State::Created)).unwrap_err();
    assert_eq!(err, DecisionError::NotInvitedYet);
}

#[test]
fn send_reset_refuses_disabled_and_trashed_accounts() {
    for state in [State::Disabled, State::Trashed, State::DisabledTrashed] {
        let mut fx = Fx::new();
        let err = decide::send_reset(&mut fx.ctx(), &root(), &collaborator(state)).unwrap_err();
        assert_eq!(err, DecisionError::AccountUnavailable, "{state:?}");
    }
}

#[test]
fn send_reset_refuses_an_account_without_email() {
    for state in [State::Invited, State::Active] {
        let mut fx = Fx::new();
        let err = decide::send_reset(&mut fx.ctx(), &root(), &without_email(collaborator(state))).unwrap_err();
        assert_eq!(err, DecisionError::NoEmail);
    }
}

#[test]
fn program_administrators_reset_their_collaborators_only() {
    let mut fx = Fx::new();
    let account = collaborator(State::Active);
    let d = decide::send_reset(&mut fx.ctx(), &program_admin(), &account).unwrap();
    check_reset_link(&fx, &d, &account);
    assert_eq!(d.change.audit[0].actor, Some(program_admin().id));

    let r = decide::send_reset(&mut fx.ctx(), &program_admin(), &public(State::Active));
    assert_eq!(reason(r), ForbiddenReason::PublicAccountOutsidePlatform);
    let r = decide::send_reset(&mut fx.ctx(), &program_admin(), &two_programs(State::Active));
    assert_eq!(reason(r), ForbiddenReason::OutsideScope);
    let r = decide::send_reset(&mut fx.ctx(), &program_admin(), &root());
    assert_eq!(reason(r), ForbiddenReason::OutsideScope);
    let r = decide::send_reset(&mut fx.ctx(), &collaborator_actor(), &collaborator(State::Active));
    assert_eq!(reason(r), ForbiddenReason::NotAnAdministrator);
    // Authorization comes first: a forbidden actor does not learn the account's status.
    let r = decide::send_reset(&mut fx.ctx(), &program_admin(), &public(State::Created));
    assert_eq!(reason(r), ForbiddenReason::PublicAccountOutsidePlatform);

    // The platform administrator resets public accounts too.
    let public = public(State::Active);
    let d = decide::send_reset(&mut fx.ctx(), &root(), &public).unwrap();
    check_reset_link(&fx, &d, &public);
}

#[test]
fn client_file_administrator_resets_accounts_of_its_client_file() {
    let mut fx = Fx::new();
    let actor = active(4, vec![Grant::new(c1(), Role::Administrator), Grant::new(p1(), Role::Collaborator)]);
    let in_c1 = in_state(active(40, vec![Grant::new(c1(), Role::Guest)]), State::Active);
    decide::send_reset(&mut fx.ctx(), &actor, &in_c1).unwrap();
    // Collaborator in p1 is not administrator there.
    let r = decide::send_reset(&mut fx.ctx(), &actor, &collaborator(State::Active));
    assert_eq!(reason(r), ForbiddenReason::OutsideScope);
}

#[test]
fn reset_lifetime_follows_the_rules() {
    let mut fx = Fx::new();
    fx.rules.reset_ttl = Duration::minutes(20);
    let account = collaborator(State::Active);
    let d = decide::send_reset(&mut fx.ctx(), &root(), &account).unwrap();
    check_reset_link(&fx, &d, &account);
    assert_eq!(d.change.tokens[0].expires_at, NOW + Duration::minutes(20));
}

#[test]
fn request_reset_for_an_eligible_account_mails_a_link_to_the_stored_address() {
    for state in [State::Invited, State::InvitationExpired, State::Active] {
        let mut fx = Fx::new();
        let account = collaborator(state);
        let d = decide::request_reset(&mut fx.ctx(), Some(&account), "req:4f2a");
        check_reset_link(&fx, &d, &account);
        assert_eq!(d.change.audit.len(), 1);
        let audit = &d.change.audit[0];
        assert_eq!(audit.action, AuditAction::PasswordResetRequested);
        assert_eq!(audit.actor, None);
        assert_eq!(audit.target, Some(account.id));
        assert!(audit.detail.contains("req:4f2a"), "{}", audit.detail);
        // The address typed by the requester plays no part: the stored one, as typed at
        // creation, is used.
        assert_eq!(d.change.mails[0].to.as_str(), "Jeanne.Martin10@exemple.fr");
    }
}

#[test]
fn request_reset_for_ineligible_accounts_writes_only_the_same_audit_entry() {
    let cases: Vec<(&str, Option<AccountRecord>)> = vec![
        ("unknown", None),
        ("never invited", Some(collaborator(State::Created))),
        ("disabled", Some(collaborator(State::Disabled))),
        ("trashed", Some(collaborator(State::Trashed))),
        ("disabled and trashed", Some(collaborator(State::DisabledTrashed))),
        ("no email", Some(without_email(collaborator(State::Active)))),
    ];
    for (case, account) in cases {
        let mut fx = Fx::new();
        let d = decide::request_reset(&mut fx.ctx(), account.as_ref(), "req:4f2a");
        check_decision(&d, NOW, account.as_ref());
        assert!(d.change.mails.is_empty(), "{case}");
        assert!(d.change.tokens.is_empty(), "{case}");
        assert!(d.change.accounts.is_empty() && d.change.revocations.is_empty(), "{case}");
        assert!(d.change.consume.is_none(), "{case}");
        assert_eq!(d.account, None, "{case}: the caller learns nothing");
        assert!(d.events.is_empty());
        assert_eq!(d.change.audit.len(), 1, "{case}");
        let audit = &d.change.audit[0];
        assert_eq!(audit.action, AuditAction::PasswordResetRequested, "{case}");
        assert_eq!(audit.actor, None);
        assert_eq!(audit.target, None, "{case}: the audit entry does not reveal the account");
        assert!(audit.detail.contains("req:4f2a"));
    }
}
