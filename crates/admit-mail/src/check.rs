//! The shared transport check: every [`Transport`] implementation runs it in its tests
//! (enable the `test-support` feature as a dev-dependency).

use admit_core::{Email, Timestamp};
use mail_parser::{MessageParser, MimeHeaders};

use crate::{Mailbox, Message, Transport};

fn email(text: &str) -> Email {
    Email::parse(text).expect("sample address is valid")
}

/// The messages [`transport_check`] sends: a French `multipart/alternative` mail with
/// accents, guillemets, a line starting with a dot, a `From ` line and a long line, and an
/// English text-only mail with a reply-to, a folded subject and an extra header.
pub fn sample_messages() -> Vec<Message> {
    let long_line = "Ce paragraphe est volontairement très long pour que l'encodage quoted-printable doive le couper en plusieurs lignes de moins de 76 caractères.";
    let first = Message::builder()
        .from(Mailbox::new("Plateforme Émeraude", email("no-reply@example.org")))
        .to(Mailbox::new("Zoë O'Brien-Łukasiewicz", email("Zoe.OBrien@example.fr")))
        .subject("Invitation à rejoindre « Émeraude » — créez votre mot de passe")
        .text(format!(
            "Bonjour Zoë,\n\n.Une ligne qui commence par un point.\n..Et deux points.\nFrom the start of a line.\n{long_line}\n\nÀ bientôt,\nL'équipe\n"
        ))
        .html("<p>Bonjour Zoë,</p>\n<p>.Un point &amp; « guillemets ».</p>\n")
        .message_id("admit-transport-check-1@example.org")
        .date(Timestamp::from_unix_micros(1_796_306_700_123_456))
        .header("X-Admit-Kind", "invitation")
        .build()
        .expect("sample message is valid");
    let second = Message::builder()
        .from(Mailbox::address(email("no-reply@example.org")))
        .to(Mailbox::address(email("jeanne.martin@example.com")))
        .reply_to(Mailbox::new("Support", email("help-desk@example.org")))
        .subject("Your password was changed: if it wasn't you, please contact support as soon as possible today")
        .text("Hello,\n\nThe password of your account was just changed.\n")
        .message_id("admit-transport-check-2.x@example.org")
        .date(Timestamp::from_unix_micros(1_796_306_760_000_000))
        .header("X-Admit-Mail-Id", "0190c2a4-1b2c-7d3e-8f40-123456789abc")
        .build()
        .expect("sample message is valid");
    vec![first, second]
}

/// Sends [`sample_messages`] through `transport`, then asks `delivered` for the raw bytes of
/// every message the backend received (in any order) and checks each one with
/// [`assert_delivered`]. Panics on any difference.
pub async fn transport_check<T, F>(transport: &T, delivered: F)
where
    T: Transport + ?Sized,
    F: AsyncFnOnce() -> Vec<Vec<u8>>,
{
    let samples = sample_messages();
    for message in &samples {
        if let Err(e) = transport.send(message).await {
            panic!("transport refused sample {}: {e} ({:?})", message.message_id(), std::error::Error::source(&e));
        }
    }
    let received = delivered().await;
    assert_eq!(received.len(), samples.len(), "every sent message is delivered once");
    for message in &samples {
        let raw = received
            .iter()
            .find(|raw| {
                MessageParser::default()
                    .parse(raw.as_slice())
                    .and_then(|p| p.message_id().map(str::to_owned))
                    .as_deref()
                    == Some(message.message_id())
            })
            .unwrap_or_else(|| panic!("message {} was not delivered", message.message_id()));
        assert_delivered(raw, message);
    }
}

fn normalise_body(text: &str) -> String {
    text.replace("\r\n", "\n").trim_end_matches('\n').to_owned()
}

/// Parses `raw` as RFC 5322 and checks it carries `expected`: subject (decoded), Message-ID,
/// Date (to the second), From, To, Reply-To with names, extra headers, the plain-text part
/// and the HTML part (or its absence). Panics on any difference.
pub fn assert_delivered(raw: &[u8], expected: &Message) {
    let id = expected.message_id();
    let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or_else(|| panic!("{id}: no header end"));
    let head = &raw[..head_end];
    assert!(head.is_ascii(), "{id}: headers are 7-bit ASCII");
    assert!(!head.windows(4).any(|w| w.eq_ignore_ascii_case(b"bcc:")), "{id}: no Bcc header");

    let parsed = MessageParser::default().parse(raw).unwrap_or_else(|| panic!("{id}: not a parsable message"));
    assert_eq!(parsed.subject(), Some(expected.subject()), "{id}: subject");
    assert_eq!(parsed.message_id(), Some(id), "{id}: message id");
    let date = parsed.date().unwrap_or_else(|| panic!("{id}: no date"));
    assert_eq!(date.to_timestamp(), expected.date().as_unix_micros().div_euclid(1_000_000), "{id}: date");

    let check_mailbox = |what: &str, got: Option<&mail_parser::Address<'_>>, want: Option<&Mailbox>| match want {
        None => assert!(got.is_none(), "{id}: unexpected {what}"),
        Some(want) => {
            let got = got.and_then(|a| a.first()).unwrap_or_else(|| panic!("{id}: no {what}"));
            assert_eq!(got.address(), Some(want.address.as_str()), "{id}: {what} address");
            assert_eq!(got.name(), want.name.as_deref(), "{id}: {what} name");
        }
    };
    check_mailbox("from", parsed.from(), Some(expected.from()));
    check_mailbox("to", parsed.to(), Some(expected.to()));
    check_mailbox("reply-to", parsed.reply_to(), expected.reply_to());

    for (name, value) in expected.headers() {
        assert_eq!(parsed.header_raw(name.as_str()).map(str::trim), Some(value.as_str()), "{id}: header {name}");
    }

    let root = parsed.root_part().content_type().unwrap_or_else(|| panic!("{id}: no content type"));
    let text = parsed.body_text(0).unwrap_or_else(|| panic!("{id}: no text part"));
    assert_eq!(normalise_body(&text), normalise_body(expected.text()), "{id}: text part");
    match expected.html() {
        Some(html) => {
            assert_eq!((root.ctype(), root.subtype()), ("multipart", Some("alternative")), "{id}: content type");
            assert_eq!(parsed.html_body_count(), 1, "{id}: one html part");
            let got = parsed.body_html(0).unwrap_or_else(|| panic!("{id}: no html part"));
            assert_eq!(normalise_body(&got), normalise_body(html), "{id}: html part");
        }
        None => assert_eq!((root.ctype(), root.subtype()), ("text", Some("plain")), "{id}: content type"),
    }
}
