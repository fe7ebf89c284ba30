//! SOAP header parts in generated code: the generated client sends the
//! input header blocks of `contracts/session.wsdl` and reads the output
//! ones, the generated server gets them as a typed struct and answers
//! them, and a declared `soap:headerfault` reaches the client as its typed
//! variant, over SOAP 1.1 and SOAP 1.2; python zeep, a client nobody here
//! wrote, does the same against the generated server.

#![allow(clippy::unwrap_used)]

mod support;

use ithaca_gateway::soap::client::{CallError, SoapClient};
use ithaca_soap_codegen_example::session;
use ithaca_wsdl::SoapVersion;
use support::Served;

fn auth(user: &str, token: &str) -> session::Auth {
    session::Auth {
        user: user.into(),
        token: token.into(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn generated_clients_and_servers_carry_input_and_output_headers() {
    let served = Served::start().await;
    let mut last_request = 0;
    for (path, version) in [
        ("/services/SessionService", SoapVersion::Soap11),
        ("/services/SessionService/soap12", SoapVersion::Soap12),
    ] {
        let soap = SoapClient::new(&format!("{}{path}", served.base()), version).unwrap();
        let client = session::SessionClient::new(soap);

        // Both sides: the auth header in, the audit header out.
        let (answer, headers) = client
            .greet(
                &session::Greet {
                    name: "Ada & <Bob>".into(),
                },
                &session::GreetInputHeaders {
                    auth: Some(auth("zoé", "secret-zoé")),
                },
            )
            .await
            .unwrap();
        assert_eq!(
            answer.greeting, "hello Ada & <Bob>, from zoé",
            "{version:?}"
        );
        let audit = headers.audit.expect("the audit header");
        assert!(audit.request_id > last_request, "{audit:?}");
        last_request = audit.request_id;
        assert_eq!(audit.served_by, "ithaca-soap-codegen-example");
        assert_eq!(audit.level.as_deref(), Some("info"));

        // The server reads the input header: a wrong token is refused
        // with the declared header fault `authRefused` (typed, its block
        // read from the fault's Header), no header with a plain fault.
        let error = client
            .greet(
                &session::Greet { name: "x".into() },
                &session::GreetInputHeaders {
                    auth: Some(auth("zoé", "guess")),
                },
            )
            .await
            .unwrap_err();
        match error {
            CallError::Fault(session::GreetFault::AuthRefused(fault)) => {
                assert_eq!(fault.code, ithaca_wsdl::FaultCode::Sender, "{version:?}");
                assert_eq!(fault.reason, "the auth token is wrong");
                assert_eq!(
                    fault.block,
                    session::AuthRefused {
                        user: "zoé".into(),
                        reason: "the auth token is wrong".into()
                    }
                );
            }
            other => panic!("expected the header fault, got {other:?}"),
        }
        let error = client
            .greet(
                &session::Greet { name: "x".into() },
                &session::GreetInputHeaders::default(),
            )
            .await
            .unwrap_err();
        match error {
            CallError::Fault(session::GreetFault::Soap(fault)) => {
                assert!(fault.reason().starts_with("the auth"), "{fault:?}");
            }
            other => panic!("expected a fault, got {other:?}"),
        }

        // Input header only: the output is the plain response.
        let me = client
            .whoami(
                &session::Whoami {},
                &session::WhoamiInputHeaders {
                    auth: Some(auth("ada", "any")),
                },
            )
            .await
            .unwrap();
        assert_eq!(me.user.as_deref(), Some("ada"));
        let nobody = client
            .whoami(&session::Whoami {}, &session::WhoamiInputHeaders::default())
            .await
            .unwrap();
        assert_eq!(nobody.user, None);

        // Output header only: no header argument.
        let (stamped, headers) = client
            .stamp(&session::Stamp {
                note: "n1".into(),
                codes: Some(vec![3, -1, 2]),
                size: Some(session::Size("large".into())),
                extras: None,
            })
            .await
            .unwrap();
        assert_eq!(stamped.note, "n1");
        // A list of xs:int and a union of xs:int and an enumeration.
        assert_eq!(stamped.codes, Some(vec![-1, 2, 3]));
        assert_eq!(stamped.size, Some(session::Size("large".into())));
        let audit = headers.audit.expect("the audit header");
        assert_eq!(audit.level.as_deref(), Some("debug"));
        assert!(audit.request_id > last_request);
        last_request = audit.request_id;
    }
    served.stop().await;
}

/// The reply of `greet` on the wire: the audit block in the `Header`,
/// before the body.
#[tokio::test(flavor = "multi_thread")]
async fn the_output_header_is_in_the_response_envelope() {
    let served = Served::start().await;
    let soap = SoapClient::new(
        &format!("{}/services/SessionService", served.base()),
        SoapVersion::Soap11,
    )
    .unwrap();
    let request =
        br#"<s:greet xmlns:s="urn:ithaca:example:session"><s:name>wire</s:name></s:greet>"#;
    let header = br#"<s:auth xmlns:s="urn:ithaca:example:session"><s:user>u</s:user><s:token>secret-u</s:token></s:auth>"#.to_vec();
    let response = soap
        .call_with_headers(Some("urn:ithaca:example:session#greet"), &[header], request)
        .await
        .unwrap();
    let text = String::from_utf8(response.message.to_vec()).unwrap();
    let header_at = text.find("Header>").unwrap_or_else(|| panic!("{text}"));
    let audit_at = text.find(":audit ").unwrap_or_else(|| panic!("{text}"));
    let body_at = text.find("Body>").unwrap_or_else(|| panic!("{text}"));
    assert!(header_at < audit_at && audit_at < body_at, "{text}");
    assert!(text.contains("ithaca-soap-codegen-example</"), "{text}");
    served.stop().await;
}

const ZEEP_SCRIPT: &str = r#"
import os, sys
import zeep

base = os.environ["ITHACA_BASE"]
client = zeep.Client(base + "/services/SessionService?wsdl")
for port in ("SessionSoap11Port", "SessionSoap12Port"):
    service = client.bind("SessionService", port)
    result = service.greet(name="from zeep", _soapheaders={"auth": {"user": "zed", "token": "secret-zed"}})
    if result.body.greeting != "hello from zeep, from zed":
        sys.exit(f"{port} greet body: {result!r}")
    audit = result.header.audit
    if audit.servedBy != "ithaca-soap-codegen-example" or audit.level != "info" or audit.requestId < 1:
        sys.exit(f"{port} greet audit: {audit!r}")
    print(f"{port} greet: ok")
    result = service.stamp(note="n", codes=[5, 1], size=12)
    audit = result.header.audit
    if audit.level != "debug":
        sys.exit(f"{port} stamp audit: {audit!r}")
    stamped = result.body
    if (stamped.note, list(stamped.codes), str(stamped.size)) != ("n", [1, 5], "12"):
        sys.exit(f"{port} stamp body: {stamped!r}")
    print(f"{port} stamp: ok")
"#;

#[tokio::test(flavor = "multi_thread")]
async fn zeep_sends_and_reads_the_headers_of_the_generated_server() {
    let served = Served::start().await;
    let (stdout, stderr) = served.run_python("zeep", ZEEP_SCRIPT).await;
    for line in [
        "SessionSoap11Port greet: ok",
        "SessionSoap11Port stamp: ok",
        "SessionSoap12Port greet: ok",
        "SessionSoap12Port stamp: ok",
    ] {
        assert!(stdout.contains(line), "{stdout}\n{stderr}");
    }
    served.stop().await;
}

/// A repeated sequence becomes a `Vec` of a group struct, and a choice
/// branch of several elements a variant holding one: both travel as the
/// schema orders their elements, and the gateway's validation of the
/// request (on by default) accepts what the generated client writes.
#[tokio::test(flavor = "multi_thread")]
async fn repeated_sequences_and_choice_branches_of_several_elements_round_trip() {
    let served = Served::start().await;
    let soap = SoapClient::new(
        &format!("{}/services/SessionService/soap12", served.base()),
        SoapVersion::Soap12,
    )
    .unwrap();
    let client = session::SessionClient::new(soap);
    let cases = [
        session::Extras {
            group: vec![
                session::ExtrasGroup {
                    key: "a".into(),
                    value: Some(1),
                },
                session::ExtrasGroup {
                    key: "b".into(),
                    value: None,
                },
                session::ExtrasGroup {
                    key: "c".into(),
                    value: Some(-3),
                },
            ],
            choice: session::ExtrasChoice::FirstLast(session::ExtrasGroup2 {
                first: "Ada".into(),
                last: "Lovelace".into(),
            }),
        },
        session::Extras {
            group: Vec::new(),
            choice: session::ExtrasChoice::Anonymous(true),
        },
    ];
    for extras in cases {
        let (stamped, _) = client
            .stamp(&session::Stamp {
                note: "extras".into(),
                codes: None,
                size: None,
                extras: Some(extras.clone()),
            })
            .await
            .unwrap();
        assert_eq!(stamped.extras, Some(extras));
    }
    served.stop().await;
}
