//! `ithaca serve` on the embedded defaults hosts the whole story, and every
//! thing it prints answers: started with only `--data-dir` and
//! `--listen 127.0.0.1:0` (and the IIOP listener moved to port 0 with
//! `ITHACA_BRIDGE__IIOP__LISTEN`, so the test never depends on 2809 being
//! free), the test reads the banner, then checks as a user would: the WSDL
//! of every printed `?wsdl`, an echo call, a bank `Balance`, a transfer
//! between the two SQLite banks, a WS-AT `CreateCoordinationContext`, the
//! sector-status `GetSector`, the membership view, a CORBA call to the
//! bridged EchoService through the printed corbaloc URL (the crate's own
//! ORB) and the admin `/healthz`. Then it stops the process (SIGTERM) and
//! starts it again on the same data directory: everything answers again
//! and the transfer's money stayed where it went.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ithaca_gateway::bridge::iiopfront::BridgedContract;
use ithaca_gateway::soap::client::SoapClient;
use ithaca_idl::dynamic::Value as CorbaValue;
use ithaca_idl::orb::{ClientConfig, ReplyBody};
use ithaca_services::bank::message as bank_message;
use ithaca_services::transfer::{self, message as transfer_message};
use ithaca_txn::wire::{
    self, Body, CreateCoordinationContext, EndpointReference, Message, WireLimits, WsTxVersion,
};
use ithaca_wsdl::{Limits, SoapVersion};

const ITHACA: &str = env!("CARGO_BIN_EXE_ithaca");
/// How long the process may take to print its banner.
const START: Duration = Duration::from_secs(30);

/// What the banner says.
#[derive(Debug, Default)]
struct Banner {
    lines: Vec<String>,
    server: String,
    wsdls: Vec<String>,
    healthz: String,
    page: String,
    corbaloc: Vec<(String, String)>,
    activation: String,
}

struct Serve {
    child: Child,
    banner: Banner,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    fn start(data: &Path) -> Self {
        let mut child = Command::new(ITHACA)
            .args(["serve", "--data-dir"])
            .arg(data)
            .args(["--listen", "127.0.0.1:0"])
            .env("ITHACA_BRIDGE__IIOP__LISTEN", "127.0.0.1:0")
            .env("ITHACA_LOG__FILTER", "warn")
            .env_remove("ITHACA_CONFIG")
            .env_remove("ITHACA_FAILPOINTS")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (send, receive) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + START;
        let mut lines = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = receive
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no complete banner within {START:?}: {lines:#?}"));
            let done = line.starts_with("stop with Ctrl-C");
            lines.push(line);
            if done {
                break;
            }
        }
        Self {
            child,
            banner: parse(lines),
        }
    }

    /// SIGTERM, and the process exits 0 after draining.
    fn stop(mut self) {
        let pid = rustix::process::Pid::from_raw(i32::try_from(self.child.id()).unwrap()).unwrap();
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "ithaca serve exited with {status}");
                return;
            }
            assert!(Instant::now() < deadline, "no exit 30 s after SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn parse(lines: Vec<String>) -> Banner {
    let mut banner = Banner::default();
    for line in &lines {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["listening:", "server", url] => banner.server = (*url).to_owned(),
            ["admin:", healthz, ..] => banner.healthz = (*healthz).to_owned(),
            ["page:", page, ..] => banner.page = (*page).to_owned(),
            ["corba:", name, _interface, corbaloc] => banner
                .corbaloc
                .push(((*name).to_owned(), (*corbaloc).to_owned())),
            ["wsat:", "coordinator", url] => banner.activation = (*url).to_owned(),
            _ => {}
        }
        banner.wsdls.extend(
            words
                .iter()
                .filter(|w| w.ends_with("?wsdl"))
                .map(|w| (*w).to_owned()),
        );
    }
    banner.lines = lines;
    banner
}

/// One HTTP/1.1 exchange on a fresh connection: the status and the body.
async fn exchange(url: &str, method: &str, headers: &str, body: &[u8]) -> (u16, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let uri: http::Uri = url.parse().unwrap();
    let authority = uri.authority().unwrap().as_str().to_owned();
    let path = uri.path_and_query().unwrap().as_str().to_owned();
    let mut stream = tokio::net::TcpStream::connect(&authority).await.unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n{headers}Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    stream.write_all(&request).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(answer.len());
    let head = String::from_utf8_lossy(&answer[..split]).to_ascii_lowercase();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let content = answer.get(split + 4..).unwrap_or_default().to_vec();
    if head.contains("transfer-encoding: chunked") {
        (status, dechunk(&content))
    } else {
        (status, content)
    }
}

/// The body of a chunked HTTP/1.1 message.
fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = data.windows(2).position(|w| w == b"\r\n") {
        let size = String::from_utf8_lossy(&data[..end]);
        let size = usize::from_str_radix(size.split(';').next().unwrap().trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        out.extend_from_slice(&data[end + 2..end + 2 + size]);
        data = &data[end + 2 + size + 2..];
    }
    out
}

async fn get(url: &str) -> (u16, String) {
    let (status, body) = exchange(url, "GET", "", b"").await;
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// A SOAP 1.1 POST of a whole envelope.
async fn post(url: &str, action: &str, envelope: &[u8]) -> (u16, Vec<u8>) {
    let headers = format!("Content-Type: text/xml; charset=utf-8\r\nSOAPAction: \"{action}\"\r\n");
    exchange(url, "POST", &headers, envelope).await
}

fn client(url: &str) -> SoapClient {
    SoapClient::new(url, SoapVersion::Soap11)
        .unwrap()
        .with_timeout(Duration::from_secs(20))
}

async fn bank_balance(server: &str, bank: &str, account: &str) -> i64 {
    let answer = client(&format!("{server}/services/{bank}"))
        .call(
            Some(&ithaca_services::bank::soap_action("Balance")),
            &bank_message::balance_request(account),
        )
        .await
        .unwrap();
    bank_message::read_field_i64(&answer.message, "balance").unwrap()
}

/// Everything the banner names answers; `moved` is how much the earlier
/// transfers moved from BankA/1 to BankB/1.
async fn check_everything(banner: &Banner, moved: i64) {
    let server = banner.server.as_str();
    assert!(
        server.starts_with("http://127.0.0.1:"),
        "{:#?}",
        banner.lines
    );

    // Every service the banner lists, with its WSDL.
    for service in [
        "EchoService",
        "BankA",
        "BankB",
        "TransferService",
        "SectorStatus",
        "MembershipService",
    ] {
        let url = format!("{server}/services/{service}?wsdl");
        assert!(
            banner.wsdls.contains(&url),
            "{url} not printed: {:#?}",
            banner.lines
        );
    }
    for url in &banner.wsdls {
        let (status, body) = get(url).await;
        assert_eq!(status, 200, "{url}: {body}");
        assert!(body.contains("definitions"), "{url}: {body}");
        assert!(body.contains(server), "{url} publishes its address: {body}");
    }

    // The admin endpoints.
    assert_eq!(banner.healthz, format!("{server}/healthz"));
    assert_eq!(get(&banner.healthz).await.0, 200);
    // The operator page, named in the banner, loads.
    assert_eq!(banner.page, format!("{server}/ui/"));
    let (status, page) = get(&banner.page).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("<html") || page.contains("<!doctype html"),
        "{page}"
    );

    // An echo call.
    let echo = client(&format!("{server}/services/EchoService"))
        .call(
            Some(ithaca_services::echo::SOAP_ACTION),
            br#"<e:echoString xmlns:e="urn:ithaca:bench:echo"><text>hello, defaults</text></e:echoString>"#,
        )
        .await
        .unwrap();
    let echoed = String::from_utf8_lossy(&echo.message).into_owned();
    assert!(echoed.contains("hello, defaults"), "{echoed}");

    // The two SQLite banks, with the default accounts. A committed
    // transfer is applied by each bank when the coordinator's Commit
    // reaches it, just after the client learns the outcome.
    let deadline = Instant::now() + Duration::from_secs(10);
    while bank_balance(server, "BankB", "1").await != 100_000 + moved {
        assert!(
            Instant::now() < deadline,
            "the transfer never reached BankB"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    while bank_balance(server, "BankA", "1").await != 100_000 - moved {
        assert!(
            Instant::now() < deadline,
            "the transfer never reached BankA"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(bank_balance(server, "BankA", "1").await, 100_000 - moved);
    assert_eq!(bank_balance(server, "BankB", "1").await, 100_000 + moved);
    assert_eq!(bank_balance(server, "BankA", "2").await, 100_000);
    let total = client(&format!("{server}/services/BankA"))
        .call(
            Some(&ithaca_services::bank::soap_action("Total")),
            &bank_message::total_request(),
        )
        .await
        .unwrap();
    assert_eq!(
        bank_message::read_field_i64(&total.message, "total").unwrap(),
        300_000 - moved
    );

    // A WS-AT CreateCoordinationContext at the printed coordinator.
    assert_eq!(banner.activation, format!("{server}/wsat/activation"));
    let version = WsTxVersion::Jun2006;
    let mut request = Message::new(
        SoapVersion::Soap11,
        version,
        Body::CreateCoordinationContext(CreateCoordinationContext {
            expires: Some(30_000),
            current_context: None,
            coordination_type: version.wsat().to_owned(),
        }),
    );
    request.addressing.message_id = Some("urn:uuid:serve-defaults-activate".into());
    request.addressing.reply_to = Some(EndpointReference::anonymous(version));
    request.addressing.to = Some(banner.activation.clone());
    let (status, answer) = post(
        &banner.activation,
        &request.action(),
        &request.encode().unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    let answer = wire::decode(&answer, None, &Limits::DEFAULT, &WireLimits::default()).unwrap();
    let Body::CreateCoordinationContextResponse(context) = answer.body else {
        panic!("not a context: {answer:?}");
    };
    assert!(context.identifier.starts_with("urn:uuid:"));
    assert_eq!(
        context.registration_service.address,
        format!("{server}/wsat/registration")
    );

    // The sector-status service on the single-node oracle: GetSector is
    // answered once this gateway holds its lease (a few heartbeats).
    let sectors = client(&format!("{server}/services/SectorStatus"));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let answer = sectors
            .call(
                Some("urn:ithaca:atc:sector-status#GetSector"),
                br#"<s:GetSector xmlns:s="urn:ithaca:atc:sector-status"><sector>S1</sector></s:GetSector>"#,
            )
            .await;
        match answer {
            Ok(answer) => {
                let text = String::from_utf8_lossy(&answer.message).into_owned();
                assert!(text.contains("GetSectorResponse"), "{text}");
                break;
            }
            Err(error) => {
                assert!(Instant::now() < deadline, "GetSector: {error}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }

    // The membership view names this gateway's sector-status member.
    let (status, view) = get(&format!("{server}/membership/view")).await;
    assert_eq!(status, 200, "{view}");
    assert!(view.contains("ithaca"), "{view}");

    // A CORBA call to the bridged EchoService through the printed corbaloc.
    let (_, corbaloc) = banner
        .corbaloc
        .iter()
        .find(|(name, _)| name == "Echo")
        .unwrap_or_else(|| panic!("no Echo object printed: {:#?}", banner.lines));
    assert!(
        corbaloc.starts_with("corbaloc:iiop:1.2@127.0.0.1:"),
        "{corbaloc}"
    );
    let contract = BridgedContract::load(
        "echo.wsdl",
        ithaca_services::echo::WSDL.as_bytes(),
        None,
        None,
    )
    .unwrap();
    let op = contract.operations["echoString"].idl.clone();
    let (mut orb, key) = ithaca_idl::naming::connect_reference(corbaloc, ClientConfig::default())
        .await
        .unwrap();
    let args = [CorbaValue::WString("over IIOP".into())];
    let reply = orb
        .invoke(&key, "echoString", |w| op.encode_request(&args, w))
        .await
        .unwrap();
    let ReplyBody::Return(mut r) = reply else {
        panic!("{reply:?}")
    };
    match op.decode_reply(&mut r).unwrap().out.first() {
        Some(CorbaValue::WString(s)) => assert_eq!(s, "over IIOP"),
        other => panic!("{other:?}"),
    }
}

/// A transfer of `amount` from BankA/1 to BankB/1 through the
/// TransferService (one WS-AT transaction across the two SQLite banks).
async fn transfer(server: &str, amount: i64) {
    let answer = client(&format!("{server}/services/TransferService"))
        .call(
            Some(&transfer::soap_action(transfer::operation::TRANSFER)),
            &transfer_message::transfer_request(&transfer_message::TransferRequest {
                from_bank: "BankA".into(),
                from_account: "1".into(),
                to_bank: "BankB".into(),
                to_account: "1".into(),
                amount,
            }),
        )
        .await
        .unwrap();
    let response = transfer_message::read_transfer_response(&answer.message).unwrap();
    assert_eq!(
        response.outcome,
        transfer::Outcome::Committed,
        "{response:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_on_embedded_defaults_hosts_everything_it_prints_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");

    // A fresh data directory.
    let serve = Serve::start(&data);
    check_everything(&serve.banner, 0).await;
    transfer(&serve.banner.server, 2_500).await;
    check_everything(&serve.banner, 2_500).await;
    serve.stop();

    // The same data directory again: nothing opened twice, the money
    // stayed where the transfer put it, everything answers.
    let serve = Serve::start(&data);
    check_everything(&serve.banner, 2_500).await;
    transfer(&serve.banner.server, 500).await;
    check_everything(&serve.banner, 3_000).await;
    serve.stop();
}
