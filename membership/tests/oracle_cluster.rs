//! Oracle groups of several nodes over real TCP on loopback: election,
//! commits through a majority, leader loss, a follower catching up after a
//! restart, oracle membership changes through joint consensus, a
//! partitioned leader that can neither commit nor stay certain, and a
//! partitioned follower that (with pre-vote) never bumps its term, so it
//! catches up after healing without deposing the leader's term.
//!
//! Every node listens on its own loopback address `127.0.0.(10+id)` and
//! dials peers from it; peers reach node `id` through a small fault proxy at
//! `127.0.0.(100+id)`, which knows the caller by its source address and can
//! drop any directed link (a partition), cutting live connections too.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ithaca_membership::consensus::{
    Bootstrap, Consensus, ConsensusError, NodeInfo, OracleConfig, OracleNode, RaftTiming, Role,
    start,
};
use ithaca_membership::{Incarnation, MemberId, ServiceName, View, ViewCommand, ViewId};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

fn node_ip(id: u64) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 10 + u8::try_from(id).unwrap_or(0)))
}

fn proxy_ip(id: u64) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(
        127,
        0,
        0,
        100 + u8::try_from(id).unwrap_or(0),
    ))
}

fn id_of_source(ip: IpAddr) -> Option<u64> {
    match ip {
        IpAddr::V4(v4) => v4.octets()[3].checked_sub(10).map(u64::from),
        IpAddr::V6(_) => None,
    }
}

/// Directed links currently cut: `(from, to)`.
type Cuts = BTreeSet<(u64, u64)>;

/// The fault proxies in front of every node.
struct Network {
    cuts: watch::Sender<Cuts>,
    targets: Arc<Mutex<BTreeMap<u64, SocketAddr>>>,
    proxies: BTreeMap<u64, SocketAddr>,
    tasks: Vec<JoinHandle<()>>,
}

impl Network {
    async fn new(ids: impl IntoIterator<Item = u64>) -> Self {
        let (cuts, _) = watch::channel(Cuts::new());
        let targets = Arc::new(Mutex::new(BTreeMap::new()));
        let mut proxies = BTreeMap::new();
        let mut tasks = Vec::new();
        for id in ids {
            let listener = TcpListener::bind(SocketAddr::new(proxy_ip(id), 0))
                .await
                .unwrap_or_else(|e| panic!("proxy bind: {e}"));
            proxies.insert(id, listener.local_addr().unwrap_or_else(|e| panic!("{e}")));
            tasks.push(tokio::spawn(run_proxy(
                id,
                listener,
                cuts.subscribe(),
                Arc::clone(&targets),
            )));
        }
        Self {
            cuts,
            targets,
            proxies,
            tasks,
        }
    }

    fn address(&self, id: u64) -> String {
        self.proxies
            .get(&id)
            .map(ToString::to_string)
            .unwrap_or_default()
    }

    fn info(&self, id: u64) -> NodeInfo {
        NodeInfo {
            id,
            address: self.address(id),
        }
    }

    fn route(&self, id: u64, to: SocketAddr) {
        if let Ok(mut targets) = self.targets.lock() {
            targets.insert(id, to);
        }
    }

    /// Cuts every link between `node` and the others.
    fn isolate(&self, node: u64) {
        let ids: Vec<u64> = self.proxies.keys().copied().collect();
        self.cuts.send_modify(|cuts| {
            for other in ids.into_iter().filter(|o| *o != node) {
                cuts.insert((node, other));
                cuts.insert((other, node));
            }
        });
    }

    fn heal(&self) {
        self.cuts.send_modify(Cuts::clear);
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

async fn run_proxy(
    id: u64,
    listener: TcpListener,
    cuts: watch::Receiver<Cuts>,
    targets: Arc<Mutex<BTreeMap<u64, SocketAddr>>>,
) {
    while let Ok((inbound, peer)) = listener.accept().await {
        let from = id_of_source(peer.ip());
        let mut cuts = cuts.clone();
        let cut = move |cuts: &Cuts| from.is_some_and(|from| cuts.contains(&(from, id)));
        if cut(&cuts.borrow_and_update()) {
            continue;
        }
        let target = targets.lock().ok().and_then(|t| t.get(&id).copied());
        let Some(target) = target else { continue };
        tokio::spawn(async move {
            let Ok(outbound) = TcpStream::connect(target).await else {
                return;
            };
            let (from_reader, from_writer) = inbound.into_split();
            let (to_reader, to_writer) = outbound.into_split();
            // Each chunk is checked against the cuts after it is read and
            // before it is written, so nothing a node sends after a cut was
            // made crosses it (a copy task that had not yet noticed the cut
            // could otherwise forward it).
            let forward = |mut reader: tokio::net::tcp::OwnedReadHalf,
                           mut writer: tokio::net::tcp::OwnedWriteHalf| {
                let cuts = cuts.clone();
                async move {
                    let mut buffer = vec![0u8; 64 * 1024];
                    loop {
                        let Ok(n) = reader.read(&mut buffer).await else {
                            return;
                        };
                        if n == 0 || cut(&cuts.borrow()) {
                            return;
                        }
                        let Some(chunk) = buffer.get(..n) else { return };
                        if writer.write_all(chunk).await.is_err() {
                            return;
                        }
                    }
                }
            };
            tokio::select! {
                () = forward(from_reader, to_writer) => {}
                () = forward(to_reader, from_writer) => {}
                _ = cuts.wait_for(|c| cut(c)) => {}
            }
        });
    }
}

fn timing() -> RaftTiming {
    RaftTiming {
        heartbeat: Duration::from_millis(50),
        election_timeout_min: Duration::from_millis(150),
        election_timeout_max: Duration::from_millis(300),
        rpc_timeout: Duration::from_millis(100),
        commit_timeout: Duration::from_secs(3),
        drift_ppm: 10_000,
    }
}

/// A test oracle group: nodes, their data directories and the proxies.
struct Group {
    net: Network,
    root: tempfile::TempDir,
    nodes: BTreeMap<u64, OracleNode>,
    /// Every view any node published, by id, to check one id never has two
    /// contents.
    seen: Arc<Mutex<BTreeMap<ViewId, View>>>,
    conflicts: Arc<Mutex<Vec<String>>>,
    watchers: Vec<JoinHandle<()>>,
}

impl Group {
    /// Starts nodes `1..=voters` as the initial voters, with proxies for
    /// `1..=all` (the rest can join later).
    async fn new(voters: u64, all: u64) -> Self {
        // `RUST_LOG=openraft=info,ithaca_membership=debug` shows what the
        // nodes did when a test fails.
        let _already = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let net = Network::new(1..=all).await;
        let root = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut group = Self {
            net,
            root,
            nodes: BTreeMap::new(),
            seen: Arc::new(Mutex::new(BTreeMap::new())),
            conflicts: Arc::new(Mutex::new(Vec::new())),
            watchers: Vec::new(),
        };
        let starts: Vec<_> = (1..=voters)
            .map(|id| group.config(id, voters, Bootstrap::Initialize))
            .collect();
        for config in starts {
            group.start(config).await;
        }
        group
    }

    fn dir(&self, id: u64) -> PathBuf {
        self.root.path().join(format!("node-{id}"))
    }

    fn config(&self, id: u64, voters: u64, bootstrap: Bootstrap) -> OracleConfig {
        let peers = match bootstrap {
            Bootstrap::Initialize => (1..=voters).map(|v| self.net.info(v)).collect(),
            Bootstrap::Join => Vec::new(),
        };
        OracleConfig {
            node_id: id,
            listen: SocketAddr::new(node_ip(id), 0),
            advertise: Some(self.net.address(id)),
            data_dir: self.dir(id),
            peers,
            bootstrap,
            timing: timing(),
        }
    }

    async fn start(&mut self, config: OracleConfig) {
        let id = config.node_id;
        let node = start(config)
            .await
            .unwrap_or_else(|e| panic!("start node {id}: {e}"));
        self.net.route(id, node.local_addr());
        let mut views = node.committed_views();
        let seen = Arc::clone(&self.seen);
        let conflicts = Arc::clone(&self.conflicts);
        self.watchers.push(tokio::spawn(async move {
            loop {
                let view = views.borrow_and_update().clone();
                if let Ok(mut seen) = seen.lock() {
                    match seen.get(&view.id()) {
                        Some(known) if *known != view => {
                            if let Ok(mut conflicts) = conflicts.lock() {
                                conflicts
                                    .push(format!("node {id}: two contents for {}", view.id()));
                            }
                        }
                        Some(_) => {}
                        None => {
                            seen.insert(view.id(), view);
                        }
                    }
                }
                if views.changed().await.is_err() {
                    return;
                }
            }
        }));
        self.nodes.insert(id, node);
    }

    fn node(&self, id: u64) -> &OracleNode {
        self.nodes
            .get(&id)
            .unwrap_or_else(|| panic!("node {id} is not running"))
    }

    async fn stop(&mut self, id: u64) {
        if let Some(node) = self.nodes.remove(&id) {
            node.shutdown()
                .await
                .unwrap_or_else(|e| panic!("shutdown {id}: {e}"));
        }
    }

    /// Waits until exactly one node in `among` leads with certainty (the
    /// voters among them name it too); returns its id.
    async fn leader(&self, among: &[u64]) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let now = Instant::now();
            let certain: Vec<u64> = among
                .iter()
                .copied()
                .filter(|id| {
                    self.node(*id)
                        .leadership()
                        .borrow()
                        .is_certain_leader_at(now)
                })
                .collect();
            if let [leader] = certain[..] {
                let voters: BTreeSet<u64> = self
                    .node(leader)
                    .status()
                    .voters
                    .iter()
                    .map(|v| v.id)
                    .collect();
                let agreed = among.iter().filter(|id| voters.contains(id)).all(|id| {
                    self.node(*id)
                        .leadership()
                        .borrow()
                        .leader
                        .as_ref()
                        .map(|l| l.id)
                        == Some(leader)
                });
                if agreed {
                    return leader;
                }
            }
            assert!(
                Instant::now() < deadline,
                "no agreed leader among {among:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn view_on(&self, id: u64, want: ViewId) -> View {
        let mut views = self.node(id).committed_views();
        let waited =
            tokio::time::timeout(Duration::from_secs(10), views.wait_for(|v| v.id() >= want)).await;
        match waited {
            Ok(Ok(view)) => view.clone(),
            _ => {
                let statuses: Vec<_> = self.nodes.values().map(Consensus::status).collect();
                panic!("node {id} did not reach {want}: {statuses:#?}")
            }
        }
    }

    /// Checks all running nodes hold the same view `want` and that no id was
    /// ever seen with two contents.
    async fn assert_converged(&self, want: ViewId) -> View {
        let mut views = BTreeSet::new();
        let mut first = None;
        for id in self.nodes.keys() {
            let view = self.view_on(*id, want).await;
            assert_eq!(view.id(), want, "node {id} went past {want}");
            views.insert(format!("{view:?}"));
            first.get_or_insert(view);
        }
        assert_eq!(views.len(), 1, "nodes disagree on {want}");
        let conflicts = self.conflicts.lock().map(|c| c.clone()).unwrap_or_default();
        assert!(conflicts.is_empty(), "{conflicts:?}");
        first.unwrap_or_default()
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        for watcher in &self.watchers {
            watcher.abort();
        }
    }
}

async fn eventually(what: &str, check: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "{what}: not within 10 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn join(name: &str, incarnation: u64) -> ViewCommand {
    ViewCommand::Join {
        member: MemberId::new(name).unwrap_or_else(|e| panic!("{e}")),
        incarnation: Incarnation(incarnation),
        address: format!("{name}.example:7000"),
        roles: BTreeSet::from(
            [ServiceName::new("sector-status").unwrap_or_else(|e| panic!("{e}"))],
        ),
    }
}

fn joined_name(command: &ViewCommand) -> Option<(MemberId, Incarnation)> {
    match command {
        ViewCommand::Join {
            member,
            incarnation,
            ..
        } => Some((member.clone(), *incarnation)),
        _ => None,
    }
}

impl Group {
    fn running(&self) -> Vec<u64> {
        self.nodes.keys().copied().collect()
    }

    /// Commits `command` through whichever node leads. On a loaded machine
    /// leadership may move mid-test (elections are 150-300 ms), so a
    /// `NotLeader` or a timeout is retried on the new leader; a join that an
    /// earlier attempt already committed comes back as a stale rejoin, and
    /// then the committed view is the answer.
    async fn commit(&self, command: ViewCommand) -> View {
        self.commit_among(&self.running(), command).await
    }

    /// [`Self::commit`] through a leader among `among` only.
    async fn commit_among(&self, among: &[u64], command: ViewCommand) -> View {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let leader = self.leader(among).await;
            match self.node(leader).propose(command.clone()).await {
                Ok(view) => return view,
                Err(ConsensusError::Rejected(ithaca_membership::ViewError::StaleIncarnation {
                    ..
                })) if joined_name(&command).is_some_and(|(member, incarnation)| {
                    self.node(leader)
                        .committed_views()
                        .borrow()
                        .has_incarnation(&member, incarnation)
                }) =>
                {
                    return self.node(leader).committed_views().borrow().clone();
                }
                Err(ConsensusError::NotLeader { .. } | ConsensusError::Timeout { .. }) => {}
                Err(other) => panic!("commit {command:?}: {other}"),
            }
            assert!(
                Instant::now() < deadline,
                "commit {command:?}: no stable leader"
            );
        }
    }

    /// Makes `voters` the oracle's voters through whichever node leads.
    async fn change_voters(&self, voters: &[NodeInfo]) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let leader = self.leader(&self.running()).await;
            let result = self
                .node(leader)
                .change_oracle_membership(voters.to_vec())
                .await;
            if self.node(leader).status().voters == voters {
                return;
            }
            match result {
                Err(ConsensusError::NotLeader { .. } | ConsensusError::Timeout { .. }) => {}
                other => panic!("change to {voters:?}: {other:?}"),
            }
            assert!(
                Instant::now() < deadline,
                "change to {voters:?}: no stable leader"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_elect_commit_and_survive_the_loss_of_their_leader() {
    let mut group = Group::new(3, 3).await;
    let first = group.commit(join("a", 1)).await;
    assert_eq!(first.id(), ViewId(1));
    group.assert_converged(ViewId(1)).await;

    // A follower refuses, naming the leader and where to reach it (retried
    // if leadership happens to move in between).
    let mut named = false;
    for _attempt in 0..10 {
        let leader = group.leader(&[1, 2, 3]).await;
        let follower = [1, 2, 3].into_iter().find(|id| *id != leader).unwrap_or(1);
        match group.node(follower).propose(join("x", 1)).await {
            Err(ConsensusError::NotLeader { leader: Some(info) }) if info.id == leader => {
                assert_eq!(info, group.net.info(leader));
                let status = group.node(follower).status();
                assert_ne!(status.role, Role::Leader);
                assert_eq!(status.voters.len(), 3);
                assert_eq!(status.leadership_certain_for_ms, None);
                named = true;
                break;
            }
            Err(ConsensusError::NotLeader { .. }) => {}
            other => panic!("a follower answered {other:?}"),
        }
    }
    assert!(named, "no follower named the leader");

    // Kill the leader: the other two elect a new one, which commits the
    // next view with a higher id.
    let leader = group.leader(&[1, 2, 3]).await;
    let old_term = group.node(leader).leadership().borrow().term;
    group.stop(leader).await;
    let rest: Vec<u64> = [1, 2, 3].into_iter().filter(|id| *id != leader).collect();
    let new_leader = group.leader(&rest).await;
    assert_ne!(new_leader, leader);
    assert!(group.node(new_leader).leadership().borrow().term > old_term);
    let second = group.commit(join("b", 1)).await;
    assert_eq!(second.id(), ViewId(2));
    assert_eq!(second.members().len(), 2);
    group.assert_converged(ViewId(2)).await;

    // The old leader restarts from its data directory and catches up.
    group
        .start(group.config(leader, 3, Bootstrap::Initialize))
        .await;
    let third = group.commit(join("c", 1)).await;
    assert_eq!(third.id(), ViewId(3));
    let converged = group.assert_converged(ViewId(3)).await;
    assert_eq!(converged, third);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_follower_catches_up_from_its_data_directory() {
    let mut group = Group::new(3, 3).await;
    group.commit(join("a", 1)).await;
    group.assert_converged(ViewId(1)).await;

    let leader = group.leader(&[1, 2, 3]).await;
    let follower = [1, 2, 3].into_iter().find(|id| *id != leader).unwrap_or(1);
    group.stop(follower).await;
    // The remaining majority keeps committing without it.
    for (n, name) in ["b", "c", "d"].into_iter().enumerate() {
        let view = group.commit(join(name, 1)).await;
        assert_eq!(view.id(), ViewId(2 + n as u64));
    }
    group
        .start(group.config(follower, 3, Bootstrap::Initialize))
        .await;
    // Before catching up it already has what it had applied or logged.
    let restarted = group.view_on(follower, ViewId(1)).await;
    assert!(restarted.id() >= ViewId(1));
    let view = group.assert_converged(ViewId(4)).await;
    assert_eq!(view.members().len(), 4);
    assert_eq!(group.node(follower).status().view_id, ViewId(4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oracle_membership_grows_to_five_and_shrinks_to_three_by_joint_consensus() {
    let mut group = Group::new(3, 5).await;
    group.commit(join("a", 1)).await;

    for id in [4, 5] {
        group.start(group.config(id, 3, Bootstrap::Join)).await;
        assert_eq!(group.node(id).status().voters.len(), 0);
    }
    let five: Vec<NodeInfo> = (1..=5).map(|id| group.net.info(id)).collect();
    group.change_voters(&five).await;
    let leader = group.leader(&[1, 2, 3, 4, 5]).await;
    let status = group.node(leader).status();
    assert_eq!(status.voters, five);
    assert!(status.learners.is_empty());
    let second = group.commit(join("b", 1)).await;
    assert_eq!(second.id(), ViewId(2));
    group.assert_converged(ViewId(2)).await;
    for id in 1..=5 {
        eventually(&format!("node {id} knows the five voters"), || {
            group.node(id).status().voters == five
        })
        .await;
    }

    // Shrink to three, keeping the newcomers and one of the founders.
    let leader = group.leader(&[1, 2, 3, 4, 5]).await;
    let founder = if leader <= 3 { leader } else { 1 };
    let keep = BTreeSet::from([founder, 4, 5]);
    let three: Vec<NodeInfo> = keep.iter().map(|id| group.net.info(*id)).collect();
    group.change_voters(&three).await;
    // The removed nodes can go; the three remaining still commit.
    let removed: Vec<u64> = (1..=5).filter(|id| !keep.contains(id)).collect();
    for id in removed {
        group.stop(id).await;
    }
    let third = group.commit(join("c", 1)).await;
    assert_eq!(third.id(), ViewId(3));
    group.assert_converged(ViewId(3)).await;
    let leader = group.leader(&group.running()).await;
    assert_eq!(group.node(leader).status().voters, three);

    // Even voter counts are refused.
    let four: Vec<NodeInfo> = (1..=4).map(|id| group.net.info(id)).collect();
    assert!(matches!(
        group.node(leader).change_oracle_membership(four).await,
        Err(ConsensusError::MembershipChange(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_leader_cannot_commit_and_its_certainty_lapses() {
    let mut group = Group::new(3, 3).await;
    group.commit(join("a", 1)).await;
    group.assert_converged(ViewId(1)).await;
    let leader = group.leader(&[1, 2, 3]).await;
    let status = group.node(leader).leadership().borrow().clone();
    assert!(!status.single_voter);
    assert!(status.certain_until.is_some());

    group.net.isolate(leader);
    let cut_at = Instant::now();

    // The minority leader cannot commit: its proposal times out (or it has
    // already stepped down).
    let stuck = group.node(leader).propose(join("ghost", 1)).await;
    assert!(
        matches!(
            stuck,
            Err(ConsensusError::Timeout { .. } | ConsensusError::NotLeader { .. })
        ),
        "{stuck:?}"
    );
    // Its certainty ended within one election timeout of the cut (no
    // acknowledgement can come from behind the cut), and has not come back.
    let lapsed = group.node(leader).leadership().borrow().clone();
    let lapsed_by = cut_at + timing().election_timeout_min;
    assert!(
        lapsed.certain_until.is_none_or(|until| until <= lapsed_by),
        "{lapsed:?}"
    );
    assert!(!lapsed.is_certain_leader_at(Instant::now()));

    // Meanwhile the majority elected another leader and moved on; its
    // certainty starts after the old leader's ended.
    let rest: Vec<u64> = [1, 2, 3].into_iter().filter(|id| *id != leader).collect();
    let new_leader = group.leader(&rest).await;
    let fresh = group.node(new_leader).leadership().borrow().clone();
    assert!(fresh.certain_until > lapsed.certain_until);
    // (If leadership moves again under load, the next leader is again one
    // of the majority: the isolated node cannot win an election.)
    let second = group.commit_among(&rest, join("b", 1)).await;
    assert_eq!(second.id(), ViewId(2));

    // After healing, the old leader converges; the proposal it could not
    // commit is overwritten by the majority's later-term log and never
    // appears in any view.
    group.net.heal();
    let view = group.assert_converged(ViewId(2)).await;
    let ghost = MemberId::new("ghost").unwrap_or_else(|e| panic!("{e}"));
    assert!(!view.members().contains_key(&ghost));
    let seen = group.seen.lock().map(|s| s.clone()).unwrap_or_default();
    assert!(seen.values().all(|v| !v.members().contains_key(&ghost)));
    group.stop(leader).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_left_far_behind_catches_up_from_a_snapshot() {
    let mut group = Group::new(3, 3).await;
    let leader = group.leader(&[1, 2, 3]).await;
    let follower = [1, 2, 3].into_iter().find(|id| *id != leader).unwrap_or(1);
    group.stop(follower).await;

    // More view changes than the leader keeps in its log after a snapshot
    // (one snapshot every 128 entries, 32 kept behind it).
    let total = 200u64;
    for n in 1..=total {
        let view = group.commit(join(&format!("m{n}"), 1)).await;
        assert_eq!(view.id(), ViewId(n));
    }
    // Snapshots are built in the background; the log is purged right after.
    let running = group.running();
    eventually("the running nodes write snapshots", || {
        running
            .iter()
            .all(|id| group.dir(*id).join("snapshot").exists())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    group
        .start(group.config(follower, 3, Bootstrap::Initialize))
        .await;
    let view = group.assert_converged(ViewId(total)).await;
    assert_eq!(view.members().len(), 200);
    eventually("the follower holds the snapshot", || {
        group.dir(follower).join("snapshot").exists()
    })
    .await;

    // The caught-up follower restarts from its own snapshot and log.
    group.stop(follower).await;
    group
        .start(group.config(follower, 3, Bootstrap::Initialize))
        .await;
    group.assert_converged(ViewId(total)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_isolated_follower_never_bumps_its_term_and_catches_up_after_healing() {
    let group = Group::new(3, 3).await;
    group.commit(join("a", 1)).await;
    group.assert_converged(ViewId(1)).await;
    let leader = group.leader(&[1, 2, 3]).await;
    let follower = [1, 2, 3].into_iter().find(|id| *id != leader).unwrap_or(1);
    let rest: Vec<u64> = [1, 2, 3].into_iter().filter(|id| *id != follower).collect();
    let term_before = group.node(follower).status().term;

    group.net.isolate(follower);
    // The majority commits without it.
    let second = group.commit_among(&rest, join("b", 1)).await;
    let third = group.commit_among(&rest, join("c", 1)).await;
    assert_eq!(third.id(), ViewId(3));
    assert!(second.id() < third.id());
    // Many election timeouts (150-300 ms) pass. With pre-vote, the cut-off
    // follower asks whether it could win before it starts an election;
    // nobody answers, so it never starts one: its term stays, and healing
    // does not force the majority's leader out with a higher term.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let cut_off = group.node(follower).status();
    assert_eq!(cut_off.term, term_before, "{cut_off:?}");
    assert_ne!(cut_off.role, Role::Leader, "{cut_off:?}");
    assert!(cut_off.view_id < ViewId(3), "{cut_off:?}");

    group.net.heal();
    let view = group.assert_converged(ViewId(3)).await;
    assert_eq!(view, third);
    let majority_term = rest
        .iter()
        .map(|id| group.node(*id).status().term)
        .max()
        .unwrap_or(0);
    eventually("the healed follower takes the majority's term", || {
        group.node(follower).status().term >= majority_term
    })
    .await;
    let fourth = group.commit(join("d", 1)).await;
    assert_eq!(fourth.id(), ViewId(4));
    group.assert_converged(ViewId(4)).await;
}
