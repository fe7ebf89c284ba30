//! The OASIS WS-TX 1.1 interop scenarios (AT1.1–AT5.6) and the other
//! engine behaviours a user relies on, one test each.

use super::*;
use Inbound as M;
use Outbound as O;
use Protocol as P;

const SEC: Duration = Duration::from_secs(1);

#[test]
fn completion_commit_with_no_participants_commits_without_a_log_write() {
    let mut h = Harness::new();
    let init = h.register(P::Completion, "init");
    h.send(init, P::Completion, M::Commit);
    let out = h.drain();
    assert!(replied(&out, Outcome::Committed));
    assert!(logged(&out).is_none());
}

#[test]
fn completion_rollback_sends_rollback_to_every_participant() {
    let mut h = Harness::new();
    let init = h.register(P::Completion, "init");
    h.register(P::Durable2Pc, "d1");
    h.register(P::Volatile2Pc, "v1");
    h.send(init, P::Completion, M::Rollback);
    let out = h.drain();
    assert!(replied(&out, Outcome::Aborted));
    assert!(sent(&out, "d1", O::Rollback) && sent(&out, "v1", O::Rollback));
    assert!(logged(&out).is_none());
    assert_eq!(h.engine.phase(&h.tx), Some(Phase::Aborted));
}

#[test]
fn commit_forces_one_decision_before_any_commit_then_forgets_it() {
    let mut h = Harness::new();
    let init = h.register(P::Completion, "init");
    let d1 = h.register(P::Durable2Pc, "d1");
    let d2 = h.register(P::Durable2Pc, "d2");
    h.send(init, P::Completion, M::Commit);
    let out = h.drain();
    assert!(sent(&out, "d1", O::Prepare) && sent(&out, "d2", O::Prepare));
    h.send(d1, P::Durable2Pc, M::Prepared);
    h.send(d2, P::Durable2Pc, M::Prepared);
    let out = h.drain();
    let record = logged(&out).expect("a decision record");
    assert_eq!(record.participants.len(), 2);
    assert!(!sent(&out, "d1", O::Commit) && !replied(&out, Outcome::Committed));
    // A duplicate vote while the write is in flight changes nothing.
    h.send(d1, P::Durable2Pc, M::Prepared);
    assert!(h.drain().is_empty());

    h.engine.handle_log_written(&h.tx, true, h.now);
    let out = h.drain();
    assert!(sent(&out, "d1", O::Commit) && sent(&out, "d2", O::Commit));
    assert!(replied(&out, Outcome::Committed));
    h.send(d1, P::Durable2Pc, M::Committed);
    let out = h.drain();
    assert_eq!(
        out,
        vec![Command::ParticipantDone {
            tx: h.tx.clone(),
            participant: d1
        }]
    );
    h.send(d2, P::Durable2Pc, M::Committed);
    assert_eq!(h.drain(), vec![Command::ForgetLog(h.tx.clone())]);
    assert_eq!(h.engine.phase(&h.tx), Some(Phase::Committed));
    // The initiator asking again hears the outcome again.
    h.send(init, P::Completion, M::Commit);
    assert!(replied(&h.drain(), Outcome::Committed));
    // After the linger time the transaction is gone.
    h.advance(20 * SEC);
    assert_eq!(h.engine.phase(&h.tx), None);
}

#[test]
fn phase2_rollback_one_aborted_vote_rolls_everyone_back() {
    let mut h = Harness::new();
    let init = h.register(P::Completion, "init");
    let d1 = h.register(P::Durable2Pc, "d1");
    let d2 = h.register(P::Durable2Pc, "d2");
    h.send(init, P::Completion, M::Commit);
    h.drain();
    h.send(d1, P::Durable2Pc, M::Prepared);
    h.send(d2, P::Durable2Pc, M::Aborted);
    let out = h.drain();
    assert!(sent(&out, "d1", O::Rollback));
    assert!(!sent(&out, "d2", O::Rollback), "an Aborted voter has left");
    assert!(replied(&out, Outcome::Aborted));
    assert!(logged(&out).is_none());
}

#[test]
fn readonly_votes_commit_without_a_log_write() {
    let mut h = Harness::new();
    let init = h.register(P::Completion, "init");
    let d1 = h.register(P::Durable2Pc, "d1");
    let d2 = h.register(P::Durable2Pc, "d2");
    h.send(init, P::Completion, M::Commit);
    h.drain();
    h.send(d1, P::Durable2Pc, M::ReadOnly);
    h.send(d2, P::Durable2Pc, M::ReadOnly);
    let out = h.drain();
    assert!(replied(&out, Outcome::Committed));
    assert!(logged(&out).is_none());
    assert!(!sent(&out, "d1", O::Commit));
}

#[test]
fn readonly_voter_is_left_out_of_the_decision_record() {
    let mut h = Harness::new();
    let init = h.register(P::Completion, "init");
    let d1 = h.register(P::Durable2Pc, "d1");
    let d2 = h.register(P::Durable2Pc, "d2");
    h.send(init, P::Completion, M::Commit);
    h.drain();
    h.send(d1, P::Durable2Pc, M::ReadOnly);
    h.send(d2, P::Durable2Pc, M::Prepared);
    let out = h.drain();
    let record = logged(&out).unwrap();
    assert_eq!(record.participants.len(), 1);
    assert_eq!(record.participants[0].id, d2);
}

#[test]
fn volatile_and_durable_volatiles_are_prepared_first() {
    let mut h = Harness::new();
    let init = h.register(P::Completion, "init");
    let v1 = h.register(P::Volatile2Pc, "v1");
    let d1 = h.register(P::Durable2Pc, "d1");
    h.send(init, P::Completion, M::Commit);
    let out = h.drain();
    assert!(sent(&out, "v1", O::Prepare) && !sent(&out, "d1", O::Prepare));
    // A volatile registering during the volatile phase is prepared at once;
    // durable Prepare waits for it too.
    let v2 = h
        .engine
        .handle_register(&h.tx, P::Volatile2Pc, EndpointRef::new("v2"), h.now)
        .unwrap();
    assert!(sent(&h.drain(), "v2", O::Prepare));
    h.send(v1, P::Volatile2Pc, M::Prepared);
    assert!(!sent(&h.drain(), "d1", O::Prepare));
    h.send(v2, P::Volatile2Pc, M::ReadOnly);
    assert!(sent(&h.drain(), "d1", O::Prepare));
    // Volatile registrations are refused after the first durable Prepare.
    assert_eq!(
        h.engine
            .handle_register(&h.tx, P::Volatile2Pc, EndpointRef::new("v3"), h.now),
        Err(Fault::CannotRegisterParticipant)
    );
    h.send(d1, P::Durable2Pc, M::Prepared);
    let record = logged(&h.drain()).cloned().unwrap();
    assert_eq!(record.participants.len(), 1, "volatiles are never logged");
    h.engine.handle_log_written(&h.tx, true, h.now);
    let out = h.drain();
    assert!(sent(&out, "v1", O::Commit) && sent(&out, "d1", O::Commit));
    assert!(!sent(&out, "v2", O::Commit));
}

#[test]
fn early_readonly_before_prepare_leaves_the_protocol() {
    let mut h = Harness::new();
    let init = h.register(P::Completion, "init");
    let d1 = h.register(P::Durable2Pc, "d1");
    let d2 = h.register(P::Durable2Pc, "d2");
    h.send(d1, P::Durable2Pc, M::ReadOnly);
    assert!(h.drain().is_empty());
    h.send(init, P::Completion, M::Commit);
    let out = h.drain();
    assert!(!sent(&out, "d1", O::Prepare) && sent(&out, "d2", O::Prepare));
    h.send(d2, P::Durable2Pc, M::Prepared);
    assert_eq!(logged(&h.drain()).unwrap().participants.len(), 1);
}

#[test]
fn early_aborted_before_prepare_aborts_the_transaction() {
    let mut h = Harness::new();
    let init = h.register(P::Completion, "init");
    let d1 = h.register(P::Durable2Pc, "d1");
    h.register(P::Durable2Pc, "d2");
    h.send(d1, P::Durable2Pc, M::Aborted);
    let out = h.drain();
    assert!(sent(&out, "d2", O::Rollback) && replied(&out, Outcome::Aborted));
    h.send(init, P::Completion, M::Commit);
    assert!(replied(&h.drain(), Outcome::Aborted));
}

fn prepared_and_logged(h: &mut Harness) -> (ParticipantId, ParticipantId) {
    let init = h.register(P::Completion, "init");
    let d1 = h.register(P::Durable2Pc, "d1");
    let d2 = h.register(P::Durable2Pc, "d2");
    h.send(init, P::Completion, M::Commit);
    h.send(d1, P::Durable2Pc, M::Prepared);
    h.send(d2, P::Durable2Pc, M::Prepared);
    h.engine.handle_log_written(&h.tx, true, h.now);
    h.drain();
    (d1, d2)
}

#[test]
fn replay_commit_resent_prepared_while_committing_gets_commit_again() {
    let mut h = Harness::new();
    let (d1, _) = prepared_and_logged(&mut h);
    h.send(d1, P::Durable2Pc, M::Prepared);
    assert_eq!(
        h.drain(),
        vec![Command::Send {
            tx: h.tx.clone(),
            to: d1,
            endpoint: EndpointRef::new("d1"),
            message: O::Commit
        }]
    );
}

#[test]
fn retry_prepared_commit_after_a_coordinator_restart_commits_from_the_log() {
    let mut h = Harness::new();
    let init = h.register(P::Completion, "init");
    let d1 = h.register(P::Durable2Pc, "d1");
    h.send(init, P::Completion, M::Commit);
    h.send(d1, P::Durable2Pc, M::Prepared);
    let record = logged(&h.drain()).cloned().unwrap();
    h.engine.handle_log_written(&h.tx, true, h.now);
    // Crash: a new engine. Before the log is loaded nothing is presumed.
    let mut engine = Coordinator::recovering(Config::default());
    let from = Some(EndpointRef::new("d1"));
    engine.handle_message(&h.tx, d1, P::Durable2Pc, from.clone(), M::Prepared, h.now);
    assert_eq!(engine.poll_command(), None);
    engine.handle_log_loaded(vec![record], h.now);
    let out: Vec<_> = std::iter::from_fn(|| engine.poll_command()).collect();
    assert!(sent(&out, "d1", O::Commit));
    engine.handle_message(&h.tx, d1, P::Durable2Pc, from, M::Prepared, h.now);
    assert!(sent(
        &std::iter::from_fn(|| engine.poll_command()).collect::<Vec<_>>(),
        "d1",
        O::Commit
    ));
    engine.handle_message(&h.tx, d1, P::Durable2Pc, None, M::Committed, h.now);
    let out: Vec<_> = std::iter::from_fn(|| engine.poll_command()).collect();
    assert!(out.contains(&Command::ForgetLog(h.tx.clone())));
}

#[test]
fn retry_prepared_abort_unknown_transaction_is_presumed_aborted() {
    let mut engine = Coordinator::new(Config::default());
    let now = Instant::now();
    let tx = TxId("urn:uuid:gone".to_owned());
    let from = Some(EndpointRef::new("d1"));
    engine.handle_message(
        &tx,
        ParticipantId(0),
        P::Durable2Pc,
        from.clone(),
        M::Prepared,
        now,
    );
    let out: Vec<_> = std::iter::from_fn(|| engine.poll_command()).collect();
    assert!(sent(&out, "d1", O::Rollback));
    // A volatile participant hears UnknownTransaction instead.
    engine.handle_message(
        &tx,
        ParticipantId(0),
        P::Volatile2Pc,
        from.clone(),
        M::Prepared,
        now,
    );
    assert!(matches!(
        engine.poll_command(),
        Some(Command::Fault {
            fault: Fault::UnknownTransaction,
            ..
        })
    ));
    // Completion for an unknown transaction: UnknownTransaction.
    engine.handle_message(
        &tx,
        ParticipantId(0),
        P::Completion,
        from.clone(),
        M::Commit,
        now,
    );
    assert!(matches!(
        engine.poll_command(),
        Some(Command::Fault {
            fault: Fault::UnknownTransaction,
            ..
        })
    ));
    // Other messages about unknown transactions are ignored.
    for m in [M::Aborted, M::ReadOnly, M::Committed] {
        engine.handle_message(&tx, ParticipantId(0), P::Durable2Pc, from.clone(), m, now);
    }
    assert_eq!(engine.poll_command(), None);
}

#[test]
fn retry_commit_unanswered_commit_is_resent_on_the_timer() {
    let mut h = Harness::new();
    let (d1, _) = prepared_and_logged(&mut h);
    h.send(d1, P::Durable2Pc, M::Committed);
    h.drain();
    h.advance(2 * SEC);
    let out = h.drain();
    assert!(sent(&out, "d2", O::Commit) && !sent(&out, "d1", O::Commit));
}

#[test]
fn unanswered_prepare_is_resent_on_the_timer() {
    let mut h = Harness::new();
    let init = h.register(P::Completion, "init");
    h.register(P::Durable2Pc, "d1");
    h.send(init, P::Completion, M::Commit);
    h.drain();
    h.advance(2 * SEC);
    assert!(sent(&h.drain(), "d1", O::Prepare));
}

#[test]
fn prepared_after_timeout_expired_transaction_is_rolled_back() {
    let mut h = Harness::new();
    let init = h.register(P::Completion, "init");
    let d1 = h.register(P::Durable2Pc, "d1");
    h.send(init, P::Completion, M::Commit);
    h.drain();
    h.advance(61 * SEC);
    let out = h.drain();
    assert!(sent(&out, "d1", O::Rollback) && replied(&out, Outcome::Aborted));
    h.send(d1, P::Durable2Pc, M::Prepared);
    assert!(sent(&h.drain(), "d1", O::Rollback));
}

#[test]
fn expiry_does_not_touch_a_decided_transaction() {
    let mut h = Harness::new();
    prepared_and_logged(&mut h);
    h.advance(61 * SEC);
    let out = h.drain();
    assert!(!out.iter().any(|c| matches!(
        c,
        Command::Send {
            message: O::Rollback,
            ..
        } | Command::Reply {
            outcome: Outcome::Aborted,
            ..
        }
    )));
    assert!(sent(&out, "d1", O::Commit), "commits keep being resent");
}

#[test]
fn lost_committed_commit_is_resent_until_acknowledged() {
    let mut h = Harness::new();
    let (d1, d2) = prepared_and_logged(&mut h);
    for _ in 0..3 {
        h.advance(2 * SEC);
        let out = h.drain();
        assert!(sent(&out, "d1", O::Commit) && sent(&out, "d2", O::Commit));
    }
    h.send(d1, P::Durable2Pc, M::Committed);
    h.send(d2, P::Durable2Pc, M::Committed);
    assert!(h.drain().contains(&Command::ForgetLog(h.tx.clone())));
    h.advance(2 * SEC);
    assert!(h.drain().is_empty());
}

#[test]
fn a_failed_log_write_is_retried_and_holds_commit_back() {
    let mut h = Harness::new();
    let init = h.register(P::Completion, "init");
    let d1 = h.register(P::Durable2Pc, "d1");
    h.send(init, P::Completion, M::Commit);
    h.send(d1, P::Durable2Pc, M::Prepared);
    h.drain();
    h.engine.handle_log_written(&h.tx, false, h.now);
    assert!(h.drain().is_empty());
    h.advance(2 * SEC);
    let out = h.drain();
    assert!(logged(&out).is_some() && !sent(&out, "d1", O::Commit));
    // Expiry no longer applies: the transaction is decided, only the write
    // is pending.
    h.advance(120 * SEC);
    assert!(!sent(&h.drain(), "d1", O::Rollback));
    h.engine.handle_log_written(&h.tx, true, h.now);
    assert!(sent(&h.drain(), "d1", O::Commit));
}

#[test]
fn heuristic_outcomes_are_recorded() {
    let mut h = Harness::new();
    let (d1, d2) = prepared_and_logged(&mut h);
    h.send(d1, P::Durable2Pc, M::Aborted);
    let out = h.drain();
    assert!(out.iter().any(|c| matches!(
        c,
        Command::LogHeuristic(HeuristicRecord { kind: H::AbortedAfterCommit, participant, .. }) if *participant == d1
    )));
    assert!(out.iter().any(|c| matches!(
        c,
        Command::Fault {
            fault: Fault::InvalidState,
            ..
        }
    )));
    h.send(d2, P::Durable2Pc, M::InconsistentInternalState);
    let out = h.drain();
    assert!(out.iter().any(|c| matches!(
        c,
        Command::LogHeuristic(HeuristicRecord {
            kind: H::InconsistentInternalState,
            ..
        })
    )));
    assert!(out.contains(&Command::ForgetLog(h.tx.clone())));
}

#[test]
fn registration_faults() {
    let mut h = Harness::new();
    let unknown = TxId("urn:uuid:none".to_owned());
    assert_eq!(
        h.engine
            .handle_register(&unknown, P::Durable2Pc, EndpointRef::new("x"), h.now),
        Err(Fault::CannotRegisterParticipant)
    );
    let init = h.register(P::Completion, "init");
    assert_eq!(
        h.engine
            .handle_register(&h.tx, P::Completion, EndpointRef::new("x"), h.now),
        Err(Fault::CannotRegisterParticipant),
        "one initiator per transaction"
    );
    let d1 = h.register(P::Durable2Pc, "d1");
    h.send(init, P::Completion, M::Commit);
    h.send(d1, P::Durable2Pc, M::Prepared);
    assert_eq!(
        h.engine
            .handle_register(&h.tx, P::Durable2Pc, EndpointRef::new("late"), h.now),
        Err(Fault::CannotRegisterParticipant)
    );
}

#[test]
fn bounds_refuse_with_faults() {
    let now = Instant::now();
    let mut engine = Coordinator::new(Config {
        max_transactions: 1,
        max_participants: 2,
        ..Config::default()
    });
    let tx = TxId("urn:a".to_owned());
    engine.handle_create(tx.clone(), None, now).unwrap();
    assert_eq!(
        engine.handle_create(tx.clone(), None, now),
        Err(Fault::InvalidParameters)
    );
    assert_eq!(
        engine.handle_create(TxId("urn:b".to_owned()), None, now),
        Err(Fault::CannotCreateContext)
    );
    for _ in 0..2 {
        engine
            .handle_register(&tx, P::Durable2Pc, EndpointRef::new("p"), now)
            .unwrap();
    }
    assert_eq!(
        engine.handle_register(&tx, P::Durable2Pc, EndpointRef::new("p"), now),
        Err(Fault::CannotRegisterParticipant)
    );
    let mut engine = Coordinator::new(Config {
        max_endpoint_bytes: 16,
        ..Config::default()
    });
    engine.handle_create(tx.clone(), None, now).unwrap();
    for endpoint in [
        EndpointRef::new(""),
        EndpointRef::new("https://far-too-long.example"),
        EndpointRef {
            address: "https://a".to_owned(),
            reference_parameters: "<r>0123456789</r>".to_owned(),
        },
    ] {
        assert_eq!(
            engine.handle_register(&tx, P::Durable2Pc, endpoint, now),
            Err(Fault::InvalidParameters)
        );
    }
}

#[test]
fn forged_participant_numbers_get_invalid_parameters() {
    let mut h = Harness::new();
    let d1 = h.register(P::Durable2Pc, "d1");
    let tx = h.tx.clone();
    let from = Some(EndpointRef::new("forger"));
    h.engine.handle_message(
        &tx,
        ParticipantId(99),
        P::Durable2Pc,
        from.clone(),
        M::Prepared,
        h.now,
    );
    // The right number on the wrong protocol endpoint is forged too.
    h.engine
        .handle_message(&tx, d1, P::Volatile2Pc, from, M::Prepared, h.now);
    let out = h.drain();
    assert_eq!(out.len(), 2);
    assert!(out.iter().all(|c| matches!(
        c,
        Command::Fault {
            fault: Fault::InvalidParameters,
            to: None,
            ..
        }
    )));
    assert_eq!(
        h.engine.participant_state(&tx, d1),
        Some(TwoPcState::Active)
    );
}

#[test]
fn timers_are_announced_and_early_timeouts_are_harmless() {
    let now = Instant::now();
    let mut engine = Coordinator::new(Config::default());
    let tx = TxId("urn:t".to_owned());
    engine
        .handle_create(tx.clone(), Some(now + 10 * SEC), now)
        .unwrap();
    assert_eq!(
        engine.poll_command(),
        Some(Command::SetTimer(now + 10 * SEC))
    );
    engine.handle_timeout(now + SEC);
    assert_eq!(engine.phase(&tx), Some(Phase::Active));
    engine.handle_timeout(now + 10 * SEC);
    assert_eq!(engine.phase(&tx), Some(Phase::Aborted));
}
