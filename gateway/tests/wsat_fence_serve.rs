//! A coordinator fenced off by a takeover never leaves a participant in
//! doubt, and operators see the takeover; real processes and a real
//! PostgreSQL (the world of `wsat_takeover_serve.rs`: the oracle hosting
//! the banks, coordinators `a` and `b` on one log, `b` backing up `a`).
//!
//! `a` holds two transactions when it is paused (`kill -STOP`):
//!
//! - T1, decided: a scripted durable participant voted Prepared, `a`
//!   forced the commit decision, and the participant never answers
//!   Commit, so the decision stays unfinished in the log (and makes `b`
//!   take `a` over);
//! - T2, undecided: bank-a's debit is prepared (`PREPARE TRANSACTION`,
//!   locks held), another durable participant has not voted, and T2
//!   expires only in three minutes.
//!
//! While `a` is stopped, `b` takes it over: its admin JSON and `ithaca txn
//! list` show the takeover (`a`, when, the fencing token, T1 recovered)
//! and T1 as taken over by `b` from `a`. A participant of `a`'s that
//! reaches `b` is refused while `a` lives (InvalidParameters: `b` cannot
//! authenticate it, and must not guess an outcome `a` may still decide);
//! once `b` took `a` over (and loaded `a`'s published correlation key) it
//! is answered: Commit for T1, Rollback for T2 (presumed abort, `a` can no
//! longer log a decision). Then `kill -CONT`: `a` finds its fence
//! raised, rolls T2 back at once (presumed abort: it can no longer log a
//! decision), and bank-a's prepared transaction is gone from
//! `pg_prepared_xacts` long before T2 would expire, the money where it
//! was. Restarted, the fenced `a` answers a Prepared about a transaction
//! it no longer holds from the log (Commit for T1, Rollback for T2)
//! instead of refusing it for good.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use ithaca_gateway::wsat::client::{BeginOptions, Outcome};
use ithaca_services::bank::{self, message};
use ithaca_txn::wire::{Body, FaultKind, Notification};
use support::heuristic::{CapturingParticipant, admin, notify, register_durable, txn};
use support::takeover_world::{
    ACCOUNTS, OPENING, World, journal_of, log_state, prepared, total, wait_for,
};

/// The phase `a` shows for `tx` in its admin JSON, if it holds it.
async fn phase_at(node: &support::serve_node::ServeNode, tx: &str) -> Option<String> {
    let snapshot = admin(node, "", None).await;
    snapshot["transactions"]
        .as_array()?
        .iter()
        .find(|t| t["id"] == tx)
        .and_then(|t| t["phase"].as_str().map(str::to_owned))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_coordinator_taken_over_rolls_back_what_it_had_not_decided() {
    let mut world = World::start(None).await;
    let long = BeginOptions {
        expires: Some(Duration::from_secs(180)),
        outcome_timeout: Duration::from_secs(120),
        ..world.client.options
    };
    let activation = world.client.activation.clone();
    let (p1, p2) = (
        CapturingParticipant::start().await,
        CapturingParticipant::start().await,
    );

    // T1: decided at a, its Commit never answered.
    let t1 = world.client.wsat.begin(&activation, long).await.unwrap();
    let t1_id = t1.context().identifier.clone();
    let t1_participant = register_durable(&world.a, t1.context(), &p1.address).await;
    let t1_outcome = tokio::spawn(t1.commit());
    wait_for!(world, "T1 preparing at a", {
        phase_at(&world.a, &t1_id).await.as_deref() == Some("preparing-durable")
    });
    let (status, _) = notify(&world.a, &t1_participant, Notification::Prepared, None).await;
    assert_eq!(status, 202);
    assert!(matches!(t1_outcome.await.unwrap(), Ok(Outcome::Committed)));
    let coord = world.cluster.url("coord");
    assert_eq!(log_state(&coord, &t1_id, "a").await.0, 1, "T1's decision");

    // T2: bank-a's debit prepared, another participant silent.
    let t2 = world.client.wsat.begin(&activation, long).await.unwrap();
    let t2_id = t2.context().identifier.clone();
    let debit = message::debit_request("1", 500);
    let action = bank::soap_action(bank::operation::DEBIT);
    t2.call(&world.client.from, Some(&action), &[], &debit)
        .await
        .expect("debit at bank-a");
    let t2_silent = register_durable(&world.a, t2.context(), &p2.address).await;
    let t2_outcome = tokio::spawn(t2.commit());
    wait_for!(world, "bank-a's branch of T2 prepared", {
        prepared(&world.db_a).await == Some(1)
    });

    // While a lives, b refuses a's participants: it cannot authenticate
    // them, and an answer could contradict a's decision.
    let (status, answer) = notify(&world.b, &t2_silent, Notification::Prepared, None).await;
    assert_eq!(status, 500);
    assert!(
        matches!(answer.map(|m| m.body), Some(Body::Fault(f)) if f.kind == FaultKind::InvalidParameters)
    );

    // a stops; b takes it over (T1's decision is unfinished).
    world.a.pause();
    wait_for!(world, "b takes a over", {
        World::metric(&world.b, "ithaca_wsat_takeovers_total").await == 1
    });
    assert_eq!(prepared(&world.db_a).await, Some(1), "T2 still in doubt");

    // Operators see it: b's admin JSON and `ithaca txn list`.
    let snapshot = admin(&world.b, "", None).await;
    let takeover = &snapshot["takeovers"][0];
    assert_eq!(takeover["instance"], "a", "{snapshot}");
    assert_eq!(takeover["transaction_count"], 1, "{snapshot}");
    assert_eq!(takeover["transactions"][0], t1_id.as_str(), "{snapshot}");
    assert!(
        takeover["token"].as_u64().is_some_and(|t| t > 0),
        "{snapshot}"
    );
    let taken_at = takeover["taken_at"].as_str().unwrap();
    assert!(
        taken_at.len() == 20 && taken_at.ends_with('Z'),
        "{taken_at}"
    );
    let recovered = snapshot["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == t1_id.as_str())
        .expect("b holds T1");
    assert_eq!(recovered["owner"], "a");
    let listing = txn(&world.b, None, &["list"]);
    assert!(listing.ok, "{}", listing.stderr);
    let line = listing
        .stdout
        .lines()
        .find(|l| l.starts_with(&t1_id))
        .unwrap_or_else(|| panic!("{}", listing.stdout));
    assert!(
        line.ends_with("taken over by b from a"),
        "{}",
        listing.stdout
    );
    assert!(
        listing
            .stdout
            .contains(&format!("took over a at {taken_at}")),
        "{}",
        listing.stdout
    );

    // Once b took a over, a's participants reaching b are answered (a is
    // still stopped: only b can be sending these).
    let commits = p1.count_from(Notification::Commit, &world.b.base());
    let (status, _) = notify(&world.b, &t1_participant, Notification::Prepared, None).await;
    assert_eq!(status, 202);
    wait_for!(world, "b answers T1's Prepared with Commit", {
        p1.count_from(Notification::Commit, &world.b.base()) > commits
    });
    let (status, _) = notify(
        &world.b,
        &t2_silent,
        Notification::Prepared,
        Some(&p2.address),
    )
    .await;
    assert_eq!(status, 202);
    wait_for!(world, "b answers T2's Prepared with Rollback", {
        p2.count_unattributed(Notification::Rollback) >= 1
    });
    assert_eq!(prepared(&world.db_a).await, Some(1), "a still holds T2");

    // a runs on: fenced, it rolls T2 back well before T2 expires.
    world.a.resume();
    let resumed = Instant::now();
    wait_for!(world, "bank-a's prepared branch resolved", {
        prepared(&world.db_a).await == Some(0)
    });
    println!(
        "a resumed -> bank-a's branch rolled back: {:?}",
        resumed.elapsed()
    );
    assert_eq!(journal_of(&world.db_a, &t2_id).await, (0, 0));
    assert_eq!(total(&world.db_a).await, i64::from(ACCOUNTS) * OPENING);
    assert!(matches!(t2_outcome.await.unwrap(), Ok(Outcome::Aborted)));
    let at_a = admin(&world.a, "", None).await;
    assert_eq!(at_a["fenced"], true, "{at_a}");
    assert!(
        world
            .a
            .log_tail()
            .contains("this instance was taken over by another"),
        "{}",
        world.logs()
    );
    assert_eq!(
        log_state(&coord, &t2_id, "a").await.0,
        0,
        "a logged nothing"
    );

    // Restarted, the fenced a answers a Prepared about a transaction it no
    // longer holds from the log (T1 decided, T2 not) instead of refusing
    // it as still recovering.
    world.a.kill();
    world.a.start_until(None, "fenced (/readyz 503)", 503).await;
    let (commits, rollbacks) = (
        p1.count_unattributed(Notification::Commit),
        p2.count_unattributed(Notification::Rollback),
    );
    let (status, _) = notify(
        &world.a,
        &t1_participant,
        Notification::Prepared,
        Some(&p1.address),
    )
    .await;
    assert_eq!(status, 202, "{}", world.logs());
    let (status, _) = notify(
        &world.a,
        &t2_silent,
        Notification::Prepared,
        Some(&p2.address),
    )
    .await;
    assert_eq!(status, 202, "{}", world.logs());
    wait_for!(world, "the restarted fenced a answers from the log", {
        p1.count_unattributed(Notification::Commit) > commits
            && p2.count_unattributed(Notification::Rollback) > rollbacks
    });
}
