//! Running the `admit` binary as a user does, a local SMTP sink, fresh PostgreSQL schemas.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use admit_store_sqlx::sqlx::{self, AssertSqlSafe, Executor};

/// What a run printed and how it ended.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The standard output parsed as one JSON document.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}\nstderr: {}", self.stdout, self.stderr))
    }

    /// Panics with both outputs unless the exit code is `code`.
    pub fn expect(self, code: i32) -> Run {
        assert_eq!(self.code, code, "exit code; stdout: {}\nstderr: {}", self.stdout, self.stderr);
        self
    }
}

fn from(output: Output) -> Run {
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A command for the binary with a clean environment (no inherited `ADMIT_*`).
pub fn command(url: Option<&str>, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_admit"));
    for (key, _) in std::env::vars() {
        if key.starts_with("ADMIT_") {
            command.env_remove(key);
        }
    }
    if let Some(url) = url {
        command.env("ADMIT_DATABASE_URL", url);
    }
    command.args(args);
    command
}

/// Runs `admit ARGS` on `url`, with `stdin` as its standard input.
pub fn admit_in(url: Option<&str>, args: &[&str], stdin: &str) -> Run {
    let mut child = command(url, args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("stdin written");
    from(child.wait_with_output().expect("the binary ends"))
}

/// Runs `admit ARGS` on `url` with empty standard input.
pub fn admit(url: Option<&str>, args: &[&str]) -> Run {
    admit_in(url, args, "")
}

/// A plaintext SMTP server on 127.0.0.1 that accepts every mail and records each delivery's
/// Message-ID (one entry per DATA, so a mail delivered twice shows twice).
#[derive(Debug, Clone)]
pub struct Sink {
    pub addr: SocketAddr,
    pub deliveries: Arc<Mutex<Vec<String>>>,
}

impl Sink {
    pub fn start() -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let deliveries = Arc::new(Mutex::new(Vec::new()));
        let sink = Sink { addr, deliveries: deliveries.clone() };
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let deliveries = deliveries.clone();
                std::thread::spawn(move || {
                    let _ = session(stream, &deliveries);
                });
            }
        });
        sink
    }

    /// Deliveries so far.
    pub fn count(&self) -> usize {
        self.deliveries.lock().expect("lock").len()
    }

    /// (deliveries, distinct Message-IDs, Message-IDs delivered more than once).
    pub fn figures(&self) -> (usize, usize, usize) {
        let all = self.deliveries.lock().expect("lock").clone();
        let mut seen: HashMap<String, usize> = HashMap::new();
        for id in &all {
            *seen.entry(id.clone()).or_default() += 1;
        }
        (all.len(), seen.len(), seen.values().filter(|n| **n > 1).count())
    }
}

fn session(stream: TcpStream, deliveries: &Mutex<Vec<String>>) -> std::io::Result<()> {
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    writer.write_all(b"220 sink ESMTP\r\n")?;
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" => writer.write_all(b"250-sink\r\n250 8BITMIME\r\n")?,
            "RCPT" if line.contains("reject") => writer.write_all(b"550 5.1.1 no such mailbox\r\n")?,
            "DATA" => {
                writer.write_all(b"354 go ahead\r\n")?;
                let mut message_id = None;
                loop {
                    line.clear();
                    if reader.read_line(&mut line)? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" || line == ".\n" {
                        break;
                    }
                    if message_id.is_none() && line.to_ascii_lowercase().starts_with("message-id:") {
                        message_id = Some(line[11..].trim().to_owned());
                    }
                }
                deliveries.lock().expect("lock").push(message_id.unwrap_or_default());
                writer.write_all(b"250 queued\r\n")?;
            }
            "QUIT" => {
                writer.write_all(b"221 bye\r\n")?;
                return Ok(());
            }
            _ => writer.write_all(b"250 ok\r\n")?,
        }
    }
}

/// The PostgreSQL server of the tests, if `ADMIT_TEST_POSTGRES_URL` is set.
pub fn postgres_url() -> Option<String> {
    std::env::var("ADMIT_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty())
}

/// A fresh `admit_test_<epoch>_<random>` schema (the name the store tests' stale-schema
/// cleaning recognises) and a URL whose every connection works in it.
pub async fn fresh_postgres_url(base: &str) -> String {
    let admin =
        sqlx::postgres::PgPoolOptions::new().max_connections(1).connect(base).await.expect("PostgreSQL reachable");
    // The trigram extension lives in `public`, never in a test schema (see the store tests).
    let mut conn = admin.acquire().await.expect("connection");
    conn.execute("SELECT pg_advisory_lock(hashtext('admit-test:pg_trgm'))").await.expect("lock");
    let _ = conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public").await;
    conn.execute("SELECT pg_advisory_unlock(hashtext('admit-test:pg_trgm'))").await.expect("unlock");
    drop(conn);
    let schema: String = sqlx::query_scalar(
        "SELECT 'admit_test_' || floor(extract(epoch FROM now()))::bigint || '_' \
         || substr(md5(random()::text || clock_timestamp()::text), 1, 12)",
    )
    .fetch_one(&admin)
    .await
    .expect("schema name");
    admin.execute(AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\""))).await.expect("schema created");
    admin.close().await;
    let separator = if base.contains('?') { '&' } else { '?' };
    format!("{base}{separator}options=-c%20search_path%3D{schema}")
}

/// The administrator every test bootstraps.
pub const ADMIN: &str = "ada@example.org";
/// Their password (fed on standard input).
pub const PASSWORD: &str = "Quartz-Lantern-Meadow-91\n";
