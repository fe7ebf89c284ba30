//! The engine's tests: every cell of both state tables, the WS-TX 1.1
//! interop scenarios on the engine alone, and random interleavings of votes,
//! duplicates, losses, timeouts, log results and crashes.

use std::time::{Duration, Instant};

use super::*;
use crate::record::HeuristicKind as H;

mod tables {
    use super::*;
    use Fault::InvalidState as IS;
    use Inbound as M;
    use Outbound as O;
    use TwoPcState as S;
    use TxEffect as E;

    /// One cell: state, message, next state, message sent, fault sent,
    /// effect on the transaction.
    type Cell = (S, M, S, Option<O>, Option<Fault>, E);

    /// Every (state, message) cell of the 2PC coordinator table, for a
    /// transaction not yet decided (Ended + Prepared is checked apart).
    #[rustfmt::skip]
    const TWO_PC: &[Cell] = &[
        (S::Active, M::Prepared, S::Aborting, Some(O::Rollback), Some(IS), E::Abort),
        (S::Active, M::ReadOnly, S::Ended, None, None, E::None),
        (S::Active, M::Aborted, S::Ended, None, None, E::Abort),
        (S::Active, M::Committed, S::Active, None, Some(IS), E::None),
        (S::Active, M::InconsistentInternalState, S::Ended, None, None, E::Abort),
        (S::Active, M::Commit, S::Active, None, Some(IS), E::None),
        (S::Active, M::Rollback, S::Active, None, Some(IS), E::None),

        (S::Preparing, M::Prepared, S::PreparedSuccess, None, None, E::VotedPrepared),
        (S::Preparing, M::ReadOnly, S::Ended, None, None, E::VotedReadOnly),
        (S::Preparing, M::Aborted, S::Ended, None, None, E::Abort),
        (S::Preparing, M::Committed, S::Preparing, None, Some(IS), E::None),
        (S::Preparing, M::InconsistentInternalState, S::Ended, None, None, E::Abort),
        (S::Preparing, M::Commit, S::Preparing, None, Some(IS), E::None),
        (S::Preparing, M::Rollback, S::Preparing, None, Some(IS), E::None),

        (S::PreparedSuccess, M::Prepared, S::PreparedSuccess, None, None, E::None),
        (S::PreparedSuccess, M::ReadOnly, S::PreparedSuccess, None, Some(IS), E::None),
        (S::PreparedSuccess, M::Aborted, S::PreparedSuccess, None, Some(IS), E::None),
        (S::PreparedSuccess, M::Committed, S::PreparedSuccess, None, Some(IS), E::None),
        (S::PreparedSuccess, M::InconsistentInternalState, S::Ended, None, None, E::Abort),
        (S::PreparedSuccess, M::Commit, S::PreparedSuccess, None, Some(IS), E::None),
        (S::PreparedSuccess, M::Rollback, S::PreparedSuccess, None, Some(IS), E::None),

        (S::Committing, M::Prepared, S::Committing, Some(O::Commit), None, E::None),
        (S::Committing, M::ReadOnly, S::Committing, None, Some(IS), E::None),
        (S::Committing, M::Aborted, S::Ended, None, Some(IS), E::Heuristic(H::AbortedAfterCommit)),
        (S::Committing, M::Committed, S::Ended, None, None, E::CommitAcknowledged),
        (S::Committing, M::InconsistentInternalState, S::Ended, None, None, E::Heuristic(H::InconsistentInternalState)),
        (S::Committing, M::Commit, S::Committing, None, Some(IS), E::None),
        (S::Committing, M::Rollback, S::Committing, None, Some(IS), E::None),

        (S::Aborting, M::Prepared, S::Ended, Some(O::Rollback), None, E::None),
        (S::Aborting, M::ReadOnly, S::Ended, None, None, E::None),
        (S::Aborting, M::Aborted, S::Ended, None, None, E::None),
        (S::Aborting, M::Committed, S::Ended, None, Some(IS), E::Heuristic(H::CommittedAfterRollback)),
        (S::Aborting, M::InconsistentInternalState, S::Ended, None, None, E::Heuristic(H::InconsistentInternalState)),
        (S::Aborting, M::Commit, S::Aborting, None, Some(IS), E::None),
        (S::Aborting, M::Rollback, S::Aborting, None, Some(IS), E::None),

        (S::Ended, M::Prepared, S::Ended, Some(O::Rollback), None, E::None),
        (S::Ended, M::ReadOnly, S::Ended, None, None, E::None),
        (S::Ended, M::Aborted, S::Ended, None, None, E::None),
        (S::Ended, M::Committed, S::Ended, None, None, E::None),
        (S::Ended, M::InconsistentInternalState, S::Ended, None, None, E::None),
        (S::Ended, M::Commit, S::Ended, None, Some(IS), E::None),
        (S::Ended, M::Rollback, S::Ended, None, Some(IS), E::None),
    ];

    const STATES: [S; 6] = [
        S::Active,
        S::Preparing,
        S::PreparedSuccess,
        S::Committing,
        S::Aborting,
        S::Ended,
    ];
    const MESSAGES: [M; 7] = [
        M::Commit,
        M::Rollback,
        M::Prepared,
        M::ReadOnly,
        M::Aborted,
        M::Committed,
        M::InconsistentInternalState,
    ];

    #[test]
    fn two_pc_table_has_every_cell_once() {
        for state in STATES {
            for message in MESSAGES {
                let n = TWO_PC
                    .iter()
                    .filter(|row| row.0 == state && row.1 == message)
                    .count();
                assert_eq!(n, 1, "{state:?} × {message:?}");
            }
        }
    }

    #[test]
    fn two_pc_table_cells() {
        for &(state, message, next, send, fault, effect) in TWO_PC {
            let got = two_pc(state, message, false);
            assert_eq!(
                got,
                Transition {
                    next,
                    send,
                    fault,
                    effect
                },
                "{state:?} × {message:?}"
            );
        }
    }

    #[test]
    fn ended_participant_resending_prepared_gets_the_decision() {
        assert_eq!(two_pc(S::Ended, M::Prepared, true).send, Some(O::Commit));
        assert_eq!(two_pc(S::Ended, M::Prepared, false).send, Some(O::Rollback));
    }

    #[test]
    fn completion_table_cells() {
        use CompletionEffect as CE;
        use CompletionState as C;
        #[rustfmt::skip]
        type CompletionCell = (C, M, C, Option<O>, Option<Fault>, CE);
        let table: &[CompletionCell] = &[
            (
                C::Active,
                M::Commit,
                C::Completing,
                None,
                None,
                CE::StartCommit,
            ),
            (
                C::Active,
                M::Rollback,
                C::Aborted,
                Some(O::Aborted),
                None,
                CE::Rollback,
            ),
            (
                C::Completing,
                M::Commit,
                C::Completing,
                None,
                None,
                CE::None,
            ),
            (
                C::Completing,
                M::Rollback,
                C::Completing,
                None,
                Some(IS),
                CE::None,
            ),
            (
                C::Committed,
                M::Commit,
                C::Committed,
                Some(O::Committed),
                None,
                CE::None,
            ),
            (
                C::Committed,
                M::Rollback,
                C::Committed,
                None,
                Some(IS),
                CE::None,
            ),
            (
                C::Aborted,
                M::Commit,
                C::Aborted,
                Some(O::Aborted),
                None,
                CE::None,
            ),
            (
                C::Aborted,
                M::Rollback,
                C::Aborted,
                Some(O::Aborted),
                None,
                CE::None,
            ),
        ];
        for &(state, message, next, send, fault, effect) in table {
            assert_eq!(
                completion(state, message),
                (next, send, fault, effect),
                "{state:?} × {message:?}"
            );
        }
        // 2PC messages on the Completion registration are InvalidState.
        for state in [C::Active, C::Completing, C::Committed, C::Aborted] {
            for message in [
                M::Prepared,
                M::ReadOnly,
                M::Aborted,
                M::Committed,
                M::InconsistentInternalState,
            ] {
                assert_eq!(
                    completion(state, message),
                    (state, None, Some(IS), CE::None),
                    "{state:?} × {message:?}"
                );
            }
        }
    }

    #[test]
    fn protocol_uris_round_trip_in_both_namespaces() {
        for p in [
            Protocol::Completion,
            Protocol::Volatile2Pc,
            Protocol::Durable2Pc,
        ] {
            assert_eq!(Protocol::from_uri(p.uri()), Some(p));
            let old = p.uri().replace(
                "http://docs.oasis-open.org/ws-tx/wsat/2006/06/",
                "http://schemas.xmlsoap.org/ws/2004/10/wsat/",
            );
            assert_eq!(Protocol::from_uri(&old), Some(p));
        }
        assert_eq!(
            Protocol::from_uri("http://docs.oasis-open.org/ws-tx/wsat/2006/06/Other"),
            None
        );
    }
}

mod fenced;
mod interleavings;
mod scenarios;
mod subordinate;
mod subordinate_interleavings;

/// A small harness around one engine: the current time and every command.
pub(super) struct Harness {
    pub(super) engine: Coordinator,
    pub(super) now: Instant,
    pub(super) tx: TxId,
}

impl Harness {
    pub(super) fn new() -> Self {
        let now = Instant::now();
        let mut engine = Coordinator::new(Config {
            resend_after: Duration::from_secs(1),
            linger: Duration::from_secs(10),
            ..Config::default()
        });
        let tx = TxId("urn:uuid:tx-1".to_owned());
        engine
            .handle_create(tx.clone(), Some(now + Duration::from_secs(60)), now)
            .unwrap();
        Self { engine, now, tx }
    }

    pub(super) fn register(&mut self, protocol: Protocol, name: &str) -> ParticipantId {
        self.engine
            .handle_register(&self.tx, protocol, EndpointRef::new(name), self.now)
            .unwrap()
    }

    pub(super) fn send(&mut self, from: ParticipantId, protocol: Protocol, message: Inbound) {
        let tx = self.tx.clone();
        self.engine
            .handle_message(&tx, from, protocol, None, message, self.now);
    }

    /// The commands since the last call, timers left out.
    pub(super) fn drain(&mut self) -> Vec<Command> {
        std::iter::from_fn(|| self.engine.poll_command())
            .filter(|c| !matches!(c, Command::SetTimer(_)))
            .collect()
    }

    pub(super) fn advance(&mut self, by: Duration) {
        self.now += by;
        self.engine.handle_timeout(self.now);
    }
}

/// `Send` of `message` to endpoint `name`.
pub(super) fn sent(commands: &[Command], name: &str, message: Outbound) -> bool {
    commands.iter().any(|c| {
        matches!(c, Command::Send { endpoint, message: m, .. } if endpoint.address == name && *m == message)
    })
}

/// `Reply` of `outcome` to the initiator.
pub(super) fn replied(commands: &[Command], outcome: Outcome) -> bool {
    commands
        .iter()
        .any(|c| matches!(c, Command::Reply { outcome: o, .. } if *o == outcome))
}

pub(super) fn logged(commands: &[Command]) -> Option<&DecisionRecord> {
    commands.iter().find_map(|c| match c {
        Command::ForceLog(record) => Some(record),
        _ => None,
    })
}
