//! `admit`: operate an admit deployment from the command line.
//!
//! Every command that changes something goes through the facade ([`admit::Admit`]) as a named
//! actor (`--as EMAIL`, an administrator) or as the system actor (migrations, the first
//! administrator, the retention job, the dispatcher). Exit codes are listed in
//! [`exit`] and in docs/operations.md.

mod db;
mod exit;
mod output;

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use admit::core::{AccountId, Email, MailKind, MailStatus, Timestamp};
use admit::store::{AccountFilter, AccountQuery, GrantFilter, MailQuery};
use admit::{AccountKind, AccountStatus, Admit, AdmitError, Role, Scope};
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::{Value, json};

use crate::db::Database;
use crate::exit::Failure;
use crate::output::Table;

/// Operate admit: migrations, the first administrator, accounts, the mail journal, the
/// outbox, a standalone dispatcher and the retention job.
///
/// Exit codes: 0 success; 1 refused or failed (forbidden, not found, a store error);
/// 2 usage (unknown flag, invalid value); 3 database unreachable or malformed URL;
/// 4 schema behind (run `admit migrate`) or newer than this binary.
#[derive(Debug, Parser)]
#[command(name = "admit", version, propagate_version = true)]
struct Cli {
    /// The database: a SQLite file path, `sqlite:PATH`, or `postgres://user@host/db`.
    #[arg(long, env = "ADMIT_DATABASE_URL", global = true)]
    database_url: Option<String>,
    /// Print JSON (one document on stdout) instead of a table.
    #[arg(long, global = true)]
    json: bool,
    /// The command.
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Applies the schema migrations this binary ships (or checks for missing ones).
    Migrate {
        /// Changes nothing: exit 4 when the schema is behind this binary, 0 when current.
        #[arg(long)]
        check: bool,
    },
    /// Creates the first platform administrator (refused once one exists). The password is
    /// read from standard input (first line), or prompted for on a terminal; never an
    /// argument.
    BootstrapAdmin {
        /// Their email address.
        email: String,
        /// Their full name.
        name: String,
    },
    /// Lists, shows or counts accounts (as an administrator: `--as`).
    Accounts {
        /// What to do.
        #[command(subcommand)]
        command: AccountsCommand,
    },
    /// The mail journal, newest first (as an administrator: `--as`). Secrets never show.
    Journal(JournalArgs),
    /// The outbox: what waits, what failed and why; re-queue failed mails.
    Outbox {
        /// What to do.
        #[command(subcommand)]
        command: OutboxCommand,
    },
    /// Runs a dispatcher delivering the outbox over SMTP until SIGINT or SIGTERM.
    Dispatch(DispatchArgs),
    /// The retention job: purges accounts trashed longer than the retention period, and old
    /// token records and rate-limit windows (as the system actor).
    Purge {
        /// Lists what would be purged; changes nothing.
        #[arg(long)]
        dry_run: bool,
        /// How long trashed accounts stay restorable; must match the host's
        /// `AdmitBuilder::trash_retention` (default 30 days).
        #[arg(long, env = "ADMIT_TRASH_RETENTION_DAYS", default_value_t = 30)]
        trash_retention_days: u32,
    },
}

/// Who runs a read or an administrative command.
#[derive(Debug, Args)]
struct Actor {
    /// The email address of the administrator this command runs as (reads are authorized
    /// and refusals audited like any other call).
    #[arg(long = "as", env = "ADMIT_ACTOR", value_name = "EMAIL")]
    actor: String,
}

#[derive(Debug, Args)]
struct AccountFilterArgs {
    /// Only accounts with a grant in this scope: `platform`, `program:ID` or `client_file:ID`.
    #[arg(long)]
    scope: Option<String>,
    /// Only accounts with this role (in `--scope` if given).
    #[arg(long, value_enum)]
    role: Option<RoleArg>,
    /// Only this kind of account.
    #[arg(long, value_enum)]
    kind: Option<KindArg>,
    /// Case-insensitive part of the name or the address.
    #[arg(long)]
    text: Option<String>,
}

#[derive(Debug, Subcommand)]
enum AccountsCommand {
    /// A page of accounts with their status, in creation order.
    List {
        /// Who asks.
        #[command(flatten)]
        actor: Actor,
        /// Filters.
        #[command(flatten)]
        filter: AccountFilterArgs,
        /// Only accounts in this status.
        #[arg(long, value_enum)]
        status: Option<StatusArg>,
        /// Continue after this account id (the previous page's `next`).
        #[arg(long)]
        after: Option<String>,
        /// Page size (at most 1000).
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// One account, by id or email address.
    Show {
        /// Who asks.
        #[command(flatten)]
        actor: Actor,
        /// The account's id or email address.
        account: String,
    },
    /// How many accounts are in each status.
    Count {
        /// Who asks.
        #[command(flatten)]
        actor: Actor,
        /// Filters.
        #[command(flatten)]
        filter: AccountFilterArgs,
    },
}

#[derive(Debug, Args)]
struct JournalArgs {
    /// Who asks.
    #[command(flatten)]
    actor: Actor,
    /// Case-insensitive part of the recipient address.
    #[arg(long)]
    recipient: Option<String>,
    /// Only mails about this account (id).
    #[arg(long)]
    account: Option<String>,
    /// Case-insensitive part of the subject (« mot de passe »).
    #[arg(long)]
    subject: Option<String>,
    /// Only this template (`invitation`, `password_reset`, …).
    #[arg(long)]
    kind: Option<String>,
    /// Only this delivery status.
    #[arg(long, value_enum)]
    status: Option<MailStatusArg>,
    /// Enqueued at or after (RFC 3339).
    #[arg(long)]
    since: Option<String>,
    /// Enqueued strictly before (RFC 3339).
    #[arg(long)]
    until: Option<String>,
    /// Continue after this mail id (the previous page's `next`).
    #[arg(long)]
    after: Option<String>,
    /// Page size (at most 1000).
    #[arg(long, default_value_t = 50)]
    limit: u32,
}

#[derive(Debug, Subcommand)]
enum OutboxCommand {
    /// Pending mails, failed mails by reason, the age of the oldest pending mail.
    Status {
        /// Who asks.
        #[command(flatten)]
        actor: Actor,
    },
    /// Re-sends failed mails through the facade, as `--as`: a failed invitation or reminder
    /// becomes a new invitation (`reinvite`), a failed reset a new reset link, a failed
    /// temporary password a new one; each with a fresh secret (a failed mail's own secret
    /// was scrubbed), authorized, audited and rate-limited like the console's buttons.
    /// A failed mail already followed by a newer mail of the same template to the same
    /// account is skipped, so running it twice sends nothing twice. Notices (password or
    /// address changed) are not re-sent.
    Retry {
        /// Who acts.
        #[command(flatten)]
        actor: Actor,
        /// Only this template.
        #[arg(long)]
        kind: Option<String>,
        /// Only mails whose failure reason contains this text (case-sensitive).
        #[arg(long)]
        reason: Option<String>,
        /// Only mails enqueued at or after (RFC 3339).
        #[arg(long)]
        since: Option<String>,
        /// Lists what would be re-sent; changes nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Args)]
struct DispatchArgs {
    /// The SMTP server.
    #[arg(long, env = "ADMIT_SMTP_HOST")]
    smtp_host: String,
    /// Its port (default: the TLS mode's usual port).
    #[arg(long, env = "ADMIT_SMTP_PORT")]
    smtp_port: Option<u16>,
    /// How the connection is protected.
    #[arg(long, env = "ADMIT_SMTP_TLS", value_enum, default_value = "starttls")]
    smtp_tls: TlsArg,
    /// The SMTP user; its password comes from `ADMIT_SMTP_PASSWORD` only.
    #[arg(long, env = "ADMIT_SMTP_USER")]
    smtp_user: Option<String>,
    /// The base URL of the links in the mails (the host's public address).
    #[arg(long, env = "ADMIT_LINK_BASE")]
    link_base: String,
    /// The sender's address (`From:`).
    #[arg(long, env = "ADMIT_SENDER_ADDRESS", default_value = "no-reply@localhost.localdomain")]
    sender_address: String,
    /// The sender's name and product name in the mails.
    #[arg(long, env = "ADMIT_SENDER_NAME", default_value = "admit")]
    sender_name: String,
    /// Mails claimed per round.
    #[arg(long, default_value_t = 64)]
    batch_size: u32,
    /// Mails sent at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// How long a claim holds, in seconds.
    #[arg(long, default_value_t = 300)]
    lease_seconds: u32,
    /// Runs the retention job (`admit purge`) every this many seconds (0: never).
    #[arg(long, env = "ADMIT_PURGE_EVERY_SECONDS", default_value_t = 0)]
    purge_every_seconds: u64,
    /// The retention period of the scheduled retention job (as `admit purge`).
    #[arg(long, env = "ADMIT_TRASH_RETENTION_DAYS", default_value_t = 30)]
    trash_retention_days: u32,
    /// Stops once nothing is due instead of waiting for a signal.
    #[arg(long)]
    drain: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum TlsArg {
    /// TLS from the first byte (port 465).
    Implicit,
    /// STARTTLS, required (port 587).
    Starttls,
    /// No encryption (port 25): a relay on the same host or a test network only.
    Plaintext,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum RoleArg {
    Guest,
    Collaborator,
    Administrator,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum KindArg {
    Member,
    Public,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum StatusArg {
    Created,
    Invited,
    InvitationExpired,
    Active,
    Disabled,
    Trashed,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum MailStatusArg {
    Pending,
    Sent,
    Failed,
}

impl From<RoleArg> for Role {
    fn from(role: RoleArg) -> Role {
        match role {
            RoleArg::Guest => Role::Guest,
            RoleArg::Collaborator => Role::Collaborator,
            RoleArg::Administrator => Role::Administrator,
        }
    }
}

impl From<StatusArg> for AccountStatus {
    fn from(status: StatusArg) -> AccountStatus {
        match status {
            StatusArg::Created => AccountStatus::Created,
            StatusArg::Invited => AccountStatus::Invited,
            StatusArg::InvitationExpired => AccountStatus::InvitationExpired,
            StatusArg::Active => AccountStatus::Active,
            StatusArg::Disabled => AccountStatus::Disabled,
            StatusArg::Trashed => AccountStatus::Trashed,
        }
    }
}

impl From<MailStatusArg> for MailStatus {
    fn from(status: MailStatusArg) -> MailStatus {
        match status {
            MailStatusArg::Pending => MailStatus::Pending,
            MailStatusArg::Sent => MailStatus::Sent,
            MailStatusArg::Failed => MailStatus::Failed,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => return Failure::other(format!("cannot start the runtime: {error}")).report(cli.json),
    };
    let json = cli.json;
    match runtime.block_on(run(cli)) {
        Ok(value) => {
            if json {
                println!("{}", value.json);
            } else {
                print!("{}", value.text);
            }
            ExitCode::from(exit::OK)
        }
        Err(failure) => failure.report(json),
    }
}

/// What a command prints: text for people, JSON for scripts.
struct Out {
    text: String,
    json: Value,
}

async fn run(cli: Cli) -> Result<Out, Failure> {
    let url = cli.database_url.as_deref().ok_or_else(|| {
        Failure::usage("no database: pass --database-url or set ADMIT_DATABASE_URL (a SQLite path or postgres:// URL)")
    })?;
    match cli.command {
        Command::Migrate { check } => migrate(url, check).await,
        Command::BootstrapAdmin { email, name } => bootstrap_admin(url, &email, &name).await,
        Command::Accounts { command } => accounts(url, command).await,
        Command::Journal(args) => journal(url, args).await,
        Command::Outbox { command } => outbox(url, command).await,
        Command::Dispatch(args) => dispatch(url, args).await,
        Command::Purge { dry_run, trash_retention_days } => purge(url, dry_run, trash_retention_days).await,
    }
}

async fn migrate(url: &str, check: bool) -> Result<Out, Failure> {
    let db = Database::open(url, !check).await?;
    let before = db.applied().await?;
    let shipped = db.shipped();
    if let Some(unknown) = before.iter().find(|v| !shipped.contains(v)) {
        return Err(Failure::schema(format!(
            "the database has migration {unknown}, unknown to this binary: a newer admit migrated it"
        )));
    }
    let missing: Vec<i64> = shipped.iter().copied().filter(|v| !before.contains(v)).collect();
    if check {
        let json = json!({ "applied": before, "shipped": shipped, "missing": missing, "current": missing.is_empty() });
        if !missing.is_empty() {
            let message = format!("schema behind: missing migrations {missing:?}");
            return Err(Failure::schema(message.clone()).with_output(format!("{message}\n"), json));
        }
        return Ok(Out { text: format!("schema current (migrations {shipped:?})\n"), json });
    }
    db.migrate().await?;
    let after = db.applied().await?;
    let text = if missing.is_empty() {
        format!("schema already current (migrations {after:?})\n")
    } else {
        format!("applied migrations {missing:?}; schema current (migrations {after:?})\n")
    };
    Ok(Out { text, json: json!({ "applied_now": missing, "applied": after }) })
}

/// Reads the password: the first line of standard input, or a prompt without echo (twice)
/// on a terminal.
fn read_password() -> Result<admit::secrecy::SecretString, Failure> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        let first = prompt_hidden("Password: ")?;
        let second = prompt_hidden("Password again: ")?;
        if first != second {
            return Err(Failure::usage("the two passwords differ"));
        }
        return Ok(first.into());
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line).map_err(|e| Failure::usage(format!("cannot read the password: {e}")))?;
    let password = line.trim_end_matches(['\n', '\r']).to_owned();
    if password.is_empty() {
        return Err(Failure::usage("no password on standard input"));
    }
    Ok(password.into())
}

/// A prompt on standard error with the terminal's echo off (`stty -echo`).
fn prompt_hidden(prompt: &str) -> Result<String, Failure> {
    let stty = |arg: &str| {
        std::process::Command::new("stty")
            .arg(arg)
            .stdin(std::process::Stdio::inherit())
            .status()
            .is_ok_and(|s| s.success())
    };
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let hidden = stty("-echo");
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line);
    if hidden {
        stty("echo");
    }
    eprintln!();
    read.map_err(|e| Failure::usage(format!("cannot read the password: {e}")))?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

async fn bootstrap_admin(url: &str, email: &str, name: &str) -> Result<Out, Failure> {
    let db = Database::open_current(url).await?;
    let admit = db.admit(None)?;
    if admit.store().count_platform_administrators().await.map_err(Failure::store)? > 0 {
        return Err(Failure::refused("refused: a platform administrator already exists"));
    }
    let password = read_password()?;
    let account = admit.bootstrap_administrator(email, name, password).await.map_err(|e| match e {
        AdmitError::Forbidden(_) => Failure::refused("refused: a platform administrator already exists"),
        other => Failure::admit(other),
    })?;
    let email = account.email.as_ref().map(|e| e.as_str().to_owned()).unwrap_or_default();
    Ok(Out {
        text: format!("created platform administrator {} <{email}>\n", account.id),
        json: json!({ "id": account.id.to_string(), "email": email }),
    })
}

/// The account id of the administrator named by `--as`.
async fn actor_id(admit: &Admit, actor: &Actor) -> Result<AccountId, Failure> {
    let email = Email::parse(&actor.actor).map_err(|e| Failure::usage(format!("--as: {e}")))?;
    match admit.store().account_by_email(email.key()).await.map_err(Failure::store)? {
        Some(account) => Ok(account.id),
        None => Err(Failure::refused(format!("--as: no account with the address {}", email.as_str()))),
    }
}

fn account_filter(args: &AccountFilterArgs) -> Result<AccountFilter, Failure> {
    let scope = match args.scope.as_deref() {
        None => None,
        Some(text) => Some(Scope::from_key(text).ok_or_else(|| {
            Failure::usage(format!("--scope: `{text}` is not `platform`, `program:ID` or `client_file:ID`"))
        })?),
    };
    let grant =
        (scope.is_some() || args.role.is_some()).then(|| GrantFilter { scope, role: args.role.map(Role::from) });
    Ok(AccountFilter {
        grant,
        kind: args.kind.map(|k| match k {
            KindArg::Member => AccountKind::Member,
            KindArg::Public => AccountKind::Public,
        }),
        text: args.text.clone(),
    })
}

fn parse_account_id(text: &str) -> Result<AccountId, Failure> {
    AccountId::parse(text).map_err(|e| Failure::usage(format!("`{text}` is not an account id: {e}")))
}

async fn accounts(url: &str, command: AccountsCommand) -> Result<Out, Failure> {
    let db = Database::open_current(url).await?;
    let admit = db.admit(None)?;
    match command {
        AccountsCommand::List { actor, filter, status, after, limit } => {
            let mut query = AccountQuery::new(admit.now());
            query.filter = account_filter(&filter)?;
            query.status = status.map(AccountStatus::from);
            query.after = after.as_deref().map(parse_account_id).transpose()?;
            query.limit = limit;
            let actor = actor_id(&admit, &actor).await?;
            let page = admit.list_accounts(actor, query).await.map_err(Failure::admit)?;
            let mut table = Table::new(["ID", "EMAIL", "NAME", "KIND", "STATUS", "GRANTS"]);
            let mut rows = Vec::new();
            for view in &page.items {
                let a = &view.account;
                let email = a.email.as_ref().map(|e| e.as_str()).unwrap_or("");
                let grants: Vec<String> = a.grants.iter().map(|g| format!("{}:{}", g.scope, g.role)).collect();
                table.row([
                    a.id.to_string(),
                    email.to_owned(),
                    a.full_name.as_str().to_owned(),
                    a.kind.as_str().to_owned(),
                    view.status.as_str().to_owned(),
                    grants.join(" "),
                ]);
                rows.push(output::account_json(view));
            }
            let next = page.next.map(|id| id.to_string());
            let mut text = table.render();
            if let Some(next) = &next {
                text.push_str(&format!("more: --after {next}\n"));
            }
            Ok(Out { text, json: json!({ "accounts": rows, "next": next }) })
        }
        AccountsCommand::Show { actor, account } => {
            let actor = actor_id(&admit, &actor).await?;
            let id = if account.contains('@') {
                let email = Email::parse(&account).map_err(|e| Failure::usage(format!("`{account}`: {e}")))?;
                match admit.store().account_by_email(email.key()).await.map_err(Failure::store)? {
                    Some(a) => a.id,
                    None => return Err(Failure::refused(format!("no account with the address {}", email.as_str()))),
                }
            } else {
                parse_account_id(&account)?
            };
            let view = admit.account_view(actor, id).await.map_err(Failure::admit)?;
            let value = output::account_json(&view);
            let mut text = String::new();
            if let Value::Object(map) = &value {
                for (key, v) in map {
                    let shown = match v {
                        Value::String(s) => s.clone(),
                        Value::Null => "-".to_owned(),
                        other => other.to_string(),
                    };
                    text.push_str(&format!("{key:<32} {shown}\n"));
                }
            }
            Ok(Out { text, json: value })
        }
        AccountsCommand::Count { actor, filter } => {
            let filter = account_filter(&filter)?;
            let actor = actor_id(&admit, &actor).await?;
            let counts = admit.count_accounts(actor, filter).await.map_err(Failure::admit)?;
            let mut table = Table::new(["STATUS", "COUNT"]);
            let mut map = serde_json::Map::new();
            for status in AccountStatus::ALL {
                table.row([status.as_str().to_owned(), counts.get(status).to_string()]);
                map.insert(status.as_str().to_owned(), json!(counts.get(status)));
            }
            table.row(["total".to_owned(), counts.total().to_string()]);
            map.insert("total".to_owned(), json!(counts.total()));
            Ok(Out { text: table.render(), json: Value::Object(map) })
        }
    }
}

fn parse_time(flag: &str, text: &str) -> Result<Timestamp, Failure> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map(Timestamp::from_datetime)
        .map_err(|e| Failure::usage(format!("{flag}: `{text}` is not an RFC 3339 time: {e}")))
}

async fn journal(url: &str, args: JournalArgs) -> Result<Out, Failure> {
    let db = Database::open_current(url).await?;
    let admit = db.admit(None)?;
    let kind = match args.kind.as_deref() {
        None => None,
        Some(text) => Some(
            MailKind::from_name(text).ok_or_else(|| Failure::usage(format!("--kind: unknown template `{text}`")))?,
        ),
    };
    let query = MailQuery {
        recipient: args.recipient,
        account_id: args.account.as_deref().map(parse_account_id).transpose()?,
        subject: args.subject,
        kind,
        status: args.status.map(MailStatus::from),
        since: args.since.as_deref().map(|t| parse_time("--since", t)).transpose()?,
        until: args.until.as_deref().map(|t| parse_time("--until", t)).transpose()?,
        after: args
            .after
            .as_deref()
            .map(|t| admit::core::MailId::parse(t).map_err(|e| Failure::usage(format!("--after: {e}"))))
            .transpose()?,
        limit: args.limit,
    };
    let actor = actor_id(&admit, &args.actor).await?;
    let page = admit.mail_journal(actor, query).await.map_err(Failure::admit)?;
    let mut table = Table::new(["ID", "ENQUEUED", "STATUS", "KIND", "ATTEMPTS", "TO", "SUBJECT", "ERROR"]);
    let mut rows = Vec::new();
    for mail in &page.items {
        table.row([
            mail.id.to_string(),
            mail.created_at.to_string(),
            mail.status.as_str().to_owned(),
            mail.kind.as_str().to_owned(),
            mail.attempts.to_string(),
            mail.to.as_str().to_owned(),
            mail.subject.clone(),
            mail.last_error.clone().unwrap_or_default(),
        ]);
        rows.push(output::mail_json(mail));
    }
    let next = page.next.map(|id| id.to_string());
    let mut text = table.render();
    if let Some(next) = &next {
        text.push_str(&format!("more: --after {next}\n"));
    }
    Ok(Out { text, json: json!({ "mails": rows, "next": next }) })
}

async fn outbox(url: &str, command: OutboxCommand) -> Result<Out, Failure> {
    let db = Database::open_current(url).await?;
    let admit = db.admit(None)?;
    match command {
        OutboxCommand::Status { actor } => {
            let actor = actor_id(&admit, &actor).await?;
            let now = admit.now();
            let mut pending = 0u64;
            let mut oldest: Option<Timestamp> = None;
            let mut failed = 0u64;
            let mut reasons: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
            for status in [MailStatus::Pending, MailStatus::Failed] {
                let mut query = MailQuery {
                    status: Some(status),
                    limit: admit::store::query::MAX_PAGE_SIZE,
                    ..MailQuery::default()
                };
                loop {
                    let page = admit.mail_journal(actor, query.clone()).await.map_err(Failure::admit)?;
                    for mail in &page.items {
                        if status == MailStatus::Pending {
                            pending += 1;
                            oldest = Some(oldest.map_or(mail.created_at, |o| o.min(mail.created_at)));
                        } else {
                            failed += 1;
                            *reasons
                                .entry(mail.last_error.clone().unwrap_or_else(|| "(none)".to_owned()))
                                .or_default() += 1;
                        }
                    }
                    match page.next {
                        Some(next) => query.after = Some(next),
                        None => break,
                    }
                }
            }
            let age = oldest.map(|o| now.since(o).whole_seconds().max(0));
            let mut text = format!(
                "pending: {pending}\noldest pending: {}\nfailed: {failed}\n",
                age.map_or_else(|| "-".to_owned(), |s| format!("{s} s")),
            );
            if !reasons.is_empty() {
                let mut table = Table::new(["FAILED", "REASON"]);
                for (reason, count) in &reasons {
                    table.row([count.to_string(), reason.clone()]);
                }
                text.push_str(&table.render());
            }
            let reasons: Vec<Value> = reasons.iter().map(|(r, c)| json!({ "reason": r, "count": c })).collect();
            Ok(Out {
                text,
                json: json!({
                    "pending": pending,
                    "oldest_pending_age_seconds": age,
                    "failed": failed,
                    "failed_reasons": reasons,
                }),
            })
        }
        OutboxCommand::Retry { actor, kind, reason, since, dry_run } => {
            let kind = match kind.as_deref() {
                None => None,
                Some(text) => Some(
                    MailKind::from_name(text)
                        .ok_or_else(|| Failure::usage(format!("--kind: unknown template `{text}`")))?,
                ),
            };
            let since = since.as_deref().map(|t| parse_time("--since", t)).transpose()?;
            let actor = actor_id(&admit, &actor).await?;
            retry(&admit, actor, kind, reason.as_deref(), since, dry_run).await
        }
    }
}

/// `outbox retry`: one facade re-send per failed mail, newest first, once per account and
/// template.
async fn retry(
    admit: &Admit,
    actor: AccountId,
    kind: Option<MailKind>,
    reason: Option<&str>,
    since: Option<Timestamp>,
    dry_run: bool,
) -> Result<Out, Failure> {
    let mut failed = Vec::new();
    let mut query = MailQuery {
        status: Some(MailStatus::Failed),
        kind,
        since,
        limit: admit::store::query::MAX_PAGE_SIZE,
        ..MailQuery::default()
    };
    loop {
        let page = admit.mail_journal(actor, query.clone()).await.map_err(Failure::admit)?;
        failed.extend(
            page.items
                .into_iter()
                .filter(|m| reason.is_none_or(|r| m.last_error.as_deref().is_some_and(|e| e.contains(r)))),
        );
        match page.next {
            Some(next) => query.after = Some(next),
            None => break,
        }
    }
    let mut done = std::collections::HashSet::new();
    let mut table = Table::new(["MAIL", "KIND", "ACCOUNT", "OUTCOME"]);
    let mut rows = Vec::new();
    let (mut resent, mut skipped, mut refused) = (0u64, 0u64, 0u64);
    for mail in &failed {
        let account = mail.account_id;
        let outcome = match account {
            None => Err("skipped: no account".to_owned()),
            Some(_) if !mail.kind.carries_secret() => Err("skipped: a notice, not re-sent".to_owned()),
            Some(account) if !done.insert((account, family(mail.kind))) => {
                Err("skipped: a newer failed mail of this template is re-sent".to_owned())
            }
            Some(account) => {
                // Already followed by a newer mail of the same template?
                let newer = MailQuery { account_id: Some(account), limit: 50, ..MailQuery::default() };
                let page = admit.mail_journal(actor, newer).await.map_err(Failure::admit)?;
                if page.items.iter().any(|m| m.id > mail.id && family(m.kind) == family(mail.kind)) {
                    Err("skipped: already followed by a newer mail".to_owned())
                } else if dry_run {
                    Ok("would re-send".to_owned())
                } else {
                    let result = match mail.kind {
                        MailKind::Invitation | MailKind::InvitationReminder => {
                            admit.reinvite(actor, account).await.map(drop)
                        }
                        MailKind::PasswordReset => admit.send_password_reset(actor, account).await,
                        _ => admit.issue_temporary_password(actor, account).await,
                    };
                    match result {
                        Ok(()) => Ok("re-sent".to_owned()),
                        Err(AdmitError::Store(e)) => return Err(Failure::store(e)),
                        Err(e) => {
                            refused += 1;
                            Err(format!("refused: {e}"))
                        }
                    }
                }
            }
        };
        let text = match &outcome {
            Ok(text) => {
                resent += 1;
                text.clone()
            }
            Err(text) => {
                if text.starts_with("skipped") {
                    skipped += 1;
                }
                text.clone()
            }
        };
        let account_text = account.map(|a| a.to_string()).unwrap_or_default();
        table.row([mail.id.to_string(), mail.kind.as_str().to_owned(), account_text.clone(), text.clone()]);
        rows.push(json!({ "mail": mail.id.to_string(), "kind": mail.kind.as_str(), "account": account_text, "outcome": text }));
    }
    let label = if dry_run { "would re-send" } else { "re-sent" };
    let text = format!("{label} {resent}, skipped {skipped}, refused {refused}\n{}", table.render());
    let json = json!({ "dry_run": dry_run, "resent": resent, "skipped": skipped, "refused": refused, "mails": rows });
    if refused > 0 {
        return Err(Failure::refused(format!("{refused} re-sends refused")).with_output(text, json));
    }
    Ok(Out { text, json })
}

/// Invitations and reminders are one family: a reminder follows a failed invitation.
fn family(kind: MailKind) -> u8 {
    match kind {
        MailKind::Invitation | MailKind::InvitationReminder => 0,
        MailKind::PasswordReset => 1,
        MailKind::TemporaryPassword => 2,
        MailKind::PasswordChanged => 3,
        MailKind::EmailChanged => 4,
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

async fn dispatch(url: &str, args: DispatchArgs) -> Result<Out, Failure> {
    let _ = tracing_subscriber::fmt().with_writer(std::io::stderr).with_target(true).try_init();
    let tls = match args.smtp_tls {
        TlsArg::Implicit => admit_mail_smtp::Tls::Implicit,
        TlsArg::Starttls => admit_mail_smtp::Tls::StartTls,
        TlsArg::Plaintext => admit_mail_smtp::Tls::DangerousPlaintext,
    };
    let db = Database::open_current(url).await?;
    let mut smtp = admit::SmtpTransport::builder(args.smtp_host.clone()).tls(tls);
    if let Some(port) = args.smtp_port {
        smtp = smtp.port(port);
    }
    if let Some(user) = &args.smtp_user {
        let password = std::env::var("ADMIT_SMTP_PASSWORD")
            .map_err(|_| Failure::usage("--smtp-user needs its password in ADMIT_SMTP_PASSWORD"))?;
        smtp = smtp.credentials(user.clone(), admit::secrecy::SecretString::from(password));
    }
    let transport = smtp.build().map_err(|e| Failure::usage(format!("SMTP settings: {e}")))?;
    if args.trash_retention_days == 0 {
        return Err(Failure::usage("--trash-retention-days must be at least 1"));
    }
    let retention = time::Duration::days(i64::from(args.trash_retention_days));
    let admit =
        db.admit_with(Arc::new(transport), &args.link_base, &args.sender_name, &args.sender_address, retention)?;
    let config = admit::DispatcherConfig {
        batch_size: args.batch_size,
        concurrency: args.concurrency,
        lease: time::Duration::seconds(i64::from(args.lease_seconds)),
        ..admit::DispatcherConfig::default()
    };
    let dispatcher = admit.dispatcher(config);
    let started = std::time::Instant::now();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let purger = (args.purge_every_seconds > 0).then(|| {
        let admit = admit.clone();
        let mut stop = stop_rx.clone();
        let every = StdDuration::from_secs(args.purge_every_seconds);
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(every);
            loop {
                tokio::select! {
                    _ = stop.changed() => return,
                    _ = interval.tick() => match admit.purge_expired().await {
                        Ok(purged) => tracing::info!(target: "admit::retention", purged, "retention job ran"),
                        Err(error) => tracing::error!(target: "admit::retention", %error, "retention job failed"),
                    },
                }
            }
        })
    });
    let report = if args.drain {
        dispatcher.drain().await.map_err(Failure::admit)?
    } else {
        tracing::info!("dispatcher started; SIGINT or SIGTERM stops it");
        dispatcher.run(shutdown_signal()).await
    };
    let _ = stop_tx.send(true);
    if let Some(purger) = purger {
        let _ = purger.await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let json = json!({
        "claimed": report.claimed,
        "sent": report.sent,
        "retried": report.retried,
        "failed": report.failed,
        "lost_leases": report.lost_leases,
        "released": report.released,
        "seconds": seconds,
    });
    let text = format!(
        "dispatcher stopped after {seconds:.1} s: claimed {}, sent {}, retried {}, failed {}, lost leases {}, released {}\n",
        report.claimed, report.sent, report.retried, report.failed, report.lost_leases, report.released
    );
    Ok(Out { text, json })
}

async fn purge(url: &str, dry_run: bool, retention_days: u32) -> Result<Out, Failure> {
    if retention_days == 0 {
        return Err(Failure::usage("--trash-retention-days must be at least 1"));
    }
    let retention = time::Duration::days(i64::from(retention_days));
    let db = Database::open_current(url).await?;
    let admit = db.admit_retention(retention)?;
    if !dry_run {
        let purged = admit.purge_expired().await.map_err(Failure::admit)?;
        return Ok(Out { text: format!("purged {purged} accounts\n"), json: json!({ "purged": purged }) });
    }
    // What the retention job would purge: accounts trashed before now - retention.
    let now = admit.now();
    let cutoff = now - retention;
    let mut query = AccountQuery::new(now);
    query.status = Some(AccountStatus::Trashed);
    query.limit = admit::store::query::MAX_PAGE_SIZE;
    let mut table = Table::new(["ID", "TRASHED AT"]);
    let mut ids = Vec::new();
    loop {
        let page = admit.store().list_accounts(&query).await.map_err(Failure::store)?;
        for account in &page.items {
            if account.trashed_at.is_some_and(|at| at <= cutoff) {
                table.row([account.id.to_string(), account.trashed_at.map(|t| t.to_string()).unwrap_or_default()]);
                ids.push(account.id.to_string());
            }
        }
        match page.next {
            Some(next) => query.after = Some(next),
            None => break,
        }
    }
    let text = format!("would purge {} accounts (trashed before {cutoff})\n{}", ids.len(), table.render());
    Ok(Out { text, json: json!({ "dry_run": true, "would_purge": ids.len(), "accounts": ids }) })
}
