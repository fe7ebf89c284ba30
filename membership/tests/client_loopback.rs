//! The member client against an oracle node runtime over loopback UDP and
//! TCP, with the in-memory test consensus behind the node (the production
//! oracle is exercised by `oracle_*.rs`). Timings are scaled down (lease
//! 400 ms, heartbeat 50 ms, S = 500 ms) so the suite stays fast; the
//! safety formula `S ≥ L·(1+ρ) + h` still holds.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ithaca_membership::client::{Member, MemberConfig, Serving};
use ithaca_membership::consensus::{Consensus, NodeInfo};
use ithaca_membership::node::in_memory::InMemoryConsensus;
use ithaca_membership::node::{MembershipNode, NodeConfig};
use ithaca_membership::wire::frame::{PREFIX_LEN, encode_frame, frame_len};
use ithaca_membership::wire::{HeartbeatStatus, Message, RejectCode};
use ithaca_membership::{
    DetectorConfig, Incarnation, LeaseState, MemberId, ServiceName, TimingConfig, View, ViewId,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

fn timing() -> TimingConfig {
    TimingConfig {
        lease: Duration::from_millis(400),
        heartbeat_interval: Duration::from_millis(50),
        clock_drift_ppm: 10_000,
        suspicion_timeout: Duration::from_millis(500),
    }
}

fn detector() -> DetectorConfig {
    DetectorConfig {
        timing: timing(),
        stall_threshold: timing().heartbeat_interval,
        ..DetectorConfig::default()
    }
}

fn id(name: &str) -> MemberId {
    MemberId::new(name).unwrap()
}

fn atc() -> ServiceName {
    ServiceName::new("atc").unwrap()
}

struct Oracle {
    consensus: Arc<InMemoryConsensus>,
    node: MembershipNode,
}

async fn oracle_with(member_addresses: BTreeMap<u64, String>) -> Oracle {
    let consensus = Arc::new(InMemoryConsensus::new());
    let mut config = NodeConfig::new("127.0.0.1:0".parse().unwrap(), detector());
    config.tick_interval = Duration::from_millis(10);
    config.member_addresses = member_addresses;
    let node = MembershipNode::start(config, consensus.clone() as Arc<dyn Consensus>)
        .await
        .unwrap();
    Oracle { consensus, node }
}

async fn oracle() -> Oracle {
    oracle_with(BTreeMap::new()).await
}

fn member_config(oracle: &Oracle, name: &str) -> MemberConfig {
    let mut config = MemberConfig::new(
        id(name),
        format!("{name}.test:7000"),
        vec![oracle.node.local_addr()],
    )
    .role(atc());
    config.timing = timing();
    config
}

async fn wait_for(what: &str, limit: Duration, mut check: impl FnMut() -> bool) -> Instant {
    let start = Instant::now();
    loop {
        if check() {
            return Instant::now();
        }
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn udp_exchange(target: SocketAddr, datagram: &[u8]) -> Option<Vec<u8>> {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    socket.send_to(datagram, target).await.unwrap();
    let mut buffer = vec![0u8; 65_536];
    match tokio::time::timeout(Duration::from_millis(300), socket.recv_from(&mut buffer)).await {
        Ok(Ok((len, _))) => Some(buffer[..len].to_vec()),
        _ => None,
    }
}

fn heartbeat(member: &str, incarnation: u64, seen: u64) -> Vec<u8> {
    let mut out = Vec::new();
    Message::Heartbeat {
        member,
        incarnation: Incarnation(incarnation),
        request_id: 42,
        seen_view: ViewId(seen),
    }
    .encode(&mut out)
    .unwrap();
    out
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

#[tokio::test]
async fn a_joined_member_keeps_its_lease_while_it_heartbeats() {
    let oracle = oracle().await;
    let member = Member::join(member_config(&oracle, "a")).await.unwrap();
    assert_eq!(member.incarnation(), Incarnation(1));
    assert!(member.view().has_incarnation(&id("a"), Incarnation(1)));
    wait_for("a lease", Duration::from_secs(2), || member.can_act()).await;
    let mut serving = member.serving();
    assert_eq!(*serving.borrow_and_update(), Serving::Serving);
    // Several leases long: every heartbeat renews it.
    let until = Instant::now() + Duration::from_millis(1_500);
    while Instant::now() < until {
        assert!(member.can_act(), "the lease lapsed while heartbeating");
        assert!(member.is_primary(&atc()));
        assert!(matches!(member.lease_state(), LeaseState::Valid { .. }));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(oracle.node.counters().granted >= 20);
    assert_eq!(oracle.consensus.view().id(), ViewId(1));
    let left = member.leave().await.unwrap();
    assert_eq!(left, ViewId(2));
    assert!(oracle.consensus.view().members().is_empty());
}

#[tokio::test]
async fn a_silent_primary_loses_its_lease_then_is_removed_and_its_backup_promoted_in_one_change() {
    let oracle = oracle().await;
    let mut a = Member::join(member_config(&oracle, "a")).await.unwrap();
    let b = Member::join(member_config(&oracle, "b")).await.unwrap();
    wait_for("both leases", Duration::from_secs(2), || {
        a.can_act() && b.can_act()
    })
    .await;
    let before = oracle.consensus.view();
    assert_eq!(before.primary(&atc()), Some(&id("a")));
    assert_eq!(before.backups(&atc()), &[id("b")]);

    // `a` stops heartbeating, as a paused or crashed process would.
    let stopped = Instant::now();
    a.stop_heartbeats();
    let mut views = b.watch();
    let lapsed = wait_for("a's lease to lapse", Duration::from_secs(2), || {
        !a.can_act()
    })
    .await;
    assert_eq!(a.lease_state(), LeaseState::Expired);
    assert!(!a.is_primary(&atc()));
    let removed = wait_for("a's removal", Duration::from_secs(3), || {
        !oracle.consensus.view().members().contains_key(&id("a"))
    })
    .await;
    assert!(
        lapsed < removed,
        "the lease must lapse on the member's clock before the oracle removes it"
    );
    // The oracle counts S from the last heartbeat it received, which left
    // at most one interval before the member stopped.
    let silence = removed - stopped + timing().heartbeat_interval;
    assert!(
        silence >= timing().suspicion_timeout,
        "removed {silence:?} after the last heartbeat, before S"
    );

    let after = oracle.consensus.view();
    assert_eq!(after.id().0, before.id().0 + 1, "one view change");
    assert_eq!(after.primary(&atc()), Some(&id("b")));
    assert!(after.tombstones().contains_key(&id("a")));
    // The backup hears of its promotion and acts as primary.
    tokio::time::timeout(Duration::from_secs(2), async {
        while views.borrow_and_update().id() < after.id() {
            views.changed().await.unwrap();
        }
    })
    .await
    .unwrap();
    wait_for("b as primary", Duration::from_secs(2), || {
        b.is_primary(&atc())
    })
    .await;
    assert!(oracle.node.counters().removals_committed >= 1);
}

#[tokio::test]
async fn rejoining_needs_a_higher_incarnation() {
    let oracle = oracle().await;
    let mut a = Member::join(member_config(&oracle, "a")).await.unwrap();
    a.stop_heartbeats();
    wait_for("a's removal", Duration::from_secs(3), || {
        !oracle.consensus.view().members().contains_key(&id("a"))
    })
    .await;
    let view = oracle.consensus.view();

    // The excluded incarnation cannot come back.
    let answer = tcp_exchange(
        oracle.node.local_addr(),
        &Message::Join {
            request_id: 9,
            member: "a",
            incarnation: Incarnation(1),
            address: "a.test:7000",
            roles: vec!["atc"],
        },
    )
    .await;
    match Message::decode(&answer).unwrap() {
        Message::Rejected { code, reason, .. } => {
            assert_eq!(code, RejectCode::StaleIncarnation);
            assert!(reason.contains("stale"), "{reason}");
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert_eq!(oracle.consensus.view(), view, "the view is unchanged");

    // A restarted process offering incarnation 1 again is moved past it.
    let again = Member::join(member_config(&oracle, "a")).await.unwrap();
    assert_eq!(again.incarnation(), Incarnation(2));
    wait_for("the new lease", Duration::from_secs(2), || again.can_act()).await;
}

#[tokio::test]
async fn an_excluded_member_fences_itself_and_rejoins_with_the_next_incarnation() {
    let oracle = oracle().await;
    let a = Member::join(member_config(&oracle, "a")).await.unwrap();
    wait_for("a lease", Duration::from_secs(2), || a.can_act()).await;
    // The oracle removes `a` behind its back (as after a false suspicion).
    oracle
        .consensus
        .propose(ithaca_membership::ViewCommand::Remove {
            member: id("a"),
            incarnation: Incarnation(1),
        })
        .await
        .unwrap();
    wait_for("the rejoin", Duration::from_secs(3), || {
        a.incarnation() == Incarnation(2)
            && oracle
                .consensus
                .view()
                .has_incarnation(&id("a"), Incarnation(2))
    })
    .await;
    wait_for(
        "a lease for the new incarnation",
        Duration::from_secs(2),
        || a.can_act(),
    )
    .await;
}

#[tokio::test]
async fn bad_heartbeats_are_refused_with_no_effect_on_the_view() {
    let oracle = oracle().await;
    let a = Member::join(member_config(&oracle, "a")).await.unwrap();
    wait_for("a lease", Duration::from_secs(2), || a.can_act()).await;
    let target = oracle.node.local_addr();
    let view: View = oracle.consensus.view();

    // Unknown member: no lease, told to join, with the view.
    let answer = udp_exchange(target, &heartbeat("stranger", 1, 1))
        .await
        .unwrap();
    match Message::decode(&answer).unwrap() {
        Message::HeartbeatReply { status, view, .. } => {
            assert_eq!(status, HeartbeatStatus::NotMember);
            assert!(view.is_some());
        }
        other => panic!("unexpected {other:?}"),
    }
    // Stale incarnation of a real member.
    let answer = udp_exchange(target, &heartbeat("a", 0, 1)).await.unwrap();
    assert!(matches!(
        Message::decode(&answer).unwrap(),
        Message::HeartbeatReply {
            status: HeartbeatStatus::NotMember,
            ..
        }
    ));
    // A forged view id from the future.
    let answer = udp_exchange(target, &heartbeat("a", 1, 999)).await.unwrap();
    assert!(matches!(
        Message::decode(&answer).unwrap(),
        Message::Rejected {
            code: RejectCode::ViewFromFuture,
            ..
        }
    ));
    // Malformed datagrams get no answer at all.
    let malformed_before = oracle.node.counters().malformed;
    for junk in [&b"hello"[..], b"IM\x01\x01\x05ab", b"IM\x07\x01", b""] {
        assert_eq!(udp_exchange(target, junk).await, None);
    }
    wait_for("the malformed count", Duration::from_secs(1), || {
        oracle.node.counters().malformed >= malformed_before + 3
    })
    .await;
    // A malformed TCP request is refused.
    let answer = tcp_exchange(
        target,
        &Message::Join {
            request_id: 3,
            member: "has space",
            incarnation: Incarnation(1),
            address: "",
            roles: vec![],
        },
    )
    .await;
    assert!(matches!(
        Message::decode(&answer).unwrap(),
        Message::Rejected {
            code: RejectCode::Invalid,
            ..
        }
    ));
    assert_eq!(oracle.consensus.view(), view, "the view is unchanged");
    assert!(a.can_act(), "the real member is unaffected");
}

#[tokio::test]
async fn followers_name_the_leader_and_uncertain_leaders_grant_nothing() {
    let leader_address = "127.0.0.1:7946".to_owned();
    let oracle = oracle_with(BTreeMap::from([(2, leader_address.clone())])).await;
    let a = Member::join(member_config(&oracle, "a")).await.unwrap();
    drop(a);
    let target = oracle.node.local_addr();

    oracle.consensus.set_leadership(oracle.consensus.follower(
        2,
        Some(NodeInfo {
            id: 2,
            address: "127.0.0.1:9000".to_owned(),
        }),
    ));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let answer = udp_exchange(target, &heartbeat("a", 1, 1)).await.unwrap();
    assert_eq!(
        Message::decode(&answer).unwrap(),
        Message::NotLeader {
            request_id: 42,
            leader: Some(&leader_address),
        }
    );

    // Elected again, in a group, with no quorum acknowledgement yet.
    oracle
        .consensus
        .set_leadership(oracle.consensus.elected_leader(3, None));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let answer = udp_exchange(target, &heartbeat("a", 1, 1)).await.unwrap();
    assert!(matches!(
        Message::decode(&answer).unwrap(),
        Message::HeartbeatReply {
            status: HeartbeatStatus::NotGranted,
            ..
        }
    ));
    // Certain for a while: grants resume.
    oracle.consensus.set_leadership(
        oracle
            .consensus
            .elected_leader(3, Some(Instant::now() + Duration::from_secs(5))),
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    let answer = udp_exchange(target, &heartbeat("a", 1, 1)).await.unwrap();
    assert!(matches!(
        Message::decode(&answer).unwrap(),
        Message::HeartbeatReply {
            status: HeartbeatStatus::Granted { .. },
            ..
        }
    ));
}

/// A scripted oracle leader for one member: it admits the member in view
/// 1 with the compact answer (no view), grants every heartbeat while
/// naming a newer view than the member holds (a newer one at each reply
/// when `bump`), and answers each view fetch after `fetch_delay` with the
/// newest view it named, holding the member as primary of "atc".
struct ScriptedOracle {
    address: SocketAddr,
    fetches: Arc<std::sync::atomic::AtomicU64>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for ScriptedOracle {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// The JSON of a view with id `id` holding member `m` (incarnation 1) as
/// the primary of "atc".
fn view_json_with_id(id: u64) -> Vec<u8> {
    let view = View::new()
        .apply(&ithaca_membership::ViewCommand::Join {
            member: self::id("m"),
            incarnation: Incarnation(1),
            address: "m.test:7000".to_owned(),
            roles: [atc()].into(),
        })
        .unwrap();
    let json = String::from_utf8(ithaca_membership::wire::view_json(&view).unwrap()).unwrap();
    assert!(json.starts_with("{\"id\":1,"), "{json}");
    json.replacen("{\"id\":1,", &format!("{{\"id\":{id},"), 1)
        .into_bytes()
}

async fn scripted_oracle(fetch_delay: Duration, bump: bool) -> ScriptedOracle {
    use std::sync::atomic::{AtomicU64, Ordering};
    // UDP and TCP on one port: retry while TCP finds the port taken.
    let mut bound = None;
    for _ in 0..32 {
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        if let Ok(tcp) = tokio::net::TcpListener::bind(udp.local_addr().unwrap()).await {
            bound = Some((udp, tcp));
            break;
        }
    }
    let (udp, tcp) = bound.expect("a port free for both UDP and TCP");
    let address = udp.local_addr().unwrap();
    let newest = Arc::new(AtomicU64::new(2));
    let fetches = Arc::new(AtomicU64::new(0));
    let lease = timing().lease;
    let named = Arc::clone(&newest);
    let heartbeats = tokio::spawn(async move {
        let mut buffer = vec![0u8; 65_536];
        loop {
            let (len, from) = udp.recv_from(&mut buffer).await.unwrap();
            let Ok(Message::Heartbeat { request_id, .. }) = Message::decode(&buffer[..len]) else {
                continue;
            };
            let view = if bump {
                named.fetch_add(1, Ordering::Relaxed) + 1
            } else {
                named.load(Ordering::Relaxed)
            };
            let mut out = Vec::new();
            ithaca_membership::wire::encode_heartbeat_reply(
                &mut out,
                request_id,
                ViewId(view),
                HeartbeatStatus::Granted { lease },
                None,
                ithaca_membership::wire::MAX_DATAGRAM,
            )
            .unwrap();
            let _ = udp.send_to(&out, from).await;
        }
    });
    let counted = Arc::clone(&fetches);
    let requests = tokio::spawn(async move {
        loop {
            let (mut stream, _) = tcp.accept().await.unwrap();
            let newest = Arc::clone(&newest);
            let counted = Arc::clone(&counted);
            tokio::spawn(async move {
                let mut prefix = [0u8; PREFIX_LEN];
                stream.read_exact(&mut prefix).await.unwrap();
                let mut body = vec![0u8; frame_len(prefix).unwrap()];
                stream.read_exact(&mut body).await.unwrap();
                let mut out = Vec::new();
                match Message::decode(&body).unwrap() {
                    Message::JoinCompact {
                        request_id,
                        incarnation,
                        ..
                    } => ithaca_membership::wire::encode_join_accepted(
                        &mut out,
                        request_id,
                        ViewId(1),
                        incarnation,
                        lease,
                        None,
                    )
                    .unwrap(),
                    Message::ViewRequest { request_id, .. } => {
                        counted.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(fetch_delay).await;
                        let json = view_json_with_id(newest.load(Ordering::Relaxed));
                        ithaca_membership::wire::encode_view_reply(
                            &mut out,
                            request_id,
                            Some(&json),
                        )
                        .unwrap();
                    }
                    other => panic!("unexpected request {other:?}"),
                }
                let mut frame = u32::try_from(out.len()).unwrap().to_be_bytes().to_vec();
                frame.extend_from_slice(&out);
                let _ = stream.write_all(&frame).await;
            });
        }
    });
    ScriptedOracle {
        address,
        fetches,
        tasks: vec![heartbeats, requests],
    }
}

async fn scripted_member(oracle: &ScriptedOracle) -> Member {
    let mut config = MemberConfig::new(id("m"), "m.test:7000", vec![oracle.address]).role(atc());
    config.timing = timing();
    config.request_timeout = Duration::from_secs(5);
    Member::join(config).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_view_fetch_never_holds_up_the_heartbeats() {
    // The fetch takes 1.5 s, almost four leases of 400 ms: a member that
    // fetched in its heartbeat loop would lose its lease meanwhile.
    let oracle = scripted_oracle(Duration::from_millis(1_500), false).await;
    let member = scripted_member(&oracle).await;
    wait_for("the first grant", Duration::from_secs(2), || {
        member.can_act()
    })
    .await;
    let sent = member.stats().heartbeats_sent;
    let watching = Instant::now();
    while watching.elapsed() < Duration::from_millis(1_200) {
        assert!(
            member.can_act(),
            "the lease lapsed while the view fetch was in flight"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Heartbeats every 50 ms went on meanwhile.
    assert!(member.stats().heartbeats_sent - sent >= 15);
    // The fetch lands, and the member is primary of the view it brought.
    wait_for("the fetched view", Duration::from_secs(3), || {
        member.view().id() == ViewId(2)
    })
    .await;
    assert!(member.is_primary(&atc()));
    assert_eq!(oracle.fetches.load(std::sync::atomic::Ordering::Relaxed), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn view_fetches_are_paced_during_a_burst_of_view_changes() {
    // Every heartbeat reply names a newer view, as during a large group's
    // burst of joins: 20 replies a second.
    let oracle = scripted_oracle(Duration::ZERO, true).await;
    let member = scripted_member(&oracle).await;
    wait_for("the first grant", Duration::from_secs(2), || {
        member.can_act()
    })
    .await;
    let first = member.view().id();
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let fetches = oracle.fetches.load(std::sync::atomic::Ordering::Relaxed);
    // One at once, then at most one a second: 3 in 2.5 s (4 allows for a
    // slow start), not one per reply (50).
    assert!((2..=4).contains(&fetches), "{fetches} view fetches");
    assert!(member.view().id() > first);
    assert!(member.can_act());
}
