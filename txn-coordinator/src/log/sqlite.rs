//! The embedded store: one SQLite file in WAL mode with `synchronous=FULL`,
//! so a committed write survives a crash of the process or the machine.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sqlx::SqliteConnection;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::resolve::{self, HistoryRow};
use super::takeovers::{self, TakeoverEntry};
use super::{
    CoordinatorLog, FencingToken, HeuristicEntry, InstanceId, LogError, LogFuture, Resolution,
    ResolveOutcome, UnfinishedRow, db_token, decisions_from_rows, fenced, group_rows,
    heuristic_from_row, migrate, validate,
};
use crate::record::{DecisionRecord, HeuristicRecord, ParticipantId, TxId};

/// The coordinator log in a SQLite database.
#[derive(Debug, Clone)]
pub struct SqliteLog {
    pool: SqlitePool,
    instance: InstanceId,
    token: FencingToken,
}

/// Checks, inside a write transaction, that `token` may write `instance`'s
/// records. The no-op UPDATE comes first so the transaction holds SQLite's
/// write lock before it reads the fence.
async fn check_fence(
    db: &mut SqliteConnection,
    instance: &InstanceId,
    token: FencingToken,
) -> Result<(), LogError> {
    let mine = db_token(instance, token)?;
    sqlx::query("UPDATE wsat_fence SET token = token WHERE instance = ?")
        .bind(&instance.0)
        .execute(&mut *db)
        .await?;
    let current: Option<i64> =
        sqlx::query_scalar("SELECT token FROM wsat_fence WHERE instance = ?")
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
    pool: &SqlitePool,
    instance: &InstanceId,
    token: FencingToken,
    or_equal: bool,
) -> Result<(), LogError> {
    let mine = db_token(instance, token)?;
    let sql = if or_equal {
        "INSERT INTO wsat_fence (instance, token) VALUES (?, ?) ON CONFLICT (instance) \
         DO UPDATE SET token = excluded.token WHERE wsat_fence.token <= excluded.token"
    } else {
        "INSERT INTO wsat_fence (instance, token) VALUES (?, ?) ON CONFLICT (instance) \
         DO UPDATE SET token = excluded.token WHERE wsat_fence.token < excluded.token"
    };
    let done = sqlx::query(sql)
        .bind(&instance.0)
        .bind(mine)
        .execute(pool)
        .await?;
    if done.rows_affected() == 1 {
        return Ok(());
    }
    let current: i64 = sqlx::query_scalar("SELECT token FROM wsat_fence WHERE instance = ?")
        .bind(&instance.0)
        .fetch_one(pool)
        .await?;
    Err(fenced(instance, token, current))
}

impl SqliteLog {
    /// Opens (creating if needed) the log file at `path` for the
    /// coordinator instance `instance`, and brings its schema up to date.
    /// Writes are stamped with [`FencingToken::INITIAL`] until
    /// [`SqliteLog::with_token`].
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
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Closes the pool, waiting for connections to finish.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

impl CoordinatorLog for SqliteLog {
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
                "SELECT EXISTS (SELECT 1 FROM wsat_decision WHERE instance = ? AND tx_id = ?)",
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
                sqlx::query_scalar("SELECT token FROM wsat_fence WHERE instance = ?")
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
            check_fence(&mut db, &self.instance, self.token).await?;
            sqlx::query(
                "INSERT INTO wsat_takeover (taken_by, instance, token, transaction_count, transactions) \
                 VALUES (?, ?, ?, ?, ?)",
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
                "SELECT instance, token, taken_at, transaction_count, transactions \
                 FROM wsat_takeover WHERE taken_by = ? ORDER BY id",
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
            check_fence(&mut db, &self.instance, self.token).await?;
            sqlx::query(
                "INSERT INTO wsat_instance_key (instance, correlation_key) VALUES (?, ?) \
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
                "SELECT correlation_key FROM wsat_instance_key WHERE instance = ?",
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

impl SqliteLog {
    async fn append_decisions_now(&self, batch: &[DecisionRecord]) -> Result<(), LogError> {
        for record in batch {
            validate(record)?;
        }
        let token = db_token(&self.instance, self.token)?;
        let mut db = self.pool.begin().await?;
        check_fence(&mut db, &self.instance, self.token).await?;
        for record in batch {
            sqlx::query(
                "INSERT INTO wsat_decision (tx_id, instance, token) VALUES (?, ?, ?) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(&record.tx.0)
            .bind(&self.instance.0)
            .bind(token)
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

    async fn mark_participant_done_now(
        &self,
        tx: &TxId,
        participant: ParticipantId,
    ) -> Result<(), LogError> {
        let mut db = self.pool.begin().await?;
        check_fence(&mut db, &self.instance, self.token).await?;
        sqlx::query(
            "UPDATE wsat_decision_participant SET done = 1 WHERE tx_id = ? AND participant = ? \
             AND tx_id IN (SELECT tx_id FROM wsat_decision WHERE instance = ?)",
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
        let mut db = self.pool.begin().await?;
        check_fence(&mut db, &self.instance, self.token).await?;
        sqlx::query(
            "DELETE FROM wsat_decision_participant WHERE tx_id = ? \
             AND tx_id IN (SELECT tx_id FROM wsat_decision WHERE instance = ?)",
        )
        .bind(&tx.0)
        .bind(&self.instance.0)
        .execute(&mut *db)
        .await?;
        sqlx::query("DELETE FROM wsat_decision WHERE tx_id = ? AND instance = ?")
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
             ON p.tx_id = d.tx_id AND p.done = 0 \
             WHERE d.instance = ? ORDER BY d.tx_id, p.participant",
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
             VALUES (?, ?, ?, ?, ?, ?)",
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
             FROM wsat_heuristic WHERE instance = ? AND resolved_at IS NULL ORDER BY id",
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
             resolved_at, resolved_by, resolution_note \
             FROM wsat_heuristic WHERE instance = ? ORDER BY id",
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
        check_fence(&mut db, &self.instance, self.token).await?;
        let done = sqlx::query(
            "UPDATE wsat_heuristic SET resolved_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), \
             resolved_by = ?, resolution_note = ? \
             WHERE instance = ? AND tx_id = ? AND resolved_at IS NULL",
        )
        .bind(resolution.operator())
        .bind(resolution.note())
        .bind(&self.instance.0)
        .bind(&tx.0)
        .execute(&mut *db)
        .await?;
        let resolved = usize::try_from(done.rows_affected()).unwrap_or(usize::MAX);
        if resolved > 0 {
            db.commit().await?;
            return Ok(ResolveOutcome::Resolved(resolved));
        }
        let kept: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM wsat_heuristic WHERE instance = ? AND tx_id = ?",
        )
        .bind(&self.instance.0)
        .bind(&tx.0)
        .fetch_one(&mut *db)
        .await?;
        db.rollback().await?;
        if kept == 0 {
            Err(resolve::unknown(tx))
        } else {
            Ok(ResolveOutcome::AlreadyResolved)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{EndpointRef, HeuristicKind, HeuristicRecord, ParticipantId};

    /// A log written before heuristic resolutions existed (schema
    /// version 2) keeps its outcomes open after the upgrade, and they can
    /// then be resolved.
    #[tokio::test]
    async fn outcomes_recorded_before_the_upgrade_stay_open_and_resolvable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("txn.db");
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true);
        let old = SqlitePool::connect_with(options).await.unwrap();
        migrate::sqlite().run_to(2, &old).await.unwrap();
        sqlx::query(
            "INSERT INTO wsat_heuristic \
             (instance, tx_id, participant, address, reference_parameters, kind) \
             VALUES ('node-a', 'urn:old', 4, 'http://p4', '', 'aborted-after-commit')",
        )
        .execute(&old)
        .await
        .unwrap();
        old.close().await;

        let log = SqliteLog::open(&path, "node-a").await.unwrap();
        let kept = HeuristicRecord {
            tx: TxId("urn:old".to_owned()),
            participant: ParticipantId(4),
            endpoint: EndpointRef::new("http://p4"),
            kind: HeuristicKind::AbortedAfterCommit,
        };
        assert_eq!(log.heuristics().await.unwrap(), vec![kept.clone()]);
        let resolution = Resolution::new(&kept.tx, "alice", "checked with the bank").unwrap();
        assert_eq!(
            log.resolve_heuristic(&kept.tx, &resolution).await.unwrap(),
            ResolveOutcome::Resolved(1)
        );
        assert_eq!(log.heuristics().await.unwrap(), vec![]);
        let history = log.heuristic_history().await.unwrap();
        assert_eq!(history.len(), 1);
        assert_eq!(
            history[0].resolved.as_ref().map(|r| &r.resolution),
            Some(&resolution)
        );
        log.close().await;
    }
}
