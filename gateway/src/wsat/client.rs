//! The initiator's side of WS-AT: begin a transaction at a coordinator,
//! carry its `CoordinationContext` on application calls, and complete it.
//!
//! [`WsatClient::begin`] sends CreateCoordinationContext to the
//! coordinator's Activation service, then registers for the Completion
//! protocol. The Completion initiator needs an endpoint where the
//! coordinator sends the outcome (`Committed` or `Aborted`): the
//! application mounts a [`CompletionInitiatorRoute`] on its gateway (one
//! route, any path), and every registration names that endpoint with a
//! reference parameter signed by the route's key, naming the
//! transaction. When the outcome arrives the route resolves the waiting
//! [`Transaction::commit`] (or [`Transaction::rollback`]); a message whose
//! parameter is missing or forged is refused and resolves nothing.
//!
//! [`Transaction::context_header`] is the context as a self-contained
//! SOAP header block with `mustUnderstand`, and [`Transaction::call`]
//! sends an application request with it through a [`SoapClient`].
//!
//! Spoken: WS-AT 1.2 (2006/06, WS-Addressing 1.0) by default, or WS-AT
//! 1.0 (2004/10, WS-Addressing 2004/08, as WCF/MSDTC and Metro speak it),
//! over SOAP 1.1 or 1.2: [`BeginOptions::version`] and
//! [`BeginOptions::soap`] choose, for the whole transaction (activation,
//! registration, completion and the context header).
//! Bounds: answers are read up to 64 KiB, every exchange has a deadline,
//! and the number of transactions waiting for an outcome is capped
//! ([`CompletionInitiatorRoute::with_max_pending`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use ithaca_txn::engine::Protocol;
use ithaca_txn::record::{ParticipantId, TxId};
use ithaca_txn::wire::{
    self, Body, CoordinationContext, Correlation, CorrelationKey, CreateCoordinationContext,
    EndpointReference, Message, Notification, Register, WireLimits, WsTxVersion,
};
use ithaca_wsdl::{Limits, SoapVersion};
use tokio::sync::oneshot;

use crate::body::{Request, Response, full};
use crate::router::Router;
use crate::soap::client::{ClientError, SoapClient, SoapResponse};
use crate::wsat::sink::soap_post;
use crate::wsat::{new_message_id, plain, read_posted_message};

/// The most of a coordinator's answer (or of an outcome message) read.
const MAX_MESSAGE: usize = 64 * 1024;
/// The default cap on transactions waiting for their outcome.
const DEFAULT_MAX_PENDING: usize = 10_000;

/// Why a transaction could not be begun or completed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WsatClientError {
    /// The coordinator answered with a WS-Coordination or WS-AT fault.
    #[error("the coordinator answered with fault {code}: {reason}")]
    Fault {
        /// The fault's local name (`CannotCreateContext`,
        /// `InvalidState`, `UnknownTransaction`, …).
        code: String,
        /// The fault's reason text.
        reason: String,
    },
    /// The coordinator could not be reached, or its answer not read.
    #[error("the coordinator could not be reached: {0}")]
    Transport(String),
    /// The coordinator's answer is not the message expected.
    #[error("unexpected answer from the coordinator: {0}")]
    Protocol(String),
    /// No outcome arrived before the deadline; the transaction's outcome
    /// is unknown to this client.
    #[error("no outcome from the coordinator within {0:?}")]
    OutcomeTimeout(Duration),
    /// Too many transactions of this client are waiting for an outcome.
    #[error("too many transactions waiting for an outcome (at most {0})")]
    TooManyPending(usize),
}

/// How a transaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every participant committed.
    Committed,
    /// The transaction rolled back.
    Aborted,
}

/// What the initiator endpoint hands to a waiting transaction.
type Delivered = Result<Outcome, WsatClientError>;

struct RouteShared {
    key: CorrelationKey,
    endpoint_url: String,
    path: String,
    max_pending: usize,
    limits: Limits,
    wire: WireLimits,
    pending: Mutex<HashMap<String, oneshot::Sender<Delivered>>>,
}

/// The Completion initiator endpoint an application hosts on its gateway:
/// the coordinator posts each transaction's outcome here. Cheap to clone.
#[derive(Clone)]
pub struct CompletionInitiatorRoute {
    shared: Arc<RouteShared>,
}

impl std::fmt::Debug for CompletionInitiatorRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompletionInitiatorRoute")
            .field("endpoint_url", &self.shared.endpoint_url)
            .finish_non_exhaustive()
    }
}

impl CompletionInitiatorRoute {
    /// An endpoint at `path` on this gateway, reachable by coordinators at
    /// `base_url` (`http://host:port`) plus `path`. `key` signs the
    /// reference parameter naming each transaction (keep it secret).
    pub fn new(key: CorrelationKey, base_url: &str, path: &str) -> Self {
        Self {
            shared: Arc::new(RouteShared {
                key,
                endpoint_url: format!("{}{path}", base_url.trim_end_matches('/')),
                path: path.to_owned(),
                max_pending: DEFAULT_MAX_PENDING,
                limits: Limits {
                    max_size: MAX_MESSAGE,
                    ..Limits::DEFAULT
                },
                wire: WireLimits::default(),
                pending: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The same endpoint allowing at most `max_pending` transactions to
    /// wait for their outcome at once (10 000 by default). Call before
    /// cloning.
    pub fn with_max_pending(self, max_pending: usize) -> Self {
        let shared = Arc::try_unwrap(self.shared).map_or_else(
            |shared| RouteShared {
                key: shared.key.clone(),
                endpoint_url: shared.endpoint_url.clone(),
                path: shared.path.clone(),
                max_pending,
                limits: shared.limits,
                wire: shared.wire,
                pending: Mutex::new(HashMap::new()),
            },
            |mut shared| {
                shared.max_pending = max_pending;
                shared
            },
        );
        Self {
            shared: Arc::new(shared),
        }
    }

    /// The route to mount on the gateway.
    pub fn routes(&self) -> Router {
        let shared = self.shared.clone();
        Router::new().route(
            &self.shared.path,
            "wsat-initiator",
            move |request: Request| handle(shared.clone(), request),
        )
    }

    /// How many transactions are waiting for their outcome.
    pub fn pending(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, oneshot::Sender<Delivered>>> {
        lock(&self.shared)
    }

    /// The endpoint reference registered for the transaction `tx`.
    fn endpoint_for(&self, tx: &str) -> EndpointReference {
        let correlation = Correlation {
            tx: TxId(tx.to_owned()),
            participant: Some((ParticipantId(0), Protocol::Completion)),
        };
        EndpointReference {
            address: self.shared.endpoint_url.clone(),
            reference_parameters: vec![self.shared.key.sign(&correlation)],
        }
    }

    /// Starts waiting for the outcome of `tx`.
    fn wait_for(&self, tx: &str) -> Result<oneshot::Receiver<Delivered>, WsatClientError> {
        let mut pending = self.lock();
        if pending.len() >= self.shared.max_pending && !pending.contains_key(tx) {
            return Err(WsatClientError::TooManyPending(self.shared.max_pending));
        }
        let (sender, receiver) = oneshot::channel();
        pending.insert(tx.to_owned(), sender);
        Ok(receiver)
    }

    fn forget(&self, tx: &str) {
        self.lock().remove(tx);
    }
}

fn lock(
    shared: &RouteShared,
) -> std::sync::MutexGuard<'_, HashMap<String, oneshot::Sender<Delivered>>> {
    // A panic while holding the lock leaves the map consistent (each
    // operation is one insert or remove).
    shared
        .pending
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// How to speak to the coordinator and when to give up on a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BeginOptions {
    /// The WS-Coordination/WS-AT version (default 1.2, `2006/06`).
    pub version: WsTxVersion,
    /// The SOAP version of the messages to the coordinator (default 1.1).
    pub soap: SoapVersion,
    /// The lifetime asked of the coordinator (`wscoor:Expires`); `None`
    /// leaves it to the coordinator.
    pub expires: Option<Duration>,
    /// How long one exchange with the coordinator may take.
    pub request_timeout: Duration,
    /// How long [`Transaction::commit`] and [`Transaction::rollback`]
    /// wait for the outcome.
    pub outcome_timeout: Duration,
}

impl Default for BeginOptions {
    fn default() -> Self {
        Self {
            version: WsTxVersion::Jun2006,
            soap: SoapVersion::Soap11,
            expires: None,
            request_timeout: Duration::from_secs(10),
            outcome_timeout: Duration::from_secs(60),
        }
    }
}

type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Begins WS-AT transactions at a coordinator. Cheap to clone.
#[derive(Clone)]
pub struct WsatClient {
    http: HttpClient,
    initiator: CompletionInitiatorRoute,
}

impl std::fmt::Debug for WsatClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsatClient")
            .field("initiator", &self.initiator)
            .finish_non_exhaustive()
    }
}

impl WsatClient {
    /// A client whose outcomes arrive at `initiator` (mount its
    /// [`routes`](CompletionInitiatorRoute::routes) on the gateway).
    /// `https://` coordinators are checked against Mozilla's roots.
    pub fn new(initiator: CompletionInitiatorRoute) -> Result<Self, WsatClientError> {
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        http.enforce_http(false);
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| WsatClientError::Transport(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(config)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Ok(Self {
            http: Client::builder(TokioExecutor::new()).build(connector),
            initiator,
        })
    }

    /// Begins a transaction at the Activation service `activation_url`
    /// (CreateCoordinationContext) and registers this client for its
    /// Completion protocol.
    pub async fn begin(
        &self,
        activation_url: &str,
        options: BeginOptions,
    ) -> Result<Transaction, WsatClientError> {
        let expires = options
            .expires
            .map(|d| u32::try_from(d.as_millis()).unwrap_or(u32::MAX));
        let version = options.version;
        let mut create = Message::new(
            options.soap,
            version,
            Body::CreateCoordinationContext(CreateCoordinationContext {
                expires,
                current_context: None,
                coordination_type: version.wsat().to_owned(),
            }),
        );
        create.addressing.to = Some(activation_url.to_owned());
        create.addressing.message_id = Some(new_message_id());
        create.addressing.reply_to = Some(EndpointReference::anonymous(version));
        let context = match self
            .exchange(activation_url, &create, options.request_timeout)
            .await?
        {
            Some(Body::CreateCoordinationContextResponse(context)) => context,
            other => {
                return Err(unexpected(
                    "CreateCoordinationContextResponse",
                    other,
                    version,
                ));
            }
        };
        let receiver = self.initiator.wait_for(&context.identifier)?;
        // From here on the waiting entry is removed on every path: the
        // Transaction's Drop does it once built.
        let mut transaction = Transaction {
            client: self.clone(),
            context,
            completion: EndpointReference::default(),
            outcome: Some(receiver),
            options,
        };
        let mut register = Message::to_endpoint(
            options.soap,
            version,
            &transaction.context.registration_service,
            Body::Register(Register {
                protocol_identifier: version.protocol_uri(Protocol::Completion),
                participant_protocol_service: self
                    .initiator
                    .endpoint_for(&transaction.context.identifier),
            }),
        );
        register.addressing.message_id = Some(new_message_id());
        register.addressing.reply_to = Some(EndpointReference::anonymous(version));
        let address = transaction.context.registration_service.address.clone();
        transaction.completion = match self
            .exchange(&address, &register, options.request_timeout)
            .await?
        {
            Some(Body::RegisterResponse(completion)) => completion,
            other => return Err(unexpected("RegisterResponse", other, version)),
        };
        Ok(transaction)
    }

    /// Asks the coordinator at `activation_url` for a context subordinate
    /// to `superior` (CreateCoordinationContext with `CurrentContext`,
    /// interposition): that coordinator registers with `superior`'s
    /// RegistrationService for Durable2PC before it answers, and its own
    /// participants (services called with the returned context) then
    /// follow `superior`'s outcome. The transaction is still completed
    /// through the superior's [`Transaction`].
    pub async fn interpose(
        &self,
        activation_url: &str,
        superior: &CoordinationContext,
        options: BeginOptions,
    ) -> Result<CoordinationContext, WsatClientError> {
        let version =
            WsTxVersion::from_namespace(&superior.coordination_type).unwrap_or(options.version);
        let expires = options
            .expires
            .map(|d| u32::try_from(d.as_millis()).unwrap_or(u32::MAX));
        let mut create = Message::new(
            options.soap,
            version,
            Body::CreateCoordinationContext(CreateCoordinationContext {
                expires,
                current_context: Some(superior.clone()),
                coordination_type: version.wsat().to_owned(),
            }),
        );
        create.addressing.to = Some(activation_url.to_owned());
        create.addressing.message_id = Some(new_message_id());
        create.addressing.reply_to = Some(EndpointReference::anonymous(version));
        match self
            .exchange(activation_url, &create, options.request_timeout)
            .await?
        {
            Some(Body::CreateCoordinationContextResponse(context)) => Ok(context),
            other => Err(unexpected(
                "CreateCoordinationContextResponse",
                other,
                version,
            )),
        }
    }

    /// Posts `message` to `address` and reads the answer: `None` for an
    /// empty `2xx` (a one-way message accepted), a fault as
    /// [`WsatClientError::Fault`].
    async fn exchange(
        &self,
        address: &str,
        message: &Message,
        timeout: Duration,
    ) -> Result<Option<Body>, WsatClientError> {
        let transport = WsatClientError::Transport;
        let uri: http::Uri = address
            .parse()
            .map_err(|_| transport(format!("not a URL: {address}")))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(transport(format!("not an http(s) address: {address}")));
        }
        let xml = message
            .encode()
            .map_err(|e| WsatClientError::Protocol(format!("cannot write the message: {e}")))?;
        let request = soap_post(uri, message.soap, &message.action(), xml)
            .map_err(|e| transport(e.to_string()))?;
        let exchange = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|e| transport(format!("{address}: {e}")))?;
            let status = response.status();
            let body = http_body_util::Limited::new(response.into_body(), MAX_MESSAGE)
                .collect()
                .await
                .map_err(|e| transport(format!("{address}: {e}")))?
                .to_bytes();
            Ok::<_, WsatClientError>((status, body))
        };
        let (status, body) = tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| transport(format!("no answer from {address} within {timeout:?}")))??;
        if body.is_empty() {
            return if status.is_success() {
                Ok(None)
            } else {
                Err(transport(format!("{address} answered {status}")))
            };
        }
        let limits = Limits {
            max_size: MAX_MESSAGE,
            ..Limits::DEFAULT
        };
        match wire::decode(&body, None, &limits, &WireLimits::default()) {
            Ok(Message {
                body: Body::Fault(fault),
                ..
            }) => Err(WsatClientError::Fault {
                code: fault.kind.local_name().to_owned(),
                reason: fault.reason,
            }),
            Ok(answer) => Ok(Some(answer.body)),
            Err(error) => Err(WsatClientError::Protocol(format!(
                "{address} answered {status} with no WS-Coordination message: {error}"
            ))),
        }
    }
}

fn unexpected(expected: &str, got: Option<Body>, version: WsTxVersion) -> WsatClientError {
    let got = match got {
        None => "an empty answer".to_owned(),
        Some(body) => format!("a {}", body.action(version)),
    };
    WsatClientError::Protocol(format!("expected a {expected}, got {got}"))
}

/// One transaction begun by this client: its context for the application
/// calls, and its completion. Dropping it without completing leaves the
/// transaction to the coordinator (it rolls back at `Expires`).
#[derive(Debug)]
pub struct Transaction {
    client: WsatClient,
    context: CoordinationContext,
    completion: EndpointReference,
    outcome: Option<oneshot::Receiver<Delivered>>,
    options: BeginOptions,
}

impl Transaction {
    /// The transaction's `CoordinationContext`.
    pub fn context(&self) -> &CoordinationContext {
        &self.context
    }

    /// The context as a SOAP header block of `soap`'s envelope, marked
    /// `mustUnderstand`, binding every namespace it uses.
    pub fn context_header(&self, soap: SoapVersion) -> Vec<u8> {
        context_header(&self.context, soap)
    }

    /// Calls an application operation through `client` with the context
    /// header added to `headers`, so the service can enlist.
    pub async fn call(
        &self,
        client: &SoapClient,
        action: Option<&str>,
        headers: &[Vec<u8>],
        body: &[u8],
    ) -> Result<SoapResponse, ClientError> {
        let mut all = Vec::with_capacity(headers.len() + 1);
        all.push(self.context_header(client.version()));
        all.extend(headers.iter().cloned());
        client.call_with_headers(action, &all, body).await
    }

    /// Asks the coordinator to commit and waits (up to
    /// [`BeginOptions::outcome_timeout`]) for the outcome: `Committed`, or
    /// `Aborted` when a participant could not prepare.
    pub async fn commit(self) -> Result<Outcome, WsatClientError> {
        self.complete(Notification::Commit).await
    }

    /// Asks the coordinator to roll back and waits for its `Aborted`.
    pub async fn rollback(self) -> Result<Outcome, WsatClientError> {
        self.complete(Notification::Rollback).await
    }

    async fn complete(mut self, notification: Notification) -> Result<Outcome, WsatClientError> {
        let version = self.options.version;
        let mut message = Message::to_endpoint(
            self.options.soap,
            version,
            &self.completion,
            Body::Notification(notification),
        );
        message.addressing.message_id = Some(new_message_id());
        message.addressing.reply_to =
            Some(self.client.initiator.endpoint_for(&self.context.identifier));
        match self
            .client
            .exchange(
                &self.completion.address,
                &message,
                self.options.request_timeout,
            )
            .await?
        {
            None => {}
            Some(Body::Notification(Notification::Committed)) => return Ok(Outcome::Committed),
            Some(Body::Notification(Notification::Aborted)) => return Ok(Outcome::Aborted),
            other => return Err(unexpected("202 Accepted", other, version)),
        }
        let Some(receiver) = self.outcome.take() else {
            return Err(WsatClientError::Protocol(
                "the outcome was already taken".to_owned(),
            ));
        };
        let timeout = self.options.outcome_timeout;
        match tokio::time::timeout(timeout, receiver).await {
            Ok(Ok(delivered)) => delivered,
            Ok(Err(_)) => Err(WsatClientError::Protocol(
                "the initiator endpoint stopped waiting".to_owned(),
            )),
            Err(_) => Err(WsatClientError::OutcomeTimeout(timeout)),
        }
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        self.client.initiator.forget(&self.context.identifier);
    }
}

/// Writes `context` as a self-contained header block, in the
/// WS-Coordination version its coordination type names.
/// The `wscoor:CoordinationContext` SOAP header block for `context`
/// (`mustUnderstand="1"`), to call a transactional service with a context
/// that did not come from [`WsatClient::begin`] (one from
/// [`WsatClient::interpose`], say).
pub fn context_header(context: &CoordinationContext, soap: SoapVersion) -> Vec<u8> {
    let version =
        WsTxVersion::from_namespace(&context.coordination_type).unwrap_or(WsTxVersion::Jun2006);
    let mut out = String::with_capacity(512);
    out.push_str("<wscoor:CoordinationContext");
    push_attribute(&mut out, "xmlns:wscoor", version.wscoor());
    push_attribute(&mut out, "xmlns:wsa", version.wsa());
    push_attribute(&mut out, "xmlns:soap", soap.namespace());
    out.push_str(r#" soap:mustUnderstand="1">"#);
    push_text_element(&mut out, "wscoor:Identifier", &context.identifier);
    if let Some(expires) = context.expires {
        push_text_element(&mut out, "wscoor:Expires", &expires.to_string());
    }
    push_text_element(
        &mut out,
        "wscoor:CoordinationType",
        &context.coordination_type,
    );
    out.push_str("<wscoor:RegistrationService>");
    push_text_element(
        &mut out,
        "wsa:Address",
        &context.registration_service.address,
    );
    if !context.registration_service.reference_parameters.is_empty() {
        out.push_str("<wsa:ReferenceParameters>");
        for parameter in &context.registration_service.reference_parameters {
            out.push_str(parameter);
        }
        out.push_str("</wsa:ReferenceParameters>");
    }
    out.push_str("</wscoor:RegistrationService>");
    for extension in &context.extensions {
        out.push_str(extension);
    }
    out.push_str("</wscoor:CoordinationContext>");
    out.into_bytes()
}

fn push_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
}

fn push_attribute(out: &mut String, name: &str, value: &str) {
    out.push(' ');
    out.push_str(name);
    out.push_str("=\"");
    push_escaped(out, value);
    out.push('"');
}

fn push_text_element(out: &mut String, name: &str, text: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    push_escaped(out, text);
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// The initiator endpoint: an outcome (or a fault) for a transaction
/// named by a genuine reference parameter resolves its waiting commit.
async fn handle(shared: Arc<RouteShared>, request: Request) -> Response {
    let message = match read_posted_message(request, &shared.limits, &shared.wire).await {
        Ok(message) => message,
        Err(refusal) => return refusal,
    };
    let Ok(Correlation {
        tx,
        participant: Some((_, Protocol::Completion)),
    }) = shared.key.verify(&message.reference_parameters)
    else {
        return plain(
            StatusCode::BAD_REQUEST,
            "InvalidParameters: the initiator reference parameter is missing or forged",
        );
    };
    let delivered = match message.body {
        Body::Notification(Notification::Committed) => Ok(Outcome::Committed),
        Body::Notification(Notification::Aborted) => Ok(Outcome::Aborted),
        Body::Fault(fault) => Err(WsatClientError::Fault {
            code: fault.kind.local_name().to_owned(),
            reason: fault.reason,
        }),
        _ => {
            return plain(
                StatusCode::BAD_REQUEST,
                "InvalidParameters: not a message for a Completion initiator",
            );
        }
    };
    // Nobody waiting (the transaction was dropped, or the outcome came
    // twice): accepted all the same, so the coordinator stops resending.
    if let Some(waiting) = lock(&shared).remove(&tx.0) {
        let _ = waiting.send(delivered);
    }
    let mut response = Response::new(full(Bytes::new()));
    *response.status_mut() = StatusCode::ACCEPTED;
    response
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sample_context(version: WsTxVersion) -> CoordinationContext {
        CoordinationContext {
            identifier: "urn:uuid:tx-1&<2>".to_owned(),
            expires: Some(30_000),
            coordination_type: version.wsat().to_owned(),
            registration_service: EndpointReference {
                address: "http://coordinator.example/wsat/registration".to_owned(),
                reference_parameters: vec![
                    r#"<i:Tx xmlns:i="urn:ithaca:test">abc</i:Tx>"#.to_owned(),
                ],
            },
            extensions: Vec::new(),
        }
    }

    /// The header block, spliced into an envelope, reads back as the
    /// same context through the project's WS-Coordination reader, in
    /// both WS-Coordination versions and both SOAP versions.
    #[test]
    fn the_context_header_reads_back_as_the_same_context() {
        for version in WsTxVersion::ALL {
            for soap in [SoapVersion::Soap11, SoapVersion::Soap12] {
                let context = sample_context(version);
                let message = Message::new(soap, version, Body::Notification(Notification::Commit));
                let xml = String::from_utf8(message.encode().unwrap()).unwrap();
                let header = String::from_utf8(context_header(&context, soap)).unwrap();
                assert!(header.contains(r#"soap:mustUnderstand="1""#));
                assert!(header.contains(version.wscoor()));
                let spliced = xml.replacen("<s:Header>", &format!("<s:Header>{header}"), 1);
                let read = wire::decode(
                    spliced.as_bytes(),
                    None,
                    &Limits::default(),
                    &WireLimits::default(),
                )
                .unwrap();
                assert_eq!(read.context, Some(context));
            }
        }
    }

    #[test]
    fn waiting_transactions_are_capped_and_forgotten() {
        let route = CompletionInitiatorRoute::new(
            CorrelationKey::from_bytes([1; 32]),
            "http://127.0.0.1:1",
            "/initiator",
        )
        .with_max_pending(1);
        let _first = route.wait_for("urn:a").unwrap();
        assert!(matches!(
            route.wait_for("urn:b"),
            Err(WsatClientError::TooManyPending(1))
        ));
        route.forget("urn:a");
        assert_eq!(route.pending(), 0);
        assert!(route.wait_for("urn:b").is_ok());
    }
}
