//! Shared by the sector-status tests: `ithaca serve` processes (an oracle,
//! members hosting the service), fault proxies between them, a small SOAP
//! client for the contract, and the split-brain checker over recorded
//! answers.

#![allow(clippy::unwrap_used, dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use ithaca_testkit::faultproxy::FaultProxy;
use ithaca_testkit::sector_history::{Contradiction, Seen, contradictions};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub const BIN: &str = env!("CARGO_BIN_EXE_ithaca");

/// The timing every process shares: a 1 s lease, 100 ms heartbeats, 1.3 s
/// suspicion timeout (the smallest safe value is 1.11 s).
pub const TIMING: &str = "lease_ms = 1000\nheartbeat_interval_ms = 100\nclock_drift_ppm = 10000\nsuspicion_timeout_ms = 1300\n";

/// One `ithaca serve` process.
pub struct Gateway {
    pub child: Child,
    pub base: String,
    pub name: String,
    pub members: Option<SocketAddr>,
    pub dir: PathBuf,
}

impl Gateway {
    /// Starts `ithaca serve` with `config` (a TOML text) in `dir`.
    pub async fn start(name: &str, dir: &Path, config: &str) -> Self {
        let dir = dir.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("ithaca.toml");
        let config = format!(
            "[storage]\ndata_dir = {:?}\n[log]\nfilter = \"warn\"\n{config}",
            dir.join("data").display().to_string()
        );
        std::fs::write(&file, config).unwrap();
        let stderr = std::fs::File::create(dir.join("stderr.log")).unwrap();
        let mut child = Command::new(BIN)
            .arg("--config")
            .arg(&file)
            .arg("serve")
            .stdout(Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let (mut base, mut members) = (None, None);
        let read = async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(url) = line.strip_prefix("listening: server ") {
                    base = Some(url.trim().to_owned());
                }
                if let Some(rest) = line.strip_prefix("membership: ") {
                    let address = rest.split("udp+tcp ").nth(1).unwrap();
                    members = Some(address.split_whitespace().next().unwrap().parse().unwrap());
                }
                if line.starts_with("stop with") {
                    break;
                }
            }
        };
        if tokio::time::timeout(Duration::from_secs(30), read)
            .await
            .is_err()
        {
            panic!(
                "{name} did not start: {}",
                std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default()
            );
        }
        let Some(base) = base else {
            panic!(
                "{name} printed no server line: {}",
                std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default()
            );
        };
        Self {
            child,
            base,
            name: name.to_owned(),
            members,
            dir,
        }
    }

    /// The SOAP 1.1 endpoint.
    pub fn endpoint(&self) -> String {
        format!("{}/services/SectorStatus", self.base)
    }

    /// `kill -9`.
    pub async fn kill(&mut self) {
        self.child.start_kill().unwrap();
        let _ = self.child.wait().await;
    }

    /// What the process logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr.log")).unwrap_or_default()
    }
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    ithaca_testkit::free_port().unwrap()
}

/// A TCP proxy for `target`.
pub async fn tcp_proxy(target: SocketAddr) -> FaultProxy {
    FaultProxy::tcp("127.0.0.1:0".parse().unwrap(), target)
        .await
        .unwrap()
}

/// A UDP and a TCP proxy on one port for an oracle's member address
/// (heartbeats over UDP, joins over TCP).
pub async fn member_port_proxy(target: SocketAddr) -> (FaultProxy, FaultProxy) {
    for _ in 0..20 {
        let udp = FaultProxy::udp("127.0.0.1:0".parse().unwrap(), target)
            .await
            .unwrap();
        if let Ok(tcp) = FaultProxy::tcp(udp.local_addr(), target).await {
            return (udp, tcp);
        }
    }
    panic!("no port free for both UDP and TCP");
}

/// A temporary directory removed on drop.
pub fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("ithaca-sector-status-")
        .tempdir()
        .unwrap()
}

/// What one call answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Reserve acknowledged.
    Reserved { view: u64, by: String },
    /// Release answered.
    Released {
        view: u64,
        by: String,
        released: bool,
    },
    /// WhoIsIn answered.
    Flights {
        view: u64,
        by: String,
        flights: Vec<String>,
    },
    /// GetSector answered: (flight, from, until) each.
    Sector {
        view: u64,
        by: String,
        reservations: Vec<(String, u64, u64)>,
    },
    /// The Conflict fault.
    Conflict {
        holder: String,
        from: u64,
        until: u64,
        view: u64,
    },
    /// The NotPrimary fault.
    NotPrimary {
        view: Option<u64>,
        primary: Option<String>,
        address: Option<String>,
    },
    /// The StaleView fault.
    StaleView { presented: u64, current: u64 },
    /// Any other fault.
    Fault(String),
    /// No answer (connection, timeout).
    Unreachable(String),
}

/// The operations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    Reserve {
        sector: String,
        flight: String,
        from: u64,
        until: u64,
    },
    Release {
        sector: String,
        flight: String,
    },
    WhoIsIn {
        sector: String,
        at: u64,
    },
    GetSector {
        sector: String,
    },
}

impl Call {
    fn body(&self, known_view: Option<u64>) -> (String, &'static str) {
        let known = known_view
            .map(|v| format!("<knownViewId>{v}</knownViewId>"))
            .unwrap_or_default();
        match self {
            Self::Reserve {
                sector,
                flight,
                from,
                until,
            } => (
                format!(
                    "<s:Reserve xmlns:s=\"urn:ithaca:atc:sector-status\"><sector>{sector}</sector><flight>{flight}</flight><from>{from}</from><until>{until}</until>{known}</s:Reserve>"
                ),
                "Reserve",
            ),
            Self::Release { sector, flight } => (
                format!(
                    "<s:Release xmlns:s=\"urn:ithaca:atc:sector-status\"><sector>{sector}</sector><flight>{flight}</flight>{known}</s:Release>"
                ),
                "Release",
            ),
            Self::WhoIsIn { sector, at } => (
                format!(
                    "<s:WhoIsIn xmlns:s=\"urn:ithaca:atc:sector-status\"><sector>{sector}</sector><at>{at}</at>{known}</s:WhoIsIn>"
                ),
                "WhoIsIn",
            ),
            Self::GetSector { sector } => (
                format!(
                    "<s:GetSector xmlns:s=\"urn:ithaca:atc:sector-status\"><sector>{sector}</sector>{known}</s:GetSector>"
                ),
                "GetSector",
            ),
        }
    }
}

/// A SOAP 1.1 client for the contract.
#[derive(Clone)]
pub struct SoapClient {
    http: Client<HttpConnector, Full<Bytes>>,
    pub timeout: Duration,
}

impl Default for SoapClient {
    fn default() -> Self {
        Self {
            http: Client::builder(TokioExecutor::new()).build_http(),
            timeout: Duration::from_secs(3),
        }
    }
}

fn child_text(node: roxmltree::Node<'_, '_>, name: &str) -> Option<String> {
    node.descendants()
        .find(|n| n.is_element() && n.tag_name().name() == name)
        .map(|n| n.text().unwrap_or_default().to_owned())
}

fn child_number(node: roxmltree::Node<'_, '_>, name: &str) -> Option<u64> {
    child_text(node, name).and_then(|t| t.trim().parse().ok())
}

impl SoapClient {
    /// Sends `call` to `endpoint` over SOAP 1.1.
    pub async fn call(&self, endpoint: &str, call: &Call, known_view: Option<u64>) -> Answer {
        let (body, action) = call.body(known_view);
        self.post(endpoint, &body, action, false).await
    }

    /// Sends `call` to `endpoint` over SOAP 1.2.
    pub async fn call12(&self, endpoint: &str, call: &Call) -> Answer {
        let (body, action) = call.body(None);
        self.post(&format!("{endpoint}/soap12"), &body, action, true)
            .await
    }

    async fn post(&self, endpoint: &str, body: &str, action: &str, soap12: bool) -> Answer {
        let (envelope, content_type) = if soap12 {
            (
                format!(
                    "<e:Envelope xmlns:e=\"http://www.w3.org/2003/05/soap-envelope\"><e:Body>{body}</e:Body></e:Envelope>"
                ),
                format!(
                    "application/soap+xml; charset=utf-8; action=\"urn:ithaca:atc:sector-status#{action}\""
                ),
            )
        } else {
            (
                format!(
                    "<e:Envelope xmlns:e=\"http://schemas.xmlsoap.org/soap/envelope/\"><e:Body>{body}</e:Body></e:Envelope>"
                ),
                "text/xml; charset=utf-8".to_owned(),
            )
        };
        let request = http::Request::builder()
            .method("POST")
            .uri(endpoint)
            .header("content-type", content_type)
            .header(
                "soapaction",
                format!("\"urn:ithaca:atc:sector-status#{action}\""),
            )
            .body(Full::new(Bytes::from(envelope)))
            .unwrap();
        let exchange = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|e| e.to_string())?;
            let bytes = response
                .into_body()
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            Ok::<_, String>(String::from_utf8_lossy(&bytes).into_owned())
        };
        let text = match tokio::time::timeout(self.timeout, exchange).await {
            Ok(Ok(text)) => text,
            Ok(Err(error)) => return Answer::Unreachable(error),
            Err(_) => return Answer::Unreachable("timed out".into()),
        };
        parse_answer(&text)
    }
}

/// Reads a response envelope.
pub fn parse_answer(text: &str) -> Answer {
    let Ok(document) = roxmltree::Document::parse(text) else {
        return Answer::Fault(format!("not XML: {text}"));
    };
    let find = |name: &str| {
        document
            .descendants()
            .find(|n| n.is_element() && n.tag_name().name() == name)
    };
    if let Some(fault) = find("ConflictFault") {
        return Answer::Conflict {
            holder: child_text(fault, "holder").unwrap_or_default(),
            from: child_number(fault, "from").unwrap_or_default(),
            until: child_number(fault, "until").unwrap_or_default(),
            view: child_number(fault, "viewId").unwrap_or_default(),
        };
    }
    if let Some(fault) = find("NotPrimaryFault") {
        return Answer::NotPrimary {
            view: child_number(fault, "viewId"),
            primary: child_text(fault, "primary"),
            address: child_text(fault, "primaryAddress"),
        };
    }
    if let Some(fault) = find("StaleViewFault") {
        return Answer::StaleView {
            presented: child_number(fault, "presented").unwrap_or_default(),
            current: child_number(fault, "current").unwrap_or_default(),
        };
    }
    if let Some(fault) = find("Fault") {
        return Answer::Fault(
            child_text(fault, "faultstring")
                .or_else(|| child_text(fault, "Text"))
                .unwrap_or_else(|| text.to_owned()),
        );
    }
    let served = |node: roxmltree::Node<'_, '_>| {
        (
            child_number(node, "viewId").unwrap_or_default(),
            child_text(node, "servedBy").unwrap_or_default(),
        )
    };
    if let Some(node) = find("ReserveResponse") {
        let (view, by) = served(node);
        return Answer::Reserved { view, by };
    }
    if let Some(node) = find("ReleaseResponse") {
        let (view, by) = served(node);
        let released = child_text(node, "released").is_some_and(|t| t == "true");
        return Answer::Released { view, by, released };
    }
    if let Some(node) = find("WhoIsInResponse") {
        let (view, by) = served(node);
        let flights = node
            .children()
            .filter(|n| n.is_element() && n.tag_name().name() == "flight")
            .map(|n| n.text().unwrap_or_default().to_owned())
            .collect();
        return Answer::Flights { view, by, flights };
    }
    if let Some(node) = find("GetSectorResponse") {
        let (view, by) = served(node);
        let reservations = node
            .children()
            .filter(|n| n.is_element() && n.tag_name().name() == "reservation")
            .map(|r| {
                (
                    child_text(r, "flight").unwrap_or_default(),
                    child_number(r, "from").unwrap_or_default(),
                    child_number(r, "until").unwrap_or_default(),
                )
            })
            .collect();
        return Answer::Sector {
            view,
            by,
            reservations,
        };
    }
    Answer::Fault(format!("unexpected answer: {text}"))
}

/// One call a client made and what came back.
#[derive(Debug, Clone)]
pub struct Record {
    pub client: String,
    /// Where the client sent it (after following NotPrimary at most once).
    pub server: String,
    pub call: Call,
    pub sent: Instant,
    pub received: Instant,
    pub answer: Answer,
}

/// What the checker found wrong.
#[derive(Debug, Clone)]
pub enum Violation {
    /// Two flights acknowledged in one sector for overlapping intervals.
    ConflictingReservations { first: Record, second: Record },
    /// A WhoIsIn asked after a reservation was acknowledged answered
    /// without that flight.
    StaleRead { acknowledged: Record, read: Record },
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let describe = |r: &Record| match (&r.call, &r.answer) {
            (
                Call::Reserve {
                    sector,
                    flight,
                    from,
                    until,
                },
                Answer::Reserved { view, by },
            ) => {
                format!(
                    "{flight} in {sector} [{from}, {until}) acknowledged by {by} in view {view} (client {})",
                    r.client
                )
            }
            (Call::WhoIsIn { sector, at }, Answer::Flights { view, by, flights }) => {
                format!(
                    "WhoIsIn({sector}, {at}) = {flights:?} from {by} in view {view} (client {})",
                    r.client
                )
            }
            (call, answer) => format!("{call:?} -> {answer:?}"),
        };
        match self {
            Self::ConflictingReservations { first, second } => write!(
                f,
                "split brain: {} AND {}",
                describe(first),
                describe(second)
            ),
            Self::StaleRead { acknowledged, read } => write!(
                f,
                "stale read: {} but later {}",
                describe(acknowledged),
                describe(read)
            ),
        }
    }
}

/// The checker (`ithaca_testkit::sector_history`, shared with `ithaca demo
/// atc`): two acknowledged Reserves of one sector by different flights
/// with overlapping intervals, or a WhoIsIn sent after a reservation
/// covering its instant was acknowledged that does not list that flight.
/// The clients never release, so either is a split brain.
pub fn check(records: &[Record]) -> Vec<Violation> {
    let seen: Vec<Seen<'_>> = records
        .iter()
        .map(|record| match (&record.call, &record.answer) {
            (
                Call::Reserve {
                    sector,
                    flight,
                    from,
                    until,
                },
                Answer::Reserved { .. },
            ) => Seen::Reserved {
                sector,
                flight,
                from: *from,
                until: *until,
                received: record.received,
            },
            (Call::WhoIsIn { sector, at }, Answer::Flights { flights, .. }) => Seen::Read {
                sector,
                at: *at,
                flights,
                sent: record.sent,
            },
            _ => Seen::Other,
        })
        .collect();
    contradictions(&seen)
        .into_iter()
        .map(|found| match found {
            Contradiction::DoubleBooking { first, second } => Violation::ConflictingReservations {
                first: records[first].clone(),
                second: records[second].clone(),
            },
            Contradiction::StaleRead { acknowledged, read } => Violation::StaleRead {
                acknowledged: records[acknowledged].clone(),
                read: records[read].clone(),
            },
        })
        .collect()
}

/// Calls `call` at `endpoint`; on NotPrimary naming an address, follows
/// it once (as a controller client would). Returns the record.
pub async fn call_following(client: &SoapClient, name: &str, endpoint: &str, call: Call) -> Record {
    let sent = Instant::now();
    let mut server = endpoint.to_owned();
    let mut answer = client.call(endpoint, &call, None).await;
    if let Answer::NotPrimary {
        address: Some(address),
        ..
    } = &answer
        && address != endpoint
    {
        server = address.clone();
        answer = client.call(address, &call, None).await;
    }
    Record {
        client: name.to_owned(),
        server,
        call,
        sent,
        received: Instant::now(),
        answer,
    }
}

/// Polls `check` every 100 ms until it holds or `limit` passes.
pub async fn until<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
