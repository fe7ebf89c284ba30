//! Instance ownership and takeover fencing in the log.
//!
//! Several coordinator instances may share one PostgreSQL database. Each
//! stamps its decision rows with its [`InstanceId`] and reads back only its
//! own. Every instance also holds a [`FencingToken`]; the store keeps, per
//! instance, the highest token that has claimed that instance's records
//! (the *fence*, table `wsat_fence`). A write on an instance's records made
//! with a token older than its fence is refused with
//! [`LogError::Fenced`](super::LogError::Fenced), in the same database
//! transaction as the write, so once a taker has raised the fence a paused
//! original instance (a zombie) can no longer write anything.
//!
//! The contract, for whoever hands out tokens (the membership service's
//! view ids in production, [`crate::driver::StaticAuthority`] in tests):
//!
//! - an instance starts with a token at least as high as every token its
//!   records were claimed with before ([`CoordinatorLog::claim`](super::CoordinatorLog::claim)
//!   refuses a lower one);
//! - a taker adopts a dead instance's records with a token *strictly*
//!   higher than the dead instance's
//!   ([`CoordinatorLog::adopt`](super::CoordinatorLog::adopt) refuses an
//!   equal or lower one), and only when the authority has decided the dead
//!   instance can no longer act (its lease has lapsed).

use std::fmt;

/// The identity of one coordinator instance: the owner stamped on its log
/// rows. Stable across restarts of the same instance.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InstanceId(pub String);

impl fmt::Display for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for InstanceId {
    fn from(id: &str) -> Self {
        Self(id.to_owned())
    }
}

/// A monotonic number proving the right to write an instance's records
/// (in production, the membership view id the right was granted under).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FencingToken(pub u64);

impl FencingToken {
    /// The token of an instance that never took anything over.
    pub const INITIAL: Self = Self(0);

    /// The token as the databases store it (`BIGINT`); `None` above
    /// `i64::MAX`.
    pub(crate) fn as_db(self) -> Option<i64> {
        i64::try_from(self.0).ok()
    }
}

impl fmt::Display for FencingToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
