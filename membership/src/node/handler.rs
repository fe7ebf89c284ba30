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

use std::collections::BTreeMap;
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

/// A committed view with its wire form, encoded once and shared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedView {
    /// The view.
    pub view: View,
    /// Its JSON, as messages carry it.
    pub json: Vec<u8>,
}

impl EncodedView {
    /// Encodes `view`.
    pub fn new(view: View) -> Result<Self, WireError> {
        let json = crate::wire::view_json(&view)?;
        Ok(Self { view, json })
    }

    /// The view's id.
    #[must_use]
    pub fn id(&self) -> ViewId {
        self.view.id()
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

    /// Installs a newly committed view (older ones are ignored).
    pub fn install_view(&mut self, view: Arc<EncodedView>, now: Timestamp) {
        if view.id() <= self.view.id() {
            return;
        }
        if let Some(leader) = self.leader.as_mut() {
            leader.on_committed(view.view.clone(), now);
        }
        self.view = view;
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
            self.leader = OracleLeader::new(self.config, self.view.view.clone(), kind, now).ok();
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
