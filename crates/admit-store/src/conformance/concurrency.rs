//! `concurrency_*`: the atomicity guarantees under many concurrent tasks.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use time::Duration;

use admit_core::{Clock, FullName, MailKind, TestClock, TokenPurpose};

use super::fixtures::{Fixtures, enqueue_mails, insert_accounts, insert_tokens, update, write_accounts};
use super::outbox::claim;
use super::support::{commit_ok, ok};
use super::tokens::consume;
use crate::__tokio::task::JoinSet;
use crate::{ConflictKind, MailId, Store, StoreError};

/// 64 tasks consume one token at once, 20 rounds: exactly one succeeds each round.
pub async fn concurrency_token_consumed_at_most_once(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(701);
    let account = fx.account("jeanne@exemple.fr", clock.now());
    commit_ok(&store, insert_accounts([account.clone()]), "an insert applies").await;
    for round in 0..20 {
        let token = fx.token(&account, TokenPurpose::PasswordReset, clock.now(), Duration::hours(1));
        commit_ok(&store, insert_tokens([token.clone()]), "a token insert applies").await;
        let barrier = Arc::new(crate::__tokio::sync::Barrier::new(64));
        let mut tasks = JoinSet::new();
        for _ in 0..64 {
            let store = Arc::clone(&store);
            let barrier = Arc::clone(&barrier);
            let change = consume(&token, clock.now());
            tasks.spawn(async move {
                barrier.wait().await;
                store.commit(change).await
            });
        }
        let mut wins = 0;
        while let Some(outcome) = tasks.join_next().await {
            match outcome.expect("a consuming task does not panic") {
                Ok(()) => wins += 1,
                Err(StoreError::TokenUnavailable) => {}
                Err(other) => {
                    panic!("contract: a losing consumption is TokenUnavailable; got {other:?} (round {round})")
                }
            }
        }
        assert_eq!(
            wins, 1,
            "contract: of 64 concurrent consumptions of one token exactly one succeeds (round {round})"
        );
        clock.advance(Duration::seconds(1));
    }
}

/// 8 claimers drain 1,000 mails: each mail is handed out once (leases never lapse here) and
/// every mail is claimed.
pub async fn concurrency_claimers_never_share_a_leased_mail(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(702);
    let account = fx.account("jeanne@exemple.fr", clock.now());
    commit_ok(&store, insert_accounts([account.clone()]), "an insert applies").await;
    let mut expected = BTreeSet::new();
    for chunk in 0..10 {
        let mails: Vec<_> = (0..100)
            .map(|i| {
                let kind = if (chunk + i) % 2 == 0 { MailKind::Invitation } else { MailKind::PasswordChanged };
                fx.mail(&account, kind, clock.now())
            })
            .collect();
        expected.extend(mails.iter().map(|m| m.id));
        commit_ok(&store, enqueue_mails(mails), "enqueueing applies").await;
        clock.advance(Duration::milliseconds(1));
    }
    let now = clock.now();
    let mut tasks = JoinSet::new();
    for worker in 0..8 {
        let store = Arc::clone(&store);
        tasks.spawn(async move {
            let owner = format!("dispatcher-{worker}");
            let mut mine = Vec::new();
            loop {
                let batch = store.claim_mails(&claim(&owner, now, Duration::minutes(10), 7)).await?;
                if batch.is_empty() {
                    return Ok::<_, StoreError>(mine);
                }
                for mail in batch {
                    // Settle half of them: a settled mail must not come back either.
                    if mail.attempts != 1 {
                        panic!("contract: a mail claimed once has attempts 1; got {}", mail.attempts);
                    }
                    if mail.id.to_bytes()[15] % 2 == 0 {
                        store.mark_mail_sent(mail.id, &owner, now).await?;
                    }
                    mine.push(mail.id);
                }
            }
        });
    }
    let mut owners: BTreeMap<MailId, usize> = BTreeMap::new();
    let mut per_worker = Vec::new();
    while let Some(outcome) = tasks.join_next().await {
        let mine = ok(outcome.expect("a claimer does not panic"), "claims and settlements by the lease owner work");
        per_worker.push(mine.len());
        for id in mine {
            *owners.entry(id).or_default() += 1;
        }
    }
    let twice: Vec<_> = owners.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "contract: while a lease holds no other claimer receives the mail; handed out twice: {twice:?}"
    );
    let claimed: BTreeSet<MailId> = owners.keys().copied().collect();
    assert_eq!(claimed.len(), 1000, "contract: concurrent claimers together claim every due mail");
    assert_eq!(claimed, expected, "contract: concurrent claimers claim exactly the enqueued mails");
    assert_eq!(per_worker.iter().sum::<usize>(), 1000, "every claim is counted once");
}

/// 16 concurrent inserts of one address in different cases: exactly one account.
pub async fn concurrency_same_email_inserted_once(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(703);
    for round in 0..5 {
        let base = format!("jeanne.martin{round}@exemple.fr");
        let barrier = Arc::new(crate::__tokio::sync::Barrier::new(16));
        let mut tasks = JoinSet::new();
        for i in 0..16usize {
            // Vary the case of the local part and the domain.
            let typed: String = base
                .chars()
                .enumerate()
                .map(|(j, c)| if (i >> (j % 4)) & 1 == 1 { c.to_ascii_uppercase() } else { c })
                .collect();
            let account = fx.account(&typed, clock.now());
            let store = Arc::clone(&store);
            let barrier = Arc::clone(&barrier);
            tasks.spawn(async move {
                barrier.wait().await;
                store.commit(insert_accounts([account])).await
            });
        }
        let mut wins = 0;
        while let Some(outcome) = tasks.join_next().await {
            match outcome.expect("an inserting task does not panic") {
                Ok(()) => wins += 1,
                Err(StoreError::Conflict { what: ConflictKind::Email }) => {}
                Err(other) => panic!("contract: a losing insert is Conflict {{ Email }}; got {other:?}"),
            }
        }
        assert_eq!(wins, 1, "contract: of 16 concurrent inserts of one email key exactly one succeeds (round {round})");
        let key = admit_core::Email::parse(&base).unwrap().key().clone();
        let found = ok(store.accounts_by_emails(&[key]).await, "reads");
        assert_eq!(found.len(), 1, "contract: one account holds the email key");
    }
    let mut query = crate::query::AccountQuery::new(clock.now());
    query.limit = 1000;
    assert_eq!(
        ok(store.list_accounts(&query).await, "reads").items.len(),
        5,
        "contract: no duplicate account was stored"
    );
}

/// Concurrent updates decided on the same version: exactly one wins, the others are stale.
pub async fn concurrency_stale_updates_one_wins(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(704);
    let mut account = fx.account("jeanne@exemple.fr", clock.now());
    commit_ok(&store, insert_accounts([account.clone()]), "an insert applies").await;
    for round in 0..10 {
        let barrier = Arc::new(crate::__tokio::sync::Barrier::new(16));
        let mut tasks = JoinSet::new();
        for i in 0..16 {
            let name = FullName::parse(&format!("Jeanne {round}-{i}")).unwrap();
            let write = update(&account, clock.now(), move |a| a.full_name = name);
            let store = Arc::clone(&store);
            let barrier = Arc::clone(&barrier);
            tasks.spawn(async move {
                barrier.wait().await;
                store.commit(write_accounts([write])).await
            });
        }
        let mut wins = 0;
        while let Some(outcome) = tasks.join_next().await {
            match outcome.expect("an updating task does not panic") {
                Ok(()) => wins += 1,
                Err(StoreError::StaleVersion { .. }) => {}
                Err(other) => panic!("contract: a losing update is StaleVersion; got {other:?}"),
            }
        }
        assert_eq!(wins, 1, "contract: of 16 concurrent updates on one version exactly one applies (round {round})");
        let stored = ok(store.account(account.id).await, "reads").expect("kept");
        assert_eq!(stored.version, account.version + 1, "contract: the winner's version is stored");
        account = stored;
    }
}

/// 200 concurrent hits with limit 50: exactly 50 allowed, counts 1 to 200 each once.
pub async fn concurrency_rate_limit_is_exact(store: Arc<dyn Store>, clock: TestClock) {
    let now = clock.now();
    let barrier = Arc::new(crate::__tokio::sync::Barrier::new(200));
    let mut tasks = JoinSet::new();
    for _ in 0..200 {
        let store = Arc::clone(&store);
        let barrier = Arc::clone(&barrier);
        tasks.spawn(async move {
            barrier.wait().await;
            store.hit_rate_limit("reset:jeanne@exemple.fr", 50, Duration::minutes(1), now).await
        });
    }
    let mut allowed = 0;
    let mut counts = BTreeSet::new();
    while let Some(outcome) = tasks.join_next().await {
        let decision = ok(outcome.expect("a hitting task does not panic"), "hit_rate_limit works");
        if decision.allowed {
            allowed += 1;
            assert!(decision.count <= 50, "contract: an allowed hit has count <= limit; got {}", decision.count);
        }
        counts.insert(decision.count);
    }
    assert_eq!(allowed, 50, "contract: of 200 concurrent hits with limit 50 exactly 50 are allowed");
    assert_eq!(counts, (1..=200).collect(), "contract: each concurrent hit is counted once (counts 1..=200)");
}
