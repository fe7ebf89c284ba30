//! The coordinator as operators see it: JSON-ready snapshots of its
//! transactions, served by the gateway's `GET /admin/txn` and
//! `GET /admin/txn/{id}` and printed by `ithaca txn list` / `ithaca txn
//! show`, and the body and answer of the operator's one change,
//! `POST /admin/txn/resolve` (`ithaca txn resolve`): marking a
//! transaction's heuristic outcomes resolved.
//!
//! A transaction is **in doubt** while at least one durable participant
//! has voted Prepared and has not yet acknowledged the outcome: it holds
//! locks in that participant's database until the coordinator's Commit or
//! Rollback reaches it. A subordinate transaction (interposition) is in
//! doubt from its phase `prepared` on, even with no durable participant:
//! it has promised its superior Prepared and waits for its decision.

use serde::{Deserialize, Serialize};

use crate::engine::{CompletionState, Phase, Protocol, TransactionView, TwoPcState};
use crate::log::{HeuristicEntry, ResolveOutcome, TakeoverEntry};
use crate::record::{HeuristicRecord, TxId};

/// Which transactions a listing shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StateFilter {
    /// Every transaction.
    #[default]
    All,
    /// Accepting registrations and work.
    Active,
    /// Running two-phase commit (volatile or durable prepare, or forcing
    /// the decision).
    Preparing,
    /// Decided to commit, acknowledgements outstanding.
    Committing,
    /// In doubt (see the module docs).
    InDoubt,
}

impl StateFilter {
    /// The filter named by the `state` query parameter (`all`, `active`,
    /// `preparing`, `committing`, `in-doubt`).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "all" => Some(Self::All),
            "active" => Some(Self::Active),
            "preparing" => Some(Self::Preparing),
            "committing" => Some(Self::Committing),
            "in-doubt" => Some(Self::InDoubt),
            _ => None,
        }
    }

    /// Whether `summary` passes.
    pub fn matches(self, summary: &TransactionSummary) -> bool {
        match self {
            Self::All => true,
            Self::Active => summary.phase == PhaseName::Active,
            Self::Preparing => matches!(
                summary.phase,
                PhaseName::PreparingVolatile | PhaseName::PreparingDurable | PhaseName::Logging
            ),
            Self::Committing => summary.phase == PhaseName::Committing,
            Self::InDoubt => summary.in_doubt,
        }
    }
}

/// A transaction's phase, as shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PhaseName {
    /// Accepting registrations and work.
    Active,
    /// Volatile participants are being prepared.
    PreparingVolatile,
    /// Durable participants are being prepared.
    PreparingDurable,
    /// The commit decision is being forced to the log.
    Logging,
    /// Decided to commit; acknowledgements outstanding.
    Committing,
    /// Committed and acknowledged (kept a while for late duplicates).
    Committed,
    /// Rolled back.
    Aborted,
    /// A subordinate transaction prepared and waiting for its superior's
    /// decision (in doubt).
    Prepared,
}

impl From<Phase> for PhaseName {
    fn from(phase: Phase) -> Self {
        match phase {
            Phase::Active => Self::Active,
            Phase::PreparingVolatile => Self::PreparingVolatile,
            Phase::PreparingDurable => Self::PreparingDurable,
            Phase::Logging => Self::Logging,
            Phase::Committing => Self::Committing,
            Phase::Committed => Self::Committed,
            Phase::Aborted => Self::Aborted,
            Phase::Prepared => Self::Prepared,
        }
    }
}

/// One registration, as shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParticipantSummary {
    /// Its number within the transaction.
    pub id: u32,
    /// `completion`, `volatile-2pc` or `durable-2pc`.
    pub protocol: String,
    /// Its endpoint address.
    pub address: String,
    /// Its state: for 2PC `active`, `preparing`, `prepared`, `committing`,
    /// `aborting`, `ended`; for Completion `active`, `completing`,
    /// `committed`, `aborted`.
    pub state: String,
}

/// One transaction, as shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransactionSummary {
    /// Its identifier (the context's `wscoor:Identifier`).
    pub id: String,
    /// Its phase.
    pub phase: PhaseName,
    /// Whether it is in doubt (see the module docs).
    pub in_doubt: bool,
    /// Whether its commit decision is in the log.
    pub logged: bool,
    /// Milliseconds until it rolls back if still undecided (`None`: no
    /// expiry, or decided).
    pub expires_in_ms: Option<u64>,
    /// The instance whose log holds it (another one's after a takeover).
    pub owner: String,
    /// Its registrations.
    pub participants: Vec<ParticipantSummary>,
    /// For a subordinate transaction (interposition): the address of its
    /// superior coordinator's protocol endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub superior: Option<String>,
}

/// A heuristic outcome kept in the log for an operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeuristicSummary {
    /// The transaction.
    pub tx: String,
    /// The participant's number.
    pub participant: u32,
    /// Its endpoint address.
    pub address: String,
    /// `aborted-after-commit`, `committed-after-rollback` or
    /// `inconsistent-internal-state`.
    pub kind: String,
    /// Who resolved it, when and why (absent while it is open).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<ResolutionSummary>,
}

/// An operator's resolution of a heuristic outcome, as shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolutionSummary {
    /// Who resolved it (as they named themselves).
    pub operator: String,
    /// When: UTC, RFC 3339 (`2026-11-24T22:01:05Z`).
    pub resolved_at: String,
    /// Why: what the operator did.
    pub note: String,
}

impl From<&HeuristicRecord> for HeuristicSummary {
    fn from(record: &HeuristicRecord) -> Self {
        Self {
            tx: record.tx.0.clone(),
            participant: record.participant.0,
            address: record.endpoint.address.clone(),
            kind: record.kind.as_str().to_owned(),
            resolution: None,
        }
    }
}

impl From<&HeuristicEntry> for HeuristicSummary {
    fn from(entry: &HeuristicEntry) -> Self {
        Self {
            resolution: entry.resolved.as_ref().map(|r| ResolutionSummary {
                operator: r.resolution.operator().to_owned(),
                resolved_at: r.resolved_at.clone(),
                note: r.resolution.note().to_owned(),
            }),
            ..Self::from(&entry.record)
        }
    }
}

/// The body of `POST /admin/txn/resolve?id=ID`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    /// Who resolves (as they name themselves; the admin token says only
    /// that they may).
    pub operator: String,
    /// Why: what was done to reconcile the participants (at most
    /// [`MAX_RESOLUTION_NOTE`](crate::log::MAX_RESOLUTION_NOTE) bytes).
    pub note: String,
}

/// The answer to `POST /admin/txn/resolve?id=ID`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolveAnswer {
    /// The transaction.
    pub tx: String,
    /// How many of its open heuristic outcomes this request resolved.
    pub resolved: usize,
    /// Whether all of them had been resolved before (nothing changed).
    pub already_resolved: bool,
}

impl ResolveAnswer {
    /// The answer for `tx` after `outcome`.
    pub fn new(tx: &TxId, outcome: ResolveOutcome) -> Self {
        let (resolved, already_resolved) = match outcome {
            ResolveOutcome::Resolved(n) => (n, false),
            ResolveOutcome::AlreadyResolved => (0, true),
        };
        Self {
            tx: tx.0.clone(),
            resolved,
            already_resolved,
        }
    }
}

/// Everything `GET /admin/txn` answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// This coordinator instance.
    pub instance: String,
    /// Whether the log has been loaded since start (before that, unknown
    /// transactions are not answered).
    pub recovered: bool,
    /// Whether another instance has fenced this one off.
    pub fenced: bool,
    /// Transactions held, after the filter, sorted by id.
    pub transactions: Vec<TransactionSummary>,
    /// How many the coordinator holds in all (before the filter).
    pub total: usize,
    /// How many of them are in doubt.
    pub in_doubt: usize,
    /// Heuristic outcomes in the log: the open ones, or with
    /// `?heuristics=all` the resolved ones too (`None` when the log could
    /// not be read).
    pub heuristics: Option<Vec<HeuristicSummary>>,
    /// The dead instances this instance took over, oldest first, each with
    /// the transactions it recovered from them (from its log: they outlive
    /// restarts). Its transactions taken over and not yet finished are
    /// listed above with `owner` the dead instance.
    #[serde(default)]
    pub takeovers: Vec<TakeoverSummary>,
}

/// One takeover this instance did, as operators see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TakeoverSummary {
    /// The dead instance whose transactions were taken over.
    pub instance: String,
    /// The fencing token (membership view id) its fence was raised to.
    pub token: u64,
    /// When, by the log's clock (UTC, `YYYY-MM-DDTHH:MM:SSZ`).
    pub taken_at: String,
    /// How many unfinished transactions were recovered from it.
    pub transaction_count: u64,
    /// Their ids (at most the first 1000).
    pub transactions: Vec<String>,
}

impl From<&TakeoverEntry> for TakeoverSummary {
    fn from(entry: &TakeoverEntry) -> Self {
        Self {
            instance: entry.instance.0.clone(),
            token: entry.token.0,
            taken_at: entry.taken_at.clone(),
            transaction_count: entry.transaction_count,
            transactions: entry.transactions.iter().map(|tx| tx.0.clone()).collect(),
        }
    }
}

/// The stable name of a protocol.
pub fn protocol_name(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Completion => "completion",
        Protocol::Volatile2Pc => "volatile-2pc",
        Protocol::Durable2Pc => "durable-2pc",
    }
}

fn two_pc_name(state: TwoPcState) -> &'static str {
    match state {
        TwoPcState::Active => "active",
        TwoPcState::Preparing => "preparing",
        TwoPcState::PreparedSuccess => "prepared",
        TwoPcState::Committing => "committing",
        TwoPcState::Aborting => "aborting",
        TwoPcState::Ended => "ended",
    }
}

fn completion_name(state: CompletionState) -> &'static str {
    match state {
        CompletionState::Active => "active",
        CompletionState::Completing => "completing",
        CompletionState::Committed => "committed",
        CompletionState::Aborted => "aborted",
    }
}

/// Whether a transaction is in doubt (see the module docs).
pub fn in_doubt(view: &TransactionView) -> bool {
    view.phase == Phase::Prepared
        || view.participants.iter().any(|p| {
            p.protocol == Protocol::Durable2Pc
                && matches!(
                    p.two_pc,
                    Some(TwoPcState::PreparedSuccess | TwoPcState::Committing)
                )
        })
}

/// The summary of one engine view; `expires_in_ms` is computed by the
/// caller, who knows the clock.
pub fn summarize(
    tx: &TxId,
    view: &TransactionView,
    expires_in_ms: Option<u64>,
    owner: &str,
) -> TransactionSummary {
    TransactionSummary {
        id: tx.0.clone(),
        phase: view.phase.into(),
        in_doubt: in_doubt(view),
        logged: view.logged,
        expires_in_ms,
        owner: owner.to_owned(),
        superior: view.superior.as_ref().map(|s| s.address.clone()),
        participants: view
            .participants
            .iter()
            .map(|p| ParticipantSummary {
                id: p.id.0,
                protocol: protocol_name(p.protocol).to_owned(),
                address: p.endpoint.address.clone(),
                state: match (p.two_pc, p.completion) {
                    (Some(state), _) => two_pc_name(state),
                    (None, Some(state)) => completion_name(state),
                    (None, None) => "unknown",
                }
                .to_owned(),
            })
            .collect(),
    }
}
