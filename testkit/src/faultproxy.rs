//! A fault-injecting TCP or UDP forwarder for tests that run real
//! processes: everything sent to the proxy's listen address goes to one
//! target, and back, unless the test says otherwise.
//!
//! ```no_run
//! # async fn demo(target: std::net::SocketAddr) -> std::io::Result<()> {
//! use ithaca_testkit::faultproxy::{Direction, FaultProxy};
//! let proxy = FaultProxy::udp("127.0.0.1:0".parse().unwrap(), target).await?;
//! // Give peers proxy.local_addr() instead of the target.
//! proxy.block_direction(Direction::ToTarget); // a one-way partition
//! proxy.heal();                               // everything flows again
//! proxy.set_latency(std::time::Duration::from_millis(20));
//! proxy.set_drop_probability(0.05);
//! # Ok(()) }
//! ```
//!
//! What each fault means:
//!
//! - **Blocking** a direction is a blackhole, not a reset. UDP datagrams
//!   going that way are dropped. TCP bytes going that way are held: the
//!   proxy stops reading them (the kernel's buffers fill and the sender
//!   blocks, as behind a route that drops packets) and delivers them after
//!   [`FaultProxy::heal`], like TCP retransmission would. A TCP connection
//!   made while [`Direction::ToTarget`] is blocked is accepted, but the
//!   proxy connects to the target only once that direction opens, so the
//!   client sees a connection that never answers. Protocols with request
//!   deadlines give up on their own; [`FaultProxy::reset_connections`]
//!   closes every open connection when a test wants that instead.
//! - **Latency** delays every datagram or chunk by the same amount, keeping
//!   order within a direction.
//! - **Drop probability** applies to UDP datagrams, independently in each
//!   direction. TCP is reliable: loss on a real link shows up as latency,
//!   so the proxy never drops TCP bytes.
//!
//! Every buffer is bounded: 64 chunks of 16 KiB per TCP direction, 4 096
//! delayed datagrams and 4 096 UDP client sessions per proxy (the idlest
//! session is evicted past that), 1 024 open TCP connections (more are
//! closed at once). Dropping the proxy, or [`FaultProxy::shutdown`], stops
//! it and closes every connection it holds.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

/// Size of one TCP read.
const CHUNK: usize = 16 * 1024;
/// Chunks in flight per TCP direction (read, not yet written).
const TCP_QUEUE: usize = 64;
/// Open TCP connections per proxy.
const MAX_CONNECTIONS: usize = 1024;
/// Datagrams waiting out the latency per UDP proxy.
const UDP_QUEUE: usize = 4096;
/// UDP client sessions (one upstream socket each) per proxy.
const MAX_SESSIONS: usize = 4096;
/// Largest datagram forwarded.
const MAX_DATAGRAM: usize = 65_536;

/// A direction of traffic through the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the clients of the proxy to its target.
    ToTarget,
    /// From the target back to the clients.
    FromTarget,
}

/// The transport a proxy forwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// TCP connections.
    Tcp,
    /// UDP datagrams.
    Udp,
}

/// The faults in force.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Faults {
    /// Traffic to the target is blocked.
    pub block_to_target: bool,
    /// Traffic from the target is blocked.
    pub block_from_target: bool,
    /// Added one-way delay, each direction.
    pub latency: Duration,
    /// Probability in `[0, 1]` that a UDP datagram is dropped.
    pub drop_probability: f64,
    /// Bumped by [`FaultProxy::reset_connections`].
    reset_epoch: u64,
}

impl Faults {
    const NONE: Self = Self {
        block_to_target: false,
        block_from_target: false,
        latency: Duration::ZERO,
        drop_probability: 0.0,
        reset_epoch: 0,
    };

    fn blocked(&self, direction: Direction) -> bool {
        match direction {
            Direction::ToTarget => self.block_to_target,
            Direction::FromTarget => self.block_from_target,
        }
    }
}

/// What went through a proxy so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// Bytes (TCP) or datagrams (UDP) forwarded to the target.
    pub forwarded_to_target: u64,
    /// Bytes (TCP) or datagrams (UDP) forwarded back from the target.
    pub forwarded_from_target: u64,
    /// UDP datagrams dropped (blocked, randomly dropped or queue full).
    pub dropped: u64,
    /// TCP connections accepted, or UDP client sessions opened.
    pub sessions: u64,
}

#[derive(Default)]
struct Counters {
    to_target: AtomicU64,
    from_target: AtomicU64,
    dropped: AtomicU64,
    sessions: AtomicU64,
}

impl Counters {
    fn forwarded(&self, direction: Direction, amount: u64) {
        let counter = match direction {
            Direction::ToTarget => &self.to_target,
            Direction::FromTarget => &self.from_target,
        };
        counter.fetch_add(amount, Ordering::Relaxed);
    }
}

/// A running proxy (see the module docs).
pub struct FaultProxy {
    transport: Transport,
    local: SocketAddr,
    target: SocketAddr,
    faults: watch::Sender<Faults>,
    counters: Arc<Counters>,
    task: JoinHandle<()>,
}

impl fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultProxy")
            .field("transport", &self.transport)
            .field("local", &self.local)
            .field("target", &self.target)
            .field("faults", &*self.faults.borrow())
            .finish_non_exhaustive()
    }
}

impl FaultProxy {
    /// A TCP proxy listening on `listen` (port 0 picks one) for `target`.
    pub async fn tcp(listen: SocketAddr, target: SocketAddr) -> io::Result<Self> {
        let listener = TcpListener::bind(listen).await?;
        let local = listener.local_addr()?;
        let (faults, _) = watch::channel(Faults::NONE);
        let counters = Arc::new(Counters::default());
        let task = tokio::spawn(tcp_accept_loop(
            listener,
            target,
            faults.clone(),
            Arc::clone(&counters),
        ));
        Ok(Self {
            transport: Transport::Tcp,
            local,
            target,
            faults,
            counters,
            task,
        })
    }

    /// A UDP proxy listening on `listen` (port 0 picks one) for `target`.
    /// Each client address gets its own upstream socket, so the target's
    /// replies find their way back.
    pub async fn udp(listen: SocketAddr, target: SocketAddr) -> io::Result<Self> {
        let socket = Arc::new(UdpSocket::bind(listen).await?);
        let local = socket.local_addr()?;
        let (faults, _) = watch::channel(Faults::NONE);
        let counters = Arc::new(Counters::default());
        let task = tokio::spawn(udp_loop(
            socket,
            target,
            faults.clone(),
            Arc::clone(&counters),
        ));
        Ok(Self {
            transport: Transport::Udp,
            local,
            target,
            faults,
            counters,
            task,
        })
    }

    /// Where clients connect or send.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Where traffic goes.
    #[must_use]
    pub fn target(&self) -> SocketAddr {
        self.target
    }

    /// TCP or UDP.
    #[must_use]
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// The faults in force now.
    #[must_use]
    pub fn faults(&self) -> Faults {
        *self.faults.borrow()
    }

    /// Blocks both directions (a two-way partition).
    pub fn block(&self) {
        self.faults.send_modify(|faults| {
            faults.block_to_target = true;
            faults.block_from_target = true;
        });
    }

    /// Blocks one direction (a one-way partition); the other keeps its
    /// state.
    pub fn block_direction(&self, direction: Direction) {
        self.faults.send_modify(|faults| match direction {
            Direction::ToTarget => faults.block_to_target = true,
            Direction::FromTarget => faults.block_from_target = true,
        });
    }

    /// Opens one direction again.
    pub fn unblock_direction(&self, direction: Direction) {
        self.faults.send_modify(|faults| match direction {
            Direction::ToTarget => faults.block_to_target = false,
            Direction::FromTarget => faults.block_from_target = false,
        });
    }

    /// Removes every fault: both directions open, no latency, no drops.
    /// Held TCP bytes flow again.
    pub fn heal(&self) {
        self.faults.send_modify(|faults| {
            let epoch = faults.reset_epoch;
            *faults = Faults::NONE;
            faults.reset_epoch = epoch;
        });
    }

    /// Delays every datagram or chunk by `latency`, each direction.
    pub fn set_latency(&self, latency: Duration) {
        self.faults.send_modify(|faults| faults.latency = latency);
    }

    /// Drops each UDP datagram with `probability` (clamped to `[0, 1]`).
    pub fn set_drop_probability(&self, probability: f64) {
        let probability = if probability.is_nan() {
            0.0
        } else {
            probability.clamp(0.0, 1.0)
        };
        self.faults
            .send_modify(|faults| faults.drop_probability = probability);
    }

    /// Closes every open TCP connection (new ones are accepted as usual);
    /// no effect on UDP.
    pub fn reset_connections(&self) {
        self.faults
            .send_modify(|faults| faults.reset_epoch = faults.reset_epoch.wrapping_add(1));
    }

    /// What went through so far.
    #[must_use]
    pub fn stats(&self) -> ProxyStats {
        ProxyStats {
            forwarded_to_target: self.counters.to_target.load(Ordering::Relaxed),
            forwarded_from_target: self.counters.from_target.load(Ordering::Relaxed),
            dropped: self.counters.dropped.load(Ordering::Relaxed),
            sessions: self.counters.sessions.load(Ordering::Relaxed),
        }
    }

    /// Stops the proxy and closes everything it holds.
    pub async fn shutdown(self) {
        self.task.abort();
        while !self.task.is_finished() {
            tokio::task::yield_now().await;
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

// ---------------------------------------------------------------- TCP

async fn tcp_accept_loop(
    listener: TcpListener,
    target: SocketAddr,
    faults: watch::Sender<Faults>,
    counters: Arc<Counters>,
) {
    // Owned here: aborting this task drops the set, which aborts every
    // connection task.
    let mut connections = JoinSet::new();
    loop {
        let Ok((client, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        while connections.try_join_next().is_some() {}
        if connections.len() >= MAX_CONNECTIONS {
            drop(client);
            continue;
        }
        counters.sessions.fetch_add(1, Ordering::Relaxed);
        let _ = client.set_nodelay(true);
        connections.spawn(tcp_connection(
            client,
            target,
            faults.subscribe(),
            Arc::clone(&counters),
        ));
    }
}

async fn tcp_connection(
    client: TcpStream,
    target: SocketAddr,
    mut faults: watch::Receiver<Faults>,
    counters: Arc<Counters>,
) {
    let epoch = faults.borrow().reset_epoch;
    let mut reset = faults.clone();
    let connection = async {
        // A blocked forward direction is a SYN into a blackhole: hold the
        // client until it opens.
        if faults
            .wait_for(|f| !f.blocked(Direction::ToTarget))
            .await
            .is_err()
        {
            return;
        }
        let Ok(upstream) = TcpStream::connect(target).await else {
            return;
        };
        let _ = upstream.set_nodelay(true);
        let (client_read, client_write) = client.into_split();
        let (upstream_read, upstream_write) = upstream.into_split();
        tokio::join!(
            pump(
                client_read,
                upstream_write,
                Direction::ToTarget,
                faults.clone(),
                &counters
            ),
            pump(
                upstream_read,
                client_write,
                Direction::FromTarget,
                faults.clone(),
                &counters
            ),
        );
    };
    tokio::select! {
        () = connection => {}
        _ = reset.wait_for(|f| f.reset_epoch != epoch) => {}
    }
}

/// One direction of a TCP connection: a reader and a writer joined by a
/// bounded queue of timestamped chunks.
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    direction: Direction,
    faults: watch::Receiver<Faults>,
    counters: &Counters,
) {
    let (queue, mut queued) = mpsc::channel::<(Instant, Vec<u8>)>(TCP_QUEUE);
    let mut read_faults = faults.clone();
    let reader = async move {
        loop {
            if read_faults
                .wait_for(|f| !f.blocked(direction))
                .await
                .is_err()
            {
                return;
            }
            let mut chunk = vec![0u8; CHUNK];
            match from.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(len) => {
                    chunk.truncate(len);
                    let due = Instant::now() + read_faults.borrow().latency;
                    if queue.send((due, chunk)).await.is_err() {
                        return;
                    }
                }
            }
        }
    };
    let mut write_faults = faults;
    let writer = async move {
        while let Some((due, chunk)) = queued.recv().await {
            tokio::time::sleep_until(due).await;
            // Read just before a block: hold it until the block lifts.
            if write_faults
                .wait_for(|f| !f.blocked(direction))
                .await
                .is_err()
            {
                return;
            }
            if to.write_all(&chunk).await.is_err() {
                return;
            }
            counters.forwarded(direction, u64::try_from(chunk.len()).unwrap_or(u64::MAX));
        }
        // The reader saw end of stream: pass the half-close on.
        let _ = to.shutdown().await;
    };
    tokio::join!(reader, writer);
}

// ---------------------------------------------------------------- UDP

/// A client of a UDP proxy: its own upstream socket, so replies can be
/// told apart.
struct Session {
    upstream: Arc<UdpSocket>,
    last_used: Instant,
    replies: tokio::task::AbortHandle,
}

/// Where a delayed datagram goes.
enum Destination {
    Target(Arc<UdpSocket>),
    Client(SocketAddr),
}

/// A small xorshift generator for drop decisions (statistical quality is
/// plenty for fault injection).
struct Dice(u64);

impl Dice {
    fn new() -> Self {
        let seed = RandomState::new().hash_one(std::process::id());
        Self(seed | 1)
    }

    /// A uniform number in `[0, 1)`.
    fn roll(&mut self) -> f64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        // 53 random bits as a fraction.
        #[allow(clippy::cast_precision_loss)]
        let fraction = (x >> 11) as f64 / (1u64 << 53) as f64;
        fraction
    }
}

/// Shared by the listening loop and every session's reply loop.
struct UdpShared {
    socket: Arc<UdpSocket>,
    faults: watch::Receiver<Faults>,
    counters: Arc<Counters>,
    delayed: mpsc::Sender<(Instant, Destination, Direction, Vec<u8>)>,
    dice: std::sync::Mutex<Dice>,
}

impl UdpShared {
    /// Forwards (now or after the latency) or drops one datagram.
    async fn forward(&self, direction: Direction, destination: Destination, datagram: &[u8]) {
        let faults = *self.faults.borrow();
        let dropped = faults.blocked(direction)
            || (faults.drop_probability > 0.0
                && self
                    .dice
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .roll()
                    < faults.drop_probability);
        if dropped {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if faults.latency.is_zero() {
            self.send(direction, &destination, datagram).await;
        } else {
            let due = Instant::now() + faults.latency;
            if self
                .delayed
                .try_send((due, destination, direction, datagram.to_vec()))
                .is_err()
            {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    async fn send(&self, direction: Direction, destination: &Destination, datagram: &[u8]) {
        let sent = match destination {
            Destination::Target(upstream) => upstream.send(datagram).await,
            Destination::Client(client) => self.socket.send_to(datagram, client).await,
        };
        if sent.is_ok() {
            self.counters.forwarded(direction, 1);
        }
    }
}

async fn udp_loop(
    socket: Arc<UdpSocket>,
    target: SocketAddr,
    faults: watch::Sender<Faults>,
    counters: Arc<Counters>,
) {
    let (delayed, mut due) = mpsc::channel(UDP_QUEUE);
    let shared = Arc::new(UdpShared {
        socket: Arc::clone(&socket),
        faults: faults.subscribe(),
        counters,
        delayed,
        dice: std::sync::Mutex::new(Dice::new()),
    });
    let mut tasks = JoinSet::new();
    let delivery = Arc::clone(&shared);
    tasks.spawn(async move {
        while let Some((at, destination, direction, datagram)) = due.recv().await {
            tokio::time::sleep_until(at).await;
            // A block that started meanwhile still drops it.
            if delivery.faults.borrow().blocked(direction) {
                delivery.counters.dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            delivery.send(direction, &destination, &datagram).await;
        }
    });
    let mut sessions: HashMap<SocketAddr, Session> = HashMap::new();
    let mut buffer = vec![0u8; MAX_DATAGRAM];
    loop {
        let Ok((len, client)) = socket.recv_from(&mut buffer).await else {
            continue;
        };
        let Some(datagram) = buffer.get(..len) else {
            continue;
        };
        let upstream = match sessions.get_mut(&client) {
            Some(session) => {
                session.last_used = Instant::now();
                Arc::clone(&session.upstream)
            }
            None => {
                let Ok(upstream) = open_upstream(target).await else {
                    continue;
                };
                if sessions.len() >= MAX_SESSIONS
                    && let Some(idlest) = sessions
                        .iter()
                        .min_by_key(|(_, session)| session.last_used)
                        .map(|(address, _)| *address)
                    && let Some(evicted) = sessions.remove(&idlest)
                {
                    evicted.replies.abort();
                }
                shared.counters.sessions.fetch_add(1, Ordering::Relaxed);
                let replies = tasks.spawn(udp_replies(
                    Arc::clone(&upstream),
                    client,
                    Arc::clone(&shared),
                ));
                sessions.insert(
                    client,
                    Session {
                        upstream: Arc::clone(&upstream),
                        last_used: Instant::now(),
                        replies,
                    },
                );
                upstream
            }
        };
        shared
            .forward(Direction::ToTarget, Destination::Target(upstream), datagram)
            .await;
        while tasks.try_join_next().is_some() {}
    }
}

async fn open_upstream(target: SocketAddr) -> io::Result<Arc<UdpSocket>> {
    let local: SocketAddr = if target.is_ipv4() {
        SocketAddr::from(([127, 0, 0, 1], 0))
    } else {
        SocketAddr::from(([0u16, 0, 0, 0, 0, 0, 0, 1], 0))
    };
    let upstream = UdpSocket::bind(local).await?;
    upstream.connect(target).await?;
    Ok(Arc::new(upstream))
}

async fn udp_replies(upstream: Arc<UdpSocket>, client: SocketAddr, shared: Arc<UdpShared>) {
    let mut buffer = vec![0u8; MAX_DATAGRAM];
    loop {
        match upstream.recv(&mut buffer).await {
            Ok(len) => {
                if let Some(datagram) = buffer.get(..len) {
                    shared
                        .forward(Direction::FromTarget, Destination::Client(client), datagram)
                        .await;
                }
            }
            // ICMP port unreachable from a dead target shows up here on
            // Linux; keep the session for when it comes back.
            Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
}
