//! `admit_core::token::parse` on arbitrary text, checked against an independent decoder:
//! parse never panics, accepts exactly `adm_` + the canonical unpadded URL-safe base64 of 32
//! bytes, and what it accepts re-encodes to the same text and verifies against a record
//! built from those bytes. A token issued from RNG output taken from the input parses back.
#![no_main]

use admit_core::token::{self, TOKEN_PREFIX, TOKEN_TEXT_LEN, TokenPurpose, TokenSelector, VerifierHash};
use admit_core::{AccountId, CredentialEpoch, Timestamp};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use rand::SeedableRng;
use rand::rngs::StdRng;
use sha2::{Digest, Sha256};

const NOW: Timestamp = Timestamp::from_unix_micros(1_790_000_000_000_000);

/// The 32 bytes a well-formed token's text stands for, decided without admit's code.
fn oracle(text: &str) -> Option<[u8; 32]> {
    let body = text.strip_prefix(TOKEN_PREFIX)?;
    if text.len() != TOKEN_TEXT_LEN {
        return None;
    }
    let bytes: [u8; 32] = URL_SAFE_NO_PAD.decode(body).ok()?.try_into().ok()?;
    // Canonical only: the two spare bits of the last character must be zero.
    (URL_SAFE_NO_PAD.encode(bytes) == body).then_some(bytes)
}

fn record_for(bytes: &[u8; 32]) -> token::TokenRecord {
    let mut selector = [0u8; 16];
    selector.copy_from_slice(&bytes[..16]);
    let hash: [u8; 32] = Sha256::digest(&bytes[16..]).into();
    token::TokenRecord {
        selector: TokenSelector::from_bytes(selector),
        verifier_hash: Some(VerifierHash::from_bytes(hash)),
        account_id: AccountId::from_bytes([7; 16]),
        purpose: TokenPurpose::PasswordReset,
        credential_epoch: CredentialEpoch(0),
        created_at: NOW,
        expires_at: Timestamp::from_unix_micros(NOW.as_unix_micros() + 3_600_000_000),
        consumed_at: None,
        revoked_at: None,
        revoked_reason: None,
    }
}

fn check_text(text: &str) {
    let parsed = token::parse(text);
    match (oracle(text), parsed) {
        (None, Err(error)) => assert_eq!(error.reason(), token::LinkFailure::Malformed),
        (None, Ok(_)) => panic!("parse accepted a malformed token: {text:?}"),
        (Some(_), Err(error)) => panic!("parse refused a well-formed token {text:?}: {error:?}"),
        (Some(bytes), Ok(parsed)) => {
            // Re-encoding the selector and verifier gives the same text back.
            assert_eq!(parsed.selector().to_bytes()[..], bytes[..16]);
            assert_eq!(format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)), text);
            let record = record_for(&bytes);
            assert!(parsed.verify(&record, TokenPurpose::PasswordReset, NOW).is_ok());
            // Any other verifier is refused.
            let mut other = bytes;
            other[31] ^= 1;
            let wrong = record_for(&other);
            let failure = parsed.verify(&wrong, TokenPurpose::PasswordReset, NOW).unwrap_err().reason();
            assert_eq!(failure, token::LinkFailure::WrongVerifier);
            // A reserved (unarmed) record opens nothing, whatever the text.
            let mut reserved = record.clone();
            reserved.verifier_hash = None;
            let failure = parsed.verify(&reserved, TokenPurpose::PasswordReset, NOW).unwrap_err().reason();
            assert_eq!(failure, token::LinkFailure::WrongVerifier);
            // Debug shows the selector and nothing of the verifier.
            let hex: String = bytes[..16].iter().map(|b| format!("{b:02x}")).collect();
            let expected = format!("ParsedToken {{ selector: TokenSelector({hex}), verifier: \"[redacted]\" }}");
            assert_eq!(format!("{parsed:?}"), expected);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    check_text(&String::from_utf8_lossy(data));
    // The input as the bytes of a token: their encoding must parse.
    if data.len() >= 32 {
        let bytes: [u8; 32] = data[..32].try_into().unwrap_or([0; 32]);
        check_text(&format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)));
        // The input as RNG seed: an issued token parses back to its record.
        let mut rng = StdRng::from_seed(bytes);
        let issued = token::issue(
            &mut rng,
            AccountId::from_bytes([1; 16]),
            TokenPurpose::Invitation,
            CredentialEpoch(3),
            NOW,
            time::Duration::days(7),
        );
        let text = issued.raw.expose();
        assert_eq!(text.len(), TOKEN_TEXT_LEN);
        let parsed = token::parse(text).expect("an issued token parses");
        assert_eq!(parsed.selector(), &issued.record.selector);
        assert!(parsed.verify(&issued.record, TokenPurpose::Invitation, NOW).is_ok());
        check_text(text);
    }
});
