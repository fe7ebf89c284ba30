//! The WS-AT crash matrix, with real processes and a real PostgreSQL.
//!
//! Each test starts a throwaway PostgreSQL cluster (the harness's, with
//! `max_prepared_transactions` > 0) holding three databases, and three
//! `ithaca serve` processes: the coordinator (`[wsat] enabled`, its log on
//! PostgreSQL) and two banks (`[[bank]]` bank-a and bank-b, each on its own
//! database). Transfers are driven from the test process with the
//! library's `WsatClient` (its Completion initiator endpoint on an
//! in-process gateway): begin, `Debit` bank-a, `Credit` bank-b with the
//! context header, commit.
//!
//! A process is made to die at an exact point with the failpoints of
//! `ithaca_txn::failpoint` (`ITHACA_FAILPOINTS`, SIGKILL to itself, the same
//! as `kill -9` at that line), or is `kill -9`ed from outside, and started
//! again. Afterwards every test checks what a bank's auditor would:
//!
//! - atomicity: every transaction is in both banks' journals (debited in
//!   one, credited in the other, same amount) or in neither; a transaction
//!   the client was told Committed is in both, one told Aborted in neither;
//! - nothing stays in doubt: `pg_prepared_xacts` is empty in both bank
//!   databases within a bounded wait;
//! - money is conserved: the two banks' totals add up to what they opened
//!   with.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ithaca_gateway::wsat::client::Outcome;
use ithaca_services::bank::{self, message};
use ithaca_testkit::pg::PgCluster;
use ithaca_txn::failpoint;
use sqlx::Connection;
use sqlx::postgres::PgConnection;
use support::TestGateway;
use support::serve_node::ServeNode;
use support::transfer_client::{Seen, TransferClient as Client, TransferTimeouts, assert_atomic};

/// Each bank opens accounts 1..=ACCOUNTS with OPENING cents each.
const ACCOUNTS: u32 = 40;
const OPENING: i64 = 100_000;
/// What both banks hold together, always.
const MONEY: i64 = 2 * ACCOUNTS as i64 * OPENING;
/// How long everything may take to settle after the last restart.
const SETTLE: Duration = Duration::from_secs(90);
/// Replays the load test with this seed.
const SEED_ENV: &str = "ITHACA_CRASH_SEED";

/// One `ithaca serve` process (`support::serve_node`).
type Node = ServeNode;

/// A node whose configuration has `extra` after the log and membership
/// settings every node shares.
fn node(dir: &Path, name: &'static str, extra: &str) -> Node {
    ServeNode::new(
        dir,
        name,
        "",
        &format!("[log]\nfilter = \"warn\"\n\n[membership]\nenabled = false\n\n{extra}"),
    )
}

/// The cluster, the three processes and the client.
struct World {
    cluster: PgCluster,
    coordinator: Node,
    bank_a: Node,
    bank_b: Node,
    db_a: String,
    db_b: String,
    client: Arc<Client>,
    _initiator: TestGateway,
    _dir: tempfile::TempDir,
}

fn bank_table(name: &str, url: &str) -> String {
    format!(
        "[[bank]]\nname = \"{name}\"\ndatabase_url = \"{url}\"\nopen_accounts = {ACCOUNTS}\nopening_balance = {OPENING}\n"
    )
}

impl World {
    /// Starts everything; `coordinator_fp`, `bank_a_fp` arm failpoints.
    async fn start(coordinator_fp: Option<&str>, bank_a_fp: Option<&str>) -> Self {
        let cluster = PgCluster::start().expect("PostgreSQL for the crash tests");
        for db in ["coord", "bank_a", "bank_b"] {
            cluster
                .psql("postgres", &format!("CREATE DATABASE {db}"))
                .unwrap();
        }
        let (db_a, db_b) = (cluster.url("bank_a"), cluster.url("bank_b"));
        let dir = tempfile::tempdir().unwrap();
        let mut coordinator = node(
            dir.path(),
            "coordinator",
            &format!(
                "[wsat]\nenabled = true\nstore = \"{}\"\n",
                cluster.url("coord")
            ),
        );
        let mut bank_a = node(dir.path(), "bank-a", &bank_table("bank-a", &db_a));
        let mut bank_b = node(dir.path(), "bank-b", &bank_table("bank-b", &db_b));
        coordinator.start(coordinator_fp).await;
        bank_a.start(bank_a_fp).await;
        bank_b.start(None).await;

        let (client, initiator) = Client::between(
            3,
            &coordinator,
            &bank_a,
            &bank_b,
            TransferTimeouts {
                request: Duration::from_secs(10),
                outcome: Duration::from_secs(8),
                expires: Duration::from_secs(20),
            },
        )
        .await;
        Self {
            cluster,
            coordinator,
            bank_a,
            bank_b,
            db_a,
            db_b,
            client,
            _initiator: initiator,
            _dir: dir,
        }
    }

    /// One transfer run in the background.
    fn spawn_transfer(&self, from: u32, to: u32, amount: i64) -> tokio::task::JoinHandle<Seen> {
        let client = self.client.clone();
        tokio::spawn(async move { client.transfer(from, to, amount).await })
    }

    /// Waits until neither bank database holds a prepared transaction.
    async fn settled(&self) {
        let deadline = Instant::now() + SETTLE;
        loop {
            let (a, b) = (prepared(&self.db_a).await, prepared(&self.db_b).await);
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
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Checks atomicity and conservation; the committed transactions.
    async fn audit(&self, seen: &[Seen]) -> HashSet<String> {
        let (a, b) = (journal(&self.db_a).await, journal(&self.db_b).await);
        assert_atomic(&a, &b, seen);
        let total = total(&self.db_a).await + total(&self.db_b).await;
        assert_eq!(total, MONEY, "money is not conserved");
        a.into_keys().collect()
    }
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

async fn journal(url: &str) -> HashMap<String, i64> {
    let mut connection = connect(url).await.expect("bank database");
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT tx, sum(delta)::bigint FROM bank_journal GROUP BY tx")
            .fetch_all(&mut connection)
            .await
            .unwrap();
    rows.into_iter().collect()
}

async fn total(url: &str) -> i64 {
    let mut connection = connect(url).await.expect("bank database");
    sqlx::query_scalar("SELECT coalesce(sum(balance), 0)::bigint FROM bank_account")
        .fetch_one(&mut connection)
        .await
        .unwrap()
}

/// A transfer that commits normally, through three real processes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_commit_across_three_processes() {
    let world = World::start(None, None).await;
    let seen = vec![
        world.client.transfer(1, 2, 250).await,
        // More than the account holds: InsufficientFunds, rolled back.
        world.client.transfer(3, 4, OPENING + 1).await,
    ];
    assert!(
        matches!(seen[0].outcome, Ok(Outcome::Committed)),
        "{seen:?}"
    );
    assert!(matches!(seen[1].outcome, Ok(Outcome::Aborted)), "{seen:?}");
    world.settled().await;
    let committed = world.audit(&seen).await;
    assert_eq!(committed.len(), 1);
    // Outside a transaction the bank moves no money, and says why.
    let credit = message::credit_request("1", 5);
    let action = bank::soap_action(bank::operation::CREDIT);
    let refused = world
        .client
        .to
        .call(Some(&action), &credit)
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("CoordinationContext"),
        "{refused}"
    );
    // Total reads the committed balances.
    let action = bank::soap_action(bank::operation::TOTAL);
    let answer = world
        .client
        .from
        .call(Some(&action), &message::total_request())
        .await
        .unwrap();
    assert_eq!(
        message::read_field_i64(&answer.message, "total"),
        Ok(i64::from(ACCOUNTS) * OPENING - 250)
    );
}

/// The coordinator dies with a commit decision in its log for a transaction
/// whose commit left the transaction in the given failpoint.
async fn coordinator_dies_at(point: &str) {
    let mut world = World::start(Some(point), None).await;
    let transfer = world.spawn_transfer(5, 6, 700);
    world.coordinator.killed_by_failpoint().await;
    world.coordinator.start(None).await;
    let seen = transfer.await.unwrap();
    world.settled().await;
    let committed = world.audit(std::slice::from_ref(&seen)).await;
    let tx = seen.tx.clone().expect("the transaction began");
    assert!(
        committed.contains(&tx),
        "the decision was logged, so {tx} must commit in both banks ({seen:?})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordinator_killed_after_the_decision_write_commits_after_restart() {
    coordinator_dies_at(failpoint::COORDINATOR_AFTER_DECISION_WRITE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordinator_killed_in_the_middle_of_the_commit_fanout_commits_after_restart() {
    coordinator_dies_at(failpoint::COORDINATOR_MID_COMMIT_FANOUT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordinator_killed_after_the_last_committed_finishes_after_restart() {
    coordinator_dies_at(failpoint::COORDINATOR_AFTER_LAST_COMMITTED).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn participant_killed_after_prepared_recovers_and_the_transfer_is_atomic() {
    let mut world = World::start(None, Some(failpoint::PARTICIPANT_AFTER_PREPARED)).await;
    let transfer = world.spawn_transfer(7, 8, 900);
    world.bank_a.killed_by_failpoint().await;
    // Its branch is durably prepared while the process is gone.
    assert_eq!(prepared(&world.db_a).await, Some(1));
    world.bank_a.start(None).await;
    let seen = transfer.await.unwrap();
    world.settled().await;
    let committed = world.audit(std::slice::from_ref(&seen)).await;
    // The coordinator was alive and waiting for the vote: the recovered
    // branch's Prepared lets the transaction commit.
    assert!(committed.contains(seen.tx.as_ref().unwrap()), "{seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_killed_with_prepared_branches_loses_nothing() {
    // The coordinator dies right after its decision write: both branches
    // are prepared and nobody has committed them.
    let mut world = World::start(Some(failpoint::COORDINATOR_AFTER_DECISION_WRITE), None).await;
    let transfer = world.spawn_transfer(9, 10, 1100);
    world.coordinator.killed_by_failpoint().await;
    assert_eq!(prepared(&world.db_a).await, Some(1));
    assert_eq!(prepared(&world.db_b).await, Some(1));
    // PostgreSQL crashes (immediate stop) and comes back: the prepared
    // branches and the coordinator's decision survive it.
    world.cluster.stop_immediate().unwrap();
    world.cluster.restart().unwrap();
    assert_eq!(prepared(&world.db_a).await, Some(1));
    assert_eq!(prepared(&world.db_b).await, Some(1));
    world.coordinator.start(None).await;
    let seen = transfer.await.unwrap();
    world.settled().await;
    let committed = world.audit(std::slice::from_ref(&seen)).await;
    assert!(committed.contains(seen.tx.as_ref().unwrap()), "{seen:?}");
}

/// splitmix64, for the seeded choices of the load test.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Which processes the load test may kill.
#[derive(Debug, Clone, Copy)]
enum Victims {
    /// The two banks.
    Banks,
    /// The coordinator and the two banks.
    Any,
}

/// Hundreds of concurrent transfers while random processes are `kill -9`ed
/// and restarted a few times. The seed is printed (set `ITHACA_CRASH_SEED`
/// to replay one). With [`Victims::Any`], the first three kills are a
/// seeded order of all three processes, so each dies at least once.
async fn transfers_under_random_kill_9(victims: Victims) {
    const TRANSFERS: u64 = 240;
    const CONCURRENCY: u64 = 10;
    const KILLS: u64 = 4;
    let seed = std::env::var(SEED_ENV)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_secs())
        });
    println!("ITHACA_CRASH_SEED={seed} victims={victims:?}");
    let mut world = World::start(None, None).await;
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..CONCURRENCY {
        let (client, next) = (world.client.clone(), next.clone());
        workers.spawn(async move {
            let mut seen = Vec::new();
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= TRANSFERS {
                    return seen;
                }
                let r = mix(seed ^ mix(n));
                let from = u32::try_from(r % u64::from(ACCOUNTS)).unwrap() + 1;
                let to = u32::try_from((r >> 20) % u64::from(ACCOUNTS)).unwrap() + 1;
                let amount = i64::try_from((r >> 40) % 500).unwrap() + 1;
                let s = client.transfer(from, to, amount).await;
                if s.outcome.is_err() {
                    // A peer is down: do not spin against it.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                seen.push(s);
            }
        });
    }
    let mut r = mix(seed);
    // 0 = coordinator, 1 = bank-a, 2 = bank-b.
    let mut order = [0u64, 1, 2];
    for i in (1..order.len()).rev() {
        r = mix(r);
        order.swap(i, usize::try_from(r % (i as u64 + 1)).unwrap());
    }
    for kill in 0..KILLS {
        r = mix(r);
        tokio::time::sleep(Duration::from_millis(800 + r % 1200)).await;
        let pick = match victims {
            Victims::Any => order
                .get(usize::try_from(kill).unwrap())
                .copied()
                .unwrap_or((r >> 32) % 3),
            Victims::Banks => 1 + (r >> 32) % 2,
        };
        let node = match pick {
            0 => &mut world.coordinator,
            1 => &mut world.bank_a,
            _ => &mut world.bank_b,
        };
        println!("kill {kill}: kill -9 {}", node.name);
        node.kill();
        tokio::time::sleep(Duration::from_millis(300)).await;
        node.start(None).await;
    }
    let mut seen = Vec::new();
    while let Some(result) = workers.join_next().await {
        seen.extend(result.unwrap());
    }
    world.settled().await;
    let committed = world.audit(&seen).await;
    let told_committed = seen
        .iter()
        .filter(|s| matches!(s.outcome, Ok(Outcome::Committed)))
        .count();
    let failed = seen.iter().filter(|s| s.outcome.is_err()).count();
    println!(
        "transfers={} committed={} (client told {told_committed}) failed={failed}",
        seen.len(),
        committed.len()
    );
    assert!(told_committed > 0, "some transfers committed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_transfers_survive_random_kill_9_of_the_banks() {
    transfers_under_random_kill_9(Victims::Banks).await;
}

/// The coordinator dies too: a branch prepared for a transaction the
/// coordinator had not decided when it was killed is resolved by presumed
/// abort, because the participant's resent Prepared names its participant
/// endpoint as ReplyTo and the restarted coordinator, with no record of
/// the transaction, answers it with Rollback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_transfers_survive_random_kill_9_of_any_process() {
    transfers_under_random_kill_9(Victims::Any).await;
}
