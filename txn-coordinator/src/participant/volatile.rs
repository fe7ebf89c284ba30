//! Volatile2PC hooks: callbacks for caches and other in-memory resources
//! that want to act before the transaction's durable participants prepare
//! and to hear its outcome, without any durability or recovery duty.
//!
//! A service registers a [`Synchronization`] as a Volatile2PC participant;
//! the coordinator prepares every volatile participant before any durable
//! one, so [`Synchronization::before_prepare`] runs while the durable
//! branches can still take writes (flush a write-behind cache into the
//! branch, say) and can veto the transaction.
//! [`Synchronization::after_outcome`] runs once the outcome is known
//! (invalidate or publish cached entries). Volatile branches use the same
//! [`Participant`] state machine as durable ones; [`apply`] carries out its
//! resource commands by calling the hooks.

use std::time::Instant;

use super::state::{BranchId, Command, Participant, Vote};
use crate::record::TxId;

/// What a volatile participant says before the durable ones prepare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BeforePrepare {
    /// Go ahead, and tell me the outcome (vote Prepared).
    Continue,
    /// Go ahead; I do not need the outcome (vote ReadOnly).
    NoOutcomeNeeded,
    /// Roll the transaction back (vote Aborted), for this reason.
    Veto(String),
}

/// A transaction's outcome as a volatile participant hears it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxOutcome {
    /// Committed.
    Committed,
    /// Rolled back (asked to, or timed out before Prepare).
    RolledBack,
}

/// Before-prepare and after-outcome callbacks for a volatile resource.
/// They run on the participant's driver and must not block for long.
pub trait Synchronization: Send + Sync {
    /// The transaction is about to prepare its durable participants.
    fn before_prepare(&self, tx: &TxId) -> BeforePrepare;

    /// The transaction ended with `outcome`. Called at most once per
    /// branch, and not at all after [`BeforePrepare::NoOutcomeNeeded`] or a
    /// veto.
    fn after_outcome(&self, tx: &TxId, outcome: TxOutcome);
}

/// Carries out a resource command of a volatile branch by calling `hooks`
/// and feeding the result back to `machine`. Returns false (and does
/// nothing) for commands that are not resource commands.
pub fn apply(
    machine: &mut Participant,
    hooks: &dyn Synchronization,
    command: &Command,
    now: Instant,
) -> bool {
    match command {
        Command::Prepare(branch) => {
            let vote = match hooks.before_prepare(&branch.tx) {
                BeforePrepare::Continue => Vote::Prepared,
                BeforePrepare::NoOutcomeNeeded => Vote::ReadOnly,
                BeforePrepare::Veto(_) => Vote::Aborted,
            };
            machine.handle_vote(branch, vote, now);
            true
        }
        Command::Commit(branch) => {
            resolve(machine, hooks, branch, TxOutcome::Committed, now);
            true
        }
        Command::Rollback(branch) => {
            resolve(machine, hooks, branch, TxOutcome::RolledBack, now);
            true
        }
        Command::Send { .. } | Command::Fault { .. } | Command::Forget(_) => false,
    }
}

fn resolve(
    machine: &mut Participant,
    hooks: &dyn Synchronization,
    branch: &BranchId,
    outcome: TxOutcome,
    now: Instant,
) {
    hooks.after_outcome(&branch.tx, outcome);
    machine.handle_resolved(branch, true, now);
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::participant::state::{Config, FromCoordinator, ToCoordinator, WsatVersion};
    use crate::record::EndpointRef;

    /// A cache that records what it was told.
    struct Cache {
        answer: BeforePrepare,
        heard: Mutex<Vec<String>>,
    }

    impl Synchronization for Cache {
        fn before_prepare(&self, tx: &TxId) -> BeforePrepare {
            self.heard.lock().unwrap().push(format!("before {tx}"));
            self.answer.clone()
        }

        fn after_outcome(&self, tx: &TxId, outcome: TxOutcome) {
            self.heard
                .lock()
                .unwrap()
                .push(format!("after {tx} {outcome:?}"));
        }
    }

    /// Runs the machine until it is quiet, applying resource commands and
    /// returning the messages it sends.
    fn run(machine: &mut Participant, cache: &Cache, now: Instant) -> Vec<ToCoordinator> {
        let mut sent = Vec::new();
        while let Some(command) = machine.poll_command() {
            if !apply(machine, cache, &command, now)
                && let Command::Send { message, .. } = command
            {
                sent.push(message);
            }
        }
        sent
    }

    fn branch() -> BranchId {
        BranchId::new(TxId("urn:uuid:v".into()), 0)
    }

    fn enlisted(answer: BeforePrepare, now: Instant) -> (Participant, Cache) {
        let mut machine = Participant::new(Config::default());
        machine
            .handle_enlist(
                branch(),
                EndpointRef::new("http://coordinator/volatile"),
                WsatVersion::V2006,
                None,
                now,
            )
            .unwrap();
        let cache = Cache {
            answer,
            heard: Mutex::new(Vec::new()),
        };
        (machine, cache)
    }

    #[test]
    fn hooks_run_before_prepare_and_after_commit() {
        let now = Instant::now();
        let (mut machine, cache) = enlisted(BeforePrepare::Continue, now);
        machine.handle_message(&branch(), FromCoordinator::Prepare, now);
        assert_eq!(
            run(&mut machine, &cache, now),
            vec![ToCoordinator::Prepared]
        );
        machine.handle_message(&branch(), FromCoordinator::Commit, now);
        assert_eq!(
            run(&mut machine, &cache, now),
            vec![ToCoordinator::Committed]
        );
        assert_eq!(
            *cache.heard.lock().unwrap(),
            vec!["before urn:uuid:v", "after urn:uuid:v Committed"]
        );
        assert!(machine.is_empty());
    }

    #[test]
    fn a_veto_aborts_and_no_outcome_follows() {
        let now = Instant::now();
        let (mut machine, cache) = enlisted(BeforePrepare::Veto("stale".into()), now);
        machine.handle_message(&branch(), FromCoordinator::Prepare, now);
        assert_eq!(run(&mut machine, &cache, now), vec![ToCoordinator::Aborted]);
        assert_eq!(*cache.heard.lock().unwrap(), vec!["before urn:uuid:v"]);
    }

    #[test]
    fn no_outcome_needed_votes_read_only() {
        let now = Instant::now();
        let (mut machine, cache) = enlisted(BeforePrepare::NoOutcomeNeeded, now);
        machine.handle_message(&branch(), FromCoordinator::Prepare, now);
        assert_eq!(
            run(&mut machine, &cache, now),
            vec![ToCoordinator::ReadOnly]
        );
        assert!(machine.is_empty());
    }

    #[test]
    fn a_rollback_is_heard_as_rolled_back() {
        let now = Instant::now();
        let (mut machine, cache) = enlisted(BeforePrepare::Continue, now);
        machine.handle_message(&branch(), FromCoordinator::Rollback, now);
        assert_eq!(run(&mut machine, &cache, now), vec![ToCoordinator::Aborted]);
        assert_eq!(
            *cache.heard.lock().unwrap(),
            vec!["after urn:uuid:v RolledBack"]
        );
    }
}
