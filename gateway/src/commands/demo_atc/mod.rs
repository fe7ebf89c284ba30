//! `ithaca demo atc`: the control tower (examples/atc/README.md).
//!
//! Each round starts its own processes in a temporary directory, all of
//! them `ithaca serve` of this binary: a primary `P` and a backup `B`
//! hosting the sector-status service, plus, in oracle mode, a membership
//! oracle. Four controllers, two sent to `P` and two to `B`, reserve the
//! current second's interval of a sector for flights of their own and ask
//! who is in it. After a while fault proxies cut `P` off from `B` (and from
//! the oracle) while `P`'s controllers still reach it; later the partition
//! heals. The checker ([`check`]) then reads every answer for two that
//! contradict each other:
//!
//! - **baseline** (failover on TCP timeouts): `B` takes over while `P`
//!   keeps serving, and controllers on both sides are told yes for one
//!   sector and time: the split brain;
//! - **oracle**: `P` stops serving when its lease lapses, before the oracle
//!   promotes `B`; the checker finds nothing.
//!
//! The command prints its progress and a report, and exits 0 when the
//! oracle mode had no conflict (1 otherwise, 2 when it could not run).

mod check;
mod cluster;
mod controller;

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::ValueEnum;

use check::Conflict;
use cluster::{Design, FAILOVER_MS, Pair};
use controller::{Answer, Record, Tally};

/// Controllers sent to each member.
const CONTROLLERS_PER_MEMBER: usize = 2;
/// How long the controllers run before the partition.
const BEFORE_PARTITION: Duration = Duration::from_millis(1_500);
/// How long they run after it heals.
const AFTER_HEAL: Duration = Duration::from_millis(2_000);
/// Conflicts printed per round.
const SHOWN_CONFLICTS: usize = 3;

/// Which designs to run.
#[derive(Clone, Copy, Debug, Eq, PartialEq, ValueEnum)]
pub(crate) enum Mode {
    /// The membership oracle with leases.
    Oracle,
    /// Failover on TCP timeouts (the split brain the oracle prevents).
    Baseline,
    /// The baseline first, then the oracle.
    Both,
}

/// `ithaca demo atc`.
#[derive(Debug, clap::Args)]
pub(crate) struct AtcArgs {
    /// Rounds per design, each with fresh processes.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=50))]
    rounds: u32,
    /// Which design to run.
    #[arg(long, value_enum, default_value_t = Mode::Both)]
    mode: Mode,
    /// How long the partition lasts, in milliseconds (at least 2500, so
    /// that the backup takes over in either design).
    #[arg(long, default_value_t = 3_000, value_parser = clap::value_parser!(u64).range(2_500..=60_000))]
    partition_ms: u64,
    /// Keep the working directory (each process's configuration and log)
    /// instead of deleting it.
    #[arg(long)]
    keep: bool,
}

/// What the rounds of one design found.
#[derive(Debug, Default)]
struct DesignReport {
    rounds: u32,
    double_bookings: usize,
    stale_reads: usize,
    served_by_p: usize,
    served_by_b: usize,
}

impl DesignReport {
    fn conflicts(&self) -> usize {
        self.double_bookings + self.stale_reads
    }
}

/// Runs the scenario (see the module docs).
pub(crate) fn run(args: &AtcArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("ithaca: cannot start the async runtime: {error}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(demo(args)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("ithaca: demo atc: {error:#}");
            ExitCode::from(2)
        }
    }
}

async fn demo(args: &AtcArgs) -> anyhow::Result<ExitCode> {
    let dir = WorkDir::create()?;
    println!("ithaca demo atc: the control tower");
    println!(
        "  a sector-status primary P and backup B; {CONTROLLERS_PER_MEMBER} controllers at each; \
         a partition cuts P off for {:.1} s in every round",
        duration_s(Duration::from_millis(args.partition_ms))
    );
    println!("  working directory: {}", dir.path().display());
    let designs: &[Design] = match args.mode {
        Mode::Oracle => &[Design::Oracle],
        Mode::Baseline => &[Design::Baseline],
        Mode::Both => &[Design::Baseline, Design::Oracle],
    };
    let mut reports = Vec::new();
    for &design in designs {
        println!();
        match design {
            Design::Baseline => println!(
                "baseline mode: failover on TCP timeouts (B takes over after {FAILOVER_MS} ms without an answer from P)"
            ),
            Design::Oracle => println!(
                "oracle mode: the membership oracle (leases of 1 s; P serves only while its lease is valid)"
            ),
        }
        let mut report = DesignReport::default();
        for round in 1..=args.rounds {
            let round_dir = dir.path().join(format!("{}-{round}", name(design)));
            let records = run_round(design, round, args, &round_dir).await?;
            report.rounds += 1;
            let conflicts = check::conflicts(&records);
            print_round(&records, &conflicts);
            report.double_bookings += conflicts.iter().filter(|c| c.is_double_booking()).count();
            report.stale_reads += conflicts.iter().filter(|c| !c.is_double_booking()).count();
            report.served_by_p += served_by(&records, "P");
            report.served_by_b += served_by(&records, "B");
        }
        reports.push((design, report));
    }

    println!();
    println!("report");
    let mut oracle_clean = true;
    for (design, report) in &reports {
        let verdict = match design {
            Design::Baseline if report.conflicts() > 0 => {
                "split brain: two controllers were told yes for one sector and time"
            }
            Design::Baseline => {
                "no split brain seen in this short run (run more rounds or a longer partition)"
            }
            Design::Oracle if report.conflicts() == 0 => "no two different answers",
            Design::Oracle => "SPLIT BRAIN WITH THE ORACLE: this is a bug",
        };
        if *design == Design::Oracle && report.conflicts() > 0 {
            oracle_clean = false;
        }
        println!(
            "  {:<8} {} round{}: {} conflicts ({} double bookings, {} stale reads); \
             reservations acknowledged by P {}, by B {}: {verdict}",
            name(*design),
            report.rounds,
            if report.rounds == 1 { "" } else { "s" },
            report.conflicts(),
            report.double_bookings,
            report.stale_reads,
            report.served_by_p,
            report.served_by_b,
        );
    }
    if args.keep {
        println!("kept {}", dir.keep().display());
    }
    std::io::stdout().flush()?;
    Ok(if oracle_clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The demo's working directory, removed when dropped unless kept.
struct WorkDir {
    path: std::path::PathBuf,
    keep: bool,
}

impl WorkDir {
    fn create() -> anyhow::Result<Self> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = std::env::temp_dir().join(format!("ithaca-atc-{}-{nanos}", std::process::id()));
        std::fs::create_dir(&path).with_context(|| format!("cannot create {}", path.display()))?;
        Ok(Self { path, keep: false })
    }

    fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Keeps the directory; returns its path.
    fn keep(mut self) -> std::path::PathBuf {
        self.keep = true;
        self.path.clone()
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

fn name(design: Design) -> &'static str {
    match design {
        Design::Baseline => "baseline",
        Design::Oracle => "oracle",
    }
}

fn duration_s(duration: Duration) -> f64 {
    duration.as_secs_f64()
}

/// One round: start the processes, run the controllers, partition, heal,
/// stop; returns every record.
async fn run_round(
    design: Design,
    round: u32,
    args: &AtcArgs,
    dir: &std::path::Path,
) -> anyhow::Result<Vec<Record>> {
    let partition_for = Duration::from_millis(args.partition_ms);
    let label = format!("  round {round}/{}", args.rounds);
    println!(
        "{label}: starting {}",
        match design {
            Design::Baseline => "P and B",
            Design::Oracle => "the oracle, P and B",
        }
    );
    let started = Instant::now();
    let pair = Pair::start(design, dir).await?;
    println!(
        "{label}: P serves, B follows ({:.1} s); controllers P1 P2 at P, B1 B2 at B",
        duration_s(started.elapsed())
    );

    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let start = Instant::now();
    let mut controllers = Vec::new();
    for (side, endpoint) in [
        ("P", pair.primary.endpoint()),
        ("B", pair.backup.endpoint()),
    ] {
        for n in 1..=CONTROLLERS_PER_MEMBER {
            controllers.push(tokio::spawn(controller::controller_loop(
                format!("{side}{n}"),
                endpoint.clone(),
                start,
                Arc::clone(&stop),
                Arc::clone(&tally),
            )));
        }
    }
    let progress = |what: &str| {
        println!(
            "{label}: {:>4.1} s  {what:<22} reservations acknowledged by P {:>3}, by B {:>3}; \
             refused as taken {:>4}; not served {:>4}",
            duration_s(start.elapsed()),
            tally.by_p.load(Ordering::Relaxed),
            tally.by_b.load(Ordering::Relaxed),
            tally.taken.load(Ordering::Relaxed),
            tally.unserved.load(Ordering::Relaxed),
        );
    };
    tokio::time::sleep(BEFORE_PARTITION).await;
    pair.partition();
    progress("partition: P cut off");
    let partition_end = Instant::now() + partition_for;
    while Instant::now() + Duration::from_secs(1) < partition_end {
        tokio::time::sleep(Duration::from_secs(1)).await;
        progress("partitioned");
    }
    tokio::time::sleep(partition_end.saturating_duration_since(Instant::now())).await;
    pair.heal();
    progress("healed");
    tokio::time::sleep(AFTER_HEAL).await;
    stop.store(true, Ordering::Relaxed);
    let mut records = Vec::new();
    for handle in controllers {
        records.extend(handle.await.context("a controller failed")?);
    }
    progress("stopped");
    drop(pair);
    Ok(records)
}

fn served_by(records: &[Record], member: &str) -> usize {
    records
        .iter()
        .filter(|r| matches!(&r.answer, Answer::Reserved { by, .. } if by == member))
        .count()
}

fn print_round(records: &[Record], conflicts: &[Conflict]) {
    let reads = records
        .iter()
        .filter(|r| matches!(r.answer, Answer::Flights { .. }))
        .count();
    println!(
        "    {} calls: {} reservations acknowledged (P {}, B {}), {} reads answered; {} conflicts",
        records.len(),
        served_by(records, "P") + served_by(records, "B"),
        served_by(records, "P"),
        served_by(records, "B"),
        reads,
        conflicts.len()
    );
    for conflict in conflicts.iter().take(SHOWN_CONFLICTS) {
        println!("      {conflict}");
    }
    if conflicts.len() > SHOWN_CONFLICTS {
        println!("      … and {} more", conflicts.len() - SHOWN_CONFLICTS);
    }
}
