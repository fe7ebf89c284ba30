//! The PostgreSQL side of the in-process participant tests: a database
//! with an `account` table, what an auditor reads of it, and a
//! `ParticipantHost` mapping WS-AT onto `PREPARE TRANSACTION` there.

use std::sync::Arc;
use std::time::Duration;

use ithaca_gateway::wsat::HttpSink;
use ithaca_gateway::wsat::participant::{ParticipantHost, SoapCoordinatorLink};
use ithaca_txn::participant::{self as participant, NodeId, PgParticipant, PgParticipantService};
use ithaca_txn::wire::CorrelationKey;
use sqlx::postgres::{PgPool, PgPoolOptions};

/// A pool on `url` (at most `connections`) whose database holds accounts
/// 1..=`accounts`, 1 000 each.
pub async fn accounts(url: &str, accounts: i64, connections: u32) -> PgPool {
    let pool = PgPoolOptions::new()
        .max_connections(connections)
        .connect(url)
        .await
        .unwrap();
    sqlx::query("CREATE TABLE account (id bigint PRIMARY KEY, balance bigint NOT NULL)")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO account SELECT g, 1000 FROM generate_series(1, $1) g")
        .bind(accounts)
        .execute(&pool)
        .await
        .unwrap();
    pool
}

/// The sum of all balances.
pub async fn total(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT sum(balance)::bigint FROM account")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// How many transactions this database holds prepared.
pub async fn prepared(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// The participant settings of these tests: quick resends.
pub fn quick_resends() -> participant::Config {
    participant::Config {
        resend_after: Duration::from_millis(300),
        ..participant::Config::default()
    }
}

/// A participant named `node` on `pool`, its protocol endpoint at `path`
/// of the gateway at `base`, recovered from `pg_prepared_xacts`.
pub async fn participant_host(
    pool: &PgPool,
    node: &str,
    base: &str,
    path: &str,
    config: participant::Config,
) -> ParticipantHost {
    let (pg, recovery) = PgParticipant::start(pool.clone(), NodeId::new(node).unwrap())
        .await
        .unwrap();
    let sink = HttpSink::new(Arc::new(CorrelationKey::from_bytes([9; 32])), None).unwrap();
    let service = PgParticipantService::start(
        pg,
        &recovery,
        Arc::new(SoapCoordinatorLink::new(sink)),
        config,
    );
    ParticipantHost::new(service, CorrelationKey::from_bytes([5; 32]), base, path)
}
