//! Request metrics: `ithaca_http_requests_total{route,method,status}`,
//! `ithaca_http_request_duration_seconds{route}` and
//! `ithaca_http_requests_in_flight`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use crate::body::Response;
use crate::router::Router;

/// Layer for [`Metrics`].
#[derive(Clone, Debug)]
pub struct MetricsLayer {
    router: Router,
    in_flight: metrics::Gauge,
}

impl MetricsLayer {
    /// Labels requests with the name of the `router` route they match.
    /// Handles are taken from the recorder installed now, so install it
    /// first ([`crate::metrics::install`]).
    pub fn new(router: Router) -> Self {
        Self {
            router,
            in_flight: metrics::gauge!(crate::metrics::IN_FLIGHT),
        }
    }
}

impl<S> tower::Layer<S> for MetricsLayer {
    type Service = Metrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Metrics {
            inner,
            router: self.router.clone(),
            in_flight: self.in_flight.clone(),
        }
    }
}

/// Records each request's outcome and latency.
#[derive(Clone, Debug)]
pub struct Metrics<S> {
    inner: S,
    router: Router,
    in_flight: metrics::Gauge,
}

/// Decrements the in-flight gauge when the request ends, even if its future
/// is dropped (client gone, shutdown deadline).
struct InFlight(metrics::Gauge);

impl InFlight {
    fn start(gauge: &metrics::Gauge) -> Self {
        gauge.increment(1.0);
        Self(gauge.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

/// Method label values are limited to the standard methods.
fn method_label(method: &http::Method) -> &'static str {
    match *method {
        http::Method::GET => "GET",
        http::Method::POST => "POST",
        http::Method::PUT => "PUT",
        http::Method::DELETE => "DELETE",
        http::Method::HEAD => "HEAD",
        http::Method::OPTIONS => "OPTIONS",
        http::Method::PATCH => "PATCH",
        _ => "other",
    }
}

impl<S, B> tower::Service<http::Request<B>> for Metrics<S>
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
        let route = self.router.route_name(request.uri().path());
        let method = method_label(request.method());
        let in_flight = InFlight::start(&self.in_flight);
        let start = Instant::now();
        let future = self.inner.call(request);
        Box::pin(async move {
            let result = future.await;
            drop(in_flight);
            if let Ok(response) = &result {
                let status = response.status().as_str().to_owned();
                metrics::counter!(crate::metrics::REQUESTS, "route" => route, "method" => method, "status" => status)
                    .increment(1);
                metrics::histogram!(crate::metrics::DURATION, "route" => route)
                    .record(start.elapsed().as_secs_f64());
            }
            result
        })
    }
}
