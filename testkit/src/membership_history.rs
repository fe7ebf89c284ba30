//! The membership history checker: reads the JSON-lines records that
//! member processes write (`ithaca membership member --record FILE`) and
//! checks the invariants a primary/backup group relies on.
//!
//! Each line is one event of one member process, with times as
//! `CLOCK_MONOTONIC` nanoseconds (one clock for every process on the
//! machine, see [`monotonic_now_ns`]):
//!
//! - `{"kind":"joined","member":M,"incarnation":I,"at_ns":T,"pid":P}`
//! - `{"kind":"view","member":M,"at_ns":T,"view":VIEW}` for every view the
//!   member installs (`VIEW` is the view's JSON, as `GET /membership/view`);
//! - `{"kind":"start","member":M,"incarnation":I,"service":S,"view":V,"at_ns":T,"lease_expires_ns":E}`:
//!   the first instant the member found itself primary of `S` in view `V`
//!   with a valid lease (checked at `T`, lease valid until `E`);
//! - `{"kind":"stop",…}` with the same fields: the *last* instant it acted
//!   as primary in that interval (so `[start, stop]` holds only instants
//!   at which the member checked and found its lease valid);
//! - `{"kind":"exit","member":M,"at_ns":T}` on a clean exit.
//!
//! A process killed while acting leaves an interval open; the harness
//! tells the checker when it killed the process
//! ([`History::process_ended`]) and the interval is taken to last until
//! then (an open interval with no known end lasts for ever).
//!
//! [`History::check`] verifies:
//!
//! 1. at most one member (and incarnation) acts as primary of a service in
//!    any one view, and the view names it primary of that service;
//! 2. the serving intervals of different members (or incarnations) for one
//!    service never overlap in time;
//! 3. whoever acted in view `v` was a member of `v`, at that incarnation,
//!    and its lease was valid at both ends of the interval;
//! 4. each process installed views in strictly increasing id order, and
//!    one view id never has two contents across all records.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

/// Longest record line accepted.
const MAX_LINE: usize = 4 * 1024 * 1024;
/// Largest record file accepted.
const MAX_FILE: u64 = 256 * 1024 * 1024;

/// Now on `CLOCK_MONOTONIC`, in nanoseconds: the clock the records use,
/// comparable between processes on one machine.
#[must_use]
pub fn monotonic_now_ns() -> u64 {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    u64::try_from(now.tv_sec)
        .unwrap_or(0)
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::try_from(now.tv_nsec).unwrap_or(0))
}

/// Why records could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// A record file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
    /// A line is not a record.
    #[error("{}:{line}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// Its 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// One record line.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum Record {
    Joined {
        member: String,
        incarnation: u64,
        at_ns: u64,
        #[allow(dead_code)]
        pid: u32,
    },
    View {
        member: String,
        at_ns: u64,
        view: Value,
    },
    Start(Acting),
    Stop(Acting),
    Exit {
        member: String,
        at_ns: u64,
    },
}

#[derive(Debug, Clone, Deserialize)]
struct Acting {
    member: String,
    incarnation: u64,
    service: String,
    view: u64,
    at_ns: u64,
    lease_expires_ns: u64,
}

/// One stretch of time a member acted as primary of a service in one view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interval {
    /// The member id.
    pub member: String,
    /// Its incarnation.
    pub incarnation: u64,
    /// The service.
    pub service: String,
    /// The view it acted in.
    pub view: u64,
    /// The first instant it acted.
    pub start_ns: u64,
    /// Its lease expiry at the start.
    pub start_lease_expires_ns: u64,
    /// The last instant it acted, or when its process ended; `None` when
    /// the interval is open and the process's end is unknown.
    pub end_ns: Option<u64>,
    /// Whether `end_ns` is a recorded stop (not a process end).
    pub stopped: bool,
}

impl Interval {
    fn end_or_max(&self) -> u64 {
        self.end_ns.unwrap_or(u64::MAX)
    }
}

/// An invariant the history breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Which invariant (1 to 4, see the module docs).
    pub invariant: u8,
    /// What happened.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invariant {}: {}", self.invariant, self.message)
    }
}

/// Everything read from a set of record files (see the module docs).
#[derive(Debug, Default, Clone)]
pub struct History {
    /// Serving intervals, in the order read.
    intervals: Vec<Interval>,
    /// View id → content, from every record (first seen kept; conflicts
    /// recorded).
    views: BTreeMap<u64, Value>,
    /// Violations found while reading (view order, conflicting contents,
    /// unmatched stops).
    read_violations: Vec<Violation>,
    /// Per member: every view install (time, id), in file order.
    installs: BTreeMap<String, Vec<(u64, u64)>>,
    /// Joins: member → (time, incarnation).
    joins: BTreeMap<String, Vec<(u64, u64)>>,
}

impl History {
    /// Reads record files (one per member process; a process that
    /// restarts may append to the same file).
    pub fn read_files<P: AsRef<Path>>(paths: &[P]) -> Result<Self, HistoryError> {
        let mut history = Self::default();
        for path in paths {
            history.read_file(path.as_ref())?;
        }
        Ok(history)
    }

    fn read_file(&mut self, path: &Path) -> Result<(), HistoryError> {
        let io = |source| HistoryError::Io {
            path: path.to_owned(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let mut reader = BufReader::new(file.take(MAX_FILE));
        let mut line = String::new();
        let mut number = 0;
        let mut open: BTreeMap<(String, u64, String), Interval> = BTreeMap::new();
        loop {
            line.clear();
            let read = (&mut reader)
                .take(u64::try_from(MAX_LINE).unwrap_or(u64::MAX))
                .read_line(&mut line)
                .map_err(io)?;
            if read == 0 {
                break;
            }
            number += 1;
            let text = line.trim();
            if text.is_empty() {
                continue;
            }
            if !line.ends_with('\n') {
                // A torn last line (the process was killed mid-write).
                break;
            }
            let record: Record =
                serde_json::from_str(text).map_err(|error| HistoryError::Parse {
                    path: path.to_owned(),
                    line: number,
                    message: error.to_string(),
                })?;
            self.apply(record, &mut open);
        }
        // Intervals left open: their process died or is still running.
        self.intervals.extend(open.into_values());
        Ok(())
    }

    fn apply(&mut self, record: Record, open: &mut BTreeMap<(String, u64, String), Interval>) {
        match record {
            Record::Joined {
                member,
                incarnation,
                at_ns,
                ..
            } => {
                // A new process (or incarnation) of this member: anything it
                // left open ended before this join.
                self.joins
                    .entry(member)
                    .or_default()
                    .push((at_ns, incarnation));
            }
            Record::View {
                member,
                at_ns,
                view,
            } => {
                let Some(id) = view.get("id").and_then(Value::as_u64) else {
                    self.read_violations.push(Violation {
                        invariant: 4,
                        message: format!("{member} recorded a view without an id"),
                    });
                    return;
                };
                let installs = self.installs.entry(member.clone()).or_default();
                if let Some((_, last)) = installs.last()
                    && *last >= id
                {
                    self.read_violations.push(Violation {
                        invariant: 4,
                        message: format!(
                            "{member} installed view {id} after view {last} (views must only move forward)"
                        ),
                    });
                }
                installs.push((at_ns, id));
                match self.views.get(&id) {
                    Some(known) if *known != view => self.read_violations.push(Violation {
                        invariant: 4,
                        message: format!("view {id} has two contents: {known} and {view}"),
                    }),
                    Some(_) => {}
                    None => {
                        self.views.insert(id, view);
                    }
                }
            }
            Record::Start(acting) => {
                if acting.at_ns >= acting.lease_expires_ns {
                    self.read_violations.push(Violation {
                        invariant: 3,
                        message: format!(
                            "{}#{} started acting for {} at {} with a lease that expired at {}",
                            acting.member,
                            acting.incarnation,
                            acting.service,
                            acting.at_ns,
                            acting.lease_expires_ns
                        ),
                    });
                }
                let key = (
                    acting.member.clone(),
                    acting.incarnation,
                    acting.service.clone(),
                );
                if let Some(previous) = open.remove(&key) {
                    self.intervals.push(previous);
                }
                open.insert(
                    key,
                    Interval {
                        member: acting.member,
                        incarnation: acting.incarnation,
                        service: acting.service,
                        view: acting.view,
                        start_ns: acting.at_ns,
                        start_lease_expires_ns: acting.lease_expires_ns,
                        end_ns: None,
                        stopped: false,
                    },
                );
            }
            Record::Stop(acting) => {
                let key = (
                    acting.member.clone(),
                    acting.incarnation,
                    acting.service.clone(),
                );
                match open.remove(&key) {
                    Some(mut interval) if interval.view == acting.view => {
                        interval.end_ns = Some(acting.at_ns);
                        interval.stopped = true;
                        if acting.at_ns >= acting.lease_expires_ns {
                            self.read_violations.push(Violation {
                                invariant: 3,
                                message: format!(
                                    "{}#{} acted for {} at {} with a lease that expired at {}",
                                    acting.member,
                                    acting.incarnation,
                                    acting.service,
                                    acting.at_ns,
                                    acting.lease_expires_ns
                                ),
                            });
                        }
                        self.intervals.push(interval);
                    }
                    other => {
                        if let Some(interval) = other {
                            self.intervals.push(interval);
                        }
                        self.read_violations.push(Violation {
                            invariant: 1,
                            message: format!(
                                "{}#{} recorded a stop for {} in view {} with no matching start",
                                acting.member, acting.incarnation, acting.service, acting.view
                            ),
                        });
                    }
                }
            }
            Record::Exit { member, at_ns } => {
                // A clean exit closes nothing by itself: the member writes
                // its stops first.
                let _ = (member, at_ns);
            }
        }
    }

    /// Tells the checker that the process of `member` ended (was killed)
    /// at `at_ns`: intervals of that member still open and started before
    /// then end at `at_ns`.
    pub fn process_ended(&mut self, member: &str, at_ns: u64) {
        for interval in &mut self.intervals {
            if interval.member == member && interval.end_ns.is_none() && interval.start_ns <= at_ns
            {
                interval.end_ns = Some(at_ns);
            }
        }
    }

    /// The serving intervals of `service`, by start time.
    #[must_use]
    pub fn intervals(&self, service: &str) -> Vec<Interval> {
        let mut intervals: Vec<Interval> = self
            .intervals
            .iter()
            .filter(|interval| interval.service == service)
            .cloned()
            .collect();
        intervals.sort_by_key(|interval| interval.start_ns);
        intervals
    }

    /// Every view content recorded, by id.
    #[must_use]
    pub fn views(&self) -> &BTreeMap<u64, Value> {
        &self.views
    }

    /// When `member` first installed a view with an id of at least `id`.
    #[must_use]
    pub fn first_install(&self, member: &str, id: u64) -> Option<u64> {
        self.installs
            .get(member)?
            .iter()
            .find(|(_, installed)| *installed >= id)
            .map(|(at, _)| *at)
    }

    /// The first view (lowest id) whose content leaves `member` out and
    /// whose id is above `after`.
    #[must_use]
    pub fn first_view_without(&self, member: &str, after: u64) -> Option<u64> {
        self.views
            .range(after.saturating_add(1)..)
            .find(|(_, view)| view.get("members").and_then(|m| m.get(member)).is_none())
            .map(|(id, _)| *id)
    }

    /// Checks every invariant; all violations, or `Ok` with the number of
    /// intervals checked.
    pub fn check(&self) -> Result<usize, Vec<Violation>> {
        let mut violations = self.read_violations.clone();
        let services: BTreeSet<&str> = self
            .intervals
            .iter()
            .map(|interval| interval.service.as_str())
            .collect();
        for service in services {
            let intervals = self.intervals(service);
            self.check_one_primary_per_view(service, &intervals, &mut violations);
            check_no_overlap(service, &intervals, &mut violations);
        }
        for interval in &self.intervals {
            self.check_member_of_view(interval, &mut violations);
        }
        if violations.is_empty() {
            Ok(self.intervals.len())
        } else {
            Err(violations)
        }
    }

    fn check_one_primary_per_view(
        &self,
        service: &str,
        intervals: &[Interval],
        violations: &mut Vec<Violation>,
    ) {
        let mut by_view: BTreeMap<u64, BTreeSet<(String, u64)>> = BTreeMap::new();
        for interval in intervals {
            by_view
                .entry(interval.view)
                .or_default()
                .insert((interval.member.clone(), interval.incarnation));
        }
        for (view, actors) in by_view {
            if actors.len() > 1 {
                violations.push(Violation {
                    invariant: 1,
                    message: format!(
                        "{} members acted as primary of {service} in view {view}: {actors:?}",
                        actors.len()
                    ),
                });
            }
            if let Some(content) = self.views.get(&view) {
                let named = content
                    .get("primaries")
                    .and_then(|primaries| primaries.get(service))
                    .and_then(Value::as_str);
                for (member, _) in &actors {
                    if named != Some(member.as_str()) {
                        violations.push(Violation {
                            invariant: 1,
                            message: format!(
                                "{member} acted as primary of {service} in view {view}, which names {named:?}"
                            ),
                        });
                    }
                }
            }
        }
    }

    fn check_member_of_view(&self, interval: &Interval, violations: &mut Vec<Violation>) {
        let Some(view) = self.views.get(&interval.view) else {
            violations.push(Violation {
                invariant: 3,
                message: format!(
                    "{}#{} acted in view {}, which no record holds",
                    interval.member, interval.incarnation, interval.view
                ),
            });
            return;
        };
        let incarnation = view
            .get("members")
            .and_then(|members| members.get(&interval.member))
            .and_then(|info| info.get("incarnation"))
            .and_then(Value::as_u64);
        if incarnation != Some(interval.incarnation) {
            violations.push(Violation {
                invariant: 3,
                message: format!(
                    "{}#{} acted in view {}, where it is {}",
                    interval.member,
                    interval.incarnation,
                    interval.view,
                    incarnation.map_or_else(
                        || "not a member".to_owned(),
                        |other| format!("incarnation {other}")
                    )
                ),
            });
        }
    }
}

fn check_no_overlap(service: &str, intervals: &[Interval], violations: &mut Vec<Violation>) {
    // Sorted by start: an interval overlaps an earlier one of another
    // actor when it starts before the latest end among those.
    let mut latest: Option<&Interval> = None;
    for interval in intervals {
        if let Some(previous) = latest {
            let same_actor =
                previous.member == interval.member && previous.incarnation == interval.incarnation;
            if !same_actor && interval.start_ns <= previous.end_or_max() {
                violations.push(Violation {
                    invariant: 2,
                    message: format!(
                        "{}#{} served {service} from {} (view {}) while {}#{} served it until {} (view {})",
                        interval.member,
                        interval.incarnation,
                        interval.start_ns,
                        interval.view,
                        previous.member,
                        previous.incarnation,
                        previous
                            .end_ns
                            .map_or_else(|| "its process's unknown end".to_owned(), |e| e.to_string()),
                        previous.view
                    ),
                });
            }
        }
        if latest.is_none_or(|previous| interval.end_or_max() >= previous.end_or_max()) {
            latest = Some(interval);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn view(id: u64, members: &[(&str, u64)], primary: &str) -> String {
        let members: Vec<String> = members
            .iter()
            .map(|(m, i)| format!(r#""{m}":{{"incarnation":{i},"address":"a","roles":["s"]}}"#))
            .collect();
        format!(
            r#"{{"id":{id},"members":{{{}}},"primaries":{{"s":"{primary}"}},"backups":{{}}}}"#,
            members.join(",")
        )
    }

    fn acting(kind: &str, member: &str, view: u64, at: u64, expires: u64) -> String {
        format!(
            r#"{{"kind":"{kind}","member":"{member}","incarnation":1,"service":"s","view":{view},"at_ns":{at},"lease_expires_ns":{expires}}}"#
        )
    }

    fn history(files: &[Vec<String>]) -> History {
        let dir = std::env::temp_dir().join(format!(
            "ithaca-history-{}-{}",
            std::process::id(),
            monotonic_now_ns()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let mut paths = Vec::new();
        for (index, lines) in files.iter().enumerate() {
            let path = dir.join(format!("{index}.jsonl"));
            let mut file = std::fs::File::create(&path).unwrap();
            for line in lines {
                writeln!(file, "{line}").unwrap();
            }
            paths.push(path);
        }
        let history = History::read_files(&paths).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        history
    }

    fn view_line(member: &str, at: u64, view: &str) -> String {
        format!(r#"{{"kind":"view","member":"{member}","at_ns":{at},"view":{view}}}"#)
    }

    #[test]
    fn a_clean_failover_passes() {
        let v1 = view(1, &[("a", 1), ("b", 1)], "a");
        let v2 = view(2, &[("b", 1)], "b");
        let h = history(&[
            vec![
                view_line("a", 5, &v1),
                acting("start", "a", 1, 10, 50),
                acting("stop", "a", 1, 40, 50),
            ],
            vec![
                view_line("b", 6, &v1),
                view_line("b", 60, &v2),
                acting("start", "b", 2, 70, 100),
            ],
        ]);
        assert_eq!(h.check(), Ok(2));
        assert_eq!(h.first_view_without("a", 0), Some(2));
        assert_eq!(h.first_install("b", 2), Some(60));
    }

    #[test]
    fn overlapping_primaries_are_caught() {
        let v1 = view(1, &[("a", 1), ("b", 1)], "a");
        let v2 = view(2, &[("b", 1)], "b");
        let h = history(&[
            vec![view_line("a", 5, &v1), acting("start", "a", 1, 10, 200)],
            vec![view_line("b", 60, &v2), acting("start", "b", 2, 70, 100)],
        ]);
        let violations = h.check().unwrap_err();
        assert!(
            violations.iter().any(|v| v.invariant == 2),
            "{violations:?}"
        );

        // Once the harness says a's process died at 65, there is no overlap.
        let mut h = h;
        h.process_ended("a", 65);
        assert_eq!(h.check(), Ok(2));
    }

    #[test]
    fn two_primaries_in_one_view_and_a_stranger_are_caught() {
        let v1 = view(1, &[("a", 1)], "a");
        let h = history(&[
            vec![view_line("a", 5, &v1), acting("start", "a", 1, 10, 200)],
            vec![acting("start", "b", 1, 300, 400)],
        ]);
        let violations = h.check().unwrap_err();
        assert!(
            violations.iter().any(|v| v.invariant == 1),
            "{violations:?}"
        );
        assert!(
            violations.iter().any(|v| v.invariant == 3),
            "{violations:?}"
        );
    }

    #[test]
    fn views_out_of_order_or_with_two_contents_are_caught() {
        let v1 = view(1, &[("a", 1)], "a");
        let v1b = view(1, &[("b", 1)], "b");
        let v2 = view(2, &[("a", 1)], "a");
        let h = history(&[
            vec![view_line("a", 5, &v2), view_line("a", 6, &v1)],
            vec![view_line("b", 5, &v1b)],
        ]);
        let violations = h.check().unwrap_err();
        assert_eq!(
            violations.iter().filter(|v| v.invariant == 4).count(),
            2,
            "{violations:?}"
        );
    }

    #[test]
    fn acting_on_an_expired_lease_is_caught() {
        let v1 = view(1, &[("a", 1)], "a");
        let h = history(&[vec![
            view_line("a", 5, &v1),
            acting("start", "a", 1, 10, 50),
            acting("stop", "a", 1, 60, 50),
        ]]);
        let violations = h.check().unwrap_err();
        assert!(
            violations.iter().any(|v| v.invariant == 3),
            "{violations:?}"
        );
    }

    #[test]
    fn the_monotonic_clock_moves_forward() {
        let first = monotonic_now_ns();
        let second = monotonic_now_ns();
        assert!(first > 0 && second >= first);
    }
}
