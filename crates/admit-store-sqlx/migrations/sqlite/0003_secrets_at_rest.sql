-- admit schema, version 2 (SQLite): secrets at rest. The outbox no longer holds any secret:
-- a mail keeps an *intent* (which reserved token, or which credential epoch for a temporary
-- password) and the dispatcher mints the secret just before sending. Tokens may be reserved
-- without a verifier. Mails get the status 'superseded'.
--
-- Existing secrets are nulled, then the column is dropped. SQLite may keep the old bytes in
-- free pages and in the WAL: run `VACUUM` (and a checkpoint) after upgrading to remove them
-- physically (docs/storage.md).

UPDATE {prefix}outbox SET secret = NULL WHERE secret IS NOT NULL;
ALTER TABLE {prefix}outbox DROP COLUMN secret;
ALTER TABLE {prefix}outbox ADD COLUMN intent_kind TEXT;
ALTER TABLE {prefix}outbox ADD COLUMN intent_selector BLOB;
ALTER TABLE {prefix}outbox ADD COLUMN intent_epoch BIGINT;
CREATE INDEX IF NOT EXISTS {prefix}outbox_pending_account_idx ON {prefix}outbox (account_id) WHERE status = 'pending';

-- SQLite cannot drop a NOT NULL constraint in place: rebuild the tokens table.
CREATE TABLE {prefix}tokens_v2 (
    selector BLOB NOT NULL PRIMARY KEY,
    verifier_hash BLOB,
    account_id BLOB NOT NULL,
    purpose TEXT NOT NULL,
    epoch BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    consumed_at BIGINT,
    revoked_at BIGINT,
    revoked_reason TEXT
);
INSERT INTO {prefix}tokens_v2 (selector, verifier_hash, account_id, purpose, epoch, created_at, expires_at,
    consumed_at, revoked_at, revoked_reason)
    SELECT selector, verifier_hash, account_id, purpose, epoch, created_at, expires_at, consumed_at, revoked_at,
        revoked_reason FROM {prefix}tokens;
DROP TABLE {prefix}tokens;
ALTER TABLE {prefix}tokens_v2 RENAME TO {prefix}tokens;
CREATE INDEX IF NOT EXISTS {prefix}tokens_account_idx ON {prefix}tokens (account_id, purpose);
CREATE INDEX IF NOT EXISTS {prefix}tokens_expires_idx ON {prefix}tokens (expires_at);
