//! The admin endpoints: `GET /healthz` (liveness), `GET /readyz` (every
//! store reachable) and `GET /metrics` (Prometheus text); with the WS-AT
//! coordinator, `GET /admin/txn` and the one state-changing admin route,
//! `POST /admin/txn/resolve` (an operator resolves heuristic outcomes).

use http::{HeaderValue, Method, StatusCode};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use ithaca_txn::admin::{ResolveAnswer, ResolveRequest};
use ithaca_txn::driver::{CoordinatorService, DriverError};
use ithaca_txn::log::{LogError, Resolution};
use ithaca_txn::record::TxId;
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

/// The largest body `POST /admin/txn/resolve` reads: room for the longest
/// note and operator name, JSON-escaped.
pub const MAX_RESOLVE_BODY: usize = 16 * 1024;

/// The WS-AT coordinator's admin routes, added beside the others when the
/// coordinator is enabled: `GET /admin/txn` answers the JSON
/// [`ithaca_txn::admin::Snapshot`] (`?state=all|active|preparing|
/// committing|in-doubt` filters it; its heuristic outcomes are the open
/// ones, or with `heuristics=all` the resolved ones too), and
/// `GET /admin/txn?id=ID` the one transaction's
/// [`ithaca_txn::admin::TransactionSummary`] (404 when the coordinator does
/// not hold it). `POST /admin/txn/resolve?id=ID` with a JSON
/// [`ResolveRequest`] marks the transaction's heuristic outcomes resolved
/// (see [`resolve`]). The router matches exact paths, so the id travels in
/// the query, percent-encoded.
pub fn txn_routes(service: CoordinatorService) -> Router {
    let resolver = service.clone();
    Router::new()
        .admin_route("/admin/txn", "admin_txn", move |request: Request| {
            let service = service.clone();
            async move { show(&service, &request).await }
        })
        .admin_change_route(
            "/admin/txn/resolve",
            "admin_txn_resolve",
            move |request: Request| {
                let service = resolver.clone();
                async move { resolve(&service, request).await }
            },
        )
}

/// The query's `key=value` pairs, percent-decoded, each key one of `keys`;
/// else the message of the 400 answer.
fn query_pairs(request: &Request, keys: &[&str]) -> Result<Vec<(String, String)>, String> {
    let query = request.uri().query().unwrap_or_default();
    let mut pairs = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let Some(value) = percent_decode(value) else {
            return Err("bad percent-encoding\n".to_owned());
        };
        if !keys.contains(&key) {
            return Err(format!(
                "unknown parameter {key:?}: use {}\n",
                keys.join(" or ")
            ));
        }
        pairs.push((key.to_owned(), value));
    }
    Ok(pairs)
}

/// `GET /admin/txn`.
async fn show(service: &CoordinatorService, request: &Request) -> Response {
    if let Some(refusal) = only_get(request) {
        return refusal;
    }
    let pairs = match query_pairs(request, &["state", "id", "heuristics"]) {
        Ok(pairs) => pairs,
        Err(message) => return text_response(StatusCode::BAD_REQUEST, message),
    };
    let mut state = None;
    let mut id = None;
    let mut all_heuristics = false;
    for (key, value) in pairs {
        match key.as_str() {
            "state" => state = Some(value),
            "id" => id = Some(value),
            _ => match value.as_str() {
                "open" => all_heuristics = false,
                "all" => all_heuristics = true,
                _ => {
                    return text_response(
                        StatusCode::BAD_REQUEST,
                        "heuristics must be open or all\n",
                    );
                }
            },
        }
    }
    if let Some(id) = id {
        return match service.transaction(&TxId(id)) {
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
    let mut snapshot = service.snapshot(filter).await;
    if all_heuristics {
        snapshot.heuristics = service.heuristic_history().await.ok();
    }
    json_response(&snapshot)
}

/// `POST /admin/txn/resolve?id=ID` with a JSON [`ResolveRequest`] (at most
/// [`MAX_RESOLVE_BODY`] bytes): marks the transaction's open heuristic
/// outcomes resolved by the operator with the note, and answers the JSON
/// [`ResolveAnswer`]. Idempotent (resolving again changes nothing). 404
/// when the log keeps no heuristic outcome of the transaction, 400 for a
/// bad request (blank or too long note), 413 for a body too large, 503
/// when the log cannot be written. The router has already refused it
/// (403) without the configured admin token.
pub async fn resolve(service: &CoordinatorService, request: Request) -> Response {
    if request.method() != Method::POST {
        let mut response = text_response(StatusCode::METHOD_NOT_ALLOWED, "use POST\n");
        response
            .headers_mut()
            .insert(http::header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    let pairs = match query_pairs(&request, &["id"]) {
        Ok(pairs) => pairs,
        Err(message) => return text_response(StatusCode::BAD_REQUEST, message),
    };
    let Some(tx) = pairs.into_iter().map(|(_, id)| TxId(id)).next_back() else {
        return text_response(
            StatusCode::BAD_REQUEST,
            "name the transaction: POST /admin/txn/resolve?id=ID\n",
        );
    };
    let body = match Limited::new(request.into_body(), MAX_RESOLVE_BODY)
        .collect()
        .await
    {
        Ok(body) => body.to_bytes(),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => {
            return text_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the request body is larger than {MAX_RESOLVE_BODY} bytes\n"),
            );
        }
        Err(error) => {
            return text_response(
                StatusCode::BAD_REQUEST,
                format!("cannot read the request body: {error}\n"),
            );
        }
    };
    let asked: ResolveRequest = match serde_json::from_slice(&body) {
        Ok(asked) => asked,
        Err(error) => {
            return text_response(
                StatusCode::BAD_REQUEST,
                format!("the body is not {{\"operator\": ..., \"note\": ...}}: {error}\n"),
            );
        }
    };
    let resolution = match Resolution::new(&tx, &asked.operator, &asked.note) {
        Ok(resolution) => resolution,
        Err(error) => return text_response(StatusCode::BAD_REQUEST, format!("{error}\n")),
    };
    match service.resolve_heuristic(&tx, &resolution).await {
        Ok(outcome) => {
            tracing::info!(
                tx = %tx,
                operator = resolution.operator(),
                ?outcome,
                "heuristic outcomes resolved by an operator"
            );
            json_response(&ResolveAnswer::new(&tx, outcome))
        }
        Err(DriverError::Log(error @ LogError::UnknownHeuristic { .. })) => {
            text_response(StatusCode::NOT_FOUND, format!("{error}\n"))
        }
        Err(DriverError::Log(error @ LogError::Fenced { .. })) => {
            text_response(StatusCode::CONFLICT, format!("{error}\n"))
        }
        Err(error) => text_response(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("cannot resolve: {error}\n"),
        ),
    }
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

    const TOKEN: &str = "0123456789abcdef";

    async fn post(
        router: &Router,
        uri: &str,
        token: Option<&str>,
        body: impl Into<bytes::Bytes>,
    ) -> (StatusCode, String) {
        let mut request = http::Request::post(uri);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = router
            .dispatch(request.body(full(body.into())).unwrap())
            .await;
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn an_operator_with_the_token_resolves_a_heuristic_outcome() {
        use ithaca_txn::log::CoordinatorLog;
        use ithaca_txn::record::{HeuristicKind, HeuristicRecord, ParticipantId};

        let dir = tempfile::tempdir().unwrap();
        let log = ithaca_txn::log::SqliteLog::open(&dir.path().join("txn.db"), "node-a")
            .await
            .unwrap();
        log.record_heuristic(&HeuristicRecord {
            tx: TxId("urn:h:1".to_owned()),
            participant: ParticipantId(2),
            endpoint: EndpointRef::new("http://p2"),
            kind: HeuristicKind::AbortedAfterCommit,
        })
        .await
        .unwrap();
        let service = CoordinatorService::start(
            DriverConfig::default(),
            Arc::new(log),
            Arc::new(RecordingSink::new()),
        )
        .unwrap();
        service.recovered().await.unwrap();
        let body = r#"{"operator":"alice","note":"refunded by hand"}"#;
        let uri = "/admin/txn/resolve?id=urn%3Ah%3A1";

        // No token configured: the change is refused, reads still work.
        let open = txn_routes(service.clone());
        let (status, text) = post(&open, uri, None, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{text}");
        assert!(text.contains("no admin token is configured"), "{text}");
        assert_eq!(get(&open, "/admin/txn").await.0, StatusCode::OK);

        let router = txn_routes(service.clone()).require_admin_token(Some(TOKEN.into()));
        for token in [None, Some("wrong")] {
            let (status, text) = post(&router, uri, token, body).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{text}");
        }
        let (status, text) = post(&router, uri, Some(TOKEN), body).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        let answer: ResolveAnswer = serde_json::from_str(&text).unwrap();
        assert_eq!((answer.resolved, answer.already_resolved), (1, false));
        let (status, text) = post(&router, uri, Some(TOKEN), body).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        assert!(
            serde_json::from_str::<ResolveAnswer>(&text)
                .unwrap()
                .already_resolved
        );

        // Gone from the open list, kept with who and why in the history.
        let authorized_get = |uri: &'static str| {
            let request = http::Request::get(uri)
                .header("authorization", format!("Bearer {TOKEN}"))
                .body(full(""))
                .unwrap();
            router.dispatch(request)
        };
        let read = |response: Response| async move {
            let body = response.into_body().collect().await.unwrap().to_bytes();
            serde_json::from_slice::<ithaca_txn::admin::Snapshot>(&body).unwrap()
        };
        let open_list = read(authorized_get("/admin/txn").await).await;
        assert_eq!(open_list.heuristics, Some(vec![]));
        let all = read(authorized_get("/admin/txn?heuristics=all").await).await;
        let kept = all.heuristics.unwrap();
        let resolution = kept[0].resolution.as_ref().unwrap();
        assert_eq!(kept[0].tx, "urn:h:1");
        assert_eq!(resolution.operator, "alice");
        assert_eq!(resolution.note, "refunded by hand");

        // Bad requests get a clear answer.
        let (status, text) = post(
            &router,
            "/admin/txn/resolve?id=urn%3Anope",
            Some(TOKEN),
            body,
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(text.contains("urn:nope"), "{text}");
        let blank = r#"{"operator":"alice","note":"  "}"#;
        let (status, text) = post(&router, uri, Some(TOKEN), blank).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(text.contains("note is empty"), "{text}");
        for bad in [
            "not json",
            r#"{"note":"n"}"#,
            r#"{"operator":"a","note":"n","x":1}"#,
        ] {
            assert_eq!(
                post(&router, uri, Some(TOKEN), bad).await.0,
                StatusCode::BAD_REQUEST,
                "{bad}"
            );
        }
        let huge = format!(
            r#"{{"operator":"a","note":"{}"}}"#,
            "x".repeat(MAX_RESOLVE_BODY)
        );
        assert_eq!(
            post(&router, uri, Some(TOKEN), huge).await.0,
            StatusCode::PAYLOAD_TOO_LARGE
        );
        assert_eq!(
            post(&router, "/admin/txn/resolve", Some(TOKEN), body)
                .await
                .0,
            StatusCode::BAD_REQUEST
        );
        let request = http::Request::get(uri)
            .header("authorization", format!("Bearer {TOKEN}"))
            .body(full(""))
            .unwrap();
        assert_eq!(
            router.dispatch(request).await.status(),
            StatusCode::METHOD_NOT_ALLOWED
        );
        assert_eq!(
            get(&open, "/admin/txn?heuristics=some").await.0,
            StatusCode::BAD_REQUEST
        );
    }
}
