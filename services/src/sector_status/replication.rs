//! Primary/backup replication of the sector table, as a state machine
//! without I/O.
//!
//! One [`Replica`] runs in each member hosting the service. The member that
//! is primary in view `v` calls [`Replica::become_primary`], decides each
//! write with [`Replica::prepare`] (a refused or empty write is answered at
//! once and never replicated), sends the [`ReplicationRequest::Replicate`]
//! it returns to every backup, feeds each answer to
//! [`Replica::on_backup_reply`] and, once every backup acknowledged, calls
//! [`Replica::commit`] and only then answers its client.
//!
//! A backup hands every request it receives to [`Replica::handle`]:
//!
//! - Every request is stamped with the sender's view and admitted through
//!   a [`Fence`]: anything older than the highest view the backup has seen
//!   is answered [`ReplicationReply::Stale`], so a deposed primary can
//!   never complete a write once the backup has moved on.
//! - A backup applies writes in one view only after the primary of that
//!   view installed its whole table ([`ReplicationRequest::Install`]);
//!   before that, or after a gap in the sequence numbers, it answers
//!   [`ReplicationReply::OutOfSync`] and the primary installs its table
//!   and retries. A write the backup already applied (same sequence
//!   number, same operation) is acknowledged again.
//! - A request newer than the view in which this replica was primary makes
//!   it step down (the baseline mode heals that way after a partition).
//!
//! Messages travel as JSON ([`ReplicationRequest::decode`] bounds the
//! size; a received table is validated before it is installed).

use ithaca_membership::{Fence, ViewId};
use serde::{Deserialize, Serialize};

use super::table::{SectorTable, TableError, WriteOp, WriteOutcome};

/// The largest replication message accepted, in bytes (a full table
/// fits with room to spare).
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// What a member sends to a peer hosting the same service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ReplicationRequest {
    /// Apply write number `seq` of view `view`.
    Replicate {
        /// The primary's view.
        view: ViewId,
        /// The write's sequence number (the primary's count of applied
        /// writes, this one included).
        seq: u64,
        /// The write.
        op: WriteOp,
    },
    /// Replace the whole table: the primary of `view` has applied `seq`
    /// writes and its table is `table`.
    Install {
        /// The primary's view.
        view: ViewId,
        /// Writes applied.
        seq: u64,
        /// The primary's table.
        table: SectorTable,
    },
    /// Are you there, and in which view? (the baseline mode's heartbeat)
    Ping {
        /// The sender's view.
        view: ViewId,
    },
}

/// A peer's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ReplicationReply {
    /// Applied (or already had) write `seq`, in `view`.
    Ack {
        /// The view acknowledged in.
        view: ViewId,
        /// The write acknowledged.
        seq: u64,
    },
    /// The request's view is older than one the peer has seen.
    Stale {
        /// The highest view the peer has seen.
        current: ViewId,
    },
    /// The peer needs the whole table before it can apply writes.
    OutOfSync {
        /// Writes it has applied.
        applied: u64,
    },
    /// The peer refuses the request (for instance it is itself primary in
    /// that view).
    Refused {
        /// Why.
        reason: String,
    },
    /// The answer to a ping.
    Pong {
        /// The highest view the peer has seen.
        view: ViewId,
        /// Whether it acts as primary in that view.
        primary: bool,
    },
}

/// Why a replication message could not be read.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    /// Larger than [`MAX_MESSAGE_BYTES`].
    #[error("replication message of {0} bytes is larger than {MAX_MESSAGE_BYTES}")]
    TooLarge(usize),
    /// Not a valid message.
    #[error("invalid replication message: {0}")]
    Invalid(String),
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, MessageError> {
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(MessageError::TooLarge(bytes.len()));
    }
    serde_json::from_slice(bytes).map_err(|e| MessageError::Invalid(e.to_string()))
}

fn encode<T: Serialize>(message: &T) -> Vec<u8> {
    // Every field is a string, a number or a map with string keys, which
    // JSON always represents; an error here would be a serde_json bug.
    serde_json::to_vec(message).unwrap_or_default()
}

impl ReplicationRequest {
    /// Reads a request (bounded by [`MAX_MESSAGE_BYTES`]).
    pub fn decode(bytes: &[u8]) -> Result<Self, MessageError> {
        decode(bytes)
    }

    /// Writes the request.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        encode(self)
    }
}

impl ReplicationReply {
    /// Reads a reply (bounded by [`MAX_MESSAGE_BYTES`]).
    pub fn decode(bytes: &[u8]) -> Result<Self, MessageError> {
        decode(bytes)
    }

    /// Writes the reply.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        encode(self)
    }
}

/// What the primary does after a backup's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackupVerdict {
    /// The backup has the write.
    Acknowledged,
    /// Send this (the whole table), then the write again.
    Install(ReplicationRequest),
    /// The backup has seen a newer view: this member is no longer primary
    /// (the replica has stepped down).
    Deposed(ViewId),
    /// The backup refused or answered nonsense; the write is not
    /// acknowledged.
    Failed(String),
}

/// This member's part in the service, as the replica knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaRole {
    /// Primary in this view.
    Primary(ViewId),
    /// Backup (or not yet anything).
    Backup,
}

/// The replicated sector table of one member (see the module docs).
#[derive(Debug)]
pub struct Replica {
    table: SectorTable,
    /// Writes applied (the sequence number of the last one).
    applied: u64,
    /// The last write applied as a backup, to recognise a retry.
    last_op: Option<WriteOp>,
    /// The view whose primary installed (or, as primary, owns) the table.
    synced_view: Option<ViewId>,
    role: ReplicaRole,
    fence: Fence,
}

impl Default for Replica {
    fn default() -> Self {
        Self::new()
    }
}

impl Replica {
    /// An empty backup that has seen no view.
    #[must_use]
    pub fn new() -> Self {
        Self {
            table: SectorTable::new(),
            applied: 0,
            last_op: None,
            synced_view: None,
            role: ReplicaRole::Backup,
            fence: Fence::new(ViewId::INITIAL),
        }
    }

    /// The table.
    #[must_use]
    pub fn table(&self) -> &SectorTable {
        &self.table
    }

    /// Writes applied.
    #[must_use]
    pub fn applied(&self) -> u64 {
        self.applied
    }

    /// The role the replica holds.
    #[must_use]
    pub fn role(&self) -> ReplicaRole {
        self.role
    }

    /// The highest view seen.
    #[must_use]
    pub fn current_view(&self) -> ViewId {
        self.fence.current()
    }

    /// A newer view was installed (from the membership view or a peer):
    /// the fence rises, and a primary of an older view steps down.
    pub fn observe_view(&mut self, view: ViewId) {
        let current = self.fence.advance_to(view);
        if let ReplicaRole::Primary(own) = self.role
            && own < current
        {
            self.role = ReplicaRole::Backup;
        }
    }

    /// Takes the primary role in `view`. Refused when a newer view has
    /// been seen. Returns the [`ReplicationRequest::Install`] to push to the
    /// view's backups (they need it before they accept writes in `view`).
    pub fn become_primary(&mut self, view: ViewId) -> Result<ReplicationRequest, ViewId> {
        self.fence.admit(view).map_err(|stale| stale.current)?;
        self.role = ReplicaRole::Primary(view);
        self.synced_view = Some(view);
        self.last_op = None;
        Ok(self.install_request(view))
    }

    /// The whole table, as an install in `view`.
    #[must_use]
    pub fn install_request(&self, view: ViewId) -> ReplicationRequest {
        ReplicationRequest::Install {
            view,
            seq: self.applied,
            table: self.table.clone(),
        }
    }

    /// Decides a write as primary: `Ok((outcome, None))` when it changes
    /// nothing (answer at once), `Ok((outcome, Some(request)))` when
    /// `request` must be acknowledged by every backup before
    /// [`Self::commit`], or the refusal (answer it; nothing changed).
    pub fn prepare(
        &self,
        op: &WriteOp,
    ) -> Result<(WriteOutcome, Option<ReplicationRequest>), PrepareError> {
        let ReplicaRole::Primary(view) = self.role else {
            return Err(PrepareError::NotPrimary);
        };
        let outcome = self.table.check(op).map_err(PrepareError::Table)?;
        if !outcome.changes_table() {
            return Ok((outcome, None));
        }
        let request = ReplicationRequest::Replicate {
            view,
            seq: self.applied.saturating_add(1),
            op: op.clone(),
        };
        Ok((outcome, Some(request)))
    }

    /// Reads a backup's answer to `request` (a Replicate or Install this
    /// primary sent).
    pub fn on_backup_reply(
        &mut self,
        request: &ReplicationRequest,
        reply: &ReplicationReply,
    ) -> BackupVerdict {
        let ReplicaRole::Primary(view) = self.role else {
            return BackupVerdict::Failed("no longer primary".to_owned());
        };
        let expected_seq = match request {
            ReplicationRequest::Replicate { seq, .. } | ReplicationRequest::Install { seq, .. } => {
                *seq
            }
            ReplicationRequest::Ping { .. } => {
                return BackupVerdict::Failed("a ping is not a write".to_owned());
            }
        };
        match reply {
            ReplicationReply::Ack {
                view: acked_view,
                seq,
            } if *acked_view == view && *seq == expected_seq => BackupVerdict::Acknowledged,
            ReplicationReply::Ack { view, seq } => BackupVerdict::Failed(format!(
                "acknowledged write {seq} in view {view}, not {expected_seq}"
            )),
            ReplicationReply::Stale { current } if *current > view => {
                self.observe_view(*current);
                BackupVerdict::Deposed(*current)
            }
            ReplicationReply::Stale { current } => {
                BackupVerdict::Failed(format!("the backup calls view {view} stale at {current}"))
            }
            ReplicationReply::OutOfSync { .. } => match request {
                ReplicationRequest::Replicate { .. } => {
                    BackupVerdict::Install(self.install_request(view))
                }
                _ => BackupVerdict::Failed("the backup refused the install".to_owned()),
            },
            ReplicationReply::Refused { reason } => BackupVerdict::Failed(reason.clone()),
            ReplicationReply::Pong { .. } => {
                BackupVerdict::Failed("answered a write with a pong".to_owned())
            }
        }
    }

    /// Applies a write every backup acknowledged (as primary). Returns what
    /// it did, which is what [`Self::prepare`] said.
    pub fn commit(&mut self, op: &WriteOp) -> Result<WriteOutcome, TableError> {
        let outcome = self.table.apply(op)?;
        if outcome.changes_table() {
            self.applied = self.applied.saturating_add(1);
        }
        Ok(outcome)
    }

    /// Answers a peer's request (as backup; see the module docs).
    pub fn handle(&mut self, request: &ReplicationRequest) -> ReplicationReply {
        match request {
            ReplicationRequest::Ping { view } => {
                if *view > self.fence.current() {
                    self.observe_view(*view);
                }
                let current = self.fence.current();
                ReplicationReply::Pong {
                    view: current,
                    primary: self.role == ReplicaRole::Primary(current),
                }
            }
            ReplicationRequest::Install { view, seq, table } => {
                if let Some(refused) = self.admit(*view) {
                    return refused;
                }
                if let Err(error) = table.validate() {
                    return ReplicationReply::Refused {
                        reason: format!("invalid table: {error}"),
                    };
                }
                self.table = table.clone();
                self.applied = *seq;
                self.last_op = None;
                self.synced_view = Some(*view);
                ReplicationReply::Ack {
                    view: *view,
                    seq: *seq,
                }
            }
            ReplicationRequest::Replicate { view, seq, op } => {
                if let Some(refused) = self.admit(*view) {
                    return refused;
                }
                if self.synced_view != Some(*view) {
                    return ReplicationReply::OutOfSync {
                        applied: self.applied,
                    };
                }
                if *seq == self.applied && self.last_op.as_ref() == Some(op) {
                    return ReplicationReply::Ack {
                        view: *view,
                        seq: *seq,
                    };
                }
                if Some(*seq) != self.applied.checked_add(1) {
                    return ReplicationReply::OutOfSync {
                        applied: self.applied,
                    };
                }
                match self.table.apply(op) {
                    Ok(outcome) if outcome.changes_table() => {
                        self.applied = *seq;
                        self.last_op = Some(op.clone());
                        ReplicationReply::Ack {
                            view: *view,
                            seq: *seq,
                        }
                    }
                    // The primary's table and ours disagree: start over
                    // from its table.
                    Ok(_) | Err(_) => {
                        self.synced_view = None;
                        ReplicationReply::OutOfSync {
                            applied: self.applied,
                        }
                    }
                }
            }
        }
    }

    /// Admits a write or install stamped `view` as a backup: `None` when
    /// admitted (the fence rises, a primary of an older view steps down).
    fn admit(&mut self, view: ViewId) -> Option<ReplicationReply> {
        if let Err(stale) = self.fence.check(view) {
            return Some(ReplicationReply::Stale {
                current: stale.current,
            });
        }
        if let ReplicaRole::Primary(own) = self.role
            && own >= view
        {
            return Some(ReplicationReply::Refused {
                reason: format!("this member is primary in view {own}"),
            });
        }
        if let Err(stale) = self.fence.admit(view) {
            return Some(ReplicationReply::Stale {
                current: stale.current,
            });
        }
        self.observe_view(view);
        None
    }
}

/// Why a primary cannot take a write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrepareError {
    /// The replica is not primary.
    #[error("this replica is not primary")]
    NotPrimary,
    /// The table refuses the write.
    #[error(transparent)]
    Table(TableError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reserve(flight: &str, from: u64, until: u64) -> WriteOp {
        WriteOp::Reserve {
            sector: "S1".into(),
            flight: flight.into(),
            from,
            until,
        }
    }

    /// Runs one write from `primary` to `backup` the way the host does.
    /// `Ok(true)` when the write was replicated and acknowledged.
    fn write(primary: &mut Replica, backup: &mut Replica, op: &WriteOp) -> Result<bool, String> {
        let (_, request) = primary.prepare(op).map_err(|e| e.to_string())?;
        let Some(mut request) = request else {
            return Ok(false);
        };
        for _ in 0..2 {
            let reply = backup.handle(&request);
            match primary.on_backup_reply(&request, &reply) {
                BackupVerdict::Acknowledged => {
                    if matches!(request, ReplicationRequest::Install { .. }) {
                        request = primary.prepare(op).map_err(|e| e.to_string())?.1.unwrap();
                        continue;
                    }
                    primary.commit(op).map_err(|e| e.to_string())?;
                    return Ok(true);
                }
                BackupVerdict::Install(install) => request = install,
                other => return Err(format!("{other:?}")),
            }
        }
        let reply = backup.handle(&request);
        match primary.on_backup_reply(&request, &reply) {
            BackupVerdict::Acknowledged => {
                primary.commit(op).map_err(|e| e.to_string())?;
                Ok(true)
            }
            other => Err(format!("{other:?}")),
        }
    }

    #[test]
    fn a_backup_installs_then_applies_writes_of_the_primarys_view() {
        let mut primary = Replica::new();
        let mut backup = Replica::new();
        primary.become_primary(ViewId(3)).unwrap();
        write(&mut primary, &mut backup, &reserve("AF1", 0, 10)).unwrap();
        write(&mut primary, &mut backup, &reserve("BA2", 10, 20)).unwrap();
        assert_eq!(backup.table(), primary.table());
        assert_eq!(backup.applied(), 2);
        // A refused write is never replicated.
        assert!(matches!(
            primary.prepare(&reserve("LH3", 5, 15)),
            Err(PrepareError::Table(TableError::Conflict { .. }))
        ));
    }

    #[test]
    fn an_older_view_is_rejected_by_the_backup_fence() {
        let mut backup = Replica::new();
        backup.observe_view(ViewId(5));
        let request = ReplicationRequest::Replicate {
            view: ViewId(4),
            seq: 1,
            op: reserve("AF1", 0, 10),
        };
        assert_eq!(
            backup.handle(&request),
            ReplicationReply::Stale { current: ViewId(5) }
        );
        let install = ReplicationRequest::Install {
            view: ViewId(4),
            seq: 0,
            table: SectorTable::new(),
        };
        assert_eq!(
            backup.handle(&install),
            ReplicationReply::Stale { current: ViewId(5) }
        );
        assert_eq!(backup.table(), &SectorTable::new());
    }

    #[test]
    fn a_deposed_primary_learns_it_from_the_stale_answer() {
        let mut old = Replica::new();
        let mut backup = Replica::new();
        old.become_primary(ViewId(2)).unwrap();
        write(&mut old, &mut backup, &reserve("AF1", 0, 10)).unwrap();
        // The backup is promoted in view 3.
        backup.become_primary(ViewId(3)).unwrap();
        let (_, request) = old.prepare(&reserve("BA2", 20, 30)).unwrap();
        let request = request.unwrap();
        let reply = backup.handle(&request);
        assert_eq!(reply, ReplicationReply::Stale { current: ViewId(3) });
        assert_eq!(
            old.on_backup_reply(&request, &reply),
            BackupVerdict::Deposed(ViewId(3))
        );
        assert_eq!(old.role(), ReplicaRole::Backup);
        assert_eq!(backup.table().reservation_count(), 1);
        // The old primary now takes the new primary's table.
        write(&mut backup, &mut old, &reserve("LH3", 40, 50)).unwrap();
        assert_eq!(old.table(), backup.table());
    }

    #[test]
    fn a_primary_refuses_writes_stamped_with_its_own_view() {
        let mut primary = Replica::new();
        primary.become_primary(ViewId(2)).unwrap();
        let request = ReplicationRequest::Install {
            view: ViewId(2),
            seq: 0,
            table: SectorTable::new(),
        };
        assert!(matches!(
            primary.handle(&request),
            ReplicationReply::Refused { .. }
        ));
    }

    #[test]
    fn messages_are_bounded_and_checked() {
        assert!(matches!(
            ReplicationRequest::decode(br#"{"kind":"ping","view":1,"extra":2}"#),
            Err(MessageError::Invalid(_))
        ));
        assert!(matches!(
            ReplicationRequest::decode(b"[[[["),
            Err(MessageError::Invalid(_))
        ));
        let big = vec![b' '; MAX_MESSAGE_BYTES + 1];
        assert!(matches!(
            ReplicationReply::decode(&big),
            Err(MessageError::TooLarge(_))
        ));
        let install = br#"{"kind":"install","view":2,"seq":1,"table":{"S1":[{"flight":"A","from":0,"until":10},{"flight":"B","from":5,"until":15}]}}"#;
        let install = ReplicationRequest::decode(install).unwrap();
        assert!(matches!(
            Replica::new().handle(&install),
            ReplicationReply::Refused { .. }
        ));
    }

    fn ops() -> impl Strategy<Value = Vec<(WriteOp, bool)>> {
        let flight = prop::sample::select(vec!["AF1", "BA2", "LH3"]);
        prop::collection::vec(
            (
                prop_oneof![
                    3 => (flight.clone(), 0u64..60, 1u64..20).prop_map(|(f, from, len)| reserve(f, from, from + len)),
                    1 => flight.prop_map(|f| WriteOp::Release { sector: "S1".into(), flight: f.into() }),
                ],
                any::<bool>(),
            ),
            0..40,
        )
    }

    proptest! {
        /// Writes with lost acknowledgements (the backup applied, the
        /// primary never heard) and failovers at random points: every
        /// write the primary acknowledged is in the table of whoever is
        /// primary next, and the two tables agree after each write.
        #[test]
        fn acknowledged_writes_survive_failover(ops in ops(), failover_at in 0usize..40) {
            let mut primary = Replica::new();
            let mut backup = Replica::new();
            let mut view = ViewId(1);
            primary.become_primary(view).unwrap();
            let mut acknowledged = SectorTable::new();
            // Flights touched by a write whose acknowledgement was lost
            // since the last acknowledged one: either outcome is allowed.
            let mut in_doubt: Vec<String> = Vec::new();
            for (index, (op, lose_ack)) in ops.iter().enumerate() {
                if index == failover_at {
                    view = view.next().unwrap();
                    std::mem::swap(&mut primary, &mut backup);
                    primary.become_primary(view).unwrap();
                    backup.observe_view(view);
                    // Whatever was acknowledged is there.
                    for reservation in acknowledged.sector("S1") {
                        if !in_doubt.contains(&reservation.flight) {
                            prop_assert!(primary.table().sector("S1").contains(reservation));
                        }
                    }
                }
                let flight = match op {
                    WriteOp::Reserve { flight, .. } | WriteOp::Release { flight, .. } => flight.clone(),
                };
                if *lose_ack {
                    // The backup applies, the primary never hears back.
                    if let Ok((_, Some(request))) = primary.prepare(op) {
                        let _ = backup.handle(&request);
                        in_doubt.push(flight);
                    }
                    continue;
                }
                if write(&mut primary, &mut backup, op) == Ok(true) {
                    acknowledged = primary.table().clone();
                    in_doubt.clear();
                    prop_assert_eq!(backup.table(), primary.table());
                }
            }
            prop_assert_eq!(primary.table().validate(), Ok(()));
        }

        #[test]
        fn messages_round_trip(from in 0u64..1000, len in 1u64..100, seq in any::<u64>(), view in any::<u64>()) {
            let request = ReplicationRequest::Replicate { view: ViewId(view), seq, op: reserve("AF1", from, from + len) };
            prop_assert_eq!(ReplicationRequest::decode(&request.encode()).unwrap(), request);
            let reply = ReplicationReply::Pong { view: ViewId(view), primary: seq % 2 == 0 };
            prop_assert_eq!(ReplicationReply::decode(&reply.encode()).unwrap(), reply);
        }
    }
}
