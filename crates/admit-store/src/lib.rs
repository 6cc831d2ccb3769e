#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod memory;
pub mod query;
mod store;

#[cfg(feature = "conformance")]
#[cfg_attr(docsrs, doc(cfg(feature = "conformance")))]
pub mod conformance;

#[cfg(feature = "conformance")]
#[doc(hidden)]
pub use tokio as __tokio;

// Every type a store builds, reads or stores, so that `admit-store` is the only dependency a
// store implementation needs (with the `conformance` feature for its tests).
#[doc(no_inline)]
pub use admit_core::{
    AccountId, AccountKind, AccountRecord, AccountStatus, AccountWrite, AuditAction, AuditId, AuditRecord, ChangeSet,
    ClientFileId, Clock, CredentialEpoch, Email, EmailError, EmailKey, FieldError, FullName, Grant, IdError, Labels,
    Lease, Lifecycle, Locale, MailCancellation, MailId, MailIntent, MailKind, MailParams, MailRecord, MailSecret,
    MailStatus, PasswordHash, Phone, ProgramId, RevokeReason, Role, Scope, TestClock, Timestamp, TokenConsumption,
    TokenPurpose, TokenRecord, TokenRevocation, TokenSelector, VerifierHash,
};
pub mod arming;
/// The attribute the [`Store`] trait is written with: implement it as
/// `#[admit_store::async_trait] impl Store for MyStore { … }`.
#[doc(no_inline)]
pub use async_trait::async_trait;
pub use memory::MemoryStore;
pub use query::{AccountFilter, AccountQuery, AuditQuery, GrantFilter, MailQuery, Page, StatusCounts};
#[cfg(feature = "mock")]
#[cfg_attr(docsrs, doc(cfg(feature = "mock")))]
pub use store::MockStore;
pub use store::{
    ArmOutcome, ArmedSecret, BoxError, ConflictKind, MailArming, MailClaim, PurgeReport, RateLimitDecision, Result,
    Store, StoreError, window_start,
};
/// The length of a lease or a rate-limit window, as the [`Store`] methods take it.
#[doc(no_inline)]
pub use time::Duration;
