//! Failures around the coordinator: a store outage (activation refused
//! with CannotCreateContext, decisions held back, service resuming by
//! itself when the store returns: a real PostgreSQL database closed to
//! connections, and a SQLite log switched off), and unreachable peers
//! (sends retried with capped backoff, a bounded number of times, without
//! holding up other transactions).

#![allow(clippy::unwrap_used)] // Test helpers: a failed step is a failed test.

mod driver_common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use driver_common::{Harness, INITIATOR, WAIT, config, count};
use ithaca_txn::driver::testing::RecordingSink;
use ithaca_txn::driver::{CoordinatorService, DriverError, Message, RetryPolicy};
use ithaca_txn::engine::{Inbound, Protocol};
use ithaca_txn::log::{CoordinatorLog, FencingToken, InstanceId, LogError, LogFuture, SqliteLog};
use ithaca_txn::record::{DecisionRecord, HeuristicRecord, ParticipantId, TxId};

const P1: &str = "http://p1/2pc";
const P2: &str = "http://p2/2pc";

/// Waits until `check` holds.
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check() {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Closes the test database to connections and ends the open ones, as an
/// outage would; `false` opens it again.
fn database_down(db: &ithaca_testkit::pg::TestDatabase<'static>, down: bool) {
    let name = db.name();
    db.cluster()
        .psql(
            "postgres",
            &format!("ALTER DATABASE {name} ALLOW_CONNECTIONS {}", !down),
        )
        .unwrap();
    if down {
        db.cluster()
            .psql(
                "postgres",
                &format!(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
                ),
            )
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_refuses_activation_holds_decisions_and_resumes() {
    let h = Harness::start(true).await;
    let (tx, init, ps) = h.transaction(&[(Protocol::Durable2Pc, P1), (Protocol::Durable2Pc, P2)]);
    h.complete(&tx, init, Inbound::Commit);
    h.expect(&tx, P2, Message::Prepare, 1).await;

    database_down(h.store.postgres().unwrap(), true);
    h.durable(&tx, ps[0], Inbound::Prepared);
    h.durable(&tx, ps[1], Inbound::Prepared);
    // The decision cannot be written: it is held back, and activation is
    // refused once the store is known to be down.
    eventually("the store marked down", || {
        !h.service.metrics().store_available
    })
    .await;
    assert!(matches!(
        h.service.create(None),
        Err(DriverError::CannotCreateContext { .. })
    ));
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        count(&h.sink, &tx, P1, Message::Commit),
        0,
        "Commit without its decision"
    );
    assert_eq!(count(&h.sink, &tx, INITIATOR, Message::Committed), 0);
    assert!(h.service.metrics().decision_write_failures >= 1);

    // The database returns: the held decision is written, Commit goes out,
    // activation works again, with nobody's help.
    database_down(h.store.postgres().unwrap(), false);
    h.expect(&tx, P1, Message::Commit, 1).await;
    h.expect(&tx, P2, Message::Commit, 1).await;
    eventually("activation resumed", || h.service.create(None).is_ok()).await;
    h.durable(&tx, ps[0], Inbound::Committed);
    h.durable(&tx, ps[1], Inbound::Committed);
    h.expect(&tx, INITIATOR, Message::Committed, 1).await;
    h.expect_log_empty().await;
}

/// A SQLite log that fails every operation while `down` is set.
struct SwitchedLog {
    inner: SqliteLog,
    down: Arc<AtomicBool>,
}

impl SwitchedLog {
    fn check(&self) -> Result<(), LogError> {
        if self.down.load(Ordering::Relaxed) {
            Err(LogError::Batch("the disk is gone".to_owned()))
        } else {
            Ok(())
        }
    }
}

impl CoordinatorLog for SwitchedLog {
    fn instance(&self) -> &InstanceId {
        self.inner.instance()
    }
    fn token(&self) -> FencingToken {
        self.inner.token()
    }
    fn append_decisions<'a>(&'a self, batch: &'a [DecisionRecord]) -> LogFuture<'a, ()> {
        Box::pin(async move {
            self.check()?;
            self.inner.append_decisions(batch).await
        })
    }
    fn mark_participant_done<'a>(
        &'a self,
        tx: &'a TxId,
        participant: ParticipantId,
    ) -> LogFuture<'a, ()> {
        Box::pin(async move {
            self.check()?;
            self.inner.mark_participant_done(tx, participant).await
        })
    }
    fn forget<'a>(&'a self, tx: &'a TxId) -> LogFuture<'a, ()> {
        Box::pin(async move {
            self.check()?;
            self.inner.forget(tx).await
        })
    }
    fn load_unfinished(&self) -> LogFuture<'_, Vec<DecisionRecord>> {
        Box::pin(async move {
            self.check()?;
            self.inner.load_unfinished().await
        })
    }
    fn record_heuristic<'a>(&'a self, record: &'a HeuristicRecord) -> LogFuture<'a, ()> {
        Box::pin(async move {
            self.check()?;
            self.inner.record_heuristic(record).await
        })
    }
    fn heuristics(&self) -> LogFuture<'_, Vec<HeuristicRecord>> {
        Box::pin(async move {
            self.check()?;
            self.inner.heuristics().await
        })
    }
    fn ping(&self) -> LogFuture<'_, ()> {
        Box::pin(async move {
            self.check()?;
            self.inner.ping().await
        })
    }
    fn claim(&self) -> LogFuture<'_, ()> {
        Box::pin(async move {
            self.check()?;
            self.inner.claim().await
        })
    }
    fn adopt<'a>(
        &'a self,
        dead: &'a InstanceId,
        token: FencingToken,
    ) -> LogFuture<'a, Arc<dyn CoordinatorLog>> {
        self.inner.adopt(dead, token)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_down_at_start_delays_recovery_until_it_returns() {
    let dir = tempfile::tempdir().unwrap();
    let down = Arc::new(AtomicBool::new(true));
    let log = SwitchedLog {
        inner: SqliteLog::open(&dir.path().join("txn.db"), "node-a")
            .await
            .unwrap(),
        down: Arc::clone(&down),
    };
    let sink = RecordingSink::new();
    let service = CoordinatorService::start(config(), Arc::new(log), Arc::new(sink)).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!service.is_recovered());
    assert!(matches!(
        service.create(None),
        Err(DriverError::CannotCreateContext { .. })
    ));
    down.store(false, Ordering::Relaxed);
    tokio::time::timeout(WAIT, service.recovered())
        .await
        .unwrap()
        .unwrap();
    assert!(service.create(None).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_outage_holds_the_decision_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let down = Arc::new(AtomicBool::new(false));
    let log = SwitchedLog {
        inner: SqliteLog::open(&dir.path().join("txn.db"), "node-a")
            .await
            .unwrap(),
        down: Arc::clone(&down),
    };
    let sink = RecordingSink::new();
    let service =
        CoordinatorService::start(config(), Arc::new(log), Arc::new(sink.clone())).unwrap();
    service.recovered().await.unwrap();
    let tx = service.create(None).unwrap();
    let init = service
        .register(
            &tx,
            Protocol::Completion,
            ithaca_txn::record::EndpointRef::new(INITIATOR),
        )
        .unwrap();
    let p = service
        .register(
            &tx,
            Protocol::Durable2Pc,
            ithaca_txn::record::EndpointRef::new(P1),
        )
        .unwrap();
    service
        .deliver(&tx, init, Protocol::Completion, Inbound::Commit)
        .unwrap();
    down.store(true, Ordering::Relaxed);
    service
        .deliver(&tx, p, Protocol::Durable2Pc, Inbound::Prepared)
        .unwrap();
    eventually("the store marked down", || {
        !service.metrics().store_available
    })
    .await;
    assert!(service.create(None).is_err());
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(count(&sink, &tx, P1, Message::Commit), 0);
    down.store(false, Ordering::Relaxed);
    assert!(
        sink.wait_for(WAIT, |_| count(&sink, &tx, P1, Message::Commit) >= 1)
            .await
    );
    eventually("activation resumed", || service.create(None).is_ok()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_peers_get_bounded_retries_without_blocking_others() {
    let mut config = config();
    // Only the driver's retries within this test's time: no engine resend.
    config.engine.resend_after = Duration::from_secs(60);
    config.send_retry = RetryPolicy {
        max_attempts: 4,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(40),
    };
    let h = Harness::start_with(false, config).await;
    h.sink.unreachable(P1);
    let (stuck, stuck_init, _) = h.transaction(&[(Protocol::Durable2Pc, P1)]);
    h.complete(&stuck, stuck_init, Inbound::Commit);

    // Another transaction commits meanwhile, unhindered.
    let (tx, init, ps) = h.transaction(&[(Protocol::Durable2Pc, P2)]);
    h.complete(&tx, init, Inbound::Commit);
    h.expect(&tx, P2, Message::Prepare, 1).await;
    h.durable(&tx, ps[0], Inbound::Prepared);
    h.expect(&tx, P2, Message::Commit, 1).await;

    let attempts = |sent: &[ithaca_txn::driver::testing::Sent]| {
        sent.iter()
            .filter(|s| s.notification.tx == stuck && s.to.address == P1)
            .map(|s| s.notification.attempt)
            .collect::<Vec<_>>()
    };
    assert!(
        h.sink
            .wait_for(WAIT, |sent| attempts(sent).len() >= 4)
            .await
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(attempts(&h.sink.sent()), [1, 2, 3, 4], "bounded attempts");
    assert!(
        h.sink
            .sent()
            .iter()
            .all(|s| s.to.address != P1 || !s.delivered)
    );
    let metrics = h.service.metrics();
    assert_eq!(metrics.send_failures, 4);
}

#[test]
fn backoff_doubles_up_to_its_cap_and_jitter_stays_within_it() {
    let policy = RetryPolicy {
        max_attempts: 10,
        initial_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_secs(1),
    };
    let waits: Vec<u128> = (1..=6).map(|a| policy.backoff(a).as_millis()).collect();
    assert_eq!(waits, [100, 200, 400, 800, 1000, 1000]);
    for attempt in 1..=6 {
        for random in [0, 1, u64::MAX / 3, u64::MAX] {
            let wait = policy.jittered(attempt, random);
            let full = policy.backoff(attempt);
            assert!(
                wait >= full / 2 && wait <= full,
                "{wait:?} outside {full:?}"
            );
        }
    }
}
