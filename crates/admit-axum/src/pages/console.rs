//! The administrators' console: the « Comptes » list and the account page with its
//! confirmed actions. Every read and every action goes through the facade; the console
//! only hides what the policy would refuse (rows the actor may not read are never asked
//! for, buttons show only when [`authz::authorize`] allows them).

use std::fmt::Write as _;

use admit::core::authz::{self, Action, ForbiddenReason, Target};
use admit::core::{AccountId, AccountRecord};
use admit::mail::{Catalogue, ConsoleMessage};
use admit::store::{AccountFilter, AccountQuery, GrantFilter};
use admit::{AccountKind, AccountStatus, AccountView, Role, Scope, StatusChange};
use axum::extract::Path;
use axum::http::request::Parts;

use super::*;

/// Tells the acting administrator of a request (`None`: not signed in).
pub(crate) type ActorFn = dyn Fn(&Parts) -> Option<AccountId> + Send + Sync;

/// What the console's handlers share.
pub(crate) struct ConsoleState {
    pub(crate) page: Arc<State>,
    pub(crate) catalogue: Catalogue,
    /// The console's path (`/console`).
    pub(crate) base: String,
    pub(crate) actor: Option<Arc<ActorFn>>,
}

type Console = Extract<Arc<ConsoleState>>;

/// Rows per page of the list.
const PAGE_SIZE: u32 = 50;

/// One confirmed action of the account page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Act {
    Invite,
    Reinvite,
    SendReset,
    SetPassword,
    TemporaryPassword,
    Disable,
    Enable,
    Trash,
    Restore,
}

impl Act {
    const ALL: [Act; 9] = [
        Act::Invite,
        Act::Reinvite,
        Act::SendReset,
        Act::SetPassword,
        Act::TemporaryPassword,
        Act::Disable,
        Act::Enable,
        Act::Trash,
        Act::Restore,
    ];

    fn slug(self) -> &'static str {
        match self {
            Act::Invite => "invite",
            Act::Reinvite => "reinvite",
            Act::SendReset => "send-reset",
            Act::SetPassword => "set-password",
            Act::TemporaryPassword => "temporary-password",
            Act::Disable => "disable",
            Act::Enable => "enable",
            Act::Trash => "trash",
            Act::Restore => "restore",
        }
    }

    fn from_slug(slug: &str) -> Option<Act> {
        Act::ALL.into_iter().find(|a| a.slug() == slug)
    }

    /// The flash cookie's value after it succeeded.
    fn flash(self) -> String {
        format!("console_{}", self.slug().replace('-', "_"))
    }

    fn from_flash(value: &str) -> Option<Act> {
        Act::ALL.into_iter().find(|a| a.flash() == value)
    }

    fn policy(self) -> Action {
        match self {
            Act::Invite => Action::Invite,
            Act::Reinvite => Action::Reinvite,
            Act::SendReset => Action::SendReset,
            Act::SetPassword => Action::SetPassword,
            Act::TemporaryPassword => Action::IssueTemporaryPassword,
            Act::Disable => Action::Disable,
            Act::Enable => Action::Enable,
            Act::Trash => Action::Trash,
            Act::Restore => Action::Restore,
        }
    }

    fn label_key(self) -> &'static str {
        match self {
            Act::Invite => "action_invite",
            Act::Reinvite => "action_reinvite",
            Act::SendReset => "action_send_reset",
            Act::SetPassword => "action_set_password",
            Act::TemporaryPassword => "action_temporary_password",
            Act::Disable => "action_disable",
            Act::Enable => "action_enable",
            Act::Trash => "action_trash",
            Act::Restore => "action_restore",
        }
    }

    /// The confirmation question, its button and the success message.
    fn words(self) -> (ConsoleMessage, ConsoleMessage, ConsoleMessage) {
        use ConsoleMessage as M;
        match self {
            Act::Invite => (M::ConfirmInvite, M::ConfirmInviteButton, M::InviteSent),
            Act::Reinvite => (M::ConfirmRemind, M::ConfirmRemindButton, M::ReminderSent),
            Act::SendReset => (M::ConfirmSendReset, M::ConfirmSendResetButton, M::ResetSent),
            Act::SetPassword => (M::ConfirmSetPassword, M::ConfirmSetPasswordButton, M::PasswordUpdated),
            Act::TemporaryPassword => {
                (M::ConfirmTemporaryPassword, M::ConfirmTemporaryPasswordButton, M::TemporaryPasswordSent)
            }
            Act::Disable => (M::ConfirmDisable, M::ConfirmDisable, M::Disabled),
            Act::Enable => (M::ConfirmEnable, M::ConfirmEnable, M::Enabled),
            Act::Trash => (M::ConfirmTrash, M::ConfirmTrash, M::Trashed),
            Act::Restore => (M::ConfirmRestore, M::ConfirmRestore, M::Restored),
        }
    }

    /// Whether the button makes sense from this status (the facade still decides).
    fn offered(self, status: AccountStatus, has_email: bool) -> bool {
        use AccountStatus as S;
        let open = !matches!(status, S::Disabled | S::Trashed);
        match self {
            Act::Invite => status == S::Created && has_email,
            Act::Reinvite => matches!(status, S::Invited | S::InvitationExpired) && has_email,
            Act::SendReset => matches!(status, S::Invited | S::InvitationExpired | S::Active) && has_email,
            Act::SetPassword => open,
            Act::TemporaryPassword => open && has_email,
            Act::Disable => open,
            Act::Enable => status == S::Disabled,
            Act::Trash => status != S::Trashed,
            Act::Restore => status == S::Trashed,
        }
    }
}

/// A value for a URL query (RFC 3986 unreserved characters kept, the rest percent-encoded).
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

fn query_string(pairs: &[(&str, &str)]) -> String {
    let parts: Vec<String> =
        pairs.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| format!("{k}={}", encode(v))).collect();
    if parts.is_empty() { String::new() } else { format!("?{}", parts.join("&")) }
}

impl ConsoleState {
    fn journal_path(&self) -> String {
        format!("{}/journal", self.base)
    }

    fn accounts_path(&self) -> String {
        format!("{}/accounts", self.base)
    }

    fn account_path(&self, id: AccountId) -> String {
        format!("{}/accounts/{id}", self.base)
    }

    fn text(&self, visit: &Visit, message: ConsoleMessage) -> String {
        self.catalogue.text(message, &visit.locale).to_owned()
    }

    fn status_label(&self, visit: &Visit, status: AccountStatus) -> String {
        visit.text(&self.page, &format!("status_{}", status.as_str()))
    }

    fn grant_label(&self, visit: &Visit, scope: &Scope, role: Role) -> String {
        let scope = match scope {
            Scope::Platform => visit.text(&self.page, "scope_platform"),
            Scope::Program(id) => format!("{} {id}", visit.text(&self.page, "scope_program")),
            Scope::ClientFile(id) => format!("{} {id}", visit.text(&self.page, "scope_client_file")),
        };
        format!("{scope} : {}", visit.text(&self.page, &format!("role_{}", role.as_str())))
    }

    /// The message of a refusal or failure, in the visit's language: never a `Debug` string.
    fn error_text(&self, visit: &Visit, error: &AdmitError) -> String {
        let t = |key: &str| visit.text(&self.page, key);
        match error {
            AdmitError::Forbidden(f) if f.reason() == ForbiddenReason::LastPlatformAdministrator => {
                t("console_error_last_admin")
            }
            AdmitError::Forbidden(_) | AdmitError::UnknownActor => t("console_error_forbidden"),
            AdmitError::NotFound(_) => t("console_error_not_found"),
            AdmitError::Status(_) => t("console_error_status"),
            AdmitError::NotInvitedYet => self.text(visit, ConsoleMessage::InviteFirst),
            AdmitError::NoEmail => t("console_error_no_email"),
            AdmitError::AccountUnavailable => t("console_error_unavailable"),
            AdmitError::EmailTaken => self.text(visit, ConsoleMessage::EmailAlreadyUsed),
            AdmitError::NotPurgeable => t("console_error_not_purgeable"),
            AdmitError::InvalidEmail(admit::core::EmailError::RoleAddress) => {
                self.text(visit, ConsoleMessage::RoleAddressRefused)
            }
            AdmitError::InvalidEmail(_) => t("console_error_invalid_email"),
            AdmitError::InvalidField(_) | AdmitError::InvalidFields(_) => t("console_error_invalid_field"),
            AdmitError::Password(refusal) => refusal.localized(&visit.locale).join(" "),
            AdmitError::InvalidLink(_) => self.text(visit, ConsoleMessage::InvalidOrExpiredLink),
            AdmitError::RateLimited { .. } => self.text(visit, ConsoleMessage::RateLimited),
            AdmitError::SetPasswordDisabled => t("console_error_set_password_disabled"),
            AdmitError::TooLarge => t("console_error_too_large"),
            AdmitError::Concurrent => t("console_error_concurrent"),
            _ => t("console_error_generic"),
        }
    }

    /// The values every console page gets.
    fn base(&self, visit: &Visit, action: &str, errors: &Errors) -> Value {
        context! {
            wide => true,
            nav => context! { accounts => self.accounts_path(), journal => self.journal_path() },
            ..visit.base(&self.page, action, errors)
        }
    }
}

/// The acting administrator's record, or the response to send instead (sign in first).
async fn actor(console: &ConsoleState, visit: &Visit, parts: &Parts) -> Result<AccountRecord, Box<Response>> {
    let id = console.actor.as_ref().and_then(|f| f(parts));
    let Some(id) = id else {
        return Err(Box::new(visit.redirect(&console.page, &console.page.paths.sign_in, None)));
    };
    // The actor's own record, to ask the policy which buttons to show; every action is
    // still decided by the facade.
    match console.page.admit.store().account(id).await {
        Ok(Some(record)) => Ok(record),
        Ok(None) => Err(Box::new(visit.redirect(&console.page, &console.page.paths.sign_in, None))),
        Err(error) => Err(Box::new(visit.unavailable(&console.page, &error))),
    }
}

/// The scopes a non-platform administrator administers (an empty list for a platform one,
/// who reads everything unfiltered).
fn administered_scopes(actor: &AccountRecord) -> Vec<Scope> {
    if authz::authorize_global(actor, Action::ReadAccount).is_ok() {
        return Vec::new();
    }
    actor
        .grants
        .iter()
        .filter(|g| g.role == Role::Administrator && g.scope != Scope::Platform)
        .map(|g| g.scope.clone())
        .collect()
}

#[derive(Deserialize, Default)]
pub(crate) struct ListQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    after: String,
    #[serde(default)]
    scope: String,
}

pub(crate) async fn accounts(Extract(console): Console, request: Request) -> Response {
    let state = &console.page;
    let visit = Visit::of(state, request.headers());
    let (parts, _) = request.into_parts();
    let actor = match actor(&console, &visit, &parts).await {
        Ok(actor) => actor,
        Err(response) => return *response,
    };
    let query = axum::extract::Query::<ListQuery>::try_from_uri(&parts.uri).map(|q| q.0).unwrap_or_default();
    let scopes = administered_scopes(&actor);
    let platform = authz::authorize_global(&actor, Action::ReadAccount).is_ok();
    if !platform && scopes.is_empty() {
        return visit.message(state, StatusCode::FORBIDDEN, "console_title", "console_no_scope");
    }
    let scope = scopes.iter().find(|s| s.to_key() == query.scope).or(scopes.first()).cloned();
    let kind = AccountKind::from_name(&query.kind);
    let status = AccountStatus::ALL.into_iter().find(|s| s.as_str() == query.status);
    let text = query.q.trim().chars().take(200).collect::<String>();
    let filter = AccountFilter {
        grant: scope.clone().map(|scope| GrantFilter { scope: Some(scope), role: None }),
        kind,
        text: (!text.is_empty()).then(|| text.clone()),
    };
    let mut list = AccountQuery::new(state.admit.now());
    list.filter = filter.clone();
    list.status = status;
    list.after = AccountId::parse(&query.after).ok();
    list.limit = PAGE_SIZE;
    let (page, counts) =
        match (state.admit.list_accounts(actor.id, list).await, state.admit.count_accounts(actor.id, filter).await) {
            (Ok(page), Ok(counts)) => (page, counts),
            (Err(AdmitError::Forbidden(_)), _) | (_, Err(AdmitError::Forbidden(_))) => {
                return visit.message(state, StatusCode::FORBIDDEN, "console_title", "console_error_forbidden");
            }
            (Err(error), _) | (_, Err(error)) => return visit.unavailable(state, &error),
        };
    let path = console.accounts_path();
    let scope_key = scope.as_ref().map(Scope::to_key).unwrap_or_default();
    let kind_key = kind.map(AccountKind::as_str).unwrap_or("");
    let link = |extra: &[(&str, &str)]| {
        let mut pairs = vec![("scope", scope_key.as_str()), ("kind", kind_key), ("q", text.as_str())];
        pairs.extend_from_slice(extra);
        format!("{path}{}", query_string(&pairs))
    };
    let statuses: Vec<Value> = AccountStatus::ALL
        .into_iter()
        .map(|s| {
            context! {
                key => s.as_str(),
                label => console.status_label(&visit, s),
                selected => Some(s) == status,
                count => counts.get(s),
                href => link(&[("status", s.as_str())]),
            }
        })
        .collect();
    let rows: Vec<Value> = page
        .items
        .iter()
        .map(|view| {
            let a = &view.account;
            context! {
                href => console.account_path(a.id),
                name => a.full_name.as_str(),
                email => a.email.as_ref().map(|e| e.as_str().to_owned()),
                grants => a.grants.iter().map(|g| console.grant_label(&visit, &g.scope, g.role)).collect::<Vec<_>>(),
                status => console.status_label(&visit, view.status),
                status_key => view.status.as_str(),
            }
        })
        .collect();
    let status_key = status.map(AccountStatus::as_str).unwrap_or("");
    let next = page.next.map(|after| link(&[("status", status_key), ("after", &after.to_string())]));
    let first = (!query.after.is_empty()).then(|| link(&[("status", status_key)]));
    let kinds = context! {
        member => format!("{path}{}", query_string(&[("scope", &scope_key), ("kind", "member")])),
        public => format!("{path}{}", query_string(&[("scope", &scope_key), ("kind", "public")])),
        all => format!("{path}{}", query_string(&[("scope", &scope_key)])),
    };
    let scope_options: Vec<Value> = scopes
        .iter()
        .map(|s| {
            let label = match s {
                Scope::Platform => visit.text(state, "scope_platform"),
                Scope::Program(id) => format!("{} {id}", visit.text(state, "scope_program")),
                Scope::ClientFile(id) => format!("{} {id}", visit.text(state, "scope_client_file")),
            };
            context! { key => s.to_key(), label, selected => Some(s) == scope.as_ref() }
        })
        .collect();
    let values = context! {
        kinds, kind => kind.map(AccountKind::as_str), scopes => scope_options, q => text, statuses, rows, next, first,
        ..console.base(&visit, &path, &Errors::new())
    };
    visit.render(state, StatusCode::OK, Page::ConsoleAccounts, values)
}

/// Reads the target through the facade (which checks the actor may read it).
async fn target(
    console: &ConsoleState,
    visit: &Visit,
    actor: &AccountRecord,
    id: &str,
) -> Result<AccountView, Response> {
    let state = &console.page;
    let Ok(id) = AccountId::parse(id) else {
        return Err(visit.message(state, StatusCode::NOT_FOUND, "console_title", "console_error_not_found"));
    };
    match state.admit.account_view(actor.id, id).await {
        Ok(view) => Ok(view),
        // A refused read looks like a missing account: nothing tells the actor it exists.
        Err(AdmitError::Forbidden(_) | AdmitError::NotFound(_)) => {
            Err(visit.message(state, StatusCode::NOT_FOUND, "console_title", "console_error_not_found"))
        }
        Err(error) => Err(visit.unavailable(state, &error)),
    }
}

/// The actions the policy and the status allow on `view`.
fn offered(actor: &AccountRecord, view: &AccountView) -> Vec<Act> {
    // Whether the target is the last platform administrator is the facade's to tell; the
    // button shows and the facade refuses with its reason if so.
    let target = Target::account(&view.account, usize::MAX);
    Act::ALL
        .into_iter()
        .filter(|a| a.offered(view.status, view.account.email.is_some()))
        .filter(|a| authz::authorize(actor, a.policy(), &target).is_ok())
        .collect()
}

pub(crate) async fn account(Extract(console): Console, Path(id): Path<String>, request: Request) -> Response {
    let state = &console.page;
    let visit = Visit::of(state, request.headers());
    let (parts, _) = request.into_parts();
    let actor = match actor(&console, &visit, &parts).await {
        Ok(actor) => actor,
        Err(response) => return *response,
    };
    let view = match target(&console, &visit, &actor, &id).await {
        Ok(view) => view,
        Err(response) => return response,
    };
    let flash = security::cookie(&parts.headers, FLASH_COOKIE)
        .and_then(Act::from_flash)
        .map(|act| console.text(&visit, act.words().2));
    let a = &view.account;
    let date = |at: Option<admit::core::Timestamp>| at.map(|at| admit::mail::format_deadline(at, &visit.locale));
    let invitation_expires =
        if matches!(view.status, AccountStatus::Invited) { date(a.invitation_expires_at) } else { None };
    let kind_key = match a.kind {
        AccountKind::Member => "console_kind_member",
        AccountKind::Public => "console_kind_public",
    };
    let labels: Vec<Value> = a
        .labels
        .iter()
        .map(|(key, values)| context! { key, value => values.iter().cloned().collect::<Vec<_>>().join(", ") })
        .collect();
    let account = context! {
        name => a.full_name.as_str(),
        email => a.email.as_ref().map(|e| e.as_str().to_owned()),
        status => console.status_label(&visit, view.status),
        status_key => view.status.as_str(),
        temporary_expired => view.temporary_password_expired,
        kind => visit.text(state, kind_key),
        phone => a.phone.as_ref().map(|p| p.as_str().to_owned()),
        locale => a.locale.as_str(),
        created_at => date(Some(a.created_at)),
        invitation_expires,
        last_login => date(a.last_login_at),
        grants => a.grants.iter().map(|g| console.grant_label(&visit, &g.scope, g.role)).collect::<Vec<_>>(),
        labels,
    };
    let here = console.account_path(a.id);
    let actions: Vec<Value> = offered(&actor, &view)
        .into_iter()
        .map(|act| context! { href => format!("{here}/{}", act.slug()), label => visit.text(state, act.label_key()) })
        .collect();
    let values = context! {
        account, actions, back => console.accounts_path(),
        flash => flash,
        ..console.base(&visit, &here, &Errors::new())
    };
    visit.render(state, StatusCode::OK, Page::ConsoleAccount, values)
}

fn confirm_page(
    console: &ConsoleState,
    visit: &Visit,
    view: &AccountView,
    act: Act,
    errors: Errors,
    must_change: bool,
    status: StatusCode,
) -> Response {
    let state = &console.page;
    let (question, button, _) = act.words();
    let here = console.account_path(view.account.id);
    let values = context! {
        heading => visit.text(state, act.label_key()),
        account_name => view.account.full_name.as_str(),
        account_email => view.account.email.as_ref().map(|e| e.as_str().to_owned()),
        question => console.text(visit, question),
        button => console.text(visit, button),
        back => here.clone(),
        set_password => act == Act::SetPassword,
        must_change,
        must_change_label => console.text(visit, ConsoleMessage::MustChangeAtNextSignIn),
        ..console.base(visit, &format!("{here}/{}", act.slug()), &errors)
    };
    visit.render(state, status, Page::ConsoleConfirm, values)
}

pub(crate) async fn confirm(
    Extract(console): Console,
    Path((id, slug)): Path<(String, String)>,
    request: Request,
) -> Response {
    let state = &console.page;
    let visit = Visit::of(state, request.headers());
    let Some(act) = Act::from_slug(&slug) else {
        return visit.message(state, StatusCode::NOT_FOUND, "console_title", "console_error_not_found");
    };
    let (parts, _) = request.into_parts();
    let actor = match actor(&console, &visit, &parts).await {
        Ok(actor) => actor,
        Err(response) => return *response,
    };
    let view = match target(&console, &visit, &actor, &id).await {
        Ok(view) => view,
        Err(response) => return response,
    };
    confirm_page(&console, &visit, &view, act, Errors::new(), true, StatusCode::OK)
}

#[derive(Deserialize)]
pub(crate) struct ActionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirmation: String,
    #[serde(default)]
    must_change: Option<String>,
}

pub(crate) async fn perform(
    Extract(console): Console,
    Path((id, slug)): Path<(String, String)>,
    request: Request,
) -> Response {
    let state = &console.page;
    let visit = Visit::of(state, request.headers());
    let Some(act) = Act::from_slug(&slug) else {
        return visit.message(state, StatusCode::NOT_FOUND, "console_title", "console_error_not_found");
    };
    let (parts, body) = request.into_parts();
    let form = match Form::<ActionForm>::from_request(Request::from_parts(parts.clone(), body), &()).await {
        Ok(Form(form)) => form,
        Err(rejection) => return form_rejected(state, &visit, rejection),
    };
    if !visit.csrf_ok(state, &form.csrf) {
        return visit.refused(state);
    }
    let actor = match actor(&console, &visit, &parts).await {
        Ok(actor) => actor,
        Err(response) => return *response,
    };
    let Ok(account) = AccountId::parse(&id) else {
        return visit.message(state, StatusCode::NOT_FOUND, "console_title", "console_error_not_found");
    };
    let admit = &state.admit;
    let must_change = form.must_change.is_some();
    let result = match act {
        Act::Invite => admit.invite(actor.id, account).await.map(drop),
        Act::Reinvite => admit.reinvite(actor.id, account).await.map(drop),
        Act::SendReset => admit.send_password_reset(actor.id, account).await,
        Act::SetPassword => admit
            .set_password(
                actor.id,
                account,
                SecretString::from(form.password),
                SecretString::from(form.confirmation),
                must_change,
            )
            .await
            .map(drop),
        Act::TemporaryPassword => admit.issue_temporary_password(actor.id, account).await,
        Act::Disable => admit.change_status(actor.id, account, StatusChange::Disable).await.map(drop),
        Act::Enable => admit.change_status(actor.id, account, StatusChange::Enable).await.map(drop),
        Act::Trash => admit.change_status(actor.id, account, StatusChange::Trash).await.map(drop),
        Act::Restore => admit.change_status(actor.id, account, StatusChange::Restore).await.map(drop),
    };
    let error = match result {
        Ok(()) => {
            let here = console.account_path(account);
            let mut response = Visit { had_flash: false, ..visit.clone_shallow() }.redirect(state, &here, None);
            response.headers_mut().append(
                header::SET_COOKIE,
                security::set_cookie(FLASH_COOKIE, &act.flash(), &state.paths.cookie, state.secure, Some(60)),
            );
            return response;
        }
        Err(error) => error,
    };
    // The refusal is shown on the confirmation step, next to what caused it. A target the
    // actor may not read is answered as missing.
    let view = match target(&console, &visit, &actor, &id).await {
        Ok(view) => view,
        Err(response) => return response,
    };
    let status = match &error {
        AdmitError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        AdmitError::Forbidden(_) => StatusCode::FORBIDDEN,
        AdmitError::Store(_) | AdmitError::Hashing => {
            tracing::error!(%error, action = act.slug(), "admit console: action failed");
            StatusCode::SERVICE_UNAVAILABLE
        }
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    let mut errors = Errors::new();
    if let AdmitError::Password(refusal) = &error {
        for problem in refusal.reasons() {
            let field = if problem == PasswordError::Mismatch { "confirmation" } else { "password" };
            errors.entry(field.to_owned()).or_default().push(problem.localized(&visit.locale));
        }
    } else {
        errors.insert("action".to_owned(), vec![console.error_text(&visit, &error)]);
    }
    confirm_page(&console, &visit, &view, act, errors, must_change, status)
}

#[derive(Deserialize, Default)]
pub(crate) struct JournalQuery {
    #[serde(default)]
    subject: String,
    #[serde(default)]
    recipient: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    after: String,
}

/// The mail journal: recipient, subject, template, state (a failure with its reason),
/// date; never a link or a password (the journal holds neither). The facade lets platform
/// administrators read it whole; anyone else is told they may not.
pub(crate) async fn journal(Extract(console): Console, request: Request) -> Response {
    use admit::core::MailStatus;
    use admit::store::MailQuery;

    let state = &console.page;
    let visit = Visit::of(state, request.headers());
    let (parts, _) = request.into_parts();
    let actor = match actor(&console, &visit, &parts).await {
        Ok(actor) => actor,
        Err(response) => return *response,
    };
    let query = axum::extract::Query::<JournalQuery>::try_from_uri(&parts.uri).map(|q| q.0).unwrap_or_default();
    let subject = query.subject.trim().chars().take(200).collect::<String>();
    let recipient = query.recipient.trim().chars().take(200).collect::<String>();
    let status = MailStatus::from_name(&query.state);
    let mail_query = MailQuery {
        subject: (!subject.is_empty()).then(|| subject.clone()),
        recipient: (!recipient.is_empty()).then(|| recipient.clone()),
        status,
        after: admit::core::MailId::parse(&query.after).ok(),
        limit: PAGE_SIZE,
        ..MailQuery::default()
    };
    let page = match state.admit.mail_journal(actor.id, mail_query).await {
        Ok(page) => page,
        Err(AdmitError::Forbidden(_) | AdmitError::UnknownActor | AdmitError::NotFound(_)) => {
            return visit.message(state, StatusCode::FORBIDDEN, "journal_title", "console_error_forbidden");
        }
        Err(error) => return visit.unavailable(state, &error),
    };
    let path = console.journal_path();
    let state_key = status.map(MailStatus::as_str).unwrap_or("");
    let link = |after: &str| {
        let pairs =
            [("subject", subject.as_str()), ("recipient", recipient.as_str()), ("state", state_key), ("after", after)];
        format!("{path}{}", query_string(&pairs))
    };
    let mails: Vec<Value> = page
        .items
        .iter()
        .map(|m| {
            context! {
                to => m.to.as_str(),
                subject => m.subject.as_str(),
                kind => m.kind.as_str(),
                state => visit.text(state, &format!("mail_{}", m.status.as_str())),
                state_key => m.status.as_str(),
                error => (m.status == MailStatus::Failed).then(|| m.last_error.clone()).flatten(),
                date => admit::mail::format_deadline(m.sent_at.or(m.failed_at).unwrap_or(m.created_at), &visit.locale),
            }
        })
        .collect();
    let states: Vec<Value> = [MailStatus::Pending, MailStatus::Sent, MailStatus::Failed]
        .into_iter()
        .map(|s| {
            context! {
                key => s.as_str(),
                label => visit.text(state, &format!("mail_{}", s.as_str())),
                selected => Some(s) == status,
            }
        })
        .collect();
    let next = page.next.map(|after| link(&after.to_string()));
    let first = (!query.after.is_empty()).then(|| link(""));
    let values = context! {
        journal_help => console.text(&visit, ConsoleMessage::SentMailsInJournal),
        subject, recipient, states, mails, next, first,
        ..console.base(&visit, &path, &Errors::new())
    };
    visit.render(state, StatusCode::OK, Page::ConsoleJournal, values)
}

pub(crate) async fn stylesheet() -> Response {
    super::stylesheet().await
}
