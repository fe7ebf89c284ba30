//! The sans-IO WS-AT coordinator: every transaction's Completion and 2PC
//! state, driven by inputs and answering with [`Command`]s.
//!
//! Inputs are the `handle_*` methods (activation, registration, a message
//! from a participant or the initiator, a timer, a log write or the log's
//! contents after a restart), each with the current time; outputs come out of
//! [`Coordinator::poll_command`]. The engine owns no socket, clock or file.
//!
//! Presumed abort: a transaction whose durable participants voted Prepared
//! produces exactly one [`Command::ForceLog`] and sends no Commit (and no
//! Committed to the initiator) before [`Coordinator::handle_log_written`]
//! reports it durable; an abort or an all-ReadOnly transaction logs nothing.
//!
//! A transaction may be a **subordinate** of another coordinator
//! (interposition, WS-Coordination's `CurrentContext`): see
//! [`subordinate`] for what changes then (its superior's Prepare, Commit
//! and Rollback drive it, and it answers Prepared only once its own
//! prepared state is durable).
//!
//! A coordinator instance whose transactions another instance took over is
//! **fenced** ([`Coordinator::handle_fenced`]): see [`fenced`] for how it
//! still answers its participants without ever writing a decision.

pub mod fenced;
pub mod subordinate;
mod table;

#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

pub use fenced::MAX_PENDING_READS;
pub use subordinate::{FromSuperior, ToSuperior};
pub use table::{
    CompletionEffect, CompletionState, Fault, Inbound, Outbound, Protocol, Transition, TwoPcState,
    TxEffect, completion, two_pc,
};

use crate::record::{
    DecidedParticipant, DecisionRecord, EndpointRef, HeuristicKind, HeuristicRecord, ParticipantId,
    TxId,
};

/// The engine's tunables and bounds.
#[derive(Debug, Clone)]
pub struct Config {
    /// How long to wait for a vote or a Committed before resending Prepare
    /// or Commit, and before retrying a failed log write.
    pub resend_after: Duration,
    /// How long an ended transaction stays to answer late duplicates.
    pub linger: Duration,
    /// At most this many transactions at once (more: CannotCreateContext).
    pub max_transactions: usize,
    /// At most this many registrations per transaction (more:
    /// CannotRegisterParticipant).
    pub max_participants: usize,
    /// At most this many bytes of address plus reference parameters per
    /// registered endpoint (more: InvalidParameters); they are logged.
    pub max_endpoint_bytes: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            resend_after: Duration::from_secs(5),
            linger: Duration::from_secs(30),
            max_transactions: 100_000,
            max_participants: 64,
            max_endpoint_bytes: 4096,
        }
    }
}

/// The final outcome told to the initiator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// `wsat:Committed`.
    Committed,
    /// `wsat:Aborted`.
    Aborted,
}

/// Something the driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Send a 2PC message to a participant.
    Send {
        /// The transaction.
        tx: TxId,
        /// The participant (echoed in its reference parameters).
        to: ParticipantId,
        /// Its protocol endpoint.
        endpoint: EndpointRef,
        /// Prepare, Commit or Rollback.
        message: Outbound,
    },
    /// Tell the initiator the outcome (Completion protocol).
    Reply {
        /// The transaction.
        tx: TxId,
        /// The initiator's registration.
        to: ParticipantId,
        /// Its endpoint.
        endpoint: EndpointRef,
        /// Committed or Aborted.
        outcome: Outcome,
    },
    /// Send a fault, one-way, to the sender of a message.
    Fault {
        /// The transaction the message named.
        tx: TxId,
        /// The registration it came from, when the engine knows it.
        to: Option<ParticipantId>,
        /// Where the fault goes.
        endpoint: EndpointRef,
        /// Which fault.
        fault: Fault,
    },
    /// Write this commit decision durably, then call
    /// [`Coordinator::handle_log_written`].
    ForceLog(DecisionRecord),
    /// A durable participant acknowledged the commit (a lazy, unforced log
    /// update).
    ParticipantDone {
        /// The transaction.
        tx: TxId,
        /// The participant.
        participant: ParticipantId,
    },
    /// Every durable participant acknowledged: drop the decision (lazy).
    ForgetLog(TxId),
    /// Keep this heuristic outcome for an operator (forced).
    LogHeuristic(HeuristicRecord),
    /// Call [`Coordinator::handle_timeout`] at this time (replaces any
    /// earlier timer).
    SetTimer(Instant),
    /// Read whether this instance's log holds a record of this
    /// transaction (a read, never a write: the instance is fenced), then
    /// call [`Coordinator::handle_decision_read`].
    ReadDecision(TxId),
    /// A subordinate transaction's message to its superior coordinator
    /// (sent as participant [`ParticipantId::SUPERIOR`]).
    NotifySuperior {
        /// The (subordinate) transaction.
        tx: TxId,
        /// The superior's coordinator protocol endpoint.
        endpoint: EndpointRef,
        /// Prepared, ReadOnly, Committed or Aborted.
        message: ToSuperior,
    },
}

/// Where a transaction is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Accepting registrations and work.
    Active,
    /// Volatile participants are being prepared.
    PreparingVolatile,
    /// Durable participants are being prepared (volatile registrations
    /// refused from here on).
    PreparingDurable,
    /// Decided to commit; the decision record is being forced.
    Logging,
    /// The decision is durable; Commit sent, acknowledgements pending.
    Committing,
    /// Committed and every participant acknowledged.
    Committed,
    /// Rolled back.
    Aborted,
    /// A subordinate transaction whose participants all voted: its
    /// prepared state is durable and its superior was told Prepared. Only
    /// the superior's Commit or Rollback moves it on (no expiry).
    Prepared,
}

impl Phase {
    fn decision(self) -> Option<bool> {
        match self {
            Self::Committing | Self::Committed => Some(true),
            Self::Aborted => Some(false),
            _ => None,
        }
    }

    fn undecided(self) -> bool {
        matches!(
            self,
            Self::Active | Self::PreparingVolatile | Self::PreparingDurable
        )
    }
}

#[derive(Debug, Clone)]
struct Participant {
    id: ParticipantId,
    protocol: Protocol,
    endpoint: EndpointRef,
    two_pc: TwoPcState,
    completion: CompletionState,
}

#[derive(Debug)]
struct Transaction {
    phase: Phase,
    /// For a subordinate transaction: its superior.
    superior: Option<subordinate::SuperiorLink>,
    expires: Option<Instant>,
    participants: Vec<Participant>,
    next_id: u32,
    /// When Prepare/Commit are resent (or a failed log write retried).
    resend_at: Option<Instant>,
    /// The decision write failed and must be retried at `resend_at`.
    relog: bool,
    /// Whether a decision record exists for this transaction.
    logged: bool,
    /// A write of its record failed in a way that may still have landed
    /// (anything but a refusal by the fence).
    maybe_logged: bool,
    /// A fenced instance is reading the log for this transaction's record.
    reading: bool,
    /// When an ended transaction is dropped.
    drop_at: Option<Instant>,
    /// The entry in the engine's timer set.
    scheduled: Option<Instant>,
}

impl Transaction {
    fn new(expires: Option<Instant>) -> Self {
        Self {
            phase: Phase::Active,
            superior: None,
            expires,
            participants: Vec::new(),
            next_id: 0,
            resend_at: None,
            relog: false,
            logged: false,
            maybe_logged: false,
            reading: false,
            drop_at: None,
            scheduled: None,
        }
    }

    fn participant_mut(&mut self, id: ParticipantId) -> Option<&mut Participant> {
        self.participants.iter_mut().find(|p| p.id == id)
    }

    fn deadline(&self) -> Option<Instant> {
        let expiry = if self.phase.undecided() {
            self.expires
        } else {
            None
        };
        [expiry, self.resend_at, self.drop_at]
            .into_iter()
            .flatten()
            .min()
    }

    fn any_two_pc(&self, protocol: Protocol, state: TwoPcState) -> bool {
        self.participants
            .iter()
            .any(|p| p.protocol == protocol && p.two_pc == state)
    }

    fn all_two_pc_ended(&self) -> bool {
        self.participants
            .iter()
            .all(|p| p.protocol == Protocol::Completion || p.two_pc == TwoPcState::Ended)
    }
}

/// One registration as [`Coordinator::view`] shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipantView {
    /// Its number within the transaction.
    pub id: ParticipantId,
    /// The protocol it registered for.
    pub protocol: Protocol,
    /// Its protocol endpoint.
    pub endpoint: EndpointRef,
    /// Its 2PC state (`None` for the Completion registration).
    pub two_pc: Option<TwoPcState>,
    /// Its Completion state (`None` for a 2PC registration).
    pub completion: Option<CompletionState>,
}

/// A transaction as [`Coordinator::view`] shows it (for operators).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionView {
    /// Where it is in its life.
    pub phase: Phase,
    /// When it rolls back if still undecided.
    pub expires: Option<Instant>,
    /// Whether its commit decision is in the log.
    pub logged: bool,
    /// Every registration, in registration order.
    pub participants: Vec<ParticipantView>,
    /// For a subordinate transaction: its superior's coordinator protocol
    /// endpoint (once registered there).
    pub superior: Option<EndpointRef>,
}

/// Counters kept by the engine since it was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Transactions decided to commit (recovered ones not counted again).
    pub commits: u64,
    /// Transactions rolled back.
    pub aborts: u64,
}

/// The coordinator engine for every transaction of one coordinator
/// instance.
#[derive(Debug)]
pub struct Coordinator {
    stats: EngineStats,
    config: Config,
    txs: HashMap<TxId, Transaction>,
    timers: BTreeSet<(Instant, TxId)>,
    timer_set: Option<Instant>,
    commands: VecDeque<Command>,
    /// False after a restart until the log's records are loaded: no
    /// presumed-abort answer is given before then.
    loaded: bool,
    /// Another instance took this instance's transactions over: no
    /// decision is ever written again (see [`fenced`]).
    fenced: bool,
    /// Fenced: who asked about transactions the engine does not hold,
    /// while their log read is pending (see [`fenced`]).
    pending_reads: HashMap<TxId, Vec<fenced::Asker>>,
}

impl Coordinator {
    /// An engine with no log to recover (a first start).
    pub fn new(config: Config) -> Self {
        Self {
            stats: EngineStats::default(),
            config,
            txs: HashMap::new(),
            timers: BTreeSet::new(),
            timer_set: None,
            commands: VecDeque::new(),
            loaded: true,
            fenced: false,
            pending_reads: HashMap::new(),
        }
    }

    /// An engine after a restart: messages about unknown transactions are
    /// dropped (the sender retries) until [`Coordinator::handle_log_loaded`].
    pub fn recovering(config: Config) -> Self {
        Self {
            loaded: false,
            ..Self::new(config)
        }
    }

    /// Whether messages about unknown transactions are answered: the log
    /// has been loaded (presumed-abort answers are on), or the instance is
    /// fenced and reads each answer from the log (see [`fenced`]).
    pub fn is_loaded(&self) -> bool {
        self.loaded || self.fenced
    }

    /// The next command for the driver, if any.
    pub fn poll_command(&mut self) -> Option<Command> {
        self.commands.pop_front()
    }

    /// The number of transactions the engine holds.
    pub fn transaction_count(&self) -> usize {
        self.txs.len()
    }

    /// Commits and aborts so far.
    pub fn stats(&self) -> EngineStats {
        self.stats
    }

    /// Every transaction the engine holds, in no particular order.
    pub fn transaction_ids(&self) -> impl Iterator<Item = &TxId> {
        self.txs.keys()
    }

    /// A transaction with its registrations, if the engine holds it.
    pub fn view(&self, tx: &TxId) -> Option<TransactionView> {
        let t = self.txs.get(tx)?;
        Some(TransactionView {
            phase: t.phase,
            expires: t.expires,
            logged: t.logged,
            superior: t.superior.as_ref().and_then(|s| s.endpoint.clone()),
            participants: t
                .participants
                .iter()
                .map(|p| {
                    let completion = p.protocol == Protocol::Completion;
                    ParticipantView {
                        id: p.id,
                        protocol: p.protocol,
                        endpoint: p.endpoint.clone(),
                        two_pc: (!completion).then_some(p.two_pc),
                        completion: completion.then_some(p.completion),
                    }
                })
                .collect(),
        })
    }

    /// A transaction's phase, if the engine holds it.
    pub fn phase(&self, tx: &TxId) -> Option<Phase> {
        self.txs.get(tx).map(|t| t.phase)
    }

    /// A 2PC participant's state, if the engine holds it.
    pub fn participant_state(&self, tx: &TxId, id: ParticipantId) -> Option<TwoPcState> {
        let t = self.txs.get(tx)?;
        t.participants
            .iter()
            .find(|p| p.id == id && p.protocol != Protocol::Completion)
            .map(|p| p.two_pc)
    }

    /// Activation: a new transaction, rolled back if it is not decided by
    /// `expires`.
    pub fn handle_create(
        &mut self,
        tx: TxId,
        expires: Option<Instant>,
        now: Instant,
    ) -> Result<(), Fault> {
        if self.txs.contains_key(&tx) {
            return Err(Fault::InvalidParameters);
        }
        if self.fenced || self.txs.len() >= self.config.max_transactions {
            return Err(Fault::CannotCreateContext);
        }
        if expires.is_some_and(|at| at <= now) {
            return Err(Fault::InvalidParameters);
        }
        self.txs.insert(tx.clone(), Transaction::new(expires));
        self.reschedule(&tx);
        self.update_timer();
        Ok(())
    }

    /// Registration: the participant's number, or the fault to answer.
    ///
    /// Completion registers once, while the transaction is active; 2PC
    /// participants register until the first durable Prepare is sent (a
    /// volatile participant registering while volatile participants are
    /// being prepared is prepared at once).
    pub fn handle_register(
        &mut self,
        tx: &TxId,
        protocol: Protocol,
        endpoint: EndpointRef,
        now: Instant,
    ) -> Result<ParticipantId, Fault> {
        let max = self.config.max_participants;
        let resend_after = self.config.resend_after;
        if endpoint.address.is_empty()
            || endpoint.address.len() + endpoint.reference_parameters.len()
                > self.config.max_endpoint_bytes
        {
            return Err(Fault::InvalidParameters);
        }
        let t = self
            .txs
            .get_mut(tx)
            .ok_or(Fault::CannotRegisterParticipant)?;
        if t.participants.len() >= max {
            return Err(Fault::CannotRegisterParticipant);
        }
        let allowed = match protocol {
            Protocol::Completion => {
                t.phase == Phase::Active
                    && t.superior.is_none()
                    && !t
                        .participants
                        .iter()
                        .any(|p| p.protocol == Protocol::Completion)
            }
            Protocol::Volatile2Pc | Protocol::Durable2Pc => {
                matches!(t.phase, Phase::Active | Phase::PreparingVolatile)
            }
        };
        if !allowed {
            return Err(Fault::CannotRegisterParticipant);
        }
        let id = ParticipantId(t.next_id);
        t.next_id = t.next_id.saturating_add(1);
        let mut participant = Participant {
            id,
            protocol,
            endpoint,
            two_pc: TwoPcState::Active,
            completion: CompletionState::Active,
        };
        if protocol == Protocol::Volatile2Pc && t.phase == Phase::PreparingVolatile {
            participant.two_pc = TwoPcState::Preparing;
            self.commands.push_back(Command::Send {
                tx: tx.clone(),
                to: id,
                endpoint: participant.endpoint.clone(),
                message: Outbound::Prepare,
            });
            t.resend_at.get_or_insert(now + resend_after);
        }
        t.participants.push(participant);
        self.reschedule(tx);
        self.update_timer();
        Ok(id)
    }

    /// A message from a registration of `tx`: `from` is the participant
    /// number its reference parameters carried, `protocol` the endpoint it
    /// arrived at, and `reply_to` where to answer when the engine does not
    /// know the sender (its `wsa:ReplyTo` or `wsa:From`).
    pub fn handle_message(
        &mut self,
        tx: &TxId,
        from: ParticipantId,
        protocol: Protocol,
        reply_to: Option<EndpointRef>,
        message: Inbound,
        now: Instant,
    ) {
        let Some(t) = self.txs.get_mut(tx) else {
            self.unknown_transaction(tx, from, protocol, reply_to, message);
            return;
        };
        let decision = t.phase.decision();
        let Some(participant) = t.participant_mut(from).filter(|p| p.protocol == protocol) else {
            if let Some(endpoint) = reply_to {
                self.commands.push_back(Command::Fault {
                    tx: tx.clone(),
                    to: None,
                    endpoint,
                    fault: Fault::InvalidParameters,
                });
            }
            return;
        };
        if protocol == Protocol::Completion {
            let (next, send, fault, effect) = completion(participant.completion, message);
            participant.completion = next;
            let endpoint = participant.endpoint.clone();
            if let Some(outcome) = send.and_then(outcome_of) {
                self.commands.push_back(Command::Reply {
                    tx: tx.clone(),
                    to: from,
                    endpoint: endpoint.clone(),
                    outcome,
                });
            }
            if let Some(fault) = fault {
                self.fault(tx, from, endpoint, fault);
            }
            match effect {
                CompletionEffect::None => {}
                CompletionEffect::StartCommit => self.start_commit(tx, now),
                CompletionEffect::Rollback => self.abort(tx, now),
            }
        } else {
            let cell = two_pc(participant.two_pc, message, decision == Some(true));
            let cell = if participant.two_pc == TwoPcState::Ended
                && message == Inbound::Prepared
                && decision.is_none()
            {
                // A participant that left (ReadOnly) now says Prepared
                // before anything is decided: neither answer is safe yet.
                Transition {
                    send: None,
                    fault: Some(Fault::InvalidState),
                    ..cell
                }
            } else {
                cell
            };
            participant.two_pc = cell.next;
            let endpoint = participant.endpoint.clone();
            if let Some(message) = cell.send {
                self.commands.push_back(Command::Send {
                    tx: tx.clone(),
                    to: from,
                    endpoint: endpoint.clone(),
                    message,
                });
            }
            if let Some(fault) = cell.fault {
                self.fault(tx, from, endpoint.clone(), fault);
            }
            self.apply(tx, from, endpoint, cell.effect, now);
        }
        self.progress(tx, now);
        self.reschedule(tx);
        self.update_timer();
    }

    /// The timer set by [`Command::SetTimer`] fired (early or late calls are
    /// harmless): expiries, resends, log retries and dropping ended
    /// transactions.
    pub fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<TxId> = self
            .timers
            .iter()
            .take_while(|(at, _)| *at <= now)
            .map(|(_, tx)| tx.clone())
            .collect();
        for tx in due {
            self.on_deadline(&tx, now);
            self.reschedule(&tx);
        }
        self.timer_set = None;
        self.update_timer();
    }

    /// The driver's report on a [`Command::ForceLog`]: `durable` is true
    /// once the record is on stable storage. A failed write is retried
    /// after `resend_after`; the transaction stays undecided for the
    /// participants meanwhile.
    pub fn handle_log_written(&mut self, tx: &TxId, durable: bool, now: Instant) {
        let resend_after = self.config.resend_after;
        let Some(t) = self.txs.get_mut(tx) else {
            return;
        };
        if t.phase == Phase::Aborted && t.superior.is_some() {
            // The superior rolled back while the prepared record was being
            // written: drop the record again, and the transaction after its
            // linger.
            if durable {
                self.commands.push_back(Command::ForgetLog(tx.clone()));
            }
            t.drop_at.get_or_insert(now + self.config.linger);
            self.reschedule(tx);
            self.update_timer();
            return;
        }
        if t.phase != Phase::Logging {
            return;
        }
        if durable {
            t.logged = true;
            t.relog = false;
            if t.superior.is_some() {
                self.tell_superior_prepared(tx, now);
            } else {
                self.commit(tx, now);
            }
        } else {
            t.relog = true;
            t.maybe_logged = true;
            t.resend_at = Some(now + resend_after);
            if self.fenced {
                // Never retried once fenced: the log tells what happened.
                t.resend_at = None;
                self.read_decision(tx);
            }
        }
        self.progress(tx, now);
        self.reschedule(tx);
        self.update_timer();
    }

    /// Recovery: the decisions the log holds. Each becomes a committing
    /// transaction and its unfinished participants are sent Commit again;
    /// from now on unknown transactions are answered by presumed abort.
    pub fn handle_log_loaded(&mut self, records: Vec<DecisionRecord>, now: Instant) {
        for record in records {
            if self.txs.contains_key(&record.tx) {
                continue;
            }
            if record.superior().is_some() {
                self.load_subordinate(record, now);
                continue;
            }
            let mut t = Transaction::new(None);
            t.phase = Phase::Committing;
            t.logged = true;
            for decided in record.participants {
                t.next_id = t.next_id.max(decided.id.0.saturating_add(1));
                self.commands.push_back(Command::Send {
                    tx: record.tx.clone(),
                    to: decided.id,
                    endpoint: decided.endpoint.clone(),
                    message: Outbound::Commit,
                });
                t.participants.push(Participant {
                    id: decided.id,
                    protocol: Protocol::Durable2Pc,
                    endpoint: decided.endpoint,
                    two_pc: TwoPcState::Committing,
                    completion: CompletionState::Committed,
                });
            }
            t.resend_at = Some(now + self.config.resend_after);
            let tx = record.tx;
            self.txs.insert(tx.clone(), t);
            self.progress(&tx, now);
            self.reschedule(&tx);
        }
        self.loaded = true;
        self.update_timer();
    }

    fn unknown_transaction(
        &mut self,
        tx: &TxId,
        from: ParticipantId,
        protocol: Protocol,
        reply_to: Option<EndpointRef>,
        message: Inbound,
    ) {
        if self.fenced && protocol == Protocol::Durable2Pc && message == Inbound::Prepared {
            // The answer is in the log (see `fenced`).
            if let Some(endpoint) = reply_to {
                self.ask_log(tx, from, endpoint);
            }
            return;
        }
        if !self.loaded && !self.fenced {
            // Before the log is loaded nothing may be presumed: drop it, the
            // sender retries.
            return;
        }
        let Some(endpoint) = reply_to else {
            return;
        };
        let tx = tx.clone();
        match (protocol, message) {
            (Protocol::Durable2Pc, Inbound::Prepared) => self.commands.push_back(Command::Send {
                tx,
                to: from,
                endpoint,
                message: Outbound::Rollback,
            }),
            (Protocol::Volatile2Pc, Inbound::Prepared)
            | (Protocol::Completion, Inbound::Commit | Inbound::Rollback) => {
                self.commands.push_back(Command::Fault {
                    tx,
                    to: None,
                    endpoint,
                    fault: Fault::UnknownTransaction,
                });
            }
            _ => {}
        }
    }

    fn fault(&mut self, tx: &TxId, to: ParticipantId, endpoint: EndpointRef, fault: Fault) {
        self.commands.push_back(Command::Fault {
            tx: tx.clone(),
            to: Some(to),
            endpoint,
            fault,
        });
    }

    fn apply(
        &mut self,
        tx: &TxId,
        from: ParticipantId,
        endpoint: EndpointRef,
        effect: TxEffect,
        now: Instant,
    ) {
        let Some(t) = self.txs.get_mut(tx) else {
            return;
        };
        match effect {
            TxEffect::None | TxEffect::VotedPrepared | TxEffect::VotedReadOnly => {}
            TxEffect::Abort => {
                if t.phase.undecided() {
                    self.abort(tx, now);
                }
            }
            TxEffect::CommitAcknowledged => {
                let durable = t
                    .participants
                    .iter()
                    .any(|p| p.id == from && p.protocol == Protocol::Durable2Pc);
                let others_left = t.participants.iter().any(|p| {
                    p.protocol == Protocol::Durable2Pc && p.two_pc == TwoPcState::Committing
                });
                if durable && t.logged && others_left {
                    self.commands.push_back(Command::ParticipantDone {
                        tx: tx.clone(),
                        participant: from,
                    });
                }
            }
            TxEffect::Heuristic(kind) => {
                self.commands
                    .push_back(Command::LogHeuristic(HeuristicRecord {
                        tx: tx.clone(),
                        participant: from,
                        endpoint,
                        kind,
                    }));
                if let Some(link) = &mut t.superior
                    && t.phase == Phase::Committing
                {
                    link.heuristic = true;
                }
                if kind == HeuristicKind::InconsistentInternalState && t.phase.undecided() {
                    self.abort(tx, now);
                }
            }
        }
    }

    fn send_prepare(&mut self, tx: &TxId, protocol: Protocol, now: Instant) {
        let resend_after = self.config.resend_after;
        let Some(t) = self.txs.get_mut(tx) else {
            return;
        };
        for p in &mut t.participants {
            if p.protocol == protocol && p.two_pc == TwoPcState::Active {
                p.two_pc = TwoPcState::Preparing;
                self.commands.push_back(Command::Send {
                    tx: tx.clone(),
                    to: p.id,
                    endpoint: p.endpoint.clone(),
                    message: Outbound::Prepare,
                });
            }
        }
        t.resend_at = Some(now + resend_after);
    }

    fn start_commit(&mut self, tx: &TxId, now: Instant) {
        if let Some(t) = self.txs.get_mut(tx)
            && t.phase == Phase::Active
        {
            t.phase = Phase::PreparingVolatile;
            self.send_prepare(tx, Protocol::Volatile2Pc, now);
        }
    }

    /// Moves the transaction on when every vote of its phase is in, and
    /// ends it when every participant has left.
    fn progress(&mut self, tx: &TxId, now: Instant) {
        let linger = self.config.linger;
        let Some(t) = self.txs.get_mut(tx) else {
            return;
        };
        if t.phase == Phase::PreparingVolatile
            && !t.any_two_pc(Protocol::Volatile2Pc, TwoPcState::Preparing)
        {
            t.phase = Phase::PreparingDurable;
            self.send_prepare(tx, Protocol::Durable2Pc, now);
        }
        let Some(t) = self.txs.get_mut(tx) else {
            return;
        };
        if t.phase == Phase::PreparingDurable
            && !t.any_two_pc(Protocol::Durable2Pc, TwoPcState::Preparing)
        {
            let prepared: Vec<DecidedParticipant> = t
                .participants
                .iter()
                .filter(|p| {
                    p.protocol == Protocol::Durable2Pc && p.two_pc == TwoPcState::PreparedSuccess
                })
                .map(|p| DecidedParticipant {
                    id: p.id,
                    endpoint: p.endpoint.clone(),
                })
                .collect();
            if let Some(superior) = &t.superior {
                // A subordinate: its superior decides.
                let superior = superior.endpoint.clone();
                self.subordinate_voted(tx, prepared, superior, now);
            } else if prepared.is_empty() {
                // Nothing durable to remember: presumed abort needs no log.
                self.commit(tx, now);
            } else if self.fenced {
                // A fenced instance never writes a decision: presumed abort.
                self.abort(tx, now);
            } else {
                t.phase = Phase::Logging;
                t.resend_at = None;
                self.commands.push_back(Command::ForceLog(DecisionRecord {
                    tx: tx.clone(),
                    participants: prepared,
                }));
            }
        }
        let Some(t) = self.txs.get_mut(tx) else {
            return;
        };
        if t.phase == Phase::Committing && t.all_two_pc_ended() {
            t.phase = Phase::Committed;
            t.resend_at = None;
            t.drop_at = Some(now + linger);
            if t.logged {
                self.commands.push_back(Command::ForgetLog(tx.clone()));
            }
            self.tell_superior(tx, ToSuperior::Committed);
        }
        let Some(t) = self.txs.get_mut(tx) else {
            return;
        };
        if t.phase == Phase::Aborted && t.all_two_pc_ended() {
            t.resend_at = None;
        }
    }

    /// The decision is durable (or needed no log): Commit to every
    /// prepared participant, Committed to the initiator.
    fn commit(&mut self, tx: &TxId, now: Instant) {
        let resend_after = self.config.resend_after;
        let Some(t) = self.txs.get_mut(tx) else {
            return;
        };
        if t.phase != Phase::Committing {
            self.stats.commits += 1;
        }
        t.phase = Phase::Committing;
        for p in &mut t.participants {
            match p.protocol {
                Protocol::Completion => {
                    if p.completion == CompletionState::Completing {
                        p.completion = CompletionState::Committed;
                        self.commands.push_back(Command::Reply {
                            tx: tx.clone(),
                            to: p.id,
                            endpoint: p.endpoint.clone(),
                            outcome: Outcome::Committed,
                        });
                    }
                }
                Protocol::Volatile2Pc | Protocol::Durable2Pc => {
                    if p.two_pc == TwoPcState::PreparedSuccess {
                        p.two_pc = TwoPcState::Committing;
                        self.commands.push_back(Command::Send {
                            tx: tx.clone(),
                            to: p.id,
                            endpoint: p.endpoint.clone(),
                            message: Outbound::Commit,
                        });
                    }
                }
            }
        }
        t.resend_at = Some(now + resend_after);
    }

    /// Rolls back an undecided transaction: Rollback to every participant
    /// still in the protocol, Aborted to the initiator (or to the
    /// superior). Nothing is logged.
    fn abort(&mut self, tx: &TxId, now: Instant) {
        self.roll_back(tx, now, false);
    }

    /// [`Self::abort`]; with `superior_said`, also a subordinate that is
    /// writing or has written its prepared record (only its superior's
    /// Rollback may end those; the record is dropped).
    fn roll_back(&mut self, tx: &TxId, now: Instant, superior_said: bool) {
        self.roll_back_telling(tx, now, superior_said, true);
    }

    /// [`Self::roll_back`]; without `tell_initiator`, the initiator is not
    /// sent Aborted (the outcome is unknown to this instance, see
    /// [`fenced`]).
    fn roll_back_telling(
        &mut self,
        tx: &TxId,
        now: Instant,
        superior_said: bool,
        tell_initiator: bool,
    ) {
        let linger = self.config.linger;
        let Some(t) = self.txs.get_mut(tx) else {
            return;
        };
        let prepared_subordinate = superior_said
            && t.superior.is_some()
            && matches!(t.phase, Phase::Logging | Phase::Prepared);
        // Fenced, a transaction whose decision the log does not hold.
        let fenced_logging = self.fenced && t.phase == Phase::Logging;
        if !t.phase.undecided() && !prepared_subordinate && !fenced_logging {
            return;
        }
        // A prepared-record write still in flight: keep the transaction
        // until it is reported, so a record that lands is dropped again.
        let writing = t.phase == Phase::Logging && !t.relog;
        // A record written, or one whose write failed (it may have landed
        // all the same): drop it.
        let maybe_logged = t.logged || (t.phase == Phase::Logging && t.relog);
        if maybe_logged && t.superior.is_some() {
            self.commands.push_back(Command::ForgetLog(tx.clone()));
        }
        self.stats.aborts += 1;
        t.phase = Phase::Aborted;
        t.resend_at = None;
        t.drop_at = (!writing).then_some(now + linger);
        for p in &mut t.participants {
            match p.protocol {
                Protocol::Completion => {
                    if matches!(
                        p.completion,
                        CompletionState::Active | CompletionState::Completing
                    ) {
                        p.completion = CompletionState::Aborted;
                        if tell_initiator {
                            self.commands.push_back(Command::Reply {
                                tx: tx.clone(),
                                to: p.id,
                                endpoint: p.endpoint.clone(),
                                outcome: Outcome::Aborted,
                            });
                        }
                    }
                }
                Protocol::Volatile2Pc | Protocol::Durable2Pc => {
                    if matches!(
                        p.two_pc,
                        TwoPcState::Active | TwoPcState::Preparing | TwoPcState::PreparedSuccess
                    ) {
                        p.two_pc = TwoPcState::Aborting;
                        self.commands.push_back(Command::Send {
                            tx: tx.clone(),
                            to: p.id,
                            endpoint: p.endpoint.clone(),
                            message: Outbound::Rollback,
                        });
                    }
                }
            }
        }
        self.tell_superior(tx, ToSuperior::Aborted);
    }

    fn on_deadline(&mut self, tx: &TxId, now: Instant) {
        let resend_after = self.config.resend_after;
        let Some(t) = self.txs.get_mut(tx) else {
            return;
        };
        if t.drop_at.is_some_and(|at| at <= now) {
            self.txs.remove(tx);
            return;
        }
        if t.phase.undecided() && t.expires.is_some_and(|at| at <= now) {
            self.abort(tx, now);
            return;
        }
        if t.resend_at.is_none_or(|at| at > now) {
            return;
        }
        if self.fenced && t.phase == Phase::Logging && t.relog {
            // Fenced: a failed log read is retried, never the write.
            t.resend_at = None;
            self.read_decision(tx);
            return;
        }
        t.resend_at = Some(now + resend_after);
        match t.phase {
            Phase::Logging if t.relog => {
                t.relog = false;
                t.resend_at = None;
                let mut participants: Vec<DecidedParticipant> = t
                    .participants
                    .iter()
                    .filter(|p| {
                        p.protocol == Protocol::Durable2Pc
                            && p.two_pc == TwoPcState::PreparedSuccess
                    })
                    .map(|p| DecidedParticipant {
                        id: p.id,
                        endpoint: p.endpoint.clone(),
                    })
                    .collect();
                if let Some(endpoint) = t.superior.as_ref().and_then(|s| s.endpoint.clone()) {
                    participants.push(DecidedParticipant {
                        id: ParticipantId::SUPERIOR,
                        endpoint,
                    });
                }
                self.commands.push_back(Command::ForceLog(DecisionRecord {
                    tx: tx.clone(),
                    participants,
                }));
            }
            Phase::Prepared => self.resend_to_superior(tx),
            Phase::PreparingVolatile | Phase::PreparingDurable | Phase::Committing => {
                let (state, message) = if t.phase == Phase::Committing {
                    (TwoPcState::Committing, Outbound::Commit)
                } else {
                    (TwoPcState::Preparing, Outbound::Prepare)
                };
                for p in &t.participants {
                    if p.protocol != Protocol::Completion && p.two_pc == state {
                        self.commands.push_back(Command::Send {
                            tx: tx.clone(),
                            to: p.id,
                            endpoint: p.endpoint.clone(),
                            message,
                        });
                    }
                }
            }
            _ => t.resend_at = None,
        }
    }

    fn reschedule(&mut self, tx: &TxId) {
        let Some(t) = self.txs.get_mut(tx) else {
            return;
        };
        let deadline = t.deadline();
        if t.scheduled == deadline {
            return;
        }
        if let Some(old) = t.scheduled.take() {
            self.timers.remove(&(old, tx.clone()));
        }
        if let Some(at) = deadline {
            self.timers.insert((at, tx.clone()));
            t.scheduled = Some(at);
        }
    }

    fn update_timer(&mut self) {
        // Dropped transactions leave stale entries: clear them first.
        while let Some((at, tx)) = self.timers.first().cloned() {
            if self.txs.get(&tx).is_some_and(|t| t.scheduled == Some(at)) {
                break;
            }
            self.timers.pop_first();
        }
        let next = self.timers.first().map(|(at, _)| *at);
        if next != self.timer_set
            && let Some(at) = next
        {
            self.timer_set = Some(at);
            self.commands.push_back(Command::SetTimer(at));
        }
    }
}

fn outcome_of(message: Outbound) -> Option<Outcome> {
    match message {
        Outbound::Committed => Some(Outcome::Committed),
        Outbound::Aborted => Some(Outcome::Aborted),
        _ => None,
    }
}
