//! Corpus tier: every IDL file in `../shared/corpus/idl` gets the same
//! accept/reject verdict from [`ithaca_idl::front::check_file`] as it got
//! from omniidl 4.2.5 (recorded in `MANIFEST.tsv` with the `-I` flags it
//! needs). When the corpus folder is absent the tier is skipped.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

/// Files whose verdict is known to differ from omniidl's, with the reason.
/// The test fails if this list is not exactly the set of mismatches, so
/// fixes and regressions are both noticed.
const KNOWN_MISMATCHES: &[(&str, &str)] = &[];

#[test]
fn corpus_verdicts_match_omniidl() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/idl");
    let manifest = root.join("MANIFEST.tsv");
    let Ok(text) = std::fs::read_to_string(&manifest) else {
        println!("corpus tier skipped: {} not found", manifest.display());
        return;
    };
    // IDL_CORPUS_VERBOSE=1 also prints both reasons for every agreed reject.
    let verbose = std::env::var_os("IDL_CORPUS_VERBOSE").is_some();
    let mut total = 0;
    let mut agree = 0;
    let mut mismatches = Vec::new();
    for line in text.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (Some(path), Some(verdict), Some(flags)) = (cols.first(), cols.get(2), cols.get(3))
        else {
            continue;
        };
        let dirs: Vec<PathBuf> = flags
            .split_whitespace()
            .filter_map(|f| f.strip_prefix("-I"))
            .map(|d| root.join(d))
            .collect();
        let diags = ithaca_idl::front::check_file(&root.join(path), &dirs);
        let ours = if diags.iter().any(|d| d.is_error()) {
            "reject"
        } else {
            "accept"
        };
        total += 1;
        if ours == *verdict {
            agree += 1;
            if verbose && ours == "reject" {
                let first = diags
                    .iter()
                    .find(|d| d.is_error())
                    .map(ToString::to_string)
                    .unwrap_or_default();
                println!(
                    "reject {path}\n  omniidl: {}\n  ithaca:  {first}",
                    cols.get(4).unwrap_or(&"")
                );
            }
        } else {
            let first = diags
                .iter()
                .find(|d| d.is_error())
                .map(ToString::to_string)
                .unwrap_or_default();
            println!("MISMATCH {path}: omniidl {verdict}, ithaca {ours} {first}");
            mismatches.push((*path).to_owned());
        }
    }
    println!("corpus tier: {agree}/{total} verdicts agree with omniidl");
    mutations_never_panic(&root, &text);
    let known: Vec<String> = KNOWN_MISMATCHES
        .iter()
        .map(|(p, _)| (*p).to_owned())
        .collect();
    assert_eq!(
        mismatches, known,
        "the mismatches differ from the documented list"
    );
}

/// Truncated and damaged copies of every corpus file (includes still come
/// from the corpus) must be handled without a panic or a hang.
fn mutations_never_panic(root: &Path, manifest: &str) {
    use ithaca_idl::front::{Dialect, Options, Sources, analyze_source};
    let mut runs = 0;
    for line in manifest.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (Some(path), Some(flags)) = (cols.first(), cols.get(3)) else {
            continue;
        };
        let file = root.join(path);
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let include_dirs: Vec<PathBuf> = flags
            .split_whitespace()
            .filter_map(|f| f.strip_prefix("-I"))
            .map(|d| root.join(d))
            .collect();
        let opts = Options {
            include_dirs,
            dialect: Dialect::Omniidl,
            ..Options::default()
        };
        let cuts: Vec<usize> = (1..4)
            .map(|k| text.len() * k / 4)
            .filter(|&i| text.is_char_boundary(i))
            .collect();
        for &cut in &cuts {
            let mut variants = vec![text[..cut].to_owned(), text[cut..].to_owned()];
            // Drop one character, or insert a brace.
            let mut dropped = text.clone();
            if let Some((i, _)) = dropped[cut..].char_indices().next() {
                dropped.remove(cut + i);
            }
            variants.push(dropped);
            let mut braced = text.clone();
            braced.insert(cut, '{');
            variants.push(braced);
            for v in variants {
                let mut sources = Sources::filesystem();
                sources.add(file.clone(), v);
                let _ = analyze_source(&file, &sources, &opts);
                runs += 1;
            }
        }
    }
    println!("corpus tier: {runs} damaged variants analysed without a panic");
}
