//! What an operation handler receives and returns.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use ithaca_wsdl::{Envelope, Fault, FaultCode, HeaderBlock, NamespaceBinding, SoapVersion};

/// The future an [`OperationHandler`] returns.
pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<Vec<u8>, SoapError>> + Send>>;

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
}

impl<F, Fut> OperationHandler for F
where
    F: Fn(SoapRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Vec<u8>, SoapError>> + Send + 'static,
{
    fn call(&self, request: SoapRequest) -> HandlerFuture {
        Box::pin(self(request))
    }
}

/// One request, read, checked and dispatched: the message bytes (shared,
/// never copied) and where its parts are.
#[derive(Debug, Clone)]
pub struct SoapRequest {
    pub(crate) message: Bytes,
    pub(crate) envelope: Envelope,
    pub(crate) operation: Arc<str>,
    pub(crate) action: Option<String>,
    pub(crate) headers: http::HeaderMap,
}

impl SoapRequest {
    /// The SOAP version of the request (and of the response).
    pub fn version(&self) -> SoapVersion {
        self.envelope.version
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
            .body
            .first_child
            .as_ref()
            .and_then(|entry| self.message.get(entry.range.clone()))
            .unwrap_or_default()
    }

    /// Everything between `<Body>` and `</Body>`, as shared bytes.
    pub fn payload(&self) -> Bytes {
        let range = self.envelope.body.payload.clone();
        if range.start <= range.end && range.end <= self.message.len() {
            self.message.slice(range)
        } else {
            Bytes::new()
        }
    }

    /// The namespace bindings in scope inside the body, for a parser of
    /// [`SoapRequest::body`] alone.
    pub fn body_scope(&self) -> Vec<NamespaceBinding> {
        self.envelope.body_scope()
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
        &self.envelope
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

    /// The fault this error answers, given the names of the faults the
    /// operation declares.
    pub(crate) fn into_fault(self, declared: &[String]) -> Fault {
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
        let fault = SoapError::sender("bad").into_fault(&declared);
        assert_eq!((fault.code, fault.reason()), (FaultCode::Sender, "bad"));
        let fault = SoapError::receiver("down").into_fault(&declared);
        assert_eq!(fault.code, FaultCode::Receiver);
        let fault = SoapError::declared("Overdrawn", "no money", "<m:O xmlns:m=\"urn:m\"/>")
            .into_fault(&declared);
        assert_eq!(fault.code, FaultCode::Receiver);
        assert_eq!(fault.detail.as_deref(), Some("<m:O xmlns:m=\"urn:m\"/>"));
        let fault = SoapError::declared("Other", "x", "<d/>").into_fault(&declared);
        assert_eq!(fault.detail, None);
        assert!(fault.reason().contains("undeclared fault `Other`"));
        let given = Fault::new(FaultCode::MustUnderstand, "mu");
        assert_eq!(SoapError::from(given.clone()).into_fault(&[]), given);
    }
}
