//! The administrators' console through `tower::ServiceExt::oneshot` on the documented host
//! (examples/console_host.rs): the « Comptes » list with its counts, filters and paging, each
//! action's confirmation → POST → redirect → message, CSRF, and scope: a programme
//! administrator sees no platform account and a forged POST on one is refused.

mod support;

use admit::core::ProgramId;
use admit::{AccountStatus, CreateAccount, Grant, Invite, Role, Scope, TestClock};
use axum::http::StatusCode;
use support::{ADMIN_PASSWORD, Client, Page, World, console_app, secret};

const GOOD: &str = "copper lantern evening tide";

async fn signed_in(w: &World, email: &str, password: &str, language: &'static str) -> Client {
    let mut c = Client::new(console_app(w.admit.clone()));
    c.language = language;
    let form = c.get("/sign-in").await;
    let done = c.post("/sign-in", &[("csrf", &form.csrf()), ("email", email), ("password", password)]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location(), "/console/accounts");
    c
}

async fn member(w: &World, email: &str, name: &str, invite: Invite) -> admit::core::AccountId {
    let row = CreateAccount::member(email, name, Grant::new(Scope::Platform, Role::Collaborator)).locale("fr");
    w.admit.create_account(w.admin, row, invite).await.unwrap().id
}

fn count(page: &Page, status: &str) -> u64 {
    let marker = format!("data-status=\"{status}\">");
    let start = page.body.find(&marker).unwrap_or_else(|| panic!("no count for {status}")) + marker.len();
    page.body[start..].split('<').next().unwrap().parse().unwrap()
}

async fn status_of(w: &World, id: admit::core::AccountId) -> AccountStatus {
    w.admit.account_view(w.admin, id).await.unwrap().status
}

#[tokio::test]
async fn a_visitor_without_a_session_is_sent_to_sign_in() {
    let w = World::new().await;
    let mut c = Client::new(console_app(w.admit.clone()));
    for path in ["/console/accounts", &format!("/console/accounts/{}", w.admin)] {
        let page = c.get(path).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(page.location(), "/sign-in");
        assert_eq!(page.headers.get("x-frame-options").unwrap(), "DENY");
    }
}

#[tokio::test]
async fn the_list_shows_statuses_counts_filters_and_pages() {
    let clock = TestClock::default_start();
    let w = World::with(|b| b.clock(clock.clone())).await;
    let expired = member(&w, "old@example.org", "Olga Ancienne", Invite::Now).await;
    clock.advance(time::Duration::days(30));
    member(&w, "ada@example.org", "Ada Lovelace", Invite::Now).await;
    member(&w, "bob@example.org", "Bob Martin", Invite::Later).await;
    w.admit
        .create_account(w.admin, CreateAccount::public("cand@example.org", "Camille Candidate"), Invite::Later)
        .await
        .unwrap();
    assert_eq!(status_of(&w, expired).await, AccountStatus::InvitationExpired);

    let mut c = signed_in(&w, "root.admin@example.org", ADMIN_PASSWORD, "fr").await;
    let list = c.get("/console/accounts").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    let body = &list.body;
    assert!(body.contains("<html lang=\"fr\">") && body.contains("<h1>Comptes</h1>"));
    for text in ["Olga Ancienne", "Ada Lovelace", "Bob Martin", "Camille Candidate", "Root Admin", "Invitation expirée"]
    {
        assert!(body.contains(text), "{text} missing");
    }
    assert!(body.contains("Plateforme : Collaborateur") && body.contains("Plateforme : Administrateur"));
    assert_eq!(
        (count(&list, "created"), count(&list, "invited"), count(&list, "invitation_expired"), count(&list, "active")),
        (2, 1, 1, 1)
    );
    assert!(!body.contains("<script"), "no JavaScript");

    // Filters: status, kind, text (they combine; the counts follow kind and text).
    let created = c.get("/console/accounts?status=created").await.body;
    assert!(
        created.contains("Bob Martin") && created.contains("Camille Candidate") && !created.contains("Ada Lovelace")
    );
    let public = c.get("/console/accounts?kind=public").await;
    assert!(public.body.contains("Camille Candidate") && !public.body.contains("Bob Martin"));
    assert_eq!(count(&public, "created"), 1);
    let text = c.get("/console/accounts?q=LOVE").await.body;
    assert!(text.contains("Ada Lovelace") && !text.contains("Bob Martin"));
    let none = c.get("/console/accounts?q=nobody-here").await.body;
    assert!(none.contains("Aucun compte ne correspond à ces filtres."));

    // Keyset paging: 60 more accounts, 50 a page, the next link carries `after`.
    let rows: Vec<_> = (0..60)
        .map(|i| {
            CreateAccount::member(
                &format!("p{i:02}@example.org"),
                &format!("Person {i:02}"),
                Grant::new(Scope::Platform, Role::Guest),
            )
        })
        .collect();
    w.admit.create_accounts(w.admin, rows, Invite::Later).await.unwrap();
    let first = c.get("/console/accounts").await;
    assert_eq!(first.body.matches("<tr><td>").count(), 50);
    let next = first.body.split("rel=\"next\"").next().unwrap().rsplit("href=\"").next().unwrap().to_owned();
    let next = next.trim_end_matches(['"', ' ']).to_owned();
    assert!(next.contains("after="), "{next}");
    let second = c.get(&next).await;
    assert_eq!(second.body.matches("<tr><td>").count(), 15);
    assert!(second.body.contains("Person 59") && !second.body.contains("Person 00"));
    assert!(!second.body.contains("rel=\"next\"") && second.body.contains("Première page"));
}

/// Opens the confirmation of `action` on `account`, checks its words, confirms it and
/// returns the account page the redirect leads to.
async fn confirm(
    c: &mut Client,
    account: admit::core::AccountId,
    action: &str,
    question: &str,
    button: &str,
    fields: &[(&str, &str)],
) -> Page {
    let path = format!("/console/accounts/{account}");
    let page = c.get(&path).await;
    assert!(page.body.contains(&format!("href=\"{path}/{action}\"")), "no {action} button:\n{}", page.body);
    let step = c.get(&format!("{path}/{action}")).await;
    assert_eq!(step.status, StatusCode::OK);
    assert!(step.body.contains(question), "{action}: {}", step.body);
    assert!(step.body.contains(button), "{action}: {}", step.body);
    let mut form = vec![("csrf", step.csrf())];
    form.extend(fields.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let done = c.post(&format!("{path}/{action}"), &form).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{action}: {}", done.body);
    assert_eq!(done.location(), path);
    c.get(&path).await
}

#[tokio::test]
async fn every_action_is_confirmed_then_redirected_with_its_message_once() {
    let w = World::new().await;
    let invited = member(&w, "ada@example.org", "Ada Lovelace", Invite::Now).await;
    let created = member(&w, "bob@example.org", "Bob Martin", Invite::Later).await;
    let mut c = signed_in(&w, "root.admin@example.org", ADMIN_PASSWORD, "fr").await;

    // 01: « Envoyer un mail de réinitialisation » on an invited account.
    let page = confirm(
        &mut c,
        invited,
        "send-reset",
        "Vous êtes sur le point d'envoyer un e-mail de réinitialisation à ce compte. Le destinataire pourra définir un nouveau mot de passe. Souhaitez-vous continuer ?",
        "Oui, renvoyer l'invitation",
        &[],
    )
    .await;
    assert!(
        page.body.contains("<p class=\"flash\" role=\"status\">Invitation envoyée avec succès.</p>"),
        "{}",
        page.body
    );
    assert!(!c.get(&format!("/console/accounts/{invited}")).await.body.contains("class=\"flash\""), "shown once");

    // Re-sending at once is too soon: the refusal shows on the step, from the catalogue.
    let step = c.get(&format!("/console/accounts/{invited}/reinvite")).await;
    let again = c.post(&format!("/console/accounts/{invited}/reinvite"), &[("csrf", &step.csrf())]).await;
    assert_eq!(again.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        again.body.contains("Un e-mail vient déjà d'être envoyé. Veuillez patienter un instant avant de réessayer.")
    );
    assert!(!again.body.contains("RateLimited") && !again.body.contains("retry_at"), "never a Debug string");

    // Not invited yet: no reset button; a forged reset gets the catalogue's answer.
    let bob = c.get(&format!("/console/accounts/{created}")).await;
    assert!(!bob.body.contains("/send-reset\"") && bob.body.contains("/invite\""));
    let step = c.get(&format!("/console/accounts/{created}/send-reset")).await;
    let forged = c.post(&format!("/console/accounts/{created}/send-reset"), &[("csrf", &step.csrf())]).await;
    assert_eq!(forged.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(forged.body.contains("Ce compte n'a pas encore été invité"));

    // Inviter.
    let page =
        confirm(&mut c, created, "invite", "d'invitation à créer un mot de passe", "Oui, envoyer l'invitation", &[])
            .await;
    assert!(page.body.contains("Invitation envoyée avec succès."));
    assert_eq!(status_of(&w, created).await, AccountStatus::Invited);

    // Modifier le mot de passe: "must change" checked by default; a refused password is
    // shown under its field and changes nothing.
    let step = c.get(&format!("/console/accounts/{created}/set-password")).await;
    assert!(step.body.contains(r#"name="must_change" type="checkbox" value="1" checked"#));
    assert!(step.body.contains("Demander à l'utilisateur de changer son mot de passe à sa prochaine connexion"));
    let short = c
        .post(
            &format!("/console/accounts/{created}/set-password"),
            &[("csrf", &step.csrf()), ("password", "short"), ("confirmation", "other"), ("must_change", "1")],
        )
        .await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(short.body.contains("id=\"password-error\"") && short.body.contains("id=\"confirmation-error\""));
    assert_eq!(status_of(&w, created).await, AccountStatus::Invited);
    let page = confirm(
        &mut c,
        created,
        "set-password",
        "Vous êtes sur le point de définir le mot de passe de ce compte.",
        "Oui, enregistrer le mot de passe",
        &[("password", GOOD), ("confirmation", GOOD), ("must_change", "1")],
    )
    .await;
    assert!(page.body.contains("Le mot de passe a été mis à jour."));
    assert_eq!(status_of(&w, created).await, AccountStatus::Active);
    assert!(w.admit.account_view(w.admin, created).await.unwrap().account.must_change_password);

    // Mot de passe temporaire, désactiver, réactiver, corbeille, restaurer.
    let page = confirm(
        &mut c,
        created,
        "temporary-password",
        "générer un mot de passe temporaire",
        "Oui, générer le mot de passe",
        &[],
    )
    .await;
    assert!(page.body.contains("Mot de passe temporaire généré avec succès."));
    let page = confirm(
        &mut c,
        created,
        "disable",
        "Vous êtes sur le point de désactiver ce compte.",
        "Souhaitez-vous continuer ?",
        &[],
    )
    .await;
    assert!(page.body.contains("Compte désactivé avec succès.") && page.body.contains("Désactivé"));
    assert!(!page.body.contains("/disable\"") && page.body.contains("/enable\""));
    let page = confirm(
        &mut c,
        created,
        "enable",
        "Vous êtes sur le point de réactiver ce compte.",
        "Souhaitez-vous continuer ?",
        &[],
    )
    .await;
    assert!(page.body.contains("Compte réactivé avec succès."));
    let page =
        confirm(&mut c, created, "trash", "placer ce compte dans la corbeille", "Souhaitez-vous continuer ?", &[])
            .await;
    assert!(page.body.contains("Compte placé dans la corbeille."));
    assert_eq!(status_of(&w, created).await, AccountStatus::Trashed);
    let page = confirm(
        &mut c,
        created,
        "restore",
        "Vous êtes sur le point de restaurer ce compte.",
        "Souhaitez-vous continuer ?",
        &[],
    )
    .await;
    assert!(page.body.contains("Compte restauré avec succès."));
    assert_ne!(status_of(&w, created).await, AccountStatus::Trashed);

    // English, from the same catalogue.
    c.language = "en";
    let step = c.get(&format!("/console/accounts/{invited}/send-reset")).await;
    assert!(step.body.contains("You are about to send a password reset email to this account."));
}

#[tokio::test]
async fn a_post_without_its_form_token_or_from_another_site_changes_nothing() {
    let w = World::new().await;
    let created = member(&w, "bob@example.org", "Bob Martin", Invite::Later).await;
    let mut c = signed_in(&w, "root.admin@example.org", ADMIN_PASSWORD, "en").await;
    let path = format!("/console/accounts/{created}/disable");
    let step = c.get(&path).await;
    assert_eq!(c.post(&path, &[]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(c.post(&path, &[("csrf", "forged")]).await.status, StatusCode::FORBIDDEN);
    let cross = c.post_with(&path, &[("csrf", &step.csrf())], &[("origin", "https://evil.example")]).await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
    assert_eq!(status_of(&w, created).await, AccountStatus::Created);
    // With its token the same POST works.
    assert_eq!(c.post(&path, &[("csrf", &step.csrf())]).await.status, StatusCode::SEE_OTHER);
    assert_eq!(status_of(&w, created).await, AccountStatus::Disabled);
}

#[tokio::test]
async fn a_programme_administrator_sees_no_platform_account_and_a_forged_post_is_refused() {
    let w = World::new().await;
    let programme = Scope::Program(ProgramId::parse("prog-1").unwrap());
    let row =
        CreateAccount::member("pa@example.org", "Paula Programme", Grant::new(programme.clone(), Role::Administrator));
    let pa = w.admit.create_account(w.admin, row, Invite::Now).await.unwrap().id;
    let link = w.link_to("pa@example.org").await;
    let token = link.split("token=").nth(1).unwrap();
    w.admit.accept_invitation(token, secret(GOOD), secret(GOOD), "test").await.unwrap();
    let row =
        CreateAccount::member("colla@example.org", "Colin Collab", Grant::new(programme.clone(), Role::Collaborator));
    let colla = w.admit.create_account(w.admin, row, Invite::Later).await.unwrap().id;
    let platform = member(&w, "staff@example.org", "Sam Staff", Invite::Later).await;
    assert_ne!(pa, colla);

    let mut c = signed_in(&w, "pa@example.org", GOOD, "fr").await;
    let list = c.get("/console/accounts").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert!(list.body.contains("Colin Collab") && list.body.contains("Programme prog-1 : Collaborateur"));
    assert!(!list.body.contains("Sam Staff") && !list.body.contains("Root Admin"), "no platform account");
    assert_eq!(count(&list, "created"), 1);

    // Their collaborator: the actions they may take.
    let page = c.get(&format!("/console/accounts/{colla}")).await;
    assert!(page.body.contains("/invite\""));
    // A platform account: no page, no button, and a forged POST (with a valid form token)
    // is refused by the facade and changes nothing.
    let hidden = c.get(&format!("/console/accounts/{platform}")).await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    assert!(!hidden.body.contains("Sam Staff"));
    let step = c.get(&format!("/console/accounts/{colla}/disable")).await;
    let forged = c.post(&format!("/console/accounts/{platform}/disable"), &[("csrf", &step.csrf())]).await;
    assert_eq!(forged.status, StatusCode::NOT_FOUND);
    assert_eq!(status_of(&w, platform).await, AccountStatus::Created);
    let forged = c.post(&format!("/console/accounts/{}/disable", w.admin), &[("csrf", &step.csrf())]).await;
    assert_eq!(forged.status, StatusCode::NOT_FOUND);
    assert_eq!(status_of(&w, w.admin).await, AccountStatus::Active);
}

#[tokio::test]
async fn the_mail_journal_filters_on_subject_recipient_and_state_and_shows_no_secret() {
    let w = World::new().await;
    let ada = member(&w, "ada@example.org", "Ada Lovelace", Invite::Now).await;
    member(&w, "bob@example.org", "Bob Martin", Invite::Now).await;
    w.admit.send_password_reset(w.admin, ada).await.unwrap();
    w.admit.dispatcher(admit::DispatcherConfig::default()).drain().await.unwrap();
    let mails = w.outbox.take();
    assert_eq!(mails.len(), 3);

    let mut c = signed_in(&w, "root.admin@example.org", ADMIN_PASSWORD, "fr").await;
    let all = c.get("/console/journal").await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    assert!(all.body.contains("<h1>Journal des e-mails</h1>"));
    assert!(all.body.contains("en filtrant sur le sujet « mot de passe »"));
    assert_eq!(all.body.matches("<tr class=\"mail\">").count(), 3);
    // « mot de passe »: only the reset mail.
    let reset = c.get("/console/journal?subject=mot+de+passe").await;
    assert_eq!(reset.body.matches("<tr class=\"mail\">").count(), 1, "{}", reset.body);
    assert!(reset.body.contains("Réinitialisation de votre mot de passe") && reset.body.contains("ada@example.org"));
    assert!(reset.body.contains("Envoyé"));
    let bob = c.get("/console/journal?recipient=bob").await;
    assert_eq!(bob.body.matches("<tr class=\"mail\">").count(), 1);
    assert_eq!(c.get("/console/journal?state=failed").await.body.matches("<tr class=\"mail\">").count(), 0);
    // Never a link or a token.
    assert!(!all.body.contains("token=") && !all.body.contains("adm_"));

    // A programme administrator may not read the whole journal.
    let programme = Scope::Program(ProgramId::parse("prog-1").unwrap());
    let row = CreateAccount::member("pa@example.org", "Paula Programme", Grant::new(programme, Role::Administrator));
    w.admit.create_account(w.admin, row, Invite::Now).await.unwrap();
    let link = w.link_to("pa@example.org").await;
    let token = link.split("token=").nth(1).unwrap();
    w.admit.accept_invitation(token, secret(GOOD), secret(GOOD), "test").await.unwrap();
    let mut pa = signed_in(&w, "pa@example.org", GOOD, "en").await;
    let refused = pa.get("/console/journal").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(!refused.body.contains("ada@example.org"));
}
