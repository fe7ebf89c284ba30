//! The coordinator's durable log under presumed abort: the
//! [`CoordinatorLog`] trait, its two stores ([`SqliteLog`], the embedded
//! default, and [`PgLog`] for production) and [`GroupCommit`], the writer
//! that forces many transactions' decisions in one durable write.
//!
//! Only commit decisions are forced. A participant's Committed and the final
//! forget are lazy updates: losing one after a crash costs a harmless
//! repeated Commit. Heuristic records are kept until an operator resolves
//! them ([`CoordinatorLog::resolve_heuristic`]), and after that as history. Every row read back is checked; a row the coordinator could not
//! have written is a [`LogError::Corrupt`], never a panic.

mod batch;
mod fence;
mod migrate;
mod postgres;
mod resolve;
mod sqlite;
mod takeovers;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub use batch::{GroupCommit, GroupCommitConfig, GroupCommitStats};
pub use fence::{FencingToken, InstanceId};
pub use postgres::PgLog;
pub use resolve::{
    HeuristicEntry, MAX_OPERATOR_NAME, MAX_RESOLUTION_NOTE, Resolution, ResolveOutcome,
    ResolvedHeuristic,
};
pub use sqlite::SqliteLog;
pub use takeovers::{MAX_LISTED_TRANSACTIONS, TakeoverEntry, key_from_hex, key_to_hex};

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
    /// The instance's records have been claimed with a newer fencing token
    /// than the writer's: the writer has been taken over (or presented a
    /// token too old to claim or adopt them).
    #[error(
        "coordinator instance {instance:?} is fenced: token {presented} is older than the store's {current}"
    )]
    Fenced {
        /// Whose records the write was on.
        instance: String,
        /// The writer's token.
        presented: u64,
        /// The token the store holds for that instance.
        current: u64,
    },
    /// An operator asked to resolve the heuristic outcomes of a
    /// transaction the log keeps none of.
    #[error("no heuristic outcome is recorded for transaction {tx:?}")]
    UnknownHeuristic {
        /// The transaction asked for.
        tx: String,
    },
    /// The store does not implement this operation.
    #[error("this coordinator log does not support {operation}")]
    Unsupported {
        /// What was asked.
        operation: &'static str,
    },
}

impl LogError {
    /// Whether this error means the writer has been fenced off (never
    /// worth retrying with the same token).
    pub fn is_fenced(&self) -> bool {
        matches!(self, Self::Fenced { .. })
    }

    /// A copy for another waiter of the same failed batch: `Fenced` stays
    /// `Fenced`, anything else becomes `Batch` with the same message.
    fn for_waiter(&self) -> Self {
        match self {
            Self::Fenced {
                instance,
                presented,
                current,
            } => Self::Fenced {
                instance: instance.clone(),
                presented: *presented,
                current: *current,
            },
            other => Self::Batch(other.to_string()),
        }
    }
}

/// The future every [`CoordinatorLog`] method returns: boxed, so the trait
/// can be used as `Arc<dyn CoordinatorLog>`.
pub type LogFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, LogError>> + Send + 'a>>;

/// The durable log a coordinator instance writes its decisions to.
///
/// Every method is one database transaction. `append_decisions` is the only
/// forced write on the commit path; callers batch it (see [`GroupCommit`]).
/// Every write is checked against the instance's fence (see
/// [`FencingToken`]) in the same transaction. The trait is dyn-compatible:
/// the driver holds an `Arc<dyn CoordinatorLog>`.
pub trait CoordinatorLog: Send + Sync {
    /// The instance whose records this handle reads and writes.
    fn instance(&self) -> &InstanceId;

    /// The fencing token this handle stamps its writes with.
    fn token(&self) -> FencingToken;

    /// Forces every record of `batch` in one durable write. Appending a
    /// transaction already logged is a no-op for it (a retried write).
    fn append_decisions<'a>(&'a self, batch: &'a [DecisionRecord]) -> LogFuture<'a, ()>;

    /// Notes that a participant acknowledged the commit (unforced).
    fn mark_participant_done<'a>(
        &'a self,
        tx: &'a TxId,
        participant: ParticipantId,
    ) -> LogFuture<'a, ()>;

    /// Drops a decision once every participant acknowledged it.
    fn forget<'a>(&'a self, tx: &'a TxId) -> LogFuture<'a, ()>;

    /// Applies many lazy updates at once (unforced): every participant of
    /// `done` acknowledged, then every decision of `forget` dropped. The
    /// default makes one call per update; a store may write them in one
    /// transaction (the PostgreSQL store does: one fence check and one
    /// statement per kind, whatever the number of updates).
    fn apply_lazy<'a>(
        &'a self,
        done: &'a [(TxId, ParticipantId)],
        forget: &'a [TxId],
    ) -> LogFuture<'a, ()> {
        Box::pin(async move {
            for (tx, participant) in done {
                self.mark_participant_done(tx, *participant).await?;
            }
            for tx in forget {
                self.forget(tx).await?;
            }
            Ok(())
        })
    }

    /// Every decision of this instance still owed an acknowledgement, with
    /// only the participants not yet done.
    fn load_unfinished(&self) -> LogFuture<'_, Vec<DecisionRecord>>;

    /// Keeps a heuristic outcome for an operator (forced, never dropped by
    /// the coordinator).
    fn record_heuristic<'a>(&'a self, record: &'a HeuristicRecord) -> LogFuture<'a, ()>;

    /// Every open (not yet resolved) heuristic outcome recorded by this
    /// instance, oldest first.
    fn heuristics(&self) -> LogFuture<'_, Vec<HeuristicRecord>>;

    /// Every heuristic outcome recorded by this instance, open and
    /// resolved (with who resolved it, when and why), oldest first. The
    /// default, for a store that keeps no resolutions, is the open ones.
    fn heuristic_history(&self) -> LogFuture<'_, Vec<HeuristicEntry>> {
        Box::pin(async move { Ok(resolve::open_entries(self.heuristics().await?)) })
    }

    /// Marks every open heuristic outcome of `tx` resolved by an operator
    /// (forced): they leave [`CoordinatorLog::heuristics`] and stay in
    /// [`CoordinatorLog::heuristic_history`] with `resolution` and the
    /// store's time. Idempotent: when all of `tx`'s outcomes are already
    /// resolved, nothing changes ([`ResolveOutcome::AlreadyResolved`]).
    /// [`LogError::UnknownHeuristic`] when the log keeps no outcome of
    /// `tx`. The default refuses ([`LogError::Unsupported`]).
    fn resolve_heuristic<'a>(
        &'a self,
        tx: &'a TxId,
        resolution: &'a Resolution,
    ) -> LogFuture<'a, ResolveOutcome> {
        let _ = (tx, resolution);
        Box::pin(async {
            Err(LogError::Unsupported {
                operation: "resolving heuristic outcomes",
            })
        })
    }

    /// A cheap read that succeeds when the store answers (used to notice
    /// that a failed store is back).
    fn ping(&self) -> LogFuture<'_, ()>;

    /// Claims this instance's records with this handle's token: the fence
    /// rises to it, and [`LogError::Fenced`] if the fence is already higher
    /// (another instance took these records over with a newer token).
    fn claim(&self) -> LogFuture<'_, ()>;

    /// Whether the log holds a record of `tx` for this handle's instance
    /// (a commit decision, or a subordinate's prepared record, not yet
    /// forgotten). A read, never checked against the fence: a fenced
    /// instance uses it to answer its participants. The default looks
    /// through [`CoordinatorLog::load_unfinished`].
    fn has_record<'a>(&'a self, tx: &'a TxId) -> LogFuture<'a, bool> {
        Box::pin(async move {
            Ok(self
                .load_unfinished()
                .await?
                .iter()
                .any(|record| &record.tx == tx))
        })
    }

    /// The fence of this handle's instance: the highest token that has
    /// claimed its records ([`FencingToken::INITIAL`] when none has). Above
    /// [`CoordinatorLog::token`], the instance has been taken over. The
    /// default refuses ([`LogError::Unsupported`]).
    fn fence(&self) -> LogFuture<'_, FencingToken> {
        Box::pin(async {
            Err(LogError::Unsupported {
                operation: "reading the fence",
            })
        })
    }

    /// Keeps, for operators, that this handle's instance took `dead` over
    /// with `token` and recovered `transactions` (forced; checked against
    /// this instance's own fence). The default refuses
    /// ([`LogError::Unsupported`]).
    fn record_takeover<'a>(
        &'a self,
        dead: &'a InstanceId,
        token: FencingToken,
        transactions: &'a [TxId],
    ) -> LogFuture<'a, ()> {
        let _ = (dead, token, transactions);
        Box::pin(async {
            Err(LogError::Unsupported {
                operation: "recording takeovers",
            })
        })
    }

    /// Every takeover this handle's instance did, oldest first. The default,
    /// for a store that keeps none, is empty.
    fn takeovers(&self) -> LogFuture<'_, Vec<TakeoverEntry>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    /// Publishes this handle's instance's correlation key (the secret that
    /// signs the reference parameters it hands out), so that the instance
    /// that takes it over can authenticate its participants (checked
    /// against the instance's fence). The default refuses
    /// ([`LogError::Unsupported`]).
    fn publish_correlation_key<'a>(&'a self, key: &'a [u8; 32]) -> LogFuture<'a, ()> {
        let _ = key;
        Box::pin(async {
            Err(LogError::Unsupported {
                operation: "publishing correlation keys",
            })
        })
    }

    /// The correlation key `instance` published, if any. The default has
    /// none.
    fn correlation_key<'a>(&'a self, instance: &'a InstanceId) -> LogFuture<'a, Option<[u8; 32]>> {
        let _ = instance;
        Box::pin(async { Ok(None) })
    }

    /// Takes over `dead`'s records: raises `dead`'s fence to `token`, which
    /// must be strictly higher than the fence (else [`LogError::Fenced`]),
    /// and returns a handle that reads and writes `dead`'s records stamped
    /// with `token`. From then on `dead`'s own writes are refused.
    fn adopt<'a>(
        &'a self,
        dead: &'a InstanceId,
        token: FencingToken,
    ) -> LogFuture<'a, Arc<dyn CoordinatorLog>>;
}

/// The token as the database stores it, or an `Invalid` error.
fn db_token(instance: &InstanceId, token: FencingToken) -> Result<i64, LogError> {
    token.as_db().ok_or_else(|| LogError::Invalid {
        tx: instance.0.clone(),
        reason: "fencing token above i64::MAX",
    })
}

/// The error for a write refused by the fence (`current` as stored).
fn fenced(instance: &InstanceId, presented: FencingToken, current: i64) -> LogError {
    LogError::Fenced {
        instance: instance.0.clone(),
        presented: presented.0,
        current: u64::try_from(current).unwrap_or(0),
    }
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
