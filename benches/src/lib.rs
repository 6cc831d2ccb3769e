//! Criterion benchmarks of admit. Nothing to import: the benchmarks live in the bench
//! targets of this crate (`tokens`, `passwords`), with the floor and the peer crates they
//! are compared with; `docs/benchmarks.md` has the command and the figures.
//!
//! ```text
//! cargo bench --bench tokens
//! cargo bench --bench passwords
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
