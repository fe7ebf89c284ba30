//! The member client: a process's membership in the group, as a Rust API.
//!
//! [`Member::join`] finds the oracle leader among the configured oracle
//! nodes, joins over TCP (moving to a higher incarnation when the view
//! remembers this member id at the one offered, so a restarted process never
//! comes back as the identity that was excluded) and starts a task that
//! heartbeats the leader over UDP on the member's own monotonic clock
//! ([`crate::MemberSession`] decides when and what). The lease runs from
//! the moment each heartbeat was sent, shrunk by the drift bound.
//!
//! - [`Member::can_act`] and [`Member::is_primary`] answer from the
//!   member's own clock at the moment of the call: the instant the lease
//!   lapses they answer `false` (self-fencing), whatever the network does.
//!   [`Member::serving`] is a watch that flips to [`Serving::NotServing`] at
//!   that instant too.
//! - [`Member::watch`] is a watch of the newest view (from heartbeat
//!   replies, or fetched over TCP when a view is too large for a datagram).
//!   The join itself asks for the compact answer (the view only when
//!   small): in a large group the member starts from the id of the view
//!   that admitted it and fetches that view after its first heartbeat
//!   reply; until then it may act on its lease but is primary of nothing.
//!   Fetches run beside the heartbeat loop, one at a time and at most one
//!   a second ([`fetch`]), so a slow fetch never delays a heartbeat and a
//!   burst of view changes is not a burst of fetches.
//! - When a view shows this incarnation excluded, the session fences its
//!   lease for good and the task rejoins with the next incarnation.
//! - "Not leader" answers redirect the member to the leader they name; a
//!   leader silent for two heartbeat intervals, or answering only "not
//!   granted" for that long (cut off from its quorum), makes it try the
//!   next oracle.
//! - [`Member::acting_status`] reads, under one lock and at one instant,
//!   whether the member may act (as primary of a service), in which view,
//!   and until when: what a recorder of serving intervals needs.
//!   [`Member::stats`] has the heartbeat round trip and lease expiries for
//!   metrics.

pub mod fetch;
mod transport;

use std::collections::{BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::clock::{MonotonicClock, Timestamp};
use crate::lease::{ConfigError, LeaseState, TimingConfig};
use crate::member::{MemberSession, ReplyEvent};
use crate::oracle::HeartbeatReply;
use crate::view::{Incarnation, MemberId, ServiceName, View, ViewId};
use crate::wire::{HeartbeatStatus, MAX_DATAGRAM, Message, RejectCode, WireError};

use fetch::ViewFetchPacer;
use transport::Oracles;

/// The request id of replies the client makes up to install a view it
/// fetched; heartbeat request ids start at 1, so this one answers nothing.
const VIEW_ONLY_REQUEST: u64 = 0;

/// Heartbeats remembered for round-trip times (older replies are too late
/// to matter).
const RTT_WINDOW: usize = 16;

/// How a member joins and heartbeats.
#[derive(Debug, Clone)]
pub struct MemberConfig {
    /// This member's stable id.
    pub member: MemberId,
    /// Where it serves (opaque to the oracle).
    pub address: String,
    /// The services it can host.
    pub roles: BTreeSet<ServiceName>,
    /// The member-facing addresses of the oracle nodes (UDP and TCP share
    /// each port).
    pub oracles: Vec<SocketAddr>,
    /// Lease, heartbeat interval and drift bound: the oracle's values.
    pub timing: TimingConfig,
    /// The incarnation to offer first; the client moves past whatever the
    /// view remembers for this id.
    pub incarnation: Incarnation,
    /// Deadline of each TCP request (join, leave, view fetch).
    pub request_timeout: Duration,
}

impl MemberConfig {
    /// A configuration with the default timing, incarnation 1 and a 2 s
    /// request deadline.
    #[must_use]
    pub fn new(member: MemberId, address: impl Into<String>, oracles: Vec<SocketAddr>) -> Self {
        Self {
            member,
            address: address.into(),
            roles: BTreeSet::new(),
            oracles,
            timing: TimingConfig::default(),
            incarnation: Incarnation(1),
            request_timeout: Duration::from_secs(2),
        }
    }

    /// Adds a service role.
    #[must_use]
    pub fn role(mut self, service: ServiceName) -> Self {
        self.roles.insert(service);
        self
    }
}

/// Why a membership request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The timing configuration is unsafe.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// No oracle address was configured.
    #[error("no oracle address configured")]
    NoOracles,
    /// No oracle node answered as leader.
    #[error("no oracle leader answered (tried {tried} times): {last}")]
    NoLeader {
        /// How many requests were made.
        tried: usize,
        /// The last failure.
        last: String,
    },
    /// The oracle refused the request; the view is unchanged.
    #[error("the oracle refused: {reason} ({})", code.as_str())]
    Rejected {
        /// Why.
        code: RejectCode,
        /// The oracle's explanation.
        reason: String,
    },
    /// The oracle's answer was not a valid message.
    #[error("invalid answer from the oracle: {0}")]
    Wire(#[from] WireError),
    /// A local socket could not be opened.
    #[error("membership socket: {0}")]
    Io(#[from] std::io::Error),
    /// The member left or was stopped.
    #[error("the member is stopped")]
    Stopped,
}

/// Whether the member may serve right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serving {
    /// In the view with a valid lease.
    Serving,
    /// Not (or no longer): no lease, a lapsed lease, or excluded.
    NotServing,
}

/// One reading of whether the member may act, taken at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActingStatus {
    /// When it was read (the instant the lease was checked against).
    pub at: Instant,
    /// Whether the member may act at `at`: as primary of the service
    /// asked about, or at all when none was named.
    pub acting: bool,
    /// The newest view the member had seen at `at`.
    pub view: ViewId,
    /// The member's incarnation.
    pub incarnation: Incarnation,
    /// When the lease runs out on this process's clock (possibly in the
    /// past); `None` before the first grant and once fenced.
    pub lease_expires: Option<Instant>,
}

/// Counters of the heartbeat loop, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemberStats {
    /// Heartbeats sent.
    pub heartbeats_sent: u64,
    /// Heartbeat replies received (granted or not).
    pub replies: u64,
    /// Round trip of the newest answered heartbeat.
    pub last_round_trip: Option<Duration>,
    /// Times the lease ran out while the member was serving.
    pub lease_expiries: u64,
    /// Rejoin attempts with a new incarnation (after seeing itself excluded).
    pub rejoins: u64,
}

#[derive(Default)]
struct Counters {
    heartbeats_sent: AtomicU64,
    replies: AtomicU64,
    /// Nanoseconds plus one; zero means none yet.
    last_round_trip: AtomicU64,
    lease_expiries: AtomicU64,
    rejoins: AtomicU64,
}

struct Shared {
    session: Mutex<MemberSession>,
    clock: MonotonicClock,
    stopped: AtomicBool,
    counters: Counters,
}

impl Shared {
    fn session(&self) -> MutexGuard<'_, MemberSession> {
        // Every session method leaves it consistent before returning.
        self.session.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn can_act(&self) -> bool {
        !self.stopped.load(Ordering::Acquire) && self.session().can_act(self.clock.now())
    }
}

/// A process's membership (see the module docs). Dropping it stops the
/// heartbeats without leaving: the oracle removes the member after the
/// suspicion timeout.
pub struct Member {
    shared: Arc<Shared>,
    oracles: Arc<Oracles>,
    views: watch::Receiver<View>,
    serving: watch::Receiver<Serving>,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Member {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let session = self.shared.session();
        f.debug_struct("Member")
            .field("member", session.member())
            .field("incarnation", &session.incarnation())
            .field("view", &session.view().id())
            .finish_non_exhaustive()
    }
}

impl Member {
    /// Joins the group and starts heartbeating (see the module docs).
    pub async fn join(config: MemberConfig) -> Result<Self, ClientError> {
        config.timing.validate()?;
        if config.oracles.is_empty() {
            return Err(ClientError::NoOracles);
        }
        let oracles = Arc::new(Oracles::new(config.oracles.clone(), config.request_timeout));
        let admission = oracles
            .join(
                &config.member,
                config.incarnation,
                &config.address,
                &config.roles,
            )
            .await?;
        if admission
            .lease
            .is_some_and(|lease| lease != config.timing.lease)
        {
            tracing::warn!(
                oracle_lease_ms = admission.lease.map(|l| l.as_millis()),
                member_lease_ms = config.timing.lease.as_millis(),
                "membership: the oracle grants another lease than this member is configured with"
            );
        }
        let clock = MonotonicClock::new();
        let mut session = MemberSession::new(
            config.member.clone(),
            admission.incarnation,
            config.timing,
            admission.view.unwrap_or_default(),
        );
        session.admitted_in(admission.view_id);
        let (views_tx, views) = watch::channel(session.view().clone());
        let (serving_tx, serving) = watch::channel(Serving::NotServing);
        let shared = Arc::new(Shared {
            session: Mutex::new(session),
            clock,
            stopped: AtomicBool::new(false),
            counters: Counters::default(),
        });
        let socket = UdpSocket::bind(unspecified_for(oracles.leader())).await?;
        let (shutdown, shutdown_rx) = watch::channel(false);
        let heartbeats = Heartbeats {
            shared: Arc::clone(&shared),
            oracles: Arc::clone(&oracles),
            config,
            socket,
            views: views_tx,
            serving: serving_tx,
            last_reply: None,
            sent: VecDeque::with_capacity(RTT_WINDOW),
            pacer: ViewFetchPacer::default(),
            fetch: None,
        };
        let task = tokio::spawn(heartbeats.run(shutdown_rx));
        Ok(Self {
            shared,
            oracles,
            views,
            serving,
            shutdown,
            task: Some(task),
        })
    }

    /// This member's id.
    #[must_use]
    pub fn id(&self) -> MemberId {
        self.shared.session().member().clone()
    }

    /// The current incarnation (it grows when the member had to rejoin).
    #[must_use]
    pub fn incarnation(&self) -> Incarnation {
        self.shared.session().incarnation()
    }

    /// Where the lease stands now, on this process's clock.
    #[must_use]
    pub fn lease_state(&self) -> LeaseState {
        if self.shared.stopped.load(Ordering::Acquire) {
            return LeaseState::Fenced;
        }
        self.shared.session().lease().state(self.shared.clock.now())
    }

    /// Whether this member may act now: in the newest view it has seen and
    /// holding a lease that is valid on its own clock.
    #[must_use]
    pub fn can_act(&self) -> bool {
        self.shared.can_act()
    }

    /// Whether this member may act as primary of `service` now.
    #[must_use]
    pub fn is_primary(&self, service: &ServiceName) -> bool {
        !self.shared.stopped.load(Ordering::Acquire)
            && self
                .shared
                .session()
                .is_primary(service, self.shared.clock.now())
    }

    /// Whether the member may act now (as primary of `service` when one
    /// is named), with the view and lease expiry it decided on, all read
    /// under one lock at one instant (see [`ActingStatus`]).
    #[must_use]
    pub fn acting_status(&self, service: Option<&ServiceName>) -> ActingStatus {
        let session = self.shared.session();
        let at = Instant::now();
        let now = self.shared.clock.at(at);
        let stopped = self.shared.stopped.load(Ordering::Acquire);
        let acting = !stopped
            && match service {
                Some(service) => session.is_primary(service, now),
                None => session.can_act(now),
            };
        let lease_expires = session.lease().expires_at().and_then(|expiry| {
            if expiry >= now {
                at.checked_add(expiry.saturating_duration_since(now))
            } else {
                at.checked_sub(now.saturating_duration_since(expiry))
            }
        });
        ActingStatus {
            at,
            acting,
            view: session.view().id(),
            incarnation: session.incarnation(),
            lease_expires,
        }
    }

    /// The heartbeat loop's counters.
    #[must_use]
    pub fn stats(&self) -> MemberStats {
        let counters = &self.shared.counters;
        let rtt = counters.last_round_trip.load(Ordering::Relaxed);
        MemberStats {
            heartbeats_sent: counters.heartbeats_sent.load(Ordering::Relaxed),
            replies: counters.replies.load(Ordering::Relaxed),
            last_round_trip: rtt.checked_sub(1).map(Duration::from_nanos),
            lease_expiries: counters.lease_expiries.load(Ordering::Relaxed),
            rejoins: counters.rejoins.load(Ordering::Relaxed),
        }
    }

    /// The newest view seen.
    #[must_use]
    pub fn view(&self) -> View {
        self.views.borrow().clone()
    }

    /// A watch of the newest view seen (it only moves forward).
    #[must_use]
    pub fn watch(&self) -> watch::Receiver<View> {
        self.views.clone()
    }

    /// A watch of whether the member may serve; it turns
    /// [`Serving::NotServing`] the moment the lease lapses.
    #[must_use]
    pub fn serving(&self) -> watch::Receiver<Serving> {
        self.serving.clone()
    }

    /// Stops heartbeating without leaving, as a crashed or paused process
    /// would: the lease lapses on this side, and the oracle removes the
    /// member after the suspicion timeout.
    pub fn stop_heartbeats(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }

    /// Leaves the group: stops acting at once, then asks the oracle to
    /// commit the removal. Returns the view id of that change.
    pub async fn leave(mut self) -> Result<ViewId, ClientError> {
        self.shared.stopped.store(true, Ordering::Release);
        self.stop_heartbeats();
        let (member, incarnation) = {
            let session = self.shared.session();
            (session.member().clone(), session.incarnation())
        };
        self.oracles.leave(&member, incarnation).await
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::Release);
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

fn unspecified_for(target: SocketAddr) -> SocketAddr {
    if target.is_ipv4() {
        SocketAddr::from(([0, 0, 0, 0], 0))
    } else {
        SocketAddr::from(([0u16; 8], 0))
    }
}

/// The heartbeat task.
struct Heartbeats {
    shared: Arc<Shared>,
    oracles: Arc<Oracles>,
    config: MemberConfig,
    socket: UdpSocket,
    views: watch::Sender<View>,
    serving: watch::Sender<Serving>,
    last_reply: Option<Timestamp>,
    /// The newest heartbeats sent: request id and send time.
    sent: VecDeque<(u64, Timestamp)>,
    /// When to fetch the view over TCP.
    pacer: ViewFetchPacer,
    /// The view fetch in flight, aborted with the loop.
    fetch: Option<FetchTask>,
}

/// What a view fetch answers: a newer view, none, or why it failed.
type Fetched = Result<Option<View>, ClientError>;

/// A view fetch running beside the heartbeat loop; aborted when dropped.
struct FetchTask(JoinHandle<()>);

impl Drop for FetchTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Heartbeats {
    async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let mut buffer = vec![0u8; 65_536];
        let mut out = Vec::with_capacity(MAX_DATAGRAM);
        let (fetched_tx, mut fetched) = mpsc::channel::<Fetched>(1);
        loop {
            let now = self.shared.clock.now();
            self.send_due(now, &mut out).await;
            self.start_fetch(now, &fetched_tx);
            self.publish_serving();
            let wake = self.next_wake(now);
            tokio::select! {
                _ = shutdown.changed() => break,
                () = tokio::time::sleep(wake) => {}
                received = self.socket.recv_from(&mut buffer) => {
                    if let Ok((len, _from)) = received {
                        let datagram = buffer.get(..len).unwrap_or_default().to_vec();
                        self.on_datagram(&datagram).await;
                    }
                }
                Some(result) = fetched.recv() => self.on_fetched(result).await,
            }
        }
        self.fetch = None;
        self.serving.send_replace(Serving::NotServing);
    }

    /// Starts a view fetch beside the loop when one is wanted and the
    /// pacer allows it; its answer comes back through `done`.
    fn start_fetch(&mut self, now: Timestamp, done: &mpsc::Sender<Fetched>) {
        let known = self.shared.session().view().id();
        if !self.pacer.start(known, now) {
            return;
        }
        let oracles = Arc::clone(&self.oracles);
        let done = done.clone();
        self.fetch = Some(FetchTask(tokio::spawn(async move {
            let result = oracles.fetch_view(known).await;
            let _ = done.send(result).await;
        })));
    }

    async fn on_fetched(&mut self, result: Fetched) {
        self.pacer.finished();
        self.fetch = None;
        let event = match result {
            Ok(Some(view)) => self.install(view),
            Ok(None) => return,
            Err(error) => {
                tracing::debug!(%error, "membership: view fetch failed, retrying");
                return;
            }
        };
        self.publish_view();
        if let ReplyEvent::MustRejoin { incarnation } = event {
            self.publish_serving();
            self.rejoin(incarnation).await;
        }
    }

    fn publish_serving(&self) {
        let state = if self.shared.can_act() {
            Serving::Serving
        } else {
            Serving::NotServing
        };
        let lapsed = self.serving.send_if_modified(|held| {
            let changed = *held != state;
            *held = state;
            changed
        }) && state == Serving::NotServing
            && !self.shared.stopped.load(Ordering::Acquire)
            && self.shared.session().lease().state(self.shared.clock.now()) == LeaseState::Expired;
        if lapsed {
            self.shared
                .counters
                .lease_expiries
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Until the next heartbeat is due, the lease lapses or a paced view
    /// fetch may start, whichever is first.
    fn next_wake(&self, now: Timestamp) -> Duration {
        let session = self.shared.session();
        let heartbeat = session
            .next_heartbeat_at()
            .map_or(Duration::ZERO, |due| due.saturating_duration_since(now));
        let heartbeat = self
            .pacer
            .next_start_at(session.view().id())
            .map_or(heartbeat, |at| {
                heartbeat.min(at.saturating_duration_since(now))
            });
        let expiry = session
            .lease()
            .expires_at()
            .filter(|expiry| *expiry > now)
            .map(|expiry| expiry.saturating_duration_since(now));
        expiry.map_or(heartbeat, |expiry| heartbeat.min(expiry))
    }

    async fn send_due(&mut self, now: Timestamp, out: &mut Vec<u8>) {
        // A leader silent for two intervals: try the next oracle.
        let silent_limit = self.config.timing.heartbeat_interval.saturating_mul(2);
        if let Some(last) = self.last_reply
            && now.saturating_duration_since(last) > silent_limit
        {
            self.oracles.rotate();
            self.last_reply = Some(now);
        }
        let request = self.shared.session().poll_heartbeat(now);
        let Some(request) = request else {
            return;
        };
        if self.last_reply.is_none() {
            self.last_reply = Some(now);
        }
        out.clear();
        let message = Message::Heartbeat {
            member: request.member.as_str(),
            incarnation: request.incarnation,
            request_id: request.request_id,
            seen_view: request.seen_view,
        };
        if message.encode(out).is_ok() {
            if self.sent.len() >= RTT_WINDOW {
                self.sent.pop_front();
            }
            self.sent.push_back((request.request_id, now));
            self.shared
                .counters
                .heartbeats_sent
                .fetch_add(1, Ordering::Relaxed);
            let _ = self.socket.send_to(out, self.oracles.leader()).await;
        }
    }

    async fn on_datagram(&mut self, datagram: &[u8]) {
        let Ok(message) = Message::decode(datagram) else {
            return;
        };
        match message {
            Message::HeartbeatReply {
                request_id,
                view_id,
                status,
                view,
            } => {
                let now = self.shared.clock.now();
                // A node that answers but never grants (a leader cut off
                // from its quorum keeps answering "not granted") counts as
                // silent, so the member moves on to the next oracle.
                if !matches!(status, HeartbeatStatus::NotGranted) {
                    self.last_reply = Some(now);
                }
                self.note_round_trip(request_id, now);
                let lease = match status {
                    HeartbeatStatus::Granted { lease } => Some(lease),
                    HeartbeatStatus::NotGranted | HeartbeatStatus::NotMember => None,
                };
                let event = self.shared.session().on_reply(HeartbeatReply {
                    request_id,
                    lease,
                    view: view.map(|view| *view),
                });
                self.after_reply(event, view_id).await;
            }
            Message::NotLeader { leader, .. } => {
                self.last_reply = Some(self.shared.clock.now());
                self.oracles.redirect(leader);
            }
            Message::Rejected { code, reason, .. } => {
                tracing::debug!(
                    code = code.as_str(),
                    reason,
                    "membership: heartbeat refused"
                );
            }
            _ => {}
        }
        self.publish_view();
    }

    async fn after_reply(&mut self, event: ReplyEvent, oracle_view: ViewId) {
        // A newer view than the reply carried is fetched beside the loop
        // (`start_fetch`, paced), never here.
        self.pacer.oracle_has(oracle_view);
        if let ReplyEvent::MustRejoin { incarnation } = event {
            self.publish_serving();
            self.rejoin(incarnation).await;
        }
    }

    fn note_round_trip(&self, request_id: u64, now: Timestamp) {
        let counters = &self.shared.counters;
        counters.replies.fetch_add(1, Ordering::Relaxed);
        if let Some((_, sent)) = self.sent.iter().find(|(id, _)| *id == request_id) {
            let nanos = u64::try_from(now.saturating_duration_since(*sent).as_nanos())
                .unwrap_or(u64::MAX - 1);
            counters
                .last_round_trip
                .store(nanos.saturating_add(1), Ordering::Relaxed);
        }
    }

    fn install(&self, view: View) -> ReplyEvent {
        self.shared.session().on_reply(HeartbeatReply {
            request_id: VIEW_ONLY_REQUEST,
            lease: None,
            view: Some(view),
        })
    }

    async fn rejoin(&mut self, incarnation: Incarnation) {
        self.shared.counters.rejoins.fetch_add(1, Ordering::Relaxed);
        let joined = self
            .oracles
            .join(
                &self.config.member,
                incarnation,
                &self.config.address,
                &self.config.roles,
            )
            .await;
        match joined {
            Ok(admission) if admission.incarnation == incarnation => {
                if let Some(view) = admission.view {
                    self.install(view);
                }
                self.shared.session().admitted_in(admission.view_id);
            }
            Ok(admission) => {
                // The oracle knew a higher incarnation than the session
                // computed: start a session at the one admitted.
                let mut session = self.shared.session();
                *session = MemberSession::new(
                    self.config.member.clone(),
                    admission.incarnation,
                    self.config.timing,
                    admission.view.unwrap_or_default(),
                );
                session.admitted_in(admission.view_id);
            }
            Err(error) => tracing::warn!(%error, "membership: rejoin failed, retrying"),
        }
        self.publish_view();
    }

    fn publish_view(&self) {
        let held = self.views.borrow().id();
        let view = {
            let session = self.shared.session();
            // Cloned only when it changed, not once per reply.
            (session.view().id() > held).then(|| session.view().clone())
        };
        if let Some(view) = view {
            self.views.send_replace(view);
        }
    }
}
