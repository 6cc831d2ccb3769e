//! [`MemoryStore`]: a complete, thread-safe in-memory store.

/// A complete in-memory [`crate::Store`] for tests and single-process hosts.
#[derive(Debug, Default)]
pub struct MemoryStore {}
