//! The admit quick start: the whole workflow on the embedded default (a SQLite file and a
//! folder of `.eml` files), from an empty deployment to an activated account.
//!
//! Run it with `cargo run --example quickstart`. It starts fresh each time: it deletes
//! `target/admit-quickstart/` first.

use std::path::Path;
use std::sync::Arc;

use admit::mail::{CaptureTransport, FileTransport, Message, Transport, TransportError};
use admit::secrecy::SecretString;
use admit::store::{AccountQuery, MailQuery};
use admit::{Admit, CreateAccount, DispatcherConfig, Grant, Invite, ProgramId, Role, Scope, SqliteStore};

/// Writes each mail as an `.eml` file, and keeps a copy in memory so this example can
/// "click" the invitation link the way the recipient would.
#[derive(Debug, Clone)]
struct Mailbox {
    files: Arc<FileTransport>,
    copy: CaptureTransport,
}

#[async_trait::async_trait]
impl Transport for Mailbox {
    async fn send(&self, message: &Message) -> Result<(), TransportError> {
        self.files.send(message).await?;
        self.copy.send(message).await
    }
}

fn link_token(message: &Message) -> Option<String> {
    let start = message.text().find("token=")? + "token=".len();
    Some(message.text()[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || "_-".contains(*c)).collect())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = Path::new("target/admit-quickstart");
    let _ = std::fs::remove_dir_all(dir); // start fresh on every run
    std::fs::create_dir_all(dir)?;
    let mailbox = Mailbox { files: Arc::new(FileTransport::new(dir.join("mail"))), copy: CaptureTransport::new() };
    let admit = Admit::builder()
        .store(SqliteStore::open(dir.join("admit.db")).await?)
        .transport(mailbox.clone())
        .link_base("http://localhost:8080")
        .sender("Plateforme Exemple", "no-reply@example.org")
        .build()?;

    // 1. The first platform administrator, then a programme's team and a public account.
    let admin = admit
        .bootstrap_administrator(
            "jeanne.martin@example.org",
            "Jeanne Martin",
            SecretString::from("violet meadow under rain 42"),
        )
        .await?;
    let program = Scope::Program(ProgramId::parse("incubateur-2026")?);
    let alice = CreateAccount::member(
        "alice.durand@example.org",
        "Alice Durand",
        Grant::new(program.clone(), Role::Collaborator),
    )
    .locale("fr");
    let bob =
        CreateAccount::member("Bob.Smith@Example.org", "Bob Smith", Grant::new(program.clone(), Role::Collaborator))
            .locale("en");
    let carla = CreateAccount::public("carla.candidate@example.org", "Carla Candidate").locale("fr");
    let rows = admit.create_accounts(admin.id, vec![alice, bob, carla], Invite::Now).await?;
    println!("Created and invited {} accounts in one batch.", rows.len());
    let refused = admit
        .create_account(
            admin.id,
            CreateAccount::member("maintenance@example.org", "Maintenance", Grant::new(program.clone(), Role::Guest)),
            Invite::Later,
        )
        .await;
    println!("A department address is refused: {}", refused.unwrap_err());

    // 2. Deliver the outbox, then remind Bob (« relance ») and send Carla a reset link.
    let dispatcher = admit.dispatcher(DispatcherConfig::default());
    dispatcher.drain().await?;
    let accounts = admit.list_accounts(admin.id, AccountQuery::new(admit.now())).await?;
    let id_of = |name: &str| {
        accounts.items.iter().find(|v| v.account.full_name.as_str() == name).map(|v| v.account.id).unwrap()
    };
    admit.reinvite(admin.id, id_of("Bob Smith")).await?;
    admit.send_password_reset(admin.id, id_of("Carla Candidate")).await?;
    dispatcher.drain().await?;

    // 3. Alice follows her invitation link and chooses a password.
    let invitation =
        mailbox.copy.messages().into_iter().find(|m| m.to().address.as_str().starts_with("alice")).unwrap();
    let token = link_token(&invitation).unwrap();
    let info = admit.inspect_link(&token, "203.0.113.7").await?;
    println!("Alice's link is valid until {}.", info.expires_at);
    let password = || SecretString::from("une phrase de passe assez longue");
    admit.accept_invitation(&token, password(), password(), "203.0.113.7").await?;
    dispatcher.drain().await?;

    // 4. What the administrator sees.
    println!("\n{:<22} {:<36} Status", "Name", "Email");
    for view in admit.list_accounts(admin.id, AccountQuery::new(admit.now())).await?.items {
        let email = view.account.email.as_ref().map_or("-", |e| e.as_str()).to_owned();
        println!("{:<22} {:<36} {:?}", view.account.full_name.as_str(), email, view.status);
    }
    println!("\nMail journal (newest first):");
    for mail in admit.mail_journal(admin.id, MailQuery::default()).await?.items {
        println!("  {:?} {:<36} {}", mail.status, mail.to.as_str(), mail.subject);
    }
    println!("\nThe mails are in {}/ as .eml files: open them in any mail client.", dir.join("mail").display());
    Ok(())
}
