//! The log's schema migrations, embedded in the binary and tracked in their
//! own table so they never mix with the gateway's.

use std::borrow::Cow;

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

/// The table recording which of this crate's migrations ran.
const TABLE: &str = "_ithaca_txn_migrations";

fn migrator(migrations: &[(i64, &'static str, &'static str)]) -> Migrator {
    let mut migrator = Migrator::with_migrations(
        migrations
            .iter()
            .map(|&(version, description, sql)| {
                Migration::new(
                    version,
                    Cow::Borrowed(description),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect(),
    );
    migrator.dangerous_set_table_name(TABLE);
    migrator
}

/// The PostgreSQL store's migrations (`migrations/postgres/`).
pub(crate) fn postgres() -> Migrator {
    migrator(&[
        (
            1,
            "decisions",
            include_str!("../../migrations/postgres/0001_decisions.sql"),
        ),
        (
            2,
            "fencing",
            include_str!("../../migrations/postgres/0002_fencing.sql"),
        ),
        (
            3,
            "heuristic resolution",
            include_str!("../../migrations/postgres/0003_heuristic_resolution.sql"),
        ),
        (
            4,
            "takeovers",
            include_str!("../../migrations/postgres/0004_takeovers.sql"),
        ),
    ])
}

/// The SQLite store's migrations (`migrations/sqlite/`).
pub(crate) fn sqlite() -> Migrator {
    migrator(&[
        (
            1,
            "decisions",
            include_str!("../../migrations/sqlite/0001_decisions.sql"),
        ),
        (
            2,
            "fencing",
            include_str!("../../migrations/sqlite/0002_fencing.sql"),
        ),
        (
            3,
            "heuristic resolution",
            include_str!("../../migrations/sqlite/0003_heuristic_resolution.sql"),
        ),
        (
            4,
            "takeovers",
            include_str!("../../migrations/sqlite/0004_takeovers.sql"),
        ),
    ])
}
