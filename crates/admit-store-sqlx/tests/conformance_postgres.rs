//! The public conformance suite on [`PostgresStore`], each case in a fresh schema that its
//! teardown drops afterwards, when `ADMIT_TEST_POSTGRES_URL` is set (e.g.
//! `postgres://postgres@127.0.0.1:5432/test`). Without it every case passes as skipped and
//! says so; with it, an unreachable server fails every case.
#![cfg(feature = "postgres")]

mod support;

admit_store::conformance_tests!(support::fresh_store_with_teardown(), enabled = support::enabled());

/// A case's schema is gone once the case is over, whether it passed or failed.
#[test]
fn each_case_schema_is_dropped_afterwards() {
    use std::sync::{Arc, Mutex};

    use admit_store::conformance::{Fresh, run_case};

    if !support::enabled() {
        return;
    }
    for fails in [false, true] {
        let seen: Arc<Mutex<Option<String>>> = Arc::default();
        let record = Arc::clone(&seen);
        let factory = async move {
            let (store, schema) = support::fresh_store_in_schema().await;
            *record.lock().unwrap() = Some(schema.clone());
            let pool = store.pool().clone();
            Fresh::with_teardown(store, async move {
                pool.close().await;
                support::drop_schema(&schema).await;
            })
        };
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_case(true, factory, |store, clock| async move {
                admit_store::conformance::rate_limit_window_resets(store, clock).await;
                assert!(!fails, "this case fails on purpose");
            });
        }));
        assert_eq!(outcome.is_err(), fails, "the case's own outcome is reported after the teardown");
        let schema = seen.lock().unwrap().clone().expect("the factory ran");
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        assert!(
            !runtime.block_on(support::schema_exists(&schema)),
            "the teardown dropped schema {schema} (case failing: {fails})"
        );
    }
}

#[test]
fn the_macro_expands_every_case() {
    assert_eq!(ADMIT_STORE_CONFORMANCE_CASES, admit_store::conformance::CASES, "one test per case, none left out");
}

/// Says, once, whether the PostgreSQL suite ran; when it is enabled, checks that the
/// server answers (an unreachable server fails, never skips).
#[test]
#[allow(non_snake_case)]
fn postgres_suite_skipped_unless_ADMIT_TEST_POSTGRES_URL_is_set() {
    if !support::enabled() {
        eprintln!("PostgreSQL conformance suite SKIPPED (set {} to run it)", support::URL_VAR);
        return;
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let schema = support::fresh_schema().await;
        support::drop_schema(&schema).await;
    });
}

/// A batch of 10,000 accounts with their tokens, mails and audit entries commits at once
/// (multi-row inserts, chunked under the bind limit).
#[test]
fn batch_of_ten_thousand_commits_at_once() {
    use admit_core::{AuditAction, Clock, MailKind, TestClock, TokenPurpose};
    use admit_store::conformance::fixtures::Fixtures;
    use admit_store::{AccountFilter, ChangeSet, Store};

    if !support::enabled() {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let (store, schema) = support::fresh_store_in_schema().await;
        let now = TestClock::default_start().now();
        let mut fx = Fixtures::new(7);
        let mut change = ChangeSet::new();
        for i in 0..10_000 {
            let account = fx.account(&format!("personne.{i}@exemple.fr"), now);
            change.tokens.push(fx.token(&account, TokenPurpose::Invitation, now, time::Duration::days(7)));
            change.mails.push(fx.mail(&account, MailKind::Invitation, now));
            change.audit.push(fx.audit(None, AuditAction::AccountCreated, Some(account.id), now));
            change.accounts.push(admit_store::AccountWrite::Insert(account));
        }
        let started = std::time::Instant::now();
        store.commit(change).await.expect("the batch commits");
        let took = started.elapsed();
        eprintln!("PostgreSQL: 10,000 accounts + tokens + mails + audit committed in {took:?}");
        assert!(took.as_secs() < 60, "a 10,000-row batch commits in seconds, took {took:?}");
        assert_eq!(store.count_accounts(&AccountFilter::default(), now).await.unwrap().total(), 10_000);
        store.pool().close().await;
        support::drop_schema(&schema).await;
    });
}
