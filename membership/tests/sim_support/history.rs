//! The recorded history of one simulation run and the invariant checker.
//!
//! Every host appends events stamped with simulated time. After the run,
//! [`History::check`] verifies, on the history alone:
//!
//! 1. one view id never has two contents, and every node's applied views
//!    have strictly increasing ids (views are totally ordered);
//! 2. at most one member acts as primary of a service per view, and the
//!    primaries' serving intervals (from the start to the instant each says
//!    it stopped, or to its crash, or to the end of its last lease when the
//!    run ends first) never overlap in simulated time;
//! 3. whoever acted (served a write as primary, or acknowledged one as a
//!    backup) in view `v` was a member of `v` at its incarnation, in that
//!    role, with a lease still valid at that instant;
//! 4. no acknowledged write is lost: after the faults heal, the final
//!    primary's register holds every value a client saw acknowledged.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ithaca_membership::{Incarnation, MemberId, ServiceName, View, ViewId};

/// What happened.
#[derive(Debug, Clone)]
pub enum What {
    /// An oracle node applied a committed view.
    ViewInstalled { view: Box<View> },
    /// A member began acting as primary of `service` in `view`, its lease
    /// valid until `lease_until` (simulated time).
    PrimaryStarted {
        incarnation: Incarnation,
        service: ServiceName,
        view: ViewId,
        lease_until: Duration,
    },
    /// A primary's lease was renewed while it kept serving.
    PrimaryRenewed {
        incarnation: Incarnation,
        service: ServiceName,
        view: ViewId,
        lease_until: Duration,
    },
    /// A member stopped acting as primary: it did not act as primary
    /// after `since` (its lease's end, or the moment it learnt it was no
    /// longer primary, whichever came first).
    PrimaryStopped {
        incarnation: Incarnation,
        service: ServiceName,
        view: ViewId,
        since: Duration,
    },
    /// A member acted: accepted a write as primary or acknowledged one as
    /// a backup, in `view`, its lease valid until `lease_until`.
    Acted {
        incarnation: Incarnation,
        as_primary: bool,
        view: ViewId,
        lease_until: Duration,
    },
    /// A client saw its write of `value` acknowledged by `primary` in
    /// `view`.
    WriteAcknowledged {
        value: u64,
        view: ViewId,
        primary: MemberId,
    },
    /// An oracle node (re)started from its disk: it applies its views
    /// again from the first.
    OracleStarted,
    /// The host crashed: its process acts no more (a restart is a new
    /// process, which joins with a new incarnation).
    Crashed,
    /// A fault injected by the scenario (for the printed trace only).
    Fault { description: String },
}

/// One event.
#[derive(Debug, Clone)]
pub struct Event {
    /// Simulated time since the start.
    pub at: Duration,
    /// The host.
    pub who: String,
    /// What happened.
    pub what: What,
}

/// The shared, append-only history of one run.
#[derive(Debug, Clone, Default)]
pub struct History {
    events: Arc<Mutex<Vec<Event>>>,
    /// Each member's register (its durable store): view seen, values.
    registers: Arc<Mutex<BTreeMap<String, Register>>>,
}

/// One member's durable register state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Register {
    /// The highest view id seen in replication (the fence).
    pub max_view_seen: ViewId,
    /// The values, in order.
    pub values: Vec<u64>,
}

/// Simulated time now (zero outside a host).
pub fn now() -> Duration {
    turmoil::sim_elapsed().unwrap_or_default()
}

impl History {
    /// Appends an event at the current simulated time (inside a host).
    pub fn record(&self, who: &str, what: What) {
        self.record_at(now(), who, what);
    }

    /// Appends an event at simulated time `at`.
    pub fn record_at(&self, at: Duration, who: &str, what: What) {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Event {
                at,
                who: who.to_owned(),
                what,
            });
    }

    /// A member's durable register.
    pub fn register(&self, member: &str) -> Register {
        self.registers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(member)
            .cloned()
            .unwrap_or_default()
    }

    /// Stores a member's register durably.
    pub fn store_register(&self, member: &str, register: Register) {
        self.registers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(member.to_owned(), register);
    }

    /// A copy of the events.
    pub fn events(&self) -> Vec<Event> {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The events as text, one a line (for a failing seed's report and for
    /// comparing two runs of one seed).
    pub fn trace(&self) -> String {
        let mut out = String::new();
        for event in self.events() {
            let _ = writeln!(
                out,
                "{:>9.3}s {:<4} {}",
                event.at.as_secs_f64(),
                event.who,
                describe(&event.what)
            );
        }
        out
    }

    /// Checks the invariants (see the module docs); the first violations,
    /// described, when any fails.
    pub fn check(&self, service: &ServiceName) -> Result<Summary, Vec<String>> {
        let events = self.events();
        let mut errors = Vec::new();
        let mut summary = Summary::default();

        // 1. Views: one content per id, ids increasing per node.
        let mut views: BTreeMap<ViewId, View> = BTreeMap::new();
        let mut last_per_node: BTreeMap<&str, ViewId> = BTreeMap::new();
        for event in &events {
            if matches!(event.what, What::OracleStarted) {
                last_per_node.remove(event.who.as_str());
            }
            if let What::ViewInstalled { view } = &event.what {
                if let Some(last) = last_per_node.get(event.who.as_str())
                    && view.id() <= *last
                {
                    errors.push(format!(
                        "{} applied view {} after view {}",
                        event.who,
                        view.id(),
                        last
                    ));
                }
                last_per_node.insert(event.who.as_str(), view.id());
                match views.get(&view.id()) {
                    Some(known) if known != view.as_ref() => errors.push(format!(
                        "view {} has two contents: {:?} and {:?}",
                        view.id(),
                        known,
                        view
                    )),
                    Some(_) => {}
                    None => {
                        views.insert(view.id(), view.as_ref().clone());
                    }
                }
            }
        }
        summary.views = views.len();

        // 2. Primaries: one per view, intervals never overlapping.
        let mut primary_of_view: BTreeMap<ViewId, (String, Incarnation)> = BTreeMap::new();
        let mut open: BTreeMap<(String, Incarnation), (Duration, Duration, ViewId)> =
            BTreeMap::new();
        let mut intervals: Vec<(Duration, Duration, String, Incarnation, ViewId)> = Vec::new();
        for event in &events {
            match &event.what {
                What::PrimaryStarted {
                    incarnation,
                    service: s,
                    view,
                    lease_until,
                } if s == service => {
                    let key = (event.who.clone(), *incarnation);
                    if let Some((other, other_incarnation)) = primary_of_view.get(view)
                        && (other, other_incarnation) != (&event.who, incarnation)
                    {
                        errors.push(format!(
                            "two primaries of {service} in view {view}: {other} {other_incarnation} and {} {incarnation}",
                            event.who
                        ));
                    }
                    primary_of_view.insert(*view, key.clone());
                    if let Some((start, end, v)) = open.remove(&key) {
                        intervals.push((start, end, key.0.clone(), key.1, v));
                    }
                    open.insert(key, (event.at, *lease_until, *view));
                }
                What::PrimaryRenewed {
                    incarnation,
                    service: s,
                    lease_until,
                    ..
                } if s == service => {
                    if let Some(entry) = open.get_mut(&(event.who.clone(), *incarnation)) {
                        entry.1 = entry.1.max(*lease_until);
                    }
                }
                What::Crashed => {
                    let crashed: Vec<(String, Incarnation)> = open
                        .keys()
                        .filter(|(who, _)| *who == event.who)
                        .cloned()
                        .collect();
                    for key in crashed {
                        if let Some((start, end, v)) = open.remove(&key) {
                            intervals.push((start, end.min(event.at).max(start), key.0, key.1, v));
                        }
                    }
                }
                What::PrimaryStopped {
                    incarnation,
                    service: s,
                    since,
                    ..
                } if s == service => {
                    let key = (event.who.clone(), *incarnation);
                    if let Some((start, _, v)) = open.remove(&key) {
                        intervals.push((start, (*since).max(start), key.0, key.1, v));
                    }
                }
                _ => {}
            }
        }
        for ((who, incarnation), (start, end, v)) in open {
            intervals.push((start, end, who, incarnation, v));
        }
        intervals.sort();
        summary.primary_intervals = intervals.len();
        for (i, a) in intervals.iter().enumerate() {
            for b in intervals.iter().skip(i + 1) {
                if b.0 >= a.1 {
                    break;
                }
                if (&a.2, a.3) != (&b.2, b.3) && b.0 < a.1 {
                    errors.push(format!(
                        "primaries of {service} overlap: {} {} in view {} serving {:.3}–{:.3}s and {} {} in view {} serving {:.3}–{:.3}s",
                        a.2,
                        a.3,
                        a.4,
                        a.0.as_secs_f64(),
                        a.1.as_secs_f64(),
                        b.2,
                        b.3,
                        b.4,
                        b.0.as_secs_f64(),
                        b.1.as_secs_f64()
                    ));
                }
            }
        }

        // 3. Whoever acted in view v was in v, in its role, with a lease.
        for event in &events {
            let What::Acted {
                incarnation,
                as_primary,
                view,
                lease_until,
            } = &event.what
            else {
                continue;
            };
            summary.acts += 1;
            if event.at >= *lease_until {
                errors.push(format!(
                    "{} {incarnation} acted in view {view} at {:.3}s with a lease that ended at {:.3}s",
                    event.who,
                    event.at.as_secs_f64(),
                    lease_until.as_secs_f64()
                ));
            }
            let Some(content) = views.get(view) else {
                errors.push(format!(
                    "{} acted in view {view}, which no oracle node committed",
                    event.who
                ));
                continue;
            };
            let member = MemberId::new(event.who.as_str()).ok();
            let in_view = member
                .as_ref()
                .is_some_and(|m| content.has_incarnation(m, *incarnation));
            let in_role = member.as_ref().is_some_and(|m| {
                if *as_primary {
                    content.primary(service) == Some(m)
                } else {
                    content.backups(service).contains(m)
                }
            });
            if !in_view || !in_role {
                errors.push(format!(
                    "{} {incarnation} acted as {} in view {view} without being one there",
                    event.who,
                    if *as_primary { "primary" } else { "backup" },
                ));
            }
        }

        // 4. No acknowledged write lost.
        let acknowledged: BTreeSet<u64> = events
            .iter()
            .filter_map(|event| match &event.what {
                What::WriteAcknowledged { value, view, primary } => {
                    let primary_there = views
                        .get(view)
                        .is_some_and(|content| content.primary(service) == Some(primary));
                    if !primary_there {
                        errors.push(format!(
                            "write {value} acknowledged by {primary} in view {view}, where it was not primary"
                        ));
                    }
                    Some(*value)
                }
                _ => None,
            })
            .collect();
        summary.acknowledged = acknowledged.len();
        match views.values().next_back() {
            Some(last) => match last.primary(service) {
                Some(primary) => {
                    let register = self.register(primary.as_str());
                    let held: BTreeSet<u64> = register.values.iter().copied().collect();
                    let lost: Vec<u64> = acknowledged.difference(&held).copied().collect();
                    if !lost.is_empty() {
                        errors.push(format!(
                            "acknowledged writes lost: the final primary {primary} (view {}) lacks {lost:?}",
                            last.id()
                        ));
                    }
                }
                None if !acknowledged.is_empty() => errors.push(format!(
                    "the final view {} has no primary to hold the acknowledged writes",
                    last.id()
                )),
                None => {}
            },
            None => errors.push("no view was ever committed".to_owned()),
        }

        if errors.is_empty() {
            Ok(summary)
        } else {
            errors.truncate(10);
            Err(errors)
        }
    }
}

/// What a passing run exercised.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Distinct committed views.
    pub views: usize,
    /// Primary serving intervals.
    pub primary_intervals: usize,
    /// Acts checked against leases.
    pub acts: usize,
    /// Acknowledged writes checked for loss.
    pub acknowledged: usize,
}

fn describe(what: &What) -> String {
    match what {
        What::ViewInstalled { view } => {
            let members: Vec<String> = view
                .members()
                .iter()
                .map(|(m, info)| format!("{m}{}", info.incarnation))
                .collect();
            let roles: Vec<String> = view
                .primaries()
                .iter()
                .map(|(s, p)| format!("{s}: {p} / {:?}", view.backups(s)))
                .collect();
            format!(
                "view {} [{}] {}",
                view.id(),
                members.join(" "),
                roles.join(" ")
            )
        }
        What::PrimaryStarted {
            incarnation,
            service,
            view,
            lease_until,
        } => format!(
            "primary of {service} starts {incarnation} view {view} lease to {:.3}s",
            lease_until.as_secs_f64()
        ),
        What::PrimaryRenewed {
            view, lease_until, ..
        } => format!(
            "primary renews view {view} lease to {:.3}s",
            lease_until.as_secs_f64()
        ),
        What::PrimaryStopped { view, since, .. } => format!(
            "primary stops (view {view}), last acted before {:.3}s",
            since.as_secs_f64()
        ),
        What::Acted {
            incarnation,
            as_primary,
            view,
            lease_until,
        } => format!(
            "acts as {} {incarnation} view {view} lease to {:.3}s",
            if *as_primary { "primary" } else { "backup" },
            lease_until.as_secs_f64()
        ),
        What::WriteAcknowledged {
            value,
            view,
            primary,
        } => format!("write {value} acknowledged by {primary} in view {view}"),
        What::OracleStarted => "oracle node starts from its disk".to_owned(),
        What::Crashed => "crashed".to_owned(),
        What::Fault { description } => format!("fault: {description}"),
    }
}
