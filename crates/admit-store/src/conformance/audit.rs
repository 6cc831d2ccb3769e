//! `audit_*`: the audit log.

use std::collections::BTreeSet;
use std::sync::Arc;

use time::Duration;

use admit_core::{AuditAction, AuditRecord, Clock, TestClock};

use super::fixtures::{Fixtures, append_audit};
use super::support::{commit_ok, ok};
use crate::query::AuditQuery;
use crate::{AuditId, Store};

async fn audit_all(store: &Arc<dyn Store>, mut query: AuditQuery) -> Vec<AuditRecord> {
    let mut out = Vec::new();
    for _ in 0..10_000 {
        let page = ok(store.audit(&query).await, "audit reads");
        out.extend(page.items);
        match page.next {
            Some(next) => query.after = Some(next),
            None => return out,
        }
    }
    panic!("contract: audit paging ends");
}

/// Entries appended by commits read back whole.
pub async fn audit_append_and_read_back(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(501);
    let admin = fx.account_id(clock.now());
    let target = fx.account_id(clock.now());
    let mut first = fx.audit(Some(admin), AuditAction::GrantsChanged, Some(target), clock.now());
    first.detail = "role=administrator scope=program:p1 « ok »".to_owned();
    clock.advance(Duration::milliseconds(3));
    let anonymous = fx.audit(None, AuditAction::PasswordResetRequested, None, clock.now());
    commit_ok(&store, append_audit([first.clone()]), "an audit append applies").await;
    commit_ok(&store, append_audit([anonymous.clone()]), "an audit append applies").await;
    let all = audit_all(&store, AuditQuery::default()).await;
    assert_eq!(
        all,
        vec![anonymous, first],
        "contract: entries read back whole (detail, no actor or target), newest first"
    );
}

/// Filters: actor, target, action, since (inclusive), until (exclusive).
pub async fn audit_filters(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(502);
    let start = clock.now();
    let admin = fx.account_id(start);
    let other_admin = fx.account_id(start);
    let jeanne = fx.account_id(start);
    let paul = fx.account_id(start);
    let a = fx.audit(Some(admin), AuditAction::AccountCreated, Some(jeanne), start);
    clock.advance(Duration::hours(1));
    let b = fx.audit(Some(admin), AuditAction::InvitationSent, Some(jeanne), clock.now());
    clock.advance(Duration::hours(1));
    let mid = clock.now();
    let c = fx.audit(Some(other_admin), AuditAction::AccountDisabled, Some(paul), mid);
    let d = fx.audit(Some(jeanne), AuditAction::InvitationAccepted, Some(jeanne), mid);
    clock.advance(Duration::hours(1));
    let e = fx.audit(None, AuditAction::PasswordResetRequested, None, clock.now());
    commit_ok(&store, append_audit([a.clone(), b.clone(), c.clone(), d.clone(), e.clone()]), "appends apply").await;

    let cases: Vec<(AuditQuery, Vec<&AuditRecord>, &str)> = vec![
        (AuditQuery { actor: Some(admin), ..AuditQuery::default() }, vec![&a, &b], "actor"),
        (AuditQuery { target: Some(jeanne), ..AuditQuery::default() }, vec![&a, &b, &d], "target"),
        (AuditQuery { action: Some(AuditAction::AccountDisabled), ..AuditQuery::default() }, vec![&c], "action"),
        (AuditQuery { since: Some(mid), ..AuditQuery::default() }, vec![&c, &d, &e], "since is inclusive"),
        (AuditQuery { until: Some(mid), ..AuditQuery::default() }, vec![&a, &b], "until is exclusive"),
        (
            AuditQuery {
                since: Some(start + Duration::microseconds(1)),
                until: Some(mid + Duration::microseconds(1)),
                ..AuditQuery::default()
            },
            vec![&b, &c, &d],
            "since and until together",
        ),
        (
            AuditQuery {
                actor: Some(admin),
                target: Some(jeanne),
                action: Some(AuditAction::InvitationSent),
                ..AuditQuery::default()
            },
            vec![&b],
            "filters combine",
        ),
        (AuditQuery { actor: Some(paul), ..AuditQuery::default() }, vec![], "no match"),
    ];
    for (query, expected, what) in cases {
        let got: BTreeSet<AuditId> = audit_all(&store, query.clone()).await.into_iter().map(|e| e.id).collect();
        let expected: BTreeSet<AuditId> = expected.iter().map(|e| e.id).collect();
        assert_eq!(got, expected, "contract: audit filter: {what} ({query:?})");
    }
}

/// The audit log pages newest first (descending id), every entry once.
pub async fn audit_pages_newest_first(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(503);
    let actor = fx.account_id(clock.now());
    let mut entries = Vec::new();
    for i in 0..17 {
        let action = AuditAction::ALL[i % AuditAction::ALL.len()];
        entries.push(fx.audit(Some(actor), action, None, clock.now()));
        if i % 4 != 0 {
            clock.advance(Duration::milliseconds(1));
        }
    }
    commit_ok(&store, append_audit(entries.clone()), "appends apply").await;
    let mut expected: Vec<AuditId> = entries.iter().map(|e| e.id).collect();
    expected.sort();
    expected.reverse();
    let mut query = AuditQuery { limit: 4, ..AuditQuery::default() };
    let mut seen = Vec::new();
    for _ in 0..20 {
        let page = ok(store.audit(&query).await, "audit reads");
        if page.items.len() == 4 {
            assert_eq!(page.next, page.items.last().map(|e| e.id), "contract: a full page's next is its last id");
        } else {
            assert_eq!(page.next, None, "contract: a short page is the last one");
        }
        seen.extend(page.items.iter().map(|e| e.id));
        match page.next {
            Some(next) => query.after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, expected, "contract: audit pages list every entry once, newest (greatest id) first");
}
