//! `ithaca mock FILE.wsdl` as a user runs it: the binary hosts every SOAP
//! port of a contract and answers schema-valid samples; zeep loads the
//! mock's `?wsdl` and calls operations. The corpus tier does the same for
//! real contracts in `../shared/corpus/wsdl` when that folder exists.

#![allow(clippy::unwrap_used)]

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use http::header::CONTENT_TYPE;
use ithaca_wsdl::wsdl11::{OperationInfo, Style, Use};
use ithaca_wsdl::xsd::{InstanceLimits, SampleLimits};
use ithaca_wsdl::{Limits, LoadOptions, Loaded, load_file, read_envelope};
use support::{get, http1, post};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/publish")
        .join(name)
}

/// One port the mock announced.
#[derive(Debug, Clone)]
struct MockedPort {
    service: String,
    port: String,
    version: String,
    url: String,
}

/// A running `ithaca mock`; killed when dropped.
struct Mock {
    child: Child,
    base: String,
    ports: Vec<MockedPort>,
}

impl Mock {
    /// Starts the mock on a free port and reads what it announces, or
    /// returns its stderr when it exits first.
    fn start(wsdl: &Path) -> Result<Self, String> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ithaca"))
            .args(["mock", "--listen", "127.0.0.1:0"])
            .arg(wsdl)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut base = String::new();
        let mut ports = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if let Some(rest) = line.strip_prefix("ithaca mock is running on ") {
                base = rest.to_owned();
            } else if let Some(rest) = line.strip_prefix("  mock: ") {
                let fields: Vec<&str> = rest.split_whitespace().collect();
                ports.push(MockedPort {
                    service: fields[0].to_owned(),
                    port: fields[1].to_owned(),
                    version: fields[3].to_owned(),
                    url: fields[4].to_owned(),
                });
            } else if line.starts_with("stop with") {
                return Ok(Self { child, base, ports });
            }
        }
        let output = child.wait_with_output().unwrap();
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }

    fn port(&self, name: &str) -> &MockedPort {
        self.ports.iter().find(|p| p.port == name).unwrap()
    }

    fn addr(&self) -> std::net::SocketAddr {
        self.base.trim_start_matches("http://").parse().unwrap()
    }

    /// Sends SIGTERM and waits for the exit status.
    fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the mock did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn path_of(url: &str) -> String {
    let rest = url.trim_start_matches("http://");
    rest[rest.find('/').unwrap()..].to_owned()
}

fn envelope(version: &str, body: &str) -> String {
    let ns = if version == "1.2" {
        "http://www.w3.org/2003/05/soap-envelope"
    } else {
        "http://schemas.xmlsoap.org/soap/envelope/"
    };
    format!(r#"<s:Envelope xmlns:s="{ns}"><s:Body>{body}</s:Body></s:Envelope>"#)
}

fn soap_post(
    version: &str,
    path: &str,
    action: &str,
    body: &str,
) -> http::Request<http_body_util::Full<bytes::Bytes>> {
    let mut request = post(path, envelope(version, body));
    let content_type = if version == "1.2" {
        format!("application/soap+xml; charset=utf-8; action=\"{action}\"")
    } else {
        "text/xml; charset=utf-8".to_owned()
    };
    request
        .headers_mut()
        .insert(CONTENT_TYPE, content_type.parse().unwrap());
    request
        .headers_mut()
        .insert("soapaction", format!("\"{action}\"").parse().unwrap());
    request
}

/// Checks that a response envelope's body holds a valid instance of the
/// operation's output element.
fn assert_valid_response(loaded: &Loaded, op: &OperationInfo, response: &[u8]) {
    let envelope = read_envelope(response, None, &Limits::default()).unwrap();
    let payload = std::str::from_utf8(&response[envelope.body.payload.clone()]).unwrap();
    let element = op.output.as_ref().unwrap().body_name.clone().unwrap();
    if op.style == Style::Document {
        loaded
            .schema
            .validate_element(
                payload,
                &envelope.body.namespaces,
                Some(&element),
                &InstanceLimits::default(),
            )
            .unwrap_or_else(|v| panic!("{payload}\n{v:?}"));
    } else {
        assert!(
            payload.contains(&format!(":{}", element.local)),
            "{payload}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_mock_answers_every_port_with_valid_samples_and_stops_on_sigterm() {
    let wsdl = fixture("multi.wsdl");
    let loaded = load_file(&wsdl, &LoadOptions::default());
    let operations = loaded.definitions.operations(&loaded.schema);
    let mock = Mock::start(&wsdl).unwrap();
    let names: Vec<(&str, &str, &str)> = mock
        .ports
        .iter()
        .map(|p| (p.service.as_str(), p.port.as_str(), p.version.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("AccountService", "AccountsSoap11Port", "1.1"),
            ("AccountService", "AccountsSoap12Port", "1.2"),
            ("ClockService", "ClockPort", "1.1"),
        ]
    );
    // Paths come from the addresses, or /mock/SERVICE/PORT without one.
    assert_eq!(
        path_of(&mock.port("AccountsSoap11Port").url),
        "/bank/accounts"
    );
    assert_eq!(
        path_of(&mock.port("AccountsSoap12Port").url),
        "/bank/accounts12"
    );
    assert_eq!(
        path_of(&mock.port("ClockPort").url),
        "/mock/ClockService/ClockPort"
    );

    let request = r#"<getAccount xmlns="urn:ithaca:test:multi"><id>7</id></getAccount>"#;
    let get_account = operations
        .iter()
        .find(|op| op.name == "getAccount")
        .unwrap();
    for port in ["AccountsSoap11Port", "AccountsSoap12Port"] {
        let port = mock.port(port);
        let path = path_of(&port.url);
        let reply = http1(
            mock.addr(),
            soap_post(
                &port.version,
                &path,
                "urn:ithaca:test:multi:getAccount",
                request,
            ),
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert_valid_response(&loaded, get_account, &reply.body);
        // The abstract account type is answered as its concrete subtype.
        assert!(
            reply.text().contains(r#"xsi:type="st:Savings""#),
            "{}",
            reply.text()
        );
        // Validation is on: a bad request is a Client / Sender fault.
        let bad = http1(
            mock.addr(),
            soap_post(
                &port.version,
                &path,
                "urn:ithaca:test:multi:getAccount",
                r#"<getAccount xmlns="urn:ithaca:test:multi"><id>x</id></getAccount>"#,
            ),
        )
        .await;
        assert!(matches!(bad.status, 400 | 500), "{}", bad.text());
        assert!(bad.text().contains("/getAccount/id"), "{}", bad.text());
    }

    // Every port's ?wsdl publishes the mock's address for every port of
    // both services, the other service's included.
    for port in &mock.ports {
        let wsdl = http1(mock.addr(), get(&format!("{}?wsdl", path_of(&port.url)))).await;
        assert_eq!(wsdl.status, 200);
        let text = wsdl.text();
        for location in [
            "http://ithaca.test/bank/accounts",
            "http://ithaca.test/bank/accounts12",
            "http://ithaca.test/mock/ClockService/ClockPort",
        ] {
            assert!(
                text.contains(&format!("location=\"{location}\"")),
                "{}: {location} not in {text}",
                port.port
            );
        }
        assert!(!text.contains("accounts.example"), "{text}");
        assert!(!text.contains("REPLACE_WITH_ACTUAL_URL"), "{text}");
    }

    let clock = path_of(&mock.port("ClockPort").url);
    let now = operations.iter().find(|op| op.name == "now").unwrap();
    let reply = http1(
        mock.addr(),
        soap_post(
            "1.1",
            &clock,
            "",
            r#"<c:now xmlns:c="urn:ithaca:test:clock"><zone>UTC</zone></c:now>"#,
        ),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_valid_response(&loaded, now, &reply.body);
    assert!(
        reply
            .text()
            .contains("<time>2024-01-01T00:00:00Z</time><dst>true</dst>"),
        "{}",
        reply.text()
    );
    let tick = http1(
        mock.addr(),
        soap_post(
            "1.1",
            &clock,
            "urn:ithaca:test:clock:tick",
            r#"<c:tick xmlns:c="urn:ithaca:test:clock"><count>1</count></c:tick>"#,
        ),
    )
    .await;
    assert_eq!(tick.status, 202, "{}", tick.text());

    let status = mock.terminate();
    assert_eq!(status.code(), Some(0), "{status:?}");
}

#[test]
fn the_mock_refuses_what_it_cannot_host() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.wsdl");
    std::fs::write(&broken, "<definitions").unwrap();
    let error = Mock::start(&broken).err().unwrap();
    assert!(error.contains("broken.wsdl:1:"), "{error}");
    let error = Mock::start(&dir.path().join("missing.wsdl")).err().unwrap();
    assert!(error.contains("missing.wsdl"), "{error}");
}

/// Runs the zeep driver against one mocked operation; `Err` has zeep's
/// reason.
fn zeep_call(port: &MockedPort, operation: &str, request: &str) -> Result<String, String> {
    let python = ithaca_testkit::interop::python().unwrap_or_else(|e| panic!("{e}"));
    let script = ithaca_testkit::interop::repo_root().join("tests/interop/python/zeep_call.py");
    let output = Command::new(python)
        .arg(script)
        .env("ITHACA_WSDL_URL", format!("{}?wsdl", port.url))
        .env("ITHACA_SERVICE", &port.service)
        .env("ITHACA_PORT", &port.port)
        .env("ITHACA_OPERATION", operation)
        .env("ITHACA_REQUEST", request)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() && stdout.starts_with("ok") {
        Ok(stdout)
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        Err(stderr.lines().last().unwrap_or("no output").to_owned())
    }
}

#[test]
fn zeep_calls_the_mock_over_soap11_soap12_and_rpc() {
    let wsdl = fixture("multi.wsdl");
    let loaded = load_file(&wsdl, &LoadOptions::default());
    let operations = loaded.definitions.operations(&loaded.schema);
    let mock = Mock::start(&wsdl).unwrap();
    for (port, operation) in [
        ("AccountsSoap11Port", "getAccount"),
        ("AccountsSoap12Port", "getAccount"),
        ("ClockPort", "now"),
    ] {
        let op = operations.iter().find(|op| op.name == operation).unwrap();
        let request =
            loaded
                .schema
                .sample_body(&loaded.definitions, op, false, &SampleLimits::default());
        let result = zeep_call(mock.port(port), operation, &request)
            .unwrap_or_else(|e| panic!("{port} {operation}: {e}"));
        assert!(
            result.contains("'sample'") || result.contains("datetime"),
            "{result}"
        );
    }
}

/// At most this many corpus contracts are tried, so the tier stays near
/// two minutes in a debug build.
const MAX_CORPUS_TRIES: usize = 60;

/// The operation of a contract the corpus tier calls: the first literal
/// request-response operation of a hosted SOAP/HTTP port whose input
/// zeep can take as keyword arguments (one element part, or rpc), without
/// header parts.
fn callable(loaded: &Loaded) -> Option<(String, String, OperationInfo)> {
    let operations = loaded.definitions.operations(&loaded.schema);
    for service in &loaded.definitions.services {
        for port in &service.ports {
            // zeep only calls ports over HTTP (not JMS and the like).
            let http = loaded
                .definitions
                .bindings
                .get(&port.binding)
                .and_then(|b| b.soap.as_ref())
                .and_then(|soap| soap.transport.as_deref())
                .is_none_or(|transport| transport.trim_end_matches('/').ends_with("/http"));
            if !http {
                continue;
            }
            for op in operations.iter().filter(|op| op.binding == port.binding) {
                let (Some(input), Some(_)) = (&op.input, &op.output) else {
                    continue;
                };
                let simple_input = match op.style {
                    Style::Rpc => true,
                    Style::Document => input.parts.len() == 1 && input.body_name.is_some(),
                };
                if op.use_kind == Use::Literal && simple_input && input.headers.is_empty() {
                    return Some((service.name.local.clone(), port.name.clone(), op.clone()));
                }
            }
        }
    }
    None
}

#[test]
fn corpus_contracts_are_mocked_and_called_by_zeep() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/wsdl");
    let Ok(manifest) = std::fs::read_to_string(dir.join("MANIFEST.tsv")) else {
        println!("corpus tier skipped: {} does not exist", dir.display());
        return;
    };
    let mut files: Vec<&str> = manifest
        .lines()
        .skip(1)
        .filter_map(|line| {
            let mut fields = line.split('\t');
            let path = fields.next()?;
            (fields.nth(1)? == "valid" && path.ends_with(".wsdl")).then_some(path)
        })
        .collect();
    files.sort_unstable();
    let started = Instant::now();
    let mut tried = 0;
    let mut successes: Vec<String> = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    for file in files {
        if tried >= MAX_CORPUS_TRIES {
            break;
        }
        let path = dir.join(file);
        let loaded = load_file(&path, &LoadOptions::default());
        if loaded.has_errors() {
            continue;
        }
        let Some((service, port, op)) = callable(&loaded) else {
            continue;
        };
        tried += 1;
        let mock = match Mock::start(&path) {
            Ok(mock) => mock,
            Err(error) => {
                failures.push(format!("{file}: the mock did not start: {}", error.trim()));
                continue;
            }
        };
        let Some(mocked) = mock
            .ports
            .iter()
            .find(|p| p.service == service && p.port == port)
        else {
            failures.push(format!("{file}: the mock does not host {service}/{port}"));
            continue;
        };
        let request =
            loaded
                .schema
                .sample_body(&loaded.definitions, &op, false, &SampleLimits::default());
        match zeep_call(mocked, &op.name, &request) {
            Ok(_) => successes.push(format!("{file} {service}/{port} {}", op.name)),
            Err(reason) => failures.push(format!("{file} {service}/{port} {}: {reason}", op.name)),
        }
        let status = mock.terminate();
        if status.code() != Some(0) {
            failures.push(format!(
                "{file}: the mock exited with {status:?} on SIGTERM"
            ));
        }
    }
    println!(
        "corpus mock: {} of {tried} contracts called successfully by zeep in {:.0} s",
        successes.len(),
        started.elapsed().as_secs_f64()
    );
    for success in &successes {
        println!("  ok   {success}");
    }
    for failure in &failures {
        println!("  FAIL {failure}");
    }
    assert!(
        successes.len() >= 30,
        "only {} contracts worked: {failures:#?}",
        successes.len()
    );
}
