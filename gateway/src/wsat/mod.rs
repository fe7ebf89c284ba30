//! The WS-AtomicTransaction coordinator's SOAP endpoints: `ithaca serve`
//! hosts them when `[wsat] enabled = true`.
//!
//! Five routes, each in SOAP 1.1 and 1.2 (told by the `Content-Type`) and
//! in both WS-TX versions (2006/06 with WS-Addressing 1.0, 2004/10 with
//! WS-Addressing 2004/08, told by the body's namespace):
//!
//! | path | port | messages |
//! |---|---|---|
//! | [`ACTIVATION_PATH`] | Activation | CreateCoordinationContext → CreateCoordinationContextResponse |
//! | [`REGISTRATION_PATH`] | Registration | Register → RegisterResponse |
//! | [`COMPLETION_PATH`] | Completion coordinator | Commit, Rollback (one-way) |
//! | [`TWO_PC_PATH`] | 2PC coordinator | Prepared, ReadOnly, Aborted, Committed, Replay, InconsistentInternalState (one-way) |
//! | [`SUBORDINATE_PATH`] | 2PC participant of subordinate transactions | Prepare, Commit, Rollback from a superior (one-way) |
//!
//! Interposition: a CreateCoordinationContext with a `CurrentContext`
//! makes a subordinate transaction (see
//! [`ithaca_txn::engine::subordinate`]). Before the context is answered,
//! the subordinate registers for Durable2PC at the superior's
//! RegistrationService (SOAP 1.1, the context's WS-TX version) naming
//! [`SUBORDINATE_PATH`] with a signed reference parameter; a refused or
//! failed registration answers CannotCreateContext and rolls the
//! subordinate back.
//!
//! The routes are raw router routes rather than a `SoapService` built from
//! a WSDL: the two WS-TX versions share paths, requests are told apart by
//! their WS-Addressing Action and body namespace, replies need
//! WS-Addressing headers (RelatesTo, reference parameters) and may go to
//! a non-anonymous `ReplyTo` as separate messages, none of which the
//! contract-driven SOAP path does. The messages are read and written by
//! [`ithaca_txn::wire`] after the gateway's envelope reader has checked
//! them (its limits, no DTD).
//!
//! Correlation: the RegistrationService of each context and the
//! CoordinatorProtocolService of each registration carry a reference
//! parameter signed with the coordinator's secret key
//! ([`ithaca_txn::wire::CorrelationKey`], kept in `DATA_DIR/wsat.key`); a
//! message whose parameter is missing or forged gets an InvalidParameters
//! fault and changes nothing. Protocol messages go to
//! [`CoordinatorService::deliver_from`] (answered `202 Accepted`); what the
//! coordinator sends goes through [`HttpSink`].

pub mod client;
pub mod context;
mod endpoint;
pub mod instances;
pub mod participant;
mod peer;
mod sink;
pub mod takeover;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ithaca_txn::driver::{CoordinatorService, DriverConfig};
use ithaca_txn::log::{CoordinatorLog, PgLog, SqliteLog};
use ithaca_txn::wire::{CorrelationKey, WireLimits};
use ithaca_wsdl::Limits;

pub use sink::HttpSink;

use crate::config::Config;
use crate::error::StartError;
use crate::router::Router;

/// The Activation service's path.
pub const ACTIVATION_PATH: &str = "/wsat/activation";
/// The Registration service's path.
pub const REGISTRATION_PATH: &str = "/wsat/registration";
/// The Completion coordinator endpoint's path.
pub const COMPLETION_PATH: &str = "/wsat/completion";
/// The two-phase-commit coordinator endpoint's path.
pub const TWO_PC_PATH: &str = "/wsat/2pc";
/// The participant endpoint of subordinate transactions, where a superior
/// coordinator sends Prepare, Commit and Rollback.
pub const SUBORDINATE_PATH: &str = "/wsat/subordinate";
/// The file in the data directory holding the correlation key.
pub const KEY_FILE: &str = "wsat.key";
/// The embedded coordinator log in the data directory.
pub const SQLITE_LOG_FILE: &str = "wsat.sqlite3";

/// What the coordinator's endpoints need.
#[derive(Clone)]
pub struct WsatSettings {
    /// The durable log.
    pub log: Arc<dyn CoordinatorLog>,
    /// The key that signs the reference parameters handed out.
    pub key: CorrelationKey,
    /// The base URL put into the endpoint references handed out (else
    /// `http://` and the request's `Host`).
    pub public_url: Option<String>,
    /// The driver's configuration.
    pub driver: DriverConfig,
    /// The envelope reader's limits (its `max_size` bounds request
    /// bodies).
    pub limits: Limits,
    /// The codec's limits.
    pub wire: WireLimits,
}

impl std::fmt::Debug for WsatSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsatSettings")
            .field("public_url", &self.public_url)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// The correlation keys of the coordinator instances this one took over
/// (shared by the endpoints and the takeover task). A message whose
/// reference parameter was signed by such an instance's key is about one
/// of that instance's transactions; it is accepted only once the
/// takeover has raised that instance's fence, so the answers (the
/// adopted decision's Commit, or presumed abort for a transaction the
/// instance never decided) can no longer contradict the instance. Kept in
/// memory only: after a restart the adopted decisions are not held any
/// more, so neither are their keys.
#[derive(Debug, Clone, Default)]
pub struct AdoptedKeys {
    keys: Arc<std::sync::RwLock<Vec<CorrelationKey>>>,
}

impl AdoptedKeys {
    /// The most keys kept (one per instance taken over).
    pub const MAX: usize = instances::MAX_BACKED_UP;

    /// Adds the key of an instance just taken over (beyond [`Self::MAX`]
    /// keys, ignored).
    pub fn add(&self, key: CorrelationKey) {
        let mut keys = self
            .keys
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if keys.len() < Self::MAX {
            keys.push(key);
        }
    }

    /// How many keys are kept.
    pub fn len(&self) -> usize {
        self.keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    /// Whether no key is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The correlation `reference_parameters` carry under one of the
    /// adopted keys, if any verifies.
    pub fn verify(
        &self,
        reference_parameters: &[String],
    ) -> Result<ithaca_txn::wire::Correlation, ithaca_txn::wire::CorrelationError> {
        let keys = self
            .keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        keys.iter()
            .find_map(|key| key.verify(reference_parameters).ok())
            .ok_or(ithaca_txn::wire::CorrelationError::Forged)
    }
}

/// The running coordinator: its driver and the routes of its endpoints.
#[derive(Debug, Clone)]
pub struct WsatHost {
    service: CoordinatorService,
    routes: Router,
    adopted_keys: AdoptedKeys,
}

impl WsatHost {
    /// Starts the coordinator (recovery from the log runs in the
    /// background) and builds its routes.
    pub fn start(settings: WsatSettings) -> Result<Self, String> {
        let key = Arc::new(settings.key);
        let sink = HttpSink::new(key.clone(), settings.public_url.as_deref())?;
        let service = CoordinatorService::start(
            settings.driver.clone(),
            settings.log,
            Arc::new(sink.clone()),
        )
        .map_err(|e| e.to_string())?;
        let adopted_keys = AdoptedKeys::default();
        let shared = Arc::new(endpoint::Shared {
            service: service.clone(),
            adopted_keys: adopted_keys.clone(),
            key,
            sink,
            public_url: settings.public_url,
            limits: settings.limits,
            wire: settings.wire,
            default_expires: settings.driver.default_expires,
            max_expires: settings.driver.max_expires,
        });
        Ok(Self {
            service,
            routes: endpoint::routes(&shared),
            adopted_keys,
        })
    }

    /// Starts the coordinator `ithaca serve` hosts, when `[wsat] enabled`:
    /// the log in `wsat.store` (SQLite under the data directory, or a
    /// PostgreSQL URL), the key in `DATA_DIR/wsat.key` (created on first
    /// start).
    pub async fn from_config(config: &Config, data_dir: &Path) -> Result<Option<Self>, StartError> {
        let wsat = &config.wsat;
        if !wsat.enabled {
            return Ok(None);
        }
        let failed = |problem: String| StartError::Store {
            what: "WS-AT coordinator",
            problem,
        };
        let log: Arc<dyn CoordinatorLog> = if wsat.store == "sqlite" {
            let path = data_dir.join(SQLITE_LOG_FILE);
            Arc::new(
                SqliteLog::open(&path, &wsat.instance)
                    .await
                    .map_err(|e| failed(format!("{}: {e}", path.display())))?,
            )
        } else {
            Arc::new(
                PgLog::connect(&wsat.store, &wsat.instance)
                    .await
                    .map_err(|e| failed(format!("wsat.store: {e}")))?,
            )
        };
        let key_bytes = load_or_create_key_bytes(&data_dir.join(KEY_FILE)).map_err(failed)?;
        if wsat.takeover && wsat.store != "sqlite" {
            // The instance that takes this one over authenticates its
            // participants with it (AdoptedKeys). An instance already
            // taken over published it before; its fence refuses the write.
            match log.publish_correlation_key(&key_bytes).await {
                Ok(()) => {}
                Err(error) if error.is_fenced() => {}
                Err(error) => {
                    return Err(failed(format!(
                        "wsat.store: publishing the correlation key: {error}"
                    )));
                }
            }
        }
        let key = CorrelationKey::from_bytes(key_bytes);
        let public_url = wsat
            .public_url
            .clone()
            .or_else(|| config.server.public_url.clone());
        let limits = Limits {
            max_size: config.server.max_body_size.as_usize(),
            ..Limits::DEFAULT
        };
        let settings = WsatSettings {
            log,
            key,
            public_url,
            driver: DriverConfig::default(),
            limits,
            wire: WireLimits::default(),
        };
        Self::start(settings).map(Some).map_err(failed)
    }

    /// The routes of the four endpoints.
    pub fn routes(&self) -> &Router {
        &self.routes
    }

    /// The coordinator behind them.
    pub fn service(&self) -> &CoordinatorService {
        &self.service
    }

    /// The correlation keys of the instances this one took over.
    pub fn adopted_keys(&self) -> &AdoptedKeys {
        &self.adopted_keys
    }

    /// Stops the coordinator's background tasks.
    pub async fn shutdown(&self) {
        self.service.shutdown().await;
    }

    /// The `/readyz` check of this coordinator (see [`FencedCheck`]).
    pub fn readiness_check(&self) -> FencedCheck {
        FencedCheck {
            service: self.service.clone(),
        }
    }
}

/// A `/readyz` check that fails while the coordinator is still loading its
/// log (until then it answers nothing about transactions it may hold, and
/// refuses activation), and for good once it found itself fenced off
/// (another instance took its transactions over, docs/
/// distributed-transactions.md): it refuses every new transaction, so a
/// load balancer must stop sending it work. A store outage is the store
/// checks' business, not this one's.
#[derive(Debug, Clone)]
pub struct FencedCheck {
    service: CoordinatorService,
}

impl crate::readiness::ReadinessCheck for FencedCheck {
    fn name(&self) -> &str {
        "wsat coordinator"
    }

    fn check(
        &self,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + '_>> {
        let fenced = self.service.metrics().fenced;
        let recovered = self.service.is_recovered();
        Box::pin(async move {
            if fenced {
                Err("fenced off: another instance took over this instance's transactions".into())
            } else if !recovered {
                Err("loading its log: no transaction is answered until then".into())
            } else {
                Ok(())
            }
        })
    }
}

/// Reads the 32-byte correlation key at `path`, or creates it (readable
/// by the owner only) with fresh random bytes.
pub fn load_or_create_key(path: &Path) -> Result<CorrelationKey, String> {
    load_or_create_key_bytes(path).map(CorrelationKey::from_bytes)
}

/// [`load_or_create_key`]'s 32 bytes.
pub fn load_or_create_key_bytes(path: &Path) -> Result<[u8; 32], String> {
    match std::fs::read(path) {
        Ok(bytes) => {
            let bytes: [u8; 32] = bytes.try_into().map_err(|_| {
                format!(
                    "{}: the key file must hold exactly 32 bytes",
                    path.display()
                )
            })?;
            Ok(bytes)
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).map_err(|e| format!("no randomness: {e}"))?;
            write_private(path, &bytes).map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(bytes)
        }
        Err(error) => Err(format!("{}: {error}", path.display())),
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// A fresh `urn:uuid:` message id (random, version 4).
pub(crate) fn new_message_id() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // No randomness: a time-based id is still unique enough for
        // correlation of replies.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_nanos();
        bytes = nanos.to_be_bytes();
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    // Written digit by digit: one allocation, no formatting machinery.
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut id = String::with_capacity(45);
    id.push_str("urn:uuid:");
    for (at, byte) in bytes.iter().enumerate() {
        if matches!(at, 4 | 6 | 8 | 10) {
            id.push('-');
        }
        id.push(char::from(DIGITS[usize::from(byte >> 4)]));
        id.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    id
}

/// A plain-text HTTP answer, for requests that never became a WS-TX
/// message.
pub(crate) fn plain(status: http::StatusCode, text: &str) -> crate::body::Response {
    let mut response =
        crate::body::Response::new(crate::body::full(bytes::Bytes::from(text.to_owned())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// Reads a WS-TX message POSTed to one of the one-way endpoints an
/// application hosts (the initiator's and the participant's): the method,
/// the SOAP content type, the body within `limits.max_size`, then
/// [`ithaca_txn::wire::decode`]; or the HTTP answer that refuses the
/// request (405, 415, 413, 400 naming the problem).
pub(crate) async fn read_posted_message(
    request: crate::body::Request,
    limits: &ithaca_wsdl::Limits,
    wire_limits: &ithaca_txn::wire::WireLimits,
) -> Result<ithaca_txn::wire::Message, crate::body::Response> {
    use http::{Method, StatusCode, header};
    if request.method() != Method::POST {
        return Err(plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "POST a SOAP envelope",
        ));
    }
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| ithaca_wsdl::ContentType::parse(value).ok());
    let Some(content_type) = content_type else {
        return Err(plain(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "expected text/xml (SOAP 1.1) or application/soap+xml (SOAP 1.2)",
        ));
    };
    let bytes = match crate::body::read_to_bytes(request.into_body(), limits.max_size).await {
        Ok(bytes) => bytes,
        Err(crate::body::BodyError::TooLarge { .. }) => {
            return Err(plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request body too large",
            ));
        }
        Err(crate::body::BodyError::Read(_)) => {
            return Err(plain(
                StatusCode::BAD_REQUEST,
                "the request body could not be read",
            ));
        }
    };
    ithaca_txn::wire::decode(&bytes, Some(&content_type), limits, wire_limits)
        .map_err(|error| plain(StatusCode::BAD_REQUEST, &error.to_string()))
}
