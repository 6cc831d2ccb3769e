//! Helpers shared by the cases.

use std::fmt::Debug;
use std::sync::Arc;

use crate::{AccountId, AccountRecord, ChangeSet, MailId, MailRecord, Result, Store, StoreError};

/// Commits `change`, panicking with `contract` if the store refuses it.
pub(crate) async fn commit_ok(store: &Arc<dyn Store>, change: ChangeSet, contract: &str) {
    if let Err(error) = store.commit(change).await {
        panic!("contract: {contract}; but commit failed: {error:?}");
    }
}

/// The error of `result`, panicking with `contract` if it succeeded.
pub(crate) fn refused<T: Debug>(result: Result<T>, contract: &str) -> StoreError {
    match result {
        Ok(value) => panic!("contract: {contract}; but it succeeded with {value:?}"),
        Err(error) => error,
    }
}

/// The stored account `id`, panicking if it is missing.
pub(crate) async fn stored_account(store: &Arc<dyn Store>, id: AccountId, contract: &str) -> AccountRecord {
    match store.account(id).await {
        Ok(Some(account)) => account,
        Ok(None) => panic!("contract: {contract}; but account {id} is missing"),
        Err(error) => panic!("contract: {contract}; but reading account {id} failed: {error:?}"),
    }
}

/// The stored mail `id` (scrubbed), panicking if it is missing.
pub(crate) async fn stored_mail(store: &Arc<dyn Store>, id: MailId, contract: &str) -> MailRecord {
    match store.mail(id).await {
        Ok(Some(mail)) => mail,
        Ok(None) => panic!("contract: {contract}; but mail {id} is missing"),
        Err(error) => panic!("contract: {contract}; but reading mail {id} failed: {error:?}"),
    }
}

/// `value`, panicking with `contract` on a store error.
pub(crate) fn ok<T>(result: Result<T>, contract: &str) -> T {
    match result {
        Ok(value) => value,
        Err(error) => panic!("contract: {contract}; but the store failed: {error:?}"),
    }
}
