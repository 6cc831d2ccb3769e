//! FileTransport passes the shared transport check and writes files safely.

use std::fs;
use std::path::{Path, PathBuf};

use admit_core::Timestamp;
use admit_mail::check::{sample_messages, transport_check};
use admit_mail::{FileTransport, Message, Transport};

fn temp_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("admit-mail-file-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    names
}

fn redate(message: &Message, date: Timestamp) -> Message {
    let mut builder = Message::builder()
        .from(message.from().clone())
        .to(message.to().clone())
        .subject(message.subject())
        .text(message.text())
        .message_id(message.message_id())
        .date(date);
    if let Some(html) = message.html() {
        builder = builder.html(html);
    }
    builder.build().unwrap()
}

#[tokio::test]
async fn file_transport_passes_the_transport_check() {
    let base = temp_dir("check");
    let dir = base.join("nested/outbox");
    let transport = FileTransport::new(&dir);
    transport_check(&transport, async || files(&dir).iter().map(|name| fs::read(dir.join(name)).unwrap()).collect())
        .await;
    assert_eq!(
        files(&dir),
        vec![
            "20261203T140500Z-admit-transport-check-1@example.org.eml".to_owned(),
            "20261203T140600Z-admit-transport-check-2.x@example.org.eml".to_owned(),
        ],
        "named <date>-<message-id>.eml, created with the directory, no temporary file left"
    );
    fs::remove_dir_all(&base).unwrap();
}

#[tokio::test]
async fn the_same_message_id_overwrites_instead_of_duplicating() {
    let dir = temp_dir("overwrite");
    let transport = FileTransport::new(&dir);
    let message = sample_messages().remove(0);
    transport.send(&message).await.unwrap();
    transport.send(&message).await.unwrap();
    assert_eq!(files(&dir).len(), 1);
    // A re-send after a crash may carry another date: still one file, the latest.
    let later = redate(&message, Timestamp::from_unix_micros(1_796_400_000_000_000));
    transport.send(&later).await.unwrap();
    let names = files(&dir);
    assert_eq!(names, vec![FileTransport::file_name(&later).unwrap()]);
    assert_ne!(FileTransport::file_name(&later).unwrap(), FileTransport::file_name(&message).unwrap());
    admit_mail::check::assert_delivered(&fs::read(dir.join(&names[0])).unwrap(), &later);
    // Another id is another file.
    transport.send(&sample_messages().remove(1)).await.unwrap();
    assert_eq!(files(&dir).len(), 2);
    fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn io_errors_are_transient() {
    let dir = temp_dir("io");
    fs::create_dir_all(&dir).unwrap();
    let blocker = dir.join("a-file");
    fs::write(&blocker, "not a directory").unwrap();
    let transport = FileTransport::new(blocker.join("outbox"));
    let err = transport.send(&sample_messages()[0]).await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(std::error::Error::source(&err).is_some(), "the io error is chained");
    fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn unsafe_message_ids_cannot_escape_the_directory() {
    let dir = temp_dir("escape");
    let transport = FileTransport::new(dir.join("outbox"));
    let message = Message::builder()
        .from(sample_messages()[0].from().clone())
        .to(sample_messages()[0].to().clone())
        .subject("x")
        .text("x")
        .message_id("/tmp/escape@example.org")
        .date(Timestamp::UNIX_EPOCH)
        .build()
        .unwrap();
    transport.send(&message).await.unwrap();
    assert_eq!(files(&dir), vec!["outbox".to_owned()], "nothing written outside the directory");
    assert_eq!(files(&dir.join("outbox")), vec!["19700101T000000Z-_2Ftmp_2Fescape@example.org.eml".to_owned()]);

    let too_long = Message::builder()
        .from(sample_messages()[0].from().clone())
        .to(sample_messages()[0].to().clone())
        .subject("x")
        .text("x")
        .message_id(format!("{}@example.org", "/".repeat(100)))
        .date(Timestamp::UNIX_EPOCH)
        .build()
        .unwrap();
    let err = transport.send(&too_long).await.unwrap_err();
    assert!(err.is_permanent(), "retrying cannot shorten the name: {err}");
    fs::remove_dir_all(&dir).unwrap();
}

#[cfg(unix)]
#[tokio::test]
async fn mail_files_and_their_directory_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let base = temp_dir("private");
    let dir = base.join("mail");
    let transport = FileTransport::new(&dir);
    for message in sample_messages() {
        transport.send(&message).await.unwrap();
    }
    let names = files(&dir);
    assert!(!names.is_empty());
    for name in names {
        let mode = fs::metadata(dir.join(&name)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{name} holds links and passwords: owner only, got {mode:o}");
    }
    let mode = fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "the mail directory is owner only, got {mode:o}");
    fs::remove_dir_all(&base).unwrap();
}
