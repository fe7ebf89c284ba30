//! The embedded single-node oracle over real sockets and a real data
//! directory: it initialises itself, commits view changes, refuses invalid
//! ones without changing the view, and restarts from its data directory with
//! its view intact and view ids still growing.

use std::collections::BTreeSet;
use std::time::Duration;

use ithaca_membership::consensus::{
    Consensus, ConsensusError, OracleConfig, OracleNode, RaftTiming, Role, StartError, start,
};
use ithaca_membership::{Incarnation, MemberId, ServiceName, View, ViewCommand, ViewError, ViewId};
use tokio::sync::watch;

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

fn config(dir: &std::path::Path) -> OracleConfig {
    let mut config =
        OracleConfig::single_node("127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}")), dir);
    config.timing = RaftTiming {
        commit_timeout: Duration::from_secs(5),
        ..RaftTiming::default()
    };
    config
}

async fn started(dir: &std::path::Path) -> OracleNode {
    start(config(dir))
        .await
        .unwrap_or_else(|e| panic!("start: {e}"))
}

async fn wait_for<T: Clone>(rx: &mut watch::Receiver<T>, what: &str, ok: impl Fn(&T) -> bool) -> T {
    let waited = tokio::time::timeout(Duration::from_secs(10), rx.wait_for(|v| ok(v))).await;
    match waited {
        Ok(Ok(value)) => value.clone(),
        Ok(Err(_)) => panic!("{what}: channel closed"),
        Err(_) => panic!("{what}: not within 10 s"),
    }
}

async fn leading(node: &OracleNode) {
    let mut leadership = node.leadership();
    let status = wait_for(&mut leadership, "single node leads", |s| {
        s.role == Role::Leader
    })
    .await;
    assert!(status.single_voter);
    assert!(status.is_certain_leader_at(std::time::Instant::now()));
    assert_eq!(status.leader.map(|l| l.id), Some(node.id()));
}

fn member_names(view: &View) -> Vec<String> {
    view.members().keys().map(ToString::to_string).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_node_oracle_commits_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let node = started(dir.path()).await;
    leading(&node).await;

    let first = node
        .propose(join("a", 1))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(first.id(), ViewId(1));
    let second = node
        .propose(join("b", 1))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(second.id(), ViewId(2));
    assert_eq!(member_names(&second), ["a", "b"]);

    // A stale rejoin commits as a rejected entry: the proposer gets the
    // view's error and the view stays as it was.
    let stale = node.propose(join("a", 1)).await;
    assert!(
        matches!(
            stale,
            Err(ConsensusError::Rejected(ViewError::StaleIncarnation { .. }))
        ),
        "{stale:?}"
    );
    assert_eq!(node.committed_views().borrow().clone(), second);

    let status = node.status();
    assert_eq!(status.role, Role::Leader);
    assert_eq!(status.view_id, ViewId(2));
    assert_eq!(status.rejected_commands, 1);
    assert_eq!(status.voters.iter().map(|v| v.id).collect::<Vec<_>>(), [1]);
    assert!(status.learners.is_empty());
    // Index 0 holds the initial membership, 1 the leader's blank entry,
    // then the three proposals (metrics may trail the reply by a moment).
    assert!(status.last_log_index >= Some(4), "{status:?}");
    assert!(status.applied_index >= Some(3), "{status:?}");

    // Only one process may own a data directory.
    let busy = start(config(dir.path())).await;
    assert!(
        matches!(busy, Err(StartError::DataDirInUse { .. })),
        "{busy:?}"
    );

    node.shutdown()
        .await
        .unwrap_or_else(|e| panic!("shutdown: {e}"));
    assert_eq!(node.leadership().borrow().role, Role::Shutdown);
    assert!(matches!(
        node.propose(join("c", 1)).await,
        Err(ConsensusError::Shutdown)
    ));

    // Restart from the same directory: the view comes back from the log.
    let node = started(dir.path()).await;
    let mut views = node.committed_views();
    let restored = wait_for(&mut views, "view restored", |v| v.id() == ViewId(2)).await;
    assert_eq!(restored, second);
    leading(&node).await;
    let third = node
        .propose(join("c", 1))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(third.id(), ViewId(3));
    assert_eq!(member_names(&third), ["a", "b", "c"]);
    assert_eq!(node.status().rejected_commands, 1);
    node.shutdown()
        .await
        .unwrap_or_else(|e| panic!("shutdown: {e}"));

    // And once more, to show ids keep growing across restarts.
    let node = started(dir.path()).await;
    let mut views = node.committed_views();
    wait_for(&mut views, "view restored again", |v| v.id() == ViewId(3)).await;
    leading(&node).await;
    let fourth = node
        .propose_batch(vec![
            ViewCommand::Leave {
                member: MemberId::new("a").unwrap_or_else(|e| panic!("{e}")),
                incarnation: Incarnation(1),
            },
            join("d", 1),
        ])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(fourth.id(), ViewId(4));
    assert_eq!(member_names(&fourth), ["b", "c", "d"]);
    node.shutdown()
        .await
        .unwrap_or_else(|e| panic!("shutdown: {e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_and_oversized_batches_are_refused_before_the_log() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let node = started(dir.path()).await;
    leading(&node).await;
    let before = node.status().last_log_index;
    assert!(matches!(
        node.propose_batch(Vec::new()).await,
        Err(ConsensusError::Rejected(ViewError::EmptyBatch))
    ));
    let many = (0..65).map(|i| join(&format!("m{i}"), 1)).collect();
    assert!(matches!(
        node.propose_batch(many).await,
        Err(ConsensusError::Rejected(ViewError::LimitExceeded { .. }))
    ));
    assert_eq!(node.status().last_log_index, before);
    node.shutdown()
        .await
        .unwrap_or_else(|e| panic!("shutdown: {e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_dropped_without_shutdown_releases_its_directory_once_stopped() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let node = started(dir.path()).await;
    leading(&node).await;
    let view = node
        .propose(join("a", 1))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    drop(node);

    // The dropped node stops in the background; until it has, the
    // directory stays locked.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let node = loop {
        match start(config(dir.path())).await {
            Ok(node) => break node,
            Err(StartError::DataDirInUse { .. }) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("restart: {e}"),
        }
    };
    let mut views = node.committed_views();
    assert_eq!(
        wait_for(&mut views, "view restored", |v| v.id() == view.id()).await,
        view
    );
    node.shutdown()
        .await
        .unwrap_or_else(|e| panic!("shutdown: {e}"));
}
