//! The view state machine, as the oracle's log will drive it.

use std::collections::BTreeSet;

use ithaca_membership::view::{MAX_BATCH, MAX_NAME_LEN, MAX_ROLES_PER_MEMBER};
use ithaca_membership::{
    Incarnation, MemberId, NameError, ServiceName, View, ViewCommand, ViewError, ViewId,
};
use proptest::prelude::*;

fn member(name: &str) -> MemberId {
    MemberId::new(name).unwrap_or_else(|e| panic!("{e}"))
}

fn service(name: &str) -> ServiceName {
    ServiceName::new(name).unwrap_or_else(|e| panic!("{e}"))
}

fn join(name: &str, incarnation: u64, roles: &[&str]) -> ViewCommand {
    ViewCommand::Join {
        member: member(name),
        incarnation: Incarnation(incarnation),
        address: format!("{name}:7000"),
        roles: roles.iter().map(|r| service(r)).collect(),
    }
}

fn remove(name: &str, incarnation: u64) -> ViewCommand {
    ViewCommand::Remove {
        member: member(name),
        incarnation: Incarnation(incarnation),
    }
}

fn apply_all(commands: &[ViewCommand]) -> View {
    commands.iter().fold(View::new(), |view, command| {
        view.apply(command).unwrap_or_else(|e| panic!("{e}"))
    })
}

#[test]
fn joining_members_fill_primary_then_backups_and_each_change_bumps_the_id() {
    let view = apply_all(&[
        join("a", 1, &["atc"]),
        join("b", 1, &["atc", "billing"]),
        join("c", 1, &["atc"]),
    ]);
    assert_eq!(view.id(), ViewId(3));
    assert_eq!(view.primary(&service("atc")), Some(&member("a")));
    assert_eq!(view.backups(&service("atc")), [member("b"), member("c")]);
    assert_eq!(view.primary(&service("billing")), Some(&member("b")));
    assert!(view.backups(&service("billing")).is_empty());
    assert_eq!(view.check_invariants(), Ok(()));
}

#[test]
fn removing_a_primary_promotes_its_first_backup_in_the_same_change() {
    let view = apply_all(&[
        join("a", 1, &["atc", "billing"]),
        join("b", 1, &["atc"]),
        join("c", 1, &["atc", "billing"]),
    ]);
    let next = view
        .apply(&remove("a", 1))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(next.id(), ViewId(4));
    assert!(next.member(&member("a")).is_none());
    assert_eq!(next.primary(&service("atc")), Some(&member("b")));
    assert_eq!(next.backups(&service("atc")), [member("c")]);
    assert_eq!(next.primary(&service("billing")), Some(&member("c")));
    assert_eq!(next.check_invariants(), Ok(()));
    // The input view is untouched.
    assert_eq!(view.primary(&service("atc")), Some(&member("a")));
}

#[test]
fn removing_a_lone_primary_leaves_the_service_without_one() {
    let view = apply_all(&[join("a", 1, &["atc"]), remove("a", 1)]);
    assert_eq!(view.primary(&service("atc")), None);
    assert!(view.members().is_empty());
    // The next member to join takes the role.
    let next = view
        .apply(&join("b", 1, &["atc"]))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(next.primary(&service("atc")), Some(&member("b")));
}

#[test]
fn a_removed_incarnation_never_comes_back() {
    let view = apply_all(&[
        join("a", 3, &["atc"]),
        join("b", 1, &["atc"]),
        remove("a", 3),
    ]);
    for stale in [1, 3] {
        assert_eq!(
            view.apply(&join("a", stale, &["atc"])),
            Err(ViewError::StaleIncarnation {
                member: member("a"),
                presented: Incarnation(stale),
                known: Incarnation(3),
            })
        );
    }
    let rejoined = view
        .apply(&join("a", 4, &["atc"]))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(rejoined.has_incarnation(&member("a"), Incarnation(4)));
    // It rejoins as a backup: b was promoted when a was removed.
    assert_eq!(rejoined.primary(&service("atc")), Some(&member("b")));
    assert_eq!(rejoined.backups(&service("atc")), [member("a")]);
    assert!(rejoined.tombstones().is_empty());
}

#[test]
fn rejoining_with_a_higher_incarnation_replaces_the_old_one_in_one_change() {
    let view = apply_all(&[join("a", 1, &["atc"]), join("b", 1, &["atc"])]);
    let next = view
        .apply(&join("a", 2, &["atc"]))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(next.id(), ViewId(3));
    assert!(next.has_incarnation(&member("a"), Incarnation(2)));
    // The old incarnation was primary: b was promoted, the new a is a backup.
    assert_eq!(next.primary(&service("atc")), Some(&member("b")));
    assert_eq!(next.backups(&service("atc")), [member("a")]);
    assert!(matches!(
        view.apply(&join("a", 1, &["atc"])),
        Err(ViewError::StaleIncarnation { .. })
    ));
}

#[test]
fn removal_names_the_incarnation_and_never_touches_a_newer_one() {
    let view = apply_all(&[join("a", 1, &["atc"]), join("a", 2, &["atc"])]);
    assert_eq!(
        view.apply(&remove("a", 1)),
        Err(ViewError::StaleIncarnation {
            member: member("a"),
            presented: Incarnation(1),
            known: Incarnation(2),
        })
    );
    assert_eq!(
        view.apply(&remove("z", 1)),
        Err(ViewError::UnknownMember {
            member: member("z")
        })
    );
    let left = view
        .apply(&ViewCommand::Leave {
            member: member("a"),
            incarnation: Incarnation(2),
        })
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(left.members().is_empty());
}

#[test]
fn the_primary_role_moves_only_after_the_primary_steps_down() {
    let view = apply_all(&[join("a", 1, &["atc"]), join("b", 1, &["atc"])]);
    let set_b = ViewCommand::SetPrimary {
        service: service("atc"),
        member: member("b"),
    };
    assert_eq!(
        view.apply(&set_b),
        Err(ViewError::PrimaryStillHeld {
            service: service("atc"),
            primary: member("a"),
        })
    );
    assert_eq!(
        view.apply(&ViewCommand::StepDown {
            service: service("atc"),
            member: member("b"),
        }),
        Err(ViewError::NotPrimary {
            member: member("b"),
            service: service("atc"),
        })
    );
    let stepped = view
        .apply(&ViewCommand::StepDown {
            service: service("atc"),
            member: member("a"),
        })
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stepped.primary(&service("atc")), None);
    assert_eq!(stepped.backups(&service("atc")), [member("a"), member("b")]);
    // A newcomer queues behind the existing backups rather than taking the
    // vacant role.
    let joined = stepped
        .apply(&join("c", 1, &["atc"]))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(joined.primary(&service("atc")), None);
    assert_eq!(
        joined.backups(&service("atc")),
        [member("a"), member("b"), member("c")]
    );
    let handed = stepped.apply(&set_b).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(handed.primary(&service("atc")), Some(&member("b")));
    assert_eq!(handed.backups(&service("atc")), [member("a")]);
    assert_eq!(handed.check_invariants(), Ok(()));
}

#[test]
fn a_member_cannot_claim_a_role_it_does_not_hold() {
    let view = apply_all(&[join("a", 1, &["atc"]), join("b", 1, &["billing"])]);
    let stepped = view
        .apply(&ViewCommand::StepDown {
            service: service("atc"),
            member: member("a"),
        })
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        stepped.apply(&ViewCommand::SetPrimary {
            service: service("atc"),
            member: member("b"),
        }),
        Err(ViewError::RoleNotHeld {
            member: member("b"),
            service: service("atc"),
        })
    );
}

#[test]
fn a_batch_is_one_change_all_or_nothing() {
    let view = apply_all(&[join("a", 1, &["atc"])]);
    let next = view
        .apply_batch(&[
            join("b", 1, &["atc"]),
            join("c", 1, &["atc"]),
            remove("a", 1),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(next.id(), ViewId(2));
    assert_eq!(next.primary(&service("atc")), Some(&member("b")));
    let failed = view.apply_batch(&[join("b", 1, &["atc"]), remove("a", 7)]);
    assert!(
        matches!(failed, Err(ViewError::InBatch { index: 1, .. })),
        "{failed:?}"
    );
    assert_eq!(view.apply_batch(&[]), Err(ViewError::EmptyBatch));
    let too_many = vec![join("b", 1, &["atc"]); MAX_BATCH + 1];
    assert!(matches!(
        view.apply_batch(&too_many),
        Err(ViewError::LimitExceeded { .. })
    ));
}

#[test]
fn names_addresses_and_role_counts_are_bounded() {
    assert_eq!(
        MemberId::new(""),
        Err(NameError::Empty { kind: "member id" })
    );
    assert!(matches!(
        ServiceName::new("x".repeat(MAX_NAME_LEN + 1)),
        Err(NameError::TooLong { .. })
    ));
    assert!(matches!(
        MemberId::new("a b"),
        Err(NameError::BadCharacter { .. })
    ));
    assert!(matches!(
        MemberId::new("é"),
        Err(NameError::BadCharacter { .. })
    ));
    let long_address = ViewCommand::Join {
        member: member("a"),
        incarnation: Incarnation(1),
        address: "x".repeat(300),
        roles: BTreeSet::new(),
    };
    assert!(matches!(
        View::new().apply(&long_address),
        Err(ViewError::AddressTooLong { len: 300, .. })
    ));
    let many_roles = ViewCommand::Join {
        member: member("a"),
        incarnation: Incarnation(1),
        address: String::new(),
        roles: (0..=MAX_ROLES_PER_MEMBER)
            .map(|i| service(&format!("s{i}")))
            .collect(),
    };
    assert!(matches!(
        View::new().apply(&many_roles),
        Err(ViewError::LimitExceeded { .. })
    ));
}

#[test]
fn views_round_trip_through_json_and_inconsistent_ones_are_refused() {
    let view = apply_all(&[
        join("a", 1, &["atc"]),
        join("b", 2, &["atc"]),
        remove("a", 1),
    ]);
    let json = serde_json::to_string(&view).unwrap_or_else(|e| panic!("{e}"));
    let back: View = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back, view);

    let command = remove("b", 2);
    let json = serde_json::to_string(&command).unwrap_or_else(|e| panic!("{e}"));
    let back: ViewCommand = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back, command);

    // A forged view naming a primary that is not a member.
    let forged =
        r#"{"id":9,"members":{},"primaries":{"atc":"ghost"},"backups":{},"tombstones":{}}"#;
    let err = serde_json::from_str::<View>(forged)
        .map(|_| ())
        .unwrap_err();
    assert!(err.to_string().contains("inconsistent view"), "{err}");
    // A member id that breaks the naming rules.
    let bad_name = r#"{"Remove":{"member":"a b","incarnation":1}}"#;
    assert!(serde_json::from_str::<ViewCommand>(bad_name).is_err());
}

fn arb_command() -> impl Strategy<Value = ViewCommand> {
    let name = prop::sample::select(vec!["a", "b", "c", "d"]);
    let svc = prop::sample::select(vec!["atc", "billing", "radar"]);
    prop_oneof![
        4 => (name.clone(), 0..5u64, prop::collection::btree_set(svc.clone(), 0..3)).prop_map(
            |(n, inc, roles)| ViewCommand::Join {
                member: member(n),
                incarnation: Incarnation(inc),
                address: format!("{n}:1"),
                roles: roles.into_iter().map(service).collect(),
            }
        ),
        3 => (name.clone(), 0..5u64).prop_map(|(n, inc)| remove(n, inc)),
        1 => (name.clone(), 0..5u64).prop_map(|(n, inc)| ViewCommand::Leave {
            member: member(n),
            incarnation: Incarnation(inc),
        }),
        1 => (svc.clone(), name.clone()).prop_map(|(s, n)| ViewCommand::StepDown {
            service: service(s),
            member: member(n),
        }),
        1 => (svc, name).prop_map(|(s, n)| ViewCommand::SetPrimary {
            service: service(s),
            member: member(n),
        }),
    ]
}

proptest! {
    /// Arbitrary text and corrupted serialised views never panic the
    /// decoder; whatever decodes is a consistent view.
    #[test]
    fn decoding_untrusted_views_never_panics(
        junk in ".{0,200}",
        flip in 0usize..400,
        byte in any::<u8>(),
    ) {
        if let Ok(view) = serde_json::from_str::<View>(&junk) {
            prop_assert_eq!(view.check_invariants(), Ok(()));
        }
        let view = apply_all(&[join("a", 1, &["atc"]), join("b", 1, &["atc", "radar"])]);
        let mut bytes = serde_json::to_vec(&view).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let at = flip % bytes.len().max(1);
        if let Some(slot) = bytes.get_mut(at) {
            *slot = byte;
        }
        if let Ok(decoded) = serde_json::from_slice::<View>(&bytes) {
            prop_assert_eq!(decoded.check_invariants(), Ok(()));
        }
        let _ = serde_json::from_slice::<ViewCommand>(&bytes);
    }

    /// `View::admissible` accepts exactly the commands that apply one after
    /// the other (skipping the refused ones), and the accepted ones then
    /// commit as one batch giving the same members, primaries and backups.
    #[test]
    fn admissible_commands_commit_together_as_one_batch(
        setup in prop::collection::vec(arb_command(), 0..20),
        batch in prop::collection::vec(arb_command(), 1..40),
    ) {
        let mut view = View::new();
        for command in &setup {
            if let Ok(next) = view.apply(command) {
                view = next;
            }
        }
        let answers = view.admissible(&batch);
        prop_assert_eq!(answers.len(), batch.len());
        let mut one_by_one = view.clone();
        let mut accepted = Vec::new();
        for (command, answer) in batch.iter().zip(&answers) {
            let applied = one_by_one.apply(command);
            prop_assert_eq!(applied.is_ok(), answer.is_ok(), "{:?}: {:?}", command, answer);
            if let Ok(next) = applied {
                one_by_one = next;
                accepted.push(command.clone());
            }
        }
        if accepted.is_empty() {
            return Ok(());
        }
        let together = view.apply_batch(&accepted).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(together.id().0, view.id().0 + 1);
        prop_assert_eq!(together.members(), one_by_one.members());
        prop_assert_eq!(together.primaries(), one_by_one.primaries());
        prop_assert_eq!(together.check_invariants(), Ok(()));
    }

    /// Random command streams: accepted changes bump the id by exactly one,
    /// refused ones change nothing, invariants always hold, incarnations
    /// never go backwards, the primary role never leaves a member that still
    /// holds it except through its removal or its own step-down, and two
    /// replicas applying the same log agree.
    #[test]
    fn every_reachable_view_is_consistent(commands in prop::collection::vec(arb_command(), 0..60)) {
        let mut view = View::new();
        let mut replica = View::new();
        for command in &commands {
            if let Ok(next) = view.apply(command) {
                prop_assert_eq!(next.id().0, view.id().0 + 1);
                prop_assert_eq!(next.check_invariants(), Ok(()));
                for (id, info) in next.members() {
                    if let Some(old) = view.member(id) {
                        prop_assert!(info.incarnation >= old.incarnation);
                    }
                    if let Some(tomb) = view.tombstones().get(id) {
                        prop_assert!(info.incarnation > tomb.incarnation);
                    }
                }
                for (svc, old_primary) in view.primaries() {
                    let kept = next.primary(svc) == Some(old_primary)
                        && next.has_incarnation(
                            old_primary,
                            view.member(old_primary).map(|m| m.incarnation).unwrap_or_default(),
                        );
                    let removed = !next.has_incarnation(
                        old_primary,
                        view.member(old_primary).map(|m| m.incarnation).unwrap_or_default(),
                    );
                    let stepped_down = matches!(command, ViewCommand::StepDown { member, .. } if member == old_primary);
                    prop_assert!(kept || removed || stepped_down, "primary of {} moved by {:?}", svc, command);
                }
                replica = replica.apply(command).map_err(|e| TestCaseError::fail(e.to_string()))?;
                view = next;
            }
            prop_assert_eq!(&replica, &view);
        }
    }
}
