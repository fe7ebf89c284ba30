//! One conformance suite for every `CoordinatorLog` store, run against the
//! SQLite store (a temporary file) and the PostgreSQL store (a database in
//! the test harness's real throwaway cluster).

#![allow(clippy::unwrap_used)] // Test helpers: a failed step is a failed test.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ithaca_txn::log::{
    CoordinatorLog, GroupCommit, GroupCommitConfig, LogError, PgLog, Resolution, ResolveOutcome,
    SqliteLog,
};
use ithaca_txn::record::{
    DecidedParticipant, DecisionRecord, EndpointRef, HeuristicKind, HeuristicRecord, ParticipantId,
    TxId,
};

/// What the suite needs from a store beyond the trait: open it (again) for
/// an instance, and run raw SQL to plant bad rows.
trait Backend: Sync {
    type Log: CoordinatorLog + 'static;
    fn open(&self, instance: &str) -> impl Future<Output = Self::Log> + Send;
    fn exec(&self, log: &Self::Log, sql: &'static str) -> impl Future<Output = ()> + Send;
    fn close(&self, log: Self::Log) -> impl Future<Output = ()> + Send;
    fn close_pool(&self, log: &Self::Log) -> impl Future<Output = ()> + Send;
}

struct Sqlite(tempfile::TempDir);

impl Backend for Sqlite {
    type Log = SqliteLog;
    async fn open(&self, instance: &str) -> SqliteLog {
        SqliteLog::open(&self.0.path().join("txn.db"), instance)
            .await
            .unwrap()
    }
    async fn exec(&self, log: &SqliteLog, sql: &'static str) {
        sqlx::query(sql).execute(log.pool()).await.unwrap();
    }
    async fn close(&self, log: SqliteLog) {
        log.close().await;
    }
    async fn close_pool(&self, log: &SqliteLog) {
        log.close().await;
    }
}

struct Postgres(ithaca_testkit::pg::TestDatabase<'static>);

impl Backend for Postgres {
    type Log = PgLog;
    async fn open(&self, instance: &str) -> PgLog {
        PgLog::connect(self.0.url(), instance).await.unwrap()
    }
    async fn exec(&self, log: &PgLog, sql: &'static str) {
        sqlx::query(sql).execute(log.pool()).await.unwrap();
    }
    async fn close(&self, log: PgLog) {
        log.close().await;
    }
    async fn close_pool(&self, log: &PgLog) {
        log.close().await;
    }
}

fn sqlite() -> Sqlite {
    Sqlite(tempfile::tempdir().unwrap())
}

fn postgres() -> Postgres {
    Postgres(ithaca_testkit::pg::database().expect("a PostgreSQL test cluster"))
}

fn record(tx: &str, participants: &[u32]) -> DecisionRecord {
    DecisionRecord {
        tx: TxId(tx.to_owned()),
        participants: participants
            .iter()
            .map(|&id| DecidedParticipant {
                id: ParticipantId(id),
                endpoint: EndpointRef {
                    address: format!("https://bank-{id}.example/wsat/participant"),
                    reference_parameters: format!(
                        "<ref:Id xmlns:ref=\"urn:ithaca:ref\">{tx}/{id}</ref:Id>"
                    ),
                },
            })
            .collect(),
    }
}

async fn append_then_reload_after_reopen<B: Backend>(b: &B) {
    let log = b.open("node-a").await;
    assert_eq!(log.load_unfinished().await.unwrap(), vec![]);
    let batch = vec![record("urn:uuid:1", &[0, 2]), record("urn:uuid:2", &[1])];
    log.append_decisions(&batch).await.unwrap();
    b.close(log).await;
    let log = b.open("node-a").await;
    assert_eq!(log.load_unfinished().await.unwrap(), batch);
    b.close(log).await;
}

/// A subordinate's prepared record names its superior under the reserved
/// participant number `u32::MAX`: it round-trips, and stays while its local
/// participants are marked done (only forgetting drops it).
async fn a_subordinate_prepared_record_keeps_its_superior<B: Backend>(b: &B) {
    let log = b.open("node-a").await;
    let mut prepared = record("urn:uuid:sub", &[0, 1]);
    prepared.participants.push(DecidedParticipant {
        id: ParticipantId::SUPERIOR,
        endpoint: EndpointRef {
            address: "https://superior.example/wsat/2pc".to_owned(),
            reference_parameters: "<ic:Correlation xmlns:ic=\"urn:x\" tx=\"urn:uuid:top\"/>"
                .to_owned(),
        },
    });
    log.append_decisions(std::slice::from_ref(&prepared))
        .await
        .unwrap();
    b.close(log).await;
    let log = b.open("node-a").await;
    let loaded = log.load_unfinished().await.unwrap();
    assert_eq!(loaded, vec![prepared.clone()]);
    assert_eq!(
        loaded[0].superior().map(|s| s.address.as_str()),
        Some("https://superior.example/wsat/2pc")
    );
    let tx = prepared.tx.clone();
    log.apply_lazy(
        &[
            (tx.clone(), ParticipantId(0)),
            (tx.clone(), ParticipantId(1)),
        ],
        &[],
    )
    .await
    .unwrap();
    let loaded = log.load_unfinished().await.unwrap();
    assert_eq!(loaded.len(), 1);
    assert!(loaded[0].superior().is_some());
    assert_eq!(loaded[0].participants.len(), 1);
    log.forget(&tx).await.unwrap();
    assert_eq!(log.load_unfinished().await.unwrap(), vec![]);
    b.close(log).await;
}

async fn appending_again_is_a_no_op<B: Backend>(b: &B) {
    let log = b.open("node-a").await;
    let one = record("urn:uuid:1", &[0, 1]);
    log.append_decisions(std::slice::from_ref(&one))
        .await
        .unwrap();
    log.append_decisions(&[one.clone(), one.clone()])
        .await
        .unwrap();
    assert_eq!(log.load_unfinished().await.unwrap(), vec![one]);
    b.close(log).await;
}

async fn done_participants_and_forgotten_decisions_are_not_reloaded<B: Backend>(b: &B) {
    let log = b.open("node-a").await;
    log.append_decisions(&[record("urn:uuid:1", &[0, 1]), record("urn:uuid:2", &[3])])
        .await
        .unwrap();
    let tx1 = TxId("urn:uuid:1".to_owned());
    log.mark_participant_done(&tx1, ParticipantId(0))
        .await
        .unwrap();
    b.close(log).await;
    let log = b.open("node-a").await;
    assert_eq!(
        log.load_unfinished().await.unwrap(),
        vec![record("urn:uuid:1", &[1]), record("urn:uuid:2", &[3])]
    );
    // A decision whose participants are all done but not yet forgotten is
    // reloaded with no one left to tell (the engine then forgets it).
    log.mark_participant_done(&tx1, ParticipantId(1))
        .await
        .unwrap();
    assert_eq!(
        log.load_unfinished().await.unwrap()[0],
        DecisionRecord {
            tx: tx1.clone(),
            participants: vec![]
        }
    );
    log.forget(&tx1).await.unwrap();
    log.forget(&TxId("urn:uuid:never".to_owned()))
        .await
        .unwrap();
    b.close(log).await;
    let log = b.open("node-a").await;
    assert_eq!(
        log.load_unfinished().await.unwrap(),
        vec![record("urn:uuid:2", &[3])]
    );
    b.close(log).await;
}

/// One `apply_lazy` call marks participants done and forgets decisions
/// (of this instance only) together, as the driver's lazy writer batches
/// them; a handle whose records were adopted by a newer token is refused.
async fn a_batch_of_lazy_updates_applies_together<B: Backend>(b: &B) {
    let log = b.open("node-a").await;
    log.append_decisions(&[
        record("urn:uuid:1", &[0, 1]),
        record("urn:uuid:2", &[3, 4]),
        record("urn:uuid:3", &[5]),
    ])
    .await
    .unwrap();
    let other = b.open("node-b").await;
    other
        .append_decisions(&[record("urn:uuid:9", &[1])])
        .await
        .unwrap();
    let tx = |id: &str| TxId(id.to_owned());
    log.apply_lazy(
        &[
            (tx("urn:uuid:2"), ParticipantId(3)),
            (tx("urn:uuid:3"), ParticipantId(5)),
            (tx("urn:uuid:9"), ParticipantId(1)),
        ],
        &[tx("urn:uuid:1"), tx("urn:uuid:9")],
    )
    .await
    .unwrap();
    log.apply_lazy(&[], &[]).await.unwrap();
    b.close(log).await;
    let log = b.open("node-a").await;
    assert_eq!(
        log.load_unfinished().await.unwrap(),
        vec![
            record("urn:uuid:2", &[4]),
            DecisionRecord {
                tx: tx("urn:uuid:3"),
                participants: vec![],
            },
        ]
    );
    // Another instance's rows are untouched.
    assert_eq!(
        other.load_unfinished().await.unwrap(),
        vec![record("urn:uuid:9", &[1])]
    );
    let taker = b.open("node-c").await;
    let adopted = taker
        .adopt(log.instance(), ithaca_txn::log::FencingToken(7))
        .await
        .unwrap();
    let refused = log.apply_lazy(&[], &[tx("urn:uuid:2")]).await.unwrap_err();
    assert!(refused.is_fenced(), "{refused}");
    adopted
        .apply_lazy(&[(tx("urn:uuid:2"), ParticipantId(4))], &[tx("urn:uuid:3")])
        .await
        .unwrap();
    assert_eq!(
        adopted.load_unfinished().await.unwrap(),
        vec![DecisionRecord {
            tx: tx("urn:uuid:2"),
            participants: vec![],
        }]
    );
    b.close(log).await;
    b.close(other).await;
    b.close(taker).await;
}

async fn instances_read_only_their_own_decisions<B: Backend>(b: &B) {
    let a = b.open("node-a").await;
    a.append_decisions(&[record("urn:uuid:a", &[0])])
        .await
        .unwrap();
    b.close(a).await;
    let other = b.open("node-b").await;
    assert_eq!(other.load_unfinished().await.unwrap(), vec![]);
    b.close(other).await;
}

async fn heuristics_are_kept_for_an_operator<B: Backend>(b: &B) {
    let log = b.open("node-a").await;
    let h = HeuristicRecord {
        tx: TxId("urn:uuid:1".to_owned()),
        participant: ParticipantId(7),
        endpoint: EndpointRef::new("https://bank.example/p"),
        kind: HeuristicKind::AbortedAfterCommit,
    };
    log.append_decisions(&[record("urn:uuid:1", &[7])])
        .await
        .unwrap();
    log.record_heuristic(&h).await.unwrap();
    log.forget(&h.tx).await.unwrap();
    b.close(log).await;
    let log = b.open("node-a").await;
    assert_eq!(log.heuristics().await.unwrap(), vec![h]);
    b.close(log).await;
}

fn heuristic(tx: &str, participant: u32, kind: HeuristicKind) -> HeuristicRecord {
    HeuristicRecord {
        tx: TxId(tx.to_owned()),
        participant: ParticipantId(participant),
        endpoint: EndpointRef::new(format!("https://bank.example/p{participant}")),
        kind,
    }
}

async fn an_operator_resolves_heuristics_which_stay_as_history<B: Backend>(b: &B) {
    let log = b.open("node-a").await;
    let first = heuristic("urn:uuid:1", 7, HeuristicKind::AbortedAfterCommit);
    let second = heuristic("urn:uuid:1", 8, HeuristicKind::InconsistentInternalState);
    let other_tx = heuristic("urn:uuid:2", 1, HeuristicKind::CommittedAfterRollback);
    for h in [&first, &second, &other_tx] {
        log.record_heuristic(h).await.unwrap();
    }
    let resolution = Resolution::new(&first.tx, "alice", "refunded 120 EUR by hand").unwrap();
    assert_eq!(
        log.resolve_heuristic(&first.tx, &resolution).await.unwrap(),
        ResolveOutcome::Resolved(2)
    );
    assert_eq!(log.heuristics().await.unwrap(), vec![other_tx.clone()]);

    // Again: nothing changes, the first resolution is kept.
    let again = Resolution::new(&first.tx, "bob", "me too").unwrap();
    assert_eq!(
        log.resolve_heuristic(&first.tx, &again).await.unwrap(),
        ResolveOutcome::AlreadyResolved
    );
    // A transaction with no outcome, here or only in another instance's
    // records, is named in the error.
    let nowhere = TxId("urn:uuid:nowhere".to_owned());
    let error = log
        .resolve_heuristic(&nowhere, &resolution)
        .await
        .unwrap_err();
    assert!(
        matches!(error, LogError::UnknownHeuristic { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("urn:uuid:nowhere"), "{error}");
    let node_b = b.open("node-b").await;
    let error = node_b
        .resolve_heuristic(&other_tx.tx, &resolution)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("urn:uuid:2"), "{error}");
    b.close(node_b).await;

    // The resolution is durable: after reopening, the history has who,
    // when and why, and the open list only the unresolved outcome.
    b.close(log).await;
    let log = b.open("node-a").await;
    assert_eq!(log.heuristics().await.unwrap(), vec![other_tx.clone()]);
    let history = log.heuristic_history().await.unwrap();
    let records: Vec<&HeuristicRecord> = history.iter().map(|e| &e.record).collect();
    assert_eq!(records, [&first, &second, &other_tx]);
    for entry in &history[..2] {
        let resolved = entry.resolved.as_ref().unwrap();
        assert_eq!(resolved.resolution, resolution);
        let at = resolved.resolved_at.as_bytes();
        assert_eq!(at.len(), "2026-11-24T22:01:05Z".len(), "{resolved:?}");
        assert_eq!((at[4], at[10], at[19]), (b'-', b'T', b'Z'), "{resolved:?}");
    }
    assert_eq!(history[2].resolved, None);

    // A later outcome of a resolved transaction is open again.
    let late = heuristic("urn:uuid:1", 9, HeuristicKind::AbortedAfterCommit);
    log.record_heuristic(&late).await.unwrap();
    assert_eq!(
        log.heuristics().await.unwrap(),
        vec![other_tx.clone(), late.clone()]
    );
    assert_eq!(
        log.resolve_heuristic(&late.tx, &again).await.unwrap(),
        ResolveOutcome::Resolved(1)
    );
    assert_eq!(log.heuristics().await.unwrap(), vec![other_tx]);
    b.close(log).await;
}

async fn invalid_records_are_refused<B: Backend>(b: &B) {
    let log = b.open("node-a").await;
    for bad in [record("", &[0]), record("urn:uuid:1", &[])] {
        let err = log.append_decisions(&[bad]).await.unwrap_err();
        assert!(matches!(err, LogError::Invalid { .. }), "{err}");
    }
    // Nothing of a refused batch is written.
    let err = log
        .append_decisions(&[record("urn:uuid:ok", &[0]), record("", &[0])])
        .await
        .unwrap_err();
    assert!(matches!(err, LogError::Invalid { .. }));
    assert_eq!(log.load_unfinished().await.unwrap(), vec![]);
    b.close(log).await;
}

async fn corrupt_rows_are_refused_with_an_error<B: Backend>(b: &B) {
    let log = b.open("node-a").await;
    b.exec(
        &log,
        "INSERT INTO wsat_decision (tx_id, instance) VALUES ('urn:bad', 'node-a')",
    )
    .await;
    b.exec(
        &log,
        "INSERT INTO wsat_decision_participant (tx_id, participant, address, reference_parameters) \
         VALUES ('urn:bad', -1, 'https://x', '')",
    )
    .await;
    let err = log.load_unfinished().await.unwrap_err();
    assert!(matches!(err, LogError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("urn:bad"), "{err}");

    b.exec(
        &log,
        "UPDATE wsat_decision_participant SET participant = 4294967296",
    )
    .await;
    assert!(matches!(
        log.load_unfinished().await,
        Err(LogError::Corrupt { .. })
    ));
    b.exec(
        &log,
        "UPDATE wsat_decision_participant SET participant = 1, address = ''",
    )
    .await;
    assert!(matches!(
        log.load_unfinished().await,
        Err(LogError::Corrupt { .. })
    ));

    b.exec(
        &log,
        "INSERT INTO wsat_heuristic (instance, tx_id, participant, address, reference_parameters, kind) \
         VALUES ('node-a', 'urn:bad', 1, 'https://x', '', 'bogus')",
    )
    .await;
    let err = log.heuristics().await.unwrap_err();
    assert!(err.to_string().contains("bogus"), "{err}");
    b.exec(
        &log,
        "UPDATE wsat_heuristic SET kind = 'aborted-after-commit', resolved_by = 'half'",
    )
    .await;
    let err = log.heuristic_history().await.unwrap_err();
    assert!(matches!(err, LogError::Corrupt { .. }), "{err}");
    b.close(log).await;
}

async fn concurrent_group_commits_are_all_durable<B: Backend>(b: &B) {
    let log = Arc::new(b.open("node-a").await);
    let writer = GroupCommit::spawn(
        Arc::clone(&log),
        GroupCommitConfig {
            max_batch: 64,
            max_delay: Duration::from_millis(10),
            ..GroupCommitConfig::default()
        },
    );
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let writer = writer.clone();
            tokio::spawn(async move {
                writer
                    .append(record(&format!("urn:uuid:{i:04}"), &[0, 1]))
                    .await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let stats = writer.stats();
    assert_eq!(stats.decisions, 200);
    assert!(
        stats.flushes < 200 && stats.flushes >= 200 / 64,
        "decisions were not batched: {stats:?}"
    );
    // A refused record fails alone, before it reaches a batch.
    assert!(matches!(
        writer.append(record("urn:uuid:empty", &[])).await,
        Err(LogError::Invalid { .. })
    ));
    drop(writer);
    b.close_pool(&log).await;
    let log = b.open("node-a").await;
    let loaded = log.load_unfinished().await.unwrap();
    assert_eq!(loaded.len(), 200);
    assert!(loaded.iter().all(|r| r.participants.len() == 2));
    b.close(log).await;
}

async fn a_failed_batch_fails_every_waiter<B: Backend>(b: &B) {
    let log = Arc::new(b.open("node-a").await);
    // The database is unreachable for the writer from now on.
    b.close_pool(&log).await;
    let writer = GroupCommit::spawn(Arc::clone(&log), GroupCommitConfig::default());
    let (a, c) = tokio::join!(
        writer.append(record("urn:uuid:1", &[0])),
        writer.append(record("urn:uuid:2", &[0]))
    );
    for result in [a, c] {
        assert!(matches!(result, Err(LogError::Batch(_))), "{result:?}");
    }
}

macro_rules! suite {
    ($($check:ident),* $(,)?) => {
        mod sqlite_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    super::$check(&super::sqlite()).await;
                }
            )*
        }
        mod postgres_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    super::$check(&super::postgres()).await;
                }
            )*
        }
    };
}

suite!(
    append_then_reload_after_reopen,
    a_subordinate_prepared_record_keeps_its_superior,
    appending_again_is_a_no_op,
    done_participants_and_forgotten_decisions_are_not_reloaded,
    a_batch_of_lazy_updates_applies_together,
    instances_read_only_their_own_decisions,
    heuristics_are_kept_for_an_operator,
    an_operator_resolves_heuristics_which_stay_as_history,
    invalid_records_are_refused,
    corrupt_rows_are_refused_with_an_error,
    concurrent_group_commits_are_all_durable,
);

mod failures {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_store_a_failed_batch_fails_every_waiter() {
        super::a_failed_batch_fails_every_waiter(&super::sqlite()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_store_a_failed_batch_fails_every_waiter() {
        super::a_failed_batch_fails_every_waiter(&super::postgres()).await;
    }
}
