//! The sans-IO WS-AT participant: every branch's Durable2PC or Volatile2PC
//! state, per the WS-AT 1.2 participant-view state table, driven by inputs
//! and answering with [`Command`]s.
//!
//! Inputs are the `handle_*` methods, each with the current time: a branch
//! enlisted after a successful Register, a `Prepare`/`Commit`/`Rollback`
//! from the coordinator, the local resource's vote and its commit or
//! rollback result, a fault from the coordinator, a branch found prepared
//! at start-up, and a timer. Outputs come out of
//! [`Participant::poll_command`]; [`Participant::poll_timeout`] says when to
//! call [`Participant::handle_timeout`]. The machine owns no socket, clock
//! or database.
//!
//! **Durability first:** `Prepared` is sent only after the resource reported
//! [`Vote::Prepared`], which it does only once its prepared state is durable
//! (for PostgreSQL, once `PREPARE TRANSACTION` returned).
//!
//! **Presumed abort from the participant's side:** a message about a branch
//! the machine does not hold is answered from the table's `None` column:
//! `Prepare` and `Rollback` get `Aborted`, `Commit` gets `Committed` (the
//! branch committed and was forgotten; the coordinator only sends Commit
//! after a Prepared vote it logged).
//!
//! The table, state by incoming message (a fault is `wscoor:InvalidState`):
//!
//! | Message \ state | None | Active | Preparing | PreparedSuccess | Committing | Aborting |
//! |---|---|---|---|---|---|---|
//! | Prepare | send Aborted | → Preparing, prepare the resource | ignore | resend Prepared | ignore | send Aborted when rolled back |
//! | Commit | send Committed | fault; → Aborting, roll back | fault; → Aborting, roll back after the vote | → Committing, commit the resource | ignore | fault |
//! | Rollback | send Aborted | → Aborting, roll back | → Aborting, roll back after the vote | → Aborting, roll back | fault | ignore |
//!
//! Local events: the vote in Preparing (`Prepared` → PreparedSuccess and
//! send Prepared; `ReadOnly` → send ReadOnly, forget; `Aborted` → send
//! Aborted, forget); the resource's commit (→ send Committed, forget) or
//! rollback (→ send Aborted, forget), retried on the timer when they fail;
//! the timer in PreparedSuccess (resend Prepared, or `Replay` for a branch
//! recovered under WS-AT 2004/10, with exponential backoff); an Active
//! branch older than [`Config::active_timeout`] or past its context's
//! `Expires` is rolled back unilaterally (a participant may abort at any
//! time before it votes).

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use crate::record::{EndpointRef, TxId};

/// One branch: a registration of this participant in a transaction.
/// `branch` tells apart several resources of one service enlisted in the
/// same transaction (two databases, say), each registered on its own.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BranchId {
    /// The transaction (the context's `wscoor:Identifier`).
    pub tx: TxId,
    /// The branch's number within the transaction at this participant.
    pub branch: u32,
}

impl BranchId {
    /// Branch `branch` of `tx`.
    pub fn new(tx: TxId, branch: u32) -> Self {
        Self { tx, branch }
    }
}

impl fmt::Display for BranchId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.tx, self.branch)
    }
}

/// The WS-AT version a branch was registered under; it decides how a
/// recovered branch asks for the outcome again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WsatVersion {
    /// WS-AT 1.1/1.2 (`…/ws-tx/wsat/2006/06`): a recovered branch resends
    /// `Prepared`.
    V2006,
    /// WS-AT 1.0 (`…/ws/2004/10/wsat`, WCF/MSDTC, Metro): a recovered
    /// branch sends `Replay`.
    V2004,
}

impl WsatVersion {
    /// The number stored with a branch record (2006 or 2004).
    pub fn year(self) -> i16 {
        match self {
            Self::V2006 => 2006,
            Self::V2004 => 2004,
        }
    }

    /// The version a stored year names.
    pub fn from_year(year: i16) -> Option<Self> {
        match year {
            2006 => Some(Self::V2006),
            2004 => Some(Self::V2004),
            _ => None,
        }
    }
}

/// A branch's state, as in the spec's participant view (a branch the
/// machine does not hold is in the spec's `None` state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Enlisted; the application's work may be running.
    Active,
    /// Prepare received; the resource is preparing (and making its
    /// prepared state durable).
    Preparing,
    /// Prepared durably and `Prepared` sent; waiting for the outcome.
    PreparedSuccess,
    /// Commit received; the resource is committing.
    Committing,
    /// Rolling back (asked to, or deciding to).
    Aborting,
}

/// A 2PC message from the coordinator (ParticipantPortType).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FromCoordinator {
    /// `wsat:Prepare`.
    Prepare,
    /// `wsat:Commit`.
    Commit,
    /// `wsat:Rollback`.
    Rollback,
}

/// A 2PC message to the coordinator (CoordinatorPortType).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ToCoordinator {
    /// `wsat:Prepared`: the branch is durably prepared.
    Prepared,
    /// `wsat:ReadOnly`: the branch wrote nothing and leaves the protocol.
    ReadOnly,
    /// `wsat:Aborted`: the branch rolled back.
    Aborted,
    /// `wsat:Committed`: the branch committed.
    Committed,
    /// `wsat:Replay` (WS-AT 2004/10 only): a recovered prepared branch asks
    /// for the outcome again.
    Replay,
}

/// What the resource answered to a prepare request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Vote {
    /// Prepared, and the prepared state is durable.
    Prepared,
    /// Nothing was written; the local work is finished and released.
    ReadOnly,
    /// The resource could not prepare; its work is rolled back.
    Aborted,
}

/// A fault the coordinator sent about a branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CoordinatorFault {
    /// `wsat:UnknownTransaction`: the coordinator has no record of the
    /// transaction, so it was not committed (presumed abort).
    UnknownTransaction,
    /// `wscoor:InvalidState`.
    InvalidState,
    /// `wsat:InconsistentInternalState`.
    InconsistentInternalState,
    /// Any other fault.
    Other,
}

/// A fault the participant sends to the coordinator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParticipantFault {
    /// `wscoor:InvalidState`: the message is not valid in the branch's
    /// state (a Commit before the branch voted Prepared, say).
    InvalidState,
}

/// Something the driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Prepare the resource (make its prepared state durable), then call
    /// [`Participant::handle_vote`].
    Prepare(BranchId),
    /// Commit the prepared resource, then call
    /// [`Participant::handle_resolved`].
    Commit(BranchId),
    /// Roll the resource back (its open work or its prepared state), then
    /// call [`Participant::handle_resolved`].
    Rollback(BranchId),
    /// Send a 2PC message to the coordinator.
    Send {
        /// The branch it is about.
        branch: BranchId,
        /// The coordinator's protocol endpoint from RegisterResponse, or
        /// `None` for a branch the machine does not hold: answer the
        /// message's sender (its `wsa:ReplyTo`, else `wsa:From`).
        to: Option<EndpointRef>,
        /// The message.
        message: ToCoordinator,
    },
    /// Send a fault, one-way, to the coordinator.
    Fault {
        /// The branch it is about.
        branch: BranchId,
        /// The coordinator's protocol endpoint (as in [`Command::Send`]).
        to: Option<EndpointRef>,
        /// Which fault.
        fault: ParticipantFault,
    },
    /// The branch has left the protocol: the driver may drop what it holds
    /// for it (its resource, its record).
    Forget(BranchId),
}

/// Why a branch could not be enlisted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnlistError {
    /// The machine already holds this branch.
    #[error("branch already enlisted")]
    AlreadyEnlisted,
    /// [`Config::max_branches`] branches are open already.
    #[error("too many open transaction branches")]
    TooManyBranches,
}

/// The participant's tunables and bounds.
#[derive(Debug, Clone)]
pub struct Config {
    /// How long to wait for the outcome before resending `Prepared`, and
    /// before retrying a failed commit or rollback of the resource; doubled
    /// after each resend up to [`Config::max_resend_after`].
    pub resend_after: Duration,
    /// The longest wait between resends.
    pub max_resend_after: Duration,
    /// An Active branch that gets no Prepare for this long (or past its
    /// context's `Expires`, whichever is first) is rolled back.
    pub active_timeout: Duration,
    /// At most this many branches at once (more: [`EnlistError`]).
    pub max_branches: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            resend_after: Duration::from_secs(2),
            max_resend_after: Duration::from_secs(120),
            active_timeout: Duration::from_secs(300),
            max_branches: 10_000,
        }
    }
}

#[derive(Debug, Clone)]
struct Branch {
    state: State,
    coordinator: EndpointRef,
    version: WsatVersion,
    /// Found prepared at start-up (asks again with Replay under 2004/10).
    recovered: bool,
    /// Aborting while the resource is still preparing: roll back once the
    /// vote arrives.
    awaiting_vote: bool,
    /// The resource's commit or rollback is running (not to be reissued).
    resolving: bool,
    /// When to act on the timer (resend, retry, or the Active deadline).
    due: Option<Instant>,
    /// The current resend interval.
    backoff: Duration,
}

/// The participant state machine for every branch of one participant
/// process.
#[derive(Debug)]
pub struct Participant {
    config: Config,
    branches: BTreeMap<BranchId, Branch>,
    timers: BTreeSet<(Instant, BranchId)>,
    commands: VecDeque<Command>,
}

impl Participant {
    /// A machine holding no branch.
    pub fn new(config: Config) -> Self {
        Self {
            config,
            branches: BTreeMap::new(),
            timers: BTreeSet::new(),
            commands: VecDeque::new(),
        }
    }

    /// The next command for the driver, if any.
    pub fn poll_command(&mut self) -> Option<Command> {
        self.commands.pop_front()
    }

    /// When [`Participant::handle_timeout`] must be called next, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.first().map(|(at, _)| *at)
    }

    /// A branch's state, if the machine holds it.
    pub fn state(&self, branch: &BranchId) -> Option<State> {
        self.branches.get(branch).map(|b| b.state)
    }

    /// The coordinator endpoint a branch registered with, if the machine
    /// holds it.
    pub fn coordinator(&self, branch: &BranchId) -> Option<&EndpointRef> {
        self.branches.get(branch).map(|b| &b.coordinator)
    }

    /// The number of branches the machine holds.
    pub fn len(&self) -> usize {
        self.branches.len()
    }

    /// Whether the machine holds no branch.
    pub fn is_empty(&self) -> bool {
        self.branches.is_empty()
    }

    /// The branches the machine holds, with their states.
    pub fn branches(&self) -> impl Iterator<Item = (&BranchId, State)> {
        self.branches.iter().map(|(id, b)| (id, b.state))
    }

    /// A branch registered with the coordinator (RegisterResponse gave
    /// `coordinator`) and about to do the application's work: Active until
    /// Prepare, rolled back if none comes by `expires` (the context's
    /// `Expires`, if any) or [`Config::active_timeout`].
    pub fn handle_enlist(
        &mut self,
        branch: BranchId,
        coordinator: EndpointRef,
        version: WsatVersion,
        expires: Option<Instant>,
        now: Instant,
    ) -> Result<(), EnlistError> {
        if self.branches.contains_key(&branch) {
            return Err(EnlistError::AlreadyEnlisted);
        }
        if self.branches.len() >= self.config.max_branches {
            return Err(EnlistError::TooManyBranches);
        }
        let deadline = now + self.config.active_timeout;
        let due = expires.map_or(deadline, |at| at.min(deadline));
        self.branches.insert(
            branch.clone(),
            Branch {
                state: State::Active,
                coordinator,
                version,
                recovered: false,
                awaiting_vote: false,
                resolving: false,
                due: None,
                backoff: self.config.resend_after,
            },
        );
        self.schedule(&branch, Some(due));
        Ok(())
    }

    /// A branch found durably prepared at start-up (for PostgreSQL, in
    /// `pg_prepared_xacts`): PreparedSuccess, and `Prepared` (or `Replay`
    /// under 2004/10) goes to the coordinator now and on the timer until an
    /// outcome arrives. Ignored if the machine already holds the branch.
    pub fn handle_recovered(
        &mut self,
        branch: BranchId,
        coordinator: EndpointRef,
        version: WsatVersion,
        now: Instant,
    ) {
        if self.branches.contains_key(&branch) {
            return;
        }
        // Recovered branches are never refused: they hold locks in the
        // database until resolved, so they must be driven to an outcome.
        self.branches.insert(
            branch.clone(),
            Branch {
                state: State::PreparedSuccess,
                coordinator,
                version,
                recovered: true,
                awaiting_vote: false,
                resolving: false,
                due: None,
                backoff: self.config.resend_after,
            },
        );
        self.send_prepared(&branch, now);
    }

    /// A 2PC message from the coordinator about `branch`.
    pub fn handle_message(&mut self, branch: &BranchId, message: FromCoordinator, now: Instant) {
        let Some(state) = self.state(branch) else {
            let answer = match message {
                FromCoordinator::Prepare | FromCoordinator::Rollback => ToCoordinator::Aborted,
                FromCoordinator::Commit => ToCoordinator::Committed,
            };
            self.send(branch, None, answer);
            return;
        };
        match (message, state) {
            (FromCoordinator::Prepare, State::Active) => {
                self.set_state(branch, State::Preparing);
                self.schedule(branch, None);
                self.commands.push_back(Command::Prepare(branch.clone()));
            }
            (FromCoordinator::Prepare, State::PreparedSuccess) => {
                let to = self.coordinator(branch).cloned();
                self.send(branch, to, ToCoordinator::Prepared);
            }
            (FromCoordinator::Prepare, State::Aborting) => {
                // Aborted goes out once the rollback has finished.
            }
            (FromCoordinator::Prepare, State::Preparing | State::Committing)
            | (FromCoordinator::Commit, State::Committing)
            | (FromCoordinator::Rollback, State::Aborting) => {}

            (FromCoordinator::Commit, State::PreparedSuccess) => {
                self.set_state(branch, State::Committing);
                if let Some(b) = self.branches.get_mut(branch) {
                    b.resolving = true;
                    b.backoff = self.config.resend_after;
                }
                self.schedule(branch, None);
                self.commands.push_back(Command::Commit(branch.clone()));
            }
            (FromCoordinator::Commit, State::Active | State::Preparing) => {
                // A Commit before our Prepared vote: the coordinator is
                // confused. Never commit unprepared work; say so and roll
                // back.
                self.fault(branch);
                self.abort(branch, now);
            }
            (FromCoordinator::Commit, State::Aborting)
            | (FromCoordinator::Rollback, State::Committing) => self.fault(branch),

            (
                FromCoordinator::Rollback,
                State::Active | State::Preparing | State::PreparedSuccess,
            ) => {
                self.abort(branch, now);
            }
        }
    }

    /// The application (or the driver) gives up on an Active branch: it is
    /// rolled back and the coordinator told `Aborted`. Returns whether the
    /// branch was Active.
    pub fn handle_abort(&mut self, branch: &BranchId, now: Instant) -> bool {
        if self.state(branch) != Some(State::Active) {
            return false;
        }
        self.abort(branch, now);
        true
    }

    /// The resource's answer to [`Command::Prepare`]. Ignored unless the
    /// branch is preparing (or was told to roll back while preparing).
    pub fn handle_vote(&mut self, branch: &BranchId, vote: Vote, now: Instant) {
        let resend_after = self.config.resend_after;
        let Some(b) = self.branches.get_mut(branch) else {
            return;
        };
        match (b.state, b.awaiting_vote, vote) {
            (State::Preparing, _, Vote::Prepared) => {
                b.state = State::PreparedSuccess;
                b.backoff = resend_after;
                self.send_prepared(branch, now);
            }
            (State::Preparing, _, Vote::ReadOnly) => {
                self.send_own(branch, ToCoordinator::ReadOnly);
                self.forget(branch);
            }
            (State::Preparing, _, Vote::Aborted)
            | (State::Aborting, true, Vote::ReadOnly | Vote::Aborted) => {
                self.send_own(branch, ToCoordinator::Aborted);
                self.forget(branch);
            }
            (State::Aborting, true, Vote::Prepared) => {
                b.awaiting_vote = false;
                b.resolving = true;
                self.commands.push_back(Command::Rollback(branch.clone()));
            }
            _ => {}
        }
    }

    /// The resource's result for [`Command::Commit`] or
    /// [`Command::Rollback`]: `done` when it committed or rolled back (or
    /// found it already had), false when it failed and must be retried.
    pub fn handle_resolved(&mut self, branch: &BranchId, done: bool, now: Instant) {
        let max = self.config.max_resend_after;
        let Some(b) = self.branches.get_mut(branch) else {
            return;
        };
        if !b.resolving {
            return;
        }
        b.resolving = false;
        if !done {
            let retry_at = now + b.backoff;
            b.backoff = (b.backoff * 2).min(max);
            self.schedule(branch, Some(retry_at));
            return;
        }
        match b.state {
            State::Committing => {
                self.send_own(branch, ToCoordinator::Committed);
                self.forget(branch);
            }
            State::Aborting => {
                self.send_own(branch, ToCoordinator::Aborted);
                self.forget(branch);
            }
            State::Active | State::Preparing | State::PreparedSuccess => {}
        }
    }

    /// A fault from the coordinator about `branch`. `UnknownTransaction`
    /// means the transaction was not committed: a branch that has not been
    /// told to commit rolls back. Other faults change nothing (a prepared
    /// branch keeps asking for the outcome; an operator sees it in doubt).
    pub fn handle_fault(&mut self, branch: &BranchId, fault: CoordinatorFault, now: Instant) {
        if fault != CoordinatorFault::UnknownTransaction {
            return;
        }
        if matches!(
            self.state(branch),
            Some(State::Active | State::Preparing | State::PreparedSuccess)
        ) {
            self.abort(branch, now);
        }
    }

    /// The timer: resend `Prepared` (or `Replay`), retry failed commits and
    /// rollbacks, roll back Active branches past their deadline.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((at, branch)) = self.timers.first().cloned() {
            if at > now {
                break;
            }
            self.timers.remove(&(at, branch.clone()));
            let Some(b) = self.branches.get_mut(&branch) else {
                continue;
            };
            b.due = None;
            match b.state {
                State::Active => self.abort(&branch, now),
                State::PreparedSuccess => self.send_prepared(&branch, now),
                State::Committing if !b.resolving => {
                    b.resolving = true;
                    self.commands.push_back(Command::Commit(branch));
                }
                State::Aborting if !b.resolving && !b.awaiting_vote => {
                    b.resolving = true;
                    self.commands.push_back(Command::Rollback(branch));
                }
                State::Preparing | State::Committing | State::Aborting => {}
            }
        }
    }

    /// Aborting: roll the resource back now, or once its vote arrives if it
    /// is preparing.
    fn abort(&mut self, branch: &BranchId, _now: Instant) {
        let Some(b) = self.branches.get_mut(branch) else {
            return;
        };
        let preparing = b.state == State::Preparing;
        b.state = State::Aborting;
        b.backoff = self.config.resend_after;
        if preparing {
            b.awaiting_vote = true;
        } else {
            b.resolving = true;
            self.commands.push_back(Command::Rollback(branch.clone()));
        }
        self.schedule(branch, None);
    }

    /// Sends `Prepared` (or `Replay`) and schedules the next resend.
    fn send_prepared(&mut self, branch: &BranchId, now: Instant) {
        let max = self.config.max_resend_after;
        let Some(b) = self.branches.get_mut(branch) else {
            return;
        };
        let message = if b.recovered && b.version == WsatVersion::V2004 {
            ToCoordinator::Replay
        } else {
            ToCoordinator::Prepared
        };
        let to = Some(b.coordinator.clone());
        let next = now + b.backoff;
        b.backoff = (b.backoff * 2).min(max);
        self.send(branch, to, message);
        self.schedule(branch, Some(next));
    }

    fn send_own(&mut self, branch: &BranchId, message: ToCoordinator) {
        let to = self.coordinator(branch).cloned();
        self.send(branch, to, message);
    }

    fn send(&mut self, branch: &BranchId, to: Option<EndpointRef>, message: ToCoordinator) {
        self.commands.push_back(Command::Send {
            branch: branch.clone(),
            to,
            message,
        });
    }

    fn fault(&mut self, branch: &BranchId) {
        let to = self.coordinator(branch).cloned();
        self.commands.push_back(Command::Fault {
            branch: branch.clone(),
            to,
            fault: ParticipantFault::InvalidState,
        });
    }

    fn set_state(&mut self, branch: &BranchId, state: State) {
        if let Some(b) = self.branches.get_mut(branch) {
            b.state = state;
        }
    }

    fn forget(&mut self, branch: &BranchId) {
        self.schedule(branch, None);
        self.branches.remove(branch);
        self.commands.push_back(Command::Forget(branch.clone()));
    }

    /// Replaces the branch's timer entry.
    fn schedule(&mut self, branch: &BranchId, due: Option<Instant>) {
        let Some(b) = self.branches.get_mut(branch) else {
            return;
        };
        if let Some(old) = b.due.take() {
            self.timers.remove(&(old, branch.clone()));
        }
        if let Some(at) = due {
            b.due = Some(at);
            self.timers.insert((at, branch.clone()));
        }
    }
}
