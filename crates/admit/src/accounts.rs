//! Account administration: create (one or many), invite, re-invite (« relance »), send a
//! reset, profile and grants, addresses, disable / enable / trash / restore / purge.

use std::collections::{HashMap, HashSet};

use admit_core::authz::Forbidden;
use admit_core::decide::{self, Decision, DecisionError, NewAccount, ProfileChange, StatusChange};
use admit_core::{
    AccountId, AccountKind, AccountRecord, EmailError, EmailKey, FieldError, FullName, Grant, Labels, Locale, Phone,
};
use admit_store::StoreError;

use crate::{Admit, AdmitError, Result};

/// Most rows one batch call accepts.
pub const MAX_BATCH_ROWS: usize = 10_000;

/// Whether to send the invitation when creating an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invite {
    /// Send it now (« Lui envoyer une invitation »).
    Now,
    /// Not now; [`Admit::invite`] later (« vous pourrez le faire plus tard »).
    Later,
}

/// A new account as an administrator typed it; admit validates every field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateAccount {
    /// The address; may be left out for people without one yet.
    pub email: Option<String>,
    /// Full name (« Nom complet »).
    pub full_name: String,
    /// Optional phone, E.164 (« Numéro de téléphone (facultatif) »).
    pub phone: Option<String>,
    /// Language tag of its mails (`fr`, `en`, …); the configured default when `None`.
    pub locale: Option<String>,
    /// Team member or public account.
    pub kind: AccountKind,
    /// Roles in scopes: a collaborator may be assigned several client files.
    pub grants: Vec<Grant>,
    /// Host-defined labels as (key, value) pairs: « contact pour » tags, position, themes,
    /// applications.
    pub labels: Vec<(String, String)>,
}

impl CreateAccount {
    /// A member with one grant and nothing else.
    pub fn member(email: &str, full_name: &str, grant: Grant) -> Self {
        CreateAccount {
            email: Some(email.to_owned()),
            full_name: full_name.to_owned(),
            phone: None,
            locale: None,
            kind: AccountKind::Member,
            grants: vec![grant],
            labels: Vec::new(),
        }
    }

    /// A public-portal account (managed from the platform scope).
    pub fn public(email: &str, full_name: &str) -> Self {
        CreateAccount {
            email: Some(email.to_owned()),
            full_name: full_name.to_owned(),
            phone: None,
            locale: None,
            kind: AccountKind::Public,
            grants: vec![Grant::new(admit_core::Scope::Platform, admit_core::Role::Guest)],
            labels: Vec::new(),
        }
    }

    /// Sets the locale.
    pub fn locale(mut self, locale: &str) -> Self {
        self.locale = Some(locale.to_owned());
        self
    }

    /// Adds a label.
    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.labels.push((key.to_owned(), value.to_owned()));
        self
    }
}

/// What happened to one row of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BatchRowOutcome {
    /// Created, not invited.
    Created(AccountId),
    /// Created and invited (or, for address batches, address assigned).
    Invited(AccountId),
    /// Done (for batches of existing accounts: temporary password issued, address changed).
    Done(AccountId),
    /// The address is malformed.
    InvalidEmail(EmailError),
    /// A department or role address, refused (« nous ne pouvons pas créer de comptes pour
    /// des départements entiers »).
    RoleAddress,
    /// Another field is invalid.
    InvalidField(FieldError),
    /// The address is already used by an account, or by an earlier row of the batch.
    Duplicate,
    /// The actor may not do this for this row.
    Forbidden(Forbidden),
    /// The row was refused for another reason (no address, unavailable account, not found…).
    Refused(String),
    /// Several fields are invalid: every one of them, so a form can mark them all at once
    /// (a row with one invalid field gets `InvalidEmail`, `RoleAddress` or `InvalidField`).
    InvalidFields(FieldProblems),
}

impl BatchRowOutcome {
    /// Every field problem of the row (empty unless the row was refused for its fields).
    pub fn field_problems(&self) -> Vec<FieldProblem> {
        match self {
            BatchRowOutcome::InvalidEmail(e) => vec![FieldProblem::Email(e.clone())],
            BatchRowOutcome::RoleAddress => vec![FieldProblem::Email(EmailError::RoleAddress)],
            BatchRowOutcome::InvalidField(e) => vec![FieldProblem::of_field_error(e.clone())],
            BatchRowOutcome::InvalidFields(all) => all.0.clone(),
            _ => Vec::new(),
        }
    }
}

/// One invalid field of an account form, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldProblem {
    /// The address (malformed, or a department address).
    Email(EmailError),
    /// The full name.
    FullName(FieldError),
    /// The phone number.
    Phone(FieldError),
    /// The locale.
    Locale(FieldError),
    /// A label.
    Labels(FieldError),
    /// The grants (none, or too many).
    Grants(FieldError),
}

impl FieldProblem {
    /// The form field it concerns: `email`, `full_name`, `phone`, `locale`, `labels` or
    /// `grants` (the names of [`CreateAccount`]'s fields).
    pub const fn field(&self) -> &'static str {
        match self {
            FieldProblem::Email(_) => "email",
            FieldProblem::FullName(_) => "full_name",
            FieldProblem::Phone(_) => "phone",
            FieldProblem::Locale(_) => "locale",
            FieldProblem::Labels(_) => "labels",
            FieldProblem::Grants(_) => "grants",
        }
    }

    /// The field a [`FieldError`] is about, for the errors that name one.
    fn of_field_error(error: FieldError) -> FieldProblem {
        match error {
            FieldError::InvalidPhone => FieldProblem::Phone(error),
            FieldError::InvalidLocale => FieldProblem::Locale(error),
            FieldError::InvalidLabel => FieldProblem::Labels(error),
            FieldError::InvalidGrants => FieldProblem::Grants(error),
            _ => FieldProblem::FullName(error),
        }
    }

    fn into_outcome(self) -> BatchRowOutcome {
        match self {
            FieldProblem::Email(EmailError::RoleAddress) => BatchRowOutcome::RoleAddress,
            FieldProblem::Email(e) => BatchRowOutcome::InvalidEmail(e),
            FieldProblem::FullName(e)
            | FieldProblem::Phone(e)
            | FieldProblem::Locale(e)
            | FieldProblem::Labels(e)
            | FieldProblem::Grants(e) => BatchRowOutcome::InvalidField(e),
        }
    }
}

/// Every invalid field of one account form (at least two; see [`BatchRowOutcome::InvalidFields`]
/// and [`AdmitError::InvalidFields`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} fields are invalid", .0.len())]
pub struct FieldProblems(pub Vec<FieldProblem>);

fn outcome_of(mut problems: Vec<FieldProblem>) -> BatchRowOutcome {
    if problems.len() == 1 {
        problems.remove(0).into_outcome()
    } else {
        BatchRowOutcome::InvalidFields(FieldProblems(problems))
    }
}

/// One row's result, by its index in the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchRow {
    /// The row's position in the input.
    pub index: usize,
    /// What happened.
    pub outcome: BatchRowOutcome,
}

/// An address to assign to an existing account, in a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAssignment {
    /// Which account.
    pub account: AccountId,
    /// The new address.
    pub email: String,
}

fn row_error(error: DecisionError) -> BatchRowOutcome {
    match error {
        DecisionError::Forbidden(f) => BatchRowOutcome::Forbidden(f),
        DecisionError::EmailTaken => BatchRowOutcome::Duplicate,
        other => BatchRowOutcome::Refused(other.to_string()),
    }
}

fn email_error(error: EmailError) -> BatchRowOutcome {
    match error {
        EmailError::RoleAddress => BatchRowOutcome::RoleAddress,
        other => BatchRowOutcome::InvalidEmail(other),
    }
}

impl Admit {
    /// Checks every field of a form and reports every invalid one at once.
    fn validate(&self, input: CreateAccount) -> std::result::Result<NewAccount, BatchRowOutcome> {
        let mut problems = Vec::new();
        let email = match input.email.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
            Some(text) => self.inner.email_policy.parse(text).map_err(|e| problems.push(FieldProblem::Email(e))).ok(),
            None => None,
        };
        let full_name = FullName::parse(&input.full_name).map_err(|e| problems.push(FieldProblem::FullName(e))).ok();
        let phone = match input.phone.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
            Some(text) => Phone::parse(text).map_err(|e| problems.push(FieldProblem::Phone(e))).ok(),
            None => None,
        };
        let locale = match input.locale.as_deref() {
            Some(text) => Locale::parse(text).map_err(|e| problems.push(FieldProblem::Locale(e))).ok(),
            None => Some(self.inner.default_locale.clone()),
        };
        if input.grants.is_empty() || input.grants.len() > AccountRecord::MAX_GRANTS {
            problems.push(FieldProblem::Grants(FieldError::InvalidGrants));
        }
        let mut labels = Labels::new();
        for (key, value) in &input.labels {
            if let Err(e) = labels.insert(key, value) {
                problems.push(FieldProblem::Labels(e));
                break;
            }
        }
        match (full_name, locale) {
            (Some(full_name), Some(locale)) if problems.is_empty() => {
                let mut grants = input.grants;
                grants.sort();
                grants.dedup();
                Ok(NewAccount { email, full_name, phone, locale, kind: input.kind, grants, labels })
            }
            _ => Err(outcome_of(problems)),
        }
    }

    /// Creates an account with a role in a scope, and sends the invitation now or not
    /// (requirements: « Ajouter un collaborateur », « Ajouter un utilisateur », « Ajouter
    /// des membres de l'équipe »).
    ///
    /// # Errors
    /// [`AdmitError::InvalidEmail`] (including department addresses),
    /// [`AdmitError::InvalidField`], [`AdmitError::Forbidden`], [`AdmitError::EmailTaken`],
    /// [`AdmitError::NoEmail`] (invite requested without an address).
    pub async fn create_account(
        &self,
        actor: AccountId,
        input: CreateAccount,
        invite: Invite,
    ) -> Result<AccountRecord> {
        let input = self.validate(input).map_err(|row| match row {
            BatchRowOutcome::InvalidEmail(e) => AdmitError::InvalidEmail(e),
            BatchRowOutcome::RoleAddress => AdmitError::InvalidEmail(EmailError::RoleAddress),
            BatchRowOutcome::InvalidField(e) => AdmitError::InvalidField(e),
            BatchRowOutcome::InvalidFields(all) => AdmitError::InvalidFields(all),
            _ => AdmitError::InvalidField(FieldError::InvalidGrants),
        })?;
        let actor = self.actor(actor).await?;
        let existing = match &input.email {
            Some(email) => self.inner.store.account_by_email(email.key()).await?,
            None => None,
        };
        let decision = self
            .decide_for(&actor, "create_account", None, |ctx| {
                decide::create_account(ctx, &actor, input, existing.as_ref(), invite == Invite::Now)
            })
            .await?;
        let decision = self.commit(decision).await?;
        Ok(decision.account.unwrap_or_else(|| unreachable!("create returns the account")))
    }

    /// Creates many accounts at once (« + Ajouter un autre membre », CSV-like imports): a
    /// result per row; valid rows are kept even if others fail. Up to
    /// [`MAX_BATCH_ROWS`] rows in one pass: one look-up of every address and one commit
    /// for all valid rows (falling back to a commit per row only if a concurrent change
    /// took one of the addresses meanwhile).
    ///
    /// # Errors
    /// [`AdmitError::TooLarge`], [`AdmitError::UnknownActor`], or a store failure; row
    /// problems are reported per row.
    pub async fn create_accounts(
        &self,
        actor: AccountId,
        rows: Vec<CreateAccount>,
        invite: Invite,
    ) -> Result<Vec<BatchRow>> {
        if rows.len() > MAX_BATCH_ROWS {
            return Err(AdmitError::TooLarge);
        }
        let actor = self.actor(actor).await?;
        let mut outcomes: Vec<Option<BatchRowOutcome>> = vec![None; rows.len()];
        let mut valid = Vec::with_capacity(rows.len());
        for (index, row) in rows.into_iter().enumerate() {
            match self.validate(row) {
                Ok(input) => valid.push((index, input)),
                Err(outcome) => outcomes[index] = Some(outcome),
            }
        }
        let keys: Vec<EmailKey> = valid.iter().filter_map(|(_, i)| i.email.as_ref().map(|e| e.key().clone())).collect();
        let existing: HashSet<EmailKey> = if keys.is_empty() {
            HashSet::new()
        } else {
            self.inner
                .store
                .accounts_by_emails(&keys)
                .await?
                .into_iter()
                .filter_map(|a| a.email.map(|e| e.key().clone()))
                .collect()
        };
        let mut seen = HashSet::new();
        let decisions: Vec<(usize, Decision)> = self.decide(|ctx| {
            let mut decisions = Vec::with_capacity(valid.len());
            for (index, input) in valid {
                if let Some(email) = &input.email
                    && (existing.contains(email.key()) || !seen.insert(email.key().clone()))
                {
                    outcomes[index] = Some(BatchRowOutcome::Duplicate);
                    continue;
                }
                let invite_now = invite == Invite::Now && input.email.is_some();
                match decide::create_account(ctx, &actor, input, None, invite_now) {
                    Ok(decision) => decisions.push((index, decision)),
                    Err(error) => outcomes[index] = Some(row_error(error)),
                }
            }
            decisions
        });
        self.record_forbidden_rows(&actor, "create_accounts", &outcomes, |_| None).await;
        // A row without an address is created but not invited, and reported as `Created`.
        self.commit_rows(decisions, &mut outcomes, |d| {
            let account = d.account.as_ref().unwrap_or_else(|| unreachable!("create returns the account"));
            if account.lifecycle == admit_core::Lifecycle::Invited {
                BatchRowOutcome::Invited(account.id)
            } else {
                BatchRowOutcome::Created(account.id)
            }
        })
        .await?;
        Ok(self::rows(outcomes))
    }

    /// Commits many rows' decisions in one store commit; if that fails on a conflict or a
    /// stale version, commits them one by one and reports each.
    pub(crate) async fn commit_rows(
        &self,
        decisions: Vec<(usize, Decision)>,
        outcomes: &mut [Option<BatchRowOutcome>],
        success: impl Fn(&Decision) -> BatchRowOutcome,
    ) -> Result<()> {
        if decisions.is_empty() {
            return Ok(());
        }
        let mut all = Decision::default();
        for (_, d) in &decisions {
            all.change.merge(d.change.clone());
            all.events.extend(d.events.iter().copied());
        }
        match self.commit(all).await {
            Ok(_) => {
                for (index, d) in &decisions {
                    outcomes[*index] = Some(success(d));
                }
                Ok(())
            }
            Err(AdmitError::EmailTaken | AdmitError::Concurrent) => {
                for (index, d) in decisions {
                    outcomes[index] = Some(match self.commit(d.clone()).await {
                        Ok(_) => success(&d),
                        Err(AdmitError::EmailTaken) => BatchRowOutcome::Duplicate,
                        Err(AdmitError::Store(e)) => return Err(AdmitError::Store(e)),
                        Err(other) => BatchRowOutcome::Refused(other.to_string()),
                    });
                }
                Ok(())
            }
            Err(other) => Err(other),
        }
    }

    /// Sends the invitation to set a password to an account created without one (« ➕
    /// Inviter »; the console confirms first).
    ///
    /// # Errors
    /// [`AdmitError::Forbidden`], [`AdmitError::Status`] unless the account is `Created`,
    /// [`AdmitError::NoEmail`], [`AdmitError::AccountUnavailable`], [`AdmitError::NotFound`].
    pub async fn invite(&self, actor: AccountId, account: AccountId) -> Result<AccountRecord> {
        self.decide_again_on_conflict(|| async move {
            let (actor, account) = (self.actor(actor).await?, self.account(account).await?);
            let decision = self
                .decide_for(&actor, "invite", Some(account.id), |ctx| decide::invite(ctx, &actor, &account))
                .await?;
            Ok(self.commit(decision).await?.account.unwrap_or(account))
        })
        .await
    }

    /// Re-sends the invitation (« Relancer », « Réinviter ») to an account that never
    /// activated: the new link replaces the old one and lives a full lifetime; limited per
    /// account ([`RateLimits::resend_per_account`](crate::RateLimits)).
    ///
    /// # Errors
    /// As [`Admit::invite`] (the account must be `Invited` or `InvitationExpired`), and
    /// [`AdmitError::RateLimited`].
    pub async fn reinvite(&self, actor: AccountId, account: AccountId) -> Result<AccountRecord> {
        self.decide_again_on_conflict(|| async move {
            let (actor, account) = (self.actor(actor).await?, self.account(account).await?);
            let decision = self
                .decide_for(&actor, "reinvite", Some(account.id), |ctx| decide::reinvite(ctx, &actor, &account))
                .await?;
            self.resend_allowed(&actor, "reinvite", &account).await?;
            let decision = self.commit(decision).await?;
            self.count_resend(&account).await;
            Ok(decision.account.unwrap_or(account))
        })
        .await
    }

    /// An administrator sends a password-reset link (« Envoyer un mail de
    /// réinitialisation », from the platform or a programme, as the policy allows). Sent to
    /// an invited account, the link also activates it. Limited per account.
    ///
    /// # Errors
    /// [`AdmitError::Forbidden`], [`AdmitError::NotInvitedYet`] for a never-invited
    /// account, [`AdmitError::AccountUnavailable`], [`AdmitError::NoEmail`],
    /// [`AdmitError::RateLimited`], [`AdmitError::NotFound`].
    pub async fn send_password_reset(&self, actor: AccountId, account: AccountId) -> Result<()> {
        self.decide_again_on_conflict(|| async move {
            let (actor, account) = (self.actor(actor).await?, self.account(account).await?);
            let mut decision = self
                .decide_for(&actor, "send_password_reset", Some(account.id), |ctx| {
                    decide::send_reset(ctx, &actor, &account)
                })
                .await?;
            Admit::guard(&mut decision, &account);
            self.resend_allowed(&actor, "send_password_reset", &account).await?;
            self.commit(decision).await?;
            self.count_resend(&account).await;
            Ok(())
        })
        .await?;
        Ok(())
    }

    /// Updates name, phone, locale or labels (« Mise à jour des tags contact pour »).
    ///
    /// # Errors
    /// [`AdmitError::Forbidden`], [`AdmitError::NotFound`], [`AdmitError::Concurrent`].
    pub async fn update_profile(
        &self,
        actor: AccountId,
        account: AccountId,
        change: ProfileChange,
    ) -> Result<AccountRecord> {
        self.decide_again_on_conflict(|| {
            let change = change.clone();
            async move {
                let (actor, account) = (self.actor(actor).await?, self.account(account).await?);
                let decision = self
                    .decide_for(&actor, "update_profile", Some(account.id), |ctx| {
                        decide::update_profile(ctx, &actor, &account, change)
                    })
                    .await?;
                Ok(self.commit(decision).await?.account.unwrap_or(account))
            }
        })
        .await
    }

    /// Replaces an account's grants (« Choisir son rôle », « Lui affecter les entreprises
    /// de votre choix »).
    ///
    /// # Errors
    /// [`AdmitError::Forbidden`] (including removing the last platform administrator),
    /// [`AdmitError::InvalidField`] for an empty list, [`AdmitError::NotFound`].
    pub async fn change_grants(
        &self,
        actor: AccountId,
        account: AccountId,
        grants: Vec<Grant>,
    ) -> Result<AccountRecord> {
        if grants.is_empty() || grants.len() > AccountRecord::MAX_GRANTS {
            return Err(AdmitError::InvalidField(FieldError::InvalidGrants));
        }
        let mut grants = grants;
        grants.sort();
        grants.dedup();
        self.decide_again_on_conflict(|| {
            let grants = grants.clone();
            async move {
                let (actor, account) = (self.actor(actor).await?, self.account(account).await?);
                let last = self.is_last_platform_administrator(&account).await?;
                let decision = self
                    .decide_for(&actor, "change_grants", Some(account.id), |ctx| {
                        decide::change_grants(ctx, &actor, &account, grants, last)
                    })
                    .await?;
                Ok(self.commit(decision).await?.account.unwrap_or(account))
            }
        })
        .await
    }

    /// Assigns or changes an account's address. Outstanding links are revoked and the old
    /// address is notified.
    ///
    /// # Errors
    /// [`AdmitError::InvalidEmail`], [`AdmitError::EmailTaken`], [`AdmitError::Forbidden`],
    /// [`AdmitError::NotFound`].
    pub async fn change_email(&self, actor: AccountId, account: AccountId, email: &str) -> Result<AccountRecord> {
        let email = self.inner.email_policy.parse(email)?;
        self.decide_again_on_conflict(|| {
            let email = email.clone();
            async move {
                let (actor, account) = (self.actor(actor).await?, self.account(account).await?);
                let holder = self.inner.store.account_by_email(email.key()).await?;
                let decision = self
                    .decide_for(&actor, "change_email", Some(account.id), |ctx| {
                        decide::change_email(ctx, &actor, &account, email, holder.as_ref())
                    })
                    .await?;
                Ok(self.commit(decision).await?.account.unwrap_or(account))
            }
        })
        .await
    }

    /// Assigns or changes many addresses at once (« Faire un traitement par lot … Saisir
    /// les adresses mail »), with a result per row.
    ///
    /// # Errors
    /// [`AdmitError::TooLarge`], [`AdmitError::UnknownActor`], a store failure.
    pub async fn assign_emails(&self, actor: AccountId, rows: Vec<EmailAssignment>) -> Result<Vec<BatchRow>> {
        if rows.len() > MAX_BATCH_ROWS {
            return Err(AdmitError::TooLarge);
        }
        let actor = self.actor(actor).await?;
        let mut outcomes: Vec<Option<BatchRowOutcome>> = vec![None; rows.len()];
        let mut parsed = Vec::new();
        for (index, row) in rows.into_iter().enumerate() {
            match self.inner.email_policy.parse(&row.email) {
                Ok(email) => parsed.push((index, row.account, email)),
                Err(e) => outcomes[index] = Some(email_error(e)),
            }
        }
        let ids: Vec<AccountId> = parsed.iter().map(|(_, id, _)| *id).collect();
        let target_of: HashMap<usize, AccountId> = parsed.iter().map(|(index, id, _)| (*index, *id)).collect();
        let keys: Vec<EmailKey> = parsed.iter().map(|(_, _, e)| e.key().clone()).collect();
        let accounts: HashMap<AccountId, AccountRecord> =
            self.inner.store.accounts_by_ids(&ids).await?.into_iter().map(|a| (a.id, a)).collect();
        let holders: HashMap<EmailKey, AccountRecord> = self
            .inner
            .store
            .accounts_by_emails(&keys)
            .await?
            .into_iter()
            .filter_map(|a| a.email.clone().map(|e| (e.key().clone(), a)))
            .collect();
        let mut seen_keys = HashSet::new();
        let mut seen_ids = HashSet::new();
        let decisions = self.decide(|ctx| {
            let mut decisions = Vec::new();
            for (index, id, email) in parsed {
                let Some(account) = accounts.get(&id) else {
                    outcomes[index] = Some(BatchRowOutcome::Refused(AdmitError::NotFound(id).to_string()));
                    continue;
                };
                if !seen_keys.insert(email.key().clone()) || !seen_ids.insert(id) {
                    outcomes[index] = Some(BatchRowOutcome::Duplicate);
                    continue;
                }
                match decide::change_email(ctx, &actor, account, email.clone(), holders.get(email.key())) {
                    Ok(decision) => decisions.push((index, decision)),
                    Err(error) => outcomes[index] = Some(row_error(error)),
                }
            }
            decisions
        });
        self.record_forbidden_rows(&actor, "assign_emails", &outcomes, |index| target_of.get(&index).copied()).await;
        self.commit_rows(decisions, &mut outcomes, |d| {
            BatchRowOutcome::Done(d.account.as_ref().map(|a| a.id).unwrap_or_else(|| unreachable!()))
        })
        .await?;
        Ok(self::rows(outcomes))
    }

    /// Disables, enables, trashes or restores an account. Disable and trash revoke every
    /// outstanding link; enable and restore bring none back. The last platform
    /// administrator can be neither disabled nor trashed.
    ///
    /// # Errors
    /// [`AdmitError::Forbidden`], [`AdmitError::Status`], [`AdmitError::NotFound`].
    pub async fn change_status(
        &self,
        actor: AccountId,
        account: AccountId,
        change: StatusChange,
    ) -> Result<AccountRecord> {
        self.decide_again_on_conflict(|| async move {
            let (actor, account) = (self.actor(actor).await?, self.account(account).await?);
            let last = self.is_last_platform_administrator(&account).await?;
            let decision = self
                .decide_for(&actor, "change_status", Some(account.id), |ctx| {
                    decide::change_status(ctx, &actor, &account, change, last)
                })
                .await?;
            Ok(self.commit(decision).await?.account.unwrap_or(account))
        })
        .await
    }

    /// Deletes a trashed account for good (an administrator emptying the trash).
    ///
    /// # Errors
    /// [`AdmitError::Forbidden`], [`AdmitError::NotPurgeable`] unless it is in the trash,
    /// [`AdmitError::NotFound`].
    pub async fn purge(&self, actor: AccountId, account: AccountId) -> Result<()> {
        let (actor, account) = (self.actor(actor).await?, self.account(account).await?);
        let decision = self
            .decide_for(&actor, "purge", Some(account.id), |ctx| decide::purge(ctx, Some(&actor), &account))
            .await?;
        self.commit(decision).await?;
        Ok(())
    }

    /// The retention job: purges accounts trashed longer than the retention period, and
    /// token records and rate-limit windows older than it. Returns how many accounts were
    /// purged. Run it periodically (daily is plenty).
    ///
    /// # Errors
    /// A store failure.
    pub async fn purge_expired(&self) -> Result<u64> {
        let now = self.now();
        let mut purged = 0;
        let mut query = admit_store::AccountQuery::new(now);
        query.status = Some(admit_core::AccountStatus::Trashed);
        query.limit = admit_store::query::MAX_PAGE_SIZE;
        loop {
            let page = self.inner.store.list_accounts(&query).await?;
            for account in &page.items {
                if let Ok(decision) = self.decide(|ctx| decide::purge(ctx, None, account)) {
                    match self.commit(decision).await {
                        Ok(_) => purged += 1,
                        Err(AdmitError::Concurrent | AdmitError::Forbidden(_)) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
            match page.next {
                Some(next) => query.after = Some(next),
                None => break,
            }
        }
        self.inner.store.purge(now - self.inner.rules.trash_retention).await.map_err(|e| match e {
            StoreError::Backend(_) => AdmitError::Store(e),
            other => AdmitError::from(other),
        })?;
        Ok(purged)
    }

    /// Creates the first platform administrator of an empty deployment, with a password.
    /// Refused once any platform administrator exists.
    ///
    /// # Errors
    /// [`AdmitError::Forbidden`] if a platform administrator exists, input errors,
    /// [`AdmitError::Password`].
    pub async fn bootstrap_administrator(
        &self,
        email: &str,
        full_name: &str,
        password: secrecy::SecretString,
    ) -> Result<AccountRecord> {
        if self.inner.store.count_platform_administrators().await? > 0 {
            return Err(AdmitError::Forbidden(Forbidden::from(admit_core::authz::ForbiddenReason::NotAnAdministrator)));
        }
        let input =
            self.validate(CreateAccount::member(email, full_name, Grant::platform_administrator())).map_err(|row| {
                match row {
                    BatchRowOutcome::InvalidEmail(e) => AdmitError::InvalidEmail(e),
                    BatchRowOutcome::RoleAddress => AdmitError::InvalidEmail(EmailError::RoleAddress),
                    BatchRowOutcome::InvalidField(e) => AdmitError::InvalidField(e),
                    _ => AdmitError::InvalidField(FieldError::InvalidGrants),
                }
            })?;
        let mut context = admit_core::password::PasswordContext::new().full_name(&input.full_name);
        if let Some(email) = input.email.as_ref() {
            context = context.email(email);
        }
        self.inner.password_policy.check_all(&password, &password, &context)?;
        let hash = self.hash_password(password).await?;
        let decision = self.decide(|ctx| decide::bootstrap_administrator(ctx, input, hash));
        Ok(self.commit(decision).await?.account.unwrap_or_else(|| unreachable!()))
    }
}

/// Turns per-row outcomes into the rows returned to the caller.
pub(crate) fn rows(outcomes: Vec<Option<BatchRowOutcome>>) -> Vec<BatchRow> {
    outcomes
        .into_iter()
        .enumerate()
        .map(|(index, outcome)| BatchRow {
            index,
            outcome: outcome.unwrap_or(BatchRowOutcome::Refused("skipped".into())),
        })
        .collect()
}

impl Admit {
    /// Whether an administrative re-send (invite again, reset) to `account` is within the
    /// per-account limit. Counted by [`Admit::count_resend`] only once the change has
    /// committed, so a re-send that fails to commit costs no slot.
    async fn resend_allowed(&self, actor: &AccountRecord, call: &'static str, account: &AccountRecord) -> Result<()> {
        let limit = self.inner.rate_limits.resend_per_account;
        let key = format!("resend:{}", account.id);
        let now = self.now();
        if self.inner.store.rate_limit_count(&key, limit.per, now).await? >= u64::from(limit.count) {
            self.refused(
                admit_core::decide::Refusal {
                    kind: admit_core::decide::RefusalKind::ResendRateLimited,
                    account: Some(account.id),
                    actor: Some(actor.id),
                    call: Some(call),
                    reason: "resend_per_account",
                },
                None,
            );
            let window_end = admit_store::window_start(now, limit.per).saturating_add(limit.per);
            return Err(AdmitError::RateLimited { retry_at: window_end });
        }
        Ok(())
    }

    async fn count_resend(&self, account: &AccountRecord) {
        let limit = self.inner.rate_limits.resend_per_account;
        let key = format!("resend:{}", account.id);
        if let Err(error) = self.inner.store.hit_rate_limit(&key, limit.count, limit.per, self.now()).await {
            tracing::warn!(%error, "could not count an administrative re-send");
        }
    }
}

impl Admit {
    /// Records each row of a batch that the policy refused, as [`Admit::decide_for`] does
    /// for a single call.
    pub(crate) async fn record_forbidden_rows(
        &self,
        actor: &AccountRecord,
        call: &'static str,
        outcomes: &[Option<BatchRowOutcome>],
        target_of: impl Fn(usize) -> Option<AccountId>,
    ) {
        for (index, outcome) in outcomes.iter().enumerate() {
            if let Some(BatchRowOutcome::Forbidden(f)) = outcome {
                self.record_refused_call(actor, call, target_of(index), f.reason()).await;
            }
        }
    }
}
