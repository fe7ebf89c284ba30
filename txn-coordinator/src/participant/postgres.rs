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
//! log up to itself, which includes that earlier commit. That transaction
//! and the branch's `BEGIN` go to the server as one message (`BEGIN; SET
//! LOCAL synchronous_commit TO off; INSERT …; COMMIT; BEGIN`, the record's
//! values as escaped literals), so opening a branch
//! costs one round trip. The branch's own
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
//! snapshot and locks until the outcome. The check rides in the prepare's
//! own message: a statement that divides by zero when no transaction id
//! was assigned stops the message before `PREPARE TRANSACTION`, so a branch
//! that wrote is prepared in one round trip and one that did not is rolled
//! back in a second.
//!
//! **Kept connections.** sqlx's pool checks a connection with an empty
//! round trip (a sync) each time one is returned, and again before handing
//! one out unless told otherwise: two of them for every use. The
//! participant therefore keeps up to half the pool's connections checked
//! out between uses, idle (no transaction open): a branch opens on a kept
//! connection and hands it back once prepared or rolled back, and `COMMIT
//! PREPARED` / `ROLLBACK PREPARED` run on one. When the pool has every
//! connection out, a finished one goes back to the pool instead, so a task
//! waiting in the pool's `acquire` is not passed over by new uses taking
//! kept ones. A kept connection the server dropped (a restart) fails its
//! statement with a connection error; the statement is then run once more
//! on a connection from the pool, checked as usual, and the broken one is
//! closed. That retry is safe: opening a branch that had already been
//! recorded finds its GID taken and tries the next number (or, for a
//! branch number already sent in Register, fails the request, so the
//! branch votes Aborted and the stale record goes at the next start-up), a
//! `COMMIT PREPARED` / `ROLLBACK PREPARED` that had already run finds the
//! GID unknown, judged by the branch record as for any resent outcome, and
//! a record's delete deletes nothing the second time.
//!
//! **Round trips per branch**: one to open it (record and `BEGIN`), one
//! to prepare it (guard savepoint, read-only check, record delete and
//! `PREPARE TRANSACTION`), one for `COMMIT PREPARED`; a rollback after
//! prepare takes two (`ROLLBACK PREPARED`, which cannot share a message,
//! then the record's delete), and a read-only branch one more than the
//! prepare (its `ROLLBACK` and the record's delete).

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

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
    /// A transaction identifier or coordinator endpoint holds a NUL
    /// character, which PostgreSQL text cannot store.
    #[error("a transaction identifier or coordinator endpoint holds a NUL character")]
    Nul,
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
    kept: Arc<KeptConnections>,
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
            kept: Arc::new(KeptConnections::new(&pool)),
            pool,
            node,
            next_branch: AtomicU32::new(0),
            read_only_votes: true,
        };
        // Kept connections would hold `PgPool::close` up forever: give them
        // back as soon as it is called.
        let close = participant.pool.close_event();
        let kept = Arc::downgrade(&participant.kept);
        tokio::spawn(async move {
            close.await;
            if let Some(kept) = kept.upgrade() {
                kept.close();
            }
        });
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
    /// pins a connection and runs `BEGIN` on it (one round trip). Call it
    /// only after the Durable2PC registration succeeded.
    pub async fn begin(
        &self,
        tx: &TxId,
        coordinator: &EndpointRef,
        version: WsatVersion,
    ) -> Result<PgBranch, PgParticipantError> {
        check_endpoint(coordinator)?;
        for _ in 0..BRANCH_ATTEMPTS {
            let id = self.reserve_branch(tx);
            match self.open_on_any(id, coordinator, version).await? {
                Opened::Branch(branch) => return Ok(branch),
                Opened::Taken(conn) => self.kept.keep(conn),
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
        match self.open_on_any(id.clone(), coordinator, version).await? {
            Opened::Branch(branch) => Ok(branch),
            Opened::Taken(conn) => {
                self.kept.keep(conn);
                Err(PgParticipantError::NoFreeBranch(id.tx.clone()))
            }
        }
    }

    /// [`PgParticipant::open`] on a kept connection, or on one from the
    /// pool when none is kept or the kept one turns out broken.
    async fn open_on_any(
        &self,
        id: BranchId,
        coordinator: &EndpointRef,
        version: WsatVersion,
    ) -> Result<Opened, PgParticipantError> {
        if let Some(conn) = self.kept.take() {
            match self.open(conn, id.clone(), coordinator, version).await {
                Err(PgParticipantError::Database(error)) if is_broken(&error) => {
                    tracing::debug!(%error, "a kept connection is broken; opening on a new one");
                }
                done => return done,
            }
        }
        let conn = self.pool.acquire().await?;
        self.open(conn, id, coordinator, version).await
    }

    /// Writes the branch record of `id` and runs `BEGIN` on the pinned
    /// connection, in one message: `BEGIN; SET LOCAL synchronous_commit TO
    /// off; INSERT … ON CONFLICT DO NOTHING; COMMIT; BEGIN`. The record
    /// commits without a flush of its own (`PREPARE TRANSACTION` flushes
    /// the log past it before `Prepared` is sent). When the GID is taken
    /// (no row inserted) the new transaction is rolled back and the
    /// connection handed back for another branch number.
    async fn open(
        &self,
        mut conn: PoolConnection<Postgres>,
        id: BranchId,
        coordinator: &EndpointRef,
        version: WsatVersion,
    ) -> Result<Opened, PgParticipantError> {
        let gid = Gid::for_branch(&self.node, &id.tx, id.branch);
        let sql = format!(
            "BEGIN; SET LOCAL synchronous_commit TO off; \
             INSERT INTO ithaca_wsat_branch \
             (gid, tx_id, branch, coordinator_address, reference_parameters, wsat_version) \
             VALUES ({}, {}, {}, {}, {}, {}) ON CONFLICT (gid) DO NOTHING; \
             COMMIT; BEGIN",
            gid.literal(),
            text_literal(&id.tx.0)?,
            id.branch,
            text_literal(&coordinator.address)?,
            text_literal(&coordinator.reference_parameters)?,
            version.year(),
        );
        let inserted = match sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut *conn).await {
            Ok(done) => done.rows_affected() == 1,
            Err(error) => {
                // The message may have stopped inside a transaction block:
                // never hand such a connection back.
                conn.close_on_drop();
                return Err(error.into());
            }
        };
        if !inserted {
            if let Err(error) = sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await {
                conn.close_on_drop();
                return Err(error.into());
            }
            return Ok(Opened::Taken(conn));
        }
        Ok(Opened::Branch(PgBranch {
            conn: Some(conn),
            gid,
            id,
            pool: self.pool.clone(),
            kept: self.kept.clone(),
            read_only_votes: self.read_only_votes,
            finished: false,
        }))
    }

    /// Runs one message outside any transaction of the caller's (`COMMIT
    /// PREPARED`, `ROLLBACK PREPARED`, or a record's delete in a
    /// transaction of its own) on a kept connection, or on one from the
    /// pool when none is kept or the kept one turns out broken (see the
    /// module documentation for why running it twice is safe). After an
    /// error the connection is kept only if the message was a single
    /// statement (`multi_statement` false): a failed multi-statement
    /// message may have stopped inside its own transaction block.
    async fn run_outside_transactions(
        &self,
        sql: &str,
        multi_statement: bool,
    ) -> Result<(), sqlx::Error> {
        let reusable = |result: &Result<(), sqlx::Error>| match result {
            Ok(()) => true,
            Err(error) => !multi_statement && !is_broken(error),
        };
        if let Some(mut conn) = self.kept.take() {
            let result = sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
                .execute(&mut *conn)
                .await
                .map(drop);
            match result {
                Err(error) if is_broken(&error) => {
                    conn.close_on_drop();
                    tracing::debug!(%error, "a kept connection is broken; retrying on a new one");
                }
                result => {
                    if reusable(&result) {
                        self.kept.keep(conn);
                    } else {
                        conn.close_on_drop();
                    }
                    return result;
                }
            }
        }
        let mut conn = self.pool.acquire().await?;
        let result = sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
            .execute(&mut *conn)
            .await
            .map(drop);
        if reusable(&result) {
            self.kept.keep(conn);
        } else {
            conn.close_on_drop();
        }
        result
    }

    /// `COMMIT PREPARED` for a branch of this node (never inside a
    /// transaction block).
    pub async fn commit_prepared(&self, gid: &Gid) -> Result<Resolution, PgParticipantError> {
        let sql = format!("COMMIT PREPARED {}", gid.literal());
        match self.run_outside_transactions(&sql, false).await {
            Ok(()) => Ok(Resolution::Committed),
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
        let resolution = match self.run_outside_transactions(&sql, false).await {
            Ok(()) => Resolution::RolledBack,
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
        // The record's delete, on the same kind of connection; without a
        // flush (losing it in a crash leaves a record the start-up scan
        // removes, and a resent Rollback finds the GID unknown and the
        // record there: already rolled back).
        self.run_outside_transactions(&forget_record_sql(gid), true)
            .await?;
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

/// The read-only check of [`PgBranch::prepare`]'s message: division by
/// zero (SQLSTATE [`DIVISION_BY_ZERO`]) when the transaction has no
/// transaction id, that is, wrote nothing. The divisor is computed at run
/// time, so the planner cannot fold it into an error of its own.
/// The comment names it in the server's log, where the error and its
/// statement appear once per read-only branch.
const READ_ONLY_CHECK: &str = "/* ithaca: a division by zero here means the branch wrote \
     nothing: it is rolled back and votes ReadOnly */ \
     SELECT 1 / (pg_current_xact_id_if_assigned() IS NOT NULL)::int; ";

/// SQLSTATE `division_by_zero`.
const DIVISION_BY_ZERO: &str = "22012";

/// Whether `error` is a database error with SQLSTATE `code`.
fn has_code(error: &sqlx::Error, code: &str) -> bool {
    error
        .as_database_error()
        .and_then(|e| e.code())
        .is_some_and(|c| c == code)
}

/// `TransactionEnded` for "SAVEPOINT can only be used in transaction
/// blocks" (SQLSTATE 25P01), the error itself otherwise.
fn ended_or(error: sqlx::Error) -> PgParticipantError {
    let ended = has_code(&error, "25P01");
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

/// Idle connections the participant keeps checked out of the pool between
/// uses, so that no use pays the pool's connection checks (see the module
/// documentation). At most half the pool's connections are kept, so the
/// rest stay available to whatever else uses the pool.
struct KeptConnections {
    idle: Mutex<Vec<PoolConnection<Postgres>>>,
    max: usize,
    /// The pool, to see whether anyone may be waiting for a connection.
    pool: PgPool,
    /// The pool is closing: keep nothing more.
    closed: AtomicBool,
}

impl KeptConnections {
    fn new(pool: &PgPool) -> Self {
        let max = usize::try_from(pool.options().get_max_connections() / 2).unwrap_or(1);
        Self {
            idle: Mutex::new(Vec::with_capacity(max)),
            max,
            pool: pool.clone(),
            closed: AtomicBool::new(false),
        }
    }

    /// Gives every kept connection back (the pool is closing) and keeps
    /// none from now on.
    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let idle = match self.idle.lock() {
            Ok(mut idle) => std::mem::take(&mut *idle),
            Err(_) => Vec::new(),
        };
        drop(idle);
    }

    /// A kept connection, if any (none once the lock is poisoned).
    fn take(&self) -> Option<PoolConnection<Postgres>> {
        self.idle.lock().ok()?.pop()
    }

    /// Keeps `conn`, idle, or gives it back to the pool when enough are
    /// kept or when the pool has every connection out (someone may be
    /// waiting in `acquire`, and a kept connection would not reach them:
    /// only a new use takes one).
    fn keep(&self, conn: PoolConnection<Postgres>) {
        let exhausted = self.pool.num_idle() == 0
            && self.pool.size() >= self.pool.options().get_max_connections();
        let surplus = match self.idle.lock() {
            Ok(mut idle)
                if idle.len() < self.max && !exhausted && !self.closed.load(Ordering::Acquire) =>
            {
                idle.push(conn);
                None
            }
            _ => Some(conn),
        };
        drop(surplus);
    }
}

impl std::fmt::Debug for KeptConnections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let idle = self.idle.lock().map(|idle| idle.len()).unwrap_or(0);
        f.debug_struct("KeptConnections")
            .field("idle", &idle)
            .field("max", &self.max)
            .finish()
    }
}

/// Whether `error` says the connection itself is gone (an I/O or protocol
/// failure, or the server ending the session: SQLSTATE classes 08 and 57),
/// rather than the statement failing.
fn is_broken(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_) | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(error) => error
            .code()
            .is_some_and(|code| code.starts_with("08") || code.starts_with("57")),
        _ => false,
    }
}

/// What [`PgParticipant::open`] did.
enum Opened {
    /// The branch is recorded and its transaction open.
    Branch(PgBranch),
    /// The GID is taken; the connection is idle again.
    Taken(PoolConnection<Postgres>),
}

/// `text` as an SQL string literal, `E'…'` with backslashes and quotes
/// doubled, for the one-message statements that cannot take bind
/// parameters (a simple-query message with several statements). An
/// escape string treats a doubled backslash as one backslash and a
/// doubled quote as one quote whatever `standard_conforming_strings`
/// says, and the connection's encoding is UTF-8 (sqlx sets it), so no
/// byte of `text` can end the literal. PostgreSQL text cannot hold NUL,
/// so text with one is refused.
fn text_literal(text: &str) -> Result<String, PgParticipantError> {
    if text.contains('\0') {
        return Err(PgParticipantError::Nul);
    }
    let mut literal = String::with_capacity(text.len() + 8);
    literal.push_str("E'");
    for c in text.chars() {
        match c {
            '\\' => literal.push_str("\\\\"),
            '\'' => literal.push_str("''"),
            c => literal.push(c),
        }
    }
    literal.push('\'');
    Ok(literal)
}

fn is_unknown_gid(error: &sqlx::Error) -> bool {
    has_code(error, "42704")
}

/// The message that drops the branch record of `gid` in a transaction of
/// its own committed without waiting for a flush (`BEGIN; SET LOCAL
/// synchronous_commit TO off; DELETE …; COMMIT`).
fn forget_record_sql(gid: &Gid) -> String {
    format!(
        "BEGIN; SET LOCAL synchronous_commit TO off; \
         DELETE FROM ithaca_wsat_branch WHERE gid = {}; COMMIT",
        gid.literal()
    )
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
/// work back and no later user inherits an open transaction; a finished
/// branch (prepared or rolled back) leaves its connection idle among the
/// participant's kept connections.
#[derive(Debug)]
pub struct PgBranch {
    /// The pinned connection; `None` only once dropped.
    conn: Option<PoolConnection<Postgres>>,
    id: BranchId,
    gid: Gid,
    pool: PgPool,
    kept: Arc<KeptConnections>,
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
        self.conn
            .as_deref_mut()
            .expect("a branch holds its connection until it is dropped")
    }

    /// Prepares the branch: `PREPARE TRANSACTION '<gid>'`, which makes it
    /// durable (vote Prepared), or, when it wrote nothing and read-only
    /// votes are on, rolls it back (vote ReadOnly). An error means the
    /// work is rolled back: vote Aborted.
    ///
    /// One message does it all when the branch wrote: the guard savepoint
    /// (which fails outside a transaction block, catching an application
    /// that ended the transaction itself), the read-only check (a division
    /// by zero when PostgreSQL assigned no transaction id, which stops the
    /// message there), the branch record's delete and `PREPARE
    /// TRANSACTION`. A read-only branch costs a second message: `ROLLBACK`
    /// and the record's delete.
    pub async fn prepare(mut self) -> Result<PrepareOutcome, PgParticipantError> {
        let literal = self.gid.literal();
        let check = if self.read_only_votes {
            READ_ONLY_CHECK
        } else {
            ""
        };
        let sql = format!(
            "SAVEPOINT ithaca_wsat_guard; {check}\
             DELETE FROM ithaca_wsat_branch WHERE gid = {literal}; \
             PREPARE TRANSACTION {literal}"
        );
        match sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(self.connection())
            .await
        {
            Ok(_) => {
                self.finished = true;
                Ok(PrepareOutcome::Prepared(self.gid.clone()))
            }
            Err(error) if self.read_only_votes && has_code(&error, DIVISION_BY_ZERO) => {
                // Wrote nothing.
                self.roll_back_and_forget().await?;
                Ok(PrepareOutcome::ReadOnly)
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
        self.roll_back_and_forget().await
    }

    /// `ROLLBACK`, then the record's delete without a flush (a lost delete
    /// leaves a record the next start-up scan removes), in one message.
    async fn roll_back_and_forget(&mut self) -> Result<(), PgParticipantError> {
        let sql = format!("ROLLBACK; {}", forget_record_sql(&self.gid));
        sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(self.connection())
            .await?;
        self.finished = true;
        Ok(())
    }
}

impl Drop for PgBranch {
    fn drop(&mut self) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        if self.finished {
            // Idle again (prepared away, or rolled back): keep it.
            self.kept.keep(conn);
        } else {
            conn.close_on_drop();
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
