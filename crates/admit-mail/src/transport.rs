//! The [`Transport`] trait and its error.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt::{self, Debug};
use std::sync::Arc;

use async_trait::async_trait;

use crate::Message;

/// A boxed error usable as a `#[source]`.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Delivers one [`Message`]. Hosts hold `Arc<dyn Transport>`.
///
/// # Contract
/// - `Ok(())` means the message was handed over for delivery (an SMTP server accepted it,
///   a file was written): the dispatcher marks the mail sent.
/// - An error says whether retrying may help ([`TransportError::is_transient`]) or not
///   ([`TransportError::is_permanent`]); the dispatcher retries the first with backoff and
///   gives up on the second.
/// - A message may be sent twice with the same Message-ID after a crash; transports do not
///   deduplicate (except [`FileTransport`](crate::FileTransport), which overwrites).
///
/// ```
/// use std::sync::Arc;
/// use admit_mail::{CaptureTransport, Transport};
///
/// let capture = CaptureTransport::new();
/// let transport: Arc<dyn Transport> = Arc::new(capture.clone());
/// # let _ = transport;
/// ```
#[async_trait]
pub trait Transport: Debug + Send + Sync + 'static {
    /// Sends `message`.
    ///
    /// # Errors
    /// A [`TransportError`], transient (connection, timeout, 4xx, I/O) or permanent
    /// (5xx, a message the backend can never accept).
    async fn send(&self, message: &Message) -> Result<(), TransportError>;
}

#[async_trait]
impl<T: Transport + ?Sized> Transport for Arc<T> {
    async fn send(&self, message: &Message) -> Result<(), TransportError> {
        (**self).send(message).await
    }
}

#[async_trait]
impl<T: Transport + ?Sized> Transport for Box<T> {
    async fn send(&self, message: &Message) -> Result<(), TransportError> {
        (**self).send(message).await
    }
}

/// Whether a failed send may succeed later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// Retrying may help: connection refused or reset, timeout, TLS handshake, SMTP 4xx, I/O.
    Transient,
    /// Retrying will not help: SMTP 5xx, a message the backend refuses.
    Permanent,
    /// Nothing will be sent until the host fixes its configuration: a server certificate
    /// the client does not trust or that names another host. Not the message's fault: the
    /// dispatcher retries it with backoff (like a transient failure) and logs an error.
    Configuration,
}

impl fmt::Display for TransportErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportErrorKind::Transient => "transient",
            TransportErrorKind::Permanent => "permanent",
            TransportErrorKind::Configuration => "configuration",
        })
    }
}

/// Why a [`Transport`] could not send a message.
///
/// The reason is a short, secret-free text (it ends up in the mail journal); the cause,
/// if any, is kept as the error's [`source`](StdError::source).
///
/// ```
/// use admit_mail::TransportError;
/// let err = TransportError::transient("connection refused")
///     .with_source(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
/// assert!(err.is_transient());
/// assert_eq!(err.to_string(), "transient mail transport failure: connection refused");
/// assert!(std::error::Error::source(&err).is_some());
/// ```
#[derive(Debug, thiserror::Error)]
#[error("{kind} mail transport failure: {reason}")]
pub struct TransportError {
    kind: TransportErrorKind,
    reason: Cow<'static, str>,
    #[source]
    source: Option<BoxError>,
}

impl TransportError {
    /// A failure that may succeed if retried. `reason` must not hold a secret.
    pub fn transient(reason: impl Into<Cow<'static, str>>) -> Self {
        TransportError { kind: TransportErrorKind::Transient, reason: reason.into(), source: None }
    }

    /// A failure that will not succeed if retried. `reason` must not hold a secret.
    pub fn permanent(reason: impl Into<Cow<'static, str>>) -> Self {
        TransportError { kind: TransportErrorKind::Permanent, reason: reason.into(), source: None }
    }

    /// A failure of the transport's configuration (see
    /// [`TransportErrorKind::Configuration`]). `reason` must say what to fix and hold no secret.
    pub fn configuration(reason: impl Into<Cow<'static, str>>) -> Self {
        TransportError { kind: TransportErrorKind::Configuration, reason: reason.into(), source: None }
    }

    /// Attaches the underlying cause.
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Transient, permanent or configuration.
    pub fn kind(&self) -> TransportErrorKind {
        self.kind
    }

    /// Whether retrying may help.
    pub fn is_transient(&self) -> bool {
        self.kind == TransportErrorKind::Transient
    }

    /// Whether retrying will not help.
    pub fn is_permanent(&self) -> bool {
        self.kind == TransportErrorKind::Permanent
    }

    /// Whether the host's configuration must change before anything can be sent.
    pub fn is_configuration(&self) -> bool {
        self.kind == TransportErrorKind::Configuration
    }

    /// The secret-free reason.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_exclusive() {
        let t = TransportError::transient("timeout");
        assert!(t.is_transient() && !t.is_permanent());
        assert_eq!(t.kind(), TransportErrorKind::Transient);
        let p = TransportError::permanent(String::from("mailbox unavailable"));
        assert!(p.is_permanent() && !p.is_transient());
        assert_eq!(p.reason(), "mailbox unavailable");
        assert_eq!(p.to_string(), "permanent mail transport failure: mailbox unavailable");
        assert!(StdError::source(&p).is_none());
    }

    #[test]
    fn source_is_chained_not_repeated() {
        let err = TransportError::transient("write failed").with_source(std::io::Error::other("disk full"));
        assert_eq!(StdError::source(&err).unwrap().to_string(), "disk full");
        assert!(!err.to_string().contains("disk full"));
    }

    #[test]
    fn trait_is_object_safe_and_arc_forwards() {
        fn assert_transport<T: Transport>(_: &T) {}
        let shared: Arc<dyn Transport> = Arc::new(crate::CaptureTransport::new());
        assert_transport(&shared);
        let boxed: Box<dyn Transport> = Box::new(crate::CaptureTransport::new());
        assert_transport(&boxed);
    }
}
