//! [`MemoryStore`]: a complete, thread-safe in-memory store.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use time::Duration;

use crate::query::{contains_ignore_case, page_size};
use crate::store::{
    ArmOutcome, ArmedSecret, ConflictKind, MailArming, MailClaim, PurgeReport, RateLimitDecision, Result, Store,
    StoreError, window_start,
};
use crate::{
    AccountFilter, AccountId, AccountQuery, AccountRecord, AccountWrite, AuditId, AuditQuery, AuditRecord, ChangeSet,
    EmailKey, MailId, MailQuery, MailRecord, MailStatus, Page, RevokeReason, StatusCounts, Timestamp, TokenConsumption,
    TokenPurpose, TokenRecord, TokenSelector,
};
use admit_core::mail::Lease;

/// A complete in-memory [`Store`] for tests and single-process hosts.
///
/// All state sits behind one mutex, so every method, [`Store::commit`] included, is atomic
/// and linearizable. A commit applies its parts in the documented order while keeping an
/// undo log, and rolls every part back if a precondition fails, so a refused change leaves
/// nothing behind.
///
/// `MemoryStore` is a cheap handle: clones share the same state (an `Arc` inside), so a
/// test can keep one clone to inspect what the code under test wrote through another.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use admit_store::{MemoryStore, Store};
/// let store = MemoryStore::new();
/// let handle = store.clone();
/// assert_eq!(handle.count_platform_administrators().await.unwrap(), 0);
/// # });
/// ```
#[derive(Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while the lock is held cannot leave a half-applied commit (the undo log
        // runs before any early return), so a poisoned lock still guards consistent data.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("MemoryStore")
            .field("accounts", &state.accounts.len())
            .field("tokens", &state.tokens.len())
            .field("mails", &state.mails.len())
            .field("audit", &state.audit.len())
            .field("rate_limits", &state.rate_limits.len())
            .finish()
    }
}

#[derive(Default)]
struct State {
    accounts: BTreeMap<AccountId, AccountRecord>,
    emails: HashMap<EmailKey, AccountId>,
    /// Token records with their insertion sequence number.
    tokens: HashMap<TokenSelector, (u64, TokenRecord)>,
    /// (account, insertion sequence) → selector: the per-account token list.
    tokens_by_account: BTreeMap<(AccountId, u64), TokenSelector>,
    /// The same, for tokens neither consumed nor revoked (expired ones included): what a
    /// revocation walks, so an account's spent tokens do not slow its new ones down.
    unspent_by_account: BTreeMap<(AccountId, u64), TokenSelector>,
    next_token_seq: u64,
    mails: BTreeMap<MailId, MailRecord>,
    /// Pending mails by id: the claim order (oldest id first).
    pending: BTreeSet<MailId>,
    audit: BTreeMap<AuditId, AuditRecord>,
    /// (key, window start, window end) → hits.
    rate_limits: HashMap<(String, Timestamp, Timestamp), u64>,
}

/// What a commit changed, to put back if a later part fails.
enum Undo {
    Account {
        id: AccountId,
        previous: Option<Box<AccountRecord>>,
    },
    Token {
        selector: TokenSelector,
        previous: Option<(u64, TokenRecord)>,
    },
    Mail(MailId),
    /// A mail changed in place (cancelled): its previous state.
    MailState(Box<MailRecord>),
    Audit(AuditId),
}

impl State {
    fn put_account(&mut self, undo: &mut Vec<Undo>, id: AccountId, record: Option<AccountRecord>) {
        let previous = match record {
            Some(record) => self.accounts.insert(id, record),
            None => self.accounts.remove(&id),
        };
        if let Some(old) = previous.as_ref().and_then(|old| old.email.as_ref())
            && self.emails.get(old.key()) == Some(&id)
        {
            self.emails.remove(old.key());
        }
        if let Some(new) = self.accounts.get(&id).and_then(|new| new.email.as_ref()) {
            self.emails.insert(new.key().clone(), id);
        }
        undo.push(Undo::Account { id, previous: previous.map(Box::new) });
    }

    fn put_token(&mut self, undo: &mut Vec<Undo>, selector: TokenSelector, entry: Option<(u64, TokenRecord)>) {
        let previous = self.set_token(selector, entry);
        undo.push(Undo::Token { selector, previous });
    }

    /// Sets or removes one token record, keeping the per-account index in step.
    fn set_token(&mut self, selector: TokenSelector, entry: Option<(u64, TokenRecord)>) -> Option<(u64, TokenRecord)> {
        let previous = match entry {
            Some(entry) => self.tokens.insert(selector, entry),
            None => self.tokens.remove(&selector),
        };
        if let Some((seq, old)) = &previous {
            self.tokens_by_account.remove(&(old.account_id, *seq));
            self.unspent_by_account.remove(&(old.account_id, *seq));
        }
        if let Some((seq, new)) = self.tokens.get(&selector) {
            self.tokens_by_account.insert((new.account_id, *seq), selector);
            if new.consumed_at.is_none() && new.revoked_at.is_none() {
                self.unspent_by_account.insert((new.account_id, *seq), selector);
            }
        }
        previous
    }

    fn selectors_of(&self, account: AccountId) -> Vec<TokenSelector> {
        self.tokens_by_account.range((account, 0)..=(account, u64::MAX)).map(|(_, s)| *s).collect()
    }

    fn unspent_selectors_of(&self, account: AccountId) -> Vec<TokenSelector> {
        self.unspent_by_account.range((account, 0)..=(account, u64::MAX)).map(|(_, s)| *s).collect()
    }

    fn revoke(
        &mut self,
        undo: &mut Vec<Undo>,
        account: AccountId,
        purpose: Option<TokenPurpose>,
        reason: RevokeReason,
        at: Timestamp,
    ) {
        for selector in self.unspent_selectors_of(account) {
            let Some((seq, record)) = self.tokens.get(&selector) else { continue };
            if purpose.is_some_and(|p| p != record.purpose) || !record.is_live(at) {
                continue;
            }
            let mut revoked = record.clone();
            revoked.revoked_at = Some(at);
            revoked.revoked_reason = Some(reason);
            let seq = *seq;
            self.put_token(undo, selector, Some((seq, revoked)));
        }
    }

    fn rollback(&mut self, undo: Vec<Undo>) {
        for step in undo.into_iter().rev() {
            match step {
                Undo::Account { id, previous } => {
                    let mut ignored = Vec::new();
                    self.put_account(&mut ignored, id, previous.map(|b| *b));
                }
                Undo::Token { selector, previous } => {
                    self.set_token(selector, previous);
                }
                Undo::Mail(id) => {
                    if self.mails.remove(&id).is_some() {
                        self.pending.remove(&id);
                    }
                }
                Undo::MailState(previous) => {
                    if previous.status == MailStatus::Pending {
                        self.pending.insert(previous.id);
                    }
                    self.mails.insert(previous.id, *previous);
                }
                Undo::Audit(id) => {
                    self.audit.remove(&id);
                }
            }
        }
    }

    fn apply(&mut self, change: ChangeSet, undo: &mut Vec<Undo>) -> Result<()> {
        if let Some(consume) = change.consume {
            self.consume(undo, consume)?;
        }
        for write in change.accounts {
            self.write_account(undo, write)?;
        }
        for revocation in change.revocations {
            self.revoke(undo, revocation.account_id, revocation.purpose, revocation.reason, revocation.at);
        }
        if !change.cancel_mails.is_empty() {
            self.cancel_mails(undo, &change.cancel_mails);
        }
        for token in change.tokens {
            if self.tokens.contains_key(&token.selector) {
                return Err(StoreError::Conflict { what: ConflictKind::TokenSelector });
            }
            self.revoke(undo, token.account_id, Some(token.purpose), RevokeReason::Replaced, token.created_at);
            let seq = self.next_token_seq;
            self.next_token_seq += 1;
            self.put_token(undo, token.selector, Some((seq, token)));
        }
        for mut mail in change.mails {
            // A store keeps intents, never secrets.
            mail.params.secret = None;
            if self.mails.contains_key(&mail.id) {
                return Err(StoreError::Conflict { what: ConflictKind::MailId });
            }
            if mail.status == MailStatus::Pending {
                self.pending.insert(mail.id);
            }
            undo.push(Undo::Mail(mail.id));
            self.mails.insert(mail.id, mail);
        }
        for entry in change.audit {
            if self.audit.contains_key(&entry.id) {
                return Err(StoreError::Conflict { what: ConflictKind::AuditId });
            }
            undo.push(Undo::Audit(entry.id));
            self.audit.insert(entry.id, entry);
        }
        if change.require_platform_administrator && !self.accounts.values().any(|a| a.is_platform_administrator()) {
            return Err(StoreError::LastPlatformAdministrator);
        }
        Ok(())
    }

    fn consume(&mut self, undo: &mut Vec<Undo>, consume: TokenConsumption) -> Result<()> {
        let Some((seq, token)) = self.tokens.get(&consume.selector) else {
            return Err(StoreError::TokenUnavailable);
        };
        let account_epoch = self.accounts.get(&consume.account_id).map(|a| a.credential_epoch);
        let usable = token.account_id == consume.account_id
            && token.verifier_hash.is_some()
            && token.is_live(consume.at)
            && token.credential_epoch == consume.credential_epoch
            && account_epoch == Some(consume.credential_epoch);
        if !usable {
            return Err(StoreError::TokenUnavailable);
        }
        let mut consumed = token.clone();
        consumed.consumed_at = Some(consume.at);
        let seq = *seq;
        self.put_token(undo, consume.selector, Some((seq, consumed)));
        Ok(())
    }

    fn write_account(&mut self, undo: &mut Vec<Undo>, write: AccountWrite) -> Result<()> {
        match write {
            AccountWrite::Insert(record) => {
                if self.accounts.contains_key(&record.id) {
                    return Err(StoreError::Conflict { what: ConflictKind::AccountId });
                }
                if record.email.as_ref().is_some_and(|email| self.emails.contains_key(email.key())) {
                    return Err(StoreError::Conflict { what: ConflictKind::Email });
                }
                self.put_account(undo, record.id, Some(record));
            }
            AccountWrite::Update { expected_version, record } => {
                let id = record.id;
                match self.accounts.get(&id) {
                    Some(stored) if stored.version == expected_version => {}
                    _ => return Err(StoreError::StaleVersion { account: id }),
                }
                if record
                    .email
                    .as_ref()
                    .and_then(|email| self.emails.get(email.key()))
                    .is_some_and(|owner| *owner != id)
                {
                    return Err(StoreError::Conflict { what: ConflictKind::Email });
                }
                self.put_account(undo, id, Some(record));
            }
            AccountWrite::Delete { id, expected_version } => {
                match self.accounts.get(&id) {
                    Some(stored) if stored.version == expected_version => {}
                    _ => return Err(StoreError::StaleVersion { account: id }),
                }
                for selector in self.selectors_of(id) {
                    self.put_token(undo, selector, None);
                }
                self.put_account(undo, id, None);
            }
        }
        Ok(())
    }

    /// Supersedes every pending mail with an intent of the cancelled accounts (one pass
    /// over the pending mails, however many cancellations).
    fn cancel_mails(&mut self, undo: &mut Vec<Undo>, cancellations: &[admit_core::MailCancellation]) {
        let by_account: HashMap<AccountId, &admit_core::MailCancellation> =
            cancellations.iter().map(|c| (c.account_id, c)).collect();
        let hit: Vec<MailId> = self
            .pending
            .iter()
            .filter(|id| {
                self.mails.get(id).is_some_and(|m| {
                    m.params.intent.is_some() && m.account_id.is_some_and(|a| by_account.contains_key(&a))
                })
            })
            .copied()
            .collect();
        for key in hit {
            let Some(mail) = self.mails.get_mut(&key) else { continue };
            let Some(cancel) = mail.account_id.and_then(|a| by_account.get(&a)) else { continue };
            undo.push(Undo::MailState(Box::new(mail.clone())));
            mail.status = MailStatus::Superseded;
            mail.lease = None;
            mail.failed_at = Some(cancel.at);
            mail.last_error = Some(admit_core::MailCancellation::journal_reason(cancel.reason));
            self.pending.remove(&key);
        }
    }

    /// Arms one claimed mail, or supersedes it (see [`Store::arm_mails`]).
    fn arm(&mut self, owner: &str, at: Timestamp, arming: &MailArming) -> ArmOutcome {
        let Ok(mail) = self.leased_mail(arming.mail, owner) else { return ArmOutcome::LeaseLost };
        let (intent, account_id) = (mail.params.intent, mail.account_id);
        let account = account_id.and_then(|id| self.accounts.get(&id));
        let checked = match (intent, &arming.secret) {
            (Some(admit_core::MailIntent::Link { selector, purpose }), ArmedSecret::Link(hash)) => {
                let token = self.tokens.get(&selector).map(|(_, t)| t);
                let account = account.or_else(|| token.and_then(|t| self.accounts.get(&t.account_id)));
                crate::arming::check_link(token, purpose, account, at).map(|()| {
                    if let Some((_, token)) = self.tokens.get_mut(&selector) {
                        token.verifier_hash = Some(*hash);
                    }
                })
            }
            (
                Some(admit_core::MailIntent::TemporaryPassword { credential_epoch }),
                ArmedSecret::TemporaryPassword(hash),
            ) => crate::arming::check_temporary_password(account, credential_epoch).map(|()| {
                if let Some(account) = account_id.and_then(|id| self.accounts.get_mut(&id)) {
                    account.password_hash = Some(hash.clone());
                    account.version += 1;
                }
            }),
            _ => Err(crate::arming::MISMATCH.to_owned()),
        };
        match checked {
            Ok(()) => ArmOutcome::Armed,
            Err(reason) => {
                let _ = self.settle(arming.mail, owner, MailStatus::Superseded, at, Some(&reason));
                ArmOutcome::Superseded(reason)
            }
        }
    }

    /// The mail `id` if `owner` holds its lease and it is pending.
    fn leased_mail(&mut self, id: MailId, owner: &str) -> Result<&mut MailRecord> {
        match self.mails.get_mut(&id) {
            Some(mail)
                if mail.status == MailStatus::Pending && mail.lease.as_ref().is_some_and(|l| l.owner == owner) =>
            {
                Ok(mail)
            }
            _ => Err(StoreError::LeaseLost),
        }
    }

    fn settle(
        &mut self,
        id: MailId,
        owner: &str,
        status: MailStatus,
        at: Timestamp,
        error: Option<&str>,
    ) -> Result<()> {
        let mail = self.leased_mail(id, owner)?;
        let key = mail.id;
        mail.status = status;
        mail.lease = None;
        mail.params.secret = None;
        match status {
            MailStatus::Sent => mail.sent_at = Some(at),
            MailStatus::Failed | MailStatus::Superseded => mail.failed_at = Some(at),
            MailStatus::Pending => {}
        }
        if let Some(error) = error {
            mail.last_error = Some(error.to_owned());
        }
        self.pending.remove(&key);
        Ok(())
    }
}

fn matches_filter(account: &AccountRecord, filter: &AccountFilter) -> bool {
    if let Some(grant) = &filter.grant {
        let found = account
            .grants
            .iter()
            .any(|g| grant.scope.as_ref().is_none_or(|s| *s == g.scope) && grant.role.is_none_or(|r| r == g.role));
        if !found {
            return false;
        }
    }
    if filter.kind.is_some_and(|k| k != account.kind) {
        return false;
    }
    filter.text.as_ref().is_none_or(|text| {
        contains_ignore_case(account.full_name.as_str(), text)
            || account.email.as_ref().is_some_and(|email| contains_ignore_case(email.as_str(), text))
    })
}

fn matches_mail(mail: &MailRecord, query: &MailQuery) -> bool {
    query.recipient.as_ref().is_none_or(|r| contains_ignore_case(mail.to.as_str(), r))
        && query.account_id.is_none_or(|a| mail.account_id == Some(a))
        && query.subject.as_ref().is_none_or(|s| contains_ignore_case(&mail.subject, s))
        && query.kind.is_none_or(|k| k == mail.kind)
        && query.status.is_none_or(|s| s == mail.status)
        && query.since.is_none_or(|t| mail.created_at >= t)
        && query.until.is_none_or(|t| mail.created_at < t)
}

fn matches_audit(entry: &AuditRecord, query: &AuditQuery) -> bool {
    query.actor.is_none_or(|a| entry.actor == Some(a))
        && query.target.is_none_or(|t| entry.target == Some(t))
        && query.action.is_none_or(|a| a == entry.action)
        && query.since.is_none_or(|t| entry.at >= t)
        && query.until.is_none_or(|t| entry.at < t)
}

/// A page from an iterator in the query's order; `next` is the last id of a full page.
fn page<T: Clone, C: Copy>(rows: impl Iterator<Item = T>, limit: u32, cursor: impl Fn(&T) -> C) -> Page<T, C> {
    let size = page_size(limit);
    let items: Vec<T> = rows.take(size).collect();
    let next = if items.len() == size { items.last().map(&cursor) } else { None };
    Page { items, next }
}

fn scrubbed(mail: &MailRecord) -> MailRecord {
    let mut mail = mail.clone();
    mail.params.secret = None;
    mail
}

#[async_trait]
impl Store for MemoryStore {
    async fn commit(&self, change: ChangeSet) -> Result<()> {
        let mut state = self.lock();
        let mut undo = Vec::new();
        let outcome = state.apply(change, &mut undo);
        if outcome.is_err() {
            state.rollback(undo);
        }
        outcome
    }

    async fn account(&self, id: AccountId) -> Result<Option<AccountRecord>> {
        Ok(self.lock().accounts.get(&id).cloned())
    }

    async fn account_by_email(&self, key: &EmailKey) -> Result<Option<AccountRecord>> {
        let state = self.lock();
        Ok(state.emails.get(key).and_then(|id| state.accounts.get(id)).cloned())
    }

    async fn accounts_by_emails(&self, keys: &[EmailKey]) -> Result<Vec<AccountRecord>> {
        let state = self.lock();
        let ids: BTreeSet<AccountId> = keys.iter().filter_map(|k| state.emails.get(k).copied()).collect();
        Ok(ids.iter().filter_map(|id| state.accounts.get(id)).cloned().collect())
    }

    async fn accounts_by_ids(&self, ids: &[AccountId]) -> Result<Vec<AccountRecord>> {
        let state = self.lock();
        let ids: BTreeSet<AccountId> = ids.iter().copied().collect();
        Ok(ids.iter().filter_map(|id| state.accounts.get(id)).cloned().collect())
    }

    async fn list_accounts(&self, query: &AccountQuery) -> Result<Page<AccountRecord, AccountId>> {
        let state = self.lock();
        let range = match query.after {
            Some(after) => state.accounts.range((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded)),
            None => state.accounts.range(..),
        };
        let rows = range
            .map(|(_, a)| a)
            .filter(|a| matches_filter(a, &query.filter))
            .filter(|a| query.status.is_none_or(|s| a.status(query.now) == s))
            .cloned();
        Ok(page(rows, query.limit, |a: &AccountRecord| a.id))
    }

    async fn count_accounts(&self, filter: &AccountFilter, now: Timestamp) -> Result<StatusCounts> {
        let state = self.lock();
        let mut counts = StatusCounts::default();
        for account in state.accounts.values().filter(|a| matches_filter(a, filter)) {
            counts.add(account.status(now));
        }
        Ok(counts)
    }

    async fn count_platform_administrators(&self) -> Result<u64> {
        let state = self.lock();
        Ok(state.accounts.values().filter(|a| a.is_platform_administrator()).count() as u64)
    }

    async fn token(&self, selector: &TokenSelector) -> Result<Option<TokenRecord>> {
        Ok(self.lock().tokens.get(selector).map(|(_, t)| t.clone()))
    }

    async fn tokens_of(&self, account: AccountId) -> Result<Vec<TokenRecord>> {
        let state = self.lock();
        let mut tokens: Vec<(u64, TokenRecord)> =
            state.selectors_of(account).iter().filter_map(|s| state.tokens.get(s)).cloned().collect();
        tokens.sort_by_key(|(_, t)| (t.created_at, t.selector.to_bytes()));
        Ok(tokens.into_iter().map(|(_, t)| t).collect())
    }

    async fn claim_mails(&self, claim: &MailClaim) -> Result<Vec<MailRecord>> {
        let mut state = self.lock();
        let due: Vec<MailId> = state
            .pending
            .iter()
            .filter_map(|id| state.mails.get(id))
            .filter(|m| m.next_attempt_at <= claim.now && m.lease.as_ref().is_none_or(|l| l.until < claim.now))
            .take(claim.limit as usize)
            .map(|m| m.id)
            .collect();
        let mut claimed = Vec::with_capacity(due.len());
        for id in due {
            if let Some(mail) = state.mails.get_mut(&id) {
                mail.lease = Some(Lease { owner: claim.owner.clone(), until: claim.now + claim.lease });
                mail.attempts = mail.attempts.saturating_add(1);
                claimed.push(mail.clone());
            }
        }
        Ok(claimed)
    }

    async fn arm_mails(&self, owner: &str, at: Timestamp, arms: &[MailArming]) -> Result<Vec<ArmOutcome>> {
        let mut state = self.lock();
        Ok(arms.iter().map(|arming| state.arm(owner, at, arming)).collect())
    }

    async fn mark_mail_sent(&self, id: MailId, owner: &str, at: Timestamp) -> Result<()> {
        self.lock().settle(id, owner, MailStatus::Sent, at, None)
    }

    async fn retry_mail(&self, id: MailId, owner: &str, next_attempt_at: Timestamp, error: &str) -> Result<()> {
        let mut state = self.lock();
        let mail = state.leased_mail(id, owner)?;
        mail.lease = None;
        mail.next_attempt_at = next_attempt_at;
        mail.last_error = Some(error.to_owned());
        Ok(())
    }

    async fn fail_mail(&self, id: MailId, owner: &str, at: Timestamp, error: &str) -> Result<()> {
        self.lock().settle(id, owner, MailStatus::Failed, at, Some(error))
    }

    async fn release_mail(&self, id: MailId, owner: &str) -> Result<()> {
        let mut state = self.lock();
        let mail = state.leased_mail(id, owner)?;
        mail.lease = None;
        mail.attempts = mail.attempts.saturating_sub(1);
        Ok(())
    }

    async fn mail(&self, id: MailId) -> Result<Option<MailRecord>> {
        Ok(self.lock().mails.get(&id).map(scrubbed))
    }

    async fn journal(&self, query: &MailQuery) -> Result<Page<MailRecord, MailId>> {
        let state = self.lock();
        let range = match query.after {
            Some(after) => state.mails.range(..after),
            None => state.mails.range(..),
        };
        let rows = range.rev().map(|(_, m)| m).filter(|m| matches_mail(m, query)).map(scrubbed);
        Ok(page(rows, query.limit, |m: &MailRecord| m.id))
    }

    async fn hit_rate_limit(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
        now: Timestamp,
    ) -> Result<RateLimitDecision> {
        let start = window_start(now, window);
        let resets_at = start + window;
        let mut state = self.lock();
        let count = state.rate_limits.entry((key.to_owned(), start, resets_at)).or_insert(0);
        *count += 1;
        Ok(RateLimitDecision { allowed: *count <= u64::from(limit), count: *count, resets_at })
    }

    async fn rate_limit_count(&self, key: &str, window: Duration, now: Timestamp) -> Result<u64> {
        let start = window_start(now, window);
        let state = self.lock();
        Ok(state.rate_limits.get(&(key.to_owned(), start, start + window)).copied().unwrap_or(0))
    }

    async fn audit(&self, query: &AuditQuery) -> Result<Page<AuditRecord, AuditId>> {
        let state = self.lock();
        let range = match query.after {
            Some(after) => state.audit.range(..after),
            None => state.audit.range(..),
        };
        let rows = range.rev().map(|(_, e)| e).filter(|e| matches_audit(e, query)).cloned();
        Ok(page(rows, query.limit, |e: &AuditRecord| e.id))
    }

    async fn purge(&self, before: Timestamp) -> Result<PurgeReport> {
        let mut state = self.lock();
        let old: Vec<TokenSelector> =
            state.tokens.iter().filter(|(_, (_, t))| t.expires_at < before).map(|(s, _)| *s).collect();
        for selector in &old {
            state.set_token(*selector, None);
        }
        let windows = state.rate_limits.len();
        state.rate_limits.retain(|(_, _, ends), _| *ends >= before);
        Ok(PurgeReport { tokens: old.len() as u64, rate_limits: (windows - state.rate_limits.len()) as u64 })
    }
}

#[cfg(test)]
mod tests {
    use admit_core::{
        AccountId, Email, FullName, Grant, Labels, Lifecycle, Locale, MailKind, MailParams, MailSecret, PasswordHash,
    };

    use super::*;
    use crate::AccountKind;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().build().unwrap()
    }

    fn account(at: Timestamp) -> AccountRecord {
        AccountRecord {
            id: AccountId::from_bytes([7; 16]),
            email: Some(Email::parse("jeanne@exemple.fr").unwrap()),
            full_name: FullName::parse("Jeanne").unwrap(),
            phone: None,
            locale: Locale::fr(),
            kind: AccountKind::Member,
            grants: vec![Grant::platform_administrator()],
            labels: Labels::new(),
            lifecycle: Lifecycle::Active,
            invitation_expires_at: None,
            password_hash: Some(PasswordHash::from_phc("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$SECRET-HASH".into())),
            must_change_password: false,
            credential_epoch: admit_core::CredentialEpoch(0),
            version: 1,
            created_at: at,
            updated_at: at,
            invited_at: None,
            last_invitation_sent_at: None,
            activated_at: Some(at),
            last_login_at: None,
            password_changed_at: None,
            disabled_at: None,
            trashed_at: None,
        }
    }

    fn mail(id: u8, account: &AccountRecord, at: Timestamp) -> MailRecord {
        MailRecord {
            id: MailId::from_bytes([id; 16]),
            account_id: Some(account.id),
            to: account.email.clone().unwrap(),
            locale: Locale::fr(),
            kind: MailKind::PasswordReset,
            subject: "Réinitialisation de votre mot de passe".into(),
            params: MailParams {
                recipient_name: "Jeanne".into(),
                intent: None,
                secret: Some(MailSecret::new("https://exemple.fr/r/adm_TOP-SECRET")),
                expires_at: None,
                new_email: None,
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

    /// Not observable through the trait either: a revocation walks only the account's
    /// unspent tokens, however many spent ones the account has, and the index follows every
    /// change (insert, consume, revoke, purge).
    #[test]
    fn revocations_walk_only_unspent_tokens() {
        use admit_core::{CredentialEpoch, TokenConsumption, TokenPurpose};
        let at = Timestamp::from_unix_micros(1_000_000);
        let store = MemoryStore::new();
        let account = account(at);
        let unspent = |store: &MemoryStore| store.lock().unspent_by_account.len();
        let all = |store: &MemoryStore| store.lock().tokens_by_account.len();
        runtime().block_on(async {
            let change =
                ChangeSet { accounts: vec![crate::AccountWrite::Insert(account.clone())], ..ChangeSet::default() };
            store.commit(change).await.unwrap();
            let mut last = None;
            for _ in 0..50 {
                let issued = admit_core::token::issue(
                    &mut rand::rng(),
                    account.id,
                    TokenPurpose::PasswordReset,
                    CredentialEpoch(0),
                    at,
                    Duration::hours(1),
                );
                last = Some(issued.record.selector);
                store.commit(ChangeSet { tokens: vec![issued.record], ..ChangeSet::default() }).await.unwrap();
            }
            // Each insert revoked the one before it: one unspent token among fifty.
            assert_eq!((all(&store), unspent(&store)), (50, 1));
            // A commit that revokes it and then fails puts the index back.
            let entry = crate::AuditRecord {
                id: AuditId::from_bytes([9; 16]),
                at,
                actor: None,
                action: crate::AuditAction::SignedIn,
                target: None,
                detail: String::new(),
            };
            let issued = admit_core::token::issue(
                &mut rand::rng(),
                account.id,
                TokenPurpose::PasswordReset,
                CredentialEpoch(0),
                at,
                Duration::hours(1),
            );
            let failing =
                ChangeSet { tokens: vec![issued.record], audit: vec![entry.clone(), entry], ..ChangeSet::default() };
            assert!(store.commit(failing).await.is_err());
            assert_eq!((all(&store), unspent(&store)), (50, 1));
            assert_eq!(store.lock().unspent_by_account.values().next(), last.as_ref());
            let selector = last.unwrap();
            let consume =
                TokenConsumption { selector, account_id: account.id, credential_epoch: CredentialEpoch(0), at };
            store.commit(ChangeSet { consume: Some(consume), ..ChangeSet::default() }).await.unwrap();
            assert_eq!((all(&store), unspent(&store)), (50, 0));
            store.purge(at + Duration::hours(2)).await.unwrap();
            assert_eq!((all(&store), unspent(&store)), (0, 0));
        });
    }

    /// Not observable through the trait (no read returns a secret): a secret handed to a
    /// commit is never kept, whatever the mail's status.
    #[test]
    fn no_mail_keeps_a_secret_at_rest() {
        let at = Timestamp::from_unix_micros(1_000_000);
        let store = MemoryStore::new();
        let account = account(at);
        let mails = [mail(1, &account, at), mail(2, &account, at), mail(3, &account, at)];
        runtime().block_on(async {
            let change = ChangeSet { mails: mails.to_vec(), ..ChangeSet::default() };
            store.commit(change).await.unwrap();
            let claim = MailClaim { owner: "o".into(), now: at, lease: Duration::minutes(1), limit: 2 };
            assert_eq!(store.claim_mails(&claim).await.unwrap().len(), 2);
            store.mark_mail_sent(mails[0].id, "o", at).await.unwrap();
            store.fail_mail(mails[1].id, "o", at, "550").await.unwrap();
        });
        let state = store.lock();
        for mail in &mails {
            let kept = &state.mails[&mail.id];
            assert!(kept.params.secret.is_none(), "a {:?} mail keeps no secret at rest", kept.status);
        }
        assert!(state.pending.len() == 1, "settled mails leave the pending index");
    }

    #[test]
    fn debug_shows_no_record_and_no_secret() {
        let at = Timestamp::from_unix_micros(1_000_000);
        let store = MemoryStore::new();
        let account = account(at);
        runtime().block_on(async {
            let change = ChangeSet {
                accounts: vec![crate::AccountWrite::Insert(account.clone())],
                mails: vec![mail(1, &account, at)],
                ..ChangeSet::default()
            };
            store.commit(change).await.unwrap();
        });
        let debug = format!("{store:?}");
        assert!(debug.contains("accounts: 1") && debug.contains("mails: 1"), "{debug}");
        for secret in ["TOP-SECRET", "SECRET-HASH", "jeanne@exemple.fr"] {
            assert!(!debug.contains(secret), "Debug of MemoryStore leaks {secret}: {debug}");
        }
    }

    #[test]
    fn clones_share_state() {
        let at = Timestamp::from_unix_micros(1_000_000);
        let store = MemoryStore::new();
        let handle = store.clone();
        runtime().block_on(async {
            let change = ChangeSet { accounts: vec![crate::AccountWrite::Insert(account(at))], ..ChangeSet::default() };
            store.commit(change).await.unwrap();
            assert_eq!(handle.count_platform_administrators().await.unwrap(), 1, "a clone sees the other's writes");
            assert_eq!(MemoryStore::new().count_platform_administrators().await.unwrap(), 0, "new() is empty");
        });
    }

    #[test]
    fn a_rolled_back_commit_restores_every_index() {
        let at = Timestamp::from_unix_micros(1_000_000);
        let store = MemoryStore::new();
        let first = account(at);
        runtime().block_on(async {
            store
                .commit(ChangeSet {
                    accounts: vec![crate::AccountWrite::Insert(first.clone())],
                    ..ChangeSet::default()
                })
                .await
                .unwrap();
            // An email change plus a mail, then a failing audit duplicate: all rolled back.
            let mut moved = first.clone();
            moved.email = Some(Email::parse("autre@exemple.fr").unwrap());
            moved.version = 2;
            let entry = crate::AuditRecord {
                id: AuditId::from_bytes([9; 16]),
                at,
                actor: None,
                action: crate::AuditAction::SignedIn,
                target: None,
                detail: String::new(),
            };
            let change = ChangeSet {
                accounts: vec![crate::AccountWrite::Update { expected_version: 1, record: moved }],
                mails: vec![mail(1, &first, at)],
                audit: vec![entry.clone(), entry],
                ..ChangeSet::default()
            };
            assert!(matches!(store.commit(change).await, Err(StoreError::Conflict { what: ConflictKind::AuditId })));
        });
        let state = store.lock();
        assert_eq!(state.emails.len(), 1);
        assert_eq!(
            state.emails.get(first.email.as_ref().unwrap().key()),
            Some(&first.id),
            "the old email key is restored"
        );
        assert!(state.mails.is_empty() && state.pending.is_empty() && state.audit.is_empty());
        assert_eq!(state.accounts[&first.id], first);
    }
}
