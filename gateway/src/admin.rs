//! The admin endpoints: `GET /healthz` (liveness), `GET /readyz` (every
//! store reachable) and `GET /metrics` (Prometheus text).

use http::{HeaderValue, Method, StatusCode};
use metrics_exporter_prometheus::PrometheusHandle;

use crate::body::{Request, Response, full, text_response};
use crate::readiness::Readiness;
use crate::router::Router;

/// The Prometheus text exposition content type.
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The admin routes.
pub fn routes(readiness: Readiness, metrics: Option<PrometheusHandle>) -> Router {
    Router::new()
        .admin_route("/healthz", "healthz", |request: Request| async move {
            only_get(&request).unwrap_or_else(|| text_response(StatusCode::OK, "ok\n"))
        })
        .admin_route("/readyz", "readyz", move |request: Request| {
            let readiness = readiness.clone();
            async move {
                if let Some(refusal) = only_get(&request) {
                    return refusal;
                }
                let report = readiness.report().await;
                let status = if report.ready {
                    StatusCode::OK
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                };
                let mut text = report.lines.join("\n");
                text.push('\n');
                text_response(status, text)
            }
        })
        .admin_route("/metrics", "metrics", move |request: Request| {
            let metrics = metrics.clone();
            async move {
                if let Some(refusal) = only_get(&request) {
                    return refusal;
                }
                match metrics {
                    Some(handle) => {
                        let mut response = http::Response::new(full(handle.render()));
                        response.headers_mut().insert(
                            http::header::CONTENT_TYPE,
                            HeaderValue::from_static(PROMETHEUS_CONTENT_TYPE),
                        );
                        response
                    }
                    None => text_response(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "metrics unavailable: another metrics recorder is installed in this process\n",
                    ),
                }
            }
        })
}

/// Admin endpoints answer GET and HEAD only.
fn only_get(request: &Request) -> Option<Response> {
    if request.method() == Method::GET || request.method() == Method::HEAD {
        return None;
    }
    let mut response = text_response(StatusCode::METHOD_NOT_ALLOWED, "use GET\n");
    response
        .headers_mut()
        .insert(http::header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    Some(response)
}
