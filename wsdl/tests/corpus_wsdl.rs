//! Corpus tier: loads every WSDL/XSD in `../../shared/corpus/wsdl` (when
//! that folder exists) and checks the verdicts against its MANIFEST.tsv.
//!
//! - Every file the manifest lists as `valid` must load without error
//!   diagnostics, except the documented [`KNOWN_FAILURES`].
//! - Every other file must load without panicking; the figures are printed.
//! - The largest WSDL (with its imports) is timed and the time printed
//!   (not asserted: run with `--release` for a meaningful figure).

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use ithaca_wsdl::{LoadOptions, load_file};

/// Files the manifest lists as valid that do not load cleanly, with why.
/// The test fails when one of them starts loading (so the list shrinks) or
/// when another valid file stops loading.
///
/// Each of these breaks XML namespaces or WSDL/XSD referencing in a way no
/// tolerance rule of the loader covers (the node-soap and savon fixtures
/// are abridged copies of real services, and those parsers resolve
/// references lazily, so they never notice).
const KNOWN_FAILURES: &[(&str, &str)] = &[
    (
        "node-soap/attachments.wsdl",
        "not namespace-well-formed: prefix `xmime` is unbound",
    ),
    (
        "node-soap/binding_document.wsdl",
        "QName attributes use the undeclared prefix `wsdlns`",
    ),
    (
        "node-soap/complex/registration-common.wsdl",
        "fault message `errorDetailMessage` is defined nowhere",
    ),
    (
        "node-soap/complex/registration.wsdl",
        "imports registration-common.wsdl (above)",
    ),
    (
        "node-soap/default_namespace_soap12.wsdl",
        "not namespace-well-formed: prefix `soap` is unbound",
    ),
    (
        "node-soap/extended_element.wsdl",
        "undeclared prefix `e`; type `DummyRequest` is defined nowhere",
    ),
    (
        "node-soap/json_response.wsdl",
        "element `Response` is defined nowhere",
    ),
    (
        "node-soap/marketo.wsdl",
        "abridged: types and the header message are defined nowhere",
    ),
    (
        "node-soap/schemas_without_targetnamespace.wsdl",
        "part elements use the undeclared prefix `n`",
    ),
    (
        "node-soap/strict/ImportSample.wsdl",
        "includes ImportSample.xsd, which uses the unbound prefix `xsd`",
    ),
    (
        "node-soap/strict/npe.wsdl",
        "QName attributes use the undeclared prefix `wsdlns`",
    ),
    (
        "node-soap/typeof_null_extend_check.wsdl",
        "abridged: five types are defined nowhere",
    ),
    (
        "node-soap/xsdinclude/xsd_include.wsdl",
        "type `DummyList` is defined nowhere",
    ),
    (
        "node-soap/xsdinclude/xsd_include_inline_xmlns.wsdl",
        "type `DummyList` is defined nowhere",
    ),
    (
        "savon/multiple_namespaces.xml",
        "elements and the binding named are defined nowhere",
    ),
    (
        "savon/no_message_tag.xml",
        "not well-formed: an XML declaration on line 2",
    ),
];

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/wsdl")
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(&path, out);
        } else if let Some(ext) = path.extension().and_then(|e| e.to_str())
            && matches!(ext, "wsdl" | "xsd" | "xml" | "txt")
        {
            out.push(path);
        }
    }
}

#[test]
fn corpus() {
    let dir = corpus_dir();
    if !dir.join("MANIFEST.tsv").exists() {
        println!("corpus tier skipped: {} does not exist", dir.display());
        return;
    }
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv")).unwrap();
    let mut expected: BTreeMap<String, String> = BTreeMap::new();
    for line in manifest.lines().skip(1) {
        let mut fields = line.split('\t');
        let (Some(path), Some(_source), Some(verdict)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        expected.insert(path.to_owned(), verdict.to_owned());
    }
    let mut files = Vec::new();
    collect(&dir, &mut files);
    let options = LoadOptions::default();
    let mut valid_ok = 0;
    let mut valid_failed: Vec<String> = Vec::new();
    let mut other_clean = 0;
    let mut other_errors = 0;
    let mut invalid_rejected = 0;
    let mut invalid_flagged = 0;
    let mut invalid_total = 0;
    let mut largest: Option<(usize, PathBuf)> = None;
    for path in &files {
        let relative = path
            .strip_prefix(&dir)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if relative.ends_with("SOURCES.md") || relative == "README.md" {
            continue;
        }
        let loaded = load_file(path, &options);
        let verdict = expected.get(&relative).map(String::as_str);
        let errors: Vec<String> = loaded.errors().map(ToString::to_string).collect();
        match verdict {
            Some("valid") => {
                if errors.is_empty() {
                    valid_ok += 1;
                } else {
                    if !KNOWN_FAILURES.iter().any(|(p, _)| *p == relative) {
                        for e in errors.iter().take(5) {
                            println!("  {e}");
                        }
                    }
                    valid_failed.push(relative.clone());
                }
            }
            other => {
                if other == Some("invalid") {
                    invalid_total += 1;
                    if !errors.is_empty() {
                        invalid_rejected += 1;
                    }
                    if !loaded.diagnostics.is_empty() {
                        invalid_flagged += 1;
                    }
                }
                if errors.is_empty() {
                    other_clean += 1;
                } else {
                    other_errors += 1;
                }
            }
        }
        if loaded.root_kind() == Some(ithaca_wsdl::DocumentKind::Wsdl) {
            let total: usize = loaded.documents.iter().map(|d| d.size).sum();
            if largest.as_ref().is_none_or(|(size, _)| total > *size) {
                largest = Some((total, path.clone()));
            }
        }
    }
    let valid_total = expected.values().filter(|v| *v == "valid").count();
    println!("corpus: {} files", files.len());
    println!("valid (manifest): {valid_ok}/{valid_total} load without errors");
    println!("known failures: {}", KNOWN_FAILURES.len());
    println!(
        "other files: {other_clean} load cleanly, {other_errors} with error diagnostics; invalid files rejected (errors): {invalid_rejected}/{invalid_total}, flagged (errors or warnings): {invalid_flagged}/{invalid_total}"
    );
    if let Some((size, path)) = &largest {
        let start = Instant::now();
        let loaded = load_file(path, &options);
        let elapsed = start.elapsed();
        println!(
            "largest WSDL with imports: {} ({} bytes in {} documents) loaded in {:.2} ms ({} profile)",
            path.strip_prefix(&dir).unwrap().display(),
            size,
            loaded.documents.len(),
            elapsed.as_secs_f64() * 1000.0,
            if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            }
        );
    }
    let unexpected: Vec<&String> = valid_failed
        .iter()
        .filter(|f| !KNOWN_FAILURES.iter().any(|(p, _)| p == f))
        .collect();
    let fixed: Vec<&str> = KNOWN_FAILURES
        .iter()
        .map(|(p, _)| *p)
        .filter(|p| !valid_failed.iter().any(|f| f == p))
        .collect();
    assert!(
        unexpected.is_empty(),
        "valid files that fail to load: {unexpected:#?}"
    );
    assert!(
        fixed.is_empty(),
        "known failures that now load (remove them from KNOWN_FAILURES): {fixed:#?}"
    );
}
