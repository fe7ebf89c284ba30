//! The OASIS WS-TX 1.1 interop scenarios (AT1.1–AT5.6, as Narayana's
//! interop suite names them) at the driver level: a real coordinator
//! service on a real log, the SQLite store and the PostgreSQL store of the
//! test cluster, with scripted participants answering through
//! `CoordinatorService::deliver` what the recording sink shows them.

#![allow(clippy::unwrap_used)] // Test helpers: a failed step is a failed test.

mod driver_common;

use std::time::Duration;

use driver_common::{Harness, INITIATOR, WAIT, config, count};
use ithaca_txn::driver::Message;
use ithaca_txn::engine::{Inbound, Outcome, Protocol};

const P1: &str = "http://p1/2pc";
const P2: &str = "http://p2/2pc";

/// AT1.1 CompletionCommit: an initiator commits a transaction with no
/// participant and is told Committed.
async fn completion_commit(postgres: bool) {
    let h = Harness::start(postgres).await;
    let (tx, init, _) = h.transaction(&[]);
    h.complete(&tx, init, Inbound::Commit);
    assert_eq!(h.service.outcome(&tx).await.unwrap(), Outcome::Committed);
    h.expect(&tx, INITIATOR, Message::Committed, 1).await;
}

/// AT1.2 CompletionRollback: the initiator rolls back and is told Aborted.
async fn completion_rollback(postgres: bool) {
    let h = Harness::start(postgres).await;
    let (tx, init, _) = h.transaction(&[]);
    h.complete(&tx, init, Inbound::Rollback);
    assert_eq!(h.service.outcome(&tx).await.unwrap(), Outcome::Aborted);
    h.expect(&tx, INITIATOR, Message::Aborted, 1).await;
}

/// AT2.1 Commit: two durable participants prepare and commit; the decision
/// is logged before the first Commit and dropped after the last Committed.
async fn commit(postgres: bool) {
    let h = Harness::start(postgres).await;
    let (tx, init, ps) = h.transaction(&[(Protocol::Durable2Pc, P1), (Protocol::Durable2Pc, P2)]);
    h.complete(&tx, init, Inbound::Commit);
    h.expect(&tx, P1, Message::Prepare, 1).await;
    h.expect(&tx, P2, Message::Prepare, 1).await;
    h.durable(&tx, ps[0], Inbound::Prepared);
    h.durable(&tx, ps[1], Inbound::Prepared);
    h.expect(&tx, P1, Message::Commit, 1).await;
    // The decision was durable before Commit went out.
    let logged = h.log.load_unfinished().await.unwrap();
    assert!(logged.iter().any(|r| r.tx == tx), "no decision logged");
    h.expect(&tx, P2, Message::Commit, 1).await;
    assert_eq!(h.service.outcome(&tx).await.unwrap(), Outcome::Committed);
    h.durable(&tx, ps[0], Inbound::Committed);
    h.durable(&tx, ps[1], Inbound::Committed);
    h.expect(&tx, INITIATOR, Message::Committed, 1).await;
    h.expect_log_empty().await;
    assert_eq!(h.service.metrics().commits, 1);
}

/// AT2.2 Rollback: the initiator rolls back; every participant gets
/// Rollback, nothing is logged.
async fn rollback(postgres: bool) {
    let h = Harness::start(postgres).await;
    let (tx, init, _) = h.transaction(&[(Protocol::Durable2Pc, P1), (Protocol::Durable2Pc, P2)]);
    h.complete(&tx, init, Inbound::Rollback);
    h.expect(&tx, P1, Message::Rollback, 1).await;
    h.expect(&tx, P2, Message::Rollback, 1).await;
    h.expect(&tx, INITIATOR, Message::Aborted, 1).await;
    assert_eq!(count(&h.sink, &tx, P1, Message::Prepare), 0);
    assert!(h.log.load_unfinished().await.unwrap().is_empty());
    assert_eq!(h.service.metrics().aborts, 1);
}

/// AT3.1 Phase2Rollback: one participant votes Prepared, the other
/// Aborted: the prepared one is rolled back, the initiator told Aborted.
async fn phase2_rollback(postgres: bool) {
    let h = Harness::start(postgres).await;
    let (tx, init, ps) = h.transaction(&[(Protocol::Durable2Pc, P1), (Protocol::Durable2Pc, P2)]);
    h.complete(&tx, init, Inbound::Commit);
    h.expect(&tx, P2, Message::Prepare, 1).await;
    h.durable(&tx, ps[0], Inbound::Prepared);
    h.durable(&tx, ps[1], Inbound::Aborted);
    h.expect(&tx, P1, Message::Rollback, 1).await;
    h.expect(&tx, INITIATOR, Message::Aborted, 1).await;
    assert_eq!(count(&h.sink, &tx, P2, Message::Rollback), 0);
    assert_eq!(count(&h.sink, &tx, P1, Message::Commit), 0);
    assert!(h.log.load_unfinished().await.unwrap().is_empty());
}

/// AT3.2 Readonly: one participant votes ReadOnly and leaves; the other
/// commits, and only it is in the decision.
async fn readonly(postgres: bool) {
    let h = Harness::start(postgres).await;
    let (tx, init, ps) = h.transaction(&[(Protocol::Durable2Pc, P1), (Protocol::Durable2Pc, P2)]);
    h.complete(&tx, init, Inbound::Commit);
    h.expect(&tx, P2, Message::Prepare, 1).await;
    h.durable(&tx, ps[0], Inbound::ReadOnly);
    h.durable(&tx, ps[1], Inbound::Prepared);
    h.expect(&tx, P2, Message::Commit, 1).await;
    let logged = h.log.load_unfinished().await.unwrap();
    let decision = logged.iter().find(|r| r.tx == tx).unwrap();
    assert_eq!(decision.participants.len(), 1);
    assert_eq!(decision.participants[0].endpoint.address, P2);
    h.durable(&tx, ps[1], Inbound::Committed);
    h.expect(&tx, INITIATOR, Message::Committed, 1).await;
    assert_eq!(count(&h.sink, &tx, P1, Message::Commit), 0);
    h.expect_log_empty().await;
}

/// AT3.3 VolatileAndDurable: the volatile participant is prepared (and
/// votes) before the durable one is asked; both commit.
async fn volatile_and_durable(postgres: bool) {
    let h = Harness::start(postgres).await;
    let (tx, init, ps) = h.transaction(&[(Protocol::Volatile2Pc, P1), (Protocol::Durable2Pc, P2)]);
    h.complete(&tx, init, Inbound::Commit);
    h.expect(&tx, P1, Message::Prepare, 1).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        count(&h.sink, &tx, P2, Message::Prepare),
        0,
        "durable prepared before the volatile vote"
    );
    h.service
        .deliver(&tx, ps[0], Protocol::Volatile2Pc, Inbound::Prepared)
        .unwrap();
    h.expect(&tx, P2, Message::Prepare, 1).await;
    h.durable(&tx, ps[1], Inbound::Prepared);
    h.expect(&tx, P1, Message::Commit, 1).await;
    h.expect(&tx, P2, Message::Commit, 1).await;
    // Only the durable participant is in the decision.
    let logged = h.log.load_unfinished().await.unwrap();
    let decision = logged.iter().find(|r| r.tx == tx).unwrap();
    assert_eq!(decision.participants.len(), 1);
    h.service
        .deliver(&tx, ps[0], Protocol::Volatile2Pc, Inbound::Committed)
        .unwrap();
    h.durable(&tx, ps[1], Inbound::Committed);
    h.expect(&tx, INITIATOR, Message::Committed, 1).await;
    h.expect_log_empty().await;
}

/// AT4.1 EarlyReadonly: a participant says ReadOnly before any Prepare; it
/// is never prepared, and the transaction commits with the other.
async fn early_readonly(postgres: bool) {
    let h = Harness::start(postgres).await;
    let (tx, init, ps) = h.transaction(&[(Protocol::Durable2Pc, P1), (Protocol::Durable2Pc, P2)]);
    h.durable(&tx, ps[0], Inbound::ReadOnly);
    h.complete(&tx, init, Inbound::Commit);
    h.expect(&tx, P2, Message::Prepare, 1).await;
    h.durable(&tx, ps[1], Inbound::Prepared);
    h.expect(&tx, P2, Message::Commit, 1).await;
    h.durable(&tx, ps[1], Inbound::Committed);
    h.expect(&tx, INITIATOR, Message::Committed, 1).await;
    assert!(h.sink.delivered_to(&tx, P1).is_empty());
}

/// AT4.2 EarlyAborted: a participant aborts before any Prepare; the
/// transaction rolls back and the initiator's Commit gets Aborted.
async fn early_aborted(postgres: bool) {
    let h = Harness::start(postgres).await;
    let (tx, init, ps) = h.transaction(&[(Protocol::Durable2Pc, P1), (Protocol::Durable2Pc, P2)]);
    h.durable(&tx, ps[0], Inbound::Aborted);
    h.expect(&tx, P2, Message::Rollback, 1).await;
    h.complete(&tx, init, Inbound::Commit);
    h.expect(&tx, INITIATOR, Message::Aborted, 1).await;
    assert_eq!(h.service.outcome(&tx).await.unwrap(), Outcome::Aborted);
    assert_eq!(count(&h.sink, &tx, P1, Message::Rollback), 0);
    assert_eq!(count(&h.sink, &tx, P2, Message::Prepare), 0);
}

/// AT5.1 ReplayCommit: a participant fails after Prepared (it never sees
/// Commit), recovers and resends Prepared (the 2004/10 Replay is delivered
/// the same way): it gets Commit and the transaction completes.
async fn replay_commit(postgres: bool) {
    let h = Harness::start(postgres).await;
    let (tx, init, ps) = h.transaction(&[(Protocol::Durable2Pc, P1), (Protocol::Durable2Pc, P2)]);
    h.complete(&tx, init, Inbound::Commit);
    h.expect(&tx, P2, Message::Prepare, 1).await;
    h.sink.unreachable(P2);
    h.durable(&tx, ps[0], Inbound::Prepared);
    h.durable(&tx, ps[1], Inbound::Prepared);
    h.expect(&tx, P1, Message::Commit, 1).await;
    h.durable(&tx, ps[0], Inbound::Committed);
    // P2 is back and replays its vote.
    h.sink.reachable(P2);
    let before = count(&h.sink, &tx, P2, Message::Commit);
    h.durable(&tx, ps[1], Inbound::Prepared);
    h.expect(&tx, P2, Message::Commit, before + 1).await;
    h.durable(&tx, ps[1], Inbound::Committed);
    h.expect(&tx, INITIATOR, Message::Committed, 1).await;
    h.expect_log_empty().await;
}

/// AT5.2 RetryPreparedCommit: a participant sends Prepared twice before
/// the decision; the duplicate changes nothing and the transaction commits.
async fn retry_prepared_commit(postgres: bool) {
    let h = Harness::start(postgres).await;
    let (tx, init, ps) = h.transaction(&[(Protocol::Durable2Pc, P1), (Protocol::Durable2Pc, P2)]);
    h.complete(&tx, init, Inbound::Commit);
    h.expect(&tx, P1, Message::Prepare, 1).await;
    h.durable(&tx, ps[0], Inbound::Prepared);
    h.durable(&tx, ps[0], Inbound::Prepared);
    assert_eq!(count(&h.sink, &tx, P1, Message::Commit), 0);
    h.durable(&tx, ps[1], Inbound::Prepared);
    h.expect(&tx, P1, Message::Commit, 1).await;
    h.expect(&tx, P2, Message::Commit, 1).await;
    h.durable(&tx, ps[0], Inbound::Committed);
    h.durable(&tx, ps[1], Inbound::Committed);
    h.expect(&tx, INITIATOR, Message::Committed, 1).await;
    h.expect_log_empty().await;
}

/// AT5.3 RetryPreparedAbort: a participant resends Prepared after the
/// transaction rolled back; it is told Rollback again.
async fn retry_prepared_abort(postgres: bool) {
    let h = Harness::start(postgres).await;
    let (tx, init, ps) = h.transaction(&[(Protocol::Durable2Pc, P1), (Protocol::Durable2Pc, P2)]);
    h.complete(&tx, init, Inbound::Commit);
    h.expect(&tx, P1, Message::Prepare, 1).await;
    h.durable(&tx, ps[0], Inbound::Prepared);
    h.durable(&tx, ps[1], Inbound::Aborted);
    h.expect(&tx, P1, Message::Rollback, 1).await;
    h.durable(&tx, ps[0], Inbound::Prepared);
    h.expect(&tx, P1, Message::Rollback, 2).await;
    h.expect(&tx, INITIATOR, Message::Aborted, 1).await;
}

/// AT5.4 RetryCommit: Commit does not get through; the coordinator keeps
/// resending it (driver retries, then the engine's timer) until the
/// participant answers Committed.
async fn retry_commit(postgres: bool) {
    let h = Harness::start(postgres).await;
    let (tx, init, ps) = h.transaction(&[(Protocol::Durable2Pc, P1)]);
    h.complete(&tx, init, Inbound::Commit);
    h.expect(&tx, P1, Message::Prepare, 1).await;
    h.sink.unreachable(P1);
    h.durable(&tx, ps[0], Inbound::Prepared);
    // Failed attempts are retried...
    let failed = |n: usize| {
        move |sent: &[ithaca_txn::driver::testing::Sent]| {
            sent.iter()
                .filter(|s| !s.delivered && s.notification.message == Message::Commit)
                .count()
                >= n
        }
    };
    assert!(h.sink.wait_for(WAIT, failed(4)).await, "Commit not retried");
    h.sink.reachable(P1);
    // ... and the engine's timer resends once the participant is back.
    h.expect(&tx, P1, Message::Commit, 1).await;
    h.durable(&tx, ps[0], Inbound::Committed);
    h.expect(&tx, INITIATOR, Message::Committed, 1).await;
    h.expect_log_empty().await;
}

/// AT5.5 PreparedAfterTimeout: the context expires before the participant
/// votes; the transaction rolls back, and the late Prepared gets Rollback.
async fn prepared_after_timeout(postgres: bool) {
    let h = Harness::start(postgres).await;
    let tx = h.service.create(Some(Duration::from_millis(200))).unwrap();
    let init = h
        .service
        .register(
            &tx,
            Protocol::Completion,
            ithaca_txn::record::EndpointRef::new(INITIATOR),
        )
        .unwrap();
    let p = h
        .service
        .register(
            &tx,
            Protocol::Durable2Pc,
            ithaca_txn::record::EndpointRef::new(P1),
        )
        .unwrap();
    h.complete(&tx, init, Inbound::Commit);
    h.expect(&tx, P1, Message::Prepare, 1).await;
    h.expect(&tx, P1, Message::Rollback, 1).await;
    h.expect(&tx, INITIATOR, Message::Aborted, 1).await;
    h.durable(&tx, p, Inbound::Prepared);
    h.expect(&tx, P1, Message::Rollback, 2).await;
    assert_eq!(count(&h.sink, &tx, P1, Message::Commit), 0);
}

/// AT5.6 LostCommitted: the participant's Committed is lost; the
/// coordinator resends Commit and the participant answers Committed again.
async fn lost_committed(postgres: bool) {
    let h = Harness::start(postgres).await;
    let (tx, init, ps) = h.transaction(&[(Protocol::Durable2Pc, P1)]);
    h.complete(&tx, init, Inbound::Commit);
    h.expect(&tx, P1, Message::Prepare, 1).await;
    h.durable(&tx, ps[0], Inbound::Prepared);
    h.expect(&tx, P1, Message::Commit, 1).await;
    // The first Committed never arrives: Commit is resent on the timer.
    h.expect(&tx, P1, Message::Commit, 2).await;
    h.durable(&tx, ps[0], Inbound::Committed);
    h.expect(&tx, INITIATOR, Message::Committed, 1).await;
    h.expect_log_empty().await;
}

macro_rules! on_both_stores {
    ($($scenario:ident => $sqlite:ident, $postgres:ident;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $sqlite() {
            $scenario(false).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $postgres() {
            $scenario(true).await;
        }
    )*};
}

on_both_stores! {
    completion_commit => completion_commit_sqlite, completion_commit_postgres;
    completion_rollback => completion_rollback_sqlite, completion_rollback_postgres;
    commit => commit_sqlite, commit_postgres;
    rollback => rollback_sqlite, rollback_postgres;
    phase2_rollback => phase2_rollback_sqlite, phase2_rollback_postgres;
    readonly => readonly_sqlite, readonly_postgres;
    volatile_and_durable => volatile_and_durable_sqlite, volatile_and_durable_postgres;
    early_readonly => early_readonly_sqlite, early_readonly_postgres;
    early_aborted => early_aborted_sqlite, early_aborted_postgres;
    replay_commit => replay_commit_sqlite, replay_commit_postgres;
    retry_prepared_commit => retry_prepared_commit_sqlite, retry_prepared_commit_postgres;
    retry_prepared_abort => retry_prepared_abort_sqlite, retry_prepared_abort_postgres;
    retry_commit => retry_commit_sqlite, retry_commit_postgres;
    prepared_after_timeout => prepared_after_timeout_sqlite, prepared_after_timeout_postgres;
    lost_committed => lost_committed_sqlite, lost_committed_postgres;
}

#[test]
fn the_test_configuration_resends_quickly() {
    assert!(config().engine.resend_after < WAIT / 4);
}
