//! Issue 16, "attacks on people": password normalisation wherever a password enters, on
//! `MemoryStore` and `SqliteStore`.

mod support;

use admit::core::{LinkFailure, MailKind};
use admit::store::MailQuery;
use admit::{Invite, SignInError};
use support::*;

/// "é" composed (U+00E9) and decomposed ("e" + U+0301).
const COMPOSED: &str = "le caf\u{e9} de la gare du nord";
const DECOMPOSED: &str = "le cafe\u{301} de la gare du nord";
const OTHER_COMPOSED: &str = "un th\u{e9} au jardin des plantes";
const OTHER_DECOMPOSED: &str = "un the\u{301} au jardin des plantes";

on_every_store! {
    // NIST SP 800-63B 5.1.1.2: accept (composed) → sign in (decomposed) and back.
    async fn a_composed_password_signs_in_with_its_decomposed_form(w: World) {
        let id = w.member("ana@example.org", "Ana Lima", collaborator_of("p1"), Invite::Now).await;
        let token = w.last_token_to("ana@example.org").await;
        w.admit.accept_invitation(&token, password(COMPOSED), password(DECOMPOSED), REQUESTER).await.unwrap();
        let signed = w.admit.sign_in("ana@example.org", password(DECOMPOSED), REQUESTER).await.unwrap();
        assert_eq!(signed.account_id, id);
        w.admit.sign_in("ana@example.org", password(COMPOSED), REQUESTER).await.unwrap();

        // change_own_password: the current password in the other form is accepted.
        w.admit.change_own_password(id, password(DECOMPOSED), password(OTHER_DECOMPOSED), password(OTHER_COMPOSED))
            .await
            .unwrap();
        w.admit.sign_in("ana@example.org", password(OTHER_COMPOSED), REQUESTER).await.unwrap();
        assert!(w.admit.sign_in("ana@example.org", password(COMPOSED), REQUESTER).await.is_err());

        // Administrator set-password and reset completion normalise too.
        w.admit.set_password(w.admin, id, password(DECOMPOSED), password(COMPOSED), false).await.unwrap();
        w.admit.sign_in("ana@example.org", password(COMPOSED), REQUESTER).await.unwrap();
        w.admit.send_password_reset(w.admin, id).await.unwrap();
        let token = w.last_token_to("ana@example.org").await;
        w.admit.complete_password_reset(&token, password(OTHER_COMPOSED), password(OTHER_DECOMPOSED), REQUESTER)
            .await
            .unwrap();
        w.admit.sign_in("ana@example.org", password(OTHER_DECOMPOSED), REQUESTER).await.unwrap();
    }
}

const OWNER_DEVICE: &str = "192.0.2.10";
const OWNER_PASSWORD: &str = "a long walk by the river";

/// A stranger's requester key, one of many.
fn stranger(i: usize) -> String {
    format!("203.0.113.{}", i % 250)
}

mod lockout {
    use super::*;

    on_every_store! {
        // NIST SP 800-63B 5.2.2: strangers failing from many requester keys stop themselves, not
        // the owner signing in from a requester that signed in successfully before.
        async fn strangers_cannot_lock_the_owner_out_of_signing_in(w: World) {
            w.active_member("own@example.org", "Owen Er", collaborator_of("p1"), OWNER_PASSWORD).await;
            w.admit.sign_in("own@example.org", password(OWNER_PASSWORD), OWNER_DEVICE).await.unwrap();

            // 40 requester keys, 5 wrong passwords each: 200 attempts.
            let (mut failed, mut refused) = (0, 0);
            for i in 0..200 {
                match w.admit.sign_in("own@example.org", password("guess number one two"), &stranger(i / 5)).await {
                    Err(SignInError::InvalidCredentials) => failed += 1,
                    Err(SignInError::RateLimited) => refused += 1,
                    other => panic!("unexpected {other:?}"),
                }
            }
            assert_eq!((failed, refused), (10, 190), "10 stranger failures per 15 minutes per address, then refused");
            // Even the right password is refused to a stranger now…
            let r = w.admit.sign_in("own@example.org", password(OWNER_PASSWORD), &stranger(41)).await;
            assert!(matches!(r, Err(SignInError::RateLimited)), "{r:?}");
            // …while the owner, from a requester that signed in before, signs in.
            w.admit.sign_in("own@example.org", password(OWNER_PASSWORD), OWNER_DEVICE).await.unwrap();
        }

        // The consecutive cap (100, NIST) holds across windows for strangers, and a successful
        // sign-in by the owner resets it.
        async fn consecutive_stranger_failures_are_capped_at_100_and_reset_by_the_owner(w: World) {
            w.active_member("cap@example.org", "Cap Owner", collaborator_of("p1"), OWNER_PASSWORD).await;
            w.admit.sign_in("cap@example.org", password(OWNER_PASSWORD), OWNER_DEVICE).await.unwrap();
            let mut failed = 0;
            for quarter in 0..12 {
                for i in 0..10 {
                    let r = w.admit.sign_in("cap@example.org", password("wrong guess again"), &stranger(quarter * 10 + i)).await;
                    if matches!(r, Err(SignInError::InvalidCredentials)) {
                        failed += 1;
                    }
                }
                w.clock.advance(time::Duration::minutes(16));
            }
            assert_eq!(failed, 100, "at most 100 consecutive failures per address from strangers");
            let r = w.admit.sign_in("cap@example.org", password("wrong guess again"), &stranger(200)).await;
            assert!(matches!(r, Err(SignInError::RateLimited)), "{r:?}");
            w.admit.sign_in("cap@example.org", password(OWNER_PASSWORD), OWNER_DEVICE).await.unwrap();
            let r = w.admit.sign_in("cap@example.org", password("wrong guess again"), &stranger(201)).await;
            assert!(matches!(r, Err(SignInError::InvalidCredentials)), "the owner's success resets the run: {r:?}");
        }

        // Failures per requester key stay limited, whatever the address.
        async fn one_requester_failing_on_many_addresses_is_stopped(w: World) {
            let mut refused_at = None;
            for i in 0..60 {
                let r = w.admit.sign_in(&format!("nobody{i}@example.org"), password("wrong guess again"), "198.51.100.66").await;
                if matches!(r, Err(SignInError::RateLimited)) {
                    refused_at.get_or_insert(i);
                }
            }
            assert_eq!(refused_at, Some(50), "50 failures per requester per 15 minutes");
        }

        // Reset requests by strangers cannot use up the owner's own requests.
        async fn strangers_cannot_use_up_the_owners_reset_mails(w: World) {
            w.active_member("rst@example.org", "Rose Tan", collaborator_of("p1"), OWNER_PASSWORD).await;
            w.admit.sign_in("rst@example.org", password(OWNER_PASSWORD), OWNER_DEVICE).await.unwrap();
            w.deliver().await;
            for i in 0..8 {
                w.admit.request_password_reset("rst@example.org", &stranger(i)).await.unwrap();
            }
            // Five requests are allowed; each replaces the link of the one before, so one
            // mail goes out and four are superseded at dispatch.
            assert_eq!(w.deliver().await.len(), 1);
            let query = MailQuery { kind: Some(MailKind::PasswordReset), limit: 100, ..MailQuery::default() };
            assert_eq!(w.store.journal(&query).await.unwrap().items.len(), 5, "strangers share 5 requests an hour for the address");
            w.admit.request_password_reset("rst@example.org", OWNER_DEVICE).await.unwrap();
            let sent = w.deliver().await;
            assert_eq!(sent.len(), 1, "the owner's own request still sends a link");
            let token = token_in(&sent[0]).unwrap();
            w.admit.complete_password_reset(&token, password("a new long phrase here"), password("a new long phrase here"), OWNER_DEVICE)
                .await
                .unwrap();
        }

        // A shared requester key (a reverse proxy) full of bogus tokens blocks no valid link.
        async fn bogus_tokens_behind_a_shared_proxy_block_no_valid_link(w: World) {
            const PROXY: &str = "10.0.0.1";
            w.member("lnk@example.org", "Lin K", collaborator_of("p1"), Invite::Now).await;
            let token = w.last_token_to("lnk@example.org").await;
            let mut bogus: Vec<char> = token.chars().collect();
            let at = bogus.len() - 10;
            bogus[at] = if bogus[at] == 'A' { 'B' } else { 'A' };
            let bogus: String = bogus.into_iter().collect();
            for _ in 0..25 {
                let _ = w.admit.inspect_link(&bogus, PROXY).await;
            }
            assert_eq!(w.admit.inspect_link(&bogus, PROXY).await.unwrap_err().link_error().unwrap().reason(), LinkFailure::RateLimited);
            assert!(w.admit.inspect_link(&token, PROXY).await.is_ok());
            w.admit.accept_invitation(&token, password(OWNER_PASSWORD), password(OWNER_PASSWORD), PROXY).await.unwrap();
        }
    }
}

mod every_reason_at_once {
    use super::*;
    use admit::core::password::PasswordError;
    use admit::{AdmitError, BatchRowOutcome, CompletionError, CreateAccount, FieldProblem};

    on_every_store! {
        // A refused new password reports every rule it breaks; the link still works.
        async fn a_refused_password_reports_every_reason_and_keeps_the_link(w: World) {
            w.member("dominique.lefevre@example.org", "Dominique Lefevre", collaborator_of("p1"), Invite::Now).await;
            let token = w.last_token_to("dominique.lefevre@example.org").await;
            let r = w.admit.accept_invitation(&token, password("lefevre1"), password("lefevre1"), REQUESTER).await;
            let Err(CompletionError::Password(refusal)) = r else { panic!("{r:?}") };
            assert_eq!(refusal.reasons(), [PasswordError::TooShort { min: 15 }, PasswordError::ContainsPersonalInfo]);
            let r = w.admit.accept_invitation(&token, password(""), password(""), REQUESTER).await;
            let Err(CompletionError::Password(refusal)) = r else { panic!("{r:?}") };
            assert_eq!(refusal.reasons(), [PasswordError::Required]);
            assert!(w.admit.inspect_link(&token, REQUESTER).await.is_ok(), "nothing consumed");
            w.admit.accept_invitation(&token, password(OWNER_PASSWORD), password(OWNER_PASSWORD), REQUESTER).await.unwrap();
        }

        // create_account and each batch row report every invalid field at once.
        async fn every_invalid_field_is_reported_at_once(w: World) {
            let bad = CreateAccount {
                phone: Some("12".into()),
                ..CreateAccount::member("maintenance@example.org", "   ", collaborator_of("p1"))
            };
            let before = w.dump().await;
            let r = w.admit.create_account(w.admin, bad.clone(), Invite::Now).await;
            let Err(error @ AdmitError::InvalidFields(_)) = r else { panic!("{r:?}") };
            let fields: Vec<&str> = error.field_problems().iter().map(FieldProblem::field).collect();
            assert_eq!(fields, ["email", "full_name", "phone"]);
            assert!(matches!(error.field_problems()[0], FieldProblem::Email(admit::core::EmailError::RoleAddress)));
            // One invalid field keeps its own variant.
            let one = CreateAccount::member("not an address", "Some One", collaborator_of("p1"));
            let r = w.admit.create_account(w.admin, one.clone(), Invite::Now).await;
            assert!(matches!(&r, Err(e @ AdmitError::InvalidEmail(_)) if e.field_problems().len() == 1), "{r:?}");
            let rows = w.admit.create_accounts(w.admin, vec![bad, one], Invite::Now).await.unwrap();
            assert!(matches!(&rows[0].outcome, BatchRowOutcome::InvalidFields(p) if p.0.len() == 3), "{rows:?}");
            assert_eq!(rows[1].outcome.field_problems().len(), 1);
            assert_eq!(w.dump().await, before, "nothing was written");
        }
    }
}

mod temporary_passwords_expire {
    use super::*;

    fn temporary_password_in(mail: &admit::mail::Message) -> String {
        mail.text()
            .lines()
            .find(|l| l.matches('-').count() == 3 && l.trim().len() == 23)
            .map(|l| l.trim().to_owned())
            .expect("the password is in the mail")
    }

    on_every_store! {
        // ASVS 6.4.1: an administrator-given password stops working after its deadline
        // (default 72 hours), refused like a wrong one, and the account view says so.
        async fn an_unused_temporary_password_expires_and_the_administrator_sees_it(w: World) {
            let early = w.member("early@example.org", "Ear Ly", collaborator_of("p1"), Invite::Later).await;
            let late = w.member("late@example.org", "La Te", collaborator_of("p1"), Invite::Later).await;
            w.admit.issue_temporary_passwords(w.admin, vec![early, late]).await.unwrap();
            let sent = w.deliver().await;
            let password_of = |to: &str| {
                temporary_password_in(sent.iter().find(|m| m.to().address.as_str() == to).expect("a mail"))
            };
            let (early_pw, late_pw) = (password_of("early@example.org"), password_of("late@example.org"));
            let view = w.admit.account_view(w.admin, early).await.unwrap();
            let deadline = view.temporary_password_expires_at.expect("a deadline");
            assert_eq!(deadline, w.clock.now_ts() + time::Duration::hours(72));
            assert!(!view.temporary_password_expired);

            // Within the deadline it works (and must be changed).
            w.clock.advance(time::Duration::hours(71));
            assert!(w.admit.sign_in("early@example.org", password(&early_pw), REQUESTER).await.unwrap().must_change_password);
            // Past it: the same answer as a wrong password, and the view says expired.
            w.clock.advance(time::Duration::hours(2));
            let r = w.admit.sign_in("late@example.org", password(&late_pw), REQUESTER).await;
            assert!(matches!(r, Err(SignInError::InvalidCredentials)), "{r:?}");
            let view = w.admit.account_view(w.admin, late).await.unwrap();
            assert!(view.temporary_password_expired);
            // A fresh one works again.
            w.admit.issue_temporary_password(w.admin, late).await.unwrap();
            let again = temporary_password_in(&w.deliver().await[0]);
            w.admit.sign_in("late@example.org", password(&again), REQUESTER).await.unwrap();
            // A password the person chose never expires.
            w.admit.change_own_password(late, password(&again), password(OWNER_PASSWORD), password(OWNER_PASSWORD)).await.unwrap();
            let view = w.admit.account_view(w.admin, late).await.unwrap();
            assert_eq!((view.temporary_password_expires_at, view.temporary_password_expired), (None, false));
            w.clock.advance(time::Duration::days(400));
            w.admit.sign_in("late@example.org", password(OWNER_PASSWORD), REQUESTER).await.unwrap();
        }
    }
}
