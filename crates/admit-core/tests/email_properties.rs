//! Properties of email parsing and normalisation.

use admit_core::{Email, EmailError, EmailPolicy};
use proptest::prelude::*;

/// Local parts: dot-atoms of ASCII atext, with some non-ASCII letters mixed in.
fn local_part() -> impl Strategy<Value = String> {
    let atom = prop_oneof![
        4 => "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,10}",
        1 => "[a-zA-ZéÉüÜıİßçÇøØ]{1,8}",
    ];
    prop::collection::vec(atom, 1..4).prop_map(|atoms| atoms.join(".")).prop_filter("RFC 5321 limit", |l| l.len() <= 64)
}

/// ASCII-only local parts (where case folding is plain ASCII).
fn ascii_local_part() -> impl Strategy<Value = String> {
    prop::collection::vec("[A-Za-z0-9_+-]{1,10}", 1..4).prop_map(|atoms| atoms.join("."))
}

/// Domains: ASCII labels in any case, some internationalised labels, a letter TLD.
fn domain() -> impl Strategy<Value = String> {
    let label = prop_oneof![
        4 => "[a-zA-Z0-9]([a-zA-Z0-9-]{0,10}[a-zA-Z0-9])?",
        1 => prop::sample::select(vec!["école", "ÉCOLE", "münchen", "café", "straße", "日本", "xn--cole-9oa", "bücher"])
            .prop_map(str::to_owned),
    ];
    (prop::collection::vec(label, 1..4), "[a-zA-Z]{2,6}")
        .prop_map(|(labels, tld)| format!("{}.{tld}", labels.join(".")))
}

fn padding() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(vec![' ', '\t', '\u{a0}', '\r', '\n', '\u{3000}']), 0..3)
        .prop_map(|chars| chars.into_iter().collect())
}

fn flip_case(text: &str, mask: u64) -> String {
    text.chars()
        .enumerate()
        .map(|(i, c)| if mask >> (i % 64) & 1 == 1 { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() })
        .collect()
}

fn check_invariants(email: &Email) -> Result<(), TestCaseError> {
    let text = email.as_str();
    prop_assert!(!text.chars().any(|c| c.is_control() || c.is_whitespace()), "{:?}", text);
    prop_assert!(text.len() <= admit_core::MAX_EMAIL_LEN);
    let domain = email.domain();
    prop_assert!(
        domain.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.'),
        "domain {:?}",
        domain
    );
    prop_assert!(domain.contains('.'));
    prop_assert_eq!(format!("{}@{}", email.local_part(), domain), text);
    let key = email.key().as_str();
    prop_assert_eq!(key, format!("{}@{domain}", email.local_part().to_lowercase()));
    prop_assert_eq!(key, key.to_lowercase(), "key is lowercase");
    // Parsing is idempotent, and the key is a fixed point too.
    let reparsed = Email::parse(text);
    prop_assert_eq!(reparsed.as_ref(), Ok(email));
    // The key is not always an address (`İ` lowercases to `i` and a combining dot, which a
    // local part refuses), but when it is one, it is its own key.
    if let Ok(from_key) = Email::parse(key) {
        prop_assert_eq!(from_key.key(), email.key());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn generated_addresses_parse_and_hold_the_invariants(
        local in local_part(),
        domain in domain(),
        before in padding(),
        after in padding(),
    ) {
        let typed = format!("{before}{local}@{domain}{after}");
        match Email::parse(&typed) {
            Ok(email) => {
                check_invariants(&email)?;
                prop_assert_eq!(email.local_part(), local.as_str(), "local part kept as typed");
            }
            // Only the length limit may refuse these.
            Err(error) => prop_assert_eq!(error, EmailError::TooLong, "{:?}", typed),
        }
    }

    #[test]
    fn any_string_either_fails_or_holds_the_invariants(text in any::<String>()) {
        if let Ok(email) = Email::parse(&text) {
            check_invariants(&email)?;
        }
    }

    #[test]
    fn near_addresses_either_fail_or_hold_the_invariants(
        local in local_part(),
        domain in domain(),
        junk in prop::sample::select(vec!['\0', '\r', '\n', '\u{7f}', ' ', '\u{a0}', '\u{2028}', '\u{202e}', '@', '"', '.']),
        at in any::<prop::sample::Index>(),
    ) {
        let mut typed = format!("{local}@{domain}");
        let positions: Vec<usize> = typed.char_indices().map(|(i, _)| i).collect();
        typed.insert(positions[at.index(positions.len())], junk);
        if let Ok(email) = Email::parse(&typed) {
            check_invariants(&email)?;
        }
    }

    #[test]
    fn ascii_local_parts_compare_case_insensitively(
        local in ascii_local_part(),
        domain in domain(),
        mask_a in any::<u64>(),
        mask_b in any::<u64>(),
    ) {
        let a = Email::parse(&format!("{}@{}", flip_case(&local, mask_a), domain));
        let b = Email::parse(&format!("{}@{}", flip_case(&local, mask_b), domain.to_ascii_uppercase()));
        if let (Ok(a), Ok(b)) = (a, b) {
            prop_assert_eq!(a.key(), b.key());
            prop_assert_eq!(a.domain(), b.domain());
            // Each keeps its own spelling of the local part.
            prop_assert_eq!(a.local_part(), flip_case(&local, mask_a));
            prop_assert_eq!(b.local_part(), flip_case(&local, mask_b));
        }
    }

    #[test]
    fn mixed_case_duplicates_share_a_key(local in local_part(), domain in domain()) {
        let lower = Email::parse(&format!("{}@{}", local.to_lowercase(), domain));
        let mixed = Email::parse(&format!("{local}@{domain}"));
        if let (Ok(lower), Ok(mixed)) = (lower, mixed) {
            prop_assert_eq!(lower.key(), mixed.key());
        }
    }

    #[test]
    fn role_addresses_are_refused_in_any_case_and_with_any_tag(
        index in any::<prop::sample::Index>(),
        mask in any::<u64>(),
        tag in proptest::option::of("[a-z0-9]{1,8}"),
        domain in domain(),
    ) {
        let role = EmailPolicy::DEFAULT_REFUSED_LOCAL_PARTS[index.index(EmailPolicy::DEFAULT_REFUSED_LOCAL_PARTS.len())];
        let local = match tag {
            Some(tag) => format!("{}+{tag}", flip_case(role, mask)),
            None => flip_case(role, mask),
        };
        let typed = format!("{local}@{domain}");
        prop_assume!(Email::parse(&typed).is_ok());
        prop_assert_eq!(EmailPolicy::default().parse(&typed), Err(EmailError::RoleAddress));
        prop_assert!(EmailPolicy::allow_role_addresses().parse(&typed).is_ok());
    }
}

#[test]
fn dotless_i_never_collides() {
    // CVE-2019-19844: keys lowercase, never uppercase.
    let pairs = [("ı", "I"), ("ı", "i"), ("ıo", "IO"), ("fıle", "FILE"), ("ß", "SS"), ("ﬃ", "ffi")];
    for (a, b) in pairs {
        let a = Email::parse(&format!("{a}@exemple.fr"));
        let b = Email::parse(&format!("{b}@exemple.fr")).unwrap();
        if let Ok(a) = a {
            assert_ne!(a.key(), b.key(), "{a:?} and {b:?}");
        }
    }
}
