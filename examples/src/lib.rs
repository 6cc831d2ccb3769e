//! Examples of admit live under `examples/`; run `cargo run --example quickstart`.
