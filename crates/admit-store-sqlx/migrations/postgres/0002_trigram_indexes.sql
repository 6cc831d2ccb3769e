-- admit schema, version 2 (PostgreSQL): trigram (pg_trgm) GIN indexes for the substring
-- filters of the account list (name, email) and the mail journal (subject, recipient).
-- If the pg_trgm extension cannot be created (no privilege, not installed), this migration
-- creates nothing and the filters scan the rows selected by the other conditions.
DO $admit$
DECLARE
    trgm_schema text;
BEGIN
    BEGIN
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
    EXCEPTION WHEN OTHERS THEN
        NULL;
    END;
    SELECT n.nspname INTO trgm_schema
        FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
        WHERE e.extname = 'pg_trgm';
    IF trgm_schema IS NOT NULL THEN
        EXECUTE format('CREATE INDEX IF NOT EXISTS {prefix}accounts_name_trgm ON {prefix}accounts USING gin (name_lc %I.gin_trgm_ops)', trgm_schema);
        EXECUTE format('CREATE INDEX IF NOT EXISTS {prefix}accounts_email_trgm ON {prefix}accounts USING gin (email_key %I.gin_trgm_ops)', trgm_schema);
        EXECUTE format('CREATE INDEX IF NOT EXISTS {prefix}outbox_subject_trgm ON {prefix}outbox USING gin (subject_lc %I.gin_trgm_ops)', trgm_schema);
        EXECUTE format('CREATE INDEX IF NOT EXISTS {prefix}outbox_to_trgm ON {prefix}outbox USING gin (to_key %I.gin_trgm_ops)', trgm_schema);
    END IF;
END
$admit$;
