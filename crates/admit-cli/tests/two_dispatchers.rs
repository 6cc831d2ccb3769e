//! Two `admit dispatch` processes on one PostgreSQL schema deliver 10,000 mails to a local
//! SMTP server; one is killed with SIGKILL halfway. Every mail arrives (none lost); a mail
//! the killed process had handed to the server but not yet marked sent is sent again by
//! the other once its lease lapses, with the same Message-ID, so the receiver recognises it.

mod support;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use admit::{Admit, CaptureTransport, CreateAccount, Grant, Invite, PostgresStore};
use support::{ADMIN, PASSWORD, Sink, admit, admit_in, command};

const MAILS: usize = 10_000;
const CONCURRENCY: &str = "8";

fn dispatcher(url: &str, sink: &Sink) -> Child {
    let port = sink.addr.port().to_string();
    command(
        Some(url),
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
            "--batch-size",
            "64",
            "--concurrency",
            CONCURRENCY,
            "--lease-seconds",
            "10",
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .expect("dispatcher starts")
}

#[test]
fn two_dispatchers_one_killed_none_lost() {
    let Some(base) = support::postgres_url() else {
        println!("PostgreSQL CLI tests SKIPPED (set ADMIT_TEST_POSTGRES_URL)");
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("rt");
    let url = runtime.block_on(support::fresh_postgres_url(&base));
    admit(Some(&url), &["migrate"]).expect(0);
    let admin = admit_in(Some(&url), &["--json", "bootstrap-admin", ADMIN, "Ada Lovelace"], PASSWORD).expect(0).json();
    let admin = admit::core::AccountId::parse(admin["id"].as_str().expect("id")).expect("id");
    runtime.block_on(async {
        let store = PostgresStore::connect(&url).await.expect("store");
        let host = Admit::builder()
            .store(store)
            .transport(CaptureTransport::new())
            .link_base("https://console.example.org/")
            .build()
            .expect("admit");
        let rows: Vec<CreateAccount> = (0..MAILS)
            .map(|i| {
                CreateAccount::member(&format!("p{i}@example.org"), "Some Person", Grant::platform_administrator())
            })
            .collect();
        let created = host.create_accounts(admin, rows, Invite::Now).await.expect("batch");
        assert_eq!(created.len(), MAILS);
    });
    let status = admit(Some(&url), &["--json", "outbox", "status", "--as", ADMIN]).expect(0).json();
    assert_eq!(status["pending"].as_u64(), Some(MAILS as u64));

    let sink = Sink::start();
    let started = Instant::now();
    let mut first = dispatcher(&url, &sink);
    let second = dispatcher(&url, &sink);
    let deadline = started + Duration::from_secs(600);
    while sink.count() < MAILS / 2 {
        assert!(Instant::now() < deadline, "only {} deliveries", sink.count());
        std::thread::sleep(Duration::from_millis(10));
    }
    first.kill().expect("SIGKILL");
    let killed_at = sink.count();
    let _ = first.wait();
    while sink.figures().1 < MAILS {
        assert!(Instant::now() < deadline, "only {} distinct mails arrived", sink.figures().1);
        std::thread::sleep(Duration::from_millis(50));
    }
    let elapsed = started.elapsed();
    let stopped = std::process::Command::new("kill").args(["-TERM", &second.id().to_string()]).status().expect("kill");
    assert!(stopped.success());
    let output = second.wait_with_output().expect("second ends");
    assert_eq!(output.status.code(), Some(0));

    let (deliveries, distinct, duplicated) = sink.figures();
    println!(
        "two dispatchers: {MAILS} mails, {deliveries} deliveries, {distinct} distinct Message-IDs, \
         {duplicated} delivered twice (killed after {killed_at} deliveries), 0 lost, {:.1} s",
        elapsed.as_secs_f64()
    );
    assert_eq!(distinct, MAILS, "none lost");
    // Only what the killed process had sent but not yet marked can arrive twice: at most
    // its concurrent sends.
    assert!(duplicated <= CONCURRENCY.parse::<usize>().expect("n"), "{duplicated} duplicates");
    let status = admit(Some(&url), &["--json", "outbox", "status", "--as", ADMIN]).expect(0).json();
    assert_eq!((status["pending"].as_u64(), status["failed"].as_u64()), (Some(0), Some(0)));
}
