//! `ithaca membership view|members|oracle-status [--admin URL] [--json]`:
//! the membership oracle of a running gateway, read from its admin
//! endpoints (`GET /membership/view`, `/membership/members`,
//! `/membership/oracle-status`).

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use ithaca_gateway::config::{CliOverrides, Config};
use serde_json::Value;

/// The largest answer read.
const MAX_ANSWER: usize = 64 * 1024 * 1024;
/// How long a request to the gateway may take.
const TIMEOUT: Duration = Duration::from_secs(30);

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
    };
    let (base, token) = target(config_file, args)?;
    let url = format!("{base}{path}");
    let (status, body) = get(&url, token.as_deref()).await?;
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

fn target(
    config_file: Option<&Path>,
    args: &MembershipArgs,
) -> anyhow::Result<(String, Option<String>)> {
    let config = Config::load(config_file, &CliOverrides::default())
        .map_err(|error| anyhow::anyhow!("config error: {error}"))?;
    let token = match (&config.admin.token, &config.admin.token_file) {
        (Some(token), _) => Some(token.clone()),
        (None, Some(file)) => std::fs::read_to_string(file)
            .with_context(|| format!("reading admin.token_file {}", file.display()))?
            .lines()
            .next()
            .map(|line| line.trim().to_owned()),
        (None, None) => None,
    };
    let base = match &args.admin {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => {
            let mut addr = config.admin_addr();
            if addr.ip().is_unspecified() {
                addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
            }
            format!("http://{addr}")
        }
    };
    if !base.starts_with("http://") {
        bail!("--admin {base}: only http:// admin URLs are supported by this command");
    }
    Ok((base, token))
}

async fn get(url: &str, token: Option<&str>) -> anyhow::Result<(http::StatusCode, Bytes)> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let mut request = http::Request::get(url);
    if let Some(token) = token {
        request = request.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let request = request
        .body(Empty::new())
        .with_context(|| format!("bad admin URL {url}"))?;
    let response = tokio::time::timeout(TIMEOUT, client.request(request))
        .await
        .with_context(|| format!("{url}: no answer within {}s", TIMEOUT.as_secs()))?
        .with_context(|| format!("cannot reach the gateway at {url}"))?;
    let status = response.status();
    let body = Limited::new(response.into_body(), MAX_ANSWER)
        .collect()
        .await
        .map_err(|error| anyhow::anyhow!("{url}: reading the answer: {error}"))?
        .to_bytes();
    Ok((status, body))
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
