//! A load generator for the membership oracle: many simulated members
//! heartbeating one oracle leader over real UDP sockets, to find how many
//! members one leader sustains (`ithaca membership load`,
//! `bench/membership.sh`).
//!
//! [`run_load`] joins `members` members over TCP (a few joins in flight at
//! once; each join is a committed view change), then for `duration` sends
//! each member's heartbeat every `h`, spread evenly over the interval and
//! over a few sockets, and reads the replies. A member *kept its lease*
//! when, on the generator's clock, every gap between the send times of two
//! granted heartbeats stayed under the lease on the member's clock,
//! `L·(1−ρ)`: a real member with that history would never have stopped
//! serving. Members heartbeat from their own join on (a member silent for
//! `S` after joining is removed), but only the steady state after the last
//! join counts for `sustained`; lapses while others were still joining are
//! reported apart. The leader *sustains* the load when every member joined,
//! every member kept its lease and none was ever told it is not a member
//! (removed), and in the steady state the leader kept up: at most
//! [`MAX_LOST_SHARE`] of the heartbeats went unanswered and the 99th
//! percentile round trip stayed under the heartbeat interval.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ithaca_membership::node::DatagramSocket;
use ithaca_membership::wire::frame::{PREFIX_LEN, encode_frame, frame_len};
use ithaca_membership::wire::{HeartbeatStatus, MAX_DATAGRAM, Message};
use ithaca_membership::{Incarnation, TimingConfig, ViewId};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Most simulated members (the view's own bound).
pub const MAX_LOAD_MEMBERS: usize = ithaca_membership::view::MAX_MEMBERS;
/// Most UDP sockets.
const MAX_SOCKETS: usize = 256;
/// Deadline of one join.
const JOIN_TIMEOUT: Duration = Duration::from_secs(30);
/// Replies waiting for the main loop.
const REPLY_QUEUE: usize = 1 << 16;
/// Heartbeat request ids carry the member index in their high half.
const INDEX_SHIFT: u32 = 32;
/// Kernel receive and send buffer each generator socket asks for.
const SOCKET_BUFFER: usize = 1 << 20;
/// Most heartbeats of the steady state that may go unanswered for the
/// leader to count as keeping up (1 %).
pub const MAX_LOST_SHARE: f64 = 0.01;

/// What to simulate.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// The oracle leader's member-facing address.
    pub oracle: SocketAddr,
    /// How many members (at most [`MAX_LOAD_MEMBERS`]).
    pub members: usize,
    /// How long to heartbeat once every member joined.
    pub duration: Duration,
    /// UDP sockets the members are spread over (1 to 256).
    pub sockets: usize,
    /// Joins in flight at once.
    pub join_concurrency: usize,
    /// Member ids are `PREFIX-NUMBER`.
    pub prefix: String,
    /// The oracle's timing.
    pub timing: TimingConfig,
}

/// Why the load could not run.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Too many members or no socket.
    #[error("{0}")]
    Config(String),
    /// A local socket failed.
    #[error("load socket: {0}")]
    Io(#[from] std::io::Error),
    /// A join failed.
    #[error("join of {member} failed: {reason}")]
    Join {
        /// The member.
        member: String,
        /// Why.
        reason: String,
    },
}

/// What happened (printed as one `key=value` line).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadReport {
    /// Members simulated.
    pub members: usize,
    /// Members that joined.
    pub joined: usize,
    /// Seconds the joins took.
    pub join_seconds: f64,
    /// Median time of one join (one committed view change), in ms.
    pub join_p50_ms: f64,
    /// 99th percentile of the same, in ms.
    pub join_p99_ms: f64,
    /// Heartbeats sent.
    pub sent: u64,
    /// Replies granting a lease.
    pub granted: u64,
    /// Replies not granting one (uncertain leadership).
    pub not_granted: u64,
    /// Replies saying the sender is not a member (it was removed).
    pub not_member: u64,
    /// Other answers (not leader, rejected).
    pub other: u64,
    /// Members whose lease would have lapsed at least once once every
    /// member had joined (the steady state the load measures).
    pub lapsed_members: usize,
    /// Members whose lease would have lapsed while others were still
    /// joining (each join is a commit the leader applies beside the
    /// heartbeats).
    pub lapsed_during_joins: usize,
    /// The longest gap between two granted heartbeats of one member, in ms.
    pub max_grant_gap_ms: f64,
    /// The 99th percentile heartbeat round trip in the steady state, in ms.
    pub rtt_p99_ms: f64,
    /// Heartbeats sent in the steady state (after the last join).
    pub steady_sent: u64,
    /// Of those, the ones answered (any answer).
    pub steady_answered: u64,
    /// The interval between two heartbeats of one member, in ms.
    pub heartbeat_interval_ms: f64,
    /// The oracle's view id when heartbeating started and ended.
    pub view_ids: (u64, u64),
    /// Replies the kernel dropped at the generator's own sockets because
    /// their receive buffer was full (the `drops` column of
    /// `/proc/net/udp`; `None` where that is unreadable): unanswered
    /// heartbeats the oracle did answer.
    pub reply_drops: Option<u64>,
}

impl LoadReport {
    /// Whether the leader sustained the load (see the module docs).
    #[must_use]
    pub fn sustained(&self) -> bool {
        self.joined == self.members
            && self.lapsed_members == 0
            && self.not_member == 0
            && self.granted > 0
            && self.steady_sent > 0
            && self.lost_share() <= MAX_LOST_SHARE
            && self.rtt_p99_ms < self.heartbeat_interval_ms
    }

    /// The share of the steady state's heartbeats left unanswered.
    #[must_use]
    pub fn lost_share(&self) -> f64 {
        if self.steady_sent == 0 {
            return 0.0;
        }
        let lost = self.steady_sent.saturating_sub(self.steady_answered);
        // Counts far below 2^52: exact as floats.
        #[allow(clippy::cast_precision_loss)]
        let share = lost as f64 / self.steady_sent as f64;
        share
    }
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "members={} joined={} join_s={:.1} join_p50_ms={:.2} join_p99_ms={:.2} sent={} granted={} not_granted={} not_member={} other={} lapsed_during_joins={} lapsed_members={} max_grant_gap_ms={:.1} steady_sent={} steady_lost_pct={:.3} rtt_p99_ms={:.2} view_start={} view_end={} reply_drops={} sustained={}",
            self.members,
            self.joined,
            self.join_seconds,
            self.join_p50_ms,
            self.join_p99_ms,
            self.sent,
            self.granted,
            self.not_granted,
            self.not_member,
            self.other,
            self.lapsed_during_joins,
            self.lapsed_members,
            self.max_grant_gap_ms,
            self.steady_sent,
            self.lost_share() * 100.0,
            self.rtt_p99_ms,
            self.view_ids.0,
            self.view_ids.1,
            self.reply_drops
                .map_or_else(|| "n/a".to_owned(), |drops| drops.to_string()),
            self.sustained()
        )
    }
}

/// Per simulated member.
#[derive(Debug, Clone, Copy)]
struct Simulated {
    incarnation: Incarnation,
    /// Joined, so heartbeating.
    joined: bool,
    /// Send time (since the run's start) of the newest granted heartbeat.
    last_grant: Option<Duration>,
    max_gap: Duration,
    /// Send times of the heartbeats in flight, by sequence number (a small
    /// ring: older replies are counted without a round trip).
    sent: [(u32, Duration); 4],
}

/// Runs the load (see the module docs).
pub async fn run_load(config: LoadConfig) -> Result<LoadReport, LoadError> {
    if config.members == 0 || config.members > MAX_LOAD_MEMBERS {
        return Err(LoadError::Config(format!(
            "--members must be from 1 to {MAX_LOAD_MEMBERS}"
        )));
    }
    let sockets = config.sockets.clamp(1, MAX_SOCKETS);
    let names: Vec<String> = (0..config.members)
        .map(|index| format!("{}-{index:06}", config.prefix))
        .collect();

    let start = Instant::now();
    let mut members: Vec<Simulated> = names
        .iter()
        .map(|_| Simulated {
            incarnation: Incarnation(1),
            joined: false,
            last_grant: None,
            max_gap: Duration::ZERO,
            sent: [(u32::MAX, Duration::ZERO); 4],
        })
        .collect();
    let mut report = LoadReport {
        members: config.members,
        heartbeat_interval_ms: config.timing.heartbeat_interval.as_secs_f64() * 1000.0,
        ..LoadReport::default()
    };
    // Members heartbeat from the moment they joined, while the others
    // are still joining (a member silent for S after its join is removed).
    let (joined_tx, mut joined_rx) = mpsc::channel::<usize>(1024);
    let mut joining = Some(tokio::spawn(join_all(
        config.clone(),
        names.clone(),
        joined_tx,
    )));
    let (replies_tx, mut replies) = mpsc::channel::<Reply>(REPLY_QUEUE);
    let mut sockets_open = Vec::with_capacity(sockets);
    let mut receivers = JoinSet::new();
    for _ in 0..sockets {
        let socket = UdpSocket::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        // Room for a burst of replies while this single-threaded generator
        // is busy sending (a refusal only means more drops, counted as
        // unanswered).
        let _ = DatagramSocket::set_buffer_sizes(&socket, SOCKET_BUFFER);
        socket.connect(config.oracle).await?;
        let socket = Arc::new(socket);
        receivers.spawn(receive(Arc::clone(&socket), start, replies_tx.clone()));
        sockets_open.push(socket);
    }
    drop(replies_tx);
    let interval = config.timing.heartbeat_interval;
    let lease = config.timing.lease_on_member_clock(config.timing.lease);
    let mut rtts: Vec<u32> = Vec::new();
    let mut seen_view = ViewId::INITIAL;
    let mut out = Vec::with_capacity(MAX_DATAGRAM);
    // Members are sent in slots spread over one interval.
    let per_tick = Duration::from_millis(2);
    let slots = usize::try_from((interval.as_micros() / per_tick.as_micros()).max(1)).unwrap_or(1);
    let mut tick = tokio::time::interval(per_tick);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut slot: usize = 0;
    let mut round: u32 = 0;
    // Set once every member joined.
    let mut sending_ends: Option<Instant> = None;
    // When the steady state began, since the run's start.
    let mut steady_since: Option<Duration> = None;
    let far = start + Duration::from_secs(86_400);
    loop {
        let sending = sending_ends.is_none_or(|end| Instant::now() < end);
        let draining_ends = sending_ends.map_or(far, |end| end + interval);
        tokio::select! {
            _ = tick.tick(), if sending => {
                let first = members.len() * slot / slots;
                let last = members.len() * (slot + 1) / slots;
                let now = start.elapsed();
                for index in first..last {
                    let (Some(member), Some(name)) = (members.get_mut(index), names.get(index)) else {
                        continue;
                    };
                    if !member.joined {
                        continue;
                    }
                    let request_id = (u64::try_from(index).unwrap_or(0) << INDEX_SHIFT) | u64::from(round);
                    out.clear();
                    let message = Message::Heartbeat {
                        member: name,
                        incarnation: member.incarnation,
                        request_id,
                        seen_view,
                    };
                    if message.encode(&mut out).is_err() {
                        continue;
                    }
                    let ring = usize::try_from(round).unwrap_or(0) % member.sent.len();
                    if let Some(entry) = member.sent.get_mut(ring) {
                        *entry = (round, now);
                    }
                    if let Some(socket) = sockets_open.get(index % sockets)
                        && socket.send(&out).await.is_ok()
                    {
                        report.sent += 1;
                        if steady_since.is_some() {
                            report.steady_sent += 1;
                        }
                    }
                }
                slot += 1;
                if slot >= slots {
                    slot = 0;
                    round = round.wrapping_add(1);
                }
            }
            index = joined_rx.recv(), if joining.is_some() => {
                match index {
                    Some(index) => {
                        if let Some(member) = members.get_mut(index) {
                            member.joined = true;
                            // Its lease clock starts at the join.
                            member.last_grant = Some(start.elapsed());
                        }
                    }
                    None => {
                        let Some(task) = joining.take() else { continue };
                        let (view_id, mut join_micros) = task
                            .await
                            .map_err(|e| LoadError::Config(e.to_string()))??;
                        join_micros.sort_unstable();
                        report.joined = join_micros.len();
                        report.join_seconds = start.elapsed().as_secs_f64();
                        report.join_p50_ms = percentile(&join_micros, 50);
                        report.join_p99_ms = percentile(&join_micros, 99);
                        report.view_ids = (view_id.0, view_id.0);
                        seen_view = seen_view.max(view_id);
                        sending_ends = Some(Instant::now() + config.duration);
                        // The steady state starts now: gaps so far belong
                        // to the join phase.
                        let now = start.elapsed();
                        steady_since = Some(now);
                        report.lapsed_during_joins = members
                            .iter()
                            .filter(|m| {
                                m.max_gap.max(now.saturating_sub(m.last_grant.unwrap_or(now))) >= lease
                            })
                            .count();
                        for member in &mut members {
                            member.max_gap = Duration::ZERO;
                            member.last_grant = Some(now);
                        }
                    }
                }
            }
            reply = replies.recv() => {
                let Some(reply) = reply else { break };
                on_reply(&reply, steady_since, &mut members, &mut report, &mut rtts, &mut seen_view);
            }
            () = tokio::time::sleep_until(draining_ends) => break,
        }
    }
    receivers.abort_all();
    // The tail after the last grant counts too (until the end of sending).
    let sent_until = sending_ends.unwrap_or(far).saturating_duration_since(start);
    for member in members.iter_mut().filter(|m| m.joined) {
        let since = member.last_grant.unwrap_or(Duration::ZERO);
        member.max_gap = member.max_gap.max(sent_until.saturating_sub(since));
    }
    report.lapsed_members = members.iter().filter(|m| m.max_gap >= lease).count();
    report.max_grant_gap_ms = members
        .iter()
        .map(|m| m.max_gap.as_secs_f64() * 1000.0)
        .fold(0.0, f64::max);
    rtts.sort_unstable();
    report.rtt_p99_ms = percentile(&rtts, 99);
    report.view_ids.1 = seen_view.0;
    let ports: Vec<u16> = sockets_open
        .iter()
        .filter_map(|socket| socket.local_addr().ok())
        .map(|address| address.port())
        .collect();
    report.reply_drops = kernel_udp_drops(&ports);
    Ok(report)
}

/// How many datagrams the kernel dropped at the UDP sockets bound to
/// these local ports because their receive buffer was full: the `drops`
/// column of `/proc/net/udp` and `/proc/net/udp6` (Linux; `None` where
/// neither can be read).
fn kernel_udp_drops(ports: &[u16]) -> Option<u64> {
    let mut drops = None;
    for table in ["/proc/net/udp", "/proc/net/udp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        let total: u64 = text
            .lines()
            .skip(1)
            .filter_map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                let (_, port) = fields.get(1)?.rsplit_once(':')?;
                let port = u16::from_str_radix(port, 16).ok()?;
                let dropped: u64 = fields.last()?.parse().ok()?;
                ports.contains(&port).then_some(dropped)
            })
            .sum();
        drops = Some(drops.unwrap_or(0) + total);
    }
    drops
}

/// The `pct`th percentile of sorted microseconds, in milliseconds.
fn percentile(sorted: &[u32], pct: usize) -> f64 {
    let value = sorted
        .len()
        .checked_sub(1)
        .map(|last| last * pct / 100)
        .and_then(|index| sorted.get(index))
        .copied()
        .unwrap_or(0);
    f64::from(value) / 1000.0
}

/// A heartbeat reply as the receiving task read it.
struct Reply {
    /// When it arrived, since the run's start.
    at: Duration,
    request_id: u64,
    view_id: ViewId,
    status: Option<HeartbeatStatus>,
}

/// Reads one socket's replies until aborted.
async fn receive(socket: Arc<UdpSocket>, start: Instant, replies: mpsc::Sender<Reply>) {
    let mut buffer = vec![0u8; 65_536];
    loop {
        let Ok(len) = socket.recv(&mut buffer).await else {
            continue;
        };
        let at = start.elapsed();
        let reply = match buffer.get(..len).map(Message::decode) {
            Some(Ok(Message::HeartbeatReply {
                request_id,
                view_id,
                status,
                ..
            })) => Reply {
                at,
                request_id,
                view_id,
                status: Some(status),
            },
            _ => Reply {
                at,
                request_id: u64::MAX,
                view_id: ViewId::INITIAL,
                status: None,
            },
        };
        if replies.send(reply).await.is_err() {
            return;
        }
    }
}

fn on_reply(
    reply: &Reply,
    steady_since: Option<Duration>,
    members: &mut [Simulated],
    report: &mut LoadReport,
    rtts: &mut Vec<u32>,
    seen_view: &mut ViewId,
) {
    let Some(status) = reply.status else {
        report.other += 1;
        return;
    };
    *seen_view = (*seen_view).max(reply.view_id);
    let index = usize::try_from(reply.request_id >> INDEX_SHIFT).unwrap_or(usize::MAX);
    let round = u32::try_from(reply.request_id & u64::from(u32::MAX)).unwrap_or(u32::MAX);
    let Some(member) = members.get_mut(index) else {
        report.other += 1;
        return;
    };
    let sent_at = member
        .sent
        .iter()
        .find(|(sent_round, _)| *sent_round == round)
        .map(|(_, at)| *at);
    let steady = sent_at
        .zip(steady_since)
        .is_some_and(|(sent, since)| sent >= since);
    if steady {
        report.steady_answered += 1;
    }
    match status {
        HeartbeatStatus::Granted { .. } => {
            report.granted += 1;
            if let Some(sent_at) = sent_at {
                if steady {
                    rtts.push(
                        u32::try_from(reply.at.saturating_sub(sent_at).as_micros())
                            .unwrap_or(u32::MAX),
                    );
                }
                // The lease runs from the send time of the granted heartbeat.
                let previous = member.last_grant.unwrap_or(Duration::ZERO);
                if sent_at > previous || member.last_grant.is_none() {
                    member.max_gap = member.max_gap.max(sent_at.saturating_sub(previous));
                    member.last_grant = Some(sent_at);
                }
            }
        }
        HeartbeatStatus::NotGranted => report.not_granted += 1,
        HeartbeatStatus::NotMember => report.not_member += 1,
    }
}

/// Joins every member, telling `joined` each index as it joins; returns
/// the oracle's view id afterwards and each join's duration in
/// microseconds.
async fn join_all(
    config: LoadConfig,
    names: Vec<String>,
    joined: mpsc::Sender<usize>,
) -> Result<(ViewId, Vec<u32>), LoadError> {
    let permits = Arc::new(Semaphore::new(config.join_concurrency.max(1)));
    let mut joins = JoinSet::new();
    let mut durations = Vec::with_capacity(names.len());
    for (index, name) in names.iter().enumerate() {
        let permit = Arc::clone(&permits)
            .acquire_owned()
            .await
            .map_err(|e| LoadError::Config(e.to_string()))?;
        let oracle = config.oracle;
        let name = name.clone();
        let joined = joined.clone();
        joins.spawn(async move {
            let _permit = permit;
            let started = Instant::now();
            let result = join_one(oracle, &name, index).await;
            let micros = u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX);
            if result.is_ok() {
                let _ = joined.send(index).await;
            }
            result.map(|()| micros).map_err(|reason| LoadError::Join {
                member: name,
                reason,
            })
        });
        while let Some(done) = joins.try_join_next() {
            durations.push(done.map_err(|e| LoadError::Config(e.to_string()))??);
        }
    }
    while let Some(done) = joins.join_next().await {
        durations.push(done.map_err(|e| LoadError::Config(e.to_string()))??);
    }
    let view = fetch_view_id(config.oracle)
        .await
        .unwrap_or(ViewId::INITIAL);
    Ok((view, durations))
}

async fn exchange(oracle: SocketAddr, message: &Message<'_>) -> Result<Vec<u8>, String> {
    let mut frame = Vec::new();
    encode_frame(message, &mut frame).map_err(|e| e.to_string())?;
    let work = async {
        let mut stream = TcpStream::connect(oracle)
            .await
            .map_err(|e| e.to_string())?;
        let _ = stream.set_nodelay(true);
        stream.write_all(&frame).await.map_err(|e| e.to_string())?;
        let mut prefix = [0u8; PREFIX_LEN];
        stream
            .read_exact(&mut prefix)
            .await
            .map_err(|e| e.to_string())?;
        let len = frame_len(prefix).map_err(|e| e.to_string())?;
        let mut body = vec![0u8; len];
        stream
            .read_exact(&mut body)
            .await
            .map_err(|e| e.to_string())?;
        Ok(body)
    };
    tokio::time::timeout(JOIN_TIMEOUT, work)
        .await
        .unwrap_or_else(|_| Err("no answer in time".to_owned()))
}

/// Joins one member with the compact join a real member sends (the
/// answer carries the view only in a small group).
async fn join_one(oracle: SocketAddr, name: &str, index: usize) -> Result<(), String> {
    let answer = exchange(
        oracle,
        &Message::JoinCompact {
            request_id: u64::try_from(index).unwrap_or(0).saturating_add(1),
            member: name,
            incarnation: Incarnation(1),
            address: "127.0.0.1:9",
            roles: Vec::new(),
        },
    )
    .await?;
    match Message::decode(&answer) {
        Ok(Message::JoinAccepted { .. }) => Ok(()),
        Ok(Message::Rejected { reason, code, .. }) => {
            Err(format!("refused ({}): {reason}", code.as_str()))
        }
        Ok(Message::NotLeader { .. }) => Err("not the oracle leader".to_owned()),
        Ok(_) => Ok(()),
        Err(error) => Err(error.to_string()),
    }
}

async fn fetch_view_id(oracle: SocketAddr) -> Option<ViewId> {
    let answer = exchange(
        oracle,
        &Message::ViewRequest {
            request_id: 1,
            known: ViewId::INITIAL,
        },
    )
    .await
    .ok()?;
    match Message::decode(&answer).ok()? {
        Message::ViewReply { view, .. } => view.map(|view| view.id()),
        _ => None,
    }
}
