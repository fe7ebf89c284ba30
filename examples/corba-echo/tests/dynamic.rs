//! The dynamic, TypeCode-driven codec against real marshalling: a generic
//! [`DynamicServant`] built from IDL alone answers the hand-written
//! `EchoClient` and omniORB C++ clients, and the generic DII-style
//! [`dynamic::invoke`] calls the hand-written `EchoServant` and an omniORB
//! C++ server.
//!
//! The omniORB tests need omniORB 4.2 (Debian's omniorb, omniidl,
//! libomniorb4-dev); they build `omniorb/check_client.cc` and
//! `omniorb/dyn_client.cc` and `omniorb/dyn_server.cc` once per test run.

#![allow(clippy::unwrap_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use ithaca_corba_echo::{ADD_LIMIT, AddResult, ECHO_KEY, EchoClient, Point};
use ithaca_idl::GiopVersion;
use ithaca_idl::cdr::CharCodeSet;
use ithaca_idl::cdr::{ByteOrder, LongDouble};
use ithaca_idl::dynamic::{
    self, DynamicReply, DynamicServant, Fixed, Operation, ReplyValues, TypeCode, UserException,
    Value,
};
use ithaca_idl::front::{self, model::Model};
use ithaca_idl::ior::{IiopProfile, Ior};
use ithaca_idl::naming::object_ior;
use ithaca_idl::orb::{ClientConfig, OrbClient, OrbError, OrbServer, RunningOrbServer};

fn omniorb_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("omniorb")
}

fn model_of(file: &str) -> Model {
    let text = std::fs::read_to_string(omniorb_dir().join(file)).unwrap();
    let out = front::analyze_str(&text);
    assert!(!out.has_errors(), "{:?}", out.diagnostics);
    out.model
}

fn s(text: &str) -> Value {
    Value::String(text.to_owned())
}

fn field(name: &str, v: Value) -> (String, Value) {
    (name.to_owned(), v)
}

fn point(x: i32, y: i32, label: &str) -> Value {
    Value::Struct(vec![
        field("x", Value::Long(x)),
        field("y", Value::Long(y)),
        field("label", s(label)),
    ])
}

// ---- IthacaBench::Echo, generically ------------------------------------------

fn generic_echo() -> DynamicServant {
    let model = model_of("IthacaBench.idl");
    DynamicServant::new(&model, "IthacaBench::Echo", |op, mut args| {
        let result = match (op.name.as_str(), args.as_mut_slice()) {
            ("echoString", [text]) => text.clone(),
            ("add", [Value::Long(a), Value::Long(b)]) => {
                match a.checked_add(*b).filter(|sum| *sum <= ADD_LIMIT) {
                    Some(sum) => Value::Long(sum),
                    None => {
                        return Err(UserException {
                            id: "IDL:IthacaBench/Overflow:1.0".into(),
                            members: Value::Struct(vec![field("limit", Value::Long(ADD_LIMIT))]),
                        });
                    }
                }
            }
            ("reverse", [Value::Sequence(items)]) => {
                items.reverse();
                Value::Sequence(std::mem::take(items))
            }
            ("ping", []) => Value::Null,
            // Signatures are checked before the handler runs.
            _ => unreachable!("{}", op.name),
        };
        Ok(ReplyValues {
            result,
            out: Vec::new(),
        })
    })
    .unwrap()
}

async fn serve(servant: DynamicServant) -> RunningOrbServer {
    let server = OrbServer::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    server.register(Bytes::from_static(ECHO_KEY), Arc::new(servant));
    server.spawn()
}

fn configs() -> Vec<ClientConfig> {
    let mut out = Vec::new();
    for version in [GiopVersion::V1_0, GiopVersion::V1_1, GiopVersion::V1_2] {
        for byte_order in [ByteOrder::BigEndian, ByteOrder::LittleEndian] {
            out.push(ClientConfig {
                version,
                byte_order,
                max_fragment_size: None,
                ..ClientConfig::default()
            });
        }
    }
    out
}

#[tokio::test]
async fn a_generic_servant_answers_the_hand_written_client() {
    let server = serve(generic_echo()).await;
    let url = format!("corbaloc:iiop:{}/Echo", server.local_addr());
    for config in configs() {
        let what = format!("{:?} {:?}", config.version, config.byte_order);
        let mut client = EchoClient::connect(&url, config).await.unwrap();
        assert_eq!(
            client.echo_string("grüße").await.unwrap(),
            "grüße",
            "{what}"
        );
        assert_eq!(
            client.add(40, 2).await.unwrap(),
            AddResult::Sum(42),
            "{what}"
        );
        assert_eq!(
            client.add(ADD_LIMIT, 1).await.unwrap(),
            AddResult::Overflow(ADD_LIMIT),
            "{what}"
        );
        let items: Vec<Point> = (0..4)
            .map(|i| Point {
                x: i,
                y: -i,
                label: format!("p{i}"),
            })
            .collect();
        let mut reversed = items.clone();
        reversed.reverse();
        assert_eq!(client.reverse(&items).await.unwrap(), reversed, "{what}");
        client.ping().await.unwrap();
        // An unknown operation is BAD_OPERATION, garbage arguments MARSHAL.
        let key = client.key().clone();
        let reply = client
            .orb()
            .invoke(&key, "frobnicate", |_| Ok(()))
            .await
            .unwrap();
        assert!(
            matches!(&reply, ithaca_idl::orb::ReplyBody::System(e) if e.exception_id.contains("BAD_OPERATION")),
            "{what}: {reply:?}"
        );
        let reply = client
            .orb()
            .invoke(&key, "reverse", |w| {
                w.write_ulong(1_000_000);
                Ok(())
            })
            .await
            .unwrap();
        assert!(
            matches!(&reply, ithaca_idl::orb::ReplyBody::System(e) if e.exception_id.contains("MARSHAL")),
            "{what}: {reply:?}"
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn the_dynamic_client_calls_the_hand_written_servant() {
    let (server, _servant) = ithaca_corba_echo::echo_server("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let model = model_of("IthacaBench.idl");
    let op = |name| Operation::from_model(&model, "IthacaBench::Echo", name).unwrap();
    for config in configs() {
        let what = format!("{:?} {:?}", config.version, config.byte_order);
        let mut orb = OrbClient::connect(server.local_addr(), config)
            .await
            .unwrap();
        let reply = dynamic::invoke(&mut orb, ECHO_KEY, &op("echoString"), &[s("hé")])
            .await
            .unwrap();
        assert_eq!(
            reply,
            DynamicReply::Return(ReplyValues {
                result: s("hé"),
                out: Vec::new()
            }),
            "{what}"
        );
        let reply = dynamic::invoke(
            &mut orb,
            ECHO_KEY,
            &op("add"),
            &[Value::Long(ADD_LIMIT), Value::Long(1)],
        )
        .await
        .unwrap();
        assert_eq!(
            reply,
            DynamicReply::UserException(UserException {
                id: "IDL:IthacaBench/Overflow:1.0".into(),
                members: Value::Struct(vec![field("limit", Value::Long(ADD_LIMIT))]),
            }),
            "{what}"
        );
        let points = Value::Sequence(vec![point(1, 2, "a"), point(3, 4, "b")]);
        let reply = dynamic::invoke(&mut orb, ECHO_KEY, &op("reverse"), &[points])
            .await
            .unwrap();
        assert_eq!(
            reply,
            DynamicReply::Return(ReplyValues {
                result: Value::Sequence(vec![point(3, 4, "b"), point(1, 2, "a")]),
                out: Vec::new()
            }),
            "{what}"
        );
        let reply = dynamic::invoke(&mut orb, ECHO_KEY, &op("ping"), &[])
            .await
            .unwrap();
        assert_eq!(reply, DynamicReply::None, "{what}");
    }
    server.shutdown().await;
}

// ---- omniORB ---------------------------------------------------------------------

/// Builds the C++ clients once; returns their directory.
fn programs() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        support::build(&support::Peers {
            dir: "omniorb-dynamic",
            files: &["IthacaBench.idl", "Dyn.idl", "dyn_values.hh"],
            idl: &["IthacaBench.idl", "Dyn.idl"],
            omniidl_args: &["-Wba"],
            package: "omniDynamic4",
            programs: &[
                ("check_client", &["IthacaBenchSK.cc", "IthacaBenchDynSK.cc"]),
                ("dyn_client", &["DynSK.cc", "DynDynSK.cc"]),
                ("dyn_server", &["DynSK.cc", "DynDynSK.cc"]),
            ],
        })
    })
}

async fn run_client(program: &str, reference: String) -> (bool, String) {
    let path = programs().join(program);
    let output = tokio::task::spawn_blocking(move || {
        Command::new(path)
            .args([&reference, "-ORBgiopMaxMsgSize", "67108864"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn an_omniorb_client_calls_a_generic_echo_servant() {
    let server = serve(generic_echo()).await;
    let addr = server.local_addr();
    for version in ["1.0", "1.1", "1.2"] {
        let (ok, output) = run_client(
            "check_client",
            format!("corbaloc:iiop:{version}@{addr}/Echo"),
        )
        .await;
        assert!(ok, "GIOP {version}:\n{output}");
        for check in [
            "ok echoString",
            "ok add",
            "ok add raises Overflow",
            "ok reverse",
            "ok ping",
        ] {
            assert!(
                output.lines().any(|l| l == check),
                "GIOP {version}: {check:?} missing:\n{output}"
            );
        }
    }
    server.shutdown().await;
}

/// The `Dyn::Bag` that `dyn_client.cc` sends.
fn expected_bag(model: &Model) -> Value {
    let point_tc = TypeCode::from_model(model, "Dyn::Point").unwrap();
    let row = |a, b, c| Value::Array(vec![Value::Short(a), Value::Short(b), Value::Short(c)]);
    Value::Struct(vec![
        field("s", Value::Short(-3)),
        field("us", Value::UShort(65535)),
        field("l", Value::Long(-70_000)),
        field("ul", Value::ULong(4_000_000_000)),
        field("ll", Value::LongLong(-(1 << 40))),
        field("ull", Value::ULongLong(1 << 63)),
        field("f", Value::Float(1.25)),
        field("d", Value::Double(-2.5e100)),
        field("b", Value::Boolean(true)),
        field("c", Value::Char('Z')),
        field("wc", Value::WChar('€')),
        field("o", Value::Octet(0xfe)),
        field("str", s("héllo")),
        field("wstr", Value::WString("日本語 w".into())),
        field(
            "cash",
            Value::Fixed(Fixed::parse("-12345678.0125").unwrap()),
        ),
        field("hue", Value::Enum(2)),
        field(
            "pts",
            Value::Sequence(vec![point(1, 2, "a"), point(3, 4, "")]),
        ),
        field(
            "lists",
            Value::Sequence(vec![
                Value::Sequence(vec![point(5, 6, "deep")]),
                Value::Sequence(Vec::new()),
            ]),
        ),
        field("grd", Value::Array(vec![row(1, 2, 3), row(4, 5, 6)])),
        field(
            "shp",
            Value::Union {
                discriminator: Box::new(Value::Enum(1)),
                member: Some(Box::new(point(7, 8, "corner"))),
            },
        ),
        field(
            "tag",
            Value::Union {
                discriminator: Box::new(Value::Long(3)),
                member: Some(Box::new(Value::Any(
                    Box::new(point_tc),
                    Box::new(point(9, 10, "in any")),
                ))),
            },
        ),
        field(
            "a",
            Value::Any(Box::new(TypeCode::Double), Box::new(Value::Double(0.5))),
        ),
        field("blob", Value::Octets(Bytes::from_static(&[0, 1, 2]))),
        field("few", Value::Sequence(vec![Value::Long(1), Value::Long(2)])),
    ])
}

fn mirror(model: &Model, problems: Arc<Mutex<Vec<String>>>) -> DynamicServant {
    let bag = expected_bag(model);
    DynamicServant::new(model, "Dyn::Mirror", move |op, args| {
        let reply = |result, out| Ok(ReplyValues { result, out });
        match (op.name.as_str(), args.as_slice()) {
            ("echoBag", [b]) => {
                if *b != bag {
                    problems
                        .lock()
                        .unwrap()
                        .push(format!("echoBag got {b:#?}\nexpected {bag:#?}"));
                }
                reply(b.clone(), Vec::new())
            }
            ("echoTagged", [t]) => reply(t.clone(), vec![t.clone()]),
            ("grow", [Value::Struct(fields)]) => {
                let mut grown = fields.clone();
                if let Some((_, Value::Sequence(kids))) = grown.get_mut(1) {
                    kids.push(Value::Struct(vec![
                        field("label", s("new")),
                        field("kids", Value::Sequence(Vec::new())),
                    ]));
                }
                reply(Value::Struct(fields.clone()), vec![Value::Struct(grown)])
            }
            ("echoAny", [a]) => reply(a.clone(), Vec::new()),
            ("refuse", [why]) => Err(UserException {
                id: "IDL:Dyn/Refused:1.0".into(),
                members: Value::Struct(vec![
                    field("why", why.clone()),
                    field("hue", Value::Enum(2)),
                ]),
            }),
            _ => unreachable!("{}", op.name),
        }
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_omniorb_client_exchanges_every_idl_type_with_a_generic_servant() {
    let model = model_of("Dyn.idl");
    let problems = Arc::new(Mutex::new(Vec::new()));
    let server = serve(mirror(&model, problems.clone())).await;
    let addr = server.local_addr();
    // omniORB 4.2 transmits wchar and wstring in GIOP 1.2 only, and needs
    // a reference that names the wchar code set (INV_OBJREF without one):
    // the reference our ORB publishes carries TAG_CODE_SETS.
    for version in ["1.2"] {
        let reference = object_ior("IDL:Dyn/Mirror:1.0", "127.0.0.1", addr.port(), ECHO_KEY)
            .unwrap()
            .to_string();
        let (ok, output) = run_client("dyn_client", reference).await;
        assert!(
            ok,
            "GIOP {version}:\n{output}\n{}",
            problems.lock().unwrap().join("\n")
        );
        for check in [
            "ok echoBag",
            "ok echoTagged text",
            "ok echoTagged default",
            "ok grow returns the tree",
            "ok grow adds a kid (inout)",
            "ok echoAny Points",
            "ok echoAny recursive Node",
            "ok echoAny Shape",
            "ok echoAny Color",
            "ok refuse raises Refused",
        ] {
            assert!(
                output.lines().any(|l| l == check),
                "GIOP {version}: {check:?} missing:\n{output}"
            );
        }
    }
    server.shutdown().await;
    let problems = problems.lock().unwrap();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Types omniORB's server does not know: it handles them through their
/// TypeCodes only.
const PROBE: &str = r#"
module Probe {
  enum Color { red, green, blue };
  struct Point { long x; long y; string label; };
  typedef fixed<12, 4> Money;
  union Shape switch (Color) { case red: case green: Point corner; case blue: string title; };
  union Tagged switch (long) {
    case 1: case 2: string text;
    case 3: any payload;
    default: Money amount;
  };
  struct Node; typedef sequence<Node> Nodes; struct Node { string label; Nodes kids; };
  typedef short Grid[2][3];
  struct Narrow {
    short s; unsigned short us; long l; unsigned long ul; long long ll; unsigned long long ull;
    float f; double d; boolean b; char c; octet o; string str; string<8> bstr;
    Money cash; Color hue; sequence<Point> pts; sequence<sequence<Point> > lists; Grid grd;
    Shape shp; Tagged tag; Tagged other; any a; sequence<octet> blob; sequence<long, 4> few;
    Node tree; CORBA::TypeCode tc; Object obj;
  };
};
"#;

fn probe_any() -> Value {
    let out = front::analyze_str(PROBE);
    assert!(!out.has_errors(), "{:?}", out.diagnostics);
    let tc = TypeCode::from_model(&out.model, "Probe::Narrow").unwrap();
    let node_tc = TypeCode::from_model(&out.model, "Probe::Node").unwrap();
    let row = |a, b, c| Value::Array(vec![Value::Short(a), Value::Short(b), Value::Short(c)]);
    let union = |d: Value, m: Value| Value::Union {
        discriminator: Box::new(d),
        member: Some(Box::new(m)),
    };
    let leaf = |l: &str| {
        Value::Struct(vec![
            field("label", s(l)),
            field("kids", Value::Sequence(Vec::new())),
        ])
    };
    let value = Value::Struct(vec![
        field("s", Value::Short(i16::MIN)),
        field("us", Value::UShort(7)),
        field("l", Value::Long(i32::MAX)),
        field("ul", Value::ULong(1)),
        field("ll", Value::LongLong(i64::MIN)),
        field("ull", Value::ULongLong(u64::MAX)),
        field("f", Value::Float(-0.5)),
        field("d", Value::Double(1e-300)),
        field("b", Value::Boolean(false)),
        field("c", Value::Char('ÿ')),
        field("o", Value::Octet(0)),
        field("str", s("grüße")),
        field("bstr", s("12345678")),
        field("cash", Value::Fixed(Fixed::parse("99999999.9999").unwrap())),
        field("hue", Value::Enum(0)),
        field("pts", Value::Sequence(vec![point(-1, -2, "p")])),
        field(
            "lists",
            Value::Sequence(vec![
                Value::Sequence(Vec::new()),
                Value::Sequence(vec![point(1, 1, "q"), point(2, 2, "r")]),
            ]),
        ),
        field("grd", Value::Array(vec![row(1, 2, 3), row(-4, -5, -6)])),
        field("shp", union(Value::Enum(2), s("titled"))),
        field(
            "tag",
            union(
                Value::Long(3),
                Value::Any(Box::new(node_tc.clone()), Box::new(leaf("inner"))),
            ),
        ),
        field(
            "other",
            union(
                Value::Long(-9),
                Value::Fixed(Fixed::parse("-0.0001").unwrap()),
            ),
        ),
        field(
            "a",
            Value::Any(Box::new(TypeCode::String(0)), Box::new(s("any"))),
        ),
        field("blob", Value::Octets(Bytes::from_static(b"\xff\x00"))),
        field("few", Value::Sequence(vec![Value::Long(4); 4])),
        field(
            "tree",
            Value::Struct(vec![
                field("label", s("root")),
                field("kids", Value::Sequence(vec![leaf("a"), leaf("b")])),
            ]),
        ),
        field("tc", Value::TypeCode(Box::new(node_tc))),
        field("obj", Value::ObjRef(Ior::default())),
    ]);
    Value::Any(Box::new(tc), Box::new(value))
}

/// Starts `dyn_server` with extra omniORB options; returns its process and
/// the IIOP profile of its object.
fn omniorb_dyn_server(options: &[&str]) -> (support::Process, IiopProfile) {
    use std::io::{BufRead, BufReader};
    let port = ithaca_testkit::free_port().unwrap();
    let mut child = Command::new(programs().join("dyn_server"))
        .args(["-ORBendPoint", &format!("giop:tcp:127.0.0.1:{port}")])
        .args(options)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let ior = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .next()
        .unwrap()
        .unwrap();
    let server = support::Process(child);
    let profile = Ior::from_ior_string(&ior)
        .unwrap()
        .iiop_profile()
        .unwrap()
        .unwrap();
    (server, profile)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dynamic_client_exchanges_every_idl_type_with_an_omniorb_server() {
    let model = model_of("Dyn.idl");
    let (_server, profile) = omniorb_dyn_server(&[]);
    let key = profile.object_key.clone();
    let op = |name: &str| Operation::from_model(&model, "Dyn::Mirror", name).unwrap();
    let returned = |result, out| DynamicReply::Return(ReplyValues { result, out });
    let node = |label: &str, kids: Vec<Value>| {
        Value::Struct(vec![
            field("label", s(label)),
            field("kids", Value::Sequence(kids)),
        ])
    };
    let tree = node(
        "root",
        vec![node("child", vec![node("grandchild", Vec::new())])],
    );
    let grown = node(
        "root",
        vec![
            node("child", vec![node("grandchild", Vec::new())]),
            node("new", Vec::new()),
        ],
    );
    let node_tc = TypeCode::from_model(&model, "Dyn::Node").unwrap();
    let tagged = |d: i32, member: Value| Value::Union {
        discriminator: Box::new(Value::Long(d)),
        member: Some(Box::new(member)),
    };
    let probe = probe_any();
    for config in configs() {
        let what = format!("{:?} {:?}", config.version, config.byte_order);
        // The client negotiates code sets from the IOR's TAG_CODE_SETS
        // and sends the CodeSets context on its first request, so omniORB
        // takes wchar and wstring from it (GIOP 1.1 and 1.2; 1.0 has none).
        let mut orb = OrbClient::connect_profile(&profile, config).await.unwrap();
        // Wide values go inside anys: omniORB 4.2.5's own servant code
        // asserts on the Bag's fixed member (corbaFixed.cc, pd_idl_digits).
        let shape_tc = TypeCode::from_model(&model, "Dyn::Shape").unwrap();
        let wide = [
            Value::Any(
                Box::new(TypeCode::WString(0)),
                Box::new(Value::WString("日本語 wide, 😀".into())),
            ),
            Value::Any(Box::new(TypeCode::WChar), Box::new(Value::WChar('€'))),
            Value::Any(
                Box::new(shape_tc),
                Box::new(Value::Union {
                    discriminator: Box::new(Value::Enum(2)),
                    member: Some(Box::new(Value::WString("ünïcödé".into()))),
                }),
            ),
        ];
        for any in wide {
            let echoed =
                dynamic::invoke(&mut orb, &key, &op("echoAny"), std::slice::from_ref(&any)).await;
            match config.version {
                // GIOP 1.0 has no wide characters at all (MARSHAL, refused
                // before anything is sent).
                GiopVersion::V1_0 => {
                    assert!(
                        matches!(echoed, Err(OrbError::Giop(_))),
                        "{what}: {echoed:?}"
                    );
                }
                // omniORB 4.2 transmits wide characters in GIOP 1.2 only
                // ("Transmission wide char code sets: UTF-16(1.2)"): in 1.1
                // it answers BAD_PARAM, minor 23 (no wchar code set).
                GiopVersion::V1_1 => match echoed.unwrap() {
                    DynamicReply::System(e) => {
                        assert_eq!(e.exception_id, "IDL:omg.org/CORBA/BAD_PARAM:1.0", "{what}");
                        assert_eq!(e.minor, 0x4F4D_0017, "{what}");
                    }
                    other => panic!("{what}: {other:?}"),
                },
                GiopVersion::V1_2 => {
                    assert_eq!(echoed.unwrap(), returned(any.clone(), Vec::new()), "{what}");
                }
            }
        }
        let mut call = async |name: &str, args: &[Value]| {
            dynamic::invoke(&mut orb, &key, &op(name), args)
                .await
                .unwrap()
        };
        // An any of a type omniORB has never seen, with every other kind,
        // is parsed and sent back by omniORB's TypeCode-driven code.
        assert_eq!(
            call("echoAny", std::slice::from_ref(&probe)).await,
            returned(probe.clone(), Vec::new()),
            "{what}"
        );
        for t in [
            tagged(2, s("two")),
            tagged(77, Value::ULongLong(1 << 50)),
            tagged(
                3,
                Value::Any(Box::new(node_tc.clone()), Box::new(tree.clone())),
            ),
        ] {
            assert_eq!(
                call("echoTagged", std::slice::from_ref(&t)).await,
                returned(t.clone(), vec![t]),
                "{what}"
            );
        }
        assert_eq!(
            call("grow", std::slice::from_ref(&tree)).await,
            returned(tree.clone(), vec![grown.clone()]),
            "{what}"
        );
        let any = Value::Any(Box::new(node_tc.clone()), Box::new(grown.clone()));
        assert_eq!(
            call("echoAny", std::slice::from_ref(&any)).await,
            returned(any, Vec::new()),
            "{what}"
        );
        assert_eq!(
            call("refuse", &[s("no")]).await,
            DynamicReply::UserException(UserException {
                id: "IDL:Dyn/Refused:1.0".into(),
                members: Value::Struct(vec![field("why", s("no")), field("hue", Value::Enum(2))]),
            }),
            "{what}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn non_ascii_strings_travel_in_utf8_when_negotiated_with_omniorb() {
    let model = model_of("Dyn.idl");
    // An omniORB server whose native char code set is UTF-8: its IOR says
    // so, and our client (ISO-8859-1 native, UTF-8 conversion) picks UTF-8.
    let (_server, profile) = omniorb_dyn_server(&["-ORBnativeCharCodeSet", "UTF-8"]);
    let op = |name: &str| Operation::from_model(&model, "Dyn::Mirror", name).unwrap();
    let text = "日本語, ünïcödé ✓";
    for version in [GiopVersion::V1_1, GiopVersion::V1_2] {
        let config = ClientConfig {
            version,
            ..ClientConfig::default()
        };
        let mut orb = OrbClient::connect_profile(&profile, config).await.unwrap();
        assert_eq!(orb.code_sets().char_data, CharCodeSet::Utf8);
        let tagged = Value::Union {
            discriminator: Box::new(Value::Long(1)),
            member: Some(Box::new(s(text))),
        };
        assert_eq!(
            dynamic::invoke(
                &mut orb,
                &profile.object_key,
                &op("echoTagged"),
                std::slice::from_ref(&tagged)
            )
            .await
            .unwrap(),
            DynamicReply::Return(ReplyValues {
                result: tagged.clone(),
                out: vec![tagged],
            }),
            "{version:?}"
        );
    }
}

#[test]
fn long_double_is_kept_as_raw_bits() {
    // omniORB's Dyn client does not send long double (not every platform
    // has it); the codec keeps its 16 bytes as they are.
    let v = Value::LongDouble(LongDouble([1; 16]));
    let bytes =
        dynamic::encode_any_encapsulation(&TypeCode::LongDouble, &v, ByteOrder::BigEndian).unwrap();
    assert_eq!(
        dynamic::decode_any_encapsulation(&bytes).unwrap(),
        Value::Any(Box::new(TypeCode::LongDouble), Box::new(v))
    );
}
