//! Group commit: one writer task collects the decisions that concurrent
//! transactions want forced and writes each batch in one durable
//! transaction, then tells every waiter.
//!
//! With `max_delay` zero (the default) no latency is added: decisions that
//! arrive while a batch is being written form the next batch, so the batch
//! size grows with the load by itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::{CoordinatorLog, LogError, validate};
use crate::record::DecisionRecord;

/// How the writer batches.
#[derive(Debug, Clone)]
pub struct GroupCommitConfig {
    /// At most this many decisions per write.
    pub max_batch: usize,
    /// How long the writer waits for more decisions after the first of a
    /// batch (zero: write what is queued at once).
    pub max_delay: Duration,
    /// At most this many decisions queued; further callers wait.
    pub queue: usize,
}

impl Default for GroupCommitConfig {
    fn default() -> Self {
        Self {
            max_batch: 512,
            max_delay: Duration::ZERO,
            queue: 4096,
        }
    }
}

/// Counters for metrics: decisions per flush is `decisions / flushes`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupCommitStats {
    /// Durable writes made.
    pub flushes: u64,
    /// Decisions written.
    pub decisions: u64,
}

#[derive(Debug, Default)]
struct Counters {
    flushes: AtomicU64,
    decisions: AtomicU64,
}

struct Pending {
    record: DecisionRecord,
    done: oneshot::Sender<Result<(), LogError>>,
}

/// The handle to a group-commit writer task; clone it freely. The task ends
/// when every handle is dropped.
#[derive(Clone)]
pub struct GroupCommit {
    sender: mpsc::Sender<Pending>,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit")
            .field("stats", &self.stats())
            .finish()
    }
}

impl GroupCommit {
    /// Starts the writer task on the current tokio runtime.
    pub fn spawn<L>(log: Arc<L>, config: GroupCommitConfig) -> Self
    where
        L: CoordinatorLog + ?Sized + 'static,
    {
        let (sender, receiver) = mpsc::channel(config.queue.max(1));
        let counters = Arc::new(Counters::default());
        tokio::spawn(run(log, config, receiver, Arc::clone(&counters)));
        Self { sender, counters }
    }

    /// Forces `record` in the next batch; returns once it is durable.
    /// A record the log would refuse fails alone, before it is queued.
    pub async fn append(&self, record: DecisionRecord) -> Result<(), LogError> {
        validate(&record)?;
        let (done, wait) = oneshot::channel();
        self.sender
            .send(Pending { record, done })
            .await
            .map_err(|_| LogError::Batch("the log writer has stopped".to_owned()))?;
        wait.await
            .map_err(|_| LogError::Batch("the log writer has stopped".to_owned()))?
    }

    /// Flushes and decisions so far.
    pub fn stats(&self) -> GroupCommitStats {
        GroupCommitStats {
            flushes: self.counters.flushes.load(Ordering::Relaxed),
            decisions: self.counters.decisions.load(Ordering::Relaxed),
        }
    }
}

async fn run<L: CoordinatorLog + ?Sized>(
    log: Arc<L>,
    config: GroupCommitConfig,
    mut receiver: mpsc::Receiver<Pending>,
    counters: Arc<Counters>,
) {
    let max_batch = config.max_batch.max(1);
    while let Some(first) = receiver.recv().await {
        let mut records = vec![first.record];
        let mut waiters = vec![first.done];
        let deadline = tokio::time::Instant::now() + config.max_delay;
        while records.len() < max_batch {
            let next = match receiver.try_recv() {
                Ok(next) => Some(next),
                Err(mpsc::error::TryRecvError::Empty) if !config.max_delay.is_zero() => {
                    tokio::time::timeout_at(deadline, receiver.recv())
                        .await
                        .ok()
                        .flatten()
                }
                Err(_) => None,
            };
            let Some(next) = next else {
                break;
            };
            records.push(next.record);
            waiters.push(next.done);
        }
        let result = log.append_decisions(&records).await;
        if result.is_ok() {
            counters.flushes.fetch_add(1, Ordering::Relaxed);
            counters
                .decisions
                .fetch_add(records.len() as u64, Ordering::Relaxed);
        }
        for waiter in waiters {
            // A waiter that gave up is no concern of the writer's.
            let _ = waiter.send(match &result {
                Ok(()) => Ok(()),
                Err(error) => Err(error.for_waiter()),
            });
        }
    }
}
