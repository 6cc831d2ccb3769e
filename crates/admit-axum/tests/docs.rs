//! docs/web.md shows the host example verbatim, so the code a reader copies is the code
//! the tests compile and serve.

#[test]
fn web_md_shows_the_example_verbatim() {
    let doc = include_str!("../../../docs/web.md");
    let example = include_str!("../examples/host.rs");
    assert!(doc.contains(&format!("```rust\n{example}```")), "docs/web.md must show examples/host.rs as it is");
    assert!(example.lines().count() < 30, "the host fits in under 30 lines");
}

#[test]
fn web_md_shows_the_console_example_verbatim() {
    let doc = include_str!("../../../docs/web.md");
    let example = include_str!("../examples/console_host.rs");
    assert!(doc.contains(&format!("```rust\n{example}```")), "docs/web.md must show examples/console_host.rs as it is");
}
