//! Subordinate transactions (interposition) at the driver level: a real
//! coordinator service on a real log (SQLite, and the PostgreSQL store of
//! the test cluster), a scripted superior and scripted local participants
//! answering what the recording sink shows them.
//!
//! What the superior sees: Prepared only once the prepared record naming
//! it is in the log, Committed once the locals committed, Prepared again
//! (Replay) from a restarted subordinate that then obeys its Commit, and
//! the `InconsistentInternalState` fault instead of Committed when a local
//! participant reports a heuristic outcome (kept in the subordinate's log
//! as well).

#![allow(clippy::unwrap_used)] // Test helpers: a failed step is a failed test.

mod driver_common;

use driver_common::{Harness, config};
use ithaca_txn::driver::Message;
use ithaca_txn::engine::{Fault, FromSuperior, Inbound, Protocol};
use ithaca_txn::record::{EndpointRef, HeuristicKind, ParticipantId, TxId};

const SUPERIOR: &str = "http://superior/2pc";
const P1: &str = "http://p1/2pc";
const P2: &str = "http://p2/2pc";

/// A subordinate transaction registered with [`SUPERIOR`], with a durable
/// participant per address.
fn subordinate(h: &Harness, participants: &[&str]) -> (TxId, Vec<ParticipantId>) {
    let tx = h.service.create_subordinate(None).unwrap();
    h.service
        .superior_registered(&tx, EndpointRef::new(SUPERIOR))
        .unwrap();
    let ids = participants
        .iter()
        .map(|address| {
            h.service
                .register(&tx, Protocol::Durable2Pc, EndpointRef::new(*address))
                .unwrap()
        })
        .collect();
    (tx, ids)
}

fn from_superior(h: &Harness, tx: &TxId, message: FromSuperior) {
    h.service.deliver_from_superior(tx, message, None).unwrap();
}

/// Prepares `tx` at the superior's request: every participant votes
/// Prepared, and the superior hears Prepared with the record in the log.
async fn prepare(h: &Harness, tx: &TxId, participants: &[(ParticipantId, &str)]) {
    from_superior(h, tx, FromSuperior::Prepare);
    for (id, address) in participants {
        h.expect(tx, address, Message::Prepare, 1).await;
        h.durable(tx, *id, Inbound::Prepared);
    }
    h.expect(tx, SUPERIOR, Message::Prepared, 1).await;
    let logged = h.log.load_unfinished().await.unwrap();
    let record = logged
        .iter()
        .find(|r| &r.tx == tx)
        .expect("Prepared before the prepared record was durable");
    assert_eq!(record.superior(), Some(&EndpointRef::new(SUPERIOR)));
    for (id, _) in participants {
        assert!(record.participants.iter().any(|p| p.id == *id));
    }
}

/// The superior commits: Commit reaches both locals, Committed goes back
/// once both answered, and the record is dropped.
async fn commit_through_a_subordinate(postgres: bool) {
    let h = Harness::start(postgres).await;
    let (tx, ps) = subordinate(&h, &[P1, P2]);
    prepare(&h, &tx, &[(ps[0], P1), (ps[1], P2)]).await;
    assert_eq!(h.service.metrics().in_doubt, 1);
    from_superior(&h, &tx, FromSuperior::Commit);
    h.expect(&tx, P1, Message::Commit, 1).await;
    h.expect(&tx, P2, Message::Commit, 1).await;
    h.durable(&tx, ps[0], Inbound::Committed);
    assert_eq!(
        driver_common::count(&h.sink, &tx, SUPERIOR, Message::Committed),
        0,
        "Committed before every local answered"
    );
    h.durable(&tx, ps[1], Inbound::Committed);
    h.expect(&tx, SUPERIOR, Message::Committed, 1).await;
    h.expect_log_empty().await;
}

/// The subordinate "crashes" prepared (is shut down with the superior's
/// Commit unsent); the restarted one replays Prepared, never decides
/// alone, and commits its local on the superior's Commit.
async fn a_restarted_subordinate_replays_and_obeys(postgres: bool) {
    let h = Harness::start(postgres).await;
    let (tx, ps) = subordinate(&h, &[P1]);
    prepare(&h, &tx, &[(ps[0], P1)]).await;
    h.service.shutdown().await;
    let Harness { store, .. } = h;

    let h = Harness::start_on(store, "node-a", 0, config()).await;
    h.expect(&tx, SUPERIOR, Message::Replay, 1).await;
    assert_eq!(
        driver_common::count(&h.sink, &tx, P1, Message::Commit)
            + driver_common::count(&h.sink, &tx, P1, Message::Rollback),
        0,
        "a prepared subordinate decided alone"
    );
    from_superior(&h, &tx, FromSuperior::Commit);
    h.expect(&tx, P1, Message::Commit, 1).await;
    h.durable(&tx, ps[0], Inbound::Committed);
    h.expect(&tx, SUPERIOR, Message::Committed, 1).await;
    h.expect_log_empty().await;
}

/// A local participant aborted on its own although the superior
/// committed: the heuristic is kept in the subordinate's log and the
/// superior gets InconsistentInternalState instead of Committed.
async fn a_heuristic_reaches_the_superior(postgres: bool) {
    let h = Harness::start(postgres).await;
    let (tx, ps) = subordinate(&h, &[P1, P2]);
    prepare(&h, &tx, &[(ps[0], P1), (ps[1], P2)]).await;
    from_superior(&h, &tx, FromSuperior::Commit);
    h.expect(&tx, P2, Message::Commit, 1).await;
    h.durable(&tx, ps[0], Inbound::Committed);
    h.durable(&tx, ps[1], Inbound::Aborted);
    h.expect(
        &tx,
        SUPERIOR,
        Message::Fault(Fault::InconsistentInternalState),
        1,
    )
    .await;
    assert_eq!(
        driver_common::count(&h.sink, &tx, SUPERIOR, Message::Committed),
        0
    );
    let deadline = tokio::time::Instant::now() + driver_common::WAIT;
    loop {
        let kept = h.log.heuristics().await.unwrap();
        if kept.iter().any(|k| {
            k.tx == tx && k.participant == ps[1] && k.kind == HeuristicKind::AbortedAfterCommit
        }) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no heuristic kept: {kept:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
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
    commit_through_a_subordinate => commit_through_a_subordinate_sqlite,
        commit_through_a_subordinate_postgres;
    a_restarted_subordinate_replays_and_obeys => a_restarted_subordinate_replays_and_obeys_sqlite,
        a_restarted_subordinate_replays_and_obeys_postgres;
    a_heuristic_reaches_the_superior => a_heuristic_reaches_the_superior_sqlite,
        a_heuristic_reaches_the_superior_postgres;
}
