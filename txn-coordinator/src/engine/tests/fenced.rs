//! A fenced instance (another instance took its transactions over) never
//! writes a decision and never leaves a participant in doubt: undecided
//! transactions roll back, a decision write under way is settled by the
//! fence's refusal or by reading the log, and a Prepared about a
//! transaction the engine does not hold is answered from the log.

use super::*;
use Inbound as M;
use Outbound as O;
use Protocol as P;

/// `d1` voted Prepared, `d2` has not voted yet: undecided.
fn one_prepared(h: &mut Harness) -> (ParticipantId, ParticipantId, ParticipantId) {
    let init = h.register(P::Completion, "init");
    let d1 = h.register(P::Durable2Pc, "d1");
    let d2 = h.register(P::Durable2Pc, "d2");
    h.send(init, P::Completion, M::Commit);
    h.send(d1, P::Durable2Pc, M::Prepared);
    h.drain();
    (init, d1, d2)
}

/// Both voted; the decision write is in flight.
fn logging(h: &mut Harness) -> (ParticipantId, ParticipantId) {
    let (_, d1, d2) = one_prepared(h);
    h.send(d2, P::Durable2Pc, M::Prepared);
    assert!(logged(&h.drain()).is_some());
    (d1, d2)
}

fn read_asked(commands: &[Command], tx: &TxId) -> bool {
    commands.contains(&Command::ReadDecision(tx.clone()))
}

#[test]
fn undecided_transactions_roll_back_at_once_and_nothing_is_ever_logged() {
    let mut h = Harness::new();
    let (_, d1, d2) = one_prepared(&mut h);
    h.engine.handle_fenced(h.now);
    let out = h.drain();
    assert!(sent(&out, "d1", O::Rollback) && sent(&out, "d2", O::Rollback));
    assert!(replied(&out, Outcome::Aborted));
    assert!(logged(&out).is_none());
    assert_eq!(h.engine.phase(&h.tx), Some(Phase::Aborted));
    // d2's late vote and d1's resent Prepared get Rollback, never a log
    // write.
    h.send(d2, P::Durable2Pc, M::Prepared);
    h.send(d1, P::Durable2Pc, M::Prepared);
    let out = h.drain();
    assert!(logged(&out).is_none());
    assert!(sent(&out, "d2", O::Rollback));
    // No new transaction either.
    let refused = h
        .engine
        .handle_create(TxId("urn:uuid:new".into()), None, h.now);
    assert_eq!(refused, Err(Fault::CannotCreateContext));
    assert!(h.engine.is_fenced());
}

#[test]
fn a_decision_write_refused_by_the_fence_did_not_land_so_the_transaction_rolls_back() {
    let mut h = Harness::new();
    logging(&mut h);
    h.engine.handle_log_refused(&h.tx, h.now);
    let out = h.drain();
    assert!(sent(&out, "d1", O::Rollback) && sent(&out, "d2", O::Rollback));
    assert!(replied(&out, Outcome::Aborted));
    assert!(logged(&out).is_none() && !read_asked(&out, &h.tx));
    // The retry timer never writes it again.
    h.advance(Duration::from_secs(30));
    assert!(logged(&h.drain()).is_none());
}

#[test]
fn a_write_that_may_have_landed_is_read_back_and_a_logged_decision_commits() {
    let mut h = Harness::new();
    logging(&mut h);
    // The write failed, result unknown; then the fence is learned.
    h.engine.handle_log_written(&h.tx, false, h.now);
    h.drain();
    h.engine.handle_fenced(h.now);
    let out = h.drain();
    assert!(read_asked(&out, &h.tx) && logged(&out).is_none());
    assert!(!sent(&out, "d1", O::Rollback));
    // The retry refused by the fence does not roll back either: the first
    // attempt may have landed.
    h.engine.handle_log_refused(&h.tx, h.now);
    assert!(!sent(&h.drain(), "d1", O::Rollback));
    h.engine.handle_decision_read(&h.tx, Some(true), h.now);
    let out = h.drain();
    assert!(sent(&out, "d1", O::Commit) && sent(&out, "d2", O::Commit));
    assert!(replied(&out, Outcome::Committed));
    assert_eq!(h.engine.phase(&h.tx), Some(Phase::Committing));
}

#[test]
fn a_write_that_may_have_landed_but_is_not_in_the_log_rolls_back_without_telling_the_initiator() {
    let mut h = Harness::new();
    logging(&mut h);
    h.engine.handle_fenced(h.now);
    assert!(h.drain().is_empty(), "a write in flight is waited for");
    h.engine.handle_log_written(&h.tx, false, h.now);
    let out = h.drain();
    assert!(read_asked(&out, &h.tx) && logged(&out).is_none());
    h.engine.handle_decision_read(&h.tx, Some(false), h.now);
    let out = h.drain();
    assert!(sent(&out, "d1", O::Rollback) && sent(&out, "d2", O::Rollback));
    assert!(
        !replied(&out, Outcome::Aborted) && !replied(&out, Outcome::Committed),
        "the outcome is unknown to this instance: {out:?}"
    );
}

#[test]
fn a_failed_read_is_retried_on_the_timer_never_the_write() {
    let mut h = Harness::new();
    logging(&mut h);
    h.engine.handle_log_written(&h.tx, false, h.now);
    h.engine.handle_fenced(h.now);
    assert!(read_asked(&h.drain(), &h.tx));
    h.engine.handle_decision_read(&h.tx, None, h.now);
    assert!(h.drain().is_empty());
    h.advance(Duration::from_secs(2));
    let out = h.drain();
    assert!(read_asked(&out, &h.tx) && logged(&out).is_none());
}

#[test]
fn a_prepared_about_an_unknown_transaction_is_answered_from_the_log() {
    // A fenced instance restarted: its log was never loaded.
    let now = Instant::now();
    let mut engine = Coordinator::recovering(Config::default());
    engine.handle_fenced(now);
    assert!(engine.is_loaded(), "answers come from the log now");
    let drain =
        |engine: &mut Coordinator| std::iter::from_fn(|| engine.poll_command()).collect::<Vec<_>>();
    let (committed, undecided) = (TxId("urn:uuid:c".into()), TxId("urn:uuid:u".into()));
    for (tx, who) in [(&committed, "p1"), (&committed, "p2"), (&undecided, "p3")] {
        let from = Some(EndpointRef::new(who));
        engine.handle_message(tx, ParticipantId(1), P::Durable2Pc, from, M::Prepared, now);
    }
    let out = drain(&mut engine);
    // One read per transaction, nothing answered yet.
    assert_eq!(
        out,
        [
            Command::ReadDecision(committed.clone()),
            Command::ReadDecision(undecided.clone())
        ]
    );
    engine.handle_decision_read(&committed, Some(true), now);
    engine.handle_decision_read(&undecided, Some(false), now);
    let out = drain(&mut engine);
    assert!(sent(&out, "p1", O::Commit) && sent(&out, "p2", O::Commit));
    assert!(sent(&out, "p3", O::Rollback));
    // Other messages keep their answers: a volatile Prepared gets
    // UnknownTransaction, a Committed nothing.
    let from = Some(EndpointRef::new("v"));
    engine.handle_message(
        &undecided,
        ParticipantId(2),
        P::Volatile2Pc,
        from,
        M::Prepared,
        now,
    );
    engine.handle_message(
        &undecided,
        ParticipantId(1),
        P::Durable2Pc,
        None,
        M::Committed,
        now,
    );
    assert_eq!(
        drain(&mut engine),
        [Command::Fault {
            tx: undecided,
            to: None,
            endpoint: EndpointRef::new("v"),
            fault: Fault::UnknownTransaction
        }]
    );
}

#[test]
fn pending_reads_are_bounded() {
    let now = Instant::now();
    let mut engine = Coordinator::new(Config::default());
    engine.handle_fenced(now);
    for i in 0..MAX_PENDING_READS + 10 {
        let tx = TxId(format!("urn:uuid:{i}"));
        let from = Some(EndpointRef::new("p"));
        engine.handle_message(&tx, ParticipantId(0), P::Durable2Pc, from, M::Prepared, now);
    }
    let reads = std::iter::from_fn(|| engine.poll_command())
        .filter(|c| matches!(c, Command::ReadDecision(_)))
        .count();
    assert_eq!(reads, MAX_PENDING_READS);
}

#[test]
fn a_committing_transaction_keeps_answering_commit() {
    let mut h = Harness::new();
    let (d1, _) = logging(&mut h);
    h.engine.handle_log_written(&h.tx, true, h.now);
    h.drain();
    h.engine.handle_fenced(h.now);
    assert!(h.drain().is_empty());
    h.send(d1, P::Durable2Pc, M::Prepared);
    assert!(sent(&h.drain(), "d1", O::Commit));
}

#[test]
fn an_undecided_subordinate_tells_its_superior_aborted() {
    let now = Instant::now();
    let mut engine = Coordinator::new(Config::default());
    let tx = TxId("urn:uuid:sub".into());
    engine
        .handle_create_subordinate(tx.clone(), None, now)
        .unwrap();
    assert!(engine.handle_superior_registered(&tx, EndpointRef::new("superior")));
    engine
        .handle_register(&tx, P::Durable2Pc, EndpointRef::new("d1"), now)
        .unwrap();
    engine.handle_superior_message(&tx, FromSuperior::Prepare, None, now);
    std::iter::from_fn(|| engine.poll_command()).for_each(drop);
    engine.handle_fenced(now);
    let out: Vec<_> = std::iter::from_fn(|| engine.poll_command()).collect();
    assert!(sent(&out, "d1", O::Rollback));
    assert!(out.iter().any(|c| matches!(
        c,
        Command::NotifySuperior {
            message: ToSuperior::Aborted,
            ..
        }
    )));
}

#[test]
fn a_subordinate_whose_prepared_record_is_in_the_log_still_tells_its_superior_prepared() {
    let now = Instant::now();
    let mut engine = Coordinator::new(Config::default());
    let tx = TxId("urn:uuid:sub".into());
    engine
        .handle_create_subordinate(tx.clone(), None, now)
        .unwrap();
    assert!(engine.handle_superior_registered(&tx, EndpointRef::new("superior")));
    let d1 = engine
        .handle_register(&tx, P::Durable2Pc, EndpointRef::new("d1"), now)
        .unwrap();
    engine.handle_superior_message(&tx, FromSuperior::Prepare, None, now);
    engine.handle_message(&tx, d1, P::Durable2Pc, None, M::Prepared, now);
    let out: Vec<_> = std::iter::from_fn(|| engine.poll_command()).collect();
    assert!(logged(&out).is_some(), "the prepared record is written");
    // The write's result is lost, then the fence is learned: read.
    engine.handle_log_written(&tx, false, now);
    engine.handle_fenced(now);
    let out: Vec<_> = std::iter::from_fn(|| engine.poll_command()).collect();
    assert!(read_asked(&out, &tx) && !sent(&out, "d1", O::Rollback));
    engine.handle_decision_read(&tx, Some(true), now);
    let out: Vec<_> = std::iter::from_fn(|| engine.poll_command()).collect();
    assert!(out.iter().any(|c| matches!(
        c,
        Command::NotifySuperior {
            message: ToSuperior::Prepared,
            ..
        }
    )));
    assert!(!sent(&out, "d1", O::Rollback));
}
