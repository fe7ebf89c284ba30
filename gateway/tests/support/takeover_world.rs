//! The world of the takeover tests: a throwaway PostgreSQL, three `ithaca
//! serve` processes (the oracle, hosting the banks bank-a and bank-b, each
//! on its own database; the coordinators `a` and `b` on one shared log,
//! `b` backing up `a`), a transfer client beginning at `a`, and the reads
//! the tests check them with (prepared branches, journals, the log, the
//! metrics, the membership view).

use std::path::Path;
use std::time::Duration;

use ithaca_gateway::wsat::client::BeginOptions;
use ithaca_services::bank::{self, message};
use ithaca_testkit::pg::PgCluster;
use sqlx::Connection;
use sqlx::postgres::PgConnection;

use super::TestGateway;
use super::serve_node::ServeNode;
use super::transfer_client::{Initiator, TransferClient, service_client};

/// Each bank opens accounts 1..=ACCOUNTS with OPENING cents each.
pub const ACCOUNTS: u32 = 10;
pub const OPENING: i64 = 100_000;
/// How long a condition may take on a loaded machine.
pub const SETTLE: Duration = Duration::from_secs(40);

/// Waits (at most [`SETTLE`]) until `$check` (an expression that may
/// `.await`) holds, else fails with every process's log.
macro_rules! wait_for {
    ($world:expr, $what:expr, $check:expr) => {{
        let deadline = std::time::Instant::now() + $crate::support::takeover_world::SETTLE;
        while !$check {
            assert!(
                std::time::Instant::now() < deadline,
                "{}: not within {:?}\n{}",
                $what,
                $crate::support::takeover_world::SETTLE,
                $world.logs()
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }};
}
#[allow(unused_imports)] // Only the takeover suites use it.
pub(crate) use wait_for;

/// The oracle (with the banks), the two coordinators and the client.
pub struct World {
    pub cluster: PgCluster,
    pub oracle: ServeNode,
    pub a: ServeNode,
    pub b: ServeNode,
    pub db_a: String,
    pub db_b: String,
    pub client: TransferClient,
    pub _initiator: TestGateway,
    pub _dir: tempfile::TempDir,
}

pub fn bank_table(name: &str, url: &str) -> String {
    format!(
        "[[bank]]\nname = \"{name}\"\ndatabase_url = \"{url}\"\nopen_accounts = {ACCOUNTS}\nopening_balance = {OPENING}\n"
    )
}

/// A coordinator instance on the shared log, joining the oracle at
/// `oracle_port`, backing up `backs_up`.
pub fn coordinator(
    dir: &Path,
    name: &'static str,
    log_url: &str,
    oracle_port: u16,
    backs_up: &str,
) -> ServeNode {
    ServeNode::new(
        dir,
        name,
        "bank = []",
        &format!(
            "[log]\nfilter = \"warn,ithaca_gateway::wsat::instances=info\"\n\n\
             [membership]\nenabled = false\n\n\
             [sector_status]\nenabled = false\n\n\
             [transfer]\nenabled = false\n\n\
             [bridge.iiop]\nenabled = false\n\n\
             [wsat]\nenabled = true\nstore = \"{log_url}\"\ninstance = \"{name}\"\n\
             takeover = true\nbacks_up = \"{backs_up}\"\noracles = \"127.0.0.1:{oracle_port}\"\n"
        ),
    )
}

impl World {
    /// Starts everything, `a` with `a_failpoint` armed, and waits until
    /// both coordinators are members of the view.
    pub async fn start(a_failpoint: Option<&str>) -> Self {
        let cluster = PgCluster::start().expect("PostgreSQL for the takeover tests");
        for db in ["coord", "bank_a", "bank_b"] {
            cluster
                .psql("postgres", &format!("CREATE DATABASE {db}"))
                .unwrap();
        }
        let (db_a, db_b) = (cluster.url("bank_a"), cluster.url("bank_b"));
        let dir = tempfile::tempdir().unwrap();
        let oracle_port = ithaca_testkit::free_port().unwrap();
        let mut oracle = ServeNode::new(
            dir.path(),
            "oracle",
            "",
            &format!(
                "[log]\nfilter = \"warn\"\n\n\
                 [membership]\nenabled = true\nlisten = \"127.0.0.1:{oracle_port}\"\n\n\
                 [sector_status]\nenabled = false\n\n\
                 [transfer]\nenabled = false\n\n\
                 [bridge.iiop]\nenabled = false\n\n\
                 [wsat]\nenabled = false\n\n{}\n{}",
                bank_table("bank-a", &db_a),
                bank_table("bank-b", &db_b)
            ),
        );
        let log = cluster.url("coord");
        let mut a = coordinator(dir.path(), "a", &log, oracle_port, "");
        let mut b = coordinator(dir.path(), "b", &log, oracle_port, "a");
        oracle.start(None).await;
        a.start(a_failpoint).await;
        b.start(None).await;

        let Initiator { wsat, gateway } = Initiator::start(5).await;
        let soap = |name: &str| service_client(&oracle, name, Duration::from_secs(10));
        let client = TransferClient {
            wsat,
            activation: format!("{}/wsat/activation", a.base()),
            from: soap("bank-a"),
            to: soap("bank-b"),
            options: BeginOptions {
                expires: Some(Duration::from_secs(8)),
                request_timeout: Duration::from_secs(10),
                outcome_timeout: Duration::from_secs(5),
                ..BeginOptions::default()
            },
        };
        let world = Self {
            cluster,
            oracle,
            a,
            b,
            db_a,
            db_b,
            client,
            _initiator: gateway,
            _dir: dir,
        };
        wait_for!(world, "a and b in the membership view", {
            let members = world.members().await;
            members.contains(&"a".to_owned()) && members.contains(&"b".to_owned())
        });
        world
    }

    /// Every process's log tail, for failure messages.
    pub fn logs(&self) -> String {
        format!(
            "oracle:\n{}\na:\n{}\nb:\n{}",
            self.oracle.log_tail(),
            self.a.log_tail(),
            self.b.log_tail()
        )
    }

    /// The member ids of the oracle's current view.
    pub async fn members(&self) -> Vec<String> {
        let (status, body) = get(self.oracle.port, "/membership/members").await;
        if status != 200 {
            return Vec::new();
        }
        let report: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        report["members"]
            .as_array()
            .map(|members| {
                members
                    .iter()
                    .filter_map(|m| m["member"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The value of the metric line `name` on `node`'s `/metrics` (0 when
    /// it is not there yet).
    pub async fn metric(node: &ServeNode, name: &str) -> u64 {
        let (_, body) = get(node.port, "/metrics").await;
        body.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|value| value.trim().parse::<f64>().ok())
            .map_or(0, |value| value as u64)
    }

    /// Begins a transfer at `a` and runs its two bank calls (both branches
    /// enlisted, neither prepared); the transaction is left open.
    pub async fn transfer_without_commit(&self, from: u32, to: u32, amount: i64) -> String {
        let transaction = self
            .client
            .wsat
            .begin(&self.client.activation, self.client.options)
            .await
            .expect("begin at a");
        let tx = transaction.context().identifier.clone();
        let debit = message::debit_request(&from.to_string(), amount);
        let action = bank::soap_action(bank::operation::DEBIT);
        transaction
            .call(&self.client.from, Some(&action), &[], &debit)
            .await
            .expect("debit");
        let credit = message::credit_request(&to.to_string(), amount);
        let action = bank::soap_action(bank::operation::CREDIT);
        transaction
            .call(&self.client.to, Some(&action), &[], &credit)
            .await
            .expect("credit");
        // Dropped without Commit or Rollback: the coordinator is killed
        // next.
        drop(transaction);
        tx
    }

    /// Whether neither bank holds a prepared branch.
    pub async fn nothing_prepared(&self) -> bool {
        prepared(&self.db_a).await == Some(0) && prepared(&self.db_b).await == Some(0)
    }
}

/// `GET path` on 127.0.0.1:`port`: the status and body (0 when nothing
/// answered).
pub async fn get(port: u16, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return (0, String::new());
    };
    let request = format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).await.is_err() {
        return (0, String::new());
    }
    let mut text = String::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut text));
    if !matches!(read.await, Ok(Ok(_))) {
        return (0, String::new());
    }
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (status, body.to_owned())
}

pub async fn connect(url: &str) -> Option<PgConnection> {
    PgConnection::connect(url).await.ok()
}

pub async fn prepared(url: &str) -> Option<i64> {
    let mut connection = connect(url).await?;
    sqlx::query_scalar("SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()")
        .fetch_one(&mut connection)
        .await
        .ok()
}

/// The journal rows of `tx` in a bank database: their count and sum.
pub async fn journal_of(url: &str, tx: &str) -> (i64, i64) {
    let mut connection = connect(url).await.expect("bank database");
    sqlx::query_as(
        "SELECT count(*), coalesce(sum(delta), 0)::bigint FROM bank_journal WHERE tx = $1",
    )
    .bind(tx)
    .fetch_one(&mut connection)
    .await
    .unwrap()
}

pub async fn total(url: &str) -> i64 {
    let mut connection = connect(url).await.expect("bank database");
    sqlx::query_scalar("SELECT coalesce(sum(balance), 0)::bigint FROM bank_account")
        .fetch_one(&mut connection)
        .await
        .unwrap()
}

/// The coordinator log's decision rows for `tx`, and `instance`'s fence.
pub async fn log_state(url: &str, tx: &str, instance: &str) -> (i64, Option<i64>) {
    let mut connection = connect(url).await.expect("coordinator log database");
    let decisions: i64 = sqlx::query_scalar("SELECT count(*) FROM wsat_decision WHERE tx_id = $1")
        .bind(tx)
        .fetch_one(&mut connection)
        .await
        .unwrap();
    let fence: Option<i64> = sqlx::query_scalar("SELECT token FROM wsat_fence WHERE instance = $1")
        .bind(instance)
        .fetch_optional(&mut connection)
        .await
        .unwrap();
    (decisions, fence)
}
