//! A small Raft over turmoil UDP, implementing the crate's `Consensus`
//! trait for the simulation in place of the openraft `OracleNode`.
//!
//! Why not openraft itself: openraft draws its election timeouts from an
//! OS-seeded random generator (no seed can be injected), and the oracle's
//! log writes through a blocking writer thread with `fdatasync`, whose
//! completion lands at a real-time-dependent simulation step. Either makes a
//! seed unreplayable. This stand-in keeps what the membership layer relies
//! on, faithfully:
//!
//! - terms, votes and the log persist across a crash and restart (a
//!   per-host [`Disk`] outside the host's software, like a data directory);
//! - a majority of the three voters must store an entry before it commits;
//!   entries apply in log order with `View::apply_batch`, refused batches
//!   leave the view unchanged and answer `ConsensusError::Rejected`;
//! - a new leader reports `Role::Leader` only once an entry of its own term
//!   is committed and applied;
//! - `certain_until` on the leader is the send time of the newest heartbeat
//!   round a majority acknowledged plus the minimum election timeout shrunk
//!   by the drift bound; followers refuse votes for that long after hearing
//!   from a leader (the leader lease openraft 0.10 implements), so a deposed
//!   leader's grants lapse before another leader exists.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ithaca_membership::consensus::{
    Consensus, ConsensusError, ConsensusFuture, LeadershipStatus, NodeInfo, OracleNodeId,
    OracleStatus, Role,
};
use ithaca_membership::{View, ViewCommand};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant as SimInstant;

use super::history::{History, What};
use super::rng::Rng;

/// The port oracle nodes talk consensus on.
pub const RAFT_PORT: u16 = 7300;
/// Leader heartbeat (append) period.
pub const HEARTBEAT: Duration = Duration::from_millis(50);
/// Minimum election timeout (elections wait between this and twice it).
pub const ELECTION_MIN: Duration = Duration::from_millis(300);
/// How long a proposal waits for its commit.
pub const PROPOSAL_TIMEOUT: Duration = Duration::from_millis(1_000);

/// One log entry: a batch of view commands (empty for a leader's no-op).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    term: u64,
    commands: Vec<ViewCommand>,
}

/// What survives a crash: term, vote and log.
#[derive(Debug, Clone, Default)]
pub struct Disk {
    term: u64,
    voted_for: Option<OracleNodeId>,
    log: Vec<Entry>,
}

/// A shared disk for one host (kept by the test across bounces).
pub type SharedDisk = Arc<Mutex<Disk>>;

#[derive(Debug, Serialize, Deserialize)]
enum Msg {
    Vote {
        term: u64,
        candidate: OracleNodeId,
        last_index: u64,
        last_term: u64,
    },
    VoteReply {
        term: u64,
        granted: bool,
    },
    Append {
        term: u64,
        leader: OracleNodeId,
        prev_index: u64,
        prev_term: u64,
        entries: Vec<Entry>,
        commit: u64,
        seq: u64,
    },
    AppendReply {
        term: u64,
        from: OracleNodeId,
        ok: bool,
        match_index: u64,
        seq: u64,
    },
}

type Proposal = (
    Vec<ViewCommand>,
    oneshot::Sender<Result<View, ConsensusError>>,
);

/// The `Consensus` handle the node runtime holds.
pub struct SimConsensus {
    id: OracleNodeId,
    proposals: mpsc::Sender<Proposal>,
    views: watch::Receiver<View>,
    leadership: watch::Receiver<LeadershipStatus>,
}

/// Starts node `id` of the group `peers` (id → consensus address).
pub async fn start(
    id: OracleNodeId,
    peers: BTreeMap<OracleNodeId, SocketAddr>,
    disk: SharedDisk,
    rng: Rng,
    drift_ppm: u32,
    history: History,
    name: String,
) -> std::io::Result<SimConsensus> {
    let socket = turmoil::net::UdpSocket::bind(SocketAddr::from(([0, 0, 0, 0], RAFT_PORT))).await?;
    let (proposals_tx, proposals) = mpsc::channel(64);
    let status = LeadershipStatus {
        node: id,
        role: Role::Follower,
        term: 0,
        leader: None,
        single_voter: false,
        certain_until: None,
    };
    let (views_tx, views) = watch::channel(View::new());
    let (leadership_tx, leadership) = watch::channel(status);
    history.record(&name, What::OracleStarted);
    let now = SimInstant::now();
    let mut node = RaftNode {
        id,
        peers,
        disk,
        rng,
        socket,
        views: views_tx,
        leadership: leadership_tx,
        history,
        name,
        lease_window: shrink(ELECTION_MIN, drift_ppm),
        role: Role::Follower,
        leader: None,
        commit: 0,
        applied: 0,
        view: View::new(),
        election_at: now,
        heard_leader_at: None,
        votes: 0,
        next_index: BTreeMap::new(),
        match_index: BTreeMap::new(),
        acked_seq: BTreeMap::new(),
        sent_at: BTreeMap::new(),
        seq: 0,
        ready: false,
        pending: BTreeMap::new(),
    };
    node.reset_election(now);
    tokio::spawn(node.run(proposals));
    Ok(SimConsensus {
        id,
        proposals: proposals_tx,
        views,
        leadership,
    })
}

fn shrink(window: Duration, drift_ppm: u32) -> Duration {
    let nanos = window.as_nanos() * u128::from(1_000_000 - drift_ppm.min(999_999)) / 1_000_000;
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

struct RaftNode {
    id: OracleNodeId,
    peers: BTreeMap<OracleNodeId, SocketAddr>,
    disk: SharedDisk,
    rng: Rng,
    socket: turmoil::net::UdpSocket,
    views: watch::Sender<View>,
    leadership: watch::Sender<LeadershipStatus>,
    history: History,
    name: String,
    lease_window: Duration,
    role: Role,
    leader: Option<OracleNodeId>,
    commit: u64,
    applied: u64,
    view: View,
    election_at: SimInstant,
    heard_leader_at: Option<SimInstant>,
    votes: usize,
    next_index: BTreeMap<OracleNodeId, u64>,
    match_index: BTreeMap<OracleNodeId, u64>,
    acked_seq: BTreeMap<OracleNodeId, u64>,
    sent_at: BTreeMap<u64, SimInstant>,
    seq: u64,
    ready: bool,
    pending: BTreeMap<u64, oneshot::Sender<Result<View, ConsensusError>>>,
}

impl RaftNode {
    fn disk(&self) -> std::sync::MutexGuard<'_, Disk> {
        self.disk.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn voters(&self) -> usize {
        self.peers.len() + 1
    }

    fn majority(&self) -> usize {
        self.voters() / 2 + 1
    }

    fn last(&self) -> (u64, u64) {
        let disk = self.disk();
        let index = disk.log.len() as u64;
        let term = disk.log.last().map_or(0, |e| e.term);
        (index, term)
    }

    fn term_at(&self, index: u64) -> Option<u64> {
        if index == 0 {
            return Some(0);
        }
        let disk = self.disk();
        disk.log
            .get(usize::try_from(index - 1).ok()?)
            .map(|e| e.term)
    }

    fn reset_election(&mut self, now: SimInstant) {
        let spread = self.rng.below(ELECTION_MIN.as_millis() as u64);
        self.election_at = now + ELECTION_MIN + Duration::from_millis(spread);
    }

    async fn run(mut self, mut proposals: mpsc::Receiver<Proposal>) {
        let mut buffer = vec![0u8; 65_536];
        let mut ticks = tokio::time::interval(Duration::from_millis(25));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut next_heartbeat = SimInstant::now();
        loop {
            tokio::select! {
                biased;
                received = self.socket.recv_from(&mut buffer) => {
                    if let Ok((len, _)) = received
                        && let Some(bytes) = buffer.get(..len)
                        && let Ok(msg) = serde_json::from_slice::<Msg>(bytes)
                    {
                        self.on_message(msg).await;
                    }
                }
                proposal = proposals.recv() => {
                    let Some((commands, reply)) = proposal else { return };
                    self.on_proposal(commands, reply).await;
                }
                _ = ticks.tick() => {
                    let now = SimInstant::now();
                    if self.is_leading() {
                        if now >= next_heartbeat {
                            next_heartbeat = now + HEARTBEAT;
                            self.broadcast_append().await;
                        }
                    } else if now >= self.election_at {
                        self.start_election(now).await;
                    }
                    self.publish();
                }
            }
        }
    }

    fn is_leading(&self) -> bool {
        self.leader == Some(self.id)
    }

    async fn send(&self, to: SocketAddr, msg: &Msg) {
        if let Ok(bytes) = serde_json::to_vec(msg) {
            let _ = self.socket.send_to(&bytes, to).await;
        }
    }

    fn become_follower(&mut self, term: u64, leader: Option<OracleNodeId>) {
        {
            let mut disk = self.disk();
            if term > disk.term {
                disk.term = term;
                disk.voted_for = None;
            }
        }
        if self.is_leading() {
            for (_, reply) in std::mem::take(&mut self.pending) {
                let _ = reply.send(Err(ConsensusError::NotLeader { leader: None }));
            }
        }
        self.role = Role::Follower;
        self.leader = leader;
        self.ready = false;
    }

    async fn start_election(&mut self, now: SimInstant) {
        let term = {
            let mut disk = self.disk();
            disk.term += 1;
            disk.voted_for = Some(self.id);
            disk.term
        };
        self.role = Role::Candidate;
        self.leader = None;
        self.votes = 1;
        self.reset_election(now);
        let (last_index, last_term) = self.last();
        let msg = Msg::Vote {
            term,
            candidate: self.id,
            last_index,
            last_term,
        };
        for to in self.peers.values() {
            self.send(*to, &msg).await;
        }
    }

    async fn on_message(&mut self, msg: Msg) {
        let now = SimInstant::now();
        let my_term = self.disk().term;
        match msg {
            Msg::Vote {
                term,
                candidate,
                last_index,
                last_term,
            } => {
                let Some(to) = self.peers.get(&candidate).copied() else {
                    return;
                };
                // The leader lease: a node that heard from a leader within
                // the minimum election timeout neither votes nor moves to
                // the candidate's term.
                let sticky = self
                    .heard_leader_at
                    .is_some_and(|at| now < at + ELECTION_MIN)
                    || self.is_leading();
                if sticky || term < my_term {
                    self.send(
                        to,
                        &Msg::VoteReply {
                            term: my_term,
                            granted: false,
                        },
                    )
                    .await;
                    return;
                }
                if term > my_term {
                    self.become_follower(term, None);
                }
                let (my_index, my_last_term) = self.last();
                let up_to_date = (last_term, last_index) >= (my_last_term, my_index);
                let granted = {
                    let mut disk = self.disk();
                    let free = disk.voted_for.is_none_or(|v| v == candidate);
                    if free && up_to_date {
                        disk.voted_for = Some(candidate);
                        true
                    } else {
                        false
                    }
                };
                if granted {
                    self.reset_election(now);
                }
                self.send(to, &Msg::VoteReply { term, granted }).await;
            }
            Msg::VoteReply { term, granted } => {
                if term > my_term {
                    self.become_follower(term, None);
                    return;
                }
                if self.role != Role::Candidate || term != my_term || !granted {
                    return;
                }
                self.votes += 1;
                if self.votes >= self.majority() && !self.is_leading() {
                    self.become_leader(my_term).await;
                }
            }
            Msg::Append {
                term,
                leader,
                prev_index,
                prev_term,
                entries,
                commit,
                seq,
            } => {
                let Some(to) = self.peers.get(&leader).copied() else {
                    return;
                };
                if term < my_term {
                    let reply = Msg::AppendReply {
                        term: my_term,
                        from: self.id,
                        ok: false,
                        match_index: 0,
                        seq,
                    };
                    self.send(to, &reply).await;
                    return;
                }
                if term > my_term || self.leader != Some(leader) {
                    self.become_follower(term, Some(leader));
                }
                self.heard_leader_at = Some(now);
                self.reset_election(now);
                let consistent = self.term_at(prev_index) == Some(prev_term);
                let reply = if consistent {
                    let count = entries.len() as u64;
                    {
                        let mut disk = self.disk();
                        for (offset, entry) in entries.into_iter().enumerate() {
                            let position =
                                usize::try_from(prev_index).unwrap_or(usize::MAX) + offset;
                            match disk.log.get(position) {
                                Some(existing) if existing.term == entry.term => {}
                                Some(_) => {
                                    disk.log.truncate(position);
                                    disk.log.push(entry);
                                }
                                None => disk.log.push(entry),
                            }
                        }
                    }
                    let matched = prev_index + count;
                    if commit > self.commit {
                        self.commit = commit.min(matched);
                        self.apply();
                    }
                    Msg::AppendReply {
                        term,
                        from: self.id,
                        ok: true,
                        match_index: matched,
                        seq,
                    }
                } else {
                    let (last, _) = self.last();
                    Msg::AppendReply {
                        term,
                        from: self.id,
                        ok: false,
                        match_index: last.min(prev_index.saturating_sub(1)),
                        seq,
                    }
                };
                self.send(to, &reply).await;
            }
            Msg::AppendReply {
                term,
                from,
                ok,
                match_index,
                seq,
            } => {
                if term > my_term {
                    self.become_follower(term, None);
                    return;
                }
                if !self.is_leading() || term != my_term {
                    return;
                }
                let acked = self.acked_seq.entry(from).or_insert(0);
                *acked = (*acked).max(seq);
                if ok {
                    let matched = self.match_index.entry(from).or_insert(0);
                    *matched = (*matched).max(match_index);
                    self.next_index.insert(from, *matched + 1);
                    self.advance_commit(my_term);
                } else {
                    self.next_index.insert(from, match_index + 1);
                }
            }
        }
    }

    async fn become_leader(&mut self, term: u64) {
        self.role = Role::Candidate; // not ready until its no-op applies
        self.leader = Some(self.id);
        self.ready = false;
        let last = {
            let mut disk = self.disk();
            disk.log.push(Entry {
                term,
                commands: Vec::new(),
            });
            disk.log.len() as u64
        };
        self.next_index = self.peers.keys().map(|p| (*p, last)).collect();
        self.match_index = self.peers.keys().map(|p| (*p, 0)).collect();
        self.acked_seq.clear();
        self.sent_at.clear();
        self.broadcast_append().await;
    }

    async fn broadcast_append(&mut self) {
        let term = self.disk().term;
        self.seq += 1;
        let seq = self.seq;
        self.sent_at.insert(seq, SimInstant::now());
        while self.sent_at.len() > 256 {
            self.sent_at.pop_first();
        }
        let peers: Vec<(OracleNodeId, SocketAddr)> =
            self.peers.iter().map(|(id, a)| (*id, *a)).collect();
        for (peer, to) in peers {
            let next = self.next_index.get(&peer).copied().unwrap_or(1).max(1);
            let prev_index = next - 1;
            let prev_term = self.term_at(prev_index).unwrap_or(0);
            let entries: Vec<Entry> = {
                let disk = self.disk();
                disk.log
                    .iter()
                    .skip(usize::try_from(prev_index).unwrap_or(usize::MAX))
                    .take(32)
                    .cloned()
                    .collect()
            };
            let msg = Msg::Append {
                term,
                leader: self.id,
                prev_index,
                prev_term,
                entries,
                commit: self.commit,
                seq,
            };
            self.send(to, &msg).await;
        }
    }

    fn advance_commit(&mut self, term: u64) {
        let (last, _) = self.last();
        let mut candidate = last;
        while candidate > self.commit {
            let stored = 1 + self
                .match_index
                .values()
                .filter(|m| **m >= candidate)
                .count();
            if stored >= self.majority() && self.term_at(candidate) == Some(term) {
                self.commit = candidate;
                self.apply();
                break;
            }
            candidate -= 1;
        }
    }

    fn apply(&mut self) {
        while self.applied < self.commit {
            let index = self.applied + 1;
            let entry = {
                let disk = self.disk();
                disk.log
                    .get(usize::try_from(index - 1).unwrap_or(usize::MAX))
                    .cloned()
            };
            let Some(entry) = entry else { break };
            self.applied = index;
            let result = if entry.commands.is_empty() {
                Ok(self.view.clone())
            } else {
                match self.view.apply_batch(&entry.commands) {
                    Ok(next) => {
                        self.view = next.clone();
                        self.history.record(
                            &self.name,
                            What::ViewInstalled {
                                view: Box::new(next.clone()),
                            },
                        );
                        self.views.send_replace(next.clone());
                        Ok(next)
                    }
                    Err(error) => Err(ConsensusError::Rejected(error)),
                }
            };
            if let Some(reply) = self.pending.remove(&index) {
                let _ = reply.send(result);
            }
            if self.is_leading() && entry.term == self.disk().term {
                self.ready = true;
            }
        }
    }

    async fn on_proposal(
        &mut self,
        commands: Vec<ViewCommand>,
        reply: oneshot::Sender<Result<View, ConsensusError>>,
    ) {
        if !self.is_leading() || !self.ready {
            let leader = self.leader.filter(|l| *l != self.id).map(|id| NodeInfo {
                id,
                address: format!("o{id}"),
            });
            let _ = reply.send(Err(ConsensusError::NotLeader { leader }));
            return;
        }
        let index = {
            let mut disk = self.disk();
            let term = disk.term;
            disk.log.push(Entry { term, commands });
            disk.log.len() as u64
        };
        self.pending.insert(index, reply);
        self.broadcast_append().await;
    }

    /// The leadership status for the node runtime.
    fn publish(&mut self) {
        let term = self.disk().term;
        let role = if self.is_leading() && self.ready {
            Role::Leader
        } else if self.is_leading() {
            Role::Candidate
        } else {
            self.role
        };
        let certain_until = (role == Role::Leader)
            .then(|| self.quorum_acked())
            .flatten()
            .map(|at| (at + self.lease_window).into_std());
        let status = LeadershipStatus {
            node: self.id,
            role,
            term,
            leader: self.leader.map(|id| NodeInfo {
                id,
                address: format!("o{id}"),
            }),
            single_voter: false,
            certain_until,
        };
        self.leadership.send_if_modified(|held| {
            let changed = *held != status;
            if changed {
                *held = status;
            }
            changed
        });
    }

    /// The send time of the newest heartbeat round a majority (this node
    /// included) acknowledged.
    fn quorum_acked(&self) -> Option<SimInstant> {
        let mut times: Vec<SimInstant> = self
            .acked_seq
            .values()
            .filter_map(|seq| self.sent_at.get(seq).copied())
            .collect();
        times.sort_unstable_by(|a, b| b.cmp(a));
        times.get(self.majority().checked_sub(2)?).copied()
    }
}

impl Consensus for SimConsensus {
    fn propose_batch(
        &self,
        commands: Vec<ViewCommand>,
    ) -> ConsensusFuture<'_, Result<View, ConsensusError>> {
        Box::pin(async move {
            let (tx, rx) = oneshot::channel();
            self.proposals
                .send((commands, tx))
                .await
                .map_err(|_| ConsensusError::Shutdown)?;
            match tokio::time::timeout(PROPOSAL_TIMEOUT, rx).await {
                Ok(Ok(result)) => result,
                Ok(Err(_)) => Err(ConsensusError::Shutdown),
                Err(_) => Err(ConsensusError::Timeout {
                    timeout_ms: PROPOSAL_TIMEOUT.as_millis() as u64,
                }),
            }
        })
    }

    fn committed_views(&self) -> watch::Receiver<View> {
        self.views.clone()
    }

    fn leadership(&self) -> watch::Receiver<LeadershipStatus> {
        self.leadership.clone()
    }

    fn status(&self) -> OracleStatus {
        let status = self.leadership.borrow().clone();
        OracleStatus {
            node: NodeInfo {
                id: self.id,
                address: format!("o{}", self.id),
            },
            role: status.role,
            term: status.term,
            leader: status.leader,
            last_log_index: None,
            committed_index: None,
            applied_index: None,
            view_id: self.views.borrow().id(),
            rejected_commands: 0,
            voters: Vec::new(),
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
                "the simulated consensus has a fixed group".to_owned(),
            ))
        })
    }

    fn shutdown(&self) -> ConsensusFuture<'_, Result<(), ConsensusError>> {
        Box::pin(async { Ok(()) })
    }
}
