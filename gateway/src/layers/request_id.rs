//! Request ids: every request carries an `x-request-id` header and a
//! [`RequestId`] extension, and its response echoes the header.

use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use http::{HeaderName, HeaderValue};

use crate::body::Response;

/// The header that carries the id.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// [`REQUEST_ID_HEADER`] as a header name, made at compile time (a
/// `&str` key is parsed again on every map operation).
pub(crate) static REQUEST_ID_NAME: HeaderName = HeaderName::from_static(REQUEST_ID_HEADER);

/// The id of one request, as a request extension.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct RequestId(pub HeaderValue);

impl RequestId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Ids are checked to be visible ASCII when made or accepted.
        self.0.to_str().unwrap_or("-")
    }
}

/// Layer for [`SetRequestId`].
#[derive(Clone, Debug)]
pub struct RequestIdLayer {
    generator: Arc<IdGenerator>,
}

/// Makes the ids of requests that come without a usable one.
#[derive(Debug)]
pub(crate) struct IdGenerator {
    prefix: u32,
    next: AtomicU64,
}

impl IdGenerator {
    /// Ids `PREFIX-COUNTER`, with a prefix random per process.
    pub(crate) fn new() -> Self {
        Self {
            prefix: RandomState::new().hash_one(std::process::id()) as u32,
            next: AtomicU64::new(1),
        }
    }
}

/// Gives `request` its id: the client's when acceptable, else a new one,
/// set as the `x-request-id` header and as a [`RequestId`] extension.
/// Returns the id, for the response.
pub(crate) fn request_id<B>(
    generator: &IdGenerator,
    request: &mut http::Request<B>,
) -> HeaderValue {
    let id = match request.headers().get(&REQUEST_ID_NAME) {
        Some(value) if acceptable(value) => value.clone(),
        _ => {
            let n = generator.next.fetch_add(1, Ordering::Relaxed);
            let id = generated_id(generator.prefix, n);
            request
                .headers_mut()
                .insert(REQUEST_ID_NAME.clone(), id.clone());
            id
        }
    };
    request.extensions_mut().insert(RequestId(id.clone()));
    id
}

impl RequestIdLayer {
    /// Ids are `PREFIX-COUNTER`, with a prefix random per process.
    pub fn new() -> Self {
        Self {
            generator: Arc::new(IdGenerator::new()),
        }
    }
}

impl Default for RequestIdLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> tower::Layer<S> for RequestIdLayer {
    type Service = SetRequestId<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SetRequestId {
            inner,
            generator: self.generator.clone(),
        }
    }
}

/// Sets the request id on the request and its response.
#[derive(Clone, Debug)]
pub struct SetRequestId<S> {
    inner: S,
    generator: Arc<IdGenerator>,
}

/// How many bytes of ids [`shared_value`] allocates at a time.
const ID_BLOCK: usize = 4096;

thread_local! {
    /// The block the thread's next generated ids are cut from.
    static ID_BLOCK_BUFFER: std::cell::RefCell<bytes::BytesMut> =
        std::cell::RefCell::new(bytes::BytesMut::new());
}

/// `text` as a header value cut from the thread's block of ids: one
/// allocation per [`ID_BLOCK`] bytes of ids instead of one per id, and the
/// id's copies (request header, extension, response header) share it
/// with a reference count instead of a second allocation on the first
/// copy. A block is freed once the last id cut from it is dropped.
fn shared_value(text: &[u8]) -> Option<HeaderValue> {
    let bytes = ID_BLOCK_BUFFER
        .try_with(|block| {
            let mut block = block.try_borrow_mut().ok()?;
            if block.capacity() < text.len() {
                block.reserve(ID_BLOCK);
            }
            block.extend_from_slice(text);
            Some(block.split().freeze())
        })
        .ok()
        .flatten()?;
    HeaderValue::from_maybe_shared(bytes).ok()
}

/// `PREFIX-N`: the prefix as 8 hex digits, a dash and `n` in hex, written
/// into a stack buffer (no formatting machinery) and cut from the
/// thread's block of ids ([`shared_value`]).
fn generated_id(prefix: u32, n: u64) -> HeaderValue {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut text = [0u8; 8 + 1 + 16];
    for (shift, byte) in (0..8).rev().zip(text.iter_mut()) {
        *byte = HEX[((prefix >> (shift * 4)) & 0xf) as usize];
    }
    text[8] = b'-';
    let digits = (64 - n.leading_zeros()).div_ceil(4).max(1) as usize;
    for (shift, byte) in (0..digits).rev().zip(text[9..].iter_mut()) {
        *byte = HEX[((n >> (shift * 4)) & 0xf) as usize];
    }
    // Hex digits and a dash are always a valid header value.
    let text = &text[..9 + digits];
    shared_value(text)
        .or_else(|| HeaderValue::from_bytes(text).ok())
        .unwrap_or(HeaderValue::from_static("-"))
}

/// A client's id is kept when it is 1 to 128 characters of `[A-Za-z0-9._:-]`.
fn acceptable(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    (1..=128).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

impl<S, B> tower::Service<http::Request<B>> for SetRequestId<S>
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

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let id = request_id(&self.generator, &mut request);
        let future = self.inner.call(request);
        Box::pin(async move {
            let mut response = future.await?;
            response.headers_mut().insert(REQUEST_ID_NAME.clone(), id);
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_the_prefix_and_the_counter_in_hex() {
        assert_eq!(generated_id(0xdead_beef, 1), "deadbeef-1");
        assert_eq!(generated_id(0x1f, 0x1234_abcd), "0000001f-1234abcd");
        assert_eq!(generated_id(0, 0), "00000000-0");
        assert_eq!(
            generated_id(u32::MAX, u64::MAX),
            "ffffffff-ffffffffffffffff"
        );
        assert!(acceptable(&generated_id(7, 42)));
    }

    #[test]
    fn ids_cut_from_one_block_stay_apart() {
        // Enough ids to fill several blocks, all kept alive at once.
        let ids: Vec<HeaderValue> = (0..1_000).map(|n| generated_id(0xabc, n)).collect();
        for (n, id) in ids.iter().enumerate() {
            assert_eq!(id, &format!("00000abc-{n:x}"));
        }
        // A copy outlives the block's other ids.
        let kept = ids[500].clone();
        drop(ids);
        assert_eq!(kept, "00000abc-1f4");
    }

    #[test]
    fn only_sane_client_ids_are_kept() {
        assert!(acceptable(&HeaderValue::from_static("abc-123_x.y:z")));
        assert!(!acceptable(&HeaderValue::from_static("")));
        assert!(!acceptable(&HeaderValue::from_static("has space")));
        assert!(!acceptable(
            &HeaderValue::from_str(&"a".repeat(129)).unwrap()
        ));
    }
}
