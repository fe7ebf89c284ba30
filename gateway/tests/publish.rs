//! Publication of a contract split over several documents: `?wsdl`,
//! `?wsdl=N` and `?xsd=N` with every import and include rewritten to the
//! gateway, read by a plain HTTP client and by zeep, which follows the
//! imports over HTTP. The fixture (`fixtures/publish/split/`) is a WSDL
//! importing a WSDL whose schema imports an XSD that includes another.

#![allow(clippy::unwrap_used)]

mod support;

use std::path::PathBuf;

use ithaca_gateway::Router;
use ithaca_gateway::soap::{Contract, SoapRequest, SoapService};
use support::{TestGateway, get, http1};

const RESPONSE: &str = r#"<o:placeOrderResponse xmlns:o="urn:ithaca:test:split:orders"><o:orderId>A-1</o:orderId><o:status>accepted</o:status></o:placeOrderResponse>"#;

fn orders(public_url: Option<&str>) -> Router {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/publish/split/main.wsdl");
    let contract = Contract::from_file(path).unwrap();
    let mut builder = SoapService::builder(contract)
        .operation("placeOrder", |_request: SoapRequest| async move {
            Ok(RESPONSE.as_bytes().to_vec())
        });
    if let Some(url) = public_url {
        builder = builder.public_url(url);
    }
    builder.build().unwrap()
}

/// The `location`/`schemaLocation` values of a document, in order.
fn locations(text: &str) -> Vec<String> {
    let document = roxmltree::Document::parse(text).unwrap();
    document
        .descendants()
        .filter_map(|node| {
            node.attribute("location")
                .or(node.attribute("schemaLocation"))
        })
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn every_document_is_served_with_its_imports_rewritten() {
    let gw = TestGateway::start(orders(None), |_| {}).await;
    let base = "http://ithaca.test/services/OrderService";
    let fetch = |query: &'static str| {
        let addr = gw.addr();
        async move { http1(addr, get(&format!("/services/OrderService?{query}"))).await }
    };

    let main = fetch("wsdl").await;
    assert_eq!(main.status, 200);
    assert_eq!(
        main.headers.get("content-type").unwrap(),
        "text/xml; charset=utf-8"
    );
    assert_eq!(
        locations(&main.text()),
        [
            format!("{base}?wsdl=1"),
            base.to_owned(),
            format!("{base}/soap12"),
        ]
    );
    let abstract_wsdl = fetch("wsdl=1").await;
    assert_eq!(abstract_wsdl.status, 200);
    assert!(abstract_wsdl.text().contains("<portType name=\"Orders\">"));
    assert_eq!(locations(&abstract_wsdl.text()), [format!("{base}?xsd=1")]);
    let orders_xsd = fetch("xsd=1").await;
    assert!(orders_xsd.text().contains("name=\"placeOrder\""));
    assert_eq!(locations(&orders_xsd.text()), [format!("{base}?xsd=2")]);
    let common_xsd = fetch("XSD=2").await;
    assert!(common_xsd.text().contains("name=\"Sku\""));
    assert!(locations(&common_xsd.text()).is_empty());
    for missing in ["xsd=3", "wsdl=2"] {
        assert_eq!(fetch(missing).await.status, 404, "{missing}");
    }

    // From the SOAP 1.2 port, imports point at that port's path.
    let soap12 = http1(gw.addr(), get("/services/OrderService/soap12?wsdl=1")).await;
    assert_eq!(locations(&soap12.text()), [format!("{base}/soap12?xsd=1")]);
}

#[tokio::test]
async fn a_public_url_is_used_for_addresses_and_imports() {
    let gw = TestGateway::start(orders(Some("https://api.example.com/gw/")), |_| {}).await;
    let main = http1(gw.addr(), get("/services/OrderService?wsdl")).await;
    assert_eq!(
        locations(&main.text()),
        [
            "https://api.example.com/gw/services/OrderService?wsdl=1",
            "https://api.example.com/gw/services/OrderService",
            "https://api.example.com/gw/services/OrderService/soap12",
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn zeep_loads_the_split_contract_from_the_gateway_and_calls_it() {
    let python = ithaca_testkit::interop::python().unwrap_or_else(|e| panic!("{e}"));
    let script = ithaca_testkit::interop::repo_root().join("tests/interop/python/zeep_call.py");
    let gw = TestGateway::start(orders(None), |_| {}).await;
    for port in ["OrdersSoap11Port", "OrdersSoap12Port"] {
        let output = tokio::process::Command::new(&python)
            .arg(&script)
            .env(
                "ITHACA_WSDL_URL",
                format!("http://{}/services/OrderService?wsdl", gw.addr()),
            )
            .env("ITHACA_SERVICE", "OrderService")
            .env("ITHACA_PORT", port)
            .env("ITHACA_OPERATION", "placeOrder")
            .env(
                "ITHACA_REQUEST",
                r#"<placeOrder xmlns="urn:ithaca:test:split:orders"><item>AB-1234</item><quantity>3</quantity></placeOrder>"#,
            )
            .output()
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{port}: {stdout}\n{stderr}");
        assert!(
            stdout.contains("('orderId', 'A-1'), ('status', 'accepted')"),
            "{port}: {stdout}"
        );
    }
}
