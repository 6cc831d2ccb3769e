//! Unit tests of the facade's decisions with `MockStore` (mockall): which store calls a
//! workflow makes, and which it must never make. Integration tests run the same workflows
//! on real stores.

use std::sync::Arc;

use admit::core::token::LinkFailure;
use admit::core::{
    AccountId, AccountKind, AccountRecord, CredentialEpoch, Email, FullName, Grant, Labels, Lifecycle, Locale, Role,
    Scope, TestClock, Timestamp,
};
use admit::store::{MockStore, RateLimitDecision};
use admit::{Admit, AdmitError, CaptureTransport};
use mockall::predicate::eq;

fn record(id: u8, email: &str, grants: Vec<Grant>, lifecycle: Lifecycle) -> AccountRecord {
    let t = Timestamp::from_unix_micros(1_767_225_600_000_000);
    AccountRecord {
        id: AccountId::from_bytes([id; 16]),
        email: Some(Email::parse(email).unwrap()),
        full_name: FullName::parse("Someone").unwrap(),
        phone: None,
        locale: Locale::en(),
        kind: AccountKind::Member,
        grants,
        labels: Labels::new(),
        lifecycle,
        invitation_expires_at: None,
        password_hash: None,
        must_change_password: false,
        credential_epoch: CredentialEpoch::default(),
        version: 1,
        created_at: t,
        updated_at: t,
        invited_at: None,
        last_invitation_sent_at: None,
        activated_at: Some(t),
        last_login_at: None,
        password_changed_at: None,
        disabled_at: None,
        trashed_at: None,
    }
}

fn admit(store: MockStore) -> Admit {
    Admit::builder()
        .shared_store(Arc::new(store))
        .transport(CaptureTransport::new())
        .clock(TestClock::default_start())
        .link_base("https://app.example.org")
        .argon2_params(admit::core::password::Argon2Params::dangerous_fast_for_tests())
        .build()
        .unwrap()
}

fn allowed() -> RateLimitDecision {
    RateLimitDecision { allowed: true, count: 1, resets_at: Timestamp::from_unix_micros(i64::MAX) }
}

#[tokio::test]
async fn a_malformed_token_costs_no_store_call() {
    // A MockStore with no expectation panics on any call.
    let admit = admit(MockStore::new());
    for text in ["", "adm_", "adm_!!!!", "not a token at all", &"adm_".repeat(1000)] {
        let error = admit.inspect_link(text, "198.51.100.1").await.unwrap_err().link_error().unwrap();
        assert_eq!(error.reason(), LinkFailure::Malformed, "{text:?}");
    }
}

/// A forbidden call commits nothing but its own audit entry (`call_refused`, ASVS 16.3.2),
/// and counts no rate limit.
#[tokio::test]
async fn a_forbidden_call_commits_only_its_refusal_and_counts_no_rate_limit() {
    let collaborator =
        record(1, "c@example.org", vec![Grant::new(Scope::Platform, Role::Collaborator)], Lifecycle::Active);
    let target = record(2, "t@example.org", vec![Grant::new(Scope::Platform, Role::Guest)], Lifecycle::Invited);
    let (c, t) = (collaborator.clone(), target.clone());
    let mut store = MockStore::new();
    store.expect_account().with(eq(collaborator.id)).returning(move |_| Ok(Some(c.clone())));
    store.expect_account().with(eq(target.id)).returning(move |_| Ok(Some(t.clone())));
    store.expect_commit().times(2).returning(|change| {
        assert!(change.accounts.is_empty() && change.tokens.is_empty() && change.mails.is_empty());
        assert!(change.revocations.is_empty() && change.consume.is_none());
        assert_eq!(change.audit.len(), 1);
        assert_eq!(change.audit[0].action, admit::AuditAction::CallRefused);
        assert!(change.audit[0].detail.ends_with("reason=not_an_administrator"), "{}", change.audit[0].detail);
        Ok(())
    });
    store.expect_hit_rate_limit().never();
    store.expect_rate_limit_count().never();
    let admit = admit(store);
    assert!(matches!(admit.reinvite(collaborator.id, target.id).await, Err(AdmitError::Forbidden(_))));
    assert!(matches!(admit.send_password_reset(collaborator.id, target.id).await, Err(AdmitError::Forbidden(_))));
}

/// Self-service reset makes the same store calls, in the same number, whether the address
/// is known or not: one read of whether the requester is known, two rate-limit hits, one
/// look-up, one commit.
#[tokio::test]
async fn self_service_reset_does_the_same_store_work_for_known_and_unknown_addresses() {
    for known in [true, false] {
        let account = record(3, "known@example.org", vec![Grant::new(Scope::Platform, Role::Guest)], Lifecycle::Active);
        let mut store = MockStore::new();
        store.expect_rate_limit_count().times(1).returning(|_, _, _| Ok(0));
        store.expect_hit_rate_limit().times(2).returning(|_, _, _, _| Ok(allowed()));
        store
            .expect_account_by_email()
            .times(1)
            .returning(move |_| Ok(if known { Some(account.clone()) } else { None }));
        store.expect_commit().times(1).returning(move |change| {
            assert_eq!(change.audit.len(), 1, "one audit entry either way");
            assert_eq!(change.mails.len(), usize::from(known), "a mail only for the known address");
            Ok(())
        });
        let admit = admit(store);
        admit
            .request_password_reset(if known { "known@example.org" } else { "unknown@example.org" }, "198.51.100.2")
            .await
            .unwrap();
    }
}
