//! Real processes: a 3-node oracle (`ithaca serve --oracle-peers …`, each
//! with its own data directory and ports) and 4 members (`ithaca
//! membership member`), all separate OS processes on loopback. Every
//! oracle-to-oracle link and every member-to-oracle link goes through a
//! fault-injecting proxy (`ithaca_testkit::faultproxy`) run by this test,
//! so links can be cut both ways or one way.
//!
//! Each test starts a fresh cluster, injects one kind of fault (`kill -9`,
//! `kill -STOP`/`-CONT`, partitions), checks what a user would see (who
//! serves, when, in which view) and then runs the history checker
//! (`ithaca_testkit::membership_history`) over every member's record: at
//! most one primary per view, serving intervals that never overlap, only
//! members of the view with a valid lease acting, views totally ordered.
//!
//! Timing is the default: lease L = 2 s, heartbeats every 200 ms, drift
//! bound 1 %, suspicion timeout S = 2.6 s. The tests run one at a time
//! (a lock), since each one's timing matters.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use ithaca_testkit::faultproxy::{Direction, FaultProxy};
use ithaca_testkit::membership_history::{History, Interval, monotonic_now_ns};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::time::{Instant, sleep};

const BIN: &str = env!("CARGO_BIN_EXE_ithaca");
const SERVICE: &str = "svc";
const ORACLES: usize = 3;
const MEMBERS: usize = 4;
/// The suspicion timeout S (default configuration).
const S: Duration = Duration::from_millis(2600);
/// The lease L.
const L: Duration = Duration::from_millis(2000);
/// Room for a loaded machine (builds run beside the tests) on top of the
/// formula's own terms: one view commit, one heartbeat interval for the
/// backup to hear the view, the member's 2 ms polling.
const SLACK: Duration = Duration::from_millis(2400);

/// One test at a time: they measure time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn localhost() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// A member's link to one oracle node: a TCP and a UDP proxy on one port
/// (members join over TCP and heartbeat over UDP on the same port).
struct Link {
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

struct OracleProcess {
    child: Option<Child>,
    admin: SocketAddr,
}

struct MemberProcess {
    id: String,
    child: Option<Child>,
    pid: u32,
    record: PathBuf,
    /// One link per oracle node.
    links: Vec<Link>,
}

struct Cluster {
    dir: PathBuf,
    oracles: Vec<OracleProcess>,
    /// `(from, to)` → the proxy node `from` uses to reach node `to`.
    oracle_links: BTreeMap<(usize, usize), FaultProxy>,
    /// The oracle nodes' member-facing addresses.
    member_addresses: Vec<SocketAddr>,
    members: Vec<MemberProcess>,
    /// Members killed, and when (CLOCK_MONOTONIC).
    killed: Vec<(String, u64)>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for oracle in &mut self.oracles {
            if let Some(child) = &mut oracle.child {
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

fn free_port() -> u16 {
    ithaca_testkit::free_port().unwrap()
}

fn signal(pid: u32, name: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name} {pid}");
}

async fn http_get(server: SocketAddr, path: &str) -> Option<Value> {
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

impl Cluster {
    async fn start(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "ithaca-membership-processes-{name}-{}-{}",
            std::process::id(),
            monotonic_now_ns()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let consensus_ports: Vec<u16> = (0..ORACLES).map(|_| free_port()).collect();
        let member_ports: Vec<u16> = (0..ORACLES).map(|_| free_port()).collect();
        let mut oracle_links = BTreeMap::new();
        for from in 0..ORACLES {
            for (to, port) in consensus_ports.iter().enumerate() {
                if from != to {
                    let target = SocketAddr::from(([127, 0, 0, 1], *port));
                    oracle_links.insert(
                        (from, to),
                        FaultProxy::tcp(localhost(), target).await.unwrap(),
                    );
                }
            }
        }
        let mut oracles = Vec::new();
        for node in 0..ORACLES {
            // Each node reaches the others through its own proxies.
            let peers: Vec<String> = (0..ORACLES)
                .map(|other| {
                    let address = if other == node {
                        SocketAddr::from(([127, 0, 0, 1], consensus_ports[node]))
                    } else {
                        oracle_links[&(node, other)].local_addr()
                    };
                    format!("{}={address}", other + 1)
                })
                .collect();
            let data = dir.join(format!("oracle-{}", node + 1));
            let mut child = Command::new(BIN)
                .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
                .arg(&data)
                .args(["--oracle-peers", &peers.join(",")])
                .env("ITHACA_LOG__FILTER", "warn")
                .env("ITHACA_MEMBERSHIP__ORACLE_ID", (node + 1).to_string())
                .env(
                    "ITHACA_MEMBERSHIP__ORACLE_LISTEN",
                    format!("127.0.0.1:{}", consensus_ports[node]),
                )
                .env(
                    "ITHACA_MEMBERSHIP__LISTEN",
                    format!("127.0.0.1:{}", member_ports[node]),
                )
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .unwrap();
            let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
            let mut admin = None;
            let read = async {
                while let Some(line) = lines.next_line().await.unwrap() {
                    if let Some(url) = line.strip_prefix("listening: server http://") {
                        admin = Some(url.trim().parse::<SocketAddr>().unwrap());
                    }
                    if line.starts_with("stop with") {
                        break;
                    }
                }
            };
            tokio::time::timeout(Duration::from_secs(30), read)
                .await
                .expect("ithaca serve did not start");
            oracles.push(OracleProcess {
                child: Some(child),
                admin: admin.expect("no server line"),
            });
        }
        let mut cluster = Self {
            dir,
            oracles,
            oracle_links,
            member_addresses: member_ports
                .iter()
                .map(|port| SocketAddr::from(([127, 0, 0, 1], *port)))
                .collect(),
            members: Vec::new(),
            killed: Vec::new(),
        };
        cluster.leader(Duration::from_secs(30)).await;
        for index in 0..MEMBERS {
            cluster.start_member(&format!("m{}", index + 1)).await;
        }
        cluster.wait_for_stable().await;
        cluster
    }

    /// The index of the oracle leader, waiting up to `within`.
    async fn leader(&self, within: Duration) -> usize {
        let deadline = Instant::now() + within;
        loop {
            for (index, oracle) in self.oracles.iter().enumerate() {
                if oracle.child.is_none() {
                    continue;
                }
                if let Some(report) = http_get(oracle.admin, "/membership/members").await
                    && report["oracle_leader"].as_bool() == Some(true)
                {
                    return index;
                }
            }
            assert!(
                Instant::now() < deadline,
                "no oracle leader within {within:?}"
            );
            sleep(Duration::from_millis(100)).await;
        }
    }

    /// The leader's committed view.
    async fn view(&self) -> Value {
        let leader = self.leader(Duration::from_secs(10)).await;
        http_get(self.oracles[leader].admin, "/membership/view")
            .await
            .expect("the leader's view")
    }

    async fn start_member(&mut self, id: &str) {
        let mut links = Vec::new();
        for address in &self.member_addresses {
            links.push(Link::to(*address).await);
        }
        let oracles: Vec<String> = links.iter().map(|l| l.address().to_string()).collect();
        let record = self.dir.join(format!("{id}.jsonl"));
        let mut child = Command::new(BIN)
            .args(["membership", "member", "--oracles", &oracles.join(",")])
            .args(["--id", id, "--role", SERVICE, "--record"])
            .arg(&record)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let pid = child.id().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let joined = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("the member did not join in time")
            .unwrap()
            .unwrap_or_default();
        assert!(joined.contains("joined"), "{joined}");
        self.members.push(MemberProcess {
            id: id.to_owned(),
            child: Some(child),
            pid,
            record,
            links,
        });
    }

    fn member(&self, id: &str) -> &MemberProcess {
        self.members.iter().find(|m| m.id == id).unwrap()
    }

    /// Every member in the view, `m1` primary and acting.
    async fn wait_for_stable(&self) {
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
            assert!(Instant::now() < deadline, "cluster not stable: {view}");
            sleep(Duration::from_millis(100)).await;
        }
    }

    fn history(&self) -> History {
        let paths: Vec<&Path> = self.members.iter().map(|m| m.record.as_path()).collect();
        let mut history = History::read_files(&paths).unwrap();
        for (member, at) in &self.killed {
            history.process_ended(member, *at);
        }
        history
    }

    /// `kill -9` of a member; returns when it is dead.
    async fn kill_member(&mut self, id: &str) -> u64 {
        let member = self.members.iter_mut().find(|m| m.id == id).unwrap();
        let mut child = member.child.take().unwrap();
        child.kill().await.unwrap();
        let at = monotonic_now_ns();
        self.killed.push((id.to_owned(), at));
        at
    }

    /// Waits until a member other than `not` starts acting as primary after
    /// `after`; returns its interval.
    async fn next_primary(&self, not: &str, after: u64, within: Duration) -> Interval {
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
    fn check(&self) -> History {
        let history = self.history();
        if let Err(violations) = history.check() {
            let text: Vec<String> = violations.iter().map(ToString::to_string).collect();
            panic!("the history breaks invariants:\n{}", text.join("\n"));
        }
        history
    }

    /// Cuts every link of member `id` (both ways, or one way).
    fn partition_member(&self, id: &str, direction: Option<Direction>) {
        for link in &self.member(id).links {
            match direction {
                None => link.block(),
                Some(direction) => link.block_direction(direction),
            }
        }
    }

    fn heal_member(&self, id: &str) {
        for link in &self.member(id).links {
            link.heal();
        }
    }

    /// Cuts oracle node `node` off from the other oracle nodes (both ways).
    fn isolate_oracle(&self, node: usize) {
        for ((from, to), proxy) in &self.oracle_links {
            if *from == node || *to == node {
                proxy.block();
            }
        }
    }
}

fn ms(nanos: u64) -> Duration {
    Duration::from_nanos(nanos)
}

fn member_ids(view: &Value) -> Vec<String> {
    view["members"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// `kill -9` of the primary: the first backup is promoted in the view
/// change that removes the primary, and starts serving within S + slack.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_primary_promotes_its_backup_in_one_view_change() {
    let _serial = SERIAL.lock().await;
    let mut cluster = Cluster::start("kill9").await;
    let killed_at = cluster.kill_member("m1").await;

    let next = cluster.next_primary("m1", killed_at, S + SLACK + L).await;
    let failover = ms(next.start_ns.saturating_sub(killed_at));
    assert_eq!(next.member, "m2", "the first backup takes over");
    assert!(
        failover <= S + SLACK,
        "failover took {failover:?}, more than S + slack"
    );
    let history = cluster.check();
    // One view change: the view m2 serves in is the first without m1, it
    // directly follows a view with m1 as primary, and names m2.
    let removal = history.first_view_without("m1", 0).unwrap();
    assert_eq!(next.view, removal, "m2 serves in the view that removed m1");
    let before = &history.views()[&(removal - 1)];
    assert_eq!(before["primaries"][SERVICE], "m1");
    assert_eq!(history.views()[&removal]["primaries"][SERVICE], "m2");
}

/// `kill -STOP` of the primary for less than the lease: nobody is
/// removed, and it serves again after `kill -CONT`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_shorter_than_the_lease_removes_nobody() {
    let _serial = SERIAL.lock().await;
    let cluster = Cluster::start("short-pause").await;
    let before = cluster.view().await;
    let pid = cluster.member("m1").pid;
    signal(pid, "STOP");
    sleep(Duration::from_millis(1000)).await;
    signal(pid, "CONT");
    sleep(S + Duration::from_millis(500)).await;

    let after = cluster.view().await;
    assert_eq!(after["id"], before["id"], "no view change: {after}");
    assert_eq!(after["primaries"][SERVICE], "m1");
    let history = cluster.check();
    assert!(
        history.intervals(SERVICE).iter().all(|i| i.member == "m1"),
        "only m1 ever served"
    );
}

/// `kill -STOP` of the primary for longer than the lease: it is removed,
/// its backup promoted, and after `kill -CONT` the old primary stops
/// acting (its last act precedes the new primary's first), then rejoins
/// with a new incarnation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_longer_than_the_lease_fences_the_paused_primary() {
    let _serial = SERIAL.lock().await;
    let cluster = Cluster::start("long-pause").await;
    let pid = cluster.member("m1").pid;
    let paused_at = monotonic_now_ns();
    signal(pid, "STOP");
    let next = cluster.next_primary("m1", paused_at, S + SLACK + L).await;
    assert_eq!(next.member, "m2");
    sleep(Duration::from_millis(500)).await;
    signal(pid, "CONT");

    // The resumed process rejoins at incarnation 2, as a backup.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let view = cluster.view().await;
        if view["members"]["m1"]["incarnation"] == 2 {
            assert_eq!(view["primaries"][SERVICE], "m2");
            break;
        }
        assert!(Instant::now() < deadline, "m1 did not rejoin: {view}");
        sleep(Duration::from_millis(100)).await;
    }
    let history = cluster.check();
    let old = history
        .intervals(SERVICE)
        .into_iter()
        .find(|i| i.member == "m1" && i.incarnation == 1)
        .unwrap();
    assert!(old.stopped, "the resumed m1 recorded its stop");
    assert!(
        old.end_ns.unwrap() < next.start_ns,
        "m1 stopped acting before m2 started"
    );
}

/// `kill -9` of the oracle leader: another node leads, and no member is
/// removed for at least one lease after that (the new leader's grace).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_oracle_leader_elects_another_without_false_removals() {
    let _serial = SERIAL.lock().await;
    let mut cluster = Cluster::start("oracle-kill").await;
    let before = cluster.view().await;
    let leader = cluster.leader(Duration::from_secs(5)).await;
    let mut child = cluster.oracles[leader].child.take().unwrap();
    child.kill().await.unwrap();

    let next = cluster.leader(Duration::from_secs(10)).await;
    assert_ne!(next, leader);
    sleep(L + Duration::from_millis(1500)).await;
    let after = cluster.view().await;
    assert_eq!(
        member_ids(&after),
        member_ids(&before),
        "no member removed: {after}"
    );
    assert_eq!(after["primaries"][SERVICE], "m1");
    cluster.check();
}

/// A two-way partition between the primary and every oracle node: the
/// primary stops acting when its lease lapses, is removed, the backup
/// takes over; after healing, the old primary rejoins as a new incarnation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_cut_off_from_the_oracle_both_ways_is_replaced() {
    let _serial = SERIAL.lock().await;
    let cluster = Cluster::start("partition").await;
    let cut_at = monotonic_now_ns();
    cluster.partition_member("m1", None);
    let next = cluster.next_primary("m1", cut_at, S + SLACK + L).await;
    assert_eq!(next.member, "m2");
    let history = cluster.check();
    let old = history
        .intervals(SERVICE)
        .into_iter()
        .find(|i| i.member == "m1")
        .unwrap();
    assert!(old.stopped, "the cut-off m1 stopped on its own (lease)");
    assert!(ms(old.end_ns.unwrap().saturating_sub(cut_at)) <= L + Duration::from_millis(500));

    cluster.heal_member("m1");
    let deadline = Instant::now() + Duration::from_secs(10);
    while cluster.view().await["members"]["m1"]["incarnation"] != 2 {
        assert!(Instant::now() < deadline, "m1 did not rejoin");
        sleep(Duration::from_millis(100)).await;
    }
    cluster.check();
}

/// One-way partitions of the primary. Replies lost (oracle → member): the
/// oracle still hears it, so nobody is removed, but the member's lease
/// lapses and it stops acting; after healing it acts again. Heartbeats
/// lost (member → oracle): it is removed and its backup promoted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_way_partitions_of_the_primary() {
    let _serial = SERIAL.lock().await;
    let cluster = Cluster::start("one-way").await;
    let before = cluster.view().await;

    let cut_at = monotonic_now_ns();
    cluster.partition_member("m1", Some(Direction::FromTarget));
    sleep(S + Duration::from_millis(800)).await;
    let history = cluster.check();
    let stopped = history
        .intervals(SERVICE)
        .into_iter()
        .find(|i| i.member == "m1")
        .unwrap();
    assert!(stopped.stopped, "m1 stopped acting without grants");
    assert!(ms(stopped.end_ns.unwrap().saturating_sub(cut_at)) <= L + Duration::from_millis(500));
    assert_eq!(cluster.view().await["id"], before["id"], "nobody removed");

    cluster.heal_member("m1");
    let healed_at = monotonic_now_ns();
    cluster
        .next_primary("nobody", healed_at, Duration::from_secs(5))
        .await;

    let cut_at = monotonic_now_ns();
    cluster.partition_member("m1", Some(Direction::ToTarget));
    let next = cluster.next_primary("m1", cut_at, S + SLACK + L).await;
    assert_eq!(next.member, "m2");
    cluster.check();
}

/// The oracle leader isolated from the other two nodes (a minority of
/// one): the majority elects a leader, members move to it, and the
/// history stays safe; after healing, the group still has all members.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_isolated_oracle_leader_is_replaced_by_the_majority() {
    let _serial = SERIAL.lock().await;
    let cluster = Cluster::start("oracle-minority").await;
    let leader = cluster.leader(Duration::from_secs(5)).await;
    cluster.isolate_oracle(leader);

    // A node of the majority takes over.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let mut majority_leader = None;
        for (index, oracle) in cluster.oracles.iter().enumerate() {
            if index != leader
                && let Some(report) = http_get(oracle.admin, "/membership/members").await
                && report["oracle_leader"].as_bool() == Some(true)
            {
                majority_leader = Some(index);
            }
        }
        if majority_leader.is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "the majority elected no leader");
        sleep(Duration::from_millis(100)).await;
    }
    sleep(L + Duration::from_millis(1500)).await;
    cluster.check();
    for proxy in cluster.oracle_links.values() {
        proxy.heal();
    }
    sleep(Duration::from_secs(2)).await;
    let view = cluster.view().await;
    assert_eq!(member_ids(&view).len(), MEMBERS, "{view}");
    cluster.check();
}

/// A member process serves its `ithaca_member_*` metrics, and `ithaca
/// membership load` keeps a few simulated members' leases against a
/// single-node oracle (the tool `bench/membership.sh` uses).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_metrics_and_the_load_tool() {
    let _serial = SERIAL.lock().await;
    let dir = std::env::temp_dir().join(format!(
        "ithaca-membership-load-{}-{}",
        std::process::id(),
        monotonic_now_ns()
    ));
    let member_port = free_port();
    let mut oracle = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.join("oracle"))
        .env("ITHACA_LOG__FILTER", "warn")
        .env(
            "ITHACA_MEMBERSHIP__LISTEN",
            format!("127.0.0.1:{member_port}"),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(oracle.stdout.take().unwrap()).lines();
    tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.starts_with("stop with") {
                break;
            }
        }
    })
    .await
    .expect("ithaca serve did not start");
    let oracle_address = format!("127.0.0.1:{member_port}");

    let metrics_port = free_port();
    let mut member = Command::new(BIN)
        .args(["membership", "member", "--oracles", &oracle_address])
        .args(["--id", "metered", "--role", SERVICE, "--metrics-listen"])
        .arg(format!("127.0.0.1:{metrics_port}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut member_out = BufReader::new(member.stdout.take().unwrap()).lines();
    let joined = tokio::time::timeout(Duration::from_secs(30), member_out.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap_or_default();
    assert!(joined.contains("joined"), "{joined}");
    sleep(Duration::from_millis(800)).await;
    let metrics_address = SocketAddr::from(([127, 0, 0, 1], metrics_port));
    let mut stream = TcpStream::connect(metrics_address).await.unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).await.unwrap();
    let value = |name: &str| -> f64 {
        text.lines()
            .find(|line| line.starts_with(name) && !line.starts_with('#'))
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {text}"))
    };
    let remaining = value("ithaca_member_lease_remaining_seconds");
    assert!(remaining > 0.0 && remaining <= 2.0, "{remaining}");
    assert!(value("ithaca_member_heartbeat_rtt_seconds") > 0.0);
    assert!(value("ithaca_member_view_id") >= 1.0);
    assert!(value("ithaca_member_heartbeats_total") >= 1.0);
    assert_eq!(value("ithaca_member_lease_expiries_total"), 0.0);
    assert_eq!(value("ithaca_member_can_act"), 1.0);
    member.kill().await.unwrap();

    let load = Command::new(BIN)
        .args(["membership", "load", "--oracle", &oracle_address])
        .args(["--members", "50", "--seconds", "2", "--prefix", "tiny"])
        .output()
        .await
        .unwrap();
    let report = String::from_utf8_lossy(&load.stdout);
    assert!(load.status.success(), "{report}");
    assert!(report.contains("joined=50 "), "{report}");
    assert!(report.contains("sustained=true"), "{report}");
    oracle.kill().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
