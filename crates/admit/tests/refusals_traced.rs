//! ASVS 16.3.1–16.3.3: every security-relevant refusal leaves a trace on the
//! `admit::security` target and an `Event::Refused` for subscribers, with stable field
//! names, and never a password, a token, a link or an address.

#[path = "support/logs.rs"]
mod logs;
mod support;

use std::sync::Arc;

use admit::store::AuditQuery;
use admit::{AdmitError, AuditAction, Event, Invite, RefusalKind, SignInError};
use logs::logs;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_refusal_is_traced_and_published() {
    let sink = logs();
    let w = World::new(Arc::new(admit::MemoryStore::new())).await;
    let mut events = w.admit.subscribe();
    const PW: &str = "violet harbour at dusk";
    let tess = w.active_member("tess@example.org", "Tess Ua", collaborator_of("p1"), PW).await;
    let colla = w.active_member("colla@example.org", "Col La", collaborator_of("p1"), "quiet copper meadow rain").await;
    let invited = w.member("inv@example.org", "In Vited", collaborator_of("p1"), Invite::Now).await;
    let token = w.last_token_to("inv@example.org").await;

    // sign_in_failed, for a known and an unknown address.
    assert!(matches!(
        w.admit.sign_in("tess@example.org", password("not the password"), "192.0.2.1").await,
        Err(SignInError::InvalidCredentials)
    ));
    assert!(w.admit.sign_in("ghost@example.org", password("whatever it is"), "192.0.2.1").await.is_err());
    // sign_in_rate_limited: ten stranger failures on one address, then refused.
    for _ in 0..10 {
        let _ = w.admit.sign_in("tess@example.org", password("not the password"), "192.0.2.2").await;
    }
    assert!(matches!(
        w.admit.sign_in("tess@example.org", password(PW), "192.0.2.3").await,
        Err(SignInError::RateLimited)
    ));
    // link_refused with its real reason: a used link.
    w.admit.accept_invitation(&token, password(PW), password(PW), REQUESTER).await.unwrap_or_else(|e| panic!("{e:?}"));
    assert!(w.admit.inspect_link(&token, "192.0.2.4").await.is_err());
    // reset_rate_limited: the sixth request in an hour for one address.
    for _ in 0..6 {
        w.admit.request_password_reset("colla@example.org", "192.0.2.5").await.unwrap();
    }
    // current_password_refused.
    let r = w.admit.change_own_password(tess, password("wrong current one"), password("x"), password("x")).await;
    assert!(matches!(r, Err(AdmitError::Password(_))), "{r:?}");
    // call_refused: a collaborator tries to send a reset.
    assert!(matches!(w.admit.send_password_reset(colla, tess).await, Err(AdmitError::Forbidden(_))));
    // resend_rate_limited: two re-invitations within a minute.
    let late = w.member("late@example.org", "La Te", collaborator_of("p1"), Invite::Now).await;
    w.admit.reinvite(w.admin, late).await.unwrap();
    assert!(matches!(w.admit.reinvite(w.admin, late).await, Err(AdmitError::RateLimited { .. })));

    let mut seen = Vec::new();
    while let Ok(event) = events.try_recv() {
        if let Event::Refused(refusal) = event {
            seen.push(refusal);
        }
    }
    let find = |kind: RefusalKind, reason: &str| {
        seen.iter()
            .find(|r| r.kind == kind && r.reason == reason)
            .unwrap_or_else(|| panic!("{kind:?} {reason}: {seen:#?}"))
    };
    assert_eq!(find(RefusalKind::SignInFailed, "wrong_password").account, Some(tess));
    assert_eq!(find(RefusalKind::SignInFailed, "unknown_address").account, None);
    assert_eq!(find(RefusalKind::SignInRateLimited, "address_rate_limited").account, Some(tess));
    assert_eq!(find(RefusalKind::LinkRefused, "used").account, Some(invited));
    find(RefusalKind::ResetRateLimited, "address_rate_limited");
    assert_eq!(find(RefusalKind::CurrentPasswordRefused, "wrong_current_password").actor, Some(tess));
    let call = find(RefusalKind::CallRefused, "not_an_administrator");
    assert_eq!((call.actor, call.account, call.call), (Some(colla), Some(tess), Some("send_password_reset")));
    assert_eq!(find(RefusalKind::ResendRateLimited, "resend_per_account").account, Some(late));

    // The refused call is in the audit log, committed on its own.
    let query = AuditQuery { action: Some(AuditAction::CallRefused), ..AuditQuery::default() };
    let audit = w.store.audit(&query).await.unwrap().items;
    assert_eq!(audit.len(), 1);
    assert_eq!((audit[0].actor, audit[0].target), (Some(colla), Some(tess)));
    assert_eq!(audit[0].detail, "call=send_password_reset reason=not_an_administrator");

    // One trace line per refusal, stable target and fields, nothing secret.
    let captured = sink.text();
    let security: Vec<&str> = captured.lines().filter(|l| l.contains(" admit::security: ")).collect();
    for (event, reason) in [
        ("sign_in_failed", "wrong_password"),
        ("sign_in_failed", "unknown_address"),
        ("sign_in_rate_limited", "address_rate_limited"),
        ("link_refused", "used"),
        ("reset_rate_limited", "address_rate_limited"),
        ("current_password_refused", "wrong_current_password"),
        ("call_refused", "not_an_administrator"),
        ("resend_rate_limited", "resend_per_account"),
    ] {
        let needle = format!("event=\"{event}\" reason=\"{reason}\"");
        assert!(security.iter().any(|l| l.contains(&needle)), "no trace {needle} in {security:#?}");
    }
    for line in &security {
        for forbidden in [token.as_str(), PW, "not the password", "@example.org", "192.0.2."] {
            assert!(!line.contains(forbidden), "{forbidden:?} in {line}");
        }
        for field in ["event=", "reason=", "call=", "account=", "actor=", "requester="] {
            assert!(line.contains(field), "{field} missing in {line}");
        }
    }
}
