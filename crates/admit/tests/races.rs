//! Administrative calls that lose an optimistic race against another change of the same
//! account decide again on the fresh account, so the caller gets the real answer rather than
//! `Concurrent`. The race is forced: a hook runs the competing call right before the
//! administrator's commit. On `MemoryStore`, `SqliteStore` and, when
//! `ADMIT_TEST_POSTGRES_URL` is set, `PostgresStore` (a fresh schema per test).

#[cfg(feature = "postgres")]
mod dispatch_common;
#[path = "support/faulty.rs"]
mod faulty;
mod support;

use std::sync::Arc;

use admit::store::Store;
use admit::{AdmitError, Invite, StatusChange};
use faulty::FaultyStore;
use support::*;

const PW: &str = "quiet harbour at noon";
const ADMIN_CHOSEN: &str = "brass compass on the shelf";

/// Every store, each fresh; PostgreSQL in a schema of its own, dropped when the test ends.
async fn stores() -> (Vec<(&'static str, Arc<dyn Store>)>, Cleanup) {
    let mut stores: Vec<(&'static str, Arc<dyn Store>)> = vec![("memory", Arc::new(admit::MemoryStore::new()))];
    #[cfg(feature = "sqlite")]
    stores.push(("sqlite", Arc::new(admit::SqliteStore::in_memory().await.unwrap())));
    #[allow(unused_mut)]
    let mut cleanup = Cleanup(None);
    #[cfg(feature = "postgres")]
    if dispatch_common::pg::enabled() {
        let schema = dispatch_common::pg::fresh_schema().await;
        stores.push(("postgres", Arc::new(dispatch_common::pg::store_in(&schema).await)));
        cleanup = Cleanup(Some(schema));
    }
    (stores, cleanup)
}

/// Drops the PostgreSQL schema of a test (when there is one).
#[allow(dead_code)] // read only with the `postgres` feature
struct Cleanup(Option<String>);

impl Cleanup {
    async fn run(self) {
        #[cfg(feature = "postgres")]
        if let Some(schema) = self.0 {
            dispatch_common::pg::drop_schema(&schema).await;
        }
    }
}

async fn world(inner: Arc<dyn Store>) -> (World, Arc<FaultyStore>) {
    let faulty = FaultyStore::new(inner);
    let store: Arc<dyn Store> = faulty.clone();
    (World::new(store).await, faulty)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reinvite_racing_an_acceptance_answers_already_active() {
    let (stores, cleanup) = stores().await;
    for (name, inner) in stores {
        let (w, faulty) = world(inner).await;
        let id = w.member("racer@example.org", "Ra Cer", collaborator_of("p1"), Invite::Now).await;
        let token = w.last_token_to("racer@example.org").await;
        let admit = w.admit.clone();
        faulty.before_next_commit(move || async move {
            admit.accept_invitation(&token, password(PW), password(PW), REQUESTER).await.unwrap();
        });
        let r = w.admit.reinvite(w.admin, id).await;
        assert!(matches!(r, Err(AdmitError::Status(_))), "{name}: {r:?}");
        assert!(w.deliver().await.is_empty(), "{name}: no reminder was sent");
        // The lost race cost no re-send slot: a real re-send is not refused as too soon.
        let late = w.member("late@example.org", "La Te", collaborator_of("p1"), Invite::Now).await;
        w.admit.reinvite(w.admin, late).await.unwrap_or_else(|e| panic!("{name}: {e:?}"));
    }
    cleanup.run().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_password_racing_an_acceptance_applies_on_the_fresh_account() {
    let (stores, cleanup) = stores().await;
    for (name, inner) in stores {
        let (w, faulty) = world(inner).await;
        let id = w.member("sp@example.org", "Es Pe", collaborator_of("p1"), Invite::Now).await;
        let token = w.last_token_to("sp@example.org").await;
        let admit = w.admit.clone();
        faulty.before_next_commit(move || async move {
            admit.accept_invitation(&token, password(PW), password(PW), REQUESTER).await.unwrap();
        });
        w.admit
            .set_password(w.admin, id, password(ADMIN_CHOSEN), password(ADMIN_CHOSEN), false)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let signed = w.admit.sign_in("sp@example.org", password(ADMIN_CHOSEN), REQUESTER).await;
        assert!(signed.is_ok(), "{name}: the administrator's password won: {signed:?}");
        assert!(w.admit.sign_in("sp@example.org", password(PW), REQUESTER).await.is_err(), "{name}");
    }
    cleanup.run().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_password_racing_another_administrator_disabling_answers_unavailable() {
    let (stores, cleanup) = stores().await;
    for (name, inner) in stores {
        let (w, faulty) = world(inner).await;
        let id = w.active_member("dis@example.org", "Dis Abled", collaborator_of("p1"), PW).await;
        let (admit, admin) = (w.admit.clone(), w.admin);
        faulty.before_next_commit(move || async move {
            admit.change_status(admin, id, StatusChange::Disable).await.unwrap();
        });
        let r = w.admit.set_password(w.admin, id, password(ADMIN_CHOSEN), password(ADMIN_CHOSEN), true).await;
        assert!(matches!(r, Err(AdmitError::AccountUnavailable)), "{name}: {r:?}");
    }
    cleanup.run().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_racing_an_address_change_goes_to_the_new_address() {
    let (stores, cleanup) = stores().await;
    for (name, inner) in stores {
        let (w, faulty) = world(inner).await;
        let id = w.active_member("old@example.org", "Mo Ved", collaborator_of("p1"), PW).await;
        w.deliver().await;
        let (admit, admin) = (w.admit.clone(), w.admin);
        faulty.before_next_commit(move || async move {
            admit.change_email(admin, id, "new@example.org").await.unwrap();
        });
        w.admit.send_password_reset(w.admin, id).await.unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let sent = w.deliver().await;
        let resets: Vec<_> =
            sent.iter().filter(|m| token_in(m).is_some()).map(|m| m.to().address.as_str().to_owned()).collect();
        assert_eq!(resets, ["new@example.org"], "{name}");
    }
    cleanup.run().await;
}
