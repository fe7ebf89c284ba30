//! The process-wide Prometheus recorder behind `GET /metrics`.
//!
//! Libraries record through the `metrics` facade; the gateway installs one
//! recorder per process and renders it as Prometheus text (format 0.0.4).

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Requests answered, by route, method and status.
pub const REQUESTS: &str = "ithaca_http_requests_total";
/// Time from request headers to response headers, by route.
pub const DURATION: &str = "ithaca_http_request_duration_seconds";
/// Requests being handled now.
pub const IN_FLIGHT: &str = "ithaca_http_requests_in_flight";
/// Connections open now.
pub const CONNECTIONS: &str = "ithaca_http_connections_open";
/// Always 1; the labels say which build runs.
pub const BUILD_INFO: &str = "ithaca_build_info";

/// Latency buckets in seconds, from 100 µs to 30 s.
const DURATION_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the recorder once per process and returns its handle. `None` if
/// another recorder was installed first (the endpoint then says so).
pub fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(DURATION.to_owned()), DURATION_BUCKETS)
                .ok()?;
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            describe();
            Some(handle)
        })
        .clone()
}

fn describe() {
    metrics::describe_counter!(
        REQUESTS,
        "HTTP requests answered, by route, method and status."
    );
    metrics::describe_histogram!(
        DURATION,
        metrics::Unit::Seconds,
        "Time from request headers to response headers, by route."
    );
    metrics::describe_gauge!(IN_FLIGHT, "HTTP requests being handled now.");
    metrics::describe_gauge!(CONNECTIONS, "HTTP connections open now.");
    metrics::describe_gauge!(BUILD_INFO, "Always 1; the labels say which build runs.");
    metrics::gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    // Make the gauges exist before the first request.
    metrics::gauge!(IN_FLIGHT).set(0.0);
    metrics::gauge!(CONNECTIONS).set(0.0);
}

/// Drains histogram samples into buckets now and then, as the exporter
/// requires when its own HTTP listener is not used.
pub fn spawn_upkeep(handle: PrometheusHandle) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            handle.run_upkeep();
        }
    })
}
