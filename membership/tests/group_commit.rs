//! Group commit on an oracle node: a burst of joins becomes a few view
//! changes, not one per member; a refused join in the burst is answered
//! alone while the others commit; identical retries are answered alike;
//! and a burst of silent members is removed a batch at a time while a live
//! one stays.
//!
//! The node runs over loopback sockets with the in-memory test consensus
//! behind a wrapper that makes every commit take 20 ms, the time a majority
//! fsync round trip takes, so joins queue up while a commit is in flight
//! as they do on a real oracle.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ithaca_membership::consensus::{
    Consensus, ConsensusError, ConsensusFuture, LeadershipStatus, NodeInfo, OracleStatus,
};
use ithaca_membership::node::in_memory::InMemoryConsensus;
use ithaca_membership::node::{MembershipNode, NodeConfig};
use ithaca_membership::wire::frame::{PREFIX_LEN, encode_frame, frame_len};
use ithaca_membership::wire::{JOIN_VIEW_INLINE_MAX, Message, RejectCode};
use ithaca_membership::{
    DetectorConfig, Incarnation, MemberId, TimingConfig, View, ViewCommand, ViewId,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::watch;

/// The in-memory consensus with a fixed commit time, counting proposals.
struct SlowConsensus {
    inner: InMemoryConsensus,
    commit_time: Duration,
    proposals: AtomicU64,
}

impl Consensus for SlowConsensus {
    fn propose_batch(
        &self,
        commands: Vec<ViewCommand>,
    ) -> ConsensusFuture<'_, Result<View, ConsensusError>> {
        Box::pin(async move {
            self.proposals.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(self.commit_time).await;
            self.inner.propose_batch(commands).await
        })
    }

    fn committed_views(&self) -> watch::Receiver<View> {
        self.inner.committed_views()
    }

    fn leadership(&self) -> watch::Receiver<LeadershipStatus> {
        self.inner.leadership()
    }

    fn status(&self) -> OracleStatus {
        self.inner.status()
    }

    fn change_oracle_membership(
        &self,
        voters: Vec<NodeInfo>,
    ) -> ConsensusFuture<'_, Result<(), ConsensusError>> {
        self.inner.change_oracle_membership(voters)
    }

    fn shutdown(&self) -> ConsensusFuture<'_, Result<(), ConsensusError>> {
        self.inner.shutdown()
    }
}

/// Members in these tests join without heartbeating, so the suspicion
/// timeout must outlast a whole burst of joins even on a loaded machine
/// (a member removed mid-burst would rejoin as a stale incarnation).
fn timing() -> TimingConfig {
    TimingConfig {
        lease: Duration::from_secs(2),
        heartbeat_interval: Duration::from_millis(200),
        clock_drift_ppm: 10_000,
        suspicion_timeout: Duration::from_secs(3),
    }
}

async fn oracle() -> (Arc<SlowConsensus>, MembershipNode) {
    let consensus = Arc::new(SlowConsensus {
        inner: InMemoryConsensus::new(),
        commit_time: Duration::from_millis(20),
        proposals: AtomicU64::new(0),
    });
    let detector = DetectorConfig {
        timing: timing(),
        stall_threshold: timing().heartbeat_interval,
        ..DetectorConfig::default()
    };
    let mut config = NodeConfig::new("127.0.0.1:0".parse().unwrap(), detector);
    config.tick_interval = Duration::from_millis(10);
    config.max_connections = 1_024;
    let node = MembershipNode::start(config, consensus.clone() as Arc<dyn Consensus>)
        .await
        .unwrap();
    (consensus, node)
}

async fn tcp_exchange(target: SocketAddr, message: &Message<'_>) -> Vec<u8> {
    let mut frame = Vec::new();
    encode_frame(message, &mut frame).unwrap();
    let mut stream = TcpStream::connect(target).await.unwrap();
    stream.write_all(&frame).await.unwrap();
    let mut prefix = [0u8; PREFIX_LEN];
    stream.read_exact(&mut prefix).await.unwrap();
    let mut body = vec![0u8; frame_len(prefix).unwrap()];
    stream.read_exact(&mut body).await.unwrap();
    body
}

/// Joins `name` at `incarnation`: the view answered, or the refusal code.
async fn join(target: SocketAddr, name: String, incarnation: u64) -> Result<View, RejectCode> {
    let answer = tcp_exchange(
        target,
        &Message::Join {
            request_id: 9,
            member: &name,
            incarnation: Incarnation(incarnation),
            address: "127.0.0.1:9",
            roles: Vec::new(),
        },
    )
    .await;
    match Message::decode(&answer).unwrap() {
        Message::JoinReply { request_id, view } => {
            assert_eq!(request_id, 9);
            Ok(*view)
        }
        Message::Rejected { code, .. } => Err(code),
        other => panic!("unexpected answer {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_joins_commits_in_a_few_view_changes() {
    let (consensus, node) = oracle().await;
    let target = node.local_addr();
    join(target, "veteran".to_owned(), 2).await.unwrap();
    let before = consensus.proposals.load(Ordering::Relaxed);

    let mut joins = tokio::task::JoinSet::new();
    for index in 0..300 {
        joins.spawn(async move {
            let name = format!("m-{index:03}");
            (name.clone(), join(target, name, 1).await)
        });
    }
    // A stale rejoin and a retried join arrive in the same burst.
    joins.spawn(async move {
        (
            "veteran".to_owned(),
            join(target, "veteran".to_owned(), 1).await,
        )
    });
    joins.spawn(async move {
        (
            "m-007".to_owned(),
            join(target, "m-007".to_owned(), 1).await,
        )
    });

    let mut answers = Vec::new();
    while let Some(done) = joins.join_next().await {
        answers.push(done.unwrap());
    }
    for (name, answer) in &answers {
        match (name.as_str(), answer) {
            ("veteran", answer) => assert_eq!(answer, &Err(RejectCode::StaleIncarnation)),
            (name, Ok(view)) => assert!(
                view.has_incarnation(&MemberId::new(name).unwrap(), Incarnation(1)),
                "{name} is not in the view its join answered"
            ),
            (name, Err(code)) => panic!("{name} refused: {code:?}"),
        }
    }
    let view = node.views().borrow().view.clone();
    assert_eq!(view.members().len(), 301);
    let commits = consensus.proposals.load(Ordering::Relaxed) - before;
    // 300 joins, at most 64 per view change, one commit in flight at a
    // time: a handful of view changes, far from 300.
    assert!(commits <= 30, "{commits} commits for 300 joins");
    assert_eq!(view.id(), ViewId(1 + commits));
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_members_are_removed_a_batch_at_a_time() {
    let (consensus, node) = oracle().await;
    let target = node.local_addr();
    let mut joins = tokio::task::JoinSet::new();
    for index in 0..150 {
        joins.spawn(async move { join(target, format!("quiet-{index:03}"), 1).await });
    }
    while let Some(done) = joins.join_next().await {
        done.unwrap().unwrap();
    }
    // One member stays alive: on a loaded machine the node's event loop may
    // stall, and the local-health guard then holds removals until it hears
    // a heartbeat that arrived after the stall.
    let alive = join(target, "alive".to_owned(), 1).await.unwrap();
    let heartbeats = tokio::spawn(async move {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut datagram = Vec::new();
        Message::Heartbeat {
            member: "alive",
            incarnation: Incarnation(1),
            request_id: 1,
            seen_view: alive.id(),
        }
        .encode(&mut datagram)
        .unwrap();
        loop {
            let _ = socket.send_to(&datagram, target).await;
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    });
    let joined = node.views().borrow().view.clone();
    assert_eq!(joined.members().len(), 151);
    let before = consensus.proposals.load(Ordering::Relaxed);
    // The others are silent: after S each is convicted and removed.
    let mut views = node.views();
    tokio::time::timeout(
        Duration::from_secs(30),
        views.wait_for(|view| view.view.members().len() == 1),
    )
    .await
    .unwrap()
    .unwrap();
    let commits = consensus.proposals.load(Ordering::Relaxed) - before;
    assert!(commits <= 10, "{commits} commits for 150 removals");
    let removed = node.views().borrow().view.clone();
    let tombstones: BTreeSet<_> = removed.tombstones().keys().cloned().collect();
    assert_eq!(tombstones.len(), 150);
    // The removal task counts its commits once their view is published.
    for _ in 0..200 {
        if node.counters().removals_committed >= 150 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(node.counters().removals_committed, 150);
    assert!(removed.has_incarnation(&MemberId::new("alive").unwrap(), Incarnation(1)));
    heartbeats.abort();
    node.shutdown().await;
}

/// Joins `name` with the compact join; returns the answer's size, view id
/// and whether it carried the view.
async fn join_compact(target: SocketAddr, name: &str) -> (usize, ViewId, Option<View>) {
    let answer = tcp_exchange(
        target,
        &Message::JoinCompact {
            request_id: 11,
            member: name,
            incarnation: Incarnation(1),
            address: "127.0.0.1:9",
            roles: Vec::new(),
        },
    )
    .await;
    match Message::decode(&answer).unwrap() {
        Message::JoinAccepted {
            request_id,
            view_id,
            incarnation,
            lease,
            view,
        } => {
            assert_eq!(request_id, 11);
            assert_eq!(incarnation, Incarnation(1));
            assert_eq!(lease, timing().lease);
            (answer.len(), view_id, view.map(|view| *view))
        }
        other => panic!("unexpected answer {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compact_join_answer_stays_small_in_a_large_group() {
    let (_consensus, node) = oracle().await;
    let target = node.local_addr();
    // A small group: the view comes inline and holds the joiner.
    let (_, id, view) = join_compact(target, "first").await;
    let view = view.expect("a small view travels inline");
    assert_eq!(view.id(), id);
    assert!(view.member(&MemberId::new("first").unwrap()).is_some());

    // Grow the group past the inline bound with plain joins.
    let mut joins = tokio::task::JoinSet::new();
    for index in 0..400 {
        joins.spawn(async move { join(target, format!("bulk-{index:03}"), 1).await });
    }
    while let Some(joined) = joins.join_next().await {
        joined.unwrap().unwrap();
    }
    let whole = node.views().borrow().json.len();
    assert!(whole > JOIN_VIEW_INLINE_MAX, "the view is {whole} bytes");

    // Now a join answers with the view id alone, and that view holds it.
    let (size, id, view) = join_compact(target, "late").await;
    assert!(view.is_none());
    assert!(size < 64, "a compact answer of {size} bytes");
    let committed = node.views().borrow().view.clone();
    assert!(committed.id() >= id);
    assert!(committed.member(&MemberId::new("late").unwrap()).is_some());
    // A retried compact join is answered alike, without a new commit.
    let (_, again, _) = join_compact(target, "late").await;
    assert_eq!(again, id);
    node.shutdown().await;
}

/// Waits until the heartbeat task installed view `id` (its snapshot, which
/// a group this small gets at every view change, names it).
async fn installed(node: &MembershipNode, id: ViewId) {
    let mut snapshots = node.snapshots();
    tokio::time::timeout(
        Duration::from_secs(10),
        snapshots.wait_for(|snapshot| snapshot.view_id >= id),
    )
    .await
    .unwrap()
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_view_change_costs_the_heartbeat_task_the_members_it_touched() {
    let (consensus, node) = oracle().await;
    let target = node.local_addr();
    assert_eq!(node.counters().members_synced, 0);

    // A group of 600 forms in a burst of joins: a dozen or more view
    // changes.
    let mut joins = tokio::task::JoinSet::new();
    for index in 0..600 {
        joins.spawn(async move { join_compact(target, &format!("burst-{index:03}")).await });
    }
    while let Some(joined) = joins.join_next().await {
        joined.unwrap();
    }
    let formed = Arc::clone(&node.views().borrow());
    installed(&node, formed.id()).await;
    let after_burst = node.counters();
    let commits = consensus.proposals.load(Ordering::Relaxed);
    assert!(commits >= 10, "{commits} view changes for 600 joins");
    assert!(after_burst.views_installed >= 1);
    assert!(after_burst.views_installed <= formed.id().0);
    // Each join was looked at once, in the view change that committed it
    // (and a member removed meanwhile once more): 600 in all. Syncing with
    // each whole view instead costs the sum of the views' sizes, about
    // 600 × view changes / 2.
    assert_eq!(after_burst.view_full_syncs, 0);
    let removed = formed.view.tombstones().len() as u64;
    let joined = (formed.view.members().len() as u64) + removed;
    assert_eq!(joined, 600);
    assert!(
        (600..=600 + 2 * removed).contains(&after_burst.members_synced),
        "{} members synced for 600 joins and {removed} removals",
        after_burst.members_synced
    );

    // One more join into the group of 600 costs the heartbeat task one.
    let (_, id, _) = join_compact(target, "one-more").await;
    installed(&node, id).await;
    let after_one = node.counters();
    assert_eq!(after_one.view_full_syncs, 0);
    let removed_since = node.views().borrow().view.tombstones().len() as u64 - removed;
    assert!(
        after_one.members_synced - after_burst.members_synced <= 1 + 2 * removed_since,
        "{} members synced for one join",
        after_one.members_synced - after_burst.members_synced
    );
    assert!(after_one.members_synced > after_burst.members_synced);
    node.shutdown().await;
}

#[tokio::test]
async fn the_heartbeat_socket_asks_for_room_for_a_burst() {
    // Linux reports the receive buffer it grants doubled; the default one
    // (net.core.rmem_default, 208 KiB on most systems) holds about 4 ms of
    // heartbeats from 10 000 members.
    let Ok(default) = std::fs::read_to_string("/proc/sys/net/core/rmem_default") else {
        return;
    };
    let default: usize = default.trim().parse().unwrap();
    let (_consensus, node) = oracle().await;
    assert!(
        node.receive_buffer() > default,
        "receive buffer {} is not above the default {default}",
        node.receive_buffer()
    );
    // Where the kernel allows the whole request, the node got all of it.
    let cap = std::fs::read_to_string("/proc/sys/net/core/rmem_max")
        .ok()
        .and_then(|cap| cap.trim().parse::<usize>().ok())
        .unwrap_or(0);
    if cap >= ithaca_membership::node::DEFAULT_SOCKET_BUFFER {
        assert!(
            node.receive_buffer() >= ithaca_membership::node::DEFAULT_SOCKET_BUFFER,
            "receive buffer {} under the {} asked for (rmem_max {cap})",
            node.receive_buffer(),
            ithaca_membership::node::DEFAULT_SOCKET_BUFFER
        );
    }
    node.shutdown().await;
}
