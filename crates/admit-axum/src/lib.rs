//! The pages a person sees behind admit's mailed links, on axum 0.8: the landing page of
//! an invitation or reset link with its set-password form, "forgot password", sign-in,
//! the forced change of a temporary password, and an axum-login backend (feature
//! `axum-login`, on by default) whose sessions end when the password changes.
//!
//! ```no_run
//! use admit_axum::{AdmitBackend, Pages};
//! use axum_login::AuthManagerLayerBuilder;
//! use axum_login::tower_sessions::{MemoryStore, SessionManagerLayer};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let admit = admit::Admit::embedded("./data", "http://localhost:3000").await?;
//! let sessions = SessionManagerLayer::new(MemoryStore::default()).with_secure(false);
//! let auth = AuthManagerLayerBuilder::new(AdmitBackend::new(admit.clone()), sessions).build();
//! let app = axum::Router::new()
//!     .merge(Pages::new(admit).after_sign_in("/").router())
//!     .layer(auth);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await?;
//! # Ok(()) }
//! ```
//!
//! Every page sends [`SECURITY_HEADERS`]; every POST is checked against CSRF (a form token
//! derived from a per-browser cookie, plus `Origin` and `Sec-Fetch-Site`); bodies are
//! bounded ([`Pages::BODY_LIMIT`]); refusals by a rate limit answer 429 with `Retry-After`;
//! tokens are never logged. See `docs/web.md`.

#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

#[cfg(feature = "axum-login")]
mod backend;
mod pages;
mod security;
mod strings;
mod templates;

use std::sync::Arc;

use admit::Admit;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;

#[cfg(feature = "axum-login")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum-login")))]
pub use backend::{AdmitBackend, AdmitUser, BackendError, Credentials};
pub use security::{CONTENT_SECURITY_POLICY, CSRF_COOKIE, FLASH_COOKIE, RequesterKey, SECURITY_HEADERS};
pub use templates::{Page, PageTemplateError, PageTemplates, PageTemplatesBuilder};

/// The administrators' console: the « Comptes » list (status column, counts per status,
/// filters, keyset paging) and the account page with its actions, each behind its
/// confirmation step and followed by its success message (Post/Redirect/Get). The host
/// mounts [`Console::router`] behind its own sign-in; the acting administrator comes from
/// the axum-login session of [`AdmitBackend`] (feature `axum-login`) or from
/// [`Console::actor`]. Every read and action goes through the facade, which decides; the
/// console only hides what the policy would refuse. Same security layer as [`Pages`].
///
/// ```no_run
/// # #[cfg(feature = "axum-login")]
/// # async fn run(admit: admit::Admit) {
/// use admit_axum::{AdmitBackend, Console, Pages};
/// use axum_login::AuthManagerLayerBuilder;
/// use axum_login::tower_sessions::{MemoryStore, SessionManagerLayer};
///
/// let sessions = SessionManagerLayer::new(MemoryStore::default());
/// let auth = AuthManagerLayerBuilder::new(AdmitBackend::new(admit.clone()), sessions).build();
/// let app = axum::Router::new()
///     .merge(Pages::new(admit.clone()).after_sign_in("/console/accounts").router())
///     .merge(Console::new(admit).router()) // under /console
///     .layer(auth);
/// # let _ = app; }
/// ```
pub struct Console {
    admit: Admit,
    templates: Option<PageTemplates>,
    catalogue: admit::mail::Catalogue,
    requester: RequesterKey,
    paths: PagePaths,
    base: String,
    csrf_key: Option<[u8; 32]>,
    actor: Option<Arc<pages::console::ActorFn>>,
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console").field("base", &self.base).finish_non_exhaustive()
    }
}

impl Console {
    /// The console of `admit` under `/console`, with the built-in templates and strings,
    /// the acting administrator from the axum-login session (feature `axum-login`).
    pub fn new(admit: Admit) -> Console {
        #[cfg(feature = "axum-login")]
        let actor: Option<Arc<pages::console::ActorFn>> = Some(Arc::new(|parts: &axum::http::request::Parts| {
            let auth = parts.extensions.get::<axum_login::AuthSession<AdmitBackend>>()?;
            auth.user.as_ref().filter(|u| !u.must_change_password).map(|u| u.id)
        }));
        #[cfg(not(feature = "axum-login"))]
        let actor = None;
        Console {
            admit,
            templates: None,
            catalogue: admit::mail::Catalogue::builtin(),
            requester: RequesterKey::default(),
            paths: PagePaths::default(),
            base: "/console".to_owned(),
            csrf_key: None,
            actor,
        }
    }

    /// Where the console lives (default `/console`): a local path without a trailing
    /// slash; anything else keeps the default.
    pub fn base_path(mut self, path: impl Into<String>) -> Self {
        let path = path.into();
        if path.starts_with('/') && !path.starts_with("//") && !path.ends_with('/') && !path.contains('\\') {
            self.base = path;
        }
        self
    }

    /// The acting administrator of a request, from the host's own authentication
    /// (`None`: not signed in, sent to the sign-in page). Replaces the axum-login session.
    pub fn actor(
        mut self,
        actor: impl Fn(&axum::http::request::Parts) -> Option<admit::core::AccountId> + Send + Sync + 'static,
    ) -> Self {
        self.actor = Some(Arc::new(actor));
        self
    }

    /// Templates of the host's own (see [`PageTemplates::builder`]).
    pub fn templates(mut self, templates: PageTemplates) -> Self {
        self.templates = Some(templates);
        self
    }

    /// The console strings (confirmations, success messages) with the host's overrides.
    pub fn catalogue(mut self, catalogue: admit::mail::Catalogue) -> Self {
        self.catalogue = catalogue;
        self
    }

    /// Where rate-limit keys come from (see [`RequesterKey`]).
    pub fn requester_key(mut self, key: RequesterKey) -> Self {
        self.requester = key;
        self
    }

    /// The paths of the person's pages (the console sends a visitor without a session to
    /// their sign-in page).
    pub fn paths(mut self, paths: PagePaths) -> Self {
        self.paths = paths;
        self
    }

    /// The secret form tokens derive from (see [`Pages::csrf_key`]).
    pub fn csrf_key(mut self, key: [u8; 32]) -> Self {
        self.csrf_key = Some(key);
        self
    }

    /// The router: `{base}/accounts`, `{base}/accounts/{id}`, `{base}/accounts/{id}/{action}`
    /// (GET: the confirmation step; POST: the action, then a redirect to the account page),
    /// `{base}/journal` (the mail journal) and `{base}/admit.css`, under the link base's path like [`Pages::router`].
    pub fn router(self) -> Router {
        let links = self.admit.link_paths().clone();
        let prefix = links.prefix().to_owned();
        let full = |path: &str| format!("{prefix}{path}");
        let base = full(&self.base);
        let paths = resolved_paths(&links, &self.paths, format!("{base}/admit.css"), format!("{base}/accounts"));
        let page = Arc::new(page_state(self.admit, self.templates, self.requester, self.csrf_key, paths.clone()));
        let state = Arc::new(pages::console::ConsoleState {
            page: page.clone(),
            catalogue: self.catalogue,
            base: base.clone(),
            actor: self.actor,
        });
        Router::new()
            .route(&format!("{base}/accounts"), get(pages::console::accounts))
            .route(&format!("{base}/accounts/{{id}}"), get(pages::console::account))
            .route(&format!("{base}/journal"), get(pages::console::journal))
            .route(
                &format!("{base}/accounts/{{id}}/{{action}}"),
                get(pages::console::confirm).post(pages::console::perform),
            )
            .route(&paths.stylesheet, get(pages::console::stylesheet))
            .layer(axum::middleware::from_fn_with_state(page, pages::guard))
            .layer(DefaultBodyLimit::max(Pages::BODY_LIMIT))
            .with_state(state)
    }
}

/// The paths of the pages that are not in mails, under the link base's path. The link
/// pages' paths come from admit's configuration ([`admit::LinkPaths`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PagePaths {
    /// "Forgot password" (default `/forgot-password`).
    pub forgot_password: String,
    /// Sign-in (default `/sign-in`).
    pub sign_in: String,
    /// Sign-out, POST only (default `/sign-out`).
    pub sign_out: String,
    /// The change of a temporary password (default `/change-password`).
    pub change_password: String,
    /// The stylesheet (default `/admit.css`).
    pub stylesheet: String,
}

impl Default for PagePaths {
    fn default() -> Self {
        PagePaths {
            forgot_password: "/forgot-password".to_owned(),
            sign_in: "/sign-in".to_owned(),
            sign_out: "/sign-out".to_owned(),
            change_password: "/change-password".to_owned(),
            stylesheet: "/admit.css".to_owned(),
        }
    }
}

/// The pages, built from an [`Admit`]; [`Pages::router`] gives the router the host merges
/// into its own.
#[derive(Debug)]
pub struct Pages {
    admit: Admit,
    templates: Option<PageTemplates>,
    requester: RequesterKey,
    paths: PagePaths,
    after_sign_in: String,
    csrf_key: Option<[u8; 32]>,
}

impl Pages {
    /// The largest request body the pages read (16 KiB): larger ones get 413.
    pub const BODY_LIMIT: usize = 16 * 1024;

    /// The pages of `admit`, with the built-in templates, the peer address as requester key
    /// and `/` after sign-in.
    pub fn new(admit: Admit) -> Pages {
        Pages {
            admit,
            templates: None,
            requester: RequesterKey::default(),
            paths: PagePaths::default(),
            after_sign_in: "/".to_owned(),
            csrf_key: None,
        }
    }

    /// Templates of the host's own (see [`PageTemplates::builder`]).
    pub fn templates(mut self, templates: PageTemplates) -> Self {
        self.templates = Some(templates);
        self
    }

    /// Where rate-limit keys come from (default: the peer address; see [`RequesterKey`]).
    pub fn requester_key(mut self, key: RequesterKey) -> Self {
        self.requester = key;
        self
    }

    /// The paths of the pages that are not in mails.
    pub fn paths(mut self, paths: PagePaths) -> Self {
        self.paths = paths;
        self
    }

    /// Where a person goes once signed in (after sign-in, after setting a password through a
    /// link, after changing a temporary password): a path of the host's, default `/`. Only
    /// a local path (`/…`, not `//…`) is accepted; anything else keeps the default.
    pub fn after_sign_in(mut self, path: impl Into<String>) -> Self {
        let path = path.into();
        if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') {
            self.after_sign_in = path;
        }
        self
    }

    /// The secret form tokens derive from (default: random per process). Give every
    /// instance of a multi-host deployment the same one, from your secret store, so a form
    /// served by one host can be posted to another.
    pub fn csrf_key(mut self, key: [u8; 32]) -> Self {
        self.csrf_key = Some(key);
        self
    }

    /// The router: the link pages at admit's link paths, the other pages at [`PagePaths`],
    /// all under the path of the link base (`https://app.example.org/portal` → `/portal/…`),
    /// so `Router::merge` it into the host's router. Serve it with
    /// `into_make_service_with_connect_info::<SocketAddr>()` when the requester key is the
    /// peer address. With the `axum-login` feature, sign-in, sign-out and the password
    /// change use the host's `AuthManagerLayer<AdmitBackend, _>`, which must wrap it.
    pub fn router(self) -> Router {
        let links = self.admit.link_paths().clone();
        let stylesheet = format!("{}{}", links.prefix(), self.paths.stylesheet);
        let paths = resolved_paths(&links, &self.paths, stylesheet, self.after_sign_in);
        let state = Arc::new(page_state(self.admit, self.templates, self.requester, self.csrf_key, paths.clone()));
        let router = Router::new()
            .route(&paths.invitation, get(pages::invitation_get).post(pages::invitation_post))
            .route(&paths.reset, get(pages::reset_get).post(pages::reset_post))
            .route(&paths.forgot_password, get(pages::forgot_get).post(pages::forgot_post))
            .route(&paths.stylesheet, get(pages::stylesheet));
        #[cfg(feature = "axum-login")]
        let router = router
            .route(&paths.sign_in, get(pages::sign_in_get).post(pages::sign_in_post))
            .route(&paths.sign_out, axum::routing::post(pages::sign_out_post))
            .route(&paths.change_password, get(pages::change_get).post(pages::change_post));
        router
            .layer(axum::middleware::from_fn_with_state(state.clone(), pages::guard))
            .layer(DefaultBodyLimit::max(Self::BODY_LIMIT))
            .with_state(state)
    }
}

/// The pages' paths under the link base's path: the link paths from admit's configuration,
/// the others from `paths`; `stylesheet` and `after_sign_in` as the router wants them.
fn resolved_paths(
    links: &admit::LinkPaths,
    paths: &PagePaths,
    stylesheet: String,
    after_sign_in: String,
) -> pages::Paths {
    let prefix = links.prefix();
    let full = |path: &str| format!("{prefix}{path}");
    pages::Paths {
        invitation: full(links.invitation()),
        reset: full(links.reset()),
        forgot_password: full(&paths.forgot_password),
        sign_in: full(&paths.sign_in),
        sign_out: full(&paths.sign_out),
        change_password: full(&paths.change_password),
        stylesheet,
        cookie: if prefix.is_empty() { "/".to_owned() } else { prefix.to_owned() },
        after_sign_in,
    }
}

/// The state the pages share, for [`Pages::router`] and [`Console::router`].
fn page_state(
    admit: Admit,
    templates: Option<PageTemplates>,
    requester: RequesterKey,
    csrf_key: Option<[u8; 32]>,
    paths: pages::Paths,
) -> pages::State {
    let links = admit.link_paths().clone();
    pages::State {
        templates: templates.unwrap_or_else(PageTemplates::builtin),
        requester,
        csrf: match csrf_key {
            Some(key) => security::CsrfKey::new(key),
            None => security::CsrfKey::random(),
        },
        origin: links.origin().to_owned(),
        secure: links.is_https(),
        paths,
        admit,
    }
}
