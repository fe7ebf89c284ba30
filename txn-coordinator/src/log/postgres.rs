//! The production store: PostgreSQL, shared by every coordinator instance
//! of a deployment, each reading back only its own decisions.

use std::sync::Arc;

use sqlx::PgConnection;
use sqlx::postgres::{PgPool, PgPoolOptions};

use super::{
    CoordinatorLog, FencingToken, InstanceId, LogError, LogFuture, UnfinishedRow, db_token,
    decisions_from_rows, fenced, group_rows, heuristic_from_row, migrate, validate,
};
use crate::record::{DecisionRecord, HeuristicRecord, ParticipantId, TxId};

/// The coordinator log in a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PgLog {
    pool: PgPool,
    instance: InstanceId,
    token: FencingToken,
}

/// Checks, inside a write transaction, that `token` may write `instance`'s
/// records. `FOR SHARE` keeps the fence row from being raised until this
/// transaction ends, so a taker's fence and this write are ordered.
async fn check_fence(
    db: &mut PgConnection,
    instance: &InstanceId,
    token: FencingToken,
) -> Result<(), LogError> {
    let mine = db_token(instance, token)?;
    let current: Option<i64> =
        sqlx::query_scalar("SELECT token FROM wsat_fence WHERE instance = $1 FOR SHARE")
            .bind(&instance.0)
            .fetch_optional(&mut *db)
            .await?;
    match current {
        Some(current) if current > mine => Err(fenced(instance, token, current)),
        _ => Ok(()),
    }
}

/// Raises `instance`'s fence to `token` when the fence is below it (or at
/// it, with `or_equal`); otherwise `Fenced`.
async fn raise_fence(
    pool: &PgPool,
    instance: &InstanceId,
    token: FencingToken,
    or_equal: bool,
) -> Result<(), LogError> {
    let mine = db_token(instance, token)?;
    let sql = if or_equal {
        "INSERT INTO wsat_fence (instance, token) VALUES ($1, $2) ON CONFLICT (instance) \
         DO UPDATE SET token = excluded.token, fenced_at = now() \
         WHERE wsat_fence.token <= excluded.token"
    } else {
        "INSERT INTO wsat_fence (instance, token) VALUES ($1, $2) ON CONFLICT (instance) \
         DO UPDATE SET token = excluded.token, fenced_at = now() \
         WHERE wsat_fence.token < excluded.token"
    };
    let done = sqlx::query(sql)
        .bind(&instance.0)
        .bind(mine)
        .execute(pool)
        .await?;
    if done.rows_affected() == 1 {
        return Ok(());
    }
    let current: i64 = sqlx::query_scalar("SELECT token FROM wsat_fence WHERE instance = $1")
        .bind(&instance.0)
        .fetch_one(pool)
        .await?;
    Err(fenced(instance, token, current))
}

impl PgLog {
    /// Connects to `url` for the coordinator instance `instance` and brings
    /// the schema up to date (`migrations/postgres/`). Writes are stamped
    /// with [`FencingToken::INITIAL`] until [`PgLog::with_token`].
    pub async fn connect(url: &str, instance: &str) -> Result<Self, LogError> {
        // A short acquire timeout: while the database is down the driver
        // holds decisions back and retries, rather than waiting long.
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(std::time::Duration::from_secs(3))
            .connect(url)
            .await?;
        Self::from_pool(pool, instance).await
    }

    /// Uses an open pool, bringing the schema up to date.
    pub async fn from_pool(pool: PgPool, instance: &str) -> Result<Self, LogError> {
        migrate::postgres().run(&pool).await?;
        Ok(Self {
            pool,
            instance: InstanceId(instance.to_owned()),
            token: FencingToken::INITIAL,
        })
    }

    /// This handle with its writes stamped `token` (see
    /// [`CoordinatorLog::claim`]).
    #[must_use]
    pub fn with_token(self, token: FencingToken) -> Self {
        Self { token, ..self }
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
    fn instance(&self) -> &InstanceId {
        &self.instance
    }

    fn token(&self) -> FencingToken {
        self.token
    }

    fn append_decisions<'a>(&'a self, batch: &'a [DecisionRecord]) -> LogFuture<'a, ()> {
        Box::pin(self.append_decisions_now(batch))
    }

    fn mark_participant_done<'a>(
        &'a self,
        tx: &'a TxId,
        participant: ParticipantId,
    ) -> LogFuture<'a, ()> {
        Box::pin(self.mark_participant_done_now(tx, participant))
    }

    fn forget<'a>(&'a self, tx: &'a TxId) -> LogFuture<'a, ()> {
        Box::pin(self.forget_now(tx))
    }

    fn load_unfinished(&self) -> LogFuture<'_, Vec<DecisionRecord>> {
        Box::pin(self.load_unfinished_now())
    }

    fn record_heuristic<'a>(&'a self, record: &'a HeuristicRecord) -> LogFuture<'a, ()> {
        Box::pin(self.record_heuristic_now(record))
    }

    fn heuristics(&self) -> LogFuture<'_, Vec<HeuristicRecord>> {
        Box::pin(self.heuristics_now())
    }

    fn ping(&self) -> LogFuture<'_, ()> {
        Box::pin(async move {
            sqlx::query("SELECT 1").execute(&self.pool).await?;
            Ok(())
        })
    }

    fn claim(&self) -> LogFuture<'_, ()> {
        Box::pin(raise_fence(&self.pool, &self.instance, self.token, true))
    }

    fn adopt<'a>(
        &'a self,
        dead: &'a InstanceId,
        token: FencingToken,
    ) -> LogFuture<'a, Arc<dyn CoordinatorLog>> {
        Box::pin(async move {
            raise_fence(&self.pool, dead, token, false).await?;
            let adopted: Arc<dyn CoordinatorLog> = Arc::new(Self {
                pool: self.pool.clone(),
                instance: dead.clone(),
                token,
            });
            Ok(adopted)
        })
    }
}

/// Lets the transaction's COMMIT return without waiting for its flush: for
/// the lazy updates (a participant done, a record forgotten), whose loss in
/// a crash only costs a repeated Commit, never a wrong outcome. The WAL
/// writer flushes them within `wal_writer_delay`, usually with the next
/// forced decision.
async fn unforced(db: &mut sqlx::PgConnection) -> Result<(), LogError> {
    sqlx::query("SET LOCAL synchronous_commit = off")
        .execute(db)
        .await?;
    Ok(())
}

impl PgLog {
    async fn append_decisions_now(&self, batch: &[DecisionRecord]) -> Result<(), LogError> {
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
        let token = db_token(&self.instance, self.token)?;
        let mut db = self.pool.begin().await?;
        check_fence(&mut db, &self.instance, self.token).await?;
        // The decision must reach disk before COMMIT returns, whatever the
        // server's default.
        sqlx::query("SET LOCAL synchronous_commit = on")
            .execute(&mut *db)
            .await?;
        sqlx::query(
            "INSERT INTO wsat_decision (tx_id, instance, token) \
             SELECT t, $2, $3 FROM UNNEST($1::text[]) AS t ON CONFLICT DO NOTHING",
        )
        .bind(&txs)
        .bind(&self.instance.0)
        .bind(token)
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

    async fn mark_participant_done_now(
        &self,
        tx: &TxId,
        participant: ParticipantId,
    ) -> Result<(), LogError> {
        let mut db = self.pool.begin().await?;
        check_fence(&mut db, &self.instance, self.token).await?;
        unforced(&mut db).await?;
        sqlx::query(
            "UPDATE wsat_decision_participant p SET done = TRUE FROM wsat_decision d \
             WHERE p.tx_id = $1 AND p.participant = $2 AND d.tx_id = p.tx_id AND d.instance = $3",
        )
        .bind(&tx.0)
        .bind(i64::from(participant.0))
        .bind(&self.instance.0)
        .execute(&mut *db)
        .await?;
        db.commit().await?;
        Ok(())
    }

    async fn forget_now(&self, tx: &TxId) -> Result<(), LogError> {
        // The participant rows go with it (ON DELETE CASCADE).
        let mut db = self.pool.begin().await?;
        check_fence(&mut db, &self.instance, self.token).await?;
        unforced(&mut db).await?;
        sqlx::query("DELETE FROM wsat_decision WHERE tx_id = $1 AND instance = $2")
            .bind(&tx.0)
            .bind(&self.instance.0)
            .execute(&mut *db)
            .await?;
        db.commit().await?;
        Ok(())
    }

    async fn load_unfinished_now(&self) -> Result<Vec<DecisionRecord>, LogError> {
        let rows: Vec<UnfinishedRow> = sqlx::query_as(
            "SELECT d.tx_id, p.participant, p.address, p.reference_parameters \
             FROM wsat_decision d LEFT JOIN wsat_decision_participant p \
             ON p.tx_id = d.tx_id AND NOT p.done \
             WHERE d.instance = $1 ORDER BY d.tx_id, p.participant",
        )
        .bind(&self.instance.0)
        .fetch_all(&self.pool)
        .await?;
        decisions_from_rows(group_rows(rows))
    }

    async fn record_heuristic_now(&self, record: &HeuristicRecord) -> Result<(), LogError> {
        let mut db = self.pool.begin().await?;
        check_fence(&mut db, &self.instance, self.token).await?;
        sqlx::query(
            "INSERT INTO wsat_heuristic \
             (instance, tx_id, participant, address, reference_parameters, kind) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&self.instance.0)
        .bind(&record.tx.0)
        .bind(i64::from(record.participant.0))
        .bind(&record.endpoint.address)
        .bind(&record.endpoint.reference_parameters)
        .bind(record.kind.as_str())
        .execute(&mut *db)
        .await?;
        db.commit().await?;
        Ok(())
    }

    async fn heuristics_now(&self) -> Result<Vec<HeuristicRecord>, LogError> {
        let rows: Vec<(String, i64, String, String, String)> = sqlx::query_as(
            "SELECT tx_id, participant, address, reference_parameters, kind \
             FROM wsat_heuristic WHERE instance = $1 ORDER BY id",
        )
        .bind(&self.instance.0)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(tx, p, address, refs, kind)| heuristic_from_row(tx, p, address, refs, kind))
            .collect()
    }
}
