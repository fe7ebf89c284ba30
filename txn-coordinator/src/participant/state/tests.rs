//! The participant machine's tests: every cell of the participant-view
//! table, the local events, recovery and Replay, timers, bounds, and a
//! proptest of random interleavings against a simulated resource.

use std::time::{Duration, Instant};

use super::*;

fn coordinator() -> EndpointRef {
    EndpointRef {
        address: "http://coordinator/2pc".into(),
        reference_parameters: "<p:Tx xmlns:p=\"urn:p\">1</p:Tx>".into(),
    }
}

fn id() -> BranchId {
    BranchId::new(TxId("urn:uuid:tx-1".into()), 0)
}

fn drain(p: &mut Participant) -> Vec<Command> {
    std::iter::from_fn(|| p.poll_command()).collect()
}

fn send(message: ToCoordinator) -> Command {
    Command::Send {
        branch: id(),
        to: Some(coordinator()),
        message,
    }
}

fn fault() -> Command {
    Command::Fault {
        branch: id(),
        to: Some(coordinator()),
        fault: ParticipantFault::InvalidState,
    }
}

/// A machine holding branch [`id`] in `state` (the spec's None: nothing),
/// with every command so far drained.
fn in_state(state: Option<State>, now: Instant) -> Participant {
    let mut p = Participant::new(Config::default());
    let Some(state) = state else {
        return p;
    };
    p.handle_enlist(id(), coordinator(), WsatVersion::V2006, None, now)
        .unwrap();
    match state {
        State::Active => {}
        State::Preparing => p.handle_message(&id(), FromCoordinator::Prepare, now),
        State::PreparedSuccess => {
            p.handle_message(&id(), FromCoordinator::Prepare, now);
            p.handle_vote(&id(), Vote::Prepared, now);
        }
        State::Committing => {
            p.handle_message(&id(), FromCoordinator::Prepare, now);
            p.handle_vote(&id(), Vote::Prepared, now);
            p.handle_message(&id(), FromCoordinator::Commit, now);
        }
        State::Aborting => p.handle_message(&id(), FromCoordinator::Rollback, now),
    }
    assert_eq!(p.state(&id()), Some(state));
    drain(&mut p);
    p
}

mod table {
    use super::*;
    use Command as C;
    use FromCoordinator as M;
    use State as S;
    use ToCoordinator as T;

    /// One cell: state (None = unknown branch), message, next state,
    /// commands.
    type Cell = (Option<S>, M, Option<S>, Vec<C>);

    fn cells() -> Vec<Cell> {
        let unknown = |message| C::Send {
            branch: id(),
            to: None,
            message,
        };
        vec![
            (None, M::Prepare, None, vec![unknown(T::Aborted)]),
            (None, M::Commit, None, vec![unknown(T::Committed)]),
            (None, M::Rollback, None, vec![unknown(T::Aborted)]),
            (
                Some(S::Active),
                M::Prepare,
                Some(S::Preparing),
                vec![C::Prepare(id())],
            ),
            (
                Some(S::Active),
                M::Commit,
                Some(S::Aborting),
                vec![fault(), C::Rollback(id())],
            ),
            (
                Some(S::Active),
                M::Rollback,
                Some(S::Aborting),
                vec![C::Rollback(id())],
            ),
            (Some(S::Preparing), M::Prepare, Some(S::Preparing), vec![]),
            (
                Some(S::Preparing),
                M::Commit,
                Some(S::Aborting),
                vec![fault()],
            ),
            (Some(S::Preparing), M::Rollback, Some(S::Aborting), vec![]),
            (
                Some(S::PreparedSuccess),
                M::Prepare,
                Some(S::PreparedSuccess),
                vec![send(T::Prepared)],
            ),
            (
                Some(S::PreparedSuccess),
                M::Commit,
                Some(S::Committing),
                vec![C::Commit(id())],
            ),
            (
                Some(S::PreparedSuccess),
                M::Rollback,
                Some(S::Aborting),
                vec![C::Rollback(id())],
            ),
            (Some(S::Committing), M::Prepare, Some(S::Committing), vec![]),
            (Some(S::Committing), M::Commit, Some(S::Committing), vec![]),
            (
                Some(S::Committing),
                M::Rollback,
                Some(S::Committing),
                vec![fault()],
            ),
            (Some(S::Aborting), M::Prepare, Some(S::Aborting), vec![]),
            (
                Some(S::Aborting),
                M::Commit,
                Some(S::Aborting),
                vec![fault()],
            ),
            (Some(S::Aborting), M::Rollback, Some(S::Aborting), vec![]),
        ]
    }

    #[test]
    fn every_cell_of_the_participant_table() {
        let now = Instant::now();
        let cells = cells();
        // Six states (None included) times three messages.
        assert_eq!(cells.len(), 18);
        for (state, message, next, commands) in cells {
            let mut p = in_state(state, now);
            p.handle_message(&id(), message, now);
            assert_eq!(p.state(&id()), next, "{state:?} + {message:?}: state");
            assert_eq!(drain(&mut p), commands, "{state:?} + {message:?}: commands");
        }
    }

    #[test]
    fn no_prepared_before_the_resource_is_durably_prepared() {
        let now = Instant::now();
        let mut p = in_state(Some(S::Active), now);
        p.handle_message(&id(), M::Prepare, now);
        let commands = drain(&mut p);
        assert!(!commands.contains(&send(T::Prepared)));
        p.handle_vote(&id(), Vote::Prepared, now);
        assert_eq!(drain(&mut p), vec![send(T::Prepared)]);
        assert_eq!(p.state(&id()), Some(S::PreparedSuccess));
    }
}

mod local_events {
    use super::*;
    use Command as C;
    use State as S;
    use ToCoordinator as T;

    #[test]
    fn votes_in_preparing() {
        let now = Instant::now();
        let cases = [
            (
                Vote::Prepared,
                Some(S::PreparedSuccess),
                vec![send(T::Prepared)],
            ),
            (
                Vote::ReadOnly,
                None,
                vec![send(T::ReadOnly), C::Forget(id())],
            ),
            (Vote::Aborted, None, vec![send(T::Aborted), C::Forget(id())]),
        ];
        for (vote, next, commands) in cases {
            let mut p = in_state(Some(S::Preparing), now);
            p.handle_vote(&id(), vote, now);
            assert_eq!(p.state(&id()), next, "{vote:?}");
            assert_eq!(drain(&mut p), commands, "{vote:?}");
        }
    }

    #[test]
    fn votes_after_a_rollback_while_preparing() {
        let now = Instant::now();
        let cases = [
            (Vote::Prepared, Some(S::Aborting), vec![C::Rollback(id())]),
            (
                Vote::ReadOnly,
                None,
                vec![send(T::Aborted), C::Forget(id())],
            ),
            (Vote::Aborted, None, vec![send(T::Aborted), C::Forget(id())]),
        ];
        for (vote, next, commands) in cases {
            let mut p = in_state(Some(S::Preparing), now);
            p.handle_message(&id(), FromCoordinator::Rollback, now);
            assert_eq!(drain(&mut p), vec![]);
            p.handle_vote(&id(), vote, now);
            assert_eq!(p.state(&id()), next, "{vote:?}");
            assert_eq!(drain(&mut p), commands, "{vote:?}");
        }
    }

    #[test]
    fn a_vote_in_any_other_state_is_ignored() {
        let now = Instant::now();
        for state in [S::Active, S::PreparedSuccess, S::Committing, S::Aborting] {
            for vote in [Vote::Prepared, Vote::ReadOnly, Vote::Aborted] {
                let mut p = in_state(Some(state), now);
                p.handle_vote(&id(), vote, now);
                assert_eq!(p.state(&id()), Some(state), "{state:?} {vote:?}");
                assert_eq!(drain(&mut p), vec![], "{state:?} {vote:?}");
            }
        }
    }

    #[test]
    fn commit_and_rollback_results() {
        let now = Instant::now();
        let mut p = in_state(Some(S::Committing), now);
        p.handle_resolved(&id(), true, now);
        assert_eq!(drain(&mut p), vec![send(T::Committed), C::Forget(id())]);
        assert!(p.is_empty());

        let mut p = in_state(Some(S::Aborting), now);
        p.handle_resolved(&id(), true, now);
        assert_eq!(drain(&mut p), vec![send(T::Aborted), C::Forget(id())]);
        assert!(p.is_empty());
    }

    #[test]
    fn a_failed_commit_is_retried_on_the_timer_and_duplicates_do_not_reissue_it() {
        let now = Instant::now();
        let mut p = in_state(Some(S::Committing), now);
        p.handle_resolved(&id(), false, now);
        assert_eq!(drain(&mut p), vec![]);
        let at = p.poll_timeout().unwrap();
        assert_eq!(at, now + Config::default().resend_after);
        // A duplicate Commit meanwhile is ignored.
        p.handle_message(&id(), FromCoordinator::Commit, now);
        assert_eq!(drain(&mut p), vec![]);
        p.handle_timeout(at);
        assert_eq!(drain(&mut p), vec![C::Commit(id())]);
        // While the retry runs the timer is quiet.
        assert_eq!(p.poll_timeout(), None);
        p.handle_resolved(&id(), true, at);
        assert_eq!(drain(&mut p), vec![send(T::Committed), C::Forget(id())]);
    }

    #[test]
    fn a_failed_rollback_is_retried() {
        let now = Instant::now();
        let mut p = in_state(Some(S::Aborting), now);
        p.handle_resolved(&id(), false, now);
        let at = p.poll_timeout().unwrap();
        p.handle_timeout(at);
        assert_eq!(drain(&mut p), vec![C::Rollback(id())]);
    }

    #[test]
    fn a_late_result_for_a_forgotten_branch_is_ignored() {
        let now = Instant::now();
        let mut p = in_state(None, now);
        p.handle_resolved(&id(), true, now);
        p.handle_vote(&id(), Vote::Prepared, now);
        assert_eq!(drain(&mut p), vec![]);
    }

    #[test]
    fn the_application_aborts_an_active_branch() {
        let now = Instant::now();
        let mut p = in_state(Some(S::Active), now);
        assert!(p.handle_abort(&id(), now));
        assert_eq!(drain(&mut p), vec![C::Rollback(id())]);
        p.handle_resolved(&id(), true, now);
        assert_eq!(drain(&mut p), vec![send(T::Aborted), C::Forget(id())]);
        let mut p = in_state(Some(S::PreparedSuccess), now);
        assert!(!p.handle_abort(&id(), now));
    }

    #[test]
    fn unknown_transaction_rolls_back_an_undecided_branch_only() {
        let now = Instant::now();
        for (state, rolls_back) in [
            (S::Active, true),
            (S::PreparedSuccess, true),
            (S::Committing, false),
        ] {
            let mut p = in_state(Some(state), now);
            p.handle_fault(&id(), CoordinatorFault::UnknownTransaction, now);
            let expected = if rolls_back {
                vec![C::Rollback(id())]
            } else {
                vec![]
            };
            assert_eq!(drain(&mut p), expected, "{state:?}");
        }
        let mut p = in_state(Some(S::Preparing), now);
        p.handle_fault(&id(), CoordinatorFault::UnknownTransaction, now);
        assert_eq!(p.state(&id()), Some(S::Aborting));
    }

    #[test]
    fn other_faults_leave_a_prepared_branch_in_doubt() {
        let now = Instant::now();
        for fault in [
            CoordinatorFault::InvalidState,
            CoordinatorFault::InconsistentInternalState,
            CoordinatorFault::Other,
        ] {
            let mut p = in_state(Some(S::PreparedSuccess), now);
            p.handle_fault(&id(), fault, now);
            assert_eq!(p.state(&id()), Some(S::PreparedSuccess));
            assert_eq!(drain(&mut p), vec![]);
        }
    }
}

mod timers_and_recovery {
    use super::*;
    use Command as C;
    use State as S;
    use ToCoordinator as T;

    #[test]
    fn prepared_is_resent_with_backoff_until_an_outcome_arrives() {
        let now = Instant::now();
        let config = Config::default();
        let mut p = in_state(Some(S::PreparedSuccess), now);
        let mut expected_wait = config.resend_after;
        let mut at = now;
        for _ in 0..10 {
            let next = p.poll_timeout().unwrap();
            assert_eq!(next, at + expected_wait);
            p.handle_timeout(next);
            assert_eq!(drain(&mut p), vec![send(T::Prepared)]);
            at = next;
            expected_wait = (expected_wait * 2).min(config.max_resend_after);
        }
        assert_eq!(expected_wait, config.max_resend_after);
        p.handle_message(&id(), FromCoordinator::Commit, at);
        assert_eq!(p.poll_timeout(), None);
    }

    #[test]
    fn an_early_timer_call_does_nothing() {
        let now = Instant::now();
        let mut p = in_state(Some(S::PreparedSuccess), now);
        p.handle_timeout(now + Duration::from_millis(1));
        assert_eq!(drain(&mut p), vec![]);
    }

    #[test]
    fn an_active_branch_past_its_deadline_is_rolled_back() {
        let now = Instant::now();
        let mut p = Participant::new(Config::default());
        let expires = now + Duration::from_secs(10);
        p.handle_enlist(id(), coordinator(), WsatVersion::V2006, Some(expires), now)
            .unwrap();
        assert_eq!(p.poll_timeout(), Some(expires));
        p.handle_timeout(expires);
        assert_eq!(drain(&mut p), vec![C::Rollback(id())]);
        p.handle_resolved(&id(), true, expires);
        assert_eq!(drain(&mut p), vec![send(T::Aborted), C::Forget(id())]);

        // Without Expires, the configured timeout applies.
        let mut p = Participant::new(Config::default());
        p.handle_enlist(id(), coordinator(), WsatVersion::V2006, None, now)
            .unwrap();
        assert_eq!(
            p.poll_timeout(),
            Some(now + Config::default().active_timeout)
        );
    }

    #[test]
    fn a_preparing_branch_has_no_timer() {
        let now = Instant::now();
        let p = in_state(Some(S::Preparing), now);
        assert_eq!(p.poll_timeout(), None);
    }

    #[test]
    fn a_recovered_branch_resends_prepared_under_2006() {
        let now = Instant::now();
        let mut p = Participant::new(Config::default());
        p.handle_recovered(id(), coordinator(), WsatVersion::V2006, now);
        assert_eq!(p.state(&id()), Some(S::PreparedSuccess));
        assert_eq!(drain(&mut p), vec![send(T::Prepared)]);
        let at = p.poll_timeout().unwrap();
        p.handle_timeout(at);
        assert_eq!(drain(&mut p), vec![send(T::Prepared)]);
        // ReplayCommit: the outcome arrives and the branch commits.
        p.handle_message(&id(), FromCoordinator::Commit, at);
        p.handle_resolved(&id(), true, at);
        assert_eq!(
            drain(&mut p),
            vec![C::Commit(id()), send(T::Committed), C::Forget(id())]
        );
    }

    #[test]
    fn a_recovered_branch_sends_replay_under_2004() {
        let now = Instant::now();
        let mut p = Participant::new(Config::default());
        p.handle_recovered(id(), coordinator(), WsatVersion::V2004, now);
        assert_eq!(drain(&mut p), vec![send(T::Replay)]);
        let at = p.poll_timeout().unwrap();
        p.handle_timeout(at);
        assert_eq!(drain(&mut p), vec![send(T::Replay)]);
        // A Prepare meanwhile (the coordinator did not get the vote) is
        // answered Prepared.
        p.handle_message(&id(), FromCoordinator::Prepare, at);
        assert_eq!(drain(&mut p), vec![send(T::Prepared)]);
        // RetryPreparedAbort: presumed abort answers Rollback.
        p.handle_message(&id(), FromCoordinator::Rollback, at);
        p.handle_resolved(&id(), true, at);
        assert_eq!(
            drain(&mut p),
            vec![C::Rollback(id()), send(T::Aborted), C::Forget(id())]
        );
    }

    #[test]
    fn a_live_branch_sends_prepared_under_2004_too() {
        let now = Instant::now();
        let mut p = Participant::new(Config::default());
        p.handle_enlist(id(), coordinator(), WsatVersion::V2004, None, now)
            .unwrap();
        p.handle_message(&id(), FromCoordinator::Prepare, now);
        p.handle_vote(&id(), Vote::Prepared, now);
        assert_eq!(drain(&mut p), vec![C::Prepare(id()), send(T::Prepared)]);
    }

    #[test]
    fn recovering_a_held_branch_changes_nothing() {
        let now = Instant::now();
        let mut p = in_state(Some(S::Committing), now);
        p.handle_recovered(id(), coordinator(), WsatVersion::V2006, now);
        assert_eq!(p.state(&id()), Some(S::Committing));
        assert_eq!(drain(&mut p), vec![]);
    }

    #[test]
    fn enlisting_is_bounded_and_unique() {
        let now = Instant::now();
        let config = Config {
            max_branches: 2,
            ..Config::default()
        };
        let mut p = Participant::new(config);
        let branch = |n| BranchId::new(TxId("urn:uuid:t".into()), n);
        p.handle_enlist(branch(0), coordinator(), WsatVersion::V2006, None, now)
            .unwrap();
        assert_eq!(
            p.handle_enlist(branch(0), coordinator(), WsatVersion::V2006, None, now),
            Err(EnlistError::AlreadyEnlisted)
        );
        p.handle_enlist(branch(1), coordinator(), WsatVersion::V2006, None, now)
            .unwrap();
        assert_eq!(
            p.handle_enlist(branch(2), coordinator(), WsatVersion::V2006, None, now),
            Err(EnlistError::TooManyBranches)
        );
        assert_eq!(p.len(), 2);
    }
}

mod interleavings {
    //! Random sequences of coordinator messages (duplicated, reordered,
    //! out of place), votes, results, faults, timers and restarts for a few
    //! branches, against a simulated resource that remembers what it did.

    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Step {
        Enlist(u32),
        Message(u32, FromCoordinator),
        /// The resource finishes its oldest pending operation; the flag
        /// picks success (and, for a prepare, Prepared rather than
        /// ReadOnly/Aborted by the second number).
        Finish(bool, u8),
        Fault(u32, CoordinatorFault),
        Abort(u32),
        Tick(u16),
        /// The participant process restarts: the machine is rebuilt from
        /// the resource's durably prepared branches.
        Restart,
    }

    fn step() -> impl Strategy<Value = Step> {
        let branch = 0u32..3;
        let message = prop_oneof![
            Just(FromCoordinator::Prepare),
            Just(FromCoordinator::Commit),
            Just(FromCoordinator::Rollback),
        ];
        let fault = prop_oneof![
            Just(CoordinatorFault::UnknownTransaction),
            Just(CoordinatorFault::InvalidState),
        ];
        prop_oneof![
            1 => branch.clone().prop_map(Step::Enlist),
            4 => (branch.clone(), message).prop_map(|(b, m)| Step::Message(b, m)),
            4 => (any::<bool>(), 0u8..4).prop_map(|(ok, v)| Step::Finish(ok, v)),
            1 => (branch.clone(), fault).prop_map(|(b, f)| Step::Fault(b, f)),
            1 => branch.prop_map(Step::Abort),
            1 => (0u16..5000).prop_map(Step::Tick),
            1 => Just(Step::Restart),
        ]
    }

    /// What the simulated resource holds for one branch.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Held {
        Open,
        Prepared,
        Committed,
        RolledBack,
    }

    fn branch(n: u32) -> BranchId {
        BranchId::new(TxId("urn:uuid:tx".into()), n)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn no_mixed_outcome_and_prepared_only_when_durable(steps in proptest::collection::vec(step(), 1..80)) {
            let start = Instant::now();
            let mut now = start;
            let mut p = Participant::new(Config::default());
            let mut resource: BTreeMap<BranchId, Held> = BTreeMap::new();
            let mut pending: VecDeque<Command> = VecDeque::new();
            // The coordinator's view: a branch that got Committed must
            // never have been rolled back, and vice versa.
            let mut told_committed: BTreeSet<BranchId> = BTreeSet::new();
            let mut told_aborted: BTreeSet<BranchId> = BTreeSet::new();

            for step in steps {
                match step {
                    Step::Enlist(n) => {
                        // A branch number is used once (a new transaction
                        // otherwise).
                        if let std::collections::btree_map::Entry::Vacant(slot) = resource.entry(branch(n)) {
                            p.handle_enlist(branch(n), coordinator(), WsatVersion::V2006, None, now).unwrap();
                            slot.insert(Held::Open);
                        }
                    }
                    Step::Message(n, m) => p.handle_message(&branch(n), m, now),
                    Step::Finish(ok, v) => {
                        if let Some(command) = pending.pop_front() {
                            match command {
                                Command::Prepare(b) => {
                                    let vote = match (ok, v) {
                                        (true, 0) => Vote::ReadOnly,
                                        (true, _) => Vote::Prepared,
                                        (false, _) => Vote::Aborted,
                                    };
                                    let held = resource.get_mut(&b).unwrap();
                                    prop_assert_eq!(*held, Held::Open);
                                    *held = match vote {
                                        Vote::Prepared => Held::Prepared,
                                        // ReadOnly: the local transaction
                                        // ended with nothing written.
                                        Vote::ReadOnly | Vote::Aborted => Held::RolledBack,
                                    };
                                    p.handle_vote(&b, vote, now);
                                }
                                Command::Commit(b) => {
                                    let held = resource.get_mut(&b).unwrap();
                                    prop_assert!(matches!(*held, Held::Prepared | Held::Committed), "commit of {:?}", held);
                                    if ok {
                                        *held = Held::Committed;
                                    }
                                    p.handle_resolved(&b, ok, now);
                                }
                                Command::Rollback(b) => {
                                    let held = resource.get_mut(&b).unwrap();
                                    prop_assert_ne!(*held, Held::Committed);
                                    if ok {
                                        *held = Held::RolledBack;
                                    }
                                    p.handle_resolved(&b, ok, now);
                                }
                                _ => {}
                            }
                        }
                    }
                    Step::Fault(n, f) => p.handle_fault(&branch(n), f, now),
                    Step::Abort(n) => {
                        p.handle_abort(&branch(n), now);
                    }
                    Step::Tick(ms) => {
                        now += Duration::from_millis(u64::from(ms) * 10);
                        if let Some(at) = p.poll_timeout() {
                            prop_assert!(at >= start);
                        }
                        p.handle_timeout(now);
                    }
                    Step::Restart => {
                        // Open work is lost with the session; prepared
                        // branches survive and are recovered.
                        p = Participant::new(Config::default());
                        pending.clear();
                        for (b, held) in resource.iter_mut() {
                            match *held {
                                Held::Open => *held = Held::RolledBack,
                                Held::Prepared => p.handle_recovered(b.clone(), coordinator(), WsatVersion::V2006, now),
                                Held::Committed | Held::RolledBack => {}
                            }
                        }
                    }
                }
                while let Some(command) = p.poll_command() {
                    match &command {
                        Command::Send { branch: b, message, to } => {
                            let held = resource.get(b).copied();
                            match message {
                                ToCoordinator::Prepared | ToCoordinator::Replay => {
                                    prop_assert_eq!(held, Some(Held::Prepared), "Prepared sent for {:?}", b);
                                    prop_assert!(to.is_some());
                                }
                                ToCoordinator::Committed => {
                                    if to.is_some() {
                                        prop_assert_eq!(held, Some(Held::Committed));
                                    }
                                    told_committed.insert(b.clone());
                                }
                                ToCoordinator::Aborted => {
                                    if to.is_some() {
                                        prop_assert_eq!(held, Some(Held::RolledBack));
                                        told_aborted.insert(b.clone());
                                    }
                                }
                                ToCoordinator::ReadOnly => {
                                    prop_assert_eq!(held, Some(Held::RolledBack));
                                }
                            }
                        }
                        Command::Prepare(_) | Command::Commit(_) | Command::Rollback(_) => {
                            pending.push_back(command.clone());
                        }
                        Command::Fault { .. } | Command::Forget(_) => {}
                    }
                }
                // No branch is both committed and rolled back.
                for b in &told_aborted {
                    prop_assert_ne!(resource.get(b).copied(), Some(Held::Committed));
                }
                for (b, held) in &resource {
                    if *held == Held::Committed {
                        prop_assert!(!told_aborted.contains(b));
                    }
                }
                prop_assert!(p.len() <= 3);
            }
        }
    }
}
