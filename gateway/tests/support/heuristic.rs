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
async fn post(node: &ServeNode, address: &str, message: &Message) -> (u16, Option<Message>) {
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
    let version = WsTxVersion::Jun2006;
    let registration = transaction.context().registration_service.clone();
    let mut register = Message::to_endpoint(
        SoapVersion::Soap11,
        version,
        &registration,
        Body::Register(Register {
            protocol_identifier: version.protocol_uri(Protocol::Durable2Pc),
            participant_protocol_service: EndpointReference::new(PARTICIPANT),
        }),
    );
    register.addressing.message_id = Some("urn:uuid:heuristic-register".to_owned());
    register.addressing.reply_to = Some(EndpointReference::anonymous(version));
    let (status, answer) = post(node, &registration.address, &register).await;
    let coordinator = match answer.map(|m| m.body) {
        Some(Body::RegisterResponse(epr)) => epr,
        other => panic!("{status}: {other:?}"),
    };

    // The initiator rolls back; the participant, which had committed on
    // its own, answers Committed.
    assert_eq!(transaction.rollback().await.unwrap(), Outcome::Aborted);
    let mut committed = Message::to_endpoint(
        SoapVersion::Soap11,
        version,
        &coordinator,
        Body::Notification(Notification::Committed),
    );
    committed.addressing.message_id = Some("urn:uuid:heuristic-committed".to_owned());
    let (status, _) = post(node, &coordinator.address, &committed).await;
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
