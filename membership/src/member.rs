//! The member side of the protocol, sans-IO: when to heartbeat, what a
//! reply means, and whether this process may act.
//!
//! The driver calls [`MemberSession::poll_heartbeat`] from its event loop and
//! sends the returned [`HeartbeatRequest`] to the oracle leader (reading the
//! clock *before* sending, which the session does for it). It hands each
//! reply to [`MemberSession::on_reply`]. The session keeps the newest view it
//! has seen and the lease; [`MemberSession::is_primary`] answers "may I act
//! as primary of this service now?" from the member's own clock only.
//!
//! When a view shows that this incarnation was excluded, the session fences
//! its lease for good and moves to a new, higher incarnation, returning
//! [`ReplyEvent::MustRejoin`]: an excluded process never comes back as the
//! identity that was excluded.

use crate::clock::Timestamp;
use crate::lease::{LeaseHolder, LeaseRequest, TimingConfig};
use crate::oracle::HeartbeatReply;
use crate::view::{Incarnation, MemberId, ServiceName, View, ViewId};
use std::collections::BTreeMap;

/// Most heartbeats awaiting a reply; older ones are forgotten (their
/// replies are then ignored, which only shortens the lease).
pub const MAX_PENDING_HEARTBEATS: usize = 64;

/// A heartbeat to send to the oracle leader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartbeatRequest {
    /// Who sends it.
    pub member: MemberId,
    /// The sender's incarnation.
    pub incarnation: Incarnation,
    /// Correlates the reply with this request.
    pub request_id: u64,
    /// The newest view the sender has seen.
    pub seen_view: ViewId,
}

/// What a reply changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyEvent {
    /// The lease was renewed.
    Renewed,
    /// The oracle answered without a grant (the member is still in the view).
    NotGranted,
    /// This member is not in the view at its incarnation: send a join with
    /// this incarnation. Returned again on every such reply until admitted.
    MustRejoin {
        /// The incarnation to join with.
        incarnation: Incarnation,
    },
    /// The reply answers no outstanding request (late, duplicated, or from
    /// before a rejoin) and changed nothing but, perhaps, the known view.
    Ignored,
}

/// One member process's protocol state (see the module docs).
#[derive(Debug, Clone)]
pub struct MemberSession {
    member: MemberId,
    incarnation: Incarnation,
    timing: TimingConfig,
    lease: LeaseHolder,
    view: View,
    admitted: bool,
    /// The view the oracle said admitted this incarnation (a compact join
    /// answer); while the view held is older, membership is taken from
    /// that answer.
    joined_in: ViewId,
    next_heartbeat: Option<Timestamp>,
    next_request_id: u64,
    pending: BTreeMap<u64, LeaseRequest>,
}

impl MemberSession {
    /// A session for `member` at `incarnation` that has seen `view` (the
    /// empty view before the first reply).
    #[must_use]
    pub fn new(
        member: MemberId,
        incarnation: Incarnation,
        timing: TimingConfig,
        view: View,
    ) -> Self {
        let admitted = view.has_incarnation(&member, incarnation);
        Self {
            member,
            incarnation,
            timing,
            lease: LeaseHolder::new(timing),
            view,
            admitted,
            joined_in: ViewId::INITIAL,
            next_heartbeat: None,
            next_request_id: 0,
            pending: BTreeMap::new(),
        }
    }

    /// This member's id.
    #[must_use]
    pub fn member(&self) -> &MemberId {
        &self.member
    }

    /// The current incarnation.
    #[must_use]
    pub fn incarnation(&self) -> Incarnation {
        self.incarnation
    }

    /// The newest view seen.
    #[must_use]
    pub fn view(&self) -> &View {
        &self.view
    }

    /// The lease.
    #[must_use]
    pub fn lease(&self) -> &LeaseHolder {
        &self.lease
    }

    /// Records that the oracle committed this incarnation in view
    /// `view_id` (a compact join answer, which carries no view in a large
    /// group): until a view at least that new is seen, the session counts
    /// as a member, so heartbeats are granted and acted on; it is primary
    /// of nothing until it holds a view that names it.
    pub fn admitted_in(&mut self, view_id: ViewId) {
        self.admitted = true;
        self.joined_in = self.joined_in.max(view_id);
    }

    /// Whether this incarnation is in the newest view seen, or was admitted
    /// in a view newer than the one held ([`Self::admitted_in`]).
    #[must_use]
    pub fn is_member(&self) -> bool {
        self.view.has_incarnation(&self.member, self.incarnation) || self.view.id() < self.joined_in
    }

    /// Whether the member may act at `now` (its clock): in the view and
    /// holding a valid lease.
    #[must_use]
    pub fn can_act(&self, now: Timestamp) -> bool {
        self.is_member() && self.lease.can_act(now)
    }

    /// Whether the member may act as primary of `service` at `now`.
    #[must_use]
    pub fn is_primary(&self, service: &ServiceName, now: Timestamp) -> bool {
        self.can_act(now)
            && self.view.has_incarnation(&self.member, self.incarnation)
            && self.view.primary(service) == Some(&self.member)
    }

    /// When the next heartbeat is due (now, if none was sent yet).
    #[must_use]
    pub fn next_heartbeat_at(&self) -> Option<Timestamp> {
        self.next_heartbeat
    }

    /// The heartbeat to send now, if one is due. Call it right before
    /// sending: `now` is the lease's start if the oracle answers.
    pub fn poll_heartbeat(&mut self, now: Timestamp) -> Option<HeartbeatRequest> {
        if self.next_heartbeat.is_some_and(|due| now < due) {
            return None;
        }
        self.next_heartbeat = Some(now.saturating_add(self.timing.heartbeat_interval));
        self.next_request_id = self.next_request_id.wrapping_add(1);
        let request_id = self.next_request_id;
        self.pending
            .insert(request_id, self.lease.request_sent(now));
        while self.pending.len() > MAX_PENDING_HEARTBEATS {
            self.pending.pop_first();
        }
        Some(HeartbeatRequest {
            member: self.member.clone(),
            incarnation: self.incarnation,
            request_id,
            seen_view: self.view.id(),
        })
    }

    /// Handles the oracle's reply: the granted lease (if any) and, when
    /// the member's view was older, the oracle's view.
    pub fn on_reply(&mut self, reply: HeartbeatReply) -> ReplyEvent {
        let HeartbeatReply {
            request_id,
            lease: granted,
            view,
        } = reply;
        if let Some(view) = view
            && view.id() > self.view.id()
        {
            self.view = view;
        }
        let request = self.pending.remove(&request_id);
        if self.is_member() {
            self.admitted = true;
            return match (request, granted) {
                (Some(request), Some(lease)) => {
                    self.lease.granted(request, lease);
                    ReplyEvent::Renewed
                }
                (Some(_), None) => ReplyEvent::NotGranted,
                (None, _) => ReplyEvent::Ignored,
            };
        }
        if request.is_none() && !self.admitted {
            return ReplyEvent::Ignored;
        }
        if self.admitted {
            // Excluded: this incarnation never acts again.
            self.lease.fence();
            self.pending.clear();
            let known = self
                .view
                .member(&self.member)
                .map(|info| info.incarnation)
                .into_iter()
                .chain(
                    self.view
                        .tombstones()
                        .get(&self.member)
                        .map(|t| t.incarnation),
                )
                .max()
                .unwrap_or(self.incarnation)
                .max(self.incarnation);
            self.incarnation = Incarnation(known.0.saturating_add(1));
            self.lease = LeaseHolder::new(self.timing);
            self.admitted = false;
            self.joined_in = ViewId::INITIAL;
        }
        ReplyEvent::MustRejoin {
            incarnation: self.incarnation,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::ViewCommand;
    use std::collections::BTreeSet;
    use std::time::Duration;

    fn id(name: &str) -> MemberId {
        MemberId::new(name).unwrap_or_else(|e| panic!("{e}"))
    }

    fn reply_to(
        session: &mut MemberSession,
        request_id: u64,
        lease: Option<Duration>,
        view: View,
    ) -> ReplyEvent {
        session.on_reply(HeartbeatReply {
            request_id,
            lease,
            view: Some(view),
        })
    }

    fn atc() -> ServiceName {
        ServiceName::new("atc").unwrap_or_else(|e| panic!("{e}"))
    }

    fn joined(incarnation: u64) -> View {
        View::new()
            .apply(&ViewCommand::Join {
                member: id("a"),
                incarnation: Incarnation(incarnation),
                address: String::new(),
                roles: BTreeSet::from([atc()]),
            })
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn heartbeats_are_paced_and_grants_make_the_member_primary() {
        let timing = TimingConfig::default();
        let mut session = MemberSession::new(id("a"), Incarnation(1), timing, joined(1));
        let first = session.poll_heartbeat(Timestamp::from_millis(0));
        assert!(first.is_some());
        assert_eq!(session.poll_heartbeat(Timestamp::from_millis(100)), None);
        assert!(!session.is_primary(&atc(), Timestamp::from_millis(100)));
        let request_id = first.map_or(0, |r| r.request_id);
        let event = reply_to(&mut session, request_id, Some(timing.lease), joined(1));
        assert_eq!(event, ReplyEvent::Renewed);
        assert!(session.is_primary(&atc(), Timestamp::from_millis(1_979)));
        assert!(!session.is_primary(&atc(), Timestamp::from_millis(1_980)));
        // A duplicate reply changes nothing.
        assert_eq!(
            reply_to(&mut session, request_id, Some(timing.lease), joined(1)),
            ReplyEvent::Ignored
        );
        assert!(
            session
                .poll_heartbeat(Timestamp::from_millis(200))
                .is_some()
        );
    }

    #[test]
    fn an_excluded_member_fences_itself_and_rejoins_with_a_higher_incarnation() {
        let timing = TimingConfig::default();
        let mut session = MemberSession::new(id("a"), Incarnation(4), timing, joined(4));
        let r1 = session
            .poll_heartbeat(Timestamp::ZERO)
            .map_or(0, |r| r.request_id);
        reply_to(&mut session, r1, Some(timing.lease), joined(4));
        let removed = joined(4)
            .apply(&ViewCommand::Remove {
                member: id("a"),
                incarnation: Incarnation(4),
            })
            .unwrap_or_else(|e| panic!("{e}"));
        let r2 = session
            .poll_heartbeat(Timestamp::from_millis(200))
            .map_or(0, |r| r.request_id);
        let event = reply_to(&mut session, r2, None, removed.clone());
        assert_eq!(
            event,
            ReplyEvent::MustRejoin {
                incarnation: Incarnation(5)
            }
        );
        assert!(!session.can_act(Timestamp::from_millis(300)));
        // Until admitted, every reply asks again, with the same incarnation.
        let r3 = session
            .poll_heartbeat(Timestamp::from_millis(400))
            .map_or(0, |r| r.request_id);
        assert_eq!(
            reply_to(&mut session, r3, None, removed.clone()),
            ReplyEvent::MustRejoin {
                incarnation: Incarnation(5)
            }
        );
        let rejoined = removed
            .apply(&ViewCommand::Join {
                member: id("a"),
                incarnation: Incarnation(5),
                address: String::new(),
                roles: BTreeSet::from([atc()]),
            })
            .unwrap_or_else(|e| panic!("{e}"));
        let r4 = session
            .poll_heartbeat(Timestamp::from_millis(600))
            .map_or(0, |r| r.request_id);
        assert_eq!(
            reply_to(&mut session, r4, Some(timing.lease), rejoined),
            ReplyEvent::Renewed
        );
        assert!(session.is_primary(&atc(), Timestamp::from_millis(700)));
    }

    #[test]
    fn an_older_view_in_a_late_reply_never_replaces_a_newer_one() {
        let timing = TimingConfig::default();
        let newer = joined(1)
            .apply(&ViewCommand::StepDown {
                service: atc(),
                member: id("a"),
            })
            .unwrap_or_else(|e| panic!("{e}"));
        let mut session = MemberSession::new(id("a"), Incarnation(1), timing, newer.clone());
        let r1 = session
            .poll_heartbeat(Timestamp::ZERO)
            .map_or(0, |r| r.request_id);
        assert_eq!(
            reply_to(&mut session, r1, Some(timing.lease), joined(1)),
            ReplyEvent::Renewed
        );
        assert_eq!(session.view(), &newer);
        assert!(session.can_act(Timestamp::from_millis(1)));
        assert!(!session.is_primary(&atc(), Timestamp::from_millis(1)));
    }

    #[test]
    fn a_member_admitted_without_the_view_acts_but_is_primary_only_once_it_sees_it() {
        let timing = TimingConfig::default();
        let mut session = MemberSession::new(id("a"), Incarnation(1), timing, View::new());
        session.admitted_in(ViewId(1));
        assert!(session.is_member());
        let r1 = session
            .poll_heartbeat(Timestamp::ZERO)
            .map_or(0, |r| r.request_id);
        // A grant without a view: the admission stands in for it.
        let event = session.on_reply(HeartbeatReply {
            request_id: r1,
            lease: Some(timing.lease),
            view: None,
        });
        assert_eq!(event, ReplyEvent::Renewed);
        assert!(session.can_act(Timestamp::from_millis(1)));
        assert!(!session.is_primary(&atc(), Timestamp::from_millis(1)));
        // The fetched view names it primary.
        let r2 = session
            .poll_heartbeat(Timestamp::from_millis(200))
            .map_or(0, |r| r.request_id);
        assert_eq!(
            reply_to(&mut session, r2, Some(timing.lease), joined(1)),
            ReplyEvent::Renewed
        );
        assert!(session.is_primary(&atc(), Timestamp::from_millis(201)));
        // A view newer than the admission without it: excluded, rejoin.
        let removed = joined(1)
            .apply(&ViewCommand::Remove {
                member: id("a"),
                incarnation: Incarnation(1),
            })
            .unwrap_or_else(|e| panic!("{e}"));
        let r3 = session
            .poll_heartbeat(Timestamp::from_millis(400))
            .map_or(0, |r| r.request_id);
        assert_eq!(
            reply_to(&mut session, r3, None, removed),
            ReplyEvent::MustRejoin {
                incarnation: Incarnation(2)
            }
        );
        assert!(!session.can_act(Timestamp::from_millis(401)));
    }
}
