//! The oracle leader's failure detector, sans-IO.
//!
//! The caller stamps each heartbeat's arrival time at the socket and passes
//! it to [`FailureDetector::heartbeat`]; it calls [`FailureDetector::tick`]
//! from its event loop (every 10 ms or so). Each tick returns
//! [`DetectorOutput`]: suspicion levels for alerting and removal proposals
//! for the oracle to commit.
//!
//! - **Conviction is a fixed timeout**: a member silent for longer than the
//!   suspicion timeout `S` (on the oracle's clock) is proposed for removal.
//!   Because `S ≥ L·(1+ρ) + h` (see [`crate::lease`]), its lease has lapsed on
//!   its own clock by then.
//! - **Phi accrual is for alerting only**: each member keeps a bounded window
//!   of heartbeat intervals; `φ = −log10 P(the next heartbeat is still to
//!   come)` is exported per member and reported when above a threshold.
//! - **Local-health guard**: a gap between two `tick` calls longer than the
//!   stall bound means the detector itself stalled (CPU starvation, a GC-like
//!   pause, SIGSTOP). It then restarts every member's silence at that tick
//!   and convicts nobody until a heartbeat that arrived after the stall has
//!   been recorded: a detector that hears nobody suspects itself first.
//! - **New leader grace**: [`FailureDetector::became_leader`] restarts every
//!   silence and holds removals for one lease as the oracle counts it,
//!   `L·(1+ρ)`, so leases granted by the previous leader run out first.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use crate::clock::Timestamp;
use crate::lease::{ConfigError, TimingConfig};
use crate::view::{Incarnation, MAX_MEMBERS, MemberId, View, ViewCommand};

/// The largest phi window accepted.
pub const MAX_PHI_WINDOW: usize = 1_000;
/// Phi values are capped here (the estimate is meaningless beyond it).
pub const MAX_PHI: f64 = 1_000.0;

/// Failure detector settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DetectorConfig {
    /// Lease, heartbeat, drift and suspicion timeout.
    pub timing: TimingConfig,
    /// A gap between two ticks longer than this is a local stall. Default:
    /// one heartbeat interval.
    pub stall_threshold: Duration,
    /// Heartbeat intervals kept per member for phi (1 to [`MAX_PHI_WINDOW`]).
    pub phi_window: usize,
    /// Floor on the interval standard deviation, so a very regular sender
    /// does not make phi jump at the first late heartbeat.
    pub phi_min_std_dev: Duration,
    /// Phi at or above which a member is reported as suspected.
    pub phi_threshold: f64,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        let timing = TimingConfig::default();
        Self {
            timing,
            stall_threshold: timing.heartbeat_interval,
            phi_window: 100,
            phi_min_std_dev: Duration::from_millis(50),
            phi_threshold: 8.0,
        }
    }
}

/// Why a detector could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DetectorConfigError {
    /// The timing configuration is unsafe or out of range.
    #[error(transparent)]
    Timing(#[from] ConfigError),
    /// `phi_window` is outside 1 ..= [`MAX_PHI_WINDOW`].
    #[error("membership.phi_window = {0} must be between 1 and {MAX_PHI_WINDOW}")]
    PhiWindow(usize),
    /// `phi_threshold` is not a positive finite number.
    #[error("membership.phi_threshold must be a positive finite number")]
    PhiThreshold,
    /// `stall_threshold` is zero or at least the suspicion timeout.
    #[error("membership.stall_threshold_ms must be positive and below suspicion_timeout_ms")]
    StallThreshold,
}

/// Why a heartbeat was not recorded (it has no effect on the detector).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeartbeatError {
    /// The sender is not in the view: it must join first.
    #[error("heartbeat from {member}, which is not in the view")]
    UnknownMember {
        /// The sender.
        member: MemberId,
    },
    /// The sender's incarnation is not the one in the view (an old process,
    /// or a new one that has not joined yet).
    #[error("heartbeat from {member} {presented}, but the view holds {current}")]
    WrongIncarnation {
        /// The sender.
        member: MemberId,
        /// The incarnation it claimed.
        presented: Incarnation,
        /// The incarnation in the view.
        current: Incarnation,
    },
    /// The sender was convicted (its removal is proposed): it gets no
    /// more leases from this leader. Its silence had outlasted every lease
    /// it held, and a lease granted now would outlive the removal and
    /// overlap its backup's promotion.
    #[error("heartbeat from {member}, whose removal is already proposed")]
    Convicted {
        /// The sender.
        member: MemberId,
    },
}

/// A member whose phi is at or above the threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Suspicion {
    /// The member.
    pub member: MemberId,
    /// Its incarnation.
    pub incarnation: Incarnation,
    /// Its phi.
    pub phi: f64,
    /// Time since its last heartbeat (or since silences were restarted).
    pub silent_for: Duration,
}

/// A member silent longer than the suspicion timeout, to be removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovalProposal {
    /// The member.
    pub member: MemberId,
    /// The incarnation convicted.
    pub incarnation: Incarnation,
    /// How long it has been silent.
    pub silent_for: Duration,
}

impl RemovalProposal {
    /// The view command that carries out this removal.
    #[must_use]
    pub fn command(&self) -> ViewCommand {
        ViewCommand::Remove {
            member: self.member.clone(),
            incarnation: self.incarnation,
        }
    }
}

/// What one tick found.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DetectorOutput {
    /// Set when this tick detected a local stall of this length.
    pub stalled_for: Option<Duration>,
    /// Members at or above the phi threshold.
    pub suspicions: Vec<Suspicion>,
    /// Members to remove. Level-triggered: a convicted member is proposed
    /// again at every tick until the view no longer holds it.
    pub removals: Vec<RemovalProposal>,
}

/// One member's health, for metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberHealth {
    /// The member.
    pub member: MemberId,
    /// Its incarnation.
    pub incarnation: Incarnation,
    /// Its phi.
    pub phi: f64,
    /// Time since its last heartbeat (or since silences were restarted).
    pub silent_for: Duration,
    /// Mean heartbeat interval in the window (the heartbeat interval before
    /// any was measured).
    pub mean_interval: Duration,
    /// Heartbeats recorded for this incarnation.
    pub heartbeats: u64,
}

/// A bounded window of inter-arrival intervals, in milliseconds.
#[derive(Debug, Clone)]
struct IntervalWindow {
    intervals: VecDeque<f64>,
    capacity: usize,
    sum: f64,
    sum_of_squares: f64,
}

impl IntervalWindow {
    fn new(capacity: usize) -> Self {
        Self {
            intervals: VecDeque::with_capacity(capacity),
            capacity,
            sum: 0.0,
            sum_of_squares: 0.0,
        }
    }

    fn push(&mut self, interval_ms: f64) {
        if self.intervals.len() >= self.capacity
            && let Some(old) = self.intervals.pop_front()
        {
            self.sum -= old;
            self.sum_of_squares -= old * old;
        }
        self.intervals.push_back(interval_ms);
        self.sum += interval_ms;
        self.sum_of_squares += interval_ms * interval_ms;
    }

    /// Mean and standard deviation, or `None` while empty.
    #[allow(clippy::cast_precision_loss)] // window length ≤ MAX_PHI_WINDOW
    fn stats(&self) -> Option<(f64, f64)> {
        if self.intervals.is_empty() {
            return None;
        }
        let n = self.intervals.len() as f64;
        let mean = self.sum / n;
        let variance = (self.sum_of_squares / n - mean * mean).max(0.0);
        Some((mean, variance.sqrt()))
    }
}

/// Phi for `elapsed_ms` since the last heartbeat, given the interval
/// distribution (the logistic approximation of the normal CDF used by Akka
/// and Cassandra-style detectors).
fn phi(elapsed_ms: f64, mean_ms: f64, std_dev_ms: f64) -> f64 {
    let y = (elapsed_ms - mean_ms) / std_dev_ms;
    let e = (-y * (1.5976 + 0.070566 * y * y)).exp();
    let value = if elapsed_ms > mean_ms {
        -(e / (1.0 + e)).log10()
    } else {
        -(1.0 - 1.0 / (1.0 + e)).log10()
    };
    if value.is_finite() {
        value.clamp(0.0, MAX_PHI)
    } else {
        MAX_PHI
    }
}

#[derive(Debug, Clone)]
struct Watched {
    incarnation: Incarnation,
    /// The last heartbeat arrival, or the moment silences were restarted.
    last_recv: Timestamp,
    /// The last real heartbeat arrival (for intervals).
    last_heartbeat: Option<Timestamp>,
    /// Intervals starting before this (a stall or a leadership change) are
    /// not measured: they say nothing about the member.
    intervals_since: Timestamp,
    window: IntervalWindow,
    heartbeats: u64,
    /// A removal was proposed: no heartbeat counts any more.
    convicted: bool,
}

/// The oracle leader's failure detector (see the module docs).
#[derive(Debug, Clone)]
pub struct FailureDetector {
    config: DetectorConfig,
    watched: BTreeMap<MemberId, Watched>,
    last_tick: Option<Timestamp>,
    /// After a stall: no removal until a heartbeat arrives at or after this.
    awaiting_heartbeat_after: Option<Timestamp>,
    /// After a leadership change: no removal before this.
    hold_removals_until: Option<Timestamp>,
}

impl FailureDetector {
    /// A detector watching nobody yet.
    pub fn new(config: DetectorConfig) -> Result<Self, DetectorConfigError> {
        config.timing.validate()?;
        if config.phi_window == 0 || config.phi_window > MAX_PHI_WINDOW {
            return Err(DetectorConfigError::PhiWindow(config.phi_window));
        }
        if !(config.phi_threshold.is_finite() && config.phi_threshold > 0.0) {
            return Err(DetectorConfigError::PhiThreshold);
        }
        if config.stall_threshold.is_zero()
            || config.stall_threshold >= config.timing.suspicion_timeout
        {
            return Err(DetectorConfigError::StallThreshold);
        }
        Ok(Self {
            config,
            watched: BTreeMap::new(),
            last_tick: None,
            awaiting_heartbeat_after: None,
            hold_removals_until: None,
        })
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &DetectorConfig {
        &self.config
    }

    /// Watches exactly the members of `view` at their incarnations: new
    /// members and new incarnations start with their silence counted from
    /// `now`; members no longer in the view are forgotten.
    pub fn sync_with_view(&mut self, view: &View, now: Timestamp) {
        self.watched.retain(|member, watched| {
            view.member(member)
                .is_some_and(|info| info.incarnation == watched.incarnation)
        });
        for (member, info) in view.members() {
            if self.watched.len() >= MAX_MEMBERS {
                break;
            }
            self.watched
                .entry(member.clone())
                .or_insert_with(|| Watched {
                    incarnation: info.incarnation,
                    last_recv: now,
                    last_heartbeat: None,
                    intervals_since: now,
                    window: IntervalWindow::new(self.config.phi_window),
                    heartbeats: 0,
                    convicted: false,
                });
        }
    }

    /// [`Self::sync_with_view`] for the `changed` members only: each one
    /// in `view` is watched at its incarnation there (a new member or a new
    /// incarnation starts its silence at `now`), each one missing from
    /// `view` is forgotten, and nobody else is looked at. When `changed`
    /// holds every member whose entry differs between the view this
    /// detector was last synced with and `view`
    /// ([`View::member_changes`]), the result is what a whole sync gives,
    /// at O(changes) instead of O(members). Returns how many members were
    /// looked at.
    pub fn sync_members<'m>(
        &mut self,
        view: &View,
        changed: impl IntoIterator<Item = &'m MemberId>,
        now: Timestamp,
    ) -> usize {
        let mut looked_at = 0;
        for member in changed {
            looked_at += 1;
            let Some(info) = view.member(member) else {
                self.watched.remove(member);
                continue;
            };
            if self
                .watched
                .get(member)
                .is_some_and(|watched| watched.incarnation == info.incarnation)
            {
                continue;
            }
            if !self.watched.contains_key(member) && self.watched.len() >= MAX_MEMBERS {
                continue;
            }
            self.watched.insert(
                member.clone(),
                Watched {
                    incarnation: info.incarnation,
                    last_recv: now,
                    last_heartbeat: None,
                    intervals_since: now,
                    window: IntervalWindow::new(self.config.phi_window),
                    heartbeats: 0,
                    convicted: false,
                },
            );
        }
        looked_at
    }

    /// Records a heartbeat that arrived at `arrived_at` (stamped at the
    /// socket). Arrivals older than the latest one recorded never move the
    /// member's silence backwards.
    pub fn heartbeat(
        &mut self,
        member: &MemberId,
        incarnation: Incarnation,
        arrived_at: Timestamp,
    ) -> Result<(), HeartbeatError> {
        let watched =
            self.watched
                .get_mut(member)
                .ok_or_else(|| HeartbeatError::UnknownMember {
                    member: member.clone(),
                })?;
        if watched.incarnation != incarnation {
            return Err(HeartbeatError::WrongIncarnation {
                member: member.clone(),
                presented: incarnation,
                current: watched.incarnation,
            });
        }
        if watched.convicted {
            return Err(HeartbeatError::Convicted {
                member: member.clone(),
            });
        }
        if let Some(previous) = watched.last_heartbeat
            && arrived_at > previous
            && previous >= watched.intervals_since
        {
            let interval = arrived_at.saturating_duration_since(previous);
            watched.window.push(interval.as_secs_f64() * 1_000.0);
        }
        watched.heartbeats = watched.heartbeats.saturating_add(1);
        watched.last_heartbeat = Some(
            watched
                .last_heartbeat
                .map_or(arrived_at, |p| p.max(arrived_at)),
        );
        watched.last_recv = watched.last_recv.max(arrived_at);
        if self
            .awaiting_heartbeat_after
            .is_some_and(|stall| arrived_at >= stall)
        {
            self.awaiting_heartbeat_after = None;
        }
        Ok(())
    }

    /// Whether `member` is watched at `incarnation` and not convicted (its
    /// heartbeats are recorded).
    #[must_use]
    pub fn is_watching(&self, member: &MemberId, incarnation: Incarnation) -> bool {
        self.watched
            .get(member)
            .is_some_and(|watched| watched.incarnation == incarnation && !watched.convicted)
    }

    /// This node just became the oracle leader at `now`: restart every
    /// silence and hold removals for `L·(1+ρ)`.
    pub fn became_leader(&mut self, now: Timestamp) {
        for watched in self.watched.values_mut() {
            watched.last_recv = now;
            watched.intervals_since = now;
        }
        self.hold_removals_until =
            Some(now.saturating_add(self.config.timing.lease_on_oracle_clock()));
    }

    /// Whether removals are currently held back (new leader grace or the
    /// local-health guard).
    #[must_use]
    pub fn removals_held(&self, now: Timestamp) -> bool {
        self.awaiting_heartbeat_after.is_some()
            || self.hold_removals_until.is_some_and(|until| now < until)
    }

    /// The mean interval and its standard deviation (floored) in ms.
    fn interval_stats(&self, watched: &Watched) -> (f64, f64) {
        let interval_ms = self.config.timing.heartbeat_interval.as_secs_f64() * 1_000.0;
        let floor_ms = self.config.phi_min_std_dev.as_secs_f64() * 1_000.0;
        let (mean, std_dev) = watched
            .window
            .stats()
            .unwrap_or((interval_ms, interval_ms / 4.0));
        (mean, std_dev.max(floor_ms))
    }

    fn health_of(&self, member: &MemberId, watched: &Watched, now: Timestamp) -> MemberHealth {
        let silent_for = now.saturating_duration_since(watched.last_recv);
        let (mean, std_dev) = self.interval_stats(watched);
        MemberHealth {
            member: member.clone(),
            incarnation: watched.incarnation,
            phi: phi(silent_for.as_secs_f64() * 1_000.0, mean, std_dev),
            silent_for,
            mean_interval: Duration::from_secs_f64(mean.max(0.0) / 1_000.0),
            heartbeats: watched.heartbeats,
        }
    }

    /// Every watched member's health at `now`, for metrics.
    #[must_use]
    pub fn health(&self, now: Timestamp) -> Vec<MemberHealth> {
        self.watched
            .iter()
            .map(|(member, watched)| self.health_of(member, watched, now))
            .collect()
    }

    /// One member's phi at `now`.
    #[must_use]
    pub fn phi(&self, member: &MemberId, now: Timestamp) -> Option<f64> {
        self.watched
            .get(member)
            .map(|watched| self.health_of(member, watched, now).phi)
    }

    /// Runs the detector at `now`: detects a local stall, then reports
    /// suspicions and removal proposals.
    pub fn tick(&mut self, now: Timestamp) -> DetectorOutput {
        let mut output = DetectorOutput::default();
        if let Some(previous) = self.last_tick {
            let gap = now.saturating_duration_since(previous);
            if gap > self.config.stall_threshold {
                output.stalled_for = Some(gap);
                for watched in self.watched.values_mut() {
                    watched.last_recv = watched.last_recv.max(now);
                    watched.intervals_since = now;
                }
                self.awaiting_heartbeat_after = Some(now);
            }
        }
        self.last_tick = Some(self.last_tick.map_or(now, |previous| previous.max(now)));
        let held = self.removals_held(now);
        // This runs over every member every tick (20 ms): nothing is
        // allocated for a healthy member, and phi, which is at most
        // log10(2) for a silence no longer than the mean interval, is only
        // computed beyond it.
        let phi_needs_longer_silence = self.config.phi_threshold > std::f64::consts::LOG10_2;
        for (member, watched) in &self.watched {
            let silent_for = now.saturating_duration_since(watched.last_recv);
            let silent_ms = silent_for.as_secs_f64() * 1_000.0;
            let (mean, std_dev) = self.interval_stats(watched);
            if !phi_needs_longer_silence || silent_ms > mean {
                let phi = phi(silent_ms, mean, std_dev);
                if phi >= self.config.phi_threshold {
                    output.suspicions.push(Suspicion {
                        member: member.clone(),
                        incarnation: watched.incarnation,
                        phi,
                        silent_for,
                    });
                }
            }
            if !held && silent_for > self.config.timing.suspicion_timeout {
                output.removals.push(RemovalProposal {
                    member: member.clone(),
                    incarnation: watched.incarnation,
                    silent_for,
                });
            }
        }
        // Conviction is final for this leader: a heartbeat arriving while
        // the removal commits must not earn a lease that outlives it.
        for removal in &output.removals {
            if let Some(watched) = self.watched.get_mut(&removal.member) {
                watched.convicted = true;
            }
        }
        output
    }
}
