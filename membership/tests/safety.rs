//! The central safety property, checked on a deterministic in-memory
//! cluster: one oracle (which may stall or fail over to a new leader), a
//! primary `a` and a backup `b` for one service, and a storage node that
//! fences writes by view id. Every node has its own monotonic clock running
//! at a rate within `1 ± ρ`; messages are delayed, lost, partitioned (both
//! ways or one way) and processes pause.
//!
//! Checked at every step of every schedule:
//! - at most one member holds the primary role with a lease that is valid
//!   on its own clock (no two members can act as primary at once);
//! - the oracle never removes a member whose lease is still valid on the
//!   member's own clock;
//! - storage rejects every write stamped with a view older than one it has
//!   seen, and every write it accepts came from the primary of the view it
//!   was stamped with.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use ithaca_membership::{
    DetectorConfig, Fence, HeartbeatReply, HeartbeatRequest, Incarnation, Leadership, MemberId,
    MemberSession, OracleLeader, ReplyEvent, ServiceName, Timestamp, TimingConfig, View,
    ViewCommand, ViewId,
};
use proptest::prelude::*;

const STEP_MS: u64 = 5;
const WRITE_EVERY_MS: u64 = 50;
const ELECTION_MS: u64 = 300;

fn member_id(index: usize) -> MemberId {
    MemberId::new(["a", "b"][index]).unwrap_or_else(|e| panic!("{e}"))
}

fn atc() -> ServiceName {
    ServiceName::new("atc").unwrap_or_else(|e| panic!("{e}"))
}

/// A deterministic pseudo-random stream (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: u64) -> u64 {
        if bound == 0 { 0 } else { self.next() % bound }
    }
}

/// A node's monotonic clock: `offset + t·(1 + ppm/10⁶)` for real time `t`.
#[derive(Debug, Clone, Copy)]
struct Clock {
    offset_ms: u64,
    drift_ppm: i64,
}

impl Clock {
    fn at(self, real_ms: u64) -> Timestamp {
        let real_ns = i128::from(real_ms) * 1_000_000;
        let local = i128::from(self.offset_ms) * 1_000_000
            + real_ns * (1_000_000 + i128::from(self.drift_ppm)) / 1_000_000;
        Timestamp::from_nanos(u64::try_from(local).unwrap_or(0))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Node {
    Oracle,
    Member(usize),
    Storage,
}

/// Which direction of a member↔oracle link a partition cuts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cut {
    Both,
    ToOracle,
    FromOracle,
}

#[derive(Debug, Clone)]
struct Partition {
    member: usize,
    cut: Cut,
    from_ms: u64,
    until_ms: u64,
}

#[derive(Debug, Clone)]
struct Pause {
    node: Node,
    from_ms: u64,
    until_ms: u64,
}

/// One generated fault schedule.
#[derive(Debug, Clone)]
struct Schedule {
    seed: u64,
    drift_ppm: [i64; 4], // oracle, second oracle leader, a, b
    offsets_ms: [u64; 4],
    max_delay_ms: u64,
    loss_percent: u64,
    partitions: Vec<Partition>,
    pauses: Vec<Pause>,
    failover_at_ms: Option<u64>,
    duration_ms: u64,
}

#[derive(Debug, Clone)]
enum Msg {
    Heartbeat {
        member: usize,
        request: HeartbeatRequest,
        epoch: u64,
    },
    Join {
        member: usize,
        incarnation: Incarnation,
        epoch: u64,
    },
    Reply(HeartbeatReply),
    ViewInstalled {
        view: View,
    },
    Write {
        member: usize,
        stamp: ViewId,
    },
}

struct InFlight {
    deliver_at_ms: u64,
    seq: u64,
    to: Node,
    msg: Msg,
}

struct Member {
    index: usize,
    clock: Clock,
    session: MemberSession,
    next_write: Timestamp,
}

impl Member {
    fn holds_primary(&self, real_ms: u64) -> bool {
        self.session.is_primary(&atc(), self.clock.at(real_ms))
    }
}

struct Oracle {
    clock: Clock,
    leader: OracleLeader,
}

/// What a run observed, for the deterministic scenario tests.
#[derive(Debug, Default)]
struct Outcome {
    removals: Vec<(u64, MemberId)>,
    /// First time each member held the primary role (real ms).
    first_primary_ms: BTreeMap<usize, u64>,
    /// Last time each member held the primary role (real ms).
    last_primary_ms: BTreeMap<usize, u64>,
    /// Every change of who holds the primary role: (real ms, holder).
    timeline: Vec<(u64, Option<usize>)>,
    writes_accepted: u64,
    writes_rejected: u64,
    final_view: View,
}

struct Sim {
    schedule: Schedule,
    rng: Rng,
    now_ms: u64,
    seq: u64,
    network: Vec<InFlight>,
    view: View,
    views: BTreeMap<ViewId, View>,
    oracle: Option<Oracle>,
    oracle_epoch: u64,
    members: Vec<Member>,
    storage: Fence,
    last_accepted: Option<ViewId>,
    outcome: Outcome,
}

impl Sim {
    fn new(schedule: Schedule) -> Self {
        let timing = TimingConfig::default();
        let join = |index: usize| ViewCommand::Join {
            member: member_id(index),
            incarnation: Incarnation(1),
            address: String::new(),
            roles: BTreeSet::from([atc()]),
        };
        let view = View::new()
            .apply_batch(&[join(0), join(1)])
            .unwrap_or_else(|e| panic!("{e}"));
        let clocks: Vec<Clock> = (0..4)
            .map(|i| Clock {
                offset_ms: schedule.offsets_ms[i],
                drift_ppm: schedule.drift_ppm[i],
            })
            .collect();
        let members = (0..2)
            .map(|index| Member {
                index,
                clock: clocks[index + 2],
                session: MemberSession::new(member_id(index), Incarnation(1), timing, view.clone()),
                next_write: Timestamp::ZERO,
            })
            .collect();
        let mut sim = Self {
            rng: Rng(schedule.seed),
            now_ms: 0,
            seq: 0,
            network: Vec::new(),
            views: BTreeMap::from([(view.id(), view.clone())]),
            storage: Fence::new(view.id()),
            view,
            oracle: None,
            oracle_epoch: 0,
            members,
            last_accepted: None,
            outcome: Outcome::default(),
            schedule,
        };
        sim.start_oracle(clocks[0], false);
        sim
    }

    fn start_oracle(&mut self, clock: Clock, new_leader: bool) {
        let now = clock.at(self.now_ms);
        let leadership = if new_leader {
            Leadership::Elected
        } else {
            Leadership::SingleNode
        };
        let mut leader = OracleLeader::new(
            DetectorConfig::default(),
            self.view.clone(),
            leadership,
            now,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        // The simulation does not model the group's quorum: the elected
        // leader keeps its leadership until it crashes.
        leader.allow_grants_until(Timestamp::from_nanos(u64::MAX));
        self.oracle = Some(Oracle { clock, leader });
    }

    fn paused(&self, node: Node) -> bool {
        self.schedule
            .pauses
            .iter()
            .any(|p| p.node == node && p.from_ms <= self.now_ms && self.now_ms < p.until_ms)
    }

    fn cut(&self, member: usize, to_oracle: bool) -> bool {
        self.schedule.partitions.iter().any(|p| {
            p.member == member
                && p.from_ms <= self.now_ms
                && self.now_ms < p.until_ms
                && match p.cut {
                    Cut::Both => true,
                    Cut::ToOracle => to_oracle,
                    Cut::FromOracle => !to_oracle,
                }
        })
    }

    fn send(&mut self, from: Node, to: Node, msg: Msg) {
        let link_cut = match (from, to) {
            (Node::Member(m), Node::Oracle) => self.cut(m, true),
            (Node::Oracle, Node::Member(m)) => self.cut(m, false),
            _ => false,
        };
        // Storage links are reliable: the old primary can still reach
        // storage, the worst case for split brain.
        let lossy = matches!(
            (from, to),
            (Node::Member(_), Node::Oracle) | (Node::Oracle, Node::Member(_))
        );
        if link_cut || (lossy && self.rng.below(100) < self.schedule.loss_percent) {
            return;
        }
        let delay = self.rng.below(self.schedule.max_delay_ms + 1);
        self.seq += 1;
        self.network.push(InFlight {
            deliver_at_ms: self.now_ms + delay,
            seq: self.seq,
            to,
            msg,
        });
    }

    fn commit(&mut self, command: &ViewCommand) -> bool {
        let Ok(next) = self.view.apply(command) else {
            return false;
        };
        self.view = next.clone();
        self.views.insert(next.id(), next.clone());
        if let Some(oracle) = self.oracle.as_mut() {
            let now = oracle.clock.at(self.now_ms);
            oracle.leader.on_committed(next.clone(), now);
        }
        self.send(
            Node::Oracle,
            Node::Storage,
            Msg::ViewInstalled { view: next },
        );
        true
    }

    fn deliver(&mut self) {
        let mut due = Vec::new();
        let mut kept = Vec::new();
        for m in std::mem::take(&mut self.network) {
            if m.deliver_at_ms <= self.now_ms && !self.paused(m.to) {
                due.push(m);
            } else {
                kept.push(m);
            }
        }
        self.network = kept;
        due.sort_by_key(|m| (m.deliver_at_ms, m.seq));
        for m in due {
            match (m.to, m.msg) {
                (
                    Node::Oracle,
                    Msg::Heartbeat {
                        member,
                        request,
                        epoch,
                    },
                ) => {
                    if epoch != self.oracle_epoch {
                        continue;
                    }
                    let Some(oracle) = self.oracle.as_mut() else {
                        continue;
                    };
                    // Stamped at the socket, on the oracle's clock.
                    let stamp = oracle.clock.at(self.now_ms);
                    let reply = oracle.leader.on_heartbeat(&request, stamp);
                    self.send(Node::Oracle, Node::Member(member), Msg::Reply(reply));
                }
                (
                    Node::Oracle,
                    Msg::Join {
                        member,
                        incarnation,
                        epoch,
                    },
                ) => {
                    if epoch != self.oracle_epoch || self.oracle.is_none() {
                        continue;
                    }
                    self.commit(&ViewCommand::Join {
                        member: member_id(member),
                        incarnation,
                        address: String::new(),
                        roles: BTreeSet::from([atc()]),
                    });
                }
                (Node::Member(i), Msg::Reply(reply)) => self.member_reply(i, reply),
                (Node::Storage, Msg::ViewInstalled { view }) => {
                    self.storage.advance_to(view.id());
                }
                (Node::Storage, Msg::Write { member, stamp }) => self.storage_write(member, stamp),
                _ => {}
            }
        }
    }

    fn member_reply(&mut self, i: usize, reply: HeartbeatReply) {
        let epoch = self.oracle_epoch;
        if let ReplyEvent::MustRejoin { incarnation } = self.members[i].session.on_reply(reply) {
            self.send(
                Node::Member(i),
                Node::Oracle,
                Msg::Join {
                    member: i,
                    incarnation,
                    epoch,
                },
            );
        }
    }

    fn storage_write(&mut self, member: usize, stamp: ViewId) {
        let seen = self.storage.current();
        let result = self.storage.admit(stamp);
        if stamp < seen {
            assert!(
                result.is_err(),
                "storage accepted {stamp} after seeing {seen}"
            );
            self.outcome.writes_rejected += 1;
            return;
        }
        assert!(
            result.is_ok(),
            "storage refused current {stamp} (seen {seen})"
        );
        if let Some(last) = self.last_accepted {
            assert!(stamp >= last, "accepted {stamp} after {last}");
        }
        self.last_accepted = Some(stamp);
        let writer = member_id(member);
        let view = self
            .views
            .get(&stamp)
            .unwrap_or_else(|| panic!("unknown view {stamp}"));
        assert_eq!(
            view.primary(&atc()),
            Some(&writer),
            "a non-primary wrote under {stamp}"
        );
        self.outcome.writes_accepted += 1;
    }

    fn step_members(&mut self) {
        let epoch = self.oracle_epoch;
        for i in 0..self.members.len() {
            if self.paused(Node::Member(i)) {
                continue;
            }
            let now = self.members[i].clock.at(self.now_ms);
            if let Some(heartbeat) = self.members[i].session.poll_heartbeat(now) {
                self.send(
                    Node::Member(i),
                    Node::Oracle,
                    Msg::Heartbeat {
                        member: i,
                        request: heartbeat,
                        epoch,
                    },
                );
            }
            if self.members[i].holds_primary(self.now_ms) && now >= self.members[i].next_write {
                let stamp = self.members[i].session.view().id();
                self.members[i].next_write =
                    now.saturating_add(Duration::from_millis(WRITE_EVERY_MS));
                self.send(
                    Node::Member(i),
                    Node::Storage,
                    Msg::Write { member: i, stamp },
                );
            }
        }
    }

    fn step_oracle(&mut self) {
        if let Some(at) = self.schedule.failover_at_ms {
            if self.now_ms == at {
                // The leader crashes; messages addressed to it are lost.
                self.oracle = None;
                self.oracle_epoch += 1;
            }
            if self.now_ms == at + ELECTION_MS {
                let clock = Clock {
                    offset_ms: self.schedule.offsets_ms[1],
                    drift_ppm: self.schedule.drift_ppm[1],
                };
                self.start_oracle(clock, true);
            }
        }
        if self.paused(Node::Oracle) {
            return;
        }
        let Some(oracle) = self.oracle.as_mut() else {
            return;
        };
        let output = oracle.leader.tick(oracle.clock.at(self.now_ms));
        for removal in output.removals {
            let index = usize::from(removal.member != member_id(0));
            let member = &self.members[index];
            if member.session.incarnation() == removal.incarnation {
                assert!(
                    !member.session.lease().can_act(member.clock.at(self.now_ms)),
                    "t={} ms: removing {} {} while its lease is valid on its own clock",
                    self.now_ms,
                    removal.member,
                    removal.incarnation
                );
            }
            if self.commit(&removal.command()) {
                self.outcome.removals.push((self.now_ms, removal.member));
            }
        }
    }

    fn check(&mut self) {
        let holders: Vec<usize> = self
            .members
            .iter()
            .filter(|m| m.holds_primary(self.now_ms))
            .map(|m| m.index)
            .collect();
        assert!(
            holders.len() <= 1,
            "t={} ms: two primaries {holders:?}",
            self.now_ms
        );
        let holder = holders.first().copied();
        if self.outcome.timeline.last().map(|(_, h)| *h) != Some(holder) {
            self.outcome.timeline.push((self.now_ms, holder));
        }
        for index in holders {
            self.outcome
                .first_primary_ms
                .entry(index)
                .or_insert(self.now_ms);
            self.outcome.last_primary_ms.insert(index, self.now_ms);
        }
    }

    fn run(mut self) -> Outcome {
        while self.now_ms <= self.schedule.duration_ms {
            self.deliver();
            self.step_members();
            self.step_oracle();
            self.check();
            self.now_ms += STEP_MS;
        }
        self.outcome.final_view = self.view;
        self.outcome
    }
}

fn quiet(seed: u64) -> Schedule {
    Schedule {
        seed,
        drift_ppm: [0; 4],
        offsets_ms: [0, 0, 0, 0],
        max_delay_ms: 5,
        loss_percent: 0,
        partitions: Vec::new(),
        pauses: Vec::new(),
        failover_at_ms: None,
        duration_ms: 12_000,
    }
}

#[test]
fn a_quiet_cluster_keeps_its_primary_and_removes_nobody() {
    let outcome = Sim::new(quiet(1)).run();
    assert!(outcome.removals.is_empty(), "{:?}", outcome.removals);
    assert_eq!(
        outcome.first_primary_ms.keys().copied().collect::<Vec<_>>(),
        [0]
    );
    assert!(outcome.writes_accepted > 100);
    assert_eq!(outcome.writes_rejected, 0);
}

#[test]
fn a_partitioned_primary_stops_before_the_backup_takes_over_and_its_writes_are_fenced() {
    let schedule = Schedule {
        partitions: vec![Partition {
            member: 0,
            cut: Cut::Both,
            from_ms: 3_000,
            until_ms: 20_000,
        }],
        ..quiet(2)
    };
    let outcome = Sim::new(schedule).run();
    assert_eq!(outcome.removals.len(), 1, "{:?}", outcome.removals);
    let (removed_at, removed) = &outcome.removals[0];
    assert_eq!(removed, &member_id(0));
    let a_stopped = outcome.last_primary_ms[&0];
    let b_started = outcome.first_primary_ms[&1];
    assert!(a_stopped < *removed_at && *removed_at <= b_started);
    // The old primary stops within one lease of its last heartbeat; the
    // backup serves within S plus a heartbeat round trip of the partition.
    assert!(a_stopped <= 3_000 + 2_000, "a acted until {a_stopped}");
    assert!(
        b_started <= 3_000 + 2_600 + 200 + 2 * 5 + STEP_MS * 4,
        "b took over at {b_started}"
    );
    assert_eq!(outcome.final_view.primary(&atc()), Some(&member_id(1)));
}

#[test]
fn a_healed_primary_rejoins_with_a_new_incarnation_as_a_backup() {
    let schedule = Schedule {
        partitions: vec![Partition {
            member: 0,
            cut: Cut::Both,
            from_ms: 2_000,
            until_ms: 7_000,
        }],
        ..quiet(3)
    };
    let outcome = Sim::new(schedule).run();
    let view = outcome.final_view;
    assert_eq!(view.primary(&atc()), Some(&member_id(1)));
    assert!(
        view.has_incarnation(&member_id(0), Incarnation(2)),
        "{view:?}"
    );
    assert_eq!(view.backups(&atc()), [member_id(0)]);
}

#[test]
fn a_one_way_partition_either_way_never_yields_two_primaries() {
    let partition = |cut| Schedule {
        partitions: vec![Partition {
            member: 0,
            cut,
            from_ms: 2_000,
            until_ms: 9_000,
        }],
        ..quiet(4)
    };
    // The oracle no longer hears a: it removes a and promotes b.
    let outcome = Sim::new(partition(Cut::ToOracle)).run();
    assert_eq!(outcome.final_view.primary(&atc()), Some(&member_id(1)));
    assert_eq!(outcome.removals.len(), 1);
    // a still reaches the oracle but hears no grant: it is not removed, it
    // fences itself within a lease and serves again once the link heals.
    let outcome = Sim::new(partition(Cut::FromOracle)).run();
    assert!(outcome.removals.is_empty());
    assert_eq!(outcome.final_view.primary(&atc()), Some(&member_id(0)));
    let holders: Vec<Option<usize>> = outcome.timeline.iter().map(|(_, h)| *h).collect();
    assert_eq!(
        holders,
        [None, Some(0), None, Some(0)],
        "{:?}",
        outcome.timeline
    );
    let (stopped_at, _) = outcome.timeline[2];
    let (resumed_at, _) = outcome.timeline[3];
    assert!((2_000..=4_000).contains(&stopped_at), "{stopped_at}");
    assert!(resumed_at >= 9_000, "{resumed_at}");
}

#[test]
fn pauses_shorter_than_the_lease_remove_nobody() {
    let schedule = Schedule {
        max_delay_ms: 50,
        pauses: vec![
            Pause {
                node: Node::Member(0),
                from_ms: 1_000,
                until_ms: 2_500,
            },
            Pause {
                node: Node::Oracle,
                from_ms: 4_000,
                until_ms: 8_000,
            },
            Pause {
                node: Node::Member(1),
                from_ms: 9_000,
                until_ms: 10_700,
            },
        ],
        ..quiet(5)
    };
    let outcome = Sim::new(schedule).run();
    assert!(outcome.removals.is_empty(), "{:?}", outcome.removals);
}

#[test]
fn an_oracle_failover_waits_out_the_old_leases() {
    let schedule = Schedule {
        failover_at_ms: Some(3_000),
        partitions: vec![Partition {
            member: 0,
            cut: Cut::Both,
            from_ms: 2_900,
            until_ms: 20_000,
        }],
        drift_ppm: [0, 10_000, -10_000, 10_000],
        ..quiet(6)
    };
    let outcome = Sim::new(schedule).run();
    assert_eq!(outcome.removals.len(), 1);
    // The new leader started at 3 300 ms and waits out S from then.
    assert!(outcome.removals[0].0 >= 3_300 + 2_600 * 1_000 / 1_010);
}

fn sim_cases() -> u32 {
    std::env::var("MEMBERSHIP_SIM_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(128)
}

fn arb_schedule() -> impl Strategy<Value = Schedule> {
    let rho = i64::from(TimingConfig::default().clock_drift_ppm);
    let node = prop_oneof![
        Just(Node::Oracle),
        Just(Node::Member(0)),
        Just(Node::Member(1))
    ];
    let pause = (
        node,
        0..15_000u64,
        prop_oneof![100..1_900u64, 1_900..10_000u64],
    )
        .prop_map(|(node, from_ms, len)| Pause {
            node,
            from_ms,
            until_ms: from_ms + len,
        });
    let cut = prop_oneof![Just(Cut::Both), Just(Cut::ToOracle), Just(Cut::FromOracle)];
    let partition =
        (0..2usize, cut, 0..15_000u64, 0..8_000u64).prop_map(|(member, cut, from_ms, len)| {
            Partition {
                member,
                cut,
                from_ms,
                until_ms: from_ms + len,
            }
        });
    (
        any::<u64>(),
        prop::array::uniform4(-rho..=rho),
        prop::array::uniform4(0..100_000u64),
        1..400u64,
        0..30u64,
        prop::collection::vec(partition, 0..4),
        prop::collection::vec(pause, 0..4),
        prop::option::of(0..15_000u64),
    )
        .prop_map(
            |(
                seed,
                drift_ppm,
                offsets_ms,
                max_delay_ms,
                loss_percent,
                partitions,
                pauses,
                failover,
            )| {
                Schedule {
                    seed,
                    drift_ppm,
                    offsets_ms,
                    max_delay_ms,
                    loss_percent,
                    partitions,
                    pauses,
                    failover_at_ms: failover.map(|t| t / STEP_MS * STEP_MS),
                    duration_ms: 20_000,
                }
            },
        )
}

proptest! {
    // 128 schedules per run; `MEMBERSHIP_SIM_CASES=20000` for a long run.
    #![proptest_config(ProptestConfig::with_cases(sim_cases()))]

    /// Random heartbeat schedules, delays, loss, partitions, pauses, clock
    /// drift within ρ and oracle failovers: never two primaries, never the
    /// removal of a member whose lease is valid on its own clock, and
    /// storage fences every stale-view write (asserted inside the run).
    #[test]
    fn no_schedule_yields_two_primaries_or_an_unfenced_stale_write(schedule in arb_schedule()) {
        let outcome = Sim::new(schedule).run();
        prop_assert_eq!(outcome.final_view.check_invariants(), Ok(()));
    }
}
