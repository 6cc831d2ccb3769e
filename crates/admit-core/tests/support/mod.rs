//! Shared helpers for admit-core's integration tests: a small universe of scopes and a
//! builder for account records.
#![allow(dead_code)]

use admit_core::{
    AccountId, AccountKind, AccountRecord, ClientFileId, CredentialEpoch, Email, FullName, Grant, Labels, Lifecycle,
    Locale, ProgramId, Role, Scope, Timestamp,
};

/// 2026-01-01T00:00:00Z.
pub const T0: Timestamp = Timestamp::from_unix_micros(1_767_225_600_000_000);

/// The scopes every generated grant lies in: the platform, two programmes, two client files.
pub fn universe() -> [Scope; 5] {
    [
        Scope::Platform,
        Scope::Program(ProgramId::parse("p1").unwrap()),
        Scope::Program(ProgramId::parse("p2").unwrap()),
        Scope::ClientFile(ClientFileId::parse("c1").unwrap()),
        Scope::ClientFile(ClientFileId::parse("c2").unwrap()),
    ]
}

/// Every (scope, role) of the universe: 15 grants, scope-major, weakest role first.
pub fn all_grants() -> Vec<Grant> {
    universe().into_iter().flat_map(|s| Role::ALL.into_iter().map(move |r| Grant::new(s.clone(), r))).collect()
}

/// Whether an account may act (available) and has set a password (active).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    /// Available and active.
    Active,
    /// Never invited, never activated.
    Created,
    /// Invited, not yet activated.
    Invited,
    /// Activated, then disabled.
    Disabled,
    /// Activated, then trashed.
    Trashed,
    /// Activated, disabled, then trashed.
    DisabledAndTrashed,
    /// Invited and disabled before activating.
    DisabledInvited,
}

impl Availability {
    pub const ALL: [Availability; 7] = [
        Availability::Active,
        Availability::Created,
        Availability::Invited,
        Availability::Disabled,
        Availability::Trashed,
        Availability::DisabledAndTrashed,
        Availability::DisabledInvited,
    ];
}

/// An account record with the given kind, grants and availability; `n` makes id and email unique.
// `.into()` on the email keeps this helper compiling whether the field is `Email` or `Option<Email>`.
#[allow(clippy::useless_conversion)]
pub fn account(n: u32, kind: AccountKind, grants: Vec<Grant>, availability: Availability) -> AccountRecord {
    let mut id = [0u8; 16];
    id[12..].copy_from_slice(&n.to_be_bytes());
    let (lifecycle, disabled, trashed) = match availability {
        Availability::Active => (Lifecycle::Active, false, false),
        Availability::Created => (Lifecycle::Created, false, false),
        Availability::Invited => (Lifecycle::Invited, false, false),
        Availability::Disabled => (Lifecycle::Active, true, false),
        Availability::Trashed => (Lifecycle::Active, false, true),
        Availability::DisabledAndTrashed => (Lifecycle::Active, true, true),
        Availability::DisabledInvited => (Lifecycle::Invited, true, false),
    };
    let invited = lifecycle != Lifecycle::Created;
    let active = lifecycle == Lifecycle::Active;
    AccountRecord {
        id: AccountId::from_bytes(id),
        // `.into()` keeps this helper independent of whether the field is optional.
        email: Email::parse(&format!("person{n}@exemple.fr")).unwrap().into(),
        full_name: FullName::parse(&format!("Person {n}")).unwrap(),
        phone: None,
        locale: Locale::fr(),
        kind,
        grants,
        labels: Labels::new(),
        lifecycle,
        invitation_expires_at: (lifecycle == Lifecycle::Invited).then_some(T0 + time::Duration::days(7)),
        password_hash: None,
        must_change_password: false,
        credential_epoch: CredentialEpoch::default(),
        version: 1,
        created_at: T0,
        updated_at: T0,
        invited_at: invited.then_some(T0),
        last_invitation_sent_at: invited.then_some(T0),
        activated_at: active.then_some(T0),
        last_login_at: None,
        password_changed_at: None,
        disabled_at: disabled.then_some(T0),
        trashed_at: trashed.then_some(T0),
    }
}
