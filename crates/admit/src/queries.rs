//! What administrators see: accounts with their status, counts per status, the mail
//! journal and the audit log. Every read is authorized too.

use admit_core::authz::{self, Action, Forbidden};
use admit_core::{
    AccountId, AccountRecord, AccountStatus, AuditId, AuditRecord, CredentialEpoch, Locale, MailId, MailRecord, Role,
    Scope, Timestamp,
};
use admit_store::{AccountFilter, AccountQuery, AuditQuery, MailQuery, Page, StatusCounts};

use crate::{Admit, AdmitError, Result};

/// An account with the status an administrator sees (« colonne Statut »).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountView {
    /// The account.
    pub account: AccountRecord,
    /// Its status now.
    pub status: AccountStatus,
    /// When the password an administrator gave (temporary, or "must change at next
    /// sign-in") stops letting its holder sign in; `None` when the person chose their own.
    pub temporary_password_expires_at: Option<Timestamp>,
    /// That password has expired unused: the person cannot sign in until an administrator
    /// issues a new one or sends a reset link.
    pub temporary_password_expired: bool,
}

impl Admit {
    /// The deadline of an administrator-given password, if the account holds one.
    pub(crate) fn temporary_password_deadline(&self, account: &AccountRecord) -> Option<Timestamp> {
        if !account.must_change_password || account.password_hash.is_none() {
            return None;
        }
        account.password_changed_at.map(|at| at.saturating_add(self.inner.temporary_password_ttl))
    }

    fn view(&self, account: AccountRecord, now: Timestamp) -> AccountView {
        let deadline = self.temporary_password_deadline(&account);
        AccountView {
            status: account.status(now),
            temporary_password_expires_at: deadline,
            temporary_password_expired: deadline.is_some_and(|at| now > at),
            account,
        }
    }
}

/// What a session check needs to know about the signed-in person: no password hash, no
/// grants, nothing an administrator reads. Returned by [`Admit::session_account`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionAccount {
    /// The account.
    pub id: AccountId,
    /// Its address.
    pub email: Option<String>,
    /// The person's name.
    pub full_name: String,
    /// The person's language.
    pub locale: Locale,
    /// The password is temporary or must change: the host sends the person to the change
    /// page before anything else.
    pub must_change_password: bool,
    /// Moves with every password change: a session keyed on it ends when it moves.
    pub credential_epoch: CredentialEpoch,
}

impl Admit {
    /// The account behind a session, for the check a host makes on every request: `None`
    /// if it does not exist, is disabled or in the trash, or has no password (it cannot
    /// have signed in). Needs no administrator: it shows only what the person themself may
    /// see, and no store handle.
    ///
    /// # Errors
    /// A store failure.
    pub async fn session_account(&self, id: AccountId) -> Result<Option<SessionAccount>> {
        let Some(account) = self.inner.store.account(id).await? else {
            return Ok(None);
        };
        if !account.is_available() || account.password_hash.is_none() {
            return Ok(None);
        }
        Ok(Some(SessionAccount {
            id: account.id,
            email: account.email.as_ref().map(|e| e.as_str().to_owned()),
            full_name: account.full_name.as_str().to_owned(),
            locale: account.locale.clone(),
            must_change_password: account.must_change_password,
            credential_epoch: account.credential_epoch,
        }))
    }

    /// Scoped reads: platform administrators read everything; an administrator of a
    /// programme or client file reads only lists filtered on that scope.
    /// Refuses an unscoped read to a non-platform administrator, recording the refusal.
    async fn refuse_read(&self, actor: &AccountRecord, call: &'static str) -> AdmitError {
        let reason = admit_core::authz::ForbiddenReason::NotAnAdministrator;
        self.record_refused_call(actor, call, None, reason).await;
        AdmitError::Forbidden(Forbidden::from(reason))
    }

    async fn authorize_scope_read(
        &self,
        actor: &AccountRecord,
        call: &'static str,
        filter: &AccountFilter,
    ) -> Result<()> {
        if authz::authorize_global(actor, Action::ReadAccount).is_ok() {
            return Ok(());
        }
        let scope = filter.grant.as_ref().and_then(|g| g.scope.as_ref());
        match scope {
            Some(scope)
                if *scope != Scope::Platform
                    && actor.is_available()
                    && actor.role_in(scope) == Some(Role::Administrator) =>
            {
                Ok(())
            }
            _ => Err(self.refuse_read(actor, call).await),
        }
    }

    /// One account with its status.
    ///
    /// # Errors
    /// [`AdmitError::Forbidden`], [`AdmitError::NotFound`].
    pub async fn account_view(&self, actor: AccountId, account: AccountId) -> Result<AccountView> {
        let (actor, account) = (self.actor(actor).await?, self.account(account).await?);
        self.authorize_for(&actor, "account_view", Action::ReadAccount, &account).await?;
        Ok(self.view(account, self.now()))
    }

    /// A page of accounts with their status, filtered by scope, role, kind, status and
    /// text, in creation order (keyset paging: pass `page.next` as `query.after`). The
    /// query's `now` is replaced by the clock's.
    ///
    /// # Errors
    /// [`AdmitError::Forbidden`] (a scoped administrator must filter on a scope they
    /// administer), a store failure.
    pub async fn list_accounts(
        &self,
        actor: AccountId,
        mut query: AccountQuery,
    ) -> Result<Page<AccountView, AccountId>> {
        let actor = self.actor(actor).await?;
        self.authorize_scope_read(&actor, "list_accounts", &query.filter).await?;
        let now = self.now();
        query.now = now;
        let page = self.inner.store.list_accounts(&query).await?;
        Ok(Page { items: page.items.into_iter().map(|account| self.view(account, now)).collect(), next: page.next })
    }

    /// How many accounts are in each status.
    ///
    /// # Errors
    /// As [`Admit::list_accounts`].
    pub async fn count_accounts(&self, actor: AccountId, filter: AccountFilter) -> Result<StatusCounts> {
        let actor = self.actor(actor).await?;
        self.authorize_scope_read(&actor, "count_accounts", &filter).await?;
        Ok(self.inner.store.count_accounts(&filter, self.now()).await?)
    }

    /// The mail journal (« retrouver les mails envoyés … filtre sur le sujet, par exemple
    /// mot de passe »): secrets are never shown. Platform administrators query everything;
    /// others only the mails of one account they may read (`query.account_id`).
    ///
    /// # Errors
    /// [`AdmitError::Forbidden`], a store failure.
    pub async fn mail_journal(&self, actor: AccountId, query: MailQuery) -> Result<Page<MailRecord, MailId>> {
        let actor = self.actor(actor).await?;
        if authz::authorize_global(&actor, Action::ReadJournal).is_err() {
            let Some(target) = query.account_id else {
                return Err(self.refuse_read(&actor, "mail_journal").await);
            };
            let target = self.account(target).await?;
            self.authorize_for(&actor, "mail_journal", Action::ReadJournal, &target).await?;
        }
        Ok(self.inner.store.journal(&query).await?)
    }

    /// The audit log: who did what, to whom, when. Platform administrators query
    /// everything; others only the entries about one account they may read
    /// (`query.target`).
    ///
    /// # Errors
    /// [`AdmitError::Forbidden`], a store failure.
    pub async fn audit_log(&self, actor: AccountId, query: AuditQuery) -> Result<Page<AuditRecord, AuditId>> {
        let actor = self.actor(actor).await?;
        if authz::authorize_global(&actor, Action::ReadAudit).is_err() {
            let Some(target) = query.target else {
                return Err(self.refuse_read(&actor, "audit_log").await);
            };
            let target = self.account(target).await?;
            self.authorize_for(&actor, "audit_log", Action::ReadAudit, &target).await?;
        }
        Ok(self.inner.store.audit(&query).await?)
    }
}
