//! The WS-AT coordinator hosted by the gateway, over real HTTP: a scripted
//! initiator and participants (Ithaca's wire codec on the client side,
//! real HTTP listeners for their protocol endpoints) drive activation,
//! registration, Completion and two-phase commit, and every refusal the
//! specifications name.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use ithaca_gateway::wsat::{WsatHost, WsatSettings};
use ithaca_txn::driver::DriverConfig;
use ithaca_txn::engine::{Phase, Protocol};
use ithaca_txn::log::SqliteLog;
use ithaca_txn::record::{ParticipantId, TxId};
use ithaca_txn::wire::{
    self, Body, CoordinationContext, Correlation, CorrelationKey, CreateCoordinationContext,
    EndpointReference, FaultKind, Message, Notification, Register, WireFault, WireLimits,
    WsTxVersion,
};
use ithaca_wsdl::{Limits, SoapVersion};
use support::TestGateway;
use tokio::sync::mpsc;

const KEY: [u8; 32] = [7; 32];

/// A coordinator behind a gateway, with the key its tests may sign with.
struct Coordinator {
    host: WsatHost,
    gateway: TestGateway,
    _log_dir: tempfile::TempDir,
}

impl Coordinator {
    async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    async fn start_with(tweak: impl FnOnce(&mut WsatSettings)) -> Self {
        let log_dir = tempfile::tempdir().unwrap();
        let log = SqliteLog::open(&log_dir.path().join("wsat.sqlite3"), "test")
            .await
            .unwrap();
        let mut driver = DriverConfig::default();
        driver.engine.resend_after = Duration::from_millis(500);
        let mut settings = WsatSettings {
            log: Arc::new(log),
            key: CorrelationKey::from_bytes(KEY),
            public_url: None,
            driver,
            limits: Limits {
                max_size: 64 * 1024,
                ..Limits::DEFAULT
            },
            wire: WireLimits::default(),
        };
        tweak(&mut settings);
        let host = WsatHost::start(settings).unwrap();
        host.service().recovered().await.unwrap();
        let gateway = TestGateway::start(host.routes().clone(), |config| {
            config.membership.enabled = false;
        })
        .await;
        Self {
            host,
            gateway,
            _log_dir: log_dir,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.gateway.addr()
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr())
    }
}

/// What came back from one exchange.
struct Answer {
    status: u16,
    text: String,
    message: Option<Message>,
}

async fn post_raw(addr: SocketAddr, path: &str, content_type: &str, body: Vec<u8>) -> Answer {
    let request = http::Request::post(path)
        .header("host", addr.to_string())
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let reply = support::http1(addr, request).await;
    let message = wire::decode(
        &reply.body,
        None,
        &Limits::default(),
        &WireLimits::default(),
    )
    .ok();
    Answer {
        status: reply.status,
        text: reply.text(),
        message,
    }
}

async fn send(addr: SocketAddr, path: &str, message: &Message) -> Answer {
    let content_type = match message.soap {
        SoapVersion::Soap11 => "text/xml; charset=utf-8",
        SoapVersion::Soap12 => "application/soap+xml; charset=utf-8",
    };
    post_raw(addr, path, content_type, message.encode().unwrap()).await
}

/// Sends `body` to `to` (address and reference parameters) like a peer
/// would: new MessageID, anonymous ReplyTo.
async fn send_to(
    addr: SocketAddr,
    soap: SoapVersion,
    version: WsTxVersion,
    to: &EndpointReference,
    body: Body,
) -> Answer {
    let mut message = Message::to_endpoint(soap, version, to, body);
    message.addressing.message_id = Some(format!("urn:uuid:test-{}", rand_suffix()));
    message.addressing.reply_to = Some(EndpointReference::anonymous(version));
    let path = to
        .address
        .split_once(&addr.to_string())
        .unwrap()
        .1
        .to_owned();
    send(addr, &path, &message).await
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

fn fault_kind(answer: &Answer) -> Option<FaultKind> {
    match &answer.message.as_ref()?.body {
        Body::Fault(WireFault { kind, .. }) => Some(*kind),
        _ => None,
    }
}

/// The answer is the fault `kind`.
#[track_caller]
fn assert_fault(answer: &Answer, kind: FaultKind) {
    assert_eq!(fault_kind(answer), Some(kind), "{}", answer.text);
}

/// One transaction as a scripted peer sees it: the coordinator, the
/// context it answered, and the SOAP and WS-TX versions the peer speaks.
#[derive(Clone)]
struct Peer<'a> {
    c: &'a Coordinator,
    context: CoordinationContext,
    soap: SoapVersion,
    version: WsTxVersion,
}

impl<'a> Peer<'a> {
    /// Activation: the context, checked as a user would check it.
    async fn activate(
        c: &'a Coordinator,
        soap: SoapVersion,
        version: WsTxVersion,
        expires: Option<u32>,
    ) -> Self {
        let mut request = Message::new(
            soap,
            version,
            Body::CreateCoordinationContext(CreateCoordinationContext {
                expires,
                current_context: None,
                coordination_type: version.wsat().to_owned(),
            }),
        );
        request.addressing.message_id = Some("urn:uuid:activate-1".into());
        request.addressing.reply_to = Some(EndpointReference::anonymous(version));
        request.addressing.to = Some(c.url("/wsat/activation"));
        let answer = send(c.addr(), "/wsat/activation", &request).await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        let message = answer.message.expect("a WS-Coordination answer");
        assert_eq!(message.soap, soap);
        assert_eq!(message.version, version);
        assert_eq!(
            message.addressing.relates_to.as_deref(),
            Some("urn:uuid:activate-1")
        );
        assert!(message.addressing.message_id.is_some());
        let Body::CreateCoordinationContextResponse(context) = message.body else {
            panic!("not a context: {}", answer.text);
        };
        assert!(
            context.identifier.starts_with("urn:uuid:"),
            "{}",
            context.identifier
        );
        assert_eq!(context.coordination_type, version.wsat());
        assert_eq!(
            context.registration_service.address,
            c.url("/wsat/registration")
        );
        assert_eq!(context.registration_service.reference_parameters.len(), 1);
        Self {
            c,
            context,
            soap,
            version,
        }
    }

    /// The same transaction, spoken in another SOAP version.
    fn speaking(&self, soap: SoapVersion) -> Self {
        Self {
            soap,
            ..self.clone()
        }
    }

    /// The same peer holding another (forged or edited) context.
    fn with_context(&self, context: CoordinationContext) -> Self {
        Self {
            context,
            ..self.clone()
        }
    }

    fn tx(&self) -> TxId {
        TxId(self.context.identifier.clone())
    }

    /// Registration: the coordinator protocol endpoint, or the answer.
    async fn register(
        &self,
        protocol_identifier: &str,
        participant: &EndpointReference,
    ) -> Result<EndpointReference, Answer> {
        let answer = self
            .send(
                &self.context.registration_service,
                Body::Register(Register {
                    protocol_identifier: protocol_identifier.to_owned(),
                    participant_protocol_service: participant.clone(),
                }),
            )
            .await;
        match answer.message.as_ref().map(|m| &m.body) {
            Some(Body::RegisterResponse(epr)) if answer.status == 200 => Ok(epr.clone()),
            _ => Err(answer),
        }
    }

    /// Registers for `protocol`, which must succeed.
    async fn enlist(
        &self,
        protocol: Protocol,
        participant: &EndpointReference,
    ) -> EndpointReference {
        self.register(&self.version.protocol_uri(protocol), participant)
            .await
            .unwrap_or_else(|a| panic!("{}", a.text))
    }

    /// Registers for `protocol`, which must be refused: the refusal.
    async fn refused(&self, protocol: Protocol, participant: &EndpointReference) -> Answer {
        match self
            .register(&self.version.protocol_uri(protocol), participant)
            .await
        {
            Ok(epr) => panic!("registered at {}", epr.address),
            Err(answer) => answer,
        }
    }

    /// Sends `body` to a protocol endpoint of this coordinator.
    async fn send(&self, to: &EndpointReference, body: Body) -> Answer {
        send_to(self.c.addr(), self.soap, self.version, to, body).await
    }

    /// Sends a protocol notification to a coordinator endpoint.
    async fn notify(&self, to: &EndpointReference, notification: Notification) -> Answer {
        self.send(to, Body::Notification(notification)).await
    }
}

/// A participant's (or initiator's) protocol endpoint: a real HTTP
/// listener that hands every message it gets to the test and answers 202.
struct Listener {
    epr: EndpointReference,
    received: mpsc::UnboundedReceiver<Message>,
}

impl Listener {
    async fn start(name: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (sender, received) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let sender = sender.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(
                        move |request: http::Request<hyper::body::Incoming>| {
                            let sender = sender.clone();
                            async move {
                                let body = request.into_body().collect().await.unwrap().to_bytes();
                                let message = wire::decode(
                                    &body,
                                    None,
                                    &Limits::default(),
                                    &WireLimits::default(),
                                )
                                .unwrap_or_else(|e| {
                                    panic!("{e}: {}", String::from_utf8_lossy(&body))
                                });
                                let _ = sender.send(message);
                                let mut response = http::Response::new(Full::new(Bytes::new()));
                                *response.status_mut() = http::StatusCode::ACCEPTED;
                                Ok::<_, std::convert::Infallible>(response)
                            }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            epr: EndpointReference {
                address: format!("http://{addr}/{name}"),
                reference_parameters: vec![format!(
                    r#"<p:Who xmlns:p="urn:test:participant">{name}</p:Who>"#
                )],
            },
            received,
        }
    }

    /// The next message, which must come within a few seconds.
    async fn next(&mut self) -> Message {
        let message = tokio::time::timeout(Duration::from_secs(10), self.received.recv())
            .await
            .expect("no message within 10 s")
            .expect("listener gone");
        // Addressed as WS-Addressing says: To = our address, a fresh
        // MessageID, our reference parameters echoed.
        assert_eq!(
            message.addressing.to.as_deref(),
            Some(self.epr.address.as_str())
        );
        assert!(message.addressing.message_id.is_some());
        assert_eq!(message.reference_parameters, self.epr.reference_parameters);
        message
    }

    async fn next_notification(&mut self) -> (Notification, Message) {
        let message = self.next().await;
        match message.body {
            Body::Notification(notification) => (notification, message),
            ref other => panic!("expected a notification, got {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn activation_answers_a_signed_context_in_every_version() {
    let c = Coordinator::start().await;
    for soap in [SoapVersion::Soap11, SoapVersion::Soap12] {
        for version in WsTxVersion::ALL {
            let t = Peer::activate(&c, soap, version, Some(30_000)).await;
            assert_eq!(t.context.expires, Some(30_000));
            let tx = t.tx();
            assert!(c.host.service().transaction(&tx).is_some());
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn registration_for_each_protocol_and_a_bad_protocol_is_invalid_protocol() {
    let c = Coordinator::start().await;
    let participant = Listener::start("p").await;
    for soap in [SoapVersion::Soap11, SoapVersion::Soap12] {
        for version in WsTxVersion::ALL {
            let t = Peer::activate(&c, soap, version, None).await;
            for (protocol, path) in [
                (Protocol::Completion, "/wsat/completion"),
                (Protocol::Volatile2Pc, "/wsat/2pc"),
                (Protocol::Durable2Pc, "/wsat/2pc"),
            ] {
                let epr = t.enlist(protocol, &participant.epr).await;
                assert_eq!(epr.address, c.url(path));
            }
            let bad = t
                .register(&format!("{}/Nonsense", version.wsat()), &participant.epr)
                .await
                .unwrap_err();
            let expected_status = if soap == SoapVersion::Soap11 {
                500
            } else {
                400
            };
            assert_eq!(bad.status, expected_status, "{}", bad.text);
            assert_fault(&bad, FaultKind::InvalidProtocol);
            let view = c.host.service().transaction(&t.tx()).unwrap();
            assert_eq!(view.participants.len(), 3);
        }
    }
}

/// CompletionCommit (WS-TX interop AT1.1) with two durable participants:
/// both get Prepare, vote Prepared, get Commit, answer Committed, and the
/// initiator hears Committed.
#[tokio::test(flavor = "multi_thread")]
async fn completion_commit_with_two_durable_participants() {
    let c = Coordinator::start().await;
    let soap = SoapVersion::Soap11;
    let version = WsTxVersion::Jun2006;
    let t = Peer::activate(&c, soap, version, Some(60_000)).await;
    let mut initiator = Listener::start("initiator").await;
    let mut banks = [
        Listener::start("bank-a").await,
        Listener::start("bank-b").await,
    ];
    let completion = t.enlist(Protocol::Completion, &initiator.epr).await;
    let t12 = t.speaking(SoapVersion::Soap12);
    let mut coordinators = Vec::new();
    for bank in &banks {
        coordinators.push(t12.enlist(Protocol::Durable2Pc, &bank.epr).await);
    }
    let commit = t.notify(&completion, Notification::Commit).await;
    assert_eq!(commit.status, 202, "{}", commit.text);
    for (bank, coordinator) in banks.iter_mut().zip(&coordinators) {
        let (notification, message) = bank.next_notification().await;
        assert_eq!(notification, Notification::Prepare);
        // Spoken in the version the participant registered with.
        assert_eq!(message.soap, SoapVersion::Soap12);
        // The coordinator tells where to answer.
        assert_eq!(message.addressing.reply_to.as_ref(), Some(coordinator));
        let prepared = t12.notify(coordinator, Notification::Prepared).await;
        assert_eq!(prepared.status, 202, "{}", prepared.text);
    }
    for (bank, coordinator) in banks.iter_mut().zip(&coordinators) {
        let (notification, _) = bank.next_notification().await;
        assert_eq!(notification, Notification::Commit);
        let committed = t12.notify(coordinator, Notification::Committed).await;
        assert_eq!(committed.status, 202, "{}", committed.text);
    }
    let (outcome, _) = initiator.next_notification().await;
    assert_eq!(outcome, Notification::Committed);
    // Where the commit's time went is on /metrics, phase by phase (the
    // exporter folds histogram samples in now and then, hence the wait).
    let mut text = String::new();
    for _ in 0..60 {
        text = support::http1(c.addr(), support::get("/metrics"))
            .await
            .text();
        if ["voting", "outcome", "commit_fanout"].iter().all(|phase| {
            text.contains(&format!(
                "ithaca_txn_phase_seconds_count{{phase=\"{phase}\"}}"
            ))
        }) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("no commit phases on /metrics:\n{text}");
}

/// CompletionRollback (AT1.2): the participant gets Rollback, the
/// initiator Aborted.
#[tokio::test(flavor = "multi_thread")]
async fn completion_rollback() {
    let c = Coordinator::start().await;
    let (soap, version) = (SoapVersion::Soap12, WsTxVersion::Jun2006);
    let t = Peer::activate(&c, soap, version, None).await;
    let mut initiator = Listener::start("initiator").await;
    let mut bank = Listener::start("bank").await;
    let completion = t.enlist(Protocol::Completion, &initiator.epr).await;
    t.enlist(Protocol::Durable2Pc, &bank.epr).await;
    let rollback = t.notify(&completion, Notification::Rollback).await;
    assert_eq!(rollback.status, 202, "{}", rollback.text);
    assert_eq!(bank.next_notification().await.0, Notification::Rollback);
    assert_eq!(initiator.next_notification().await.0, Notification::Aborted);
    assert_eq!(
        c.host.service().transaction(&t.tx()).map(|t| t.phase),
        Some(Phase::Aborted.into())
    );
}

/// A forged or missing reference parameter is refused with
/// InvalidParameters, and nothing changes.
#[tokio::test(flavor = "multi_thread")]
async fn forged_reference_parameters_are_invalid_parameters_and_change_nothing() {
    let c = Coordinator::start().await;
    let (soap, version) = (SoapVersion::Soap11, WsTxVersion::Jun2006);
    let t = Peer::activate(&c, soap, version, None).await;
    let participant = Listener::start("p").await;
    let tx = t.tx();

    // Registration through an EPR signed with another key.
    let mut forged = t.context.clone();
    forged.registration_service.reference_parameters =
        vec![CorrelationKey::from_bytes([9; 32]).sign(&Correlation {
            tx: tx.clone(),
            participant: None,
        })];
    let answer = t
        .with_context(forged)
        .refused(Protocol::Durable2Pc, &participant.epr)
        .await;
    assert_fault(&answer, FaultKind::InvalidParameters);
    // Registration with no reference parameter at all.
    let mut missing = t.context.clone();
    missing.registration_service.reference_parameters.clear();
    let answer = t
        .with_context(missing)
        .refused(Protocol::Durable2Pc, &participant.epr)
        .await;
    assert_fault(&answer, FaultKind::InvalidParameters);
    assert!(
        c.host
            .service()
            .transaction(&tx)
            .unwrap()
            .participants
            .is_empty()
    );

    // A protocol message naming a participant it was not given.
    let coordinator = t.enlist(Protocol::Durable2Pc, &participant.epr).await;
    let mut edited = coordinator.clone();
    edited.reference_parameters =
        vec![coordinator.reference_parameters[0].replace("participant=\"0\"", "participant=\"1\"")];
    let answer = t.notify(&edited, Notification::Aborted).await;
    assert_fault(&answer, FaultKind::InvalidParameters);
    let view = c.host.service().transaction(&tx).unwrap();
    assert_eq!(view.phase, Phase::Active.into());
    assert_eq!(view.participants.len(), 1);
}

/// An expired context has been rolled back: registering is refused.
#[tokio::test(flavor = "multi_thread")]
async fn an_expired_context_refuses_registration() {
    let c = Coordinator::start().await;
    let (soap, version) = (SoapVersion::Soap11, WsTxVersion::Jun2006);
    let t = Peer::activate(&c, soap, version, Some(200)).await;
    let participant = Listener::start("late").await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let answer = t.refused(Protocol::Durable2Pc, &participant.epr).await;
    assert_fault(&answer, FaultKind::CannotRegisterParticipant);
}

/// A validly signed endpoint of a transaction the coordinator does not
/// know: UnknownTransaction (answered on the HTTP response, the sender
/// being anonymous).
#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_transaction_is_unknown_transaction() {
    let c = Coordinator::start().await;
    let (soap, version) = (SoapVersion::Soap12, WsTxVersion::Jun2006);
    let endpoint = EndpointReference {
        address: c.url("/wsat/completion"),
        reference_parameters: vec![CorrelationKey::from_bytes(KEY).sign(&Correlation {
            tx: TxId("urn:uuid:never-created".into()),
            participant: Some((ParticipantId(0), Protocol::Completion)),
        })],
    };
    let answer = send_to(
        c.addr(),
        soap,
        version,
        &endpoint,
        Body::Notification(Notification::Commit),
    )
    .await;
    assert_eq!(answer.status, 400, "{}", answer.text);
    assert_fault(&answer, FaultKind::UnknownTransaction);
}

/// Messages in the wrong state: a second Completion registration, a
/// Prepare sent to the coordinator, and Committed from a participant never
/// asked to prepare (its InvalidState goes back to it one-way).
#[tokio::test(flavor = "multi_thread")]
async fn messages_in_the_wrong_state_get_the_specified_faults() {
    let c = Coordinator::start().await;
    let (soap, version) = (SoapVersion::Soap11, WsTxVersion::Jun2006);
    let t = Peer::activate(&c, soap, version, None).await;
    let initiator = Listener::start("initiator").await;
    let mut bank = Listener::start("bank").await;
    t.enlist(Protocol::Completion, &initiator.epr).await;
    let second = t.refused(Protocol::Completion, &initiator.epr).await;
    assert_fault(&second, FaultKind::CannotRegisterParticipant);

    let coordinator = t.enlist(Protocol::Durable2Pc, &bank.epr).await;
    let prepare = t.notify(&coordinator, Notification::Prepare).await;
    assert_fault(&prepare, FaultKind::InvalidState);

    let committed = t.notify(&coordinator, Notification::Committed).await;
    assert_eq!(committed.status, 202, "{}", committed.text);
    let fault = bank.next().await;
    assert!(
        matches!(
            fault.body,
            Body::Fault(WireFault {
                kind: FaultKind::InvalidState,
                ..
            })
        ),
        "{:?}",
        fault.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_and_oversized_envelopes_are_refused_cleanly() {
    let c = Coordinator::start().await;
    let malformed = post_raw(
        c.addr(),
        "/wsat/activation",
        "text/xml",
        b"<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body>".to_vec(),
    )
    .await;
    assert_eq!(malformed.status, 500, "{}", malformed.text);
    assert!(malformed.text.contains("Client"), "{}", malformed.text);
    let doctype = post_raw(
        c.addr(),
        "/wsat/activation",
        "text/xml",
        b"<!DOCTYPE x [<!ENTITY a \"b\">]><x/>".to_vec(),
    )
    .await;
    assert_eq!(doctype.status, 500, "{}", doctype.text);
    let not_wstx = post_raw(
        c.addr(),
        "/wsat/registration",
        "application/soap+xml",
        br#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><m:echo xmlns:m="urn:m"/></s:Body></s:Envelope>"#.to_vec(),
    )
    .await;
    assert_eq!(not_wstx.status, 400, "{}", not_wstx.text);
    assert_fault(&not_wstx, FaultKind::InvalidParameters);
    let big = format!(
        r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><x>{}</x></s:Body></s:Envelope>"#,
        "a".repeat(128 * 1024)
    );
    let oversized = post_raw(c.addr(), "/wsat/activation", "text/xml", big.into_bytes()).await;
    assert_eq!(oversized.status, 413, "{}", oversized.text);
    let media = post_raw(
        c.addr(),
        "/wsat/activation",
        "application/json",
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(media.status, 415);
}

/// WS-AT 1.0 (2004/10): a recovering participant answers Prepare with
/// Replay; the coordinator takes it as Prepared and commits.
#[tokio::test(flavor = "multi_thread")]
async fn a_2004_replay_counts_as_prepared() {
    let c = Coordinator::start().await;
    let (soap, version) = (SoapVersion::Soap11, WsTxVersion::Oct2004);
    let t = Peer::activate(&c, soap, version, None).await;
    let mut initiator = Listener::start("initiator").await;
    let mut bank = Listener::start("bank").await;
    let completion = t.enlist(Protocol::Completion, &initiator.epr).await;
    let coordinator = t.enlist(Protocol::Durable2Pc, &bank.epr).await;
    t.notify(&completion, Notification::Commit).await;
    let (prepare, message) = bank.next_notification().await;
    assert_eq!(prepare, Notification::Prepare);
    assert_eq!(message.version, WsTxVersion::Oct2004);
    let replay = t.notify(&coordinator, Notification::Replay).await;
    assert_eq!(replay.status, 202, "{}", replay.text);
    assert_eq!(bank.next_notification().await.0, Notification::Commit);
    t.notify(&coordinator, Notification::Committed).await;
    assert_eq!(
        initiator.next_notification().await.0,
        Notification::Committed
    );
}

/// A non-anonymous ReplyTo gets the answer as a message of its own; the
/// HTTP response is 202.
#[tokio::test(flavor = "multi_thread")]
async fn a_non_anonymous_reply_to_gets_a_separate_reply() {
    let c = Coordinator::start().await;
    let (soap, version) = (SoapVersion::Soap11, WsTxVersion::Jun2006);
    let mut requester = Listener::start("requester").await;
    let mut request = Message::new(
        soap,
        version,
        Body::CreateCoordinationContext(CreateCoordinationContext {
            expires: None,
            current_context: None,
            coordination_type: version.wsat().to_owned(),
        }),
    );
    request.addressing.message_id = Some("urn:uuid:duplex-1".into());
    request.addressing.reply_to = Some(requester.epr.clone());
    let answer = send(c.addr(), "/wsat/activation", &request).await;
    assert_eq!(answer.status, 202, "{}", answer.text);
    let reply = requester.next().await;
    assert_eq!(
        reply.addressing.relates_to.as_deref(),
        Some("urn:uuid:duplex-1")
    );
    assert!(matches!(
        reply.body,
        Body::CreateCoordinationContextResponse(_)
    ));
}

/// `ithaca serve` hosts the endpoints when `[wsat] enabled`.
#[tokio::test(flavor = "multi_thread")]
async fn the_gateway_hosts_the_coordinator_when_enabled() {
    let gateway = TestGateway::start(ithaca_gateway::Router::new(), |config| {
        config.membership.enabled = false;
        config.wsat.enabled = true;
    })
    .await;
    assert!(gateway.data.path().join("data/wsat.key").exists());
    let version = WsTxVersion::Jun2006;
    let mut request = Message::new(
        SoapVersion::Soap11,
        version,
        Body::CreateCoordinationContext(CreateCoordinationContext {
            expires: Some(1000),
            current_context: None,
            coordination_type: version.wsat().to_owned(),
        }),
    );
    request.addressing.message_id = Some("urn:uuid:serve-1".into());
    // The coordinator may still be loading its log: it refuses with
    // CannotCreateContext until then.
    let mut answer = send(gateway.addr(), "/wsat/activation", &request).await;
    for _ in 0..50 {
        if answer.status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        answer = send(gateway.addr(), "/wsat/activation", &request).await;
    }
    assert_eq!(answer.status, 200, "{}", answer.text);
    let Some(Body::CreateCoordinationContextResponse(context)) = answer.message.map(|m| m.body)
    else {
        panic!("no context");
    };
    assert_eq!(
        context.registration_service.address,
        format!("http://{}/wsat/registration", gateway.addr())
    );
    gateway.gateway.shutdown().await;
}

/// The `[wsat]` keys are checked, naming the key at fault.
#[test]
fn bad_wsat_settings_name_their_key() {
    use ithaca_gateway::config::{ConfigLoader, Origin};
    let load = |text: &str| {
        ConfigLoader::new()
            .text(text, Origin::File("ithaca.toml".into()))
            .unwrap()
            .build()
    };
    let error = load("[wsat]\nenabled = true\nstore = \"mysql://db\"\n").unwrap_err();
    assert!(error.to_string().contains("wsat.store"), "{error}");
    let error = load("[wsat]\npublic_url = \"ftp://x\"\n").unwrap_err();
    assert!(error.to_string().contains("wsat.public_url"), "{error}");
    let config = load("[wsat]\nenabled = true\nstore = \"postgres://ithaca@db/ithaca\"\n").unwrap();
    assert!(config.wsat.enabled);
}
