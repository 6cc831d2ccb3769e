//! The conformance suite on [`admit_store::MemoryStore`].

admit_store::conformance_tests!(async { admit_store::MemoryStore::new() });

#[test]
fn the_macro_expands_every_case() {
    assert_eq!(ADMIT_STORE_CONFORMANCE_CASES, admit_store::conformance::CASES, "one test per case, none left out");
}

/// The same suite through `run_all`, on a store behind `Arc<dyn Store>`.
#[test]
fn run_all_runs_every_case() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(4).build().unwrap();
    runtime.block_on(admit_store::conformance::run_all(|| async {
        std::sync::Arc::new(admit_store::MemoryStore::new()) as std::sync::Arc<dyn admit_store::Store>
    }));
}

mod disabled {
    // A store that would fail every case: `enabled = false` must skip them all.
    admit_store::conformance_tests!(
        async { panic!("the factory of a disabled suite is never run") as admit_store::MemoryStore },
        enabled = false
    );
}
