//! No escalation: whatever sequence of allowed actions an administrator performs, it never
//! gains power over an account it could not act on at the start, never raises its own grants,
//! never gives a grant above its own, and never leaves the platform without an available
//! administrator.

mod support;

use std::cell::Cell;

use admit_core::authz::{self, Action, Target};
use admit_core::{AccountKind, AccountRecord, Grant, Lifecycle, Role, StatusEvent};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use support::{Availability, T0, account, all_grants, universe};

#[derive(Debug, Clone)]
enum Op {
    Create { kind: AccountKind, grants: Vec<usize> },
    ChangeGrants { who: usize, grants: Vec<usize> },
    Status { who: usize, event: StatusEvent },
}

fn grant_indices(min: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0..15usize, min..=3)
}

fn kind() -> impl Strategy<Value = AccountKind> {
    prop::sample::select(AccountKind::ALL.to_vec())
}

fn op() -> impl Strategy<Value = Op> {
    let events = vec![StatusEvent::Disable, StatusEvent::Enable, StatusEvent::Trash, StatusEvent::Restore];
    prop_oneof![
        (kind(), grant_indices(0)).prop_map(|(kind, grants)| Op::Create { kind, grants }),
        (any::<usize>(), grant_indices(0)).prop_map(|(who, grants)| Op::ChangeGrants { who, grants }),
        (any::<usize>(), prop::sample::select(events)).prop_map(|(who, event)| Op::Status { who, event }),
    ]
}

/// The actor: an administrator somewhere (grant `3 * scope + 2`), plus up to two other grants.
fn actor_grants() -> impl Strategy<Value = Vec<usize>> {
    (0..5usize, prop::collection::vec(0..15usize, 0..=2)).prop_map(|(scope, mut extra)| {
        extra.insert(0, scope * 3 + 2);
        extra
    })
}

fn others() -> impl Strategy<Value = Vec<(AccountKind, Vec<usize>, Availability)>> {
    let availability = prop::sample::select(vec![
        Availability::Active,
        Availability::Invited,
        Availability::Disabled,
        Availability::Trashed,
    ]);
    prop::collection::vec((kind(), grant_indices(1), availability), 1..=6)
}

fn to_grants(indices: &[usize]) -> Vec<Grant> {
    let all = all_grants();
    let mut grants: Vec<Grant> = indices.iter().map(|&i| all[i].clone()).collect();
    grants.dedup();
    grants
}

fn acting_platform_administrators(world: &[AccountRecord]) -> usize {
    world.iter().filter(|a| authz::is_acting_platform_administrator(a)).count()
}

fn event_action(event: StatusEvent) -> Action {
    match event {
        StatusEvent::Disable => Action::Disable,
        StatusEvent::Enable => Action::Enable,
        StatusEvent::Trash => Action::Trash,
        StatusEvent::Restore => Action::Restore,
        other => unreachable!("not generated: {other:?}"),
    }
}

fn apply_event(account: &mut AccountRecord, event: StatusEvent) {
    match event {
        StatusEvent::Disable => account.disabled_at = Some(T0),
        StatusEvent::Enable => {
            account.disabled_at = None;
            // Disabling revoked the invitation link; enabling does not bring it back.
            if account.lifecycle == Lifecycle::Invited {
                account.lifecycle = Lifecycle::Created;
                account.invitation_expires_at = None;
            }
        }
        StatusEvent::Trash => account.trashed_at = Some(T0),
        StatusEvent::Restore => account.trashed_at = None,
        other => unreachable!("not generated: {other:?}"),
    }
}

struct Counters {
    applied: Cell<usize>,
    refused: Cell<usize>,
    self_changes: Cell<usize>,
}

fn run_case(
    actor_grants: &[usize],
    others: &[(AccountKind, Vec<usize>, Availability)],
    ops: &[Op],
    counters: &Counters,
) -> Result<(), TestCaseError> {
    let actor_start = account(0, AccountKind::Member, to_grants(actor_grants), Availability::Active);
    let mut world = vec![actor_start.clone()];
    for (n, (kind, grants, availability)) in others.iter().enumerate() {
        world.push(account(n as u32 + 1, *kind, to_grants(grants), *availability));
    }
    let initial_count = world.len();
    let could_act: Vec<bool> = {
        let admins = acting_platform_administrators(&world);
        world
            .iter()
            .map(|a| authz::authorize(&actor_start, Action::ChangeProfile, &Target::account(a, admins)).is_ok())
            .collect()
    };
    let had_platform_admin = acting_platform_administrators(&world) > 0;
    let own_role_at_start = |grant: &Grant| actor_start.role_in(&grant.scope);

    for op in ops {
        let actor = world[0].clone();
        let admins = acting_platform_administrators(&world);
        match op {
            Op::Create { kind, grants } => {
                let grants = to_grants(grants);
                if authz::authorize_grants(&actor, *kind, &grants).is_ok() {
                    for grant in &grants {
                        prop_assert!(Some(grant.role) <= own_role_at_start(grant), "gave {grant:?} above own role");
                    }
                    let n = world.len() as u32;
                    world.push(account(n, *kind, grants, Availability::Created));
                    counters.applied.set(counters.applied.get() + 1);
                } else {
                    counters.refused.set(counters.refused.get() + 1);
                }
            }
            Op::ChangeGrants { who, grants } => {
                let who = who % world.len();
                let grants = to_grants(grants);
                let target = Target::account(&world[who], admins);
                if authz::authorize_grant_change(&actor, &target, &grants).is_ok() {
                    for grant in &grants {
                        prop_assert!(Some(grant.role) <= own_role_at_start(grant), "gave {grant:?} above own role");
                    }
                    if who == 0 {
                        // Changing its own grants never raises the actor's role anywhere.
                        for scope in universe() {
                            let before = world[0].role_in(&scope);
                            let after = grants.iter().filter(|g| g.scope.contains(&scope)).map(|g| g.role).max();
                            prop_assert!(after <= before, "own role in {scope} rose from {before:?} to {after:?}");
                        }
                        counters.self_changes.set(counters.self_changes.get() + 1);
                    }
                    world[who].grants = grants;
                    counters.applied.set(counters.applied.get() + 1);
                } else {
                    counters.refused.set(counters.refused.get() + 1);
                }
            }
            Op::Status { who, event } => {
                let who = who % world.len();
                let target = Target::account(&world[who], admins);
                let allowed = authz::authorize(&actor, event_action(*event), &target).is_ok()
                    && world[who].status(T0).check(*event).is_ok();
                if allowed {
                    apply_event(&mut world[who], *event);
                    counters.applied.set(counters.applied.get() + 1);
                } else {
                    counters.refused.set(counters.refused.get() + 1);
                }
            }
        }

        // After every step:
        let actor = &world[0];
        for scope in universe() {
            prop_assert!(
                actor.role_in(&scope) <= actor_start.role_in(&scope),
                "actor's role in {scope} rose to {:?}",
                actor.role_in(&scope)
            );
        }
        let admins = acting_platform_administrators(&world);
        for (index, could) in could_act.iter().enumerate().take(initial_count) {
            let can = authz::authorize(actor, Action::ChangeProfile, &Target::account(&world[index], admins)).is_ok();
            prop_assert!(*could || !can, "actor gained power over initial account {index}: {:?}", world[index]);
        }
        if had_platform_admin {
            prop_assert!(admins > 0, "no available platform administrator is left");
        }
        for account in &world {
            prop_assert!(!account.grants.iter().any(|g| g.role > Role::Administrator));
        }
    }
    Ok(())
}

#[test]
fn no_sequence_of_allowed_actions_escalates() {
    let counters = Counters { applied: Cell::new(0), refused: Cell::new(0), self_changes: Cell::new(0) };
    let mut runner = TestRunner::new(Config { cases: 1_000, source_file: Some(file!()), ..Config::default() });
    let strategy = (actor_grants(), others(), prop::collection::vec(op(), 1..40));
    runner.run(&strategy, |(actor_grants, others, ops)| run_case(&actor_grants, &others, &ops, &counters)).unwrap();
    println!(
        "applied {} actions, refused {}, {} self grant changes",
        counters.applied.get(),
        counters.refused.get(),
        counters.self_changes.get()
    );
    // The property must have been exercised, not vacuously satisfied by refusing everything.
    assert!(counters.applied.get() > 1_000, "too few allowed actions: {}", counters.applied.get());
    assert!(counters.refused.get() > 1_000, "too few refused actions: {}", counters.refused.get());
    assert!(counters.self_changes.get() > 10, "too few self grant changes: {}", counters.self_changes.get());
}

#[test]
fn a_program_administrator_cannot_widen_its_own_reach() {
    // Deterministic walk-through of the property: the administrator of p1 changes its own
    // grants; every attempt to reach beyond p1 is refused.
    let all = all_grants();
    let admin_p1 = all[3 + 2].clone();
    let me = account(0, AccountKind::Member, vec![admin_p1.clone()], Availability::Active);
    let own = Target::account(&me, 1);
    for grant in &all {
        let proposed = vec![admin_p1.clone(), grant.clone()];
        let allowed = authz::authorize_grant_change(&me, &own, &proposed).is_ok();
        assert_eq!(allowed, grant.scope == admin_p1.scope, "{grant:?}");
    }
}
