//! Built-in templates, hostile input, overrides and locale fallback.

use std::fs;
use std::path::{Path, PathBuf};

use admit_core::{Email, Locale, MailKind, MailParams, MailSecret, Timestamp};
use admit_mail::{
    MAX_RENDERED_SUBJECT_CHARS, MailContext, Mailbox, Message, RenderedMail, TemplateError, TemplatePart, Templates,
};

/// 2026-12-03T14:05:00Z
const DEADLINE: Timestamp = Timestamp::from_unix_micros(1_796_306_700_000_000);
const LINK: &str = "https://portail.example.org/invitation#adm_SeLeCtOr.VeRiFiEr";
const TEMP_PASSWORD: &str = "Tmp-7fQ2-kx9W-pL3z";

fn temp_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("admit-mail-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn context_for(kind: MailKind, name: &str) -> MailContext<'_> {
    let base = MailContext::new(name);
    match kind {
        MailKind::Invitation | MailKind::InvitationReminder | MailKind::PasswordReset => {
            base.link(LINK).expires_at(DEADLINE)
        }
        MailKind::TemporaryPassword => base.temporary_password(TEMP_PASSWORD),
        MailKind::EmailChanged => base.new_email("jeanne.nouvelle@example.fr"),
        _ => base,
    }
}

fn locales() -> [Locale; 2] {
    [Locale::fr(), Locale::en()]
}

fn is_bidi(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

#[test]
fn every_kind_renders_in_every_builtin_locale_with_its_essentials() {
    let templates =
        Templates::builder().product_name("Portail Famille").support_email("aide@example.org").build().unwrap();
    for locale in locales() {
        for kind in MailKind::ALL {
            let mail = templates.render(kind, &locale, &context_for(kind, "Jeanne Martin")).unwrap();
            assert_eq!(mail.locale, locale, "{kind:?} is built in for {locale}");
            for part in [&mail.subject, &mail.text, &mail.html] {
                assert!(part.contains("Portail Famille"), "{kind:?}/{locale}: product name in every part: {part}");
            }
            assert!(mail.text.contains("Jeanne Martin") && mail.html.contains("Jeanne Martin"));
            assert!(mail.html.starts_with("<!DOCTYPE html>"), "{kind:?}/{locale}");
            assert!(mail.html.contains(&format!("<html lang=\"{locale}\">")));
            assert!(!mail.text.contains("{{") && !mail.html.contains("{%"), "no template syntax leaks");
            let bare = Templates::builtin().render(kind, &locale, &context_for(kind, "J")).unwrap();
            for text in [&mail.text, &bare.text] {
                assert!(!text.contains("\n\n\n") && !text.contains(" \n"), "{kind:?}/{locale}: tidy layout: {text}");
                assert!(text.contains("\n\n"), "{kind:?}/{locale}: paragraphs");
            }
            match kind {
                MailKind::Invitation | MailKind::InvitationReminder | MailKind::PasswordReset => {
                    assert!(mail.text.contains(LINK), "{kind:?}/{locale}: link in text");
                    assert!(
                        mail.html.contains(
                            "href=\"https:&#x2f;&#x2f;portail.example.org&#x2f;invitation#adm_SeLeCtOr.VeRiFiEr\""
                        ),
                        "{kind:?}/{locale}: link in html: {}",
                        mail.html
                    );
                    let deadline = if locale.language() == "fr" {
                        "3 décembre 2026 à 14:05 UTC"
                    } else {
                        "3 December 2026 at 14:05 UTC"
                    };
                    assert!(mail.text.contains(deadline), "{kind:?}/{locale}: deadline in text");
                    assert!(mail.html.contains(deadline), "{kind:?}/{locale}: deadline in html");
                }
                MailKind::TemporaryPassword => {
                    assert!(mail.text.contains(TEMP_PASSWORD) && mail.html.contains(TEMP_PASSWORD));
                }
                MailKind::EmailChanged => {
                    assert!(mail.text.contains("jeanne.nouvelle@example.fr"));
                    assert!(mail.html.contains("jeanne.nouvelle@example.fr"));
                }
                _ => {}
            }
            if matches!(kind, MailKind::PasswordChanged | MailKind::EmailChanged) {
                let not_me = if locale.language() == "fr" { "Si ce n'est pas vous" } else { "If it wasn't you" };
                let not_me_html =
                    if locale.language() == "fr" { "Si ce n&#x27;est pas vous" } else { "If it wasn't you" };
                assert!(mail.text.contains(not_me), "{kind:?}/{locale}");
                assert!(mail.html.contains(not_me_html) || mail.html.contains(not_me), "{kind:?}/{locale}");
                assert!(mail.text.contains("aide@example.org"), "{kind:?}/{locale}: support address");
            }
        }
    }
}

#[test]
fn mails_say_what_the_requirements_say() {
    let templates = Templates::builtin();
    let fr = |kind| templates.render(kind, &Locale::fr(), &context_for(kind, "Jeanne")).unwrap().text;
    let en = |kind| templates.render(kind, &Locale::en(), &context_for(kind, "Jeanne")).unwrap().text;
    assert!(fr(MailKind::Invitation).contains("créer votre mot de passe"));
    assert!(
        fr(MailKind::Invitation).contains("activer votre compte à tout moment en réinitialisant votre mot de passe")
    );
    assert!(en(MailKind::Invitation).contains("activate your account at any time by resetting your password"));
    assert!(fr(MailKind::InvitationReminder).contains("pas encore activé"));
    assert!(fr(MailKind::InvitationReminder).contains("spam"));
    assert!(en(MailKind::InvitationReminder).contains("spam or junk folder"));
    assert!(fr(MailKind::PasswordReset).contains("Vous pouvez définir un nouveau mot de passe"));
    assert!(
        fr(MailKind::TemporaryPassword)
            .contains("Vous devrez choisir un nouveau mot de passe lors de votre prochaine connexion")
    );
    assert!(en(MailKind::TemporaryPassword).contains("choose a new password the next time you sign in"));
    assert!(fr(MailKind::EmailChanged).contains("ancienne adresse"));
    assert!(en(MailKind::EmailChanged).contains("previous address"));
    // No support address configured: the notice still tells the person to contact support.
    assert!(fr(MailKind::PasswordChanged).contains("contactez le support au plus vite afin de sécuriser votre compte"));
}

#[test]
fn hostile_names_are_shown_harmlessly_everywhere() {
    let long = "N".repeat(10_000);
    let hostile = [
        "<script>alert(1)</script>",
        "Eve\r\nBcc: x@evil.example",
        long.as_str(),
        "Mallory \u{202E}fdp.exe",
        "Nul\0byte",
        "\"><img src=x onerror=alert(1)>",
    ];
    // A host override that puts the name in the subject, to exercise subject sanitising too.
    let templates = Templates::builder()
        .override_template(Locale::en(), MailKind::Invitation, TemplatePart::Subject, "Welcome {{ recipient_name }}\n")
        .build()
        .unwrap();
    for name in hostile {
        for locale in locales() {
            for kind in MailKind::ALL {
                let mail = templates.render(kind, &locale, &context_for(kind, name)).unwrap();
                for (part, text) in [("subject", &mail.subject), ("text", &mail.text), ("html", &mail.html)] {
                    assert!(!text.contains('\0'), "{kind:?}/{locale}/{part}: no NUL");
                    assert!(!text.chars().any(is_bidi), "{kind:?}/{locale}/{part}: no bidi override");
                    assert!(!text.contains("Eve\r\nBcc") && !text.contains("Eve\nBcc"), "{kind:?}/{locale}/{part}");
                    assert!(!text.contains(&"N".repeat(201)), "{kind:?}/{locale}/{part}: long names are cut");
                }
                assert!(!mail.subject.contains(['\r', '\n']), "{kind:?}/{locale}: one-line subject");
                assert!(mail.subject.chars().count() <= MAX_RENDERED_SUBJECT_CHARS + 1);
                assert!(!mail.html.contains("<script>"), "{kind:?}/{locale}: no raw script");
                assert!(!mail.html.contains("<img"), "{kind:?}/{locale}: no raw tag");
                if name.starts_with("<script>") {
                    assert!(mail.html.contains("&lt;script&gt;alert(1)"), "{kind:?}/{locale}: escaped, still visible");
                    assert!(mail.text.contains(name), "{kind:?}/{locale}: plain text is not HTML-escaped");
                }
                if name.starts_with("Eve") {
                    assert!(mail.text.contains("Eve  Bcc: x@evil.example"), "{kind:?}/{locale}: shown on one line");
                }
                if name.len() == 10_000 {
                    assert!(
                        mail.text.contains(&format!("{}…", "N".repeat(200))),
                        "{kind:?}/{locale}: cut with an ellipsis"
                    );
                }
                // The rendered subject is always acceptable as a header.
                let message = Message::builder()
                    .from(Mailbox::address(Email::parse("no-reply@example.org").unwrap()))
                    .to(Mailbox::address(Email::parse("jeanne@example.fr").unwrap()))
                    .subject(&mail.subject)
                    .text(&mail.text)
                    .html(&mail.html)
                    .message_id("hostile@example.org")
                    .date(DEADLINE)
                    .build()
                    .unwrap_or_else(|e| panic!("{kind:?}/{locale}: {e}"));
                assert_eq!(message.subject(), mail.subject);
            }
        }
        let subject = templates.render(MailKind::Invitation, &Locale::en(), &context_for(MailKind::Invitation, name));
        let subject = subject.unwrap().subject;
        assert!(subject.starts_with("Welcome "), "{subject}");
    }
}

#[test]
fn locale_falls_back_from_tag_to_language_to_default() {
    let fr_ca = Locale::parse("fr-CA").unwrap();
    let templates = Templates::builder()
        .override_template(
            fr_ca.clone(),
            MailKind::Invitation,
            TemplatePart::Subject,
            "Bienvenue sur {{ product_name }}",
        )
        .override_template(
            fr_ca.clone(),
            MailKind::Invitation,
            TemplatePart::Text,
            "Allo {{ recipient_name }} : {{ link }} ({{ expires_at }})",
        )
        .override_template(fr_ca.clone(), MailKind::Invitation, TemplatePart::Html, "<p>Allo {{ recipient_name }}</p>")
        .build()
        .unwrap();
    let render =
        |kind, tag: &str| templates.render(kind, &Locale::parse(tag).unwrap(), &context_for(kind, "Jeanne")).unwrap();

    let exact = render(MailKind::Invitation, "fr-CA");
    assert_eq!(exact.locale, fr_ca);
    assert_eq!(exact.subject, "Bienvenue sur Admit");
    assert_eq!(exact.text, format!("Allo Jeanne : {LINK} (3 décembre 2026 à 14:05 UTC)"), "date in the tag's language");

    let language = render(MailKind::PasswordReset, "fr-CA");
    assert_eq!(language.locale, Locale::fr(), "fr-CA has no password_reset: its language answers");
    assert!(language.subject.starts_with("Réinitialisation"));
    assert_eq!(render(MailKind::Invitation, "fr-BE").locale, Locale::fr());

    let default = render(MailKind::Invitation, "de-AT");
    assert_eq!(default.locale, Locale::en(), "unknown language: the default locale");
    assert!(default.text.contains("3 December 2026 at 14:05 UTC"));

    let french_default = Templates::builder().default_locale(Locale::fr()).build().unwrap();
    let mail = french_default
        .render(MailKind::PasswordChanged, &Locale::parse("es").unwrap(), &MailContext::new("J"))
        .unwrap();
    assert_eq!(mail.locale, Locale::fr());
    assert_eq!(french_default.resolve_locale(MailKind::PasswordChanged, &Locale::en()), Locale::en());
}

#[test]
fn overrides_load_from_a_directory() {
    let dir = temp_dir("override-dir");
    fs::create_dir_all(dir.join("de")).unwrap();
    fs::create_dir_all(dir.join("en")).unwrap();
    fs::write(dir.join("de/password_changed.subject"), "Ihr {{ product_name }}-Passwort wurde geändert\n").unwrap();
    fs::write(dir.join("de/password_changed.txt"), "Hallo {{ recipient_name }},\nIhr Passwort wurde geändert.\n")
        .unwrap();
    fs::write(dir.join("de/password_changed.html"), "<p>Hallo {{ recipient_name }},</p>").unwrap();
    fs::write(dir.join("en/invitation.subject"), "Join {{ product_name }} today").unwrap();
    fs::write(dir.join("en/invitation.txt"), "Hi {{ recipient_name }}, {{ link }} until {{ expires_at }}").unwrap();
    fs::write(dir.join("en/invitation.html"), "<a href=\"{{ link }}\">{{ recipient_name }}</a>").unwrap();
    fs::write(dir.join(".DS_Store"), "ignored").unwrap();
    fs::write(dir.join("en/.invitation.txt.swp"), "ignored").unwrap();

    let templates = Templates::builder().product_name("Émeraude").override_dir(&dir).build().unwrap();
    let de = Locale::parse("de").unwrap();
    let mail = templates.render(MailKind::PasswordChanged, &de, &MailContext::new("<b>Jörg</b>")).unwrap();
    assert_eq!(mail.locale, de);
    assert_eq!(mail.subject, "Ihr Émeraude-Passwort wurde geändert");
    assert_eq!(mail.text, "Hallo <b>Jörg</b>,\nIhr Passwort wurde geändert.");
    assert_eq!(mail.html, "<p>Hallo &lt;b&gt;Jörg&lt;&#x2f;b&gt;,</p>", "directory overrides are autoescaped too");
    // German has only password_changed: other kinds fall back to the default locale.
    assert_eq!(
        templates.render(MailKind::PasswordReset, &de, &context_for(MailKind::PasswordReset, "J")).unwrap().locale,
        Locale::en()
    );

    let invitation =
        templates.render(MailKind::Invitation, &Locale::en(), &context_for(MailKind::Invitation, "Zoë")).unwrap();
    assert_eq!(invitation.subject, "Join Émeraude today");
    assert_eq!(invitation.text, format!("Hi Zoë, {LINK} until 3 December 2026 at 14:05 UTC"));
    // Later explicit overrides win over the directory.
    let templates = Templates::builder()
        .override_dir(&dir)
        .override_template(Locale::en(), MailKind::Invitation, TemplatePart::Subject, "Explicit wins")
        .build()
        .unwrap();
    let invitation =
        templates.render(MailKind::Invitation, &Locale::en(), &context_for(MailKind::Invitation, "Zoë")).unwrap();
    assert_eq!(invitation.subject, "Explicit wins");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_override_directories_are_refused_at_build() {
    let dir = temp_dir("bad-dir");
    fs::create_dir_all(dir.join("fr")).unwrap();
    fs::write(dir.join("fr/invitaton.txt"), "typo").unwrap();
    let err = Templates::builder().override_dir(&dir).build().unwrap_err();
    assert!(matches!(&err, TemplateError::UnknownFile { path } if path.ends_with("fr/invitaton.txt")), "{err:?}");

    fs::remove_file(dir.join("fr/invitaton.txt")).unwrap();
    fs::write(dir.join("fr/invitation.md"), "wrong extension").unwrap();
    let err = Templates::builder().override_dir(&dir).build().unwrap_err();
    assert!(matches!(err, TemplateError::UnknownFile { .. }), "{err:?}");

    fs::remove_file(dir.join("fr/invitation.md")).unwrap();
    fs::create_dir_all(dir.join("not a locale")).unwrap();
    let err = Templates::builder().override_dir(&dir).build().unwrap_err();
    assert!(matches!(err, TemplateError::UnknownFile { .. }), "{err:?}");

    fs::remove_dir_all(dir.join("not a locale")).unwrap();
    fs::create_dir_all(dir.join("de")).unwrap();
    fs::write(dir.join("de/invitation.subject"), "Einladung").unwrap();
    let err = Templates::builder().override_dir(&dir).build().unwrap_err();
    assert!(matches!(&err, TemplateError::MissingPart { name } if name == "de/invitation.txt"), "{err:?}");
    assert_eq!(err.to_string(), "template de/invitation.txt is missing");

    let err = Templates::builder().override_dir(dir.join("absent")).build().unwrap_err();
    assert!(matches!(err, TemplateError::Io { .. }), "{err:?}");
    fs::remove_dir_all(&dir).unwrap();
}

fn build_with(kind: MailKind, part: TemplatePart, source: &str) -> Result<Templates, TemplateError> {
    Templates::builder().override_template(Locale::fr(), kind, part, source).build()
}

#[test]
fn broken_overrides_are_refused_at_build() {
    let syntax = build_with(MailKind::Invitation, TemplatePart::Html, "<p>{{ recipient_name </p>").unwrap_err();
    assert!(matches!(&syntax, TemplateError::Invalid { name, .. } if name == "fr/invitation.html"), "{syntax:?}");
    assert_eq!(syntax.to_string(), "template fr/invitation.html is invalid");
    assert!(std::error::Error::source(&syntax).is_some(), "the engine's error is chained");

    let unknown = build_with(MailKind::Invitation, TemplatePart::Text, "Bonjour {{ recipient }}").unwrap_err();
    assert!(
        matches!(&unknown, TemplateError::UnknownVariable { name, variable } if name == "fr/invitation.txt" && variable == "recipient"),
        "{unknown:?}"
    );
    // Unknown even when only in a branch the sample never takes.
    let hidden = build_with(MailKind::Invitation, TemplatePart::Text, "{% if false %}{{ tokn }}{% endif %}{{ link }}")
        .unwrap_err();
    assert!(matches!(hidden, TemplateError::UnknownVariable { .. }), "{hidden:?}");

    // A value this kind never has, printed unguarded.
    let absent = build_with(MailKind::PasswordChanged, TemplatePart::Text, "Lien : {{ link }}").unwrap_err();
    assert!(matches!(&absent, TemplateError::Invalid { name, .. } if name == "fr/password_changed.txt"), "{absent:?}");
    let optional = build_with(
        MailKind::TemporaryPassword,
        TemplatePart::Text,
        "{{ temporary_password }} jusqu'au {{ expires_at }}",
    );
    assert!(matches!(optional, Err(TemplateError::Invalid { .. })), "a temporary password may come without a deadline");
    assert!(
        build_with(
            MailKind::TemporaryPassword,
            TemplatePart::Text,
            "{{ temporary_password }}{% if expires_at %} jusqu'au {{ expires_at }}{% endif %}"
        )
        .is_ok()
    );

    let strict = build_with(MailKind::Invitation, TemplatePart::Text, "{{ recipient_name.first }}").unwrap_err();
    assert!(matches!(strict, TemplateError::Invalid { .. }), "{strict:?}");
    let filter = build_with(MailKind::Invitation, TemplatePart::Text, "{{ recipient_name|shout }}").unwrap_err();
    assert!(matches!(filter, TemplateError::Invalid { .. }), "{filter:?}");

    let empty = build_with(MailKind::Invitation, TemplatePart::Subject, "{% if false %}x{% endif %}\n \n").unwrap_err();
    assert!(matches!(&empty, TemplateError::EmptySubject { name } if name == "fr/invitation.subject"), "{empty:?}");

    let missing_default = Templates::builder().default_locale(Locale::parse("de").unwrap()).build().unwrap_err();
    assert!(matches!(missing_default, TemplateError::MissingPart { .. }), "{missing_default:?}");
    let partial_locale = Templates::builder()
        .override_template(Locale::parse("it").unwrap(), MailKind::Invitation, TemplatePart::Subject, "Invito")
        .build()
        .unwrap_err();
    assert!(matches!(&partial_locale, TemplateError::MissingPart { name } if name == "it/invitation.txt"));
}

#[test]
fn settings_are_validated() {
    let cases = [
        (Templates::builder().product_name("Evil\r\nBcc: x"), "product name"),
        (Templates::builder().product_name("  "), "product name"),
        (Templates::builder().support_email("not an address"), "support email"),
        (Templates::builder().sign_in_url("javascript:alert(1)"), "sign-in url"),
        (Templates::builder().sign_in_url("https://x.example/\"><script>"), "sign-in url"),
    ];
    for (builder, setting) in cases {
        let err = builder.build().unwrap_err();
        assert!(matches!(err, TemplateError::InvalidSetting(s) if s == setting), "{err:?}");
    }
    let templates = Templates::builder().sign_in_url("https://portail.example.org/connexion").build().unwrap();
    let mail = templates
        .render(MailKind::TemporaryPassword, &Locale::fr(), &context_for(MailKind::TemporaryPassword, "J"))
        .unwrap();
    assert!(mail.text.contains("Utilisez-le pour vous connecter sur https://portail.example.org/connexion."));
}

#[test]
fn rendering_refuses_a_context_missing_what_the_kind_needs() {
    let templates = Templates::builtin();
    let err =
        templates.render(MailKind::Invitation, &Locale::fr(), &MailContext::new("J").expires_at(DEADLINE)).unwrap_err();
    assert!(matches!(err, TemplateError::MissingValue { kind: MailKind::Invitation, field: "a link" }));
    assert_eq!(err.to_string(), "invitation mail needs a link");
    let err = templates.render(MailKind::PasswordReset, &Locale::fr(), &MailContext::new("J").link(LINK)).unwrap_err();
    assert!(matches!(err, TemplateError::MissingValue { field: "a deadline", .. }));
    let err = templates.render(MailKind::TemporaryPassword, &Locale::fr(), &MailContext::new("J")).unwrap_err();
    assert!(matches!(err, TemplateError::MissingValue { field: "a temporary password", .. }));
    let err = templates.render(MailKind::EmailChanged, &Locale::fr(), &MailContext::new("J")).unwrap_err();
    assert!(matches!(err, TemplateError::MissingValue { field: "the new address", .. }));
    // The subject alone needs no secret: the journal stores it before the link exists.
    let subject = templates.render_subject(MailKind::Invitation, &Locale::fr(), &MailContext::new("J")).unwrap();
    assert_eq!(subject, "Invitation à rejoindre Admit");
}

#[test]
fn contexts_come_from_outbox_params() {
    let templates = Templates::builtin();
    let params = MailParams {
        recipient_name: "Jeanne".to_owned(),
        intent: None,
        secret: Some(MailSecret::new(TEMP_PASSWORD)),
        expires_at: None,
        new_email: None,
    };
    let mail = templates
        .render(
            MailKind::TemporaryPassword,
            &Locale::en(),
            &MailContext::from_params(MailKind::TemporaryPassword, &params),
        )
        .unwrap();
    assert!(mail.text.contains(TEMP_PASSWORD));
    let params = MailParams { secret: Some(MailSecret::new(LINK)), expires_at: Some(DEADLINE), ..params };
    let mail = templates
        .render(
            MailKind::InvitationReminder,
            &Locale::fr(),
            &MailContext::from_params(MailKind::InvitationReminder, &params),
        )
        .unwrap();
    assert!(mail.text.contains(LINK));
    assert!(!mail.text.contains(TEMP_PASSWORD));
}

#[test]
fn secrets_stay_out_of_debug() {
    let context = MailContext::new("Jeanne").link(LINK).temporary_password(TEMP_PASSWORD).expires_at(DEADLINE);
    let debug = format!("{context:?}");
    assert!(!debug.contains("adm_SeLeCtOr") && !debug.contains(TEMP_PASSWORD), "{debug}");
    assert!(debug.contains("Jeanne") && debug.contains("[redacted]"));

    let mail: RenderedMail = Templates::builtin()
        .render(MailKind::PasswordReset, &Locale::fr(), &context_for(MailKind::PasswordReset, "J"))
        .unwrap();
    let debug = format!("{mail:?}");
    assert!(!debug.contains("adm_SeLeCtOr"), "{debug}");
    assert!(debug.contains("Réinitialisation"), "the subject is not secret: {debug}");
    assert!(!format!("{:?}", Templates::builtin()).is_empty());
}
