//! Where a bridged object's SOAP calls go: a service hosted by this
//! gateway (its router called in-process with an `http::Request`, no
//! socket) or a remote endpoint (the pooled [`SoapClient`]), each under a
//! deadline.

use std::future::Future;
use std::ops::Range;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, header};
use ithaca_wsdl::{
    EnvelopeWriter, Fault, Limits, NamespaceBinding, SoapVersion, read_envelope, read_fault,
};

use crate::body::{full, read_to_bytes};
use crate::router::Router;
use crate::soap::client::{ClientError, SoapClient};

/// The largest SOAP response a bridged call reads.
pub const MAX_RESPONSE_SIZE: usize = 16 << 20;

/// How a SOAP call ended, when it ended with a SOAP message.
#[derive(Debug)]
pub enum SoapAnswer {
    /// A response envelope (empty for a one-way operation's `202`).
    Response(ResponseMessage),
    /// A fault, and the whole message (for its detail).
    Fault(Box<Fault>, Bytes),
}

/// A response message, and where its body is when the backend already
/// read the envelope (so that it is read once).
#[derive(Debug)]
pub struct ResponseMessage {
    /// The whole message.
    pub message: Bytes,
    /// The range of the body's content in `message` and the namespace
    /// bindings in scope there, when known.
    pub body: Option<(Range<usize>, Vec<NamespaceBinding>)>,
}

impl ResponseMessage {
    /// A message whose envelope has not been read.
    pub fn unread(message: Bytes) -> Self {
        Self {
            message,
            body: None,
        }
    }
}

/// Why a SOAP call gave no SOAP message.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The backend could not be reached (connection refused, reset).
    #[error("the SOAP backend is unreachable: {0}")]
    Unreachable(String),
    /// No answer within the deadline.
    #[error("the SOAP backend did not answer within {0:?}")]
    Timeout(Duration),
    /// The answer is not a usable SOAP message.
    #[error("the SOAP backend's answer is not usable: {0}")]
    BadResponse(String),
}

/// Where a bridged object's calls go.
#[derive(Clone, Debug)]
pub enum Backend {
    /// A service of this gateway: its router, and the path it is mounted at.
    Hosted {
        /// The hosted services.
        router: Router,
        /// The service's path (`/services/EchoService`).
        path: String,
        /// The SOAP version of the port called.
        version: SoapVersion,
        /// The deadline of one call.
        timeout: Duration,
    },
    /// A remote endpoint.
    Remote(Box<SoapClient>),
}

impl Backend {
    /// A short description for logs and `GET /bridge/objects`.
    pub fn describe(&self) -> String {
        match self {
            Self::Hosted { path, .. } => format!("hosted {path}"),
            Self::Remote(client) => client.endpoint().to_string(),
        }
    }

    /// Sends `body` (with header blocks `headers`) as SOAP action `action`.
    pub async fn call(
        &self,
        action: Option<&str>,
        headers: &[Vec<u8>],
        body: &[u8],
    ) -> Result<SoapAnswer, BackendError> {
        match self {
            Self::Remote(client) => match client.call_with_headers(action, headers, body).await {
                Ok(response) => Ok(SoapAnswer::Response(ResponseMessage::unread(
                    response.message,
                ))),
                Err(ClientError::Fault { fault, message }) => Ok(SoapAnswer::Fault(fault, message)),
                Err(ClientError::Timeout(after)) => Err(BackendError::Timeout(after)),
                Err(ClientError::Http(message)) => Err(BackendError::Unreachable(message)),
                Err(other) => Err(BackendError::BadResponse(other.to_string())),
            },
            Self::Hosted {
                router,
                path,
                version,
                timeout,
            } => {
                let mut exchange =
                    std::pin::pin!(hosted_call(router, path, *version, action, headers, body));
                // A hosted service usually answers on the first poll: the
                // deadline's timer is only made when it does not.
                let first =
                    std::future::poll_fn(|cx| std::task::Poll::Ready(exchange.as_mut().poll(cx)))
                        .await;
                if let std::task::Poll::Ready(answer) = first {
                    return answer;
                }
                match tokio::time::timeout(*timeout, exchange).await {
                    Ok(answer) => answer,
                    Err(_) => Err(BackendError::Timeout(*timeout)),
                }
            }
        }
    }
}

async fn hosted_call(
    router: &Router,
    path: &str,
    version: SoapVersion,
    action: Option<&str>,
    headers: &[Vec<u8>],
    body: &[u8],
) -> Result<SoapAnswer, BackendError> {
    let writer = headers
        .iter()
        .fold(EnvelopeWriter::new(version), |writer, block| {
            writer.header_block(block)
        });
    let envelope = writer
        .to_vec(body)
        .map_err(|e| BackendError::BadResponse(format!("cannot write the request: {e}")))?;
    let action = action.unwrap_or("").replace(['"', '\\'], "");
    let mut builder = http::Request::builder().method(Method::POST).uri(path);
    builder = match version {
        SoapVersion::Soap11 => builder
            .header(header::CONTENT_TYPE, "text/xml; charset=utf-8")
            .header("SOAPAction", format!("\"{action}\"")),
        SoapVersion::Soap12 => builder.header(
            header::CONTENT_TYPE,
            format!("application/soap+xml; charset=utf-8; action=\"{action}\""),
        ),
    };
    let request = builder
        .body(full(envelope))
        .map_err(|e| BackendError::BadResponse(e.to_string()))?;
    let response = router.dispatch(request).await;
    let status = response.status();
    let message = read_to_bytes(response.into_body(), MAX_RESPONSE_SIZE)
        .await
        .map_err(|e| BackendError::BadResponse(e.to_string()))?;
    if status == http::StatusCode::ACCEPTED && message.is_empty() {
        return Ok(SoapAnswer::Response(ResponseMessage::unread(message)));
    }
    let limits = Limits::DEFAULT;
    let envelope = read_envelope(&message, None, &limits)
        .map_err(|e| BackendError::BadResponse(format!("HTTP {status}: {e}")))?;
    if envelope.is_fault() {
        let (_, fault) = read_fault(&message, &limits)
            .map_err(|e| BackendError::BadResponse(format!("HTTP {status}: {e}")))?;
        return Ok(SoapAnswer::Fault(Box::new(fault), message));
    }
    let body = Some((envelope.body.payload.clone(), envelope.body_scope()));
    Ok(SoapAnswer::Response(ResponseMessage { message, body }))
}
