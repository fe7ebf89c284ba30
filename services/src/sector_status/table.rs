//! The sector table: for each sector, which flights may be there and when.
//!
//! A [`SectorTable`] maps sector names to their reservations. A
//! reservation holds one flight in one sector for the half-open interval
//! `[from, until)` (whole seconds). Within a sector no two flights' intervals
//! overlap: [`SectorTable::check`] refuses a [`WriteOp::Reserve`] that would
//! overlap another flight's with [`TableError::Conflict`], naming the
//! holder. A flight has at most one reservation per sector; reserving again
//! replaces its own interval.
//!
//! The table is a pure value: [`SectorTable::check`] says what a write
//! would do without doing it and [`SectorTable::apply`] does it, so a
//! primary can decide before it replicates and a backup applies the same
//! write to the same state with the same result. Every size the input
//! controls is bounded: names ([`MAX_NAME_LEN`]), sectors
//! ([`MAX_SECTORS`]) and reservations per sector
//! ([`MAX_RESERVATIONS_PER_SECTOR`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The longest sector or flight name, in bytes.
pub const MAX_NAME_LEN: usize = 64;

/// The most sectors a table holds.
pub const MAX_SECTORS: usize = 4_096;

/// The most reservations one sector holds.
pub const MAX_RESERVATIONS_PER_SECTOR: usize = 1_024;

/// One flight's claim on a sector for `[from, until)`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reservation {
    /// The flight.
    pub flight: String,
    /// The first second it may be in the sector.
    pub from: u64,
    /// The first second it may no longer be there.
    pub until: u64,
}

impl Reservation {
    /// Whether `[from, until)` and this interval share a second.
    #[must_use]
    pub fn overlaps(&self, from: u64, until: u64) -> bool {
        self.from < until && from < self.until
    }

    /// Whether the flight may be in the sector at second `at`.
    #[must_use]
    pub fn covers(&self, at: u64) -> bool {
        self.from <= at && at < self.until
    }
}

/// A change to the table: what a primary replicates to its backups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case", deny_unknown_fields)]
pub enum WriteOp {
    /// Reserve `sector` for `flight` during `[from, until)`.
    Reserve {
        /// The sector.
        sector: String,
        /// The flight.
        flight: String,
        /// The first second.
        from: u64,
        /// The first second after.
        until: u64,
    },
    /// Drop `flight`'s reservation of `sector`.
    Release {
        /// The sector.
        sector: String,
        /// The flight.
        flight: String,
    },
}

/// What a write did (or would do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The reservation now held.
    Reserved(Reservation),
    /// Whether a reservation was dropped (`false`: there was none, and the
    /// table is unchanged).
    Released(bool),
}

impl WriteOutcome {
    /// Whether the write changes the table (only such writes need to be
    /// replicated).
    #[must_use]
    pub fn changes_table(&self) -> bool {
        !matches!(self, Self::Released(false))
    }
}

/// Why a write was refused; the table is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    /// Another flight holds an overlapping interval.
    #[error("sector {sector} is reserved for {} during [{}, {})", holder.flight, holder.from, holder.until)]
    Conflict {
        /// The sector.
        sector: String,
        /// The reservation in the way.
        holder: Reservation,
    },
    /// A sector or flight name is empty, too long or has characters other
    /// than ASCII letters, digits, `-`, `_` and `.`.
    #[error("invalid {what} name `{name}`: 1 to {MAX_NAME_LEN} of A-Z a-z 0-9 - _ .")]
    InvalidName {
        /// `sector` or `flight`.
        what: &'static str,
        /// The name (cut to [`MAX_NAME_LEN`] bytes).
        name: String,
    },
    /// `from` is not before `until`.
    #[error("the interval [{from}, {until}) is empty")]
    EmptyInterval {
        /// The first second.
        from: u64,
        /// The first second after.
        until: u64,
    },
    /// The table already holds [`MAX_SECTORS`] sectors.
    #[error("the table already holds {MAX_SECTORS} sectors")]
    TooManySectors,
    /// The sector already holds [`MAX_RESERVATIONS_PER_SECTOR`]
    /// reservations.
    #[error("sector {0} already holds {MAX_RESERVATIONS_PER_SECTOR} reservations")]
    SectorFull(String),
}

/// Checks a sector or flight name (see [`TableError::InvalidName`]).
pub fn check_name(what: &'static str, name: &str) -> Result<(), TableError> {
    let valid = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if valid {
        Ok(())
    } else {
        let mut cut = name.to_owned();
        if cut.len() > MAX_NAME_LEN {
            let mut end = MAX_NAME_LEN;
            while !cut.is_char_boundary(end) {
                end -= 1;
            }
            cut.truncate(end);
        }
        Err(TableError::InvalidName { what, name: cut })
    }
}

/// Every sector's reservations (see the module docs). Serializes as the
/// snapshot a primary installs on a backup; [`SectorTable::validate`]
/// checks a received one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SectorTable {
    /// Sector → reservations sorted by `from`.
    sectors: BTreeMap<String, Vec<Reservation>>,
}

impl SectorTable {
    /// An empty table.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The reservations of `sector`, sorted by start (empty for a sector
    /// nobody reserved).
    #[must_use]
    pub fn sector(&self, sector: &str) -> &[Reservation] {
        self.sectors.get(sector).map_or(&[], Vec::as_slice)
    }

    /// The flights that may be in `sector` at second `at` (at most one,
    /// since intervals never overlap; a list so the answer has one shape).
    #[must_use]
    pub fn who_is_in(&self, sector: &str, at: u64) -> Vec<&str> {
        self.sector(sector)
            .iter()
            .filter(|r| r.covers(at))
            .map(|r| r.flight.as_str())
            .collect()
    }

    /// How many sectors hold a reservation.
    #[must_use]
    pub fn sector_count(&self) -> usize {
        self.sectors.len()
    }

    /// How many reservations the table holds.
    #[must_use]
    pub fn reservation_count(&self) -> usize {
        self.sectors.values().map(Vec::len).sum()
    }

    /// What `op` would do, without doing it.
    pub fn check(&self, op: &WriteOp) -> Result<WriteOutcome, TableError> {
        match op {
            WriteOp::Reserve {
                sector,
                flight,
                from,
                until,
            } => {
                check_name("sector", sector)?;
                check_name("flight", flight)?;
                if from >= until {
                    return Err(TableError::EmptyInterval {
                        from: *from,
                        until: *until,
                    });
                }
                let existing = self.sectors.get(sector.as_str());
                if let Some(holder) = existing.and_then(|reservations| {
                    reservations
                        .iter()
                        .find(|r| r.flight != *flight && r.overlaps(*from, *until))
                }) {
                    return Err(TableError::Conflict {
                        sector: sector.clone(),
                        holder: holder.clone(),
                    });
                }
                match existing {
                    None if self.sectors.len() >= MAX_SECTORS => {
                        return Err(TableError::TooManySectors);
                    }
                    Some(reservations)
                        if reservations.len() >= MAX_RESERVATIONS_PER_SECTOR
                            && !reservations.iter().any(|r| r.flight == *flight) =>
                    {
                        return Err(TableError::SectorFull(sector.clone()));
                    }
                    _ => {}
                }
                Ok(WriteOutcome::Reserved(Reservation {
                    flight: flight.clone(),
                    from: *from,
                    until: *until,
                }))
            }
            WriteOp::Release { sector, flight } => {
                check_name("sector", sector)?;
                check_name("flight", flight)?;
                let held = self
                    .sector(sector)
                    .iter()
                    .any(|reservation| reservation.flight == *flight);
                Ok(WriteOutcome::Released(held))
            }
        }
    }

    /// Does `op`: the outcome [`Self::check`] gives, now applied.
    pub fn apply(&mut self, op: &WriteOp) -> Result<WriteOutcome, TableError> {
        let outcome = self.check(op)?;
        match (op, &outcome) {
            (WriteOp::Reserve { sector, .. }, WriteOutcome::Reserved(reservation)) => {
                let reservations = self.sectors.entry(sector.clone()).or_default();
                reservations.retain(|r| r.flight != reservation.flight);
                let at = reservations.partition_point(|r| r.from < reservation.from);
                reservations.insert(at, reservation.clone());
            }
            (WriteOp::Release { sector, flight }, WriteOutcome::Released(true)) => {
                if let Some(reservations) = self.sectors.get_mut(sector.as_str()) {
                    reservations.retain(|r| r.flight != *flight);
                    if reservations.is_empty() {
                        self.sectors.remove(sector.as_str());
                    }
                }
            }
            _ => {}
        }
        Ok(outcome)
    }

    /// Checks a table received from elsewhere (a snapshot): names, limits,
    /// non-empty intervals, sorting, one reservation per flight and no
    /// overlaps within a sector.
    pub fn validate(&self) -> Result<(), TableError> {
        if self.sectors.len() > MAX_SECTORS {
            return Err(TableError::TooManySectors);
        }
        for (sector, reservations) in &self.sectors {
            check_name("sector", sector)?;
            if reservations.len() > MAX_RESERVATIONS_PER_SECTOR {
                return Err(TableError::SectorFull(sector.clone()));
            }
            let mut rebuilt = Self::new();
            for reservation in reservations {
                rebuilt.apply(&WriteOp::Reserve {
                    sector: sector.clone(),
                    flight: reservation.flight.clone(),
                    from: reservation.from,
                    until: reservation.until,
                })?;
            }
            if rebuilt.sector(sector) != reservations.as_slice() {
                return Err(TableError::InvalidName {
                    what: "sector",
                    name: format!("{sector} (its reservations are unsorted or repeat a flight)"),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reserve(sector: &str, flight: &str, from: u64, until: u64) -> WriteOp {
        WriteOp::Reserve {
            sector: sector.into(),
            flight: flight.into(),
            from,
            until,
        }
    }

    #[test]
    fn an_overlapping_reservation_is_refused_naming_the_holder() {
        let mut table = SectorTable::new();
        table.apply(&reserve("S1", "AF12", 100, 200)).unwrap();
        let refused = table.apply(&reserve("S1", "BA7", 150, 250)).unwrap_err();
        assert_eq!(
            refused,
            TableError::Conflict {
                sector: "S1".into(),
                holder: Reservation {
                    flight: "AF12".into(),
                    from: 100,
                    until: 200
                }
            }
        );
        assert_eq!(
            refused.to_string(),
            "sector S1 is reserved for AF12 during [100, 200)"
        );
        // Touching intervals do not overlap; other sectors are independent.
        table.apply(&reserve("S1", "BA7", 200, 250)).unwrap();
        table.apply(&reserve("S2", "LH3", 150, 250)).unwrap();
        assert_eq!(table.who_is_in("S1", 199), vec!["AF12"]);
        assert_eq!(table.who_is_in("S1", 200), vec!["BA7"]);
        assert!(table.who_is_in("S1", 250).is_empty());
    }

    #[test]
    fn a_flight_moves_its_own_reservation_and_releases_it() {
        let mut table = SectorTable::new();
        table.apply(&reserve("S1", "AF12", 100, 200)).unwrap();
        table.apply(&reserve("S1", "AF12", 150, 300)).unwrap();
        assert_eq!(table.sector("S1").len(), 1);
        let release = WriteOp::Release {
            sector: "S1".into(),
            flight: "AF12".into(),
        };
        assert_eq!(table.apply(&release), Ok(WriteOutcome::Released(true)));
        assert_eq!(table.apply(&release), Ok(WriteOutcome::Released(false)));
        assert_eq!(table, SectorTable::new());
    }

    #[test]
    fn bad_names_and_empty_intervals_are_refused() {
        let mut table = SectorTable::new();
        assert!(matches!(
            table.apply(&reserve("", "AF1", 1, 2)),
            Err(TableError::InvalidName { what: "sector", .. })
        ));
        assert!(matches!(
            table.apply(&reserve("S1", "A F", 1, 2)),
            Err(TableError::InvalidName { what: "flight", .. })
        ));
        let long = "é".repeat(40);
        assert!(matches!(
            table.apply(&reserve(&long, "AF1", 1, 2)),
            Err(TableError::InvalidName { name, .. }) if name.len() <= MAX_NAME_LEN
        ));
        assert_eq!(
            table.apply(&reserve("S1", "AF1", 5, 5)),
            Err(TableError::EmptyInterval { from: 5, until: 5 })
        );
        assert_eq!(table, SectorTable::new());
    }

    #[test]
    fn limits_hold() {
        let mut table = SectorTable::new();
        for n in 0..MAX_RESERVATIONS_PER_SECTOR as u64 {
            table
                .apply(&reserve("S1", &format!("F{n}"), n * 10, n * 10 + 5))
                .unwrap();
        }
        assert_eq!(
            table.apply(&reserve("S1", "NEW", 1_000_000, 1_000_001)),
            Err(TableError::SectorFull("S1".into()))
        );
        // A flight already there may still move.
        table.apply(&reserve("S1", "F0", 1, 4)).unwrap();
        assert_eq!(table.validate(), Ok(()));
    }

    #[test]
    fn a_snapshot_with_overlaps_is_refused() {
        let json =
            r#"{"S1":[{"flight":"A","from":0,"until":10},{"flight":"B","from":5,"until":15}]}"#;
        let table: SectorTable = serde_json::from_str(json).unwrap();
        assert!(matches!(table.validate(), Err(TableError::Conflict { .. })));
        let json =
            r#"{"S1":[{"flight":"B","from":20,"until":30},{"flight":"A","from":0,"until":10}]}"#;
        let table: SectorTable = serde_json::from_str(json).unwrap();
        assert!(table.validate().is_err(), "unsorted");
    }

    fn op() -> impl Strategy<Value = WriteOp> {
        let sector = prop::sample::select(vec!["S1", "S2", "S3"]);
        let flight = prop::sample::select(vec!["AF1", "BA2", "LH3", "KL4"]);
        prop_oneof![
            3 => (sector.clone(), flight.clone(), 0u64..100, 1u64..30).prop_map(|(s, f, from, len)| {
                reserve(s, f, from, from + len)
            }),
            1 => (sector, flight).prop_map(|(s, f)| WriteOp::Release { sector: s.into(), flight: f.into() }),
        ]
    }

    proptest! {
        #[test]
        fn intervals_never_overlap_and_match_a_naive_model(ops in prop::collection::vec(op(), 0..60)) {
            let mut table = SectorTable::new();
            // The model: (sector, flight) -> interval.
            let mut model: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
            for op in &ops {
                let result = table.apply(op);
                match op {
                    WriteOp::Reserve { sector, flight, from, until } => {
                        let clash = model.iter().any(|((s, f), (a, b))| {
                            s == sector && f != flight && *a < *until && *from < *b
                        });
                        prop_assert_eq!(result.is_ok(), !clash);
                        if !clash {
                            model.insert((sector.clone(), flight.clone()), (*from, *until));
                        }
                    }
                    WriteOp::Release { sector, flight } => {
                        let held = model.remove(&(sector.clone(), flight.clone())).is_some();
                        prop_assert_eq!(result, Ok(WriteOutcome::Released(held)));
                    }
                }
                prop_assert_eq!(table.validate(), Ok(()));
                prop_assert_eq!(table.reservation_count(), model.len());
            }
            // The snapshot round-trips.
            let json = serde_json::to_string(&table).unwrap();
            let back: SectorTable = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(back, table);
        }
    }
}
