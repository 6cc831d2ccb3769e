//! `Email::parse` and `EmailPolicy::parse` on arbitrary text. Invariants: never panics; an
//! accepted address has no control character or white space, one `@`, a lowercase ASCII
//! domain and bounded lengths; parsing it again gives the same value (idempotent); the key
//! is the lowercased local part with the same domain, and is itself lowercase; the policy
//! agrees with `Email::parse` plus `is_refused`.
#![no_main]

use admit_core::{Email, EmailError, EmailPolicy, MAX_EMAIL_LEN};
use libfuzzer_sys::fuzz_target;

/// RFC 5321 local-part bound (admit_core::email keeps its constant private).
const MAX_LOCAL_PART_LEN: usize = 64;

fn check(text: &str) {
    let parsed = Email::parse(text);
    if let Ok(email) = &parsed {
        let address = email.as_str();
        assert!(!address.chars().any(|c| c.is_control() || c.is_whitespace()), "{address:?}");
        assert_eq!(address.matches('@').count(), 1, "{address:?}");
        assert!(address.len() <= MAX_EMAIL_LEN, "{address:?}");
        let (local, domain) = (email.local_part(), email.domain());
        assert!(!local.is_empty() && local.len() <= MAX_LOCAL_PART_LEN, "{address:?}");
        assert_eq!(format!("{local}@{domain}"), address);
        assert!(
            domain.contains('.')
                && domain.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.'),
            "domain {domain:?}"
        );
        // The local part is kept as typed: it is the trimmed input's.
        assert!(text.trim().starts_with(local), "{text:?} -> {address:?}");
        // Idempotent: the normal form parses to itself.
        assert_eq!(Email::parse(address).as_ref(), Ok(email), "{address:?}");
        let key = email.key().as_str();
        assert_eq!(key, format!("{}@{domain}", local.to_lowercase()));
        assert_eq!(key, key.to_lowercase(), "key {key:?} is not lowercase");
        // Same key whatever the case of the ASCII letters typed.
        if let Ok(lower) = Email::parse(&address.to_ascii_lowercase()) {
            assert_eq!(lower.key(), email.key());
        }
        // Display and String conversions give the address.
        assert_eq!(email.to_string(), address);
        assert_eq!(String::from(email.clone()), address);
    }
    for policy in [EmailPolicy::default(), EmailPolicy::allow_role_addresses()] {
        match (policy.parse(text), &parsed) {
            (Ok(by_policy), Ok(email)) => {
                assert_eq!(&by_policy, email);
                assert!(!policy.is_refused(email));
            }
            (Err(EmailError::RoleAddress), Ok(email)) => assert!(policy.is_refused(email)),
            (Err(error), Err(plain)) => assert_eq!(&error, plain),
            (by_policy, plain) => panic!("policy {by_policy:?} disagrees with parse {plain:?} on {text:?}"),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    match std::str::from_utf8(data) {
        Ok(text) => check(text),
        Err(_) => check(&String::from_utf8_lossy(data)),
    }
});
