//! The driver's counters: [`DriverMetrics`] snapshots for the admin API and
//! tests, and the `ithaca_txn_*` series recorded through the `metrics`
//! facade (rendered by the gateway's `/metrics`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Upper bounds, in seconds, of the decision-write latency buckets.
pub const DECISION_WRITE_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// Names of the series recorded through the `metrics` facade.
pub mod names {
    /// Counter: transactions decided to commit.
    pub const COMMITS: &str = "ithaca_txn_commits_total";
    /// Counter: transactions rolled back.
    pub const ABORTS: &str = "ithaca_txn_aborts_total";
    /// Gauge: transactions held by the coordinator.
    pub const ACTIVE: &str = "ithaca_txn_transactions";
    /// Gauge: transactions with a participant prepared and not finished.
    pub const IN_DOUBT: &str = "ithaca_txn_in_doubt";
    /// Histogram: seconds from a decision's forced write request to its
    /// durability.
    pub const DECISION_WRITE_SECONDS: &str = "ithaca_txn_decision_write_seconds";
    /// Counter: decision writes that failed (and were held back).
    pub const DECISION_WRITE_FAILURES: &str = "ithaca_txn_decision_write_failures_total";
    /// Counter: durable group-commit flushes.
    pub const FLUSHES: &str = "ithaca_txn_log_flushes_total";
    /// Counter: decisions written by those flushes.
    pub const DECISIONS_LOGGED: &str = "ithaca_txn_decisions_logged_total";
    /// Counter: notification attempts.
    pub const SENDS: &str = "ithaca_txn_sends_total";
    /// Counter: notification attempts that failed.
    pub const SEND_FAILURES: &str = "ithaca_txn_send_failures_total";
    /// Histogram, by `phase` (see [`super::phase`]): seconds each phase of
    /// a transaction's completion took, from the initiator's Commit on.
    pub const PHASE_SECONDS: &str = "ithaca_txn_phase_seconds";
}

/// The `phase` labels of [`names::PHASE_SECONDS`]. With
/// [`names::DECISION_WRITE_SECONDS`] they split a commit into where its
/// time went.
pub mod phase {
    /// The initiator's Commit to the last durable participant's vote (the
    /// volatile and durable Prepare rounds: the participants' own prepare,
    /// such as PostgreSQL's `PREPARE TRANSACTION`, and two messages each).
    pub const VOTING: &str = "voting";
    /// The initiator's Commit to its outcome being sent (voting, then the
    /// forced decision write for a commit).
    pub const OUTCOME: &str = "outcome";
    /// The decision durable to the last participant's Committed (the
    /// Commit fan-out and the participants' own commit).
    pub const COMMIT_FANOUT: &str = "commit_fanout";
}

/// Registers the descriptions of every `ithaca_txn_*` series with the
/// installed `metrics` recorder (call once, after installing it).
pub fn describe() {
    metrics::describe_counter!(names::COMMITS, "WS-AT transactions decided to commit.");
    metrics::describe_counter!(names::ABORTS, "WS-AT transactions rolled back.");
    metrics::describe_gauge!(names::ACTIVE, "WS-AT transactions held by the coordinator.");
    metrics::describe_gauge!(
        names::IN_DOUBT,
        "WS-AT transactions with a prepared participant not yet finished."
    );
    metrics::describe_histogram!(
        names::DECISION_WRITE_SECONDS,
        metrics::Unit::Seconds,
        "Time to force a commit decision to the coordinator log."
    );
    metrics::describe_counter!(
        names::DECISION_WRITE_FAILURES,
        "Commit decision writes that failed and were held back for a retry."
    );
    metrics::describe_counter!(names::FLUSHES, "Durable coordinator log flushes.");
    metrics::describe_counter!(
        names::DECISIONS_LOGGED,
        "Commit decisions written (decisions per flush = this / flushes)."
    );
    metrics::describe_counter!(names::SENDS, "WS-AT notification send attempts.");
    metrics::describe_counter!(
        names::SEND_FAILURES,
        "WS-AT notification sends that failed."
    );
    metrics::describe_histogram!(
        names::PHASE_SECONDS,
        metrics::Unit::Seconds,
        "Time each phase of a WS-AT commit took (voting, outcome, commit_fanout)."
    );
}

/// The decision-write latency distribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencyHistogram {
    /// `(upper bound in seconds, cumulative count)`, the last bound being
    /// `+Inf` (written as `f64::MAX`).
    pub buckets: Vec<(f64, u64)>,
    /// Observations.
    pub count: u64,
    /// Their sum, in seconds.
    pub sum_seconds: f64,
}

impl LatencyHistogram {
    /// The smallest bucket bound at or above quantile `q` (0–1), or `None`
    /// with no observation.
    pub fn quantile_bound(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let rank = (q.clamp(0.0, 1.0) * self.count as f64).ceil().max(1.0) as u64;
        self.buckets
            .iter()
            .find(|(_, cumulative)| *cumulative >= rank)
            .map(|(bound, _)| *bound)
    }
}

/// A snapshot of the driver's counters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriverMetrics {
    /// Transactions decided to commit since start.
    pub commits: u64,
    /// Transactions rolled back since start.
    pub aborts: u64,
    /// Transactions held now.
    pub transactions: u64,
    /// Transactions with a prepared participant not yet finished.
    pub in_doubt: u64,
    /// Decision-write latency.
    pub decision_write_latency: LatencyHistogram,
    /// Decision writes that failed (held back, retried).
    pub decision_write_failures: u64,
    /// Durable group-commit flushes.
    pub flushes: u64,
    /// Decisions written by them.
    pub decisions_logged: u64,
    /// `decisions_logged / flushes` (0 before the first flush).
    pub decisions_per_flush: f64,
    /// Notification send attempts.
    pub sends: u64,
    /// Failed attempts.
    pub send_failures: u64,
    /// Whether the log has been loaded since start.
    pub recovered: bool,
    /// Whether the last log operation succeeded.
    pub store_available: bool,
    /// Whether this instance has been fenced off.
    pub fenced: bool,
}

/// The driver's own atomics.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    buckets: [AtomicU64; DECISION_WRITE_BUCKETS.len() + 1],
    count: AtomicU64,
    sum_nanos: AtomicU64,
    pub(crate) decision_write_failures: AtomicU64,
    pub(crate) sends: AtomicU64,
    pub(crate) send_failures: AtomicU64,
    reported_flushes: AtomicU64,
    reported_decisions: AtomicU64,
    reported_commits: AtomicU64,
    reported_aborts: AtomicU64,
}

impl Counters {
    /// One decision write took `elapsed`.
    pub(crate) fn observe_decision_write(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let slot = DECISION_WRITE_BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(DECISION_WRITE_BUCKETS.len());
        if let Some(bucket) = self.buckets.get(slot) {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        metrics::histogram!(names::DECISION_WRITE_SECONDS).record(seconds);
    }

    pub(crate) fn histogram(&self) -> LatencyHistogram {
        let mut cumulative = 0;
        let buckets = DECISION_WRITE_BUCKETS
            .iter()
            .copied()
            .chain([f64::MAX])
            .zip(&self.buckets)
            .map(|(bound, count)| {
                cumulative += count.load(Ordering::Relaxed);
                (bound, cumulative)
            })
            .collect();
        LatencyHistogram {
            buckets,
            count: self.count.load(Ordering::Relaxed),
            sum_seconds: Duration::from_nanos(self.sum_nanos.load(Ordering::Relaxed)).as_secs_f64(),
        }
    }

    /// Moves the facade's monotonic counters up to the given totals (each
    /// counted once, whoever reports first).
    pub(crate) fn report_totals(&self, commits: u64, aborts: u64, flushes: u64, decisions: u64) {
        for (seen, total, name) in [
            (&self.reported_commits, commits, names::COMMITS),
            (&self.reported_aborts, aborts, names::ABORTS),
            (&self.reported_flushes, flushes, names::FLUSHES),
            (&self.reported_decisions, decisions, names::DECISIONS_LOGGED),
        ] {
            let before = seen.fetch_max(total, Ordering::Relaxed);
            if total > before {
                metrics::counter!(name).increment(total - before);
            }
        }
    }
}
