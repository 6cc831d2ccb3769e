//! [`AdmitBackend`]: an axum-login `AuthnBackend` over admit. A session holds the account id
//! and a hash derived from the account's credential epoch; axum-login compares it on every
//! request, so every session of a person ends when their password changes (reset, admin
//! set-password, temporary password, their own change), and a disabled or trashed account
//! has no session at all, on every host sharing the store.

use std::fmt;

use admit::core::{AccountId, Locale};
use admit::{Admit, SessionAccount, SignInError};
use axum_login::{AuthUser, AuthnBackend, UserId};
use secrecy::SecretString;
use sha2::{Digest, Sha256};

/// The signed-in person, as the host's handlers see it (`AuthSession::user`).
#[derive(Clone)]
pub struct AdmitUser {
    /// The account.
    pub id: AccountId,
    /// Its address.
    pub email: Option<String>,
    /// The person's name.
    pub full_name: String,
    /// The person's language.
    pub locale: Locale,
    /// The password is temporary or must change: send the person to the change page
    /// (`PagePaths::change_password`) before anything else.
    pub must_change_password: bool,
    auth_hash: [u8; 32],
}

impl fmt::Debug for AdmitUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdmitUser")
            .field("id", &self.id)
            .field("must_change_password", &self.must_change_password)
            .finish_non_exhaustive()
    }
}

impl From<SessionAccount> for AdmitUser {
    fn from(account: SessionAccount) -> Self {
        let mut hash = Sha256::new();
        hash.update(b"admit-session-v1");
        hash.update(account.id.to_bytes());
        hash.update(account.credential_epoch.0.to_be_bytes());
        AdmitUser {
            id: account.id,
            email: account.email,
            full_name: account.full_name,
            locale: account.locale,
            must_change_password: account.must_change_password,
            auth_hash: hash.finalize().into(),
        }
    }
}

impl AuthUser for AdmitUser {
    type Id = AccountId;

    fn id(&self) -> AccountId {
        self.id
    }

    /// SHA-256 of the account id and its credential epoch: it changes with every password
    /// change, which ends the sessions keyed on the old one.
    fn session_auth_hash(&self) -> &[u8] {
        &self.auth_hash
    }
}

/// What [`AdmitBackend::authenticate`] takes: an address and a password.
pub struct Credentials {
    /// The address typed.
    pub email: String,
    /// The password typed.
    pub password: SecretString,
    /// The requester key (the client's address, as the pages' `RequesterKey` gives it):
    /// failures are limited per requester and per address for strangers, and a requester
    /// that signed in before is not stopped by strangers' failures.
    pub requester: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials").field("email", &self.email).finish_non_exhaustive()
    }
}

/// Why the backend failed (a refused sign-in is `Ok(None)`, not an error).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// Too many failed sign-ins for this address.
    #[error("too many attempts, try again later")]
    RateLimited,
    /// The service failed.
    #[error("service unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The axum-login backend: sign-in through [`Admit::sign_in`], sessions checked through
/// [`Admit::session_account`] on every request.
#[derive(Debug, Clone)]
pub struct AdmitBackend {
    admit: Admit,
}

impl AdmitBackend {
    /// A backend over `admit`.
    pub fn new(admit: Admit) -> AdmitBackend {
        AdmitBackend { admit }
    }
}

impl AuthnBackend for AdmitBackend {
    type User = AdmitUser;
    type Credentials = Credentials;
    type Error = BackendError;

    async fn authenticate(&self, credentials: Credentials) -> Result<Option<AdmitUser>, BackendError> {
        match self.admit.sign_in(&credentials.email, credentials.password, &credentials.requester).await {
            Ok(signed) => self.get_user(&signed.account_id).await,
            Err(SignInError::InvalidCredentials) => Ok(None),
            Err(SignInError::RateLimited) => Err(BackendError::RateLimited),
            Err(other) => Err(BackendError::Unavailable(Box::new(other))),
        }
    }

    async fn get_user(&self, id: &UserId<Self>) -> Result<Option<AdmitUser>, BackendError> {
        let account = self.admit.session_account(*id).await.map_err(|e| BackendError::Unavailable(Box::new(e)))?;
        Ok(account.map(AdmitUser::from))
    }
}
