//! [`OracleNode`]: one oracle node on openraft, with the durable file log,
//! the view state machine and the TCP transport, implementing
//! [`Consensus`]; [`start`] opens its data directory and runs it.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openraft::errors::{ClientWriteError, Fatal, ForwardToLeader, RaftError};
use openraft::type_config::async_runtime::{Instant as _, WatchReceiver};
use openraft::{BasicNode, ChangeMembers, Raft, RaftMetrics, ServerState, SnapshotPolicy};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::config::{Bootstrap, ConfigError, OracleConfig, RaftTiming};
use super::log::FileLog;
use super::network::{self, PeerNetwork};
use super::state_machine::ViewStore;
use super::types::{OracleTypes, ViewProposal};
use super::{
    Consensus, ConsensusError, ConsensusFuture, LeadershipStatus, NodeInfo, OracleNodeId,
    OracleStatus, Role,
};
use crate::view::{MAX_BATCH, View, ViewCommand, ViewError};

/// The lock file that keeps two processes off one data directory.
const LOCK_FILE: &str = "LOCK";
/// Entries applied between two snapshots (view changes are rare: this is
/// days of them, and a snapshot is one serialised view).
const SNAPSHOT_EVERY: u64 = 128;
/// Entries kept in the log behind a snapshot (so a briefly lagging follower
/// catches up from the log, not a snapshot).
const KEEP_BEHIND_SNAPSHOT: u64 = 32;

type OracleRaft = Raft<OracleTypes, ViewStore>;
type MetricsReceiver =
    openraft::type_config::alias::WatchReceiverOf<OracleTypes, RaftMetrics<OracleTypes>>;

/// Why an oracle node could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Another oracle node holds the data directory.
    #[error("oracle data directory {dir} is in use by another process")]
    DataDirInUse {
        /// The directory.
        dir: String,
    },
    /// The data directory could not be opened or its files are damaged.
    #[error("oracle data directory {dir}: {source}")]
    Storage {
        /// The directory.
        dir: String,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// The consensus listener could not bind.
    #[error("oracle listener {address}: {source}")]
    Listen {
        /// The address.
        address: SocketAddr,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// openraft refused to start (bad timing, or storage it cannot read).
    #[error("oracle consensus did not start: {0}")]
    Raft(String),
}

/// One running oracle node (cheap to clone; clones share the node).
#[derive(Clone)]
pub struct OracleNode {
    inner: Arc<NodeInner>,
}

impl std::fmt::Debug for OracleNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OracleNode")
            .field("id", &self.inner.id)
            .field("address", &self.inner.advertise)
            .finish_non_exhaustive()
    }
}

struct NodeInner {
    id: OracleNodeId,
    advertise: String,
    local_addr: SocketAddr,
    raft: OracleRaft,
    store: ViewStore,
    leadership_tx: watch::Sender<LeadershipStatus>,
    timing: RaftTiming,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    lock: Mutex<Option<File>>,
}

impl Drop for NodeInner {
    /// Dropped without [`Consensus::shutdown`]: stop the listener and the
    /// publisher now, and openraft in the background, keeping the data
    /// directory locked until it has stopped writing.
    fn drop(&mut self) {
        for task in self.tasks.get_mut().map(std::mem::take).unwrap_or_default() {
            task.abort();
        }
        let lock = self.lock.get_mut().ok().and_then(Option::take);
        if let (Some(lock), Ok(runtime)) = (lock, tokio::runtime::Handle::try_current()) {
            let raft = self.raft.clone();
            runtime.spawn(async move {
                if let Err(e) = raft.shutdown().await {
                    tracing::warn!(error = %e, "oracle node stopped with an error");
                }
                drop(lock);
            });
        }
    }
}

fn storage(dir: &Path) -> impl Fn(std::io::Error) -> StartError + '_ {
    move |source| StartError::Storage {
        dir: dir.display().to_string(),
        source,
    }
}

fn lock_data_dir(dir: &Path) -> Result<File, StartError> {
    std::fs::create_dir_all(dir).map_err(storage(dir))?;
    let file = File::create(dir.join(LOCK_FILE)).map_err(storage(dir))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(StartError::DataDirInUse {
            dir: dir.display().to_string(),
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(storage(dir)(e)),
    }
}

fn raft_config(timing: &RaftTiming) -> Result<openraft::Config, StartError> {
    let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    openraft::Config {
        cluster_name: "ithaca-oracle".to_owned(),
        heartbeat_interval: millis(timing.heartbeat),
        election_timeout_min: millis(timing.election_timeout_min),
        election_timeout_max: millis(timing.election_timeout_max),
        enable_pre_vote: Some(true),
        snapshot_policy: SnapshotPolicy::LogsSinceLast(SNAPSHOT_EVERY),
        max_in_snapshot_log_to_keep: KEEP_BEHIND_SNAPSHOT,
        replication_lag_threshold: SNAPSHOT_EVERY + KEEP_BEHIND_SNAPSHOT,
        ..openraft::Config::default()
    }
    .validate()
    .map_err(|e| StartError::Raft(e.to_string()))
}

/// Starts an oracle node (see [`OracleConfig`]): locks and opens its data
/// directory (replaying the log, cutting a torn tail), binds its consensus
/// listener, and on an empty directory with [`Bootstrap::Initialize`]
/// initialises the group with the configured voters (itself alone when the
/// peer list is empty: the embedded single-node oracle).
pub async fn start(config: OracleConfig) -> Result<OracleNode, StartError> {
    config.validate()?;
    let dir = config.data_dir.as_path();
    let lock = lock_data_dir(dir)?;
    let (log, report) = FileLog::open(dir).map_err(storage(dir))?;
    if report.cut_bytes > 0 {
        tracing::warn!(
            dir = %dir.display(),
            cut_bytes = report.cut_bytes,
            "oracle log had a torn tail, cut on open"
        );
    }
    let store = ViewStore::open(dir).map_err(storage(dir))?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Listen {
            address: config.listen,
            source,
        })?;
    let local_addr = listener.local_addr().map_err(|source| StartError::Listen {
        address: config.listen,
        source,
    })?;
    let advertise = match (
        &config.advertise,
        config.peers.iter().find(|p| p.id == config.node_id),
    ) {
        (Some(advertise), _) => advertise.clone(),
        (None, Some(me)) => me.address.clone(),
        (None, None) => local_addr.to_string(),
    };
    let network = PeerNetwork {
        bind_ip: Some(local_addr.ip()).filter(|ip| !ip.is_unspecified()),
        rpc_timeout: config.timing.rpc_timeout,
    };
    let raft = Raft::new(
        config.node_id,
        Arc::new(raft_config(&config.timing)?),
        network,
        log,
        store.clone(),
    )
    .await
    .map_err(|e| StartError::Raft(e.to_string()))?;
    let server = tokio::spawn(network::serve(
        listener,
        raft.clone(),
        config.timing.election_timeout_max,
    ));

    let initial = LeadershipStatus {
        node: config.node_id,
        role: Role::Follower,
        term: 0,
        leader: None,
        single_voter: false,
        certain_until: None,
    };
    let (leadership_tx, _) = watch::channel(initial);
    let publisher = tokio::spawn(publish_leadership(
        raft.metrics(),
        leadership_tx.clone(),
        config.node_id,
        config.timing.certainty_window(),
    ));

    let node = OracleNode {
        inner: Arc::new(NodeInner {
            id: config.node_id,
            advertise: advertise.clone(),
            local_addr,
            raft: raft.clone(),
            store,
            leadership_tx,
            timing: config.timing,
            tasks: Mutex::new(vec![server, publisher]),
            lock: Mutex::new(Some(lock)),
        }),
    };

    let initialized = raft
        .is_initialized()
        .await
        .map_err(|e| StartError::Raft(e.to_string()))?;
    if !initialized && config.bootstrap == Bootstrap::Initialize {
        let voters: BTreeMap<u64, BasicNode> = if config.peers.is_empty() {
            BTreeMap::from([(config.node_id, BasicNode { addr: advertise })])
        } else {
            config
                .peers
                .iter()
                .map(|p| {
                    (
                        p.id,
                        BasicNode {
                            addr: p.address.clone(),
                        },
                    )
                })
                .collect()
        };
        // Every listed node proposes the same configuration; a node that
        // learnt it from a peer first refuses, which is fine.
        if let Err(e) = raft.initialize(voters).await {
            tracing::debug!(error = %e, "oracle: initialize skipped");
        }
    }
    Ok(node)
}

fn role_of(state: ServerState) -> Role {
    match state {
        ServerState::Leader => Role::Leader,
        ServerState::Candidate => Role::Candidate,
        ServerState::Follower => Role::Follower,
        ServerState::Learner => Role::Learner,
        ServerState::Shutdown => Role::Shutdown,
    }
}

fn leader_of(metrics: &RaftMetrics<OracleTypes>) -> Option<NodeInfo> {
    let id = metrics.current_leader?;
    let address = metrics
        .membership_config
        .membership()
        .get_node(&id)
        .map(|node| node.addr.clone())?;
    Some(NodeInfo { id, address })
}

fn leadership_of(
    metrics: &RaftMetrics<OracleTypes>,
    node: OracleNodeId,
    window: Duration,
) -> LeadershipStatus {
    let mut role = role_of(metrics.state);
    // A new leader first commits and applies a blank entry of its term;
    // until then its view may lack entries committed under earlier leaders,
    // so it is not reported as leading yet.
    let applied_this_term = metrics
        .last_applied
        .is_some_and(|id| id.leader_id.term == metrics.current_term);
    if role == Role::Leader && !applied_this_term {
        role = Role::Candidate;
    }
    let single_voter = {
        let mut voters = metrics.membership_config.membership().voter_ids();
        voters.next() == Some(node) && voters.next().is_none()
    };
    let certain_until = if role == Role::Leader {
        metrics.last_quorum_acked.as_ref().and_then(|acked| {
            // Read our clock first, then the age of the acknowledgement:
            // the age can only come out larger, so the instant earlier.
            let now = Instant::now();
            let age = acked.into_inner().elapsed();
            now.checked_sub(age).and_then(|at| at.checked_add(window))
        })
    } else {
        None
    };
    LeadershipStatus {
        node,
        role,
        term: metrics.current_term,
        leader: leader_of(metrics),
        single_voter,
        certain_until,
    }
}

async fn publish_leadership(
    mut metrics: MetricsReceiver,
    tx: watch::Sender<LeadershipStatus>,
    node: OracleNodeId,
    window: Duration,
) {
    loop {
        let status = leadership_of(&metrics.borrow_watched(), node, window);
        tx.send_if_modified(|current| {
            if *current == status {
                false
            } else {
                *current = status;
                true
            }
        });
        if metrics.changed().await.is_err() {
            tx.send_modify(|current| current.role = Role::Shutdown);
            return;
        }
    }
}

fn not_leader(forward: &ForwardToLeader<OracleTypes>) -> ConsensusError {
    ConsensusError::NotLeader {
        leader: forward
            .leader_id
            .zip(forward.leader_node.as_ref())
            .map(|(id, node)| NodeInfo {
                id,
                address: node.addr.clone(),
            }),
    }
}

fn write_error(error: RaftError<OracleTypes, ClientWriteError<OracleTypes>>) -> ConsensusError {
    match error {
        RaftError::APIError(ClientWriteError::ForwardToLeader(forward)) => not_leader(&forward),
        // The entry was discarded by a new leader: it may still commit
        // through that leader. View commands are safe to re-propose there
        // (a repeat is refused by the view, never applied twice).
        RaftError::APIError(ClientWriteError::LogEntryDiscarded(forward)) => not_leader(&forward),
        RaftError::APIError(ClientWriteError::ChangeMembershipError(e)) => {
            ConsensusError::MembershipChange(e.to_string())
        }
        RaftError::APIError(other) => ConsensusError::MembershipChange(other.to_string()),
        RaftError::Fatal(Fatal::Stopped) => ConsensusError::Shutdown,
        RaftError::Fatal(fatal) => ConsensusError::Fatal(fatal.to_string()),
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl OracleNode {
    /// This node's id.
    #[must_use]
    pub fn id(&self) -> OracleNodeId {
        self.inner.id
    }

    /// This node as its peers address it.
    #[must_use]
    pub fn node_info(&self) -> NodeInfo {
        NodeInfo {
            id: self.inner.id,
            address: self.inner.advertise.clone(),
        }
    }

    /// The address the consensus listener is bound to.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// Committed view changes the view refused (each left it unchanged),
    /// counted since the state machine's origin (kept in snapshots).
    #[must_use]
    pub fn rejected_commands(&self) -> u64 {
        self.inner.store.summary().1
    }

    async fn propose_inner(&self, commands: Vec<ViewCommand>) -> Result<View, ConsensusError> {
        if commands.is_empty() {
            return Err(ConsensusError::Rejected(ViewError::EmptyBatch));
        }
        if commands.len() > MAX_BATCH {
            return Err(ConsensusError::Rejected(ViewError::LimitExceeded {
                what: "commands in a batch",
                limit: MAX_BATCH,
            }));
        }
        let timeout = self.inner.timing.commit_timeout;
        let write = self.inner.raft.client_write(ViewProposal { commands });
        let response = tokio::time::timeout(timeout, write)
            .await
            .map_err(|_| ConsensusError::Timeout {
                timeout_ms: millis(timeout),
            })?
            .map_err(write_error)?;
        match response.data.rejected {
            Some(error) => Err(ConsensusError::Rejected(error)),
            None => Ok(response.data.view),
        }
    }

    async fn change_membership_inner(&self, voters: Vec<NodeInfo>) -> Result<(), ConsensusError> {
        let ids: BTreeSet<u64> = voters.iter().map(|v| v.id).collect();
        if ids.len() != voters.len() {
            return Err(ConsensusError::MembershipChange(
                "a voter id appears twice".to_owned(),
            ));
        }
        if !matches!(ids.len(), 1 | 3 | 5 | 7) {
            return Err(ConsensusError::MembershipChange(format!(
                "{} voters: use 1, 3, 5 or 7",
                ids.len()
            )));
        }
        let raft = &self.inner.raft;
        let timeout = self.inner.timing.commit_timeout;
        let timed_out = || ConsensusError::Timeout {
            timeout_ms: millis(timeout),
        };
        let known: BTreeSet<u64> = {
            let metrics = raft.metrics().borrow_watched().clone();
            metrics
                .membership_config
                .membership()
                .nodes()
                .map(|(id, _)| *id)
                .collect()
        };
        for voter in voters.iter().filter(|v| !known.contains(&v.id)) {
            // Blocking: returns once the learner has caught up.
            let node = BasicNode {
                addr: voter.address.clone(),
            };
            tokio::time::timeout(timeout, raft.add_learner(voter.id, node, true))
                .await
                .map_err(|_| timed_out())?
                .map_err(write_error)?;
        }
        let change = raft.change_membership(ChangeMembers::ReplaceAllVoters(ids), false);
        tokio::time::timeout(timeout, change)
            .await
            .map_err(|_| timed_out())?
            .map_err(write_error)?;
        Ok(())
    }

    async fn shutdown_inner(&self) -> Result<(), ConsensusError> {
        let result = self.inner.raft.shutdown().await;
        let tasks = self
            .inner
            .tasks
            .lock()
            .map(|mut tasks| std::mem::take(&mut *tasks))
            .unwrap_or_default();
        for task in tasks {
            task.abort();
        }
        self.inner.leadership_tx.send_modify(|status| {
            status.role = Role::Shutdown;
            status.certain_until = None;
        });
        if let Ok(mut lock) = self.inner.lock.lock() {
            drop(lock.take());
        }
        result.map_err(|e| ConsensusError::Fatal(e.to_string()))
    }
}

impl Consensus for OracleNode {
    fn propose_batch(
        &self,
        commands: Vec<ViewCommand>,
    ) -> ConsensusFuture<'_, Result<View, ConsensusError>> {
        Box::pin(self.propose_inner(commands))
    }

    fn committed_views(&self) -> watch::Receiver<View> {
        self.inner.store.subscribe()
    }

    fn leadership(&self) -> watch::Receiver<LeadershipStatus> {
        self.inner.leadership_tx.subscribe()
    }

    fn status(&self) -> OracleStatus {
        let metrics = self.inner.raft.metrics().borrow_watched().clone();
        let membership = metrics.membership_config.membership();
        let node = |id: u64| NodeInfo {
            id,
            address: membership
                .get_node(&id)
                .map(|n| n.addr.clone())
                .unwrap_or_default(),
        };
        let voters: Vec<NodeInfo> = membership.voter_ids().map(node).collect();
        let learners: Vec<NodeInfo> = membership.learner_ids().map(node).collect();
        let (view_id, rejected_commands) = self.inner.store.summary();
        let leadership = self.inner.leadership_tx.borrow().clone();
        let now = Instant::now();
        let leadership_certain_for_ms = leadership
            .certain_until
            .filter(|until| *until > now)
            .map(|until| millis(until.duration_since(now)));
        OracleStatus {
            node: self.node_info(),
            role: role_of(metrics.state),
            term: metrics.current_term,
            leader: leader_of(&metrics),
            last_log_index: metrics.last_log_index,
            committed_index: metrics.local_committed.map(|id| id.index()),
            applied_index: metrics.last_applied.map(|id| id.index()),
            view_id,
            rejected_commands,
            voters,
            learners,
            leadership_certain_for_ms,
        }
    }

    fn change_oracle_membership(
        &self,
        voters: Vec<NodeInfo>,
    ) -> ConsensusFuture<'_, Result<(), ConsensusError>> {
        Box::pin(self.change_membership_inner(voters))
    }

    fn shutdown(&self) -> ConsensusFuture<'_, Result<(), ConsensusError>> {
        Box::pin(self.shutdown_inner())
    }
}
