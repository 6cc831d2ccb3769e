//! `decide::Links`: which base URLs and paths are accepted, and the links built from them.

use admit_core::TokenPurpose;
use admit_core::decide::{LinkBaseError, Links, Rules};

#[test]
fn https_bases_are_accepted() {
    for base in [
        "https://app.example.org",
        "https://app.example.org/",
        "https://app.example.org:8443",
        "https://app.example.org/espace/admin",
        "https://localhost",
        "https://10.0.0.1:8443/x",
        "https://[2001:db8::1]:8443/x",
    ] {
        assert!(Links::new(base).is_ok(), "{base}");
    }
}

#[test]
fn plain_http_only_for_loopback() {
    for base in
        ["http://localhost", "http://localhost:8080", "http://127.0.0.1:3000/app", "http://[::1]:8080", "http://[::1]"]
    {
        assert!(Links::new(base).is_ok(), "{base}");
    }
    for base in [
        "http://app.example.org",
        "http://localhost.example.org",
        "http://127.0.0.1.nip.io",
        "http://10.0.0.1",
        "http://[::2]",
        "http://[::1].example.org",
        "http://localhostx",
        "http://[::1]evil.example",
        "http://[::1]:8080.evil.example",
        "http://127.0.0.1:80.evil.example",
    ] {
        assert_eq!(Links::new(base), Err(LinkBaseError), "{base}");
    }
}

#[test]
fn other_schemes_and_shapes_are_refused() {
    for base in [
        "",
        "app.example.org",
        "ftp://app.example.org",
        "HTTPS://app.example.org",
        "javascript:alert(1)",
        "//app.example.org",
        "https://",
        "https:///path",
        "https://app.example.org?x=1",
        "https://app.example.org/a?b",
        "https://app.example.org#frag",
        "https://user@app.example.org",
        "https://user:pw@app.example.org",
        "http://localhost@evil.example",
        "https://app.example.org/a b",
        "https://app.example.org\t",
        "https://app.example.org/\n",
        "https://app.exämple.org",
        "https://app.example.org\\@evil.example",
        "http://localhost:80@evil.example",
        "https://app.example.org:",
        "https://app.example.org:abc",
        "https://app.example.org:123456",
        "https://:443",
        "https://[::1",
        "https://[]",
        "https://[::1]x",
    ] {
        assert_eq!(Links::new(base), Err(LinkBaseError), "{base:?}");
    }
}

#[test]
fn links_carry_the_token_in_the_query() {
    let links = Links::new("https://app.example.org/espace/").unwrap();
    assert_eq!(
        links.link(TokenPurpose::Invitation, "adm_abc"),
        "https://app.example.org/espace/accept-invitation?token=adm_abc"
    );
    assert_eq!(
        links.link(TokenPurpose::PasswordReset, "adm_abc"),
        "https://app.example.org/espace/reset-password?token=adm_abc"
    );
}

#[test]
fn paths_can_be_changed() {
    let links = Links::new("http://localhost:8080")
        .unwrap()
        .with_paths("/invitation/accepter", "/mot-de-passe_oublie.v2~")
        .unwrap();
    assert_eq!(links.link(TokenPurpose::Invitation, "t"), "http://localhost:8080/invitation/accepter?token=t");
    assert_eq!(links.link(TokenPurpose::PasswordReset, "t"), "http://localhost:8080/mot-de-passe_oublie.v2~?token=t");
}

#[test]
fn bad_paths_are_refused() {
    let base = || Links::new("https://app.example.org").unwrap();
    let long = format!("/{}", "a".repeat(200));
    let at_limit = format!("/{}", "a".repeat(199));
    assert!(base().with_paths(&at_limit, "/r").is_ok());
    for bad in
        ["", "accept", "/a?b=c", "/a#b", "/a b", "/a%20b", "/a\r\nb", "/é", "/a@b", "/a:b", "/a\\b", long.as_str()]
    {
        assert_eq!(base().with_paths(bad, "/r"), Err(LinkBaseError), "invitation {bad:?}");
        assert_eq!(base().with_paths("/i", bad), Err(LinkBaseError), "reset {bad:?}");
    }
}

#[test]
fn error_message_is_lower_case_without_period() {
    let text = LinkBaseError.to_string();
    assert!(!text.ends_with('.'));
    assert_eq!(text.chars().next().map(char::is_lowercase), Some(true));
}

#[test]
fn default_rules() {
    let rules = Rules::new(Links::new("https://app.example.org").unwrap());
    assert_eq!(rules.invitation_ttl, time::Duration::days(7));
    assert_eq!(rules.reset_ttl, time::Duration::hours(1));
    assert_eq!(rules.trash_retention, time::Duration::days(30));
}
