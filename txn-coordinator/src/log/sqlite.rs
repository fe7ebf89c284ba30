//! The embedded store: one SQLite file in WAL mode with `synchronous=FULL`,
//! so a committed write survives a crash of the process or the machine.

use std::path::Path;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::{
    CoordinatorLog, LogError, UnfinishedRow, decisions_from_rows, group_rows, heuristic_from_row,
    migrate, validate,
};
use crate::record::{DecisionRecord, HeuristicRecord, ParticipantId, TxId};

/// The coordinator log in a SQLite database.
#[derive(Debug, Clone)]
pub struct SqliteLog {
    pool: SqlitePool,
    instance: String,
}

impl SqliteLog {
    /// Opens (creating if needed) the log file at `path` for the
    /// coordinator instance `instance`, and brings its schema up to date.
    pub async fn open(path: &Path, instance: &str) -> Result<Self, LogError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        // One connection: SQLite has one writer, and group commit already
        // turns concurrent decisions into one write.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await?;
        Self::from_pool(pool, instance).await
    }

    /// Uses an open pool (its connections must be WAL with
    /// `synchronous=FULL`), bringing the schema up to date.
    pub async fn from_pool(pool: SqlitePool, instance: &str) -> Result<Self, LogError> {
        migrate::sqlite().run(&pool).await?;
        Ok(Self {
            pool,
            instance: instance.to_owned(),
        })
    }

    /// The pool, for inspection and tests.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Closes the pool, waiting for connections to finish.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

impl CoordinatorLog for SqliteLog {
    async fn append_decisions(&self, batch: &[DecisionRecord]) -> Result<(), LogError> {
        for record in batch {
            validate(record)?;
        }
        let mut db = self.pool.begin().await?;
        for record in batch {
            sqlx::query(
                "INSERT INTO wsat_decision (tx_id, instance) VALUES (?, ?) ON CONFLICT DO NOTHING",
            )
            .bind(&record.tx.0)
            .bind(&self.instance)
            .execute(&mut *db)
            .await?;
            for p in &record.participants {
                sqlx::query(
                    "INSERT INTO wsat_decision_participant \
                     (tx_id, participant, address, reference_parameters) VALUES (?, ?, ?, ?) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(&record.tx.0)
                .bind(i64::from(p.id.0))
                .bind(&p.endpoint.address)
                .bind(&p.endpoint.reference_parameters)
                .execute(&mut *db)
                .await?;
            }
        }
        db.commit().await?;
        Ok(())
    }

    async fn mark_participant_done(
        &self,
        tx: &TxId,
        participant: ParticipantId,
    ) -> Result<(), LogError> {
        sqlx::query(
            "UPDATE wsat_decision_participant SET done = 1 WHERE tx_id = ? AND participant = ?",
        )
        .bind(&tx.0)
        .bind(i64::from(participant.0))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn forget(&self, tx: &TxId) -> Result<(), LogError> {
        let mut db = self.pool.begin().await?;
        sqlx::query("DELETE FROM wsat_decision_participant WHERE tx_id = ?")
            .bind(&tx.0)
            .execute(&mut *db)
            .await?;
        sqlx::query("DELETE FROM wsat_decision WHERE tx_id = ? AND instance = ?")
            .bind(&tx.0)
            .bind(&self.instance)
            .execute(&mut *db)
            .await?;
        db.commit().await?;
        Ok(())
    }

    async fn load_unfinished(&self) -> Result<Vec<DecisionRecord>, LogError> {
        let rows: Vec<UnfinishedRow> = sqlx::query_as(
            "SELECT d.tx_id, p.participant, p.address, p.reference_parameters \
             FROM wsat_decision d LEFT JOIN wsat_decision_participant p \
             ON p.tx_id = d.tx_id AND p.done = 0 \
             WHERE d.instance = ? ORDER BY d.tx_id, p.participant",
        )
        .bind(&self.instance)
        .fetch_all(&self.pool)
        .await?;
        decisions_from_rows(group_rows(rows))
    }

    async fn record_heuristic(&self, record: &HeuristicRecord) -> Result<(), LogError> {
        sqlx::query(
            "INSERT INTO wsat_heuristic \
             (instance, tx_id, participant, address, reference_parameters, kind) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&self.instance)
        .bind(&record.tx.0)
        .bind(i64::from(record.participant.0))
        .bind(&record.endpoint.address)
        .bind(&record.endpoint.reference_parameters)
        .bind(record.kind.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn heuristics(&self) -> Result<Vec<HeuristicRecord>, LogError> {
        let rows: Vec<(String, i64, String, String, String)> = sqlx::query_as(
            "SELECT tx_id, participant, address, reference_parameters, kind \
             FROM wsat_heuristic WHERE instance = ? ORDER BY id",
        )
        .bind(&self.instance)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(tx, p, address, refs, kind)| heuristic_from_row(tx, p, address, refs, kind))
            .collect()
    }
}
