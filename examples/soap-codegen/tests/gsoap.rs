//! The generated Rust clients call a gSOAP server built here from the same
//! WSDLs (wsdl2h, soapcpp2 and g++ with Debian's gSOAP): values of every
//! kind the orders contract has travel both ways, gSOAP's fault with the
//! declared detail arrives typed, and the rpc/literal calculator (with its
//! one-way operation) works. Missing gSOAP tools fail the test
//! (run `scripts/install-test-deps.sh`).

#![allow(clippy::unwrap_used)]

mod support;

use ithaca_gateway::soap::client::{CallError, SoapClient};
use ithaca_soap_codegen_example::{echo, orders};
use ithaca_wsdl::SoapVersion;
use ithaca_wsdl::typed::{Base64Binary, DateTime, Decimal};
use support::gsoap::{GsoapBuild, start};

/// The server this test calls.
const SERVER: GsoapBuild<'static> = GsoapBuild {
    wsdls: &[
        "contracts/echo.wsdl",
        "contracts/orders.wsdl",
        "contracts/calculator.wsdl",
    ],
    header: "contracts.h",
    server: "gsoap/server.cc",
    program: "gsoap_server",
};

#[tokio::test(flavor = "multi_thread")]
async fn the_generated_clients_call_a_gsoap_server() {
    let program = tokio::task::spawn_blocking(|| SERVER.build())
        .await
        .unwrap();
    let server = start(&program);
    let port = server.port;
    let endpoint = format!("http://127.0.0.1:{port}/");

    let echo = echo::EchoPortClient::new(SoapClient::new(&endpoint, SoapVersion::Soap11).unwrap());
    let text = "héllo <&> ☺";
    let answer = echo
        .echo(&echo::Echo {
            text: text.into(),
            times: Some(3),
        })
        .await
        .unwrap();
    assert_eq!(answer.text, text.repeat(3));

    let client =
        orders::OrdersClient::new(SoapClient::new(&endpoint, SoapVersion::Soap11).unwrap());
    let line = |no: u16, sku: &str, note: Option<&str>| orders::Line {
        line_no: no,
        sku: sku.into(),
        quantity: 3,
        unit_price: Decimal("1.25".into()),
        note: note.map(str::to_owned),
    };
    let mut order = orders::PlaceOrder {
        order_id: -9_007_199_254_740_993,
        placed: DateTime("2026-11-24T03:00:00Z".into()),
        customer: orders::Customer {
            id: 42,
            name: "Ada & Co".into(),
            email: Some("ada@example.org".into()),
            address: orders::Address {
                kind: None,
                street: "1 Loop Road".into(),
                city: "Ithaca".into(),
                postal_code: None,
            },
        },
        line: vec![line(1, "pen", Some("fragile")), line(2, "ink", None)],
        choice: orders::PlaceOrderChoice::Voucher(Base64Binary(vec![0, 1, 2, 254, 255])),
        status: orders::Status::OnHold,
        express: Some(false),
        category: Some(orders::Category {
            name: "pens".into(),
            parent: Some(Box::new(orders::Category {
                name: "office".into(),
                parent: None,
            })),
        }),
        weight: 0.5,
        tag: vec!["a".into(), "b".into()],
    };
    let answer = client.place_order(&order).await.unwrap();
    assert_eq!(answer.order_id, -9_007_199_254_740_993);
    assert_eq!(answer.status, orders::Status::OnHold);
    assert_eq!(answer.total, Decimal("7.50".into()));
    assert_eq!(answer.lines, 2);
    assert_eq!(
        answer.summary,
        "gsoap: Ada & Co (42) of Ithaca; 1:penx3@1.25/fragile 2:inkx3@1.25/nil; voucher 5 bytes; on-hold; express no; in pens; in office; weight 0.5; tags 2"
    );

    order.choice = orders::PlaceOrderChoice::Card(orders::Card {
        number: "4111".into(),
        holder: "Ada".into(),
    });
    order.line.push(line(3, "gone", None));
    match client.place_order(&order).await.unwrap_err() {
        CallError::Fault(orders::PlaceOrderFault::OrderRejected(fault)) => {
            assert_eq!(fault.reason, "out of stock");
            assert_eq!(fault.detail.code, 409);
            assert_eq!(fault.detail.sku, vec!["gone".to_owned()]);
        }
        other => panic!("expected the declared fault, got {other:?}"),
    }

    // rpc/literal, with a one-way operation.
    use ithaca_soap_codegen_example::calculator;
    let calc =
        calculator::CalculatorClient::new(SoapClient::new(&endpoint, SoapVersion::Soap11).unwrap());
    let sum = calc
        .add(&calculator::AddRequest { a: 40, b: 2 })
        .await
        .unwrap();
    assert_eq!(sum.sum, 42);
    let norm = calc
        .norm(&calculator::NormRequest {
            point: calculator::Point { x: -3, y: 4 },
        })
        .await
        .unwrap();
    assert_eq!(norm.manhattan, 7);
    calc.record(&calculator::RecordRequest {
        note: "to gsoap <&>".into(),
    })
    .await
    .unwrap();
    let last = calc
        .last_note(&calculator::LastNoteRequest {})
        .await
        .unwrap();
    assert_eq!(last.note, "to gsoap <&>");
    match calc
        .add(&calculator::AddRequest { a: i32::MAX, b: 1 })
        .await
        .unwrap_err()
    {
        CallError::Fault(calculator::AddFault::Soap(fault)) => {
            assert_eq!(fault.code, ithaca_wsdl::FaultCode::Sender);
            assert_eq!(fault.reason(), "gsoap: the sum overflows xs:int");
        }
        other => panic!("expected a Client fault, got {other:?}"),
    }
}
