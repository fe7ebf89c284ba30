//! [`DriverConfig`] and [`RetryPolicy`]: the driver's tunables.

use std::time::Duration;

use crate::engine;
use crate::log::GroupCommitConfig;

/// How a failed send (or a failed lazy log update) is retried: capped,
/// jittered exponential backoff with a bounded number of attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per send, the first included (at least 1).
    pub max_attempts: u32,
    /// The wait before the first retry.
    pub initial_backoff: Duration,
    /// The longest wait between two attempts.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// The un-jittered wait before attempt `attempt + 1` (after `attempt`
    /// failures): `initial_backoff × 2^(attempt-1)`, capped.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(30);
        self.initial_backoff
            .saturating_mul(1u32 << doublings)
            .min(self.max_backoff)
    }

    /// The wait with "equal jitter": half the backoff plus a random part of
    /// the other half, given `random` uniformly drawn from `u64`.
    pub fn jittered(&self, attempt: u32, random: u64) -> Duration {
        let backoff = self.backoff(attempt);
        let half = backoff / 2;
        let spread = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        let extra = random.checked_rem(spread.saturating_add(1)).unwrap_or(0);
        half.saturating_add(Duration::from_nanos(extra))
    }
}

/// Everything [`super::CoordinatorService::start`] needs besides the log
/// and the sink.
#[derive(Debug, Clone)]
pub struct DriverConfig {
    /// The engine's timers and bounds (resend period, linger, capacity).
    pub engine: engine::Config,
    /// How decisions are batched into forced writes.
    pub group_commit: GroupCommitConfig,
    /// How sends are retried.
    pub send_retry: RetryPolicy,
    /// At most this many sends in flight at once (more wait, without
    /// blocking the engine).
    pub max_in_flight_sends: usize,
    /// How often a failed log (start-up recovery, lazy updates, the store
    /// probe while the store is down) is retried, at most.
    pub store_retry: RetryPolicy,
    /// At most this many lazy log updates (participant done, forget) queued.
    pub lazy_queue: usize,
    /// How long the lazy writer gathers updates after the first of a batch
    /// before writing them in one transaction. A transaction's last
    /// acknowledgement and its forget then usually share a batch, and the
    /// forget makes the participant-done updates before it unnecessary;
    /// delaying an unforced update costs nothing but a repeated Commit
    /// after a crash inside the window.
    pub lazy_delay: Duration,
    /// The expiry given to a context created without one (`None`: no
    /// expiry).
    pub default_expires: Option<Duration>,
    /// The longest expiry a creator may ask for (longer ones are cut to
    /// it).
    pub max_expires: Duration,
}

impl Default for DriverConfig {
    fn default() -> Self {
        Self {
            engine: engine::Config::default(),
            group_commit: GroupCommitConfig::default(),
            send_retry: RetryPolicy::default(),
            max_in_flight_sends: 1024,
            store_retry: RetryPolicy {
                max_attempts: u32::MAX,
                initial_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(5),
            },
            lazy_queue: 65_536,
            lazy_delay: Duration::from_millis(20),
            default_expires: Some(Duration::from_secs(120)),
            max_expires: Duration::from_secs(3600),
        }
    }
}
