//! The generated server traits, hosted on a gateway, called by the
//! generated clients over SOAP 1.1 and SOAP 1.2: values survive the trip
//! both ways and a declared fault arrives typed.

#![allow(clippy::unwrap_used)]

mod support;

use ithaca_gateway::soap::client::{CallError, ClientError, SoapClient};
use ithaca_soap_codegen_example::{echo, orders};
use ithaca_wsdl::SoapVersion;
use ithaca_wsdl::typed::{Base64Binary, DateTime, Decimal};
use support::Served;

const TEXT: &str = " héllo <b>&amp; ]]> \"quoted\" ☺ ";

fn order(skus: &[&str], choice: orders::PlaceOrderChoice) -> orders::PlaceOrder {
    orders::PlaceOrder {
        order_id: 9_007_199_254_740_993,
        placed: DateTime("2026-11-24T03:00:00Z".into()),
        customer: orders::Customer {
            id: 42,
            name: "Ada & Co".into(),
            email: None,
            address: orders::Address {
                kind: Some("billing".into()),
                street: "1 Loop Road".into(),
                city: "Ithaca".into(),
                postal_code: Some("14850".into()),
            },
        },
        line: skus
            .iter()
            .enumerate()
            .map(|(i, sku)| orders::Line {
                line_no: u16::try_from(i + 1).unwrap(),
                sku: (*sku).to_owned(),
                quantity: 2,
                unit_price: Decimal("2.50".into()),
                note: (i == 0).then(|| "fragile".to_owned()),
            })
            .collect(),
        choice,
        status: orders::Status::OnHold,
        express: None,
        category: Some(orders::Category {
            name: "pens".into(),
            parent: Some(Box::new(orders::Category {
                name: "office".into(),
                parent: None,
            })),
        }),
        weight: 0.25,
        tag: vec!["a".into(), "b".into()],
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_generated_client_calls_the_generated_server_over_both_versions() {
    let served = Served::start().await;
    for (path, version) in [
        ("/services/EchoService", SoapVersion::Soap11),
        ("/services/EchoService/soap12", SoapVersion::Soap12),
    ] {
        let soap = SoapClient::new(&format!("{}{path}", served.base()), version).unwrap();
        let client = echo::EchoPortClient::new(soap);
        let answer = client
            .echo(&echo::Echo {
                text: TEXT.into(),
                times: Some(2),
            })
            .await
            .unwrap();
        assert_eq!(answer.text, TEXT.repeat(2), "{version:?}");
        let once = client
            .echo(&echo::Echo {
                text: "x".into(),
                times: None,
            })
            .await
            .unwrap();
        assert_eq!(once.text, "x");
    }
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rich_types_travel_and_a_declared_fault_arrives_typed() {
    let served = Served::start().await;
    let soap = SoapClient::new(
        &format!("{}/services/OrderService", served.base()),
        SoapVersion::Soap11,
    )
    .unwrap();
    let client = orders::OrdersClient::new(soap);

    let card = orders::PlaceOrderChoice::Card(orders::Card {
        number: "4111".into(),
        holder: "Ada".into(),
    });
    let answer = client
        .place_order(&order(&["pen", "ink"], card))
        .await
        .unwrap();
    assert_eq!(answer.order_id, 9_007_199_254_740_993);
    assert_eq!(answer.status, orders::Status::OnHold);
    assert_eq!(answer.total, Decimal("10.00".into()));
    assert_eq!(answer.lines, 2);
    assert_eq!(
        answer.summary,
        "Ada & Co for Ithaca (42) in 14850; card of Ada; notes [\"fragile\", \"nil\"]; express None; category pens<office; tags a,b"
    );

    let mut express = order(
        &["pen"],
        orders::PlaceOrderChoice::Voucher(Base64Binary(vec![0, 1, 2, 255])),
    );
    express.express = Some(true);
    express.customer.address.postal_code = None;
    let answer = client.place_order(&express).await.unwrap();
    assert_eq!(answer.status, orders::Status::Shipped);
    assert!(
        answer.summary.contains("voucher of 4 bytes"),
        "{}",
        answer.summary
    );
    assert!(answer.summary.contains(" in -;"), "{}", answer.summary);

    let iban = orders::PlaceOrderChoice::Iban("DE00 1234".into());
    let error = client
        .place_order(&order(&["pen", "gone"], iban))
        .await
        .unwrap_err();
    match error {
        CallError::Fault(orders::PlaceOrderFault::OrderRejected(fault)) => {
            assert_eq!(fault.reason, "out of stock");
            assert_eq!(fault.detail.code, 409);
            assert_eq!(fault.detail.sku, vec!["gone".to_owned()]);
        }
        other => panic!("expected the declared fault, got {other:?}"),
    }
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_the_contract_refuses_is_a_client_fault() {
    let served = Served::start().await;
    let soap = SoapClient::new(
        &format!("{}/services/EchoService", served.base()),
        SoapVersion::Soap11,
    )
    .unwrap();
    // Not what `echo` expects: the server's validation answers a Client
    // fault, which reaches the caller as the generic SOAP variant.
    let error = soap
        .call(
            Some("urn:ithaca:example:echo#echo"),
            br#"<e:echo xmlns:e="urn:ithaca:example:echo"><e:times>x</e:times></e:echo>"#,
        )
        .await
        .unwrap_err();
    let ClientError::Fault { fault, .. } = error else {
        panic!("expected a fault, got {error:?}");
    };
    assert_eq!(fault.code, ithaca_wsdl::FaultCode::Sender);
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_silent_server_times_out() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let _keep = tokio::spawn(async move {
        let mut sockets = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            sockets.push(socket);
        }
    });
    let soap = SoapClient::new(&format!("http://{addr}/x"), SoapVersion::Soap11)
        .unwrap()
        .with_timeout(std::time::Duration::from_millis(300));
    let client = echo::EchoPortClient::new(soap);
    let error = client
        .echo(&echo::Echo {
            text: "x".into(),
            times: None,
        })
        .await
        .unwrap_err();
    assert!(
        matches!(error, CallError::Client(ClientError::Timeout(_))),
        "{error:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rpc_literal_operations_and_a_one_way_call() {
    use ithaca_soap_codegen_example::calculator;
    let served = Served::start().await;
    let soap = SoapClient::new(
        &format!("{}/services/CalculatorService", served.base()),
        SoapVersion::Soap11,
    )
    .unwrap();
    let client = calculator::CalculatorClient::new(soap);
    let sum = client
        .add(&calculator::AddRequest { a: 40, b: 2 })
        .await
        .unwrap();
    assert_eq!(sum.sum, 42);
    let norm = client
        .norm(&calculator::NormRequest {
            point: calculator::Point { x: -3, y: 4 },
        })
        .await
        .unwrap();
    assert_eq!(norm.manhattan, 7);
    client
        .record(&calculator::RecordRequest {
            note: "remember <this>".into(),
        })
        .await
        .unwrap();
    let last = client
        .last_note(&calculator::LastNoteRequest {})
        .await
        .unwrap();
    assert_eq!(last.note, "remember <this>");
    match client
        .add(&calculator::AddRequest { a: i32::MAX, b: 1 })
        .await
        .unwrap_err()
    {
        CallError::Fault(calculator::AddFault::Soap(fault)) => {
            assert_eq!(fault.code, ithaca_wsdl::FaultCode::Sender);
            assert_eq!(fault.reason(), "the sum overflows xs:int");
        }
        other => panic!("expected a Client fault, got {other:?}"),
    }
    served.stop().await;
}
