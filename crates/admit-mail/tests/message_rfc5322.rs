//! A rendered mail survives RFC 5322 formatting: parsed back, every header and part matches.

use admit_core::{Email, Locale, MailKind, Timestamp};
use admit_mail::check::assert_delivered;
use admit_mail::{MailContext, Mailbox, Message, Templates};

#[test]
fn every_rendered_mail_parses_back_identically() {
    let templates =
        Templates::builder().product_name("Portail « Émeraude »").support_email("aide@example.org").build().unwrap();
    let deadline = Timestamp::from_unix_micros(1_796_306_700_000_000);
    for locale in [Locale::fr(), Locale::en()] {
        for (i, kind) in MailKind::ALL.into_iter().enumerate() {
            let context = MailContext::new("Zoë Łukasiewicz")
                .link("https://portail.example.org/x#adm_abc")
                .temporary_password("Tmp-1234-abcd")
                .expires_at(deadline)
                .new_email("zoe.nouvelle@example.fr");
            let mail = templates.render(kind, &locale, &context).unwrap();
            let message = Message::builder()
                .from(Mailbox::new("Portail « Émeraude »", Email::parse("no-reply@example.org").unwrap()))
                .to(Mailbox::new("Zoë Łukasiewicz", Email::parse("Zoe@example.fr").unwrap()))
                .subject(&mail.subject)
                .text(&mail.text)
                .html(&mail.html)
                .message_id(format!("0190c2a4-{i}-{locale}@example.org"))
                .date(deadline)
                .header("X-Admit-Kind", kind.as_str())
                .build()
                .unwrap();
            assert_delivered(&message.to_rfc5322(), &message);
        }
    }
}

#[test]
fn long_and_non_ascii_subjects_are_folded_and_decoded() {
    let subject = "Réinitialisation — ".repeat(18);
    let message = Message::builder()
        .from(Mailbox::address(Email::parse("no-reply@example.org").unwrap()))
        .to(Mailbox::address(Email::parse("jeanne@example.fr").unwrap()))
        .subject(subject.trim())
        .text("ligne\n".repeat(2000))
        .message_id("long@example.org")
        .date(Timestamp::UNIX_EPOCH)
        .build()
        .unwrap();
    let raw = message.to_rfc5322();
    let text = String::from_utf8(raw.clone()).unwrap();
    assert!(text.lines().all(|l| l.len() <= 998), "no line exceeds the RFC 5322 limit");
    assert_delivered(&raw, &message);
}
