//! The per-request service of one listener: every layer of [`super`] in
//! one service, with one future and no box of its own.
//!
//! [`GatewayService`] does, in this order and with the same outcomes as the
//! separate layers stacked by hand: the metrics of [`super::Metrics`]
//! (route, method, status, duration, requests in flight), the request id
//! of [`super::SetRequestId`], the span and outcome log of
//! [`super::Trace`], load shedding at the global concurrency limit (503
//! with `Retry-After`), the request timeout (504), the declared body limit
//! of [`super::BodyLimit`] (413) and the [`Router`]. Stacking the layers
//! costs a boxed future and a copy of the service per layer and request;
//! here the router's route is looked up once (for the metric label and the
//! dispatch), the clock is read once (for the duration and the timeout's
//! deadline), and the timeout's timer is only made when the request does
//! not complete on its first poll.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use tokio::sync::OwnedSemaphorePermit;
use tracing::Instrument;

use super::StackLimits;
use super::body_limit::too_large;
use super::metrics::{Handles, InFlight, method_label};
use super::request_id::{IdGenerator, REQUEST_ID_NAME, request_id};
use super::trace::log_outcome;
use crate::body::{Request, Response};
use crate::router::{ResponseFuture, Router};

/// The per-request service of one listener (see the module docs). Cheap to
/// clone: one reference count.
#[derive(Clone, Debug)]
pub struct GatewayService {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    router: Router,
    limits: StackLimits,
    in_flight: metrics::Gauge,
    handles: Handles,
    ids: IdGenerator,
}

impl GatewayService {
    /// Wraps `router` in every layer. Handles are taken from the metrics
    /// recorder installed now, so install it first
    /// ([`crate::metrics::install`]).
    pub fn new(router: Router, limits: &StackLimits) -> Self {
        Self {
            inner: Arc::new(Inner {
                router,
                limits: limits.clone(),
                in_flight: metrics::gauge!(crate::metrics::IN_FLIGHT),
                handles: Handles::default(),
                ids: IdGenerator::new(),
            }),
        }
    }

    /// Answers one request; the future always ends with a response.
    pub fn serve(&self, request: Request) -> impl Future<Output = Response> + Send + use<> {
        let inner = self.inner.clone();
        async move { inner.serve(request).await }
    }
}

impl tower::Service<Request> for GatewayService {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Overload is answered per request (503), never by waiting here.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let future = self.serve(request);
        Box::pin(async move { Ok(future.await) })
    }
}

impl Inner {
    async fn serve(&self, mut request: Request) -> Response {
        let route = self.router.lookup(request.uri().path());
        let route_name = route.map_or(crate::router::UNMATCHED_ROUTE, |route| route.name);
        let method = method_label(request.method());
        let in_flight = InFlight::start(&self.in_flight);
        let start = Instant::now();

        let id = request_id(&self.ids, &mut request);
        let span = tracing::debug_span!(
            "request",
            id = %id.to_str().unwrap_or("-"),
            method = %request.method(),
            path = %request.uri().path(),
        );
        // Kept for the log of a server error, which names them.
        let (logged_method, logged_uri) = (request.method().clone(), request.uri().clone());

        let admitted = {
            let _entered = span.enter();
            self.admit(route, request, start)
        };
        let mut response = match admitted {
            Ok(routed) => routed.instrument(span.clone()).await,
            Err(refused) => *refused,
        };
        // One clock read for the log and the metric.
        let elapsed = start.elapsed();
        {
            let _entered = span.enter();
            log_outcome(&response, Some(&id), &logged_method, &logged_uri, elapsed);
        }
        response.headers_mut().insert(REQUEST_ID_NAME.clone(), id);
        drop(in_flight);
        self.handles.record(
            (route_name, method, response.status()),
            elapsed.as_secs_f64(),
        );
        response
    }

    /// Load shedding, the declared body limit and the dispatch, under the
    /// request timeout counted from `start`.
    fn admit(
        &self,
        route: Option<&crate::router::Route>,
        request: Request,
        start: Instant,
    ) -> Result<Routed, Box<Response>> {
        let Ok(permit) = self.limits.concurrency.clone().try_acquire_owned() else {
            return Err(Box::new(overloaded()));
        };
        let declared = request
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if let Some(length) = declared
            && length > self.limits.max_body_size as u64
        {
            return Err(Box::new(too_large(self.limits.max_body_size)));
        }
        Ok(Routed {
            future: self.router.dispatch_to(route, request),
            deadline: start.checked_add(self.limits.request_timeout),
            sleep: None,
            _permit: permit,
        })
    }
}

/// A routed request under its deadline, holding its concurrency permit
/// until it ends.
struct Routed {
    future: ResponseFuture,
    /// `None` when the timeout is too far away to represent: never.
    deadline: Option<Instant>,
    /// The deadline's timer, made the first time the request waits.
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    _permit: OwnedSemaphorePermit,
}

impl Future for Routed {
    type Output = Response;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Response> {
        // Every field is `Unpin` (the futures are boxed).
        let this = self.get_mut();
        if let Poll::Ready(response) = this.future.as_mut().poll(cx) {
            return Poll::Ready(response);
        }
        let Some(deadline) = this.deadline else {
            return Poll::Pending;
        };
        let sleep = this.sleep.get_or_insert_with(|| {
            Box::pin(tokio::time::sleep_until(tokio::time::Instant::from_std(
                deadline,
            )))
        });
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(timed_out()),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// 503 for a request over the concurrency limit.
fn overloaded() -> Response {
    super::errors::error_response(&crate::body::BoxError::from(
        tower::load_shed::error::Overloaded::new(),
    ))
}

/// 504 for a request past the timeout.
fn timed_out() -> Response {
    super::errors::error_response(&crate::body::BoxError::from(
        tower::timeout::error::Elapsed::new(),
    ))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use http_body_util::BodyExt;
    use tokio::sync::Semaphore;

    use super::*;
    use crate::body::{full, text_response};
    use http::StatusCode;

    fn service(permits: usize, timeout: Duration) -> GatewayService {
        let router = Router::new()
            .route("/ok", "ok", |_request: Request| async {
                text_response(StatusCode::OK, "ok\n")
            })
            .route("/slow", "slow", |_request: Request| async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                text_response(StatusCode::OK, "late\n")
            });
        GatewayService::new(
            router,
            &StackLimits {
                max_body_size: 16,
                request_timeout: timeout,
                concurrency: Arc::new(Semaphore::new(permits)),
            },
        )
    }

    fn get(path: &str) -> Request {
        http::Request::get(path).body(full("")).unwrap()
    }

    async fn text(response: Response) -> String {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[tokio::test]
    async fn answers_with_a_request_id_and_the_router_s_response() {
        let service = service(4, Duration::from_secs(30));
        let response = service.serve(get("/ok")).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.headers().contains_key("x-request-id"));
        assert_eq!(text(response).await, "ok\n");
        let mut kept = get("/ok");
        kept.headers_mut()
            .insert("x-request-id", "mine-1".parse().unwrap());
        let response = service.serve(kept).await;
        assert_eq!(response.headers()["x-request-id"], "mine-1");
        let missing = service.serve(get("/nope")).await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        assert!(missing.headers().contains_key("x-request-id"));
    }

    #[tokio::test]
    async fn sheds_refuses_large_bodies_and_times_out() {
        let service = service(0, Duration::from_secs(30));
        let shed = service.serve(get("/ok")).await;
        assert_eq!(shed.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(shed.headers()["retry-after"], "1");

        let service = self::service(1, Duration::from_millis(20));
        let large = http::Request::post("/ok")
            .header("content-length", "17")
            .body(full(vec![b'x'; 17]))
            .unwrap();
        let refused = service.serve(large).await;
        assert_eq!(refused.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(refused.headers()["connection"], "close");

        let slow = service.serve(get("/slow")).await;
        assert_eq!(slow.status(), StatusCode::GATEWAY_TIMEOUT);
        // The permit came back with the timed-out request.
        assert_eq!(service.serve(get("/ok")).await.status(), StatusCode::OK);
    }
}
