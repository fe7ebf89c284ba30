//! CORBA objects hosted as SOAP services, called by SOAP clients nobody
//! here wrote: an omniORB C++ servant of `fixtures/bridge/soapfront/Rich.idl`
//! (every construct the bridge maps), built with omniidl and g++, is hosted
//! through `[[bridge.corba]]`'s builder, and zeep calls every operation
//! over SOAP 1.1 and 1.2 (values, declared faults, system-exception
//! faults, a oneway, attributes, object references, `any`), and so does a
//! JAX-WS client made by `wsimport` from the gateway's `?wsdl`
//! (`fixtures/bridge/soapfront/BridgeRichClient.java`). Raw requests
//! check the refusals (out-of-range values, bounds, array lengths) and that
//! an unreachable object answers promptly. An Ithaca servant checks that a
//! WS-AT CoordinationContext arrives as a CosTransactions
//! PropagationContext, and that a `corbaname:` target is resolved again
//! after its object moved. The corpus tier hosts the shared benchmark's
//! `Bench.idl` in front of its omniORB `server.cc`.
//!
//! A missing omniORB or zeep fails the test (run
//! `scripts/install-test-deps.sh`); it never skips. A missing JDK or
//! `wsimport` skips the JAX-WS test with a message saying so.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use ithaca_gateway::bridge::soapfront::txcontext::WsatPropagation;
use ithaca_gateway::bridge::soapfront::{CorbaObjectConfig, SoapFront};
use ithaca_gateway::config::HumanDuration;
use ithaca_idl::dynamic::{DynamicServant, ReplyValues, Value};
use ithaca_idl::front;
use ithaca_idl::orb::{Call, OrbServer, Servant, ServantFuture};
use support::{TestGateway, http1, post};

const HINT: &str = "omniORB is needed: run scripts/install-test-deps.sh (Debian: omniorb omniidl libomniorb4-dev pkg-config g++)";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bridge/soapfront")
}

fn rich_idl() -> PathBuf {
    fixtures().join("Rich.idl")
}

/// Builds an omniORB server from `idl` and `server` (copied into a build
/// folder of its own), once per name.
fn build_server(name: &str, idl: &Path, idl_name: &str, server: &Path) -> PathBuf {
    static BUILT: OnceLock<Mutex<Vec<(String, PathBuf)>>> = OnceLock::new();
    let built = BUILT.get_or_init(|| Mutex::new(Vec::new()));
    let mut built = built.lock().unwrap();
    if let Some((_, path)) = built.iter().find(|(n, _)| n == name) {
        return path.clone();
    }
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("bridge-soapfront-{name}"));
    std::fs::create_dir_all(&out).unwrap();
    std::fs::copy(idl, out.join(idl_name)).unwrap();
    std::fs::copy(server, out.join("server.cc")).unwrap();
    let status = Command::new("omniidl")
        .args(["-bcxx", "-Wba", idl_name])
        .current_dir(&out)
        .status()
        .unwrap_or_else(|e| panic!("omniidl: {e}; {HINT}"));
    assert!(status.success(), "omniidl {idl_name} failed; {HINT}");
    let flags = Command::new("pkg-config")
        .args(["--cflags", "--libs", "omniDynamic4"])
        .output()
        .unwrap_or_else(|e| panic!("pkg-config: {e}; {HINT}"));
    assert!(flags.status.success(), "pkg-config omniDynamic4; {HINT}");
    let flags = String::from_utf8(flags.stdout).unwrap();
    let stem = idl_name.trim_end_matches(".idl");
    let status = Command::new("g++")
        .args(["-O1", "-o", "server", "server.cc"])
        .args([format!("{stem}SK.cc"), format!("{stem}DynSK.cc")])
        .args(flags.split_whitespace())
        .current_dir(&out)
        .status()
        .unwrap_or_else(|e| panic!("g++: {e}; {HINT}"));
    assert!(status.success(), "building {name} failed; {HINT}");
    let program = out.join("server");
    built.push((name.to_owned(), program.clone()));
    program
}

/// A child process, killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts an omniORB server; returns it, its port and the IOR it printed.
fn start_server(program: &Path) -> (Process, u16, String) {
    let port = ithaca_testkit::free_port().unwrap();
    let mut child = Command::new(program)
        .args(["-ORBendPoint", &format!("giop:tcp:127.0.0.1:{port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let ior = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .next()
        .unwrap()
        .unwrap();
    assert!(ior.starts_with("IOR:"), "{ior}");
    (Process(child), port, ior)
}

fn rich_servant() -> (Process, u16, String) {
    let program = build_server(
        "rich",
        &rich_idl(),
        "Rich.idl",
        &fixtures().join("rich_servant.cc"),
    );
    start_server(&program)
}

async fn gateway_for(objects: &[CorbaObjectConfig]) -> TestGateway {
    let routes = SoapFront::routes(objects, None).unwrap();
    TestGateway::start(routes, |_| {}).await
}

async fn run_python(script: &str, base: &str) -> String {
    let python = ithaca_testkit::interop::python().unwrap_or_else(|e| panic!("{e}"));
    let output = tokio::process::Command::new(python)
        .arg("-c")
        .arg(script)
        .env("ITHACA_BASE", base)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "zeep failed:\n{stdout}\n{stderr}");
    stdout
}

const ZEEP_RICH: &str = r#"
import os, sys, time
from decimal import Decimal
import zeep
from zeep import xsd
from zeep.exceptions import Fault
from zeep.helpers import serialize_object

base = os.environ["ITHACA_BASE"]
client = zeep.Client(base + "/services/Rich?wsdl")

def check(port, case, got, want):
    if got != want:
        sys.exit(f"{port} {case}: got {got!r}, want {want!r}")

def local(tag):
    return tag.split("}")[-1]

def detail_texts(fault):
    return {local(e.tag): e.text for e in fault.detail.iter()} if fault.detail is not None else {}

record = {
    "name": "ada", "note": "wide \u03a9 note", "amount": Decimal("1234567.89"),
    "tint": "green", "path": {"item": [{"x": 1, "y": 2}, {"x": -3, "y": 4}]},
    "few": {"item": [7, 8, 9]},
    "cells": {"item": [{"item": [1, 2, 3]}, {"item": [4, 5, 6]}]},
    "outline": {"discriminator": "red", "center": {"x": 5, "y": 6}},
    "data": b"\x00\x01\xffbytes", "initial": "A", "winitial": "\u03a9", "flag": True,
    "small": 255, "s": -32768, "us": 65535, "ul": 4294967295,
    "ll": -9223372036854775808, "ull": 18446744073709551615, "f": 1.5, "d": -2.25,
}

for port in ("Bridge.RichPort", "Bridge.RichSoap12Port"):
    rich = client.bind("Bridge.RichService", port)
    got = serialize_object(rich.echoRecord(r=record), dict)
    # zeep lists a union's unselected branches as None.
    got["outline"] = {k: v for k, v in got["outline"].items() if v is not None}
    for key, want in record.items():
        check(port, "echoRecord." + key, got[key], want)
    print(f"{port} echoRecord: ok")

    check(port, "add", rich.add(a=2, b=40), 42)
    out = rich.split(p={"x": 3, "y": 4}, y=10)
    check(port, "split", (out.x, out.y), (3, 14))
    print(f"{port} add split: ok")

    for shape in ({"discriminator": "green", "label": "hi"},
                  {"discriminator": "blue", "size": 2.5},
                  {"discriminator": "red", "center": {"x": 1, "y": 1}}):
        got = serialize_object(rich.echoShape(s=shape), dict)
        got = {k: v for k, v in got.items() if v is not None}
        check(port, "echoShape", got, shape)
    check(port, "echoMaybe none", serialize_object(rich.echoMaybe(m={"discriminator": 0}), dict).get("value"), None)
    check(port, "echoMaybe value", rich.echoMaybe(m={"discriminator": 1, "value": 5}).value, 5)
    print(f"{port} unions: ok")

    got = rich.echoAny(a={"type": "long", "value": xsd.AnyObject(client.get_type("xsd:int"), 42)})
    check(port, "echoAny long", (got.type, got.value), ("long", 42))
    got = rich.echoAny(a={"type": "string", "value": xsd.AnyObject(client.get_type("xsd:string"), "text")})
    check(port, "echoAny string", (got.type, got.value), ("string", "text"))
    point = client.get_type("ns0:Bridge.Point")
    got = rich.echoAny(a={"type": "IDL:Bridge/Point:1.0", "value": xsd.AnyObject(point, point(x=8, y=9))})
    check(port, "echoAny struct", (got.type, got.value.x, got.value.y), ("IDL:Bridge/Point:1.0", 8, 9))
    print(f"{port} any: ok")

    # zeep hands back a one-element result (CORBA.ObjectReference) as
    # that element's value.
    def url_of(result):
        return result if result is None or isinstance(result, str) else result.url
    me = url_of(rich.self())
    if not me or not me.startswith("IOR:"):
        sys.exit(f"{port} self: {me!r}")
    check(port, "echoObject", url_of(rich.echoObject(o={"url": me})), me)
    check(port, "echoObject nil", url_of(rich.echoObject(o={"url": None})), None)
    print(f"{port} object references: ok")

    rich._set_counter(value=7)
    check(port, "counter", rich._get_counter(), 7)
    check(port, "title", rich._get_title(), "rich servant")
    print(f"{port} attributes: ok")

    check(port, "pay", rich.pay(amount=Decimal("12.34")), Decimal("24.68"))
    check(port, "nickname", rich.nickname(n="eight ch"), "eight ch")
    print(f"{port} fixed and bounded: ok")

    try:
        rich.fail(what="the key")
        sys.exit(f"{port}: fail returned")
    except Fault as fault:
        texts = detail_texts(fault)
        check(port, "NotFound", (texts.get("what"), texts.get("code")), ("the key", "404"))
    try:
        rich.fail(what="overdrawn")
        sys.exit(f"{port}: fail returned")
    except Fault as fault:
        check(port, "Overdrawn", detail_texts(fault).get("balance"), "-12.5")
    print(f"{port} user exceptions: ok")

    try:
        rich.crash()
        sys.exit(f"{port}: crash returned")
    except Fault as fault:
        texts = detail_texts(fault)
        check(port, "system exception", (texts.get("id"), texts.get("minor"), texts.get("completed")),
              ("IDL:omg.org/CORBA/BAD_PARAM:1.0", str(0x41540007), "COMPLETED_MAYBE"))
        if "BAD_PARAM" not in fault.message:
            sys.exit(f"{port}: reason {fault.message!r}")
    print(f"{port} system exception: ok")

    before = rich.notifications()
    rich.notify(message="hello")
    for _ in range(100):
        if rich.notifications() > before:
            break
        time.sleep(0.05)
    else:
        sys.exit(f"{port}: the oneway notify never arrived")
    print(f"{port} oneway: ok")
"#;

#[tokio::test(flavor = "multi_thread")]
async fn zeep_calls_every_operation_of_an_omniorb_servant_through_the_bridge() {
    let (_servant, _, ior) = rich_servant();
    let gw = gateway_for(&[CorbaObjectConfig::new("Rich", rich_idl(), &ior)]).await;
    let stdout = run_python(ZEEP_RICH, &format!("http://{}", gw.addr())).await;
    for port in ["Bridge.RichPort", "Bridge.RichSoap12Port"] {
        for case in [
            "echoRecord",
            "add split",
            "unions",
            "any",
            "object references",
            "attributes",
            "fixed and bounded",
            "user exceptions",
            "system exception",
            "oneway",
        ] {
            let line = format!("{port} {case}: ok");
            assert!(stdout.contains(&line), "{line} missing:\n{stdout}");
        }
    }
}

/// Runs a step of the JAX-WS build, which must succeed.
async fn run_step(what: &str, command: &mut tokio::process::Command) -> std::process::Output {
    let output = command
        .output()
        .await
        .unwrap_or_else(|e| panic!("{what} did not start: {e}"));
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[tokio::test(flavor = "multi_thread")]
async fn jax_ws_calls_an_omniorb_servant_through_the_bridge() {
    let tools = match ithaca_testkit::interop::jax_ws() {
        Ok(tools) => tools,
        Err(missing) => {
            println!("JAX-WS bridge test skipped: {missing}");
            return;
        }
    };
    let (_servant, _, ior) = rich_servant();
    let gw = gateway_for(&[CorbaObjectConfig::new("Rich", rich_idl(), &ior)]).await;
    let base = format!("http://{}", gw.addr());
    let work = tempfile::tempdir().unwrap();
    let generated = work.path().join("generated");
    let classes = work.path().join("classes");
    std::fs::create_dir_all(&generated).unwrap();
    std::fs::create_dir_all(&classes).unwrap();

    // wsimport reads the contract the gateway publishes for the object
    // (its SOAP 1.2 port needs -extension).
    run_step(
        "wsimport",
        tokio::process::Command::new(&tools.wsimport)
            .args([
                "-extension",
                "-Xnocompile",
                "-quiet",
                "-p",
                "ithaca.bridge",
                "-s",
            ])
            .arg(&generated)
            .arg("-d")
            .arg(&classes)
            .arg(format!("{base}/services/Rich?wsdl")),
    )
    .await;
    let mut sources: Vec<PathBuf> = std::fs::read_dir(generated.join("ithaca/bridge"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    // The declared faults become checked exceptions carrying their fields.
    for class in [
        "BridgeNotFound_Exception.java",
        "BridgeOverdrawn_Exception.java",
    ] {
        assert!(
            sources.iter().any(|s| s.ends_with(class)),
            "{class} not generated: {sources:?}"
        );
    }
    sources.push(fixtures().join("BridgeRichClient.java"));
    run_step(
        "javac",
        tokio::process::Command::new(&tools.javac)
            .args(["-nowarn", "-encoding", "UTF-8", "-cp"])
            .arg(&tools.classpath)
            .arg("-d")
            .arg(&classes)
            .args(&sources),
    )
    .await;
    let output = tokio::process::Command::new(&tools.java)
        .arg("-cp")
        .arg(format!("{}:{}", classes.display(), tools.classpath))
        .arg("BridgeRichClient")
        .arg(&base)
        .output()
        .await
        .unwrap_or_else(|e| panic!("java did not start: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the JAX-WS client failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    for port in ["Bridge.RichPort", "Bridge.RichSoap12Port"] {
        for case in [
            "echoRecord",
            "add split",
            "unions",
            "fixed attributes oneway",
            "user exception NotFound",
            "user exception Overdrawn",
            "system exception",
        ] {
            let line = format!("{port} {case}: ok");
            assert!(
                stdout.lines().any(|l| l == line),
                "`{line}` missing:\n{stdout}\n{stderr}"
            );
        }
    }
}

fn envelope(body: &str) -> String {
    format!(
        "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" \
         xmlns:b=\"http://www.omg.org/IDL-Mapped/\"><s:Body>{body}</s:Body></s:Envelope>"
    )
}

async fn soap_call(gw: &TestGateway, service: &str, body: &str) -> (u16, String) {
    soap_call_with_header(gw, service, "", body).await
}

async fn soap_call_with_header(
    gw: &TestGateway,
    service: &str,
    header: &str,
    body: &str,
) -> (u16, String) {
    let xml = if header.is_empty() {
        envelope(body)
    } else {
        envelope(body).replacen(
            "<s:Body>",
            &format!("<s:Header>{header}</s:Header><s:Body>"),
            1,
        )
    };
    let mut request = post(&format!("/services/{service}"), xml);
    request.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/xml; charset=utf-8"),
    );
    request
        .headers_mut()
        .insert("soapaction", http::HeaderValue::from_static("\"\""));
    let reply = http1(gw.addr(), request).await;
    (reply.status, reply.text())
}

#[tokio::test(flavor = "multi_thread")]
async fn values_out_of_range_are_client_faults_naming_the_element() {
    let (_servant, _, ior) = rich_servant();
    let gw = gateway_for(&[CorbaObjectConfig::new("Rich", rich_idl(), &ior)]).await;
    let (status, text) = soap_call(
        &gw,
        "Rich",
        "<b:Bridge.Rich.add><a>2</a><b>40</b></b:Bridge.Rich.add>",
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("<_return>42</_return>"), "{text}");
    for (body, needle) in [
        // An xs:long value for an IDL long.
        (
            "<b:Bridge.Rich.add><a>4294967296</a><b>1</b></b:Bridge.Rich.add>",
            "/Bridge.Rich.add/a",
        ),
        // Nine characters for a string<8>.
        (
            "<b:Bridge.Rich.nickname><n>nine char</n></b:Bridge.Rich.nickname>",
            "/Bridge.Rich.nickname/n",
        ),
        // Three fraction digits for a fixed<9,2>.
        (
            "<b:Bridge.Rich.pay><amount>1.234</amount></b:Bridge.Rich.pay>",
            "/Bridge.Rich.pay/amount",
        ),
        // An enumerator that is not one.
        (
            "<b:Bridge.Rich.echoShape><s><discriminator>purple</discriminator></s></b:Bridge.Rich.echoShape>",
            "discriminator",
        ),
        // The branch the discriminator does not select.
        (
            "<b:Bridge.Rich.echoShape><s><discriminator>red</discriminator><label>x</label></s></b:Bridge.Rich.echoShape>",
            "/Bridge.Rich.echoShape/s/label",
        ),
        // An any naming a type the IDL does not have.
        (
            "<b:Bridge.Rich.echoAny><a><type>IDL:Nope:1.0</type><value>1</value></a></b:Bridge.Rich.echoAny>",
            "/Bridge.Rich.echoAny/a/type",
        ),
        // A reference that is not one.
        (
            "<b:Bridge.Rich.echoObject><o><url>IOR:zz</url></o></b:Bridge.Rich.echoObject>",
            "/Bridge.Rich.echoObject/o/url",
        ),
    ] {
        let (status, text) = soap_call(&gw, "Rich", body).await;
        assert_eq!(status, 500, "{body}: {text}");
        assert!(text.contains("Client"), "{body}: {text}");
        assert!(text.contains(needle), "{body}: {needle} not in {text}");
    }
    // A whole record with a 2x2 grid where the IDL array is 2x3.
    let record = "<r><name>a</name><note>n</note><amount>1</amount><tint>red</tint><path/>\
        <few/><cells><item><item>1</item><item>2</item></item><item><item>1</item><item>2</item></item></cells>\
        <outline><discriminator>blue</discriminator><size>1</size></outline><data></data>\
        <initial>a</initial><winitial>b</winitial><flag>true</flag><small>1</small><s>1</s><us>1</us>\
        <ul>1</ul><ll>1</ll><ull>1</ull><f>1</f><d>1</d></r>";
    let (status, text) = soap_call(
        &gw,
        "Rich",
        &format!("<b:Bridge.Rich.echoRecord>{record}</b:Bridge.Rich.echoRecord>"),
    )
    .await;
    assert_eq!(status, 500, "{text}");
    assert!(text.contains("Client") && text.contains("cells"), "{text}");
    // With a 2x3 grid it goes through.
    let good = record.replace(
        "<item><item>1</item><item>2</item></item><item><item>1</item><item>2</item></item>",
        "<item><item>1</item><item>2</item><item>3</item></item><item><item>4</item><item>5</item><item>6</item></item>",
    );
    let (status, text) = soap_call(
        &gw,
        "Rich",
        &format!("<b:Bridge.Rich.echoRecord>{good}</b:Bridge.Rich.echoRecord>"),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("<item>6</item>"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_object_answers_a_prompt_server_fault() {
    // A port nothing listens on: connection refused, TRANSIENT at once.
    let closed = ithaca_testkit::free_port().unwrap();
    let refused = format!("corbaloc::1.2@127.0.0.1:{closed}/Rich");
    // A server that takes the connection and never answers (the kernel
    // accepts it into the listener's backlog): the deadline ends the call.
    let silent_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent_listener.local_addr().unwrap().port();
    let mut silent = CorbaObjectConfig::new(
        "Silent",
        rich_idl(),
        &format!("corbaloc::1.2@127.0.0.1:{silent_port}/Rich"),
    );
    silent.deadline = HumanDuration(Duration::from_millis(800));
    let gw = gateway_for(&[
        CorbaObjectConfig::new("Refused", rich_idl(), &refused),
        silent,
    ])
    .await;
    let body = "<b:Bridge.Rich.add><a>1</a><b>2</b></b:Bridge.Rich.add>";

    let started = Instant::now();
    let (status, text) = soap_call(&gw, "Refused", body).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(status, 500, "{text}");
    assert!(text.contains("Server"), "{text}");
    assert!(
        text.contains("<id>IDL:omg.org/CORBA/TRANSIENT:1.0</id>"),
        "{text}"
    );
    assert!(
        text.contains("<completed>COMPLETED_NO</completed>"),
        "{text}"
    );

    let started = Instant::now();
    let (status, text) = soap_call(&gw, "Silent", body).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(
        started.elapsed() >= Duration::from_millis(800),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(status, 500, "{text}");
    assert!(text.contains("IDL:omg.org/CORBA/TIMEOUT:1.0"), "{text}");
    assert!(
        text.contains("no reply from the CORBA object within 800ms"),
        "{text}"
    );
    // The deadline is per call: the next one waits its own 800 ms again.
    let started = Instant::now();
    let (_, text) = soap_call(&gw, "Silent", body).await;
    assert!(
        started.elapsed() >= Duration::from_millis(800),
        "{:?}",
        started.elapsed()
    );
    assert!(text.contains("IDL:omg.org/CORBA/TIMEOUT:1.0"), "{text}");
    drop(silent_listener);
}

/// An Ithaca servant of `Bridge::Rich` (only `add` answers) that records
/// the TransactionService contexts it receives.
struct RecordingServant {
    inner: DynamicServant,
    seen: Arc<Mutex<Vec<WsatPropagation>>>,
}

impl Servant for RecordingServant {
    fn repository_id(&self) -> &str {
        self.inner.repository_id()
    }

    fn is_a(&self, repository_id: &str) -> bool {
        self.inner.is_a(repository_id)
    }

    fn invoke(&self, call: Call) -> ServantFuture<'_> {
        for context in call.service_contexts().iter().filter(|c| c.context_id == 0) {
            let propagation = WsatPropagation::from_service_context(context).unwrap();
            self.seen.lock().unwrap().push(propagation);
        }
        self.inner.invoke(call)
    }
}

fn ithaca_rich_servant(seen: Arc<Mutex<Vec<WsatPropagation>>>) -> RecordingServant {
    let out = front::analyze_file(&rich_idl(), &front::Options::default());
    assert!(!out.has_errors(), "{:?}", out.diagnostics);
    let inner = DynamicServant::new(&out.model, "Bridge::Rich", |op, args| {
        let result = match (op.name.as_str(), args.as_slice()) {
            ("add", [Value::Long(a), Value::Long(b)]) => Value::Long(a + b),
            _ => Value::Long(-1),
        };
        Ok(ReplyValues {
            result,
            out: Vec::new(),
        })
    })
    .unwrap();
    RecordingServant { inner, seen }
}

const CONTEXT: &str = "<wscoor:CoordinationContext xmlns:wscoor=\"http://docs.oasis-open.org/ws-tx/wscoor/2006/06\" \
    xmlns:wsa=\"http://www.w3.org/2005/08/addressing\" s:mustUnderstand=\"1\">\
    <wscoor:Identifier>urn:uuid:bridge-tx-7</wscoor:Identifier><wscoor:Expires>30000</wscoor:Expires>\
    <wscoor:CoordinationType>http://docs.oasis-open.org/ws-tx/wsat/2006/06</wscoor:CoordinationType>\
    <wscoor:RegistrationService><wsa:Address>http://127.0.0.1:1/wsat/registration</wsa:Address>\
    <wsa:ReferenceParameters><i:tx xmlns:i=\"urn:ithaca:wsat\">signed</i:tx></wsa:ReferenceParameters>\
    </wscoor:RegistrationService></wscoor:CoordinationContext>";

#[tokio::test(flavor = "multi_thread")]
async fn a_wsat_context_reaches_the_corba_object_as_a_propagation_context() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let server = OrbServer::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    server.register("Rich", Arc::new(ithaca_rich_servant(seen.clone())));
    let addr = server.local_addr();
    let running = server.spawn();
    let target = format!("corbaloc::1.2@{addr}/Rich");
    let gw = gateway_for(&[CorbaObjectConfig::new("Rich", rich_idl(), &target)]).await;
    let body = "<b:Bridge.Rich.add><a>20</a><b>22</b></b:Bridge.Rich.add>";

    let (status, text) = soap_call_with_header(&gw, "Rich", CONTEXT, body).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("<_return>42</_return>"), "{text}");
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1, "{seen:?}");
        let p = &seen[0];
        assert_eq!(p.identifier, "urn:uuid:bridge-tx-7");
        assert_eq!(p.timeout, 30);
        assert_eq!(p.format_id, 0x4954_4841);
        assert!(
            p.context_xml
                .contains("<i:tx xmlns:i=\"urn:ithaca:wsat\">signed</i:tx>"),
            "{}",
            p.context_xml
        );
        assert!(
            p.context_xml
                .contains("http://127.0.0.1:1/wsat/registration")
        );
    }
    // Without the header, no transaction context.
    let (status, _) = soap_call(&gw, "Rich", body).await;
    assert_eq!(status, 200);
    assert_eq!(seen.lock().unwrap().len(), 1);
    // A context that cannot be read is the client's fault.
    let (status, text) = soap_call_with_header(
        &gw,
        "Rich",
        "<wscoor:CoordinationContext xmlns:wscoor=\"http://docs.oasis-open.org/ws-tx/wscoor/2006/06\"/>",
        body,
    )
    .await;
    assert_eq!(status, 500, "{text}");
    assert!(
        text.contains("Client") && text.contains("Identifier"),
        "{text}"
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_corbaname_target_is_resolved_again_when_its_object_moves() {
    use ithaca_idl::naming::{Name, NamingService, object_ior};
    // Ithaca's naming service, and the object bound in it.
    let naming_server = OrbServer::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let naming_addr = naming_server.local_addr();
    let naming = NamingService::install(&naming_server, "127.0.0.1", naming_addr.port());
    let naming_running = naming_server.spawn();

    let first = OrbServer::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    first.register("Rich", Arc::new(ithaca_rich_servant(Arc::default())));
    let first_addr = first.local_addr();
    let first_running = first.spawn();
    let name: Name = "Rich".parse().unwrap();
    let bind = |port: u16| {
        let ior = object_ior("IDL:Bridge/Rich:1.0", "127.0.0.1", port, &b"Rich"[..]).unwrap();
        let _ = naming.unbind(&name);
        naming.bind(&name, ior, false).unwrap();
    };
    bind(first_addr.port());

    let target = format!("corbaname::1.2@{naming_addr}#Rich");
    let gw = gateway_for(&[CorbaObjectConfig::new("Rich", rich_idl(), &target)]).await;
    let body = "<b:Bridge.Rich.add><a>1</a><b>2</b></b:Bridge.Rich.add>";
    let (status, text) = soap_call(&gw, "Rich", body).await;
    assert_eq!(status, 200, "{text}");

    // The object moves: a new server, rebound under the same name.
    first_running.shutdown().await;
    let second = OrbServer::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    second.register("Rich", Arc::new(ithaca_rich_servant(Arc::default())));
    let second_port = second.local_addr().port();
    let second_running = second.spawn();
    bind(second_port);
    let (status, text) = soap_call(&gw, "Rich", body).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("<_return>3</_return>"), "{text}");
    second_running.shutdown().await;
    naming_running.shutdown().await;
}

#[test]
fn bad_configurations_are_refused_at_start_up() {
    let mut config = CorbaObjectConfig::new("Rich", rich_idl(), "http://x");
    assert!(config.validate().is_err());
    config.target = "IOR:00".into();
    assert!(config.validate().is_ok());
    let error = SoapFront::routes(&[config.clone()], None)
        .unwrap_err()
        .to_string();
    assert!(error.contains("bad target reference"), "{error}");
    config.target = "corbaloc::127.0.0.1:1/Rich".into();
    config.interface = Some("Bridge::Nope".into());
    let error = SoapFront::routes(&[config.clone()], None)
        .unwrap_err()
        .to_string();
    assert!(error.contains("Bridge.Nope"), "{error}");
    config.interface = None;
    config.idl = fixtures().join("missing.idl");
    assert!(SoapFront::routes(&[config], None).is_err());
}

const ZEEP_BENCH: &str = r#"
import os, sys
import zeep
base = os.environ["ITHACA_BASE"]
client = zeep.Client(base + "/services/Bench?wsdl")
for port in ("IthacaBench.EchoPort", "IthacaBench.EchoSoap12Port"):
    echo = client.bind("IthacaBench.EchoService", port)
    got = echo.echoString(text="bench \u00e9")
    if got != "bench \u00e9":
        sys.exit(f"{port}: {got!r}")
    print(f"{port}: ok")
"#;

#[tokio::test(flavor = "multi_thread")]
async fn corpus_tier_the_shared_bench_servant_behind_the_bridge() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/bench/corba");
    if !shared.join("Bench.idl").exists() {
        println!("corpus tier skipped");
        return;
    }
    let program = build_server(
        "bench",
        &shared.join("Bench.idl"),
        "Bench.idl",
        &shared.join("server.cc"),
    );
    let (_server, port, _) = start_server(&program);
    let target = format!("corbaloc::1.2@127.0.0.1:{port}/Echo");
    let gw = gateway_for(&[CorbaObjectConfig::new(
        "Bench",
        shared.join("Bench.idl"),
        &target,
    )])
    .await;
    let stdout = run_python(ZEEP_BENCH, &format!("http://{}", gw.addr())).await;
    assert!(stdout.contains("IthacaBench.EchoPort: ok"), "{stdout}");
    assert!(
        stdout.contains("IthacaBench.EchoSoap12Port: ok"),
        "{stdout}"
    );
}
