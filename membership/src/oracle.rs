//! The oracle leader's per-node logic, sans-IO: answers heartbeats with
//! lease grants and the view, and turns the failure detector's verdicts into
//! view commands for the consensus layer to commit.
//!
//! The consensus layer (not built yet) owns the replicated [`View`]: it
//! commits the commands [`OracleLeader::tick`] proposes and reports each
//! committed view back through [`OracleLeader::on_committed`]. The leader
//! grants leases only while its own leadership is certain: a single-node
//! oracle always is; an elected leader of a larger group only until the
//! deadline the consensus layer sets from its last quorum acknowledgement
//! ([`OracleLeader::allow_grants_until`]), so a deposed or partitioned leader
//! grants nothing.

use std::sync::Arc;
use std::time::Duration;

use crate::clock::Timestamp;
use crate::detector::{DetectorConfig, DetectorConfigError, DetectorOutput, FailureDetector};
use crate::member::HeartbeatRequest;
use crate::view::{MemberId, View, ViewCommand};

/// How this node holds the oracle leadership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leadership {
    /// A single-node oracle: it is its own majority and always the leader.
    SingleNode,
    /// Elected in a group at the given time: removals wait out one lease
    /// (`L·(1+ρ)`), and grants need [`OracleLeader::allow_grants_until`].
    Elected,
}

/// The answer to one heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartbeatReply {
    /// The request answered.
    pub request_id: u64,
    /// The lease granted, counted by the member from when it sent the
    /// request; `None` when the oracle does not grant.
    pub lease: Option<Duration>,
    /// The oracle's view, sent only when the member's is older.
    pub view: Option<View>,
}

/// The oracle leader's state on one node (see the module docs).
#[derive(Debug, Clone)]
pub struct OracleLeader {
    detector: FailureDetector,
    /// Shared with the node runtime's published view, never copied.
    view: Arc<View>,
    leadership: Leadership,
    grants_until: Option<Timestamp>,
}

impl OracleLeader {
    /// A leader holding the committed `view` (a [`View`] or a shared one)
    /// as of `now`.
    pub fn new(
        config: DetectorConfig,
        view: impl Into<Arc<View>>,
        leadership: Leadership,
        now: Timestamp,
    ) -> Result<Self, DetectorConfigError> {
        let view = view.into();
        let mut detector = FailureDetector::new(config)?;
        detector.sync_with_view(&view, now);
        if leadership == Leadership::Elected {
            detector.became_leader(now);
        }
        Ok(Self {
            detector,
            view,
            leadership,
            grants_until: None,
        })
    }

    /// The newest committed view.
    #[must_use]
    pub fn view(&self) -> &View {
        &self.view
    }

    /// The failure detector (for metrics).
    #[must_use]
    pub fn detector(&self) -> &FailureDetector {
        &self.detector
    }

    /// For an elected leader: grant only before `until` (on this node's
    /// clock), typically the last quorum acknowledgement plus the minimum
    /// election timeout scaled by `1−ρ`. Never moves the deadline back.
    pub fn allow_grants_until(&mut self, until: Timestamp) {
        self.grants_until = Some(self.grants_until.map_or(until, |held| held.max(until)));
    }

    /// Whether a heartbeat arriving at `now` may be granted a lease.
    #[must_use]
    pub fn may_grant(&self, now: Timestamp) -> bool {
        match self.leadership {
            Leadership::SingleNode => true,
            Leadership::Elected => self.grants_until.is_some_and(|until| now < until),
        }
    }

    /// Answers a heartbeat that arrived at `arrived_at` (stamped at the
    /// socket). A heartbeat from a stranger or a wrong incarnation is not
    /// recorded and gets no lease, only the view, which tells the sender it
    /// must (re)join.
    pub fn on_heartbeat(
        &mut self,
        request: &HeartbeatRequest,
        arrived_at: Timestamp,
    ) -> HeartbeatReply {
        let known = self
            .detector
            .is_watching(&request.member, request.incarnation);
        let lease = self.grant(request, arrived_at);
        let view = (request.seen_view < self.view.id() || !known).then(|| View::clone(&self.view));
        HeartbeatReply {
            request_id: request.request_id,
            lease,
            view,
        }
    }

    /// [`Self::on_heartbeat`] without the view: records the heartbeat and
    /// returns the lease granted, if any. The node runtime answers with the
    /// view's JSON encoded once per view, so it never needs the copy
    /// `on_heartbeat` makes for a stale or unknown sender (O(N) per
    /// heartbeat in a large group).
    pub fn grant(&mut self, request: &HeartbeatRequest, arrived_at: Timestamp) -> Option<Duration> {
        let recorded = self
            .detector
            .heartbeat(&request.member, request.incarnation, arrived_at)
            .is_ok();
        (recorded && self.may_grant(arrived_at)).then_some(self.detector.config().timing.lease)
    }

    /// Runs the failure detector at `now`; its removal proposals, as view
    /// commands, are in [`DetectorOutput::removals`] (see
    /// [`crate::RemovalProposal::command`]).
    pub fn tick(&mut self, now: Timestamp) -> DetectorOutput {
        self.detector.tick(now)
    }

    /// The commands to commit for this tick's removals, one per member.
    #[must_use]
    pub fn removal_commands(output: &DetectorOutput) -> Vec<ViewCommand> {
        output
            .removals
            .iter()
            .map(crate::RemovalProposal::command)
            .collect()
    }

    /// Installs a newly committed view (older ones are ignored), syncing
    /// the failure detector with all of it (O(members); see
    /// [`Self::on_committed_changes`]).
    pub fn on_committed(&mut self, view: impl Into<Arc<View>>, now: Timestamp) {
        let view = view.into();
        if view.id() > self.view.id() {
            self.detector.sync_with_view(&view, now);
            self.view = view;
        }
    }

    /// Installs a newly committed view (older ones are ignored) whose
    /// members differ from the installed view's only in `changed` (see
    /// [`View::member_changes`]): the failure detector looks at those
    /// alone, O(changes), and the view is shared, not copied.
    pub fn on_committed_changes<'m>(
        &mut self,
        view: Arc<View>,
        changed: impl IntoIterator<Item = &'m MemberId>,
        now: Timestamp,
    ) {
        if view.id() > self.view.id() {
            self.detector.sync_members(&view, changed, now);
            self.view = view;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::{Incarnation, MemberId, ViewId};
    use std::collections::BTreeSet;

    fn view() -> View {
        View::new()
            .apply(&ViewCommand::Join {
                member: MemberId::new("a").unwrap_or_else(|e| panic!("{e}")),
                incarnation: Incarnation(1),
                address: String::new(),
                roles: BTreeSet::new(),
            })
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn heartbeat(incarnation: u64, seen: u64) -> HeartbeatRequest {
        HeartbeatRequest {
            member: MemberId::new("a").unwrap_or_else(|e| panic!("{e}")),
            incarnation: Incarnation(incarnation),
            request_id: 7,
            seen_view: ViewId(seen),
        }
    }

    #[test]
    fn members_get_leases_and_the_view_only_when_theirs_is_older() {
        let mut oracle = OracleLeader::new(
            DetectorConfig::default(),
            view(),
            Leadership::SingleNode,
            Timestamp::ZERO,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let reply = oracle.on_heartbeat(&heartbeat(1, 1), Timestamp::from_millis(5));
        assert_eq!(reply.request_id, 7);
        assert_eq!(reply.lease, Some(Duration::from_secs(2)));
        assert_eq!(reply.view, None);
        let stale = oracle.on_heartbeat(&heartbeat(1, 0), Timestamp::from_millis(6));
        assert_eq!(stale.view.map(|v| v.id()), Some(ViewId(1)));
    }

    #[test]
    fn wrong_incarnations_get_the_view_and_no_lease() {
        let mut oracle = OracleLeader::new(
            DetectorConfig::default(),
            view(),
            Leadership::SingleNode,
            Timestamp::ZERO,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let reply = oracle.on_heartbeat(&heartbeat(2, 1), Timestamp::from_millis(5));
        assert_eq!(reply.lease, None);
        assert!(reply.view.is_some());
    }

    #[test]
    fn an_elected_leader_grants_only_before_its_quorum_deadline() {
        let mut oracle = OracleLeader::new(
            DetectorConfig::default(),
            view(),
            Leadership::Elected,
            Timestamp::ZERO,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            oracle
                .on_heartbeat(&heartbeat(1, 1), Timestamp::from_millis(5))
                .lease,
            None
        );
        oracle.allow_grants_until(Timestamp::from_millis(100));
        oracle.allow_grants_until(Timestamp::from_millis(50));
        assert!(
            oracle
                .on_heartbeat(&heartbeat(1, 1), Timestamp::from_millis(99))
                .lease
                .is_some()
        );
        assert_eq!(
            oracle
                .on_heartbeat(&heartbeat(1, 1), Timestamp::from_millis(100))
                .lease,
            None
        );
    }

    #[test]
    fn committed_views_are_installed_in_order_only() {
        let mut oracle = OracleLeader::new(
            DetectorConfig::default(),
            view(),
            Leadership::SingleNode,
            Timestamp::ZERO,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let next = oracle
            .view()
            .apply(&ViewCommand::Remove {
                member: MemberId::new("a").unwrap_or_else(|e| panic!("{e}")),
                incarnation: Incarnation(1),
            })
            .unwrap_or_else(|e| panic!("{e}"));
        oracle.on_committed(next.clone(), Timestamp::from_millis(1));
        oracle.on_committed(view(), Timestamp::from_millis(2));
        assert_eq!(oracle.view(), &next);
        assert!(
            oracle
                .detector()
                .health(Timestamp::from_millis(3))
                .is_empty()
        );
    }
}
