//! The values the engine and the log share: transaction and participant
//! identifiers, endpoint references, decision and heuristic records.

use std::fmt;

/// A transaction's identifier: the `wscoor:Identifier` URI of its context.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TxId(pub String);

impl fmt::Display for TxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A participant's number within its transaction, given at registration and
/// carried back in the reference parameters of the coordinator's endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ParticipantId(pub u32);

impl ParticipantId {
    /// The number reserved for a subordinate transaction's superior
    /// coordinator: in a subordinate's prepared record (see
    /// [`DecisionRecord::superior`]) the participant with this number is
    /// the superior's coordinator protocol endpoint, where Prepared is
    /// resent after a restart, and in the correlation of the subordinate's
    /// participant endpoint it names the superior as the sender. Real
    /// registrations are numbered from 0 and bounded far below it.
    pub const SUPERIOR: Self = Self(u32::MAX);
}

impl fmt::Display for ParticipantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A WS-Addressing endpoint reference, kept as the driver read it: the
/// address and the reference parameters' XML, echoed back as headers on
/// every message sent to it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EndpointRef {
    /// `wsa:Address`.
    pub address: String,
    /// The children of `wsa:ReferenceParameters`, as XML text (may be empty).
    pub reference_parameters: String,
}

impl EndpointRef {
    /// An endpoint reference with no reference parameters.
    pub fn new(address: impl Into<String>) -> Self {
        Self {
            address: address.into(),
            reference_parameters: String::new(),
        }
    }
}

/// A durable participant named in a commit decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecidedParticipant {
    /// Its number within the transaction.
    pub id: ParticipantId,
    /// Where Commit goes.
    pub endpoint: EndpointRef,
}

/// The one record presumed abort forces per committed transaction: the
/// transaction and every durable participant that voted Prepared.
///
/// A subordinate coordinator (interposition) writes the same record before
/// it tells its superior Prepared, with one more entry: the superior's
/// coordinator protocol endpoint under [`ParticipantId::SUPERIOR`]. Such a
/// record is not a decision: it is the subordinate's prepared state, and
/// the outcome stays the superior's to give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionRecord {
    /// The transaction decided to commit (or the subordinate transaction
    /// prepared).
    pub tx: TxId,
    /// The prepared durable participants, each still owed a Commit (and,
    /// in a subordinate's record, the superior).
    pub participants: Vec<DecidedParticipant>,
}

impl DecisionRecord {
    /// The superior's endpoint when this is a subordinate's prepared
    /// record, `None` for a commit decision.
    pub fn superior(&self) -> Option<&EndpointRef> {
        self.participants
            .iter()
            .find(|p| p.id == ParticipantId::SUPERIOR)
            .map(|p| &p.endpoint)
    }
}

/// What went wrong with a participant's outcome, kept for an operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HeuristicKind {
    /// The participant said Aborted after the transaction was decided to
    /// commit (it broke its Prepared promise).
    AbortedAfterCommit,
    /// The participant said Committed after the transaction was decided to
    /// roll back.
    CommittedAfterRollback,
    /// The participant sent `wsat:InconsistentInternalState`: it cannot keep
    /// its promise.
    InconsistentInternalState,
}

impl HeuristicKind {
    /// The stable name stored in the log.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AbortedAfterCommit => "aborted-after-commit",
            Self::CommittedAfterRollback => "committed-after-rollback",
            Self::InconsistentInternalState => "inconsistent-internal-state",
        }
    }

    /// The kind named by [`HeuristicKind::as_str`], if any.
    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::AbortedAfterCommit,
            Self::CommittedAfterRollback,
            Self::InconsistentInternalState,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == name)
    }
}

/// A heuristic outcome: one participant whose result differs from the
/// transaction's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeuristicRecord {
    /// The transaction.
    pub tx: TxId,
    /// The participant.
    pub participant: ParticipantId,
    /// Its endpoint, so an operator can find it.
    pub endpoint: EndpointRef,
    /// What happened.
    pub kind: HeuristicKind,
}
