//! The participant side of WS-AT in the gateway: a SOAP service backed by
//! PostgreSQL takes part in a transaction as a Durable2PC participant.
//!
//! [`ParticipantHost`] wraps an [`ithaca_txn::participant::PgParticipantService`]
//! with what only the gateway can do:
//!
//! - [`ParticipantHost::enlist`]: given the request's `CoordinationContext`,
//!   registers this service for Durable2PC at the context's
//!   RegistrationService (Register/RegisterResponse over SOAP 1.1, WS-AT
//!   1.2) **before** any business work, and only then opens the
//!   PostgreSQL branch the handler works on. A refused or failed Register
//!   is an error: the request must fail, so nothing commits unregistered.
//! - the participant protocol endpoint ([`ParticipantHost::routes`]): the
//!   coordinator's one-way `Prepare`, `Commit` and `Rollback` (and faults)
//!   arrive here, are checked against the signed correlation reference
//!   parameter this host put into the endpoint reference it registered
//!   (a missing or forged one is refused with `InvalidParameters`), and go
//!   to the service, answered `202 Accepted`;
//! - the service's outgoing messages (`Prepared`, `ReadOnly`, `Aborted`,
//!   `Committed`, faults) are sent by [`SoapCoordinatorLink`] through the
//!   gateway's [`HttpSink`].
//!
//! Spoken: WS-AT 1.1/1.2 (2006/06) over SOAP 1.1. Contexts of WS-AT 1.0
//! (2004/10) are refused by `enlist` for now.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use ithaca_txn::engine::Protocol;
use ithaca_txn::participant::{
    BranchId, CoordinatorFault, CoordinatorLink, EnlistFailure, FromCoordinator, LinkFuture,
    Outgoing, ParticipantFault, PgBranch, PgParticipantService, ToCoordinator, WsatVersion,
};
use ithaca_txn::record::{EndpointRef, ParticipantId, TxId};
use ithaca_txn::wire::{
    self, Body, CoordinationContext, Correlation, CorrelationKey, EndpointReference, FaultKind,
    Message, Notification, Register, WireFault, WireLimits, WsTxVersion,
};
use ithaca_wsdl::{Limits, SoapVersion};

use crate::body::{Request, Response, full};
use crate::router::Router;
use crate::wsat::sink::HttpSink;
use crate::wsat::{new_message_id, plain, read_posted_message};

/// How long a Register exchange may take.
const REGISTER_TIMEOUT: Duration = Duration::from_secs(10);
/// The most of a RegisterResponse that is read.
const MAX_REGISTER_ANSWER: usize = 64 * 1024;

/// Why a branch could not be enlisted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ParticipantError {
    /// The context is not one this host can take part in.
    #[error("unsupported coordination context: {0}")]
    UnsupportedContext(String),
    /// The coordinator refused the registration, or could not be reached.
    #[error("registration with the coordinator failed: {0}")]
    RegisterFailed(String),
    /// The branch could not be opened after registering.
    #[error(transparent)]
    Enlist(#[from] EnlistFailure),
}

/// Sends the participant service's messages to coordinators as SOAP 1.1,
/// WS-AT 1.2 one-way messages.
#[derive(Debug, Clone)]
pub struct SoapCoordinatorLink {
    sink: HttpSink,
}

impl SoapCoordinatorLink {
    /// A link sending through `sink`.
    pub fn new(sink: HttpSink) -> Self {
        Self { sink }
    }
}

impl CoordinatorLink for SoapCoordinatorLink {
    fn send<'a>(
        &'a self,
        _branch: &'a BranchId,
        to: &'a EndpointRef,
        message: Outgoing,
    ) -> LinkFuture<'a> {
        Box::pin(async move {
            let epr = EndpointReference::from_record(to).map_err(|e| e.to_string())?;
            let body = match message {
                Outgoing::Notification(notification) => Body::Notification(match notification {
                    ToCoordinator::Prepared => Notification::Prepared,
                    ToCoordinator::ReadOnly => Notification::ReadOnly,
                    ToCoordinator::Aborted => Notification::Aborted,
                    ToCoordinator::Committed => Notification::Committed,
                    ToCoordinator::Replay => Notification::Replay,
                }),
                Outgoing::Fault(ParticipantFault::InvalidState) => {
                    Body::Fault(WireFault::new(FaultKind::InvalidState))
                }
            };
            let mut message =
                Message::to_endpoint(SoapVersion::Soap11, WsTxVersion::Jun2006, &epr, body);
            message.addressing.message_id = Some(new_message_id());
            self.sink
                .post(&epr.address, &message)
                .await
                .map_err(|e| e.to_string())
        })
    }
}

struct Shared {
    service: PgParticipantService,
    key: CorrelationKey,
    /// The participant endpoint's URL, put into Register.
    endpoint_url: String,
    path: String,
    limits: Limits,
    wire: WireLimits,
    http: Client<HttpConnector, Full<Bytes>>,
}

/// A PostgreSQL-backed Durable2PC participant hosted by the gateway. Cheap
/// to clone.
#[derive(Clone)]
pub struct ParticipantHost {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for ParticipantHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParticipantHost")
            .field("endpoint_url", &self.shared.endpoint_url)
            .finish_non_exhaustive()
    }
}

impl ParticipantHost {
    /// A host for `service` whose protocol endpoint is at `path` on this
    /// gateway, reachable by coordinators at `base_url` (`http://host:port`)
    /// plus `path`. `key` signs the correlation parameter of the endpoint
    /// references it registers (keep it secret and stable across restarts:
    /// recovered branches are answered at the endpoint they registered).
    pub fn new(
        service: PgParticipantService,
        key: CorrelationKey,
        base_url: &str,
        path: &str,
    ) -> Self {
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        http.set_connect_timeout(Some(REGISTER_TIMEOUT));
        Self {
            shared: Arc::new(Shared {
                service,
                key,
                endpoint_url: format!("{}{path}", base_url.trim_end_matches('/')),
                path: path.to_owned(),
                limits: Limits {
                    max_size: 64 * 1024,
                    ..Limits::DEFAULT
                },
                wire: WireLimits::default(),
                http: Client::builder(TokioExecutor::new()).build(http),
            }),
        }
    }

    /// The participant service.
    pub fn service(&self) -> &PgParticipantService {
        &self.shared.service
    }

    /// The route of the participant protocol endpoint.
    pub fn routes(&self) -> Router {
        let shared = self.shared.clone();
        Router::new().route(
            &self.shared.path,
            "wsat-participant",
            move |request: Request| handle(shared.clone(), request),
        )
    }

    /// The endpoint reference registered for `branch`.
    fn participant_endpoint(&self, branch: &BranchId) -> EndpointReference {
        let correlation = Correlation {
            tx: branch.tx.clone(),
            participant: Some((ParticipantId(branch.branch), Protocol::Durable2Pc)),
        };
        EndpointReference {
            address: self.shared.endpoint_url.clone(),
            reference_parameters: vec![self.shared.key.sign(&correlation)],
        }
    }

    /// Registers for Durable2PC in the transaction of `context`, then
    /// opens the branch the business work runs on. Hand it back with
    /// [`PgParticipantService::work_done`] (or `work_failed`) through
    /// [`ParticipantHost::service`].
    pub async fn enlist(
        &self,
        context: &CoordinationContext,
    ) -> Result<PgBranch, ParticipantError> {
        let version = WsTxVersion::from_namespace(&context.coordination_type)
            .filter(|v| *v == WsTxVersion::Jun2006 && context.coordination_type == v.wsat())
            .ok_or_else(|| {
                ParticipantError::UnsupportedContext(format!(
                    "coordination type {:?} is not WS-AtomicTransaction 1.2",
                    context.coordination_type
                ))
            })?;
        let tx = TxId(context.identifier.clone());
        let service = &self.shared.service;
        let id = service.resource().reserve_branch(&tx);
        let mut register = Message::to_endpoint(
            SoapVersion::Soap11,
            version,
            &context.registration_service,
            Body::Register(Register {
                protocol_identifier: version.protocol_uri(Protocol::Durable2Pc),
                participant_protocol_service: self.participant_endpoint(&id),
            }),
        );
        register.addressing.message_id = Some(new_message_id());
        register.addressing.reply_to = Some(EndpointReference::anonymous(version));
        let answer = self
            .exchange(&context.registration_service.address, &register)
            .await
            .map_err(ParticipantError::RegisterFailed)?;
        let coordinator = match answer.body {
            Body::RegisterResponse(epr) => epr.to_record(),
            Body::Fault(fault) => {
                return Err(ParticipantError::RegisterFailed(format!(
                    "{}: {}",
                    fault.kind.local_name(),
                    fault.reason
                )));
            }
            _ => {
                return Err(ParticipantError::RegisterFailed(
                    "the answer is not a RegisterResponse".to_owned(),
                ));
            }
        };
        let expires = context
            .expires
            .map(|ms| Instant::now() + Duration::from_millis(u64::from(ms)));
        Ok(service
            .enlist_branch(&id, &coordinator, WsatVersion::V2006, expires)
            .await?)
    }

    /// Posts a request and reads the answer envelope.
    async fn exchange(&self, address: &str, message: &Message) -> Result<Message, String> {
        let uri: http::Uri = address
            .parse()
            .map_err(|_| format!("not a URL: {address}"))?;
        let xml = message.encode().map_err(|e| e.to_string())?;
        let request = http::Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header(header::CONTENT_TYPE, SoapVersion::Soap11.content_type())
            .header("SOAPAction", format!("\"{}\"", message.action()))
            .body(Full::new(Bytes::from(xml)))
            .map_err(|e| e.to_string())?;
        let exchange = async {
            let response = self
                .shared
                .http
                .request(request)
                .await
                .map_err(|e| format!("{address}: {e}"))?;
            let body = http_body_util::Limited::new(response.into_body(), MAX_REGISTER_ANSWER)
                .collect()
                .await
                .map_err(|e| format!("{address}: {e}"))?
                .to_bytes();
            wire::decode(&body, None, &self.shared.limits, &self.shared.wire)
                .map_err(|e| format!("{address}: {e}"))
        };
        tokio::time::timeout(REGISTER_TIMEOUT, exchange)
            .await
            .map_err(|_| format!("no answer from {address}"))?
    }
}

async fn handle(shared: Arc<Shared>, request: Request) -> Response {
    let message = match read_posted_message(request, &shared.limits, &shared.wire).await {
        Ok(message) => message,
        Err(refusal) => return refusal,
    };
    let branch = match shared.key.verify(&message.reference_parameters) {
        Ok(Correlation {
            tx,
            participant: Some((id, Protocol::Durable2Pc)),
        }) => BranchId::new(tx, id.0),
        _ => {
            return plain(
                StatusCode::BAD_REQUEST,
                "InvalidParameters: the participant reference parameter is missing or forged",
            );
        }
    };
    let reply_to = message
        .addressing
        .reply_to
        .as_ref()
        .or(message.addressing.from.as_ref())
        .filter(|epr| !epr.is_anonymous())
        .map(EndpointReference::to_record);
    match message.body {
        Body::Notification(Notification::Prepare) => {
            shared
                .service
                .deliver_from(&branch, FromCoordinator::Prepare, reply_to);
        }
        Body::Notification(Notification::Commit) => {
            shared
                .service
                .deliver_from(&branch, FromCoordinator::Commit, reply_to);
        }
        Body::Notification(Notification::Rollback) => {
            shared
                .service
                .deliver_from(&branch, FromCoordinator::Rollback, reply_to);
        }
        Body::Fault(fault) => {
            let fault = match fault.kind {
                FaultKind::UnknownTransaction => CoordinatorFault::UnknownTransaction,
                FaultKind::InvalidState => CoordinatorFault::InvalidState,
                FaultKind::InconsistentInternalState => CoordinatorFault::InconsistentInternalState,
                _ => CoordinatorFault::Other,
            };
            shared.service.deliver_fault(&branch, fault);
        }
        _ => {
            return plain(
                StatusCode::BAD_REQUEST,
                "InvalidParameters: not a message for a 2PC participant",
            );
        }
    }
    let mut response = Response::new(full(Bytes::new()));
    *response.status_mut() = StatusCode::ACCEPTED;
    response
}
