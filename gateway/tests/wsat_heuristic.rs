//! A heuristic outcome is kept for an operator: a real `ithaca serve`
//! coordinator (SQLite log) rolls a transaction back, and its durable
//! participant, which had committed on its own, answers `Committed`. The
//! operator then finds the outcome (`committed-after-rollback`, the
//! transaction, the participant's number and address) in the admin JSON
//! (`GET /admin/txn`), in `ithaca txn list` and in `ithaca txn show ID`,
//! and still finds it there after the coordinator is `kill -9`ed and
//! started again.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

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
use support::TestGateway;
use support::serve_node::ServeNode;

const ITHACA: &str = env!("CARGO_BIN_EXE_ithaca");

const CONFIG: &str = "[log]\nfilter = \"warn\"\n\n[membership]\nenabled = false\n\n\
    [sector_status]\nenabled = false\n\n[transfer]\nenabled = false\n\n\
    [bridge.iiop]\nenabled = false\n\n[wsat]\nenabled = true\nstore = \"sqlite\"\n";

/// A participant address nobody listens on: the coordinator's Rollback
/// to it fails, as to a participant that is down.
const PARTICIPANT: &str = "http://127.0.0.1:9/participant";

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
    let reply = support::http1(format!("127.0.0.1:{}", node.port).parse().unwrap(), request).await;
    let decoded = (!reply.body.is_empty()).then(|| {
        wire::decode(&reply.body, None, &Limits::DEFAULT, &WireLimits::default()).unwrap()
    });
    (reply.status, decoded)
}

/// `GET /admin/txn` as JSON.
async fn admin(node: &ServeNode) -> serde_json::Value {
    let reply = support::http1(
        format!("127.0.0.1:{}", node.port).parse().unwrap(),
        support::get("/admin/txn"),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    serde_json::from_slice(&reply.body).unwrap()
}

/// Runs `ithaca txn ARGS --admin BASE`: its exit success and stdout.
fn txn(node: &ServeNode, args: &[&str]) -> (bool, String) {
    let output = std::process::Command::new(ITHACA)
        .arg("txn")
        .args(args)
        .arg("--admin")
        .arg(node.base())
        .env_remove("ITHACA_CONFIG")
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

/// What an operator checks: the admin JSON lists the outcome, and both
/// `txn list` and `txn show` print it.
async fn assert_kept(node: &ServeNode, tx: &str) {
    let snapshot = admin(node).await;
    let heuristics = snapshot["heuristics"].as_array().expect("heuristics read");
    assert!(
        heuristics.iter().any(|h| h["tx"] == tx
            && h["kind"] == "committed-after-rollback"
            && h["address"] == PARTICIPANT),
        "{snapshot}"
    );
    let (ok, list) = txn(node, &["list"]);
    assert!(ok, "{list}");
    assert!(
        list.contains("heuristic outcomes") && list.contains(tx),
        "{list}"
    );
    assert!(list.contains("committed-after-rollback"), "{list}");
    let (ok, show) = txn(node, &["show", tx]);
    assert!(ok, "{show}");
    assert!(
        show.contains(&format!("transaction {tx}")) && show.contains("committed-after-rollback"),
        "{show}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_participant_committed_after_rollback_is_kept_for_the_operator_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = ServeNode::new(dir.path(), "coordinator", "bank = []", CONFIG);
    node.start(None).await;
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
    let (status, answer) = post(&node, &registration.address, &register).await;
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
    let (status, _) = post(&node, &coordinator.address, &committed).await;
    assert_eq!(status, 202);

    // The outcome is forced to the log in the background.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let snapshot = admin(&node).await;
        if snapshot["heuristics"]
            .as_array()
            .is_some_and(|h| h.iter().any(|h| h["tx"] == tx.as_str()))
        {
            break;
        }
        assert!(Instant::now() < deadline, "no heuristic kept: {snapshot}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_kept(&node, &tx).await;

    // kill -9 and start again: the log still holds it, though the
    // transaction itself is gone.
    node.kill();
    node.start(None).await;
    let (held, _) = txn(&node, &["show", &tx, "--json"]);
    assert!(!held, "an aborted transaction is not reloaded");
    assert_kept(&node, &tx).await;
}
