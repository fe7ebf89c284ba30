//! Readiness: `/readyz` answers 200 only while every store is reachable and
//! the gateway is not draining.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Something `/readyz` checks: a store the gateway cannot work without.
pub trait ReadinessCheck: Send + Sync + 'static {
    /// A short name for the report (`sqlite`, `postgres`).
    fn name(&self) -> &str;
    /// Succeeds when the dependency answers.
    fn check(&self) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>>;
}

/// The checks, and whether the gateway is shutting down.
#[derive(Clone, Default)]
pub struct Readiness {
    checks: Vec<Arc<dyn ReadinessCheck>>,
    draining: Arc<AtomicBool>,
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readiness")
            .field(
                "checks",
                &self
                    .checks
                    .iter()
                    .map(|c| c.name().to_owned())
                    .collect::<Vec<_>>(),
            )
            .field("draining", &self.draining.load(Ordering::Relaxed))
            .finish()
    }
}

/// The outcome of one `/readyz` request.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct ReadinessReport {
    /// Whether every check passed and the gateway is not draining.
    pub ready: bool,
    /// One line per check: `name: ok` or `name: problem`.
    pub lines: Vec<String>,
}

/// How long one check may take before it counts as failed.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

impl Readiness {
    /// No checks yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a check.
    pub fn add(&mut self, check: Arc<dyn ReadinessCheck>) {
        self.checks.push(check);
    }

    /// From now on `/readyz` answers 503 so load balancers stop sending.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    /// Runs every check concurrently, each bounded by a timeout.
    pub async fn report(&self) -> ReadinessReport {
        let mut lines = Vec::with_capacity(self.checks.len() + 1);
        let mut ready = true;
        if self.draining.load(Ordering::Relaxed) {
            ready = false;
            lines.push("gateway: draining (shutting down)".to_owned());
        }
        let mut tasks = Vec::with_capacity(self.checks.len());
        for check in &self.checks {
            let check = check.clone();
            tasks.push(tokio::spawn(async move {
                let outcome = tokio::time::timeout(CHECK_TIMEOUT, check.check()).await;
                let outcome = match outcome {
                    Ok(result) => result,
                    Err(_) => Err(format!("no answer within {}s", CHECK_TIMEOUT.as_secs())),
                };
                (check.name().to_owned(), outcome)
            }));
        }
        for task in tasks {
            match task.await {
                Ok((name, Ok(()))) => lines.push(format!("{name}: ok")),
                Ok((name, Err(problem))) => {
                    ready = false;
                    lines.push(format!("{name}: {problem}"));
                }
                Err(e) => {
                    ready = false;
                    lines.push(format!("check failed: {e}"));
                }
            }
        }
        ReadinessReport { ready, lines }
    }
}
