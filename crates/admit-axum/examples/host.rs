//! A host mounting admit's pages and the axum-login backend (shown in docs/web.md).
use admit::Admit;
use admit_axum::{AdmitBackend, Pages};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Router, routing::get};
use axum_login::tower_sessions::{MemoryStore, SessionManagerLayer};
use axum_login::{AuthManagerLayerBuilder, AuthSession};

pub(crate) fn app(admit: Admit) -> Router {
    let sessions = SessionManagerLayer::new(MemoryStore::default()).with_secure(false); // dev: see docs/web.md
    let auth = AuthManagerLayerBuilder::new(AdmitBackend::new(admit.clone()), sessions).build();
    let pages = Pages::new(admit).after_sign_in("/").router();
    Router::new().route("/", get(home)).merge(pages).layer(auth)
}

async fn home(auth: AuthSession<AdmitBackend>) -> Response {
    match auth.user {
        Some(user) if user.must_change_password => Redirect::to("/change-password").into_response(),
        Some(user) => format!("Signed in as {}", user.full_name).into_response(),
        None => Redirect::to("/sign-in").into_response(),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let admit = Admit::embedded("./admit-data", "http://localhost:3000").await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    Ok(axum::serve(listener, app(admit).into_make_service_with_connect_info::<std::net::SocketAddr>()).await?)
}
