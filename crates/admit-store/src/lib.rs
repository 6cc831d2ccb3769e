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

#[doc(no_inline)]
pub use admit_core::{
    AccountId, AccountKind, AccountRecord, AccountStatus, AccountWrite, AuditAction, AuditId, AuditRecord, ChangeSet,
    EmailKey, MailCancellation, MailId, MailIntent, MailKind, MailRecord, MailStatus, PasswordHash, RevokeReason, Role,
    Scope, Timestamp, TokenConsumption, TokenPurpose, TokenRecord, TokenRevocation, TokenSelector, VerifierHash,
};
pub mod arming;
pub use memory::MemoryStore;
pub use query::{AccountFilter, AccountQuery, AuditQuery, GrantFilter, MailQuery, Page, StatusCounts};
#[cfg(feature = "mock")]
#[cfg_attr(docsrs, doc(cfg(feature = "mock")))]
pub use store::MockStore;
pub use store::{
    ArmOutcome, ArmedSecret, BoxError, ConflictKind, MailArming, MailClaim, PurgeReport, RateLimitDecision, Result,
    Store, StoreError, window_start,
};
