//! The PostgreSQL participant resource against a real PostgreSQL (the test
//! harness's throwaway cluster, `max_prepared_transactions` > 0): prepare,
//! commit and rollback; money conserved across two databases; read-only
//! votes; an application that ends the transaction itself; unknown GIDs;
//! the 199/200-byte GID boundary; a prepared branch that survives the
//! postmaster being killed; and recovery from `pg_prepared_xacts` after the
//! participant process "crashes", driven through the participant state
//! machine to the coordinator's answer.

#![allow(clippy::unwrap_used)] // Test helpers: a failed step is a failed test.

use std::time::Instant;

use ithaca_testkit::pg::{PgCluster, PgOptions, TestDatabase};
use ithaca_txn::participant::{
    BranchId, Command, Config, FromCoordinator, Gid, GidError, NodeId, Participant, PgParticipant,
    PgParticipantError, PrepareOutcome, Recovery, Resolution, ToCoordinator, Vote, WsatVersion,
};
use ithaca_txn::record::{EndpointRef, TxId};
use sqlx::postgres::{PgPool, PgPoolOptions};

fn coordinator() -> EndpointRef {
    EndpointRef {
        address: "http://127.0.0.1:9/wsat/coordinator".into(),
        reference_parameters: "<ith:Tx xmlns:ith=\"urn:ithaca:wsat\">7</ith:Tx>".into(),
    }
}

fn node(name: &str) -> NodeId {
    NodeId::new(name).unwrap()
}

async fn pool(url: &str) -> PgPool {
    PgPoolOptions::new()
        .max_connections(16)
        .connect(url)
        .await
        .unwrap()
}

/// A database with an `account` table holding `accounts` rows of 100.
async fn bank(db: &TestDatabase<'_>, accounts: i64) -> PgPool {
    let pool = pool(db.url()).await;
    sqlx::query("CREATE TABLE account (id bigint PRIMARY KEY, balance bigint NOT NULL)")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO account SELECT g, 100 FROM generate_series(1, $1) g")
        .bind(accounts)
        .execute(&pool)
        .await
        .unwrap();
    pool
}

async fn balance(pool: &PgPool, id: i64) -> i64 {
    sqlx::query_scalar("SELECT balance FROM account WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn total(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT sum(balance)::bigint FROM account")
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn prepared_gids(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT gid FROM pg_prepared_xacts WHERE database = current_database() ORDER BY gid",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn branch_records(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM ithaca_wsat_branch")
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn add(conn: &mut sqlx::PgConnection, id: i64, amount: i64) {
    sqlx::query("UPDATE account SET balance = balance + $2 WHERE id = $1")
        .bind(id)
        .bind(amount)
        .execute(conn)
        .await
        .unwrap();
}

fn tx(n: u32) -> TxId {
    TxId(format!("urn:uuid:00000000-0000-0000-0000-{n:012}"))
}

#[tokio::test]
async fn prepare_then_commit_makes_the_work_visible_and_leaves_nothing() {
    let db = ithaca_testkit::pg::database().expect("a PostgreSQL test cluster");
    let pool = bank(&db, 2).await;
    let (participant, recovery) = PgParticipant::start(pool.clone(), node("bank-a"))
        .await
        .unwrap();
    assert_eq!(recovery, Recovery::default());

    let mut branch = participant
        .begin(&tx(1), &coordinator(), WsatVersion::V2006)
        .await
        .unwrap();
    add(branch.connection(), 1, -30).await;
    let expected_gid = participant.gid(branch.id());
    let PrepareOutcome::Prepared(gid) = branch.prepare().await.unwrap() else {
        panic!("a branch that wrote votes Prepared");
    };
    assert_eq!(gid, expected_gid);
    assert_eq!(prepared_gids(&pool).await, vec![gid.to_string()]);
    // Prepared work is invisible to everyone else until COMMIT PREPARED.
    assert_eq!(balance(&pool, 1).await, 100);

    assert_eq!(
        participant.commit_prepared(&gid).await.unwrap(),
        Resolution::Committed
    );
    assert_eq!(balance(&pool, 1).await, 70);
    assert!(prepared_gids(&pool).await.is_empty());
    assert_eq!(branch_records(&pool).await, 0);
    // A second COMMIT PREPARED (a duplicate Commit) finds it committed.
    assert_eq!(
        participant.commit_prepared(&gid).await.unwrap(),
        Resolution::AlreadyCommitted
    );
}

#[tokio::test]
async fn prepare_then_rollback_discards_the_work() {
    let db = ithaca_testkit::pg::database().expect("a PostgreSQL test cluster");
    let pool = bank(&db, 2).await;
    let (participant, _) = PgParticipant::start(pool.clone(), node("bank-a"))
        .await
        .unwrap();
    let mut branch = participant
        .begin(&tx(2), &coordinator(), WsatVersion::V2006)
        .await
        .unwrap();
    add(branch.connection(), 1, -30).await;
    let PrepareOutcome::Prepared(gid) = branch.prepare().await.unwrap() else {
        panic!("prepared");
    };
    assert_eq!(
        participant.rollback_prepared(&gid).await.unwrap(),
        Resolution::RolledBack
    );
    assert_eq!(balance(&pool, 1).await, 100);
    assert!(prepared_gids(&pool).await.is_empty());
    assert_eq!(branch_records(&pool).await, 0);

    // Rolling back before prepare works too.
    let mut branch = participant
        .begin(&tx(3), &coordinator(), WsatVersion::V2006)
        .await
        .unwrap();
    add(branch.connection(), 2, 5).await;
    branch.rollback().await.unwrap();
    assert_eq!(balance(&pool, 2).await, 100);
    assert_eq!(branch_records(&pool).await, 0);
}

#[tokio::test]
async fn money_is_conserved_across_two_databases_under_concurrent_transfers() {
    let cluster = ithaca_testkit::pg::PgCluster::shared().unwrap();
    let db_a = cluster.create_database().unwrap();
    let db_b = cluster.create_database().unwrap();
    let pool_a = bank(&db_a, 10).await;
    let pool_b = bank(&db_b, 10).await;
    let (a, _) = PgParticipant::start(pool_a.clone(), node("bank-a"))
        .await
        .unwrap();
    let (b, _) = PgParticipant::start(pool_b.clone(), node("bank-b"))
        .await
        .unwrap();
    let a = std::sync::Arc::new(a);
    let b = std::sync::Arc::new(b);

    // 40 transfers of 10 from A's account k to B's account k, 8 at a time;
    // every third one is rolled back after both branches prepared.
    let mut tasks = tokio::task::JoinSet::new();
    let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(8));
    for n in 0..40u32 {
        let (a, b, gate) = (a.clone(), b.clone(), gate.clone());
        tasks.spawn(async move {
            let _permit = gate.acquire().await.unwrap();
            let account = i64::from(n % 10) + 1;
            let t = tx(100 + n);
            let mut debit = a
                .begin(&t, &coordinator(), WsatVersion::V2006)
                .await
                .unwrap();
            let mut credit = b
                .begin(&t, &coordinator(), WsatVersion::V2006)
                .await
                .unwrap();
            add(debit.connection(), account, -10).await;
            add(credit.connection(), account, 10).await;
            let PrepareOutcome::Prepared(ga) = debit.prepare().await.unwrap() else {
                panic!("prepared")
            };
            let PrepareOutcome::Prepared(gb) = credit.prepare().await.unwrap() else {
                panic!("prepared")
            };
            if n % 3 == 0 {
                a.rollback_prepared(&ga).await.unwrap();
                b.rollback_prepared(&gb).await.unwrap();
                false
            } else {
                a.commit_prepared(&ga).await.unwrap();
                b.commit_prepared(&gb).await.unwrap();
                true
            }
        });
    }
    let mut committed = 0;
    while let Some(result) = tasks.join_next().await {
        if result.unwrap() {
            committed += 1;
        }
    }
    assert_eq!(committed, 26);
    assert_eq!(total(&pool_a).await + total(&pool_b).await, 2000);
    assert_eq!(total(&pool_a).await, 1000 - 10 * committed);
    assert!(prepared_gids(&pool_a).await.is_empty());
    assert!(prepared_gids(&pool_b).await.is_empty());
    assert_eq!(
        branch_records(&pool_a).await + branch_records(&pool_b).await,
        0
    );
}

#[tokio::test]
async fn a_branch_that_wrote_nothing_votes_read_only_unless_turned_off() {
    let db = ithaca_testkit::pg::database().expect("a PostgreSQL test cluster");
    let pool = bank(&db, 1).await;
    let (participant, _) = PgParticipant::start(pool.clone(), node("reader"))
        .await
        .unwrap();
    let mut branch = participant
        .begin(&tx(4), &coordinator(), WsatVersion::V2006)
        .await
        .unwrap();
    let _: i64 = sqlx::query_scalar("SELECT balance FROM account WHERE id = 1")
        .fetch_one(branch.connection())
        .await
        .unwrap();
    assert_eq!(branch.prepare().await.unwrap(), PrepareOutcome::ReadOnly);
    assert!(prepared_gids(&pool).await.is_empty());
    assert_eq!(branch_records(&pool).await, 0);

    let participant = participant.with_read_only_votes(false);
    let branch = participant
        .begin(&tx(5), &coordinator(), WsatVersion::V2006)
        .await
        .unwrap();
    let PrepareOutcome::Prepared(gid) = branch.prepare().await.unwrap() else {
        panic!("read-only votes are off");
    };
    participant.commit_prepared(&gid).await.unwrap();
    assert!(prepared_gids(&pool).await.is_empty());
}

#[tokio::test]
async fn an_application_that_ends_the_transaction_itself_is_caught() {
    let db = ithaca_testkit::pg::database().expect("a PostgreSQL test cluster");
    let pool = bank(&db, 1).await;
    let (participant, _) = PgParticipant::start(pool.clone(), node("sloppy"))
        .await
        .unwrap();
    for read_only_votes in [true, false] {
        let participant = PgParticipant::start(pool.clone(), node("sloppy"))
            .await
            .unwrap()
            .0
            .with_read_only_votes(read_only_votes);
        let mut branch = participant
            .begin(&tx(6), &coordinator(), WsatVersion::V2006)
            .await
            .unwrap();
        add(branch.connection(), 1, 1).await;
        sqlx::raw_sql("COMMIT")
            .execute(branch.connection())
            .await
            .unwrap();
        let error = branch.prepare().await.unwrap_err();
        assert!(
            matches!(error, PgParticipantError::TransactionEnded),
            "{error}"
        );
        assert!(prepared_gids(&pool).await.is_empty());
    }
    drop(participant);
}

#[tokio::test]
async fn dropping_an_unfinished_branch_rolls_its_work_back() {
    let db = ithaca_testkit::pg::database().expect("a PostgreSQL test cluster");
    let pool = bank(&db, 1).await;
    let (participant, _) = PgParticipant::start(pool.clone(), node("dropper"))
        .await
        .unwrap();
    let mut branch = participant
        .begin(&tx(7), &coordinator(), WsatVersion::V2006)
        .await
        .unwrap();
    add(branch.connection(), 1, -50).await;
    drop(branch);
    // The row lock is released once the connection is closed.
    let mut conn = pool.acquire().await.unwrap();
    sqlx::query("SET lock_timeout = '5s'")
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::query("UPDATE account SET balance = balance + 1 WHERE id = 1")
        .execute(&mut *conn)
        .await
        .unwrap();
    assert_eq!(balance(&pool, 1).await, 101);
    assert!(prepared_gids(&pool).await.is_empty());
}

#[tokio::test]
async fn unknown_gids_are_judged_by_the_branch_record() {
    let db = ithaca_testkit::pg::database().expect("a PostgreSQL test cluster");
    let pool = bank(&db, 1).await;
    let (participant, _) = PgParticipant::start(pool.clone(), node("judge"))
        .await
        .unwrap();

    // Never prepared, no record: a Commit means it committed and was
    // forgotten; a Rollback contradicts that.
    let ghost = participant.gid(&BranchId::new(tx(8), 0));
    assert_eq!(
        participant.commit_prepared(&ghost).await.unwrap(),
        Resolution::AlreadyCommitted
    );
    assert!(matches!(
        participant.rollback_prepared(&ghost).await,
        Err(PgParticipantError::Heuristic {
            found: "committed",
            ..
        })
    ));

    // Prepared, then rolled back behind our back (an operator): the record
    // is still there, so a later Commit is a heuristic rollback and a
    // Rollback finds it already rolled back.
    let mut branch = participant
        .begin(&tx(9), &coordinator(), WsatVersion::V2006)
        .await
        .unwrap();
    add(branch.connection(), 1, 1).await;
    let PrepareOutcome::Prepared(gid) = branch.prepare().await.unwrap() else {
        panic!("prepared");
    };
    db.psql(&format!("ROLLBACK PREPARED {}", gid.literal()))
        .unwrap();
    let error = participant.commit_prepared(&gid).await.unwrap_err();
    assert!(
        matches!(
            error,
            PgParticipantError::Heuristic {
                found: "rolled back",
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains(gid.as_str()));
    assert_eq!(
        participant.rollback_prepared(&gid).await.unwrap(),
        Resolution::AlreadyRolledBack
    );
    assert_eq!(branch_records(&pool).await, 0);
}

#[tokio::test]
async fn the_gid_limit_is_199_bytes_in_postgresql_too() {
    let db = ithaca_testkit::pg::database().expect("a PostgreSQL test cluster");
    let pool = pool(db.url()).await;
    let longest = Gid::parse(&"g".repeat(199)).unwrap();
    let mut conn = pool.acquire().await.unwrap();
    let sql = format!("BEGIN; PREPARE TRANSACTION {}", longest.literal());
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut *conn)
        .await
        .unwrap();
    assert_eq!(prepared_gids(&pool).await, vec![longest.to_string()]);
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "ROLLBACK PREPARED {}",
        longest.literal()
    )))
    .execute(&mut *conn)
    .await
    .unwrap();

    // 200 bytes: refused by Gid, and PostgreSQL agrees.
    assert_eq!(
        Gid::parse(&"g".repeat(200)),
        Err(GidError::TooLong { len: 200, max: 199 })
    );
    let sql = format!("BEGIN; PREPARE TRANSACTION '{}'", "g".repeat(200));
    let error = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut *conn)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("too long"), "{error}");
}

#[tokio::test]
async fn bad_node_ids_and_gids_are_refused_before_any_sql() {
    for bad in ["", "a:b", "a'b", "a b", "ä", &"n".repeat(65)] {
        assert!(NodeId::new(bad).is_err(), "{bad:?}");
    }
    for bad in ["x'; DROP TABLE account; --", "wsat:n:a b:1", ""] {
        assert!(Gid::parse(bad).is_err(), "{bad:?}");
    }
    // A coordinator endpoint over the bound is refused at begin.
    let db = ithaca_testkit::pg::database().expect("a PostgreSQL test cluster");
    let pool = bank(&db, 1).await;
    let (participant, _) = PgParticipant::start(pool.clone(), node("strict"))
        .await
        .unwrap();
    let huge = EndpointRef::new("http://x/".to_owned() + &"a".repeat(5000));
    assert!(matches!(
        participant.begin(&tx(10), &huge, WsatVersion::V2006).await,
        Err(PgParticipantError::EndpointTooLarge { .. })
    ));
}

/// Feeds a recovered node's branches through the participant machine and
/// answers each `Prepared`/`Replay` the way the coordinator would
/// (`commit` decides which), carrying out the machine's resource commands
/// on PostgreSQL. Returns the messages the machine sent.
async fn drive_recovery(
    participant: &PgParticipant,
    recovery: &Recovery,
    commit: impl Fn(&TxId) -> bool,
) -> Vec<(BranchId, ToCoordinator)> {
    let now = Instant::now();
    let mut machine = Participant::new(Config::default());
    for branch in &recovery.branches {
        machine.handle_recovered(
            branch.id.clone(),
            branch.coordinator.clone(),
            branch.version,
            now,
        );
    }
    let mut sent = Vec::new();
    while let Some(command) = machine.poll_command() {
        match command {
            Command::Send {
                branch, message, ..
            } => {
                if matches!(message, ToCoordinator::Prepared | ToCoordinator::Replay) {
                    let answer = if commit(&branch.tx) {
                        FromCoordinator::Commit
                    } else {
                        FromCoordinator::Rollback
                    };
                    machine.handle_message(&branch, answer, now);
                }
                sent.push((branch, message));
            }
            Command::Commit(branch) => {
                let done = participant
                    .commit_prepared(&participant.gid(&branch))
                    .await
                    .is_ok();
                machine.handle_resolved(&branch, done, now);
            }
            Command::Rollback(branch) => {
                let done = participant
                    .rollback_prepared(&participant.gid(&branch))
                    .await
                    .is_ok();
                machine.handle_resolved(&branch, done, now);
            }
            Command::Prepare(_) | Command::Fault { .. } | Command::Forget(_) => {}
        }
    }
    assert!(machine.is_empty());
    sent
}

#[tokio::test]
async fn prepared_branches_are_recovered_after_the_participant_crashes() {
    let db = ithaca_testkit::pg::database().expect("a PostgreSQL test cluster");
    let pool = bank(&db, 5).await;

    // The "crashed" process: three branches prepared (one registered under
    // WS-AT 2004/10), one still open, then everything dropped unresolved.
    {
        let (participant, _) = PgParticipant::start(pool.clone(), node("crashy"))
            .await
            .unwrap();
        for (n, version) in [
            (11, WsatVersion::V2006),
            (12, WsatVersion::V2004),
            (13, WsatVersion::V2006),
        ] {
            let mut branch = participant
                .begin(&tx(n), &coordinator(), version)
                .await
                .unwrap();
            add(branch.connection(), i64::from(n - 10), 5).await;
            branch.prepare().await.unwrap();
        }
        let mut open = participant
            .begin(&tx(14), &coordinator(), WsatVersion::V2006)
            .await
            .unwrap();
        add(open.connection(), 4, 1000).await;
        // The process dies: its session ends without a word.
        let backend: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(open.connection())
            .await
            .unwrap();
        sqlx::query("SELECT pg_terminate_backend($1)")
            .bind(backend)
            .execute(&pool)
            .await
            .unwrap();
        drop(open);
    }
    // Another node's prepared branch in the same database is not ours.
    let (other, _) = PgParticipant::start(self::pool(db.url()).await, node("crashy2"))
        .await
        .unwrap();
    let mut theirs = other
        .begin(&tx(15), &coordinator(), WsatVersion::V2006)
        .await
        .unwrap();
    add(theirs.connection(), 5, 1).await;
    let PrepareOutcome::Prepared(their_gid) = theirs.prepare().await.unwrap() else {
        panic!("prepared");
    };
    // The open branch's connection is gone with its process.
    pool.close().await;
    let pool = self::pool(db.url()).await;
    assert_eq!(prepared_gids(&pool).await.len(), 4);

    let (participant, recovery) = PgParticipant::start(pool.clone(), node("crashy"))
        .await
        .unwrap();
    let mut found: Vec<(TxId, WsatVersion)> = recovery
        .branches
        .iter()
        .map(|b| (b.id.tx.clone(), b.version))
        .collect();
    found.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(
        found,
        vec![
            (tx(11), WsatVersion::V2006),
            (tx(12), WsatVersion::V2004),
            (tx(13), WsatVersion::V2006),
        ]
    );
    assert!(
        recovery
            .branches
            .iter()
            .all(|b| b.coordinator == coordinator())
    );
    assert!(recovery.unknown.is_empty());
    // The open branch's record was stale.
    assert_eq!(recovery.stale_records_removed, 1);

    // The coordinator committed 11 and 12 and rolled back 13 (by presumed
    // abort).
    let sent = drive_recovery(&participant, &recovery, |t| *t != tx(13)).await;
    let asked: Vec<ToCoordinator> = sent
        .iter()
        .filter(|(_, m)| matches!(m, ToCoordinator::Prepared | ToCoordinator::Replay))
        .map(|(_, m)| *m)
        .collect();
    assert_eq!(asked.len(), 3);
    assert!(sent.contains(&(BranchId::new(tx(12), 1), ToCoordinator::Replay)));
    assert_eq!(
        sent.iter()
            .filter(|(_, m)| *m == ToCoordinator::Committed)
            .count(),
        2
    );
    assert_eq!(
        sent.iter()
            .filter(|(_, m)| *m == ToCoordinator::Aborted)
            .count(),
        1
    );
    assert_eq!(balance(&pool, 1).await, 105);
    assert_eq!(balance(&pool, 2).await, 105);
    assert_eq!(balance(&pool, 3).await, 100);
    assert_eq!(balance(&pool, 4).await, 100);
    assert_eq!(prepared_gids(&pool).await, vec![their_gid.to_string()]);
    other.rollback_prepared(&their_gid).await.unwrap();
    assert!(prepared_gids(&pool).await.is_empty());
    assert_eq!(branch_records(&pool).await, 0);
}

#[test]
fn a_prepared_branch_survives_the_postmaster_being_killed() {
    let mut cluster = PgCluster::start().expect("a PostgreSQL test cluster");
    cluster.psql("postgres", "CREATE DATABASE killed").unwrap();
    let url = cluster.url("killed");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let gid = runtime.block_on(async {
        let pool = pool(&url).await;
        sqlx::query("CREATE TABLE account (id bigint PRIMARY KEY, balance bigint NOT NULL)")
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query("INSERT INTO account VALUES (1, 100)")
            .execute(&pool)
            .await
            .unwrap();
        let (participant, _) = PgParticipant::start(pool.clone(), node("survivor"))
            .await
            .unwrap();
        let mut branch = participant
            .begin(&tx(20), &coordinator(), WsatVersion::V2006)
            .await
            .unwrap();
        add(branch.connection(), 1, 42).await;
        let PrepareOutcome::Prepared(gid) = branch.prepare().await.unwrap() else {
            panic!("prepared");
        };
        pool.close().await;
        gid
    });

    let status = std::process::Command::new("kill")
        .args(["-9", &cluster.postmaster_pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    cluster
        .restart()
        .expect("PostgreSQL restarts after kill -9");

    runtime.block_on(async {
        let pool = pool(&url).await;
        assert_eq!(prepared_gids(&pool).await, vec![gid.to_string()]);
        let (participant, recovery) = PgParticipant::start(pool.clone(), node("survivor"))
            .await
            .unwrap();
        assert_eq!(recovery.branches.len(), 1);
        assert_eq!(recovery.branches[0].gid, gid);
        assert_eq!(recovery.branches[0].coordinator, coordinator());
        // Its row lock came back with it: a writer waits.
        let mut conn = pool.acquire().await.unwrap();
        sqlx::query("SET lock_timeout = '200ms'")
            .execute(&mut *conn)
            .await
            .unwrap();
        assert!(
            sqlx::query("UPDATE account SET balance = 0 WHERE id = 1")
                .execute(&mut *conn)
                .await
                .is_err()
        );
        drop(conn);
        let sent = drive_recovery(&participant, &recovery, |_| true).await;
        assert_eq!(
            sent.iter().map(|(_, m)| *m).collect::<Vec<_>>(),
            vec![ToCoordinator::Prepared, ToCoordinator::Committed]
        );
        assert_eq!(balance(&pool, 1).await, 142);
        assert!(prepared_gids(&pool).await.is_empty());
        pool.close().await;
    });
}

#[tokio::test]
async fn a_database_without_prepared_transactions_is_refused_clearly() {
    let cluster = PgCluster::start_with(&PgOptions {
        max_prepared_transactions: 0,
        ..PgOptions::default()
    })
    .expect("a PostgreSQL test cluster");
    let pool = pool(&cluster.url("postgres")).await;
    let error = PgParticipant::start(pool.clone(), node("nope"))
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        PgParticipantError::PreparedTransactionsDisabled
    ));
    assert!(error.to_string().contains("max_prepared_transactions"));
    pool.close().await;
}

#[tokio::test]
async fn the_state_machine_and_the_resource_together_vote_and_commit() {
    let db = ithaca_testkit::pg::database().expect("a PostgreSQL test cluster");
    let pool = bank(&db, 1).await;
    let (participant, _) = PgParticipant::start(pool.clone(), node("together"))
        .await
        .unwrap();
    let now = Instant::now();
    let mut machine = Participant::new(Config::default());
    let mut branch = participant
        .begin(&tx(30), &coordinator(), WsatVersion::V2006)
        .await
        .unwrap();
    let id = branch.id().clone();
    machine
        .handle_enlist(id.clone(), coordinator(), WsatVersion::V2006, None, now)
        .unwrap();
    add(branch.connection(), 1, 7).await;

    machine.handle_message(&id, FromCoordinator::Prepare, now);
    assert_eq!(machine.poll_command(), Some(Command::Prepare(id.clone())));
    let vote = match branch.prepare().await {
        Ok(PrepareOutcome::Prepared(_)) => Vote::Prepared,
        Ok(PrepareOutcome::ReadOnly) => Vote::ReadOnly,
        Err(_) => Vote::Aborted,
    };
    machine.handle_vote(&id, vote, now);
    assert!(matches!(
        machine.poll_command(),
        Some(Command::Send {
            message: ToCoordinator::Prepared,
            ..
        })
    ));
    assert_eq!(prepared_gids(&pool).await.len(), 1);

    machine.handle_message(&id, FromCoordinator::Commit, now);
    assert_eq!(machine.poll_command(), Some(Command::Commit(id.clone())));
    let done = participant
        .commit_prepared(&participant.gid(&id))
        .await
        .is_ok();
    machine.handle_resolved(&id, done, now);
    assert!(matches!(
        machine.poll_command(),
        Some(Command::Send {
            message: ToCoordinator::Committed,
            ..
        })
    ));
    assert_eq!(balance(&pool, 1).await, 107);
    assert!(prepared_gids(&pool).await.is_empty());
}
