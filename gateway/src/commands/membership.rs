//! `ithaca membership view|members|oracle-status [--admin URL] [--json]`:
//! the membership oracle of a running gateway, read from its admin
//! endpoints (`GET /membership/view`, `/membership/members`,
//! `/membership/oracle-status`).

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};

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
