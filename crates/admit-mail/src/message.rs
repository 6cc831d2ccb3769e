//! [`Message`]: one validated mail, and its RFC 5322 form.

use std::fmt;
use std::time::SystemTime;

use admit_core::{Email, Timestamp};

/// Longest display name accepted in a [`Mailbox`], in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest subject accepted, in characters.
pub const MAX_SUBJECT_CHARS: usize = 400;
/// Longest Message-ID accepted (without angle brackets), in bytes.
pub const MAX_MESSAGE_ID_LEN: usize = 250;
/// Longest plain-text or HTML body accepted, in bytes.
pub const MAX_BODY_LEN: usize = 1 << 20;
/// Most extra headers a message may carry.
pub const MAX_EXTRA_HEADERS: usize = 32;
/// Longest extra header name, in bytes.
pub const MAX_HEADER_NAME_LEN: usize = 64;
/// Longest extra header value, in characters.
pub const MAX_HEADER_VALUE_CHARS: usize = 900;

/// Why a [`Message`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
    /// A required field was not given.
    #[error("message has no {0}")]
    Missing(&'static str),
    /// A header value holds a control character (CR, LF, NUL, …) or a bidirectional override.
    #[error("{0} contains a control character")]
    ControlCharacter(&'static str),
    /// A field is longer than its bound.
    #[error("{0} is too long")]
    TooLong(&'static str),
    /// The subject is empty or only white space.
    #[error("subject is empty")]
    EmptySubject,
    /// The Message-ID is not `left@right` made of RFC 5322 atom characters.
    #[error("message id is malformed")]
    InvalidMessageId,
    /// An extra header name is not `X-` followed by ASCII letters, digits and dashes.
    #[error("header name is not an accepted custom header")]
    InvalidHeaderName,
    /// The same extra header name was given twice.
    #[error("header name appears twice")]
    DuplicateHeader,
    /// More than [`MAX_EXTRA_HEADERS`] extra headers.
    #[error("too many headers")]
    TooManyHeaders,
    /// The mail library refused an address or the message (should not happen once validated).
    #[error("message cannot be formatted")]
    Format,
}

/// Characters refused in every header value: control characters (CR, LF, NUL, TAB, DEL, C1)
/// and the bidirectional embeddings, overrides and isolates that can disguise text.
pub(crate) fn is_forbidden_in_header(c: char) -> bool {
    c.is_control() || is_bidi_control(c)
}

/// Bidirectional formatting characters (embeddings, overrides, isolates, marks).
pub(crate) fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// A sender or recipient: an optional display name and an address.
#[derive(Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// The display name (« Jeanne Martin »), if any.
    pub name: Option<String>,
    /// The address.
    pub address: Email,
}

impl Mailbox {
    /// A mailbox with a display name.
    pub fn new(name: impl Into<String>, address: Email) -> Self {
        Mailbox { name: Some(name.into()), address }
    }

    /// A mailbox without a display name.
    pub fn address(address: Email) -> Self {
        Mailbox { name: None, address }
    }

    fn validate(&self, what: &'static str) -> Result<(), MessageError> {
        if let Some(name) = &self.name {
            if name.chars().any(is_forbidden_in_header) {
                return Err(MessageError::ControlCharacter(what));
            }
            if name.chars().count() > MAX_NAME_CHARS {
                return Err(MessageError::TooLong(what));
            }
        }
        Ok(())
    }

    fn to_lettre(&self) -> Result<lettre::message::Mailbox, MessageError> {
        let address =
            lettre::Address::new(self.address.local_part(), self.address.domain()).map_err(|_| MessageError::Format)?;
        let name = self.name.as_ref().map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
        Ok(lettre::message::Mailbox::new(name, address))
    }
}

impl fmt::Debug for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{name:?} <{}>", self.address),
            None => write!(f, "<{}>", self.address),
        }
    }
}

impl fmt::Display for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{name} <{}>", self.address),
            None => write!(f, "<{}>", self.address),
        }
    }
}

/// One mail, validated so that no header can be injected: build it with [`Message::builder`].
///
/// ```
/// use admit_core::{Email, Timestamp};
/// use admit_mail::{Mailbox, Message};
///
/// let message = Message::builder()
///     .from(Mailbox::new("Plateforme", Email::parse("no-reply@example.org")?))
///     .to(Mailbox::new("Jeanne Martin", Email::parse("jeanne@example.fr")?))
///     .subject("Invitation à rejoindre la plateforme")
///     .text("Bonjour Jeanne,\n…")
///     .html("<p>Bonjour Jeanne,</p>")
///     .message_id("0190c2a4-1b2c-7d3e-8f40-123456789abc@example.org")
///     .date(Timestamp::from_unix_micros(1_796_306_700_000_000))
///     .build()?;
/// let bytes = message.to_rfc5322();
/// assert!(String::from_utf8_lossy(&bytes).contains("Message-ID: <0190c2a4-1b2c-7d3e-8f40-123456789abc@example.org>"));
///
/// let injected = Message::builder()
///     .from(Mailbox::address(Email::parse("no-reply@example.org")?))
///     .to(Mailbox::address(Email::parse("jeanne@example.fr")?))
///     .subject("Hello\r\nBcc: eve@evil.example")
///     .text("…")
///     .message_id("1@example.org")
///     .date(Timestamp::UNIX_EPOCH)
///     .build();
/// assert!(injected.is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Message {
    from: Mailbox,
    to: Mailbox,
    reply_to: Option<Mailbox>,
    subject: String,
    text: String,
    html: Option<String>,
    message_id: String,
    date: Timestamp,
    headers: Vec<(String, String)>,
}

impl Message {
    /// Starts a message.
    pub fn builder() -> MessageBuilder {
        MessageBuilder::default()
    }

    /// The sender.
    pub fn from(&self) -> &Mailbox {
        &self.from
    }

    /// The recipient.
    pub fn to(&self) -> &Mailbox {
        &self.to
    }

    /// Where replies go, if not to the sender.
    pub fn reply_to(&self) -> Option<&Mailbox> {
        self.reply_to.as_ref()
    }

    /// The subject line.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The plain-text body.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The HTML body, if any.
    pub fn html(&self) -> Option<&str> {
        self.html.as_deref()
    }

    /// The Message-ID, without angle brackets.
    pub fn message_id(&self) -> &str {
        &self.message_id
    }

    /// The Date header's instant.
    pub fn date(&self) -> Timestamp {
        self.date
    }

    /// Extra `X-` headers, in order.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The message in RFC 5322 form, CRLF line endings: `multipart/alternative` when there is an
    /// HTML part, UTF-8 bodies in quoted-printable or base64 as needed, RFC 2047 encoded
    /// subject and names, the given Message-ID and Date.
    pub fn to_rfc5322(&self) -> Vec<u8> {
        // `build` already formatted this very message once and refused it on failure, and
        // formatting depends on nothing else, so the error branch cannot be taken.
        self.format().unwrap_or_default()
    }

    fn format(&self) -> Result<Vec<u8>, MessageError> {
        use lettre::message::header::{HeaderName, HeaderValue, MessageId};
        use lettre::message::{MultiPart, SinglePart};

        let mut builder = lettre::Message::builder()
            .from(self.from.to_lettre()?)
            .to(self.to.to_lettre()?)
            .subject(self.subject.clone())
            .header(MessageId::from(format!("<{}>", self.message_id)))
            .date(SystemTime::from(self.date.to_datetime()));
        if let Some(reply_to) = &self.reply_to {
            builder = builder.reply_to(reply_to.to_lettre()?);
        }
        for (name, value) in &self.headers {
            let name = HeaderName::new_from_ascii(name.clone()).map_err(|_| MessageError::InvalidHeaderName)?;
            builder = builder.raw_header(HeaderValue::new(name, value.clone()));
        }
        let built = match &self.html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(self.text.clone(), html.clone())),
            None => builder.singlepart(SinglePart::plain(self.text.clone())),
        };
        built.map(|message| message.formatted()).map_err(|_| MessageError::Format)
    }
}

/// Builds a [`Message`]; every check happens in [`MessageBuilder::build`].
#[derive(Clone, Default)]
pub struct MessageBuilder {
    from: Option<Mailbox>,
    to: Option<Mailbox>,
    reply_to: Option<Mailbox>,
    subject: Option<String>,
    text: Option<String>,
    html: Option<String>,
    message_id: Option<String>,
    date: Option<Timestamp>,
    headers: Vec<(String, String)>,
}

/// The bodies may hold a link or a temporary password: `Debug` shows their sizes only.
fn body_len(body: Option<&str>) -> String {
    body.map_or_else(|| "None".to_owned(), |b| format!("[{} bytes]", b.len()))
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("from", &self.from)
            .field("to", &self.to)
            .field("reply_to", &self.reply_to)
            .field("subject", &self.subject)
            .field("text", &format_args!("{}", body_len(Some(&self.text))))
            .field("html", &format_args!("{}", body_len(self.html.as_deref())))
            .field("message_id", &self.message_id)
            .field("date", &self.date)
            .field("headers", &self.headers)
            .finish()
    }
}

impl fmt::Debug for MessageBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageBuilder")
            .field("from", &self.from)
            .field("to", &self.to)
            .field("subject", &self.subject)
            .field("text", &format_args!("{}", body_len(self.text.as_deref())))
            .field("html", &format_args!("{}", body_len(self.html.as_deref())))
            .field("message_id", &self.message_id)
            .finish_non_exhaustive()
    }
}

impl MessageBuilder {
    /// The sender (required).
    pub fn from(mut self, from: Mailbox) -> Self {
        self.from = Some(from);
        self
    }

    /// The recipient (required).
    pub fn to(mut self, to: Mailbox) -> Self {
        self.to = Some(to);
        self
    }

    /// Where replies go.
    pub fn reply_to(mut self, reply_to: Mailbox) -> Self {
        self.reply_to = Some(reply_to);
        self
    }

    /// The subject (required, non-empty).
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// The plain-text body (required).
    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }

    /// The HTML body; the message becomes `multipart/alternative`.
    pub fn html(mut self, html: impl Into<String>) -> Self {
        self.html = Some(html.into());
        self
    }

    /// The Message-ID without angle brackets, e.g. `0190c2a4-…@example.org` (required).
    pub fn message_id(mut self, message_id: impl Into<String>) -> Self {
        self.message_id = Some(message_id.into());
        self
    }

    /// The Date header's instant (required: time comes from the caller's clock).
    pub fn date(mut self, date: Timestamp) -> Self {
        self.date = Some(date);
        self
    }

    /// Adds a custom header; its name must be `X-` followed by ASCII letters, digits and dashes.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Validates and builds the message.
    ///
    /// # Errors
    /// A [`MessageError`] naming the first field refused: a missing field, a control
    /// character or bidirectional override in a header value, a bound exceeded, a malformed
    /// Message-ID or a refused header name.
    pub fn build(self) -> Result<Message, MessageError> {
        let from = self.from.ok_or(MessageError::Missing("sender"))?;
        let to = self.to.ok_or(MessageError::Missing("recipient"))?;
        let subject = self.subject.ok_or(MessageError::Missing("subject"))?;
        let text = self.text.ok_or(MessageError::Missing("text body"))?;
        let message_id = self.message_id.ok_or(MessageError::Missing("message id"))?;
        let date = self.date.ok_or(MessageError::Missing("date"))?;

        from.validate("sender name")?;
        to.validate("recipient name")?;
        if let Some(reply_to) = &self.reply_to {
            reply_to.validate("reply-to name")?;
        }

        if subject.chars().any(is_forbidden_in_header) {
            return Err(MessageError::ControlCharacter("subject"));
        }
        if subject.chars().count() > MAX_SUBJECT_CHARS {
            return Err(MessageError::TooLong("subject"));
        }
        if subject.trim().is_empty() {
            return Err(MessageError::EmptySubject);
        }

        if text.len() > MAX_BODY_LEN {
            return Err(MessageError::TooLong("text body"));
        }
        if text.contains('\0') {
            return Err(MessageError::ControlCharacter("text body"));
        }
        if let Some(html) = &self.html {
            if html.len() > MAX_BODY_LEN {
                return Err(MessageError::TooLong("html body"));
            }
            if html.contains('\0') {
                return Err(MessageError::ControlCharacter("html body"));
            }
        }

        validate_message_id(&message_id)?;

        if self.headers.len() > MAX_EXTRA_HEADERS {
            return Err(MessageError::TooManyHeaders);
        }
        for (i, (name, value)) in self.headers.iter().enumerate() {
            validate_header_name(name)?;
            if self.headers[..i].iter().any(|(other, _)| other.eq_ignore_ascii_case(name)) {
                return Err(MessageError::DuplicateHeader);
            }
            if value.chars().any(is_forbidden_in_header) {
                return Err(MessageError::ControlCharacter("header value"));
            }
            if value.chars().count() > MAX_HEADER_VALUE_CHARS {
                return Err(MessageError::TooLong("header value"));
            }
        }

        let message = Message {
            from,
            to,
            reply_to: self.reply_to,
            subject,
            text,
            html: self.html,
            message_id,
            date,
            headers: self.headers,
        };
        // The addresses are admit_core::Email values; make sure the formatter agrees before
        // promising bytes from `to_rfc5322`.
        message.format()?;
        Ok(message)
    }
}

/// `atext` of RFC 5322 besides letters and digits.
const ATEXT_SPECIALS: &str = "!#$%&'*+-/=?^_`{|}~";

fn is_dot_atom(text: &str) -> bool {
    !text.is_empty()
        && !text.starts_with('.')
        && !text.ends_with('.')
        && !text.contains("..")
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || ATEXT_SPECIALS.contains(c))
}

fn validate_message_id(id: &str) -> Result<(), MessageError> {
    if id.chars().any(is_forbidden_in_header) {
        return Err(MessageError::ControlCharacter("message id"));
    }
    if id.len() > MAX_MESSAGE_ID_LEN {
        return Err(MessageError::TooLong("message id"));
    }
    match id.split_once('@') {
        Some((left, right)) if is_dot_atom(left) && is_dot_atom(right) => Ok(()),
        _ => Err(MessageError::InvalidMessageId),
    }
}

fn validate_header_name(name: &str) -> Result<(), MessageError> {
    let rest = match name.get(..2) {
        Some(prefix) if prefix.eq_ignore_ascii_case("x-") => &name[2..],
        _ => return Err(MessageError::InvalidHeaderName),
    };
    let valid = name.len() <= MAX_HEADER_NAME_LEN
        && !rest.is_empty()
        && !rest.starts_with('-')
        && !rest.ends_with('-')
        && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if valid { Ok(()) } else { Err(MessageError::InvalidHeaderName) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(text: &str) -> Email {
        Email::parse(text).unwrap()
    }

    fn base() -> MessageBuilder {
        Message::builder()
            .from(Mailbox::new("Plateforme Émeraude", email("no-reply@example.org")))
            .to(Mailbox::new("Jeanne Martin", email("jeanne@example.fr")))
            .subject("Invitation à rejoindre la plateforme")
            .text("Bonjour Jeanne,\nVoici votre lien.")
            .message_id("0190c2a4-1b2c-7d3e-8f40-123456789abc@example.org")
            .date(Timestamp::from_unix_micros(1_796_306_700_000_000))
    }

    #[test]
    fn a_complete_message_builds() {
        let message = base().html("<p>Bonjour</p>").header("X-Admit-Kind", "invitation").build().unwrap();
        assert_eq!(message.subject(), "Invitation à rejoindre la plateforme");
        assert_eq!(message.headers(), &[("X-Admit-Kind".to_owned(), "invitation".to_owned())]);
    }

    #[test]
    fn missing_fields_are_named() {
        let err = Message::builder().build().unwrap_err();
        assert_eq!(err, MessageError::Missing("sender"));
        let err = base().message_id("").build().unwrap_err();
        assert_eq!(err, MessageError::InvalidMessageId);
    }

    #[test]
    fn control_characters_are_refused_in_every_header_value() {
        for bad in ["a\rb", "a\nb", "a\0b", "a\tb", "a\u{7f}b", "a\u{85}b", "a\u{202E}b", "a\u{2066}b"] {
            assert_eq!(base().subject(bad).build().unwrap_err(), MessageError::ControlCharacter("subject"), "{bad:?}");
            assert_eq!(
                base().to(Mailbox::new(bad, email("j@example.fr"))).build().unwrap_err(),
                MessageError::ControlCharacter("recipient name")
            );
            assert_eq!(
                base().from(Mailbox::new(bad, email("j@example.fr"))).build().unwrap_err(),
                MessageError::ControlCharacter("sender name")
            );
            assert_eq!(
                base().reply_to(Mailbox::new(bad, email("j@example.fr"))).build().unwrap_err(),
                MessageError::ControlCharacter("reply-to name")
            );
            assert_eq!(
                base().header("X-Tag", bad).build().unwrap_err(),
                MessageError::ControlCharacter("header value")
            );
            assert_eq!(
                base().message_id(format!("{bad}@example.org")).build().unwrap_err(),
                MessageError::ControlCharacter("message id")
            );
        }
    }

    #[test]
    fn header_injection_through_the_subject_is_refused() {
        let err = base().subject("Hello\r\nBcc: eve@evil.example").build().unwrap_err();
        assert_eq!(err, MessageError::ControlCharacter("subject"));
    }

    #[test]
    fn header_names_are_restricted_to_custom_x_names() {
        for bad in
            ["Bcc", "To", "Subject", "X-", "X-a b", "X-é", "X-Tag:", "X-Tag\r\nBcc", "Content-Type", "X--", "Y-Tag"]
        {
            assert_eq!(base().header(bad, "v").build().unwrap_err(), MessageError::InvalidHeaderName, "{bad:?}");
        }
        let long = format!("X-{}", "a".repeat(MAX_HEADER_NAME_LEN));
        assert_eq!(base().header(long, "v").build().unwrap_err(), MessageError::InvalidHeaderName);
        assert!(base().header("x-admit-mail-id", "v").build().is_ok());
        assert_eq!(
            base().header("X-Tag", "1").header("x-tag", "2").build().unwrap_err(),
            MessageError::DuplicateHeader
        );
        let mut many = base();
        for i in 0..=MAX_EXTRA_HEADERS {
            many = many.header(format!("X-H{i}"), "v");
        }
        assert_eq!(many.build().unwrap_err(), MessageError::TooManyHeaders);
    }

    #[test]
    fn lengths_are_bounded() {
        assert_eq!(
            base().subject("s".repeat(MAX_SUBJECT_CHARS + 1)).build().unwrap_err(),
            MessageError::TooLong("subject")
        );
        assert!(base().subject("é".repeat(MAX_SUBJECT_CHARS)).build().is_ok());
        assert_eq!(
            base().to(Mailbox::new("n".repeat(MAX_NAME_CHARS + 1), email("j@example.fr"))).build().unwrap_err(),
            MessageError::TooLong("recipient name")
        );
        assert_eq!(base().text("t".repeat(MAX_BODY_LEN + 1)).build().unwrap_err(), MessageError::TooLong("text body"));
        assert_eq!(base().html("t".repeat(MAX_BODY_LEN + 1)).build().unwrap_err(), MessageError::TooLong("html body"));
        assert_eq!(
            base().message_id(format!("{}@example.org", "a".repeat(MAX_MESSAGE_ID_LEN))).build().unwrap_err(),
            MessageError::TooLong("message id")
        );
        assert_eq!(
            base().header("X-Tag", "v".repeat(MAX_HEADER_VALUE_CHARS + 1)).build().unwrap_err(),
            MessageError::TooLong("header value")
        );
    }

    #[test]
    fn message_ids_must_be_atoms_around_one_at() {
        for bad in ["<a@b>", "a b@c", "a@b@c", "@b", "a@", ".a@b", "a..b@c", "a@b,c", "a\"@b"] {
            assert_eq!(base().message_id(bad).build().unwrap_err(), MessageError::InvalidMessageId, "{bad:?}");
        }
    }

    #[test]
    fn empty_subject_is_refused() {
        assert_eq!(base().subject("   ").build().unwrap_err(), MessageError::EmptySubject);
    }

    #[test]
    fn rfc5322_output_has_crlf_headers_and_no_raw_non_ascii() {
        let message = base().html("<p>Bonjour</p>").build().unwrap();
        let bytes = message.to_rfc5322();
        let text = String::from_utf8(bytes).unwrap();
        let head = text.split("\r\n\r\n").next().unwrap();
        assert!(head.is_ascii(), "headers are 7-bit: {head}");
        assert!(head.contains("Message-ID: <0190c2a4-1b2c-7d3e-8f40-123456789abc@example.org>"));
        assert!(head.contains("multipart/alternative"));
        assert!(
            head.lines().any(|l| l.starts_with("Subject: Invitation =?utf-8?")),
            "RFC 2047 encoded words in the subject: {head}"
        );
        assert!(!text.replace("\r\n", "").contains('\n'), "every line ends with CRLF");
    }
}
