//! `tokens_*`: one-time link records, replacement, revocation, consumption.

use std::sync::Arc;

use time::Duration;

use admit_core::{
    AccountRecord, ChangeSet, Clock, CredentialEpoch, RevokeReason, TestClock, Timestamp, TokenConsumption,
    TokenPurpose, TokenRecord, TokenRevocation,
};

use super::fixtures::{Fixtures, insert_accounts, insert_tokens, update, write_accounts};
use super::support::{commit_ok, ok, refused};
use crate::{ConflictKind, Store, StoreError};

pub(crate) fn consumption(token: &TokenRecord, at: Timestamp) -> TokenConsumption {
    TokenConsumption {
        selector: token.selector,
        account_id: token.account_id,
        credential_epoch: token.credential_epoch,
        at,
    }
}

pub(crate) fn consume(token: &TokenRecord, at: Timestamp) -> ChangeSet {
    ChangeSet { consume: Some(consumption(token, at)), ..ChangeSet::default() }
}

async fn stored_token(store: &Arc<dyn Store>, token: &TokenRecord) -> TokenRecord {
    match ok(store.token(&token.selector).await, "token reads") {
        Some(record) => record,
        None => panic!("contract: a token record is kept whatever its state; but {} is missing", token.selector),
    }
}

async fn seeded(store: &Arc<dyn Store>, fx: &mut Fixtures, email: &str, at: Timestamp) -> AccountRecord {
    let account = fx.account(email, at);
    commit_ok(store, insert_accounts([account.clone()]), "an insert applies").await;
    account
}

fn assert_unavailable(error: StoreError, what: &str) {
    assert!(
        matches!(error, StoreError::TokenUnavailable),
        "contract: consumption {what} is TokenUnavailable; got {error:?}"
    );
}

/// A token reads back by selector whole, and `tokens_of` lists an account's tokens oldest first.
pub async fn tokens_insert_then_read_by_selector(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(201);
    let account = seeded(&store, &mut fx, "jeanne@exemple.fr", clock.now()).await;
    let other = seeded(&store, &mut fx, "paul@exemple.fr", clock.now()).await;
    let invitation = fx.token(&account, TokenPurpose::Invitation, clock.now(), Duration::days(7));
    commit_ok(&store, insert_tokens([invitation.clone()]), "a token insert applies").await;
    clock.advance(Duration::microseconds(1));
    let reset = fx.token(&account, TokenPurpose::PasswordReset, clock.now(), Duration::hours(1));
    let foreign = fx.token(&other, TokenPurpose::PasswordReset, clock.now(), Duration::hours(1));
    commit_ok(&store, insert_tokens([reset.clone(), foreign.clone()]), "a token insert applies").await;

    assert_eq!(
        stored_token(&store, &invitation).await,
        invitation,
        "contract: token(selector) returns the record whole"
    );
    assert_eq!(stored_token(&store, &reset).await, reset, "contract: token(selector) returns the record whole");
    let unknown = fx.token(&account, TokenPurpose::Invitation, clock.now(), Duration::days(1));
    assert_eq!(ok(store.token(&unknown.selector).await, "reads"), None, "contract: an unknown selector is None");
    assert_eq!(
        ok(store.tokens_of(account.id).await, "reads"),
        vec![invitation, reset],
        "contract: tokens_of lists every token of the account, oldest first, and no other account's"
    );
    assert!(
        ok(store.tokens_of(fx.account_id(clock.now())).await, "reads").is_empty(),
        "contract: tokens_of an account without tokens is empty"
    );
}

/// Two tokens with the same selector are a `Conflict { TokenSelector }`.
pub async fn tokens_duplicate_selector_conflicts(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(202);
    let account = seeded(&store, &mut fx, "jeanne@exemple.fr", clock.now()).await;
    let other = seeded(&store, &mut fx, "paul@exemple.fr", clock.now()).await;
    let token = fx.token(&account, TokenPurpose::Invitation, clock.now(), Duration::days(7));
    commit_ok(&store, insert_tokens([token.clone()]), "a token insert applies").await;
    let mut twin = fx.token(&other, TokenPurpose::Invitation, clock.now(), Duration::days(7));
    twin.selector = token.selector;
    let error = refused(store.commit(insert_tokens([twin])).await, "a token whose selector is taken fails");
    assert!(
        matches!(error, StoreError::Conflict { what: ConflictKind::TokenSelector }),
        "contract: a token whose selector is taken is Conflict {{ TokenSelector }}; got {error:?}"
    );
    assert_eq!(stored_token(&store, &token).await, token, "contract: the first token is untouched");
    assert!(ok(store.tokens_of(other.id).await, "reads").is_empty(), "contract: the refused token is not stored");
}

/// A new token revokes the live one of the same account and purpose as `Replaced` at its own
/// `created_at`; the other purpose and other accounts stay live.
pub async fn tokens_new_token_replaces_live_one_of_same_purpose(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(203);
    let account = seeded(&store, &mut fx, "jeanne@exemple.fr", clock.now()).await;
    let other = seeded(&store, &mut fx, "paul@exemple.fr", clock.now()).await;
    let first = fx.token(&account, TokenPurpose::Invitation, clock.now(), Duration::days(7));
    let reset = fx.token(&account, TokenPurpose::PasswordReset, clock.now(), Duration::hours(1));
    let foreign = fx.token(&other, TokenPurpose::Invitation, clock.now(), Duration::days(7));
    commit_ok(&store, insert_tokens([first.clone(), reset.clone(), foreign.clone()]), "token inserts apply").await;

    clock.advance(Duration::minutes(10));
    let second = fx.token(&account, TokenPurpose::Invitation, clock.now(), Duration::days(7));
    commit_ok(&store, insert_tokens([second.clone()]), "a replacing token insert applies").await;

    let replaced = stored_token(&store, &first).await;
    assert_eq!(
        (replaced.revoked_at, replaced.revoked_reason),
        (Some(second.created_at), Some(RevokeReason::Replaced)),
        "contract: a new token revokes the live one of the same account and purpose, Replaced at its created_at"
    );
    assert_eq!(replaced.consumed_at, None, "contract: replacement does not consume");
    assert_eq!(stored_token(&store, &second).await, second, "contract: the new token is live");
    assert_eq!(stored_token(&store, &reset).await, reset, "contract: a token of the other purpose stays live");
    assert_eq!(stored_token(&store, &foreign).await, foreign, "contract: other accounts' tokens stay live");

    let error = refused(store.commit(consume(&first, clock.now())).await, "a replaced token cannot be consumed");
    assert_unavailable(error, "of a replaced token");
    let second_used_at = clock.now();
    commit_ok(&store, consume(&second, second_used_at), "the replacing token can be consumed").await;

    // A replacement is recorded once: an already revoked or used token keeps its state.
    clock.advance(Duration::minutes(1));
    let third = fx.token(&account, TokenPurpose::Invitation, clock.now(), Duration::days(7));
    commit_ok(&store, insert_tokens([third.clone()]), "another token insert applies").await;
    assert_eq!(stored_token(&store, &first).await, replaced, "contract: an already revoked token is not revoked again");
    let used = stored_token(&store, &second).await;
    assert_eq!(
        (used.consumed_at, used.revoked_at),
        (Some(second_used_at), None),
        "contract: a consumed token is not live, so a new token does not revoke it"
    );
}

/// Revocations hit every live token of the account, or those of one purpose; used, revoked
/// and expired tokens keep their state, other accounts are untouched.
pub async fn tokens_revocation_by_purpose_and_all(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(204);
    let account = seeded(&store, &mut fx, "jeanne@exemple.fr", clock.now()).await;
    let other = seeded(&store, &mut fx, "paul@exemple.fr", clock.now()).await;
    let expired = fx.token(&account, TokenPurpose::PasswordReset, clock.now() - Duration::hours(2), Duration::hours(1));
    commit_ok(&store, insert_tokens([expired.clone()]), "an old token insert applies").await;
    let invitation = fx.token(&account, TokenPurpose::Invitation, clock.now(), Duration::days(7));
    let reset = fx.token(&account, TokenPurpose::PasswordReset, clock.now(), Duration::hours(1));
    let foreign = fx.token(&other, TokenPurpose::PasswordReset, clock.now(), Duration::hours(1));
    commit_ok(&store, insert_tokens([invitation.clone(), reset.clone(), foreign.clone()]), "token inserts apply").await;
    let expired = stored_token(&store, &expired).await;
    assert_eq!(expired.revoked_at, None, "contract: a new token does not revoke an expired one (it is not live)");

    clock.advance(Duration::minutes(1));
    let by_purpose = TokenRevocation {
        account_id: account.id,
        purpose: Some(TokenPurpose::PasswordReset),
        reason: RevokeReason::SignedIn,
        at: clock.now(),
    };
    commit_ok(&store, ChangeSet { revocations: vec![by_purpose], ..ChangeSet::default() }, "a revocation applies")
        .await;
    let revoked = stored_token(&store, &reset).await;
    assert_eq!(
        (revoked.revoked_at, revoked.revoked_reason),
        (Some(clock.now()), Some(RevokeReason::SignedIn)),
        "contract: a revocation by purpose revokes the live token of that purpose, with its time and reason"
    );
    assert_eq!(
        stored_token(&store, &invitation).await,
        invitation,
        "contract: a revocation by purpose spares the other purpose"
    );
    assert_eq!(stored_token(&store, &foreign).await, foreign, "contract: a revocation spares other accounts");
    assert_eq!(
        stored_token(&store, &expired).await,
        expired,
        "contract: an expired token is not live and keeps its state"
    );

    let revoked_at = clock.now();
    clock.advance(Duration::minutes(1));
    let all = TokenRevocation {
        account_id: account.id,
        purpose: None,
        reason: RevokeReason::AccountDisabled,
        at: clock.now(),
    };
    commit_ok(&store, ChangeSet { revocations: vec![all], ..ChangeSet::default() }, "a revocation applies").await;
    let invitation_now = stored_token(&store, &invitation).await;
    assert_eq!(
        (invitation_now.revoked_at, invitation_now.revoked_reason),
        (Some(clock.now()), Some(RevokeReason::AccountDisabled)),
        "contract: a revocation of all purposes revokes every live token of the account"
    );
    let reset_now = stored_token(&store, &reset).await;
    assert_eq!(
        (reset_now.revoked_at, reset_now.revoked_reason),
        (Some(revoked_at), Some(RevokeReason::SignedIn)),
        "contract: an already revoked token keeps its first revocation"
    );
    assert_eq!(stored_token(&store, &foreign).await, foreign, "contract: a revocation spares other accounts");
    assert_eq!(stored_token(&store, &expired).await, expired, "contract: an expired token keeps its state");
}

/// A live token is consumed once, at the given instant; a second consumption is refused.
pub async fn tokens_consume_succeeds_once(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(205);
    let account = seeded(&store, &mut fx, "jeanne@exemple.fr", clock.now()).await;
    let token = fx.token(&account, TokenPurpose::Invitation, clock.now(), Duration::days(7));
    commit_ok(&store, insert_tokens([token.clone()]), "a token insert applies").await;
    clock.advance(Duration::hours(3));
    let used_at = clock.now();
    commit_ok(&store, consume(&token, used_at), "a live token is consumed").await;
    let used = stored_token(&store, &token).await;
    let mut expected = token.clone();
    expected.consumed_at = Some(used_at);
    assert_eq!(used, expected, "contract: consumption sets consumed_at to the consumption's instant, nothing else");
    clock.advance(Duration::seconds(1));
    let error = refused(store.commit(consume(&token, clock.now())).await, "a used token cannot be consumed again");
    assert_unavailable(error, "of a used token");
    assert_eq!(stored_token(&store, &token).await, expected, "contract: a refused consumption changes nothing");
}

/// A token is valid while `at <= expires_at`: consumable at its deadline, refused 1 µs later.
pub async fn tokens_consume_valid_until_expires_at_inclusive(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(206);
    let account = seeded(&store, &mut fx, "jeanne@exemple.fr", clock.now()).await;
    let other = seeded(&store, &mut fx, "paul@exemple.fr", clock.now()).await;
    let ttl = Duration::hours(1);
    let on_time = fx.token(&account, TokenPurpose::PasswordReset, clock.now(), ttl);
    let late = fx.token(&other, TokenPurpose::PasswordReset, clock.now(), ttl);
    commit_ok(&store, insert_tokens([on_time.clone(), late.clone()]), "token inserts apply").await;

    clock.set(on_time.expires_at);
    commit_ok(&store, consume(&on_time, clock.now()), "a token is consumable at exactly expires_at").await;
    clock.advance(Duration::microseconds(1));
    let error = refused(store.commit(consume(&late, clock.now())).await, "a token 1 µs past expires_at is refused");
    assert_unavailable(error, "1 µs after expires_at");
    assert_eq!(stored_token(&store, &late).await, late, "contract: a refused consumption does not consume");
}

/// Revoked tokens are not consumable.
pub async fn tokens_consume_refused_when_revoked(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(207);
    let account = seeded(&store, &mut fx, "jeanne@exemple.fr", clock.now()).await;
    let token = fx.token(&account, TokenPurpose::PasswordReset, clock.now(), Duration::hours(1));
    commit_ok(&store, insert_tokens([token.clone()]), "a token insert applies").await;
    let revocation =
        TokenRevocation { account_id: account.id, purpose: None, reason: RevokeReason::EmailChanged, at: clock.now() };
    commit_ok(&store, ChangeSet { revocations: vec![revocation], ..ChangeSet::default() }, "a revocation applies")
        .await;
    let revoked = stored_token(&store, &token).await;
    let error = refused(store.commit(consume(&token, clock.now())).await, "a revoked token cannot be consumed");
    assert_unavailable(error, "of a revoked token");
    assert_eq!(stored_token(&store, &token).await, revoked, "contract: a refused consumption does not consume");
}

/// Consumption requires the token's epoch and the stored account's epoch both to equal the given one.
pub async fn tokens_consume_refused_on_epoch_mismatch(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(208);
    let account = seeded(&store, &mut fx, "jeanne@exemple.fr", clock.now()).await;
    let token = fx.token(&account, TokenPurpose::Invitation, clock.now(), Duration::days(7));
    commit_ok(&store, insert_tokens([token.clone()]), "a token insert applies").await;

    // The consumption names another epoch than the token's (and the account's).
    let mut wrong = consumption(&token, clock.now());
    wrong.credential_epoch = CredentialEpoch(1);
    let change = ChangeSet { consume: Some(wrong), ..ChangeSet::default() };
    let error = refused(store.commit(change).await, "a consumption in another epoch than the token's fails");
    assert_unavailable(error, "in another epoch than the token's");

    // The stored account moved to epoch 1: a token of epoch 0 is dead, whatever the caller says.
    let moved = update(&account, clock.now(), |a| a.credential_epoch = CredentialEpoch(1));
    commit_ok(&store, write_accounts([moved]), "an epoch change applies").await;
    let error = refused(store.commit(consume(&token, clock.now())).await, "a token of an old epoch fails");
    assert_unavailable(error, "when the stored account's epoch moved");
    let mut claims_new = consumption(&token, clock.now());
    claims_new.credential_epoch = CredentialEpoch(1);
    let change = ChangeSet { consume: Some(claims_new), ..ChangeSet::default() };
    let error = refused(store.commit(change).await, "a consumption matching the account but not the token fails");
    assert_unavailable(error, "whose epoch matches the account's but not the token's");
    assert_eq!(stored_token(&store, &token).await, token, "contract: refused consumptions do not consume");
}

/// Consumption requires the token to belong to the account named.
pub async fn tokens_consume_refused_for_other_account(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(209);
    let account = seeded(&store, &mut fx, "jeanne@exemple.fr", clock.now()).await;
    let other = seeded(&store, &mut fx, "paul@exemple.fr", clock.now()).await;
    let token = fx.token(&account, TokenPurpose::Invitation, clock.now(), Duration::days(7));
    commit_ok(&store, insert_tokens([token.clone()]), "a token insert applies").await;
    let mut wrong = consumption(&token, clock.now());
    wrong.account_id = other.id;
    let change = ChangeSet { consume: Some(wrong), ..ChangeSet::default() };
    let error = refused(store.commit(change).await, "a consumption naming another account fails");
    assert_unavailable(error, "naming another account than the token's");
    assert_eq!(stored_token(&store, &token).await, token, "contract: a refused consumption does not consume");
}

/// An unknown selector is `TokenUnavailable`.
pub async fn tokens_consume_refused_for_unknown_selector(store: Arc<dyn Store>, clock: TestClock) {
    let mut fx = Fixtures::new(210);
    let account = seeded(&store, &mut fx, "jeanne@exemple.fr", clock.now()).await;
    let never_stored = fx.token(&account, TokenPurpose::Invitation, clock.now(), Duration::days(7));
    let error = refused(store.commit(consume(&never_stored, clock.now())).await, "an unknown token fails");
    assert_unavailable(error, "of an unknown selector");
    assert_eq!(ok(store.token(&never_stored.selector).await, "reads"), None, "contract: nothing is created");
}
