//! Two "hosts": two `PostgresStore`s with separate pools on one database and schema. The
//! guarantees that must hold across processes (token consumption, outbox claims, rate
//! limits, the last platform administrator) are checked under real concurrency.
//! Runs when `ADMIT_TEST_POSTGRES_URL` is set.
#![cfg(feature = "postgres")]

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;

use admit_core::{Clock, MailKind, TestClock, TokenConsumption, TokenPurpose};
use admit_store::conformance::fixtures::{
    Fixtures, enqueue_mails, insert_accounts, insert_tokens, update, write_accounts,
};
use admit_store::{ChangeSet, MailClaim, Store, StoreError};
use admit_store_sqlx::PostgresStore;
use time::Duration;
use tokio::sync::Barrier;
use tokio::task::JoinSet;

/// Two stores on one fresh schema, migrated concurrently (one per host), and the schema.
/// Callers hold [`support::MANY_CONNECTIONS`] while they run.
async fn two_hosts() -> (Arc<dyn Store>, Arc<dyn Store>, String) {
    let schema = support::fresh_schema().await;
    let a = PostgresStore::new(support::pool_in(&schema, support::HOST_POOL).await);
    let b = PostgresStore::new(support::pool_in(&schema, support::HOST_POOL).await);
    let (ma, mb) = tokio::join!(a.migrate(), b.migrate());
    ma.expect("host A migrates");
    mb.expect("host B migrates at the same time");
    (Arc::new(a), Arc::new(b), schema)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn token_is_consumed_once_across_hosts() {
    if !support::enabled() {
        return;
    }
    let _one_at_a_time = support::MANY_CONNECTIONS.lock().await;
    let (a, b, schema) = two_hosts().await;
    let clock = TestClock::default_start();
    let mut fx = Fixtures::new(9001);
    let account = fx.account("jeanne@exemple.fr", clock.now());
    a.commit(insert_accounts([account.clone()])).await.unwrap();
    for round in 0..10 {
        let token = fx.token(&account, TokenPurpose::PasswordReset, clock.now(), Duration::hours(1));
        b.commit(insert_tokens([token.clone()])).await.unwrap();
        let barrier = Arc::new(Barrier::new(64));
        let mut tasks = JoinSet::new();
        for i in 0..64 {
            let store = Arc::clone(if i % 2 == 0 { &a } else { &b });
            let barrier = Arc::clone(&barrier);
            let change = ChangeSet {
                consume: Some(TokenConsumption {
                    selector: token.selector,
                    account_id: account.id,
                    credential_epoch: token.credential_epoch,
                    at: clock.now(),
                }),
                ..ChangeSet::default()
            };
            tasks.spawn(async move {
                barrier.wait().await;
                (i % 2, store.commit(change).await)
            });
        }
        let mut wins = [0; 2];
        while let Some(outcome) = tasks.join_next().await {
            match outcome.unwrap() {
                (host, Ok(())) => wins[host] += 1,
                (_, Err(StoreError::TokenUnavailable)) => {}
                (_, Err(other)) => panic!("a losing consumption is TokenUnavailable, got {other:?}"),
            }
        }
        eprintln!("round {round}: host A won {}, host B won {}", wins[0], wins[1]);
        assert_eq!(wins[0] + wins[1], 1, "exactly one of 64 consumptions over two hosts succeeds (round {round})");
        let stored = a.token(&token.selector).await.unwrap().unwrap();
        assert_eq!(stored.consumed_at, Some(clock.now()), "the token is marked consumed");
        clock.advance(Duration::seconds(1));
    }
    support::drop_schema(&schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_mail_is_claimed_exactly_once_across_hosts() {
    if !support::enabled() {
        return;
    }
    let _one_at_a_time = support::MANY_CONNECTIONS.lock().await;
    let (a, b, schema) = two_hosts().await;
    let clock = TestClock::default_start();
    let mut fx = Fixtures::new(9002);
    let account = fx.account("jeanne@exemple.fr", clock.now());
    a.commit(insert_accounts([account.clone()])).await.unwrap();
    let mut expected = BTreeSet::new();
    for chunk in 0..10 {
        let mails: Vec<_> = (0..100).map(|_| fx.mail(&account, MailKind::Invitation, clock.now())).collect();
        expected.extend(mails.iter().map(|m| m.id));
        (if chunk % 2 == 0 { &a } else { &b }).commit(enqueue_mails(mails)).await.unwrap();
        clock.advance(Duration::milliseconds(1));
    }
    let now = clock.now();
    let mut tasks = JoinSet::new();
    for (host, store) in [("a", Arc::clone(&a)), ("b", Arc::clone(&b))] {
        tasks.spawn(async move {
            let owner = format!("dispatcher-{host}");
            let mut mine = Vec::new();
            loop {
                let claim = MailClaim { owner: owner.clone(), now, lease: Duration::minutes(10), limit: 7 };
                let batch = store.claim_mails(&claim).await.expect("claims work");
                if batch.is_empty() {
                    break;
                }
                for mail in batch {
                    store.mark_mail_sent(mail.id, &owner, now).await.expect("the claimer holds the lease");
                    mine.push(mail.id);
                }
            }
            (host, mine)
        });
    }
    let mut seen = BTreeSet::new();
    let mut total = 0;
    while let Some(outcome) = tasks.join_next().await {
        let (host, mine) = outcome.unwrap();
        eprintln!("host {host} claimed {} mails", mine.len());
        total += mine.len();
        seen.extend(mine);
    }
    assert_eq!(total, seen.len(), "no mail is claimed twice");
    assert_eq!(seen, expected, "every mail is claimed, none missed");
    support::drop_schema(&schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rate_limit_holds_across_hosts() {
    if !support::enabled() {
        return;
    }
    let _one_at_a_time = support::MANY_CONNECTIONS.lock().await;
    let (a, b, schema) = two_hosts().await;
    let now = TestClock::default_start().now();
    let mut tasks = JoinSet::new();
    for i in 0..100 {
        let store = Arc::clone(if i % 2 == 0 { &a } else { &b });
        tasks.spawn(async move { store.hit_rate_limit("reset:jeanne", 30, Duration::minutes(1), now).await });
    }
    let mut allowed = 0;
    let mut counts = BTreeSet::new();
    while let Some(outcome) = tasks.join_next().await {
        let decision = outcome.unwrap().unwrap();
        allowed += usize::from(decision.allowed);
        counts.insert(decision.count);
    }
    assert_eq!(allowed, 30, "exactly `limit` hits are allowed across hosts");
    assert_eq!(counts, (1..=100).collect(), "every hit got its own count");
    support::drop_schema(&schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn last_platform_administrator_holds_across_hosts() {
    if !support::enabled() {
        return;
    }
    let _one_at_a_time = support::MANY_CONNECTIONS.lock().await;
    let (a, b, schema) = two_hosts().await;
    let clock = TestClock::default_start();
    let mut fx = Fixtures::new(9003);
    for round in 0..10 {
        let first = fx.platform_administrator(&format!("admin-{round}-a@exemple.fr"), clock.now());
        let second = fx.platform_administrator(&format!("admin-{round}-b@exemple.fr"), clock.now());
        // Earlier rounds leave one administrator each: disable them so two remain.
        let remaining: Vec<_> =
            a.list_accounts(&admit_store::AccountQuery::new(clock.now())).await.unwrap().items.into_iter().collect();
        let mut setup = insert_accounts([first.clone(), second.clone()]);
        for old in remaining.iter().filter(|r| r.is_platform_administrator()) {
            setup.accounts.push(update(old, clock.now(), |r| r.disabled_at = Some(clock.now())));
        }
        a.commit(setup).await.unwrap();
        assert_eq!(a.count_platform_administrators().await.unwrap(), 2);
        let barrier = Arc::new(Barrier::new(2));
        let mut tasks = JoinSet::new();
        for (store, target) in [(Arc::clone(&a), first), (Arc::clone(&b), second)] {
            let barrier = Arc::clone(&barrier);
            let at = clock.now();
            let mut change = write_accounts([update(&target, at, |r| r.disabled_at = Some(at))]);
            change.require_platform_administrator = true;
            tasks.spawn(async move {
                barrier.wait().await;
                store.commit(change).await
            });
        }
        let mut wins = 0;
        while let Some(outcome) = tasks.join_next().await {
            match outcome.unwrap() {
                Ok(()) => wins += 1,
                Err(StoreError::LastPlatformAdministrator) => {}
                Err(other) => panic!("the losing disable is LastPlatformAdministrator, got {other:?}"),
            }
        }
        assert_eq!(wins, 1, "of two hosts disabling the last two administrators, exactly one succeeds");
        assert_eq!(b.count_platform_administrators().await.unwrap(), 1, "one administrator remains");
        clock.advance(Duration::seconds(1));
    }
    support::drop_schema(&schema).await;
}
