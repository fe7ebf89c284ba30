//! The takeover hook: who may finish a dead instance's transactions, and
//! with which fencing token.
//!
//! The contract: [`TakeoverAuthority::may_take_over`] answers a token only
//! once the dead instance can no longer act (in production, the membership
//! service has installed a view without it, after its lease lapsed), and
//! every token it hands out for an instance is strictly higher than any
//! token that instance, or an earlier taker, wrote with. The caller then
//! runs [`super::CoordinatorService::take_over`] with that token: the log
//! raises the dead instance's fence to it, so the dead instance's own
//! writes fail from then on even if it is only paused (a zombie), and the
//! taker loads the dead instance's decisions and finishes them (resends
//! Commit until every participant answered, then forgets them).

use std::collections::HashMap;
use std::sync::Mutex;

use crate::admin::TakeoverSummary;
use crate::log::{CoordinatorLog, FencingToken, InstanceId};
use crate::record::{DecisionRecord, TxId};

/// Why an authority refused a takeover.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("takeover of {instance} refused: {reason}")]
pub struct TakeoverRefused {
    /// The instance asked for.
    pub instance: InstanceId,
    /// Why.
    pub reason: String,
}

/// Decides whether this instance may take over a dead instance's
/// transactions, and with which fencing token (see the module docs for the
/// contract). The membership issue supplies the production authority.
pub trait TakeoverAuthority: Send + Sync {
    /// A token to adopt `dead_instance`'s records with, or why not.
    fn may_take_over(&self, dead_instance: &InstanceId) -> Result<FencingToken, TakeoverRefused>;
}

/// A fixed authority for tests and single-operator deployments: it grants
/// takeovers of the instances it lists, each with a token one above the
/// last it granted for that instance (starting from the configured one).
#[derive(Debug, Default)]
pub struct StaticAuthority {
    next: Mutex<HashMap<InstanceId, u64>>,
}

impl StaticAuthority {
    /// Grants takeovers of `instances`, the first at token `first`.
    pub fn new(instances: impl IntoIterator<Item = InstanceId>, first: FencingToken) -> Self {
        Self {
            next: Mutex::new(instances.into_iter().map(|i| (i, first.0)).collect()),
        }
    }
}

impl TakeoverAuthority for StaticAuthority {
    fn may_take_over(&self, dead_instance: &InstanceId) -> Result<FencingToken, TakeoverRefused> {
        // The map holds plain numbers, always valid: a poisoned lock is
        // still usable.
        let mut next = self
            .next
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(token) = next.get_mut(dead_instance) else {
            return Err(TakeoverRefused {
                instance: dead_instance.clone(),
                reason: "not an instance this authority may hand over".to_owned(),
            });
        };
        let granted = *token;
        *token = token.saturating_add(1);
        Ok(FencingToken(granted))
    }
}

/// Keeps a takeover in the taker's log for operators (best effort: a
/// failure is logged, the takeover stands).
pub(super) async fn record_takeover(
    log: &dyn CoordinatorLog,
    dead: &InstanceId,
    token: FencingToken,
    records: &[DecisionRecord],
) {
    let transactions: Vec<TxId> = records.iter().map(|r| r.tx.clone()).collect();
    if let Err(error) = log.record_takeover(dead, token, &transactions).await {
        tracing::warn!(instance = %dead, "takeover not recorded for operators: {error}");
    }
}

/// The takeovers the log keeps for this instance, as the admin snapshot
/// shows them (empty when the log cannot be read).
pub(super) async fn takeover_summaries(log: &dyn CoordinatorLog) -> Vec<TakeoverSummary> {
    match log.takeovers().await {
        Ok(entries) => entries.iter().map(TakeoverSummary::from).collect(),
        Err(error) => {
            tracing::warn!("takeovers not read from the log: {error}");
            Vec::new()
        }
    }
}
