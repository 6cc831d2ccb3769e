//! `decide::change_grants` and `decide::update_profile`.

mod support_decide;

use admit_core::decide::{self, Decision, DecisionError, ProfileChange};
use admit_core::{AuditAction, ForbiddenReason, FullName, Grant, Labels, Locale, Phone, Role};
use support_decide::*;

fn reason(result: Result<Decision, DecisionError>) -> ForbiddenReason {
    match result {
        Err(DecisionError::Forbidden(f)) => f.reason(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn grants_are_replaced_and_audited() {
    let mut fx = Fx::new();
    let before = collaborator(State::Active);
    let grants = vec![Grant::new(p1(), Role::Administrator), Grant::new(p2(), Role::Guest)];
    let d = decide::change_grants(&mut fx.ctx(), &root(), &before, grants.clone(), false).unwrap();
    check_decision(&d, NOW, Some(&before));
    let after = the_update(&d.change, &before, NOW);
    assert_eq!(after.grants, grants);
    assert_eq!(d.account.as_ref(), Some(after));
    assert_eq!(after.lifecycle, before.lifecycle);
    assert_eq!(after.credential_epoch, before.credential_epoch);
    assert!(d.change.mails.is_empty() && d.change.tokens.is_empty() && d.change.revocations.is_empty());
    assert!(!d.change.require_platform_administrator, "a collaborator was no platform administrator");
    assert_eq!(d.change.audit.len(), 1);
    let audit = &d.change.audit[0];
    assert_eq!(audit.action, AuditAction::GrantsChanged);
    assert_eq!((audit.actor, audit.target), (Some(root().id), Some(before.id)));
    assert!(audit.detail.contains("collaborator@program:p1"), "{}", audit.detail);
    assert!(audit.detail.contains("administrator@program:p1"), "{}", audit.detail);
}

#[test]
fn program_administrator_grants_within_its_program_only() {
    let mut fx = Fx::new();
    let before = collaborator(State::Active);
    let ok = vec![Grant::new(p1(), Role::Administrator)];
    decide::change_grants(&mut fx.ctx(), &program_admin(), &before, ok, false).unwrap();

    let cases = [
        (before.clone(), vec![Grant::new(p2(), Role::Guest)], ForbiddenReason::OutsideScope),
        (before.clone(), vec![Grant::platform_administrator()], ForbiddenReason::OutsideScope),
        (before.clone(), vec![], ForbiddenReason::NoGrants),
        (two_programs(State::Active), vec![Grant::new(p1(), Role::Guest)], ForbiddenReason::OutsideScope),
        (public(State::Active), vec![Grant::new(p1(), Role::Guest)], ForbiddenReason::PublicAccountOutsidePlatform),
    ];
    for (target, grants, expected) in cases {
        let r = decide::change_grants(&mut fx.ctx(), &program_admin(), &target, grants.clone(), false);
        assert_eq!(reason(r), expected, "{grants:?}");
    }
    // Nobody raises their own grants.
    let r = decide::change_grants(
        &mut fx.ctx(),
        &program_admin(),
        &program_admin(),
        vec![Grant::platform_administrator()],
        false,
    );
    assert_eq!(reason(r), ForbiddenReason::OutsideScope);
    let r = decide::change_grants(
        &mut fx.ctx(),
        &collaborator_actor(),
        &before,
        vec![Grant::new(p1(), Role::Guest)],
        false,
    );
    assert_eq!(reason(r), ForbiddenReason::NotAnAdministrator);
}

#[test]
fn the_last_platform_administrator_keeps_the_grant() {
    let mut fx = Fx::new();
    let last = root();
    let demoted = vec![Grant::new(p1(), Role::Administrator)];
    let r = decide::change_grants(&mut fx.ctx(), &root(), &last, demoted.clone(), true);
    assert_eq!(reason(r), ForbiddenReason::LastPlatformAdministrator);
    // Adding grants to it is fine, and the store re-checks at commit.
    let more = vec![Grant::platform_administrator(), Grant::new(p1(), Role::Guest)];
    let d = decide::change_grants(&mut fx.ctx(), &root(), &last, more, true).unwrap();
    assert!(d.change.require_platform_administrator);
    // With another acting platform administrator it may be demoted; the store still checks.
    let d = decide::change_grants(&mut fx.ctx(), &root(), &last, demoted, false).unwrap();
    assert!(d.change.require_platform_administrator);
    assert_eq!(the_update(&d.change, &last, NOW).grants, vec![Grant::new(p1(), Role::Administrator)]);
}

#[test]
fn require_platform_administrator_only_for_acting_platform_administrators() {
    let mut fx = Fx::new();
    let other_admin = active(5, vec![Grant::platform_administrator()]);
    let d = decide::change_grants(&mut fx.ctx(), &root(), &other_admin, vec![Grant::new(p1(), Role::Guest)], false)
        .unwrap();
    assert!(d.change.require_platform_administrator);
    // Promoting someone needs no check.
    let d = decide::change_grants(
        &mut fx.ctx(),
        &root(),
        &collaborator(State::Active),
        vec![Grant::platform_administrator()],
        false,
    )
    .unwrap();
    assert!(!d.change.require_platform_administrator);
    // An invited (not acting) platform administrator losing the grant needs none either.
    let invited_admin = in_state(active(6, vec![Grant::platform_administrator()]), State::Invited);
    let d = decide::change_grants(&mut fx.ctx(), &root(), &invited_admin, vec![Grant::new(p1(), Role::Guest)], false)
        .unwrap();
    assert!(!d.change.require_platform_administrator);
}

#[test]
fn profile_changes_only_what_is_given() {
    let mut fx = Fx::new();
    let before = collaborator(State::Active);
    let mut labels = Labels::new();
    labels.insert("contact_for", "facturation").unwrap();
    let change = ProfileChange {
        full_name: Some(FullName::parse("Jeanne Dupont").unwrap()),
        phone: Some(Some(Phone::parse("+33612345678").unwrap())),
        locale: None,
        labels: Some(labels.clone()),
    };
    let d = decide::update_profile(&mut fx.ctx(), &root(), &before, change).unwrap();
    check_decision(&d, NOW, Some(&before));
    let after = the_update(&d.change, &before, NOW);
    assert_eq!(after.full_name.as_str(), "Jeanne Dupont");
    assert_eq!(after.phone.as_ref().unwrap().as_str(), "+33612345678");
    assert_eq!(after.locale, Locale::en());
    assert_eq!(after.labels, labels);
    assert_eq!(after.email, before.email);
    assert_eq!(after.grants, before.grants);
    assert_eq!(d.change.audit[0].action, AuditAction::ProfileChanged);
    assert_eq!(d.change.audit[0].detail, "full_name,phone,labels");
    assert!(d.change.mails.is_empty() && d.change.revocations.is_empty());

    let r = decide::update_profile(&mut fx.ctx(), &program_admin(), &public(State::Active), ProfileChange::default());
    assert_eq!(reason(r), ForbiddenReason::PublicAccountOutsidePlatform);
}
