//! A heuristic outcome is kept for an operator: a real `ithaca serve`
//! coordinator (SQLite log) rolls a transaction back, and its durable
//! participant, which had committed on its own, answers `Committed` (the
//! set-up is `support::heuristic`). The operator then finds the outcome
//! (`committed-after-rollback`, the transaction, the participant's number
//! and address) in the admin JSON (`GET /admin/txn`), in `ithaca txn list`
//! and in `ithaca txn show ID`, and still finds it there after the
//! coordinator is `kill -9`ed and started again.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::heuristic::{self, CONFIG, PARTICIPANT, txn};
use support::serve_node::ServeNode;

/// What an operator checks: the admin JSON lists the outcome, and both
/// `txn list` and `txn show` print it.
async fn assert_kept(node: &ServeNode, tx: &str) {
    let snapshot = heuristic::admin(node, "", None).await;
    let heuristics = snapshot["heuristics"].as_array().expect("heuristics read");
    assert!(
        heuristics.iter().any(|h| h["tx"] == tx
            && h["kind"] == "committed-after-rollback"
            && h["address"] == PARTICIPANT),
        "{snapshot}"
    );
    let list = txn(node, None, &["list"]);
    assert!(list.ok, "{}", list.stderr);
    let list = list.stdout;
    assert!(
        list.contains("heuristic outcomes") && list.contains(tx),
        "{list}"
    );
    assert!(list.contains("committed-after-rollback"), "{list}");
    let show = txn(node, None, &["show", tx]);
    assert!(show.ok, "{}", show.stderr);
    let show = show.stdout;
    assert!(
        show.contains(&format!("transaction {tx}")) && show.contains("committed-after-rollback"),
        "{show}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_participant_committed_after_rollback_is_kept_for_the_operator_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = ServeNode::new(dir.path(), "coordinator", "bank = []", CONFIG);
    node.start(None).await;
    let tx = heuristic::make_heuristic(&node, None).await;
    assert_kept(&node, &tx).await;

    // kill -9 and start again: the log still holds it, though the
    // transaction itself is gone.
    node.kill();
    node.start(None).await;
    let held = txn(&node, None, &["show", &tx, "--json"]);
    assert!(!held.ok, "an aborted transaction is not reloaded");
    assert_kept(&node, &tx).await;
}
