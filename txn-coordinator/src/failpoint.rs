//! Crash failpoints: named places in the coordinator and the participant
//! where a test can make the process die as if `kill -9`ed at that instant.
//!
//! The points are read once, from the environment variable
//! [`ENV`] (`ITHACA_FAILPOINTS=name[,name…]`, or `name@N` to die at the
//! Nth time the point is reached instead of the first). When the point
//! fires, the process sends itself `SIGKILL`: no destructor, no flush, no
//! log line after it, exactly what a crash at that line looks like to the
//! databases and to the peers. Unset (the normal case), [`hit`] is one
//! load of an initialised `OnceLock` and a branch on an empty list.
//!
//! The points (see [`POINTS`]):
//!
//! - `coordinator.after_decision_write`: the commit decision is durable in
//!   the log, no Commit has been sent (the driver has not yet told the
//!   engine the write finished).
//! - `coordinator.mid_commit_fanout`: one durable participant's Commit has
//!   just been delivered (answered by its endpoint); the others may not
//!   have been.
//! - `coordinator.after_last_committed`: every participant answered
//!   Committed and the decision record is about to be dropped from the
//!   log (it is still there).
//! - `subordinate.after_prepared_write`: a subordinate transaction's
//!   prepared record (its prepared participants and its superior) is
//!   durable in the log, and `Prepared` has not been sent to the superior.
//! - `participant.after_prepared`: `PREPARE TRANSACTION` returned, the
//!   branch is durably prepared, and `Prepared` has not been sent.
//!
//! An unknown name in the variable is ignored with a warning, so a typo
//! shows in the log rather than as a test that silently never crashes.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The environment variable naming the armed points.
pub const ENV: &str = "ITHACA_FAILPOINTS";

/// The commit decision is durable; no Commit has been sent.
pub const COORDINATOR_AFTER_DECISION_WRITE: &str = "coordinator.after_decision_write";
/// One durable participant's Commit has been delivered; others may not.
pub const COORDINATOR_MID_COMMIT_FANOUT: &str = "coordinator.mid_commit_fanout";
/// Every participant answered Committed; the record is still logged.
pub const COORDINATOR_AFTER_LAST_COMMITTED: &str = "coordinator.after_last_committed";
/// The branch is durably prepared; `Prepared` has not been sent.
pub const PARTICIPANT_AFTER_PREPARED: &str = "participant.after_prepared";
/// A subordinate's prepared record is durable; `Prepared` has not been
/// sent to its superior.
pub const SUBORDINATE_AFTER_PREPARED_WRITE: &str = "subordinate.after_prepared_write";

/// Every failpoint there is.
pub const POINTS: [&str; 5] = [
    COORDINATOR_AFTER_DECISION_WRITE,
    COORDINATOR_MID_COMMIT_FANOUT,
    COORDINATOR_AFTER_LAST_COMMITTED,
    PARTICIPANT_AFTER_PREPARED,
    SUBORDINATE_AFTER_PREPARED_WRITE,
];

/// The most points one variable may arm (there are only [`POINTS`]).
const MAX_ARMED: usize = 16;

/// One armed point: its name, the hit that fires, the hits so far.
#[derive(Debug)]
struct Armed {
    name: &'static str,
    fire_at: u64,
    hits: AtomicU64,
}

static ARMED: OnceLock<Vec<Armed>> = OnceLock::new();

/// Parses the variable's value into armed points (unknown names and bad
/// counts are reported and skipped).
fn parse(value: &str) -> Vec<Armed> {
    let mut armed = Vec::new();
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, count) = match item.split_once('@') {
            Some((name, count)) => (name, count.parse::<u64>().ok().filter(|n| *n > 0)),
            None => (item, Some(1)),
        };
        let Some(fire_at) = count else {
            tracing::warn!(
                failpoint = item,
                "{ENV}: the count after @ must be a number from 1"
            );
            continue;
        };
        let Some(name) = POINTS.iter().copied().find(|p| *p == name) else {
            tracing::warn!(failpoint = item, "{ENV}: no such failpoint (ignored)");
            continue;
        };
        if armed.len() == MAX_ARMED {
            break;
        }
        armed.push(Armed {
            name,
            fire_at,
            hits: AtomicU64::new(0),
        });
    }
    armed
}

fn armed() -> &'static [Armed] {
    ARMED.get_or_init(|| match std::env::var(ENV) {
        Ok(value) => {
            let armed = parse(&value);
            for point in &armed {
                tracing::warn!(
                    failpoint = point.name,
                    hit = point.fire_at,
                    "failpoint armed: this process will kill itself there"
                );
            }
            armed
        }
        Err(_) => Vec::new(),
    })
}

/// Reads [`ENV`] now (it is otherwise read at the first [`hit`]), so the
/// armed points are logged at start-up.
pub fn init() {
    let _ = armed();
}

/// Marks that the code reached the point `name`; when that point is armed
/// and this is the hit it waits for, the process dies by `SIGKILL` here.
#[inline]
pub fn hit(name: &str) {
    let armed = armed();
    if armed.is_empty() {
        return;
    }
    fire_if_due(armed, name);
}

#[cold]
fn fire_if_due(armed: &[Armed], name: &str) {
    let Some(point) = armed.iter().find(|p| p.name == name) else {
        return;
    };
    let hits = point.hits.fetch_add(1, Ordering::SeqCst) + 1;
    if hits == point.fire_at {
        eprintln!("failpoint {name} (hit {hits}): killing this process");
        let _ =
            rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::KILL);
        // SIGKILL cannot be caught; should the signal fail to send, end
        // without unwinding or flushing anything all the same.
        std::process::abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_counts_are_parsed() {
        let armed = parse("coordinator.mid_commit_fanout@3, participant.after_prepared,bogus,x@y");
        let names: Vec<_> = armed.iter().map(|a| (a.name, a.fire_at)).collect();
        assert_eq!(
            names,
            [
                (COORDINATOR_MID_COMMIT_FANOUT, 3),
                (PARTICIPANT_AFTER_PREPARED, 1)
            ]
        );
        assert!(parse("").is_empty());
        assert!(parse("coordinator.after_decision_write@0").is_empty());
    }

    #[test]
    fn an_unarmed_point_does_nothing() {
        // The test process has no ITHACA_FAILPOINTS for these names.
        hit("no.such.point");
        fire_if_due(
            &parse(PARTICIPANT_AFTER_PREPARED),
            COORDINATOR_AFTER_DECISION_WRITE,
        );
        let not_yet = parse("participant.after_prepared@5");
        fire_if_due(&not_yet, PARTICIPANT_AFTER_PREPARED);
        assert_eq!(not_yet[0].hits.load(Ordering::SeqCst), 1);
    }
}
