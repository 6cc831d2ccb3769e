//! [`FileTransport`]: one `.eml` file per message, for development.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;

use crate::{Message, Transport, TransportError};

/// Longest encoded Message-ID part of a file name, in bytes (file systems allow 255).
const MAX_ENCODED_ID_LEN: usize = 200;

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes each message as `<dir>/<date>-<message-id>.eml` (RFC 5322 bytes), to be opened
/// with any mail client during development.
///
/// - The directory is created on first send (mode `0700` on Unix).
/// - Each file is readable and writable by its owner only (mode `0600` on Unix): it holds
///   the links and temporary passwords of the mails, which open accounts.
/// - Each file is written to a temporary name and renamed into place, so a reader never
///   sees half a message.
/// - Sending the same Message-ID again replaces the earlier file (even under another date):
///   a re-send after a crash does not leave a duplicate.
/// - The date is the message's `Date` as `YYYYMMDDTHHMMSSZ`, so files sort by time. In the
///   Message-ID, characters other than ASCII letters, digits, `.`, `-` and `@` are written
///   as `_` and two hex digits, so different ids never share a file.
/// - I/O errors are transient. Writes are synchronous (small files); use it for
///   development, not under load.
#[derive(Debug, Clone)]
pub struct FileTransport {
    dir: PathBuf,
}

impl FileTransport {
    /// A transport writing into `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FileTransport { dir: dir.into() }
    }

    /// The directory written to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file name `message` is written under.
    ///
    /// # Errors
    /// A permanent [`TransportError`] if the Message-ID is too long for a file name.
    pub fn file_name(message: &Message) -> Result<String, TransportError> {
        let id = encode_id(message.message_id());
        if id.len() > MAX_ENCODED_ID_LEN {
            return Err(TransportError::permanent("message id too long for a file name"));
        }
        Ok(format!("{}-{id}.eml", date_part(message)))
    }

    fn write(&self, message: &Message) -> Result<PathBuf, TransportError> {
        let name = Self::file_name(message)?;
        let suffix = format!("-{}.eml", encode_id(message.message_id()));
        create_private_dir(&self.dir).map_err(io_error("cannot create the mail directory"))?;

        let temp = self.dir.join(format!(
            ".{name}.{}-{}.tmp",
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let written = (|| {
            let mut file = create_private_file(&temp)?;
            file.write_all(&message.to_rfc5322())?;
            file.sync_all()
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&temp);
            return Err(io_error("cannot write the mail file")(e));
        }
        let target = self.dir.join(&name);
        if let Err(e) = fs::rename(&temp, &target) {
            let _ = fs::remove_file(&temp);
            return Err(io_error("cannot move the mail file into place")(e));
        }

        // Same Message-ID written earlier under another date: drop the older copy.
        let entries = fs::read_dir(&self.dir).map_err(io_error("cannot list the mail directory"))?;
        for entry in entries.flatten() {
            let other = entry.file_name();
            let Some(other) = other.to_str() else { continue };
            if other != name && !other.starts_with('.') && other.ends_with(&suffix) && is_dated(other, &suffix) {
                fs::remove_file(entry.path()).map_err(io_error("cannot remove an older copy of the mail"))?;
            }
        }
        Ok(target)
    }
}

/// Creates `dir` and its missing parents, owner-only on Unix.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Creates a new file readable and writable by its owner only on Unix (the mode is set at
/// creation, so the content is never readable by others, even for an instant).
fn create_private_file(path: &Path) -> std::io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

fn io_error(reason: &'static str) -> impl Fn(std::io::Error) -> TransportError {
    move |e| TransportError::transient(reason).with_source(e)
}

/// Whether `name` is exactly `<16-char date><suffix>` as written by this transport.
fn is_dated(name: &str, suffix: &str) -> bool {
    name.len() == 16 + suffix.len() && name.as_bytes()[8] == b'T' && name.as_bytes()[15] == b'Z'
}

fn date_part(message: &Message) -> String {
    let at = message.date().to_datetime();
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        at.year().clamp(0, 9999),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

fn encode_id(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'@') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("_{b:02X}"));
        }
    }
    out
}

#[async_trait]
impl Transport for FileTransport {
    async fn send(&self, message: &Message) -> Result<(), TransportError> {
        self.write(message).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_encoded_injectively_and_without_path_separators() {
        assert_eq!(encode_id("0190-ab@example.org"), "0190-ab@example.org");
        assert_eq!(encode_id("a/b@x"), "a_2Fb@x");
        assert_eq!(encode_id("a_b@x"), "a_5Fb@x");
        assert_ne!(encode_id("a+b@x"), encode_id("a_b@x"));
        assert!(!encode_id("../../etc/passwd@x").contains('/'));
    }
}
