//! The oracle leader's cost per heartbeat: decode the datagram, record the
//! arrival in the failure detector, decide the lease and encode the reply,
//! as the node's heartbeat task does for every datagram (no socket here).
//! With 10 000 members at a 200 ms heartbeat a leader answers 50 000 of
//! these a second; the detector tick over all members is measured too,
//! and so is installing one committed view change (one member joining or
//! leaving a group of 10 000) on the heartbeat task: with the changed
//! members the view task found (what the node does) and with a whole-view
//! sync (what every view change cost before).

#![allow(missing_docs, clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use ithaca_membership::consensus::{LeadershipStatus, NodeInfo, Role};
use ithaca_membership::node::{EncodedView, HeartbeatHandler, NodeCounters};
use ithaca_membership::wire::Message;
use ithaca_membership::{
    DetectorConfig, Incarnation, MemberId, MonotonicClock, ServiceName, Timestamp, View,
    ViewCommand, ViewId,
};

const MEMBERS: usize = 10_000;

fn view() -> View {
    let service = ServiceName::new("sector-status").unwrap();
    let joins: Vec<ViewCommand> = (0..MEMBERS)
        .map(|i| ViewCommand::Join {
            member: MemberId::new(format!("member-{i:05}")).unwrap(),
            incarnation: Incarnation(1),
            address: format!("10.0.{}.{}:7000", i / 256, i % 256),
            roles: BTreeSet::from([service.clone()]),
        })
        .collect();
    let mut view = View::new();
    for batch in joins.chunks(64) {
        view = view.apply_batch(batch).unwrap();
    }
    view
}

fn handler(view: View) -> (HeartbeatHandler, MonotonicClock) {
    let clock = MonotonicClock::new();
    let mut handler = HeartbeatHandler::new(
        DetectorConfig::default(),
        Arc::new(EncodedView::new(view).unwrap()),
        BTreeMap::new(),
        Arc::new(NodeCounters::default()),
    )
    .unwrap();
    let status = LeadershipStatus {
        node: 1,
        role: Role::Leader,
        term: 1,
        leader: Some(NodeInfo {
            id: 1,
            address: "127.0.0.1:1".to_owned(),
        }),
        single_voter: true,
        certain_until: None,
    };
    handler.set_leadership(&status, clock.now(), &clock);
    (handler, clock)
}

fn datagrams(view_id: ViewId) -> Vec<Vec<u8>> {
    (0..MEMBERS)
        .map(|i| {
            let name = format!("member-{i:05}");
            let mut out = Vec::new();
            Message::Heartbeat {
                member: &name,
                incarnation: Incarnation(1),
                request_id: i as u64,
                seen_view: view_id,
            }
            .encode(&mut out)
            .unwrap();
            out
        })
        .collect()
}

fn heartbeat(c: &mut Criterion) {
    let view = view();
    let view_id = view.id();
    let (mut handler, _clock) = handler(view);
    let datagrams = datagrams(view_id);
    let mut next = 0usize;
    let mut now = 0u64;
    c.bench_function(
        "heartbeat: decode, record, grant, encode (10 000 members)",
        |b| {
            b.iter(|| {
                next = (next + 1) % MEMBERS;
                now += 20_000; // 50 000 heartbeats a second
                let reply = handler.handle(black_box(&datagrams[next]), Timestamp::from_nanos(now));
                black_box(reply.map(<[u8]>::len))
            });
        },
    );
    // Every member heartbeated within the last 200 ms: phi for each, no
    // conviction (the steady state a 10 ms tick sees).
    let at = Timestamp::from_nanos(now);
    c.bench_function("detector tick over 10 000 members", |b| {
        b.iter(|| black_box(handler.tick(at).map(|(output, _)| output.removals.len())));
    });
}

/// The next view change: `extra` joins when absent, else leaves.
fn toggle(view: &View, incarnation: &mut u64) -> View {
    let extra = MemberId::new("extra").unwrap();
    let command = match view.member(&extra) {
        Some(info) => ViewCommand::Leave {
            member: extra,
            incarnation: info.incarnation,
        },
        None => {
            *incarnation += 1;
            ViewCommand::Join {
                member: extra,
                incarnation: Incarnation(*incarnation),
                address: "10.1.0.1:7000".to_owned(),
                roles: BTreeSet::new(),
            }
        }
    };
    view.apply(&command).unwrap()
}

fn install(c: &mut Criterion) {
    for (name, with_steps) in [
        (
            "install one view change into 10 000 members: changed members only",
            true,
        ),
        (
            "install one view change into 10 000 members: whole-view sync",
            false,
        ),
    ] {
        let (mut handler, clock) = handler(view());
        let mut incarnation = 0;
        c.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    // Building and encoding the next view is the view
                    // task's work: not timed.
                    let current = Arc::clone(handler.view());
                    let next = Arc::new(toggle(&current.view, &mut incarnation));
                    let encoded = if with_steps {
                        EncodedView::after(&current, next).unwrap()
                    } else {
                        EncodedView::shared(next).unwrap()
                    };
                    let encoded = Arc::new(encoded);
                    let started = Instant::now();
                    let replaced = handler.install_view(black_box(encoded), clock.now());
                    spent += started.elapsed();
                    // The node's view task drops the replaced view: not
                    // timed either.
                    drop(replaced);
                }
                spent
            });
        });
    }
}

criterion_group!(benches, heartbeat, install);
criterion_main!(benches);
