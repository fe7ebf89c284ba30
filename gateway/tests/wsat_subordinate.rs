//! Interposition across two real `ithaca serve` coordinators: a superior
//! (coordinator plus bank-a, SQLite) and a subordinate (coordinator plus
//! bank-b, SQLite). A transfer begins at the superior with the library's
//! `WsatClient`, asks the subordinate for a context under it
//! (`WsatClient::interpose`: CreateCoordinationContext with
//! `CurrentContext`), debits bank-a with the superior's context and
//! credits bank-b with the subordinate's, then completes at the superior.
//!
//! What a user checks, reading both banks' SQLite files and the
//! coordinators' admin JSON: a committed transfer is in both journals, a
//! rolled-back one in neither, nothing stays prepared, and a subordinate
//! `kill -9`ed right after its prepared record was written
//! (`subordinate.after_prepared_write`) follows the superior's outcome
//! after restart, commit or rollback, never deciding alone. A heuristic
//! outcome under the subordinate (its participant rolled back on its own
//! although the superior committed) is kept by both coordinators. An
//! activation whose superior cannot be reached is refused with
//! CannotCreateContext.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use ithaca_gateway::soap::client::SoapClient;
use ithaca_gateway::wsat::client::{
    BeginOptions, Outcome, Transaction, WsatClient, context_header,
};
use ithaca_services::bank::{self, message};
use ithaca_txn::engine::Protocol;
use ithaca_txn::failpoint;
use ithaca_txn::wire::{
    self, Body, CoordinationContext, EndpointReference, Message, Notification, Register,
    WireLimits, WsTxVersion,
};
use ithaca_wsdl::{Limits, SoapVersion};
use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use support::TestGateway;
use support::serve_node::ServeNode;
use support::transfer_client::{Initiator, service_client};

const ACCOUNTS: u32 = 4;
const OPENING: i64 = 10_000;
/// How long everything may take to settle.
const SETTLE: Duration = Duration::from_secs(40);

const QUIET: &str = "[log]\nfilter = \"warn\"\n\n[membership]\nenabled = false\n\n\
    [sector_status]\nenabled = false\n\n[transfer]\nenabled = false\n\n\
    [bridge.iiop]\nenabled = false\n";

/// A coordinator on its SQLite log with one SQLite bank.
fn node(dir: &Path, name: &'static str, bank: &str) -> ServeNode {
    ServeNode::new(
        dir,
        name,
        "",
        &format!(
            "{QUIET}\n[wsat]\nenabled = true\nstore = \"sqlite\"\n\n\
             [[bank]]\nname = \"{bank}\"\nstore = \"sqlite\"\nopen_accounts = {ACCOUNTS}\n\
             opening_balance = {OPENING}\n"
        ),
    )
}

struct World {
    superior: ServeNode,
    subordinate: ServeNode,
    wsat: WsatClient,
    bank_a: SoapClient,
    bank_b: SoapClient,
    /// The WS-TX version transactions begin in.
    version: WsTxVersion,
    _initiator: TestGateway,
    _dir: tempfile::TempDir,
}

impl World {
    async fn start(subordinate_fp: Option<&str>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut superior = node(dir.path(), "superior", "bank-a");
        let mut subordinate = node(dir.path(), "subordinate", "bank-b");
        superior.start(None).await;
        subordinate.start(subordinate_fp).await;
        let Initiator { wsat, gateway } = Initiator::start(9).await;
        let soap =
            |node: &ServeNode, name: &str| service_client(node, name, Duration::from_secs(10));
        Self {
            bank_a: soap(&superior, "bank-a"),
            bank_b: soap(&subordinate, "bank-b"),
            superior,
            subordinate,
            wsat,
            version: WsTxVersion::Jun2006,
            _initiator: gateway,
            _dir: dir,
        }
    }

    fn options(&self, expires: Duration) -> BeginOptions {
        BeginOptions {
            expires: Some(expires),
            request_timeout: Duration::from_secs(10),
            outcome_timeout: Duration::from_secs(60),
            version: self.version,
            ..BeginOptions::default()
        }
    }

    /// Begins at the superior, interposes the subordinate, debits bank-a
    /// (superior's context) and credits bank-b (subordinate's context).
    async fn transfer(
        &self,
        from: u32,
        to: u32,
        amount: i64,
        expires: Duration,
    ) -> (Transaction, CoordinationContext) {
        let options = self.options(expires);
        let activation = format!("{}/wsat/activation", self.superior.base());
        let transaction = self.wsat.begin(&activation, options).await.unwrap();
        let sub_activation = format!("{}/wsat/activation", self.subordinate.base());
        let sub = self
            .wsat
            .interpose(&sub_activation, transaction.context(), options)
            .await
            .unwrap();
        assert_ne!(sub.identifier, transaction.context().identifier);
        assert!(
            sub.registration_service
                .address
                .starts_with(&self.subordinate.base()),
            "the subordinate's context names its own registration service: {sub:?}"
        );
        let debit = message::debit_request(&from.to_string(), amount);
        transaction
            .call(
                &self.bank_a,
                Some(&bank::soap_action(bank::operation::DEBIT)),
                &[],
                &debit,
            )
            .await
            .unwrap();
        let credit = message::credit_request(&to.to_string(), amount);
        self.bank_b
            .call_with_headers(
                Some(&bank::soap_action(bank::operation::CREDIT)),
                &[context_header(&sub, SoapVersion::Soap11)],
                &credit,
            )
            .await
            .unwrap();
        (transaction, sub)
    }

    /// Waits until neither bank holds a prepared record and neither
    /// coordinator a logged record.
    async fn settled(&self) {
        let deadline = Instant::now() + SETTLE;
        loop {
            let a = count(&bank_file(&self.superior, "bank-a"), PREPARED).await;
            let b = count(&bank_file(&self.subordinate, "bank-b"), PREPARED).await;
            let s = count(&self.subordinate.data.join("wsat.sqlite3"), DECISIONS).await;
            if a == Some(0) && b == Some(0) && s == Some(0) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "not settled after {SETTLE:?}: bank-a prepared {a:?}, bank-b prepared {b:?}, \
                 subordinate records {s:?}\nsuperior:\n{}\nsubordinate:\n{}",
                self.superior.log_tail(),
                self.subordinate.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

const PREPARED: &str = "SELECT count(*) FROM ithaca_wsat_prepared WHERE state = 'prepared'";
const DECISIONS: &str = "SELECT count(*) FROM wsat_decision";

fn bank_file(node: &ServeNode, bank: &str) -> PathBuf {
    node.data.join(format!("bank-{bank}.sqlite"))
}

async fn count(file: &Path, query: &'static str) -> Option<i64> {
    let mut connection =
        SqliteConnection::connect_with(&SqliteConnectOptions::new().filename(file))
            .await
            .ok()?;
    sqlx::query_scalar(query)
        .fetch_one(&mut connection)
        .await
        .ok()
}

/// The journal: transaction -> net movement.
async fn journal(file: &Path) -> HashMap<String, i64> {
    let mut connection =
        SqliteConnection::connect_with(&SqliteConnectOptions::new().filename(file))
            .await
            .unwrap();
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT tx, sum(delta) FROM bank_journal GROUP BY tx")
            .fetch_all(&mut connection)
            .await
            .unwrap();
    rows.into_iter().collect()
}

/// `GET /admin/txn` of a node, as JSON.
async fn admin(node: &ServeNode) -> serde_json::Value {
    let address = format!("127.0.0.1:{}", node.port).parse().unwrap();
    let reply = support::http1(address, support::get("/admin/txn")).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    serde_json::from_slice(&reply.body).unwrap()
}

/// Checks what both banks hold for the transfer of `amount` under the
/// superior transaction `tx` and the subordinate one `sub`.
async fn assert_applied(world: &World, tx: &str, sub: &str, amount: i64, committed: bool) {
    let a = journal(&bank_file(&world.superior, "bank-a")).await;
    let b = journal(&bank_file(&world.subordinate, "bank-b")).await;
    if committed {
        assert_eq!(a.get(tx), Some(&-amount), "bank-a: {a:?}");
        assert_eq!(b.get(sub), Some(&amount), "bank-b: {b:?}");
    } else {
        assert!(!a.contains_key(tx), "bank-a applied a rolled-back debit");
        assert!(!b.contains_key(sub), "bank-b applied a rolled-back credit");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_through_a_subordinate_commits_in_both_banks_and_a_rollback_in_neither() {
    let world = World::start(None).await;

    let (transaction, sub) = world.transfer(1, 2, 700, Duration::from_secs(60)).await;
    let tx = transaction.context().identifier.clone();
    // While it is active, the subordinate shows its superior.
    let snapshot = admin(&world.subordinate).await;
    let held = snapshot["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == sub.identifier.as_str())
        .cloned()
        .expect("the subordinate transaction is listed");
    assert!(
        held["superior"]
            .as_str()
            .unwrap()
            .starts_with(&world.superior.base()),
        "{held}"
    );
    assert_eq!(transaction.commit().await.unwrap(), Outcome::Committed);
    world.settled().await;
    assert_applied(&world, &tx, &sub.identifier, 700, true).await;

    let (transaction, sub) = world.transfer(3, 4, 900, Duration::from_secs(60)).await;
    let tx = transaction.context().identifier.clone();
    assert_eq!(transaction.rollback().await.unwrap(), Outcome::Aborted);
    world.settled().await;
    assert_applied(&world, &tx, &sub.identifier, 900, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subordinate_killed_after_its_prepared_write_commits_when_the_superior_did() {
    killed_after_the_prepared_write_then_committed(WsTxVersion::Jun2006).await;
}

/// The same under WS-AT 1.0 (2004/10): the recovered subordinate says
/// `Replay`, which the superior takes as Prepared.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ws_at_1_0_subordinate_killed_after_its_prepared_write_replays_and_commits() {
    killed_after_the_prepared_write_then_committed(WsTxVersion::Oct2004).await;
}

async fn killed_after_the_prepared_write_then_committed(version: WsTxVersion) {
    let mut world = World::start(Some(failpoint::SUBORDINATE_AFTER_PREPARED_WRITE)).await;
    world.version = version;
    let (transaction, sub) = world.transfer(1, 1, 1_200, Duration::from_secs(60)).await;
    assert_eq!(sub.coordination_type, version.wsat());
    let tx = transaction.context().identifier.clone();
    let commit = tokio::spawn(transaction.commit());
    world.subordinate.killed_by_failpoint().await;
    // Its prepared record, naming the superior, is on disk, and bank-b
    // is prepared under it.
    let records = world.subordinate.data.join("wsat.sqlite3");
    assert_eq!(count(&records, DECISIONS).await, Some(1));
    assert_eq!(
        count(&bank_file(&world.subordinate, "bank-b"), PREPARED).await,
        Some(1)
    );
    world.subordinate.start(None).await;
    // After restart it tells the superior Prepared again, the superior
    // decides, and its Commit reaches bank-b through the subordinate.
    assert_eq!(commit.await.unwrap().unwrap(), Outcome::Committed);
    world.settled().await;
    assert_applied(&world, &tx, &sub.identifier, 1_200, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subordinate_killed_after_its_prepared_write_rolls_back_when_the_superior_did() {
    let mut world = World::start(Some(failpoint::SUBORDINATE_AFTER_PREPARED_WRITE)).await;
    // The superior's transaction expires while the subordinate is down:
    // the superior rolls back.
    let expires = Duration::from_secs(8);
    let (transaction, sub) = world.transfer(2, 3, 800, expires).await;
    let tx = transaction.context().identifier.clone();
    let commit = tokio::spawn(transaction.commit());
    world.subordinate.killed_by_failpoint().await;
    assert_eq!(commit.await.unwrap().unwrap(), Outcome::Aborted);
    // Still prepared on disk: nobody but the superior may decide.
    assert_eq!(
        count(&bank_file(&world.subordinate, "bank-b"), PREPARED).await,
        Some(1)
    );
    world.subordinate.start(None).await;
    world.settled().await;
    assert_applied(&world, &tx, &sub.identifier, 800, false).await;
}

/// A participant address nobody listens on: the subordinate's Prepare
/// and Commit to it fail, and the test answers in its place.
const SILENT: &str = "http://127.0.0.1:9/participant";

/// Posts `message` to `address` (a path on `node`) and reads the answer.
async fn post(node: &ServeNode, address: &str, message: &Message) -> (u16, Option<Message>) {
    let path = address
        .split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|at| &rest[at..]))
        .unwrap();
    let request = http::Request::post(path)
        .header("host", format!("127.0.0.1:{}", node.port))
        .header("content-type", SoapVersion::Soap11.content_type())
        .body(Full::new(Bytes::from(message.encode().unwrap())))
        .unwrap();
    let reply = support::http1(format!("127.0.0.1:{}", node.port).parse().unwrap(), request).await;
    let decoded = (!reply.body.is_empty()).then(|| {
        wire::decode(&reply.body, None, &Limits::DEFAULT, &WireLimits::default()).unwrap()
    });
    (reply.status, decoded)
}

/// Waits until the subordinate shows its participant `id` of `tx` in
/// `state`.
async fn participant_reaches(node: &ServeNode, tx: &str, state: &str) {
    let deadline = Instant::now() + SETTLE;
    loop {
        let snapshot = admin(node).await;
        let reached = snapshot["transactions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|t| t["id"] == tx)
            .flat_map(|t| t["participants"].as_array().cloned().unwrap_or_default())
            .any(|p| p["address"] == SILENT && p["state"] == state);
        if reached {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the participant never reached {state}: {snapshot}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until `node`'s admin JSON keeps a heuristic outcome of `tx` of
/// `kind`, and returns it.
async fn heuristic_kept(node: &ServeNode, tx: &str, kind: &str) -> serde_json::Value {
    let deadline = Instant::now() + SETTLE;
    loop {
        let snapshot = admin(node).await;
        if let Some(found) = snapshot["heuristics"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|h| h["tx"] == tx && h["kind"] == kind)
        {
            return found.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no {kind} outcome of {tx} kept: {snapshot}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A participant of the subordinate rolls back on its own although the
/// superior committed: the subordinate keeps `aborted-after-commit` for
/// its operator and tells the superior InconsistentInternalState instead
/// of Committed, so the superior's operator finds it too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heuristic_under_a_subordinate_is_kept_by_both_coordinators() {
    let world = World::start(None).await;
    let options = world.options(Duration::from_secs(60));
    let activation = format!("{}/wsat/activation", world.superior.base());
    let transaction = world.wsat.begin(&activation, options).await.unwrap();
    let tx = transaction.context().identifier.clone();
    let sub_activation = format!("{}/wsat/activation", world.subordinate.base());
    let sub = world
        .wsat
        .interpose(&sub_activation, transaction.context(), options)
        .await
        .unwrap();
    transaction
        .call(
            &world.bank_a,
            Some(&bank::soap_action(bank::operation::DEBIT)),
            &[],
            &message::debit_request("1", 300),
        )
        .await
        .unwrap();
    // A durable participant registers at the subordinate.
    let version = WsTxVersion::Jun2006;
    let mut register = Message::to_endpoint(
        SoapVersion::Soap11,
        version,
        &sub.registration_service,
        Body::Register(Register {
            protocol_identifier: version.protocol_uri(Protocol::Durable2Pc),
            participant_protocol_service: EndpointReference::new(SILENT),
        }),
    );
    register.addressing.message_id = Some("urn:uuid:sub-heuristic-register".to_owned());
    register.addressing.reply_to = Some(EndpointReference::anonymous(version));
    let (status, answer) = post(
        &world.subordinate,
        &sub.registration_service.address,
        &register,
    )
    .await;
    let coordinator = match answer.map(|m| m.body) {
        Some(Body::RegisterResponse(epr)) => epr,
        other => panic!("{status}: {other:?}"),
    };
    let say = |notification: Notification, id: &str| {
        let mut message = Message::to_endpoint(
            SoapVersion::Soap11,
            version,
            &coordinator,
            Body::Notification(notification),
        );
        message.addressing.message_id = Some(format!("urn:uuid:sub-heuristic-{id}"));
        message
    };

    let commit = tokio::spawn(transaction.commit());
    // The superior's Prepare reached the subordinate, which asked its
    // participant: it votes Prepared.
    participant_reaches(&world.subordinate, &sub.identifier, "preparing").await;
    let (status, _) = post(
        &world.subordinate,
        &coordinator.address,
        &say(Notification::Prepared, "prepared"),
    )
    .await;
    assert_eq!(status, 202);
    assert_eq!(commit.await.unwrap().unwrap(), Outcome::Committed);
    // The Commit reached the subordinate; the participant had rolled back.
    participant_reaches(&world.subordinate, &sub.identifier, "committing").await;
    let (status, _) = post(
        &world.subordinate,
        &coordinator.address,
        &say(Notification::Aborted, "aborted"),
    )
    .await;
    assert_eq!(status, 202);

    let kept = heuristic_kept(&world.subordinate, &sub.identifier, "aborted-after-commit").await;
    assert_eq!(kept["address"], SILENT);
    let kept = heuristic_kept(&world.superior, &tx, "inconsistent-internal-state").await;
    assert!(
        kept["address"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/wsat/subordinate", world.subordinate.base())),
        "{kept}"
    );
    // Everything else finished: bank-a committed its debit.
    world.settled().await;
    let a = journal(&bank_file(&world.superior, "bank-a")).await;
    assert_eq!(a.get(&tx), Some(&-300), "bank-a: {a:?}");
}

/// Sends a CreateCoordinationContext with `current` as CurrentContext to
/// an in-process coordinator and reads the fault it must answer.
async fn refused_activation(
    gateway: &TestGateway,
    current: CoordinationContext,
) -> ithaca_txn::wire::WireFault {
    let version = WsTxVersion::Jun2006;
    let mut create = Message::new(
        SoapVersion::Soap11,
        version,
        Body::CreateCoordinationContext(ithaca_txn::wire::CreateCoordinationContext {
            expires: Some(30_000),
            current_context: Some(current),
            coordination_type: version.wsat().to_owned(),
        }),
    );
    create.addressing.message_id = Some("urn:uuid:refused-interposition".to_owned());
    create.addressing.reply_to = Some(EndpointReference::anonymous(version));
    let request = http::Request::post("/wsat/activation")
        .header("host", gateway.addr().to_string())
        .header("content-type", SoapVersion::Soap11.content_type())
        .body(Full::new(Bytes::from(create.encode().unwrap())))
        .unwrap();
    let reply = support::http1(gateway.addr(), request).await;
    assert_eq!(reply.status, 500, "{}", reply.text());
    match wire::decode(&reply.body, None, &Limits::DEFAULT, &WireLimits::default())
        .unwrap()
        .body
    {
        Body::Fault(fault) => fault,
        other => panic!("expected a fault, got {other:?}"),
    }
}

/// A superior that cannot be reached, or a CurrentContext that is not a
/// WS-AT context: no context is handed out (business work never runs
/// unregistered), and the subordinate transaction made for the attempt is
/// rolled back at once rather than left to expire.
#[tokio::test]
async fn an_unreachable_superior_or_a_foreign_context_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let host = support::test_coordinator(&dir.path().join("wsat.sqlite3")).await;
    let gateway = TestGateway::start(host.routes().clone(), |config| {
        config.membership.enabled = false;
    })
    .await;
    let version = WsTxVersion::Jun2006;
    let superior = CoordinationContext {
        identifier: "urn:uuid:far-away".to_owned(),
        expires: None,
        coordination_type: version.wsat().to_owned(),
        registration_service: EndpointReference::new("http://127.0.0.1:9/wsat/registration"),
        extensions: Vec::new(),
    };
    let fault = refused_activation(&gateway, superior.clone()).await;
    assert_eq!(fault.kind, ithaca_txn::wire::FaultKind::CannotCreateContext);
    assert!(
        fault.reason.contains("registration with the superior"),
        "{}",
        fault.reason
    );
    let snapshot = host.service().snapshot(Default::default()).await;
    assert_eq!(snapshot.total, 1, "{snapshot:?}");
    assert!(
        snapshot
            .transactions
            .iter()
            .all(|t| t.phase == ithaca_txn::admin::PhaseName::Aborted),
        "{snapshot:?}"
    );

    let foreign = CoordinationContext {
        coordination_type: "http://docs.oasis-open.org/ws-tx/wsba/2006/06/AtomicOutcome".into(),
        ..superior
    };
    let fault = refused_activation(&gateway, foreign).await;
    assert_eq!(fault.kind, ithaca_txn::wire::FaultKind::InvalidParameters);
    assert_eq!(host.service().snapshot(Default::default()).await.total, 1);
}
