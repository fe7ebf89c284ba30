//! The WS-AT crash discipline on SQLite banks (the embedded default):
//! three real `ithaca serve` processes, the coordinator (`[wsat]` on its
//! SQLite log) and two banks (`[[bank]] store = "sqlite"`, bank-a and
//! bank-b, each with its own file), and transfers driven from the test
//! process with the library's `WsatClient`: begin, `Debit` bank-a,
//! `Credit` bank-b with the context header, commit.
//!
//! A process dies at an exact point through the failpoints of
//! `ithaca_txn::failpoint` (`ITHACA_FAILPOINTS`, SIGKILL to itself) or is
//! `kill -9`ed from outside while transfers run, and is started again on
//! the same data directory. Then the test checks what an auditor would,
//! reading the banks' SQLite files:
//!
//! - nothing stays in doubt: no prepared record is left in either bank
//!   within a bounded wait (recovery replays Prepared and the outcome is
//!   applied);
//! - atomicity: every transaction is in both banks' journals (debited in
//!   one, credited in the other, same amount) or in neither; one the
//!   client was told Committed is in both, one told Aborted in neither;
//! - money is conserved: the two banks' totals add up to what they opened
//!   with, and no balance is negative.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ithaca_gateway::wsat::client::Outcome;
use ithaca_txn::failpoint;
use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use support::TestGateway;
use support::serve_node::ServeNode;
use support::transfer_client::{Seen, TransferClient as Client, TransferTimeouts, assert_atomic};

/// Each bank opens accounts 1..=ACCOUNTS with OPENING cents each.
const ACCOUNTS: u32 = 10;
const OPENING: i64 = 10_000;
/// What both banks hold together, always.
const MONEY: i64 = 2 * ACCOUNTS as i64 * OPENING;
/// How long everything may take to settle after the last restart.
const SETTLE: Duration = Duration::from_secs(30);

/// What the parts of one process's configuration that are not its role
/// switch off: only the role's part runs.
const QUIET: &str = "[log]\nfilter = \"warn\"\n\n[membership]\nenabled = false\n\n\
    [sector_status]\nenabled = false\n\n[transfer]\nenabled = false\n\n\
    [bridge.iiop]\nenabled = false\n";

/// One `ithaca serve` process (`support::serve_node`).
type Node = ServeNode;

/// A node with `head` before its tables and `tail` after [`QUIET`].
fn node(dir: &Path, name: &'static str, head: &str, tail: &str) -> Node {
    ServeNode::new(dir, name, head, &format!("{QUIET}\n{tail}"))
}

/// A bank node's SQLite file.
fn bank_file(node: &Node) -> PathBuf {
    node.data.join(format!("bank-{}.sqlite", node.name))
}

fn bank_table(name: &str) -> String {
    format!(
        "[[bank]]\nname = \"{name}\"\nstore = \"sqlite\"\nopen_accounts = {ACCOUNTS}\nopening_balance = {OPENING}\n"
    )
}

/// The three processes and the client.
struct World {
    coordinator: Node,
    bank_a: Node,
    bank_b: Node,
    client: Arc<Client>,
    _initiator: TestGateway,
    _dir: tempfile::TempDir,
}

impl World {
    /// Starts everything; `coordinator_fp`, `bank_a_fp` arm failpoints.
    async fn start(coordinator_fp: Option<&str>, bank_a_fp: Option<&str>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut coordinator = node(
            dir.path(),
            "coordinator",
            "bank = []",
            "[wsat]\nenabled = true\nstore = \"sqlite\"\n",
        );
        let off = "[wsat]\nenabled = false\n\n";
        let mut bank_a = node(
            dir.path(),
            "bank-a",
            "",
            &format!("{off}{}", bank_table("bank-a")),
        );
        let mut bank_b = node(
            dir.path(),
            "bank-b",
            "",
            &format!("{off}{}", bank_table("bank-b")),
        );
        coordinator.start(coordinator_fp).await;
        bank_a.start(bank_a_fp).await;
        bank_b.start(None).await;

        let (client, initiator) = Client::between(
            5,
            &coordinator,
            &bank_a,
            &bank_b,
            TransferTimeouts {
                request: Duration::from_secs(5),
                outcome: Duration::from_secs(5),
                expires: Duration::from_secs(15),
            },
        )
        .await;
        Self {
            coordinator,
            bank_a,
            bank_b,
            client,
            _initiator: initiator,
            _dir: dir,
        }
    }

    fn spawn_transfer(&self, from: u32, to: u32, amount: i64) -> tokio::task::JoinHandle<Seen> {
        let client = self.client.clone();
        tokio::spawn(async move { client.transfer(from, to, amount).await })
    }

    /// Waits until neither bank holds a prepared record.
    async fn settled(&self) {
        let deadline = Instant::now() + SETTLE;
        loop {
            let a = prepared(&bank_file(&self.bank_a)).await;
            let b = prepared(&bank_file(&self.bank_b)).await;
            if a == Some(0) && b == Some(0) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "still prepared after {SETTLE:?}: bank-a {a:?}, bank-b {b:?}\n\
                 coordinator:\n{}\nbank-a:\n{}\nbank-b:\n{}",
                self.coordinator.log_tail(),
                self.bank_a.log_tail(),
                self.bank_b.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Checks atomicity and conservation; how many transfers committed.
    async fn audit(&self, seen: &[Seen]) -> usize {
        let a = journal(&bank_file(&self.bank_a)).await;
        let b = journal(&bank_file(&self.bank_b)).await;
        assert_atomic(&a, &b, seen);
        let (total_a, low_a) = totals(&bank_file(&self.bank_a)).await;
        let (total_b, low_b) = totals(&bank_file(&self.bank_b)).await;
        assert_eq!(total_a + total_b, MONEY, "money is not conserved");
        assert!(low_a >= 0 && low_b >= 0, "a negative balance");
        a.len()
    }
}

async fn connect(file: &Path) -> Option<SqliteConnection> {
    SqliteConnection::connect_with(&SqliteConnectOptions::new().filename(file))
        .await
        .ok()
}

/// How many prepared records the bank holds (`None`: unreadable now).
async fn prepared(file: &Path) -> Option<i64> {
    let mut connection = connect(file).await?;
    sqlx::query_scalar("SELECT count(*) FROM ithaca_wsat_prepared WHERE state = 'prepared'")
        .fetch_one(&mut connection)
        .await
        .ok()
}

/// The journal: transaction -> net movement.
async fn journal(file: &Path) -> HashMap<String, i64> {
    let mut connection = connect(file).await.unwrap();
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT tx, sum(delta) FROM bank_journal GROUP BY tx")
            .fetch_all(&mut connection)
            .await
            .unwrap();
    rows.into_iter().collect()
}

/// The sum of the balances and the lowest one.
async fn totals(file: &Path) -> (i64, i64) {
    let mut connection = connect(file).await.unwrap();
    sqlx::query_as("SELECT sum(balance), min(balance) FROM bank_account")
        .fetch_one(&mut connection)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_commit_and_an_overdraft_aborts() {
    let world = World::start(None, None).await;
    let seen = world.client.transfer(1, 2, 2_500).await;
    assert!(matches!(seen.outcome, Ok(Outcome::Committed)), "{seen:?}");
    // More than account 3 holds: InsufficientFunds, nothing moves.
    let seen_over = world.client.transfer(3, 4, OPENING + 1).await;
    assert!(
        matches!(seen_over.outcome, Ok(Outcome::Aborted)),
        "{seen_over:?}"
    );
    world.settled().await;
    assert_eq!(world.audit(&[seen, seen_over]).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bank_killed_after_prepared_recovers_and_the_transfer_is_atomic() {
    let mut world = World::start(None, Some(failpoint::PARTICIPANT_AFTER_PREPARED)).await;
    let transfer = world.spawn_transfer(1, 1, 1_000);
    world.bank_a.killed_by_failpoint().await;
    // The prepared record is on disk; the restarted bank replays Prepared
    // and the coordinator's outcome is applied.
    assert_eq!(prepared(&bank_file(&world.bank_a)).await, Some(1));
    world.bank_a.start(None).await;
    let seen = transfer.await.unwrap();
    world.settled().await;
    world.audit(&[seen]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_coordinator_killed_after_the_decision_write_commits_after_restart() {
    let mut world = World::start(Some(failpoint::COORDINATOR_AFTER_DECISION_WRITE), None).await;
    let transfer = world.spawn_transfer(2, 2, 1_500);
    world.coordinator.killed_by_failpoint().await;
    world.coordinator.start(None).await;
    let seen = transfer.await.unwrap();
    world.settled().await;
    // The decision was durable: the transfer committed in both banks.
    let tx = seen.tx.clone().expect("the transaction began");
    assert!(journal(&bank_file(&world.bank_a)).await.contains_key(&tx));
    world.audit(&[seen]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_survive_random_kill_9_of_the_banks() {
    let mut world = World::start(None, None).await;
    let mut seen = Vec::new();
    for round in 0..3u32 {
        let transfers: Vec<_> = (0..16u32)
            .map(|i| {
                let from = 1 + (i + round) % ACCOUNTS;
                let to = 1 + (i * 7 + round) % ACCOUNTS;
                world.spawn_transfer(from, to, i64::from(100 + i * 37 + round))
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(40 + u64::from(round) * 60)).await;
        let victim = if round % 2 == 0 {
            &mut world.bank_a
        } else {
            &mut world.bank_b
        };
        victim.kill();
        victim.start(None).await;
        for transfer in transfers {
            seen.push(transfer.await.unwrap());
        }
    }
    // With both banks back, a transfer commits again. (Whether any of
    // the transfers under fire committed depends on the machine's speed:
    // on a loaded one every kill can land before a commit.)
    let after = world.client.transfer(1, 2, 100).await;
    assert!(matches!(after.outcome, Ok(Outcome::Committed)), "{after:?}");
    seen.push(after);
    world.settled().await;
    let committed = world.audit(&seen).await;
    println!("{committed} of {} transfers committed", seen.len());
}
