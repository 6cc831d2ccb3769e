//! Test data for the conformance suite (and for any test that needs plausible records).
//!
//! [`Fixtures`] draws ids and token bytes from a seeded [`StdRng`], so a failing case
//! produces the same records on every run.
//!
//! ```
//! use admit_core::{Clock, TestClock, TokenPurpose};
//! use admit_store::conformance::fixtures::{self, Fixtures};
//!
//! let clock = TestClock::default_start();
//! let mut fx = Fixtures::new(1);
//! let account = fx.account("Jeanne.Martin@exemple.fr", clock.now());
//! let token = fx.token(&account, TokenPurpose::Invitation, clock.now(), time::Duration::days(7));
//! let change = fixtures::insert_accounts([account.clone()]);
//! assert_eq!(change.accounts.len(), 1);
//! assert_eq!(token.account_id, account.id);
//! ```

use rand::SeedableRng;
use rand::rngs::StdRng;
use time::Duration;

use admit_core::mail::MailParams;
use admit_core::{
    AccountId, AccountKind, AccountRecord, AccountWrite, AuditAction, AuditId, AuditRecord, ChangeSet, ClientFileId,
    CredentialEpoch, Email, FullName, Grant, Labels, Lifecycle, Locale, MailId, MailIntent, MailKind, MailRecord,
    MailSecret, MailStatus, ProgramId, Role, Scope, Timestamp, TokenPurpose, TokenRecord, token,
};

/// A seeded source of records.
#[derive(Debug)]
pub struct Fixtures {
    rng: StdRng,
}

impl Fixtures {
    /// Fixtures drawing from a generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Fixtures { rng: StdRng::seed_from_u64(seed) }
    }

    /// The generator, for ids and tokens a case builds itself.
    pub fn rng(&mut self) -> &mut StdRng {
        &mut self.rng
    }

    /// A fresh account id for an account created at `at`.
    pub fn account_id(&mut self, at: Timestamp) -> AccountId {
        AccountId::generate(at, &mut self.rng)
    }

    /// A fresh mail id for a mail enqueued at `at`.
    pub fn mail_id(&mut self, at: Timestamp) -> MailId {
        MailId::generate(at, &mut self.rng)
    }

    /// A fresh audit id for an entry made at `at`.
    pub fn audit_id(&mut self, at: Timestamp) -> AuditId {
        AuditId::generate(at, &mut self.rng)
    }

    /// A new member account (`Created`, version 1, epoch 0) with the address `email`, a
    /// collaborator grant in programme `prog-1`, French locale, created at `at`.
    ///
    /// # Panics
    /// If `email` is not a valid address.
    pub fn account(&mut self, email: &str, at: Timestamp) -> AccountRecord {
        let email = Email::parse(email).expect("fixture email is a valid address");
        let full_name = FullName::parse(&format!("Personne {}", email.local_part())).expect("fixture name is valid");
        AccountRecord {
            id: self.account_id(at),
            email: Some(email),
            full_name,
            phone: None,
            locale: Locale::fr(),
            kind: AccountKind::Member,
            grants: vec![Grant::new(program("prog-1"), Role::Collaborator)],
            labels: Labels::new(),
            lifecycle: Lifecycle::Created,
            invitation_expires_at: None,
            password_hash: None,
            must_change_password: false,
            credential_epoch: CredentialEpoch(0),
            version: 1,
            created_at: at,
            updated_at: at,
            invited_at: None,
            last_invitation_sent_at: None,
            activated_at: None,
            last_login_at: None,
            password_changed_at: None,
            disabled_at: None,
            trashed_at: None,
        }
    }

    /// An active account holding the platform administrator grant.
    ///
    /// # Panics
    /// If `email` is not a valid address.
    pub fn platform_administrator(&mut self, email: &str, at: Timestamp) -> AccountRecord {
        let mut account = self.account(email, at);
        account.grants = vec![Grant::platform_administrator()];
        account.lifecycle = Lifecycle::Active;
        account.activated_at = Some(at);
        account
    }

    /// A live token of `account` for `purpose`, issued at `at` for `ttl`, in the account's
    /// credential epoch.
    pub fn token(
        &mut self,
        account: &AccountRecord,
        purpose: TokenPurpose,
        at: Timestamp,
        ttl: Duration,
    ) -> TokenRecord {
        token::issue(&mut self.rng, account.id, purpose, account.credential_epoch, at, ttl).record
    }

    /// A reserved token (no verifier) of `account` for `purpose`, issued at `at` for `ttl`,
    /// in the account's credential epoch: what a decision stores before the dispatcher arms
    /// it.
    pub fn reserved_token(
        &mut self,
        account: &AccountRecord,
        purpose: TokenPurpose,
        at: Timestamp,
        ttl: Duration,
    ) -> TokenRecord {
        token::reserve(&mut self.rng, account.id, purpose, account.credential_epoch, at, ttl)
    }

    /// A pending mail of `kind` to `account`, enqueued and due at `at`, and a French subject
    /// (« Réinitialisation de votre mot de passe », …). A kind that carries a secret gets an
    /// intent (a link on a random selector no token has, or a temporary password in the
    /// account's epoch) **and** a `params.secret`, which no store may keep: the cases check
    /// that it never comes back.
    pub fn mail(&mut self, account: &AccountRecord, kind: MailKind, at: Timestamp) -> MailRecord {
        let id = self.mail_id(at);
        let secret = kind.carries_secret().then(|| MailSecret::new(format!("https://app.exemple.fr/lien/adm_{id}")));
        let intent = match kind {
            MailKind::Invitation | MailKind::InvitationReminder | MailKind::PasswordReset => {
                let purpose = if kind == MailKind::PasswordReset {
                    TokenPurpose::PasswordReset
                } else {
                    TokenPurpose::Invitation
                };
                let selector =
                    token::reserve(&mut self.rng, account.id, purpose, account.credential_epoch, at, Duration::days(7))
                        .selector;
                Some(MailIntent::Link { selector, purpose })
            }
            MailKind::TemporaryPassword => {
                Some(MailIntent::TemporaryPassword { credential_epoch: account.credential_epoch })
            }
            MailKind::PasswordChanged | MailKind::EmailChanged => None,
        };
        MailRecord {
            id,
            account_id: Some(account.id),
            to: account.email.clone().expect("fixture accounts have an address"),
            locale: account.locale.clone(),
            kind,
            subject: subject(kind).to_owned(),
            params: MailParams {
                recipient_name: account.full_name.as_str().to_owned(),
                intent,
                secret,
                expires_at: kind.carries_secret().then(|| at + Duration::days(7)),
                new_email: (kind == MailKind::EmailChanged).then(|| "nouvelle.adresse@exemple.fr".to_owned()),
            },
            status: MailStatus::Pending,
            attempts: 0,
            next_attempt_at: at,
            lease: None,
            last_error: None,
            created_at: at,
            sent_at: None,
            failed_at: None,
        }
    }

    /// An audit entry of `action` by `actor` on `target` at `at`.
    pub fn audit(
        &mut self,
        actor: Option<AccountId>,
        action: AuditAction,
        target: Option<AccountId>,
        at: Timestamp,
    ) -> AuditRecord {
        AuditRecord { id: self.audit_id(at), at, actor, action, target, detail: format!("action={}", action.as_str()) }
    }
}

/// The French subject the fixtures give a mail of `kind`.
pub fn subject(kind: MailKind) -> &'static str {
    match kind {
        MailKind::Invitation => "Invitation à rejoindre la plateforme",
        MailKind::InvitationReminder => "Rappel : votre invitation vous attend",
        MailKind::PasswordReset => "Réinitialisation de votre mot de passe",
        MailKind::TemporaryPassword => "Votre mot de passe temporaire",
        MailKind::PasswordChanged => "Votre mot de passe a été modifié",
        MailKind::EmailChanged => "Votre adresse e-mail a été modifiée",
    }
}

/// The scope of programme `id`.
///
/// # Panics
/// If `id` is not a valid programme id.
pub fn program(id: &str) -> Scope {
    Scope::Program(ProgramId::parse(id).expect("fixture programme id is valid"))
}

/// The scope of client file `id`.
///
/// # Panics
/// If `id` is not a valid client file id.
pub fn client_file(id: &str) -> Scope {
    Scope::ClientFile(ClientFileId::parse(id).expect("fixture client file id is valid"))
}

/// A change inserting `accounts`.
pub fn insert_accounts(accounts: impl IntoIterator<Item = AccountRecord>) -> ChangeSet {
    ChangeSet { accounts: accounts.into_iter().map(AccountWrite::Insert).collect(), ..ChangeSet::default() }
}

/// An update of `record` made at `at`: `edit` applied to a copy, version + 1, `updated_at`
/// set, expecting the stored version to be `record.version`.
pub fn update(record: &AccountRecord, at: Timestamp, edit: impl FnOnce(&mut AccountRecord)) -> AccountWrite {
    let mut next = record.clone();
    edit(&mut next);
    next.version = record.version + 1;
    next.updated_at = at;
    AccountWrite::Update { expected_version: record.version, record: next }
}

/// A change made of account writes only.
pub fn write_accounts(writes: impl IntoIterator<Item = AccountWrite>) -> ChangeSet {
    ChangeSet { accounts: writes.into_iter().collect(), ..ChangeSet::default() }
}

/// A change inserting `tokens`.
pub fn insert_tokens(tokens: impl IntoIterator<Item = TokenRecord>) -> ChangeSet {
    ChangeSet { tokens: tokens.into_iter().collect(), ..ChangeSet::default() }
}

/// A change enqueueing `mails`.
pub fn enqueue_mails(mails: impl IntoIterator<Item = MailRecord>) -> ChangeSet {
    ChangeSet { mails: mails.into_iter().collect(), ..ChangeSet::default() }
}

/// A change appending `entries` to the audit log.
pub fn append_audit(entries: impl IntoIterator<Item = AuditRecord>) -> ChangeSet {
    ChangeSet { audit: entries.into_iter().collect(), ..ChangeSet::default() }
}
