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

/// The WS-AT coordinator's admin route, added beside the others when the
/// coordinator is enabled: `GET /admin/txn` answers the JSON
/// [`ithaca_txn::admin::Snapshot`] (`?state=all|active|preparing|
/// committing|in-doubt` filters it), and `GET /admin/txn?id=ID` the one
/// transaction's [`ithaca_txn::admin::TransactionSummary`] (404 when the
/// coordinator does not hold it). The router matches exact paths, so the
/// id travels in the query, percent-encoded.
pub fn txn_routes(service: ithaca_txn::driver::CoordinatorService) -> Router {
    Router::new().admin_route("/admin/txn", "admin_txn", move |request: Request| {
        let service = service.clone();
        async move {
            if let Some(refusal) = only_get(&request) {
                return refusal;
            }
            let query = request.uri().query().unwrap_or_default();
            let mut state = None;
            let mut id = None;
            for pair in query.split('&').filter(|p| !p.is_empty()) {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                let Some(value) = percent_decode(value) else {
                    return text_response(StatusCode::BAD_REQUEST, "bad percent-encoding\n");
                };
                match key {
                    "state" => state = Some(value),
                    "id" => id = Some(value),
                    _ => {
                        return text_response(
                            StatusCode::BAD_REQUEST,
                            format!("unknown parameter {key:?}: use state or id\n"),
                        );
                    }
                }
            }
            if let Some(id) = id {
                return match service.transaction(&ithaca_txn::record::TxId(id)) {
                    Some(tx) => json_response(&tx),
                    None => text_response(StatusCode::NOT_FOUND, "no such transaction\n"),
                };
            }
            let filter = match state.as_deref() {
                None => ithaca_txn::admin::StateFilter::All,
                Some(name) => match ithaca_txn::admin::StateFilter::parse(name) {
                    Some(filter) => filter,
                    None => {
                        return text_response(
                            StatusCode::BAD_REQUEST,
                            "state must be all, active, preparing, committing or in-doubt\n",
                        );
                    }
                },
            };
            json_response(&service.snapshot(filter).await)
        }
    })
}

/// A 200 answer with `value` as JSON.
fn json_response(value: &impl serde::Serialize) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => {
            let mut response = http::Response::new(full(body));
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        Err(error) => text_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot encode the answer: {error}\n"),
        ),
    }
}

/// Decodes `%XX` escapes and `+` (a space); `None` if malformed or not
/// UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        match byte {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod txn_tests {
    use std::sync::Arc;

    use http_body_util::BodyExt;
    use ithaca_txn::driver::testing::RecordingSink;
    use ithaca_txn::driver::{CoordinatorService, DriverConfig};
    use ithaca_txn::engine::{Inbound, Protocol};
    use ithaca_txn::record::EndpointRef;

    use super::*;

    async fn get(router: &Router, uri: &str) -> (StatusCode, String) {
        let request = http::Request::get(uri).body(full("")).unwrap();
        let response = router.dispatch(request).await;
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn admin_txn_lists_filters_and_shows_transactions() {
        let dir = tempfile::tempdir().unwrap();
        let log = ithaca_txn::log::SqliteLog::open(&dir.path().join("txn.db"), "node-a")
            .await
            .unwrap();
        let service = CoordinatorService::start(
            DriverConfig::default(),
            Arc::new(log),
            Arc::new(RecordingSink::new()),
        )
        .unwrap();
        service.recovered().await.unwrap();
        let tx = service.create(None).unwrap();
        let init = service
            .register(&tx, Protocol::Completion, EndpointRef::new("http://init"))
            .unwrap();
        let p = service
            .register(&tx, Protocol::Durable2Pc, EndpointRef::new("http://p1"))
            .unwrap();
        service
            .deliver(&tx, init, Protocol::Completion, Inbound::Commit)
            .unwrap();
        let idle = service.create(None).unwrap();
        let router = txn_routes(service.clone());

        let (status, body) = get(&router, "/admin/txn").await;
        assert_eq!(status, StatusCode::OK);
        let all: ithaca_txn::admin::Snapshot = serde_json::from_str(&body).unwrap();
        assert_eq!(all.instance, "node-a");
        assert_eq!(all.total, 2);
        assert_eq!(all.in_doubt, 0);

        service
            .deliver(&tx, p, Protocol::Durable2Pc, Inbound::Prepared)
            .unwrap();
        let (_, body) = get(&router, "/admin/txn?state=in-doubt").await;
        let in_doubt: ithaca_txn::admin::Snapshot = serde_json::from_str(&body).unwrap();
        let ids: Vec<&str> = in_doubt
            .transactions
            .iter()
            .map(|t| t.id.as_str())
            .collect();
        assert_eq!(ids, [tx.0.as_str()]);
        assert!(!ids.contains(&idle.0.as_str()));

        let encoded: String = tx.0.replace(':', "%3A");
        let (status, body) = get(&router, &format!("/admin/txn?id={encoded}")).await;
        assert_eq!(status, StatusCode::OK);
        let shown: ithaca_txn::admin::TransactionSummary = serde_json::from_str(&body).unwrap();
        assert_eq!(shown.participants.len(), 2);
        assert_eq!(shown.participants[1].address, "http://p1");

        assert_eq!(
            get(&router, "/admin/txn?id=urn%3Anope").await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            get(&router, "/admin/txn?state=bogus").await.0,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            get(&router, "/admin/txn?id=%zz").await.0,
            StatusCode::BAD_REQUEST
        );
    }
}
