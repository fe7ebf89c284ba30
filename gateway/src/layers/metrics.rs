//! Request metrics: `ithaca_http_requests_total{route,method,status}`,
//! `ithaca_http_request_duration_seconds{route}` and
//! `ithaca_http_requests_in_flight`.
//!
//! The counter and histogram handles are resolved once per label set and
//! kept in a small table shared by every copy of the layer: a request
//! costs a read lock and a lookup instead of building a labelled key
//! (with an owned status string) and finding it in the recorder's
//! registry.

use std::collections::HashMap;
use std::future::Future;
use std::hash::{BuildHasherDefault, Hasher};
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::Instant;

use crate::body::Response;
use crate::router::Router;

/// Layer for [`Metrics`].
#[derive(Clone, Debug)]
pub struct MetricsLayer {
    router: Router,
    in_flight: metrics::Gauge,
    handles: Arc<Handles>,
}

/// The label values of one request counter.
pub(crate) type CounterLabels = (&'static str, &'static str, http::StatusCode);

/// The handles resolved so far, by label values. Route names and methods
/// come from fixed sets and statuses from the 3-digit codes, so the tables
/// stay small.
#[derive(Debug, Default)]
pub(crate) struct Handles {
    counters: RwLock<HashMap<CounterLabels, metrics::Counter, LabelHash>>,
    durations: RwLock<HashMap<&'static str, metrics::Histogram, LabelHash>>,
}

/// The hasher of the handle tables. Their keys come from fixed sets (route
/// names, methods, status codes), never from what a client chose, so they
/// need no defence against chosen collisions and a multiply-rotate hash
/// (FxHash's) does instead of SipHash.
type LabelHash = BuildHasherDefault<LabelHasher>;

/// See [`LabelHash`].
#[derive(Debug, Default)]
pub(crate) struct LabelHasher(u64);

impl Hasher for LabelHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(u64::from(byte));
        }
    }

    fn write_u8(&mut self, value: u8) {
        self.write_u64(u64::from(value));
    }

    fn write_u16(&mut self, value: u16) {
        self.write_u64(u64::from(value));
    }

    fn write_usize(&mut self, value: usize) {
        self.write_u64(value as u64);
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = (self.0.rotate_left(5) ^ value).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl Handles {
    /// Counts one request and records its duration.
    pub(crate) fn record(&self, labels: CounterLabels, seconds: f64) {
        let (route, method, status) = labels;
        let counted = self
            .counters
            .read()
            .ok()
            .and_then(|counters| counters.get(&labels).map(|c| c.increment(1)));
        if counted.is_none() {
            let counter = metrics::counter!(crate::metrics::REQUESTS, "route" => route, "method" => method, "status" => status.as_str().to_owned());
            counter.increment(1);
            if let Ok(mut counters) = self.counters.write() {
                counters.insert(labels, counter);
            }
        }
        let recorded = self
            .durations
            .read()
            .ok()
            .and_then(|durations| durations.get(route).map(|h| h.record(seconds)));
        if recorded.is_none() {
            let histogram = metrics::histogram!(crate::metrics::DURATION, "route" => route);
            histogram.record(seconds);
            if let Ok(mut durations) = self.durations.write() {
                durations.insert(route, histogram);
            }
        }
    }
}

impl MetricsLayer {
    /// Labels requests with the name of the `router` route they match.
    /// Handles are taken from the recorder installed now, so install it
    /// first ([`crate::metrics::install`]).
    pub fn new(router: Router) -> Self {
        Self {
            router,
            in_flight: metrics::gauge!(crate::metrics::IN_FLIGHT),
            handles: Arc::default(),
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
            handles: self.handles.clone(),
        }
    }
}

/// Records each request's outcome and latency.
#[derive(Clone, Debug)]
pub struct Metrics<S> {
    inner: S,
    router: Router,
    in_flight: metrics::Gauge,
    handles: Arc<Handles>,
}

/// Decrements the in-flight gauge when the request ends, even if its future
/// is dropped (client gone, shutdown deadline).
pub(crate) struct InFlight(metrics::Gauge);

impl InFlight {
    pub(crate) fn start(gauge: &metrics::Gauge) -> Self {
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
pub(crate) fn method_label(method: &http::Method) -> &'static str {
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
        let handles = self.handles.clone();
        let future = self.inner.call(request);
        Box::pin(async move {
            let result = future.await;
            drop(in_flight);
            if let Ok(response) = &result {
                let seconds = start.elapsed().as_secs_f64();
                handles.record((route, method, response.status()), seconds);
            }
            result
        })
    }
}
