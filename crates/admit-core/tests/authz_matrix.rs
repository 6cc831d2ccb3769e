//! The authorization policy, checked cell by cell against an independent reference oracle
//! over every actor × action × target of a small universe (platform, two programmes, two
//! client files; three roles).
//!
//! The oracle works on bit masks of the 15 (scope, role) grants of the universe and
//! evaluates an explicit decision table; it shares no code with `admit_core::authz`.

mod support;

use std::collections::BTreeMap;

use admit_core::authz::{Action, Forbidden, ForbiddenReason, Target};
use admit_core::{AccountKind, Grant, authz};
use support::{Availability, account, all_grants};

// ---------------------------------------------------------------------------------------------
// The oracle. Grant `i` of the universe is bit `i`: scope `i / 3`, role `i % 3`
// (0 guest, 1 collaborator, 2 administrator). Scope 0 is the platform.

const PLATFORM: usize = 0;
const ADMIN: usize = 2;
const SCOPES: usize = 5;

fn bit(scope: usize, role: usize) -> u16 {
    1 << (scope * 3 + role)
}

/// The strongest role the mask holds where `scope` applies (the platform applies everywhere),
/// as 0..=2, or `None`.
fn held(mask: u16, scope: usize) -> Option<usize> {
    (0..3).rev().find(|&role| mask & bit(scope, role) != 0 || mask & bit(PLATFORM, role) != 0)
}

fn administers(mask: u16, scope: usize) -> bool {
    held(mask, scope) == Some(ADMIN)
}

fn is_platform_admin(mask: u16) -> bool {
    mask & bit(PLATFORM, ADMIN) != 0
}

fn is_any_admin(mask: u16) -> bool {
    (0..SCOPES).any(|s| mask & bit(s, ADMIN) != 0)
}

/// Facts the decision table looks at.
struct Facts {
    available: bool,
    active: bool,
    any_admin: bool,
    platform_admin: bool,
    target_public: bool,
    target_empty: bool,
    target_all_administered: bool,
    last_platform_admin: bool,
    action_removes_access: bool,
}

type Row = (fn(&Facts) -> bool, Option<ForbiddenReason>);

/// The decision table of `authorize`: the first row whose condition holds gives the answer
/// (`None`: allowed).
const AUTHORIZE_TABLE: [Row; 8] = [
    (|f| !f.available, Some(ForbiddenReason::ActorUnavailable)),
    (|f| !f.active, Some(ForbiddenReason::ActorNotActive)),
    (|f| !f.any_admin, Some(ForbiddenReason::NotAnAdministrator)),
    (|f| !f.platform_admin && f.target_public, Some(ForbiddenReason::PublicAccountOutsidePlatform)),
    (|f| !f.platform_admin && f.target_empty, Some(ForbiddenReason::NoGrants)),
    (|f| !f.platform_admin && !f.target_all_administered, Some(ForbiddenReason::OutsideScope)),
    (|f| f.last_platform_admin && f.action_removes_access, Some(ForbiddenReason::LastPlatformAdministrator)),
    (|_| true, None),
];

fn availability_facts(state: Availability) -> (bool, bool) {
    use Availability::*;
    let available = matches!(state, Active | Created | Invited);
    let active = matches!(state, Active | Disabled | Trashed | DisabledAndTrashed);
    (available, active)
}

fn expected_authorize(
    actor: u16,
    state: Availability,
    action: Action,
    kind: AccountKind,
    target: u16,
    last: bool,
) -> Option<ForbiddenReason> {
    let (available, active) = availability_facts(state);
    let facts = Facts {
        available,
        active,
        any_admin: is_any_admin(actor),
        platform_admin: is_platform_admin(actor),
        target_public: kind == AccountKind::Public,
        target_empty: target == 0,
        target_all_administered: (0..15).filter(|i| target & (1 << i) != 0).all(|i| administers(actor, i / 3)),
        last_platform_admin: last,
        action_removes_access: matches!(action, Action::Disable | Action::Trash | Action::Purge),
    };
    AUTHORIZE_TABLE.iter().find(|(condition, _)| condition(&facts)).and_then(|(_, answer)| *answer)
}

/// The answer for giving the grants `sequence` (grant indices, in order) to an account of `kind`.
fn expected_grants(actor: u16, state: Availability, kind: AccountKind, sequence: &[usize]) -> Option<ForbiddenReason> {
    let (available, active) = availability_facts(state);
    let before_grants = [
        (!available, ForbiddenReason::ActorUnavailable),
        (!active, ForbiddenReason::ActorNotActive),
        (!is_any_admin(actor), ForbiddenReason::NotAnAdministrator),
        (sequence.is_empty(), ForbiddenReason::NoGrants),
    ];
    if let Some((_, reason)) = before_grants.iter().find(|(fails, _)| *fails) {
        return Some(*reason);
    }
    if is_platform_admin(actor) {
        return None;
    }
    if kind == AccountKind::Public {
        return Some(ForbiddenReason::PublicAccountOutsidePlatform);
    }
    for &g in sequence {
        let (scope, role) = (g / 3, g % 3);
        match held(actor, scope) {
            Some(ADMIN) => {}
            Some(own) if role > own => return Some(ForbiddenReason::RoleAboveOwn),
            _ => return Some(ForbiddenReason::OutsideScope),
        }
    }
    None
}

fn expected_grant_change(
    actor: u16,
    state: Availability,
    kind: AccountKind,
    target: u16,
    last: bool,
    sequence: &[usize],
) -> Option<ForbiddenReason> {
    expected_authorize(actor, state, Action::ChangeGrants, kind, target, last)
        .or_else(|| expected_grants(actor, state, kind, sequence))
        .or_else(|| {
            (last && !sequence.contains(&(PLATFORM * 3 + ADMIN))).then_some(ForbiddenReason::LastPlatformAdministrator)
        })
}

fn expected_global(actor: u16, state: Availability, action: Action) -> Option<ForbiddenReason> {
    let (available, active) = availability_facts(state);
    let reads = [Action::ReadAccount, Action::ReadJournal, Action::ReadAudit];
    if !reads.contains(&action) {
        Some(ForbiddenReason::NeedsTarget)
    } else if !available {
        Some(ForbiddenReason::ActorUnavailable)
    } else if !active {
        Some(ForbiddenReason::ActorNotActive)
    } else if !is_platform_admin(actor) {
        Some(ForbiddenReason::NotPlatformAdministrator)
    } else {
        None
    }
}

// ---------------------------------------------------------------------------------------------
// The generated dimensions.

/// The empty set, every single grant and every pair: 1 + 15 + 105 masks.
fn grant_sets() -> Vec<u16> {
    let mut sets = vec![0u16];
    sets.extend((0..15).map(|i| 1u16 << i));
    for i in 0..15 {
        for j in (i + 1)..15 {
            sets.push((1 << i) | (1 << j));
        }
    }
    sets
}

fn grants_of(mask: u16) -> Vec<Grant> {
    let all = all_grants();
    (0..15).filter(|i| mask & (1 << i) != 0).map(|i| all[i].clone()).collect()
}

/// Targets: every kind × grant set, and the last-administrator flag on the sets that hold the
/// platform administrator grant (the only ones the store can flag).
fn targets() -> Vec<(AccountKind, u16, bool)> {
    let mut out = Vec::new();
    for kind in AccountKind::ALL {
        for mask in grant_sets() {
            out.push((kind, mask, false));
            if is_platform_admin(mask) {
                out.push((kind, mask, true));
            }
        }
    }
    out
}

fn reason(result: Result<(), Forbidden>) -> Option<ForbiddenReason> {
    result.err().map(Forbidden::reason)
}

struct Tally {
    cells: usize,
    answers: BTreeMap<String, usize>,
}

impl Tally {
    fn new() -> Self {
        Tally { cells: 0, answers: BTreeMap::new() }
    }
    fn record(&mut self, answer: Option<ForbiddenReason>) {
        self.cells += 1;
        *self.answers.entry(format!("{answer:?}")).or_default() += 1;
    }
    fn assert_covers(&self, expected: &[Option<ForbiddenReason>]) {
        for answer in expected {
            assert!(
                self.answers.contains_key(&format!("{answer:?}")),
                "matrix never produced {answer:?}: {:?}",
                self.answers
            );
        }
    }
}

#[test]
fn authorize_matches_the_oracle_on_every_cell() {
    let sets = grant_sets();
    let targets = targets();
    let target_grants: Vec<Vec<Grant>> = targets.iter().map(|(_, mask, _)| grants_of(*mask)).collect();
    let mut tally = Tally::new();
    for (n, &actor_mask) in sets.iter().enumerate() {
        for state in Availability::ALL {
            let actor = account(n as u32, AccountKind::Member, grants_of(actor_mask), state);
            for action in Action::ALL {
                for ((kind, target_mask, last), grants) in targets.iter().zip(&target_grants) {
                    let got = reason(authz::authorize(&actor, action, &Target::new(*kind, grants, *last)));
                    let want = expected_authorize(actor_mask, state, action, *kind, *target_mask, *last);
                    assert_eq!(
                        got, want,
                        "actor {:?} ({state:?}) {action} on {kind:?} {grants:?} last={last}",
                        actor.grants
                    );
                    tally.record(got);
                }
            }
        }
    }
    println!("authorize: {} cells, answers {:?}", tally.cells, tally.answers);
    assert_eq!(tally.cells, sets.len() * Availability::ALL.len() * Action::ALL.len() * targets.len());
    assert_eq!(tally.cells, 121 * 7 * 17 * 272);
    tally.assert_covers(&[
        None,
        Some(ForbiddenReason::ActorUnavailable),
        Some(ForbiddenReason::ActorNotActive),
        Some(ForbiddenReason::NotAnAdministrator),
        Some(ForbiddenReason::PublicAccountOutsidePlatform),
        Some(ForbiddenReason::NoGrants),
        Some(ForbiddenReason::OutsideScope),
        Some(ForbiddenReason::LastPlatformAdministrator),
    ]);
}

/// Every grant sequence of length 0 to 2, both orders of every pair (the first failing grant
/// gives the reason).
fn grant_sequences() -> Vec<Vec<usize>> {
    let mut out = vec![vec![]];
    out.extend((0..15).map(|i| vec![i]));
    for i in 0..15 {
        for j in 0..15 {
            if i != j {
                out.push(vec![i, j]);
            }
        }
    }
    out
}

#[test]
fn authorize_grants_matches_the_oracle_on_every_cell() {
    let all = all_grants();
    let sequences = grant_sequences();
    let proposed: Vec<Vec<Grant>> = sequences.iter().map(|s| s.iter().map(|&i| all[i].clone()).collect()).collect();
    let mut tally = Tally::new();
    for (n, &actor_mask) in grant_sets().iter().enumerate() {
        for state in Availability::ALL {
            let actor = account(n as u32, AccountKind::Member, grants_of(actor_mask), state);
            for kind in AccountKind::ALL {
                for (sequence, grants) in sequences.iter().zip(&proposed) {
                    let got = reason(authz::authorize_grants(&actor, kind, grants));
                    let want = expected_grants(actor_mask, state, kind, sequence);
                    assert_eq!(got, want, "actor {:?} ({state:?}) gives {grants:?} to {kind:?}", actor.grants);
                    tally.record(got);
                }
            }
        }
    }
    println!("authorize_grants: {} cells, answers {:?}", tally.cells, tally.answers);
    assert_eq!(tally.cells, 121 * 7 * 2 * (1 + 15 + 15 * 14));
    tally.assert_covers(&[
        None,
        Some(ForbiddenReason::ActorUnavailable),
        Some(ForbiddenReason::ActorNotActive),
        Some(ForbiddenReason::NotAnAdministrator),
        Some(ForbiddenReason::NoGrants),
        Some(ForbiddenReason::PublicAccountOutsidePlatform),
        Some(ForbiddenReason::RoleAboveOwn),
        Some(ForbiddenReason::OutsideScope),
    ]);
}

#[test]
fn authorize_grant_change_matches_the_oracle_on_every_cell() {
    let all = all_grants();
    // New grant sets: none, each single grant, and each pair that keeps (or adds) the platform
    // administrator grant, in both orders.
    let pa = PLATFORM * 3 + ADMIN;
    let mut sequences: Vec<Vec<usize>> = vec![vec![]];
    sequences.extend((0..15).map(|i| vec![i]));
    for i in (0..15).filter(|&i| i != pa) {
        sequences.push(vec![pa, i]);
        sequences.push(vec![i, pa]);
    }
    let proposed: Vec<Vec<Grant>> = sequences.iter().map(|s| s.iter().map(|&i| all[i].clone()).collect()).collect();
    let targets = targets();
    let target_grants: Vec<Vec<Grant>> = targets.iter().map(|(_, mask, _)| grants_of(*mask)).collect();
    let states = [Availability::Active, Availability::Disabled, Availability::Invited];
    let mut tally = Tally::new();
    for (n, &actor_mask) in grant_sets().iter().enumerate() {
        for state in states {
            let actor = account(n as u32, AccountKind::Member, grants_of(actor_mask), state);
            for ((kind, target_mask, last), current) in targets.iter().zip(&target_grants) {
                let target = Target::new(*kind, current, *last);
                for (sequence, grants) in sequences.iter().zip(&proposed) {
                    let got = reason(authz::authorize_grant_change(&actor, &target, grants));
                    let want = expected_grant_change(actor_mask, state, *kind, *target_mask, *last, sequence);
                    assert_eq!(
                        got, want,
                        "actor {:?} ({state:?}) changes {kind:?} {current:?} (last={last}) to {grants:?}",
                        actor.grants
                    );
                    tally.record(got);
                }
            }
        }
    }
    println!("authorize_grant_change: {} cells, answers {:?}", tally.cells, tally.answers);
    assert_eq!(tally.cells, 121 * 3 * 272 * (1 + 15 + 28));
    tally.assert_covers(&[
        None,
        Some(ForbiddenReason::OutsideScope),
        Some(ForbiddenReason::RoleAboveOwn),
        Some(ForbiddenReason::LastPlatformAdministrator),
        Some(ForbiddenReason::NoGrants),
    ]);
}

#[test]
fn authorize_global_matches_the_oracle_on_every_cell() {
    let mut tally = Tally::new();
    for (n, &actor_mask) in grant_sets().iter().enumerate() {
        for state in Availability::ALL {
            let actor = account(n as u32, AccountKind::Member, grants_of(actor_mask), state);
            for action in Action::ALL {
                let got = reason(authz::authorize_global(&actor, action));
                assert_eq!(got, expected_global(actor_mask, state, action), "{:?} ({state:?}) {action}", actor.grants);
                tally.record(got);
            }
        }
    }
    println!("authorize_global: {} cells, answers {:?}", tally.cells, tally.answers);
    assert_eq!(tally.cells, 121 * 7 * 17);
    tally.assert_covers(&[
        None,
        Some(ForbiddenReason::NeedsTarget),
        Some(ForbiddenReason::ActorUnavailable),
        Some(ForbiddenReason::ActorNotActive),
        Some(ForbiddenReason::NotPlatformAdministrator),
    ]);
}

#[test]
fn target_of_a_stored_account_flags_the_last_acting_platform_administrator() {
    let root = account(1, AccountKind::Member, vec![Grant::platform_administrator()], Availability::Active);
    assert!(Target::account(&root, 1).is_last_platform_administrator);
    assert!(!Target::account(&root, 2).is_last_platform_administrator);
    let member = account(2, AccountKind::Member, grants_of(bit(1, ADMIN)), Availability::Active);
    assert!(!Target::account(&member, 1).is_last_platform_administrator);
    // Only a platform administrator who can act keeps the platform reachable: neither a disabled
    // or trashed one nor one who never set a password counts.
    for state in Availability::ALL {
        let admin = account(3, AccountKind::Member, vec![Grant::platform_administrator()], state);
        let acts = state == Availability::Active;
        assert_eq!(authz::is_acting_platform_administrator(&admin), acts, "{state:?}");
        assert_eq!(Target::account(&admin, 1).is_last_platform_administrator, acts, "{state:?}");
        assert!(!Target::account(&admin, 2).is_last_platform_administrator, "{state:?}");
    }
    let collaborator = account(4, AccountKind::Member, grants_of(bit(PLATFORM, 1)), Availability::Active);
    assert!(!authz::is_acting_platform_administrator(&collaborator));
    let target = Target::account(&root, 1);
    assert_eq!((target.kind, target.grants), (AccountKind::Member, &root.grants[..]));
}

#[test]
fn every_administrative_action_on_the_last_platform_administrator() {
    // Only disable, trash and purge (and removing the grant) are refused; the rest is allowed.
    let root = account(1, AccountKind::Member, vec![Grant::platform_administrator()], Availability::Active);
    let target = Target::account(&root, 1);
    let refused: Vec<Action> =
        Action::ALL.into_iter().filter(|a| authz::authorize(&root, *a, &target).is_err()).collect();
    assert_eq!(refused, [Action::Disable, Action::Trash, Action::Purge]);
}
