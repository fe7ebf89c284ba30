//! rpc/encoded in generated code: `contracts/legacy.wsdl` (SOAP 1.1
//! section 5) served by the generated server trait. Requests with
//! `xsi:type`, multi-reference values (`href`/`id`) and SOAP-encoded
//! arrays reach the typed methods (arrays as `Vec`), which answer with
//! `xsi:type` on every accessor and `SOAP-ENC:arrayType` on arrays;
//! partially transmitted and multi-dimensional arrays are refused with a
//! Client fault. The generated rpc/encoded client calls the generated
//! server, reads multi-references, and refuses a response whose
//! references make a cycle, nest past the depth limit or pass
//! the reference limit. Python suds, a client nobody here wrote that
//! speaks rpc/encoded, calls every operation, arrays included.

#![allow(clippy::unwrap_used)]

mod support;

use ithaca_gateway::soap::Contract;
use ithaca_gateway::soap::client::{CallError, ClientError, SoapClient};
use ithaca_soap_codegen_example::{LEGACY_WSDL, legacy};
use ithaca_wsdl::SoapVersion;
use support::Served;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ENC: &str = "http://schemas.xmlsoap.org/soap/encoding/";

/// The namespace declarations each top-level body element carries.
const NS: &str = r#"xmlns:SOAP-ENC="http://schemas.xmlsoap.org/soap/encoding/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:l="urn:ithaca:example:legacy""#;

/// Sends `body` (the Body's content, each top-level element declaring
/// [`NS`]) and answers the reply's text, or the fault's code and reason.
async fn call(served: &Served, action: &str, body: &str) -> Result<String, String> {
    let soap = SoapClient::new(
        &format!("{}/services/LegacyService", served.base()),
        SoapVersion::Soap11,
    )
    .unwrap();
    match soap
        .call(Some(action), body.replace("NS", NS).as_bytes())
        .await
    {
        Ok(response) => Ok(String::from_utf8_lossy(&response.message).into_owned()),
        Err(ClientError::Fault { fault, .. }) => {
            Err(format!("{:?}: {}", fault.code, fault.reason()))
        }
        Err(error) => panic!("{error}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn encoded_requests_reach_the_typed_methods() {
    let served = Served::start().await;
    let text = call(
        &served,
        "urn:ithaca:example:legacy#add",
        r##"<l:add NS><a xsi:type="xsd:int">2</a><b href="#b"/></l:add><multiRef NS id="b" SOAP-ENC:root="0" xsi:type="xsd:int">40</multiRef>"##,
    )
    .await
    .unwrap();
    assert!(
        text.contains(r#"<sum xsi:type="xsd:int">42</sum>"#),
        "{text}"
    );
    assert!(
        text.contains(&format!(r#"encodingStyle="{ENC}""#)),
        "{text}"
    );

    let text = call(
        &served,
        "urn:ithaca:example:legacy#describe",
        r##"<l:describe NS><person href="#p"/></l:describe><multiRef NS id="p" SOAP-ENC:root="0" xsi:type="l:Person"><name xsi:type="xsd:string">ann</name><age xsi:type="xsd:int">30</age><email xsi:nil="true"/></multiRef>"##,
    )
    .await
    .unwrap();
    assert!(
        text.contains(r#"<summary xsi:type="xsd:string">ann (30), no email</summary>"#),
        "{text}"
    );

    // A value that is not an int: a Client fault naming the accessor.
    let fault = call(
        &served,
        "urn:ithaca:example:legacy#add",
        r#"<l:add NS><a xsi:type="xsd:int">x</a><b xsi:type="xsd:int">1</b></l:add>"#,
    )
    .await
    .unwrap_err();
    assert!(fault.starts_with("Sender: "), "{fault}");
    assert!(fault.contains("/add/a"), "{fault}");
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn encoded_arrays_reach_the_typed_methods_as_vecs() {
    let served = Served::start().await;
    let text = call(
        &served,
        "urn:ithaca:example:legacy#stats",
        r##"<l:stats NS><numbers xsi:type="SOAP-ENC:Array" SOAP-ENC:arrayType="xsd:int[3]"><item xsi:type="xsd:int">1</item><item href="#two"/><item xsi:type="xsd:int">39</item></numbers><labels xsi:type="SOAP-ENC:Array" SOAP-ENC:arrayType="xsd:string[2]"><i>a</i><i>b &amp; c</i></labels></l:stats><multiRef NS id="two" SOAP-ENC:root="0" xsi:type="xsd:int">2</multiRef>"##,
    )
    .await
    .unwrap();
    assert!(
        text.contains(r#"<total xsi:type="xsd:int">42</total>"#),
        "{text}"
    );
    assert!(
        text.contains(r#"SOAP-ENC:arrayType="xsd:string[2]""#),
        "{text}"
    );
    assert!(
        text.contains(r#"<item xsi:type="xsd:string">b &amp; c=2</item>"#),
        "{text}"
    );

    // Partially transmitted, sparse and multi-dimensional arrays are
    // refused with a Client fault naming the accessor.
    for (numbers, says) in [
        (
            r#"<numbers xsi:type="SOAP-ENC:Array" SOAP-ENC:arrayType="xsd:int[3]" SOAP-ENC:offset="[1]"><item>1</item><item>2</item></numbers>"#,
            "partially transmitted",
        ),
        (
            r#"<numbers xsi:type="SOAP-ENC:Array" SOAP-ENC:arrayType="xsd:int[3]"><item SOAP-ENC:position="[2]">1</item></numbers>"#,
            "sparse arrays",
        ),
        (
            r#"<numbers xsi:type="SOAP-ENC:Array" SOAP-ENC:arrayType="xsd:int[2,2]"><item>1</item><item>2</item><item>3</item><item>4</item></numbers>"#,
            "multi-dimensional",
        ),
        (
            r#"<numbers xsi:type="SOAP-ENC:Array" SOAP-ENC:arrayType="xsd:int[5]"><item>1</item></numbers>"#,
            "declares 5 items but holds 1",
        ),
    ] {
        let fault = call(
            &served,
            "urn:ithaca:example:legacy#stats",
            &format!(
                r#"<l:stats NS>{numbers}<labels xsi:type="SOAP-ENC:Array" SOAP-ENC:arrayType="xsd:string[0]"/></l:stats>"#
            ),
        )
        .await
        .unwrap_err();
        assert!(fault.starts_with("Sender: "), "{fault}");
        assert!(fault.contains("/stats/numbers"), "{fault}");
        assert!(fault.contains(says), "{says} in {fault}");
    }
    served.stop().await;
}

fn person(name: &str, age: i32, email: Option<&str>) -> legacy::Person {
    legacy::Person {
        name: name.into(),
        age,
        email: email.map(str::to_owned),
    }
}

/// A generated rpc/encoded client of `endpoint`.
fn legacy_client(endpoint: &str) -> legacy::LegacyClient {
    let contract = Contract::from_bytes("legacy.wsdl", LEGACY_WSDL).unwrap();
    legacy::LegacyClient::new(
        SoapClient::new(endpoint, SoapVersion::Soap11).unwrap(),
        &contract,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_generated_encoded_client_calls_the_generated_server() {
    let served = Served::start().await;
    let client = legacy_client(&format!("{}/services/LegacyService", served.base()));
    let sum = client
        .add(&legacy::AddRequest { a: 40, b: 2 })
        .await
        .unwrap();
    assert_eq!(sum.sum, 42);
    let summary = client
        .describe(&legacy::DescribeRequest {
            person: person("ann <&>", 30, None),
        })
        .await
        .unwrap();
    assert_eq!(summary.summary, "ann <&> (30), no email");
    let stats = client
        .stats(&legacy::StatsRequest {
            numbers: vec![1, 2, 39],
            labels: vec!["a".into(), "b & c".into()],
        })
        .await
        .unwrap();
    assert_eq!(stats.total, 42);
    assert_eq!(stats.labelled, vec!["a=1".to_owned(), "b & c=2".to_owned()]);
    let empty = client
        .stats(&legacy::StatsRequest {
            numbers: vec![],
            labels: vec![],
        })
        .await
        .unwrap();
    assert_eq!((empty.total, empty.labelled.len()), (0, 0));
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
        vec![
            person("ann", 30, None),
            person("old", 70, Some("o@example.org"))
        ]
    );
    assert_eq!(roster.oldest, person("old", 70, Some("o@example.org")));

    // Arrays inside a struct, one of them nillable.
    let team = |scores: Option<Vec<i32>>| legacy::Team {
        name: "reds".into(),
        members: vec![person("old", 70, None), person("kid", 9, None)],
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
        [person("kid", 9, None), person("old", 70, None)]
    );
    assert_eq!(lineup.scores, Some(vec![3, 2, 1]));
    let lineup = client
        .lineup(&legacy::LineupRequest { team: team(None) })
        .await
        .unwrap()
        .lineup;
    assert_eq!(lineup.scores, None);

    // A SOAP 1.2 client: rpc/encoded is bound to SOAP 1.1 only.
    let contract = Contract::from_bytes("legacy.wsdl", LEGACY_WSDL).unwrap();
    let soap12 = legacy::LegacyClient::new(
        SoapClient::new(
            &format!("{}/services/LegacyService", served.base()),
            SoapVersion::Soap12,
        )
        .unwrap(),
        &contract,
    );
    match soap12.add(&legacy::AddRequest { a: 1, b: 2 }).await {
        Err(CallError::Client(ClientError::Encoding(message))) => {
            assert!(message.contains("Soap11"), "{message}");
        }
        other => panic!("expected an encoding error, got {other:?}"),
    }
    served.stop().await;
}

/// The requests a [`canned_server`] received, as text.
type Received = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

/// Answers every request on a free port with `body` in a SOAP 1.1
/// envelope; returns the port's URL and the requests received.
async fn canned_server(body: String) -> (String, Received) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let received = Received::default();
    let log = received.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let body = body.clone();
            let log = log.clone();
            tokio::spawn(async move {
                // Read the head and the declared body, then answer.
                let mut request = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Ok(n) = stream.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    request.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&request).to_lowercase();
                    if let Some(head) = text.find("\r\n\r\n") {
                        let length = text
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if request.len() >= head + 4 + length {
                            log.lock()
                                .unwrap()
                                .push(String::from_utf8_lossy(&request).into_owned());
                            break;
                        }
                    }
                }
                let envelope = format!(
                    r#"<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" {NS}><SOAP-ENV:Body>{body}</SOAP-ENV:Body></SOAP-ENV:Envelope>"#
                );
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/xml; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{envelope}",
                    envelope.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    (url, received)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_encoded_client_writes_section_5_and_reads_multi_references() {
    // The answer shares one string between `labelled`'s two items.
    let (url, received) = canned_server(
        r##"<l:statsResponse SOAP-ENV:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><total xsi:type="xsd:int">3</total><labelled xsi:type="SOAP-ENC:Array" SOAP-ENC:arrayType="xsd:string[2]"><item href="#s"/><item href="#s"/></labelled></l:statsResponse><multiRef id="s" SOAP-ENC:root="0" xsi:type="xsd:string">same</multiRef>"##
            .to_owned(),
    )
    .await;
    let answer = legacy_client(&url)
        .stats(&legacy::StatsRequest {
            numbers: vec![1, 2],
            labels: vec!["x<y".into()],
        })
        .await
        .unwrap();
    assert_eq!(answer.total, 3);
    assert_eq!(answer.labelled, ["same", "same"]);
    let request = received.lock().unwrap().concat();
    assert!(
        request.contains(r#"soapaction: "urn:ithaca:example:legacy#stats""#)
            || request.contains(r#"SOAPAction: "urn:ithaca:example:legacy#stats""#),
        "{request}"
    );
    for wire in [
        r#"encodingStyle="http://schemas.xmlsoap.org/soap/encoding/""#,
        r#"SOAP-ENC:arrayType="xsd:int[2]""#,
        r#"<item xsi:type="xsd:int">2</item>"#,
        r#"SOAP-ENC:arrayType="xsd:string[1]""#,
        r#"<item xsi:type="xsd:string">x&lt;y</item>"#,
    ] {
        assert!(request.contains(wire), "{wire} in {request}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_encoded_client_refuses_reference_cycles_chains_and_too_many_references() {
    // `adults`' item and `oldest` refer to each other through `href`.
    let (cycle, _) = canned_server(
        r##"<l:rosterResponse SOAP-ENV:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><names SOAP-ENC:arrayType="xsd:string[0]"/><adults href="#a"/><oldest href="#p"/></l:rosterResponse><SOAP-ENC:Array id="a" SOAP-ENC:arrayType="l:Person[1]"><item href="#p"/></SOAP-ENC:Array><l:Person id="p"><name href="#a"/><age>1</age><email xsi:nil="true"/></l:Person>"##
            .to_owned(),
    )
    .await;
    let client = legacy_client(&cycle);
    let error = client
        .roster(&legacy::RosterRequest { people: vec![] })
        .await
        .unwrap_err();
    let CallError::Client(ClientError::Encoding(message)) = error else {
        panic!("expected an encoding error, got {error:?}");
    };
    assert!(message.contains("cycle"), "{message}");

    // 10 001 references to one value: past the limit of 10 000.
    let refs: String = (0..10_001).map(|_| r##"<item href="#s"/>"##).collect();
    let (many, _) = canned_server(format!(
        r##"<l:statsResponse SOAP-ENV:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><total xsi:type="xsd:int">0</total><labelled SOAP-ENC:arrayType="xsd:string[10001]">{refs}</labelled></l:statsResponse><s id="s" xsi:type="xsd:string">x</s>"##
    ))
    .await;
    let client = legacy_client(&many);
    let error = client
        .stats(&legacy::StatsRequest {
            numbers: vec![],
            labels: vec![],
        })
        .await
        .unwrap_err();
    let CallError::Client(ClientError::Encoding(message)) = error else {
        panic!("expected an encoding error, got {error:?}");
    };
    assert!(
        message.contains("more than") && message.contains("references"),
        "{message}"
    );

    // A chain of 100 references, each to the next: past the depth limit.
    let chain: String = (0..100)
        .map(|i| format!(r##"<r id="r{i}" href="#r{}"/>"##, i + 1))
        .collect();
    let (deep, _) = canned_server(format!(
        r##"<l:statsResponse SOAP-ENV:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><total href="#r0"/><labelled SOAP-ENC:arrayType="xsd:string[0]"/></l:statsResponse>{chain}<r id="r100" xsi:type="xsd:int">1</r>"##
    ))
    .await;
    let error = legacy_client(&deep)
        .stats(&legacy::StatsRequest {
            numbers: vec![],
            labels: vec![],
        })
        .await
        .unwrap_err();
    let CallError::Client(ClientError::Encoding(message)) = error else {
        panic!("expected an encoding error, got {error:?}");
    };
    assert!(message.contains("nest deeper than 64"), "{message}");
}

const SUDS_SCRIPT: &str = r#"
import os, sys
from suds.client import Client

client = Client(os.environ["ITHACA_BASE"] + "/services/LegacyService?wsdl", cache=None)
total = client.service.add(2, 40)
if total != 42:
    sys.exit(f"add: {total!r}")
print("suds add: ok")
person = client.factory.create("{urn:ithaca:example:legacy}Person")
person.name, person.age, person.email = "bob", 41, "bob@example.org"
summary = client.service.describe(person)
if summary != "bob (41), bob@example.org":
    sys.exit(f"describe: {summary!r}")
print("suds describe: ok")

numbers = client.factory.create("{urn:ithaca:example:legacy}ArrayOfInt")
numbers.item = [1, 2, 39]
labels = client.factory.create("{urn:ithaca:example:legacy}ArrayOfString")
labels.item = ["a", "b & c"]
result = client.service.stats(numbers, labels)
labelled = result.labelled
labelled = labelled if isinstance(labelled, list) else getattr(labelled, "item", labelled)
if result.total != 42 or list(labelled) != ["a=1", "b & c=2"]:
    sys.exit(f"stats: {result!r}")
print("suds stats: ok")

people = []
for name, age in (("ann", 30), ("kid", 9), ("old", 70)):
    p = client.factory.create("{urn:ithaca:example:legacy}Person")
    p.name, p.age, p.email = name, age, None
    people.append(p)
array = client.factory.create("{urn:ithaca:example:legacy}ArrayOfPerson")
array.item = people
result = client.service.roster(array)
names = result.names if isinstance(result.names, list) else getattr(result.names, "item", result.names)
adults = result.adults if isinstance(result.adults, list) else getattr(result.adults, "item", result.adults)
if list(names) != ["ann", "kid", "old"] or [p.name for p in adults] != ["ann", "old"] or result.oldest.name != "old":
    sys.exit(f"roster: {result!r}")
print("suds roster: ok")

team = client.factory.create("{urn:ithaca:example:legacy}Team")
team.name = "reds"
team.members = client.factory.create("{urn:ithaca:example:legacy}ArrayOfPerson")
team.members.item = [people[2], people[1]]
team.scores = client.factory.create("{urn:ithaca:example:legacy}ArrayOfInt")
team.scores.item = [1, 2, 3]
lineup = client.service.lineup(team)
members = lineup.members if isinstance(lineup.members, list) else getattr(lineup.members, "item", lineup.members)
scores = lineup.scores if isinstance(lineup.scores, list) else getattr(lineup.scores, "item", lineup.scores)
if lineup.name != "reds (by age)" or [p.name for p in members] != ["kid", "old"] or list(scores) != [3, 2, 1]:
    sys.exit(f"lineup: {lineup!r}")
print("suds lineup: ok")
"#;

#[tokio::test(flavor = "multi_thread")]
async fn suds_calls_the_generated_rpc_encoded_server() {
    let served = Served::start().await;
    let (stdout, stderr) = served.run_python("suds", SUDS_SCRIPT).await;
    for line in [
        "suds add: ok",
        "suds describe: ok",
        "suds stats: ok",
        "suds roster: ok",
        "suds lineup: ok",
    ] {
        assert!(stdout.contains(line), "{stdout}\n{stderr}");
    }
    served.stop().await;
}
