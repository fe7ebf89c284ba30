//! One `tracing` span per request, carrying its id, method and path; the
//! outcome is logged when the response is ready (server errors at `warn`,
//! with the id, method and path, everything else at `debug`).
//!
//! The span is at `debug` level, so at the default `info` level it costs
//! nothing: formatting its fields for every request was a measurable part of
//! the per-request CPU.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use tracing::Instrument;

use super::RequestId;
use crate::body::Response;

/// Layer for [`Trace`].
#[derive(Clone, Copy, Debug)]
pub struct TraceLayer;

impl<S> tower::Layer<S> for TraceLayer {
    type Service = Trace<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Trace { inner }
    }
}

/// Wraps each request in a span.
#[derive(Clone, Debug)]
pub struct Trace<S> {
    inner: S,
}

impl<S, B> tower::Service<http::Request<B>> for Trace<S>
where
    B: Send + 'static,
    S: tower::Service<http::Request<B>, Response = Response>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        // The id is shared, not copied: it is only formatted when a span
        // or an event is actually recorded.
        let id = request.extensions().get::<RequestId>().cloned();
        let id_text = || id.as_ref().map_or("", RequestId::as_str);
        let span = tracing::debug_span!(
            "request",
            id = %id_text(),
            method = %request.method(),
            path = %request.uri().path(),
        );
        let (method, uri) = (request.method().clone(), request.uri().clone());
        let start = Instant::now();
        let future = {
            let _entered = span.enter();
            self.inner.call(request)
        };
        Box::pin(
            async move {
                let result = future.await;
                if let Ok(response) = &result {
                    let id = id.as_ref().map(|id| &id.0);
                    log_outcome(response, id, &method, &uri, start.elapsed());
                }
                result
            }
            .instrument(span),
        )
    }
}

/// Logs a response in the current span: a server error at `warn` (with the
/// request id, method and path) unless the response says the client caused
/// it, everything else at `debug`. `elapsed` is the request's duration
/// (measured once by the caller, which records it as a metric too).
pub(crate) fn log_outcome(
    response: &Response,
    id: Option<&http::HeaderValue>,
    method: &http::Method,
    uri: &http::Uri,
    elapsed: std::time::Duration,
) {
    let status = response.status().as_u16();
    let micros = elapsed.as_micros() as u64;
    let client_caused = response
        .extensions()
        .get::<crate::body::ClientCaused>()
        .is_some();
    if response.status().is_server_error() && !client_caused {
        tracing::warn!(
            request_id = %id.and_then(|id| id.to_str().ok()).unwrap_or(""),
            %method,
            path = %uri.path(),
            status,
            micros,
            "server error"
        );
    } else {
        tracing::debug!(status, micros, "response");
    }
}
