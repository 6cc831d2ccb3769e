//! One-time links: split tokens (selector + verifier), issued, parsed and verified here;
//! stores keep a [`TokenRecord`] with the verifier only as a SHA-256 hash.
//!
//! A token reads `adm_` followed by 43 URL-safe base64 characters encoding 32 random
//! bytes: a 16-byte selector (the lookup key, stored as is) and a 16-byte verifier (stored
//! only hashed, compared in constant time). 256 bits of randomness in all; the verifier
//! alone is 128 bits, which no one can guess online or offline. The `adm_` prefix lets
//! secret scanners spot leaked links.
//!
//! ```
//! use admit_core::{token, AccountId, CredentialEpoch, TestClock, Clock, TokenPurpose};
//! use rand::{SeedableRng, rngs::StdRng};
//! let mut rng = StdRng::seed_from_u64(7);
//! let clock = TestClock::default_start();
//! let account = AccountId::generate(clock.now(), &mut rng);
//! let issued = token::issue(&mut rng, account, TokenPurpose::Invitation, CredentialEpoch(0),
//!                           clock.now(), time::Duration::days(7));
//! let parsed = token::parse(issued.raw.expose()).unwrap();
//! assert_eq!(parsed.selector(), &issued.record.selector);
//! assert!(parsed.verify(&issued.record, TokenPurpose::Invitation, clock.now()).is_ok());
//! ```
//!
//! # Randomness
//!
//! [`issue`] takes the generator as an argument, behind the `rand_core` [`CryptoRng`]
//! trait: tests pass a seeded one, production code `rand::rng()` (rand 0.10's
//! `ThreadRng`). That generator is ChaCha with 12 rounds, one per thread, seeded with 256
//! bits from the operating system (`getrandom`) on first use and reseeded from it after
//! every 64 KiB of output. ChaCha12's output cannot be told from random or predicted
//! without its key (the best published attacks reach 7 rounds), so each token's 32 bytes
//! are as good as the operating system's, at a fraction of a system call's cost (see
//! `docs/benchmarks.md`). What it does not do: reseed itself when the process forks or a
//! virtual machine is restored from a snapshot. A host that forks after admit has issued a
//! token in the forking thread must call `rand::rng().reseed()` in the child; a host that
//! snapshots running machines should pass an OS-backed generator
//! (`rand_core::UnwrapErr(rand::rngs::SysRng)`) wherever it calls admit-core with one.
//!
//! # Cost
//!
//! Issuing and verifying are bounded by one SHA-256 block each (the verifier is 16 bytes),
//! plus 32 bytes from the generator and one allocation for the text when issuing. The
//! base64url codec is written out here (table lookups, no early exit), the hash is one
//! padded block given straight to the compression function, and the comparison folds the
//! differences into one word before `subtle` reads it. Malformed text (length, prefix,
//! alphabet, non-canonical last character) is refused by [`parse`] before any hashing or
//! store call.

use std::fmt;

use rand_core::CryptoRng;
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;
use time::Duration;

use crate::{AccountId, AccountRecord, CredentialEpoch, Timestamp};

/// The prefix of every token.
pub const TOKEN_PREFIX: &str = "adm_";
/// Bytes in a selector.
pub const SELECTOR_LEN: usize = 16;
/// Bytes in a verifier.
pub const VERIFIER_LEN: usize = 16;
/// Length of a token's text form.
pub const TOKEN_TEXT_LEN: usize = TOKEN_PREFIX.len() + 43;

/// What a link is for. A token of one purpose is refused for the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub enum TokenPurpose {
    /// Set a first password and activate the account.
    Invitation,
    /// Set a new password (also activates a never-activated account).
    PasswordReset,
}

impl TokenPurpose {
    /// Both purposes.
    pub const ALL: [TokenPurpose; 2] = [TokenPurpose::Invitation, TokenPurpose::PasswordReset];

    /// The stable lower-case name stores persist.
    pub const fn as_str(self) -> &'static str {
        match self {
            TokenPurpose::Invitation => "invitation",
            TokenPurpose::PasswordReset => "password_reset",
        }
    }

    /// Parses [`TokenPurpose::as_str`]'s output.
    pub fn from_name(name: &str) -> Option<TokenPurpose> {
        TokenPurpose::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

/// The public half of a token: the key stores look a record up by.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TokenSelector([u8; SELECTOR_LEN]);

impl TokenSelector {
    /// Rebuilds a selector from the bytes a store kept.
    pub const fn from_bytes(bytes: [u8; SELECTOR_LEN]) -> Self {
        TokenSelector(bytes)
    }

    /// The selector's bytes, as stores persist them.
    pub const fn to_bytes(self) -> [u8; SELECTOR_LEN] {
        self.0
    }
}

impl fmt::Debug for TokenSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenSelector({self})")
    }
}

impl fmt::Display for TokenSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// SHA-256 of a verifier: what stores keep instead of the verifier.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct VerifierHash([u8; 32]);

impl VerifierHash {
    /// Rebuilds a hash from the bytes a store kept.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        VerifierHash(bytes)
    }

    /// The hash's bytes.
    pub const fn to_bytes(self) -> [u8; 32] {
        self.0
    }

    /// SHA-256 of a verifier. A 16-byte message fits one block, so the block is padded
    /// here (FIPS 180-4 §5.1.1) and compressed once, without the streaming hasher's
    /// buffering; the known-answer tests pin the result.
    fn of(verifier: &[u8; VERIFIER_LEN]) -> Self {
        let mut block = [0u8; 64];
        block[..VERIFIER_LEN].copy_from_slice(verifier);
        block[VERIFIER_LEN] = 0x80;
        block[56..].copy_from_slice(&(8 * VERIFIER_LEN as u64).to_be_bytes());
        let mut state = SHA256_IV;
        sha2::block_api::compress256(&mut state, &[block]);
        block.fill(0);
        let mut hash = [0u8; 32];
        for (out, word) in hash.as_chunks_mut::<4>().0.iter_mut().zip(state) {
            *out = word.to_be_bytes();
        }
        VerifierHash(hash)
    }
}

/// SHA-256's initial hash value (FIPS 180-4 §5.3.3).
const SHA256_IV: [u32; 8] =
    [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

/// The bits in which two byte strings of the same length differ, OR-ed into one word
/// without branching. The caller compares the result with zero through `subtle` once,
/// rather than byte by byte (`subtle`'s slice comparison costs an optimisation barrier,
/// a call and a volatile read, per byte).
fn diff_words<const N: usize>(a: &[u8; N], b: &[u8; N]) -> u64 {
    const { assert!(N.is_multiple_of(8)) };
    let (a, b) = (a.as_chunks::<8>().0, b.as_chunks::<8>().0);
    a.iter().zip(b).fold(0u64, |diff, (a, b)| diff | (u64::from_ne_bytes(*a) ^ u64::from_ne_bytes(*b)))
}

/// The URL-safe base64 alphabet (RFC 4648 §5).
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Marks a byte outside [`ALPHABET`] in [`DECODE`]; valid entries are below 64.
const INVALID: u8 = 0xff;

/// Each byte's 6-bit value in [`ALPHABET`], or [`INVALID`].
const DECODE: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 64 {
        table[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table
};

/// Characters of a token's body.
const BODY_LEN: usize = TOKEN_TEXT_LEN - TOKEN_PREFIX.len();

/// Encodes the 32 token bytes as 43 URL-safe base64 characters without padding: ten
/// groups of 3 bytes to 4 characters, then 2 bytes to 3 characters (the last one carrying
/// 4 bits and two zero bits).
fn encode_body(bytes: &[u8; SELECTOR_LEN + VERIFIER_LEN], out: &mut [u8]) {
    let (groups, rest) = bytes.as_chunks::<3>();
    let (quads, tail) = out.as_chunks_mut::<4>();
    for (group, quad) in groups.iter().zip(quads) {
        let n = (u32::from(group[0]) << 16) | (u32::from(group[1]) << 8) | u32::from(group[2]);
        *quad = [18, 12, 6, 0].map(|shift| ALPHABET[(n >> shift) as usize & 63]);
    }
    if let ([a, b], [x, y, z]) = (rest, tail) {
        let n = (u32::from(*a) << 8) | u32::from(*b);
        *x = ALPHABET[(n >> 10) as usize & 63];
        *y = ALPHABET[(n >> 4) as usize & 63];
        *z = ALPHABET[(n << 2) as usize & 63];
    }
}

/// Decodes [`encode_body`]'s output, refusing any character outside the alphabet and a
/// non-canonical last character (its two unused low bits set). The scan has no early
/// exit: validity is OR-ed together and read once at the end.
fn decode_body(text: &[u8; BODY_LEN], out: &mut [u8; SELECTOR_LEN + VERIFIER_LEN]) -> bool {
    let mut seen = 0u8;
    let (quads, tail) = text.as_chunks::<4>();
    let (groups, rest) = out.as_chunks_mut::<3>();
    for (quad, group) in quads.iter().zip(groups) {
        let [a, b, c, d] = quad.map(|ch| DECODE[usize::from(ch)]);
        seen |= a | b | c | d;
        let n = (u32::from(a) << 18) | (u32::from(b) << 12) | (u32::from(c) << 6) | u32::from(d);
        *group = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
    }
    if let ([x, y, z], [a, b]) = (tail, rest) {
        let [x, y, z] = [*x, *y, *z].map(|ch| DECODE[usize::from(ch)]);
        seen |= x | y | z | ((z & 0x03) << 6);
        let n = (u32::from(x) << 10) | (u32::from(y) << 4) | (u32::from(z) >> 2);
        *a = (n >> 8) as u8;
        *b = n as u8;
    }
    (seen & 0xc0) == 0
}

impl fmt::Debug for VerifierHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("VerifierHash(..)")
    }
}

/// Why a link stopped working; kept on the record for logs and audits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum RevokeReason {
    /// A newer link of the same purpose was issued.
    Replaced,
    /// The password changed (the credential epoch moved).
    PasswordChanged,
    /// The account's address changed.
    EmailChanged,
    /// The account was disabled.
    AccountDisabled,
    /// The account was moved to the trash.
    AccountTrashed,
    /// The person signed in with the right password, so the reset link is not needed.
    SignedIn,
}

impl RevokeReason {
    /// The stable snake-case name stores persist.
    pub const fn as_str(self) -> &'static str {
        match self {
            RevokeReason::Replaced => "replaced",
            RevokeReason::PasswordChanged => "password_changed",
            RevokeReason::EmailChanged => "email_changed",
            RevokeReason::AccountDisabled => "account_disabled",
            RevokeReason::AccountTrashed => "account_trashed",
            RevokeReason::SignedIn => "signed_in",
        }
    }

    /// Parses [`RevokeReason::as_str`]'s output.
    pub fn from_name(name: &str) -> Option<RevokeReason> {
        [
            RevokeReason::Replaced,
            RevokeReason::PasswordChanged,
            RevokeReason::EmailChanged,
            RevokeReason::AccountDisabled,
            RevokeReason::AccountTrashed,
            RevokeReason::SignedIn,
        ]
        .into_iter()
        .find(|r| r.as_str() == name)
    }
}

/// A stored token. The verifier appears only as its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// Lookup key; unique.
    pub selector: TokenSelector,
    /// SHA-256 of the verifier; `None` while the token is only *reserved*: a decision
    /// inserts it without a verifier (the link does not exist yet), and the dispatcher
    /// arms it ([`arm`]) in the transaction that precedes sending the mail. A reserved
    /// token is never valid and can never be consumed, but every revocation rule
    /// (replacement, email change, disable, trash, password change, expiry) applies to it.
    pub verifier_hash: Option<VerifierHash>,
    /// The account the link acts on.
    pub account_id: AccountId,
    /// What the link is for.
    pub purpose: TokenPurpose,
    /// The account's credential epoch when the link was issued.
    pub credential_epoch: CredentialEpoch,
    /// When it was issued.
    pub created_at: Timestamp,
    /// Valid while `now <= expires_at`.
    pub expires_at: Timestamp,
    /// When it was used, if it was.
    pub consumed_at: Option<Timestamp>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
    /// Why it was revoked.
    pub revoked_reason: Option<RevokeReason>,
}

impl TokenRecord {
    /// Whether it is unused, unrevoked and not past its deadline at `now`.
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.consumed_at.is_none() && self.revoked_at.is_none() && now <= self.expires_at
    }

    /// Checks the record's own state at `now`, for `purpose` (not the verifier).
    ///
    /// # Errors
    /// [`LinkError`] with the reason.
    pub fn check_state(&self, purpose: TokenPurpose, now: Timestamp) -> Result<(), LinkError> {
        if self.purpose != purpose {
            return Err(LinkError::new(LinkFailure::WrongPurpose));
        }
        if self.consumed_at.is_some() {
            return Err(LinkError::new(LinkFailure::Used));
        }
        if let Some(reason) = self.revoked_reason {
            return Err(LinkError::new(LinkFailure::Revoked(reason)));
        }
        if self.revoked_at.is_some() {
            return Err(LinkError::new(LinkFailure::Revoked(RevokeReason::Replaced)));
        }
        if now > self.expires_at {
            return Err(LinkError::new(LinkFailure::Expired));
        }
        Ok(())
    }

    /// Checks that the account is still the one the link was issued for: available, and
    /// in the same credential epoch.
    ///
    /// # Errors
    /// [`LinkError`] with [`LinkFailure::AccountUnavailable`] or [`LinkFailure::Revoked`].
    pub fn check_account(&self, account: &AccountRecord) -> Result<(), LinkError> {
        if account.id != self.account_id || !account.is_available() {
            return Err(LinkError::new(LinkFailure::AccountUnavailable));
        }
        if account.credential_epoch != self.credential_epoch {
            return Err(LinkError::new(LinkFailure::Revoked(RevokeReason::PasswordChanged)));
        }
        Ok(())
    }
}

/// The text of a token, as put in a link. A secret: never printed.
///
/// ```
/// # use admit_core::token::RawToken;
/// let raw = RawToken::from_text("adm_secret".to_owned());
/// assert!(!format!("{raw:?}").contains("secret"));
/// ```
pub struct RawToken(SecretString);

impl RawToken {
    /// Wraps token text (for example from a request).
    pub fn from_text(text: String) -> Self {
        RawToken(SecretString::from(text))
    }

    /// The token text, to put in a link.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for RawToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RawToken([redacted])")
    }
}

/// A freshly issued token: the text to send and the record to store.
#[derive(Debug)]
pub struct IssuedToken {
    /// The text to put in the link; sent once, never stored.
    pub raw: RawToken,
    /// What the store keeps.
    pub record: TokenRecord,
}

/// Issues a token for `account_id` with `purpose`, valid from `now` for `ttl`.
///
/// `rng` must be a cryptographically secure generator (`rand::rng()` in production; a
/// seeded one in tests); see the [module documentation](self#randomness) for why
/// `rand::rng()` is fit and where it is not.
pub fn issue(
    rng: &mut (impl CryptoRng + ?Sized),
    account_id: AccountId,
    purpose: TokenPurpose,
    credential_epoch: CredentialEpoch,
    now: Timestamp,
    ttl: Duration,
) -> IssuedToken {
    let mut bytes = [0u8; SELECTOR_LEN + VERIFIER_LEN];
    rng.fill_bytes(&mut bytes);
    let (selector, verifier) = split(&bytes);
    // Written in place in the allocation the secret keeps (length = capacity, so turning it
    // into a boxed `str` moves nothing).
    let mut text = Vec::with_capacity(TOKEN_TEXT_LEN);
    text.extend_from_slice(TOKEN_PREFIX.as_bytes());
    text.resize(TOKEN_TEXT_LEN, 0);
    encode_body(&bytes, &mut text[TOKEN_PREFIX.len()..]);
    let raw =
        RawToken(SecretString::from(String::from_utf8(text).expect("the prefix and the base64 alphabet are ASCII")));
    let record =
        new_record(selector, Some(VerifierHash::of(&verifier)), account_id, purpose, credential_epoch, now, ttl);
    bytes.fill(0);
    IssuedToken { raw, record }
}

/// A live record issued at `now` for `ttl` (what [`issue`] and [`reserve`] both store).
fn new_record(
    selector: [u8; SELECTOR_LEN],
    verifier_hash: Option<VerifierHash>,
    account_id: AccountId,
    purpose: TokenPurpose,
    credential_epoch: CredentialEpoch,
    now: Timestamp,
    ttl: Duration,
) -> TokenRecord {
    TokenRecord {
        selector: TokenSelector(selector),
        verifier_hash,
        account_id,
        purpose,
        credential_epoch,
        created_at: now,
        expires_at: now + ttl,
        consumed_at: None,
        revoked_at: None,
        revoked_reason: None,
    }
}

/// Reserves a token for `account_id` with `purpose`, valid from `now` for `ttl`, without
/// a verifier: the record a decision stores when it *intends* to mail a link. Nothing in
/// it lets anyone complete the link; [`arm`] creates the verifier when the mail is sent.
///
/// Costs the same 32 bytes from the generator as [`issue`] (the 16 verifier bytes are
/// drawn and dropped), so a decoy reservation does the same work as a real one.
pub fn reserve(
    rng: &mut (impl CryptoRng + ?Sized),
    account_id: AccountId,
    purpose: TokenPurpose,
    credential_epoch: CredentialEpoch,
    now: Timestamp,
    ttl: Duration,
) -> TokenRecord {
    let mut bytes = [0u8; SELECTOR_LEN + VERIFIER_LEN];
    rng.fill_bytes(&mut bytes);
    let (selector, _) = split(&bytes);
    bytes.fill(0);
    new_record(selector, None, account_id, purpose, credential_epoch, now, ttl)
}

/// A verifier minted for a reserved token: the text to mail and the hash to store.
#[derive(Debug)]
pub struct ArmedToken {
    /// The token text (selector and the new verifier), to put in the link; never stored.
    pub raw: RawToken,
    /// What the store keeps ([`TokenRecord::verifier_hash`]).
    pub verifier_hash: VerifierHash,
}

/// Mints a fresh verifier for the reserved token `selector` (the dispatcher does it just
/// before sending). Arming again (a retry after a crash) mints another verifier; once the
/// store keeps the new hash, the text minted before no longer verifies.
pub fn arm(rng: &mut (impl CryptoRng + ?Sized), selector: &TokenSelector) -> ArmedToken {
    let mut bytes = [0u8; SELECTOR_LEN + VERIFIER_LEN];
    bytes[..SELECTOR_LEN].copy_from_slice(&selector.0);
    rng.fill_bytes(&mut bytes[SELECTOR_LEN..]);
    let (_, verifier) = split(&bytes);
    let mut text = Vec::with_capacity(TOKEN_TEXT_LEN);
    text.extend_from_slice(TOKEN_PREFIX.as_bytes());
    text.resize(TOKEN_TEXT_LEN, 0);
    encode_body(&bytes, &mut text[TOKEN_PREFIX.len()..]);
    bytes.fill(0);
    let raw =
        RawToken(SecretString::from(String::from_utf8(text).expect("the prefix and the base64 alphabet are ASCII")));
    ArmedToken { raw, verifier_hash: VerifierHash::of(&verifier) }
}

fn split(bytes: &[u8; SELECTOR_LEN + VERIFIER_LEN]) -> ([u8; SELECTOR_LEN], [u8; VERIFIER_LEN]) {
    let mut selector = [0u8; SELECTOR_LEN];
    let mut verifier = [0u8; VERIFIER_LEN];
    selector.copy_from_slice(&bytes[..SELECTOR_LEN]);
    verifier.copy_from_slice(&bytes[SELECTOR_LEN..]);
    (selector, verifier)
}

/// A well-formed token, ready to be looked up by selector and verified.
pub struct ParsedToken {
    selector: TokenSelector,
    verifier: [u8; VERIFIER_LEN],
}

impl fmt::Debug for ParsedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParsedToken").field("selector", &self.selector).field("verifier", &"[redacted]").finish()
    }
}

impl Drop for ParsedToken {
    fn drop(&mut self) {
        self.verifier.fill(0);
    }
}

/// Parses token text. Anything malformed (length, prefix, alphabet, non-canonical
/// encoding) is refused here, before any store call, with [`LinkFailure::Malformed`].
///
/// # Errors
/// [`LinkError`] (malformed).
pub fn parse(text: &str) -> Result<ParsedToken, LinkError> {
    let malformed = || LinkError::new(LinkFailure::Malformed);
    let (prefix, body) = text.as_bytes().split_at_checked(TOKEN_PREFIX.len()).ok_or_else(malformed)?;
    let body = <&[u8; BODY_LEN]>::try_from(body).map_err(|_| malformed())?;
    if prefix != TOKEN_PREFIX.as_bytes() {
        return Err(malformed());
    }
    let mut raw = [0u8; SELECTOR_LEN + VERIFIER_LEN];
    if !decode_body(body, &mut raw) {
        raw.fill(0);
        return Err(malformed());
    }
    let (selector, verifier) = split(&raw);
    raw.fill(0);
    Ok(ParsedToken { selector: TokenSelector(selector), verifier })
}

impl ParsedToken {
    /// The selector to look the record up by.
    pub fn selector(&self) -> &TokenSelector {
        &self.selector
    }

    /// Verifies the token against its stored record for `purpose` at `now`: the verifier
    /// (constant-time comparison of SHA-256 hashes), then the record's state. Does not
    /// consume anything.
    ///
    /// # Errors
    /// [`LinkError`] with the reason.
    pub fn verify(&self, record: &TokenRecord, purpose: TokenPurpose, now: Timestamp) -> Result<(), LinkError> {
        // A reserved (unarmed) record is compared with an all-zero hash, so it costs the
        // same, and refused whatever the verifier.
        let armed = record.verifier_hash.is_some();
        let stored = record.verifier_hash.unwrap_or(VerifierHash([0; 32]));
        let diff = diff_words(&self.selector.0, &record.selector.0)
            | diff_words(&VerifierHash::of(&self.verifier).0, &stored.0);
        let matches = diff.ct_eq(&0) & subtle::Choice::from(u8::from(armed));
        if !bool::from(matches) {
            return Err(LinkError::new(LinkFailure::WrongVerifier));
        }
        record.check_state(purpose, now)
    }
}

/// Why a link failed, for logs. Callers only ever see [`LinkError`]'s uniform message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkFailure {
    /// Not a token at all (length, prefix, alphabet).
    Malformed,
    /// Well formed, but no record has this selector.
    Unknown,
    /// The selector exists, the verifier does not match.
    WrongVerifier,
    /// A token of the other purpose.
    WrongPurpose,
    /// Past its deadline.
    Expired,
    /// Already used.
    Used,
    /// Revoked, and why.
    Revoked(RevokeReason),
    /// The account is disabled, trashed or gone.
    AccountUnavailable,
    /// Too many failed attempts from this requester.
    RateLimited,
}

impl LinkFailure {
    /// A stable snake-case name for traces and metrics (`revoked_` + the
    /// [`RevokeReason`] name for revocations).
    pub const fn as_str(self) -> &'static str {
        match self {
            LinkFailure::Malformed => "malformed",
            LinkFailure::Unknown => "unknown",
            LinkFailure::WrongVerifier => "wrong_verifier",
            LinkFailure::WrongPurpose => "wrong_purpose",
            LinkFailure::Expired => "expired",
            LinkFailure::Used => "used",
            LinkFailure::Revoked(RevokeReason::Replaced) => "revoked_replaced",
            LinkFailure::Revoked(RevokeReason::PasswordChanged) => "revoked_password_changed",
            LinkFailure::Revoked(RevokeReason::EmailChanged) => "revoked_email_changed",
            LinkFailure::Revoked(RevokeReason::AccountDisabled) => "revoked_account_disabled",
            LinkFailure::Revoked(RevokeReason::AccountTrashed) => "revoked_account_trashed",
            LinkFailure::Revoked(RevokeReason::SignedIn) => "revoked_signed_in",
            LinkFailure::AccountUnavailable => "account_unavailable",
            LinkFailure::RateLimited => "rate_limited",
        }
    }
}

/// The one error a person following a link sees: "invalid or expired link". The real
/// reason is kept for logs ([`LinkError::reason`]).
#[derive(Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid or expired link")]
pub struct LinkError {
    reason: LinkFailure,
}

impl LinkError {
    /// A link error with its real reason.
    pub const fn new(reason: LinkFailure) -> Self {
        LinkError { reason }
    }

    /// The real reason, for logs and audits only.
    pub const fn reason(&self) -> LinkFailure {
        self.reason
    }
}

impl fmt::Debug for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LinkError({:?})", self.reason)
    }
}

#[cfg(test)]
mod tests {
    //! The hand-written codec, hash and comparison against the reference crates.

    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};
    use sha2::{Digest, Sha256};

    use super::*;

    #[test]
    fn verifier_hash_is_sha256() {
        let mut rng = StdRng::seed_from_u64(11);
        let mut verifiers = vec![[0u8; VERIFIER_LEN], [0xff; VERIFIER_LEN]];
        verifiers.extend((0..1000).map(|_| rng.random::<[u8; VERIFIER_LEN]>()));
        for verifier in verifiers {
            let expected: [u8; 32] = Sha256::digest(verifier).into();
            assert_eq!(VerifierHash::of(&verifier).0, expected, "{verifier:?}");
        }
    }

    #[test]
    fn body_codec_matches_the_base64_crate() {
        let mut rng = StdRng::seed_from_u64(12);
        for _ in 0..2000 {
            let bytes = rng.random::<[u8; 32]>();
            let mut body = [0u8; BODY_LEN];
            encode_body(&bytes, &mut body);
            assert_eq!(body.as_slice(), URL_SAFE_NO_PAD.encode(bytes).as_bytes());
            let mut back = [0u8; 32];
            assert!(decode_body(&body, &mut back));
            assert_eq!(back, bytes);
        }
    }

    #[test]
    fn body_decoder_refuses_exactly_what_the_base64_crate_refuses() {
        // Every byte value at every position of a few bodies, the last (non-canonical)
        // position included.
        let mut rng = StdRng::seed_from_u64(13);
        for _ in 0..4 {
            let mut body = [0u8; BODY_LEN];
            encode_body(&rng.random::<[u8; 32]>(), &mut body);
            for at in 0..BODY_LEN {
                for byte in 0..=255u8 {
                    let mut candidate = body;
                    candidate[at] = byte;
                    let mut ours = [0u8; 32];
                    let accepted = decode_body(&candidate, &mut ours);
                    let mut theirs = [0u8; 32];
                    let reference = matches!(URL_SAFE_NO_PAD.decode_slice(candidate, &mut theirs), Ok(32));
                    assert_eq!(accepted, reference, "byte {byte:#04x} at {at}");
                    if accepted {
                        assert_eq!(ours, theirs);
                    }
                }
            }
        }
    }

    #[test]
    fn word_comparison_finds_any_differing_bit() {
        let a = [0x5au8; 32];
        assert_eq!(diff_words(&a, &a), 0);
        for byte in 0..32 {
            for bit in 0..8 {
                let mut b = a;
                b[byte] ^= 1 << bit;
                assert_ne!(diff_words(&a, &b), 0, "bit {bit} of byte {byte}");
            }
        }
    }
}
