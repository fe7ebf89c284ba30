//! Real processes, faults aimed at the oracle nodes: the cluster of
//! `membership_cluster/mod.rs` (a 3-node oracle, `ithaca serve
//! --oracle-peers …`, and 4 members, `ithaca membership member`, all
//! separate OS processes on loopback, every link through a fault proxy).
//!
//! - `kill -STOP` of the oracle leader for less than the election timeout
//!   and for less than the lease: no view change, nobody removed, joins
//!   still commit after `kill -CONT`;
//! - `kill -STOP` of the oracle leader for longer than the lease: the other
//!   two elect a leader, which removes nobody for one lease (a member
//!   killed just before is removed only after that); the old leader,
//!   continued while still cut off, still believes it leads, but refuses a
//!   join sent to it (its leadership is not certain, and openraft refuses
//!   writes on an expired leader lease, so nothing is even appended); the
//!   join appears in no view; after healing it follows the new leader;
//! - the same pause with the old leader's links left as they are: on
//!   `kill -CONT` it steps down to follower in a later term, a join queued
//!   in its socket while it was stopped is refused and never commits, and
//!   the view never changed;
//! - `kill -9` of the oracle leader and a restart on its data directory
//!   after the others moved on: it starts from its log, catches up, and
//!   later views commit on all three; its `GET /membership/watch` stream
//!   never goes back nor shows an id with other contents;
//! - one follower cut off from the other two nodes: nothing changes for the
//!   members, joins commit on the majority, and after healing it catches
//!   up (and, with pre-vote, its term never ran ahead while cut off);
//! - clocks running at another rate (libfaketime preloaded, see
//!   `membership_cluster::FakeClock`): every oracle node's clock 0.99 %
//!   fast, alone and with the primary's clock 0.99 % slow (the worst the
//!   drift bound ρ = 1 % allows at both ends): healthy members stay and a
//!   cut-off primary stops on its lease before its backup starts; beyond
//!   the bound (the oracle's clocks three times as fast, or the primary's
//!   at 0.4), the backup starts while the old primary still acts, and the
//!   history checker reports the overlap. A member on a fake clock records
//!   its `start`/`stop` times from its (faked) `Instant`s but its other
//!   times from the real `CLOCK_MONOTONIC` (rustix's system call, which
//!   libfaketime does not see); the harness puts the former back on the
//!   real clock before the checker reads them.
//!
//! After each, the history checker (`ithaca_testkit::membership_history`)
//! runs over every member's record, and every view an oracle node answered
//! must have the content the members recorded for that id.
//!
//! Timing is the default (L = 2 s, S = 2.6 s, oracle elections 150–300 ms).
//! The tests take the harness lock and run one at a time; the file takes
//! about 70 s. `MEMBERSHIP_TEST_ORACLE_LOG=openraft=info,warn` sets the
//! oracle processes' log filter; failure messages carry the end of their
//! logs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod membership_cluster;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ithaca_membership::Incarnation;
use ithaca_membership::wire::Message;
use ithaca_membership::wire::frame::{PREFIX_LEN, encode_frame, frame_len};
use ithaca_testkit::membership_history::{Interval, monotonic_now_ns};
use membership_cluster::{
    Cluster, FakeClock, L, LEASE_ON_ORACLE_CLOCK, ORACLES, S, SERIAL, SERVICE, SLACK,
    assert_fake_clock, assert_one_content_per_id, ithaca, member_ids, ms,
};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep, sleep_until};

/// Sends a wire-protocol `Join` for `member` straight to an oracle node's
/// member port (no proxy) and describes the answer: `joined`,
/// `not-leader`, `rejected: CODE REASON`, or `no answer` within `within`.
async fn join_directly(address: SocketAddr, member: &str, within: Duration) -> String {
    let work = async {
        let mut stream = TcpStream::connect(address).await.ok()?;
        let mut frame = Vec::new();
        encode_frame(
            &Message::Join {
                request_id: 7,
                member,
                incarnation: Incarnation(1),
                address: "127.0.0.1:9",
                roles: vec![SERVICE],
            },
            &mut frame,
        )
        .ok()?;
        stream.write_all(&frame).await.ok()?;
        let mut prefix = [0; PREFIX_LEN];
        stream.read_exact(&mut prefix).await.ok()?;
        let mut body = vec![0; frame_len(prefix).ok()?];
        stream.read_exact(&mut body).await.ok()?;
        Some(match Message::decode(&body).ok()? {
            Message::JoinReply { .. } | Message::JoinAccepted { .. } => "joined".to_owned(),
            Message::NotLeader { .. } => "not-leader".to_owned(),
            Message::Rejected { code, reason, .. } => {
                format!("rejected: {} {reason}", code.as_str())
            }
            other => format!("{other:?}"),
        })
    };
    tokio::time::timeout(within, work)
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| "no answer".to_owned())
}

/// Follows `GET /membership/watch` on `admin` (server-sent events) and
/// collects every view it announces, in order, until aborted.
fn watch_views(admin: SocketAddr) -> (JoinHandle<()>, Arc<Mutex<Vec<Value>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let task = tokio::spawn(async move {
        let Ok(mut stream) = TcpStream::connect(admin).await else {
            return;
        };
        let request = "GET /membership/watch HTTP/1.1\r\nHost: test\r\n\r\n";
        if stream.write_all(request.as_bytes()).await.is_err() {
            return;
        }
        // Each event is one chunk of the chunked body, so its `data:` line
        // is whole; chunk sizes and keep-alives are other lines.
        let mut pending = Vec::new();
        let mut buffer = [0; 16 * 1024];
        loop {
            let Ok(read) = stream.read(&mut buffer).await else {
                return;
            };
            if read == 0 {
                return;
            }
            pending.extend_from_slice(&buffer[..read]);
            while let Some(end) = pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = pending.drain(..=end).collect();
                if let Some(data) = line.strip_prefix(b"data: ")
                    && let Ok(view) = serde_json::from_slice::<Value>(data)
                {
                    sink.lock().unwrap().push(view);
                }
            }
        }
    });
    (task, seen)
}

fn id_of(view: &Value) -> u64 {
    view["id"].as_u64().expect("a view id")
}

/// Waits until the oracle nodes converge on a view that `done` accepts.
async fn converged_on(cluster: &Cluster, within: Duration, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let view = cluster.converged(within).await;
        if done(&view) {
            return view;
        }
        assert!(
            Instant::now() < deadline,
            "no converged view as wanted within {within:?}: {view}"
        );
        sleep(Duration::from_millis(100)).await;
    }
}

/// `kill -STOP` of the oracle leader for 100 ms (less than the 150 ms
/// election timeout) and then for 1 s (less than the lease): the view
/// never changes, nobody is removed, only `m1` ever serves, and after
/// `kill -CONT` a new member's join commits on every node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pauses_of_the_oracle_leader_shorter_than_the_lease_change_no_view() {
    let _serial = SERIAL.lock().await;
    let mut cluster = Cluster::start("oracle-short-pause").await;
    let before = cluster.converged(Duration::from_secs(20)).await;

    for pause in [Duration::from_millis(100), Duration::from_millis(1000)] {
        let leader = cluster.leader(Duration::from_secs(10)).await;
        cluster.pause_oracle(leader);
        sleep(pause).await;
        cluster.resume_oracle(leader);
        // Past S after the pause began: a false conviction (by the paused
        // leader on waking, or by a newly elected one) would be committed.
        sleep(S + Duration::from_millis(500)).await;
        let after = cluster.converged(Duration::from_secs(15)).await;
        assert_eq!(after, before, "the view changed after a {pause:?} pause");
    }
    for node in 0..ORACLES {
        let status = cluster.status_on(node).await.unwrap();
        assert_eq!(
            status["heartbeats"]["removals_committed"], 0,
            "node {node} removed someone: {status:#}"
        );
    }
    let history = cluster.check();
    assert!(
        history.intervals(SERVICE).iter().all(|i| i.member == "m1"),
        "only m1 ever served: {:?}",
        history.intervals(SERVICE)
    );

    // Writes continue: a join commits, on every node.
    cluster.start_member("m5").await;
    let joined = converged_on(&cluster, Duration::from_secs(15), |view| {
        view["members"]["m5"].is_object()
    })
    .await;
    assert_eq!(id_of(&joined), id_of(&before) + 1, "{joined}");
    assert_eq!(joined["primaries"][SERVICE], "m1");

    // What an operator sees.
    let leader = cluster.leader(Duration::from_secs(10)).await;
    let admin = format!("http://{}", cluster.oracles[leader].admin);
    let text = ithaca(&["membership", "view", "--admin", &admin]).await;
    assert!(
        text.starts_with(&format!("view {}: 5 member(s)", id_of(&joined))),
        "{text}"
    );
    assert!(
        text.contains("service svc: primary m1 backups m2,m3,m4,m5"),
        "{text}"
    );
    let status = ithaca(&["membership", "oracle-status", "--admin", &admin]).await;
    assert!(status.contains(": leader in term"), "{status}");

    let history = cluster.check();
    assert_one_content_per_id(&history, &[before, joined]);
}

/// `kill -STOP` of the oracle leader for longer than two leases. `m4` was
/// killed half a second before, so the old leader had not convicted it.
/// The other two nodes elect a leader; every view they answer until one
/// lease after the stop still has all four members (the new leader's
/// wait), then `m4` alone is removed. The old leader is cut off from its
/// peers before `kill -CONT`, so it wakes still believing it leads; a
/// `Join` sent to it then (a stale proposal) is refused without being
/// appended to its log, and appears in no view on any node or member.
/// After healing, the old leader follows the new one in a later term, and
/// joins commit again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_of_the_oracle_leader_longer_than_the_lease_elects_another_and_stale_proposals_never_commit()
 {
    let _serial = SERIAL.lock().await;
    let mut cluster = Cluster::start("oracle-long-pause").await;
    let before = cluster.converged(Duration::from_secs(20)).await;
    let old = cluster.leader(Duration::from_secs(10)).await;
    let old_term = cluster.status_on(old).await.unwrap()["oracle"]["term"]
        .as_u64()
        .unwrap();

    cluster.kill_member("m4").await;
    sleep(Duration::from_millis(500)).await;
    let just_before = cluster.view_on(old).await.unwrap();
    assert!(
        just_before["members"]["m4"].is_object(),
        "m4 was removed less than S after its death: {just_before}"
    );
    // Cut the leader off from its peers as it stops, so that nothing of
    // the next term reaches it (not even bytes queued in its sockets while
    // it is stopped): when it continues it still believes it leads.
    cluster.isolate_oracle(old);
    let stopped_at = Instant::now();
    cluster.pause_oracle(old);

    // Until one lease (on the oracle's clock) after the stop, every view
    // the others answer still has all four members: a new leader removes
    // nobody before its predecessor's leases ran out.
    let grace_end = stopped_at + LEASE_ON_ORACLE_CLOCK;
    let mut answers = 0;
    let mut seen = vec![before.clone(), just_before.clone()];
    while Instant::now() < grace_end {
        for node in cluster.live_oracles() {
            if Instant::now() >= grace_end {
                break;
            }
            if let Some(view) = cluster.view_on(node).await {
                assert_eq!(
                    member_ids(&view),
                    ["m1", "m2", "m3", "m4"],
                    "a member was removed within one lease of the leader's stop"
                );
                answers += 1;
                seen.push(view);
            }
        }
        sleep(Duration::from_millis(50)).await;
    }
    assert!(answers > 0, "no oracle node answered during the grace");
    let new_leader = cluster.leader(Duration::from_secs(15)).await;
    assert_ne!(new_leader, old);

    // Queue a join in the stopped node's socket, and let it run on its
    // own.
    let ghost = tokio::spawn(join_directly(
        cluster.member_addresses[old],
        "ghost",
        Duration::from_secs(20),
    ));
    sleep_until(stopped_at + 2 * L + Duration::from_millis(500)).await;
    cluster.resume_oracle(old);
    sleep(Duration::from_secs(1)).await;
    let alone = cluster.status_on(old).await.unwrap();
    let alone_members = cluster.members_report_on(old).await;
    let answer = ghost.await.unwrap();
    cluster.heal_oracles();
    // It still believes it leads (nothing of the new term reached it), but
    // its leadership is not certain: it grants no lease, and openraft
    // refuses the write on its expired leader lease, so the proposal is
    // not even appended to its log.
    assert_eq!(
        answer, "not-leader",
        "the cut-off old leader's answer to a join; its status then: {alone:#}"
    );
    assert!(
        alone["oracle"]["leadership_certain_for_ms"].is_null(),
        "{alone:#}"
    );
    assert_eq!(
        alone["oracle"]["last_log_index"], alone["oracle"]["committed_index"],
        "the cut-off old leader appended a stale entry: {alone:#}"
    );
    eprintln!(
        "the cut-off old leader: role {}, /membership/members oracle_leader {}",
        alone["oracle"]["role"], alone_members["oracle_leader"]
    );

    // m4, and only m4, is removed, by the new leader; the old leader
    // follows in a later term.
    let removed = converged_on(&cluster, S + SLACK + Duration::from_secs(10), |view| {
        view["members"]["m4"].is_null()
    })
    .await;
    assert_eq!(member_ids(&removed), ["m1", "m2", "m3"], "{removed}");
    for member in ["m1", "m2", "m3"] {
        assert_eq!(removed["members"][member]["incarnation"], 1, "{removed}");
    }
    assert_eq!(removed["primaries"][SERVICE], "m1");
    let status = cluster.status_on(old).await.unwrap();
    assert_eq!(status["oracle"]["role"], "follower", "{status:#}");
    assert!(status["oracle"]["term"].as_u64().unwrap() > old_term);
    seen.push(removed.clone());

    // Writes continue.
    cluster.start_member("m5").await;
    let joined = converged_on(&cluster, Duration::from_secs(15), |view| {
        view["members"]["m5"].is_object()
    })
    .await;
    assert_eq!(id_of(&joined), id_of(&removed) + 1, "{joined}");
    seen.push(joined);

    let history = cluster.check();
    assert_one_content_per_id(&history, &seen);
    let ghosts: Vec<u64> = history
        .views()
        .iter()
        .filter(|(_, view)| view["members"]["ghost"].is_object())
        .map(|(id, _)| *id)
        .collect();
    assert!(
        ghosts.is_empty(),
        "the stale proposal committed in views {ghosts:?} (answer: {answer}; old leader cut off: {alone:#})"
    );
}

/// `kill -STOP` of the oracle leader for longer than two leases, its links
/// left as they are (the usual case): the other two elect a leader; on
/// `kill -CONT` the old leader hears the new term and steps down (its
/// status and `ithaca membership oracle-status` say follower in a later
/// term, and it no longer reports itself leader). A `Join` queued in its
/// socket while it was stopped is refused and appears in no view. No
/// member was removed, the view never changed, and joins commit through
/// the new leader.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_continued_oracle_leader_steps_down_and_the_join_queued_while_it_was_stopped_never_commits()
 {
    let _serial = SERIAL.lock().await;
    let mut cluster = Cluster::start("oracle-continued").await;
    let before = cluster.converged(Duration::from_secs(20)).await;
    let old = cluster.leader(Duration::from_secs(10)).await;
    let old_term = cluster.status_on(old).await.unwrap()["oracle"]["term"]
        .as_u64()
        .unwrap();

    let stopped_at = Instant::now();
    cluster.pause_oracle(old);
    let new_leader = cluster.leader(Duration::from_secs(15)).await;
    assert_ne!(new_leader, old);
    let ghost = tokio::spawn(join_directly(
        cluster.member_addresses[old],
        "ghost",
        Duration::from_secs(20),
    ));
    sleep_until(stopped_at + 2 * L + Duration::from_millis(500)).await;
    cluster.resume_oracle(old);
    let answer = ghost.await.unwrap();
    assert_eq!(answer, "not-leader", "the continued old leader's answer");

    // It steps down: a follower in a later term, not a leader any more.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = cluster.status_on(old).await;
        let report = cluster.members_report_on(old).await;
        if let Some(status) = &status
            && status["oracle"]["role"] == "follower"
            && status["oracle"]["term"].as_u64().unwrap_or(0) > old_term
            && report["oracle_leader"] == false
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the continued old leader did not step down: {status:?} {report}"
        );
        sleep(Duration::from_millis(100)).await;
    }
    let text = ithaca(&[
        "membership",
        "oracle-status",
        "--admin",
        &format!("http://{}", cluster.oracles[old].admin),
    ])
    .await;
    assert!(text.contains(": follower in term"), "{text}");

    // Nobody was removed: the view is the one before the stop, everywhere.
    let after = cluster.converged(Duration::from_secs(15)).await;
    assert_eq!(after, before, "the view changed");
    assert_ne!(cluster.leader(Duration::from_secs(10)).await, old);

    // Writes continue.
    cluster.start_member("m5").await;
    let joined = converged_on(&cluster, Duration::from_secs(15), |view| {
        view["members"]["m5"].is_object()
    })
    .await;
    assert_eq!(id_of(&joined), id_of(&before) + 1, "{joined}");

    let history = cluster.check();
    assert_one_content_per_id(&history, &[before, after, joined]);
    assert!(
        history
            .views()
            .values()
            .all(|view| view["members"]["ghost"].is_null()),
        "the join queued at the stopped leader committed (answer: {answer})"
    );
}

/// `kill -9` of the oracle leader; while it is down the others remove a
/// dead member and admit a new one; the killed node restarts on its data
/// directory. It starts from its log (never from an older view than it
/// had), catches up, and the next join commits on all three. Its
/// `GET /membership/watch` stream only moves forward and every view id
/// has one content everywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oracle_node_restarted_on_its_data_directory_rejoins_with_its_log() {
    let _serial = SERIAL.lock().await;
    let mut cluster = Cluster::start("oracle-restart").await;
    let before = cluster.converged(Duration::from_secs(20)).await;
    let victim = cluster.leader(Duration::from_secs(10)).await;
    let had = cluster.view_on(victim).await.unwrap();
    cluster.kill_oracle(victim).await;
    let next = cluster.leader(Duration::from_secs(15)).await;
    assert_ne!(next, victim);

    // The majority moves on: m4 dies and is removed, m5 joins.
    cluster.kill_member("m4").await;
    let removed = converged_on(&cluster, S + SLACK + Duration::from_secs(10), |view| {
        view["members"]["m4"].is_null()
    })
    .await;
    assert_eq!(id_of(&removed), id_of(&had) + 1, "{removed}");
    cluster.start_member("m5").await;
    let while_down = converged_on(&cluster, Duration::from_secs(15), |view| {
        view["members"]["m5"].is_object()
    })
    .await;
    assert_eq!(id_of(&while_down), id_of(&had) + 2, "{while_down}");

    cluster.restart_oracle(victim).await;
    let (watch, streamed) = watch_views(cluster.oracles[victim].admin);
    let first = cluster.view_on(victim).await.unwrap();
    assert!(
        id_of(&first) >= id_of(&had),
        "the restarted node went back from view {} to {}",
        id_of(&had),
        id_of(&first)
    );
    let caught_up = converged_on(&cluster, Duration::from_secs(20), |view| {
        id_of(view) >= id_of(&while_down)
    })
    .await;
    assert_eq!(caught_up, while_down);

    // Views continue on all three nodes.
    cluster.start_member("m6").await;
    let last = converged_on(&cluster, Duration::from_secs(15), |view| {
        view["members"]["m6"].is_object()
    })
    .await;
    assert_eq!(id_of(&last), id_of(&had) + 3, "{last}");
    let status = ithaca(&[
        "membership",
        "oracle-status",
        "--admin",
        &format!("http://{}", cluster.oracles[victim].admin),
    ])
    .await;
    let view_line = status
        .lines()
        .find_map(|line| line.trim_start().strip_prefix("view:"))
        .unwrap_or_default();
    assert_eq!(view_line.trim(), id_of(&last).to_string(), "{status}");

    // Wait for the last view on the stream, then stop following it.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !streamed
        .lock()
        .unwrap()
        .iter()
        .any(|view| id_of(view) == id_of(&last))
    {
        assert!(Instant::now() < deadline, "the watch stream missed {last}");
        sleep(Duration::from_millis(50)).await;
    }
    watch.abort();
    let streamed = streamed.lock().unwrap().clone();
    let ids: Vec<u64> = streamed.iter().map(id_of).collect();
    assert!(
        ids.windows(2).all(|pair| pair[0] < pair[1]),
        "the restarted node's watch went back: {ids:?}"
    );
    assert!(ids.first().is_some_and(|id| *id >= id_of(&had)), "{ids:?}");

    let history = cluster.check();
    let mut seen = vec![before, had, removed, while_down, first, caught_up, last];
    seen.extend(streamed);
    assert_one_content_per_id(&history, &seen);
}

/// One oracle follower cut off from the other two nodes: the members see
/// no change (same view, only `m1` serves), a join commits on the
/// majority, the follower lags (`ithaca membership view` on it shows the
/// old view) without its term running ahead (pre-vote), and after healing
/// it catches up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_isolated_oracle_follower_changes_nothing_for_members_and_catches_up() {
    let _serial = SERIAL.lock().await;
    let mut cluster = Cluster::start("oracle-follower").await;
    let before = cluster.converged(Duration::from_secs(20)).await;
    let leader = cluster.leader(Duration::from_secs(10)).await;
    let follower = (0..ORACLES).find(|node| *node != leader).unwrap();
    let majority: Vec<usize> = (0..ORACLES).filter(|node| *node != follower).collect();
    cluster.isolate_oracle(follower);

    // For longer than S: the majority's view does not change.
    let quiet_until = Instant::now() + S + Duration::from_secs(1);
    let mut seen = vec![before.clone()];
    while Instant::now() < quiet_until {
        for node in &majority {
            if let Some(view) = cluster.view_on(*node).await {
                assert_eq!(view, before, "the view changed with a follower cut off");
                seen.push(view);
            }
        }
        sleep(Duration::from_millis(200)).await;
    }

    // Writes continue on the majority; the follower lags behind.
    cluster.start_member("m5").await;
    let deadline = Instant::now() + Duration::from_secs(15);
    let joined = loop {
        let views = [
            cluster.view_on(majority[0]).await,
            cluster.view_on(majority[1]).await,
        ];
        if let [Some(a), Some(b)] = &views
            && a == b
            && a["members"]["m5"].is_object()
        {
            break a.clone();
        }
        assert!(
            Instant::now() < deadline,
            "the majority did not commit m5: {views:?}"
        );
        sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(id_of(&joined), id_of(&before) + 1, "{joined}");
    let follower_admin = format!("http://{}", cluster.oracles[follower].admin);
    let lagging = ithaca(&["membership", "view", "--admin", &follower_admin]).await;
    assert!(
        lagging.starts_with(&format!("view {}: 4 member(s)", id_of(&before))),
        "{lagging}"
    );
    let cut_off = cluster.status_on(follower).await.unwrap();
    let mut majority_term = 0;
    for node in &majority {
        let status = cluster.status_on(*node).await.unwrap();
        majority_term = majority_term.max(status["oracle"]["term"].as_u64().unwrap());
    }
    assert!(
        cut_off["oracle"]["term"].as_u64().unwrap() <= majority_term,
        "the cut-off follower's term ran ahead of the majority's ({majority_term}): {cut_off:#}"
    );
    assert_ne!(cut_off["oracle"]["role"], "leader", "{cut_off:#}");

    cluster.heal_oracles();
    let caught_up = converged_on(&cluster, Duration::from_secs(20), |view| {
        id_of(view) >= id_of(&joined)
    })
    .await;
    assert_eq!(caught_up, joined);
    let healed = ithaca(&["membership", "view", "--admin", &follower_admin]).await;
    assert!(
        healed.starts_with(&format!("view {}: 5 member(s)", id_of(&joined))),
        "{healed}"
    );

    let history = cluster.check();
    let servers: BTreeSet<String> = history
        .intervals(SERVICE)
        .into_iter()
        .map(|interval| interval.member)
        .collect();
    assert_eq!(servers, BTreeSet::from(["m1".to_owned()]), "only m1 served");
    seen.extend([joined, caught_up]);
    assert_one_content_per_id(&history, &seen);
}

/// Asserts that every oracle process loaded libfaketime.
fn assert_fake_oracle_clocks(cluster: &Cluster) {
    for oracle in &cluster.oracles {
        assert_fake_clock(oracle.pid);
    }
}

/// Cuts the primary `m1` off from every oracle node, both ways; returns
/// the interval of the member that took over and `m1`'s own, once `m1`
/// recorded that it stopped (its lease ran out: it hears nothing).
async fn cut_off_the_primary(cluster: &Cluster) -> (Interval, Interval) {
    let cut_at = monotonic_now_ns();
    cluster.partition_member("m1", None);
    let next = cluster.next_primary("m1", cut_at, S + SLACK + L).await;
    assert_eq!(next.member, "m2");
    // Generous: the slowest clock below runs at 0.4, so m1's lease of
    // 1.98 s on its clock lasts about 5 s.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let old = cluster
            .history()
            .intervals(SERVICE)
            .into_iter()
            .rfind(|interval| interval.member == "m1")
            .unwrap();
        if old.end_ns.is_some() {
            return (next, old);
        }
        assert!(Instant::now() < deadline, "m1 never stopped: {old:?}");
        sleep(Duration::from_millis(100)).await;
    }
}

/// Every oracle node's clock runs fast by 0.99 % (within the configured
/// drift bound ρ = 1 %, on the side that convicts sooner): healthy members
/// are never removed, and when the primary is cut off it stops acting on
/// its own lease before its backup starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oracle_clocks_running_fast_within_the_drift_bound_keep_failover_safe() {
    let _serial = SERIAL.lock().await;
    let fast = FakeClock { rate: 1.0099 };
    let cluster = Cluster::start_with_clocks("oracle-fast-clock", Some(fast), &[]).await;
    assert_fake_oracle_clocks(&cluster);
    let before = cluster.view().await;
    sleep(2 * S).await;
    assert_eq!(cluster.view().await, before, "a healthy member was removed");

    let (next, old) = cut_off_the_primary(&cluster).await;
    assert!(old.stopped, "the cut-off m1 stopped on its own (lease)");
    assert!(old.end_ns.unwrap() < next.start_ns, "{old:?} {next:?}");
    cluster.check();
}

/// The worst case the drift bound allows, at both ends: every oracle
/// node's clock 0.99 % fast (it convicts sooner) and the primary `m1`'s
/// clock 0.99 % slow (its lease lasts longer in real time), both by
/// libfaketime. Healthy members stay; when `m1` is cut off it stops on its
/// lease before `m2` starts, and the history (`m1`'s record put back on
/// the real clock) passes the checker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_primary_clock_and_fast_oracle_clocks_within_the_drift_bound_keep_failover_safe() {
    let _serial = SERIAL.lock().await;
    let cluster = Cluster::start_with_clocks(
        "member-slow-clock",
        Some(FakeClock { rate: 1.0099 }),
        &[("m1", FakeClock { rate: 0.9901 })],
    )
    .await;
    assert_fake_oracle_clocks(&cluster);
    assert_fake_clock(cluster.member("m1").pid);
    let before = cluster.view().await;
    sleep(2 * S).await;
    assert_eq!(cluster.view().await, before, "a healthy member was removed");

    let (next, old) = cut_off_the_primary(&cluster).await;
    assert!(old.stopped, "the cut-off m1 stopped on its own (lease)");
    let gap = ms(next.start_ns.saturating_sub(old.end_ns.unwrap()));
    assert!(old.end_ns.unwrap() < next.start_ns, "{old:?} {next:?}");
    eprintln!("m1 stopped {gap:?} before m2 started");
    cluster.check();
}

/// The same cut with the oracle's clocks running three times as fast: far
/// beyond the drift bound, the oracle's suspicion timeout (2.6 s on its
/// clock, under 0.9 s of real time) ends before the primary's lease (2 s
/// on the member's clock), so the backup starts while the old primary
/// still acts, and the history checker reports the overlap. This shows
/// what the bound protects, and that the checker sees its breach.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oracle_clocks_running_three_times_fast_let_two_primaries_overlap_and_the_checker_sees_it()
{
    let _serial = SERIAL.lock().await;
    let fast = FakeClock { rate: 3.0 };
    let cluster = Cluster::start_with_clocks("oracle-3x-clock", Some(fast), &[]).await;
    assert_fake_oracle_clocks(&cluster);
    cut_off_the_primary(&cluster).await;
    assert_overlap_reported(&cluster);
}

/// The primary `m1`'s clock running at 0.4 of real time, far beyond the
/// drift bound: its lease of 1.98 s on its clock lasts about 5 s, longer
/// than the oracle's suspicion timeout, so `m2` starts while the cut-off
/// `m1` still acts, and the history checker reports the overlap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_clock_far_slower_than_the_drift_bound_lets_two_primaries_overlap_and_the_checker_sees_it()
 {
    let _serial = SERIAL.lock().await;
    let cluster =
        Cluster::start_with_clocks("member-0.4-clock", None, &[("m1", FakeClock { rate: 0.4 })])
            .await;
    assert_fake_clock(cluster.member("m1").pid);
    let (next, old) = cut_off_the_primary(&cluster).await;
    assert!(old.end_ns.unwrap() > next.start_ns, "{old:?} {next:?}");
    assert_overlap_reported(&cluster);
}

/// Asserts that the checker reports two primaries' serving intervals
/// overlapping (invariant 2).
fn assert_overlap_reported(cluster: &Cluster) {
    let violations = cluster
        .history()
        .check()
        .expect_err("a clock beyond the drift bound must break the lease arithmetic");
    assert!(
        violations.iter().any(|violation| violation.invariant == 2),
        "no overlap reported: {violations:?}"
    );
    for violation in &violations {
        eprintln!("as expected beyond the drift bound: {violation}");
    }
}

/// What an operator reads while the oracle leader is cut off from the
/// other two nodes: the majority elects a new leader, and the cut-off node,
/// whose leadership is no longer certain (it grants nothing and openraft
/// refuses its writes), stops reporting itself as the leader on
/// `GET /membership/members` (and the `ithaca_membership_is_leader` gauge)
/// although it keeps the Raft role until it hears the new term.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_off_oracle_leader_stops_reporting_itself_leader() {
    let _serial = SERIAL.lock().await;
    let cluster = Cluster::start("oracle-two-leaders").await;
    let old = cluster.leader(Duration::from_secs(10)).await;
    cluster.isolate_oracle(old);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let mut majority_leads = false;
        for node in (0..ORACLES).filter(|node| *node != old) {
            majority_leads |= cluster.members_report_on(node).await["oracle_leader"] == true;
        }
        if majority_leads {
            break;
        }
        assert!(Instant::now() < deadline, "the majority elected no leader");
        sleep(Duration::from_millis(100)).await;
    }
    sleep(Duration::from_secs(1)).await;
    let status = cluster.status_on(old).await.unwrap();
    assert!(
        status["oracle"]["leadership_certain_for_ms"].is_null(),
        "{status:#}"
    );
    let report = cluster.members_report_on(old).await;
    assert_eq!(
        report["oracle_leader"], false,
        "two nodes report themselves oracle leader; the cut-off one: {status:#}"
    );
    cluster.heal_oracles();
}
