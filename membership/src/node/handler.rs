//! The heartbeat path of one oracle node, without the socket: one datagram
//! in, at most one datagram out.
//!
//! [`HeartbeatHandler`] owns the [`OracleLeader`] while this node leads and
//! answers every heartbeat from memory: no log, no lock, no allocation (the
//! member id is decoded as a borrowed string and copied into a recycled
//! buffer; the reply is written into a reused one; the view travels as JSON
//! encoded once per committed view). The socket task
//! ([`super::MembershipNode`]) stamps each datagram's arrival right after
//! `recv` returns and hands it here at once, so nothing queues between the
//! stamp and the detector.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::clock::{MonotonicClock, Timestamp};
use crate::consensus::{LeadershipStatus, OracleNodeId, Role};
use crate::detector::{DetectorConfig, DetectorConfigError, DetectorOutput};
use crate::member::HeartbeatRequest;
use crate::oracle::{Leadership, OracleLeader};
use crate::view::{MemberId, View, ViewCommand, ViewId};
use crate::wire::{HeartbeatStatus, MAX_DATAGRAM, Message, RejectCode, WireError};

use super::stats::NodeCounters;

/// How many view changes an [`EncodedView`] remembers the changed members
/// of (a heartbeat task that fell further behind syncs its detector with
/// the whole view once).
pub const VIEW_STEPS_KEPT: usize = 64;

/// The members added, removed or at another incarnation between two
/// published views.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewStep {
    /// The older view.
    pub from: ViewId,
    /// The newer view.
    pub to: ViewId,
    /// The members whose entry changed (see [`View::member_changes`]).
    pub members: Arc<[MemberId]>,
}

/// A committed view with its wire form, encoded once and shared, and the
/// members the last few view changes touched.
///
/// The view itself is shared ([`Arc`]): the heartbeat task, the request
/// task and the admin endpoints hold the same one, never a copy. The
/// steps let the heartbeat task sync its failure detector with what
/// changed ([`Self::members_changed_since`]), O(changes) per view change
/// instead of O(members).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedView {
    /// The view.
    pub view: Arc<View>,
    /// Its JSON, as messages carry it.
    pub json: Vec<u8>,
    /// The last few view changes, oldest first, each starting where the
    /// one before ended and the newest ending at this view.
    steps: VecDeque<ViewStep>,
}

impl EncodedView {
    /// Encodes `view` (with no steps behind it).
    pub fn new(view: View) -> Result<Self, WireError> {
        Self::shared(Arc::new(view))
    }

    /// Encodes a shared `view` (with no steps behind it).
    pub fn shared(view: Arc<View>) -> Result<Self, WireError> {
        let json = crate::wire::view_json(&view)?;
        Ok(Self {
            view,
            json,
            steps: VecDeque::new(),
        })
    }

    /// Encodes `view`, the successor of `previous`: the members that
    /// changed between the two (one pass over both, off the heartbeat
    /// task) become the newest step, after the ones `previous` kept (at
    /// most [`VIEW_STEPS_KEPT`]).
    pub fn after(previous: &Self, view: Arc<View>) -> Result<Self, WireError> {
        let mut encoded = Self::shared(view)?;
        if encoded.id() > previous.id() {
            let members: Arc<[MemberId]> = encoded.view.member_changes(&previous.view).into();
            let mut steps = previous.steps.clone();
            while steps.len() >= VIEW_STEPS_KEPT {
                steps.pop_front();
            }
            steps.push_back(ViewStep {
                from: previous.id(),
                to: encoded.id(),
                members,
            });
            encoded.steps = steps;
        }
        Ok(encoded)
    }

    /// The view's id.
    #[must_use]
    pub fn id(&self) -> ViewId {
        self.view.id()
    }

    /// The view changes this view remembers, oldest first.
    #[must_use]
    pub fn steps(&self) -> &VecDeque<ViewStep> {
        &self.steps
    }

    /// The members whose entry changed since view `since` (each step's
    /// members, in order; a member may appear more than once), or `None`
    /// when the steps kept do not reach back to `since`.
    #[must_use]
    pub fn members_changed_since(&self, since: ViewId) -> Option<Vec<&MemberId>> {
        if since == self.id() {
            return Some(Vec::new());
        }
        let first = self.steps.iter().position(|step| step.from == since)?;
        Some(
            self.steps
                .iter()
                .skip(first)
                .flat_map(|step| step.members.iter())
                .collect(),
        )
    }
}

/// Answers heartbeats for one oracle node (see the module docs).
#[derive(Debug)]
pub struct HeartbeatHandler {
    config: DetectorConfig,
    leader: Option<OracleLeader>,
    view: Arc<EncodedView>,
    member_addresses: BTreeMap<OracleNodeId, String>,
    leader_hint: Option<String>,
    name: String,
    out: Vec<u8>,
    counters: Arc<NodeCounters>,
}

impl HeartbeatHandler {
    /// A handler that is not the leader yet and knows `view`.
    /// `member_addresses` maps oracle node ids to the member-facing address
    /// followers name in their "not leader" answers.
    pub fn new(
        config: DetectorConfig,
        view: Arc<EncodedView>,
        member_addresses: BTreeMap<OracleNodeId, String>,
        counters: Arc<NodeCounters>,
    ) -> Result<Self, DetectorConfigError> {
        // Refuse a bad configuration here rather than on the first election.
        crate::detector::FailureDetector::new(config)?;
        Ok(Self {
            config,
            leader: None,
            view,
            member_addresses,
            leader_hint: None,
            name: String::with_capacity(crate::view::MAX_NAME_LEN),
            out: Vec::with_capacity(MAX_DATAGRAM),
            counters,
        })
    }

    /// The suspicion timeout `S` in force.
    #[must_use]
    pub fn suspicion_timeout(&self) -> std::time::Duration {
        self.config.timing.suspicion_timeout
    }

    /// Whether this node currently runs the oracle leader.
    #[must_use]
    pub fn is_leader(&self) -> bool {
        self.leader.is_some()
    }

    /// The oracle leader state, while this node leads.
    #[must_use]
    pub fn leader(&self) -> Option<&OracleLeader> {
        self.leader.as_ref()
    }

    /// The newest committed view this handler knows.
    #[must_use]
    pub fn view(&self) -> &Arc<EncodedView> {
        &self.view
    }

    /// Installs a newly committed view (older ones are ignored). The view
    /// is shared, not copied, and the leader's failure detector is synced
    /// with the members the view changes since the leader's view touched
    /// (O(changes)); only when `view` does not remember steps reaching back
    /// that far is it synced with the whole view.
    ///
    /// Returns the view it replaced, `None` when `view` was not newer.
    /// Dropping a large view frees every member's entry, O(members): the
    /// node runtime hands it to its view task to drop there, off the
    /// heartbeat path.
    pub fn install_view(
        &mut self,
        view: Arc<EncodedView>,
        now: Timestamp,
    ) -> Option<Arc<EncodedView>> {
        if view.id() <= self.view.id() {
            return None;
        }
        if let Some(leader) = self.leader.as_mut() {
            let synced = match view.members_changed_since(leader.view().id()) {
                Some(changed) => {
                    let count = changed.len();
                    leader.on_committed_changes(Arc::clone(&view.view), changed, now);
                    count
                }
                None => {
                    leader.on_committed(Arc::clone(&view.view), now);
                    self.counters
                        .view_full_syncs
                        .fetch_add(1, Ordering::Relaxed);
                    view.view.members().len()
                }
            };
            self.counters
                .members_synced
                .fetch_add(u64::try_from(synced).unwrap_or(u64::MAX), Ordering::Relaxed);
        }
        self.counters
            .views_installed
            .fetch_add(1, Ordering::Relaxed);
        Some(std::mem::replace(&mut self.view, view))
    }

    /// Follows this node's consensus role: becomes the oracle leader when
    /// it leads (a single voter as [`Leadership::SingleNode`], an elected
    /// leader with the new-leader grace), extends grants to the certainty
    /// instant, and drops the leader state when it no longer leads.
    pub fn set_leadership(
        &mut self,
        status: &LeadershipStatus,
        now: Timestamp,
        clock: &MonotonicClock,
    ) {
        self.leader_hint = status
            .leader
            .as_ref()
            .and_then(|leader| self.member_addresses.get(&leader.id))
            .cloned();
        if status.role != Role::Leader {
            if self.leader.take().is_some() {
                self.counters
                    .leadership_lost
                    .fetch_add(1, Ordering::Relaxed);
            }
            return;
        }
        if self.leader.is_none() {
            let kind = if status.single_voter {
                Leadership::SingleNode
            } else {
                Leadership::Elected
            };
            // The configuration was checked in `new`, so this succeeds.
            self.leader =
                OracleLeader::new(self.config, Arc::clone(&self.view.view), kind, now).ok();
            self.counters
                .leadership_gained
                .fetch_add(1, Ordering::Relaxed);
        }
        if let (Some(leader), Some(until)) = (self.leader.as_mut(), status.certain_until) {
            leader.allow_grants_until(clock.at(until));
        }
    }

    /// Runs the failure detector at `now` (leader only): the suspicions for
    /// alerting and the removals to propose.
    pub fn tick(&mut self, now: Timestamp) -> Option<(DetectorOutput, Vec<ViewCommand>)> {
        let leader = self.leader.as_mut()?;
        let output = leader.tick(now);
        if output.stalled_for.is_some() {
            self.counters.local_stalls.fetch_add(1, Ordering::Relaxed);
        }
        let removals = OracleLeader::removal_commands(&output);
        Some((output, removals))
    }

    /// Handles one datagram that arrived at `arrived_at`; returns the reply
    /// to send back, if any. Malformed datagrams get no reply (answering
    /// them would let a forged source address aim replies at a third party).
    pub fn handle(&mut self, datagram: &[u8], arrived_at: Timestamp) -> Option<&[u8]> {
        let Ok(message) = Message::decode(datagram) else {
            self.counters.malformed.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        let Message::Heartbeat {
            member,
            incarnation,
            request_id,
            seen_view,
        } = message
        else {
            self.counters.malformed.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        self.counters.heartbeats.fetch_add(1, Ordering::Relaxed);
        self.out.clear();
        let current = self.view.id();
        let Some(leader) = self.leader.as_mut() else {
            self.counters.not_leader.fetch_add(1, Ordering::Relaxed);
            return encode_reply(
                &mut self.out,
                &Message::NotLeader {
                    request_id,
                    leader: self.leader_hint.as_deref(),
                },
            );
        };
        if seen_view > current {
            self.counters.rejected.fetch_add(1, Ordering::Relaxed);
            return encode_reply(
                &mut self.out,
                &Message::Rejected {
                    request_id,
                    code: RejectCode::ViewFromFuture,
                    reason: "the heartbeat names a view newer than any committed",
                },
            );
        }
        self.name.clear();
        self.name.push_str(member);
        let Ok(member) = MemberId::new(std::mem::take(&mut self.name)) else {
            self.counters.rejected.fetch_add(1, Ordering::Relaxed);
            return encode_reply(
                &mut self.out,
                &Message::Rejected {
                    request_id,
                    code: RejectCode::Invalid,
                    reason: "invalid member id",
                },
            );
        };
        let status = if leader.view().has_incarnation(&member, incarnation) {
            // The view goes back from the cached JSON below, never cloned.
            let request = HeartbeatRequest {
                member,
                incarnation,
                request_id,
                seen_view: current,
            };
            let lease = leader.grant(&request, arrived_at);
            self.name = String::from(request.member);
            match lease {
                Some(lease) => {
                    self.counters.granted.fetch_add(1, Ordering::Relaxed);
                    HeartbeatStatus::Granted { lease }
                }
                None => {
                    self.counters.not_granted.fetch_add(1, Ordering::Relaxed);
                    HeartbeatStatus::NotGranted
                }
            }
        } else {
            self.name = String::from(member);
            self.counters.not_member.fetch_add(1, Ordering::Relaxed);
            HeartbeatStatus::NotMember
        };
        // A view too large for a datagram is not even tried (copying a
        // large view's JSON for every stale heartbeat only to drop it
        // would cost O(N) per heartbeat after each view change).
        let send_view = (seen_view < current || status == HeartbeatStatus::NotMember)
            && self.view.json.len() < MAX_DATAGRAM;
        let encoded = send_view
            .then(|| {
                crate::wire::encode_heartbeat_reply(
                    &mut self.out,
                    request_id,
                    current,
                    status,
                    Some(&self.view.json),
                    MAX_DATAGRAM,
                )
                .ok()
            })
            .flatten();
        if encoded.is_none() {
            // Too large for a datagram (or not needed): the member fetches
            // view `current` over TCP.
            self.out.clear();
            crate::wire::encode_heartbeat_reply(
                &mut self.out,
                request_id,
                current,
                status,
                None,
                MAX_DATAGRAM,
            )
            .ok()?;
        }
        Some(&self.out)
    }
}

fn encode_reply<'o>(out: &'o mut Vec<u8>, message: &Message<'_>) -> Option<&'o [u8]> {
    out.clear();
    message.encode(out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::consensus::NodeInfo;
    use crate::view::Incarnation;

    fn member(name: &str) -> MemberId {
        MemberId::new(name).unwrap_or_else(|e| panic!("{e}"))
    }

    fn join(name: &str) -> ViewCommand {
        ViewCommand::Join {
            member: member(name),
            incarnation: Incarnation(1),
            address: String::new(),
            roles: BTreeSet::new(),
        }
    }

    fn next(previous: &Arc<EncodedView>, commands: &[ViewCommand]) -> Arc<EncodedView> {
        let view = previous
            .view
            .apply_batch(commands)
            .unwrap_or_else(|e| panic!("{e}"));
        Arc::new(EncodedView::after(previous, Arc::new(view)).unwrap_or_else(|e| panic!("{e}")))
    }

    /// A leading handler over a view of `size` members.
    fn leading(size: usize) -> (HeartbeatHandler, Arc<EncodedView>, Arc<NodeCounters>) {
        let joins: Vec<ViewCommand> = (0..size).map(|i| join(&format!("m{i:03}"))).collect();
        let view = View::new()
            .apply_batch(&joins)
            .unwrap_or_else(|e| panic!("{e}"));
        let first = Arc::new(EncodedView::new(view).unwrap_or_else(|e| panic!("{e}")));
        let counters = Arc::new(NodeCounters::default());
        let mut handler = HeartbeatHandler::new(
            DetectorConfig::default(),
            Arc::clone(&first),
            BTreeMap::new(),
            Arc::clone(&counters),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let clock = MonotonicClock::new();
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
        handler.set_leadership(&status, Timestamp::ZERO, &clock);
        (handler, first, counters)
    }

    #[test]
    fn installing_a_view_shares_it_and_hands_back_the_one_it_replaced() {
        let (mut handler, first, counters) = leading(50);
        let second = next(&first, &[join("late")]);
        let replaced = handler.install_view(Arc::clone(&second), Timestamp::from_millis(5));
        assert!(replaced.is_some_and(|view| Arc::ptr_eq(&view, &first)));
        assert!(Arc::ptr_eq(handler.view(), &second));
        let leader = handler.leader().unwrap_or_else(|| panic!("not leading"));
        assert!(
            std::ptr::eq(leader.view(), &*second.view),
            "the view was copied"
        );
        assert!(
            leader
                .detector()
                .is_watching(&member("late"), Incarnation(1))
        );
        let synced = counters.read();
        assert_eq!((synced.views_installed, synced.members_synced), (1, 1));
        // An older or the same view changes nothing.
        assert!(
            handler
                .install_view(first, Timestamp::from_millis(6))
                .is_none()
        );
        assert!(
            handler
                .install_view(second, Timestamp::from_millis(6))
                .is_none()
        );
        assert_eq!(counters.read().views_installed, 1);
    }

    #[test]
    fn a_handler_that_fell_behind_the_steps_kept_syncs_with_the_whole_view_once() {
        let (mut handler, first, counters) = leading(20);
        let mut newest = first;
        for i in 0..=VIEW_STEPS_KEPT {
            newest = next(&newest, &[join(&format!("late{i:03}"))]);
        }
        assert_eq!(newest.steps().len(), VIEW_STEPS_KEPT);
        assert!(
            handler
                .install_view(Arc::clone(&newest), Timestamp::from_millis(5))
                .is_some()
        );
        let synced = counters.read();
        assert_eq!(synced.view_full_syncs, 1);
        assert_eq!(synced.members_synced, 20 + 65);
        let leader = handler.leader().unwrap_or_else(|| panic!("not leading"));
        assert_eq!(
            leader.detector().health(Timestamp::from_millis(6)).len(),
            20 + 65
        );
    }
}
