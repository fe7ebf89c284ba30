//! Failure detection and one authoritative membership view for Ithaca:
//! the deterministic, sans-IO core of the membership oracle.
//!
//! A primary/backup service must never have two primaries at once (the
//! air-traffic-control example: two "primaries" answering "safe to land" to
//! two flights on one runway). The design: members heartbeat an oracle; the
//! oracle's failure detector convicts a member only after a silence long
//! enough that the member's lease has lapsed on its own clock; the removal
//! and the promotion of its backups are one view change; view ids fence
//! whoever was left behind.
//!
//! This crate holds the parts that need no I/O and no clock of their own:
//!
//! - [`view`]: the [`View`] and its deterministic state machine
//!   ([`View::apply`]), which the replicated log will carry;
//! - [`detector`]: the oracle leader's [`FailureDetector`] (fixed-timeout
//!   conviction, phi accrual for alerting, local-health guard, new-leader
//!   grace);
//! - [`lease`]: the member's [`LeaseHolder`] and the timing configuration
//!   with its safety formula `S ≥ L·(1+ρ) + h` ([`TimingConfig::validate`]);
//! - [`member`]: the member's [`MemberSession`] (heartbeat pacing, replies,
//!   self-fencing and rejoining with a new incarnation);
//! - [`oracle`]: the [`OracleLeader`], answering heartbeats with grants and
//!   turning convictions into view commands for the consensus layer;
//! - [`fence`]: the [`Fence`] storage and replication use to reject
//!   operations stamped with an older view;
//! - [`clock`]: [`Timestamp`], one process's monotonic clock readings.
//!
//! On top of them, with I/O:
//!
//! - [`consensus`]: the replicated oracle itself, the [`consensus::Consensus`]
//!   trait and its openraft implementation [`consensus::OracleNode`] (durable
//!   fsynced log, view snapshots, oracle-to-oracle TCP transport);
//! - [`wire`]: the member ↔ oracle protocol (sans-IO binary codec; UDP
//!   heartbeats, TCP join, leave and view fetches);
//! - [`node`]: the oracle node runtime ([`node::MembershipNode`]: the
//!   heartbeat task running the [`OracleLeader`] while this node leads, the
//!   request task, and an in-memory consensus for tests);
//! - [`client`]: the member client ([`client::Member`]: join, heartbeat loop,
//!   lease state, self-fencing, view watch, leave).
//!
//! The gateway (`ithaca serve`) hosts all of it; see `docs/membership.md`.
//!
//! # Example
//!
//! ```
//! use std::collections::BTreeSet;
//! use ithaca_membership::{
//!     Fence, Incarnation, MemberId, ServiceName, View, ViewCommand,
//! };
//!
//! let sector = ServiceName::new("sector-status")?;
//! let join = |name: &str| -> Result<ViewCommand, Box<dyn std::error::Error>> {
//!     Ok(ViewCommand::Join {
//!         member: MemberId::new(name)?,
//!         incarnation: Incarnation(1),
//!         address: format!("{name}.example:7000"),
//!         roles: BTreeSet::from([sector.clone()]),
//!     })
//! };
//! let view = View::new().apply(&join("a")?)?.apply(&join("b")?)?;
//! assert_eq!(view.primary(&sector), Some(&MemberId::new("a")?));
//!
//! // The oracle convicts `a`: removal and promotion are one change.
//! let fence = Fence::new(view.id());
//! let next = view.apply(&ViewCommand::Remove {
//!     member: MemberId::new("a")?,
//!     incarnation: Incarnation(1),
//! })?;
//! assert_eq!(next.primary(&sector), Some(&MemberId::new("b")?));
//!
//! // Storage that has seen the new view refuses the old primary's writes.
//! fence.advance_to(next.id());
//! assert!(fence.admit(view.id()).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod client;
pub mod clock;
pub mod consensus;
pub mod detector;
pub mod fence;
pub mod lease;
pub mod member;
pub mod node;
pub mod oracle;
pub mod view;
pub mod wire;

pub use clock::{MonotonicClock, Timestamp};
pub use detector::{
    DetectorConfig, DetectorConfigError, DetectorOutput, FailureDetector, HeartbeatError,
    MemberHealth, RemovalProposal, Suspicion,
};
pub use fence::{Fence, StaleView};
pub use lease::{ConfigError, LeaseHolder, LeaseRequest, LeaseState, TimingConfig};
pub use member::{HeartbeatRequest, MemberSession, ReplyEvent};
pub use oracle::{HeartbeatReply, Leadership, OracleLeader};
pub use view::{
    Incarnation, MemberId, MemberInfo, NameError, ServiceName, Tombstone, View, ViewCommand,
    ViewError, ViewId,
};
