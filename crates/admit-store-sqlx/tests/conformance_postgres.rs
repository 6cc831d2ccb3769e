//! The public conformance suite on [`PostgresStore`], each case in a fresh schema, when
//! `ADMIT_TEST_POSTGRES_URL` is set (e.g. `postgres://postgres@127.0.0.1:5432/test`).
//! Without it every case passes as skipped and says so; with it, an unreachable server
//! fails every case.
#![cfg(feature = "postgres")]

mod support;

admit_store::conformance_tests!(support::fresh_store(), enabled = support::enabled());

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
