//! `/readyz` against real stores: the embedded SQLite database and a real
//! PostgreSQL cluster that goes away.

#![allow(clippy::unwrap_used)]

mod support;

use ithaca_gateway::Router;
use ithaca_testkit::pg::PgCluster;
use support::{TestGateway, get, http1};

#[tokio::test(flavor = "multi_thread")]
async fn readyz_reports_each_store_and_fails_when_postgres_is_gone() {
    let cluster = tokio::task::spawn_blocking(|| PgCluster::start().expect("PostgreSQL for tests"))
        .await
        .unwrap();
    let url = cluster.url("postgres");
    let gw = TestGateway::start(Router::new(), |c| c.storage.postgres_url = Some(url)).await;

    let ready = http1(gw.addr(), get("/readyz")).await;
    assert_eq!(ready.status, 200, "{}", ready.text());
    assert!(ready.text().contains("sqlite: ok"));
    assert!(ready.text().contains("postgres: ok"));

    // The database stops: the gateway stays alive but is no longer ready.
    let cluster = tokio::task::spawn_blocking(move || {
        cluster.stop_immediate().unwrap();
        cluster
    })
    .await
    .unwrap();
    let ready = http1(gw.addr(), get("/readyz")).await;
    assert_eq!(ready.status, 503, "{}", ready.text());
    assert!(
        ready.text().contains("postgres: unreachable"),
        "{}",
        ready.text()
    );
    assert!(ready.text().contains("sqlite: ok"));
    assert_eq!(http1(gw.addr(), get("/healthz")).await.status, 200);
    gw.gateway.shutdown().await;
    drop(cluster);
}

#[tokio::test]
async fn the_embedded_store_lives_in_the_data_dir() {
    let gw = TestGateway::start(Router::new(), |_| {}).await;
    let data = gw.data.path().join("data");
    assert!(data.join("ithaca.sqlite3").exists());
    assert!(data.join("LOCK").exists());
    let pool = &gw.gateway.stores().sqlite;
    let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    gw.gateway.shutdown().await;
}
