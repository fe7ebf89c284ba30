//! The engine wired to a real log through group commit, as the driver will
//! do it: many transactions commit at once, their decisions share flushes,
//! no Commit leaves before its decision is durable, and the log is empty
//! once every participant has answered.

#![allow(clippy::unwrap_used)] // Test helpers: a failed step is a failed test.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ithaca_txn::engine::{Command, Config, Coordinator, Inbound, Outbound, Protocol};
use ithaca_txn::log::{CoordinatorLog, GroupCommit, GroupCommitConfig, SqliteLog};
use ithaca_txn::record::{EndpointRef, TxId};
use tokio::task::JoinSet;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_transactions_share_flushes_and_leave_an_empty_log() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(
        SqliteLog::open(&dir.path().join("txn.db"), "node-a")
            .await
            .unwrap(),
    );
    let writer = GroupCommit::spawn(
        Arc::clone(&log),
        GroupCommitConfig {
            max_delay: Duration::from_millis(5),
            ..GroupCommitConfig::default()
        },
    );
    let now = Instant::now();
    let mut engine = Coordinator::new(Config::default());
    let count = 100;
    let mut participants = Vec::new();
    for n in 0..count {
        let tx = TxId(format!("urn:uuid:{n}"));
        engine.handle_create(tx.clone(), None, now).unwrap();
        let init = engine
            .handle_register(&tx, Protocol::Completion, EndpointRef::new("init"), now)
            .unwrap();
        let a = engine
            .handle_register(&tx, Protocol::Durable2Pc, EndpointRef::new("a"), now)
            .unwrap();
        let b = engine
            .handle_register(&tx, Protocol::Durable2Pc, EndpointRef::new("b"), now)
            .unwrap();
        engine.handle_message(&tx, init, Protocol::Completion, None, Inbound::Commit, now);
        participants.push((tx, a, b));
    }
    for (tx, a, b) in &participants {
        for p in [*a, *b] {
            engine.handle_message(tx, p, Protocol::Durable2Pc, None, Inbound::Prepared, now);
        }
    }

    // The driver: every ForceLog goes to the group-commit writer at once.
    let mut writes = JoinSet::new();
    let mut durable = HashSet::new();
    let mut commits = Vec::new();
    loop {
        while let Some(command) = engine.poll_command() {
            match command {
                Command::ForceLog(record) => {
                    let writer = writer.clone();
                    writes.spawn(async move {
                        let tx = record.tx.clone();
                        writer.append(record).await.map(|()| tx)
                    });
                }
                Command::Send {
                    tx,
                    to,
                    message: Outbound::Commit,
                    ..
                } => {
                    assert!(
                        durable.contains(&tx),
                        "Commit before the decision was durable"
                    );
                    commits.push((tx, to));
                }
                Command::ForgetLog(tx) => log.forget(&tx).await.unwrap(),
                Command::ParticipantDone { tx, participant } => {
                    log.mark_participant_done(&tx, participant).await.unwrap();
                }
                _ => {}
            }
        }
        if let Some(written) = writes.join_next().await {
            let tx = written.unwrap().unwrap();
            durable.insert(tx.clone());
            engine.handle_log_written(&tx, true, now);
        } else if let Some((tx, p)) = commits.pop() {
            engine.handle_message(&tx, p, Protocol::Durable2Pc, None, Inbound::Committed, now);
        } else {
            break;
        }
    }
    assert_eq!(durable.len(), count);
    let stats = writer.stats();
    assert_eq!(stats.decisions, count as u64);
    assert!(
        stats.flushes < stats.decisions,
        "decisions were not batched: {stats:?}"
    );
    assert_eq!(log.load_unfinished().await.unwrap(), vec![]);
}
