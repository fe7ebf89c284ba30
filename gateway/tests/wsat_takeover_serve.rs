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

use std::time::{Duration, Instant};

use ithaca_txn::failpoint;
use support::takeover_world::{
    ACCOUNTS, OPENING, World, journal_of, log_state, prepared, total, wait_for,
};

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
    // Restarted under its name, a coordinates again: /readyz answers 200
    // (what `start` waits for) only once its log is loaded.
    world.a.start(None).await;
    assert_eq!(
        support::heuristic::admin(&world.a, "", None).await["recovered"],
        true
    );
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
