//! `ithaca demo bank`: money transfers between two banks through the
//! TransferService (each one WS-AtomicTransaction), with a report.
//!
//! Against a running gateway (`--url`, default `http://127.0.0.1:8080`):
//! reads the money held before (`Total`, and each bank's own `Total` at
//! `URL/services/NAME`), runs `--transfers N` transfers `--concurrency C`
//! at a time between random accounts in both directions, printing
//! progress once a second, then reads the money again and checks it: the
//! total is unchanged, and each bank's total moved by exactly what the
//! transfers told `Committed` moved (which holds when the demo is the
//! only client moving money). Exit status 0 when both hold.
//!
//! `--chaos` is the load mode: it starts its own `ithaca serve` processes
//! (this binary) in a temporary directory — a coordinator gateway (WS-AT
//! coordinator and TransferService) and one gateway per bank, the banks on
//! SQLite (or on PostgreSQL with `--database-url`, one new database per
//! bank) — runs transfers for `--duration-secs` while killing a random
//! process with `kill -9` every one to three seconds and restarting it,
//! then waits for every transaction to finish and audits: money conserved,
//! every transaction in both banks' journals or in neither (no transfer
//! half applied), every transfer told `Committed` in both, every one told
//! `Aborted` or refused in neither, nothing left prepared. Exit status 0
//! only when every invariant holds; 2 for bad arguments or a process that
//! cannot start.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use ithaca_gateway::soap::client::{ClientError, SoapClient};
use ithaca_services::bank;
use ithaca_services::transfer::{self, Outcome, message};
use ithaca_wsdl::SoapVersion;

use super::admin_client;

/// The gateway `ithaca serve` runs on embedded defaults.
const DEFAULT_URL: &str = "http://127.0.0.1:8080";
/// Exit status for bad arguments and processes that cannot start.
const EXIT_USAGE: u8 = 2;
/// Accounts each bank opens in `--chaos`, and their balance in cents.
const CHAOS_ACCOUNTS: u32 = 20;
const CHAOS_OPENING: i64 = 100_000;
/// The transfer service's deadline for each step in `--chaos` (a
/// transaction abandoned by a killed process rolls back at twice this).
const CHAOS_STEP_MS: u64 = 3_000;
/// How long the processes may take to settle after the last restart.
const SETTLE: Duration = Duration::from_secs(40);
/// How long the banks of a running gateway may take to apply the last
/// committed transfers (phase two) before the money is counted.
const SETTLE_AGAINST_GATEWAY: Duration = Duration::from_secs(15);

/// `ithaca demo bank` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct BankArgs {
    /// The gateway hosting the TransferService (and the banks, at
    /// URL/services/NAME).
    #[arg(long, value_name = "URL", default_value = DEFAULT_URL)]
    url: String,
    /// How many transfers (without --chaos).
    #[arg(long, value_name = "N", default_value_t = 200)]
    transfers: u64,
    /// How many transfers run at once.
    #[arg(long, value_name = "C", default_value_t = 8)]
    concurrency: usize,
    /// The two banks, by name.
    #[arg(long, value_delimiter = ',', default_value = "BankA,BankB")]
    banks: Vec<String>,
    /// Accounts are picked from 1..=K at both banks (without --chaos; the
    /// chaos banks open 20).
    #[arg(long, value_name = "K", default_value_t = 3)]
    accounts: u32,
    /// Amounts are picked from 1..=this, in cents.
    #[arg(long, value_name = "CENTS", default_value_t = 20_000)]
    max_amount: i64,
    /// The seed of the accounts, amounts and kills (default: random;
    /// printed either way).
    #[arg(long)]
    seed: Option<u64>,
    /// Run the load mode: own processes, kill -9 at random, then audit.
    #[arg(long)]
    chaos: bool,
    /// How long the --chaos load runs, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 20)]
    duration_secs: u64,
    /// --chaos: put the banks on this PostgreSQL server (a URL of any
    /// database on it; the server needs max_prepared_transactions > 0)
    /// instead of SQLite; one database per bank is created and dropped.
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// --chaos: keep the temporary directory (configs, logs, data).
    #[arg(long)]
    keep: bool,
    /// No progress lines.
    #[arg(long)]
    quiet: bool,
}

/// Runs `ithaca demo bank`.
pub(crate) fn run(args: &BankArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("ithaca: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = if args.chaos {
        runtime.block_on(chaos(args))
    } else {
        runtime.block_on(against_gateway(args))
    };
    result.unwrap_or_else(|error| {
        eprintln!("ithaca: demo bank: {error:#}");
        ExitCode::from(EXIT_USAGE)
    })
}

fn check_args(args: &BankArgs) -> anyhow::Result<(String, String)> {
    let [a, b] = args.banks.as_slice() else {
        bail!("--banks takes two bank names, such as BankA,BankB");
    };
    for bank in [a, b] {
        if !transfer::is_valid_bank(bank) {
            bail!("--banks: {bank:?} is not a bank name (1 to 32 of A-Z a-z 0-9 _ -)");
        }
    }
    if a == b {
        bail!("--banks: name two different banks");
    }
    if args.concurrency == 0 || args.concurrency > 1024 {
        bail!("--concurrency must be from 1 to 1024");
    }
    if args.accounts == 0 {
        bail!("--accounts must be at least 1");
    }
    if args.max_amount < 1 {
        bail!("--max-amount must be at least 1");
    }
    Ok((a.clone(), b.clone()))
}

/// splitmix64: everything random in a run follows from the seed.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn random_seed() -> u64 {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        return std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.subsec_nanos().into());
    }
    u64::from_le_bytes(bytes)
}

/// Transfer `n` of the run seeded `seed`: direction, accounts, amount.
fn plan(
    seed: u64,
    n: u64,
    banks: &(String, String),
    accounts: u32,
    max_amount: i64,
) -> message::TransferRequest {
    let a = mix(seed ^ mix(n));
    let (b, c) = (mix(a), mix(mix(a)));
    let accounts = u64::from(accounts.max(1));
    let max_amount = u64::try_from(max_amount.max(1)).unwrap_or(1);
    let (from_bank, to_bank) = if a & 1 == 0 {
        (banks.0.clone(), banks.1.clone())
    } else {
        (banks.1.clone(), banks.0.clone())
    };
    message::TransferRequest {
        from_bank,
        from_account: ((a >> 1) % accounts + 1).to_string(),
        to_bank,
        to_account: (b % accounts + 1).to_string(),
        amount: i64::try_from(c % max_amount + 1).unwrap_or(1),
    }
}

/// How one transfer ended, as the client was told.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ended {
    /// `Committed`, in the transaction named.
    Committed(String),
    /// `Aborted` (a bank voted Aborted at Prepare).
    Aborted(String),
    /// The `InsufficientFunds` fault: rolled back.
    Refused(String),
    /// Any other fault or failure: the outcome is unknown to the client.
    Failed(String),
}

/// The TransferService client.
struct Teller {
    client: SoapClient,
}

impl Teller {
    fn new(url: &str, timeout: Duration) -> anyhow::Result<Self> {
        let endpoint = format!(
            "{}{}",
            url.trim_end_matches('/'),
            ithaca_gateway::transfer::PATH
        );
        let client = SoapClient::new(&endpoint, SoapVersion::Soap11)
            .map_err(|e| anyhow::anyhow!("{endpoint}: {e}"))?
            .with_timeout(timeout);
        Ok(Self { client })
    }

    fn endpoint(&self) -> String {
        self.client.endpoint().to_string()
    }

    async fn transfer(&self, request: &message::TransferRequest) -> Ended {
        let action = transfer::soap_action(transfer::operation::TRANSFER);
        match self
            .client
            .call(Some(&action), &message::transfer_request(request))
            .await
        {
            Ok(response) => match message::read_transfer_response(&response.message) {
                Ok(read) => match read.outcome {
                    Outcome::Committed => Ended::Committed(read.transaction_id),
                    Outcome::Aborted => Ended::Aborted(read.transaction_id),
                },
                Err(error) => Ended::Failed(format!("unreadable answer: {error}")),
            },
            Err(ClientError::Fault { fault, message }) => {
                match message::read_insufficient_funds(&message) {
                    Some(detail) => Ended::Refused(detail.transaction_id),
                    None => Ended::Failed(fault.reason().to_owned()),
                }
            }
            Err(error) => Ended::Failed(error.to_string()),
        }
    }

    /// The TransferService's `Total`: the money in all its banks.
    async fn total(&self) -> anyhow::Result<i64> {
        let action = transfer::soap_action(transfer::operation::TOTAL);
        let response = self
            .client
            .call(Some(&action), &message::total_request())
            .await
            .with_context(|| format!("{}: Total", self.endpoint()))?;
        message::read_field_i64(&response.message, "total")
            .with_context(|| format!("{}: Total", self.endpoint()))
    }
}

/// A bank's own `Total` at `url`.
async fn bank_total(url: &str) -> anyhow::Result<i64> {
    let client = SoapClient::new(url, SoapVersion::Soap11)
        .map_err(|e| anyhow::anyhow!("{url}: {e}"))?
        .with_timeout(Duration::from_secs(10));
    let action = bank::soap_action(bank::operation::TOTAL);
    let response = client
        .call(Some(&action), &bank::message::total_request())
        .await
        .with_context(|| format!("{url}: Total"))?;
    bank::message::read_field_i64(&response.message, "total")
        .with_context(|| format!("{url}: Total"))
}

/// What the transfers of a run did.
#[derive(Default)]
struct Tally {
    done: AtomicU64,
    committed: AtomicU64,
    aborted: AtomicU64,
    refused: AtomicU64,
    failed: AtomicU64,
}

impl Tally {
    fn count(&self, ended: &Ended) {
        let counter = match ended {
            Ended::Committed(_) => &self.committed,
            Ended::Aborted(_) => &self.aborted,
            Ended::Refused(_) => &self.refused,
            Ended::Failed(_) => &self.failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        self.done.fetch_add(1, Ordering::Relaxed);
    }

    fn line(&self) -> String {
        format!(
            "committed {}, refused (insufficient funds) {}, aborted {}, failed (outcome unknown to the client) {}",
            self.committed.load(Ordering::Relaxed),
            self.refused.load(Ordering::Relaxed),
            self.aborted.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed)
        )
    }
}

/// One transfer and how it ended.
type Record = (message::TransferRequest, Ended);

/// What transfers a run makes.
struct Load {
    seed: u64,
    banks: (String, String),
    accounts: u32,
    max_amount: i64,
    concurrency: usize,
    /// How many transfers (`u64::MAX`: until stopped).
    limit: u64,
    quiet: bool,
}

/// Runs `load` with its workers until its limit is done or `stop` is set,
/// printing progress each second unless quiet.
async fn drive(
    teller: Arc<Teller>,
    load: Load,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<(Vec<Record>, Duration)> {
    let Load {
        seed,
        banks,
        accounts,
        max_amount,
        concurrency,
        limit,
        quiet,
    } = load;
    let tally = Arc::new(Tally::default());
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let progress = (!quiet).then(|| {
        let tally = tally.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            loop {
                tick.tick().await;
                let done = tally.done.load(Ordering::Relaxed);
                #[allow(clippy::cast_precision_loss)]
                let tps = done as f64 / started.elapsed().as_secs_f64().max(1e-9);
                let of = if limit == u64::MAX {
                    String::new()
                } else {
                    format!("/{limit}")
                };
                eprintln!(
                    "progress: {done}{of} transfers, {}, {tps:.1} transfers/s",
                    tally.line()
                );
            }
        })
    });
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency.min(usize::try_from(limit).unwrap_or(usize::MAX)) {
        let (teller, tally, next, stop) =
            (teller.clone(), tally.clone(), next.clone(), stop.clone());
        let banks = banks.clone();
        workers.spawn(async move {
            let mut records = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= limit {
                    break;
                }
                let request = plan(seed, n, &banks, accounts, max_amount);
                let ended = teller.transfer(&request).await;
                tally.count(&ended);
                if matches!(ended, Ended::Failed(_)) {
                    // Do not spin against a peer that is down.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                records.push((request, ended));
            }
            records
        });
    }
    let mut records = Vec::new();
    while let Some(result) = workers.join_next().await {
        records.extend(result.context("a transfer worker failed")?);
    }
    if let Some(progress) = progress {
        progress.abort();
    }
    Ok((records, started.elapsed()))
}

fn count(records: &[Record], pick: fn(&Ended) -> bool) -> usize {
    records.iter().filter(|(_, ended)| pick(ended)).count()
}

fn summary_line(records: &[Record]) -> String {
    format!(
        "committed {}, refused (insufficient funds) {}, aborted {}, failed (outcome unknown to the client) {}",
        count(records, |e| matches!(e, Ended::Committed(_))),
        count(records, |e| matches!(e, Ended::Refused(_))),
        count(records, |e| matches!(e, Ended::Aborted(_))),
        count(records, |e| matches!(e, Ended::Failed(_))),
    )
}

/// What the committed transfers moved into (positive) or out of each bank.
fn committed_net(records: &[Record]) -> BTreeMap<String, i64> {
    let mut net = BTreeMap::new();
    for (request, ended) in records {
        if matches!(ended, Ended::Committed(_)) {
            *net.entry(request.from_bank.clone()).or_insert(0) -= request.amount;
            *net.entry(request.to_bank.clone()).or_insert(0) += request.amount;
        }
    }
    net
}

/// `ithaca demo bank` against a running gateway.
async fn against_gateway(args: &BankArgs) -> anyhow::Result<ExitCode> {
    let banks = check_args(args)?;
    let seed = args.seed.unwrap_or_else(random_seed);
    let teller = Arc::new(Teller::new(&args.url, Duration::from_secs(60))?);
    let base = args.url.trim_end_matches('/').to_owned();
    let bank_url = |name: &str| format!("{base}/services/{name}");
    let mut out = std::io::stdout();
    writeln!(
        out,
        "ithaca demo bank: {} transfers between {} and {} (accounts 1..={}, up to {} cents each), {} at a time, seed {seed}",
        args.transfers, banks.0, banks.1, args.accounts, args.max_amount, args.concurrency
    )?;
    writeln!(out, "  TransferService: {}", teller.endpoint())?;
    let before = teller
        .total()
        .await
        .context("is `ithaca serve` running there with [transfer] enabled?")?;
    let mut bank_before = BTreeMap::new();
    for name in [&banks.0, &banks.1] {
        match bank_total(&bank_url(name)).await {
            Ok(total) => {
                bank_before.insert(name.clone(), total);
            }
            Err(error) => writeln!(
                out,
                "  note: {name}'s own Total cannot be read ({error:#}); its balance is not checked"
            )?,
        }
    }
    writeln!(out, "  money before: {}", cents(before))?;
    out.flush()?;
    let load = Load {
        seed,
        banks: banks.clone(),
        accounts: args.accounts,
        max_amount: args.max_amount,
        concurrency: args.concurrency,
        limit: args.transfers,
        quiet: args.quiet,
    };
    let (records, elapsed) = drive(teller.clone(), load, Arc::new(AtomicBool::new(false))).await?;
    let committed = count(&records, |e| matches!(e, Ended::Committed(_)));
    let failed = count(&records, |e| matches!(e, Ended::Failed(_)));
    #[allow(clippy::cast_precision_loss)]
    let tps = records.len() as f64 / elapsed.as_secs_f64().max(1e-9);
    writeln!(
        out,
        "  transfers: {} done: {}",
        records.len(),
        summary_line(&records)
    )?;
    writeln!(
        out,
        "  throughput: {tps:.1} transfers/s ({:.1} s)",
        elapsed.as_secs_f64()
    )?;
    if let Some(error) = records.iter().find_map(|(_, e)| match e {
        Ended::Failed(error) => Some(error),
        _ => None,
    }) {
        writeln!(out, "  first failure: {error}")?;
    }
    // `Committed` means the decision is durable; each bank applies it in
    // phase two, moments later: read until the balances settle.
    let net = committed_net(&records);
    let settling = Instant::now();
    let (after, bank_after) = loop {
        let after = teller.total().await?;
        let mut bank_after = BTreeMap::new();
        for name in bank_before.keys() {
            bank_after.insert(name.clone(), bank_total(&bank_url(name)).await?);
        }
        let settled = after == before
            && bank_before.iter().all(|(name, total_before)| {
                bank_after.get(name).copied().unwrap_or(0) - total_before
                    == net.get(name).copied().unwrap_or(0)
            });
        if settled || settling.elapsed() > SETTLE_AGAINST_GATEWAY {
            break (after, bank_after);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let conserved = before == after;
    writeln!(
        out,
        "  money after:  {} — {}",
        cents(after),
        if conserved {
            "conserved"
        } else {
            "NOT conserved"
        }
    )?;
    let mut consistent = true;
    for (name, total_before) in &bank_before {
        let total_after = bank_after.get(name).copied().unwrap_or(0);
        let moved = net.get(name).copied().unwrap_or(0);
        let verdict = if total_after - total_before == moved {
            "matches the committed transfers"
        } else if failed > 0 {
            "differs from the committed transfers (some outcomes are unknown to the client)"
        } else {
            consistent = false;
            "DIFFERS from the committed transfers (was another client moving money?)"
        };
        writeln!(
            out,
            "  {name}: {} -> {} ({moved:+} by {committed} committed transfers): {verdict}",
            cents(*total_before),
            cents(total_after),
        )?;
    }
    let ok = conserved && consistent;
    writeln!(
        out,
        "result: {}",
        if ok {
            "OK: money conserved, each bank's balance moved by its committed transfers"
        } else {
            "FAILED"
        }
    )?;
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn cents(amount: i64) -> String {
    let sign = if amount < 0 { "-" } else { "" };
    let amount = amount.unsigned_abs();
    format!(
        "{sign}{}.{:02} ({amount} cents)",
        amount / 100,
        amount % 100
    )
}

/// Where the chaos banks keep their money.
enum Store {
    Sqlite,
    Postgres {
        admin_url: String,
        databases: Vec<(String, String)>,
    },
}

/// One `ithaca serve` process of the chaos run, restartable on the same
/// port and data directory.
struct Node {
    name: String,
    port: u16,
    config: PathBuf,
    log: PathBuf,
    data: PathBuf,
    child: Option<Child>,
    kills: u32,
}

fn free_port() -> anyhow::Result<u16> {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").context("no free port")?;
    Ok(probe.local_addr()?.port())
}

impl Node {
    fn new(dir: &Path, name: &str, top: &str, tables: &str) -> anyhow::Result<Self> {
        let port = free_port()?;
        let data = dir.join(format!("{name}-data"));
        let config = dir.join(format!("{name}.toml"));
        let text = format!(
            "{top}\n[server]\nlisten = \"127.0.0.1:{port}\"\n\n[storage]\ndata_dir = \"{}\"\n\n\
             [log]\nfilter = \"warn\"\n\n[membership]\nenabled = false\n\n\
             [sector_status]\nenabled = false\n\n[bridge.iiop]\nenabled = false\n\n{tables}",
            data.display()
        );
        std::fs::write(&config, text).with_context(|| format!("{}", config.display()))?;
        Ok(Self {
            name: name.to_owned(),
            port,
            config,
            log: dir.join(format!("{name}.log")),
            data,
            child: None,
            kills: 0,
        })
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts the process and waits until it answers `/readyz`.
    async fn start(&mut self) -> anyhow::Result<()> {
        let exe = std::env::current_exe().context("cannot find the ithaca binary")?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("{}", self.log.display()))?;
        writeln!(&log, "---- start")?;
        let mut command = Command::new(exe);
        command
            .arg("serve")
            .arg("--config")
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        // `ithaca serve` reads ITHACA_* variables as configuration keys.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("ITHACA_") {
                command.env_remove(key);
            }
        }
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {}", self.name))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                self.child = None;
                bail!(
                    "{} exited at start ({status}); its log {}:\n{}",
                    self.name,
                    self.log.display(),
                    self.log_tail()
                );
            }
            if ready(self.port).await {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("{} not ready within 30 s:\n{}", self.name, self.log_tail());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `kill -9` (SIGKILL), and reaps the process.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            self.kills += 1;
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines
            .get(lines.len().saturating_sub(20)..)
            .unwrap_or_default()
            .join("\n")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Whether `GET /readyz` answers 200.
async fn ready(port: u16) -> bool {
    matches!(
        admin_client::get(&format!("http://127.0.0.1:{port}/readyz"), None).await,
        Ok((status, _)) if status == http::StatusCode::OK
    )
}

/// The URL of database `name` on the server of `url`.
fn database_url(url: &str, name: &str) -> anyhow::Result<String> {
    let (scheme, rest) = url
        .split_once("://")
        .filter(|(scheme, _)| matches!(*scheme, "postgres" | "postgresql"))
        .context("--database-url must be a postgres:// URL")?;
    let (authority, query) = match rest.split_once('/') {
        Some((authority, path)) => (authority, path.split_once('?').map(|(_, q)| q)),
        None => (rest.split_once('?').map_or(rest, |(a, _)| a), None),
    };
    Ok(match query {
        Some(query) => format!("{scheme}://{authority}/{name}?{query}"),
        None => format!("{scheme}://{authority}/{name}"),
    })
}

async fn pg_execute(url: &str, sql: &str) -> anyhow::Result<()> {
    use sqlx::Connection;
    let mut connection = sqlx::PgConnection::connect(url)
        .await
        .with_context(|| format!("cannot connect to {url}"))?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut connection)
        .await
        .with_context(|| format!("{sql} failed"))?;
    let _ = connection.close().await;
    Ok(())
}

/// One journal row: the transaction and the amount moved.
type JournalRow = (String, i64);

async fn read_journal(store: &Store, node: &Node, bank: &str) -> anyhow::Result<Vec<JournalRow>> {
    use sqlx::Connection;
    const QUERY: &str = "SELECT tx, delta FROM bank_journal";
    match store {
        Store::Postgres { databases, .. } => {
            let url = databases
                .iter()
                .find(|(name, _)| name == bank)
                .map(|(_, url)| url)
                .context("no database for the bank")?;
            let mut connection = sqlx::PgConnection::connect(url).await?;
            let rows: Vec<(String, i64)> =
                sqlx::query_as(QUERY)
                    .fetch_all(&mut connection)
                    .await
                    .with_context(|| format!("{bank}: reading bank_journal"))?;
            let _ = connection.close().await;
            Ok(rows)
        }
        Store::Sqlite => {
            let file = node.data.join(format!("bank-{bank}.sqlite"));
            let options = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(&file)
                .read_only(true);
            let mut connection = sqlx::SqliteConnection::connect_with(&options)
                .await
                .with_context(|| format!("{}", file.display()))?;
            let rows: Vec<(String, i64)> =
                sqlx::query_as(QUERY)
                    .fetch_all(&mut connection)
                    .await
                    .with_context(|| format!("{bank}: reading bank_journal"))?;
            let _ = connection.close().await;
            Ok(rows)
        }
    }
}

/// Branches still prepared at a PostgreSQL bank (0 for SQLite: its
/// prepared records are the bank's own business and are resolved once the
/// coordinator holds no transaction).
async fn prepared(store: &Store, bank: &str) -> anyhow::Result<i64> {
    use sqlx::Connection;
    let Store::Postgres { databases, .. } = store else {
        return Ok(0);
    };
    let url = databases
        .iter()
        .find(|(name, _)| name == bank)
        .map(|(_, url)| url)
        .context("no database for the bank")?;
    let mut connection = sqlx::PgConnection::connect(url).await?;
    let (count,): (i64,) = sqlx::query_as("SELECT count(*) FROM pg_prepared_xacts")
        .fetch_one(&mut connection)
        .await?;
    let _ = connection.close().await;
    Ok(count)
}

/// How many transactions the coordinator at `base` still holds.
async fn coordinator_holds(base: &str) -> anyhow::Result<usize> {
    let (status, body) = admin_client::get(&format!("{base}/admin/txn"), None).await?;
    if status != http::StatusCode::OK {
        bail!("{base}/admin/txn answered {status}");
    }
    let snapshot: ithaca_txn::admin::Snapshot =
        serde_json::from_slice(&body).context("the coordinator's /admin/txn is not a snapshot")?;
    if !snapshot.recovered {
        return Ok(usize::MAX);
    }
    Ok(snapshot.total)
}

/// The chaos run's processes, in their temporary directory.
struct World {
    dir: PathBuf,
    keep: bool,
    store: Store,
    coordinator: Node,
    banks: Vec<Node>,
}

impl Drop for World {
    fn drop(&mut self) {
        self.coordinator.kill();
        for bank in &mut self.banks {
            bank.kill();
        }
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn bank_table(name: &str, store: &Store) -> String {
    let storage = match store {
        Store::Sqlite => "store = \"sqlite\"\n".to_owned(),
        Store::Postgres { databases, .. } => {
            let url = databases
                .iter()
                .find(|(bank, _)| bank == name)
                .map_or("", |(_, url)| url.as_str());
            format!("database_url = \"{url}\"\n")
        }
    };
    format!(
        "[wsat]\nenabled = false\n\n[transfer]\nenabled = false\n\n[[bank]]\nname = \"{name}\"\n{storage}open_accounts = {CHAOS_ACCOUNTS}\nopening_balance = {CHAOS_OPENING}\n"
    )
}

async fn start_world(
    args: &BankArgs,
    banks: &(String, String),
    seed: u64,
) -> anyhow::Result<World> {
    let dir = std::env::temp_dir().join(format!(
        "ithaca-demo-bank-{}-{:08x}",
        std::process::id(),
        seed & 0xffff_ffff
    ));
    std::fs::create_dir_all(&dir).with_context(|| format!("{}", dir.display()))?;
    let store = match &args.database_url {
        None => Store::Sqlite,
        Some(url) => {
            let mut databases = Vec::new();
            for bank in [&banks.0, &banks.1] {
                let db = format!(
                    "ithaca_demo_{}_{:08x}_{}",
                    std::process::id(),
                    seed & 0xffff_ffff,
                    bank.to_ascii_lowercase().replace('-', "_")
                );
                pg_execute(url, &format!("CREATE DATABASE {db}")).await?;
                databases.push((bank.clone(), database_url(url, &db)?));
            }
            Store::Postgres {
                admin_url: url.clone(),
                databases,
            }
        }
    };
    let mut bank_nodes = Vec::new();
    for bank in [&banks.0, &banks.1] {
        bank_nodes.push(Node::new(&dir, bank, "", &bank_table(bank, &store))?);
    }
    let bank_urls: Vec<String> = bank_nodes
        .iter()
        .map(|node| format!("{} = \"{}/services/{}\"", node.name, node.base(), node.name))
        .collect();
    let coordinator = Node::new(
        &dir,
        "coordinator",
        "bank = []\n",
        &format!(
            "[wsat]\nenabled = true\n\n[transfer]\nenabled = true\ntimeout_ms = {CHAOS_STEP_MS}\nbanks = {{ {} }}\n",
            bank_urls.join(", ")
        ),
    )?;
    let mut world = World {
        dir,
        keep: args.keep,
        store,
        coordinator,
        banks: bank_nodes,
    };
    for bank in &mut world.banks {
        bank.start().await?;
    }
    world.coordinator.start().await?;
    Ok(world)
}

impl World {
    fn node_mut(&mut self, index: usize) -> &mut Node {
        match index.checked_sub(1).and_then(|i| self.banks.get_mut(i)) {
            Some(bank) => bank,
            None => &mut self.coordinator,
        }
    }

    async fn drop_databases(&self) {
        if let Store::Postgres {
            admin_url,
            databases,
        } = &self.store
        {
            for (_, url) in databases {
                if let Some(name) = url
                    .rsplit('/')
                    .next()
                    .map(|n| n.split('?').next().unwrap_or(n))
                {
                    let _ = pg_execute(admin_url, &format!("DROP DATABASE IF EXISTS {name}")).await;
                }
            }
        }
    }
}

/// `ithaca demo bank --chaos`.
async fn chaos(args: &BankArgs) -> anyhow::Result<ExitCode> {
    let banks = check_args(args)?;
    let seed = args.seed.unwrap_or_else(random_seed);
    let mut out = std::io::stdout();
    let store_name = if args.database_url.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    writeln!(
        out,
        "ithaca demo bank --chaos: {} s of transfers between {} and {} ({store_name} banks, {} at a time, seed {seed}) while kill -9 hits the banks and the coordinator",
        args.duration_secs, banks.0, banks.1, args.concurrency
    )?;
    out.flush()?;
    let mut world = start_world(args, &banks, seed).await?;
    let result = chaos_run(args, &banks, seed, &mut world, &mut out).await;
    if result.is_err() || !args.keep {
        // Processes first: they hold the databases open.
        world.coordinator.kill();
        for bank in &mut world.banks {
            bank.kill();
        }
        world.drop_databases().await;
    }
    if args.keep {
        writeln!(out, "  kept: {}", world.dir.display())?;
    }
    result
}

async fn chaos_run(
    args: &BankArgs,
    banks: &(String, String),
    seed: u64,
    world: &mut World,
    out: &mut std::io::Stdout,
) -> anyhow::Result<ExitCode> {
    writeln!(
        out,
        "  processes in {}: coordinator {}, {} {}, {} {}",
        world.dir.display(),
        world.coordinator.base(),
        world.banks.first().map_or("", |n| n.name.as_str()),
        world.banks.first().map(Node::base).unwrap_or_default(),
        world.banks.get(1).map_or("", |n| n.name.as_str()),
        world.banks.get(1).map(Node::base).unwrap_or_default(),
    )?;
    let bank_urls: Vec<(String, String)> = world
        .banks
        .iter()
        .map(|n| (n.name.clone(), format!("{}/services/{}", n.base(), n.name)))
        .collect();
    let mut money_before = 0i64;
    for (_, url) in &bank_urls {
        money_before += bank_total(url).await?;
    }
    writeln!(out, "  money before: {}", cents(money_before))?;
    out.flush()?;

    let teller = Arc::new(Teller::new(
        &world.coordinator.base(),
        Duration::from_millis(CHAOS_STEP_MS * 5),
    )?);
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (teller, stop, banks) = (teller.clone(), stop.clone(), banks.clone());
        let (concurrency, quiet, max_amount) = (args.concurrency, args.quiet, args.max_amount);
        tokio::spawn(async move {
            let load = Load {
                seed,
                banks,
                accounts: CHAOS_ACCOUNTS,
                max_amount,
                concurrency,
                limit: u64::MAX,
                quiet,
            };
            drive(teller, load, stop).await
        })
    };
    // The chaos: every 1 to 3 s a random process is killed, then restarted
    // after 0.2 to 1 s.
    let until = Instant::now() + Duration::from_secs(args.duration_secs.max(1));
    let mut n = 0u64;
    while Instant::now() < until {
        n += 1;
        let r = mix(seed ^ mix(n ^ 0xC4A0_5000));
        tokio::time::sleep(Duration::from_millis(1_000 + r % 2_000)).await;
        if Instant::now() >= until {
            break;
        }
        let victim = usize::try_from((r >> 16) % 3).unwrap_or(0);
        let node = world.node_mut(victim);
        node.kill();
        if !args.quiet {
            eprintln!("chaos: kill -9 {}", node.name);
        }
        tokio::time::sleep(Duration::from_millis(200 + (r >> 32) % 800)).await;
        node.start().await?;
        if !args.quiet {
            eprintln!("chaos: {} restarted", node.name);
        }
    }
    stop.store(true, Ordering::Relaxed);
    let (records, elapsed) = load.await.context("the load stopped")??;
    writeln!(
        out,
        "  kills: coordinator {}, {} {}, {} {} (each kill -9, then restarted)",
        world.coordinator.kills,
        banks.0,
        world.banks.first().map_or(0, |n| n.kills),
        banks.1,
        world.banks.get(1).map_or(0, |n| n.kills),
    )?;
    #[allow(clippy::cast_precision_loss)]
    let tps = records.len() as f64 / elapsed.as_secs_f64().max(1e-9);
    writeln!(
        out,
        "  transfers: {} in {:.1} s ({tps:.1}/s): {}",
        records.len(),
        elapsed.as_secs_f64(),
        summary_line(&records)
    )?;
    out.flush()?;

    // Settle: the coordinator finishes every transaction (those abandoned
    // by a killed transfer service roll back at their expiry) and the
    // banks hold nothing prepared.
    let settling = Instant::now();
    let coordinator = world.coordinator.base();
    loop {
        let held = coordinator_holds(&coordinator).await.unwrap_or(usize::MAX);
        let mut prepared_total = 0;
        for name in [&banks.0, &banks.1] {
            prepared_total += prepared(&world.store, name).await.unwrap_or(1);
        }
        if held == 0 && prepared_total == 0 {
            break;
        }
        if settling.elapsed() > SETTLE {
            writeln!(
                out,
                "  NOT settled within {} s: the coordinator holds {held} transactions, {prepared_total} branches prepared at the banks",
                SETTLE.as_secs()
            )?;
            writeln!(out, "result: FAILED (kept {})", world.dir.display())?;
            world.keep = true;
            return Ok(ExitCode::FAILURE);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    writeln!(
        out,
        "  settled in {:.1} s: no transaction left at the coordinator, nothing prepared at the banks",
        settling.elapsed().as_secs_f64()
    )?;

    // The audit.
    let mut money_after = 0i64;
    for (_, url) in &bank_urls {
        money_after += bank_total(url).await?;
    }
    let conserved = money_after == money_before;
    writeln!(
        out,
        "  money after:  {} — {}",
        cents(money_after),
        if conserved {
            "conserved"
        } else {
            "NOT conserved"
        }
    )?;
    let mut journals: HashMap<String, (Vec<i64>, Vec<i64>)> = HashMap::new();
    for (index, name) in [&banks.0, &banks.1].into_iter().enumerate() {
        let node = world.banks.get(index).context("no bank node")?;
        for (tx, delta) in read_journal(&world.store, node, name).await? {
            let entry = journals.entry(tx).or_default();
            if index == 0 {
                entry.0.push(delta);
            } else {
                entry.1.push(delta);
            }
        }
    }
    let complete = |(a, b): &(Vec<i64>, Vec<i64>)| {
        a.len() == 1 && b.len() == 1 && a.iter().sum::<i64>() + b.iter().sum::<i64>() == 0
    };
    let half: Vec<&String> = journals
        .iter()
        .filter(|(_, rows)| !complete(rows))
        .map(|(tx, _)| tx)
        .collect();
    writeln!(
        out,
        "  journals: {} transactions in both banks' journals (debit = credit), {} half applied",
        journals.len() - half.len(),
        half.len()
    )?;
    for tx in half.iter().take(5) {
        writeln!(out, "    half applied: {tx} {:?}", journals.get(*tx))?;
    }
    let mut told_committed_missing = 0usize;
    let mut told_undone_present = 0usize;
    for (_, ended) in &records {
        match ended {
            Ended::Committed(tx) if !journals.get(tx).is_some_and(complete) => {
                told_committed_missing += 1;
                writeln!(out, "    told Committed but not in both journals: {tx}")?;
            }
            Ended::Aborted(tx) | Ended::Refused(tx) if journals.contains_key(tx) => {
                told_undone_present += 1;
                writeln!(out, "    told Aborted/refused but journalled: {tx}")?;
            }
            _ => {}
        }
    }
    writeln!(
        out,
        "  outcomes: {} told Committed missing from a journal, {} told Aborted or refused found in one",
        told_committed_missing, told_undone_present
    )?;
    let committed = count(&records, |e| matches!(e, Ended::Committed(_)));
    let ok = conserved
        && half.is_empty()
        && told_committed_missing == 0
        && told_undone_present == 0
        && committed > 0;
    if committed == 0 {
        writeln!(out, "  no transfer committed: nothing was exercised")?;
    }
    writeln!(
        out,
        "result: {}",
        if ok {
            "OK: money conserved, no transfer half applied, every outcome told is the one journalled"
        } else {
            "FAILED"
        }
    )?;
    if !ok {
        world.keep = true;
        writeln!(out, "  logs and data kept in {}", world.dir.display())?;
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_follow_the_seed_and_stay_in_range() {
        let banks = ("A".to_owned(), "B".to_owned());
        assert_eq!(plan(7, 3, &banks, 3, 100), plan(7, 3, &banks, 3, 100));
        let mut directions = [0u32; 2];
        for n in 0..1000 {
            let p = plan(1, n, &banks, 5, 50);
            assert_ne!(p.from_bank, p.to_bank);
            directions[usize::from(p.from_bank == "B")] += 1;
            let from: u32 = p.from_account.parse().unwrap_or(0);
            assert!((1..=5).contains(&from));
            assert!((1..=50).contains(&p.amount));
        }
        assert!(directions.iter().all(|d| *d > 300), "{directions:?}");
    }

    #[test]
    fn database_urls_name_the_new_database() {
        assert_eq!(
            database_url("postgres://u@h:5/postgres?sslmode=disable", "x").ok(),
            Some("postgres://u@h:5/x?sslmode=disable".to_owned())
        );
        assert_eq!(
            database_url("postgresql://h", "x").ok(),
            Some("postgresql://h/x".to_owned())
        );
        assert!(database_url("mysql://h/x", "y").is_err());
    }

    #[test]
    fn committed_transfers_net_per_bank() {
        let request = |from: &str, to: &str, amount| message::TransferRequest {
            from_bank: from.into(),
            from_account: "1".into(),
            to_bank: to.into(),
            to_account: "2".into(),
            amount,
        };
        let records = vec![
            (request("A", "B", 10), Ended::Committed("t1".into())),
            (request("B", "A", 3), Ended::Committed("t2".into())),
            (request("A", "B", 99), Ended::Refused("t3".into())),
        ];
        let net = committed_net(&records);
        assert_eq!(net.get("A"), Some(&-7));
        assert_eq!(net.get("B"), Some(&7));
        assert_eq!(cents(12_345), "123.45 (12345 cents)");
    }
}
