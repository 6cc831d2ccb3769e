//! `accounts_*`: account writes through `commit`, reads, listing, counting.

use std::collections::BTreeSet;
use std::sync::Arc;

use time::Duration;

use admit_core::{
    AccountKind, AccountStatus, AccountWrite, Clock, CredentialEpoch, Email, FullName, Grant, Labels, Lifecycle,
    Locale, PasswordHash, Phone, Role, Scope, TestClock, Timestamp, TokenPurpose,
};

use super::fixtures::{Fixtures, client_file, insert_accounts, program, update, write_accounts};
use super::support::{commit_ok, ok, refused, stored_account};
use crate::query::{AccountFilter, AccountQuery, GrantFilter};
use crate::{AccountId, AccountRecord, ConflictKind, Store, StoreError};

fn key(email: &str) -> admit_core::EmailKey {
    Email::parse(email).expect("test address is valid").key().clone()
}

/// Every id `query` lists, following `next` until the last page.
async fn list_all(store: &Arc<dyn Store>, mut query: AccountQuery) -> Vec<AccountId> {
    let mut out = Vec::new();
    for _ in 0..10_000 {
        let page = ok(store.list_accounts(&query).await, "list_accounts reads");
        out.extend(page.items.iter().map(|a| a.id));
        match page.next {
            Some(next) => query.after = Some(next),
            None => return out,
        }
    }
    panic!("contract: list_accounts paging ends; but it did not end after 10,000 pages");
}

async fn listed(
    store: &Arc<dyn Store>,
    filter: AccountFilter,
    status: Option<AccountStatus>,
    now: Timestamp,
) -> Vec<AccountId> {
    let mut query = AccountQuery::new(now);
    query.filter = filter;
    query.status = status;
    list_all(store, query).await
}

/// Insert, then read back by id and by email key, whatever the case of the address looked up.
pub async fn accounts_insert_then_read_by_id_and_email(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(101);
    let account = fx.account("Jeanne.Martin@Exemple.fr", clock.now());
    commit_ok(&store, insert_accounts([account.clone()]), "an insert of a new account applies").await;

    let by_id = ok(store.account(account.id).await, "account reads");
    assert_eq!(by_id.as_ref(), Some(&account), "contract: account(id) returns the inserted record unchanged");
    for typed in ["Jeanne.Martin@exemple.fr", "jeanne.martin@EXEMPLE.FR", "JEANNE.MARTIN@exemple.fr"] {
        let by_email = ok(store.account_by_email(&key(typed)).await, "account_by_email reads");
        assert_eq!(by_email.as_ref(), Some(&account), "contract: account_by_email finds {typed} by its key");
    }
    let missing = ok(store.account(fx.account_id(clock.now())).await, "account reads");
    assert_eq!(missing, None, "contract: account(id) of an unknown id is None");
    let missing = ok(store.account_by_email(&key("personne@exemple.fr")).await, "account_by_email reads");
    assert_eq!(missing, None, "contract: account_by_email of an unknown key is None");
}

/// A second account whose address differs only in case is a `Conflict { Email }`.
pub async fn accounts_email_conflict_ignores_case(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(102);
    let first = fx.account("Jeanne.Martin@exemple.fr", clock.now());
    commit_ok(&store, insert_accounts([first.clone()]), "an insert of a new account applies").await;
    for (i, typed) in
        ["jeanne.martin@exemple.fr", "JEANNE.MARTIN@EXEMPLE.FR", "Jeanne.Martin@exemple.fr"].iter().enumerate()
    {
        let twin = fx.account(typed, clock.now());
        let error = refused(
            store.commit(insert_accounts([twin.clone()])).await,
            "an insert whose email key is taken (any case) fails",
        );
        assert!(
            matches!(error, StoreError::Conflict { what: ConflictKind::Email }),
            "contract: an insert whose email key is taken is Conflict {{ Email }} (attempt {i}); got {error:?}"
        );
        let stored = ok(store.account(twin.id).await, "account reads");
        assert_eq!(stored, None, "contract: a refused insert writes nothing");
    }
    let stored = ok(store.account_by_email(first.email.as_ref().unwrap().key()).await, "account_by_email reads");
    assert_eq!(stored, Some(first), "contract: the first account is untouched by refused twins");
}

/// A second account with the same id is a `Conflict { AccountId }`.
pub async fn accounts_same_id_conflicts(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(103);
    let first = fx.account("premier@exemple.fr", clock.now());
    commit_ok(&store, insert_accounts([first.clone()]), "an insert of a new account applies").await;
    let mut twin = fx.account("second@exemple.fr", clock.now());
    twin.id = first.id;
    let error = refused(store.commit(insert_accounts([twin])).await, "an insert whose id is taken fails");
    assert!(
        matches!(error, StoreError::Conflict { what: ConflictKind::AccountId }),
        "contract: an insert whose id is taken is Conflict {{ AccountId }}; got {error:?}"
    );
    assert_eq!(
        ok(store.account(first.id).await, "account reads"),
        Some(first),
        "contract: the first account is untouched"
    );
    let second = ok(store.account_by_email(&key("second@exemple.fr")).await, "account_by_email reads");
    assert_eq!(second, None, "contract: a refused insert does not claim its email key");
}

/// An update carrying the stored version applies, and versions move on.
pub async fn accounts_update_with_current_version_applies(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(104);
    let account = fx.account("jeanne@exemple.fr", clock.now());
    commit_ok(&store, insert_accounts([account.clone()]), "an insert applies").await;
    clock.advance(Duration::seconds(5));
    let write = update(&account, clock.now(), |a| a.full_name = FullName::parse("Jeanne Dupont").unwrap());
    let AccountWrite::Update { record: v2, .. } = write.clone() else { unreachable!() };
    commit_ok(&store, write_accounts([write]), "an update with the current version applies").await;
    let stored = stored_account(&store, account.id, "an updated account is still there").await;
    assert_eq!(stored, v2, "contract: an update replaces the stored record with the given one");
    assert_eq!(stored.version, 2, "contract: the stored version is the record's (expected + 1)");

    clock.advance(Duration::seconds(5));
    let write = update(&v2, clock.now(), |a| a.must_change_password = true);
    let AccountWrite::Update { record: v3, .. } = write.clone() else { unreachable!() };
    commit_ok(&store, write_accounts([write]), "a second update with the new current version applies").await;
    assert_eq!(
        stored_account(&store, account.id, "still there").await,
        v3,
        "contract: successive updates each apply when they carry the current version"
    );
}

/// An update whose expected version is not the stored one is `StaleVersion` and changes nothing.
pub async fn accounts_update_with_stale_version_is_refused(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(105);
    let account = fx.account("jeanne@exemple.fr", clock.now());
    commit_ok(&store, insert_accounts([account.clone()]), "an insert applies").await;
    let first = update(&account, clock.now(), |a| a.full_name = FullName::parse("Première").unwrap());
    commit_ok(&store, write_accounts([first]), "the first update applies").await;
    let after_first = stored_account(&store, account.id, "present").await;

    // Decided on version 1, which is no longer the stored one.
    let stale = update(&account, clock.now(), |a| a.full_name = FullName::parse("Seconde").unwrap());
    let error = refused(store.commit(write_accounts([stale])).await, "an update on a stale version fails");
    assert!(
        matches!(error, StoreError::StaleVersion { account: id } if id == account.id),
        "contract: an update whose expected version differs is StaleVersion naming the account; got {error:?}"
    );
    // An expected version ahead of the stored one is stale too.
    let mut ahead = after_first.clone();
    ahead.version = 7;
    let ahead = update(&ahead, clock.now(), |a| a.full_name = FullName::parse("Future").unwrap());
    let error = refused(store.commit(write_accounts([ahead])).await, "an update on a future version fails");
    assert!(
        matches!(error, StoreError::StaleVersion { .. }),
        "contract: any other expected version is StaleVersion; got {error:?}"
    );
    assert_eq!(
        stored_account(&store, account.id, "present").await,
        after_first,
        "contract: a stale update applies nothing"
    );
}

/// Updating or deleting an account that does not exist is `StaleVersion`.
pub async fn accounts_write_to_missing_account_is_stale(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(106);
    let ghost = fx.account("fantome@exemple.fr", clock.now());
    let error = refused(
        store.commit(write_accounts([update(&ghost, clock.now(), |_| {})])).await,
        "an update of a missing account fails",
    );
    assert!(
        matches!(error, StoreError::StaleVersion { account } if account == ghost.id),
        "contract: an update of a missing account is StaleVersion; got {error:?}"
    );
    let error = refused(
        store.commit(write_accounts([AccountWrite::Delete { id: ghost.id, expected_version: 1 }])).await,
        "a delete of a missing account fails",
    );
    assert!(
        matches!(error, StoreError::StaleVersion { account } if account == ghost.id),
        "contract: a delete of a missing account is StaleVersion; got {error:?}"
    );
    assert_eq!(ok(store.account(ghost.id).await, "reads"), None, "contract: an update never creates an account");
}

/// A delete with the current version removes the account and its tokens, and frees its address.
pub async fn accounts_delete_removes_account_and_its_tokens(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(107);
    let account = fx.account("jeanne@exemple.fr", clock.now());
    let other = fx.account("paul@exemple.fr", clock.now());
    let token = fx.token(&account, TokenPurpose::Invitation, clock.now(), Duration::days(7));
    let other_token = fx.token(&other, TokenPurpose::Invitation, clock.now(), Duration::days(7));
    let mut change = insert_accounts([account.clone(), other.clone()]);
    change.tokens = vec![token.clone(), other_token.clone()];
    commit_ok(&store, change, "accounts and tokens insert").await;

    let stale = AccountWrite::Delete { id: account.id, expected_version: 2 };
    let error = refused(store.commit(write_accounts([stale])).await, "a delete on a stale version fails");
    assert!(
        matches!(error, StoreError::StaleVersion { .. }),
        "contract: a stale delete is StaleVersion; got {error:?}"
    );
    assert!(ok(store.account(account.id).await, "reads").is_some(), "contract: a stale delete removes nothing");

    let delete = AccountWrite::Delete { id: account.id, expected_version: 1 };
    commit_ok(&store, write_accounts([delete]), "a delete with the current version applies").await;
    assert_eq!(ok(store.account(account.id).await, "reads"), None, "contract: a deleted account is gone by id");
    assert_eq!(
        ok(store.account_by_email(account.email.as_ref().unwrap().key()).await, "reads"),
        None,
        "contract: a deleted account is gone by email"
    );
    assert_eq!(
        ok(store.token(&token.selector).await, "reads"),
        None,
        "contract: deleting an account deletes its tokens"
    );
    assert!(ok(store.tokens_of(account.id).await, "reads").is_empty(), "contract: a deleted account has no tokens");
    assert_eq!(
        ok(store.token(&other_token.selector).await, "reads"),
        Some(other_token),
        "contract: other accounts' tokens survive a delete"
    );
    assert_eq!(ok(store.account(other.id).await, "reads"), Some(other), "contract: other accounts survive a delete");

    let again = fx.account("JEANNE@exemple.fr", clock.now());
    commit_ok(&store, insert_accounts([again]), "a deleted account's address can be used again").await;
}

/// An update that changes the address moves the key: the old one is free, the new one finds
/// the account, and a taken one is a conflict.
pub async fn accounts_email_change_moves_the_key(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(108);
    let jeanne = fx.account("jeanne@exemple.fr", clock.now());
    let paul = fx.account("paul@exemple.fr", clock.now());
    commit_ok(&store, insert_accounts([jeanne.clone(), paul.clone()]), "inserts apply").await;

    let taken = update(&jeanne, clock.now(), |a| a.email = Some(Email::parse("PAUL@exemple.fr").unwrap()));
    let error = refused(store.commit(write_accounts([taken])).await, "an update to a taken address fails");
    assert!(
        matches!(error, StoreError::Conflict { what: ConflictKind::Email }),
        "contract: an update to an address another account holds (any case) is Conflict {{ Email }}; got {error:?}"
    );
    assert_eq!(
        stored_account(&store, jeanne.id, "present").await,
        jeanne,
        "contract: a refused update applies nothing"
    );

    let recase = update(&jeanne, clock.now(), |a| a.email = Some(Email::parse("Jeanne@exemple.fr").unwrap()));
    let AccountWrite::Update { record: recased, .. } = recase.clone() else { unreachable!() };
    commit_ok(&store, write_accounts([recase]), "an account may change the case of its own address").await;

    let moved = update(&recased, clock.now(), |a| a.email = Some(Email::parse("jeanne.dupont@exemple.fr").unwrap()));
    commit_ok(&store, write_accounts([moved]), "an update to a free address applies").await;
    assert_eq!(
        ok(store.account_by_email(&key("jeanne@exemple.fr")).await, "reads"),
        None,
        "contract: after an email change the old key finds nothing"
    );
    let found = ok(store.account_by_email(&key("Jeanne.Dupont@exemple.fr")).await, "reads");
    assert_eq!(found.map(|a| a.id), Some(jeanne.id), "contract: after an email change the new key finds the account");
    let reuse = fx.account("jeanne@exemple.fr", clock.now());
    commit_ok(&store, insert_accounts([reuse]), "an address given up by an email change is free").await;
}

/// `accounts_by_emails` and `accounts_by_ids` return the matching accounts, leaving out missing ones.
pub async fn accounts_batch_reads_by_emails_and_ids(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(109);
    let accounts: Vec<AccountRecord> =
        (0..40).map(|i| fx.account(&format!("Personne.{i}@exemple.fr"), clock.now())).collect();
    commit_ok(&store, insert_accounts(accounts.clone()), "a batch insert applies").await;

    let wanted: Vec<&AccountRecord> = accounts.iter().step_by(3).collect();
    let mut keys: Vec<_> = wanted.iter().map(|a| key(&a.email.as_ref().unwrap().as_str().to_uppercase())).collect();
    keys.push(key("absent@exemple.fr"));
    let mut found = ok(store.accounts_by_emails(&keys).await, "accounts_by_emails reads");
    found.sort_by_key(|a| a.id);
    let mut expected: Vec<AccountRecord> = wanted.iter().map(|a| (*a).clone()).collect();
    expected.sort_by_key(|a| a.id);
    assert_eq!(found, expected, "contract: accounts_by_emails returns exactly the accounts among the keys, whole");

    let mut ids: Vec<AccountId> = wanted.iter().map(|a| a.id).collect();
    ids.push(fx.account_id(clock.now()));
    let mut found = ok(store.accounts_by_ids(&ids).await, "accounts_by_ids reads");
    found.sort_by_key(|a| a.id);
    assert_eq!(found, expected, "contract: accounts_by_ids returns exactly the accounts among the ids, whole");

    assert!(ok(store.accounts_by_emails(&[]).await, "reads").is_empty(), "contract: no keys, no accounts");
    assert!(ok(store.accounts_by_ids(&[]).await, "reads").is_empty(), "contract: no ids, no accounts");
}

/// Every field of a record, set to unusual values, reads back equal, after insert and after update.
pub async fn accounts_every_field_round_trips(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(110);
    let now = clock.now();
    let mut labels = Labels::new();
    for (k, v) in [
        ("position", "Gérant"),
        ("position", "chef d'entreprise"),
        ("contact_for", "facturation"),
        ("contact_for", "paie & social"),
        ("themes", "100% \"RH\" _x_"),
    ] {
        labels.insert(k, v).unwrap();
    }
    let mut account = fx.account("Élodie.Ñúñez+test@Exemple.FR", now);
    account.full_name = FullName::parse("Élodie Ñúñez-Łukasz 李").unwrap();
    account.phone = Some(Phone::parse("+33 6 12 34 56 78").unwrap());
    account.locale = Locale::parse("fr-CA").unwrap();
    account.kind = AccountKind::Public;
    account.grants = vec![
        Grant::new(Scope::Platform, Role::Guest),
        Grant::new(program("prog-2026:alpha"), Role::Administrator),
        Grant::new(program("prog.b"), Role::Collaborator),
        Grant::new(client_file("dossier_42"), Role::Guest),
    ];
    account.labels = labels;
    account.lifecycle = Lifecycle::Invited;
    account.invitation_expires_at = Some(now + Duration::days(7) + Duration::microseconds(1));
    account.password_hash = Some(PasswordHash::from_phc(
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$6pYHvVZ5wQ1Y0kS8vYwGmP8N3m0pN0o6d3+Hkz9L2xA".to_owned(),
    ));
    account.must_change_password = true;
    account.credential_epoch = CredentialEpoch(u64::from(u32::MAX) + 7);
    account.created_at = now - Duration::microseconds(999_999);
    account.updated_at = now + Duration::microseconds(1);
    account.invited_at = Some(now + Duration::microseconds(2));
    account.last_invitation_sent_at = Some(now + Duration::microseconds(3));
    account.activated_at = Some(now + Duration::microseconds(4));
    account.last_login_at = Some(now + Duration::microseconds(5));
    account.password_changed_at = Some(now + Duration::microseconds(6));
    account.disabled_at = Some(now + Duration::microseconds(7));
    account.trashed_at = Some(now + Duration::microseconds(8));
    commit_ok(&store, insert_accounts([account.clone()]), "an insert applies").await;
    assert_eq!(
        stored_account(&store, account.id, "present").await,
        account,
        "contract: every field (labels, grants, phone, locale, kind, timestamps, hash, flags, epoch) round-trips"
    );
    let by_email = ok(store.account_by_email(account.email.as_ref().unwrap().key()).await, "reads");
    assert_eq!(by_email.as_ref(), Some(&account), "contract: a non-ASCII address is found by its key");
    assert_eq!(
        by_email.map(|a| a.email.as_ref().unwrap().as_str().to_owned()).as_deref(),
        Some("Élodie.Ñúñez+test@exemple.fr"),
        "contract: the address is kept as typed (local part case included)"
    );

    let cleared = update(&account, now + Duration::seconds(1), |a| {
        a.phone = None;
        a.labels = Labels::new();
        a.grants = vec![Grant::new(client_file("dossier_42"), Role::Collaborator)];
        a.kind = AccountKind::Member;
        a.lifecycle = Lifecycle::Active;
        a.invitation_expires_at = None;
        a.password_hash = None;
        a.must_change_password = false;
        a.invited_at = None;
        a.last_invitation_sent_at = None;
        a.activated_at = None;
        a.last_login_at = None;
        a.password_changed_at = None;
        a.disabled_at = None;
        a.trashed_at = None;
        a.locale = Locale::en();
    });
    let AccountWrite::Update { record: cleared_record, .. } = cleared.clone() else { unreachable!() };
    commit_ok(&store, write_accounts([cleared]), "an update applies").await;
    assert_eq!(
        stored_account(&store, account.id, "present").await,
        cleared_record,
        "contract: an update that clears optional fields reads back with them cleared"
    );
    let listed = ok(store.list_accounts(&AccountQuery::new(now)).await, "list reads");
    assert_eq!(listed.items, vec![cleared_record], "contract: list_accounts returns whole records too");
}

/// Grant filters match one grant on both fields: scope only, role only, scope and role.
pub async fn accounts_list_filters_by_grant(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(111);
    let now = clock.now();
    let mut a = fx.account("a@exemple.fr", now); // p1 guest, p2 administrator
    a.grants = vec![Grant::new(program("p1"), Role::Guest), Grant::new(program("p2"), Role::Administrator)];
    let mut b = fx.account("b@exemple.fr", now); // p1 administrator
    b.grants = vec![Grant::new(program("p1"), Role::Administrator)];
    let mut c = fx.account("c@exemple.fr", now); // client file c1 collaborator
    c.grants = vec![Grant::new(client_file("c1"), Role::Collaborator)];
    let d = fx.platform_administrator("d@exemple.fr", now);
    commit_ok(&store, insert_accounts([a.clone(), b.clone(), c.clone(), d.clone()]), "inserts apply").await;

    type Case<'a> = (Option<Scope>, Option<Role>, Vec<&'a AccountRecord>, &'a str);
    let cases: Vec<Case> = vec![
        (Some(program("p1")), None, vec![&a, &b], "scope only: any role in exactly that scope"),
        (Some(program("p2")), None, vec![&a], "scope only"),
        (None, Some(Role::Administrator), vec![&a, &b, &d], "role only: that role in any scope"),
        (Some(program("p1")), Some(Role::Administrator), vec![&b], "scope and role must hold on the same grant"),
        (Some(program("p1")), Some(Role::Guest), vec![&a], "scope and role"),
        (Some(client_file("c1")), None, vec![&c], "client file scope"),
        (Some(Scope::Platform), None, vec![&d], "platform scope does not match programme grants"),
        (Some(program("p3")), None, vec![], "no account in this scope"),
        (None, None, vec![&a, &b, &c, &d], "an empty grant filter matches every account"),
    ];
    for (scope, role, expected, what) in cases {
        let filter =
            AccountFilter { grant: Some(GrantFilter { scope: scope.clone(), role }), ..AccountFilter::default() };
        let got: BTreeSet<AccountId> = listed(&store, filter, None, now).await.into_iter().collect();
        let expected: BTreeSet<AccountId> = expected.iter().map(|x| x.id).collect();
        assert_eq!(got, expected, "contract: grant filter ({what}) with scope {scope:?} role {role:?}");
    }
}

/// The kind filter.
pub async fn accounts_list_filters_by_kind(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(112);
    let now = clock.now();
    let member = fx.account("membre@exemple.fr", now);
    let mut public = fx.account("public@exemple.fr", now);
    public.kind = AccountKind::Public;
    commit_ok(&store, insert_accounts([member.clone(), public.clone()]), "inserts apply").await;
    for (kind, expected) in [(AccountKind::Member, member.id), (AccountKind::Public, public.id)] {
        let filter = AccountFilter { kind: Some(kind), ..AccountFilter::default() };
        assert_eq!(listed(&store, filter, None, now).await, vec![expected], "contract: kind filter {kind:?}");
    }
}

fn account_in(fx: &mut Fixtures, email: &str, now: Timestamp, status: AccountStatus) -> AccountRecord {
    let mut a = fx.account(email, now);
    match status {
        AccountStatus::Created => {}
        AccountStatus::Invited => {
            a.lifecycle = Lifecycle::Invited;
            a.invitation_expires_at = Some(now + Duration::days(1));
        }
        AccountStatus::InvitationExpired => {
            a.lifecycle = Lifecycle::Invited;
            a.invitation_expires_at = Some(now - Duration::microseconds(1));
        }
        AccountStatus::Active => a.lifecycle = Lifecycle::Active,
        AccountStatus::Disabled => {
            a.lifecycle = Lifecycle::Active;
            a.disabled_at = Some(now);
        }
        AccountStatus::Trashed => {
            a.lifecycle = Lifecycle::Invited;
            a.invitation_expires_at = Some(now + Duration::days(1));
            a.disabled_at = Some(now);
            a.trashed_at = Some(now);
        }
    }
    assert_eq!(a.status(now), status, "fixture builds an account in {status:?}");
    a
}

/// The status filter computes statuses at `query.now`, as `AccountRecord::status` does.
pub async fn accounts_list_filters_by_status_at_now(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(113);
    let now = clock.now();
    let mut by_status = Vec::new();
    for (i, status) in AccountStatus::ALL.iter().enumerate() {
        by_status.push((*status, account_in(&mut fx, &format!("s{i}@exemple.fr"), now, *status)));
    }
    // An invitation whose deadline is exactly `now`: still valid at now, expired 1 µs later.
    let mut edge = fx.account("limite@exemple.fr", now);
    edge.lifecycle = Lifecycle::Invited;
    edge.invitation_expires_at = Some(now);
    let mut all: Vec<AccountRecord> = by_status.iter().map(|(_, a)| a.clone()).collect();
    all.push(edge.clone());
    commit_ok(&store, insert_accounts(all), "inserts apply").await;

    for (status, account) in &by_status {
        let mut expected = BTreeSet::from([account.id]);
        if *status == AccountStatus::Invited {
            expected.insert(edge.id);
        }
        let got: BTreeSet<AccountId> =
            listed(&store, AccountFilter::default(), Some(*status), now).await.into_iter().collect();
        assert_eq!(
            got, expected,
            "contract: status filter {status:?} at now (an invitation is valid while now <= expires_at)"
        );
    }
    let later = now + Duration::microseconds(1);
    let expired: BTreeSet<AccountId> =
        listed(&store, AccountFilter::default(), Some(AccountStatus::InvitationExpired), later)
            .await
            .into_iter()
            .collect();
    let expected = BTreeSet::from([by_status[2].1.id, edge.id]);
    assert_eq!(expired, expected, "contract: 1 µs after its deadline an invitation is InvitationExpired at query.now");
    let much_later = now + Duration::days(2);
    let expired: BTreeSet<AccountId> =
        listed(&store, AccountFilter::default(), Some(AccountStatus::InvitationExpired), much_later)
            .await
            .into_iter()
            .collect();
    let expected = BTreeSet::from([by_status[1].1.id, by_status[2].1.id, edge.id]);
    assert_eq!(expired, expected, "contract: statuses follow query.now, not the time of writing");
    let trashed = listed(&store, AccountFilter::default(), Some(AccountStatus::Trashed), much_later).await;
    assert_eq!(trashed, vec![by_status[5].1.id], "contract: trashed wins over disabled and invitation expiry");
}

/// The text filter: case-insensitive substring of the name or the address; `%` and `_` are literal.
pub async fn accounts_list_filters_by_text(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(114);
    let now = clock.now();
    let mut named = |email: &str, name: &str| {
        let mut a = fx.account(email, now);
        a.full_name = FullName::parse(name).unwrap();
        a
    };
    let jeanne = named("jeanne.martin@exemple.fr", "Jeanne Martin");
    let paul = named("paul@societe.fr", "Paul MARTINEZ");
    let underscore = named("a_b@exemple.fr", "Alice Bernard");
    let plain = named("axb@exemple.fr", "Axel Bonnet");
    let percent = named("taux@exemple.fr", "Taux 50% Dupont");
    let other = named("zoe@exemple.fr", "Zoé 500 Durand");
    commit_ok(
        &store,
        insert_accounts([
            jeanne.clone(),
            paul.clone(),
            underscore.clone(),
            plain.clone(),
            percent.clone(),
            other.clone(),
        ]),
        "inserts apply",
    )
    .await;
    let cases: Vec<(&str, Vec<&AccountRecord>, &str)> = vec![
        ("martin", vec![&jeanne, &paul], "matches the name ignoring case"),
        ("MARTIN@", vec![&jeanne], "matches the address ignoring case"),
        ("SOCIETE.FR", vec![&paul], "matches the domain"),
        ("a_b", vec![&underscore], "_ matches only itself"),
        ("_", vec![&underscore], "_ matches only itself"),
        ("50%", vec![&percent], "% matches only itself"),
        ("%", vec![&percent], "% matches only itself"),
        ("nobody", vec![], "no match is an empty list"),
    ];
    for (text, expected, what) in cases {
        let filter = AccountFilter { text: Some(text.to_owned()), ..AccountFilter::default() };
        let got: BTreeSet<AccountId> = listed(&store, filter, None, now).await.into_iter().collect();
        let expected: BTreeSet<AccountId> = expected.iter().map(|a| a.id).collect();
        assert_eq!(got, expected, "contract: text filter {text:?} {what}");
    }
}

/// The text filter folds case beyond ASCII (`query::contains_ignore_case` is the rule).
pub async fn accounts_list_text_filter_folds_non_ascii_case(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(115);
    let now = clock.now();
    let mut eloise = fx.account("eloise@exemple.fr", now);
    eloise.full_name = FullName::parse("Éloïse Ängström").unwrap();
    let mut other = fx.account("elise@exemple.fr", now);
    other.full_name = FullName::parse("Elise Angstrom").unwrap();
    commit_ok(&store, insert_accounts([eloise.clone(), other]), "inserts apply").await;
    for text in ["éloïse", "ÉLOÏSE", "ängström", "ÄNGSTRÖM"] {
        let filter = AccountFilter { text: Some(text.to_owned()), ..AccountFilter::default() };
        assert_eq!(
            listed(&store, filter, None, now).await,
            vec![eloise.id],
            "contract: text filter {text:?} ignores case of non-ASCII letters, and accents are not folded"
        );
    }
}

/// Keyset paging by ascending id: every account once, no gaps, `next` exactly on full pages.
pub async fn accounts_list_pages_by_id_without_gaps(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(116);
    let mut accounts = Vec::new();
    for i in 0..23 {
        accounts.push(fx.account(&format!("p{i}@exemple.fr"), clock.now()));
        clock.advance(Duration::milliseconds(1));
    }
    // Some share a millisecond, so their id order is not their insertion order.
    for i in 0..6 {
        accounts.push(fx.account(&format!("q{i}@exemple.fr"), clock.now()));
    }
    commit_ok(&store, insert_accounts(accounts.clone()), "inserts apply").await;
    let mut expected: Vec<AccountId> = accounts.iter().map(|a| a.id).collect();
    expected.sort();

    let mut query = AccountQuery::new(clock.now());
    query.limit = 7;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = ok(store.list_accounts(&query).await, "list reads");
        pages += 1;
        assert!(page.items.len() <= 7, "contract: a page holds at most limit rows");
        if page.items.len() == 7 {
            assert_eq!(page.next, page.items.last().map(|a| a.id), "contract: a full page's next is its last id");
        } else {
            assert_eq!(page.next, None, "contract: a short page is the last one (next is None)");
        }
        seen.extend(page.items.iter().map(|a| a.id));
        match page.next {
            Some(next) => query.after = Some(next),
            None => break,
        }
        assert!(pages < 20, "contract: paging ends");
    }
    assert_eq!(seen, expected, "contract: pages list every account once, ascending by id, with no gap");
    assert!(pages >= 5, "29 accounts by 7 take at least 5 pages");

    let middle = expected[10];
    let mut query = AccountQuery::new(clock.now());
    query.after = Some(middle);
    query.limit = 1000;
    let rest = ok(store.list_accounts(&query).await, "list reads");
    assert_eq!(
        rest.items.iter().map(|a| a.id).collect::<Vec<_>>(),
        expected[11..].to_vec(),
        "contract: after lists only ids strictly greater"
    );
    let mut query = AccountQuery::new(clock.now());
    query.limit = 0;
    let page = ok(store.list_accounts(&query).await, "list reads");
    assert_eq!(
        page.items.len(),
        29.min(crate::query::DEFAULT_PAGE_SIZE as usize),
        "contract: limit 0 means the default page size"
    );
}

/// Filters apply before the page limit: a filtered page is full of matches.
pub async fn accounts_list_filters_before_paging(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(117);
    let now = clock.now();
    let mut accounts = Vec::new();
    for i in 0..30 {
        let status = if i % 3 == 0 { AccountStatus::Disabled } else { AccountStatus::Active };
        accounts.push(account_in(&mut fx, &format!("f{i}@exemple.fr"), now, status));
    }
    commit_ok(&store, insert_accounts(accounts.clone()), "inserts apply").await;
    let mut expected: Vec<AccountId> =
        accounts.iter().filter(|a| a.status(now) == AccountStatus::Disabled).map(|a| a.id).collect();
    expected.sort();
    let mut query = AccountQuery::new(now);
    query.status = Some(AccountStatus::Disabled);
    query.limit = 4;
    let first = ok(store.list_accounts(&query).await, "list reads");
    assert_eq!(first.items.len(), 4, "contract: the limit counts matching rows only");
    query.limit = 3;
    assert_eq!(list_all(&store, query).await, expected, "contract: filtered paging lists every match once, by id");
}

/// Status counts at `now`, with and without a filter.
pub async fn accounts_count_per_status(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(118);
    let now = clock.now();
    let plan = [
        (AccountStatus::Created, 3),
        (AccountStatus::Invited, 2),
        (AccountStatus::InvitationExpired, 4),
        (AccountStatus::Active, 5),
        (AccountStatus::Disabled, 1),
        (AccountStatus::Trashed, 2),
    ];
    let mut accounts = Vec::new();
    for (status, n) in plan {
        for i in 0..n {
            let mut a = account_in(&mut fx, &format!("{}{i}@exemple.fr", status.as_str()), now, status);
            if i == 0 {
                a.kind = AccountKind::Public;
            }
            accounts.push(a);
        }
    }
    commit_ok(&store, insert_accounts(accounts), "inserts apply").await;
    let counts = ok(store.count_accounts(&AccountFilter::default(), now).await, "count reads");
    for (status, n) in plan {
        assert_eq!(counts.get(status), n, "contract: count_accounts counts {status:?} at now");
    }
    assert_eq!(counts.total(), 17, "contract: every account is counted once");
    let public = AccountFilter { kind: Some(AccountKind::Public), ..AccountFilter::default() };
    let counts = ok(store.count_accounts(&public, now).await, "count reads");
    for (status, _) in plan {
        assert_eq!(counts.get(status), 1, "contract: count_accounts applies the filter ({status:?})");
    }
    let later = now + Duration::days(2);
    let counts = ok(store.count_accounts(&AccountFilter::default(), later).await, "count reads");
    assert_eq!(counts.invited, 0, "contract: counts are computed at the given now");
    assert_eq!(counts.invitation_expired, 6, "contract: invitations past their deadline at now count as expired");
    let text = AccountFilter { text: Some("ACTIVE".to_owned()), ..AccountFilter::default() };
    let counts = ok(store.count_accounts(&text, now).await, "count reads");
    assert_eq!(counts.total(), 5, "contract: count_accounts applies the text filter");
}

/// Only acting platform administrators count: available, active, with the grant.
pub async fn accounts_count_platform_administrators(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(119);
    let now = clock.now();
    let active = fx.platform_administrator("admin1@exemple.fr", now);
    let mut invited = fx.platform_administrator("admin2@exemple.fr", now);
    invited.lifecycle = Lifecycle::Invited;
    invited.invitation_expires_at = Some(now - Duration::days(1));
    let mut disabled = fx.platform_administrator("admin3@exemple.fr", now);
    disabled.disabled_at = Some(now);
    let mut trashed = fx.platform_administrator("admin4@exemple.fr", now);
    trashed.trashed_at = Some(now);
    let mut program_admin = fx.account("admin5@exemple.fr", now);
    program_admin.grants = vec![Grant::new(program("p1"), Role::Administrator)];
    let mut platform_collaborator = fx.account("collab@exemple.fr", now);
    platform_collaborator.grants = vec![Grant::new(Scope::Platform, Role::Collaborator)];
    assert_eq!(ok(store.count_platform_administrators().await, "count reads"), 0, "contract: an empty store has none");
    commit_ok(
        &store,
        insert_accounts([active.clone(), invited, disabled, trashed, program_admin, platform_collaborator]),
        "inserts apply",
    )
    .await;
    assert_eq!(
        ok(store.count_platform_administrators().await, "count reads"),
        1,
        "contract: acting platform administrators count (available and active); invited, disabled, trashed and \
         other grants do not"
    );
    let disable = update(&active, now, |a| a.disabled_at = Some(now));
    commit_ok(&store, write_accounts([disable]), "an update applies").await;
    assert_eq!(
        ok(store.count_platform_administrators().await, "count reads"),
        0,
        "contract: the count follows updates"
    );
}

/// Accounts without an address (not assigned yet) never conflict with each other, and one
/// can be given an address later.
pub async fn accounts_without_email_coexist(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(150);
    let mut first = fx.account("sans.adresse.1@exemple.fr", clock.now());
    let mut second = fx.account("sans.adresse.2@exemple.fr", clock.now());
    first.email = None;
    second.email = None;
    commit_ok(
        &store,
        insert_accounts([first.clone(), second.clone()]),
        "two accounts without an address are both inserted",
    )
    .await;
    let read = ok(store.account(first.id).await, "account reads");
    assert_eq!(read.as_ref(), Some(&first), "contract: an account without an address round-trips");
    let assigned = update(&first, clock.now(), |a| a.email = Some(Email::parse("Assignee@exemple.fr").unwrap()));
    commit_ok(&store, write_accounts([assigned.clone()]), "an address can be assigned later").await;
    let found = ok(store.account_by_email(&key("assignee@exemple.fr")).await, "account_by_email reads");
    assert_eq!(found.map(|a| a.id), Some(first.id), "contract: the assigned address is looked up by its key");
    let mut query = AccountQuery::new(clock.now());
    query.filter.text = Some("exemple.fr".into());
    let listed = ok(store.list_accounts(&query).await, "list_accounts reads");
    assert!(
        listed.items.iter().all(|a| a.id != second.id),
        "contract: the text filter skips accounts without an address"
    );
}
