//! Refuses a request whose declared `Content-Length` exceeds the limit with
//! 413 before any of its body is read. Bodies without a length (chunked,
//! HTTP/2) are bounded as they are read, by [`crate::body::limited`].

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::StatusCode;

use crate::body::{Response, text_response};

/// Layer for [`BodyLimit`].
#[derive(Clone, Copy, Debug)]
pub struct BodyLimitLayer {
    limit: usize,
}

impl BodyLimitLayer {
    /// Bodies longer than `limit` bytes get 413.
    pub fn new(limit: usize) -> Self {
        Self { limit }
    }
}

impl<S> tower::Layer<S> for BodyLimitLayer {
    type Service = BodyLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BodyLimit {
            inner,
            limit: self.limit,
        }
    }
}

/// Answers 413 to requests whose `Content-Length` is over the limit.
#[derive(Clone, Debug)]
pub struct BodyLimit<S> {
    inner: S,
    limit: usize,
}

impl<S, B> tower::Service<http::Request<B>> for BodyLimit<S>
where
    B: Send + 'static,
    S: tower::Service<http::Request<B>, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let declared = request
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if let Some(length) = declared
            && length > self.limit as u64
        {
            let limit = self.limit;
            return Box::pin(async move { Ok(too_large(limit)) });
        }
        Box::pin(self.inner.call(request))
    }
}

/// The 413 response.
pub(crate) fn too_large(limit: usize) -> Response {
    let mut response = text_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("request body larger than the limit of {limit} bytes\n"),
    );
    response.headers_mut().insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("close"),
    );
    response
}
