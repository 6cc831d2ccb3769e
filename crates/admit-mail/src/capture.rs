//! [`CaptureTransport`]: keeps sent messages in memory, for tests.

use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;

use crate::{Message, Transport, TransportError};

/// A transport that keeps every message in memory. Clones share the same list, so a test
/// keeps one clone and hands another to the code under test.
///
/// ```
/// # tokio_test_block_on(async {
/// use admit_core::{Email, Timestamp};
/// use admit_mail::{CaptureTransport, Mailbox, Message, Transport};
///
/// let capture = CaptureTransport::new();
/// let message = Message::builder()
///     .from(Mailbox::address(Email::parse("no-reply@example.org").unwrap()))
///     .to(Mailbox::address(Email::parse("jeanne@example.fr").unwrap()))
///     .subject("Bonjour")
///     .text("…")
///     .message_id("1@example.org")
///     .date(Timestamp::UNIX_EPOCH)
///     .build()
///     .unwrap();
/// capture.send(&message).await.unwrap();
/// assert_eq!(capture.len(), 1);
/// assert_eq!(capture.take(), vec![message]);
/// assert!(capture.is_empty());
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct CaptureTransport {
    sent: Arc<Mutex<Vec<Message>>>,
}

impl CaptureTransport {
    /// An empty capture.
    pub fn new() -> Self {
        CaptureTransport::default()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Message>> {
        self.sent.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A copy of every message sent so far, oldest first.
    pub fn messages(&self) -> Vec<Message> {
        self.lock().clone()
    }

    /// Removes and returns every message sent so far, oldest first.
    pub fn take(&self) -> Vec<Message> {
        std::mem::take(&mut *self.lock())
    }

    /// How many messages were sent and not taken.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no message is held.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

#[async_trait]
impl Transport for CaptureTransport {
    async fn send(&self, message: &Message) -> Result<(), TransportError> {
        self.lock().push(message.clone());
        Ok(())
    }
}
