//! The participant service (state machine + PostgreSQL + a link to the
//! coordinator) driven by a simulated coordinator, on real PostgreSQL
//! databases of the test harness: a transfer between two banks commits on
//! both; a participant whose work failed votes Aborted and both roll back;
//! 50 concurrent transfers conserve money and leave nothing in
//! `pg_prepared_xacts`; a branch prepared before a "crash" asks its
//! coordinator again at start-up and commits.

#![allow(clippy::unwrap_used)] // Test helpers: a failed step is a failed test.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ithaca_testkit::pg::TestDatabase;
use ithaca_txn::participant::{
    BranchId, Config, CoordinatorLink, FromCoordinator, LinkFuture, NodeId, Outgoing,
    PgParticipant, PgParticipantService, PrepareOutcome, ToCoordinator, WsatVersion,
};
use ithaca_txn::record::{EndpointRef, TxId};
use sqlx::postgres::{PgPool, PgPoolOptions};
use tokio::sync::Notify;

/// Records every message the participant sends.
#[derive(Default)]
struct RecordingLink {
    sent: Mutex<Vec<(BranchId, Outgoing)>>,
    arrived: Notify,
}

impl CoordinatorLink for RecordingLink {
    fn send<'a>(
        &'a self,
        branch: &'a BranchId,
        _to: &'a EndpointRef,
        message: Outgoing,
    ) -> LinkFuture<'a> {
        Box::pin(async move {
            self.sent.lock().unwrap().push((branch.clone(), message));
            self.arrived.notify_waiters();
            Ok(())
        })
    }
}

impl RecordingLink {
    /// Waits (up to 20 s) until `branch` sent one of `messages`; returns
    /// which.
    async fn wait(&self, branch: &BranchId, messages: &[ToCoordinator]) -> ToCoordinator {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let notified = self.arrived.notified();
            if let Some(found) = self.sent.lock().unwrap().iter().find_map(|(b, m)| match m {
                Outgoing::Notification(n) if b == branch && messages.contains(n) => Some(*n),
                _ => None,
            }) {
                return found;
            }
            tokio::select! {
                () = notified => {}
                () = tokio::time::sleep(Duration::from_millis(50)) => {}
                () = tokio::time::sleep_until(deadline) => panic!("{branch} never sent {messages:?}"),
            }
        }
    }
}

fn coordinator() -> EndpointRef {
    EndpointRef::new("http://127.0.0.1:9/wsat/2pc")
}

async fn bank(db: &TestDatabase<'_>, accounts: i64) -> PgPool {
    let pool = PgPoolOptions::new()
        .max_connections(20)
        .connect(db.url())
        .await
        .unwrap();
    sqlx::query("CREATE TABLE account (id bigint PRIMARY KEY, balance bigint NOT NULL)")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO account SELECT g, 1000 FROM generate_series(1, $1) g")
        .bind(accounts)
        .execute(&pool)
        .await
        .unwrap();
    pool
}

async fn service(pool: &PgPool, node: &str) -> (PgParticipantService, Arc<RecordingLink>) {
    let (pg, recovery) = PgParticipant::start(pool.clone(), NodeId::new(node).unwrap())
        .await
        .unwrap();
    let link = Arc::new(RecordingLink::default());
    let service = PgParticipantService::start(pg, &recovery, link.clone(), Config::default());
    (service, link)
}

async fn total(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT sum(balance)::bigint FROM account")
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn prepared(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// One transfer of `amount` from account `from` at bank A to account `to`
/// at bank B, with the simulated coordinator's two phases. `fail_credit`
/// makes B's business work fail. Returns whether it committed.
async fn transfer(
    a: &(PgParticipantService, Arc<RecordingLink>),
    b: &(PgParticipantService, Arc<RecordingLink>),
    tx: TxId,
    from: i64,
    to: i64,
    amount: i64,
    fail_credit: bool,
) -> bool {
    let mut debit =
        a.0.enlist(&tx, &coordinator(), WsatVersion::V2006, None)
            .await
            .unwrap();
    sqlx::query("UPDATE account SET balance = balance - $2 WHERE id = $1")
        .bind(from)
        .bind(amount)
        .execute(debit.connection())
        .await
        .unwrap();
    let debit_id = debit.id().clone();
    a.0.work_done(debit);

    let mut credit =
        b.0.enlist(&tx, &coordinator(), WsatVersion::V2006, None)
            .await
            .unwrap();
    let credit_id = credit.id().clone();
    let credited = sqlx::query("UPDATE account SET balance = balance + $2 WHERE id = $1")
        .bind(to)
        .bind(amount)
        .execute(credit.connection())
        .await;
    if fail_credit || credited.is_err() {
        b.0.work_failed(credit);
    } else {
        b.0.work_done(credit);
    }

    // The coordinator: Prepare both, Commit only if both voted Prepared.
    a.0.deliver(&debit_id, FromCoordinator::Prepare);
    b.0.deliver(&credit_id, FromCoordinator::Prepare);
    let votes = [
        a.1.wait(
            &debit_id,
            &[
                ToCoordinator::Prepared,
                ToCoordinator::Aborted,
                ToCoordinator::ReadOnly,
            ],
        )
        .await,
        b.1.wait(
            &credit_id,
            &[
                ToCoordinator::Prepared,
                ToCoordinator::Aborted,
                ToCoordinator::ReadOnly,
            ],
        )
        .await,
    ];
    let commit = votes.iter().all(|v| *v == ToCoordinator::Prepared);
    let outcome = if commit {
        FromCoordinator::Commit
    } else {
        FromCoordinator::Rollback
    };
    let expected = if commit {
        ToCoordinator::Committed
    } else {
        ToCoordinator::Aborted
    };
    if votes[0] == ToCoordinator::Prepared {
        a.0.deliver(&debit_id, outcome);
        assert_eq!(
            a.1.wait(
                &debit_id,
                &[ToCoordinator::Committed, ToCoordinator::Aborted]
            )
            .await,
            expected
        );
    }
    if votes[1] == ToCoordinator::Prepared {
        b.0.deliver(&credit_id, outcome);
        assert_eq!(
            b.1.wait(
                &credit_id,
                &[ToCoordinator::Committed, ToCoordinator::Aborted]
            )
            .await,
            expected
        );
    }
    commit
}

#[tokio::test]
async fn a_transfer_commits_on_both_databases() {
    let db_a = ithaca_testkit::pg::database().unwrap();
    let db_b = ithaca_testkit::pg::database().unwrap();
    let (pool_a, pool_b) = (bank(&db_a, 2).await, bank(&db_b, 2).await);
    let a = service(&pool_a, "bank-a").await;
    let b = service(&pool_b, "bank-b").await;
    assert!(transfer(&a, &b, TxId("urn:uuid:t1".into()), 1, 2, 250, false).await);
    assert_eq!(total(&pool_a).await, 1750);
    assert_eq!(total(&pool_b).await, 2250);
    assert_eq!(prepared(&pool_a).await + prepared(&pool_b).await, 0);
    // Both branches are forgotten once Committed went out.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(a.0.is_empty() && b.0.is_empty());
}

#[tokio::test]
async fn a_participant_whose_work_failed_votes_aborted_and_both_roll_back() {
    let db_a = ithaca_testkit::pg::database().unwrap();
    let db_b = ithaca_testkit::pg::database().unwrap();
    let (pool_a, pool_b) = (bank(&db_a, 2).await, bank(&db_b, 2).await);
    let a = service(&pool_a, "bank-a").await;
    let b = service(&pool_b, "bank-b").await;
    assert!(!transfer(&a, &b, TxId("urn:uuid:t2".into()), 1, 2, 250, true).await);
    assert_eq!(total(&pool_a).await, 2000);
    assert_eq!(total(&pool_b).await, 2000);
    assert_eq!(prepared(&pool_a).await + prepared(&pool_b).await, 0);
}

#[tokio::test]
async fn fifty_concurrent_transfers_conserve_money() {
    let db_a = ithaca_testkit::pg::database().unwrap();
    let db_b = ithaca_testkit::pg::database().unwrap();
    // One account per transfer at each bank, so transfers never wait for
    // each other's row locks (a prepared branch holds them until its
    // outcome).
    let (pool_a, pool_b) = (bank(&db_a, 50).await, bank(&db_b, 50).await);
    let a = Arc::new(service(&pool_a, "bank-a").await);
    let b = Arc::new(service(&pool_b, "bank-b").await);
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..50i64 {
        let (a, b) = (a.clone(), b.clone());
        tasks.spawn(async move {
            let tx = TxId(format!("urn:uuid:concurrent-{n}"));
            // Every seventh transfer fails at bank B.
            let committed = transfer(&a, &b, tx, n + 1, 50 - n, n + 1, n % 7 == 0).await;
            (committed, n + 1)
        });
    }
    let mut moved = 0;
    let mut committed = 0;
    while let Some(result) = tasks.join_next().await {
        let (ok, amount) = result.unwrap();
        if ok {
            moved += amount;
            committed += 1;
        }
    }
    // The eight failed transfers abort; the others commit unless the
    // cluster's max_prepared_transactions (64, for 100 branches here) was
    // reached, in which case PREPARE fails, the branch votes Aborted and
    // the transfer rolls back, which is also atomic.
    assert!((1..=42).contains(&committed), "{committed} committed");
    assert_eq!(total(&pool_a).await, 50_000 - moved);
    assert_eq!(total(&pool_b).await, 50_000 + moved);
    assert_eq!(prepared(&pool_a).await + prepared(&pool_b).await, 0);
}

#[tokio::test]
async fn a_branch_prepared_before_a_crash_asks_again_and_commits() {
    let db = ithaca_testkit::pg::database().unwrap();
    let pool = bank(&db, 1).await;
    let id = {
        let (pg, _) = PgParticipant::start(pool.clone(), NodeId::new("phoenix").unwrap())
            .await
            .unwrap();
        let mut branch = pg
            .begin(
                &TxId("urn:uuid:t3".into()),
                &coordinator(),
                WsatVersion::V2006,
            )
            .await
            .unwrap();
        sqlx::query("UPDATE account SET balance = balance + 1 WHERE id = 1")
            .execute(branch.connection())
            .await
            .unwrap();
        let id = branch.id().clone();
        assert!(matches!(
            branch.prepare().await.unwrap(),
            PrepareOutcome::Prepared(_)
        ));
        id
        // The process "crashes" here: nothing resolves the branch.
    };
    let (service, link) = service(&pool, "phoenix").await;
    assert_eq!(
        link.wait(&id, &[ToCoordinator::Prepared]).await,
        ToCoordinator::Prepared
    );
    service.deliver(&id, FromCoordinator::Commit);
    assert_eq!(
        link.wait(&id, &[ToCoordinator::Committed]).await,
        ToCoordinator::Committed
    );
    assert_eq!(total(&pool).await, 1001);
    assert_eq!(prepared(&pool).await, 0);
}

#[tokio::test]
async fn a_branch_reserved_before_register_is_opened_under_that_number() {
    let db = ithaca_testkit::pg::database().unwrap();
    let pool = bank(&db, 1).await;
    let (service, link) = service(&pool, "reserver").await;
    let tx = TxId("urn:uuid:t4".into());
    // The number goes into the participant endpoint sent with Register;
    // the branch opens once RegisterResponse named the coordinator.
    let id = service.resource().reserve_branch(&tx);
    let mut branch = service
        .enlist_branch(&id, &coordinator(), WsatVersion::V2006, None)
        .await
        .unwrap();
    assert_eq!(branch.id(), &id);
    // The same number cannot be opened twice.
    assert!(
        service
            .enlist_branch(&id, &coordinator(), WsatVersion::V2006, None)
            .await
            .is_err()
    );
    sqlx::query("UPDATE account SET balance = balance - 1 WHERE id = 1")
        .execute(branch.connection())
        .await
        .unwrap();
    service.work_done(branch);
    service.deliver(&id, FromCoordinator::Prepare);
    assert_eq!(
        link.wait(&id, &[ToCoordinator::Prepared]).await,
        ToCoordinator::Prepared
    );
    service.deliver(&id, FromCoordinator::Rollback);
    assert_eq!(
        link.wait(&id, &[ToCoordinator::Aborted]).await,
        ToCoordinator::Aborted
    );
    assert_eq!(total(&pool).await, 1000);
    assert_eq!(prepared(&pool).await, 0);
}

#[tokio::test]
async fn prepare_while_the_work_runs_waits_for_it_and_a_failure_votes_aborted() {
    let db = ithaca_testkit::pg::database().unwrap();
    let pool = bank(&db, 1).await;
    let (service, link) = service(&pool, "early").await;
    for fail in [false, true] {
        let tx = TxId(format!("urn:uuid:early-{fail}"));
        let mut branch = service
            .enlist(&tx, &coordinator(), WsatVersion::V2006, None)
            .await
            .unwrap();
        let id = branch.id().clone();
        // Prepare arrives before the work is handed back.
        service.deliver(&id, FromCoordinator::Prepare);
        sqlx::query("UPDATE account SET balance = balance + 1 WHERE id = 1")
            .execute(branch.connection())
            .await
            .unwrap();
        if fail {
            service.work_failed(branch);
            assert_eq!(
                link.wait(&id, &[ToCoordinator::Prepared, ToCoordinator::Aborted])
                    .await,
                ToCoordinator::Aborted
            );
        } else {
            service.work_done(branch);
            assert_eq!(
                link.wait(&id, &[ToCoordinator::Prepared, ToCoordinator::Aborted])
                    .await,
                ToCoordinator::Prepared
            );
            service.deliver(&id, FromCoordinator::Commit);
            link.wait(&id, &[ToCoordinator::Committed]).await;
        }
    }
    assert_eq!(total(&pool).await, 1001);
    assert_eq!(prepared(&pool).await, 0);
}
