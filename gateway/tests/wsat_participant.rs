//! Money transfers through the Ithaca-hosted WS-AT coordinator, end to end
//! over real HTTP: one gateway hosts the coordinator and the protocol
//! endpoints of two bank participants (`ParticipantHost`), each on its own
//! PostgreSQL database of the test harness. The initiator (`WsatClient`,
//! its outcome endpoint on the same gateway) activates a
//! context and registers for Completion; each bank registers for
//! Durable2PC through SOAP before its business work, debits or credits on
//! its branch, and the initiator's Commit runs two-phase commit with
//! `PREPARE TRANSACTION` / `COMMIT PREPARED` on both databases.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ithaca_gateway::wsat::WsatHost;
use ithaca_gateway::wsat::client::{
    BeginOptions, CompletionInitiatorRoute, Outcome, Transaction, WsatClient, WsatClientError,
};
use ithaca_gateway::wsat::participant::{ParticipantError, ParticipantHost};
use ithaca_testkit::pg::TestDatabase;
use ithaca_txn::wire::CorrelationKey;
use sqlx::postgres::PgPool;
use support::TestGateway;
use support::pg_participant::{
    accounts as accounts_db, participant_host, prepared, quick_resends, total,
};

/// The coordinator and two banks behind one gateway.
struct World {
    gateway: TestGateway,
    _coordinator: WsatHost,
    a: ParticipantHost,
    b: ParticipantHost,
    client: WsatClient,
    pool_a: PgPool,
    pool_b: PgPool,
    _log_dir: tempfile::TempDir,
}

impl World {
    async fn start(db_a: &TestDatabase<'_>, db_b: &TestDatabase<'_>, accounts: i64) -> Self {
        let log_dir = tempfile::tempdir().unwrap();
        let coordinator = support::test_coordinator(&log_dir.path().join("wsat.sqlite3")).await;
        let port = ithaca_testkit::free_port().unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let (pool_a, pool_b) = (
            accounts_db(db_a.url(), accounts, 20).await,
            accounts_db(db_b.url(), accounts, 20).await,
        );
        let a = participant_host(&pool_a, "bank-a", &base, "/bank-a/wsat", quick_resends()).await;
        let b = participant_host(&pool_b, "bank-b", &base, "/bank-b/wsat", quick_resends()).await;
        // The initiator's outcome endpoint, on the same gateway.
        let initiator = CompletionInitiatorRoute::new(
            CorrelationKey::from_bytes([3; 32]),
            &base,
            "/initiator/wsat",
        );
        let client = WsatClient::new(initiator.clone()).unwrap();
        let routes = coordinator
            .routes()
            .clone()
            .merge(&a.routes())
            .merge(&b.routes())
            .merge(&initiator.routes());
        let gateway = TestGateway::start(routes, |config| {
            config.server.listen = format!("127.0.0.1:{port}").parse().unwrap();
            config.membership.enabled = false;
        })
        .await;
        Self {
            gateway,
            _coordinator: coordinator,
            a,
            b,
            client,
            pool_a,
            pool_b,
            _log_dir: log_dir,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.gateway.addr()
    }

    /// Begins a transaction at the hosted coordinator's Activation
    /// service, registered for Completion.
    async fn begin(&self) -> Transaction {
        let activation = format!("http://{}/wsat/activation", self.addr());
        self.client
            .begin(
                &activation,
                BeginOptions {
                    expires: Some(Duration::from_secs(60)),
                    outcome_timeout: Duration::from_secs(30),
                    ..BeginOptions::default()
                },
            )
            .await
            .unwrap()
    }

    /// One transfer of `amount` from A's account `from` to B's account
    /// `to`; B's work fails when `fail_credit`.
    async fn transfer(&self, from: i64, to: i64, amount: i64, fail_credit: bool) -> Outcome {
        let transaction = self.begin().await;
        let context = transaction.context().clone();
        let mut debit = self.a.enlist(&context).await.unwrap();
        sqlx::query("UPDATE account SET balance = balance - $2 WHERE id = $1")
            .bind(from)
            .bind(amount)
            .execute(debit.connection())
            .await
            .unwrap();
        self.a.service().work_done(debit);
        let mut credit = self.b.enlist(&context).await.unwrap();
        sqlx::query("UPDATE account SET balance = balance + $2 WHERE id = $1")
            .bind(to)
            .bind(amount)
            .execute(credit.connection())
            .await
            .unwrap();
        if fail_credit {
            self.b.service().work_failed(credit);
        } else {
            self.b.service().work_done(credit);
        }
        transaction.commit().await.unwrap()
    }

    /// Waits until both banks hold no branch and nothing is prepared.
    async fn settled(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let idle = self.a.service().is_empty() && self.b.service().is_empty();
            if idle && prepared(&self.pool_a).await + prepared(&self.pool_b).await == 0 {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "transactions did not settle: {} and {} branches open",
                self.a.service().len(),
                self.b.service().len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test]
async fn a_transfer_commits_on_both_databases() {
    let (db_a, db_b) = (
        ithaca_testkit::pg::database().unwrap(),
        ithaca_testkit::pg::database().unwrap(),
    );
    let world = World::start(&db_a, &db_b, 2).await;
    assert_eq!(world.transfer(1, 2, 300, false).await, Outcome::Committed);
    world.settled().await;
    assert_eq!(total(&world.pool_a).await, 1700);
    assert_eq!(total(&world.pool_b).await, 2300);
}

#[tokio::test]
async fn a_participant_voting_aborted_rolls_both_back() {
    let (db_a, db_b) = (
        ithaca_testkit::pg::database().unwrap(),
        ithaca_testkit::pg::database().unwrap(),
    );
    let world = World::start(&db_a, &db_b, 2).await;
    assert_eq!(world.transfer(1, 2, 300, true).await, Outcome::Aborted);
    world.settled().await;
    assert_eq!(total(&world.pool_a).await, 2000);
    assert_eq!(total(&world.pool_b).await, 2000);
}

#[tokio::test]
async fn fifty_concurrent_transfers_conserve_money_and_leave_nothing_prepared() {
    let (db_a, db_b) = (
        ithaca_testkit::pg::database().unwrap(),
        ithaca_testkit::pg::database().unwrap(),
    );
    let world = Arc::new(World::start(&db_a, &db_b, 50).await);
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..50i64 {
        let world = world.clone();
        let fail = n % 7 == 0;
        let amount = n + 1;
        tasks.spawn(async move {
            let outcome = world.transfer(n + 1, 50 - n, amount, fail).await;
            (outcome, fail, amount)
        });
    }
    // A transfer whose credit failed is Aborted; others commit unless a
    // prepare failed under load (then Aborted too). The outcomes the
    // client was told must match the money that moved.
    let mut moved = 0;
    while let Some(result) = tasks.join_next().await {
        let (outcome, failed, amount) = result.unwrap();
        if failed {
            assert_eq!(outcome, Outcome::Aborted);
        }
        if outcome == Outcome::Committed {
            moved += amount;
        }
    }
    world.settled().await;
    // Every transfer either moved its amount on both sides or on neither.
    let (a, b) = (total(&world.pool_a).await, total(&world.pool_b).await);
    assert_eq!(a + b, 100_000);
    assert_eq!(50_000 - a, moved, "the outcomes match the money moved");
    assert!(a < 50_000, "some transfers committed");
}

#[tokio::test]
async fn a_refused_registration_fails_the_request_before_any_work() {
    let (db_a, db_b) = (
        ithaca_testkit::pg::database().unwrap(),
        ithaca_testkit::pg::database().unwrap(),
    );
    let world = World::start(&db_a, &db_b, 1).await;
    let transaction = world.begin().await;
    let mut context = transaction.context().clone();
    // A forged registration reference parameter: the coordinator refuses.
    context.registration_service.reference_parameters =
        vec!["<f:Forged xmlns:f=\"urn:forged\">1</f:Forged>".into()];
    let error = world.a.enlist(&context).await.unwrap_err();
    assert!(
        matches!(error, ParticipantError::RegisterFailed(_)),
        "{error}"
    );
    assert!(world.a.service().is_empty());
    // A context of another coordination type is refused outright.
    context.coordination_type = "urn:not-ws-at".into();
    assert!(matches!(
        world.a.enlist(&context).await,
        Err(ParticipantError::UnsupportedContext(_))
    ));
}

#[tokio::test]
async fn a_rollback_by_the_initiator_undoes_both_banks_work() {
    let (db_a, db_b) = (
        ithaca_testkit::pg::database().unwrap(),
        ithaca_testkit::pg::database().unwrap(),
    );
    let world = World::start(&db_a, &db_b, 2).await;
    let transaction = world.begin().await;
    let mut debit = world.a.enlist(transaction.context()).await.unwrap();
    sqlx::query("UPDATE account SET balance = balance - 300 WHERE id = 1")
        .execute(debit.connection())
        .await
        .unwrap();
    world.a.service().work_done(debit);
    assert_eq!(transaction.rollback().await.unwrap(), Outcome::Aborted);
    world.settled().await;
    assert_eq!(total(&world.pool_a).await, 2000);
}

#[tokio::test]
async fn a_coordinator_fault_reaches_the_initiator_with_its_code() {
    let (db_a, db_b) = (
        ithaca_testkit::pg::database().unwrap(),
        ithaca_testkit::pg::database().unwrap(),
    );
    let world = World::start(&db_a, &db_b, 1).await;
    // CreateCoordinationContext sent to the Registration service: the
    // coordinator answers with a WS-Coordination fault, which the client
    // returns with its code.
    let registration = format!("http://{}/wsat/registration", world.addr());
    let error = world
        .client
        .begin(&registration, BeginOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, WsatClientError::Fault { code, .. } if code == "InvalidParameters"),
        "{error}"
    );
}
