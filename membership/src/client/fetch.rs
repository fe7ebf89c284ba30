//! When a member fetches the view over TCP, sans-IO.
//!
//! A heartbeat reply carries the view only while it fits in a datagram (a
//! group of a few members); otherwise it names the oracle's view id and
//! the member fetches that view over TCP. The fetch runs beside the
//! heartbeat loop, never in it (a fetch waits up to the request deadline,
//! and heartbeats must keep going meanwhile), and [`ViewFetchPacer`]
//! decides when one starts:
//!
//! - at most one fetch is in flight, and it asks for the newest view, so
//!   the view changes that happen during a fetch cost one more fetch, not
//!   one each;
//! - a fetch starts at least [`MIN_FETCH_INTERVAL`] after the previous one
//!   started: during a burst of view changes (a large group forming, each
//!   view change naming a newer id in every member's next reply) a member
//!   fetches about once a second instead of at every heartbeat. After a
//!   quiet second the first fetch starts at once, so the view that
//!   promotes a backup after a removal reaches it without delay.
//! - a failed fetch is retried at the same pace.

use std::time::Duration;

use crate::clock::Timestamp;
use crate::view::ViewId;

/// The least time between the starts of two view fetches of one member.
pub const MIN_FETCH_INTERVAL: Duration = Duration::from_secs(1);

/// Decides when the member's view fetch starts (see the module docs).
#[derive(Debug, Clone)]
pub struct ViewFetchPacer {
    min_interval: Duration,
    /// The newest view id an oracle reply named.
    wanted: ViewId,
    in_flight: bool,
    last_started: Option<Timestamp>,
}

impl Default for ViewFetchPacer {
    fn default() -> Self {
        Self::new(MIN_FETCH_INTERVAL)
    }
}

impl ViewFetchPacer {
    /// A pacer starting fetches at least `min_interval` apart.
    #[must_use]
    pub fn new(min_interval: Duration) -> Self {
        Self {
            min_interval,
            wanted: ViewId::INITIAL,
            in_flight: false,
            last_started: None,
        }
    }

    /// An oracle reply named view `id` as its newest.
    pub fn oracle_has(&mut self, id: ViewId) {
        self.wanted = self.wanted.max(id);
    }

    /// The view id an oracle named last (the newest seen).
    #[must_use]
    pub fn wanted(&self) -> ViewId {
        self.wanted
    }

    /// Whether a fetch should start at `now` for a member holding view
    /// `known`; when it answers `true` the fetch counts as started.
    pub fn start(&mut self, known: ViewId, now: Timestamp) -> bool {
        if self.next_start_at(known).is_none_or(|at| now < at) {
            return false;
        }
        self.in_flight = true;
        self.last_started = Some(now);
        true
    }

    /// When the next fetch may start for a member holding view `known`:
    /// `None` while a fetch is in flight or no newer view was named.
    #[must_use]
    pub fn next_start_at(&self, known: ViewId) -> Option<Timestamp> {
        if self.in_flight || self.wanted <= known {
            return None;
        }
        Some(self.last_started.map_or(Timestamp::ZERO, |last| {
            last.saturating_add(self.min_interval)
        }))
    }

    /// The fetch in flight ended (with a view or not).
    pub fn finished(&mut self) {
        self.in_flight = false;
    }

    /// Whether a fetch is in flight.
    #[must_use]
    pub fn in_flight(&self) -> bool {
        self.in_flight
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(millis: u64) -> Timestamp {
        Timestamp::from_millis(millis)
    }

    #[test]
    fn nothing_is_fetched_until_an_oracle_names_a_newer_view() {
        let mut pacer = ViewFetchPacer::default();
        assert!(!pacer.start(ViewId(3), ms(10)));
        pacer.oracle_has(ViewId(3));
        assert!(!pacer.start(ViewId(3), ms(20)));
        assert_eq!(pacer.next_start_at(ViewId(3)), None);
    }

    #[test]
    fn the_first_fetch_starts_at_once_and_later_ones_a_second_apart() {
        let mut pacer = ViewFetchPacer::default();
        pacer.oracle_has(ViewId(5));
        assert!(pacer.start(ViewId(1), ms(100)));
        // One at a time, whatever the replies say meanwhile.
        pacer.oracle_has(ViewId(9));
        assert!(!pacer.start(ViewId(1), ms(150)));
        assert_eq!(pacer.next_start_at(ViewId(1)), None);
        pacer.finished();
        // The fetch brought view 5; 9 is wanted, but not before 1 s after
        // the previous start.
        assert_eq!(pacer.next_start_at(ViewId(5)), Some(ms(1_100)));
        assert!(!pacer.start(ViewId(5), ms(1_099)));
        assert!(pacer.start(ViewId(5), ms(1_100)));
        pacer.finished();
        // Up to date: nothing more.
        assert!(!pacer.start(ViewId(9), ms(5_000)));
    }

    #[test]
    fn a_failed_fetch_is_retried_at_the_same_pace() {
        let mut pacer = ViewFetchPacer::new(Duration::from_millis(200));
        pacer.oracle_has(ViewId(2));
        assert!(pacer.start(ViewId(1), ms(0)));
        pacer.finished();
        assert!(!pacer.start(ViewId(1), ms(199)));
        assert!(pacer.start(ViewId(1), ms(200)));
        assert!(pacer.in_flight());
    }
}
