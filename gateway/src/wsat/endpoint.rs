//! The request path of the coordinator's four endpoints: read the
//! envelope (size, content type, the envelope reader's checks), check the
//! correlation reference parameter, call the driver, and answer (on the
//! HTTP response for an anonymous `ReplyTo`, as a separate message to a
//! non-anonymous one; one-way messages with `202 Accepted`).

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderValue, Method, StatusCode, header};
use ithaca_txn::driver::{CoordinatorService, Delivered, DriverError};
use ithaca_txn::engine::{FromSuperior, Inbound, Protocol};
use ithaca_txn::record::{ParticipantId, TxId};
use ithaca_txn::wire::{
    self, Body, CoordinationContext, Correlation, CorrelationKey, EndpointReference, FaultKind,
    Message, NONE_2005, Notification, Register, WireError, WireFault, WireLimits, WsTxVersion,
};
use ithaca_wsdl::{ContentType, Fault, Limits, SoapVersion, write_fault};

use crate::body::{BodyError, Request, Response, full, read_to_bytes};
use crate::router::Router;
use crate::wsat::peer::{self, Peer};
use crate::wsat::sink::HttpSink;
use crate::wsat::{
    ACTIVATION_PATH, COMPLETION_PATH, REGISTRATION_PATH, SUBORDINATE_PATH, TWO_PC_PATH,
    new_message_id,
};

/// What every endpoint shares.
pub(crate) struct Shared {
    pub(crate) service: CoordinatorService,
    pub(crate) key: Arc<CorrelationKey>,
    /// The keys of the instances this one took over.
    pub(crate) adopted_keys: super::AdoptedKeys,
    pub(crate) sink: HttpSink,
    pub(crate) public_url: Option<String>,
    pub(crate) limits: Limits,
    pub(crate) wire: WireLimits,
    pub(crate) default_expires: Option<Duration>,
    pub(crate) max_expires: Duration,
}

/// Which endpoint a request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Activation,
    Registration,
    Completion,
    TwoPc,
    /// The participant endpoint of subordinate transactions.
    Subordinate,
}

/// The four routes.
pub(crate) fn routes(shared: &Arc<Shared>) -> Router {
    let route = |endpoint: Endpoint| {
        let shared = shared.clone();
        move |request: Request| handle(shared.clone(), endpoint, request)
    };
    Router::new()
        .route(
            ACTIVATION_PATH,
            "wsat-activation",
            route(Endpoint::Activation),
        )
        .route(
            REGISTRATION_PATH,
            "wsat-registration",
            route(Endpoint::Registration),
        )
        .route(
            COMPLETION_PATH,
            "wsat-completion",
            route(Endpoint::Completion),
        )
        .route(TWO_PC_PATH, "wsat-2pc", route(Endpoint::TwoPc))
        .route(
            SUBORDINATE_PATH,
            "wsat-subordinate",
            route(Endpoint::Subordinate),
        )
}

async fn handle(shared: Arc<Shared>, endpoint: Endpoint, request: Request) -> Response {
    if request.method() != Method::POST {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "POST a SOAP envelope");
    }
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| ContentType::parse(value).ok());
    let Some(content_type) = content_type else {
        return plain(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "expected text/xml (SOAP 1.1) or application/soap+xml (SOAP 1.2)",
        );
    };
    let base = shared.public_url.clone().unwrap_or_else(|| {
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("localhost");
        format!("http://{host}")
    });
    let bytes = match read_to_bytes(request.into_body(), shared.limits.max_size).await {
        Ok(bytes) if bytes.len() <= shared.limits.max_size => bytes,
        Ok(_) | Err(BodyError::TooLarge { .. }) => {
            return plain(StatusCode::PAYLOAD_TOO_LARGE, "request body too large");
        }
        Err(BodyError::Read(_)) => {
            return plain(
                StatusCode::BAD_REQUEST,
                "the request body could not be read",
            );
        }
    };
    let message = match wire::decode(&bytes, Some(&content_type), &shared.limits, &shared.wire) {
        Ok(message) => message,
        Err(WireError::Envelope(error)) => {
            let version = content_type.version;
            let fault = Fault::new(error.fault_code(), error.to_string());
            return soap_fault(version, &fault);
        }
        Err(error) => {
            let mut reply = Message::new(
                content_type.version,
                WsTxVersion::Jun2006,
                Body::Fault(WireFault {
                    kind: FaultKind::InvalidParameters,
                    reason: error.to_string(),
                }),
            );
            reply.addressing.message_id = Some(new_message_id());
            return envelope(&reply, fault_status(reply.soap));
        }
    };
    let request = Exchange {
        shared: &shared,
        message: &message,
        base: &base,
    };
    match endpoint {
        Endpoint::Activation => request.activation().await,
        Endpoint::Registration => request.registration(),
        Endpoint::Completion | Endpoint::TwoPc => request.protocol(endpoint),
        Endpoint::Subordinate => request.superior_message(),
    }
}

/// One request being answered.
struct Exchange<'a> {
    shared: &'a Shared,
    message: &'a Message,
    base: &'a str,
}

impl Exchange<'_> {
    async fn activation(&self) -> Response {
        let version = self.message.version;
        let Body::CreateCoordinationContext(create) = &self.message.body else {
            return self.fault(
                FaultKind::InvalidParameters,
                "not a CreateCoordinationContext",
            );
        };
        if create.coordination_type != version.wsat() {
            return self.fault(
                FaultKind::InvalidParameters,
                "the coordination type is not WS-AtomicTransaction of this version",
            );
        }
        // A subordinate lives no longer than its superior said.
        let requested = match (
            create.expires,
            create.current_context.as_ref().and_then(|c| c.expires),
        ) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
        .map(|ms| Duration::from_millis(u64::from(ms)));
        let tx = match &create.current_context {
            None => match self.shared.service.create(requested) {
                Ok(tx) => tx,
                Err(error) => return self.driver_error(&error),
            },
            Some(superior) => match self.subordinate(superior, requested).await {
                Ok(tx) => tx,
                Err(response) => return response,
            },
        };
        let expires = requested
            .or(self.shared.default_expires)
            .map(|e| e.min(self.shared.max_expires))
            .map(|e| u32::try_from(e.as_millis()).unwrap_or(u32::MAX));
        let context = CoordinationContext {
            identifier: tx.0.clone(),
            expires,
            coordination_type: version.wsat().to_owned(),
            registration_service: self.registration_service(&tx),
            extensions: Vec::new(),
        };
        self.reply(Body::CreateCoordinationContextResponse(context))
    }

    /// Interposition: a subordinate transaction, registered for
    /// Durable2PC with the superior named by `superior` before its context
    /// is answered. A refused or failed registration rolls it back and
    /// answers CannotCreateContext.
    async fn subordinate(
        &self,
        superior: &CoordinationContext,
        requested: Option<Duration>,
    ) -> Result<TxId, Response> {
        let version = self.message.version;
        if superior.coordination_type != version.wsat() {
            return Err(self.fault(
                FaultKind::InvalidParameters,
                "the CurrentContext is not a WS-AtomicTransaction context of this version",
            ));
        }
        let registration = &superior.registration_service;
        if !addressable(registration) {
            return Err(self.fault(
                FaultKind::InvalidParameters,
                "the CurrentContext's registration service must be addressable",
            ));
        }
        let service = &self.shared.service;
        let tx = service
            .create_subordinate(requested)
            .map_err(|error| self.driver_error(&error))?;
        let own = self.shared.sink.coordinator_endpoint(
            self.base,
            &Correlation {
                tx: tx.clone(),
                participant: Some((ParticipantId::SUPERIOR, Protocol::Durable2Pc)),
            },
        );
        // SOAP 1.1: what WS-AT peers are required to speak (WCF R1002).
        let soap = SoapVersion::Soap11;
        let mut register = Message::to_endpoint(
            soap,
            version,
            registration,
            Body::Register(Register {
                protocol_identifier: version.protocol_uri(Protocol::Durable2Pc),
                participant_protocol_service: own,
            }),
        );
        register.addressing.message_id = Some(new_message_id());
        register.addressing.reply_to = Some(EndpointReference::anonymous(version));
        let refused = |reason: String| {
            service.abandon(&tx);
            tracing::warn!(subordinate = %tx, superior = %superior.identifier, "registration with the superior failed: {reason}");
            self.fault(
                FaultKind::CannotCreateContext,
                &format!("registration with the superior coordinator failed: {reason}"),
            )
        };
        let answer = self
            .shared
            .sink
            .exchange(
                &registration.address,
                &register,
                &self.shared.limits,
                &self.shared.wire,
            )
            .await
            .map_err(refused)?;
        let coordinator = match answer.body {
            Body::RegisterResponse(epr) if addressable(&epr) => epr,
            Body::Fault(fault) => {
                return Err(refused(format!(
                    "{}: {}",
                    fault.kind.local_name(),
                    fault.reason
                )));
            }
            _ => {
                return Err(refused(
                    "the answer is not a usable RegisterResponse".into(),
                ));
            }
        };
        let kept = peer::keep(
            &coordinator,
            &Peer {
                soap,
                version,
                base: self.base.to_owned(),
            },
        );
        service
            .superior_registered(&tx, kept)
            .map_err(|error| self.driver_error(&error))?;
        Ok(tx)
    }

    /// A superior's Prepare, Commit or Rollback for a subordinate
    /// transaction.
    fn superior_message(&self) -> Response {
        let Ok(Correlation {
            tx,
            participant: Some((ParticipantId::SUPERIOR, Protocol::Durable2Pc)),
        }) = self.shared.key.verify(&self.message.reference_parameters)
        else {
            return self.fault(
                FaultKind::InvalidParameters,
                "the subordinate reference parameter is missing or forged",
            );
        };
        let message = match &self.message.body {
            Body::Notification(Notification::Prepare) => FromSuperior::Prepare,
            Body::Notification(Notification::Commit) => FromSuperior::Commit,
            Body::Notification(Notification::Rollback) => FromSuperior::Rollback,
            Body::Notification(_) => {
                return self.fault(
                    FaultKind::InvalidState,
                    "a participant does not receive this message",
                );
            }
            Body::Fault(fault) => {
                tracing::warn!(tx = %tx, fault = fault.kind.local_name(), reason = %fault.reason, "WS-AT fault from a superior coordinator");
                return accepted();
            }
            _ => {
                return self.fault(
                    FaultKind::InvalidParameters,
                    "not a message of a participant protocol endpoint",
                );
            }
        };
        let addressing = &self.message.addressing;
        let reply_to = addressing
            .reply_to
            .as_ref()
            .or(addressing.from.as_ref())
            .filter(|epr| addressable(epr))
            .map(|epr| peer::keep(epr, &self.peer()));
        match self
            .shared
            .service
            .deliver_from_superior(&tx, message, reply_to)
        {
            Ok(_) => accepted(),
            Err(error) => self.driver_error(&error),
        }
    }

    fn registration(&self) -> Response {
        let Body::Register(register) = &self.message.body else {
            return self.fault(FaultKind::InvalidParameters, "not a Register");
        };
        let correlation = match self.shared.key.verify(&self.message.reference_parameters) {
            Ok(correlation) if correlation.participant.is_none() => correlation,
            Ok(_) | Err(_) => {
                return self.fault(
                    FaultKind::InvalidParameters,
                    "the registration service reference parameter is missing or forged",
                );
            }
        };
        let protocol = match WsTxVersion::protocol_from_uri(&register.protocol_identifier) {
            Some((protocol, version)) if version == self.message.version => protocol,
            _ => {
                return self.fault(
                    FaultKind::InvalidProtocol,
                    "unknown or unsupported protocol identifier",
                );
            }
        };
        let service = &register.participant_protocol_service;
        if service.is_anonymous() || service.address == NONE_2005 {
            return self.fault(
                FaultKind::InvalidParameters,
                "the participant protocol service must be addressable",
            );
        }
        let kept = peer::keep(service, &self.peer());
        let participant = match self
            .shared
            .service
            .register(&correlation.tx, protocol, kept)
        {
            Ok(participant) => participant,
            Err(error) => return self.driver_error(&error),
        };
        let coordinator = self.shared.sink.coordinator_endpoint(
            self.base,
            &Correlation {
                tx: correlation.tx,
                participant: Some((participant, protocol)),
            },
        );
        self.reply(Body::RegisterResponse(coordinator))
    }

    fn protocol(&self, endpoint: Endpoint) -> Response {
        // A participant of an instance this one took over is answered
        // too (see `AdoptedKeys`).
        let verified = self
            .shared
            .key
            .verify(&self.message.reference_parameters)
            .or_else(|_| {
                self.shared
                    .adopted_keys
                    .verify(&self.message.reference_parameters)
            });
        let (tx, participant, protocol) = match verified {
            Ok(Correlation {
                tx,
                participant: Some((participant, protocol)),
            }) if (protocol == Protocol::Completion) == (endpoint == Endpoint::Completion) => {
                (tx, participant, protocol)
            }
            Ok(_) | Err(_) => {
                return self.fault(
                    FaultKind::InvalidParameters,
                    "the coordinator protocol reference parameter is missing or forged",
                );
            }
        };
        let inbound = match (&self.message.body, endpoint) {
            (Body::Notification(Notification::Commit), Endpoint::Completion) => Inbound::Commit,
            (Body::Notification(Notification::Rollback), Endpoint::Completion) => Inbound::Rollback,
            (Body::Notification(notification), Endpoint::TwoPc) => match notification {
                Notification::Prepared | Notification::Replay => Inbound::Prepared,
                Notification::ReadOnly => Inbound::ReadOnly,
                Notification::Aborted => Inbound::Aborted,
                Notification::Committed => Inbound::Committed,
                Notification::Prepare | Notification::Commit | Notification::Rollback => {
                    return self.fault(
                        FaultKind::InvalidState,
                        "a coordinator does not receive this message",
                    );
                }
            },
            (Body::Notification(_), _) => {
                return self.fault(
                    FaultKind::InvalidState,
                    "this message is not part of the Completion protocol",
                );
            }
            (Body::Fault(fault), Endpoint::TwoPc)
                if fault.kind == FaultKind::InconsistentInternalState =>
            {
                Inbound::InconsistentInternalState
            }
            (Body::Fault(fault), _) => {
                tracing::warn!(tx = %tx, participant = %participant, fault = fault.kind.local_name(), reason = %fault.reason, "WS-AT fault from a participant");
                return accepted();
            }
            _ => {
                return self.fault(
                    FaultKind::InvalidParameters,
                    "not a message of a coordinator protocol endpoint",
                );
            }
        };
        let addressing = &self.message.addressing;
        let reply_to = addressing
            .reply_to
            .as_ref()
            .or(addressing.from.as_ref())
            .filter(|epr| addressable(epr))
            .map(|epr| peer::keep(epr, &self.peer()));
        let anonymous = reply_to.is_none();
        match self
            .shared
            .service
            .deliver_from(&tx, participant, protocol, inbound, reply_to)
        {
            Ok(Delivered::Handled) => accepted(),
            Ok(Delivered::UnknownTransaction) if anonymous => self.fault(
                FaultKind::UnknownTransaction,
                "the coordinator has no knowledge of the transaction",
            ),
            Ok(Delivered::UnknownTransaction) => accepted(),
            Err(error) => self.driver_error(&error),
        }
    }

    /// How to speak to the sender later.
    fn peer(&self) -> Peer {
        Peer {
            soap: self.message.soap,
            version: self.message.version,
            base: self.base.to_owned(),
        }
    }

    fn registration_service(&self, tx: &TxId) -> EndpointReference {
        let base = self.shared.public_url.as_deref().unwrap_or(self.base);
        EndpointReference {
            address: format!("{}{REGISTRATION_PATH}", base.trim_end_matches('/')),
            reference_parameters: vec![self.shared.key.sign(&Correlation {
                tx: tx.clone(),
                participant: None,
            })],
        }
    }

    /// The answer to a driver refusal: its protocol fault, or 503 (retry)
    /// or a server fault for operational conditions.
    fn driver_error(&self, error: &DriverError) -> Response {
        match error.fault_kind() {
            Some(kind) => self.fault(kind.into(), &error.to_string()),
            None if error.is_retryable() => {
                let mut response = plain(StatusCode::SERVICE_UNAVAILABLE, &error.to_string());
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
                response
            }
            None => soap_fault(
                self.message.soap,
                &Fault::new(ithaca_wsdl::FaultCode::Receiver, error.to_string()),
            ),
        }
    }

    fn fault(&self, kind: FaultKind, reason: &str) -> Response {
        let destination = self.message.addressing.fault_to.as_ref().or(self
            .message
            .addressing
            .reply_to
            .as_ref());
        self.answer(
            Body::Fault(WireFault {
                kind,
                reason: reason.to_owned(),
            }),
            destination,
        )
    }

    fn reply(&self, body: Body) -> Response {
        self.answer(body, self.message.addressing.reply_to.as_ref())
    }

    /// Answers on the HTTP response, or, for a non-anonymous destination,
    /// as a separate message (the HTTP response is then `202`).
    fn answer(&self, body: Body, destination: Option<&EndpointReference>) -> Response {
        let is_fault = matches!(body, Body::Fault(_));
        let mut reply = Message::new(self.message.soap, self.message.version, body);
        reply.addressing.message_id = Some(new_message_id());
        reply.addressing.relates_to = self.message.addressing.message_id.clone();
        match destination.filter(|epr| addressable(epr)) {
            Some(epr) => {
                reply.addressing.to = Some(epr.address.clone());
                reply.reference_parameters = epr.reference_parameters.clone();
                let sink = self.shared.sink.clone();
                let address = epr.address.clone();
                tokio::spawn(async move {
                    if let Err(error) = sink.post(&address, &reply).await {
                        tracing::warn!(%address, %error, "WS-Coordination reply not delivered");
                    }
                });
                accepted()
            }
            None => {
                let status = if is_fault {
                    fault_status(reply.soap)
                } else {
                    StatusCode::OK
                };
                envelope(&reply, status)
            }
        }
    }
}

/// Whether an answer can be sent to `epr` as a message of its own.
fn addressable(epr: &EndpointReference) -> bool {
    !epr.is_anonymous() && epr.address != NONE_2005
}

/// The status a WS-C/WS-AT fault travels with: 500 in SOAP 1.1, 400
/// (`Sender`) in SOAP 1.2.
fn fault_status(soap: SoapVersion) -> StatusCode {
    match soap {
        SoapVersion::Soap11 => StatusCode::INTERNAL_SERVER_ERROR,
        SoapVersion::Soap12 => StatusCode::BAD_REQUEST,
    }
}

fn envelope(message: &Message, status: StatusCode) -> Response {
    match message.encode() {
        Ok(xml) => {
            let mut response = Response::new(full(xml));
            *response.status_mut() = status;
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(message.soap.content_type()),
            );
            response
        }
        Err(error) => soap_fault(
            message.soap,
            &Fault::new(ithaca_wsdl::FaultCode::Receiver, error.to_string()),
        ),
    }
}

fn soap_fault(version: SoapVersion, fault: &Fault) -> Response {
    let status = StatusCode::from_u16(fault.http_status(version))
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match write_fault(version, fault) {
        Ok(xml) => {
            let mut response = Response::new(full(xml));
            *response.status_mut() = status;
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(version.content_type()),
            );
            response
        }
        Err(_) => plain(status, "the request was refused"),
    }
}

fn accepted() -> Response {
    let mut response = Response::new(crate::body::Body::empty());
    *response.status_mut() = StatusCode::ACCEPTED;
    response
}

fn plain(status: StatusCode, text: &str) -> Response {
    let mut response = Response::new(full(format!("{text}\n")));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
