//! No raw token, verifier, link or password in any `Debug` output, error, or log line.

#[path = "support/logs.rs"]
mod logs;
mod support;

use std::sync::Arc;

use admit::core::password::{Argon2Params, PasswordError, PasswordHasher, generate_temporary_password};
use admit::core::token::{self, TokenPurpose};
use admit::core::{AccountId, CredentialEpoch, MailSecret};
use admit::mail::{MailContext, Message};
use admit::{CompletionError, CreateAccount, Invite, MemoryStore, SignInError};
use logs::logs;
use secrecy::ExposeSecret;
use support::*;

/// The secrets to look for in `text`, and how many appear.
fn leaks(text: &str, secrets: &[String]) -> Vec<String> {
    secrets.iter().filter(|s| !s.is_empty() && text.contains(s.as_str())).cloned().collect()
}

/// The forms of a raw token worth looking for: whole, its verifier half (the base64 tail,
/// which encodes only verifier bits), and the link.
fn token_forms(token: &str) -> Vec<String> {
    vec![token.to_owned(), token[token.len() - 20..].to_owned(), format!("token={token}")]
}

#[test]
fn debug_output_holds_no_secret() {
    let mut rng = rand::rng();
    let now = admit_core::Timestamp::from_unix_micros(1_800_000_000_000_000);
    let issued = token::issue(
        &mut rng,
        AccountId::from_bytes([1; 16]),
        TokenPurpose::Invitation,
        CredentialEpoch::default(),
        now,
        time::Duration::days(7),
    );
    let raw = issued.raw.expose().to_owned();
    let parsed = token::parse(&raw).unwrap();
    let link = format!("https://app.example.org/invitation?token={raw}");
    let secret = MailSecret::new(link.clone());
    let temporary = generate_temporary_password(&mut rng);
    let hasher = PasswordHasher::new(Argon2Params::dangerous_fast_for_tests());
    let hash = hasher.hash(&temporary, &mut rng).unwrap();
    let mut secrets = token_forms(&raw);
    secrets.push(link.clone());
    secrets.push(temporary.expose_secret().to_owned());
    secrets.push(hash.as_phc().to_owned());
    let params = admit_core::MailParams {
        recipient_name: "Ann".into(),
        intent: None,
        secret: Some(MailSecret::new(link.clone())),
        expires_at: Some(now),
        new_email: None,
    };
    let context = MailContext::from_params(admit_core::MailKind::Invitation, &params);
    let message = Message::builder()
        .from(admit::mail::Mailbox::address(admit_core::Email::parse("no-reply@example.org").unwrap()))
        .to(admit::mail::Mailbox::address(admit_core::Email::parse("ann@example.org").unwrap()))
        .subject("Invitation")
        .text(format!("Follow {link}\nTemporary password: {}", temporary.expose_secret()))
        .html(format!("<a href=\"{link}\">{}</a>", temporary.expose_secret()))
        .message_id("m1@example.org")
        .date(now);
    let formatted = vec![
        ("RawToken", format!("{:?}", issued.raw)),
        ("IssuedToken", format!("{issued:?}")),
        ("ParsedToken", format!("{parsed:?}")),
        ("MailSecret", format!("{secret:?}")),
        ("PasswordHash", format!("{hash:?}")),
        ("MailParams", format!("{params:?}")),
        ("MailContext", format!("{context:?}")),
        ("MessageBuilder", format!("{message:?}")),
        ("Message", format!("{:?}", message.clone().build().unwrap())),
        ("SecretString", format!("{temporary:?}")),
        ("PasswordHasher", format!("{hasher:?}")),
        ("PasswordError", format!("{:?} {}", PasswordError::Incorrect, PasswordError::Incorrect)),
        ("LinkError", format!("{:?} {}", token::parse("adm_x").unwrap_err(), token::parse("adm_x").unwrap_err())),
    ];
    let mut leaked = 0;
    for (name, text) in &formatted {
        let found = leaks(text, &secrets);
        if !found.is_empty() {
            eprintln!("{name} leaks {} secret(s): {text}", found.len());
            leaked += found.len();
        }
    }
    println!("Debug of {} secret-holding values: {leaked} leaks", formatted.len());
    assert_eq!(leaked, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_in_any_log_line_error_or_record() {
    let sink = logs();
    let w = World::new(Arc::new(MemoryStore::new())).await;
    let mut secrets: Vec<String> = vec![ADMIN_PASSWORD.to_owned()];
    let mut debug = Vec::new();
    // Invite → inspect → accept (with a refused attempt first), replay.
    let grant = collaborator_of("p1");
    let id = w.member("ann@example.org", "Ann Lee", grant.clone(), Invite::Now).await;
    let invitation = w.last_token_to("ann@example.org").await;
    secrets.extend(token_forms(&invitation));
    let first = "ann's first long phrase";
    secrets.push(first.to_owned());
    debug.push(format!("{:?}", w.admit.inspect_link(&invitation, REQUESTER).await));
    debug.push(format!(
        "{:?}",
        w.admit.accept_invitation(&invitation, password(first), password("mismatch phrase x"), REQUESTER).await
    ));
    debug.push(format!(
        "{:?}",
        w.admit.accept_invitation(&invitation, password(first), password(first), REQUESTER).await.unwrap()
    ));
    let replay = w.admit.accept_invitation(&invitation, password(first), password(first), REQUESTER).await;
    assert!(matches!(replay, Err(CompletionError::InvalidLink(_))));
    debug.push(format!("{replay:?} {}", replay.as_ref().unwrap_err()));
    // Sign-in, wrong then right.
    let wrong = w.admit.sign_in("ann@example.org", password("not her password 1"), REQUESTER).await;
    assert!(matches!(wrong, Err(SignInError::InvalidCredentials)));
    secrets.push("not her password 1".into());
    debug.push(format!("{wrong:?}"));
    debug.push(format!("{:?}", w.admit.sign_in("ann@example.org", password(first), REQUESTER).await));
    // Admin reset → complete; self-service reset → complete.
    w.clock.advance(time::Duration::minutes(2));
    w.admit.send_password_reset(w.admin, id).await.unwrap();
    let reset = w.last_token_to("ann@example.org").await;
    secrets.extend(token_forms(&reset));
    let second = "ann's second long phrase";
    secrets.push(second.to_owned());
    debug.push(format!(
        "{:?}",
        w.admit.complete_password_reset(&reset, password(second), password(second), REQUESTER).await
    ));
    debug.extend(w.deliver().await.iter().map(|m| format!("{m:?}")));
    w.admit.request_password_reset("ANN@example.org", REQUESTER).await.unwrap();
    let self_service = w.last_token_to("ann@example.org").await;
    secrets.extend(token_forms(&self_service));
    let third = "ann's third long phrase";
    secrets.push(third.to_owned());
    let reused = w.admit.complete_password_reset(&reset, password(third), password(third), REQUESTER).await;
    debug.push(format!("{reused:?}"));
    debug.push(format!(
        "{:?}",
        w.admit.complete_password_reset(&self_service, password(third), password(third), REQUESTER).await
    ));
    // Set password (admin), temporary passwords in batch, sign-in with one.
    let chosen = "admin chosen phrase 5";
    secrets.push(chosen.to_owned());
    debug.push(format!("{:?}", w.admit.set_password(w.admin, id, password(chosen), password(chosen), true).await));
    let bob = w
        .admit
        .create_account(w.admin, CreateAccount::member("bob@example.org", "Bob Roe", grant), Invite::Later)
        .await
        .unwrap()
        .id;
    debug.push(format!("{:?}", w.admit.issue_temporary_passwords(w.admin, vec![id, bob]).await.unwrap()));
    let sent = w.deliver().await;
    let mut temporaries = 0;
    for mail in &sent {
        debug.push(format!("{mail:?}"));
    }
    // The temporary passwords: what is in the temporary-password mails and not in a template.
    for mail in
        sent.iter().filter(|m| m.headers().iter().any(|(k, v)| k == "X-Admit-Mail-Kind" && v == "temporary_password"))
    {
        let journal_free = mail
            .text()
            .split_whitespace()
            .filter(|word| word.len() >= 16 && !word.contains("://"))
            .map(str::to_owned)
            .collect::<Vec<_>>();
        assert!(!journal_free.is_empty(), "a temporary password in the mail: {}", mail.text());
        temporaries += 1;
        secrets.extend(journal_free);
    }
    assert_eq!(temporaries, 2, "two temporary passwords delivered");
    // The stored hashes are secrets for logs too.
    for account in [id, bob, w.admin] {
        if let Some(hash) = w.store.account(account).await.unwrap().unwrap().password_hash {
            secrets.push(hash.as_phc().to_owned());
        }
    }
    // Records and errors: the journal, the audit log, the store's tokens, the facade itself.
    debug.push(format!(
        "{:?}",
        w.store.journal(&admit::store::MailQuery { limit: 1000, ..Default::default() }).await.unwrap()
    ));
    debug.push(format!(
        "{:?}",
        w.store.audit(&admit::store::AuditQuery { limit: 1000, ..Default::default() }).await.unwrap()
    ));
    debug.push(format!("{:?}", w.store.tokens_of(id).await.unwrap()));
    debug.push(format!("{:?}", w.store.account(id).await.unwrap()));
    debug.push(format!("{:?}", w.admit));
    debug.push(w.dump().await);

    let mut leaked = 0;
    for text in &debug {
        for secret in leaks(text, &secrets) {
            eprintln!("leak of {secret:?} in {text}");
            leaked += 1;
        }
    }
    let captured = sink.text();
    let lines: Vec<&str> = captured.lines().collect();
    assert!(lines.iter().any(|l| l.contains("event=\"link_refused\"")), "refused links are logged: {captured}");
    assert!(lines.iter().any(|l| l.contains("dispatch round")), "deliveries are logged");
    for line in &lines {
        for secret in leaks(line, &secrets) {
            eprintln!("leak of {secret:?} in log line {line}");
            leaked += 1;
        }
    }
    println!(
        "{} log lines, {} Debug outputs, {} secrets searched: {leaked} leaks",
        lines.len(),
        debug.len(),
        secrets.len()
    );
    assert_eq!(leaked, 0);
}
