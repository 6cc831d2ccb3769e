//! Known-answer vectors and tamper resistance for one-time link tokens.
//!
//! The expected texts and hashes were computed independently (Python: `"adm_" +
//! base64.urlsafe_b64encode(bytes).rstrip("=")` and `hashlib.sha256(bytes[16:])`).

use std::convert::Infallible;

use admit_core::token::{self, RawToken, TOKEN_PREFIX, TOKEN_TEXT_LEN};
use admit_core::{
    AccountId, Clock, CredentialEpoch, LinkFailure, TestClock, Timestamp, TokenPurpose, TokenRecord, TokenSelector,
};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_core::{TryCryptoRng, TryRng};
use time::Duration;

/// A "generator" that returns the given bytes in order, then zeros.
struct FixedBytes {
    bytes: Vec<u8>,
    at: usize,
}

impl FixedBytes {
    fn new(bytes: &[u8]) -> Self {
        FixedBytes { bytes: bytes.to_vec(), at: 0 }
    }
}

impl TryRng for FixedBytes {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for byte in dst {
            *byte = self.bytes.get(self.at).copied().unwrap_or(0);
            self.at += 1;
        }
        Ok(())
    }
}

// Not secure: it pins the token bytes for known-answer tests.
impl TryCryptoRng for FixedBytes {}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
}

const ACCOUNT: AccountId = AccountId::from_bytes([7; 16]);

fn issue(rng: &mut impl rand_core::CryptoRng, purpose: TokenPurpose, now: Timestamp) -> token::IssuedToken {
    token::issue(rng, ACCOUNT, purpose, CredentialEpoch(3), now, Duration::days(7))
}

/// (32 random bytes in hex, token text, SHA-256 of the verifier half in hex).
const VECTORS: [(&str, &str, &str); 3] = [
    (
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        "adm_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
        "fc2e2c73072bfa2bda03ff9307472debd3cc8105028a8a9e235e35ba8d2e37f4",
    ),
    (
        "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        "adm___________________________________________8",
        "5ac6a5945f16500911219129984ba8b387a06f24fe383ce4e81a73294065461b",
    ),
    (
        "10f1e8f2162d768dc6dad4dbd60d715be3c5103721c65c730bd13c1ed4c407d0",
        "adm_EPHo8hYtdo3G2tTb1g1xW-PFEDchxlxzC9E8HtTEB9A",
        "7ab55df021a8e5c595ded2b0fdea908d611f9d7b5954a668315c43755c7e3c7d",
    ),
];

#[test]
fn fixed_bytes_give_the_expected_text_selector_and_verifier_hash() {
    let now = TestClock::default_start().now();
    for (bytes, text, verifier_hash) in VECTORS {
        let bytes = unhex(bytes);
        let issued = issue(&mut FixedBytes::new(&bytes), TokenPurpose::Invitation, now);
        assert_eq!(issued.raw.expose(), text);
        assert_eq!(issued.raw.expose().len(), TOKEN_TEXT_LEN);
        assert_eq!(issued.record.selector.to_bytes().as_slice(), &bytes[..16]);
        assert_eq!(issued.record.selector.to_string(), hex(&bytes[..16]));
        assert_eq!(hex(&issued.record.verifier_hash.unwrap().to_bytes()), verifier_hash);
        assert_eq!(issued.record.account_id, ACCOUNT);
        assert_eq!(issued.record.purpose, TokenPurpose::Invitation);
        assert_eq!(issued.record.credential_epoch, CredentialEpoch(3));
        assert_eq!((issued.record.created_at, issued.record.expires_at), (now, now + Duration::days(7)));
        assert!(issued.record.consumed_at.is_none() && issued.record.revoked_at.is_none());
    }
}

/// Reserving then arming with the same 32 bytes (selector drawn at reservation, verifier
/// at arming) gives the same text and hash as issuing at once; a reserved record verifies
/// nothing, an armed one verifies only the text of its last arming.
#[test]
fn reserve_then_arm_matches_the_vectors_and_only_the_last_arming_verifies() {
    let now = TestClock::default_start().now();
    for (bytes, text, verifier_hash) in VECTORS {
        let bytes = unhex(bytes);
        let mut record = token::reserve(
            &mut FixedBytes::new(&bytes),
            ACCOUNT,
            TokenPurpose::Invitation,
            CredentialEpoch(3),
            now,
            Duration::days(7),
        );
        assert_eq!(record.selector.to_bytes().as_slice(), &bytes[..16]);
        assert!(record.verifier_hash.is_none(), "a reservation stores no verifier");
        let parsed = token::parse(text).unwrap();
        assert!(parsed.verify(&record, TokenPurpose::Invitation, now).is_err(), "a reserved token opens nothing");
        let armed = token::arm(&mut FixedBytes::new(&bytes[16..]), &record.selector);
        assert_eq!(armed.raw.expose(), text);
        assert_eq!(hex(&armed.verifier_hash.to_bytes()), verifier_hash);
        record.verifier_hash = Some(armed.verifier_hash);
        assert!(parsed.verify(&record, TokenPurpose::Invitation, now).is_ok());
        // Arming again (a retry after a crash) mints another verifier: the first text dies.
        let again = token::arm(&mut rand::rng(), &record.selector);
        record.verifier_hash = Some(again.verifier_hash);
        assert!(parsed.verify(&record, TokenPurpose::Invitation, now).is_err(), "the first link is dead");
        assert!(token::parse(again.raw.expose()).unwrap().verify(&record, TokenPurpose::Invitation, now).is_ok());
    }
}

#[test]
fn vectors_parse_and_verify_against_a_record_rebuilt_from_stored_bytes() {
    let now = TestClock::default_start().now();
    for (bytes, text, verifier_hash) in VECTORS {
        let bytes = unhex(bytes);
        // What a store would read back: selector bytes and verifier hash bytes.
        let record = TokenRecord {
            selector: TokenSelector::from_bytes(bytes[..16].try_into().unwrap()),
            verifier_hash: Some(admit_core::VerifierHash::from_bytes(unhex(verifier_hash).try_into().unwrap())),
            account_id: ACCOUNT,
            purpose: TokenPurpose::PasswordReset,
            credential_epoch: CredentialEpoch(0),
            created_at: now,
            expires_at: now + Duration::hours(1),
            consumed_at: None,
            revoked_at: None,
            revoked_reason: None,
        };
        let parsed = token::parse(text).unwrap();
        assert_eq!(parsed.selector(), &record.selector);
        assert_eq!(parsed.verify(&record, TokenPurpose::PasswordReset, now), Ok(()));
    }
}

#[test]
fn expiry_boundary_is_inclusive_to_the_microsecond() {
    let now = TestClock::default_start().now();
    let issued = issue(&mut StdRng::seed_from_u64(1), TokenPurpose::PasswordReset, now);
    let parsed = token::parse(issued.raw.expose()).unwrap();
    let deadline = issued.record.expires_at;
    assert_eq!(parsed.verify(&issued.record, TokenPurpose::PasswordReset, deadline), Ok(()));
    assert_eq!(
        parsed.verify(&issued.record, TokenPurpose::PasswordReset, deadline - Duration::microseconds(1)),
        Ok(())
    );
    let late = parsed.verify(&issued.record, TokenPurpose::PasswordReset, deadline + Duration::microseconds(1));
    assert_eq!(late.unwrap_err().reason(), LinkFailure::Expired);
    assert!(issued.record.is_live(deadline));
    assert!(!issued.record.is_live(deadline + Duration::microseconds(1)));
}

#[test]
fn wrong_purpose_is_refused() {
    let now = TestClock::default_start().now();
    for purpose in TokenPurpose::ALL {
        let issued = issue(&mut StdRng::seed_from_u64(2), purpose, now);
        let parsed = token::parse(issued.raw.expose()).unwrap();
        for other in TokenPurpose::ALL.into_iter().filter(|&p| p != purpose) {
            let error = parsed.verify(&issued.record, other, now).unwrap_err();
            assert_eq!(error.reason(), LinkFailure::WrongPurpose);
            assert_eq!(error.to_string(), "invalid or expired link");
        }
    }
}

#[test]
fn a_token_does_not_verify_against_another_record() {
    let now = TestClock::default_start().now();
    let mut rng = StdRng::seed_from_u64(3);
    let a = issue(&mut rng, TokenPurpose::Invitation, now);
    let b = issue(&mut rng, TokenPurpose::Invitation, now);
    let parsed = token::parse(a.raw.expose()).unwrap();
    assert_eq!(
        parsed.verify(&b.record, TokenPurpose::Invitation, now).unwrap_err().reason(),
        LinkFailure::WrongVerifier
    );
    // Same selector, other verifier hash (a forged record or a guessed verifier).
    let mut forged = a.record.clone();
    forged.verifier_hash = b.record.verifier_hash;
    assert_eq!(parsed.verify(&forged, TokenPurpose::Invitation, now).unwrap_err().reason(), LinkFailure::WrongVerifier);
}

#[test]
fn debug_never_shows_the_token_or_its_verifier() {
    let now = TestClock::default_start().now();
    for (bytes, text, verifier_hash) in VECTORS {
        let bytes = unhex(bytes);
        let issued = issue(&mut FixedBytes::new(&bytes), TokenPurpose::Invitation, now);
        let parsed = token::parse(text).unwrap();
        let raw = RawToken::from_text(text.to_owned());
        // The text after the prefix, the verifier in hex, the verifier hash in hex, and the
        // part of the base64 text that encodes only verifier bits.
        let secrets =
            [&text[TOKEN_PREFIX.len()..], &hex(&bytes[16..]), verifier_hash, &text[TOKEN_PREFIX.len() + 22..]];
        for debug in [format!("{raw:?}"), format!("{:?}", issued.raw), format!("{parsed:?}"), format!("{issued:?}")] {
            // (In the all-0xff vector the verifier equals the public selector: skip that one.)
            for secret in secrets.into_iter().filter(|s| !issued.record.selector.to_string().contains(*s)) {
                assert!(!debug.contains(secret), "{debug} shows {secret}");
            }
        }
    }
}

/// The characters a token body may contain.
const URL_SAFE: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Every refusal must be `Malformed` (at parse) or `WrongVerifier` (at verify); nothing else
/// may happen to a tampered token, and it must never verify.
fn assert_refused(candidate: &str, record: &TokenRecord, now: Timestamp) -> Result<(), TestCaseError> {
    match token::parse(candidate) {
        Err(error) => prop_assert_eq!(error.reason(), LinkFailure::Malformed, "{:?}", candidate),
        Ok(parsed) => {
            let result = parsed.verify(record, record.purpose, now);
            prop_assert_eq!(result.map_err(|e| e.reason()), Err(LinkFailure::WrongVerifier), "{:?}", candidate);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn issue_parse_verify_round_trip(seed in any::<u64>(), purpose in prop::sample::select(TokenPurpose::ALL.to_vec())) {
        let clock = TestClock::default_start();
        let issued = issue(&mut StdRng::seed_from_u64(seed), purpose, clock.now());
        let text = issued.raw.expose();
        prop_assert_eq!(text.len(), TOKEN_TEXT_LEN);
        prop_assert!(text.starts_with(TOKEN_PREFIX));
        prop_assert!(text[TOKEN_PREFIX.len()..].chars().all(|c| URL_SAFE.contains(c)));
        let parsed = token::parse(text).unwrap();
        prop_assert_eq!(parsed.selector(), &issued.record.selector);
        prop_assert_eq!(parsed.verify(&issued.record, purpose, clock.now()), Ok(()));
    }

    #[test]
    fn any_single_character_change_is_refused(
        seed in any::<u64>(),
        at in 0usize..TOKEN_TEXT_LEN,
        replacement in prop::sample::select(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/=. é\0".chars().collect::<Vec<_>>()
        ),
    ) {
        let now = TestClock::default_start().now();
        let issued = issue(&mut StdRng::seed_from_u64(seed), TokenPurpose::Invitation, now);
        let text = issued.raw.expose();
        let original = text.as_bytes()[at] as char;
        prop_assume!(original != replacement);
        let mut tampered = String::new();
        tampered.push_str(&text[..at]);
        tampered.push(replacement);
        tampered.push_str(&text[at + 1..]);
        assert_refused(&tampered, &issued.record, now)?;
    }

    #[test]
    fn truncation_and_extension_are_refused(
        seed in any::<u64>(),
        keep in 0usize..TOKEN_TEXT_LEN,
        suffix in "[A-Za-z0-9_=+/-]{1,8}",
    ) {
        let now = TestClock::default_start().now();
        let issued = issue(&mut StdRng::seed_from_u64(seed), TokenPurpose::Invitation, now);
        let text = issued.raw.expose();
        let truncated = &text[..keep];
        prop_assert_eq!(token::parse(truncated).unwrap_err().reason(), LinkFailure::Malformed);
        let extended = format!("{text}{suffix}");
        prop_assert_eq!(token::parse(&extended).unwrap_err().reason(), LinkFailure::Malformed);
        let prefixed = format!("{suffix}{text}");
        prop_assert_eq!(token::parse(&prefixed).unwrap_err().reason(), LinkFailure::Malformed);
    }

    #[test]
    fn re_encodings_are_refused(seed in any::<u64>()) {
        let now = TestClock::default_start().now();
        let issued = issue(&mut StdRng::seed_from_u64(seed), TokenPurpose::Invitation, now);
        let text = issued.raw.expose();
        let body = &text[TOKEN_PREFIX.len()..];
        // Standard alphabet (`+/`), padding, upper-case prefix, percent-encoding, space padding.
        let standard = format!("{TOKEN_PREFIX}{}", body.replace('-', "+").replace('_', "/"));
        let candidates = [
            standard.clone(),
            format!("{text}="),
            format!("{standard}="),
            format!("ADM_{body}"),
            format!("adm%5F{body}"),
            format!(" {text}"),
            format!("{text}\n"),
            format!("adm-{body}"),
            body.to_owned(),
        ];
        for candidate in candidates {
            if candidate == text {
                continue; // no `-` or `_` in this token: the standard alphabet spells it the same
            }
            assert_refused(&candidate, &issued.record, now)?;
        }
    }

    #[test]
    fn non_canonical_last_character_is_malformed(seed in any::<u64>(), low_bits in 1u8..4) {
        // 43 characters carry 258 bits for 256: the last character's two low bits must be 0.
        let now = TestClock::default_start().now();
        let issued = issue(&mut StdRng::seed_from_u64(seed), TokenPurpose::Invitation, now);
        let text = issued.raw.expose();
        let last = text.chars().last().unwrap();
        let index = URL_SAFE.find(last).unwrap();
        prop_assert_eq!(index % 4, 0);
        let other = URL_SAFE.as_bytes()[index + usize::from(low_bits)] as char;
        let tampered = format!("{}{other}", &text[..text.len() - 1]);
        prop_assert_eq!(token::parse(&tampered).unwrap_err().reason(), LinkFailure::Malformed);
    }

    #[test]
    fn arbitrary_text_never_panics_and_never_verifies(text in any::<String>(), seed in any::<u64>()) {
        let now = TestClock::default_start().now();
        let issued = issue(&mut StdRng::seed_from_u64(seed), TokenPurpose::Invitation, now);
        prop_assume!(text != issued.raw.expose());
        assert_refused(&text, &issued.record, now)?;
    }
}
