-- admit schema, version 3 (PostgreSQL): secrets at rest. The outbox no longer holds any
-- secret: a mail keeps an *intent* (which reserved token, or which credential epoch for a
-- temporary password) and the dispatcher mints the secret just before sending. Tokens may
-- be reserved without a verifier. Mails get the status 'superseded'.
--
-- Existing secrets are nulled, then the column is dropped. PostgreSQL keeps the old tuple
-- versions (and a dropped column's bytes) until the table is rewritten: run
-- `VACUUM FULL {prefix}outbox` after upgrading to remove them physically (docs/storage.md).

UPDATE {prefix}outbox SET secret = NULL WHERE secret IS NOT NULL;
ALTER TABLE {prefix}outbox DROP COLUMN secret;
ALTER TABLE {prefix}outbox ADD COLUMN intent_kind TEXT;
ALTER TABLE {prefix}outbox ADD COLUMN intent_selector BYTEA;
ALTER TABLE {prefix}outbox ADD COLUMN intent_epoch BIGINT;
CREATE INDEX IF NOT EXISTS {prefix}outbox_pending_account_idx ON {prefix}outbox (account_id) WHERE status = 'pending';
ALTER TABLE {prefix}tokens ALTER COLUMN verifier_hash DROP NOT NULL;
