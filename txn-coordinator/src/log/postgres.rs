//! The production store: PostgreSQL, shared by every coordinator instance
//! of a deployment, each reading back only its own decisions.

use sqlx::postgres::{PgPool, PgPoolOptions};

use super::{
    CoordinatorLog, LogError, UnfinishedRow, decisions_from_rows, group_rows, heuristic_from_row,
    migrate, validate,
};
use crate::record::{DecisionRecord, HeuristicRecord, ParticipantId, TxId};

/// The coordinator log in a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PgLog {
    pool: PgPool,
    instance: String,
}

impl PgLog {
    /// Connects to `url` for the coordinator instance `instance` and brings
    /// the schema up to date (`migrations/postgres/`).
    pub async fn connect(url: &str, instance: &str) -> Result<Self, LogError> {
        let pool = PgPoolOptions::new().max_connections(4).connect(url).await?;
        Self::from_pool(pool, instance).await
    }

    /// Uses an open pool, bringing the schema up to date.
    pub async fn from_pool(pool: PgPool, instance: &str) -> Result<Self, LogError> {
        migrate::postgres().run(&pool).await?;
        Ok(Self {
            pool,
            instance: instance.to_owned(),
        })
    }

    /// The pool, for inspection and tests.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes the pool, waiting for connections to finish.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

impl CoordinatorLog for PgLog {
    async fn append_decisions(&self, batch: &[DecisionRecord]) -> Result<(), LogError> {
        for record in batch {
            validate(record)?;
        }
        let txs: Vec<&str> = batch.iter().map(|r| r.tx.0.as_str()).collect();
        let mut p_txs = Vec::new();
        let mut p_ids = Vec::new();
        let mut p_addresses = Vec::new();
        let mut p_refs = Vec::new();
        for record in batch {
            for p in &record.participants {
                p_txs.push(record.tx.0.as_str());
                p_ids.push(i64::from(p.id.0));
                p_addresses.push(p.endpoint.address.as_str());
                p_refs.push(p.endpoint.reference_parameters.as_str());
            }
        }
        let mut db = self.pool.begin().await?;
        // The decision must reach disk before COMMIT returns, whatever the
        // server's default.
        sqlx::query("SET LOCAL synchronous_commit = on")
            .execute(&mut *db)
            .await?;
        sqlx::query(
            "INSERT INTO wsat_decision (tx_id, instance) \
             SELECT t, $2 FROM UNNEST($1::text[]) AS t ON CONFLICT DO NOTHING",
        )
        .bind(&txs)
        .bind(&self.instance)
        .execute(&mut *db)
        .await?;
        sqlx::query(
            "INSERT INTO wsat_decision_participant \
             (tx_id, participant, address, reference_parameters) \
             SELECT * FROM UNNEST($1::text[], $2::int8[], $3::text[], $4::text[]) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&p_txs)
        .bind(&p_ids)
        .bind(&p_addresses)
        .bind(&p_refs)
        .execute(&mut *db)
        .await?;
        db.commit().await?;
        Ok(())
    }

    async fn mark_participant_done(
        &self,
        tx: &TxId,
        participant: ParticipantId,
    ) -> Result<(), LogError> {
        sqlx::query(
            "UPDATE wsat_decision_participant SET done = TRUE WHERE tx_id = $1 AND participant = $2",
        )
        .bind(&tx.0)
        .bind(i64::from(participant.0))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn forget(&self, tx: &TxId) -> Result<(), LogError> {
        // The participant rows go with it (ON DELETE CASCADE).
        sqlx::query("DELETE FROM wsat_decision WHERE tx_id = $1 AND instance = $2")
            .bind(&tx.0)
            .bind(&self.instance)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn load_unfinished(&self) -> Result<Vec<DecisionRecord>, LogError> {
        let rows: Vec<UnfinishedRow> = sqlx::query_as(
            "SELECT d.tx_id, p.participant, p.address, p.reference_parameters \
             FROM wsat_decision d LEFT JOIN wsat_decision_participant p \
             ON p.tx_id = d.tx_id AND NOT p.done \
             WHERE d.instance = $1 ORDER BY d.tx_id, p.participant",
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
             VALUES ($1, $2, $3, $4, $5, $6)",
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
             FROM wsat_heuristic WHERE instance = $1 ORDER BY id",
        )
        .bind(&self.instance)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(tx, p, address, refs, kind)| heuristic_from_row(tx, p, address, refs, kind))
            .collect()
    }
}
