//! Real processes: a 3-node oracle (`ithaca serve --oracle-peers …`, each
//! with its own data directory and ports) and 4 members (`ithaca
//! membership member`), all separate OS processes on loopback, faults
//! aimed at the members (and one at the oracle leader). The cluster and
//! its fault-injecting proxies are `membership_cluster/mod.rs`;
//! `membership_oracle_faults.rs` aims faults at the oracle nodes.
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

mod membership_cluster;

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use ithaca_testkit::faultproxy::Direction;
use ithaca_testkit::membership_history::monotonic_now_ns;
use membership_cluster::{
    BIN, Cluster, L, MEMBERS, S, SERIAL, SERVICE, SLACK, http_get, member_ids, ms, signal,
};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::Command;
use tokio::time::{Instant, sleep};

fn free_port() -> u16 {
    ithaca_testkit::free_port().unwrap()
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
    cluster.kill_oracle(leader).await;

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
