//! The generated rpc/encoded client calls a gSOAP server built here from
//! `contracts/legacy.wsdl` (wsdl2h, soapcpp2 and g++ with Debian's
//! gSOAP), a SOAP 1.1 section 5 stack nobody here wrote: ints and structs
//! with `xsi:type`, SOAP-encoded arrays (`Vec`, also inside a struct and
//! nillable) both ways, gSOAP's
//! multi-reference answer (`href`/`id`, the oldest person shared between
//! `adults` and `oldest`) and gSOAP's fault. Missing gSOAP tools fail the
//! test (run `scripts/install-test-deps.sh`).

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use ithaca_gateway::soap::Contract;
use ithaca_gateway::soap::client::{CallError, SoapClient};
use ithaca_soap_codegen_example::{LEGACY_WSDL, legacy};
use ithaca_wsdl::SoapVersion;

const HINT: &str = "run scripts/install-test-deps.sh (it installs gsoap and libgsoap-dev)";

/// Kills the server when the test ends, also on panic.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run(command: &mut Command, what: &str) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e}; {HINT}"));
    assert!(
        output.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Builds the gSOAP server from the legacy contract and
/// `gsoap/legacy_server.cc`.
fn build() -> PathBuf {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("gsoap-codegen-encoded");
    std::fs::create_dir_all(&out).unwrap();
    run(
        Command::new("wsdl2h")
            .current_dir(&out)
            .arg("-o")
            .arg("legacy.h")
            .arg(crate_dir.join("contracts/legacy.wsdl")),
        "wsdl2h",
    );
    run(
        Command::new("soapcpp2").current_dir(&out).args([
            "-S",
            "-L",
            "-x",
            "-I/usr/share/gsoap/import",
            "legacy.h",
        ]),
        "soapcpp2",
    );
    run(
        Command::new("g++")
            .current_dir(&out)
            .args(["-O1", "-I."])
            .args(["-o", "gsoap_legacy_server"])
            .arg(crate_dir.join("gsoap/legacy_server.cc"))
            .args(["soapC.cpp", "soapServer.cpp", "-lgsoap++"]),
        "g++",
    );
    out.join("gsoap_legacy_server")
}

fn start(program: &Path) -> (Server, u16) {
    let mut child = Command::new(program)
        .arg("0")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let port = line
        .trim()
        .strip_prefix("listening ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("the gSOAP server said {line:?}"));
    (server, port)
}

fn person(name: &str, age: i32, email: Option<&str>) -> legacy::Person {
    legacy::Person {
        name: name.into(),
        age,
        email: email.map(str::to_owned),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_generated_encoded_client_calls_a_gsoap_server() {
    let program = tokio::task::spawn_blocking(build).await.unwrap();
    let (_server, port) = start(&program);
    let contract = Contract::from_bytes("legacy.wsdl", LEGACY_WSDL).unwrap();
    let client = legacy::LegacyClient::new(
        SoapClient::new(&format!("http://127.0.0.1:{port}/"), SoapVersion::Soap11).unwrap(),
        &contract,
    );

    let sum = client
        .add(&legacy::AddRequest { a: 40, b: 2 })
        .await
        .unwrap();
    assert_eq!(sum.sum, 42);
    let summary = client
        .describe(&legacy::DescribeRequest {
            person: person("Ada & Co ☺", 36, Some("ada@example.org")),
        })
        .await
        .unwrap();
    assert_eq!(summary.summary, "gsoap: Ada & Co ☺ (36), ada@example.org");
    let summary = client
        .describe(&legacy::DescribeRequest {
            person: person("bob", 41, None),
        })
        .await
        .unwrap();
    assert_eq!(summary.summary, "gsoap: bob (41), no email");

    let stats = client
        .stats(&legacy::StatsRequest {
            numbers: vec![1, 2, 39, -5],
            labels: vec!["a".into(), "b <&>".into(), "c".into()],
        })
        .await
        .unwrap();
    assert_eq!(stats.total, 37);
    assert_eq!(stats.labelled, ["a=1", "b <&>=2", "c=39"]);
    let empty = client
        .stats(&legacy::StatsRequest {
            numbers: vec![],
            labels: vec![],
        })
        .await
        .unwrap();
    assert_eq!((empty.total, empty.labelled.len()), (0, 0));

    // gSOAP sends the oldest person once, with an id, and refers to it
    // from `adults` and from `oldest`.
    let roster = client
        .roster(&legacy::RosterRequest {
            people: vec![
                person("ann", 30, None),
                person("kid", 9, Some("k@example.org")),
                person("old", 70, Some("o@example.org")),
            ],
        })
        .await
        .unwrap();
    assert_eq!(roster.names, ["ann", "kid", "old"]);
    assert_eq!(
        roster.adults,
        [
            person("ann", 30, None),
            person("old", 70, Some("o@example.org"))
        ]
    );
    assert_eq!(roster.oldest, person("old", 70, Some("o@example.org")));

    // Arrays inside a struct, one of them nillable.
    let team = |scores: Option<Vec<i32>>| legacy::Team {
        name: "reds".into(),
        members: vec![
            person("old", 70, None),
            person("kid", 9, Some("k@example.org")),
            person("ann", 30, None),
        ],
        scores,
    };
    let lineup = client
        .lineup(&legacy::LineupRequest {
            team: team(Some(vec![1, 2, 3])),
        })
        .await
        .unwrap()
        .lineup;
    assert_eq!(lineup.name, "reds (by age)");
    assert_eq!(
        lineup.members,
        [
            person("kid", 9, Some("k@example.org")),
            person("ann", 30, None),
            person("old", 70, None)
        ]
    );
    assert_eq!(lineup.scores, Some(vec![3, 2, 1]));
    let lineup = client
        .lineup(&legacy::LineupRequest { team: team(None) })
        .await
        .unwrap()
        .lineup;
    assert_eq!(lineup.scores, None);

    match client
        .add(&legacy::AddRequest { a: i32::MAX, b: 1 })
        .await
        .unwrap_err()
    {
        CallError::Fault(legacy::AddFault::Soap(fault)) => {
            assert_eq!(fault.code, ithaca_wsdl::FaultCode::Sender);
            assert_eq!(fault.reason(), "gsoap: the sum overflows xsd:int");
        }
        other => panic!("expected a Client fault, got {other:?}"),
    }
}
