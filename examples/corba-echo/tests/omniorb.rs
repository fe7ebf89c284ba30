//! Interop with omniORB 4.2 (Debian's omniorb, omniidl, libomniorb4-dev):
//! an omniORB C++ client calls Ithaca's ORB, and Ithaca's client calls an
//! omniORB C++ server, over GIOP 1.0, 1.1 and 1.2, in both byte orders, with
//! user and system exceptions, oneway, and 5 MiB messages each way; and
//! omniORB's client follows the location forwards Ithaca's server sends.
//!
//! The C++ programs are in `omniorb/`; this test builds them with omniidl and
//! g++ (once per target directory). Run `scripts/install-test-deps.sh` first.

#![allow(clippy::unwrap_used)]

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use ithaca_corba_echo::{ADD_LIMIT, AddResult, ECHO_KEY, ECHO_REPOSITORY_ID, EchoClient, Point};
use ithaca_idl::GiopVersion;
use ithaca_idl::cdr::ByteOrder;
use ithaca_idl::naming::object_ior;
use ithaca_idl::orb::{ClientConfig, ForwardingServant, ReplyBody};

/// omniORB refuses messages over 2 MiB unless told otherwise.
const MAX_MESSAGE: &str = "67108864";

/// Builds the C++ programs once; returns their directory.
fn programs() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        support::build(&support::Peers {
            dir: "omniorb-echo",
            files: &["IthacaBench.idl"],
            idl: &["IthacaBench.idl"],
            omniidl_args: &[],
            package: "omniORB4",
            programs: &[
                ("check_client", &["IthacaBenchSK.cc"]),
                ("echo_server", &["IthacaBenchSK.cc"]),
            ],
        })
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn an_omniorb_client_calls_ithaca_in_every_giop_version() {
    let dir = programs();
    let (server, servant) = ithaca_corba_echo::echo_server("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let addr = server.local_addr();
    for version in ["1.0", "1.1", "1.2"] {
        let reference = format!("corbaloc:iiop:{version}@{addr}/Echo");
        let output = tokio::task::spawn_blocking({
            let client = dir.join("check_client");
            move || {
                Command::new(client)
                    .args([&reference, "big", "-ORBgiopMaxMsgSize", MAX_MESSAGE])
                    .output()
                    .unwrap()
            }
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
            "ok echoString",
            "ok add raises Overflow",
            "ok reverse",
            "ok ping",
            "ok _is_a",
            "ok echoString 5 MiB",
            "ok unknown key raises OBJECT_NOT_EXIST",
        ] {
            assert!(
                stdout.lines().any(|l| l == check),
                "GIOP {version}: {check:?} missing:\n{stdout}"
            );
        }
    }
    assert!(servant.pings() >= 3);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_omniorb_client_follows_ithaca_location_forwards() {
    let dir = programs();
    let (server, servant) = ithaca_corba_echo::echo_server("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let addr = server.local_addr();
    let home = object_ior(ECHO_REPOSITORY_ID, "127.0.0.1", addr.port(), ECHO_KEY).unwrap();
    server.register(
        &b"Moved"[..],
        Arc::new(ForwardingServant::new(home.clone(), false)),
    );
    server.register(
        &b"MovedPerm"[..],
        Arc::new(ForwardingServant::new(home, true)),
    );
    for (version, key) in [("1.0", "Moved"), ("1.2", "Moved"), ("1.2", "MovedPerm")] {
        let reference = format!("corbaloc:iiop:{version}@{addr}/{key}");
        let output = tokio::task::spawn_blocking({
            let client = dir.join("check_client");
            move || Command::new(client).arg(&reference).output().unwrap()
        })
        .await
        .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "GIOP {version} {key}:\n{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        for check in [
            "ok narrow",
            "ok echoString",
            "ok add raises Overflow",
            "ok reverse",
            "ok ping",
            "ok _is_a",
        ] {
            assert!(
                stdout.lines().any(|l| l == check),
                "GIOP {version} {key}: {check:?} missing:\n{stdout}"
            );
        }
    }
    // The oneway pings reached the object behind the forwards.
    assert!(servant.pings() >= 3);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ithaca_calls_an_omniorb_server_in_every_version_and_byte_order() {
    let dir = programs();
    let port = ithaca_testkit::free_port().unwrap();
    let mut child = Command::new(dir.join("echo_server"))
        .args([
            "-ORBendPoint",
            &format!("giop:tcp:127.0.0.1:{port}"),
            "-ORBgiopMaxMsgSize",
            MAX_MESSAGE,
        ])
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
    // The IOR omniORB printed parses and names the address it listens on.
    let parsed = ithaca_idl::ior::Ior::from_ior_string(&ior).unwrap();
    let profile = parsed.iiop_profile().unwrap().unwrap();
    assert_eq!((profile.host.as_str(), profile.port), ("127.0.0.1", port));
    assert_eq!(&profile.object_key[..], b"Echo");

    for version in [GiopVersion::V1_0, GiopVersion::V1_1, GiopVersion::V1_2] {
        for byte_order in [ByteOrder::BigEndian, ByteOrder::LittleEndian] {
            let what = format!("{version:?} {byte_order:?}");
            let config = ClientConfig {
                version,
                byte_order,
                max_fragment_size: (version == GiopVersion::V1_2).then_some(64 * 1024),
                ..ClientConfig::default()
            };
            let url = format!("corbaloc:iiop:127.0.0.1:{port}/Echo");
            let mut client = EchoClient::connect(&url, config).await.unwrap();
            assert_eq!(
                client.echo_string("grüße").await.unwrap(),
                "grüße",
                "{what}"
            );
            assert_eq!(client.add(1, 2).await.unwrap(), AddResult::Sum(3), "{what}");
            assert_eq!(
                client.add(ADD_LIMIT, ADD_LIMIT).await.unwrap(),
                AddResult::Overflow(ADD_LIMIT),
                "{what}"
            );
            let items: Vec<Point> = (0..5)
                .map(|i| Point {
                    x: i,
                    y: -i,
                    label: format!("label {i}"),
                })
                .collect();
            let mut reversed = items.clone();
            reversed.reverse();
            assert_eq!(client.reverse(&items).await.unwrap(), reversed, "{what}");
            client.ping().await.unwrap();
            let big: String = (0..5 * 1024 * 1024)
                .map(|i| char::from(b'a' + (i % 26) as u8))
                .collect();
            let echoed = tokio::time::timeout(Duration::from_secs(60), client.echo_string(&big))
                .await
                .unwrap()
                .unwrap();
            assert!(echoed == big, "{what}: 5 MiB echo differs");
            let key = client.key().clone();
            let ReplyBody::System(e) = client
                .orb()
                .invoke(&key, "frobnicate", |_| Ok(()))
                .await
                .unwrap()
            else {
                panic!("{what}: an unknown operation must raise a system exception");
            };
            assert_eq!(
                e.exception_id, "IDL:omg.org/CORBA/BAD_OPERATION:1.0",
                "{what}"
            );
        }
    }
}
