//! The membership view and the pure state machine that changes it.
//!
//! A [`View`] is the one authoritative answer to "who is in the group, at
//! which incarnation, and who is primary for each service". The oracle's
//! replicated log carries [`ViewCommand`]s; every replica applies them with
//! [`View::apply`] / [`View::apply_batch`], which is deterministic (ordered
//! maps only, no clocks, no randomness) and never mutates the input view, so
//! every replica computes the same next view from the same log.
//!
//! Rules the state machine enforces:
//! - every applied change (a batch counts as one) bumps [`ViewId`] by one;
//! - a member rejoins only with a strictly higher [`Incarnation`]; the old
//!   incarnation is replaced in the same change, and a removed incarnation
//!   never comes back (a bounded tombstone map remembers it);
//! - removing a member promotes the first backup of every service it was
//!   primary for, in the same change;
//! - the primary role never moves away from a member that still holds it
//!   except by that member's removal or its own [`ViewCommand::StepDown`],
//!   because a live primary may still hold a lease (see [`crate::lease`]);
//! - every size that input controls is bounded (see the `MAX_*` constants).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

/// Most members one view holds.
pub const MAX_MEMBERS: usize = 16_384;
/// Most services one view holds.
pub const MAX_SERVICES: usize = 1_024;
/// Most roles (services) one member may declare.
pub const MAX_ROLES_PER_MEMBER: usize = 64;
/// Longest member id or service name, in bytes.
pub const MAX_NAME_LEN: usize = 128;
/// Longest member address, in bytes.
pub const MAX_ADDRESS_LEN: usize = 256;
/// Most removed incarnations remembered; beyond this the oldest removal is
/// forgotten.
pub const MAX_TOMBSTONES: usize = 16_384;
/// Most commands in one atomic batch.
pub const MAX_BATCH: usize = 64;

/// The number of a view. Strictly increasing: each applied change adds one.
/// View ids are the fencing tokens checked by [`crate::fence::Fence`].
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct ViewId(pub u64);

impl ViewId {
    /// The view before any change has been applied.
    pub const INITIAL: Self = Self(0);

    /// The next view id, or `None` when the counter is exhausted.
    #[must_use]
    pub fn next(self) -> Option<Self> {
        self.0.checked_add(1).map(Self)
    }
}

impl fmt::Display for ViewId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

/// A member process's life number. A process picks a higher incarnation
/// each time it (re)joins, so an excluded process can never come back as
/// the identity that was excluded.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Incarnation(pub u64);

impl fmt::Display for Incarnation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Why a member id or service name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name is empty.
    #[error("{kind} is empty")]
    Empty {
        /// What was being named ("member id" or "service name").
        kind: &'static str,
    },
    /// The name is longer than [`MAX_NAME_LEN`] bytes.
    #[error("{kind} is {len} bytes long, the limit is {MAX_NAME_LEN}")]
    TooLong {
        /// What was being named.
        kind: &'static str,
        /// Its length in bytes.
        len: usize,
    },
    /// The name holds a character outside printable ASCII without spaces.
    #[error("{kind} may hold only printable ASCII without spaces")]
    BadCharacter {
        /// What was being named.
        kind: &'static str,
    },
}

fn check_name(kind: &'static str, name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty { kind });
    }
    if name.len() > MAX_NAME_LEN {
        return Err(NameError::TooLong {
            kind,
            len: name.len(),
        });
    }
    if !name.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(NameError::BadCharacter { kind });
    }
    Ok(())
}

macro_rules! checked_name {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Checks and wraps a name: 1 to [`MAX_NAME_LEN`] bytes of
            /// printable ASCII without spaces.
            pub fn new(name: impl Into<String>) -> Result<Self, NameError> {
                let name = name.into();
                check_name($kind, &name)?;
                Ok(Self(name))
            }

            /// The name as text.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = NameError;
            fn try_from(name: String) -> Result<Self, NameError> {
                Self::new(name)
            }
        }

        impl From<$name> for String {
            fn from(name: $name) -> Self {
                name.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

checked_name!(
    /// A member's stable name (its identity across incarnations).
    MemberId,
    "member id"
);
checked_name!(
    /// The name of a replicated service members can be primary or backup for.
    ServiceName,
    "service name"
);

/// What the view records about one member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberInfo {
    /// The incarnation that joined.
    pub incarnation: Incarnation,
    /// Where the member serves (opaque to the oracle, at most
    /// [`MAX_ADDRESS_LEN`] bytes).
    pub address: String,
    /// The services this member can host.
    pub roles: BTreeSet<ServiceName>,
}

/// A member incarnation that was removed, remembered so it cannot rejoin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tombstone {
    /// The highest incarnation removed.
    pub incarnation: Incarnation,
    /// The view that removed it.
    pub removed_in: ViewId,
}

/// One change to the view. The oracle commits these (alone or as a batch)
/// through its majority-replicated log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ViewCommand {
    /// A member joins, or rejoins with a higher incarnation (the old
    /// incarnation is removed in the same change). For each of its roles it
    /// becomes primary if nobody hosts the service yet, otherwise its last
    /// backup.
    Join {
        /// Who joins.
        member: MemberId,
        /// Its new incarnation: higher than any it had before.
        incarnation: Incarnation,
        /// Where it serves.
        address: String,
        /// The services it can host.
        roles: BTreeSet<ServiceName>,
    },
    /// A member leaves of its own accord (same effect as [`Self::Remove`]).
    Leave {
        /// Who leaves.
        member: MemberId,
        /// The incarnation that leaves; a newer one is not touched.
        incarnation: Incarnation,
    },
    /// The oracle removes a member it convicted; the first backup of each
    /// service the member was primary for is promoted in the same change.
    Remove {
        /// Who is removed.
        member: MemberId,
        /// The incarnation convicted; a newer one is not touched.
        incarnation: Incarnation,
    },
    /// The primary of a service gives the role up (it stopped acting as
    /// primary before asking) and becomes its first backup; the service has
    /// no primary until a [`Self::SetPrimary`].
    StepDown {
        /// The service.
        service: ServiceName,
        /// Its current primary.
        member: MemberId,
    },
    /// Names the primary of a service that has none.
    SetPrimary {
        /// The service.
        service: ServiceName,
        /// A member holding the role.
        member: MemberId,
    },
}

/// Why a view change was refused. A refused change leaves the view as it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ViewError {
    /// The incarnation is not newer than the one the view knows (a stale
    /// rejoin or a resurrection attempt), or not the one in the view.
    #[error("member {member}: incarnation {presented} is stale, the view knows {known}")]
    StaleIncarnation {
        /// The member.
        member: MemberId,
        /// The incarnation in the command.
        presented: Incarnation,
        /// The incarnation the view knows (current or removed).
        known: Incarnation,
    },
    /// The command names a member that is not in the view.
    #[error("member {member} is not in the view")]
    UnknownMember {
        /// The member.
        member: MemberId,
    },
    /// The member does not hold the service role it claims.
    #[error("member {member} does not hold the role {service}")]
    RoleNotHeld {
        /// The member.
        member: MemberId,
        /// The service.
        service: ServiceName,
    },
    /// The member is not the service's primary.
    #[error("member {member} is not the primary of {service}")]
    NotPrimary {
        /// The member.
        member: MemberId,
        /// The service.
        service: ServiceName,
    },
    /// The service still has a primary, which must step down or be removed
    /// first (it may still hold a lease).
    #[error("service {service} still has the primary {primary}")]
    PrimaryStillHeld {
        /// The service.
        service: ServiceName,
        /// Its primary.
        primary: MemberId,
    },
    /// A size limit would be exceeded.
    #[error("too many {what}: the limit is {limit}")]
    LimitExceeded {
        /// What would overflow.
        what: &'static str,
        /// The limit.
        limit: usize,
    },
    /// The member address is longer than [`MAX_ADDRESS_LEN`] bytes.
    #[error("member {member}: address is {len} bytes long, the limit is {MAX_ADDRESS_LEN}")]
    AddressTooLong {
        /// The member.
        member: MemberId,
        /// The address length.
        len: usize,
    },
    /// A batch held no command.
    #[error("empty batch of view commands")]
    EmptyBatch,
    /// One command of a batch failed, so none was applied.
    #[error("command {index} of the batch: {error}")]
    InBatch {
        /// Its position in the batch.
        index: usize,
        /// Why it failed.
        error: Box<Self>,
    },
    /// The view id counter is exhausted.
    #[error("view id counter exhausted")]
    ViewIdExhausted,
    /// A deserialised view breaks an invariant.
    #[error("inconsistent view: {0}")]
    Inconsistent(String),
}

/// The authoritative membership view: who is in, at which incarnation, and
/// who is primary and backup for each service.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "ViewRepr")]
pub struct View {
    id: ViewId,
    members: BTreeMap<MemberId, MemberInfo>,
    primaries: BTreeMap<ServiceName, MemberId>,
    backups: BTreeMap<ServiceName, Vec<MemberId>>,
    tombstones: BTreeMap<MemberId, Tombstone>,
}

/// The wire form of a [`View`], checked before it becomes one.
#[derive(Deserialize)]
struct ViewRepr {
    id: ViewId,
    members: BTreeMap<MemberId, MemberInfo>,
    primaries: BTreeMap<ServiceName, MemberId>,
    backups: BTreeMap<ServiceName, Vec<MemberId>>,
    tombstones: BTreeMap<MemberId, Tombstone>,
}

impl TryFrom<ViewRepr> for View {
    type Error = ViewError;
    fn try_from(repr: ViewRepr) -> Result<Self, ViewError> {
        let view = Self {
            id: repr.id,
            members: repr.members,
            primaries: repr.primaries,
            backups: repr.backups,
            tombstones: repr.tombstones,
        };
        view.check_invariants()?;
        Ok(view)
    }
}

impl View {
    /// The empty view [`ViewId::INITIAL`].
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// This view's id.
    #[must_use]
    pub fn id(&self) -> ViewId {
        self.id
    }

    /// Every member, by id.
    #[must_use]
    pub fn members(&self) -> &BTreeMap<MemberId, MemberInfo> {
        &self.members
    }

    /// One member's record.
    #[must_use]
    pub fn member(&self, member: &MemberId) -> Option<&MemberInfo> {
        self.members.get(member)
    }

    /// Whether `member` is in the view at exactly `incarnation`.
    #[must_use]
    pub fn has_incarnation(&self, member: &MemberId, incarnation: Incarnation) -> bool {
        self.members
            .get(member)
            .is_some_and(|info| info.incarnation == incarnation)
    }

    /// The primary of every service that has one.
    #[must_use]
    pub fn primaries(&self) -> &BTreeMap<ServiceName, MemberId> {
        &self.primaries
    }

    /// The primary of `service`, if it has one.
    #[must_use]
    pub fn primary(&self, service: &ServiceName) -> Option<&MemberId> {
        self.primaries.get(service)
    }

    /// The backups of `service`, in promotion order.
    #[must_use]
    pub fn backups(&self, service: &ServiceName) -> &[MemberId] {
        self.backups.get(service).map_or(&[], Vec::as_slice)
    }

    /// The services `member` is primary for.
    pub fn primary_for<'a>(
        &'a self,
        member: &'a MemberId,
    ) -> impl Iterator<Item = &'a ServiceName> + 'a {
        self.primaries
            .iter()
            .filter(move |(_, primary)| *primary == member)
            .map(|(service, _)| service)
    }

    /// The members whose entry differs between `older` and this view: in
    /// one of them only, or at another incarnation. One ordered pass over
    /// both member maps, no allocation but the answer's (which holds the
    /// changes only). Address and role changes of the same incarnation do
    /// not count: they are what the failure detector ignores.
    #[must_use]
    pub fn member_changes(&self, older: &Self) -> Vec<MemberId> {
        use std::cmp::Ordering;
        let mut changed = Vec::new();
        let mut newer = self.members.iter().peekable();
        let mut older = older.members.iter().peekable();
        loop {
            let order = match (newer.peek(), older.peek()) {
                (None, None) => return changed,
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some((new_id, _)), Some((old_id, _))) => new_id.cmp(old_id),
            };
            match order {
                Ordering::Less => {
                    if let Some((member, _)) = newer.next() {
                        changed.push(member.clone());
                    }
                }
                Ordering::Greater => {
                    if let Some((member, _)) = older.next() {
                        changed.push(member.clone());
                    }
                }
                Ordering::Equal => {
                    if let (Some((member, new_info)), Some((_, old_info))) =
                        (newer.next(), older.next())
                        && new_info.incarnation != old_info.incarnation
                    {
                        changed.push(member.clone());
                    }
                }
            }
        }
    }

    /// The removed incarnations still remembered.
    #[must_use]
    pub fn tombstones(&self) -> &BTreeMap<MemberId, Tombstone> {
        &self.tombstones
    }

    /// Applies one command: the next view, or why the change is refused.
    pub fn apply(&self, command: &ViewCommand) -> Result<Self, ViewError> {
        let mut next = self.clone();
        next.id = self.id.next().ok_or(ViewError::ViewIdExhausted)?;
        next.apply_in_place(command)?;
        Ok(next)
    }

    /// Applies several commands as one change (one view id), all or none.
    pub fn apply_batch(&self, commands: &[ViewCommand]) -> Result<Self, ViewError> {
        if commands.is_empty() {
            return Err(ViewError::EmptyBatch);
        }
        if commands.len() > MAX_BATCH {
            return Err(ViewError::LimitExceeded {
                what: "commands in a batch",
                limit: MAX_BATCH,
            });
        }
        let mut next = self.clone();
        next.id = self.id.next().ok_or(ViewError::ViewIdExhausted)?;
        for (index, command) in commands.iter().enumerate() {
            next.apply_in_place(command)
                .map_err(|error| ViewError::InBatch {
                    index,
                    error: Box::new(error),
                })?;
        }
        Ok(next)
    }

    /// Which of `commands` (at most [`MAX_BATCH`]) the view would accept
    /// together, in order, as one batch: one answer per command, `Ok` for
    /// those that apply after the accepted ones before them, the refusal
    /// for the others. Applying the accepted commands with
    /// [`Self::apply_batch`] then succeeds on this view. The oracle uses it
    /// to commit many joins (or removals) in one view change without one
    /// bad command refusing the rest.
    pub fn admissible(&self, commands: &[ViewCommand]) -> Vec<Result<(), ViewError>> {
        let mut answers = Vec::with_capacity(commands.len().min(MAX_BATCH));
        let mut scratch = self.clone();
        scratch.id = self.id.next().unwrap_or(self.id);
        let mut accepted: Vec<&ViewCommand> = Vec::new();
        for command in commands.iter().take(MAX_BATCH) {
            match scratch.apply_in_place(command) {
                Ok(()) => {
                    accepted.push(command);
                    answers.push(Ok(()));
                }
                Err(error) => {
                    answers.push(Err(error));
                    // A refused command may have changed the scratch copy
                    // part way (a rejoin removes the old incarnation
                    // first): rebuild it from the accepted ones. Refusals
                    // are rare, so this clone is too.
                    scratch = self.clone();
                    scratch.id = self.id.next().unwrap_or(self.id);
                    for earlier in &accepted {
                        let _ = scratch.apply_in_place(earlier);
                    }
                }
            }
        }
        for _ in commands.iter().skip(MAX_BATCH) {
            answers.push(Err(ViewError::LimitExceeded {
                what: "commands in a batch",
                limit: MAX_BATCH,
            }));
        }
        answers
    }

    fn apply_in_place(&mut self, command: &ViewCommand) -> Result<(), ViewError> {
        match command {
            ViewCommand::Join {
                member,
                incarnation,
                address,
                roles,
            } => self.join(member, *incarnation, address, roles),
            ViewCommand::Leave {
                member,
                incarnation,
            }
            | ViewCommand::Remove {
                member,
                incarnation,
            } => {
                let known = self
                    .members
                    .get(member)
                    .map(|info| info.incarnation)
                    .ok_or_else(|| ViewError::UnknownMember {
                        member: member.clone(),
                    })?;
                if known != *incarnation {
                    return Err(ViewError::StaleIncarnation {
                        member: member.clone(),
                        presented: *incarnation,
                        known,
                    });
                }
                self.remove(member);
                Ok(())
            }
            ViewCommand::StepDown { service, member } => {
                if self.primaries.get(service) != Some(member) {
                    return Err(ViewError::NotPrimary {
                        member: member.clone(),
                        service: service.clone(),
                    });
                }
                self.primaries.remove(service);
                self.backups
                    .entry(service.clone())
                    .or_default()
                    .insert(0, member.clone());
                Ok(())
            }
            ViewCommand::SetPrimary { service, member } => {
                let info = self
                    .members
                    .get(member)
                    .ok_or_else(|| ViewError::UnknownMember {
                        member: member.clone(),
                    })?;
                if !info.roles.contains(service) {
                    return Err(ViewError::RoleNotHeld {
                        member: member.clone(),
                        service: service.clone(),
                    });
                }
                if let Some(primary) = self.primaries.get(service) {
                    return Err(ViewError::PrimaryStillHeld {
                        service: service.clone(),
                        primary: primary.clone(),
                    });
                }
                if let Some(backups) = self.backups.get_mut(service) {
                    backups.retain(|backup| backup != member);
                    if backups.is_empty() {
                        self.backups.remove(service);
                    }
                }
                self.primaries.insert(service.clone(), member.clone());
                Ok(())
            }
        }
    }

    fn join(
        &mut self,
        member: &MemberId,
        incarnation: Incarnation,
        address: &str,
        roles: &BTreeSet<ServiceName>,
    ) -> Result<(), ViewError> {
        let known = self
            .members
            .get(member)
            .map(|info| info.incarnation)
            .or_else(|| self.tombstones.get(member).map(|t| t.incarnation));
        if let Some(known) = known
            && incarnation <= known
        {
            return Err(ViewError::StaleIncarnation {
                member: member.clone(),
                presented: incarnation,
                known,
            });
        }
        if address.len() > MAX_ADDRESS_LEN {
            return Err(ViewError::AddressTooLong {
                member: member.clone(),
                len: address.len(),
            });
        }
        if roles.len() > MAX_ROLES_PER_MEMBER {
            return Err(ViewError::LimitExceeded {
                what: "roles for one member",
                limit: MAX_ROLES_PER_MEMBER,
            });
        }
        // The old incarnation goes in the same change (promoting its backups).
        if self.members.contains_key(member) {
            self.remove(member);
        } else if self.members.len() >= MAX_MEMBERS {
            return Err(ViewError::LimitExceeded {
                what: "members",
                limit: MAX_MEMBERS,
            });
        }
        let new_services = roles
            .iter()
            .filter(|service| {
                !self.primaries.contains_key(*service) && !self.backups.contains_key(*service)
            })
            .count();
        if self.service_count().saturating_add(new_services) > MAX_SERVICES {
            return Err(ViewError::LimitExceeded {
                what: "services",
                limit: MAX_SERVICES,
            });
        }
        self.tombstones.remove(member);
        for service in roles {
            // A newcomer has no state: it becomes primary only of a service
            // nobody hosts, never ahead of existing backups.
            if self.primaries.contains_key(service) || self.backups.contains_key(service) {
                self.backups
                    .entry(service.clone())
                    .or_default()
                    .push(member.clone());
            } else {
                self.primaries.insert(service.clone(), member.clone());
            }
        }
        self.members.insert(
            member.clone(),
            MemberInfo {
                incarnation,
                address: address.to_owned(),
                roles: roles.clone(),
            },
        );
        Ok(())
    }

    /// Removes a member, promotes the first backup of each service it was
    /// primary for, and remembers its incarnation.
    fn remove(&mut self, member: &MemberId) {
        let Some(info) = self.members.remove(member) else {
            return;
        };
        for service in &info.roles {
            if let Some(backups) = self.backups.get_mut(service) {
                backups.retain(|backup| backup != member);
            }
            if self.primaries.get(service) == Some(member) {
                self.primaries.remove(service);
                if let Some(backups) = self.backups.get_mut(service)
                    && !backups.is_empty()
                {
                    // In bounds: the list was just checked to be non-empty.
                    let promoted = backups.remove(0);
                    self.primaries.insert(service.clone(), promoted);
                }
            }
            if self.backups.get(service).is_some_and(Vec::is_empty) {
                self.backups.remove(service);
            }
        }
        if self.tombstones.len() >= MAX_TOMBSTONES
            && let Some(oldest) = self
                .tombstones
                .iter()
                .min_by_key(|(_, t)| t.removed_in)
                .map(|(id, _)| id.clone())
        {
            self.tombstones.remove(&oldest);
        }
        self.tombstones.insert(
            member.clone(),
            Tombstone {
                incarnation: info.incarnation,
                removed_in: self.id,
            },
        );
    }

    fn service_count(&self) -> usize {
        let mut services: BTreeSet<&ServiceName> = self.primaries.keys().collect();
        services.extend(self.backups.keys());
        services.len()
    }

    /// Checks the invariants every view produced by [`Self::apply`] keeps:
    /// primaries and backups are members holding the role, a service's
    /// primary is not also its backup, nobody is listed twice, every role a
    /// member declares gives it a place (primary or backup) in that service,
    /// and the size limits hold.
    pub fn check_invariants(&self) -> Result<(), ViewError> {
        let fail = |msg: String| Err(ViewError::Inconsistent(msg));
        if self.members.len() > MAX_MEMBERS {
            return fail(format!("more than {MAX_MEMBERS} members"));
        }
        if self.tombstones.len() > MAX_TOMBSTONES {
            return fail(format!("more than {MAX_TOMBSTONES} tombstones"));
        }
        if self.service_count() > MAX_SERVICES {
            return fail(format!("more than {MAX_SERVICES} services"));
        }
        for (member, info) in &self.members {
            if info.address.len() > MAX_ADDRESS_LEN {
                return fail(format!("{member}: address too long"));
            }
            if info.roles.len() > MAX_ROLES_PER_MEMBER {
                return fail(format!("{member}: too many roles"));
            }
            if self.tombstones.contains_key(member) {
                return fail(format!("{member} is both a member and removed"));
            }
        }
        let holds = |member: &MemberId, service: &ServiceName| {
            self.members
                .get(member)
                .is_some_and(|info| info.roles.contains(service))
        };
        for (service, primary) in &self.primaries {
            if !holds(primary, service) {
                return fail(format!("primary {primary} of {service} lacks the role"));
            }
        }
        for (service, backups) in &self.backups {
            if backups.is_empty() {
                return fail(format!("{service}: empty backup list"));
            }
            let mut seen = BTreeSet::new();
            for backup in backups {
                if !holds(backup, service) {
                    return fail(format!("backup {backup} of {service} lacks the role"));
                }
                if self.primaries.get(service) == Some(backup) {
                    return fail(format!("{backup} is primary and backup of {service}"));
                }
                if !seen.insert(backup) {
                    return fail(format!("{backup} listed twice as backup of {service}"));
                }
            }
        }
        for (member, info) in &self.members {
            for service in &info.roles {
                let listed = self.primaries.get(service) == Some(member)
                    || self.backups(service).contains(member);
                if !listed {
                    return fail(format!("{member} holds {service} but has no place in it"));
                }
            }
        }
        Ok(())
    }
}
