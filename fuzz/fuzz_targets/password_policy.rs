//! `PasswordPolicy::default().check` and `check_all` with an arbitrary new password,
//! confirmation, email and name. Invariants: never panics; an empty password is `Required`;
//! anything over `MAX_PASSWORD_BYTES` is refused with `TooManyBytes`; an accepted password
//! equals its confirmation once both are NFKC-normalised, has 15 to 128 characters, no
//! control character, is not common and contains no personal fragment of four characters or
//! more (all on the normalised form); `check` reports the first reason of `check_all`, and
//! agrees with `validate` when both inputs are equal; refusals are policy refusals with a
//! message in French and English.
#![no_main]

use admit_core::password::normalize;
use admit_core::{Email, FullName, Locale, MAX_PASSWORD_BYTES, PasswordContext, PasswordError, PasswordPolicy};
use admit_fuzz::fields;
use libfuzzer_sys::fuzz_target;
use secrecy::{ExposeSecret, SecretString};

fn personal_fragments(email: Option<&Email>, name: Option<&FullName>) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(email) = email {
        let local = email.local_part().to_lowercase();
        out.extend(local.split(|c: char| !c.is_alphanumeric()).map(str::to_owned));
        out.push(local);
    }
    if let Some(name) = name {
        let name = name.as_str().to_lowercase();
        out.extend(name.split(|c: char| !c.is_alphanumeric()).map(str::to_owned));
        out.push(name.chars().filter(|c| c.is_alphanumeric()).collect());
        out.push(name);
    }
    out.retain(|f| f.chars().count() >= PasswordPolicy::MIN_PERSONAL_FRAGMENT_CHARS);
    out
}

fuzz_target!(|data: &[u8]| {
    let f = fields(data, 4);
    // An empty confirmation field means "same as the new password".
    let (new, confirmation) = (f[0].as_str(), if f[1].is_empty() { f[0].as_str() } else { f[1].as_str() });
    let email = Email::parse(&f[2]).ok();
    let name = FullName::parse(&f[3]).ok();
    let mut context = PasswordContext::new();
    if let Some(email) = &email {
        context = context.email(email);
    }
    if let Some(name) = &name {
        context = context.full_name(name);
    }
    let policy = PasswordPolicy::default();
    let (new_secret, confirmation_secret) = (SecretString::from(new), SecretString::from(confirmation));
    let result = policy.check(&new_secret, &confirmation_secret, &context);
    let all = policy.check_all(&new_secret, &confirmation_secret, &context);
    assert_eq!(result, all.as_ref().map_err(|refusal| refusal.first()).map(|_| ()));
    if new.is_empty() {
        assert_eq!(result, Err(PasswordError::Required));
        return;
    }
    if new.len() > MAX_PASSWORD_BYTES || confirmation.len() > MAX_PASSWORD_BYTES {
        assert_eq!(result, Err(PasswordError::TooManyBytes { max_bytes: MAX_PASSWORD_BYTES }));
        return;
    }
    let normalized = normalize(&new_secret);
    let normalized = normalized.expose_secret();
    if normalized == normalize(&confirmation_secret).expose_secret() {
        assert_eq!(result, policy.validate(&new_secret, &context));
    } else {
        assert_eq!(result, Err(PasswordError::Mismatch));
    }
    match result {
        Ok(()) => {
            let chars = normalized.chars().count();
            assert!((PasswordPolicy::DEFAULT_MIN_LENGTH..=PasswordPolicy::DEFAULT_MAX_LENGTH).contains(&chars));
            assert!(!normalized.chars().any(char::is_control));
            assert!(!policy.is_common(normalized));
            let lowercase = normalized.to_lowercase();
            for fragment in personal_fragments(email.as_ref(), name.as_ref()) {
                assert!(!lowercase.contains(&fragment), "accepted a password containing {fragment:?}");
            }
        }
        Err(error) => {
            assert!(error.is_policy_refusal(), "{error:?}");
            // Every refusal has a message for the person, in both languages.
            assert!(!error.localized(&Locale::fr()).is_empty() && !error.localized(&Locale::en()).is_empty());
            let all = all.expect_err("check refused, so check_all refuses");
            assert!(all.is_policy_refusal() && all.contains(error));
        }
    }
});
