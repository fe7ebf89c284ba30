//! Random sequences of appends, acknowledgements, forgets and reopens
//! against both stores, compared after every step with an in-memory model
//! of what the log must hold.

#![allow(clippy::unwrap_used)] // Test helpers: a failed step is a failed test.

use std::collections::BTreeMap;

use ithaca_txn::log::{CoordinatorLog, PgLog, SqliteLog};
use ithaca_txn::record::{DecidedParticipant, DecisionRecord, EndpointRef, ParticipantId, TxId};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Append(Vec<(u8, Vec<u8>)>),
    Done(u8, u8),
    Forget(u8),
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => prop::collection::vec((0u8..6, prop::collection::vec(0u8..4, 1..4)), 1..5)
            .prop_map(Op::Append),
        3 => (0u8..6, 0u8..4).prop_map(|(t, p)| Op::Done(t, p)),
        2 => (0u8..6).prop_map(Op::Forget),
        1 => Just(Op::Reopen),
    ]
}

fn tx(n: u8) -> TxId {
    TxId(format!("urn:uuid:model-{n}"))
}

fn endpoint(t: u8, p: u8) -> EndpointRef {
    EndpointRef {
        address: format!("https://p{p}.example/2pc"),
        reference_parameters: format!("<r>{t}/{p}</r>"),
    }
}

/// tx → participant → done.
type Model = BTreeMap<u8, BTreeMap<u8, bool>>;

fn expected(model: &Model) -> Vec<DecisionRecord> {
    model
        .iter()
        .map(|(&t, participants)| DecisionRecord {
            tx: tx(t),
            participants: participants
                .iter()
                .filter(|(_, done)| !**done)
                .map(|(&p, _)| DecidedParticipant {
                    id: ParticipantId(u32::from(p)),
                    endpoint: endpoint(t, p),
                })
                .collect(),
        })
        .collect()
}

fn sorted(mut records: Vec<DecisionRecord>) -> Vec<DecisionRecord> {
    records.sort_by(|a, b| a.tx.cmp(&b.tx));
    records
}

async fn run<L, O, F>(open: O, ops: Vec<Op>)
where
    L: CoordinatorLog,
    O: Fn() -> F,
    F: std::future::Future<Output = L>,
{
    let mut log = open().await;
    let mut model = Model::new();
    for op in ops {
        match op {
            Op::Append(batch) => {
                let records: Vec<DecisionRecord> = batch
                    .iter()
                    .map(|(t, ps)| DecisionRecord {
                        tx: tx(*t),
                        participants: ps
                            .iter()
                            .map(|&p| DecidedParticipant {
                                id: ParticipantId(u32::from(p)),
                                endpoint: endpoint(*t, p),
                            })
                            .collect(),
                    })
                    .collect();
                log.append_decisions(&records).await.unwrap();
                for (t, ps) in batch {
                    let entry = model.entry(t).or_default();
                    for p in ps {
                        entry.entry(p).or_insert(false);
                    }
                }
            }
            Op::Done(t, p) => {
                log.mark_participant_done(&tx(t), ParticipantId(u32::from(p)))
                    .await
                    .unwrap();
                if let Some(done) = model.get_mut(&t).and_then(|ps| ps.get_mut(&p)) {
                    *done = true;
                }
            }
            Op::Forget(t) => {
                log.forget(&tx(t)).await.unwrap();
                model.remove(&t);
            }
            Op::Reopen => {
                drop(log);
                log = open().await;
            }
        }
        assert_eq!(
            sorted(log.load_unfinished().await.unwrap()),
            expected(&model)
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn sqlite_store_matches_the_model(ops in prop::collection::vec(op(), 1..25)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("txn.db");
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(run(|| SqliteLog::open(&path, "node-a").map_ok_unwrap(), ops));
    }
}

proptest! {
    // Each case creates a database in the shared cluster: fewer cases.
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn postgres_store_matches_the_model(ops in prop::collection::vec(op(), 1..25)) {
        let db = ithaca_testkit::pg::database().expect("a PostgreSQL test cluster");
        let url = db.url().to_owned();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(run(|| PgLog::connect(&url, "node-a").map_ok_unwrap(), ops));
    }
}

/// `async { f.await.unwrap() }` for the open closures.
trait MapOkUnwrap: std::future::Future + Sized {
    fn map_ok_unwrap<T, E: std::fmt::Debug>(self) -> impl std::future::Future<Output = T>
    where
        Self: std::future::Future<Output = Result<T, E>>,
    {
        async move { self.await.unwrap() }
    }
}

impl<F: std::future::Future> MapOkUnwrap for F {}
