//! Corpus tier: loads every WSDL/XSD in `../../shared/corpus/wsdl` (when
//! that folder exists) and checks the verdicts against its MANIFEST.tsv.
//!
//! - Every file the manifest lists as `valid` must load without error
//!   diagnostics (warnings allowed, as `ithaca wsdl check` does), except
//!   the documented [`KNOWN_FAILURES`].
//! - The invalid files in [`STRICT_REJECTED`] must fail strict checking.
//! - For every file that loads, a sample of each operation's output
//!   element must validate against the schema (what `ithaca mock` answers),
//!   and sampling must not panic.
//! - Every other file must load without panicking; the figures are printed.
//! - The largest WSDL (with its imports) is timed and the time printed
//!   (not asserted: run with `--release` for a meaningful figure).

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use ithaca_wsdl::xsd::{InstanceLimits, SampleLimits};
use ithaca_wsdl::{LoadOptions, load_file};

/// Files the manifest lists as valid that do not load cleanly, with why.
/// The test fails when one of them starts loading (so the list shrinks) or
/// when another valid file stops loading.
///
/// The loader tolerates, with warnings, what lenient toolkits accept
/// (unbound and undeclared prefixes, references defined nowhere, a late
/// XML declaration); what is left cannot be read without giving up XML
/// namespaces altogether.
const KNOWN_FAILURES: &[(&str, &str)] = &[(
    "node-soap/attachments.wsdl",
    "every WSDL and XSD element is in the default namespace http://www.example.com/v1, \
     so the root is not wsdl:definitions; node-soap matches element names without namespaces",
)];

/// Files the manifest lists as invalid that strict checking (CXF's
/// validator's verdict, `ithaca wsdl check --strict`) must reject. The
/// others are rejected by WS-I or CXF-specific rules Ithaca reports as
/// warnings, or are not WSDL at all (schemas, which load).
const STRICT_REJECTED: &[&str] = &[
    "cxf-validator/internal/NoTypeRef.wsdl",
    "cxf-validator/internal/a.wsdl",
    "cxf-validator/internal/b.wsdl",
    "cxf-validator/internal/logical.wsdl",
    "cxf-validator/validator_wsdl/bp2717.wsdl",
    "cxf-validator/validator_wsdl/hello_world_error_reference.wsdl",
    "node-soap/bad.txt",
    "node-soap/bad2.txt",
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
    let mut strict_accepted: Vec<String> = Vec::new();
    let mut samples = 0;
    let mut bad_samples: Vec<String> = Vec::new();
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
                    if STRICT_REJECTED.contains(&relative.as_str()) && !loaded.has_strict_errors() {
                        strict_accepted.push(relative.clone());
                    }
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
        if !loaded.has_errors() {
            // Sampling never panics, whatever the schema.
            for element in loaded.schema.elements() {
                let _ = loaded
                    .schema
                    .sample_element(&element.name, &SampleLimits::default());
            }
            for op in loaded.definitions.operations(&loaded.schema) {
                let Some(output) = &op.output else { continue };
                let Some(message) = loaded.definitions.messages.get(&output.message) else {
                    continue;
                };
                for part in output.parts.iter().filter_map(|p| message.part(p)) {
                    let Some(element) = &part.element else {
                        continue;
                    };
                    let Some(sample) = loaded
                        .schema
                        .sample_element(element, &SampleLimits::default())
                    else {
                        continue;
                    };
                    samples += 1;
                    if let Err(violations) = loaded.schema.validate_element(
                        &sample,
                        &[],
                        Some(element),
                        &InstanceLimits::default(),
                    ) {
                        bad_samples.push(format!(
                            "{relative} {element}: {} in {}",
                            violations[0],
                            sample.chars().take(300).collect::<String>()
                        ));
                    }
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
    println!(
        "samples of output elements: {samples}, invalid: {}",
        bad_samples.len()
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
        strict_accepted.is_empty(),
        "invalid files that strict checking accepts: {strict_accepted:#?}"
    );
    assert!(
        bad_samples.is_empty(),
        "samples that do not validate: {bad_samples:#?}"
    );
    assert!(
        fixed.is_empty(),
        "known failures that now load (remove them from KNOWN_FAILURES): {fixed:#?}"
    );
}
