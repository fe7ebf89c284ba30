//! The real-process membership cluster that `membership_processes.rs` and
//! `membership_oracle_faults.rs` drive: a 3-node oracle (`ithaca serve
//! --oracle-peers …`, each with its own data directory and ports) and 4
//! members (`ithaca membership member --record FILE`), all separate OS
//! processes on loopback.
//!
//! Every oracle-to-oracle link (one proxy per direction) and every
//! member-to-oracle link (a TCP and a UDP proxy on one port) goes through
//! a fault-injecting proxy (`ithaca_testkit::faultproxy`) run by the test,
//! so links can be cut both ways or one way. The voters' addresses live in
//! the replicated oracle log, so all nodes dial the same address for a
//! peer: that address is a front door ([`route_links`]) that hands each
//! connection to its directed link's proxy by source address (each node
//! has its own loopback address, [`node_ip`]). Oracle nodes can be killed,
//! restarted on their data directory, stopped and continued; members can
//! be killed, stopped and partitioned. Oracle processes and chosen members
//! can run on a [`FakeClock`] (libfaketime). [`Cluster::check`] runs the
//! history checker (`ithaca_testkit::membership_history`) over every
//! member's record (a fake-clock member's put back on the real clock).
//!
//! Timing is the default: lease L = 2 s, heartbeats every 200 ms, drift
//! bound 1 %, suspicion timeout S = 2.6 s. Tests take [`SERIAL`] and run
//! one at a time, since each one's timing matters.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use ithaca_testkit::faultproxy::{Direction, FaultProxy};
use ithaca_testkit::membership_history::{History, Interval, monotonic_now_ns};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep};

/// The `ithaca` binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_ithaca");
/// The service every member can host.
pub const SERVICE: &str = "svc";
/// Oracle nodes.
pub const ORACLES: usize = 3;
/// Members started with the cluster (`m1` … `m4`).
pub const MEMBERS: usize = 4;
/// The suspicion timeout S (default configuration).
pub const S: Duration = Duration::from_millis(2600);
/// The lease L.
pub const L: Duration = Duration::from_millis(2000);
/// One lease on the oracle's clock, `L·(1+ρ)` with ρ = 1 %: how long a new
/// oracle leader waits before it removes anyone.
pub const LEASE_ON_ORACLE_CLOCK: Duration = Duration::from_millis(2020);
/// Room for a loaded machine (builds run beside the tests) on top of the
/// formula's own terms: one view commit, one heartbeat interval for the
/// backup to hear the view, the member's 2 ms polling.
pub const SLACK: Duration = Duration::from_millis(2400);

/// One test at a time: they measure time.
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A process clock running `rate` times as fast as real time: libfaketime
/// (Debian package `faketime`, which `scripts/install-test-deps.sh`
/// installs) preloaded with `FAKETIME="+0 xRATE"`. Its monotonic and real
/// time clocks, and so its `Instant`s and timers, start at the real time
/// of the process's start and advance `rate` times as fast from there.
#[derive(Debug, Clone, Copy)]
pub struct FakeClock {
    /// How many seconds the process's clock advances per real second.
    pub rate: f64,
}

impl FakeClock {
    /// The preload library, or a panic naming the package to install.
    fn library() -> PathBuf {
        [
            "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
            "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
            "/usr/lib/faketime/libfaketimeMT.so.1",
            "/usr/local/lib/faketime/libfaketimeMT.so.1",
        ]
        .into_iter()
        .map(PathBuf::from)
        .find(|path| path.exists())
        .expect(
            "this test needs libfaketime (Debian package faketime): run scripts/install-test-deps.sh",
        )
    }

    /// The environment that gives a process this clock.
    fn env(self) -> Vec<(String, String)> {
        vec![
            (
                "LD_PRELOAD".to_owned(),
                Self::library().display().to_string(),
            ),
            ("FAKETIME".to_owned(), format!("+0 x{}", self.rate)),
        ]
    }
}

/// Asserts that process `pid` loaded libfaketime.
pub fn assert_fake_clock(pid: u32) {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    assert!(
        maps.contains("libfaketime"),
        "process {pid} runs without libfaketime"
    );
}

/// A member's record made on a [`FakeClock`], rewritten on the real clock
/// so the checker compares its times with the others'. `joined`, `view`
/// and `exit` times are read from `CLOCK_MONOTONIC` through rustix's
/// system call, which libfaketime does not see: they are real already.
/// `start` and `stop` times (and lease expiries) are the member's
/// `Instant`s, which libfaketime does see, placed on `CLOCK_MONOTONIC`
/// from one pair of readings taken when the recorder opened, about
/// `base_ns`: such a time `t` is `base_ns + rate·(real − base_ns)`.
/// `base_ns` is taken just before the process is spawned, a little
/// earlier than the recorder's own reading; the error that leaves is that
/// gap times `1/rate − 1` (under a millisecond within the drift bound).
fn real_time_record(path: &Path, clock: FakeClock, base_ns: u64, out: &Path) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let real = |fake: u64| -> u64 {
        let since = i128::from(fake) - i128::from(base_ns);
        #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
        let scaled = (since as f64 / clock.rate).round() as i128;
        u64::try_from(i128::from(base_ns) + scaled).unwrap_or(0)
    };
    let mut lines = String::new();
    for line in text.lines() {
        // A line cut short by a kill is left for the reader to refuse.
        let Ok(mut record) = serde_json::from_str::<Value>(line) else {
            lines.push_str(line);
            lines.push('\n');
            continue;
        };
        if matches!(record["kind"].as_str(), Some("start" | "stop")) {
            if let Some(at) = record["at_ns"].as_u64() {
                record["at_ns"] = real(at).into();
            }
            if let Some(expires) = record["lease_expires_ns"].as_u64().filter(|e| *e > 0) {
                record["lease_expires_ns"] = real(expires).into();
            }
        }
        lines.push_str(&record.to_string());
        lines.push('\n');
    }
    std::fs::write(out, lines).unwrap();
}

fn localhost() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// The loopback address oracle node `node` listens on (for consensus
/// traffic and for members), and dials its peers from (a node binds its
/// outbound connections to its consensus listen address), so that a
/// connection's source tells which node made it. Each test process has
/// its own `127.41.P.0/24`, so test binaries running at the same time never
/// pick each other's ports, and nothing else binds these addresses.
fn node_ip(node: usize) -> IpAddr {
    let process = u8::try_from(std::process::id() % 250).unwrap() + 1;
    IpAddr::V4(Ipv4Addr::new(
        127,
        41,
        process,
        1 + u8::try_from(node).unwrap(),
    ))
}

/// A port free for both TCP and UDP on `ip` a moment ago (the node binds
/// it a little later).
fn free_port_on(ip: IpAddr) -> u16 {
    loop {
        let tcp = std::net::TcpListener::bind((ip, 0)).unwrap();
        let port = tcp.local_addr().unwrap().port();
        if std::net::UdpSocket::bind((ip, port)).is_ok() {
            return port;
        }
    }
}

/// Oracle node `to`'s front door for consensus traffic. Every node dials
/// the same address for `to` (the voters' addresses are replicated in the
/// oracle log, so the first leader's `--oracle-peers` list is the one all
/// nodes use), so a proxy per directed link cannot sit in the address
/// book. Instead this hands each connection to the proxy of its directed
/// link, known by the caller's source address.
async fn route_links(listener: TcpListener, links: BTreeMap<IpAddr, SocketAddr>) {
    loop {
        let Ok((mut inbound, caller)) = listener.accept().await else {
            return;
        };
        let Some(proxy) = links.get(&caller.ip()).copied() else {
            continue;
        };
        tokio::spawn(async move {
            if let Ok(mut outbound) = TcpStream::connect(proxy).await {
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            }
        });
    }
}

/// A member's link to one oracle node: a TCP and a UDP proxy on one port
/// (members join over TCP and heartbeat over UDP on the same port).
pub struct Link {
    tcp: FaultProxy,
    udp: FaultProxy,
}

impl Link {
    async fn to(target: SocketAddr) -> Self {
        for _ in 0..50 {
            let tcp = FaultProxy::tcp(localhost(), target).await.unwrap();
            if let Ok(udp) = FaultProxy::udp(tcp.local_addr(), target).await {
                return Self { tcp, udp };
            }
        }
        panic!("no port free for both TCP and UDP");
    }

    fn address(&self) -> SocketAddr {
        self.tcp.local_addr()
    }

    fn block(&self) {
        self.tcp.block();
        self.udp.block();
    }

    fn block_direction(&self, direction: Direction) {
        self.tcp.block_direction(direction);
        self.udp.block_direction(direction);
    }

    fn heal(&self) {
        self.tcp.heal();
        self.udp.heal();
    }
}

/// One oracle node's process (`ithaca serve`).
pub struct OracleProcess {
    /// The running process; `None` once killed.
    pub child: Option<Child>,
    /// Its process id (of the last start).
    pub pid: u32,
    /// Its server listener, where the admin endpoints are.
    pub admin: SocketAddr,
    /// Stopped with `kill -STOP` and not yet continued.
    pub paused: bool,
}

/// One member's process (`ithaca membership member`).
pub struct MemberProcess {
    /// Its member id.
    pub id: String,
    /// The running process; `None` once killed.
    pub child: Option<Child>,
    /// Its process id.
    pub pid: u32,
    /// Its history record.
    pub record: PathBuf,
    /// Its fake clock, and the real `CLOCK_MONOTONIC` just before it was
    /// spawned (see [`real_time_record`]).
    pub clock: Option<(FakeClock, u64)>,
    /// One link per oracle node.
    links: Vec<Link>,
}

/// The processes, their proxies and their scratch directory (deleted on
/// drop, with every process killed).
pub struct Cluster {
    dir: PathBuf,
    /// The oracle nodes, by index (node id = index + 1).
    pub oracles: Vec<OracleProcess>,
    /// `(from, to)` → the proxy of node `from`'s traffic to node `to`.
    pub oracle_links: BTreeMap<(usize, usize), FaultProxy>,
    /// The oracle nodes' consensus ports (on [`node_ip`]).
    consensus_ports: Vec<u16>,
    /// `--oracle-peers`, the same for every node: each node's front door.
    oracle_peers: String,
    /// The front doors' tasks ([`route_links`]).
    routers: Vec<JoinHandle<()>>,
    /// The clock of every oracle process (on every start), when faked.
    oracle_clock: Option<FakeClock>,
    /// Members whose clocks are faked, by id.
    member_clocks: BTreeMap<String, FakeClock>,
    /// The oracle nodes' member-facing addresses.
    pub member_addresses: Vec<SocketAddr>,
    /// The members started so far.
    pub members: Vec<MemberProcess>,
    /// Members killed, and when (CLOCK_MONOTONIC).
    killed: Vec<(String, u64)>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for router in &self.routers {
            router.abort();
        }
        for oracle in &mut self.oracles {
            if let Some(child) = &mut oracle.child {
                if oracle.paused {
                    signal(oracle.pid, "CONT");
                }
                let _ = child.start_kill();
            }
        }
        for member in &mut self.members {
            if let Some(child) = &mut member.child {
                // A stopped process must be continued to die promptly.
                signal(member.pid, "CONT");
                let _ = child.start_kill();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Sends signal `name` (`STOP`, `CONT`, …) to `pid` with kill(1).
pub fn signal(pid: u32, name: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name} {pid}");
}

/// `GET path` on `server`, the body parsed as JSON; `None` when the server
/// does not answer within 2 s or the body is not JSON.
pub async fn http_get(server: SocketAddr, path: &str) -> Option<Value> {
    let work = async {
        let mut stream = TcpStream::connect(server).await.ok()?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut text = String::new();
        stream.read_to_string(&mut text).await.ok()?;
        let body = text.split_once("\r\n\r\n")?.1;
        serde_json::from_str(body).ok()
    };
    tokio::time::timeout(Duration::from_secs(2), work)
        .await
        .ok()
        .flatten()
}

/// Runs `ithaca ARGS…` to completion; its standard output, after checking
/// it exited with status 0.
pub async fn ithaca(args: &[&str]) -> String {
    let output = tokio::time::timeout(
        Duration::from_secs(20),
        Command::new(BIN).args(args).kill_on_drop(true).output(),
    )
    .await
    .expect("ithaca did not finish")
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "ithaca {args:?}: {}\n{stdout}{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The last lines of a log file, for failure messages.
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

impl Cluster {
    /// Starts the oracle nodes, waits for a leader, starts `m1` … `m4` (in
    /// that order, so `m1` is primary) and waits until `m1` acts.
    pub async fn start(name: &str) -> Self {
        Self::start_with_clocks(name, None, &[]).await
    }

    /// [`Self::start`], every oracle process on `oracle_clock` (on every
    /// start) and each member named in `member_clocks` on its clock.
    pub async fn start_with_clocks(
        name: &str,
        oracle_clock: Option<FakeClock>,
        member_clocks: &[(&str, FakeClock)],
    ) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "ithaca-membership-processes-{name}-{}-{}",
            std::process::id(),
            monotonic_now_ns()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let consensus_ports: Vec<u16> = (0..ORACLES).map(|n| free_port_on(node_ip(n))).collect();
        // Distinct from the node's consensus port (both were free a moment ago).
        let member_ports: Vec<u16> = (0..ORACLES)
            .map(|n| {
                loop {
                    let port = free_port_on(node_ip(n));
                    if port != consensus_ports[n] {
                        break port;
                    }
                }
            })
            .collect();
        let mut oracle_links = BTreeMap::new();
        for from in 0..ORACLES {
            for (to, port) in consensus_ports.iter().enumerate() {
                if from != to {
                    let target = SocketAddr::new(node_ip(to), *port);
                    oracle_links.insert(
                        (from, to),
                        FaultProxy::tcp(localhost(), target).await.unwrap(),
                    );
                }
            }
        }
        let mut routers = Vec::new();
        let mut peers = Vec::new();
        for to in 0..ORACLES {
            let listener = TcpListener::bind(localhost()).await.unwrap();
            peers.push(format!("{}={}", to + 1, listener.local_addr().unwrap()));
            let links = (0..ORACLES)
                .filter(|from| *from != to)
                .map(|from| (node_ip(from), oracle_links[&(from, to)].local_addr()))
                .collect();
            routers.push(tokio::spawn(route_links(listener, links)));
        }
        let mut cluster = Self {
            dir,
            oracles: Vec::new(),
            oracle_links,
            consensus_ports,
            oracle_peers: peers.join(","),
            routers,
            oracle_clock,
            member_clocks: member_clocks
                .iter()
                .map(|(id, clock)| ((*id).to_owned(), *clock))
                .collect(),
            member_addresses: member_ports
                .iter()
                .enumerate()
                .map(|(node, port)| SocketAddr::new(node_ip(node), *port))
                .collect(),
            members: Vec::new(),
            killed: Vec::new(),
        };
        for node in 0..ORACLES {
            let oracle = cluster.spawn_oracle(node).await;
            cluster.oracles.push(oracle);
        }
        cluster.leader(Duration::from_secs(30)).await;
        for index in 0..MEMBERS {
            cluster.start_member(&format!("m{}", index + 1)).await;
        }
        cluster.wait_for_stable().await;
        cluster
    }

    /// The data directory of oracle node `node`.
    pub fn oracle_data(&self, node: usize) -> PathBuf {
        self.dir.join(format!("oracle-{}", node + 1))
    }

    /// Starts `ithaca serve` for oracle node `node` on its ports and data
    /// directory (its standard error appended to `oracle-N.log`), and
    /// waits for its banner.
    async fn spawn_oracle(&self, node: usize) -> OracleProcess {
        let log_path = self.dir.join(format!("oracle-{}.log", node + 1));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .unwrap();
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(self.oracle_data(node))
            .args(["--oracle-peers", &self.oracle_peers])
            .env(
                "ITHACA_LOG__FILTER",
                std::env::var("MEMBERSHIP_TEST_ORACLE_LOG").unwrap_or_else(|_| "warn".to_owned()),
            )
            .env("ITHACA_MEMBERSHIP__ORACLE_ID", (node + 1).to_string())
            .env(
                "ITHACA_MEMBERSHIP__ORACLE_LISTEN",
                SocketAddr::new(node_ip(node), self.consensus_ports[node]).to_string(),
            )
            .env(
                "ITHACA_MEMBERSHIP__LISTEN",
                self.member_addresses[node].to_string(),
            )
            .envs(self.oracle_clock.map(FakeClock::env).unwrap_or_default())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let pid = child.id().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut admin = None;
        let read = async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(url) = line.strip_prefix("listening: server http://") {
                    admin = Some(url.trim().parse::<SocketAddr>().unwrap());
                }
                if line.starts_with("stop with") {
                    break;
                }
            }
        };
        let started = tokio::time::timeout(Duration::from_secs(30), read).await;
        let Some(admin) = admin.filter(|_| started.is_ok()) else {
            panic!(
                "oracle node {} did not start; its log:\n{}",
                node + 1,
                tail(&log_path)
            );
        };
        OracleProcess {
            child: Some(child),
            pid,
            admin,
            paused: false,
        }
    }

    /// The last lines oracle node `node` wrote to its standard error (its
    /// log, at the level `MEMBERSHIP_TEST_ORACLE_LOG` sets, `warn` by
    /// default), for failure messages.
    pub fn oracle_log(&self, node: usize) -> String {
        tail(&self.dir.join(format!("oracle-{}.log", node + 1)))
    }

    /// Oracle nodes that run and are not stopped.
    pub fn live_oracles(&self) -> Vec<usize> {
        (0..self.oracles.len())
            .filter(|node| self.oracles[*node].child.is_some() && !self.oracles[*node].paused)
            .collect()
    }

    /// The index of the oracle leader among the live nodes, waiting up to
    /// `within`.
    pub async fn leader(&self, within: Duration) -> usize {
        let deadline = Instant::now() + within;
        loop {
            for index in self.live_oracles() {
                if let Some(report) =
                    http_get(self.oracles[index].admin, "/membership/members").await
                    && report["oracle_leader"].as_bool() == Some(true)
                {
                    return index;
                }
            }
            if Instant::now() >= deadline {
                let mut statuses = Vec::new();
                for node in self.live_oracles() {
                    statuses.push(self.status_on(node).await);
                }
                let logs: Vec<String> = (0..self.oracles.len())
                    .map(|node| {
                        let path = self.dir.join(format!("oracle-{}.log", node + 1));
                        format!("oracle-{}.log:\n{}", node + 1, tail(&path))
                    })
                    .collect();
                panic!(
                    "no oracle leader within {within:?}; the live nodes: {statuses:#?}\n{}",
                    logs.join("\n")
                );
            }
            sleep(Duration::from_millis(100)).await;
        }
    }

    /// The leader's committed view.
    pub async fn view(&self) -> Value {
        let leader = self.leader(Duration::from_secs(10)).await;
        http_get(self.oracles[leader].admin, "/membership/view")
            .await
            .expect("the leader's view")
    }

    /// Oracle node `node`'s committed view (`GET /membership/view`).
    pub async fn view_on(&self, node: usize) -> Option<Value> {
        http_get(self.oracles[node].admin, "/membership/view").await
    }

    /// Oracle node `node`'s member report (`GET /membership/members`),
    /// `null` when it does not answer.
    pub async fn members_report_on(&self, node: usize) -> Value {
        http_get(self.oracles[node].admin, "/membership/members")
            .await
            .unwrap_or_default()
    }

    /// Oracle node `node`'s status (`GET /membership/oracle-status`).
    pub async fn status_on(&self, node: usize) -> Option<Value> {
        http_get(self.oracles[node].admin, "/membership/oracle-status").await
    }

    /// Waits until every live oracle node agrees: one leader (the one all
    /// of them name, in the same term), and the same committed view on
    /// every node. Returns that view.
    pub async fn converged(&self, within: Duration) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let mut views = Vec::new();
            let mut leaders = Vec::new();
            for node in self.live_oracles() {
                let status = self.status_on(node).await;
                let view = self.view_on(node).await;
                if let (Some(status), Some(view)) = (status, view) {
                    let oracle = &status["oracle"];
                    leaders.push((
                        oracle["leader"]["id"].as_u64(),
                        oracle["term"].as_u64(),
                        oracle["role"].as_str() == Some("leader"),
                    ));
                    views.push(view);
                }
            }
            let all_answered = views.len() == self.live_oracles().len();
            let one_leader = leaders.iter().filter(|(_, _, leads)| *leads).count() == 1;
            let agreed = leaders.windows(2).all(|pair| {
                pair[0].0.is_some() && pair[0].0 == pair[1].0 && pair[0].1 == pair[1].1
            });
            let same_view = views.windows(2).all(|pair| pair[0] == pair[1]);
            if all_answered && one_leader && agreed && same_view && !views.is_empty() {
                return views.swap_remove(0);
            }
            assert!(
                Instant::now() < deadline,
                "the oracle nodes did not converge within {within:?}: {leaders:?}\n{views:#?}"
            );
            sleep(Duration::from_millis(100)).await;
        }
    }

    /// Starts member `id` (roles: [`SERVICE`]) with its own links to every
    /// oracle node, and waits until it joined.
    pub async fn start_member(&mut self, id: &str) {
        let mut links = Vec::new();
        for address in &self.member_addresses {
            links.push(Link::to(*address).await);
        }
        let oracles: Vec<String> = links.iter().map(|l| l.address().to_string()).collect();
        let record = self.dir.join(format!("{id}.jsonl"));
        let log_path = self.dir.join(format!("{id}.log"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .unwrap();
        let clock = self
            .member_clocks
            .get(id)
            .map(|clock| (*clock, monotonic_now_ns()));
        let mut child = Command::new(BIN)
            .args(["membership", "member", "--oracles", &oracles.join(",")])
            .args(["--id", id, "--role", SERVICE, "--record"])
            .arg(&record)
            .env("RUST_LOG", "warn")
            .envs(clock.map(|(clock, _)| clock.env()).unwrap_or_default())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let pid = child.id().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let joined = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .ok()
            .and_then(Result::ok)
            .flatten()
            .unwrap_or_default();
        assert!(
            joined.contains("joined"),
            "member {id} did not join: {joined:?}; its log:\n{}",
            tail(&log_path)
        );
        self.members.push(MemberProcess {
            id: id.to_owned(),
            child: Some(child),
            pid,
            record,
            clock,
            links,
        });
    }

    /// Member `id`'s process.
    pub fn member(&self, id: &str) -> &MemberProcess {
        self.members.iter().find(|m| m.id == id).unwrap()
    }

    /// Every member in the view, `m1` primary and acting.
    pub async fn wait_for_stable(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let view = self.view().await;
            let members = view["members"].as_object().map_or(0, serde_json::Map::len);
            let acting = self
                .history()
                .intervals(SERVICE)
                .iter()
                .any(|i| i.member == "m1" && i.end_ns.is_none());
            if members == MEMBERS && view["primaries"][SERVICE] == "m1" && acting {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the group did not settle: {view}"
            );
            sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every member's record read (those made on a fake clock rewritten on
    /// the real one), with the kills the harness made.
    pub fn history(&self) -> History {
        let paths: Vec<PathBuf> = self
            .members
            .iter()
            .map(|member| match member.clock {
                None => member.record.clone(),
                Some((clock, base_ns)) => {
                    let real = self.dir.join(format!("{}.real-clock.jsonl", member.id));
                    real_time_record(&member.record, clock, base_ns, &real);
                    real
                }
            })
            .collect();
        let mut history = History::read_files(&paths).unwrap();
        for (member, at) in &self.killed {
            history.process_ended(member, *at);
        }
        history
    }

    /// `kill -9` of a member; returns when it is dead.
    pub async fn kill_member(&mut self, id: &str) -> u64 {
        let member = self.members.iter_mut().find(|m| m.id == id).unwrap();
        let mut child = member.child.take().unwrap();
        child.kill().await.unwrap();
        let at = monotonic_now_ns();
        self.killed.push((id.to_owned(), at));
        at
    }

    /// Waits until a member other than `not` starts acting as primary after
    /// `after`; returns its interval.
    pub async fn next_primary(&self, not: &str, after: u64, within: Duration) -> Interval {
        let deadline = Instant::now() + within;
        loop {
            if let Some(interval) = self
                .history()
                .intervals(SERVICE)
                .into_iter()
                .find(|i| i.member != not && i.start_ns > after)
            {
                return interval;
            }
            assert!(
                Instant::now() < deadline,
                "no new primary within {within:?}: {:?}",
                self.history().intervals(SERVICE)
            );
            sleep(Duration::from_millis(50)).await;
        }
    }

    /// Runs the history checker over every record.
    pub fn check(&self) -> History {
        let history = self.history();
        if let Err(violations) = history.check() {
            let text: Vec<String> = violations.iter().map(ToString::to_string).collect();
            panic!("the history breaks invariants:\n{}", text.join("\n"));
        }
        history
    }

    /// Cuts every link of member `id` (both ways, or one way).
    pub fn partition_member(&self, id: &str, direction: Option<Direction>) {
        for link in &self.member(id).links {
            match direction {
                None => link.block(),
                Some(direction) => link.block_direction(direction),
            }
        }
    }

    /// Heals every link of member `id`.
    pub fn heal_member(&self, id: &str) {
        for link in &self.member(id).links {
            link.heal();
        }
    }

    /// Cuts oracle node `node` off from the other oracle nodes (both ways).
    pub fn isolate_oracle(&self, node: usize) {
        for ((from, to), proxy) in &self.oracle_links {
            if *from == node || *to == node {
                proxy.block();
            }
        }
    }

    /// Heals every oracle-to-oracle link.
    pub fn heal_oracles(&self) {
        for proxy in self.oracle_links.values() {
            proxy.heal();
        }
    }

    /// `kill -STOP` of oracle node `node`.
    pub fn pause_oracle(&mut self, node: usize) {
        signal(self.oracles[node].pid, "STOP");
        self.oracles[node].paused = true;
    }

    /// `kill -CONT` of oracle node `node`.
    pub fn resume_oracle(&mut self, node: usize) {
        signal(self.oracles[node].pid, "CONT");
        self.oracles[node].paused = false;
    }

    /// `kill -9` of oracle node `node`; returns when it is dead.
    pub async fn kill_oracle(&mut self, node: usize) {
        let oracle = &mut self.oracles[node];
        let mut child = oracle.child.take().expect("the oracle node runs");
        if oracle.paused {
            signal(oracle.pid, "CONT");
            oracle.paused = false;
        }
        child.kill().await.unwrap();
    }

    /// Starts oracle node `node` again on its ports and data directory
    /// (after [`Self::kill_oracle`]).
    pub async fn restart_oracle(&mut self, node: usize) {
        assert!(self.oracles[node].child.is_none(), "node {node} still runs");
        let oracle = self.spawn_oracle(node).await;
        self.oracles[node] = oracle;
    }
}

/// A duration from nanoseconds.
pub fn ms(nanos: u64) -> Duration {
    Duration::from_nanos(nanos)
}

/// The member ids of a view's JSON.
pub fn member_ids(view: &Value) -> Vec<String> {
    view["members"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// Asserts that every view in `seen` (as oracle nodes answered it) has the
/// same content as the members recorded for its id: one view id, one
/// content, across oracle nodes and members.
pub fn assert_one_content_per_id(history: &History, seen: &[Value]) {
    for view in seen {
        let Some(id) = view["id"].as_u64() else {
            panic!("a view without an id: {view}");
        };
        if let Some(recorded) = history.views().get(&id) {
            assert_eq!(
                recorded, view,
                "view {id} has two contents (a member's record, an oracle node's answer)"
            );
        }
    }
}
