//! `concurrency_*` (continued): the invariants of the contract that only concurrency can
//! break, each raced for many rounds behind a barrier so that the racing calls start
//! together. Every failure message names the rule and the round.

use std::collections::BTreeSet;
use std::sync::Arc;

use time::Duration;

use admit_core::{
    AccountRecord, AccountWrite, AuditAction, ChangeSet, Clock, Email, FullName, Grant, MailKind, RevokeReason, Role,
    TestClock, TokenPurpose, TokenRecord, TokenRevocation,
};

use super::fixtures::{Fixtures, enqueue_mails, insert_accounts, insert_tokens, program, update, write_accounts};
use super::outbox::claim;
use super::support::{commit_ok, ok, stored_account};
use super::tokens::consumption;
use crate::__tokio::sync::Barrier;
use crate::__tokio::task::JoinSet;
use crate::{ConflictKind, MailId, Store, StoreError};

/// Runs `changes` as concurrent commits released together by a barrier; returns each
/// outcome with the index of its change.
async fn race(store: &Arc<dyn Store>, changes: Vec<ChangeSet>) -> Vec<(usize, crate::Result<()>)> {
    let barrier = Arc::new(Barrier::new(changes.len()));
    let mut tasks = JoinSet::new();
    for (i, change) in changes.into_iter().enumerate() {
        let store = Arc::clone(store);
        let barrier = Arc::clone(&barrier);
        tasks.spawn(async move {
            barrier.wait().await;
            (i, store.commit(change).await)
        });
    }
    let mut outcomes = Vec::new();
    while let Some(outcome) = tasks.join_next().await {
        outcomes.push(outcome.expect("a committing task does not panic"));
    }
    outcomes.sort_by_key(|(i, _)| *i);
    outcomes
}

/// How one racing commit takes a platform administrator away.
fn remove_administrator(admin: &AccountRecord, how: usize, clock: &TestClock) -> AccountWrite {
    let now = clock.now();
    match how % 4 {
        0 => update(admin, now, |a| a.disabled_at = Some(now)),
        1 => update(admin, now, |a| a.trashed_at = Some(now)),
        2 => update(admin, now, |a| a.grants = vec![Grant::new(program("prog-1"), Role::Administrator)]),
        _ => AccountWrite::Delete { id: admin.id, expected_version: admin.version },
    }
}

/// Write skew on the last platform administrator: with `n` acting platform administrators
/// (2 to 4), `n` concurrent commits each take a different one away (disable, trash, demote
/// or delete), each with `require_platform_administrator`. Every one of them alone would
/// pass the check, but together they would leave none: exactly `n - 1` succeed, the others
/// are refused with `LastPlatformAdministrator`, and one acting platform administrator
/// remains. 40 rounds.
pub async fn concurrency_last_platform_administrator_survives_write_skew(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(801);
    let first = fx.platform_administrator("premiere.admin@exemple.fr", clock.now());
    commit_ok(&store, insert_accounts([first.clone()]), "an insert applies").await;
    let mut survivor = first;
    for round in 0..40usize {
        let n = 2 + round % 3;
        let fresh: Vec<AccountRecord> =
            (1..n).map(|i| fx.platform_administrator(&format!("admin.{round}.{i}@exemple.fr"), clock.now())).collect();
        commit_ok(&store, insert_accounts(fresh.clone()), "inserting platform administrators applies").await;
        let mut admins = vec![survivor.clone()];
        admins.extend(fresh);
        assert_eq!(
            ok(store.count_platform_administrators().await, "counts"),
            n as u64,
            "contract: count_platform_administrators counts the {n} acting platform administrators (round {round})"
        );
        let changes = admins
            .iter()
            .enumerate()
            .map(|(i, admin)| {
                let mut change = write_accounts([remove_administrator(admin, round + i, &clock)]);
                change.audit.push(fx.audit(None, AuditAction::AccountDisabled, Some(admin.id), clock.now()));
                change.require_platform_administrator = true;
                change
            })
            .collect();
        let outcomes = race(&store, changes).await;
        let mut kept = Vec::new();
        for (i, outcome) in outcomes {
            match outcome {
                Ok(()) => {}
                Err(StoreError::LastPlatformAdministrator) => kept.push(i),
                Err(other) => panic!(
                    "contract: a change that would leave no platform administrator is refused with \
                     LastPlatformAdministrator; got {other:?} (round {round})"
                ),
            }
        }
        let left = ok(store.count_platform_administrators().await, "counts");
        assert!(
            left >= 1,
            "contract: require_platform_administrator holds under concurrency (no write skew): {n} concurrent \
             commits each removing one of the last {n} platform administrators left {left} (round {round})"
        );
        assert_eq!(
            kept.len(),
            1,
            "contract: of {n} concurrent commits each removing one of the last {n} platform administrators exactly \
             {} succeed and 1 is refused; {} were refused (round {round})",
            n - 1,
            kept.len()
        );
        assert_eq!(left, 1, "contract: one acting platform administrator remains (round {round})");
        survivor = stored_account(&store, admins[kept[0]].id, "the refused removal left its account").await;
        assert!(
            survivor.is_platform_administrator(),
            "contract: the account whose removal was refused is still an acting platform administrator (round {round})"
        );
        clock.advance(Duration::seconds(1));
    }
}

/// Concurrent re-issue: 12 commits each insert a new link of the same purpose for one
/// account at once. Each insert revokes the live tokens of that account and purpose, so
/// afterwards exactly one of them is live and every other one is revoked with `Replaced`;
/// a live token of another purpose is untouched. 20 rounds.
pub async fn concurrency_reissue_leaves_one_live_token(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(802);
    let account = fx.account("jeanne@exemple.fr", clock.now());
    commit_ok(&store, insert_accounts([account.clone()]), "an insert applies").await;
    let other = fx.token(&account, TokenPurpose::Invitation, clock.now(), Duration::days(30));
    commit_ok(&store, insert_tokens([other.clone()]), "a token insert applies").await;
    for round in 0..20 {
        let tokens: Vec<TokenRecord> =
            (0..12).map(|_| fx.token(&account, TokenPurpose::PasswordReset, clock.now(), Duration::hours(1))).collect();
        let outcomes = race(&store, tokens.iter().map(|t| insert_tokens([t.clone()])).collect()).await;
        for (i, outcome) in outcomes {
            if let Err(error) = outcome {
                panic!(
                    "contract: inserting a new token of a purpose always applies; insert {i} failed: {error:?} (round {round})"
                );
            }
        }
        let now = clock.now();
        let stored = ok(store.tokens_of(account.id).await, "tokens_of reads");
        let live: Vec<&TokenRecord> =
            stored.iter().filter(|t| t.purpose == TokenPurpose::PasswordReset && t.is_live(now)).collect();
        assert_eq!(
            live.len(),
            1,
            "contract: exactly one live token per (account, purpose) under concurrent re-issue; {} are live (round {round})",
            live.len()
        );
        let selectors: BTreeSet<_> = tokens.iter().map(|t| t.selector).collect();
        for token in stored.iter().filter(|t| selectors.contains(&t.selector) && t.selector != live[0].selector) {
            assert_eq!(
                (token.revoked_at, token.revoked_reason),
                (Some(now), Some(RevokeReason::Replaced)),
                "contract: every concurrently issued token but one is revoked as Replaced at the new token's \
                 created_at (round {round})"
            );
        }
        assert!(
            stored.iter().any(|t| t.selector == other.selector && t.is_live(now)),
            "contract: re-issuing one purpose leaves the live token of another purpose alone (round {round})"
        );
        clock.advance(Duration::seconds(1));
    }
}

/// Concurrent address changes: 12 accounts each change their address to the same new one
/// (typed in different cases) while 4 new accounts are inserted with it. Exactly one write
/// takes the address; the other updates and inserts are refused with `Conflict { Email }`
/// and change nothing; the winner's old address is free again. 10 rounds.
pub async fn concurrency_email_taken_once_by_concurrent_changes(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(803);
    for round in 0..10 {
        let now = clock.now();
        let owners: Vec<AccountRecord> =
            (0..12).map(|i| fx.account(&format!("personne.{round}.{i}@exemple.fr"), now)).collect();
        commit_ok(&store, insert_accounts(owners.clone()), "an insert applies").await;
        let target = format!("convoitee.{round}@exemple.fr");
        let typed = |i: usize| -> Email {
            let text: String = target
                .chars()
                .enumerate()
                .map(|(j, c)| if (i + j).is_multiple_of(3) { c.to_ascii_uppercase() } else { c })
                .collect();
            Email::parse(&text).expect("a valid address")
        };
        let mut changes: Vec<ChangeSet> = owners
            .iter()
            .enumerate()
            .map(|(i, owner)| {
                let email = typed(i);
                write_accounts([update(owner, now, move |a| a.email = Some(email))])
            })
            .collect();
        let newcomers: Vec<AccountRecord> = (0..4)
            .map(|i| {
                let mut account = fx.account(&format!("nouveau.{round}.{i}@exemple.fr"), now);
                account.email = Some(typed(12 + i));
                account
            })
            .collect();
        changes.extend(newcomers.iter().map(|a| insert_accounts([a.clone()])));
        let outcomes = race(&store, changes).await;
        let mut winners = Vec::new();
        for (i, outcome) in outcomes {
            match outcome {
                Ok(()) => winners.push(i),
                Err(StoreError::Conflict { what: ConflictKind::Email }) => {}
                Err(other) => panic!(
                    "contract: a write losing an address to a concurrent one is refused with Conflict {{ Email }}; \
                     write {i} got {other:?} (round {round})"
                ),
            }
        }
        assert_eq!(
            winners.len(),
            1,
            "contract: the email key is unique under concurrent inserts and address changes: of 16 concurrent writes \
             to one address exactly one succeeds; {} did (round {round})",
            winners.len()
        );
        let key = Email::parse(&target).unwrap().key().clone();
        let holders = ok(store.accounts_by_emails(std::slice::from_ref(&key)).await, "reads");
        assert_eq!(holders.len(), 1, "contract: exactly one account holds the email key (round {round})");
        let winner = winners[0];
        let expected_id = if winner < 12 { owners[winner].id } else { newcomers[winner - 12].id };
        assert_eq!(
            holders[0].id, expected_id,
            "contract: the account holding the address is the one whose write succeeded (round {round})"
        );
        for (i, owner) in owners.iter().enumerate() {
            let stored = stored_account(&store, owner.id, "owners are kept").await;
            if i == winner {
                let old = owner.email.as_ref().unwrap().key();
                assert_eq!(
                    ok(store.account_by_email(old).await, "reads"),
                    None,
                    "contract: an address change frees the old email key (round {round})"
                );
            } else {
                assert_eq!(stored, *owner, "contract: a refused address change changes nothing (round {round})");
            }
        }
        for (i, newcomer) in newcomers.iter().enumerate() {
            let stored = ok(store.account(newcomer.id).await, "reads");
            assert_eq!(stored.is_some(), winner == 12 + i, "contract: a refused insert stores nothing (round {round})");
        }
        clock.advance(Duration::seconds(1));
    }
}

/// Concurrent hits, round after round with a different limit: 48 hits on one key and
/// window at once, `limit` of them allowed exactly, every count from 1 to 48 given once,
/// and `rate_limit_count` reads 48 afterwards. 20 rounds.
pub async fn concurrency_rate_limit_exact_every_round(store: Arc<dyn Store>, clock: TestClock) {
    for round in 0..20u32 {
        let limit = 1 + round * 2;
        let now = clock.now();
        let key = format!("reset:{round}:jeanne@exemple.fr");
        let barrier = Arc::new(Barrier::new(48));
        let mut tasks = JoinSet::new();
        for _ in 0..48 {
            let store = Arc::clone(&store);
            let barrier = Arc::clone(&barrier);
            let key = key.clone();
            tasks.spawn(async move {
                barrier.wait().await;
                store.hit_rate_limit(&key, limit, Duration::minutes(15), now).await
            });
        }
        let mut allowed = 0;
        let mut counts = BTreeSet::new();
        while let Some(outcome) = tasks.join_next().await {
            let decision = ok(outcome.expect("a hitting task does not panic"), "hit_rate_limit works");
            assert_eq!(
                decision.allowed,
                decision.count <= u64::from(limit),
                "contract: a hit is allowed exactly when its count is <= limit (round {round})"
            );
            allowed += u32::from(decision.allowed);
            assert!(
                counts.insert(decision.count),
                "contract: rate-limit hits are counted atomically: count {} was given to two concurrent hits (round {round})",
                decision.count
            );
        }
        assert_eq!(
            allowed, limit,
            "contract: of 48 concurrent hits with limit {limit} exactly {limit} are allowed (round {round})"
        );
        assert_eq!(counts, (1..=48).collect(), "contract: each concurrent hit is counted once (round {round})");
        assert_eq!(
            ok(store.rate_limit_count(&key, Duration::minutes(15), now).await, "reads"),
            48,
            "contract: rate_limit_count reads every concurrent hit (round {round})"
        );
        clock.advance(Duration::minutes(15));
    }
}

/// Exclusive claims, round after round: 16 claimers released together each claim up to 2
/// of 10 due mails; every mail goes to exactly one claimer with `attempts` 1. Once the
/// leases lapse, 16 claimers race again: every mail again goes to exactly one, with
/// `attempts` 2, and the first owners' settlements are refused with `LeaseLost`. 15 rounds.
pub async fn concurrency_claims_are_exclusive_every_round(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(805);
    let account = fx.account("jeanne@exemple.fr", clock.now());
    commit_ok(&store, insert_accounts([account.clone()]), "an insert applies").await;
    let lease = Duration::minutes(5);
    for round in 0..15 {
        let mails: Vec<_> = (0..10).map(|_| fx.mail(&account, MailKind::PasswordReset, clock.now())).collect();
        commit_ok(&store, enqueue_mails(mails.clone()), "enqueueing applies").await;
        let expected: BTreeSet<MailId> = mails.iter().map(|m| m.id).collect();
        let mut first_owner = std::collections::BTreeMap::new();
        for attempt in 1..=2u32 {
            let now = clock.now();
            let barrier = Arc::new(Barrier::new(16));
            let mut tasks = JoinSet::new();
            for worker in 0..16 {
                let store = Arc::clone(&store);
                let barrier = Arc::clone(&barrier);
                let owner = format!("dispatcher-{round}-{attempt}-{worker}");
                tasks.spawn(async move {
                    barrier.wait().await;
                    let batch = store.claim_mails(&claim(&owner, now, lease, 2)).await;
                    (owner, batch)
                });
            }
            let mut handed = Vec::new();
            let mut owners = std::collections::BTreeMap::new();
            while let Some(outcome) = tasks.join_next().await {
                let (owner, batch) = outcome.expect("a claimer does not panic");
                for mail in ok(batch, "claims work") {
                    handed.push((mail.id, mail.attempts));
                    owners.insert(mail.id, owner.clone());
                }
            }
            let distinct: BTreeSet<MailId> = handed.iter().map(|(id, _)| *id).collect();
            assert_eq!(
                distinct.len(),
                handed.len(),
                "contract: claims are exclusive: of 16 concurrent claimers no two receive the same mail \
                 (round {round}, claim {attempt})"
            );
            assert!(
                handed.iter().all(|(_, attempts)| *attempts == attempt),
                "contract: each claim of a mail counts one attempt (round {round}, claim {attempt})"
            );
            assert_eq!(
                distinct, expected,
                "contract: concurrent claimers together claim every due mail (round {round}, claim {attempt})"
            );
            if attempt == 1 {
                first_owner = owners;
                clock.advance(lease + Duration::seconds(1));
            } else {
                for (id, owner) in &first_owner {
                    let refused = store.mark_mail_sent(*id, owner, clock.now()).await;
                    assert!(
                        matches!(refused, Err(StoreError::LeaseLost)),
                        "contract: a lapsed lease taken by another claimer is lost to its first owner; got {refused:?} \
                         (round {round})"
                    );
                }
                for (id, owner) in &owners {
                    ok(store.mark_mail_sent(*id, owner, clock.now()).await, "the current owner settles its mail");
                }
            }
        }
        clock.advance(Duration::seconds(1));
    }
}

/// A consumption racing a revocation of the same token (an address change or a disable
/// revoking every link while the link is being used). The contract makes them serial:
/// - either the consumption wins: its commit succeeds and applies whole, the token is
///   consumed and **not** revoked (a revocation only touches live tokens);
/// - or the revocation wins: the consumption is refused with `TokenUnavailable` and
///   applies nothing, and the token is revoked with the revocation's reason and not consumed.
///
/// Never both consumed and revoked, never a consumption that succeeded on a revoked token.
/// The revocation itself always succeeds. 60 rounds, alternating revocations of every
/// purpose and of the token's purpose.
pub async fn concurrency_consumption_racing_revocation_is_serial(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(806);
    let account = fx.account("jeanne@exemple.fr", clock.now());
    commit_ok(&store, insert_accounts([account.clone()]), "an insert applies").await;
    for round in 0..60 {
        let now = clock.now();
        let token = fx.token(&account, TokenPurpose::PasswordReset, now, Duration::hours(1));
        commit_ok(&store, insert_tokens([token.clone()]), "a token insert applies").await;
        let account_now = stored_account(&store, account.id, "kept").await;
        let name = FullName::parse(&format!("Jeanne {round}")).unwrap();
        let mut use_link = write_accounts([update(&account_now, now, move |a| a.full_name = name)]);
        use_link.consume = Some(consumption(&token, now));
        use_link.audit.push(fx.audit(Some(account.id), AuditAction::PasswordResetCompleted, Some(account.id), now));
        let reason = if round % 2 == 0 { RevokeReason::AccountDisabled } else { RevokeReason::EmailChanged };
        let revoke = ChangeSet {
            revocations: vec![TokenRevocation {
                account_id: account.id,
                purpose: (round % 2 == 1).then_some(TokenPurpose::PasswordReset),
                reason,
                at: now,
            }],
            ..ChangeSet::default()
        };
        // Which task reaches the barrier last (and so runs first) alternates with the round.
        let (consumed, revoked) = if round % 4 < 2 {
            let mut outcomes = race(&store, vec![use_link, revoke]).await;
            let revoked = outcomes.pop().expect("two outcomes").1;
            (outcomes.pop().expect("two outcomes").1, revoked)
        } else {
            let mut outcomes = race(&store, vec![revoke, use_link]).await;
            let consumed = outcomes.pop().expect("two outcomes").1;
            (consumed, outcomes.pop().expect("two outcomes").1)
        };
        if let Err(error) = &revoked {
            panic!("contract: a revocation always applies; got {error:?} (round {round})");
        }
        let stored = ok(store.token(&token.selector).await, "reads").expect("the token is kept");
        let after = stored_account(&store, account.id, "kept").await;
        match &consumed {
            Ok(()) => {
                assert_eq!(
                    (stored.consumed_at, stored.revoked_at, stored.revoked_reason),
                    (Some(now), None, None),
                    "contract: a consumption racing a revocation is serial: the consumption succeeded, so the token is \
                     consumed and not revoked (round {round})"
                );
                assert_eq!(
                    after.version,
                    account_now.version + 1,
                    "contract: a successful consumption applies whole (round {round})"
                );
            }
            Err(StoreError::TokenUnavailable) => {
                assert_eq!(
                    (stored.consumed_at, stored.revoked_at, stored.revoked_reason),
                    (None, Some(now), Some(reason)),
                    "contract: a consumption racing a revocation is serial: the consumption was refused, so the \
                     token is revoked with the revocation's reason and not consumed (round {round})"
                );
                assert_eq!(after, account_now, "contract: a refused consumption applies nothing (round {round})");
            }
            Err(other) => panic!(
                "contract: a consumption losing to a revocation is refused with TokenUnavailable; got {other:?} (round {round})"
            ),
        }
        clock.advance(Duration::seconds(1));
    }
}
