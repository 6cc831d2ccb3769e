//! Shared set-up for the facade's integration tests: an `Admit` over a real store, a
//! `TestClock`, a `CaptureTransport`, cheap Argon2 parameters, and helpers to follow the
//! links in delivered mails.
#![allow(dead_code)]

use std::sync::Arc;

use admit::core::password::Argon2Params;
use admit::mail::Message;
use admit::secrecy::SecretString;
use admit::store::{AccountQuery, AuditQuery, MailQuery, Store};
use admit::{
    AccountKind, Admit, CaptureTransport, CreateAccount, DispatcherConfig, Grant, Invite, ProgramId, Role, Scope,
    TestClock,
};
use admit_core::AccountId;

pub const REQUESTER: &str = "198.51.100.7";
pub const ADMIN_PASSWORD: &str = "violet meadow under rain 42";

pub struct World {
    pub admit: Admit,
    pub store: Arc<dyn Store>,
    pub clock: TestClock,
    pub outbox: CaptureTransport,
    pub admin: AccountId,
}

pub fn password(text: &str) -> SecretString {
    SecretString::from(text.to_owned())
}

pub fn program(id: &str) -> Scope {
    Scope::Program(ProgramId::parse(id).unwrap())
}

impl World {
    pub async fn new(store: Arc<dyn Store>) -> World {
        World::with(store, |b| b).await
    }

    pub async fn with(
        store: Arc<dyn Store>,
        configure: impl FnOnce(admit::AdmitBuilder) -> admit::AdmitBuilder,
    ) -> World {
        let clock = TestClock::default_start();
        let outbox = CaptureTransport::new();
        let builder = Admit::builder()
            .shared_store(store.clone())
            .transport(outbox.clone())
            .clock(clock.clone())
            .argon2_params(Argon2Params::dangerous_fast_for_tests())
            .link_base("https://app.example.org")
            .sender("Plateforme", "no-reply@example.org");
        let admit = configure(builder).build().unwrap();
        let admin = admit
            .bootstrap_administrator("root.admin@example.org", "Root Admin", password(ADMIN_PASSWORD))
            .await
            .unwrap()
            .id;
        World { admit, store, clock, outbox, admin }
    }

    /// Creates a member with one grant, invited or not.
    pub async fn member(&self, email: &str, name: &str, grant: Grant, invite: Invite) -> AccountId {
        self.admit.create_account(self.admin, CreateAccount::member(email, name, grant), invite).await.unwrap().id
    }

    /// Delivers every due mail and returns what was sent, oldest first.
    pub async fn deliver(&self) -> Vec<Message> {
        self.admit.dispatcher(DispatcherConfig::default()).drain().await.unwrap();
        self.outbox.take()
    }

    /// The token in the last delivered mail to `address`.
    pub async fn last_token_to(&self, address: &str) -> String {
        let sent = self.deliver().await;
        // Mails are sent concurrently: the newest is the one with the greatest Message-ID
        // (ids increase in creation order), not the last one delivered.
        let mail = sent
            .iter()
            .filter(|m| m.to().address.as_str() == address)
            .max_by_key(|m| m.message_id().to_owned())
            .unwrap_or_else(|| {
                panic!(
                    "no mail to {address} among {:?}",
                    sent.iter().map(|m| m.to().address.to_string()).collect::<Vec<_>>()
                )
            });
        token_in(mail).unwrap_or_else(|| panic!("no link in the mail to {address}"))
    }

    /// An active member: invited, and the invitation accepted with `pw`.
    pub async fn active_member(&self, email: &str, name: &str, grant: Grant, pw: &str) -> AccountId {
        let id = self.member(email, name, grant, Invite::Now).await;
        let token = self.last_token_to(email).await;
        self.admit.accept_invitation(&token, password(pw), password(pw), REQUESTER).await.unwrap();
        id
    }

    /// Everything the store holds, as text, to compare before and after a refused call.
    pub async fn dump(&self) -> String {
        let mut query = AccountQuery::new(self.clock.now_ts());
        query.limit = 1000;
        let accounts = self.store.list_accounts(&query).await.unwrap().items;
        let mut out = format!("{accounts:#?}");
        for account in &accounts {
            out.push_str(&format!("{:#?}", self.store.tokens_of(account.id).await.unwrap()));
        }
        let journal = self.store.journal(&MailQuery { limit: 1000, ..MailQuery::default() }).await.unwrap().items;
        // A refused administrative call leaves its own `call_refused` entry (checked where
        // it matters); everything else must stay as it was.
        let mut audit = Vec::new();
        let mut after = None;
        loop {
            let page = self.store.audit(&AuditQuery { limit: 1000, after, ..AuditQuery::default() }).await.unwrap();
            audit.extend(page.items.into_iter().filter(|a| a.action != admit::AuditAction::CallRefused));
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        out.push_str(&format!("{journal:#?}{audit:#?}"));
        out
    }
}

/// The token of the first link in a mail's text part.
pub fn token_in(mail: &Message) -> Option<String> {
    let text = mail.text();
    let start = text.find("token=")? + "token=".len();
    Some(text[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || "_-".contains(*c)).collect())
}

pub trait NowTs {
    fn now_ts(&self) -> admit_core::Timestamp;
}

impl NowTs for TestClock {
    fn now_ts(&self) -> admit_core::Timestamp {
        admit_core::Clock::now(self)
    }
}

pub fn collaborator_of(program_id: &str) -> Grant {
    Grant::new(program(program_id), Role::Collaborator)
}

pub fn public_account(email: &str, name: &str) -> CreateAccount {
    let mut row = CreateAccount::public(email, name);
    row.kind = AccountKind::Public;
    row
}

/// Runs an async test body once per store: `MemoryStore` and an in-memory `SqliteStore`.
#[macro_export]
macro_rules! on_every_store {
    ($(async fn $name:ident($world:ident: World) $body:block)*) => {
        mod memory {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let $world = World::new(std::sync::Arc::new(admit::MemoryStore::new())).await;
                    $body
                }
            )*
        }
        #[cfg(feature = "sqlite")]
        mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let store = admit::SqliteStore::in_memory().await.expect("in-memory sqlite");
                    let $world = World::new(std::sync::Arc::new(store)).await;
                    $body
                }
            )*
        }
    };
}
