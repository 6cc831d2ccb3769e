//! Every route and every error of the pages, through `tower::ServiceExt::oneshot` on the
//! documented host app (examples/host.rs): headers, CSRF, 429, uniform answers, sessions.

mod support;

use admit::StatusChange;
use admit_axum::{CONTENT_SECURITY_POLICY, Page as PageKind, PageTemplates, Pages};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use support::{BASE, Client, Page, World, app, hidden, secret};

const GOOD: &str = "copper lantern evening tide";

fn assert_secure(page: &Page, what: &str) {
    let h = &page.headers;
    assert_eq!(h.get("content-security-policy").map(|v| v.to_str().unwrap()), Some(CONTENT_SECURITY_POLICY), "{what}");
    assert_eq!(h.get("referrer-policy").unwrap(), "no-referrer", "{what}");
    assert_eq!(h.get("cache-control").unwrap(), "no-store", "{what}");
    assert_eq!(h.get("x-content-type-options").unwrap(), "nosniff", "{what}");
    assert_eq!(h.get("x-frame-options").unwrap(), "DENY", "{what}");
}

#[tokio::test]
async fn every_page_and_every_refusal_carries_the_security_headers() {
    let w = World::new().await;
    let link = w.invite("ada@example.org", "Ada Lovelace", "en").await;
    let mut c = Client::new(app(w.admit.clone()));
    let mut pages = vec![
        ("landing", c.get(&link).await),
        ("invalid link", c.get("/accept-invitation?token=adm_nope").await),
        ("no token", c.get("/reset-password").await),
        ("forgot", c.get("/forgot-password").await),
        ("sign-in", c.get("/sign-in").await),
        ("stylesheet", c.get("/admit.css").await),
        ("change without session", c.get("/change-password").await),
    ];
    pages.push(("cross-site post", c.post_with("/sign-in", &[], &[("origin", "https://evil.example")]).await));
    pages.push(("missing csrf", c.post("/forgot-password", &[("email", "a@example.org")]).await));
    for (what, page) in &pages {
        assert_secure(page, what);
    }
    assert_eq!(pages[0].1.status, StatusCode::OK);
    assert_eq!(pages[5].1.headers.get("content-type").unwrap(), "text/css; charset=utf-8");
    assert_eq!(pages[6].1.status, StatusCode::SEE_OTHER);
    assert_eq!(pages[7].1.status, StatusCode::FORBIDDEN);
    assert_eq!(pages[8].1.status, StatusCode::FORBIDDEN);
    // No inline script or style anywhere: the CSP would block it.
    for (what, page) in &pages {
        assert!(!page.body.contains("<script") && !page.body.contains("style="), "{what}");
    }
}

#[tokio::test]
async fn landing_never_consumes_and_the_form_activates_and_signs_in() {
    let w = World::new().await;
    let link = w.invite("ada@example.org", "Ada Lovelace", "en").await;
    assert!(link.starts_with("/accept-invitation?token=adm_"), "{link}");
    let mut c = Client::new(app(w.admit.clone()));
    // A scanner prefetching the link any number of times burns nothing.
    let mut scanner = Client::new(app(w.admit.clone()));
    for _ in 0..25 {
        assert_eq!(scanner.get(&link).await.status, StatusCode::OK);
    }
    let page = c.get(&link).await;
    assert_eq!(page.status, StatusCode::OK);
    let body = &page.body;
    assert!(body.contains("<html lang=\"en\">"));
    assert!(body.contains("Hello Ada Lovelace"));
    assert!(body.contains(r#"autocomplete="username" value="ada@example.org" readonly"#));
    assert_eq!(body.matches(r#"autocomplete="new-password""#).count(), 2);
    assert!(body.contains("At least 15 characters"));
    assert!(body.contains(r#"<label for="password">"#) && body.contains(r#"<label for="confirmation">"#));
    assert!(body.contains(r#"aria-describedby="password-hint""#));
    assert!(!body.contains("onpaste") && !body.contains("autocomplete=\"off\""), "pasting must stay allowed");

    let token = hidden(body, "token").unwrap();
    let done =
        c.post(&link, &[("csrf", &page.csrf()), ("token", &token), ("password", GOOD), ("confirmation", GOOD)]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location(), "/");
    let home = c.follow(done).await;
    assert_eq!(home.body, "Signed in as Ada Lovelace");
    assert!(w.admit.sign_in("ada@example.org", secret(GOOD), "192.0.2.99").await.is_ok());

    // The same link again: the one invalid page, with the way to ask for a new one.
    let again = c.get(&link).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert!(again.body.contains("This link is invalid or has expired"));
    assert!(again.body.contains(r#"href="/forgot-password""#));
}

#[tokio::test]
async fn every_invalid_link_shows_the_same_page() {
    let w = World::new().await;
    let used = w.invite("used@example.org", "Used Person", "en").await;
    let token = used.split("token=").nth(1).unwrap();
    w.admit.accept_invitation(token, secret(GOOD), secret(GOOD), "t").await.unwrap();
    let revoked = w.invite("revoked@example.org", "Revoked Person", "en").await;
    let id = w.admit.store().account_by_email(admit::Email::parse("revoked@example.org").unwrap().key()).await;
    let id = id.unwrap().unwrap().id;
    w.admit.reinvite(w.admin, id).await.unwrap();
    let fresh = w.link_to("revoked@example.org").await;
    assert_ne!(fresh, revoked);
    let wrong_purpose = fresh.replace("/accept-invitation", "/reset-password");
    let tampered = format!("{}x", &fresh[..fresh.len() - 1]);

    let mut c = Client::new(app(w.admit.clone()));
    let reference = c.get("/accept-invitation?token=adm_unknown").await;
    assert_eq!(reference.status, StatusCode::NOT_FOUND);
    for link in [used.as_str(), revoked.as_str(), wrong_purpose.as_str(), tampered.as_str(), "/accept-invitation"] {
        let page = c.get(link).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{link}");
        assert_eq!(page.body, reference.body, "{link}");
    }
    assert_eq!(c.get(&fresh).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_refused_password_shows_every_reason_and_keeps_the_link() {
    let w = World::new().await;
    let link = w.invite("jeanne.martin@example.org", "Jeanne Martin", "en").await;
    let mut c = Client::new(app(w.admit.clone()));
    let page = c.get(&link).await;
    let token = hidden(&page.body, "token").unwrap();
    let refused = c
        .post(&link, &[("csrf", &page.csrf()), ("token", &token), ("password", "jeanne"), ("confirmation", "jeanne!")])
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let body = &refused.body;
    for reason in [
        "The password and its confirmation do not match.",
        "The password must have at least 15 characters.",
        "The password must not contain your name or your email address.",
    ] {
        assert!(body.contains(reason), "{reason} missing from {body}");
    }
    assert!(body.contains(r#"aria-describedby="password-hint password-error""#));
    assert!(body.contains(r#"id="confirmation-error""#) && body.contains(r#"aria-invalid="true""#));
    assert!(body.contains(r#"role="alert""#), "errors are summarised at the top");
    assert!(body.contains("<title>Error: Create your password"), "and announced in the title");
    assert!(
        !body.contains("value=\"jeanne\"") && !body.contains("value=\"jeanne!\""),
        "a refused password is never echoed"
    );
    // The link still works.
    assert_eq!(c.get(&link).await.status, StatusCode::OK);
    let common = c
        .post(
            &link,
            &[
                ("csrf", &page.csrf()),
                ("token", &token),
                ("password", "password1234"),
                ("confirmation", "password1234"),
            ],
        )
        .await;
    assert!(common.body.contains("This password is too common"));
    let ok =
        c.post(&link, &[("csrf", &page.csrf()), ("token", &token), ("password", GOOD), ("confirmation", GOOD)]).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn cross_site_and_tokenless_posts_are_refused_and_change_nothing() {
    let w = World::new().await;
    let link = w.invite("ada@example.org", "Ada Lovelace", "en").await;
    let mut c = Client::new(app(w.admit.clone()));
    let page = c.get(&link).await;
    let token = hidden(&page.body, "token").unwrap();
    let csrf = page.csrf();
    let fields = [("csrf", csrf.as_str()), ("token", &token), ("password", GOOD), ("confirmation", GOOD)];
    for headers in [
        vec![("origin", "https://evil.example"), ("sec-fetch-site", "cross-site")],
        vec![("origin", "https://evil.example")],
        vec![("sec-fetch-site", "cross-site")],
        vec![("sec-fetch-site", "same-site")],
        vec![("origin", "null"), ("sec-fetch-site", "cross-site")],
        vec![("origin", "http://localhost:3001")],
    ] {
        let refused = c.post_with(&link, &fields, &headers).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{headers:?}");
        assert!(refused.body.contains("This form has expired"));
    }
    // A forged or missing form token, or a browser without the cookie.
    let forged = [("csrf", "AAAA"), ("token", &token), ("password", GOOD), ("confirmation", GOOD)];
    assert_eq!(c.post(&link, &forged).await.status, StatusCode::FORBIDDEN);
    let mut stranger = Client::new(app(w.admit.clone()));
    assert_eq!(stranger.post(&link, &fields).await.status, StatusCode::FORBIDDEN);
    // Nothing was consumed.
    assert_eq!(c.get(&link).await.status, StatusCode::OK);
    assert!(w.admit.sign_in("ada@example.org", secret(GOOD), "192.0.2.99").await.is_err());
    // `Origin: null` from our own no-referrer page is what Chromium sends: the form token
    // and `Sec-Fetch-Site` decide.
    let mut second = Client::new(app(w.admit.clone()));
    let other = w.invite("grace@example.org", "Grace Hopper", "en").await;
    let page = second.get(&other).await;
    let grace = [
        ("csrf", page.csrf()),
        ("token", hidden(&page.body, "token").unwrap()),
        ("password", GOOD.to_owned()),
        ("confirmation", GOOD.to_owned()),
    ];
    let grace: Vec<(&str, &str)> = grace.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let null = second.post_with(&other, &grace, &[("origin", "null"), ("sec-fetch-site", "same-origin")]).await;
    assert_eq!(null.status, StatusCode::SEE_OTHER);
    // Without Origin and Sec-Fetch-Site (an older browser), the form token alone suffices.
    assert_eq!(c.post_with(&link, &fields, &[]).await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn forgot_password_answers_the_same_for_known_and_unknown_addresses() {
    let w = World::new().await;
    w.active("known@example.org", "Known Person", GOOD).await;
    let mut answers = Vec::new();
    for email in ["known@example.org", "nobody@example.org"] {
        let mut c = Client::new(app(w.admit.clone()));
        let form = c.get("/forgot-password").await;
        assert!(form.body.contains("Didn't get the email?"));
        assert!(form.body.contains("Check your spam or junk mail folder."));
        let posted = c.post("/forgot-password", &[("csrf", &form.csrf()), ("email", email)]).await;
        let cookies: Vec<String> = posted
            .headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().split('=').next().unwrap().to_owned())
            .collect();
        let sent = c.follow(posted.clone_head()).await;
        // The flash is shown once: a refresh shows the form again.
        let refreshed = c.get("/forgot-password").await;
        answers.push((
            posted.status,
            posted.location().to_owned(),
            cookies,
            sent.status,
            sent.body,
            refreshed.body.contains("<form"),
        ));
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0].0, StatusCode::SEE_OTHER);
    assert!(answers[0].4.contains("If an account exists for this address"));
    assert!(answers[0].5);
    // Only the known address got a mail.
    w.admit.dispatcher(admit::DispatcherConfig::default()).drain().await.unwrap();
    let sent: Vec<String> = w.outbox.take().iter().map(|m| m.to().address.to_string()).collect();
    assert_eq!(sent, vec!["known@example.org".to_owned()]);

    // A malformed address gets its error next to the field (it reveals nothing).
    let mut c = Client::new(app(w.admit.clone()));
    let form = c.get("/forgot-password").await;
    let bad = c.post("/forgot-password", &[("csrf", &form.csrf()), ("email", "not an address")]).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains(r#"aria-describedby="forgot-intro email-error""#));
}

trait CloneHead {
    fn clone_head(&self) -> Page;
}

impl CloneHead for Page {
    fn clone_head(&self) -> Page {
        Page { status: self.status, headers: self.headers.clone(), body: self.body.clone() }
    }
}

#[tokio::test]
async fn sign_in_failures_and_their_rate_limit_answer_429_with_retry_after() {
    let w = World::new().await;
    w.active("ada@example.org", "Ada Lovelace", GOOD).await;
    let mut c = Client::new(app(w.admit.clone()));
    let form = c.get("/sign-in").await;
    assert!(form.body.contains(r#"autocomplete="current-password""#));
    assert!(form.body.contains(r#"autocomplete="username""#));
    let csrf = form.csrf();
    let wrong =
        c.post("/sign-in", &[("csrf", &csrf), ("email", "ada@example.org"), ("password", "not it at all")]).await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.body.contains("Invalid email address or password."));
    assert!(wrong.body.contains(r#"value="ada@example.org""#), "the address is kept");
    let unknown =
        c.post("/sign-in", &[("csrf", &csrf), ("email", "nobody@example.org"), ("password", "not it at all")]).await;
    assert_eq!(unknown.status, wrong.status);
    assert_eq!(unknown.body.replace("nobody@example.org", "ada@example.org"), wrong.body);
    let mut last = None;
    for _ in 0..12 {
        let page =
            c.post("/sign-in", &[("csrf", &csrf), ("email", "ada@example.org"), ("password", "wrong again")]).await;
        last = Some(page);
    }
    let limited = last.unwrap();
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.headers.get("retry-after").unwrap(), "900");
    assert_secure(&limited, "429");
    assert!(limited.body.contains("Too many attempts"));
}

#[tokio::test]
async fn failed_links_are_rate_limited_per_requester_with_retry_after() {
    let w = World::new().await;
    let link = w.invite("ada@example.org", "Ada Lovelace", "en").await;
    let mut attacker = Client::new(app(w.admit.clone()));
    let mut statuses = Vec::new();
    // Well-formed tokens that match nothing (a malformed one costs no store call and is
    // refused before counting). The last base64url character of a 32-byte token carries
    // two zero padding bits: 'A' and 'E' are both canonical.
    let wrong = format!("{}{}", &link[..link.len() - 1], if link.ends_with('A') { 'E' } else { 'A' });
    for _ in 0..22 {
        statuses.push(attacker.get(&wrong).await.status);
    }
    let limited = attacker.get(&wrong).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS, "{statuses:?}");
    assert_eq!(limited.headers.get("retry-after").unwrap(), "900");
    // A valid link still opens for that requester: a proxy's shared address full of bogus
    // tokens blocks no link.
    assert_eq!(attacker.get(&link).await.status, StatusCode::OK);
    // Another requester is not affected.
    let mut person = Client::new(app(w.admit.clone()));
    person.peer = "198.51.100.20:40000".parse().unwrap();
    assert_eq!(person.get(&link).await.status, StatusCode::OK);
}

#[tokio::test]
async fn bodies_are_bounded_and_garbage_is_refused() {
    let w = World::new().await;
    let mut c = Client::new(app(w.admit.clone()));
    let form = c.get("/forgot-password").await;
    let huge = "a".repeat(Pages::BODY_LIMIT + 1);
    let page = c.post("/forgot-password", &[("csrf", &form.csrf()), ("email", &huge)]).await;
    assert_eq!(page.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_secure(&page, "413");
    let request = Request::post("/forgot-password")
        .header("content-type", "application/json")
        .header("origin", BASE)
        .body(Body::from("{}"))
        .unwrap();
    assert_eq!(c.send(request).await.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn without_a_requester_key_the_pages_refuse_loudly() {
    let w = World::new().await;
    let app = app(w.admit.clone());
    let request = Request::get("/forgot-password").body(Body::empty()).unwrap();
    let response = tower::ServiceExt::oneshot(app, request).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn a_must_change_password_goes_to_the_change_page_and_the_session_survives_the_change() {
    let w = World::new().await;
    let id = w.active("ada@example.org", "Ada Lovelace", GOOD).await;
    let temporary = "temporary password 77";
    w.admit.set_password(w.admin, id, secret(temporary), secret(temporary), true).await.unwrap();
    let mut c = Client::new(app(w.admit.clone()));
    let form = c.get("/sign-in").await;
    let signed =
        c.post("/sign-in", &[("csrf", &form.csrf()), ("email", "ada@example.org"), ("password", temporary)]).await;
    assert_eq!(signed.location(), "/change-password");
    // The host's page sends them back too (the flag reaches the host).
    assert_eq!(c.get("/").await.location(), "/change-password");
    let page = c.get("/change-password").await;
    assert!(page.body.contains("Change your password"));
    assert!(page.body.contains(r#"autocomplete="current-password""#));
    let csrf = page.csrf();
    let wrong = c
        .post("/change-password", &[("csrf", &csrf), ("current", "nope"), ("password", GOOD), ("confirmation", GOOD)])
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.body.contains("The current password is incorrect."));
    let short = c
        .post(
            "/change-password",
            &[("csrf", &csrf), ("current", temporary), ("password", "short"), ("confirmation", "short")],
        )
        .await;
    assert!(short.body.contains("at least 15 characters"));
    let new = "granite harbour at dusk";
    let done = c
        .post("/change-password", &[("csrf", &csrf), ("current", temporary), ("password", new), ("confirmation", new)])
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location(), "/");
    assert_eq!(c.get("/").await.body, "Signed in as Ada Lovelace");
    // Sign out (a POST with its token) ends it, with a one-time message.
    let out = c.post("/sign-out", &[("csrf", &csrf)]).await;
    let page = c.follow(out).await;
    assert!(page.body.contains("You have been signed out."));
    assert_eq!(c.get("/").await.location(), "/sign-in");
}

#[tokio::test]
async fn sessions_end_when_the_password_changes_or_the_account_is_disabled() {
    let w = World::new().await;
    let id = w.active("ada@example.org", "Ada Lovelace", GOOD).await;
    let app = app(w.admit.clone());
    let sign_in = |mut c: Client| async move {
        let form = c.get("/sign-in").await;
        let page =
            c.post("/sign-in", &[("csrf", &form.csrf()), ("email", "ada@example.org"), ("password", GOOD)]).await;
        assert_eq!(page.location(), "/");
        c
    };
    let mut laptop = sign_in(Client::new(app.clone())).await;
    let mut phone = sign_in(Client::new(app.clone())).await;
    assert_eq!(laptop.get("/").await.body, "Signed in as Ada Lovelace");
    // An administrator sets the password: every session of the person ends.
    w.admit.set_password(w.admin, id, secret(GOOD), secret(GOOD), false).await.unwrap();
    assert_eq!(laptop.get("/").await.location(), "/sign-in");
    assert_eq!(phone.get("/").await.location(), "/sign-in");
    // Signed in again, then disabled: gone as well.
    let mut laptop = sign_in(Client::new(app.clone())).await;
    assert_eq!(laptop.get("/").await.status, StatusCode::OK);
    w.admit.change_status(w.admin, id, StatusChange::Disable).await.unwrap();
    assert_eq!(laptop.get("/").await.location(), "/sign-in");
}

#[tokio::test]
async fn reset_link_completes_signs_in_and_ends_older_sessions() {
    let w = World::new().await;
    w.active("ada@example.org", "Ada Lovelace", GOOD).await;
    let app = app(w.admit.clone());
    let mut old = Client::new(app.clone());
    let form = old.get("/sign-in").await;
    old.post("/sign-in", &[("csrf", &form.csrf()), ("email", "ada@example.org"), ("password", GOOD)]).await;
    assert_eq!(old.get("/").await.status, StatusCode::OK);

    let mut c = Client::new(app.clone());
    let form = c.get("/forgot-password").await;
    c.post("/forgot-password", &[("csrf", &form.csrf()), ("email", "ada@example.org")]).await;
    let link = w.link_to("ada@example.org").await;
    assert!(link.starts_with("/reset-password?token="));
    let page = c.get(&link).await;
    assert!(page.body.contains("Choose a new password"));
    let new = "granite harbour at dusk";
    let token = hidden(&page.body, "token").unwrap();
    let done =
        c.post(&link, &[("csrf", &page.csrf()), ("token", &token), ("password", new), ("confirmation", new)]).await;
    assert_eq!(done.location(), "/");
    assert_eq!(c.get("/").await.body, "Signed in as Ada Lovelace");
    assert_eq!(old.get("/").await.location(), "/sign-in", "the old session is gone");
}

#[tokio::test]
async fn pages_speak_the_persons_language_then_the_browsers() {
    let w = World::new().await;
    let link = w.invite("jeanne@example.org", "Jeanne Martin", "fr").await;
    let mut c = Client::new(app(w.admit.clone()));
    let page = c.get(&link).await;
    assert!(page.body.contains(r#"<html lang="fr">"#));
    assert!(page.body.contains("Créez votre mot de passe"));
    assert!(page.body.contains("Bonjour Jeanne Martin"));
    let token = hidden(&page.body, "token").unwrap();
    let refused = c
        .post(&link, &[("csrf", &page.csrf()), ("token", &token), ("password", "court"), ("confirmation", "court")])
        .await;
    assert!(refused.body.contains("Le mot de passe doit contenir au moins 15 caractères."));
    c.language = "fr-CA,fr;q=0.9,en;q=0.5";
    let forgot = c.get("/forgot-password").await;
    assert!(forgot.body.contains("Vous n'avez pas reçu l'e-mail ?"));
    c.language = "de-DE,de;q=0.9";
    assert!(c.get("/forgot-password").await.body.contains(r#"<html lang="en">"#));
}

#[tokio::test]
async fn the_link_paths_and_prefix_come_from_the_configuration() {
    let w = World::with(|b| b.link_base("http://localhost:3000/portal").link_paths("/welcome", "/new-password")).await;
    let link = w.invite("ada@example.org", "Ada Lovelace", "en").await;
    assert!(link.starts_with("/portal/welcome?token="), "{link}");
    let pages = Pages::new(w.admit.clone()).router();
    let mut c = Client::new(pages);
    let page = c.get(&link).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(r#"action="/portal/welcome""#));
    assert!(page.body.contains(r#"href="/portal/admit.css""#));
    assert_eq!(c.get(&link.replace("/portal/welcome", "/accept-invitation")).await.status, StatusCode::NOT_FOUND);
    assert!(c.jar.contains_key("admit_csrf"));
    assert!(page.headers.get("set-cookie").unwrap().to_str().unwrap().contains("Path=/portal"));
    // Invalid paths are refused when admit is built.
    let bad = admit::Admit::builder()
        .store(admit::MemoryStore::new())
        .transport(admit::CaptureTransport::new())
        .link_base(BASE)
        .link_paths("/same", "/same")
        .build();
    assert!(matches!(bad, Err(admit::ConfigError::InvalidLinkPath)));
    assert!(matches!(
        admit::Admit::builder()
            .store(admit::MemoryStore::new())
            .transport(admit::CaptureTransport::new())
            .link_base(BASE)
            .link_paths("no-slash", "/x")
            .build(),
        Err(admit::ConfigError::InvalidLinkPath)
    ));
}

#[tokio::test]
async fn templates_are_overridable_per_locale_and_checked_when_loaded() {
    let fr = admit::core::Locale::parse("fr").unwrap();
    let broken = PageTemplates::builder()
        .override_template(
            Some(fr.clone()),
            PageKind::SignIn,
            "{% extends layout %}{% block main %}{{ t.no_such_string }}{% endblock %}",
        )
        .build();
    assert!(broken.is_err(), "an unknown string fails at load");
    let syntax = PageTemplates::builder().override_template(None, PageKind::Message, "{% if %}").build();
    assert!(syntax.is_err());
    let templates = PageTemplates::builder()
        .product_name("Portail Famille")
        .string(fr.clone(), "sign_in_title", "Connexion au portail")
        .build()
        .unwrap();
    let w = World::new().await;
    let mut c = Client::new(Pages::new(w.admit.clone()).templates(templates).router());
    c.language = "fr";
    let page = c.get("/sign-in").await;
    assert!(page.body.contains("<h1>Connexion au portail</h1>"));
    assert!(page.body.contains("Portail Famille"));
}

#[tokio::test]
async fn the_requester_key_can_come_from_the_hosts_extractor() {
    let w = World::new().await;
    let link = w.invite("ada@example.org", "Ada Lovelace", "en").await;
    let key = admit_axum::RequesterKey::custom(|parts| {
        parts.headers.get("x-client-id").and_then(|v| v.to_str().ok()).map(str::to_owned)
    });
    let pages = Pages::new(w.admit.clone()).requester_key(key).router();
    let wrong = format!("{}{}", &link[..link.len() - 1], if link.ends_with('A') { 'E' } else { 'A' });
    let request =
        |path: &str, client: &str| Request::get(path).header("x-client-id", client).body(Body::empty()).unwrap();
    // Every request comes from the same peer (no ConnectInfo at all): only the host's key tells them apart.
    let mut c = Client::new(pages);
    for _ in 0..21 {
        c.send(request(&wrong, "abuser")).await;
    }
    assert_eq!(c.send(request(&wrong, "abuser")).await.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(c.send(request(&wrong, "someone-else")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(c.send(request(&link, "someone-else")).await.status, StatusCode::OK);
    // No key from the extractor: refused, as a missing peer is.
    let anonymous = Request::get(link.as_str()).body(Body::empty()).unwrap();
    assert_eq!(c.send(anonymous).await.status, StatusCode::SERVICE_UNAVAILABLE);
}
