//! The checker: reads every answer the controllers recorded and finds two
//! different answers to one question, which is what a split brain looks
//! like to controllers.
//!
//! The controllers never release, so two kinds of answers contradict each
//! other:
//!
//! - **double booking**: two flights acknowledged in one sector for
//!   overlapping intervals (two aircraft cleared for one place and time);
//! - **stale read**: a WhoIsIn sent after a reservation covering its
//!   instant was acknowledged, answered without that flight.

use std::fmt;

use ithaca_testkit::sector_history::{Contradiction, Seen, contradictions};

use super::controller::{Answer, Call, Record};

/// Two answers that contradict each other.
#[derive(Clone, Debug)]
pub(crate) enum Conflict {
    /// Two flights acknowledged in one sector for overlapping intervals.
    DoubleBooking { first: Record, second: Record },
    /// A read that missed an acknowledged reservation.
    StaleRead { acknowledged: Record, read: Record },
}

impl Conflict {
    /// Whether this is a double booking.
    pub(crate) fn is_double_booking(&self) -> bool {
        matches!(self, Self::DoubleBooking { .. })
    }
}

fn describe(record: &Record) -> String {
    match (&record.call, &record.answer) {
        (
            Call::Reserve {
                sector,
                flight,
                from,
                until,
            },
            Answer::Reserved { view, by },
        ) => format!(
            "{flight} cleared into {sector} for [{from}, {until}) by {by} in view {view} (controller {})",
            record.controller
        ),
        (Call::WhoIsIn { sector, at }, Answer::Flights { view, by, flights }) => format!(
            "WhoIsIn({sector}, {at}) = [{}] from {by} in view {view} (controller {})",
            flights.join(", "),
            record.controller
        ),
        (call, answer) => format!("{call:?} -> {answer:?}"),
    }
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DoubleBooking { first, second } => write!(
                f,
                "double booking: {} AND {}",
                describe(first),
                describe(second)
            ),
            Self::StaleRead { acknowledged, read } => write!(
                f,
                "stale read: {} but later {}",
                describe(acknowledged),
                describe(read)
            ),
        }
    }
}

/// Every conflict among `records` (the checker of
/// [`ithaca_testkit::sector_history`], which the test suite's split-brain
/// tests use too).
pub(crate) fn conflicts(records: &[Record]) -> Vec<Conflict> {
    let seen: Vec<Seen<'_>> = records.iter().map(seen).collect();
    let record = |index: usize| records.get(index).cloned();
    contradictions(&seen)
        .into_iter()
        .filter_map(|found| match found {
            Contradiction::DoubleBooking { first, second } => Some(Conflict::DoubleBooking {
                first: record(first)?,
                second: record(second)?,
            }),
            Contradiction::StaleRead { acknowledged, read } => Some(Conflict::StaleRead {
                acknowledged: record(acknowledged)?,
                read: record(read)?,
            }),
        })
        .collect()
}

/// What the checker needs of one record.
fn seen(record: &Record) -> Seen<'_> {
    match (&record.call, &record.answer) {
        (
            Call::Reserve {
                sector,
                flight,
                from,
                until,
            },
            Answer::Reserved { .. },
        ) => Seen::Reserved {
            sector,
            flight,
            from: *from,
            until: *until,
            received: record.received,
        },
        (Call::WhoIsIn { sector, at }, Answer::Flights { flights, .. }) => Seen::Read {
            sector,
            at: *at,
            flights,
            sent: record.sent,
        },
        _ => Seen::Other,
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    fn reserve(controller: &str, flight: &str, from: u64, by: &str, at: Instant) -> Record {
        Record {
            controller: controller.into(),
            call: Call::Reserve {
                sector: "S0".into(),
                flight: flight.into(),
                from,
                until: from + 100,
            },
            sent: at,
            received: at,
            answer: Answer::Reserved {
                view: 1,
                by: by.into(),
            },
        }
    }

    fn who(flights: &[&str], sent: Instant) -> Record {
        Record {
            controller: "B0".into(),
            call: Call::WhoIsIn {
                sector: "S0".into(),
                at: 150,
            },
            sent,
            received: sent,
            answer: Answer::Flights {
                view: 2,
                by: "B".into(),
                flights: flights.iter().map(ToString::to_string).collect(),
            },
        }
    }

    #[test]
    fn finds_double_bookings_and_stale_reads_and_nothing_else() {
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_millis(10);
        let records = vec![
            reserve("P0", "P0x1", 100, "P", t0),
            reserve("B0", "B0x1", 150, "B", t0),
            reserve("P0", "P0x2", 300, "P", t0),
            who(&["B0x1"], t1),
        ];
        let found = conflicts(&records);
        assert_eq!(found.iter().filter(|c| c.is_double_booking()).count(), 1);
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(found[0].to_string().contains("double booking"));
        assert!(found[1].to_string().contains("stale read"));

        let consistent = vec![
            reserve("P0", "P0x1", 100, "P", t0),
            reserve("B0", "B0x1", 200, "B", t0),
            who(&["P0x1"], t1),
        ];
        assert!(conflicts(&consistent).is_empty());
    }
}
