//! SmtpTransport against a small SMTP server started on 127.0.0.1 by each test.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use admit_mail::check::{sample_messages, transport_check};
use admit_mail::{Transport, TransportError};
use admit_mail_smtp::{SmtpError, SmtpTransport, Tls};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// Where the sink answers with an error instead of accepting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FailAt {
    Rcpt(u16),
    Data(u16),
}

#[derive(Debug, Clone, Default)]
struct SinkConfig {
    fail: Option<FailAt>,
    /// Required credentials (user, password) for AUTH PLAIN or LOGIN.
    auth: Option<(String, String)>,
    /// Stay silent after the greeting (to provoke a timeout).
    mute: bool,
    /// On the first connection only, never answer the end of DATA.
    stall_first_data: bool,
}

/// One transaction the sink accepted.
#[derive(Debug, Clone)]
struct Received {
    mail_from: String,
    rcpt_to: Vec<String>,
    data: Vec<u8>,
    authenticated_as: Option<String>,
}

#[derive(Clone)]
struct Sink {
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    connections: Arc<AtomicUsize>,
}

impl Sink {
    async fn start(config: SinkConfig) -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sink =
            Sink { port: listener.local_addr().unwrap().port(), received: Arc::default(), connections: Arc::default() };
        let shared = sink.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let index = shared.connections.fetch_add(1, Ordering::SeqCst);
                let (received, mut config) = (shared.received.clone(), config.clone());
                config.stall_first_data &= index == 0;
                tokio::spawn(async move {
                    let _ = serve(stream, config, received).await;
                });
            }
        });
        sink
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    fn transport(&self) -> SmtpTransport {
        SmtpTransport::builder_dangerous_plaintext("127.0.0.1")
            .port(self.port)
            .timeout(Duration::from_secs(5))
            .hello_name("client.test")
            .build()
            .unwrap()
    }
}

fn reply_text(code: u16) -> &'static str {
    match code {
        421 => "service not available",
        451 => "local error in processing, try again later",
        452 => "insufficient storage",
        550 => "mailbox unavailable",
        554 => "transaction failed",
        _ => "error",
    }
}

fn decode(text: &str) -> String {
    String::from_utf8(BASE64.decode(text.trim()).unwrap_or_default()).unwrap_or_default()
}

/// A minimal SMTP server: EHLO/HELO, AUTH PLAIN/LOGIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT.
async fn serve<S>(stream: S, config: SinkConfig, received: Arc<Mutex<Vec<Received>>>) -> std::io::Result<()>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin,
{
    let (read, mut write) = tokio::io::split(stream);
    let mut lines = BufReader::new(read);
    write.write_all(b"220 sink.test ESMTP ready\r\n").await?;
    if config.mute {
        tokio::time::sleep(Duration::from_secs(30)).await;
        return Ok(());
    }
    let mut line = String::new();
    let mut authenticated_as = None;
    let mut mail_from: Option<String> = None;
    let mut rcpt_to = Vec::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_owned();
        let upper = command.to_ascii_uppercase();
        let answer: String = if upper.starts_with("EHLO") {
            "250-sink.test\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n".into()
        } else if upper.starts_with("HELO") {
            "250 sink.test\r\n".into()
        } else if upper.starts_with("AUTH PLAIN") {
            let initial = command.split_whitespace().nth(2).map(str::to_owned);
            let payload = match initial {
                Some(payload) => payload,
                None => {
                    write.write_all(b"334 \r\n").await?;
                    line.clear();
                    lines.read_line(&mut line).await?;
                    line.trim().to_owned()
                }
            };
            let decoded = decode(&payload);
            let mut parts = decoded.split('\0').skip(1);
            let (user, pass) = (parts.next().unwrap_or("").to_owned(), parts.next().unwrap_or("").to_owned());
            check_auth(&config, user, pass, &mut authenticated_as)
        } else if upper.starts_with("AUTH LOGIN") {
            write.write_all(b"334 VXNlcm5hbWU6\r\n").await?;
            line.clear();
            lines.read_line(&mut line).await?;
            let user = decode(&line);
            write.write_all(b"334 UGFzc3dvcmQ6\r\n").await?;
            line.clear();
            lines.read_line(&mut line).await?;
            let pass = decode(&line);
            check_auth(&config, user, pass, &mut authenticated_as)
        } else if upper.starts_with("MAIL FROM:") {
            if config.auth.is_some() && authenticated_as.is_none() {
                "530 authentication required\r\n".into()
            } else {
                mail_from = Some(command["MAIL FROM:".len()..].split_whitespace().next().unwrap_or("").to_owned());
                rcpt_to.clear();
                "250 sender ok\r\n".into()
            }
        } else if upper.starts_with("RCPT TO:") {
            match config.fail {
                Some(FailAt::Rcpt(code)) => format!("{code} {}\r\n", reply_text(code)),
                _ => {
                    rcpt_to.push(command["RCPT TO:".len()..].trim().to_owned());
                    "250 recipient ok\r\n".into()
                }
            }
        } else if upper == "DATA" {
            if mail_from.is_none() || rcpt_to.is_empty() {
                "503 bad sequence of commands\r\n".into()
            } else {
                write.write_all(b"354 end data with <CR><LF>.<CR><LF>\r\n").await?;
                let mut data = Vec::new();
                loop {
                    let mut raw = Vec::new();
                    if lines.read_until(b'\n', &mut raw).await? == 0 {
                        return Ok(());
                    }
                    if raw == b".\r\n" {
                        break;
                    }
                    // Undo dot-stuffing (RFC 5321 section 4.5.2).
                    let raw = if raw.starts_with(b"..") { &raw[1..] } else { &raw[..] };
                    data.extend_from_slice(raw);
                }
                if config.stall_first_data {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    return Ok(());
                }
                let from = mail_from.take().unwrap_or_default();
                let to = std::mem::take(&mut rcpt_to);
                match config.fail {
                    Some(FailAt::Data(code)) => format!("{code} {}\r\n", reply_text(code)),
                    _ => {
                        received.lock().unwrap().push(Received {
                            mail_from: from,
                            rcpt_to: to,
                            data,
                            authenticated_as: authenticated_as.clone(),
                        });
                        "250 queued\r\n".into()
                    }
                }
            }
        } else if upper == "RSET" {
            mail_from = None;
            rcpt_to.clear();
            "250 reset\r\n".into()
        } else if upper == "NOOP" {
            "250 ok\r\n".into()
        } else if upper == "QUIT" {
            write.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            "502 command not implemented\r\n".into()
        };
        write.write_all(answer.as_bytes()).await?;
    }
}

fn check_auth(config: &SinkConfig, user: String, pass: String, authenticated_as: &mut Option<String>) -> String {
    match &config.auth {
        Some((u, p)) if *u == user && *p == pass => {
            *authenticated_as = Some(user);
            "235 authenticated\r\n".into()
        }
        _ => "535 authentication credentials invalid\r\n".into(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn smtp_transport_passes_the_transport_check() {
    let sink = Sink::start(SinkConfig::default()).await;
    let transport = sink.transport();
    transport_check(&transport, async || sink.received().into_iter().map(|r| r.data).collect()).await;

    let received = sink.received();
    let samples = sample_messages();
    for (got, sent) in received.iter().zip(&samples) {
        assert_eq!(got.mail_from, format!("<{}>", sent.from().address), "envelope sender");
        assert_eq!(got.rcpt_to, vec![format!("<{}>", sent.to().address)], "envelope recipient: only To");
        assert_eq!(got.authenticated_as, None);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn pooled_connections_are_reused() {
    let sink = Sink::start(SinkConfig::default()).await;
    let transport = sink.transport();
    let mut messages = sample_messages();
    messages.push(messages[0].clone());
    for message in messages {
        transport.send(&message).await.unwrap();
        // lettre hands a connection back to its pool from a spawned task: let it run.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(sink.received().len(), 3);
    assert_eq!(sink.connections.load(Ordering::SeqCst), 1, "three sends, one connection");
}

async fn send_failing(fail: FailAt) -> TransportError {
    let sink = Sink::start(SinkConfig { fail: Some(fail), ..SinkConfig::default() }).await;
    let err = sink.transport().send(&sample_messages()[0]).await.unwrap_err();
    assert!(sink.received().is_empty(), "{fail:?}: nothing accepted");
    err
}

#[tokio::test(flavor = "multi_thread")]
async fn replies_4xx_are_transient() {
    for fail in [FailAt::Rcpt(451), FailAt::Data(452), FailAt::Rcpt(421)] {
        let err = send_failing(fail).await;
        assert!(err.is_transient(), "{fail:?}: {err}");
        let code = match fail {
            FailAt::Rcpt(code) | FailAt::Data(code) => code,
        };
        assert_eq!(err.reason(), format!("smtp server deferred the message ({code})"));
        assert!(std::error::Error::source(&err).is_some(), "the smtp error is chained");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn replies_5xx_are_permanent() {
    for fail in [FailAt::Rcpt(550), FailAt::Data(554)] {
        let err = send_failing(fail).await;
        assert!(err.is_permanent(), "{fail:?}: {err}");
        let code = match fail {
            FailAt::Rcpt(code) | FailAt::Data(code) => code,
        };
        assert_eq!(
            err.to_string(),
            format!("permanent mail transport failure: smtp server refused the message ({code})")
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn connection_refused_is_transient() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().port()
    };
    let transport = SmtpTransport::builder_dangerous_plaintext("127.0.0.1")
        .port(port)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let err = transport.send(&sample_messages()[0]).await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert_eq!(err.reason(), "smtp connection failed");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_silent_server_times_out_transiently() {
    let sink = Sink::start(SinkConfig { mute: true, ..SinkConfig::default() }).await;
    let transport = SmtpTransport::builder_dangerous_plaintext("127.0.0.1")
        .port(sink.port)
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let err = transport.send(&sample_messages()[0]).await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert_eq!(err.reason(), "smtp exchange timed out");
    assert!(started.elapsed() < Duration::from_secs(5), "the timeout bounds the whole exchange");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connection_cut_off_mid_transaction_is_never_reused() {
    let sink = Sink::start(SinkConfig { stall_first_data: true, ..SinkConfig::default() }).await;
    let transport = SmtpTransport::builder_dangerous_plaintext("127.0.0.1")
        .port(sink.port)
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let samples = sample_messages();
    let err = transport.send(&samples[0]).await.unwrap_err();
    assert_eq!(err.reason(), "smtp exchange timed out");
    tokio::time::sleep(Duration::from_millis(200)).await;
    transport.send(&samples[1]).await.unwrap();
    let received = sink.received();
    assert_eq!(received.len(), 1, "only the second message was delivered, whole");
    admit_mail::check::assert_delivered(&received[0].data, &samples[1]);
    assert_eq!(sink.connections.load(Ordering::SeqCst), 2, "a fresh connection after the timeout");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tls_handshake_with_a_plaintext_server_fails_transiently() {
    let sink = Sink::start(SinkConfig::default()).await;
    let transport = SmtpTransport::builder("127.0.0.1")
        .tls(Tls::Implicit)
        .port(sink.port)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let err = transport.send(&sample_messages()[0]).await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(sink.received().is_empty());

    // STARTTLS is required: a server that does not offer it gets nothing.
    let transport = SmtpTransport::builder("127.0.0.1")
        .tls(Tls::StartTls)
        .port(sink.port)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let err = transport.send(&sample_messages()[0]).await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(sink.received().is_empty(), "no silent downgrade to plaintext");
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_authenticate_and_never_show_in_debug() {
    let password = "s3cret-Passw0rd-for-the-relay";
    let sink = Sink::start(SinkConfig {
        auth: Some(("mailer@example.org".to_owned(), password.to_owned())),
        ..SinkConfig::default()
    })
    .await;
    let builder = SmtpTransport::builder_dangerous_plaintext("127.0.0.1")
        .port(sink.port)
        .timeout(Duration::from_secs(5))
        .credentials("mailer@example.org", password.to_owned());
    assert!(!format!("{builder:?}").contains(password), "builder Debug");
    let transport = builder.build().unwrap();
    let debug = format!("{transport:?}");
    assert!(
        !debug.contains(password) && debug.contains("[redacted]") && debug.contains("mailer@example.org"),
        "{debug}"
    );

    transport.send(&sample_messages()[0]).await.unwrap();
    assert_eq!(sink.received()[0].authenticated_as.as_deref(), Some("mailer@example.org"));

    let wrong = SmtpTransport::builder_dangerous_plaintext("127.0.0.1")
        .port(sink.port)
        .timeout(Duration::from_secs(5))
        .credentials("mailer@example.org", "wrong".to_owned())
        .build()
        .unwrap();
    let err = wrong.send(&sample_messages()[0]).await.unwrap_err();
    assert!(err.is_permanent(), "535 is permanent: {err}");
    assert!(!err.to_string().contains(password) && !format!("{err:?}").contains(password));
    assert_eq!(sink.received().len(), 1);
}

#[test]
fn building_needs_a_runtime_and_dropping_outside_one_does_not_panic() {
    assert!(matches!(SmtpTransport::builder("smtp.example.org").build(), Err(SmtpError::NoRuntime)));
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let transport = runtime.block_on(async { SmtpTransport::builder("smtp.example.org").build().unwrap() });
    drop(runtime);
    drop(transport);
}

#[tokio::test(flavor = "multi_thread")]
async fn settings_are_checked_at_build() {
    assert!(matches!(SmtpTransport::builder("").build(), Err(SmtpError::InvalidHost)));
    assert!(matches!(SmtpTransport::builder("smtp example.org").build(), Err(SmtpError::InvalidHost)));
    assert_eq!(SmtpTransport::builder("smtp.example.org\r\n").build().unwrap().host(), "smtp.example.org", "trimmed");
    assert!(matches!(SmtpTransport::builder("smtp.example.org").pool_size(0).build(), Err(SmtpError::InvalidPoolSize)));
    assert!(matches!(
        SmtpTransport::builder("smtp.example.org").timeout(Duration::ZERO).build(),
        Err(SmtpError::InvalidTimeout)
    ));
    assert!(matches!(
        SmtpTransport::builder("smtp.example.org").credentials("a\nb", "p".to_owned()).build(),
        Err(SmtpError::InvalidUsername)
    ));
    assert!(matches!(
        SmtpTransport::builder("smtp.example.org").root_certificate_pem(b"not a pem".to_vec()).build(),
        Err(SmtpError::Tls(_))
    ));
    let default = SmtpTransport::builder("smtp.example.org").build().unwrap();
    assert_eq!((default.port(), default.tls()), (587, Tls::StartTls));
    let implicit = SmtpTransport::builder("smtp.example.org").tls(Tls::Implicit).build().unwrap();
    assert_eq!(implicit.port(), 465);
    let plain = SmtpTransport::builder_dangerous_plaintext("localhost").build().unwrap();
    assert_eq!((plain.port(), plain.tls(), plain.host()), (25, Tls::DangerousPlaintext, "localhost"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_transport_is_usable_as_a_shared_trait_object() {
    let sink = Sink::start(SinkConfig::default()).await;
    let transport: Arc<dyn Transport> = Arc::new(sink.transport());
    let clone = transport.clone();
    let samples = sample_messages();
    let (a, b) = tokio::join!(transport.send(&samples[0]), clone.send(&samples[1]));
    a.unwrap();
    b.unwrap();
    assert_eq!(sink.received().len(), 2);
}

/// Test certificates (ECDSA P-256, valid for a century), made with openssl: a private CA,
/// `localhost` and `other.example` server certificates it signed, and a self-signed
/// `localhost` certificate. Test-only keys: they protect nothing.
mod certs {
    pub const CA: &str = include_str!("data/ca.pem");
    pub const LOCALHOST: (&str, &str) = (include_str!("data/localhost.pem"), include_str!("data/localhost.key"));
    pub const OTHER: (&str, &str) = (include_str!("data/other.pem"), include_str!("data/other.key"));
    pub const SELF_SIGNED: (&str, &str) = (include_str!("data/selfsigned.pem"), include_str!("data/selfsigned.key"));
    pub const SELF_SIGNED_CN_ONLY: (&str, &str) =
        (include_str!("data/selfsigned-cn-only.pem"), include_str!("data/selfsigned-cn-only.key"));
}

/// The sink behind implicit TLS (port 465 style) with `identity` (certificate, key).
async fn start_tls_sink(identity: (&str, &str)) -> Sink {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = vec![CertificateDer::from_pem_slice(identity.0.as_bytes()).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(identity.1.as_bytes()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sink =
        Sink { port: listener.local_addr().unwrap().port(), received: Arc::default(), connections: Arc::default() };
    let shared = sink.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            shared.connections.fetch_add(1, Ordering::SeqCst);
            let (acceptor, received) = (acceptor.clone(), shared.received.clone());
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(stream).await {
                    let _ = serve(tls, SinkConfig::default(), received).await;
                }
            });
        }
    });
    sink
}

fn tls_transport(port: u16, root: Option<&str>) -> SmtpTransport {
    // `localhost` resolves to 127.0.0.1, where the sink listens; the name is what the
    // certificate is checked against.
    let mut builder = SmtpTransport::builder("localhost").tls(Tls::Implicit).port(port).timeout(Duration::from_secs(5));
    if let Some(pem) = root {
        builder = builder.root_certificate_pem(pem.as_bytes().to_vec());
    }
    builder.build().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_certificate_from_a_private_ca_is_trusted_once_the_ca_is_given() {
    let sink = start_tls_sink(certs::LOCALHOST).await;
    let sample = &sample_messages()[0];
    tls_transport(sink.port, Some(certs::CA)).send(sample).await.unwrap();
    let received = sink.received();
    assert_eq!(received.len(), 1);
    admit_mail::check::assert_delivered(&received[0].data, sample);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_untrusted_certificate_is_a_configuration_error_that_says_why() {
    let sink = start_tls_sink(certs::LOCALHOST).await;
    let err = tls_transport(sink.port, None).send(&sample_messages()[0]).await.unwrap_err();
    assert!(err.is_configuration() && !err.is_transient() && !err.is_permanent(), "{err}");
    assert!(err.reason().contains("not trusted") && err.reason().contains("root_certificate_pem"), "{err}");
    assert!(sink.received().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_certificate_for_another_name_is_a_configuration_error_that_says_why() {
    let sink = start_tls_sink(certs::OTHER).await;
    let err = tls_transport(sink.port, Some(certs::CA)).send(&sample_messages()[0]).await.unwrap_err();
    assert!(err.is_configuration(), "{err}");
    assert_eq!(err.reason(), "smtp server certificate does not match the host name");
    assert!(sink.received().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_self_signed_server_certificate_works_as_its_own_root_and_a_ca_one_is_refused_saying_why() {
    // A self-signed certificate with the host in subjectAltName and CA:FALSE can be its own
    // root. `openssl req -x509 -subj /CN=…` makes one with CA:TRUE and no subjectAltName:
    // refused, and the reason says what to do.
    let sink = start_tls_sink(certs::SELF_SIGNED).await;
    tls_transport(sink.port, Some(certs::SELF_SIGNED.0)).send(&sample_messages()[0]).await.unwrap();
    assert_eq!(sink.received().len(), 1);

    let sink = start_tls_sink(certs::SELF_SIGNED_CN_ONLY).await;
    let err =
        tls_transport(sink.port, Some(certs::SELF_SIGNED_CN_ONLY.0)).send(&sample_messages()[0]).await.unwrap_err();
    assert!(err.is_configuration(), "{err}");
    assert!(err.reason().contains("certificate authority's (CA:TRUE)"), "{err}");
    assert!(sink.received().is_empty());
}
