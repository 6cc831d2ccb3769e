#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod capture;
mod catalogue;
#[cfg(feature = "test-support")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-support")))]
pub mod check;
mod file;
mod message;
mod templates;
mod transport;

pub use capture::CaptureTransport;
pub use catalogue::{Catalogue, ConsoleMessage};
pub use file::FileTransport;
pub use message::{
    MAX_BODY_LEN, MAX_EXTRA_HEADERS, MAX_HEADER_NAME_LEN, MAX_HEADER_VALUE_CHARS, MAX_MESSAGE_ID_LEN, MAX_NAME_CHARS,
    MAX_SUBJECT_CHARS, Mailbox, Message, MessageBuilder, MessageError,
};
pub use templates::{
    MAX_RENDERED_NAME_CHARS, MAX_RENDERED_SUBJECT_CHARS, MailContext, RenderedMail, TEMPLATE_VARIABLES, TemplateError,
    TemplatePart, Templates, TemplatesBuilder, format_deadline, sanitize_subject,
};
pub use transport::{BoxError, Transport, TransportError, TransportErrorKind};
