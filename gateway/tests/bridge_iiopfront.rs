//! The IIOP front (issue 7 item 4): SOAP services published as CORBA
//! objects on the gateway's IIOP listener, called by omniORB C++ clients
//! built with omniidl from the IDL that `ithaca wsdl2idl` prints.
//!
//! - the EchoService hosted by `ithaca serve` itself (in-process calls),
//!   reached by IOR and corbaloc as `ithaca serve` prints them, listed by
//!   `GET /bridge/objects`;
//! - a node `soap` server (remote, over HTTP);
//! - a rich contract (structs, repeated and optional elements, an enum,
//!   an `xs:byte`, a declared fault) served by a dynamic SOAP service:
//!   values round-trip, the fault comes back as the IDL user exception,
//!   a value out of range for `xs:byte` as BAD_PARAM, an unreachable
//!   backend as TRANSIENT within a second;
//! - a contract with an `xs:choice` type (an IDL union), a choice inside
//!   a sequence (a union member) and attributes (struct members), served
//!   by a dynamic SOAP service: the service sees what the omniORB client
//!   sent, and the client reads back what the service answered;
//! - an object bound in a naming service and resolved by an omniORB
//!   client with `corbaname:`.
//!
//! The corpus tier (the gSOAP echo server of `../shared/bench/echo/gsoap`)
//! runs when `../shared` (beside the checkout) is present and prints
//! `corpus tier skipped`
//! otherwise.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ithaca_gateway::Router;
use ithaca_gateway::bridge::iiopfront::IiopFront;
use ithaca_gateway::config::{BridgeConfig, IiopListenerConfig, SoapObjectConfig};
use ithaca_gateway::soap::{Contract, DynamicError, DynamicRequest, SoapService};
use ithaca_wsdl::value::{Field, Simple, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

mod support;

const BIN: &str = env!("CARGO_BIN_EXE_ithaca");
const HINT: &str = "omniORB is needed: run scripts/install-test-deps.sh (Debian: omniorb omniidl libomniorb4-dev pkg-config g++)";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bridge/iiopfront")
}

fn echo_wsdl() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../services/wsdl/echo.wsdl")
}

fn run(command: &mut Command, what: &str) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e}; {HINT}"));
    assert!(
        output.status.success(),
        "{what} failed: {}{}; {HINT}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Builds one omniORB client: `ithaca wsdl2idl WSDL -o NAME.idl`, omniidl
/// -bcxx, g++ with `PROGRAM.cc`; returns the program's path.
fn build_client(wsdl: &Path, name: &str, program: &str) -> PathBuf {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("iiopfront-{program}"));
    std::fs::create_dir_all(&out).unwrap();
    let idl = out.join(format!("{name}.idl"));
    run(
        Command::new(BIN)
            .arg("wsdl2idl")
            .arg(wsdl)
            .arg("-o")
            .arg(&idl),
        "ithaca wsdl2idl",
    );
    std::fs::copy(
        fixtures().join(format!("{program}.cc")),
        out.join(format!("{program}.cc")),
    )
    .unwrap();
    run(
        Command::new("omniidl")
            .arg("-bcxx")
            .arg(format!("{name}.idl"))
            .current_dir(&out),
        "omniidl",
    );
    let flags = Command::new("pkg-config")
        .args(["--cflags", "--libs", "omniORB4"])
        .output()
        .unwrap_or_else(|e| panic!("pkg-config: {e}; {HINT}"));
    let flags = String::from_utf8(flags.stdout).unwrap();
    run(
        Command::new("g++")
            .args([
                "-O1",
                "-o",
                program,
                &format!("{program}.cc"),
                &format!("{name}SK.cc"),
            ])
            .args(flags.split_whitespace())
            .current_dir(&out),
        "g++",
    );
    out.join(program)
}

fn echo_client() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| build_client(&echo_wsdl(), "echo", "echo_client"))
        .clone()
}

fn orders_client() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| build_client(&fixtures().join("orders.wsdl"), "orders", "orders_client"))
        .clone()
}

fn shipping_client() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            build_client(
                &fixtures().join("shipping.wsdl"),
                "shipping",
                "shipping_client",
            )
        })
        .clone()
}

/// Runs a client off the async runtime; returns its stdout and how long it
/// took.
async fn client(program: PathBuf, args: Vec<String>) -> (String, Duration) {
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let output = Command::new(&program)
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (
            format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
            started.elapsed(),
        )
    })
    .await
    .unwrap()
}

fn object(name: &str, wsdl: &Path, url: &str) -> SoapObjectConfig {
    SoapObjectConfig {
        name: name.into(),
        wsdl: Some(wsdl.to_path_buf()),
        url: Some(url.into()),
        ..SoapObjectConfig::default()
    }
}

fn bridge(objects: Vec<SoapObjectConfig>) -> BridgeConfig {
    BridgeConfig {
        iiop: IiopListenerConfig {
            listen: Some("127.0.0.1:0".parse().unwrap()),
            call_timeout_ms: 3_000,
            ..IiopListenerConfig::default()
        },
        soap: objects,
        ..BridgeConfig::default()
    }
}

fn ior_of<'a>(front: &'a IiopFront, name: &str) -> &'a str {
    &front.objects().iter().find(|o| o.name == name).unwrap().ior
}

#[tokio::test(flavor = "multi_thread")]
async fn omniorb_calls_the_hosted_echo_service_through_ithaca_serve() {
    let program = echo_client();
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("ithaca.toml");
    std::fs::write(
        &config,
        r#"
[membership]
enabled = false

[bridge.iiop]
listen = "127.0.0.1:0"

[[bridge.soap]]
name = "Echo"
service = "EchoService"
"#,
    )
    .unwrap();
    let mut child = tokio::process::Command::new(BIN)
        .arg("--config")
        .arg(&config)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data.path().join("data"))
        .env("ITHACA_LOG__FILTER", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut server, mut corbaloc, mut ior) = (None, None, None);
    let read = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(url) = line.strip_prefix("listening: server http://") {
                server = Some(url.trim().parse::<SocketAddr>().unwrap());
            }
            if let Some(rest) = line.strip_prefix("  corba:   Echo ") {
                let (interface, url) = rest.split_once(' ').unwrap();
                assert_eq!(interface, "IDL:ithaca_bench_echo/EchoPortType:1.0");
                corbaloc = Some(url.trim().to_owned());
            }
            if let Some(rest) = line.strip_prefix("  ior:     Echo ") {
                ior = Some(rest.trim().to_owned());
            }
            if line.starts_with("stop with") {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .expect("ithaca serve did not start");
    let (server, corbaloc, ior) = (server.unwrap(), corbaloc.unwrap(), ior.unwrap());
    assert!(
        corbaloc.starts_with("corbaloc:iiop:1.2@127.0.0.1:"),
        "{corbaloc}"
    );
    assert!(corbaloc.ends_with("/Echo"), "{corbaloc}");
    assert!(ior.starts_with("IOR:"), "{ior}");

    let (out, _) = client(program.clone(), vec![ior.clone(), "hello bridge".into()]).await;
    assert!(out.contains("result=hello bridge"), "{out}");
    // A corbaloc URL reaches the object (omniORB's _narrow calls _is_a
    // through it) but carries no code set component, and omniORB sends no
    // wstring without one (INV_OBJREF, OMG minor 1): wstring interfaces,
    // the WSDL2C default, are called through the IOR or a naming service.
    let (out, _) = client(program.clone(), vec![corbaloc.clone(), "hello".into()]).await;
    assert!(out.contains("system=INV_OBJREF minor=0x4f4d0001"), "{out}");

    // The admin listing (loopback needs no token).
    let mut stream = tokio::net::TcpStream::connect(server).await.unwrap();
    stream
        .write_all(b"GET /bridge/objects HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).await.unwrap();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let body = text.split_once("\r\n\r\n").unwrap().1;
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    let first = &json[0];
    assert_eq!(first["name"], "Echo");
    assert_eq!(first["interface"], "IDL:ithaca_bench_echo/EchoPortType:1.0");
    assert_eq!(first["ior"], ior.as_str());
    assert_eq!(first["corbaloc"], corbaloc.as_str());
    assert_eq!(first["backend"], "hosted /services/EchoService");
    child.kill().await.unwrap();
}

/// The rich contract's service: checks what it received and answers a
/// receipt, or the declared fault for a negative order id.
fn orders_service() -> Router {
    let contract = Contract::from_bytes(
        "orders.wsdl",
        std::fs::read(fixtures().join("orders.wsdl")).unwrap(),
    )
    .unwrap();
    SoapService::builder(contract)
        .base_path("/orders")
        .dynamic_operation("placeOrder", |request: DynamicRequest| async move {
            let order = request
                .value()
                .field("order")
                .cloned()
                .unwrap_or(Value::Nil);
            let id = order.field("id").and_then(Value::as_i64).unwrap_or(0);
            if id < 0 {
                return Err(DynamicError::declared(
                    "OrderRejected",
                    "negative order id",
                    Value::complex([
                        Field::unqualified("reason", Value::string("negative order id")),
                        Field::unqualified("code", Value::int(id)),
                    ]),
                ));
            }
            let complex = order.as_complex().unwrap();
            let lines: Vec<&Value> = complex.fields_named("line").collect();
            let tags: Vec<&str> = lines[0]
                .as_complex()
                .unwrap()
                .fields_named("tag")
                .filter_map(Value::as_str)
                .collect();
            let note = order.field("note").and_then(Value::as_str);
            let level = request.value().field("level").and_then(Value::as_i64);
            if tags != ["red", "big"] || note != Some("rush") || level != Some(5) {
                return Err(DynamicError::Soap(ithaca_gateway::soap::SoapError::sender(
                    format!("unexpected order: tags {tags:?}, note {note:?}, level {level:?}"),
                )));
            }
            let items: i64 = lines
                .iter()
                .filter_map(|l| l.field("quantity").and_then(Value::as_i64))
                .sum();
            let mut receipt = vec![
                Field::unqualified("orderId", Value::int(id)),
                Field::unqualified("items", Value::int(items)),
                Field::unqualified(
                    "priority",
                    order.field("priority").cloned().unwrap_or(Value::Nil),
                ),
            ];
            for line in &lines {
                receipt.push(Field::unqualified(
                    "skus",
                    line.field("sku").cloned().unwrap_or(Value::Nil),
                ));
            }
            Ok(Value::complex([
                Field::unqualified("receipt", Value::complex(receipt)),
                Field::unqualified("accepted", Value::boolean(true)),
            ]))
        })
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rich_contract_round_trips_through_omniorb() {
    let program = orders_client();
    let service = support::TestGateway::start(orders_service(), |_| {}).await;
    let wsdl = fixtures().join("orders.wsdl");
    let url = format!("http://{}/orders", service.addr());
    // Port 1 on loopback: nothing listens, connections are refused.
    let config = bridge(vec![
        object("Orders", &wsdl, &url),
        object("Dead", &wsdl, "http://127.0.0.1:1/orders"),
    ]);
    let front = IiopFront::start(&config, &Router::new())
        .await
        .unwrap()
        .unwrap();
    let orders = ior_of(&front, "Orders").to_owned();

    let (out, _) = client(program.clone(), vec![orders.clone(), "ok".into()]).await;
    assert!(
        out.contains("orderId=42 items=5 priority=2 skus=A-1,B-2 accepted=true"),
        "{out}"
    );

    let (out, _) = client(program.clone(), vec![orders.clone(), "reject".into()]).await;
    assert!(
        out.contains("user=OrderRejected reason=negative order id code=-7"),
        "{out}"
    );

    // 300 does not fit xs:byte: BAD_PARAM, minor ITHACA_VMCID | 1.
    let (out, _) = client(program.clone(), vec![orders, "range".into()]).await;
    assert!(out.contains("system=BAD_PARAM minor=0x49540001"), "{out}");

    let dead = ior_of(&front, "Dead").to_owned();
    let (out, took) = client(program, vec![dead, "ok".into()]).await;
    assert!(out.contains("system=TRANSIENT minor=0x49540001"), "{out}");
    assert!(took < Duration::from_secs(2), "TRANSIENT took {took:?}");
    front.shutdown().await;
}

/// The text of an attribute or simple value, `none` when absent.
fn text_of(simple: Option<&Simple>) -> String {
    match simple {
        Some(Simple::Int(v)) => v.to_string(),
        Some(Simple::UInt(v)) => v.to_string(),
        Some(Simple::Boolean(b)) => b.to_string(),
        Some(Simple::String(s)) => s.clone(),
        Some(other) => format!("{other:?}"),
        None => "none".to_owned(),
    }
}

/// What the shipping service saw: the parcel's attributes and choice, the
/// payment's branch (and a voucher's attributes).
fn shipment_summary(parcel: &Value, payment: &Value) -> String {
    let attribute =
        |value: &Value, name: &str| text_of(value.as_complex().and_then(|c| c.attribute(name)));
    let route = match (parcel.field("pickup"), parcel.field("address")) {
        (Some(desk), _) => format!("pickup={}", desk.as_str().unwrap_or("?")),
        (None, Some(address)) => format!(
            "address={}",
            address.field("city").and_then(Value::as_str).unwrap_or("?")
        ),
        (None, None) => "route=none".to_owned(),
    };
    let paid = if let Some(card) = payment.field("card") {
        format!("card={}", card.as_str().unwrap_or("?"))
    } else if let Some(voucher) = payment.field("voucher") {
        format!(
            "voucher={}/{}/{}",
            voucher.field("code").and_then(Value::as_str).unwrap_or("?"),
            attribute(voucher, "amount"),
            attribute(voucher, "currency")
        )
    } else {
        format!(
            "cash={}",
            text_of(payment.field("cash").and_then(Value::as_simple))
        )
    };
    format!(
        "id={} fragile={} {route} {paid}",
        attribute(parcel, "id"),
        attribute(parcel, "fragile")
    )
}

/// A dynamic service of shipping.wsdl: answers the parcel and payment it
/// received, and a summary of what it read from them.
fn shipping_service() -> Router {
    let contract = Contract::from_bytes(
        "shipping.wsdl",
        std::fs::read(fixtures().join("shipping.wsdl")).unwrap(),
    )
    .unwrap();
    SoapService::builder(contract)
        .base_path("/shipping")
        .dynamic_operation("ship", |request: DynamicRequest| async move {
            let parcel = request
                .value()
                .field("parcel")
                .cloned()
                .unwrap_or(Value::Nil);
            let payment = request
                .value()
                .field("payment")
                .cloned()
                .unwrap_or(Value::Nil);
            let summary = shipment_summary(&parcel, &payment);
            Ok::<_, DynamicError>(Value::complex([
                Field::unqualified("parcel", parcel),
                Field::unqualified("payment", payment),
                Field::unqualified("summary", Value::string(summary)),
            ]))
        })
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn choices_and_attributes_round_trip_through_omniorb() {
    let program = shipping_client();
    let service = support::TestGateway::start(shipping_service(), |_| {}).await;
    let wsdl = fixtures().join("shipping.wsdl");
    let url = format!("http://{}/shipping", service.addr());
    let config = bridge(vec![object("Shipping", &wsdl, &url)]);
    let front = IiopFront::start(&config, &Router::new())
        .await
        .unwrap()
        .unwrap();
    let shipping = ior_of(&front, "Shipping").to_owned();

    // The choice's first branch, a required and an optional attribute set,
    // a union of a simple branch.
    let (out, _) = client(program.clone(), vec![shipping.clone(), "pickup".into()]).await;
    assert!(
        out.contains(
            "summary=id=42 fragile=true pickup=Desk 4 card=4111 weight=3 id=42 \
             fragile=true route=pickup:Desk 4 note=none payment=card:4111"
        ),
        "{out}"
    );
    // The choice's struct branch, an optional attribute left out, a long
    // long attribute, a union of a struct with attributes.
    let (out, _) = client(program, vec![shipping, "address".into()]).await;
    assert!(
        out.contains(
            "summary=id=9000000000 fragile=none address=Oslo voucher=V-9/25/EUR weight=7 \
             id=9000000000 fragile=none route=address:1 Main St,Oslo note=leave at door \
             payment=voucher:V-9,25,EUR"
        ),
        "{out}"
    );
    front.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_soap_server_is_reached_through_the_iiop_front() {
    let node_dir = ithaca_testkit::interop::node_dir().unwrap_or_else(|e| panic!("{e}"));
    let program = echo_client();
    let mut server = tokio::process::Command::new("node")
        .arg(fixtures().join("node_echo_server.js"))
        .arg(echo_wsdl())
        .env("NODE_PATH", node_dir.join("node_modules"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("node");
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let port_line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("the node server did not start")
        .unwrap()
        .unwrap();
    let port: u16 = port_line
        .trim()
        .strip_prefix("port=")
        .unwrap()
        .parse()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/services/EchoService");
    let front = IiopFront::start(
        &bridge(vec![object("NodeEcho", &echo_wsdl(), &url)]),
        &Router::new(),
    )
    .await
    .unwrap()
    .unwrap();
    let (out, _) = client(
        program,
        vec![ior_of(&front, "NodeEcho").to_owned(), "via node".into()],
    )
    .await;
    assert!(out.contains("result=via node"), "{out}");
    front.shutdown().await;
    server.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn objects_are_bound_in_a_naming_service_and_resolved_by_omniorb() {
    use ithaca_idl::naming::NamingService;
    use ithaca_idl::orb::OrbServer;

    let program = echo_client();
    let naming_server = OrbServer::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let naming_addr = naming_server.local_addr();
    let _naming = NamingService::install(&naming_server, "127.0.0.1", naming_addr.port());
    let naming_server = naming_server.spawn();

    let hosted = ithaca_gateway::soap::builtin::services().unwrap();
    let mut config = bridge(vec![SoapObjectConfig {
        name: "Echo".into(),
        service: Some("EchoService".into()),
        ..SoapObjectConfig::default()
    }]);
    config.iiop.naming = Some(format!("corbaloc:iiop:1.2@{naming_addr}/NameService"));
    let front = IiopFront::start(&config, &hosted).await.unwrap().unwrap();

    let (out, _) = client(
        program,
        vec![format!("corbaname::{naming_addr}#Echo"), "named".into()],
    )
    .await;
    assert!(out.contains("result=named"), "{out}");
    front.shutdown().await;
    naming_server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unconfigured_listener_starts_nothing() {
    let config = BridgeConfig::default();
    assert!(
        IiopFront::start(&config, &Router::new())
            .await
            .unwrap()
            .is_none()
    );
    let bad = bridge(vec![SoapObjectConfig {
        name: "Nope".into(),
        service: Some("NoSuchService".into()),
        ..SoapObjectConfig::default()
    }]);
    let error = IiopFront::start(&bad, &Router::new()).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("no hosted service \"NoSuchService\""),
        "{error}"
    );
}

/// An EchoService stand-in that answers with the WS-AT context it got:
/// `Identifier|RegistrationService address`, or `none`.
fn context_reporting_echo() -> Router {
    use ithaca_gateway::soap::{SoapError, SoapRequest};
    let contract = Contract::from_bytes(
        ithaca_services::echo::WSDL_NAME,
        ithaca_services::echo::WSDL.as_bytes(),
    )
    .unwrap();
    SoapService::builder(contract)
        .service(ithaca_services::echo::SERVICE)
        .base_path(ithaca_gateway::soap::builtin::ECHO_SERVICE_PATH)
        .operation(ithaca_services::echo::OPERATION, |request: SoapRequest| async move {
            let block = request
                .header_blocks()
                .iter()
                .find(|b| b.name.local == "CoordinationContext")
                .map(|b| String::from_utf8_lossy(request.header_block_bytes(b)).into_owned());
            let seen = match block {
                None => "none".to_owned(),
                Some(xml) => {
                    let doc = roxmltree::Document::parse(&xml)
                        .map_err(|e| SoapError::sender(e.to_string()))?;
                    let text = |local: &str| {
                        doc.descendants()
                            .find(|n| n.tag_name().name() == local)
                            .and_then(|n| n.text())
                            .unwrap_or("")
                            .to_owned()
                    };
                    format!("{}|{}", text("Identifier"), text("Address"))
                }
            };
            Ok(format!(
                "<e:echoStringResponse xmlns:e=\"urn:ithaca:bench:echo\"><result>{seen}</result></e:echoStringResponse>"
            )
            .into_bytes())
        })
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_corba_transaction_context_reaches_the_soap_service_as_ws_at() {
    use ithaca_gateway::bridge::iiopfront::BridgedContract;
    use ithaca_gateway::bridge::soapfront::txcontext::WsatPropagation;
    use ithaca_idl::dynamic::Value as CorbaValue;
    use ithaca_idl::ior::Ior;
    use ithaca_idl::orb::{ClientConfig, Orb, ReplyBody};

    let config = bridge(vec![SoapObjectConfig {
        name: "Echo".into(),
        service: Some("EchoService".into()),
        ..SoapObjectConfig::default()
    }]);
    let front = IiopFront::start(&config, &context_reporting_echo())
        .await
        .unwrap()
        .unwrap();
    let target = Ior::from_ior_string(ior_of(&front, "Echo")).unwrap();
    let contract = BridgedContract::load(
        "echo.wsdl",
        ithaca_services::echo::WSDL.as_bytes(),
        None,
        None,
    )
    .unwrap();
    let op = contract.operations["echoString"].idl.clone();
    let orb = Orb::new(ClientConfig::default());
    let call = |contexts: Vec<ithaca_idl::giop::ServiceContext>| {
        let (orb, op, target) = (&orb, &op, &target);
        async move {
            let args = [CorbaValue::WString("x".into())];
            let (reply, _) = orb
                .invoke_with_contexts(target, "echoString", &contexts, true, |w| {
                    op.encode_request(&args, w)
                })
                .await
                .unwrap();
            let ReplyBody::Return(mut r) = reply else {
                panic!("{reply:?}")
            };
            match op.decode_reply(&mut r).unwrap().out.first() {
                Some(CorbaValue::WString(s)) => s.clone(),
                other => panic!("{other:?}"),
            }
        }
    };

    assert_eq!(call(Vec::new()).await, "none");

    // A context the SOAP front made from a WS-AT CoordinationContext: the
    // very element is forwarded (identifier and registration EPR).
    let header = r#"<wscoor:CoordinationContext xmlns:wscoor="http://docs.oasis-open.org/ws-tx/wscoor/2006/06" xmlns:wsa="http://www.w3.org/2005/08/addressing"><wscoor:Identifier>urn:uuid:0f1e2d3c</wscoor:Identifier><wscoor:Expires>30000</wscoor:Expires><wscoor:CoordinationType>http://docs.oasis-open.org/ws-tx/wsat/2006/06</wscoor:CoordinationType><wscoor:RegistrationService><wsa:Address>http://127.0.0.1:8080/wsat/registration</wsa:Address></wscoor:RegistrationService></wscoor:CoordinationContext>"#;
    let propagation = WsatPropagation::from_header(header.as_bytes(), &[]).unwrap();
    let seen = call(vec![propagation.service_context().unwrap()]).await;
    assert_eq!(
        seen,
        "urn:uuid:0f1e2d3c|http://127.0.0.1:8080/wsat/registration"
    );

    // A context from another OTS (no Ithaca data): its otid names the
    // transaction; there is no registration service to give.
    let foreign = WsatPropagation {
        timeout: 0,
        identifier: "tx-1".into(),
        format_id: 0x1234,
        context_xml: String::new(),
    };
    let seen = call(vec![foreign.service_context().unwrap()]).await;
    assert_eq!(
        seen,
        "urn:ithaca:ots:00001234:74782d31|http://www.w3.org/2005/08/addressing/none"
    );
    front.shutdown().await;
}

/// The corpus tier: the shared benchmark's gSOAP echo server (a remote
/// SOAP service written in C++ with gSOAP), built as the shared compare
/// script builds it, behind the IIOP front.
#[tokio::test(flavor = "multi_thread")]
async fn the_gsoap_echo_server_is_reached_through_the_iiop_front() {
    let gsoap = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/bench/echo/gsoap");
    if !gsoap.join("echo.h").exists() {
        println!("corpus tier skipped");
        return;
    }
    let program = echo_client();
    let dir = tempfile::tempdir().unwrap();
    for file in ["echo.h", "server.cpp"] {
        std::fs::copy(gsoap.join(file), dir.path().join(file)).unwrap();
    }
    run(
        Command::new("soapcpp2")
            .args(["-S", "-L", "-x", "echo.h"])
            .current_dir(dir.path()),
        "soapcpp2 (Debian: gsoap libgsoap-dev)",
    );
    run(
        Command::new("g++")
            .args([
                "-O1",
                "-o",
                "gsoap-echo",
                "server.cpp",
                "soapC.cpp",
                "soapServer.cpp",
            ])
            .args(["-lgsoap++", "-lpthread"])
            .current_dir(dir.path()),
        "building the gSOAP echo server",
    );
    // A free port: bind, note it, release it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = tokio::process::Command::new(dir.path().join("gsoap-echo"))
        .arg(port.to_string())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    support::eventually("the gSOAP server listens", Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    })
    .await;
    let url = format!("http://127.0.0.1:{port}/echo");
    let front = IiopFront::start(
        &bridge(vec![object("GsoapEcho", &echo_wsdl(), &url)]),
        &Router::new(),
    )
    .await
    .unwrap()
    .unwrap();
    let (out, _) = client(
        program,
        vec![ior_of(&front, "GsoapEcho").to_owned(), "via gSOAP".into()],
    )
    .await;
    assert!(out.contains("result=via gSOAP"), "{out}");
    front.shutdown().await;
    server.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backend_that_never_answers_gives_transient_at_the_deadline() {
    let program = orders_client();
    // Accepts connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            held.push(stream);
        }
    });
    let wsdl = fixtures().join("orders.wsdl");
    let mut config = bridge(vec![object(
        "Silent",
        &wsdl,
        &format!("http://{silent_addr}/orders"),
    )]);
    config.iiop.call_timeout_ms = 500;
    let front = IiopFront::start(&config, &Router::new())
        .await
        .unwrap()
        .unwrap();
    let (out, took) = client(
        program,
        vec![ior_of(&front, "Silent").to_owned(), "ok".into()],
    )
    .await;
    // TRANSIENT, minor ITHACA_VMCID | 2 (completed: maybe).
    assert!(out.contains("system=TRANSIENT minor=0x49540002"), "{out}");
    assert!(took < Duration::from_secs(3), "TRANSIENT took {took:?}");
    front.shutdown().await;
    holder.abort();
}
