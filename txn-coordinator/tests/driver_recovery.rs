//! Recovery at the driver level: a restarted coordinator resends Commit for
//! every logged decision, refuses to answer anything about unknown
//! transactions until its log is loaded, and answers by presumed abort
//! afterwards; on both stores.

#![allow(clippy::unwrap_used)] // Test helpers: a failed step is a failed test.

mod driver_common;

use std::sync::Arc;
use std::time::Duration;

use driver_common::{Harness, INITIATOR, WAIT, config};
use ithaca_txn::driver::testing::RecordingSink;
use ithaca_txn::driver::{CoordinatorService, Delivered, DriverError, Message};
use ithaca_txn::engine::{Fault, Inbound, Protocol};
use ithaca_txn::log::{CoordinatorLog, FencingToken, InstanceId, LogFuture, SqliteLog};
use ithaca_txn::record::{DecisionRecord, EndpointRef, HeuristicRecord, ParticipantId, TxId};
use tokio::sync::Semaphore;

const P1: &str = "http://p1/2pc";

/// A decision is logged but its Commit never gets through; the coordinator
/// "crashes" (is shut down) and a new one on the same log resends Commit
/// and finishes the transaction.
async fn restart_resends_commit_for_logged_decisions(postgres: bool) {
    let h = Harness::start(postgres).await;
    let (tx, init, ps) = h.transaction(&[(Protocol::Durable2Pc, P1)]);
    h.complete(&tx, init, Inbound::Commit);
    h.expect(&tx, P1, Message::Prepare, 1).await;
    h.sink.unreachable(P1);
    h.durable(&tx, ps[0], Inbound::Prepared);
    h.expect(&tx, INITIATOR, Message::Committed, 1).await;
    h.service.shutdown().await;
    let Harness { store, .. } = h;

    let h = Harness::start_on(store, "node-a", 0, config()).await;
    h.expect(&tx, P1, Message::Commit, 1).await;
    assert_eq!(h.service.metrics().in_doubt, 1);
    h.durable(&tx, ps[0], Inbound::Committed);
    h.expect_log_empty().await;
    // After the load, a Prepared for a transaction nobody knows gets the
    // presumed-abort Rollback at its ReplyTo.
    let unknown = TxId("urn:uuid:never-heard-of".into());
    let delivered = h
        .service
        .deliver_from(
            &unknown,
            ParticipantId(0),
            Protocol::Durable2Pc,
            Inbound::Prepared,
            Some(EndpointRef::new(P1)),
        )
        .unwrap();
    assert_eq!(delivered, Delivered::UnknownTransaction);
    h.expect(&unknown, P1, Message::Rollback, 1).await;
    // A volatile one gets the UnknownTransaction fault instead.
    h.service
        .deliver_from(
            &unknown,
            ParticipantId(1),
            Protocol::Volatile2Pc,
            Inbound::Prepared,
            Some(EndpointRef::new("http://v1")),
        )
        .unwrap();
    h.expect(
        &unknown,
        "http://v1",
        Message::Fault(Fault::UnknownTransaction),
        1,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_resends_commit_for_logged_decisions_sqlite() {
    restart_resends_commit_for_logged_decisions(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_resends_commit_for_logged_decisions_postgres() {
    restart_resends_commit_for_logged_decisions(true).await;
}

/// A log whose `load_unfinished` waits until the test opens the gate.
struct GatedLog {
    inner: SqliteLog,
    gate: Arc<Semaphore>,
}

impl CoordinatorLog for GatedLog {
    fn instance(&self) -> &InstanceId {
        self.inner.instance()
    }
    fn token(&self) -> FencingToken {
        self.inner.token()
    }
    fn append_decisions<'a>(&'a self, batch: &'a [DecisionRecord]) -> LogFuture<'a, ()> {
        self.inner.append_decisions(batch)
    }
    fn mark_participant_done<'a>(
        &'a self,
        tx: &'a TxId,
        participant: ParticipantId,
    ) -> LogFuture<'a, ()> {
        self.inner.mark_participant_done(tx, participant)
    }
    fn forget<'a>(&'a self, tx: &'a TxId) -> LogFuture<'a, ()> {
        self.inner.forget(tx)
    }
    fn load_unfinished(&self) -> LogFuture<'_, Vec<DecisionRecord>> {
        Box::pin(async move {
            let _open = self.gate.acquire().await;
            self.inner.load_unfinished().await
        })
    }
    fn record_heuristic<'a>(&'a self, record: &'a HeuristicRecord) -> LogFuture<'a, ()> {
        self.inner.record_heuristic(record)
    }
    fn heuristics(&self) -> LogFuture<'_, Vec<HeuristicRecord>> {
        self.inner.heuristics()
    }
    fn ping(&self) -> LogFuture<'_, ()> {
        self.inner.ping()
    }
    fn claim(&self) -> LogFuture<'_, ()> {
        self.inner.claim()
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
async fn nothing_is_presumed_before_the_log_is_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let gate = Arc::new(Semaphore::new(0));
    let log = GatedLog {
        inner: SqliteLog::open(&dir.path().join("txn.db"), "node-a")
            .await
            .unwrap(),
        gate: Arc::clone(&gate),
    };
    let sink = RecordingSink::new();
    let service =
        CoordinatorService::start(config(), Arc::new(log), Arc::new(sink.clone())).unwrap();
    let tx = TxId("urn:uuid:from-before-the-crash".into());
    let refused = service.deliver_from(
        &tx,
        ParticipantId(0),
        Protocol::Durable2Pc,
        Inbound::Prepared,
        Some(EndpointRef::new(P1)),
    );
    assert!(
        matches!(refused, Err(DriverError::Recovering)),
        "{refused:?}"
    );
    assert!(refused.unwrap_err().is_retryable());
    assert!(matches!(
        service.create(None),
        Err(DriverError::CannotCreateContext { .. })
    ));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        sink.sent().is_empty(),
        "answered before recovery: {:?}",
        sink.sent()
    );

    gate.add_permits(1);
    tokio::time::timeout(WAIT, service.recovered())
        .await
        .unwrap()
        .unwrap();
    // The participant retries and now gets the presumed-abort answer.
    service
        .deliver_from(
            &tx,
            ParticipantId(0),
            Protocol::Durable2Pc,
            Inbound::Prepared,
            Some(EndpointRef::new(P1)),
        )
        .unwrap();
    assert!(
        sink.wait_for(WAIT, |sent| sent
            .iter()
            .any(|s| s.notification.message == Message::Rollback))
            .await
    );
    assert!(service.create(None).is_ok());
}
