//! A fenced coordinator instance: another instance took its transactions
//! over, and it must never leave one of its participants in doubt.
//!
//! Participants registered with instance `X` hold `X`'s endpoint
//! references. After instance `Y` took `X` over (raised `X`'s fence in the
//! shared log, then loaded `X`'s commit decisions), `X` may still be
//! running: a paused or partitioned process that comes back. Its
//! participants keep sending it `Prepared` (or `Replay`), and a branch
//! whose transaction `X` never decided must not stay prepared for good.
//!
//! Once the driver reports the fence ([`Coordinator::handle_fenced`]):
//!
//! - **No decision is ever written again.** The fence refuses `X`'s
//!   writes anyway; the engine no longer asks for one
//!   ([`Command::ForceLog`] is never produced, a failed write is never
//!   retried, activation answers CannotCreateContext).
//! - **Undecided transactions roll back at once** (Rollback to every
//!   participant, Aborted to the initiator, or to the superior). Presumed
//!   abort is safe here for a reason stronger than usual: `X` wrote no
//!   decision for them before the fence rose (none was asked for), and
//!   the fence refuses any write of `X`'s from now on, so the log will
//!   never hold one; `Y`, which reads the same log, answers them by
//!   presumed abort too. Nobody can ever commit them.
//! - **A transaction whose decision write was under way** is decided by
//!   the log, which is final for `X` now: a write refused by the fence did
//!   not land ([`Coordinator::handle_log_refused`]: roll back); a write that
//!   failed otherwise may have landed, so `X` reads the log
//!   ([`Command::ReadDecision`], answered by
//!   [`Coordinator::handle_decision_read`]): a record means the decision is
//!   durable, and `X` commits as after a successful write; no record means
//!   no decision (roll back), except that the initiator is not told Aborted
//!   (see below).
//! - **A durable `Prepared` about a transaction the engine does not hold**
//!   (`X` restarted after the takeover, or forgot it) is answered from the
//!   log too: a commit decision → `Commit`, none → `Rollback`. Answering
//!   `Commit` ourselves, rather than leaving it to `Y` who resends it, is
//!   safe (the decision is durable, and a participant answers a repeated
//!   Commit with Committed) and resolves the branch even when `Y` cannot
//!   reach the participant but `X` can. Messages other than a durable
//!   `Prepared` keep their usual answers.
//!
//! Why "no record" is enough to roll back: `Y` deletes `X`'s decision only
//! after every participant acknowledged Commit, so a missing record means
//! either no decision, or every participant already committed and forgot
//! the transaction (a participant answers a Rollback it does not know with
//! Aborted, harmlessly). Only the initiator could be misled in the second
//! case, which is why a transaction whose write may have landed is rolled
//! back without telling its initiator anything (Completion does not
//! promise the initiator an outcome).
//!
//! Log reads are bounded: at most [`MAX_PENDING_READS`] transactions the
//! engine does not hold wait for one at a time (past that, a `Prepared`
//! is dropped and its sender retries). A failed read answers nobody: the
//! read of a transaction the engine holds is retried on its timer, and the
//! senders of the others resend `Prepared` and ask again.

use std::time::Instant;

use super::{Command, Coordinator, Outbound, Phase};
use crate::record::{EndpointRef, ParticipantId, TxId};

/// The most transactions the engine does not hold whose log read may be
/// pending at once (each answers at most 16 senders).
pub const MAX_PENDING_READS: usize = 1024;

/// The most senders one pending read answers.
const MAX_ASKERS: usize = 16;

/// A participant waiting for a fenced instance's answer about a
/// transaction the engine does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Asker {
    from: ParticipantId,
    endpoint: EndpointRef,
}

impl Coordinator {
    /// Whether this instance has been fenced off by a takeover.
    pub fn is_fenced(&self) -> bool {
        self.fenced
    }

    /// The driver learned that another instance took this instance's
    /// transactions over (a write or claim refused by the fence, or the
    /// fence read from the log): from now on no decision is written, and
    /// every transaction not yet decided is rolled back or, when its
    /// decision write may have landed, settled by reading the log (see the
    /// [module docs](self)). Idempotent.
    pub fn handle_fenced(&mut self, now: Instant) {
        if self.fenced {
            return;
        }
        self.fenced = true;
        let mut ids: Vec<TxId> = self.txs.keys().cloned().collect();
        ids.sort();
        for tx in ids {
            let Some(t) = self.txs.get_mut(&tx) else {
                continue;
            };
            if t.phase.undecided() {
                // Never logged, and never will be: presumed abort.
                self.abort(&tx, now);
            } else if t.phase == Phase::Logging && t.relog {
                // A failed write that may have landed: no retry, read.
                t.resend_at = None;
                self.read_decision(&tx);
            }
            // A write in flight is reported by the driver (durable, or
            // refused by the fence); decided transactions stay as they are.
            self.reschedule(&tx);
        }
        self.update_timer();
    }

    /// The driver's report on a [`Command::ForceLog`] that the log's fence
    /// refused: the record did **not** land (the check and the write are
    /// one database transaction), and this instance is fenced (see
    /// [`Self::handle_fenced`]). The transaction rolls back, unless an
    /// earlier attempt of the same write failed in a way that may have
    /// landed: then the log is read.
    pub fn handle_log_refused(&mut self, tx: &TxId, now: Instant) {
        self.handle_fenced(now);
        let Some(t) = self.txs.get_mut(tx) else {
            return;
        };
        if t.phase == Phase::Aborted && t.superior.is_some() {
            // The superior rolled back meanwhile; nothing landed to drop.
            t.drop_at.get_or_insert(now + self.config.linger);
        } else if t.phase == Phase::Logging {
            if t.maybe_logged {
                t.relog = true;
                t.resend_at = None;
                self.read_decision(tx);
            } else {
                t.relog = true;
                self.roll_back(tx, now, true);
            }
        }
        self.reschedule(tx);
        self.update_timer();
    }

    /// The driver's answer to [`Command::ReadDecision`]: `Some(true)` when
    /// the log holds a record of `tx`, `Some(false)` when it holds none,
    /// `None` when the read failed (nobody is answered; the participants
    /// resend Prepared and ask again).
    pub fn handle_decision_read(&mut self, tx: &TxId, record: Option<bool>, now: Instant) {
        let askers = self.pending_reads.remove(tx).unwrap_or_default();
        if let Some(t) = self.txs.get_mut(tx) {
            t.reading = false;
            if t.phase == Phase::Logging {
                match record {
                    // The record is durable: on as after a successful
                    // write (a subordinate tells its superior Prepared;
                    // the taker, which loaded the record, does too).
                    Some(true) => self.handle_log_written(tx, true, now),
                    Some(false) => self.roll_back_telling(tx, now, true, false),
                    // Read again on the timer.
                    None => t.resend_at = Some(now + self.config.resend_after),
                }
            }
            self.reschedule(tx);
        }
        if let Some(committed) = record {
            let message = if committed {
                Outbound::Commit
            } else {
                Outbound::Rollback
            };
            for asker in askers {
                self.commands.push_back(Command::Send {
                    tx: tx.clone(),
                    to: asker.from,
                    endpoint: asker.endpoint,
                    message,
                });
            }
        }
        self.update_timer();
    }

    /// Asks the log about `tx` once (further asks wait for that read).
    pub(super) fn read_decision(&mut self, tx: &TxId) {
        let pending = self.pending_reads.contains_key(tx);
        if let Some(t) = self.txs.get_mut(tx) {
            if t.reading || pending {
                return;
            }
            t.reading = true;
        } else if pending {
            return;
        }
        self.commands.push_back(Command::ReadDecision(tx.clone()));
    }

    /// A durable `Prepared` about a transaction the engine does not hold,
    /// received while fenced: answered once the log is read.
    pub(super) fn ask_log(&mut self, tx: &TxId, from: ParticipantId, endpoint: EndpointRef) {
        let asker = Asker { from, endpoint };
        match self.pending_reads.get_mut(tx) {
            Some(askers) => {
                if askers.len() < MAX_ASKERS && !askers.contains(&asker) {
                    askers.push(asker);
                }
            }
            None => {
                if self.pending_reads.len() >= MAX_PENDING_READS {
                    // Too many reads under way: the sender retries.
                    return;
                }
                self.pending_reads.insert(tx.clone(), vec![asker]);
                self.commands.push_back(Command::ReadDecision(tx.clone()));
            }
        }
    }
}
