//! The serve assembly: everything `ithaca serve` hosts, started from one
//! [`Config`], with the addresses it bound and the lines it prints.
//!
//! [`start`] hosts, in order: the built-in EchoService, the `[[bank]]`s,
//! the membership oracle and its SOAP service, the sector-status service,
//! the transfer service, the bridge's IIOP listener (`[[bridge.soap]]`
//! objects) and `[[bridge.corba]]` services, then the gateway's listeners
//! (with the WS-AT coordinator and the admin endpoints), and finally starts
//! the sector-status member and, with `[wsat] takeover`, the coordinator
//! instance's membership and takeover task ([`crate::wsat::instances`]).
//! On the embedded defaults that is the whole story; every part can be
//! switched off in the configuration.
//!
//! Defaults that depend on other parts do not fail the start when those
//! parts are off; they are left out and [`RunningServe::summary`] says so:
//!
//! - the sector-status service (oracle mode, no `oracles`) needs this
//!   process's membership oracle;
//! - the transfer service, while `[transfer]` is left at its defaults,
//!   needs two banks and this gateway's coordinator;
//! - the default `[[bridge.soap]]` objects are published only for services
//!   this gateway hosts;
//! - the IIOP listener's default address, 127.0.0.1:2809, falls back to a
//!   free port when 2809 is taken.
//!
//! While `[sector_status]` is left at its defaults, its member joins the
//! oracle on the first POST to its routes rather than at start: an oracle
//! process that other members use (and that never serves sector status)
//! then has no extra member in its views. The first requests may be
//! answered as by a member not yet primary, until its lease is granted.
//!
//! A `server.listen` with port 0 is resolved to a free port before any
//! route is built, so the banks' participant endpoints and the transfer
//! service's URLs name the port the gateway really listens on.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use ithaca_membership::TimingConfig;

use crate::bank::BankHost;
use crate::body::Request;
use crate::bridge::iiopfront::IiopFront;
use crate::bridge::soapfront::SoapFront;
use crate::config::{BankStore, Config, SectorStatusConfig, TransferConfig};
use crate::membership::MembershipHost;
use crate::router::Router;
use crate::sector_status::SectorStatusHost;
use crate::server::{DrainOutcome, Gateway, RunningGateway};
use crate::transfer::TransferHost;
use crate::wsat::instances::{InstanceMembership, TakeoverPlan, UnfinishedProbe};

/// How long [`start`] waits for the gateway to be ready before it
/// describes it anyway.
const READY_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// A configuration-like problem: a part cannot be set up as configured
    /// (exit status 2).
    #[error("{0}")]
    Config(String),
    /// Anything else (exit status 1).
    #[error("{0}")]
    Failed(String),
}

impl ServeError {
    /// The exit status `ithaca serve` ends with.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Config(_) => 2,
            Self::Failed(_) => 1,
        }
    }
}

/// The sector-status member's start: at once, or on the first POST.
struct SectorStart {
    host: SectorStatusHost,
    /// The server address, this process's oracle and the timing, known
    /// once the gateway listens.
    params: OnceLock<(SocketAddr, Option<SocketAddr>, TimingConfig)>,
    /// Set once the member was started.
    started: Mutex<bool>,
}

impl SectorStart {
    /// Starts the member unless it was, once the parameters are known.
    fn start_once(&self) -> Result<(), String> {
        let Some((server, oracle, timing)) = self.params.get() else {
            return Ok(());
        };
        let mut started = self.started.lock().unwrap_or_else(PoisonError::into_inner);
        if *started {
            return Ok(());
        }
        *started = true;
        self.host
            .start(*server, *oracle, *timing)
            .map_err(|e| e.to_string())
    }

    /// `routes`, each starting the member on its first POST.
    fn lazy(self: &Arc<Self>, routes: &Router) -> Router {
        let mut wrapped = Router::new();
        for (path, _) in routes.iter() {
            let (inner, start) = (routes.clone(), Arc::clone(self));
            wrapped = wrapped.route(path, routes.route_name(path), move |request: Request| {
                if request.method() == http::Method::POST
                    && let Err(error) = start.start_once()
                {
                    tracing::warn!(%error, "sector-status member did not start");
                }
                inner.dispatch(request)
            });
        }
        wrapped
    }
}

/// Everything [`start`] started.
pub struct RunningServe {
    gateway: RunningGateway,
    banks: Vec<BankHost>,
    membership: Option<MembershipHost>,
    sector_status: Option<Arc<SectorStart>>,
    transfer: Option<TransferHost>,
    iiop_front: Option<IiopFront>,
    wsat_membership: Option<InstanceMembership>,
    summary: Vec<String>,
    data_dir: PathBuf,
}

impl std::fmt::Debug for RunningServe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningServe")
            .field("server", &self.gateway.server_addr())
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

/// Checks the server and admin listeners can bind before anything else
/// starts (a taken port is one line, not a half-started gateway), and
/// resolves port 0 of the server listener to a free port (bound and let go
/// at once), so every URL built from `server.listen` is the real one.
fn probe_listeners(config: &mut Config) -> Result<(), ServeError> {
    let bind_error = |addr, key, source| {
        ServeError::Config(crate::error::StartError::Bind { addr, key, source }.to_string())
    };
    let addr = config.server.listen;
    let probe = TcpListener::bind(addr).map_err(|e| bind_error(addr, "server.listen", e))?;
    let bound = probe
        .local_addr()
        .map_err(|e| bind_error(addr, "server.listen", e))?;
    if let Some(admin) = config.admin.listen
        && admin.port() != 0
    {
        TcpListener::bind(admin).map_err(|e| bind_error(admin, "admin.listen", e))?;
    }
    drop(probe);
    config.server.listen = bound;
    Ok(())
}

/// With `[wsat] takeover`, the endpoint references this coordinator hands
/// out must name this instance itself, so that a taker's messages are
/// answered to the taker, not to the dead instance it took over: unless
/// `wsat.public_url` or `server.public_url` is set, it becomes `http://`
/// and the (resolved) server listener address, which must then name a
/// host (not 0.0.0.0).
fn takeover_public_url(config: &mut Config) -> Result<(), ServeError> {
    let wsat = &config.wsat;
    if !(wsat.enabled && wsat.takeover)
        || wsat.public_url.is_some()
        || config.server.public_url.is_some()
    {
        return Ok(());
    }
    let listen = config.server.listen;
    if listen.ip().is_unspecified() {
        return Err(ServeError::Config(format!(
            "wsat.public_url: takeover needs this instance's own base URL, and server.listen {listen} names no host: set wsat.public_url"
        )));
    }
    config.wsat.public_url = Some(format!("http://{listen}"));
    Ok(())
}

/// Starts everything `config` asks for (see the module documentation).
pub async fn start(mut config: Config) -> Result<RunningServe, ServeError> {
    probe_listeners(&mut config)?;
    takeover_public_url(&mut config)?;
    let config = config;
    let data_dir = config.storage.data_dir.clone();
    let public_url = config.server.public_url.clone();
    let mut notices = Vec::new();
    let fail = |what: &str, e: &dyn std::fmt::Display| ServeError::Failed(format!("{what}: {e}"));
    let services = crate::soap::builtin::services_published_at(public_url.as_deref())
        .map_err(|e| fail("built-in services", &e))?;

    // The banks of the WS-AT bank-transfer example (`[[bank]]`).
    let banks = BankHost::start_all(&config, &data_dir)
        .await
        .map_err(|e| ServeError::Config(e.to_string()))?;
    let services = banks
        .iter()
        .fold(services, |services, bank| services.merge(bank.routes()));

    let membership = if config.membership.enabled {
        Some(
            MembershipHost::start(&config.membership, &data_dir)
                .await
                .map_err(|e| ServeError::Config(e.to_string()))?,
        )
    } else {
        None
    };
    let services = match &membership {
        Some(host) => {
            let soap = host
                .soap_routes(public_url.as_deref())
                .map_err(|e| fail("membership service", &e))?;
            services.merge(&host.routes()).merge(&soap)
        }
        None => services,
    };

    let sector = &config.sector_status;
    let sector_without_oracle = sector.mode == crate::config::SectorStatusMode::Oracle
        && sector.oracles.trim().is_empty()
        && membership.is_none();
    let sector_status = if sector.enabled && sector_without_oracle {
        notices.push(
            "sector-status: off (oracle mode needs this process's oracle: enable [membership], or set sector_status.oracles)"
                .to_owned(),
        );
        None
    } else {
        sector.enabled.then(|| {
            Arc::new(SectorStart {
                host: SectorStatusHost::new(sector),
                params: OnceLock::new(),
                started: Mutex::new(false),
            })
        })
    };
    let sector_lazy = *sector == SectorStatusConfig::default();
    let services = match &sector_status {
        Some(start) => {
            let routes = start
                .host
                .routes(public_url.as_deref())
                .map_err(|e| fail("sector-status service", &e))?;
            if sector_lazy {
                services.merge(&start.lazy(&routes))
            } else {
                services.merge(&routes)
            }
        }
        None => services,
    };

    // transfer (e2e-bank): the TransferService, before the IIOP front so
    // `[[bridge.soap]] service = "TransferService"` resolves in-process.
    let transfer_is_default = config.transfer == TransferConfig::default();
    let transfer_missing = if config.transfer.banks.is_empty() && config.bank.len() < 2 {
        Some("it needs two [[bank]]s")
    } else if config.transfer.coordinator.is_none() && !config.wsat.enabled {
        Some("it needs this gateway's coordinator ([wsat] enabled)")
    } else {
        None
    };
    let transfer = match transfer_missing {
        Some(why) if config.transfer.enabled && transfer_is_default => {
            notices.push(format!("transfer:  off ({why})"));
            None
        }
        _ => TransferHost::start(&config, &data_dir)
            .map_err(|e| ServeError::Config(e.to_string()))?,
    };
    let services = match &transfer {
        Some(host) => services.merge(host.routes()),
        None => services,
    };

    // SOAP services published as CORBA objects on the IIOP listener
    // (`[bridge.iiop]`, `[[bridge.soap]]`).
    let mut bridge = config.bridge.clone();
    if bridge.soap_is_default() {
        // Only the services hosted here and known to the IIOP front.
        let transfer_hosted = transfer.is_some();
        let known = crate::bridge::iiopfront::hosted_services();
        bridge.soap.retain(|object| {
            let service = object.service.as_deref().unwrap_or_default();
            (service != "TransferService" || transfer_hosted)
                && known.iter().any(|known| known.name == service)
        });
    }
    // The default address (listen unset) falls back to a free port when
    // 2809 is taken: binding is the only race-free test of that.
    let default_addr = bridge.iiop.listen.is_none();
    bridge.iiop.listen = bridge.iiop_addr();
    let iiop_front = match IiopFront::start(&bridge, &services).await {
        Err(crate::bridge::iiopfront::BridgeError::Bind { addr, source }) if default_addr => {
            notices.push(format!(
                "bridge:    notice: the default IIOP address {addr} is taken ({source}); using a free port (set bridge.iiop.listen to pin one)"
            ));
            bridge.iiop.listen = Some(SocketAddr::new(addr.ip(), 0));
            IiopFront::start(&bridge, &services).await
        }
        started => started,
    }
    .map_err(|e| ServeError::Config(e.to_string()))?;
    let services = match &iiop_front {
        Some(front) => services.merge(&front.routes()),
        None => services,
    };
    // CORBA objects hosted as SOAP services (`[[bridge.corba]]`).
    let services = services.merge(
        &SoapFront::routes(&config.bridge.corba, public_url.as_deref())
            .map_err(|e| ServeError::Config(format!("bridge.corba: {e}")))?,
    );

    let member_timing = config.membership.timing();
    let gateway = Gateway::new(config.clone())
        .routes(&services)
        .start()
        .await
        .map_err(|e| ServeError::Config(e.to_string()))?;
    if let Some(start) = &sector_status {
        let params = (
            gateway.server_addr(),
            membership.as_ref().map(MembershipHost::member_addr),
            member_timing,
        );
        let _ = start.params.set(params);
        if !sector_lazy {
            start.start_once().map_err(ServeError::Config)?;
        }
    }
    // Automatic takeover (`[wsat] takeover`): this coordinator instance
    // joins the oracle and finishes the transactions of dead peers.
    let wsat_membership = match (
        TakeoverPlan::from_config(&config.wsat)
            .map_err(|(key, problem)| ServeError::Config(format!("{key}: {problem}")))?,
        gateway.wsat(),
    ) {
        (Some(plan), Some(wsat)) => {
            let own_oracle = membership.as_ref().map(MembershipHost::member_addr);
            let oracles = plan.oracles_or(own_oracle).map_err(ServeError::Config)?;
            let address = config
                .wsat
                .public_url
                .clone()
                .unwrap_or_else(|| format!("http://{}", gateway.server_addr()));
            let member = plan
                .member_config(address, oracles, member_timing)
                .map_err(|e| ServeError::Config(format!("wsat.instance: {e}")))?;
            let probe = UnfinishedProbe::new(&config.wsat.store).map_err(ServeError::Config)?;
            Some(InstanceMembership::start(
                wsat.service().clone(),
                member,
                plan.backs_up,
                probe,
                wsat.adopted_keys().clone(),
            ))
        }
        _ => None,
    };
    // The banner should mean "ready": wait (bounded) for /readyz's checks,
    // such as the WS-AT coordinator loading its log.
    let deadline = tokio::time::Instant::now() + READY_WAIT;
    loop {
        let report = gateway.readiness().report().await;
        if report.ready {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            notices.push(format!(
                "readiness: not ready yet ({}); see /readyz",
                report.lines.join("; ")
            ));
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let mut running = RunningServe {
        gateway,
        banks,
        membership,
        sector_status,
        transfer,
        iiop_front,
        wsat_membership,
        summary: Vec::new(),
        data_dir,
    };
    running.summary = running.describe(&config, notices);
    Ok(running)
}

impl RunningServe {
    /// The server listener's base URL (`http://127.0.0.1:8080`).
    pub fn server_url(&self) -> String {
        self.gateway
            .listeners()
            .iter()
            .find(|l| l.role == "server")
            .map_or_else(
                || format!("http://{}", self.gateway.server_addr()),
                crate::server::ListenerInfo::url,
            )
    }

    /// The gateway's listeners and stores.
    pub fn gateway(&self) -> &RunningGateway {
        &self.gateway
    }

    /// The hosted banks.
    pub fn banks(&self) -> &[BankHost] {
        &self.banks
    }

    /// The transfer service, when hosted.
    pub fn transfer(&self) -> Option<&TransferHost> {
        self.transfer.as_ref()
    }

    /// The IIOP listener and its objects, when there is one.
    pub fn iiop_front(&self) -> Option<&IiopFront> {
        self.iiop_front.as_ref()
    }

    /// The coordinator instance's membership and takeover task, when
    /// `[wsat] takeover` is on.
    pub fn wsat_membership(&self) -> Option<&InstanceMembership> {
        self.wsat_membership.as_ref()
    }

    /// The membership oracle, when this process runs one.
    pub fn membership(&self) -> Option<&MembershipHost> {
        self.membership.as_ref()
    }

    /// What runs where, one line each, as `ithaca serve` prints it.
    pub fn summary(&self) -> &[String] {
        &self.summary
    }

    fn describe(&self, config: &Config, notices: Vec<String>) -> Vec<String> {
        let mut out = vec![format!("ithaca {} is running", env!("CARGO_PKG_VERSION"))];
        for listener in self.gateway.listeners() {
            let url = listener.url();
            out.push(format!("listening: {} {url}", listener.role));
            if listener.admin {
                out.push(format!(
                    "  admin:   {url}/healthz  {url}/readyz  {url}/metrics"
                ));
                out.push(format!("  page:    {url}/ui/  (the operator page)"));
            }
            if listener.role != "server" {
                continue;
            }
            let echo = crate::soap::builtin::ECHO_SERVICE_PATH;
            out.push(format!("  soap:    EchoService {url}{echo}?wsdl"));
            for bank in &self.banks {
                out.push(format!(
                    "  soap:    bank {0} {url}/services/{0}?wsdl",
                    bank.name()
                ));
            }
            if self.transfer.is_some() {
                let path = crate::transfer::PATH;
                out.push(format!("  soap:    TransferService {url}{path}?wsdl"));
            }
            if self.sector_status.is_some() {
                let path = crate::sector_status::PATH;
                out.push(format!("  soap:    SectorStatusService {url}{path}?wsdl"));
            }
            for object in &config.bridge.corba {
                out.push(format!(
                    "  soap:    CORBA object {0} {url}/services/{0}?wsdl",
                    object.name
                ));
            }
            if config.wsat.enabled {
                let activation = crate::wsat::ACTIVATION_PATH;
                out.push(format!("  wsat:    coordinator {url}{activation}"));
                if self.wsat_membership.is_some() {
                    let backs_up = config.wsat.backs_up.trim();
                    out.push(format!(
                        "  wsat:    takeover on: instance {} (membership service wsat:{}), backs up {}",
                        config.wsat.instance,
                        config.wsat.instance,
                        if backs_up.is_empty() { "no other instance" } else { backs_up }
                    ));
                }
            }
        }
        if let Some(host) = &self.membership {
            out.push(format!(
                "membership: oracle {} members at udp+tcp {}  (GET /membership/view)",
                host.consensus().status().node,
                host.member_addr()
            ));
            if let Some(listener) = self.gateway.listeners().iter().find(|l| l.role == "server") {
                out.push(format!(
                    "  soap:    MembershipService {}{}?wsdl",
                    listener.url(),
                    crate::membership::soap::PATH
                ));
            }
        }
        if let Some(front) = &self.iiop_front {
            out.push(format!(
                "bridge:    IIOP listener {}  (GET /bridge/objects)",
                front.local_addr()
            ));
            for object in front.objects() {
                out.push(format!(
                    "  corba:   {} {} {}",
                    object.name, object.interface, object.corbaloc
                ));
                out.push(format!("  ior:     {} {}", object.name, object.ior));
            }
        }
        for bank in &self.banks {
            let store = match bank.store() {
                BankStore::Sqlite => config
                    .bank
                    .iter()
                    .find(|b| b.name == bank.name())
                    .map_or_else(String::new, |b| {
                        format!("sqlite {}", b.sqlite_file(&self.data_dir).display())
                    }),
                BankStore::Postgres => "postgres".to_owned(),
            };
            out.push(format!("bank:      {} on {store}", bank.name()));
        }
        out.extend(notices);
        out.push(format!(
            "data:      {} (embedded SQLite store: {})",
            self.data_dir.display(),
            self.data_dir.join(crate::store::SQLITE_FILE).display()
        ));
        out
    }

    /// Stops accepting, stops the IIOP listener, the membership streams
    /// and the sector-status member, and drains in-flight requests (at most
    /// `server.drain_timeout`); then stops the oracle.
    pub async fn shutdown(self) -> DrainOutcome {
        if let Some(front) = self.iiop_front {
            front.shutdown().await;
        }
        if let Some(takeover) = &self.wsat_membership {
            takeover.shutdown();
        }
        if let Some(host) = &self.membership {
            host.close_streams();
        }
        if let Some(start) = &self.sector_status {
            start.host.shutdown();
        }
        let outcome = self.gateway.shutdown().await;
        if let Some(host) = self.membership {
            host.shutdown().await;
        }
        outcome
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }
}
