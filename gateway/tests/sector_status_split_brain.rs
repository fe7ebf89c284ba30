//! The split-brain scenario, with real processes: a primary and a backup
//! hosting the sector-status service (`ithaca serve` each), controller
//! clients split between them, and a partition (fault proxies) that cuts
//! the primary off from the backup (and, with the oracle, from the oracle)
//! while its own clients still reach it. A checker reads every answer the
//! clients recorded.
//!
//! - **Baseline mode** (failover on TCP timeouts): the backup takes over
//!   while the primary keeps serving its clients; the checker finds two
//!   acknowledged reservations of one sector for overlapping intervals.
//! - **Oracle mode**: the primary stops serving when its lease lapses,
//!   before the oracle promotes the backup; over several rounds the
//!   checker finds nothing, although both members served writes.

#![allow(clippy::unwrap_used)]

mod sector_status_common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ithaca_testkit::faultproxy::FaultProxy;
use sector_status_common::{
    Answer, Call, Gateway, Record, SoapClient, TIMING, call_following, check, free_port,
    member_port_proxy, scratch, tcp_proxy, until,
};

/// How long one slot lasts: every client reserves the slot's interval.
const SLOT: Duration = Duration::from_secs(1);

struct Pair {
    primary: Gateway,
    backup: Gateway,
    _oracle: Option<Gateway>,
    /// Cut to make the partition.
    links: Vec<FaultProxy>,
}

impl Pair {
    fn partition(&self) {
        for link in &self.links {
            link.block();
        }
    }

    fn heal(&self) {
        for link in &self.links {
            link.heal();
        }
    }
}

fn sector_config(port: u16, member: &str, advertise: &str, mode_keys: &str) -> String {
    format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\n[membership]\nenabled = false\n{TIMING}\
         [sector_status]\nenabled = true\nmember = \"{member}\"\nadvertise = \"{advertise}\"\n\
         replication_timeout_ms = 400\n{mode_keys}"
    )
}

async fn wait_serving(gateway: &Gateway, by: &str) {
    let client = SoapClient::default();
    let endpoint = gateway.endpoint();
    until(&format!("{by} to serve"), Duration::from_secs(20), || {
        let client = client.clone();
        let endpoint = endpoint.clone();
        async move {
            matches!(
                client.call(&endpoint, &Call::GetSector { sector: "S0".into() }, None).await,
                Answer::Sector { by: ref served, .. } if served == by
            )
        }
    })
    .await;
}

async fn baseline_pair(dir: &std::path::Path) -> Pair {
    let (p_port, b_port) = (free_port(), free_port());
    let to_p = tcp_proxy(([127, 0, 0, 1], p_port).into()).await;
    let to_b = tcp_proxy(([127, 0, 0, 1], b_port).into()).await;
    let p_url = format!("http://{}", to_p.local_addr());
    let b_url = format!("http://{}", to_b.local_addr());
    let primary = Gateway::start(
        "P",
        dir,
        &sector_config(
            p_port,
            "P",
            &p_url,
            &format!("mode = \"baseline\"\nrole = \"primary\"\npeer = \"{b_url}\"\n"),
        ),
    )
    .await;
    let backup = Gateway::start(
        "B",
        dir,
        &sector_config(
            b_port,
            "B",
            &b_url,
            &format!("mode = \"baseline\"\nrole = \"backup\"\npeer = \"{p_url}\"\nfailover_timeout_ms = 1000\n"),
        ),
    )
    .await;
    wait_serving(&primary, "P").await;
    Pair {
        primary,
        backup,
        _oracle: None,
        links: vec![to_p, to_b],
    }
}

async fn oracle_pair(dir: &std::path::Path) -> Pair {
    let oracle_port = free_port();
    let oracle = Gateway::start(
        "oracle",
        dir,
        &format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[membership]\nenabled = true\nlisten = \"127.0.0.1:{oracle_port}\"\n{TIMING}"
        ),
    )
    .await;
    let members = oracle.members.unwrap();
    let (oracle_udp, oracle_tcp) = member_port_proxy(members).await;
    let (p_port, b_port) = (free_port(), free_port());
    let to_p = tcp_proxy(([127, 0, 0, 1], p_port).into()).await;
    let to_b = tcp_proxy(([127, 0, 0, 1], b_port).into()).await;
    let primary = Gateway::start(
        "P",
        dir,
        &sector_config(
            p_port,
            "P",
            &format!("http://{}", to_p.local_addr()),
            &format!(
                "mode = \"oracle\"\noracles = \"{}\"\n",
                oracle_udp.local_addr()
            ),
        ),
    )
    .await;
    wait_serving(&primary, "P").await;
    let backup = Gateway::start(
        "B",
        dir,
        &sector_config(
            b_port,
            "B",
            &format!("http://{}", to_b.local_addr()),
            &format!("mode = \"oracle\"\noracles = \"{members}\"\n"),
        ),
    )
    .await;
    let client = SoapClient::default();
    let endpoint = backup.endpoint();
    until("B to join as backup", Duration::from_secs(20), || {
        let client = client.clone();
        let endpoint = endpoint.clone();
        async move {
            matches!(
                client.call(&endpoint, &Call::GetSector { sector: "S0".into() }, None).await,
                Answer::NotPrimary { primary: Some(ref p), .. } if p == "P"
            )
        }
    })
    .await;
    Pair {
        primary,
        backup,
        _oracle: Some(oracle),
        links: vec![oracle_udp, oracle_tcp, to_p, to_b],
    }
}

/// Two clients at each member reserve the current slot's interval in one
/// of two sectors, then ask who is in it; the partition starts after
/// 1.5 s and lasts `partition_for`.
async fn run_round(pair: &Pair, partition_for: Duration) -> Vec<Record> {
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let mut clients = Vec::new();
    for (group, endpoint) in [
        ("p", pair.primary.endpoint()),
        ("b", pair.backup.endpoint()),
    ] {
        for n in 0..2 {
            let name = format!("{group}{n}");
            let endpoint = endpoint.clone();
            let stop = Arc::clone(&stop);
            clients.push(tokio::spawn(async move {
                let mut client = SoapClient::default();
                client.timeout = Duration::from_millis(1500);
                let mut records = Vec::new();
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let slot =
                        u64::try_from(start.elapsed().as_millis() / SLOT.as_millis()).unwrap();
                    let sector = format!("S{}", slot % 2);
                    let from = slot * 100;
                    let reserve = Call::Reserve {
                        sector: sector.clone(),
                        flight: format!("{name}-{i}"),
                        from,
                        until: from + 100,
                    };
                    records.push(call_following(&client, &name, &endpoint, reserve).await);
                    let who = Call::WhoIsIn {
                        sector,
                        at: from + 50,
                    };
                    records.push(call_following(&client, &name, &endpoint, who).await);
                    i += 1;
                    tokio::time::sleep(Duration::from_millis(30)).await;
                }
                records
            }));
        }
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    println!("  partition at {:?}", start.elapsed());
    pair.partition();
    tokio::time::sleep(partition_for).await;
    println!("  heal at {:?}", start.elapsed());
    pair.heal();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    stop.store(true, Ordering::Relaxed);
    let mut records = Vec::new();
    for client in clients {
        records.extend(client.await.unwrap());
    }
    records
}

/// Prints what the clients saw: answers per member and kind.
fn summarize(records: &[Record]) {
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    for record in records {
        let kind = match &record.answer {
            Answer::Reserved { by, view } => format!("reserved by {by} in view {view}"),
            Answer::Flights { by, view, .. } => format!("who-is-in by {by} in view {view}"),
            Answer::Conflict { .. } => "conflict".to_owned(),
            Answer::NotPrimary { .. } => "not-primary".to_owned(),
            Answer::StaleView { .. } => "stale-view".to_owned(),
            Answer::Fault(reason) => {
                format!("fault: {}", reason.chars().take(60).collect::<String>())
            }
            Answer::Unreachable(_) => "unreachable".to_owned(),
            other => format!("{other:?}"),
        };
        *counts.entry(kind).or_default() += 1;
    }
    for (kind, count) in counts {
        println!("    {count:5}  {kind}");
    }
}

fn served_by(records: &[Record], member: &str) -> usize {
    records
        .iter()
        .filter(|r| matches!(&r.answer, Answer::Reserved { by, .. } if by == member))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baseline_mode_splits_under_a_partition_and_the_checker_finds_it() {
    let dir = scratch();
    let pair = baseline_pair(dir.path()).await;
    println!("baseline round: partition for 4 s (failover timeout 1 s)");
    let records = run_round(&pair, Duration::from_secs(4)).await;
    summarize(&records);
    let violations = check(&records);
    println!("  the checker found {} violations", violations.len());
    for violation in violations.iter().take(5) {
        println!("    {violation}");
    }
    assert!(
        served_by(&records, "B") > 0,
        "the backup never took over: {}",
        pair.backup.log()
    );
    assert!(
        !violations.is_empty(),
        "the baseline mode should split under the partition"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oracle_mode_never_splits_under_a_partition() {
    let rounds: usize = std::env::var("SECTOR_STATUS_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(2);
    for round in 1..=rounds {
        let dir = scratch();
        let pair = oracle_pair(dir.path()).await;
        println!("oracle round {round}/{rounds}: partition for 4 s (lease 1 s, suspicion 1.3 s)");
        let records = run_round(&pair, Duration::from_secs(4)).await;
        summarize(&records);
        let violations = check(&records);
        println!("  the checker found {} violations", violations.len());
        for violation in violations.iter().take(5) {
            println!("    {violation}");
        }
        assert!(
            violations.is_empty(),
            "split brain with the oracle: {}",
            violations
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        );
        assert!(served_by(&records, "P") > 0, "the primary never served");
        assert!(
            served_by(&records, "B") > 0,
            "the backup was never promoted: {}",
            pair.backup.log()
        );
    }
}
