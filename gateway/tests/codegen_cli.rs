//! `ithaca codegen`: prints exactly what `ithaca_wsdl::codegen::generate`
//! returns (the `examples/soap-codegen` crate compiles that output from its
//! build.rs), writes it with `-o`, and refuses a broken WSDL, or a
//! multi-dimensional SOAP-encoded array it cannot map, with
//! `file:line:col` diagnostics and exit status 1.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn contract(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/soap-codegen/contracts")
        .join(name)
}

#[test]
fn the_command_prints_what_the_library_generates() {
    for name in ["echo.wsdl", "orders.wsdl", "legacy.wsdl"] {
        let output = Command::new(env!("CARGO_BIN_EXE_ithaca"))
            .arg("codegen")
            .arg(contract(name))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let expected = ithaca_wsdl::codegen::generate(contract(name), &Default::default()).unwrap();
        assert_eq!(
            String::from_utf8(output.stdout).unwrap(),
            expected,
            "{name}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("echo.rs");
    let status = Command::new(env!("CARGO_BIN_EXE_ithaca"))
        .arg("codegen")
        .arg(contract("echo.wsdl"))
        .arg("-o")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    let written = std::fs::read_to_string(&out).unwrap();
    assert!(written.contains("pub trait EchoPort"), "{written}");
}

#[test]
fn the_guide_contracts_pass_wsdl_check() {
    for name in ["echo.wsdl", "orders.wsdl"] {
        let output = Command::new(env!("CARGO_BIN_EXE_ithaca"))
            .args(["wsdl", "check"])
            .arg(contract(name))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn a_wsdl_that_does_not_load_exits_1_with_positions() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.wsdl");
    std::fs::write(
        &bad,
        "<definitions xmlns=\"http://schemas.xmlsoap.org/wsdl/\">\n  <message name=\"m\">\n</definitions>\n",
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_ithaca"))
        .arg("codegen")
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let first = stderr.lines().next().unwrap();
    assert!(
        first.starts_with(&format!("{}:", bad.display())) && first.contains(":3:"),
        "{stderr}"
    );
}

#[test]
fn a_multi_dimensional_encoded_array_exits_1_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let matrix = dir.path().join("matrix.wsdl");
    let legacy = std::fs::read_to_string(contract("legacy.wsdl")).unwrap();
    assert!(legacy.contains(r#"wsdl:arrayType="xsd:int[]""#));
    std::fs::write(
        &matrix,
        legacy.replace(
            r#"wsdl:arrayType="xsd:int[]""#,
            r#"wsdl:arrayType="xsd:int[,]""#,
        ),
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_ithaca"))
        .arg("codegen")
        .arg(&matrix)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let first = stderr.lines().next().unwrap();
    assert!(
        first.starts_with(&format!("{}:", matrix.display())),
        "{stderr}"
    );
    assert!(
        first.contains("unsupported: the SOAP-encoded array type")
            && first.contains(r#""int[,]""#)
            && first.contains("only one-dimensional"),
        "{stderr}"
    );
}
