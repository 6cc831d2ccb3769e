//! The account status state machine, against tables written out by hand, and the derivation of
//! the status an administrator sees from a stored record and the clock.

mod support;

use admit_core::{ALL_EVENTS, AccountKind, AccountStatus, Grant, Lifecycle, StatusEvent, Timestamp, TransitionError};
use support::{Availability, T0, account};
use time::Duration;

use AccountStatus::{Active, Created, Disabled, InvitationExpired, Invited, Trashed};
use StatusEvent::{Disable, Enable, InvitationExpires, Invite, Reinvite, Restore, SetPassword, Trash};

/// Every allowed (status, event) pair and where it may lead (a few refused ones too, with no
/// successor); every pair not listed is refused.
const TABLE: [(AccountStatus, StatusEvent, &[AccountStatus]); 22] = [
    (Created, Invite, &[Invited]),
    (Created, SetPassword, &[Active]),
    (Created, Disable, &[Disabled]),
    (Created, Trash, &[Trashed]),
    (Invited, Reinvite, &[Invited]),
    (Invited, InvitationExpires, &[InvitationExpired]),
    (Invited, SetPassword, &[Active]),
    (Invited, Disable, &[Disabled]),
    (Invited, Trash, &[Trashed]),
    (InvitationExpired, Reinvite, &[Invited]),
    (InvitationExpired, SetPassword, &[Active]),
    (InvitationExpired, Disable, &[Disabled]),
    (InvitationExpired, Trash, &[Trashed]),
    (Active, SetPassword, &[Active]),
    (Active, Disable, &[Disabled]),
    (Active, Trash, &[Trashed]),
    // Enabling brings no link back: never-activated accounts return to Created.
    (Disabled, Enable, &[Active, Created]),
    (Disabled, Trash, &[Trashed]),
    // Restoring also keeps an account that was disabled when trashed disabled.
    (Trashed, Restore, &[Active, Created, Disabled]),
    // Listed for clarity: no mail to a disabled or trashed account, and no password lifts them.
    (Disabled, Disable, &[]),
    (Disabled, SetPassword, &[]),
    (Trashed, SetPassword, &[]),
];

fn expected_successors(from: AccountStatus, event: StatusEvent) -> Vec<AccountStatus> {
    let mut rows = TABLE.iter().filter(|(s, e, _)| *s == from && *e == event);
    let row = rows.next();
    assert!(rows.next().is_none(), "the table lists ({from:?}, {event:?}) twice");
    let mut out = row.map(|(_, _, to)| to.to_vec()).unwrap_or_default();
    out.sort();
    out
}

#[test]
fn successors_match_the_table_for_every_status_and_event() {
    let mut allowed = 0;
    let mut cells = 0;
    for from in AccountStatus::ALL {
        for event in ALL_EVENTS {
            let mut got = from.successors(event).to_vec();
            got.sort();
            assert_eq!(got, expected_successors(from, event), "successors({from:?}, {event:?})");
            match from.check(event) {
                Ok(()) => {
                    assert!(!got.is_empty());
                    allowed += 1;
                }
                Err(error) => {
                    assert!(got.is_empty());
                    assert_eq!(error, TransitionError { from, event });
                }
            }
            cells += 1;
        }
    }
    assert_eq!(cells, 6 * 8);
    assert_eq!(allowed, 19);
}

#[test]
fn can_become_matches_single_step_reachability() {
    // REACH[from][to], in AccountStatus::ALL order: Created, Invited, InvitationExpired,
    // Active, Disabled, Trashed.
    const REACH: [[bool; 6]; 6] = [
        // to: Created Invited Expired Active Disabled Trashed
        [false, true, false, true, true, true],  // from Created
        [false, true, true, true, true, true],   // from Invited
        [false, true, false, true, true, true],  // from InvitationExpired
        [false, false, false, true, true, true], // from Active
        [true, false, false, true, false, true], // from Disabled
        [true, false, false, true, true, false], // from Trashed
    ];
    for (i, from) in AccountStatus::ALL.into_iter().enumerate() {
        for (j, to) in AccountStatus::ALL.into_iter().enumerate() {
            assert_eq!(from.can_become(to), REACH[i][j], "can_become({from:?}, {to:?})");
        }
    }
}

#[test]
fn nothing_leads_back_to_invited_without_a_new_invitation() {
    // Only Invite and Reinvite produce a live invitation.
    for from in AccountStatus::ALL {
        for event in ALL_EVENTS {
            if from.successors(event).contains(&Invited) {
                assert!(matches!(event, Invite | Reinvite), "{event:?} from {from:?} leads to Invited");
            }
        }
    }
}

#[test]
fn transition_error_message_is_lower_case() {
    let text = TransitionError { from: Active, event: Invite }.to_string();
    assert_eq!(text, "invite is not allowed from status active");
    for from in AccountStatus::ALL {
        for event in ALL_EVENTS {
            let text = TransitionError { from, event }.to_string();
            assert!(!text.chars().any(char::is_uppercase) && !text.ends_with('.'), "{text}");
        }
    }
    let mut names: Vec<_> = ALL_EVENTS.iter().map(|e| e.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), ALL_EVENTS.len());
}

// --- status(now) ------------------------------------------------------------------------------

fn record(
    lifecycle: Lifecycle,
    deadline: Option<Timestamp>,
    disabled: bool,
    trashed: bool,
) -> admit_core::AccountRecord {
    let mut account = account(1, AccountKind::Member, vec![Grant::platform_administrator()], Availability::Active);
    account.lifecycle = lifecycle;
    account.invitation_expires_at = deadline;
    account.disabled_at = disabled.then_some(T0);
    account.trashed_at = trashed.then_some(T0);
    account
}

#[test]
fn status_is_trashed_then_disabled_then_lifecycle() {
    let deadline = T0 + Duration::days(7);
    let before = deadline - Duration::microseconds(1);
    let after = deadline + Duration::microseconds(1);
    let lifecycles = [Lifecycle::Created, Lifecycle::Invited, Lifecycle::Active];
    let mut cells = 0;
    for lifecycle in lifecycles {
        for deadline in [None, Some(deadline)] {
            for disabled in [false, true] {
                for trashed in [false, true] {
                    for now in [before, after] {
                        let expected = match (trashed, disabled, lifecycle, deadline) {
                            (true, _, _, _) => Trashed,
                            (false, true, _, _) => Disabled,
                            (false, false, Lifecycle::Created, _) => Created,
                            (false, false, Lifecycle::Active, _) => Active,
                            // An invitation without a deadline cannot be valid.
                            (false, false, Lifecycle::Invited, None) => InvitationExpired,
                            (false, false, Lifecycle::Invited, Some(_)) if now == before => Invited,
                            (false, false, Lifecycle::Invited, Some(_)) => InvitationExpired,
                        };
                        let account = record(lifecycle, deadline, disabled, trashed);
                        assert_eq!(
                            account.status(now),
                            expected,
                            "{lifecycle:?} deadline={deadline:?} disabled={disabled} trashed={trashed} now={now}"
                        );
                        assert_eq!(account.is_available(), !disabled && !trashed);
                        cells += 1;
                    }
                }
            }
        }
    }
    assert_eq!(cells, 3 * 2 * 2 * 2 * 2);
}

#[test]
fn invitation_is_valid_up_to_and_including_its_deadline() {
    let deadline = T0 + Duration::days(7);
    let invited = record(Lifecycle::Invited, Some(deadline), false, false);
    assert_eq!(invited.status(T0), Invited);
    assert_eq!(invited.status(deadline - Duration::microseconds(1)), Invited);
    assert_eq!(invited.status(deadline), Invited, "still invited at exactly the deadline");
    assert_eq!(invited.status(deadline + Duration::microseconds(1)), InvitationExpired, "expired strictly after");
    assert_eq!(invited.status(deadline + Duration::days(365)), InvitationExpired);
    // The clock's expiry is the InvitationExpires event of the machine.
    assert!(invited.status(deadline).can_become(invited.status(deadline + Duration::microseconds(1))));
    assert_eq!(Invited.successors(InvitationExpires), &[InvitationExpired]);
}

#[test]
fn a_stale_deadline_does_not_matter_outside_the_invited_lifecycle() {
    let past = T0 - Duration::days(1);
    assert_eq!(record(Lifecycle::Created, Some(past), false, false).status(T0), Created);
    assert_eq!(record(Lifecycle::Active, Some(past), false, false).status(T0), Active);
}

#[test]
fn status_names_are_stable_and_unique() {
    let names: Vec<_> = AccountStatus::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(names, ["created", "invited", "invitation_expired", "active", "disabled", "trashed"]);
}
