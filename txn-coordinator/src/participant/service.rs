//! The participant's tokio driver: the [`Participant`] state machine, a
//! [`DurableResource`] (PostgreSQL or SQLite) and a [`CoordinatorLink`]
//! that carries messages to the coordinator, wired together.
//!
//! The service's user (the gateway's SOAP glue, or a test) does three
//! things: [`ParticipantService::enlist`] after a successful Durable2PC
//! Register, which hands back a branch (a [`super::PgBranch`] on PostgreSQL) for
//! the business work; [`ParticipantService::work_done`] (or
//! [`ParticipantService::work_failed`]) when the work is over; and
//! [`ParticipantService::deliver`] / [`ParticipantService::deliver_fault`]
//! for each `Prepare`, `Commit`, `Rollback` or fault that arrives at the
//! participant's protocol endpoint. The service runs the machine's commands:
//! the resource's prepare once Prepare arrived and the work is done
//! (`PREPARE TRANSACTION` on PostgreSQL), its commit or rollback on the
//! outcome, messages through the link, and one timer task for resends,
//! retries and deadlines. At start it feeds the branches the resource
//! recovered ([`PgParticipant::start`], [`super::SqliteParticipant::start`])
//! to the machine, so each asks its coordinator for the outcome again.
//! [`PgParticipantService`] is the service on PostgreSQL.
//!
//! The machine sits behind a mutex that is never held across an `await`;
//! database work and sends run in their own tasks and report back.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use tokio::sync::Notify;

use super::postgres::{PgParticipant, PrepareOutcome, Recovery};
use super::resource::{BoxError, DurableResource, ResourceBranch};
use super::state::{
    BranchId, Command, Config, CoordinatorFault, EnlistError, FromCoordinator, Participant,
    ParticipantFault, State, ToCoordinator, Vote, WsatVersion,
};
use crate::record::{EndpointRef, TxId};

/// What the participant sends to its coordinator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outgoing {
    /// A 2PC notification.
    Notification(ToCoordinator),
    /// A fault.
    Fault(ParticipantFault),
}

/// A send in progress.
pub type LinkFuture<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

/// Carries the participant's messages to the coordinator: the gateway's
/// SOAP sender in production, a channel in tests. Every call is a new
/// message (a new `wsa:MessageID`); a failed send is not retried by the
/// service (the machine's resend timer covers what matters).
pub trait CoordinatorLink: Send + Sync {
    /// Sends `message` about `branch` to `to`: the coordinator's protocol
    /// endpoint, or for a branch the service does not hold, the `reply_to`
    /// given to [`ParticipantService::deliver_from`].
    fn send<'a>(
        &'a self,
        branch: &'a BranchId,
        to: &'a EndpointRef,
        message: Outgoing,
    ) -> LinkFuture<'a>;
}

/// Why a branch could not be enlisted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnlistFailure {
    /// The state machine refused it (too many branches).
    #[error(transparent)]
    Refused(#[from] EnlistError),
    /// The database refused it.
    #[error("{0}")]
    Database(BoxError),
}

/// Where a branch's business work is.
enum Work<B> {
    /// The application holds the branch.
    Running,
    /// The work is done; the branch waits here for Prepare.
    Done(B),
}

struct Inner<R: DurableResource> {
    machine: Mutex<Participant>,
    /// Branches whose work has not been prepared yet.
    work: Mutex<HashMap<BranchId, Work<R::Branch>>>,
    /// Branches asked to prepare while the application still held them.
    prepare_waiting: Mutex<HashMap<BranchId, ()>>,
    pg: R,
    link: Arc<dyn CoordinatorLink>,
    timer: Arc<Notify>,
}

/// The Durable2PC participant service for one database (a
/// [`DurableResource`]). Cheap to clone; the timer task ends when the last
/// clone is dropped.
pub struct ParticipantService<R: DurableResource = PgParticipant> {
    inner: Arc<Inner<R>>,
}

/// The participant service on PostgreSQL.
pub type PgParticipantService = ParticipantService<PgParticipant>;

impl<R: DurableResource> Clone for ParticipantService<R> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<R: DurableResource> std::fmt::Debug for ParticipantService<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParticipantService")
            .field("resource", &self.inner.pg.describe())
            .finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave the machine half-updated
    // in a way later calls could not handle: each call is one transition.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<R: DurableResource> ParticipantService<R> {
    /// Starts the service on a started resource (such as a
    /// [`PgParticipant`]) and what its start-up scan found: every recovered branch asks its coordinator for
    /// the outcome (`Prepared`, or `Replay` under WS-AT 2004/10). Must be
    /// called inside a tokio runtime.
    pub fn start(
        pg: R,
        recovery: &Recovery,
        link: Arc<dyn CoordinatorLink>,
        config: Config,
    ) -> Self {
        let service = Self {
            inner: Arc::new(Inner {
                machine: Mutex::new(Participant::new(config)),
                work: Mutex::new(HashMap::new()),
                prepare_waiting: Mutex::new(HashMap::new()),
                pg,
                link,
                timer: Arc::new(Notify::new()),
            }),
        };
        let now = Instant::now();
        {
            let mut machine = lock(&service.inner.machine);
            for branch in &recovery.branches {
                machine.handle_recovered(
                    branch.id.clone(),
                    branch.coordinator.clone(),
                    branch.version,
                    now,
                );
            }
        }
        service.run_commands();
        tokio::spawn(timer_loop(
            Arc::downgrade(&service.inner),
            service.inner.timer.clone(),
        ));
        service
    }

    /// The resource.
    pub fn resource(&self) -> &R {
        &self.inner.pg
    }

    /// A branch's state, if the service holds it.
    pub fn state(&self, branch: &BranchId) -> Option<State> {
        lock(&self.inner.machine).state(branch)
    }

    /// How many branches the service holds.
    pub fn len(&self) -> usize {
        lock(&self.inner.machine).len()
    }

    /// Whether the service holds no branch.
    pub fn is_empty(&self) -> bool {
        lock(&self.inner.machine).is_empty()
    }

    /// Opens a branch of `tx` after its Durable2PC registration succeeded
    /// (`coordinator` is the CoordinatorProtocolService from
    /// RegisterResponse). Do the business work on the returned branch, then
    /// give it back with [`ParticipantService::work_done`].
    pub async fn enlist(
        &self,
        tx: &TxId,
        coordinator: &EndpointRef,
        version: WsatVersion,
        expires: Option<Instant>,
    ) -> Result<R::Branch, EnlistFailure> {
        let branch = self
            .inner
            .pg
            .open_new_branch(tx, coordinator, version)
            .await
            .map_err(EnlistFailure::Database)?;
        self.track(branch, coordinator, version, expires)
    }

    /// Opens the branch `id`, reserved with
    /// [`DurableResource::reserve_branch`] before the Register whose
    /// participant endpoint names it, as [`ParticipantService::enlist`]
    /// does.
    pub async fn enlist_branch(
        &self,
        id: &BranchId,
        coordinator: &EndpointRef,
        version: WsatVersion,
        expires: Option<Instant>,
    ) -> Result<R::Branch, EnlistFailure> {
        let branch = self
            .inner
            .pg
            .open_branch(id, coordinator, version)
            .await
            .map_err(EnlistFailure::Database)?;
        self.track(branch, coordinator, version, expires)
    }

    /// Hands a freshly opened branch to the machine.
    fn track(
        &self,
        branch: R::Branch,
        coordinator: &EndpointRef,
        version: WsatVersion,
        expires: Option<Instant>,
    ) -> Result<R::Branch, EnlistFailure> {
        let enlisted = lock(&self.inner.machine).handle_enlist(
            branch.id().clone(),
            coordinator.clone(),
            version,
            expires,
            Instant::now(),
        );
        if let Err(error) = enlisted {
            // Dropping the branch closes its connection (rolling it back);
            // its record goes at the next start-up.
            drop(branch);
            return Err(error.into());
        }
        lock(&self.inner.work).insert(branch.id().clone(), Work::Running);
        self.inner.timer.notify_one();
        Ok(branch)
    }

    /// The business work on `branch` is finished: it waits for Prepare (or
    /// prepares now if Prepare already came).
    pub fn work_done(&self, branch: R::Branch) {
        let id = branch.id().clone();
        {
            let mut work = lock(&self.inner.work);
            match work.get_mut(&id) {
                Some(slot) => *slot = Work::Done(branch),
                // The branch was rolled back meanwhile (a Rollback, its
                // deadline): dropping it closes the connection.
                None => return,
            }
        }
        if lock(&self.inner.prepare_waiting).remove(&id).is_some() {
            self.prepare(id);
        }
    }

    /// The business work on `branch` failed: it is rolled back and the
    /// coordinator told `Aborted`, so the transaction cannot commit.
    pub fn work_failed(&self, branch: R::Branch) {
        let id = branch.id().clone();
        {
            let mut work = lock(&self.inner.work);
            match work.get_mut(&id) {
                Some(slot) => *slot = Work::Done(branch),
                // Already rolled back and forgotten: dropping the branch
                // closes its connection.
                None => return,
            }
        }
        if lock(&self.inner.prepare_waiting).remove(&id).is_some() {
            // Prepare came while the work ran: the vote is Aborted.
            let taken = lock(&self.inner.work).remove(&id);
            let service = self.clone();
            tokio::spawn(async move {
                if let Some(Work::Done(branch)) = taken {
                    // On failure the connection closes on drop, which
                    // rolls back too.
                    let _ = branch.rollback_open().await;
                }
                lock(&service.inner.machine).handle_vote(&id, Vote::Aborted, Instant::now());
                service.run_commands();
            });
            return;
        }
        lock(&self.inner.machine).handle_abort(&id, Instant::now());
        self.run_commands();
    }

    /// A `Prepare`, `Commit` or `Rollback` from the coordinator.
    pub fn deliver(&self, branch: &BranchId, message: FromCoordinator) {
        self.deliver_from(branch, message, None);
    }

    /// A `Prepare`, `Commit` or `Rollback` from the coordinator, with the
    /// message's `wsa:ReplyTo` (else `wsa:From`): where the answer goes if
    /// the service does not hold the branch (a `Commit` for a branch that
    /// committed and was forgotten is answered `Committed` there).
    pub fn deliver_from(
        &self,
        branch: &BranchId,
        message: FromCoordinator,
        reply_to: Option<EndpointRef>,
    ) {
        lock(&self.inner.machine).handle_message(branch, message, Instant::now());
        self.run_commands_replying(reply_to.as_ref());
    }

    /// A fault from the coordinator.
    pub fn deliver_fault(&self, branch: &BranchId, fault: CoordinatorFault) {
        lock(&self.inner.machine).handle_fault(branch, fault, Instant::now());
        self.run_commands();
    }

    /// Runs every command the machine has queued.
    fn run_commands(&self) {
        self.run_commands_replying(None);
    }

    /// Runs every command the machine has queued; answers about branches
    /// the machine does not hold go to `reply_to` (dropped without one).
    fn run_commands_replying(&self, reply_to: Option<&EndpointRef>) {
        loop {
            let command = lock(&self.inner.machine).poll_command();
            let Some(command) = command else {
                break;
            };
            match command {
                Command::Prepare(branch) => self.prepare(branch),
                Command::Commit(branch) => self.resolve(branch, true),
                Command::Rollback(branch) => self.resolve(branch, false),
                Command::Send {
                    branch,
                    to,
                    message,
                } => self.send(
                    branch,
                    to.or_else(|| reply_to.cloned()),
                    Outgoing::Notification(message),
                ),
                Command::Fault { branch, to, fault } => {
                    let to = to.or_else(|| reply_to.cloned());
                    self.send(branch, to, Outgoing::Fault(fault));
                }
                Command::Forget(branch) => {
                    lock(&self.inner.work).remove(&branch);
                    lock(&self.inner.prepare_waiting).remove(&branch);
                }
            }
        }
        self.inner.timer.notify_one();
    }

    fn prepare(&self, id: BranchId) {
        let taken = {
            let mut work = lock(&self.inner.work);
            match work.remove(&id) {
                Some(Work::Done(branch)) => Some(branch),
                Some(Work::Running) => {
                    work.insert(id.clone(), Work::Running);
                    None
                }
                None => None,
            }
        };
        let Some(branch) = taken else {
            // Still running: prepare once the work is handed back.
            lock(&self.inner.prepare_waiting).insert(id, ());
            return;
        };
        let service = self.clone();
        tokio::spawn(async move {
            let vote = match branch.prepare_branch().await {
                Ok(PrepareOutcome::Prepared(_)) => {
                    // Durably prepared; Prepared is not sent yet.
                    crate::failpoint::hit(crate::failpoint::PARTICIPANT_AFTER_PREPARED);
                    Vote::Prepared
                }
                Ok(PrepareOutcome::ReadOnly) => Vote::ReadOnly,
                Err(_) => Vote::Aborted,
            };
            lock(&service.inner.machine).handle_vote(&id, vote, Instant::now());
            service.run_commands();
        });
    }

    fn resolve(&self, id: BranchId, commit: bool) {
        // A branch not prepared yet is rolled back on its own connection.
        let open = lock(&self.inner.work).remove(&id);
        let service = self.clone();
        tokio::spawn(async move {
            let done = match open {
                Some(Work::Done(branch)) => branch.rollback_open().await.is_ok(),
                // The application still holds it: the connection closes
                // (rolling back) when it hands the branch back or drops it.
                Some(Work::Running) => true,
                None => {
                    let result = if commit {
                        service.inner.pg.commit_branch(&id).await
                    } else {
                        service.inner.pg.rollback_branch(&id).await
                    };
                    // A heuristic outcome is not retried into a lie: the
                    // branch stays in doubt (and visible) until an operator
                    // acts; transient failures are retried on the timer.
                    result.is_ok()
                }
            };
            lock(&service.inner.machine).handle_resolved(&id, done, Instant::now());
            service.run_commands();
        });
    }

    fn send(&self, branch: BranchId, to: Option<EndpointRef>, message: Outgoing) {
        if to.is_none() {
            // An answer about an unknown branch with nowhere to go: the
            // coordinator resends, with a ReplyTo next time.
            return;
        }
        let link = self.inner.link.clone();
        tokio::spawn(async move {
            // A lost message is covered by the resend timer (Prepared) or
            // by the coordinator's own resends (everything else).
            if let Some(to) = to {
                let _ = link.send(&branch, &to, message).await;
            }
        });
    }
}

/// Calls the machine's timer when it is due. Holds the service only
/// weakly while it waits, and wakes at least every second, so it ends soon
/// after the last clone of the service is dropped.
async fn timer_loop<R: DurableResource>(inner: std::sync::Weak<Inner<R>>, wake: Arc<Notify>) {
    const MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(1);
    loop {
        let next = match inner.upgrade() {
            Some(strong) => lock(&strong.machine).poll_timeout(),
            None => return,
        };
        let now = Instant::now();
        let wait = next.map_or(MAX_WAIT, |at| {
            at.saturating_duration_since(now).min(MAX_WAIT)
        });
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = wake.notified() => continue,
        }
        let Some(strong) = inner.upgrade() else {
            return;
        };
        if next.is_some_and(|at| at <= Instant::now()) {
            let service = ParticipantService { inner: strong };
            lock(&service.inner.machine).handle_timeout(Instant::now());
            service.run_commands();
        }
    }
}
