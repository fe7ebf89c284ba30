//! SQLite as a Durable2PC resource, without prepared transactions: the
//! escrow pattern.
//!
//! SQLite cannot keep a transaction open across a process restart, so a
//! branch's work is not a database transaction until the end. While the
//! branch is open, the application records its intended changes as opaque
//! *work* bytes in the [`SqliteBranch`] (and reserves whatever must not be
//! promised twice, such as funds, in memory: see [`SqliteWork`]). At
//! Prepare, one SQLite transaction writes the branch's *prepared record*
//! (its transaction, branch, the coordinator's endpoint, the WS-AT version
//! and the work) and only once it is durable (WAL, `synchronous=FULL`) does
//! the branch vote Prepared. At Commit, one SQLite transaction applies the
//! work ([`SqliteWork::apply`]) and marks the record committed; at Rollback
//! the record is marked rolled back. Either way the application then
//! releases what the branch reserved ([`SqliteWork::release`]).
//!
//! At start-up, [`SqliteParticipant::start`] removes the records of
//! branches already settled and returns every prepared one as a
//! [`Recovery`] (so each asks its coordinator for the outcome again, as a
//! PostgreSQL branch recovered from `pg_prepared_xacts` does), after
//! handing its work to [`SqliteWork::recover`] so its reservations hold
//! again. Nothing is lost across `kill -9`: an open branch had promised
//! nothing (the coordinator cannot commit without its Prepared), a
//! prepared one is on disk, and applying the work and settling the record
//! are one transaction, so no work is applied twice or half.
//!
//! A settled record is kept (with its state) until the next start-up, so
//! a repeated Commit is answered `AlreadyCommitted` and a Rollback after a
//! Commit is reported as a heuristic outcome instead of being applied.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{Row, SqlSafeStr};

use super::gid::{Gid, GidError, NodeId};
use super::postgres::{PrepareOutcome, RecoveredBranch, Recovery, Resolution};
use super::resource::{BoxError, DurableResource, ResourceBranch};
use super::state::{BranchId, WsatVersion};
use crate::record::{EndpointRef, TxId};

/// The most bytes of coordinator address plus reference parameters a
/// prepared record keeps.
pub const MAX_ENDPOINT_BYTES: usize = super::postgres::MAX_ENDPOINT_BYTES;

/// The most bytes of work one branch may record.
pub const MAX_WORK_BYTES: usize = 64 * 1024;

/// How many connections the participant's pool holds.
const POOL_SIZE: u32 = 4;

/// How long a statement waits for SQLite's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS ithaca_wsat_prepared (\
     gid TEXT PRIMARY KEY, \
     tx_id TEXT NOT NULL, \
     branch INTEGER NOT NULL, \
     coordinator_address TEXT NOT NULL, \
     reference_parameters TEXT NOT NULL, \
     wsat_version INTEGER NOT NULL, \
     state TEXT NOT NULL CHECK (state IN ('prepared', 'committed', 'rolled_back')), \
     work BLOB NOT NULL)";

/// What the application does with a branch's work.
///
/// The application writes work with [`SqliteBranch::push_work`] while the
/// branch is open, and reserves whatever the work must be able to count on
/// (so two open branches cannot both spend the same funds). The
/// participant calls back:
pub trait SqliteWork: Send + Sync + 'static {
    /// Applies a prepared branch's `work` for transaction `tx`, inside the
    /// SQLite transaction that commits the branch (do not `COMMIT` or
    /// `ROLLBACK` on `connection`). An error leaves the branch prepared;
    /// the commit is retried.
    fn apply<'a>(
        &'a self,
        connection: &'a mut SqliteConnection,
        tx: &'a TxId,
        work: &'a [u8],
    ) -> impl Future<Output = Result<(), BoxError>> + Send + 'a;

    /// The branch's work is settled: applied and committed, rolled back, or
    /// dropped before it was prepared. Release what it reserved.
    fn release(&self, branch: &BranchId, work: &[u8]);

    /// A prepared branch was found at start-up: reserve again what its
    /// work needs (it is still to be committed or rolled back).
    fn recover(&self, branch: &BranchId, work: &[u8]);
}

/// What went wrong with a SQLite branch.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SqliteParticipantError {
    /// A node identifier or GID was refused.
    #[error("invalid transaction identifier: {0}")]
    Gid(#[from] GidError),
    /// The coordinator's endpoint is too large to record.
    #[error("coordinator endpoint is {len} bytes, the limit is {MAX_ENDPOINT_BYTES}")]
    EndpointTooLarge {
        /// Its size.
        len: usize,
    },
    /// The branch's work grew past [`MAX_WORK_BYTES`].
    #[error("a branch records at most {MAX_WORK_BYTES} bytes of work")]
    WorkTooLarge,
    /// A prepared record of that branch already exists.
    #[error("branch {0} is already prepared")]
    BranchTaken(String),
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
    /// A prepared record is unreadable.
    #[error("bad prepared record {gid}: {reason}")]
    BadRecord {
        /// Its GID.
        gid: String,
        /// What is wrong.
        reason: String,
    },
    /// The application could not apply the work.
    #[error("applying the work of {gid}: {source}")]
    Apply {
        /// The branch.
        gid: Gid,
        /// What failed.
        source: BoxError,
    },
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

struct Shared<W> {
    pool: SqlitePool,
    node: NodeId,
    work: Arc<W>,
}

/// A participant's SQLite database: opens branches, prepares them as
/// durable records and settles them. One process per file.
pub struct SqliteParticipant<W: SqliteWork> {
    shared: Arc<Shared<W>>,
    next_branch: AtomicU32,
}

impl<W: SqliteWork> std::fmt::Debug for SqliteParticipant<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteParticipant")
            .field("node", &self.shared.node)
            .finish_non_exhaustive()
    }
}

/// Opens (creating it if needed) the SQLite file at `path` in WAL mode with
/// `synchronous=FULL`, as the participant and its application share it.
pub async fn open_pool(path: &Path) -> Result<SqlitePool, sqlx::Error> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(BUSY_TIMEOUT);
    SqlitePoolOptions::new()
        .max_connections(POOL_SIZE)
        .connect_with(options)
        .await
}

impl<W: SqliteWork> SqliteParticipant<W> {
    /// Creates the record table if needed, removes settled records and
    /// returns the prepared branches of this database (each one's work
    /// handed to [`SqliteWork::recover`] first), before any new branch can
    /// begin. `pool` should come from [`open_pool`].
    pub async fn start(
        pool: SqlitePool,
        node: NodeId,
        work: Arc<W>,
    ) -> Result<(Self, Recovery), SqliteParticipantError> {
        sqlx::query(CREATE_TABLE).execute(&pool).await?;
        let removed = sqlx::query("DELETE FROM ithaca_wsat_prepared WHERE state <> 'prepared'")
            .execute(&pool)
            .await?;
        let rows = sqlx::query(
            "SELECT gid, tx_id, branch, coordinator_address, reference_parameters, \
             wsat_version, work FROM ithaca_wsat_prepared ORDER BY rowid",
        )
        .fetch_all(&pool)
        .await?;
        let mut recovery = Recovery {
            stale_records_removed: removed.rows_affected(),
            ..Recovery::default()
        };
        for row in rows {
            let gid_text: String = row.try_get("gid")?;
            let bad = |reason: &str| SqliteParticipantError::BadRecord {
                gid: gid_text.clone(),
                reason: reason.to_owned(),
            };
            let gid = Gid::parse(&gid_text)?;
            let tx: String = row.try_get("tx_id")?;
            let branch: i64 = row.try_get("branch")?;
            let branch = u32::try_from(branch).map_err(|_| bad("branch out of range"))?;
            let year: i64 = row.try_get("wsat_version")?;
            let version = i16::try_from(year)
                .ok()
                .and_then(WsatVersion::from_year)
                .ok_or_else(|| bad("unknown WS-AT version"))?;
            let id = BranchId::new(TxId(tx), branch);
            if Gid::for_branch(&node, &id.tx, id.branch) != gid {
                // Another node's record (the file was copied or renamed):
                // left alone for an operator.
                recovery.unknown.push(gid_text);
                continue;
            }
            let bytes: Vec<u8> = row.try_get("work")?;
            work.recover(&id, &bytes);
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
        let next = recovery
            .branches
            .iter()
            .map(|b| b.id.branch.saturating_add(1))
            .max()
            .unwrap_or(0);
        Ok((
            Self {
                shared: Arc::new(Shared { pool, node, work }),
                next_branch: AtomicU32::new(next),
            },
            recovery,
        ))
    }

    /// The node identifier.
    pub fn node(&self) -> &NodeId {
        &self.shared.node
    }

    /// The pool (shared with the application).
    pub fn pool(&self) -> &SqlitePool {
        &self.shared.pool
    }

    /// The application's work hooks.
    pub fn work(&self) -> &Arc<W> {
        &self.shared.work
    }

    /// The GID of a branch of this node.
    pub fn gid(&self, branch: &BranchId) -> Gid {
        Gid::for_branch(&self.shared.node, &branch.tx, branch.branch)
    }

    /// Opens the branch `id` registered with `coordinator` (in memory:
    /// nothing is written before Prepare).
    pub fn begin_branch(
        &self,
        id: &BranchId,
        coordinator: &EndpointRef,
        version: WsatVersion,
    ) -> Result<SqliteBranch<W>, SqliteParticipantError> {
        let len = coordinator.address.len() + coordinator.reference_parameters.len();
        if len > MAX_ENDPOINT_BYTES {
            return Err(SqliteParticipantError::EndpointTooLarge { len });
        }
        Ok(SqliteBranch {
            id: id.clone(),
            gid: self.gid(id),
            coordinator: coordinator.clone(),
            version,
            work: Vec::new(),
            shared: self.shared.clone(),
            finished: false,
        })
    }

    /// Commits the prepared branch `gid`: applies its work and marks it
    /// committed, in one SQLite transaction; then releases its
    /// reservations.
    pub async fn commit_prepared(
        &self,
        id: &BranchId,
    ) -> Result<Resolution, SqliteParticipantError> {
        let gid = self.gid(id);
        let mut tx = self.shared.pool.begin_with(immediate()).await?;
        let row = sqlx::query("SELECT state, work FROM ithaca_wsat_prepared WHERE gid = ?1")
            .bind(gid.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            // Settled and purged at a start-up since: it had committed
            // (the coordinator never asks to commit a branch it aborted).
            return Ok(Resolution::AlreadyCommitted);
        };
        let state: String = row.try_get("state")?;
        match state.as_str() {
            "committed" => return Ok(Resolution::AlreadyCommitted),
            "rolled_back" => {
                return Err(SqliteParticipantError::Heuristic {
                    gid,
                    asked: "commit",
                    found: "rolled back",
                });
            }
            _ => {}
        }
        let work: Vec<u8> = row.try_get("work")?;
        self.shared
            .work
            .apply(&mut tx, &id.tx, &work)
            .await
            .map_err(|source| SqliteParticipantError::Apply {
                gid: gid.clone(),
                source,
            })?;
        sqlx::query("UPDATE ithaca_wsat_prepared SET state = 'committed' WHERE gid = ?1")
            .bind(gid.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.shared.work.release(id, &work);
        Ok(Resolution::Committed)
    }

    /// Rolls back the prepared branch `id`: marks it rolled back and
    /// releases its reservations.
    pub async fn rollback_prepared(
        &self,
        id: &BranchId,
    ) -> Result<Resolution, SqliteParticipantError> {
        let gid = self.gid(id);
        let mut tx = self.shared.pool.begin_with(immediate()).await?;
        let row = sqlx::query("SELECT state, work FROM ithaca_wsat_prepared WHERE gid = ?1")
            .bind(gid.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            // Never prepared (or settled and purged): nothing to undo.
            return Ok(Resolution::AlreadyRolledBack);
        };
        let state: String = row.try_get("state")?;
        match state.as_str() {
            "rolled_back" => return Ok(Resolution::AlreadyRolledBack),
            "committed" => {
                return Err(SqliteParticipantError::Heuristic {
                    gid,
                    asked: "roll back",
                    found: "committed",
                });
            }
            _ => {}
        }
        let work: Vec<u8> = row.try_get("work")?;
        sqlx::query("UPDATE ithaca_wsat_prepared SET state = 'rolled_back' WHERE gid = ?1")
            .bind(gid.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.shared.work.release(id, &work);
        Ok(Resolution::RolledBack)
    }
}

/// `BEGIN IMMEDIATE`: takes the write lock at once, so two settling
/// transactions never deadlock upgrading a read lock.
fn immediate() -> impl SqlSafeStr {
    sqlx::AssertSqlSafe("BEGIN IMMEDIATE")
}

/// One open branch: the work recorded so far, until it is prepared or
/// rolled back. Dropping it unfinished releases its reservations.
pub struct SqliteBranch<W: SqliteWork> {
    id: BranchId,
    gid: Gid,
    coordinator: EndpointRef,
    version: WsatVersion,
    work: Vec<u8>,
    shared: Arc<Shared<W>>,
    finished: bool,
}

impl<W: SqliteWork> std::fmt::Debug for SqliteBranch<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteBranch")
            .field("gid", &self.gid)
            .field("work_bytes", &self.work.len())
            .finish_non_exhaustive()
    }
}

impl<W: SqliteWork> SqliteBranch<W> {
    /// The branch.
    pub fn id(&self) -> &BranchId {
        &self.id
    }

    /// Its GID (the prepared record's key).
    pub fn gid(&self) -> &Gid {
        &self.gid
    }

    /// The work recorded so far.
    pub fn work(&self) -> &[u8] {
        &self.work
    }

    /// Appends `bytes` to the branch's work; refused past
    /// [`MAX_WORK_BYTES`] (nothing appended).
    pub fn push_work(&mut self, bytes: &[u8]) -> Result<(), SqliteParticipantError> {
        if self.work.len().saturating_add(bytes.len()) > MAX_WORK_BYTES {
            return Err(SqliteParticipantError::WorkTooLarge);
        }
        self.work.extend_from_slice(bytes);
        Ok(())
    }

    /// The application's work hooks.
    pub fn hooks(&self) -> &Arc<W> {
        &self.shared.work
    }

    /// The database, for reads (the branch's work is not in it before
    /// Commit).
    pub fn pool(&self) -> &SqlitePool {
        &self.shared.pool
    }

    /// Prepares the branch: writes its prepared record in one durable
    /// transaction (vote Prepared), or, when it recorded no work, ends it
    /// (vote ReadOnly). An error releases the work: vote Aborted.
    pub async fn prepare(mut self) -> Result<PrepareOutcome, SqliteParticipantError> {
        if self.work.is_empty() {
            self.finish();
            return Ok(PrepareOutcome::ReadOnly);
        }
        let inserted = sqlx::query(
            "INSERT INTO ithaca_wsat_prepared \
             (gid, tx_id, branch, coordinator_address, reference_parameters, wsat_version, \
             state, work) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'prepared', ?7) \
             ON CONFLICT (gid) DO NOTHING",
        )
        .bind(self.gid.as_str())
        .bind(&self.id.tx.0)
        .bind(i64::from(self.id.branch))
        .bind(&self.coordinator.address)
        .bind(&self.coordinator.reference_parameters)
        .bind(i64::from(self.version.year()))
        .bind(self.work.as_slice())
        .execute(&self.shared.pool)
        .await;
        match inserted {
            Ok(done) if done.rows_affected() == 1 => {
                // Durable: the reservations now belong to the record, and
                // are released when it is settled.
                self.finished = true;
                Ok(PrepareOutcome::Prepared(self.gid.clone()))
            }
            Ok(_) => {
                let taken = self.gid.as_str().to_owned();
                self.finish();
                Err(SqliteParticipantError::BranchTaken(taken))
            }
            Err(error) => {
                self.finish();
                Err(error.into())
            }
        }
    }

    /// Rolls the branch's work back (before prepare): releases it.
    pub fn rollback(mut self) {
        self.finish();
    }

    /// Releases the work once.
    fn finish(&mut self) {
        if !self.finished {
            self.finished = true;
            self.shared.work.release(&self.id, &self.work);
        }
    }
}

impl<W: SqliteWork> Drop for SqliteBranch<W> {
    fn drop(&mut self) {
        self.finish();
    }
}

impl<W: SqliteWork> DurableResource for SqliteParticipant<W> {
    type Branch = SqliteBranch<W>;

    fn describe(&self) -> String {
        format!("sqlite node {}", self.shared.node.as_str())
    }

    fn reserve_branch(&self, tx: &TxId) -> BranchId {
        BranchId::new(tx.clone(), self.next_branch.fetch_add(1, Ordering::Relaxed))
    }

    async fn open_branch(
        &self,
        id: &BranchId,
        coordinator: &EndpointRef,
        version: WsatVersion,
    ) -> Result<SqliteBranch<W>, BoxError> {
        Ok(self.begin_branch(id, coordinator, version)?)
    }

    async fn commit_branch(&self, id: &BranchId) -> Result<Resolution, BoxError> {
        Ok(self.commit_prepared(id).await?)
    }

    async fn rollback_branch(&self, id: &BranchId) -> Result<Resolution, BoxError> {
        Ok(self.rollback_prepared(id).await?)
    }
}

impl<W: SqliteWork> ResourceBranch for SqliteBranch<W> {
    fn id(&self) -> &BranchId {
        &self.id
    }

    async fn prepare_branch(self) -> Result<PrepareOutcome, BoxError> {
        Ok(self.prepare().await?)
    }

    async fn rollback_open(self) -> Result<(), BoxError> {
        self.rollback();
        Ok(())
    }
}
