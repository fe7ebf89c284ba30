//! The coordinator's durable log under presumed abort: the
//! [`CoordinatorLog`] trait, its two stores ([`SqliteLog`], the embedded
//! default, and [`PgLog`] for production) and [`GroupCommit`], the writer
//! that forces many transactions' decisions in one durable write.
//!
//! Only commit decisions are forced. A participant's Committed and the final
//! forget are lazy updates: losing one after a crash costs a harmless
//! repeated Commit. Heuristic records are kept until an operator deletes
//! them. Every row read back is checked; a row the coordinator could not
//! have written is a [`LogError::Corrupt`], never a panic.

mod batch;
mod migrate;
mod postgres;
mod sqlite;

use std::future::Future;

pub use batch::{GroupCommit, GroupCommitConfig, GroupCommitStats};
pub use postgres::PgLog;
pub use sqlite::SqliteLog;

use crate::record::{
    DecidedParticipant, DecisionRecord, EndpointRef, HeuristicKind, HeuristicRecord, ParticipantId,
    TxId,
};

/// A log operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The database refused or failed.
    #[error("coordinator log database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The log's schema could not be brought up to date.
    #[error("coordinator log migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A row the coordinator could not have written.
    #[error("corrupt coordinator log row for transaction {tx:?}: {reason}")]
    Corrupt {
        /// The row's transaction id, as stored.
        tx: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A record the log refuses to write (empty id, no participants).
    #[error("invalid decision record for transaction {tx:?}: {reason}")]
    Invalid {
        /// The record's transaction id.
        tx: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The group-commit writer failed this batch (the message is the
    /// underlying error's) or has stopped.
    #[error("coordinator log batch write failed: {0}")]
    Batch(String),
}

/// The durable log a coordinator instance writes its decisions to.
///
/// Every method is one database transaction. `append_decisions` is the only
/// forced write on the commit path; callers batch it (see [`GroupCommit`]).
pub trait CoordinatorLog: Send + Sync {
    /// Forces every record of `batch` in one durable write. Appending a
    /// transaction already logged is a no-op for it (a retried write).
    fn append_decisions(
        &self,
        batch: &[DecisionRecord],
    ) -> impl Future<Output = Result<(), LogError>> + Send;

    /// Notes that a participant acknowledged the commit (unforced).
    fn mark_participant_done(
        &self,
        tx: &TxId,
        participant: ParticipantId,
    ) -> impl Future<Output = Result<(), LogError>> + Send;

    /// Drops a decision once every participant acknowledged it.
    fn forget(&self, tx: &TxId) -> impl Future<Output = Result<(), LogError>> + Send;

    /// Every decision of this instance still owed an acknowledgement, with
    /// only the participants not yet done.
    fn load_unfinished(&self)
    -> impl Future<Output = Result<Vec<DecisionRecord>, LogError>> + Send;

    /// Keeps a heuristic outcome for an operator (forced, never dropped by
    /// the coordinator).
    fn record_heuristic(
        &self,
        record: &HeuristicRecord,
    ) -> impl Future<Output = Result<(), LogError>> + Send;

    /// Every heuristic outcome recorded by this instance, oldest first.
    fn heuristics(&self) -> impl Future<Output = Result<Vec<HeuristicRecord>, LogError>> + Send;
}

/// Checks a record before it is written.
fn validate(record: &DecisionRecord) -> Result<(), LogError> {
    let invalid = |reason| LogError::Invalid {
        tx: record.tx.0.clone(),
        reason,
    };
    if record.tx.0.is_empty() {
        return Err(invalid("empty transaction id"));
    }
    if record.participants.is_empty() {
        return Err(invalid("a commit decision names at least one participant"));
    }
    Ok(())
}

/// One row of the unfinished-decisions query: the transaction, then the
/// number, address and reference parameters of one participant not yet
/// done (all `None` when none is left).
type UnfinishedRow = (String, Option<i64>, Option<String>, Option<String>);

/// One decision row and its participant rows, as read back.
struct DecisionRows {
    tx: String,
    /// (participant, address, reference parameters).
    participants: Vec<(i64, String, String)>,
}

fn participant_id(tx: &str, raw: i64) -> Result<ParticipantId, LogError> {
    u32::try_from(raw)
        .map(ParticipantId)
        .map_err(|_| LogError::Corrupt {
            tx: tx.to_owned(),
            reason: format!("participant number {raw} is out of range"),
        })
}

/// Rebuilds records from rows sorted by transaction, checking each field.
fn decisions_from_rows(rows: Vec<DecisionRows>) -> Result<Vec<DecisionRecord>, LogError> {
    rows.into_iter()
        .map(|row| {
            if row.tx.is_empty() {
                return Err(LogError::Corrupt {
                    tx: row.tx,
                    reason: "empty transaction id".to_owned(),
                });
            }
            let participants = row
                .participants
                .into_iter()
                .map(|(id, address, reference_parameters)| {
                    if address.is_empty() {
                        return Err(LogError::Corrupt {
                            tx: row.tx.clone(),
                            reason: format!("participant {id} has no address"),
                        });
                    }
                    Ok(DecidedParticipant {
                        id: participant_id(&row.tx, id)?,
                        endpoint: EndpointRef {
                            address,
                            reference_parameters,
                        },
                    })
                })
                .collect::<Result<_, _>>()?;
            Ok(DecisionRecord {
                tx: TxId(row.tx),
                participants,
            })
        })
        .collect()
}

/// Groups (tx, participant, address, refs) rows, sorted by tx, into
/// decisions; a decision with no row left undone keeps an empty list.
fn group_rows(rows: Vec<UnfinishedRow>) -> Vec<DecisionRows> {
    let mut out: Vec<DecisionRows> = Vec::new();
    for (tx, id, address, refs) in rows {
        let same = out.last().is_some_and(|last| last.tx == tx);
        if !same {
            out.push(DecisionRows {
                tx,
                participants: Vec::new(),
            });
        }
        if let (Some(id), Some(address), Some(refs), Some(last)) =
            (id, address, refs, out.last_mut())
        {
            last.participants.push((id, address, refs));
        }
    }
    out
}

fn heuristic_from_row(
    tx: String,
    participant: i64,
    address: String,
    reference_parameters: String,
    kind: String,
) -> Result<HeuristicRecord, LogError> {
    let Some(kind) = HeuristicKind::parse(&kind) else {
        return Err(LogError::Corrupt {
            tx,
            reason: format!("unknown heuristic kind {kind:?}"),
        });
    };
    Ok(HeuristicRecord {
        participant: participant_id(&tx, participant)?,
        tx: TxId(tx),
        endpoint: EndpointRef {
            address,
            reference_parameters,
        },
        kind,
    })
}
