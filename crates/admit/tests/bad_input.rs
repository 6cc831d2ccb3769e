//! Hostile input at every public entry point of `Admit`: a typed error each time, and the
//! store exactly as it was.

mod support;

use admit::core::password::{PasswordError, PasswordRefusal};
use admit::store::{AccountQuery, AuditQuery, MailQuery};
use admit::{
    AdmitError, BatchRowOutcome, CompletionError, CreateAccount, EmailAssignment, Grant, Invite, MemoryStore, Role,
    SignInError, StatusChange,
};
use admit_core::{EmailError, FieldError, LinkFailure};
use std::sync::Arc;
use support::*;

const MIB: usize = 1 << 20;

struct Tally {
    tried: usize,
}

impl Tally {
    /// One bad input: `ok` says the error was the expected typed one; the store must be
    /// unchanged.
    async fn check(&mut self, w: &World, before: &str, what: &str, ok: bool, got: &dyn std::fmt::Debug) {
        self.tried += 1;
        let shown: String = format!("{got:?}").chars().take(300).collect();
        assert!(ok, "{what}: unexpected outcome {shown}");
        assert_eq!(w.dump().await, before, "{what}: the store changed");
    }
}

fn oversize_names() -> Vec<(&'static str, String)> {
    vec![
        ("1 MiB name", "n".repeat(MIB)),
        ("1 MiB of multibyte name", "é".repeat(MIB / 2)),
        ("NUL in name", "Ann\0Lee".into()),
        ("CR/LF in name", "Ann Lee\r\nBcc: victim@example.org".into()),
        ("LF in name", "Ann\nLee".into()),
        ("bell in name", "Ann\u{7}Lee".into()),
        ("escape in name", "Ann \u{1b}[31mLee".into()),
        ("DEL in name", "Ann\u{7f}Lee".into()),
        ("C1 control in name", "Ann\u{85}Lee".into()),
        ("bidi override in name", "Ann\u{202E}eeL".into()),
        ("bidi isolate in name", "Ann\u{2066}Lee".into()),
        ("empty name", String::new()),
        ("blank name", " \t ".into()),
    ]
}

fn bad_emails() -> Vec<(&'static str, String)> {
    vec![
        ("1 MiB address", format!("{}@example.org", "a".repeat(MIB))),
        ("1 MiB domain", format!("a@{}.org", "d".repeat(MIB))),
        ("NUL in address", "a\0b@example.org".into()),
        ("CR/LF in address", "a@example.org\r\nBcc: x@evil.example".into()),
        ("space in address", "a b@example.org".into()),
        ("two @", "a@b@example.org".into()),
        ("no @", "example.org".into()),
        ("empty", String::new()),
        ("no domain dot", "a@localhost".into()),
        ("department address", "contact@example.org".into()),
    ]
}

on_every_store! {
    async fn every_entry_point_refuses_hostile_input(w: World) {
        let mut tally = Tally { tried: 0 };
        let grant = collaborator_of("p1");
        let invited = w.member("invited@example.org", "Invited Person", grant.clone(), Invite::Now).await;
        let invitation = w.last_token_to("invited@example.org").await;
        let active = w.active_member("active@example.org", "Active Person", grant.clone(), "copper lantern evening").await;
        w.admit.send_password_reset(w.admin, active).await.unwrap();
        let reset = w.last_token_to("active@example.org").await;
        let before = w.dump().await;

        // Names, at creation (one and batch), at bootstrap.
        for (what, name) in oversize_names() {
            let r = w.admit.create_account(w.admin, CreateAccount::member("fresh@example.org", &name, grant.clone()), Invite::Now).await;
            tally.check(&w, &before, what, matches!(r, Err(AdmitError::InvalidField(FieldError::NameTooLong | FieldError::ControlCharacter | FieldError::EmptyName))), &r).await;
            let rows = w.admit.create_accounts(w.admin, vec![CreateAccount::member("fresh@example.org", &name, grant.clone())], Invite::Now).await;
            let ok = matches!(rows.as_deref(), Ok([row]) if matches!(row.outcome, BatchRowOutcome::InvalidField(_)));
            tally.check(&w, &before, what, ok, &rows).await;
        }
        // Addresses, wherever one is typed.
        for (what, email) in bad_emails() {
            let r = w.admit.create_account(w.admin, CreateAccount::member(&email, "Fresh Person", grant.clone()), Invite::Now).await;
            let ok = matches!(r, Err(AdmitError::InvalidEmail(_))) || (email.is_empty() && matches!(r, Err(AdmitError::NoEmail)));
            tally.check(&w, &before, what, ok, &r).await;
            let r = w.admit.change_email(w.admin, invited, &email).await;
            tally.check(&w, &before, what, matches!(r, Err(AdmitError::InvalidEmail(_))), &r).await;
            let rows = w.admit.assign_emails(w.admin, vec![EmailAssignment { account: invited, email: email.clone() }]).await;
            let ok = matches!(rows.as_deref(), Ok([row]) if matches!(row.outcome, BatchRowOutcome::InvalidEmail(_) | BatchRowOutcome::RoleAddress));
            tally.check(&w, &before, what, ok, &rows).await;
            if what != "department address" {
                let r = w.admit.request_password_reset(&email, REQUESTER).await;
                tally.check(&w, &before, what, matches!(r, Err(AdmitError::InvalidEmail(_))), &r).await;
            }
            let r = w.admit.sign_in(&email, password("copper lantern evening"), REQUESTER).await;
            tally.check(&w, &before, what, matches!(r, Err(SignInError::InvalidCredentials)), &r).await;
        }
        // Other fields.
        let fields: Vec<(&str, CreateAccount)> = vec![
            ("1 MiB phone", CreateAccount { phone: Some("6".repeat(MIB)), ..CreateAccount::member("f@example.org", "F", grant.clone()) }),
            ("NUL phone", CreateAccount { phone: Some("+33\u{0}612345678".into()), ..CreateAccount::member("f@example.org", "F", grant.clone()) }),
            ("1 MiB locale", CreateAccount { locale: Some("f".repeat(MIB)), ..CreateAccount::member("f@example.org", "F", grant.clone()) }),
            ("CRLF locale", CreateAccount { locale: Some("fr\r\nX: y".into()), ..CreateAccount::member("f@example.org", "F", grant.clone()) }),
            ("1 MiB label", CreateAccount::member("f@example.org", "F", grant.clone()).label("themes", &"t".repeat(MIB))),
            ("1 MiB label key", CreateAccount::member("f@example.org", "F", grant.clone()).label(&"k".repeat(MIB), "v")),
            ("NUL label", CreateAccount::member("f@example.org", "F", grant.clone()).label("themes", "a\0b")),
            ("CRLF label", CreateAccount::member("f@example.org", "F", grant.clone()).label("themes", "a\r\nb")),
            ("no grants", CreateAccount { grants: vec![], ..CreateAccount::member("f@example.org", "F", grant.clone()) }),
            ("too many grants", CreateAccount {
                grants: (0..10_000).map(|i| collaborator_of(&format!("p{i}"))).collect(),
                ..CreateAccount::member("f@example.org", "F", grant.clone())
            }),
        ];
        for (what, row) in fields {
            let r = w.admit.create_account(w.admin, row, Invite::Now).await;
            tally.check(&w, &before, what, matches!(r, Err(AdmitError::InvalidField(_))), &r).await;
        }
        let r = w.admit.change_grants(w.admin, invited, vec![]).await;
        tally.check(&w, &before, "no grants", matches!(r, Err(AdmitError::InvalidField(FieldError::InvalidGrants))), &r).await;
        let many: Vec<Grant> = (0..10_000).map(|i| Grant::new(program(&format!("p{i}")), Role::Collaborator)).collect();
        let r = w.admit.change_grants(w.admin, invited, many).await;
        tally.check(&w, &before, "too many grants", matches!(r, Err(AdmitError::InvalidField(FieldError::InvalidGrants))), &r).await;
        let rows: Vec<CreateAccount> = (0..10_001).map(|i| CreateAccount::member(&format!("r{i}@example.org"), "R", grant.clone())).collect();
        let r = w.admit.create_accounts(w.admin, rows, Invite::Later).await;
        tally.check(&w, &before, "10 001 rows", matches!(r, Err(AdmitError::TooLarge)), &r).await;
        let r = w.admit.issue_temporary_passwords(w.admin, vec![invited; 10_001]).await;
        tally.check(&w, &before, "10 001 ids", matches!(r, Err(AdmitError::TooLarge)), &r).await;

        // Passwords: 1 MiB is refused by its size (before any hashing), everywhere.
        let huge = || password(&"p".repeat(MIB));
        let huge_multibyte = || password(&"€".repeat(MIB / 3));
        for (what, pw) in [("1 MiB password", huge as fn() -> _), ("1 MiB multibyte password", huge_multibyte)] {
            let too_long = |e: &PasswordRefusal| matches!(e.first(), PasswordError::TooManyBytes { .. });
            let r = w.admit.accept_invitation(&invitation, pw(), pw(), "10.0.0.1").await;
            tally.check(&w, &before, what, matches!(&r, Err(CompletionError::Password(e)) if too_long(e)), &r).await;
            let r = w.admit.complete_password_reset(&reset, pw(), pw(), "10.0.0.1").await;
            tally.check(&w, &before, what, matches!(&r, Err(CompletionError::Password(e)) if too_long(e)), &r).await;
            let r = w.admit.set_password(w.admin, active, pw(), pw(), true).await;
            tally.check(&w, &before, what, matches!(&r, Err(AdmitError::Password(e)) if too_long(e)), &r).await;
            let r = w.admit.change_own_password(active, password("copper lantern evening"), pw(), pw()).await;
            tally.check(&w, &before, what, matches!(&r, Err(AdmitError::Password(e)) if too_long(e)), &r).await;
            let r = w.admit.sign_in("active@example.org", pw(), REQUESTER).await;
            tally.check(&w, &before, what, matches!(r, Err(SignInError::InvalidCredentials)), &r).await;
            let r = w.admit.change_own_password(active, pw(), password("a new long phrase"), password("a new long phrase")).await;
            tally.check(&w, &before, what, matches!(&r, Err(AdmitError::Password(e)) if e.first() == PasswordError::Incorrect), &r).await;
        }
        for (what, pw, confirm) in [
            ("NUL in password", "copper\0lantern evening", "copper\0lantern evening"),
            ("mismatched confirmation", "a perfectly fine phrase", "a perfectly fine phrasE"),
            ("short password", "short", "short"),
            ("password = own address", "active@example.org", "active@example.org"),
        ] {
            let r = w.admit.complete_password_reset(&reset, password(pw), password(confirm), "10.0.0.2").await;
            tally.check(&w, &before, what, matches!(r, Err(CompletionError::Password(_))), &r).await;
            let r = w.admit.set_password(w.admin, active, password(pw), password(confirm), true).await;
            tally.check(&w, &before, what, matches!(r, Err(AdmitError::Password(_))), &r).await;
        }
        // The links still work after all that (nothing was consumed), checked at the end.

        // Tokens: truncated, extended, re-encoded, wrong purpose, forged verifier.
        let mut mangled: Vec<(String, String)> = Vec::new();
        let token = reset.clone();
        mangled.push(("truncated by one".into(), token[..token.len() - 1].to_owned()));
        mangled.push(("truncated to the prefix".into(), "adm_".into()));
        mangled.push(("extended by one".into(), format!("{token}A")));
        mangled.push(("extended by 1 MiB".into(), format!("{token}{}", "A".repeat(MIB))));
        mangled.push(("whitespace around".into(), format!(" {token}\n")));
        mangled.push(("upper-cased".into(), token.to_uppercase()));
        mangled.push(("prefix removed".into(), token["adm_".len()..].to_owned()));
        mangled.push(("other prefix".into(), format!("xyz_{}", &token["adm_".len()..])));
        mangled.push(("percent-encoded".into(), token.replace('_', "%5F").replace('-', "%2D")));
        mangled.push(("standard base64 alphabet".into(), token.replace('-', "+").replace('_', "/")));
        mangled.push(("padded".into(), format!("{token}=")));
        mangled.push(("NUL inside".into(), format!("{}\0{}", &token[..10], &token[11..])));
        mangled.push(("1 MiB garbage".into(), "\u{0}".repeat(MIB)));
        mangled.push(("empty".into(), String::new()));
        mangled.push(("non-ASCII same length".into(), format!("{}é", &token[..token.len() - 2])));
        // Well-formed but wrong: flip one character of the verifier (last chars), of the selector.
        for position in [token.len() - 2, "adm_".len() + 1] {
            let mut chars: Vec<char> = token.chars().collect();
            chars[position] = if chars[position] == 'A' { 'B' } else { 'A' };
            mangled.push((format!("one character changed at {position}"), chars.into_iter().collect()));
        }
        for (i, (what, text)) in mangled.iter().enumerate() {
            let requester = format!("203.0.113.{i}");
            let pw = || password("a brand new phrase 9");
            let r = w.admit.inspect_link(text, &requester).await;
            tally.check(&w, &before, what, r.is_err(), &r).await;
            let r = w.admit.complete_password_reset(text, pw(), pw(), &requester).await;
            tally.check(&w, &before, what, matches!(r, Err(CompletionError::InvalidLink(_))), &r).await;
            let r = w.admit.accept_invitation(text, pw(), pw(), &requester).await;
            tally.check(&w, &before, what, matches!(r, Err(CompletionError::InvalidLink(_))), &r).await;
        }
        let pw = || password("a brand new phrase 9");
        let r = w.admit.accept_invitation(&reset, pw(), pw(), "203.0.113.200").await;
        tally.check(&w, &before, "reset link used as an invitation", matches!(r, Err(CompletionError::InvalidLink(_))), &r).await;
        let r = w.admit.complete_password_reset(&invitation, pw(), pw(), "203.0.113.201").await;
        tally.check(&w, &before, "invitation used as a reset link", matches!(r, Err(CompletionError::InvalidLink(_))), &r).await;

        // Expired: one hour and a microsecond later the reset link is dead; the invitation lives.
        w.clock.advance(time::Duration::hours(1) + time::Duration::microseconds(1));
        let expired_before = w.dump().await;
        let r = w.admit.complete_password_reset(&reset, pw(), pw(), "203.0.113.202").await;
        let expired = matches!(&r, Err(CompletionError::InvalidLink(e)) if e.reason() == LinkFailure::Expired);
        tally.check(&w, &expired_before, "expired reset link", expired, &r).await;

        // Replayed: the invitation works once, then never again.
        w.admit.inspect_link(&invitation, "203.0.113.203").await.unwrap();
        w.admit.accept_invitation(&invitation, pw(), pw(), "203.0.113.203").await.unwrap();
        let after_use = w.dump().await;
        let r = w.admit.accept_invitation(&invitation, password("another phrase 10"), password("another phrase 10"), "203.0.113.204").await;
        let used = matches!(&r, Err(CompletionError::InvalidLink(e)) if e.reason() == LinkFailure::Used);
        tally.check(&w, &after_use, "replayed invitation", used, &r).await;

        // Homoglyphs and case: a Cyrillic 'а' is another address; case is not.
        w.member("alice@example.org", "Alice", grant.clone(), Invite::Later).await;
        let base = w.dump().await;
        for (what, email) in [
            ("upper-case duplicate", "ALICE@example.org"),
            ("mixed-case duplicate", "Alice@Example.ORG"),
            ("mixed-case domain", "alice@EXAMPLE.org"),
            ("surrounding spaces", "  alice@example.org "),
        ] {
            let r = w.admit.create_account(w.admin, CreateAccount::member(email, "Alice Again", grant.clone()), Invite::Now).await;
            tally.check(&w, &base, what, matches!(r, Err(AdmitError::EmailTaken)), &r).await;
            let rows = w.admit.create_accounts(w.admin, vec![CreateAccount::member(email, "Alice Again", grant.clone())], Invite::Now).await;
            let ok = matches!(rows.as_deref(), Ok([row]) if row.outcome == BatchRowOutcome::Duplicate);
            tally.check(&w, &base, what, ok, &rows).await;
            let r = w.admit.change_email(w.admin, active, email).await;
            tally.check(&w, &base, what, matches!(r, Err(AdmitError::EmailTaken)), &r).await;
        }
        let alice = w.store.account_by_email(admit_core::Email::parse("alice@example.org").unwrap().key()).await.unwrap().unwrap();
        for (what, email) in [("Cyrillic a in the local part", "\u{430}lice@example.org"), ("Cyrillic a in the domain", "alice@ex\u{430}mple.org")] {
            match w.admit.create_account(w.admin, CreateAccount::member(email, "Homoglyph", grant.clone()), Invite::Later).await {
                Ok(account) => assert_ne!(account.id, alice.id, "{what}: a different account"),
                Err(e) => assert!(matches!(e, AdmitError::InvalidEmail(_)), "{what}: {e:?}"),
            }
            tally.tried += 1;
        }

        // Unknown ids everywhere: typed, nothing written.
        let base = w.dump().await;
        let ghost = admit_core::AccountId::from_bytes([7; 16]);
        let r = w.admit.invite(w.admin, ghost).await;
        tally.check(&w, &base, "unknown account", matches!(r, Err(AdmitError::NotFound(_))), &r).await;
        let r = w.admit.change_status(w.admin, ghost, StatusChange::Disable).await;
        tally.check(&w, &base, "unknown account", matches!(r, Err(AdmitError::NotFound(_))), &r).await;
        let r = w.admit.send_password_reset(ghost, active).await;
        tally.check(&w, &base, "unknown actor", matches!(r, Err(AdmitError::UnknownActor)), &r).await;
        let r = w.admit.list_accounts(ghost, AccountQuery::new(w.clock.now_ts())).await;
        tally.check(&w, &base, "unknown actor", matches!(r, Err(AdmitError::UnknownActor)), &r).await;
        let r = w.admit.mail_journal(ghost, MailQuery::default()).await;
        tally.check(&w, &base, "unknown actor", matches!(r, Err(AdmitError::UnknownActor)), &r).await;
        let r = w.admit.audit_log(ghost, AuditQuery::default()).await;
        tally.check(&w, &base, "unknown actor", matches!(r, Err(AdmitError::UnknownActor)), &r).await;
        let r = w.admit.bootstrap_administrator("second@example.org", "Second", password(&"p".repeat(MIB))).await;
        tally.check(&w, &base, "second bootstrap", matches!(r, Err(AdmitError::Forbidden(_))), &r).await;

        println!("bad inputs tried: {}", tally.tried);
        assert!(tally.tried >= 180, "{} bad inputs", tally.tried);
    }

    // A fresh deployment: bootstrap refuses a 1 MiB password by its size, a CR/LF name, a bad address.
    async fn bootstrap_refuses_hostile_input(_w: World) {
        // `World` bootstraps; a second store without an administrator is needed.
        let store: Arc<dyn admit::store::Store> = Arc::new(MemoryStore::new());
        let admit = admit::Admit::builder()
            .shared_store(store.clone())
            .transport(admit::CaptureTransport::new())
            .argon2_params(admit::core::password::Argon2Params::dangerous_fast_for_tests())
            .hashing_concurrency(1)
            .link_base("https://app.example.org")
            .build()
            .unwrap();
        let r = admit.bootstrap_administrator("marie.curie@example.org", "Marie Curie", password(&"p".repeat(MIB))).await;
        assert!(matches!(&r, Err(AdmitError::Password(e)) if matches!(e.first(), PasswordError::TooManyBytes { .. })), "{r:?}");
        let r = admit.bootstrap_administrator("marie.curie@example.org", "Root\r\nBcc: x@y.org", password(ADMIN_PASSWORD)).await;
        assert!(matches!(r, Err(AdmitError::InvalidField(FieldError::ControlCharacter))), "{r:?}");
        let r = admit.bootstrap_administrator("marie@@example.org", "Root", password(ADMIN_PASSWORD)).await;
        assert!(matches!(r, Err(AdmitError::InvalidEmail(_))), "{r:?}");
        assert_eq!(store.count_platform_administrators().await.unwrap(), 0, "nothing written");
        let _ = EmailError::Empty;
    }
}
