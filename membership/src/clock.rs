//! Readings of one process's monotonic clock, as plain values.
//!
//! Everything in this crate is sans-IO: the caller reads the clock (at the
//! socket, for heartbeat arrivals) and passes a [`Timestamp`] in. A
//! timestamp is a duration since an arbitrary per-process origin, so two
//! timestamps are only comparable when they come from the same clock. They
//! are never sent over the wire: peers exchange durations, and each side
//! measures them on its own clock.

use std::time::{Duration, Instant};

use tokio::time::Instant as RuntimeInstant;

/// A reading of one process's monotonic clock: nanoseconds since an
/// arbitrary origin fixed by that process.
///
/// Compare and subtract timestamps only when they come from the same clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The clock's origin.
    pub const ZERO: Self = Self(0);

    /// A reading `nanos` nanoseconds after the origin.
    #[must_use]
    pub const fn from_nanos(nanos: u64) -> Self {
        Self(nanos)
    }

    /// A reading `millis` milliseconds after the origin.
    #[must_use]
    pub const fn from_millis(millis: u64) -> Self {
        Self(millis.saturating_mul(1_000_000))
    }

    /// Nanoseconds since the origin.
    #[must_use]
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// The time elapsed from `earlier` to `self`, or zero when `earlier` is
    /// later (a caller passing readings out of order never underflows).
    #[must_use]
    pub const fn saturating_duration_since(self, earlier: Self) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    /// `self + duration`, saturating at the far future (about 584 years
    /// after the origin).
    #[must_use]
    pub fn saturating_add(self, duration: Duration) -> Self {
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        Self(self.0.saturating_add(nanos))
    }
}

/// The process's monotonic clock, turning [`Instant`]s into [`Timestamp`]s
/// relative to the moment the clock was created.
///
/// This is the one place the crate reads real time; the state machines only
/// see the timestamps it produces. It reads the time through tokio's clock
/// ([`tokio::time::Instant`]), which is the operating system's monotonic
/// clock unless the runtime's clock is paused: under a paused runtime (a
/// deterministic simulation such as `membership/tests/sim_safety.rs`, on
/// turmoil) it reads simulated time, like every tokio timer the node and the
/// client arm.
#[derive(Debug, Clone, Copy)]
pub struct MonotonicClock {
    origin: RuntimeInstant,
}

impl MonotonicClock {
    /// A clock whose origin is now.
    #[must_use]
    pub fn new() -> Self {
        Self {
            origin: RuntimeInstant::now(),
        }
    }

    /// The current reading.
    #[must_use]
    pub fn now(&self) -> Timestamp {
        self.since_origin(RuntimeInstant::now())
    }

    /// The reading for `instant` (the origin for instants before it).
    #[must_use]
    pub fn at(&self, instant: Instant) -> Timestamp {
        self.since_origin(RuntimeInstant::from_std(instant))
    }

    fn since_origin(&self, instant: RuntimeInstant) -> Timestamp {
        Timestamp::ZERO.saturating_add(instant.saturating_duration_since(self.origin))
    }
}

impl Default for MonotonicClock {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_between_readings_never_underflow() {
        let early = Timestamp::from_millis(5);
        let late = Timestamp::from_millis(8);
        assert_eq!(
            late.saturating_duration_since(early),
            Duration::from_millis(3)
        );
        assert_eq!(early.saturating_duration_since(late), Duration::ZERO);
    }

    #[test]
    fn adding_saturates_at_the_far_future() {
        let t = Timestamp::from_nanos(u64::MAX - 1);
        assert_eq!(
            t.saturating_add(Duration::from_secs(1)).as_nanos(),
            u64::MAX
        );
        assert_eq!(Timestamp::from_millis(u64::MAX).as_nanos(), u64::MAX);
    }

    #[test]
    fn the_process_clock_moves_forward() {
        let clock = MonotonicClock::new();
        let a = clock.now();
        let b = clock.now();
        assert!(b >= a);
    }
}
