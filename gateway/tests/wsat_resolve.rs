//! An operator resolves a heuristic outcome: on a real `ithaca serve`
//! coordinator (SQLite log) with an admin token, a `committed-after-
//! rollback` outcome appears (set-up shared with `wsat_heuristic.rs`, in
//! `support::heuristic`); `ithaca txn resolve ID --note TEXT` is refused
//! without the token or with a wrong one, and with it the outcome leaves
//! `ithaca txn list` but stays, with who resolved it and the note, in
//! `ithaca txn list --all`, `ithaca txn show ID` and the admin JSON, also
//! after the coordinator is `kill -9`ed and started again.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;

use support::heuristic::{self, CONFIG, TxnRun, txn};
use support::serve_node::ServeNode;

const TOKEN: &str = "resolve-test-token-0123456789";

const NOTE: &str = "refunded 120 EUR to the payer, ticket OPS-7";

/// Writes a CLI configuration holding `token` (none: an empty file).
fn cli_config(dir: &Path, name: &str, token: Option<&str>) -> std::path::PathBuf {
    let path = dir.join(name);
    let text = token.map_or_else(String::new, |t| format!("[admin]\ntoken = \"{t}\"\n"));
    std::fs::write(&path, text).unwrap();
    path
}

/// A failed run with one line on stderr holding every one of `words`.
fn assert_refused(run: &TxnRun, words: &[&str]) {
    assert!(!run.ok, "{}", run.stdout);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    for word in words {
        assert!(run.stderr.contains(word), "{word:?} in {}", run.stderr);
    }
}

/// What an operator checks once it is resolved: gone from `txn list`,
/// listed with who and why by `txn list --all`, `txn show` and the JSON.
async fn assert_resolved(node: &ServeNode, operator: &Path, tx: &str) {
    let open = txn(node, Some(operator), &["list"]);
    assert!(open.ok, "{}", open.stderr);
    // (The aborted transaction itself may still be listed a while.)
    assert!(
        !open.stdout.contains("heuristic outcomes")
            && !open.stdout.contains("committed-after-rollback"),
        "{}",
        open.stdout
    );
    let all = txn(node, Some(operator), &["list", "--all"]);
    assert!(all.ok, "{}", all.stderr);
    assert!(
        all.stdout.contains("resolved heuristic outcomes:") && all.stdout.contains(tx),
        "{}",
        all.stdout
    );
    assert!(
        all.stdout.contains("resolved by alice at ") && all.stdout.contains(NOTE),
        "{}",
        all.stdout
    );
    let show = txn(node, Some(operator), &["show", tx]);
    assert!(show.ok, "{}", show.stderr);
    assert!(
        show.stdout.contains("committed-after-rollback (resolved)")
            && show.stdout.contains("resolved by alice")
            && show.stdout.contains(NOTE),
        "{}",
        show.stdout
    );
    let snapshot = heuristic::admin(node, "?heuristics=all", Some(TOKEN)).await;
    let kept = snapshot["heuristics"].as_array().unwrap();
    let entry = kept.iter().find(|h| h["tx"] == tx).unwrap();
    assert_eq!(entry["resolution"]["operator"], "alice", "{snapshot}");
    assert_eq!(entry["resolution"]["note"], NOTE, "{snapshot}");
    let open = heuristic::admin(node, "", Some(TOKEN)).await;
    assert_eq!(open["heuristics"], serde_json::json!([]), "{open}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_with_the_admin_token_resolves_a_heuristic_outcome_durably() {
    let dir = tempfile::tempdir().unwrap();
    let tail = format!("{CONFIG}\n[admin]\ntoken = \"{TOKEN}\"\n");
    let mut node =
        ServeNode::new(dir.path(), "coordinator", "bank = []", &tail).with_admin_token(TOKEN);
    node.start(None).await;
    let operator = cli_config(dir.path(), "operator.toml", Some(TOKEN));
    let stranger = cli_config(dir.path(), "stranger.toml", None);
    let wrong = cli_config(dir.path(), "wrong.toml", Some("not-the-token-0123456789"));

    // The outcome appears, open.
    let tx = heuristic::make_heuristic(&node, Some(TOKEN)).await;
    let list = txn(&node, Some(&operator), &["list"]);
    assert!(list.ok, "{}", list.stderr);
    assert!(
        list.stdout.contains(&tx) && list.stdout.contains("ithaca txn resolve"),
        "{}",
        list.stdout
    );

    // Without the token, or with a wrong one: refused, nothing changes.
    let resolve = [
        "resolve",
        tx.as_str(),
        "--operator",
        "alice",
        "--note",
        NOTE,
    ];
    assert_refused(
        &txn(&node, Some(&stranger), &resolve),
        &["403", "admin token"],
    );
    assert_refused(&txn(&node, Some(&wrong), &resolve), &["403", "admin token"]);
    let still = heuristic::admin(&node, "", Some(TOKEN)).await;
    assert!(
        still["heuristics"].as_array().unwrap().len() == 1,
        "{still}"
    );

    // A blank note is refused before asking; an unknown id by the gateway.
    assert_refused(
        &txn(
            &node,
            Some(&operator),
            &["resolve", &tx, "--operator", "alice", "--note", " "],
        ),
        &["note is empty", &tx],
    );
    assert_refused(
        &txn(
            &node,
            Some(&operator),
            &[
                "resolve",
                "urn:uuid:nope",
                "--operator",
                "alice",
                "--note",
                NOTE,
            ],
        ),
        &["404", "urn:uuid:nope"],
    );

    // With the token: resolved; again: nothing changes.
    let done = txn(&node, Some(&operator), &resolve);
    assert!(done.ok, "{}", done.stderr);
    assert!(
        done.stdout.contains(&format!(
            "resolved 1 heuristic outcome(s) of transaction {tx}"
        )),
        "{}",
        done.stdout
    );
    let again = txn(&node, Some(&operator), &resolve);
    assert!(again.ok, "{}", again.stderr);
    assert!(
        again.stdout.contains("already resolved"),
        "{}",
        again.stdout
    );
    assert_resolved(&node, &operator, &tx).await;

    // kill -9 and start again: the resolution is in the log.
    node.kill();
    node.start(None).await;
    assert_resolved(&node, &operator, &tx).await;
}
