//! Generated code against omniORB 4.2 (Debian's omniorb, omniidl,
//! libomniorb4-dev), both ways: a generated client calls omniORB C++
//! servants, and omniORB C++ clients call generated servants, for the
//! benchmark contract (with examples/corba-echo's C++ peers compiled from
//! our `idl/Bench.idl`) and for every construct of `idl/Rich.idl` (our
//! `omniorb/rich_*.cc`). Run `scripts/install-test-deps.sh` first.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use ithaca_corba_codegen::bench_idl::ithaca_bench::{EchoClient, EchoSkeleton, Point, echo};
use ithaca_corba_codegen::rich_idl::rich::{
    self, Mood, Shape, StoreClient, StoreSkeleton, Value, Wide, store,
};
use ithaca_corba_codegen::{ADD_LIMIT, BenchServant, StoreServant, sample_record};
use ithaca_idl::cdr::ByteOrder;
use ithaca_idl::codegen::runtime::Any;
use ithaca_idl::dynamic::{Fixed, TypeCode, Value as Dyn};
use ithaca_idl::ior::{IiopProfile, Ior, TaggedComponent};
use ithaca_idl::orb::{ClientConfig, OrbServer, RunningOrbServer};
use ithaca_idl::{GiopVersion, Version};

const HINT: &str = "omniORB is needed: run scripts/install-test-deps.sh (Debian: omniorb omniidl libomniorb4-dev pkg-config g++)";

/// Builds the C++ peers once: omniidl on our IDL files, g++ on the
/// programs. Returns the folder holding them.
fn programs() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let here = Path::new(env!("CARGO_MANIFEST_DIR"));
        let echo = here.join("../corba-echo/omniorb");
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("omniorb-codegen");
        std::fs::create_dir_all(&out).unwrap();
        // examples/corba-echo's peers include "IthacaBench.hh".
        let copies = [
            (here.join("idl/Bench.idl"), "IthacaBench.idl"),
            (here.join("idl/Rich.idl"), "Rich.idl"),
            (here.join("omniorb/rich_values.hh"), "rich_values.hh"),
            (here.join("omniorb/rich_server.cc"), "rich_server.cc"),
            (here.join("omniorb/rich_client.cc"), "rich_client.cc"),
            (echo.join("echo_server.cc"), "echo_server.cc"),
            (echo.join("check_client.cc"), "check_client.cc"),
        ];
        for (from, to) in copies {
            std::fs::copy(&from, out.join(to)).unwrap_or_else(|e| panic!("{from:?}: {e}"));
        }
        for idl in ["IthacaBench.idl", "Rich.idl"] {
            // -Wba: the DynSK file with the `any` operators.
            let status = Command::new("omniidl")
                .args(["-bcxx", "-Wba", idl])
                .current_dir(&out)
                .status()
                .unwrap_or_else(|e| panic!("omniidl: {e}; {HINT}"));
            assert!(status.success(), "omniidl {idl} failed; {HINT}");
        }
        let flags = Command::new("pkg-config")
            .args(["--cflags", "--libs", "omniDynamic4"])
            .output()
            .unwrap_or_else(|e| panic!("pkg-config: {e}; {HINT}"));
        assert!(
            flags.status.success(),
            "pkg-config omniDynamic4 failed; {HINT}"
        );
        let flags = String::from_utf8(flags.stdout).unwrap();
        for (program, stubs) in [
            ("echo_server", "IthacaBench"),
            ("check_client", "IthacaBench"),
            ("rich_server", "Rich"),
            ("rich_client", "Rich"),
        ] {
            let status = Command::new("g++")
                .args(["-O1", "-o", program, &format!("{program}.cc")])
                .args([format!("{stubs}SK.cc"), format!("{stubs}DynSK.cc")])
                .args(flags.split_whitespace())
                .current_dir(&out)
                .status()
                .unwrap_or_else(|e| panic!("g++: {e}; {HINT}"));
            assert!(status.success(), "building {program} failed; {HINT}");
        }
        out
    })
}

/// A child process, killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts an omniORB server program; returns it and the IOR it printed.
fn start(program: &str) -> (Process, String) {
    let port = ithaca_testkit::free_port().unwrap();
    let mut child = Command::new(programs().join(program))
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
    (Process(child), ior)
}

/// Runs an omniORB client program; returns whether it succeeded and its
/// output.
async fn run_client(program: &str, args: Vec<String>) -> (bool, String) {
    let path = programs().join(program);
    let output = tokio::task::spawn_blocking(move || Command::new(path).args(args).output())
        .await
        .unwrap()
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

fn assert_checks(output: &str, checks: &[&str]) {
    for check in checks {
        assert!(
            output.lines().any(|l| l == format!("ok {check}")),
            "{check:?} missing:\n{output}"
        );
    }
}

struct Served {
    server: RunningOrbServer,
    bench: Arc<BenchServant>,
    store: Arc<StoreServant>,
}

async fn serve() -> Served {
    let server = OrbServer::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let addr = server.local_addr();
    let bench = Arc::new(BenchServant::default());
    let store = Arc::new(StoreServant::new(
        "shop",
        reference(addr, rich::store::REPOSITORY_ID, "Store"),
    ));
    server.register("Echo", Arc::new(EchoSkeleton::from_arc(bench.clone())));
    server.register("Store", Arc::new(StoreSkeleton::from_arc(store.clone())));
    Served {
        server: server.spawn(),
        bench,
        store,
    }
}

/// An IIOP 1.2 reference to a served object that names the code sets
/// (ISO-8859-1 and UTF-16), which omniORB needs before it sends wide
/// characters.
fn reference(addr: std::net::SocketAddr, type_id: &str, key: &'static str) -> Ior {
    let code_sets =
        TaggedComponent::encapsulated(TaggedComponent::TAG_CODE_SETS, ByteOrder::BigEndian, |w| {
            w.write_ulong(0x0001_0001); // ISO-8859-1
            w.write_length(0)?;
            w.write_ulong(0x0001_0109); // UTF-16
            w.write_length(0)
        })
        .unwrap();
    let profile = IiopProfile {
        version: Version::new(1, 2),
        host: addr.ip().to_string(),
        port: addr.port(),
        object_key: Bytes::from_static(key.as_bytes()),
        components: vec![code_sets],
    };
    Ior {
        type_id: type_id.to_owned(),
        profiles: vec![profile.to_tagged_profile(ByteOrder::BigEndian).unwrap()],
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_omniorb_client_calls_the_generated_bench_servant() {
    let served = serve().await;
    let addr = served.server.local_addr();
    for version in ["1.0", "1.1", "1.2"] {
        let (ok, output) = run_client(
            "check_client",
            vec![format!("corbaloc:iiop:{version}@{addr}/Echo")],
        )
        .await;
        assert!(ok, "GIOP {version}:\n{output}");
        assert_checks(
            &output,
            &[
                "narrow",
                "echoString",
                "add",
                "add raises Overflow",
                "reverse",
                "ping",
                "_is_a",
                "unknown key raises OBJECT_NOT_EXIST",
            ],
        );
    }
    assert!(served.bench.pings() >= 3);
    served.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_generated_bench_client_calls_an_omniorb_servant() {
    let (_server, ior) = start("echo_server");
    let ior = Ior::from_ior_string(&ior).unwrap();
    for version in [GiopVersion::V1_0, GiopVersion::V1_1, GiopVersion::V1_2] {
        for byte_order in [ByteOrder::BigEndian, ByteOrder::LittleEndian] {
            let what = format!("{version:?} {byte_order:?}");
            let config = ClientConfig {
                version,
                byte_order,
                ..ClientConfig::default()
            };
            let (orb, key) = EchoClient::from_ior(&ior, config)
                .await
                .unwrap()
                .into_parts();
            let mut echo = EchoClient::narrow(orb, key).await.unwrap().expect(&what);
            assert_eq!(
                echo.echo_string("gr\u{fc}\u{df}e").await.unwrap(),
                "gr\u{fc}\u{df}e"
            );
            assert_eq!(echo.add(40, 2).await.unwrap(), 42, "{what}");
            let Err(echo::AddError::Overflow(e)) = echo.add(ADD_LIMIT, 1).await else {
                panic!("{what}: Overflow expected")
            };
            assert_eq!(e.limit, ADD_LIMIT);
            let items: Vec<Point> = (0..5)
                .map(|i| Point {
                    x: i,
                    y: -i,
                    label: format!("label {i}"),
                })
                .collect();
            let mut reversed = items.clone();
            reversed.reverse();
            assert_eq!(echo.reverse(&items).await.unwrap(), reversed, "{what}");
            echo.ping().await.unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_omniorb_client_calls_the_generated_rich_servant() {
    let served = serve().await;
    let addr = served.server.local_addr();
    let ior = reference(addr, rich::store::REPOSITORY_ID, "Store")
        .to_ior_string(ByteOrder::BigEndian)
        .unwrap();
    let mut checks = vec![
        "narrow",
        "_is_a base",
        "echoRecord",
        "swap inout",
        "swap out union",
        "swap result union",
        "swap raises Rejected",
        "reject raises Limit",
        "reject raises Rejected",
        "echoAny",
        "twice (fixed)",
        "name attribute",
        "counter attribute and increment",
        "increment raises BAD_PARAM",
        "notify (oneway) and notifications",
        "whoami",
        "narrow to the base",
    ];
    // omniORB sends wide characters only in GIOP 1.2 and to a reference
    // that names the wchar code set.
    let (ok, output) = run_client("rich_client", vec![ior, "wide".into()]).await;
    assert!(ok, "{output}");
    checks.push("echoWide");
    assert_checks(&output, &checks);
    assert_eq!(served.store.notes(), ["from omniORB"]);
    served.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_generated_rich_client_calls_an_omniorb_servant() {
    let (_server, ior) = start("rich_server");
    let ior = Ior::from_ior_string(&ior).unwrap();
    for version in [GiopVersion::V1_0, GiopVersion::V1_1, GiopVersion::V1_2] {
        for byte_order in [ByteOrder::BigEndian, ByteOrder::LittleEndian] {
            let what = format!("{version:?} {byte_order:?}");
            let config = ClientConfig {
                version,
                byte_order,
                ..ClientConfig::default()
            };
            let (orb, key) = StoreClient::from_ior(&ior, config)
                .await
                .unwrap()
                .into_parts();
            let mut s = StoreClient::narrow(orb, key).await.unwrap().expect(&what);
            let record = sample_record();
            assert_eq!(s.echo_record(&record).await.unwrap(), record, "{what}");
            // omniORB checks the record it gets: a different one is refused.
            let mut other = sample_record();
            other.l = 1;
            let e = s.echo_record(&other).await.unwrap_err();
            assert_eq!(e.name(), "BAD_PARAM", "{what}");

            let mut p = rich::Point { x: 1, y: 2 };
            let reply = s.swap(&mut p, Mood::Busy).await.unwrap();
            assert_eq!(p, rich::Point { x: 2, y: 3 }, "{what}");
            assert_eq!(reply.result, Value::Big(3, 2.5), "{what}");
            assert_eq!(
                reply.r#where,
                Shape::At(Mood::Busy, rich::Point { x: 1, y: 2 }),
                "{what}"
            );
            assert!(
                matches!(
                    s.swap(&mut p, Mood::Away).await,
                    Err(store::SwapError::Rejected(rich::Rejected {
                        why: Mood::Away,
                        ..
                    }))
                ),
                "{what}"
            );
            assert_eq!(
                s.reject("no", 7).await,
                Err(store::RejectError::Limit(rich::Limit { max: 7 })),
                "{what}"
            );
            let any = Any::new(TypeCode::ULongLong, Dyn::ULongLong(1 << 50));
            assert_eq!(s.echo_any(&any).await.unwrap(), any, "{what}");
            let cash = Fixed::parse("-12345678.25").unwrap();
            assert_eq!(
                s.twice(&cash).await.unwrap(),
                Fixed::parse("-24691356.50").unwrap(),
                "{what}"
            );

            assert_eq!(s.name().await.unwrap(), "omni", "{what}");
            s.set_counter(40).await.unwrap();
            assert_eq!(s.increment(2).await.unwrap(), 42, "{what}");
            assert_eq!(s.counter().await.unwrap(), 42, "{what}");
            s.set_counter(i32::MAX).await.unwrap();
            assert_eq!(s.increment(1).await.unwrap_err().name(), "BAD_PARAM");
            let before = s.notifications().await.unwrap();
            s.notify("hello").await.unwrap();
            // A oneway call is not ordered before later requests: omniORB
            // may dispatch the next call first, so wait for the count.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            loop {
                let now_seen = s.notifications().await.unwrap();
                if now_seen == before + 1 || std::time::Instant::now() > deadline {
                    assert_eq!(now_seen, before + 1, "{what}");
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            let me = s.whoami().await.unwrap();
            assert_eq!(me.type_id, rich::store::REPOSITORY_ID, "{what}");
            if version == GiopVersion::V1_2 {
                let wide = Wide {
                    text: "\u{65e5}\u{672c} w".into(),
                    letter: '\u{20ac}',
                };
                assert_eq!(s.echo_wide(&wide).await.unwrap(), wide, "{what}");
            }
        }
    }
}
