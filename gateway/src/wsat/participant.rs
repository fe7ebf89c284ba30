//! The participant side of WS-AT in the gateway: a SOAP service backed by
//! PostgreSQL (or SQLite, or any [`DurableResource`]) takes part in a
//! transaction as a Durable2PC participant.
//!
//! [`ParticipantHost`] wraps an [`ithaca_txn::participant::ParticipantService`]
//! (by default the PostgreSQL one, [`ithaca_txn::participant::PgParticipantService`])
//! with what only the gateway can do:
//!
//! - [`ParticipantHost::enlist`]: given the request's `CoordinationContext`,
//!   registers this service for Durable2PC at the context's
//!   RegistrationService (Register/RegisterResponse over SOAP 1.1, WS-AT
//!   1.2) **before** any business work, and only then opens the
//!   branch the handler works on. A refused or failed Register
//!   is an error: the request must fail, so nothing commits unregistered.
//! - the participant protocol endpoint ([`ParticipantHost::routes`]): the
//!   coordinator's one-way `Prepare`, `Commit` and `Rollback` (and faults)
//!   arrive here, are checked against the signed correlation reference
//!   parameter this host put into the endpoint reference it registered
//!   (a missing or forged one is refused with `InvalidParameters`), and go
//!   to the service, answered `202 Accepted`;
//! - the service's outgoing messages (`Prepared`, `ReadOnly`, `Aborted`,
//!   `Committed`, faults) are sent by [`SoapCoordinatorLink`] through the
//!   gateway's [`HttpSink`], each with the branch's own signed participant
//!   endpoint as `wsa:ReplyTo` and `wsa:From`. A coordinator restarted
//!   without any record of the transaction can so still answer a resent
//!   `Prepared` with the presumed-abort `Rollback` (WS-AT's coordinator
//!   state table: a durable `Prepared` in state None gets `Rollback`).
//!   The endpoint is kept with the coordinator's endpoint reference in the
//!   branch's durable record (one more reference parameter, taken off
//!   before sending, like the version marker), so a branch recovered after
//!   a participant restart still sends it. A `wsat:UnknownTransaction`
//!   fault is not taken as an abort: only the coordinator's `Rollback` is.
//!
//! Spoken: WS-AT 1.1/1.2 (2006/06, WS-Addressing 1.0) and WS-AT 1.0
//! (2004/10, WS-Addressing 2004/08), each in the version of the context
//! enlisted in, over SOAP 1.1 or, with [`ParticipantHost::with_soap_version`],
//! SOAP 1.2; the participant endpoint reads either SOAP version. The version
//! pair is kept with the coordinator's endpoint reference (as one extra
//! reference parameter, taken off before sending), so a branch recovered after a restart is
//! answered in the version it registered with.
//!
//! [`ParticipantHost::join`] (in [`super::context`]) does the same for a
//! hosted SOAP handler straight from its request's `CoordinationContext`
//! header, once per transaction.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::StatusCode;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use ithaca_txn::engine::Protocol;
use ithaca_txn::participant::{
    BranchId, CoordinatorFault, CoordinatorLink, DurableResource, EnlistFailure, FromCoordinator,
    LinkFuture, Outgoing, ParticipantFault, ParticipantService, PgParticipant, ToCoordinator,
    WsatVersion,
};
use ithaca_txn::record::{EndpointRef, ParticipantId, TxId};
use ithaca_txn::wire::{
    self, Body, CORRELATION_NS, CoordinationContext, Correlation, CorrelationKey,
    EndpointReference, FaultKind, Message, Notification, Register, WireFault, WireLimits,
    WsTxVersion,
};
use ithaca_wsdl::{Limits, SoapVersion};
use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;

use crate::body::{Request, Response, full};
use crate::router::Router;
use crate::wsat::context::Parked;
use crate::wsat::peer::{self, Peer};
use crate::wsat::sink::{HttpSink, soap_post};
use crate::wsat::{new_message_id, plain, read_posted_message};

/// How long a Register exchange may take.
const REGISTER_TIMEOUT: Duration = Duration::from_secs(10);
/// The most of a RegisterResponse that is read.
const MAX_REGISTER_ANSWER: usize = 64 * 1024;
/// The local name (in [`CORRELATION_NS`]) of the reference parameter that
/// keeps the branch's own participant endpoint with the coordinator's
/// endpoint reference in the branch record.
const REPLY_TO_ELEMENT: &str = "ParticipantReplyTo";

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

/// Sends the participant service's messages to coordinators as one-way
/// SOAP messages, in the SOAP and WS-AT versions each branch registered
/// with (SOAP 1.1, WS-AT 1.2 for an endpoint without a version marker).
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
            let (mut epr, peer) = peer::split(to).map_err(|e| e.to_string())?;
            let own = take_reply_to(&mut epr);
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
            let mut message = Message::to_endpoint(peer.soap, peer.version, &epr, body);
            message.addressing.message_id = Some(new_message_id());
            // Where a coordinator that lost the transaction answers
            // (presumed abort): this branch's participant endpoint.
            message.addressing.from.clone_from(&own);
            message.addressing.reply_to = own;
            self.sink
                .post(&epr.address, &message)
                .await
                .map_err(|e| e.to_string())
        })
    }
}

struct Shared<R: DurableResource> {
    service: ParticipantService<R>,
    key: CorrelationKey,
    /// The participant endpoint's URL, put into Register.
    endpoint_url: String,
    path: String,
    limits: Limits,
    wire: WireLimits,
    http: Client<HttpConnector, Full<Bytes>>,
    /// The SOAP version of Register.
    soap: SoapVersion,
    /// The branches of hosted requests between requests.
    parked: Arc<Parked<R::Branch>>,
}

/// A Durable2PC participant hosted by the gateway, on PostgreSQL (the
/// default) or another [`DurableResource`] such as SQLite. Cheap to clone.
pub struct ParticipantHost<R: DurableResource = PgParticipant> {
    shared: Arc<Shared<R>>,
}

impl<R: DurableResource> Clone for ParticipantHost<R> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<R: DurableResource> std::fmt::Debug for ParticipantHost<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParticipantHost")
            .field("endpoint_url", &self.shared.endpoint_url)
            .finish_non_exhaustive()
    }
}

impl<R: DurableResource> ParticipantHost<R> {
    /// A host for `service` whose protocol endpoint is at `path` on this
    /// gateway, reachable by coordinators at `base_url` (`http://host:port`)
    /// plus `path`. `key` signs the correlation parameter of the endpoint
    /// references it registers (keep it secret and stable across restarts:
    /// recovered branches are answered at the endpoint they registered).
    pub fn new(
        service: ParticipantService<R>,
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
                soap: SoapVersion::Soap11,
                parked: Arc::default(),
            }),
        }
    }

    /// The same host registering over `soap` (SOAP 1.1 by default); its
    /// branches' messages to the coordinator use it too. Call before
    /// cloning or mounting the routes.
    #[must_use]
    pub fn with_soap_version(self, soap: SoapVersion) -> Self {
        let shared = &self.shared;
        Self {
            shared: Arc::new(Shared {
                service: shared.service.clone(),
                key: shared.key.clone(),
                endpoint_url: shared.endpoint_url.clone(),
                path: shared.path.clone(),
                limits: shared.limits,
                wire: shared.wire,
                http: shared.http.clone(),
                soap,
                parked: Arc::default(),
            }),
        }
    }

    /// The branches parked between hosted requests.
    pub(crate) fn parked(&self) -> &Arc<Parked<R::Branch>> {
        &self.shared.parked
    }

    /// How many transactions hold a branch parked between hosted requests
    /// ([`ParticipantHost::join`]).
    pub fn open_transactions(&self) -> usize {
        self.shared.parked.len()
    }

    /// The participant service.
    pub fn service(&self) -> &ParticipantService<R> {
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
    /// [`ParticipantService::work_done`] (or `work_failed`) through
    /// [`ParticipantHost::service`].
    pub async fn enlist(
        &self,
        context: &CoordinationContext,
    ) -> Result<R::Branch, ParticipantError> {
        let version = WsTxVersion::from_namespace(&context.coordination_type)
            .filter(|v| context.coordination_type == v.wsat())
            .ok_or_else(|| {
                ParticipantError::UnsupportedContext(format!(
                    "coordination type {:?} is not WS-AtomicTransaction (1.0 or 1.2)",
                    context.coordination_type
                ))
            })?;
        let soap = self.shared.soap;
        let tx = TxId(context.identifier.clone());
        let service = &self.shared.service;
        let id = service.resource().reserve_branch(&tx);
        let mut register = Message::to_endpoint(
            soap,
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
            Body::RegisterResponse(epr) => {
                let mut kept = peer::keep(
                    &epr,
                    &Peer {
                        soap,
                        version,
                        base: String::new(),
                    },
                );
                kept.reference_parameters
                    .push_str(&reply_to_marker(&self.participant_endpoint(&id)));
                kept
            }
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
        let wsat = match version {
            WsTxVersion::Jun2006 => WsatVersion::V2006,
            WsTxVersion::Oct2004 => WsatVersion::V2004,
        };
        Ok(service
            .enlist_branch(&id, &coordinator, wsat, expires)
            .await?)
    }

    /// Posts a request and reads the answer envelope.
    async fn exchange(&self, address: &str, message: &Message) -> Result<Message, String> {
        let uri: http::Uri = address
            .parse()
            .map_err(|_| format!("not a URL: {address}"))?;
        let xml = message.encode().map_err(|e| e.to_string())?;
        let request =
            soap_post(uri, message.soap, &message.action(), xml).map_err(|e| e.to_string())?;
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

/// The reference parameter keeping `own` (the branch's participant
/// endpoint) with the coordinator's endpoint reference.
fn reply_to_marker(own: &EndpointReference) -> String {
    let record = own.to_record();
    let mut marker = String::from("<ic:");
    marker.push_str(REPLY_TO_ELEMENT);
    marker.push_str(" xmlns:ic=\"");
    marker.push_str(CORRELATION_NS);
    marker.push_str("\" address=\"");
    escape_attribute(&mut marker, &record.address);
    marker.push_str("\" parameters=\"");
    escape_attribute(&mut marker, &record.reference_parameters);
    marker.push_str("\"/>");
    marker
}

/// `value` as the text of a double-quoted attribute (whitespace as
/// character references, so attribute normalisation keeps it).
fn escape_attribute(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            _ => out.push(c),
        }
    }
}

/// Takes the participant-endpoint marker(s) off `epr`'s reference
/// parameters: the endpoint kept by the last well-formed one, if any.
fn take_reply_to(epr: &mut EndpointReference) -> Option<EndpointReference> {
    let mut own = None;
    epr.reference_parameters
        .retain(|parameter| match read_reply_to(parameter) {
            Some(found) => {
                own = found;
                false
            }
            None => true,
        });
    own
}

/// `None` if `parameter` is not the marker; `Some(None)` if it is one that
/// cannot be read (dropped all the same, never sent to the coordinator).
fn read_reply_to(parameter: &str) -> Option<Option<EndpointReference>> {
    let mut reader = NsReader::from_str(parameter);
    loop {
        let (resolved, event) = reader.read_resolved_event().ok()?;
        let start = match event {
            Event::Start(start) | Event::Empty(start) => start,
            Event::Eof => return None,
            _ => continue,
        };
        let ours = matches!(resolved, ResolveResult::Bound(ns) if ns.as_ref() == CORRELATION_NS)
            && start.local_name().as_ref() == REPLY_TO_ELEMENT;
        if !ours {
            return None;
        }
        let mut address = None;
        let mut parameters = String::new();
        for attribute in start.attributes() {
            let Ok(attribute) = attribute else {
                return Some(None);
            };
            let Ok(value) = attribute.normalized_value(quick_xml::XmlVersion::Implicit1_0) else {
                return Some(None);
            };
            match attribute.key.as_ref() {
                "address" => address = Some(value.into_owned()),
                "parameters" => parameters = value.into_owned(),
                _ => {}
            }
        }
        let Some(address) = address.filter(|a| !a.is_empty()) else {
            return Some(None);
        };
        return Some(
            EndpointReference::from_record(&EndpointRef {
                address,
                reference_parameters: parameters,
            })
            .ok(),
        );
    }
}

async fn handle<R: DurableResource>(shared: Arc<Shared<R>>, request: Request) -> Response {
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
        .map(|epr| {
            peer::keep(
                epr,
                &Peer {
                    soap: message.soap,
                    version: message.version,
                    base: String::new(),
                },
            )
        });
    // Work parked between hosted requests goes to the service first.
    shared.parked.release_for(&branch, &shared.service);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_participant_endpoint_is_kept_with_the_coordinator_and_taken_off() {
        let coordinator = EndpointReference {
            address: "http://c.example/wsat/2pc".into(),
            reference_parameters: vec![r#"<x:Id xmlns:x="urn:x">1</x:Id>"#.into()],
        };
        let own = EndpointReference {
            address: "http://p.example/bank?a=1&b=\"2\"".into(),
            reference_parameters: vec![
                "<y:P xmlns:y=\"urn:y\" v=\"a&amp;b\">\n\tx &lt; y\r\n</y:P>".into(),
            ],
        };
        let mut record = peer::keep(&coordinator, &Peer::default());
        record.reference_parameters.push_str(&reply_to_marker(&own));
        let (mut epr, _) = peer::split(&record).unwrap();
        assert_eq!(take_reply_to(&mut epr), Some(own));
        assert_eq!(epr, coordinator);
    }

    #[test]
    fn an_endpoint_without_the_marker_has_no_reply_to() {
        let mut epr = EndpointReference {
            address: "http://c.example/wsat/2pc".into(),
            reference_parameters: vec![r#"<x:Id xmlns:x="urn:x">1</x:Id>"#.into()],
        };
        let before = epr.clone();
        assert_eq!(take_reply_to(&mut epr), None);
        assert_eq!(epr, before);
    }

    #[test]
    fn an_unreadable_marker_is_dropped_without_a_reply_to() {
        let marker = format!("<ic:{REPLY_TO_ELEMENT} xmlns:ic=\"{CORRELATION_NS}\"/>");
        let mut epr = EndpointReference {
            address: "http://c.example/wsat/2pc".into(),
            reference_parameters: vec![marker],
        };
        assert_eq!(take_reply_to(&mut epr), None);
        assert!(epr.reference_parameters.is_empty());
    }
}
