//! The sector-status scenario's checker: finds two answers that contradict
//! each other in what controllers were told, which is what a split brain
//! looks like to them.
//!
//! The controllers of the scenario never release, so two kinds of answers
//! contradict each other:
//!
//! - **double booking**: two different flights acknowledged in one sector
//!   for overlapping intervals (two aircraft cleared for one place and
//!   time);
//! - **stale read**: a WhoIsIn sent after a reservation covering its instant
//!   was acknowledged, answered without that flight.
//!
//! Callers describe each recorded call as a [`Seen`] (same index as their
//! own record) and get the contradictions back as pairs of indices.
//!
//! ```
//! use std::time::Instant;
//! use ithaca_testkit::sector_history::{Contradiction, Seen, contradictions};
//!
//! let t = Instant::now();
//! let seen = [
//!     Seen::Reserved { sector: "S0", flight: "a", from: 0, until: 10, received: t },
//!     Seen::Reserved { sector: "S0", flight: "b", from: 5, until: 15, received: t },
//! ];
//! assert_eq!(contradictions(&seen), vec![Contradiction::DoubleBooking { first: 0, second: 1 }]);
//! ```

use std::time::Instant;

/// One recorded call, as far as the checker cares.
#[derive(Debug, Clone, Copy)]
pub enum Seen<'a> {
    /// A Reserve the service acknowledged.
    Reserved {
        /// The sector.
        sector: &'a str,
        /// The flight.
        flight: &'a str,
        /// The interval's start (seconds, inclusive).
        from: u64,
        /// Its end (exclusive).
        until: u64,
        /// When the acknowledgement reached the controller.
        received: Instant,
    },
    /// A WhoIsIn the service answered.
    Read {
        /// The sector.
        sector: &'a str,
        /// The instant asked about.
        at: u64,
        /// The flights answered.
        flights: &'a [String],
        /// When the controller sent the question.
        sent: Instant,
    },
    /// Anything else (a refusal, a fault, another operation).
    Other,
}

/// Two answers that contradict each other, as indices into the slice given
/// to [`contradictions`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contradiction {
    /// Two flights acknowledged in one sector for overlapping intervals.
    DoubleBooking {
        /// The earlier acknowledgement in the slice.
        first: usize,
        /// The later one.
        second: usize,
    },
    /// A read sent after `acknowledged` that does not list its flight.
    StaleRead {
        /// The acknowledged reservation.
        acknowledged: usize,
        /// The read that missed it.
        read: usize,
    },
}

/// Every contradiction among `seen`: for each acknowledged reservation in
/// order, its double bookings with later ones, then the reads it makes
/// stale.
#[must_use]
pub fn contradictions(seen: &[Seen<'_>]) -> Vec<Contradiction> {
    let reservations: Vec<(usize, &str, &str, u64, u64, Instant)> = seen
        .iter()
        .enumerate()
        .filter_map(|(index, s)| match *s {
            Seen::Reserved {
                sector,
                flight,
                from,
                until,
                received,
            } => Some((index, sector, flight, from, until, received)),
            _ => None,
        })
        .collect();
    let mut found = Vec::new();
    for (position, &(first, s1, f1, a1, b1, received)) in reservations.iter().enumerate() {
        for &(second, s2, f2, a2, b2, _) in reservations.iter().skip(position + 1) {
            if s1 == s2 && f1 != f2 && a1 < b2 && a2 < b1 {
                found.push(Contradiction::DoubleBooking { first, second });
            }
        }
        for (read, s) in seen.iter().enumerate() {
            if let Seen::Read {
                sector,
                at,
                flights,
                sent,
            } = *s
                && sector == s1
                && a1 <= at
                && at < b1
                && sent > received
                && !flights.iter().any(|f| f == f1)
            {
                found.push(Contradiction::StaleRead {
                    acknowledged: first,
                    read,
                });
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn finds_double_bookings_and_stale_reads_and_nothing_else() {
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_millis(10);
        let reserve = |flight, from| Seen::Reserved {
            sector: "S0",
            flight,
            from,
            until: from + 100,
            received: t0,
        };
        let b0 = vec!["B0x1".to_owned()];
        let p0 = vec!["P0x1".to_owned()];
        let read = |flights| Seen::Read {
            sector: "S0",
            at: 150,
            flights,
            sent: t1,
        };
        let found = contradictions(&[
            reserve("P0x1", 100),
            reserve("B0x1", 150),
            reserve("P0x2", 300),
            read(&b0),
            Seen::Other,
        ]);
        assert_eq!(
            found,
            vec![
                Contradiction::DoubleBooking {
                    first: 0,
                    second: 1
                },
                Contradiction::StaleRead {
                    acknowledged: 0,
                    read: 3
                },
            ]
        );
        // Not overlapping, the same flight twice, a read before the
        // acknowledgement: nothing.
        let early = Seen::Read {
            sector: "S0",
            at: 150,
            flights: &b0,
            sent: t0 - Duration::from_millis(1),
        };
        assert!(
            contradictions(&[
                reserve("P0x1", 100),
                reserve("P0x1", 120),
                reserve("B0x1", 220),
                read(&p0),
                early,
            ])
            .is_empty()
        );
    }
}
