//! The handlers. Each one renders or routes; every decision is the facade's.

use std::collections::BTreeMap;
use std::sync::Arc;

use admit::core::password::PasswordContext;
use admit::core::token::LinkFailure;
use admit::core::{Email, FullName, Locale, PasswordError, TokenPurpose};
use admit::{Admit, AdmitError, CompletionError, InspectError, LinkInfo};
use axum::Form;
use axum::extract::{FromRequest, Request, State as Extract};
use axum::http::header::{self, HeaderValue};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use minijinja::{Value, context};
use secrecy::SecretString;
use serde::Deserialize;

use crate::security::{self, CSRF_COOKIE, CsrfKey, FLASH_COOKIE, RequesterKey};
use crate::templates::{Page, PageTemplates};

pub(crate) mod console;

/// Every page's full path (prefix included).
#[derive(Debug, Clone)]
pub(crate) struct Paths {
    pub(crate) invitation: String,
    pub(crate) reset: String,
    pub(crate) forgot_password: String,
    pub(crate) sign_in: String,
    pub(crate) sign_out: String,
    #[cfg_attr(not(feature = "axum-login"), allow(dead_code))]
    pub(crate) change_password: String,
    pub(crate) stylesheet: String,
    pub(crate) cookie: String,
    pub(crate) after_sign_in: String,
}

/// What the handlers share.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) admit: Admit,
    pub(crate) templates: PageTemplates,
    pub(crate) requester: RequesterKey,
    pub(crate) csrf: CsrfKey,
    pub(crate) origin: String,
    pub(crate) secure: bool,
    pub(crate) paths: Paths,
}

type Shared = Extract<Arc<State>>;

/// The one-time messages a redirect leaves for the next page, when that page is one of
/// ours (the host's own page after sign-in does not read them, so none is left for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flash {
    PasswordSetSignIn,
    SignedOut,
    ResetSent,
}

impl Flash {
    const ALL: [Flash; 3] = [Flash::PasswordSetSignIn, Flash::SignedOut, Flash::ResetSent];

    fn code(self) -> &'static str {
        match self {
            Flash::PasswordSetSignIn => "password_set_sign_in",
            Flash::SignedOut => "signed_out",
            Flash::ResetSent => "reset_sent",
        }
    }

    fn parse(code: &str) -> Option<Flash> {
        Flash::ALL.into_iter().find(|f| f.code() == code)
    }

    /// The string key of its message (`ResetSent` has none: it switches the page).
    fn text_key(self) -> Option<&'static str> {
        match self {
            Flash::PasswordSetSignIn => Some("flash_password_set_sign_in"),
            Flash::SignedOut => Some("flash_signed_out"),
            Flash::ResetSent => None,
        }
    }
}

/// One request's view: its locale, the browser's CSRF nonce (new or carried), the flash it
/// brings.
struct Visit {
    locale: Locale,
    nonce: String,
    new_nonce: bool,
    flash: Option<Flash>,
    had_flash: bool,
}

impl Visit {
    fn of(state: &State, headers: &HeaderMap) -> Visit {
        let accept = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
        let carried = security::cookie(headers, CSRF_COOKIE).filter(|n| {
            (16..=64).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
        });
        let flash_cookie = security::cookie(headers, FLASH_COOKIE);
        Visit {
            locale: state.templates.negotiate(accept),
            nonce: carried.map_or_else(security::new_nonce, str::to_owned),
            new_nonce: carried.is_none(),
            flash: flash_cookie.and_then(Flash::parse),
            had_flash: flash_cookie.is_some(),
        }
    }

    /// The values every page gets.
    fn base(&self, state: &State, action: &str, errors: &Errors) -> Value {
        let flash = self.flash.and_then(Flash::text_key).and_then(|k| state.templates.text(&self.locale, k));
        let summary: Vec<String> = errors.values().flatten().cloned().collect();
        let policy = state.admit.password_policy();
        context! {
            css => state.paths.stylesheet.as_str(),
            csrf => state.csrf.token(&self.nonce),
            action => action,
            flash => flash,
            errors => errors.clone(),
            error_summary => summary,
            links => context! {
                forgot => state.paths.forgot_password.as_str(),
                sign_in => state.paths.sign_in.as_str(),
                sign_out => state.paths.sign_out.as_str(),
            },
            min_length => policy.min_chars(),
            max_length => policy.max_chars(),
        }
    }

    /// Renders a page with this visit's cookies.
    fn render(&self, state: &State, status: StatusCode, page: Page, values: Value) -> Response {
        match state.templates.render(page, &self.locale, values) {
            Ok(html) => {
                let mut response = (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
                self.cookies(state, &mut response);
                response
            }
            Err(error) => {
                tracing::error!(?page, %error, "admit page failed to render");
                (StatusCode::INTERNAL_SERVER_ERROR, "page failed to render").into_response()
            }
        }
    }

    fn cookies(&self, state: &State, response: &mut Response) {
        let headers = response.headers_mut();
        if self.new_nonce {
            headers.append(
                header::SET_COOKIE,
                security::set_cookie(CSRF_COOKIE, &self.nonce, &state.paths.cookie, state.secure, None),
            );
        }
        if self.had_flash {
            headers.append(
                header::SET_COOKIE,
                security::set_cookie(FLASH_COOKIE, "", &state.paths.cookie, state.secure, Some(0)),
            );
        }
    }

    /// A 303 to `to`, leaving `flash` for the next page.
    fn redirect(&self, state: &State, to: &str, flash: Option<Flash>) -> Response {
        let mut response = StatusCode::SEE_OTHER.into_response();
        let location = HeaderValue::from_str(to).unwrap_or_else(|_| HeaderValue::from_static("/"));
        response.headers_mut().insert(header::LOCATION, location);
        let visit = Visit { had_flash: self.had_flash && flash.is_none(), ..self.clone_shallow() };
        visit.cookies(state, &mut response);
        if let Some(flash) = flash {
            response.headers_mut().append(
                header::SET_COOKIE,
                security::set_cookie(FLASH_COOKIE, flash.code(), &state.paths.cookie, state.secure, Some(60)),
            );
        }
        response
    }

    fn clone_shallow(&self) -> Visit {
        Visit {
            locale: self.locale.clone(),
            nonce: self.nonce.clone(),
            new_nonce: self.new_nonce,
            flash: self.flash,
            had_flash: self.had_flash,
        }
    }

    fn message(&self, state: &State, status: StatusCode, title: &str, text: &str) -> Response {
        let t = |k| state.templates.text(&self.locale, k).unwrap_or(k).to_owned();
        let values = context! { title => t(title), message => t(text), ..self.base(state, "", &Errors::new()) };
        self.render(state, status, Page::Message, values)
    }

    /// 403: a cross-site or stale form.
    fn refused(&self, state: &State) -> Response {
        self.message(state, StatusCode::FORBIDDEN, "refused_title", "refused_text")
    }

    /// 429 with `Retry-After` (seconds).
    fn too_many(&self, state: &State, retry_after: time::Duration) -> Response {
        let mut response = self.message(state, StatusCode::TOO_MANY_REQUESTS, "too_many_title", "too_many_text");
        let seconds = retry_after.whole_seconds().max(1);
        if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }

    /// 503: the service failed (the cause is logged, not shown).
    fn unavailable(&self, state: &State, error: &dyn std::fmt::Display) -> Response {
        tracing::error!(%error, "admit page: service unavailable");
        self.message(state, StatusCode::SERVICE_UNAVAILABLE, "error_title", "error_text")
    }

    fn invalid_link(&self, state: &State) -> Response {
        let values = self.base(state, "", &Errors::new());
        self.render(state, StatusCode::NOT_FOUND, Page::InvalidLink, values)
    }

    /// Checks the form token against the browser's nonce (a fresh nonce never matches).
    fn csrf_ok(&self, state: &State, token: &str) -> bool {
        let ok = !self.new_nonce && state.csrf.verify(&self.nonce, token);
        if !ok {
            tracing::info!(cookie = !self.new_nonce, "admit page: form token refused");
        }
        ok
    }

    fn text(&self, state: &State, key: &str) -> String {
        state.templates.text(&self.locale, key).unwrap_or(key).to_owned()
    }
}

type Errors = BTreeMap<String, Vec<String>>;

/// Runs around every route: security headers on every answer; a POST whose `Origin` or
/// `Sec-Fetch-Site` says it came from elsewhere is refused before its body is read; a
/// request whose requester key cannot be told is refused (500, logged).
pub(crate) async fn guard(Extract(state): Shared, mut request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let mut response = if !security::same_origin(&parts.method, &parts.headers, &state.origin) {
        tracing::info!(
            path = parts.uri.path(),
            origin = ?parts.headers.get(header::ORIGIN),
            site = ?parts.headers.get("sec-fetch-site"),
            "admit page: cross-site POST refused"
        );
        Visit::of(&state, &parts.headers).refused(&state)
    } else {
        match state.requester.key(&parts) {
            Some(key) => {
                parts.extensions.insert(Requester(key));
                request = Request::from_parts(parts, body);
                next.run(request).await
            }
            None => {
                tracing::error!(
                    "admit page: no requester key (serve with into_make_service_with_connect_info::<SocketAddr>(), \
                     or configure Pages::requester_key)"
                );
                Visit::of(&state, &parts.headers).unavailable(&state, &"no requester key")
            }
        }
    };
    security::add_security_headers(&mut response);
    response
}

/// The requester key of this request, set by [`guard`].
#[derive(Debug, Clone)]
struct Requester(String);

fn requester(request: &Request) -> String {
    request.extensions().get::<Requester>().map(|r| r.0.clone()).unwrap_or_default()
}

pub(crate) async fn stylesheet() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], include_str!("../templates/admit.css")).into_response()
}

// ---- the link pages ----

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

#[derive(Deserialize)]
struct LinkForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirmation: String,
}

pub(crate) async fn invitation_get(state: Shared, request: Request) -> Response {
    link_get(state, request, TokenPurpose::Invitation).await
}

pub(crate) async fn reset_get(state: Shared, request: Request) -> Response {
    link_get(state, request, TokenPurpose::PasswordReset).await
}

pub(crate) async fn invitation_post(state: Shared, request: Request) -> Response {
    link_post(state, request, TokenPurpose::Invitation).await
}

pub(crate) async fn reset_post(state: Shared, request: Request) -> Response {
    link_post(state, request, TokenPurpose::PasswordReset).await
}

fn link_action(state: &State, purpose: TokenPurpose) -> &str {
    match purpose {
        TokenPurpose::Invitation => &state.paths.invitation,
        TokenPurpose::PasswordReset => &state.paths.reset,
    }
}

/// Inspects a link (never consumes it) and shows its form, or the one invalid page.
async fn link_get(Extract(state): Shared, request: Request, purpose: TokenPurpose) -> Response {
    let visit = Visit::of(&state, request.headers());
    let requester = requester(&request);
    let token = axum::extract::Query::<TokenQuery>::try_from_uri(request.uri()).ok().and_then(|q| q.0.token);
    let Some(token) = token else {
        return visit.invalid_link(&state);
    };
    match state.admit.inspect_link(&token, &requester).await {
        Ok(info) if info.purpose == purpose => link_form(&state, visit, &info, &token, Errors::new(), StatusCode::OK),
        Ok(_) => visit.invalid_link(&state),
        Err(InspectError::InvalidLink(error)) if error.reason() == LinkFailure::RateLimited => {
            visit.too_many(&state, state.admit.rate_limits().link_failures_per_requester.per)
        }
        // The store failed: "try again later", never the invalid-link page (the link may be fine).
        Err(InspectError::Unavailable(error)) => visit.unavailable(&state, &error),
        Err(_) => visit.invalid_link(&state),
    }
}

fn link_form(
    state: &State,
    mut visit: Visit,
    info: &LinkInfo,
    token: &str,
    errors: Errors,
    status: StatusCode,
) -> Response {
    // The person's own language first, then the browser's.
    let own = state.templates.resolve(&info.locale);
    if own.as_str() == info.locale.as_str() || own.as_str() == info.locale.language() {
        visit.locale = own;
    }
    let expires = admit::mail::format_deadline(info.expires_at, &visit.locale);
    let values = context! {
        invitation => info.purpose == TokenPurpose::Invitation,
        token => token,
        full_name => info.full_name.as_str(),
        email => info.email.as_deref(),
        expires => expires,
        ..visit.base(state, link_action(state, info.purpose), &errors)
    };
    visit.render(state, status, Page::SetPassword, values)
}

/// Every reason a new password is refused, worded for the person, under its field.
fn password_errors(
    state: &State,
    locale: &Locale,
    new: &SecretString,
    confirmation: &SecretString,
    email: Option<&str>,
    name: Option<&str>,
) -> Errors {
    let email = email.and_then(|e| Email::parse(e).ok());
    let name = name.and_then(|n| FullName::parse(n).ok());
    let mut context = PasswordContext::new();
    if let Some(email) = &email {
        context = context.email(email);
    }
    if let Some(name) = &name {
        context = context.full_name(name);
    }
    let mut errors = Errors::new();
    for problem in state.admit.password_policy().problems(new, confirmation, &context) {
        let field = if problem == PasswordError::Mismatch { "confirmation" } else { "password" };
        errors.entry(field.to_owned()).or_default().push(problem.localized(locale));
    }
    errors
}

async fn link_post(Extract(state): Shared, request: Request, purpose: TokenPurpose) -> Response {
    let visit = Visit::of(&state, request.headers());
    let requester = requester(&request);
    let auth = auth_of(&request);
    let form = match Form::<LinkForm>::from_request(request, &()).await {
        Ok(Form(form)) => form,
        Err(rejection) => return form_rejected(&state, &visit, rejection),
    };
    if !visit.csrf_ok(&state, &form.csrf) {
        return visit.refused(&state);
    }
    let (new, confirmation) = (SecretString::from(form.password), SecretString::from(form.confirmation));
    let result = match purpose {
        TokenPurpose::Invitation => {
            state.admit.accept_invitation(&form.token, new.clone(), confirmation.clone(), &requester).await
        }
        TokenPurpose::PasswordReset => {
            state.admit.complete_password_reset(&form.token, new.clone(), confirmation.clone(), &requester).await
        }
    };
    match result {
        Ok(completion) => {
            tracing::info!(account = %completion.account_id, ?purpose, "admit page: link completed");
            signed_in_after_link(&state, visit, auth, completion.account_id).await
        }
        Err(CompletionError::InvalidLink(error)) if error.reason() == LinkFailure::RateLimited => {
            visit.too_many(&state, state.admit.rate_limits().link_failures_per_requester.per)
        }
        Err(CompletionError::InvalidLink(_)) => visit.invalid_link(&state),
        Err(CompletionError::Password(_)) => {
            // Nothing was consumed: show the form again, with every reason.
            match state.admit.inspect_link(&form.token, &requester).await {
                Ok(info) if info.purpose == purpose => {
                    let locale = {
                        let own = state.templates.resolve(&info.locale);
                        if own.as_str() == info.locale.language() || own.as_str() == info.locale.as_str() {
                            own
                        } else {
                            visit.locale.clone()
                        }
                    };
                    let errors = password_errors(
                        &state,
                        &locale,
                        &new,
                        &confirmation,
                        info.email.as_deref(),
                        Some(&info.full_name),
                    );
                    link_form(&state, visit, &info, &form.token, errors, StatusCode::UNPROCESSABLE_ENTITY)
                }
                _ => visit.invalid_link(&state),
            }
        }
        Err(other) => visit.unavailable(&state, &other),
    }
}

/// The host's axum-login session, when its `AuthManagerLayer` wraps the pages.
#[cfg(feature = "axum-login")]
type Auth = Option<axum_login::AuthSession<crate::AdmitBackend>>;
/// Without the `axum-login` feature there is no session to sign in to.
#[cfg(not(feature = "axum-login"))]
type Auth = Option<std::convert::Infallible>;

fn auth_of(request: &Request) -> Auth {
    #[cfg(feature = "axum-login")]
    {
        request.extensions().get::<axum_login::AuthSession<crate::AdmitBackend>>().cloned()
    }
    #[cfg(not(feature = "axum-login"))]
    {
        let _ = request;
        None
    }
}

/// After a link is completed: signed in through the host's axum-login session when there
/// is one (then to the host's page), else sent to sign in.
async fn signed_in_after_link(state: &State, visit: Visit, auth: Auth, account: admit::core::AccountId) -> Response {
    #[cfg(feature = "axum-login")]
    {
        if let Some(mut auth) = auth {
            return match session_pages::log_in(state, &mut auth, account).await {
                Ok(Some(user)) => {
                    let to = if user.must_change_password {
                        &state.paths.change_password
                    } else {
                        &state.paths.after_sign_in
                    };
                    visit.redirect(state, to, None)
                }
                Ok(None) => visit.redirect(state, &state.paths.sign_in, Some(Flash::PasswordSetSignIn)),
                Err(error) => visit.unavailable(state, &error),
            };
        }
        visit.redirect(state, &state.paths.sign_in, Some(Flash::PasswordSetSignIn))
    }
    #[cfg(not(feature = "axum-login"))]
    {
        let _ = (auth, account);
        visit.redirect(state, &state.paths.after_sign_in, None)
    }
}

/// A form that could not be read: too large (413) or not a form (400, 415).
fn form_rejected(state: &State, visit: &Visit, rejection: axum::extract::rejection::FormRejection) -> Response {
    let status = rejection.status();
    tracing::info!(%status, "admit page: form refused");
    visit.message(state, status, "refused_title", "refused_text")
}

// ---- forgot password ----

#[derive(Deserialize)]
struct ForgotForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
}

pub(crate) async fn forgot_get(Extract(state): Shared, request: Request) -> Response {
    let visit = Visit::of(&state, request.headers());
    let sent = visit.flash == Some(Flash::ResetSent);
    forgot_page(&state, &visit, sent, "", Errors::new(), StatusCode::OK)
}

fn forgot_page(state: &State, visit: &Visit, sent: bool, email: &str, errors: Errors, status: StatusCode) -> Response {
    let values = context! { sent, email => email, ..visit.base(state, &state.paths.forgot_password, &errors) };
    visit.render(state, status, Page::ForgotPassword, values)
}

pub(crate) async fn forgot_post(Extract(state): Shared, request: Request) -> Response {
    let visit = Visit::of(&state, request.headers());
    let requester = requester(&request);
    let form = match Form::<ForgotForm>::from_request(request, &()).await {
        Ok(Form(form)) => form,
        Err(rejection) => return form_rejected(&state, &visit, rejection),
    };
    if !visit.csrf_ok(&state, &form.csrf) {
        return visit.refused(&state);
    }
    let email = form.email.trim();
    let invalid = |visit: &Visit| {
        let errors: Errors = [("email".to_owned(), vec![visit.text(&state, "email_invalid")])].into();
        forgot_page(&state, visit, false, email, errors, StatusCode::UNPROCESSABLE_ENTITY)
    };
    if Email::parse(email).is_err() {
        return invalid(&visit);
    }
    match state.admit.request_password_reset(email, &requester).await {
        Ok(()) => visit.redirect(&state, &state.paths.forgot_password, Some(Flash::ResetSent)),
        Err(AdmitError::InvalidEmail(_)) => invalid(&visit),
        Err(other) => visit.unavailable(&state, &other),
    }
}

#[cfg(feature = "axum-login")]
pub(crate) use session_pages::{change_get, change_post, sign_in_get, sign_in_post, sign_out_post};

#[cfg(feature = "axum-login")]
mod session_pages {
    //! Sign-in, sign-out and the password change, on the host's axum-login session.

    use admit::SignInError;
    use axum_login::AuthSession;

    use super::*;
    use crate::{AdmitBackend, AdmitUser};

    /// Puts `account` in the session (a fresh id, its current credential epoch). `None`
    /// when the account may not have a session (disabled, trashed, gone).
    pub(super) async fn log_in(
        state: &State,
        auth: &mut AuthSession<AdmitBackend>,
        account: admit::core::AccountId,
    ) -> Result<Option<AdmitUser>, String> {
        let Some(view) = state.admit.session_account(account).await.map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        let user = AdmitUser::from(view);
        auth.login(&user).await.map_err(|e| e.to_string())?;
        Ok(Some(user))
    }

    fn session(state: &State, visit: &Visit, request: &Request) -> Result<AuthSession<AdmitBackend>, Box<Response>> {
        auth_of(request).ok_or_else(|| {
            tracing::error!("admit page: no axum-login session (wrap the pages in AuthManagerLayer<AdmitBackend, _>)");
            Box::new(visit.unavailable(state, &"no session layer"))
        })
    }

    #[derive(Deserialize)]
    pub(super) struct SignInForm {
        #[serde(default)]
        csrf: String,
        #[serde(default)]
        email: String,
        #[serde(default)]
        password: String,
    }

    fn sign_in_page(state: &State, visit: &Visit, email: &str, errors: Errors, status: StatusCode) -> Response {
        let values = context! { email => email, ..visit.base(state, &state.paths.sign_in, &errors) };
        visit.render(state, status, Page::SignIn, values)
    }

    pub(crate) async fn sign_in_get(Extract(state): Shared, request: Request) -> Response {
        let visit = Visit::of(&state, request.headers());
        sign_in_page(&state, &visit, "", Errors::new(), StatusCode::OK)
    }

    pub(crate) async fn sign_in_post(Extract(state): Shared, request: Request) -> Response {
        let visit = Visit::of(&state, request.headers());
        let mut auth = match session(&state, &visit, &request) {
            Ok(auth) => auth,
            Err(response) => return *response,
        };
        let requester = requester(&request);
        let form = match Form::<SignInForm>::from_request(request, &()).await {
            Ok(Form(form)) => form,
            Err(rejection) => return form_rejected(&state, &visit, rejection),
        };
        if !visit.csrf_ok(&state, &form.csrf) {
            return visit.refused(&state);
        }
        let email = form.email.trim();
        match state.admit.sign_in(email, SecretString::from(form.password), &requester).await {
            Ok(signed) => match log_in(&state, &mut auth, signed.account_id).await {
                Ok(Some(user)) => {
                    let to = if user.must_change_password {
                        &state.paths.change_password
                    } else {
                        &state.paths.after_sign_in
                    };
                    visit.redirect(&state, to, None)
                }
                Ok(None) => failed(&state, &visit, email),
                Err(error) => visit.unavailable(&state, &error),
            },
            Err(SignInError::InvalidCredentials) => failed(&state, &visit, email),
            Err(SignInError::RateLimited) => {
                visit.too_many(&state, state.admit.rate_limits().sign_in_failures_per_email.per)
            }
            Err(other) => visit.unavailable(&state, &other),
        }
    }

    fn failed(state: &State, visit: &Visit, email: &str) -> Response {
        let errors: Errors = [("email".to_owned(), vec![visit.text(state, "sign_in_failed")])].into();
        sign_in_page(state, visit, email, errors, StatusCode::UNPROCESSABLE_ENTITY)
    }

    #[derive(Deserialize)]
    pub(super) struct CsrfOnly {
        #[serde(default)]
        csrf: String,
    }

    pub(crate) async fn sign_out_post(Extract(state): Shared, request: Request) -> Response {
        let visit = Visit::of(&state, request.headers());
        let mut auth = match session(&state, &visit, &request) {
            Ok(auth) => auth,
            Err(response) => return *response,
        };
        let form = match Form::<CsrfOnly>::from_request(request, &()).await {
            Ok(Form(form)) => form,
            Err(rejection) => return form_rejected(&state, &visit, rejection),
        };
        if !visit.csrf_ok(&state, &form.csrf) {
            return visit.refused(&state);
        }
        if let Err(error) = auth.logout().await {
            return visit.unavailable(&state, &error.to_string());
        }
        visit.redirect(&state, &state.paths.sign_in, Some(Flash::SignedOut))
    }

    #[derive(Deserialize)]
    pub(super) struct ChangeForm {
        #[serde(default)]
        csrf: String,
        #[serde(default)]
        current: String,
        #[serde(default)]
        password: String,
        #[serde(default)]
        confirmation: String,
    }

    fn change_page(state: &State, visit: &Visit, user: &AdmitUser, errors: Errors, status: StatusCode) -> Response {
        let values = context! {
            email => user.email.as_deref(),
            ..visit.base(state, &state.paths.change_password, &errors)
        };
        visit.render(state, status, Page::ChangePassword, values)
    }

    fn user_locale(state: &State, visit: &mut Visit, user: &AdmitUser) {
        let own = state.templates.resolve(&user.locale);
        if own.as_str() == user.locale.as_str() || own.as_str() == user.locale.language() {
            visit.locale = own;
        }
    }

    pub(crate) async fn change_get(Extract(state): Shared, request: Request) -> Response {
        let mut visit = Visit::of(&state, request.headers());
        let auth = match session(&state, &visit, &request) {
            Ok(auth) => auth,
            Err(response) => return *response,
        };
        let Some(user) = auth.user else {
            return visit.redirect(&state, &state.paths.sign_in, None);
        };
        user_locale(&state, &mut visit, &user);
        change_page(&state, &visit, &user, Errors::new(), StatusCode::OK)
    }

    pub(crate) async fn change_post(Extract(state): Shared, request: Request) -> Response {
        let mut visit = Visit::of(&state, request.headers());
        let mut auth = match session(&state, &visit, &request) {
            Ok(auth) => auth,
            Err(response) => return *response,
        };
        let form = match Form::<ChangeForm>::from_request(request, &()).await {
            Ok(Form(form)) => form,
            Err(rejection) => return form_rejected(&state, &visit, rejection),
        };
        if !visit.csrf_ok(&state, &form.csrf) {
            return visit.refused(&state);
        }
        let Some(user) = auth.user.clone() else {
            return visit.redirect(&state, &state.paths.sign_in, None);
        };
        user_locale(&state, &mut visit, &user);
        let (new, confirmation) = (SecretString::from(form.password), SecretString::from(form.confirmation));
        let result = state
            .admit
            .change_own_password(user.id, SecretString::from(form.current), new.clone(), confirmation.clone())
            .await;
        match result {
            Ok(_) => match log_in(&state, &mut auth, user.id).await {
                // The epoch moved: the session is renewed with the new one.
                Ok(Some(_)) => visit.redirect(&state, &state.paths.after_sign_in, None),
                Ok(None) => visit.redirect(&state, &state.paths.sign_in, None),
                Err(error) => visit.unavailable(&state, &error),
            },
            Err(AdmitError::Password(refusal)) if refusal.first() == PasswordError::Incorrect => {
                let errors: Errors = [("current".to_owned(), vec![visit.text(&state, "current_incorrect")])].into();
                change_page(&state, &visit, &user, errors, StatusCode::UNPROCESSABLE_ENTITY)
            }
            Err(AdmitError::Password(_)) => {
                let errors = password_errors(
                    &state,
                    &visit.locale,
                    &new,
                    &confirmation,
                    user.email.as_deref(),
                    Some(&user.full_name),
                );
                change_page(&state, &visit, &user, errors, StatusCode::UNPROCESSABLE_ENTITY)
            }
            Err(AdmitError::AccountUnavailable | AdmitError::NotFound(_)) => {
                let _ = auth.logout().await;
                visit.redirect(&state, &state.paths.sign_in, None)
            }
            Err(other) => visit.unavailable(&state, &other),
        }
    }
}
