//! The token never reaches a log: a whole link flow traced at TRACE level into a buffer.
//! Alone in its binary, so no other test thread races tracing's per-callsite interest cache
//! while the scoped subscriber is installed.

mod support;

use std::sync::{Arc, Mutex};

use support::{Client, World, app};

const GOOD: &str = "copper lantern evening tide";

#[tokio::test]
async fn the_token_is_never_written_to_the_logs() {
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(data);
            Ok(data.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let w = World::new().await;
    let link = w.invite("ada@example.org", "Ada Lovelace", "en").await;
    let token = link.split("token=").nth(1).unwrap().to_owned();
    let mut c = Client::new(app(w.admit.clone()));
    let page = c.get(&link).await;
    c.post(&link, &[("csrf", &page.csrf()), ("token", &token), ("password", "short"), ("confirmation", "short")]).await;
    c.post(&link, &[("csrf", &page.csrf()), ("token", &token), ("password", GOOD), ("confirmation", GOOD)]).await;
    c.get(&link).await;
    c.get(&format!("{link}x")).await;

    let logs = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("link completed"), "the flow was traced: {logs}");
    assert!(logs.contains("event=\"link_refused\""), "{logs}");
    // Neither the token, nor its verifier half, nor the query string appear.
    let verifier = &token[token.len() - 20..];
    assert!(!logs.contains(&token) && !logs.contains(verifier) && !logs.contains("token="), "{logs}");
}
