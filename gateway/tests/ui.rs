//! The operator page in a real browser: headless Debian Chromium driven
//! through chromedriver's WebDriver API looks at two `ithaca serve`
//! processes, one with WS-AT, the membership oracle, a sector-status member
//! and a bridged object, one with all of those switched off and its admin
//! endpoints (so the page) on a listener of their own, and checks
//! what an operator would read: the view id and the members with their
//! leases, a transaction in flight, the services with WSDL links that load
//! when clicked, the bridged object's corbaloc URL and IOR, and "disabled"
//! for the parts that are off (with WSDL links that name the server
//! listener). A second test shows a transaction in doubt: one bank voted
//! Prepared, the other died (a failpoint) after preparing durably; the
//! page names the transaction "in doubt" and counts it until the bank is
//! started again and the transaction commits.
//!
//! Skipped, with a message, when chromium or chromedriver is missing
//! (`scripts/install-test-deps.sh` installs them).

#![allow(clippy::unwrap_used)]

mod support;
#[path = "ui/webdriver.rs"]
mod webdriver;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ithaca_gateway::config::{BankConfig, BankStore, Config, SoapObjectConfig};
use ithaca_gateway::soap::client::SoapClient;
use ithaca_gateway::wsat::client::{BeginOptions, CompletionInitiatorRoute, Outcome, WsatClient};
use ithaca_services::bank::{self, message};
use ithaca_txn::failpoint;
use ithaca_txn::wire::CorrelationKey;
use ithaca_wsdl::SoapVersion;
use webdriver::Browser;

const BIN: &str = env!("CARGO_BIN_EXE_ithaca");

/// One `ithaca serve` process, killed on drop.
struct Serve {
    child: Child,
    addr: String,
    /// Where the admin endpoints and the page are (`addr` unless the
    /// configuration gives them a listener of their own).
    admin: String,
    dir: std::path::PathBuf,
    /// Its configuration file (a restart reads it again).
    config: std::path::PathBuf,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A plain HTTP/1.1 exchange; (status, body).
fn http(addr: &str, method: &str, path: &str, headers: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or_default();
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// A configuration with nothing optional on; `tweak` switches parts on.
fn start(name: &str, scratch: &Path, tweak: impl FnOnce(&mut Config)) -> Serve {
    start_with(name, scratch, None, tweak)
}

/// Runs `ithaca serve` on `config`, with `failpoints` armed
/// (`ITHACA_FAILPOINTS`: the process SIGKILLs itself there); its stderr
/// goes to `stderr.log` in `dir`, appended across restarts.
fn spawn(config: &Path, dir: &Path, failpoints: Option<&str>) -> Child {
    let stderr = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("stderr.log"))
        .unwrap();
    let mut command = Command::new(BIN);
    command
        .arg("--config")
        .arg(config)
        .arg("serve")
        .env_remove(failpoint::ENV)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr);
    if let Some(points) = failpoints {
        command.env(failpoint::ENV, points);
    }
    command.spawn().unwrap()
}

/// [`start`] with `failpoints` armed.
fn start_with(
    name: &str,
    scratch: &Path,
    failpoints: Option<&str>,
    tweak: impl FnOnce(&mut Config),
) -> Serve {
    let dir = scratch.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let mut config = Config::default();
    config.server.listen = (Ipv4Addr::LOCALHOST, port).into();
    config.storage.data_dir = dir.join("data");
    config.log.filter = "warn".into();
    config.membership.enabled = false;
    config.membership.listen = (Ipv4Addr::LOCALHOST, 0).into();
    config.wsat.enabled = false;
    config.sector_status.enabled = false;
    config.transfer.enabled = false;
    config.bridge.iiop.enabled = false;
    config.bridge.soap.clear();
    config.bank.clear();
    tweak(&mut config);
    let mut text = toml::to_string(&config).unwrap();
    // An absent `bank` key means the default banks.
    if config.bank.is_empty() && !text.contains("bank = []") {
        text.insert_str(0, "bank = []\n");
    }
    let file = dir.join("ithaca.toml");
    std::fs::write(&file, text).unwrap();
    let serve = Serve {
        child: spawn(&file, &dir, failpoints),
        addr: format!("127.0.0.1:{port}"),
        admin: config
            .admin
            .listen
            .map_or_else(|| format!("127.0.0.1:{port}"), |a| a.to_string()),
        dir,
        config: file,
    };
    serve.until_healthy(name);
    serve
}

impl Serve {
    /// Waits until the process answers `/healthz`.
    fn until_healthy(&self, name: &str) {
        let serve = self;
        let started = Instant::now();
        loop {
            if TcpStream::connect(&serve.admin).is_ok()
                && http(&serve.admin, "GET", "/healthz", "", "").0 == 200
            {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{name} did not start: {}",
                std::fs::read_to_string(serve.dir.join("stderr.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits (at most 30 s) for the process to die by its failpoint.
    fn until_killed_by_failpoint(&mut self, name: &str) {
        let started = Instant::now();
        while self.child.try_wait().unwrap().is_none() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{name}'s failpoint never fired: {}",
                std::fs::read_to_string(self.dir.join("stderr.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts the process again on the same configuration and data.
    fn restart(&mut self, name: &str) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = spawn(&self.config, &self.dir, None);
        self.until_healthy(name);
    }
}

/// Activates a WS-AT transaction that nobody completes (in flight for a
/// minute); returns its identifier.
fn transaction_in_flight(addr: &str) -> String {
    let envelope = format!(
        r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:wsa="http://www.w3.org/2005/08/addressing" xmlns:c="http://docs.oasis-open.org/ws-tx/wscoor/2006/06"><s:Header><wsa:Action>http://docs.oasis-open.org/ws-tx/wscoor/2006/06/CreateCoordinationContext</wsa:Action><wsa:MessageID>urn:uuid:ui-test-activation</wsa:MessageID><wsa:ReplyTo><wsa:Address>http://www.w3.org/2005/08/addressing/anonymous</wsa:Address></wsa:ReplyTo><wsa:To>http://{addr}/wsat/activation</wsa:To></s:Header><s:Body><c:CreateCoordinationContext><c:Expires>60000</c:Expires><c:CoordinationType>http://docs.oasis-open.org/ws-tx/wsat/2006/06</c:CoordinationType></c:CreateCoordinationContext></s:Body></s:Envelope>"#
    );
    let (status, body) = http(
        addr,
        "POST",
        "/wsat/activation",
        "Content-Type: text/xml; charset=utf-8\r\nSOAPAction: \"http://docs.oasis-open.org/ws-tx/wscoor/2006/06/CreateCoordinationContext\"\r\n",
        &envelope,
    );
    assert_eq!(status, 200, "activation: {body}");
    let document = roxmltree::Document::parse(&body).unwrap();
    document
        .descendants()
        .find(|n| n.has_tag_name("Identifier"))
        .and_then(|n| n.text())
        .unwrap_or_else(|| panic!("no Identifier in {body}"))
        .trim()
        .to_owned()
}

/// Waits until `check` holds for the page's text, showing it on failure.
fn until_page(browser: &Browser, what: &str, check: impl Fn(&serde_json::Value) -> bool) {
    let started = Instant::now();
    loop {
        let page = browser.eval(
            "const t = (id) => { const e = document.getElementById(id); return e && !e.closest('[hidden]') ? e.innerText : null; };
             return {view: t('view-id'), members: t('members'), txns: t('txns'),
                     services: t('service-ports'), objects: t('objects'),
                     membershipState: t('membership-state'), txnState: t('transactions-state'),
                     bridgeState: t('bridge-state'), servicesState: t('services-state'),
                     inDoubt: t('txn-in-doubt'),
                     polls: document.getElementById('updated').dataset.polls || '0'};",
        );
        if check(&page) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the page never showed {what}: {page:#}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn has(page: &serde_json::Value, key: &str, needle: &str) -> bool {
    page[key].as_str().is_some_and(|text| text.contains(needle))
}

#[test]
fn the_operator_page_shows_membership_transactions_services_and_bridged_objects() {
    if let Some(reason) = webdriver::missing() {
        println!(
            "ui test skipped: {reason} (scripts/install-test-deps.sh installs chromium and chromium-driver)"
        );
        return;
    }
    let scratch = tempfile::Builder::new()
        .prefix("ithaca-ui-")
        .tempdir()
        .unwrap();
    let full = start("full", scratch.path(), |config| {
        config.membership.enabled = true;
        config.wsat.enabled = true;
        config.sector_status.enabled = true;
        config.sector_status.member = "tower-1".into();
        config.bridge.iiop.enabled = true;
        config.bridge.iiop.listen = Some((Ipv4Addr::LOCALHOST, 0).into());
        config.bridge.soap.push(SoapObjectConfig {
            name: "Echo".into(),
            service: Some("EchoService".into()),
            ..SoapObjectConfig::default()
        });
    });
    // The second has its admin endpoints, and so the page, on a listener
    // of their own.
    let bare = start("bare", scratch.path(), |config| {
        config.admin.listen = Some((Ipv4Addr::LOCALHOST, free_port()).into());
    });
    let tx = transaction_in_flight(&full.addr);
    // The view id the oracle has once the member joined.
    let started = Instant::now();
    let view_id = loop {
        let (_, members) = http(&full.addr, "GET", "/membership/members", "", "");
        let members: serde_json::Value = serde_json::from_str(&members).unwrap();
        if members["members"]
            .as_array()
            .is_some_and(|m| m.iter().any(|m| m["member"] == "tower-1"))
        {
            break members["view_id"].as_u64().unwrap();
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "tower-1 never joined"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let (_, objects) = http(&full.addr, "GET", "/bridge/objects", "", "");
    let objects: serde_json::Value = serde_json::from_str(&objects).unwrap();
    let corbaloc = objects[0]["corbaloc"].as_str().unwrap().to_owned();
    let ior_start: String = objects[0]["ior"]
        .as_str()
        .unwrap()
        .chars()
        .take(40)
        .collect();

    let browser = Browser::start(scratch.path());
    browser.goto(&format!("http://{}/ui/", full.addr));
    until_page(&browser, "everything", |page| {
        page["view"].as_str() == Some(&view_id.to_string())
            && has(page, "members", "tower-1")
            && has(page, "members", "valid")
            && has(page, "members", "sector-status")
            && has(page, "txns", &tx)
            && has(page, "txns", "active")
            && has(page, "services", "EchoService")
            && has(page, "services", "SectorStatusService")
            && has(page, "services", "MembershipService")
            && has(page, "objects", &corbaloc)
            && has(page, "objects", &ior_start)
            && has(page, "objects", "IDL:")
    });

    // A WSDL link loads the contract.
    browser.click("tr[data-service='EchoService'] a.wsdl");
    let started = Instant::now();
    while !browser.url().ends_with("/services/EchoService?wsdl") {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the link went to {}",
            browser.url()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The browser shows the contract: an XML document with the WSDL 1.1
    // `service` element of the EchoService.
    let started = Instant::now();
    loop {
        let document = browser.eval(
            "return {type: document.contentType,
                     service: document.getElementsByTagNameNS('http://schemas.xmlsoap.org/wsdl/', 'service').length > 0
                              ? document.getElementsByTagNameNS('http://schemas.xmlsoap.org/wsdl/', 'service')[0].getAttribute('name') : null};",
        );
        // Chromium's XML viewer wraps the document in its own HTML root;
        // the WSDL's elements are still there, in their namespace.
        if document["type"]
            .as_str()
            .is_some_and(|t| t.ends_with("/xml"))
            && document["service"] == "EchoService"
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the WSDL did not load: {document}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // With everything off, each part says so; the page is on the admin
    // listener and its WSDL links name the server listener.
    browser.goto(&format!("http://{}/ui/", bare.admin));
    until_page(&browser, "the disabled parts", |page| {
        has(page, "membershipState", "membership: disabled")
            && has(page, "txnState", "WS-AT coordinator: disabled")
            && has(page, "bridgeState", "IIOP listener: disabled")
            && has(
                page,
                "services",
                &format!("http://{}/services/EchoService", bare.addr),
            )
            && page["view"].is_null()
    });
    browser.click("tr[data-service='EchoService'] a.wsdl");
    let started = Instant::now();
    while browser.url() != format!("http://{}/services/EchoService?wsdl", bare.addr) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the link went to {}",
            browser.url()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A SQLite bank with accounts 1..=3 of 100.00 each.
fn sqlite_bank(name: &str) -> BankConfig {
    BankConfig {
        name: name.into(),
        store: BankStore::Sqlite,
        open_accounts: 3,
        opening_balance: 10_000,
        ..BankConfig::default()
    }
}

/// A transfer whose second bank dies after preparing its branch durably,
/// before its vote leaves: the first bank has voted Prepared, so the
/// coordinator holds a transaction in doubt, and the page says so (row
/// and count) until the dead bank is started again, replays its vote and
/// the transaction commits.
#[test]
fn an_in_doubt_transaction_shows_until_its_bank_recovers() {
    if let Some(reason) = webdriver::missing() {
        println!(
            "ui test skipped: {reason} (scripts/install-test-deps.sh installs chromium and chromium-driver)"
        );
        return;
    }
    let scratch = tempfile::Builder::new()
        .prefix("ithaca-ui-doubt-")
        .tempdir()
        .unwrap();
    // The coordinator hosts bank-a; bank-b runs in a process of its own
    // that kills itself right after its first durable prepare.
    let coordinator = start("coordinator", scratch.path(), |config| {
        config.wsat.enabled = true;
        config.bank.push(sqlite_bank("bank-a"));
    });
    let mut bank_b = start_with(
        "bank-b",
        scratch.path(),
        Some(failpoint::PARTICIPANT_AFTER_PREPARED),
        |config| config.bank.push(sqlite_bank("bank-b")),
    );

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (tx, commit, _initiator) = runtime.block_on(async {
        let port = ithaca_testkit::free_port().unwrap();
        let route = CompletionInitiatorRoute::new(
            CorrelationKey::from_bytes([7; 32]),
            &format!("http://127.0.0.1:{port}"),
            "/initiator",
        );
        let wsat = WsatClient::new(route.clone()).unwrap();
        let initiator = support::TestGateway::start(route.routes(), |config| {
            config.server.listen = format!("127.0.0.1:{port}").parse().unwrap();
            config.membership.enabled = false;
            config.wsat.enabled = false;
        })
        .await;
        let transaction = wsat
            .begin(
                &format!("http://{}/wsat/activation", coordinator.addr),
                BeginOptions {
                    expires: Some(Duration::from_secs(120)),
                    request_timeout: Duration::from_secs(5),
                    outcome_timeout: Duration::from_secs(60),
                    ..BeginOptions::default()
                },
            )
            .await
            .unwrap();
        let tx = transaction.context().identifier.clone();
        let soap = |addr: &str, name: &str| {
            SoapClient::new(
                &format!("http://{addr}/services/{name}"),
                SoapVersion::Soap11,
            )
            .unwrap()
            .with_timeout(Duration::from_secs(5))
        };
        transaction
            .call(
                &soap(&coordinator.addr, "bank-a"),
                Some(&bank::soap_action(bank::operation::DEBIT)),
                &[],
                &message::debit_request("1", 2_500),
            )
            .await
            .unwrap();
        transaction
            .call(
                &soap(&bank_b.addr, "bank-b"),
                Some(&bank::soap_action(bank::operation::CREDIT)),
                &[],
                &message::credit_request("1", 2_500),
            )
            .await
            .unwrap();
        // Commit waits for bank-b's vote, which comes only after its
        // restart.
        let commit = tokio::spawn(transaction.commit());
        (tx, commit, initiator)
    });
    bank_b.until_killed_by_failpoint("bank-b");

    let browser = Browser::start(scratch.path());
    browser.goto(&format!("http://{}/ui/", coordinator.addr));
    until_page(&browser, "the transaction in doubt", |page| {
        // The row's "In doubt" cell (tab-separated in the table's text).
        has(page, "txns", &tx) && has(page, "txns", "\tin doubt\t") && page["inDoubt"] == "1"
    });

    bank_b.restart("bank-b");
    let outcome = runtime
        .block_on(async { tokio::time::timeout(Duration::from_secs(60), commit).await })
        .expect("no outcome within 60 s of bank-b's restart")
        .unwrap()
        .unwrap();
    assert_eq!(outcome, Outcome::Committed);
    until_page(
        &browser,
        "the transaction committed, not in doubt",
        |page| {
            has(page, "txns", &tx)
                && !has(page, "txns", "\tin doubt\t")
                && has(page, "txns", "\tcommitted\tno\t")
                && page["inDoubt"] == "0"
        },
    );
}
