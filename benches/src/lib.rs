//! Criterion benchmarks of admit. Nothing to import: the benchmarks live in the bench
//! targets of this crate (`tokens`, `passwords`, `workflow`, `load`), with the floor and the peer crates they
//! are compared with; `docs/benchmarks.md` has the command and the figures.
//!
//! ```text
//! cargo bench --bench tokens
//! cargo bench --bench passwords
//! cargo bench --bench workflow
//! cargo bench --bench load
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
