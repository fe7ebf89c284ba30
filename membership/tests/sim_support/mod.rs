//! The deterministic simulation harness for `sim_safety.rs`: one seed gives
//! one turmoil world (3 oracle nodes, 3 members hosting one primary/backup
//! service, 1 client) and one fault schedule; [`run_seed`] runs it and checks
//! the recorded history.

// A test-only module tree: its `pub` items are for `sim_safety.rs`, and not
// every helper is used by every test binary that includes it.
#![allow(dead_code, unreachable_pub)]

pub mod history;
pub mod member;
pub mod net;
pub mod raft;
pub mod rng;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ithaca_membership::node::{MembershipNode, NodeConfig};
use ithaca_membership::{DetectorConfig, ServiceName, TimingConfig};

use history::{History, Summary, What};
use member::{ClientSetup, MemberSetup, ORACLE_PORT, PendingStall};
use net::TurmoilTransport;
use raft::{RAFT_PORT, SharedDisk};
use rng::Rng;

/// The oracle nodes.
pub const ORACLES: [&str; 3] = ["o1", "o2", "o3"];
/// The members (each can host the service).
pub const MEMBERS: [&str; 3] = ["m1", "m2", "m3"];
/// The client.
pub const CLIENT: &str = "c1";
/// When faults start (members have joined by then).
pub const FAULTS_FROM: Duration = Duration::from_millis(1_500);
/// When faults stop; everything is healed after this.
pub const FAULTS_UNTIL: Duration = Duration::from_millis(6_000);
/// When the client stops writing and the run ends.
pub const RUN_UNTIL: Duration = Duration::from_millis(7_500);

/// Simulated time per step.
pub const TICK: Duration = Duration::from_millis(4);

/// The timing every node uses: scaled down from the defaults (L = 400 ms,
/// h = 50 ms, ρ = 1 %, S = 500 ms ≥ L·(1+ρ) + h = 454 ms) so a seed
/// simulates many failovers in a few simulated seconds.
pub fn timing() -> TimingConfig {
    TimingConfig {
        lease: Duration::from_millis(400),
        heartbeat_interval: Duration::from_millis(50),
        clock_drift_ppm: 10_000,
        suspicion_timeout: Duration::from_millis(500),
    }
}

/// The replicated service.
pub fn service() -> ServiceName {
    ServiceName::new("register").unwrap_or_else(|_| unreachable!("a valid name"))
}

/// How one run is configured.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunConfig {
    /// The mutation: members act whenever the view names them, ignoring
    /// their lease.
    pub ignore_lease: bool,
}

/// What a run produced.
pub struct Outcome {
    /// The history (its trace identifies the run).
    pub history: History,
    /// The checker's verdict.
    pub verdict: Result<Summary, Vec<String>>,
}

/// A clock jump pending on an oracle host (an event-loop stall).
type PendingJump = Arc<Mutex<Option<Duration>>>;

#[derive(Debug, Clone, Copy)]
enum Fault {
    /// Member cut from every oracle node, both ways.
    IsolateMember(usize),
    /// Oracle replies to a member dropped (member → oracle still works).
    OracleToMemberOneWay(usize),
    /// Member's heartbeats dropped (oracle → member still works).
    MemberToOracleOneWay(usize),
    /// An oracle node cut from the other oracle nodes.
    IsolateOracle(usize),
    /// A member crashes, and restarts at the end of the fault.
    CrashMember(usize),
    /// An oracle node crashes, and restarts at the end of the fault.
    CrashOracle(usize),
    /// 30 % loss between a member and the oracle nodes.
    Loss(usize),
    /// Every link's latency up to 60 ms.
    Latency,
    /// An oracle node's event loop stalls (its clock jumps).
    StallOracle(usize),
    /// The oracle leader's event loop stalls, whichever node leads.
    StallLeader,
    /// A member stalls between a lease check and its write.
    StallMember(usize),
}

fn pick_fault(rng: &mut Rng) -> Fault {
    let member = usize::try_from(rng.below(3)).unwrap_or(0);
    let oracle = usize::try_from(rng.below(3)).unwrap_or(0);
    match rng.below(10) {
        0 => Fault::IsolateMember(member),
        1 => Fault::OracleToMemberOneWay(member),
        2 => Fault::MemberToOracleOneWay(member),
        3 => Fault::IsolateOracle(oracle),
        4 => Fault::CrashMember(member),
        5 => Fault::CrashOracle(oracle),
        6 => Fault::Loss(member),
        7 => Fault::Latency,
        8 if rng.chance(50) => Fault::StallOracle(oracle),
        8 => Fault::StallLeader,
        _ => Fault::StallMember(member),
    }
}

/// Runs one seed and checks its history.
pub fn run_seed(seed: u64, config: RunConfig) -> Outcome {
    let history = History::default();
    let mut rng = Rng::new(seed);
    let base_latency = Duration::from_millis(2 + rng.below(15));
    let mut sim = turmoil::Builder::new()
        .simulation_duration(RUN_UNTIL + Duration::from_secs(5))
        .tick_duration(TICK)
        .min_message_latency(Duration::from_millis(1))
        .max_message_latency(base_latency)
        .rng_seed(rng.next_u64())
        .build();
    let timing = timing();
    let detector = DetectorConfig {
        timing,
        stall_threshold: timing.heartbeat_interval,
        ..DetectorConfig::default()
    };

    let mut jumps: Vec<PendingJump> = Vec::new();
    let leader_jump: PendingJump = Arc::default();
    for (index, name) in ORACLES.iter().enumerate() {
        let id = index as u64 + 1;
        let disk: SharedDisk = Arc::default();
        let jump: PendingJump = Arc::default();
        jumps.push(Arc::clone(&jump));
        let leader_jump = Arc::clone(&leader_jump);
        let boots = Arc::new(AtomicU64::new(0));
        let host_rng = rng.fork(id);
        let history = history.clone();
        let name = (*name).to_owned();
        sim.host(name.clone(), move || {
            let disk = Arc::clone(&disk);
            let jump = Arc::clone(&jump);
            let leader_jump = Arc::clone(&leader_jump);
            let boot = boots.fetch_add(1, Ordering::Relaxed);
            let mut boot_rng = host_rng.clone();
            let boot_rng = boot_rng.fork(boot);
            let history = history.clone();
            let name = name.clone();
            async move {
                let peers: BTreeMap<u64, SocketAddr> = ORACLES
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i as u64 + 1 != id)
                    .map(|(i, peer)| {
                        (
                            i as u64 + 1,
                            SocketAddr::new(turmoil::lookup(*peer), RAFT_PORT),
                        )
                    })
                    .collect();
                let consensus = raft::start(
                    id,
                    peers,
                    disk,
                    boot_rng,
                    timing.clock_drift_ppm,
                    history.clone(),
                    name.clone(),
                )
                .await?;
                let mut node_config =
                    NodeConfig::new(SocketAddr::from(([0, 0, 0, 0], ORACLE_PORT)), detector);
                node_config.tick_interval = Duration::from_millis(20);
                node_config.request_timeout = Duration::from_millis(500);
                node_config.member_addresses = ORACLES
                    .iter()
                    .enumerate()
                    .map(|(i, o)| {
                        (
                            i as u64 + 1,
                            SocketAddr::new(turmoil::lookup(*o), ORACLE_PORT).to_string(),
                        )
                    })
                    .collect();
                let node =
                    MembershipNode::start_on(&TurmoilTransport, node_config, Arc::new(consensus))
                        .await?;
                loop {
                    tokio::time::sleep(Duration::from_millis(25)).await;
                    let mut pending = jump.lock().unwrap_or_else(PoisonError::into_inner).take();
                    if pending.is_none() && node.snapshot().leader {
                        pending = leader_jump
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .take();
                    }
                    if let Some(stall) = pending {
                        // The whole host's clock jumps at once: every timer
                        // is overdue together, as after a stall.
                        tokio::time::advance(stall).await;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        let counters = node.counters();
                        history.record(
                            &name,
                            What::Fault {
                                description: format!(
                                    "stalled {} ms; leader: {}; local stalls seen: {}",
                                    stall.as_millis(),
                                    node.snapshot().leader,
                                    counters.local_stalls
                                ),
                            },
                        );
                    }
                }
            }
        });
    }

    let oracle_addresses = || {
        ORACLES
            .iter()
            .map(|o| SocketAddr::new(turmoil::lookup(*o), ORACLE_PORT))
            .collect::<Vec<_>>()
    };
    let mut stalls: Vec<PendingStall> = Vec::new();
    for name in MEMBERS {
        let stall: PendingStall = Arc::default();
        stalls.push(Arc::clone(&stall));
        let history = history.clone();
        sim.host(name, move || {
            let setup = MemberSetup {
                name: name.to_owned(),
                oracles: oracle_addresses(),
                timing,
                service: service(),
                history: history.clone(),
                stall: Arc::clone(&stall),
                ignore_lease: config.ignore_lease,
            };
            member::run_member(setup)
        });
    }
    {
        let history = history.clone();
        sim.client(CLIENT, async move {
            member::run_client(ClientSetup {
                name: CLIENT.to_owned(),
                number: 1,
                oracles: oracle_addresses(),
                service: service(),
                history,
                until: RUN_UNTIL,
            })
            .await
        });
    }

    // The fault schedule: one fault at a time, then a gap.
    let mut schedule = Vec::new();
    let mut at = FAULTS_FROM + Duration::from_millis(rng.below(500));
    while at < FAULTS_UNTIL {
        let fault = pick_fault(&mut rng);
        let lasts = Duration::from_millis(100 + rng.below(1_400));
        let end = (at + lasts).min(FAULTS_UNTIL);
        schedule.push((at, end, fault));
        at = end + Duration::from_millis(300 + rng.below(1_200));
    }

    let mut next = 0;
    let mut active: Option<(Duration, Fault)> = None;
    let result = loop {
        let now = sim.elapsed();
        if let Some((end, fault)) = active
            && now >= end
        {
            heal(&mut sim, fault, base_latency);
            history.record_at(
                now,
                "sim",
                What::Fault {
                    description: format!("heal {fault:?}"),
                },
            );
            active = None;
        }
        if active.is_none()
            && let Some((start, end, fault)) = schedule.get(next).copied()
            && now >= start
        {
            next += 1;
            inject(&mut sim, fault, end - start, &jumps, &leader_jump, &stalls);
            if let Fault::CrashMember(m) | Fault::CrashOracle(m) = fault {
                let host = match fault {
                    Fault::CrashMember(_) => MEMBERS.get(m),
                    _ => ORACLES.get(m),
                };
                if let Some(host) = host {
                    history.record_at(now, host, What::Crashed);
                }
            }
            history.record_at(
                now,
                "sim",
                What::Fault {
                    description: format!("{fault:?} for {} ms", (end - start).as_millis()),
                },
            );
            active = Some((end, fault));
        }
        match sim.step() {
            Ok(true) => break Ok(()),
            Ok(false) => {}
            Err(error) => break Err(error.to_string()),
        }
    };
    let verdict = match result {
        Ok(()) => history.check(&service()),
        Err(error) => Err(vec![format!("the simulation failed: {error}")]),
    };
    Outcome { history, verdict }
}

fn inject(
    sim: &mut turmoil::Sim<'_>,
    fault: Fault,
    lasts: Duration,
    jumps: &[PendingJump],
    leader_jump: &PendingJump,
    stalls: &[PendingStall],
) {
    let member = |i: usize| MEMBERS.get(i).copied().unwrap_or("m1");
    let oracle = |i: usize| ORACLES.get(i).copied().unwrap_or("o1");
    match fault {
        Fault::IsolateMember(m) => {
            for o in ORACLES {
                sim.partition(member(m), o);
            }
        }
        Fault::OracleToMemberOneWay(m) => {
            for o in ORACLES {
                sim.partition_oneway(o, member(m));
            }
        }
        Fault::MemberToOracleOneWay(m) => {
            for o in ORACLES {
                sim.partition_oneway(member(m), o);
            }
        }
        Fault::IsolateOracle(o) => {
            for other in ORACLES {
                if other != oracle(o) {
                    sim.partition(oracle(o), other);
                }
            }
        }
        Fault::CrashMember(m) => sim.crash(member(m)),
        Fault::CrashOracle(o) => sim.crash(oracle(o)),
        Fault::Loss(m) => {
            for o in ORACLES {
                sim.set_link_fail_rate(member(m), o, 0.3);
            }
        }
        Fault::Latency => sim.set_max_message_latency(Duration::from_millis(60)),
        Fault::StallOracle(o) => {
            if let Some(jump) = jumps.get(o) {
                *jump.lock().unwrap_or_else(PoisonError::into_inner) = Some(lasts);
            }
        }
        Fault::StallLeader => {
            *leader_jump.lock().unwrap_or_else(PoisonError::into_inner) = Some(lasts);
        }
        Fault::StallMember(m) => {
            if let Some(stall) = stalls.get(m) {
                *stall.lock().unwrap_or_else(PoisonError::into_inner) = Some(lasts);
            }
        }
    }
}

fn heal(sim: &mut turmoil::Sim<'_>, fault: Fault, base_latency: Duration) {
    let member = |i: usize| MEMBERS.get(i).copied().unwrap_or("m1");
    let oracle = |i: usize| ORACLES.get(i).copied().unwrap_or("o1");
    match fault {
        Fault::IsolateMember(m) => {
            for o in ORACLES {
                sim.repair(member(m), o);
            }
        }
        Fault::OracleToMemberOneWay(m) => {
            for o in ORACLES {
                sim.repair_oneway(o, member(m));
            }
        }
        Fault::MemberToOracleOneWay(m) => {
            for o in ORACLES {
                sim.repair_oneway(member(m), o);
            }
        }
        Fault::IsolateOracle(o) => {
            for other in ORACLES {
                if other != oracle(o) {
                    sim.repair(oracle(o), other);
                }
            }
        }
        Fault::CrashMember(m) => sim.bounce(member(m)),
        Fault::CrashOracle(o) => sim.bounce(oracle(o)),
        Fault::Loss(m) => {
            for o in ORACLES {
                sim.set_link_fail_rate(member(m), o, 0.0);
            }
        }
        Fault::Latency => sim.set_max_message_latency(base_latency),
        Fault::StallOracle(_) | Fault::StallLeader | Fault::StallMember(_) => {}
    }
}
