//! `arming_*` and `cancellation_*`: [`Store::arm_mails`] (the dispatcher stores the digest
//! of a secret it just minted, or the mail is superseded), and the mail cancellations a
//! [`ChangeSet`] carries.

use std::sync::Arc;

use time::Duration;

use admit_core::{
    AccountRecord, AccountWrite, ChangeSet, Clock, MailCancellation, MailIntent, MailKind, MailRecord, MailStatus,
    PasswordHash, RevokeReason, TestClock, Timestamp, TokenConsumption, TokenPurpose, TokenRecord, TokenRevocation,
    VerifierHash,
};

use super::fixtures::{Fixtures, insert_accounts, update};
use super::outbox::claim;
use super::support::{commit_ok, ok, refused, stored_account, stored_mail};
use crate::{ArmOutcome, ArmedSecret, MailArming, Store, StoreError};

const LEASE: Duration = Duration::minutes(5);

fn link_mail(fx: &mut Fixtures, account: &AccountRecord, token: &TokenRecord, at: Timestamp) -> MailRecord {
    let kind = if token.purpose == TokenPurpose::Invitation { MailKind::Invitation } else { MailKind::PasswordReset };
    let mut mail = fx.mail(account, kind, at);
    mail.params.intent = Some(MailIntent::Link { selector: token.selector, purpose: token.purpose });
    mail
}

fn hash(byte: u8) -> VerifierHash {
    VerifierHash::from_bytes([byte; 32])
}

fn phc(n: u8) -> PasswordHash {
    PasswordHash::from_phc(format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ${n:02}aGFzaGhhc2hoYXNoaGFzaA"))
}

fn link_arming(mail: &MailRecord, byte: u8) -> MailArming {
    MailArming { mail: mail.id, secret: ArmedSecret::Link(hash(byte)) }
}

async fn arm(store: &Arc<dyn Store>, owner: &str, at: Timestamp, arms: &[MailArming]) -> Vec<ArmOutcome> {
    let outcomes = ok(store.arm_mails(owner, at, arms).await, "arm_mails works");
    assert_eq!(outcomes.len(), arms.len(), "contract: one outcome per arming, in order");
    outcomes
}

async fn verifier_of(store: &Arc<dyn Store>, token: &TokenRecord) -> Option<VerifierHash> {
    ok(store.token(&token.selector).await, "token reads").expect("the token is kept").verifier_hash
}

/// An account, a reserved token of `purpose` and its mail, committed together at `now`.
async fn reserved(
    store: &Arc<dyn Store>,
    fx: &mut Fixtures,
    email: &str,
    purpose: TokenPurpose,
    now: Timestamp,
) -> (AccountRecord, TokenRecord, MailRecord) {
    let account = fx.account(email, now);
    let token = fx.reserved_token(&account, purpose, now, Duration::days(1));
    let mail = link_mail(fx, &account, &token, now);
    let mut change = insert_accounts([account.clone()]);
    change.tokens.push(token.clone());
    change.mails.push(mail.clone());
    commit_ok(store, change, "an account, its reserved token and its mail commit together").await;
    (account, token, mail)
}

/// A reserved token (no verifier) is stored as such and can never be consumed.
pub async fn arming_reserved_token_is_never_consumed(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(1101);
    let now = clock.now();
    let (account, token, _) = reserved(&store, &mut fx, "jeanne@exemple.fr", TokenPurpose::PasswordReset, now).await;
    assert_eq!(verifier_of(&store, &token).await, None, "contract: a reserved token reads back without verifier");
    let consume = TokenConsumption {
        selector: token.selector,
        account_id: account.id,
        credential_epoch: account.credential_epoch,
        at: now,
    };
    let error = refused(
        store.commit(ChangeSet { consume: Some(consume), ..ChangeSet::default() }).await,
        "a reserved token cannot be consumed",
    );
    assert!(matches!(error, StoreError::TokenUnavailable), "contract: TokenUnavailable; got {error:?}");
}

/// Arming a claimed mail of a live reserved token stores the verifier hash; the mail stays
/// pending and leased, to be sent and marked; arming again after a crash replaces the hash.
pub async fn arming_sets_then_replaces_the_verifier(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(1102);
    let (_, token, mail) = reserved(&store, &mut fx, "jeanne@exemple.fr", TokenPurpose::Invitation, clock.now()).await;
    assert_eq!(ok(store.claim_mails(&claim("a", clock.now(), LEASE, 10)).await, "claims").len(), 1);
    assert_eq!(arm(&store, "a", clock.now(), &[link_arming(&mail, 1)]).await, [ArmOutcome::Armed]);
    assert_eq!(verifier_of(&store, &token).await, Some(hash(1)), "contract: the verifier hash is stored");
    let kept = stored_mail(&store, mail.id, "kept").await;
    assert_eq!(kept.status, MailStatus::Pending, "contract: an armed mail stays pending until marked");
    assert_eq!(kept.lease.map(|l| l.owner), Some("a".to_owned()), "contract: arming keeps the lease");
    // "a" dies before marking; "b" claims it after the lease lapsed and arms a new verifier.
    clock.advance(LEASE + Duration::seconds(1));
    assert_eq!(ok(store.claim_mails(&claim("b", clock.now(), LEASE, 10)).await, "claims").len(), 1);
    assert_eq!(arm(&store, "a", clock.now(), &[link_arming(&mail, 3)]).await, [ArmOutcome::LeaseLost]);
    assert_eq!(arm(&store, "b", clock.now(), &[link_arming(&mail, 2)]).await, [ArmOutcome::Armed]);
    assert_eq!(verifier_of(&store, &token).await, Some(hash(2)), "contract: re-arming replaces the verifier");
    ok(store.mark_mail_sent(mail.id, "b", clock.now()).await, "the new owner marks it sent");
}

/// Without the lease (another owner, never claimed, already settled) nothing is armed.
pub async fn arming_needs_the_lease(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(1103);
    let now = clock.now();
    let (_, token, mail) = reserved(&store, &mut fx, "jeanne@exemple.fr", TokenPurpose::PasswordReset, now).await;
    assert_eq!(arm(&store, "a", now, &[link_arming(&mail, 1)]).await, [ArmOutcome::LeaseLost], "contract: unclaimed");
    ok(store.claim_mails(&claim("a", now, LEASE, 10)).await, "claims");
    assert_eq!(arm(&store, "b", now, &[link_arming(&mail, 1)]).await, [ArmOutcome::LeaseLost], "contract: other owner");
    assert_eq!(verifier_of(&store, &token).await, None, "contract: a refused arming writes nothing");
    ok(store.fail_mail(mail.id, "a", now, "550").await, "fails");
    assert_eq!(arm(&store, "a", now, &[link_arming(&mail, 1)]).await, [ArmOutcome::LeaseLost], "contract: settled");
    assert_eq!(verifier_of(&store, &token).await, None);
    assert_eq!(stored_mail(&store, mail.id, "kept").await.status, MailStatus::Failed);
}

/// A link revoked, replaced, used, expired, of an older epoch, of an unavailable account or
/// gone is not armed: its mail is superseded with the reason, lease cleared.
pub async fn arming_supersedes_dead_links(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(1104);
    let t0 = clock.now();
    let reset = TokenPurpose::PasswordReset;
    // The oldest mail: its link is armed, sent, then used before a retry.
    let (used_a, used_t, used) = reserved(&store, &mut fx, "e@exemple.fr", reset, t0).await;
    let t0b = t0 + Duration::milliseconds(1);
    let (revoked_a, _, revoked) = reserved(&store, &mut fx, "a@exemple.fr", reset, t0b).await;
    let (replaced_a, _, replaced) = reserved(&store, &mut fx, "b@exemple.fr", reset, t0b).await;
    let (epoch_a, _, epoch) = reserved(&store, &mut fx, "c@exemple.fr", reset, t0b).await;
    let (disabled_a, _, disabled) = reserved(&store, &mut fx, "d@exemple.fr", reset, t0b).await;
    let (_, _, expired) = reserved(&store, &mut fx, "f@exemple.fr", reset, t0).await;
    let gone_a = fx.account("g@exemple.fr", t0b);
    let gone = fx.mail(&gone_a, MailKind::PasswordReset, t0b); // a selector no token has
    let mut change = insert_accounts([gone_a]);
    change.mails.push(gone.clone());
    commit_ok(&store, change, "commits").await;
    let t1 = t0 + Duration::seconds(1);
    let first = ok(store.claim_mails(&claim("x", t1, LEASE, 1)).await, "claims the oldest");
    assert!(first.len() == 1 && (first[0].id == used.id || first[0].id == expired.id), "the oldest mail is claimed");
    let first_id = first[0].id;
    let first_mail = if first_id == used.id { &used } else { &expired };
    assert_eq!(arm(&store, "x", t1, &[link_arming(first_mail, 9)]).await, [ArmOutcome::Armed]);
    if first_id == used.id {
        let consume = TokenConsumption {
            selector: used_t.selector,
            account_id: used_a.id,
            credential_epoch: used_a.credential_epoch,
            at: t1,
        };
        commit_ok(&store, ChangeSet { consume: Some(consume), ..ChangeSet::default() }, "the armed link is used").await;
    }
    let mut change = ChangeSet::new();
    change.revocations.push(TokenRevocation {
        account_id: revoked_a.id,
        purpose: None,
        reason: RevokeReason::EmailChanged,
        at: t1,
    });
    change.tokens.push(fx.reserved_token(&replaced_a, reset, t1, Duration::days(1)));
    change.accounts.push(update(&epoch_a, t1, |a| a.credential_epoch = a.credential_epoch.next()));
    change.accounts.push(update(&disabled_a, t1, |a| a.disabled_at = Some(t1)));
    commit_ok(&store, change, "revocation, replacement, epoch move and disable commit").await;
    // A day and a second after t0: "x"'s lease lapsed, and the first reset links expired.
    clock.set(t0 + Duration::days(1) + Duration::seconds(1));
    let t2 = clock.now();
    let claimed = ok(store.claim_mails(&claim("y", t2, LEASE, 20)).await, "claims");
    assert_eq!(claimed.len(), 7, "every mail is due again");
    // Every link but the replaced one's successor was issued at t0 or t0b with a day to
    // live, so expiry would supersede them too: the other reasons are checked first, in the
    // order the contract lists them (used, revoked, expired, epoch, account).
    let mails = [&revoked, &replaced, &epoch, &disabled, &used, &expired, &gone];
    let arms: Vec<MailArming> = mails.iter().map(|m| link_arming(m, 7)).collect();
    let outcomes = arm(&store, "y", t2, &arms).await;
    let used_reason = if first_id == used.id { "link already used" } else { "link expired" };
    let expected = [
        "link revoked: email changed",
        "link replaced by a newer one",
        "link expired",
        "link expired",
        used_reason,
        "link expired",
        "link no longer exists",
    ];
    for ((mail, outcome), reason) in mails.iter().zip(&outcomes).zip(&expected) {
        assert_eq!(outcome, &ArmOutcome::Superseded((*reason).to_owned()), "contract: superseded: {reason}");
        let kept = stored_mail(&store, mail.id, "kept").await;
        assert_eq!(kept.status, MailStatus::Superseded, "contract: the mail is Superseded ({reason})");
        assert_eq!(kept.last_error.as_deref(), Some(*reason), "contract: the journal keeps the reason");
        assert_eq!(kept.failed_at, Some(t2), "contract: failed_at is the arming instant");
        assert_eq!(kept.lease, None, "contract: the lease is cleared");
    }
    let error = refused(store.mark_mail_sent(revoked.id, "y", t2).await, "a superseded mail is settled");
    assert!(matches!(error, StoreError::LeaseLost), "contract: LeaseLost; got {error:?}");
    assert!(
        ok(store.claim_mails(&claim("z", t2 + LEASE * 2, LEASE, 20)).await, "claims").is_empty(),
        "contract: a superseded mail is never claimed again"
    );
}

/// An unexpired link of an older epoch, or of a disabled or trashed account, is not armed.
pub async fn arming_supersedes_links_of_a_changed_account(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(1107);
    let t0 = clock.now();
    let reset = TokenPurpose::PasswordReset;
    let (epoch_a, _, epoch) = reserved(&store, &mut fx, "c@exemple.fr", reset, t0).await;
    let (disabled_a, _, disabled) = reserved(&store, &mut fx, "d@exemple.fr", reset, t0).await;
    let (trashed_a, _, trashed) = reserved(&store, &mut fx, "t@exemple.fr", reset, t0).await;
    let t1 = t0 + Duration::seconds(1);
    let mut change = ChangeSet::new();
    change.accounts.push(update(&epoch_a, t1, |a| a.credential_epoch = a.credential_epoch.next()));
    change.accounts.push(update(&disabled_a, t1, |a| a.disabled_at = Some(t1)));
    change.accounts.push(update(&trashed_a, t1, |a| a.trashed_at = Some(t1)));
    commit_ok(&store, change, "an epoch move, a disable and a trash commit (tokens left live)").await;
    assert_eq!(ok(store.claim_mails(&claim("y", t1, LEASE, 20)).await, "claims").len(), 3);
    let mails = [&epoch, &disabled, &trashed];
    let arms: Vec<MailArming> = mails.iter().map(|m| link_arming(m, 7)).collect();
    let outcomes = arm(&store, "y", t1, &arms).await;
    let expected = ["link revoked: password changed", "account disabled", "account in the trash"];
    for (outcome, reason) in outcomes.iter().zip(expected) {
        assert_eq!(outcome, &ArmOutcome::Superseded(reason.to_owned()), "contract: superseded: {reason}");
    }
}

/// A temporary password is armed only while the account is in the intent's epoch with
/// "must change" set: the hash is stored and the version moves; otherwise superseded.
pub async fn arming_temporary_password_only_in_its_epoch(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(1105);
    let now = clock.now();
    let mut account = fx.account("jeanne@exemple.fr", now);
    account.must_change_password = true;
    account.credential_epoch = account.credential_epoch.next();
    let current = fx.mail(&account, MailKind::TemporaryPassword, now);
    let mut older = fx.mail(&account, MailKind::TemporaryPassword, now);
    older.params.intent = Some(MailIntent::TemporaryPassword { credential_epoch: admit_core::CredentialEpoch(0) });
    let mismatched = fx.mail(&account, MailKind::TemporaryPassword, now);
    let mut change = insert_accounts([account.clone()]);
    change.mails = vec![current.clone(), older.clone(), mismatched.clone()];
    commit_ok(&store, change, "commits").await;
    assert_eq!(ok(store.claim_mails(&claim("a", now, LEASE, 10)).await, "claims").len(), 3);
    let arms = [
        MailArming { mail: current.id, secret: ArmedSecret::TemporaryPassword(phc(1)) },
        MailArming { mail: older.id, secret: ArmedSecret::TemporaryPassword(phc(2)) },
        link_arming(&mismatched, 3),
    ];
    let outcomes = arm(&store, "a", now, &arms).await;
    assert_eq!(outcomes[0], ArmOutcome::Armed, "contract: armed in its epoch");
    assert_eq!(
        outcomes[1],
        ArmOutcome::Superseded("temporary password replaced (the password changed since)".to_owned()),
        "contract: an older epoch's password is superseded"
    );
    assert_eq!(
        outcomes[2],
        ArmOutcome::Superseded(crate::arming::MISMATCH.to_owned()),
        "contract: a secret of the wrong kind is superseded"
    );
    let stored = stored_account(&store, account.id, "kept").await;
    assert_eq!(stored.password_hash, Some(phc(1)), "contract: only the current password's hash is stored");
    assert_eq!(stored.version, account.version + 1, "contract: arming a password moves the version");
    assert_eq!(stored.credential_epoch, account.credential_epoch, "contract: arming does not move the epoch");
}

/// A cancellation supersedes every pending secret-carrying mail of the account, leased or
/// not, and nothing else; a leased one can then be neither armed nor marked.
pub async fn cancellation_supersedes_pending_secret_mails(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(1106);
    let now = clock.now();
    let jeanne = fx.account("jeanne@exemple.fr", now);
    let paul = fx.account("paul@exemple.fr", now);
    let leased = fx.mail(&jeanne, MailKind::TemporaryPassword, now);
    let waiting = fx.mail(&jeanne, MailKind::Invitation, now + Duration::milliseconds(1));
    let notice = fx.mail(&jeanne, MailKind::PasswordChanged, now + Duration::milliseconds(2));
    let other = fx.mail(&paul, MailKind::Invitation, now + Duration::milliseconds(3));
    let mut change = insert_accounts([jeanne.clone(), paul.clone()]);
    change.mails = vec![leased.clone(), waiting.clone(), notice.clone(), other.clone()];
    commit_ok(&store, change, "commits").await;
    assert_eq!(ok(store.claim_mails(&claim("a", now, LEASE, 1)).await, "claims").len(), 1);
    clock.advance(Duration::seconds(1));
    let at = clock.now();
    // A refused change cancels nothing.
    let mut stale = ChangeSet::new();
    stale.accounts.push(AccountWrite::Update { expected_version: 99, record: jeanne.clone() });
    stale.cancel_mails.push(MailCancellation { account_id: jeanne.id, reason: RevokeReason::EmailChanged, at });
    refused(store.commit(stale).await, "a stale change is refused");
    assert_eq!(stored_mail(&store, waiting.id, "kept").await.status, MailStatus::Pending, "contract: atomic");
    let mut change = ChangeSet::new();
    change.accounts.push(update(&jeanne, at, |a| a.email = Some(admit_core::Email::parse("j@exemple.fr").unwrap())));
    change.cancel_mails.push(MailCancellation { account_id: jeanne.id, reason: RevokeReason::EmailChanged, at });
    commit_ok(&store, change, "an address change with its cancellation commits").await;
    let reason = MailCancellation::journal_reason(RevokeReason::EmailChanged);
    for mail in [&leased, &waiting] {
        let kept = stored_mail(&store, mail.id, "kept").await;
        assert_eq!(kept.status, MailStatus::Superseded, "contract: a pending {:?} mail is cancelled", mail.kind);
        assert_eq!(kept.last_error.as_deref(), Some(reason.as_str()));
        assert_eq!((kept.failed_at, kept.lease), (Some(at), None));
    }
    for mail in [&notice, &other] {
        assert_eq!(stored_mail(&store, mail.id, "kept").await.status, MailStatus::Pending, "contract: left alone");
    }
    let hash = MailArming { mail: leased.id, secret: ArmedSecret::TemporaryPassword(phc(1)) };
    assert_eq!(arm(&store, "a", at, &[hash]).await, [ArmOutcome::LeaseLost], "contract: a cancelled mail is not armed");
    assert_eq!(stored_account(&store, jeanne.id, "kept").await.password_hash, None);
    let error = refused(store.mark_mail_sent(leased.id, "a", at).await, "a cancelled mail is not marked sent");
    assert!(matches!(error, StoreError::LeaseLost), "contract: LeaseLost; got {error:?}");
}
