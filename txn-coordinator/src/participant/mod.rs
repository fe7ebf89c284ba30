//! The WS-AT participant side: what a Rust service needs to take part in a
//! distributed transaction as a Durable2PC participant backed by
//! PostgreSQL or SQLite, or as a Volatile2PC participant (a cache).
//!
//! - [`state`]: the sans-IO participant state machine ([`Participant`]),
//!   per the WS-AT 1.2 participant-view table: coordinator messages,
//!   resource votes and results, faults, timers and recovery in; commands
//!   (prepare, commit or roll back the resource; send a message or a fault)
//!   out. It sends `Prepared` only after the resource's prepared state is
//!   durable, resends it with backoff (and `Replay` for a branch recovered
//!   under WS-AT 2004/10), and answers messages about branches it does not
//!   hold by presumed abort.
//! - [`gid`]: PostgreSQL global transaction identifiers
//!   (`wsat:<node-id>:<tx-hash>:<branch>`), only ever built from a
//!   validated character set and under 200 bytes.
//! - [`postgres`]: [`PgParticipant`] and [`PgBranch`]: the application's
//!   work and `PREPARE TRANSACTION` on one pinned connection, `COMMIT
//!   PREPARED`/`ROLLBACK PREPARED`, and recovery from `pg_prepared_xacts`.
//! - [`resource`]: [`DurableResource`] and [`ResourceBranch`], what the
//!   service needs of a database; PostgreSQL and SQLite implement them.
//! - [`sqlite`]: [`SqliteParticipant`] and [`SqliteBranch`]: SQLite has no
//!   prepared transactions, so a branch records its work (escrow style:
//!   the application reserves what it promises) and Prepare writes it as a
//!   durable prepared record that Commit applies; recovery from those
//!   records at start-up.
//! - [`service`]: [`ParticipantService`] ([`PgParticipantService`] on
//!   PostgreSQL), the tokio driver that runs the
//!   machine's commands on the resource and sends its messages through a
//!   [`CoordinatorLink`] (the gateway's SOAP sender), with the resend timer
//!   and start-up recovery.
//! - [`volatile`]: the [`Synchronization`] hooks for Volatile2PC.
//!
//! The SOAP side (registering with the coordinator, the participant's
//! protocol endpoint) is in the gateway (`ithaca_gateway::wsat`).
//!
//! # Example
//!
//! The machine alone, for one branch that commits:
//!
//! ```
//! use std::time::Instant;
//! use ithaca_txn::participant::{
//!     BranchId, Command, Config, FromCoordinator, Participant, ToCoordinator, Vote, WsatVersion,
//! };
//! use ithaca_txn::record::{EndpointRef, TxId};
//!
//! let now = Instant::now();
//! let mut participant = Participant::new(Config::default());
//! let branch = BranchId::new(TxId("urn:uuid:1".into()), 0);
//! let coordinator = EndpointRef::new("http://coordinator/wsat/coordinator");
//! participant
//!     .handle_enlist(branch.clone(), coordinator, WsatVersion::V2006, None, now)
//!     .unwrap();
//!
//! participant.handle_message(&branch, FromCoordinator::Prepare, now);
//! assert_eq!(participant.poll_command(), Some(Command::Prepare(branch.clone())));
//! // Nothing is sent until the resource says its prepared state is durable.
//! assert_eq!(participant.poll_command(), None);
//! participant.handle_vote(&branch, Vote::Prepared, now);
//! assert!(matches!(
//!     participant.poll_command(),
//!     Some(Command::Send { message: ToCoordinator::Prepared, .. })
//! ));
//!
//! participant.handle_message(&branch, FromCoordinator::Commit, now);
//! assert_eq!(participant.poll_command(), Some(Command::Commit(branch.clone())));
//! participant.handle_resolved(&branch, true, now);
//! assert!(matches!(
//!     participant.poll_command(),
//!     Some(Command::Send { message: ToCoordinator::Committed, .. })
//! ));
//! ```

pub mod gid;
pub mod postgres;
pub mod resource;
pub mod service;
pub mod sqlite;
pub mod state;
pub mod volatile;

pub use gid::{Gid, GidError, NodeId};
pub use postgres::{
    PgBranch, PgParticipant, PgParticipantError, PrepareOutcome, RecoveredBranch, Recovery,
    Resolution,
};
pub use resource::{BoxError, DurableResource, ResourceBranch};
pub use service::{
    CoordinatorLink, EnlistFailure, LinkFuture, Outgoing, ParticipantService, PgParticipantService,
};
pub use sqlite::{SqliteBranch, SqliteParticipant, SqliteParticipantError, SqliteWork};
pub use state::{
    BranchId, Command, Config, CoordinatorFault, EnlistError, FromCoordinator, Participant,
    ParticipantFault, State, ToCoordinator, Vote, WsatVersion,
};
pub use volatile::{BeforePrepare, Synchronization, TxOutcome};
