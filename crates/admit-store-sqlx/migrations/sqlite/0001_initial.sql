-- admit schema, version 1 (SQLite). `{prefix}` is replaced by the store's table prefix.
-- Every timestamp is a BIGINT of microseconds since the Unix epoch (values read back are
-- exactly the ones written). Ids are 16-byte BLOBs (UUIDv7: byte order is creation order).

CREATE TABLE IF NOT EXISTS {prefix}accounts (
    id BLOB NOT NULL PRIMARY KEY,
    email TEXT,
    email_key TEXT,
    full_name TEXT NOT NULL,
    name_lc TEXT NOT NULL,
    phone TEXT,
    locale TEXT NOT NULL,
    kind TEXT NOT NULL,
    lifecycle TEXT NOT NULL,
    invitation_expires_at BIGINT,
    password_hash TEXT,
    must_change_password BOOLEAN NOT NULL,
    credential_epoch BIGINT NOT NULL,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    invited_at BIGINT,
    last_invitation_sent_at BIGINT,
    activated_at BIGINT,
    last_login_at BIGINT,
    password_changed_at BIGINT,
    disabled_at BIGINT,
    trashed_at BIGINT,
    labels TEXT NOT NULL,
    CONSTRAINT {prefix}accounts_email_key_uq UNIQUE (email_key)
);
CREATE INDEX IF NOT EXISTS {prefix}accounts_kind_idx ON {prefix}accounts (kind, id);

CREATE TABLE IF NOT EXISTS {prefix}grants (
    account_id BLOB NOT NULL,
    ord BIGINT NOT NULL,
    scope_key TEXT NOT NULL,
    role TEXT NOT NULL,
    PRIMARY KEY (account_id, ord)
);
CREATE INDEX IF NOT EXISTS {prefix}grants_scope_role_idx ON {prefix}grants (scope_key, role, account_id);

CREATE TABLE IF NOT EXISTS {prefix}tokens (
    selector BLOB NOT NULL PRIMARY KEY,
    verifier_hash BLOB NOT NULL,
    account_id BLOB NOT NULL,
    purpose TEXT NOT NULL,
    epoch BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    consumed_at BIGINT,
    revoked_at BIGINT,
    revoked_reason TEXT
);
CREATE INDEX IF NOT EXISTS {prefix}tokens_account_idx ON {prefix}tokens (account_id, purpose);
CREATE INDEX IF NOT EXISTS {prefix}tokens_expires_idx ON {prefix}tokens (expires_at);

CREATE TABLE IF NOT EXISTS {prefix}outbox (
    id BLOB NOT NULL PRIMARY KEY,
    account_id BLOB,
    to_address TEXT NOT NULL,
    to_key TEXT NOT NULL,
    locale TEXT NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    subject_lc TEXT NOT NULL,
    recipient_name TEXT NOT NULL,
    secret TEXT,
    expires_at BIGINT,
    new_email TEXT,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    sent_at BIGINT,
    failed_at BIGINT
);
CREATE INDEX IF NOT EXISTS {prefix}outbox_due_idx ON {prefix}outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS {prefix}outbox_account_idx ON {prefix}outbox (account_id, id);
CREATE INDEX IF NOT EXISTS {prefix}outbox_created_idx ON {prefix}outbox (created_at);

CREATE TABLE IF NOT EXISTS {prefix}audit (
    id BLOB NOT NULL PRIMARY KEY,
    at BIGINT NOT NULL,
    actor BLOB,
    action TEXT NOT NULL,
    target BLOB,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS {prefix}audit_actor_idx ON {prefix}audit (actor, id);
CREATE INDEX IF NOT EXISTS {prefix}audit_target_idx ON {prefix}audit (target, id);
CREATE INDEX IF NOT EXISTS {prefix}audit_action_idx ON {prefix}audit (action, id);

CREATE TABLE IF NOT EXISTS {prefix}rate_limits (
    key TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    window_end BIGINT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (key, window_start)
);
CREATE INDEX IF NOT EXISTS {prefix}rate_limits_end_idx ON {prefix}rate_limits (window_end);
