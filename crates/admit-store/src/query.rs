//! Queries: account listing, the mail journal and the audit log, with keyset paging.

use crate::{
    AccountId, AccountKind, AccountStatus, AuditAction, AuditId, MailId, MailKind, MailStatus, Role, Scope, Timestamp,
};

/// Most rows one page may hold; larger limits are lowered to this.
pub const MAX_PAGE_SIZE: u32 = 1_000;
/// Rows per page when the query does not say.
pub const DEFAULT_PAGE_SIZE: u32 = 50;

/// One page of results and the cursor for the next one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T, C> {
    /// The rows, in the query's order.
    pub items: Vec<T>,
    /// Pass as the next query's `after` to continue; `None` on the last page.
    pub next: Option<C>,
}

/// Matches accounts holding at least one grant that satisfies both fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GrantFilter {
    /// The grant's scope must be exactly this one.
    pub scope: Option<Scope>,
    /// The grant's role must be exactly this one.
    pub role: Option<Role>,
}

/// Filters shared by [`AccountQuery`] and status counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountFilter {
    /// Only accounts with a matching grant.
    pub grant: Option<GrantFilter>,
    /// Only this kind.
    pub kind: Option<AccountKind>,
    /// Case-insensitive substring of the full name or the email address (`%` and `_`
    /// match literally).
    pub text: Option<String>,
}

/// A page of accounts, ordered by id (creation order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountQuery {
    /// Which accounts.
    pub filter: AccountFilter,
    /// Only accounts with this status at `now`.
    pub status: Option<AccountStatus>,
    /// The instant statuses are computed at (`InvitationExpired` depends on it).
    pub now: Timestamp,
    /// Only ids strictly greater than this one.
    pub after: Option<AccountId>,
    /// Page size (at most [`MAX_PAGE_SIZE`]).
    pub limit: u32,
}

impl AccountQuery {
    /// Every account, first page, statuses at `now`.
    pub fn new(now: Timestamp) -> Self {
        AccountQuery { filter: AccountFilter::default(), status: None, now, after: None, limit: DEFAULT_PAGE_SIZE }
    }
}

/// Accounts per status, for the status column's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatusCounts {
    /// Created, not invited.
    pub created: u64,
    /// Invited, link still valid.
    pub invited: u64,
    /// Invited, link expired.
    pub invitation_expired: u64,
    /// Active.
    pub active: u64,
    /// Disabled.
    pub disabled: u64,
    /// In the trash.
    pub trashed: u64,
}

impl StatusCounts {
    /// The count for one status.
    pub fn get(&self, status: AccountStatus) -> u64 {
        match status {
            AccountStatus::Created => self.created,
            AccountStatus::Invited => self.invited,
            AccountStatus::InvitationExpired => self.invitation_expired,
            AccountStatus::Active => self.active,
            AccountStatus::Disabled => self.disabled,
            AccountStatus::Trashed => self.trashed,
        }
    }

    /// Adds one to `status`'s count.
    pub fn add(&mut self, status: AccountStatus) {
        let slot = match status {
            AccountStatus::Created => &mut self.created,
            AccountStatus::Invited => &mut self.invited,
            AccountStatus::InvitationExpired => &mut self.invitation_expired,
            AccountStatus::Active => &mut self.active,
            AccountStatus::Disabled => &mut self.disabled,
            AccountStatus::Trashed => &mut self.trashed,
        };
        *slot += 1;
    }

    /// All accounts counted.
    pub fn total(&self) -> u64 {
        self.created + self.invited + self.invitation_expired + self.active + self.disabled + self.trashed
    }
}

/// A page of the mail journal, newest first (descending id).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailQuery {
    /// Case-insensitive substring of the recipient address.
    pub recipient: Option<String>,
    /// Only mails about this account.
    pub account_id: Option<crate::AccountId>,
    /// Case-insensitive substring of the subject (« mot de passe »).
    pub subject: Option<String>,
    /// Only this template.
    pub kind: Option<MailKind>,
    /// Only this delivery status.
    pub status: Option<MailStatus>,
    /// Enqueued at or after.
    pub since: Option<Timestamp>,
    /// Enqueued strictly before.
    pub until: Option<Timestamp>,
    /// Only ids strictly smaller than this one (the previous page's `next`).
    pub after: Option<MailId>,
    /// Page size (0 means [`DEFAULT_PAGE_SIZE`]; at most [`MAX_PAGE_SIZE`]).
    pub limit: u32,
}

/// A page of the audit log, newest first (descending id).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only entries by this actor.
    pub actor: Option<AccountId>,
    /// Only entries about this account.
    pub target: Option<AccountId>,
    /// Only this action.
    pub action: Option<AuditAction>,
    /// At or after.
    pub since: Option<Timestamp>,
    /// Strictly before.
    pub until: Option<Timestamp>,
    /// Only ids strictly smaller than this one (the previous page's `next`).
    pub after: Option<AuditId>,
    /// Page size (0 means [`DEFAULT_PAGE_SIZE`]; at most [`MAX_PAGE_SIZE`]).
    pub limit: u32,
}

/// The effective page size of a query's `limit`.
pub fn page_size(limit: u32) -> usize {
    (if limit == 0 { DEFAULT_PAGE_SIZE } else { limit.min(MAX_PAGE_SIZE) }) as usize
}

/// Whether `haystack` contains `needle`, ignoring case (the `text`, `recipient` and
/// `subject` filters' rule, for stores that filter in Rust).
pub fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    haystack.to_lowercase().contains(&needle.to_lowercase())
}
