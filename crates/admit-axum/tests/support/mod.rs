//! Shared set-up of the page tests: an `Admit` over a store with a mail capture, the
//! documented host app around the pages, and a tiny cookie-keeping client over
//! `tower::ServiceExt::oneshot`.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;

use admit::core::password::Argon2Params;
use admit::secrecy::SecretString;
use admit::{
    Admit, AdmitBuilder, CaptureTransport, CreateAccount, DispatcherConfig, Grant, Invite, MemoryStore, Role, Scope,
};
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode};
use tower::ServiceExt;

#[path = "../../examples/host.rs"]
#[allow(dead_code)]
mod host;

#[allow(unused_imports)]
pub(crate) use host::app;

#[path = "../../examples/console_host.rs"]
#[allow(dead_code)]
mod console_host;

#[allow(unused_imports)]
pub(crate) use console_host::console_app;

pub const BASE: &str = "http://localhost:3000";
pub const ADMIN_PASSWORD: &str = "violet meadow under rain 42";

pub fn secret(text: &str) -> SecretString {
    SecretString::from(text.to_owned())
}

pub struct World {
    pub admit: Admit,
    pub outbox: CaptureTransport,
    pub admin: admit::core::AccountId,
}

impl World {
    pub async fn new() -> World {
        World::with(|b| b).await
    }

    pub async fn with(configure: impl FnOnce(AdmitBuilder) -> AdmitBuilder) -> World {
        let outbox = CaptureTransport::new();
        let builder = Admit::builder()
            .store(MemoryStore::new())
            .transport(outbox.clone())
            .argon2_params(Argon2Params::dangerous_fast_for_tests())
            .reset_response_floor(std::time::Duration::ZERO)
            .link_base(BASE);
        let admit = configure(builder).build().unwrap();
        let admin = admit
            .bootstrap_administrator("root.admin@example.org", "Root Admin", secret(ADMIN_PASSWORD))
            .await
            .unwrap()
            .id;
        World { admit, outbox, admin }
    }

    /// Creates and invites a member; returns the path and query of the mailed link.
    pub async fn invite(&self, email: &str, name: &str, locale: &str) -> String {
        let row = CreateAccount::member(email, name, Grant::new(Scope::Platform, Role::Guest)).locale(locale);
        self.admit.create_account(self.admin, row, Invite::Now).await.unwrap();
        self.link_to(email).await
    }

    /// Delivers the outbox and returns the path and query of the newest link to `email`.
    pub async fn link_to(&self, email: &str) -> String {
        self.admit.dispatcher(DispatcherConfig::default()).drain().await.unwrap();
        let sent = self.outbox.take();
        let mail = sent
            .iter()
            .filter(|m| m.to().address.as_str() == email)
            .max_by_key(|m| m.message_id().to_owned())
            .unwrap_or_else(|| panic!("no mail to {email}"));
        let text = mail.text();
        let start = text.find(BASE).expect("a link in the mail") + BASE.len();
        text[start..].split_whitespace().next().unwrap().to_owned()
    }

    /// An active member with `password`.
    pub async fn active(&self, email: &str, name: &str, password: &str) -> admit::core::AccountId {
        let link = self.invite(email, name, "en").await;
        let token = link.split("token=").nth(1).unwrap();
        self.admit.accept_invitation(token, secret(password), secret(password), "test").await.unwrap().account_id
    }
}

/// One response, read whole.
#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> &str {
        self.headers.get("location").map(|v| v.to_str().unwrap()).unwrap_or("")
    }

    /// The value of the hidden `csrf` field.
    pub fn csrf(&self) -> String {
        hidden(&self.body, "csrf").unwrap_or_else(|| panic!("no csrf field in {}", self.body))
    }
}

/// The value of a hidden input named `name`.
pub fn hidden(body: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body.find(&marker)? + marker.len();
    Some(body[start..].split('"').next()?.to_owned())
}

/// A browser as the pages see it: a cookie jar, a peer address, headers a browser sends.
#[derive(Clone)]
pub struct Client {
    pub app: Router,
    pub jar: BTreeMap<String, String>,
    pub peer: SocketAddr,
    pub language: &'static str,
}

impl Client {
    pub fn new(app: Router) -> Client {
        Client { app, jar: BTreeMap::new(), peer: "203.0.113.10:50000".parse().unwrap(), language: "en" }
    }

    fn cookie_header(&self) -> String {
        self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    pub async fn send(&mut self, mut request: Request<Body>) -> Page {
        if !self.jar.is_empty() && !request.headers().contains_key("cookie") {
            request.headers_mut().insert("cookie", self.cookie_header().parse().unwrap());
        }
        request.extensions_mut().insert(ConnectInfo(self.peer));
        let response = self.app.clone().oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        for value in parts.headers.get_all("set-cookie") {
            let text = value.to_str().unwrap();
            let (pair, attributes) = text.split_once(';').unwrap_or((text, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if attributes.contains("Max-Age=0") || value.is_empty() {
                self.jar.remove(name);
            } else {
                self.jar.insert(name.to_owned(), value.to_owned());
            }
        }
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        // Bodies are kept with minijinja's escapes undone (`/` and `'` are escaped in HTML),
        // so tests read them as a browser shows them.
        let body = String::from_utf8(bytes.to_vec()).unwrap();
        Page { status: parts.status, headers: parts.headers, body: unescape(&body) }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let request = Request::get(path).header("accept-language", self.language).body(Body::empty()).unwrap();
        self.send(request).await
    }

    /// A same-origin form POST, as a browser sends it.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        self.post_with(path, fields, &[("origin", BASE), ("sec-fetch-site", "same-origin")]).await
    }

    pub async fn post_with(&mut self, path: &str, fields: &[(&str, &str)], headers: &[(&str, &str)]) -> Page {
        let body = fields.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&");
        let mut request = Request::post(path)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept-language", self.language);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request.body(Body::from(body)).unwrap()).await
    }

    /// GET `path`, then follow 303s with GET.
    pub async fn follow(&mut self, mut page: Page) -> Page {
        for _ in 0..5 {
            if page.status != StatusCode::SEE_OTHER {
                break;
            }
            let to = page.location().to_owned();
            page = self.get(&to).await;
        }
        page
    }
}

pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            b' ' => "+".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Undoes the HTML escapes minijinja writes.
pub fn unescape(html: &str) -> String {
    html.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}
