//! Known-answer tests for [`PasswordHasher`]: fixed salt (from a fixed-bytes generator),
//! fixed parameters, exact PHC strings.
//!
//! The expected strings were computed once with the reference C implementation (libargon2
//! through the `argon2-cffi` Python package, `argon2.low_level.hash_secret(..., type=Type.ID)`),
//! not with the code under test; each test also checks them against the argon2 crate directly.

use std::convert::Infallible;

use admit_core::{Argon2Params, PasswordError, PasswordHash, PasswordHasher};
use argon2::password_hash::phc;
use argon2::{Algorithm, Argon2, Params, PasswordVerifier, Version};
use rand_core::{TryCryptoRng, TryRng};
use secrecy::SecretString;

/// A "generator" that returns a fixed byte sequence, over and over.
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
            *byte = self.bytes[self.at % self.bytes.len()];
            self.at += 1;
        }
        Ok(())
    }
}

// Not secure, obviously: it exists to pin the salt in known-answer tests.
impl TryCryptoRng for FixedBytes {}

const SALT_0_TO_15: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

/// (password, salt, expected PHC string at m=8, t=1, p=1), from libargon2.
fn vectors() -> Vec<(String, [u8; 16], &'static str)> {
    vec![
        (
            "correct cheval agrafe pile".to_owned(),
            SALT_0_TO_15,
            "$argon2id$v=19$m=8,t=1,p=1$AAECAwQFBgcICQoLDA0ODw$UJM83vwQhcfkXEPS1UeGyKa6RoEpuuUtb0AoYpe2Fj0",
        ),
        (
            "mot de passe été ✓ 🔑".to_owned(),
            SALT_0_TO_15,
            "$argon2id$v=19$m=8,t=1,p=1$AAECAwQFBgcICQoLDA0ODw$CLDUDA+cJeFzzWCcDAQ3c6boybtGfZ/CqgL8fgzgxe4",
        ),
        (
            "a".repeat(1024),
            SALT_0_TO_15,
            "$argon2id$v=19$m=8,t=1,p=1$AAECAwQFBgcICQoLDA0ODw$qOgUUm4rKynoHMEW08tcgfhYUP9asRXhWbINXhc0PHg",
        ),
        (
            "correct cheval agrafe pile".to_owned(),
            [0xa5; 16],
            "$argon2id$v=19$m=8,t=1,p=1$paWlpaWlpaWlpaWlpaWlpQ$gQVWxqlOzVBzAIbhSKcW8LzgOzjKFRvFjpHKdKpReH0",
        ),
    ]
}

fn fast() -> PasswordHasher {
    PasswordHasher::new(Argon2Params::dangerous_fast_for_tests())
}

#[test]
fn hash_with_fixed_salt_gives_the_reference_phc_string() {
    let hasher = fast();
    for (password, salt, expected) in vectors() {
        let hash = hasher.hash(&SecretString::from(password.as_str()), &mut FixedBytes::new(&salt)).unwrap();
        assert_eq!(hash.as_phc(), expected, "password {:?}", &password[..password.len().min(20)]);
    }
}

#[test]
fn reference_strings_agree_with_the_argon2_crate_directly() {
    let params = Params::new(8, 1, 1, Some(32)).unwrap();
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    for (password, salt, expected) in vectors() {
        // Raw output, compared with the output field of the reference string.
        let mut out = [0u8; 32];
        argon2.hash_password_into(password.as_bytes(), &salt, &mut out).unwrap();
        let parsed = phc::PasswordHash::new(expected).unwrap();
        assert_eq!(parsed.hash.unwrap().as_bytes(), out.as_slice());
        assert_eq!(parsed.salt.unwrap().as_ref(), salt.as_slice());
        // And the crate's own verifier accepts the password, refuses another.
        assert!(Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok());
        assert!(Argon2::default().verify_password(b"another password", &parsed).is_err());
    }
}

#[test]
fn hasher_verifies_the_reference_strings() {
    let hasher = fast();
    for (password, _, expected) in vectors() {
        let hash = PasswordHash::from_phc(expected.to_owned());
        assert_eq!(hasher.verify(&SecretString::from(password.as_str()), &hash), Ok(true));
        assert_eq!(hasher.verify(&SecretString::from(format!("{password}x")), &hash), Ok(false));
        assert!(!hasher.needs_rehash(&hash));
    }
}

#[test]
fn hasher_verifies_libargon2_strings_with_other_parameters_and_asks_for_rehash() {
    let hasher = fast();
    let right = SecretString::from("trois chats sur un piano");
    let wrong = SecretString::from("trois chats sur un pianO");
    for phc in [
        "$argon2id$v=19$m=64,t=3,p=2$bGliYXJnb24yLXNhbHQhIQ$e1Fr90Rbx+803rt/b03PebpOAuz3DeI1L1X7YbkYSG0",
        "$argon2i$v=19$m=32,t=2,p=1$bGliYXJnb24yLXNhbHQhIQ$ekGfMazEuXHdmloDrWVNP191kd4izG21kJjXuKEnJYM",
    ] {
        let hash = PasswordHash::from_phc(phc.to_owned());
        assert_eq!(hasher.verify(&right, &hash), Ok(true), "{phc}");
        assert_eq!(hasher.verify(&wrong, &hash), Ok(false), "{phc}");
        assert!(hasher.needs_rehash(&hash), "{phc}");
    }
}

#[test]
fn a_changed_character_in_the_stored_string_never_verifies() {
    let hasher = fast();
    let (password, _, expected) = vectors().remove(0);
    let password = SecretString::from(password);
    let output_start = expected.rfind('$').unwrap() + 1;
    for (i, c) in expected.char_indices().skip(output_start) {
        let replacement = if c == 'A' { 'B' } else { 'A' };
        let tampered = format!("{}{replacement}{}", &expected[..i], &expected[i + 1..]);
        let result = hasher.verify(&password, &PasswordHash::from_phc(tampered.clone()));
        // The last character carries padding bits: changing them makes the string invalid.
        assert!(matches!(result, Ok(false) | Err(PasswordError::InvalidHash)), "{tampered}: {result:?}");
    }
}

#[test]
fn salt_is_the_first_sixteen_bytes_of_the_generator() {
    let hasher = fast();
    let password = SecretString::from("correct cheval agrafe pile");
    let mut rng = FixedBytes::new(&(0u8..=255).collect::<Vec<_>>());
    let first = hasher.hash(&password, &mut rng).unwrap();
    let second = hasher.hash(&password, &mut rng).unwrap();
    assert_eq!(first.as_phc(), vectors()[0].2);
    // The next hash takes the next sixteen bytes: 16..32.
    let salt = phc::PasswordHash::new(second.as_phc()).unwrap().salt.unwrap();
    assert_eq!(salt.as_ref(), (16u8..32).collect::<Vec<_>>().as_slice());
}
