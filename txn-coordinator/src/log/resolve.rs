//! An operator's resolution of heuristic outcomes: after reconciling a
//! transaction's participants by hand, the operator marks its heuristic
//! outcomes resolved, saying who they are and why. The log keeps the
//! outcome with its resolution (who, when, the note) as history; it leaves
//! the open list ([`CoordinatorLog::heuristics`]) but stays in
//! [`CoordinatorLog::heuristic_history`].
//!
//! [`CoordinatorLog::heuristics`]: super::CoordinatorLog::heuristics
//! [`CoordinatorLog::heuristic_history`]: super::CoordinatorLog::heuristic_history

use super::LogError;
use crate::record::{HeuristicRecord, TxId};

/// The longest operator note kept, in bytes.
pub const MAX_RESOLUTION_NOTE: usize = 2048;

/// The longest operator name kept, in bytes.
pub const MAX_OPERATOR_NAME: usize = 128;

/// Who resolved a transaction's heuristic outcomes and why, checked:
/// both non-blank and bounded, the name a single line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    operator: String,
    note: String,
}

impl Resolution {
    /// A resolution of `tx`'s outcomes by `operator` with `note`, or
    /// [`LogError::Invalid`] naming `tx` when either is blank, too long
    /// ([`MAX_OPERATOR_NAME`], [`MAX_RESOLUTION_NOTE`]) or holds control
    /// characters (the note may hold line breaks and tabs).
    pub fn new(tx: &TxId, operator: &str, note: &str) -> Result<Self, LogError> {
        let invalid = |reason| LogError::Invalid {
            tx: tx.0.clone(),
            reason,
        };
        let operator = operator.trim();
        let note = note.trim();
        if operator.is_empty() {
            return Err(invalid("the operator's name is empty"));
        }
        if operator.len() > MAX_OPERATOR_NAME {
            return Err(invalid("the operator's name is longer than 128 bytes"));
        }
        if operator.chars().any(char::is_control) {
            return Err(invalid("the operator's name holds a control character"));
        }
        if note.is_empty() {
            return Err(invalid("the resolution note is empty"));
        }
        if note.len() > MAX_RESOLUTION_NOTE {
            return Err(invalid("the resolution note is longer than 2048 bytes"));
        }
        if note
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            return Err(invalid("the resolution note holds a control character"));
        }
        Ok(Self {
            operator: operator.to_owned(),
            note: note.to_owned(),
        })
    }

    /// Who resolved it.
    pub fn operator(&self) -> &str {
        &self.operator
    }

    /// Why: what the operator did.
    pub fn note(&self) -> &str {
        &self.note
    }
}

/// A resolution as the log keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedHeuristic {
    /// Who and why.
    pub resolution: Resolution,
    /// When, by the store's clock: UTC, RFC 3339 to the second
    /// (`2026-11-24T22:01:05Z`).
    pub resolved_at: String,
}

/// A heuristic outcome in the log's history, open or resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeuristicEntry {
    /// The outcome.
    pub record: HeuristicRecord,
    /// Its resolution, once an operator resolved it.
    pub resolved: Option<ResolvedHeuristic>,
}

/// What [`CoordinatorLog::resolve_heuristic`](super::CoordinatorLog::resolve_heuristic)
/// did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResolveOutcome {
    /// This many open outcomes of the transaction are now resolved.
    Resolved(usize),
    /// Every outcome of the transaction was already resolved: nothing
    /// changed (the first resolution is kept).
    AlreadyResolved,
}

/// The error for a transaction with no heuristic outcome in the log.
pub(super) fn unknown(tx: &TxId) -> LogError {
    LogError::UnknownHeuristic { tx: tx.0.clone() }
}

/// One row of a heuristic-history query: tx, participant, address,
/// reference parameters, kind, then resolved_at, resolved_by and
/// resolution_note (all three `NULL` while open).
pub(super) type HistoryRow = (
    String,
    i64,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// Rebuilds one history entry, checking every field: a resolution is all
/// there or not at all.
pub(super) fn entry_from_row(row: HistoryRow) -> Result<HeuristicEntry, LogError> {
    let (tx, participant, address, refs, kind, at, by, note) = row;
    let resolved = match (at, by, note) {
        (None, None, None) => None,
        (Some(at), Some(by), Some(note)) => {
            let id = TxId(tx.clone());
            let resolution =
                Resolution::new(&id, &by, &note).map_err(|error| LogError::Corrupt {
                    tx: tx.clone(),
                    reason: format!("bad heuristic resolution: {error}"),
                })?;
            if at.is_empty() {
                return Err(LogError::Corrupt {
                    tx,
                    reason: "heuristic resolution without a time".to_owned(),
                });
            }
            Some(ResolvedHeuristic {
                resolution,
                resolved_at: at,
            })
        }
        _ => {
            return Err(LogError::Corrupt {
                tx,
                reason: "heuristic resolution partly recorded".to_owned(),
            });
        }
    };
    let record = super::heuristic_from_row(tx, participant, address, refs, kind)?;
    Ok(HeuristicEntry { record, resolved })
}

/// The default history of a store that keeps no resolutions: its open
/// outcomes.
pub(super) fn open_entries(records: Vec<HeuristicRecord>) -> Vec<HeuristicEntry> {
    records
        .into_iter()
        .map(|record| HeuristicEntry {
            record,
            resolved: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{EndpointRef, HeuristicKind, ParticipantId};

    fn tx() -> TxId {
        TxId("urn:uuid:r".to_owned())
    }

    fn row(at: Option<&str>, by: Option<&str>, note: Option<&str>) -> HistoryRow {
        (
            "urn:uuid:r".to_owned(),
            3,
            "http://p".to_owned(),
            String::new(),
            "aborted-after-commit".to_owned(),
            at.map(str::to_owned),
            by.map(str::to_owned),
            note.map(str::to_owned),
        )
    }

    #[test]
    fn a_resolution_is_trimmed_and_kept() {
        let r = Resolution::new(&tx(), " alice ", "refunded\n by hand ").unwrap();
        assert_eq!(r.operator(), "alice");
        assert_eq!(r.note(), "refunded\n by hand");
    }

    #[test]
    fn blank_long_or_control_resolutions_are_refused_naming_the_transaction() {
        let long_note = "x".repeat(MAX_RESOLUTION_NOTE + 1);
        let long_name = "x".repeat(MAX_OPERATOR_NAME + 1);
        for (operator, note) in [
            ("", "n"),
            ("  ", "n"),
            ("alice", ""),
            ("alice", " \n "),
            ("alice", long_note.as_str()),
            (long_name.as_str(), "n"),
            ("al\nice", "n"),
            ("alice", "bell\u{7}"),
        ] {
            let error = Resolution::new(&tx(), operator, note).unwrap_err();
            assert!(matches!(error, LogError::Invalid { .. }), "{error}");
            assert!(error.to_string().contains("urn:uuid:r"), "{error}");
        }
        let at_limit = "é".repeat(MAX_RESOLUTION_NOTE / 2);
        assert!(Resolution::new(&tx(), "alice", &at_limit).is_ok());
    }

    #[test]
    fn history_rows_are_open_resolved_or_corrupt() {
        let open = entry_from_row(row(None, None, None)).unwrap();
        assert_eq!(open.resolved, None);
        assert_eq!(open.record.participant, ParticipantId(3));
        assert_eq!(open.record.kind, HeuristicKind::AbortedAfterCommit);
        assert_eq!(open.record.endpoint, EndpointRef::new("http://p"));

        let done =
            entry_from_row(row(Some("2026-11-24T22:01:05Z"), Some("bob"), Some("ok"))).unwrap();
        let resolved = done.resolved.unwrap();
        assert_eq!(resolved.resolved_at, "2026-11-24T22:01:05Z");
        assert_eq!(resolved.resolution.operator(), "bob");

        for bad in [
            row(Some("2026-11-24T22:01:05Z"), None, None),
            row(None, Some("bob"), Some("ok")),
            row(Some(""), Some("bob"), Some("ok")),
            row(Some("2026-11-24T22:01:05Z"), Some(""), Some("ok")),
        ] {
            let error = entry_from_row(bad).unwrap_err();
            assert!(matches!(error, LogError::Corrupt { .. }), "{error}");
        }
    }
}
