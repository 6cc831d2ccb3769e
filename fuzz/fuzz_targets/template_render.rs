//! `admit_mail::Templates::builtin()` rendering every `MailKind` in French and English with
//! an arbitrary recipient name, new address and deadline, plus templates whose subject puts
//! the name and the new address in a header. Invariants: rendering never fails or panics;
//! the subject is one line (no CR, LF or other control character, no bidi control), not
//! empty, and bounded; the HTML part gets no markup from the name or the address (the same
//! number of `<`, `>` and `"` as with a harmless name, and never a raw `<script`).
#![no_main]

use std::sync::LazyLock;

use admit_core::{Locale, MailKind, Timestamp};
use admit_fuzz::fields;
use admit_mail::{MAX_RENDERED_SUBJECT_CHARS, MailContext, RenderedMail, TemplatePart, Templates};
use libfuzzer_sys::fuzz_target;

static BUILTIN: LazyLock<Templates> = LazyLock::new(Templates::builtin);

/// Built-ins, but every subject shows the name and the new address.
static NAME_IN_SUBJECT: LazyLock<Templates> = LazyLock::new(|| {
    let mut builder = Templates::builder();
    for locale in [Locale::fr(), Locale::en()] {
        for kind in MailKind::ALL {
            let source = "{{ recipient_name }} {% if new_email %}{{ new_email }}{% endif %} ({{ product_name }})";
            builder = builder.override_template(locale.clone(), kind, TemplatePart::Subject, source);
        }
    }
    builder.build().expect("the subject overrides compile")
});

const LINK: &str = "https://example.org/invitation#adm_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

fn render(
    templates: &Templates,
    kind: MailKind,
    locale: &Locale,
    name: &str,
    new_email: &str,
    at: i64,
) -> RenderedMail {
    let context = MailContext::new(name)
        .link(LINK)
        .temporary_password("Tmp-2345-abcd-EFGH")
        .expires_at(Timestamp::from_unix_micros(at))
        .new_email(new_email);
    match templates.render(kind, locale, &context) {
        Ok(mail) => mail,
        Err(error) => panic!("{kind:?} in {locale} failed for {name:?} / {new_email:?} / {at}: {error}"),
    }
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

fn markup(html: &str) -> [usize; 3] {
    [html.matches('<').count(), html.matches('>').count(), html.matches('"').count()]
}

fuzz_target!(|data: &[u8]| {
    let f = fields(data, 3);
    let (name, new_email) = (f[0].as_str(), f[1].as_str());
    let mut at = [0u8; 8];
    for (slot, byte) in at.iter_mut().zip(f[2].bytes()) {
        *slot = byte;
    }
    let at = i64::from_le_bytes(at);
    for templates in [&*BUILTIN, &*NAME_IN_SUBJECT] {
        for locale in [Locale::fr(), Locale::en()] {
            for kind in MailKind::ALL {
                let mail = render(templates, kind, &locale, name, new_email, at);
                let harmless = render(templates, kind, &locale, "Jeanne", "jeanne@exemple.fr", at);
                let subject = &mail.subject;
                assert!(!subject.is_empty());
                assert!(!subject.contains(['\r', '\n']), "{subject:?}");
                assert!(!subject.chars().any(|c| c.is_control() || is_bidi_control(c)), "{subject:?}");
                assert!(subject.chars().count() <= MAX_RENDERED_SUBJECT_CHARS + 1, "{subject:?}");
                assert_eq!(subject.trim(), subject);
                assert!(!mail.html.to_lowercase().contains("<script"), "{kind:?}: script from {name:?}");
                assert_eq!(
                    markup(&mail.html),
                    markup(&harmless.html),
                    "{kind:?}: markup from {name:?} / {new_email:?}"
                );
                for body in [&mail.text, &mail.html] {
                    assert!(!body.chars().any(is_bidi_control), "{kind:?}: bidi control in a body");
                    assert!(!body.contains('\0'), "{kind:?}: NUL in a body");
                }
                assert_eq!(mail.locale, locale);
            }
        }
    }
});
