//! Who may do what, where: [`Role`], [`Scope`], [`Grant`] and [`AccountKind`].

use std::fmt;

use crate::{ClientFileId, ProgramId};

/// A role, ordered by power: `Administrator > Collaborator > Guest`.
///
/// ```
/// use admit_core::Role;
/// assert!(Role::Administrator > Role::Collaborator && Role::Collaborator > Role::Guest);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub enum Role {
    /// Sees and acts on nothing but what is shared with them (« Invité »).
    Guest,
    /// Works in the scope but manages no one (« Collaborateur »).
    Collaborator,
    /// Manages the accounts of the scope (« Administrateur »).
    Administrator,
}

impl Role {
    /// Every role, weakest first.
    pub const ALL: [Role; 3] = [Role::Guest, Role::Collaborator, Role::Administrator];

    /// The stable lower-case name stores persist (`guest`, `collaborator`, `administrator`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Guest => "guest",
            Role::Collaborator => "collaborator",
            Role::Administrator => "administrator",
        }
    }

    /// Parses [`Role::as_str`]'s output.
    pub fn from_name(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a role applies: the whole platform, one programme, or one client file.
///
/// The platform contains every programme and client file; programmes and client files
/// are disjoint and contain nothing but themselves.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub enum Scope {
    /// The whole platform (the administrator space).
    Platform,
    /// One programme.
    Program(ProgramId),
    /// One client file (« dossier client »).
    ClientFile(ClientFileId),
}

impl Scope {
    /// Whether `self` contains `other` (every scope contains itself).
    ///
    /// ```
    /// use admit_core::{ProgramId, Scope};
    /// let p = Scope::Program(ProgramId::parse("p1").unwrap());
    /// assert!(Scope::Platform.contains(&p));
    /// assert!(p.contains(&p) && !p.contains(&Scope::Platform));
    /// ```
    pub fn contains(&self, other: &Scope) -> bool {
        matches!(self, Scope::Platform) || self == other
    }

    /// The stable text form stores persist: `platform`, `program:ID`, `client_file:ID`.
    pub fn to_key(&self) -> String {
        match self {
            Scope::Platform => "platform".to_owned(),
            Scope::Program(id) => format!("program:{id}"),
            Scope::ClientFile(id) => format!("client_file:{id}"),
        }
    }

    /// Parses [`Scope::to_key`]'s output.
    pub fn from_key(key: &str) -> Option<Scope> {
        if key == "platform" {
            return Some(Scope::Platform);
        }
        if let Some(id) = key.strip_prefix("program:") {
            return ProgramId::parse(id).ok().map(Scope::Program);
        }
        if let Some(id) = key.strip_prefix("client_file:") {
            return ClientFileId::parse(id).ok().map(Scope::ClientFile);
        }
        None
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_key())
    }
}

/// A role in a scope. An account holds one or more grants.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct Grant {
    /// Where the role applies.
    pub scope: Scope,
    /// The role held there.
    pub role: Role,
}

impl Grant {
    /// A grant of `role` in `scope`.
    pub fn new(scope: Scope, role: Role) -> Self {
        Grant { scope, role }
    }

    /// A platform administrator grant.
    pub fn platform_administrator() -> Self {
        Grant::new(Scope::Platform, Role::Administrator)
    }
}

/// Whether an account belongs to the team or to the public side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub enum AccountKind {
    /// A team member, collaborator or staff (« Membres d'équipe », « Espace Pro »).
    Member,
    /// A public-portal account: candidate, client, family portal (« Comptes portail public »).
    /// Public accounts are managed from the platform scope only.
    Public,
}

impl AccountKind {
    /// Both kinds.
    pub const ALL: [AccountKind; 2] = [AccountKind::Member, AccountKind::Public];

    /// The stable lower-case name stores persist (`member`, `public`).
    pub const fn as_str(self) -> &'static str {
        match self {
            AccountKind::Member => "member",
            AccountKind::Public => "public",
        }
    }

    /// Parses [`AccountKind::as_str`]'s output.
    pub fn from_name(name: &str) -> Option<AccountKind> {
        AccountKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}
