//! rpc/encoded in generated code: `contracts/legacy.wsdl` (SOAP 1.1
//! section 5) served by the generated server trait. Requests with
//! `xsi:type` and multi-reference values (`href`/`id`) reach the typed
//! methods, which answer with `xsi:type` on every accessor; python suds, a
//! client nobody here wrote that speaks rpc/encoded, calls both operations.

#![allow(clippy::unwrap_used)]

mod support;

use ithaca_gateway::soap::client::{ClientError, SoapClient};
use ithaca_wsdl::SoapVersion;
use support::Served;

const ENC: &str = "http://schemas.xmlsoap.org/soap/encoding/";

/// The namespace declarations each top-level body element carries.
const NS: &str = r#"xmlns:SOAP-ENC="http://schemas.xmlsoap.org/soap/encoding/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:l="urn:ithaca:example:legacy""#;

/// Sends `body` (the Body's content, each top-level element declaring
/// [`NS`]) and answers the reply's text, or the fault's code and reason.
async fn call(served: &Served, action: &str, body: &str) -> Result<String, String> {
    let soap = SoapClient::new(
        &format!("{}/services/LegacyService", served.base()),
        SoapVersion::Soap11,
    )
    .unwrap();
    match soap
        .call(Some(action), body.replace("NS", NS).as_bytes())
        .await
    {
        Ok(response) => Ok(String::from_utf8_lossy(&response.message).into_owned()),
        Err(ClientError::Fault { fault, .. }) => {
            Err(format!("{:?}: {}", fault.code, fault.reason()))
        }
        Err(error) => panic!("{error}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn encoded_requests_reach_the_typed_methods() {
    let served = Served::start().await;
    let text = call(
        &served,
        "urn:ithaca:example:legacy#add",
        r##"<l:add NS><a xsi:type="xsd:int">2</a><b href="#b"/></l:add><multiRef NS id="b" SOAP-ENC:root="0" xsi:type="xsd:int">40</multiRef>"##,
    )
    .await
    .unwrap();
    assert!(
        text.contains(r#"<sum xsi:type="xsd:int">42</sum>"#),
        "{text}"
    );
    assert!(
        text.contains(&format!(r#"encodingStyle="{ENC}""#)),
        "{text}"
    );

    let text = call(
        &served,
        "urn:ithaca:example:legacy#describe",
        r##"<l:describe NS><person href="#p"/></l:describe><multiRef NS id="p" SOAP-ENC:root="0" xsi:type="l:Person"><name xsi:type="xsd:string">ann</name><age xsi:type="xsd:int">30</age><email xsi:nil="true"/></multiRef>"##,
    )
    .await
    .unwrap();
    assert!(
        text.contains(r#"<summary xsi:type="xsd:string">ann (30), no email</summary>"#),
        "{text}"
    );

    // A value that is not an int: a Client fault naming the accessor.
    let fault = call(
        &served,
        "urn:ithaca:example:legacy#add",
        r#"<l:add NS><a xsi:type="xsd:int">x</a><b xsi:type="xsd:int">1</b></l:add>"#,
    )
    .await
    .unwrap_err();
    assert!(fault.starts_with("Sender: "), "{fault}");
    assert!(fault.contains("/add/a"), "{fault}");
    served.stop().await;
}

const SUDS_SCRIPT: &str = r#"
import os, sys
from suds.client import Client

client = Client(os.environ["ITHACA_BASE"] + "/services/LegacyService?wsdl", cache=None)
total = client.service.add(2, 40)
if total != 42:
    sys.exit(f"add: {total!r}")
print("suds add: ok")
person = client.factory.create("{urn:ithaca:example:legacy}Person")
person.name, person.age, person.email = "bob", 41, "bob@example.org"
summary = client.service.describe(person)
if summary != "bob (41), bob@example.org":
    sys.exit(f"describe: {summary!r}")
print("suds describe: ok")
"#;

#[tokio::test(flavor = "multi_thread")]
async fn suds_calls_the_generated_rpc_encoded_server() {
    let served = Served::start().await;
    let (stdout, stderr) = served.run_python("suds", SUDS_SCRIPT).await;
    for line in ["suds add: ok", "suds describe: ok"] {
        assert!(stdout.contains(line), "{stdout}\n{stderr}");
    }
    served.stop().await;
}
