//! The PostgreSQL bank on a WS-AT branch, against a real PostgreSQL (the
//! test harness's throwaway cluster): a movement changes the balance and
//! writes its journal row in one statement, a refused debit changes
//! nothing and reports the balance, a write behind a prepared (in-doubt)
//! branch fails after the lock timeout instead of hanging, and a branch
//! record keeps any transaction identifier and coordinator endpoint
//! exactly (the participant writes it as escaped literals) through a
//! crash and recovery; branches keep working after the server ends the
//! connections the participant keeps between uses; a branch costs the
//! round trips the participant's documentation promises, counted on the
//! wire (every exchange with the server, pool checks included, ends with
//! one ReadyForQuery message); and a task waiting for a pool connection
//! gets the one a finished branch gives back.

#![allow(clippy::unwrap_used)] // Test helpers: a failed step is a failed test.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ithaca_services::bank::ledger::{self, LOCK_TIMEOUT_MS, LedgerError};
use ithaca_testkit::pg::TestDatabase;
use ithaca_txn::participant::{NodeId, PgParticipant, PgParticipantError, PrepareOutcome};
use ithaca_txn::participant::{Resolution, WsatVersion};
use ithaca_txn::record::{EndpointRef, TxId};
use sqlx::Connection;
use sqlx::postgres::{PgPool, PgPoolOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn bank(db: &TestDatabase<'_>) -> PgPool {
    let pool = PgPoolOptions::new()
        .max_connections(8)
        .connect(db.url())
        .await
        .unwrap();
    ledger::ensure_schema(&pool).await.unwrap();
    ledger::open_accounts(&pool, 3, 1_000).await.unwrap();
    pool
}

async fn balance(pool: &PgPool, account: &str) -> Option<i64> {
    let mut conn = pool.acquire().await.unwrap();
    ledger::balance(&mut conn, account).await.unwrap()
}

/// The journal rows of `tx`, as (account, delta), in account order.
async fn journal(pool: &PgPool, tx: &str) -> Vec<(String, i64)> {
    sqlx::query_as("SELECT account, delta FROM bank_journal WHERE tx = $1 ORDER BY account")
        .bind(tx)
        .fetch_all(pool)
        .await
        .unwrap()
}

fn coordinator() -> EndpointRef {
    EndpointRef {
        address: "http://127.0.0.1:9/wsat/coordinator".into(),
        reference_parameters: "<i:Tx xmlns:i=\"urn:ithaca:wsat\">1</i:Tx>".into(),
    }
}

#[tokio::test]
async fn movements_write_their_journal_rows_and_a_refused_debit_changes_nothing() {
    let db = ithaca_testkit::pg::database().expect("a PostgreSQL test cluster");
    let pool = bank(&db).await;
    let mut conn = pool.acquire().await.unwrap();
    sqlx::raw_sql("BEGIN").execute(&mut *conn).await.unwrap();
    assert_eq!(
        ledger::debit(&mut conn, "tx-1", "1", 300).await.unwrap(),
        700
    );
    assert_eq!(
        ledger::credit(&mut conn, "tx-1", "2", 300).await.unwrap(),
        1_300
    );
    // A credit to a new account opens it.
    assert_eq!(
        ledger::credit(&mut conn, "tx-1", "new", 5).await.unwrap(),
        5
    );
    sqlx::raw_sql("COMMIT").execute(&mut *conn).await.unwrap();
    assert_eq!(
        journal(&pool, "tx-1").await,
        vec![("1".into(), -300), ("2".into(), 300), ("new".into(), 5)]
    );
    assert_eq!(balance(&pool, "new").await, Some(5));

    let refused = ledger::debit(&mut conn, "tx-2", "1", 701)
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused,
            LedgerError::InsufficientFunds {
                balance: 700,
                requested: 701,
                ..
            }
        ),
        "{refused}"
    );
    let missing = ledger::debit(&mut conn, "tx-2", "nobody", 1)
        .await
        .unwrap_err();
    assert!(
        matches!(missing, LedgerError::InsufficientFunds { balance: 0, .. }),
        "{missing}"
    );
    let overflow = ledger::credit(&mut conn, "tx-2", "2", i64::MAX)
        .await
        .unwrap_err();
    assert!(matches!(overflow, LedgerError::Overflow(_)), "{overflow}");
    assert!(journal(&pool, "tx-2").await.is_empty());
    assert_eq!(balance(&pool, "1").await, Some(700));
    assert_eq!(balance(&pool, "2").await, Some(1_300));

    // Bad input is refused before any SQL.
    let long_tx = "t".repeat(ledger::MAX_TX_LEN + 1);
    assert!(matches!(
        ledger::debit(&mut conn, &long_tx, "1", 1).await,
        Err(LedgerError::InvalidTransaction)
    ));
    assert!(matches!(
        ledger::credit(&mut conn, "tx-3", "a b", 1).await,
        Err(LedgerError::InvalidAccount)
    ));
}

#[tokio::test]
async fn a_write_behind_a_prepared_branch_fails_after_the_lock_timeout() {
    let db = ithaca_testkit::pg::database().expect("a PostgreSQL test cluster");
    let pool = bank(&db).await;
    let (participant, _) = PgParticipant::start(pool.clone(), NodeId::new("holder").unwrap())
        .await
        .unwrap();
    let tx = TxId("urn:uuid:holder".into());
    let mut branch = participant
        .begin(&tx, &coordinator(), WsatVersion::V2006)
        .await
        .unwrap();
    ledger::debit(branch.connection(), &tx.0, "1", 10)
        .await
        .unwrap();
    let PrepareOutcome::Prepared(gid) = branch.prepare().await.unwrap() else {
        panic!("the branch wrote");
    };

    // Account 1's row is locked by the prepared branch, in doubt.
    let limit = Duration::from_millis(u64::from(LOCK_TIMEOUT_MS));
    for is_debit in [true, false] {
        let mut conn = pool.acquire().await.unwrap();
        sqlx::raw_sql("BEGIN").execute(&mut *conn).await.unwrap();
        let started = Instant::now();
        let result = if is_debit {
            ledger::debit(&mut conn, "tx-late", "1", 1).await
        } else {
            ledger::credit(&mut conn, "tx-late", "1", 1).await
        };
        let waited = started.elapsed();
        let Err(LedgerError::Database(error)) = result else {
            panic!("the write behind the prepared branch did not time out: {result:?}");
        };
        let code = error.as_database_error().and_then(|e| e.code());
        assert_eq!(code.as_deref(), Some("55P03"), "{error}");
        assert!(
            waited >= limit.mul_f32(0.9) && waited < limit * 3,
            "waited {waited:?}"
        );
        sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await.unwrap();
    }

    assert_eq!(
        participant.commit_prepared(&gid).await.unwrap(),
        Resolution::Committed
    );
    assert_eq!(balance(&pool, "1").await, Some(990));
    assert_eq!(journal(&pool, &tx.0).await, vec![("1".into(), -10)]);
}

#[tokio::test]
async fn a_branch_record_keeps_any_endpoint_through_a_crash() {
    let db = ithaca_testkit::pg::database().expect("a PostgreSQL test cluster");
    let pool = bank(&db).await;
    let node = NodeId::new("odd").unwrap();
    let (participant, _) = PgParticipant::start(pool.clone(), node.clone())
        .await
        .unwrap();
    // Quotes, backslashes, escape-looking sequences, dollar quotes,
    // semicolons, comments, line breaks and non-ASCII text.
    let tx = TxId("urn:uuid:it's-a \\' tx; -- $$ \\x41".into());
    let odd = EndpointRef {
        address: "http://h/wsat?q='x'\\'; DROP TABLE bank_account; --\\n\\\\ é ✓".into(),
        reference_parameters: "<i:Tx xmlns:i=\"urn:i\">E'\\\\' $$ ''</i:Tx>\n<i:K>/* */</i:K>"
            .into(),
    };
    let mut branch = participant
        .begin(&tx, &odd, WsatVersion::V2004)
        .await
        .unwrap();
    ledger::credit(branch.connection(), &tx.0, "3", 7)
        .await
        .unwrap();
    let PrepareOutcome::Prepared(gid) = branch.prepare().await.unwrap() else {
        panic!("the branch wrote");
    };
    drop(participant);

    // The process "crashes" and starts again: the scan finds the branch
    // with its endpoint exactly as registered.
    let (participant, recovery) = PgParticipant::start(pool.clone(), node).await.unwrap();
    assert_eq!(recovery.branches.len(), 1, "{recovery:?}");
    let recovered = &recovery.branches[0];
    assert_eq!(recovered.gid, gid);
    assert_eq!(recovered.id.tx, tx);
    assert_eq!(recovered.coordinator, odd);
    assert_eq!(recovered.version, WsatVersion::V2004);
    assert_eq!(
        participant.commit_prepared(&gid).await.unwrap(),
        Resolution::Committed
    );
    assert_eq!(balance(&pool, "3").await, Some(1_007));
    assert_eq!(
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM bank_account")
            .fetch_one(&pool)
            .await
            .unwrap(),
        3
    );

    // PostgreSQL text cannot hold NUL: refused before any SQL.
    let nul = EndpointRef::new("http://h/\0");
    assert!(matches!(
        participant
            .begin(&TxId("urn:uuid:nul".into()), &nul, WsatVersion::V2006)
            .await,
        Err(PgParticipantError::Nul)
    ));
}

#[tokio::test]
async fn a_branch_that_only_read_votes_read_only_and_leaves_no_record() {
    let db = ithaca_testkit::pg::database().expect("a PostgreSQL test cluster");
    let pool = bank(&db).await;
    let (participant, _) = PgParticipant::start(pool.clone(), NodeId::new("reader").unwrap())
        .await
        .unwrap();
    let mut branch = participant
        .begin(
            &TxId("urn:uuid:reader".into()),
            &coordinator(),
            WsatVersion::V2006,
        )
        .await
        .unwrap();
    assert_eq!(
        ledger::balance(branch.connection(), "1").await.unwrap(),
        Some(1_000)
    );
    assert_eq!(branch.prepare().await.unwrap(), PrepareOutcome::ReadOnly);
    let records: i64 = sqlx::query_scalar("SELECT count(*) FROM ithaca_wsat_branch")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(records, 0);
}

#[tokio::test]
async fn branches_keep_working_after_the_server_drops_the_kept_connections() {
    let db = ithaca_testkit::pg::database().expect("a PostgreSQL test cluster");
    let pool = bank(&db).await;
    let (participant, _) = PgParticipant::start(pool.clone(), NodeId::new("kept").unwrap())
        .await
        .unwrap();
    for round in 0..3 {
        // Several branches at once, so several connections are kept.
        let mut branches = Vec::new();
        for n in 0..3 {
            let tx = TxId(format!("urn:uuid:kept-{round}-{n}"));
            let mut branch = participant
                .begin(&tx, &coordinator(), WsatVersion::V2006)
                .await
                .unwrap();
            ledger::credit(branch.connection(), &tx.0, &(n + 1).to_string(), 1)
                .await
                .unwrap();
            branches.push(branch);
        }
        for branch in branches {
            let PrepareOutcome::Prepared(gid) = branch.prepare().await.unwrap() else {
                panic!("the branch wrote");
            };
            assert_eq!(
                participant.commit_prepared(&gid).await.unwrap(),
                Resolution::Committed
            );
        }
        // The server ends every session of the bank's database (an
        // administrator, or a restart): the next branches still work.
        let mut admin = sqlx::PgConnection::connect(db.url()).await.unwrap();
        let ended: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()) t",
        )
        .fetch_one(&mut admin)
        .await
        .unwrap();
        assert!(ended > 0);
    }
    for account in ["1", "2", "3"] {
        assert_eq!(balance(&pool, account).await, Some(1_003));
    }
}

/// A loopback proxy in front of the test cluster that counts the
/// ReadyForQuery messages ('Z') the server sends: one per round trip,
/// whether a simple query, an extended-protocol sync or a pool's ping.
struct RoundTripCounter {
    url: String,
    ready: Arc<AtomicU64>,
}

impl RoundTripCounter {
    async fn start(db: &TestDatabase<'_>) -> Self {
        let target = db
            .url()
            .strip_prefix("postgres://postgres@")
            .and_then(|rest| rest.split_once('/'))
            .map(|(host, name)| (host.to_owned(), name.to_owned()))
            .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "postgres://postgres@{}/{}?sslmode=disable",
            listener.local_addr().unwrap(),
            target.1
        );
        let ready = Arc::new(AtomicU64::new(0));
        let counter = ready.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let server = TcpStream::connect(&target.0).await.unwrap();
                tokio::spawn(relay(client, server, counter.clone()));
            }
        });
        Self { url, ready }
    }

    fn count(&self) -> u64 {
        self.ready.load(Ordering::SeqCst)
    }
}

/// Copies both ways, reading the server's messages (type byte, then a
/// length that counts itself) to count the ReadyForQuery ones.
async fn relay(client: TcpStream, server: TcpStream, ready: Arc<AtomicU64>) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let upstream = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
        let _ = server_write.shutdown().await;
    });
    let mut pending: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = match server_read.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if client_write.write_all(&chunk[..n]).await.is_err() {
            break;
        }
        pending.extend_from_slice(&chunk[..n]);
        while pending.len() >= 5 {
            let len = u32::from_be_bytes(pending[1..5].try_into().unwrap()) as usize;
            if pending.len() < 1 + len {
                break;
            }
            if pending[0] == b'Z' {
                ready.fetch_add(1, Ordering::SeqCst);
            }
            pending.drain(..1 + len);
        }
    }
    upstream.abort();
}

/// Round trips per branch on a warm participant (its kept connections
/// open and their statements prepared), `branches` branches one after
/// another, each run by `one`.
async fn round_trips_per_branch<F, Fut>(counter: &RoundTripCounter, branches: u64, one: F) -> f64
where
    F: Fn(u64) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for n in 0..3 {
        one(1_000 + n).await;
    }
    // Let any connection the pool took back finish its release check.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = counter.count();
    for n in 0..branches {
        one(n).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    (counter.count() - before) as f64 / branches as f64
}

#[tokio::test]
async fn a_branch_costs_four_round_trips_with_its_work_and_a_rollback_five() {
    let db = ithaca_testkit::pg::database().expect("a PostgreSQL test cluster");
    bank(&db).await;
    let counter = RoundTripCounter::start(&db).await;
    let pool = PgPoolOptions::new()
        .max_connections(8)
        .connect(&counter.url)
        .await
        .unwrap();
    let (participant, _) = PgParticipant::start(pool.clone(), NodeId::new("counted").unwrap())
        .await
        .unwrap();
    let participant = &participant;

    // Open (record and BEGIN), the debit, prepare, COMMIT PREPARED.
    let committed = round_trips_per_branch(&counter, 20, |n| async move {
        let tx = TxId(format!("urn:uuid:counted-{n}"));
        let mut branch = participant
            .begin(&tx, &coordinator(), WsatVersion::V2006)
            .await
            .unwrap();
        ledger::debit(branch.connection(), &tx.0, "1", 1)
            .await
            .unwrap();
        let PrepareOutcome::Prepared(gid) = branch.prepare().await.unwrap() else {
            panic!("the branch wrote");
        };
        assert_eq!(
            participant.commit_prepared(&gid).await.unwrap(),
            Resolution::Committed
        );
    })
    .await;
    assert_eq!(committed, 4.0);

    // Open, the read, the prepare stopped by the read-only check, and the
    // rollback with the record's delete.
    let read_only = round_trips_per_branch(&counter, 20, |n| async move {
        let tx = TxId(format!("urn:uuid:reader-{n}"));
        let mut branch = participant
            .begin(&tx, &coordinator(), WsatVersion::V2006)
            .await
            .unwrap();
        ledger::balance(branch.connection(), "2").await.unwrap();
        assert_eq!(branch.prepare().await.unwrap(), PrepareOutcome::ReadOnly);
    })
    .await;
    assert_eq!(read_only, 4.0);

    // Open, the credit, prepare, ROLLBACK PREPARED and the record's delete.
    let rolled_back = round_trips_per_branch(&counter, 20, |n| async move {
        let tx = TxId(format!("urn:uuid:undone-{n}"));
        let mut branch = participant
            .begin(&tx, &coordinator(), WsatVersion::V2006)
            .await
            .unwrap();
        ledger::credit(branch.connection(), &tx.0, "3", 1)
            .await
            .unwrap();
        let PrepareOutcome::Prepared(gid) = branch.prepare().await.unwrap() else {
            panic!("the branch wrote");
        };
        assert_eq!(
            participant.rollback_prepared(&gid).await.unwrap(),
            Resolution::RolledBack
        );
    })
    .await;
    assert_eq!(rolled_back, 5.0);

    assert_eq!(balance(&pool, "1").await, Some(1_000 - 23));
    assert_eq!(balance(&pool, "3").await, Some(1_000));
    let records: i64 = sqlx::query_scalar("SELECT count(*) FROM ithaca_wsat_branch")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(records, 0, "every branch record is gone");
}

#[tokio::test]
async fn a_task_waiting_for_the_pool_gets_a_finished_branchs_connection() {
    let db = ithaca_testkit::pg::database().expect("a PostgreSQL test cluster");
    bank(&db).await;
    // Two connections: the participant may keep one.
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(20))
        .connect(db.url())
        .await
        .unwrap();
    let (participant, _) = PgParticipant::start(pool.clone(), NodeId::new("busy").unwrap())
        .await
        .unwrap();
    let open = |name: &'static str| {
        let participant = &participant;
        async move {
            let tx = TxId(format!("urn:uuid:{name}"));
            let mut branch = participant
                .begin(&tx, &coordinator(), WsatVersion::V2006)
                .await
                .unwrap();
            ledger::credit(branch.connection(), &tx.0, name, 1)
                .await
                .unwrap();
            branch
        }
    };
    let first = open("first").await;
    let second = open("second").await;
    // Every connection is out: another user of the pool waits.
    let waiter = tokio::spawn({
        let pool = pool.clone();
        async move {
            let started = Instant::now();
            let conn = pool.acquire().await;
            (conn.is_ok(), started.elapsed())
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiter.is_finished());
    // The first branch finishes while the second is still open: its
    // connection goes to the waiter, not to the participant's kept ones.
    let PrepareOutcome::Prepared(gid) = first.prepare().await.unwrap() else {
        panic!("the branch wrote");
    };
    let (acquired, waited) = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("the waiter got a connection")
        .unwrap();
    assert!(acquired && waited < Duration::from_secs(5), "{waited:?}");
    second.rollback().await.unwrap();
    assert_eq!(
        participant.commit_prepared(&gid).await.unwrap(),
        Resolution::Committed
    );
    assert_eq!(balance(&pool, "first").await, Some(1));
    assert_eq!(balance(&pool, "second").await, None);
}
