//! `atomicity_*`: a refused commit leaves nothing of itself behind.

use std::sync::Arc;

use time::Duration;

use admit_core::{
    AccountRecord, AuditAction, ChangeSet, Clock, FullName, MailKind, RevokeReason, TestClock, TokenPurpose,
    TokenRecord, TokenRevocation,
};

use super::fixtures::{Fixtures, append_audit, enqueue_mails, insert_accounts, insert_tokens, update, write_accounts};
use super::support::{commit_ok, ok, refused, stored_account};
use super::tokens::consumption;
use crate::query::{AuditQuery, MailQuery};
use crate::{ConflictKind, Store, StoreError};

/// What a store holds, to compare before and after a refused commit.
#[derive(Debug, PartialEq)]
struct Snapshot {
    accounts: Vec<AccountRecord>,
    tokens: Vec<TokenRecord>,
    mails: Vec<admit_core::MailRecord>,
    audit: Vec<admit_core::AuditRecord>,
    administrators: u64,
}

async fn snapshot(store: &Arc<dyn Store>, accounts: &[&AccountRecord], clock: &TestClock) -> Snapshot {
    let mut snapshot = Snapshot {
        accounts: Vec::new(),
        tokens: Vec::new(),
        mails: ok(store.journal(&MailQuery { limit: 1000, ..MailQuery::default() }).await, "journal reads").items,
        audit: ok(store.audit(&AuditQuery { limit: 1000, ..AuditQuery::default() }).await, "audit reads").items,
        administrators: ok(store.count_platform_administrators().await, "count reads"),
    };
    let mut query = crate::query::AccountQuery::new(clock.now());
    query.limit = 1000;
    snapshot.accounts = ok(store.list_accounts(&query).await, "list reads").items;
    for account in accounts {
        snapshot.tokens.extend(ok(store.tokens_of(account.id).await, "tokens_of reads"));
    }
    snapshot
}

struct World {
    fx: Fixtures,
    admin: AccountRecord,
    jeanne: AccountRecord,
    paul: AccountRecord,
    jeanne_reset: TokenRecord,
    jeanne_invitation: TokenRecord,
}

/// A platform administrator, two accounts, two live tokens of jeanne, a mail and an audit entry.
async fn world(store: &Arc<dyn Store>, clock: &TestClock, seed: u64) -> World {
    let mut fx = Fixtures::new(seed);
    let now = clock.now();
    let admin = fx.platform_administrator("admin@exemple.fr", now);
    let jeanne = fx.account("jeanne@exemple.fr", now);
    let paul = fx.account("paul@exemple.fr", now);
    let jeanne_reset = fx.token(&jeanne, TokenPurpose::PasswordReset, now, Duration::hours(1));
    let jeanne_invitation = fx.token(&jeanne, TokenPurpose::Invitation, now, Duration::days(7));
    let mut change = insert_accounts([admin.clone(), jeanne.clone(), paul.clone()]);
    change.merge(insert_tokens([jeanne_reset.clone(), jeanne_invitation.clone()]));
    change.merge(enqueue_mails([fx.mail(&jeanne, MailKind::Invitation, now)]));
    change.merge(append_audit([fx.audit(Some(admin.id), AuditAction::AccountCreated, Some(jeanne.id), now)]));
    commit_ok(store, change, "the starting state is written").await;
    clock.advance(Duration::minutes(1));
    World { fx, admin, jeanne, paul, jeanne_reset, jeanne_invitation }
}

/// Every kind of part, all valid on their own: an update of paul, a revocation of jeanne's
/// links, a new token, a new account, a mail, an audit entry.
fn busy_change(w: &mut World, clock: &TestClock) -> ChangeSet {
    let now = clock.now();
    let newcomer = w.fx.account("nouveau@exemple.fr", now);
    let mut change = write_accounts([
        update(&w.paul, now, |a| a.full_name = FullName::parse("Paul Changé").unwrap()),
        admit_core::AccountWrite::Insert(newcomer.clone()),
    ]);
    change.revocations.push(TokenRevocation {
        account_id: w.jeanne.id,
        purpose: None,
        reason: RevokeReason::AccountDisabled,
        at: now,
    });
    change.tokens.push(w.fx.token(&w.paul, TokenPurpose::Invitation, now, Duration::days(7)));
    change.tokens.push(w.fx.token(&newcomer, TokenPurpose::Invitation, now, Duration::days(7)));
    change.mails.push(w.fx.mail(&w.paul, MailKind::Invitation, now));
    change.audit.push(w.fx.audit(Some(w.admin.id), AuditAction::InvitationSent, Some(w.paul.id), now));
    change
}

async fn assert_nothing_applied(store: &Arc<dyn Store>, w: &World, clock: &TestClock, before: &Snapshot, what: &str) {
    let after = snapshot(store, &[&w.admin, &w.jeanne, &w.paul], clock).await;
    assert_eq!(
        &after, before,
        "contract: a commit refused for {what} writes nothing: no account change, token, revocation, \
         consumption, mail or audit entry"
    );
    let newcomer =
        ok(store.account_by_email(admit_core::Email::parse("nouveau@exemple.fr").unwrap().key()).await, "reads");
    assert_eq!(newcomer, None, "contract: a commit refused for {what} inserts no account");
}

/// A stale version anywhere in the change refuses all of it.
pub async fn atomicity_stale_version_leaves_nothing(store: Arc<dyn Store>, clock: TestClock) {
    let mut w = world(&store, &clock, 601).await;
    let before = snapshot(&store, &[&w.admin, &w.jeanne, &w.paul], &clock).await;
    let mut change = busy_change(&mut w, &clock);
    change.consume = Some(consumption(&w.jeanne_reset, clock.now()));
    let mut stale = w.jeanne.clone();
    stale.version = 9;
    change.accounts.push(update(&stale, clock.now(), |a| a.must_change_password = true));
    let error = refused(store.commit(change).await, "a change with a stale update fails");
    assert!(
        matches!(error, StoreError::StaleVersion { account } if account == w.jeanne.id),
        "contract: StaleVersion; got {error:?}"
    );
    assert_nothing_applied(&store, &w, &clock, &before, "a stale version").await;
}

/// An unavailable token refuses the whole change.
pub async fn atomicity_token_unavailable_leaves_nothing(store: Arc<dyn Store>, clock: TestClock) {
    let mut w = world(&store, &clock, 602).await;
    let mut wrong = consumption(&w.jeanne_reset, clock.now());
    wrong.account_id = w.paul.id;
    let before = snapshot(&store, &[&w.admin, &w.jeanne, &w.paul], &clock).await;
    let mut change = busy_change(&mut w, &clock);
    change.consume = Some(wrong);
    let error = refused(store.commit(change).await, "a change consuming an unavailable token fails");
    assert!(matches!(error, StoreError::TokenUnavailable), "contract: TokenUnavailable; got {error:?}");
    assert_nothing_applied(&store, &w, &clock, &before, "an unavailable token").await;

    commit_ok(&store, super::tokens::consume(&w.jeanne_reset, clock.now()), "the token is used").await;
    let before = snapshot(&store, &[&w.admin, &w.jeanne, &w.paul], &clock).await;
    let mut change = busy_change(&mut w, &clock);
    change.consume = Some(consumption(&w.jeanne_reset, clock.now()));
    let error = refused(store.commit(change).await, "a change consuming a used token fails");
    assert!(matches!(error, StoreError::TokenUnavailable), "contract: TokenUnavailable; got {error:?}");
    assert_nothing_applied(&store, &w, &clock, &before, "a used token").await;
}

/// An email conflict on the second of two inserts refuses the first too.
pub async fn atomicity_email_conflict_on_second_insert_leaves_nothing(store: Arc<dyn Store>, clock: TestClock) {
    let mut w = world(&store, &clock, 603).await;
    let before = snapshot(&store, &[&w.admin, &w.jeanne, &w.paul], &clock).await;
    let mut change = busy_change(&mut w, &clock);
    let twin = w.fx.account("PAUL@exemple.fr", clock.now());
    change.accounts.push(admit_core::AccountWrite::Insert(twin));
    let error = refused(store.commit(change).await, "a change whose second insert conflicts fails");
    assert!(
        matches!(error, StoreError::Conflict { what: ConflictKind::Email }),
        "contract: Conflict {{ Email }}; got {error:?}"
    );
    assert_nothing_applied(&store, &w, &clock, &before, "an email conflict").await;

    // Two inserts of the same new address in one change: the second conflicts with the first.
    let one = w.fx.account("double@exemple.fr", clock.now());
    let two = w.fx.account("Double@exemple.fr", clock.now());
    let error = refused(store.commit(insert_accounts([one.clone(), two])).await, "two inserts of one address fail");
    assert!(
        matches!(error, StoreError::Conflict { what: ConflictKind::Email }),
        "contract: Conflict {{ Email }}; got {error:?}"
    );
    assert_eq!(
        ok(store.account(one.id).await, "reads"),
        None,
        "contract: the first of two conflicting inserts is not kept"
    );
}

/// A change that would leave no available platform administrator is refused whole, and
/// only when it asks for the check.
pub async fn atomicity_last_platform_administrator_leaves_nothing(store: Arc<dyn Store>, clock: TestClock) {
    let mut w = world(&store, &clock, 604).await;
    let before = snapshot(&store, &[&w.admin, &w.jeanne, &w.paul], &clock).await;
    let now = clock.now();
    let mut change = busy_change(&mut w, &clock);
    change.consume = Some(consumption(&w.jeanne_reset, now));
    change.accounts.push(update(&w.admin, now, |a| a.disabled_at = Some(now)));
    change.require_platform_administrator = true;
    let error = refused(store.commit(change.clone()).await, "disabling the last platform administrator fails");
    assert!(
        matches!(error, StoreError::LastPlatformAdministrator),
        "contract: LastPlatformAdministrator; got {error:?}"
    );
    assert_nothing_applied(&store, &w, &clock, &before, "the last platform administrator").await;

    let trash = write_accounts([update(&w.admin, now, |a| a.trashed_at = Some(now))]);
    let mut trash = trash;
    trash.require_platform_administrator = true;
    let error = refused(store.commit(trash).await, "trashing the last platform administrator fails");
    assert!(
        matches!(error, StoreError::LastPlatformAdministrator),
        "contract: LastPlatformAdministrator; got {error:?}"
    );
    let delete = admit_core::AccountWrite::Delete { id: w.admin.id, expected_version: w.admin.version };
    let mut delete = write_accounts([delete]);
    delete.require_platform_administrator = true;
    let error = refused(store.commit(delete).await, "deleting the last platform administrator fails");
    assert!(
        matches!(error, StoreError::LastPlatformAdministrator),
        "contract: LastPlatformAdministrator; got {error:?}"
    );
    assert_eq!(
        stored_account(&store, w.admin.id, "kept").await,
        w.admin,
        "contract: refused changes leave the administrator"
    );

    // With another platform administrator (inserted in the same change), the same change applies.
    let second = w.fx.platform_administrator("admin2@exemple.fr", now);
    let mut allowed = change;
    allowed.accounts.push(admit_core::AccountWrite::Insert(second));
    commit_ok(&store, allowed, "a change leaving another platform administrator applies").await;
    assert_eq!(ok(store.count_platform_administrators().await, "reads"), 1, "the new administrator remains");
    let used = ok(store.token(&w.jeanne_reset.selector).await, "reads").expect("kept");
    assert_eq!(used.consumed_at, Some(now), "contract: the accepted change consumed its token");
}

/// A duplicate mail id, audit id or token selector refuses the whole change.
pub async fn atomicity_duplicate_ids_leave_nothing(store: Arc<dyn Store>, clock: TestClock) {
    let mut w = world(&store, &clock, 605).await;
    let existing_mail = ok(store.journal(&MailQuery::default()).await, "reads").items[0].clone();
    let existing_audit = ok(store.audit(&AuditQuery::default()).await, "reads").items[0].clone();
    let before = snapshot(&store, &[&w.admin, &w.jeanne, &w.paul], &clock).await;
    let cases: [(&str, ConflictKind); 3] =
        [("mail", ConflictKind::MailId), ("audit", ConflictKind::AuditId), ("token", ConflictKind::TokenSelector)];
    for (what, kind) in cases {
        let mut change = busy_change(&mut w, &clock);
        change.consume = Some(consumption(&w.jeanne_reset, clock.now()));
        match kind {
            ConflictKind::MailId => {
                let mut dup = w.fx.mail(&w.jeanne, MailKind::PasswordReset, clock.now());
                dup.id = existing_mail.id;
                change.mails.push(dup);
            }
            ConflictKind::AuditId => {
                let mut dup = w.fx.audit(None, AuditAction::SignedIn, None, clock.now());
                dup.id = existing_audit.id;
                change.audit.push(dup);
            }
            _ => {
                let mut dup = w.fx.token(&w.paul, TokenPurpose::PasswordReset, clock.now(), Duration::hours(1));
                dup.selector = w.jeanne_invitation.selector;
                change.tokens.push(dup);
            }
        }
        let error = refused(store.commit(change).await, "a change with a duplicate id fails");
        assert!(
            matches!(error, StoreError::Conflict { what } if what == kind),
            "contract: a duplicate {what} id is Conflict {{ {kind:?} }}; got {error:?}"
        );
        assert_nothing_applied(&store, &w, &clock, &before, &format!("a duplicate {what} id")).await;
    }
}

/// The parts apply in the documented order: the consumption checks the account as stored
/// before the change's own writes; revocations come before token inserts; an account and
/// its first token can be inserted together.
pub async fn atomicity_parts_apply_in_documented_order(store: Arc<dyn Store>, clock: TestClock) {
    let mut w = world(&store, &clock, 606).await;
    let now = clock.now();
    // Complete a reset: consume the epoch-0 token while moving the account to epoch 1, and
    // revoke every other link, then issue a new invitation in the same change.
    let mut change = write_accounts([update(&w.jeanne, now, |a| a.credential_epoch = a.credential_epoch.next())]);
    change.consume = Some(consumption(&w.jeanne_reset, now));
    change.revocations.push(TokenRevocation {
        account_id: w.jeanne.id,
        purpose: None,
        reason: RevokeReason::PasswordChanged,
        at: now,
    });
    let mut moved = w.jeanne.clone();
    moved.credential_epoch = moved.credential_epoch.next();
    let fresh = w.fx.token(&moved, TokenPurpose::Invitation, now, Duration::days(7));
    change.tokens.push(fresh.clone());
    commit_ok(&store, change, "a consumption is checked against the stored account before the change's writes").await;
    let reset = ok(store.token(&w.jeanne_reset.selector).await, "reads").expect("kept");
    assert_eq!(
        (reset.consumed_at, reset.revoked_at),
        (Some(now), None),
        "contract: the consumed token is consumed, not revoked"
    );
    let old = ok(store.token(&w.jeanne_invitation.selector).await, "reads").expect("kept");
    assert_eq!(
        (old.revoked_at, old.revoked_reason),
        (Some(now), Some(RevokeReason::PasswordChanged)),
        "contract: revocations apply before token inserts (the old link says PasswordChanged, not Replaced)"
    );
    assert_eq!(
        ok(store.token(&fresh.selector).await, "reads"),
        Some(fresh),
        "contract: a token inserted after a revocation in the same change stays live"
    );

    let newcomer = w.fx.account("nouveau@exemple.fr", now);
    let token = w.fx.token(&newcomer, TokenPurpose::Invitation, now, Duration::days(7));
    let mut change = insert_accounts([newcomer.clone()]);
    change.tokens.push(token.clone());
    commit_ok(&store, change, "an account and its first token insert together").await;
    assert_eq!(
        ok(store.tokens_of(newcomer.id).await, "reads"),
        vec![token],
        "contract: the token of a new account is kept"
    );
}
