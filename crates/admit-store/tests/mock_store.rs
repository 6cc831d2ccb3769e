//! `MockStore` (feature `mock`) stands in for a store in unit tests of code that calls one.

use std::sync::Arc;

use admit_store::{AccountId, ChangeSet, MockStore, Store, StoreError};

/// Code under test: refuses to act when no platform administrator is left.
async fn administrators_left(store: &dyn Store) -> Result<u64, StoreError> {
    store.count_platform_administrators().await
}

#[tokio::test]
async fn mock_store_answers_as_told() {
    let mut mock = MockStore::new();
    mock.expect_count_platform_administrators().times(1).returning(|| Ok(3));
    let account = AccountId::from_bytes([1; 16]);
    mock.expect_commit()
        .withf(|change: &ChangeSet| change.require_platform_administrator)
        .times(1)
        .returning(move |_| Err(StoreError::StaleVersion { account }));
    let store: Arc<dyn Store> = Arc::new(mock);

    assert_eq!(administrators_left(store.as_ref()).await.unwrap(), 3);
    let change = ChangeSet { require_platform_administrator: true, ..ChangeSet::default() };
    let error = store.commit(change).await.unwrap_err();
    assert!(matches!(error, StoreError::StaleVersion { account: a } if a == account));
    assert!(!error.is_transient(), "a stale version is a refusal, not a transient failure");
}
