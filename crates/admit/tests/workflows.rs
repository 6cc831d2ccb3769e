//! Each workflow of the requirements end to end, including forbidden and malformed cases,
//! on `MemoryStore` and `SqliteStore`.

mod support;

use admit::core::ForbiddenReason;
use admit::store::{AccountFilter, AccountQuery, AuditQuery, GrantFilter, MailQuery};
use admit::{
    AccountKind, AccountStatus, AdmitError, AuditAction, BatchRowOutcome, CreateAccount, EmailAssignment, Grant,
    Invite, ProfileChange, Role, StatusChange,
};
use admit_core::{EmailError, Labels};
use support::*;

fn forbidden(result: &Result<impl std::fmt::Debug, AdmitError>) -> ForbiddenReason {
    match result {
        Err(AdmitError::Forbidden(f)) => f.reason(),
        other => panic!("expected Forbidden, got {other:?}"),
    }
}

on_every_store! {
    // 05: several members at once, a result per row, valid rows kept.
    async fn batch_create_reports_each_row_and_keeps_valid_rows(w: World) {
        w.member("taken@example.org", "Taken", collaborator_of("p1"), Invite::Later).await;
        let rows = vec![
            CreateAccount::member("ok1@example.org", "Ok One", collaborator_of("p1")),
            CreateAccount::member("not an email", "Bad", collaborator_of("p1")),
            CreateAccount::member("maintenance@nomdelentreprise.fr", "Maintenance", collaborator_of("p1")),
            CreateAccount::member("TAKEN@example.org", "Dup", collaborator_of("p1")),
            CreateAccount::member("ok2@example.org", "Ok Two", collaborator_of("p1")),
            CreateAccount::member("OK2@example.org", "Ok Two Again", collaborator_of("p1")),
            CreateAccount::member("eve@example.org", "Eve\r\nBcc: x@evil.example", collaborator_of("p1")),
            CreateAccount { email: None, ..CreateAccount::member("", "No Email Yet", collaborator_of("p1")) },
        ];
        let result = w.admit.create_accounts(w.admin, rows, Invite::Now).await.unwrap();
        let outcomes: Vec<_> = result.iter().map(|r| &r.outcome).collect();
        assert!(matches!(outcomes[0], BatchRowOutcome::Invited(_)));
        assert!(matches!(outcomes[1], BatchRowOutcome::InvalidEmail(_)));
        assert_eq!(outcomes[2], &BatchRowOutcome::RoleAddress);
        assert_eq!(outcomes[3], &BatchRowOutcome::Duplicate);
        assert!(matches!(outcomes[4], BatchRowOutcome::Invited(_)));
        assert_eq!(outcomes[5], &BatchRowOutcome::Duplicate, "a duplicate within the batch");
        assert!(matches!(outcomes[6], BatchRowOutcome::InvalidField(_)), "header injection in a name is refused");
        assert!(matches!(outcomes[7], BatchRowOutcome::Created(_)), "no address: created, not invited");
        let sent = w.deliver().await;
        assert_eq!(sent.len(), 2, "two invitations");
        let counts = w.admit.count_accounts(w.admin, AccountFilter::default()).await.unwrap();
        assert_eq!(counts.invited, 2);
        assert_eq!(counts.created, 2);
        assert_eq!(counts.active, 1, "the administrator");
    }

    // 04: create with role, several client files, labels; invite later; relance.
    async fn create_invite_later_and_remind(w: World) {
        let c1 = Grant::new(admit::Scope::ClientFile(admit::ClientFileId::parse("acme").unwrap()), Role::Collaborator);
        let c2 = Grant::new(admit::Scope::ClientFile(admit::ClientFileId::parse("globex").unwrap()), Role::Collaborator);
        let mut row = CreateAccount::member("zoe@example.org", "Zoé Martin", c1.clone()).label("position", "Gérant").label("themes", "Paie").locale("fr");
        row.grants.push(c2.clone());
        let account = w.admit.create_account(w.admin, row, Invite::Later).await.unwrap();
        assert_eq!(account.grants.len(), 2, "several client files");
        assert!(account.labels.values("position").any(|v| v == "Gérant"));
        assert!(w.deliver().await.is_empty(), "not invited yet");
        assert!(matches!(w.admit.reinvite(w.admin, account.id).await, Err(AdmitError::Status(_))), "no relance before an invitation");
        w.admit.invite(w.admin, account.id).await.unwrap();
        let sent = w.deliver().await;
        assert_eq!(sent.len(), 1);
        assert!(sent[0].subject().contains("Invitation") || sent[0].subject().to_lowercase().contains("invit"), "{}", sent[0].subject());
        assert!(matches!(w.admit.invite(w.admin, account.id).await, Err(AdmitError::Status(_))), "invite only once: then remind");
        w.admit.reinvite(w.admin, account.id).await.unwrap();
        assert_eq!(w.deliver().await.len(), 1);
        let mut labels = Labels::new();
        labels.insert("contact_for", "facturation").unwrap();
        let updated = w.admit.update_profile(w.admin, account.id, ProfileChange { labels: Some(labels), ..ProfileChange::default() }).await.unwrap();
        assert!(updated.labels.values("contact_for").any(|v| v == "facturation"));
        assert!(updated.labels.values("position").next().is_none(), "labels are replaced");
    }

    // 01: a programme administrator resets collaborators of the programme, not public accounts.
    async fn program_administrator_resets_within_the_program_only(w: World) {
        let padmin = w.active_member("pa@example.org", "Prog Admin", Grant::new(program("p1"), Role::Administrator), "amber field north wind").await;
        let colleague = w.active_member("col@example.org", "Colleague", collaborator_of("p1"), "silver kettle morning").await;
        let outsider = w.active_member("out@example.org", "Outsider", collaborator_of("p2"), "paper boat in april").await;
        let public = w.admit.create_account(w.admin, public_account("cand@example.org", "Candidate"), Invite::Now).await.unwrap().id;
        w.deliver().await;
        w.admit.send_password_reset(padmin, colleague).await.unwrap();
        assert_eq!(forbidden(&w.admit.send_password_reset(padmin, outsider).await), ForbiddenReason::OutsideScope);
        assert_eq!(forbidden(&w.admit.send_password_reset(padmin, public).await), ForbiddenReason::PublicAccountOutsidePlatform);
        w.admit.send_password_reset(w.admin, public).await.unwrap();
        let sent = w.deliver().await;
        assert_eq!(sent.len(), 2);
        let reset = token_in(sent.iter().find(|m| m.to().address.as_str() == "col@example.org").unwrap()).unwrap();
        w.admit.complete_password_reset(&reset, password("a brand new phrase"), password("a brand new phrase"), REQUESTER).await.unwrap();
        assert!(w.admit.sign_in("col@example.org", password("a brand new phrase"), REQUESTER).await.is_ok());
        assert!(w.admit.sign_in("col@example.org", password("silver kettle morning"), REQUESTER).await.is_err());
    }

    // Forbidden calls change nothing and send nothing.
    async fn forbidden_calls_change_nothing(w: World) {
        let collaborator = w.active_member("c@example.org", "Collab", collaborator_of("p1"), "quiet river stone path").await;
        let target = w.member("t@example.org", "Target", collaborator_of("p1"), Invite::Now).await;
        w.deliver().await;
        let before = w.dump().await;
        assert!(w.admit.reinvite(collaborator, target).await.is_err());
        assert!(w.admit.send_password_reset(collaborator, target).await.is_err());
        assert!(w.admit.change_status(collaborator, target, StatusChange::Disable).await.is_err());
        assert!(w.admit.set_password(collaborator, target, password("chosen long phrase"), password("chosen long phrase"), true).await.is_err());
        assert!(w.admit.create_account(collaborator, CreateAccount::member("n@example.org", "N", collaborator_of("p1")), Invite::Now).await.is_err());
        assert!(w.admit.change_grants(collaborator, collaborator, vec![Grant::platform_administrator()]).await.is_err());
        let rows = w.admit.issue_temporary_passwords(collaborator, vec![target]).await.unwrap();
        assert!(matches!(rows[0].outcome, BatchRowOutcome::Forbidden(_)));
        assert!(w.admit.mail_journal(collaborator, MailQuery::default()).await.is_err());
        assert!(w.admit.audit_log(collaborator, AuditQuery::default()).await.is_err());
        assert!(w.admit.list_accounts(collaborator, AccountQuery::new(w.clock.now_ts())).await.is_err());
        assert_eq!(w.dump().await, before, "no forbidden call wrote anything");
        assert!(w.deliver().await.is_empty(), "no forbidden call sent anything");
    }

    // Malformed input gets a typed error and changes nothing.
    async fn malformed_input_is_refused_with_typed_errors(w: World) {
        let before = w.dump().await;
        let huge = "x".repeat(1 << 20);
        let cases = [
            CreateAccount::member("a@b", "A", collaborator_of("p1")),
            CreateAccount::member("a\0b@example.org", "A", collaborator_of("p1")),
            CreateAccount::member("ok@example.org", &huge, collaborator_of("p1")),
            CreateAccount::member("ok@example.org", "Name\u{202E}gnp.exe", collaborator_of("p1")),
            CreateAccount { phone: Some("0612".into()), ..CreateAccount::member("ok@example.org", "A", collaborator_of("p1")) },
            CreateAccount { locale: Some("not a locale".into()), ..CreateAccount::member("ok@example.org", "A", collaborator_of("p1")) },
            CreateAccount { grants: vec![], ..CreateAccount::member("ok@example.org", "A", collaborator_of("p1")) },
        ];
        for case in cases {
            let result = w.admit.create_account(w.admin, case, Invite::Now).await;
            assert!(matches!(result, Err(AdmitError::InvalidEmail(_) | AdmitError::InvalidField(_))), "{result:?}");
        }
        assert!(matches!(w.admit.request_password_reset(&huge, REQUESTER).await, Err(AdmitError::InvalidEmail(EmailError::TooLong))));
        assert!(w.admit.sign_in("nobody@example.org", password(&huge), REQUESTER).await.is_err());
        assert!(w.admit.inspect_link(&huge, REQUESTER).await.is_err());
        assert_eq!(w.dump().await, before);
    }

    // 03: addresses by batch, then temporary passwords by batch (only accounts with an address).
    async fn family_portal_batch_addresses_and_passwords(w: World) {
        let mut ids = Vec::new();
        for name in ["Resp A", "Resp B", "Resp C"] {
            let row = CreateAccount { email: None, kind: AccountKind::Public, ..public_account("", name) };
            ids.push(w.admit.create_account(w.admin, row, Invite::Later).await.unwrap().id);
        }
        let assigned = w.admit.assign_emails(w.admin, vec![
            EmailAssignment { account: ids[0], email: "resp.a@example.org".into() },
            EmailAssignment { account: ids[1], email: "not-an-address".into() },
        ]).await.unwrap();
        assert!(matches!(assigned[0].outcome, BatchRowOutcome::Done(_)));
        assert!(matches!(assigned[1].outcome, BatchRowOutcome::InvalidEmail(_)));
        assert!(w.deliver().await.is_empty(), "assigning a first address notifies nobody");
        let rows = w.admit.issue_temporary_passwords(w.admin, ids.clone()).await.unwrap();
        assert!(matches!(rows[0].outcome, BatchRowOutcome::Done(_)));
        assert!(matches!(rows[1].outcome, BatchRowOutcome::Refused(_)), "no address: not eligible");
        assert!(matches!(rows[2].outcome, BatchRowOutcome::Refused(_)));
        let sent = w.deliver().await;
        assert_eq!(sent.len(), 1);
        let journal = w.admit.mail_journal(w.admin, MailQuery { subject: Some("PASSWORD".into()), ..MailQuery::default() }).await.unwrap();
        assert_eq!(journal.items.len(), 1, "found by subject, case-insensitively: {:?}", journal.items.iter().map(|m| &m.subject).collect::<Vec<_>>());
        assert_eq!(journal.items[0].status, admit::core::MailStatus::Sent);
    }

    // Status column, filters, keyset paging.
    async fn list_filters_and_pages(w: World) {
        for i in 0..7 {
            w.member(&format!("m{i}@example.org"), &format!("Member {i}"), collaborator_of("p1"), if i % 2 == 0 { Invite::Now } else { Invite::Later }).await;
        }
        w.member("other@example.org", "Other Program", collaborator_of("p2"), Invite::Now).await;
        let mut query = AccountQuery::new(w.clock.now_ts());
        query.limit = 3;
        query.filter.grant = Some(GrantFilter { scope: Some(program("p1")), role: None });
        let mut seen = Vec::new();
        loop {
            let page = w.admit.list_accounts(w.admin, query.clone()).await.unwrap();
            seen.extend(page.items.iter().map(|v| v.account.id));
            match page.next { Some(next) => query.after = Some(next), None => break }
        }
        assert_eq!(seen.len(), 7, "every programme member once");
        let mut sorted = seen.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, seen, "ascending, no duplicates");
        let mut invited = AccountQuery::new(w.clock.now_ts());
        invited.status = Some(AccountStatus::Invited);
        assert_eq!(w.admit.list_accounts(w.admin, invited).await.unwrap().items.len(), 5);
        let mut text = AccountQuery::new(w.clock.now_ts());
        text.filter.text = Some("member 3".into());
        assert_eq!(w.admit.list_accounts(w.admin, text).await.unwrap().items.len(), 1);
        // A programme administrator reads their programme only.
        let padmin = w.active_member("pa@example.org", "PA", Grant::new(program("p1"), Role::Administrator), "amber field north wind").await;
        let mut own = AccountQuery::new(w.clock.now_ts());
        own.filter.grant = Some(GrantFilter { scope: Some(program("p1")), role: None });
        assert!(w.admit.list_accounts(padmin, own).await.is_ok());
        assert!(w.admit.list_accounts(padmin, AccountQuery::new(w.clock.now_ts())).await.is_err());
    }

    // Audit log: who did what, to whom, when; every administrative call leaves an entry.
    async fn every_administrative_call_is_audited(w: World) {
        let id = w.member("aud@example.org", "Aud", collaborator_of("p1"), Invite::Now).await;
        w.admit.change_status(w.admin, id, StatusChange::Disable).await.unwrap();
        let entries = w.admit.audit_log(w.admin, AuditQuery { target: Some(id), ..AuditQuery::default() }).await.unwrap().items;
        let actions: Vec<_> = entries.iter().map(|e| e.action).collect();
        assert_eq!(actions, vec![AuditAction::AccountDisabled, AuditAction::InvitationSent, AuditAction::AccountCreated], "newest first");
        assert!(entries.iter().all(|e| e.actor == Some(w.admin)));
    }

    // Events let the host end sessions.
    async fn events_are_published_after_commit(w: World) {
        let mut events = w.admit.subscribe();
        let id = w.active_member("ev@example.org", "Ev", collaborator_of("p1"), "ev's long phrase").await;
        assert_eq!(events.recv().await.unwrap(), admit::Event::Activated(id));
        assert_eq!(events.recv().await.unwrap(), admit::Event::PasswordChanged(id));
        w.admit.change_status(w.admin, id, StatusChange::Disable).await.unwrap();
        assert_eq!(events.recv().await.unwrap(), admit::Event::Disabled(id));
        assert!(w.admit.sign_in("ev@example.org", password("ev's long phrase"), REQUESTER).await.is_err(), "disabled accounts cannot sign in");
    }

    // Trash and purge after retention.
    async fn trash_restore_and_purge(w: World) {
        let id = w.member("tr@example.org", "Tr", collaborator_of("p1"), Invite::Later).await;
        assert!(matches!(w.admit.purge(w.admin, id).await, Err(AdmitError::NotPurgeable)));
        w.admit.change_status(w.admin, id, StatusChange::Trash).await.unwrap();
        assert_eq!(w.admit.purge_expired().await.unwrap(), 0, "not before the retention period");
        w.clock.advance(time::Duration::days(31));
        assert_eq!(w.admit.purge_expired().await.unwrap(), 1);
        assert!(matches!(w.admit.account_view(w.admin, id).await, Err(AdmitError::NotFound(_))));
    }
}
