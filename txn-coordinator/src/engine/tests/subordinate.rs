//! Subordinate transactions (interposition): the superior's Prepare,
//! Commit and Rollback on the engine alone, the prepared record forced
//! before Prepared, and recovery of a prepared subordinate.

use super::*;
use Inbound as M;
use Outbound as O;
use Protocol as P;

const SUPERIOR: &str = "http://superior/2pc";

/// A harness whose transaction is a subordinate registered with
/// [`SUPERIOR`].
fn subordinate() -> Harness {
    let now = Instant::now();
    let mut engine = Coordinator::new(Config {
        resend_after: Duration::from_secs(1),
        linger: Duration::from_secs(10),
        ..Config::default()
    });
    let tx = TxId("urn:uuid:sub-1".to_owned());
    engine
        .handle_create_subordinate(tx.clone(), Some(now + Duration::from_secs(60)), now)
        .unwrap();
    assert!(engine.handle_superior_registered(&tx, EndpointRef::new(SUPERIOR)));
    let mut h = Harness { engine, now, tx };
    h.drain();
    h
}

fn from_superior(h: &mut Harness, message: FromSuperior) {
    let tx = h.tx.clone();
    h.engine.handle_superior_message(&tx, message, None, h.now);
}

/// What went to the superior, in order.
fn told(commands: &[Command]) -> Vec<ToSuperior> {
    commands
        .iter()
        .filter_map(|c| match c {
            Command::NotifySuperior {
                endpoint, message, ..
            } if endpoint.address == SUPERIOR => Some(*message),
            _ => None,
        })
        .collect()
}

#[test]
fn prepare_prepares_volatile_first_then_durable_and_forces_the_record_before_prepared() {
    let mut h = subordinate();
    let v = h.register(P::Volatile2Pc, "v1");
    let d1 = h.register(P::Durable2Pc, "d1");
    let d2 = h.register(P::Durable2Pc, "d2");
    from_superior(&mut h, FromSuperior::Prepare);
    let out = h.drain();
    assert!(sent(&out, "v1", O::Prepare));
    assert!(
        !sent(&out, "d1", O::Prepare),
        "durable before volatile voted"
    );
    h.send(v, P::Volatile2Pc, M::Prepared);
    let out = h.drain();
    assert!(sent(&out, "d1", O::Prepare) && sent(&out, "d2", O::Prepare));
    h.send(d1, P::Durable2Pc, M::Prepared);
    h.send(d2, P::Durable2Pc, M::Prepared);
    let out = h.drain();
    let record = logged(&out).expect("the prepared record").clone();
    assert_eq!(record.superior(), Some(&EndpointRef::new(SUPERIOR)));
    let ids: Vec<_> = record.participants.iter().map(|p| p.id).collect();
    assert_eq!(ids, [d1, d2, ParticipantId::SUPERIOR]);
    assert!(
        told(&out).is_empty(),
        "Prepared before the record is durable"
    );
    assert_eq!(h.engine.phase(&h.tx), Some(Phase::Logging));

    // A failed write is retried; still nothing to the superior.
    h.engine.handle_log_written(&h.tx, false, h.now);
    assert!(told(&h.drain()).is_empty());
    h.advance(Duration::from_secs(2));
    let again = h.drain();
    assert_eq!(logged(&again), Some(&record));

    h.engine.handle_log_written(&h.tx, true, h.now);
    assert_eq!(told(&h.drain()), [ToSuperior::Prepared]);
    assert_eq!(h.engine.phase(&h.tx), Some(Phase::Prepared));
    assert_eq!(
        h.engine.view(&h.tx).unwrap().superior,
        Some(EndpointRef::new(SUPERIOR))
    );
}

#[test]
fn commit_from_the_superior_fans_out_and_committed_goes_back_when_all_answered() {
    let mut h = subordinate();
    let v = h.register(P::Volatile2Pc, "v1");
    let d1 = h.register(P::Durable2Pc, "d1");
    let d2 = h.register(P::Durable2Pc, "d2");
    from_superior(&mut h, FromSuperior::Prepare);
    h.send(v, P::Volatile2Pc, M::Prepared);
    h.send(d1, P::Durable2Pc, M::Prepared);
    h.send(d2, P::Durable2Pc, M::Prepared);
    h.drain();
    h.engine.handle_log_written(&h.tx, true, h.now);
    h.drain();

    from_superior(&mut h, FromSuperior::Commit);
    let out = h.drain();
    assert!(
        sent(&out, "v1", O::Commit) && sent(&out, "d1", O::Commit) && sent(&out, "d2", O::Commit)
    );
    assert!(told(&out).is_empty());
    // A duplicate Commit while the participants answer changes nothing.
    from_superior(&mut h, FromSuperior::Commit);
    assert!(told(&h.drain()).is_empty());
    h.send(v, P::Volatile2Pc, M::Committed);
    h.send(d1, P::Durable2Pc, M::Committed);
    assert!(told(&h.drain()).is_empty(), "Committed before d2 answered");
    h.send(d2, P::Durable2Pc, M::Committed);
    let out = h.drain();
    assert_eq!(told(&out), [ToSuperior::Committed]);
    assert!(out.contains(&Command::ForgetLog(h.tx.clone())));
    assert_eq!(h.engine.phase(&h.tx), Some(Phase::Committed));
    // The superior resending Commit hears Committed again.
    from_superior(&mut h, FromSuperior::Commit);
    assert_eq!(told(&h.drain()), [ToSuperior::Committed]);
}

#[test]
fn rollback_from_the_superior_rolls_every_participant_back_and_drops_the_record() {
    let mut h = subordinate();
    let d1 = h.register(P::Durable2Pc, "d1");
    from_superior(&mut h, FromSuperior::Prepare);
    h.send(d1, P::Durable2Pc, M::Prepared);
    h.drain();
    h.engine.handle_log_written(&h.tx, true, h.now);
    h.drain();
    from_superior(&mut h, FromSuperior::Rollback);
    let out = h.drain();
    assert!(sent(&out, "d1", O::Rollback));
    assert!(out.contains(&Command::ForgetLog(h.tx.clone())));
    assert_eq!(told(&out), [ToSuperior::Aborted]);
    assert_eq!(h.engine.phase(&h.tx), Some(Phase::Aborted));
}

#[test]
fn rollback_while_the_record_is_written_drops_it_once_written() {
    let mut h = subordinate();
    let d1 = h.register(P::Durable2Pc, "d1");
    from_superior(&mut h, FromSuperior::Prepare);
    h.send(d1, P::Durable2Pc, M::Prepared);
    assert!(logged(&h.drain()).is_some());
    from_superior(&mut h, FromSuperior::Rollback);
    let out = h.drain();
    assert!(sent(&out, "d1", O::Rollback));
    assert_eq!(told(&out), [ToSuperior::Aborted]);
    // However slow the write, the transaction waits for its report...
    h.advance(Duration::from_secs(30));
    h.drain();
    assert_eq!(h.engine.phase(&h.tx), Some(Phase::Aborted));
    h.engine.handle_log_written(&h.tx, true, h.now);
    let out = h.drain();
    assert_eq!(out, vec![Command::ForgetLog(h.tx.clone())]);
    // ...and lingers only after it.
    h.advance(Duration::from_secs(11));
    assert_eq!(h.engine.phase(&h.tx), None);
}

#[test]
fn an_aborted_vote_aborts_and_tells_the_superior() {
    let mut h = subordinate();
    let d1 = h.register(P::Durable2Pc, "d1");
    h.register(P::Durable2Pc, "d2");
    from_superior(&mut h, FromSuperior::Prepare);
    h.drain();
    h.send(d1, P::Durable2Pc, M::Aborted);
    let out = h.drain();
    assert!(sent(&out, "d2", O::Rollback));
    assert_eq!(told(&out), [ToSuperior::Aborted]);
    assert!(logged(&out).is_none());
    // The superior's Prepare again gets Aborted again.
    from_superior(&mut h, FromSuperior::Prepare);
    assert_eq!(told(&h.drain()), [ToSuperior::Aborted]);
}

#[test]
fn all_read_only_answers_read_only_without_a_log_write() {
    let mut h = subordinate();
    let d1 = h.register(P::Durable2Pc, "d1");
    from_superior(&mut h, FromSuperior::Prepare);
    h.drain();
    h.send(d1, P::Durable2Pc, M::ReadOnly);
    let out = h.drain();
    assert_eq!(told(&out), [ToSuperior::ReadOnly]);
    assert!(logged(&out).is_none());
    // A resent Prepare (the ReadOnly was lost) gets ReadOnly again, and a
    // Rollback from a superior that never heard it gets Aborted: the
    // subordinate did nothing.
    from_superior(&mut h, FromSuperior::Prepare);
    assert_eq!(told(&h.drain()), [ToSuperior::ReadOnly]);
    from_superior(&mut h, FromSuperior::Rollback);
    let out = h.drain();
    assert_eq!(told(&out), [ToSuperior::Aborted]);
    assert!(!out.iter().any(|c| matches!(c, Command::Fault { .. })));
    // No participant at all: ReadOnly as well.
    let mut empty = subordinate();
    from_superior(&mut empty, FromSuperior::Prepare);
    assert_eq!(told(&empty.drain()), [ToSuperior::ReadOnly]);
}

#[test]
fn a_subordinate_whose_registration_failed_is_rolled_back_untold() {
    let now = Instant::now();
    let mut engine = Coordinator::new(Config::default());
    let tx = TxId("urn:uuid:abandoned".into());
    // No Expires: only the abandonment ends it.
    engine
        .handle_create_subordinate(tx.clone(), None, now)
        .unwrap();
    assert!(engine.handle_subordinate_abandoned(&tx, now));
    assert_eq!(engine.phase(&tx), Some(Phase::Aborted));
    let out: Vec<Command> = std::iter::from_fn(|| engine.poll_command()).collect();
    assert!(told(&out).is_empty(), "{out:?}");
    // Too late for the superior's answer, and only once.
    assert!(!engine.handle_superior_registered(&tx, EndpointRef::new(SUPERIOR)));
    assert!(!engine.handle_subordinate_abandoned(&tx, now));
    // A top-level transaction is not abandoned this way.
    let top = TxId("urn:uuid:top".into());
    engine.handle_create(top.clone(), None, now).unwrap();
    assert!(!engine.handle_subordinate_abandoned(&top, now));
    assert_eq!(engine.phase(&top), Some(Phase::Active));
}

#[test]
fn a_heuristic_while_committing_reaches_the_superior_as_inconsistent_internal_state() {
    let mut h = subordinate();
    let d1 = h.register(P::Durable2Pc, "d1");
    let d2 = h.register(P::Durable2Pc, "d2");
    from_superior(&mut h, FromSuperior::Prepare);
    h.send(d1, P::Durable2Pc, M::Prepared);
    h.send(d2, P::Durable2Pc, M::Prepared);
    h.drain();
    h.engine.handle_log_written(&h.tx, true, h.now);
    assert_eq!(told(&h.drain()), [ToSuperior::Prepared]);
    from_superior(&mut h, FromSuperior::Commit);
    h.drain();
    h.send(d1, P::Durable2Pc, M::Committed);
    // d2 had rolled back on its own.
    h.send(d2, P::Durable2Pc, M::Aborted);
    let out = h.drain();
    assert!(out.iter().any(|c| matches!(
        c,
        Command::LogHeuristic(HeuristicRecord {
            kind: HeuristicKind::AbortedAfterCommit,
            ..
        })
    )));
    assert_eq!(told(&out), [ToSuperior::InconsistentInternalState]);
    // Said again to a resent Commit.
    from_superior(&mut h, FromSuperior::Commit);
    assert_eq!(told(&h.drain()), [ToSuperior::InconsistentInternalState]);
}

#[test]
fn a_rollback_after_a_failed_record_write_drops_a_record_that_may_have_landed() {
    let mut h = subordinate();
    let d1 = h.register(P::Durable2Pc, "d1");
    from_superior(&mut h, FromSuperior::Prepare);
    h.send(d1, P::Durable2Pc, M::Prepared);
    assert!(logged(&h.drain()).is_some());
    h.engine.handle_log_written(&h.tx, false, h.now);
    h.drain();
    from_superior(&mut h, FromSuperior::Rollback);
    let out = h.drain();
    assert!(out.contains(&Command::ForgetLog(h.tx.clone())));
    assert!(sent(&out, "d1", O::Rollback));
    assert_eq!(told(&out), [ToSuperior::Aborted]);
}

#[test]
fn only_volatile_prepared_still_forces_the_record_before_prepared() {
    let mut h = subordinate();
    let v = h.register(P::Volatile2Pc, "v1");
    from_superior(&mut h, FromSuperior::Prepare);
    h.drain();
    h.send(v, P::Volatile2Pc, M::Prepared);
    let out = h.drain();
    // A Durable2PC participant's Prepared must survive a crash: the record
    // names only the superior.
    let record = logged(&out).expect("the prepared record").clone();
    let ids: Vec<_> = record.participants.iter().map(|p| p.id).collect();
    assert_eq!(ids, [ParticipantId::SUPERIOR]);
    assert!(told(&out).is_empty());
    h.engine.handle_log_written(&h.tx, true, h.now);
    assert_eq!(told(&h.drain()), [ToSuperior::Prepared]);
    from_superior(&mut h, FromSuperior::Commit);
    let out = h.drain();
    assert!(sent(&out, "v1", O::Commit));
    h.send(v, P::Volatile2Pc, M::Committed);
    let out = h.drain();
    assert_eq!(told(&out), [ToSuperior::Committed]);
    assert!(out.contains(&Command::ForgetLog(h.tx.clone())));
}

#[test]
fn a_prepared_subordinate_never_decides_alone_and_resends_prepared() {
    let mut h = subordinate();
    let d1 = h.register(P::Durable2Pc, "d1");
    from_superior(&mut h, FromSuperior::Prepare);
    h.send(d1, P::Durable2Pc, M::Prepared);
    h.drain();
    h.engine.handle_log_written(&h.tx, true, h.now);
    h.drain();
    // Long past its Expires: still prepared, Prepared resent.
    for _ in 0..5 {
        h.advance(Duration::from_secs(30));
        let out = h.drain();
        assert_eq!(told(&out), [ToSuperior::Prepared]);
        assert!(!sent(&out, "d1", O::Rollback) && !sent(&out, "d1", O::Commit));
    }
    assert_eq!(h.engine.phase(&h.tx), Some(Phase::Prepared));
    // The superior's duplicate Prepare is answered Prepared.
    from_superior(&mut h, FromSuperior::Prepare);
    assert_eq!(told(&h.drain()), [ToSuperior::Prepared]);
}

#[test]
fn an_active_subordinate_past_its_expiry_aborts_and_tells_the_superior() {
    let mut h = subordinate();
    h.register(P::Durable2Pc, "d1");
    h.advance(Duration::from_secs(61));
    let out = h.drain();
    assert!(sent(&out, "d1", O::Rollback));
    assert_eq!(told(&out), [ToSuperior::Aborted]);
}

#[test]
fn a_subordinate_refuses_a_completion_registration() {
    let mut h = subordinate();
    assert_eq!(
        h.engine.handle_register(
            &h.tx,
            P::Completion,
            EndpointRef::new("http://app/init"),
            h.now
        ),
        Err(Fault::CannotRegisterParticipant)
    );
}

#[test]
fn recovery_replays_prepared_and_obeys_the_superior() {
    let now = Instant::now();
    let record = DecisionRecord {
        tx: TxId("urn:uuid:sub-2".into()),
        participants: vec![
            DecidedParticipant {
                id: ParticipantId(1),
                endpoint: EndpointRef::new("d1"),
            },
            DecidedParticipant {
                id: ParticipantId::SUPERIOR,
                endpoint: EndpointRef::new(SUPERIOR),
            },
        ],
    };
    for (answer, outbound, outcome) in [
        (FromSuperior::Commit, O::Commit, ToSuperior::Committed),
        (FromSuperior::Rollback, O::Rollback, ToSuperior::Aborted),
    ] {
        let mut engine = Coordinator::recovering(Config::default());
        engine.handle_log_loaded(vec![record.clone()], now);
        let mut h = Harness {
            engine,
            now,
            tx: record.tx.clone(),
        };
        let out = h.drain();
        assert_eq!(told(&out), [ToSuperior::Replay]);
        assert!(
            !sent(&out, "d1", O::Commit),
            "a subordinate never decides alone"
        );
        // Resent as Replay while the superior does not answer.
        h.advance(Duration::from_secs(6));
        assert_eq!(told(&h.drain()), [ToSuperior::Replay]);
        assert_eq!(h.engine.phase(&h.tx), Some(Phase::Prepared));
        from_superior(&mut h, answer);
        let out = h.drain();
        assert!(sent(&out, "d1", outbound));
        if answer == FromSuperior::Commit {
            h.send(ParticipantId(1), P::Durable2Pc, M::Committed);
            let out = h.drain();
            assert_eq!(told(&out), [outcome]);
            assert!(out.contains(&Command::ForgetLog(h.tx.clone())));
        } else {
            assert_eq!(told(&out), [outcome]);
            assert!(out.contains(&Command::ForgetLog(h.tx.clone())));
        }
    }
}

#[test]
fn unknown_subordinate_transactions_get_the_participant_views_none_answers() {
    let now = Instant::now();
    let tx = TxId("urn:uuid:gone".into());
    let reply = EndpointRef::new(SUPERIOR);
    let mut recovering = Coordinator::recovering(Config::default());
    recovering.handle_superior_message(&tx, FromSuperior::Commit, Some(reply.clone()), now);
    assert_eq!(
        recovering.poll_command(),
        None,
        "nothing before the log is loaded"
    );

    let mut engine = Coordinator::new(Config::default());
    for (message, answer) in [
        (FromSuperior::Prepare, ToSuperior::Aborted),
        (FromSuperior::Commit, ToSuperior::Committed),
        (FromSuperior::Rollback, ToSuperior::Aborted),
    ] {
        engine.handle_superior_message(&tx, message, Some(reply.clone()), now);
        let out: Vec<Command> = std::iter::from_fn(|| engine.poll_command()).collect();
        assert_eq!(told(&out), [answer]);
    }
}

#[test]
fn a_top_level_transaction_refuses_superior_messages() {
    let mut h = Harness::new();
    let tx = h.tx.clone();
    let reply = EndpointRef::new(SUPERIOR);
    h.engine
        .handle_superior_message(&tx, FromSuperior::Commit, Some(reply), h.now);
    let out = h.drain();
    assert!(matches!(
        out.as_slice(),
        [Command::Fault {
            fault: Fault::InvalidState,
            ..
        }]
    ));
    assert_eq!(h.engine.phase(&tx), Some(Phase::Active));
}
