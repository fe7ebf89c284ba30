//! The tokio driver around the sans-IO [`engine`](crate::engine) and the
//! durable [`log`](crate::log): what `ithaca serve` runs to coordinate
//! WS-AT transactions.
//!
//! # API (stable: changes are additive only)
//!
//! [`CoordinatorService`] is a cheap `Clone` handle; the wire layer (the
//! gateway's WS-Coordination/WS-AT endpoints) calls it, and it calls back
//! through a [`NotificationSink`] for every one-way message it sends.
//!
//! - [`CoordinatorService::start`]`(`[`DriverConfig`]`, Arc<dyn `[`CoordinatorLog`](crate::log::CoordinatorLog)`>, Arc<dyn `[`NotificationSink`]`>)`
//!   returns at once; in the background it claims the instance's records
//!   (fencing), loads the log and resends Commit for every logged decision.
//!   Until then unknown transactions are never answered by presumed abort:
//!   [`CoordinatorService::deliver`] answers [`DriverError::Recovering`]
//!   (retryable) and `create` answers CannotCreateContext.
//!   [`CoordinatorService::recovered`] waits for it.
//! - [`CoordinatorService::create`]`(expires)` → a fresh `urn:uuid:` [`TxId`](crate::record::TxId)
//!   (CannotCreateContext when the store is down, at capacity, fenced).
//! - [`CoordinatorService::register`]`(&tx, Protocol, EndpointRef)` → the
//!   [`ParticipantId`](crate::record::ParticipantId) to carry in the
//!   reference parameters of the coordinator's protocol EPR.
//! - [`CoordinatorService::deliver`]`(&tx, from, Protocol, Inbound)` and
//!   [`CoordinatorService::deliver_from`] (with the sender's `ReplyTo` for
//!   answers about unknown transactions) → [`Delivered`], for every inbound
//!   Completion and 2PC message; the 2004/10 `Replay` is delivered as
//!   `Inbound::Prepared`.
//! - [`CoordinatorService::outcome`]`(&tx)` waits for Committed (decision
//!   durable) or Aborted, to answer a Completion Commit synchronously.
//! - [`CoordinatorService::snapshot`], [`CoordinatorService::transaction`],
//!   [`CoordinatorService::heuristics`]: the [`admin`](crate::admin) views;
//!   [`CoordinatorService::metrics`]: [`DriverMetrics`].
//! - [`CoordinatorService::take_over`]`(&instance, token)` finishes a dead
//!   instance's transactions under a [`FencingToken`]
//!   granted by a [`TakeoverAuthority`] (see [`takeover`] for the contract).
//! - [`CoordinatorService::shutdown`].
//!
//! Every refusal is a [`DriverError`] whose [`DriverError::fault_kind`]
//! names the WS-C / WS-AT fault to answer.
//!
//! # What the driver does with the engine's commands
//!
//! - `Send`, `Reply`, `Fault` → [`NotificationSink::send`] in a task of its
//!   own, retried with capped, jittered exponential backoff
//!   ([`RetryPolicy`]) while the peer is unreachable, a bounded number of
//!   times; a newer message to the same registration supersedes an older
//!   one still retrying. The engine's own resend timer keeps resending
//!   Prepare and Commit after that, so no failed send blocks anything.
//! - `ForceLog` → [`GroupCommit`](crate::log::GroupCommit) (one durable
//!   write for concurrent transactions' decisions); its completion is
//!   reported to the engine. A failed write holds the decision back (no
//!   Commit leaves without its logged decision) and the engine retries it;
//!   the store is marked unavailable (activation refused) and probed until
//!   it answers, so service resumes by itself.
//! - `ParticipantDone`, `ForgetLog` → a background lazy writer (unforced,
//!   retried with backoff).
//! - `LogHeuristic` → a forced write, retried until it succeeds.
//! - `SetTimer` → one timer task sleeping until the deadline, then
//!   `handle_timeout` (resends, expiries rolling transactions back, log
//!   retries, dropping ended transactions).
//!
//! # Example
//!
//! ```
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use ithaca_txn::driver::{CoordinatorService, DriverConfig, testing::RecordingSink};
//! use ithaca_txn::engine::{Inbound, Protocol};
//! use ithaca_txn::log::SqliteLog;
//! use ithaca_txn::record::EndpointRef;
//!
//! let dir = tempfile::tempdir()?;
//! let log = Arc::new(SqliteLog::open(&dir.path().join("txn.db"), "node-a").await?);
//! let sink = Arc::new(RecordingSink::new());
//! let service = CoordinatorService::start(DriverConfig::default(), log, sink.clone())?;
//! service.recovered().await?;
//!
//! let tx = service.create(None)?;
//! let initiator = service.register(&tx, Protocol::Completion, EndpointRef::new("http://app/init"))?;
//! service.deliver(&tx, initiator, Protocol::Completion, Inbound::Commit)?;
//! // No participant: the transaction commits at once.
//! assert_eq!(service.outcome(&tx).await?, ithaca_txn::engine::Outcome::Committed);
//! # Ok(())
//! # }
//! # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
//! ```

mod config;
mod error;
mod metrics;
mod service;
mod sink;
pub mod takeover;
pub mod testing;

pub use config::{DriverConfig, RetryPolicy};
pub use error::DriverError;
pub use metrics::{
    DECISION_WRITE_BUCKETS, DriverMetrics, LatencyHistogram, describe, names, phase,
};
pub use service::{CoordinatorService, Delivered};
pub use sink::{Message, Notification, NotificationSink, SendError, SendFuture};
pub use takeover::{StaticAuthority, TakeoverAuthority, TakeoverRefused};

pub use crate::log::{FencingToken, InstanceId};
