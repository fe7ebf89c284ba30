//! The generated rpc/encoded client calls a gSOAP server built here from
//! `contracts/legacy.wsdl` (wsdl2h, soapcpp2 and g++ with Debian's
//! gSOAP), a SOAP 1.1 section 5 stack nobody here wrote: ints and structs
//! with `xsi:type`, SOAP-encoded arrays (`Vec`, also inside a struct and
//! nillable) both ways, gSOAP's
//! multi-reference answer (`href`/`id`, the oldest person shared between
//! `adults` and `oldest`) and gSOAP's fault. Missing gSOAP tools fail the
//! test (run `scripts/install-test-deps.sh`).

#![allow(clippy::unwrap_used)]

mod support;

use ithaca_gateway::soap::Contract;
use ithaca_gateway::soap::client::{CallError, SoapClient};
use ithaca_soap_codegen_example::{LEGACY_WSDL, legacy};
use ithaca_wsdl::SoapVersion;
use support::gsoap::{GsoapBuild, start};

/// The server this test calls.
const SERVER: GsoapBuild<'static> = GsoapBuild {
    wsdls: &["contracts/legacy.wsdl"],
    header: "legacy.h",
    server: "gsoap/legacy_server.cc",
    program: "gsoap_legacy_server",
};

fn person(name: &str, age: i32, email: Option<&str>) -> legacy::Person {
    legacy::Person {
        name: name.into(),
        age,
        email: email.map(str::to_owned),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_generated_encoded_client_calls_a_gsoap_server() {
    let program = tokio::task::spawn_blocking(|| SERVER.build())
        .await
        .unwrap();
    let server = start(&program);
    let port = server.port;
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
