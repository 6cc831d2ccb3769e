//! A description of everything a store holds that does not depend on random ids or
//! secrets, so two runs of the same workflow from the same state can be compared.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;

use admit::store::{AccountQuery, AuditQuery, MailQuery, Store};
use admit_core::{AccountId, Timestamp};

/// Accounts (by address or name), their tokens, the journal and the audit log, with ids
/// replaced by the accounts' addresses.
pub async fn shape(store: &Arc<dyn Store>, now: Timestamp) -> String {
    let mut query = AccountQuery::new(now);
    query.limit = 1000;
    let accounts = store.list_accounts(&query).await.unwrap().items;
    let name = |id: Option<AccountId>, names: &HashMap<AccountId, String>| match id {
        Some(id) => names.get(&id).cloned().unwrap_or_else(|| "<gone>".into()),
        None => "-".into(),
    };
    let names: HashMap<AccountId, String> = accounts
        .iter()
        .map(|a| (a.id, a.email.as_ref().map_or_else(|| a.full_name.as_str().to_owned(), |e| e.as_str().to_owned())))
        .collect();
    let mut lines = Vec::new();
    for a in &accounts {
        let mut tokens: Vec<String> = store
            .tokens_of(a.id)
            .await
            .unwrap()
            .iter()
            .map(|t| {
                format!(
                    "{:?} epoch={} exp={} used={:?} revoked={:?}/{:?}",
                    t.purpose, t.credential_epoch.0, t.expires_at, t.consumed_at, t.revoked_at, t.revoked_reason
                )
            })
            .collect();
        tokens.sort();
        lines.push(format!(
            "account {} status={:?} lifecycle={:?} must_change={} epoch={} hash={} v={} grants={:?} \
             invited={:?} expires={:?} login={:?} tokens={tokens:?}",
            names[&a.id],
            a.status(now),
            a.lifecycle,
            a.must_change_password,
            a.credential_epoch.0,
            a.password_hash.is_some(),
            a.version,
            a.grants,
            a.invited_at,
            a.invitation_expires_at,
            a.last_login_at,
        ));
    }
    let journal = store.journal(&MailQuery { limit: 1000, ..MailQuery::default() }).await.unwrap().items;
    let mut mails: Vec<String> = journal
        .iter()
        .map(|m| {
            format!(
                "mail {} {:?} to={} {:?} {}",
                name(m.account_id, &names),
                m.kind,
                m.to.as_str(),
                m.status,
                m.subject
            )
        })
        .collect();
    mails.sort();
    let audit = store.audit(&AuditQuery { limit: 1000, ..AuditQuery::default() }).await.unwrap().items;
    let mut entries: Vec<String> = audit
        .iter()
        .map(|e| format!("audit {:?} by={} on={} at={}", e.action, name(e.actor, &names), name(e.target, &names), e.at))
        .collect();
    entries.sort();
    lines.extend(mails);
    lines.extend(entries);
    lines.join("\n")
}
