//! Random interleavings against simulated participants that follow the
//! spec's participant view: votes, duplicated, reordered and lost messages,
//! timers, log writes that fail or complete, coordinator crashes and
//! recoveries. After each run the network is drained and the invariants are
//! checked.
//!
//! "Never both Commit and Rollback" is checked as: no Commit after any
//! Rollback of the transaction, and no Rollback to a participant in doubt
//! after a Commit. A Rollback answering a stale duplicate Prepared from a
//! participant that has already committed, after the coordinator crashed and
//! forgot the finished transaction, is the spec's presumed-abort answer and
//! harmless (the participant answers Aborted from its None state).

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Vote {
    Prepared,
    ReadOnly,
    Aborted,
}

/// A participant as it sees itself (the spec's participant view).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Local {
    Active,
    Prepared,
    /// Done: voted ReadOnly or Aborted, or applied the outcome.
    None,
    Committed,
    RolledBack,
}

#[derive(Debug)]
struct Sim {
    protocol: Protocol,
    vote: Vote,
    id: ParticipantId,
    state: Local,
}

#[derive(Debug, Clone, Copy)]
enum Event {
    InitiatorCommit,
    Deliver(usize),
    Duplicate(usize),
    Lose(usize),
    Advance(u64),
    LogDone(bool),
    ParticipantRetry(usize),
    LateVolatile,
    Crash { persisted: bool },
    Recover,
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        2 => Just(Event::InitiatorCommit),
        8 => any::<usize>().prop_map(Event::Deliver),
        1 => any::<usize>().prop_map(Event::Duplicate),
        1 => any::<usize>().prop_map(Event::Lose),
        2 => (0u64..4000).prop_map(Event::Advance),
        2 => any::<bool>().prop_map(Event::LogDone),
        1 => any::<usize>().prop_map(Event::ParticipantRetry),
        1 => Just(Event::LateVolatile),
        1 => any::<bool>().prop_map(|persisted| Event::Crash { persisted }),
        1 => Just(Event::Recover),
    ]
}

fn vote() -> impl Strategy<Value = Vote> {
    prop_oneof![
        6 => Just(Vote::Prepared),
        2 => Just(Vote::ReadOnly),
        1 => Just(Vote::Aborted),
    ]
}

/// In flight: to the coordinator (participant index, message) or to a
/// participant.
#[derive(Debug, Clone, Copy)]
enum Wire {
    ToCoordinator(usize, Inbound),
    ToParticipant(usize, Outbound),
}

struct World {
    engine: Coordinator,
    now: Instant,
    tx: TxId,
    initiator: ParticipantId,
    sims: Vec<Sim>,
    wire: Vec<Wire>,
    /// The log as stored: decisions forced and not forgotten.
    stored: BTreeMap<TxId, DecisionRecord>,
    done: BTreeSet<ParticipantId>,
    /// A ForceLog issued and not yet reported.
    pending_write: Option<DecisionRecord>,
    /// Whether a decision was ever durable.
    decision_durable: bool,
    force_logs: usize,
    commit_sent: bool,
    rollback_before_commit: bool,
    replies: Vec<Outcome>,
    /// The timer the engine asked for; the simulated driver calls
    /// `handle_timeout` only when it is due, so a missing `SetTimer` shows
    /// as a participant never told.
    timer: Option<Instant>,
}

const RESEND: Duration = Duration::from_millis(1000);

fn config() -> Config {
    Config {
        resend_after: RESEND,
        linger: Duration::from_secs(30),
        ..Config::default()
    }
}

impl World {
    fn new(votes: &[(bool, Vote)]) -> Self {
        let now = Instant::now();
        let mut engine = Coordinator::new(config());
        let tx = TxId("urn:uuid:prop".to_owned());
        let expires = now + Duration::from_secs(20);
        engine
            .handle_create(tx.clone(), Some(expires), now)
            .unwrap();
        let initiator = engine
            .handle_register(&tx, Protocol::Completion, EndpointRef::new("init"), now)
            .unwrap();
        let sims = votes
            .iter()
            .enumerate()
            .map(|(i, &(durable, vote))| {
                let protocol = if durable {
                    Protocol::Durable2Pc
                } else {
                    Protocol::Volatile2Pc
                };
                let id = engine
                    .handle_register(&tx, protocol, EndpointRef::new(i.to_string()), now)
                    .unwrap();
                Sim {
                    protocol,
                    vote,
                    id,
                    state: Local::Active,
                }
            })
            .collect();
        Self {
            engine,
            now,
            tx,
            initiator,
            sims,
            wire: Vec::new(),
            stored: BTreeMap::new(),
            done: BTreeSet::new(),
            pending_write: None,
            decision_durable: false,
            force_logs: 0,
            commit_sent: false,
            rollback_before_commit: false,
            replies: Vec::new(),
            timer: None,
        }
    }

    fn sim_index(&self, endpoint: &EndpointRef) -> Option<usize> {
        endpoint.address.parse().ok()
    }

    /// Takes the engine's commands, checking the invariants as they come.
    fn pump(&mut self) {
        while let Some(command) = self.engine.poll_command() {
            match command {
                Command::Send {
                    endpoint, message, ..
                } => {
                    let i = self.sim_index(&endpoint).expect("a simulated endpoint");
                    match message {
                        Outbound::Commit => {
                            let any_durable_prepared = self.sims.iter().any(|s| {
                                s.protocol == Protocol::Durable2Pc && s.vote == Vote::Prepared
                            });
                            assert!(
                                self.decision_durable
                                    || !any_durable_prepared
                                    || self.force_logs == 0,
                                "Commit sent before the decision was durable"
                            );
                            assert!(
                                !self.rollback_before_commit,
                                "Commit after a Rollback for the same transaction"
                            );
                            self.commit_sent = true;
                        }
                        Outbound::Rollback => {
                            let in_doubt =
                                self.sims.get(i).is_some_and(|s| s.state == Local::Prepared);
                            assert!(
                                !(self.commit_sent && in_doubt),
                                "Rollback to an in-doubt participant of a committing transaction"
                            );
                            if !self.commit_sent {
                                self.rollback_before_commit = true;
                            }
                        }
                        Outbound::Prepare | Outbound::Committed | Outbound::Aborted => {}
                    }
                    self.wire.push(Wire::ToParticipant(i, message));
                }
                Command::Reply { outcome, .. } => self.replies.push(outcome),
                Command::SetTimer(at) => self.timer = Some(at),
                Command::ReadDecision(_) => panic!("these runs are never fenced"),
                Command::Fault { .. } | Command::LogHeuristic(_) => {}
                Command::ForceLog(record) => {
                    assert!(
                        record
                            .participants
                            .iter()
                            .all(|p| self.sims.iter().any(|s| s.id == p.id
                                && s.protocol == Protocol::Durable2Pc
                                && s.vote == Vote::Prepared)),
                        "only prepared durable participants are logged"
                    );
                    assert!(!record.participants.is_empty());
                    self.force_logs += 1;
                    self.pending_write = Some(record);
                }
                Command::ParticipantDone { participant, .. } => {
                    self.done.insert(participant);
                }
                Command::ForgetLog(tx) => {
                    self.stored.remove(&tx);
                }
                Command::NotifySuperior { .. } => {
                    panic!("a top-level transaction has no superior")
                }
            }
        }
        // The driver is never asked to sleep past work the engine has.
        let next = self.engine.txs.values().filter_map(|t| t.deadline()).min();
        if let Some(next) = next {
            assert!(
                self.timer.is_some_and(|at| at <= next),
                "a deadline at {next:?} with the timer at {:?}",
                self.timer
            );
        }
    }

    fn send_to_coordinator(&mut self, i: usize, message: Inbound) {
        self.wire.push(Wire::ToCoordinator(i, message));
    }

    fn deliver(&mut self, wire: Wire) {
        match wire {
            Wire::ToCoordinator(i, message) => {
                let Some(sim) = self.sims.get(i) else { return };
                let (id, protocol) = (sim.id, sim.protocol);
                let tx = self.tx.clone();
                self.engine.handle_message(
                    &tx,
                    id,
                    protocol,
                    Some(EndpointRef::new(i.to_string())),
                    message,
                    self.now,
                );
            }
            Wire::ToParticipant(i, message) => {
                let Some(sim) = self.sims.get_mut(i) else {
                    return;
                };
                let reply = match (message, sim.state) {
                    (Outbound::Prepare, Local::Active) => {
                        let (next, reply) = match sim.vote {
                            Vote::Prepared => (Local::Prepared, Inbound::Prepared),
                            Vote::ReadOnly => (Local::None, Inbound::ReadOnly),
                            Vote::Aborted => (Local::None, Inbound::Aborted),
                        };
                        sim.state = next;
                        Some(reply)
                    }
                    (Outbound::Prepare, Local::Prepared) => Some(Inbound::Prepared),
                    (Outbound::Prepare, _) => Some(Inbound::Aborted),
                    (Outbound::Commit, Local::Prepared) => {
                        sim.state = Local::Committed;
                        Some(Inbound::Committed)
                    }
                    (Outbound::Commit, _) => Some(Inbound::Committed),
                    (Outbound::Rollback, Local::Active | Local::Prepared) => {
                        sim.state = Local::RolledBack;
                        Some(Inbound::Aborted)
                    }
                    (Outbound::Rollback, _) => Some(Inbound::Aborted),
                    (Outbound::Committed | Outbound::Aborted, _) => None,
                };
                if let Some(reply) = reply {
                    self.send_to_coordinator(i, reply);
                }
            }
        }
    }

    fn step(&mut self, event: Event) {
        match event {
            Event::InitiatorCommit => {
                let tx = self.tx.clone();
                self.engine.handle_message(
                    &tx,
                    self.initiator,
                    Protocol::Completion,
                    None,
                    Inbound::Commit,
                    self.now,
                );
            }
            Event::Deliver(k) | Event::Duplicate(k) | Event::Lose(k) => {
                if self.wire.is_empty() {
                    return;
                }
                let k = k % self.wire.len();
                let wire = match event {
                    Event::Duplicate(_) => self.wire[k],
                    _ => self.wire.remove(k),
                };
                if !matches!(event, Event::Lose(_)) {
                    self.deliver(wire);
                }
            }
            Event::Advance(ms) => {
                self.now += Duration::from_millis(ms);
                if self.timer.is_some_and(|at| at <= self.now) {
                    self.timer = None;
                    self.engine.handle_timeout(self.now);
                }
            }
            Event::LogDone(durable) => {
                if let Some(record) = self.pending_write.take() {
                    if durable {
                        self.decision_durable = true;
                        self.stored.insert(record.tx.clone(), record);
                    }
                    let tx = self.tx.clone();
                    self.engine.handle_log_written(&tx, durable, self.now);
                }
            }
            Event::ParticipantRetry(k) => {
                if self.sims.is_empty() {
                    return;
                }
                let i = k % self.sims.len();
                if self.sims[i].state == Local::Prepared {
                    self.send_to_coordinator(i, Inbound::Prepared);
                }
            }
            Event::LateVolatile => {
                let phase = self.engine.phase(&self.tx);
                let index = self.sims.len();
                let result = self.engine.handle_register(
                    &self.tx,
                    Protocol::Volatile2Pc,
                    EndpointRef::new(index.to_string()),
                    self.now,
                );
                let allowed = matches!(phase, Some(Phase::Active | Phase::PreparingVolatile));
                if allowed {
                    let id = result.expect("registration while volatiles may join");
                    self.sims.push(Sim {
                        protocol: Protocol::Volatile2Pc,
                        vote: Vote::Prepared,
                        id,
                        state: Local::Active,
                    });
                } else {
                    assert_eq!(result, Err(Fault::CannotRegisterParticipant));
                }
            }
            Event::Crash { persisted } => {
                if let Some(record) = self.pending_write.take()
                    && persisted
                {
                    self.decision_durable = true;
                    self.stored.insert(record.tx.clone(), record);
                }
                self.engine = Coordinator::recovering(config());
                self.timer = None;
            }
            Event::Recover => {
                if !self.engine.is_loaded() {
                    let records = self
                        .stored
                        .values()
                        .map(|r| DecisionRecord {
                            tx: r.tx.clone(),
                            participants: r
                                .participants
                                .iter()
                                .filter(|p| !self.done.contains(&p.id))
                                .cloned()
                                .collect(),
                        })
                        .collect();
                    self.engine.handle_log_loaded(records, self.now);
                }
            }
        }
        self.pump();
    }

    /// No more faults: deliver everything, let timers and retries run, and
    /// finish log writes, until the participants are settled.
    fn settle(&mut self) {
        self.step(Event::Recover);
        for _ in 0..50 {
            self.step(Event::LogDone(true));
            while !self.wire.is_empty() {
                self.step(Event::Deliver(0));
            }
            for i in 0..self.sims.len() {
                self.step(Event::ParticipantRetry(i));
            }
            self.step(Event::Advance(RESEND.as_millis() as u64 + 1));
        }
    }

    fn check_outcome(&self) {
        let committed = self
            .sims
            .iter()
            .filter(|s| s.state == Local::Committed)
            .count();
        let rolled_back = self
            .sims
            .iter()
            .filter(|s| s.state == Local::RolledBack)
            .count();
        assert!(
            committed == 0 || rolled_back == 0,
            "mixed outcome: {committed} committed, {rolled_back} rolled back: {:?}",
            self.sims
        );
        for s in &self.sims {
            if s.protocol == Protocol::Durable2Pc {
                assert_ne!(
                    s.state,
                    Local::Prepared,
                    "a durable participant never learned the decision: {:?}",
                    self.sims
                );
            }
        }
        let all_read_only = self
            .sims
            .iter()
            .all(|s| s.protocol != Protocol::Durable2Pc || s.vote != Vote::Prepared);
        if all_read_only {
            assert_eq!(
                self.force_logs, 0,
                "a log write with nothing durable to decide"
            );
        }
        if self.sims.iter().any(|s| s.vote == Vote::Aborted) {
            assert_eq!(committed, 0);
        }
        if committed > 0
            && self
                .sims
                .iter()
                .any(|s| s.protocol == Protocol::Durable2Pc && s.vote == Vote::Prepared)
        {
            assert!(self.decision_durable);
        }
        assert!(
            !(self.replies.contains(&Outcome::Committed)
                && self.replies.contains(&Outcome::Aborted)),
            "the initiator heard both outcomes"
        );
        if self.replies.contains(&Outcome::Committed) {
            assert_eq!(rolled_back, 0);
        }
        if self.replies.contains(&Outcome::Aborted) {
            assert_eq!(committed, 0);
        }
        if !self.engine.is_loaded() {
            return;
        }
        // Durable decisions are dropped once every participant answered.
        if self.sims.iter().all(|s| s.state != Local::Prepared) && committed > 0 {
            assert!(self.stored.is_empty(), "decision never forgotten");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_interleavings_keep_the_transaction_atomic(
        votes in prop::collection::vec((any::<bool>(), vote()), 0..5),
        events in prop::collection::vec(event(), 0..80),
    ) {
        let mut world = World::new(&votes);
        world.pump();
        for e in events {
            world.step(e);
        }
        world.settle();
        world.check_outcome();
    }
}

/// Several transactions share the engine's one timer: each must still be
/// driven to its end when the driver only wakes at the announced time.
mod shared_timer {
    use super::*;

    #[derive(Debug, Clone, Copy)]
    enum Step {
        Complete(usize),
        Deliver(usize),
        Lose(usize),
        Advance(u64),
        LogDone(usize),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            1 => any::<usize>().prop_map(Step::Complete),
            4 => any::<usize>().prop_map(Step::Deliver),
            1 => any::<usize>().prop_map(Step::Lose),
            2 => (0u64..3000).prop_map(Step::Advance),
            2 => any::<usize>().prop_map(Step::LogDone),
        ]
    }

    struct Driver {
        engine: Coordinator,
        now: Instant,
        timer: Option<Instant>,
        /// (tx, participant, message to the participant).
        wire: Vec<(TxId, ParticipantId, Outbound)>,
        pending_logs: Vec<TxId>,
        committed: BTreeSet<(TxId, ParticipantId)>,
    }

    impl Driver {
        fn pump(&mut self) {
            while let Some(command) = self.engine.poll_command() {
                match command {
                    Command::Send {
                        tx, to, message, ..
                    } => self.wire.push((tx, to, message)),
                    Command::ForceLog(record) => self.pending_logs.push(record.tx),
                    Command::SetTimer(at) => self.timer = Some(at),
                    _ => {}
                }
            }
            let next = self.engine.txs.values().filter_map(|t| t.deadline()).min();
            if let Some(next) = next {
                assert!(self.timer.is_some_and(|at| at <= next));
            }
        }

        fn deliver(&mut self, (tx, to, message): (TxId, ParticipantId, Outbound)) {
            let reply = match message {
                Outbound::Prepare => Inbound::Prepared,
                Outbound::Commit => {
                    self.committed.insert((tx.clone(), to));
                    Inbound::Committed
                }
                _ => return,
            };
            self.engine
                .handle_message(&tx, to, Protocol::Durable2Pc, None, reply, self.now);
        }

        fn advance(&mut self, ms: u64) {
            self.now += Duration::from_millis(ms);
            if self.timer.is_some_and(|at| at <= self.now) {
                self.timer = None;
                self.engine.handle_timeout(self.now);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn every_transaction_finishes_on_the_shared_timer(
            sizes in prop::collection::vec(1usize..3, 1..5),
            steps in prop::collection::vec(step(), 0..60),
        ) {
            let now = Instant::now();
            let mut d = Driver {
                engine: Coordinator::new(Config { resend_after: RESEND, ..Config::default() }),
                now,
                timer: None,
                wire: Vec::new(),
                pending_logs: Vec::new(),
                committed: BTreeSet::new(),
            };
            let mut txs = Vec::new();
            for (n, &size) in sizes.iter().enumerate() {
                let tx = TxId(format!("urn:uuid:{n}"));
                d.engine.handle_create(tx.clone(), None, now).unwrap();
                let init = d.engine
                    .handle_register(&tx, Protocol::Completion, EndpointRef::new("init"), now)
                    .unwrap();
                let ids: Vec<_> = (0..size)
                    .map(|p| d.engine
                        .handle_register(&tx, Protocol::Durable2Pc, EndpointRef::new(p.to_string()), now)
                        .unwrap())
                    .collect();
                txs.push((tx, init, ids));
            }
            d.pump();
            for s in steps {
                match s {
                    Step::Complete(k) => {
                        let (tx, init, _) = &txs[k % txs.len()];
                        d.engine.handle_message(tx, *init, Protocol::Completion, None, Inbound::Commit, d.now);
                    }
                    Step::Deliver(k) | Step::Lose(k) if !d.wire.is_empty() => {
                        let m = d.wire.remove(k % d.wire.len());
                        if matches!(s, Step::Deliver(_)) {
                            d.deliver(m);
                        }
                    }
                    Step::Deliver(_) | Step::Lose(_) => {}
                    Step::Advance(ms) => d.advance(ms),
                    Step::LogDone(k) if !d.pending_logs.is_empty() => {
                        let tx = d.pending_logs.remove(k % d.pending_logs.len());
                        d.engine.handle_log_written(&tx, true, d.now);
                    }
                    Step::LogDone(_) => {}
                }
                d.pump();
            }
            // Settle: every initiator commits; no more losses.
            for (tx, init, _) in &txs {
                d.engine.handle_message(tx, *init, Protocol::Completion, None, Inbound::Commit, d.now);
            }
            d.pump();
            for _ in 0..20 {
                for tx in std::mem::take(&mut d.pending_logs) {
                    d.engine.handle_log_written(&tx, true, d.now);
                }
                d.pump();
                while let Some(m) = d.wire.pop() {
                    d.deliver(m);
                    d.pump();
                }
                d.advance(RESEND.as_millis() as u64 + 1);
                d.pump();
            }
            for (tx, _, ids) in &txs {
                // Committed, or already dropped after its linger time.
                prop_assert!(matches!(d.engine.phase(tx), Some(Phase::Committed) | None));
                for id in ids {
                    prop_assert!(d.committed.contains(&(tx.clone(), *id)));
                }
            }
        }
    }
}
