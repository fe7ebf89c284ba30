//! Corpus tier: python zeep, a SOAP client nobody here wrote, loads the
//! official WS-Coordination 1.1 WSDL (from the shared schema corpus,
//! through a wrapper WSDL of our own that adds the SOAP 1.1 bindings the
//! official one leaves out), activates a context and registers a
//! participant against the coordinator `ithaca serve` hosts; then, with
//! the official WS-AtomicTransaction 1.1 WSDL too, runs a whole
//! transaction: Completion and a Durable2PC participant it hosts itself
//! (a small Python HTTP server answering Prepare with Prepared and Commit
//! with Committed, each message built by zeep from the official port
//! types), and commits. Prints `corpus tier skipped` without the corpus.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use support::TestGateway;

/// What both zeep scripts start with: the official schemas read from the
/// corpus copy (nothing fetched from the network), the wrapper loaded.
const ZEEP_PRELUDE: &str = r#"
import copy, os, sys, threading
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
from lxml import etree
from zeep import Client
from zeep.transports import Transport
from zeep.wsa import WsAddressingPlugin

schemas = os.environ["ITHACA_SCHEMAS"]
LOCAL = {
    "http://www.w3.org/2006/03/addressing/ws-addr.xsd": schemas + "/addressing/ws-addr.xsd",
    "http://www.w3.org/2005/08/addressing/ws-addr.xsd": schemas + "/addressing/ws-addr.xsd",
    "http://docs.oasis-open.org/ws-tx/wsat/2006/06/wstx-wsat-1.1-schema-200701.xsd":
        schemas + "/ws-tx/2006-06/wstx-wsat-1.1-schema-200701.xsd",
}

class LocalTransport(Transport):
    def load(self, url):
        url = LOCAL.get(url, url)
        if url.startswith("http://") or url.startswith("https://"):
            raise RuntimeError("refusing to fetch " + url)
        return super().load(url)

WSAT = "http://docs.oasis-open.org/ws-tx/wsat/2006/06"
WSA = "http://www.w3.org/2005/08/addressing"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
TNS = "{urn:ithaca:test:wstx-bindings}"
client = Client(os.environ["ITHACA_WRAPPER"], transport=LocalTransport(), plugins=[WsAddressingPlugin()])
"#;

const ZEEP_SCRIPT: &str = r#"
activation = client.bind("Coordinator", "Activation")
response = activation.CreateCoordinationContextOperation(Expires={"_value_1": 30000}, CoordinationType=WSAT)
context = response.CoordinationContext
identifier = context.Identifier._value_1 if hasattr(context.Identifier, "_value_1") else context.Identifier
assert identifier.startswith("urn:uuid:"), identifier
assert context.CoordinationType == WSAT, context.CoordinationType
registration = context.RegistrationService
address = registration.Address._value_1
print("activated", identifier, "register at", address)

# Register a durable participant, echoing the registration service's
# reference parameters as headers marked IsReferenceParameter.
headers = []
for parameter in registration.ReferenceParameters._value_1:
    header = copy.deepcopy(parameter)
    header.set("{http://www.w3.org/2005/08/addressing}IsReferenceParameter", "true")
    headers.append(header)
registration_service = client.create_service("{urn:ithaca:test:wstx-bindings}RegistrationSoap11", address)
answer = registration_service.RegisterOperation(
    ProtocolIdentifier=WSAT + "/Durable2PC",
    ParticipantProtocolService={"Address": {"_value_1": "http://participant.example/2pc"}},
    _soapheaders=headers,
)
coordinator = answer.CoordinatorProtocolService.Address._value_1
assert coordinator.endswith("/wsat/2pc"), coordinator
print("registered: coordinator protocol service", coordinator)
"#;

#[tokio::test(flavor = "multi_thread")]
async fn corpus_zeep_activates_and_registers_with_the_official_wsdl() {
    let Some((stdout, _)) = zeep_against_the_coordinator(ZEEP_SCRIPT).await else {
        return;
    };
    assert!(stdout.contains("activated urn:uuid:"), "{stdout}");
    assert!(
        stdout.contains("registered: coordinator protocol service"),
        "{stdout}"
    );
}

/// Runs a zeep `script` (with the official WSDLs of the corpus) against a
/// gateway hosting the coordinator, which must succeed: its stdout and
/// stderr, or `None` when the corpus tier is skipped.
async fn zeep_against_the_coordinator(script: &str) -> Option<(String, String)> {
    let Some(corpus) = OfficialWsdls::find() else {
        println!("corpus tier skipped");
        return None;
    };
    let python = ithaca_testkit::interop::python().unwrap_or_else(|e| panic!("{e}"));
    let gateway = TestGateway::start(ithaca_gateway::Router::new(), |config| {
        config.membership.enabled = false;
        config.wsat.enabled = true;
    })
    .await;
    wait_until_recovered(&gateway).await;
    let output = corpus.run_zeep(&python, script, &gateway).await;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "zeep failed:\n{stdout}\n{stderr}");
    gateway.gateway.shutdown().await;
    Some((stdout, stderr))
}

/// Activation answers CannotCreateContext until the coordinator has
/// loaded its log; wait for a context.
async fn wait_until_recovered(gateway: &TestGateway) {
    let body = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><c:CreateCoordinationContext xmlns:c="http://docs.oasis-open.org/ws-tx/wscoor/2006/06"><c:CoordinationType>http://docs.oasis-open.org/ws-tx/wsat/2006/06</c:CoordinationType></c:CreateCoordinationContext></s:Body></s:Envelope>"#;
    for _ in 0..100 {
        let request = http::Request::post("/wsat/activation")
            .header("host", gateway.addr().to_string())
            .header("content-type", "text/xml")
            .body(Full::new(Bytes::from_static(body.as_bytes())))
            .unwrap();
        if support::http1(gateway.addr(), request).await.status == 200 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the coordinator never finished recovering");
}

/// The WS-AT half of the wrapper: SOAP 1.1 bindings of the official
/// Completion coordinator and 2PC coordinator port types.
/// Concrete SOAP 1.1 bindings and ports for the official WS-Coordination and
/// WS-AT port types (the official WSDLs define port types only).
const WRAPPER: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/"
    xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
    xmlns:wscoor="http://docs.oasis-open.org/ws-tx/wscoor/2006/06"
    xmlns:wsat="http://docs.oasis-open.org/ws-tx/wsat/2006/06"
    xmlns:tns="urn:ithaca:test:wstx-bindings"
    targetNamespace="urn:ithaca:test:wstx-bindings">
  <wsdl:import namespace="http://docs.oasis-open.org/ws-tx/wscoor/2006/06" location="WSCOOR"/>
  <wsdl:import namespace="http://docs.oasis-open.org/ws-tx/wsat/2006/06" location="WSAT"/>
  <wsdl:binding name="ActivationSoap11" type="wscoor:ActivationPortType">
    <soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <wsdl:operation name="CreateCoordinationContextOperation">
      <soap:operation soapAction="http://docs.oasis-open.org/ws-tx/wscoor/2006/06/CreateCoordinationContext"/>
      <wsdl:input><soap:body use="literal"/></wsdl:input>
      <wsdl:output><soap:body use="literal"/></wsdl:output>
    </wsdl:operation>
  </wsdl:binding>
  <wsdl:binding name="RegistrationSoap11" type="wscoor:RegistrationPortType">
    <soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <wsdl:operation name="RegisterOperation">
      <soap:operation soapAction="http://docs.oasis-open.org/ws-tx/wscoor/2006/06/Register"/>
      <wsdl:input><soap:body use="literal"/></wsdl:input>
      <wsdl:output><soap:body use="literal"/></wsdl:output>
    </wsdl:operation>
  </wsdl:binding>
  <wsdl:binding name="CompletionCoordinatorSoap11" type="wsat:CompletionCoordinatorPortType">
    <soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <wsdl:operation name="CommitOperation">
      <soap:operation soapAction="http://docs.oasis-open.org/ws-tx/wsat/2006/06/Commit"/>
      <wsdl:input><soap:body use="literal"/></wsdl:input>
    </wsdl:operation>
    <wsdl:operation name="RollbackOperation">
      <soap:operation soapAction="http://docs.oasis-open.org/ws-tx/wsat/2006/06/Rollback"/>
      <wsdl:input><soap:body use="literal"/></wsdl:input>
    </wsdl:operation>
  </wsdl:binding>
  <wsdl:binding name="CoordinatorSoap11" type="wsat:CoordinatorPortType">
    <soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <wsdl:operation name="PreparedOperation">
      <soap:operation soapAction="http://docs.oasis-open.org/ws-tx/wsat/2006/06/Prepared"/>
      <wsdl:input><soap:body use="literal"/></wsdl:input>
    </wsdl:operation>
    <wsdl:operation name="AbortedOperation">
      <soap:operation soapAction="http://docs.oasis-open.org/ws-tx/wsat/2006/06/Aborted"/>
      <wsdl:input><soap:body use="literal"/></wsdl:input>
    </wsdl:operation>
    <wsdl:operation name="ReadOnlyOperation">
      <soap:operation soapAction="http://docs.oasis-open.org/ws-tx/wsat/2006/06/ReadOnly"/>
      <wsdl:input><soap:body use="literal"/></wsdl:input>
    </wsdl:operation>
    <wsdl:operation name="CommittedOperation">
      <soap:operation soapAction="http://docs.oasis-open.org/ws-tx/wsat/2006/06/Committed"/>
      <wsdl:input><soap:body use="literal"/></wsdl:input>
    </wsdl:operation>
  </wsdl:binding>
  <wsdl:service name="Coordinator">
    <wsdl:port name="Activation" binding="tns:ActivationSoap11">
      <soap:address location="BASE/wsat/activation"/>
    </wsdl:port>
    <wsdl:port name="Registration" binding="tns:RegistrationSoap11">
      <soap:address location="BASE/wsat/registration"/>
    </wsdl:port>
  </wsdl:service>
</wsdl:definitions>
"#;

const ZEEP_2PC_SCRIPT: &str = r#"

seen = {"/participant": [], "/initiator": []}
changed = threading.Condition()
coordinator = {}

def echoed(epr):
    """The reference parameters of an EPR as headers marked IsReferenceParameter."""
    headers = []
    parameters = getattr(epr, "ReferenceParameters", None)
    for parameter in (parameters._value_1 if parameters is not None else []):
        header = copy.deepcopy(parameter)
        header.set("{%s}IsReferenceParameter" % WSA, "true")
        headers.append(header)
    return headers

def answer(notification):
    # The participant's vote and acknowledgement, built by zeep from the
    # official CoordinatorPortType, sent to the CoordinatorProtocolService.
    port = client.create_service(TNS + "CoordinatorSoap11", coordinator["epr"].Address._value_1)
    operation = {"Prepare": port.PreparedOperation, "Commit": port.CommittedOperation}[notification]
    operation(_soapheaders=echoed(coordinator["epr"]))

class Peer(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        envelope = etree.fromstring(body, parser=parser)
        payload = envelope.find("{%s}Body" % SOAP11)[0]
        name = etree.QName(payload).localname
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()
        with changed:
            seen.setdefault(self.path, []).append(name)
            changed.notify_all()
        if self.path == "/participant" and name in ("Prepare", "Commit"):
            threading.Thread(target=answer, args=(name,)).start()

    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Peer)
threading.Thread(target=server.serve_forever, daemon=True).start()
me = "http://127.0.0.1:%d" % server.server_address[1]

activation = client.bind("Coordinator", "Activation")
context = activation.CreateCoordinationContextOperation(Expires={"_value_1": 30000}, CoordinationType=WSAT).CoordinationContext
registration = context.RegistrationService
register = client.create_service(TNS + "RegistrationSoap11", registration.Address._value_1)

def register_for(protocol, path):
    return register.RegisterOperation(
        ProtocolIdentifier=WSAT + "/" + protocol,
        ParticipantProtocolService={"Address": {"_value_1": me + path}},
        _soapheaders=echoed(registration),
    ).CoordinatorProtocolService

completion = register_for("Completion", "/initiator")
coordinator["epr"] = register_for("Durable2PC", "/participant")
print("registered for Completion and Durable2PC")

commit = client.create_service(TNS + "CompletionCoordinatorSoap11", completion.Address._value_1)
commit.CommitOperation(_soapheaders=echoed(completion))

def finished():
    return "Committed" in seen["/initiator"] and "Commit" in seen["/participant"]

with changed:
    changed.wait_for(finished, timeout=30)
print("participant saw", " ".join(seen["/participant"]))
print("initiator saw", " ".join(seen["/initiator"]))
server.shutdown()
"#;

#[tokio::test(flavor = "multi_thread")]
async fn corpus_zeep_commits_a_transaction_with_its_own_durable_participant() {
    let Some((stdout, stderr)) = zeep_against_the_coordinator(ZEEP_2PC_SCRIPT).await else {
        return;
    };
    print!("{stdout}");
    assert!(
        stdout.contains("participant saw Prepare Commit\n"),
        "the participant must see Prepare, then Commit:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("initiator saw Committed\n"),
        "the initiator must be told Committed:\n{stdout}\n{stderr}"
    );
}

/// The official WS-Coordination and WS-AT 1.1 WSDLs and schemas of the
/// corpus tier.
struct OfficialWsdls {
    schemas: std::path::PathBuf,
    wscoor: std::path::PathBuf,
    wsat: std::path::PathBuf,
}

impl OfficialWsdls {
    /// `None` when `../shared/schemas` is absent (a user's clone).
    fn find() -> Option<Self> {
        let schemas = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/schemas");
        let wscoor = schemas.join("ws-tx/2006-06/wstx-wscoor-1.1-wsdl-200702.wsdl");
        let wsat = schemas.join("ws-tx/2006-06/wstx-wsat-1.1-wsdl-200702.wsdl");
        (wscoor.exists() && wsat.exists()).then(|| Self {
            schemas: schemas.canonicalize().unwrap(),
            wscoor: wscoor.canonicalize().unwrap(),
            wsat: wsat.canonicalize().unwrap(),
        })
    }

    /// Writes [`WRAPPER`] pointing at the official WSDLs and `gateway`, and
    /// runs [`ZEEP_PRELUDE`] followed by `script` with it.
    async fn run_zeep(
        &self,
        python: &Path,
        script: &str,
        gateway: &TestGateway,
    ) -> std::process::Output {
        let dir = tempfile::tempdir().unwrap();
        let wrapper = dir.path().join("wstx.wsdl");
        std::fs::write(
            &wrapper,
            WRAPPER
                .replace("WSCOOR", &self.wscoor.display().to_string())
                .replace("WSAT\"", &format!("{}\"", self.wsat.display()))
                .replace("BASE", &format!("http://{}", gateway.addr())),
        )
        .unwrap();
        tokio::process::Command::new(python)
            .arg("-c")
            .arg(format!("{ZEEP_PRELUDE}{script}"))
            .env("ITHACA_WRAPPER", &wrapper)
            .env("ITHACA_SCHEMAS", &self.schemas)
            .output()
            .await
            .unwrap()
    }
}
