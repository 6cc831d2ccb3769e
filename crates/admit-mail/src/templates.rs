//! Localised mail templates: built-in French and English, overridable by the host.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use admit_core::{Email, Locale, MailKind, MailParams, Timestamp};
use minijinja::value::Value;
use minijinja::{AutoEscape, Environment, ErrorKind, UndefinedBehavior};

use crate::message::{is_bidi_control, is_forbidden_in_header};
use crate::transport::BoxError;

/// Longest rendered subject, in characters; longer ones are cut with `…`.
pub const MAX_RENDERED_SUBJECT_CHARS: usize = 200;
/// Longest recipient name shown in a mail, in characters; longer ones are cut with `…`.
pub const MAX_RENDERED_NAME_CHARS: usize = 200;

/// The variables every template may use. Each is always defined; the optional ones are
/// `none` when absent, so guard them with `{% if … %}` (printing `none` is an error).
pub const TEMPLATE_VARIABLES: [&str; 8] = [
    "product_name",
    "recipient_name",
    "link",
    "expires_at",
    "temporary_password",
    "sign_in_url",
    "new_email",
    "support_email",
];

/// Which part of a mail a template produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TemplatePart {
    /// The subject line (`<kind>.subject`): plain text, sanitised for a header.
    Subject,
    /// The plain-text body (`<kind>.txt`): not escaped.
    Text,
    /// The HTML body (`<kind>.html`): every value is HTML-escaped.
    Html,
}

impl TemplatePart {
    /// Every part.
    pub const ALL: [TemplatePart; 3] = [TemplatePart::Subject, TemplatePart::Text, TemplatePart::Html];

    /// The file extension (`subject`, `txt`, `html`).
    pub const fn extension(self) -> &'static str {
        match self {
            TemplatePart::Subject => "subject",
            TemplatePart::Text => "txt",
            TemplatePart::Html => "html",
        }
    }

    /// Parses [`TemplatePart::extension`]'s output.
    pub fn from_extension(extension: &str) -> Option<TemplatePart> {
        TemplatePart::ALL.into_iter().find(|p| p.extension() == extension)
    }
}

/// Why templates could not be built or rendered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// A template does not parse, or fails to render with a sample context.
    #[error("template {name} is invalid")]
    Invalid {
        /// `<locale>/<kind>.<part>`.
        name: String,
        /// The template engine's error.
        #[source]
        source: BoxError,
    },
    /// A template uses a variable outside [`TEMPLATE_VARIABLES`].
    #[error("template {name} uses unknown variable {variable}")]
    UnknownVariable {
        /// `<locale>/<kind>.<part>`.
        name: String,
        /// The unknown variable.
        variable: String,
    },
    /// A locale has some parts of a kind but not all, or the default locale lacks a kind.
    #[error("template {name} is missing")]
    MissingPart {
        /// `<locale>/<kind>.<part>`.
        name: String,
    },
    /// A subject template renders to nothing.
    #[error("template {name} renders an empty subject")]
    EmptySubject {
        /// `<locale>/<kind>.subject`.
        name: String,
    },
    /// A file in an override directory is not `<locale>/<kind>.<part>`.
    #[error("unexpected file in template directory: {}", path.display())]
    UnknownFile {
        /// The file.
        path: PathBuf,
    },
    /// An override directory could not be read.
    #[error("cannot read template directory {}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A builder setting (product name, support email, sign-in URL) is not acceptable.
    #[error("{0} is invalid")]
    InvalidSetting(&'static str),
    /// The mail context lacks a value this kind of mail needs.
    #[error("{} mail needs {field}", kind.as_str())]
    MissingValue {
        /// The kind of mail.
        kind: MailKind,
        /// The missing field.
        field: &'static str,
    },
    /// Rendering failed at run time.
    #[error("template {name} failed to render")]
    Render {
        /// `<locale>/<kind>.<part>`.
        name: String,
        /// The template engine's error.
        #[source]
        source: BoxError,
    },
}

/// What a mail says besides its kind and language. Values are cleaned before rendering:
/// control characters become spaces, bidirectional overrides are dropped, and the recipient
/// name is cut at [`MAX_RENDERED_NAME_CHARS`]. `Debug` hides the link and the password.
///
/// ```
/// use admit_core::Timestamp;
/// use admit_mail::MailContext;
/// let context = MailContext::new("Jeanne Martin")
///     .link("https://example.org/invitation#adm_secret")
///     .expires_at(Timestamp::from_unix_micros(1_796_306_700_000_000));
/// assert!(!format!("{context:?}").contains("adm_secret"));
/// ```
#[derive(Clone, Copy, Default)]
pub struct MailContext<'a> {
    recipient_name: &'a str,
    link: Option<&'a str>,
    temporary_password: Option<&'a str>,
    expires_at: Option<Timestamp>,
    new_email: Option<&'a str>,
}

impl<'a> MailContext<'a> {
    /// A context for `recipient_name`.
    pub fn new(recipient_name: &'a str) -> Self {
        MailContext { recipient_name, ..MailContext::default() }
    }

    /// From an outbox mail's parameters: the secret is the link, or for
    /// [`MailKind::TemporaryPassword`] the temporary password.
    pub fn from_params(kind: MailKind, params: &'a MailParams) -> Self {
        let secret = params.secret.as_ref().map(|s| s.expose());
        let mut context = MailContext::new(&params.recipient_name);
        context.expires_at = params.expires_at;
        context.new_email = params.new_email.as_deref();
        if kind == MailKind::TemporaryPassword {
            context.temporary_password = secret;
        } else {
            context.link = secret;
        }
        context
    }

    /// The link to follow (invitation, reminder, reset).
    pub fn link(mut self, link: &'a str) -> Self {
        self.link = Some(link);
        self
    }

    /// The temporary password.
    pub fn temporary_password(mut self, password: &'a str) -> Self {
        self.temporary_password = Some(password);
        self
    }

    /// The deadline of the link (or temporary password), stated in the recipient's language.
    pub fn expires_at(mut self, at: Timestamp) -> Self {
        self.expires_at = Some(at);
        self
    }

    /// The new address, for [`MailKind::EmailChanged`].
    pub fn new_email(mut self, email: &'a str) -> Self {
        self.new_email = Some(email);
        self
    }
}

impl fmt::Debug for MailContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailContext")
            .field("recipient_name", &self.recipient_name)
            .field("link", &self.link.map(|_| "[redacted]"))
            .field("temporary_password", &self.temporary_password.map(|_| "[redacted]"))
            .field("expires_at", &self.expires_at)
            .field("new_email", &self.new_email)
            .finish()
    }
}

/// A rendered mail. `Debug` omits the bodies, which may hold a link or a password.
#[derive(Clone, PartialEq, Eq)]
pub struct RenderedMail {
    /// The locale whose templates were used (after fallback).
    pub locale: Locale,
    /// The subject, safe for a header.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The HTML body.
    pub html: String,
}

impl fmt::Debug for RenderedMail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RenderedMail")
            .field("locale", &self.locale)
            .field("subject", &self.subject)
            .field("text", &format_args!("[{} bytes]", self.text.len()))
            .field("html", &format_args!("[{} bytes]", self.html.len()))
            .finish()
    }
}

macro_rules! builtin {
    ($($locale:literal / $kind:literal),* $(,)?) => {
        &[$(
            ($locale, $kind, "subject", include_str!(concat!("../templates/", $locale, "/", $kind, ".subject"))),
            ($locale, $kind, "txt", include_str!(concat!("../templates/", $locale, "/", $kind, ".txt"))),
            ($locale, $kind, "html", include_str!(concat!("../templates/", $locale, "/", $kind, ".html"))),
        )*]
    };
}

/// (locale, kind, extension, source) of every built-in template.
const BUILTIN: &[(&str, &str, &str, &str)] = builtin!(
    "fr" / "invitation",
    "fr" / "invitation_reminder",
    "fr" / "password_reset",
    "fr" / "temporary_password",
    "fr" / "password_changed",
    "fr" / "email_changed",
    "en" / "invitation",
    "en" / "invitation_reminder",
    "en" / "password_reset",
    "en" / "temporary_password",
    "en" / "password_changed",
    "en" / "email_changed",
);

fn template_name(locale: &str, kind: MailKind, part: TemplatePart) -> String {
    format!("{locale}/{}.{}", kind.as_str(), part.extension())
}

/// The mail templates: built-in French and English for every [`MailKind`], with host
/// overrides validated when built.
///
/// ```
/// use admit_core::{Locale, MailKind, Timestamp};
/// use admit_mail::{MailContext, Templates};
///
/// let templates = Templates::builder().product_name("Portail Famille").build()?;
/// let context = MailContext::new("Jeanne Martin")
///     .link("https://portail.example.org/invitation#adm_x")
///     .expires_at(Timestamp::from_unix_micros(1_796_306_700_000_000));
/// let mail = templates.render(MailKind::Invitation, &Locale::parse("fr-CA")?, &context)?;
/// assert_eq!(mail.locale.as_str(), "fr");
/// assert_eq!(mail.subject, "Invitation à rejoindre Portail Famille");
/// assert!(mail.text.contains("valable jusqu'au 3 décembre 2026 à 14:05 UTC"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Templates {
    env: Environment<'static>,
    available: BTreeSet<(String, MailKind)>,
    default_locale: Locale,
    product_name: String,
    support_email: Option<String>,
    sign_in_url: Option<String>,
}

impl fmt::Debug for Templates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let locales: BTreeSet<&str> = self.available.iter().map(|(l, _)| l.as_str()).collect();
        f.debug_struct("Templates")
            .field("locales", &locales)
            .field("default_locale", &self.default_locale)
            .field("product_name", &self.product_name)
            .field("support_email", &self.support_email)
            .field("sign_in_url", &self.sign_in_url)
            .finish_non_exhaustive()
    }
}

impl Templates {
    /// The product name used when none is configured.
    pub const DEFAULT_PRODUCT_NAME: &'static str = "Admit";

    /// The built-in templates, default locale English, product name
    /// [`Templates::DEFAULT_PRODUCT_NAME`].
    pub fn builtin() -> Templates {
        // The built-in templates are checked by the same validation as overrides, in this
        // crate's tests; a failure here is a bug in this crate.
        Templates::builder().build().expect("built-in templates are valid")
    }

    /// Starts a configuration.
    pub fn builder() -> TemplatesBuilder {
        TemplatesBuilder::default()
    }

    /// The locale used when neither the recipient's tag nor its language has templates.
    pub fn default_locale(&self) -> &Locale {
        &self.default_locale
    }

    /// The product name shown in mails.
    pub fn product_name(&self) -> &str {
        &self.product_name
    }

    /// The locale whose templates serve `kind` for `locale`: the exact tag (`fr-CA`), then its
    /// language (`fr`), then the default locale.
    pub fn resolve_locale(&self, kind: MailKind, locale: &Locale) -> Locale {
        let default = &self.default_locale;
        [locale.as_str(), locale.language(), default.as_str(), default.language()]
            .into_iter()
            .find(|tag| self.available.contains(&((*tag).to_owned(), kind)))
            .and_then(|tag| Locale::parse(tag).ok())
            .unwrap_or_else(|| default.clone())
    }

    /// Renders the subject, text and HTML of a mail.
    ///
    /// # Errors
    /// [`TemplateError::MissingValue`] if `context` lacks what `kind` needs (a link and its
    /// deadline, a temporary password, a new address); [`TemplateError::Render`] or
    /// [`TemplateError::EmptySubject`] if an override fails at run time.
    pub fn render(
        &self,
        kind: MailKind,
        locale: &Locale,
        context: &MailContext<'_>,
    ) -> Result<RenderedMail, TemplateError> {
        check_required(kind, context)?;
        let locale = self.resolve_locale(kind, locale);
        let value = self.context_value(&locale, context);
        Ok(RenderedMail {
            subject: self.render_subject_value(&locale, kind, &value)?,
            text: self.render_part(&locale, kind, TemplatePart::Text, &value)?,
            html: self.render_part(&locale, kind, TemplatePart::Html, &value)?,
            locale,
        })
    }

    /// Renders only the subject (for the mail journal, before any secret exists).
    ///
    /// # Errors
    /// [`TemplateError::Render`] or [`TemplateError::EmptySubject`].
    pub fn render_subject(
        &self,
        kind: MailKind,
        locale: &Locale,
        context: &MailContext<'_>,
    ) -> Result<String, TemplateError> {
        let locale = self.resolve_locale(kind, locale);
        let value = self.context_value(&locale, context);
        self.render_subject_value(&locale, kind, &value)
    }

    fn render_subject_value(&self, locale: &Locale, kind: MailKind, value: &Value) -> Result<String, TemplateError> {
        let raw = self.render_part(locale, kind, TemplatePart::Subject, value)?;
        let subject = sanitize_subject(&raw);
        if subject.is_empty() {
            return Err(TemplateError::EmptySubject {
                name: template_name(locale.as_str(), kind, TemplatePart::Subject),
            });
        }
        Ok(subject)
    }

    fn render_part(
        &self,
        locale: &Locale,
        kind: MailKind,
        part: TemplatePart,
        value: &Value,
    ) -> Result<String, TemplateError> {
        let name = template_name(locale.as_str(), kind, part);
        let rendered = self.env.get_template(&name).and_then(|t| t.render(value.clone()));
        rendered.map_err(|e| TemplateError::Render { name, source: Box::new(e) })
    }

    fn context_value(&self, locale: &Locale, context: &MailContext<'_>) -> Value {
        let clean_opt = |v: Option<&str>, max: Option<usize>| v.map(|v| clean_value(v, max));
        minijinja::context! {
            product_name => clean_value(&self.product_name, None),
            recipient_name => clean_value(context.recipient_name, Some(MAX_RENDERED_NAME_CHARS)),
            link => clean_opt(context.link, None),
            expires_at => context.expires_at.map(|at| format_deadline(at, locale)),
            temporary_password => clean_opt(context.temporary_password, None),
            sign_in_url => self.sign_in_url.clone(),
            new_email => clean_opt(context.new_email, Some(admit_core::MAX_EMAIL_LEN)),
            support_email => self.support_email.clone(),
        }
    }
}

fn check_required(kind: MailKind, context: &MailContext<'_>) -> Result<(), TemplateError> {
    let missing = |field| Err(TemplateError::MissingValue { kind, field });
    match kind {
        MailKind::Invitation | MailKind::InvitationReminder | MailKind::PasswordReset => {
            if context.link.is_none() {
                return missing("a link");
            }
            if context.expires_at.is_none() {
                return missing("a deadline");
            }
        }
        MailKind::TemporaryPassword if context.temporary_password.is_none() => return missing("a temporary password"),
        MailKind::EmailChanged if context.new_email.is_none() => return missing("the new address"),
        _ => {}
    }
    Ok(())
}

/// Replaces control characters with spaces, drops bidirectional controls and cuts at
/// `max` characters (with `…`).
fn clean_value(text: &str, max: Option<usize>) -> String {
    let mut out = String::with_capacity(text.len().min(4096));
    for (count, c) in text.chars().filter(|c| !is_bidi_control(*c)).enumerate() {
        if max.is_some_and(|max| count >= max) {
            out.push('…');
            break;
        }
        out.push(if c.is_control() { ' ' } else { c });
    }
    out
}

/// Makes a rendered subject safe for a header: control characters (CR, LF, NUL, TAB…) and
/// runs of white space become one space, bidirectional controls are dropped, the ends are
/// trimmed and the length is cut at [`MAX_RENDERED_SUBJECT_CHARS`].
pub fn sanitize_subject(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len().min(1024));
    let mut count = 0;
    let mut pending_space = false;
    for c in raw.chars() {
        if is_bidi_control(c) {
            continue;
        }
        if c.is_whitespace() || is_forbidden_in_header(c) {
            pending_space = !out.is_empty();
            continue;
        }
        if count + usize::from(pending_space) >= MAX_RENDERED_SUBJECT_CHARS {
            out.push('…');
            return out;
        }
        if pending_space {
            out.push(' ');
            count += 1;
            pending_space = false;
        }
        out.push(c);
        count += 1;
    }
    out
}

const FRENCH_MONTHS: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];
const ENGLISH_MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// A deadline in words for `locale`'s language, in UTC to the minute (seconds are dropped,
/// so the stated time is never later than the real one).
///
/// ```
/// use admit_core::{Locale, Timestamp};
/// use admit_mail::format_deadline;
/// let at = Timestamp::from_unix_micros(1_796_306_700_000_000); // 2026-12-03T14:05:00Z
/// assert_eq!(format_deadline(at, &Locale::fr()), "3 décembre 2026 à 14:05 UTC");
/// assert_eq!(format_deadline(at, &Locale::en()), "3 December 2026 at 14:05 UTC");
/// assert_eq!(format_deadline(at, &Locale::parse("de").unwrap()), "2026-12-03 14:05 UTC");
/// ```
pub fn format_deadline(at: Timestamp, locale: &Locale) -> String {
    let at = at.to_datetime();
    let (year, day, hour, minute) = (at.year(), at.day(), at.hour(), at.minute());
    let month = usize::from(u8::from(at.month())) - 1;
    match locale.language() {
        "fr" => {
            let day = if day == 1 { "1er".to_owned() } else { day.to_string() };
            format!("{day} {} {year} à {hour:02}:{minute:02} UTC", FRENCH_MONTHS[month])
        }
        "en" => format!("{day} {} {year} at {hour:02}:{minute:02} UTC", ENGLISH_MONTHS[month]),
        _ => format!("{year:04}-{:02}-{day:02} {hour:02}:{minute:02} UTC", month + 1),
    }
}

/// Configures [`Templates`]; everything is checked in [`TemplatesBuilder::build`].
#[derive(Debug, Clone, Default)]
pub struct TemplatesBuilder {
    product_name: Option<String>,
    default_locale: Option<Locale>,
    support_email: Option<String>,
    sign_in_url: Option<String>,
    dirs: Vec<PathBuf>,
    overrides: Vec<(Locale, MailKind, TemplatePart, String)>,
}

impl TemplatesBuilder {
    /// The product name shown in mails (« Portail Famille »).
    pub fn product_name(mut self, name: impl Into<String>) -> Self {
        self.product_name = Some(name.into());
        self
    }

    /// The locale used when the recipient's has no templates (default: English).
    pub fn default_locale(mut self, locale: Locale) -> Self {
        self.default_locale = Some(locale);
        self
    }

    /// The support address mails point to (`support_email` in templates).
    pub fn support_email(mut self, email: impl Into<String>) -> Self {
        self.support_email = Some(email.into());
        self
    }

    /// The sign-in page (`sign_in_url` in templates), from the host's configuration.
    pub fn sign_in_url(mut self, url: impl Into<String>) -> Self {
        self.sign_in_url = Some(url.into());
        self
    }

    /// Replaces (or adds) one template. Later overrides win over earlier ones and over
    /// directories.
    pub fn override_template(
        mut self,
        locale: Locale,
        kind: MailKind,
        part: TemplatePart,
        source: impl Into<String>,
    ) -> Self {
        self.overrides.push((locale, kind, part, source.into()));
        self
    }

    /// Loads overrides from `dir`, laid out like the built-ins:
    /// `<dir>/<locale>/<kind>.{subject,txt,html}` (e.g. `fr/invitation.html`). Hidden files
    /// are skipped; any other unexpected file is an error.
    pub fn override_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dirs.push(dir.into());
        self
    }

    /// Loads, checks and compiles every template.
    ///
    /// Each template must parse, use only [`TEMPLATE_VARIABLES`], and render with sample
    /// contexts for its kind; each locale that has a kind has all three parts of it; the
    /// default locale has every kind.
    ///
    /// # Errors
    /// Any [`TemplateError`] but [`TemplateError::MissingValue`] and [`TemplateError::Render`].
    pub fn build(self) -> Result<Templates, TemplateError> {
        let product_name = self.product_name.unwrap_or_else(|| Templates::DEFAULT_PRODUCT_NAME.to_owned());
        if product_name.trim().is_empty()
            || product_name.chars().any(is_forbidden_in_header)
            || product_name.chars().count() > 100
        {
            return Err(TemplateError::InvalidSetting("product name"));
        }
        let support_email = match self.support_email {
            Some(text) => Some(
                Email::parse(&text).map_err(|_| TemplateError::InvalidSetting("support email"))?.as_str().to_owned(),
            ),
            None => None,
        };
        if let Some(url) = &self.sign_in_url {
            let valid = (url.starts_with("https://") || url.starts_with("http://"))
                && url.len() <= 2048
                && !url.chars().any(|c| c.is_whitespace() || is_forbidden_in_header(c) || c == '"' || c == '<');
            if !valid {
                return Err(TemplateError::InvalidSetting("sign-in url"));
            }
        }
        let default_locale = self.default_locale.unwrap_or_else(Locale::en);

        let mut sources: BTreeMap<(String, MailKind, TemplatePart), String> = BTreeMap::new();
        for (locale, kind, ext, source) in BUILTIN {
            let kind = MailKind::from_name(kind).expect("built-in kind");
            let part = TemplatePart::from_extension(ext).expect("built-in part");
            sources.insert(((*locale).to_owned(), kind, part), (*source).to_owned());
        }
        for dir in &self.dirs {
            load_dir(dir, &mut sources)?;
        }
        for (locale, kind, part, source) in self.overrides {
            sources.insert((locale.as_str().to_owned(), kind, part), source);
        }

        let available: BTreeSet<(String, MailKind)> = sources.keys().map(|(l, k, _)| (l.clone(), *k)).collect();
        for (locale, kind) in &available {
            for part in TemplatePart::ALL {
                if !sources.contains_key(&(locale.clone(), *kind, part)) {
                    return Err(TemplateError::MissingPart { name: template_name(locale, *kind, part) });
                }
            }
        }
        for kind in MailKind::ALL {
            if !available.contains(&(default_locale.as_str().to_owned(), kind))
                && !available.contains(&(default_locale.language().to_owned(), kind))
            {
                return Err(TemplateError::MissingPart {
                    name: template_name(default_locale.as_str(), kind, TemplatePart::Subject),
                });
            }
        }

        let mut env = new_environment();
        for ((locale, kind, part), source) in sources {
            let name = template_name(&locale, kind, part);
            env.add_template_owned(name.clone(), source)
                .map_err(|e| TemplateError::Invalid { name, source: Box::new(e) })?;
        }

        let mut known: HashSet<String> = TEMPLATE_VARIABLES.iter().map(|v| (*v).to_owned()).collect();
        known.extend(env.globals().map(|(name, _)| name.to_owned()));
        for (name, template) in env.templates() {
            let mut unknown: Vec<String> = template.undeclared_variables(false).difference(&known).cloned().collect();
            unknown.sort();
            if let Some(variable) = unknown.into_iter().next() {
                return Err(TemplateError::UnknownVariable { name: name.to_owned(), variable });
            }
        }

        let templates =
            Templates { env, available, default_locale, product_name, support_email, sign_in_url: self.sign_in_url };
        templates.check_samples()?;
        Ok(templates)
    }
}

impl Templates {
    /// Renders every (locale, kind) with the sample contexts its kind can receive, turning
    /// any run-time failure into a build-time [`TemplateError::Invalid`].
    fn check_samples(&self) -> Result<(), TemplateError> {
        let deadline = Timestamp::from_unix_micros(1_796_306_700_000_000);
        for (tag, kind) in &self.available {
            let locale = Locale::parse(tag).map_err(|_| TemplateError::InvalidSetting("locale"))?;
            let base = MailContext::new("Jeanne Martin");
            let samples: Vec<MailContext<'_>> = match kind {
                MailKind::Invitation | MailKind::InvitationReminder | MailKind::PasswordReset => {
                    vec![base.link("https://example.invalid/link#adm_sample").expires_at(deadline)]
                }
                MailKind::TemporaryPassword => vec![
                    base.temporary_password("Sample-temporary-1"),
                    base.temporary_password("Sample-temporary-1").expires_at(deadline),
                ],
                MailKind::EmailChanged => vec![base.new_email("new.address@example.invalid")],
                _ => vec![base],
            };
            for sample in samples {
                let value = self.context_value(&locale, &sample);
                for part in TemplatePart::ALL {
                    let name = template_name(tag, *kind, part);
                    let rendered = self.render_part(&locale, *kind, part, &value).map_err(|e| match e {
                        TemplateError::Render { name, source } => TemplateError::Invalid { name, source },
                        other => other,
                    })?;
                    if part == TemplatePart::Subject && sanitize_subject(&rendered).is_empty() {
                        return Err(TemplateError::EmptySubject { name });
                    }
                }
            }
        }
        Ok(())
    }
}

fn new_environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|name| if name.ends_with(".html") { AutoEscape::Html } else { AutoEscape::None });
    env.set_formatter(|out, state, value| {
        if value.is_none() {
            return Err(minijinja::Error::new(
                ErrorKind::UndefinedError,
                "this value is absent for this mail; guard it with {% if %}",
            ));
        }
        minijinja::escape_formatter(out, state, value)
    });
    if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder().trim_blocks(true).lstrip_blocks(true).build() {
        env.set_syntax(syntax);
    }
    env
}

fn load_dir(dir: &Path, sources: &mut BTreeMap<(String, MailKind, TemplatePart), String>) -> Result<(), TemplateError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| TemplateError::Io { path, source }
    };
    let is_hidden = |name: &std::ffi::OsStr| name.to_str().is_some_and(|n| n.starts_with('.'));
    let mut locales: Vec<_> = std::fs::read_dir(dir).map_err(io(dir))?.collect::<Result<_, _>>().map_err(io(dir))?;
    locales.sort_by_key(|e| e.file_name());
    for locale_entry in locales {
        let locale_path = locale_entry.path();
        if is_hidden(&locale_entry.file_name()) {
            continue;
        }
        let locale = match (locale_path.is_dir(), locale_entry.file_name().to_str().map(Locale::parse)) {
            (true, Some(Ok(locale))) => locale,
            _ => return Err(TemplateError::UnknownFile { path: locale_path }),
        };
        let mut files: Vec<_> = std::fs::read_dir(&locale_path)
            .map_err(io(&locale_path))?
            .collect::<Result<_, _>>()
            .map_err(io(&locale_path))?;
        files.sort_by_key(|e| e.file_name());
        for file in files {
            let path = file.path();
            if is_hidden(&file.file_name()) {
                continue;
            }
            let parsed = file
                .file_name()
                .to_str()
                .and_then(|n| n.rsplit_once('.'))
                .and_then(|(stem, ext)| Some((MailKind::from_name(stem)?, TemplatePart::from_extension(ext)?)));
            let Some((kind, part)) = parsed.filter(|_| path.is_file()) else {
                return Err(TemplateError::UnknownFile { path });
            };
            let source = std::fs::read_to_string(&path).map_err(io(&path))?;
            sources.insert((locale.as_str().to_owned(), kind, part), source);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_lose_line_breaks_controls_and_bidi_overrides() {
        assert_eq!(sanitize_subject("  Hello\r\nBcc: x@evil\0 \u{202E}txt.exe  \n"), "Hello Bcc: x@evil txt.exe");
        assert_eq!(sanitize_subject("\n\t "), "");
        let long = sanitize_subject(&"é".repeat(1000));
        assert_eq!(long.chars().count(), MAX_RENDERED_SUBJECT_CHARS + 1);
        assert!(long.ends_with('…'));
    }

    #[test]
    fn values_are_cleaned_and_cut() {
        assert_eq!(clean_value("Eve\r\nBcc: x", None), "Eve  Bcc: x");
        assert_eq!(clean_value("a\u{202E}b\u{2066}c", None), "abc");
        assert_eq!(clean_value("abcdef", Some(3)), "abc…");
        assert_eq!(clean_value("abc", Some(3)), "abc");
    }

    #[test]
    fn deadlines_read_naturally() {
        let first = Timestamp::from_datetime(time::macros::datetime!(2026-03-01 09:07:59.999 UTC));
        assert_eq!(format_deadline(first, &Locale::fr()), "1er mars 2026 à 09:07 UTC");
        assert_eq!(format_deadline(first, &Locale::en()), "1 March 2026 at 09:07 UTC");
        assert_eq!(format_deadline(first, &Locale::parse("fr-CA").unwrap()), "1er mars 2026 à 09:07 UTC");
    }
}
