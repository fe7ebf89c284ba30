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
use ithaca_wsdl::wsdl11::{OperationInfo, ParameterStyle, Style, Use};
use ithaca_wsdl::xsd::{InstanceLimits, RpcWrapper};
use ithaca_wsdl::{
    ContentType, ContentTypeError, Fault, FaultCode, Limits, Loaded, QName, SoapVersion,
    parse_soap_action, read_envelope_ranges_validating,
};

use super::dispatch::Table;
use super::guard;
use super::handler::{OperationHandler, SoapRequest};
use super::publish::{self, Publication};
use super::reply;
use crate::body::{BodyError, Request, Response, read_to_bytes};
use crate::router::{Handler, ResponseFuture};

/// SOAP 1.1's `SOAPAction` header, as a name made once (a `&str` key is
/// parsed and checked again on every lookup).
static SOAP_ACTION: http::HeaderName = http::HeaderName::from_static("soapaction");

/// What the request path needs to know about one operation.
pub(crate) struct Operation {
    /// Its name.
    pub(crate) name: Arc<str>,
    /// One-way: answered `202 Accepted` with no body.
    pub(crate) one_way: bool,
    /// What the body's first child is validated against (literal
    /// operations only; see [`body_check`]).
    pub(crate) validate_as: Option<BodyCheck>,
    /// How many body elements the input message has.
    pub(crate) body_parts: usize,
    /// The names of the declared faults.
    pub(crate) faults: Vec<String>,
    /// The blocks of the declared header faults (`soap:headerfault`).
    pub(crate) header_faults: Vec<QName>,
    /// The handler; `None` answers a Receiver fault.
    pub(crate) handler: Option<Arc<dyn OperationHandler>>,
}

/// What the body of a request is validated against.
pub(crate) enum BodyCheck {
    /// document/literal: the global element of the (first) body part.
    Element(QName),
    /// rpc/literal: the operation's wrapper and its part accessors.
    Rpc(Box<RpcWrapper>),
}

/// What an operation's request body is validated against: its input
/// element (document/literal) or its wrapper (rpc/literal). `None` for
/// encoded operations, whose bodies follow the SOAP encoding rather than
/// the schema, and for operations without a body.
pub(crate) fn body_check(loaded: &Loaded, operation: &OperationInfo) -> Option<BodyCheck> {
    if operation.use_kind != Use::Literal {
        return None;
    }
    match (operation.style, operation.parameter_style) {
        (Style::Rpc, _) | (_, ParameterStyle::Rpc) => {
            RpcWrapper::for_input(&loaded.definitions, &loaded.schema, operation)
                .map(|wrapper| BodyCheck::Rpc(Box::new(wrapper)))
        }
        (Style::Document, _) => operation
            .input
            .as_ref()
            .and_then(|input| input.body_name.clone())
            .map(BodyCheck::Element),
    }
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
        publish::respond(
            &shared.publication,
            request,
            shared.public_url.as_deref(),
            &shared.port_paths,
        )
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
            SoapVersion::Soap11 => match parts.headers.get(&SOAP_ACTION).map(|v| v.to_str()) {
                None => None,
                Some(Ok(value)) => match plain_quoted_action(value).map_or_else(
                    || parse_soap_action(value),
                    |action| Ok(Some(action.to_owned())),
                ) {
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

        // The envelope, read in one pass: the body's first child is
        // dispatched on as soon as its name is read and, when validation
        // is on, validated from the same events (no second parse).
        let shared = &*self.shared;
        let mut dispatched = None;
        let read = read_envelope_ranges_validating(
            &message,
            Some(&content_type),
            &shared.limits,
            |name: &QName| {
                let resolved = self.table.resolve(action.as_deref(), Some(name));
                let validator = match &resolved {
                    Ok(index) if shared.validate => self
                        .operations
                        .get(*index)
                        .and_then(|operation| operation.validate_as.as_ref())
                        .map(|check| check.validator(&shared.loaded, &shared.instance_limits)),
                    _ => None,
                };
                dispatched = Some(resolved);
                validator
            },
        );
        let (envelope, verdict) = match read {
            Ok(read) => read,
            Err(error) => return reply::fault(version, &Fault::from(&error)),
        };
        if let Err(error) =
            envelope.check_must_understand(&shared.roles(), |name| shared.understood.contains(name))
        {
            return reply::fault(version, &Fault::from(&error));
        }
        if envelope.is_fault() {
            let fault = Fault::new(FaultCode::Sender, "a request must not carry a SOAP fault");
            return reply::fault(version, &fault);
        }

        let resolved = match dispatched {
            Some(resolved) => resolved,
            None => self.table.resolve(action.as_deref(), envelope.body_name()),
        };
        let index = match resolved {
            Ok(index) => index,
            Err(error) => {
                return reply::fault(version, &Fault::new(FaultCode::Sender, error.to_string()));
            }
        };
        let Some(operation) = self.operations.get(index) else {
            let fault = Fault::new(FaultCode::Receiver, "internal error: dispatch table");
            return reply::fault(version, &fault);
        };

        if shared.validate
            && let Some(check) = &operation.validate_as
            && let Err(reason) = validation_verdict(&envelope, check, operation, verdict)
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
            full: std::sync::OnceLock::new(),
            operation: operation.name.clone(),
            action,
            headers: parts.headers,
        };
        match guard::respond(handler.as_ref(), request).await {
            Ok(_) if operation.one_way => reply::accepted(),
            Ok(response) => {
                reply::envelope_with_headers(version, &response.headers, &response.body)
            }
            Err(error) => reply::fault(
                version,
                &error.into_fault(&operation.faults, &operation.header_faults),
            ),
        }
    }
}

impl BodyCheck {
    /// The validator the envelope reader runs over the body's first child.
    fn validator<'s>(
        &'s self,
        loaded: &'s Loaded,
        limits: &InstanceLimits,
    ) -> ithaca_wsdl::xsd::BodyValidator<'s> {
        match self {
            Self::Element(element) => loaded.schema.body_validator(Some(element), limits),
            Self::Rpc(wrapper) => loaded.schema.rpc_body_validator(wrapper, limits),
        }
    }
}

impl Shared {
    /// The roles played besides ultimate receiver, as `check_must_understand`
    /// takes them (no allocation when there are none).
    fn roles(&self) -> Vec<&str> {
        if self.roles.is_empty() {
            Vec::new()
        } else {
            self.roles.iter().map(String::as_str).collect()
        }
    }
}

/// The outcome of validating the body against the operation's input
/// element: the number of body elements, then the verdict the envelope
/// reader gave (`None`: the body is empty). The error is the fault reason,
/// naming each violation's element path and rule.
fn validation_verdict(
    envelope: &ithaca_wsdl::EnvelopeRanges,
    check: &BodyCheck,
    operation: &Operation,
    verdict: Option<ithaca_wsdl::BodyValidation>,
) -> Result<(), String> {
    let (element, expected) = match check {
        BodyCheck::Element(element) => (element, operation.body_parts.max(1)),
        // One wrapper, whatever the number of parts.
        BodyCheck::Rpc(wrapper) => (wrapper.name(), 1),
    };
    if envelope.body().child_count > expected {
        return Err(format!(
            "the body holds {} elements; the operation `{}` takes {expected}",
            envelope.body().child_count,
            operation.name
        ));
    }
    let Some(verdict) = verdict else {
        return Err(format!(
            "the body is empty; the operation `{}` takes the element {element}",
            operation.name
        ));
    };
    verdict.map_err(|violations| {
        let list = violations
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        format!("the request does not match the schema: {list}")
    })
}

/// The action of the most common `SOAPAction` value, a quoted URI with
/// no escape, space or tab (`"urn:a#b"`), without going through the
/// general parser; `None` for every other value, including `""`.
/// [`parse_soap_action`] gives the same action for every value this
/// accepts.
fn plain_quoted_action(value: &str) -> Option<&str> {
    // Well under the parser's own bound (8 KiB): longer values take its
    // path, and its error when they are too long.
    if value.len() > 1024 {
        return None;
    }
    let inner = value.strip_prefix('"')?.strip_suffix('"')?;
    let plain = !inner.is_empty()
        && inner
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\');
    plain.then_some(inner)
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
    use crate::body::full;
    use crate::soap::{Contract, SoapService};
    use http_body_util::BodyExt;

    /// An rpc/literal contract of our own: `add(a: Small, b: int)` in
    /// literal use, `log(line)` in encoded use.
    const CALC_WSDL: &str = r#"<definitions xmlns="http://schemas.xmlsoap.org/wsdl/"
    xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
    xmlns:xs="http://www.w3.org/2001/XMLSchema"
    xmlns:tns="urn:ithaca:test:calc" targetNamespace="urn:ithaca:test:calc" name="Calc">
  <types>
    <xs:schema targetNamespace="urn:ithaca:test:calc">
      <xs:simpleType name="Small">
        <xs:restriction base="xs:int"><xs:maxInclusive value="100"/></xs:restriction>
      </xs:simpleType>
    </xs:schema>
  </types>
  <message name="addRequest"><part name="a" type="tns:Small"/><part name="b" type="xs:int"/></message>
  <message name="addResponse"><part name="sum" type="xs:int"/></message>
  <message name="logRequest"><part name="line" type="xs:int"/></message>
  <portType name="Calc">
    <operation name="add"><input message="tns:addRequest"/><output message="tns:addResponse"/></operation>
    <operation name="log"><input message="tns:logRequest"/><output message="tns:addResponse"/></operation>
  </portType>
  <binding name="CalcBinding" type="tns:Calc">
    <soap:binding style="rpc" transport="http://schemas.xmlsoap.org/soap/http"/>
    <operation name="add">
      <soap:operation soapAction="urn:calc#add"/>
      <input><soap:body use="literal" namespace="urn:ithaca:test:calc:rpc"/></input>
      <output><soap:body use="literal" namespace="urn:ithaca:test:calc:rpc"/></output>
    </operation>
    <operation name="log">
      <soap:operation soapAction="urn:calc#log"/>
      <input><soap:body use="encoded" namespace="urn:ithaca:test:calc:rpc"
        encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"/></input>
      <output><soap:body use="encoded" namespace="urn:ithaca:test:calc:rpc"
        encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"/></output>
    </operation>
  </binding>
  <service name="CalcService">
    <port name="CalcPort" binding="tns:CalcBinding">
      <soap:address location="http://localhost/calc"/>
    </port>
  </service>
</definitions>"#;

    const REPLY: &str =
        r#"<r:addResponse xmlns:r="urn:ithaca:test:calc:rpc"><sum>0</sum></r:addResponse>"#;

    async fn call(router: &crate::Router, action: &str, body: &str) -> (u16, String) {
        let envelope = format!(
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:r="urn:ithaca:test:calc:rpc"><s:Body>{body}</s:Body></s:Envelope>"#
        );
        let request = http::Request::post("/services/CalcService")
            .header("content-type", "text/xml; charset=utf-8")
            .header("soapaction", format!("\"{action}\""))
            .body(full(Bytes::from(envelope)))
            .unwrap();
        let response = router.dispatch(request).await;
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    #[tokio::test]
    async fn rpc_literal_requests_are_validated_and_encoded_ones_are_not() {
        let contract = Contract::from_bytes("calc.wsdl", CALC_WSDL).unwrap();
        let router = SoapService::builder(contract)
            .operation("add", |_request: SoapRequest| async {
                Ok::<_, crate::soap::SoapError>(REPLY.as_bytes().to_vec())
            })
            .operation("log", |_request: SoapRequest| async {
                Ok::<_, crate::soap::SoapError>(REPLY.as_bytes().to_vec())
            })
            .build()
            .unwrap();
        let (status, text) = call(&router, "urn:calc#add", "<r:add><a>1</a><b>2</b></r:add>").await;
        assert_eq!(status, 200, "{text}");
        assert!(text.contains("<sum>0</sum>"), "{text}");

        let (status, text) =
            call(&router, "urn:calc#add", "<r:add><a>101</a><b>2</b></r:add>").await;
        assert_eq!(status, 500, "{text}");
        assert!(text.contains("Client"), "{text}");
        assert!(
            text.contains("/add/a: value \"101\" is outside maxInclusive 100"),
            "{text}"
        );
        let (status, text) = call(&router, "urn:calc#add", "<r:add><a>1</a></r:add>").await;
        assert_eq!(status, 500, "{text}");
        assert!(text.contains("/add: missing element b"), "{text}");

        // rpc/encoded bodies follow the SOAP encoding, not the schema: no
        // schema validation (a value that is no int goes through).
        let (status, text) = call(&router, "urn:calc#log", "<r:log><line>x</line></r:log>").await;
        assert_eq!(status, 200, "{text}");
    }

    #[test]
    fn plain_quoted_actions_agree_with_the_parser() {
        for value in [
            "\"urn:ithaca:bench:echo#echoString\"",
            "\"http://example.com/a?b=c\"",
            "\"\"",
            "\"a b\"",
            "\"a\\\"b\"",
            " \"urn:a\" ",
            "urn:a",
            "\"é\"",
            "\"",
        ] {
            if let Some(action) = plain_quoted_action(value) {
                assert_eq!(
                    parse_soap_action(value),
                    Ok(Some(action.to_owned())),
                    "{value}"
                );
            }
        }
        assert_eq!(plain_quoted_action("\"urn:a#b\""), Some("urn:a#b"));
        assert_eq!(plain_quoted_action("\"\""), None);
        assert_eq!(plain_quoted_action("\"a b\""), None);
    }

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
