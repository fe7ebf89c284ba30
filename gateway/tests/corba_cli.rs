//! The CORBA commands of the `ithaca` binary, run as a user would:
//! `ithaca idl describe --json`, `ithaca corba call` against an Ithaca
//! servant and an omniORB C++ servant (omniORB 4.2 from
//! `scripts/install-test-deps.sh`), and `ithaca corba naming-service
//! --data-dir`, restarted after SIGTERM and after `kill -9`.

#![allow(clippy::unwrap_used)]

#[path = "../../examples/corba-echo/tests/support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, OnceLock};

use ithaca_idl::dynamic::{DynamicServant, ReplyValues, UserException, Value};
use ithaca_idl::front;
use ithaca_idl::naming::{NamingClient, NamingService, object_ior};
use ithaca_idl::orb::{ClientConfig, OrbServer, RunningOrbServer};
use serde_json::{Value as Json, json};

fn ithaca() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ithaca"))
}

fn omniorb_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/corba-echo/omniorb")
}

async fn run(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || ithaca().args(&args).output().unwrap())
        .await
        .unwrap()
}

fn stdout_json(output: &Output) -> Json {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: stdout {:?}, stderr {:?}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

#[test]
fn idl_describe_prints_what_the_file_declares_not_its_includes() {
    let dir = tempfile::tempdir().unwrap();
    let inc = dir.path().join("inc");
    std::fs::create_dir(&inc).unwrap();
    std::fs::write(
        inc.join("base.idl"),
        "module B { struct S { long x; }; interface Root { void ping(); }; };\n",
    )
    .unwrap();
    let main = dir.path().join("main.idl");
    std::fs::write(
        &main,
        "#include \"base.idl\"\n\
         module M {\n\
           exception Nope { string why; };\n\
           interface I : B::Root {\n\
             B::S get(in wstring name, out long n) raises (Nope);\n\
             readonly attribute short level;\n\
           };\n\
           typedef sequence<B::S> Ss;\n\
         };\n",
    )
    .unwrap();
    let output = ithaca()
        .args(["idl", "describe"])
        .arg(&main)
        .arg("-I")
        .arg(&inc)
        .arg("--json")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        stdout_json(&output),
        json!({
            "interfaces": [{
                "repo_id": "IDL:M/I:1.0",
                "bases": ["IDL:B/Root:1.0"],
                "operations": [{
                    "name": "get",
                    "oneway": false,
                    "params": [
                        {"name": "name", "dir": "in", "type": "wstring"},
                        {"name": "n", "dir": "out", "type": "long"},
                    ],
                    "returns": "::B::S",
                    "raises": ["IDL:M/Nope:1.0"],
                }],
                "attributes": [{"name": "level", "readonly": true, "type": "short"}],
            }],
            "types": [
                {"repo_id": "IDL:M/Nope:1.0", "kind": "exception"},
                {"repo_id": "IDL:M/Ss:1.0", "kind": "typedef"},
            ],
        })
    );

    // A broken file: diagnostics on stderr, exit 1, nothing on stdout.
    let broken = dir.path().join("broken.idl");
    std::fs::write(&broken, "module M { struct S { long x } };\n").unwrap();
    let output = ithaca()
        .args(["idl", "describe"])
        .arg(&broken)
        .arg("--json")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(output.stdout.is_empty());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("broken.idl:1:"),
        "{output:?}"
    );
}

/// A generic `IthacaBench::Echo` servant, served on 127.0.0.1.
async fn ithaca_echo() -> RunningOrbServer {
    let text = std::fs::read_to_string(omniorb_dir().join("IthacaBench.idl")).unwrap();
    let model = front::analyze_str(&text).model;
    let servant = DynamicServant::new(&model, "IthacaBench::Echo", |op, mut args| {
        let result = match (op.name.as_str(), args.as_mut_slice()) {
            ("echoString", [text]) => text.clone(),
            ("add", [Value::Long(a), Value::Long(b)]) => match a.checked_add(*b) {
                Some(sum) if sum <= 1000 => Value::Long(sum),
                _ => {
                    return Err(UserException {
                        id: "IDL:IthacaBench/Overflow:1.0".into(),
                        members: Value::Struct(vec![("limit".into(), Value::Long(1000))]),
                    });
                }
            },
            ("reverse", [Value::Sequence(items)]) => {
                items.reverse();
                Value::Sequence(std::mem::take(items))
            }
            _ => Value::Null,
        };
        Ok(ReplyValues {
            result,
            out: Vec::new(),
        })
    })
    .unwrap();
    let server = OrbServer::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    server.register(&b"Echo"[..], Arc::new(servant));
    // A naming service beside it, with the object bound as `demo/echo`.
    let addr = server.local_addr();
    let naming = NamingService::install(&server, "127.0.0.1", addr.port());
    let echo = object_ior(
        "IDL:IthacaBench/Echo:1.0",
        "127.0.0.1",
        addr.port(),
        &b"Echo"[..],
    )
    .unwrap();
    naming
        .bind(&"demo/echo".parse().unwrap(), echo, true)
        .unwrap();
    server.spawn()
}

fn call_args(reference: &str, operation: &str, idl: &str, args: &[&str]) -> Vec<String> {
    let mut all = vec![
        "corba".to_owned(),
        "call".to_owned(),
        reference.to_owned(),
        operation.to_owned(),
        "--idl".to_owned(),
        omniorb_dir().join(idl).display().to_string(),
    ];
    all.extend(args.iter().map(|a| (*a).to_owned()));
    all
}

#[tokio::test(flavor = "multi_thread")]
async fn corba_call_pokes_an_ithaca_servant() {
    let server = ithaca_echo().await;
    let addr = server.local_addr();
    let ior = object_ior(
        "IDL:IthacaBench/Echo:1.0",
        "127.0.0.1",
        addr.port(),
        &b"Echo"[..],
    )
    .unwrap()
    .to_string();
    let corbaloc = format!("corbaloc:iiop:1.2@{addr}/Echo");
    let corbaname = format!("corbaname::{addr}#demo/echo");
    for reference in [&ior, &corbaloc, &corbaname] {
        let output = run(call_args(
            reference,
            "echoString",
            "IthacaBench.idl",
            &["\"héllo\""],
        ))
        .await;
        assert!(output.status.success(), "{output:?}");
        assert_eq!(stdout_json(&output), json!({"result": "héllo", "out": {}}));
    }
    let output = run(call_args(&ior, "add", "IthacaBench.idl", &["1", "2"])).await;
    assert_eq!(stdout_json(&output), json!({"result": 3, "out": {}}));

    let output = run(call_args(&ior, "add", "IthacaBench.idl", &["999", "2"])).await;
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stdout_json(&output),
        json!({"user_exception": "IDL:IthacaBench/Overflow:1.0", "members": {"limit": 1000}})
    );

    let points = r#"[{"x": 1, "y": 2, "label": "a"}, {"x": 3, "y": 4, "label": "b"}]"#;
    let output = run(call_args(&ior, "reverse", "IthacaBench.idl", &[points])).await;
    assert_eq!(
        stdout_json(&output)["result"],
        json!([{"x": 3, "y": 4, "label": "b"}, {"x": 1, "y": 2, "label": "a"}])
    );

    // Oneway: nothing printed, exit 0.
    let output = run(call_args(&ior, "ping", "IthacaBench.idl", &[])).await;
    assert!(output.status.success(), "{output:?}");
    assert!(output.stdout.is_empty());

    // A key the server does not have: a system exception, exit 1.
    let missing = format!("corbaloc:iiop:1.2@{addr}/Nobody");
    let output = run(call_args(
        &missing,
        "echoString",
        "IthacaBench.idl",
        &["\"x\""],
    ))
    .await;
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stdout_json(&output),
        json!({
            "system_exception": "IDL:omg.org/CORBA/OBJECT_NOT_EXIST:1.0",
            "minor": 0x4F4D_0001_u32,
            "completed": "NO",
        })
    );

    // Bad usage: exit 2 with one line on stderr.
    for args in [
        call_args(&ior, "add", "IthacaBench.idl", &["1"]),
        call_args(&ior, "add", "IthacaBench.idl", &["1", "\"two\""]),
        call_args(&ior, "fly", "IthacaBench.idl", &[]),
    ] {
        let output = run(args).await;
        assert_eq!(output.status.code(), Some(2), "{output:?}");
        assert!(output.stdout.is_empty());
        assert_eq!(String::from_utf8_lossy(&output.stderr).lines().count(), 1);
    }
    server.shutdown().await;

    // Nobody listening any more: TRANSIENT, exit 1.
    let output = run(call_args(&ior, "echoString", "IthacaBench.idl", &["\"x\""])).await;
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stdout_json(&output)["system_exception"],
        "IDL:omg.org/CORBA/TRANSIENT:1.0"
    );
}

/// `ithaca corba call` with valuetypes (`Values.idl`): a value as a JSON
/// object, a null value as `null`, a value box as its boxed value, and a
/// value sent twice as `{"$ref": N}` (the N-th value of the body), both in
/// the arguments and in the reply, against an Ithaca servant that checks
/// what arrived.
#[tokio::test(flavor = "multi_thread")]
async fn corba_call_passes_valuetypes_shared_values_and_boxes() {
    let text = std::fs::read_to_string(omniorb_dir().join("Values.idl")).unwrap();
    let model = front::analyze_str(&text).model;
    let servant = DynamicServant::new(&model, "Vals::Keeper", |op, args| {
        let result = match (op.name.as_str(), args.as_slice()) {
            ("echoNode" | "echoLabel", [value]) => value.clone(),
            // The same value twice: the second is a reference to the first.
            ("same", [Value::Valuetype(Some(_)), b]) => Value::Boolean(*b == Value::ValueRef(0)),
            ("share", [node]) => Value::Struct(vec![
                ("a".into(), node.clone()),
                ("b".into(), Value::ValueRef(0)),
            ]),
            _ => Value::Null,
        };
        Ok(ReplyValues {
            result,
            out: Vec::new(),
        })
    })
    .unwrap();
    let server = OrbServer::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    server.register(&b"Keeper"[..], Arc::new(servant));
    let server = server.spawn();
    let keeper = format!("corbaloc:iiop:1.2@{}/Keeper", server.local_addr());
    let call =
        |operation: &str, args: &[&str]| run(call_args(&keeper, operation, "Values.idl", args));

    let chain = r#"{"n": 1, "next": {"n": 2, "next": null, "name": null}, "name": "first"}"#;
    let output = call("echoNode", &[chain]).await;
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        stdout_json(&output),
        json!({"result": {"n": 1, "next": {"n": 2, "next": null, "name": null}, "name": "first"}, "out": {}})
    );
    let output = call("echoLabel", &["\"a box\""]).await;
    assert_eq!(stdout_json(&output)["result"], "a box");
    let output = call("echoLabel", &["null"]).await;
    assert_eq!(stdout_json(&output)["result"], Json::Null);

    // One value passed as both arguments, then two equal ones.
    let node = r#"{"n": 7, "next": null, "name": null}"#;
    let output = call("same", &[node, r#"{"$ref": 0}"#]).await;
    assert_eq!(stdout_json(&output)["result"], true, "{output:?}");
    let output = call("same", &[node, node]).await;
    assert_eq!(stdout_json(&output)["result"], false, "{output:?}");
    // A reply sharing one value between two fields.
    let output = call("share", &[node]).await;
    assert_eq!(
        stdout_json(&output)["result"],
        json!({"a": {"n": 7, "next": null, "name": null}, "b": {"$ref": 0}})
    );

    // A member missing or unknown: exit 2, one line naming it.
    for (bad, says) in [
        (r#"{"n": 1, "next": null}"#, "member name is missing"),
        (
            r#"{"n": 1, "next": null, "name": null, "x": 0}"#,
            "has no member x",
        ),
    ] {
        let output = call("echoNode", &[bad]).await;
        assert_eq!(output.status.code(), Some(2), "{output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(says), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
    server.shutdown().await;
}

/// Builds omniORB's `dyn_server` once; returns its directory.
fn omniorb_programs() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        support::build(&support::Peers {
            dir: "omniorb-cli",
            files: &["Dyn.idl", "dyn_values.hh"],
            idl: &["Dyn.idl"],
            omniidl_args: &["-Wba"],
            package: "omniDynamic4",
            programs: &[("dyn_server", &["DynSK.cc", "DynDynSK.cc"])],
        })
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn corba_call_pokes_an_omniorb_servant() {
    let port = ithaca_testkit::free_port().unwrap();
    let mut child = Command::new(omniorb_programs().join("dyn_server"))
        .args(["-ORBendPoint", &format!("giop:tcp:127.0.0.1:{port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("dyn_server: {e}; {}", support::HINT));
    let ior = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .next()
        .unwrap()
        .unwrap();
    let _server = support::Process(child);

    let tagged = r#"{"discriminator": 2, "text": "two"}"#;
    let output = run(call_args(&ior, "echoTagged", "Dyn.idl", &[tagged])).await;
    assert!(output.status.success(), "{output:?}");
    let expected: Json = serde_json::from_str(tagged).unwrap();
    assert_eq!(
        stdout_json(&output),
        json!({"result": expected, "out": {"copy": expected}})
    );

    let tree = r#"{"label": "root", "kids": [{"label": "a", "kids": []}]}"#;
    let output = run(call_args(&ior, "grow", "Dyn.idl", &[tree])).await;
    assert_eq!(
        stdout_json(&output),
        json!({
            "result": {"label": "root", "kids": [{"label": "a", "kids": []}]},
            "out": {"n": {"label": "root", "kids": [
                {"label": "a", "kids": []},
                {"label": "new", "kids": []},
            ]}},
        })
    );

    let output = run(call_args(&ior, "echoAny", "Dyn.idl", &["\"in an any\""])).await;
    assert_eq!(
        stdout_json(&output)["result"],
        json!({"type": "string", "value": "in an any"})
    );

    let output = run(call_args(&ior, "refuse", "Dyn.idl", &["\"no\""])).await;
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stdout_json(&output),
        json!({"user_exception": "IDL:Dyn/Refused:1.0", "members": {"why": "no", "hue": "blue"}})
    );

    // omniORB's own answer to an operation its servant lacks.
    let output = run(call_args(&ior, "echoString", "IthacaBench.idl", &["\"x\""])).await;
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stdout_json(&output)["system_exception"],
        "IDL:omg.org/CORBA/BAD_OPERATION:1.0"
    );
}

/// `ithaca corba naming-service` on `port` with `data`; returns the
/// process once it has printed its reference.
fn naming_service(port: u16, data: &Path) -> support::Process {
    let mut child = ithaca()
        .args(["corba", "naming-service", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert_eq!(
        first,
        format!("naming service: corbaloc::127.0.0.1:{port}/NameService")
    );
    assert!(lines.next().unwrap().unwrap().starts_with("IOR:"));
    support::Process(child)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_naming_service_keeps_its_bindings_across_restarts_and_kill_9() {
    let data = tempfile::tempdir().unwrap();
    let port = ithaca_testkit::free_port().unwrap();
    let url = format!("corbaloc::127.0.0.1:{port}/NameService");
    let object = |n: u16| object_ior("IDL:Demo/Echo:1.0", "10.0.0.1", n, &b"Echo"[..]).unwrap();
    let connect = || async {
        NamingClient::connect_reference(&url, ClientConfig::default())
            .await
            .unwrap()
    };

    let service = naming_service(port, data.path());
    let mut client = connect().await;
    let context = client
        .bind_new_context(&"apps.dir".parse().unwrap())
        .await
        .unwrap();
    client
        .bind(&"apps.dir/echo".parse().unwrap(), &object(1))
        .await
        .unwrap();
    client
        .bind(&"top".parse().unwrap(), &object(2))
        .await
        .unwrap();
    drop(client);

    // SIGTERM: an orderly stop, then a restart on the same port.
    let pid = service.0.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let mut service = service;
    let status = service.0.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let service = naming_service(port, data.path());
    let mut client = connect().await;
    assert_eq!(
        client
            .resolve(&"apps.dir/echo".parse().unwrap())
            .await
            .unwrap(),
        object(1)
    );
    // The change just made is durable before it is answered: kill -9
    // right after it.
    client
        .rebind(&"top".parse().unwrap(), &object(3))
        .await
        .unwrap();
    client
        .unbind(&"apps.dir/echo".parse().unwrap())
        .await
        .unwrap();
    drop(client);
    drop(service); // SIGKILL, then wait

    let _service = naming_service(port, data.path());
    let mut client = connect().await;
    assert_eq!(
        client.resolve(&"top".parse().unwrap()).await.unwrap(),
        object(3)
    );
    assert!(
        client
            .resolve(&"apps.dir/echo".parse().unwrap())
            .await
            .is_err()
    );
    // A context reference handed out before both restarts still works.
    let mut apps = NamingClient::connect_ior(&context, ClientConfig::default())
        .await
        .unwrap();
    apps.bind(&"again".parse().unwrap(), &object(4))
        .await
        .unwrap();
    assert_eq!(
        client
            .resolve(&"apps.dir/again".parse().unwrap())
            .await
            .unwrap(),
        object(4)
    );
}
