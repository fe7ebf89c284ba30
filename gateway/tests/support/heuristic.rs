//! A heuristic outcome made on a real `ithaca serve` coordinator (SQLite
//! log): a WS-AT transaction whose durable participant, which had
//! committed on its own, answers `Committed` after the initiator rolled
//! back (`committed-after-rollback`). Shared by the tests that keep and
//! resolve such outcomes, with the admin JSON and `ithaca txn` helpers they
//! check them with.

use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use ithaca_gateway::wsat::client::{BeginOptions, CompletionInitiatorRoute, Outcome, WsatClient};
use ithaca_txn::engine::Protocol;
use ithaca_txn::wire::{
    self, Body, CorrelationKey, EndpointReference, Message, Notification, Register, WireLimits,
    WsTxVersion,
};
use ithaca_wsdl::{Limits, SoapVersion};

use super::TestGateway;
use super::serve_node::ServeNode;

const ITHACA: &str = env!("CARGO_BIN_EXE_ithaca");

/// The coordinator's configuration (after `[server]` and `[storage]`):
/// WS-AT on a SQLite log, nothing else.
pub const CONFIG: &str = "[log]\nfilter = \"warn\"\n\n[membership]\nenabled = false\n\n\
    [sector_status]\nenabled = false\n\n[transfer]\nenabled = false\n\n\
    [bridge.iiop]\nenabled = false\n\n[wsat]\nenabled = true\nstore = \"sqlite\"\n";

/// A participant address nobody listens on: the coordinator's Rollback
/// to it fails, as to a participant that is down.
pub const PARTICIPANT: &str = "http://127.0.0.1:9/participant";

/// Posts `message` to the path of `address` on `node` and reads the
/// answer: the status and the decoded envelope, if any.
pub async fn post(node: &ServeNode, address: &str, message: &Message) -> (u16, Option<Message>) {
    let path = address
        .split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|at| &rest[at..]))
        .unwrap();
    let request = http::Request::post(path)
        .header("host", format!("127.0.0.1:{}", node.port))
        .header("content-type", SoapVersion::Soap11.content_type())
        .header("soapaction", format!("\"{}\"", message.action()))
        .body(Full::new(Bytes::from(message.encode().unwrap())))
        .unwrap();
    let reply = super::http1(format!("127.0.0.1:{}", node.port).parse().unwrap(), request).await;
    let decoded = (!reply.body.is_empty()).then(|| {
        wire::decode(&reply.body, None, &Limits::DEFAULT, &WireLimits::default()).unwrap()
    });
    (reply.status, decoded)
}

/// Registers `participant` (an address) for Durable2PC in the transaction
/// of `context` at its coordinator `node` (WS-AT 1.2, SOAP 1.1), as a
/// scripted participant: the answer is the coordinator protocol endpoint
/// its Prepared, Committed or Aborted go to.
pub async fn register_durable(
    node: &ServeNode,
    context: &wire::CoordinationContext,
    participant: &str,
) -> EndpointReference {
    let version = WsTxVersion::Jun2006;
    let registration = context.registration_service.clone();
    let mut register = Message::to_endpoint(
        SoapVersion::Soap11,
        version,
        &registration,
        Body::Register(Register {
            protocol_identifier: version.protocol_uri(Protocol::Durable2Pc),
            participant_protocol_service: EndpointReference::new(participant),
        }),
    );
    register.addressing.message_id = Some(format!("urn:uuid:register-{}", context.identifier));
    register.addressing.reply_to = Some(EndpointReference::anonymous(version));
    let (status, answer) = post(node, &registration.address, &register).await;
    match answer.map(|m| m.body) {
        Some(Body::RegisterResponse(epr)) => epr,
        other => panic!("{status}: {other:?}"),
    }
}

/// Sends `notification` (Prepared, Committed, …) as the scripted
/// participant registered at `coordinator` (the answer of
/// [`register_durable`]) to the instance `node`, which may be another
/// instance than the one that registered it: the HTTP status and the
/// answer, if any.
pub async fn notify(
    node: &ServeNode,
    coordinator: &EndpointReference,
    notification: Notification,
    reply_to: Option<&str>,
) -> (u16, Option<Message>) {
    let mut message = Message::to_endpoint(
        SoapVersion::Soap11,
        WsTxVersion::Jun2006,
        coordinator,
        Body::Notification(notification),
    );
    message.addressing.message_id = Some(format!(
        "urn:uuid:notify-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    message.addressing.reply_to = reply_to.map(EndpointReference::new);
    post(node, &coordinator.address, &message).await
}

/// `GET /admin/txn{query}` as JSON, with the admin bearer `token` if any.
pub async fn admin(node: &ServeNode, query: &str, token: Option<&str>) -> serde_json::Value {
    let mut request = http::Request::get(format!("/admin/txn{query}")).header("host", "t");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let reply = super::http1(
        format!("127.0.0.1:{}", node.port).parse().unwrap(),
        request.body(Full::new(Bytes::new())).unwrap(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    serde_json::from_slice(&reply.body).unwrap()
}

/// What one `ithaca txn` run produced.
pub struct TxnRun {
    /// Whether it exited 0.
    pub ok: bool,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

/// Runs `ithaca [--config CONFIG] txn ARGS --admin BASE`.
pub fn txn(node: &ServeNode, config: Option<&Path>, args: &[&str]) -> TxnRun {
    let mut command = std::process::Command::new(ITHACA);
    if let Some(config) = config {
        command.arg("--config").arg(config);
    }
    let output = command
        .arg("txn")
        .args(args)
        .arg("--admin")
        .arg(node.base())
        .env_remove("ITHACA_CONFIG")
        .output()
        .unwrap();
    TxnRun {
        ok: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Makes a `committed-after-rollback` outcome on `node` (whose admin
/// token, if it has one, is `token`) and waits until the coordinator has
/// forced it to its log. Returns the transaction id.
pub async fn make_heuristic(node: &ServeNode, token: Option<&str>) -> String {
    let port = ithaca_testkit::free_port().unwrap();
    let initiator = CompletionInitiatorRoute::new(
        CorrelationKey::from_bytes([3; 32]),
        &format!("http://127.0.0.1:{port}"),
        "/initiator",
    );
    let wsat = WsatClient::new(initiator.clone()).unwrap();
    let _initiator = TestGateway::start(initiator.routes(), |config| {
        config.server.listen = format!("127.0.0.1:{port}").parse().unwrap();
        config.membership.enabled = false;
    })
    .await;
    let options = BeginOptions {
        expires: Some(Duration::from_secs(60)),
        request_timeout: Duration::from_secs(10),
        outcome_timeout: Duration::from_secs(10),
        ..BeginOptions::default()
    };
    let transaction = wsat
        .begin(&format!("{}/wsat/activation", node.base()), options)
        .await
        .unwrap();
    let tx = transaction.context().identifier.clone();

    // A durable participant registers.
    let coordinator = register_durable(node, transaction.context(), PARTICIPANT).await;

    // The initiator rolls back; the participant, which had committed on
    // its own, answers Committed.
    assert_eq!(transaction.rollback().await.unwrap(), Outcome::Aborted);
    let (status, _) = notify(node, &coordinator, Notification::Committed, None).await;
    assert_eq!(status, 202);

    // The outcome is forced to the log in the background.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let snapshot = admin(node, "", token).await;
        if snapshot["heuristics"]
            .as_array()
            .is_some_and(|h| h.iter().any(|h| h["tx"] == tx.as_str()))
        {
            return tx;
        }
        assert!(Instant::now() < deadline, "no heuristic kept: {snapshot}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A scripted participant's protocol endpoint that keeps every WS-AT
/// notification it receives (Prepare, Commit, Rollback, …) and answers
/// `202`; keep it alive as long as messages may arrive.
pub struct CapturingParticipant {
    /// Its address (`http://127.0.0.1:PORT/participant`).
    pub address: String,
    /// Each notification with the address of its `wsa:ReplyTo` (who sent
    /// it).
    received: std::sync::Arc<std::sync::Mutex<Vec<(Notification, String)>>>,
    _gateway: TestGateway,
}

impl CapturingParticipant {
    /// Starts it on a free port.
    pub async fn start() -> Self {
        let port = ithaca_testkit::free_port().unwrap();
        let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = received.clone();
        let routes = ithaca_gateway::Router::new().route(
            "/participant",
            "participant",
            move |request: ithaca_gateway::body::Request| {
                let kept = kept.clone();
                async move {
                    let body =
                        ithaca_gateway::body::read_to_bytes(request.into_body(), 64 * 1024).await;
                    if let Ok(body) = body
                        && let Ok(message) =
                            wire::decode(&body, None, &Limits::DEFAULT, &WireLimits::default())
                        && let Body::Notification(notification) = message.body
                    {
                        let from = message
                            .addressing
                            .reply_to
                            .map(|epr| epr.address)
                            .unwrap_or_default();
                        kept.lock().unwrap().push((notification, from));
                    }
                    ithaca_gateway::body::text_response(http::StatusCode::ACCEPTED, "")
                }
            },
        );
        let gateway = TestGateway::start(routes, |config| {
            config.server.listen = format!("127.0.0.1:{port}").parse().unwrap();
            config.membership.enabled = false;
        })
        .await;
        Self {
            address: format!("http://127.0.0.1:{port}/participant"),
            received,
            _gateway: gateway,
        }
    }

    /// How many times `notification` has arrived from the coordinator
    /// at `base` (its `wsa:ReplyTo` starts with it).
    pub fn count_from(&self, notification: Notification, base: &str) -> usize {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|(n, from)| *n == notification && from.starts_with(base))
            .count()
    }

    /// How many times `notification` has arrived without a `wsa:ReplyTo`:
    /// a coordinator's answer about a transaction it does not hold (by
    /// presumed abort, or read from its log).
    pub fn count_unattributed(&self, notification: Notification) -> usize {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|(n, from)| *n == notification && from.is_empty())
            .count()
    }
}
