//! The tower layers every request passes through, outermost first:
//!
//! 1. [`MetricsLayer`]: counts requests by route and status, times them,
//!    tracks requests in flight.
//! 2. [`RequestIdLayer`]: gives every request an `x-request-id` (kept if
//!    the client sent a sane one) and echoes it on the response.
//! 3. [`TraceLayer`]: one `tracing` span per request carrying that id.
//! 4. [`ErrorResponseLayer`]: turns middleware errors into responses
//!    (load shed → 503, timeout → 504).
//! 5. `tower::load_shed` + a global `tower::limit` concurrency limit: at
//!    `server.max_concurrent_requests` a new request is shed at once.
//! 6. `tower::timeout`: `server.request_timeout`.
//! 7. [`BodyLimitLayer`]: `server.max_body_size` (413).
//!
//! [`stack`] gives a listener all of them around a [`crate::Router`] as
//! one [`GatewayService`] (`request_path.rs`): the same steps in the same
//! order, with one future per request instead of one boxed future per
//! layer. The layers stay available for building other stacks.

mod body_limit;
mod errors;
mod metrics;
mod request_id;
mod request_path;
mod trace;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

pub use body_limit::{BodyLimit, BodyLimitLayer};
pub use errors::{ErrorResponse, ErrorResponseLayer};
pub use metrics::{Metrics, MetricsLayer};
pub use request_id::{REQUEST_ID_HEADER, RequestId, RequestIdLayer, SetRequestId};
pub use request_path::GatewayService;
pub use trace::{Trace, TraceLayer};

use crate::router::Router;

/// The limits the layers enforce.
#[derive(Clone, Debug)]
pub struct StackLimits {
    /// Largest request body.
    pub max_body_size: usize,
    /// How long one request may take.
    pub request_timeout: Duration,
    /// Shared by every connection of one listener: requests handled at once.
    pub concurrency: Arc<Semaphore>,
}

/// The complete per-request service for one listener: `router` wrapped in
/// every layer. Requests must already carry a body bounded by
/// [`crate::body::limited`] (the server does this), so reading past the limit
/// fails even without a `Content-Length`.
pub fn stack(router: Router, limits: &StackLimits) -> GatewayService {
    GatewayService::new(router, limits)
}
