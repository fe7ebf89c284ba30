//! Presumed abort for a branch whose coordinator lost the transaction: the
//! participant's `Prepared` carries its own signed participant endpoint as
//! `wsa:ReplyTo`, so a coordinator restarted without any record of the
//! transaction answers it with `Rollback` and the prepared PostgreSQL
//! branch goes away.
//!
//! One gateway hosts the coordinator (its log on SQLite), a bank
//! participant (`ParticipantHost` on a test database) and the initiator's
//! outcome endpoint. A second Durable2PC participant registers in the same
//! transaction but its endpoint is a black hole (it accepts `Prepare` and
//! never votes), so the coordinator is still collecting votes, with
//! nothing in its log, when it is stopped. It is then started again on the
//! same port and log, and the bank's resent `Prepared` must be rolled back.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use http::StatusCode;
use ithaca_gateway::Router;
use ithaca_gateway::body::{Request, Response, full};
use ithaca_gateway::wsat::client::{BeginOptions, CompletionInitiatorRoute, WsatClient};
use ithaca_txn::participant;
use ithaca_txn::wire::CorrelationKey;
use support::TestGateway;
use support::pg_participant::{accounts, participant_host, prepared, quick_resends, total};

/// The path of the participant endpoint that never votes.
const BLACK_HOLE: &str = "/black-hole/wsat";

/// Accepts every message and does nothing with it.
fn black_hole() -> Router {
    Router::new().route(BLACK_HOLE, "black-hole", |_request: Request| async {
        let mut response = Response::new(full(bytes::Bytes::new()));
        *response.status_mut() = StatusCode::ACCEPTED;
        response
    })
}

async fn gateway(port: u16, routes: Router) -> TestGateway {
    TestGateway::start(routes, |config| {
        config.server.listen = format!("127.0.0.1:{port}").parse().unwrap();
        config.membership.enabled = false;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_coordinator_without_a_record_rolls_back_a_resent_prepared() {
    let db = ithaca_testkit::pg::database().unwrap();
    let pool = accounts(db.url(), 2, 10).await;
    let log_dir = tempfile::tempdir().unwrap();
    let log = log_dir.path().join("wsat.sqlite3");
    let port = ithaca_testkit::free_port().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let resends = participant::Config {
        max_resend_after: Duration::from_secs(1),
        ..quick_resends()
    };
    let bank = participant_host(&pool, "bank", &base, "/bank/wsat", resends.clone()).await;
    let silent = participant_host(&pool, "silent", &base, BLACK_HOLE, resends).await;
    let initiator = CompletionInitiatorRoute::new(
        CorrelationKey::from_bytes([3; 32]),
        &base,
        "/initiator/wsat",
    );
    let client = WsatClient::new(initiator.clone()).unwrap();

    // The first coordinator: the bank prepares, the silent participant
    // never votes, so nothing is decided (and nothing logged).
    let first = support::test_coordinator(&log).await;
    let routes = first
        .routes()
        .clone()
        .merge(&bank.routes())
        .merge(&black_hole())
        .merge(&initiator.routes());
    let running = gateway(port, routes).await;
    let transaction = client
        .begin(
            &format!("{base}/wsat/activation"),
            BeginOptions {
                expires: Some(Duration::from_secs(120)),
                outcome_timeout: Duration::from_secs(5),
                ..BeginOptions::default()
            },
        )
        .await
        .unwrap();
    let context = transaction.context().clone();
    let mut branch = bank.enlist(&context).await.unwrap();
    sqlx::query("UPDATE account SET balance = balance - 300 WHERE id = 1")
        .execute(branch.connection())
        .await
        .unwrap();
    bank.service().work_done(branch);
    let idle = silent.enlist(&context).await.unwrap();
    silent.service().work_done(idle);
    let commit = tokio::spawn(transaction.commit());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while prepared(&pool).await != 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the bank's branch was not prepared"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The coordinator dies before deciding; it comes back on the same
    // port and log, with no record of the transaction.
    first.shutdown().await;
    running.gateway.shutdown().await;
    let _ = commit.await;
    let second = support::test_coordinator(&log).await;
    assert!(second.service().is_recovered());
    let routes = second
        .routes()
        .clone()
        .merge(&bank.routes())
        .merge(&black_hole())
        .merge(&initiator.routes());
    let _running = gateway(port, routes).await;

    // The bank's resent Prepared names its participant endpoint as
    // ReplyTo: presumed abort answers it with Rollback.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while prepared(&pool).await != 0 || !bank.service().is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the prepared branch was not rolled back: {} prepared, {} branches held",
            prepared(&pool).await,
            bank.service().len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(total(&pool).await, 2000, "the debit was rolled back");
}
