//! `bank-transfer`: money transfers between two Ithaca banks, each inside
//! its own WS-AtomicTransaction. The worked example of
//! docs/distributed-transactions.md, and the load driver of
//! `bench/wsat.sh` and of the crash tests.
//!
//! One transfer: begin a transaction at the coordinator's Activation
//! service (`WsatClient`, registered for Completion at an initiator
//! endpoint this process hosts), `Debit` one bank and `Credit` the other
//! with the `CoordinationContext` header (each bank registers for
//! Durable2PC and works on a `PREPARE TRANSACTION` branch), then commit
//! and wait for `Committed` or `Aborted`. A debit answered with the
//! `InsufficientFunds` fault, or any failed call, rolls the transaction
//! back instead.
//!
//! ```text
//! bank-transfer --coordinator http://127.0.0.1:8080 \
//!     --from http://127.0.0.1:8081/services/bank-a \
//!     --to http://127.0.0.1:8082/services/bank-b \
//!     --transfers 1000 --concurrency 16 --accounts 100 [--seed 7]
//! bank-transfer check --bank URL [--bank URL …] [--expect-total CENTS]
//! ```
//!
//! The run prints progress on stderr once a second and, last on stdout,
//! `transfers=… committed=… aborted=… failed=… tps=… p50_ms=… p99_ms=…`
//! (`failed`: transfers whose outcome is unknown to the client, such as a
//! coordinator that died before answering; the latencies are those of
//! committed transfers, begin to outcome). Exit status: 0 when the run
//! completed, 2 for bad arguments or when the initiator endpoint cannot
//! start, 1 when `check` finds a total other than `--expect-total`.

use std::net::{SocketAddr, TcpListener};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use ithaca_gateway::config::Config;
use ithaca_gateway::server::Gateway;
use ithaca_gateway::soap::client::{ClientError, SoapClient};
use ithaca_gateway::wsat::client::{BeginOptions, CompletionInitiatorRoute, Outcome, WsatClient};
use ithaca_gateway::wsat::load_or_create_key;
use ithaca_services::bank::{self, message};
use ithaca_wsdl::SoapVersion;

/// The initiator endpoint's path on this process's own listener.
const INITIATOR_PATH: &str = "/bank-transfer/initiator";

#[derive(Debug, Parser)]
#[command(
    name = "bank-transfer",
    version,
    about = "Money transfers between two Ithaca banks inside WS-AtomicTransactions",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Prints each bank's total and account count (its `Total`), and the sum.
    Check(CheckArgs),
}

#[derive(Debug, Args)]
struct RunArgs {
    /// The coordinator: its base URL (`http://host:port`, the Activation
    /// service at `/wsat/activation`) or the Activation service's URL.
    #[arg(long, value_name = "URL")]
    coordinator: Option<String>,
    /// The bank debited (its SOAP 1.1 endpoint, `…/services/NAME`).
    #[arg(long, value_name = "URL")]
    from: Option<String>,
    /// The bank credited.
    #[arg(long, value_name = "URL")]
    to: Option<String>,
    /// How many transfers.
    #[arg(long, default_value_t = 100)]
    transfers: u64,
    /// How many transfers run at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Accounts are picked from `1`..=K at both banks.
    #[arg(long, default_value_t = 100)]
    accounts: u32,
    /// The seed of the accounts and amounts picked (default: from the
    /// clock; printed either way).
    #[arg(long)]
    seed: Option<u64>,
    /// Amounts are picked from 1..=this, in cents.
    #[arg(long, default_value_t = 100)]
    max_amount: i64,
    /// Where this process listens for the coordinator's Committed/Aborted
    /// (port 0: a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// The base URL coordinators reach that listener at (default:
    /// `http://` and the listen address).
    #[arg(long, value_name = "URL")]
    public_url: Option<String>,
    /// How long one transfer may wait for each answer and for its outcome.
    #[arg(long, default_value_t = 30)]
    timeout_secs: u64,
    /// No progress lines on stderr.
    #[arg(long)]
    quiet: bool,
}

#[derive(Debug, Args)]
struct CheckArgs {
    /// A bank's SOAP endpoint; repeat for each bank.
    #[arg(long = "bank", value_name = "URL", required = true)]
    banks: Vec<String>,
    /// Fail (exit 1) unless the banks' totals add up to this, in cents.
    #[arg(long, value_name = "CENTS")]
    expect_total: Option<i64>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("bank-transfer: cannot start the async runtime: {error}");
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Some(Command::Check(args)) => runtime.block_on(check(args)),
        None => runtime.block_on(run(cli.run)),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("bank-transfer: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// The activation URL of `coordinator` (a base URL gets `/wsat/activation`).
fn activation_url(coordinator: &str) -> anyhow::Result<String> {
    let uri: http::Uri = coordinator
        .parse()
        .with_context(|| format!("--coordinator {coordinator}: not a URL"))?;
    if uri.scheme().is_none() || uri.host().is_none() {
        bail!("--coordinator {coordinator}: give an http:// or https:// URL");
    }
    if uri.path().is_empty() || uri.path() == "/" {
        Ok(format!(
            "{}/wsat/activation",
            coordinator.trim_end_matches('/')
        ))
    } else {
        Ok(coordinator.to_owned())
    }
}

/// splitmix64: the accounts and amount of transfer `n` depend only on the
/// seed and `n`, whatever the concurrency.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// What one transfer moves.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Plan {
    from: String,
    to: String,
    amount: i64,
}

fn plan(seed: u64, n: u64, accounts: u32, max_amount: i64) -> Plan {
    let a = mix(seed ^ mix(n));
    let b = mix(a);
    let c = mix(b);
    let accounts = u64::from(accounts.max(1));
    let max_amount = u64::try_from(max_amount.max(1)).unwrap_or(1);
    Plan {
        from: (a % accounts + 1).to_string(),
        to: (b % accounts + 1).to_string(),
        amount: i64::try_from(c % max_amount + 1).unwrap_or(1),
    }
}

/// Where one committed transfer's time went, as this client saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Phases {
    /// Activation and the Completion registration (`WsatClient::begin`).
    begin: Duration,
    /// The `Debit` call (the debited bank registers for Durable2PC first).
    debit: Duration,
    /// The `Credit` call (the credited bank registers first).
    credit: Duration,
    /// `Commit` to the outcome: Prepare, the votes, the decision write,
    /// Commit, Committed, then Committed to this initiator.
    commit: Duration,
}

impl Phases {
    fn total(&self) -> Duration {
        self.begin + self.debit + self.credit + self.commit
    }
}

/// How one transfer ended, as far as this client knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    Committed(Phases),
    Aborted,
    /// The outcome is unknown (or the transaction never began).
    Failed,
}

struct Driver {
    client: WsatClient,
    activation: String,
    from: SoapClient,
    to: SoapClient,
    options: BeginOptions,
}

impl Driver {
    async fn transfer(&self, plan: &Plan) -> Result<Ended, String> {
        let mut phases = Phases::default();
        let mut mark = Instant::now();
        let mut lap = || {
            let now = Instant::now();
            let elapsed = now - mark;
            mark = now;
            elapsed
        };
        let transaction = self
            .client
            .begin(&self.activation, self.options)
            .await
            .map_err(|e| format!("begin: {e}"))?;
        phases.begin = lap();
        let debit = message::debit_request(&plan.from, plan.amount);
        let action = bank::soap_action(bank::operation::DEBIT);
        if let Err(error) = transaction
            .call(&self.from, Some(&action), &[], &debit)
            .await
        {
            let insufficient = matches!(&error, ClientError::Fault { message, .. }
                if message::read_insufficient_funds(message).is_some());
            return match transaction.rollback().await {
                Ok(_) if insufficient => Ok(Ended::Aborted),
                Ok(_) => Err(format!("debit: {error}")),
                Err(rollback) => Err(format!("debit: {error}; rollback: {rollback}")),
            };
        }
        phases.debit = lap();
        let credit = message::credit_request(&plan.to, plan.amount);
        let action = bank::soap_action(bank::operation::CREDIT);
        if let Err(error) = transaction
            .call(&self.to, Some(&action), &[], &credit)
            .await
        {
            let _ = transaction.rollback().await;
            return Err(format!("credit: {error}"));
        }
        phases.credit = lap();
        match transaction.commit().await {
            Ok(Outcome::Committed) => {
                phases.commit = lap();
                Ok(Ended::Committed(phases))
            }
            Ok(_) => Ok(Ended::Aborted),
            Err(error) => Err(format!("commit: {error}")),
        }
    }
}

#[derive(Default)]
struct Counts {
    done: AtomicU64,
    committed: AtomicU64,
    aborted: AtomicU64,
    failed: AtomicU64,
}

fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted
        .get(index.min(sorted.len() - 1))
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let (Some(coordinator), Some(from), Some(to)) = (&args.coordinator, &args.from, &args.to)
    else {
        bail!("give --coordinator URL --from URL --to URL (or the `check` subcommand); see --help");
    };
    if args.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    let activation = activation_url(coordinator)?;
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| {
                u64::try_from(d.as_nanos() % u128::from(u64::MAX)).unwrap_or(1)
            })
    });
    println!("seed={seed}");
    let timeout = Duration::from_secs(args.timeout_secs.max(1));

    // The initiator endpoint: a gateway of its own, on a throwaway data
    // directory, hosting only the Completion initiator route.
    let scratch = tempfile::tempdir().context("cannot create a scratch directory")?;
    let listen = if args.listen.port() == 0 {
        let probe =
            TcpListener::bind(args.listen).with_context(|| format!("--listen {}", args.listen))?;
        probe.local_addr()?
    } else {
        args.listen
    };
    let base = args.public_url.clone().unwrap_or_else(|| {
        let shown = if listen.ip().is_unspecified() {
            SocketAddr::from(([127, 0, 0, 1], listen.port()))
        } else {
            listen
        };
        format!("http://{shown}")
    });
    let key = load_or_create_key(&scratch.path().join("initiator.key"))
        .map_err(|e| anyhow::anyhow!("initiator key: {e}"))?;
    let initiator = CompletionInitiatorRoute::new(key, &base, INITIATOR_PATH);
    let mut config = Config::default();
    config.server.listen = listen;
    config.membership.enabled = false;
    config.storage.data_dir = scratch.path().join("data");
    let gateway = Gateway::new(config)
        .routes(&initiator.routes())
        .start()
        .await
        .map_err(|e| anyhow::anyhow!("initiator endpoint on {listen}: {e}"))?;

    let soap = |url: &str| {
        SoapClient::new(url, SoapVersion::Soap11)
            .map(|client| client.with_timeout(timeout))
            .map_err(|e| anyhow::anyhow!("{url}: {e}"))
    };
    let driver = Arc::new(Driver {
        client: WsatClient::new(initiator).map_err(|e| anyhow::anyhow!("{e}"))?,
        activation,
        from: soap(from)?,
        to: soap(to)?,
        options: BeginOptions {
            expires: Some(timeout.saturating_mul(2)),
            request_timeout: timeout,
            outcome_timeout: timeout,
            ..BeginOptions::default()
        },
    });

    let counts = Arc::new(Counts::default());
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let progress = (!args.quiet).then(|| {
        let counts = counts.clone();
        let total = args.transfers;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            loop {
                tick.tick().await;
                eprintln!(
                    "progress: {}/{total} committed={} aborted={} failed={}",
                    counts.done.load(Ordering::Relaxed),
                    counts.committed.load(Ordering::Relaxed),
                    counts.aborted.load(Ordering::Relaxed),
                    counts.failed.load(Ordering::Relaxed),
                );
            }
        })
    });
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..args
        .concurrency
        .min(usize::try_from(args.transfers).unwrap_or(usize::MAX))
    {
        let (driver, counts, next) = (driver.clone(), counts.clone(), next.clone());
        let (transfers, accounts, max_amount, quiet) =
            (args.transfers, args.accounts, args.max_amount, args.quiet);
        workers.spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= transfers {
                    break;
                }
                let plan = plan(seed, n, accounts, max_amount);
                let ended = driver.transfer(&plan).await.unwrap_or_else(|error| {
                    if !quiet {
                        eprintln!("transfer {n}: {error}");
                    }
                    Ended::Failed
                });
                match ended {
                    Ended::Committed(phases) => {
                        latencies.push(phases);
                        counts.committed.fetch_add(1, Ordering::Relaxed);
                    }
                    Ended::Aborted => {
                        counts.aborted.fetch_add(1, Ordering::Relaxed);
                    }
                    Ended::Failed => {
                        counts.failed.fetch_add(1, Ordering::Relaxed);
                        // Do not spin against a peer that is down.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
                counts.done.fetch_add(1, Ordering::Relaxed);
            }
            latencies
        });
    }
    let mut latencies = Vec::new();
    while let Some(result) = workers.join_next().await {
        latencies.extend(result.context("a transfer worker failed")?);
    }
    let elapsed = started.elapsed();
    if let Some(progress) = progress {
        progress.abort();
    }
    let phase = |pick: fn(&Phases) -> Duration| {
        let mut sorted: Vec<Duration> = latencies.iter().map(pick).collect();
        sorted.sort_unstable();
        sorted
    };
    let (begin, debit, credit, commit) = (
        phase(|p| p.begin),
        phase(|p| p.debit),
        phase(|p| p.credit),
        phase(|p| p.commit),
    );
    eprintln!(
        "phases_p50_ms: begin={:.1} debit={:.1} credit={:.1} commit={:.1}",
        percentile_ms(&begin, 0.50),
        percentile_ms(&debit, 0.50),
        percentile_ms(&credit, 0.50),
        percentile_ms(&commit, 0.50),
    );
    let latencies = phase(Phases::total);
    let committed = counts.committed.load(Ordering::Relaxed);
    #[allow(clippy::cast_precision_loss)]
    let tps = committed as f64 / elapsed.as_secs_f64().max(1e-9);
    println!(
        "transfers={} committed={committed} aborted={} failed={} tps={tps:.1} p50_ms={:.1} p99_ms={:.1}",
        counts.done.load(Ordering::Relaxed),
        counts.aborted.load(Ordering::Relaxed),
        counts.failed.load(Ordering::Relaxed),
        percentile_ms(&latencies, 0.50),
        percentile_ms(&latencies, 0.99),
    );
    gateway.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

async fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let mut sum: i64 = 0;
    let mut accounts: i64 = 0;
    for url in &args.banks {
        let client = SoapClient::new(url, SoapVersion::Soap11)
            .map_err(|e| anyhow::anyhow!("{url}: {e}"))?
            .with_timeout(Duration::from_secs(30));
        let action = bank::soap_action(bank::operation::TOTAL);
        let response = client
            .call(Some(&action), &message::total_request())
            .await
            .map_err(|e| anyhow::anyhow!("{url}: Total: {e}"))?;
        let total = message::read_field_i64(&response.message, "total")
            .map_err(|e| anyhow::anyhow!("{url}: {e}"))?;
        let count = message::read_field_i64(&response.message, "accounts")
            .map_err(|e| anyhow::anyhow!("{url}: {e}"))?;
        println!("bank={url} total={total} accounts={count}");
        sum = sum.saturating_add(total);
        accounts = accounts.saturating_add(count);
    }
    println!("total={sum} accounts={accounts}");
    match args.expect_total {
        Some(expected) if expected != sum => {
            eprintln!("bank-transfer: the total is {sum}, expected {expected}");
            Ok(ExitCode::FAILURE)
        }
        _ => Ok(ExitCode::SUCCESS),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_depend_only_on_seed_and_number() {
        let a = plan(7, 3, 10, 100);
        assert_eq!(a, plan(7, 3, 10, 100));
        assert_ne!(plan(7, 3, 10, 100), plan(7, 4, 10, 100));
        for n in 0..1000 {
            let p = plan(1, n, 5, 50);
            let from: u32 = p.from.parse().unwrap_or(0);
            assert!((1..=5).contains(&from));
            assert!((1..=50).contains(&p.amount));
        }
    }

    #[test]
    fn a_base_coordinator_url_gets_the_activation_path() {
        assert_eq!(
            activation_url("http://127.0.0.1:8080").ok().as_deref(),
            Some("http://127.0.0.1:8080/wsat/activation")
        );
        assert_eq!(
            activation_url("http://h:1/x/activation").ok().as_deref(),
            Some("http://h:1/x/activation")
        );
        assert!(activation_url("nonsense").is_err());
    }
}
