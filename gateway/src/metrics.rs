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

/// The newest committed membership view id this node knows.
pub const MEMBERSHIP_VIEW_ID: &str = "ithaca_membership_view_id";
/// Members in that view.
pub const MEMBERSHIP_MEMBERS: &str = "ithaca_membership_members";
/// 1 when this node is the oracle leader.
pub const MEMBERSHIP_IS_LEADER: &str = "ithaca_membership_is_leader";
/// The oracle leader's node id as this node knows it (0: none).
pub const MEMBERSHIP_LEADER_ID: &str = "ithaca_membership_leader_id";
/// Members at or above the phi alerting threshold.
pub const MEMBERSHIP_SUSPECTED: &str = "ithaca_membership_suspected";
/// The highest phi among members.
pub const MEMBERSHIP_PHI_MAX: &str = "ithaca_membership_phi_max";
/// Members by phi band (`lt1`, `1to3`, `3to8`, `ge8`).
pub const MEMBERSHIP_MEMBERS_BY_PHI: &str = "ithaca_membership_members_by_phi";
/// 1 while removals are held (new-leader grace, or after a local stall).
pub const MEMBERSHIP_REMOVALS_HELD: &str = "ithaca_membership_removals_held";
/// Heartbeats answered, by outcome.
pub const MEMBERSHIP_HEARTBEATS: &str = "ithaca_membership_heartbeats_total";
/// Silent members removed (their leases had lapsed).
pub const MEMBERSHIP_REMOVALS: &str = "ithaca_membership_removals_total";
/// Joins committed.
pub const MEMBERSHIP_JOINS: &str = "ithaca_membership_joins_total";
/// Stalls of the oracle's own event loop (the local-health guard fired).
pub const MEMBERSHIP_LOCAL_STALLS: &str = "ithaca_membership_local_stalls_total";

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
                .ok()?
                .set_buckets_for_metric(
                    Matcher::Full(ithaca_txn::driver::names::DECISION_WRITE_SECONDS.to_owned()),
                    &ithaca_txn::driver::DECISION_WRITE_BUCKETS,
                )
                .ok()?
                .set_buckets_for_metric(
                    Matcher::Full(ithaca_txn::driver::names::PHASE_SECONDS.to_owned()),
                    &ithaca_txn::driver::DECISION_WRITE_BUCKETS,
                )
                .ok()?;
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            describe();
            ithaca_txn::driver::describe();
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
