//! Typed identifiers.
//!
//! admit's own ids ([`AccountId`], [`MailId`], [`AuditId`]) are UUIDv7: time-ordered, so
//! keyset pagination by id is pagination by creation time. The host's ids
//! ([`ProgramId`], [`ClientFileId`]) are short opaque strings the host chooses.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use rand_core::CryptoRng;

use crate::Timestamp;

/// The last (milliseconds << 12 | sequence) handed out, so ids made by this process are
/// strictly increasing even within one millisecond (RFC 9562 §6.2, method 1: a 12-bit
/// counter in `rand_a`), and keyset paging by id follows creation order.
static LAST_STAMP: AtomicU64 = AtomicU64::new(0);

fn next_stamp(millis: u64) -> u64 {
    let candidate = (millis & ((1 << 48) - 1)) << 12;
    let mut last = LAST_STAMP.load(Ordering::Relaxed);
    loop {
        let next = candidate.max(last + 1);
        match LAST_STAMP.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(seen) => last = seen,
        }
    }
}

fn uuid_v7(now: Timestamp, rng: &mut (impl CryptoRng + ?Sized)) -> uuid::Uuid {
    let mut random = [0u8; 8];
    rng.fill_bytes(&mut random);
    let millis = u64::try_from(now.as_unix_micros().div_euclid(1_000)).unwrap_or(0);
    let stamp = next_stamp(millis);
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&(stamp >> 12).to_be_bytes()[2..]);
    bytes[6] = 0x70 | ((stamp >> 8) & 0x0F) as u8;
    bytes[7] = (stamp & 0xFF) as u8;
    bytes[8] = 0x80 | (random[0] & 0x3F);
    bytes[9..].copy_from_slice(&random[1..]);
    uuid::Uuid::from_bytes(bytes)
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(uuid::Uuid);

        impl $name {
            /// A fresh UUIDv7 id for an object created at `now`.
            pub fn generate(now: Timestamp, rng: &mut (impl CryptoRng + ?Sized)) -> Self {
                $name(uuid_v7(now, rng))
            }

            /// Rebuilds an id from its 16 bytes (as stores persist it).
            pub const fn from_bytes(bytes: [u8; 16]) -> Self {
                $name(uuid::Uuid::from_bytes(bytes))
            }

            /// The id's 16 bytes.
            pub const fn to_bytes(self) -> [u8; 16] {
                *self.0.as_bytes()
            }

            /// Parses the hyphenated text form.
            ///
            /// # Errors
            /// [`IdError`] if `text` is not a UUID.
            pub fn parse(text: &str) -> Result<Self, IdError> {
                uuid::Uuid::try_parse(text).map($name).map_err(|_| IdError { kind: stringify!($name) })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0.hyphenated())
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(text: &str) -> Result<Self, IdError> {
                $name::parse(text)
            }
        }
    };
}

uuid_id!(
    /// Identifies an account.
    AccountId
);
uuid_id!(
    /// Identifies an outbox mail; also the stable part of its Message-ID.
    MailId
);
uuid_id!(
    /// Identifies an audit entry.
    AuditId
);

/// A malformed identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed {kind}")]
pub struct IdError {
    kind: &'static str,
}

/// Longest host id accepted, in bytes.
pub const MAX_HOST_ID_LEN: usize = 64;

macro_rules! host_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// One to 64 characters among ASCII letters, digits, `-`, `_`, `.` and `:`.
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses a host id.
            ///
            /// # Errors
            /// [`IdError`] if `text` is empty, longer than 64 bytes, or has another character.
            pub fn parse(text: &str) -> Result<Self, IdError> {
                let ok = !text.is_empty()
                    && text.len() <= MAX_HOST_ID_LEN
                    && text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
                if ok { Ok($name(text.to_owned())) } else { Err(IdError { kind: stringify!($name) }) }
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(text: String) -> Result<Self, IdError> {
                $name::parse(&text)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }
    };
}

host_id!(
    /// The host's identifier of a programme (a grant scope).
    ProgramId
);
host_id!(
    /// The host's identifier of a client file (a grant scope).
    ClientFileId
);

#[cfg(test)]
mod tests {
    use super::*;

    struct Counter(u8);
    impl rand_core::TryRng for Counter {
        type Error = std::convert::Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            Ok(u32::from(self.0))
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            Ok(u64::from(self.0))
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
            for b in dst {
                self.0 = self.0.wrapping_add(1);
                *b = self.0;
            }
            Ok(())
        }
    }
    impl rand_core::TryCryptoRng for Counter {}

    #[test]
    fn v7_ids_sort_by_creation_time() {
        let mut rng = Counter(0);
        let a = AccountId::generate(Timestamp::from_unix_micros(1_000_000), &mut rng);
        let b = AccountId::generate(Timestamp::from_unix_micros(2_000_000), &mut rng);
        assert!(a < b);
        assert_eq!(AccountId::parse(&a.to_string()).unwrap(), a);
        assert_eq!(a.0.get_version_num(), 7);
        // Within one millisecond, ids still increase in creation order.
        let same: Vec<AuditId> =
            (0..5000).map(|_| AuditId::generate(Timestamp::from_unix_micros(3_000_000), &mut rng)).collect();
        assert!(same.windows(2).all(|w| w[0] < w[1]), "strictly increasing");
        assert!(same.iter().all(|id| id.0.get_version_num() == 7 && id.0.get_variant() == uuid::Variant::RFC4122));
        assert_eq!(AccountId::from_bytes(a.to_bytes()), a);
    }

    #[test]
    fn host_ids_are_validated() {
        assert!(ProgramId::parse("prog-2026:a_b.c").is_ok());
        assert!(ProgramId::parse("").is_err());
        assert!(ProgramId::parse("a b").is_err());
        assert!(ClientFileId::parse(&"x".repeat(65)).is_err());
    }
}
