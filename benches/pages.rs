//! The pages of admit-axum through the router, on SqliteStore (a file, WAL): the landing
//! GET of an invitation link (inspect + render, never consumes) and the forgot-password
//! POST with the response floor set to zero (CSRF check, two rate-limit hits, a look-up,
//! the commit of a reset link and its mail, the 303). Both run through
//! `tower::ServiceExt::oneshot` with the security middleware, so the figure is the
//! server's own time for one request, without a socket. See docs/benchmarks.md.
//!
//! ```text
//! cargo bench --bench pages -- --warm-up-time 1 --measurement-time 3
//! ```

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};

use admit::secrecy::SecretString;
use admit::{
    Admit, CaptureTransport, CreateAccount, DispatcherConfig, Grant, Invite, Limit, RateLimits, Role, Scope,
    SqliteStore,
};
use admit_axum::Pages;
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use criterion::{Criterion, criterion_group, criterion_main};
use tower::ServiceExt;

mod stores;

const BASE: &str = "http://localhost:3000";

struct Site {
    admit: Admit,
    router: Router,
    link: String,
    cookie: String,
    csrf: String,
    _dir: tempfile::TempDir,
}

async fn site() -> Site {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("admit.db")).await.unwrap();
    let mails = CaptureTransport::new();
    let generous = Limit::new(1_000_000_000, time::Duration::hours(1));
    let limits = RateLimits {
        reset_per_email: generous,
        reset_per_requester: generous,
        link_failures_per_requester: generous,
        ..RateLimits::default()
    };
    let admit = Admit::builder()
        .store(store)
        .transport(mails.clone())
        .link_base(BASE)
        .rate_limits(limits)
        .reset_response_floor(std::time::Duration::ZERO)
        .build()
        .unwrap();
    let admin = admit
        .bootstrap_administrator(
            "root.admin@example.org",
            "Root Admin",
            SecretString::from("violet meadow under rain 42"),
        )
        .await
        .unwrap()
        .id;
    let row = CreateAccount::member("ada@example.org", "Ada Lovelace", Grant::new(Scope::Platform, Role::Guest));
    admit.create_account(admin, row, Invite::Now).await.unwrap();
    admit.dispatcher(DispatcherConfig::default()).drain().await.unwrap();
    let token = mails.take().iter().find_map(stores::token_in).expect("an invitation link");
    let router = Pages::new(admit.clone()).router();
    // A browser's CSRF cookie and the form token that goes with it.
    let page = router.clone().oneshot(get("/forgot-password", "", 1)).await.unwrap();
    let cookie = page.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let html = String::from_utf8(axum::body::to_bytes(page.into_body(), usize::MAX).await.unwrap().to_vec()).unwrap();
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).unwrap() + marker.len();
    let csrf = html[start..].split('"').next().unwrap().to_owned();
    Site { admit, router, link: format!("/accept-invitation?token={token}"), cookie, csrf, _dir: dir }
}

/// A request from peer `n` (distinct requesters, as in production).
fn get(path: &str, cookie: &str, n: u32) -> Request<Body> {
    let mut request = Request::get(path).header("accept-language", "fr-FR,fr;q=0.9");
    if !cookie.is_empty() {
        request = request.header("cookie", cookie);
    }
    let mut request = request.body(Body::empty()).unwrap();
    request.extensions_mut().insert(ConnectInfo(SocketAddr::from(([10, 0, (n >> 8) as u8, n as u8], 40000))));
    request
}

fn pages(c: &mut Criterion) {
    let rt = stores::runtime();
    let site = rt.block_on(site());
    let mut group = c.benchmark_group("pages");
    let n = AtomicU32::new(0);
    group.bench_function("sqlite_landing_get", |b| {
        b.iter(|| {
            rt.block_on(async {
                let request = get(&site.link, &site.cookie, n.fetch_add(1, Ordering::Relaxed));
                let response = site.router.clone().oneshot(request).await.unwrap();
                assert_eq!(response.status(), StatusCode::OK);
                black_box(axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap());
            })
        })
    });
    for (name, email) in [
        ("sqlite_forgot_post_no_floor", "ada%40example.org"),
        ("sqlite_forgot_post_unknown_no_floor", "nobody%40example.org"),
    ] {
        let body = format!("csrf={}&email={email}", site.csrf);
        group.bench_function(name, |b| {
            b.iter(|| {
                rt.block_on(async {
                    let mut request = Request::post("/forgot-password")
                        .header("content-type", "application/x-www-form-urlencoded")
                        .header("cookie", &site.cookie)
                        .header("origin", BASE)
                        .header("sec-fetch-site", "same-origin")
                        .body(Body::from(body.clone()))
                        .unwrap();
                    let peer = n.fetch_add(1, Ordering::Relaxed);
                    request
                        .extensions_mut()
                        .insert(ConnectInfo(SocketAddr::from(([10, 1, (peer >> 8) as u8, peer as u8], 40000))));
                    let response = site.router.clone().oneshot(request).await.unwrap();
                    assert_eq!(response.status(), StatusCode::SEE_OTHER);
                    black_box(response);
                })
            })
        });
    }
    // The facade call alone, for the page's own share of the POST.
    group.bench_function("sqlite_request_reset_facade_only", |b| {
        b.iter(|| {
            rt.block_on(async {
                let peer = n.fetch_add(1, Ordering::Relaxed);
                site.admit.request_password_reset("ada@example.org", &format!("10.2.0.{peer}")).await.unwrap();
            })
        })
    });
    group.finish();
}

criterion_group!(benches, pages);
criterion_main!(benches);
