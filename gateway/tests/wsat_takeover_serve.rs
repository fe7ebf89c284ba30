//! Automatic, fenced takeover by `ithaca serve`, with real processes and a
//! real PostgreSQL: two coordinator instances share one coordinator log,
//! `b` backs up `a` (`[wsat] takeover = true`, `backs_up = "a"`).
//!
//! Three `ithaca serve` processes: the oracle (`[membership]`, also hosting
//! the two banks, bank-a and bank-b, each on its own database) and the
//! coordinators `a` and `b` (membership off, `wsat.oracles` naming the
//! oracle). Transfers go through `a` with the library's `WsatClient`:
//! begin at `a`, `Debit` bank-a, `Credit` bank-b, commit.
//!
//! - `a` dies (SIGKILL by its failpoint) right after it forced the commit
//!   decision, before any Commit went out: within a bounded time the
//!   oracle removes `a`, promotes `b`, and `b` takes `a` over and commits
//!   both branches; restarted, `a` finds itself fenced, refuses new
//!   transactions and resends nothing; the transfer is in each bank's
//!   journal once and gone from the log.
//! - `a` is `kill -9`ed before any decision: `b` finds nothing of `a`'s
//!   to finish in the log and does not take it over, presumed abort holds
//!   (both branches roll back, no money moves), and `a` restarted under
//!   its name coordinates again.
//! - takeover on SQLite, or without an oracle, is refused at start with
//!   one line (exit status 2).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use ithaca_gateway::wsat::client::BeginOptions;
use ithaca_services::bank::{self, message};
use ithaca_testkit::pg::PgCluster;
use ithaca_txn::failpoint;
use sqlx::Connection;
use sqlx::postgres::PgConnection;
use support::TestGateway;
use support::serve_node::ServeNode;
use support::transfer_client::{Initiator, TransferClient, service_client};

/// Each bank opens accounts 1..=ACCOUNTS with OPENING cents each.
const ACCOUNTS: u32 = 10;
const OPENING: i64 = 100_000;
/// How long a condition may take on a loaded machine.
const SETTLE: Duration = Duration::from_secs(40);

/// Waits (at most [`SETTLE`]) until `$check` (an expression that may
/// `.await`) holds, else fails with every process's log.
macro_rules! wait_for {
    ($world:expr, $what:expr, $check:expr) => {{
        let deadline = Instant::now() + SETTLE;
        while !$check {
            assert!(
                Instant::now() < deadline,
                "{}: not within {SETTLE:?}\n{}",
                $what,
                $world.logs()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }};
}

/// The oracle (with the banks), the two coordinators and the client.
struct World {
    cluster: PgCluster,
    oracle: ServeNode,
    a: ServeNode,
    b: ServeNode,
    db_a: String,
    db_b: String,
    client: TransferClient,
    _initiator: TestGateway,
    _dir: tempfile::TempDir,
}

fn bank_table(name: &str, url: &str) -> String {
    format!(
        "[[bank]]\nname = \"{name}\"\ndatabase_url = \"{url}\"\nopen_accounts = {ACCOUNTS}\nopening_balance = {OPENING}\n"
    )
}

/// A coordinator instance on the shared log, joining the oracle at
/// `oracle_port`, backing up `backs_up`.
fn coordinator(
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
    async fn start(a_failpoint: Option<&str>) -> Self {
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
    fn logs(&self) -> String {
        format!(
            "oracle:\n{}\na:\n{}\nb:\n{}",
            self.oracle.log_tail(),
            self.a.log_tail(),
            self.b.log_tail()
        )
    }

    /// The member ids of the oracle's current view.
    async fn members(&self) -> Vec<String> {
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
    async fn metric(node: &ServeNode, name: &str) -> u64 {
        let (_, body) = get(node.port, "/metrics").await;
        body.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|value| value.trim().parse::<f64>().ok())
            .map_or(0, |value| value as u64)
    }

    /// Begins a transfer at `a` and runs its two bank calls (both branches
    /// enlisted, neither prepared); the transaction is left open.
    async fn transfer_without_commit(&self, from: u32, to: u32, amount: i64) -> String {
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
    async fn nothing_prepared(&self) -> bool {
        prepared(&self.db_a).await == Some(0) && prepared(&self.db_b).await == Some(0)
    }
}

/// `GET path` on 127.0.0.1:`port`: the status and body (0 when nothing
/// answered).
async fn get(port: u16, path: &str) -> (u16, String) {
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

async fn connect(url: &str) -> Option<PgConnection> {
    PgConnection::connect(url).await.ok()
}

async fn prepared(url: &str) -> Option<i64> {
    let mut connection = connect(url).await?;
    sqlx::query_scalar("SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()")
        .fetch_one(&mut connection)
        .await
        .ok()
}

/// The journal rows of `tx` in a bank database: their count and sum.
async fn journal_of(url: &str, tx: &str) -> (i64, i64) {
    let mut connection = connect(url).await.expect("bank database");
    sqlx::query_as(
        "SELECT count(*), coalesce(sum(delta), 0)::bigint FROM bank_journal WHERE tx = $1",
    )
    .bind(tx)
    .fetch_one(&mut connection)
    .await
    .unwrap()
}

async fn total(url: &str) -> i64 {
    let mut connection = connect(url).await.expect("bank database");
    sqlx::query_scalar("SELECT coalesce(sum(balance), 0)::bigint FROM bank_account")
        .fetch_one(&mut connection)
        .await
        .unwrap()
}

/// The coordinator log's decision rows for `tx`, and `instance`'s fence.
async fn log_state(url: &str, tx: &str, instance: &str) -> (i64, Option<i64>) {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b_takes_over_a_killed_after_its_decision_and_commits_both_banks() {
    let mut world = World::start(Some(failpoint::COORDINATOR_AFTER_DECISION_WRITE)).await;
    let client = &world.client;
    let transfer = async { client.transfer(1, 2, 700).await };
    let (db_a, db_b) = (&world.db_a, &world.db_b);
    let a = &mut world.a;
    // Right after the kill (long before the oracle can remove a): the
    // decision is durable, no Commit went out, both branches wait prepared.
    let killed = async {
        a.killed_by_failpoint().await;
        let at = Instant::now();
        (prepared(db_a).await, prepared(db_b).await, at)
    };
    let (seen, (prepared_a, prepared_b, killed)) = tokio::join!(transfer, killed);
    let tx = seen.tx.clone().expect("the transaction began");
    assert_eq!((prepared_a, prepared_b), (Some(1), Some(1)), "{seen:?}");

    wait_for!(world, "b takes a over", {
        World::metric(&world.b, "ithaca_wsat_takeovers_total").await == 1
    });
    wait_for!(world, "both banks committed", {
        world.nothing_prepared().await
            && journal_of(&world.db_a, &tx).await == (1, -700)
            && journal_of(&world.db_b, &tx).await == (1, 700)
    });
    println!(
        "a killed -> both banks committed by b: {:?}",
        killed.elapsed()
    );
    assert_eq!(
        World::metric(&world.b, "ithaca_wsat_takeover_transactions_total").await,
        1
    );
    assert!(
        world
            .b
            .log_tail()
            .contains("took over dead coordinator instance a (1 unfinished transaction(s))"),
        "{}",
        world.logs()
    );
    // b forgets the transaction once both banks acknowledged; a's fence
    // stands at b's token.
    wait_for!(world, "the decision forgotten", {
        log_state(&world.cluster.url("coord"), &tx, "a").await.0 == 0
    });
    let (_, fence) = log_state(&world.cluster.url("coord"), &tx, "a").await;
    assert!(
        fence.is_some_and(|token| token > 0),
        "fence of a: {fence:?}"
    );

    // a comes back (a new incarnation in the view): fenced, it refuses new
    // transactions and resends nothing, and `/readyz` says so (503, so a
    // load balancer stops sending it work); b does not take it over again.
    world.a.start_until(None, "fenced (/readyz 503)", 503).await;
    wait_for!(world, "a back in the view", {
        world.members().await.contains(&"a".to_owned())
    });
    wait_for!(world, "a reports itself fenced", {
        world
            .a
            .log_tail()
            .contains("coordinator fenced off by a takeover")
    });
    let refused = world
        .client
        .wsat
        .begin(&world.client.activation, world.client.options)
        .await;
    assert!(
        refused.is_err(),
        "a fenced instance must refuse new transactions"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        World::metric(&world.b, "ithaca_wsat_takeovers_total").await,
        1,
        "{}",
        world.logs()
    );
    // Finished once: one journal row per bank, nothing prepared, money
    // conserved.
    assert_eq!(journal_of(&world.db_a, &tx).await, (1, -700));
    assert_eq!(journal_of(&world.db_b, &tx).await, (1, 700));
    assert!(world.nothing_prepared().await);
    let money = total(&world.db_a).await + total(&world.db_b).await;
    assert_eq!(money, 2 * i64::from(ACCOUNTS) * OPENING);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_before_its_decision_is_not_taken_over_and_presumed_abort_holds() {
    let mut world = World::start(None).await;
    let tx = world.transfer_without_commit(3, 4, 900).await;
    world.a.kill();
    // The oracle removes a and promotes b, which finds nothing of a's to
    // finish in the log: no takeover, a's name stays usable.
    wait_for!(world, "b sees a gone with nothing to finish", {
        world
            .b
            .log_tail()
            .contains("coordinator instance a is gone and left no unfinished decision")
    });
    assert_eq!(
        World::metric(&world.b, "ithaca_wsat_takeovers_total").await,
        0
    );
    // The branches roll back (their transaction expired undecided): no
    // money moved, nothing prepared, nothing in the log.
    wait_for!(world, "both branches rolled back", {
        world.nothing_prepared().await
            && journal_of(&world.db_a, &tx).await == (0, 0)
            && journal_of(&world.db_b, &tx).await == (0, 0)
    });
    let (decisions, fence) = log_state(&world.cluster.url("coord"), &tx, "a").await;
    assert_eq!(decisions, 0);
    assert_eq!(fence, Some(0), "a's fence must not have been raised");
    let money = total(&world.db_a).await + total(&world.db_b).await;
    assert_eq!(money, 2 * i64::from(ACCOUNTS) * OPENING);
    // Restarted under its name, a coordinates again.
    world.a.start(None).await;
    let seen = world.client.transfer(5, 6, 300).await;
    assert!(
        matches!(
            seen.outcome,
            Ok(ithaca_gateway::wsat::client::Outcome::Committed)
        ),
        "{seen:?}\n{}",
        world.logs()
    );
    assert_eq!(
        World::metric(&world.b, "ithaca_wsat_takeovers_total").await,
        0
    );
}

/// `ithaca serve` with takeover on and `config`: its exit status and
/// stderr (it must refuse before starting anything).
fn serve_refuses(config: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ithaca.toml");
    std::fs::write(&path, config).unwrap();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_ithaca"));
    for (name, _) in std::env::vars() {
        if name.starts_with("ITHACA_") || name == "RUST_LOG" {
            command.env_remove(name);
        }
    }
    let output = command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg("--config")
        .arg(&path)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn takeover_on_sqlite_or_without_an_oracle_is_refused_with_one_line() {
    let (status, stderr) = serve_refuses("[wsat]\ntakeover = true\nbacks_up = \"a\"\n");
    assert_eq!(status, 2, "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr:?}");
    assert!(
        stderr.contains("wsat.takeover: needs a PostgreSQL wsat.store"),
        "{stderr}"
    );
    let (status, stderr) = serve_refuses(
        "[membership]\nenabled = false\n\n[wsat]\nstore = \"postgres://ithaca@127.0.0.1:1/log\"\n\
         instance = \"b\"\ntakeover = true\nbacks_up = \"a\"\n",
    );
    assert_eq!(status, 2, "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr:?}");
    assert!(
        stderr.contains("wsat.oracles: takeover needs a membership oracle"),
        "{stderr}"
    );
}
