//! [`CoordinatorService`]: the engine behind a mutex, and the tasks that
//! carry out its commands.
//!
//! Why a mutex and not an actor task: every API call (create, register,
//! deliver) is answered from the engine's immediate result, so a
//! `std::sync::Mutex` held for the few microseconds of one engine call
//! answers it with no channel round trip and no task wake-up. The lock is
//! never held across an `.await`: the commands an engine call produced are
//! drained under the lock and carried out after it is released, each send
//! and each forced write in its own task, so a slow peer or a slow database
//! never blocks another transaction.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, mpsc, oneshot, watch};

use super::config::DriverConfig;
use super::error::DriverError;
use super::metrics::{Counters, DriverMetrics, names, phase};
use super::sink::{Message, Notification, NotificationSink};
use super::takeover::TakeoverAuthority;
use crate::admin::{self, HeuristicSummary, Snapshot, StateFilter, TransactionSummary};
use crate::engine::{
    Command, Coordinator, Fault, FromSuperior, Inbound, Outbound, Outcome, Phase, Protocol,
    ToSuperior,
};
use crate::log::{
    CoordinatorLog, FencingToken, GroupCommit, InstanceId, LogError, Resolution, ResolveOutcome,
};
use crate::record::{DecisionRecord, EndpointRef, ParticipantId, TxId};

/// What [`CoordinatorService::deliver`] did with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivered {
    /// The transaction is known: the message went through the state tables
    /// (any answer or fault is sent through the sink).
    Handled,
    /// The transaction is unknown and the log is loaded: answered by
    /// presumed abort (a durable Prepared gets Rollback, a volatile
    /// Prepared or a Completion message an UnknownTransaction fault, when a
    /// `reply_to` was given), anything else ignored.
    UnknownTransaction,
}

/// A lazy (unforced) log update.
enum LazyOp {
    Done(Arc<dyn CoordinatorLog>, TxId, ParticipantId),
    Forget(Arc<dyn CoordinatorLog>, TxId),
}

/// What one drained engine command becomes once the lock is released.
enum Action {
    Send {
        to: EndpointRef,
        notification: Notification,
    },
    ForceLog(DecisionRecord),
    Lazy(LazyOp),
    Heuristic(Arc<dyn CoordinatorLog>, crate::record::HeuristicRecord),
    /// Fenced: read whether the log holds the transaction's record.
    ReadDecision(Arc<dyn CoordinatorLog>, TxId),
}

type Waiter = oneshot::Sender<Result<Outcome, DriverError>>;

struct State {
    engine: Coordinator,
    /// Callers of [`CoordinatorService::outcome`].
    waiters: HashMap<TxId, Vec<Waiter>>,
    /// Transactions taken over from another instance: their lazy updates
    /// go to that instance's records, stamped with the takeover token.
    adopted: HashMap<TxId, Arc<dyn CoordinatorLog>>,
    /// Generation of the latest send per (transaction, registration): an
    /// older send still retrying gives up when a newer one starts.
    send_generation: HashMap<(TxId, Option<ParticipantId>), u64>,
    next_generation: u64,
    /// When each transaction's completion began and was decided, for the
    /// per-phase latency histograms.
    phases: HashMap<TxId, PhaseMarks>,
    shut_down: bool,
}

/// The instants of one transaction's completion (see
/// [`names::PHASE_SECONDS`]).
#[derive(Debug, Clone, Copy)]
struct PhaseMarks {
    /// The initiator's Commit arrived.
    commit_requested: Instant,
    /// The decision became durable.
    decided: Option<Instant>,
}

struct Inner {
    config: DriverConfig,
    state: Mutex<State>,
    log: Arc<dyn CoordinatorLog>,
    writer: GroupCommit,
    sink: Arc<dyn NotificationSink>,
    sends: Arc<Semaphore>,
    lazy: mpsc::Sender<LazyOp>,
    timer: watch::Sender<Option<Instant>>,
    stop: watch::Sender<bool>,
    recovered: watch::Sender<bool>,
    fenced: AtomicBool,
    store_available: AtomicBool,
    store_probe_running: AtomicBool,
    random: AtomicU64,
    counters: Counters,
}

/// The WS-AT coordinator service: a cheap, cloneable handle over one
/// engine, its log and its sink. See the [module docs](super) for the API
/// contract.
#[derive(Clone)]
pub struct CoordinatorService {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for CoordinatorService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoordinatorService")
            .field("instance", self.inner.log.instance())
            .field("token", &self.inner.log.token())
            .finish_non_exhaustive()
    }
}

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

fn seed() -> u64 {
    let mut bytes = [0u8; 8];
    // Without OS randomness the jitter is merely predictable.
    if getrandom::fill(&mut bytes).is_err() {
        return 0x9E37_79B9_7F4A_7C15;
    }
    u64::from_le_bytes(bytes) | 1
}

/// A fresh `urn:uuid:` identifier (UUID version 4).
fn new_tx_id() -> Result<TxId, DriverError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| DriverError::CannotCreateContext {
        reason: format!("no randomness for a transaction id: {e}"),
    })?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|byte| format!("{byte:02x}")).collect();
    let part = |range: std::ops::Range<usize>| hex.get(range).unwrap_or_default().to_owned();
    Ok(TxId(format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        part(0..8),
        part(8..12),
        part(12..16),
        part(16..20),
        part(20..32)
    )))
}

impl CoordinatorService {
    /// Starts the service on the current tokio runtime and returns at once.
    ///
    /// In the background it claims the instance's records with the log
    /// handle's fencing token and loads the unfinished decisions (retrying
    /// with backoff while the store is down); every logged decision gets
    /// its Commit resent. Until then [`Self::create`] answers
    /// CannotCreateContext and [`Self::deliver`] refuses messages for
    /// unknown transactions with the retryable [`DriverError::Recovering`]
    /// (never a presumed-abort answer). [`Self::recovered`] waits for it.
    pub fn start(
        config: DriverConfig,
        log: Arc<dyn CoordinatorLog>,
        sink: Arc<dyn NotificationSink>,
    ) -> Result<Self, DriverError> {
        if config.send_retry.max_attempts == 0 || config.max_in_flight_sends == 0 {
            return Err(DriverError::InvalidParameters {
                reason: "send_retry.max_attempts and max_in_flight_sends must be at least 1"
                    .to_owned(),
            });
        }
        let writer = GroupCommit::spawn(Arc::clone(&log), config.group_commit.clone());
        let (lazy, lazy_rx) = mpsc::channel(config.lazy_queue.max(1));
        let (timer, timer_rx) = watch::channel(None);
        let (stop, stop_rx) = watch::channel(false);
        let (recovered, _) = watch::channel(false);
        let inner = Arc::new(Inner {
            state: Mutex::new(State {
                engine: Coordinator::recovering(config.engine.clone()),
                waiters: HashMap::new(),
                adopted: HashMap::new(),
                send_generation: HashMap::new(),
                next_generation: 0,
                phases: HashMap::new(),
                shut_down: false,
            }),
            sends: Arc::new(Semaphore::new(config.max_in_flight_sends)),
            config,
            log,
            writer,
            sink,
            lazy,
            timer,
            stop,
            recovered,
            fenced: AtomicBool::new(false),
            store_available: AtomicBool::new(true),
            store_probe_running: AtomicBool::new(false),
            random: AtomicU64::new(seed()),
            counters: Counters::default(),
        });
        tokio::spawn(run_timer(Arc::downgrade(&inner), timer_rx, stop_rx.clone()));
        tokio::spawn(run_lazy(Arc::downgrade(&inner), lazy_rx, stop_rx.clone()));
        tokio::spawn(run_recovery(Arc::clone(&inner), stop_rx));
        Ok(Self { inner })
    }

    /// This instance's id (the owner stamped on its log rows).
    pub fn instance(&self) -> &InstanceId {
        self.inner.log.instance()
    }

    /// The fencing token this instance writes with.
    pub fn token(&self) -> FencingToken {
        self.inner.log.token()
    }

    /// Whether the log has been loaded (unknown transactions are answered
    /// by presumed abort from then on).
    pub fn is_recovered(&self) -> bool {
        *self.inner.recovered.borrow()
    }

    /// Waits until the log has been loaded; [`DriverError::Fenced`] if the
    /// instance turned out to be fenced, `ShutDown` if the service stopped
    /// first.
    pub async fn recovered(&self) -> Result<(), DriverError> {
        let mut recovered = self.inner.recovered.subscribe();
        let mut stop = self.inner.stop.subscribe();
        loop {
            if *recovered.borrow_and_update() {
                return Ok(());
            }
            if self.inner.fenced.load(Ordering::Relaxed) {
                return Err(DriverError::Fenced(
                    "another instance claimed this instance's records".to_owned(),
                ));
            }
            if *stop.borrow_and_update() {
                return Err(DriverError::ShutDown);
            }
            tokio::select! {
                _ = recovered.changed() => {}
                _ = stop.changed() => {}
            }
        }
    }

    /// Activation: a new transaction with a fresh `urn:uuid:` id, rolled
    /// back unless decided within `expires` (the configured default when
    /// `None`, cut to the configured maximum).
    ///
    /// CannotCreateContext while the store is down, before the log is
    /// loaded, at capacity, once fenced or after shutdown.
    pub fn create(&self, expires: Option<Duration>) -> Result<TxId, DriverError> {
        self.create_with(expires, false)
    }

    fn create_with(
        &self,
        expires: Option<Duration>,
        subordinate: bool,
    ) -> Result<TxId, DriverError> {
        let refuse = |reason: &str| DriverError::CannotCreateContext {
            reason: reason.to_owned(),
        };
        if self.inner.fenced.load(Ordering::Relaxed) {
            return Err(refuse("this coordinator instance has been fenced off"));
        }
        if !self.is_recovered() {
            return Err(refuse("the coordinator is still loading its log"));
        }
        if !self.inner.store_available.load(Ordering::Relaxed) {
            return Err(refuse("the coordinator log is unavailable"));
        }
        if expires.is_some_and(|e| e.is_zero()) {
            return Err(DriverError::InvalidParameters {
                reason: "Expires is zero".to_owned(),
            });
        }
        let tx = new_tx_id()?;
        let expires = expires
            .or(self.inner.config.default_expires)
            .map(|e| e.min(self.inner.config.max_expires));
        let at = now();
        self.inner.with_engine(|state| {
            if state.shut_down {
                return Err(DriverError::ShutDown);
            }
            let expires = expires.map(|e| at + e);
            let created = if subordinate {
                state
                    .engine
                    .handle_create_subordinate(tx.clone(), expires, at)
            } else {
                state.engine.handle_create(tx.clone(), expires, at)
            };
            created.map_err(|fault| {
                DriverError::from_fault(fault, &tx, "the coordinator is at capacity")
            })
        })?;
        Ok(tx)
    }

    /// Registration of `endpoint` for `protocol` in `tx`: the participant's
    /// number (to carry in the reference parameters of the coordinator
    /// protocol EPR answered in RegisterResponse).
    ///
    /// CannotRegisterParticipant for an unknown transaction, a Completion
    /// registration after the first or after completion began, a 2PC
    /// registration after the first durable Prepare, or too many
    /// participants; InvalidParameters for an endpoint without address or
    /// over the size bound.
    pub fn register(
        &self,
        tx: &TxId,
        protocol: Protocol,
        endpoint: EndpointRef,
    ) -> Result<ParticipantId, DriverError> {
        let at = now();
        self.inner.with_engine(|state| {
            if state.shut_down {
                return Err(DriverError::ShutDown);
            }
            let known = state.engine.phase(tx).is_some();
            state
                .engine
                .handle_register(tx, protocol, endpoint, at)
                .map_err(|fault| {
                    let reason = if known {
                        "registration refused in the transaction's current state"
                    } else {
                        "unknown transaction"
                    };
                    if fault == Fault::InvalidParameters {
                        DriverError::from_fault(
                            fault,
                            tx,
                            "endpoint reference without address or too large",
                        )
                    } else {
                        DriverError::from_fault(fault, tx, reason)
                    }
                })
        })
    }

    /// An inbound Completion or 2PC message from registration `from` of
    /// `tx`, received at the protocol endpoint of `protocol` (the 2004/10
    /// `Replay` is passed as [`Inbound::Prepared`]; a received
    /// `wsat:InconsistentInternalState` fault as
    /// [`Inbound::InconsistentInternalState`]).
    ///
    /// Same as [`Self::deliver_from`] with no `reply_to`.
    pub fn deliver(
        &self,
        tx: &TxId,
        from: ParticipantId,
        protocol: Protocol,
        message: Inbound,
    ) -> Result<Delivered, DriverError> {
        self.deliver_from(tx, from, protocol, message, None)
    }

    /// [`Self::deliver`] with where to answer when the coordinator does not
    /// know the sender (its `wsa:ReplyTo`, or `wsa:From`; `None` when
    /// anonymous or absent): presumed-abort answers and faults for unknown
    /// transactions or forged registrations go there.
    ///
    /// [`DriverError::Recovering`] for an unknown transaction before the
    /// log is loaded (the sender retries; answer HTTP 503 or drop it).
    pub fn deliver_from(
        &self,
        tx: &TxId,
        from: ParticipantId,
        protocol: Protocol,
        message: Inbound,
        reply_to: Option<EndpointRef>,
    ) -> Result<Delivered, DriverError> {
        let at = now();
        self.inner.with_engine(|state| {
            if state.shut_down {
                return Err(DriverError::ShutDown);
            }
            let known = state.engine.phase(tx).is_some();
            if !known && !state.engine.is_loaded() {
                return Err(DriverError::Recovering);
            }
            if known && protocol == Protocol::Completion && message == Inbound::Commit {
                state.phases.entry(tx.clone()).or_insert(PhaseMarks {
                    commit_requested: at,
                    decided: None,
                });
            }
            state
                .engine
                .handle_message(tx, from, protocol, reply_to, message, at);
            Ok(if known {
                Delivered::Handled
            } else {
                Delivered::UnknownTransaction
            })
        })
    }

    /// Activation with a `CurrentContext` (interposition): a new
    /// subordinate transaction, like [`Self::create`]. The caller then
    /// registers it with the superior for Durable2PC and hands the
    /// superior's answer to [`Self::superior_registered`], or gives it up
    /// with [`Self::abandon`] when that registration failed.
    pub fn create_subordinate(&self, expires: Option<Duration>) -> Result<TxId, DriverError> {
        self.create_with(expires, true)
    }

    /// The superior accepted the subordinate `tx`'s registration: its
    /// coordinator protocol endpoint (where Prepared, ReadOnly, Committed
    /// and Aborted go). InvalidState when `tx` is not a subordinate
    /// transaction waiting for it (expired meanwhile, say).
    pub fn superior_registered(&self, tx: &TxId, superior: EndpointRef) -> Result<(), DriverError> {
        self.inner.with_engine(|state| {
            if state.engine.handle_superior_registered(tx, superior) {
                Ok(())
            } else {
                Err(DriverError::from_fault(
                    Fault::InvalidState,
                    tx,
                    "not a subordinate transaction waiting for its superior",
                ))
            }
        })
    }

    /// Gives up a subordinate transaction whose registration with its
    /// superior failed: it is rolled back (its superior is not told, as it
    /// never knew it).
    pub fn abandon(&self, tx: &TxId) {
        let at = now();
        self.inner.with_engine(|state| {
            state.engine.handle_subordinate_abandoned(tx, at);
        });
    }

    /// A message from the superior coordinator to the subordinate
    /// transaction `tx` (received at the subordinate's participant
    /// endpoint); `reply_to` is the superior's `wsa:ReplyTo`, where answers
    /// about a transaction this coordinator does not hold go.
    ///
    /// [`DriverError::Recovering`] for an unknown transaction before the
    /// log is loaded (the superior resends).
    pub fn deliver_from_superior(
        &self,
        tx: &TxId,
        message: FromSuperior,
        reply_to: Option<EndpointRef>,
    ) -> Result<Delivered, DriverError> {
        let at = now();
        self.inner.with_engine(|state| {
            if state.shut_down {
                return Err(DriverError::ShutDown);
            }
            let known = state.engine.phase(tx).is_some();
            if !known && !state.engine.is_loaded() {
                return Err(DriverError::Recovering);
            }
            state
                .engine
                .handle_superior_message(tx, message, reply_to, at);
            Ok(if known {
                Delivered::Handled
            } else {
                Delivered::UnknownTransaction
            })
        })
    }

    /// Waits for `tx`'s outcome (Committed once the decision is durable, or
    /// Aborted), so a Completion initiator's Commit can be answered on the
    /// same exchange. UnknownTransaction if the coordinator does not hold
    /// it (or forgets it before deciding).
    pub async fn outcome(&self, tx: &TxId) -> Result<Outcome, DriverError> {
        let wait = self
            .inner
            .with_engine(|state| match state.engine.phase(tx).map(decided) {
                None => Err(DriverError::UnknownTransaction(tx.clone())),
                Some(Some(outcome)) => Ok(Err(outcome)),
                Some(None) => {
                    let (send, wait) = oneshot::channel();
                    state.waiters.entry(tx.clone()).or_default().push(send);
                    Ok(Ok(wait))
                }
            })?;
        match wait {
            Err(outcome) => Ok(outcome),
            Ok(wait) => wait.await.map_err(|_| DriverError::ShutDown)?,
        }
    }

    /// The transactions held, filtered, with the heuristic outcomes from
    /// the log.
    pub async fn snapshot(&self, filter: StateFilter) -> Snapshot {
        let mut snapshot = self.inner.snapshot(filter);
        snapshot.heuristics = self.heuristics().await.ok();
        snapshot.takeovers = super::takeover::takeover_summaries(&*self.inner.log).await;
        snapshot
    }

    /// One transaction, if held.
    pub fn transaction(&self, tx: &TxId) -> Option<TransactionSummary> {
        let at = now();
        let state = self.inner.lock();
        let owner = state.adopted.get(tx).map_or_else(
            || self.inner.log.instance().0.clone(),
            |l| l.instance().0.clone(),
        );
        let view = state.engine.view(tx)?;
        Some(admin::summarize(
            tx,
            &view,
            expires_in_ms(&view, at),
            &owner,
        ))
    }

    /// The open heuristic outcomes kept in this instance's log.
    pub async fn heuristics(&self) -> Result<Vec<HeuristicSummary>, DriverError> {
        let records = self.inner.log.heuristics().await?;
        Ok(records.iter().map(HeuristicSummary::from).collect())
    }

    /// Every heuristic outcome kept in this instance's log, the resolved
    /// ones with their resolution.
    pub async fn heuristic_history(&self) -> Result<Vec<HeuristicSummary>, DriverError> {
        let entries = self.inner.log.heuristic_history().await?;
        Ok(entries.iter().map(HeuristicSummary::from).collect())
    }

    /// Marks `tx`'s open heuristic outcomes resolved by an operator (see
    /// [`CoordinatorLog::resolve_heuristic`]).
    pub async fn resolve_heuristic(
        &self,
        tx: &TxId,
        resolution: &Resolution,
    ) -> Result<ResolveOutcome, DriverError> {
        Ok(self.inner.log.resolve_heuristic(tx, resolution).await?)
    }

    /// The driver's counters now.
    pub fn metrics(&self) -> DriverMetrics {
        self.inner.metrics()
    }

    /// Takes over the transactions of the dead instance `instance` with
    /// `token` (granted by a [`TakeoverAuthority`]): raises that instance's
    /// fence, loads its unfinished decisions and finishes them like this
    /// instance's own (Commit resent until acknowledged, then forgotten in
    /// that instance's records). Returns how many transactions were taken
    /// over.
    pub async fn take_over(
        &self,
        instance: &InstanceId,
        token: FencingToken,
    ) -> Result<usize, DriverError> {
        if instance == self.inner.log.instance() {
            return Err(DriverError::TakeoverRefused(
                "an instance cannot take itself over".to_owned(),
            ));
        }
        let adopted = self.inner.log.adopt(instance, token).await?;
        let records = adopted.load_unfinished().await?;
        let count = records.len();
        super::takeover::record_takeover(&*self.inner.log, instance, token, &records).await;
        let at = now();
        self.inner.with_engine(|state| {
            for record in &records {
                state
                    .adopted
                    .insert(record.tx.clone(), Arc::clone(&adopted));
            }
            state.engine.handle_log_loaded(records, at);
        });
        Ok(count)
    }

    /// Reads this instance's fence in the log: when another instance has
    /// raised it above this instance's token (a takeover), the service
    /// becomes fenced, as when a write is refused (see
    /// [`crate::engine::fenced`]). Returns whether it is fenced.
    pub async fn check_fence(&self) -> Result<bool, DriverError> {
        if self.inner.fenced.load(Ordering::Relaxed) {
            return Ok(true);
        }
        let fence = self.inner.log.fence().await?;
        let token = self.inner.log.token();
        if fence > token {
            self.inner.store_result(&Err(LogError::Fenced {
                instance: self.inner.log.instance().0.clone(),
                presented: token.0,
                current: fence.0,
            }));
        }
        Ok(self.inner.fenced.load(Ordering::Relaxed))
    }

    /// Asks `authority` for a token and takes `instance` over with it.
    pub async fn take_over_with(
        &self,
        authority: &dyn TakeoverAuthority,
        instance: &InstanceId,
    ) -> Result<usize, DriverError> {
        let token = authority
            .may_take_over(instance)
            .map_err(|refused| DriverError::TakeoverRefused(refused.reason))?;
        self.take_over(instance, token).await
    }

    /// Stops the service: API calls fail with ShutDown from now on, timers
    /// and retries stop, waiting [`Self::outcome`] callers get ShutDown,
    /// and queued lazy log updates get one last attempt. Decisions already
    /// forced stay in the log and are resent by the next start.
    pub async fn shutdown(&self) {
        let waiters = {
            let mut state = self.inner.lock();
            state.shut_down = true;
            std::mem::take(&mut state.waiters)
        };
        drop(waiters);
        // The timer, retries and the store probe stop; the lazy writer
        // gives what is queued one last attempt.
        self.inner.stop.send_replace(true);
        tokio::task::yield_now().await;
    }
}

/// Returns once the stop signal is raised (or its sender is gone).
async fn until_stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

/// The outcome a phase has decided, if any.
fn decided(phase: Phase) -> Option<Outcome> {
    match phase {
        Phase::Committing | Phase::Committed => Some(Outcome::Committed),
        Phase::Aborted => Some(Outcome::Aborted),
        _ => None,
    }
}

fn expires_in_ms(view: &crate::engine::TransactionView, at: Instant) -> Option<u64> {
    let undecided = matches!(
        view.phase,
        Phase::Active | Phase::PreparingVolatile | Phase::PreparingDurable
    );
    let expires = view.expires.filter(|_| undecided)?;
    Some(u64::try_from(expires.saturating_duration_since(at).as_millis()).unwrap_or(u64::MAX))
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic inside an engine call would be a bug; the state it left
        // is still the best there is, so a poisoned lock is used as is.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the engine, then carries out the commands it produced
    /// (after releasing the lock).
    fn with_engine<R>(self: &Arc<Self>, f: impl FnOnce(&mut State) -> R) -> R {
        let (result, actions, resolved) = {
            let mut state = self.lock();
            let result = f(&mut state);
            let actions = self.drain(&mut state);
            let resolved = resolve_waiters(&mut state);
            metrics::gauge!(names::ACTIVE).set(state.engine.transaction_count() as f64);
            let stats = state.engine.stats();
            let log_stats = self.writer.stats();
            self.counters.report_totals(
                stats.commits,
                stats.aborts,
                log_stats.flushes,
                log_stats.decisions,
            );
            (result, actions, resolved)
        };
        for (waiter, outcome) in resolved {
            let _ = waiter.send(outcome);
        }
        for action in actions {
            self.carry_out(action);
        }
        result
    }

    /// Turns the engine's queued commands into actions.
    fn drain(&self, state: &mut State) -> Vec<Action> {
        let mut actions = Vec::new();
        let at = now();
        while let Some(command) = state.engine.poll_command() {
            observe_phases(state, &command, at);
            let owner = |state: &State, tx: &TxId| {
                state
                    .adopted
                    .get(tx)
                    .map_or_else(|| Arc::clone(&self.log), Arc::clone)
            };
            let action = match command {
                Command::Send {
                    tx,
                    to,
                    endpoint,
                    message,
                } => {
                    let protocol = state
                        .engine
                        .view(&tx)
                        .and_then(|v| v.participants.into_iter().find(|p| p.id == to))
                        .map(|p| p.protocol);
                    Action::Send {
                        to: endpoint,
                        notification: Notification {
                            tx,
                            participant: Some(to),
                            protocol,
                            message: match message {
                                Outbound::Prepare => Message::Prepare,
                                Outbound::Commit => Message::Commit,
                                Outbound::Rollback => Message::Rollback,
                                Outbound::Committed => Message::Committed,
                                Outbound::Aborted => Message::Aborted,
                            },
                            attempt: 1,
                        },
                    }
                }
                Command::Reply {
                    tx,
                    to,
                    endpoint,
                    outcome,
                } => Action::Send {
                    to: endpoint,
                    notification: Notification {
                        tx,
                        participant: Some(to),
                        protocol: Some(Protocol::Completion),
                        message: match outcome {
                            Outcome::Committed => Message::Committed,
                            Outcome::Aborted => Message::Aborted,
                        },
                        attempt: 1,
                    },
                },
                Command::Fault {
                    tx,
                    to,
                    endpoint,
                    fault,
                } => {
                    let protocol = to.and_then(|id| {
                        state
                            .engine
                            .view(&tx)
                            .and_then(|v| v.participants.into_iter().find(|p| p.id == id))
                            .map(|p| p.protocol)
                    });
                    Action::Send {
                        to: endpoint,
                        notification: Notification {
                            tx,
                            participant: to,
                            protocol,
                            message: Message::Fault(fault),
                            attempt: 1,
                        },
                    }
                }
                Command::NotifySuperior {
                    tx,
                    endpoint,
                    message,
                } => Action::Send {
                    to: endpoint,
                    notification: Notification {
                        tx,
                        participant: Some(ParticipantId::SUPERIOR),
                        protocol: Some(Protocol::Durable2Pc),
                        message: match message {
                            ToSuperior::Prepared => Message::Prepared,
                            ToSuperior::ReadOnly => Message::ReadOnly,
                            ToSuperior::Replay => Message::Replay,
                            ToSuperior::Committed => Message::Committed,
                            ToSuperior::Aborted => Message::Aborted,
                            ToSuperior::InconsistentInternalState => {
                                Message::Fault(Fault::InconsistentInternalState)
                            }
                        },
                        attempt: 1,
                    },
                },
                Command::ForceLog(record) => Action::ForceLog(record),
                Command::ParticipantDone { tx, participant } => {
                    Action::Lazy(LazyOp::Done(owner(state, &tx), tx, participant))
                }
                Command::ForgetLog(tx) => {
                    let log = owner(state, &tx);
                    state.adopted.remove(&tx);
                    Action::Lazy(LazyOp::Forget(log, tx))
                }
                Command::LogHeuristic(record) => {
                    Action::Heuristic(owner(state, &record.tx), record)
                }
                Command::ReadDecision(tx) => Action::ReadDecision(owner(state, &tx), tx),
                Command::SetTimer(at) => {
                    // Under the lock, so deadlines reach the timer task in
                    // the order the engine set them.
                    self.timer.send_replace(Some(at));
                    continue;
                }
            };
            if let Action::Send { notification, .. } = &action {
                state.next_generation += 1;
                let generation = state.next_generation;
                state.send_generation.insert(
                    (notification.tx.clone(), notification.participant),
                    generation,
                );
            }
            actions.push(action);
        }
        // Marks of transactions the engine dropped without a completion
        // outcome (expired, taken over) go too.
        if state.phases.len() > state.engine.transaction_count() + 1024 {
            let engine = &state.engine;
            state.phases.retain(|tx, _| engine.phase(tx).is_some());
        }
        actions
    }

    fn carry_out(self: &Arc<Self>, action: Action) {
        match action {
            Action::Send { to, notification } => {
                let generation = self
                    .lock()
                    .send_generation
                    .get(&(notification.tx.clone(), notification.participant))
                    .copied()
                    .unwrap_or(0);
                tokio::spawn(send_with_retries(
                    Arc::clone(self),
                    to,
                    notification,
                    generation,
                ));
            }
            Action::ForceLog(record) => {
                tokio::spawn(force_decision(Arc::clone(self), record));
            }
            Action::Lazy(op) => {
                if matches!(op, LazyOp::Forget(..)) {
                    // Every participant answered; the record is still logged.
                    crate::failpoint::hit(crate::failpoint::COORDINATOR_AFTER_LAST_COMMITTED);
                }
                if let Err(mpsc::error::TrySendError::Full(op)) = self.lazy.try_send(op) {
                    // Never block the caller: queue from a task.
                    let lazy = self.lazy.clone();
                    tokio::spawn(async move {
                        let _ = lazy.send(op).await;
                    });
                }
            }
            Action::Heuristic(log, record) => {
                tokio::spawn(record_heuristic(Arc::clone(self), log, record));
            }
            Action::ReadDecision(log, tx) => {
                tokio::spawn(read_decision(Arc::clone(self), log, tx));
            }
        }
    }

    fn jitter(&self) -> u64 {
        // xorshift64*: cheap, and good enough to spread retries.
        let mut x = self.random.load(Ordering::Relaxed);
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.random.store(x, Ordering::Relaxed);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn stopped(&self) -> bool {
        *self.stop.borrow()
    }

    /// Notes a log result: the store is available again after a success;
    /// after a failure it is marked down and probed until it answers.
    fn store_result(self: &Arc<Self>, result: &Result<(), LogError>) {
        match result {
            Ok(()) => self.store_available.store(true, Ordering::Relaxed),
            Err(error) if error.is_fenced() => {
                if !self.fenced.swap(true, Ordering::Relaxed) {
                    tracing::error!(
                        instance = %self.log.instance(),
                        "coordinator fenced off by a takeover: {error}"
                    );
                    // No decision is written from now on; undecided
                    // transactions roll back (engine::fenced).
                    self.with_engine(|state| state.engine.handle_fenced(now()));
                }
            }
            Err(error) => {
                tracing::warn!("coordinator log unavailable: {error}");
                self.store_available.store(false, Ordering::Relaxed);
                if !self.store_probe_running.swap(true, Ordering::Relaxed) {
                    tokio::spawn(probe_store(Arc::clone(self)));
                }
            }
        }
    }

    fn snapshot(&self, filter: StateFilter) -> Snapshot {
        let at = now();
        let state = self.lock();
        let mut transactions = Vec::new();
        let mut in_doubt = 0;
        for tx in state.engine.transaction_ids() {
            let Some(view) = state.engine.view(tx) else {
                continue;
            };
            let owner = state
                .adopted
                .get(tx)
                .map_or_else(|| self.log.instance().0.clone(), |l| l.instance().0.clone());
            let summary = admin::summarize(tx, &view, expires_in_ms(&view, at), &owner);
            if summary.in_doubt {
                in_doubt += 1;
            }
            if filter.matches(&summary) {
                transactions.push(summary);
            }
        }
        transactions.sort_by(|a, b| a.id.cmp(&b.id));
        Snapshot {
            instance: self.log.instance().0.clone(),
            recovered: state.engine.is_loaded(),
            fenced: self.fenced.load(Ordering::Relaxed),
            transactions,
            total: state.engine.transaction_count(),
            in_doubt,
            heuristics: None,
            takeovers: Vec::new(),
        }
    }

    fn in_doubt_count(&self) -> usize {
        let state = self.lock();
        state
            .engine
            .transaction_ids()
            .filter_map(|tx| state.engine.view(tx))
            .filter(admin::in_doubt)
            .count()
    }

    fn metrics(&self) -> DriverMetrics {
        let (stats, transactions) = {
            let state = self.lock();
            (state.engine.stats(), state.engine.transaction_count())
        };
        let in_doubt = self.in_doubt_count();
        let log_stats = self.writer.stats();
        self.counters.report_totals(
            stats.commits,
            stats.aborts,
            log_stats.flushes,
            log_stats.decisions,
        );
        metrics::gauge!(names::IN_DOUBT).set(in_doubt as f64);
        DriverMetrics {
            commits: stats.commits,
            aborts: stats.aborts,
            transactions: transactions as u64,
            in_doubt: in_doubt as u64,
            decision_write_latency: self.counters.histogram(),
            decision_write_failures: self
                .counters
                .decision_write_failures
                .load(Ordering::Relaxed),
            flushes: log_stats.flushes,
            decisions_logged: log_stats.decisions,
            decisions_per_flush: if log_stats.flushes == 0 {
                0.0
            } else {
                log_stats.decisions as f64 / log_stats.flushes as f64
            },
            sends: self.counters.sends.load(Ordering::Relaxed),
            send_failures: self.counters.send_failures.load(Ordering::Relaxed),
            recovered: *self.recovered.borrow(),
            store_available: self.store_available.load(Ordering::Relaxed),
            fenced: self.fenced.load(Ordering::Relaxed),
        }
    }
}

/// Waiters whose transaction has been decided or forgotten.
fn resolve_waiters(state: &mut State) -> Vec<(Waiter, Result<Outcome, DriverError>)> {
    if state.waiters.is_empty() {
        return Vec::new();
    }
    let mut resolved = Vec::new();
    let engine = &state.engine;
    state.waiters.retain(|tx, waiters| {
        let outcome = match engine.phase(tx) {
            None => Err(DriverError::UnknownTransaction(tx.clone())),
            Some(phase) => match decided(phase) {
                Some(outcome) => Ok(outcome),
                None => return true,
            },
        };
        for waiter in waiters.drain(..) {
            let outcome = match &outcome {
                Ok(o) => Ok(*o),
                Err(_) => Err(DriverError::UnknownTransaction(tx.clone())),
            };
            resolved.push((waiter, outcome));
        }
        false
    });
    resolved
}

/// One send, retried with capped, jittered exponential backoff while the
/// peer is unreachable, up to the policy's attempts; it gives up early when
/// a newer send to the same registration started or the service stopped.
async fn send_with_retries(
    inner: Arc<Inner>,
    to: EndpointRef,
    mut notification: Notification,
    generation: u64,
) {
    let key = (notification.tx.clone(), notification.participant);
    let policy = inner.config.send_retry.clone();
    for attempt in 1..=policy.max_attempts {
        if inner.stopped() {
            break;
        }
        if attempt > 1 {
            let current = inner.lock().send_generation.get(&key).copied();
            if current != Some(generation) {
                return;
            }
        }
        notification.attempt = attempt;
        let result = {
            let Ok(_permit) = inner.sends.acquire().await else {
                return;
            };
            inner.counters.sends.fetch_add(1, Ordering::Relaxed);
            metrics::counter!(names::SENDS).increment(1);
            inner.sink.send(&to, notification.clone()).await
        };
        match result {
            Ok(()) => {
                if notification.message == Message::Commit
                    && notification.protocol == Some(Protocol::Durable2Pc)
                {
                    // One durable participant has its Commit; others may not.
                    crate::failpoint::hit(crate::failpoint::COORDINATOR_MID_COMMIT_FANOUT);
                }
                break;
            }
            Err(error) => {
                inner.counters.send_failures.fetch_add(1, Ordering::Relaxed);
                metrics::counter!(names::SEND_FAILURES).increment(1);
                tracing::debug!(
                    tx = %notification.tx,
                    to = %to.address,
                    attempt,
                    "send failed: {error}"
                );
                if !error.is_retryable() || attempt == policy.max_attempts {
                    break;
                }
                let wait = policy.jittered(attempt, inner.jitter());
                let mut stop = inner.stop.subscribe();
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = until_stopped(&mut stop) => return,
                }
            }
        }
    }
    let mut state = inner.lock();
    if state.send_generation.get(&key) == Some(&generation) {
        state.send_generation.remove(&key);
    }
}

/// Forces one decision through group commit and reports it to the engine;
/// a failure holds the decision back (the engine retries it on its timer).
async fn force_decision(inner: Arc<Inner>, record: DecisionRecord) {
    let tx = record.tx.clone();
    let subordinate = record.superior().is_some();
    let started = Instant::now();
    let result = inner.writer.append(record).await;
    match &result {
        Ok(()) => inner.counters.observe_decision_write(started.elapsed()),
        Err(error) => {
            inner
                .counters
                .decision_write_failures
                .fetch_add(1, Ordering::Relaxed);
            metrics::counter!(names::DECISION_WRITE_FAILURES).increment(1);
            tracing::warn!(%tx, "decision write failed, held back: {error}");
        }
    }
    inner.store_result(&result);
    let durable = result.is_ok();
    if durable {
        if subordinate {
            // The prepared record is in the log; Prepared is not sent.
            crate::failpoint::hit(crate::failpoint::SUBORDINATE_AFTER_PREPARED_WRITE);
        } else {
            // The decision is in the log; no Commit has gone out yet.
            crate::failpoint::hit(crate::failpoint::COORDINATOR_AFTER_DECISION_WRITE);
        }
    }
    let at = now();
    inner.with_engine(|state| {
        if durable && let Some(marks) = state.phases.get_mut(&tx) {
            marks.decided = Some(at);
        }
        if result.as_ref().is_err_and(LogError::is_fenced) {
            // Refused by the fence: the record did not land.
            state.engine.handle_log_refused(&tx, at);
        } else {
            state.engine.handle_log_written(&tx, durable, at);
        }
    });
}

/// Reads whether the log holds `tx`'s record and tells the engine (a
/// fenced instance's answer, see [`crate::engine::fenced`]); a failed read
/// answers nobody.
async fn read_decision(inner: Arc<Inner>, log: Arc<dyn CoordinatorLog>, tx: TxId) {
    let record = match log.has_record(&tx).await {
        Ok(found) => Some(found),
        Err(error) => {
            tracing::warn!(%tx, "fenced: cannot read the log for the outcome: {error}");
            None
        }
    };
    inner.with_engine(|state| state.engine.handle_decision_read(&tx, record, now()));
}

/// Records the phase a command ends (see [`names::PHASE_SECONDS`]) and
/// drops the marks of a transaction whose completion is over.
fn observe_phases(state: &mut State, command: &Command, at: Instant) {
    let observe = |phase: &'static str, since: Instant| {
        metrics::histogram!(names::PHASE_SECONDS, "phase" => phase)
            .record(at.saturating_duration_since(since).as_secs_f64());
    };
    match command {
        Command::ForceLog(decision) => {
            if let Some(marks) = state.phases.get(&decision.tx) {
                observe(phase::VOTING, marks.commit_requested);
            }
        }
        Command::Reply { tx, outcome, .. } => {
            if let Some(marks) = state.phases.get(tx).copied() {
                observe(phase::OUTCOME, marks.commit_requested);
                // Nothing logged (aborted, or no durable participant
                // prepared): no commit fan-out to wait for.
                if *outcome == Outcome::Aborted || marks.decided.is_none() {
                    state.phases.remove(tx);
                }
            }
        }
        Command::ForgetLog(tx) => {
            if let Some(PhaseMarks {
                decided: Some(decided),
                ..
            }) = state.phases.remove(tx)
            {
                observe(phase::COMMIT_FANOUT, decided);
            }
        }
        _ => {}
    }
}

async fn record_heuristic(
    inner: Arc<Inner>,
    log: Arc<dyn CoordinatorLog>,
    record: crate::record::HeuristicRecord,
) {
    let policy = inner.config.store_retry.clone();
    for attempt in 1..=policy.max_attempts {
        let result = log.record_heuristic(&record).await;
        inner.store_result(&result);
        match result {
            Ok(()) => return,
            Err(error) if error.is_fenced() => return,
            Err(error) => {
                tracing::warn!(tx = %record.tx, "heuristic not yet recorded: {error}");
                let wait = policy.jittered(attempt, inner.jitter());
                let mut stop = inner.stop.subscribe();
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = until_stopped(&mut stop) => return,
                }
            }
        }
    }
}

/// While the store is marked down, probe it with a read until it answers,
/// so activation resumes by itself even with no decision to retry.
async fn probe_store(inner: Arc<Inner>) {
    let policy = inner.config.store_retry.clone();
    let mut attempt = 0;
    while !inner.store_available.load(Ordering::Relaxed) && !inner.stopped() {
        attempt += 1;
        let wait = policy.jittered(attempt, inner.jitter());
        tokio::time::sleep(wait).await;
        if inner.log.ping().await.is_ok() {
            inner.store_available.store(true, Ordering::Relaxed);
        }
    }
    inner.store_probe_running.store(false, Ordering::Relaxed);
}

/// Claims the instance's records and loads its decisions, retrying while
/// the store is down; a fenced claim stops the service's activation for
/// good.
async fn run_recovery(inner: Arc<Inner>, mut stop: watch::Receiver<bool>) {
    let policy = inner.config.store_retry.clone();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let loaded = async {
            inner.log.claim().await?;
            inner.log.load_unfinished().await
        }
        .await;
        match loaded {
            Ok(records) => {
                let count = records.len();
                let at = now();
                inner.with_engine(|state| state.engine.handle_log_loaded(records, at));
                inner.store_available.store(true, Ordering::Relaxed);
                inner.recovered.send_replace(true);
                tracing::info!(
                    instance = %inner.log.instance(),
                    decisions = count,
                    "coordinator log loaded"
                );
                return;
            }
            Err(error) if error.is_fenced() => {
                inner.store_result(&Err(error));
                // Wake `recovered()` callers so they see the fence.
                inner.recovered.send_modify(|_| {});
                return;
            }
            Err(error) => {
                tracing::warn!("coordinator log not loaded yet: {error}");
                inner.store_available.store(false, Ordering::Relaxed);
                let wait = policy.jittered(attempt, inner.jitter());
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = until_stopped(&mut stop) => return,
                }
            }
        }
    }
}

/// Drives the engine's timer: sleeps until the deadline of the last
/// `SetTimer`, then calls `handle_timeout`.
async fn run_timer(
    inner: std::sync::Weak<Inner>,
    mut timer: watch::Receiver<Option<Instant>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut last_count = None;
    loop {
        let deadline = *timer.borrow_and_update();
        let sleep = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = sleep => {
                let Some(inner) = inner.upgrade() else { return };
                // Clear the deadline unless a newer one arrived meanwhile.
                timer.borrow_and_update();
                inner.timer.send_if_modified(|at| {
                    if *at == deadline {
                        *at = None;
                    }
                    false
                });
                let at = now();
                inner.with_engine(|state| state.engine.handle_timeout(at));
                // Counting is O(transactions): at most once a second.
                if last_count.is_none_or(|last: Instant| last.elapsed() >= Duration::from_secs(1)) {
                    last_count = Some(Instant::now());
                    metrics::gauge!(names::IN_DOUBT).set(inner.in_doubt_count() as f64);
                }
            }
            changed = timer.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            () = until_stopped(&mut stop) => return,
        }
    }
}

/// Applies lazy log updates in the background, in batches (one
/// [`CoordinatorLog::apply_lazy`] per log handle), retrying failed ones
/// with backoff (a lost update only costs a repeated Commit after a
/// restart, so none is forced).
async fn run_lazy(
    inner: std::sync::Weak<Inner>,
    mut queue: mpsc::Receiver<LazyOp>,
    mut stop: watch::Receiver<bool>,
) {
    /// The most updates written in one batch.
    const MAX_BATCH: usize = 1024;
    let mut pending: Vec<LazyOp> = Vec::new();
    let mut attempt = 0u32;
    loop {
        if pending.is_empty() {
            tokio::select! {
                op = queue.recv() => match op {
                    Some(op) => pending.push(op),
                    None => return,
                },
                () = until_stopped(&mut stop) => {
                    queue.close();
                    while let Ok(op) = queue.try_recv() {
                        pending.push(op);
                    }
                    drop_superseded(&mut pending);
                    let _ = apply_lazy_batch(pending).await;
                    return;
                }
            }
            let delay = inner
                .upgrade()
                .map_or(Duration::ZERO, |service| service.config.lazy_delay);
            if !delay.is_zero() {
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = until_stopped(&mut stop) => {}
                }
            }
        }
        while pending.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(op) => pending.push(op),
                Err(_) => break,
            }
        }
        let Some(service) = inner.upgrade() else {
            return;
        };
        drop_superseded(&mut pending);
        let (failed, errors) = apply_lazy_batch(std::mem::take(&mut pending)).await;
        pending = failed;
        let mut last_error = None;
        for error in errors {
            if error.is_fenced() {
                service.store_result(&Err(error));
            } else {
                last_error = Some(error);
            }
        }
        match last_error {
            None => {
                attempt = 0;
                service.store_result(&Ok(()));
            }
            Some(error) => {
                service.store_result(&Err(error));
                attempt = attempt.saturating_add(1);
                let wait = service
                    .config
                    .store_retry
                    .jittered(attempt, service.jitter());
                drop(service);
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = until_stopped(&mut stop) => return,
                }
            }
        }
    }
}

/// Drops the participant-done updates of transactions whose record the
/// same batch forgets: the forget removes their rows with it, so under
/// load a committed transaction costs one lazy write instead of one per
/// participant plus one.
fn drop_superseded(pending: &mut Vec<LazyOp>) {
    let forgotten: std::collections::HashSet<(*const (), &TxId)> = pending
        .iter()
        .filter_map(|op| match op {
            LazyOp::Forget(log, tx) => Some((Arc::as_ptr(log).cast::<()>(), tx)),
            LazyOp::Done(..) => None,
        })
        .collect();
    if forgotten.is_empty() {
        return;
    }
    let superseded: Vec<bool> = pending
        .iter()
        .map(|op| match op {
            LazyOp::Done(log, tx, _) => forgotten.contains(&(Arc::as_ptr(log).cast::<()>(), tx)),
            LazyOp::Forget(..) => false,
        })
        .collect();
    let mut superseded = superseded.into_iter();
    pending.retain(|_| !superseded.next().unwrap_or(false));
}

/// The updates of one batch that concern one log handle.
struct LazyGroup {
    log: Arc<dyn CoordinatorLog>,
    done: Vec<(TxId, ParticipantId)>,
    forget: Vec<TxId>,
}

/// Writes `batch` with one [`CoordinatorLog::apply_lazy`] per log handle
/// (the instance's own, and each adopted instance's). Returns the updates
/// of the groups that failed for a reason worth retrying, and every
/// error met (a fenced group's updates are dropped: they will never be
/// accepted).
async fn apply_lazy_batch(batch: Vec<LazyOp>) -> (Vec<LazyOp>, Vec<LogError>) {
    let mut groups: Vec<LazyGroup> = Vec::new();
    for op in batch {
        let log = match &op {
            LazyOp::Done(log, ..) | LazyOp::Forget(log, _) => log,
        };
        let index = match groups.iter().position(|g| Arc::ptr_eq(&g.log, log)) {
            Some(index) => index,
            None => {
                groups.push(LazyGroup {
                    log: Arc::clone(log),
                    done: Vec::new(),
                    forget: Vec::new(),
                });
                groups.len() - 1
            }
        };
        let Some(group) = groups.get_mut(index) else {
            continue;
        };
        match op {
            LazyOp::Done(_, tx, participant) => group.done.push((tx, participant)),
            LazyOp::Forget(_, tx) => group.forget.push(tx),
        }
    }
    let mut failed = Vec::new();
    let mut errors = Vec::new();
    for group in groups {
        match group.log.apply_lazy(&group.done, &group.forget).await {
            Ok(()) => {}
            Err(error) if error.is_fenced() => errors.push(error),
            Err(error) => {
                errors.push(error);
                failed.extend(
                    group
                        .done
                        .into_iter()
                        .map(|(tx, p)| LazyOp::Done(Arc::clone(&group.log), tx, p)),
                );
                failed.extend(
                    group
                        .forget
                        .into_iter()
                        .map(|tx| LazyOp::Forget(Arc::clone(&group.log), tx)),
                );
            }
        }
    }
    (failed, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_ids_are_version_4_uuid_urns() {
        let TxId(id) = new_tx_id().unwrap();
        let uuid = id.strip_prefix("urn:uuid:").unwrap();
        let groups: Vec<&str> = uuid.split('-').collect();
        assert_eq!(
            groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(groups[2].starts_with('4'));
        assert!(matches!(&groups[3][..1], "8" | "9" | "a" | "b"));
        assert_ne!(new_tx_id().unwrap().0, id);
    }

    /// Done updates of a transaction forgotten in the same batch go; the
    /// others, and every forget, stay in order.
    #[tokio::test]
    async fn a_forget_supersedes_the_done_updates_of_its_batch() {
        let dir = tempfile::tempdir().unwrap();
        let log: Arc<dyn CoordinatorLog> = Arc::new(
            crate::log::SqliteLog::open(&dir.path().join("log.sqlite3"), "test")
                .await
                .unwrap(),
        );
        let (a, b) = (TxId("urn:a".into()), TxId("urn:b".into()));
        let mut batch = vec![
            LazyOp::Done(log.clone(), a.clone(), ParticipantId(1)),
            LazyOp::Done(log.clone(), b.clone(), ParticipantId(1)),
            LazyOp::Done(log.clone(), a.clone(), ParticipantId(2)),
            LazyOp::Forget(log.clone(), a.clone()),
        ];
        drop_superseded(&mut batch);
        let kept: Vec<String> = batch
            .iter()
            .map(|op| match op {
                LazyOp::Done(_, tx, p) => format!("done {} {}", tx.0, p.0),
                LazyOp::Forget(_, tx) => format!("forget {}", tx.0),
            })
            .collect();
        assert_eq!(kept, ["done urn:b 1", "forget urn:a"]);
    }
}
