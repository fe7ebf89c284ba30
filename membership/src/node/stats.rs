//! What an oracle node counts and reports, for metrics and operators.
//!
//! The heartbeat task is the only writer of most counters; they are relaxed
//! atomics, so reading them never slows the heartbeat path. The detector's
//! per-member health is published as a [`NodeSnapshot`] about once a second
//! through a watch channel rather than read under a lock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::detector::MemberHealth;
use crate::view::ViewId;

/// Monotonic counters of one oracle node.
#[derive(Debug, Default)]
pub struct NodeCounters {
    /// Heartbeats decoded.
    pub heartbeats: AtomicU64,
    /// Heartbeats answered with a lease.
    pub granted: AtomicU64,
    /// Heartbeats from members of the view answered without a lease (the
    /// leadership was not certain).
    pub not_granted: AtomicU64,
    /// Heartbeats from senders not in the view at their incarnation.
    pub not_member: AtomicU64,
    /// Heartbeats answered "not leader".
    pub not_leader: AtomicU64,
    /// Requests refused (forged view id, invalid names, stale joins…).
    pub rejected: AtomicU64,
    /// Datagrams or frames that were not a valid request.
    pub malformed: AtomicU64,
    /// Replies dropped because the socket's send buffer was full.
    pub send_dropped: AtomicU64,
    /// Members convicted and proposed for removal (each proposal counted).
    pub removals_proposed: AtomicU64,
    /// Removals committed.
    pub removals_committed: AtomicU64,
    /// Joins committed.
    pub joins_committed: AtomicU64,
    /// Leaves committed.
    pub leaves_committed: AtomicU64,
    /// Local stalls the detector noticed (its own event loop lagged).
    pub local_stalls: AtomicU64,
    /// Times this node became the oracle leader.
    pub leadership_gained: AtomicU64,
    /// Times this node stopped being the oracle leader.
    pub leadership_lost: AtomicU64,
    /// Committed views the heartbeat task installed.
    pub views_installed: AtomicU64,
    /// Members the heartbeat task looked at to sync its failure detector
    /// with installed views: the members each view change touched, not
    /// the members of each view (see [`super::EncodedView`]).
    pub members_synced: AtomicU64,
    /// Installed views the failure detector had to be synced with whole
    /// (the heartbeat task had fallen more than
    /// [`super::VIEW_STEPS_KEPT`] view changes behind).
    pub view_full_syncs: AtomicU64,
}

impl NodeCounters {
    /// A plain copy of every counter.
    #[must_use]
    pub fn read(&self) -> CounterValues {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        CounterValues {
            heartbeats: get(&self.heartbeats),
            granted: get(&self.granted),
            not_granted: get(&self.not_granted),
            not_member: get(&self.not_member),
            not_leader: get(&self.not_leader),
            rejected: get(&self.rejected),
            malformed: get(&self.malformed),
            send_dropped: get(&self.send_dropped),
            removals_proposed: get(&self.removals_proposed),
            removals_committed: get(&self.removals_committed),
            joins_committed: get(&self.joins_committed),
            leaves_committed: get(&self.leaves_committed),
            local_stalls: get(&self.local_stalls),
            leadership_gained: get(&self.leadership_gained),
            leadership_lost: get(&self.leadership_lost),
            views_installed: get(&self.views_installed),
            members_synced: get(&self.members_synced),
            view_full_syncs: get(&self.view_full_syncs),
        }
    }
}

/// A copy of [`NodeCounters`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CounterValues {
    /// See [`NodeCounters::heartbeats`].
    pub heartbeats: u64,
    /// See [`NodeCounters::granted`].
    pub granted: u64,
    /// See [`NodeCounters::not_granted`].
    pub not_granted: u64,
    /// See [`NodeCounters::not_member`].
    pub not_member: u64,
    /// See [`NodeCounters::not_leader`].
    pub not_leader: u64,
    /// See [`NodeCounters::rejected`].
    pub rejected: u64,
    /// See [`NodeCounters::malformed`].
    pub malformed: u64,
    /// See [`NodeCounters::send_dropped`].
    pub send_dropped: u64,
    /// See [`NodeCounters::removals_proposed`].
    pub removals_proposed: u64,
    /// See [`NodeCounters::removals_committed`].
    pub removals_committed: u64,
    /// See [`NodeCounters::joins_committed`].
    pub joins_committed: u64,
    /// See [`NodeCounters::leaves_committed`].
    pub leaves_committed: u64,
    /// See [`NodeCounters::local_stalls`].
    pub local_stalls: u64,
    /// See [`NodeCounters::leadership_gained`].
    pub leadership_gained: u64,
    /// See [`NodeCounters::leadership_lost`].
    pub leadership_lost: u64,
    /// See [`NodeCounters::views_installed`].
    pub views_installed: u64,
    /// See [`NodeCounters::members_synced`].
    pub members_synced: u64,
    /// See [`NodeCounters::view_full_syncs`].
    pub view_full_syncs: u64,
}

/// The detector's state as of one moment, published by the heartbeat task.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeSnapshot {
    /// Whether this node ran the oracle leader.
    pub leader: bool,
    /// The newest committed view this node knew.
    pub view_id: ViewId,
    /// Members in that view.
    pub members: usize,
    /// Each watched member's health (leader only; empty elsewhere).
    pub health: Vec<MemberHealth>,
    /// Members at or above the phi threshold at the last tick.
    pub suspected: usize,
    /// Whether removals were held back (new-leader grace or after a stall).
    pub removals_held: bool,
    /// The suspicion timeout `S` in force.
    pub suspicion_timeout: Duration,
}
