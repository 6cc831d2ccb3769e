//! Every rule of DESIGN.md's "Decisions" section, pinned through the facade on
//! `MemoryStore` and `SqliteStore`.

mod support;

use admit::core::token::LinkFailure;
use admit::core::{Lifecycle, RevokeReason, TokenPurpose};
use admit::store::MailQuery;
use admit::{AccountStatus, AdmitError, CompletionError, CreateAccount, Grant, Invite, StatusChange};
use support::*;
use time::Duration;

fn link_reason(error: &CompletionError) -> LinkFailure {
    match error {
        CompletionError::InvalidLink(e) => e.reason(),
        other => panic!("expected an invalid link, got {other:?}"),
    }
}

on_every_store! {
    // Time: a link is valid while now <= expires_at, and timestamps read back exactly.
    async fn time_link_valid_at_its_expiry_instant_and_not_one_microsecond_later(w: World) {
        let id = w.member("ana@example.org", "Ana", collaborator_of("p1"), Invite::Now).await;
        let token = w.last_token_to("ana@example.org").await;
        let info = w.admit.inspect_link(&token, REQUESTER).await.unwrap();
        let account = w.store.account(id).await.unwrap().unwrap();
        assert_eq!(account.invitation_expires_at, Some(info.expires_at), "the deadline read back equals the one written");
        assert_eq!(info.expires_at, account.invited_at.unwrap() + Duration::days(7), "invitations live 7 days by default");
        w.clock.set(info.expires_at);
        assert!(w.admit.inspect_link(&token, REQUESTER).await.is_ok(), "valid at exactly expires_at");
        w.clock.advance(Duration::microseconds(1));
        let err = w.admit.inspect_link(&token, REQUESTER).await.unwrap_err().link_error().unwrap();
        assert_eq!(err.reason(), LinkFailure::Expired, "invalid one microsecond later");
        assert_eq!(err.to_string(), "invalid or expired link", "the caller sees one message");
    }

    // Re-issuing revokes the previous link; the new one lives a full lifetime from now.
    async fn reissuing_revokes_the_previous_link_and_restarts_the_lifetime(w: World) {
        let id = w.member("ben@example.org", "Ben", collaborator_of("p1"), Invite::Now).await;
        let old = w.last_token_to("ben@example.org").await;
        w.clock.advance(Duration::days(8));
        let status = w.admit.account_view(w.admin, id).await.unwrap().status;
        assert_eq!(status, AccountStatus::InvitationExpired);
        w.admit.reinvite(w.admin, id).await.unwrap();
        let sent = w.deliver().await;
        let reminder = sent.last().unwrap();
        assert!(reminder.headers().iter().any(|(n, v)| n == "X-Admit-Mail-Kind" && v == "invitation_reminder"), "a reminder template is used");
        let new = token_in(reminder).unwrap();
        let info = w.admit.inspect_link(&new, REQUESTER).await.unwrap();
        assert_eq!(info.expires_at, w.clock.now_ts() + Duration::days(7), "full lifetime from now");
        let err = w.admit.inspect_link(&old, REQUESTER).await.unwrap_err().link_error().unwrap();
        assert_eq!(err.reason(), LinkFailure::Expired, "the expired link stays dead");
        assert_eq!(w.admit.account_view(w.admin, id).await.unwrap().status, AccountStatus::Invited);
        // A live link is replaced by the next re-send.
        w.clock.advance(Duration::minutes(1));
        w.admit.reinvite(w.admin, id).await.unwrap();
        let newest = w.last_token_to("ben@example.org").await;
        assert_eq!(w.admit.inspect_link(&new, REQUESTER).await.unwrap_err().link_error().unwrap().reason(), LinkFailure::Revoked(RevokeReason::Replaced));
        assert!(w.admit.inspect_link(&newest, REQUESTER).await.is_ok());
    }

    // Failed completion consumes nothing and changes nothing; the same link works after.
    async fn failed_completion_consumes_nothing(w: World) {
        w.member("cleo@example.org", "Cleo Durand", collaborator_of("p1"), Invite::Now).await;
        let token = w.last_token_to("cleo@example.org").await;
        let before = w.dump().await;
        let mismatch = w.admit.accept_invitation(&token, password("a long enough phrase"), password("a long enough phrase!"), REQUESTER).await;
        assert!(matches!(mismatch, Err(CompletionError::Password(_))), "mismatched confirmation is a password error");
        let short = w.admit.accept_invitation(&token, password("short"), password("short"), REQUESTER).await;
        assert!(matches!(short, Err(CompletionError::Password(_))));
        let personal = w.admit.accept_invitation(&token, password("cleo durand 2026!"), password("cleo durand 2026!"), REQUESTER).await;
        assert!(matches!(personal, Err(CompletionError::Password(_))), "the name is refused in the password");
        let malformed = w.admit.accept_invitation("adm_nope", password("a long enough phrase"), password("a long enough phrase"), REQUESTER).await;
        assert_eq!(link_reason(&malformed.unwrap_err()), LinkFailure::Malformed);
        assert_eq!(w.dump().await, before, "nothing changed in the store");
        w.admit.accept_invitation(&token, password("a long enough phrase"), password("a long enough phrase"), REQUESTER).await.unwrap();
    }

    // Every password change moves the epoch, even to the same password, killing every link.
    async fn credential_epoch_moves_on_every_password_change(w: World) {
        let id = w.active_member("dan@example.org", "Dan", collaborator_of("p1"), "first secret phrase").await;
        w.admit.send_password_reset(w.admin, id).await.unwrap();
        let reset = w.last_token_to("dan@example.org").await;
        let epoch = w.store.account(id).await.unwrap().unwrap().credential_epoch;
        w.admit.set_password(w.admin, id, password("first secret phrase"), password("first secret phrase"), false).await.unwrap();
        let after = w.store.account(id).await.unwrap().unwrap();
        assert_eq!(after.credential_epoch, epoch.next(), "the epoch moved although the password is the same");
        let err = w.admit.inspect_link(&reset, REQUESTER).await.unwrap_err().link_error().unwrap();
        assert_eq!(err.reason(), LinkFailure::Revoked(RevokeReason::PasswordChanged));
    }

    // An email change revokes every link and notifies the old address.
    async fn email_change_revokes_links_and_notifies_the_old_address(w: World) {
        let id = w.member("eve@example.org", "Eve", collaborator_of("p1"), Invite::Now).await;
        let token = w.last_token_to("eve@example.org").await;
        w.admit.change_email(w.admin, id, "eve.new@example.org").await.unwrap();
        let err = w.admit.inspect_link(&token, REQUESTER).await.unwrap_err().link_error().unwrap();
        assert_eq!(err.reason(), LinkFailure::Revoked(RevokeReason::EmailChanged));
        let sent = w.deliver().await;
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].to().address.as_str(), "eve@example.org", "the notice goes to the old address");
        assert!(sent[0].text().contains("eve.new@example.org"));
        assert_eq!(w.admit.account_view(w.admin, id).await.unwrap().status, AccountStatus::Created, "re-invite is needed");
    }

    // Sign-in with the right password revokes an outstanding reset link.
    async fn sign_in_revokes_an_outstanding_reset_link(w: World) {
        let id = w.active_member("fay@example.org", "Fay", collaborator_of("p1"), "fay's long secret phrase").await;
        w.admit.request_password_reset("fay@example.org", REQUESTER).await.unwrap();
        let reset = w.last_token_to("fay@example.org").await;
        let signed = w.admit.sign_in("FAY@example.org", password("fay's long secret phrase"), REQUESTER).await.unwrap();
        assert_eq!(signed.account_id, id);
        let err = w.admit.inspect_link(&reset, REQUESTER).await.unwrap_err().link_error().unwrap();
        assert_eq!(err.reason(), LinkFailure::Revoked(RevokeReason::SignedIn));
        assert!(w.store.account(id).await.unwrap().unwrap().last_login_at.is_some());
    }

    // Creating an account whose email exists (any status, any case) is a typed conflict.
    async fn creating_an_existing_email_is_a_conflict(w: World) {
        w.member("gus@example.org", "Gus", collaborator_of("p1"), Invite::Later).await;
        let again = w.admit.create_account(w.admin, CreateAccount::member("GUS@Example.ORG", "Gus 2", collaborator_of("p1")), Invite::Now).await;
        assert!(matches!(again, Err(AdmitError::EmailTaken)), "{again:?}");
        assert!(w.deliver().await.is_empty(), "nothing was sent");
    }

    // Admin set-password on an invited account activates it, revokes its invitation, notifies.
    async fn admin_set_password_activates_an_invited_account(w: World) {
        let id = w.member("hal@example.org", "Hal", collaborator_of("p1"), Invite::Now).await;
        let invitation = w.last_token_to("hal@example.org").await;
        let events = w.admit.set_password(w.admin, id, password("a chosen long phrase"), password("a chosen long phrase"), true).await.unwrap();
        assert!(events.contains(&admit::Event::Activated(id)));
        let view = w.admit.account_view(w.admin, id).await.unwrap();
        assert_eq!(view.status, AccountStatus::Active);
        assert!(view.account.must_change_password, "must change at next sign-in, as chosen");
        assert!(w.admit.inspect_link(&invitation, REQUESTER).await.is_err(), "the invitation link is revoked");
        let sent = w.deliver().await;
        assert_eq!(sent.len(), 1, "the password changed notice");
        assert!(sent[0].headers().iter().any(|(_, v)| v == "password_changed"));
        let signed = w.admit.sign_in("hal@example.org", password("a chosen long phrase"), REQUESTER).await.unwrap();
        assert!(signed.must_change_password, "the first sign-in reports the flag");
    }

    // Reset completion on an invited account activates it and revokes the invitation; it
    // sends the notice, while accepting an invitation does not.
    async fn reset_completion_activates_and_notifies_acceptance_does_not(w: World) {
        let ivy = w.member("ivy@example.org", "Ivy", collaborator_of("p1"), Invite::Now).await;
        let invitation = w.last_token_to("ivy@example.org").await;
        w.admit.request_password_reset("ivy@example.org", REQUESTER).await.unwrap();
        let reset = w.last_token_to("ivy@example.org").await;
        let done = w.admit.complete_password_reset(&reset, password("ivy new long phrase"), password("ivy new long phrase"), REQUESTER).await.unwrap();
        assert_eq!(done.account_id, ivy);
        assert_eq!(w.admit.account_view(w.admin, ivy).await.unwrap().status, AccountStatus::Active);
        assert!(w.admit.inspect_link(&invitation, REQUESTER).await.is_err());
        let sent = w.deliver().await;
        assert!(sent.iter().any(|m| m.headers().iter().any(|(_, v)| v == "password_changed")), "a completed reset sends the notice");

        w.member("jo@example.org", "Jo", collaborator_of("p1"), Invite::Now).await;
        let token = w.last_token_to("jo@example.org").await;
        w.admit.accept_invitation(&token, password("jo's long phrase!"), password("jo's long phrase!"), REQUESTER).await.unwrap();
        assert!(w.deliver().await.is_empty(), "accepting an invitation sends no notice");
        let replay = w.admit.accept_invitation(&token, password("jo's long phrase!"), password("jo's long phrase!"), REQUESTER).await;
        assert_eq!(link_reason(&replay.unwrap_err()), LinkFailure::Used, "a link is used once");
    }

    // Created, never invited: an administrator's reset is refused; self-service gets the
    // unknown-email treatment.
    async fn never_invited_accounts_get_no_reset(w: World) {
        let id = w.member("kim@example.org", "Kim", collaborator_of("p1"), Invite::Later).await;
        assert!(matches!(w.admit.send_password_reset(w.admin, id).await, Err(AdmitError::NotInvitedYet)));
        w.admit.request_password_reset("kim@example.org", REQUESTER).await.unwrap();
        assert!(w.deliver().await.is_empty(), "no mail for a never-invited account");
    }

    // Disabled or trashed accounts get no mail; their links fail and never lift the status.
    async fn disabled_and_trashed_accounts_get_nothing(w: World) {
        let id = w.member("lou@example.org", "Lou", collaborator_of("p1"), Invite::Now).await;
        let token = w.last_token_to("lou@example.org").await;
        w.admit.change_status(w.admin, id, StatusChange::Disable).await.unwrap();
        assert!(w.admit.accept_invitation(&token, password("lou's long phrase"), password("lou's long phrase"), REQUESTER).await.is_err());
        assert!(matches!(w.admit.send_password_reset(w.admin, id).await, Err(AdmitError::AccountUnavailable)));
        w.admit.request_password_reset("lou@example.org", REQUESTER).await.unwrap();
        assert!(w.deliver().await.is_empty(), "a disabled account gets no mail");
        assert_eq!(w.admit.account_view(w.admin, id).await.unwrap().status, AccountStatus::Disabled);
        w.admit.change_status(w.admin, id, StatusChange::Trash).await.unwrap();
        assert_eq!(w.admit.account_view(w.admin, id).await.unwrap().status, AccountStatus::Trashed);
        // Enable and restore bring no link back.
        w.admit.change_status(w.admin, id, StatusChange::Restore).await.unwrap();
        w.admit.change_status(w.admin, id, StatusChange::Enable).await.unwrap();
        assert_eq!(w.admit.account_view(w.admin, id).await.unwrap().status, AccountStatus::Created);
        assert_eq!(w.admit.inspect_link(&token, REQUESTER).await.unwrap_err().link_error().unwrap().reason(), LinkFailure::Revoked(RevokeReason::AccountDisabled));
    }

    // A wrong verifier does not revoke the link; failures are limited per requester.
    async fn wrong_guesses_do_not_revoke_and_are_rate_limited(w: World) {
        w.member("max@example.org", "Max", collaborator_of("p1"), Invite::Now).await;
        let token = w.last_token_to("max@example.org").await;
        // Change a character inside the verifier (not the last one, whose low bits must be
        // zero): the token stays well formed, so the failure counts against the requester.
        let mut chars: Vec<char> = token.chars().collect();
        let at = chars.len() - 10;
        chars[at] = if chars[at] == 'A' { 'B' } else { 'A' };
        let forged: String = chars.into_iter().collect();
        let err = w.admit.inspect_link(&forged, "203.0.113.9").await.unwrap_err().link_error().unwrap();
        assert_eq!(err.reason(), LinkFailure::WrongVerifier);
        assert!(w.admit.inspect_link(&token, REQUESTER).await.is_ok(), "a wrong guess does not revoke the link");
        for _ in 0..25 {
            let _ = w.admit.inspect_link(&forged, "203.0.113.9").await;
        }
        let err = w.admit.inspect_link(&forged, "203.0.113.9").await.unwrap_err().link_error().unwrap();
        assert_eq!(err.reason(), LinkFailure::RateLimited, "the requester's failures are throttled after 20");
        // A shared requester key (a proxy's address) must not block the person's own link.
        assert!(w.admit.inspect_link(&token, "203.0.113.9").await.is_ok(), "a valid link still works");
        assert!(w.admit.inspect_link(&token, REQUESTER).await.is_ok(), "for others too");
    }

    // The address is kept as typed; mail goes to the stored address, never the typed one.
    async fn mail_goes_to_the_stored_address(w: World) {
        let id = w.active_member("Nora.Petit@example.org", "Nora", collaborator_of("p1"), "blue lantern by the sea").await;
        assert_eq!(w.store.account(id).await.unwrap().unwrap().email.unwrap().as_str(), "Nora.Petit@example.org");
        w.admit.request_password_reset("  nora.PETIT@EXAMPLE.org ", REQUESTER).await.unwrap();
        let sent = w.deliver().await;
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].to().address.as_str(), "Nora.Petit@example.org");
    }

    // Self-service reset answers the same for known, unknown, never-invited, disabled, throttled.
    async fn self_service_answers_the_same_every_time(w: World) {
        w.active_member("oli@example.org", "Oli", collaborator_of("p1"), "oli's long phrase").await;
        let kim = w.member("kim@example.org", "Kim", collaborator_of("p1"), Invite::Later).await;
        let dis = w.member("dis@example.org", "Dis", collaborator_of("p1"), Invite::Now).await;
        w.admit.change_status(w.admin, dis, StatusChange::Disable).await.unwrap();
        let _ = kim;
        w.deliver().await;
        for email in ["oli@example.org", "nobody@example.org", "kim@example.org", "dis@example.org"] {
            assert!(w.admit.request_password_reset(email, REQUESTER).await.is_ok(), "{email}");
        }
        for _ in 0..10 {
            assert!(w.admit.request_password_reset("oli@example.org", "203.0.113.50").await.is_ok(), "throttled answers the same");
        }
        let oli = MailQuery { recipient: Some("oli@example.org".into()), kind: Some(admit::core::MailKind::PasswordReset), ..MailQuery::default() };
        let queued = w.admit.mail_journal(w.admin, oli).await.unwrap().items;
        assert_eq!(queued.len(), 5, "only 5 links an hour per address");
        let sent = w.deliver().await;
        // Each new link replaced the one before: only the last is live, so only its mail goes.
        assert_eq!(sent.iter().filter(|m| m.to().address.as_str() == "oli@example.org").count(), 1, "one live link, one mail");
        assert!(sent.iter().all(|m| m.to().address.as_str() == "oli@example.org"), "nobody else got mail");
        let oli = MailQuery { recipient: Some("oli@example.org".into()), status: Some(admit::core::MailStatus::Superseded), ..MailQuery::default() };
        assert_eq!(w.admit.mail_journal(w.admin, oli).await.unwrap().items.len(), 4, "the four replaced links were not sent");
    }

    // Timing does not tell known from unknown: every answer waits for the response floor.
    async fn self_service_answers_no_sooner_than_the_response_floor(w: World) {
        w.active_member("vic@example.org", "Vic", collaborator_of("p1"), "green apple orchard").await;
        for email in ["vic@example.org", "nobody@example.org"] {
            let started = std::time::Instant::now();
            w.admit.request_password_reset(email, REQUESTER).await.unwrap();
            let floor = admit::AdmitBuilder::DEFAULT_RESET_RESPONSE_FLOOR;
            assert!(started.elapsed() >= floor, "{email}: answered before the {floor:?} floor");
        }
    }

    // Admin set-password may be turned off (ASVS level 3).
    async fn admin_set_password_can_be_turned_off(w: World) {
        let id = w.member("pat@example.org", "Pat", collaborator_of("p1"), Invite::Later).await;
        let strict = admit::Admit::builder()
            .shared_store(w.store.clone())
            .transport(w.outbox.clone())
            .clock(w.clock.clone())
            .link_base("https://app.example.org")
            .admin_set_password(false)
            .build()
            .unwrap();
        let result = strict.set_password(w.admin, id, password("chosen long phrase"), password("chosen long phrase"), true).await;
        assert!(matches!(result, Err(AdmitError::SetPasswordDisabled)));
    }

    // Links come from the configured base; every mail with a link states its deadline.
    async fn links_use_the_configured_base_and_state_their_deadline(w: World) {
        w.member("quinn@example.org", "Quinn", collaborator_of("p1"), Invite::Now).await;
        let sent = w.deliver().await;
        let text = sent[0].text();
        assert!(text.contains("https://app.example.org/accept-invitation?token=adm_"), "{text}");
        assert!(text.contains("UTC"), "the deadline is stated: {text}");
        assert!(admit::Admit::builder().link_base("http://evil.example.org").store(admit::MemoryStore::new()).transport(w.outbox.clone()).build().is_err());
    }

    // Token records are kept after use, with when and why.
    async fn token_records_are_kept_after_use(w: World) {
        let id = w.active_member("rae@example.org", "Rae", collaborator_of("p1"), "rae's long phrase").await;
        let tokens = w.store.tokens_of(id).await.unwrap();
        assert_eq!(tokens.len(), 1);
        assert!(tokens[0].consumed_at.is_some(), "the used invitation is kept as used");
        assert_eq!(tokens[0].purpose, TokenPurpose::Invitation);
    }

    // Temporary passwords revoke the invitation, activate with must-change; the change clears it.
    async fn temporary_passwords_activate_with_must_change(w: World) {
        let id = w.member("sam@example.org", "Sam", collaborator_of("p1"), Invite::Now).await;
        let invitation = w.last_token_to("sam@example.org").await;
        let rows = w.admit.issue_temporary_passwords(w.admin, vec![id]).await.unwrap();
        assert!(matches!(rows[0].outcome, admit::BatchRowOutcome::Done(_)), "{rows:?}");
        assert!(w.admit.inspect_link(&invitation, REQUESTER).await.is_err());
        let sent = w.deliver().await;
        let temp = sent[0].text().lines().find(|l| l.matches('-').count() == 3 && l.trim().len() == 23).map(|l| l.trim().to_owned()).expect("the password is in the mail");
        let signed = w.admit.sign_in("sam@example.org", password(&temp), REQUESTER).await.unwrap();
        assert!(signed.must_change_password);
        w.admit.change_own_password(id, password(&temp), password("sam's own long phrase"), password("sam's own long phrase")).await.unwrap();
        let signed = w.admit.sign_in("sam@example.org", password("sam's own long phrase"), REQUESTER).await.unwrap();
        assert!(!signed.must_change_password, "the change clears the flag");
        let journal = w.admit.mail_journal(w.admin, MailQuery { subject: Some("password".into()), ..MailQuery::default() }).await.unwrap();
        assert!(!format!("{:?}", journal.items).contains(&temp), "the journal never shows the password");
        assert!(journal.items.iter().all(|m| m.params.secret.is_none()));
    }

    // Administrator re-sends are limited per account.
    async fn administrator_resends_are_limited(w: World) {
        let id = w.member("tom@example.org", "Tom", collaborator_of("p1"), Invite::Now).await;
        w.admit.reinvite(w.admin, id).await.unwrap();
        assert!(matches!(w.admit.reinvite(w.admin, id).await, Err(AdmitError::RateLimited { .. })));
        assert!(matches!(w.admit.send_password_reset(w.admin, id).await, Err(AdmitError::RateLimited { .. })));
        w.clock.advance(Duration::minutes(1));
        w.admit.reinvite(w.admin, id).await.unwrap();
        let queued = w.admit.mail_journal(w.admin, MailQuery { account_id: Some(id), ..MailQuery::default() }).await.unwrap().items;
        assert_eq!(queued.len(), 3, "invitation + two reminders, nothing for refused calls");
        // Dispatched only now: each reminder replaced the link before it, so only the last goes out.
        assert_eq!(w.deliver().await.len(), 1, "only the live link is mailed");
        let journal = w.admit.mail_journal(w.admin, MailQuery { account_id: Some(id), ..MailQuery::default() }).await.unwrap().items;
        let superseded: Vec<_> = journal.iter().filter(|m| m.status == admit::core::MailStatus::Superseded).collect();
        assert_eq!(superseded.len(), 2);
        assert!(superseded.iter().all(|m| m.last_error.as_deref() == Some("link replaced by a newer one")), "{superseded:?}");
    }

    // The last platform administrator can be neither disabled nor trashed.
    async fn the_last_platform_administrator_stays(w: World) {
        for change in [StatusChange::Disable, StatusChange::Trash] {
            assert!(matches!(w.admit.change_status(w.admin, w.admin, change).await, Err(AdmitError::Forbidden(_))));
        }
        assert!(matches!(w.admit.change_grants(w.admin, w.admin, vec![collaborator_of("p1")]).await, Err(AdmitError::Forbidden(_))));
        let second = w.active_member("una@example.org", "Una", Grant::platform_administrator(), "una's long phrase").await;
        w.admit.change_status(w.admin, second, StatusChange::Disable).await.unwrap();
        assert!(w.admit.change_status(w.admin, w.admin, StatusChange::Disable).await.is_err(), "a disabled one does not count");
        let stored = w.store.account(w.admin).await.unwrap().unwrap();
        assert_eq!(stored.lifecycle, Lifecycle::Active);
    }
}
