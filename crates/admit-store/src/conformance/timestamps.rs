//! `time_*`: timestamps read back exactly as written.

use std::sync::Arc;

use time::Duration;

use admit_core::{AuditAction, Lifecycle, MailKind, TestClock, Timestamp, TokenPurpose};

use super::fixtures::{Fixtures, append_audit, enqueue_mails, insert_accounts, insert_tokens};
use super::support::{commit_ok, ok, stored_account, stored_mail};
use crate::Store;

/// Microsecond instants, odd, negative (before 1970) and far in the future, read back equal
/// on accounts, tokens, mails and audit entries.
pub async fn time_timestamps_round_trip_exactly(store: Arc<dyn Store>, _clock: TestClock) {
    let instants = [
        Timestamp::from_unix_micros(1_767_225_600_123_457),  // odd microsecond
        Timestamp::from_unix_micros(-1),                     // 1 µs before the epoch
        Timestamp::from_unix_micros(-2_208_988_800_000_001), // 1899-12-31T23:59:59.999999Z
        Timestamp::from_unix_micros(-86_399_999_999),        // 1969-12-31T00:00:00.000001Z
        Timestamp::UNIX_EPOCH,
        Timestamp::from_unix_micros(253_402_300_799_999_999), // 9999-12-31T23:59:59.999999Z
        Timestamp::from_unix_micros(951_782_400_000_001),     // 2000-02-29T00:00:00.000001Z
    ];
    let mut fx = Fixtures::new(401);
    for (i, at) in instants.into_iter().enumerate() {
        let mut account = fx.account(&format!("t{i}@exemple.fr"), at);
        account.lifecycle = Lifecycle::Invited;
        account.invitation_expires_at = Some(at);
        account.invited_at = Some(at - Duration::microseconds(1));
        account.last_login_at = Some(at);
        account.updated_at = at - Duration::microseconds(3);
        let mut token = fx.token(&account, TokenPurpose::Invitation, at, Duration::microseconds(7));
        token.consumed_at = Some(at - Duration::microseconds(5));
        let mut mail = fx.mail(&account, MailKind::Invitation, at);
        mail.next_attempt_at = at + Duration::microseconds(11);
        mail.params.expires_at = Some(at - Duration::microseconds(13));
        mail.params.secret = None;
        let entry = fx.audit(Some(account.id), AuditAction::InvitationSent, Some(account.id), at);
        let mut change = insert_accounts([account.clone()]);
        change.merge(insert_tokens([token.clone()]));
        change.merge(enqueue_mails([mail.clone()]));
        change.merge(append_audit([entry.clone()]));
        commit_ok(&store, change, "records at any microsecond instant are written").await;

        assert_eq!(
            stored_account(&store, account.id, "kept").await,
            account,
            "contract: account timestamps ({at:?}) round-trip"
        );
        assert_eq!(
            ok(store.token(&token.selector).await, "reads"),
            Some(token),
            "contract: token timestamps ({at:?}) round-trip"
        );
        assert_eq!(stored_mail(&store, mail.id, "kept").await, mail, "contract: mail timestamps ({at:?}) round-trip");
        let audit = ok(
            store.audit(&crate::query::AuditQuery { target: Some(account.id), ..Default::default() }).await,
            "reads",
        );
        assert_eq!(audit.items, vec![entry], "contract: audit timestamps ({at:?}) round-trip");
    }
}
