//! The simulated members and clients, and the tiny replicated register
//! service they run.
//!
//! A member drives the crate's sans-IO [`MemberSession`] (heartbeat pacing,
//! the lease on the member's own clock, self-fencing, rejoining with a new
//! incarnation) over turmoil UDP and TCP with the real wire codec, exactly
//! as `client::Member`'s heartbeat task does; `client::Member` itself binds
//! tokio's sockets, so it cannot run here yet (see the module docs of
//! `sim_safety.rs`).
//!
//! The register service, primary/backup, routed by the view:
//!
//! - a client sends `Write { value, view }` to the primary of the newest
//!   view it fetched; the primary refuses a request stamped with another
//!   view than its own (`Stale`) and anything while it may not act as
//!   primary (its lease, on its own clock);
//! - the primary appends the value and replicates its whole register to
//!   every backup of its view; a backup acknowledges only in that same view,
//!   only while its own lease holds, and only through its [`Fence`] (views
//!   older than the newest it has seen are refused);
//! - the primary answers the client once every backup acknowledged, and
//!   only if it still may act in that view.
//!
//! The primary also resends its register to the backups every
//! [`SYNC_EVERY`], so a member that joined as a backup catches up.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ithaca_membership::oracle::HeartbeatReply;
use ithaca_membership::wire::{HeartbeatStatus, Message, RejectCode};
use ithaca_membership::{
    Fence, Incarnation, MemberId, MemberSession, MonotonicClock, ReplyEvent, ServiceName,
    Timestamp, TimingConfig, View, ViewId,
};
use serde::{Deserialize, Serialize};

use super::history::{self, History, Register, What};
use super::net::exchange;

/// The member-facing port of oracle nodes.
pub const ORACLE_PORT: u16 = 7100;
/// The member's heartbeat socket.
pub const HEARTBEAT_PORT: u16 = 7150;
/// The register service's port.
pub const REGISTER_PORT: u16 = 7200;
/// The client's port.
pub const CLIENT_PORT: u16 = 7250;
/// How often a primary resends its register to the backups.
pub const SYNC_EVERY: Duration = Duration::from_millis(100);
/// How long a primary waits for its backups before giving a write up.
pub const WRITE_TIMEOUT: Duration = Duration::from_millis(400);
/// Deadline of one TCP request to the oracle.
pub const REQUEST_TIMEOUT: Duration = Duration::from_millis(300);

/// A pause injected into a member between its lease check and the act it
/// decided on (a garbage-collection or scheduling stall).
pub type PendingStall = Arc<Mutex<Option<Duration>>>;

/// What one member host runs with.
#[derive(Clone)]
pub struct MemberSetup {
    /// The member id (also its host name).
    pub name: String,
    /// The oracle nodes' member-facing addresses.
    pub oracles: Vec<SocketAddr>,
    /// The timing the oracle uses.
    pub timing: TimingConfig,
    /// The replicated service.
    pub service: ServiceName,
    /// The history.
    pub history: History,
    /// A stall to take at the next act.
    pub stall: PendingStall,
    /// The mutation: act whenever the view names this member, ignoring the
    /// lease (the checker must catch it).
    pub ignore_lease: bool,
}

#[derive(Debug, Serialize, Deserialize)]
enum RegMsg {
    Write {
        id: u64,
        value: u64,
        view: ViewId,
    },
    Acked {
        id: u64,
        value: u64,
        view: ViewId,
    },
    Refused {
        id: u64,
        view: ViewId,
    },
    Replicate {
        view: ViewId,
        from: String,
        values: Vec<u64>,
    },
    ReplicateAck {
        view: ViewId,
        from: String,
        len: usize,
    },
}

struct PendingWrite {
    client: SocketAddr,
    id: u64,
    value: u64,
    view: ViewId,
    len: usize,
    deadline: Timestamp,
    acks: BTreeSet<String>,
}

/// The oracle nodes and the one believed to lead.
struct Oracles {
    addresses: Vec<SocketAddr>,
    current: usize,
    leader: SocketAddr,
    request_id: u64,
}

impl Oracles {
    fn new(addresses: Vec<SocketAddr>) -> Self {
        let leader = addresses
            .first()
            .copied()
            .unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)));
        Self {
            addresses,
            current: 0,
            leader,
            request_id: 1,
        }
    }

    fn rotate(&mut self) {
        self.current = (self.current + 1) % self.addresses.len().max(1);
        if let Some(address) = self.addresses.get(self.current) {
            self.leader = *address;
        }
    }

    fn redirect(&mut self, hint: Option<&str>) {
        match hint.and_then(|h| h.parse::<SocketAddr>().ok()) {
            Some(address) if address != self.leader => self.leader = address,
            _ => self.rotate(),
        }
    }

    fn next_id(&mut self) -> u64 {
        self.request_id += 1;
        self.request_id
    }

    /// One request to the leader, following redirects, a few tries.
    async fn request(&mut self, message: impl Fn(u64) -> Vec<u8>) -> Option<Vec<u8>> {
        for _ in 0..6 {
            let id = self.next_id();
            let bytes = message(id);
            let Ok(decoded) = Message::decode(&bytes) else {
                return None;
            };
            match exchange(self.leader, &decoded, REQUEST_TIMEOUT).await {
                Ok(answer) => match Message::decode(&answer) {
                    Ok(Message::NotLeader { leader, .. }) => self.redirect(leader),
                    Ok(_) => return Some(answer),
                    Err(_) => self.rotate(),
                },
                Err(_) => self.rotate(),
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }

    async fn join(
        &mut self,
        member: &MemberId,
        incarnation: Incarnation,
        address: &str,
        service: &ServiceName,
    ) -> Option<(Incarnation, View)> {
        let mut incarnation = incarnation;
        for _ in 0..4 {
            let answer = self
                .request(|request_id| {
                    encode(&Message::Join {
                        request_id,
                        member: member.as_str(),
                        incarnation,
                        address,
                        roles: vec![service.as_str()],
                    })
                })
                .await?;
            match Message::decode(&answer).ok()? {
                Message::JoinReply { view, .. } => return Some((incarnation, *view)),
                Message::Rejected {
                    code: RejectCode::StaleIncarnation,
                    ..
                } => {
                    let view = self.fetch_view(ViewId::INITIAL).await.unwrap_or_default();
                    let known = view
                        .member(member)
                        .map(|info| info.incarnation)
                        .into_iter()
                        .chain(view.tombstones().get(member).map(|t| t.incarnation))
                        .max()
                        .unwrap_or(incarnation)
                        .max(incarnation);
                    incarnation = Incarnation(known.0 + 1);
                }
                _ => return None,
            }
        }
        None
    }

    async fn fetch_view(&mut self, known: ViewId) -> Option<View> {
        let answer = self
            .request(|request_id| encode(&Message::ViewRequest { request_id, known }))
            .await?;
        match Message::decode(&answer).ok()? {
            Message::ViewReply { view, .. } => view.map(|v| *v),
            _ => None,
        }
    }
}

fn encode(message: &Message<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = message.encode(&mut out);
    out
}

fn address_of(view: &View, member: &MemberId) -> Option<SocketAddr> {
    view.member(member)?.address.parse().ok()
}

struct MemberHost {
    setup: MemberSetup,
    me: MemberId,
    clock: MonotonicClock,
    session: MemberSession,
    oracles: Oracles,
    address: String,
    heartbeats: turmoil::net::UdpSocket,
    register_socket: turmoil::net::UdpSocket,
    register: Register,
    pending: Vec<PendingWrite>,
    /// While serving as primary: the view, the lease's end, the
    /// incarnation.
    serving: Option<(ViewId, Duration, Incarnation)>,
    last_reply: Option<Timestamp>,
    next_sync: Timestamp,
}

/// A member host's software: join, heartbeat, serve the register.
pub async fn run_member(setup: MemberSetup) -> turmoil::Result {
    let me = MemberId::new(setup.name.as_str())?;
    let ip = turmoil::lookup(setup.name.as_str());
    let address = SocketAddr::new(ip, REGISTER_PORT).to_string();
    let mut oracles = Oracles::new(setup.oracles.clone());
    let (incarnation, view) = loop {
        if let Some(joined) = oracles
            .join(&me, Incarnation(1), &address, &setup.service)
            .await
        {
            break joined;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let heartbeats =
        turmoil::net::UdpSocket::bind(SocketAddr::from(([0, 0, 0, 0], HEARTBEAT_PORT))).await?;
    let register_socket =
        turmoil::net::UdpSocket::bind(SocketAddr::from(([0, 0, 0, 0], REGISTER_PORT))).await?;
    let clock = MonotonicClock::new();
    let register = setup.history.register(&setup.name);
    let mut host = MemberHost {
        session: MemberSession::new(me.clone(), incarnation, setup.timing, view),
        me,
        clock,
        oracles,
        address,
        heartbeats,
        register_socket,
        register,
        pending: Vec::new(),
        serving: None,
        last_reply: None,
        next_sync: Timestamp::ZERO,
        setup,
    };
    host.run().await;
    Ok(())
}

impl MemberHost {
    async fn run(&mut self) {
        let mut hb_buffer = vec![0u8; 65_536];
        let mut reg_buffer = vec![0u8; 65_536];
        loop {
            let now = self.clock.now();
            self.send_heartbeat(now).await;
            self.track_primary();
            self.sync_backups(now).await;
            self.expire_writes(now);
            let wake = self.next_wake(now);
            tokio::select! {
                biased;
                received = self.heartbeats.recv_from(&mut hb_buffer) => {
                    if let Ok((len, _)) = received {
                        let datagram = hb_buffer.get(..len).unwrap_or_default().to_vec();
                        self.on_heartbeat_reply(&datagram).await;
                    }
                }
                received = self.register_socket.recv_from(&mut reg_buffer) => {
                    if let Ok((len, from)) = received
                        && let Some(bytes) = reg_buffer.get(..len)
                        && let Ok(msg) = serde_json::from_slice::<RegMsg>(bytes)
                    {
                        self.on_register(msg, from).await;
                    }
                }
                () = tokio::time::sleep(wake) => {}
            }
        }
    }

    fn next_wake(&self, now: Timestamp) -> Duration {
        let heartbeat = self
            .session
            .next_heartbeat_at()
            .map_or(Duration::ZERO, |due| due.saturating_duration_since(now));
        let expiry = self
            .session
            .lease()
            .expires_at()
            .filter(|e| *e > now)
            .map_or(Duration::MAX, |e| e.saturating_duration_since(now));
        let sync = if self.serving.is_some() {
            self.next_sync.saturating_duration_since(now)
        } else {
            Duration::MAX
        };
        heartbeat
            .min(expiry)
            .min(sync)
            .min(Duration::from_millis(100))
            .max(Duration::from_millis(1))
    }

    /// The lease's end in simulated time.
    fn lease_until(&self) -> Duration {
        let now = self.clock.now();
        let sim_now = history::now();
        match self.session.lease().expires_at() {
            Some(expiry) if expiry >= now => sim_now + expiry.saturating_duration_since(now),
            // Lapsed (or never granted): when it ended, in the past.
            Some(expiry) => sim_now.saturating_sub(now.saturating_duration_since(expiry)),
            None => Duration::ZERO,
        }
    }

    /// Whether this member may act in `role` now: the crate's answer, or
    /// the view's alone under the mutation.
    fn may_act_as_primary(&self) -> bool {
        let now = self.clock.now();
        if self.setup.ignore_lease {
            let view = self.session.view();
            view.has_incarnation(&self.me, self.session.incarnation())
                && view.primary(&self.setup.service) == Some(&self.me)
        } else {
            self.session.is_primary(&self.setup.service, now)
        }
    }

    fn may_act(&self) -> bool {
        if self.setup.ignore_lease {
            self.session
                .view()
                .has_incarnation(&self.me, self.session.incarnation())
        } else {
            self.session.can_act(self.clock.now())
        }
    }

    async fn send_heartbeat(&mut self, now: Timestamp) {
        let silent_limit = self.setup.timing.heartbeat_interval * 2;
        if let Some(last) = self.last_reply
            && now.saturating_duration_since(last) > silent_limit
        {
            self.oracles.rotate();
            self.last_reply = Some(now);
        }
        let Some(request) = self.session.poll_heartbeat(now) else {
            return;
        };
        if self.last_reply.is_none() {
            self.last_reply = Some(now);
        }
        let bytes = encode(&Message::Heartbeat {
            member: request.member.as_str(),
            incarnation: request.incarnation,
            request_id: request.request_id,
            seen_view: request.seen_view,
        });
        let _ = self.heartbeats.send_to(&bytes, self.oracles.leader).await;
    }

    async fn on_heartbeat_reply(&mut self, datagram: &[u8]) {
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
                self.last_reply = Some(self.clock.now());
                let lease = match status {
                    HeartbeatStatus::Granted { lease } => Some(lease),
                    HeartbeatStatus::NotGranted | HeartbeatStatus::NotMember => None,
                };
                let mut event = self.session.on_reply(HeartbeatReply {
                    request_id,
                    lease,
                    view: view.map(|v| *v),
                });
                let known = self.session.view().id();
                if view_id > known
                    && let Some(view) = self.oracles.fetch_view(known).await
                {
                    event = self.session.on_reply(HeartbeatReply {
                        request_id: 0,
                        lease: None,
                        view: Some(view),
                    });
                }
                if let ReplyEvent::MustRejoin { incarnation } = event {
                    self.track_primary();
                    self.rejoin(incarnation).await;
                }
            }
            Message::NotLeader { leader, .. } => {
                self.last_reply = Some(self.clock.now());
                self.oracles.redirect(leader);
            }
            _ => {}
        }
    }

    async fn rejoin(&mut self, incarnation: Incarnation) {
        let joined = self
            .oracles
            .join(&self.me, incarnation, &self.address, &self.setup.service)
            .await;
        match joined {
            Some((joined_as, view)) if joined_as == incarnation => {
                self.session.on_reply(HeartbeatReply {
                    request_id: 0,
                    lease: None,
                    view: Some(view),
                });
            }
            Some((joined_as, view)) => {
                self.session =
                    MemberSession::new(self.me.clone(), joined_as, self.setup.timing, view);
            }
            None => {}
        }
    }

    /// Records the primary's serving intervals.
    fn track_primary(&mut self) {
        let acting = self.may_act_as_primary();
        let view = self.session.view().id();
        let incarnation = self.session.incarnation();
        let lease_until = self.lease_until();
        let service = self.setup.service.clone();
        let who = self.setup.name.clone();
        match self.serving {
            Some((serving_view, until, serving_as))
                if acting && serving_view == view && serving_as == incarnation =>
            {
                self.renewed(until, lease_until, view, incarnation, service, &who);
            }
            Some((serving_view, until, serving_as)) => {
                // A member that checks its lease before every act did not
                // act after the lease's end; the mutant only stops now.
                let since = if self.setup.ignore_lease {
                    history::now()
                } else {
                    history::now().min(until)
                };
                self.setup.history.record(
                    &who,
                    What::PrimaryStopped {
                        incarnation: serving_as,
                        service: service.clone(),
                        view: serving_view,
                        since,
                    },
                );
                self.serving = None;
                if acting {
                    self.track_primary();
                }
            }
            None if acting => {
                self.serving = Some((view, lease_until, incarnation));
                self.setup.history.record(
                    &who,
                    What::PrimaryStarted {
                        incarnation,
                        service,
                        view,
                        lease_until,
                    },
                );
            }
            None => {}
        }
    }

    fn renewed(
        &mut self,
        until: Duration,
        lease_until: Duration,
        view: ViewId,
        incarnation: Incarnation,
        service: ServiceName,
        who: &str,
    ) {
        if lease_until > until {
            self.serving = Some((view, lease_until, incarnation));
            self.setup.history.record(
                who,
                What::PrimaryRenewed {
                    incarnation,
                    service,
                    view,
                    lease_until,
                },
            );
        }
    }

    fn backups(&self) -> Vec<(String, SocketAddr)> {
        let view = self.session.view();
        view.backups(&self.setup.service)
            .iter()
            .filter_map(|b| address_of(view, b).map(|a| (b.as_str().to_owned(), a)))
            .collect()
    }

    async fn replicate(&self) {
        let msg = RegMsg::Replicate {
            view: self.session.view().id(),
            from: self.setup.name.clone(),
            values: self.register.values.clone(),
        };
        if let Ok(bytes) = serde_json::to_vec(&msg) {
            for (_, to) in self.backups() {
                let _ = self.register_socket.send_to(&bytes, to).await;
            }
        }
    }

    async fn sync_backups(&mut self, now: Timestamp) {
        if now < self.next_sync || !self.may_act_as_primary() {
            return;
        }
        self.next_sync = now.saturating_add(SYNC_EVERY);
        self.replicate().await;
    }

    fn expire_writes(&mut self, now: Timestamp) {
        self.pending.retain(|p| p.deadline > now);
    }

    fn store(&self) {
        self.setup
            .history
            .store_register(&self.setup.name, self.register.clone());
    }

    async fn reply(&self, to: SocketAddr, msg: &RegMsg) {
        if let Ok(bytes) = serde_json::to_vec(msg) {
            let _ = self.register_socket.send_to(&bytes, to).await;
        }
    }

    fn acted(&self, as_primary: bool, view: ViewId) {
        self.setup.history.record(
            &self.setup.name,
            What::Acted {
                incarnation: self.session.incarnation(),
                as_primary,
                view,
                lease_until: self.lease_until(),
            },
        );
    }

    async fn on_register(&mut self, msg: RegMsg, from: SocketAddr) {
        match msg {
            RegMsg::Write { id, value, view } => {
                let mine = self.session.view().id();
                let fence = Fence::new(self.register.max_view_seen);
                if !self.may_act_as_primary() || view != mine || fence.admit(mine).is_err() {
                    self.reply(from, &RegMsg::Refused { id, view: mine }).await;
                    return;
                }
                self.acted(true, mine);
                // A stall between the lease check and the write.
                let stall = self
                    .setup
                    .stall
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take();
                if let Some(pause) = stall {
                    tokio::time::sleep(pause).await;
                }
                self.register.values.push(value);
                self.register.max_view_seen = self.register.max_view_seen.max(mine);
                self.store();
                let len = self.register.values.len();
                self.pending.push(PendingWrite {
                    client: from,
                    id,
                    value,
                    view: mine,
                    len,
                    deadline: self.clock.now().saturating_add(WRITE_TIMEOUT),
                    acks: BTreeSet::new(),
                });
                self.replicate().await;
                self.complete_writes().await;
            }
            RegMsg::Replicate {
                view,
                from: primary,
                values,
            } => {
                let session_view = self.session.view();
                let in_role = session_view.id() == view
                    && session_view
                        .primary(&self.setup.service)
                        .map(MemberId::as_str)
                        == Some(primary.as_str())
                    && session_view.backups(&self.setup.service).contains(&self.me);
                let fence = Fence::new(self.register.max_view_seen);
                let regresses = view == self.register.max_view_seen
                    && values.len() < self.register.values.len();
                if !in_role || !self.may_act() || fence.admit(view).is_err() || regresses {
                    return;
                }
                self.acted(false, view);
                self.register = Register {
                    max_view_seen: fence.advance_to(view),
                    values,
                };
                self.store();
                let ack = RegMsg::ReplicateAck {
                    view,
                    from: self.setup.name.clone(),
                    len: self.register.values.len(),
                };
                self.reply(from, &ack).await;
            }
            RegMsg::ReplicateAck {
                view,
                from: backup,
                len,
            } => {
                for pending in &mut self.pending {
                    if pending.view == view && len >= pending.len {
                        pending.acks.insert(backup.clone());
                    }
                }
                self.complete_writes().await;
            }
            RegMsg::Acked { .. } | RegMsg::Refused { .. } => {}
        }
    }

    /// Answers every write all backups of its view acknowledged, if this
    /// member still may act as primary in that view.
    async fn complete_writes(&mut self) {
        let view = self.session.view().id();
        let backups: BTreeSet<String> = self.backups().into_iter().map(|(b, _)| b).collect();
        let acting = self.may_act_as_primary();
        let mut done = Vec::new();
        self.pending.retain(|p| {
            let complete = p.view == view && backups.is_subset(&p.acks);
            if complete && acting {
                done.push((p.client, p.id, p.value, p.view));
            }
            !complete
        });
        for (client, id, value, view) in done {
            self.acted(true, view);
            self.reply(client, &RegMsg::Acked { id, value, view }).await;
        }
    }
}

/// What one client host runs with.
#[derive(Clone)]
pub struct ClientSetup {
    /// The client's name (its host).
    pub name: String,
    /// A number unique to this client, for unique values.
    pub number: u64,
    /// The oracle nodes.
    pub oracles: Vec<SocketAddr>,
    /// The service.
    pub service: ServiceName,
    /// The history.
    pub history: History,
    /// Stop writing after this much simulated time.
    pub until: Duration,
}

/// A client: fetch the view, write unique values to its primary, record
/// each acknowledgement.
pub async fn run_client(setup: ClientSetup) -> turmoil::Result {
    let socket =
        turmoil::net::UdpSocket::bind(SocketAddr::from(([0, 0, 0, 0], CLIENT_PORT))).await?;
    let mut oracles = Oracles::new(setup.oracles.clone());
    let mut view: Option<View> = None;
    let mut buffer = vec![0u8; 65_536];
    let mut written = 0u64;
    let mut acked: BTreeMap<u64, ViewId> = BTreeMap::new();
    while history::now() < setup.until {
        if view.is_none() {
            view = oracles.fetch_view(ViewId::INITIAL).await;
        }
        let target = view.as_ref().and_then(|v| {
            let primary = v.primary(&setup.service)?;
            Some((v.id(), address_of(v, primary)?, primary.clone()))
        });
        let Some((view_id, address, primary)) = target else {
            view = None;
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        written += 1;
        let value = setup.number * 1_000_000 + written;
        let write = RegMsg::Write {
            id: written,
            value,
            view: view_id,
        };
        if let Ok(bytes) = serde_json::to_vec(&write) {
            let _ = socket.send_to(&bytes, address).await;
        }
        let answer = tokio::time::timeout(Duration::from_millis(500), async {
            loop {
                let Ok((len, _)) = socket.recv_from(&mut buffer).await else {
                    continue;
                };
                match buffer.get(..len).map(serde_json::from_slice::<RegMsg>) {
                    Some(Ok(RegMsg::Acked { id, value, view })) if id == written => {
                        return Some((value, view));
                    }
                    Some(Ok(RegMsg::Refused { id, .. })) if id == written => return None,
                    _ => {}
                }
            }
        })
        .await;
        match answer {
            Ok(Some((value, view_acked))) => {
                acked.insert(value, view_acked);
                setup.history.record(
                    &setup.name,
                    What::WriteAcknowledged {
                        value,
                        view: view_acked,
                        primary: primary.clone(),
                    },
                );
                tokio::time::sleep(Duration::from_millis(30)).await;
            }
            _ => {
                view = None;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    Ok(())
}
