//! The concurrency cases are not rubber stamps: a small store whose guards are each
//! check-then-act across an `await` (the classic bug of a hand-written store) fails the case
//! meant to catch it, while the same store with every guard atomic passes it, and so does
//! `MemoryStore`.
//!
//! `RacyStore` keeps its state behind one mutex. Without a flaw, every call runs under the
//! lock (atomic). With a flaw, the guarded call checks under the lock, lets go, yields to
//! the other tasks, and then writes without checking again — which is exactly what a
//! store does when it reads, decides in code, then writes in a second statement or
//! transaction.

use std::collections::{BTreeMap, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;

use admit_store::conformance::{self, run_case};
use admit_store::query::{AccountFilter, AccountQuery, AuditQuery, MailQuery, Page, StatusCounts, page_size};
use admit_store::{
    AccountId, AccountRecord, AccountWrite, ArmOutcome, AuditId, AuditRecord, ChangeSet, ConflictKind, Duration,
    EmailKey, Lease, MailArming, MailClaim, MailId, MailRecord, MailStatus, MemoryStore, PurgeReport,
    RateLimitDecision, Result, RevokeReason, Store, StoreError, Timestamp, TokenRecord, TokenSelector, async_trait,
    window_start,
};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Flaw {
    /// None: every guard atomic (the control).
    Atomic,
    /// Checks "a platform administrator remains" on a snapshot, then writes without the
    /// lock that would make the check and the write one step: write skew.
    UnlockedAdministratorGuard,
    /// Revokes the previous tokens of the purpose in one step, inserts the new token in
    /// another.
    ReissueInTwoSteps,
    /// Checks that the email key is free, then writes the account.
    EmailCheckThenWrite,
    /// Reads the window's count, then writes count + 1.
    RateLimitReadThenWrite,
    /// Selects the due mails, then leases them without checking they are still free.
    ClaimWithoutExclusion,
    /// Checks that the token is usable, then marks it consumed whatever happened meanwhile.
    ConsumeIgnoresRevocation,
}

/// Which guards a commit's write step checks.
#[derive(Clone, Copy)]
struct Guards {
    consume: bool,
    email: bool,
    replace: bool,
    administrator: bool,
}

const ALL: Guards = Guards { consume: true, email: true, replace: true, administrator: true };

#[derive(Debug, Clone, Default)]
struct State {
    accounts: BTreeMap<AccountId, AccountRecord>,
    tokens: BTreeMap<TokenSelector, TokenRecord>,
    mails: BTreeMap<MailId, MailRecord>,
    audit: BTreeMap<AuditId, AuditRecord>,
    rate_limits: HashMap<(String, Timestamp, Timestamp), u64>,
}

impl State {
    fn email_taken(&self, key: &EmailKey, by_other_than: AccountId) -> bool {
        self.accounts.values().any(|a| a.id != by_other_than && a.email.as_ref().is_some_and(|e| e.key() == key))
    }

    fn revoke(
        &mut self,
        account: AccountId,
        purpose: Option<admit_store::TokenPurpose>,
        reason: RevokeReason,
        at: Timestamp,
    ) {
        for token in self.tokens.values_mut() {
            if token.account_id == account && purpose.is_none_or(|p| p == token.purpose) && token.is_live(at) {
                token.revoked_at = Some(at);
                token.revoked_reason = Some(reason);
            }
        }
    }

    /// Applies `change` in the documented order, checking the guards that are on. Callers
    /// apply to a copy and keep it only on success.
    fn apply(&mut self, change: &ChangeSet, guards: Guards) -> Result<()> {
        if let Some(c) = &change.consume {
            let account_epoch = self.accounts.get(&c.account_id).map(|a| a.credential_epoch);
            let token = self.tokens.get_mut(&c.selector).ok_or(StoreError::TokenUnavailable)?;
            let usable = token.account_id == c.account_id
                && token.is_live(c.at)
                && token.credential_epoch == c.credential_epoch
                && account_epoch == Some(c.credential_epoch);
            if guards.consume && !usable {
                return Err(StoreError::TokenUnavailable);
            }
            token.consumed_at = Some(c.at);
        }
        for write in &change.accounts {
            match write {
                AccountWrite::Insert(record) => {
                    if self.accounts.contains_key(&record.id) {
                        return Err(StoreError::Conflict { what: ConflictKind::AccountId });
                    }
                    if guards.email && record.email.as_ref().is_some_and(|e| self.email_taken(e.key(), record.id)) {
                        return Err(StoreError::Conflict { what: ConflictKind::Email });
                    }
                    self.accounts.insert(record.id, record.clone());
                }
                AccountWrite::Update { expected_version, record } => {
                    if self.accounts.get(&record.id).is_none_or(|a| a.version != *expected_version) {
                        return Err(StoreError::StaleVersion { account: record.id });
                    }
                    if guards.email && record.email.as_ref().is_some_and(|e| self.email_taken(e.key(), record.id)) {
                        return Err(StoreError::Conflict { what: ConflictKind::Email });
                    }
                    self.accounts.insert(record.id, record.clone());
                }
                AccountWrite::Delete { id, expected_version } => {
                    if self.accounts.get(id).is_none_or(|a| a.version != *expected_version) {
                        return Err(StoreError::StaleVersion { account: *id });
                    }
                    self.accounts.remove(id);
                    self.tokens.retain(|_, t| t.account_id != *id);
                }
            }
        }
        for r in &change.revocations {
            self.revoke(r.account_id, r.purpose, r.reason, r.at);
        }
        for token in &change.tokens {
            if self.tokens.contains_key(&token.selector) {
                return Err(StoreError::Conflict { what: ConflictKind::TokenSelector });
            }
            if guards.replace {
                self.revoke(token.account_id, Some(token.purpose), RevokeReason::Replaced, token.created_at);
            }
            self.tokens.insert(token.selector, token.clone());
        }
        for mail in &change.mails {
            if self.mails.insert(mail.id, mail.clone()).is_some() {
                return Err(StoreError::Conflict { what: ConflictKind::MailId });
            }
        }
        for entry in &change.audit {
            if self.audit.insert(entry.id, entry.clone()).is_some() {
                return Err(StoreError::Conflict { what: ConflictKind::AuditId });
            }
        }
        if guards.administrator
            && change.require_platform_administrator
            && !self.accounts.values().any(AccountRecord::is_platform_administrator)
        {
            return Err(StoreError::LastPlatformAdministrator);
        }
        Ok(())
    }
}

/// A store of the concurrency cases' needs, atomic or with one [`Flaw`].
#[derive(Debug)]
struct RacyStore {
    state: Mutex<State>,
    flaw: Flaw,
}

impl RacyStore {
    fn new(flaw: Flaw) -> Self {
        RacyStore { state: Mutex::default(), flaw }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies `change` atomically with `guards`.
    fn apply(&self, change: &ChangeSet, guards: Guards) -> Result<()> {
        let mut state = self.state();
        let mut next = state.clone();
        next.apply(change, guards)?;
        *state = next;
        Ok(())
    }

    /// The time between a check and its write: a round trip to a database, here 1 ms in
    /// which the other tasks run.
    async fn gap() {
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }

    /// Check with every guard on a snapshot, let go, then write with `guards`.
    async fn check_then_write(&self, change: &ChangeSet, guards: Guards) -> Result<()> {
        self.state().clone().apply(change, ALL)?;
        Self::gap().await;
        self.apply(change, guards)
    }

    fn mails_of(&self, claim: &MailClaim) -> Vec<MailId> {
        let state = self.state();
        state
            .mails
            .values()
            .filter(|m| {
                m.status == MailStatus::Pending
                    && m.next_attempt_at <= claim.now
                    && m.lease.as_ref().is_none_or(|l| l.until < claim.now)
            })
            .take(claim.limit as usize)
            .map(|m| m.id)
            .collect()
    }

    fn lease(&self, ids: &[MailId], claim: &MailClaim) -> Vec<MailRecord> {
        let mut state = self.state();
        let mut claimed = Vec::new();
        for id in ids {
            if let Some(mail) = state.mails.get_mut(id) {
                mail.lease = Some(Lease { owner: claim.owner.clone(), until: claim.now + claim.lease });
                mail.attempts += 1;
                claimed.push(mail.clone());
            }
        }
        claimed
    }

    fn settle(&self, id: MailId, owner: &str, edit: impl FnOnce(&mut MailRecord)) -> Result<()> {
        let mut state = self.state();
        match state.mails.get_mut(&id) {
            Some(mail)
                if mail.status == MailStatus::Pending && mail.lease.as_ref().is_some_and(|l| l.owner == owner) =>
            {
                mail.lease = None;
                edit(mail);
                Ok(())
            }
            _ => Err(StoreError::LeaseLost),
        }
    }
}

fn unused(method: &str) -> ! {
    panic!("RacyStore implements what the concurrency cases use; {method} is not one of them")
}

#[async_trait]
impl Store for RacyStore {
    async fn commit(&self, change: ChangeSet) -> Result<()> {
        let has_email = change.accounts.iter().any(|w| match w {
            AccountWrite::Insert(r) | AccountWrite::Update { record: r, .. } => r.email.is_some(),
            AccountWrite::Delete { .. } => false,
        });
        match self.flaw {
            Flaw::UnlockedAdministratorGuard if change.require_platform_administrator => {
                self.check_then_write(&change, Guards { administrator: false, ..ALL }).await
            }
            Flaw::EmailCheckThenWrite if has_email => {
                self.check_then_write(&change, Guards { email: false, ..ALL }).await
            }
            Flaw::ConsumeIgnoresRevocation if change.consume.is_some() => {
                self.check_then_write(&change, Guards { consume: false, ..ALL }).await
            }
            Flaw::ReissueInTwoSteps if !change.tokens.is_empty() => {
                {
                    let mut state = self.state();
                    for t in &change.tokens {
                        state.revoke(t.account_id, Some(t.purpose), RevokeReason::Replaced, t.created_at);
                    }
                }
                Self::gap().await;
                self.apply(&change, Guards { replace: false, ..ALL })
            }
            _ => self.apply(&change, ALL),
        }
    }
    async fn account(&self, id: AccountId) -> Result<Option<AccountRecord>> {
        Ok(self.state().accounts.get(&id).cloned())
    }
    async fn account_by_email(&self, key: &EmailKey) -> Result<Option<AccountRecord>> {
        Ok(self.state().accounts.values().find(|a| a.email.as_ref().is_some_and(|e| e.key() == key)).cloned())
    }
    async fn accounts_by_emails(&self, keys: &[EmailKey]) -> Result<Vec<AccountRecord>> {
        let state = self.state();
        Ok(state
            .accounts
            .values()
            .filter(|a| a.email.as_ref().is_some_and(|e| keys.contains(e.key())))
            .cloned()
            .collect())
    }
    async fn accounts_by_ids(&self, ids: &[AccountId]) -> Result<Vec<AccountRecord>> {
        Ok(ids.iter().filter_map(|id| self.state().accounts.get(id).cloned()).collect())
    }
    async fn list_accounts(&self, query: &AccountQuery) -> Result<Page<AccountRecord, AccountId>> {
        if query.filter != AccountFilter::default() || query.status.is_some() {
            unused("list_accounts with a filter");
        }
        let size = page_size(query.limit);
        let state = self.state();
        let items: Vec<AccountRecord> = state
            .accounts
            .values()
            .filter(|a| query.after.is_none_or(|after| a.id > after))
            .take(size)
            .cloned()
            .collect();
        let next = if items.len() == size { items.last().map(|a| a.id) } else { None };
        Ok(Page { items, next })
    }
    async fn count_accounts(&self, _: &AccountFilter, _: Timestamp) -> Result<StatusCounts> {
        unused("count_accounts")
    }
    async fn count_platform_administrators(&self) -> Result<u64> {
        Ok(self.state().accounts.values().filter(|a| a.is_platform_administrator()).count() as u64)
    }
    async fn token(&self, selector: &TokenSelector) -> Result<Option<TokenRecord>> {
        Ok(self.state().tokens.get(selector).cloned())
    }
    async fn tokens_of(&self, account: AccountId) -> Result<Vec<TokenRecord>> {
        let mut tokens: Vec<TokenRecord> =
            self.state().tokens.values().filter(|t| t.account_id == account).cloned().collect();
        tokens.sort_by_key(|t| (t.created_at, t.selector.to_bytes()));
        Ok(tokens)
    }
    async fn claim_mails(&self, claim: &MailClaim) -> Result<Vec<MailRecord>> {
        if self.flaw == Flaw::ClaimWithoutExclusion {
            let due = self.mails_of(claim);
            Self::gap().await;
            return Ok(self.lease(&due, claim));
        }
        let mut state = self.state();
        let due: Vec<MailId> = state
            .mails
            .values()
            .filter(|m| {
                m.status == MailStatus::Pending
                    && m.next_attempt_at <= claim.now
                    && m.lease.as_ref().is_none_or(|l| l.until < claim.now)
            })
            .take(claim.limit as usize)
            .map(|m| m.id)
            .collect();
        let mut claimed = Vec::new();
        for id in due {
            let mail = state.mails.get_mut(&id).expect("just seen");
            mail.lease = Some(Lease { owner: claim.owner.clone(), until: claim.now + claim.lease });
            mail.attempts += 1;
            claimed.push(mail.clone());
        }
        Ok(claimed)
    }
    async fn arm_mails(&self, _owner: &str, _at: Timestamp, _arms: &[MailArming]) -> Result<Vec<ArmOutcome>> {
        unused("arm_mails")
    }
    async fn mark_mail_sent(&self, id: MailId, owner: &str, at: Timestamp) -> Result<()> {
        self.settle(id, owner, |m| {
            m.status = MailStatus::Sent;
            m.sent_at = Some(at);
            m.params.secret = None;
        })
    }
    async fn retry_mail(&self, id: MailId, owner: &str, next_attempt_at: Timestamp, error: &str) -> Result<()> {
        self.settle(id, owner, |m| {
            m.next_attempt_at = next_attempt_at;
            m.last_error = Some(error.to_owned());
        })
    }
    async fn fail_mail(&self, id: MailId, owner: &str, at: Timestamp, error: &str) -> Result<()> {
        self.settle(id, owner, |m| {
            m.status = MailStatus::Failed;
            m.failed_at = Some(at);
            m.last_error = Some(error.to_owned());
            m.params.secret = None;
        })
    }
    async fn release_mail(&self, id: MailId, owner: &str) -> Result<()> {
        self.settle(id, owner, |m| m.attempts -= 1)
    }
    async fn mail(&self, id: MailId) -> Result<Option<MailRecord>> {
        Ok(self.state().mails.get(&id).cloned().map(|mut m| {
            m.params.secret = None;
            m
        }))
    }
    async fn journal(&self, _: &MailQuery) -> Result<Page<MailRecord, MailId>> {
        unused("journal")
    }
    async fn hit_rate_limit(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
        now: Timestamp,
    ) -> Result<RateLimitDecision> {
        let start = window_start(now, window);
        let slot = (key.to_owned(), start, start + window);
        let count = if self.flaw == Flaw::RateLimitReadThenWrite {
            let seen = self.state().rate_limits.get(&slot).copied().unwrap_or(0);
            Self::gap().await;
            self.state().rate_limits.insert(slot, seen + 1);
            seen + 1
        } else {
            let mut state = self.state();
            let count = state.rate_limits.entry(slot).or_insert(0);
            *count += 1;
            *count
        };
        Ok(RateLimitDecision { allowed: count <= u64::from(limit), count, resets_at: start + window })
    }
    async fn rate_limit_count(&self, key: &str, window: Duration, now: Timestamp) -> Result<u64> {
        let start = window_start(now, window);
        Ok(self.state().rate_limits.get(&(key.to_owned(), start, start + window)).copied().unwrap_or(0))
    }
    async fn audit(&self, _: &AuditQuery) -> Result<Page<AuditRecord, AuditId>> {
        unused("audit")
    }
    async fn purge(&self, _: Timestamp) -> Result<PurgeReport> {
        unused("purge")
    }
}

/// Runs the named case on a fresh store from `store` and returns its panic message, if any.
fn outcome<S: Store>(case: &str, store: impl Fn() -> S) -> Option<String> {
    let (_, case) = conformance::TABLE.iter().find(|(name, _)| *name == case).expect("the case exists");
    let store = store();
    catch_unwind(AssertUnwindSafe(|| run_case(true, async move { store }, case))).err().map(|panic| {
        panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_default()
    })
}

/// The case fails on the flawed store with a message containing `rule`, and passes on the
/// atomic `RacyStore` and on `MemoryStore`.
fn caught(flaw: Flaw, case: &str, rule: &str) {
    assert_eq!(outcome(case, || RacyStore::new(Flaw::Atomic)), None, "{case} passes on the atomic RacyStore");
    assert_eq!(outcome(case, MemoryStore::new), None, "{case} passes on MemoryStore");
    let message =
        outcome(case, || RacyStore::new(flaw)).unwrap_or_else(|| panic!("{case} fails on a store with {flaw:?}"));
    assert!(message.contains(rule), "{case} on {flaw:?} names the rule «{rule}»; said: {message}");
    assert!(message.contains("(round "), "{case} on {flaw:?} names the round; said: {message}");
    eprintln!("{flaw:?} caught by {case}: {message}");
}

#[test]
fn write_skew_on_the_last_platform_administrator_is_caught() {
    caught(
        Flaw::UnlockedAdministratorGuard,
        "concurrency_last_platform_administrator_survives_write_skew",
        "contract: require_platform_administrator holds under concurrency (no write skew)",
    );
}

#[test]
fn reissue_in_two_steps_is_caught() {
    caught(
        Flaw::ReissueInTwoSteps,
        "concurrency_reissue_leaves_one_live_token",
        "contract: exactly one live token per (account, purpose) under concurrent re-issue",
    );
}

#[test]
fn email_check_then_write_is_caught_on_changes_and_on_inserts() {
    caught(
        Flaw::EmailCheckThenWrite,
        "concurrency_email_taken_once_by_concurrent_changes",
        "contract: the email key is unique under concurrent inserts and address changes",
    );
    caught(
        Flaw::EmailCheckThenWrite,
        "concurrency_same_email_inserted_once",
        "contract: of 16 concurrent inserts of one email key exactly one succeeds",
    );
}

#[test]
fn read_then_write_rate_limiter_is_caught() {
    caught(
        Flaw::RateLimitReadThenWrite,
        "concurrency_rate_limit_exact_every_round",
        "contract: rate-limit hits are counted atomically",
    );
}

#[test]
fn claims_without_exclusion_are_caught() {
    caught(
        Flaw::ClaimWithoutExclusion,
        "concurrency_claims_are_exclusive_every_round",
        "contract: claims are exclusive: of 16 concurrent claimers no two receive the same mail",
    );
}

#[test]
fn consumption_ignoring_a_concurrent_revocation_is_caught() {
    caught(
        Flaw::ConsumeIgnoresRevocation,
        "concurrency_consumption_racing_revocation_is_serial",
        "contract: a consumption racing a revocation is serial",
    );
}
