//! One hosted port: the path of a SOAP request from HTTP to handler and
//! back.
//!
//! In order: the method (POST, or `GET ?wsdl`); the content type, which
//! gives the SOAP version; the body, read whole under the gateway's size
//! limit; the envelope, read by `ithaca_wsdl`'s streaming reader under its
//! limits; `mustUnderstand`; dispatch; schema validation of the body; the
//! handler; the response envelope in the request's version. Every refusal
//! is exactly one response: a fault of the request's SOAP version with the
//! status that version's HTTP binding gives it, or a plain-text status when
//! the request is not SOAP at all.

use std::collections::HashSet;
use std::sync::Arc;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{Method, StatusCode};
use ithaca_wsdl::xsd::InstanceLimits;
use ithaca_wsdl::{
    ContentType, ContentTypeError, Fault, FaultCode, Limits, Loaded, QName, SoapVersion,
    parse_soap_action, read_envelope,
};

use super::dispatch::Table;
use super::guard;
use super::handler::{OperationHandler, SoapRequest};
use super::publish::{self, Publication};
use super::reply;
use crate::body::{BodyError, Request, Response, read_to_bytes};
use crate::router::{Handler, ResponseFuture};

/// What the request path needs to know about one operation.
pub(crate) struct Operation {
    /// Its name.
    pub(crate) name: Arc<str>,
    /// One-way: answered `202 Accepted` with no body.
    pub(crate) one_way: bool,
    /// The global element the body's first child is validated against
    /// (document/literal operations only).
    pub(crate) validate_as: Option<QName>,
    /// How many body elements the input message has.
    pub(crate) body_parts: usize,
    /// The names of the declared faults.
    pub(crate) faults: Vec<String>,
    /// The handler; `None` answers a Receiver fault.
    pub(crate) handler: Option<Arc<dyn OperationHandler>>,
}

/// Settings shared by every port of a service.
pub(crate) struct Shared {
    /// The service's name, for messages.
    pub(crate) service: String,
    /// The contract (its schema validates requests).
    pub(crate) loaded: Arc<Loaded>,
    /// The contract's text, for `?wsdl`.
    pub(crate) publication: Arc<Publication>,
    /// Each port's name and path, for the addresses `?wsdl` publishes.
    pub(crate) port_paths: Vec<(String, String)>,
    /// The base URL to publish instead of the request's `Host`.
    pub(crate) public_url: Option<String>,
    /// Whether requests are validated against the schema.
    pub(crate) validate: bool,
    /// Bounds on envelopes.
    pub(crate) limits: Limits,
    /// Bounds on validation.
    pub(crate) instance_limits: InstanceLimits,
    /// The header blocks understood (for `mustUnderstand`).
    pub(crate) understood: HashSet<QName>,
    /// The roles played besides ultimate receiver.
    pub(crate) roles: Vec<String>,
}

/// One port of a hosted service, mounted at one path.
pub(crate) struct Endpoint {
    pub(crate) shared: Arc<Shared>,
    /// The binding's SOAP version, the only one this port reads.
    pub(crate) version: SoapVersion,
    pub(crate) table: Table,
    /// In the order of the table's keys.
    pub(crate) operations: Vec<Operation>,
}

/// The router's handler for one endpoint.
#[derive(Clone)]
pub(crate) struct EndpointHandler(pub(crate) Arc<Endpoint>);

impl Handler for EndpointHandler {
    fn call(&self, request: Request) -> ResponseFuture {
        let endpoint = self.0.clone();
        Box::pin(async move { endpoint.serve(request).await })
    }
}

impl Endpoint {
    /// Answers one request.
    pub(crate) async fn serve(&self, request: Request) -> Response {
        match *request.method() {
            Method::POST => self.soap(request).await,
            Method::GET if publish::wants_wsdl(request.uri().query()) => self.wsdl(&request),
            _ => reply::method_not_allowed(),
        }
    }

    fn wsdl(&self, request: &Request) -> Response {
        let shared = &self.shared;
        let Ok(base) = publish::base_url(request, shared.public_url.as_deref()) else {
            return reply::plain(StatusCode::BAD_REQUEST, "invalid Host header");
        };
        let text = shared.publication.render(|port| {
            let base = base.as_deref()?;
            let (_, path) = shared.port_paths.iter().find(|(name, _)| name == port)?;
            Some(format!("{base}{path}"))
        });
        reply::wsdl(text)
    }

    async fn soap(&self, request: Request) -> Response {
        let (parts, body) = request.into_parts();
        // The content type gives the version.
        let Some(content_type) = parts.headers.get(CONTENT_TYPE) else {
            return reply::plain(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "missing Content-Type: send text/xml (SOAP 1.1) or application/soap+xml (SOAP 1.2)",
            );
        };
        let Ok(content_type) = content_type.to_str() else {
            return reply::plain(StatusCode::BAD_REQUEST, "malformed Content-Type header");
        };
        let content_type = match ContentType::parse(content_type) {
            Ok(parsed) => parsed,
            Err(error @ ContentTypeError::UnsupportedCharset { .. }) => {
                // A SOAP media type in another charset: the version is known.
                let version = sniff_version(content_type).unwrap_or(self.version);
                let fault = Fault::new(error.fault_code(), error.to_string());
                return reply::fault_with_status(version, &fault, error.http_status());
            }
            Err(error) => {
                let status = StatusCode::from_u16(error.http_status())
                    .unwrap_or(StatusCode::UNSUPPORTED_MEDIA_TYPE);
                return reply::plain(
                    status,
                    &format!(
                        "{error}: send text/xml (SOAP 1.1) or application/soap+xml (SOAP 1.2)"
                    ),
                );
            }
        };
        let version = self.version;
        if content_type.version != version {
            // SOAP 1.2, Appendix A: either way the mismatch is answered
            // as a SOAP 1.1 VersionMismatch fault, with an Upgrade block.
            let fault = Fault::new(
                FaultCode::VersionMismatch,
                format!(
                    "this endpoint speaks SOAP {version}; send {}",
                    version.media_type()
                ),
            );
            return reply::fault(SoapVersion::Soap11, &fault);
        }
        let action = match version {
            SoapVersion::Soap12 => content_type.action.clone(),
            SoapVersion::Soap11 => match parts.headers.get("soapaction").map(|v| v.to_str()) {
                None => None,
                Some(Ok(value)) => match parse_soap_action(value) {
                    Ok(action) => action,
                    Err(error) => {
                        let fault = Fault::new(FaultCode::Sender, format!("SOAPAction: {error}"));
                        return reply::fault(version, &fault);
                    }
                },
                Some(Err(_)) => {
                    let fault = Fault::new(FaultCode::Sender, "SOAPAction: not visible ASCII");
                    return reply::fault(version, &fault);
                }
            },
        };

        // The body, whole, under the gateway's limit.
        let message: Bytes = match read_to_bytes(body, self.shared.limits.max_size).await {
            Ok(bytes) => bytes,
            Err(BodyError::TooLarge { .. }) => {
                return reply::plain(StatusCode::PAYLOAD_TOO_LARGE, "request body too large");
            }
            Err(BodyError::Read(error)) => {
                tracing::debug!(%error, "reading a SOAP request failed");
                return reply::plain(
                    StatusCode::BAD_REQUEST,
                    "the request body could not be read",
                );
            }
        };

        let envelope = match read_envelope(&message, Some(&content_type), &self.shared.limits) {
            Ok(envelope) => envelope,
            Err(error) => return reply::fault(version, &Fault::from(&error)),
        };
        let roles: Vec<&str> = self.shared.roles.iter().map(String::as_str).collect();
        if let Err(error) =
            envelope.check_must_understand(&roles, |name| self.shared.understood.contains(name))
        {
            return reply::fault(version, &Fault::from(&error));
        }
        if envelope.is_fault() {
            let fault = Fault::new(FaultCode::Sender, "a request must not carry a SOAP fault");
            return reply::fault(version, &fault);
        }

        let index = match self.table.resolve(action.as_deref(), envelope.body_name()) {
            Ok(index) => index,
            Err(error) => {
                return reply::fault(version, &Fault::new(FaultCode::Sender, error.to_string()));
            }
        };
        let Some(operation) = self.operations.get(index) else {
            let fault = Fault::new(FaultCode::Receiver, "internal error: dispatch table");
            return reply::fault(version, &fault);
        };

        if self.shared.validate
            && let Some(element) = &operation.validate_as
            && let Err(reason) = self.validate(&message, &envelope, element, operation)
        {
            return reply::fault(version, &Fault::new(FaultCode::Sender, reason));
        }

        let Some(handler) = &operation.handler else {
            let fault = Fault::new(
                FaultCode::Receiver,
                format!("the operation `{}` is not implemented", operation.name),
            );
            return reply::fault(version, &fault);
        };
        let request = SoapRequest {
            message,
            envelope,
            operation: operation.name.clone(),
            action,
            headers: parts.headers,
        };
        match guard::call(handler.as_ref(), request).await {
            Ok(_) if operation.one_way => reply::accepted(),
            Ok(payload) => reply::envelope(version, &payload),
            Err(error) => reply::fault(version, &error.into_fault(&operation.faults)),
        }
    }

    /// Checks the body against the operation's input element; the error is
    /// the fault reason, naming each violation's element path and rule.
    fn validate(
        &self,
        message: &[u8],
        envelope: &ithaca_wsdl::Envelope,
        element: &QName,
        operation: &Operation,
    ) -> Result<(), String> {
        let expected = operation.body_parts.max(1);
        if envelope.body.child_count > expected {
            return Err(format!(
                "the body holds {} elements; the operation `{}` takes {expected}",
                envelope.body.child_count, operation.name
            ));
        }
        let Some(xml) = envelope
            .body
            .first_child
            .as_ref()
            .and_then(|entry| message.get(entry.range.clone()))
            .and_then(|bytes| std::str::from_utf8(bytes).ok())
        else {
            return Err(format!(
                "the body is empty; the operation `{}` takes the element {element}",
                operation.name
            ));
        };
        // The bindings in scope in the body; usually all on the Envelope,
        // which spares merging (and copying) them per request.
        let merged;
        let scope = if envelope.body.namespaces.is_empty() {
            envelope.namespaces.as_slice()
        } else {
            merged = envelope.body_scope();
            merged.as_slice()
        };
        self.shared
            .loaded
            .schema
            .validate_element(xml, scope, Some(element), &self.shared.instance_limits)
            .map_err(|violations| {
                let list = violations
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ");
                format!("the request does not match the schema: {list}")
            })
    }
}

/// The SOAP version a content type names, whatever its parameters.
fn sniff_version(content_type: &str) -> Option<SoapVersion> {
    let media_type = content_type.split(';').next()?.trim();
    if media_type.eq_ignore_ascii_case("text/xml") {
        Some(SoapVersion::Soap11)
    } else if media_type.eq_ignore_ascii_case("application/soap+xml") {
        Some(SoapVersion::Soap12)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_the_version_of_a_refused_content_type() {
        assert_eq!(
            sniff_version("Text/XML; charset=latin1"),
            Some(SoapVersion::Soap11)
        );
        assert_eq!(
            sniff_version("application/soap+xml;charset=utf-16"),
            Some(SoapVersion::Soap12)
        );
        assert_eq!(sniff_version("application/json"), None);
    }
}
