//! Small hand-written fixtures, each with the accept/reject verdict that
//! omniidl 4.2.5 (`omniidl -bcxx`) gave it, in
//! `tests/fixtures/omniidl_verdicts.txt`. [`ithaca_idl::front`] in the
//! omniidl dialect must agree, except where an entry documents a deliberate
//! difference (`ithaca=<verdict>: reason`).
#![allow(clippy::unwrap_used)]

use std::path::Path;

use ithaca_idl::front::{Dialect, Options, Sources, analyze_source};

#[test]
fn fixtures_match_omniidl_verdicts() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/omniidl_verdicts.txt");
    let text = std::fs::read_to_string(path).unwrap();
    let mut entries: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if let Some(head) = line.strip_prefix("=== ") {
            entries.push((head.to_owned(), String::new()));
        } else if let Some((_, body)) = entries.last_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    assert!(entries.len() > 100, "only {} fixtures", entries.len());
    let opts = Options {
        dialect: Dialect::Omniidl,
        ..Options::default()
    };
    let mut failures = Vec::new();
    for (head, body) in &entries {
        let omniidl = head.split_whitespace().next().unwrap();
        let expected = match head.split_once("ithaca=") {
            Some((_, rest)) => rest.split(':').next().unwrap().trim(),
            None => omniidl,
        };
        let mut sources = Sources::memory();
        sources.add("fixture.idl", body.as_str());
        let out = analyze_source(Path::new("fixture.idl"), &sources, &opts);
        let ours = if out.has_errors() { "reject" } else { "accept" };
        if ours != expected {
            let first = out
                .diagnostics
                .first()
                .map(ToString::to_string)
                .unwrap_or_default();
            failures.push(format!(
                "expected {expected}, got {ours} ({first}) for:\n{body}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} fixtures differ:\n{}",
        failures.len(),
        entries.len(),
        failures.join("\n")
    );
}
