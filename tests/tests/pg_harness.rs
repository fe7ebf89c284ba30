//! The throwaway PostgreSQL harness: real clusters, real clients, and no
//! `postgres` process left behind however a test ends.

// Test helpers may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ithaca_testkit::pg::{self, PgCluster, PgError};
use sqlx::Connection;

/// Set in a child test process started by the tests below.
const CHILD_ENV: &str = "ITHACA_PG_HARNESS_CHILD";

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < timeout, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn parallel_tests_get_separate_databases() {
    // Two threads stand in for two tests running at once in one process.
    let run = |tag: &'static str| {
        std::thread::spawn(move || {
            let db = pg::database().expect("PostgreSQL for tests");
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let mut conn = sqlx::PgConnection::connect(db.url()).await.unwrap();
                sqlx::query("CREATE TABLE marker (tag text)")
                    .execute(&mut conn)
                    .await
                    .unwrap();
                sqlx::query("INSERT INTO marker VALUES ($1)")
                    .bind(tag)
                    .execute(&mut conn)
                    .await
                    .unwrap();
                std::thread::sleep(Duration::from_millis(200));
                let tags: Vec<(String,)> = sqlx::query_as("SELECT tag FROM marker")
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
                assert_eq!(tags, vec![(tag.to_owned(),)], "saw another test's rows");
            });
            db.name().to_owned()
        })
    };
    let (a, b) = (run("a"), run("b"));
    let (a, b) = (a.join().unwrap(), b.join().unwrap());
    assert_ne!(a, b);
    // Dropped databases are gone.
    let cluster = PgCluster::shared().unwrap();
    let left = cluster
        .psql(
            "postgres",
            &format!("SELECT count(*) FROM pg_database WHERE datname IN ('{a}', '{b}')"),
        )
        .unwrap();
    assert_eq!(left, "0");
}

#[tokio::test]
async fn clusters_allow_prepared_transactions() {
    let db = pg::database().expect("PostgreSQL for tests");
    let mut conn = sqlx::PgConnection::connect(db.url()).await.unwrap();
    let (max,): (String,) = sqlx::query_as("SHOW max_prepared_transactions")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(max.parse::<u32>().unwrap() > 0);
    sqlx::raw_sql("CREATE TABLE t (x int); BEGIN; INSERT INTO t VALUES (1); PREPARE TRANSACTION 'harness-gid';")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::raw_sql("COMMIT PREPARED 'harness-gid'")
        .execute(&mut conn)
        .await
        .unwrap();
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM t")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(n, 1);
    // Listens on loopback only.
    let (addr,): (String,) = sqlx::query_as("SHOW listen_addresses")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(addr, "127.0.0.1");
}

#[test]
fn missing_binaries_fail_with_what_to_install() {
    let error = pg::find_bin_dir_in([PathBuf::from("/nonexistent")]).unwrap_err();
    assert!(matches!(error, PgError::NotInstalled));
    let message = error.to_string();
    assert!(message.contains("apt-get install postgresql"), "{message}");
    assert!(
        message.contains("scripts/install-test-deps.sh"),
        "{message}"
    );
}

/// Runs one ignored test of this binary in a child process and returns the
/// child plus the postmaster pid and cluster directory it reports (through a
/// file, since libtest may capture a test's stdout).
fn spawn_child(test: &str) -> (std::process::Child, u32, PathBuf) {
    let report =
        std::env::temp_dir().join(format!("ithaca-pg-child-{}-{test}", std::process::id()));
    let _ = std::fs::remove_file(&report);
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--ignored", "--test-threads=1"])
        .env(CHILD_ENV, &report)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut text = String::new();
    wait_until(
        "the child reports its cluster",
        Duration::from_secs(60),
        || {
            text = std::fs::read_to_string(&report).unwrap_or_default();
            text.ends_with('\n') || child.try_wait().unwrap().is_some()
        },
    );
    let _ = std::fs::remove_file(&report);
    let (pid, dir) = text
        .trim()
        .split_once(' ')
        .expect("the child reports its cluster");
    (child, pid.parse().unwrap(), PathBuf::from(dir))
}

/// Called by a child test: writes `PID DIR` for the parent.
fn report_cluster(cluster: &PgCluster) {
    let path = std::env::var_os(CHILD_ENV).unwrap();
    let line = format!(
        "{} {}\n",
        cluster.postmaster_pid(),
        cluster.root().display()
    );
    std::fs::write(path, line).unwrap();
}

fn assert_cleaned_up(pid: u32, dir: &std::path::Path) {
    wait_until("the postmaster is gone", Duration::from_secs(20), || {
        !pg::process_exists(pid)
    });
    wait_until(
        "the cluster directory is deleted",
        Duration::from_secs(20),
        || !dir.exists(),
    );
    assert!(!pg::postgres_running_in(&dir.join("data")));
}

#[test]
fn a_panicking_test_leaves_no_postgres_behind() {
    let (mut child, pid, dir) = spawn_child("child_starts_a_cluster_and_panics");
    let status = child.wait().unwrap();
    assert!(!status.success(), "the child test was meant to fail");
    assert_cleaned_up(pid, &dir);
}

#[test]
fn a_killed_test_process_leaves_no_postgres_behind() {
    let (mut child, pid, dir) = spawn_child("child_uses_the_shared_cluster_and_hangs");
    assert!(pg::process_exists(pid));
    child.kill().unwrap(); // SIGKILL: no destructor runs.
    child.wait().unwrap();
    assert_cleaned_up(pid, &dir);
}

#[test]
#[ignore = "run only as a child of a_panicking_test_leaves_no_postgres_behind"]
fn child_starts_a_cluster_and_panics() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let cluster = PgCluster::start().expect("PostgreSQL for tests");
    report_cluster(&cluster);
    panic!("this test panics on purpose while its cluster runs");
}

#[test]
#[ignore = "run only as a child of a_killed_test_process_leaves_no_postgres_behind"]
fn child_uses_the_shared_cluster_and_hangs() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let db = pg::database().expect("PostgreSQL for tests");
    let cluster = db.cluster();
    report_cluster(cluster);
    std::thread::sleep(Duration::from_secs(120));
}
