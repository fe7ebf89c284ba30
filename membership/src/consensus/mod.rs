//! The replicated membership oracle: a small consensus group (1 node
//! embedded by default, 3 or 5 in production) whose only replicated state is
//! the [`View`].
//!
//! # The `Consensus` trait
//!
//! The oracle node runtime (heartbeats, failure detector, lease grants) talks
//! to consensus only through the object-safe [`Consensus`] trait, so the
//! consensus library behind it can change without touching the runtime, and
//! tests can plug in a single-process implementation. What it promises:
//!
//! - [`Consensus::propose`] returns the [`View`] produced by the command once
//!   a majority of the oracle voters has durably stored it and this node has
//!   applied it; a node that is not the leader answers
//!   [`ConsensusError::NotLeader`] with the leader's address when known;
//! - [`Consensus::committed_views`] is a watch of the applied view on every
//!   node (leader, follower or learner), with strictly increasing ids;
//! - [`Consensus::leadership`] is a watch of this node's role, the current
//!   leader and, on the leader, the instant until which its leadership is
//!   certain ([`LeadershipStatus::certain_until`]): no other node can have
//!   been elected before then, so an [`crate::OracleLeader`] may grant leases
//!   up to it ([`crate::OracleLeader::allow_grants_until`]). A node reports
//!   [`Role::Leader`] only once it has applied every entry committed before
//!   its term, so its view is the latest;
//! - [`Consensus::status`] is the snapshot `ithaca membership oracle-status`
//!   prints.
//!
//! Commands are opaque to consensus: every node applies them with
//! [`View::apply`] / [`View::apply_batch`], which are deterministic. A
//! command the view refuses is still a committed log entry, counted as
//! rejected on every node (the view does not change) and reported to the
//! proposer as [`ConsensusError::Rejected`].
//!
//! # The implementation: [`OracleNode`] on openraft 0.10
//!
//! [`start`] runs an [`OracleNode`] from an [`OracleConfig`]; with no peers
//! it is the embedded single-node oracle (it initialises itself on first
//! start and restarts from its data directory), with `--oracle-peers`
//! ([`parse_oracle_peers`]) one voter of a 3- or 5-node group.
//!
//! **Why openraft `=0.10.0-alpha.37` rather than the stable 0.9.25.** The
//! oracle's safety argument needs two things 0.9 does not have. First,
//! `last_quorum_acked`: the leader's lease grants are only safe while no
//! other leader can exist, i.e. until the last quorum acknowledgement plus
//! the minimum election timeout (shrunk by the drift bound); 0.10 reports
//! that instant in its metrics and its followers refuse votes while their
//! leader's lease holds, whereas on 0.9 we would have to re-derive it from
//! replication progress ourselves. Second, pre-vote: a partitioned or
//! restarted node must not inflate terms and depose a healthy leader (the
//! failure behind openraft issue #1770), which pre-vote prevents. The
//! price is an alpha API, contained here: the version is pinned exactly, only
//! this module names openraft types, and the rest of the crate sees only the
//! [`Consensus`] trait. openraft's own test suite (its storage conformance
//! suite, turmoil simulation and Jepsen runs) covers the 0.10 line.
//!
//! Pieces, one module each:
//!
//! - the durable log (`log`): an append-only file of length- and
//!   CRC-32C-framed records (`record`) holding entries, votes, the committed
//!   id, truncations and purges; an append is acknowledged only after
//!   `fdatasync`, all writes go through one writer thread in order, and a
//!   torn tail is detected and cut on open. An own file rather than SQLite
//!   (sqlx is in the tree): the log is a few records a day, needs exactly
//!   append/truncate/purge with fsync ordering, and a small file format we
//!   test directly is easier to reason about than a database under an async
//!   pool;
//! - the state machine (`state_machine`): the [`View`], with snapshots
//!   written to the data directory (temporary file, fsync, rename, directory
//!   fsync) before the log is purged behind them;
//! - the transport (`network`): openraft's RPCs over TCP as length-prefixed
//!   JSON frames, bounded in size, every RPC under a deadline, one
//!   connection per peer reused only while healthy;
//! - the node (`node`): wiring, bootstrap, the leadership watch.
//!
//! # Example
//!
//! ```no_run
//! use std::collections::BTreeSet;
//! use ithaca_membership::consensus::{Consensus, OracleConfig, start};
//! use ithaca_membership::{Incarnation, MemberId, ViewCommand};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let oracle = start(OracleConfig::single_node(
//!     "127.0.0.1:7400".parse()?,
//!     "/var/lib/ithaca/oracle",
//! ))
//! .await?;
//! let view = oracle
//!     .propose(ViewCommand::Join {
//!         member: MemberId::new("gateway-a")?,
//!         incarnation: Incarnation(1),
//!         address: "10.0.0.5:8080".to_owned(),
//!         roles: BTreeSet::new(),
//!     })
//!     .await?;
//! println!("committed {}", view.id());
//! oracle.shutdown().await?;
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::view::{View, ViewCommand, ViewError, ViewId};

mod config;
mod log;
mod network;
mod node;
mod record;
mod state_machine;
mod types;

pub use config::{
    Bootstrap, ConfigError, MAX_ORACLE_PEERS, MAX_PEER_ADDRESS_LEN, OracleConfig, RaftTiming,
    parse_oracle_peers,
};
pub use log::{LogFileError, LogReport, inspect_log};
pub use node::{OracleNode, StartError, start};

/// The id of one oracle node (unique within its oracle group, never reused
/// for a different data directory).
pub type OracleNodeId = u64;

/// An oracle node: its id and the address other oracle nodes reach it at
/// (`host:port` of its consensus listener).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NodeInfo {
    /// The node's id.
    pub id: OracleNodeId,
    /// Where its consensus listener is reached, `host:port`.
    pub address: String,
}

impl fmt::Display for NodeInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.id, self.address)
    }
}

/// The role this node plays in the oracle group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Asking for votes, or elected but still applying the entries
    /// committed before its term (its view may not be the latest yet).
    Candidate,
    /// A voter following a leader (or waiting for one).
    Follower,
    /// The elected leader, with every entry committed before its term
    /// applied: it alone commits view changes, and its view is the latest.
    Leader,
    /// A non-voting replica (catching up before it becomes a voter).
    Learner,
    /// Stopped: after [`Consensus::shutdown`] or a fatal storage error.
    Shutdown,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Candidate => "candidate",
            Self::Follower => "follower",
            Self::Leader => "leader",
            Self::Learner => "learner",
            Self::Shutdown => "shutdown",
        })
    }
}

/// This node's view of the oracle leadership, published on every change
/// through [`Consensus::leadership`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeadershipStatus {
    /// This node.
    pub node: OracleNodeId,
    /// Its role.
    pub role: Role,
    /// The current term (election round).
    pub term: u64,
    /// The leader this node knows of, if any (itself when it leads).
    pub leader: Option<NodeInfo>,
    /// The oracle group has a single voter (this node): it is its own
    /// majority, its leadership never lapses.
    pub single_voter: bool,
    /// On the leader of a group of several voters: no other leader can have
    /// been elected before this instant (the last quorum acknowledgement plus
    /// the minimum election timeout shrunk by the clock drift bound). `None`
    /// when this node is not the leader, has no quorum acknowledgement yet,
    /// or is a single voter (see [`Self::single_voter`]).
    pub certain_until: Option<Instant>,
}

impl LeadershipStatus {
    /// Whether this node leads and its leadership is certain at `now`.
    #[must_use]
    pub fn is_certain_leader_at(&self, now: Instant) -> bool {
        self.role == Role::Leader
            && (self.single_voter || self.certain_until.is_some_and(|until| now < until))
    }
}

/// A snapshot of one oracle node for operators (`ithaca membership
/// oracle-status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OracleStatus {
    /// This node.
    pub node: NodeInfo,
    /// Its role.
    pub role: Role,
    /// The current term.
    pub term: u64,
    /// The leader this node knows of.
    pub leader: Option<NodeInfo>,
    /// Index of the last entry in this node's log.
    pub last_log_index: Option<u64>,
    /// Index of the last entry known committed by a majority.
    pub committed_index: Option<u64>,
    /// Index of the last entry applied to this node's view.
    pub applied_index: Option<u64>,
    /// The id of the view applied on this node.
    pub view_id: ViewId,
    /// Committed commands the view refused since this node's state began
    /// (each left the view unchanged).
    pub rejected_commands: u64,
    /// The voting oracle nodes (during a joint change: the union of both
    /// configurations).
    pub voters: Vec<NodeInfo>,
    /// Non-voting replicas.
    pub learners: Vec<NodeInfo>,
    /// On the leader, how long its leadership remains certain, in
    /// milliseconds (`None` elsewhere, or when it has lapsed).
    pub leadership_certain_for_ms: Option<u64>,
}

/// Why a consensus operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConsensusError {
    /// This node is not the leader; retry on `leader` (when known).
    #[error("this oracle node is not the leader{}", leader_hint(.leader))]
    NotLeader {
        /// The leader this node knows of.
        leader: Option<NodeInfo>,
    },
    /// The command was committed but the view refused it: nothing changed.
    #[error("view change refused")]
    Rejected(#[source] ViewError),
    /// No majority answered in time: the command may or may not commit
    /// later (check the committed views before retrying).
    #[error("no majority of the oracle answered within {timeout_ms} ms")]
    Timeout {
        /// How long the proposer waited.
        timeout_ms: u64,
    },
    /// An oracle membership change was refused (for instance an empty or
    /// even-sized voter set, or another change still in progress).
    #[error("oracle membership change refused: {0}")]
    MembershipChange(String),
    /// The node is stopped ([`Consensus::shutdown`] or a fatal error).
    #[error("the oracle node is shut down")]
    Shutdown,
    /// The node stopped on an unrecoverable error (its storage failed).
    #[error("oracle node failed: {0}")]
    Fatal(String),
}

fn leader_hint(leader: &Option<NodeInfo>) -> String {
    match leader {
        Some(node) => format!(", the leader is node {} at {}", node.id, node.address),
        None => ", no leader is known".to_owned(),
    }
}

/// A boxed future returned by [`Consensus`] methods (keeps the trait
/// object-safe; view changes are rare, one allocation each is nothing).
pub type ConsensusFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The consensus layer the oracle node runtime uses (see the module docs).
///
/// Object-safe: hold it as `Arc<dyn Consensus>`.
pub trait Consensus: Send + Sync {
    /// Commits one view command through a majority and returns the view it
    /// produced.
    fn propose(&self, command: ViewCommand) -> ConsensusFuture<'_, Result<View, ConsensusError>> {
        self.propose_batch(vec![command])
    }

    /// Commits several commands as one atomic view change
    /// ([`View::apply_batch`]: all apply or none, the id grows by one).
    fn propose_batch(
        &self,
        commands: Vec<ViewCommand>,
    ) -> ConsensusFuture<'_, Result<View, ConsensusError>>;

    /// The view applied on this node, updated after every applied change.
    fn committed_views(&self) -> watch::Receiver<View>;

    /// This node's role and the leader, updated on every change (and on the
    /// leader after every quorum acknowledgement).
    fn leadership(&self) -> watch::Receiver<LeadershipStatus>;

    /// A snapshot for operators.
    fn status(&self) -> OracleStatus;

    /// Changes the oracle's voters to exactly `voters` through joint
    /// consensus: nodes not yet in the group are first added as learners and
    /// caught up, then the joint configuration and the final one are
    /// committed in turn. Leader only; an odd count of 1, 3, 5 or 7 voters.
    fn change_oracle_membership(
        &self,
        voters: Vec<NodeInfo>,
    ) -> ConsensusFuture<'_, Result<(), ConsensusError>>;

    /// Stops this node: its listener closes, its log is flushed and closed,
    /// its watches report [`Role::Shutdown`].
    fn shutdown(&self) -> ConsensusFuture<'_, Result<(), ConsensusError>>;
}
