//! The body types that flow through the gateway's service stack.

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Limited};

/// The error type inside bodies and middleware.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A request or response body: a stream of bytes.
///
/// The two bodies every request has are held without a box: a body of
/// bytes known in advance ([`full`]) and hyper's incoming body under the
/// size limit ([`limited_incoming`]); any other body is boxed.
///
/// A newtype rather than an alias of `BoxBody` so that the trait solver never
/// has to reason about the `dyn Error` inside (which trips rustc's
/// higher-ranked `Send` checks in async code).
#[derive(Debug)]
pub struct Body(Kind);

#[derive(Debug)]
enum Kind {
    /// Bytes known in advance, until they are taken.
    Full(Option<Bytes>),
    /// A request body as hyper reads it, under the size limit.
    Incoming(Limited<hyper::body::Incoming>),
    /// Any other body.
    Boxed(BoxBody<Bytes, BoxError>),
}

impl Body {
    /// Wraps any body whose errors convert to [`BoxError`].
    pub fn new<B>(body: B) -> Self
    where
        B: http_body::Body<Data = Bytes> + Send + Sync + 'static,
        B::Error: Into<BoxError>,
    {
        Self(Kind::Boxed(body.map_err(Into::into).boxed()))
    }

    /// An empty body.
    pub fn empty() -> Self {
        full(Bytes::new())
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, BoxError>>> {
        use std::task::Poll;
        match &mut self.0 {
            Kind::Full(bytes) => Poll::Ready(
                bytes
                    .take()
                    .filter(|bytes| !bytes.is_empty())
                    .map(|bytes| Ok(http_body::Frame::data(bytes))),
            ),
            // `Limited` and `Incoming` are `Unpin`.
            Kind::Incoming(body) => std::pin::Pin::new(body).poll_frame(cx),
            Kind::Boxed(body) => std::pin::Pin::new(body).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.0 {
            Kind::Full(bytes) => bytes.as_ref().is_none_or(Bytes::is_empty),
            Kind::Incoming(body) => body.is_end_stream(),
            Kind::Boxed(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> http_body::SizeHint {
        match &self.0 {
            Kind::Full(bytes) => {
                http_body::SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
            Kind::Incoming(body) => body.size_hint(),
            Kind::Boxed(body) => body.size_hint(),
        }
    }
}

/// A request body as handlers see it: already bounded by
/// `server.max_body_size`.
pub type RequestBody = Body;

/// A response body.
pub type ResponseBody = Body;

/// A request as handlers see it.
pub type Request = http::Request<RequestBody>;

/// A response as handlers produce it.
pub type Response = http::Response<ResponseBody>;

/// A body holding `bytes`, for requests in tests and responses.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Body(Kind::Full(Some(bytes.into())))
}

/// Wraps any body so that reading more than `limit` bytes fails with
/// [`http_body_util::LengthLimitError`].
pub fn limited<B>(body: B, limit: usize) -> RequestBody
where
    B: http_body::Body<Data = Bytes> + Send + Sync + 'static,
    B::Error: Into<BoxError>,
{
    Body::new(Limited::new(body, limit))
}

/// [`limited`] for hyper's incoming body, without a box.
pub fn limited_incoming(body: hyper::body::Incoming, limit: usize) -> RequestBody {
    Body(Kind::Incoming(Limited::new(body, limit)))
}

/// Why a request body could not be read whole.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The body is larger than `server.max_body_size`.
    #[error("request body larger than {limit} bytes")]
    TooLarge {
        /// The limit in force.
        limit: usize,
    },
    /// The connection failed or the client stopped sending.
    #[error("reading the request body failed: {0}")]
    Read(#[source] BoxError),
}

/// Reads a whole request body, turning the size limit into
/// [`BodyError::TooLarge`].
///
/// A body that arrives as one piece (the usual case for a small request
/// with a `Content-Length`) is returned as that piece, without a copy;
/// several pieces are joined in one buffer sized by the body's size hint
/// (at most `limit`). Trailers are ignored.
pub async fn read_to_bytes(mut body: RequestBody, limit: usize) -> Result<Bytes, BodyError> {
    let failed = |e: BoxError| {
        if e.is::<http_body_util::LengthLimitError>() {
            BodyError::TooLarge { limit }
        } else {
            BodyError::Read(e)
        }
    };
    let mut first: Option<Bytes> = None;
    let mut joined: Option<bytes::BytesMut> = None;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map_err(failed)?.into_data() else {
            continue;
        };
        if let Some(joined) = joined.as_mut() {
            joined.extend_from_slice(&data);
        } else if let Some(piece) = first.take() {
            // The body's own `Limited` wrapper bounds what is read; the
            // hint only sizes the buffer, never above the limit.
            let expected =
                usize::try_from(http_body::Body::size_hint(&body).lower()).unwrap_or(limit);
            let capacity = piece
                .len()
                .saturating_add(data.len())
                .saturating_add(expected)
                .min(limit);
            let mut buffer = bytes::BytesMut::with_capacity(capacity);
            buffer.extend_from_slice(&piece);
            buffer.extend_from_slice(&data);
            joined = Some(buffer);
        } else {
            first = Some(data);
        }
    }
    Ok(match joined {
        Some(joined) => joined.freeze(),
        None => first.unwrap_or_default(),
    })
}

/// A response extension saying that an error status was the client's doing
/// even though it is a 5xx: SOAP 1.1 sends every fault, `Client` ones
/// included, with 500. The trace layer logs such responses at `debug`, so a
/// client cannot flood the log with warnings.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub struct ClientCaused;

/// A plain-text response with `status`.
pub fn text_response(status: http::StatusCode, text: impl Into<String>) -> Response {
    let mut response = http::Response::new(full(text.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// A body that yields the given pieces, one frame each.
    struct Pieces(VecDeque<&'static [u8]>);

    impl http_body::Body for Pieces {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
        ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
            Poll::Ready(
                self.0
                    .pop_front()
                    .map(|piece| Ok(http_body::Frame::data(Bytes::from_static(piece)))),
            )
        }
    }

    fn body(pieces: &[&'static [u8]], limit: usize) -> RequestBody {
        limited(Pieces(pieces.iter().copied().collect()), limit)
    }

    #[tokio::test]
    async fn bodies_are_read_whole_in_one_piece_or_many() {
        assert_eq!(read_to_bytes(body(&[], 10), 10).await.unwrap(), "");
        assert_eq!(
            read_to_bytes(body(&[b"hello"], 10), 10).await.unwrap(),
            "hello"
        );
        assert_eq!(
            read_to_bytes(body(&[b"he", b"", b"ll", b"o"], 10), 10)
                .await
                .unwrap(),
            "hello"
        );
        assert!(matches!(
            read_to_bytes(body(&[b"hello", b"world", b"!"], 10), 10).await,
            Err(BodyError::TooLarge { limit: 10 })
        ));
    }
}
