//! The public conformance suite: every [`Store`] implementation, an application's own
//! included, runs it against itself.
//!
//! Each case is a `pub async fn name(store: Arc<dyn Store>, clock: TestClock)` that panics
//! with the contract it checks when the store breaks it. Case names start with their area:
//! `accounts_`, `tokens_`, `outbox_`, `journal_`, `arming_`, `cancellation_`, `rate_limit_`, `audit_`, `atomicity_`,
//! `concurrency_`, `time_`, `purge_`. [`CASES`] lists them all.
//!
//! The usual entry point is [`conformance_tests!`](crate::conformance_tests), which expands
//! one `#[test]` per case, each running on a fresh store from the factory expression on a
//! multi-threaded tokio runtime (4 workers):
//!
//! ```rust,ignore
//! // tests/conformance.rs
//! admit_store::conformance_tests!(async { MyStore::connect_fresh().await.unwrap() });
//!
//! // a backend that is not always available: the cases pass as skipped when `enabled` is
//! // false; each case gets its own schema, dropped afterwards by the `Fresh` teardown
//! mod postgres {
//!     async fn fresh() -> admit_store::conformance::Fresh<MyPgStore> {
//!         let (store, schema) = MyPgStore::in_new_schema(&std::env::var("MY_TEST_PG_URL").unwrap()).await;
//!         let handle = store.clone();
//!         admit_store::conformance::Fresh::with_teardown(store, async move { handle.drop_schema(&schema).await })
//!     }
//!     admit_store::conformance_tests!(fresh(), enabled = std::env::var_os("MY_TEST_PG_URL").is_some());
//! }
//! ```
//!
//! The factory expression is evaluated once per case and must be a future whose output is
//! a [`Store`] (an `Arc<dyn Store>` works too), or a [`Fresh`] store carrying a teardown
//! that runs once the case is over, passed or failed (drop the case's schema, close the
//! pool). Each case starts its [`TestClock`] at [`TestClock::default_start`]; cases move it
//! by hand and never sleep.
//!
//! Without the macro, [`run_case`] runs one case and [`run_all`] runs every case in turn.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use admit_core::TestClock;

use crate::Store;

mod accounts;
mod arming;
mod atomicity;
mod audit;
mod concurrency;
pub mod fixtures;
mod orders;
mod outbox;
mod purge;
mod races;
mod rate_limit;
mod support;
mod timestamps;
mod tokens;

pub use accounts::*;
pub use arming::*;
pub use atomicity::*;
pub use audit::*;
pub use concurrency::*;
pub use orders::*;
pub use outbox::*;
pub use purge::*;
pub use races::*;
pub use rate_limit::*;
pub use timestamps::*;
pub use tokens::*;

/// A case, boxed: what [`TABLE`] holds.
pub type CaseFn = fn(Arc<dyn Store>, TestClock) -> Pin<Box<dyn Future<Output = ()> + Send>>;

/// Calls `$callback!` with `$args` and the list of every case: the one place the cases are
/// listed, so [`CASES`], [`TABLE`] and the tests `conformance_tests!` expands never differ.
#[doc(hidden)]
#[macro_export]
macro_rules! __admit_store_conformance_cases {
    ($callback:ident, $args:tt) => {
        $crate::$callback! { $args;
            accounts_insert_then_read_by_id_and_email,
            accounts_email_conflict_ignores_case,
            accounts_same_id_conflicts,
            accounts_update_with_current_version_applies,
            accounts_update_with_stale_version_is_refused,
            accounts_write_to_missing_account_is_stale,
            accounts_delete_removes_account_and_its_tokens,
            accounts_email_change_moves_the_key,
            accounts_batch_reads_by_emails_and_ids,
            accounts_every_field_round_trips,
            accounts_list_filters_by_grant,
            accounts_list_filters_by_kind,
            accounts_list_filters_by_status_at_now,
            accounts_list_filters_by_text,
            accounts_list_text_filter_folds_non_ascii_case,
            accounts_list_pages_by_id_without_gaps,
            accounts_list_filters_before_paging,
            accounts_count_per_status,
            accounts_count_platform_administrators,
            accounts_without_email_coexist,
            tokens_insert_then_read_by_selector,
            tokens_duplicate_selector_conflicts,
            tokens_new_token_replaces_live_one_of_same_purpose,
            tokens_revocation_by_purpose_and_all,
            tokens_consume_succeeds_once,
            tokens_consume_valid_until_expires_at_inclusive,
            tokens_consume_refused_when_revoked,
            tokens_consume_refused_on_epoch_mismatch,
            tokens_consume_refused_for_other_account,
            tokens_consume_refused_for_unknown_selector,
            time_timestamps_round_trip_exactly,
            outbox_enqueue_then_read_scrubbed,
            outbox_claim_hands_out_due_mails_oldest_first,
            outbox_claim_respects_the_limit,
            outbox_lease_holds_until_it_lapses,
            outbox_future_attempt_is_not_due,
            outbox_mark_sent_scrubs_the_secret,
            outbox_retry_reschedules,
            outbox_fail_gives_up_and_scrubs,
            outbox_release_takes_back_the_attempt,
            outbox_wrong_owner_is_refused,
            journal_never_shows_secrets,
            arming_reserved_token_is_never_consumed,
            arming_sets_then_replaces_the_verifier,
            arming_needs_the_lease,
            arming_supersedes_dead_links,
            arming_supersedes_links_of_a_changed_account,
            arming_temporary_password_only_in_its_epoch,
            cancellation_supersedes_pending_secret_mails,
            journal_filters,
            journal_pages_newest_first,
            rate_limit_allows_exactly_limit_per_window,
            rate_limit_window_resets,
            rate_limit_keys_are_independent,
            rate_limit_count_peeks_without_counting,
            audit_append_and_read_back,
            audit_filters,
            audit_pages_newest_first,
            atomicity_stale_version_leaves_nothing,
            atomicity_token_unavailable_leaves_nothing,
            atomicity_email_conflict_on_second_insert_leaves_nothing,
            atomicity_last_platform_administrator_leaves_nothing,
            atomicity_duplicate_ids_leave_nothing,
            atomicity_parts_apply_in_documented_order,
            concurrency_token_consumed_at_most_once,
            concurrency_claimers_never_share_a_leased_mail,
            concurrency_same_email_inserted_once,
            concurrency_stale_updates_one_wins,
            concurrency_rate_limit_is_exact,
            concurrency_last_platform_administrator_survives_write_skew,
            concurrency_reissue_leaves_one_live_token,
            concurrency_email_taken_once_by_concurrent_changes,
            concurrency_rate_limit_exact_every_round,
            concurrency_claims_are_exclusive_every_round,
            concurrency_consumption_racing_revocation_is_serial,
            tokens_of_lists_oldest_first_then_by_selector,
            outbox_claims_oldest_id_first,
            outbox_release_is_due_again_at_the_same_instant,
            rate_limit_window_length_is_part_of_the_key,
            accounts_u64_fields_keep_their_whole_range,
            outbox_owner_settles_a_lapsed_lease_nobody_took,
            purge_removes_old_tokens_and_windows_only,
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __admit_store_conformance_tables {
    ((); $($case:ident),* $(,)?) => {
        /// The name of every case, in the order [`run_all`] runs them.
        pub const CASES: &[&str] = &[$(stringify!($case)),*];

        /// Every case with its name, boxed.
        pub const TABLE: &[(&str, CaseFn)] = &[$((stringify!($case), boxed::$case as CaseFn)),*];

        mod boxed {
            use super::*;
            $(
                pub(super) fn $case(store: Arc<dyn Store>, clock: TestClock)
                    -> Pin<Box<dyn Future<Output = ()> + Send>> {
                    Box::pin(super::$case(store, clock))
                }
            )*
        }
    };
}

__admit_store_conformance_cases!(__admit_store_conformance_tables, ());

/// Expands one `#[test]` per conformance case, each on a fresh store.
///
/// `$factory` is an expression evaluated once per case; it must be a future whose output
/// implements [`Store`], or is a [`Fresh`](crate::conformance::Fresh) store whose teardown
/// runs once the case is over. With `enabled = <bool expression>`, every case returns at once
/// (passing, with a note on stderr) when the expression is false: for backends that need a
/// server which may be absent. Callers import nothing; put the call in a module to run the
/// suite on several stores in one test file.
///
/// ```rust,ignore
/// admit_store::conformance_tests!(async { admit_store::MemoryStore::new() });
/// ```
#[macro_export]
macro_rules! conformance_tests {
    ($factory:expr $(,)?) => {
        $crate::conformance_tests!($factory, enabled = true);
    };
    ($factory:expr, enabled = $enabled:expr $(,)?) => {
        $crate::__admit_store_conformance_cases!(__admit_store_conformance_tests, ($factory, $enabled));
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __admit_store_conformance_tests {
    (($factory:expr, $enabled:expr); $($case:ident),* $(,)?) => {
        /// The cases this expansion made a test of (compare with `admit_store::conformance::CASES`).
        #[allow(dead_code)]
        const ADMIT_STORE_CONFORMANCE_CASES: &[&str] = &[$(stringify!($case)),*];
        $(
            #[test]
            fn $case() {
                $crate::conformance::run_case($enabled, $factory, $crate::conformance::$case);
            }
        )*
    };
}

/// The teardown of a [`Fresh`] store: a future run once its case is over.
pub type Teardown = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A store made for one case, with what to run once the case is over (pass or fail):
/// drop the case's schema or database, close a pool, remove a file.
///
/// A factory of [`conformance_tests!`](crate::conformance_tests), [`run_case`] or
/// [`run_all`] may return a plain [`Store`] (nothing to clean) or a `Fresh` store:
///
/// ```rust,ignore
/// async fn fresh_store() -> admit_store::conformance::Fresh<MyStore> {
///     let schema = new_schema_name();
///     let store = MyStore::connect_in_schema(&url(), &schema).await.unwrap();
///     let handle = store.clone();
///     admit_store::conformance::Fresh::with_teardown(store, async move {
///         handle.close().await;
///         drop_schema(&schema).await;
///     })
/// }
/// admit_store::conformance_tests!(fresh_store());
/// ```
///
/// The teardown runs after the case returned or panicked, once the case has dropped its
/// handle on the store; a case's panic is reported after the teardown ran.
pub struct Fresh<S> {
    store: S,
    teardown: Option<Teardown>,
}

impl<S: Store> Fresh<S> {
    /// `store`, with nothing to clean afterwards.
    pub fn new(store: S) -> Self {
        Fresh { store, teardown: None }
    }

    /// `store`, and `teardown` to run once the case is over.
    pub fn with_teardown(store: S, teardown: impl Future<Output = ()> + Send + 'static) -> Self {
        Fresh { store, teardown: Some(Box::pin(teardown)) }
    }
}

impl<S: std::fmt::Debug> std::fmt::Debug for Fresh<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fresh").field("store", &self.store).field("teardown", &self.teardown.is_some()).finish()
    }
}

/// What a factory of the suite may return: any [`Store`] (an `Arc<dyn Store>` too), or a
/// [`Fresh`] store with a teardown.
pub trait IntoFresh {
    /// The store for the case, and its teardown if any.
    fn into_fresh(self) -> (Arc<dyn Store>, Option<Teardown>);
}

impl<S: Store> IntoFresh for S {
    fn into_fresh(self) -> (Arc<dyn Store>, Option<Teardown>) {
        (Arc::new(self), None)
    }
}

impl<S: Store> IntoFresh for Fresh<S> {
    fn into_fresh(self) -> (Arc<dyn Store>, Option<Teardown>) {
        (Arc::new(self.store), self.teardown)
    }
}

/// The message of a caught panic.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

/// Runs one case on the store `factory` produces, on a fresh multi-threaded tokio runtime
/// (4 workers) with a [`TestClock`] at [`TestClock::default_start`], then the store's
/// teardown if it is a [`Fresh`] one (even when the case failed). Does nothing when
/// `enabled` is false. This is what each test of
/// [`conformance_tests!`](crate::conformance_tests) calls.
///
/// # Panics
/// When the case finds a broken contract (the message states it), or the runtime cannot
/// be built.
pub fn run_case<O, F, C, CF>(enabled: bool, factory: F, case: C)
where
    O: IntoFresh,
    F: Future<Output = O>,
    C: FnOnce(Arc<dyn Store>, TestClock) -> CF,
    CF: Future<Output = ()>,
{
    if !enabled {
        eprintln!("admit-store conformance: store not enabled, case skipped");
        return;
    }
    let runtime = crate::__tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("the test runtime builds");
    let (store, teardown) = runtime.block_on(factory).into_fresh();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runtime.block_on(case(store, TestClock::default_start()));
    }));
    if let Some(teardown) = teardown {
        runtime.block_on(teardown);
    }
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// Runs every case in turn, each on a fresh store from `factory` (then its teardown, if it
/// is a [`Fresh`] store), from inside a tokio runtime (multi-threaded, for the concurrency
/// cases to mean anything).
///
/// # Panics
/// On the first failing case, naming it (after that case's teardown ran).
pub async fn run_all<O, F, Fut>(factory: F)
where
    O: IntoFresh,
    F: Fn() -> Fut,
    Fut: Future<Output = O>,
{
    for (name, case) in TABLE {
        let (store, teardown) = factory().await.into_fresh();
        let outcome = crate::__tokio::spawn(case(store, TestClock::default_start())).await;
        if let Some(teardown) = teardown {
            teardown.await;
        }
        if let Err(error) = outcome {
            let message = match error.try_into_panic() {
                Ok(panic) => panic_message(panic.as_ref()),
                Err(error) => error.to_string(),
            };
            panic!("conformance case {name} failed: {message}");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::{CASES, TABLE};

    const AREAS: [&str; 12] = [
        "accounts_",
        "tokens_",
        "outbox_",
        "journal_",
        "arming_",
        "cancellation_",
        "rate_limit_",
        "audit_",
        "atomicity_",
        "concurrency_",
        "time_",
        "purge_",
    ];

    /// Every `pub async fn` written in a case file, by scanning the sources.
    fn written_cases() -> BTreeSet<String> {
        let sources = [
            include_str!("accounts.rs"),
            include_str!("arming.rs"),
            include_str!("atomicity.rs"),
            include_str!("audit.rs"),
            include_str!("concurrency.rs"),
            include_str!("orders.rs"),
            include_str!("outbox.rs"),
            include_str!("purge.rs"),
            include_str!("races.rs"),
            include_str!("rate_limit.rs"),
            include_str!("timestamps.rs"),
            include_str!("tokens.rs"),
        ];
        let mut names = BTreeSet::new();
        for source in sources {
            for line in source.lines() {
                if let Some(rest) = line.strip_prefix("pub async fn ") {
                    let name = rest.split('(').next().unwrap_or_default();
                    assert!(
                        rest.contains("(store: Arc<dyn Store>, ") && rest.contains(": TestClock)"),
                        "case {name} has the signature (store: Arc<dyn Store>, clock: TestClock)"
                    );
                    names.insert(name.to_owned());
                }
            }
        }
        names
    }

    #[test]
    fn every_written_case_is_listed_once() {
        let listed: BTreeSet<String> = CASES.iter().map(|c| (*c).to_owned()).collect();
        assert_eq!(listed.len(), CASES.len(), "no case is listed twice");
        assert_eq!(
            listed,
            written_cases(),
            "the case list (CASES, TABLE, conformance_tests!) names every case written"
        );
        let table: Vec<&str> = TABLE.iter().map(|(name, _)| *name).collect();
        assert_eq!(table, CASES, "TABLE and CASES list the same cases in the same order");
    }

    #[test]
    fn every_case_names_its_area() {
        for case in CASES {
            assert!(AREAS.iter().any(|area| case.starts_with(area)), "{case} starts with an area prefix");
        }
        for area in AREAS {
            assert!(CASES.iter().any(|case| case.starts_with(area)), "the {area} area has cases");
        }
    }
}
