//! Dynamic handlers: operation code over schema-typed values instead of
//! XML bytes.
//!
//! A [`DynamicHandler`] receives the request decoded into an
//! [`ithaca_wsdl::value::Value`] (by the operation's binding:
//! document/literal wrapped or bare, rpc/literal, or rpc/encoded per SOAP
//! 1.1 section 5) and returns the response as a `Value`, which is encoded
//! by the operation's output binding, or a [`DynamicError`]: any
//! [`SoapError`], or a declared fault whose detail is a `Value` encoded as
//! the fault message's element. Register one with
//! [`SoapServiceBuilder::dynamic_operation`](super::SoapServiceBuilder::dynamic_operation).
//!
//! A request that does not decode answers a Client / Sender fault naming
//! the element path and the rule broken; a response value that does not
//! fit the contract answers a Server / Receiver fault (and is logged), so
//! a handler's mistake never sends malformed XML.
//!
//! ```
//! use ithaca_gateway::soap::{Contract, DynamicRequest, SoapError, SoapService};
//! use ithaca_wsdl::value::{Field, Value};
//!
//! let contract = Contract::from_bytes("echo.wsdl", ithaca_services::echo::WSDL)?;
//! let router = SoapService::builder(contract)
//!     .dynamic_operation("echoString", |request: DynamicRequest| async move {
//!         // document/literal wrapped: the value is the wrapper's content.
//!         let text = request.value().field("text").and_then(Value::as_str).unwrap_or("");
//!         Ok(Value::complex([Field::unqualified("result", Value::string(text))]))
//!     })
//!     .build()?;
//! assert!(router.lookup("/services/EchoService").is_some());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use ithaca_wsdl::value::{Direction, MessageCodec, Value, ValueLimits};
use ithaca_wsdl::wsdl11::{OperationInfo, OperationKind};
use ithaca_wsdl::{Fault, FaultCode, Loaded};

use super::handler::{HandlerFuture, OperationHandler, SoapError, SoapRequest};

/// The future a [`DynamicHandler`] returns.
pub type DynamicFuture = Pin<Box<dyn Future<Output = Result<Value, DynamicError>> + Send>>;

/// The code behind one operation, over values: takes the decoded request,
/// returns the response value (ignored for a one-way operation) or a
/// [`DynamicError`].
///
/// Any `async` closure or function `Fn(DynamicRequest) -> impl
/// Future<Output = Result<Value, DynamicError>>` is one.
pub trait DynamicHandler: Send + Sync + 'static {
    /// Handles one request.
    fn call(&self, request: DynamicRequest) -> DynamicFuture;
}

impl<F, Fut> DynamicHandler for F
where
    F: Fn(DynamicRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Value, DynamicError>> + Send + 'static,
{
    fn call(&self, request: DynamicRequest) -> DynamicFuture {
        Box::pin(self(request))
    }
}

/// A request decoded into a value, with the request itself.
#[derive(Debug, Clone)]
pub struct DynamicRequest {
    value: Value,
    request: SoapRequest,
    /// The operation's codec context: the contract, the operation's forms
    /// and which one the request came through.
    codec: CodecContext,
}

/// What re-encodes a dynamic request's values (see
/// [`DynamicRequest::literal_input`]).
#[derive(Clone)]
struct CodecContext {
    loaded: Arc<Loaded>,
    operations: Arc<Vec<OperationInfo>>,
    index: usize,
    limits: ValueLimits,
}

impl std::fmt::Debug for CodecContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodecContext")
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

impl CodecContext {
    fn literal_codec(&self) -> Result<MessageCodec<'_>, SoapError> {
        let operation = self
            .operations
            .get(self.index)
            .ok_or_else(|| SoapError::receiver("internal error: operation table"))?;
        Ok(MessageCodec::new(&self.loaded, operation)
            .with_limits(self.limits)
            .as_literal())
    }
}

impl DynamicRequest {
    /// The request's value (see [`ithaca_wsdl::value::MessageCodec`] for
    /// its shape per binding style: the wrapper's content for
    /// document/literal wrapped, one field per part for rpc).
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// Takes the value.
    pub fn into_value(self) -> Value {
        self.value
    }

    /// The request as read (version, action, header blocks, HTTP
    /// headers).
    pub fn soap(&self) -> &SoapRequest {
        &self.request
    }

    /// The request's value written as its binding would carry it were it
    /// literal: for rpc style, the wrapper with one unqualified accessor
    /// per part (multi-referenced values inline, no `xsi:type`). Code
    /// generated for an rpc/encoded operation reads its typed input from
    /// this; a value that does not fit answers a Client / Sender fault.
    pub fn literal_input(&self) -> Result<Vec<u8>, SoapError> {
        self.codec
            .literal_codec()?
            .encode(Direction::Input, &self.value)
            .map_err(|error| {
                SoapError::sender(format!("the request does not match the contract: {error}"))
            })
    }

    /// Reads the operation's output written literal (`body`: the rpc
    /// wrapper, or the body element, binding its own prefixes) into the
    /// value the binding then encodes: how code generated for an
    /// rpc/encoded operation answers. A body that does not fit answers a
    /// Server / Receiver fault.
    pub fn output_from_literal(&self, body: &[u8]) -> Result<Value, SoapError> {
        self.codec
            .literal_codec()?
            .decode(Direction::Output, body, &[])
            .map_err(|error| {
                tracing::warn!(%error, "a typed handler's response does not fit the contract");
                SoapError::receiver(format!(
                    "internal error: the response does not match the contract: {error}"
                ))
            })
    }
}

/// Why a dynamic handler did not produce a response.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DynamicError {
    /// Any fault, as [`SoapError`] describes it.
    #[error(transparent)]
    Soap(#[from] SoapError),
    /// A fault the operation declares, whose detail entry is `detail`
    /// encoded as the fault message's element.
    #[error("declared fault `{name}`: {reason}")]
    Declared {
        /// The `wsdl:fault` name.
        name: String,
        /// The fault string / reason text.
        reason: String,
        /// The value of the fault message's element.
        detail: Value,
    },
}

impl DynamicError {
    /// A declared fault with its detail value.
    pub fn declared(name: impl Into<String>, reason: impl Into<String>, detail: Value) -> Self {
        Self::Declared {
            name: name.into(),
            reason: reason.into(),
            detail,
        }
    }
}

/// Adapts a [`DynamicHandler`] to the byte-level [`OperationHandler`] the
/// request path calls: decodes the request by the operation's binding,
/// calls the handler, encodes its answer.
pub(crate) struct DynamicOperation {
    loaded: Arc<Loaded>,
    /// Every binding's form of the operation.
    operations: Arc<Vec<OperationInfo>>,
    handler: Arc<dyn DynamicHandler>,
    limits: ValueLimits,
}

impl DynamicOperation {
    pub(crate) fn new(
        loaded: Arc<Loaded>,
        name: &str,
        handler: impl DynamicHandler,
        limits: ValueLimits,
    ) -> Self {
        let operations = loaded
            .definitions
            .operations(&loaded.schema)
            .into_iter()
            .filter(|op| op.name == name)
            .collect();
        Self {
            loaded,
            operations: Arc::new(operations),
            handler: Arc::new(handler),
            limits,
        }
    }

    /// The binding's form of the operation this request was sent for: same
    /// SOAP version, same body element (the rpc wrapper or the first
    /// part), then same SOAP action.
    fn form_of(&self, request: &SoapRequest) -> Option<usize> {
        let body = request.envelope().body_name();
        let candidates: Vec<usize> = self
            .operations
            .iter()
            .enumerate()
            .filter(|(_, op)| {
                op.name == request.operation() && op.soap_version == request.version()
            })
            .filter(|(_, op)| {
                body.is_none() || op.input.as_ref().and_then(|i| i.body_name.as_ref()) == body
            })
            .map(|(i, _)| i)
            .collect();
        candidates
            .iter()
            .copied()
            .find(|&i| {
                request.action().is_some_and(|action| {
                    self.operations
                        .get(i)
                        .and_then(|op| op.soap_action.as_deref())
                        == Some(action)
                })
            })
            .or_else(|| candidates.first().copied())
    }
}

impl OperationHandler for DynamicOperation {
    fn call(&self, request: SoapRequest) -> HandlerFuture {
        let Some(index) = self.form_of(&request) else {
            return Box::pin(async {
                Err(SoapError::sender(
                    "the request matches no binding of the operation",
                ))
            });
        };
        let Some(operation) = self.operations.get(index) else {
            return Box::pin(async { Err(SoapError::receiver("internal error: operation table")) });
        };
        let codec = MessageCodec::new(&self.loaded, operation).with_limits(self.limits);
        let payload = request.payload();
        let value = match codec.decode(Direction::Input, &payload, &request.body_scope()) {
            Ok(value) => value,
            Err(error) => {
                let fault = Fault::new(
                    error.fault_code(),
                    format!("the request does not match the contract: {error}"),
                );
                return Box::pin(async move { Err(SoapError::from(fault)) });
            }
        };
        let one_way = operation.kind == OperationKind::OneWay;
        let codec = CodecContext {
            loaded: self.loaded.clone(),
            operations: self.operations.clone(),
            index,
            limits: self.limits,
        };
        let future = self.handler.call(DynamicRequest {
            value,
            request,
            codec,
        });
        let loaded = self.loaded.clone();
        let operations = self.operations.clone();
        let limits = self.limits;
        Box::pin(async move {
            let answer = future.await;
            let Some(operation) = operations.get(index) else {
                return Err(SoapError::receiver("internal error: operation table"));
            };
            let codec = MessageCodec::new(&loaded, operation).with_limits(limits);
            match answer {
                Ok(_) if one_way => Ok(Vec::new()),
                Ok(value) => codec.encode(Direction::Output, &value).map_err(|error| {
                    tracing::warn!(operation = %operation.name, %error, "a dynamic handler's response does not fit the contract");
                    SoapError::from(Fault::new(
                        FaultCode::Receiver,
                        format!("internal error: the response does not match the contract: {error}"),
                    ))
                }),
                Err(DynamicError::Soap(error)) => Err(error),
                Err(DynamicError::Declared {
                    name,
                    reason,
                    detail,
                }) => match codec.encode_fault_detail(&name, &detail) {
                    Ok(xml) => Err(SoapError::declared(name, reason, xml)),
                    Err(error) => {
                        tracing::warn!(operation = %operation.name, fault = %name, %error, "a dynamic handler's fault detail does not fit the contract");
                        Err(SoapError::receiver(format!(
                            "internal error: the fault `{name}` does not match the contract: {error}"
                        )))
                    }
                },
            }
        })
    }
}
