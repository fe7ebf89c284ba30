//! `ithaca wsdl describe` and `ithaca wsdl check` as an operator runs
//! them, on contracts written for these tests (`fixtures/publish/`).

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::{Command, Stdio};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/publish")
        .join(name)
}

/// Runs `ithaca ARGS`; returns (status, stdout, stderr).
fn ithaca(args: &[&str], file: &PathBuf) -> (i32, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ithaca"));
    for (name, _) in std::env::vars() {
        if name.starts_with("ITHACA_") || name == "RUST_LOG" {
            command.env_remove(name);
        }
    }
    let output = command
        .args(args)
        .arg(file)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn describe_json_lists_services_ports_and_operations() {
    let (status, stdout, stderr) = ithaca(&["wsdl", "describe", "--json"], &fixture("multi.wsdl"));
    assert_eq!(status, 0, "{stderr}");
    assert_eq!(stdout.lines().count(), 1, "one JSON document: {stdout}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let expected = serde_json::json!({"services": [
        {"name": "{urn:ithaca:test:multi}AccountService", "ports": [
            {"name": "AccountsSoap11Port", "binding": "{urn:ithaca:test:multi}AccountsSoap11",
             "soap_version": "1.1", "address": "http://accounts.example:8080/bank/accounts",
             "operations": [
                {"name": "getAccount", "style": "document", "use": "literal",
                 "soap_action": "urn:ithaca:test:multi:getAccount",
                 "input": "{urn:ithaca:test:multi}getAccount",
                 "output": "{urn:ithaca:test:multi}getAccountResponse",
                 "faults": ["{urn:ithaca:test:multi}noSuchAccount"]}]},
            {"name": "AccountsSoap12Port", "binding": "{urn:ithaca:test:multi}AccountsSoap12",
             "soap_version": "1.2", "address": "http://accounts.example:8080/bank/accounts12",
             "operations": [
                {"name": "getAccount", "style": "document", "use": "literal",
                 "soap_action": "urn:ithaca:test:multi:getAccount",
                 "input": "{urn:ithaca:test:multi}getAccount",
                 "output": "{urn:ithaca:test:multi}getAccountResponse",
                 "faults": ["{urn:ithaca:test:multi}noSuchAccount"]}]}]},
        {"name": "{urn:ithaca:test:multi}ClockService", "ports": [
            {"name": "ClockPort", "binding": "{urn:ithaca:test:multi}ClockSoap11",
             "soap_version": "1.1", "address": "REPLACE_WITH_ACTUAL_URL",
             "operations": [
                {"name": "now", "style": "rpc", "use": "literal", "soap_action": "",
                 "input": "{urn:ithaca:test:clock}now",
                 "output": "{urn:ithaca:test:clock}nowResponse", "faults": []},
                {"name": "tick", "style": "rpc", "use": "literal",
                 "soap_action": "urn:ithaca:test:clock:tick",
                 "input": "{urn:ithaca:test:clock}tick", "output": null, "faults": []}]}]}
    ]});
    assert_eq!(json, expected, "{stdout}");
}

#[test]
fn describe_follows_imports_and_prints_an_outline_without_json() {
    let (status, stdout, stderr) = ithaca(&["wsdl", "describe"], &fixture("split/main.wsdl"));
    assert_eq!(status, 0, "{stderr}");
    assert!(
        stdout.contains("service {urn:ithaca:test:split}OrderService"),
        "{stdout}"
    );
    assert!(
        stdout.contains("port OrdersSoap12Port (SOAP 1.2, binding {urn:ithaca:test:split}OrdersSoap12) at http://localhost:9999/orders12"),
        "{stdout}"
    );
    assert!(
        stdout.contains("placeOrder document/literal action \"urn:ithaca:test:split:placeOrder\" in {urn:ithaca:test:split:orders}placeOrder out {urn:ithaca:test:split:orders}placeOrderResponse"),
        "{stdout}"
    );
}

#[test]
fn describe_refuses_a_contract_with_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.wsdl");
    std::fs::write(
        &path,
        "<definitions xmlns=\"http://schemas.xmlsoap.org/wsdl/\">",
    )
    .unwrap();
    let (status, stdout, stderr) = ithaca(&["wsdl", "describe", "--json"], &path);
    assert_eq!(status, 1);
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("broken.wsdl:1:"), "{stderr}");
    assert!(stderr.contains(": error: not well-formed XML"), "{stderr}");
}

#[test]
fn check_tolerates_what_lenient_toolkits_accept_unless_strict() {
    let sloppy = fixture("sloppy.wsdl");
    let (status, stdout, stderr) = ithaca(&["wsdl", "check"], &sloppy);
    assert_eq!(status, 0, "{stderr}");
    assert!(stdout.contains("0 errors, 4 warnings"), "{stdout}");
    for line in [
        "sloppy.wsdl:9:6: warning: the prefix `xsd` is not bound (the document is not namespace-well-formed); it is read as `http://www.w3.org/2001/XMLSchema`",
        "sloppy.wsdl:22:3: warning: the prefix `wsdlns` in `wsdlns:Ping` is not declared; it is read as `urn:ithaca:test:sloppy`",
        "sloppy.wsdl:13:11: warning: unknown type {urn:ithaca:test:sloppy}DefinedNowhere (defined nowhere; handled laxly)",
    ] {
        assert!(stderr.contains(line), "{line} not in {stderr}");
    }
    // The operation is still there, bound through the tolerated prefix.
    assert!(
        stdout.contains("PingSoap ping SOAP 1.1 document/literal"),
        "{stdout}"
    );

    let (status, _, stderr) = ithaca(&["wsdl", "check", "--strict"], &sloppy);
    assert_eq!(status, 1, "{stderr}");
}
