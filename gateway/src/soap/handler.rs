//! What an operation handler receives and returns.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use ithaca_wsdl::{
    Envelope, EnvelopeRanges, Fault, FaultCode, HeaderBlock, NamespaceBinding, QName, SoapVersion,
};

/// The future an [`OperationHandler`] returns.
pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<Vec<u8>, SoapError>> + Send>>;

/// The future [`OperationHandler::respond`] returns: the body and the
/// output header blocks.
pub type SoapResponseFuture = Pin<Box<dyn Future<Output = Result<SoapResponse, SoapError>> + Send>>;

/// What an operation answers: the bytes of the response body's content and
/// the output header blocks (a WSDL `soap:header` on the operation's
/// output), written in this order into the response envelope's `Header`.
///
/// Each header block is the bytes of one element, start tag to end tag,
/// binding every prefix it uses itself (`<t:sessionEcho xmlns:t="urn:t">`).
/// The gateway checks each block is one well-formed element without a DTD
/// and at most [`MAX_HEADER_BLOCK_BYTES`] long ([`MAX_HEADER_BLOCKS`] of
/// them at most); a block that is not answers a Receiver fault.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SoapResponse {
    /// The body's content, as a handler returning bytes gives it.
    pub body: Vec<u8>,
    /// The output header blocks, in document order.
    pub headers: Vec<Bytes>,
}

/// The most output header blocks a response may carry.
pub const MAX_HEADER_BLOCKS: usize = 64;

/// The longest output header block, in bytes.
pub const MAX_HEADER_BLOCK_BYTES: usize = 64 * 1024;

impl SoapResponse {
    /// A response with this body content and no header blocks.
    pub fn new(body: impl Into<Vec<u8>>) -> Self {
        Self {
            body: body.into(),
            headers: Vec::new(),
        }
    }

    /// Adds an output header block (one element binding its own
    /// namespaces).
    #[must_use]
    pub fn with_header(mut self, block: impl Into<Bytes>) -> Self {
        self.headers.push(block.into());
        self
    }
}

impl From<Vec<u8>> for SoapResponse {
    fn from(body: Vec<u8>) -> Self {
        Self::new(body)
    }
}

/// Makes a handler of an `async` closure or function that answers a
/// [`SoapResponse`] (body plus output header blocks), for operations whose
/// output declares a `soap:header`:
///
/// ```
/// use ithaca_gateway::soap::{SoapRequest, SoapResponse, with_headers};
///
/// let handler = with_headers(|_request: SoapRequest| async move {
///     Ok(SoapResponse::new(br#"<m:pingResponse xmlns:m="urn:m"/>"#.to_vec())
///         .with_header(&br#"<m:trace xmlns:m="urn:m">7</m:trace>"#[..]))
/// });
/// # let _ = handler;
/// ```
pub fn with_headers<F, Fut>(handler: F) -> WithHeaders<F>
where
    F: Fn(SoapRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<SoapResponse, SoapError>> + Send + 'static,
{
    WithHeaders(handler)
}

/// A handler answering body and output header blocks: see [`with_headers`].
#[derive(Debug, Clone)]
pub struct WithHeaders<F>(F);

impl<F, Fut> OperationHandler for WithHeaders<F>
where
    F: Fn(SoapRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<SoapResponse, SoapError>> + Send + 'static,
{
    /// The body alone (the header blocks are dropped): the gateway calls
    /// [`OperationHandler::respond`], which keeps them.
    fn call(&self, request: SoapRequest) -> HandlerFuture {
        let future = (self.0)(request);
        Box::pin(async move { future.await.map(|response| response.body) })
    }

    fn respond(&self, request: SoapRequest) -> SoapResponseFuture {
        Box::pin((self.0)(request))
    }
}

/// The code behind one operation: takes the request, returns the bytes of
/// the response body's content (for document/literal wrapped, the one
/// response element, binding its own namespaces) or a [`SoapError`].
///
/// Any `async` closure or function `Fn(SoapRequest) -> impl Future<Output =
/// Result<Vec<u8>, SoapError>>` is a handler. For a one-way operation the
/// bytes returned are ignored and the client gets `202 Accepted`.
pub trait OperationHandler: Send + Sync + 'static {
    /// Handles one request.
    fn call(&self, request: SoapRequest) -> HandlerFuture;

    /// Handles one request, answering the body and the output header
    /// blocks; the gateway calls this. By default the body is what
    /// [`OperationHandler::call`] answers and there are no header blocks.
    fn respond(&self, request: SoapRequest) -> SoapResponseFuture {
        let future = self.call(request);
        Box::pin(async move { future.await.map(SoapResponse::from) })
    }
}

impl<F, Fut> OperationHandler for F
where
    F: Fn(SoapRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Vec<u8>, SoapError>> + Send + 'static,
{
    fn call(&self, request: SoapRequest) -> HandlerFuture {
        Box::pin(self(request))
    }

    /// What the default does, with one boxed future instead of two.
    fn respond(&self, request: SoapRequest) -> SoapResponseFuture {
        let future = self(request);
        Box::pin(async move { future.await.map(SoapResponse::from) })
    }
}

/// One request, read, checked and dispatched: the message bytes (shared,
/// never copied) and where its parts are.
#[derive(Debug, Clone)]
pub struct SoapRequest {
    pub(crate) message: Bytes,
    /// The envelope as the request path read it: ranges into `message`.
    pub(crate) envelope: EnvelopeRanges,
    /// The full envelope, made from `envelope` the first time a handler
    /// asks for it.
    pub(crate) full: std::sync::OnceLock<Envelope>,
    pub(crate) operation: Arc<str>,
    pub(crate) action: Option<String>,
    pub(crate) headers: http::HeaderMap,
}

impl SoapRequest {
    /// The SOAP version of the request (and of the response).
    pub fn version(&self) -> SoapVersion {
        self.envelope.version()
    }

    /// The operation dispatched to.
    pub fn operation(&self) -> &str {
        &self.operation
    }

    /// The SOAP action sent with the request, if any.
    pub fn action(&self) -> Option<&str> {
        self.action.as_deref()
    }

    /// The bytes of the body's first child element, start tag to end tag
    /// (for document/literal wrapped, the operation's request element).
    /// Its prefixes may be bound outside it: see [`SoapRequest::body_scope`].
    /// Empty when the body is.
    pub fn body(&self) -> &[u8] {
        self.envelope
            .body()
            .first_child
            .as_ref()
            .and_then(|entry| self.message.get(entry.range.clone()))
            .unwrap_or_default()
    }

    /// Everything between `<Body>` and `</Body>`, as shared bytes.
    pub fn payload(&self) -> Bytes {
        let range = self.envelope.body().payload.clone();
        if range.start <= range.end && range.end <= self.message.len() {
            self.message.slice(range)
        } else {
            Bytes::new()
        }
    }

    /// The namespace bindings in scope inside the body, for a parser of
    /// [`SoapRequest::body`] alone.
    pub fn body_scope(&self) -> Vec<NamespaceBinding> {
        self.envelope.body_scope(&self.message)
    }

    /// The header blocks, in document order.
    pub fn header_blocks(&self) -> &[HeaderBlock] {
        self.envelope.header_blocks()
    }

    /// The bytes of one header block.
    pub fn header_block_bytes(&self, block: &HeaderBlock) -> &[u8] {
        self.message.get(block.range.clone()).unwrap_or_default()
    }

    /// The envelope as read.
    pub fn envelope(&self) -> &Envelope {
        self.full
            .get_or_init(|| self.envelope.envelope(&self.message))
    }

    /// The whole message.
    pub fn message(&self) -> &Bytes {
        &self.message
    }

    /// The HTTP request headers.
    pub fn http_headers(&self) -> &http::HeaderMap {
        &self.headers
    }
}

/// Why a handler did not produce a response; each answers exactly one
/// SOAP fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SoapError {
    /// The request is wrong: a Client (SOAP 1.1) or Sender (SOAP 1.2)
    /// fault with this reason.
    #[error("{0}")]
    Sender(String),
    /// The service failed: a Server (SOAP 1.1) or Receiver (SOAP 1.2) fault
    /// with this reason.
    #[error("{0}")]
    Receiver(String),
    /// A fault the operation declares (`wsdl:fault`), sent as a Server /
    /// Receiver fault whose detail is `detail`, the XML of the fault
    /// message's element (binding its own namespaces). Naming a fault the
    /// operation does not declare answers a plain Server / Receiver fault
    /// instead.
    #[error("declared fault `{name}`: {reason}")]
    Declared {
        /// The `wsdl:fault` name.
        name: String,
        /// The fault string / reason text.
        reason: String,
        /// The detail entry's XML.
        detail: String,
    },
    /// A fault about a header block, declared by a `soap:headerfault` of
    /// the operation: a fault with this code and reason whose `Header`
    /// carries `block`, the XML of the header fault's element (one element
    /// binding its own namespaces, checked as output header blocks are),
    /// and which has no detail (SOAP 1.1 §4.4). A block that is not a
    /// declared header fault of the operation answers a plain Server /
    /// Receiver fault instead.
    #[error("header fault: {reason}")]
    HeaderFault {
        /// The fault code (usually Sender: the header sent was wrong).
        code: FaultCode,
        /// The fault string / reason text.
        reason: String,
        /// The header fault block's XML.
        block: String,
    },
    /// Any fault, as given (subcodes, several reasons, node, role, detail).
    #[error("{}", .0.reason())]
    Fault(Box<Fault>),
}

impl SoapError {
    /// A Client / Sender fault.
    pub fn sender(reason: impl Into<String>) -> Self {
        Self::Sender(reason.into())
    }

    /// A Server / Receiver fault.
    pub fn receiver(reason: impl Into<String>) -> Self {
        Self::Receiver(reason.into())
    }

    /// A declared fault with its detail element.
    pub fn declared(
        name: impl Into<String>,
        reason: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Self::Declared {
            name: name.into(),
            reason: reason.into(),
            detail: detail.into(),
        }
    }

    /// A fault about a header block, declared by a `soap:headerfault`:
    /// `block` is the header fault element's XML, written in the fault
    /// message's `Header`.
    pub fn header_fault(
        code: FaultCode,
        reason: impl Into<String>,
        block: impl Into<String>,
    ) -> Self {
        Self::HeaderFault {
            code,
            reason: reason.into(),
            block: block.into(),
        }
    }

    /// The fault this error answers, given the names of the faults the
    /// operation declares and the blocks of its header faults.
    pub(crate) fn into_fault(self, declared: &[String], header_faults: &[QName]) -> Fault {
        match self {
            Self::Sender(reason) => Fault::new(FaultCode::Sender, reason),
            Self::Receiver(reason) => Fault::new(FaultCode::Receiver, reason),
            Self::Declared {
                name,
                reason,
                detail,
            } => {
                if declared.contains(&name) {
                    let mut fault = Fault::new(FaultCode::Receiver, reason);
                    fault.detail = Some(detail);
                    fault
                } else {
                    tracing::warn!(fault = %name, "a handler raised a fault its operation does not declare");
                    Fault::new(
                        FaultCode::Receiver,
                        format!("internal error: the service raised the undeclared fault `{name}`"),
                    )
                }
            }
            Self::HeaderFault {
                code,
                reason,
                block,
            } => match super::reply::header_block_name(block.as_bytes()) {
                Ok(name) if header_faults.contains(&name) => {
                    let mut fault = Fault::new(code, reason);
                    fault.header_blocks = vec![block];
                    fault
                }
                Ok(name) => {
                    tracing::warn!(block = %name, "a handler raised a header fault its operation does not declare");
                    Fault::new(
                        FaultCode::Receiver,
                        format!(
                            "internal error: the service raised the undeclared header fault {name}"
                        ),
                    )
                }
                Err(reason) => {
                    tracing::warn!(%reason, "a handler raised a bad header fault block");
                    Fault::new(
                        FaultCode::Receiver,
                        format!(
                            "internal error: the service raised a bad header fault block: {reason}"
                        ),
                    )
                }
            },
            Self::Fault(fault) => *fault,
        }
    }
}

impl From<Fault> for SoapError {
    fn from(fault: Fault) -> Self {
        Self::Fault(Box::new(fault))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_become_faults() {
        let declared = ["Overdrawn".to_owned()];
        let fault = SoapError::sender("bad").into_fault(&declared, &[]);
        assert_eq!((fault.code, fault.reason()), (FaultCode::Sender, "bad"));
        let fault = SoapError::receiver("down").into_fault(&declared, &[]);
        assert_eq!(fault.code, FaultCode::Receiver);
        let fault = SoapError::declared("Overdrawn", "no money", "<m:O xmlns:m=\"urn:m\"/>")
            .into_fault(&declared, &[]);
        assert_eq!(fault.code, FaultCode::Receiver);
        assert_eq!(fault.detail.as_deref(), Some("<m:O xmlns:m=\"urn:m\"/>"));
        let fault = SoapError::declared("Other", "x", "<d/>").into_fault(&declared, &[]);
        assert_eq!(fault.detail, None);
        assert!(fault.reason().contains("undeclared fault `Other`"));
        let refused = QName::new("urn:m", "refused");
        let block = r#"<m:refused xmlns:m="urn:m">late</m:refused>"#;
        let fault = SoapError::header_fault(FaultCode::Sender, "bad session", block)
            .into_fault(&declared, std::slice::from_ref(&refused));
        assert_eq!(
            (fault.code, fault.reason()),
            (FaultCode::Sender, "bad session")
        );
        assert_eq!(
            (fault.header_blocks, fault.detail),
            (vec![block.to_owned()], None)
        );
        let fault = SoapError::header_fault(FaultCode::Sender, "x", "<m:other xmlns:m=\"urn:m\"/>")
            .into_fault(&declared, std::slice::from_ref(&refused));
        assert!(
            fault
                .reason()
                .contains("undeclared header fault {urn:m}other"),
            "{fault:?}"
        );
        assert!(fault.header_blocks.is_empty());
        let fault = SoapError::header_fault(FaultCode::Sender, "x", "<m:refused>")
            .into_fault(&declared, std::slice::from_ref(&refused));
        assert!(
            fault.reason().contains("bad header fault block"),
            "{fault:?}"
        );
        let given = Fault::new(FaultCode::MustUnderstand, "mu");
        assert_eq!(SoapError::from(given.clone()).into_fault(&[], &[]), given);
    }
}
