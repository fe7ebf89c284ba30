//! The WS-AT 1.2 coordinator-view state tables as pure functions: what one
//! message from a participant (or the initiator) does in each state.
//!
//! The transaction-level consequences (count a vote, abort, record a
//! heuristic) are returned as [`TxEffect`] for the engine to apply, so each
//! table can be tested cell by cell.

use crate::record::HeuristicKind;

/// The coordination protocol a participant registered for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// `…/wsat/2006/06/Completion`: the initiator.
    Completion,
    /// `…/wsat/2006/06/Volatile2PC`.
    Volatile2Pc,
    /// `…/wsat/2006/06/Durable2PC`.
    Durable2Pc,
}

impl Protocol {
    /// The protocol identifier URI (WS-AT 1.2 namespace).
    pub fn uri(self) -> &'static str {
        match self {
            Self::Completion => "http://docs.oasis-open.org/ws-tx/wsat/2006/06/Completion",
            Self::Volatile2Pc => "http://docs.oasis-open.org/ws-tx/wsat/2006/06/Volatile2PC",
            Self::Durable2Pc => "http://docs.oasis-open.org/ws-tx/wsat/2006/06/Durable2PC",
        }
    }

    /// The protocol a `ProtocolIdentifier` names, in the 2006/06 or the
    /// 2004/10 namespace.
    pub fn from_uri(uri: &str) -> Option<Self> {
        let local = uri
            .strip_prefix("http://docs.oasis-open.org/ws-tx/wsat/2006/06/")
            .or_else(|| uri.strip_prefix("http://schemas.xmlsoap.org/ws/2004/10/wsat/"))?;
        match local {
            "Completion" => Some(Self::Completion),
            "Volatile2PC" => Some(Self::Volatile2Pc),
            "Durable2PC" => Some(Self::Durable2Pc),
            _ => None,
        }
    }
}

/// A message the coordinator receives on a protocol endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Inbound {
    /// Completion: the initiator asks to commit.
    Commit,
    /// Completion: the initiator asks to roll back.
    Rollback,
    /// 2PC vote: prepared.
    Prepared,
    /// 2PC vote: read only (the participant leaves).
    ReadOnly,
    /// 2PC: the participant aborted.
    Aborted,
    /// 2PC: the participant committed.
    Committed,
    /// The `wsat:InconsistentInternalState` fault from a participant.
    InconsistentInternalState,
}

/// A message the coordinator sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outbound {
    /// 2PC: prepare.
    Prepare,
    /// 2PC: commit.
    Commit,
    /// 2PC: roll back.
    Rollback,
    /// Completion: the transaction committed.
    Committed,
    /// Completion: the transaction aborted.
    Aborted,
}

/// A fault the coordinator sends (WS-Coordination §4, WS-AT §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// `wscoor:InvalidState`.
    InvalidState,
    /// `wscoor:InvalidProtocol`.
    InvalidProtocol,
    /// `wscoor:InvalidParameters`.
    InvalidParameters,
    /// `wscoor:CannotCreateContext`.
    CannotCreateContext,
    /// `wscoor:CannotRegisterParticipant`.
    CannotRegisterParticipant,
    /// `wsat:InconsistentInternalState`.
    InconsistentInternalState,
    /// `wsat:UnknownTransaction`.
    UnknownTransaction,
}

impl Fault {
    /// The fault's local name (its namespace is WS-C's or WS-AT's).
    pub fn local_name(self) -> &'static str {
        match self {
            Self::InvalidState => "InvalidState",
            Self::InvalidProtocol => "InvalidProtocol",
            Self::InvalidParameters => "InvalidParameters",
            Self::CannotCreateContext => "CannotCreateContext",
            Self::CannotRegisterParticipant => "CannotRegisterParticipant",
            Self::InconsistentInternalState => "InconsistentInternalState",
            Self::UnknownTransaction => "UnknownTransaction",
        }
    }
}

/// A 2PC participant's state as the coordinator sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TwoPcState {
    /// Registered, not yet asked to prepare.
    Active,
    /// Prepare sent, no vote yet.
    Preparing,
    /// Voted Prepared; waiting for the decision.
    PreparedSuccess,
    /// Commit sent, Committed not yet received.
    Committing,
    /// Rollback sent.
    Aborting,
    /// Forgotten: the participant has left the protocol.
    Ended,
}

/// What a 2PC message means for the transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxEffect {
    /// Nothing beyond the participant's own state.
    None,
    /// A Prepared vote to count.
    VotedPrepared,
    /// A ReadOnly vote to count (the participant has left).
    VotedReadOnly,
    /// The participant aborted or misbehaved before the decision: the
    /// transaction must roll back.
    Abort,
    /// The participant acknowledged the commit.
    CommitAcknowledged,
    /// A heuristic outcome to record for an operator.
    Heuristic(HeuristicKind),
}

/// One cell of a table: the participant's next state, what to send it, the
/// fault to send it and the effect on the transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// The participant's state afterwards.
    pub next: TwoPcState,
    /// The protocol message to send back, if any.
    pub send: Option<Outbound>,
    /// The fault to send back, if any.
    pub fault: Option<Fault>,
    /// The consequence for the transaction.
    pub effect: TxEffect,
}

impl Transition {
    const fn stay(state: TwoPcState) -> Self {
        Self {
            next: state,
            send: None,
            fault: None,
            effect: TxEffect::None,
        }
    }

    const fn to(next: TwoPcState) -> Self {
        Self::stay(next)
    }

    const fn invalid(state: TwoPcState) -> Self {
        Self {
            next: state,
            send: None,
            fault: Some(Fault::InvalidState),
            effect: TxEffect::None,
        }
    }

    const fn sending(mut self, message: Outbound) -> Self {
        self.send = Some(message);
        self
    }

    const fn effect(mut self, effect: TxEffect) -> Self {
        self.effect = effect;
        self
    }
}

/// The 2PC coordinator table (Volatile2PC and Durable2PC share it): the
/// cell for `message` received from a participant in `state`.
///
/// `Ended` answers as the spec's *None* column would, except that a
/// Prepared from an ended participant of a transaction that is still known
/// gets the decision (`decided_commit`) rather than a blind Rollback.
/// Completion messages on a 2PC registration are `InvalidState`.
pub fn two_pc(state: TwoPcState, message: Inbound, decided_commit: bool) -> Transition {
    use Inbound as M;
    use TwoPcState as S;
    match (state, message) {
        // Prepared.
        (S::Active, M::Prepared) => Transition::invalid(S::Aborting)
            .sending(Outbound::Rollback)
            .effect(TxEffect::Abort),
        (S::Preparing, M::Prepared) => {
            Transition::to(S::PreparedSuccess).effect(TxEffect::VotedPrepared)
        }
        (S::PreparedSuccess, M::Prepared) => Transition::stay(S::PreparedSuccess),
        (S::Committing, M::Prepared) => Transition::stay(S::Committing).sending(Outbound::Commit),
        (S::Aborting, M::Prepared) => Transition::to(S::Ended).sending(Outbound::Rollback),
        (S::Ended, M::Prepared) => Transition::stay(S::Ended).sending(if decided_commit {
            Outbound::Commit
        } else {
            Outbound::Rollback
        }),

        // ReadOnly.
        (S::Active | S::Aborting, M::ReadOnly) => Transition::to(S::Ended),
        (S::Preparing, M::ReadOnly) => Transition::to(S::Ended).effect(TxEffect::VotedReadOnly),
        (S::PreparedSuccess | S::Committing, M::ReadOnly) => Transition::invalid(state),
        (S::Ended, M::ReadOnly) => Transition::stay(S::Ended),

        // Aborted.
        (S::Active | S::Preparing, M::Aborted) => Transition::to(S::Ended).effect(TxEffect::Abort),
        (S::PreparedSuccess, M::Aborted) => Transition::invalid(state),
        (S::Committing, M::Aborted) => Transition::invalid(S::Ended)
            .effect(TxEffect::Heuristic(HeuristicKind::AbortedAfterCommit)),
        (S::Aborting, M::Aborted) => Transition::to(S::Ended),
        (S::Ended, M::Aborted) => Transition::stay(S::Ended),

        // Committed.
        (S::Active | S::Preparing | S::PreparedSuccess, M::Committed) => Transition::invalid(state),
        (S::Committing, M::Committed) => {
            Transition::to(S::Ended).effect(TxEffect::CommitAcknowledged)
        }
        (S::Aborting, M::Committed) => Transition::invalid(S::Ended)
            .effect(TxEffect::Heuristic(HeuristicKind::CommittedAfterRollback)),
        (S::Ended, M::Committed) => Transition::stay(S::Ended),

        // The participant cannot keep its promise.
        (S::Active | S::Preparing | S::PreparedSuccess, M::InconsistentInternalState) => {
            Transition::to(S::Ended).effect(TxEffect::Abort)
        }
        (S::Committing | S::Aborting, M::InconsistentInternalState) => Transition::to(S::Ended)
            .effect(TxEffect::Heuristic(
                HeuristicKind::InconsistentInternalState,
            )),
        (S::Ended, M::InconsistentInternalState) => Transition::stay(S::Ended),

        // Completion messages have no place on a 2PC registration.
        (_, M::Commit | M::Rollback) => Transition::invalid(state),
    }
}

/// The Completion coordinator's state (the initiator's registration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompletionState {
    /// Registered; the initiator has not asked to complete.
    Active,
    /// Commit received; the coordinator is running 2PC.
    Completing,
    /// The transaction committed (Committed sent).
    Committed,
    /// The transaction aborted (Aborted sent).
    Aborted,
}

/// What a Completion message asks of the transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompletionEffect {
    /// Nothing.
    None,
    /// Start two-phase commit.
    StartCommit,
    /// Roll the transaction back.
    Rollback,
}

/// The Completion coordinator table: the cell for `message` from the
/// initiator in `state`: next state, message and fault to send back, and
/// what the transaction must do.
pub fn completion(
    state: CompletionState,
    message: Inbound,
) -> (
    CompletionState,
    Option<Outbound>,
    Option<Fault>,
    CompletionEffect,
) {
    use CompletionState as S;
    use Inbound as M;
    match (state, message) {
        (S::Active, M::Commit) => (S::Completing, None, None, CompletionEffect::StartCommit),
        (S::Active, M::Rollback) => (
            S::Aborted,
            Some(Outbound::Aborted),
            None,
            CompletionEffect::Rollback,
        ),
        // A repeated Commit while 2PC runs: the outcome will follow.
        (S::Completing, M::Commit) => (S::Completing, None, None, CompletionEffect::None),
        (S::Completing, M::Rollback) => (
            S::Completing,
            None,
            Some(Fault::InvalidState),
            CompletionEffect::None,
        ),
        (S::Committed, M::Commit) => (
            S::Committed,
            Some(Outbound::Committed),
            None,
            CompletionEffect::None,
        ),
        (S::Committed, M::Rollback) => (
            S::Committed,
            None,
            Some(Fault::InvalidState),
            CompletionEffect::None,
        ),
        (S::Aborted, M::Commit | M::Rollback) => (
            S::Aborted,
            Some(Outbound::Aborted),
            None,
            CompletionEffect::None,
        ),
        // 2PC messages have no place on a Completion registration.
        (_, _) => (
            state,
            None,
            Some(Fault::InvalidState),
            CompletionEffect::None,
        ),
    }
}
