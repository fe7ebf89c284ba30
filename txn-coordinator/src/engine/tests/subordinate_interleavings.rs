//! Random interleavings of a subordinate transaction with a simulated
//! superior and simulated local participants: the superior's Prepare
//! (resent until it decides), Commit and Rollback (resent at will), the
//! locals' votes and answers,
//! prepared-record writes that fail or complete, timers and crashes with
//! recovery from what the log holds. The invariants are checked on every
//! command, then the run is settled and the outcome checked:
//!
//! - Prepared reaches the superior only once a prepared record naming the
//!   superior is durable, holding every durable local that voted Prepared;
//! - no local gets Commit unless the superior decided commit, and none
//!   gets both Commit and Rollback;
//! - after Prepared, the subordinate answers Aborted only if the superior
//!   decided rollback, and Committed only if it decided commit;
//! - ReadOnly only when no local voted Prepared;
//! - the prepared record is dropped only once the superior decided;
//! - at the end every durable local that voted Prepared has the superior's
//!   outcome and the log holds nothing.

use proptest::prelude::*;

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Vote {
    Prepared,
    ReadOnly,
    Aborted,
}

#[derive(Debug)]
struct Local {
    protocol: Protocol,
    vote: Vote,
    id: ParticipantId,
    got_prepare: bool,
    voted: bool,
    got_commit: bool,
    got_rollback: bool,
}

#[derive(Debug, Clone, Copy)]
enum Step {
    SuperiorPrepare,
    SuperiorCommit,
    SuperiorRollback,
    Vote(usize),
    Answer(usize),
    LocalResend(usize),
    LogResult(bool),
    Advance(u64),
    Crash,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => Just(Step::SuperiorPrepare),
        2 => Just(Step::SuperiorCommit),
        1 => Just(Step::SuperiorRollback),
        4 => (0usize..4).prop_map(Step::Vote),
        2 => (0usize..4).prop_map(Step::Answer),
        1 => (0usize..4).prop_map(Step::LocalResend),
        2 => any::<bool>().prop_map(Step::LogResult),
        2 => (1u64..40).prop_map(Step::Advance),
        1 => Just(Step::Crash),
    ]
}

fn vote() -> impl Strategy<Value = Vote> {
    prop_oneof![
        6 => Just(Vote::Prepared),
        2 => Just(Vote::ReadOnly),
        1 => Just(Vote::Aborted),
    ]
}

const SUPERIOR: &str = "superior";

struct World {
    engine: Coordinator,
    config: Config,
    now: Instant,
    tx: TxId,
    locals: Vec<Local>,
    stored: Option<DecisionRecord>,
    pending_write: Option<DecisionRecord>,
    /// What the superior heard.
    heard_prepared: bool,
    heard_aborted: bool,
    heard_read_only: bool,
    /// The superior's decision: `Some(true)` commit.
    decision: Option<bool>,
}

impl World {
    fn new(locals: &[(bool, Vote)]) -> Self {
        let config = Config {
            resend_after: Duration::from_secs(1),
            linger: Duration::from_secs(10),
            ..Config::default()
        };
        let now = Instant::now();
        let mut engine = Coordinator::new(config.clone());
        let tx = TxId("urn:uuid:sub".into());
        engine
            .handle_create_subordinate(tx.clone(), Some(now + Duration::from_secs(60)), now)
            .unwrap();
        assert!(engine.handle_superior_registered(&tx, EndpointRef::new(SUPERIOR)));
        let locals = locals
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
                Local {
                    protocol,
                    vote,
                    id,
                    got_prepare: false,
                    voted: false,
                    got_commit: false,
                    got_rollback: false,
                }
            })
            .collect();
        let mut world = Self {
            engine,
            config,
            now,
            tx,
            locals,
            stored: None,
            pending_write: None,
            heard_prepared: false,
            heard_aborted: false,
            heard_read_only: false,
            decision: None,
        };
        world.pump();
        world
    }

    fn superior(&mut self, message: FromSuperior) {
        let tx = self.tx.clone();
        self.engine.handle_superior_message(
            &tx,
            message,
            Some(EndpointRef::new(SUPERIOR)),
            self.now,
        );
    }

    fn local_says(&mut self, i: usize, message: Inbound) {
        let Some(local) = self.locals.get(i) else {
            return;
        };
        let (id, protocol) = (local.id, local.protocol);
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

    fn apply(&mut self, step: Step) {
        match step {
            // A superior resends Prepare only while it waits for the vote.
            Step::SuperiorPrepare => {
                if self.decision.is_none() {
                    self.superior(FromSuperior::Prepare);
                }
            }
            Step::SuperiorCommit => {
                if self.heard_prepared && !self.heard_aborted && self.decision != Some(false) {
                    self.decision = Some(true);
                    self.superior(FromSuperior::Commit);
                }
            }
            Step::SuperiorRollback => {
                if self.decision != Some(true) {
                    self.decision = Some(false);
                    self.superior(FromSuperior::Rollback);
                }
            }
            Step::Vote(i) => {
                let Some(local) = self.locals.get_mut(i) else {
                    return;
                };
                if !local.got_prepare || local.voted {
                    return;
                }
                local.voted = true;
                let message = match local.vote {
                    Vote::Prepared => Inbound::Prepared,
                    Vote::ReadOnly => Inbound::ReadOnly,
                    Vote::Aborted => Inbound::Aborted,
                };
                self.local_says(i, message);
            }
            Step::Answer(i) => {
                let Some(local) = self.locals.get(i) else {
                    return;
                };
                if local.got_commit {
                    self.local_says(i, Inbound::Committed);
                } else if local.got_rollback {
                    self.local_says(i, Inbound::Aborted);
                }
            }
            Step::LocalResend(i) => {
                let Some(local) = self.locals.get(i) else {
                    return;
                };
                let in_doubt = local.voted
                    && local.vote == Vote::Prepared
                    && !local.got_commit
                    && !local.got_rollback;
                if in_doubt && local.protocol == Protocol::Durable2Pc {
                    self.local_says(i, Inbound::Prepared);
                }
            }
            Step::LogResult(ok) => {
                if let Some(record) = self.pending_write.take() {
                    if ok {
                        self.stored = Some(record);
                    }
                    let tx = self.tx.clone();
                    self.engine.handle_log_written(&tx, ok, self.now);
                }
            }
            Step::Advance(secs) => {
                self.now += Duration::from_secs(secs);
                self.engine.handle_timeout(self.now);
            }
            Step::Crash => {
                self.pending_write = None;
                self.engine = Coordinator::recovering(self.config.clone());
                self.engine
                    .handle_log_loaded(self.stored.iter().cloned().collect(), self.now);
            }
        }
        self.pump();
    }

    /// Takes the engine's commands, checking the invariants.
    fn pump(&mut self) {
        while let Some(command) = self.engine.poll_command() {
            match command {
                Command::Send {
                    endpoint, message, ..
                } => {
                    let i: usize = endpoint.address.parse().expect("a local");
                    let decision = self.decision;
                    let local = self.locals.get_mut(i).expect("a local");
                    match message {
                        Outbound::Prepare => local.got_prepare = true,
                        Outbound::Commit => {
                            assert_eq!(decision, Some(true), "Commit before the superior's");
                            assert!(!local.got_rollback, "Commit after Rollback");
                            local.got_commit = true;
                        }
                        Outbound::Rollback => {
                            let in_doubt = local.voted && local.vote == Vote::Prepared;
                            assert!(
                                !(local.got_commit && in_doubt),
                                "Rollback after Commit to a prepared local"
                            );
                            if in_doubt {
                                assert_ne!(
                                    decision,
                                    Some(true),
                                    "Rollback to a prepared local of a committed transaction"
                                );
                            }
                            local.got_rollback = true;
                        }
                        Outbound::Committed | Outbound::Aborted => {}
                    }
                }
                Command::NotifySuperior {
                    endpoint, message, ..
                } => {
                    assert_eq!(endpoint.address, SUPERIOR);
                    match message {
                        ToSuperior::Prepared | ToSuperior::Replay => {
                            let record = self
                                .stored
                                .as_ref()
                                .expect("Prepared before the record is durable");
                            assert!(record.superior().is_some());
                            for local in &self.locals {
                                if local.protocol == Protocol::Durable2Pc
                                    && local.voted
                                    && local.vote == Vote::Prepared
                                {
                                    let record = self
                                        .stored
                                        .as_ref()
                                        .expect("Prepared before the record is durable");
                                    assert!(record.superior().is_some());
                                    assert!(
                                        record.participants.iter().any(|p| p.id == local.id),
                                        "a prepared durable local missing from the record"
                                    );
                                }
                            }
                            if self.decision.is_none() {
                                self.heard_prepared = true;
                            }
                        }
                        ToSuperior::ReadOnly => {
                            assert!(
                                !self
                                    .locals
                                    .iter()
                                    .any(|l| l.voted && l.vote == Vote::Prepared),
                                "ReadOnly with a local prepared"
                            );
                            self.heard_read_only = true;
                        }
                        ToSuperior::Aborted => {
                            if self.heard_prepared {
                                assert_eq!(
                                    self.decision,
                                    Some(false),
                                    "Aborted after Prepared without the superior's Rollback"
                                );
                            }
                            if self.decision.is_none() {
                                self.heard_aborted = true;
                            }
                        }
                        ToSuperior::Committed => {
                            assert_eq!(self.decision, Some(true), "Committed without Commit");
                        }
                        ToSuperior::InconsistentInternalState => {
                            assert_eq!(
                                self.decision,
                                Some(true),
                                "InconsistentInternalState without Commit"
                            );
                        }
                    }
                }
                Command::ForceLog(record) => {
                    assert_eq!(
                        record.superior(),
                        Some(&EndpointRef::new(SUPERIOR)),
                        "a subordinate's record names its superior"
                    );
                    self.pending_write = Some(record);
                }
                Command::ForgetLog(_) => {
                    assert!(
                        self.decision.is_some(),
                        "the prepared record dropped before the superior decided"
                    );
                    self.stored = None;
                }
                Command::Reply { .. } => panic!("a subordinate has no initiator"),
                Command::ReadDecision(_) => panic!("these runs are never fenced"),
                Command::Fault { .. }
                | Command::ParticipantDone { .. }
                | Command::LogHeuristic(_)
                | Command::SetTimer(_) => {}
            }
        }
    }

    /// Lets everyone finish: the superior decides (commit only if it heard
    /// Prepared) and resends, locals vote, answer and resend, writes
    /// succeed, time passes.
    fn settle(&mut self) {
        if self.decision.is_none() {
            let commit = self.heard_prepared && !self.heard_aborted;
            self.decision = Some(commit);
        }
        for _ in 0..20 {
            let message = if self.decision == Some(true) {
                FromSuperior::Commit
            } else {
                FromSuperior::Rollback
            };
            if !self.heard_read_only {
                self.superior(message);
            }
            self.pump();
            for i in 0..self.locals.len() {
                self.apply(Step::Vote(i));
                self.apply(Step::Answer(i));
                self.apply(Step::LocalResend(i));
            }
            self.apply(Step::LogResult(true));
            self.apply(Step::Advance(15));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn a_subordinate_follows_its_superior_whatever_the_interleaving(
        locals in prop::collection::vec((any::<bool>(), vote()), 0..4),
        steps in prop::collection::vec(step(), 0..40),
    ) {
        let mut world = World::new(&locals);
        for step in steps {
            world.apply(step);
        }
        world.settle();
        let decision = world.decision;
        for local in &world.locals {
            if local.protocol == Protocol::Durable2Pc && local.voted && local.vote == Vote::Prepared {
                prop_assert!(
                    local.got_commit || local.got_rollback,
                    "a prepared durable local never heard the outcome: {:?}", local
                );
                prop_assert_eq!(local.got_commit, decision == Some(true));
            }
        }
        prop_assert!(world.stored.is_none(), "the prepared record is left in the log");
    }
}
