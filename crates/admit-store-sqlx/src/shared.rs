//! The store code both backends share. This file is compiled once per backend
//! (`#[path]` module of `sqlite.rs` and `postgres.rs`); the parent module provides `Db`,
//! `This` (the public store type, with `pool` and `prefix` fields) and the `dialect`
//! hooks for what differs (transaction start, row locks, error codes, bind limits).
//!
//! All SQL text is built from fixed fragments and the validated table prefix only; every
//! value is a bound parameter.

use std::collections::HashMap;

use admit_core::{
    AccountId, AccountRecord, AuditId, AuditRecord, ChangeSet, EmailKey, Grant, MailId, MailRecord, Timestamp,
    TokenRecord, TokenSelector,
};
use admit_store::query::page_size;
use admit_store::{
    AccountFilter, AccountQuery, AccountStatus, AccountWrite, AuditQuery, ConflictKind, MailClaim, MailQuery, Page,
    PurgeReport, RateLimitDecision, Result, StatusCounts, Store, StoreError, window_start,
};
use async_trait::async_trait;
use sqlx::{AssertSqlSafe, Row};
use time::Duration;

use super::{Db, This, dialect};
use crate::codec::{self, UniqueKey};
use crate::error::Error;
use crate::migrate::check_prefix;

type Query<'a> = sqlx::query::Query<'a, Db, <Db as sqlx::Database>::Arguments>;
type DbRow = <Db as sqlx::Database>::Row;
type Conn = <Db as sqlx::Database>::Connection;

/// A query from SQL built of fixed fragments and the validated prefix.
fn q<'a>(sql: String) -> Query<'a> {
    sqlx::query(AssertSqlSafe(sql))
}

fn backend(error: sqlx::Error) -> StoreError {
    StoreError::backend(error)
}

/// What a statement writes, to name the key of a unique violation.
#[derive(Clone, Copy)]
enum Target {
    AccountInsert,
    AccountUpdate,
    Grants,
    Tokens,
    Mails,
    Audit,
}

fn write_error(target: Target) -> impl Fn(sqlx::Error) -> StoreError {
    move |error| {
        let key = match &error {
            sqlx::Error::Database(db) if db.is_unique_violation() => dialect::unique_key(db.as_ref()),
            _ => return backend(error),
        };
        let what = match (target, key) {
            (Target::AccountInsert, UniqueKey::Email) | (Target::AccountUpdate, _) => ConflictKind::Email,
            (Target::AccountInsert, _) | (Target::Grants, _) => ConflictKind::AccountId,
            (Target::Tokens, _) => ConflictKind::TokenSelector,
            (Target::Mails, _) => ConflictKind::MailId,
            (Target::Audit, _) => ConflictKind::AuditId,
        };
        StoreError::Conflict { what }
    }
}

fn get<'r, T>(row: &'r DbRow, column: &'static str) -> Result<T>
where
    T: sqlx::Decode<'r, Db> + sqlx::Type<Db>,
{
    row.try_get(column).map_err(|_| StoreError::Corrupt(format!("column {column} could not be decoded")))
}

fn ts(at: Timestamp) -> i64 {
    at.as_unix_micros()
}

fn opt_ts(at: Option<Timestamp>) -> Option<i64> {
    at.map(Timestamp::as_unix_micros)
}

/// `$start, $start+1, …` (`n` of them).
fn placeholders(start: usize, n: usize) -> String {
    let mut out = String::with_capacity(n * 5);
    for i in 0..n {
        if i > 0 {
            out.push_str(", ");
        }
        out.push('$');
        out.push_str(&(start + i).to_string());
    }
    out
}

/// `($1, …, $c), ($c+1, …), …` for `rows` rows of `cols` columns, for statements with no
/// other parameter. (SQLite gets anonymous `?` placeholders: it looks named ones up by a
/// linear scan, which makes binding thousands of them quadratic.)
fn value_rows(rows: usize, cols: usize) -> String {
    let mut out = String::new();
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        if dialect::ANONYMOUS_PLACEHOLDERS {
            out.push_str(&vec!["?"; cols].join(", "));
        } else {
            out.push_str(&placeholders(r * cols + 1, cols));
        }
        out.push(')');
    }
    out
}

/// Rows per multi-row statement with `cols` bound values per row.
fn chunk_rows(cols: usize) -> usize {
    (dialect::MAX_BINDS / cols).clamp(1, 500)
}

/// Tokens replaced at one instant for one purpose: (`created_at` of the new tokens, purpose).
type ReplaceGroup = (i64, &'static str);

/// Mails cancelled at one instant for one reason: (`at`, journal reason).
type CancelGroup = (i64, String);

/// Ids per `IN (…)` list.
const IN_CHUNK: usize = 500;

/// A bound value of a dynamically built filter.
enum Arg {
    I64(i64),
    Text(String),
    Bytes(Vec<u8>),
}

/// The conditions of a dynamically built `WHERE` and their values.
#[derive(Default)]
struct Where {
    conds: Vec<String>,
    args: Vec<Arg>,
}

impl Where {
    /// Adds a value, returns its placeholder.
    fn arg(&mut self, arg: Arg) -> String {
        self.args.push(arg);
        format!("${}", self.args.len())
    }

    fn push(&mut self, cond: String) {
        self.conds.push(cond);
    }

    /// Adds the condition `{lhs} {placeholder}` with its value (`lhs` is a fixed SQL
    /// fragment such as `"kind ="`, never user text).
    fn cond(&mut self, lhs: &str, arg: Arg) {
        let v = self.arg(arg);
        self.push(format!("{lhs} {v}"));
    }

    fn sql(&self) -> String {
        if self.conds.is_empty() { String::new() } else { format!(" WHERE {}", self.conds.join(" AND ")) }
    }

    fn bind<'a>(self, mut query: Query<'a>) -> Query<'a> {
        for arg in self.args {
            query = match arg {
                Arg::I64(v) => query.bind(v),
                Arg::Text(v) => query.bind(v),
                Arg::Bytes(v) => query.bind(v),
            };
        }
        query
    }
}

/// The `LIKE` pattern matching `needle` as a case-insensitive substring (the columns it
/// is compared with hold lowercased text). `%`, `_` and `\` match literally.
fn like_pattern(needle: &str) -> String {
    let mut out = String::with_capacity(needle.len() + 2);
    out.push('%');
    for c in needle.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

const ACCOUNT_COLS: [&str; 24] = [
    "id",
    "email",
    "email_key",
    "full_name",
    "name_lc",
    "phone",
    "locale",
    "kind",
    "lifecycle",
    "invitation_expires_at",
    "password_hash",
    "must_change_password",
    "credential_epoch",
    "version",
    "created_at",
    "updated_at",
    "invited_at",
    "last_invitation_sent_at",
    "activated_at",
    "last_login_at",
    "password_changed_at",
    "disabled_at",
    "trashed_at",
    "labels",
];

const TOKEN_COLS: [&str; 10] = [
    "selector",
    "verifier_hash",
    "account_id",
    "purpose",
    "epoch",
    "created_at",
    "expires_at",
    "consumed_at",
    "revoked_at",
    "revoked_reason",
];

const MAIL_COLS: [&str; 23] = [
    "id",
    "account_id",
    "to_address",
    "to_key",
    "locale",
    "kind",
    "subject",
    "subject_lc",
    "recipient_name",
    "intent_kind",
    "intent_selector",
    "intent_epoch",
    "expires_at",
    "new_email",
    "status",
    "attempts",
    "next_attempt_at",
    "lease_owner",
    "lease_until",
    "last_error",
    "created_at",
    "sent_at",
    "failed_at",
];

const AUDIT_COLS: [&str; 6] = ["id", "at", "actor", "action", "target", "detail"];

fn cols(list: &[&str], alias: &str) -> String {
    list.iter().map(|c| format!("{alias}{c}")).collect::<Vec<_>>().join(", ")
}

fn bind_account<'a>(query: Query<'a>, r: &AccountRecord, labels: String) -> Query<'a> {
    query
        .bind(r.id.to_bytes().to_vec())
        .bind(r.email.as_ref().map(|e| e.as_str().to_owned()))
        .bind(r.email.as_ref().map(|e| e.key().as_str().to_owned()))
        .bind(r.full_name.as_str().to_owned())
        .bind(r.full_name.as_str().to_lowercase())
        .bind(r.phone.as_ref().map(|p| p.as_str().to_owned()))
        .bind(r.locale.as_str().to_owned())
        .bind(r.kind.as_str())
        .bind(r.lifecycle.as_str())
        .bind(opt_ts(r.invitation_expires_at))
        .bind(r.password_hash.as_ref().map(|h| h.as_phc().to_owned()))
        .bind(r.must_change_password)
        .bind(codec::u64_to_i64(r.credential_epoch.0))
        .bind(codec::u64_to_i64(r.version))
        .bind(ts(r.created_at))
        .bind(ts(r.updated_at))
        .bind(opt_ts(r.invited_at))
        .bind(opt_ts(r.last_invitation_sent_at))
        .bind(opt_ts(r.activated_at))
        .bind(opt_ts(r.last_login_at))
        .bind(opt_ts(r.password_changed_at))
        .bind(opt_ts(r.disabled_at))
        .bind(opt_ts(r.trashed_at))
        .bind(labels)
}

fn account_from_row(row: &DbRow, grants: Vec<Grant>) -> Result<AccountRecord> {
    Ok(AccountRecord {
        id: codec::account_id(&get::<Vec<u8>>(row, "id")?)?,
        email: get::<Option<String>>(row, "email")?.map(|e| codec::email(&e)).transpose()?,
        full_name: codec::full_name(&get::<String>(row, "full_name")?)?,
        phone: get::<Option<String>>(row, "phone")?.map(|p| codec::phone(&p)).transpose()?,
        locale: codec::locale(&get::<String>(row, "locale")?)?,
        kind: codec::kind(&get::<String>(row, "kind")?)?,
        grants,
        labels: codec::labels(&get::<String>(row, "labels")?)?,
        lifecycle: codec::lifecycle(&get::<String>(row, "lifecycle")?)?,
        invitation_expires_at: codec::opt_ts(get(row, "invitation_expires_at")?),
        password_hash: get::<Option<String>>(row, "password_hash")?.map(admit_core::PasswordHash::from_phc),
        must_change_password: get(row, "must_change_password")?,
        credential_epoch: admit_core::CredentialEpoch(codec::i64_to_u64(get(row, "credential_epoch")?)),
        version: codec::i64_to_u64(get(row, "version")?),
        created_at: Timestamp::from_unix_micros(get(row, "created_at")?),
        updated_at: Timestamp::from_unix_micros(get(row, "updated_at")?),
        invited_at: codec::opt_ts(get(row, "invited_at")?),
        last_invitation_sent_at: codec::opt_ts(get(row, "last_invitation_sent_at")?),
        activated_at: codec::opt_ts(get(row, "activated_at")?),
        last_login_at: codec::opt_ts(get(row, "last_login_at")?),
        password_changed_at: codec::opt_ts(get(row, "password_changed_at")?),
        disabled_at: codec::opt_ts(get(row, "disabled_at")?),
        trashed_at: codec::opt_ts(get(row, "trashed_at")?),
    })
}

fn bind_token<'a>(query: Query<'a>, t: &TokenRecord) -> Query<'a> {
    query
        .bind(t.selector.to_bytes().to_vec())
        .bind(t.verifier_hash.map(|h| h.to_bytes().to_vec()))
        .bind(t.account_id.to_bytes().to_vec())
        .bind(t.purpose.as_str())
        .bind(codec::u64_to_i64(t.credential_epoch.0))
        .bind(ts(t.created_at))
        .bind(ts(t.expires_at))
        .bind(opt_ts(t.consumed_at))
        .bind(opt_ts(t.revoked_at))
        .bind(t.revoked_reason.map(|r| r.as_str()))
}

fn token_from_row(row: &DbRow) -> Result<TokenRecord> {
    Ok(TokenRecord {
        selector: codec::selector(&get::<Vec<u8>>(row, "selector")?)?,
        verifier_hash: get::<Option<Vec<u8>>>(row, "verifier_hash")?.map(|h| codec::verifier_hash(&h)).transpose()?,
        account_id: codec::account_id(&get::<Vec<u8>>(row, "account_id")?)?,
        purpose: codec::purpose(&get::<String>(row, "purpose")?)?,
        credential_epoch: admit_core::CredentialEpoch(codec::i64_to_u64(get(row, "epoch")?)),
        created_at: Timestamp::from_unix_micros(get(row, "created_at")?),
        expires_at: Timestamp::from_unix_micros(get(row, "expires_at")?),
        consumed_at: codec::opt_ts(get(row, "consumed_at")?),
        revoked_at: codec::opt_ts(get(row, "revoked_at")?),
        revoked_reason: get::<Option<String>>(row, "revoked_reason")?.map(|r| codec::revoke_reason(&r)).transpose()?,
    })
}

fn bind_mail<'a>(query: Query<'a>, m: &MailRecord) -> Query<'a> {
    query
        .bind(m.id.to_bytes().to_vec())
        .bind(m.account_id.map(|a| a.to_bytes().to_vec()))
        .bind(m.to.as_str().to_owned())
        .bind(m.to.key().as_str().to_owned())
        .bind(m.locale.as_str().to_owned())
        .bind(m.kind.as_str())
        .bind(m.subject.clone())
        .bind(m.subject.to_lowercase())
        .bind(m.params.recipient_name.clone())
        .bind(m.params.intent.map(|i| i.kind_name()))
        .bind(match m.params.intent {
            Some(admit_core::MailIntent::Link { selector, .. }) => Some(selector.to_bytes().to_vec()),
            _ => None,
        })
        .bind(match m.params.intent {
            Some(admit_core::MailIntent::TemporaryPassword { credential_epoch }) => {
                Some(codec::u64_to_i64(credential_epoch.0))
            }
            _ => None,
        })
        .bind(opt_ts(m.params.expires_at))
        .bind(m.params.new_email.clone())
        .bind(m.status.as_str())
        .bind(i64::from(m.attempts))
        .bind(ts(m.next_attempt_at))
        .bind(m.lease.as_ref().map(|l| l.owner.clone()))
        .bind(m.lease.as_ref().map(|l| ts(l.until)))
        .bind(m.last_error.clone())
        .bind(ts(m.created_at))
        .bind(opt_ts(m.sent_at))
        .bind(opt_ts(m.failed_at))
}

/// A mail's intent from its three columns.
fn intent_from_row(row: &DbRow) -> Result<Option<admit_core::MailIntent>> {
    use admit_core::{MailIntent, TokenPurpose};
    let kind = get::<Option<String>>(row, "intent_kind")?;
    let selector = || -> Result<admit_core::TokenSelector> {
        let bytes = get::<Option<Vec<u8>>>(row, "intent_selector")?;
        codec::selector(&bytes.ok_or_else(|| StoreError::Corrupt("mail intent without selector".to_owned()))?)
    };
    Ok(match kind.as_deref() {
        None => None,
        Some("invitation_link") => Some(MailIntent::Link { selector: selector()?, purpose: TokenPurpose::Invitation }),
        Some("reset_link") => Some(MailIntent::Link { selector: selector()?, purpose: TokenPurpose::PasswordReset }),
        Some("temporary_password") => {
            let epoch = get::<Option<i64>>(row, "intent_epoch")?
                .ok_or_else(|| StoreError::Corrupt("mail intent without epoch".to_owned()))?;
            Some(MailIntent::TemporaryPassword {
                credential_epoch: admit_core::CredentialEpoch(codec::i64_to_u64(epoch)),
            })
        }
        Some(_) => return Err(StoreError::Corrupt("mail intent kind".to_owned())),
    })
}

/// A mail row (its intent; no store column holds a secret).
fn mail_from_row(row: &DbRow) -> Result<MailRecord> {
    let lease = match (get::<Option<String>>(row, "lease_owner")?, get::<Option<i64>>(row, "lease_until")?) {
        (Some(owner), Some(until)) => Some(admit_core::Lease { owner, until: Timestamp::from_unix_micros(until) }),
        _ => None,
    };
    Ok(MailRecord {
        id: codec::mail_id(&get::<Vec<u8>>(row, "id")?)?,
        account_id: get::<Option<Vec<u8>>>(row, "account_id")?.map(|a| codec::account_id(&a)).transpose()?,
        to: codec::email(&get::<String>(row, "to_address")?)?,
        locale: codec::locale(&get::<String>(row, "locale")?)?,
        kind: codec::mail_kind(&get::<String>(row, "kind")?)?,
        subject: get(row, "subject")?,
        params: admit_core::MailParams {
            recipient_name: get(row, "recipient_name")?,
            intent: intent_from_row(row)?,
            secret: None,
            expires_at: codec::opt_ts(get(row, "expires_at")?),
            new_email: get(row, "new_email")?,
        },
        status: codec::mail_status(&get::<String>(row, "status")?)?,
        attempts: u32::try_from(get::<i64>(row, "attempts")?)
            .map_err(|_| StoreError::Corrupt("mail attempts out of range".to_owned()))?,
        next_attempt_at: Timestamp::from_unix_micros(get(row, "next_attempt_at")?),
        lease,
        last_error: get(row, "last_error")?,
        created_at: Timestamp::from_unix_micros(get(row, "created_at")?),
        sent_at: codec::opt_ts(get(row, "sent_at")?),
        failed_at: codec::opt_ts(get(row, "failed_at")?),
    })
}

fn bind_audit<'a>(query: Query<'a>, a: &AuditRecord) -> Query<'a> {
    query
        .bind(a.id.to_bytes().to_vec())
        .bind(ts(a.at))
        .bind(a.actor.map(|x| x.to_bytes().to_vec()))
        .bind(a.action.as_str())
        .bind(a.target.map(|x| x.to_bytes().to_vec()))
        .bind(a.detail.clone())
}

fn audit_from_row(row: &DbRow) -> Result<AuditRecord> {
    Ok(AuditRecord {
        id: codec::audit_id(&get::<Vec<u8>>(row, "id")?)?,
        at: Timestamp::from_unix_micros(get(row, "at")?),
        actor: get::<Option<Vec<u8>>>(row, "actor")?.map(|a| codec::account_id(&a)).transpose()?,
        action: codec::audit_action(&get::<String>(row, "action")?)?,
        target: get::<Option<Vec<u8>>>(row, "target")?.map(|a| codec::account_id(&a)).transpose()?,
        detail: get(row, "detail")?,
    })
}

/// A page from rows fetched with `LIMIT limit`: `next` is the last id when the page is full.
fn page<T, C>(items: Vec<T>, limit: usize, cursor: impl Fn(&T) -> C) -> Page<T, C> {
    let next = if items.len() == limit { items.last().map(cursor) } else { None };
    Page { items, next }
}

impl This {
    /// Uses `prefix` instead of `admit_` in front of every table, index and constraint
    /// name (including the migration history, `{prefix}migrations`), so several admit
    /// instances, or admit and the host, can share one database.
    ///
    /// # Errors
    /// [`Error::InvalidTablePrefix`] unless `prefix` is 1 to 32 lower-case ASCII letters,
    /// digits or underscores starting with a letter.
    pub fn with_table_prefix(mut self, prefix: &str) -> Result<Self, Error> {
        if !check_prefix(prefix) {
            return Err(Error::InvalidTablePrefix);
        }
        self.prefix = prefix.to_owned();
        Ok(self)
    }

    /// The table prefix in use.
    pub fn table_prefix(&self) -> &str {
        &self.prefix
    }

    /// Applies the migrations this version of admit ships that the database lacks, in one
    /// transaction, and records them in admit's own history table (`{prefix}migrations`,
    /// never sqlx's `_sqlx_migrations`). Running it again is a no-op; several processes
    /// may run it at once.
    ///
    /// # Errors
    /// [`Error::UnknownMigration`] if a newer admit migrated the database,
    /// [`Error::ChangedMigration`] if an applied migration's text changed, or
    /// [`Error::Database`].
    pub async fn migrate(&self) -> Result<(), Error> {
        let p = &self.prefix;
        let mut tx = dialect::begin_migration(&self.pool, p).await.map_err(Error::database)?;
        sqlx::raw_sql(AssertSqlSafe(format!(
            "CREATE TABLE IF NOT EXISTS {p}migrations (version BIGINT NOT NULL PRIMARY KEY, name TEXT NOT NULL, \
             checksum BIGINT NOT NULL, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"
        )))
        .execute(&mut *tx)
        .await
        .map_err(Error::database)?;
        let rows = q(format!("SELECT version, checksum FROM {p}migrations ORDER BY version"))
            .fetch_all(&mut *tx)
            .await
            .map_err(Error::database)?;
        let mut applied = HashMap::new();
        for row in rows {
            let version: i64 = row.try_get("version").map_err(Error::database)?;
            let checksum: i64 = row.try_get("checksum").map_err(Error::database)?;
            applied.insert(version, checksum);
        }
        for (version, checksum) in &applied {
            match dialect::MIGRATIONS.iter().find(|m| m.version == *version) {
                None => return Err(Error::UnknownMigration { version: *version }),
                Some(m) if m.checksum() != *checksum => return Err(Error::ChangedMigration { version: *version }),
                Some(_) => {}
            }
        }
        for m in dialect::MIGRATIONS.iter().filter(|m| !applied.contains_key(&m.version)) {
            sqlx::raw_sql(AssertSqlSafe(m.sql_for(p))).execute(&mut *tx).await.map_err(Error::database)?;
            q(format!("INSERT INTO {p}migrations (version, name, checksum) VALUES ($1, $2, $3)"))
                .bind(m.version)
                .bind(m.name)
                .bind(m.checksum())
                .execute(&mut *tx)
                .await
                .map_err(Error::database)?;
        }
        tx.commit().await.map_err(Error::database)
    }

    /// The versions of the migrations this build ships, in order (what [`Self::migrate`]
    /// brings a database to; compare with [`Self::applied_migrations`] to check a schema).
    pub fn shipped_migrations(&self) -> Vec<i64> {
        dialect::MIGRATIONS.iter().map(|m| m.version).collect()
    }

    /// The versions recorded in the history table, in order.
    ///
    /// # Errors
    /// [`Error::Database`] (for example before the first [`Self::migrate`]).
    pub async fn applied_migrations(&self) -> Result<Vec<i64>, Error> {
        let p = &self.prefix;
        let rows = q(format!("SELECT version FROM {p}migrations ORDER BY version"))
            .fetch_all(&self.pool)
            .await
            .map_err(Error::database)?;
        rows.iter().map(|r| r.try_get::<i64, _>("version").map_err(Error::database)).collect()
    }

    /// Grants of the accounts `ids`, each in stored order.
    async fn load_grants(&self, conn: &mut Conn, ids: &[Vec<u8>]) -> Result<HashMap<Vec<u8>, Vec<Grant>>> {
        let p = &self.prefix;
        let mut out: HashMap<Vec<u8>, Vec<Grant>> = HashMap::new();
        for chunk in ids.chunks(IN_CHUNK) {
            let sql = format!(
                "SELECT account_id, scope_key, role FROM {p}grants WHERE account_id IN ({}) ORDER BY account_id, ord",
                placeholders(1, chunk.len())
            );
            let mut query = q(sql);
            for id in chunk {
                query = query.bind(id.clone());
            }
            for row in query.fetch_all(&mut *conn).await.map_err(backend)? {
                let grant = codec::grant(&get::<String>(&row, "scope_key")?, &get::<String>(&row, "role")?)?;
                out.entry(get::<Vec<u8>>(&row, "account_id")?).or_default().push(grant);
            }
        }
        Ok(out)
    }

    /// Account rows with their grants.
    async fn accounts_from_rows(&self, conn: &mut Conn, rows: Vec<DbRow>) -> Result<Vec<AccountRecord>> {
        let ids = rows.iter().map(|r| get::<Vec<u8>>(r, "id")).collect::<Result<Vec<_>>>()?;
        let mut grants = self.load_grants(conn, &ids).await?;
        rows.iter().zip(ids).map(|(row, id)| account_from_row(row, grants.remove(&id).unwrap_or_default())).collect()
    }

    /// Accounts whose `column` is among `keys`.
    async fn accounts_where_in(&self, column: &str, keys: Vec<Arg>) -> Result<Vec<AccountRecord>> {
        let p = &self.prefix;
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        let mut rows = Vec::new();
        let mut keys = keys.into_iter().peekable();
        while keys.peek().is_some() {
            let mut filter = Where::default();
            let chunk: Vec<String> = keys.by_ref().take(IN_CHUNK).map(|k| filter.arg(k)).collect();
            let sql =
                format!("SELECT {} FROM {p}accounts WHERE {column} IN ({})", cols(&ACCOUNT_COLS, ""), chunk.join(", "));
            rows.extend(filter.bind(q(sql)).fetch_all(&mut *conn).await.map_err(backend)?);
        }
        self.accounts_from_rows(&mut conn, rows).await
    }

    /// The conditions of an account filter, on `accounts a`.
    fn account_filter(&self, filter: &AccountFilter, w: &mut Where) {
        let p = &self.prefix;
        if let Some(kind) = filter.kind {
            w.cond("a.kind =", Arg::Text(kind.as_str().to_owned()));
        }
        if let Some(text) = &filter.text {
            let v = w.arg(Arg::Text(like_pattern(text)));
            w.push(format!("(a.name_lc LIKE {v} ESCAPE '\\' OR a.email_key LIKE {v} ESCAPE '\\')"));
        }
        if let Some(grant) = &filter.grant {
            let mut conds = Vec::new();
            if let Some(scope) = &grant.scope {
                conds.push(format!("g.scope_key = {}", w.arg(Arg::Text(scope.to_key()))));
            }
            if let Some(role) = grant.role {
                conds.push(format!("g.role = {}", w.arg(Arg::Text(role.as_str().to_owned()))));
            }
            let cond = if conds.is_empty() { String::new() } else { format!(" WHERE {}", conds.join(" AND ")) };
            w.push(format!("a.id IN (SELECT g.account_id FROM {p}grants g{cond})"));
        }
    }

    async fn commit_in(&self, tx: &mut Conn, change: &ChangeSet) -> Result<()> {
        let p = &self.prefix;
        if change.require_platform_administrator {
            dialect::lock_platform_administrators(tx, p).await.map_err(backend)?;
        }
        if let Some(c) = &change.consume {
            let account = c.account_id.to_bytes().to_vec();
            let epoch = codec::u64_to_i64(c.credential_epoch.0);
            let stored: Option<i64> = sqlx::query_scalar(AssertSqlSafe(format!(
                "SELECT credential_epoch FROM {p}accounts WHERE id = $1{}",
                dialect::FOR_UPDATE
            )))
            .bind(account.clone())
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
            if stored != Some(epoch) {
                return Err(StoreError::TokenUnavailable);
            }
            let done = q(format!(
                "UPDATE {p}tokens SET consumed_at = $1 WHERE selector = $2 AND account_id = $3 AND epoch = $4 \
                 AND verifier_hash IS NOT NULL AND consumed_at IS NULL AND revoked_at IS NULL AND expires_at >= $1"
            ))
            .bind(ts(c.at))
            .bind(c.selector.to_bytes().to_vec())
            .bind(account)
            .bind(epoch)
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected();
            if done != 1 {
                return Err(StoreError::TokenUnavailable);
            }
        }
        self.write_accounts(tx, &change.accounts).await?;
        for r in &change.revocations {
            let mut w = Where::default();
            let at = w.arg(Arg::I64(ts(r.at)));
            let reason = w.arg(Arg::Text(r.reason.as_str().to_owned()));
            let account = w.arg(Arg::Bytes(r.account_id.to_bytes().to_vec()));
            w.push(format!("account_id = {account}"));
            if let Some(purpose) = r.purpose {
                let purpose = w.arg(Arg::Text(purpose.as_str().to_owned()));
                w.push(format!("purpose = {purpose}"));
            }
            w.push(format!("consumed_at IS NULL AND revoked_at IS NULL AND expires_at >= {at}"));
            let sql = format!("UPDATE {p}tokens SET revoked_at = {at}, revoked_reason = {reason}{}", w.sql());
            w.bind(q(sql)).execute(&mut *tx).await.map_err(backend)?;
        }
        self.cancel_mails(tx, &change.cancel_mails).await?;
        self.insert_tokens(tx, &change.tokens).await?;
        for chunk in change.mails.chunks(chunk_rows(MAIL_COLS.len())) {
            let sql = format!(
                "INSERT INTO {p}outbox ({}) VALUES {}",
                cols(&MAIL_COLS, ""),
                value_rows(chunk.len(), MAIL_COLS.len())
            );
            let query = chunk.iter().fold(q(sql), bind_mail);
            query.execute(&mut *tx).await.map_err(write_error(Target::Mails))?;
        }
        for chunk in change.audit.chunks(chunk_rows(AUDIT_COLS.len())) {
            let sql = format!(
                "INSERT INTO {p}audit ({}) VALUES {}",
                cols(&AUDIT_COLS, ""),
                value_rows(chunk.len(), AUDIT_COLS.len())
            );
            let query = chunk.iter().fold(q(sql), bind_audit);
            query.execute(&mut *tx).await.map_err(write_error(Target::Audit))?;
        }
        if change.require_platform_administrator && self.platform_administrators(tx).await? == 0 {
            return Err(StoreError::LastPlatformAdministrator);
        }
        Ok(())
    }

    async fn write_accounts(&self, tx: &mut Conn, writes: &[AccountWrite]) -> Result<()> {
        let p = &self.prefix;
        // Grants as stored, so an update rewrites them only when they change.
        let updated: Vec<Vec<u8>> = writes
            .iter()
            .filter_map(|w| match w {
                AccountWrite::Update { record, .. } => Some(record.id.to_bytes().to_vec()),
                _ => None,
            })
            .collect();
        let mut grants = if updated.is_empty() { HashMap::new() } else { self.load_grants(tx, &updated).await? };
        let mut inserts: Vec<&AccountRecord> = Vec::new();
        for write in writes {
            match write {
                AccountWrite::Insert(record) => {
                    inserts.push(record);
                    continue;
                }
                AccountWrite::Update { expected_version, record } => {
                    self.insert_accounts(tx, &inserts, &mut grants).await?;
                    inserts.clear();
                    let set = ACCOUNT_COLS
                        .iter()
                        .enumerate()
                        .skip(1)
                        .map(|(i, c)| format!("{c} = ${}", i + 1))
                        .collect::<Vec<_>>()
                        .join(", ");
                    let sql =
                        format!("UPDATE {p}accounts SET {set} WHERE id = $1 AND version = ${}", ACCOUNT_COLS.len() + 1);
                    let query = bind_account(q(sql), record, codec::labels_json(&record.labels)?)
                        .bind(codec::u64_to_i64(*expected_version));
                    let done =
                        query.execute(&mut *tx).await.map_err(write_error(Target::AccountUpdate))?.rows_affected();
                    if done != 1 {
                        return Err(StoreError::StaleVersion { account: record.id });
                    }
                    let id = record.id.to_bytes().to_vec();
                    if grants.get(&id).map(Vec::as_slice).unwrap_or_default() != record.grants.as_slice() {
                        q(format!("DELETE FROM {p}grants WHERE account_id = $1"))
                            .bind(id.clone())
                            .execute(&mut *tx)
                            .await
                            .map_err(backend)?;
                        self.insert_grants(tx, &[record]).await?;
                        grants.insert(id, record.grants.clone());
                    }
                }
                AccountWrite::Delete { id, expected_version } => {
                    self.insert_accounts(tx, &inserts, &mut grants).await?;
                    inserts.clear();
                    let bytes = id.to_bytes().to_vec();
                    let done = q(format!("DELETE FROM {p}accounts WHERE id = $1 AND version = $2"))
                        .bind(bytes.clone())
                        .bind(codec::u64_to_i64(*expected_version))
                        .execute(&mut *tx)
                        .await
                        .map_err(backend)?
                        .rows_affected();
                    if done != 1 {
                        return Err(StoreError::StaleVersion { account: *id });
                    }
                    for table in ["grants", "tokens"] {
                        q(format!("DELETE FROM {p}{table} WHERE account_id = $1"))
                            .bind(bytes.clone())
                            .execute(&mut *tx)
                            .await
                            .map_err(backend)?;
                    }
                    grants.remove(&bytes);
                }
            }
        }
        self.insert_accounts(tx, &inserts, &mut grants).await
    }

    async fn insert_accounts(
        &self,
        tx: &mut Conn,
        records: &[&AccountRecord],
        grants: &mut HashMap<Vec<u8>, Vec<Grant>>,
    ) -> Result<()> {
        let p = &self.prefix;
        for chunk in records.chunks(chunk_rows(ACCOUNT_COLS.len())) {
            let sql = format!(
                "INSERT INTO {p}accounts ({}) VALUES {}",
                cols(&ACCOUNT_COLS, ""),
                value_rows(chunk.len(), ACCOUNT_COLS.len())
            );
            let mut query = q(sql);
            for record in chunk {
                query = bind_account(query, record, codec::labels_json(&record.labels)?);
            }
            query.execute(&mut *tx).await.map_err(write_error(Target::AccountInsert))?;
        }
        self.insert_grants(tx, records).await?;
        for record in records {
            grants.insert(record.id.to_bytes().to_vec(), record.grants.clone());
        }
        Ok(())
    }

    async fn insert_grants(&self, tx: &mut Conn, records: &[&AccountRecord]) -> Result<()> {
        let p = &self.prefix;
        let rows: Vec<(Vec<u8>, i64, String, &'static str)> = records
            .iter()
            .flat_map(|r| {
                r.grants.iter().enumerate().map(|(i, g)| {
                    (r.id.to_bytes().to_vec(), i64::try_from(i).unwrap_or(i64::MAX), g.scope.to_key(), g.role.as_str())
                })
            })
            .collect();
        for chunk in rows.chunks(chunk_rows(4)) {
            let sql = format!(
                "INSERT INTO {p}grants (account_id, ord, scope_key, role) VALUES {}",
                value_rows(chunk.len(), 4)
            );
            let mut query = q(sql);
            for (id, ord, scope, role) in chunk {
                query = query.bind(id.clone()).bind(*ord).bind(scope.clone()).bind(*role);
            }
            query.execute(&mut *tx).await.map_err(write_error(Target::Grants))?;
        }
        Ok(())
    }

    /// Supersedes the pending mails with an intent of the cancelled accounts, grouped by
    /// (instant, reason) into `IN (…)` lists.
    async fn cancel_mails(&self, tx: &mut Conn, cancellations: &[admit_core::MailCancellation]) -> Result<()> {
        let p = &self.prefix;
        let mut groups: Vec<(CancelGroup, Vec<Vec<u8>>)> = Vec::new();
        for c in cancellations {
            let key = (ts(c.at), admit_core::MailCancellation::journal_reason(c.reason));
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, ids)) => ids.push(c.account_id.to_bytes().to_vec()),
                None => groups.push((key, vec![c.account_id.to_bytes().to_vec()])),
            }
        }
        for ((at, reason), accounts) in &groups {
            for chunk in accounts.chunks(IN_CHUNK) {
                let sql = format!(
                    "UPDATE {p}outbox SET status = 'superseded', failed_at = $1, last_error = $2, lease_owner = NULL, \
                     lease_until = NULL WHERE status = 'pending' AND intent_kind IS NOT NULL AND account_id IN ({})",
                    placeholders(3, chunk.len())
                );
                let mut query = q(sql).bind(*at).bind(reason.clone());
                for id in chunk {
                    query = query.bind(id.clone());
                }
                query.execute(&mut *tx).await.map_err(backend)?;
            }
        }
        Ok(())
    }

    /// Rows of `sql` (ending in `IN (`) for `keys`, in `IN_CHUNK` lists; `tail` follows the
    /// closing parenthesis (an `ORDER BY` and a lock clause).
    async fn rows_in(&self, tx: &mut Conn, sql: &str, keys: &[Vec<u8>], tail: &str) -> Result<Vec<DbRow>> {
        let mut out = Vec::new();
        for chunk in keys.chunks(IN_CHUNK) {
            let full = format!("{sql}{}){tail}", placeholders(1, chunk.len()));
            let query = chunk.iter().fold(q(full), |query, key| query.bind(key.clone()));
            out.extend(query.fetch_all(&mut *tx).await.map_err(backend)?);
        }
        Ok(out)
    }

    /// Arms a batch of claimed mails in the caller's transaction: reads the mails, then
    /// locks their accounts, their reserved tokens and finally the mail rows (the order
    /// commits take them, so the two never deadlock over one account), decides each mail with the shared
    /// checks, and writes the verifier hashes in one statement per chunk.
    async fn arm_in(
        &self,
        tx: &mut Conn,
        owner: &str,
        at: Timestamp,
        arms: &[admit_store::MailArming],
    ) -> Result<Vec<admit_store::ArmOutcome>> {
        use admit_core::MailIntent;
        use admit_store::{ArmOutcome, ArmedSecret};
        let p = &self.prefix;
        let mut ids: Vec<Vec<u8>> = arms.iter().map(|a| a.mail.to_bytes().to_vec()).collect();
        ids.sort();
        ids.dedup();
        let mail_cols = "id, account_id, status, lease_owner, intent_kind, intent_selector, intent_epoch";
        let mail_sql = format!("SELECT {mail_cols} FROM {p}outbox WHERE id IN (");
        // First read, unlocked: which accounts and tokens to lock.
        let first = self.rows_in(tx, &mail_sql, &ids, "").await?;
        let mut account_ids = Vec::new();
        let mut selectors = Vec::new();
        for row in &first {
            if let Some(account) = get::<Option<Vec<u8>>>(row, "account_id")? {
                account_ids.push(account);
            }
            if let Some(MailIntent::Link { selector, .. }) = intent_from_row(row)? {
                selectors.push(selector.to_bytes().to_vec());
            }
        }
        account_ids.sort();
        account_ids.dedup();
        selectors.sort();
        selectors.dedup();
        let lock = dialect::FOR_UPDATE;
        let account_sql = format!("SELECT {} FROM {p}accounts WHERE id IN (", cols(&ACCOUNT_COLS, ""));
        let mut accounts: HashMap<AccountId, AccountRecord> = HashMap::new();
        for row in self.rows_in(tx, &account_sql, &account_ids, &format!(" ORDER BY id{lock}")).await? {
            let account = account_from_row(&row, Vec::new())?;
            accounts.insert(account.id, account);
        }
        let token_sql = format!("SELECT {} FROM {p}tokens WHERE selector IN (", cols(&TOKEN_COLS, ""));
        let mut tokens: HashMap<TokenSelector, TokenRecord> = HashMap::new();
        for row in self.rows_in(tx, &token_sql, &selectors, &format!(" ORDER BY selector{lock}")).await? {
            let token = token_from_row(&row)?;
            tokens.insert(token.selector, token);
        }
        // The mail rows last, locked, read again: a cancellation committed meanwhile shows.
        let mut mails: HashMap<MailId, (bool, Option<MailIntent>, Option<AccountId>)> = HashMap::new();
        for row in self.rows_in(tx, &mail_sql, &ids, &format!(" ORDER BY id{lock}")).await? {
            let id = codec::mail_id(&get::<Vec<u8>>(&row, "id")?)?;
            let held = get::<String>(&row, "status")? == "pending"
                && get::<Option<String>>(&row, "lease_owner")?.as_deref() == Some(owner);
            let account = get::<Option<Vec<u8>>>(&row, "account_id")?.map(|a| codec::account_id(&a)).transpose()?;
            mails.insert(id, (held, intent_from_row(&row)?, account));
        }
        let mut outcomes = Vec::with_capacity(arms.len());
        let mut verifiers: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut passwords: Vec<(Vec<u8>, String)> = Vec::new();
        let mut superseded: Vec<(Vec<u8>, String)> = Vec::new();
        for arming in arms {
            let Some((true, intent, account_id)) = mails.get(&arming.mail).cloned() else {
                outcomes.push(ArmOutcome::LeaseLost);
                continue;
            };
            let checked = match (intent, &arming.secret) {
                (Some(MailIntent::Link { selector, purpose }), ArmedSecret::Link(hash)) => {
                    let token = tokens.get(&selector);
                    let account = account_id.or(token.map(|t| t.account_id)).and_then(|id| accounts.get(&id));
                    admit_store::arming::check_link(token, purpose, account, at).map(|()| {
                        verifiers.push((selector.to_bytes().to_vec(), hash.to_bytes().to_vec()));
                    })
                }
                (Some(MailIntent::TemporaryPassword { credential_epoch }), ArmedSecret::TemporaryPassword(hash)) => {
                    let account = account_id.and_then(|id| accounts.get(&id));
                    admit_store::arming::check_temporary_password(account, credential_epoch).map(|()| {
                        if let Some(id) = account_id {
                            passwords.push((id.to_bytes().to_vec(), hash.as_phc().to_owned()));
                        }
                    })
                }
                _ => Err(admit_store::arming::MISMATCH.to_owned()),
            };
            // A mail settled here is not armed twice by a repeated id in the same batch.
            if let Some(entry) = mails.get_mut(&arming.mail) {
                entry.0 = false;
            }
            match checked {
                Ok(()) => outcomes.push(ArmOutcome::Armed),
                Err(reason) => {
                    superseded.push((arming.mail.to_bytes().to_vec(), reason.clone()));
                    outcomes.push(ArmOutcome::Superseded(reason));
                }
            }
        }
        for chunk in verifiers.chunks(chunk_rows(2)) {
            let sql = format!(
                "UPDATE {p}tokens SET verifier_hash = v.column2 FROM (VALUES {}) AS v \
                 WHERE {p}tokens.selector = v.column1",
                value_rows(chunk.len(), 2)
            );
            let query = chunk.iter().fold(q(sql), |query, (s, h)| query.bind(s.clone()).bind(h.clone()));
            query.execute(&mut *tx).await.map_err(backend)?;
        }
        for (account, phc) in passwords {
            q(format!("UPDATE {p}accounts SET password_hash = $1, version = version + 1 WHERE id = $2"))
                .bind(phc)
                .bind(account)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        for (id, reason) in superseded {
            q(format!(
                "UPDATE {p}outbox SET status = 'superseded', failed_at = $1, last_error = $2, lease_owner = NULL, \
                 lease_until = NULL WHERE id = $3"
            ))
            .bind(ts(at))
            .bind(reason)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        Ok(outcomes)
    }

    /// Inserts tokens; each first revokes the live (unused, unrevoked, unexpired) tokens of the same account and purpose
    /// (stored ones, and earlier ones of the same change) as replaced at its `created_at`.
    async fn insert_tokens(&self, tx: &mut Conn, tokens: &[TokenRecord]) -> Result<()> {
        if tokens.is_empty() {
            return Ok(());
        }
        let p = &self.prefix;
        let mut records = tokens.to_vec();
        let mut latest: HashMap<(AccountId, admit_core::TokenPurpose), usize> = HashMap::new();
        // Replacements, grouped by (instant, purpose) in order of first appearance.
        let mut groups: Vec<(ReplaceGroup, Vec<Vec<u8>>)> = Vec::new();
        let mut group_index: HashMap<ReplaceGroup, usize> = HashMap::new();
        for i in 0..records.len() {
            let key = (records[i].account_id, records[i].purpose);
            let at = records[i].created_at;
            if let Some(prev) = latest.insert(key, i) {
                let prev = &mut records[prev];
                if prev.is_live(at) {
                    prev.revoked_at = Some(at);
                    prev.revoked_reason = Some(admit_core::RevokeReason::Replaced);
                }
                continue;
            }
            let group = (ts(at), records[i].purpose.as_str());
            let slot = *group_index.entry(group).or_insert_with(|| {
                groups.push((group, Vec::new()));
                groups.len() - 1
            });
            groups[slot].1.push(records[i].account_id.to_bytes().to_vec());
        }
        if !dialect::FOR_UPDATE.is_empty() {
            // Concurrent re-issues for one account run one after the other: each revokes what
            // the one before it inserted, so exactly one token per purpose stays live. (A
            // conditional UPDATE alone cannot see a concurrent transaction's new row.)
            let mut ids: Vec<Vec<u8>> = groups.iter().flat_map(|(_, accounts)| accounts.iter().cloned()).collect();
            ids.sort();
            ids.dedup();
            for chunk in ids.chunks(IN_CHUNK) {
                let sql = format!(
                    "SELECT id FROM {p}accounts WHERE id IN ({}) ORDER BY id{}",
                    placeholders(1, chunk.len()),
                    dialect::FOR_UPDATE
                );
                let query = chunk.iter().fold(q(sql), |query, id| query.bind(id.clone()));
                query.fetch_all(&mut *tx).await.map_err(backend)?;
            }
        }
        for ((at, purpose), accounts) in &groups {
            for chunk in accounts.chunks(IN_CHUNK) {
                let sql = format!(
                    "UPDATE {p}tokens SET revoked_at = $1, revoked_reason = 'replaced' WHERE purpose = $2 \
                     AND consumed_at IS NULL AND revoked_at IS NULL AND expires_at >= $1 AND account_id IN ({})",
                    placeholders(3, chunk.len())
                );
                let mut query = q(sql).bind(*at).bind(*purpose);
                for id in chunk {
                    query = query.bind(id.clone());
                }
                query.execute(&mut *tx).await.map_err(backend)?;
            }
        }
        for chunk in records.chunks(chunk_rows(TOKEN_COLS.len())) {
            let sql = format!(
                "INSERT INTO {p}tokens ({}) VALUES {}",
                cols(&TOKEN_COLS, ""),
                value_rows(chunk.len(), TOKEN_COLS.len())
            );
            let query = chunk.iter().fold(q(sql), bind_token);
            query.execute(&mut *tx).await.map_err(write_error(Target::Tokens))?;
        }
        Ok(())
    }

    async fn platform_administrators(&self, conn: &mut Conn) -> Result<u64> {
        let p = &self.prefix;
        let count: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM {p}accounts a WHERE a.disabled_at IS NULL AND a.trashed_at IS NULL \
             AND a.lifecycle = 'active' \
             AND a.id IN (SELECT g.account_id FROM {p}grants g WHERE g.scope_key = 'platform' \
             AND g.role = 'administrator')"
        )))
        .fetch_one(&mut *conn)
        .await
        .map_err(backend)?;
        Ok(codec::i64_to_u64(count))
    }

    /// Sets a settled mail's columns if `owner` holds its lease.
    async fn settle_mail(&self, id: MailId, owner: &str, set: &str, args: Vec<Arg>) -> Result<()> {
        let p = &self.prefix;
        let mut w = Where::default();
        let assignments = set.to_owned();
        for arg in args {
            w.arg(arg);
        }
        let id_arg = w.arg(Arg::Bytes(id.to_bytes().to_vec()));
        let owner_arg = w.arg(Arg::Text(owner.to_owned()));
        let sql = format!(
            "UPDATE {p}outbox SET {assignments}, lease_owner = NULL, lease_until = NULL \
             WHERE id = {id_arg} AND lease_owner = {owner_arg} AND status = 'pending'"
        );
        let done = w.bind(q(sql)).execute(&self.pool).await.map_err(backend)?.rows_affected();
        if done == 1 { Ok(()) } else { Err(StoreError::LeaseLost) }
    }
}

#[async_trait]
impl Store for This {
    async fn commit(&self, change: ChangeSet) -> Result<()> {
        if change.is_empty() && !change.require_platform_administrator {
            return Ok(());
        }
        let mut tx = dialect::begin(&self.pool).await.map_err(backend)?;
        self.commit_in(&mut tx, &change).await?;
        tx.commit().await.map_err(backend)
    }

    async fn account(&self, id: AccountId) -> Result<Option<AccountRecord>> {
        Ok(self.accounts_where_in("id", vec![Arg::Bytes(id.to_bytes().to_vec())]).await?.pop())
    }

    async fn account_by_email(&self, key: &EmailKey) -> Result<Option<AccountRecord>> {
        Ok(self.accounts_where_in("email_key", vec![Arg::Text(key.as_str().to_owned())]).await?.pop())
    }

    async fn accounts_by_emails(&self, keys: &[EmailKey]) -> Result<Vec<AccountRecord>> {
        self.accounts_where_in("email_key", keys.iter().map(|k| Arg::Text(k.as_str().to_owned())).collect()).await
    }

    async fn accounts_by_ids(&self, ids: &[AccountId]) -> Result<Vec<AccountRecord>> {
        self.accounts_where_in("id", ids.iter().map(|id| Arg::Bytes(id.to_bytes().to_vec())).collect()).await
    }

    async fn list_accounts(&self, query: &AccountQuery) -> Result<Page<AccountRecord, AccountId>> {
        let p = &self.prefix;
        let limit = page_size(query.limit);
        let mut w = Where::default();
        if let Some(after) = query.after {
            w.cond("a.id >", Arg::Bytes(after.to_bytes().to_vec()));
        }
        self.account_filter(&query.filter, &mut w);
        if let Some(status) = query.status {
            let cond = status_condition(status, &mut w, query.now);
            w.push(cond);
        }
        let lim = w.arg(Arg::I64(i64::try_from(limit).unwrap_or(i64::MAX)));
        let sql =
            format!("SELECT {} FROM {p}accounts a{} ORDER BY a.id LIMIT {lim}", cols(&ACCOUNT_COLS, "a."), w.sql());
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        let rows = w.bind(q(sql)).fetch_all(&mut *conn).await.map_err(backend)?;
        let items = self.accounts_from_rows(&mut conn, rows).await?;
        Ok(page(items, limit, |a| a.id))
    }

    async fn count_accounts(&self, filter: &AccountFilter, now: Timestamp) -> Result<StatusCounts> {
        let p = &self.prefix;
        let mut w = Where::default();
        self.account_filter(filter, &mut w);
        let mut columns = Vec::new();
        for status in AccountStatus::ALL {
            let cond = status_condition(status, &mut w, now);
            columns.push(format!("COUNT(*) FILTER (WHERE {cond}) AS {}", status.as_str()));
        }
        let sql = format!("SELECT {} FROM {p}accounts a{}", columns.join(", "), w.sql());
        let row = w.bind(q(sql)).fetch_one(&self.pool).await.map_err(backend)?;
        let n = |status: AccountStatus| get::<i64>(&row, status.as_str()).map(codec::i64_to_u64);
        Ok(StatusCounts {
            created: n(AccountStatus::Created)?,
            invited: n(AccountStatus::Invited)?,
            invitation_expired: n(AccountStatus::InvitationExpired)?,
            active: n(AccountStatus::Active)?,
            disabled: n(AccountStatus::Disabled)?,
            trashed: n(AccountStatus::Trashed)?,
        })
    }

    async fn count_platform_administrators(&self) -> Result<u64> {
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        self.platform_administrators(&mut conn).await
    }

    async fn token(&self, selector: &TokenSelector) -> Result<Option<TokenRecord>> {
        let p = &self.prefix;
        let row = q(format!("SELECT {} FROM {p}tokens WHERE selector = $1", cols(&TOKEN_COLS, "")))
            .bind(selector.to_bytes().to_vec())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(token_from_row).transpose()
    }

    async fn tokens_of(&self, account: AccountId) -> Result<Vec<TokenRecord>> {
        let p = &self.prefix;
        let rows = q(format!(
            "SELECT {} FROM {p}tokens WHERE account_id = $1 ORDER BY created_at, selector",
            cols(&TOKEN_COLS, "")
        ))
        .bind(account.to_bytes().to_vec())
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(token_from_row).collect()
    }

    async fn claim_mails(&self, claim: &MailClaim) -> Result<Vec<MailRecord>> {
        if claim.limit == 0 {
            return Ok(Vec::new());
        }
        let p = &self.prefix;
        let sql = format!(
            "UPDATE {p}outbox SET lease_owner = $1, lease_until = $2, attempts = attempts + 1 WHERE id IN \
             (SELECT id FROM {p}outbox WHERE status = 'pending' AND next_attempt_at <= $3 \
             AND (lease_until IS NULL OR lease_until < $3) ORDER BY id LIMIT $4{}) RETURNING {}",
            dialect::SKIP_LOCKED,
            cols(&MAIL_COLS, "")
        );
        let mut tx = dialect::begin(&self.pool).await.map_err(backend)?;
        let rows = q(sql)
            .bind(claim.owner.clone())
            .bind(ts(claim.now + claim.lease))
            .bind(ts(claim.now))
            .bind(i64::from(claim.limit))
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        let mut mails = rows.iter().map(mail_from_row).collect::<Result<Vec<_>>>()?;
        mails.sort_by_key(|m| m.id);
        Ok(mails)
    }

    async fn arm_mails(
        &self,
        owner: &str,
        at: Timestamp,
        arms: &[admit_store::MailArming],
    ) -> Result<Vec<admit_store::ArmOutcome>> {
        if arms.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = dialect::begin(&self.pool).await.map_err(backend)?;
        let outcomes = self.arm_in(&mut tx, owner, at, arms).await?;
        tx.commit().await.map_err(backend)?;
        Ok(outcomes)
    }

    async fn mark_mail_sent(&self, id: MailId, owner: &str, at: Timestamp) -> Result<()> {
        self.settle_mail(id, owner, "status = 'sent', sent_at = $1", vec![Arg::I64(ts(at))]).await
    }

    async fn retry_mail(&self, id: MailId, owner: &str, next_attempt_at: Timestamp, error: &str) -> Result<()> {
        self.settle_mail(
            id,
            owner,
            "next_attempt_at = $1, last_error = $2",
            vec![Arg::I64(ts(next_attempt_at)), Arg::Text(error.to_owned())],
        )
        .await
    }

    async fn fail_mail(&self, id: MailId, owner: &str, at: Timestamp, error: &str) -> Result<()> {
        self.settle_mail(
            id,
            owner,
            "status = 'failed', failed_at = $1, last_error = $2",
            vec![Arg::I64(ts(at)), Arg::Text(error.to_owned())],
        )
        .await
    }

    async fn release_mail(&self, id: MailId, owner: &str) -> Result<()> {
        self.settle_mail(id, owner, "attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END", Vec::new()).await
    }

    async fn mail(&self, id: MailId) -> Result<Option<MailRecord>> {
        let p = &self.prefix;
        let row = q(format!("SELECT {} FROM {p}outbox WHERE id = $1", cols(&MAIL_COLS, "")))
            .bind(id.to_bytes().to_vec())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(mail_from_row).transpose()
    }

    async fn journal(&self, query: &MailQuery) -> Result<Page<MailRecord, MailId>> {
        let p = &self.prefix;
        let limit = page_size(query.limit);
        let mut w = Where::default();
        if let Some(after) = query.after {
            w.cond("id <", Arg::Bytes(after.to_bytes().to_vec()));
        }
        if let Some(account) = query.account_id {
            w.cond("account_id =", Arg::Bytes(account.to_bytes().to_vec()));
        }
        if let Some(recipient) = &query.recipient {
            let v = w.arg(Arg::Text(like_pattern(recipient)));
            w.push(format!("to_key LIKE {v} ESCAPE '\\'"));
        }
        if let Some(subject) = &query.subject {
            let v = w.arg(Arg::Text(like_pattern(subject)));
            w.push(format!("subject_lc LIKE {v} ESCAPE '\\'"));
        }
        if let Some(kind) = query.kind {
            w.cond("kind =", Arg::Text(kind.as_str().to_owned()));
        }
        if let Some(status) = query.status {
            w.cond("status =", Arg::Text(status.as_str().to_owned()));
        }
        if let Some(since) = query.since {
            w.cond("created_at >=", Arg::I64(ts(since)));
        }
        if let Some(until) = query.until {
            w.cond("created_at <", Arg::I64(ts(until)));
        }
        let lim = w.arg(Arg::I64(i64::try_from(limit).unwrap_or(i64::MAX)));
        let sql = format!("SELECT {} FROM {p}outbox{} ORDER BY id DESC LIMIT {lim}", cols(&MAIL_COLS, ""), w.sql());
        let rows = w.bind(q(sql)).fetch_all(&self.pool).await.map_err(backend)?;
        let items = rows.iter().map(mail_from_row).collect::<Result<Vec<_>>>()?;
        Ok(page(items, limit, |m| m.id))
    }

    async fn hit_rate_limit(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
        now: Timestamp,
    ) -> Result<RateLimitDecision> {
        let p = &self.prefix;
        let start = window_start(now, window);
        let resets_at = start + window;
        let count: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
            "INSERT INTO {p}rate_limits (key, window_start, window_end, count) VALUES ($1, $2, $3, 1) \
             ON CONFLICT (key, window_start, window_end) DO UPDATE SET count = {p}rate_limits.count + 1 RETURNING count"
        )))
        .bind(key.to_owned())
        .bind(ts(start))
        .bind(ts(resets_at))
        .fetch_one(&self.pool)
        .await
        .map_err(backend)?;
        let count = codec::i64_to_u64(count);
        Ok(RateLimitDecision { allowed: count <= u64::from(limit), count, resets_at })
    }

    async fn rate_limit_count(&self, key: &str, window: Duration, now: Timestamp) -> Result<u64> {
        let p = &self.prefix;
        let count: Option<i64> = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT count FROM {p}rate_limits WHERE key = $1 AND window_start = $2 AND window_end = $3"
        )))
        .bind(key.to_owned())
        .bind(ts(window_start(now, window)))
        .bind(ts(window_start(now, window) + window))
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        Ok(count.map_or(0, codec::i64_to_u64))
    }

    async fn audit(&self, query: &AuditQuery) -> Result<Page<AuditRecord, AuditId>> {
        let p = &self.prefix;
        let limit = page_size(query.limit);
        let mut w = Where::default();
        if let Some(after) = query.after {
            w.cond("id <", Arg::Bytes(after.to_bytes().to_vec()));
        }
        if let Some(actor) = query.actor {
            w.cond("actor =", Arg::Bytes(actor.to_bytes().to_vec()));
        }
        if let Some(target) = query.target {
            w.cond("target =", Arg::Bytes(target.to_bytes().to_vec()));
        }
        if let Some(action) = query.action {
            w.cond("action =", Arg::Text(action.as_str().to_owned()));
        }
        if let Some(since) = query.since {
            w.cond("at >=", Arg::I64(ts(since)));
        }
        if let Some(until) = query.until {
            w.cond("at <", Arg::I64(ts(until)));
        }
        let lim = w.arg(Arg::I64(i64::try_from(limit).unwrap_or(i64::MAX)));
        let sql = format!("SELECT {} FROM {p}audit{} ORDER BY id DESC LIMIT {lim}", cols(&AUDIT_COLS, ""), w.sql());
        let rows = w.bind(q(sql)).fetch_all(&self.pool).await.map_err(backend)?;
        let items = rows.iter().map(audit_from_row).collect::<Result<Vec<_>>>()?;
        Ok(page(items, limit, |a| a.id))
    }

    async fn purge(&self, before: Timestamp) -> Result<PurgeReport> {
        let p = &self.prefix;
        let mut tx = dialect::begin(&self.pool).await.map_err(backend)?;
        let tokens = q(format!("DELETE FROM {p}tokens WHERE expires_at < $1"))
            .bind(ts(before))
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected();
        let rate_limits = q(format!("DELETE FROM {p}rate_limits WHERE window_end < $1"))
            .bind(ts(before))
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected();
        tx.commit().await.map_err(backend)?;
        Ok(PurgeReport { tokens, rate_limits })
    }
}

/// The SQL condition (on `accounts a`) for accounts in `status` at `now`, exactly as
/// [`AccountRecord::status`] computes it.
fn status_condition(status: AccountStatus, w: &mut Where, now: Timestamp) -> String {
    const AVAILABLE: &str = "a.trashed_at IS NULL AND a.disabled_at IS NULL";
    match status {
        AccountStatus::Trashed => "a.trashed_at IS NOT NULL".to_owned(),
        AccountStatus::Disabled => "(a.trashed_at IS NULL AND a.disabled_at IS NOT NULL)".to_owned(),
        AccountStatus::Created => format!("({AVAILABLE} AND a.lifecycle = 'created')"),
        AccountStatus::Active => format!("({AVAILABLE} AND a.lifecycle = 'active')"),
        AccountStatus::Invited => {
            let v = w.arg(Arg::I64(ts(now)));
            format!("({AVAILABLE} AND a.lifecycle = 'invited' AND a.invitation_expires_at >= {v})")
        }
        AccountStatus::InvitationExpired => {
            let v = w.arg(Arg::I64(ts(now)));
            format!(
                "({AVAILABLE} AND a.lifecycle = 'invited' AND (a.invitation_expires_at IS NULL \
                 OR a.invitation_expires_at < {v}))"
            )
        }
    }
}
