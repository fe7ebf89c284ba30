//! `ithaca demo atc` end to end: the command starts its own oracle,
//! primary and backup processes, runs controllers through a partition in
//! both designs, and its report says what the checker found: the baseline
//! design splits (two controllers told yes for one sector and time), the
//! oracle design never gives two different answers, and the exit status
//! says the oracle held.

#![allow(clippy::unwrap_used)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ithaca");

/// The number after `label` in `line` (`"… 12 conflicts"` → 12 for
/// `" conflicts"` read backwards).
fn count_before(line: &str, label: &str) -> usize {
    let (head, _) = line
        .split_once(label)
        .unwrap_or_else(|| panic!("no {label:?} in {line:?}"));
    head.rsplit(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count before {label:?} in {line:?}"))
}

#[test]
fn demo_atc_reports_the_baseline_split_brain_and_none_with_the_oracle() {
    let started = Instant::now();
    let output = Command::new(BIN)
        .args(["demo", "atc", "--rounds", "2", "--mode", "both"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "exit {:?}\n{stdout}\n{stderr}",
        output.status
    );
    // Progress while it runs: each round announces the partition and the heal.
    assert_eq!(stdout.matches("partition: P cut off").count(), 4);
    assert_eq!(stdout.matches("healed").count(), 4);

    let report: Vec<&str> = stdout
        .lines()
        .skip_while(|line| *line != "report")
        .collect();
    let baseline = report
        .iter()
        .find(|line| line.trim_start().starts_with("baseline"))
        .unwrap_or_else(|| panic!("no baseline line in the report:\n{stdout}"));
    let oracle = report
        .iter()
        .find(|line| line.trim_start().starts_with("oracle"))
        .unwrap_or_else(|| panic!("no oracle line in the report:\n{stdout}"));

    assert!(oracle.contains("2 rounds"), "{oracle}");
    assert_eq!(count_before(oracle, " conflicts"), 0, "{oracle}");
    assert!(oracle.contains("no two different answers"), "{oracle}");
    // The oracle promoted B during the partition: both members served.
    assert!(
        count_before(oracle, ": no two") > 0,
        "B never served: {oracle}"
    );

    assert!(baseline.contains("2 rounds"), "{baseline}");
    let split = count_before(baseline, " double bookings");
    assert!(
        split > 0,
        "the baseline design should double-book under a 3 s partition (B takes over after 1 s while P keeps serving): {baseline}"
    );
    assert!(baseline.contains("split brain"), "{baseline}");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the demo took {:?}",
        started.elapsed()
    );
}

#[test]
fn demo_atc_refuses_bad_arguments_with_a_usage_message() {
    let output = Command::new(BIN)
        .args(["demo", "atc", "--mode", "sideways"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("sideways"), "{stderr}");
    let output = Command::new(BIN)
        .args(["demo", "atc", "--rounds", "0"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}
