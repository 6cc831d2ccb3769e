//! Fault injection: every store call of every workflow fails once, in turn; the call must
//! fail cleanly (a typed store error) and leave either its full effect or nothing.

#[path = "support/faulty.rs"]
mod faulty;
#[path = "support/shape.rs"]
mod shape;
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use admit::store::Store;
use admit::{DispatcherConfig, Grant, Invite, MemoryStore, Role, StatusChange};
use admit_core::AccountId;
use faulty::FaultyStore;
use support::*;

static FAULTS: AtomicU64 = AtomicU64::new(0);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Workflow {
    CreateInvite,
    Reinvite,
    SendReset,
    Accept,
    CompleteReset,
    SetPassword,
    TemporaryPasswords,
    ChangeEmail,
    Disable,
    SignIn,
    BatchCreate,
}

struct Fixture {
    ids: Vec<AccountId>,
    token: Option<String>,
}

async fn world() -> (World, Arc<FaultyStore>) {
    let faulty = FaultyStore::new(Arc::new(MemoryStore::new()));
    let store: Arc<dyn Store> = faulty.clone();
    (World::new(store).await, faulty)
}

async fn setup(w: &World, workflow: Workflow) -> Fixture {
    let mut fixture = Fixture { ids: Vec::new(), token: None };
    let grant = collaborator_of("p1");
    match workflow {
        Workflow::CreateInvite | Workflow::BatchCreate => {
            w.member("existing@example.org", "Existing", grant, Invite::Later).await;
        }
        Workflow::Reinvite | Workflow::ChangeEmail => {
            fixture.ids.push(w.member("inv@example.org", "Invited Person", grant, Invite::Now).await);
            w.deliver().await;
        }
        Workflow::Accept => {
            fixture.ids.push(w.member("inv@example.org", "Invited Person", grant, Invite::Now).await);
            fixture.token = Some(w.last_token_to("inv@example.org").await);
        }
        Workflow::SendReset | Workflow::SetPassword | Workflow::Disable | Workflow::SignIn => {
            fixture
                .ids
                .push(w.active_member("act@example.org", "Active Person", grant, "copper lantern evening").await);
        }
        Workflow::CompleteReset => {
            let id = w.active_member("act@example.org", "Active Person", grant, "copper lantern evening").await;
            w.admit.send_password_reset(w.admin, id).await.unwrap();
            fixture.token = Some(w.last_token_to("act@example.org").await);
            fixture.ids.push(id);
        }
        Workflow::TemporaryPasswords => {
            fixture
                .ids
                .push(w.active_member("a1@example.org", "First One", grant.clone(), "copper lantern evening").await);
            fixture.ids.push(w.member("a2@example.org", "Second One", grant.clone(), Invite::Now).await);
            fixture.ids.push(w.member("a3@example.org", "Third One", grant, Invite::Later).await);
            w.deliver().await;
        }
    }
    // Past the one-a-minute re-send limit of anything set-up sent.
    w.clock.advance(time::Duration::minutes(2));
    fixture
}

async fn run(w: &World, workflow: Workflow, f: &Fixture) -> Result<(), String> {
    let admin = w.admin;
    let text = |e: &dyn std::fmt::Debug| format!("{e:?}");
    match workflow {
        Workflow::CreateInvite => w
            .admit
            .create_account(
                admin,
                admit::CreateAccount::member("new@example.org", "New Person", collaborator_of("p1")),
                Invite::Now,
            )
            .await
            .map(drop)
            .map_err(|e| text(&e)),
        Workflow::BatchCreate => {
            let rows = vec![
                admit::CreateAccount::member("b1@example.org", "Batch One", collaborator_of("p1")),
                admit::CreateAccount::member("EXISTING@example.org", "Dup", collaborator_of("p1")),
                admit::CreateAccount::member("b2@example.org", "Batch Two", collaborator_of("p2")),
            ];
            w.admit.create_accounts(admin, rows, Invite::Now).await.map(drop).map_err(|e| text(&e))
        }
        Workflow::Reinvite => w.admit.reinvite(admin, f.ids[0]).await.map(drop).map_err(|e| text(&e)),
        Workflow::SendReset => w.admit.send_password_reset(admin, f.ids[0]).await.map_err(|e| text(&e)),
        Workflow::Accept => {
            let pw = || password("fresh granite morning");
            w.admit
                .accept_invitation(f.token.as_deref().unwrap(), pw(), pw(), REQUESTER)
                .await
                .map(drop)
                .map_err(|e| text(&e))
        }
        Workflow::CompleteReset => {
            let pw = || password("fresh granite morning");
            w.admit
                .complete_password_reset(f.token.as_deref().unwrap(), pw(), pw(), REQUESTER)
                .await
                .map(drop)
                .map_err(|e| text(&e))
        }
        Workflow::SetPassword => {
            let pw = || password("chosen by the admin 7");
            w.admit.set_password(admin, f.ids[0], pw(), pw(), true).await.map(drop).map_err(|e| text(&e))
        }
        Workflow::TemporaryPasswords => {
            w.admit.issue_temporary_passwords(admin, f.ids.clone()).await.map(drop).map_err(|e| text(&e))
        }
        Workflow::ChangeEmail => {
            w.admit.change_email(admin, f.ids[0], "moved@example.org").await.map(drop).map_err(|e| text(&e))
        }
        Workflow::Disable => {
            w.admit.change_status(admin, f.ids[0], StatusChange::Disable).await.map(drop).map_err(|e| text(&e))
        }
        Workflow::SignIn => w
            .admit
            .sign_in("act@example.org", password("copper lantern evening"), REQUESTER)
            .await
            .map(drop)
            .map_err(|e| text(&e)),
    }
}

/// Lines of `after` not in `before` (as multisets).
fn added(before: &str, after: &str) -> Vec<String> {
    let mut pool: Vec<&str> = before.lines().collect();
    let mut out = Vec::new();
    for line in after.lines() {
        match pool.iter().position(|l| *l == line) {
            Some(i) => {
                pool.swap_remove(i);
            }
            None => out.push(line.to_owned()),
        }
    }
    out
}

async fn every_fault_of(workflow: Workflow) -> u64 {
    // The reference run: no fault, count the store calls.
    let (w, faulty) = world().await;
    let fixture = setup(&w, workflow).await;
    let before = shape::shape(&w.store, w.clock.now_ts()).await;
    faulty.arm(0);
    run(&w, workflow, &fixture).await.unwrap_or_else(|e| panic!("{workflow:?} without faults: {e}"));
    let calls = faulty.disarm();
    let ops = faulty.log();
    let reference = shape::shape(&w.store, w.clock.now_ts()).await;
    assert_ne!(before, reference, "{workflow:?} changes something");
    let reference_added = added(&before, &reference);
    assert!(calls > 0);

    let mut partial = 0;
    for n in 1..=calls {
        let (w, faulty) = world().await;
        let fixture = setup(&w, workflow).await;
        let start = shape::shape(&w.store, w.clock.now_ts()).await;
        assert_eq!(added(&before, &start).len(), 0, "same starting state");
        faulty.arm(n);
        let result = run(&w, workflow, &fixture).await;
        faulty.disarm();
        FAULTS.fetch_add(1, Ordering::Relaxed);
        let after = shape::shape(&w.store, w.clock.now_ts()).await;
        let failed_op = ops[(n - 1) as usize];
        match result {
            Ok(()) => assert_eq!(
                after, reference,
                "{workflow:?}: succeeded despite a fault at call {n} ({failed_op}) but the effect differs"
            ),
            Err(error) => {
                assert!(
                    error.contains("Injected"),
                    "{workflow:?}: fault at call {n} ({failed_op}) surfaced as something else: {error}"
                );
                if after == start {
                    continue;
                }
                // Only batches commit in several steps: each committed row must be whole
                // (its account change, its mail and its audit entry together).
                assert_eq!(
                    workflow,
                    Workflow::TemporaryPasswords,
                    "{workflow:?}: fault at call {n} ({failed_op}) left a partial state:\n{}",
                    added(&start, &after).join("\n")
                );
                let extra = added(&start, &after);
                for line in &extra {
                    assert!(reference_added.contains(line), "{workflow:?}: unexpected line after fault {n}: {line}");
                }
                let count = |prefix: &str| extra.iter().filter(|l| l.starts_with(prefix)).count();
                let (accounts, mails, audits) = (count("account"), count("mail"), count("audit"));
                assert!(
                    accounts == mails && mails == audits,
                    "{workflow:?}: half-written rows after fault {n}: {extra:#?}"
                );
                partial += 1;
            }
        }
    }
    println!(
        "{workflow:?}: {calls} store calls, {calls} faults injected, {partial} batch runs stopped after some whole rows"
    );
    calls
}

macro_rules! fault_tests {
    ($($name:ident => $workflow:expr,)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let k = every_fault_of($workflow).await;
            assert!(k >= 2);
        }
    )*};
}

fault_tests! {
    create_and_invite => Workflow::CreateInvite,
    batch_create => Workflow::BatchCreate,
    reinvite => Workflow::Reinvite,
    send_reset => Workflow::SendReset,
    accept_invitation => Workflow::Accept,
    complete_reset => Workflow::CompleteReset,
    set_password => Workflow::SetPassword,
    temporary_passwords_batch => Workflow::TemporaryPasswords,
    change_email => Workflow::ChangeEmail,
    disable => Workflow::Disable,
    sign_in => Workflow::SignIn,
}

/// The dispatcher: a fault at every store call of a drain loses no mail; a mail whose
/// "sent" mark failed is sent again (same Message-ID) once its lease lapses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatcher_faults_lose_no_mail() {
    async fn prepared() -> (World, Arc<FaultyStore>) {
        let (w, faulty) = world().await;
        w.member("m1@example.org", "Mail One", collaborator_of("p1"), Invite::Now).await;
        w.member("m2@example.org", "Mail Two", collaborator_of("p1"), Invite::Now).await;
        (w, faulty)
    }
    let config = || DispatcherConfig { concurrency: 1, ..DispatcherConfig::default() };
    let (w, faulty) = prepared().await;
    faulty.arm(0);
    w.admit.dispatcher(config()).drain().await.unwrap();
    let calls = faulty.disarm();
    assert_eq!(w.outbox.take().len(), 2);
    for n in 1..=calls {
        let (w, faulty) = prepared().await;
        faulty.arm(n);
        let first = w.admit.dispatcher(config()).drain().await;
        faulty.disarm();
        FAULTS.fetch_add(1, Ordering::Relaxed);
        // Let any lease lapse, then deliver the rest.
        w.clock.advance(time::Duration::minutes(6));
        w.admit.dispatcher(config()).drain().await.unwrap();
        let sent = w.outbox.take();
        let mut to: Vec<String> = sent.iter().map(|m| m.to().address.to_string()).collect();
        to.sort();
        to.dedup();
        assert_eq!(to, ["m1@example.org", "m2@example.org"], "fault {n}: every mail delivered ({first:?})");
        let ids: std::collections::HashSet<_> = sent.iter().map(|m| m.message_id().to_owned()).collect();
        assert_eq!(ids.len(), 2, "fault {n}: a re-send keeps its Message-ID");
        let journal = w.store.journal(&admit::store::MailQuery::default()).await.unwrap().items;
        assert!(journal.iter().all(|m| m.status == admit_core::MailStatus::Sent), "fault {n}: {journal:#?}");
    }
}

/// A store outage: the running dispatcher keeps going and delivers once the store is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatcher_survives_an_outage_and_resumes() {
    let (w, faulty) = world().await;
    w.member("o1@example.org", "Outage One", Grant::new(program("p1"), Role::Collaborator), Invite::Now).await;
    faulty.set_down(true);
    let dispatcher = w.admit.dispatcher(DispatcherConfig {
        idle_poll: std::time::Duration::from_millis(10),
        ..DispatcherConfig::default()
    });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(async move {
        dispatcher
            .run(async {
                let _ = stopped.await;
            })
            .await
    });
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(w.outbox.messages().is_empty(), "nothing delivered while the store is down");
    let during = faulty.injected();
    assert!(during >= 2, "the dispatcher kept retrying ({during} failed calls)");
    faulty.set_down(false);
    for _ in 0..200 {
        if !w.outbox.messages().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    stop.send(()).unwrap();
    let report = handle.await.unwrap();
    assert_eq!(report.sent, 1, "{report:?}");
    assert_eq!(w.outbox.messages().len(), 1);
    FAULTS.fetch_add(during, Ordering::Relaxed);
}

// A store that fails while a link is inspected or completed is "try again later" (503),
// never the uniform invalid-link answer: the link may well be valid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_failure_on_a_link_is_unavailable_not_invalid() {
    let (w, faulty) = world().await;
    w.member("outage@example.org", "Out Age", collaborator_of("p1"), admit::Invite::Now).await;
    let token = w.last_token_to("outage@example.org").await;
    faulty.set_down(true);
    let inspected = w.admit.inspect_link(&token, REQUESTER).await;
    assert!(matches!(inspected, Err(admit::InspectError::Unavailable(_))), "{inspected:?}");
    let completed = w.admit.accept_invitation(&token, password(PW), password(PW), REQUESTER).await;
    assert!(matches!(completed, Err(admit::CompletionError::Unavailable(_))), "{completed:?}");
    faulty.set_down(false);
    assert!(w.admit.inspect_link(&token, REQUESTER).await.is_ok(), "the link survived the outage");
    w.admit.accept_invitation(&token, password(PW), password(PW), REQUESTER).await.unwrap();
}

const PW: &str = "amber lantern over the bay";
