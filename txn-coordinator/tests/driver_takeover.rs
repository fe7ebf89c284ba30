//! Instance ownership and takeover fencing: two coordinator instances share
//! one store; `node-b` takes over `node-a`'s transactions with a token from
//! a takeover authority and finishes them, while `node-a`, still running
//! (a zombie: paused, not dead), can no longer write anything.

#![allow(clippy::unwrap_used)] // Test helpers: a failed step is a failed test.

mod driver_common;

use std::time::Duration;

use driver_common::{Harness, INITIATOR, WAIT, config};
use ithaca_txn::driver::{DriverError, InstanceId, Message, StaticAuthority};
use ithaca_txn::engine::{Inbound, Protocol};
use ithaca_txn::log::FencingToken;

const P1: &str = "http://p1/2pc";
const P2: &str = "http://p2/2pc";

async fn takeover_fences_the_zombie(postgres: bool) {
    // node-a decides to commit, but its Commit never gets through.
    let a = Harness::start(postgres).await;
    let (tx, init, ps) = a.transaction(&[(Protocol::Durable2Pc, P1)]);
    a.complete(&tx, init, Inbound::Commit);
    a.expect(&tx, P1, Message::Prepare, 1).await;
    a.sink.unreachable(P1);
    a.durable(&tx, ps[0], Inbound::Prepared);
    a.expect(&tx, INITIATOR, Message::Committed, 1).await;

    // A second transaction of node-a is prepared, not yet decided.
    let (late, late_init, late_ps) = a.transaction(&[(Protocol::Durable2Pc, P2)]);
    a.complete(&late, late_init, Inbound::Commit);
    a.expect(&late, P2, Message::Prepare, 1).await;

    // node-b, on the same store, takes node-a over.
    let Harness {
        service: zombie,
        sink: zombie_sink,
        store,
        ..
    } = a;
    let b = Harness::start_on(store, "node-b", 0, config()).await;
    let authority = StaticAuthority::new([InstanceId::from("node-a")], FencingToken(1));
    let taken = b
        .service
        .take_over_with(&authority, &InstanceId::from("node-a"))
        .await
        .unwrap();
    assert_eq!(taken, 1);
    b.expect(&tx, P1, Message::Commit, 1).await;
    let shown = b.service.transaction(&tx).unwrap();
    assert_eq!(shown.owner, "node-a");
    b.service
        .deliver(&tx, ps[0], Protocol::Durable2Pc, Inbound::Committed)
        .unwrap();

    // The zombie's next decision is refused by the fence: no Commit leaves.
    zombie
        .deliver(&late, late_ps[0], Protocol::Durable2Pc, Inbound::Prepared)
        .unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while !zombie.metrics().fenced {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the zombie's write was not fenced"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        zombie_sink
            .delivered_to(&late, P2)
            .iter()
            .all(|m| *m != Message::Commit),
        "a Commit left without its logged decision"
    );
    assert!(matches!(
        zombie.create(None),
        Err(DriverError::CannotCreateContext { .. })
    ));

    // node-a's records are finished and forgotten by node-b; the zombie's
    // refused decision was never written.
    let a_log = b.store.open("node-a", 1).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let left = a_log.load_unfinished().await.unwrap();
        if left.is_empty() {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "left: {left:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // node-a restarting with its old token is refused; a newer one works.
    let stale = b.store.open("node-a", 0).await;
    assert!(stale.claim().await.unwrap_err().is_fenced());
    // The same token cannot take node-a over twice.
    assert!(
        b.service
            .take_over(&InstanceId::from("node-a"), FencingToken(1))
            .await
            .is_err()
    );
    let fresh = b.store.open("node-a", 2).await;
    fresh.claim().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn takeover_fences_the_zombie_sqlite() {
    takeover_fences_the_zombie(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn takeover_fences_the_zombie_postgres() {
    takeover_fences_the_zombie(true).await;
}

#[test]
fn the_static_authority_grants_rising_tokens_for_listed_instances_only() {
    use ithaca_txn::driver::TakeoverAuthority;
    let authority = StaticAuthority::new([InstanceId::from("node-a")], FencingToken(5));
    let a = InstanceId::from("node-a");
    assert_eq!(authority.may_take_over(&a).unwrap(), FencingToken(5));
    assert_eq!(authority.may_take_over(&a).unwrap(), FencingToken(6));
    assert!(
        authority
            .may_take_over(&InstanceId::from("node-c"))
            .is_err()
    );
}
