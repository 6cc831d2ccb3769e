//! `purge_*`: retention.

use std::sync::Arc;

use time::Duration;

use admit_core::{AuditAction, ChangeSet, Clock, MailKind, RevokeReason, TestClock, TokenPurpose, TokenRevocation};

use super::fixtures::{Fixtures, append_audit, enqueue_mails, insert_accounts, insert_tokens};
use super::support::{commit_ok, ok};
use super::tokens::consume;
use crate::query::{AuditQuery, MailQuery};
use crate::{PurgeReport, Store};

/// Purge removes token records whose `expires_at` is before the cutoff (used, revoked or
/// not) and rate-limit windows that ended before it; nothing else.
pub async fn purge_removes_old_tokens_and_windows_only(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(801);
    let start = clock.now();
    let jeanne = fx.account("jeanne@exemple.fr", start);
    let paul = fx.account("paul@exemple.fr", start);
    let mut change = insert_accounts([jeanne.clone(), paul.clone()]);
    change.merge(enqueue_mails([fx.mail(&jeanne, MailKind::PasswordReset, start)]));
    change.merge(append_audit([fx.audit(None, AuditAction::AccountCreated, Some(jeanne.id), start)]));
    commit_ok(&store, change, "the starting state is written").await;

    // Three tokens expiring at start + 1 h: one used, one revoked, one left alone.
    let used = fx.token(&jeanne, TokenPurpose::PasswordReset, start, Duration::hours(1));
    let revoked = fx.token(&jeanne, TokenPurpose::Invitation, start, Duration::hours(1));
    let idle = fx.token(&paul, TokenPurpose::PasswordReset, start, Duration::hours(1));
    commit_ok(&store, insert_tokens([used.clone(), revoked.clone(), idle.clone()]), "token inserts apply").await;
    commit_ok(&store, consume(&used, start), "a token is used").await;
    let revocation = TokenRevocation {
        account_id: jeanne.id,
        purpose: Some(TokenPurpose::Invitation),
        reason: RevokeReason::EmailChanged,
        at: start,
    };
    commit_ok(&store, ChangeSet { revocations: vec![revocation], ..ChangeSet::default() }, "a revocation applies")
        .await;
    // One token expiring exactly at the cutoff, one after it.
    let cutoff = start + Duration::days(1);
    clock.set(cutoff - Duration::hours(1));
    let at_cutoff = fx.token(&paul, TokenPurpose::Invitation, clock.now(), Duration::hours(1));
    let later = fx.token(&jeanne, TokenPurpose::PasswordReset, clock.now(), Duration::hours(2));
    commit_ok(&store, insert_tokens([at_cutoff.clone(), later.clone()]), "token inserts apply").await;

    // Rate-limit windows: one ended long before the cutoff, one ending exactly at it, one current.
    let window = Duration::hours(1);
    ok(store.hit_rate_limit("old", 5, window, start).await, "hits count");
    ok(store.hit_rate_limit("edge", 5, window, cutoff - Duration::minutes(1)).await, "hits count");
    let current = ok(store.hit_rate_limit("current", 5, window, cutoff).await, "hits count");

    let mails_before = ok(store.journal(&MailQuery::default()).await, "reads").items;
    let audit_before = ok(store.audit(&AuditQuery::default()).await, "reads").items;
    let jeanne_before = ok(store.account(jeanne.id).await, "reads");
    let report = ok(store.purge(cutoff).await, "purge works");
    assert_eq!(
        report,
        PurgeReport { tokens: 3, rate_limits: 1 },
        "contract: purge removes tokens with expires_at before the cutoff (used, revoked or not) and windows \
         that ended before it, and reports the counts"
    );
    for gone in [&used, &revoked, &idle] {
        assert_eq!(
            ok(store.token(&gone.selector).await, "reads"),
            None,
            "contract: a token expired before the cutoff is purged"
        );
    }
    assert_eq!(
        ok(store.token(&at_cutoff.selector).await, "reads"),
        Some(at_cutoff),
        "contract: a token expiring at the cutoff is kept"
    );
    assert_eq!(ok(store.token(&later.selector).await, "reads"), Some(later.clone()), "contract: a later token is kept");
    assert_eq!(ok(store.tokens_of(jeanne.id).await, "reads"), vec![later], "contract: tokens_of forgets purged tokens");
    assert_eq!(
        ok(store.journal(&MailQuery::default()).await, "reads").items,
        mails_before,
        "contract: purge keeps mails"
    );
    assert_eq!(
        ok(store.audit(&AuditQuery::default()).await, "reads").items,
        audit_before,
        "contract: purge keeps the audit log"
    );
    assert_eq!(ok(store.account(jeanne.id).await, "reads"), jeanne_before, "contract: purge keeps accounts");

    let edge = ok(store.hit_rate_limit("edge", 5, window, cutoff - Duration::minutes(1)).await, "hits count");
    assert_eq!(edge.count, 2, "contract: a window ending exactly at the cutoff is kept");
    let again = ok(store.hit_rate_limit("current", 5, window, cutoff).await, "hits count");
    assert_eq!(again.count, current.count + 1, "contract: the current window is kept");
    let old = ok(store.hit_rate_limit("old", 5, window, start).await, "hits count");
    assert_eq!(old.count, 1, "contract: a window that ended before the cutoff is purged (its count starts over)");
    assert_eq!(ok(store.purge(cutoff).await, "purge works").tokens, 0, "contract: a second purge finds no old token");
}
