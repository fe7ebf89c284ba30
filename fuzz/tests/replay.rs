//! Replays every seed in `fuzz/corpus/<target>/` through its target, so the
//! seeds (and any crash reproducer added as a seed) run in the plain test
//! suite.

#![allow(clippy::unwrap_used)]

use std::path::Path;

#[test]
fn every_seed_runs_cleanly() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut replayed = 0;
    for (name, target) in ithaca_fuzz::TARGETS {
        let dir = corpus.join(name);
        let mut seeds: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.unwrap().path())
            .collect();
        seeds.sort();
        assert!(!seeds.is_empty(), "no seeds for target {name}");
        for seed in seeds {
            let data = std::fs::read(&seed).unwrap();
            target(&data);
            replayed += 1;
        }
    }
    println!("replayed {replayed} seeds");
}
