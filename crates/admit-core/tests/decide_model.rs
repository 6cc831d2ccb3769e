//! Random sequences of decisions applied to an in-test model of a store (accounts and tokens
//! in maps, each `ChangeSet` applied atomically with its preconditions, as the `ChangeSet`
//! documentation says stores do). After every step the link invariants must hold: at most
//! one live token per (account, purpose), no live token from before a password change, no
//! live token for an unavailable account, invitation state consistent with the links, and
//! always an acting platform administrator.

mod support_decide;

use std::collections::{BTreeMap, BTreeSet, HashSet};

use admit_core::authz::is_acting_platform_administrator;
use admit_core::decide::{self, Decision, NewAccount, ProfileChange, StatusChange};
use admit_core::{
    AccountId, AccountKind, AccountRecord, AccountWrite, AuditId, ChangeSet, Email, FullName, Grant, Labels, Lifecycle,
    Locale, MailId, MailKind, RevokeReason, Role, Timestamp, TokenPurpose, TokenRecord, TokenSelector, token,
};
use proptest::prelude::*;
use support_decide::*;
use time::Duration;

#[derive(Debug, Clone)]
enum Op {
    Create { email: u8, invite: bool, public: bool, grants: u8 },
    Invite(u8),
    Reinvite(u8),
    SendReset(u8),
    RequestReset(u8),
    Complete { token: u8, same_password: bool },
    SetPassword { account: u8, must_change: bool },
    Temporary(u8),
    OwnPassword(u8),
    SignIn { account: u8, rehash: bool },
    ChangeEmail { account: u8, email: u8 },
    ChangeGrants { account: u8, grants: u8 },
    Status { account: u8, what: u8 },
    Purge { account: u8, by_job: bool },
    Profile(u8),
    Advance { minutes: u32 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (any::<u8>(), any::<bool>(), any::<bool>(), any::<u8>())
            .prop_map(|(email, invite, public, grants)| Op::Create { email, invite, public, grants }),
        2 => any::<u8>().prop_map(Op::Invite),
        2 => any::<u8>().prop_map(Op::Reinvite),
        2 => any::<u8>().prop_map(Op::SendReset),
        2 => any::<u8>().prop_map(Op::RequestReset),
        4 => (any::<u8>(), any::<bool>()).prop_map(|(token, same_password)| Op::Complete { token, same_password }),
        1 => (any::<u8>(), any::<bool>()).prop_map(|(account, must_change)| Op::SetPassword { account, must_change }),
        1 => any::<u8>().prop_map(Op::Temporary),
        1 => any::<u8>().prop_map(Op::OwnPassword),
        2 => (any::<u8>(), any::<bool>()).prop_map(|(account, rehash)| Op::SignIn { account, rehash }),
        1 => (any::<u8>(), any::<u8>()).prop_map(|(account, email)| Op::ChangeEmail { account, email }),
        1 => (any::<u8>(), any::<u8>()).prop_map(|(account, grants)| Op::ChangeGrants { account, grants }),
        2 => (any::<u8>(), any::<u8>()).prop_map(|(account, what)| Op::Status { account, what }),
        1 => (any::<u8>(), any::<bool>()).prop_map(|(account, by_job)| Op::Purge { account, by_job }),
        1 => any::<u8>().prop_map(Op::Profile),
        2 => prop_oneof![1u32..=90u32, 60u32..=4320u32, 8640u32..=44640u32]
            .prop_map(|minutes| Op::Advance { minutes }),
    ]
}

/// Seven addresses; even ones in two spellings, so case-insensitive conflicts happen.
fn email(i: u8) -> Option<Email> {
    let i = i % 8;
    match i {
        7 => None,
        _ if i.is_multiple_of(2) && i > 0 => Some(Email::parse(&format!("User{}@Exemple.FR", i - 1)).unwrap()),
        _ => Some(Email::parse(&format!("user{i}@exemple.fr")).unwrap()),
    }
}

fn grants(i: u8) -> Vec<Grant> {
    match i % 6 {
        0 => vec![Grant::new(p1(), Role::Collaborator)],
        1 => vec![Grant::new(p2(), Role::Guest)],
        2 => vec![Grant::new(p1(), Role::Administrator)],
        3 => vec![Grant::platform_administrator()],
        4 => vec![Grant::new(c1(), Role::Collaborator), Grant::new(p1(), Role::Guest)],
        _ => vec![Grant::platform_administrator(), Grant::new(p2(), Role::Administrator)],
    }
}

/// The model store.
struct Model {
    now: Timestamp,
    accounts: BTreeMap<AccountId, AccountRecord>,
    tokens: BTreeMap<TokenSelector, TokenRecord>,
    /// Raw token text of each issued link, read back from the mail that carried it.
    raw: BTreeMap<TokenSelector, String>,
    mail_ids: HashSet<MailId>,
    audit_ids: HashSet<AuditId>,
    passwords: u32,
    completions: usize,
}

impl Model {
    fn new() -> Model {
        let root = root();
        Model {
            now: NOW,
            accounts: BTreeMap::from([(root.id, root)]),
            tokens: BTreeMap::new(),
            raw: BTreeMap::new(),
            mail_ids: HashSet::new(),
            audit_ids: HashSet::new(),
            passwords: 100,
            completions: 0,
        }
    }

    fn pick(&self, i: u8) -> Option<AccountRecord> {
        let ids: Vec<_> = self.accounts.keys().collect();
        (!ids.is_empty()).then(|| self.accounts[ids[usize::from(i) % ids.len()]].clone())
    }

    fn acting_admins(&self) -> usize {
        self.accounts.values().filter(|a| is_acting_platform_administrator(a)).count()
    }

    fn actor(&self) -> AccountRecord {
        self.accounts
            .values()
            .find(|a| is_acting_platform_administrator(a))
            .expect("there is always an acting platform administrator")
            .clone()
    }

    fn is_last(&self, account: &AccountRecord) -> bool {
        is_acting_platform_administrator(account) && self.acting_admins() <= 1
    }

    fn holder(&self, email: &Email) -> Option<AccountRecord> {
        self.accounts.values().find(|a| a.email.as_ref().is_some_and(|e| e.key() == email.key())).cloned()
    }

    fn next_hash(&mut self) -> admit_core::PasswordHash {
        self.passwords += 1;
        hash(self.passwords)
    }

    /// Applies `change` atomically, as the `ChangeSet` documentation says a store does.
    fn commit(&mut self, change: &ChangeSet) -> Result<(), String> {
        let mut accounts = self.accounts.clone();
        let mut tokens = self.tokens.clone();
        if let Some(use_) = &change.consume {
            let token = tokens.get_mut(&use_.selector).ok_or("consume: unknown token")?;
            let account = accounts.get(&use_.account_id).ok_or("consume: unknown account")?;
            let ok = token.account_id == use_.account_id
                && token.consumed_at.is_none()
                && token.revoked_at.is_none()
                && use_.at <= token.expires_at
                && token.credential_epoch == use_.credential_epoch
                && account.credential_epoch == use_.credential_epoch;
            if !ok {
                return Err("consume: precondition failed".into());
            }
            token.consumed_at = Some(use_.at);
        }
        for write in &change.accounts {
            match write {
                AccountWrite::Insert(record) => {
                    assert_eq!(record.version, 1, "inserted at version 1");
                    let taken = record.email.as_ref().is_some_and(|e| {
                        accounts.values().any(|a| a.email.as_ref().is_some_and(|o| o.key() == e.key()))
                    });
                    if accounts.contains_key(&record.id) || taken {
                        return Err("insert: conflict".into());
                    }
                    accounts.insert(record.id, record.clone());
                }
                AccountWrite::Update { expected_version, record } => {
                    assert_eq!(record.version, expected_version + 1, "new version = expected + 1");
                    let stored = accounts.get(&record.id).ok_or("update: unknown account")?;
                    if stored.version != *expected_version {
                        return Err("update: stale".into());
                    }
                    if let Some(e) = &record.email {
                        let taken = accounts
                            .values()
                            .any(|a| a.id != record.id && a.email.as_ref().is_some_and(|o| o.key() == e.key()));
                        if taken {
                            return Err("update: email conflict".into());
                        }
                    }
                    accounts.insert(record.id, record.clone());
                }
                AccountWrite::Delete { id, expected_version } => {
                    let stored = accounts.get(id).ok_or("delete: unknown account")?;
                    if stored.version != *expected_version {
                        return Err("delete: stale".into());
                    }
                    accounts.remove(id);
                    tokens.retain(|_, t| t.account_id != *id);
                }
            }
        }
        for revocation in &change.revocations {
            for token in tokens.values_mut() {
                let matches = token.account_id == revocation.account_id
                    && revocation.purpose.is_none_or(|p| p == token.purpose)
                    && token.consumed_at.is_none()
                    && token.revoked_at.is_none();
                if matches {
                    token.revoked_at = Some(revocation.at);
                    token.revoked_reason = Some(revocation.reason);
                }
            }
        }
        for new in &change.tokens {
            assert!(accounts.contains_key(&new.account_id), "a token for an account that does not exist");
            for token in tokens.values_mut() {
                if token.account_id == new.account_id
                    && token.purpose == new.purpose
                    && token.consumed_at.is_none()
                    && token.revoked_at.is_none()
                {
                    token.revoked_at = Some(new.created_at);
                    token.revoked_reason = Some(RevokeReason::Replaced);
                }
            }
            assert!(tokens.insert(new.selector, new.clone()).is_none(), "selector reused");
        }
        if change.require_platform_administrator && !accounts.values().any(is_acting_platform_administrator) {
            return Err("no platform administrator left".into());
        }
        for mail in &change.mails {
            assert!(self.mail_ids.insert(mail.id), "mail id reused");
        }
        for entry in &change.audit {
            assert!(self.audit_ids.insert(entry.id), "audit id reused");
        }
        self.accounts = accounts;
        self.tokens = tokens;
        Ok(())
    }

    /// What the facade does before `complete_link`: parse the mailed token, look the record
    /// up, verify it and the account.
    fn facade_accepts(&self, selector: &TokenSelector) -> bool {
        let record = &self.tokens[selector];
        let parsed = token::parse(&self.raw[selector]).expect("mailed tokens parse");
        let Some(account) = self.accounts.get(&record.account_id) else { return false };
        parsed.verify(record, record.purpose, self.now).is_ok() && record.check_account(account).is_ok()
    }
}

fn step(model: &mut Model, rng: &mut Fx, op: &Op) {
    rng.now = model.now;
    let now = model.now;
    let before_tokens: BTreeSet<TokenSelector> = model.tokens.keys().copied().collect();
    let before_accounts = model.accounts.clone();
    let actor = model.actor();
    let mut target: Option<AccountRecord> = None;
    let mut complete_selector = None;

    let decision: Option<Result<Decision, decide::DecisionError>> = match op {
        Op::Create { email: e, invite, public, grants: g } => {
            let email = email(*e);
            let existing = email.as_ref().and_then(|e| model.holder(e));
            let input = NewAccount {
                email,
                full_name: FullName::parse("Alex Model").unwrap(),
                phone: None,
                locale: Locale::fr(),
                kind: if *public { AccountKind::Public } else { AccountKind::Member },
                grants: grants(*g),
                labels: Labels::new(),
            };
            let result = decide::create_account(&mut rng.ctx(), &actor, input, existing.as_ref(), *invite);
            if existing.is_some() {
                assert_eq!(result.as_ref().unwrap_err(), &decide::DecisionError::EmailTaken);
            }
            Some(result)
        }
        Op::Invite(i) => model.pick(*i).map(|a| {
            target = Some(a.clone());
            decide::invite(&mut rng.ctx(), &actor, &a)
        }),
        Op::Reinvite(i) => model.pick(*i).map(|a| {
            target = Some(a.clone());
            decide::reinvite(&mut rng.ctx(), &actor, &a)
        }),
        Op::SendReset(i) => model.pick(*i).map(|a| {
            target = Some(a.clone());
            decide::send_reset(&mut rng.ctx(), &actor, &a)
        }),
        Op::RequestReset(e) => {
            let found = email(*e).and_then(|e| model.holder(&e));
            target = found.clone();
            Some(Ok(decide::request_reset(&mut rng.ctx(), found.as_ref(), "requester")))
        }
        Op::Complete { token: t, same_password } => {
            let selectors: Vec<_> = model.tokens.keys().copied().collect();
            if selectors.is_empty() {
                None
            } else {
                let selector = selectors[usize::from(*t) % selectors.len()];
                let record = model.tokens[&selector].clone();
                let account = model.accounts[&record.account_id].clone();
                let hash = match (same_password, &account.password_hash) {
                    (true, Some(h)) => h.clone(),
                    _ => model.next_hash(),
                };
                complete_selector = Some((selector, model.facade_accepts(&selector)));
                target = Some(account.clone());
                Some(decide::complete_link(&mut rng.ctx(), &record, &account, hash))
            }
        }
        Op::SetPassword { account, must_change } => model.pick(*account).map(|a| {
            target = Some(a.clone());
            let hash = model.next_hash();
            decide::set_password(&mut rng.ctx(), &actor, &a, hash, *must_change)
        }),
        Op::Temporary(i) => model.pick(*i).map(|a| {
            target = Some(a.clone());
            decide::issue_temporary_password(&mut rng.ctx(), &actor, &a)
        }),
        Op::OwnPassword(i) => model.pick(*i).filter(|a| a.password_hash.is_some()).map(|a| {
            target = Some(a.clone());
            let hash = model.next_hash();
            decide::change_own_password(&mut rng.ctx(), &a, hash)
        }),
        Op::SignIn { account, rehash } => {
            model.pick(*account).filter(|a| a.is_available() && a.password_hash.is_some()).map(|a| {
                target = Some(a.clone());
                let rehashed = rehash.then(|| model.next_hash());
                Ok(decide::sign_in(&mut rng.ctx(), &a, rehashed))
            })
        }
        Op::ChangeEmail { account, email: e } => match (model.pick(*account), email(*e)) {
            (Some(a), Some(new)) => {
                target = Some(a.clone());
                let holder = model.holder(&new);
                Some(decide::change_email(&mut rng.ctx(), &actor, &a, new, holder.as_ref()))
            }
            _ => None,
        },
        Op::ChangeGrants { account, grants: g } => model.pick(*account).map(|a| {
            target = Some(a.clone());
            let last = model.is_last(&a);
            decide::change_grants(&mut rng.ctx(), &actor, &a, grants(*g), last)
        }),
        Op::Status { account, what } => model.pick(*account).map(|a| {
            target = Some(a.clone());
            let what = [StatusChange::Disable, StatusChange::Enable, StatusChange::Trash, StatusChange::Restore]
                [usize::from(*what) % 4];
            let last = model.is_last(&a);
            decide::change_status(&mut rng.ctx(), &actor, &a, what, last)
        }),
        Op::Purge { account, by_job } => model.pick(*account).map(|a| {
            target = Some(a.clone());
            decide::purge(&mut rng.ctx(), (!by_job).then_some(&actor), &a)
        }),
        Op::Profile(i) => model.pick(*i).map(|a| {
            target = Some(a.clone());
            let change = ProfileChange { locale: Some(Locale::en()), ..ProfileChange::default() };
            decide::update_profile(&mut rng.ctx(), &actor, &a, change)
        }),
        Op::Advance { minutes } => {
            model.now = model.now + Duration::minutes(i64::from(*minutes));
            None
        }
    };

    let Some(Ok(decision)) = decision else {
        if let Some((_, true)) = complete_selector {
            panic!("the facade accepted the link but the decision refused it: {decision:?}");
        }
        check_invariants(model, &before_tokens, &before_accounts);
        return;
    };
    check_decision(&decision, now, target.as_ref());
    check_change(model, &decision.change);
    // Every issued link is mailed, once, as an intent on its reserved token; the dispatcher
    // arms it (below, right after the commit, as if it ran at once) and the person
    // receives the raw token.
    let mut mailed = Vec::new();
    let mut temporary = Vec::new();
    for mail in &decision.change.mails {
        if matches!(mail.kind, MailKind::Invitation | MailKind::InvitationReminder | MailKind::PasswordReset) {
            let Some(admit_core::MailIntent::Link { selector, .. }) = mail.params.intent else {
                panic!("a link mail carries a link intent")
            };
            let record = decision.change.tokens.iter().find(|t| t.selector == selector).expect("its record");
            let (link, armed) = arm_link(mail, &rng.rules.links, record);
            assert_eq!(mail.params.expires_at, Some(record.expires_at));
            mailed.push((armed, raw_of(&link, &rng.rules.links, record.purpose)));
        }
        if let Some(admit_core::MailIntent::TemporaryPassword { credential_epoch }) = mail.params.intent {
            temporary.push((mail.account_id.expect("a temporary password concerns an account"), credential_epoch));
        }
        let account = decision.account.as_ref().expect("a mail concerns the decision's account");
        assert!(account.is_available(), "no mail for a disabled or trashed account");
    }
    assert_eq!(decision.change.tokens.len(), mailed.len(), "every issued link is mailed");

    let committed = model.commit(&decision.change);
    if committed.is_ok() {
        // The dispatcher arms what the commit reserved: the verifier hash on the token, the
        // temporary password's hash on the account (version + 1).
        for (armed, raw) in mailed {
            let stored = model.tokens.get_mut(&armed.selector).expect("the reserved token is stored");
            assert!(stored.verifier_hash.is_none());
            stored.verifier_hash = armed.verifier_hash;
            token::parse(&raw).unwrap().verify(stored, stored.purpose, now).expect("the mailed link verifies");
            model.raw.insert(armed.selector, raw);
        }
        for (id, epoch) in temporary {
            let hash = model.next_hash();
            let account = model.accounts.get_mut(&id).expect("the account exists");
            assert!(
                account.must_change_password && account.credential_epoch == epoch && account.password_hash.is_none()
            );
            account.password_hash = Some(hash);
            account.version += 1;
        }
    }
    match complete_selector {
        Some((_, accepted)) => {
            assert_eq!(committed.is_ok(), accepted, "the store consumes exactly the links the facade accepts");
            if committed.is_ok() {
                model.completions += 1;
            }
        }
        None => committed.expect("only a link consumption can fail at commit in a sequential run"),
    }
    check_invariants(model, &before_tokens, &before_accounts);
}

/// Checks on one change set before it is applied.
fn check_change(model: &Model, change: &ChangeSet) {
    let mut purposes = HashSet::new();
    for token in &change.tokens {
        assert!(purposes.insert((token.account_id, token.purpose)), "two links of one purpose in one change");
        let account = change
            .accounts
            .iter()
            .find_map(|w| match w {
                AccountWrite::Insert(r) | AccountWrite::Update { record: r, .. } if r.id == token.account_id => Some(r),
                _ => None,
            })
            .or(model.accounts.get(&token.account_id))
            .unwrap();
        assert_eq!(token.credential_epoch, account.credential_epoch, "a link is bound to the current epoch");
        assert!(account.is_available(), "no link for an unavailable account");
    }
    for write in &change.accounts {
        if let AccountWrite::Update { expected_version, record } = write {
            assert_eq!(*expected_version, model.accounts[&record.id].version);
        }
    }
}

fn check_invariants(
    model: &Model,
    before_tokens: &BTreeSet<TokenSelector>,
    before: &BTreeMap<AccountId, AccountRecord>,
) {
    let now = model.now;
    assert!(model.acting_admins() >= 1, "always an acting platform administrator");
    let mut live = HashSet::new();
    for token in model.tokens.values().filter(|t| t.is_live(now)) {
        assert!(live.insert((token.account_id, token.purpose)), "two live links of one purpose: {token:?}");
        let account = &model.accounts[&token.account_id];
        assert_eq!(token.credential_epoch, account.credential_epoch, "live link from an older epoch");
        assert!(account.is_available(), "live link of a disabled or trashed account");
        if token.purpose == TokenPurpose::Invitation {
            assert_eq!(account.lifecycle, Lifecycle::Invited);
            assert_eq!(account.invitation_expires_at, Some(token.expires_at));
        }
    }
    let mut keys = HashSet::new();
    for account in model.accounts.values() {
        if let Some(e) = &account.email {
            assert!(keys.insert(e.key().clone()), "two accounts with one address");
        }
        let active = account.lifecycle == Lifecycle::Active;
        assert_eq!(active, account.password_hash.is_some(), "{account:?}");
        assert_eq!(active, account.activated_at.is_some(), "{account:?}");
        if account.lifecycle == Lifecycle::Invited {
            assert!(account.is_available(), "an unavailable account is not pending an invitation");
            let pending = model.tokens.values().any(|t| {
                t.account_id == account.id
                    && t.purpose == TokenPurpose::Invitation
                    && t.consumed_at.is_none()
                    && t.revoked_at.is_none()
                    && Some(t.expires_at) == account.invitation_expires_at
            });
            assert!(pending, "an invited account has its (possibly expired) invitation link");
        } else {
            assert_eq!(account.invitation_expires_at, None);
        }
        // No link issued before a password change is live after it.
        if let Some(old) = before.get(&account.id)
            && old.credential_epoch != account.credential_epoch
        {
            for token in
                model.tokens.values().filter(|t| t.account_id == account.id && before_tokens.contains(&t.selector))
            {
                assert!(!token.is_live(now), "a link outlived the password change");
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn decisions_keep_the_link_invariants(seed in any::<u64>(), ops in prop::collection::vec(op(), 1..80)) {
        let mut fx = Fx::seeded(seed);
        let mut model = Model::new();
        for op in &ops {
            step(&mut model, &mut fx, op);
        }
    }
}

/// A fixed scenario through the model, so the harness itself is known to reach the
/// interesting states (a proptest that never completes a link would prove little).
#[test]
fn a_scripted_run_reaches_completion_and_revocation() {
    let mut fx = Fx::new();
    let mut model = Model::new();
    let script = [
        Op::Create { email: 1, invite: true, public: false, grants: 0 },
        Op::SendReset(1),
        Op::Complete { token: 0, same_password: false },
        Op::Complete { token: 1, same_password: false },
    ];
    for op in &script {
        step(&mut model, &mut fx, op);
    }
    assert_eq!(model.accounts.len(), 2);
    assert_eq!(model.completions, 1, "one of the two links was used, the other died with the password change");
    assert!(model.tokens.values().all(|t| !t.is_live(model.now)));
    let used = model.tokens.values().filter(|t| t.consumed_at.is_some()).count();
    let revoked = model.tokens.values().filter(|t| t.revoked_reason == Some(RevokeReason::PasswordChanged)).count();
    assert_eq!((used, revoked), (1, 1));
    let person = model.accounts.values().find(|a| a.id != root().id).unwrap();
    assert_eq!(person.lifecycle, Lifecycle::Active);
}
