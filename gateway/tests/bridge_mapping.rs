//! `ithaca idl2wsdl` and `ithaca wsdl2idl`, checked the way a user would:
//! the WSDL made from IDL passes `ithaca wsdl check --strict` and loads in
//! zeep, node `soap` and JAX-WS `wsimport`; the IDL made from WSDL passes
//! omniidl and `ithaca idl check`; the round trips keep interfaces,
//! operations, repository ids and message shapes; unmappable input is a
//! named diagnostic with exit status 2. The peers come from
//! `scripts/install-test-deps.sh`. The corpus tier reads
//! ../shared/corpus (beside the checkout) when present and prints `corpus tier skipped`
//! otherwise.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ithaca_gateway::bridge::mapping::{
    IdlToWsdlOptions, WsdlToIdlOptions, idl_to_wsdl, wsdl_to_idl,
};
use ithaca_wsdl::wsdl11::Definitions;
use ithaca_wsdl::xsd::model::{ComplexContent, Term};
use ithaca_wsdl::xsd::{ResolvedType, SchemaSet};
use ithaca_wsdl::{LoadOptions, load_file};

fn ithaca() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ithaca"))
}

fn root() -> PathBuf {
    ithaca_testkit::interop::repo_root()
}

fn fixture(name: &str) -> PathBuf {
    root().join("gateway/tests/fixtures/bridge").join(name)
}

fn rich_idl() -> PathBuf {
    root().join("examples/corba-codegen/idl/Rich.idl")
}

fn bench_idl() -> PathBuf {
    root().join("examples/corba-codegen/idl/Bench.idl")
}

fn rich_wsdl() -> PathBuf {
    root().join("gateway/tests/fixtures/rich/rich.wsdl")
}

fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_ok(what: &str, output: &Output) {
    assert!(
        output.status.success(),
        "{what} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    );
}

/// `ithaca idl2wsdl IDL -o DIR/NAME.wsdl`.
fn idl2wsdl(idl: &Path, dir: &Path, name: &str) -> PathBuf {
    let out = dir.join(name);
    assert_ok(
        "ithaca idl2wsdl",
        &run(ithaca().arg("idl2wsdl").arg(idl).arg("-o").arg(&out)),
    );
    out
}

/// `ithaca wsdl2idl WSDL -o DIR/NAME.idl`.
fn wsdl2idl(wsdl: &Path, dir: &Path, name: &str) -> PathBuf {
    let out = dir.join(name);
    assert_ok(
        "ithaca wsdl2idl",
        &run(ithaca().arg("wsdl2idl").arg(wsdl).arg("-o").arg(&out)),
    );
    out
}

fn omniidl_accepts(idl: &Path) -> Output {
    let work = tempfile::tempdir().unwrap();
    run(Command::new("omniidl")
        .arg("-bcxx")
        .arg(idl)
        .current_dir(work.path()))
}

#[test]
fn idl2wsdl_output_passes_strict_wsdl_check() {
    let dir = tempfile::tempdir().unwrap();
    for (idl, name) in [
        (fixture("bank.idl"), "bank.wsdl"),
        (rich_idl(), "rich.wsdl"),
        (bench_idl(), "bench.wsdl"),
    ] {
        let wsdl = idl2wsdl(&idl, dir.path(), name);
        let check = run(ithaca().args(["wsdl", "check", "--strict"]).arg(&wsdl));
        assert_ok("ithaca wsdl check --strict", &check);
        assert!(
            text(&check.stdout).contains("0 errors, 0 warnings"),
            "{}",
            text(&check.stdout)
        );
    }
}

#[test]
fn bank_wsdl_has_the_specified_shapes() {
    let mapping = idl_to_wsdl(&fixture("bank.idl"), &IdlToWsdlOptions::default()).unwrap();
    let wsdl = &mapping.wsdl;
    for needle in [
        // enum → restricted string
        r#"<xs:simpleType name="Bank.Currency" idl:repositoryId="IDL:bank.example/Bank/Currency:1.0"><xs:restriction base="xs:string"><xs:enumeration value="EUR"/>"#,
        // fixed → decimal with digits
        r#"<xs:totalDigits value="12"/><xs:fractionDigits value="2"/>"#,
        // bounded string → maxLength
        r#"<xs:maxLength value="34"/>"#,
        // bounded sequence → maxOccurs; sequence<octet> → base64Binary
        r#"<xs:element name="item" type="tns:Bank.Amount" minOccurs="0" maxOccurs="8"/>"#,
        r#"<xs:restriction base="xs:base64Binary"><xs:maxLength value="64"/>"#,
        // arrays → fixed occurrences per dimension
        r#"<xs:element name="item" minOccurs="2" maxOccurs="2">"#,
        r#"<xs:element name="item" type="xs:double" minOccurs="3" maxOccurs="3"/>"#,
        // union → discriminator then a choice
        r#"<xs:element name="discriminator" type="tns:Bank.Currency"/><xs:choice minOccurs="0">"#,
        // exceptions → detail element and fault
        r#"<xs:element name="Bank.InsufficientFunds" type="tns:Bank.InsufficientFunds"/>"#,
        r#"<wsdl:fault name="Bank.InsufficientFunds" message="tns:Bank.InsufficientFunds"/>"#,
        // attributes, inherited operations, inout/out in the response
        r#"<wsdl:operation name="_get_owner">"#,
        r#"<wsdl:operation name="_set_owner">"#,
        r#"<wsdl:operation name="ping" idl:declaredIn="Bank.Audited">"#,
        r#"<xs:element name="Bank.Account.withdrawResponse"><xs:complexType><xs:sequence><xs:element name="left""#,
        r#"<xs:element name="Bank.Account.transferResponse"><xs:complexType><xs:sequence><xs:element name="_return" type="xs:boolean"/><xs:element name="batch" type="tns:Bank.Amounts"/>"#,
        // object references and any
        r#"<xs:element name="target" type="tns:CORBA.ObjectReference"/>"#,
        r#"<xs:element name="what" type="tns:CORBA.Any"/>"#,
        // both SOAP versions
        r#"<soap12:address location="http://localhost:8080/services/Bank.Account/soap12"/>"#,
    ] {
        assert!(wsdl.contains(needle), "missing {needle} in\n{wsdl}");
    }
    // One-way: no response message.
    assert!(!wsdl.contains("Bank.Account.notifyResponse"));
    let notify = mapping.table.operation("Bank.Account", "notify").unwrap();
    assert!(notify.oneway);
    assert_eq!(notify.response_element, None);
    let ping = mapping.table.operation("Bank.Account", "ping").unwrap();
    assert_eq!(ping.interface_repo_id, "IDL:bank.example/Bank/Account:1.0");
    assert_eq!(
        ping.declared_in_repo_id,
        "IDL:bank.example/Bank/Audited:1.0"
    );
    let withdraw = mapping.table.operation("Bank.Account", "withdraw").unwrap();
    assert_eq!(
        withdraw.raises,
        [
            "IDL:bank.example/Bank/InsufficientFunds:1.0",
            "IDL:bank.example/Bank/Frozen:1.0"
        ]
    );
    assert!(
        mapping
            .table
            .types
            .iter()
            .any(|t| t.xsd_type == "Bank.Payee"
                && t.idl_type == "::Bank::Payee"
                && t.kind == "union")
    );
}

#[test]
fn address_option_sets_the_port_address() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bench.wsdl");
    assert_ok(
        "idl2wsdl --address",
        &run(ithaca()
            .arg("idl2wsdl")
            .arg(bench_idl())
            .args(["--address", "https://bank.example/echo", "-o"])
            .arg(&out)),
    );
    let wsdl = std::fs::read_to_string(&out).unwrap();
    assert!(
        wsdl.contains(r#"<soap:address location="https://bank.example/echo"/>"#),
        "{wsdl}"
    );
}

#[test]
fn generated_wsdl_loads_in_zeep() {
    let python = ithaca_testkit::interop::python().unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap();
    let wsdl = idl2wsdl(&fixture("bank.idl"), dir.path(), "bank.wsdl");
    let output = run(Command::new(python)
        .arg("-c")
        .arg(
            "import sys, zeep\n\
             c = zeep.Client(sys.argv[1])\n\
             for s in c.wsdl.services.values():\n\
             \x20   for p in s.ports.values():\n\
             \x20       print(p.name, ' '.join(sorted(p.binding._operations)))\n",
        )
        .arg(&wsdl));
    assert_ok("zeep", &output);
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains(
            "Bank.AccountPort _get_balance _get_owner _get_revision _set_owner deposit inspect \
             last notify ping self transfer withdraw"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("Bank.AccountSoap12Port"), "{stdout}");
}

#[test]
fn generated_wsdl_loads_in_node_soap() {
    let node_dir = ithaca_testkit::interop::node_dir().unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap();
    let wsdl = idl2wsdl(&fixture("bank.idl"), dir.path(), "bank.wsdl");
    let output = run(Command::new("node")
        .arg("-e")
        .arg(
            "const soap = require('soap');\n\
             soap.createClientAsync(process.argv[1]).then(c => {\n\
               const d = c.describe();\n\
               for (const s in d) for (const p in d[s]) console.log(p, Object.keys(d[s][p]).sort().join(' '));\n\
             }).catch(e => { console.error(e.message); process.exit(1); });",
        )
        .arg(&wsdl)
        .current_dir(node_dir));
    assert_ok("node soap", &output);
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("Bank.AccountPort _get_balance _get_owner _get_revision _set_owner"),
        "{stdout}"
    );
}

#[test]
fn generated_wsdl_loads_in_wsimport() {
    let dir = tempfile::tempdir().unwrap();
    let wsdl = idl2wsdl(&fixture("bank.idl"), dir.path(), "bank.wsdl");
    let generated = dir.path().join("generated");
    let classes = dir.path().join("classes");
    std::fs::create_dir_all(&generated).unwrap();
    std::fs::create_dir_all(&classes).unwrap();
    let output = run(Command::new("wsimport")
        .args([
            "-extension",
            "-Xnocompile",
            "-quiet",
            "-p",
            "bank.client",
            "-s",
        ])
        .arg(&generated)
        .arg("-d")
        .arg(&classes)
        .arg(&wsdl));
    assert_ok("wsimport", &output);
    let sources: Vec<String> = std::fs::read_dir(generated.join("bank/client"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for class in [
        "BankAccount.java",
        "BankAmount.java",
        "BankInsufficientFunds.java",
    ] {
        assert!(sources.iter().any(|s| s == class), "{class} in {sources:?}");
    }
}

#[test]
fn wsdl2idl_output_passes_omniidl_and_idl_check() {
    let dir = tempfile::tempdir().unwrap();
    for (wsdl, name) in [
        (rich_wsdl(), "rich.idl"),
        (fixture("collisions.wsdl"), "collisions.idl"),
        (
            idl2wsdl(&fixture("bank.idl"), dir.path(), "bank.wsdl"),
            "bank.idl",
        ),
        (
            idl2wsdl(&rich_idl(), dir.path(), "richidl.wsdl"),
            "richidl.idl",
        ),
    ] {
        let idl = wsdl2idl(&wsdl, dir.path(), name);
        assert_ok(&format!("omniidl on {name}"), &omniidl_accepts(&idl));
        assert_ok(
            &format!("ithaca idl check {name}"),
            &run(ithaca().args(["idl", "check"]).arg(&idl)),
        );
    }
}

#[test]
fn case_collisions_and_keywords_are_renamed_deterministically() {
    let mapping = wsdl_to_idl(&fixture("collisions.wsdl"), &WsdlToIdlOptions::default()).unwrap();
    let idl = &mapping.idl;
    for needle in [
        "struct Item {",
        "long item_id;",
        "wstring Item_ID_2;",
        "sequence<wstring, 1> module_;",
        "sequence<wstring> tags;",
        "union item_2 switch",
        "enum Color { red, Red_2, dark_blue };",
        "exception Full {",
        "void store_2(inout ::collisions::Item first, in ::collisions::item_2 second, \
         in ::collisions::Color color, out boolean stored) raises (::collisions::Full);",
    ] {
        assert!(idl.contains(needle), "missing {needle} in\n{idl}");
    }
    let again = wsdl_to_idl(&fixture("collisions.wsdl"), &WsdlToIdlOptions::default()).unwrap();
    assert_eq!(again.idl, mapping.idl);
}

/// Interfaces by repository id: bases, operations with parameter names
/// and modes, attributes.
fn interfaces(idl: &Path) -> BTreeSet<String> {
    let output = run(ithaca().args(["idl", "describe", "--json"]).arg(idl));
    assert_ok("ithaca idl describe --json", &output);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let mut out = BTreeSet::new();
    for i in json["interfaces"].as_array().unwrap() {
        let mut line = format!("{} : {}", i["repo_id"], i["bases"]);
        for op in i["operations"].as_array().unwrap() {
            let params: Vec<String> = op["params"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| format!("{} {}", p["dir"], p["name"]))
                .collect();
            line.push_str(&format!(
                " | {}{}({}) raises {}",
                if op["oneway"] == true { "oneway " } else { "" },
                op["name"],
                params.join(", "),
                op["raises"]
            ));
        }
        for a in i["attributes"].as_array().unwrap() {
            line.push_str(&format!(" | attribute {} ro={}", a["name"], a["readonly"]));
        }
        out.insert(line);
    }
    out
}

#[test]
fn idl_to_wsdl_to_idl_keeps_interfaces_operations_and_repository_ids() {
    let dir = tempfile::tempdir().unwrap();
    for (idl, name) in [(fixture("bank.idl"), "bank"), (bench_idl(), "bench")] {
        let wsdl = idl2wsdl(&idl, dir.path(), &format!("{name}.wsdl"));
        let back = wsdl2idl(&wsdl, dir.path(), &format!("{name}.idl"));
        let before = interfaces(&idl);
        let after = interfaces(&back);
        assert!(!before.is_empty());
        assert_eq!(
            before,
            after,
            "IDL after the round trip:\n{}",
            std::fs::read_to_string(&back).unwrap()
        );
    }
}

/// Per operation of every port type: the operation name and the child
/// element names of its request and response wrappers.
fn message_shapes(wsdl: &Path) -> BTreeSet<String> {
    let loaded = load_file(wsdl, &LoadOptions::default());
    assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics);
    let defs: &Definitions = &loaded.definitions;
    let mut out = BTreeSet::new();
    for pt in defs.port_types.values() {
        for op in &pt.operations {
            let shape = |m: Option<&ithaca_wsdl::wsdl11::OperationMessage>| -> String {
                let Some(m) = m else { return "-".to_owned() };
                let Some(msg) = defs.messages.get(&m.message) else {
                    return "?".to_owned();
                };
                msg.parts
                    .iter()
                    .map(|p| match &p.element {
                        Some(e) => children(&loaded.schema, e).join(","),
                        None => p.name.clone(),
                    })
                    .collect::<Vec<_>>()
                    .join(";")
            };
            out.insert(format!(
                "{}({}) -> ({})",
                op.name,
                shape(op.input.as_ref()),
                shape(op.output.as_ref())
            ));
        }
    }
    out
}

fn children(schema: &SchemaSet, element: &ithaca_wsdl::QName) -> Vec<String> {
    let Some(decl) = schema.element(element) else {
        return vec![element.local.clone()];
    };
    let Some(ResolvedType::Complex(ct)) =
        decl.type_ref.as_ref().and_then(|t| schema.resolve_type(t))
    else {
        return vec![element.local.clone()];
    };
    let ComplexContent::Elements {
        particle: Some(p), ..
    } = &ct.content
    else {
        return Vec::new();
    };
    let Term::Group(g) = &p.term else {
        return vec![element.local.clone()];
    };
    g.particles
        .iter()
        .map(|p| match &p.term {
            Term::Element(e) => e.name.local.clone(),
            Term::ElementRef(r) => r.local.clone(),
            _ => "*".to_owned(),
        })
        .collect()
}

#[test]
fn wsdl_to_idl_to_wsdl_keeps_operations_and_message_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let original = fixture("collisions.wsdl");
    let idl = wsdl2idl(&original, dir.path(), "collisions.idl");
    let again = idl2wsdl(&idl, dir.path(), "collisions.wsdl");
    // The operation is renamed store_2 (it may not share its interface's
    // name, ignoring case); everything else keeps its XML name.
    let before: BTreeSet<String> = message_shapes(&original)
        .into_iter()
        .map(|s| s.replacen("store(", "store_2(", 1))
        .collect();
    assert_eq!(before, message_shapes(&again));

    // rich.wsdl: document/literal wrapped and rpc/literal operations come
    // back as wrapped ones with the same parameter names. `track` is left
    // out: its SOAP header parts become parameters of their own (see
    // docs/bridging-corba-and-soap.md).
    let idl = wsdl2idl(&rich_wsdl(), dir.path(), "rich.idl");
    let again = idl2wsdl(&idl, dir.path(), "rich-again.wsdl");
    let flat = |shapes: BTreeSet<String>| -> BTreeSet<String> {
        shapes
            .into_iter()
            .filter(|s| !s.starts_with("track("))
            .map(|s| s.replace(';', ","))
            .collect()
    };
    let before = flat(message_shapes(&rich_wsdl()));
    let after = flat(message_shapes(&again));
    let missing: Vec<&String> = before.difference(&after).collect();
    assert!(missing.is_empty(), "lost {missing:?}; now {after:?}");
}

#[test]
fn unmappable_idl_is_a_named_diagnostic_with_exit_2() {
    let output = run(ithaca().arg("idl2wsdl").arg(fixture("unmappable.idl")));
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    assert!(output.stdout.is_empty());
    let stderr = text(&output.stderr);
    for needle in [
        "unmappable.idl:3:13: error: valuetype ::Odd::Note is not mapped",
        "unmappable.idl:4:19: error: local interface ::Odd::Helper is not mapped",
        "unmappable.idl:7:10: error: operation ::Odd::Service::byValue is not mapped: valuetype ::Odd::Note",
        "unmappable.idl:8:10: error: operation ::Odd::Service::withContext has a context clause",
    ] {
        assert!(stderr.contains(needle), "missing {needle} in\n{stderr}");
    }

    // --partial maps the rest and still reports what it left out.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("odd.wsdl");
    let output = run(ithaca()
        .arg("idl2wsdl")
        .arg(fixture("unmappable.idl"))
        .arg("--partial")
        .arg("-o")
        .arg(&out));
    assert_ok("idl2wsdl --partial", &output);
    assert!(text(&output.stderr).contains("withContext has a context clause"));
    let shapes = message_shapes(&out);
    assert_eq!(
        shapes.into_iter().collect::<Vec<_>>(),
        ["fine(x) -> ()"],
        "only the mappable operation"
    );
}

#[test]
fn bad_input_exits_2_with_one_line_per_diagnostic() {
    let dir = tempfile::tempdir().unwrap();
    let idl = dir.path().join("broken.idl");
    std::fs::write(
        &idl,
        "module M { interface I { void f(in nosuch x); }; };\n",
    )
    .unwrap();
    let output = run(ithaca().arg("idl2wsdl").arg(&idl));
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("broken.idl:1:"),
        "{}",
        text(&output.stderr)
    );

    let wsdl = dir.path().join("broken.wsdl");
    std::fs::write(&wsdl, "<definitions").unwrap();
    let output = run(ithaca().arg("wsdl2idl").arg(&wsdl));
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("broken.wsdl"),
        "{}",
        text(&output.stderr)
    );
}

/// The shared corpus: idl2wsdl over every IDL omniidl accepts, wsdl2idl
/// over every valid WSDL, counting clean mappings, strict loads and
/// omniidl acceptance. Nothing may panic.
#[test]
fn corpus_tier() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus");
    if !corpus.join("idl/MANIFEST.tsv").exists() {
        println!("corpus tier skipped");
        return;
    }
    let manifest = std::fs::read_to_string(corpus.join("idl/MANIFEST.tsv")).unwrap();
    let (mut idl_total, mut idl_mapped, mut idl_loaded) = (0, 0, 0);
    for line in manifest.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (Some(path), Some(verdict)) = (cols.first(), cols.get(2)) else {
            continue;
        };
        if *verdict != "accept" {
            continue;
        }
        let include_dirs = cols
            .get(3)
            .map(|flags| {
                flags
                    .split_whitespace()
                    .filter_map(|f| f.strip_prefix("-I"))
                    .map(|d| corpus.join("idl").join(d))
                    .collect()
            })
            .unwrap_or_default();
        idl_total += 1;
        let options = IdlToWsdlOptions {
            include_dirs,
            ..IdlToWsdlOptions::default()
        };
        if let Ok(mapping) = idl_to_wsdl(&corpus.join("idl").join(path), &options) {
            idl_mapped += 1;
            let loaded = ithaca_wsdl::load_bytes(
                "mapped.wsdl",
                mapping.wsdl.as_bytes(),
                &LoadOptions::default(),
            );
            if !loaded.has_strict_errors() {
                idl_loaded += 1;
            } else {
                println!(
                    "{path}: mapped WSDL fails strict loading: {:?}",
                    loaded.diagnostics.first()
                );
            }
        }
    }
    println!(
        "corpus idl2wsdl: {idl_total} IDL files, {idl_mapped} mapped cleanly, {idl_loaded} load strictly"
    );
    assert_eq!(idl_mapped, idl_loaded, "every mapped WSDL loads strictly");

    let manifest = std::fs::read_to_string(corpus.join("wsdl/MANIFEST.tsv")).unwrap();
    let (mut wsdl_total, mut wsdl_mapped, mut omniidl_ok) = (0, 0, 0);
    let work = tempfile::tempdir().unwrap();
    for line in manifest.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (Some(path), Some(expected)) = (cols.first(), cols.get(2)) else {
            continue;
        };
        if *expected != "valid" || !path.ends_with(".wsdl") {
            continue;
        }
        wsdl_total += 1;
        let Ok(mapping) = wsdl_to_idl(
            &corpus.join("wsdl").join(path),
            &WsdlToIdlOptions::default(),
        ) else {
            continue;
        };
        wsdl_mapped += 1;
        let idl = work.path().join(format!("c{wsdl_total}.idl"));
        std::fs::write(&idl, &mapping.idl).unwrap();
        let output = omniidl_accepts(&idl);
        if output.status.success() {
            omniidl_ok += 1;
        } else {
            println!(
                "{path}: omniidl refuses the IDL: {}",
                text(&output.stderr).lines().next().unwrap_or("")
            );
        }
    }
    println!(
        "corpus wsdl2idl: {wsdl_total} WSDL files, {wsdl_mapped} mapped, {omniidl_ok} accepted by omniidl"
    );
    assert!(idl_total > 0 && wsdl_total > 0);
}
