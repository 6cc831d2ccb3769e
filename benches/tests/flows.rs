//! The benchmarked flows must do the real work: each accepts its own valid tokens and
//! refuses tampered, malformed and expired ones. A figure for a check that accepts
//! anything would be worthless.

#[path = "../support/mod.rs"]
mod support;

use admit_core::{Clock, LinkFailure, SystemClock, TestClock};
use rand::SeedableRng;
use rand::rngs::StdRng;
use support::*;
use time::Duration;

#[test]
fn admit_flow_accepts_its_tokens_and_refuses_the_rest() {
    let now = TestClock::default_start().now();
    let (texts, records) = admit_fixture(&mut StdRng::seed_from_u64(1), now);
    assert_eq!(records.len(), LIVE_TOKENS);
    for text in &texts {
        assert_eq!(admit_verify(&records, text, now), Ok(ACCOUNT));
        let reason = |t: &str, at| admit_verify(&records, t, at).unwrap_err().reason();
        assert_eq!(reason(&with_wrong_verifier(text), now), LinkFailure::WrongVerifier);
        assert_eq!(reason(&malformed(text), now), LinkFailure::Malformed);
        assert_eq!(reason(&text[..20], now), LinkFailure::Malformed);
        assert_eq!(reason(text, now + TTL + Duration::microseconds(1)), LinkFailure::Expired);
    }
    let (others, _) = admit_fixture(&mut StdRng::seed_from_u64(2), now);
    assert_eq!(admit_verify(&records, &others[0], now).unwrap_err().reason(), LinkFailure::Unknown);
}

#[test]
fn floor_flow_accepts_its_tokens_and_refuses_the_rest() {
    let now = TestClock::default_start().now();
    let (texts, records) = floor_fixture(&mut StdRng::seed_from_u64(1), now);
    assert_eq!(records.len(), LIVE_TOKENS);
    for text in &texts {
        assert_eq!(text.len(), 47);
        assert!(text.starts_with("adm_"));
        assert_eq!(floor_verify(&records, text, now), Some(ACCOUNT));
        assert_eq!(floor_verify(&records, &with_wrong_verifier(text), now), None);
        assert_eq!(floor_verify(&records, &malformed(text), now), None);
        assert_eq!(floor_verify(&records, text, now + TTL + Duration::microseconds(1)), None);
    }
}

#[test]
fn floor_and_admit_write_the_same_text_for_the_same_bytes() {
    let now = TestClock::default_start().now();
    let admit = admit_issue(&mut StdRng::seed_from_u64(9), now);
    let (floor, selector, record) = floor_issue(&mut StdRng::seed_from_u64(9), now);
    assert_eq!(admit.raw.expose(), floor);
    assert_eq!(admit.record.selector.to_bytes(), selector);
    assert_eq!(admit.record.verifier_hash.map(|h| h.to_bytes()), Some(record.verifier_hash));
}

#[test]
fn latchkey_flow_accepts_its_tokens_and_refuses_the_rest() {
    let now = TestClock::default_start().now();
    let (texts, records) = latchkey_fixture(&mut StdRng::seed_from_u64(1), now);
    assert_eq!(records.len(), LIVE_TOKENS);
    for text in &texts {
        assert_eq!(latchkey_verify(&records, text, now), Some(ACCOUNT));
        // latchkey tokens have no prefix: tamper with the same character position.
        let mut tampered = text.clone().into_bytes();
        tampered[41] = if tampered[41] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert_eq!(latchkey_verify(&records, &tampered, now), None);
        assert_eq!(latchkey_verify(&records, &format!("{}!", &text[..42]), now), None);
        assert_eq!(latchkey_verify(&records, text, now + TTL + Duration::microseconds(1)), None);
    }
}

#[test]
fn jwt_flow_accepts_its_tokens_and_refuses_the_rest() {
    let keys = JwtKeys::new(&[0x5a; 32]);
    let now = SystemClock.now();
    let texts = jwt_fixture(&keys, now + TTL);
    let first = jwt_verify(&keys, &texts[0]).unwrap();
    assert_eq!(first.len(), 36, "a hyphenated account id");
    assert_ne!(jwt_verify(&keys, &texts[1]).unwrap(), first, "one account per token");
    // Another key, a changed signature, an expired token.
    assert_eq!(jwt_verify(&JwtKeys::new(&[0x5b; 32]), &texts[0]), None);
    let mut forged = texts[0].clone().into_bytes();
    let last = forged.len() - 2;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    assert_eq!(jwt_verify(&keys, &String::from_utf8(forged).unwrap()), None);
    let expired = jwt_issue(&keys, ACCOUNT, now - Duration::hours(2));
    assert_eq!(jwt_verify(&keys, &expired), None);
}
