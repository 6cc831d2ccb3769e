//! Model-based property test: random sequences of workflow calls by random actors against
//! `Admit`, checked after every step against a small reference model written from the
//! requirements and DESIGN.md (not from admit-core's code).

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use admit::store::{AuditQuery, MailQuery, Store};
use admit::{AccountStatus, CreateAccount, Grant, Invite, MemoryStore, Role, StatusChange};
use admit_core::{AccountId, Timestamp, TokenPurpose};
use proptest::prelude::*;
use support::*;

static STEPS: AtomicU64 = AtomicU64::new(0);
static CASES: AtomicU64 = AtomicU64::new(0);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Life {
    Created,
    Invited,
    Active,
}

#[derive(Debug, Clone)]
struct Acc {
    id: AccountId,
    email: String,
    p1: bool,
    life: Life,
    exp: Option<Timestamp>,
    disabled: bool,
    trashed: bool,
    password: Option<String>,
    must_change: bool,
    /// When an administrator gave the password (it expires 72 hours later while it must change).
    given_at: Option<Timestamp>,
    invitation: Option<(String, Timestamp)>,
    reset: Option<(String, Timestamp)>,
    stale: Vec<String>,
}

impl Acc {
    fn status(&self, now: Timestamp) -> AccountStatus {
        match (self.trashed, self.disabled, self.life) {
            (true, _, _) => AccountStatus::Trashed,
            (_, true, _) => AccountStatus::Disabled,
            (_, _, Life::Created) => AccountStatus::Created,
            (_, _, Life::Active) => AccountStatus::Active,
            (_, _, Life::Invited) if self.exp.is_some_and(|e| now <= e) => AccountStatus::Invited,
            _ => AccountStatus::InvitationExpired,
        }
    }
    fn available(&self) -> bool {
        !self.disabled && !self.trashed
    }
    fn kill_links(&mut self) {
        self.stale.extend(self.invitation.take().map(|t| t.0));
        self.stale.extend(self.reset.take().map(|t| t.0));
    }
    fn live(&self, purpose: TokenPurpose, now: Timestamp) -> Option<&str> {
        let slot = if purpose == TokenPurpose::Invitation { &self.invitation } else { &self.reset };
        slot.as_ref().filter(|(_, exp)| now <= *exp).map(|(t, _)| t.as_str())
    }
}

#[derive(Default)]
struct Model {
    accounts: Vec<Acc>,
    /// (key, window start) → hits, for every fixed-window limit.
    hits: HashMap<(String, i64), u32>,
}

impl Model {
    fn hit(&mut self, key: String, now: Timestamp, window: time::Duration, limit: u32) -> bool {
        let len = window.whole_microseconds() as i64;
        let start = now.as_unix_micros() - now.as_unix_micros().rem_euclid(len);
        let count = self.hits.entry((key, start)).or_default();
        *count += 1;
        *count <= limit
    }
    /// Whether `requester` signed in to `email` in the current 30-day window or the one
    /// before (admit's "known requester").
    fn known(&self, email: &str, requester: &str, now: Timestamp) -> bool {
        let key = format!("known:{}\n{requester}", email.to_lowercase());
        let memory = time::Duration::days(30);
        self.count(&key, now, memory) > 0 || self.count(&key, now - memory, memory) > 0
    }
    fn count(&self, key: &str, now: Timestamp, window: time::Duration) -> u32 {
        let len = window.whole_microseconds() as i64;
        let start = now.as_unix_micros() - now.as_unix_micros().rem_euclid(len);
        self.hits.get(&(key.to_owned(), start)).copied().unwrap_or(0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Actor {
    Platform,
    ProgramAdmin,
    Collaborator,
}

const ADDRESSES: [&str; 5] = ["t0@example.org", "t1@example.org", "t2@example.org", "t3@example.org", "t4@example.org"];

struct Run {
    w: World,
    padmin: AccountId,
    collab: AccountId,
    m: Model,
    step: usize,
}

impl Run {
    fn actor_id(&self, a: Actor) -> AccountId {
        match a {
            Actor::Platform => self.w.admin,
            Actor::ProgramAdmin => self.padmin,
            Actor::Collaborator => self.collab,
        }
    }
    /// The model's authorization: platform administrators act on anyone; the programme p1
    /// administrator on accounts whose only grant is in p1; collaborators on no one.
    fn may(a: Actor, target_p1: bool) -> bool {
        match a {
            Actor::Platform => true,
            Actor::ProgramAdmin => target_p1,
            Actor::Collaborator => false,
        }
    }

    async fn counts(&self) -> (usize, usize) {
        let mails = self.w.store.journal(&MailQuery { limit: 1000, ..MailQuery::default() }).await.unwrap().items.len();
        // Refused administrative calls leave `call_refused` entries, checked in
        // authz_through_facade; the model counts the others.
        let audits = self
            .w
            .store
            .audit(&AuditQuery { limit: 1000, ..AuditQuery::default() })
            .await
            .unwrap()
            .items
            .iter()
            .filter(|a| a.action != admit::AuditAction::CallRefused)
            .count();
        (mails, audits)
    }

    /// One step: `op` picks the call, `a`, `b`, `c` its arguments.
    async fn step(&mut self, op: u8, a: u8, b: u8, c: u8) {
        self.step += 1;
        STEPS.fetch_add(1, Ordering::Relaxed);
        let now = self.w.clock.now_ts();
        let actor = [Actor::Platform, Actor::ProgramAdmin, Actor::Collaborator][usize::from(a % 3)];
        let n = self.m.accounts.len();
        let target = if n == 0 { None } else { Some(usize::from(b) % n) };
        let before = self.w.dump().await;
        let (mails0, audits0) = self.counts().await;
        let requester = format!("req-{}", self.step);
        let pw = format!("model phrase number {}", self.step);
        // (expected ok, expected mails as (account index, kind), expected audit entries)
        let mut mails: Vec<(usize, &'static str)> = Vec::new();
        let mut audits = 0;
        let desc;
        let result: Result<(), String> = match (op % 14, target) {
            (0, _) | (_, None) => {
                let email = ADDRESSES[usize::from(b) % ADDRESSES.len()];
                let typed = if c & 1 == 1 { email.to_uppercase() } else { email.to_owned() };
                let p1 = c & 2 == 0;
                let invite = if c & 4 == 0 { Invite::Now } else { Invite::Later };
                desc = format!("{actor:?} creates {typed} p1={p1} {invite:?}");
                let grant = collaborator_of(if p1 { "p1" } else { "p2" });
                let r = self
                    .w
                    .admit
                    .create_account(
                        self.actor_id(actor),
                        CreateAccount::member(&typed, &format!("Target {}", self.step), grant),
                        invite,
                    )
                    .await;
                let taken = self.m.accounts.iter().any(|x| x.email.eq_ignore_ascii_case(email));
                let ok = Self::may(actor, p1) && !taken;
                if let (true, Ok(record)) = (ok, &r) {
                    let idx = self.m.accounts.len();
                    self.m.accounts.push(Acc {
                        id: record.id,
                        email: typed.replace("EXAMPLE.ORG", "example.org"),
                        p1,
                        life: Life::Created,
                        exp: None,
                        disabled: false,
                        trashed: false,
                        password: None,
                        must_change: false,
                        given_at: None,
                        invitation: None,
                        reset: None,
                        stale: Vec::new(),
                    });
                    audits = 1;
                    if invite == Invite::Now {
                        let acc = &mut self.m.accounts[idx];
                        acc.life = Life::Invited;
                        acc.exp = Some(now + time::Duration::days(7));
                        mails.push((idx, "invitation"));
                        audits = 2;
                    }
                }
                if !ok {
                    assert!(
                        !taken || !Self::may(actor, p1) || matches!(r, Err(admit::AdmitError::EmailTaken)),
                        "{desc}: {r:?}"
                    );
                }
                check(ok, r.map(drop), &desc)
            }
            (1, Some(t)) | (2, Some(t)) => {
                let first = op % 14 == 1;
                let acc = self.m.accounts[t].clone();
                let status = acc.status(now);
                let id = self.actor_id(actor);
                desc = format!("{actor:?} {} {}({status:?})", if first { "invites" } else { "reinvites" }, acc.email);
                let r =
                    if first { self.w.admit.invite(id, acc.id).await } else { self.w.admit.reinvite(id, acc.id).await };
                let allowed = Self::may(actor, acc.p1)
                    && if first {
                        status == AccountStatus::Created
                    } else {
                        matches!(status, AccountStatus::Invited | AccountStatus::InvitationExpired)
                    };
                let ok =
                    allowed && (first || self.m.hit(format!("resend:{}", acc.id), now, time::Duration::minutes(1), 1));
                if ok {
                    let x = &mut self.m.accounts[t];
                    x.stale.extend(x.invitation.take().map(|t| t.0));
                    x.life = Life::Invited;
                    x.exp = Some(now + time::Duration::days(7));
                    mails.push((t, if first { "invitation" } else { "invitation_reminder" }));
                    audits = 1;
                }
                check(ok, r.map(drop), &desc)
            }
            (3, Some(t)) => {
                let acc = self.m.accounts[t].clone();
                desc = format!("{actor:?} sends a reset to {}({:?})", acc.email, acc.status(now));
                let r = self.w.admit.send_password_reset(self.actor_id(actor), acc.id).await;
                let allowed = Self::may(actor, acc.p1) && acc.available() && acc.life != Life::Created;
                let ok = allowed && self.m.hit(format!("resend:{}", acc.id), now, time::Duration::minutes(1), 1);
                if ok {
                    mails.push((t, "password_reset"));
                    audits = 1;
                }
                check(ok, r, &desc)
            }
            (4, Some(t)) => {
                let acc = self.m.accounts[t].clone();
                let typed = if c & 1 == 1 { acc.email.to_uppercase() } else { acc.email.clone() };
                desc = format!("self-service reset for {typed}({:?})", acc.status(now));
                let r = self.w.admit.request_password_reset(&typed, &requester).await;
                // A requester that signed in to the address has its own allowance for it.
                let key = if self.m.known(&acc.email, &requester, now) {
                    format!("reset-pair:{}\n{requester}", acc.email.to_lowercase())
                } else {
                    format!("reset:{}", acc.email.to_lowercase())
                };
                let per_email = self.m.hit(key, now, time::Duration::hours(1), 5);
                audits = 1;
                if per_email && acc.available() && acc.life != Life::Created {
                    mails.push((t, "password_reset"));
                }
                check(true, r, &desc)
            }
            (5, Some(t)) | (6, Some(t)) => {
                let purpose = if op % 14 == 5 { TokenPurpose::Invitation } else { TokenPurpose::PasswordReset };
                let acc = self.m.accounts[t].clone();
                let stale = c & 1 == 1 && !acc.stale.is_empty();
                let token = if stale {
                    Some(acc.stale[usize::from(c) % acc.stale.len()].clone())
                } else {
                    let slot = if purpose == TokenPurpose::Invitation { &acc.invitation } else { &acc.reset };
                    slot.as_ref().map(|x| x.0.clone())
                };
                let Some(token) = token else { return self.step_skip().await };
                desc = format!("{:?} link of {}({:?}) stale={stale}", purpose, acc.email, acc.status(now));
                let pw2 = || password(&pw);
                let r = if purpose == TokenPurpose::Invitation {
                    self.w.admit.accept_invitation(&token, pw2(), pw2(), &requester).await.map(drop)
                } else {
                    self.w.admit.complete_password_reset(&token, pw2(), pw2(), &requester).await.map(drop)
                };
                let ok = acc.live(purpose, now) == Some(token.as_str()) && acc.available();
                if ok {
                    let x = &mut self.m.accounts[t];
                    x.kill_links();
                    x.life = Life::Active;
                    x.exp = None;
                    x.password = Some(pw.clone());
                    x.must_change = false;
                    audits = 1;
                    if purpose == TokenPurpose::PasswordReset {
                        mails.push((t, "password_changed"));
                    }
                }
                check(ok, r.map_err(|e| format!("{e:?}")), &desc)
            }
            (7, Some(t)) | (8, Some(t)) => {
                let temporary = op % 14 == 8;
                let acc = self.m.accounts[t].clone();
                desc = format!(
                    "{actor:?} {} for {}({:?})",
                    if temporary { "temporary password" } else { "sets password" },
                    acc.email,
                    acc.status(now)
                );
                let id = self.actor_id(actor);
                let r = if temporary {
                    self.w.admit.issue_temporary_password(id, acc.id).await
                } else {
                    self.w.admit.set_password(id, acc.id, password(&pw), password(&pw), c & 1 == 1).await.map(drop)
                };
                let ok = Self::may(actor, acc.p1) && acc.available();
                if ok {
                    let x = &mut self.m.accounts[t];
                    x.kill_links();
                    x.life = Life::Active;
                    x.exp = None;
                    x.password = if temporary { None } else { Some(pw.clone()) };
                    x.must_change = temporary || c & 1 == 1;
                    x.given_at = Some(now);
                    audits = 1;
                    mails.push((t, if temporary { "temporary_password" } else { "password_changed" }));
                }
                check(ok, r.map_err(|e| format!("{e:?}")), &desc)
            }
            (9, Some(t)) => {
                let change = [StatusChange::Disable, StatusChange::Enable, StatusChange::Trash, StatusChange::Restore]
                    [usize::from(c % 4)];
                let acc = self.m.accounts[t].clone();
                let status = acc.status(now);
                desc = format!("{actor:?} {change:?} {}({status:?})", acc.email);
                let r = self.w.admit.change_status(self.actor_id(actor), acc.id, change).await;
                let valid = match change {
                    StatusChange::Disable => !acc.disabled && !acc.trashed,
                    StatusChange::Enable => acc.disabled && !acc.trashed,
                    StatusChange::Trash => !acc.trashed,
                    StatusChange::Restore => acc.trashed,
                };
                let ok = Self::may(actor, acc.p1) && valid;
                if ok {
                    let x = &mut self.m.accounts[t];
                    match change {
                        StatusChange::Disable | StatusChange::Trash => {
                            if change == StatusChange::Disable {
                                x.disabled = true
                            } else {
                                x.trashed = true
                            }
                            x.kill_links();
                            if x.life == Life::Invited {
                                x.life = Life::Created;
                                x.exp = None;
                            }
                        }
                        StatusChange::Enable => x.disabled = false,
                        StatusChange::Restore => x.trashed = false,
                    }
                    audits = 1;
                }
                check(ok, r.map(drop).map_err(|e| format!("{e:?}")), &desc)
            }
            (10, Some(t)) => {
                let acc = self.m.accounts[t].clone();
                let to_p1 = c & 1 == 0;
                desc = format!("{actor:?} moves {} to p1={to_p1}", acc.email);
                let grant = Grant::new(program(if to_p1 { "p1" } else { "p2" }), Role::Collaborator);
                let r = self.w.admit.change_grants(self.actor_id(actor), acc.id, vec![grant]).await;
                let ok = Self::may(actor, acc.p1) && Self::may(actor, to_p1);
                if ok {
                    self.m.accounts[t].p1 = to_p1;
                    audits = 1;
                }
                check(ok, r.map(drop).map_err(|e| format!("{e:?}")), &desc)
            }
            (11, Some(t)) => {
                let acc = self.m.accounts[t].clone();
                let email = ADDRESSES[usize::from(c) % ADDRESSES.len()];
                desc = format!("{actor:?} changes {} to {email}", acc.email);
                let r = self.w.admit.change_email(self.actor_id(actor), acc.id, email).await;
                let holder = self.m.accounts.iter().position(|x| x.email.eq_ignore_ascii_case(email));
                let ok = Self::may(actor, acc.p1) && holder.is_none_or(|h| h == t);
                if ok {
                    let x = &mut self.m.accounts[t];
                    x.kill_links();
                    if x.life == Life::Invited {
                        x.life = Life::Created;
                        x.exp = None;
                    }
                    if !acc.email.eq_ignore_ascii_case(email) && acc.available() {
                        mails.push((t, "email_changed"));
                    }
                    x.email = email.to_owned();
                    audits = 1;
                }
                check(ok, r.map(drop).map_err(|e| format!("{e:?}")), &desc)
            }
            (12, Some(t)) => {
                let acc = self.m.accounts[t].clone();
                let right = c & 1 == 0;
                let typed = if right {
                    acc.password.clone().unwrap_or_else(|| "never set password".into())
                } else {
                    "a wrong guess phrase".into()
                };
                desc = format!("sign-in of {}({:?}) right={right}", acc.email, acc.status(now));
                // Failures count per address for strangers, per (address, requester) for a
                // requester that signed in to the address before.
                let known = self.m.known(&acc.email, REQUESTER, now);
                let key = if known {
                    format!("signin-pair:{}", acc.email.to_lowercase())
                } else {
                    format!("signin:{}", acc.email.to_lowercase())
                };
                let window = time::Duration::minutes(15);
                let limited = self.m.count(&key, now, window) >= 10;
                let r = self.w.admit.sign_in(&acc.email, password(&typed), REQUESTER).await;
                // An administrator-given password expires 72 hours after it was given.
                let expired = acc.must_change && acc.given_at.is_some_and(|at| now > at + time::Duration::hours(72));
                let ok = !limited && right && acc.password.is_some() && acc.available() && !expired;
                if !ok && !limited {
                    self.m.hit(key, now, window, 10);
                }
                if ok {
                    self.m.hit(
                        format!("known:{}\n{REQUESTER}", acc.email.to_lowercase()),
                        now,
                        time::Duration::days(30),
                        u32::MAX,
                    );
                    let x = &mut self.m.accounts[t];
                    x.stale.extend(x.reset.take().map(|t| t.0));
                    audits = 1;
                    if let Ok(signin) = &r {
                        assert_eq!(signin.must_change_password, acc.must_change, "{desc}: must-change flag");
                    }
                }
                check(ok, r.map(drop).map_err(|e| format!("{e:?}")), &desc)
            }
            _ => {
                let by = match c % 4 {
                    0 => time::Duration::seconds(30),
                    1 => time::Duration::minutes(2),
                    2 => time::Duration::minutes(61),
                    _ => time::Duration::days(7) + time::Duration::seconds(1),
                };
                desc = format!("clock + {by}");
                self.w.clock.advance(by);
                Ok(())
            }
        };
        if let Err(e) = result {
            panic!("step {}: {desc}: {e}", self.step);
        }
        self.verify(&desc, &before, mails0, audits0, mails, audits).await;
    }

    async fn step_skip(&mut self) {
        self.w.clock.advance(time::Duration::seconds(1));
    }

    async fn verify(
        &mut self,
        desc: &str,
        before: &str,
        mails0: usize,
        audits0: usize,
        expected_mails: Vec<(usize, &'static str)>,
        audits: usize,
    ) {
        let now = self.w.clock.now_ts();
        let (mails1, audits1) = self.counts().await;
        assert_eq!(audits1 - audits0, audits, "{desc}: audit entries");
        assert_eq!(mails1 - mails0, expected_mails.len(), "{desc}: mails enqueued");
        if audits == 0 && expected_mails.is_empty() && !desc.starts_with("clock") {
            assert_eq!(self.w.dump().await, before, "{desc}: a refused call wrote something");
        }
        // Deliver; every mail is the one expected, and its link or password goes into the model.
        let mut sent = self.w.deliver().await;
        assert_eq!(sent.len(), expected_mails.len(), "{desc}: mails delivered");
        for (idx, kind) in expected_mails {
            let acc = &self.m.accounts[idx];
            let to = if kind == "email_changed" { None } else { Some(acc.email.clone()) };
            let pos = sent
                .iter()
                .position(|m| {
                    m.headers().iter().any(|(k, v)| k == "X-Admit-Mail-Kind" && v == kind)
                        && to.as_ref().is_none_or(|to| m.to().address.as_str() == to)
                })
                .unwrap_or_else(|| panic!("{desc}: no {kind} mail to {to:?}"));
            let mail = sent.swap_remove(pos);
            let x = &mut self.m.accounts[idx];
            match kind {
                "invitation" | "invitation_reminder" => {
                    x.invitation = Some((token_in(&mail).unwrap(), now + time::Duration::days(7)))
                }
                "password_reset" => {
                    x.stale.extend(x.reset.take().map(|t| t.0));
                    x.reset = Some((token_in(&mail).unwrap(), now + time::Duration::hours(1)));
                }
                "temporary_password" => {
                    let line = mail
                        .text()
                        .lines()
                        .map(str::trim)
                        .find(|l| l.len() >= 16 && !l.contains(char::is_whitespace) && l.matches('-').count() >= 3);
                    x.password =
                        Some(line.unwrap_or_else(|| panic!("{desc}: no password in {}", mail.text())).to_owned());
                }
                _ => {}
            }
        }
        // Statuses, flags, and at most one live token per (account, purpose), as the model says.
        for acc in &self.m.accounts {
            let record = self.w.store.account(acc.id).await.unwrap().expect("account exists");
            assert_eq!(record.status(now), acc.status(now), "{desc}: status of {}", acc.email);
            assert_eq!(record.must_change_password, acc.must_change, "{desc}: must-change of {}", acc.email);
            assert_eq!(record.email.as_ref().map(|e| e.as_str().to_owned()), Some(acc.email.clone()), "{desc}");
            let tokens = self.w.store.tokens_of(acc.id).await.unwrap();
            for purpose in [TokenPurpose::Invitation, TokenPurpose::PasswordReset] {
                let live = tokens.iter().filter(|t| t.purpose == purpose && t.is_live(now)).count();
                assert!(live <= 1, "{desc}: {live} live {purpose:?} tokens for {}", acc.email);
                assert_eq!(
                    live == 1,
                    acc.live(purpose, now).is_some(),
                    "{desc}: live {purpose:?} token of {}",
                    acc.email
                );
            }
        }
    }
}

fn check(expected_ok: bool, result: Result<(), impl std::fmt::Debug>, desc: &str) -> Result<(), String> {
    match (expected_ok, &result) {
        (true, Ok(())) | (false, Err(_)) => Ok(()),
        _ => Err(format!("{desc}: the model expected ok={expected_ok}, got {result:?}")),
    }
}

async fn run_case(store: Arc<dyn Store>, ops: &[(u8, u8, u8, u8)]) {
    let w = World::new(store).await;
    let padmin = w
        .active_member(
            "pa@example.org",
            "Prog Admin",
            Grant::new(program("p1"), Role::Administrator),
            "amber field north wind",
        )
        .await;
    let collab =
        w.active_member("co@example.org", "Col Laborator", collaborator_of("p1"), "silver kettle morning").await;
    w.deliver().await;
    let mut run = Run { w, padmin, collab, m: Model::default(), step: 0 };
    for &(op, a, b, c) in ops {
        run.step(op, a, b, c).await;
    }
    CASES.fetch_add(1, Ordering::Relaxed);
}

fn ops() -> impl Strategy<Value = Vec<(u8, u8, u8, u8)>> {
    proptest::collection::vec((0u8..14, any::<u8>(), any::<u8>(), any::<u8>()), 1..40)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, max_shrink_iters: 200, ..ProptestConfig::default() })]

    #[test]
    fn memory_store_follows_the_model(ops in ops()) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(run_case(Arc::new(MemoryStore::new()), &ops));
    }
}

#[cfg(feature = "sqlite")]
proptest! {
    #![proptest_config(ProptestConfig { cases: 24, max_shrink_iters: 100, ..ProptestConfig::default() })]

    #[test]
    fn sqlite_store_follows_the_model(ops in ops()) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async {
            let store = admit::SqliteStore::in_memory().await.expect("in-memory sqlite");
            run_case(Arc::new(store), &ops).await
        });
    }
}

#[test]
fn report_counts() {
    // Runs after (or alongside) the property; prints what was exercised in this process.
    println!("model: {} cases, {} steps so far", CASES.load(Ordering::Relaxed), STEPS.load(Ordering::Relaxed));
}
