-- admit schema, version 3 (PostgreSQL): a rate-limit window's length is part of its key.
-- Two windows of one key that start at the same instant but differ in length (1 minute and
-- 1 hour, say) are counted apart and each purged by its own end.
ALTER TABLE {prefix}rate_limits DROP CONSTRAINT {prefix}rate_limits_pkey;
ALTER TABLE {prefix}rate_limits ADD CONSTRAINT {prefix}rate_limits_pkey PRIMARY KEY (key, window_start, window_end);
