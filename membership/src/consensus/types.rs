//! The openraft type configuration of the oracle group: what a log entry
//! carries ([`ViewProposal`]) and what applying it yields ([`ApplyOutcome`]).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::view::{View, ViewCommand, ViewError};

/// The payload of one oracle log entry: view commands applied as one atomic
/// change ([`View::apply_batch`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ViewProposal {
    /// The commands, in order.
    pub(crate) commands: Vec<ViewCommand>,
}

impl fmt::Display for ViewProposal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "view proposal of {} command(s)", self.commands.len())
    }
}

/// What applying one entry produced on this node: the view afterwards and,
/// when the view refused the proposal, why (the view is then unchanged).
///
/// The refusal is kept for the local proposer only; it never crosses the
/// wire (openraft requires the type to be serialisable, so it is skipped).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct ApplyOutcome {
    /// The view after the entry.
    pub(crate) view: View,
    /// Why the view refused the entry, if it did.
    #[serde(skip)]
    pub(crate) rejected: Option<ViewError>,
}

openraft::declare_raft_types!(
    /// The oracle group's types: `u64` node ids, nodes addressed by
    /// `host:port`, entries carrying [`ViewProposal`]s.
    pub(crate) OracleTypes:
        D = ViewProposal,
        R = ApplyOutcome,
        NodeId = u64,
        Node = openraft::BasicNode,
);

/// A log entry of the oracle group.
pub(crate) type OracleEntry = openraft::type_config::alias::EntryOf<OracleTypes>;
/// A log id of the oracle group.
pub(crate) type OracleLogId = openraft::type_config::alias::LogIdOf<OracleTypes>;
/// A vote of the oracle group.
pub(crate) type OracleVote = openraft::type_config::alias::VoteOf<OracleTypes>;
