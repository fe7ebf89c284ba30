//! Shared harness of the driver tests: a coordinator service on a real
//! log (a SQLite file, or a database of the test PostgreSQL cluster), an
//! in-memory recording sink, and helpers to script participants.

#![allow(dead_code, unreachable_pub)] // Each test binary uses a subset.
#![allow(clippy::unwrap_used)] // Test helpers: a failed step is a failed test.

use std::sync::Arc;
use std::time::Duration;

use ithaca_txn::driver::testing::RecordingSink;
use ithaca_txn::driver::{CoordinatorService, DriverConfig, Message, RetryPolicy};
use ithaca_txn::engine::{Inbound, Protocol};
use ithaca_txn::log::{CoordinatorLog, FencingToken, PgLog, SqliteLog};
use ithaca_txn::record::{EndpointRef, ParticipantId, TxId};

/// How long a test waits for something that should happen.
pub const WAIT: Duration = Duration::from_secs(10);

/// Where the log lives.
pub enum Store {
    /// A SQLite file in a temporary directory.
    Sqlite(tempfile::TempDir),
    /// A fresh database in the shared test cluster.
    Postgres(ithaca_testkit::pg::TestDatabase<'static>),
}

impl Store {
    /// A new, empty store of the given kind.
    pub fn new(postgres: bool) -> Self {
        if postgres {
            Self::Postgres(ithaca_testkit::pg::database().expect("a PostgreSQL test cluster"))
        } else {
            Self::Sqlite(tempfile::tempdir().unwrap())
        }
    }

    /// A log handle for `instance`, writing with `token`.
    pub async fn open(&self, instance: &str, token: u64) -> Arc<dyn CoordinatorLog> {
        match self {
            Self::Sqlite(dir) => Arc::new(
                SqliteLog::open(&dir.path().join("txn.db"), instance)
                    .await
                    .unwrap()
                    .with_token(FencingToken(token)),
            ),
            Self::Postgres(db) => Arc::new(
                PgLog::connect(db.url(), instance)
                    .await
                    .unwrap()
                    .with_token(FencingToken(token)),
            ),
        }
    }

    /// The PostgreSQL test database, if that is the store.
    pub fn postgres(&self) -> Option<&ithaca_testkit::pg::TestDatabase<'static>> {
        match self {
            Self::Postgres(db) => Some(db),
            Self::Sqlite(_) => None,
        }
    }
}

/// Timers short enough for tests.
pub fn config() -> DriverConfig {
    let mut config = DriverConfig::default();
    config.engine.resend_after = Duration::from_millis(300);
    config.engine.linger = Duration::from_secs(2);
    config.send_retry = RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
    };
    config.store_retry = RetryPolicy {
        max_attempts: u32::MAX,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
    };
    config
}

/// A running coordinator with its sink and store.
pub struct Harness {
    pub service: CoordinatorService,
    pub sink: RecordingSink,
    pub log: Arc<dyn CoordinatorLog>,
    pub store: Store,
}

impl Harness {
    /// Starts a coordinator `node-a` on a fresh store and waits for its
    /// recovery.
    pub async fn start(postgres: bool) -> Self {
        Self::start_with(postgres, config()).await
    }

    /// Same, with a configuration.
    pub async fn start_with(postgres: bool, config: DriverConfig) -> Self {
        let store = Store::new(postgres);
        Self::start_on(store, "node-a", 0, config).await
    }

    /// Starts `instance` on an existing store.
    pub async fn start_on(store: Store, instance: &str, token: u64, config: DriverConfig) -> Self {
        let log = store.open(instance, token).await;
        let sink = RecordingSink::new();
        let service =
            CoordinatorService::start(config, Arc::clone(&log), Arc::new(sink.clone())).unwrap();
        tokio::time::timeout(WAIT, service.recovered())
            .await
            .expect("recovery in time")
            .unwrap();
        Self {
            service,
            sink,
            log,
            store,
        }
    }

    /// A transaction with an initiator (`http://initiator`) and a
    /// registration per `(protocol, address)`.
    pub fn transaction(
        &self,
        participants: &[(Protocol, &str)],
    ) -> (TxId, ParticipantId, Vec<ParticipantId>) {
        let tx = self.service.create(None).unwrap();
        let initiator = self
            .service
            .register(&tx, Protocol::Completion, EndpointRef::new(INITIATOR))
            .unwrap();
        let ids = participants
            .iter()
            .map(|(protocol, address)| {
                self.service
                    .register(&tx, *protocol, EndpointRef::new(*address))
                    .unwrap()
            })
            .collect();
        (tx, initiator, ids)
    }

    /// The initiator asks for `message` (Commit or Rollback).
    pub fn complete(&self, tx: &TxId, initiator: ParticipantId, message: Inbound) {
        self.service
            .deliver(tx, initiator, Protocol::Completion, message)
            .unwrap();
    }

    /// A durable participant sends `message`.
    pub fn durable(&self, tx: &TxId, from: ParticipantId, message: Inbound) {
        self.service
            .deliver(tx, from, Protocol::Durable2Pc, message)
            .unwrap();
    }

    /// Waits until `address` has been delivered `message` for `tx` at
    /// least `times` times.
    pub async fn expect(&self, tx: &TxId, address: &str, message: Message, times: usize) {
        let ok = self
            .sink
            .wait_for(WAIT, |_| count(&self.sink, tx, address, message) >= times)
            .await;
        assert!(
            ok,
            "{address} never got {message:?} x{times} for {tx}; it got {:?}",
            self.sink.delivered_to(tx, address)
        );
    }

    /// Waits until the log holds no unfinished decision.
    pub async fn expect_log_empty(&self) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let left = self.log.load_unfinished().await.unwrap();
            if left.is_empty() {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "decisions left in the log: {left:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The initiator's address.
pub const INITIATOR: &str = "http://initiator";

/// How often `address` was delivered `message` for `tx`.
pub fn count(sink: &RecordingSink, tx: &TxId, address: &str, message: Message) -> usize {
    sink.delivered_to(tx, address)
        .into_iter()
        .filter(|m| *m == message)
        .count()
}
