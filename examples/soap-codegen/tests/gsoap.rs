//! The generated Rust clients call a gSOAP server built here from the same
//! WSDLs (wsdl2h, soapcpp2 and g++ with Debian's gSOAP): values of every
//! kind the orders contract has travel both ways, gSOAP's fault with the
//! declared detail arrives typed, and the rpc/literal calculator (with its
//! one-way operation) works. Missing gSOAP tools fail the test
//! (run `scripts/install-test-deps.sh`).

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use ithaca_gateway::soap::client::{CallError, SoapClient};
use ithaca_soap_codegen_example::{echo, orders};
use ithaca_wsdl::SoapVersion;
use ithaca_wsdl::typed::{Base64Binary, DateTime, Decimal};

const HINT: &str = "run scripts/install-test-deps.sh (it installs gsoap and libgsoap-dev)";

/// Kills the server when the test ends, also on panic.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run(command: &mut Command, what: &str) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e}; {HINT}"));
    assert!(
        output.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Builds the gSOAP server from the contracts and `gsoap/server.cc`.
fn build() -> PathBuf {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("gsoap-codegen");
    std::fs::create_dir_all(&out).unwrap();
    run(
        Command::new("wsdl2h")
            .current_dir(&out)
            .arg("-o")
            .arg("contracts.h")
            .arg(crate_dir.join("contracts/echo.wsdl"))
            .arg(crate_dir.join("contracts/orders.wsdl"))
            .arg(crate_dir.join("contracts/calculator.wsdl")),
        "wsdl2h",
    );
    run(
        Command::new("soapcpp2").current_dir(&out).args([
            "-S",
            "-L",
            "-x",
            "-I/usr/share/gsoap/import",
            "contracts.h",
        ]),
        "soapcpp2",
    );
    run(
        Command::new("g++")
            .current_dir(&out)
            .args(["-O1", "-I."])
            .args(["-o", "gsoap_server"])
            .arg(crate_dir.join("gsoap/server.cc"))
            .args(["soapC.cpp", "soapServer.cpp", "-lgsoap++"]),
        "g++",
    );
    out.join("gsoap_server")
}

fn start(program: &Path) -> (Server, u16) {
    let mut child = Command::new(program)
        .arg("0")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let port = line
        .trim()
        .strip_prefix("listening ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("the gSOAP server said {line:?}"));
    (server, port)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_generated_clients_call_a_gsoap_server() {
    let program = tokio::task::spawn_blocking(build).await.unwrap();
    let (_server, port) = start(&program);
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
