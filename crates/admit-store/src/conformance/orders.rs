//! Orders, keys and encodings the contract fixes and other cases leave loose: the order of
//! `tokens_of` for tokens of one instant, what "oldest first" means for claims, what "due
//! again at once" means after a release, whether a rate-limit window's length is part of
//! its key, and the whole range of the `u64` fields.

use std::sync::Arc;

use time::Duration;

use admit_core::{Clock, CredentialEpoch, MailKind, TestClock, TokenPurpose, TokenRecord};

use super::fixtures::{Fixtures, enqueue_mails, insert_accounts, insert_tokens, update, write_accounts};
use super::outbox::claim;
use super::support::{commit_ok, ok, stored_account, stored_mail};
use super::tokens::consume;
use crate::{MailId, Store};

/// `tokens_of` is ordered by `created_at`, then (tokens created at the same instant) by
/// selector, byte by byte — never by insertion order.
pub async fn tokens_of_lists_oldest_first_then_by_selector(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(901);
    let start = clock.now();
    let account = fx.account("jeanne@exemple.fr", start);
    commit_ok(&store, insert_accounts([account.clone()]), "an insert applies").await;
    // Inserted newest first, and within one instant in whatever order the selectors come.
    let purposes = [TokenPurpose::Invitation, TokenPurpose::PasswordReset];
    let mut all: Vec<TokenRecord> = Vec::new();
    for step in (0..3).rev() {
        let at = start + Duration::seconds(step);
        for purpose in purposes {
            for _ in 0..3 {
                let token = fx.token(&account, purpose, at, Duration::days(1));
                commit_ok(&store, insert_tokens([token.clone()]), "a token insert applies").await;
                all.push(token);
            }
        }
    }
    let mut expected: Vec<_> = all.iter().map(|t| (t.created_at, t.selector.to_bytes())).collect();
    expected.sort();
    let listed: Vec<_> =
        ok(store.tokens_of(account.id).await, "reads").iter().map(|t| (t.created_at, t.selector.to_bytes())).collect();
    assert_eq!(
        listed, expected,
        "contract: tokens_of lists every token of the account by created_at, then by selector bytes (ascending)"
    );
}

/// "Oldest first" for claims is ascending mail id (ids are UUIDv7: their byte order is
/// creation order), not `created_at` and not `next_attempt_at`.
pub async fn outbox_claims_oldest_id_first(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(902);
    let start = clock.now();
    let account = fx.account("jeanne@exemple.fr", start);
    commit_ok(&store, insert_accounts([account.clone()]), "an insert applies").await;
    // Ids ascend while created_at and next_attempt_at descend; enqueued in a shuffled order.
    let mut mails: Vec<_> = (0..6)
        .map(|i| {
            let mut mail = fx.mail(&account, MailKind::Invitation, start + Duration::milliseconds(i));
            mail.created_at = start - Duration::seconds(i);
            mail.next_attempt_at = start - Duration::seconds(i);
            mail
        })
        .collect();
    let ids: Vec<MailId> = mails.iter().map(|m| m.id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "fixture ids ascend");
    mails.swap(0, 4);
    mails.swap(1, 3);
    commit_ok(&store, enqueue_mails(mails), "enqueueing applies").await;
    let now = start + Duration::seconds(1);
    let mut order = Vec::new();
    for _ in 0..6 {
        let batch = ok(store.claim_mails(&claim("dispatcher", now, Duration::minutes(5), 1)).await, "claims work");
        order.extend(batch.iter().map(|m| m.id));
    }
    assert_eq!(
        order, ids,
        "contract: claim_mails takes due mails in ascending mail id order (not by created_at or next_attempt_at)"
    );
    let batch = ok(store.claim_mails(&claim("other", now, Duration::minutes(5), 6)).await, "claims work");
    assert!(batch.is_empty(), "every mail is leased");
}

/// "Due again at once" after `release_mail`: the release keeps `next_attempt_at`, so a
/// claim at the very instant of the released claim takes the mail again, with the attempt
/// the release took back.
pub async fn outbox_release_is_due_again_at_the_same_instant(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(903);
    let enqueued_at = clock.now();
    let account = fx.account("jeanne@exemple.fr", enqueued_at);
    commit_ok(&store, insert_accounts([account.clone()]), "an insert applies").await;
    let mail = fx.mail(&account, MailKind::PasswordReset, enqueued_at);
    commit_ok(&store, enqueue_mails([mail.clone()]), "enqueueing applies").await;
    clock.advance(Duration::minutes(3));
    let now = clock.now();
    let first = ok(store.claim_mails(&claim("a", now, Duration::minutes(5), 1)).await, "claims work");
    assert_eq!(first.len(), 1, "the mail is due");
    ok(store.release_mail(mail.id, "a").await, "the owner releases its mail");
    let released = stored_mail(&store, mail.id, "kept").await;
    assert_eq!(
        (released.next_attempt_at, released.attempts, released.lease.clone()),
        (mail.next_attempt_at, 0, None),
        "contract: release_mail clears the lease, takes the attempt back and keeps next_attempt_at"
    );
    let again = ok(store.claim_mails(&claim("b", now, Duration::minutes(5), 1)).await, "claims work");
    assert_eq!(
        again.iter().map(|m| (m.id, m.attempts)).collect::<Vec<_>>(),
        vec![(mail.id, 1)],
        "contract: a released mail is due again at once: a claim at the same instant takes it, attempts 1"
    );
}

/// A window's length is part of its key: hits on one key with windows of different lengths
/// (here 1 minute and 1 hour, both starting at the same instant) are counted apart, read
/// apart, and purged by their own end.
pub async fn rate_limit_window_length_is_part_of_the_key(store: Arc<dyn Store>, clock: TestClock) {
    let start = clock.now();
    let hour = Duration::hours(1);
    let minute = Duration::minutes(1);
    assert_eq!(crate::window_start(start, hour), crate::window_start(start, minute), "both windows start at once");
    let key = "link:jeanne";
    for _ in 0..3 {
        ok(store.hit_rate_limit(key, 10, hour, start).await, "hits count");
    }
    let short = ok(store.hit_rate_limit(key, 10, minute, start).await, "hits count");
    assert_eq!(
        (short.count, short.resets_at),
        (1, start + minute),
        "contract: a window's length is part of its key: a 1-minute window starting with a 1-hour one counts apart"
    );
    assert_eq!(
        ok(store.rate_limit_count(key, hour, start).await, "reads"),
        3,
        "contract: rate_limit_count reads the window of the given length"
    );
    assert_eq!(ok(store.rate_limit_count(key, minute, start).await, "reads"), 1, "contract: each length apart");
    let report = ok(store.purge(start + Duration::minutes(2)).await, "purges");
    assert_eq!(report.rate_limits, 1, "contract: purge removes the window that ended, by its own end");
    assert_eq!(
        ok(store.rate_limit_count(key, hour, start + Duration::minutes(2)).await, "reads"),
        3,
        "contract: the longer window outlives the shorter one with the same start"
    );
}

/// `version` and `credential_epoch` are `u64` over their whole range: values above
/// `i64::MAX` (a signed `BIGINT` column must store them bit for bit) read back exactly,
/// compare exactly in version and epoch preconditions, and count up across the sign bit.
pub async fn accounts_u64_fields_keep_their_whole_range(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(904);
    let now = clock.now();
    let mut account = fx.account("jeanne@exemple.fr", now);
    account.version = i64::MAX as u64;
    account.credential_epoch = CredentialEpoch(u64::MAX);
    commit_ok(&store, insert_accounts([account.clone()]), "an insert applies").await;
    assert_eq!(
        stored_account(&store, account.id, "kept").await,
        account,
        "contract: u64 fields above i64::MAX read back exactly"
    );
    let next = update(&account, now, |a| a.must_change_password = true);
    commit_ok(&store, write_accounts([next]), "contract: a version precondition at i64::MAX compares exactly").await;
    let stored = stored_account(&store, account.id, "kept").await;
    assert_eq!(stored.version, i64::MAX as u64 + 1, "contract: the version counts up across i64::MAX");
    let token = fx.token(&stored, TokenPurpose::PasswordReset, now, Duration::hours(1));
    commit_ok(&store, insert_tokens([token.clone()]), "a token insert applies").await;
    assert_eq!(
        ok(store.token(&token.selector).await, "reads").map(|t| t.credential_epoch),
        Some(CredentialEpoch(u64::MAX)),
        "contract: a token's epoch reads back exactly"
    );
    commit_ok(&store, consume(&token, now), "contract: a consumption compares epochs above i64::MAX exactly").await;
}

/// A lease that lapsed without another claimer taking the mail still belongs to its owner:
/// the owner may settle the mail (a slow send that finished late is recorded, not lost).
pub async fn outbox_owner_settles_a_lapsed_lease_nobody_took(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(905);
    let account = fx.account("jeanne@exemple.fr", clock.now());
    commit_ok(&store, insert_accounts([account.clone()]), "an insert applies").await;
    let mail = fx.mail(&account, MailKind::PasswordChanged, clock.now());
    commit_ok(&store, enqueue_mails([mail.clone()]), "enqueueing applies").await;
    let claimed = ok(store.claim_mails(&claim("slow", clock.now(), Duration::minutes(1), 1)).await, "claims work");
    assert_eq!(claimed.len(), 1, "the mail is due");
    clock.advance(Duration::minutes(5));
    ok(
        store.mark_mail_sent(mail.id, "slow", clock.now()).await,
        "contract: the owner of a lapsed lease that nobody else took may still settle its mail",
    );
    let sent = stored_mail(&store, mail.id, "kept").await;
    assert_eq!(
        (sent.status, sent.sent_at, sent.lease),
        (crate::MailStatus::Sent, Some(clock.now()), None),
        "contract: the late settlement is recorded"
    );
}
