//! Subordinate transactions (interposition, WS-Coordination 1.2 §3.1 with
//! a `CurrentContext`): a transaction of this coordinator that is itself a
//! Durable2PC participant of a superior coordinator's transaction.
//!
//! Its participants register here as usual (no Completion registration:
//! the outcome is the superior's). The superior's messages arrive through
//! [`Coordinator::handle_superior_message`]:
//!
//! - **Prepare**: the subordinate prepares its own participants, volatile
//!   first, then durable. When every vote is in:
//!   - some participant voted Prepared: its prepared record (the prepared
//!     durable participants and the superior's endpoint under
//!     [`ParticipantId::SUPERIOR`]) is forced with [`Command::ForceLog`],
//!     and only once [`Coordinator::handle_log_written`] says it is
//!     durable is the superior told Prepared. This holds when only
//!     volatile participants prepared too: the subordinate is a Durable2PC
//!     participant of its superior, and a Prepared it forgot in a crash
//!     would turn into an Aborted the superior cannot accept;
//!   - every participant voted ReadOnly (or there is none): ReadOnly, and
//!     the subordinate leaves the protocol;
//!   - a participant aborted (or the subordinate expired first): every
//!     participant is rolled back and the superior told Aborted.
//! - **Commit** (after Prepared): Commit to every prepared participant;
//!   Committed goes back once each of them acknowledged, and the record
//!   is forgotten. A participant that answers with a heuristic outcome
//!   (Aborted after Commit, InconsistentInternalState) is kept in the
//!   subordinate's log for its operator, and the superior gets the
//!   `wsat:InconsistentInternalState` fault instead of Committed, so the
//!   superior's log keeps it too.
//! - **Rollback**: Rollback to every participant and Aborted back at once
//!   (presumed abort: a participant that missed it is answered Rollback
//!   when it resends Prepared), the record forgotten.
//!
//! A prepared subordinate never decides alone: no expiry, Prepared resent
//! on the resend timer until the superior answers. After a restart the
//! record is loaded by [`Coordinator::handle_log_loaded`] as a prepared
//! subordinate, which resends Prepared ([`ToSuperior::Replay`]: WS-AT
//! 1.0's Replay to a 2004/10 superior) and obeys the answer (the
//! superior's presumed abort answers Rollback if it never decided).
//!
//! Registration with the superior is Durable2PC only: the subordinate's
//! volatile participants are prepared during the superior's durable phase,
//! before the subordinate's own durable participants.

use std::time::Instant;

use super::{Command, Coordinator, Fault, Phase, Protocol, Transaction, TwoPcState};
use crate::record::{DecidedParticipant, DecisionRecord, EndpointRef, ParticipantId, TxId};

/// A message from the superior coordinator to a subordinate transaction
/// (the Durable2PC participant's view).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FromSuperior {
    /// Prepare the subordinate's participants and vote.
    Prepare,
    /// The superior decided to commit.
    Commit,
    /// The superior rolled back.
    Rollback,
}

/// A subordinate transaction's message to its superior.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ToSuperior {
    /// Every participant voted and the prepared state is durable.
    Prepared,
    /// Prepared again by a subordinate recovered from its log after a
    /// restart: WS-AT 1.0's `Replay` to a 2004/10 superior, `Prepared` to
    /// a 1.2 one (1.2 has no Replay).
    Replay,
    /// Nothing to commit: the subordinate leaves the protocol.
    ReadOnly,
    /// Every prepared participant committed.
    Committed,
    /// The subordinate rolled back.
    Aborted,
    /// The superior decided commit, but a participant of the subordinate
    /// reported a heuristic outcome (it aborted, or sent
    /// InconsistentInternalState): the `wsat:InconsistentInternalState`
    /// fault goes to the superior instead of Committed, so the
    /// superior's operator learns of it too (the subordinate keeps its own
    /// heuristic record).
    InconsistentInternalState,
}

/// What a subordinate transaction knows of its superior.
#[derive(Debug, Clone, Default)]
pub(super) struct SuperiorLink {
    /// The superior's coordinator protocol endpoint (`None` until the
    /// registration there has been answered).
    pub(super) endpoint: Option<EndpointRef>,
    /// The last vote or outcome told to the superior (Prepared for a
    /// Replay).
    pub(super) told: Option<ToSuperior>,
    /// Loaded from the log after a restart: Prepared goes out as Replay.
    pub(super) recovered: bool,
    /// A participant reported a heuristic outcome while committing: the
    /// superior hears InconsistentInternalState instead of Committed.
    pub(super) heuristic: bool,
}

impl Coordinator {
    /// Activation with a `CurrentContext`: a new subordinate transaction,
    /// rolled back if it is still active at `expires`. Its superior's
    /// endpoint follows with [`Self::handle_superior_registered`].
    pub fn handle_create_subordinate(
        &mut self,
        tx: TxId,
        expires: Option<Instant>,
        now: Instant,
    ) -> Result<(), Fault> {
        self.handle_create(tx.clone(), expires, now)?;
        if let Some(t) = self.txs.get_mut(&tx) {
            t.superior = Some(SuperiorLink::default());
        }
        Ok(())
    }

    /// The superior answered the subordinate's registration: its
    /// coordinator protocol endpoint. False if `tx` is not a subordinate
    /// transaction still active.
    pub fn handle_superior_registered(&mut self, tx: &TxId, endpoint: EndpointRef) -> bool {
        match self.txs.get_mut(tx) {
            Some(Transaction {
                phase: Phase::Active,
                superior: Some(link),
                ..
            }) if link.endpoint.is_none() => {
                link.endpoint = Some(endpoint);
                true
            }
            _ => false,
        }
    }

    /// The subordinate `tx`'s registration with its superior failed (or
    /// was refused): it is rolled back, and its superior, which never
    /// knew it, is not told. False if `tx` is not a subordinate
    /// transaction still active.
    pub fn handle_subordinate_abandoned(&mut self, tx: &TxId, now: Instant) -> bool {
        let abandoned = matches!(
            self.txs.get(tx),
            Some(Transaction {
                phase: Phase::Active,
                superior: Some(_),
                ..
            })
        );
        if abandoned {
            if let Some(link) = self.txs.get_mut(tx).and_then(|t| t.superior.as_mut()) {
                // Whatever the superior said, nothing goes to it.
                link.endpoint = None;
            }
            self.abort(tx, now);
            self.reschedule(tx);
            self.update_timer();
        }
        abandoned
    }

    /// Whether `tx` is a subordinate transaction.
    pub fn is_subordinate(&self, tx: &TxId) -> bool {
        self.txs.get(tx).is_some_and(|t| t.superior.is_some())
    }

    /// A message from the superior to the subordinate transaction `tx`.
    /// `reply_to` is where to answer when the transaction is unknown (the
    /// superior's `wsa:ReplyTo`): after the log is loaded, Prepare and
    /// Rollback get Aborted and Commit gets Committed (the participant
    /// view's answers from its None state); before, nothing is answered.
    pub fn handle_superior_message(
        &mut self,
        tx: &TxId,
        message: FromSuperior,
        reply_to: Option<EndpointRef>,
        now: Instant,
    ) {
        let Some(t) = self.txs.get_mut(tx) else {
            if !self.loaded {
                return;
            }
            if let Some(endpoint) = reply_to {
                let answer = match message {
                    FromSuperior::Commit => ToSuperior::Committed,
                    FromSuperior::Prepare | FromSuperior::Rollback => ToSuperior::Aborted,
                };
                self.commands.push_back(Command::NotifySuperior {
                    tx: tx.clone(),
                    endpoint,
                    message: answer,
                });
            }
            return;
        };
        let Some(link) = &t.superior else {
            // Not a subordinate: no superior may speak for it.
            if let Some(endpoint) = reply_to {
                self.commands.push_back(Command::Fault {
                    tx: tx.clone(),
                    to: None,
                    endpoint,
                    fault: Fault::InvalidState,
                });
            }
            return;
        };
        let Some(superior) = link.endpoint.clone() else {
            // The registration answer is not processed yet: the superior
            // resends.
            return;
        };
        let told = link.told;
        let phase = t.phase;
        match (message, phase) {
            (FromSuperior::Prepare, Phase::Active) => {
                t.phase = Phase::PreparingVolatile;
                self.send_prepare(tx, Protocol::Volatile2Pc, now);
            }
            (
                FromSuperior::Prepare,
                Phase::PreparingVolatile | Phase::PreparingDurable | Phase::Logging,
            ) => {}
            (FromSuperior::Prepare, Phase::Prepared) => self.resend_to_superior(tx),
            (FromSuperior::Prepare, Phase::Aborted) => {
                self.notify(tx, superior, ToSuperior::Aborted);
            }
            (FromSuperior::Prepare, Phase::Committing | Phase::Committed) => {
                if told == Some(ToSuperior::ReadOnly) {
                    self.notify(tx, superior, ToSuperior::ReadOnly);
                }
            }
            (FromSuperior::Commit, Phase::Prepared) => self.commit(tx, now),
            (FromSuperior::Commit, Phase::Committing) => {}
            (FromSuperior::Commit, Phase::Committed) => {
                if let Some(
                    outcome @ (ToSuperior::Committed | ToSuperior::InconsistentInternalState),
                ) = told
                {
                    self.notify(tx, superior, outcome);
                }
            }
            (FromSuperior::Rollback, Phase::Aborted) => {
                self.notify(tx, superior, ToSuperior::Aborted);
            }
            // A read-only subordinate whose ReadOnly was lost: it did
            // nothing, so Aborted is as true as the participant view's
            // answer from its None state.
            (FromSuperior::Rollback, Phase::Committing | Phase::Committed)
                if told == Some(ToSuperior::ReadOnly) =>
            {
                self.notify(tx, superior, ToSuperior::Aborted);
            }
            (
                FromSuperior::Rollback,
                Phase::Active
                | Phase::PreparingVolatile
                | Phase::PreparingDurable
                | Phase::Logging
                | Phase::Prepared,
            ) => self.roll_back(tx, now, true),
            (FromSuperior::Commit, _) | (FromSuperior::Rollback, _) => {
                self.commands.push_back(Command::Fault {
                    tx: tx.clone(),
                    to: None,
                    endpoint: superior,
                    fault: Fault::InvalidState,
                });
            }
        }
        self.progress(tx, now);
        self.reschedule(tx);
        self.update_timer();
    }

    /// Every vote of a subordinate is in (called by `progress` from
    /// PreparingDurable): force the prepared record, or answer ReadOnly at
    /// once when nothing prepared.
    pub(super) fn subordinate_voted(
        &mut self,
        tx: &TxId,
        prepared: Vec<DecidedParticipant>,
        superior: Option<EndpointRef>,
        now: Instant,
    ) {
        let Some(t) = self.txs.get_mut(tx) else {
            return;
        };
        let Some(superior) = superior else {
            return;
        };
        let any_prepared = !prepared.is_empty()
            || t.any_two_pc(Protocol::Volatile2Pc, TwoPcState::PreparedSuccess);
        if any_prepared {
            t.phase = Phase::Logging;
            t.resend_at = None;
            let mut participants = prepared;
            participants.push(DecidedParticipant {
                id: ParticipantId::SUPERIOR,
                endpoint: superior,
            });
            self.commands.push_back(Command::ForceLog(DecisionRecord {
                tx: tx.clone(),
                participants,
            }));
        } else {
            // Everyone read-only: leave the protocol (and say ReadOnly
            // again to a resent Prepare).
            self.tell_superior(tx, ToSuperior::ReadOnly);
            self.commit(tx, now);
        }
    }

    /// The subordinate is prepared (its record durable): tell the superior,
    /// and keep telling it until it answers.
    pub(super) fn tell_superior_prepared(&mut self, tx: &TxId, now: Instant) {
        let resend_after = self.config.resend_after;
        let Some(t) = self.txs.get_mut(tx) else {
            return;
        };
        t.phase = Phase::Prepared;
        t.resend_at = Some(now + resend_after);
        self.tell_superior(tx, ToSuperior::Prepared);
    }

    /// Sends `message` to the superior of `tx`, if it is a subordinate
    /// whose superior is known. Committed goes only to a superior that was
    /// told Prepared (a read-only subordinate has left the protocol).
    pub(super) fn tell_superior(&mut self, tx: &TxId, message: ToSuperior) {
        let Some(link) = self.txs.get_mut(tx).and_then(|t| t.superior.as_mut()) else {
            return;
        };
        if message == ToSuperior::Committed && link.told != Some(ToSuperior::Prepared) {
            return;
        }
        let message = if message == ToSuperior::Committed && link.heuristic {
            ToSuperior::InconsistentInternalState
        } else {
            message
        };
        let Some(endpoint) = link.endpoint.clone() else {
            return;
        };
        link.told = Some(message);
        let message = if message == ToSuperior::Prepared && link.recovered {
            ToSuperior::Replay
        } else {
            message
        };
        self.notify(tx, endpoint, message);
    }

    /// Resends Prepared (Replay once recovered) to the superior of a
    /// prepared subordinate.
    pub(super) fn resend_to_superior(&mut self, tx: &TxId) {
        let link = self
            .txs
            .get(tx)
            .filter(|t| t.phase == Phase::Prepared)
            .and_then(|t| t.superior.as_ref());
        let Some((Some(endpoint), recovered)) = link.map(|l| (l.endpoint.clone(), l.recovered))
        else {
            return;
        };
        let message = if recovered {
            ToSuperior::Replay
        } else {
            ToSuperior::Prepared
        };
        self.notify(tx, endpoint, message);
    }

    fn notify(&mut self, tx: &TxId, endpoint: EndpointRef, message: ToSuperior) {
        self.commands.push_back(Command::NotifySuperior {
            tx: tx.clone(),
            endpoint,
            message,
        });
    }

    /// Recovery of a subordinate's prepared record: the transaction is
    /// prepared again (its logged participants PreparedSuccess) and
    /// Prepared is resent to the superior at once.
    pub(super) fn load_subordinate(&mut self, record: DecisionRecord, now: Instant) {
        let mut t = Transaction::new(None);
        t.logged = true;
        let mut superior = None;
        for decided in record.participants {
            if decided.id == ParticipantId::SUPERIOR {
                superior = Some(decided.endpoint);
                continue;
            }
            t.next_id = t.next_id.max(decided.id.0.saturating_add(1));
            t.participants.push(super::Participant {
                id: decided.id,
                protocol: Protocol::Durable2Pc,
                endpoint: decided.endpoint,
                two_pc: TwoPcState::PreparedSuccess,
                completion: super::CompletionState::Committed,
            });
        }
        t.superior = Some(SuperiorLink {
            endpoint: superior,
            told: None,
            recovered: true,
            heuristic: false,
        });
        let tx = record.tx;
        self.txs.insert(tx.clone(), t);
        self.tell_superior_prepared(&tx, now);
        self.reschedule(&tx);
    }
}
