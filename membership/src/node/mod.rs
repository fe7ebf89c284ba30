//! The oracle node runtime: the tokio tasks that put an oracle node on the
//! network for members.
//!
//! One [`MembershipNode`] runs beside each consensus node
//! ([`crate::consensus::Consensus`]) and listens on one port for both
//! transports of [`crate::wire`]:
//!
//! - **the heartbeat task** owns the UDP socket and a [`HeartbeatHandler`].
//!   When the socket is readable it drains it (up to [`RECV_BATCH`]
//!   datagrams per wake-up; on a busy node it then lets datagrams gather
//!   for [`RECV_COALESCE`] rather than wake for each one), reads the
//!   monotonic clock right after each `recv` returns, and answers at once
//!   from memory: while this node is
//!   the consensus leader it runs the [`crate::OracleLeader`] (leases granted
//!   only until the consensus certainty instant; a newly elected leader
//!   waits out one lease before removing anyone); otherwise it answers
//!   "not leader, the leader is X". The same task ticks the failure detector
//!   every [`NodeConfig::tick_interval`] and hands removals to a proposal
//!   task, so a commit never holds up a heartbeat. It is the only owner of
//!   the detector: no lock is taken on the heartbeat path. A committed
//!   view costs it O(changes): the view is shared, not copied, and the
//!   detector is synced with the members the change touched
//!   ([`EncodedView::members_changed_since`]). The socket asks for a
//!   kernel buffer of [`NodeConfig::socket_buffer`] bytes, room for a burst
//!   of heartbeats while the task is descheduled.
//! - **the request task** accepts TCP connections for Join, Leave and view
//!   fetches (the `requests` module); joins and leaves go through
//!   **the batching task** (the `batch` module), which commits every join
//!   and leave queued while a commit was in flight as one view change
//!   ([`crate::consensus::Consensus::propose_batch`]). Removals the
//!   detector convicts are likewise proposed [`MAX_BATCH`] at a time.
//! - **the view task** encodes each committed view once, finds the members
//!   it changed since the previous one ([`crate::View::member_changes`]),
//!   and publishes both, so a view is never serialised per heartbeat and
//!   never compared member by member on the heartbeat task. It also frees
//!   the views the heartbeat task replaced (O(members) for a large one).
//!
//! The sockets come from a [`Transport`]: tokio's ([`TokioTransport`]) for
//! [`MembershipNode::start`], or a simulated network's for
//! [`MembershipNode::start_on`].

mod batch;
mod handler;
pub mod in_memory;
mod requests;
mod stats;
pub mod transport;

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

pub use handler::{EncodedView, HeartbeatHandler, VIEW_STEPS_KEPT, ViewStep};
pub use stats::{CounterValues, NodeCounters, NodeSnapshot};
pub use transport::{DatagramSocket, StreamListener, TokioTransport, Transport};

use crate::clock::MonotonicClock;
use crate::consensus::{Consensus, OracleNodeId};
use crate::detector::{DetectorConfig, DetectorConfigError};
use crate::view::{MAX_BATCH, ViewCommand};

/// Most datagrams read per socket wake-up before the task looks at its
/// timers again.
pub const RECV_BATCH: usize = 512;

/// From this many heartbeats per detector tick on (100 per 20 ms tick,
/// 5 000 a second: a group of 1 000 members at the default interval), the
/// heartbeat task lets datagrams gather for [`RECV_COALESCE`] after each
/// drain instead of waking for every one.
pub const COALESCE_ABOVE: usize = 100;

/// How long the heartbeat task of a busy node lets datagrams gather
/// between two drains. Arrival stamps come about this much later than
/// the datagram (tokio's timer rounds up to its millisecond tick; later,
/// never earlier, so a member is convicted no sooner),
/// and a member's lease runs from its own send time, so it costs nothing
/// but this much round trip; it saves a thread wake-up and a context
/// switch per datagram (about 26 000 a second at 5 000 members without
/// it).
pub const RECV_COALESCE: Duration = Duration::from_millis(1);

/// Groups up to this size get a fresh detector snapshot at every view
/// change; larger ones at the once-a-second snapshot.
const SNAPSHOT_ON_CHANGE_MAX: usize = 1_024;

/// Replaced views queued for the view task to drop (beyond that, the
/// heartbeat task drops them itself).
const RETIRED_VIEWS_QUEUED: usize = 64;

/// The kernel receive and send buffer the heartbeat socket asks for by
/// default: 4 MiB, about 80 ms of heartbeats at 50 000 a second (10 000
/// members at 200 ms) even before Linux doubles it for its bookkeeping.
pub const DEFAULT_SOCKET_BUFFER: usize = 4 * 1024 * 1024;

/// How an oracle node's member-facing side runs.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// The UDP (heartbeats) and TCP (join, leave, views) address; port 0
    /// picks a free port, the same for both.
    pub listen: SocketAddr,
    /// Timing and failure detector settings.
    pub detector: DetectorConfig,
    /// How often the failure detector runs (well below the heartbeat
    /// interval, which is also the local-stall threshold).
    pub tick_interval: Duration,
    /// The member-facing address of each oracle node, named in "not leader"
    /// answers so members go straight to the leader.
    pub member_addresses: BTreeMap<OracleNodeId, String>,
    /// Most TCP connections served at once.
    pub max_connections: usize,
    /// Deadline for reading one request and writing its answer over TCP.
    pub request_timeout: Duration,
    /// A TCP connection idle this long is closed.
    pub idle_timeout: Duration,
    /// The kernel receive and send buffer to ask for on the heartbeat
    /// socket (see [`DatagramSocket::set_buffer_sizes`]); Linux caps it at
    /// `net.core.rmem_max` / `wmem_max`, and the node logs a warning when
    /// it got less than half of it.
    pub socket_buffer: usize,
}

impl NodeConfig {
    /// Defaults (20 ms detector tick, 256 connections, 5 s request and 30 s
    /// idle timeouts, [`DEFAULT_SOCKET_BUFFER`]) on `listen`.
    #[must_use]
    pub fn new(listen: SocketAddr, detector: DetectorConfig) -> Self {
        Self {
            listen,
            detector,
            tick_interval: Duration::from_millis(20),
            member_addresses: BTreeMap::new(),
            max_connections: 256,
            request_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(30),
            socket_buffer: DEFAULT_SOCKET_BUFFER,
        }
    }
}

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The detector or timing configuration is refused.
    #[error(transparent)]
    Config(#[from] DetectorConfigError),
    /// `tick_interval` must be positive and below the stall threshold.
    #[error(
        "membership tick interval must be positive and shorter than the stall threshold (the heartbeat interval)"
    )]
    TickInterval,
    /// A listener could not be bound.
    #[error("cannot bind the membership listener on {address}: {source}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// The error.
        source: io::Error,
    },
    /// The committed view could not be encoded.
    #[error("cannot encode the committed view: {0}")]
    View(#[from] crate::wire::WireError),
}

/// A running oracle node's member-facing side (see the module docs).
#[derive(Debug)]
pub struct MembershipNode {
    local_addr: SocketAddr,
    receive_buffer: usize,
    counters: Arc<NodeCounters>,
    snapshots: watch::Receiver<Arc<NodeSnapshot>>,
    views: watch::Receiver<Arc<EncodedView>>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl MembershipNode {
    /// Binds the UDP and TCP listeners and starts the tasks.
    pub async fn start(
        config: NodeConfig,
        consensus: Arc<dyn Consensus>,
    ) -> Result<Self, NodeError> {
        Self::start_on(&TokioTransport, config, consensus).await
    }

    /// [`Self::start`] on the sockets of `transport` (a simulated network in
    /// the deterministic simulation; see [`transport`]).
    pub async fn start_on<T: Transport>(
        transport: &T,
        config: NodeConfig,
        consensus: Arc<dyn Consensus>,
    ) -> Result<Self, NodeError> {
        if config.tick_interval.is_zero() || config.tick_interval >= config.detector.stall_threshold
        {
            return Err(NodeError::TickInterval);
        }
        let counters = Arc::new(NodeCounters::default());
        let committed = consensus.committed_views();
        let first = Arc::new(EncodedView::new(committed.borrow().clone())?);
        let handler = HeartbeatHandler::new(
            config.detector,
            Arc::clone(&first),
            config.member_addresses.clone(),
            Arc::clone(&counters),
        )?;
        let (udp, tcp) = bind(transport, config.listen).await?;
        let local_addr = udp.local_addr().map_err(|source| NodeError::Bind {
            address: config.listen,
            source,
        })?;
        let receive_buffer = size_buffers(&udp, config.socket_buffer);
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (views_tx, views) = watch::channel(first);
        let (snapshots_tx, snapshots) = watch::channel(Arc::new(NodeSnapshot::default()));
        let (retired_tx, retired) = mpsc::channel(RETIRED_VIEWS_QUEUED);
        let mut tasks = Vec::new();
        tasks.push(tokio::spawn(publish_views(
            committed,
            views_tx,
            retired,
            shutdown_rx.clone(),
        )));
        let (changes, batching) =
            batch::ViewChanges::start(Arc::clone(&consensus), views.clone(), shutdown_rx.clone());
        tasks.push(batching);
        let context = Arc::new(requests::RequestContext {
            consensus: Arc::clone(&consensus),
            changes,
            views: views.clone(),
            member_addresses: config.member_addresses.clone(),
            counters: Arc::clone(&counters),
            request_timeout: config.request_timeout,
            idle_timeout: config.idle_timeout,
            lease: config.detector.timing.lease,
        });
        tasks.push(tokio::spawn(requests::serve(
            tcp,
            context,
            config.max_connections,
            shutdown_rx.clone(),
        )));
        let heartbeat = HeartbeatTask {
            socket: udp,
            handler,
            consensus,
            clock: MonotonicClock::new(),
            views: views.clone(),
            retired: retired_tx,
            snapshots: snapshots_tx,
            tick_interval: config.tick_interval,
            counters: Arc::clone(&counters),
        };
        tasks.push(tokio::spawn(heartbeat.run(shutdown_rx)));
        Ok(Self {
            local_addr,
            receive_buffer,
            counters,
            snapshots,
            views,
            shutdown,
            tasks,
        })
    }

    /// The bound address (UDP and TCP share the port).
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The heartbeat socket's kernel receive buffer as the kernel reports
    /// it (0 on a simulated network).
    #[must_use]
    pub fn receive_buffer(&self) -> usize {
        self.receive_buffer
    }

    /// The counters (read at any time, never blocking the node).
    #[must_use]
    pub fn counters(&self) -> CounterValues {
        self.counters.read()
    }

    /// The counters themselves, shared (for a metrics exporter).
    #[must_use]
    pub fn counters_handle(&self) -> Arc<NodeCounters> {
        Arc::clone(&self.counters)
    }

    /// The latest detector snapshot (published about once a second and at
    /// each leadership change).
    #[must_use]
    pub fn snapshot(&self) -> Arc<NodeSnapshot> {
        Arc::clone(&self.snapshots.borrow())
    }

    /// A watch of detector snapshots.
    #[must_use]
    pub fn snapshots(&self) -> watch::Receiver<Arc<NodeSnapshot>> {
        self.snapshots.clone()
    }

    /// A watch of committed views with their encoded form.
    #[must_use]
    pub fn views(&self) -> watch::Receiver<Arc<EncodedView>> {
        self.views.clone()
    }

    /// Stops every task and waits for them (the listeners close).
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

async fn bind<T: Transport>(
    transport: &T,
    listen: SocketAddr,
) -> Result<(T::Datagram, T::Listener), NodeError> {
    let bind_error = |address, source| NodeError::Bind { address, source };
    // With port 0, the UDP port is picked first and TCP takes the same one;
    // retry a few times if TCP finds it taken.
    let mut last_error = None;
    for _ in 0..16 {
        let udp = transport
            .bind_datagram(listen)
            .await
            .map_err(|e| bind_error(listen, e))?;
        let address = udp.local_addr().map_err(|e| bind_error(listen, e))?;
        match transport.bind_listener(address).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(error) if listen.port() == 0 => last_error = Some(error),
            Err(error) => return Err(bind_error(address, error)),
        }
    }
    Err(bind_error(
        listen,
        last_error.unwrap_or_else(|| io::Error::other("no free port")),
    ))
}

/// Asks for `requested` bytes of socket buffer on the heartbeat socket
/// and returns the receive buffer in force; a refusal or a smaller grant
/// is logged, never fatal (the node still runs, with more drops under
/// load).
fn size_buffers<D: DatagramSocket>(socket: &D, requested: usize) -> usize {
    match socket.set_buffer_sizes(requested) {
        // Linux reports twice what it grants; a simulated socket reports 0.
        Ok(granted) if granted == 0 || granted >= requested => granted,
        Ok(granted) => {
            tracing::warn!(
                requested,
                granted,
                "membership: the heartbeat socket got a smaller receive buffer than asked for; \
                 bursts of heartbeats may be dropped by the kernel (raise net.core.rmem_max)"
            );
            granted
        }
        Err(error) => {
            tracing::warn!(%error, requested, "membership: cannot size the heartbeat socket's buffers");
            0
        }
    }
}

/// Encodes and publishes each committed view (see the module docs), and
/// drops the views the heartbeat task retired: a large view's last
/// reference frees every member's entry, which is O(members) and so
/// belongs here rather than on the heartbeat path.
async fn publish_views(
    mut committed: watch::Receiver<crate::view::View>,
    views: watch::Sender<Arc<EncodedView>>,
    mut retired: mpsc::Receiver<Arc<EncodedView>>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            Some(view) = retired.recv() => drop(view),
            changed = committed.changed() => {
                if changed.is_err() {
                    return;
                }
                let view = Arc::new(committed.borrow_and_update().clone());
                let previous = Arc::clone(&views.borrow());
                if view.id() <= previous.id() {
                    continue;
                }
                // The members this change touched, found here once so the
                // heartbeat task syncs its detector with them alone.
                match EncodedView::after(&previous, view) {
                    Ok(encoded) => {
                        let _ = views.send(Arc::new(encoded));
                    }
                    Err(error) => tracing::error!(%error, "cannot encode a committed view"),
                }
            }
        }
    }
}

struct HeartbeatTask<D> {
    socket: D,
    handler: HeartbeatHandler,
    consensus: Arc<dyn Consensus>,
    clock: MonotonicClock,
    views: watch::Receiver<Arc<EncodedView>>,
    /// Replaced views, for the view task to drop (see [`publish_views`]).
    retired: mpsc::Sender<Arc<EncodedView>>,
    snapshots: watch::Sender<Arc<NodeSnapshot>>,
    tick_interval: Duration,
    counters: Arc<NodeCounters>,
}

impl<D: DatagramSocket> HeartbeatTask<D> {
    async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let mut leadership = self.consensus.leadership();
        let status = leadership.borrow_and_update().clone();
        self.handler
            .set_leadership(&status, self.clock.now(), &self.clock);
        let mut ticks = tokio::time::interval(self.tick_interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut snapshot_every = tokio::time::interval(Duration::from_secs(1));
        snapshot_every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut buffer = vec![0u8; 65_536];
        let mut proposal: Option<JoinHandle<()>> = None;
        let mut suspected = 0;
        // Datagrams read since the last tick, and whether the previous
        // tick's count made this a busy node.
        let mut received = 0usize;
        let mut busy = false;
        loop {
            tokio::select! {
                biased;
                _ = shutdown.changed() => break,
                changed = leadership.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    let status = leadership.borrow_and_update().clone();
                    let was_leader = self.handler.is_leader();
                    self.handler.set_leadership(&status, self.clock.now(), &self.clock);
                    // The status changes at every quorum acknowledgement
                    // (its certainty instant moves); a snapshot, which
                    // copies every member's health, only when the role did.
                    if self.handler.is_leader() != was_leader {
                        self.publish_snapshot(suspected);
                    }
                }
                changed = self.views.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    let view = Arc::clone(&self.views.borrow_and_update());
                    self.install(view);
                }
                readable = self.socket.readable() => {
                    if readable.is_ok() {
                        let read = self.drain(&mut buffer);
                        received = received.saturating_add(read);
                        if busy && read < RECV_BATCH {
                            tokio::time::sleep(RECV_COALESCE).await;
                        }
                    }
                }
                _ = ticks.tick() => {
                    busy = received >= COALESCE_ABOVE;
                    received = 0;
                    if self.views.has_changed().unwrap_or(false) {
                        let view = Arc::clone(&self.views.borrow_and_update());
                        self.install(view);
                    }
                    let now = self.clock.now();
                    if let Some((output, removals)) = self.handler.tick(now) {
                        suspected = output.suspicions.len();
                        let idle = proposal.as_ref().is_none_or(JoinHandle::is_finished);
                        if !removals.is_empty() && idle {
                            proposal = Some(self.propose_removals(removals));
                        }
                    } else {
                        suspected = 0;
                    }
                }
                _ = snapshot_every.tick() => self.publish_snapshot(suspected),
            }
        }
        if let Some(proposal) = proposal {
            proposal.abort();
        }
    }

    fn install(&mut self, view: Arc<EncodedView>) {
        let before = self.handler.view().id();
        if let Some(replaced) = self.handler.install_view(view, self.clock.now()) {
            // Dropped by the view task; here only if its queue is full.
            let _ = self.retired.try_send(replaced);
        }
        // A snapshot copies every member's health: at once for a small
        // group, at the next second's snapshot for a large one (a burst of
        // joins would otherwise cost O(N) per view change on the heartbeat
        // path).
        if self.handler.view().id() > before
            && self.handler.view().view.members().len() <= SNAPSHOT_ON_CHANGE_MAX
        {
            self.publish_snapshot(0);
        }
    }

    /// Reads every queued datagram (up to a batch), stamping each arrival
    /// right after `recv` returns and answering it before the next; returns
    /// how many it read.
    fn drain(&mut self, buffer: &mut [u8]) -> usize {
        // A view committed since the last wake-up is installed first: a
        // member answered with it may already be heartbeating with its id.
        if self.views.has_changed().unwrap_or(false) {
            let view = Arc::clone(&self.views.borrow_and_update());
            self.install(view);
        }
        let mut read = 0;
        for _ in 0..RECV_BATCH {
            match self.socket.try_recv_from(buffer) {
                Ok((len, from)) => {
                    read += 1;
                    let arrived_at = self.clock.now();
                    let datagram = buffer.get(..len).unwrap_or_default();
                    if let Some(reply) = self.handler.handle(datagram, arrived_at)
                        && self.socket.try_send_to(reply, from).is_err()
                    {
                        self.counters.send_dropped.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return read,
                // ICMP errors from an earlier send (a member went away) and
                // the like: keep reading.
                Err(_) => {}
            }
        }
        read
    }

    /// Proposes the convicted members' removals, [`MAX_BATCH`] per view
    /// change (a burst of failures is a few commits, not one per member).
    fn propose_removals(&self, removals: Vec<ViewCommand>) -> JoinHandle<()> {
        let consensus = Arc::clone(&self.consensus);
        let counters = Arc::clone(&self.counters);
        let views = self.views.clone();
        tokio::spawn(async move {
            let mut removals = removals.into_iter().peekable();
            while removals.peek().is_some() {
                let chunk: Vec<ViewCommand> = removals.by_ref().take(MAX_BATCH).collect();
                counters.removals_proposed.fetch_add(
                    u64::try_from(chunk.len()).unwrap_or(u64::MAX),
                    Ordering::Relaxed,
                );
                for outcome in batch::commit_together(consensus.as_ref(), &views, chunk).await {
                    match outcome {
                        Ok(view) => {
                            counters.removals_committed.fetch_add(1, Ordering::Relaxed);
                            tracing::info!(view = %view.id(), "membership: removed a silent member");
                        }
                        Err(error) => {
                            tracing::warn!(%error, "membership: removal not committed");
                        }
                    }
                }
            }
        })
    }

    fn publish_snapshot(&self, suspected: usize) {
        let now = self.clock.now();
        let view = self.handler.view();
        let (health, held) = self.handler.leader().map_or((Vec::new(), false), |leader| {
            (
                leader.detector().health(now),
                leader.detector().removals_held(now),
            )
        });
        let snapshot = NodeSnapshot {
            leader: self.handler.is_leader(),
            view_id: view.id(),
            members: view.view.members().len(),
            health,
            suspected,
            removals_held: held,
            suspicion_timeout: self.handler.suspicion_timeout(),
        };
        let _ = self.snapshots.send(Arc::new(snapshot));
    }
}
