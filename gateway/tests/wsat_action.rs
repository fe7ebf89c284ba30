//! The coordinator checks the WS-Addressing Action header against the body
//! element: a CreateCoordinationContext sent under another message's
//! Action is refused with an InvalidParameters fault naming both (SOAP 1.1:
//! 500, SOAP 1.2: 400), and nothing is created; the right Action is served.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use bytes::Bytes;
use http_body_util::Full;
use ithaca_txn::wire::{
    self, Body, CreateCoordinationContext, FaultKind, Message, WireLimits, WsTxVersion,
};
use ithaca_wsdl::{Limits, SoapVersion};
use support::TestGateway;

async fn activate(
    gateway: &TestGateway,
    soap: SoapVersion,
    action: Option<&str>,
) -> (u16, Message) {
    let version = WsTxVersion::Jun2006;
    let mut create = Message::new(
        soap,
        version,
        Body::CreateCoordinationContext(CreateCoordinationContext {
            expires: Some(30_000),
            current_context: None,
            coordination_type: version.wsat().to_owned(),
        }),
    );
    create.addressing.message_id = Some("urn:uuid:action-test".to_owned());
    create.addressing.action = action.map(str::to_owned);
    let request = http::Request::post("/wsat/activation")
        .header("host", gateway.addr().to_string())
        .header("content-type", soap.content_type())
        .body(Full::new(Bytes::from(create.encode().unwrap())))
        .unwrap();
    let reply = support::http1(gateway.addr(), request).await;
    let message = wire::decode(&reply.body, None, &Limits::DEFAULT, &WireLimits::default())
        .unwrap_or_else(|e| panic!("{e}: {}", reply.text()));
    (reply.status, message)
}

#[tokio::test]
async fn an_action_that_disagrees_with_the_body_is_invalid_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let host = support::test_coordinator(&dir.path().join("wsat.sqlite3")).await;
    let gateway = TestGateway::start(host.routes().clone(), |config| {
        config.membership.enabled = false;
    })
    .await;
    let register = "http://docs.oasis-open.org/ws-tx/wscoor/2006/06/Register";
    for (soap, status) in [(SoapVersion::Soap11, 500), (SoapVersion::Soap12, 400)] {
        let (got, answer) = activate(&gateway, soap, Some(register)).await;
        assert_eq!(got, status);
        match answer.body {
            Body::Fault(fault) => {
                assert_eq!(fault.kind, FaultKind::InvalidParameters);
                assert!(
                    fault.reason.contains("wsa:Action") && fault.reason.contains(register),
                    "{}",
                    fault.reason
                );
            }
            other => panic!("expected a fault, got {other:?}"),
        }
    }
    assert_eq!(host.service().snapshot(Default::default()).await.total, 0);

    let right = "http://docs.oasis-open.org/ws-tx/wscoor/2006/06/CreateCoordinationContext";
    let (got, answer) = activate(&gateway, SoapVersion::Soap11, Some(right)).await;
    assert_eq!(got, 200);
    assert!(matches!(
        answer.body,
        Body::CreateCoordinationContextResponse(_)
    ));
}
