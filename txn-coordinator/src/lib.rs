//! WS-Coordination 1.2 and WS-AtomicTransaction 1.2: the two-phase-commit
//! coordinator that `ithaca serve` hosts, its durable log and its driver.
//!
//! - [`engine`]: the sans-IO coordinator. [`engine::Coordinator`] holds every
//!   transaction's Completion and Volatile2PC/Durable2PC state per the WS-AT
//!   1.2 coordinator state tables; inputs are `handle_*` calls with the
//!   current time, outputs are [`engine::Command`]s (send, reply, fault,
//!   force the decision to the log, set a timer). It follows presumed abort:
//!   one forced write per committed transaction, none for aborts.
//! - [`log`]: the [`log::CoordinatorLog`] trait with its SQLite (embedded
//!   default) and PostgreSQL stores, and [`log::GroupCommit`], which writes
//!   many transactions' decisions in one durable write; every write is
//!   fenced by the instance's [`log::FencingToken`].
//! - [`driver`]: [`driver::CoordinatorService`], the tokio driver the
//!   gateway's endpoints call (create, register, deliver, outcome), with
//!   retries and backoff on sends, group commit on decisions, recovery at
//!   start and fenced takeover of a dead instance's transactions.
//! - [`admin`]: JSON-ready snapshots for operators.
//! - [`participant`]: the participant side for Rust services: the sans-IO
//!   participant state machine, PostgreSQL branches (`PREPARE TRANSACTION`,
//!   recovery from `pg_prepared_xacts`), their tokio driver and the
//!   Volatile2PC hooks.
//! - [`failpoint`]: named crash points (`ITHACA_FAILPOINTS`) for the
//!   kill -9 tests.
//!
//! # Example
//!
//! ```
//! use std::time::{Duration, Instant};
//! use ithaca_txn::engine::{Command, Config, Coordinator, Inbound, Outbound, Protocol};
//! use ithaca_txn::record::{EndpointRef, TxId};
//!
//! let now = Instant::now();
//! let mut coordinator = Coordinator::new(Config::default());
//! let tx = TxId("urn:uuid:1".into());
//! coordinator.handle_create(tx.clone(), Some(now + Duration::from_secs(30)), now).unwrap();
//! let initiator = coordinator
//!     .handle_register(&tx, Protocol::Completion, EndpointRef::new("http://app/initiator"), now)
//!     .unwrap();
//! let bank = coordinator
//!     .handle_register(&tx, Protocol::Durable2Pc, EndpointRef::new("http://bank/2pc"), now)
//!     .unwrap();
//!
//! coordinator.handle_message(&tx, initiator, Protocol::Completion, None, Inbound::Commit, now);
//! coordinator.handle_message(&tx, bank, Protocol::Durable2Pc, None, Inbound::Prepared, now);
//! // The decision must be durable before any Commit goes out.
//! let commands: Vec<Command> = std::iter::from_fn(|| coordinator.poll_command()).collect();
//! assert!(commands.iter().any(|c| matches!(c, Command::ForceLog(_))));
//! assert!(!commands.iter().any(|c| matches!(c, Command::Send { message: Outbound::Commit, .. })));
//!
//! coordinator.handle_log_written(&tx, true, now);
//! let commands: Vec<Command> = std::iter::from_fn(|| coordinator.poll_command()).collect();
//! assert!(commands.iter().any(|c| matches!(c, Command::Send { message: Outbound::Commit, .. })));
//! ```

pub mod admin;
pub mod driver;
pub mod engine;
pub mod failpoint;
pub mod log;
pub mod participant;
pub mod record;
pub mod wire;
