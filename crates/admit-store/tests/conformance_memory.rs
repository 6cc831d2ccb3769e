//! The conformance suite on [`admit_store::MemoryStore`].

admit_store::conformance_tests!(async { admit_store::MemoryStore::new() });
