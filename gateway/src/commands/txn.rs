//! `ithaca txn list [--in-doubt] [--all] [--json]` and `ithaca txn show
//! ID`: the WS-AT coordinator's transactions and heuristic outcomes, read
//! from the admin endpoint `GET /admin/txn` of a running gateway; `ithaca
//! txn resolve ID --note TEXT`: an operator marks a transaction's
//! heuristic outcomes resolved (`POST /admin/txn/resolve`, which needs the
//! configured admin token).

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};

use super::admin_client;
use ithaca_txn::admin::{
    HeuristicSummary, ResolveAnswer, ResolveRequest, Snapshot, TransactionSummary,
};
use ithaca_txn::log::Resolution;
use ithaca_txn::record::TxId;

/// Where the gateway's admin endpoints are.
#[derive(Debug, clap::Args)]
pub(crate) struct AdminArgs {
    /// The gateway's admin base URL (http://HOST:PORT); by default the
    /// configuration's admin.listen, else server.listen, on loopback when
    /// it listens on every address.
    #[arg(long, value_name = "URL")]
    admin: Option<String>,
}

/// `ithaca txn …`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum TxnCommand {
    /// List the coordinator's transactions (phase, in-doubt flag,
    /// participants); exit 1 if the gateway cannot be asked.
    List {
        /// Only transactions in doubt (a durable participant prepared and
        /// not yet finished).
        #[arg(long)]
        in_doubt: bool,
        /// Also list the heuristic outcomes already resolved, with who
        /// resolved them, when and why (by default only open ones).
        #[arg(long)]
        all: bool,
        /// Print the admin endpoint's JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Show one transaction, its participants and the heuristic outcomes
    /// kept for it; exit 1 if the coordinator neither holds it nor keeps a
    /// heuristic outcome of it (with --json: if it does not hold it).
    Show {
        /// The transaction id (the context's wscoor:Identifier).
        id: String,
        /// Print the admin endpoint's JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Mark a transaction's heuristic outcomes resolved once its
    /// participants have been reconciled by hand: they leave `txn list`
    /// and stay, with the note, in `txn list --all` and `txn show`. Needs
    /// the configured admin token; resolving again changes nothing. Exit 1
    /// if refused, if the coordinator keeps no heuristic outcome of the
    /// transaction, or if the gateway cannot be asked.
    Resolve {
        /// The transaction id (the context's wscoor:Identifier).
        id: String,
        /// What was done to reconcile the participants (kept in the log;
        /// at most 2048 bytes).
        #[arg(long, value_name = "TEXT")]
        note: String,
        /// Who resolves (by default $USER, else $LOGNAME).
        #[arg(long, value_name = "NAME")]
        operator: Option<String>,
        #[command(flatten)]
        admin: AdminArgs,
    },
}

/// Runs a `txn` command.
pub(crate) fn run(config_file: Option<&Path>, command: TxnCommand) -> ExitCode {
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

async fn run_async(config_file: Option<&Path>, command: TxnCommand) -> anyhow::Result<ExitCode> {
    match command {
        TxnCommand::List {
            in_doubt,
            all,
            json,
            admin,
        } => {
            let (base, token) = admin_client::target(config_file, admin.admin.as_deref())?;
            let query = match (in_doubt, all) {
                (false, false) => "",
                (true, false) => "?state=in-doubt",
                (false, true) => "?heuristics=all",
                (true, true) => "?state=in-doubt&heuristics=all",
            };
            let (status, body) =
                admin_client::get(&format!("{base}/admin/txn{query}"), token.as_deref()).await?;
            if status != http::StatusCode::OK {
                bail!("{base}/admin/txn answered {status}: {}", first_line(&body));
            }
            let mut out = std::io::stdout().lock();
            if json {
                out.write_all(&body)?;
                writeln!(out)?;
                return Ok(ExitCode::SUCCESS);
            }
            let snapshot: Snapshot =
                serde_json::from_slice(&body).context("the gateway's answer is not a snapshot")?;
            print_list(&mut out, &snapshot)?;
            Ok(ExitCode::SUCCESS)
        }
        TxnCommand::Show { id, json, admin } => {
            let (base, token) = admin_client::target(config_file, admin.admin.as_deref())?;
            let url = format!("{base}/admin/txn?id={}", percent_encode(&id));
            let (status, body) = admin_client::get(&url, token.as_deref()).await?;
            if status != http::StatusCode::OK && status != http::StatusCode::NOT_FOUND {
                bail!("{base}/admin/txn answered {status}: {}", first_line(&body));
            }
            let held = status == http::StatusCode::OK;
            if json {
                if !held {
                    eprintln!("ithaca: the coordinator holds no transaction {id}");
                    return Ok(ExitCode::FAILURE);
                }
                let mut out = std::io::stdout().lock();
                out.write_all(&body)?;
                writeln!(out)?;
                return Ok(ExitCode::SUCCESS);
            }
            // The heuristic outcomes outlive the transaction (they stay in
            // the log, resolved or not): the listing of in-doubt
            // transactions carries all of them.
            let (status, listing) = admin_client::get(
                &format!("{base}/admin/txn?state=in-doubt&heuristics=all"),
                token.as_deref(),
            )
            .await?;
            if status != http::StatusCode::OK {
                bail!(
                    "{base}/admin/txn answered {status}: {}",
                    first_line(&listing)
                );
            }
            let snapshot: Snapshot = serde_json::from_slice(&listing)
                .context("the gateway's answer is not a snapshot")?;
            let heuristics: Vec<&HeuristicSummary> = snapshot
                .heuristics
                .iter()
                .flatten()
                .filter(|h| h.tx == id)
                .collect();
            if !held && heuristics.is_empty() {
                eprintln!("ithaca: the coordinator holds no transaction {id}");
                return Ok(ExitCode::FAILURE);
            }
            let mut out = std::io::stdout().lock();
            if held {
                let tx: TransactionSummary = serde_json::from_slice(&body)
                    .context("the gateway's answer is not a transaction")?;
                print_one(&mut out, &tx)?;
            } else {
                writeln!(
                    out,
                    "transaction {id}\n  no longer held by the coordinator (finished)"
                )?;
            }
            print_heuristics(&mut out, &heuristics)?;
            Ok(ExitCode::SUCCESS)
        }
        TxnCommand::Resolve {
            id,
            note,
            operator,
            admin,
        } => {
            let operator = match operator {
                Some(name) => name,
                None => ["USER", "LOGNAME"]
                    .into_iter()
                    .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
                    .context("name yourself with --operator NAME ($USER is not set)")?,
            };
            // The gateway checks it too; checking here gives the same
            // message without a round trip.
            Resolution::new(&TxId(id.clone()), &operator, &note)?;
            let (base, token) = admin_client::target(config_file, admin.admin.as_deref())?;
            let url = format!("{base}/admin/txn/resolve?id={}", percent_encode(&id));
            let body = serde_json::to_vec(&ResolveRequest { operator, note })?;
            let (status, answer) = admin_client::post_json(&url, token.as_deref(), body).await?;
            if status != http::StatusCode::OK {
                bail!(
                    "{base}/admin/txn/resolve answered {status}: {}",
                    first_line(&answer)
                );
            }
            let answer: ResolveAnswer = serde_json::from_slice(&answer)
                .context("the gateway's answer is not a resolution")?;
            let mut out = std::io::stdout().lock();
            if answer.already_resolved {
                writeln!(
                    out,
                    "the heuristic outcomes of transaction {id} were already resolved; nothing changed"
                )?;
            } else {
                writeln!(
                    out,
                    "resolved {} heuristic outcome(s) of transaction {id}",
                    answer.resolved
                )?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn first_line(body: &[u8]) -> String {
    String::from_utf8_lossy(body)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn print_list(out: &mut impl Write, snapshot: &Snapshot) -> std::io::Result<()> {
    writeln!(
        out,
        "instance {}{}{}: {} transaction(s), {} in doubt",
        snapshot.instance,
        if snapshot.recovered {
            ""
        } else {
            " (recovering)"
        },
        if snapshot.fenced { " (FENCED)" } else { "" },
        snapshot.total,
        snapshot.in_doubt
    )?;
    if !snapshot.transactions.is_empty() {
        writeln!(
            out,
            "{:<46} {:<18} {:<8} {:<12} PARTICIPANTS",
            "ID", "PHASE", "IN-DOUBT", "EXPIRES-IN"
        )?;
    }
    for tx in &snapshot.transactions {
        // A transaction recovered from a dead instance keeps that
        // instance as its owner.
        let taken_over = if tx.owner == snapshot.instance {
            String::new()
        } else {
            format!("  taken over by {} from {}", snapshot.instance, tx.owner)
        };
        writeln!(
            out,
            "{:<46} {:<18} {:<8} {:<12} {}{taken_over}",
            tx.id,
            phase_name(tx),
            if tx.in_doubt { "yes" } else { "no" },
            tx.expires_in_ms
                .map_or_else(|| "-".to_owned(), |ms| format!("{ms}ms")),
            tx.participants.len()
        )?;
    }
    if !snapshot.takeovers.is_empty() {
        writeln!(out, "takeovers by {}:", snapshot.instance)?;
    }
    for takeover in &snapshot.takeovers {
        writeln!(
            out,
            "  took over {} at {} (fencing token {}): {} transaction(s) recovered",
            takeover.instance, takeover.taken_at, takeover.token, takeover.transaction_count
        )?;
        for tx in &takeover.transactions {
            writeln!(out, "    {tx}")?;
        }
    }
    if let Some(heuristics) = &snapshot.heuristics {
        let (open, resolved): (Vec<&HeuristicSummary>, Vec<&HeuristicSummary>) =
            heuristics.iter().partition(|h| h.resolution.is_none());
        if !open.is_empty() {
            writeln!(
                out,
                "heuristic outcomes (reconcile by hand, then `ithaca txn resolve ID --note TEXT`):"
            )?;
        }
        for h in open {
            writeln!(
                out,
                "  {} participant {} at {}: {}",
                h.tx, h.participant, h.address, h.kind
            )?;
        }
        if !resolved.is_empty() {
            writeln!(out, "resolved heuristic outcomes:")?;
        }
        for h in resolved {
            writeln!(
                out,
                "  {} participant {} at {}: {}",
                h.tx, h.participant, h.address, h.kind
            )?;
            print_resolution(out, "    ", h)?;
        }
    }
    Ok(())
}

fn print_heuristics(out: &mut impl Write, heuristics: &[&HeuristicSummary]) -> std::io::Result<()> {
    if heuristics.is_empty() {
        return Ok(());
    }
    writeln!(out, "  heuristic outcomes:")?;
    for h in heuristics {
        writeln!(
            out,
            "    participant {} at {}: {}{}",
            h.participant,
            h.address,
            h.kind,
            if h.resolution.is_some() {
                " (resolved)"
            } else {
                " (open: reconcile by hand, then `ithaca txn resolve`)"
            }
        )?;
        print_resolution(out, "      ", h)?;
    }
    Ok(())
}

/// `resolved by NAME at TIME: NOTE`, the note's further lines indented.
fn print_resolution(
    out: &mut impl Write,
    indent: &str,
    h: &HeuristicSummary,
) -> std::io::Result<()> {
    let Some(resolution) = &h.resolution else {
        return Ok(());
    };
    let mut lines = resolution.note.lines();
    writeln!(
        out,
        "{indent}resolved by {} at {}: {}",
        resolution.operator,
        resolution.resolved_at,
        lines.next().unwrap_or_default()
    )?;
    for line in lines {
        writeln!(out, "{indent}  {line}")?;
    }
    Ok(())
}

fn phase_name(tx: &TransactionSummary) -> String {
    serde_json::to_value(tx.phase)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn print_one(out: &mut impl Write, tx: &TransactionSummary) -> std::io::Result<()> {
    writeln!(out, "transaction {}", tx.id)?;
    writeln!(out, "  phase:     {}", phase_name(tx))?;
    writeln!(
        out,
        "  in doubt:  {}",
        if tx.in_doubt { "yes" } else { "no" }
    )?;
    writeln!(out, "  logged:    {}", if tx.logged { "yes" } else { "no" })?;
    writeln!(out, "  owner:     {}", tx.owner)?;
    if let Some(superior) = &tx.superior {
        writeln!(out, "  superior:  {superior}")?;
    }
    if let Some(ms) = tx.expires_in_ms {
        writeln!(out, "  expires in {ms}ms")?;
    }
    writeln!(out, "  participants:")?;
    for p in &tx.participants {
        writeln!(
            out,
            "    {:>3} {:<13} {:<11} {}",
            p.id, p.protocol, p.state, p.address
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ithaca_txn::admin::ResolutionSummary;

    fn heuristic(tx: &str, resolution: Option<ResolutionSummary>) -> HeuristicSummary {
        HeuristicSummary {
            tx: tx.to_owned(),
            participant: 1,
            address: "http://p1".to_owned(),
            kind: "aborted-after-commit".to_owned(),
            resolution,
        }
    }

    #[test]
    fn the_listing_separates_open_from_resolved_outcomes() {
        let snapshot = Snapshot {
            instance: "node-a".to_owned(),
            recovered: true,
            fenced: false,
            transactions: vec![],
            total: 0,
            in_doubt: 0,
            takeovers: vec![],
            heuristics: Some(vec![
                heuristic("urn:open", None),
                heuristic(
                    "urn:done",
                    Some(ResolutionSummary {
                        operator: "alice".to_owned(),
                        resolved_at: "2026-11-24T22:01:05Z".to_owned(),
                        note: "refunded\nticket 42".to_owned(),
                    }),
                ),
            ]),
        };
        let mut out = Vec::new();
        print_list(&mut out, &snapshot).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains("takeovers"), "{text}");
        let open_at = text.find("urn:open").unwrap();
        let resolved_at = text.find("resolved heuristic outcomes:").unwrap();
        assert!(open_at < resolved_at, "{text}");
        assert!(
            text.contains("resolved by alice at 2026-11-24T22:01:05Z: refunded\n      ticket 42"),
            "{text}"
        );
    }

    #[test]
    fn the_listing_shows_takeovers_and_the_original_owner() {
        let recovered = TransactionSummary {
            id: "urn:uuid:from-a".to_owned(),
            phase: ithaca_txn::admin::PhaseName::Committing,
            in_doubt: true,
            logged: true,
            expires_in_ms: None,
            owner: "a".to_owned(),
            participants: vec![],
            superior: None,
        };
        let own = TransactionSummary {
            id: "urn:uuid:own".to_owned(),
            owner: "b".to_owned(),
            ..recovered.clone()
        };
        let snapshot = Snapshot {
            instance: "b".to_owned(),
            recovered: true,
            fenced: false,
            transactions: vec![recovered, own],
            total: 2,
            in_doubt: 2,
            heuristics: None,
            takeovers: vec![ithaca_txn::admin::TakeoverSummary {
                instance: "a".to_owned(),
                token: 12,
                taken_at: "2026-11-25T00:30:00Z".to_owned(),
                transaction_count: 1,
                transactions: vec!["urn:uuid:from-a".to_owned()],
            }],
        };
        let mut out = Vec::new();
        print_list(&mut out, &snapshot).unwrap();
        let text = String::from_utf8(out).unwrap();
        let line = |id: &str| text.lines().find(|l| l.starts_with(id)).unwrap().to_owned();
        assert!(
            line("urn:uuid:from-a").ends_with("taken over by b from a"),
            "{text}"
        );
        assert!(!line("urn:uuid:own").contains("taken over"), "{text}");
        assert!(
            text.contains(
                "takeovers by b:\n  took over a at 2026-11-25T00:30:00Z (fencing token 12): 1 transaction(s) recovered\n    urn:uuid:from-a\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn transaction_ids_are_percent_encoded_for_the_query() {
        assert_eq!(
            percent_encode("urn:uuid:1b4e-28ba/x y"),
            "urn%3Auuid%3A1b4e-28ba%2Fx%20y"
        );
    }
}
