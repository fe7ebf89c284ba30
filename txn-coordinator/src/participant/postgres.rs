//! PostgreSQL as a Durable2PC resource: the application's work and
//! `PREPARE TRANSACTION` on one pinned connection, `COMMIT PREPARED` /
//! `ROLLBACK PREPARED` on the outcome, and recovery from
//! `pg_prepared_xacts` at start-up.
//!
//! [`PgParticipant::start`] checks that prepared transactions are enabled
//! (`max_prepared_transactions` > 0), creates the branch table and scans for
//! this node's prepared branches. [`PgParticipant::begin`] pins one pooled
//! connection and opens a transaction with plain `BEGIN` (not
//! `sqlx::Transaction`, whose commit and drop would send `COMMIT`/`ROLLBACK`
//! after the transaction was prepared away); the application works through
//! [`PgBranch::connection`]; [`PgBranch::prepare`] ends it with
//! `PREPARE TRANSACTION '<gid>'`.
//!
//! **The branch record.** To ask the coordinator for the outcome after a
//! crash, the participant needs the coordinator's endpoint, which
//! `pg_prepared_xacts` does not hold. `begin` writes it to the
//! `ithaca_wsat_branch` table (GID, transaction, branch, endpoint, WS-AT
//! version) in its own small transaction committed with
//! `synchronous_commit = off`: it costs no flush, and it is durable before
//! `Prepared` is sent because `PREPARE TRANSACTION` flushes the write-ahead
//! log up to itself, which includes that earlier commit. The branch's own
//! transaction deletes the record just before it prepares, so a committed
//! branch leaves no record behind and a rolled-back one leaves one (removed
//! after `ROLLBACK PREPARED`, or by the next start-up scan). That is also
//! how an unknown GID (SQLSTATE 42704) is judged: on `COMMIT PREPARED` it
//! means "already committed" only if the record is gone, and on
//! `ROLLBACK PREPARED` "already rolled back" only if it is still there;
//! otherwise it is a heuristic outcome reported as an error.
//!
//! **Read-only votes.** With [`PgParticipant::with_read_only_votes`] (on by
//! default) a branch whose transaction wrote nothing (PostgreSQL assigned it
//! no transaction id: no insert, update, delete or row lock) is rolled back
//! and votes ReadOnly instead of preparing; the coordinator then leaves it
//! out of the second phase. Turn it off to keep a read-only branch's
//! snapshot and locks until the outcome.

use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgPool, Postgres};
use sqlx::{AssertSqlSafe, PgConnection, Row};

use super::gid::{Gid, GidError, NodeId};
use super::state::{BranchId, WsatVersion};
use crate::record::{EndpointRef, TxId};

/// The most bytes of coordinator address plus reference parameters a
/// branch record keeps (the coordinator engine's own bound).
pub const MAX_ENDPOINT_BYTES: usize = 4096;

/// How many branch numbers [`PgParticipant::begin`] tries when the first
/// ones are taken (by branches of the same transaction still prepared).
const BRANCH_ATTEMPTS: u32 = 16;

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS ithaca_wsat_branch (\
     gid text PRIMARY KEY, \
     tx_id text NOT NULL, \
     branch bigint NOT NULL, \
     coordinator_address text NOT NULL, \
     reference_parameters text NOT NULL, \
     wsat_version smallint NOT NULL, \
     created_at timestamptz NOT NULL DEFAULT now())";

/// What went wrong with a PostgreSQL branch.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PgParticipantError {
    /// `max_prepared_transactions` is 0: `PREPARE TRANSACTION` is disabled.
    #[error(
        "PostgreSQL has prepared transactions disabled (max_prepared_transactions = 0): set it above 0 and restart the server"
    )]
    PreparedTransactionsDisabled,
    /// A node identifier or GID was refused.
    #[error("invalid transaction identifier: {0}")]
    Gid(#[from] GidError),
    /// The coordinator's endpoint is too large to record.
    #[error("coordinator endpoint is {len} bytes, the limit is {MAX_ENDPOINT_BYTES}")]
    EndpointTooLarge {
        /// Its size.
        len: usize,
    },
    /// Every branch number tried is taken.
    #[error("no free branch number for transaction {0}")]
    NoFreeBranch(TxId),
    /// The application ended the branch's transaction itself (`COMMIT` or
    /// `ROLLBACK` on the branch connection): its work is no longer under
    /// the distributed transaction's control.
    #[error(
        "the branch's transaction was ended on its connection before prepare (the application must not COMMIT or ROLLBACK it)"
    )]
    TransactionEnded,
    /// The outcome found in the database contradicts the one asked for.
    #[error("heuristic outcome for {gid}: asked to {asked} but the branch was already {found}")]
    Heuristic {
        /// The branch.
        gid: Gid,
        /// What was asked ("commit" or "roll back").
        asked: &'static str,
        /// What had happened ("rolled back" or "committed").
        found: &'static str,
    },
    /// A branch record in the table is unreadable.
    #[error("bad branch record {gid}: {reason}")]
    BadRecord {
        /// Its GID.
        gid: String,
        /// What is wrong.
        reason: String,
    },
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl PgParticipantError {
    /// Whether retrying later may succeed (the database was unreachable or
    /// failed), as opposed to a refusal or a heuristic outcome.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Database(_))
    }
}

/// How a branch's prepare ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrepareOutcome {
    /// Durably prepared under this GID: vote Prepared.
    Prepared(Gid),
    /// Nothing was written; the transaction is rolled back: vote ReadOnly.
    ReadOnly,
}

/// How a prepared branch was resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// `COMMIT PREPARED` ran.
    Committed,
    /// `ROLLBACK PREPARED` ran.
    RolledBack,
    /// The GID was unknown and the branch record says it had committed.
    AlreadyCommitted,
    /// The GID was unknown and the branch record says it had not
    /// committed.
    AlreadyRolledBack,
}

/// A prepared branch found at start-up, with what is needed to ask its
/// coordinator for the outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveredBranch {
    /// The branch.
    pub id: BranchId,
    /// Its GID.
    pub gid: Gid,
    /// The coordinator's protocol endpoint (from RegisterResponse).
    pub coordinator: EndpointRef,
    /// The WS-AT version it registered under.
    pub version: WsatVersion,
}

/// What the start-up scan found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Prepared branches of this node, to drive to an outcome.
    pub branches: Vec<RecoveredBranch>,
    /// Prepared transactions with this node's GID prefix but no branch
    /// record (prepared by something else): left alone for an operator.
    pub unknown: Vec<String>,
    /// Branch records without a prepared transaction (branches that never
    /// prepared or were rolled back) that the scan removed.
    pub stale_records_removed: u64,
}

/// A participant's PostgreSQL database: opens branches and resolves
/// prepared ones. One process per [`NodeId`].
#[derive(Debug)]
pub struct PgParticipant {
    pool: PgPool,
    node: NodeId,
    next_branch: AtomicU32,
    read_only_votes: bool,
}

impl PgParticipant {
    /// Checks the database, creates the branch table if needed and scans
    /// for this node's prepared branches, before any new branch can begin
    /// (so the scan never mistakes a live branch for a stale one).
    pub async fn start(pool: PgPool, node: NodeId) -> Result<(Self, Recovery), PgParticipantError> {
        let max: String = sqlx::query_scalar("SELECT current_setting('max_prepared_transactions')")
            .fetch_one(&pool)
            .await?;
        if max.trim() == "0" {
            return Err(PgParticipantError::PreparedTransactionsDisabled);
        }
        if let Err(error) = sqlx::query(CREATE_TABLE).execute(&pool).await {
            // Two processes creating the table at once: one loses the race
            // on the catalog; the table exists either way.
            let raced = error
                .as_database_error()
                .and_then(|e| e.code())
                .is_some_and(|code| code == "23505" || code == "42P07");
            if !raced {
                return Err(error.into());
            }
        }
        let participant = Self {
            pool,
            node,
            next_branch: AtomicU32::new(0),
            read_only_votes: true,
        };
        let recovery = participant.scan().await?;
        Ok((participant, recovery))
    }

    /// This participant with read-only votes on or off (see the module
    /// documentation).
    #[must_use]
    pub fn with_read_only_votes(mut self, on: bool) -> Self {
        self.read_only_votes = on;
        self
    }

    /// The node identifier.
    pub fn node(&self) -> &NodeId {
        &self.node
    }

    /// The pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The GID of a branch of this node.
    pub fn gid(&self, branch: &BranchId) -> Gid {
        Gid::for_branch(&self.node, &branch.tx, branch.branch)
    }

    /// A fresh branch number for `tx`, for the participant endpoint
    /// reference that goes into Register before the branch is opened with
    /// [`PgParticipant::begin_branch`].
    pub fn reserve_branch(&self, tx: &TxId) -> BranchId {
        BranchId::new(tx.clone(), self.next_branch.fetch_add(1, Ordering::Relaxed))
    }

    /// Opens a branch of `tx` registered with `coordinator`: records it,
    /// pins a connection and runs `BEGIN` on it. Call it only after the
    /// Durable2PC registration succeeded.
    pub async fn begin(
        &self,
        tx: &TxId,
        coordinator: &EndpointRef,
        version: WsatVersion,
    ) -> Result<PgBranch, PgParticipantError> {
        check_endpoint(coordinator)?;
        let mut conn = self.pool.acquire().await?;
        for _ in 0..BRANCH_ATTEMPTS {
            let id = self.reserve_branch(tx);
            if record(&mut conn, &self.node, &id, coordinator, version).await? {
                return self.open(conn, id).await;
            }
        }
        Err(PgParticipantError::NoFreeBranch(tx.clone()))
    }

    /// Opens the branch `id` (from [`PgParticipant::reserve_branch`]) as
    /// [`PgParticipant::begin`] does; [`PgParticipantError::NoFreeBranch`]
    /// if its GID is taken (by a branch still prepared).
    pub async fn begin_branch(
        &self,
        id: &BranchId,
        coordinator: &EndpointRef,
        version: WsatVersion,
    ) -> Result<PgBranch, PgParticipantError> {
        check_endpoint(coordinator)?;
        let mut conn = self.pool.acquire().await?;
        if !record(&mut conn, &self.node, id, coordinator, version).await? {
            return Err(PgParticipantError::NoFreeBranch(id.tx.clone()));
        }
        self.open(conn, id.clone()).await
    }

    /// `BEGIN` on the pinned connection of a recorded branch.
    async fn open(
        &self,
        mut conn: PoolConnection<Postgres>,
        id: BranchId,
    ) -> Result<PgBranch, PgParticipantError> {
        sqlx::raw_sql("BEGIN").execute(&mut *conn).await?;
        Ok(PgBranch {
            conn,
            gid: Gid::for_branch(&self.node, &id.tx, id.branch),
            id,
            pool: self.pool.clone(),
            read_only_votes: self.read_only_votes,
            finished: false,
        })
    }

    /// `COMMIT PREPARED` for a branch of this node (from any connection of
    /// the pool, never inside a transaction block).
    pub async fn commit_prepared(&self, gid: &Gid) -> Result<Resolution, PgParticipantError> {
        let sql = format!("COMMIT PREPARED {}", gid.literal());
        match sqlx::raw_sql(AssertSqlSafe(sql)).execute(&self.pool).await {
            Ok(_) => Ok(Resolution::Committed),
            Err(error) if is_unknown_gid(&error) => {
                if self.has_record(gid).await? {
                    Err(PgParticipantError::Heuristic {
                        gid: gid.clone(),
                        asked: "commit",
                        found: "rolled back",
                    })
                } else {
                    Ok(Resolution::AlreadyCommitted)
                }
            }
            Err(error) => Err(error.into()),
        }
    }

    /// `ROLLBACK PREPARED` for a branch of this node, then its record is
    /// dropped.
    pub async fn rollback_prepared(&self, gid: &Gid) -> Result<Resolution, PgParticipantError> {
        let sql = format!("ROLLBACK PREPARED {}", gid.literal());
        let resolution = match sqlx::raw_sql(AssertSqlSafe(sql)).execute(&self.pool).await {
            Ok(_) => Resolution::RolledBack,
            Err(error) if is_unknown_gid(&error) => {
                if !self.has_record(gid).await? {
                    return Err(PgParticipantError::Heuristic {
                        gid: gid.clone(),
                        asked: "roll back",
                        found: "committed",
                    });
                }
                Resolution::AlreadyRolledBack
            }
            Err(error) => return Err(error.into()),
        };
        delete_record(&self.pool, gid).await?;
        Ok(resolution)
    }

    /// Whether the branch record of `gid` exists.
    async fn has_record(&self, gid: &Gid) -> Result<bool, PgParticipantError> {
        Ok(
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM ithaca_wsat_branch WHERE gid = $1)")
                .bind(gid.as_str())
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// The start-up scan: this node's prepared transactions in this
    /// database, joined with their records; stale records are removed.
    async fn scan(&self) -> Result<Recovery, PgParticipantError> {
        let pattern = self.node.like_pattern();
        let rows = sqlx::query(
            "SELECT p.gid, b.tx_id, b.branch, b.coordinator_address, b.reference_parameters, \
             b.wsat_version \
             FROM pg_prepared_xacts p LEFT JOIN ithaca_wsat_branch b ON b.gid = p.gid \
             WHERE p.database = current_database() AND p.gid LIKE $1 ESCAPE '\\' \
             ORDER BY p.prepared",
        )
        .bind(&pattern)
        .fetch_all(&self.pool)
        .await?;
        let mut recovery = Recovery::default();
        for row in rows {
            let gid_text: String = row.try_get("gid")?;
            let tx: Option<String> = row.try_get("tx_id")?;
            let Some(tx) = tx else {
                recovery.unknown.push(gid_text);
                continue;
            };
            let bad = |reason: &str| PgParticipantError::BadRecord {
                gid: gid_text.clone(),
                reason: reason.to_owned(),
            };
            let gid = Gid::parse(&gid_text)?;
            let branch: i64 = row.try_get("branch")?;
            let branch = u32::try_from(branch).map_err(|_| bad("branch out of range"))?;
            let year: i16 = row.try_get("wsat_version")?;
            let version =
                WsatVersion::from_year(year).ok_or_else(|| bad("unknown WS-AT version"))?;
            let id = BranchId::new(TxId(tx), branch);
            if Gid::for_branch(&self.node, &id.tx, id.branch) != gid {
                return Err(bad("GID does not match its transaction and branch"));
            }
            recovery.branches.push(RecoveredBranch {
                id,
                gid,
                coordinator: EndpointRef {
                    address: row.try_get("coordinator_address")?,
                    reference_parameters: row.try_get("reference_parameters")?,
                },
                version,
            });
        }
        let removed = sqlx::query(
            "DELETE FROM ithaca_wsat_branch b WHERE b.gid LIKE $1 ESCAPE '\\' \
             AND NOT EXISTS (SELECT 1 FROM pg_prepared_xacts p WHERE p.gid = b.gid)",
        )
        .bind(&pattern)
        .execute(&self.pool)
        .await?;
        recovery.stale_records_removed = removed.rows_affected();
        // New branches start above every recovered one, so they rarely
        // collide with a prepared GID (a collision only costs a retry).
        let next = recovery
            .branches
            .iter()
            .map(|b| b.id.branch.saturating_add(1))
            .max()
            .unwrap_or(0);
        self.next_branch.store(next, Ordering::Relaxed);
        Ok(recovery)
    }
}

/// `TransactionEnded` for "SAVEPOINT can only be used in transaction
/// blocks" (SQLSTATE 25P01), the error itself otherwise.
fn ended_or(error: sqlx::Error) -> PgParticipantError {
    let ended = error
        .as_database_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "25P01");
    if ended {
        PgParticipantError::TransactionEnded
    } else {
        error.into()
    }
}

fn check_endpoint(coordinator: &EndpointRef) -> Result<(), PgParticipantError> {
    let len = coordinator.address.len() + coordinator.reference_parameters.len();
    if len > MAX_ENDPOINT_BYTES {
        return Err(PgParticipantError::EndpointTooLarge { len });
    }
    Ok(())
}

/// Writes the branch record of `id`; false if its GID is taken.
async fn record(
    conn: &mut PgConnection,
    node: &NodeId,
    id: &BranchId,
    coordinator: &EndpointRef,
    version: WsatVersion,
) -> Result<bool, PgParticipantError> {
    let gid = Gid::for_branch(node, &id.tx, id.branch);
    // Committed without a flush of its own: PREPARE TRANSACTION flushes the
    // log past it before Prepared is sent.
    let inserted = sqlx::query(
        "WITH quiet AS (SELECT set_config('synchronous_commit', 'off', true)) \
         INSERT INTO ithaca_wsat_branch \
         (gid, tx_id, branch, coordinator_address, reference_parameters, wsat_version) \
         SELECT $1, $2, $3, $4, $5, $6 FROM quiet ON CONFLICT (gid) DO NOTHING",
    )
    .bind(gid.as_str())
    .bind(&id.tx.0)
    .bind(i64::from(id.branch))
    .bind(&coordinator.address)
    .bind(&coordinator.reference_parameters)
    .bind(version.year())
    .execute(conn)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

fn is_unknown_gid(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "42704")
}

/// Drops a branch record without waiting for a flush: losing the delete in
/// a crash only leaves a record the next start-up scan removes.
async fn delete_record(pool: &PgPool, gid: &Gid) -> Result<(), PgParticipantError> {
    sqlx::query(
        "WITH quiet AS (SELECT set_config('synchronous_commit', 'off', true)) \
         DELETE FROM ithaca_wsat_branch WHERE gid = $1 AND EXISTS (SELECT 1 FROM quiet)",
    )
    .bind(gid.as_str())
    .execute(pool)
    .await?;
    Ok(())
}

/// One open branch: a transaction on a pinned connection, until it is
/// prepared or rolled back.
///
/// Dropping it unfinished (the handler failed or was cancelled) closes the
/// connection instead of returning it to the pool, so PostgreSQL rolls the
/// work back and no later user inherits an open transaction.
#[derive(Debug)]
pub struct PgBranch {
    conn: PoolConnection<Postgres>,
    id: BranchId,
    gid: Gid,
    pool: PgPool,
    read_only_votes: bool,
    finished: bool,
}

impl PgBranch {
    /// The branch.
    pub fn id(&self) -> &BranchId {
        &self.id
    }

    /// Its GID.
    pub fn gid(&self) -> &Gid {
        &self.gid
    }

    /// The connection the application does its work on, inside the
    /// branch's transaction. Do not `COMMIT` or `ROLLBACK` on it, nor
    /// `PREPARE TRANSACTION` yourself; `SAVEPOINT`s are fine.
    pub fn connection(&mut self) -> &mut PgConnection {
        &mut self.conn
    }

    /// Prepares the branch: `PREPARE TRANSACTION '<gid>'`, which makes it
    /// durable (vote Prepared), or, when it wrote nothing and read-only
    /// votes are on, rolls it back (vote ReadOnly). An error means the
    /// work is rolled back: vote Aborted.
    pub async fn prepare(mut self) -> Result<PrepareOutcome, PgParticipantError> {
        if self.read_only_votes {
            let wrote: bool =
                sqlx::query_scalar("SELECT pg_current_xact_id_if_assigned() IS NOT NULL")
                    .fetch_one(&mut *self.conn)
                    .await?;
            if !wrote {
                // The SAVEPOINT fails outside a transaction block, which is
                // how an application that ended the transaction is caught.
                sqlx::raw_sql("SAVEPOINT ithaca_wsat_guard; ROLLBACK")
                    .execute(&mut *self.conn)
                    .await
                    .map_err(ended_or)?;
                self.finished = true;
                delete_record(&self.pool, &self.gid).await?;
                return Ok(PrepareOutcome::ReadOnly);
            }
        }
        let literal = self.gid.literal();
        let sql = format!(
            "SAVEPOINT ithaca_wsat_guard; \
             DELETE FROM ithaca_wsat_branch WHERE gid = {literal}; \
             PREPARE TRANSACTION {literal}"
        );
        match sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(&mut *self.conn)
            .await
        {
            Ok(_) => {
                self.finished = true;
                Ok(PrepareOutcome::Prepared(self.gid.clone()))
            }
            Err(error) => {
                // The connection closes on drop, which rolls back whatever
                // is left; the record goes now or at the next start-up.
                let _ = delete_record(&self.pool, &self.gid).await;
                Err(ended_or(error))
            }
        }
    }

    /// Rolls the branch's open work back (before prepare) and drops its
    /// record.
    pub async fn rollback(mut self) -> Result<(), PgParticipantError> {
        sqlx::raw_sql("ROLLBACK").execute(&mut *self.conn).await?;
        self.finished = true;
        delete_record(&self.pool, &self.gid).await
    }
}

impl Drop for PgBranch {
    fn drop(&mut self) {
        if !self.finished {
            self.conn.close_on_drop();
        }
    }
}

impl super::resource::DurableResource for PgParticipant {
    type Branch = PgBranch;

    fn describe(&self) -> String {
        format!("postgres node {}", self.node.as_str())
    }

    fn reserve_branch(&self, tx: &TxId) -> BranchId {
        Self::reserve_branch(self, tx)
    }

    async fn open_branch(
        &self,
        id: &BranchId,
        coordinator: &EndpointRef,
        version: WsatVersion,
    ) -> Result<PgBranch, super::resource::BoxError> {
        Ok(self.begin_branch(id, coordinator, version).await?)
    }

    async fn open_new_branch(
        &self,
        tx: &TxId,
        coordinator: &EndpointRef,
        version: WsatVersion,
    ) -> Result<PgBranch, super::resource::BoxError> {
        Ok(self.begin(tx, coordinator, version).await?)
    }

    async fn commit_branch(&self, id: &BranchId) -> Result<Resolution, super::resource::BoxError> {
        Ok(self.commit_prepared(&self.gid(id)).await?)
    }

    async fn rollback_branch(
        &self,
        id: &BranchId,
    ) -> Result<Resolution, super::resource::BoxError> {
        Ok(self.rollback_prepared(&self.gid(id)).await?)
    }
}

impl super::resource::ResourceBranch for PgBranch {
    fn id(&self) -> &BranchId {
        &self.id
    }

    async fn prepare_branch(self) -> Result<PrepareOutcome, super::resource::BoxError> {
        Ok(self.prepare().await?)
    }

    async fn rollback_open(self) -> Result<(), super::resource::BoxError> {
        Ok(self.rollback().await?)
    }
}
