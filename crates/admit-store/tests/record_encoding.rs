//! What `docs/implementing-a-store.md` promises about storing records in text columns.

use admit_store::conformance::fixtures::{client_file, program};
use admit_store::{Email, Grant, Role, Scope};

/// Re-parsing the stored form of an address gives the same address and key, so a store
/// may keep `Email::as_str()` and rebuild the `Email` with `Email::parse` when reading.
#[test]
fn email_reparse_is_idempotent() {
    let typed = [
        "  Jeanne.Martin@Exemple.FR\t",
        "jeanne@exemple.fr",
        "Élodie.Durand@Société-Exemple.fr",
        "o'brien+admit@sub.domaine.EXEMPLE.org",
        "ZOË@xn--socit-exemple-dhb.fr",
        "İlker@örnek.com.tr",
        "ß@straße.de",
    ];
    for text in typed {
        let first = Email::parse(text).unwrap_or_else(|e| panic!("{text:?} parses: {e}"));
        let again = Email::parse(first.as_str()).expect("the stored form parses");
        assert_eq!(again, first, "re-parsing {:?} is idempotent", first.as_str());
        assert_eq!(again.key(), first.key(), "the key of {:?} is stable", first.as_str());
        assert_eq!(again.as_str(), first.as_str());
    }
}

/// `Scope::to_key` / `Scope::from_key` and `Role::as_str` / `Role::from_name` are the
/// stored forms of a grant.
#[test]
fn grants_round_trip_through_their_keys() {
    let grants = [
        Grant::platform_administrator(),
        Grant::new(program("prog-1"), Role::Collaborator),
        Grant::new(client_file("dossier-42"), Role::Administrator),
    ];
    for grant in grants {
        let (scope, role) = (grant.scope.to_key(), grant.role.as_str());
        let back = Grant::new(Scope::from_key(&scope).expect("a stored scope parses"), Role::from_name(role).unwrap());
        assert_eq!(back, grant, "{scope} / {role} round-trips");
    }
    assert_eq!(Scope::from_key("program:"), None, "a damaged key is refused, not guessed");
}
