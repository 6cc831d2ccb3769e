#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod access;
mod account;
pub mod audit;
pub mod authz;
mod change;
pub mod clock;
pub mod decide;
mod email;
mod id;
pub mod mail;
pub mod password;
pub mod token;

pub use access::{AccountKind, Grant, Role, Scope};
pub use account::{
    ALL_EVENTS, AccountRecord, AccountStatus, CredentialEpoch, FieldError, FullName, Labels, Lifecycle, Locale, Phone,
    StatusEvent, TransitionError,
};
pub use audit::{AuditAction, AuditRecord};
pub use authz::{Action, Forbidden, ForbiddenReason, Target};
pub use change::{AccountWrite, ChangeSet, MailCancellation, TokenConsumption, TokenRevocation};
pub use clock::{Clock, SystemClock, TestClock, Timestamp};
pub use email::{Email, EmailError, EmailKey, EmailPolicy, MAX_EMAIL_LEN};
pub use id::{AccountId, AuditId, ClientFileId, IdError, MailId, ProgramId};
pub use mail::{Lease, MailIntent, MailKind, MailParams, MailRecord, MailSecret, MailStatus};
pub use password::{
    Argon2Params, MAX_PASSWORD_BYTES, PasswordContext, PasswordError, PasswordHash, PasswordHasher, PasswordMatch,
    PasswordPolicy, PasswordRefusal, generate_temporary_password,
};
pub use token::{LinkError, LinkFailure, RevokeReason, TokenPurpose, TokenRecord, TokenSelector, VerifierHash};
