//! [`PageTemplates`]: the pages' minijinja templates and their French and English words,
//! overridable per locale and checked when loaded (as the mail templates are).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use admit::core::Locale;
use minijinja::{Environment, UndefinedBehavior, Value, context};

/// One page template. Every page extends [`Page::Layout`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Page {
    /// The shared layout (`layout.html`): `<html lang>`, the stylesheet, the flash message.
    Layout,
    /// The form behind an invitation or reset link (`set_password.html`).
    SetPassword,
    /// The one page for an invalid, used, expired or revoked link (`invalid_link.html`).
    InvalidLink,
    /// "Forgot password": the form and, after it was sent, the same answer for every address
    /// (`forgot_password.html`).
    ForgotPassword,
    /// Sign-in (`sign_in.html`).
    SignIn,
    /// The change of a temporary password (`change_password.html`).
    ChangePassword,
    /// A short message: refused form, too many attempts, failure (`message.html`).
    Message,
    /// The console's « Comptes » list: filters, counts per status, rows, paging
    /// (`console_accounts.html`).
    ConsoleAccounts,
    /// The console's account page: profile, grants, labels, status, actions
    /// (`console_account.html`).
    ConsoleAccount,
    /// The console's confirmation step of one action (`console_confirm.html`).
    ConsoleConfirm,
    /// The console's mail journal: filters on subject, recipient and state
    /// (`console_journal.html`).
    ConsoleJournal,
}

impl Page {
    /// Every page.
    pub const ALL: [Page; 11] = [
        Page::Layout,
        Page::SetPassword,
        Page::InvalidLink,
        Page::ForgotPassword,
        Page::SignIn,
        Page::ChangePassword,
        Page::Message,
        Page::ConsoleAccounts,
        Page::ConsoleAccount,
        Page::ConsoleConfirm,
        Page::ConsoleJournal,
    ];

    /// The template's file name (`sign_in.html`).
    pub fn file_name(self) -> &'static str {
        match self {
            Page::Layout => "layout.html",
            Page::SetPassword => "set_password.html",
            Page::InvalidLink => "invalid_link.html",
            Page::ForgotPassword => "forgot_password.html",
            Page::SignIn => "sign_in.html",
            Page::ChangePassword => "change_password.html",
            Page::Message => "message.html",
            Page::ConsoleAccounts => "console_accounts.html",
            Page::ConsoleAccount => "console_account.html",
            Page::ConsoleConfirm => "console_confirm.html",
            Page::ConsoleJournal => "console_journal.html",
        }
    }

    fn from_file_name(name: &str) -> Option<Page> {
        Page::ALL.into_iter().find(|p| p.file_name() == name)
    }

    fn builtin(self) -> &'static str {
        match self {
            Page::Layout => include_str!("../templates/layout.html"),
            Page::SetPassword => include_str!("../templates/set_password.html"),
            Page::InvalidLink => include_str!("../templates/invalid_link.html"),
            Page::ForgotPassword => include_str!("../templates/forgot_password.html"),
            Page::SignIn => include_str!("../templates/sign_in.html"),
            Page::ChangePassword => include_str!("../templates/change_password.html"),
            Page::Message => include_str!("../templates/message.html"),
            Page::ConsoleAccounts => include_str!("../templates/console_accounts.html"),
            Page::ConsoleAccount => include_str!("../templates/console_account.html"),
            Page::ConsoleConfirm => include_str!("../templates/console_confirm.html"),
            Page::ConsoleJournal => include_str!("../templates/console_journal.html"),
        }
    }
}

/// Why [`PageTemplatesBuilder::build`] refused the templates.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PageTemplateError {
    /// A template does not parse, or fails to render with the sample contexts.
    #[error("page template {name} is invalid: {source}")]
    Invalid {
        /// The template (`fr/sign_in.html`).
        name: String,
        /// minijinja's error.
        #[source]
        source: Box<minijinja::Error>,
    },
    /// A string override names a key the pages do not use.
    #[error("unknown page string {key:?} for locale {locale}")]
    UnknownString {
        /// The locale.
        locale: String,
        /// The key.
        key: String,
    },
    /// A locale added by the host lacks a string every page needs.
    #[error("locale {locale} lacks the page string {key:?}")]
    MissingString {
        /// The locale.
        locale: String,
        /// The key.
        key: String,
    },
    /// An override directory holds a file that is not a page template, or cannot be read.
    #[error("override directory: {0}")]
    Directory(String),
    /// The product name is empty or too long.
    #[error("invalid setting: {0}")]
    InvalidSetting(&'static str),
}

/// The pages' templates and words. Built once (checked), shared by the router.
///
/// ```
/// use admit::core::Locale;
/// use admit_axum::{Page, PageTemplates};
///
/// let templates = PageTemplates::builder()
///     .product_name("Portail Famille")
///     .string(Locale::parse("fr")?, "sign_in_title", "Connexion au portail")
///     .override_template(Some(Locale::parse("en")?), Page::Message, "{% extends layout %}{% block main %}<p>{{ message }}</p>{% endblock %}")
///     .build()?;
/// assert_eq!(templates.locales(), vec!["en", "fr"]);
/// assert!(PageTemplates::builder().string(Locale::parse("fr")?, "no_such_key", "x").build().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct PageTemplates {
    env: Environment<'static>,
    strings: BTreeMap<String, BTreeMap<String, String>>,
    default_locale: Locale,
    product_name: String,
    support_email: Option<String>,
}

impl fmt::Debug for PageTemplates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PageTemplates")
            .field("locales", &self.strings.keys().collect::<Vec<_>>())
            .field("default_locale", &self.default_locale)
            .field("product_name", &self.product_name)
            .finish_non_exhaustive()
    }
}

impl PageTemplates {
    /// The built-in French and English pages.
    pub fn builtin() -> PageTemplates {
        PageTemplates::builder().build().expect("the built-in page templates are valid")
    }

    /// Starts a configuration.
    pub fn builder() -> PageTemplatesBuilder {
        PageTemplatesBuilder::default()
    }

    /// The locales the pages speak (`["en", "fr"]`).
    pub fn locales(&self) -> Vec<&str> {
        self.strings.keys().map(String::as_str).collect()
    }

    /// The locale the pages use for `wanted`: the exact tag, then its language, then the
    /// default locale.
    pub fn resolve(&self, wanted: &Locale) -> Locale {
        [wanted.as_str(), wanted.language()]
            .into_iter()
            .find(|tag| self.strings.contains_key(*tag))
            .and_then(|tag| Locale::parse(tag).ok())
            .unwrap_or_else(|| self.default_locale.clone())
    }

    /// The first locale of an `Accept-Language` header the pages speak, else the default.
    pub fn negotiate(&self, accept_language: Option<&str>) -> Locale {
        let mut ranked: Vec<(u16, usize, &str)> = Vec::new();
        for (index, item) in accept_language.unwrap_or("").split(',').enumerate().take(16) {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or("").trim();
            let quality = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if !tag.is_empty() && tag != "*" && quality > 0.0 {
                ranked.push(((quality * 1000.0) as u16, index, tag));
            }
        }
        ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        for (_, _, tag) in ranked {
            if let Ok(locale) = Locale::parse(tag) {
                let resolved = self.resolve(&locale);
                if resolved.as_str() == locale.as_str() || resolved.as_str() == locale.language() {
                    return resolved;
                }
            }
        }
        self.default_locale.clone()
    }

    /// One string of `locale` (resolved as [`PageTemplates::resolve`]).
    pub fn text(&self, locale: &Locale, key: &str) -> Option<&str> {
        let locale = self.resolve(locale);
        self.strings.get(locale.as_str()).and_then(|s| s.get(key)).map(String::as_str)
    }

    /// Renders `page` in `locale` with `values` (the page's own variables).
    ///
    /// # Errors
    /// A minijinja error (only an override can fail here: each was rendered with sample
    /// values when loaded).
    pub fn render(&self, page: Page, locale: &Locale, values: Value) -> Result<String, minijinja::Error> {
        let locale = self.resolve(locale);
        let name = self.template_name(page, &locale);
        let layout = self.template_name(Page::Layout, &locale);
        let strings = self.strings.get(locale.as_str()).cloned().unwrap_or_default();
        let ctx = context! {
            lang => locale.as_str(),
            t => strings,
            layout => layout,
            product_name => self.product_name.as_str(),
            support_email => self.support_email.as_deref(),
            ..values
        };
        self.env.get_template(&name)?.render(ctx)
    }

    fn template_name(&self, page: Page, locale: &Locale) -> String {
        let own = format!("{}/{}", locale.as_str(), page.file_name());
        if self.env.get_template(&own).is_ok() { own } else { page.file_name().to_owned() }
    }

    /// Renders every page in every locale with sample values (so an override that would
    /// fail at run time fails here).
    fn check(&self) -> Result<(), PageTemplateError> {
        for tag in self.strings.keys() {
            let locale = Locale::parse(tag).map_err(|_| PageTemplateError::InvalidSetting("locale"))?;
            for (page, sample) in samples() {
                self.render(page, &locale, sample).map_err(|source| PageTemplateError::Invalid {
                    name: self.template_name(page, &locale),
                    source: Box::new(source),
                })?;
            }
        }
        Ok(())
    }
}

/// Sample values for every page, covering the branches the pages take.
fn samples() -> Vec<(Page, Value)> {
    let field_errors: BTreeMap<String, Vec<String>> =
        [("password".to_owned(), vec!["Too short.".to_owned(), "Too common.".to_owned()])].into();
    let form = |errors: BTreeMap<String, Vec<String>>| {
        context! {
            css => "/admit.css", csrf => "sample", action => "/accept-invitation", flash => Some("Done."),
            errors => errors.clone(), error_summary => errors.values().flatten().cloned().collect::<Vec<_>>(),
            links => context! { forgot => "/forgot-password", sign_in => "/sign-in", sign_out => "/sign-out" },
            min_length => 12, max_length => 128,
        }
    };
    let mut out = Vec::new();
    for errors in [BTreeMap::new(), field_errors] {
        let base = form(errors);
        for invitation in [true, false] {
            out.push((
                Page::SetPassword,
                context! { invitation, token => "adm_sample", full_name => "Jeanne Martin",
                email => Some("jeanne@example.org"), expires => "3 December 2026", ..base.clone() },
            ));
        }
        out.push((Page::InvalidLink, base.clone()));
        for sent in [false, true] {
            out.push((Page::ForgotPassword, context! { sent, email => "jeanne@example.org", ..base.clone() }));
        }
        out.push((Page::SignIn, context! { email => "jeanne@example.org", ..base.clone() }));
        out.push((Page::ChangePassword, context! { email => Some("jeanne@example.org"), ..base.clone() }));
        out.push((Page::Message, context! { title => "Title", message => "Message.", ..base.clone() }));
        out.extend(console_samples(&base));
    }
    out
}

/// Sample values of the console's pages (empty and full lists, every optional part).
fn console_samples(base: &Value) -> Vec<(Page, Value)> {
    let nav = context! { accounts => "/console/accounts" };
    let kinds = context! { member => "?kind=member", public => "?kind=public", all => "?" };
    let status =
        context! { key => "invited", label => "Invited", selected => true, count => 3, href => "?status=invited" };
    let row = context! { href => "/console/accounts/x", name => "Ada", email => Some("ada@example.org"),
    grants => vec!["Platform: Guest"], status => "Invited", status_key => "invited" };
    let bare = context! { href => "/console/accounts/y", name => "Bob", email => None::<String>,
    grants => Vec::<String>::new(), status => "Created", status_key => "created" };
    let scope = context! { key => "program:x", label => "Programme x", selected => true };
    let mut out = Vec::new();
    for (rows, scopes, next) in
        [(vec![], vec![], None), (vec![row, bare], vec![scope.clone(), scope], Some("?after=x"))]
    {
        out.push((
            Page::ConsoleAccounts,
            context! { wide => true, nav => nav.clone(), kinds => kinds.clone(), kind => next.map(|_| "member"),
            scopes, q => "ada", statuses => vec![status.clone()], rows, first => next, next, ..base.clone() },
        ));
    }
    let mail = context! { to => "ada@example.org", subject => "Reset", kind => "password_reset",
    state => "Failed", state_key => "failed", error => Some("refused"), date => "1 December 2026" };
    for (mails, next) in [(vec![], None), (vec![mail], Some("?after=x"))] {
        out.push((
            Page::ConsoleJournal,
            context! { wide => true, nav => context! { accounts => "/console/accounts", journal => "/console/journal" },
            journal_help => "Help.", subject => "mot de passe", recipient => "", states => vec![context! { key => "sent",
            label => "Sent", selected => true }], mails, first => next, next, ..base.clone() },
        ));
    }
    let label = context! { key => "position", value => "Nurse" };
    for full in [false, true] {
        let account = context! { name => "Ada", status => "Invited", status_key => "invited", temporary_expired => full,
        email => full.then_some("ada@example.org"), kind => "Team member", phone => full.then_some("+33 1"),
        locale => "fr", created_at => "1 December 2026", invitation_expires => full.then_some("3 December 2026"),
        last_login => full.then_some("2 December 2026"), grants => vec!["Platform: Guest"],
        labels => if full { vec![label.clone()] } else { vec![] } };
        let actions =
            if full { vec![context! { href => "/console/accounts/x/invite", label => "Invite" }] } else { vec![] };
        out.push((Page::ConsoleAccount, context! { wide => true, nav => nav.clone(), back => "/console/accounts", account, actions, ..base.clone() }));
        out.push((
            Page::ConsoleConfirm,
            context! { wide => true, nav => nav.clone(), heading => "Invite", account_name => "Ada",
            account_email => full.then_some("ada@example.org"), question => "Continue?", button => "Yes",
            back => "/console/accounts/x", set_password => full, must_change => full,
            must_change_label => "Must change", ..base.clone() },
        ));
    }
    out
}

/// Configures [`PageTemplates`]: product name, default locale, support address, template
/// and string overrides, a locale of the host's own.
#[derive(Debug, Default)]
pub struct PageTemplatesBuilder {
    product_name: Option<String>,
    default_locale: Option<Locale>,
    support_email: Option<String>,
    templates: Vec<(Option<Locale>, Page, String)>,
    strings: Vec<(Locale, String, String)>,
    dirs: Vec<PathBuf>,
}

impl PageTemplatesBuilder {
    /// The product name in titles (default "Admit").
    pub fn product_name(mut self, name: impl Into<String>) -> Self {
        self.product_name = Some(name.into());
        self
    }

    /// The locale of the pages when the browser asks for none they speak (default English).
    pub fn default_locale(mut self, locale: Locale) -> Self {
        self.default_locale = Some(locale);
        self
    }

    /// The support address "didn't get the email?" points to.
    pub fn support_email(mut self, email: impl Into<String>) -> Self {
        self.support_email = Some(email.into());
        self
    }

    /// Replaces one page for one locale (`Some`) or for every locale (`None`). A page
    /// template extends `layout` (`{% extends layout %}`) and fills `{% block main %}`.
    pub fn override_template(mut self, locale: Option<Locale>, page: Page, source: impl Into<String>) -> Self {
        self.templates.push((locale, page, source.into()));
        self
    }

    /// Replaces one string of a locale, or adds it for a new locale (which must then give
    /// every key; the keys are those of the built-in `en` strings).
    pub fn string(mut self, locale: Locale, key: impl Into<String>, text: impl Into<String>) -> Self {
        self.strings.push((locale, key.into(), text.into()));
        self
    }

    /// Loads template overrides from `dir`: `<dir>/<page>.html` for every locale,
    /// `<dir>/<locale>/<page>.html` for one. Hidden files are skipped; any other file is
    /// an error.
    pub fn override_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dirs.push(dir.into());
        self
    }

    /// Loads, checks (every page renders in every locale with sample values) and compiles.
    ///
    /// # Errors
    /// A [`PageTemplateError`] naming the template, string or setting.
    pub fn build(self) -> Result<PageTemplates, PageTemplateError> {
        let product_name = self.product_name.unwrap_or_else(|| "Admit".to_owned());
        if product_name.trim().is_empty() || product_name.chars().count() > 100 {
            return Err(PageTemplateError::InvalidSetting("product name"));
        }
        let mut sources: BTreeMap<String, String> =
            Page::ALL.into_iter().map(|p| (p.file_name().to_owned(), p.builtin().to_owned())).collect();
        for dir in &self.dirs {
            load_dir(dir, &mut sources)?;
        }
        for (locale, page, source) in self.templates {
            let name = match locale {
                Some(locale) => format!("{}/{}", locale.as_str(), page.file_name()),
                None => page.file_name().to_owned(),
            };
            sources.insert(name, source);
        }

        let mut strings: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for (tag, table) in [("en", crate::strings::EN), ("fr", crate::strings::FR)] {
            strings.insert(tag.to_owned(), table.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect());
        }
        let keys: Vec<String> = strings["en"].keys().cloned().collect();
        for (locale, key, text) in self.strings {
            if !keys.contains(&key) {
                return Err(PageTemplateError::UnknownString { locale: locale.as_str().to_owned(), key });
            }
            strings.entry(locale.as_str().to_owned()).or_default().insert(key, text);
        }
        for (locale, table) in &strings {
            if let Some(key) = keys.iter().find(|k| !table.contains_key(*k)) {
                return Err(PageTemplateError::MissingString { locale: locale.clone(), key: key.clone() });
            }
        }
        let default_locale = self.default_locale.unwrap_or_else(Locale::en);
        let default_locale = [default_locale.as_str(), default_locale.language()]
            .into_iter()
            .find(|t| strings.contains_key(*t))
            .and_then(|t| Locale::parse(t).ok())
            .ok_or(PageTemplateError::InvalidSetting("default locale has no strings"))?;

        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
        for (name, source) in sources {
            env.add_template_owned(name.clone(), source)
                .map_err(|e| PageTemplateError::Invalid { name, source: Box::new(e) })?;
        }
        let templates = PageTemplates { env, strings, default_locale, product_name, support_email: self.support_email };
        templates.check()?;
        Ok(templates)
    }
}

fn load_dir(dir: &Path, sources: &mut BTreeMap<String, String>) -> Result<(), PageTemplateError> {
    let error = |e: std::io::Error| PageTemplateError::Directory(format!("{}: {e}", dir.display()));
    for entry in std::fs::read_dir(dir).map_err(error)? {
        let entry = entry.map_err(error)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            let locale = Locale::parse(&name)
                .map_err(|_| PageTemplateError::Directory(format!("{}: not a locale", path.display())))?;
            for inner in std::fs::read_dir(&path).map_err(error)? {
                let inner = inner.map_err(error)?;
                let file = inner.file_name().to_string_lossy().into_owned();
                if file.starts_with('.') {
                    continue;
                }
                let page = Page::from_file_name(&file).ok_or_else(|| {
                    PageTemplateError::Directory(format!("{}: not a page template", inner.path().display()))
                })?;
                let source = std::fs::read_to_string(inner.path()).map_err(error)?;
                sources.insert(format!("{}/{}", locale.as_str(), page.file_name()), source);
            }
        } else {
            let page = Page::from_file_name(&name)
                .ok_or_else(|| PageTemplateError::Directory(format!("{}: not a page template", path.display())))?;
            sources.insert(page.file_name().to_owned(), std::fs::read_to_string(&path).map_err(error)?);
        }
    }
    Ok(())
}
