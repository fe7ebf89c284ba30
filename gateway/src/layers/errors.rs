//! Turns middleware errors into HTTP responses, so that every request gets
//! one: a shed request gets 503 with `Retry-After`, a timed-out one 504.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::StatusCode;

use crate::body::{BoxError, Response, text_response};

/// Layer for [`ErrorResponse`].
#[derive(Clone, Copy, Debug)]
pub struct ErrorResponseLayer;

impl<S> tower::Layer<S> for ErrorResponseLayer {
    type Service = ErrorResponse<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ErrorResponse { inner }
    }
}

/// Maps the inner service's errors to responses.
#[derive(Clone, Debug)]
pub struct ErrorResponse<S> {
    inner: S,
}

impl<S, B> tower::Service<http::Request<B>> for ErrorResponse<S>
where
    B: Send + 'static,
    S: tower::Service<http::Request<B>, Response = Response>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // The inner stack starts with load shedding, which is always ready;
        // an error here is reported on the call instead.
        match self.inner.poll_ready(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(_) => Poll::Ready(Ok(())),
        }
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let future = self.inner.call(request);
        Box::pin(async move {
            Ok(match future.await {
                Ok(response) => response,
                Err(error) => error_response(&error.into()),
            })
        })
    }
}

/// The response for a middleware error.
pub(crate) fn error_response(error: &BoxError) -> Response {
    if error.is::<tower::load_shed::error::Overloaded>() {
        let mut response = text_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded: too many requests in progress, retry later\n",
        );
        response.headers_mut().insert(
            http::header::RETRY_AFTER,
            http::HeaderValue::from_static("1"),
        );
        response
    } else if error.is::<tower::timeout::error::Elapsed>() {
        text_response(
            StatusCode::GATEWAY_TIMEOUT,
            "request timed out (server.request_timeout)\n",
        )
    } else {
        tracing::error!(%error, "request failed inside the gateway");
        text_response(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n")
    }
}
