//! The production [`TakeoverAuthority`]: membership decides who may finish
//! a dead coordinator instance's transactions, and the view id is the
//! fencing token.
//!
//! Each coordinator instance `I` is a member of the membership view and
//! primary of the service `wsat:I` ([`takeover_service`]); the instances
//! that may take it over join with that service as a role and are its
//! backups. When `I` stops heartbeating, its lease lapses on its own clock
//! first (S ≥ L(1+ρ) + heartbeat, docs/membership.md), then the oracle
//! removes it and promotes the first backup of `wsat:I`, in one
//! majority-committed view change with a higher [`ithaca_membership::ViewId`].
//!
//! [`MembershipTakeover::may_take_over`] grants a takeover of `I` only when
//! the current view no longer has `I` as a member **and** this instance is
//! the primary of `wsat:I` with a valid lease; the token is that view's id.
//! View ids strictly increase and each promotion is a new view, so a later
//! taker (the first one died too) always holds a higher token, and the
//! log's fence ([`ithaca_txn::log::CoordinatorLog::adopt`] needs a token
//! strictly above the fence) refuses the writes of anyone older: a zombie
//! `I` that wakes up, or a taker that was itself replaced.

use ithaca_membership::client::Member;
use ithaca_membership::{MemberId, ServiceName, View};
use ithaca_txn::driver::{FencingToken, InstanceId, TakeoverAuthority, TakeoverRefused};

/// The membership service a coordinator instance is primary of: `wsat:` and
/// the instance's name.
pub fn takeover_service(instance: &InstanceId) -> Result<ServiceName, TakeoverRefused> {
    ServiceName::new(format!("wsat:{}", instance.0)).map_err(|error| TakeoverRefused {
        instance: instance.clone(),
        reason: format!("no membership service can name this instance: {error}"),
    })
}

/// What the authority reads of this instance's membership: the current
/// view, and whether this instance may act as primary of a service now
/// (member of the view, primary, lease valid on its own clock).
pub trait MembershipState: Send + Sync {
    /// The latest view this member knows.
    fn view(&self) -> View;
    /// Primary of `service` with a valid lease.
    fn is_primary(&self, service: &ServiceName) -> bool;
}

impl MembershipState for Member {
    fn view(&self) -> View {
        Self::view(self)
    }

    fn is_primary(&self, service: &ServiceName) -> bool {
        Self::is_primary(self, service)
    }
}

/// A [`TakeoverAuthority`] backed by the membership view (see the module
/// docs for the rule).
#[derive(Debug)]
pub struct MembershipTakeover<S> {
    state: S,
}

impl<S: MembershipState> MembershipTakeover<S> {
    /// An authority reading `state` (a joined [`Member`] in production).
    pub fn new(state: S) -> Self {
        Self { state }
    }
}

impl<S: MembershipState> TakeoverAuthority for MembershipTakeover<S> {
    fn may_take_over(&self, dead_instance: &InstanceId) -> Result<FencingToken, TakeoverRefused> {
        let refuse = |reason: String| TakeoverRefused {
            instance: dead_instance.clone(),
            reason,
        };
        let service = takeover_service(dead_instance)?;
        // Read the view before the role: if the role check passes, the view
        // read is no newer than the one that made us primary.
        let view = self.state.view();
        if let Ok(dead_member) = MemberId::new(dead_instance.0.as_str())
            && view.member(&dead_member).is_some()
        {
            return Err(refuse(format!(
                "{dead_instance} is still a member of view {}",
                view.id().0
            )));
        }
        if view.primary(&service).is_none() {
            return Err(refuse(format!(
                "nobody is primary of {} in view {}",
                service.as_str(),
                view.id().0
            )));
        }
        if !self.state.is_primary(&service) {
            return Err(refuse(format!(
                "this instance is not the primary of {} with a valid lease (view {})",
                service.as_str(),
                view.id().0
            )));
        }
        Ok(FencingToken(view.id().0))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use ithaca_membership::{Incarnation, ViewCommand};

    use super::*;

    struct Fixed {
        view: View,
        me: MemberId,
        lease_valid: bool,
    }

    impl MembershipState for Fixed {
        fn view(&self) -> View {
            self.view.clone()
        }
        fn is_primary(&self, service: &ServiceName) -> bool {
            self.lease_valid && self.view.primary(service) == Some(&self.me)
        }
    }

    fn member(name: &str) -> MemberId {
        MemberId::new(name).unwrap()
    }

    fn join(name: &str, incarnation: u64, roles: &[&str]) -> ViewCommand {
        ViewCommand::Join {
            member: member(name),
            incarnation: Incarnation(incarnation),
            address: format!("{name}:7000"),
            roles: roles
                .iter()
                .map(|r| ServiceName::new(*r).unwrap())
                .collect::<BTreeSet<_>>(),
        }
    }

    fn apply(view: View, command: &ViewCommand) -> View {
        view.apply(command).unwrap()
    }

    /// `a` is primary of wsat:a, `b` and `c` its backups in that order.
    fn cluster() -> View {
        let view = apply(View::new(), &join("a", 1, &["wsat:a"]));
        let view = apply(view, &join("b", 1, &["wsat:a", "wsat:b"]));
        apply(view, &join("c", 1, &["wsat:a"]))
    }

    fn remove(view: View, name: &str) -> View {
        apply(
            view,
            &ViewCommand::Remove {
                member: member(name),
                incarnation: Incarnation(1),
            },
        )
    }

    fn authority(view: View, me: &str, lease_valid: bool) -> MembershipTakeover<Fixed> {
        MembershipTakeover::new(Fixed {
            view,
            me: member(me),
            lease_valid,
        })
    }

    fn dead(name: &str) -> InstanceId {
        InstanceId(name.to_owned())
    }

    #[test]
    fn nobody_takes_over_a_live_member() {
        let view = cluster();
        let refused = authority(view, "b", true)
            .may_take_over(&dead("a"))
            .unwrap_err();
        assert!(refused.reason.contains("still a member"), "{refused}");
    }

    #[test]
    fn the_promoted_backup_takes_over_with_the_removal_view_as_token() {
        let view = remove(cluster(), "a");
        let removal = view.id().0;
        assert_eq!(
            authority(view.clone(), "b", true).may_take_over(&dead("a")),
            Ok(FencingToken(removal))
        );
        // The other backup is not the primary: refused.
        let refused = authority(view, "c", true)
            .may_take_over(&dead("a"))
            .unwrap_err();
        assert!(refused.reason.contains("not the primary"), "{refused}");
    }

    #[test]
    fn a_taker_whose_lease_lapsed_is_refused() {
        let view = remove(cluster(), "a");
        let refused = authority(view, "b", false)
            .may_take_over(&dead("a"))
            .unwrap_err();
        assert!(refused.reason.contains("valid lease"), "{refused}");
    }

    #[test]
    fn a_second_taker_gets_a_strictly_higher_token() {
        let first = remove(cluster(), "a");
        let first_token = authority(first.clone(), "b", true)
            .may_take_over(&dead("a"))
            .unwrap();
        // The taker dies too: c is promoted in a later view.
        let second = remove(first, "b");
        let second_token = authority(second, "c", true)
            .may_take_over(&dead("a"))
            .unwrap();
        assert!(second_token.0 > first_token.0);
    }

    #[test]
    fn an_instance_nobody_backs_cannot_be_taken_over() {
        let view = remove(cluster(), "b");
        let refused = authority(view, "c", true)
            .may_take_over(&dead("b"))
            .unwrap_err();
        assert!(refused.reason.contains("nobody is primary"), "{refused}");
    }
}
