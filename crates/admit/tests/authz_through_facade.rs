//! Authorization through the facade on a real store (issue 9): the core policy
//! (`admit_core::authz`) is the oracle, and every (actor, target, action) cell of a reduced
//! matrix is re-run through `Admit`. Actors: an active member for each single grant over
//! {platform, programme p1, programme p2, client file c1} × {administrator, collaborator,
//! guest}. Targets: each kind × each of the same 12 grants, in status `Invited`. A refused
//! cell must answer `Forbidden` with the oracle's reason, change nothing in the store and
//! send no mail; an allowed cell (on a fresh target, past the re-send limit) must succeed.

mod support;

use std::collections::BTreeMap;

use admit::core::authz::{self, Action, Forbidden, ForbiddenReason, Target};
use admit::store::{AuditQuery, MailQuery};
use admit::{
    AccountKind, AdmitError, ClientFileId, CreateAccount, Grant, Invite, ProfileChange, Role, Scope, StatusChange,
};
use admit_core::{AccountId, AccountRecord, AccountStatus, AuditAction, AuditRecord, FullName};
use support::{NowTs, World, password, program};

/// The 12 (scope, role) grants of the reduced universe.
fn universe() -> Vec<Grant> {
    let scopes = [Scope::Platform, program("p1"), program("p2"), Scope::ClientFile(ClientFileId::parse("c1").unwrap())];
    let roles = [Role::Administrator, Role::Collaborator, Role::Guest];
    scopes.iter().flat_map(|s| roles.iter().map(|r| Grant::new(s.clone(), *r))).collect()
}

/// The administrative calls exercised, each mapped to the policy's action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    Reinvite,
    SendReset,
    SetPassword,
    TemporaryPassword,
    ChangeGrants,
    ChangeEmail,
    UpdateProfile,
    Disable,
    View,
}

impl Call {
    const ALL: [Call; 9] = [
        Call::Reinvite,
        Call::SendReset,
        Call::SetPassword,
        Call::TemporaryPassword,
        Call::ChangeGrants,
        Call::ChangeEmail,
        Call::UpdateProfile,
        Call::Disable,
        Call::View,
    ];

    fn action(self) -> Action {
        match self {
            Call::Reinvite => Action::Reinvite,
            Call::SendReset => Action::SendReset,
            Call::SetPassword => Action::SetPassword,
            Call::TemporaryPassword => Action::IssueTemporaryPassword,
            Call::ChangeGrants => Action::ChangeGrants,
            Call::ChangeEmail => Action::ChangeEmail,
            Call::UpdateProfile => Action::ChangeProfile,
            Call::Disable => Action::Disable,
            Call::View => Action::ReadAccount,
        }
    }

    /// The oracle's answer for this call by `actor` on a target of `kind` holding `grants`.
    fn expected(self, actor: &AccountRecord, kind: AccountKind, grants: &[Grant]) -> Option<ForbiddenReason> {
        let target = Target::new(kind, grants, false);
        let answer = match self {
            // The new grants are the target's own: the grant change adds the checks on them.
            Call::ChangeGrants => authz::authorize_grant_change(actor, &target, grants),
            other => authz::authorize(actor, other.action(), &target),
        };
        answer.err().map(Forbidden::reason)
    }
}

async fn call(
    w: &World,
    what: Call,
    actor: AccountId,
    target: AccountId,
    grants: &[Grant],
    n: usize,
) -> Result<(), AdmitError> {
    let a = &w.admit;
    match what {
        Call::Reinvite => a.reinvite(actor, target).await.map(drop),
        Call::SendReset => a.send_password_reset(actor, target).await,
        Call::SetPassword => {
            let pw = "copper lantern beside quiet harbour 7";
            a.set_password(actor, target, password(pw), password(pw), true).await.map(drop)
        }
        Call::TemporaryPassword => a.issue_temporary_password(actor, target).await,
        Call::ChangeGrants => a.change_grants(actor, target, grants.to_vec()).await.map(drop),
        Call::ChangeEmail => a.change_email(actor, target, &format!("moved.{n}@example.org")).await.map(drop),
        Call::UpdateProfile => {
            let change = ProfileChange {
                full_name: Some(FullName::parse("Renamed Person").unwrap()),
                ..ProfileChange::default()
            };
            a.update_profile(actor, target, change).await.map(drop)
        }
        Call::Disable => a.change_status(actor, target, StatusChange::Disable).await.map(drop),
        Call::View => a.account_view(actor, target).await.map(drop),
    }
}

/// A fresh invited target of `kind` holding `grant`, its invitation mail delivered.
async fn fresh_target(w: &World, kind: AccountKind, grant: &Grant, n: usize) -> AccountId {
    let mut row = CreateAccount::member(&format!("target.{n}@example.org"), &format!("Target {n}"), grant.clone());
    row.kind = kind;
    let id = w.admit.create_account(w.admin, row, Invite::Now).await.unwrap().id;
    assert_eq!(w.deliver().await.len(), 1, "the invitation of target {n}");
    id
}

/// What a refused call could touch, cheaply: the target and its links, the actor, and the
/// journal and audit entries about either.
async fn around(w: &World, actor: AccountId, target: AccountId) -> String {
    let s = &w.store;
    let mails = |id| MailQuery { account_id: Some(id), limit: 1000, ..MailQuery::default() };
    let by = AuditQuery { actor: Some(actor), limit: 1000, ..AuditQuery::default() };
    let on = AuditQuery { target: Some(target), limit: 1000, ..AuditQuery::default() };
    format!(
        "{:?}{:?}{:?}{:?}{:?}{:?}{:?}",
        s.account(target).await.unwrap(),
        s.tokens_of(target).await.unwrap(),
        s.account(actor).await.unwrap(),
        s.journal(&mails(target)).await.unwrap().items,
        s.journal(&mails(actor)).await.unwrap().items,
        without_refusals(s.audit(&by).await.unwrap().items),
        without_refusals(s.audit(&on).await.unwrap().items),
    )
}

/// Audit entries other than the refusals' own (checked by `refusals_recorded`).
fn without_refusals(items: Vec<AuditRecord>) -> Vec<AuditRecord> {
    items.into_iter().filter(|a| a.action != AuditAction::CallRefused).collect()
}

/// The `call_refused` entries `actor` has about `target`, newest first.
async fn refusals_recorded(w: &World, actor: AccountId, target: AccountId) -> Vec<AuditRecord> {
    let by = AuditQuery { actor: Some(actor), limit: 1000, ..AuditQuery::default() };
    let items = w.store.audit(&by).await.unwrap().items;
    items.into_iter().filter(|a| a.action == AuditAction::CallRefused && a.target == Some(target)).collect()
}

async fn run_matrix(w: World) {
    let grants = universe();
    // The actors: one active member per single grant.
    let mut actors = Vec::new();
    for (i, grant) in grants.iter().enumerate() {
        let email = format!("actor.{i}@example.org");
        let id =
            w.active_member(&email, &format!("Actor {i}"), grant.clone(), "amber falcon over silent dunes 9").await;
        actors.push(id);
    }
    let mut records = Vec::new();
    for id in &actors {
        let record = w.store.account(*id).await.unwrap().unwrap();
        assert_eq!(record.status(w.clock.now_ts()), AccountStatus::Active);
        records.push(record);
    }

    let mut n = 0;
    let (mut cells, mut refused, mut allowed) = (0usize, 0usize, 0usize);
    let mut answers: BTreeMap<String, usize> = BTreeMap::new();
    for kind in [AccountKind::Member, AccountKind::Public] {
        for grant in &grants {
            let shape = std::slice::from_ref(grant);
            let mut target = fresh_target(&w, kind, grant, n).await;
            n += 1;
            for what in Call::ALL {
                let expected: Vec<Option<ForbiddenReason>> =
                    records.iter().map(|actor| what.expected(actor, kind, shape)).collect();
                // Refused cells first, all on the same target, the whole store compared
                // around the batch and the neighbourhood of the call around each cell.
                let whole_before = w.dump().await;
                for (actor, want) in actors.iter().zip(&expected) {
                    let Some(reason) = want else { continue };
                    let status = w.store.account(target).await.unwrap().unwrap().status(w.clock.now_ts());
                    assert_eq!(status, AccountStatus::Invited, "target {kind:?} {grant:?}");
                    let before = around(&w, *actor, target).await;
                    let refusals_before = refusals_recorded(&w, *actor, target).await.len();
                    let got = call(&w, what, *actor, target, shape, n).await;
                    n += 1;
                    match got {
                        Err(AdmitError::Forbidden(f)) => {
                            assert_eq!(f.reason(), *reason, "{what:?} by {actor:?} on {kind:?} {grant:?}")
                        }
                        other => panic!("{what:?} by {actor:?} on {kind:?} {grant:?}: {other:?}, expected {reason:?}"),
                    }
                    assert!(w.deliver().await.is_empty(), "{what:?} refused but sent a mail");
                    assert_eq!(around(&w, *actor, target).await, before, "{what:?} refused but changed something");
                    // ASVS 16.3.2: the refusal itself is in the audit log, committed on its own.
                    let refusals = refusals_recorded(&w, *actor, target).await;
                    assert_eq!(refusals.len(), refusals_before + 1, "{what:?} refused without an audit entry");
                    assert!(
                        refusals[0].detail.ends_with(&format!("reason={}", reason.as_str())),
                        "{what:?}: {}",
                        refusals[0].detail
                    );
                    cells += 1;
                    refused += 1;
                    *answers.entry(format!("{reason:?}")).or_default() += 1;
                }
                assert_eq!(
                    w.dump().await,
                    whole_before,
                    "{what:?} on {kind:?} {grant:?}: refused calls changed the store"
                );
                // Allowed cells, each on a fresh target (the call may change it).
                for (actor, want) in actors.iter().zip(&expected) {
                    if want.is_some() {
                        continue;
                    }
                    let got = call(&w, what, *actor, target, shape, n).await;
                    n += 1;
                    if let Err(AdmitError::Forbidden(f)) = &got {
                        panic!(
                            "{what:?} by {actor:?} on {kind:?} {grant:?}: forbidden ({:?}), the policy allows it",
                            f.reason()
                        );
                    }
                    // Fresh target, clock moved past the re-send limit: nothing else refuses it.
                    assert!(got.is_ok(), "{what:?} by {actor:?} on {kind:?} {grant:?}: {got:?}");
                    w.deliver().await;
                    w.clock.advance(time::Duration::minutes(2));
                    cells += 1;
                    allowed += 1;
                    *answers.entry("allowed".to_owned()).or_default() += 1;
                    target = fresh_target(&w, kind, grant, n).await;
                    n += 1;
                }
            }
        }
    }
    println!("authz through the facade: {cells} cells ({refused} refused, {allowed} allowed), answers {answers:?}");
    assert_eq!(cells, 12 * 2 * 12 * Call::ALL.len());
    assert!(cells >= 2_000);
    for reason in [
        ForbiddenReason::NotAnAdministrator,
        ForbiddenReason::PublicAccountOutsidePlatform,
        ForbiddenReason::OutsideScope,
    ] {
        assert!(answers.contains_key(&format!("{reason:?}")), "never refused with {reason:?}: {answers:?}");
    }
    assert!(allowed > 0 && refused > allowed);
}

on_every_store! {
    async fn no_forbidden_call_changes_anything_or_sends_a_mail(w: World) {
        run_matrix(w).await;
    }
}
