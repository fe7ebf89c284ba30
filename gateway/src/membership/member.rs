//! Hosting a member of the group in this process: its `ithaca_member_*`
//! metrics and the history record that real-process tests check.
//!
//! - [`record_member_metrics`] copies a [`Member`]'s lease and heartbeat
//!   counters into the process's metrics every 250 ms: lease remaining,
//!   heartbeat round trip, lease expiries, rejoins and the view id.
//! - [`HistoryRecorder`] appends one JSON line per event to a file and
//!   flushes each line, so a process killed with `kill -9` loses at most a
//!   torn last line: when the member joined, every view it installed, and
//!   each stretch during which it acted as primary of a service (the first
//!   and the last instant it checked and found itself primary with a valid
//!   lease, with the view id and the lease expiry). Times are
//!   `CLOCK_MONOTONIC` nanoseconds, comparable between processes on one
//!   machine. The format is the one `ithaca_testkit::membership_history`
//!   reads and checks.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ithaca_membership::client::{ActingStatus, Member};
use ithaca_membership::{LeaseState, MemberId, ServiceName, View};
use serde_json::json;

/// Time left on the member's lease, in seconds (0 when it has none).
pub const MEMBER_LEASE_REMAINING: &str = "ithaca_member_lease_remaining_seconds";
/// Round trip of the newest answered heartbeat, in seconds.
pub const MEMBER_HEARTBEAT_RTT: &str = "ithaca_member_heartbeat_rtt_seconds";
/// Times the lease ran out while the member was serving.
pub const MEMBER_LEASE_EXPIRIES: &str = "ithaca_member_lease_expiries_total";
/// Rejoins with a new incarnation after the member saw itself excluded.
pub const MEMBER_REJOINS: &str = "ithaca_member_rejoins_total";
/// Heartbeats sent.
pub const MEMBER_HEARTBEATS: &str = "ithaca_member_heartbeats_total";
/// The newest view id the member has seen.
pub const MEMBER_VIEW_ID: &str = "ithaca_member_view_id";
/// 1 while the member may act (in the view with a valid lease).
pub const MEMBER_CAN_ACT: &str = "ithaca_member_can_act";

/// Describes the member metrics (call once after installing a recorder).
pub fn describe_member_metrics() {
    metrics::describe_gauge!(
        MEMBER_LEASE_REMAINING,
        metrics::Unit::Seconds,
        "Time left on this member's lease on its own clock (0: none)."
    );
    metrics::describe_gauge!(
        MEMBER_HEARTBEAT_RTT,
        metrics::Unit::Seconds,
        "Round trip of the newest answered heartbeat."
    );
    metrics::describe_counter!(
        MEMBER_LEASE_EXPIRIES,
        "Times this member's lease ran out while it was serving."
    );
    metrics::describe_counter!(
        MEMBER_REJOINS,
        "Rejoins with a new incarnation after this member saw itself excluded."
    );
    metrics::describe_counter!(MEMBER_HEARTBEATS, "Heartbeats this member sent.");
    metrics::describe_gauge!(MEMBER_VIEW_ID, "The newest view id this member has seen.");
    metrics::describe_gauge!(
        MEMBER_CAN_ACT,
        "1 while this member may act (in the view, lease valid)."
    );
}

/// Copies `member`'s state into the `ithaca_member_*` metrics every
/// 250 ms, until the task is aborted.
pub async fn record_member_metrics(member: Arc<Member>) {
    let mut every = tokio::time::interval(Duration::from_millis(250));
    let mut reported_expiries = 0;
    let mut reported_rejoins = 0;
    let mut reported_heartbeats = 0;
    loop {
        every.tick().await;
        let stats = member.stats();
        let remaining = match member.lease_state() {
            LeaseState::Valid { remaining } => remaining.as_secs_f64(),
            _ => 0.0,
        };
        metrics::gauge!(MEMBER_LEASE_REMAINING).set(remaining);
        if let Some(rtt) = stats.last_round_trip {
            metrics::gauge!(MEMBER_HEARTBEAT_RTT).set(rtt.as_secs_f64());
        }
        metrics::counter!(MEMBER_LEASE_EXPIRIES)
            .increment(stats.lease_expiries.saturating_sub(reported_expiries));
        reported_expiries = stats.lease_expiries;
        metrics::counter!(MEMBER_REJOINS).increment(stats.rejoins.saturating_sub(reported_rejoins));
        reported_rejoins = stats.rejoins;
        metrics::counter!(MEMBER_HEARTBEATS)
            .increment(stats.heartbeats_sent.saturating_sub(reported_heartbeats));
        reported_heartbeats = stats.heartbeats_sent;
        #[allow(clippy::cast_precision_loss)] // a view id as a gauge
        metrics::gauge!(MEMBER_VIEW_ID).set(member.view().id().0 as f64);
        metrics::gauge!(MEMBER_CAN_ACT).set(if member.can_act() { 1.0 } else { 0.0 });
    }
}

/// Converts this process's [`Instant`]s to `CLOCK_MONOTONIC` nanoseconds.
#[derive(Debug, Clone, Copy)]
pub struct MonotonicNanos {
    base_instant: Instant,
    base_ns: u64,
}

impl MonotonicNanos {
    /// Pairs an [`Instant`] with a `CLOCK_MONOTONIC` reading taken right
    /// after it (on Linux both read the same clock, so the pair differs by
    /// the time between the two calls).
    #[must_use]
    pub fn new() -> Self {
        let base_instant = Instant::now();
        Self {
            base_instant,
            base_ns: monotonic_now_ns(),
        }
    }

    /// `instant` on `CLOCK_MONOTONIC`, in nanoseconds.
    #[must_use]
    pub fn of(&self, instant: Instant) -> u64 {
        let nanos = |duration: Duration| u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        match instant.checked_duration_since(self.base_instant) {
            Some(after) => self.base_ns.saturating_add(nanos(after)),
            None => self
                .base_ns
                .saturating_sub(nanos(self.base_instant.duration_since(instant))),
        }
    }
}

impl Default for MonotonicNanos {
    fn default() -> Self {
        Self::new()
    }
}

/// Now on `CLOCK_MONOTONIC`, in nanoseconds.
#[must_use]
pub fn monotonic_now_ns() -> u64 {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    u64::try_from(now.tv_sec)
        .unwrap_or(0)
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::try_from(now.tv_nsec).unwrap_or(0))
}

/// Appends a member's history to a file, one flushed JSON line per event
/// (see the module docs).
#[derive(Debug)]
pub struct HistoryRecorder {
    file: File,
    member: MemberId,
    clock: MonotonicNanos,
    last_view: Option<u64>,
    line: Vec<u8>,
}

impl HistoryRecorder {
    /// Opens `path` for appending (created when missing).
    pub fn open(path: &Path, member: MemberId) -> io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Self {
            file,
            member,
            clock: MonotonicNanos::new(),
            last_view: None,
            line: Vec::with_capacity(512),
        })
    }

    fn write(&mut self, value: &serde_json::Value) -> io::Result<()> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, value).map_err(io::Error::other)?;
        self.line.push(b'\n');
        // One write per line: O_APPEND keeps lines whole; no buffering, so a
        // kill -9 loses nothing already recorded.
        self.file.write_all(&self.line)
    }

    /// Records that the member joined at `incarnation`.
    pub fn joined(&mut self, incarnation: u64) -> io::Result<()> {
        let at_ns = monotonic_now_ns();
        self.write(&json!({
            "kind": "joined",
            "member": self.member.as_str(),
            "incarnation": incarnation,
            "at_ns": at_ns,
            "pid": std::process::id(),
        }))
    }

    /// Records `view` when it is newer than the last one recorded.
    pub fn view(&mut self, view: &View) -> io::Result<()> {
        let id = view.id().0;
        if self.last_view.is_some_and(|last| last >= id) {
            return Ok(());
        }
        self.last_view = Some(id);
        let at_ns = monotonic_now_ns();
        let view = serde_json::to_value(view).map_err(io::Error::other)?;
        self.write(&json!({
            "kind": "view",
            "member": self.member.as_str(),
            "at_ns": at_ns,
            "view": view,
        }))
    }

    /// The id of the newest view recorded.
    #[must_use]
    pub fn last_view(&self) -> Option<u64> {
        self.last_view
    }

    /// Records the first instant of acting as primary of `service`.
    pub fn start(&mut self, service: &ServiceName, status: &ActingStatus) -> io::Result<()> {
        self.acting("start", service, status)
    }

    /// Records the last instant of acting as primary of `service`.
    pub fn stop(&mut self, service: &ServiceName, status: &ActingStatus) -> io::Result<()> {
        self.acting("stop", service, status)
    }

    fn acting(
        &mut self,
        kind: &str,
        service: &ServiceName,
        status: &ActingStatus,
    ) -> io::Result<()> {
        let at_ns = self.clock.of(status.at);
        let lease_expires_ns = status.lease_expires.map_or(0, |at| self.clock.of(at));
        self.write(&json!({
            "kind": kind,
            "member": self.member.as_str(),
            "incarnation": status.incarnation.0,
            "service": service.as_str(),
            "view": status.view.0,
            "at_ns": at_ns,
            "lease_expires_ns": lease_expires_ns,
        }))
    }

    /// Records a clean exit.
    pub fn exit(&mut self) -> io::Result<()> {
        let at_ns = monotonic_now_ns();
        self.write(&json!({
            "kind": "exit",
            "member": self.member.as_str(),
            "at_ns": at_ns,
        }))
    }
}

/// Tracks, per service, whether the member acts as primary, and records
/// each start and stop (see [`HistoryRecorder`]).
#[derive(Debug)]
pub struct ActingTracker {
    services: Vec<(ServiceName, Option<ActingStatus>)>,
}

impl ActingTracker {
    /// Tracks `services`.
    #[must_use]
    pub fn new(services: impl IntoIterator<Item = ServiceName>) -> Self {
        Self {
            services: services
                .into_iter()
                .map(|service| (service, None))
                .collect(),
        }
    }

    /// Reads the member once per service and records what changed. A
    /// change of view while acting closes the interval in the old view
    /// and opens one in the new view.
    pub fn poll(&mut self, member: &Member, recorder: &mut HistoryRecorder) -> io::Result<()> {
        for (service, last) in &mut self.services {
            let status = member.acting_status(Some(service));
            match (*last, status.acting) {
                (None, false) => {}
                (None, true) => {
                    ensure_view(member, recorder, status.view.0)?;
                    recorder.start(service, &status)?;
                    *last = Some(status);
                }
                (Some(previous), true) if previous.view == status.view => {
                    *last = Some(status);
                }
                (Some(previous), true) => {
                    recorder.stop(service, &previous)?;
                    ensure_view(member, recorder, status.view.0)?;
                    recorder.start(service, &status)?;
                    *last = Some(status);
                }
                (Some(previous), false) => {
                    recorder.stop(service, &previous)?;
                    *last = None;
                }
            }
        }
        Ok(())
    }

    /// Records a stop for every service the member was acting for (a
    /// clean exit).
    pub fn stop_all(&mut self, recorder: &mut HistoryRecorder) -> io::Result<()> {
        for (service, last) in &mut self.services {
            if let Some(previous) = last.take() {
                recorder.stop(service, &previous)?;
            }
        }
        Ok(())
    }
}

/// Makes sure the view the member acts in is recorded before the interval
/// (the view watch is published a moment after the session installs it).
fn ensure_view(member: &Member, recorder: &mut HistoryRecorder, id: u64) -> io::Result<()> {
    if recorder.last_view().is_some_and(|last| last >= id) {
        return Ok(());
    }
    for _ in 0..100 {
        let view = member.view();
        if view.id().0 >= id {
            return recorder.view(&view);
        }
        std::thread::sleep(Duration::from_micros(100));
    }
    Ok(())
}
