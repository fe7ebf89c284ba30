//! Test support: [`RecordingSink`], an in-memory [`NotificationSink`] that
//! records every send and can be told to fail, so tests script
//! participants without sockets.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

use super::sink::{Message, Notification, NotificationSink, SendError, SendFuture};
use crate::record::{EndpointRef, TxId};

/// One recorded send attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// Where it went.
    pub to: EndpointRef,
    /// What it was.
    pub notification: Notification,
    /// Whether the sink accepted it (false: it answered a failure).
    pub delivered: bool,
}

#[derive(Debug, Default)]
struct Recorded {
    sent: Vec<Sent>,
    /// Addresses that fail with `Unreachable` while listed.
    unreachable: Vec<String>,
    /// Failures still to answer, whatever the address.
    fail_next: VecDeque<SendError>,
}

/// An in-memory sink: records every attempt, answers failures on request.
#[derive(Debug, Default, Clone)]
pub struct RecordingSink {
    recorded: Arc<Mutex<Recorded>>,
    changed: Arc<Notify>,
}

impl RecordingSink {
    /// An empty sink that accepts everything.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Recorded> {
        self.recorded.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends to `address` fail as unreachable until [`Self::reachable`].
    pub fn unreachable(&self, address: &str) {
        self.lock().unreachable.push(address.to_owned());
    }

    /// Sends to `address` succeed again.
    pub fn reachable(&self, address: &str) {
        self.lock().unreachable.retain(|a| a != address);
    }

    /// The next `count` sends fail with `error`.
    pub fn fail_next(&self, count: usize, error: SendError) {
        let mut recorded = self.lock();
        for _ in 0..count {
            recorded.fail_next.push_back(error.clone());
        }
    }

    /// Every attempt so far.
    pub fn sent(&self) -> Vec<Sent> {
        self.lock().sent.clone()
    }

    /// The delivered messages of `tx` to `address`, in order.
    pub fn delivered_to(&self, tx: &TxId, address: &str) -> Vec<Message> {
        self.lock()
            .sent
            .iter()
            .filter(|s| s.delivered && &s.notification.tx == tx && s.to.address == address)
            .map(|s| s.notification.message)
            .collect()
    }

    /// Forgets what was recorded.
    pub fn clear(&self) {
        self.lock().sent.clear();
    }

    /// Waits until `check` holds for the recorded attempts, or `timeout`
    /// passes; returns whether it held. `check` sees a copy, so it may call
    /// the sink's other methods.
    pub async fn wait_for(
        &self,
        timeout: std::time::Duration,
        mut check: impl FnMut(&[Sent]) -> bool,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.changed.notified();
            if check(&self.sent()) {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return check(&self.sent());
            }
        }
    }
}

impl NotificationSink for RecordingSink {
    fn send<'a>(&'a self, to: &'a EndpointRef, notification: Notification) -> SendFuture<'a> {
        Box::pin(async move {
            let result = {
                let mut recorded = self.lock();
                let result = if recorded.unreachable.contains(&to.address) {
                    Err(SendError::Unreachable(format!("{} is down", to.address)))
                } else if let Some(error) = recorded.fail_next.pop_front() {
                    Err(error)
                } else {
                    Ok(())
                };
                recorded.sent.push(Sent {
                    to: to.clone(),
                    notification,
                    delivered: result.is_ok(),
                });
                result
            };
            self.changed.notify_waiters();
            result
        })
    }
}
