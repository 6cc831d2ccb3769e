//! Fixtures for the `decide_*` integration tests: a seeded generator, a fixed instant, a
//! subject renderer that betrays any secret it is handed, accounts in every status, and
//! checks every decision must pass.
#![allow(dead_code)]

use std::collections::HashSet;

use admit_core::decide::{Ctx, Decision, Links, Rules, Subjects};
use admit_core::token::{self, ParsedToken};
use admit_core::{
    AccountId, AccountKind, AccountRecord, AccountWrite, ChangeSet, ClientFileId, CredentialEpoch, Email, FullName,
    Grant, Labels, Lifecycle, Locale, MailKind, MailParams, MailRecord, PasswordHash, ProgramId, Role, Scope,
    Timestamp, TokenPurpose, TokenRecord,
};
use rand::SeedableRng;
use rand::rngs::StdRng;
use time::Duration;

/// 2026-03-02T09:30:00.123456Z: the instant every decision is made at (whole microseconds,
/// not a round number, so an off-by-something shows).
pub const NOW: Timestamp = Timestamp::from_unix_micros(1_772_443_800_123_456);

/// Long before [`NOW`]: when the fixture accounts were created.
pub const EARLIER: Timestamp = Timestamp::from_unix_micros(1_767_225_600_000_000);

/// The stored version of every fixture account (not 1, so a decision that writes a
/// hard-coded version shows).
pub const VERSION: u64 = 5;

/// The credential epoch of every fixture account (not 0, for the same reason).
pub const EPOCH: CredentialEpoch = CredentialEpoch(3);

/// The base URL of every link.
pub const BASE: &str = "https://app.exemple.fr/espace";

/// Renders `"{kind:?} {locale}"`; if it is ever handed a secret (a link, a temporary
/// password), it appends it, so a decision that lets a secret reach a subject line fails
/// every subject assertion.
#[derive(Debug, Default)]
pub struct TestSubjects;

impl Subjects for TestSubjects {
    fn subject(&self, kind: MailKind, locale: &Locale, params: &MailParams) -> String {
        match &params.secret {
            Some(secret) => format!("{kind:?} {locale} {}", secret.expose()),
            None => format!("{kind:?} {locale}"),
        }
    }
}

/// The expected subject of a mail.
pub fn subject(kind: MailKind, locale: &str) -> String {
    format!("{kind:?} {locale}")
}

/// The state every decision needs.
pub struct Fx {
    pub now: Timestamp,
    pub rng: StdRng,
    pub rules: Rules,
    pub subjects: TestSubjects,
}

impl Fx {
    /// Default lifetimes, links under [`BASE`], a generator seeded with 42.
    pub fn new() -> Fx {
        Fx::seeded(42)
    }

    /// As [`Fx::new`] with another seed.
    pub fn seeded(seed: u64) -> Fx {
        let rules = Rules {
            invitation_ttl: Duration::days(7),
            reset_ttl: Duration::hours(1),
            trash_retention: Duration::days(30),
            links: Links::new(BASE).unwrap(),
        };
        Fx { now: NOW, rng: StdRng::seed_from_u64(seed), rules, subjects: TestSubjects }
    }

    /// A context at [`Fx::now`].
    pub fn ctx(&mut self) -> Ctx<'_, StdRng> {
        Ctx { now: self.now, rng: &mut self.rng, rules: &self.rules, subjects: &self.subjects }
    }
}

pub fn p1() -> Scope {
    Scope::Program(ProgramId::parse("p1").unwrap())
}

pub fn p2() -> Scope {
    Scope::Program(ProgramId::parse("p2").unwrap())
}

pub fn c1() -> Scope {
    Scope::ClientFile(ClientFileId::parse("c1").unwrap())
}

/// The stored address of fixture account `n`: mixed-case local part, kept as typed.
pub fn address(n: u32) -> Email {
    Email::parse(&format!("Jeanne.Martin{n}@Exemple.FR")).unwrap()
}

/// A PHC-looking hash (decisions only store it).
pub fn hash(n: u32) -> PasswordHash {
    PasswordHash::from_phc(format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNo{n:04}"))
}

fn id(n: u32) -> AccountId {
    let mut bytes = [0u8; 16];
    bytes[12..].copy_from_slice(&n.to_be_bytes());
    AccountId::from_bytes(bytes)
}

/// An active member account `n` with these grants: version [`VERSION`], epoch [`EPOCH`],
/// a password, activated at [`EARLIER`], locale `en`.
pub fn active(n: u32, grants: Vec<Grant>) -> AccountRecord {
    AccountRecord {
        id: id(n),
        email: Some(address(n)),
        full_name: FullName::parse(&format!("Jeanne Martin {n}")).unwrap(),
        phone: None,
        locale: Locale::en(),
        kind: AccountKind::Member,
        grants,
        labels: Labels::new(),
        lifecycle: Lifecycle::Active,
        invitation_expires_at: None,
        password_hash: Some(hash(n)),
        must_change_password: false,
        credential_epoch: EPOCH,
        version: VERSION,
        created_at: EARLIER,
        updated_at: EARLIER,
        invited_at: Some(EARLIER),
        last_invitation_sent_at: Some(EARLIER),
        activated_at: Some(EARLIER),
        last_login_at: None,
        password_changed_at: Some(EARLIER),
        disabled_at: None,
        trashed_at: None,
    }
}

/// The acting platform administrator (the actor of most tests).
pub fn root() -> AccountRecord {
    active(1, vec![Grant::platform_administrator()])
}

/// An acting administrator of programme p1 only.
pub fn program_admin() -> AccountRecord {
    active(2, vec![Grant::new(p1(), Role::Administrator)])
}

/// An acting collaborator of p1 (manages no one).
pub fn collaborator_actor() -> AccountRecord {
    active(3, vec![Grant::new(p1(), Role::Collaborator)])
}

/// The statuses a target can be in, as stored records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Created, never invited.
    Created,
    /// Invited, link valid until NOW + 3 days.
    Invited,
    /// Invited, link expired 2 days ago.
    InvitationExpired,
    /// Active with a password.
    Active,
    /// Active, then disabled.
    Disabled,
    /// Active, then trashed.
    Trashed,
    /// Active, disabled, then trashed.
    DisabledTrashed,
}

impl State {
    pub const ALL: [State; 7] = [
        State::Created,
        State::Invited,
        State::InvitationExpired,
        State::Active,
        State::Disabled,
        State::Trashed,
        State::DisabledTrashed,
    ];
}

/// Turns an active record into one in `state`.
pub fn in_state(mut account: AccountRecord, state: State) -> AccountRecord {
    let never_activated = |a: &mut AccountRecord| {
        a.password_hash = None;
        a.activated_at = None;
        a.password_changed_at = None;
    };
    match state {
        State::Created => {
            never_activated(&mut account);
            account.lifecycle = Lifecycle::Created;
            account.invited_at = None;
            account.last_invitation_sent_at = None;
        }
        State::Invited => {
            never_activated(&mut account);
            account.lifecycle = Lifecycle::Invited;
            account.invitation_expires_at = Some(NOW + Duration::days(3));
            account.invited_at = Some(NOW - Duration::days(4));
            account.last_invitation_sent_at = Some(NOW - Duration::days(4));
        }
        State::InvitationExpired => {
            never_activated(&mut account);
            account.lifecycle = Lifecycle::Invited;
            account.invitation_expires_at = Some(NOW - Duration::days(2));
            account.invited_at = Some(NOW - Duration::days(20));
            account.last_invitation_sent_at = Some(NOW - Duration::days(9));
        }
        State::Active => {}
        State::Disabled => account.disabled_at = Some(NOW - Duration::days(1)),
        State::Trashed => account.trashed_at = Some(NOW - Duration::days(1)),
        State::DisabledTrashed => {
            account.disabled_at = Some(NOW - Duration::days(2));
            account.trashed_at = Some(NOW - Duration::days(1));
        }
    }
    account
}

/// A collaborator of p1 (n = 10) in `state`: what program administrators may manage.
pub fn collaborator(state: State) -> AccountRecord {
    in_state(active(10, vec![Grant::new(p1(), Role::Collaborator)]), state)
}

/// A public (portal) account (n = 20) in `state`, with a guest grant in p1.
pub fn public(state: State) -> AccountRecord {
    let mut account = in_state(active(20, vec![Grant::new(p1(), Role::Guest)]), state);
    account.kind = AccountKind::Public;
    account.locale = Locale::fr();
    account
}

/// A member (n = 30) of both p1 and p2, in `state`.
pub fn two_programs(state: State) -> AccountRecord {
    in_state(active(30, vec![Grant::new(p1(), Role::Collaborator), Grant::new(p2(), Role::Guest)]), state)
}

/// `account` without an address.
pub fn without_email(mut account: AccountRecord) -> AccountRecord {
    account.email = None;
    account
}

/// The one account write of `change`, which must be an update of `before`: expected
/// version = old version, new version = old + 1, same id, `updated_at` = `now`.
pub fn the_update<'c>(change: &'c ChangeSet, before: &AccountRecord, now: Timestamp) -> &'c AccountRecord {
    assert_eq!(change.accounts.len(), 1, "exactly one account write: {:?}", change.accounts);
    match &change.accounts[0] {
        AccountWrite::Update { expected_version, record } => {
            assert_eq!(*expected_version, before.version, "expected_version is the version read");
            assert_eq!(record.version, before.version + 1, "the new version is the old one + 1");
            assert_eq!(record.id, before.id);
            assert_eq!(record.updated_at, now);
            assert_eq!(record.created_at, before.created_at);
            record
        }
        other => panic!("expected an update, got {other:?}"),
    }
}

/// The one inserted record of `change`.
pub fn the_insert(change: &ChangeSet) -> &AccountRecord {
    assert_eq!(change.accounts.len(), 1, "exactly one account write: {:?}", change.accounts);
    match &change.accounts[0] {
        AccountWrite::Insert(record) => record,
        other => panic!("expected an insert, got {other:?}"),
    }
}

/// What the dispatcher does for a mailed link: checks the mail's intent names `record`
/// (reserved: no verifier, so nothing verifies against it yet), mints a verifier, and
/// returns the link text and the armed record (what the store keeps after arming).
pub fn arm_link(mail: &MailRecord, links: &Links, record: &TokenRecord) -> (String, TokenRecord) {
    assert!(mail.params.secret.is_none(), "a decision never holds a secret");
    let Some(admit_core::MailIntent::Link { selector, purpose }) = mail.params.intent else {
        panic!("the mail carries a link intent: {:?}", mail.params.intent)
    };
    assert_eq!(selector, record.selector, "the intent names the reserved token");
    assert_eq!(purpose, record.purpose);
    assert!(record.verifier_hash.is_none(), "the decision reserved the token without a verifier");
    let armed = token::arm(&mut rand::rng(), &selector);
    let mut record = record.clone();
    record.verifier_hash = Some(armed.verifier_hash);
    let link = links.link(purpose, armed.raw.expose());
    (link, record)
}

/// The raw token of a link built by `links` for `purpose`.
pub fn raw_of(link: &str, links: &Links, purpose: TokenPurpose) -> String {
    let prefix = links.link(purpose, "");
    let raw = link.strip_prefix(&prefix).unwrap_or_else(|| panic!("{link} does not start with {prefix}")).to_owned();
    assert_eq!(links.link(purpose, &raw), link);
    raw
}

/// Arms the link of `mail` and verifies it against the armed record at `now`; the
/// reserved `record` itself verifies nothing. Returns the parsed token and the armed record.
pub fn verify_link(
    mail: &MailRecord,
    links: &Links,
    record: &TokenRecord,
    now: Timestamp,
) -> (ParsedToken, TokenRecord, String) {
    let (link, armed) = arm_link(mail, links, record);
    let parsed = token::parse(&raw_of(&link, links, record.purpose)).expect("the mailed token parses");
    assert_eq!(parsed.selector(), &record.selector);
    assert!(parsed.verify(record, record.purpose, now).is_err(), "a reserved token opens nothing");
    parsed.verify(&armed, record.purpose, now).expect("the mailed token verifies against its armed record");
    (parsed, armed, link)
}

/// Checks that hold for every decision: mail and audit ids unique, everything stamped
/// `now`, subjects free of secrets and rendered for the mail's kind and locale, mails
/// pending and addressed to the account's stored address (the old one for an address
/// change notice), audit entries free of secrets, and no secret in the `Debug` output.
pub fn check_decision(decision: &Decision, now: Timestamp, before: Option<&AccountRecord>) {
    let change = &decision.change;
    let mut seen = HashSet::new();
    for mail in &change.mails {
        assert!(seen.insert(mail.id.to_bytes()), "mail id reused");
        assert_eq!(mail.created_at, now);
        assert_eq!(mail.next_attempt_at, now);
        assert_eq!(mail.status, admit_core::MailStatus::Pending);
        assert_eq!(mail.attempts, 0);
        assert_eq!(mail.subject, subject(mail.kind, mail.locale.as_str()), "subject holds no secret");
        let account = decision.account.as_ref().expect("a mail concerns the decision's account");
        assert_eq!(mail.account_id, Some(account.id));
        assert_eq!(mail.locale, account.locale);
        assert_eq!(mail.params.recipient_name, account.full_name.as_str());
        let stored = if mail.kind == MailKind::EmailChanged {
            before.and_then(|b| b.email.clone())
        } else {
            account.email.clone()
        };
        assert_eq!(mail.to.as_str(), stored.expect("mail needs a stored address").as_str());
        assert!(mail.params.secret.is_none(), "a decision never mints a secret");
        assert_eq!(mail.params.intent.is_some(), mail.kind.carries_secret(), "{:?}", mail.kind);
    }
    let mut audit_ids = HashSet::new();
    for entry in &change.audit {
        assert!(audit_ids.insert(entry.id.to_bytes()), "audit id reused");
        assert_eq!(entry.at, now);
    }
    for token in &change.tokens {
        assert!(token.verifier_hash.is_none(), "a decision only reserves tokens");
        assert_eq!(token.created_at, now);
        assert!(token.consumed_at.is_none() && token.revoked_at.is_none() && token.revoked_reason.is_none());
    }
    for revocation in &change.revocations {
        assert_eq!(revocation.at, now);
    }
}
