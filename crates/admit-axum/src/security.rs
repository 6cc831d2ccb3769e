//! What every page shares: security headers, CSRF (a form token tied to the browser plus
//! `Origin` / `Sec-Fetch-Site` checks), cookies, and the requester key for rate limits.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::ConnectInfo;
use axum::http::header::{self, HeaderName, HeaderValue};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngExt;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The `Content-Security-Policy` of every page: nothing but the pages' own stylesheet, forms
/// posted only to this origin, never framed, no `<base>`.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The headers set on every response of the pages (with [`CONTENT_SECURITY_POLICY`]).
pub const SECURITY_HEADERS: [(&str, &str); 5] = [
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("referrer-policy", "no-referrer"),
    ("cache-control", "no-store"),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
];

/// Sets [`SECURITY_HEADERS`] on a response (overwriting what a handler set).
pub(crate) fn add_security_headers(response: &mut Response) {
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        headers.insert(HeaderName::from_static(name), HeaderValue::from_static(value));
    }
}

/// The name of the cookie holding the browser's CSRF nonce.
pub const CSRF_COOKIE: &str = "admit_csrf";
/// The name of the one-time flash cookie (Post/Redirect/Get).
pub const FLASH_COOKIE: &str = "admit_flash";

/// HMAC-SHA-256 (RFC 2104), enough for form tokens.
fn hmac(key: &[u8; 32], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(key);
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(message);
    let inner = inner.finalize();
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner);
    outer.finalize().into()
}

/// The secret that form tokens are derived from. Random per process by default; hosts
/// behind a load balancer give every instance the same one.
#[derive(Clone)]
pub(crate) struct CsrfKey([u8; 32]);

impl fmt::Debug for CsrfKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CsrfKey(..)")
    }
}

impl CsrfKey {
    pub(crate) fn random() -> CsrfKey {
        CsrfKey(rand::rng().random())
    }

    pub(crate) fn new(key: [u8; 32]) -> CsrfKey {
        CsrfKey(key)
    }

    /// The form token for a browser's nonce.
    pub(crate) fn token(&self, nonce: &str) -> String {
        URL_SAFE_NO_PAD.encode(hmac(&self.0, format!("admit-csrf:{nonce}").as_bytes()))
    }

    /// Whether `token` is the form token of `nonce` (constant time).
    pub(crate) fn verify(&self, nonce: &str, token: &str) -> bool {
        let expected = self.token(nonce);
        expected.len() == token.len() && bool::from(expected.as_bytes().ct_eq(token.as_bytes()))
    }
}

/// A fresh browser nonce (128 random bits).
pub(crate) fn new_nonce() -> String {
    URL_SAFE_NO_PAD.encode(rand::rng().random::<[u8; 16]>())
}

/// The value of cookie `name`, if the request carries it.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, under `path`, `Secure` on https.
pub(crate) fn set_cookie(name: &str, value: &str, path: &str, secure: bool, max_age: Option<u32>) -> HeaderValue {
    let mut text = format!("{name}={value}; Path={path}; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        text.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        text.push_str("; Secure");
    }
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("admit_invalid=1"))
}

/// Whether a POST's `Sec-Fetch-Site` and `Origin` say it came from these pages. A header
/// that is absent proves nothing either way (older browsers, other clients); the form token
/// is checked anyway. `Origin: null` proves nothing either: browsers send it for a
/// same-origin form posted from a page whose `Referrer-Policy` is `no-referrer` (ours), as
/// well as from sandboxed frames (which modern browsers mark `Sec-Fetch-Site: cross-site`).
pub(crate) fn same_origin(method: &Method, headers: &HeaderMap, origin: &str) -> bool {
    if method != Method::POST {
        return true;
    }
    if let Some(site) = headers.get("sec-fetch-site")
        && !matches!(site.to_str(), Ok("same-origin") | Ok("none"))
    {
        return false;
    }
    if let Some(sent) = headers.get(header::ORIGIN) {
        return sent.to_str().is_ok_and(|sent| sent == "null" || sent.eq_ignore_ascii_case(origin));
    }
    true
}

type Extractor = dyn Fn(&Parts) -> Option<String> + Send + Sync;

/// Where the key that rate limits count by (the "requester") comes from.
///
/// - [`RequesterKey::peer`] (the default): the address of the TCP peer, from axum's
///   `ConnectInfo<SocketAddr>` (serve with
///   `into_make_service_with_connect_info::<SocketAddr>()`). Behind a reverse proxy every
///   request would share the proxy's address, and one abuser could rate-limit everyone: use
///   one of the other two there.
/// - [`RequesterKey::forwarded`]: the client address a trusted proxy wrote in a header
///   (`X-Forwarded-For` by default), used only when the peer is one of the named proxies.
/// - [`RequesterKey::custom`]: any function of the request (an API gateway's client id, a
///   header your edge sets, …).
#[derive(Clone)]
pub struct RequesterKey {
    kind: Kind,
}

#[derive(Clone)]
enum Kind {
    Peer,
    Forwarded { proxies: Vec<IpAddr>, header: HeaderName },
    Custom(Arc<Extractor>),
}

impl fmt::Debug for RequesterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Peer => f.write_str("RequesterKey::Peer"),
            Kind::Forwarded { proxies, header } => {
                f.debug_struct("RequesterKey::Forwarded").field("proxies", proxies).field("header", header).finish()
            }
            Kind::Custom(_) => f.write_str("RequesterKey::Custom(..)"),
        }
    }
}

impl Default for RequesterKey {
    fn default() -> Self {
        RequesterKey::peer()
    }
}

impl RequesterKey {
    /// The TCP peer's address (the default).
    pub fn peer() -> RequesterKey {
        RequesterKey { kind: Kind::Peer }
    }

    /// The client address from `X-Forwarded-For`, trusted only when the peer is one of
    /// `proxies`: the rightmost address in the header that is not itself a trusted proxy.
    /// From any other peer, the peer's address.
    pub fn forwarded(proxies: impl IntoIterator<Item = IpAddr>) -> RequesterKey {
        RequesterKey::forwarded_header(proxies, HeaderName::from_static("x-forwarded-for"))
    }

    /// As [`RequesterKey::forwarded`], with another header (`X-Real-IP`, …) holding a
    /// comma-separated list of addresses.
    pub fn forwarded_header(proxies: impl IntoIterator<Item = IpAddr>, header: HeaderName) -> RequesterKey {
        RequesterKey { kind: Kind::Forwarded { proxies: proxies.into_iter().collect(), header } }
    }

    /// A host-provided extractor; `None` refuses the request (500), as a missing peer does.
    pub fn custom(extract: impl Fn(&Parts) -> Option<String> + Send + Sync + 'static) -> RequesterKey {
        RequesterKey { kind: Kind::Custom(Arc::new(extract)) }
    }

    /// The key of a request, or `None` when it cannot be told (no `ConnectInfo`). An IPv6
    /// address counts by its /64 (one host rotating privacy addresses is one requester).
    pub fn key(&self, parts: &Parts) -> Option<String> {
        let peer = || parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        match &self.kind {
            Kind::Peer => peer().map(address_key),
            Kind::Forwarded { proxies, header } => {
                let peer = peer()?;
                if !proxies.contains(&peer) {
                    return Some(address_key(peer));
                }
                let forwarded: Vec<IpAddr> = parts
                    .headers
                    .get_all(header)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .flat_map(|v| v.split(','))
                    .map(|a| a.trim().parse::<IpAddr>())
                    .collect::<Result<_, _>>()
                    .unwrap_or_default();
                let client = forwarded.into_iter().rev().find(|ip| !proxies.contains(ip));
                Some(address_key(client.unwrap_or(peer)))
            }
            Kind::Custom(extract) => extract(parts),
        }
    }
}

/// An address as a rate-limit key: IPv4 as is, IPv6 by its /64.
fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{}/64", std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_case_2_shape() {
        // RFC 4231 test case 2 uses a 4-byte key; ours is zero-padded to 32, which HMAC does
        // anyway, so the result must match.
        let mut key = [0u8; 32];
        key[..4].copy_from_slice(b"Jefe");
        let mac = hmac(&key, b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn tokens_bind_to_the_nonce_and_the_key() {
        let key = CsrfKey::random();
        let nonce = new_nonce();
        let token = key.token(&nonce);
        assert!(key.verify(&nonce, &token));
        assert!(!key.verify(&new_nonce(), &token));
        assert!(!CsrfKey::random().verify(&nonce, &token));
        assert!(!key.verify(&nonce, ""));
    }

    #[test]
    fn forwarded_is_trusted_only_from_named_proxies() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let key = RequesterKey::forwarded([proxy]);
        let request = |peer: &str, xff: &str| {
            let mut request = axum::http::Request::builder().header("x-forwarded-for", xff).body(()).unwrap();
            request.extensions_mut().insert(ConnectInfo(SocketAddr::new(peer.parse().unwrap(), 4000)));
            request.into_parts().0
        };
        assert_eq!(key.key(&request("10.0.0.1", "198.51.100.7, 10.0.0.1")).as_deref(), Some("198.51.100.7"));
        assert_eq!(key.key(&request("203.0.113.9", "198.51.100.7")).as_deref(), Some("203.0.113.9"));
        assert_eq!(key.key(&request("10.0.0.1", "not an address")).as_deref(), Some("10.0.0.1"));
        assert_eq!(RequesterKey::peer().key(&request("203.0.113.9", "1.2.3.4")).as_deref(), Some("203.0.113.9"));
        // IPv6 counts by /64; a v4-mapped address as its IPv4.
        let a = RequesterKey::peer().key(&request("2001:db8:1:2:aaaa::1", ""));
        let b = RequesterKey::peer().key(&request("2001:db8:1:2:bbbb::9", ""));
        assert_eq!(a.as_deref(), Some("2001:db8:1:2::/64"));
        assert_eq!(a, b);
        assert_ne!(a, RequesterKey::peer().key(&request("2001:db8:1:3::1", "")));
        assert_eq!(RequesterKey::peer().key(&request("::ffff:198.51.100.7", "")).as_deref(), Some("198.51.100.7"));
    }
}
