//! A host mounting the person's pages and the administrators' console (shown in docs/web.md).
use admit::Admit;
use admit_axum::{AdmitBackend, Console, Pages};
use axum::Router;
use axum_login::AuthManagerLayerBuilder;
use axum_login::tower_sessions::{MemoryStore, SessionManagerLayer};

pub(crate) fn console_app(admit: Admit) -> Router {
    let sessions = SessionManagerLayer::new(MemoryStore::default()).with_secure(false); // dev: see docs/web.md
    let auth = AuthManagerLayerBuilder::new(AdmitBackend::new(admit.clone()), sessions).build();
    let pages = Pages::new(admit.clone()).after_sign_in("/console/accounts").router();
    let console = Console::new(admit).router(); // « Comptes » at /console/accounts
    Router::new().merge(pages).merge(console).layer(auth)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let admit = Admit::embedded("./admit-data", "http://localhost:3000").await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    let app = console_app(admit).into_make_service_with_connect_info::<std::net::SocketAddr>();
    Ok(axum::serve(listener, app).await?)
}
