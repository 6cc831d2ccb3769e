//! The journeys of a person, end to end, in headless Chromium through WebDriver: the
//! documented host apps (examples/host.rs, and examples/console_host.rs for the
//! administrators' console) on SQLite (a temporary file) with `FileTransport`,
//! links read from the written `.eml` files.
//!
//! Needs `chromium` and `chromedriver` (Debian: `chromium`, `chromium-driver`). Without them
//! the test prints "browser tests SKIPPED" and passes, unless `ADMIT_REQUIRE_BROWSER=1`
//! (set by `.ci/run`), which makes it fail. Screenshots go to `target/screenshots/`.

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use admit::core::password::Argon2Params;
use admit::{Admit, CreateAccount, DispatcherConfig, FileTransport, Grant, Invite, Role, Scope, SqliteStore};
use fantoccini::{Client, ClientBuilder, Locator};
use support::{ADMIN_PASSWORD, app, console_app, secret};

const GOOD: &str = "copper lantern evening tide";
const NEWER: &str = "granite harbour at dusk";

struct Host {
    admit: Admit,
    base: String,
    mail: PathBuf,
    admin: admit::core::AccountId,
    _dir: tempfile::TempDir,
}

impl Host {
    async fn start() -> Host {
        Host::start_with(app).await
    }

    async fn start_with(app: fn(Admit) -> axum::Router) -> Host {
        let dir = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let mail = dir.path().join("mail");
        let store = SqliteStore::open(dir.path().join("admit.db")).await.unwrap();
        let admit = Admit::builder()
            .store(store)
            .transport(FileTransport::new(&mail))
            .argon2_params(Argon2Params::dangerous_fast_for_tests())
            .link_base(&base)
            .build()
            .unwrap();
        let admin = admit
            .bootstrap_administrator("root.admin@example.org", "Root Admin", secret(ADMIN_PASSWORD))
            .await
            .unwrap()
            .id;
        let service = app(admit.clone()).into_make_service_with_connect_info::<SocketAddr>();
        tokio::spawn(async move { axum::serve(listener, service).await.unwrap() });
        Host { admit, base, mail, admin, _dir: dir }
    }

    async fn invite(&self, email: &str, name: &str, locale: &str) {
        let row = CreateAccount::member(email, name, Grant::new(Scope::Platform, Role::Guest)).locale(locale);
        self.admit.create_account(self.admin, row, Invite::Now).await.unwrap();
    }

    /// Runs the dispatcher, then reads the newest `.eml` written for `email` and returns its link.
    async fn link_from_eml(&self, email: &str) -> String {
        self.admit.dispatcher(DispatcherConfig::default()).drain().await.unwrap();
        let mut newest: Option<(std::time::SystemTime, String)> = None;
        for entry in std::fs::read_dir(&self.mail).unwrap() {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            let message = mail_parser::MessageParser::default().parse(&bytes[..]).unwrap();
            let to = message.to().and_then(|a| a.first()).and_then(|a| a.address()).unwrap_or("").to_owned();
            if to != email {
                continue;
            }
            let text = message.body_text(0).unwrap().into_owned();
            let Some(start) = text.find(&self.base) else { continue };
            let link = text[start..].split_whitespace().next().unwrap().to_owned();
            let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
            if newest.as_ref().is_none_or(|(at, _)| modified >= *at) {
                newest = Some((modified, link));
            }
        }
        newest.unwrap_or_else(|| panic!("no .eml with a link for {email}")).1
    }
}

/// chromedriver on a free port, killed when dropped.
struct Driver {
    url: String,
    _child: tokio::process::Child,
}

async fn start_driver() -> Result<Driver, String> {
    let port = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?.local_addr().unwrap().port();
    let child = tokio::process::Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("chromedriver could not start: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(15);
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        if Instant::now() > deadline {
            return Err("chromedriver did not listen within 15 s".to_owned());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(Driver { url: format!("http://127.0.0.1:{port}"), _child: child })
}

async fn browser(driver: &Driver, language: &str) -> Result<Client, String> {
    let mut options = serde_json::json!({
        "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=820,1240", "--hide-scrollbars", "--force-device-scale-factor=1"],
        "prefs": { "intl.accept_languages": language },
    });
    if Path::new("/usr/bin/chromium").exists() {
        options["binary"] = "/usr/bin/chromium".into();
    }
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("browserName".to_owned(), "chrome".into());
    capabilities.insert("goog:chromeOptions".to_owned(), options);
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .map_err(|e| format!("Chromium could not start through chromedriver: {e}"))
}

fn screenshots_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    std::fs::write(screenshots_dir().join(format!("{name}.png")), png).unwrap();
}

async fn heading(c: &Client) -> String {
    c.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css("h1, body")).await.unwrap();
    // A redirect landing meanwhile replaces the heading: read it again.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match c.find(Locator::Css("h1")).await {
            Ok(h1) => match h1.text().await {
                Ok(text) => return text,
                Err(error) if Instant::now() > deadline => panic!("no heading text: {error}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(25)).await,
            },
            Err(_) => return String::new(),
        }
    }
}

/// The page's text; waits through a navigation in progress (the body may be missing or
/// replaced while a redirect lands).
async fn body(c: &Client) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match c.find(Locator::Css("body")).await {
            Ok(body) => match body.text().await {
                Ok(text) => return text,
                Err(error) if Instant::now() > deadline => panic!("no page text: {error}"),
                Err(_) => {}
            },
            Err(error) if Instant::now() > deadline => panic!("no page body: {error}"),
            Err(_) => {}
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn fill(c: &Client, id: &str, text: &str) {
    let field = c.find(Locator::Id(id)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

async fn submit(c: &Client) {
    c.find(Locator::Css("form button[type=submit]")).await.unwrap().click().await.unwrap();
}

/// Waits until the browser is at `path` (after a form's redirects).
async fn wait_path(c: &Client, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let url = c.current_url().await.unwrap();
        if url.path() == path {
            return;
        }
        if Instant::now() > deadline {
            panic!("still at {url} instead of {path}, showing: {}", body(c).await);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Invited, opens the link from the .eml, sets a password, is signed in; the link again
/// shows the invalid page.
async fn invitation_journey(host: &Host, c: &Client) {
    host.invite("ada@example.org", "Ada Lovelace", "en").await;
    let link = host.link_from_eml("ada@example.org").await;
    c.goto(&link).await.unwrap();
    assert_eq!(heading(c).await, "Create your password");
    let username = c.find(Locator::Id("username")).await.unwrap();
    assert_eq!(username.prop("value").await.unwrap().as_deref(), Some("ada@example.org"));
    assert_eq!(username.attr("autocomplete").await.unwrap().as_deref(), Some("username"));
    shot(c, "invitation-en").await;
    fill(c, "password", GOOD).await;
    fill(c, "confirmation", GOOD).await;
    submit(c).await;
    wait_path(c, "/").await;
    assert_eq!(body(c).await, "Signed in as Ada Lovelace");
    c.goto(&link).await.unwrap();
    assert_eq!(heading(c).await, "This link is invalid or has expired");
    shot(c, "invalid-link-en").await;
    // The page offers the way to a new link.
    c.find(Locator::LinkText("Ask for a new link")).await.unwrap().click().await.unwrap();
    assert_eq!(heading(c).await, "Forgot your password?");
}

/// Signs in through the sign-in form.
async fn sign_in(host: &Host, c: &Client, email: &str, password: &str, name: &str) {
    c.goto(&format!("{}/sign-in", host.base)).await.unwrap();
    fill(c, "email", email).await;
    fill(c, "password", password).await;
    submit(c).await;
    wait_path(c, "/").await;
    assert_eq!(body(c).await, format!("Signed in as {name}"));
}

/// Forgot password → the reset mail → new password → signed in; the session opened before
/// the reset (on another device) is gone.
async fn reset_journey(host: &Host, c: &Client, other_device: &Client) {
    sign_in(host, other_device, "ada@example.org", GOOD, "Ada Lovelace").await;
    c.goto(&format!("{}/forgot-password", host.base)).await.unwrap();
    assert_eq!(heading(c).await, "Forgot your password?");
    assert!(body(c).await.contains("Didn't get the email?"));
    shot(c, "forgot-password-en").await;
    fill(c, "email", "ada@example.org").await;
    submit(c).await;
    assert_eq!(heading(c).await, "Check your email");
    shot(c, "forgot-password-sent-en").await;
    let link = host.link_from_eml("ada@example.org").await;
    assert!(link.contains("/reset-password?token="), "{link}");
    c.goto(&link).await.unwrap();
    assert_eq!(heading(c).await, "Choose a new password");
    fill(c, "password", NEWER).await;
    fill(c, "confirmation", NEWER).await;
    submit(c).await;
    wait_path(c, "/").await;
    assert_eq!(body(c).await, "Signed in as Ada Lovelace");
    // The other device's session, opened with the old password, is gone.
    other_device.goto(&format!("{}/", host.base)).await.unwrap();
    wait_path(other_device, "/sign-in").await;
    assert_eq!(heading(other_device).await, "Sign in");
    // The new password signs in through the form; the old one no longer does.
    fill(other_device, "email", "ada@example.org").await;
    fill(other_device, "password", GOOD).await;
    submit(other_device).await;
    assert!(body(other_device).await.contains("Invalid email address or password."));
    shot(other_device, "sign-in-refused-en").await;
    sign_in(host, other_device, "ada@example.org", NEWER, "Ada Lovelace").await;
}

/// A French invitation: a refused password shows its reasons next to the field and the
/// link still works.
async fn refused_password_journey(host: &Host, c: &Client) {
    host.invite("jeanne.martin@example.org", "Jeanne Martin", "fr").await;
    let link = host.link_from_eml("jeanne.martin@example.org").await;
    c.goto(&link).await.unwrap();
    assert_eq!(heading(c).await, "Créez votre mot de passe");
    let lang = c.find(Locator::Css("html")).await.unwrap().attr("lang").await.unwrap();
    assert_eq!(lang.as_deref(), Some("fr"));
    shot(c, "invitation-fr").await;
    fill(c, "password", "jeanne").await;
    fill(c, "confirmation", "jeanne2").await;
    submit(c).await;
    assert_eq!(heading(c).await, "Créez votre mot de passe");
    let errors = c.find(Locator::Id("password-error")).await.unwrap().text().await.unwrap();
    assert!(errors.contains("au moins 15 caractères"), "{errors}");
    assert!(errors.contains("ni votre nom ni votre adresse e-mail"), "{errors}");
    let mismatch = c.find(Locator::Id("confirmation-error")).await.unwrap().text().await.unwrap();
    assert!(mismatch.contains("ne correspondent pas"), "{mismatch}");
    let described = c.find(Locator::Id("password")).await.unwrap().attr("aria-describedby").await.unwrap();
    assert_eq!(described.as_deref(), Some("password-hint password-error"));
    shot(c, "refused-password-fr").await;
    // The link still works: open it again and finish.
    c.goto(&link).await.unwrap();
    assert_eq!(heading(c).await, "Créez votre mot de passe");
    fill(c, "password", GOOD).await;
    fill(c, "confirmation", GOOD).await;
    submit(c).await;
    wait_path(c, "/").await;
    assert_eq!(body(c).await, "Signed in as Jeanne Martin");
}

/// The pages in French by the browser's language, and a temporary password changed.
async fn french_pages_journey(host: &Host, c: &Client) {
    c.goto(&format!("{}/forgot-password", host.base)).await.unwrap();
    assert_eq!(heading(c).await, "Mot de passe oublié ?");
    assert!(c.find(Locator::Css(".flash")).await.is_err(), "no message left over from an earlier page");
    assert!(body(c).await.contains("Vous n'avez pas reçu l'e-mail ?"));
    shot(c, "forgot-password-fr").await;
    // An administrator gave Jeanne a password she must change.
    let id = host
        .admit
        .store()
        .account_by_email(admit::Email::parse("jeanne.martin@example.org").unwrap().key())
        .await
        .unwrap()
        .unwrap()
        .id;
    let temporary = "temporaire provisoire 31";
    host.admit.set_password(host.admin, id, secret(temporary), secret(temporary), true).await.unwrap();
    c.goto(&format!("{}/sign-in", host.base)).await.unwrap();
    assert_eq!(heading(c).await, "Connexion");
    fill(c, "email", "jeanne.martin@example.org").await;
    fill(c, "password", temporary).await;
    submit(c).await;
    assert_eq!(heading(c).await, "Changez votre mot de passe");
    shot(c, "change-password-fr").await;
    fill(c, "current", temporary).await;
    fill(c, "password", NEWER).await;
    fill(c, "confirmation", NEWER).await;
    submit(c).await;
    wait_path(c, "/").await;
    assert_eq!(body(c).await, "Signed in as Jeanne Martin");
}

/// Requirement 01 from the console: an administrator signs in, opens « Comptes », opens an
/// invited account, « Envoyer un mail de réinitialisation », confirms in French, sees
/// « Invitation envoyée avec succès. » once, and the reset mail is written.
async fn console_send_reset_journey(host: &Host, c: &Client) {
    host.invite("lea.dupont@example.org", "Léa Dupont", "fr").await;
    let invitation = host.link_from_eml("lea.dupont@example.org").await;
    c.goto(&format!("{}/sign-in", host.base)).await.unwrap();
    fill(c, "email", "root.admin@example.org").await;
    fill(c, "password", ADMIN_PASSWORD).await;
    submit(c).await;
    wait_path(c, "/console/accounts").await;
    assert_eq!(heading(c).await, "Comptes");
    let text = body(c).await;
    assert!(text.contains("Léa Dupont") && text.contains("Invité") && text.contains("Root Admin"), "{text}");
    shot(c, "console-accounts-fr").await;
    c.find(Locator::LinkText("Léa Dupont")).await.unwrap().click().await.unwrap();
    assert_eq!(heading(c).await, "Léa Dupont");
    let account_path = c.current_url().await.unwrap().path().to_owned();
    shot(c, "console-account-fr").await;
    c.find(Locator::LinkText("Envoyer un mail de réinitialisation")).await.unwrap().click().await.unwrap();
    assert_eq!(heading(c).await, "Envoyer un mail de réinitialisation");
    let question = c.find(Locator::Id("question")).await.unwrap().text().await.unwrap();
    assert_eq!(
        question,
        "Vous êtes sur le point d'envoyer un e-mail de réinitialisation à ce compte. Le destinataire pourra définir un nouveau mot de passe. Souhaitez-vous continuer ?"
    );
    shot(c, "console-confirm-send-reset-fr").await;
    let button = c.find(Locator::Css("form button[type=submit]")).await.unwrap();
    assert_eq!(button.text().await.unwrap(), "Oui, renvoyer l'invitation");
    button.click().await.unwrap();
    wait_path(c, &account_path).await;
    let flash = c.find(Locator::Css(".flash")).await.unwrap().text().await.unwrap();
    assert_eq!(flash, "Invitation envoyée avec succès.");
    shot(c, "console-reset-sent-fr").await;
    // Shown once: a reload does not repeat the message (nor the action: it was a redirect).
    c.refresh().await.unwrap();
    assert_eq!(heading(c).await, "Léa Dupont");
    assert!(c.find(Locator::Css(".flash")).await.is_err(), "the message shows once");
    // The reset mail is written with a new link, which opens the form.
    let link = host.link_from_eml("lea.dupont@example.org").await;
    assert!(link.contains("/reset-password?token=") && link != invitation, "{link}");
    // 03: the mail is found in the journal by filtering on « mot de passe ».
    c.find(Locator::LinkText("Journal des e-mails")).await.unwrap().click().await.unwrap();
    assert_eq!(heading(c).await, "Journal des e-mails");
    fill(c, "subject", "mot de passe").await;
    submit(c).await;
    wait_path(c, "/console/journal").await;
    let rows = c.find_all(Locator::Css("tr.mail")).await.unwrap();
    assert_eq!(rows.len(), 1);
    let row = rows[0].text().await.unwrap();
    assert!(row.contains("lea.dupont@example.org") && row.contains("Réinitialisation de votre mot de passe"), "{row}");
    assert!(!body(c).await.contains("token="));
    shot(c, "console-journal-fr").await;
    c.goto(&link).await.unwrap();
    assert_eq!(heading(c).await, "Choisissez un nouveau mot de passe");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_journeys() {
    if std::env::var("ADMIT_BROWSER_TRACE").is_ok() {
        tracing_subscriber::fmt().with_max_level(tracing::Level::DEBUG).with_test_writer().init();
    }
    let required = std::env::var("ADMIT_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
    let started = Instant::now();
    let driver = match start_driver().await {
        Ok(driver) => driver,
        Err(why) if !required => {
            println!("browser tests SKIPPED: {why} (set ADMIT_REQUIRE_BROWSER=1 to fail instead)");
            return;
        }
        Err(why) => panic!("browser tests required (ADMIT_REQUIRE_BROWSER=1) but {why}"),
    };
    let english = match browser(&driver, "en").await {
        Ok(client) => client,
        Err(why) if !required => {
            println!("browser tests SKIPPED: {why} (set ADMIT_REQUIRE_BROWSER=1 to fail instead)");
            return;
        }
        Err(why) => panic!("browser tests required (ADMIT_REQUIRE_BROWSER=1) but {why}"),
    };
    let other_device = browser(&driver, "en").await.expect("a second browser session");
    let host = Host::start().await;
    let mut timings = Vec::new();
    let t = Instant::now();
    invitation_journey(&host, &english).await;
    timings.push(("invitation → set password → signed in → link invalid", t.elapsed()));
    let t = Instant::now();
    reset_journey(&host, &english, &other_device).await;
    timings.push(("forgot → reset mail → new password → old session gone", t.elapsed()));
    english.close().await.unwrap();
    other_device.close().await.unwrap();

    let french = browser(&driver, "fr-FR,fr").await.expect("a second browser session");
    let t = Instant::now();
    refused_password_journey(&host, &french).await;
    timings.push(("refused password shows reasons (fr) → link still works", t.elapsed()));
    let t = Instant::now();
    french_pages_journey(&host, &french).await;
    timings.push(("French pages, temporary password → change", t.elapsed()));
    french.delete_all_cookies().await.unwrap();
    let console_host = Host::start_with(console_app).await;
    let t = Instant::now();
    console_send_reset_journey(&console_host, &french).await;
    timings.push((
        "console: Comptes → account → send reset → French confirmation → success (01) → journal « mot de passe » (03)",
        t.elapsed(),
    ));
    french.close().await.unwrap();
    for (name, time) in &timings {
        println!("browser journey: {name}: {} ms", time.as_millis());
    }
    println!("browser journeys: {} in {} ms (Chromium start included)", timings.len(), started.elapsed().as_millis());
}
