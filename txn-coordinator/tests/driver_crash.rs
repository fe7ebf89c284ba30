//! `kill -9` of a whole coordinator in the middle of its Commit fan-out: a
//! child process (this test binary in child mode) runs a
//! `CoordinatorService` on a real log with scripted participants that vote
//! Prepared and never acknowledge, printing every Commit it is asked to
//! send; the parent kills it mid-stream, restarts a coordinator on the same
//! log and checks that every transaction a Commit was seen for is still
//! decided (its record is in the log) and gets Commit again, to every one of
//! its participants.

#![allow(clippy::unwrap_used)] // Test helpers: a failed step is a failed test.

mod driver_common;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;

use driver_common::{Harness, Store, config};
use ithaca_txn::driver::{CoordinatorService, Message, Notification, NotificationSink, SendFuture};
use ithaca_txn::engine::{Inbound, Protocol};
use ithaca_txn::log::SqliteLog;
use ithaca_txn::record::{EndpointRef, ParticipantId, TxId};
use tokio::sync::mpsc;

const CHILD_ENV: &str = "ITHACA_TXN_DRIVER_CRASH_CHILD";

/// The child's sink: Prepare goes to the scripted participants, Commit is
/// printed (one flushed line each) and never acknowledged.
struct ChildSink {
    prepares: mpsc::UnboundedSender<(TxId, ParticipantId)>,
}

impl NotificationSink for ChildSink {
    fn send<'a>(&'a self, _to: &'a EndpointRef, n: Notification) -> SendFuture<'a> {
        Box::pin(async move {
            match (n.message, n.participant) {
                (Message::Prepare, Some(p)) => {
                    let _ = self.prepares.send((n.tx, p));
                }
                (Message::Commit, Some(p)) => {
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(out, "commit {} {}", n.tx, p.0);
                    let _ = out.flush();
                }
                _ => {}
            }
            Ok(())
        })
    }
}

/// Child mode only: does nothing in a normal test run.
#[test]
fn child_coordinator_process() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async move {
        let log = SqliteLog::open(path.as_ref(), "node-a").await.unwrap();
        let (prepares, mut prepare_rx) = mpsc::unbounded_channel();
        let service =
            CoordinatorService::start(config(), Arc::new(log), Arc::new(ChildSink { prepares }))
                .unwrap();
        service.recovered().await.unwrap();
        let voter = service.clone();
        tokio::spawn(async move {
            while let Some((tx, p)) = prepare_rx.recv().await {
                let _ = voter.deliver(&tx, p, Protocol::Durable2Pc, Inbound::Prepared);
            }
        });
        loop {
            let tx = service.create(None).unwrap();
            let init = service
                .register(&tx, Protocol::Completion, EndpointRef::new("http://init"))
                .unwrap();
            for n in 0..3 {
                service
                    .register(
                        &tx,
                        Protocol::Durable2Pc,
                        EndpointRef::new(format!("http://p{n}/2pc")),
                    )
                    .unwrap();
            }
            service
                .deliver(&tx, init, Protocol::Completion, Inbound::Commit)
                .unwrap();
            tokio::task::yield_now().await;
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_commit_fan_out_loses_no_decision() {
    let store = Store::new(false);
    let Store::Sqlite(dir) = &store else {
        unreachable!()
    };
    let path = dir.path().join("txn.db");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_coordinator_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut commits: HashMap<TxId, HashSet<u32>> = HashMap::new();
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let mut words = line.split(' ');
        if let (Some("commit"), Some(tx), Some(p)) = (words.next(), words.next(), words.next()) {
            commits
                .entry(TxId(tx.to_owned()))
                .or_default()
                .insert(p.parse().unwrap());
            if commits.len() >= 40 {
                break;
            }
        }
    }
    assert!(commits.len() >= 40, "the child stopped early");
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let h = Harness::start_on(store, "node-a", 0, config()).await;
    let logged: HashMap<TxId, usize> = h
        .log
        .load_unfinished()
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.tx, r.participants.len()))
        .collect();
    for tx in commits.keys() {
        // The decision was forced, with every participant, before the
        // first Commit of the fan-out.
        assert_eq!(logged.get(tx), Some(&3), "decision for {tx} lost");
    }
    for tx in commits.keys() {
        for n in 0..3 {
            h.expect(tx, &format!("http://p{n}/2pc"), Message::Commit, 1)
                .await;
        }
    }
}
