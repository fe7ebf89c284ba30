//! The bank scenario end to end (issue 8 item 1), with the real `ithaca`
//! binary and clients nobody here wrote.
//!
//! One `ithaca serve` hosts the WS-AT coordinator, two SQLite banks
//! (BankA, BankB) and the TransferService, and publishes the
//! TransferService on its IIOP listener (`[[bridge.soap]]`). Then:
//!
//! - the zeep script `examples/bank/transfer.py` transfers over SOAP and
//!   the balances it prints move by the amount (and a transfer beyond the
//!   balance comes back as the declared `InsufficientFunds` fault);
//! - the omniORB C++ teller `examples/bank/teller.cc` (built here with
//!   omniidl and g++ from the IDL `ithaca wsdl2idl` prints) transfers
//!   through the IIOP front, reached by the IOR of `GET /bridge/objects`,
//!   and the balances move (a transfer beyond the balance comes back as
//!   the IDL user exception `InsufficientFunds`);
//! - `ithaca demo bank` runs concurrent transfers and reports money
//!   conserved.
//!
//! And `ithaca demo bank --chaos` (its own processes, kill -9 at random)
//! passes its invariants, on SQLite banks and on PostgreSQL banks.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ithaca_gateway::soap::client::SoapClient;
use ithaca_services::transfer::{self, message};
use ithaca_wsdl::SoapVersion;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BIN: &str = env!("CARGO_BIN_EXE_ithaca");
const OMNI_HINT: &str = "omniORB is needed: run scripts/install-test-deps.sh (Debian: omniorb omniidl libomniorb4-dev pkg-config g++)";
/// Each bank opens accounts 1..=ACCOUNTS with OPENING cents.
const ACCOUNTS: u32 = 5;
const OPENING: i64 = 100_000;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// One `ithaca serve` hosting the whole bank scenario.
struct Bank {
    child: Child,
    url: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Bank {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Bank {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = ithaca_testkit::free_port().unwrap();
        let config = dir.path().join("ithaca.toml");
        let mut banks = String::new();
        for name in ["BankA", "BankB"] {
            banks.push_str(&format!(
                "[[bank]]\nname = \"{name}\"\nstore = \"sqlite\"\nopen_accounts = {ACCOUNTS}\nopening_balance = {OPENING}\n\n"
            ));
        }
        std::fs::write(
            &config,
            format!(
                "[server]\nlisten = \"127.0.0.1:{port}\"\n\n[storage]\ndata_dir = \"{}\"\n\n\
                 [log]\nfilter = \"warn\"\n\n[membership]\nenabled = false\n\n\
                 [sector_status]\nenabled = false\n\n[wsat]\nenabled = true\n\n\
                 [transfer]\nenabled = true\n\n\
                 [bridge.iiop]\nenabled = true\nlisten = \"127.0.0.1:0\"\n\n\
                 [[bridge.soap]]\nname = \"Transfer\"\nwsdl = \"{}\"\n\
                 url = \"http://127.0.0.1:{port}/services/TransferService\"\n\n{banks}",
                dir.path().join("data").display(),
                repo().join("services/wsdl/transfer.wsdl").display(),
            ),
        )
        .unwrap();
        let log = dir.path().join("serve.log");
        let child = Command::new(BIN)
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(dir.path().join("serve.err")).unwrap())
            .spawn()
            .unwrap();
        let mut bank = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while get(port, "/readyz").await.is_none_or(|(s, _)| s != 200) {
            if let Some(status) = bank.child.try_wait().unwrap() {
                panic!("ithaca serve exited ({status}): {}", bank.logs());
            }
            assert!(Instant::now() < deadline, "not ready: {}", bank.logs());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bank
    }

    fn port(&self) -> u16 {
        self.url.rsplit(':').next().unwrap().parse().unwrap()
    }

    fn logs(&self) -> String {
        let mut text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.push_str(&std::fs::read_to_string(self.log.with_extension("err")).unwrap_or_default());
        text
    }

    /// The IOR of the bridged TransferService, from `GET /bridge/objects`
    /// (an IOR rather than the corbaloc: omniORB marshals the contract's
    /// `wstring`s only with the code sets an IOR carries).
    async fn ior(&self) -> String {
        let (status, body) = get(self.port(), "/bridge/objects").await.unwrap();
        assert_eq!(status, 200, "{body}");
        let objects: serde_json::Value = serde_json::from_str(&body).unwrap();
        let objects = objects
            .as_array()
            .or_else(|| objects["objects"].as_array())
            .cloned()
            .unwrap_or_default();
        let object = objects
            .iter()
            .find(|o| o["name"] == "Transfer")
            .unwrap_or_else(|| panic!("no Transfer object in {body}"));
        object["ior"].as_str().unwrap().to_owned()
    }

    /// `Balance(bank, account)` through the TransferService.
    async fn balance(&self, bank: &str, account: &str) -> i64 {
        let client = SoapClient::new(
            &format!("{}/services/TransferService", self.url),
            SoapVersion::Soap11,
        )
        .unwrap();
        let request = message::BalanceRequest {
            bank: bank.into(),
            account: account.into(),
        };
        let response = client
            .call(
                Some(&transfer::soap_action(transfer::operation::BALANCE)),
                &message::balance_request(&request),
            )
            .await
            .unwrap();
        message::read_field_i64(&response.message, "balance").unwrap()
    }

    /// Waits (up to 10 s) for the TransferService's `Total` to be
    /// `expected` (see [`Bank::expect_balance`]).
    async fn expect_total(&self, expected: i64) {
        let client = SoapClient::new(
            &format!("{}/services/TransferService", self.url),
            SoapVersion::Soap11,
        )
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let response = client
                .call(
                    Some(&transfer::soap_action(transfer::operation::TOTAL)),
                    &message::total_request(),
                )
                .await
                .unwrap();
            let total = message::read_field_i64(&response.message, "total").unwrap();
            if total == expected {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "Total is {total}, expected {expected}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits (up to 10 s) for `bank`'s `account` to hold `expected`: a
    /// transfer told `Committed` is decided, and each bank applies it in
    /// phase two, moments later.
    async fn expect_balance(&self, bank: &str, account: &str, expected: i64) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let balance = self.balance(bank, account).await;
            if balance == expected {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{bank}/{account} holds {balance}, expected {expected}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// `GET path` on 127.0.0.1:port: the status and the body.
async fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer))
        .await
        .ok()?
        .ok()?;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text.get(9..12)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())?;
    Some((status, body))
}

/// Runs a command to its end (at most `limit`), returning status and
/// stdout; stderr is printed.
fn run_to_end(command: &mut Command, limit: Duration) -> (Option<i32>, String) {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut out = String::new();
    let mut err = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    eprintln!("{err}");
    (status, out)
}

/// The `balance when BANK/ACCOUNT = N` lines of transfer.py.
fn balance(out: &str, when: &str, account: &str) -> i64 {
    let prefix = format!("balance {when} {account} = ");
    out.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` in:\n{out}"))
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn zeep_script_transfers_and_the_balances_move() {
    let python = match ithaca_testkit::interop::python() {
        Ok(python) => python,
        Err(missing) => {
            eprintln!("skipped: {missing}");
            return;
        }
    };
    let bank = Bank::start().await;
    let script = repo().join("examples/bank/transfer.py");
    let (status, out) = run_to_end(
        Command::new(&python).arg(&script).args([
            "--url", &bank.url, "--from", "BankA:1", "--to", "BankB:2", "--amount", "1250",
            "--count", "2",
        ]),
        Duration::from_secs(40),
    );
    assert_eq!(status, Some(0), "{out}\n{}", bank.logs());
    assert_eq!(balance(&out, "before", "BankA/1"), OPENING);
    assert_eq!(balance(&out, "before", "BankB/2"), OPENING);
    bank.expect_balance("BankA", "1", OPENING - 2500).await;
    bank.expect_balance("BankB", "2", OPENING + 2500).await;
    assert_eq!(
        out.matches("outcome=Committed").count(),
        2,
        "two committed transfers: {out}"
    );
    assert!(out.contains("\ntotal "), "{out}");
    bank.expect_total(2 * i64::from(ACCOUNTS) * OPENING).await;

    // More than the account holds: the declared fault, and nothing moves.
    let (status, out) = run_to_end(
        Command::new(&python).arg(&script).args([
            "--url",
            &bank.url,
            "--from",
            "BankB:3",
            "--to",
            "BankA:3",
            "--amount",
            &(OPENING + 1).to_string(),
        ]),
        Duration::from_secs(40),
    );
    assert_eq!(status, Some(0), "{out}");
    assert!(
        out.contains("refused: insufficient funds in BankB/3"),
        "{out}"
    );
    assert_eq!(balance(&out, "after", "BankB/3"), OPENING, "{out}");
    assert_eq!(balance(&out, "after", "BankA/3"), OPENING, "{out}");
    bank.expect_balance("BankA", "1", OPENING - 2500).await;
}

/// Builds the teller: `ithaca wsdl2idl transfer.wsdl`, omniidl, g++.
fn build_teller() -> Option<PathBuf> {
    if Command::new("omniidl").arg("-V").output().is_err() {
        eprintln!("skipped: omniidl not found; {OMNI_HINT}");
        return None;
    }
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("e2e-bank-teller");
    std::fs::create_dir_all(&out).unwrap();
    let must = |command: &mut Command, what: &str| {
        let output = command
            .output()
            .unwrap_or_else(|e| panic!("{what}: {e}; {OMNI_HINT}"));
        assert!(
            output.status.success(),
            "{what} failed: {}{}; {OMNI_HINT}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        output
    };
    must(
        Command::new(BIN)
            .arg("wsdl2idl")
            .arg(repo().join("services/wsdl/transfer.wsdl"))
            .arg("-o")
            .arg(out.join("transfer.idl")),
        "ithaca wsdl2idl",
    );
    std::fs::copy(
        repo().join("examples/bank/teller.cc"),
        out.join("teller.cc"),
    )
    .unwrap();
    must(
        Command::new("omniidl")
            .args(["-bcxx", "transfer.idl"])
            .current_dir(&out),
        "omniidl",
    );
    let flags = must(
        Command::new("pkg-config").args(["--cflags", "--libs", "omniORB4"]),
        "pkg-config",
    );
    let flags = String::from_utf8(flags.stdout).unwrap();
    must(
        Command::new("g++")
            .args(["-O1", "-o", "teller", "teller.cc", "transferSK.cc"])
            .args(flags.split_whitespace())
            .current_dir(&out),
        "g++",
    );
    Some(out.join("teller"))
}

fn teller(program: &Path, args: &[&str]) -> (Option<i32>, String) {
    run_to_end(Command::new(program).args(args), Duration::from_secs(30))
}

#[tokio::test(flavor = "multi_thread")]
async fn omniorb_teller_transfers_through_the_iiop_front() {
    let Some(program) = tokio::task::spawn_blocking(build_teller).await.unwrap() else {
        return;
    };
    let bank = Bank::start().await;
    let ior = bank.ior().await;
    assert!(ior.starts_with("IOR:"), "{ior}");
    let read = |out: &str, key: &str| -> i64 {
        out.split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("no {key}= in {out}"))
            .parse()
            .unwrap()
    };
    let (status, out) = teller(&program, &[&ior, "balance", "BankA", "4"]);
    assert_eq!(status, Some(0), "{out}\n{}", bank.logs());
    assert_eq!(read(&out, "balance"), OPENING);

    let (status, out) = teller(
        &program,
        &[&ior, "transfer", "BankA", "4", "BankB", "4", "777"],
    );
    assert_eq!(status, Some(0), "{out}\n{}", bank.logs());
    assert!(out.contains("outcome=Committed"), "{out}");
    assert!(out.contains("transactionId=urn:"), "{out}");

    bank.expect_balance("BankA", "4", OPENING - 777).await;
    bank.expect_balance("BankB", "4", OPENING + 777).await;
    let (_, out) = teller(&program, &[&ior, "balance", "BankB", "4"]);
    assert_eq!(read(&out, "balance"), OPENING + 777, "{out}");

    // The declared SOAP fault arrives as the IDL user exception.
    let (status, out) = teller(
        &program,
        &[&ior, "transfer", "BankB", "5", "BankA", "5", "99999999"],
    );
    assert_eq!(status, Some(1), "{out}");
    assert!(
        out.contains("refused=InsufficientFunds bank=BankB account=5"),
        "{out}"
    );
    bank.expect_total(2 * i64::from(ACCOUNTS) * OPENING).await;
    let (_, out) = teller(&program, &[&ior, "total"]);
    assert_eq!(
        read(&out, "total"),
        2 * i64::from(ACCOUNTS) * OPENING,
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_bank_against_a_gateway_reports_conserved_money() {
    let bank = Bank::start().await;
    let (status, out) = tokio::task::spawn_blocking({
        let url = bank.url.clone();
        move || {
            run_to_end(
                Command::new(BIN).args([
                    "demo",
                    "bank",
                    "--url",
                    &url,
                    "--transfers",
                    "60",
                    "--concurrency",
                    "4",
                    "--accounts",
                    &ACCOUNTS.to_string(),
                    "--seed",
                    "7",
                ]),
                Duration::from_secs(50),
            )
        }
    })
    .await
    .unwrap();
    assert_eq!(status, Some(0), "{out}\n{}", bank.logs());
    assert!(out.contains("transfers: 60 done"), "{out}");
    assert!(out.contains("conserved"), "{out}");
    assert!(
        out.contains("BankA:") && out.contains("matches the committed transfers"),
        "{out}"
    );
    assert!(out.contains("result: OK"), "{out}");
}

fn chaos(extra: &[&str]) {
    let mut args = vec![
        "demo",
        "bank",
        "--chaos",
        "--duration-secs",
        "6",
        "--concurrency",
        "4",
        "--seed",
        "11",
    ];
    args.extend_from_slice(extra);
    let (status, out) = run_to_end(Command::new(BIN).args(&args), Duration::from_secs(58));
    assert_eq!(status, Some(0), "{out}");
    assert!(out.contains("kills: coordinator"), "{out}");
    assert!(out.contains("conserved"), "{out}");
    assert!(out.contains(", 0 half applied"), "{out}");
    assert!(out.contains("result: OK"), "{out}");
}

#[test]
fn demo_bank_chaos_on_sqlite_keeps_its_invariants() {
    chaos(&[]);
}

#[test]
fn demo_bank_chaos_on_postgres_keeps_its_invariants() {
    let cluster = match ithaca_testkit::pg::PgCluster::start() {
        Ok(cluster) => cluster,
        Err(error) => {
            eprintln!("skipped: PostgreSQL is needed: {error}; run scripts/install-test-deps.sh");
            return;
        }
    };
    chaos(&["--database-url", &cluster.url("postgres")]);
}
