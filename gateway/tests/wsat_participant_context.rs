//! A hosted document/literal SOAP service taking part in WS-AT
//! transactions from its requests' `CoordinationContext` header, over real
//! HTTP: one gateway hosts the coordinator, the ledger service (declared
//! transactional, its handler joining the request's transaction with
//! `ParticipantHost::join`), the ledger's participant endpoint and the
//! initiator's outcome endpoint; the ledger lives in its own PostgreSQL
//! database of the test harness. The client is `WsatClient`, whose calls
//! carry the context with `mustUnderstand="1"`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use ithaca_gateway::Router;
use ithaca_gateway::soap::client::{ClientError, SoapClient};
use ithaca_gateway::soap::{Contract, SoapError, SoapRequest, SoapService};
use ithaca_gateway::wsat::WsatHost;
use ithaca_gateway::wsat::client::{
    BeginOptions, CompletionInitiatorRoute, Outcome, Transaction, WsatClient,
};
use ithaca_gateway::wsat::context::Transactional;
use ithaca_gateway::wsat::participant::ParticipantHost;
use ithaca_testkit::pg::TestDatabase;
use ithaca_txn::wire::{CorrelationKey, WsTxVersion};
use ithaca_wsdl::{FaultCode, SoapVersion};
use sqlx::postgres::PgPool;
use support::TestGateway;
use support::pg_participant::{accounts, participant_host, prepared, quick_resends};

/// The ledger's contract: `Post(account, amount)` adds `amount` (may be
/// negative) to an account's balance and answers the new balance.
const LEDGER_WSDL: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/"
    xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
    xmlns:soap12="http://schemas.xmlsoap.org/wsdl/soap12/"
    xmlns:xs="http://www.w3.org/2001/XMLSchema"
    xmlns:l="urn:ithaca:test:ledger"
    targetNamespace="urn:ithaca:test:ledger">
  <wsdl:types>
    <xs:schema targetNamespace="urn:ithaca:test:ledger" elementFormDefault="qualified">
      <xs:element name="Post">
        <xs:complexType><xs:sequence>
          <xs:element name="account" type="xs:long"/>
          <xs:element name="amount" type="xs:long"/>
        </xs:sequence></xs:complexType>
      </xs:element>
      <xs:element name="PostResponse">
        <xs:complexType><xs:sequence>
          <xs:element name="balance" type="xs:long"/>
        </xs:sequence></xs:complexType>
      </xs:element>
    </xs:schema>
  </wsdl:types>
  <wsdl:message name="PostIn"><wsdl:part name="parameters" element="l:Post"/></wsdl:message>
  <wsdl:message name="PostOut"><wsdl:part name="parameters" element="l:PostResponse"/></wsdl:message>
  <wsdl:portType name="LedgerPort">
    <wsdl:operation name="Post">
      <wsdl:input message="l:PostIn"/>
      <wsdl:output message="l:PostOut"/>
    </wsdl:operation>
  </wsdl:portType>
  <wsdl:binding name="LedgerSoap11" type="l:LedgerPort">
    <soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <wsdl:operation name="Post">
      <soap:operation soapAction="urn:ithaca:test:ledger:Post"/>
      <wsdl:input><soap:body use="literal"/></wsdl:input>
      <wsdl:output><soap:body use="literal"/></wsdl:output>
    </wsdl:operation>
  </wsdl:binding>
  <wsdl:binding name="LedgerSoap12" type="l:LedgerPort">
    <soap12:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <wsdl:operation name="Post">
      <soap12:operation soapAction="urn:ithaca:test:ledger:Post"/>
      <wsdl:input><soap12:body use="literal"/></wsdl:input>
      <wsdl:output><soap12:body use="literal"/></wsdl:output>
    </wsdl:operation>
  </wsdl:binding>
  <wsdl:service name="Ledger">
    <wsdl:port name="Soap11" binding="l:LedgerSoap11"><soap:address location="http://localhost/services/Ledger"/></wsdl:port>
    <wsdl:port name="Soap12" binding="l:LedgerSoap12"><soap12:address location="http://localhost/services/Ledger/soap12"/></wsdl:port>
  </wsdl:service>
</wsdl:definitions>
"#;

const ACTION: &str = "urn:ithaca:test:ledger:Post";

fn post_body(account: i64, amount: i64) -> Vec<u8> {
    format!(
        r#"<l:Post xmlns:l="urn:ithaca:test:ledger"><l:account>{account}</l:account><l:amount>{amount}</l:amount></l:Post>"#
    )
    .into_bytes()
}

/// The text of the first `<l:NAME>` element of a body the schema checked.
fn field(body: &[u8], name: &str) -> Option<i64> {
    let text = std::str::from_utf8(body).ok()?;
    let open = format!("<l:{name}>");
    let start = text.find(&open)? + open.len();
    let end = start + text[start..].find('<')?;
    text[start..end].trim().parse().ok()
}

/// The ledger's handler: joins the request's transaction and posts the
/// amount on the branch's connection; a balance going negative fails the
/// request (and with it the transaction).
async fn post(host: ParticipantHost, request: SoapRequest) -> Result<Vec<u8>, SoapError> {
    let (Some(account), Some(amount)) = (
        field(request.body(), "account"),
        field(request.body(), "amount"),
    ) else {
        return Err(SoapError::sender("account and amount are required"));
    };
    let Some(mut work) = host.join(&request).await? else {
        return Err(SoapError::sender("Post needs a WS-AT transaction"));
    };
    let balance: Option<i64> = sqlx::query_scalar(
        "UPDATE account SET balance = balance + $2 WHERE id = $1 RETURNING balance",
    )
    .bind(account)
    .bind(amount)
    .fetch_optional(work.connection())
    .await
    .map_err(|e| SoapError::receiver(e.to_string()))?;
    match balance {
        Some(balance) if balance >= 0 => {
            work.done();
            Ok(format!(
                r#"<l:PostResponse xmlns:l="urn:ithaca:test:ledger"><l:balance>{balance}</l:balance></l:PostResponse>"#
            )
            .into_bytes())
        }
        // Dropping `work` rolls the branch back and votes Aborted.
        Some(_) => Err(SoapError::sender("insufficient funds")),
        None => Err(SoapError::sender("no such account")),
    }
}

struct World {
    gateway: TestGateway,
    _coordinator: WsatHost,
    ledger: ParticipantHost,
    client: WsatClient,
    pool: PgPool,
    _log_dir: tempfile::TempDir,
}

impl World {
    async fn start(db: &TestDatabase<'_>, participant_soap: SoapVersion) -> Self {
        let log_dir = tempfile::tempdir().unwrap();
        let coordinator = support::test_coordinator(&log_dir.path().join("wsat.sqlite3")).await;
        let port = ithaca_testkit::free_port().unwrap();
        let base = format!("http://127.0.0.1:{port}");

        let pool = accounts(db.url(), 2, 10).await;
        let ledger = participant_host(&pool, "ledger", &base, "/ledger/wsat", quick_resends())
            .await
            .with_soap_version(participant_soap);

        let contract = Contract::from_bytes("ledger.wsdl", LEDGER_WSDL.as_bytes()).unwrap();
        let handler_host = ledger.clone();
        let transactional = SoapService::builder(contract.clone())
            .transactional()
            .operation("Post", move |request: SoapRequest| {
                post(handler_host.clone(), request)
            })
            .build()
            .unwrap();
        // The same contract, not declared transactional.
        let plain_host = ledger.clone();
        let plain = SoapService::builder(contract)
            .base_path("/plain/Ledger")
            .operation("Post", move |request: SoapRequest| {
                post(plain_host.clone(), request)
            })
            .build()
            .unwrap();

        let initiator = CompletionInitiatorRoute::new(
            CorrelationKey::from_bytes([3; 32]),
            &base,
            "/initiator/wsat",
        );
        let client = WsatClient::new(initiator.clone()).unwrap();
        let routes: Router = coordinator
            .routes()
            .clone()
            .merge(&ledger.routes())
            .merge(&initiator.routes())
            .merge(&transactional)
            .merge(&plain);
        let gateway = TestGateway::start(routes, |config| {
            config.server.listen = format!("127.0.0.1:{port}").parse().unwrap();
            config.membership.enabled = false;
        })
        .await;
        Self {
            gateway,
            _coordinator: coordinator,
            ledger,
            client,
            pool,
            _log_dir: log_dir,
        }
    }

    async fn begin(&self, options: BeginOptions) -> Transaction {
        let activation = format!("http://{}/wsat/activation", self.gateway.addr());
        self.client
            .begin(
                &activation,
                BeginOptions {
                    expires: Some(Duration::from_secs(60)),
                    outcome_timeout: Duration::from_secs(30),
                    ..options
                },
            )
            .await
            .unwrap()
    }

    fn ledger_client(&self, path: &str, soap: SoapVersion) -> SoapClient {
        SoapClient::new(&format!("http://{}{path}", self.gateway.addr()), soap).unwrap()
    }

    async fn balances(&self) -> (i64, i64) {
        let rows: Vec<i64> = sqlx::query_scalar("SELECT balance FROM account ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .unwrap();
        (rows[0], rows[1])
    }

    /// Waits until the ledger holds no branch and nothing is prepared.
    async fn settled(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if self.ledger.service().is_empty()
                && self.ledger.open_transactions() == 0
                && prepared(&self.pool).await == 0
            {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the ledger did not settle"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Two requests of one transaction: the ledger registers once (one
/// branch), both posts run on the same branch, and commit together.
#[tokio::test]
async fn two_requests_of_one_transaction_register_once_and_commit_together() {
    let db = ithaca_testkit::pg::database().unwrap();
    let world = World::start(&db, SoapVersion::Soap11).await;
    let ledger = world.ledger_client("/services/Ledger", SoapVersion::Soap11);
    let tx = world.begin(BeginOptions::default()).await;
    let first = tx
        .call(&ledger, Some(ACTION), &[], &post_body(1, -300))
        .await
        .unwrap();
    assert_eq!(field(&first.message, "balance"), Some(700));
    assert_eq!(world.ledger.service().len(), 1);
    assert_eq!(world.ledger.open_transactions(), 1);
    let second = tx
        .call(&ledger, Some(ACTION), &[], &post_body(2, 300))
        .await
        .unwrap();
    assert_eq!(field(&second.message, "balance"), Some(1300));
    assert_eq!(world.ledger.service().len(), 1, "registered once");
    // Nothing is visible outside the transaction before it commits.
    assert_eq!(world.balances().await, (1000, 1000));
    assert_eq!(tx.commit().await.unwrap(), Outcome::Committed);
    world.settled().await;
    assert_eq!(world.balances().await, (700, 1300));
}

/// A request that fails rolls the whole transaction back, the work of the
/// earlier request of the same transaction included.
#[tokio::test]
async fn a_failed_request_makes_the_transaction_abort() {
    let db = ithaca_testkit::pg::database().unwrap();
    let world = World::start(&db, SoapVersion::Soap11).await;
    let ledger = world.ledger_client("/services/Ledger", SoapVersion::Soap11);
    let tx = world.begin(BeginOptions::default()).await;
    tx.call(&ledger, Some(ACTION), &[], &post_body(1, -300))
        .await
        .unwrap();
    let overdraft = tx
        .call(&ledger, Some(ACTION), &[], &post_body(2, -5000))
        .await;
    assert!(
        matches!(&overdraft, Err(ClientError::Fault { fault, .. }) if fault.reason() == "insufficient funds"),
        "{overdraft:?}"
    );
    assert_eq!(tx.commit().await.unwrap(), Outcome::Aborted);
    world.settled().await;
    assert_eq!(world.balances().await, (1000, 1000));
}

/// The context header with `mustUnderstand="1"` is understood by the
/// transactional service only; the other answers MustUnderstand without
/// running the handler.
#[tokio::test]
async fn a_service_not_declared_transactional_answers_must_understand() {
    let db = ithaca_testkit::pg::database().unwrap();
    let world = World::start(&db, SoapVersion::Soap11).await;
    let tx = world.begin(BeginOptions::default()).await;
    for soap in [SoapVersion::Soap11, SoapVersion::Soap12] {
        let path = match soap {
            SoapVersion::Soap11 => "/plain/Ledger",
            SoapVersion::Soap12 => "/plain/Ledger/soap12",
        };
        let plain = world.ledger_client(path, soap);
        let refused = tx
            .call(&plain, Some(ACTION), &[], &post_body(1, -300))
            .await;
        assert!(
            matches!(&refused, Err(ClientError::Fault { fault, .. }) if fault.code == FaultCode::MustUnderstand),
            "{refused:?}"
        );
    }
    assert!(world.ledger.service().is_empty(), "nothing registered");
    assert_eq!(tx.rollback().await.unwrap(), Outcome::Aborted);
    assert_eq!(world.balances().await, (1000, 1000));
}

/// Without a context the handler is told there is none.
#[tokio::test]
async fn a_request_without_a_context_is_not_enlisted() {
    let db = ithaca_testkit::pg::database().unwrap();
    let world = World::start(&db, SoapVersion::Soap11).await;
    let ledger = world.ledger_client("/services/Ledger", SoapVersion::Soap11);
    let refused = ledger.call(Some(ACTION), &post_body(1, -300)).await;
    assert!(
        matches!(&refused, Err(ClientError::Fault { fault, .. }) if fault.reason() == "Post needs a WS-AT transaction"),
        "{refused:?}"
    );
    assert!(world.ledger.service().is_empty());
}

/// WS-AT 1.0 (2004/10, WS-Addressing 2004/08) end to end over SOAP 1.2:
/// the client begins and completes in 2004/10, the application call
/// carries a 2004/10 context in a SOAP 1.2 envelope, the ledger registers
/// and answers the coordinator in 2004/10 over SOAP 1.2.
#[tokio::test]
async fn ws_at_1_0_over_soap_1_2_commits() {
    let db = ithaca_testkit::pg::database().unwrap();
    let world = World::start(&db, SoapVersion::Soap12).await;
    let ledger = world.ledger_client("/services/Ledger/soap12", SoapVersion::Soap12);
    let tx = world
        .begin(BeginOptions {
            version: WsTxVersion::Oct2004,
            soap: SoapVersion::Soap12,
            ..BeginOptions::default()
        })
        .await;
    assert_eq!(
        tx.context().coordination_type,
        WsTxVersion::Oct2004.wsat(),
        "a WS-AT 1.0 context"
    );
    tx.call(&ledger, Some(ACTION), &[], &post_body(1, -250))
        .await
        .unwrap();
    tx.call(&ledger, Some(ACTION), &[], &post_body(2, 250))
        .await
        .unwrap();
    assert_eq!(world.ledger.service().len(), 1);
    assert_eq!(tx.commit().await.unwrap(), Outcome::Committed);
    world.settled().await;
    assert_eq!(world.balances().await, (750, 1250));
}
