//! Timing configuration and member leases (self-fencing), sans-IO.
//!
//! A member may act (serve as primary, accept writes, acknowledge
//! replication) only while it holds a valid lease. The lease is measured on
//! the **member's own monotonic clock**, starting when the member *sent* the
//! heartbeat that the grant answers, not when the grant arrived: the oracle
//! cannot have seen the heartbeat before it was sent, so the lease starts no
//! later than anything the oracle knows about it.
//!
//! # The safety formula
//!
//! Let `L` be the granted lease, `ρ` the bound on every clock's rate error
//! (a clock advances between `1−ρ` and `1+ρ` seconds per real second), `h`
//! the heartbeat interval and `S` the oracle's suspicion timeout.
//!
//! - The member counts its lease as `L·(1−ρ)` on its own clock, from the
//!   send time `t_send`. Its clock runs at least `1−ρ`, so the lease lasts at
//!   most `L·(1−ρ)/(1−ρ) = L` real seconds after `t_send`.
//! - The oracle convicts a member only after `S` of silence on the oracle's
//!   clock, counted from the arrival of the last heartbeat it answered
//!   (`≥ t_send`). The oracle's clock runs at most `1+ρ`, so that is at least
//!   `S/(1+ρ)` real seconds.
//! - So if `S ≥ L·(1+ρ)`, every lease the member holds has lapsed on its own
//!   clock before the oracle removes it and promotes a backup. The
//!   configuration also demands one heartbeat interval on top,
//!   **`S ≥ L·(1+ρ) + h`**, so that one late heartbeat never convicts.
//!
//! Defaults: `L = 2 s`, `h = 200 ms`, `ρ = 1 %` (10 000 ppm: far above a
//! crystal's ~100 ppm, covering NTP slewing and virtual machines), and
//! `S = 2.6 s` (the formula asks for 2.22 s; the rest is margin). A
//! failover therefore takes about `S` + one view commit + at most `h`.
//! [`TimingConfig::validate`] refuses configurations that break the formula,
//! naming the configuration keys.

use std::time::Duration;

use crate::clock::Timestamp;

/// The largest clock drift bound accepted: 10 % (100 000 ppm).
pub const MAX_CLOCK_DRIFT_PPM: u32 = 100_000;
/// The longest lease or suspicion timeout accepted: one hour.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(3_600);

const PPM: u128 = 1_000_000;

/// The membership timing knobs, as they appear in the `[membership]`
/// configuration section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimingConfig {
    /// `membership.lease_ms`: the lease `L` the oracle grants.
    pub lease: Duration,
    /// `membership.heartbeat_interval_ms`: how often members heartbeat, `h`.
    pub heartbeat_interval: Duration,
    /// `membership.clock_drift_ppm`: the clock rate error bound `ρ`, in
    /// parts per million.
    pub clock_drift_ppm: u32,
    /// `membership.suspicion_timeout_ms`: the silence `S` after which the
    /// oracle removes a member.
    pub suspicion_timeout: Duration,
}

impl Default for TimingConfig {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(2),
            heartbeat_interval: Duration::from_millis(200),
            clock_drift_ppm: 10_000,
            suspicion_timeout: Duration::from_millis(2_600),
        }
    }
}

/// A timing configuration that breaks a rule; the message names the keys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A duration that must be positive is zero.
    #[error("membership.{key} must be greater than zero")]
    Zero {
        /// The configuration key.
        key: &'static str,
    },
    /// A duration is longer than [`MAX_TIMEOUT`].
    #[error("membership.{key} = {value_ms} ms is longer than the limit of {limit_ms} ms")]
    TooLong {
        /// The configuration key.
        key: &'static str,
        /// Its value.
        value_ms: u128,
        /// The limit.
        limit_ms: u128,
    },
    /// The drift bound is above [`MAX_CLOCK_DRIFT_PPM`].
    #[error("membership.clock_drift_ppm = {value} is above the limit of {MAX_CLOCK_DRIFT_PPM}")]
    DriftTooLarge {
        /// Its value.
        value: u32,
    },
    /// Fewer than two heartbeats fit in a lease, so one lost heartbeat would
    /// let the lease lapse.
    #[error(
        "membership.heartbeat_interval_ms = {heartbeat_interval_ms} ms is too slow for \
         membership.lease_ms = {lease_ms} ms: two heartbeats must fit in lease_ms·(1−ρ)"
    )]
    HeartbeatTooSlow {
        /// The heartbeat interval.
        heartbeat_interval_ms: u128,
        /// The lease.
        lease_ms: u128,
    },
    /// `S < L·(1+ρ) + h`: the oracle could remove a member whose lease is
    /// still valid on its own clock.
    #[error(
        "membership.suspicion_timeout_ms = {suspicion_timeout_ms} ms is unsafe: it must be at \
         least lease_ms·(1+clock_drift_ppm/10⁶) + heartbeat_interval_ms = {required_ms} ms"
    )]
    SuspicionTooShort {
        /// The configured timeout.
        suspicion_timeout_ms: u128,
        /// The smallest safe timeout (rounded up to whole milliseconds).
        required_ms: u128,
    },
}

fn scale(duration: Duration, ppm_factor: u128, round_up: bool) -> Duration {
    let nanos = duration.as_nanos().saturating_mul(ppm_factor);
    let scaled = if round_up {
        nanos.div_ceil(PPM)
    } else {
        nanos / PPM
    };
    Duration::from_nanos(u64::try_from(scaled).unwrap_or(u64::MAX))
}

impl TimingConfig {
    /// `L·(1−ρ)`: how long a lease lasts on the member's own clock.
    #[must_use]
    pub fn lease_on_member_clock(&self, granted: Duration) -> Duration {
        scale(
            granted,
            PPM.saturating_sub(u128::from(self.clock_drift_ppm)),
            false,
        )
    }

    /// `L·(1+ρ)`: how long the oracle's clock may read while one lease is
    /// still running in real time. A new oracle leader waits this long
    /// before removing anyone.
    #[must_use]
    pub fn lease_on_oracle_clock(&self) -> Duration {
        scale(
            self.lease,
            PPM.saturating_add(u128::from(self.clock_drift_ppm)),
            true,
        )
    }

    /// `L·(1+ρ) + h`: the smallest safe suspicion timeout.
    #[must_use]
    pub fn required_suspicion_timeout(&self) -> Duration {
        self.lease_on_oracle_clock()
            .saturating_add(self.heartbeat_interval)
    }

    /// Checks the configuration, naming the offending keys.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (key, value) in [
            ("lease_ms", self.lease),
            ("heartbeat_interval_ms", self.heartbeat_interval),
            ("suspicion_timeout_ms", self.suspicion_timeout),
        ] {
            if value.is_zero() {
                return Err(ConfigError::Zero { key });
            }
            if value > MAX_TIMEOUT {
                return Err(ConfigError::TooLong {
                    key,
                    value_ms: value.as_millis(),
                    limit_ms: MAX_TIMEOUT.as_millis(),
                });
            }
        }
        if self.clock_drift_ppm > MAX_CLOCK_DRIFT_PPM {
            return Err(ConfigError::DriftTooLarge {
                value: self.clock_drift_ppm,
            });
        }
        if self.heartbeat_interval.saturating_mul(2) > self.lease_on_member_clock(self.lease) {
            return Err(ConfigError::HeartbeatTooSlow {
                heartbeat_interval_ms: self.heartbeat_interval.as_millis(),
                lease_ms: self.lease.as_millis(),
            });
        }
        let required = self.required_suspicion_timeout();
        if self.suspicion_timeout < required {
            return Err(ConfigError::SuspicionTooShort {
                suspicion_timeout_ms: self.suspicion_timeout.as_millis(),
                required_ms: required.as_nanos().div_ceil(1_000_000),
            });
        }
        Ok(())
    }
}

/// A lease request in flight: when the member sent it, on its own clock.
/// The member keeps it with the request and hands it back with the grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseRequest {
    sent_at: Timestamp,
}

impl LeaseRequest {
    /// When the request was sent, on the member's clock.
    #[must_use]
    pub fn sent_at(self) -> Timestamp {
        self.sent_at
    }
}

/// Where a member's lease stands, for metrics and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseState {
    /// No grant received yet.
    NeverGranted,
    /// Valid for this much longer.
    Valid {
        /// Time left on the member's clock.
        remaining: Duration,
    },
    /// Lapsed: the member must not act until a new grant arrives.
    Expired,
    /// Given up for good (the member saw a view that excludes it); this
    /// incarnation never acts again.
    Fenced,
}

/// The member side of the lease: decides, on the member's own clock,
/// whether it may act.
#[derive(Debug, Clone)]
pub struct LeaseHolder {
    timing: TimingConfig,
    expires_at: Option<Timestamp>,
    fenced: bool,
}

impl LeaseHolder {
    /// A holder with no lease yet.
    #[must_use]
    pub fn new(timing: TimingConfig) -> Self {
        Self {
            timing,
            expires_at: None,
            fenced: false,
        }
    }

    /// Records that a heartbeat (lease request) is being sent at `now`.
    /// Read the clock *before* sending.
    #[must_use]
    pub fn request_sent(&self, now: Timestamp) -> LeaseRequest {
        LeaseRequest { sent_at: now }
    }

    /// Applies a grant of `granted` for `request`. The grant is capped at
    /// the configured lease, counted as `granted·(1−ρ)` from the request's
    /// send time, and never shortens a lease already held (grants may
    /// arrive out of order). Ignored once fenced.
    pub fn granted(&mut self, request: LeaseRequest, granted: Duration) {
        if self.fenced {
            return;
        }
        let local = self
            .timing
            .lease_on_member_clock(granted.min(self.timing.lease));
        let expiry = request.sent_at.saturating_add(local);
        self.expires_at = Some(self.expires_at.map_or(expiry, |held| held.max(expiry)));
    }

    /// Whether the member may act at `now` (its own clock).
    #[must_use]
    pub fn can_act(&self, now: Timestamp) -> bool {
        !self.fenced && self.expires_at.is_some_and(|expiry| now < expiry)
    }

    /// When the lease lapses, on the member's clock.
    #[must_use]
    pub fn expires_at(&self) -> Option<Timestamp> {
        self.expires_at
    }

    /// Gives the lease up for good: call it when a view excludes this
    /// incarnation. Rejoin with a new incarnation and a new holder.
    pub fn fence(&mut self) {
        self.fenced = true;
        self.expires_at = None;
    }

    /// Where the lease stands at `now`.
    #[must_use]
    pub fn state(&self, now: Timestamp) -> LeaseState {
        if self.fenced {
            return LeaseState::Fenced;
        }
        match self.expires_at {
            None => LeaseState::NeverGranted,
            Some(expiry) if now < expiry => LeaseState::Valid {
                remaining: expiry.saturating_duration_since(now),
            },
            Some(_) => LeaseState::Expired,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn defaults_are_safe_and_match_the_documented_numbers() {
        let timing = TimingConfig::default();
        assert_eq!(timing.validate(), Ok(()));
        assert_eq!(timing.lease_on_oracle_clock(), ms(2_020));
        assert_eq!(timing.required_suspicion_timeout(), ms(2_220));
        assert_eq!(timing.lease_on_member_clock(timing.lease), ms(1_980));
    }

    #[test]
    fn a_short_suspicion_timeout_is_refused_naming_the_key() {
        let timing = TimingConfig {
            suspicion_timeout: ms(2_100),
            ..TimingConfig::default()
        };
        let err = timing.validate().unwrap_err();
        assert_eq!(
            err,
            ConfigError::SuspicionTooShort {
                suspicion_timeout_ms: 2_100,
                required_ms: 2_220
            }
        );
        let text = err.to_string();
        assert!(
            text.contains("membership.suspicion_timeout_ms = 2100 ms"),
            "{text}"
        );
        assert!(text.contains("2220 ms"), "{text}");
        let boundary = TimingConfig {
            suspicion_timeout: ms(2_220),
            ..TimingConfig::default()
        };
        assert_eq!(boundary.validate(), Ok(()));
    }

    #[test]
    fn every_bad_knob_is_named() {
        let base = TimingConfig::default();
        let cases = [
            (
                TimingConfig {
                    lease: Duration::ZERO,
                    ..base
                },
                "membership.lease_ms",
            ),
            (
                TimingConfig {
                    heartbeat_interval: Duration::ZERO,
                    ..base
                },
                "membership.heartbeat_interval_ms",
            ),
            (
                TimingConfig {
                    suspicion_timeout: Duration::from_secs(7_200),
                    ..base
                },
                "membership.suspicion_timeout_ms",
            ),
            (
                TimingConfig {
                    clock_drift_ppm: 200_000,
                    ..base
                },
                "membership.clock_drift_ppm",
            ),
            (
                TimingConfig {
                    heartbeat_interval: ms(1_000),
                    ..base
                },
                "membership.heartbeat_interval_ms",
            ),
        ];
        for (timing, key) in cases {
            let text = timing.validate().unwrap_err().to_string();
            assert!(text.contains(key), "{key} missing from: {text}");
        }
    }

    #[test]
    fn the_lease_runs_from_the_send_time_not_the_grant_arrival() {
        let timing = TimingConfig::default();
        let mut holder = LeaseHolder::new(timing);
        assert_eq!(holder.state(Timestamp::ZERO), LeaseState::NeverGranted);
        let request = holder.request_sent(Timestamp::from_millis(1_000));
        // The grant arrives 500 ms later; the lease still counts from 1 000.
        holder.granted(request, timing.lease);
        assert_eq!(holder.expires_at(), Some(Timestamp::from_millis(2_980)));
        assert!(holder.can_act(Timestamp::from_millis(1_500)));
        assert!(holder.can_act(Timestamp::from_millis(2_979)));
        assert!(!holder.can_act(Timestamp::from_millis(2_980)));
        assert_eq!(
            holder.state(Timestamp::from_millis(3_000)),
            LeaseState::Expired
        );
    }

    #[test]
    fn late_grants_never_shorten_and_oversized_grants_are_capped() {
        let timing = TimingConfig::default();
        let mut holder = LeaseHolder::new(timing);
        let newer = holder.request_sent(Timestamp::from_millis(400));
        let older = holder.request_sent(Timestamp::from_millis(200));
        holder.granted(newer, timing.lease);
        holder.granted(older, timing.lease);
        assert_eq!(holder.expires_at(), Some(Timestamp::from_millis(2_380)));
        let mut greedy = LeaseHolder::new(timing);
        greedy.granted(
            greedy.request_sent(Timestamp::ZERO),
            Duration::from_secs(60),
        );
        assert_eq!(greedy.expires_at(), Some(Timestamp::from_millis(1_980)));
    }

    #[test]
    fn a_fenced_holder_never_acts_again() {
        let timing = TimingConfig::default();
        let mut holder = LeaseHolder::new(timing);
        let request = holder.request_sent(Timestamp::ZERO);
        holder.granted(request, timing.lease);
        holder.fence();
        assert!(!holder.can_act(Timestamp::from_millis(1)));
        holder.granted(holder.request_sent(Timestamp::from_millis(2)), timing.lease);
        assert!(!holder.can_act(Timestamp::from_millis(3)));
        assert_eq!(holder.state(Timestamp::from_millis(3)), LeaseState::Fenced);
    }
}
