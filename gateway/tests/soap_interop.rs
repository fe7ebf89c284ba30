//! Clients nobody here wrote, against the running gateway: python zeep and
//! node `soap` load the EchoService's `?wsdl` and call `echoString` over
//! SOAP 1.1 and SOAP 1.2, and python suds (SOAP 1.1 only) does the same. A missing client fails the test (run
//! `scripts/install-test-deps.sh`); it never skips.

#![allow(clippy::unwrap_used)]

mod support;

use std::sync::{Arc, Mutex};

use ithaca_gateway::soap::builtin;
use support::{TestGateway, shop_service};

/// A string that needs escaping, a CDATA terminator, non-ASCII and
/// surrounding spaces: what a careless echo would break. (node `soap`
/// trims text unless asked to preserve whitespace.)
const TEXT: &str = " héllo <b>&amp; ]]> \"quoted\" 'single' ☺ ";

async fn gateway() -> TestGateway {
    let routes = builtin::services()
        .unwrap()
        .merge(&shop_service(true, Arc::new(Mutex::new(Vec::new()))));
    TestGateway::start(routes, |_| {}).await
}

const ZEEP_SCRIPT: &str = r#"
import os, sys
import zeep
from zeep.exceptions import Fault

base = os.environ["ITHACA_BASE"]
text = os.environ["ITHACA_TEXT"]
client = zeep.Client(base + "/services/EchoService?wsdl")
for port in ("EchoSoap11Port", "EchoSoap12Port"):
    result = client.bind("EchoService", port).echoString(text=text)
    if result != text:
        sys.exit(f"{port}: sent {text!r}, got back {result!r}")
    print(f"{port}: ok")

# A declared fault reaches zeep as a Fault with its detail.
shop = zeep.Client(base + "/services/ShopService?wsdl")
for port in ("ShopSoap11Port", "ShopSoap12Port"):
    service = shop.bind("ShopService", port)
    total = service.order(item="pen", count=3, _soapheaders={"trace": "t-1"})
    if total != "3":
        sys.exit(f"{port}: order returned {total!r}")
    try:
        service.order(item="gone", count=1, _soapheaders={"trace": "t-2"})
        sys.exit(f"{port}: no fault for an item out of stock")
    except Fault as fault:
        detail = zeep.helpers.serialize_object(fault.detail) if fault.detail is not None else None
        items = [e.text for e in fault.detail.iter() if e.tag.endswith("}item")] if fault.detail is not None else []
        if fault.message != "out of stock" or items != ["gone"]:
            sys.exit(f"{port}: unexpected fault {fault.message!r} {fault.code!r} {items!r}")
    print(f"{port} fault: ok")
"#;

#[tokio::test(flavor = "multi_thread")]
async fn zeep_calls_the_echo_service_over_soap11_and_soap12() {
    let python = ithaca_testkit::interop::python().unwrap_or_else(|e| panic!("{e}"));
    let gw = gateway().await;
    let output = tokio::process::Command::new(python)
        .arg("-c")
        .arg(ZEEP_SCRIPT)
        .env("ITHACA_BASE", format!("http://{}", gw.addr()))
        .env("ITHACA_TEXT", TEXT)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "zeep failed:\n{stdout}\n{stderr}");
    for line in [
        "EchoSoap11Port: ok",
        "EchoSoap12Port: ok",
        "ShopSoap11Port fault: ok",
        "ShopSoap12Port fault: ok",
    ] {
        assert!(stdout.contains(line), "{stdout}\n{stderr}");
    }
}

const NODE_SCRIPT: &str = r#"
const soap = require('soap');
const base = process.env.ITHACA_BASE, text = process.env.ITHACA_TEXT;
const call = (port, options) => new Promise((resolve, reject) => {
  soap.createClient(base + '/services/EchoService?wsdl', options, (err, client) => {
    if (err) return reject(err);
    client.EchoService[port].echoString({ text }, (err, result) => err ? reject(err) : resolve(result));
  });
});
(async () => {
  for (const [port, options] of [['EchoSoap11Port', { preserveWhitespace: true }], ['EchoSoap12Port', { preserveWhitespace: true, forceSoap12Headers: true }]]) {
    const result = await call(port, options);
    if (!result || result.result !== text) {
      console.error(`${port}: sent ${JSON.stringify(text)}, got ${JSON.stringify(result)}`);
      process.exit(1);
    }
    console.log(`${port}: ok`);
  }
})().catch((err) => { console.error(String(err && (err.body || err.stack || err))); process.exit(1); });
"#;

#[tokio::test(flavor = "multi_thread")]
async fn node_soap_calls_the_echo_service_over_soap11_and_soap12() {
    let dir = ithaca_testkit::interop::node_dir().unwrap_or_else(|e| panic!("{e}"));
    let gw = gateway().await;
    let output = tokio::process::Command::new("node")
        .arg("-e")
        .arg(NODE_SCRIPT)
        .current_dir(dir)
        .env("ITHACA_BASE", format!("http://{}", gw.addr()))
        .env("ITHACA_TEXT", TEXT)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "node soap failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("EchoSoap11Port: ok"), "{stdout}\n{stderr}");
    assert!(stdout.contains("EchoSoap12Port: ok"), "{stdout}\n{stderr}");
}

const SUDS_SCRIPT: &str = r#"
import os, sys
from suds.client import Client

base = os.environ["ITHACA_BASE"]
text = os.environ["ITHACA_TEXT"]
client = Client(base + "/services/EchoService?wsdl", cache=None)
client.set_options(port="EchoSoap11Port")
result = client.service.echoString(text)
if result != text:
    sys.exit(f"echo: sent {text!r}, got back {result!r}")
print("suds echo: ok")
"#;

#[tokio::test(flavor = "multi_thread")]
async fn suds_calls_the_echo_service_over_soap11() {
    let python = ithaca_testkit::interop::python().unwrap_or_else(|e| panic!("{e}"));
    let gw = gateway().await;
    let output = tokio::process::Command::new(python)
        .arg("-c")
        .arg(SUDS_SCRIPT)
        .env("ITHACA_BASE", format!("http://{}", gw.addr()))
        // suds trims the text of elements it reads, so no outer spaces; and
        // its encoder leaves text that already looks like an entity
        // (`&amp;`) unescaped, so only bare `&`.
        .env("ITHACA_TEXT", "héllo <b> & ]]> \"quoted\" 'single' ☺")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "suds failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("suds echo: ok"), "{stdout}\n{stderr}");
}
