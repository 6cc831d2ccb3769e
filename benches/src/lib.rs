//! Criterion benchmarks of admit. Nothing to import: the benchmarks live in the bench
//! targets of this crate; `docs/benchmarks.md` has the command and the figures.
//!
//! ```text
//! cargo bench --bench load
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
