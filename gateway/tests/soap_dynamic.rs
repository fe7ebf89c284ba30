//! Dynamic handlers over schema-typed values, served by the gateway: the
//! fixture contract `fixtures/dynamic/registry.wsdl` has the same
//! operations over an rpc/encoded binding (SOAP 1.1 section 5) and an
//! rpc/literal binding, all answered by the same handlers.
//!
//! Hand-written requests check the wire (multi-reference values, arrays,
//! `xsi:type` in replies, faults naming the path at fault, and a
//! document/literal wrapped operation over SOAP 1.1 and 1.2); then clients
//! nobody here wrote call it: python suds (rpc/encoded), zeep
//! (rpc/literal) and node `soap` (rpc/literal). A missing client fails
//! the test (run `scripts/install-test-deps.sh`); it never skips.

#![allow(clippy::unwrap_used)]

mod support;

use bytes::Bytes;
use http_body_util::Full;
use ithaca_gateway::Router;
use ithaca_gateway::soap::{Contract, DynamicError, DynamicRequest, SoapError, SoapService};
use ithaca_wsdl::value::{Array, Field, Value};
use support::{TestGateway, http1};

const WSDL: &str = include_str!("fixtures/dynamic/registry.wsdl");

fn age(person: &Value) -> i64 {
    person.field("age").and_then(Value::as_i64).unwrap_or(0)
}

async fn add(request: DynamicRequest) -> Result<Value, DynamicError> {
    let value = request.value();
    let (Some(a), Some(b)) = (
        value.field("a").and_then(Value::as_i64),
        value.field("b").and_then(Value::as_i64),
    ) else {
        return Err(SoapError::sender("a and b are required").into());
    };
    let sum =
        i32::try_from(a + b).map_err(|_| SoapError::sender("the sum overflows an xsd:int"))?;
    Ok(Value::complex([Field::unqualified(
        "sum",
        Value::int(i64::from(sum)),
    )]))
}

async fn describe(request: DynamicRequest) -> Result<Value, DynamicError> {
    let person = request
        .value()
        .field("person")
        .cloned()
        .unwrap_or(Value::Nil);
    let name = person.field("name").and_then(Value::as_str).unwrap_or("?");
    let email = match person.field("email") {
        Some(Value::Nil) | None => "no email".to_owned(),
        Some(email) => email.as_str().unwrap_or("?").to_owned(),
    };
    let summary = format!("{name} ({}), {email}", age(&person));
    Ok(Value::complex([Field::unqualified(
        "summary",
        Value::string(summary),
    )]))
}

async fn find(request: DynamicRequest) -> Result<Value, DynamicError> {
    let name = request
        .value()
        .field("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    if name == "ghost" {
        return Err(DynamicError::declared(
            "NotFound",
            "no such person",
            Value::complex([Field::unqualified("name", Value::string(name))]),
        ));
    }
    let email = if name == "bob" {
        Value::Nil
    } else {
        Value::string(format!("{name}@example.org"))
    };
    let person = Value::complex([
        Field::unqualified("name", Value::string(name.clone())),
        Field::unqualified(
            "age",
            Value::int(i64::try_from(name.len()).unwrap_or(0) * 10),
        ),
        Field::unqualified("email", email),
    ]);
    Ok(Value::complex([Field::unqualified("person", person)]))
}

/// Sorts people by age: a SOAP-encoded array on the encoded binding, a
/// sequence of `person` elements on the literal one.
async fn sort_by_age(request: DynamicRequest) -> Result<Value, DynamicError> {
    let sorted = match request.value().field("people") {
        Some(Value::Array(array)) => {
            let mut items = array.items.clone();
            items.sort_by_key(age);
            Value::Array(Array {
                item_type: None,
                items,
            })
        }
        Some(Value::Complex(list)) => {
            let mut people: Vec<Value> = list.fields_named("person").cloned().collect();
            people.sort_by_key(age);
            Value::complex(people.into_iter().map(|p| Field::unqualified("person", p)))
        }
        _ => return Err(SoapError::sender("people is required").into()),
    };
    Ok(Value::complex([Field::unqualified("sorted", sorted)]))
}

fn registry() -> Router {
    let contract = Contract::from_bytes("registry.wsdl", WSDL).unwrap();
    SoapService::builder(contract)
        .dynamic_operation("add", add)
        .dynamic_operation("describe", describe)
        .dynamic_operation("find", find)
        .dynamic_operation("sortByAge", sort_by_age)
        .build()
        .unwrap()
}

async fn gateway() -> TestGateway {
    TestGateway::start(registry(), |_| {}).await
}

const ENCODED: &str = "/services/RegistryService";
const LITERAL: &str = "/services/RegistryService/RegistryLiteralPort";

/// POSTs a SOAP 1.1 envelope around `body` and returns status and text.
async fn call(gw: &TestGateway, path: &str, action: &str, body: &str) -> (u16, String) {
    let envelope = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"
    xmlns:SOAP-ENC="http://schemas.xmlsoap.org/soap/encoding/"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xmlns:xsd="http://www.w3.org/2001/XMLSchema"
    xmlns:r="urn:ithaca:test:registry"
    xmlns:e="urn:ithaca:test:registry:encoded"
    xmlns:l="urn:ithaca:test:registry"
    SOAP-ENV:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">
<SOAP-ENV:Body>{body}</SOAP-ENV:Body></SOAP-ENV:Envelope>"#
    );
    let request = http::Request::post(path)
        .header("host", "ithaca.test")
        .header("content-type", "text/xml; charset=utf-8")
        .header("soapaction", format!("\"{action}\""))
        .body(Full::new(Bytes::from(envelope)))
        .unwrap();
    let reply = http1(gw.addr(), request).await;
    (reply.status, reply.text())
}

#[tokio::test]
async fn rpc_encoded_follows_multi_references_and_answers_with_xsi_types() {
    let gw = gateway().await;
    let (status, text) = call(
        &gw,
        ENCODED,
        "urn:ithaca:test:registry:encoded#add",
        r##"<e:add><a xsi:type="xsd:int">2</a><b href="#b"/></e:add><multiRef id="b" SOAP-ENC:root="0" xsi:type="xsd:int">40</multiRef>"##,
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert!(
        text.contains(r#"SOAP-ENV:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/""#),
        "{text}"
    );
    assert!(
        text.contains(r#"<sum xsi:type="xsd:int">42</sum>"#),
        "{text}"
    );
}

#[tokio::test]
async fn rpc_encoded_sorts_an_array_of_structs() {
    let gw = gateway().await;
    let (status, text) = call(
        &gw,
        ENCODED,
        "urn:ithaca:test:registry:encoded#sortByAge",
        r##"<e:sortByAge>
  <people xsi:type="SOAP-ENC:Array" SOAP-ENC:arrayType="r:Person[3]">
    <item href="#old"/>
    <item xsi:type="r:Person"><name xsi:type="xsd:string">ann</name><age xsi:type="xsd:int">30</age><email xsi:nil="true"/></item>
    <item xsi:type="r:Person"><name xsi:type="xsd:string">kid</name><age xsi:type="xsd:int">3</age><email xsi:type="xsd:string">k@example.org</email></item>
  </people>
</e:sortByAge>
<multiRef id="old" SOAP-ENC:root="0" xsi:type="r:Person"><name>zed</name><age>90</age><email>z@example.org</email></multiRef>"##,
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert!(
        text.contains(r#"SOAP-ENC:arrayType="ns2:Person[3]""#) || text.contains(r#":Person[3]""#),
        "{text}"
    );
    let kid = text.find(">kid<").unwrap();
    let ann = text.find(">ann<").unwrap();
    let zed = text.find(">zed<").unwrap();
    assert!(kid < ann && ann < zed, "{text}");
    assert!(text.contains(r#"<email xsi:nil="true"/>"#), "{text}");
}

#[tokio::test]
async fn bad_requests_get_client_faults_naming_the_path() {
    let gw = gateway().await;
    let cases = [
        (
            r#"<e:add><a xsi:type="xsd:int">x</a><b xsi:type="xsd:int">1</b></e:add>"#,
            r#"/add/a: value "x" is not a valid xs:int"#,
        ),
        (
            r#"<e:add><a xsi:type="xsd:int">1</a></e:add>"#,
            "/add: the accessor of the part `b` is missing",
        ),
        (
            r##"<e:add><a href="#loop"/><b xsi:type="xsd:int">1</b></e:add><x id="loop" href="#loop"/>"##,
            "makes a cycle of references",
        ),
    ];
    for (body, reason) in cases {
        let (status, text) = call(&gw, ENCODED, "urn:ithaca:test:registry:encoded#add", body).await;
        assert_eq!(status, 500, "{text}");
        assert!(
            text.contains(">SOAP-ENV:Client<") || text.contains(":Client</faultcode>"),
            "{text}"
        );
        assert!(
            text.contains(&reason.replace('"', "&quot;")) || text.contains(reason),
            "{reason}: {text}"
        );
    }
    let (status, text) = call(
        &gw,
        ENCODED,
        "urn:ithaca:test:registry:encoded#sortByAge",
        r#"<e:sortByAge><people xsi:type="SOAP-ENC:Array" SOAP-ENC:arrayType="r:Person[2,2]"/></e:sortByAge>"#,
    )
    .await;
    assert_eq!(status, 500, "{text}");
    assert!(text.contains("multi-dimensional arrays"), "{text}");
}

#[tokio::test]
async fn rpc_literal_answers_unqualified_accessors_and_declared_faults() {
    let gw = gateway().await;
    let (status, text) = call(
        &gw,
        LITERAL,
        "urn:ithaca:test:registry:literal#find",
        "<l:find><name>bob</name></l:find>",
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert!(
        text.contains(r#"<ns1:findResponse xmlns:ns1="urn:ithaca:test:registry"><person><name>bob</name><age>30</age><email xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:nil="true"/></person></ns1:findResponse>"#),
        "{text}"
    );
    let (status, text) = call(
        &gw,
        LITERAL,
        "urn:ithaca:test:registry:literal#find",
        "<l:find><name>ghost</name></l:find>",
    )
    .await;
    assert_eq!(status, 500, "{text}");
    assert!(
        text.contains("<faultstring>no such person</faultstring>"),
        "{text}"
    );
    assert!(text.contains(r#"<ns1:notFound xmlns:ns1="urn:ithaca:test:registry"><name>ghost</name></ns1:notFound>"#), "{text}");
}

#[tokio::test]
async fn document_literal_wrapped_over_soap11_and_soap12() {
    let contract = Contract::from_bytes("echo.wsdl", ithaca_services::echo::WSDL).unwrap();
    let routes = SoapService::builder(contract)
        .dynamic_operation("echoString", |request: DynamicRequest| async move {
            let text = request
                .value()
                .field("text")
                .and_then(Value::as_str)
                .unwrap_or("");
            Ok(Value::complex([Field::unqualified(
                "result",
                Value::string(text.to_uppercase()),
            )]))
        })
        .build()
        .unwrap();
    let gw = TestGateway::start(routes, |_| {}).await;
    for (path, content_type, envelope_ns) in [
        (
            "/services/EchoService",
            "text/xml; charset=utf-8",
            "http://schemas.xmlsoap.org/soap/envelope/",
        ),
        (
            "/services/EchoService/soap12",
            r#"application/soap+xml; charset=utf-8; action="urn:ithaca:bench:echo#echoString""#,
            "http://www.w3.org/2003/05/soap-envelope",
        ),
    ] {
        let envelope = format!(
            r#"<s:Envelope xmlns:s="{envelope_ns}" xmlns:e="urn:ithaca:bench:echo"><s:Body><e:echoString><text>a &lt; b</text></e:echoString></s:Body></s:Envelope>"#
        );
        let request = http::Request::post(path)
            .header("host", "ithaca.test")
            .header("content-type", content_type)
            .header("soapaction", "\"urn:ithaca:bench:echo#echoString\"")
            .body(Full::new(Bytes::from(envelope)))
            .unwrap();
        let reply = http1(gw.addr(), request).await;
        let text = reply.text();
        assert_eq!(reply.status, 200, "{text}");
        assert!(
            text.contains(r#"<ns1:echoStringResponse xmlns:ns1="urn:ithaca:bench:echo"><result>A &lt; B</result></ns1:echoStringResponse>"#),
            "{text}"
        );
    }
}

async fn run_python(script: &str, gw: &TestGateway) -> (bool, String) {
    let python = ithaca_testkit::interop::python().unwrap_or_else(|e| panic!("{e}"));
    let output = tokio::process::Command::new(python)
        .arg("-c")
        .arg(script)
        .env("ITHACA_BASE", format!("http://{}", gw.addr()))
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    (output.status.success(), format!("{stdout}\n{stderr}"))
}

const SUDS_SCRIPT: &str = r#"
import os, sys
from suds.client import Client

base = os.environ["ITHACA_BASE"]
client = Client(base + "/services/RegistryService?wsdl", cache=None)
client.set_options(port="RegistryEncodedPort")
service = client.service

total = service.add(2, 40)
if total != 42:
    sys.exit(f"add: {total!r}")
print("suds add: ok")

person = client.factory.create("{urn:ithaca:test:registry}Person")
person.name = "ann"
person.age = 30
person.email = None
summary = service.describe(person)
if summary != "ann (30), no email":
    sys.exit(f"describe: {summary!r}")
print("suds describe: ok")

found = service.find("bob")
if found.name != "bob" or found.age != 30 or found.email is not None:
    sys.exit(f"find: {found!r}")
print("suds find: ok")

people = []
for name, age in (("zed", 90), ("kid", 3), ("ann", 30)):
    p = client.factory.create("{urn:ithaca:test:registry}Person")
    p.name, p.age, p.email = name, age, name + "@example.org"
    people.append(p)
array = client.factory.create("{urn:ithaca:test:registry}ArrayOfPerson")
array.item = people
result = service.sortByAge(array)
items = result if isinstance(result, list) else getattr(result, "item", result)
names = [p.name for p in items]
if names != ["kid", "ann", "zed"]:
    sys.exit(f"sortByAge: {names!r} from {result!r}")
print("suds sortByAge: ok")
"#;

#[tokio::test(flavor = "multi_thread")]
async fn suds_calls_the_rpc_encoded_binding() {
    let gw = gateway().await;
    let (ok, output) = run_python(SUDS_SCRIPT, &gw).await;
    assert!(ok, "suds failed:\n{output}");
    for line in [
        "suds add: ok",
        "suds describe: ok",
        "suds find: ok",
        "suds sortByAge: ok",
    ] {
        assert!(output.contains(line), "{output}");
    }
}

const ZEEP_SCRIPT: &str = r#"
import os, sys
import zeep
from zeep.exceptions import Fault

from zeep.transports import Transport

# zeep fetches the SOAP encoding schema the contract imports (for the
# encoded binding's array type); this machine is offline, so it gets a
# minimal stand-in with the components the contract uses.
SOAPENC = "http://schemas.xmlsoap.org/soap/encoding/"
STAND_IN = f"""<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema"
    xmlns:enc="{SOAPENC}" targetNamespace="{SOAPENC}">
  <xsd:attribute name="arrayType" type="xsd:string"/>
  <xsd:complexType name="Array">
    <xsd:sequence><xsd:any minOccurs="0" maxOccurs="unbounded" processContents="lax"/></xsd:sequence>
    <xsd:attribute ref="enc:arrayType"/>
  </xsd:complexType>
</xsd:schema>""".encode()

class Offline(Transport):
    def load(self, url):
        if url.rstrip("/") == SOAPENC.rstrip("/"):
            return STAND_IN
        return super().load(url)

base = os.environ["ITHACA_BASE"]
client = zeep.Client(base + "/services/RegistryService?wsdl", transport=Offline())
service = client.bind("RegistryService", "RegistryLiteralPort")

total = service.add(a=2, b=40)
if total != 42:
    sys.exit(f"add: {total!r}")
print("zeep add: ok")

summary = service.describe(person={"name": "ann", "age": 30, "email": None})
if summary != "ann (30), no email":
    sys.exit(f"describe: {summary!r}")
print("zeep describe: ok")

found = service.find(name="bob")
if found.name != "bob" or found.age != 30 or found.email is not None:
    sys.exit(f"find: {found!r}")
print("zeep find: ok")

people = [{"name": n, "age": a, "email": n + "@example.org"} for n, a in (("zed", 90), ("kid", 3), ("ann", 30))]
result = service.sortByAge(people={"person": people})
# zeep unwraps a type holding one repeated element into a list.
items = result if isinstance(result, list) else result.person
names = [p.name for p in items]
if names != ["kid", "ann", "zed"]:
    sys.exit(f"sortByAge: {names!r}")
print("zeep sortByAge: ok")

try:
    service.find(name="ghost")
    sys.exit("find: no fault for ghost")
except Fault as fault:
    names = [e.text for e in fault.detail.iter() if e.tag == "name"] if fault.detail is not None else []
    if fault.message != "no such person" or names != ["ghost"]:
        sys.exit(f"find fault: {fault.message!r} {names!r}")
print("zeep fault: ok")
"#;

#[tokio::test(flavor = "multi_thread")]
async fn zeep_calls_the_rpc_literal_binding() {
    let gw = gateway().await;
    let (ok, output) = run_python(ZEEP_SCRIPT, &gw).await;
    assert!(ok, "zeep failed:\n{output}");
    for line in [
        "zeep add: ok",
        "zeep describe: ok",
        "zeep find: ok",
        "zeep sortByAge: ok",
        "zeep fault: ok",
    ] {
        assert!(output.contains(line), "{output}");
    }
}

const NODE_SCRIPT: &str = r#"
const soap = require('soap');
const base = process.env.ITHACA_BASE;
soap.createClient(base + '/services/RegistryService?wsdl', {}, (err, client) => {
  if (err) { console.error(String(err)); process.exit(1); }
  const port = client.RegistryService.RegistryLiteralPort;
  port.add({ a: 2, b: 40 }, (err, result) => {
    if (err) { console.error(String(err.body || err)); process.exit(1); }
    if (String(result.sum) !== '42') { console.error('add: ' + JSON.stringify(result)); process.exit(1); }
    console.log('node add: ok');
    port.find({ name: 'carol' }, (err, result) => {
      if (err) { console.error(String(err.body || err)); process.exit(1); }
      const p = result.person;
      if (p.name !== 'carol' || String(p.age) !== '50' || p.email !== 'carol@example.org') {
        console.error('find: ' + JSON.stringify(result)); process.exit(1);
      }
      console.log('node find: ok');
    });
  });
});
"#;

#[tokio::test(flavor = "multi_thread")]
async fn node_soap_calls_the_rpc_literal_binding() {
    let dir = ithaca_testkit::interop::node_dir().unwrap_or_else(|e| panic!("{e}"));
    let gw = gateway().await;
    let output = tokio::process::Command::new("node")
        .arg("-e")
        .arg(NODE_SCRIPT)
        .current_dir(dir)
        .env("ITHACA_BASE", format!("http://{}", gw.addr()))
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "node soap failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("node add: ok"), "{stdout}\n{stderr}");
    assert!(stdout.contains("node find: ok"), "{stdout}\n{stderr}");
}
