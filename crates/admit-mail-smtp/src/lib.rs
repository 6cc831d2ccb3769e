#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use admit_mail::{Message, Transport, TransportError};
use async_trait::async_trait;
use lettre::transport::smtp::AsyncSmtpTransportBuilder;
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls as LettreTls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};

/// A boxed error usable as a `#[source]`.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why an [`SmtpTransport`] could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SmtpError {
    /// The host name is empty or holds white space or control characters.
    #[error("smtp host is invalid")]
    InvalidHost,
    /// The user name is empty or holds control characters.
    #[error("smtp user name is invalid")]
    InvalidUsername,
    /// The pool size is zero.
    #[error("smtp pool size must be at least 1")]
    InvalidPoolSize,
    /// The timeout is zero.
    #[error("smtp timeout must be positive")]
    InvalidTimeout,
    /// The TLS configuration (a root certificate, the host name for verification) was refused.
    #[error("smtp tls configuration is invalid")]
    Tls(#[source] BoxError),
    /// [`SmtpTransportBuilder::build`] was called outside a Tokio runtime (the connection
    /// pool runs a background task).
    #[error("smtp transport must be built inside a tokio runtime")]
    NoRuntime,
}

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Tls {
    /// TLS from the first byte (SMTPS, port 465 by default). The recommended choice.
    Implicit,
    /// Plaintext greeting, then `STARTTLS`, which is **required**: if the server does not offer
    /// it, nothing is sent (no silent downgrade). Port 587 by default.
    StartTls,
    /// No encryption at all (port 25 by default): mail and credentials cross the network in
    /// clear. Only for a relay on the same host or a private test network.
    DangerousPlaintext,
}

impl Tls {
    /// The usual port for this mode.
    pub const fn default_port(self) -> u16 {
        match self {
            Tls::Implicit => 465,
            Tls::StartTls => 587,
            Tls::DangerousPlaintext => 25,
        }
    }
}

/// Sends admit's mails to an SMTP server through a pool of connections (lettre, rustls).
///
/// Failures are classified for the dispatcher: SMTP 4xx replies, connection, TLS and
/// timeout errors are transient; 5xx replies are permanent.
///
/// Build it inside a Tokio runtime (the pool runs a background task). Dropped outside a
/// runtime, its idle connections are abandoned instead of closed politely.
///
/// ```
/// # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
/// use std::time::Duration;
/// use admit_mail_smtp::{SmtpTransport, Tls};
///
/// let transport = SmtpTransport::builder("smtp.example.org")
///     .tls(Tls::Implicit)
///     .credentials("mailer@example.org", "violet meadow under rain 42".to_owned())
///     .timeout(Duration::from_secs(20))
///     .pool_size(4)
///     .build()?;
/// assert!(!format!("{transport:?}").contains("horse"));
/// # Ok::<(), admit_mail_smtp::SmtpError>(())
/// # }).unwrap();
/// ```
pub struct SmtpTransport {
    /// The current pool; `None` only while dropping. Replaced after a timeout.
    pool: RwLock<Option<Arc<AsyncSmtpTransport<Tokio1Executor>>>>,
    /// Makes a fresh pool.
    factory: AsyncSmtpTransportBuilder,
    timeout: Duration,
    host: String,
    port: u16,
    tls: Tls,
    username: Option<String>,
}

impl fmt::Debug for SmtpTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpTransport")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.username.as_ref().map(|_| "[redacted]"))
            .finish_non_exhaustive()
    }
}

impl Drop for SmtpTransport {
    fn drop(&mut self) {
        // lettre's pool spawns its shutdown on the current Tokio runtime and panics without
        // one; outside a runtime, abandon the idle connections rather than panic.
        if tokio::runtime::Handle::try_current().is_err() {
            let pool = self.pool.get_mut().unwrap_or_else(|e| e.into_inner()).take();
            std::mem::forget(pool);
        }
    }
}

impl SmtpTransport {
    fn replace_pool(&self, stale: &Arc<AsyncSmtpTransport<Tokio1Executor>>) {
        let mut current = self.pool.write().unwrap_or_else(|e| e.into_inner());
        if current.as_ref().is_some_and(|c| Arc::ptr_eq(c, stale)) {
            *current = Some(Arc::new(self.factory.clone().build()));
        }
    }

    /// The default timeout of each SMTP exchange.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
    /// The default number of pooled connections.
    pub const DEFAULT_POOL_SIZE: u32 = 4;

    /// Starts a configuration for `host`, with [`Tls::StartTls`] (required) on port 587.
    pub fn builder(host: impl Into<String>) -> SmtpTransportBuilder {
        SmtpTransportBuilder {
            host: host.into(),
            port: None,
            tls: Tls::StartTls,
            credentials: None,
            timeout: Self::DEFAULT_TIMEOUT,
            pool_size: Self::DEFAULT_POOL_SIZE,
            hello_name: None,
            root_certificates: Vec::new(),
        }
    }

    /// Starts a configuration for `host` **without encryption** (port 25): for a relay on the
    /// same host, or tests. Prefer [`SmtpTransport::builder`].
    pub fn builder_dangerous_plaintext(host: impl Into<String>) -> SmtpTransportBuilder {
        Self::builder(host).tls(Tls::DangerousPlaintext)
    }

    /// The server host.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The server port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The protection of the connection.
    pub fn tls(&self) -> Tls {
        self.tls
    }
}

/// Configures an [`SmtpTransport`]; everything is checked in [`SmtpTransportBuilder::build`].
pub struct SmtpTransportBuilder {
    host: String,
    port: Option<u16>,
    tls: Tls,
    credentials: Option<(String, SecretString)>,
    timeout: Duration,
    pool_size: u32,
    hello_name: Option<String>,
    root_certificates: Vec<Vec<u8>>,
}

impl fmt::Debug for SmtpTransportBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpTransportBuilder")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.credentials.as_ref().map(|(u, _)| u))
            .field("password", &self.credentials.as_ref().map(|_| "[redacted]"))
            .field("timeout", &self.timeout)
            .field("pool_size", &self.pool_size)
            .field("hello_name", &self.hello_name)
            .field("root_certificates", &self.root_certificates.len())
            .finish()
    }
}

impl SmtpTransportBuilder {
    /// The port (default: [`Tls::default_port`] of the mode).
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// The protection of the connection.
    pub fn tls(mut self, tls: Tls) -> Self {
        self.tls = tls;
        self
    }

    /// Authenticates (PLAIN or LOGIN) with these credentials. The password is kept in a
    /// [`SecretString`] and never appears in `Debug`.
    pub fn credentials(mut self, username: impl Into<String>, password: impl Into<SecretString>) -> Self {
        self.credentials = Some((username.into(), password.into()));
        self
    }

    /// The longest one send may take: connecting, the TLS handshake, every command and the
    /// data (default [`SmtpTransport::DEFAULT_TIMEOUT`]). After a timeout every pooled
    /// connection is discarded, since a connection cut off mid-transaction must never be
    /// reused.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The most connections kept open to the server.
    pub fn pool_size(mut self, size: u32) -> Self {
        self.pool_size = size;
        self
    }

    /// The name announced in `EHLO` (default: lettre's).
    pub fn hello_name(mut self, name: impl Into<String>) -> Self {
        self.hello_name = Some(name.into());
        self
    }

    /// Trusts one more root certificate (PEM), e.g. a company relay's private CA. The
    /// Mozilla roots (webpki-roots) are always trusted.
    ///
    /// Give the certificate authority that signed the relay's certificate. A self-signed
    /// relay certificate can be given as its own root only if it is a server certificate
    /// (`CA:FALSE`) naming the host in subjectAltName; one made with a bare
    /// `openssl req -x509 -subj /CN=…` is a CA certificate without subjectAltName and is
    /// refused. A refused certificate is a [`TransportErrorKind::Configuration`] error whose
    /// reason says why (not trusted, name mismatch, expired, a CA certificate).
    ///
    /// [`TransportErrorKind::Configuration`]: admit_mail::TransportErrorKind::Configuration
    pub fn root_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root_certificates.push(pem.into());
        self
    }

    /// Checks the settings and builds the transport; no connection is opened yet.
    ///
    /// # Errors
    /// [`SmtpError::InvalidHost`], [`SmtpError::InvalidUsername`],
    /// [`SmtpError::InvalidPoolSize`], [`SmtpError::InvalidTimeout`], [`SmtpError::Tls`], or
    /// [`SmtpError::NoRuntime`] outside
    /// a Tokio runtime.
    pub fn build(self) -> Result<SmtpTransport, SmtpError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(SmtpError::NoRuntime);
        }
        let host = self.host.trim().to_owned();
        if host.is_empty() || host.len() > 253 || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(SmtpError::InvalidHost);
        }
        if self.pool_size == 0 {
            return Err(SmtpError::InvalidPoolSize);
        }
        let port = self.port.unwrap_or(self.tls.default_port());

        let lettre_tls = match self.tls {
            Tls::DangerousPlaintext => LettreTls::None,
            Tls::Implicit | Tls::StartTls => {
                let mut params = TlsParameters::builder(host.clone());
                for pem in &self.root_certificates {
                    if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
                        return Err(SmtpError::Tls("root certificate PEM holds no certificate".into()));
                    }
                    let cert = Certificate::from_pem(pem).map_err(|e| SmtpError::Tls(Box::new(e)))?;
                    params = params.add_root_certificate(cert);
                }
                let params = params.build_rustls().map_err(|e| SmtpError::Tls(Box::new(e)))?;
                if self.tls == Tls::Implicit { LettreTls::Wrapper(params) } else { LettreTls::Required(params) }
            }
        };

        if self.timeout.is_zero() {
            return Err(SmtpError::InvalidTimeout);
        }
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.clone())
            .port(port)
            .tls(lettre_tls)
            .timeout(Some(self.timeout))
            .pool_config(PoolConfig::new().max_size(self.pool_size));
        if let Some(name) = self.hello_name {
            if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(SmtpError::InvalidHost);
            }
            builder = builder.hello_name(ClientId::Domain(name));
        }
        let mut username = None;
        if let Some((user, password)) = self.credentials {
            if user.is_empty() || user.chars().any(char::is_control) {
                return Err(SmtpError::InvalidUsername);
            }
            builder = builder.credentials(Credentials::new(user.clone(), password.expose_secret().to_owned()));
            username = Some(user);
        }
        Ok(SmtpTransport {
            pool: RwLock::new(Some(Arc::new(builder.clone().build()))),
            factory: builder,
            timeout: self.timeout,
            host,
            port,
            tls: self.tls,
            username,
        })
    }
}

fn envelope(message: &Message) -> Result<lettre::address::Envelope, TransportError> {
    let address = |mailbox: &admit_mail::Mailbox| {
        lettre::Address::new(mailbox.address.local_part(), mailbox.address.domain())
            .map_err(|e| TransportError::permanent("address refused by the smtp client").with_source(e))
    };
    lettre::address::Envelope::new(Some(address(message.from())?), vec![address(message.to())?])
        .map_err(|e| TransportError::permanent("invalid smtp envelope").with_source(e))
}

/// Why the server's certificate was refused, if that is what failed: the TLS handshake
/// error sits inside an I/O error inside lettre's connection error.
fn certificate_problem(error: &(dyn std::error::Error + 'static)) -> Option<&'static str> {
    use rustls::{CertificateError, Error as TlsError};
    let mut next = Some(error);
    while let Some(error) = next {
        let tls = error.downcast_ref::<TlsError>().or_else(|| {
            error.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()).and_then(|inner| inner.downcast_ref())
        });
        if let Some(TlsError::InvalidCertificate(problem)) = tls {
            return Some(match problem {
                CertificateError::UnknownIssuer => {
                    "smtp server certificate is not trusted (unknown issuer): trust the relay's certificate \
                     authority with root_certificate_pem"
                }
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                    "smtp server certificate does not match the host name"
                }
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    "smtp server certificate has expired"
                }
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                    "smtp server certificate is not valid yet"
                }
                CertificateError::Revoked => "smtp server certificate is revoked",
                CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
                    "smtp server certificate is not for server authentication"
                }
                CertificateError::Other(other)
                    if matches!(other.0.downcast_ref::<webpki::Error>(), Some(webpki::Error::CaUsedAsEndEntity)) =>
                {
                    "smtp server certificate is a certificate authority's (CA:TRUE), not a server's: \
                     give that CA with root_certificate_pem and have the relay present a server \
                     certificate it signed"
                }
                _ => "smtp server certificate was refused (not a valid certificate chain for this host)",
            });
        }
        next = error.source();
    }
    None
}

/// Sorts an SMTP failure into transient, permanent or configuration, with a secret-free
/// reason.
fn classify(error: lettre::transport::smtp::Error) -> TransportError {
    let code = error.status().map(|c| c.to_string());
    let classified = if let Some(problem) = certificate_problem(&error) {
        TransportError::configuration(problem)
    } else if error.is_permanent() {
        TransportError::permanent(format!("smtp server refused the message ({})", code.as_deref().unwrap_or("5xx")))
    } else if error.is_transient() {
        TransportError::transient(format!("smtp server deferred the message ({})", code.as_deref().unwrap_or("4xx")))
    } else if error.is_timeout() {
        TransportError::transient("smtp exchange timed out")
    } else if error.is_tls() {
        TransportError::transient("smtp tls handshake failed")
    } else {
        // Connection refused or reset, network errors, unparsable replies, shutdown.
        TransportError::transient("smtp connection failed")
    };
    classified.with_source(error)
}

#[async_trait]
impl Transport for SmtpTransport {
    async fn send(&self, message: &Message) -> Result<(), TransportError> {
        let envelope = envelope(message)?;
        let bytes = message.to_rfc5322();
        let Some(pool) = self.pool.read().unwrap_or_else(|e| e.into_inner()).clone() else {
            return Err(TransportError::transient("smtp transport is shut down"));
        };
        match tokio::time::timeout(self.timeout, pool.send_raw(&envelope, &bytes)).await {
            Ok(result) => result.map(|_| ()).map_err(classify),
            Err(_) => {
                // lettre bounds only the TCP connect; the whole exchange is bounded here. The
                // interrupted connection goes back to `pool` in an unknown state (perhaps
                // inside DATA), so the whole pool is replaced and dropped once idle.
                self.replace_pool(&pool);
                Err(TransportError::transient("smtp exchange timed out"))
            }
        }
    }
}
