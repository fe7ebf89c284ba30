//! A single-process stand-in for the consensus layer, **for tests only**.
//!
//! [`InMemoryConsensus`] applies proposals to a [`View`] in memory with
//! [`View::apply_batch`] and publishes the same watches as the real oracle.
//! It has no log, no durability and no replication: it is not the
//! production oracle (that is [`crate::consensus`] on openraft). Tests use
//! it to drive the node runtime and the member client fast and
//! deterministically, and to play the part of a follower or of an elected
//! leader whose certainty lapses ([`InMemoryConsensus::set_leadership`]).

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use tokio::sync::watch;

use crate::consensus::{
    Consensus, ConsensusError, ConsensusFuture, LeadershipStatus, NodeInfo, OracleStatus, Role,
};
use crate::view::{View, ViewCommand};

/// An in-memory, single-node consensus for tests (see the module docs).
#[derive(Debug)]
pub struct InMemoryConsensus {
    node: NodeInfo,
    view: Mutex<View>,
    views: watch::Sender<View>,
    leadership: watch::Sender<LeadershipStatus>,
}

impl InMemoryConsensus {
    /// A single voter that leads from the start, holding the empty view.
    #[must_use]
    pub fn new() -> Self {
        Self::with_view(View::new())
    }

    /// A single voter that leads from the start, holding `view`.
    #[must_use]
    pub fn with_view(view: View) -> Self {
        let node = NodeInfo {
            id: 1,
            address: "in-memory".to_owned(),
        };
        let status = LeadershipStatus {
            node: node.id,
            role: Role::Leader,
            term: 1,
            leader: Some(node.clone()),
            single_voter: true,
            certain_until: None,
        };
        Self {
            node,
            views: watch::Sender::new(view.clone()),
            view: Mutex::new(view),
            leadership: watch::Sender::new(status),
        }
    }

    fn lock(&self) -> MutexGuard<'_, View> {
        // A view is replaced whole, never left half-changed.
        self.view.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Publishes a new leadership status (a follower, an elected leader
    /// with a certainty instant, a lapsed leader…).
    pub fn set_leadership(&self, status: LeadershipStatus) {
        self.leadership.send_replace(status);
    }

    /// The status of an elected leader of a larger group whose leadership
    /// is certain until `certain_until`.
    #[must_use]
    pub fn elected_leader(&self, term: u64, certain_until: Option<Instant>) -> LeadershipStatus {
        LeadershipStatus {
            node: self.node.id,
            role: Role::Leader,
            term,
            leader: Some(self.node.clone()),
            single_voter: false,
            certain_until,
        }
    }

    /// The status of a follower that knows `leader`.
    #[must_use]
    pub fn follower(&self, term: u64, leader: Option<NodeInfo>) -> LeadershipStatus {
        LeadershipStatus {
            node: self.node.id,
            role: Role::Follower,
            term,
            leader,
            single_voter: false,
            certain_until: None,
        }
    }

    /// The current view.
    #[must_use]
    pub fn view(&self) -> View {
        self.lock().clone()
    }
}

impl Default for InMemoryConsensus {
    fn default() -> Self {
        Self::new()
    }
}

impl Consensus for InMemoryConsensus {
    fn propose_batch(
        &self,
        commands: Vec<ViewCommand>,
    ) -> ConsensusFuture<'_, Result<View, ConsensusError>> {
        let result = (|| {
            let status = self.leadership.borrow().clone();
            match status.role {
                Role::Leader => {}
                Role::Shutdown => return Err(ConsensusError::Shutdown),
                _ => {
                    return Err(ConsensusError::NotLeader {
                        leader: status.leader,
                    });
                }
            }
            let mut view = self.lock();
            let next = view
                .apply_batch(&commands)
                .map_err(ConsensusError::Rejected)?;
            *view = next.clone();
            self.views.send_replace(next.clone());
            Ok(next)
        })();
        Box::pin(async move { result })
    }

    fn committed_views(&self) -> watch::Receiver<View> {
        self.views.subscribe()
    }

    fn leadership(&self) -> watch::Receiver<LeadershipStatus> {
        self.leadership.subscribe()
    }

    fn status(&self) -> OracleStatus {
        let status = self.leadership.borrow().clone();
        OracleStatus {
            node: self.node.clone(),
            role: status.role,
            term: status.term,
            leader: status.leader,
            last_log_index: None,
            committed_index: None,
            applied_index: None,
            view_id: self.lock().id(),
            rejected_commands: 0,
            voters: vec![self.node.clone()],
            learners: Vec::new(),
            leadership_certain_for_ms: None,
        }
    }

    fn change_oracle_membership(
        &self,
        _voters: Vec<NodeInfo>,
    ) -> ConsensusFuture<'_, Result<(), ConsensusError>> {
        Box::pin(async {
            Err(ConsensusError::MembershipChange(
                "the in-memory test consensus has exactly one node".to_owned(),
            ))
        })
    }

    fn shutdown(&self) -> ConsensusFuture<'_, Result<(), ConsensusError>> {
        let mut status = self.leadership.borrow().clone();
        status.role = Role::Shutdown;
        status.leader = None;
        self.leadership.send_replace(status);
        Box::pin(async { Ok(()) })
    }
}
