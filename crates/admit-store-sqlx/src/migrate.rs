//! The embedded migrations and admit's own history table.

/// One forward-only schema step. `{prefix}` in `sql` is replaced by the table prefix.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Migration {
    pub(crate) version: i64,
    pub(crate) name: &'static str,
    pub(crate) sql: &'static str,
}

impl Migration {
    /// The SQL for a table prefix.
    pub(crate) fn sql_for(&self, prefix: &str) -> String {
        self.sql.replace("{prefix}", prefix)
    }

    /// FNV-1a of the migration text, kept in the history to detect a changed migration.
    pub(crate) fn checksum(&self) -> i64 {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in self.sql.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        i64::from_ne_bytes(hash.to_ne_bytes())
    }
}

#[cfg(feature = "sqlite")]
pub(crate) const SQLITE: &[Migration] = &[
    Migration { version: 1, name: "initial", sql: include_str!("../migrations/sqlite/0001_initial.sql") },
    Migration {
        version: 2,
        name: "rate_limit_window_length",
        sql: include_str!("../migrations/sqlite/0002_rate_limit_window_length.sql"),
    },
    Migration {
        version: 3,
        name: "secrets_at_rest",
        sql: include_str!("../migrations/sqlite/0003_secrets_at_rest.sql"),
    },
];

#[cfg(feature = "postgres")]
pub(crate) const POSTGRES: &[Migration] = &[
    Migration { version: 1, name: "initial", sql: include_str!("../migrations/postgres/0001_initial.sql") },
    Migration {
        version: 2,
        name: "trigram_indexes",
        sql: include_str!("../migrations/postgres/0002_trigram_indexes.sql"),
    },
    Migration {
        version: 3,
        name: "rate_limit_window_length",
        sql: include_str!("../migrations/postgres/0003_rate_limit_window_length.sql"),
    },
    Migration {
        version: 4,
        name: "secrets_at_rest",
        sql: include_str!("../migrations/postgres/0004_secrets_at_rest.sql"),
    },
];

/// The default table prefix.
pub const DEFAULT_TABLE_PREFIX: &str = "admit_";

/// Checks a table prefix: 1 to 32 lower-case ASCII letters, digits or underscores,
/// starting with a letter (so it can be pasted into SQL identifiers safely).
pub(crate) fn check_prefix(prefix: &str) -> bool {
    let bytes = prefix.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 32
        && bytes[0].is_ascii_lowercase()
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_checked() {
        assert!(check_prefix("admit_"));
        assert!(check_prefix("t1_"));
        assert!(!check_prefix(""));
        assert!(!check_prefix("1a"));
        assert!(!check_prefix("a-b"));
        assert!(!check_prefix("a;drop"));
        assert!(!check_prefix("Admit"));
        assert!(!check_prefix(&"a".repeat(33)));
    }

    #[test]
    fn checksums_differ_per_text() {
        let a = Migration { version: 1, name: "a", sql: "CREATE TABLE x (a INT);" };
        let b = Migration { version: 1, name: "a", sql: "CREATE TABLE x (b INT);" };
        assert_ne!(a.checksum(), b.checksum());
        assert_eq!(a.checksum(), a.checksum());
    }
}
