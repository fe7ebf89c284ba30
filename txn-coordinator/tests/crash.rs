//! `kill -9` right after decisions are acknowledged: a child process (this
//! test binary, re-run in child mode) forces decisions through group commit
//! and prints each one as it is acknowledged; the parent kills it mid-stream
//! and checks that every acknowledged decision is in the log on reopen, and
//! that a recovering engine resends Commit for each of them.

#![allow(clippy::unwrap_used)] // Test helpers: a failed step is a failed test.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use ithaca_txn::engine::{Command as EngineCommand, Config, Coordinator, Outbound};
use ithaca_txn::log::{CoordinatorLog, GroupCommit, GroupCommitConfig, PgLog, SqliteLog};
use ithaca_txn::record::{DecidedParticipant, DecisionRecord, EndpointRef, ParticipantId, TxId};

/// Set in the child: `sqlite:PATH` or `postgres:URL`.
const CHILD_ENV: &str = "ITHACA_TXN_CRASH_CHILD";
const INSTANCE: &str = "crash-node";

fn record(n: u64) -> DecisionRecord {
    DecisionRecord {
        tx: TxId(format!("urn:uuid:crash-{n:08}")),
        participants: (0..2)
            .map(|id| DecidedParticipant {
                id: ParticipantId(id),
                endpoint: EndpointRef::new(format!("https://p{id}.example/2pc")),
            })
            .collect(),
    }
}

async fn write_forever<L: CoordinatorLog + 'static>(log: L) {
    let writer = GroupCommit::spawn(Arc::new(log), GroupCommitConfig::default());
    let (acks, mut acked) = tokio::sync::mpsc::unbounded_channel::<TxId>();
    for task in 0..8u64 {
        let writer = writer.clone();
        let acks = acks.clone();
        tokio::spawn(async move {
            for n in 0.. {
                let record = record(task * 1_000_000 + n);
                let tx = record.tx.clone();
                writer.append(record).await.expect("append");
                if acks.send(tx).is_err() {
                    return;
                }
            }
        });
    }
    // One printer, so lines never interleave; each line is flushed before
    // the next acknowledgement is taken.
    let mut out = std::io::stdout().lock();
    while let Some(tx) = acked.recv().await {
        writeln!(out, "acked {tx}").expect("stdout");
        out.flush().expect("stdout");
    }
}

/// Child mode only: does nothing in a normal test run.
#[test]
fn child_writer_process() {
    let Ok(target) = std::env::var(CHILD_ENV) else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        if let Some(path) = target.strip_prefix("sqlite:") {
            write_forever(SqliteLog::open(path.as_ref(), INSTANCE).await.unwrap()).await;
        } else if let Some(url) = target.strip_prefix("postgres:") {
            write_forever(PgLog::connect(url, INSTANCE).await.unwrap()).await;
        }
    });
}

/// Runs the child against `target`, kills it with SIGKILL after `at_least`
/// acknowledgements, and returns every acknowledged transaction.
fn run_and_kill(target: &str, at_least: usize) -> Vec<TxId> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_writer_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, target)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut acked = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(tx) = line.strip_prefix("acked ") {
            acked.push(TxId(tx.to_owned()));
            if acked.len() >= at_least {
                break;
            }
        }
    }
    assert!(acked.len() >= at_least, "the child stopped early");
    child.kill().unwrap(); // SIGKILL
    // Lines already in the pipe were acknowledged before the kill.
    for line in lines {
        let Ok(line) = line else { break };
        if let Some(tx) = line.strip_prefix("acked ") {
            acked.push(TxId(tx.to_owned()));
        }
    }
    child.wait().unwrap();
    acked
}

async fn check_recovery<L: CoordinatorLog>(log: &L, acked: &[TxId]) {
    let loaded = log.load_unfinished().await.unwrap();
    let stored: std::collections::HashSet<&TxId> = loaded.iter().map(|r| &r.tx).collect();
    for tx in acked {
        assert!(stored.contains(tx), "acknowledged decision {tx} lost");
    }
    // A coordinator restarted on this log resends Commit for each of them.
    let mut engine = Coordinator::recovering(Config::default());
    engine.handle_log_loaded(loaded, Instant::now());
    let commits: std::collections::HashSet<TxId> = std::iter::from_fn(|| engine.poll_command())
        .filter_map(|c| match c {
            EngineCommand::Send {
                tx,
                message: Outbound::Commit,
                ..
            } => Some(tx),
            _ => None,
        })
        .collect();
    for tx in acked {
        assert!(commits.contains(tx), "no Commit resent for {tx}");
    }
}

#[test]
fn sqlite_acknowledged_decisions_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("txn.db");
    let acked = run_and_kill(&format!("sqlite:{}", path.display()), 300);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let log = SqliteLog::open(&path, INSTANCE).await.unwrap();
        check_recovery(&log, &acked).await;
    });
}

#[test]
fn postgres_acknowledged_decisions_survive_kill_9() {
    let db = ithaca_testkit::pg::database().expect("a PostgreSQL test cluster");
    let acked = run_and_kill(&format!("postgres:{}", db.url()), 300);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let log = PgLog::connect(db.url(), INSTANCE).await.unwrap();
        check_recovery(&log, &acked).await;
        log.close().await;
    });
}
