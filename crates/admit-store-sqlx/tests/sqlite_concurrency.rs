//! SQLite under concurrent writers: `BEGIN IMMEDIATE` makes them queue on the busy timeout
//! instead of failing with SQLITE_BUSY or deadlocking on a lock upgrade; and a batch of
//! 10,000 accounts with their tokens, mails and audit entries commits in one go.
#![cfg(feature = "sqlite")]

use std::sync::Arc;
use std::time::Instant;

use admit_core::{AuditAction, Clock, MailKind, TestClock, TokenPurpose};
use admit_store::conformance::fixtures::{Fixtures, insert_accounts, update, write_accounts};
use admit_store::{AccountFilter, AccountQuery, ChangeSet, MailClaim, MailQuery, Store};
use admit_store_sqlx::SqliteStore;
use time::Duration;
use tokio::task::JoinSet;

async fn file_store(dir: &tempfile::TempDir) -> SqliteStore {
    SqliteStore::open(dir.path().join("admit.db")).await.expect("the file store opens")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_never_fail_busy() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(file_store(&dir).await);
    let clock = TestClock::default_start();
    let mut tasks = JoinSet::new();
    for task in 0..8u64 {
        let store = Arc::clone(&store);
        let clock = clock.clone();
        tasks.spawn(async move {
            let mut fx = Fixtures::new(100 + task);
            for i in 0..50 {
                let now = clock.now();
                // An insert with a token, a mail and an audit entry ...
                let account = fx.account(&format!("p{task}-{i}@exemple.fr"), now);
                let mut change = insert_accounts([account.clone()]);
                change.tokens.push(fx.token(&account, TokenPurpose::Invitation, now, Duration::days(7)));
                change.mails.push(fx.mail(&account, MailKind::Invitation, now));
                change.audit.push(fx.audit(Some(account.id), AuditAction::InvitationSent, Some(account.id), now));
                store.commit(change).await.expect("a concurrent insert commits");
                // ... then a read-modify-write of the same account, mixed with reads,
                // claims and rate-limit hits from the other tasks.
                let stored = store.account(account.id).await.unwrap().expect("it reads back");
                let edit = write_accounts([update(&stored, now, |r| r.must_change_password = true)]);
                store.commit(edit).await.expect("a concurrent update commits");
                let claim = MailClaim { owner: format!("t{task}"), now, lease: Duration::minutes(5), limit: 2 };
                store.claim_mails(&claim).await.expect("a concurrent claim works");
                store.hit_rate_limit("shared", 1_000, Duration::hours(1), now).await.expect("a hit counts");
            }
        });
    }
    while let Some(outcome) = tasks.join_next().await {
        outcome.expect("no task fails");
    }
    let counts = store.count_accounts(&AccountFilter::default(), clock.now()).await.unwrap();
    assert_eq!(counts.total(), 400, "8 tasks × 50 accounts");
    let decision = store.hit_rate_limit("shared", 1_000, Duration::hours(1), clock.now()).await.unwrap();
    assert_eq!(decision.count, 401, "every concurrent hit was counted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_of_ten_thousand_commits_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(&dir).await;
    let clock = TestClock::default_start();
    let now = clock.now();
    let mut fx = Fixtures::new(7);
    let mut change = ChangeSet::new();
    for i in 0..10_000 {
        let account = fx.account(&format!("personne.{i}@exemple.fr"), now);
        change.tokens.push(fx.token(&account, TokenPurpose::Invitation, now, Duration::days(7)));
        change.mails.push(fx.mail(&account, MailKind::Invitation, now));
        change.audit.push(fx.audit(None, AuditAction::AccountCreated, Some(account.id), now));
        change.accounts.push(admit_store::AccountWrite::Insert(account));
    }
    let started = Instant::now();
    store.commit(change).await.expect("the batch commits");
    let took = started.elapsed();
    eprintln!("SQLite: 10,000 accounts + tokens + mails + audit committed in {took:?}");
    assert!(took.as_secs() < 30, "a 10,000-row batch commits in seconds, took {took:?}");
    let counts = store.count_accounts(&AccountFilter::default(), now).await.unwrap();
    assert_eq!(counts.total(), 10_000);
    let page = store.list_accounts(&AccountQuery { limit: 1_000, ..AccountQuery::new(now) }).await.unwrap();
    assert_eq!(page.items.len(), 1_000);
    let journal = store.journal(&MailQuery { limit: 10, ..MailQuery::default() }).await.unwrap();
    assert_eq!(journal.items.len(), 10);
}
