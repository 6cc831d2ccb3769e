//! What the token benchmarks compare, as plain functions so that `tests/flows.rs` can
//! check each one accepts a good token and refuses a bad one before any figure is trusted.
//!
//! Every "verify" here is the whole check a host runs on a link: parse, look the record up
//! in a map of live tokens (a `HashMap` with the standard hasher for all), compare, check
//! the expiry. Every "issue" returns the text to send and the record to store.

// Each bench target uses a part of this module.
#![allow(dead_code)]

use std::collections::HashMap;

use admit_core::token::{self, IssuedToken};
use admit_core::{
    AccountId, CredentialEpoch, LinkError, LinkFailure, Timestamp, TokenPurpose, TokenRecord, TokenSelector,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::CryptoRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::Duration;

/// The account every benchmark token is for.
pub const ACCOUNT: AccountId = AccountId::from_bytes([7; 16]);
/// The lifetime of every benchmark token (a reset link's default).
pub const TTL: Duration = Duration::hours(1);
/// How many live tokens the lookup maps hold.
pub const LIVE_TOKENS: usize = 1024;

// ---------------------------------------------------------------------------------------
// admit

/// admit: issue a reset link (text + record).
pub fn admit_issue(rng: &mut (impl CryptoRng + ?Sized), now: Timestamp) -> IssuedToken {
    token::issue(rng, ACCOUNT, TokenPurpose::PasswordReset, CredentialEpoch(0), now, TTL)
}

/// admit: the whole check of a presented link against a map of stored records.
///
/// # Errors
/// The link error, with its reason.
pub fn admit_verify(
    records: &HashMap<TokenSelector, TokenRecord>,
    text: &str,
    now: Timestamp,
) -> Result<AccountId, LinkError> {
    let parsed = token::parse(text)?;
    let record = records.get(parsed.selector()).ok_or(LinkError::new(LinkFailure::Unknown))?;
    parsed.verify(record, TokenPurpose::PasswordReset, now)?;
    Ok(record.account_id)
}

// ---------------------------------------------------------------------------------------
// The floor: the least any split-token design must do.

/// The floor's stored record.
#[derive(Debug, Clone)]
pub struct FloorRecord {
    /// SHA-256 of the verifier half.
    pub verifier_hash: [u8; 32],
    /// The account.
    pub account_id: AccountId,
    /// Valid while `now <= expires_at` (microseconds).
    pub expires_at: i64,
}

/// The floor: 32 bytes from `rng`, one SHA-256, the text (prefix + base64url in one
/// allocation) and the record.
pub fn floor_issue(rng: &mut (impl CryptoRng + ?Sized), now: Timestamp) -> (String, [u8; 16], FloorRecord) {
    let mut bytes = [0u8; 32];
    rng.fill_bytes(&mut bytes);
    let mut text = String::with_capacity(47);
    text.push_str("adm_");
    URL_SAFE_NO_PAD.encode_string(bytes, &mut text);
    let mut selector = [0u8; 16];
    selector.copy_from_slice(&bytes[..16]);
    let record = FloorRecord {
        verifier_hash: Sha256::digest(&bytes[16..]).into(),
        account_id: ACCOUNT,
        expires_at: (now + TTL).as_unix_micros(),
    };
    (text, selector, record)
}

/// The floor's check: decode, map lookup, SHA-256, constant-time compare, expiry.
pub fn floor_verify(records: &HashMap<[u8; 16], FloorRecord>, text: &str, now: Timestamp) -> Option<AccountId> {
    let body = text.strip_prefix("adm_")?;
    if body.len() != 43 {
        return None;
    }
    let mut bytes = [0u8; 32];
    if URL_SAFE_NO_PAD.decode_slice(body, &mut bytes).ok()? != 32 {
        return None;
    }
    let mut selector = [0u8; 16];
    selector.copy_from_slice(&bytes[..16]);
    let record = records.get(&selector)?;
    let hash: [u8; 32] = Sha256::digest(&bytes[16..]).into();
    let matches: bool = hash.ct_eq(&record.verifier_hash).into();
    (matches && now.as_unix_micros() <= record.expires_at).then_some(record.account_id)
}

// ---------------------------------------------------------------------------------------
// latchkey: one 32-byte token, stored and looked up by its SHA-256.

/// latchkey's stored record (the hash is the map key).
#[derive(Debug, Clone)]
pub struct LatchkeyRecord {
    /// The account.
    pub account_id: AccountId,
    /// Valid while `now <= expires_at`.
    pub expires_at: Timestamp,
}

/// latchkey: issue a token, with the record to store under its hash.
pub fn latchkey_issue(
    rng: &mut (impl CryptoRng + ?Sized),
    now: Timestamp,
) -> (latchkey::token::IssuedToken, LatchkeyRecord) {
    let issued = latchkey::token::issue(rng);
    (issued, LatchkeyRecord { account_id: ACCOUNT, expires_at: now + TTL })
}

/// latchkey's check: hash the presented text, look the hash up, check the expiry.
pub fn latchkey_verify(
    records: &HashMap<latchkey::token::TokenHash, LatchkeyRecord>,
    text: &str,
    now: Timestamp,
) -> Option<AccountId> {
    let hash = latchkey::token::TokenHash::of(text)?;
    let record = records.get(&hash)?;
    (now <= record.expires_at).then_some(record.account_id)
}

// ---------------------------------------------------------------------------------------
// jsonwebtoken HS256: a stateless reset token, signed with a server key.

/// The claims of a JWT reset token.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ResetClaims {
    /// The account (hyphenated UUID).
    pub sub: String,
    /// What the token is for.
    pub purpose: String,
    /// The credential epoch when issued, so that a password change kills the token.
    pub epoch: u64,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
}

/// The HS256 keys of a deployment.
pub struct JwtKeys {
    encoding: jsonwebtoken::EncodingKey,
    decoding: jsonwebtoken::DecodingKey,
    header: jsonwebtoken::Header,
    validation: jsonwebtoken::Validation,
}

impl JwtKeys {
    /// Keys from a 32-byte server secret.
    pub fn new(secret: &[u8; 32]) -> Self {
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "sub"]);
        JwtKeys {
            encoding: jsonwebtoken::EncodingKey::from_secret(secret),
            decoding: jsonwebtoken::DecodingKey::from_secret(secret),
            header: jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            validation,
        }
    }
}

/// jsonwebtoken: sign a reset token expiring at `expires_at` (the wall clock: the
/// crate validates `exp` against the system time).
pub fn jwt_issue(keys: &JwtKeys, account_id: AccountId, expires_at: Timestamp) -> String {
    let claims = ResetClaims {
        sub: account_id.to_string(),
        purpose: "password_reset".to_owned(),
        epoch: 0,
        exp: u64::try_from(expires_at.as_unix_micros() / 1_000_000).unwrap_or(0),
    };
    jsonwebtoken::encode(&keys.header, &claims, &keys.encoding).unwrap_or_default()
}

/// jsonwebtoken: decode, check the signature and `exp`, then the purpose and the epoch.
pub fn jwt_verify(keys: &JwtKeys, text: &str) -> Option<String> {
    let data = jsonwebtoken::decode::<ResetClaims>(text, &keys.decoding, &keys.validation).ok()?;
    (data.claims.purpose == "password_reset" && data.claims.epoch == 0).then_some(data.claims.sub)
}

// ---------------------------------------------------------------------------------------
// Fixtures

/// `LIVE_TOKENS` admit tokens issued at `now`: their texts and the map of their records.
pub fn admit_fixture(
    rng: &mut (impl CryptoRng + ?Sized),
    now: Timestamp,
) -> (Vec<String>, HashMap<TokenSelector, TokenRecord>) {
    let mut texts = Vec::with_capacity(LIVE_TOKENS);
    let mut records = HashMap::with_capacity(LIVE_TOKENS);
    for _ in 0..LIVE_TOKENS {
        let issued = admit_issue(rng, now);
        texts.push(issued.raw.expose().to_owned());
        records.insert(issued.record.selector, issued.record);
    }
    (texts, records)
}

/// `LIVE_TOKENS` floor tokens issued at `now`: their texts and the map of their records.
pub fn floor_fixture(
    rng: &mut (impl CryptoRng + ?Sized),
    now: Timestamp,
) -> (Vec<String>, HashMap<[u8; 16], FloorRecord>) {
    let mut texts = Vec::with_capacity(LIVE_TOKENS);
    let mut records = HashMap::with_capacity(LIVE_TOKENS);
    for _ in 0..LIVE_TOKENS {
        let (text, selector, record) = floor_issue(rng, now);
        texts.push(text);
        records.insert(selector, record);
    }
    (texts, records)
}

/// `LIVE_TOKENS` latchkey tokens issued at `now`: their texts and the map of their records.
pub fn latchkey_fixture(
    rng: &mut (impl CryptoRng + ?Sized),
    now: Timestamp,
) -> (Vec<String>, HashMap<latchkey::token::TokenHash, LatchkeyRecord>) {
    let mut texts = Vec::with_capacity(LIVE_TOKENS);
    let mut records = HashMap::with_capacity(LIVE_TOKENS);
    for _ in 0..LIVE_TOKENS {
        let (issued, record) = latchkey_issue(rng, now);
        texts.push(issued.token.expose_secret().to_owned());
        records.insert(issued.hash, record);
    }
    (texts, records)
}

/// `LIVE_TOKENS` JWT reset tokens expiring at `expires_at`.
pub fn jwt_fixture(keys: &JwtKeys, expires_at: Timestamp) -> Vec<String> {
    (0..LIVE_TOKENS)
        .map(|i| {
            let mut id = [7; 16];
            id[..8].copy_from_slice(&(i as u64).to_le_bytes());
            jwt_issue(keys, AccountId::from_bytes(id), expires_at)
        })
        .collect()
}

/// `text` with its last verifier character changed to another valid one that keeps the
/// encoding canonical: well formed, known selector, wrong verifier.
pub fn with_wrong_verifier(text: &str) -> String {
    let mut bytes = text.as_bytes().to_vec();
    let last = bytes.len() - 2; // the last character carries only 4 data bits and 2 zero bits
    bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap_or_default()
}

/// `text` with a character outside the alphabet at its very end: the right length and
/// prefix, so only a full scan finds the fault (the worst malformed case).
pub fn malformed(text: &str) -> String {
    format!("{}!", &text[..text.len() - 1])
}
