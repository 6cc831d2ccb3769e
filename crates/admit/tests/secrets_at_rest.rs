//! Secrets at rest (issue 14): no byte admit writes to a store lets anyone complete a link
//! or sign in with a temporary password, before dispatch or after it; mail carrying a
//! secret never goes where it must not.
//!
//! The byte scans run on every store: `MemoryStore` (every record it holds, read back
//! through the trait, hashes in hex and base64), `SqliteStore` on a WAL file (the database
//! file, its `-wal` and `-shm` files, as raw bytes), and `PostgresStore` when
//! `ADMIT_TEST_POSTGRES_URL` is set (every column of every table of the schema as text,
//! and, after a `CHECKPOINT`, the relation files of every table, index and TOAST table
//! plus the WAL segments written during the test, read from the data directory when this
//! process can read it). Run with `--nocapture` to see the figures.

mod dispatch_common;
mod support;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use admit::core::{MailKind, MailStatus};
use admit::mail::{Message, Transport, TransportError};
use admit::store::{AccountQuery, AuditQuery, MailQuery, Store};
use admit::{Admit, CompletionError, DispatcherConfig, Invite, MemoryStore};
use base64::Engine;
use support::*;
use time::Duration;

// ---------------------------------------------------------------------------------------
// Stores and their bytes.

/// A store under test and what is needed to read its bytes.
enum Backend {
    Memory,
    Sqlite {
        _dir: tempfile::TempDir,
        path: PathBuf,
    },
    #[cfg(feature = "postgres")]
    Postgres {
        schema: String,
    },
}

impl Backend {
    fn name(&self) -> &'static str {
        match self {
            Backend::Memory => "memory",
            Backend::Sqlite { .. } => "sqlite",
            #[cfg(feature = "postgres")]
            Backend::Postgres { .. } => "postgres",
        }
    }

    async fn cleanup(self) {
        #[cfg(feature = "postgres")]
        if let Backend::Postgres { schema } = self {
            dispatch_common::pg::drop_schema(&schema).await;
        }
    }
}

async fn memory() -> (Arc<dyn Store>, Backend) {
    (Arc::new(MemoryStore::new()), Backend::Memory)
}

async fn sqlite() -> (Arc<dyn Store>, Backend) {
    let (dir, path, store) = dispatch_common::sqlite_file().await;
    (Arc::new(store), Backend::Sqlite { _dir: dir, path })
}

#[cfg(feature = "postgres")]
async fn postgres() -> Option<(Arc<dyn Store>, Backend)> {
    if !dispatch_common::pg::enabled() {
        return None;
    }
    let schema = dispatch_common::pg::fresh_schema().await;
    let store = dispatch_common::pg::store_in(&schema).await;
    Some((Arc::new(store), Backend::Postgres { schema }))
}

/// Named byte strings: everything the store holds, as files or as text.
type Snapshot = Vec<(String, Vec<u8>)>;

/// Every byte the store holds (see the module documentation for what that is per store).
async fn snapshot(store: &Arc<dyn Store>, backend: &Backend, since: std::time::SystemTime) -> Snapshot {
    match backend {
        Backend::Memory => memory_dump(store).await,
        Backend::Sqlite { path, .. } => {
            let mut out = Vec::new();
            for suffix in ["", "-wal", "-shm"] {
                let file = PathBuf::from(format!("{}{suffix}", path.display()));
                if let Ok(bytes) = std::fs::read(&file) {
                    out.push((file.file_name().unwrap().to_string_lossy().into_owned(), bytes));
                }
            }
            out
        }
        #[cfg(feature = "postgres")]
        Backend::Postgres { schema } => postgres_dump(schema, since).await,
    }
}

/// Everything a `MemoryStore` holds, read back through the trait: accounts (password hashes
/// included), every token record with its verifier hash in hex and base64, the whole mail
/// journal and audit log.
async fn memory_dump(store: &Arc<dyn Store>) -> Snapshot {
    let mut text = String::new();
    let mut query = AccountQuery::new(admit::core::Timestamp::from_unix_micros(i64::MAX / 2));
    query.limit = 1000;
    let accounts = store.list_accounts(&query).await.unwrap().items;
    for account in &accounts {
        text.push_str(&format!("{account:?} {:?}\n", account.password_hash.as_ref().map(|h| h.as_phc().to_owned())));
        for token in store.tokens_of(account.id).await.unwrap() {
            let hash = token.verifier_hash.map(|h| h.to_bytes()).unwrap_or_default();
            text.push_str(&format!(
                "{token:?} {} {}\n",
                hex(&hash),
                base64::engine::general_purpose::STANDARD.encode(hash)
            ));
        }
    }
    let journal = store.journal(&MailQuery { limit: 1000, ..MailQuery::default() }).await.unwrap().items;
    let audit = store.audit(&AuditQuery { limit: 1000, ..AuditQuery::default() }).await.unwrap().items;
    text.push_str(&format!("{journal:?}\n{audit:?}\n{store:?}"));
    vec![("records".to_owned(), text.into_bytes())]
}

#[cfg(feature = "postgres")]
async fn postgres_dump(schema: &str, since: std::time::SystemTime) -> Snapshot {
    use admit_store_sqlx::sqlx::{self, AssertSqlSafe};
    let url = std::env::var(dispatch_common::pg::URL_VAR).unwrap();
    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(1).connect(&url).await.unwrap();
    let mut out = Vec::new();
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT tablename::text FROM pg_tables WHERE schemaname = $1 ORDER BY tablename")
            .bind(schema)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert!(tables.len() >= 6, "the admit tables: {tables:?}");
    for table in &tables {
        let rows: Vec<String> =
            sqlx::query_scalar(AssertSqlSafe(format!("SELECT t::text FROM \"{schema}\".\"{table}\" t")))
                .fetch_all(&pool)
                .await
                .unwrap();
        out.push((format!("{table} (rows as text)"), rows.join("\n").into_bytes()));
    }
    // The files themselves, if this process may read them (root, or the postgres user).
    sqlx::query("CHECKPOINT").execute(&pool).await.unwrap();
    let data: String = sqlx::query_scalar("SHOW data_directory").fetch_one(&pool).await.unwrap();
    let files: Vec<Option<String>> = sqlx::query_scalar(
        "SELECT pg_relation_filepath(c.oid)::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = $1 \
         UNION ALL SELECT pg_relation_filepath(c.reltoastrelid)::text FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.reltoastrelid <> 0",
    )
    .bind(schema)
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut readable = 0;
    for file in files.into_iter().flatten() {
        let base = PathBuf::from(&data).join(&file);
        // The main fork and its segments, the free space map and the visibility map.
        for suffix in ["", ".1", ".2", "_fsm", "_vm"] {
            if let Ok(bytes) = std::fs::read(format!("{}{suffix}", base.display())) {
                readable += 1;
                out.push((format!("{file}{suffix}"), bytes));
            }
        }
    }
    if readable == 0 {
        println!("[secrets_at_rest] postgres relation files not readable by this process: columns only");
    }
    // WAL segments written since the test began.
    if let Ok(entries) = std::fs::read_dir(PathBuf::from(&data).join("pg_wal")) {
        for entry in entries.flatten() {
            let recent = entry.metadata().and_then(|m| m.modified()).is_ok_and(|m| m >= since);
            if recent && entry.file_type().is_ok_and(|t| t.is_file()) {
                out.push((
                    format!("pg_wal/{}", entry.file_name().to_string_lossy()),
                    std::fs::read(entry.path()).unwrap(),
                ));
            }
        }
    }
    pool.close().await;
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every form of a mailed secret worth looking for in stored bytes.
fn forms(secrets: &Secrets) -> Vec<(String, Vec<u8>)> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut out = Vec::new();
    for token in &secrets.tokens {
        let body = &token["adm_".len()..];
        let raw = url.decode(body).expect("a token body is base64url");
        let verifier = &raw[16..];
        out.push((format!("token {token}"), token.as_bytes().to_vec()));
        out.push(("token body".into(), body.as_bytes().to_vec()));
        // Characters 22.. of the body encode verifier bits only.
        out.push(("token verifier text".into(), body.as_bytes()[22..].to_vec()));
        out.push(("verifier bytes".into(), verifier.to_vec()));
        out.push(("verifier hex".into(), hex(verifier).into_bytes()));
        out.push(("verifier base64".into(), b64.encode(verifier).into_bytes()));
        out.push(("verifier base64url".into(), url.encode(verifier).into_bytes()));
        out.push(("token bytes base64".into(), b64.encode(&raw).into_bytes()));
        out.push(("token bytes hex".into(), hex(&raw).into_bytes()));
    }
    for password in &secrets.passwords {
        out.push((format!("temporary password {password}"), password.as_bytes().to_vec()));
        out.push(("temporary password base64".into(), b64.encode(password).into_bytes()));
    }
    out
}

/// Finds each needle in each haystack: one pass per haystack, indexing the needles by
/// their first 8 bytes (every needle is at least 8 bytes long).
fn find(snapshot: &Snapshot, needles: &[(String, Vec<u8>)]) -> Vec<String> {
    let mut index: HashMap<[u8; 8], Vec<usize>> = HashMap::new();
    for (i, (_, needle)) in needles.iter().enumerate() {
        assert!(needle.len() >= 8);
        index.entry(needle[..8].try_into().unwrap()).or_default().push(i);
    }
    let mut found = Vec::new();
    for (name, hay) in snapshot {
        for at in 0..hay.len().saturating_sub(7) {
            let Some(candidates) = index.get(&<[u8; 8]>::try_from(&hay[at..at + 8]).unwrap()) else { continue };
            for &i in candidates {
                let (what, needle) = &needles[i];
                if hay[at..].starts_with(needle) {
                    found.push(format!("{what} in {name} at {at}"));
                }
            }
        }
    }
    found
}

fn bytes_of(snapshot: &Snapshot) -> usize {
    snapshot.iter().map(|(_, b)| b.len()).sum()
}

/// The secrets people received.
#[derive(Default, Debug)]
struct Secrets {
    tokens: Vec<String>,
    passwords: Vec<String>,
}

fn temporary_password_in(mail: &Message) -> String {
    mail.text()
        .lines()
        .find(|l| l.matches('-').count() == 3 && l.trim().len() == 23)
        .map(|l| l.trim().to_owned())
        .expect("the password is in the mail")
}

trait Kind {
    fn kind(&self) -> Option<&str>;
}

impl Kind for Message {
    fn kind(&self) -> Option<&str> {
        self.headers().iter().find(|(n, _)| n == "X-Admit-Mail-Kind").map(|(_, v)| v.as_str())
    }
}

fn mail_to<'a>(sent: &'a [Message], address: &str) -> &'a Message {
    let mut to: Vec<&Message> = sent.iter().filter(|m| m.to().address.as_str() == address).collect();
    assert_eq!(to.len(), 1, "one mail to {address}");
    to.pop().unwrap()
}

// ---------------------------------------------------------------------------------------
// A copy of the store opens nothing.

async fn a_copy_opens_nothing((store, backend): (Arc<dyn Store>, Backend)) {
    // The instant the test began, as the file system stamps it (WAL segments modified since
    // are scanned): the modification time of a file created now.
    let stamp = tempfile::NamedTempFile::new().unwrap();
    let started = stamp.as_file().metadata().unwrap().modified().unwrap();
    let w = World::new(store.clone()).await;
    let grant = collaborator_of("p1");
    let bob = w.active_member("bob@example.org", "Bob", grant.clone(), "green apple orchard at dawn").await;
    w.active_member("carl@example.org", "Carl", grant.clone(), "quiet river under stone bridge").await;
    let dan = w.member("dan@example.org", "Dan", grant.clone(), Invite::Later).await;
    let eve = w.member("eve@example.org", "Eve", grant.clone(), Invite::Later).await;
    w.deliver().await;

    // Invite, reset (administrator and self-service), batch temporary passwords.
    w.member("ann@example.org", "Ann", grant.clone(), Invite::Now).await;
    w.admit.send_password_reset(w.admin, bob).await.unwrap();
    w.admit.request_password_reset("carl@example.org", REQUESTER).await.unwrap();
    let rows = w.admit.issue_temporary_passwords(w.admin, vec![dan, eve]).await.unwrap();
    assert!(rows.iter().all(|r| matches!(r.outcome, admit::BatchRowOutcome::Done(_))), "{rows:?}");
    let before = snapshot(&store, &backend, started).await;

    let sent = w.deliver().await;
    let mut secrets = Secrets::default();
    for address in ["ann@example.org", "bob@example.org", "carl@example.org"] {
        secrets.tokens.push(token_in(mail_to(&sent, address)).expect("a link"));
    }
    for address in ["dan@example.org", "eve@example.org"] {
        secrets.passwords.push(temporary_password_in(mail_to(&sent, address)));
    }
    let after = snapshot(&store, &backend, started).await;

    let needles = forms(&secrets);
    // Controls: the scan finds every secret form in the mails themselves, and finds what the
    // store does hold (an address) in its bytes (in the relation files too, for PostgreSQL).
    let mails: Snapshot = sent.iter().map(|m| (m.message_id().to_owned(), m.text().as_bytes().to_vec())).collect();
    let in_mails = find(&mails, &needles);
    for (what, _) in needles.iter().filter(|(w, _)| !w.contains("base64") && !w.contains("hex") && !w.contains("bytes"))
    {
        assert!(in_mails.iter().any(|f| f.starts_with(what.as_str())), "control: {what} is found in the mails");
    }
    let address = vec![("address".to_owned(), b"carl@example.org".to_vec())];
    let hits = find(&before, &address);
    assert!(!hits.is_empty(), "control: the stored address is found in the {} bytes", backend.name());
    #[cfg(feature = "postgres")]
    if matches!(backend, Backend::Postgres { .. }) && before.iter().any(|(n, _)| n.starts_with("base/")) {
        assert!(hits.iter().any(|h| h.contains(" in base/")), "control: the relation files are scanned: {hits:?}");
    }
    let found_before = find(&before, &needles);
    let found_after = find(&after, &needles);
    println!(
        "[secrets_at_rest] store={} before dispatch: {} bytes in {} parts, {} found; after dispatch: {} bytes in {} \
         parts, {} found; {} secrets in {} forms searched",
        backend.name(),
        bytes_of(&before),
        before.len(),
        found_before.len(),
        bytes_of(&after),
        after.len(),
        found_after.len(),
        secrets.tokens.len() + secrets.passwords.len(),
        needles.len()
    );
    assert!(found_before.is_empty(), "{}: secrets in the store before dispatch: {found_before:?}", backend.name());
    assert!(found_after.is_empty(), "{}: secrets in the store after dispatch: {found_after:?}", backend.name());

    // And the mailed secrets work.
    let phrase = |s: &str| password(s);
    w.admit
        .accept_invitation(
            &secrets.tokens[0],
            phrase("ann's new long phrase"),
            phrase("ann's new long phrase"),
            REQUESTER,
        )
        .await
        .expect("the mailed invitation link works");
    for (token, pw) in
        [(&secrets.tokens[1], "amber lantern over hills"), (&secrets.tokens[2], "silver kettle in winter")]
    {
        w.admit
            .complete_password_reset(token, phrase(pw), phrase(pw), REQUESTER)
            .await
            .expect("the mailed reset link works");
    }
    for (address, pw) in [("dan@example.org", &secrets.passwords[0]), ("eve@example.org", &secrets.passwords[1])] {
        let signed =
            w.admit.sign_in(address, phrase(pw), REQUESTER).await.expect("the mailed temporary password works");
        assert!(signed.must_change_password);
    }
    backend.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_of_the_store_opens_nothing_before_or_after_dispatch_memory() {
    a_copy_opens_nothing(memory().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_of_the_store_opens_nothing_before_or_after_dispatch_sqlite() {
    a_copy_opens_nothing(sqlite().await).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_of_the_store_opens_nothing_before_or_after_dispatch_postgres() {
    if let Some(backend) = postgres().await {
        a_copy_opens_nothing(backend).await;
    }
}

// ---------------------------------------------------------------------------------------
// Mail that must not go out.

/// The journal entries of `kind` to `address`.
async fn journal_to(w: &World, address: &str, kind: MailKind) -> Vec<admit::core::MailRecord> {
    let query = MailQuery { recipient: Some(address.to_owned()), kind: Some(kind), ..MailQuery::default() };
    w.admit.mail_journal(w.admin, query).await.unwrap().items
}

async fn change_email_cancels_the_temporary_password((store, backend): (Arc<dyn Store>, Backend)) {
    let w = World::new(store).await;
    let id = w.member("dna@exmaple.org", "Dan", collaborator_of("p1"), Invite::Later).await;
    w.admit.issue_temporary_password(w.admin, id).await.unwrap();
    // The address was mistyped: corrected before the dispatcher ran.
    w.admit.change_email(w.admin, id, "dan@example.org").await.unwrap();
    let sent = w.deliver().await;
    assert!(
        sent.iter().all(|m| m.to().address.as_str() != "dna@exmaple.org" || m.text().matches('-').count() < 3),
        "{}: no temporary password went to the mistyped address",
        backend.name()
    );
    assert!(sent.iter().all(|m| !m.text().lines().any(|l| l.matches('-').count() == 3 && l.trim().len() == 23)));
    let mails = journal_to(&w, "dna@exmaple.org", MailKind::TemporaryPassword).await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].status, MailStatus::Superseded, "{}", backend.name());
    assert_eq!(mails[0].last_error.as_deref(), Some("cancelled before sending: email changed"));
    let account = w.admit.store().account(id).await.unwrap().unwrap();
    assert!(account.password_hash.is_none(), "{}: no password was ever set", backend.name());
    backend.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_email_after_issue_temporary_password_cancels_the_mail_memory() {
    change_email_cancels_the_temporary_password(memory().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_email_after_issue_temporary_password_cancels_the_mail_sqlite() {
    change_email_cancels_the_temporary_password(sqlite().await).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_email_after_issue_temporary_password_cancels_the_mail_postgres() {
    if let Some(backend) = postgres().await {
        change_email_cancels_the_temporary_password(backend).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_email_cancels_a_mail_claimed_but_not_yet_armed() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let w = World::new(store.clone()).await;
    let id = w.member("dna@exmaple.org", "Dan", collaborator_of("p1"), Invite::Later).await;
    w.admit.issue_temporary_password(w.admin, id).await.unwrap();
    // A dispatcher claims it ...
    let claim =
        admit::store::MailClaim { owner: "d1".into(), now: w.clock.now_ts(), lease: Duration::minutes(5), limit: 10 };
    let claimed = store.claim_mails(&claim).await.unwrap();
    assert_eq!(claimed.len(), 1);
    // ... the address is corrected ...
    w.admit.change_email(w.admin, id, "dan@example.org").await.unwrap();
    // ... and its arming is refused: the mail is no longer its to send.
    let hash =
        admit::core::PasswordHash::from_phc("$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA".into());
    let arming =
        admit::store::MailArming { mail: claimed[0].id, secret: admit::store::ArmedSecret::TemporaryPassword(hash) };
    let outcome = store.arm_mails("d1", w.clock.now_ts(), &[arming]).await.unwrap();
    assert_eq!(outcome, vec![admit::store::ArmOutcome::LeaseLost]);
    assert!(store.account(id).await.unwrap().unwrap().password_hash.is_none(), "nothing armed");
    assert_eq!(store.mail(claimed[0].id).await.unwrap().unwrap().status, MailStatus::Superseded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reinvite_before_dispatch_supersedes_the_first_mail() {
    let w = World::new(Arc::new(MemoryStore::new())).await;
    let id = w.member("ann@example.org", "Ann", collaborator_of("p1"), Invite::Now).await;
    w.clock.advance(Duration::minutes(2));
    w.admit.reinvite(w.admin, id).await.unwrap();
    let sent = w.deliver().await;
    assert_eq!(sent.len(), 1, "only the reminder goes");
    assert_eq!(sent[0].kind(), Some("invitation_reminder"));
    let first = &journal_to(&w, "ann@example.org", MailKind::Invitation).await[0];
    assert_eq!(first.status, MailStatus::Superseded);
    assert_eq!(first.last_error.as_deref(), Some("link replaced by a newer one"));
    let token = token_in(&sent[0]).unwrap();
    w.admit.inspect_link(&token, REQUESTER).await.expect("the reminder's link works");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_revoked_or_expired_before_dispatch_is_superseded_not_sent() {
    let w = World::new(Arc::new(MemoryStore::new())).await;
    let grant = collaborator_of("p1");
    // Revoked: the account is disabled before the dispatcher runs.
    let ann = w.member("ann@example.org", "Ann", grant.clone(), Invite::Now).await;
    w.admit.change_status(w.admin, ann, admit::StatusChange::Disable).await.unwrap();
    // Revoked: the password changed (an administrator set it) before the reset link went.
    let bob = w.active_member("bob@example.org", "Bob", grant.clone(), "green apple orchard at dawn").await;
    w.admit.send_password_reset(w.admin, bob).await.unwrap();
    w.admit
        .set_password(w.admin, bob, password("an admin's long phrase"), password("an admin's long phrase"), true)
        .await
        .unwrap();
    let sent = w.deliver().await;
    assert!(sent.iter().all(|m| m.kind() == Some("password_changed")), "only the notice goes");
    let ann_mail = &journal_to(&w, "ann@example.org", MailKind::Invitation).await[0];
    assert_eq!(
        (ann_mail.status, ann_mail.last_error.as_deref()),
        (MailStatus::Superseded, Some("link revoked: account disabled"))
    );
    let bob_mail = &journal_to(&w, "bob@example.org", MailKind::PasswordReset).await[0];
    assert_eq!(
        (bob_mail.status, bob_mail.last_error.as_deref()),
        (MailStatus::Superseded, Some("link revoked: password changed"))
    );
    // Expired: the reset waited longer than its lifetime (1 hour) for a dispatcher.
    w.admit.request_password_reset("bob@example.org", REQUESTER).await.unwrap();
    w.clock.advance(Duration::hours(1) + Duration::seconds(1));
    let report = w.admit.dispatcher(DispatcherConfig::default()).drain().await.unwrap();
    assert_eq!((report.claimed, report.sent, report.superseded), (1, 0, 1));
    let expired = journal_to(&w, "bob@example.org", MailKind::PasswordReset).await;
    assert_eq!(expired[0].last_error.as_deref(), Some("link expired"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_temporary_password_replaced_before_dispatch_is_superseded() {
    let w = World::new(Arc::new(MemoryStore::new())).await;
    let id = w.member("dan@example.org", "Dan", collaborator_of("p1"), Invite::Later).await;
    w.admit.issue_temporary_password(w.admin, id).await.unwrap();
    w.admit.issue_temporary_password(w.admin, id).await.unwrap();
    let sent = w.deliver().await;
    assert_eq!(sent.len(), 1, "only the newer password is mailed");
    let mails = journal_to(&w, "dan@example.org", MailKind::TemporaryPassword).await;
    let superseded: Vec<_> = mails.iter().filter(|m| m.status == MailStatus::Superseded).collect();
    assert_eq!(superseded.len(), 1);
    assert_eq!(superseded[0].last_error.as_deref(), Some("temporary password replaced (the password changed since)"));
    let temp = temporary_password_in(&sent[0]);
    assert!(w.admit.sign_in("dan@example.org", password(&temp), REQUESTER).await.unwrap().must_change_password);
}

/// A transport that delivers (keeps) the message, then fails the store so the dispatcher
/// cannot mark the mail sent: a crash between arming and marking.
#[derive(Debug, Clone)]
struct CrashAfterSend {
    kept: admit::CaptureTransport,
    down: Arc<AtomicBool>,
}

#[async_trait::async_trait]
impl Transport for CrashAfterSend {
    async fn send(&self, message: &Message) -> Result<(), TransportError> {
        self.kept.send(message).await?;
        self.down.store(true, Ordering::SeqCst);
        Ok(())
    }
}

async fn crash_between_arm_and_mark_sent(use_first_link: bool) {
    let flaky = dispatch_common::FlakyStore::new(Arc::new(MemoryStore::new()));
    let store: Arc<dyn Store> = Arc::new(flaky.clone());
    let w = World::new(store.clone()).await;
    let id = w.member("ann@example.org", "Ann", collaborator_of("p1"), Invite::Now).await;
    w.deliver().await;
    w.admit.send_password_reset(w.admin, w.admit.store().account(id).await.unwrap().unwrap().id).await.ok();
    let crashing = CrashAfterSend { kept: admit::CaptureTransport::new(), down: flaky.down.clone() };
    let admit = Admit::builder()
        .shared_store(store.clone())
        .transport(crashing.clone())
        .clock(w.clock.clone())
        .argon2_params(admit::core::password::Argon2Params::dangerous_fast_for_tests())
        .link_base("https://app.example.org")
        .sender("Plateforme", "no-reply@example.org")
        .build()
        .unwrap();
    let config = DispatcherConfig::default();
    assert!(admit.dispatcher(config.clone()).run_once().await.is_err(), "the mark failed");
    flaky.down.store(false, Ordering::SeqCst);
    let first = crashing.kept.take();
    assert_eq!(first.len(), 1);
    let first_token = token_in(&first[0]).unwrap();
    if use_first_link {
        // The person used the first mail before the dispatcher came back.
        w.admit
            .complete_password_reset(
                &first_token,
                password("ann's first new phrase"),
                password("ann's first new phrase"),
                REQUESTER,
            )
            .await
            .expect("the first link worked while it was the armed one");
    }
    w.clock.advance(config.lease + Duration::seconds(1));
    let report = w.admit.dispatcher(config).drain().await.unwrap();
    let again = w.outbox.take();
    if use_first_link {
        assert_eq!((report.sent, report.superseded), (1, 1), "the used link's mail is not re-sent; the notice goes");
        assert!(again.iter().all(|m| m.kind() == Some("password_changed")));
        let mail = &journal_to(&w, "ann@example.org", MailKind::PasswordReset).await[0];
        assert_eq!(mail.last_error.as_deref(), Some("link already used"));
        return;
    }
    assert_eq!((report.sent, report.superseded), (1, 0));
    assert_eq!(again[0].message_id(), first[0].message_id(), "re-sent with the same Message-ID");
    let second_token = token_in(&again[0]).unwrap();
    assert_eq!(first_token[..25], second_token[..25], "the same reserved token (selector)");
    assert_ne!(first_token, second_token, "a new verifier");
    let dead = w.admit.inspect_link(&first_token, REQUESTER).await.unwrap_err().link_error().unwrap();
    assert_eq!(dead.reason(), admit::core::LinkFailure::WrongVerifier, "the first link is dead");
    let error = w
        .admit
        .complete_password_reset(
            &first_token,
            password("ann's new long phrase"),
            password("ann's new long phrase"),
            REQUESTER,
        )
        .await
        .unwrap_err();
    assert!(matches!(error, CompletionError::InvalidLink(_)));
    w.admit
        .complete_password_reset(
            &second_token,
            password("ann's new long phrase"),
            password("ann's new long phrase"),
            REQUESTER,
        )
        .await
        .expect("the re-sent link works");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_arm_and_mark_sent_resends_with_a_new_verifier_and_the_first_link_is_dead() {
    crash_between_arm_and_mark_sent(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_used_before_the_resend_after_a_crash_is_superseded() {
    crash_between_arm_and_mark_sent(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_journal_shows_intents_never_secrets_and_the_date_is_the_send_time() {
    let w = World::new(Arc::new(MemoryStore::new())).await;
    let id = w.member("ann@example.org", "Ann", collaborator_of("p1"), Invite::Now).await;
    w.clock.advance(Duration::minutes(10));
    let sent = w.deliver().await;
    let mail = &journal_to(&w, "ann@example.org", MailKind::Invitation).await[0];
    assert!(mail.params.secret.is_none());
    assert!(matches!(mail.params.intent, Some(admit::core::MailIntent::Link { .. })));
    assert_eq!(mail.sent_at, Some(w.clock.now_ts()));
    assert!(mail.created_at < mail.sent_at.unwrap(), "the journal keeps both instants");
    let date = sent[0].date();
    assert_eq!(date, w.clock.now_ts(), "the Date header is the send time");
    // Inspecting never consumes: twice, then accept.
    let token = token_in(&sent[0]).unwrap();
    w.admit.inspect_link(&token, REQUESTER).await.unwrap();
    w.admit.inspect_link(&token, REQUESTER).await.unwrap();
    w.admit
        .accept_invitation(&token, password("ann's long phrase 1"), password("ann's long phrase 1"), REQUESTER)
        .await
        .unwrap();
    let _ = id;
}

// ---------------------------------------------------------------------------------------
// Digests that cannot be reversed without the deployment key.

/// The requester digest of the audit entry of a self-service reset for an unknown address.
async fn requester_digest(configure: impl FnOnce(admit::AdmitBuilder) -> admit::AdmitBuilder) -> String {
    let w = World::with(Arc::new(MemoryStore::new()), configure).await;
    w.admit.request_password_reset("nobody@example.org", "203.0.113.9").await.unwrap();
    let query = AuditQuery { action: Some(admit::AuditAction::PasswordResetRequested), ..AuditQuery::default() };
    let entries = w.admit.audit_log(w.admin, query).await.unwrap().items;
    entries[0].detail.strip_prefix("requester=").expect("requester=<digest>").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requester_and_address_digests_are_keyed_by_the_deployment_key() {
    use admit::secrecy::SecretSlice;
    let key = |byte: u8| SecretSlice::from(vec![byte; 32]);
    let a = requester_digest(|b| b.digest_key(key(1))).await;
    let again = requester_digest(|b| b.digest_key(key(1))).await;
    let b = requester_digest(|b| b.digest_key(key(2))).await;
    let default = requester_digest(|b| b).await;
    assert_eq!(a, again, "the same key gives the same digest (rate limits hold across hosts)");
    assert_ne!(a, b, "another key, another digest");
    assert_eq!(a.len(), 16, "8 bytes in hex: {a}");
    // Not the unkeyed SHA-256 an attacker could compute by enumerating addresses.
    use sha2::Digest;
    let unkeyed: String = sha2::Sha256::digest(b"203.0.113.9").iter().take(8).map(|x| format!("{x:02x}")).collect();
    for digest in [&a, &b, &default] {
        assert_ne!(digest, &unkeyed, "digests are keyed");
    }
    // The expected HMAC-SHA256, computed independently.
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&[1; 32]).unwrap();
    mac.update(b"203.0.113.9");
    let expected: String = mac.finalize().into_bytes().iter().take(8).map(|x| format!("{x:02x}")).collect();
    assert_eq!(a, expected);
    // A short key is refused when building.
    let short = Admit::builder()
        .store(MemoryStore::new())
        .transport(admit::CaptureTransport::new())
        .link_base("https://app.example.org")
        .digest_key(SecretSlice::from(vec![7; 31]))
        .build()
        .unwrap_err();
    assert_eq!(short, admit::ConfigError::DigestKeyTooShort);
}

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_errors_say_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let error = Admit::embedded(dir.path(), "http://app.example.org").await.unwrap_err();
    assert!(matches!(error, admit::AdmitError::Config(admit::ConfigError::InvalidLinkBase)), "{error:?}");
    assert!(error.to_string().contains("link base"), "{error}");
    assert!(!dir.path().join("admit.db").exists(), "a bad link base is refused before touching the disk");
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let error = Admit::embedded(file.join("sub"), "https://app.example.org").await.unwrap_err();
    assert!(matches!(error, admit::AdmitError::Io { what: "embedded directory", .. }), "{error:?}");
    assert!(error.to_string().contains("cannot be created or opened"), "{error}");
}
