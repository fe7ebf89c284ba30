//! The SOAP hosting path over real sockets: the built-in EchoService and a
//! test contract (`support::SHOP_WSDL`) in both SOAP versions, `?wsdl`,
//! every refusal with its fault and HTTP status.

#![allow(clippy::unwrap_used)]

mod support;

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use ithaca_gateway::config::ByteSize;
use ithaca_gateway::soap::builtin;
use ithaca_wsdl::{Fault, FaultCode, Limits, QName, SoapVersion, read_fault};
use support::{Reply, TestGateway, between, h2c, http1, shop_service};

const S11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const S12: &str = "http://www.w3.org/2003/05/soap-envelope";
const ECHO: &str = "/services/EchoService";
const ECHO12: &str = "/services/EchoService/soap12";
const SHOP: &str = "/services/ShopService";
const SHOP12: &str = "/services/ShopService/soap12";
const ECHO_ACTION: &str = "urn:ithaca:bench:echo#echoString";

fn envelope(version: SoapVersion, header: &str, body: &str) -> String {
    let ns = match version {
        SoapVersion::Soap11 => S11,
        SoapVersion::Soap12 => S12,
    };
    let header = if header.is_empty() {
        String::new()
    } else {
        format!("<s:Header>{header}</s:Header>")
    };
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="{ns}" xmlns:e="urn:ithaca:bench:echo" xmlns:shop="urn:ithaca:test:shop">{header}<s:Body>{body}</s:Body></s:Envelope>"#
    )
}

fn echo_body(text: &str) -> String {
    format!("<e:echoString><text>{text}</text></e:echoString>")
}

fn order_body(item: &str, count: &str) -> String {
    format!(
        "<shop:order><shop:item>{item}</shop:item><shop:count>{count}</shop:count></shop:order>"
    )
}

/// A SOAP request of `version` with `action` where that version puts it.
fn soap(
    version: SoapVersion,
    path: &str,
    action: Option<&str>,
    body: impl Into<Bytes>,
) -> http::Request<Full<Bytes>> {
    let mut builder = http::Request::post(path).header("host", "ithaca.test");
    match version {
        SoapVersion::Soap11 => {
            builder = builder.header("content-type", "text/xml; charset=utf-8");
            if let Some(action) = action {
                builder = builder.header("soapaction", format!("\"{action}\""));
            }
        }
        SoapVersion::Soap12 => {
            let content_type = match action {
                Some(action) => format!("application/soap+xml; charset=utf-8; action=\"{action}\""),
                None => "application/soap+xml; charset=utf-8".to_owned(),
            };
            builder = builder.header("content-type", content_type);
        }
    }
    builder.body(Full::new(body.into())).unwrap()
}

fn raw(
    path: &str,
    content_type: Option<&str>,
    body: impl Into<Bytes>,
) -> http::Request<Full<Bytes>> {
    let mut builder = http::Request::post(path).header("host", "ithaca.test");
    if let Some(content_type) = content_type {
        builder = builder.header("content-type", content_type);
    }
    builder.body(Full::new(body.into())).unwrap()
}

async fn gateway() -> (TestGateway, Arc<Mutex<Vec<String>>>) {
    gateway_with(true, |_| {}).await
}

async fn gateway_with(
    validation: bool,
    tweak: impl FnOnce(&mut ithaca_gateway::config::Config),
) -> (TestGateway, Arc<Mutex<Vec<String>>>) {
    let notified = Arc::new(Mutex::new(Vec::new()));
    let routes = builtin::services()
        .unwrap()
        .merge(&shop_service(validation, notified.clone()));
    (TestGateway::start(routes, tweak).await, notified)
}

fn content_type(reply: &Reply) -> &str {
    reply
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Reads the fault a reply carries, checking its status and content type
/// against its version.
fn fault(reply: &Reply, version: SoapVersion, status: u16) -> Fault {
    assert_eq!(reply.status, status, "{}", reply.text());
    assert_eq!(
        content_type(reply),
        version.content_type(),
        "{}",
        reply.text()
    );
    let (read_version, fault) = read_fault(&reply.body, &Limits::default())
        .unwrap_or_else(|e| panic!("not a fault ({e}): {}", reply.text()));
    assert_eq!(read_version, version);
    fault
}

/// The fault's reason says `needle`.
#[track_caller]
fn assert_reason(fault: &Fault, needle: &str) {
    assert!(fault.reason().contains(needle), "{}", fault.reason());
}

fn result_of(reply: &Reply) -> String {
    between(&reply.text(), "<result>", "</result>")
        .unwrap_or_else(|| panic!("no result in {}", reply.text()))
        .to_owned()
}

#[tokio::test]
async fn echo_over_soap11_by_action_and_by_body_element() {
    let (gw, _) = gateway().await;
    let body = envelope(
        SoapVersion::Soap11,
        "",
        &echo_body("a &lt; b &amp; <![CDATA[<c> & d]]>&#x263A;"),
    );
    for action in [Some(ECHO_ACTION), None, Some(""), Some("urn:unrelated")] {
        let reply = http1(
            gw.addr(),
            soap(SoapVersion::Soap11, ECHO, action, body.clone()),
        )
        .await;
        assert_eq!(reply.status, 200, "{action:?}: {}", reply.text());
        assert_eq!(content_type(&reply), "text/xml; charset=utf-8");
        let text = reply.text();
        assert!(text.contains(S11), "{text}");
        assert!(
            text.contains("echoStringResponse xmlns:e=\"urn:ithaca:bench:echo\""),
            "{text}"
        );
        assert_eq!(
            result_of(&reply),
            "a &lt; b &amp; &lt;c&gt; &amp; d\u{263A}"
        );
    }
}

#[tokio::test]
async fn echo_over_soap12_with_and_without_the_action_parameter() {
    let (gw, _) = gateway().await;
    let body = envelope(SoapVersion::Soap12, "", &echo_body("hello"));
    for action in [Some(ECHO_ACTION), None] {
        let reply = http1(
            gw.addr(),
            soap(SoapVersion::Soap12, ECHO12, action, body.clone()),
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert_eq!(content_type(&reply), "application/soap+xml; charset=utf-8");
        assert!(reply.text().contains(S12));
        assert_eq!(result_of(&reply), "hello");
    }
    // And over h2c.
    let reply = h2c(
        gw.addr(),
        soap(SoapVersion::Soap12, ECHO12, Some(ECHO_ACTION), body),
    )
    .await;
    assert_eq!((reply.status, reply.version), (200, http::Version::HTTP_2));
    assert_eq!(result_of(&reply), "hello");
}

#[tokio::test]
async fn wsdl_is_published_with_the_addresses_the_client_used() {
    let (gw, _) = gateway().await;
    let request = http::Request::get(format!("{ECHO}?wsdl"))
        .header("host", "gw.example:9999")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let reply = http1(gw.addr(), request).await;
    assert_eq!(reply.status, 200);
    assert_eq!(content_type(&reply), "text/xml; charset=utf-8");
    let loaded = ithaca_wsdl::load_bytes("published.wsdl", &reply.body, &Default::default());
    assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics);
    let service = loaded.definitions.service("EchoService").unwrap();
    let addresses: Vec<(&str, Option<&str>)> = service
        .ports
        .iter()
        .map(|p| (p.name.as_str(), p.address.as_deref()))
        .collect();
    assert_eq!(
        addresses,
        [
            (
                "EchoSoap11Port",
                Some("http://gw.example:9999/services/EchoService")
            ),
            (
                "EchoSoap12Port",
                Some("http://gw.example:9999/services/EchoService/soap12")
            ),
        ]
    );
    // The same contract from the SOAP 1.2 path, `?WSDL` in capitals.
    let reply = http1(gw.addr(), support::get(&format!("{ECHO12}?WSDL"))).await;
    assert_eq!(reply.status, 200);
    assert!(
        reply
            .text()
            .contains(r#"location="http://ithaca.test/services/EchoService/soap12""#)
    );
    // A Host that cannot be an authority is refused, not echoed into XML.
    let request = http::Request::get(format!("{SHOP}?wsdl"))
        .header("host", "x\"><evil/>")
        .body(Full::new(Bytes::new()))
        .unwrap();
    assert_eq!(http1(gw.addr(), request).await.status, 400);
}

#[tokio::test]
async fn other_methods_and_queries_are_refused() {
    let (gw, _) = gateway().await;
    let reply = http1(gw.addr(), support::get(ECHO)).await;
    assert_eq!(reply.status, 405);
    assert_eq!(reply.headers["allow"], "GET, POST");
    // `?xsd=N` names an imported document; this contract imports none.
    let reply = http1(gw.addr(), support::get(&format!("{ECHO}?xsd=1"))).await;
    assert_eq!(reply.status, 404);
    let reply = http1(gw.addr(), support::get(&format!("{ECHO}?other"))).await;
    assert_eq!(reply.status, 405);
    let put = http::Request::put(ECHO)
        .header("host", "ithaca.test")
        .body(Full::new(Bytes::new()))
        .unwrap();
    assert_eq!(http1(gw.addr(), put).await.status, 405);
}

#[tokio::test]
async fn a_wrong_content_type_is_a_plain_415_or_400() {
    let (gw, _) = gateway().await;
    let body = envelope(SoapVersion::Soap11, "", &echo_body("x"));
    for (content_type, status) in [
        (Some("application/json"), 415),
        (Some("application/xml"), 415),
        (None, 415),
        (Some("text/xml; charset"), 400),
    ] {
        let reply = http1(gw.addr(), raw(ECHO, content_type, body.clone())).await;
        assert_eq!(reply.status, status, "{content_type:?}");
        assert_eq!(self::content_type(&reply), "text/plain; charset=utf-8");
        assert!(!reply.text().contains("Envelope"));
    }
    // A SOAP media type in another charset: the version is known, so the
    // answer is a fault of that version (with 415).
    let reply = http1(
        gw.addr(),
        raw(ECHO, Some("text/xml; charset=iso-8859-1"), body),
    )
    .await;
    let f = fault(&reply, SoapVersion::Soap11, 415);
    assert_eq!(f.code, FaultCode::Sender);
    assert!(f.reason().contains("iso-8859-1"));
}

#[tokio::test]
async fn the_other_soap_version_is_a_soap11_version_mismatch() {
    let (gw, _) = gateway().await;
    let reply = http1(
        gw.addr(),
        soap(
            SoapVersion::Soap12,
            ECHO,
            None,
            envelope(SoapVersion::Soap12, "", &echo_body("x")),
        ),
    )
    .await;
    let f = fault(&reply, SoapVersion::Soap11, 500);
    assert_eq!(f.code, FaultCode::VersionMismatch);
    assert!(reply.text().contains("Upgrade"));
    let reply = http1(
        gw.addr(),
        soap(
            SoapVersion::Soap11,
            ECHO12,
            None,
            envelope(SoapVersion::Soap11, "", &echo_body("x")),
        ),
    )
    .await;
    assert_eq!(
        fault(&reply, SoapVersion::Soap11, 500).code,
        FaultCode::VersionMismatch
    );
}

#[tokio::test]
async fn unreadable_envelopes_answer_their_faults() {
    let (gw, _) = gateway().await;
    let cases: Vec<(String, FaultCode, &str)> = vec![
        ("<s:Envelope xmlns:s=\"SOAP\"><s:Body/></s:Envelope>".into(), FaultCode::VersionMismatch, "not a SOAP"),
        ("<notsoap/>".into(), FaultCode::VersionMismatch, "not a SOAP"),
        ("<s:Envelope xmlns:s=\"NS\"><s:Body>".into(), FaultCode::Sender, ""),
        ("".into(), FaultCode::Sender, "empty"),
        ("<s:Envelope xmlns:s=\"NS\"></s:Envelope>".into(), FaultCode::Sender, "no Body"),
        ("<s:Envelope xmlns:s=\"NS\"><s:Body><a></b></s:Body></s:Envelope>".into(), FaultCode::Sender, "malformed"),
        ("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><s:Envelope xmlns:s=\"NS\"><s:Body/></s:Envelope>".into(), FaultCode::Sender, "ISO-8859-1"),
        (format!("<s:Envelope xmlns:s=\"NS\"><s:Body>{}{}</s:Body></s:Envelope>", "<a>".repeat(80), "</a>".repeat(80)), FaultCode::Sender, "deeper"),
        (
            "<s:Envelope xmlns:s=\"NS\"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>x</faultstring></s:Fault></s:Body></s:Envelope>".into(),
            FaultCode::Sender,
            "must not carry a SOAP fault",
        ),
    ];
    for version in [SoapVersion::Soap11, SoapVersion::Soap12] {
        let (path, ns) = match version {
            SoapVersion::Soap11 => (ECHO, S11),
            SoapVersion::Soap12 => (ECHO12, S12),
        };
        for (body, code, reason) in &cases {
            let body = body.replace("\"NS\"", &format!("\"{ns}\""));
            let reply = http1(gw.addr(), soap(version, path, None, body.clone())).await;
            let status = if version == SoapVersion::Soap12 && *code == FaultCode::Sender {
                400
            } else {
                500
            };
            let f = fault(&reply, version, status);
            assert_eq!(f.code, *code, "{body}: {}", f.reason());
            assert!(f.reason().contains(reason), "{body}: {}", f.reason());
        }
        // The envelope must be of the version the content type announces.
        let other = match version {
            SoapVersion::Soap11 => SoapVersion::Soap12,
            SoapVersion::Soap12 => SoapVersion::Soap11,
        };
        let reply = http1(
            gw.addr(),
            soap(version, path, None, envelope(other, "", &echo_body("x"))),
        )
        .await;
        let f = fault(
            &reply,
            version,
            if version == SoapVersion::Soap12 {
                400
            } else {
                500
            },
        );
        assert_reason(&f, "content type announces");
    }
}

#[tokio::test]
async fn doctype_and_billion_laughs_are_refused_unexpanded() {
    let (gw, _) = gateway().await;
    let laughs = format!(
        r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">{}]><s:Envelope xmlns:s="NS"><s:Body><e:echoString><text>&lol9;</text></e:echoString></s:Body></s:Envelope>"#,
        (1..10)
            .map(|i| format!(
                "<!ENTITY lol{i} \"{}\">",
                format!("&lol{};", i - 1).repeat(10)
            ))
            .collect::<String>()
    );
    let external = r#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><s:Envelope xmlns:s="NS"><s:Body><e:echoString xmlns:e="urn:ithaca:bench:echo"><text>&xxe;</text></e:echoString></s:Body></s:Envelope>"#;
    let undeclared = r#"<s:Envelope xmlns:s="NS"><s:Body><e:echoString xmlns:e="urn:ithaca:bench:echo"><text>&lol9;</text></e:echoString></s:Body></s:Envelope>"#;
    for (version, path, ns) in [
        (SoapVersion::Soap11, ECHO, S11),
        (SoapVersion::Soap12, ECHO12, S12),
    ] {
        for (body, reason) in [
            (
                laughs.as_str(),
                "document type declarations are not allowed",
            ),
            (external, "document type declarations are not allowed"),
            (undeclared, "undeclared entity `lol9`"),
        ] {
            let body = body.replace("\"NS\"", &format!("\"{ns}\""));
            let reply = http1(gw.addr(), soap(version, path, None, body)).await;
            let status = if version == SoapVersion::Soap12 {
                400
            } else {
                500
            };
            let f = fault(&reply, version, status);
            assert_eq!(f.code, FaultCode::Sender);
            assert_reason(&f, reason);
            assert!(!reply.text().contains("lollol") && !reply.text().contains("root:"));
        }
    }
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let (gw, _) = gateway_with(true, |config| config.server.max_body_size = ByteSize(4096)).await;
    let big = envelope(SoapVersion::Soap11, "", &echo_body(&"x".repeat(8000)));
    // With a Content-Length.
    let reply = http1(
        gw.addr(),
        soap(SoapVersion::Soap11, ECHO, None, big.clone()),
    )
    .await;
    assert_eq!(reply.status, 413);
    // Chunked, with no declared length: refused while reading.
    let request = format!(
        "POST {ECHO} HTTP/1.1\r\nhost: x\r\ncontent-type: text/xml\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{big}\r\n0\r\n\r\n",
        big.len()
    );
    assert_eq!(
        support::raw_exchange(gw.addr(), request.as_bytes()).await,
        support::RawOutcome::Complete(413)
    );
    // Under the limit is fine.
    let small = envelope(SoapVersion::Soap11, "", &echo_body("small"));
    assert_eq!(
        http1(gw.addr(), soap(SoapVersion::Soap11, ECHO, None, small))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn must_understand_headers_the_service_does_not_know_are_faults() {
    let (gw, _) = gateway().await;
    for (version, path) in [(SoapVersion::Soap11, ECHO), (SoapVersion::Soap12, ECHO12)] {
        let mu = if version == SoapVersion::Soap11 {
            "1"
        } else {
            "true"
        };
        let header =
            format!(r#"<t:Trace xmlns:t="urn:trace" s:mustUnderstand="{mu}">42</t:Trace>"#);
        let reply = http1(
            gw.addr(),
            soap(
                version,
                path,
                None,
                envelope(version, &header, &echo_body("x")),
            ),
        )
        .await;
        let f = fault(&reply, version, 500);
        assert_eq!(f.code, FaultCode::MustUnderstand);
        assert!(f.reason().contains("{urn:trace}Trace"));
        if version == SoapVersion::Soap12 {
            assert_eq!(f.not_understood, vec![QName::new("urn:trace", "Trace")]);
        }
        // Not mustUnderstand, or aimed at another node: ignored.
        for header in [
            r#"<t:Trace xmlns:t="urn:trace">42</t:Trace>"#.to_owned(),
            format!(
                r#"<t:Trace xmlns:t="urn:trace" s:mustUnderstand="{mu}" s:{}="urn:some-other-node">42</t:Trace>"#,
                version.role_attribute()
            ),
        ] {
            let reply = http1(
                gw.addr(),
                soap(
                    version,
                    path,
                    None,
                    envelope(version, &header, &echo_body("x")),
                ),
            )
            .await;
            assert_eq!(reply.status, 200, "{}", reply.text());
        }
    }
    // A header the contract binds is understood.
    let header = r#"<shop:trace s:mustUnderstand="1">abc</shop:trace>"#;
    let reply = http1(
        gw.addr(),
        soap(
            SoapVersion::Soap11,
            SHOP,
            Some("urn:shop#order"),
            envelope(SoapVersion::Soap11, header, &order_body("pen", "3")),
        ),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
}

#[tokio::test]
async fn unknown_and_conflicting_operations_are_client_faults_naming_them() {
    let (gw, _) = gateway().await;
    for (version, path, status) in [
        (SoapVersion::Soap11, SHOP, 500),
        (SoapVersion::Soap12, SHOP12, 400),
    ] {
        let body = envelope(
            version,
            "",
            "<shop:refund><shop:item>x</shop:item></shop:refund>",
        );
        let reply = http1(
            gw.addr(),
            soap(version, path, Some("urn:shop#refund"), body),
        )
        .await;
        let f = fault(&reply, version, status);
        assert_eq!(f.code, FaultCode::Sender);
        assert_reason(&f, "{urn:ithaca:test:shop}refund");
        assert_reason(&f, "urn:shop#refund");

        let body = envelope(version, "", &order_body("pen", "1"));
        let reply = http1(
            gw.addr(),
            soap(version, path, Some("urn:shop#notify"), body),
        )
        .await;
        let f = fault(&reply, version, status);
        assert_reason(&f, "names the operation `notify`");
    }
}

#[tokio::test]
async fn requests_are_validated_against_the_schema() {
    let (gw, _) = gateway().await;
    for (version, path, status) in [
        (SoapVersion::Soap11, SHOP, 500),
        (SoapVersion::Soap12, SHOP12, 400),
    ] {
        let reply = http1(
            gw.addr(),
            soap(
                version,
                path,
                None,
                envelope(version, "", &order_body("pen", "many")),
            ),
        )
        .await;
        let f = fault(&reply, version, status);
        assert_eq!(f.code, FaultCode::Sender);
        assert_reason(&f, "/order/count");
        assert_reason(&f, "xs:int");
        let reply = http1(
            gw.addr(),
            soap(
                version,
                path,
                None,
                envelope(version, "", &order_body("pen", "7")),
            ),
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert!(reply.text().contains("<s:total>7</s:total>"));
    }
    // The echo's `text` is unqualified and required.
    let body = envelope(
        SoapVersion::Soap11,
        "",
        "<e:echoString><e:text>x</e:text></e:echoString>",
    );
    let reply = http1(gw.addr(), soap(SoapVersion::Soap11, ECHO, None, body)).await;
    let f = fault(&reply, SoapVersion::Soap11, 500);
    assert_reason(&f, "/echoString");
    let body = envelope(SoapVersion::Soap11, "", "<e:echoString/>");
    let reply = http1(gw.addr(), soap(SoapVersion::Soap11, ECHO, None, body)).await;
    assert_eq!(
        fault(&reply, SoapVersion::Soap11, 500).code,
        FaultCode::Sender
    );
    // A second body element is refused.
    let body = envelope(
        SoapVersion::Soap11,
        "",
        &format!("{}{}", echo_body("a"), echo_body("b")),
    );
    let reply = http1(gw.addr(), soap(SoapVersion::Soap11, ECHO, None, body)).await;
    assert!(
        fault(&reply, SoapVersion::Soap11, 500)
            .reason()
            .contains("holds 2 elements")
    );
}

#[tokio::test]
async fn validation_can_be_turned_off_per_service() {
    let (gw, _) = gateway_with(false, |_| {}).await;
    let body = envelope(SoapVersion::Soap11, "", &order_body("pen", "many"));
    let reply = http1(gw.addr(), soap(SoapVersion::Soap11, SHOP, None, body)).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(reply.text().contains("<s:total>many</s:total>"));
    // The EchoService (validation on) is unaffected.
    let body = envelope(
        SoapVersion::Soap11,
        "",
        "<e:echoString><e:text>x</e:text></e:echoString>",
    );
    let reply = http1(gw.addr(), soap(SoapVersion::Soap11, ECHO, None, body)).await;
    assert!(
        fault(&reply, SoapVersion::Soap11, 500)
            .reason()
            .contains("schema")
    );
}

#[tokio::test]
async fn handler_errors_are_server_faults_or_declared_faults() {
    let (gw, _) = gateway().await;
    for (version, path) in [(SoapVersion::Soap11, SHOP), (SoapVersion::Soap12, SHOP12)] {
        let lookup = "<shop:lookup><shop:item>pen</shop:item></shop:lookup>";
        let reply = http1(
            gw.addr(),
            soap(version, path, Some(""), envelope(version, "", lookup)),
        )
        .await;
        let f = fault(&reply, version, 500);
        assert_eq!(f.code, FaultCode::Receiver);
        assert_eq!(f.reason(), "the catalogue database is down");

        let reply = http1(
            gw.addr(),
            soap(
                version,
                path,
                None,
                envelope(version, "", &order_body("gone", "1")),
            ),
        )
        .await;
        let f = fault(&reply, version, 500);
        assert_eq!(f.code, FaultCode::Receiver);
        assert_eq!(f.reason(), "out of stock");
        assert_eq!(
            f.detail.as_deref(),
            Some(
                r#"<s:outOfStock xmlns:s="urn:ithaca:test:shop"><s:item>gone</s:item></s:outOfStock>"#
            )
        );

        let reply = http1(
            gw.addr(),
            soap(version, path, None, envelope(version, "", "<shop:audit/>")),
        )
        .await;
        let f = fault(&reply, version, 500);
        assert_eq!(f.code, FaultCode::Receiver);
        assert!(f.reason().contains("`audit` is not implemented"));
    }
}

#[tokio::test]
async fn one_way_operations_answer_202_with_no_body() {
    let (gw, notified) = gateway().await;
    for (version, path) in [(SoapVersion::Soap11, SHOP), (SoapVersion::Soap12, SHOP12)] {
        let body = envelope(
            version,
            "",
            "<shop:notify><shop:message>restock</shop:message></shop:notify>",
        );
        let reply = http1(
            gw.addr(),
            soap(version, path, Some("urn:shop#notify"), body),
        )
        .await;
        assert_eq!(reply.status, 202);
        assert!(reply.body.is_empty());
    }
    assert_eq!(*notified.lock().unwrap(), ["restock", "restock"]);
}

#[tokio::test]
async fn soap_routes_are_counted_under_their_route_names() {
    let (gw, _) = gateway().await;
    let body = envelope(SoapVersion::Soap11, "", &echo_body("m"));
    assert_eq!(
        http1(gw.addr(), soap(SoapVersion::Soap11, ECHO, None, body))
            .await
            .status,
        200
    );
    let metrics = http1(gw.addr(), support::get("/metrics")).await.text();
    assert!(
        metrics.contains("soap:EchoService/EchoSoap11Port"),
        "{metrics}"
    );
    let _ = Fault::new(FaultCode::Sender, "");
}

#[tokio::test]
async fn namespaces_declared_on_the_body_are_in_scope_for_validation() {
    let (gw, _) = gateway().await;
    let body = format!(
        r#"<s:Envelope xmlns:s="{S11}" xmlns:e="urn:wrong"><s:Body xmlns:e="urn:ithaca:bench:echo"><e:echoString><text>scoped</text></e:echoString></s:Body></s:Envelope>"#
    );
    let reply = http1(gw.addr(), soap(SoapVersion::Soap11, ECHO, None, body)).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(result_of(&reply), "scoped");
    // Without the Body's declaration the element is in another namespace.
    let body = format!(
        r#"<s:Envelope xmlns:s="{S11}" xmlns:e="urn:wrong"><s:Body><e:echoString><text>x</text></e:echoString></s:Body></s:Envelope>"#
    );
    let reply = http1(gw.addr(), soap(SoapVersion::Soap11, ECHO, None, body)).await;
    let f = fault(&reply, SoapVersion::Soap11, 500);
    assert_reason(&f, "{urn:wrong}echoString");
}

/// A handler made with `with_headers` answers output header blocks: they
/// arrive in the response envelope's `Header`, in the request's version,
/// with the namespaces each block declares, and the body is unchanged.
#[tokio::test]
async fn handlers_answer_output_header_blocks_in_either_version() {
    use ithaca_gateway::soap::{Contract, SoapRequest, SoapResponse, SoapService, with_headers};
    let contract = Contract::from_bytes("shop.wsdl", support::SHOP_WSDL).unwrap();
    let routes = SoapService::builder(contract)
        .operation(
            "order",
            with_headers(|request: SoapRequest| async move {
                let body = String::from_utf8_lossy(request.body()).into_owned();
                let count = between(&body, "count>", "</").unwrap_or_default().to_owned();
                Ok(SoapResponse::new(
                    format!(
                        r#"<s:orderResponse xmlns:s="urn:ithaca:test:shop"><s:total>{count}</s:total></s:orderResponse>"#
                    )
                    .into_bytes(),
                )
                .with_header(format!(
                    r#"<r:receipt xmlns:r="urn:ithaca:test:receipt"><r:count>{count}</r:count></r:receipt>"#
                ))
                .with_header(&br#"<t:trace xmlns:t="urn:ithaca:test:trace">7</t:trace>"#[..]))
            }),
        )
        .build()
        .unwrap();
    let gateway = TestGateway::start(routes, |_| {}).await;
    for (version, path, ns) in [
        (SoapVersion::Soap11, SHOP, S11),
        (SoapVersion::Soap12, SHOP12, S12),
    ] {
        let request = soap(
            version,
            path,
            None,
            envelope(version, "", &order_body("pen", "3")),
        );
        let reply = http1(gateway.addr(), request).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert_eq!(content_type(&reply), version.content_type());
        let text = reply.text();
        let doc = roxmltree::Document::parse(&text).unwrap();
        let root = doc.root_element();
        assert!(root.has_tag_name((ns, "Envelope")), "{text}");
        let mut parts = root.children().filter(roxmltree::Node::is_element);
        let header = parts.next().unwrap();
        assert!(header.has_tag_name((ns, "Header")), "{text}");
        let blocks: Vec<_> = header
            .children()
            .filter(roxmltree::Node::is_element)
            .collect();
        assert_eq!(blocks.len(), 2, "{text}");
        assert!(blocks[0].has_tag_name(("urn:ithaca:test:receipt", "receipt")));
        let count = blocks[0].first_element_child().unwrap();
        assert!(count.has_tag_name(("urn:ithaca:test:receipt", "count")));
        assert_eq!(count.text(), Some("3"));
        assert!(blocks[1].has_tag_name(("urn:ithaca:test:trace", "trace")));
        assert_eq!(blocks[1].text(), Some("7"));
        let body = parts.next().unwrap();
        assert!(body.has_tag_name((ns, "Body")), "{text}");
        let total = body
            .descendants()
            .find(|n| n.has_tag_name(("urn:ithaca:test:shop", "total")));
        assert_eq!(total.and_then(|n| n.text()), Some("3"));
    }
}

/// A header block that is not one well-formed element answers a Receiver
/// fault instead of a broken envelope.
#[tokio::test]
async fn a_malformed_output_header_block_is_a_receiver_fault() {
    use ithaca_gateway::soap::{Contract, SoapRequest, SoapResponse, SoapService, with_headers};
    let contract = Contract::from_bytes("shop.wsdl", support::SHOP_WSDL).unwrap();
    let routes = SoapService::builder(contract)
        .operation(
            "order",
            with_headers(|_request: SoapRequest| async move {
                Ok(SoapResponse::new(
                    br#"<s:orderResponse xmlns:s="urn:ithaca:test:shop"><s:total>1</s:total></s:orderResponse>"#.to_vec(),
                )
                .with_header(&b"<u:unbound>x</u:unbound>"[..]))
            }),
        )
        .build()
        .unwrap();
    let gateway = TestGateway::start(routes, |_| {}).await;
    for (version, path) in [(SoapVersion::Soap11, SHOP), (SoapVersion::Soap12, SHOP12)] {
        let request = soap(
            version,
            path,
            None,
            envelope(version, "", &order_body("pen", "1")),
        );
        let reply = http1(gateway.addr(), request).await;
        let fault = fault(&reply, version, 500);
        assert_eq!(fault.code, FaultCode::Receiver);
        assert_reason(&fault, "bad header block");
    }
}
