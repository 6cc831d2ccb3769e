//! Issue 16, "attacks on people": password normalisation wherever a password enters, on
//! `MemoryStore` and `SqliteStore`.

mod support;

use admit::Invite;
use support::*;

/// "é" composed (U+00E9) and decomposed ("e" + U+0301).
const COMPOSED: &str = "le caf\u{e9} de la gare du nord";
const DECOMPOSED: &str = "le cafe\u{301} de la gare du nord";
const OTHER_COMPOSED: &str = "un th\u{e9} au jardin des plantes";
const OTHER_DECOMPOSED: &str = "un the\u{301} au jardin des plantes";

on_every_store! {
    // NIST SP 800-63B 5.1.1.2: accept (composed) → sign in (decomposed) and back.
    async fn a_composed_password_signs_in_with_its_decomposed_form(w: World) {
        let id = w.member("ana@example.org", "Ana Lima", collaborator_of("p1"), Invite::Now).await;
        let token = w.last_token_to("ana@example.org").await;
        w.admit.accept_invitation(&token, password(COMPOSED), password(DECOMPOSED), REQUESTER).await.unwrap();
        let signed = w.admit.verify_password("ana@example.org", password(DECOMPOSED)).await.unwrap();
        assert_eq!(signed.account_id, id);
        w.admit.verify_password("ana@example.org", password(COMPOSED)).await.unwrap();

        // change_own_password: the current password in the other form is accepted.
        w.admit.change_own_password(id, password(DECOMPOSED), password(OTHER_DECOMPOSED), password(OTHER_COMPOSED))
            .await
            .unwrap();
        w.admit.verify_password("ana@example.org", password(OTHER_COMPOSED)).await.unwrap();
        assert!(w.admit.verify_password("ana@example.org", password(COMPOSED)).await.is_err());

        // Administrator set-password and reset completion normalise too.
        w.admit.set_password(w.admin, id, password(DECOMPOSED), password(COMPOSED), false).await.unwrap();
        w.admit.verify_password("ana@example.org", password(COMPOSED)).await.unwrap();
        w.admit.send_password_reset(w.admin, id).await.unwrap();
        let token = w.last_token_to("ana@example.org").await;
        w.admit.complete_password_reset(&token, password(OTHER_COMPOSED), password(OTHER_DECOMPOSED), REQUESTER)
            .await
            .unwrap();
        w.admit.verify_password("ana@example.org", password(OTHER_DECOMPOSED)).await.unwrap();
    }
}
