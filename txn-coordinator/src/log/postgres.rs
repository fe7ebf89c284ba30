//! The production store: PostgreSQL, shared by every coordinator instance
//! of a deployment, each reading back only its own decisions.

use std::sync::Arc;

use sqlx::PgConnection;
use sqlx::postgres::{PgPool, PgPoolOptions};

use super::resolve::{self, HistoryRow};
use super::takeovers::{self, TakeoverEntry};
use super::{
    CoordinatorLog, FencingToken, HeuristicEntry, InstanceId, LogError, LogFuture, Resolution,
    ResolveOutcome, UnfinishedRow, db_token, decisions_from_rows, fenced, group_rows,
    heuristic_from_row, migrate, validate,
};
use crate::record::{DecisionRecord, HeuristicRecord, ParticipantId, TxId};

/// The coordinator log in a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PgLog {
    pool: PgPool,
    instance: InstanceId,
    token: FencingToken,
}

/// Whether a write transaction's `COMMIT` waits for its flush.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flush {
    /// `synchronous_commit = on`: the write is durable when `COMMIT`
    /// returns, whatever the server's default (the decisions).
    Forced,
    /// `synchronous_commit = off`: for the lazy updates (a participant
    /// done, a record forgotten), whose loss in a crash only costs a
    /// repeated Commit, never a wrong outcome. The WAL writer flushes them
    /// within `wal_writer_delay`, usually with the next forced decision.
    Lazy,
}

/// Checks, inside a write transaction, that `token` may write `instance`'s
/// records, and sets the transaction's `synchronous_commit`, in one round
/// trip. `FOR SHARE` keeps the fence row from being raised until this
/// transaction ends, so a taker's fence and this write are ordered.
async fn check_fence_and_flush(
    db: &mut PgConnection,
    instance: &InstanceId,
    token: FencingToken,
    flush: Flush,
) -> Result<(), LogError> {
    let mine = db_token(instance, token)?;
    let setting = match flush {
        Flush::Forced => "on",
        Flush::Lazy => "off",
    };
    let (current, _): (Option<i64>, String) = sqlx::query_as(
        "SELECT (SELECT token FROM wsat_fence WHERE instance = $1 FOR SHARE), \
         set_config('synchronous_commit', $2, true)",
    )
    .bind(&instance.0)
    .bind(setting)
    .fetch_one(&mut *db)
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
        // No test query before each acquire: a connection the server
        // dropped fails its first statement instead, which the driver
        // retries like any store error; the ping would cost a round trip
        // on every write of the commit path.
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .test_before_acquire(false)
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

    fn apply_lazy<'a>(
        &'a self,
        done: &'a [(TxId, ParticipantId)],
        forget: &'a [TxId],
    ) -> LogFuture<'a, ()> {
        Box::pin(self.apply_lazy_now(done, forget))
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

    fn heuristic_history(&self) -> LogFuture<'_, Vec<HeuristicEntry>> {
        Box::pin(self.heuristic_history_now())
    }

    fn resolve_heuristic<'a>(
        &'a self,
        tx: &'a TxId,
        resolution: &'a Resolution,
    ) -> LogFuture<'a, ResolveOutcome> {
        Box::pin(self.resolve_heuristic_now(tx, resolution))
    }

    fn ping(&self) -> LogFuture<'_, ()> {
        Box::pin(async move {
            sqlx::query("SELECT 1").execute(&self.pool).await?;
            Ok(())
        })
    }

    fn has_record<'a>(&'a self, tx: &'a TxId) -> LogFuture<'a, bool> {
        Box::pin(async move {
            let found: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM wsat_decision WHERE instance = $1 AND tx_id = $2)",
            )
            .bind(&self.instance.0)
            .bind(&tx.0)
            .fetch_one(&self.pool)
            .await?;
            Ok(found)
        })
    }

    fn fence(&self) -> LogFuture<'_, FencingToken> {
        Box::pin(async move {
            let token: Option<i64> =
                sqlx::query_scalar("SELECT token FROM wsat_fence WHERE instance = $1")
                    .bind(&self.instance.0)
                    .fetch_optional(&self.pool)
                    .await?;
            Ok(FencingToken(
                token.and_then(|t| u64::try_from(t).ok()).unwrap_or(0),
            ))
        })
    }

    fn record_takeover<'a>(
        &'a self,
        dead: &'a InstanceId,
        token: FencingToken,
        transactions: &'a [TxId],
    ) -> LogFuture<'a, ()> {
        Box::pin(async move {
            let token = db_token(dead, token)?;
            let count = i64::try_from(transactions.len()).unwrap_or(i64::MAX);
            let mut db = self.pool.begin().await?;
            check_fence_and_flush(&mut db, &self.instance, self.token, Flush::Forced).await?;
            sqlx::query(
                "INSERT INTO wsat_takeover (taken_by, instance, token, transaction_count, transactions) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&self.instance.0)
            .bind(&dead.0)
            .bind(token)
            .bind(count)
            .bind(takeovers::listed(transactions))
            .execute(&mut *db)
            .await?;
            db.commit().await?;
            Ok(())
        })
    }

    fn takeovers(&self) -> LogFuture<'_, Vec<TakeoverEntry>> {
        Box::pin(async move {
            let rows: Vec<takeovers::TakeoverRow> = sqlx::query_as(
                "SELECT instance, token, to_char(taken_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), transaction_count, transactions \
                 FROM wsat_takeover WHERE taken_by = $1 ORDER BY id",
            )
            .bind(&self.instance.0)
            .fetch_all(&self.pool)
            .await?;
            rows.into_iter().map(takeovers::entry_from_row).collect()
        })
    }

    fn publish_correlation_key<'a>(&'a self, key: &'a [u8; 32]) -> LogFuture<'a, ()> {
        Box::pin(async move {
            let mut db = self.pool.begin().await?;
            check_fence_and_flush(&mut db, &self.instance, self.token, Flush::Forced).await?;
            sqlx::query(
                "INSERT INTO wsat_instance_key (instance, correlation_key) VALUES ($1, $2) \
                 ON CONFLICT (instance) DO UPDATE SET correlation_key = excluded.correlation_key",
            )
            .bind(&self.instance.0)
            .bind(takeovers::key_to_hex(key))
            .execute(&mut *db)
            .await?;
            db.commit().await?;
            Ok(())
        })
    }

    fn correlation_key<'a>(&'a self, instance: &'a InstanceId) -> LogFuture<'a, Option<[u8; 32]>> {
        Box::pin(async move {
            let text: Option<String> = sqlx::query_scalar(
                "SELECT correlation_key FROM wsat_instance_key WHERE instance = $1",
            )
            .bind(&instance.0)
            .fetch_optional(&self.pool)
            .await?;
            text.map(|text| {
                takeovers::key_from_hex(&text).ok_or_else(|| LogError::Corrupt {
                    tx: format!("correlation key of {instance}"),
                    reason: "not 64 hex digits".to_owned(),
                })
            })
            .transpose()
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
        // The decision must reach disk before COMMIT returns, whatever the
        // server's default.
        check_fence_and_flush(&mut db, &self.instance, self.token, Flush::Forced).await?;
        // Both tables in one statement: the participants' foreign key is
        // checked at its end, when the decision rows exist.
        sqlx::query(
            "WITH decisions AS (\
                 INSERT INTO wsat_decision (tx_id, instance, token) \
                 SELECT t, $5, $6 FROM UNNEST($1::text[]) AS t ON CONFLICT DO NOTHING) \
             INSERT INTO wsat_decision_participant \
             (tx_id, participant, address, reference_parameters) \
             SELECT * FROM UNNEST($2::text[], $3::int8[], $4::text[], $7::text[]) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&txs)
        .bind(&p_txs)
        .bind(&p_ids)
        .bind(&p_addresses)
        .bind(&self.instance.0)
        .bind(token)
        .bind(&p_refs)
        .execute(&mut *db)
        .await?;
        db.commit().await?;
        Ok(())
    }

    async fn apply_lazy_now(
        &self,
        done: &[(TxId, ParticipantId)],
        forget: &[TxId],
    ) -> Result<(), LogError> {
        if done.is_empty() && forget.is_empty() {
            return Ok(());
        }
        let mut db = self.pool.begin().await?;
        check_fence_and_flush(&mut db, &self.instance, self.token, Flush::Lazy).await?;
        if !done.is_empty() {
            let txs: Vec<&str> = done.iter().map(|(tx, _)| tx.0.as_str()).collect();
            let ids: Vec<i64> = done.iter().map(|(_, p)| i64::from(p.0)).collect();
            sqlx::query(
                "UPDATE wsat_decision_participant p SET done = TRUE \
                 FROM wsat_decision d, UNNEST($1::text[], $2::int8[]) AS u(tx_id, participant) \
                 WHERE p.tx_id = u.tx_id AND p.participant = u.participant \
                 AND d.tx_id = p.tx_id AND d.instance = $3",
            )
            .bind(&txs)
            .bind(&ids)
            .bind(&self.instance.0)
            .execute(&mut *db)
            .await?;
        }
        if !forget.is_empty() {
            // The participant rows go with them (ON DELETE CASCADE).
            let txs: Vec<&str> = forget.iter().map(|tx| tx.0.as_str()).collect();
            sqlx::query("DELETE FROM wsat_decision WHERE tx_id = ANY($1) AND instance = $2")
                .bind(&txs)
                .bind(&self.instance.0)
                .execute(&mut *db)
                .await?;
        }
        db.commit().await?;
        Ok(())
    }

    async fn mark_participant_done_now(
        &self,
        tx: &TxId,
        participant: ParticipantId,
    ) -> Result<(), LogError> {
        self.apply_lazy_now(&[(tx.clone(), participant)], &[]).await
    }

    async fn forget_now(&self, tx: &TxId) -> Result<(), LogError> {
        self.apply_lazy_now(&[], std::slice::from_ref(tx)).await
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
        check_fence_and_flush(&mut db, &self.instance, self.token, Flush::Forced).await?;
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
             FROM wsat_heuristic WHERE instance = $1 AND resolved_at IS NULL ORDER BY id",
        )
        .bind(&self.instance.0)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(tx, p, address, refs, kind)| heuristic_from_row(tx, p, address, refs, kind))
            .collect()
    }

    async fn heuristic_history_now(&self) -> Result<Vec<HeuristicEntry>, LogError> {
        let rows: Vec<HistoryRow> = sqlx::query_as(
            "SELECT tx_id, participant, address, reference_parameters, kind, \
             to_char(resolved_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), \
             resolved_by, resolution_note \
             FROM wsat_heuristic WHERE instance = $1 ORDER BY id",
        )
        .bind(&self.instance.0)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(resolve::entry_from_row).collect()
    }

    async fn resolve_heuristic_now(
        &self,
        tx: &TxId,
        resolution: &Resolution,
    ) -> Result<ResolveOutcome, LogError> {
        let mut db = self.pool.begin().await?;
        // An operator's resolution is forced like the outcome it closes.
        check_fence_and_flush(&mut db, &self.instance, self.token, Flush::Forced).await?;
        // One statement: the rows resolved now, and how many the
        // transaction has in all (to tell "already resolved" from unknown).
        let (resolved, kept): (i64, i64) = sqlx::query_as(
            "WITH resolved AS (\
                 UPDATE wsat_heuristic SET resolved_at = now(), resolved_by = $3, \
                 resolution_note = $4 \
                 WHERE instance = $1 AND tx_id = $2 AND resolved_at IS NULL RETURNING id) \
             SELECT (SELECT COUNT(*) FROM resolved), \
             (SELECT COUNT(*) FROM wsat_heuristic WHERE instance = $1 AND tx_id = $2)",
        )
        .bind(&self.instance.0)
        .bind(&tx.0)
        .bind(resolution.operator())
        .bind(resolution.note())
        .fetch_one(&mut *db)
        .await?;
        db.commit().await?;
        match (resolved, kept) {
            (0, 0) => Err(resolve::unknown(tx)),
            (0, _) => Ok(ResolveOutcome::AlreadyResolved),
            (n, _) => Ok(ResolveOutcome::Resolved(
                usize::try_from(n).unwrap_or(usize::MAX),
            )),
        }
    }
}
