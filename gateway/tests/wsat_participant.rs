//! Money transfers through the Ithaca-hosted WS-AT coordinator, end to end
//! over real HTTP: one gateway hosts the coordinator and the protocol
//! endpoints of two bank participants (`ParticipantHost`), each on its own
//! PostgreSQL database of the test harness. The initiator activates a
//! context and registers for Completion; each bank registers for
//! Durable2PC through SOAP before its business work, debits or credits on
//! its branch, and the initiator's Commit runs two-phase commit with
//! `PREPARE TRANSACTION` / `COMMIT PREPARED` on both databases.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use ithaca_gateway::wsat::participant::{ParticipantError, ParticipantHost, SoapCoordinatorLink};
use ithaca_gateway::wsat::{HttpSink, WsatHost, WsatSettings};
use ithaca_testkit::pg::TestDatabase;
use ithaca_txn::driver::DriverConfig;
use ithaca_txn::engine::Protocol;
use ithaca_txn::log::SqliteLog;
use ithaca_txn::participant::{self as participant, NodeId, PgParticipant, PgParticipantService};
use ithaca_txn::wire::{
    self, Body, CoordinationContext, CorrelationKey, CreateCoordinationContext, EndpointReference,
    Message, Notification, Register, WireLimits, WsTxVersion,
};
use ithaca_wsdl::{Limits, SoapVersion};
use sqlx::postgres::{PgPool, PgPoolOptions};
use support::TestGateway;

const V: WsTxVersion = WsTxVersion::Jun2006;

async fn post(addr: SocketAddr, path: &str, message: &Message) -> Option<Message> {
    let request = http::Request::post(path)
        .header("host", addr.to_string())
        .header("content-type", "text/xml; charset=utf-8")
        .body(Full::new(Bytes::from(message.encode().unwrap())))
        .unwrap();
    let reply = support::http1(addr, request).await;
    wire::decode(
        &reply.body,
        None,
        &Limits::default(),
        &WireLimits::default(),
    )
    .ok()
}

fn path_of(addr: SocketAddr, url: &str) -> String {
    url.split_once(&addr.to_string()).unwrap().1.to_owned()
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

/// The coordinator and two banks behind one gateway.
struct World {
    gateway: TestGateway,
    _coordinator: WsatHost,
    a: ParticipantHost,
    b: ParticipantHost,
    pool_a: PgPool,
    pool_b: PgPool,
    _log_dir: tempfile::TempDir,
}

async fn participant_host(pool: &PgPool, node: &str, base: &str, path: &str) -> ParticipantHost {
    let (pg, recovery) = PgParticipant::start(pool.clone(), NodeId::new(node).unwrap())
        .await
        .unwrap();
    let sink = HttpSink::new(Arc::new(CorrelationKey::from_bytes([9; 32])), None).unwrap();
    let service = PgParticipantService::start(
        pg,
        &recovery,
        Arc::new(SoapCoordinatorLink::new(sink)),
        participant::Config {
            resend_after: Duration::from_millis(300),
            ..participant::Config::default()
        },
    );
    ParticipantHost::new(service, CorrelationKey::from_bytes([5; 32]), base, path)
}

impl World {
    async fn start(db_a: &TestDatabase<'_>, db_b: &TestDatabase<'_>, accounts: i64) -> Self {
        let log_dir = tempfile::tempdir().unwrap();
        let log = SqliteLog::open(&log_dir.path().join("wsat.sqlite3"), "test")
            .await
            .unwrap();
        let mut driver = DriverConfig::default();
        driver.engine.resend_after = Duration::from_millis(300);
        let coordinator = WsatHost::start(WsatSettings {
            log: Arc::new(log),
            key: CorrelationKey::from_bytes([7; 32]),
            public_url: None,
            driver,
            limits: Limits {
                max_size: 64 * 1024,
                ..Limits::DEFAULT
            },
            wire: WireLimits::default(),
        })
        .unwrap();
        coordinator.service().recovered().await.unwrap();
        let port = ithaca_testkit::free_port().unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let (pool_a, pool_b) = (bank(db_a, accounts).await, bank(db_b, accounts).await);
        let a = participant_host(&pool_a, "bank-a", &base, "/bank-a/wsat").await;
        let b = participant_host(&pool_b, "bank-b", &base, "/bank-b/wsat").await;
        let routes = coordinator
            .routes()
            .clone()
            .merge(&a.routes())
            .merge(&b.routes());
        let gateway = TestGateway::start(routes, |config| {
            config.server.listen = format!("127.0.0.1:{port}").parse().unwrap();
            config.membership.enabled = false;
        })
        .await;
        Self {
            gateway,
            _coordinator: coordinator,
            a,
            b,
            pool_a,
            pool_b,
            _log_dir: log_dir,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.gateway.addr()
    }

    /// Activation plus the initiator's Completion registration: the
    /// context and the coordinator's Completion endpoint.
    async fn begin(&self) -> (CoordinationContext, EndpointReference) {
        let mut request = Message::new(
            SoapVersion::Soap11,
            V,
            Body::CreateCoordinationContext(CreateCoordinationContext {
                expires: Some(60_000),
                current_context: None,
                coordination_type: V.wsat().to_owned(),
            }),
        );
        request.addressing.message_id = Some("urn:uuid:activate".into());
        request.addressing.reply_to = Some(EndpointReference::anonymous(V));
        let answer = post(self.addr(), "/wsat/activation", &request)
            .await
            .unwrap();
        let Body::CreateCoordinationContextResponse(context) = answer.body else {
            panic!("no context");
        };
        let mut register = Message::to_endpoint(
            SoapVersion::Soap11,
            V,
            &context.registration_service,
            Body::Register(Register {
                protocol_identifier: V.protocol_uri(Protocol::Completion),
                // The initiator is told the outcome here; nobody listens.
                participant_protocol_service: EndpointReference::new(
                    "http://127.0.0.1:9/initiator",
                ),
            }),
        );
        register.addressing.message_id = Some("urn:uuid:register-completion".into());
        register.addressing.reply_to = Some(EndpointReference::anonymous(V));
        let path = path_of(self.addr(), &context.registration_service.address);
        let answer = post(self.addr(), &path, &register).await.unwrap();
        let Body::RegisterResponse(completion) = answer.body else {
            panic!("Completion registration refused");
        };
        (context, completion)
    }

    async fn commit(&self, completion: &EndpointReference) {
        let mut commit = Message::to_endpoint(
            SoapVersion::Soap11,
            V,
            completion,
            Body::Notification(Notification::Commit),
        );
        commit.addressing.message_id = Some(format!("urn:uuid:commit-{}", rand_suffix()));
        let path = path_of(self.addr(), &completion.address);
        post(self.addr(), &path, &commit).await;
    }

    /// One transfer of `amount` from A's account `from` to B's account
    /// `to`; B's work fails when `fail_credit`.
    async fn transfer(&self, from: i64, to: i64, amount: i64, fail_credit: bool) {
        let (context, completion) = self.begin().await;
        let mut debit = self.a.enlist(&context).await.unwrap();
        sqlx::query("UPDATE account SET balance = balance - $2 WHERE id = $1")
            .bind(from)
            .bind(amount)
            .execute(debit.connection())
            .await
            .unwrap();
        self.a.service().work_done(debit);
        let mut credit = self.b.enlist(&context).await.unwrap();
        sqlx::query("UPDATE account SET balance = balance + $2 WHERE id = $1")
            .bind(to)
            .bind(amount)
            .execute(credit.connection())
            .await
            .unwrap();
        if fail_credit {
            self.b.service().work_failed(credit);
        } else {
            self.b.service().work_done(credit);
        }
        self.commit(&completion).await;
    }

    /// Waits until both banks hold no branch and nothing is prepared.
    async fn settled(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let idle = self.a.service().is_empty() && self.b.service().is_empty();
            if idle && prepared(&self.pool_a).await + prepared(&self.pool_b).await == 0 {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "transactions did not settle: {} and {} branches open",
                self.a.service().len(),
                self.b.service().len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[tokio::test]
async fn a_transfer_commits_on_both_databases() {
    let (db_a, db_b) = (
        ithaca_testkit::pg::database().unwrap(),
        ithaca_testkit::pg::database().unwrap(),
    );
    let world = World::start(&db_a, &db_b, 2).await;
    world.transfer(1, 2, 300, false).await;
    world.settled().await;
    assert_eq!(total(&world.pool_a).await, 1700);
    assert_eq!(total(&world.pool_b).await, 2300);
}

#[tokio::test]
async fn a_participant_voting_aborted_rolls_both_back() {
    let (db_a, db_b) = (
        ithaca_testkit::pg::database().unwrap(),
        ithaca_testkit::pg::database().unwrap(),
    );
    let world = World::start(&db_a, &db_b, 2).await;
    world.transfer(1, 2, 300, true).await;
    world.settled().await;
    assert_eq!(total(&world.pool_a).await, 2000);
    assert_eq!(total(&world.pool_b).await, 2000);
}

#[tokio::test]
async fn fifty_concurrent_transfers_conserve_money_and_leave_nothing_prepared() {
    let (db_a, db_b) = (
        ithaca_testkit::pg::database().unwrap(),
        ithaca_testkit::pg::database().unwrap(),
    );
    let world = Arc::new(World::start(&db_a, &db_b, 50).await);
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..50i64 {
        let world = world.clone();
        tasks.spawn(async move { world.transfer(n + 1, 50 - n, n + 1, n % 7 == 0).await });
    }
    while let Some(result) = tasks.join_next().await {
        result.unwrap();
    }
    world.settled().await;
    // Every transfer either moved its amount on both sides or on neither.
    let (a, b) = (total(&world.pool_a).await, total(&world.pool_b).await);
    assert_eq!(a + b, 100_000);
    assert!(a < 50_000, "some transfers committed");
}

#[tokio::test]
async fn a_refused_registration_fails_the_request_before_any_work() {
    let (db_a, db_b) = (
        ithaca_testkit::pg::database().unwrap(),
        ithaca_testkit::pg::database().unwrap(),
    );
    let world = World::start(&db_a, &db_b, 1).await;
    let (mut context, _) = world.begin().await;
    // A forged registration reference parameter: the coordinator refuses.
    context.registration_service.reference_parameters =
        vec!["<f:Forged xmlns:f=\"urn:forged\">1</f:Forged>".into()];
    let error = world.a.enlist(&context).await.unwrap_err();
    assert!(
        matches!(error, ParticipantError::RegisterFailed(_)),
        "{error}"
    );
    assert!(world.a.service().is_empty());
    // A context of another coordination type is refused outright.
    context.coordination_type = "urn:not-ws-at".into();
    assert!(matches!(
        world.a.enlist(&context).await,
        Err(ParticipantError::UnsupportedContext(_))
    ));
}
