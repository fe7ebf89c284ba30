//! Valuetypes with omniORB 4.2 (the real peer): an omniORB C++ client
//! (`omniorb/value_client.cc`, omniidl stubs, value factories registered)
//! calls a generic Ithaca servant built from `omniorb/Values.idl` alone,
//! and Ithaca's generic DII-style client calls an omniORB C++ servant
//! (`omniorb/value_server.cc`): value boxes, null values, a value shared
//! by two members and by two arguments, a cycle, a truncatable value
//! (chunked both ways), values of derived types (truncatable or not) where
//! their base is expected, and a derived value of a type the Ithaca
//! servant does not know, truncated to its base.
//!
//! Needs omniORB 4.2 with omniDynamic (Debian's omniorb, omniidl,
//! libomniorb4-dev); run `scripts/install-test-deps.sh` first.

#![allow(clippy::unwrap_used)]

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use ithaca_idl::GiopVersion;
use ithaca_idl::cdr::ByteOrder;
use ithaca_idl::dynamic::{self, DynamicReply, DynamicServant, Operation, ReplyValues, Value};
use ithaca_idl::front::{self, model::Model};
use ithaca_idl::orb::{ClientConfig, OrbClient, OrbServer};

const KEY: &[u8] = b"Values";

/// The declaration the Ithaca servant's copy of the contract leaves out.
const EXTRA: &str = "valuetype Extra : truncatable Base { public long more; };";

fn model() -> Model {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("omniorb/Values.idl");
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(EXTRA));
    model_of(&text)
}

/// The contract without `Vals::Extra`, as an older version of it.
fn servant_model() -> Model {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("omniorb/Values.idl");
    model_of(&std::fs::read_to_string(path).unwrap().replace(EXTRA, ""))
}

fn model_of(text: &str) -> Model {
    let out = front::analyze_str(text);
    assert!(!out.has_errors(), "{:?}", out.diagnostics);
    out.model
}

fn programs() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        support::build(&support::Peers {
            dir: "omniorb-values",
            files: &["Values.idl", "values_common.hh"],
            idl: &["Values.idl"],
            omniidl_args: &[],
            package: "omniDynamic4",
            programs: &[
                ("value_client", &["ValuesSK.cc"]),
                ("value_server", &["ValuesSK.cc"]),
            ],
        })
    })
}

fn field(name: &str, v: Value) -> (String, Value) {
    (name.to_owned(), v)
}

fn label(text: &str) -> Value {
    Value::ValueBox(Some(Box::new(Value::String(text.to_owned()))))
}

fn node(n: i32, next: Value, name: Value) -> Value {
    Value::Valuetype(Some(vec![
        field("n", Value::Long(n)),
        field("next", next),
        field("name", name),
    ]))
}

fn null() -> Value {
    Value::Valuetype(None)
}

/// Keeper served from the IDL alone: values are echoed as decoded, so
/// sharing and cycles go back as they came.
fn keeper() -> DynamicServant {
    DynamicServant::new(&servant_model(), "Vals::Keeper", |op, args| {
        let result = match (op.name.as_str(), args.as_slice()) {
            ("echoNode" | "echoLabel" | "echoBase" | "echoDerived", [v]) => v.clone(),
            ("share", [n]) => {
                // The first value of the reply (index 0), then a reference
                // to it; a null stays null twice.
                let again = if *n == null() {
                    null()
                } else {
                    Value::ValueRef(0)
                };
                Value::Struct(vec![field("a", n.clone()), field("b", again)])
            }
            ("same", [a, b]) => Value::Boolean(*a != null() && *b == Value::ValueRef(0)),
            ("cycle", [Value::Long(n)]) => node(*n, Value::ValueRef(0), Value::ValueBox(None)),
            _ => Value::Null,
        };
        Ok(ReplyValues {
            result,
            out: Vec::new(),
        })
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_omniorb_client_exchanges_values_with_an_ithaca_servant() {
    let dir = programs();
    let server = OrbServer::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    server.register(Bytes::from_static(KEY), Arc::new(keeper()));
    let server = server.spawn();
    let addr = server.local_addr();
    for version in ["1.0", "1.1", "1.2"] {
        let reference = format!("corbaloc:iiop:{version}@{addr}/Values");
        let output = tokio::task::spawn_blocking({
            let client = dir.join("value_client");
            move || Command::new(client).arg(&reference).output().unwrap()
        })
        .await
        .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "GIOP {version}:\n{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        for check in [
            "ok narrow",
            "ok echoNode chain",
            "ok echoNode null",
            "ok echoNode shared label",
            "ok share",
            "ok same value twice",
            "ok equal values are not the same",
            "ok echoLabel",
            "ok echoLabel null",
            "ok cycle",
            "ok echoBase",
            // Ithaca knows Derived and Plain (its value factories), reads
            // and returns them as they are...
            "echoBase Derived returned Derived",
            "ok echoBase Plain",
            // ...and truncates the Extra it does not know to a Base.
            "ok echoBase Extra",
            "echoBase Extra returned Base",
            "ok echoDerived chunked",
        ] {
            assert!(
                stdout.lines().any(|l| l == check),
                "GIOP {version}: {check:?} missing:\n{stdout}"
            );
        }
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ithaca_exchanges_values_with_an_omniorb_servant() {
    let dir = programs();
    let port = ithaca_testkit::free_port().unwrap();
    let mut child = Command::new(dir.join("value_server"))
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
    let _server = support::Process(child);
    assert!(ior.starts_with("IOR:"), "{ior}");
    let model = model();
    let op = |name: &str| Operation::from_model(&model, "Vals::Keeper", name).unwrap();
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    for byte_order in [ByteOrder::BigEndian, ByteOrder::LittleEndian] {
        let config = ClientConfig {
            version: GiopVersion::V1_2,
            byte_order,
            ..ClientConfig::default()
        };
        let mut orb = OrbClient::connect(addr, config).await.unwrap();
        let mut call = async |name: &str, args: &[Value]| -> Value {
            match dynamic::invoke(&mut orb, KEY, &op(name), args)
                .await
                .unwrap()
            {
                DynamicReply::Return(reply) => reply.result,
                other => panic!("{name} {byte_order:?}: {other:?}"),
            }
        };
        // A chain whose second node's label is shared by the first: the
        // label is value 2 (head 0, its next 1, the next's label 2).
        let chain = node(1, node(2, null(), label("shared")), Value::ValueRef(2));
        assert_eq!(call("echoNode", std::slice::from_ref(&chain)).await, chain);
        assert_eq!(call("echoNode", &[null()]).await, null());
        assert_eq!(
            call("share", &[node(7, null(), label("x"))]).await,
            Value::Struct(vec![
                field("a", node(7, null(), label("x"))),
                field("b", Value::ValueRef(0)),
            ])
        );
        let one = node(1, null(), Value::ValueBox(None));
        assert_eq!(
            call("same", &[one.clone(), Value::ValueRef(0)]).await,
            Value::Boolean(true)
        );
        assert_eq!(
            call("same", &[one.clone(), one.clone()]).await,
            Value::Boolean(false)
        );
        assert_eq!(call("echoLabel", &[label("boxed")]).await, label("boxed"));
        assert_eq!(
            call("echoLabel", &[Value::ValueBox(None)]).await,
            Value::ValueBox(None)
        );
        assert_eq!(
            call("cycle", &[Value::Long(5)]).await,
            node(5, Value::ValueRef(0), Value::ValueBox(None))
        );
        let base = Value::Valuetype(Some(vec![field("a", Value::Long(4))]));
        assert_eq!(call("echoBase", std::slice::from_ref(&base)).await, base);
        // Values of types derived from the formal one, truncatable and not.
        for derived in [
            Value::DerivedValuetype {
                id: "IDL:Vals/Derived:1.0".into(),
                members: vec![
                    field("a", Value::Long(3)),
                    field("s", Value::String("kept".into())),
                ],
            },
            Value::DerivedValuetype {
                id: "IDL:Vals/Plain:1.0".into(),
                members: vec![field("a", Value::Long(6)), field("d", Value::Double(2.5))],
            },
        ] {
            assert_eq!(
                call("echoBase", std::slice::from_ref(&derived)).await,
                derived
            );
        }
        // Truncatable: Ithaca writes it chunked with both repository ids,
        // omniORB answers chunked too.
        let derived = Value::Valuetype(Some(vec![
            field("a", Value::Long(3)),
            field("s", Value::String("kept".into())),
        ]));
        assert_eq!(
            call("echoDerived", std::slice::from_ref(&derived)).await,
            derived
        );
    }
}

/// Writes a hand-made request body.
type WriteBody = fn(&mut ithaca_idl::cdr::CdrWriter<'_>);

#[tokio::test(flavor = "multi_thread")]
async fn bad_values_are_marshal_system_exceptions() {
    // No omniORB needed: hand-written request bodies to the Ithaca servant.
    let server = OrbServer::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    server.register(Bytes::from_static(KEY), Arc::new(keeper()));
    let server = server.spawn();
    let mut orb = OrbClient::connect(server.local_addr(), ClientConfig::default())
        .await
        .unwrap();
    let cases: [(&str, WriteBody, u32); 3] = [
        // A type the contract does not name: no value factory (minor 1).
        (
            "unknown type",
            |w| {
                w.write_ulong(0x7fff_ff02);
                w.write_string("IDL:Elsewhere/Node:1.0").unwrap();
            },
            0x4f4d_0001,
        ),
        // An indirection pointing forward.
        (
            "forward indirection",
            |w| {
                w.write_ulong(0xffff_ffff);
                w.write_long(8);
            },
            0x4f4d_0000,
        ),
        // A chunk larger than the message.
        (
            "oversized chunk",
            |w| {
                w.write_ulong(0x7fff_ff08);
                w.write_ulong(0x0100_0000);
            },
            0x4f4d_0000,
        ),
    ];
    for (what, body, minor) in cases {
        let reply = orb
            .invoke(KEY, "echoNode", |w| {
                body(w);
                Ok(())
            })
            .await
            .unwrap();
        let ithaca_idl::orb::ReplyBody::System(e) = reply else {
            panic!("{what}: {reply:?}");
        };
        assert_eq!(
            (e.exception_id.as_str(), e.minor),
            ("IDL:omg.org/CORBA/MARSHAL:1.0", minor),
            "{what}"
        );
    }
    server.shutdown().await;
}
