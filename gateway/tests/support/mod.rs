//! Helpers for the gateway's integration tests: in-process gateways, a real
//! HTTP client (hyper) and a raw HTTP/1.1 client that shows exactly which
//! bytes came back.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

pub mod heuristic;
pub mod pg_participant;
pub mod serve_node;
pub mod takeover_world;
pub mod transfer_client;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use ithaca_gateway::config::Config;
use ithaca_gateway::{Gateway, Router, RunningGateway};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// An in-process gateway on a free port with its own data directory.
pub struct TestGateway {
    pub gateway: RunningGateway,
    pub data: tempfile::TempDir,
}

impl TestGateway {
    pub async fn start(routes: Router, tweak: impl FnOnce(&mut Config)) -> Self {
        let data = tempfile::tempdir().unwrap();
        let mut config = Config::default();
        config.server.listen = "127.0.0.1:0".parse().unwrap();
        config.storage.data_dir = data.path().join("data");
        // The embedded defaults host a coordinator; a test gateway hosts
        // only the routes it is given unless the test asks for one.
        config.wsat.enabled = false;
        tweak(&mut config);
        let gateway = Gateway::new(config).routes(&routes).start().await.unwrap();
        Self { gateway, data }
    }

    pub fn addr(&self) -> SocketAddr {
        self.gateway.server_addr()
    }
}

/// A response read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
    pub version: http::Version,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One request on a new HTTP/1.1 connection.
pub async fn http1(addr: SocketAddr, request: http::Request<Full<Bytes>>) -> Reply {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let response = sender.send_request(request).await.unwrap();
    collect(response).await
}

/// One request on a new h2c (prior knowledge) connection.
pub async fn h2c(addr: SocketAddr, request: http::Request<Full<Bytes>>) -> Reply {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let response = sender.send_request(request).await.unwrap();
    collect(response).await
}

pub async fn collect(response: http::Response<hyper::body::Incoming>) -> Reply {
    let (parts, body) = response.into_parts();
    Reply {
        status: parts.status.as_u16(),
        headers: parts.headers,
        version: parts.version,
        body: body.collect().await.unwrap().to_bytes(),
    }
}

pub fn get(path: &str) -> http::Request<Full<Bytes>> {
    http::Request::get(path)
        .header("host", "ithaca.test")
        .body(Full::new(Bytes::new()))
        .unwrap()
}

pub fn post(path: &str, body: impl Into<Bytes>) -> http::Request<Full<Bytes>> {
    http::Request::post(path)
        .header("host", "ithaca.test")
        .body(Full::new(body.into()))
        .unwrap()
}

/// What a raw HTTP/1.1 exchange produced.
#[derive(Debug, PartialEq, Eq)]
pub enum RawOutcome {
    /// A complete response with this status.
    Complete(u16),
    /// The connection closed or failed before any response byte: the server
    /// never accepted the request.
    Refused,
    /// Some response bytes, then the connection ended: a lost request.
    Truncated(usize),
}

/// Sends `request` bytes on a new connection and reads one response,
/// telling a complete response from a refused or truncated one.
pub async fn raw_exchange(addr: SocketAddr, request: &[u8]) -> RawOutcome {
    let Ok(mut stream) = TcpStream::connect(addr).await else {
        return RawOutcome::Refused;
    };
    if stream.write_all(request).await.is_err() {
        return RawOutcome::Refused;
    }
    read_response(&mut stream).await
}

/// Reads one `Content-Length` response from `stream`.
pub async fn read_response(stream: &mut TcpStream) -> RawOutcome {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(outcome) = parse_complete(&buf) {
            return outcome;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) if buf.is_empty() => return RawOutcome::Refused,
            Ok(0) | Err(_) => return RawOutcome::Truncated(buf.len()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn parse_complete(buf: &[u8]) -> Option<RawOutcome> {
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&buf[..head_end]).ok()?;
    let status: u16 = head.split(' ').nth(1)?.parse().ok()?;
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    (buf.len() >= head_end + length).then_some(RawOutcome::Complete(status))
}

/// Waits until `check` holds, or panics after `timeout`.
pub async fn eventually(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !check() {
        assert!(start.elapsed() < timeout, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A test contract with what the EchoService lacks: qualified elements, an
/// `xs:int`, a bound header, a declared fault, a one-way operation, an
/// operation dispatched by body only and one without a handler.
pub const SHOP_WSDL: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<definitions name="Shop" targetNamespace="urn:ithaca:test:shop"
    xmlns="http://schemas.xmlsoap.org/wsdl/" xmlns:tns="urn:ithaca:test:shop"
    xmlns:xs="http://www.w3.org/2001/XMLSchema"
    xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
    xmlns:soap12="http://schemas.xmlsoap.org/wsdl/soap12/">
  <types>
    <xs:schema targetNamespace="urn:ithaca:test:shop" elementFormDefault="qualified">
      <xs:element name="order"><xs:complexType><xs:sequence>
        <xs:element name="item" type="xs:string"/>
        <xs:element name="count" type="xs:int"/>
      </xs:sequence></xs:complexType></xs:element>
      <xs:element name="orderResponse"><xs:complexType><xs:sequence>
        <xs:element name="total" type="xs:string"/>
      </xs:sequence></xs:complexType></xs:element>
      <xs:element name="outOfStock"><xs:complexType><xs:sequence>
        <xs:element name="item" type="xs:string"/>
      </xs:sequence></xs:complexType></xs:element>
      <xs:element name="notify"><xs:complexType><xs:sequence>
        <xs:element name="message" type="xs:string"/>
      </xs:sequence></xs:complexType></xs:element>
      <xs:element name="lookup"><xs:complexType><xs:sequence>
        <xs:element name="item" type="xs:string"/>
      </xs:sequence></xs:complexType></xs:element>
      <xs:element name="lookupResponse"><xs:complexType><xs:sequence>
        <xs:element name="found" type="xs:string"/>
      </xs:sequence></xs:complexType></xs:element>
      <xs:element name="audit"><xs:complexType><xs:sequence/></xs:complexType></xs:element>
      <xs:element name="auditResponse"><xs:complexType><xs:sequence/></xs:complexType></xs:element>
      <xs:element name="trace" type="xs:string"/>
    </xs:schema>
  </types>
  <message name="orderIn"><part name="parameters" element="tns:order"/><part name="trace" element="tns:trace"/></message>
  <message name="orderOut"><part name="parameters" element="tns:orderResponse"/></message>
  <message name="outOfStock"><part name="fault" element="tns:outOfStock"/></message>
  <message name="notifyIn"><part name="parameters" element="tns:notify"/></message>
  <message name="lookupIn"><part name="parameters" element="tns:lookup"/></message>
  <message name="lookupOut"><part name="parameters" element="tns:lookupResponse"/></message>
  <message name="auditIn"><part name="parameters" element="tns:audit"/></message>
  <message name="auditOut"><part name="parameters" element="tns:auditResponse"/></message>
  <portType name="Shop">
    <operation name="order">
      <input message="tns:orderIn"/><output message="tns:orderOut"/>
      <fault name="OutOfStock" message="tns:outOfStock"/>
    </operation>
    <operation name="notify"><input message="tns:notifyIn"/></operation>
    <operation name="lookup"><input message="tns:lookupIn"/><output message="tns:lookupOut"/></operation>
    <operation name="audit"><input message="tns:auditIn"/><output message="tns:auditOut"/></operation>
  </portType>
  <binding name="ShopSoap11" type="tns:Shop">
    <soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <operation name="order">
      <soap:operation soapAction="urn:shop#order"/>
      <input><soap:body parts="parameters" use="literal"/><soap:header message="tns:orderIn" part="trace" use="literal"/></input>
      <output><soap:body use="literal"/></output>
      <fault name="OutOfStock"><soap:fault name="OutOfStock" use="literal"/></fault>
    </operation>
    <operation name="notify">
      <soap:operation soapAction="urn:shop#notify"/>
      <input><soap:body use="literal"/></input>
    </operation>
    <operation name="lookup">
      <soap:operation soapAction=""/>
      <input><soap:body use="literal"/></input><output><soap:body use="literal"/></output>
    </operation>
    <operation name="audit">
      <soap:operation soapAction="urn:shop#audit"/>
      <input><soap:body use="literal"/></input><output><soap:body use="literal"/></output>
    </operation>
  </binding>
  <binding name="ShopSoap12" type="tns:Shop">
    <soap12:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <operation name="order">
      <soap12:operation soapAction="urn:shop#order"/>
      <input><soap12:body parts="parameters" use="literal"/><soap12:header message="tns:orderIn" part="trace" use="literal"/></input>
      <output><soap12:body use="literal"/></output>
      <fault name="OutOfStock"><soap12:fault name="OutOfStock" use="literal"/></fault>
    </operation>
    <operation name="notify">
      <soap12:operation soapAction="urn:shop#notify"/>
      <input><soap12:body use="literal"/></input>
    </operation>
    <operation name="lookup">
      <soap12:operation soapAction=""/>
      <input><soap12:body use="literal"/></input><output><soap12:body use="literal"/></output>
    </operation>
    <operation name="audit">
      <soap12:operation soapAction="urn:shop#audit"/>
      <input><soap12:body use="literal"/></input><output><soap12:body use="literal"/></output>
    </operation>
  </binding>
  <service name="ShopService">
    <port name="ShopSoap11Port" binding="tns:ShopSoap11"><soap:address location="http://localhost/shop"/></port>
    <port name="ShopSoap12Port" binding="tns:ShopSoap12"><soap12:address location="http://localhost/shop12"/></port>
  </service>
</definitions>"#;

/// The text between the first `open` and the next `close` after it.
pub fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    let end = start + text[start..].find(close)?;
    Some(&text[start..end])
}

/// The shop service at `/services/ShopService` (and `/soap12`): `order`
/// echoes its count back as the total (or raises the declared fault
/// `OutOfStock` for the item `gone`), `notify` records its message in
/// `notified`, `lookup` always fails, `audit` has no handler.
pub fn shop_service(
    validation: bool,
    notified: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
) -> Router {
    use ithaca_gateway::soap::{Contract, SoapError, SoapRequest, SoapService};
    let contract = Contract::from_bytes("shop.wsdl", SHOP_WSDL).unwrap();
    SoapService::builder(contract)
        .validation(validation)
        .operation("order", |request: SoapRequest| async move {
            let body = String::from_utf8_lossy(request.body()).into_owned();
            let item = between(&body, "item>", "</").unwrap_or_default();
            if item == "gone" {
                return Err(SoapError::declared(
                    "OutOfStock",
                    "out of stock",
                    r#"<s:outOfStock xmlns:s="urn:ithaca:test:shop"><s:item>gone</s:item></s:outOfStock>"#,
                ));
            }
            let count = between(&body, "count>", "</").unwrap_or_default();
            Ok(format!(
                r#"<s:orderResponse xmlns:s="urn:ithaca:test:shop"><s:total>{count}</s:total></s:orderResponse>"#
            )
            .into_bytes())
        })
        .operation("notify", move |request: SoapRequest| {
            let notified = notified.clone();
            async move {
                let body = String::from_utf8_lossy(request.body()).into_owned();
                let message = between(&body, "message>", "</").unwrap_or_default();
                notified.lock().unwrap().push(message.to_owned());
                Ok(Vec::new())
            }
        })
        .operation("lookup", |_request: SoapRequest| async move {
            Err(SoapError::receiver("the catalogue database is down"))
        })
        .build()
        .unwrap()
}

/// Clients that send `request`, each on a new connection, one after
/// another, until `stop` is set or a request is refused (the listener is
/// closed). Every new connection makes each refusal visible as such.
pub struct Load {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    clients: Vec<tokio::task::JoinHandle<Vec<RawOutcome>>>,
}

impl Load {
    pub fn start(addr: SocketAddr, request: &'static [u8], clients: usize) -> Self {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let clients = (0..clients)
            .map(|_| {
                let stop = stop.clone();
                tokio::spawn(async move {
                    let mut outcomes = Vec::new();
                    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                        let outcome = raw_exchange(addr, request).await;
                        let refused = outcome == RawOutcome::Refused;
                        outcomes.push(outcome);
                        if refused {
                            break;
                        }
                    }
                    outcomes
                })
            })
            .collect();
        Self { stop, clients }
    }

    /// Stops the clients and returns how many complete responses came
    /// back, asserting that none was cut short and every status is allowed.
    pub async fn finish(self, allowed: &[u16]) -> usize {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let mut complete = 0;
        for client in self.clients {
            for outcome in client.await.unwrap() {
                match outcome {
                    RawOutcome::Complete(status) => {
                        assert!(allowed.contains(&status), "status {status}");
                        complete += 1;
                    }
                    RawOutcome::Refused => {}
                    RawOutcome::Truncated(n) => panic!("a response was cut after {n} bytes"),
                }
            }
        }
        complete
    }
}

/// A WS-AT coordinator for tests: the SQLite log at `log` (instance
/// `test`), resends after 300 ms, a fixed correlation key, envelopes up to
/// 64 KiB; returned once its log is loaded.
pub async fn test_coordinator(log: &std::path::Path) -> ithaca_gateway::wsat::WsatHost {
    let log = ithaca_txn::log::SqliteLog::open(log, "test").await.unwrap();
    let mut driver = ithaca_txn::driver::DriverConfig::default();
    driver.engine.resend_after = Duration::from_millis(300);
    let host = ithaca_gateway::wsat::WsatHost::start(ithaca_gateway::wsat::WsatSettings {
        log: std::sync::Arc::new(log),
        key: ithaca_txn::wire::CorrelationKey::from_bytes([7; 32]),
        public_url: None,
        driver,
        limits: ithaca_wsdl::Limits {
            max_size: 64 * 1024,
            ..ithaca_wsdl::Limits::DEFAULT
        },
        wire: ithaca_txn::wire::WireLimits::default(),
    })
    .unwrap();
    host.service().recovered().await.unwrap();
    host
}
