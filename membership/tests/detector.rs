//! The failure detector, driven with explicit heartbeat arrival times.

use std::collections::BTreeSet;
use std::time::Duration;

use ithaca_membership::{
    DetectorConfig, DetectorConfigError, FailureDetector, HeartbeatError, Incarnation, MemberId,
    ServiceName, Timestamp, TimingConfig, View, ViewCommand,
};

fn member(name: &str) -> MemberId {
    MemberId::new(name).unwrap_or_else(|e| panic!("{e}"))
}

fn ms(n: u64) -> Timestamp {
    Timestamp::from_millis(n)
}

/// A view holding members `names` at incarnation 1, all hosting "atc".
fn view_of(names: &[&str]) -> View {
    names.iter().fold(View::new(), |view, name| {
        view.apply(&ViewCommand::Join {
            member: member(name),
            incarnation: Incarnation(1),
            address: String::new(),
            roles: BTreeSet::from([ServiceName::new("atc").unwrap_or_else(|e| panic!("{e}"))]),
        })
        .unwrap_or_else(|e| panic!("{e}"))
    })
}

fn detector(names: &[&str]) -> FailureDetector {
    let mut detector =
        FailureDetector::new(DetectorConfig::default()).unwrap_or_else(|e| panic!("{e}"));
    detector.sync_with_view(&view_of(names), ms(0));
    detector
}

/// Ticks every 10 ms from `from` (exclusive) to `to` (inclusive); `a`
/// heartbeats every 200 ms while `a_alive(t)`; returns the first tick at
/// which a removal of `who` was proposed.
fn run(
    detector: &mut FailureDetector,
    from: u64,
    to: u64,
    beating: &dyn Fn(u64) -> Vec<&'static str>,
    who: &str,
) -> Option<u64> {
    let mut first = None;
    let mut t = from + 10;
    while t <= to {
        for name in beating(t) {
            if t.is_multiple_of(200) {
                detector
                    .heartbeat(&member(name), Incarnation(1), ms(t))
                    .unwrap_or_else(|e| panic!("{e}"));
            }
        }
        let out = detector.tick(ms(t));
        if first.is_none() && out.removals.iter().any(|r| r.member == member(who)) {
            first = Some(t);
        }
        t += 10;
    }
    first
}

#[test]
fn a_silent_member_is_proposed_for_removal_just_after_the_suspicion_timeout() {
    let mut d = detector(&["a", "b"]);
    // Both heartbeat until 1 000 ms, then `a` goes silent.
    let beating = |t: u64| {
        if t <= 1_000 {
            vec!["a", "b"]
        } else {
            vec!["b"]
        }
    };
    let convicted = run(&mut d, 0, 6_000, &beating, "a");
    // Last heartbeat at 1 000 ms; S = 2 600 ms; ticks every 10 ms.
    assert_eq!(convicted, Some(3_610));
    let out = d.tick(ms(6_010));
    assert_eq!(out.removals.len(), 1, "b keeps heartbeating: {out:?}");
    assert_eq!(
        out.removals[0].command(),
        ViewCommand::Remove {
            member: member("a"),
            incarnation: Incarnation(1),
        }
    );
}

#[test]
fn phi_rises_with_silence_and_is_reported_before_conviction() {
    let mut d = detector(&["a"]);
    let beating = |t: u64| if t <= 2_000 { vec!["a"] } else { vec![] };
    run(&mut d, 0, 2_000, &beating, "a");
    let fresh = d.phi(&member("a"), ms(2_050)).unwrap_or(f64::NAN);
    let late = d.phi(&member("a"), ms(2_500)).unwrap_or(f64::NAN);
    assert!(fresh < 1.0, "phi just after a heartbeat: {fresh}");
    assert!(late > 8.0, "phi after 500 ms of a 200 ms heartbeat: {late}");
    // Keep the detector's loop ticking (a gap would count as a local stall).
    run(&mut d, 2_000, 2_490, &|_| vec![], "a");
    let out = d.tick(ms(2_500));
    assert_eq!(out.stalled_for, None);
    assert_eq!(out.suspicions.len(), 1);
    assert!(out.removals.is_empty(), "suspicion is not conviction");
    let health = d.health(ms(2_500));
    assert_eq!(health.len(), 1);
    assert_eq!(health[0].heartbeats, 10);
    assert_eq!(health[0].mean_interval, Duration::from_millis(200));
    assert_eq!(health[0].silent_for, Duration::from_millis(500));
}

#[test]
fn a_stalled_detector_convicts_nobody_until_heartbeats_flow_again() {
    let mut d = detector(&["a", "b"]);
    let beating = |_: u64| vec!["a", "b"];
    assert_eq!(run(&mut d, 0, 1_000, &beating, "a"), None);
    // The detector's own loop stalls for 5 s: everyone looks silent.
    let out = d.tick(ms(6_000));
    assert_eq!(out.stalled_for, Some(Duration::from_millis(5_000)));
    assert!(out.removals.is_empty(), "{out:?}");
    assert!(d.removals_held(ms(6_000)));
    // Nobody is heard from for a long time: still nobody convicted.
    assert_eq!(run(&mut d, 6_000, 12_000, &|_| vec![], "a"), None);
    assert_eq!(run(&mut d, 6_000, 12_000, &|_| vec![], "b"), None);
    // b's heartbeats arrive again, which proves the detector healthy: a,
    // silent through all of it, is convicted at once.
    let convicted = run(&mut d, 12_000, 16_000, &|_| vec!["b"], "a");
    assert!(!d.removals_held(ms(16_000)));
    assert_eq!(convicted, Some(12_200));
    // The gap across the stall was not taken as a heartbeat interval.
    let b = d
        .health(ms(16_000))
        .into_iter()
        .find(|h| h.member == member("b"));
    assert_eq!(b.map(|h| h.mean_interval), Some(Duration::from_millis(200)));
}

#[test]
fn a_dead_member_is_convicted_once_heartbeats_from_others_prove_the_detector_healthy() {
    let mut d = detector(&["a", "b"]);
    run(&mut d, 0, 1_000, &|_| vec!["a", "b"], "a");
    d.tick(ms(1_500)); // a 490 ms stall
    // b heartbeats, a is dead: conviction S after the restart at 1 500.
    let convicted = run(&mut d, 1_500, 5_000, &|_| vec!["b"], "a");
    assert_eq!(convicted, Some(4_110));
}

#[test]
fn a_new_leader_waits_out_one_lease_before_removing_anyone() {
    let mut d = detector(&["a"]);
    d.tick(ms(0));
    d.became_leader(ms(0));
    // Nobody heartbeats; S = 2.6 s > L(1+ρ) = 2.02 s, so S dominates here.
    assert_eq!(run(&mut d, 0, 5_000, &|_| vec![], "a"), Some(2_610));

    // With a member silent well before the election, the grace still holds.
    let mut d = detector(&["a"]);
    d.tick(ms(0));
    let out = d.tick(ms(10));
    assert!(out.removals.is_empty());
    run(&mut d, 10, 2_590, &|_| vec![], "a");
    d.became_leader(ms(2_590));
    assert!(d.removals_held(ms(4_000)));
    assert!(!d.removals_held(ms(4_610)));
    assert_eq!(run(&mut d, 2_590, 8_000, &|_| vec![], "a"), Some(5_200));
}

#[test]
fn heartbeats_from_strangers_and_wrong_incarnations_have_no_effect() {
    let mut d = detector(&["a"]);
    assert_eq!(
        d.heartbeat(&member("zed"), Incarnation(1), ms(5)),
        Err(HeartbeatError::UnknownMember {
            member: member("zed")
        })
    );
    let err = d
        .heartbeat(&member("a"), Incarnation(7), ms(5))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "heartbeat from a #7, but the view holds #1"
    );
    assert_eq!(d.health(ms(5))[0].heartbeats, 0);
}

#[test]
fn out_of_order_arrivals_never_move_silence_backwards() {
    let mut d = detector(&["a"]);
    d.heartbeat(&member("a"), Incarnation(1), ms(1_000))
        .unwrap_or_else(|e| panic!("{e}"));
    d.heartbeat(&member("a"), Incarnation(1), ms(400))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        d.health(ms(1_100))[0].silent_for,
        Duration::from_millis(100)
    );
}

#[test]
fn syncing_with_a_new_view_forgets_removed_members_and_restarts_new_incarnations() {
    let mut d = detector(&["a", "b"]);
    let view = view_of(&["a", "b"])
        .apply(&ViewCommand::Remove {
            member: member("b"),
            incarnation: Incarnation(1),
        })
        .and_then(|v| {
            v.apply(&ViewCommand::Join {
                member: member("a"),
                incarnation: Incarnation(2),
                address: String::new(),
                roles: BTreeSet::new(),
            })
        })
        .unwrap_or_else(|e| panic!("{e}"));
    d.sync_with_view(&view, ms(3_000));
    let health = d.health(ms(3_000));
    assert_eq!(health.len(), 1);
    assert_eq!(health[0].incarnation, Incarnation(2));
    assert_eq!(health[0].silent_for, Duration::ZERO);
    assert!(
        d.heartbeat(&member("b"), Incarnation(1), ms(3_001))
            .is_err()
    );
}

#[test]
fn unsafe_or_out_of_range_configurations_are_refused() {
    let short = DetectorConfig {
        timing: TimingConfig {
            suspicion_timeout: Duration::from_millis(1_000),
            ..TimingConfig::default()
        },
        ..DetectorConfig::default()
    };
    let err = FailureDetector::new(short).unwrap_err();
    assert!(
        err.to_string().contains("membership.suspicion_timeout_ms"),
        "{err}"
    );
    for (config, expected) in [
        (
            DetectorConfig {
                phi_window: 0,
                ..DetectorConfig::default()
            },
            DetectorConfigError::PhiWindow(0),
        ),
        (
            DetectorConfig {
                phi_threshold: f64::NAN,
                ..DetectorConfig::default()
            },
            DetectorConfigError::PhiThreshold,
        ),
        (
            DetectorConfig {
                stall_threshold: Duration::ZERO,
                ..DetectorConfig::default()
            },
            DetectorConfigError::StallThreshold,
        ),
    ] {
        assert_eq!(FailureDetector::new(config).unwrap_err(), expected);
    }
}

#[test]
fn a_convicted_member_earns_nothing_while_its_removal_commits() {
    // Found by the turmoil simulation (sim_safety seed 292): a member cut
    // off for S is convicted; its partition heals before the removal
    // commits; its next heartbeat must not count, or the oracle would
    // grant a lease that outlives the removal and overlaps the backup's
    // promotion.
    let mut d = detector(&["a", "b"]);
    let beating = |t: u64| {
        if t <= 1_000 {
            vec!["a", "b"]
        } else {
            vec!["b"]
        }
    };
    let convicted =
        run(&mut d, 0, 3_700, &beating, "a").unwrap_or_else(|| panic!("`a` was never convicted"));
    assert_eq!(
        d.heartbeat(&member("a"), Incarnation(1), ms(convicted + 5)),
        Err(HeartbeatError::Convicted {
            member: member("a")
        })
    );
    // Its silence keeps growing, so the removal is proposed again until it
    // commits; a view without it ends the conviction with the member.
    let again = d.tick(ms(convicted + 10));
    assert!(again.removals.iter().any(|r| r.member == member("a")));
    d.sync_with_view(&view_of(&["b"]), ms(convicted + 20));
    assert!(
        d.heartbeat(&member("a"), Incarnation(1), ms(convicted + 30))
            .is_err()
    );
    assert!(
        d.heartbeat(&member("b"), Incarnation(1), ms(convicted + 30))
            .is_ok()
    );
}

/// One step of a random history: who joins (at which incarnation), who
/// leaves, who heartbeats.
#[derive(Debug, Clone)]
enum Step {
    Join(u8, u64),
    Leave(u8),
    Heartbeat(u8),
}

fn step() -> impl proptest::strategy::Strategy<Value = Step> {
    use proptest::prelude::*;
    prop_oneof![
        (0u8..12, 1u64..4).prop_map(|(m, i)| Step::Join(m, i)),
        (0u8..12).prop_map(Step::Leave),
        (0u8..12).prop_map(Step::Heartbeat),
    ]
}

/// Applies the commands of one batch that the view accepts.
fn next_view(view: &View, commands: &[ViewCommand]) -> View {
    let accepted: Vec<ViewCommand> = commands
        .iter()
        .zip(view.admissible(commands))
        .filter(|(_, verdict)| verdict.is_ok())
        .map(|(command, _)| command.clone())
        .collect();
    if accepted.is_empty() {
        return view.clone();
    }
    view.apply_batch(&accepted)
        .unwrap_or_else(|e| panic!("{e}"))
}

proptest::proptest! {
    /// Syncing the detector with each view change's changed members
    /// (what the oracle node's heartbeat task does, O(changes)) leaves it
    /// watching exactly what a sync with the whole view would.
    #[test]
    fn syncing_the_changed_members_equals_syncing_the_whole_view(
        batches in proptest::collection::vec(proptest::collection::vec(step(), 1..8), 1..24),
    ) {
        let config = DetectorConfig::default();
        let mut whole = FailureDetector::new(config).unwrap_or_else(|e| panic!("{e}"));
        let mut delta = whole.clone();
        let mut view = View::new();
        let mut t = 0;
        for batch in batches {
            t += 50;
            let mut commands = Vec::new();
            for step in &batch {
                let name = |m: &u8| member(&format!("m{m}"));
                match step {
                    Step::Join(m, incarnation) => commands.push(ViewCommand::Join {
                        member: name(m),
                        incarnation: Incarnation(*incarnation),
                        address: String::new(),
                        roles: BTreeSet::new(),
                    }),
                    Step::Leave(m) => {
                        if let Some(info) = view.member(&name(m)) {
                            commands.push(ViewCommand::Leave {
                                member: name(m),
                                incarnation: info.incarnation,
                            });
                        }
                    }
                    Step::Heartbeat(m) => {
                        if let Some(info) = view.member(&name(m)) {
                            let a = whole.heartbeat(&name(m), info.incarnation, ms(t));
                            let b = delta.heartbeat(&name(m), info.incarnation, ms(t));
                            proptest::prop_assert_eq!(a, b);
                        }
                    }
                }
            }
            let next = next_view(&view, &commands);
            let changed = next.member_changes(&view);
            // The changes are exactly the members whose entry differs.
            for (id, info) in next.members() {
                let same = view.member(id).is_some_and(|old| old.incarnation == info.incarnation);
                proptest::prop_assert_eq!(changed.contains(id), !same);
            }
            for id in view.members().keys() {
                if next.member(id).is_none() {
                    proptest::prop_assert!(changed.contains(id));
                }
            }
            whole.sync_with_view(&next, ms(t + 1));
            let looked_at = delta.sync_members(&next, &changed, ms(t + 1));
            proptest::prop_assert_eq!(looked_at, changed.len());
            proptest::prop_assert_eq!(whole.health(ms(t + 2)), delta.health(ms(t + 2)));
            view = next;
        }
    }
}

#[test]
fn a_view_change_syncs_only_the_members_it_touched() {
    let names: Vec<String> = (0..500).map(|i| format!("m{i:03}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let big = view_of(&refs);
    let mut detector = detector(&refs);
    let next = big
        .apply_batch(&[
            ViewCommand::Join {
                member: member("late"),
                incarnation: Incarnation(1),
                address: String::new(),
                roles: BTreeSet::new(),
            },
            ViewCommand::Leave {
                member: member("m007"),
                incarnation: Incarnation(1),
            },
        ])
        .unwrap_or_else(|e| panic!("{e}"));
    let changed = next.member_changes(&big);
    assert_eq!(changed, vec![member("late"), member("m007")]);
    assert_eq!(detector.sync_members(&next, &changed, ms(5)), 2);
    assert!(detector.is_watching(&member("late"), Incarnation(1)));
    assert!(!detector.is_watching(&member("m007"), Incarnation(1)));
    assert_eq!(detector.health(ms(6)).len(), 500);
}
