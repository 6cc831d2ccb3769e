//! The `admit` binary as an operator runs it: every command's output and exit code, on
//! SQLite and (when `ADMIT_TEST_POSTGRES_URL` is set) PostgreSQL.

mod support;

use std::time::{Duration, Instant};

use admit::{Admit, CaptureTransport, CreateAccount, Grant, Invite, PostgresStore, SqliteStore};
use support::{ADMIN, PASSWORD, Sink, admit, admit_in, command};

/// The host's side: an `Admit` on the same database (to enqueue mails the CLI then shows).
async fn host(url: &str) -> Admit {
    let builder = Admit::builder().transport(CaptureTransport::new()).link_base("https://console.example.org/");
    let builder = if url.starts_with("postgres") {
        builder.store(PostgresStore::connect(url).await.expect("PostgreSQL store"))
    } else {
        builder.store(SqliteStore::open(url).await.expect("SQLite store"))
    };
    builder.build().expect("admit")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

/// The whole operator journey on one database: migrate, bootstrap, look, dispatch, purge.
fn journey(url_text: &str) {
    let url = Some(url_text);
    // Before any migration: commands refuse with 4, the check says what is missing.
    let run = admit(url, &["accounts", "count", "--as", ADMIN]).expect(4);
    assert!(run.stderr.contains("admit migrate"), "{}", run.stderr);
    let check = admit(url, &["--json", "migrate", "--check"]).expect(4);
    let check = check.json();
    assert_eq!(check["current"], false);
    assert!(!check["missing"].as_array().expect("missing").is_empty());

    // Migrate, then again (a no-op), then the check passes.
    let run = admit(url, &["--json", "migrate"]).expect(0).json();
    assert_eq!(run["applied_now"], run["applied"]);
    let run = admit(url, &["migrate"]).expect(0);
    assert!(run.stdout.contains("already current"), "{}", run.stdout);
    let run = admit(url, &["migrate", "--check"]).expect(0);
    assert!(run.stdout.contains("schema current"), "{}", run.stdout);

    // The first administrator: no password → usage; then created; then refused.
    let run = admit_in(url, &["bootstrap-admin", ADMIN, "Ada Lovelace"], "").expect(2);
    assert!(run.stderr.contains("password"), "{}", run.stderr);
    let run = admit_in(url, &["--json", "bootstrap-admin", ADMIN, "Ada Lovelace"], PASSWORD).expect(0).json();
    assert_eq!(run["email"], ADMIN);
    let admin_id = run["id"].as_str().expect("id").to_owned();
    let run = admit_in(url, &["bootstrap-admin", "bob@example.org", "Bob"], PASSWORD).expect(1);
    assert!(run.stderr.contains("already exists"), "{}", run.stderr);

    // The host creates three invited accounts (one whose mail the SMTP server rejects)
    // and one not invited.
    let rt = runtime();
    rt.block_on(async {
        let admit = host(url_text).await;
        let actor = admit::core::AccountId::parse(&admin_id).expect("id");
        for (email, invite) in [
            ("chloe@example.org", Invite::Now),
            ("dev@example.org", Invite::Now),
            ("reject-me@example.org", Invite::Now),
            ("eve@example.org", Invite::Later),
        ] {
            let input = CreateAccount::member(email, "Some Person", Grant::platform_administrator());
            admit.create_account(actor, input, invite).await.expect("created");
        }
    });

    // Accounts: count, list (paged, filtered), show; a reader who is no administrator.
    let counts = admit(url, &["--json", "accounts", "count", "--as", ADMIN]).expect(0).json();
    assert_eq!((counts["total"].as_u64(), counts["invited"].as_u64()), (Some(5), Some(3)));
    assert_eq!((counts["active"].as_u64(), counts["created"].as_u64()), (Some(1), Some(1)));
    let page = admit(url, &["--json", "accounts", "list", "--as", ADMIN, "--status", "invited", "--limit", "2"])
        .expect(0)
        .json();
    assert_eq!(page["accounts"].as_array().expect("accounts").len(), 2);
    let next = page["next"].as_str().expect("a next page").to_owned();
    let rest = admit(url, &["--json", "accounts", "list", "--as", ADMIN, "--status", "invited", "--after", &next])
        .expect(0)
        .json();
    assert_eq!(rest["accounts"].as_array().expect("accounts").len(), 1);
    assert!(rest["next"].is_null());
    let table = admit(url, &["accounts", "list", "--as", ADMIN, "--text", "chloe"]).expect(0);
    assert!(table.stdout.starts_with("ID "), "{}", table.stdout);
    assert!(table.stdout.contains("chloe@example.org") && !table.stdout.contains("dev@example.org"));
    let shown = admit(url, &["--json", "accounts", "show", "--as", ADMIN, "eve@example.org"]).expect(0).json();
    assert_eq!((shown["status"].as_str(), shown["has_password"].as_bool()), (Some("created"), Some(false)));
    assert!(shown.get("password_hash").is_none());
    let run = admit(url, &["accounts", "show", "--as", ADMIN, "nobody@example.org"]).expect(1);
    assert!(run.stderr.contains("no account"), "{}", run.stderr);
    let run = admit(url, &["accounts", "list", "--as", "eve@example.org"]).expect(1);
    assert!(run.stderr.contains("refused"), "{}", run.stderr);

    // The journal and the outbox before delivery.
    let journal = admit(url, &["--json", "journal", "--as", ADMIN]).expect(0).json();
    let mails = journal["mails"].as_array().expect("mails");
    assert_eq!(mails.len(), 3);
    assert!(mails.iter().all(|m| m["status"] == "pending" && m["kind"] == "invitation"));
    let only = admit(url, &["--json", "journal", "--as", ADMIN, "--recipient", "chloe"]).expect(0).json();
    assert_eq!(only["mails"].as_array().expect("mails").len(), 1);
    let status = admit(url, &["--json", "outbox", "status", "--as", ADMIN]).expect(0).json();
    assert_eq!((status["pending"].as_u64(), status["failed"].as_u64()), (Some(3), Some(0)));
    assert!(status["oldest_pending_age_seconds"].as_i64().is_some());

    // A dispatcher that drains the outbox to a local SMTP server.
    let sink = Sink::start();
    let port = sink.addr.port().to_string();
    let smtp = ["--smtp-host", "127.0.0.1", "--smtp-port", &port, "--smtp-tls", "plaintext"];
    let mut args = vec!["--json", "dispatch", "--drain", "--link-base", "https://console.example.org/"];
    args.extend(smtp);
    let report = admit(url, &args).expect(0).json();
    assert_eq!((report["sent"].as_u64(), report["failed"].as_u64()), (Some(2), Some(1)));
    assert_eq!(sink.figures(), (2, 2, 0));

    // After: nothing pending, one failed with the server's reason.
    let status = admit(url, &["--json", "outbox", "status", "--as", ADMIN]).expect(0).json();
    assert_eq!((status["pending"].as_u64(), status["failed"].as_u64()), (Some(0), Some(1)));
    assert!(status["oldest_pending_age_seconds"].is_null());
    let reason = status["failed_reasons"][0]["reason"].as_str().expect("a reason").to_owned();
    assert!(reason.contains("550") || reason.contains("mailbox"), "{reason}");
    let text = admit(url, &["outbox", "status", "--as", ADMIN]).expect(0);
    assert!(text.stdout.contains("pending: 0") && text.stdout.contains("failed: 1"), "{}", text.stdout);
    let sent = admit(url, &["--json", "journal", "--as", ADMIN, "--status", "sent"]).expect(0).json();
    assert_eq!(sent["mails"].as_array().expect("mails").len(), 2);

    // Re-send the failed mail (a fresh invitation through the facade), once only.
    let dry = admit(url, &["--json", "outbox", "retry", "--as", ADMIN, "--dry-run"]).expect(0).json();
    assert_eq!((dry["resent"].as_u64(), dry["dry_run"].as_bool()), (Some(1), Some(true)));
    let none = admit(url, &["--json", "outbox", "retry", "--as", ADMIN, "--reason", "no such reason"]).expect(0).json();
    assert_eq!(none["resent"].as_u64(), Some(0));
    let retried = admit(url, &["--json", "outbox", "retry", "--as", ADMIN, "--kind", "invitation"]).expect(0).json();
    assert_eq!(retried["resent"].as_u64(), Some(1));
    assert_eq!(retried["mails"][0]["outcome"], "re-sent");
    let status = admit(url, &["--json", "outbox", "status", "--as", ADMIN]).expect(0).json();
    assert_eq!((status["pending"].as_u64(), status["failed"].as_u64()), (Some(1), Some(1)));
    let again = admit(url, &["--json", "outbox", "retry", "--as", ADMIN]).expect(0).json();
    assert_eq!((again["resent"].as_u64(), again["skipped"].as_u64()), (Some(0), Some(1)));
    let run = admit(url, &["outbox", "retry", "--as", "eve@example.org"]).expect(1);
    assert!(run.stderr.contains("refused"), "{}", run.stderr);

    // The retention job: nothing old enough yet.
    let dry = admit(url, &["--json", "purge", "--dry-run"]).expect(0).json();
    assert_eq!(dry["would_purge"].as_u64(), Some(0));
    let purged = admit(url, &["--json", "purge"]).expect(0).json();
    assert_eq!(purged["purged"].as_u64(), Some(0));
}

#[test]
fn sqlite_journey() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("admit.db");
    // An empty file: a database without admit's schema.
    std::fs::File::create(&path).expect("file");
    journey(path.to_str().expect("utf-8 path"));
}

#[test]
fn sqlite_url_forms_and_a_missing_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("a.db");
    let url = format!("sqlite:{}", path.display());
    let run = admit(Some(&url), &["accounts", "count", "--as", ADMIN]).expect(3);
    assert!(run.stderr.contains("no SQLite file"), "{}", run.stderr);
    admit(Some(&url), &["migrate"]).expect(0);
    admit(Some(&format!("sqlite://{}", path.display())), &["migrate", "--check"]).expect(0);
    admit(Some(path.to_str().expect("utf-8")), &["migrate", "--check"]).expect(0);
}

#[test]
fn postgres_journey() {
    let Some(base) = support::postgres_url() else {
        println!("PostgreSQL CLI tests SKIPPED (set ADMIT_TEST_POSTGRES_URL)");
        return;
    };
    let url = runtime().block_on(support::fresh_postgres_url(&base));
    journey(&url);
}

#[test]
fn dispatch_stops_gracefully_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("admit.db");
    let url = path.to_str().expect("utf-8").to_owned();
    admit(Some(&url), &["migrate"]).expect(0);
    admit_in(Some(&url), &["bootstrap-admin", ADMIN, "Ada Lovelace"], PASSWORD).expect(0);
    let sink = Sink::start();
    let port = sink.addr.port().to_string();
    let child = command(
        Some(&url),
        &[
            "--json",
            "dispatch",
            "--smtp-host",
            "127.0.0.1",
            "--smtp-port",
            &port,
            "--smtp-tls",
            "plaintext",
            "--link-base",
            "https://console.example.org/",
            "--purge-every-seconds",
            "1",
        ],
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .expect("dispatcher starts");
    // Mails enqueued while it runs are delivered.
    runtime().block_on(async {
        let admit = host(&url).await;
        let page = admit.store().list_accounts(&admit::store::AccountQuery::new(admit.now())).await.expect("list");
        let actor = page.items[0].id;
        for i in 0..5 {
            let input =
                CreateAccount::member(&format!("p{i}@example.org"), "Some Person", Grant::platform_administrator());
            admit.create_account(actor, input, Invite::Now).await.expect("created");
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while sink.count() < 5 {
        assert!(Instant::now() < deadline, "the dispatcher delivered {} of 5", sink.count());
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(1_200)); // the retention job ticks at least once
    let killed = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(killed.success());
    let output = child.wait_with_output().expect("it ends");
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON report");
    assert_eq!(report["sent"].as_u64(), Some(5));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("retention job ran"), "{stderr}");
}

#[test]
fn bad_input_is_refused_clearly() {
    let run = admit(Some("x.db"), &["--bogus"]).expect(2);
    assert!(run.stderr.contains("unexpected argument"), "{}", run.stderr);
    let run = admit(None, &["accounts", "count", "--as", ADMIN]).expect(2);
    assert!(run.stderr.contains("--database-url"), "{}", run.stderr);
    let run = admit(Some("mysql://h/db"), &["migrate"]).expect(3);
    assert!(run.stderr.contains("malformed database URL"), "{}", run.stderr);
    let run = admit(Some("postgres://postgres@127.0.0.1:1/none"), &["migrate", "--check"]).expect(3);
    assert!(run.stderr.contains("unreachable"), "{}", run.stderr);
    let run = admit(Some("postgres://u@h:notaport/db"), &["migrate"]).expect(3);
    assert!(run.stderr.contains("malformed database URL"), "{}", run.stderr);
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("a.db");
    let db = db.to_str().expect("utf-8");
    admit(Some(db), &["migrate"]).expect(0);
    let run = admit(Some(db), &["accounts", "list", "--as", ADMIN, "--status", "asleep"]).expect(2);
    assert!(run.stderr.contains("invalid value"), "{}", run.stderr);
    let run = admit(Some(db), &["accounts", "list", "--as", "not an address"]).expect(2);
    assert!(run.stderr.contains("--as"), "{}", run.stderr);
    let run = admit(Some(db), &["journal", "--as", ADMIN, "--since", "yesterday"]).expect(2);
    assert!(run.stderr.contains("RFC 3339"), "{}", run.stderr);
    let run = admit(Some(db), &["accounts", "list", "--as", ADMIN]).expect(1);
    assert!(run.stderr.contains("no account"), "{}", run.stderr);
    let run = admit(
        Some(db),
        &["dispatch", "--smtp-host", "127.0.0.1", "--link-base", "https://x.example/", "--smtp-user", "u"],
    )
    .expect(2);
    assert!(run.stderr.contains("ADMIT_SMTP_PASSWORD"), "{}", run.stderr);
}

#[test]
fn every_command_has_help() {
    for args in [
        &["--help"][..],
        &["migrate", "--help"],
        &["bootstrap-admin", "--help"],
        &["accounts", "--help"],
        &["accounts", "list", "--help"],
        &["accounts", "show", "--help"],
        &["accounts", "count", "--help"],
        &["journal", "--help"],
        &["outbox", "--help"],
        &["outbox", "status", "--help"],
        &["outbox", "retry", "--help"],
        &["dispatch", "--help"],
        &["purge", "--help"],
    ] {
        let run = admit(None, args).expect(0);
        assert!(run.stdout.contains("Usage: admit"), "{args:?}: {}", run.stdout);
    }
    let top = admit(None, &["--help"]).expect(0);
    assert!(top.stdout.contains("Exit codes"), "{}", top.stdout);
}
