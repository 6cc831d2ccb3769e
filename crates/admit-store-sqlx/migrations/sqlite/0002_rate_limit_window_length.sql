-- admit schema, version 2 (SQLite): a rate-limit window's length is part of its key.
-- Two windows of one key that start at the same instant but differ in length (1 minute and
-- 1 hour, say) are counted apart and each purged by its own end. SQLite cannot change a
-- primary key in place: the table is rebuilt, its rows kept.
CREATE TABLE {prefix}rate_limits_v2 (
    key TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    window_end BIGINT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (key, window_start, window_end)
);
INSERT INTO {prefix}rate_limits_v2 (key, window_start, window_end, count)
    SELECT key, window_start, window_end, count FROM {prefix}rate_limits;
DROP TABLE {prefix}rate_limits;
ALTER TABLE {prefix}rate_limits_v2 RENAME TO {prefix}rate_limits;
CREATE INDEX IF NOT EXISTS {prefix}rate_limits_end_idx ON {prefix}rate_limits (window_end);
