//! The air-traffic sector-status service hosted by `ithaca serve`
//! (`[sector_status]`), replicated primary/backup.
//!
//! The service's logic is [`ithaca_services::sector_status`] (the table and
//! the [`Replica`] state machine); this module decides who may serve,
//! carries replication over HTTP and maps the contract's values.
//!
//! - **Oracle mode** (the default): the gateway joins the membership oracle
//!   as a member holding the role `sector-status`. It serves, reads and
//!   writes alike, only while [`Member::is_primary`] holds (it is the
//!   view's primary with a valid lease on its own clock). Every write is
//!   stamped with the view id and sent to each backup the view names (at
//!   the address it registered); the backup admits it through its fence and
//!   acknowledges in the same view; only then does the primary apply it and
//!   answer. A backup that does not acknowledge makes the write fail (a
//!   Receiver fault: not acknowledged, retry) until the oracle removes it.
//!   A new primary was the first backup, so it holds every acknowledged
//!   write; it installs its table on the view's backups before their next
//!   write.
//! - **Baseline mode**: no oracle. The gateways ping each other; a backup
//!   whose primary stays silent for `failover_timeout_ms` takes over in the
//!   next view, and a primary whose backup does not answer keeps serving
//!   alone. Under a partition both serve: the split brain the oracle
//!   prevents, kept for comparison.
//!
//! Replication messages are JSON POSTed to [`REPLICATION_PATH`] on the
//! server listener, with `sector_status.token` as a bearer token when it is
//! set (the endpoint then refuses anything else with 401).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use ithaca_membership::client::{Member, MemberConfig};
use ithaca_membership::{MemberId, ServiceName, TimingConfig, ViewId};
use ithaca_services::sector_status::{
    self as service, BackupVerdict, PrepareError, Replica, ReplicaRole, ReplicationReply,
    ReplicationRequest, Reservation, TableError, WriteOp, WriteOutcome,
    replication::MAX_MESSAGE_BYTES,
};
use ithaca_wsdl::value::{Field, Value};
use tokio::task::JoinHandle;

use crate::body::{Request, Response, full, read_to_bytes, text_response};
use crate::config::{BaselineRole, SectorStatusConfig, SectorStatusMode};
use crate::router::Router;
use crate::soap::{Contract, DynamicError, DynamicRequest, SetupError, SoapError, SoapService};

/// Where the SOAP 1.1 port is served (SOAP 1.2 at `…/soap12`).
pub const PATH: &str = "/services/SectorStatus";

/// Where peers POST replication messages.
pub const REPLICATION_PATH: &str = "/services/SectorStatus/replication";

/// How long a member waits between attempts to join the oracle.
const JOIN_RETRY: Duration = Duration::from_millis(500);

/// Why the service could not start; the message names the key.
#[derive(Debug, thiserror::Error)]
pub enum SectorStatusError {
    /// A key is invalid.
    #[error("sector_status.{key}: {problem}")]
    Config {
        /// The key.
        key: &'static str,
        /// What is wrong.
        problem: String,
    },
}

/// Who may serve now.
#[derive(Debug, Clone)]
enum Standing {
    Primary {
        view: ViewId,
        /// The backups' base URLs.
        backups: Vec<String>,
    },
    NotPrimary {
        view: Option<ViewId>,
        primary: Option<String>,
        address: Option<String>,
    },
}

/// Why a request was not served.
#[derive(Debug)]
enum Refusal {
    NotPrimary {
        view: Option<ViewId>,
        primary: Option<String>,
        address: Option<String>,
    },
    StaleView {
        presented: ViewId,
        current: ViewId,
    },
    Table(TableError, ViewId),
    NotAcknowledged(String),
    /// The view names fewer backups than `min_backups`.
    TooFewBackups {
        view: ViewId,
        backups: usize,
        required: usize,
    },
}

enum Authority {
    Oracle {
        member: Member,
        service: ServiceName,
    },
    Baseline {
        peer: String,
    },
}

struct Inner {
    config: SectorStatusConfig,
    replica: Mutex<Replica>,
    /// Serializes writes across their replication round trip.
    writes: tokio::sync::Mutex<()>,
    authority: OnceLock<Authority>,
    client: Client<HttpConnector, Full<Bytes>>,
}

/// The hosted service (see the module docs).
pub struct SectorStatusHost {
    inner: Arc<Inner>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for SectorStatusHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SectorStatusHost")
            .field("member", &self.inner.config.member)
            .field("mode", &self.inner.config.mode)
            .finish_non_exhaustive()
    }
}

fn lock(replica: &Mutex<Replica>) -> MutexGuard<'_, Replica> {
    // Every Replica method leaves it consistent before returning.
    replica.lock().unwrap_or_else(PoisonError::into_inner)
}

impl SectorStatusHost {
    /// The service, not yet serving: [`Self::routes`] can be mounted before
    /// the gateway starts, then [`Self::start`] joins the oracle (or starts
    /// the baseline pings).
    pub fn new(config: &SectorStatusConfig) -> Self {
        let mut replica = Replica::new();
        if config.mode == SectorStatusMode::Baseline {
            let first = ViewId(1);
            match config.role {
                BaselineRole::Primary => {
                    let _ = replica.become_primary(first);
                }
                BaselineRole::Backup => replica.observe_view(first),
            }
        }
        Self {
            inner: Arc::new(Inner {
                config: config.clone(),
                replica: Mutex::new(replica),
                writes: tokio::sync::Mutex::new(()),
                authority: OnceLock::new(),
                client: Client::builder(TokioExecutor::new()).build_http(),
            }),
            tasks: Mutex::new(Vec::new()),
        }
    }

    /// The SOAP routes ([`PATH`], its SOAP 1.2 port) and the replication
    /// route, publishing `?wsdl` under `public_url` when set.
    pub fn routes(&self, public_url: Option<&str>) -> Result<Router, SetupError> {
        let contract = Contract::from_bytes(service::WSDL_NAME, service::WSDL)?;
        let mut builder = SoapService::builder(contract)
            .service(service::SERVICE)
            .base_path(PATH);
        if let Some(url) = public_url {
            builder = builder.public_url(url);
        }
        let reserve = Arc::clone(&self.inner);
        let release = Arc::clone(&self.inner);
        let who = Arc::clone(&self.inner);
        let get = Arc::clone(&self.inner);
        let soap = builder
            .dynamic_operation("Reserve", move |request: DynamicRequest| {
                let inner = Arc::clone(&reserve);
                async move { inner.reserve(request.value()).await }
            })
            .dynamic_operation("Release", move |request: DynamicRequest| {
                let inner = Arc::clone(&release);
                async move { inner.release(request.value()).await }
            })
            .dynamic_operation("WhoIsIn", move |request: DynamicRequest| {
                let inner = Arc::clone(&who);
                async move { inner.who_is_in(request.value()).await }
            })
            .dynamic_operation("GetSector", move |request: DynamicRequest| {
                let inner = Arc::clone(&get);
                async move { inner.get_sector(request.value()).await }
            })
            .build()?;
        let replication = Arc::clone(&self.inner);
        Ok(soap.route(
            REPLICATION_PATH,
            "sector_status_replication",
            move |request: Request| {
                let inner = Arc::clone(&replication);
                async move { inner.replication_endpoint(request).await }
            },
        ))
    }

    /// Starts serving: `server_addr` is the gateway's server listener (the
    /// default advertised address) and `own_oracle` this process's oracle
    /// member address, used when `sector_status.oracles` is empty.
    pub fn start(
        &self,
        server_addr: SocketAddr,
        own_oracle: Option<SocketAddr>,
        timing: TimingConfig,
    ) -> Result<(), SectorStatusError> {
        let config = &self.inner.config;
        let advertise = config
            .advertise
            .clone()
            .unwrap_or_else(|| format!("http://{server_addr}"));
        let mut tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
        match config.mode {
            SectorStatusMode::Baseline => {
                let peer = config.peer.clone().ok_or(SectorStatusError::Config {
                    key: "peer",
                    problem: "the baseline mode needs the other gateway's URL".into(),
                })?;
                let _ = self.inner.authority.set(Authority::Baseline { peer });
                tasks.push(tokio::spawn(Arc::clone(&self.inner).ping_loop()));
            }
            SectorStatusMode::Oracle => {
                let mut oracles: Vec<SocketAddr> = Vec::new();
                for text in config
                    .oracles
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                {
                    oracles.push(text.parse().map_err(|_| SectorStatusError::Config {
                        key: "oracles",
                        problem: format!("`{text}` is not host:port"),
                    })?);
                }
                if oracles.is_empty() {
                    let mut own = own_oracle.ok_or(SectorStatusError::Config {
                        key: "oracles",
                        problem:
                            "empty, and this process runs no oracle ([membership] enabled = false)"
                                .into(),
                    })?;
                    if own.ip().is_unspecified() {
                        own.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
                    }
                    oracles.push(own);
                }
                let member = MemberId::new(config.member.clone()).map_err(|e| {
                    SectorStatusError::Config {
                        key: "member",
                        problem: e.to_string(),
                    }
                })?;
                let service = ServiceName::new(service::MEMBERSHIP_SERVICE).map_err(|e| {
                    SectorStatusError::Config {
                        key: "member",
                        problem: e.to_string(),
                    }
                })?;
                let mut member_config =
                    MemberConfig::new(member, advertise, oracles).role(service.clone());
                member_config.timing = timing;
                tasks.push(tokio::spawn(
                    Arc::clone(&self.inner).join_and_watch(member_config, service),
                ));
            }
        }
        Ok(())
    }

    /// Stops the background tasks; the membership lease lapses and the
    /// oracle removes this member after the suspicion timeout.
    pub fn shutdown(&self) {
        for task in self
            .tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            task.abort();
        }
    }
}

impl Drop for SectorStatusHost {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Compares two secrets in time that depends only on their lengths.
fn same_secret(presented: &str, expected: &str) -> bool {
    presented.len() == expected.len()
        && presented
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
}

fn to_long(n: u64) -> Value {
    Value::int(i64::try_from(n).unwrap_or(i64::MAX))
}

fn text<'a>(value: &'a Value, field: &str) -> Result<&'a str, SoapError> {
    value
        .field(field)
        .and_then(Value::as_str)
        .ok_or_else(|| SoapError::sender(format!("{field} is missing")))
}

fn seconds(value: &Value, field: &str) -> Result<u64, SoapError> {
    value
        .field(field)
        .and_then(Value::as_i64)
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| SoapError::sender(format!("{field} must be a number from 0")))
}

fn known_view(value: &Value) -> Option<ViewId> {
    value
        .field("knownViewId")
        .and_then(Value::as_i64)
        .and_then(|n| u64::try_from(n).ok())
        .map(ViewId)
}

fn reservation_value(reservation: &Reservation) -> Value {
    Value::complex([
        Field::unqualified("flight", Value::string(reservation.flight.clone())),
        Field::unqualified("from", to_long(reservation.from)),
        Field::unqualified("until", to_long(reservation.until)),
    ])
}

impl From<Refusal> for DynamicError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::NotPrimary {
                view,
                primary,
                address,
            } => {
                let mut fields = Vec::new();
                if let Some(view) = view {
                    fields.push(Field::unqualified("viewId", to_long(view.0)));
                }
                let reason = match (&primary, &address) {
                    (Some(primary), Some(address)) => {
                        format!("not the primary; the primary is {primary} at {address}{PATH}")
                    }
                    (Some(primary), None) => format!("not the primary; the primary is {primary}"),
                    _ => "not the primary, and no primary is known".to_owned(),
                };
                if let Some(primary) = primary {
                    fields.push(Field::unqualified("primary", Value::string(primary)));
                }
                if let Some(address) = address {
                    fields.push(Field::unqualified(
                        "primaryAddress",
                        Value::string(format!("{address}{PATH}")),
                    ));
                }
                Self::declared("NotPrimary", reason, Value::complex(fields))
            }
            Refusal::StaleView { presented, current } => Self::declared(
                "StaleView",
                format!("this member is in view {current}, older than view {presented} the client has seen"),
                Value::complex([
                    Field::unqualified("presented", to_long(presented.0)),
                    Field::unqualified("current", to_long(current.0)),
                ]),
            ),
            Refusal::Table(TableError::Conflict { sector, holder }, view) => Self::declared(
                "Conflict",
                format!(
                    "sector {sector} is reserved for {} during [{}, {})",
                    holder.flight, holder.from, holder.until
                ),
                Value::complex([
                    Field::unqualified("sector", Value::string(sector)),
                    Field::unqualified("holder", Value::string(holder.flight)),
                    Field::unqualified("from", to_long(holder.from)),
                    Field::unqualified("until", to_long(holder.until)),
                    Field::unqualified("viewId", to_long(view.0)),
                ]),
            ),
            Refusal::Table(error, _) => SoapError::sender(error.to_string()).into(),
            Refusal::TooFewBackups {
                view,
                backups,
                required,
            } => SoapError::receiver(format!(
                "not enough backups: view {view} names {backups}, the service requires {required} (min_backups) before it acknowledges a write; nothing was written: retry once a backup has joined"
            ))
            .into(),
            Refusal::NotAcknowledged(reason) => SoapError::receiver(format!(
                "the write was not acknowledged by a backup ({reason}); it may not have taken effect: retry"
            ))
            .into(),
        }
    }
}

impl Inner {
    fn served(&self, view: ViewId) -> [Field; 2] {
        [
            Field::unqualified("viewId", to_long(view.0)),
            Field::unqualified("servedBy", Value::string(self.config.member.clone())),
        ]
    }

    /// Who may serve now, on this member's own clock.
    fn standing(&self) -> Standing {
        match self.authority.get() {
            None => Standing::NotPrimary {
                view: None,
                primary: None,
                address: None,
            },
            Some(Authority::Oracle { member, service }) => {
                let view = member.view();
                if member.is_primary(service) && view.primary(service) == Some(&member.id()) {
                    let backups = view
                        .backups(service)
                        .iter()
                        .filter_map(|backup| view.member(backup).map(|info| info.address.clone()))
                        .collect();
                    Standing::Primary {
                        view: view.id(),
                        backups,
                    }
                } else {
                    // A member whose own lease lapsed may still find itself
                    // named in the view it last saw: it knows no primary.
                    let primary = view
                        .primary(service)
                        .filter(|primary| **primary != member.id())
                        .cloned();
                    let address = primary
                        .as_ref()
                        .and_then(|p| view.member(p))
                        .map(|info| info.address.clone());
                    Standing::NotPrimary {
                        view: Some(view.id()),
                        primary: primary.map(|p| p.as_str().to_owned()),
                        address,
                    }
                }
            }
            Some(Authority::Baseline { peer }) => {
                let replica = lock(&self.replica);
                match replica.role() {
                    ReplicaRole::Primary(view) => Standing::Primary {
                        view,
                        backups: vec![peer.clone()],
                    },
                    ReplicaRole::Backup => Standing::NotPrimary {
                        view: Some(replica.current_view()),
                        primary: Some("peer".to_owned()),
                        address: Some(peer.clone()),
                    },
                }
            }
        }
    }

    /// The view to serve in, with the backups, or why not. Makes the
    /// replica primary in the view when the oracle says so.
    fn serving_view(&self, known: Option<ViewId>) -> Result<(ViewId, Vec<String>), Refusal> {
        let (view, backups) = match self.standing() {
            Standing::Primary { view, backups } => (view, backups),
            Standing::NotPrimary {
                view,
                primary,
                address,
            } => {
                return Err(Refusal::NotPrimary {
                    view,
                    primary,
                    address,
                });
            }
        };
        {
            let mut replica = lock(&self.replica);
            if replica.role() != ReplicaRole::Primary(view)
                && let Err(newer) = replica.become_primary(view)
            {
                return Err(Refusal::NotPrimary {
                    view: Some(newer),
                    primary: None,
                    address: None,
                });
            }
        }
        if let Some(presented) = known
            && presented > view
        {
            return Err(Refusal::StaleView {
                presented,
                current: view,
            });
        }
        Ok((view, backups))
    }

    fn baseline(&self) -> bool {
        matches!(self.authority.get(), Some(Authority::Baseline { .. }))
    }

    /// One write, replicated before it is answered (see the module docs).
    async fn write(
        &self,
        op: &WriteOp,
        known: Option<ViewId>,
    ) -> Result<(WriteOutcome, ViewId), Refusal> {
        let _serial = self.writes.lock().await;
        let (view, backups) = self.serving_view(known)?;
        let prepared = lock(&self.replica).prepare(op);
        let (outcome, request) = match prepared {
            Ok(prepared) => prepared,
            Err(PrepareError::Table(error)) => return Err(Refusal::Table(error, view)),
            Err(PrepareError::NotPrimary) => {
                return Err(Refusal::NotPrimary {
                    view: Some(view),
                    primary: None,
                    address: None,
                });
            }
        };
        let Some(request) = request else {
            return Ok((outcome, view));
        };
        if !self.baseline() && backups.len() < self.config.min_backups {
            return Err(Refusal::TooFewBackups {
                view,
                backups: backups.len(),
                required: self.config.min_backups,
            });
        }
        for backup in &backups {
            match self.replicate_to(backup, &request).await {
                Ok(()) => {}
                Err(BackupVerdict::Deposed(newer)) => {
                    return Err(Refusal::NotPrimary {
                        view: Some(newer),
                        primary: None,
                        address: None,
                    });
                }
                Err(failure) if self.baseline() => {
                    // The classic design: the primary keeps serving alone.
                    tracing::warn!(backup = %backup, ?failure, "sector status: backup unreachable; serving alone");
                }
                Err(failure) => {
                    let reason = match failure {
                        BackupVerdict::Failed(reason) => reason,
                        other => format!("{other:?}"),
                    };
                    return Err(Refusal::NotAcknowledged(format!("{backup}: {reason}")));
                }
            }
        }
        // Still primary in the same view (the lease may have lapsed while
        // the backups answered)?
        match self.standing() {
            Standing::Primary { view: now, .. } if now == view => {}
            Standing::Primary { view: now, .. }
            | Standing::NotPrimary {
                view: Some(now), ..
            } => {
                return Err(Refusal::NotPrimary {
                    view: Some(now),
                    primary: None,
                    address: None,
                });
            }
            Standing::NotPrimary { .. } => {
                return Err(Refusal::NotPrimary {
                    view: None,
                    primary: None,
                    address: None,
                });
            }
        }
        let committed = lock(&self.replica).commit(op);
        committed
            .map(|outcome| (outcome, view))
            .map_err(|error| Refusal::Table(error, view))
    }

    /// Sends `request` to one backup until it acknowledges (installing the
    /// table first when it asks), or says why not.
    async fn replicate_to(
        &self,
        backup: &str,
        request: &ReplicationRequest,
    ) -> Result<(), BackupVerdict> {
        let mut next = request.clone();
        // Replicate, perhaps Install, then Replicate again.
        for _ in 0..3 {
            let reply = self
                .send(backup, &next)
                .await
                .map_err(BackupVerdict::Failed)?;
            let verdict = lock(&self.replica).on_backup_reply(&next, &reply);
            match verdict {
                BackupVerdict::Acknowledged => {
                    if matches!(next, ReplicationRequest::Install { .. }) {
                        next = request.clone();
                        continue;
                    }
                    return Ok(());
                }
                BackupVerdict::Install(install) => next = install,
                other => return Err(other),
            }
        }
        Err(BackupVerdict::Failed(
            "the backup kept asking for the table".to_owned(),
        ))
    }

    /// One replication message to a peer and its answer.
    async fn send(
        &self,
        peer: &str,
        message: &ReplicationRequest,
    ) -> Result<ReplicationReply, String> {
        let timeout = Duration::from_millis(self.config.replication_timeout_ms);
        let uri = format!("{}{REPLICATION_PATH}", peer.trim_end_matches('/'));
        let mut request = http::Request::builder()
            .method(Method::POST)
            .uri(&uri)
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(token) = &self.config.token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = request
            .body(Full::new(Bytes::from(message.encode())))
            .map_err(|e| format!("{uri}: {e}"))?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| format!("{uri}: {e}"))?;
            let status = response.status();
            let body = Limited::new(response.into_body(), MAX_MESSAGE_BYTES)
                .collect()
                .await
                .map_err(|e| format!("{uri}: {e}"))?
                .to_bytes();
            if status != StatusCode::OK {
                return Err(format!(
                    "{uri}: {status}: {}",
                    String::from_utf8_lossy(body.get(..200).unwrap_or(body.as_ref()))
                ));
            }
            ReplicationReply::decode(&body).map_err(|e| format!("{uri}: {e}"))
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| format!("{uri}: no answer within {} ms", timeout.as_millis()))?
    }

    /// `POST /services/SectorStatus/replication`.
    async fn replication_endpoint(&self, request: Request) -> Response {
        if request.method() != Method::POST {
            return text_response(StatusCode::METHOD_NOT_ALLOWED, "POST only\n");
        }
        if let Some(token) = &self.config.token {
            let presented = request
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.strip_prefix("Bearer "));
            if !presented.is_some_and(|presented| same_secret(presented, token)) {
                return text_response(
                    StatusCode::UNAUTHORIZED,
                    "replication needs the service's bearer token (sector_status.token)\n",
                );
            }
        }
        let body = match read_to_bytes(request.into_body(), MAX_MESSAGE_BYTES).await {
            Ok(body) => body,
            Err(error) => {
                return text_response(StatusCode::PAYLOAD_TOO_LARGE, format!("{error}\n"));
            }
        };
        let message = match ReplicationRequest::decode(&body) {
            Ok(message) => message,
            Err(error) => return text_response(StatusCode::BAD_REQUEST, format!("{error}\n")),
        };
        let reply = lock(&self.replica).handle(&message);
        let mut response = http::Response::new(full(reply.encode()));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        response
    }

    async fn reserve(&self, request: &Value) -> Result<Value, DynamicError> {
        let op = WriteOp::Reserve {
            sector: text(request, "sector")?.to_owned(),
            flight: text(request, "flight")?.to_owned(),
            from: seconds(request, "from")?,
            until: seconds(request, "until")?,
        };
        let (outcome, view) = self.write(&op, known_view(request)).await?;
        let WriteOutcome::Reserved(reservation) = outcome else {
            return Err(SoapError::receiver("a reservation answered as a release").into());
        };
        let [view_id, served_by] = self.served(view);
        Ok(Value::complex([
            view_id,
            served_by,
            Field::unqualified("reservation", reservation_value(&reservation)),
        ]))
    }

    async fn release(&self, request: &Value) -> Result<Value, DynamicError> {
        let op = WriteOp::Release {
            sector: text(request, "sector")?.to_owned(),
            flight: text(request, "flight")?.to_owned(),
        };
        let (outcome, view) = self.write(&op, known_view(request)).await?;
        let released = matches!(outcome, WriteOutcome::Released(true));
        let [view_id, served_by] = self.served(view);
        Ok(Value::complex([
            view_id,
            served_by,
            Field::unqualified("released", Value::boolean(released)),
        ]))
    }

    async fn who_is_in(&self, request: &Value) -> Result<Value, DynamicError> {
        let sector = text(request, "sector")?;
        let at = seconds(request, "at")?;
        let (view, _) = self.serving_view(known_view(request))?;
        let mut fields = self.served(view).to_vec();
        let replica = lock(&self.replica);
        fields.extend(
            replica
                .table()
                .who_is_in(sector, at)
                .into_iter()
                .map(|flight| Field::unqualified("flight", Value::string(flight))),
        );
        Ok(Value::complex(fields))
    }

    async fn get_sector(&self, request: &Value) -> Result<Value, DynamicError> {
        let sector = text(request, "sector")?;
        let (view, _) = self.serving_view(known_view(request))?;
        let mut fields = self.served(view).to_vec();
        fields.push(Field::unqualified("sector", Value::string(sector)));
        let replica = lock(&self.replica);
        fields.extend(
            replica
                .table()
                .sector(sector)
                .iter()
                .map(|r| Field::unqualified("reservation", reservation_value(r))),
        );
        Ok(Value::complex(fields))
    }

    /// Oracle mode: joins (retrying until the oracle answers), then follows
    /// the view: the fence rises with every view, and a new primary
    /// installs its table on its backups at once.
    async fn join_and_watch(self: Arc<Self>, config: MemberConfig, service: ServiceName) {
        let member = loop {
            match Member::join(config.clone()).await {
                Ok(member) => break member,
                Err(error) => {
                    tracing::warn!(%error, "sector status: cannot join the membership oracle yet");
                    tokio::time::sleep(JOIN_RETRY).await;
                }
            }
        };
        let mut views = member.watch();
        tracing::info!(member = %config.member, view = %member.view().id(), "sector status: joined the membership oracle");
        let _ = self.authority.set(Authority::Oracle { member, service });
        loop {
            let view = views.borrow_and_update().id();
            lock(&self.replica).observe_view(view);
            self.install_on_backups().await;
            if views.changed().await.is_err() {
                return;
            }
        }
    }

    /// When this member is primary, pushes its table to the view's
    /// backups (best effort: a backup that misses it asks again on the
    /// next write).
    async fn install_on_backups(&self) {
        let _serial = self.writes.lock().await;
        let Ok((view, backups)) = self.serving_view(None) else {
            return;
        };
        let install = lock(&self.replica).install_request(view);
        for backup in backups {
            if let Err(error) = self.send(&backup, &install).await {
                tracing::debug!(%error, "sector status: install on a backup failed; it will ask again");
            }
        }
    }

    /// Baseline mode: pings the peer; a backup takes over after
    /// `failover_timeout_ms` of silence, a primary steps down when its
    /// peer is primary in a newer view.
    async fn ping_loop(self: Arc<Self>) {
        let Some(Authority::Baseline { peer }) = self.authority.get() else {
            return;
        };
        let interval = Duration::from_millis(self.config.ping_interval_ms);
        let failover = Duration::from_millis(self.config.failover_timeout_ms);
        let mut last_heard = Instant::now();
        let mut was_primary = matches!(lock(&self.replica).role(), ReplicaRole::Primary(_));
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let view = lock(&self.replica).current_view();
            match self.send(peer, &ReplicationRequest::Ping { view }).await {
                Ok(ReplicationReply::Pong {
                    view: theirs,
                    primary,
                }) => {
                    last_heard = Instant::now();
                    if primary && theirs > view {
                        tracing::warn!(%theirs, "sector status (baseline): the peer is primary in a newer view; stepping down");
                        lock(&self.replica).observe_view(theirs);
                    }
                }
                Ok(other) => tracing::debug!(?other, "sector status (baseline): odd ping answer"),
                Err(error) => tracing::debug!(%error, "sector status (baseline): ping failed"),
            }
            let mut replica = lock(&self.replica);
            let primary_now = matches!(replica.role(), ReplicaRole::Primary(_));
            if was_primary && !primary_now {
                // Just stepped down (a newer view answered a ping or a
                // write): give the new primary a full timeout.
                last_heard = Instant::now();
            }
            was_primary = primary_now;
            if replica.role() == ReplicaRole::Backup && last_heard.elapsed() >= failover {
                let next = replica
                    .current_view()
                    .next()
                    .unwrap_or(replica.current_view());
                if replica.become_primary(next).is_ok() {
                    tracing::warn!(view = %next, silent_ms = last_heard.elapsed().as_millis() as u64, "sector status (baseline): the primary is silent; taking over");
                }
            }
        }
    }
}
