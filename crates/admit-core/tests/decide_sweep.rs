//! Every decision on every status: the properties that hold for all of them (versions,
//! stored address, secret-free subjects and audit entries, fresh ids, no mail to an
//! unavailable account), and the refusal messages.

mod support_decide;

use std::collections::HashSet;

use admit_core::decide::{self, Decision, DecisionError, ProfileChange, StatusChange};
use admit_core::{AccountRecord, AccountWrite, Email, ForbiddenReason, StatusEvent, TokenPurpose, token};
use support_decide::*;
use time::Duration;

/// Runs every decision that takes an existing account against `account`, by `actor`.
fn every_decision(
    fx: &mut Fx,
    actor: &AccountRecord,
    account: &AccountRecord,
) -> Vec<(&'static str, Result<Decision, DecisionError>)> {
    let link = token::issue(
        &mut fx.rng,
        account.id,
        TokenPurpose::PasswordReset,
        account.credential_epoch,
        NOW - Duration::minutes(1),
        Duration::hours(1),
    )
    .record;
    let invitation = token::issue(
        &mut fx.rng,
        account.id,
        TokenPurpose::Invitation,
        account.credential_epoch,
        NOW - Duration::minutes(1),
        Duration::hours(1),
    )
    .record;
    let new_email = Email::parse("Someone.Else@exemple.org").unwrap();
    let mut out = vec![
        ("invite", decide::invite(&mut fx.ctx(), actor, account)),
        ("reinvite", decide::reinvite(&mut fx.ctx(), actor, account)),
        ("send_reset", decide::send_reset(&mut fx.ctx(), actor, account)),
        ("request_reset", Ok(decide::request_reset(&mut fx.ctx(), Some(account), "r"))),
        ("complete_reset", decide::complete_link(&mut fx.ctx(), &link, account, hash(50))),
        ("complete_invitation", decide::complete_link(&mut fx.ctx(), &invitation, account, hash(51))),
        ("set_password", decide::set_password(&mut fx.ctx(), actor, account, hash(52), true)),
        ("temporary_password", decide::issue_temporary_password(&mut fx.ctx(), actor, account)),
        ("own_password", decide::change_own_password(&mut fx.ctx(), account, hash(54))),
        ("sign_in", Ok(decide::sign_in(&mut fx.ctx(), account, Some(hash(55))))),
        ("change_email", decide::change_email(&mut fx.ctx(), actor, account, new_email, None)),
        (
            "change_grants",
            decide::change_grants(
                &mut fx.ctx(),
                actor,
                account,
                vec![admit_core::Grant::new(p1(), admit_core::Role::Guest)],
                false,
            ),
        ),
        (
            "profile",
            decide::update_profile(
                &mut fx.ctx(),
                actor,
                account,
                ProfileChange { locale: Some(admit_core::Locale::fr()), ..ProfileChange::default() },
            ),
        ),
        ("purge", decide::purge(&mut fx.ctx(), Some(actor), account)),
    ];
    for what in [StatusChange::Disable, StatusChange::Enable, StatusChange::Trash, StatusChange::Restore] {
        out.push(("status", decide::change_status(&mut fx.ctx(), actor, account, what, false)));
    }
    out
}

#[test]
fn properties_of_every_decision_on_every_status() {
    let mut fx = Fx::new();
    let mut mail_ids = HashSet::new();
    let mut audit_ids = HashSet::new();
    let mut accepted = 0;
    for make in [collaborator, public, two_programs] {
        for state in State::ALL {
            for with_email in [true, false] {
                let account = if with_email { make(state) } else { without_email(make(state)) };
                for (name, result) in every_decision(&mut fx, &root(), &account) {
                    let Ok(d) = result else { continue };
                    accepted += 1;
                    check_decision(&d, NOW, Some(&account));
                    assert!(!d.change.audit.is_empty(), "{name}: every decision is audited");
                    for write in &d.change.accounts {
                        match write {
                            AccountWrite::Update { .. } => {
                                the_update(&d.change, &account, NOW);
                            }
                            AccountWrite::Delete { id, expected_version } => {
                                assert_eq!((*id, *expected_version), (account.id, account.version));
                            }
                            AccountWrite::Insert(_) => panic!("{name} inserted"),
                        }
                    }
                    if !account.is_available() {
                        assert!(d.change.mails.is_empty(), "{name} on {state:?}: no mail to an unavailable account");
                        assert!(d.change.tokens.is_empty(), "{name} on {state:?}: no link for an unavailable account");
                    }
                    for mail in &d.change.mails {
                        assert!(mail_ids.insert(mail.id), "{name}: mail id reused");
                        let stored = if mail.kind == admit_core::MailKind::EmailChanged {
                            account.email.as_ref()
                        } else {
                            d.account.as_ref().and_then(|a| a.email.as_ref())
                        };
                        assert_eq!(Some(&mail.to), stored, "{name}: mail goes to the stored address");
                        assert!(!mail.subject.contains("Tmp-Sweep") && !mail.subject.contains("adm_"), "{name}");
                    }
                    for entry in &d.change.audit {
                        assert!(audit_ids.insert(entry.id), "{name}: audit id reused");
                        assert!(!entry.detail.contains("Tmp-Sweep") && !entry.detail.contains("adm_"), "{name}");
                    }
                    for token in &d.change.tokens {
                        assert_eq!(token.credential_epoch, account.credential_epoch, "{name}");
                    }
                }
            }
        }
    }
    assert!(accepted > 100, "the sweep exercised {accepted} decisions");
}

#[test]
fn disabled_or_trashed_accounts_get_no_link_and_no_mail_from_anyone() {
    for state in [State::Disabled, State::Trashed, State::DisabledTrashed] {
        let mut fx = Fx::new();
        let account = collaborator(state);
        for (name, result) in every_decision(&mut fx, &root(), &account) {
            if let Ok(d) = result {
                assert!(d.change.mails.is_empty() && d.change.tokens.is_empty(), "{name} {state:?}");
                assert!(d.events.iter().all(|e| !matches!(e, decide::AccountEvent::Activated(_))), "{name} {state:?}");
            }
        }
    }
}

#[test]
fn collaborators_and_unavailable_administrators_change_nothing() {
    let inactive_root = in_state(root(), State::Invited);
    let actors = [
        (collaborator_actor(), ForbiddenReason::NotAnAdministrator),
        (in_state(root(), State::Disabled), ForbiddenReason::ActorUnavailable),
        (in_state(root(), State::Trashed), ForbiddenReason::ActorUnavailable),
        (inactive_root, ForbiddenReason::ActorNotActive),
    ];
    for (actor, reason) in actors {
        for state in State::ALL {
            let mut fx = Fx::new();
            let account = collaborator(state);
            for (name, result) in every_decision(&mut fx, &actor, &account) {
                // Self-service paths take no actor.
                if matches!(
                    name,
                    "request_reset" | "complete_reset" | "complete_invitation" | "own_password" | "sign_in"
                ) {
                    continue;
                }
                match result {
                    Err(DecisionError::Forbidden(f)) => assert_eq!(f.reason(), reason, "{name} {state:?}"),
                    // Purge looks at the trash first.
                    Err(DecisionError::NotPurgeable) if name == "purge" => {}
                    other => panic!("{name} {state:?} by {reason:?}: {other:?}"),
                }
            }
        }
    }
}

#[test]
fn refusal_messages_are_lower_case_without_period() {
    let errors = [
        DecisionError::NotInvitedYet,
        DecisionError::NoEmail,
        DecisionError::AccountUnavailable,
        DecisionError::EmailTaken,
        DecisionError::NotPurgeable,
        DecisionError::Status(admit_core::TransitionError {
            from: admit_core::AccountStatus::Active,
            event: StatusEvent::Invite,
        }),
        DecisionError::Forbidden(ForbiddenReason::OutsideScope.into()),
    ];
    for err in errors {
        let text = err.to_string();
        assert!(!text.ends_with('.'), "{text}");
        assert!(!text.chars().any(char::is_uppercase), "{text}");
    }
}

#[test]
fn context_debug_shows_no_generator_state() {
    let mut fx = Fx::new();
    let text = format!("{:?}", fx.ctx());
    assert!(text.contains("now") && !text.contains("rng"), "{text}");
}
