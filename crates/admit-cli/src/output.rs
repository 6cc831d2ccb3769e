//! Tables for people, JSON documents for scripts.

use admit::AccountView;
use admit::core::MailRecord;
use serde_json::{Value, json};

/// A plain-text table with left-aligned columns.
#[derive(Debug)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column titles.
    pub fn new<const N: usize>(header: [&str; N]) -> Self {
        Table { header: header.iter().map(|h| (*h).to_owned()).collect(), rows: Vec::new() }
    }

    /// Adds a row (control characters are shown as spaces, so a value cannot break the table).
    pub fn row<const N: usize>(&mut self, cells: [String; N]) {
        self.rows.push(
            cells.into_iter().map(|c| c.chars().map(|ch| if ch.is_control() { ' ' } else { ch }).collect()).collect(),
        );
    }

    /// The table as lines of text; "(none)" under the header when empty.
    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let line = |cells: &[String]| {
            let mut out = String::new();
            for (i, cell) in cells.iter().enumerate() {
                if i + 1 == cells.len() {
                    out.push_str(cell);
                } else {
                    out.push_str(cell);
                    out.push_str(&" ".repeat(widths[i] - cell.chars().count() + 2));
                }
            }
            out.trim_end().to_owned() + "\n"
        };
        let mut out = line(&self.header);
        for row in &self.rows {
            out.push_str(&line(row));
        }
        if self.rows.is_empty() {
            out.push_str("(none)\n");
        }
        out
    }
}

fn time(at: Option<admit::core::Timestamp>) -> Value {
    at.map_or(Value::Null, |t| Value::String(t.to_string()))
}

/// An account as JSON: no password hash, no credential epoch.
pub fn account_json(view: &AccountView) -> Value {
    let a = &view.account;
    let grants: Vec<Value> =
        a.grants.iter().map(|g| json!({ "scope": g.scope.to_key(), "role": g.role.as_str() })).collect();
    json!({
        "id": a.id.to_string(),
        "email": a.email.as_ref().map(|e| e.as_str()),
        "full_name": a.full_name.as_str(),
        "kind": a.kind.as_str(),
        "status": view.status.as_str(),
        "grants": grants,
        "locale": a.locale.as_str(),
        "has_password": a.password_hash.is_some(),
        "must_change_password": a.must_change_password,
        "temporary_password_expires_at": time(view.temporary_password_expires_at),
        "created_at": a.created_at.to_string(),
        "invited_at": time(a.invited_at),
        "activated_at": time(a.activated_at),
        "last_login_at": time(a.last_login_at),
        "disabled_at": time(a.disabled_at),
        "trashed_at": time(a.trashed_at),
    })
}

/// A journal entry as JSON: never the mail's secret or parameters.
pub fn mail_json(mail: &MailRecord) -> Value {
    json!({
        "id": mail.id.to_string(),
        "account_id": mail.account_id.map(|id| id.to_string()),
        "to": mail.to.as_str(),
        "kind": mail.kind.as_str(),
        "subject": mail.subject,
        "status": mail.status.as_str(),
        "attempts": mail.attempts,
        "last_error": mail.last_error,
        "created_at": mail.created_at.to_string(),
        "sent_at": time(mail.sent_at),
        "failed_at": time(mail.failed_at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_and_neutralise_control_characters() {
        let mut table = Table::new(["A", "B"]);
        table.row(["long value".to_owned(), "x\ny".to_owned()]);
        assert_eq!(table.render(), "A           B\nlong value  x y\n");
        assert_eq!(Table::new(["A"]).render(), "A\n(none)\n");
    }
}
