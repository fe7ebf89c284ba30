//! The processes of one round: an oracle (oracle mode), a primary `P` and a
//! backup `B`, each an `ithaca serve` of this very binary with a
//! configuration written to the round's directory, and the fault proxies
//! whose blocking is the partition.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use ithaca_gateway::config::{BaselineRole, Config, SectorStatusMode};
use ithaca_testkit::faultproxy::FaultProxy;
use tokio::process::{Child, Command};

use super::controller::{Answer, Call, SectorClient};

/// The timing every process shares: a 1 s lease, 100 ms heartbeats, 1 %
/// drift and a 1.3 s suspicion timeout (the smallest safe value is
/// 1.11 s), so a round takes seconds.
const LEASE_MS: u64 = 1_000;
const HEARTBEAT_MS: u64 = 100;
const DRIFT_PPM: u32 = 10_000;
const SUSPICION_MS: u64 = 1_300;
/// Baseline mode: the backup takes over after this much silence.
pub(crate) const FAILOVER_MS: u64 = 1_000;
/// How long a process may take to start or a member to join.
const START_LIMIT: Duration = Duration::from_secs(30);

/// Which design decides who serves.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) enum Design {
    /// Failover on TCP timeouts (no oracle).
    Baseline,
    /// The membership oracle with leases.
    Oracle,
}

/// One `ithaca serve` process.
pub(crate) struct Process {
    child: Child,
    name: &'static str,
    /// Its server listener, `http://127.0.0.1:PORT`.
    pub(crate) base: String,
    dir: PathBuf,
}

impl Process {
    /// The SOAP 1.1 endpoint of its sector-status service.
    pub(crate) fn endpoint(&self) -> String {
        format!("{}{}", self.base, ithaca_gateway::sector_status::PATH)
    }

    /// The last lines it logged, for a failure message.
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("stderr.log")).unwrap_or_default();
        let mut tail: Vec<&str> = log.lines().rev().take(8).collect();
        tail.reverse();
        tail.join("\n")
    }
}

/// A primary, a backup, maybe an oracle, and the links the partition cuts.
pub(crate) struct Pair {
    /// The member that starts as primary.
    pub(crate) primary: Process,
    /// The member that starts as backup.
    pub(crate) backup: Process,
    _oracle: Option<Process>,
    links: Vec<FaultProxy>,
}

impl Pair {
    /// Starts the processes of `design` under `dir` and waits until `P`
    /// serves and `B` follows it.
    pub(crate) async fn start(design: Design, dir: &Path) -> anyhow::Result<Self> {
        match design {
            Design::Baseline => baseline(dir).await,
            Design::Oracle => oracle(dir).await,
        }
    }

    /// Cuts `P` off from `B` (and from the oracle): every link blocks, the
    /// controllers' own connections stay.
    pub(crate) fn partition(&self) {
        for link in &self.links {
            link.block();
        }
    }

    /// Lets everything flow again.
    pub(crate) fn heal(&self) {
        for link in &self.links {
            link.heal();
        }
    }
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("no free port")?;
    Ok(listener.local_addr()?.port())
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

async fn tcp_proxy(target: SocketAddr) -> anyhow::Result<FaultProxy> {
    FaultProxy::tcp(loopback(0), target)
        .await
        .context("cannot start a TCP proxy")
}

/// A UDP and a TCP proxy on one port for an oracle's member address
/// (heartbeats over UDP, joins over TCP).
async fn member_port_proxy(target: SocketAddr) -> anyhow::Result<(FaultProxy, FaultProxy)> {
    for _ in 0..20 {
        let udp = FaultProxy::udp(loopback(0), target)
            .await
            .context("cannot start a UDP proxy")?;
        if let Ok(tcp) = FaultProxy::tcp(udp.local_addr(), target).await {
            return Ok((udp, tcp));
        }
    }
    bail!("no port free for both UDP and TCP")
}

/// A configuration that hosts nothing but what the round needs: no banks,
/// no coordinator, no transfer service, no IIOP listener, no oracle, no
/// sector status (the callers switch on their part). [`spawn`] gives each
/// process a data directory of its own.
fn bare_config(port: u16) -> Config {
    let mut config = Config::default();
    config.server.listen = loopback(port);
    config.log.filter = "warn".to_owned();
    config.wsat.enabled = false;
    config.bridge.iiop.enabled = false;
    config.bridge.soap.clear();
    config.bridge.corba.clear();
    config.bank.clear();
    config.transfer.enabled = false;
    config.membership.enabled = false;
    config.membership.lease_ms = LEASE_MS;
    config.membership.heartbeat_interval_ms = HEARTBEAT_MS;
    config.membership.clock_drift_ppm = DRIFT_PPM;
    config.membership.suspicion_timeout_ms = SUSPICION_MS;
    config.sector_status.enabled = false;
    config
}

/// A member hosting the sector-status service as `member`, reached by
/// peers and redirected clients at `advertise`.
fn member_config(port: u16, member: &str, advertise: &str) -> Config {
    let mut config = bare_config(port);
    let sector = &mut config.sector_status;
    sector.enabled = true;
    sector.member = member.to_owned();
    sector.advertise = Some(advertise.to_owned());
    sector.replication_timeout_ms = 400;
    config
}

/// Writes `config` to `DIR/NAME/ithaca.toml`, starts `ithaca serve` on it
/// and waits for `/healthz`.
async fn spawn(name: &'static str, dir: &Path, config: &Config) -> anyhow::Result<Process> {
    let dir = dir.join(name);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut config = config.clone();
    config.storage.data_dir = dir.join("data");
    let mut text = toml::to_string(&config).context("cannot write a configuration")?;
    // No `[[bank]]` table means the default banks: an empty list says none.
    if config.bank.is_empty() && !text.contains("bank = []") {
        text.insert_str(0, "bank = []\n");
    }
    let file = dir.join("ithaca.toml");
    std::fs::write(&file, text).with_context(|| format!("cannot write {}", file.display()))?;
    let stderr = std::fs::File::create(dir.join("stderr.log"))?;
    let binary = std::env::current_exe().context("cannot find the ithaca binary")?;
    let mut command = Command::new(binary);
    // The configuration file says everything; no ITHACA_* override from
    // the caller's environment applies.
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("ITHACA_") {
            command.env_remove(key);
        }
    }
    let child = command
        .arg("--config")
        .arg(&file)
        .arg("serve")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {name}"))?;
    let mut process = Process {
        child,
        name,
        base: format!("http://{}", config.server.listen),
        dir,
    };
    let health = format!("{}/healthz", process.base);
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let started = Instant::now();
    loop {
        if let Ok(Some(status)) = process.child.try_wait() {
            bail!(
                "{} exited at start ({status}):\n{}",
                process.name,
                process.log_tail()
            );
        }
        if let Ok(uri) = health.parse::<http::Uri>()
            && let Ok(Ok(response)) =
                tokio::time::timeout(Duration::from_secs(1), client.get(uri)).await
            && response.status().is_success()
        {
            return Ok(process);
        }
        if started.elapsed() > START_LIMIT {
            bail!(
                "{} did not answer /healthz within {}s:\n{}",
                process.name,
                START_LIMIT.as_secs(),
                process.log_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls `GetSector` at `process` until `ready` holds for the answer.
async fn wait_for(
    process: &Process,
    what: &str,
    ready: impl Fn(&Answer) -> bool,
) -> anyhow::Result<()> {
    let client = SectorClient::new(Duration::from_secs(2));
    let endpoint = process.endpoint();
    let started = Instant::now();
    let ask = Call::GetSector {
        sector: "S0".to_owned(),
    };
    loop {
        let answer = client.call(&endpoint, &ask).await;
        if ready(&answer) {
            return Ok(());
        }
        if started.elapsed() > START_LIMIT {
            bail!(
                "{what}: still {answer:?} after {}s:\n{}",
                START_LIMIT.as_secs(),
                process.log_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn baseline(dir: &Path) -> anyhow::Result<Pair> {
    let (p_port, b_port) = (free_port()?, free_port()?);
    let to_p = tcp_proxy(loopback(p_port)).await?;
    let to_b = tcp_proxy(loopback(b_port)).await?;
    let p_url = format!("http://{}", to_p.local_addr());
    let b_url = format!("http://{}", to_b.local_addr());

    let mut p = member_config(p_port, "P", &p_url);
    p.sector_status.mode = SectorStatusMode::Baseline;
    p.sector_status.role = BaselineRole::Primary;
    p.sector_status.peer = Some(b_url.clone());
    let mut b = member_config(b_port, "B", &b_url);
    b.sector_status.mode = SectorStatusMode::Baseline;
    b.sector_status.role = BaselineRole::Backup;
    b.sector_status.peer = Some(p_url);
    b.sector_status.failover_timeout_ms = FAILOVER_MS;

    let primary = spawn("P", dir, &p).await?;
    let backup = spawn("B", dir, &b).await?;
    wait_for(
        &primary,
        "P to serve",
        |a| matches!(a, Answer::Sector { by } if by == "P"),
    )
    .await?;
    Ok(Pair {
        primary,
        backup,
        _oracle: None,
        links: vec![to_p, to_b],
    })
}

async fn oracle(dir: &Path) -> anyhow::Result<Pair> {
    let (oracle_port, members_port) = (free_port()?, free_port()?);
    let mut o = bare_config(oracle_port);
    o.membership.enabled = true;
    o.membership.listen = loopback(members_port);
    let oracle = spawn("oracle", dir, &o).await?;
    let members = loopback(members_port);
    // P reaches the oracle through a proxy, so that it can be cut off.
    let (oracle_udp, oracle_tcp) = member_port_proxy(members).await?;

    let (p_port, b_port) = (free_port()?, free_port()?);
    let to_p = tcp_proxy(loopback(p_port)).await?;
    let to_b = tcp_proxy(loopback(b_port)).await?;
    let mut p = member_config(p_port, "P", &format!("http://{}", to_p.local_addr()));
    p.sector_status.mode = SectorStatusMode::Oracle;
    p.sector_status.oracles = oracle_udp.local_addr().to_string();
    let mut b = member_config(b_port, "B", &format!("http://{}", to_b.local_addr()));
    b.sector_status.mode = SectorStatusMode::Oracle;
    b.sector_status.oracles = members.to_string();

    let primary = spawn("P", dir, &p).await?;
    wait_for(
        &primary,
        "P to join as primary",
        |a| matches!(a, Answer::Sector { by } if by == "P"),
    )
    .await?;
    let backup = spawn("B", dir, &b).await?;
    wait_for(&backup, "B to join as backup", |a| {
        matches!(a, Answer::NotPrimary { address: Some(_) })
    })
    .await?;
    Ok(Pair {
        primary,
        backup,
        _oracle: Some(oracle),
        links: vec![oracle_udp, oracle_tcp, to_p, to_b],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `spawn` writes is a configuration `ithaca serve` accepts, and
    /// it hosts only what the round asked for.
    #[test]
    fn written_configurations_load_back() {
        let dir = std::env::temp_dir().join(format!("ithaca-atc-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut config = member_config(18081, "P", "http://127.0.0.1:18091");
        config.sector_status.mode = SectorStatusMode::Baseline;
        config.sector_status.peer = Some("http://127.0.0.1:18092".to_owned());
        let mut text = toml::to_string(&config).unwrap();
        if !text.contains("bank = []") {
            text.insert_str(0, "bank = []\n");
        }
        let file = dir.join("ithaca.toml");
        std::fs::write(&file, text).unwrap();
        let loaded = Config::load(
            Some(file.as_path()),
            &ithaca_gateway::config::CliOverrides::default(),
        );
        std::fs::remove_dir_all(&dir).unwrap();
        let loaded = loaded.unwrap();
        assert!(loaded.bank.is_empty());
        assert!(!loaded.wsat.enabled);
        assert!(!loaded.bridge.iiop.enabled);
        assert!(!loaded.membership.enabled);
        assert!(loaded.sector_status.enabled);
        assert_eq!(loaded.sector_status.member, "P");
        assert_eq!(loaded.membership.lease_ms, LEASE_MS);
    }
}
