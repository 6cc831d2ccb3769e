//! `decide::complete_link`: accepting an invitation or completing a reset.

mod support_decide;

use admit_core::decide::{self, AccountEvent, Decision, DecisionError};
use admit_core::{
    AccountRecord, AccountStatus, AuditAction, Lifecycle, MailKind, RevokeReason, TokenConsumption, TokenPurpose,
    TokenRecord, TokenRevocation, token,
};
use support_decide::*;
use time::Duration;

/// A live token of `purpose` for `account`, issued an hour ago.
fn token_for(fx: &mut Fx, account: &AccountRecord, purpose: TokenPurpose) -> TokenRecord {
    token::issue(
        &mut fx.rng,
        account.id,
        purpose,
        account.credential_epoch,
        NOW - Duration::minutes(10),
        Duration::hours(2),
    )
    .record
}

fn complete(before: &AccountRecord, purpose: TokenPurpose) -> (Decision, TokenRecord) {
    let mut fx = Fx::new();
    let token = token_for(&mut fx, before, purpose);
    let d = decide::complete_link(&mut fx.ctx(), &token, before, hash(77)).unwrap();
    check_decision(&d, NOW, Some(before));
    (d, token)
}

/// What every successful completion does.
fn check_completion(d: &Decision, token: &TokenRecord, before: &AccountRecord) -> AccountRecord {
    assert_eq!(
        d.change.consume,
        Some(TokenConsumption {
            selector: token.selector,
            account_id: before.id,
            credential_epoch: before.credential_epoch,
            at: NOW,
        }),
        "the link is consumed as a precondition of the whole change"
    );
    let after = the_update(&d.change, before, NOW).clone();
    assert_eq!(d.account.as_ref(), Some(&after));
    assert_eq!(after.lifecycle, Lifecycle::Active);
    assert_eq!(after.status(NOW), AccountStatus::Active);
    assert_eq!(after.credential_epoch, before.credential_epoch.next());
    assert_eq!(after.password_hash, Some(hash(77)));
    assert!(!after.must_change_password);
    assert_eq!(after.password_changed_at, Some(NOW));
    assert_eq!(after.invitation_expires_at, None);
    assert_eq!(after.email, before.email);
    assert_eq!(
        d.change.revocations,
        [TokenRevocation { account_id: before.id, purpose: None, reason: RevokeReason::PasswordChanged, at: NOW }]
    );
    assert!(d.change.tokens.is_empty(), "completing issues no link");
    assert_eq!(d.change.audit.len(), 1);
    let audit = &d.change.audit[0];
    assert_eq!((audit.actor, audit.target), (Some(before.id), Some(before.id)));
    assert!(audit.detail.contains(&token.selector.to_string()), "the audit names the selector (not a secret)");
    assert!(!d.change.require_platform_administrator);
    after
}

#[test]
fn accepting_an_invitation_activates_without_notice() {
    for state in [State::Invited, State::InvitationExpired] {
        let before = collaborator(state);
        let (d, token) = complete(&before, TokenPurpose::Invitation);
        let after = check_completion(&d, &token, &before);
        assert_eq!(after.activated_at, Some(NOW));
        assert_eq!(d.change.audit[0].action, AuditAction::InvitationAccepted);
        assert!(d.change.mails.is_empty(), "accepting an invitation sends no notice");
        assert_eq!(d.events, [AccountEvent::Activated(before.id), AccountEvent::PasswordChanged(before.id)]);
    }
}

#[test]
fn completing_a_reset_on_an_active_account_notifies_and_keeps_the_activation_date() {
    let mut before = collaborator(State::Active);
    before.must_change_password = true;
    let (d, token) = complete(&before, TokenPurpose::PasswordReset);
    let after = check_completion(&d, &token, &before);
    assert_eq!(after.activated_at, Some(EARLIER), "activated_at is set once, never overwritten");
    assert!(!after.must_change_password, "a reset clears the must-change flag");
    assert_eq!(d.change.audit[0].action, AuditAction::PasswordResetCompleted);
    assert_eq!(d.change.mails.len(), 1);
    let mail = &d.change.mails[0];
    assert_eq!(mail.kind, MailKind::PasswordChanged);
    assert_eq!(mail.to.as_str(), before.email.as_ref().unwrap().as_str());
    assert!(mail.params.secret.is_none() && mail.params.expires_at.is_none());
    assert_eq!(d.events, [AccountEvent::PasswordChanged(before.id)]);
}

#[test]
fn a_reset_on_an_invited_account_activates_it() {
    for state in [State::Invited, State::InvitationExpired] {
        let before = collaborator(state);
        let (d, token) = complete(&before, TokenPurpose::PasswordReset);
        let after = check_completion(&d, &token, &before);
        assert_eq!(after.activated_at, Some(NOW));
        assert_eq!(after.invited_at, before.invited_at);
        assert_eq!(d.change.audit[0].action, AuditAction::PasswordResetCompleted);
        assert_eq!(d.change.mails.len(), 1);
        assert_eq!(d.change.mails[0].kind, MailKind::PasswordChanged);
        assert_eq!(d.events, [AccountEvent::Activated(before.id), AccountEvent::PasswordChanged(before.id)]);
    }
}

#[test]
fn disabled_or_trashed_accounts_never_complete() {
    for state in [State::Disabled, State::Trashed, State::DisabledTrashed] {
        for purpose in TokenPurpose::ALL {
            let mut fx = Fx::new();
            let before = collaborator(state);
            let token = token_for(&mut fx, &before, purpose);
            let err = decide::complete_link(&mut fx.ctx(), &token, &before, hash(1)).unwrap_err();
            assert_eq!(err, DecisionError::AccountUnavailable, "{state:?} {purpose:?}");
        }
    }
}

#[test]
fn an_invitation_link_cannot_reset_an_active_account() {
    let mut fx = Fx::new();
    let before = collaborator(State::Active);
    let token = token_for(&mut fx, &before, TokenPurpose::Invitation);
    let err = decide::complete_link(&mut fx.ctx(), &token, &before, hash(1)).unwrap_err();
    assert!(matches!(err, DecisionError::Status(_)), "{err:?}");
}

#[test]
fn a_later_reset_keeps_the_first_activation_date() {
    // Accept an invitation, then reset later: activated_at stays the acceptance instant.
    let invited = collaborator(State::Invited);
    let (accepted, _) = complete(&invited, TokenPurpose::Invitation);
    let active = accepted.account.unwrap();
    let mut fx = Fx::new();
    fx.now = NOW + Duration::days(40);
    let token = token::issue(
        &mut fx.rng,
        active.id,
        TokenPurpose::PasswordReset,
        active.credential_epoch,
        fx.now,
        Duration::hours(1),
    )
    .record;
    let d = decide::complete_link(&mut fx.ctx(), &token, &active, hash(2)).unwrap();
    let after = the_update(&d.change, &active, fx.now);
    assert_eq!(after.activated_at, Some(NOW));
    assert_eq!(after.password_changed_at, Some(NOW + Duration::days(40)));
    assert_eq!(after.credential_epoch, invited.credential_epoch.next().next());
    assert_eq!(after.version, invited.version + 2);
    assert_eq!(d.events, [AccountEvent::PasswordChanged(active.id)]);
}

#[test]
fn completing_with_the_same_password_still_moves_the_epoch() {
    let before = collaborator(State::Active);
    let same = before.password_hash.clone().unwrap();
    let mut fx = Fx::new();
    let token = token_for(&mut fx, &before, TokenPurpose::PasswordReset);
    let d = decide::complete_link(&mut fx.ctx(), &token, &before, same).unwrap();
    assert_eq!(d.account.unwrap().credential_epoch, before.credential_epoch.next());
}
