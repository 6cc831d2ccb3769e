//! Properties of the password policy, the hasher and temporary passwords.

use admit_core::password::{
    TEMPORARY_PASSWORD_ALPHABET, TEMPORARY_PASSWORD_GROUP, TEMPORARY_PASSWORD_LEN, TEMPORARY_PASSWORD_RANDOM_CHARS,
    normalize,
};
use admit_core::{
    Argon2Params, Email, FullName, MAX_PASSWORD_BYTES, PasswordContext, PasswordError, PasswordHasher, PasswordPolicy,
    generate_temporary_password,
};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use secrecy::{ExposeSecret, SecretString};

fn fast() -> PasswordHasher {
    PasswordHasher::new(Argon2Params::dangerous_fast_for_tests())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn accepted_passwords_hash_and_verify_and_others_do_not(
        password in "\\PC{12,60}",
        other in "\\PC{0,60}",
        seed in any::<u64>(),
    ) {
        let policy = PasswordPolicy::default();
        let secret = SecretString::from(password.as_str());
        prop_assume!(policy.check(&secret, &secret, &PasswordContext::new()).is_ok());
        let hasher = fast();
        let hash = hasher.hash(&secret, &mut StdRng::seed_from_u64(seed)).unwrap();
        prop_assert_eq!(hasher.verify(&secret, &hash), Ok(true));
        prop_assert!(!hasher.needs_rehash(&hash));
        let debug = format!("{hash:?}");
        prop_assert!(!debug.contains(&password));
        if other != password {
            prop_assert_eq!(hasher.verify(&SecretString::from(other), &hash), Ok(false));
        }
        // One character appended, removed or case-flipped: never accepted.
        let appended = SecretString::from(format!("{password} "));
        prop_assert_eq!(hasher.verify(&appended, &hash), Ok(false));
        let mut shorter = password.clone();
        shorter.pop();
        prop_assert_eq!(hasher.verify(&SecretString::from(shorter), &hash), Ok(false));
        let flipped: String = password.chars().map(|c| if c.is_ascii_lowercase() { c.to_ascii_uppercase() } else { c }).collect();
        if flipped != password {
            prop_assert_eq!(hasher.verify(&SecretString::from(flipped), &hash), Ok(false));
        }
    }

    #[test]
    fn what_the_policy_accepts_meets_every_rule(password in any::<String>(), min in 8usize..40, max in 64usize..300) {
        let policy = PasswordPolicy::default().min_length(min).max_length(max);
        let secret = SecretString::from(password.as_str());
        match policy.check(&secret, &secret, &PasswordContext::new()) {
            Ok(()) => {
                // Every rule holds for the NFKC form, which is what is counted and hashed.
                let normalized = normalize(&secret);
                let normalized = normalized.expose_secret();
                let chars = normalized.chars().count();
                prop_assert!(password.len() <= MAX_PASSWORD_BYTES && normalized.len() <= MAX_PASSWORD_BYTES);
                prop_assert!((min..=max).contains(&chars));
                prop_assert!(!normalized.chars().any(char::is_control));
                prop_assert!(!policy.is_common(normalized));
            }
            Err(error) => {
                prop_assert!(error.is_policy_refusal());
                prop_assert_ne!(error, PasswordError::Mismatch);
                let text = format!("{error} {error:?}");
                prop_assert!(password.len() < 4 || !text.contains(&password));
            }
        }
    }

    #[test]
    fn different_confirmation_is_a_mismatch(new in "\\PC{0,80}", confirmation in "\\PC{0,80}") {
        prop_assume!(new != confirmation);
        let policy = PasswordPolicy::default();
        let expected = if new.is_empty() { PasswordError::Required } else { PasswordError::Mismatch };
        let result = policy.check(&SecretString::from(new), &SecretString::from(confirmation), &PasswordContext::new());
        prop_assert_eq!(result, Err(expected));
    }

    #[test]
    fn oversized_passwords_are_refused_by_bytes_first(extra in 1usize..4096, fill in any::<char>()) {
        let policy = PasswordPolicy::default();
        let mut password = "é".repeat(MAX_PASSWORD_BYTES / 2);
        while password.len() < MAX_PASSWORD_BYTES + extra {
            password.push(fill);
        }
        let secret = SecretString::from(password);
        let expected = Err(PasswordError::TooManyBytes { max_bytes: MAX_PASSWORD_BYTES });
        prop_assert_eq!(policy.check(&secret, &SecretString::from("x"), &PasswordContext::new()), expected);
        prop_assert_eq!(fast().hash(&secret, &mut StdRng::seed_from_u64(1)).map(|_| ()), expected);
    }

    #[test]
    fn blocklist_is_case_insensitive(mask in any::<u64>(), index in 0usize..6) {
        let common = ["motdepasse123", "azertyuiop123", "password1234", "iloveyou2024", "1qaz2wsx3edc", "bienvenue123!"];
        let mixed: String = common[index]
            .chars()
            .enumerate()
            .map(|(i, c)| if mask >> (i % 64) & 1 == 1 { c.to_ascii_uppercase() } else { c })
            .collect();
        // At the default minimum (15) these are refused for their length first.
        let policy = PasswordPolicy::default().min_length(12);
        let secret = SecretString::from(mixed.as_str());
        prop_assert_eq!(policy.check(&secret, &secret, &PasswordContext::new()), Err(PasswordError::Common), "{}", mixed);
    }

    #[test]
    fn personal_words_are_refused_whatever_surrounds_them(
        first in "[A-Z][a-z]{3,10}",
        last in "[A-Z][a-z]{3,10}",
        before in "[0-9 !?]{0,8}",
        after in "[0-9 !?]{11,15}", // word (>= 4) + after (>= 11) reaches the minimum length
        upper in any::<bool>(),
    ) {
        let name = FullName::parse(&format!("{first} {last}")).unwrap();
        let email = Email::parse(&format!("{}.{}@exemple.fr", first.to_lowercase(), last.to_lowercase())).unwrap();
        let word = if upper { last.to_uppercase() } else { last.clone() };
        let password = SecretString::from(format!("{before}{word}{after}"));
        let policy = PasswordPolicy::default();
        for context in [PasswordContext::new().full_name(&name), PasswordContext::new().email(&email)] {
            prop_assert_eq!(policy.check(&password, &password, &context), Err(PasswordError::ContainsPersonalInfo));
        }
    }

    #[test]
    fn temporary_passwords_pass_the_policy_and_use_the_documented_alphabet(seed in any::<u64>()) {
        let password = generate_temporary_password(&mut StdRng::seed_from_u64(seed));
        let text = password.expose_secret();
        prop_assert_eq!(text.chars().count(), TEMPORARY_PASSWORD_LEN);
        let random: Vec<char> = text.chars().filter(|&c| c != '-').collect();
        prop_assert_eq!(random.len(), TEMPORARY_PASSWORD_RANDOM_CHARS);
        prop_assert!(random.iter().all(|&c| TEMPORARY_PASSWORD_ALPHABET.contains(c)));
        for (i, c) in text.chars().enumerate() {
            let dash_here = (i + 1) % (TEMPORARY_PASSWORD_GROUP + 1) == 0;
            prop_assert_eq!(c == '-', dash_here, "{} at {}", text, i);
        }
        prop_assert_eq!(PasswordPolicy::default().validate(&password, &PasswordContext::new()), Ok(()));
        let debug = format!("{password:?}");
        prop_assert!(!debug.contains(text));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// `problems` lists nothing exactly when `check` accepts, and always includes the reason
    /// `check` gives (the form shows every reason; the facade enforces the first).
    #[test]
    fn problems_agree_with_check(
        password in prop_oneof!["\\PC{0,30}", Just("password1234".to_owned()), Just("jeanne-martin-42".to_owned())],
        confirm_same in any::<bool>(),
        other in "\\PC{0,20}",
    ) {
        let policy = PasswordPolicy::default();
        let email = Email::parse("jeanne.martin@example.org").unwrap();
        let name = FullName::parse("Jeanne Martin").unwrap();
        let context = PasswordContext::new().email(&email).full_name(&name);
        let new = SecretString::from(password.as_str());
        let confirmation = SecretString::from(if confirm_same { password.clone() } else { other });
        let problems = policy.problems(&new, &confirmation, &context);
        match policy.check(&new, &confirmation, &context) {
            Ok(()) => prop_assert!(problems.is_empty()),
            Err(reason) => prop_assert!(problems.contains(&reason), "{reason:?} not in {problems:?}"),
        }
    }
}

#[test]
fn problems_lists_every_reason_at_once() {
    let policy = PasswordPolicy::default();
    let email = Email::parse("jeanne.martin@example.org").unwrap();
    let context = PasswordContext::new().email(&email);
    let problems = policy.problems(&SecretString::from("jeanne"), &SecretString::from("jeanne!"), &context);
    assert_eq!(
        problems,
        vec![PasswordError::Mismatch, PasswordError::TooShort { min: 15 }, PasswordError::ContainsPersonalInfo]
    );
}
