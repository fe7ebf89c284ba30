//! `ithaca membership view|members|oracle-status [--admin URL] [--json]`:
//! the membership oracle of a running gateway, read from its admin
//! endpoints (`GET /membership/view`, `/membership/members`,
//! `/membership/oracle-status`).
//!
//! `ithaca membership member --oracles … --id … --role SERVICE [--record
//! FILE] [--metrics-listen ADDR]` runs a member process: it joins,
//! heartbeats, records its history (see
//! `ithaca_gateway::membership::member`) and serves its `ithaca_member_*`
//! metrics; SIGTERM or SIGINT leaves the group. `ithaca membership load`
//! simulates many members' heartbeats against one oracle (see
//! `ithaca_gateway::membership::load`).

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use ithaca_gateway::membership::load::{LoadConfig, run_load};
use ithaca_gateway::membership::member::{
    ActingTracker, HistoryRecorder, describe_member_metrics, record_member_metrics,
};
use ithaca_membership::client::{Member, MemberConfig};
use ithaca_membership::{MemberId, ServiceName};

use super::admin_client;
use serde_json::Value;

/// Prints one endpoint's JSON for people.
type Printer = fn(&mut dyn Write, &Value) -> std::io::Result<()>;

/// Where the gateway is and how to print.
#[derive(Debug, clap::Args)]
pub(crate) struct MembershipArgs {
    /// The gateway's admin base URL (http://HOST:PORT); by default the
    /// configuration's admin.listen, else server.listen.
    #[arg(long, value_name = "URL")]
    admin: Option<String>,
    /// Print the admin endpoint's JSON.
    #[arg(long)]
    json: bool,
}

/// `ithaca membership …`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum MembershipCommand {
    /// The committed view: its id, members, primaries and backups.
    View(MembershipArgs),
    /// Each member with its place in every service and, on the oracle
    /// leader, its failure detector health.
    Members(MembershipArgs),
    /// The oracle node: role, term, leader, log indexes, voters, and
    /// heartbeat counters.
    OracleStatus(MembershipArgs),
    /// Run a member: join, heartbeat, record every view and every stretch
    /// of acting as primary; leave on SIGTERM or SIGINT.
    Member(MemberArgs),
    /// Simulate many members heartbeating one oracle leader and report
    /// whether every one kept its lease.
    Load(LoadArgs),
}

/// The timing a member uses; it must match the oracle's.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct TimingArgs {
    /// The lease the oracle grants, L (membership.lease_ms).
    #[arg(long, default_value_t = 2000, value_name = "MS")]
    lease_ms: u64,
    /// The heartbeat interval, h (membership.heartbeat_interval_ms).
    #[arg(long, default_value_t = 200, value_name = "MS")]
    heartbeat_ms: u64,
    /// The clock drift bound, ρ (membership.clock_drift_ppm).
    #[arg(long, default_value_t = 10_000, value_name = "PPM")]
    drift_ppm: u32,
    /// The oracle's suspicion timeout, S (membership.suspicion_timeout_ms).
    #[arg(long, default_value_t = 2600, value_name = "MS")]
    suspicion_ms: u64,
}

impl TimingArgs {
    fn timing(&self) -> ithaca_membership::TimingConfig {
        ithaca_membership::TimingConfig {
            lease: Duration::from_millis(self.lease_ms),
            heartbeat_interval: Duration::from_millis(self.heartbeat_ms),
            clock_drift_ppm: self.drift_ppm,
            suspicion_timeout: Duration::from_millis(self.suspicion_ms),
        }
    }
}

/// `ithaca membership member`.
#[derive(Debug, clap::Args)]
pub(crate) struct MemberArgs {
    /// The oracle nodes' member-facing addresses (membership.listen),
    /// comma-separated.
    #[arg(long, value_delimiter = ',', required = true, value_name = "ADDR,...")]
    oracles: Vec<SocketAddr>,
    /// This member's id.
    #[arg(long, value_name = "ID")]
    id: String,
    /// Where this member serves (opaque to the oracle).
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
    address: String,
    /// A service this member can host; repeat for several.
    #[arg(long = "role", value_name = "SERVICE")]
    roles: Vec<String>,
    /// Append the history (joins, views, acting intervals) to this file.
    #[arg(long, value_name = "FILE")]
    record: Option<PathBuf>,
    /// Serve GET /metrics (the ithaca_member_* series) on this address.
    #[arg(long, value_name = "ADDR")]
    metrics_listen: Option<SocketAddr>,
    /// How often to check whether the member acts as primary.
    #[arg(long, default_value_t = 2, value_name = "MS")]
    poll_ms: u64,
    #[command(flatten)]
    timing: TimingArgs,
}

/// `ithaca membership load`.
#[derive(Debug, clap::Args)]
pub(crate) struct LoadArgs {
    /// The oracle leader's member-facing address.
    #[arg(long, value_name = "ADDR")]
    oracle: SocketAddr,
    /// How many members to simulate.
    #[arg(long, default_value_t = 1000)]
    members: usize,
    /// How long to heartbeat after every member joined.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    seconds: u64,
    /// UDP sockets to spread the members over.
    #[arg(long, default_value_t = 16)]
    sockets: usize,
    /// Joins in flight at once.
    #[arg(long, default_value_t = 32)]
    join_concurrency: usize,
    /// Member ids are PREFIX-NUMBER (use a new prefix per run: the view
    /// remembers members).
    #[arg(long, default_value = "load")]
    prefix: String,
    #[command(flatten)]
    timing: TimingArgs,
}

/// Runs a `membership` command; exit 1 when the gateway cannot be asked.
pub(crate) fn run(config_file: Option<&Path>, command: MembershipCommand) -> ExitCode {
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .and_then(|runtime| runtime.block_on(run_async(config_file, command)));
    result.unwrap_or_else(|error| {
        eprintln!("ithaca: {error:#}");
        ExitCode::FAILURE
    })
}

async fn run_async(
    config_file: Option<&Path>,
    command: MembershipCommand,
) -> anyhow::Result<ExitCode> {
    let (path, args, print): (_, _, Printer) = match &command {
        MembershipCommand::View(args) => ("/membership/view", args, print_view),
        MembershipCommand::Members(args) => ("/membership/members", args, print_members),
        MembershipCommand::OracleStatus(args) => ("/membership/oracle-status", args, print_status),
        MembershipCommand::Member(args) => return run_member(args).await,
        MembershipCommand::Load(args) => return load(args).await,
    };
    let (base, token) = admin_client::target(config_file, args.admin.as_deref())?;
    let url = format!("{base}{path}");
    let (status, body) = admin_client::get(&url, token.as_deref()).await?;
    if status != http::StatusCode::OK {
        let text = String::from_utf8_lossy(&body);
        bail!(
            "{url} answered {status}: {}",
            text.lines().next().unwrap_or_default()
        );
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        out.write_all(&body)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let value: Value = serde_json::from_slice(&body).context("the gateway's answer is not JSON")?;
    print(&mut out, &value)?;
    Ok(ExitCode::SUCCESS)
}

fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    }
}

fn names(value: &Value) -> String {
    let list: Vec<String> = value
        .as_array()
        .map(|items| items.iter().map(text).collect())
        .unwrap_or_default();
    if list.is_empty() {
        "-".to_owned()
    } else {
        list.join(",")
    }
}

fn print_view(out: &mut dyn Write, view: &Value) -> std::io::Result<()> {
    let members = view["members"].as_object();
    writeln!(
        out,
        "view {}: {} member(s)",
        text(&view["id"]),
        members.map_or(0, serde_json::Map::len)
    )?;
    if let Some(members) = members {
        for (member, info) in members {
            writeln!(
                out,
                "  {member} #{} at {} roles {}",
                text(&info["incarnation"]),
                text(&info["address"]),
                names(&info["roles"])
            )?;
        }
    }
    if let Some(primaries) = view["primaries"].as_object() {
        for (service, primary) in primaries {
            writeln!(
                out,
                "  service {service}: primary {} backups {}",
                text(primary),
                names(&view["backups"][service])
            )?;
        }
    }
    Ok(())
}

fn print_members(out: &mut dyn Write, report: &Value) -> std::io::Result<()> {
    writeln!(
        out,
        "view {}, this node {} the oracle leader, suspicion timeout {} ms",
        text(&report["view_id"]),
        if report["oracle_leader"].as_bool() == Some(true) {
            "is"
        } else {
            "is not"
        },
        text(&report["suspicion_timeout_ms"])
    )?;
    writeln!(
        out,
        "{:<24} {:<6} {:<10} {:<10} {:>8} {:>10} ADDRESS",
        "MEMBER", "INC", "PRIMARY", "BACKUP", "PHI", "SILENT-MS"
    )?;
    for member in report["members"].as_array().into_iter().flatten() {
        let phi = member["phi"]
            .as_f64()
            .map_or_else(|| "-".to_owned(), |phi| format!("{phi:.2}"));
        writeln!(
            out,
            "{:<24} {:<6} {:<10} {:<10} {:>8} {:>10} {}",
            text(&member["member"]),
            text(&member["incarnation"]),
            names(&member["primary_for"]),
            names(&member["backup_for"]),
            phi,
            text(&member["silent_for_ms"]),
            text(&member["address"])
        )?;
    }
    Ok(())
}

fn print_status(out: &mut dyn Write, report: &Value) -> std::io::Result<()> {
    let oracle = &report["oracle"];
    let node = &oracle["node"];
    let leader = &oracle["leader"];
    writeln!(
        out,
        "oracle node {} at {}: {} in term {}",
        text(&node["id"]),
        text(&node["address"]),
        text(&oracle["role"]),
        text(&oracle["term"])
    )?;
    writeln!(
        out,
        "  leader:     {}",
        if leader.is_null() {
            "none known".to_owned()
        } else {
            format!("{} at {}", text(&leader["id"]), text(&leader["address"]))
        }
    )?;
    writeln!(out, "  view:       {}", text(&oracle["view_id"]))?;
    writeln!(
        out,
        "  log:        last {} committed {} applied {}",
        text(&oracle["last_log_index"]),
        text(&oracle["committed_index"]),
        text(&oracle["applied_index"])
    )?;
    let voters: Vec<String> = oracle["voters"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|voter| format!("{}={}", text(&voter["id"]), text(&voter["address"])))
        .collect();
    writeln!(out, "  voters:     {}", voters.join(","))?;
    writeln!(out, "  members at: {}", text(&report["member_listen"]))?;
    let beats = &report["heartbeats"];
    writeln!(
        out,
        "  heartbeats: {} granted {} not-granted {} not-member {} not-leader {} malformed {}",
        text(&beats["heartbeats"]),
        text(&beats["granted"]),
        text(&beats["not_granted"]),
        text(&beats["not_member"]),
        text(&beats["not_leader"]),
        text(&beats["malformed"])
    )?;
    writeln!(
        out,
        "  removals:   {} committed, {} local stalls",
        text(&beats["removals_committed"]),
        text(&beats["local_stalls"])
    )?;
    Ok(())
}

/// `ithaca membership member` (see the module docs).
async fn run_member(args: &MemberArgs) -> anyhow::Result<ExitCode> {
    let id = MemberId::new(&args.id).context("--id")?;
    let services = args
        .roles
        .iter()
        .map(|role| ServiceName::new(role).with_context(|| format!("--role {role}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let timing = args.timing.timing();
    timing.validate().context("member timing")?;
    let mut config = MemberConfig::new(id.clone(), args.address.clone(), args.oracles.clone());
    config.timing = timing;
    for service in &services {
        config = config.role(service.clone());
    }
    let mut signals = crate::ShutdownSignals::install().context("cannot listen for signals")?;
    let mut recorder = match &args.record {
        Some(path) => Some(
            HistoryRecorder::open(path, id.clone())
                .with_context(|| format!("--record {}", path.display()))?,
        ),
        None => None,
    };
    let member = Arc::new(Member::join(config).await.context("cannot join")?);
    let metrics = match args.metrics_listen {
        Some(listen) => Some(serve_member_metrics(listen, Arc::clone(&member)).await?),
        None => None,
    };
    if let Some(recorder) = &mut recorder {
        recorder.joined(member.incarnation().0)?;
        recorder.view(&member.view())?;
    }
    println!(
        "member {} joined as incarnation {} in view {}",
        id,
        member.incarnation().0,
        member.view().id().0
    );
    let _ = std::io::stdout().flush();

    let mut tracker = ActingTracker::new(services);
    let mut views = member.watch();
    let mut every = tokio::time::interval(Duration::from_millis(args.poll_ms.max(1)));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let signal = loop {
        tokio::select! {
            signal = signals.next() => break signal,
            _ = every.tick() => {}
        }
        if let Some(recorder) = &mut recorder {
            if views.has_changed().unwrap_or(false) {
                let view = views.borrow_and_update().clone();
                recorder.view(&view)?;
            }
            tracker.poll(&member, recorder)?;
        }
    };
    if let Some(recorder) = &mut recorder {
        tracker.stop_all(recorder)?;
        recorder.exit()?;
    }
    if let Some((task, server)) = metrics {
        task.abort();
        server.abort();
    }
    eprintln!("ithaca: {signal}: leaving the group");
    if let Ok(member) = Arc::try_unwrap(member) {
        match tokio::time::timeout(Duration::from_secs(3), member.leave()).await {
            Ok(Ok(view)) => eprintln!("ithaca: left in view {}", view.0),
            Ok(Err(error)) => eprintln!("ithaca: leave failed: {error}"),
            Err(_) => eprintln!("ithaca: leave timed out"),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Serves `GET /metrics` with the process's recorder; returns the metrics
/// copying task and the server task.
async fn serve_member_metrics(
    listen: SocketAddr,
    member: Arc<Member>,
) -> anyhow::Result<(tokio::task::JoinHandle<()>, tokio::task::JoinHandle<()>)> {
    let handle =
        ithaca_gateway::metrics::install().context("cannot install the metrics recorder")?;
    describe_member_metrics();
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("--metrics-listen {listen}"))?;
    eprintln!(
        "ithaca: member metrics at http://{}/metrics",
        listener.local_addr()?
    );
    let copy = tokio::spawn(record_member_metrics(member));
    let server = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let handle = handle.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: hyper::Request<_>| {
                    let handle = handle.clone();
                    async move {
                        let _: &hyper::body::Incoming = request.body();
                        if request.uri().path() == "/metrics" {
                            hyper::Response::builder()
                                .header("content-type", "text/plain; version=0.0.4")
                                .body(http_body_util::Full::new(bytes::Bytes::from(
                                    handle.render(),
                                )))
                        } else {
                            hyper::Response::builder()
                                .status(http::StatusCode::NOT_FOUND)
                                .body(http_body_util::Full::new(bytes::Bytes::new()))
                        }
                    }
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await;
            });
        }
    });
    Ok((copy, server))
}

/// `ithaca membership load`: prints one `key=value` line.
async fn load(args: &LoadArgs) -> anyhow::Result<ExitCode> {
    let timing = args.timing.timing();
    timing.validate().context("load timing")?;
    let report = run_load(LoadConfig {
        oracle: args.oracle,
        members: args.members,
        duration: Duration::from_secs(args.seconds),
        sockets: args.sockets,
        join_concurrency: args.join_concurrency,
        prefix: args.prefix.clone(),
        timing,
    })
    .await
    .context("load")?;
    println!("{report}");
    Ok(if report.sustained() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}
