//! What a Durable2PC resource must do for the participant service
//! ([`super::ParticipantService`]): open a branch for a transaction, prepare
//! it durably (or vote read-only), roll it back, and commit or roll back a
//! branch that is prepared, also one recovered after a restart.
//!
//! Two resources implement it: PostgreSQL ([`super::PgParticipant`], with
//! `PREPARE TRANSACTION`) and SQLite ([`super::SqliteParticipant`], with a
//! durable prepared record written at Prepare and applied at Commit).

use std::future::Future;

use super::postgres::{PrepareOutcome, Resolution};
use super::state::{BranchId, WsatVersion};
use crate::record::{EndpointRef, TxId};

/// A resource error, as the service keeps it (its message).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A database that can take part in WS-AT transactions as a Durable2PC
/// participant.
pub trait DurableResource: Send + Sync + 'static {
    /// An open branch: the application's work for one transaction, until
    /// it is prepared or rolled back.
    type Branch: ResourceBranch;

    /// A short name of the resource for diagnostics (its node id).
    fn describe(&self) -> String;

    /// A fresh branch number for `tx`, for the participant endpoint
    /// reference that goes into Register before the branch is opened.
    fn reserve_branch(&self, tx: &TxId) -> BranchId;

    /// Opens the branch `id` registered with `coordinator`.
    fn open_branch(
        &self,
        id: &BranchId,
        coordinator: &EndpointRef,
        version: WsatVersion,
    ) -> impl Future<Output = Result<Self::Branch, BoxError>> + Send;

    /// Opens a new branch of `tx` registered with `coordinator` (a fresh
    /// branch number).
    fn open_new_branch(
        &self,
        tx: &TxId,
        coordinator: &EndpointRef,
        version: WsatVersion,
    ) -> impl Future<Output = Result<Self::Branch, BoxError>> + Send {
        let id = self.reserve_branch(tx);
        async move { self.open_branch(&id, coordinator, version).await }
    }

    /// Commits the prepared branch `id`.
    fn commit_branch(
        &self,
        id: &BranchId,
    ) -> impl Future<Output = Result<Resolution, BoxError>> + Send;

    /// Rolls back the prepared branch `id`.
    fn rollback_branch(
        &self,
        id: &BranchId,
    ) -> impl Future<Output = Result<Resolution, BoxError>> + Send;
}

/// One open branch of a [`DurableResource`].
pub trait ResourceBranch: Send + 'static {
    /// The branch.
    fn id(&self) -> &BranchId;

    /// Makes the branch's work durable (vote Prepared), or finds it wrote
    /// nothing and ends it (vote ReadOnly). An error means the work is
    /// rolled back: vote Aborted.
    fn prepare_branch(self) -> impl Future<Output = Result<PrepareOutcome, BoxError>> + Send;

    /// Rolls the branch's work back (before prepare).
    fn rollback_open(self) -> impl Future<Output = Result<(), BoxError>> + Send;
}
