//! `outbox_*` and `journal_*`: enqueueing, claiming with leases, settling, and the journal.

use std::collections::BTreeSet;
use std::sync::Arc;

use time::Duration;

use admit_core::mail::Lease;
use admit_core::{AccountRecord, Clock, MailKind, MailRecord, MailStatus, TestClock, Timestamp};

use super::fixtures::{Fixtures, enqueue_mails, insert_accounts};
use super::support::{commit_ok, ok, refused, stored_mail};
use crate::query::MailQuery;
use crate::{MailClaim, MailId, Store, StoreError};

pub(crate) fn claim(owner: &str, now: Timestamp, lease: Duration, limit: u32) -> MailClaim {
    MailClaim { owner: owner.to_owned(), now, lease, limit }
}

fn scrubbed(mail: &MailRecord) -> MailRecord {
    let mut mail = mail.clone();
    mail.params.secret = None;
    mail
}

fn assert_lease_lost(error: StoreError, what: &str) {
    assert!(matches!(error, StoreError::LeaseLost), "contract: {what} is LeaseLost; got {error:?}");
}

/// One account and `n` mails to it, enqueued 1 ms apart (oldest first), clock left after the last.
async fn seeded_mails(
    store: &Arc<dyn Store>,
    clock: &TestClock,
    seed: u64,
    n: usize,
) -> (AccountRecord, Vec<MailRecord>) {
    let mut fx = Fixtures::new(seed);
    let account = fx.account("jeanne@exemple.fr", clock.now());
    commit_ok(store, insert_accounts([account.clone()]), "an insert applies").await;
    let mut mails = Vec::new();
    for i in 0..n {
        let kind = if i % 2 == 0 { MailKind::PasswordReset } else { MailKind::Invitation };
        mails.push(fx.mail(&account, kind, clock.now()));
        clock.advance(Duration::milliseconds(1));
    }
    commit_ok(store, enqueue_mails(mails.clone()), "enqueueing mails applies").await;
    (account, mails)
}

async fn claim_ok(store: &Arc<dyn Store>, claim: MailClaim) -> Vec<MailRecord> {
    ok(store.claim_mails(&claim).await, "claim_mails works")
}

/// A mail enqueued by a commit reads back whole, but with its secret scrubbed.
pub async fn outbox_enqueue_then_read_scrubbed(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(301);
    let account = fx.account("jeanne@exemple.fr", clock.now());
    let mut change = insert_accounts([account.clone()]);
    let invitation = fx.mail(&account, MailKind::Invitation, clock.now());
    let mut notice = fx.mail(&account, MailKind::EmailChanged, clock.now());
    notice.account_id = None;
    change.mails = vec![invitation.clone(), notice.clone()];
    commit_ok(&store, change, "a change with mails applies").await;
    assert!(invitation.params.secret.is_some(), "the fixture invitation carries a secret");
    assert_eq!(
        stored_mail(&store, invitation.id, "an enqueued mail is kept").await,
        scrubbed(&invitation),
        "contract: mail(id) returns the record whole, with params.secret scrubbed"
    );
    assert_eq!(
        stored_mail(&store, notice.id, "an enqueued mail is kept").await,
        notice,
        "contract: a mail without account and without secret round-trips whole"
    );
    assert_eq!(ok(store.mail(fx.mail_id(clock.now())).await, "reads"), None, "contract: an unknown mail is None");
}

/// Claims hand out due mails oldest first, with their secrets, a lease and one more attempt.
pub async fn outbox_claim_hands_out_due_mails_oldest_first(store: Arc<dyn Store>, clock: TestClock) {
    let (_, mails) = seeded_mails(&store, &clock, 302, 5).await;
    let now = clock.now();
    let lease = Duration::minutes(5);
    let claimed = claim_ok(&store, claim("dispatcher-a", now, lease, 10)).await;
    let expected: Vec<MailRecord> = mails
        .iter()
        .map(|m| {
            let mut m = scrubbed(m);
            m.attempts = 1;
            m.lease = Some(Lease { owner: "dispatcher-a".to_owned(), until: now + lease });
            m
        })
        .collect();
    assert_eq!(
        claimed, expected,
        "contract: claim_mails returns every due mail oldest first, whole with its intent (never a secret), with \
         the lease (owner, now + lease) and attempts + 1"
    );
    let again = claim_ok(&store, claim("dispatcher-b", now, lease, 10)).await;
    assert!(again.is_empty(), "contract: while a lease holds, no other claimer receives the mail");
    let stored = stored_mail(&store, mails[0].id, "kept").await;
    assert_eq!(stored, scrubbed(&expected[0]), "contract: the claim's lease and attempts are stored");
}

/// At most `limit` mails per claim, the oldest; the next claim takes the rest.
pub async fn outbox_claim_respects_the_limit(store: Arc<dyn Store>, clock: TestClock) {
    let (_, mails) = seeded_mails(&store, &clock, 303, 7).await;
    let now = clock.now();
    let first = claim_ok(&store, claim("a", now, Duration::minutes(5), 3)).await;
    let ids: Vec<MailId> = first.iter().map(|m| m.id).collect();
    assert_eq!(
        ids,
        mails[..3].iter().map(|m| m.id).collect::<Vec<_>>(),
        "contract: a claim takes at most limit mails, oldest first"
    );
    let second = claim_ok(&store, claim("b", now, Duration::minutes(5), 10)).await;
    let ids: Vec<MailId> = second.iter().map(|m| m.id).collect();
    assert_eq!(
        ids,
        mails[3..].iter().map(|m| m.id).collect::<Vec<_>>(),
        "contract: the next claim takes the remaining due mails"
    );
    let none = claim_ok(&store, claim("c", now, Duration::minutes(5), 0)).await;
    assert!(none.is_empty(), "contract: a claim with limit 0 takes nothing");
}

/// A lease holds through `until` and lapses after it: then another claimer takes the mail,
/// and the first owner's settlement is refused.
pub async fn outbox_lease_holds_until_it_lapses(store: Arc<dyn Store>, clock: TestClock) {
    let (_, mails) = seeded_mails(&store, &clock, 304, 1).await;
    let lease = Duration::seconds(30);
    let first = claim_ok(&store, claim("a", clock.now(), lease, 10)).await;
    assert_eq!(first.len(), 1, "contract: a due mail is claimed");
    let until = clock.now() + lease;
    clock.set(until);
    assert!(
        claim_ok(&store, claim("b", clock.now(), lease, 10)).await.is_empty(),
        "contract: a lease still holds at exactly its until (due only once until < now)"
    );
    clock.advance(Duration::microseconds(1));
    let second = claim_ok(&store, claim("b", clock.now(), lease, 10)).await;
    assert_eq!(second.len(), 1, "contract: after its lease lapses a mail is claimed again");
    assert_eq!(second[0].attempts, 2, "contract: each claim counts an attempt");
    assert_eq!(
        second[0].lease,
        Some(Lease { owner: "b".to_owned(), until: clock.now() + lease }),
        "contract: the new claim holds the lease"
    );
    assert_eq!(
        second[0].params.intent, mails[0].params.intent,
        "contract: a re-claimed pending mail still has its intent"
    );
    let error = refused(store.mark_mail_sent(mails[0].id, "a", clock.now()).await, "the first owner lost the lease");
    assert_lease_lost(error, "settling a mail whose lease passed to another claimer");
    ok(store.mark_mail_sent(mails[0].id, "b", clock.now()).await, "the new owner settles the mail");
}

/// A mail whose `next_attempt_at` is in the future is not due; it is at exactly that instant.
pub async fn outbox_future_attempt_is_not_due(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(305);
    let account = fx.account("jeanne@exemple.fr", clock.now());
    let mut mail = fx.mail(&account, MailKind::PasswordReset, clock.now());
    mail.next_attempt_at = clock.now() + Duration::minutes(1);
    let mut change = insert_accounts([account]);
    change.mails = vec![mail.clone()];
    commit_ok(&store, change, "a change with a mail applies").await;
    assert!(
        claim_ok(&store, claim("a", clock.now(), Duration::minutes(5), 10)).await.is_empty(),
        "contract: a mail is not due before next_attempt_at"
    );
    clock.set(mail.next_attempt_at - Duration::microseconds(1));
    assert!(
        claim_ok(&store, claim("a", clock.now(), Duration::minutes(5), 10)).await.is_empty(),
        "contract: a mail is not due 1 µs before next_attempt_at"
    );
    clock.set(mail.next_attempt_at);
    let claimed = claim_ok(&store, claim("a", clock.now(), Duration::minutes(5), 10)).await;
    assert_eq!(claimed.len(), 1, "contract: a mail is due at exactly next_attempt_at");
}

/// Marking sent clears the lease, sets `sent_at`, scrubs the secret for good; the mail is never
/// claimed again and a second settlement is refused.
pub async fn outbox_mark_sent_scrubs_the_secret(store: Arc<dyn Store>, clock: TestClock) {
    let (_, mails) = seeded_mails(&store, &clock, 306, 1).await;
    let claimed = claim_ok(&store, claim("a", clock.now(), Duration::minutes(5), 10)).await;
    clock.advance(Duration::seconds(2));
    ok(store.mark_mail_sent(mails[0].id, "a", clock.now()).await, "the owner marks its mail sent");
    let mut expected = scrubbed(&claimed[0]);
    expected.status = MailStatus::Sent;
    expected.sent_at = Some(clock.now());
    expected.lease = None;
    assert_eq!(
        stored_mail(&store, mails[0].id, "kept").await,
        expected,
        "contract: mark_mail_sent sets Sent and sent_at, clears the lease, keeps attempts"
    );
    clock.advance(Duration::hours(1));
    assert!(
        claim_ok(&store, claim("b", clock.now(), Duration::minutes(5), 10)).await.is_empty(),
        "contract: a sent mail is never claimed again (and its secret is gone from the outbox)"
    );
    let error = refused(store.mark_mail_sent(mails[0].id, "a", clock.now()).await, "a sent mail has no lease");
    assert_lease_lost(error, "settling a mail already sent");
}

/// Retry clears the lease, records the error and the next attempt; the mail keeps its secret
/// and is due again at `next_attempt_at`.
pub async fn outbox_retry_reschedules(store: Arc<dyn Store>, clock: TestClock) {
    let (_, mails) = seeded_mails(&store, &clock, 307, 1).await;
    let claimed = claim_ok(&store, claim("a", clock.now(), Duration::minutes(5), 10)).await;
    let next = clock.now() + Duration::seconds(90);
    ok(store.retry_mail(mails[0].id, "a", next, "421 4.7.0 try again later").await, "the owner retries its mail");
    let mut expected = scrubbed(&claimed[0]);
    expected.lease = None;
    expected.next_attempt_at = next;
    expected.last_error = Some("421 4.7.0 try again later".to_owned());
    assert_eq!(
        stored_mail(&store, mails[0].id, "kept").await,
        expected,
        "contract: retry_mail clears the lease, sets next_attempt_at and last_error, stays Pending"
    );
    assert!(
        claim_ok(&store, claim("b", clock.now(), Duration::minutes(5), 10)).await.is_empty(),
        "contract: a retried mail is not due before its next attempt"
    );
    clock.set(next);
    let again = claim_ok(&store, claim("b", clock.now(), Duration::minutes(5), 10)).await;
    assert_eq!(again.len(), 1, "contract: a retried mail is due at its next attempt");
    assert_eq!(again[0].attempts, 2, "contract: the second claim counts a second attempt");
    assert_eq!(again[0].params.intent, mails[0].params.intent, "contract: a retried mail keeps its intent");
    let error = refused(store.retry_mail(mails[0].id, "a", next, "late").await, "the old owner lost the lease");
    assert_lease_lost(error, "retrying a mail another claimer holds");
}

/// Fail gives the mail up: `Failed`, `failed_at`, `last_error`, lease cleared, secret scrubbed.
pub async fn outbox_fail_gives_up_and_scrubs(store: Arc<dyn Store>, clock: TestClock) {
    let (_, mails) = seeded_mails(&store, &clock, 308, 1).await;
    let claimed = claim_ok(&store, claim("a", clock.now(), Duration::minutes(5), 10)).await;
    clock.advance(Duration::seconds(1));
    ok(
        store.fail_mail(mails[0].id, "a", clock.now(), "550 5.1.1 mailbox unavailable").await,
        "the owner fails its mail",
    );
    let mut expected = scrubbed(&claimed[0]);
    expected.status = MailStatus::Failed;
    expected.failed_at = Some(clock.now());
    expected.lease = None;
    expected.last_error = Some("550 5.1.1 mailbox unavailable".to_owned());
    assert_eq!(
        stored_mail(&store, mails[0].id, "kept").await,
        expected,
        "contract: fail_mail sets Failed, failed_at and last_error, clears the lease"
    );
    clock.advance(Duration::days(1));
    assert!(
        claim_ok(&store, claim("b", clock.now(), Duration::minutes(5), 10)).await.is_empty(),
        "contract: a failed mail is never claimed again (its secret is scrubbed)"
    );
    let error = refused(store.release_mail(mails[0].id, "a").await, "a failed mail has no lease");
    assert_lease_lost(error, "releasing a failed mail");
}

/// Release clears the lease and takes back the attempt; the mail is due again at once.
pub async fn outbox_release_takes_back_the_attempt(store: Arc<dyn Store>, clock: TestClock) {
    let (_, mails) = seeded_mails(&store, &clock, 309, 1).await;
    claim_ok(&store, claim("a", clock.now(), Duration::minutes(5), 10)).await;
    ok(store.release_mail(mails[0].id, "a").await, "the owner releases its mail");
    assert_eq!(
        stored_mail(&store, mails[0].id, "kept").await,
        scrubbed(&mails[0]),
        "contract: release_mail clears the lease and takes back the attempt, leaving the mail as enqueued"
    );
    let again = claim_ok(&store, claim("b", clock.now(), Duration::minutes(5), 10)).await;
    assert_eq!(again.len(), 1, "contract: a released mail is due again at once");
    assert_eq!(again[0].attempts, 1, "contract: a released claim did not count as an attempt");
    let error = refused(store.release_mail(mails[0].id, "a").await, "the old owner lost the lease");
    assert_lease_lost(error, "releasing a mail another claimer holds");
}

/// Every settlement by a wrong owner, of an unclaimed mail or of an unknown mail is `LeaseLost`
/// and changes nothing.
pub async fn outbox_wrong_owner_is_refused(store: Arc<dyn Store>, clock: TestClock) {
    let (_, mails) = seeded_mails(&store, &clock, 310, 2).await;
    let now = clock.now();
    let claimed = claim_ok(&store, claim("owner", now, Duration::minutes(5), 1)).await;
    assert_eq!(claimed.len(), 1, "one mail claimed");
    let held = claimed[0].id;
    let unclaimed = mails[1].id;
    let unknown = Fixtures::new(311).mail_id(now);
    for id in [held, unclaimed, unknown] {
        let who = if id == held { "intruder" } else { "owner" };
        let what = if id == held {
            "another owner's mail"
        } else if id == unclaimed {
            "an unclaimed mail"
        } else {
            "an unknown mail"
        };
        assert_lease_lost(
            refused(store.mark_mail_sent(id, who, now).await, "refused"),
            &format!("mark_mail_sent of {what}"),
        );
        assert_lease_lost(
            refused(store.retry_mail(id, who, now, "x").await, "refused"),
            &format!("retry_mail of {what}"),
        );
        assert_lease_lost(
            refused(store.fail_mail(id, who, now, "x").await, "refused"),
            &format!("fail_mail of {what}"),
        );
        assert_lease_lost(refused(store.release_mail(id, who).await, "refused"), &format!("release_mail of {what}"));
    }
    assert_eq!(
        stored_mail(&store, held, "kept").await,
        scrubbed(&claimed[0]),
        "contract: refused settlements change nothing"
    );
    assert_eq!(
        stored_mail(&store, unclaimed, "kept").await,
        scrubbed(&mails[1]),
        "contract: refused settlements change nothing"
    );
}

async fn journal_all(store: &Arc<dyn Store>, mut query: MailQuery) -> Vec<MailRecord> {
    let mut out = Vec::new();
    for _ in 0..10_000 {
        let page = ok(store.journal(&query).await, "journal reads");
        out.extend(page.items);
        match page.next {
            Some(next) => query.after = Some(next),
            None => return out,
        }
    }
    panic!("contract: journal paging ends");
}

/// The journal and `mail()` never return a secret, whatever the mail's status.
pub async fn journal_never_shows_secrets(store: Arc<dyn Store>, clock: TestClock) {
    let (_, mails) = seeded_mails(&store, &clock, 320, 4).await;
    let now = clock.now();
    let claimed = claim_ok(&store, claim("a", now, Duration::minutes(5), 3)).await;
    assert!(
        claimed.iter().all(|m| m.params.intent.is_some() && m.params.secret.is_none()),
        "contract: claims carry the intents, never a secret (no store keeps one)"
    );
    ok(store.mark_mail_sent(claimed[0].id, "a", now).await, "mark sent");
    ok(store.fail_mail(claimed[1].id, "a", now, "refused").await, "fail");
    // claimed[2] stays leased, mails[3] stays pending and unclaimed.
    let journal = journal_all(&store, MailQuery::default()).await;
    assert_eq!(journal.len(), 4, "contract: the journal lists every mail");
    for mail in &journal {
        assert!(mail.params.secret.is_none(), "contract: the journal never returns a secret ({:?} mail)", mail.status);
    }
    for mail in &mails {
        let read = stored_mail(&store, mail.id, "kept").await;
        assert!(read.params.secret.is_none(), "contract: mail(id) never returns a secret ({:?} mail)", read.status);
    }
    let later = claim_ok(&store, claim("b", now, Duration::minutes(5), 10)).await;
    assert_eq!(later.len(), 1, "one pending mail left");
    assert_eq!(
        later[0].params.intent, mails[3].params.intent,
        "contract: reading the journal leaves a pending mail's intent"
    );
}

/// Journal filters: recipient and subject (case-insensitive substrings), account, kind,
/// status, since (inclusive) and until (exclusive).
pub async fn journal_filters(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(321);
    let start = clock.now();
    let jeanne = fx.account("Jeanne.Martin@exemple.fr", start);
    let paul = fx.account("paul@societe.fr", start);
    commit_ok(&store, insert_accounts([jeanne.clone(), paul.clone()]), "inserts apply").await;
    let reset_j = fx.mail(&jeanne, MailKind::PasswordReset, start);
    clock.advance(Duration::hours(1));
    let invite_p = fx.mail(&paul, MailKind::Invitation, clock.now());
    clock.advance(Duration::hours(1));
    let changed_j = fx.mail(&jeanne, MailKind::PasswordChanged, clock.now());
    let mut anonymous = fx.mail(&paul, MailKind::EmailChanged, clock.now());
    anonymous.account_id = None;
    let last = clock.now();
    commit_ok(
        &store,
        enqueue_mails([reset_j.clone(), invite_p.clone(), changed_j.clone(), anonymous.clone()]),
        "enqueueing applies",
    )
    .await;
    let sent = claim_ok(&store, claim("a", clock.now(), Duration::minutes(5), 1)).await;
    assert_eq!(sent[0].id, reset_j.id, "the oldest mail is claimed first");
    ok(store.mark_mail_sent(reset_j.id, "a", clock.now()).await, "mark sent");

    let ids = |mails: Vec<MailRecord>| mails.into_iter().map(|m| m.id).collect::<BTreeSet<_>>();
    let cases: Vec<(MailQuery, Vec<&MailRecord>, &str)> = vec![
        (
            MailQuery { recipient: Some("JEANNE.martin".into()), ..MailQuery::default() },
            vec![&reset_j, &changed_j],
            "recipient substring ignoring case",
        ),
        (
            MailQuery { recipient: Some("societe.FR".into()), ..MailQuery::default() },
            vec![&invite_p, &anonymous],
            "recipient domain",
        ),
        (MailQuery { account_id: Some(jeanne.id), ..MailQuery::default() }, vec![&reset_j, &changed_j], "account"),
        (
            MailQuery { account_id: Some(paul.id), ..MailQuery::default() },
            vec![&invite_p],
            "account (a mail without account is left out)",
        ),
        (
            MailQuery { subject: Some("MOT DE PASSE".into()), ..MailQuery::default() },
            vec![&reset_j, &changed_j],
            "subject « mot de passe » ignoring case",
        ),
        (
            MailQuery { subject: Some("réinitialisation".into()), ..MailQuery::default() },
            vec![&reset_j],
            "subject with non-ASCII letters",
        ),
        (
            MailQuery { subject: Some("RÉINITIALISATION".into()), ..MailQuery::default() },
            vec![&reset_j],
            "subject ignoring non-ASCII case",
        ),
        (MailQuery { kind: Some(MailKind::Invitation), ..MailQuery::default() }, vec![&invite_p], "kind"),
        (MailQuery { status: Some(MailStatus::Sent), ..MailQuery::default() }, vec![&reset_j], "status sent"),
        (
            MailQuery { status: Some(MailStatus::Pending), ..MailQuery::default() },
            vec![&invite_p, &changed_j, &anonymous],
            "status pending",
        ),
        (MailQuery { since: Some(last), ..MailQuery::default() }, vec![&changed_j, &anonymous], "since is inclusive"),
        (MailQuery { until: Some(last), ..MailQuery::default() }, vec![&reset_j, &invite_p], "until is exclusive"),
        (
            MailQuery { since: Some(start + Duration::microseconds(1)), until: Some(last), ..MailQuery::default() },
            vec![&invite_p],
            "since and until together",
        ),
        (
            MailQuery { account_id: Some(jeanne.id), subject: Some("modifié".into()), ..MailQuery::default() },
            vec![&changed_j],
            "filters combine",
        ),
        (MailQuery { recipient: Some("%".into()), ..MailQuery::default() }, vec![], "% is literal"),
    ];
    for (query, expected, what) in cases {
        let got = ids(journal_all(&store, query.clone()).await);
        let expected: BTreeSet<MailId> = expected.iter().map(|m| m.id).collect();
        assert_eq!(got, expected, "contract: journal filter: {what} ({query:?})");
    }
}

/// The journal pages newest first (descending id), every mail once.
pub async fn journal_pages_newest_first(store: Arc<dyn Store>, clock: TestClock) {
    let (_, mails) = seeded_mails(&store, &clock, 322, 23).await;
    let mut expected: Vec<MailId> = mails.iter().map(|m| m.id).collect();
    expected.sort();
    expected.reverse();
    let mut query = MailQuery { limit: 5, ..MailQuery::default() };
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = ok(store.journal(&query).await, "journal reads");
        pages += 1;
        if page.items.len() == 5 {
            assert_eq!(page.next, page.items.last().map(|m| m.id), "contract: a full page's next is its last id");
        } else {
            assert_eq!(page.next, None, "contract: a short page is the last one");
        }
        seen.extend(page.items.iter().map(|m| m.id));
        match page.next {
            Some(next) => query.after = Some(next),
            None => break,
        }
        assert!(pages < 20, "contract: paging ends");
    }
    assert_eq!(seen, expected, "contract: journal pages list every mail once, newest (greatest id) first");
    assert_eq!(pages, 5, "23 mails by 5 make 5 pages");
    let query = MailQuery { after: Some(expected[3]), limit: 1000, ..MailQuery::default() };
    let rest: Vec<MailId> = ok(store.journal(&query).await, "reads").items.iter().map(|m| m.id).collect();
    assert_eq!(rest, expected[4..].to_vec(), "contract: after lists only ids strictly smaller");
}
