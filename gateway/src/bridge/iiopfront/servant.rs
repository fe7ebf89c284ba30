//! The DSI-style servant of one bridged SOAP service: a GIOP request is
//! decoded with the operation's TypeCodes, converted to the WSDL message
//! ([`values`](super::values)), sent as a SOAP call to the
//! [`Backend`], and the response (or fault) converted back.
//!
//! Exceptions (minor codes in Ithaca's vendor range [`ITHACA_VMCID`]):
//!
//! | what happened | CORBA exception | minor | completed |
//! |---|---|---|---|
//! | an argument out of range for its XSD type, or breaking a facet | `BAD_PARAM` | `ITHACA_VMCID \| 1` | NO |
//! | an argument the contract cannot carry (shape) | `BAD_PARAM` | `ITHACA_VMCID \| 2` | NO |
//! | a SOAP `Client`/`Sender` fault the WSDL does not declare | `BAD_PARAM` | `ITHACA_VMCID \| 3` | NO |
//! | a declared SOAP fault | the mapped IDL user exception | | |
//! | any other SOAP fault | `UNKNOWN` | `ITHACA_VMCID \| 4` | MAYBE |
//! | the backend unreachable | `TRANSIENT` | `ITHACA_VMCID \| 1` | NO |
//! | no answer within the deadline | `TRANSIENT` | `ITHACA_VMCID \| 2` | MAYBE |
//! | a response that does not fit the IDL result | `MARSHAL` / `BAD_PARAM` (range) | `ITHACA_VMCID \| 5` / `\| 1` | YES |
//! | an unusable SOAP response | `UNKNOWN` | `ITHACA_VMCID \| 6` | MAYBE |
//! | an operation the object does not have | `BAD_OPERATION` | OMG 0 | NO |
//! | a TransactionService context that cannot be forwarded | `INVALID_TRANSACTION` | `ITHACA_VMCID \| 1` | NO |
//!
//! CORBA system exceptions carry no text: the fault string and the
//! conversion error are logged (target `ithaca_gateway::bridge`, level
//! warn) with the object and operation.

use std::sync::Arc;

use ithaca_idl::dynamic::{ReplyValues, TypeCode, UserException, Value};
use ithaca_idl::giop::CompletionStatus;
use ithaca_idl::orb::{Call, Outcome, Servant, ServantFuture};
use ithaca_wsdl::value::{Direction, MessageCodec, Value as XmlValue, ValueLimits, decode_element};
use ithaca_wsdl::{FaultCode, Limits, read_envelope};

use super::backend::{Backend, BackendError, ResponseMessage, SoapAnswer};
use super::contract::{BridgedContract, BridgedOperation, MessageShape};
use super::transaction;
use super::values::{ConvertError, Converter};
use crate::bridge::mapping::idl_identifier;

/// Ithaca's vendor minor code id ("IT" in the high 20 bits), for the
/// minor codes of the exceptions the bridge raises.
pub const ITHACA_VMCID: u32 = 0x4954_0000;

/// One SOAP service served as a CORBA object.
#[derive(Debug)]
pub struct SoapObjectServant {
    name: String,
    contract: Arc<BridgedContract>,
    backend: Backend,
}

impl SoapObjectServant {
    /// The object `name` for `contract`, calling `backend`.
    pub fn new(name: impl Into<String>, contract: Arc<BridgedContract>, backend: Backend) -> Self {
        Self {
            name: name.into(),
            contract,
            backend,
        }
    }

    async fn answer(&self, mut call: Call) -> Outcome {
        let Some(op) = self.contract.operations.get(call.operation()) else {
            return Outcome::bad_operation();
        };
        let args = match op.idl.decode_request(call.args()) {
            Ok(args) => args,
            Err(error) => return Outcome::marshal(error),
        };
        let body = match self.request_body(op, &args) {
            Ok(body) => body,
            Err(error) => {
                self.log(op, "the arguments do not fit the SOAP contract", &error);
                let minor = match error {
                    ConvertError::OutOfRange { .. } => 1,
                    _ => 2,
                };
                return system("BAD_PARAM", minor, CompletionStatus::No);
            }
        };
        let headers = match transaction::header_blocks(&call) {
            Ok(headers) => headers,
            Err(error) => {
                self.log(op, "the transaction context is not forwarded", &error);
                return system("INVALID_TRANSACTION", 1, CompletionStatus::No);
            }
        };
        let answer = self
            .backend
            .call(op.wsdl.soap_action.as_deref(), &headers, &body)
            .await;
        match answer {
            Err(error) => {
                self.log(op, "the SOAP call failed", &error);
                match error {
                    BackendError::Unreachable(_) => system("TRANSIENT", 1, CompletionStatus::No),
                    BackendError::Timeout(_) => system("TRANSIENT", 2, CompletionStatus::Maybe),
                    BackendError::BadResponse(_) => system("UNKNOWN", 6, CompletionStatus::Maybe),
                }
            }
            Ok(_) if op.idl.oneway => call.reply(|_| Ok(())),
            Ok(SoapAnswer::Response(message)) => match self.reply_values(op, &message) {
                Ok(reply) => call.reply(|w| op.idl.encode_reply(&reply.result, &reply.out, w)),
                Err(error) => {
                    self.log(op, "the SOAP response does not fit the IDL result", &error);
                    match error {
                        ConvertError::OutOfRange { .. } => {
                            system("BAD_PARAM", 1, CompletionStatus::Yes)
                        }
                        _ => system("MARSHAL", 5, CompletionStatus::Yes),
                    }
                }
            },
            Ok(SoapAnswer::Fault(fault, message)) => {
                if let Some(exception) = self.declared_exception(op, &fault, &message) {
                    return call.user_exception(&exception.id, |w| {
                        op.idl.encode_exception_members(&exception, w)
                    });
                }
                tracing::warn!(
                    target: "ithaca_gateway::bridge",
                    object = %self.name,
                    operation = %op.idl.name,
                    code = ?fault.code,
                    fault = %fault.reason(),
                    "the SOAP service answered with a fault"
                );
                match fault.code {
                    FaultCode::Sender => system("BAD_PARAM", 3, CompletionStatus::No),
                    _ => system("UNKNOWN", 4, CompletionStatus::Maybe),
                }
            }
        }
    }

    fn log(&self, op: &BridgedOperation, what: &str, error: &dyn std::fmt::Display) {
        tracing::warn!(
            target: "ithaca_gateway::bridge",
            object = %self.name,
            operation = %op.idl.name,
            %error,
            "{what}"
        );
    }

    /// The contract it serves.
    pub fn contract(&self) -> &BridgedContract {
        &self.contract
    }

    /// The SOAP body of a request: the `in` and `inout` arguments in the
    /// WSDL input message's shape (the one-pass path first, the general
    /// one for what it leaves).
    pub fn request_body(
        &self,
        op: &BridgedOperation,
        args: &[Value],
    ) -> Result<Vec<u8>, ConvertError> {
        let converter = Converter::new(&self.contract.loaded.schema);
        if let Some(body) = op.simple.request_body(&converter, args) {
            return Ok(body);
        }
        let shape = self.contract.shape(&op.wsdl, true)?;
        let members: Vec<(&str, &TypeCode, &Value)> = op
            .idl
            .params
            .iter()
            .filter(|p| {
                matches!(
                    p.dir,
                    ithaca_idl::front::ast::ParamDir::In | ithaca_idl::front::ast::ParamDir::InOut
                )
            })
            .zip(args)
            .map(|(p, v)| (p.name.as_str(), &p.ty, v))
            .collect();
        let fields = converter.fields_to_xml(shape.slots(), &members, "", 0)?;
        let value = match shape {
            MessageShape::Parts(_) if op.wsdl.style == ithaca_wsdl::wsdl11::Style::Document => {
                match <[_; 1]>::try_from(fields) {
                    Ok([field]) => field.value,
                    Err(fields) => XmlValue::complex(fields),
                }
            }
            _ => XmlValue::complex(fields),
        };
        MessageCodec::new(&self.contract.loaded, &op.wsdl)
            .encode(Direction::Input, &value)
            .map_err(|error| ConvertError::OutOfRange {
                path: String::new(),
                message: error.to_string(),
            })
    }

    /// The result and `out`/`inout` values of a SOAP response message
    /// (the one-pass path first, the general one for what it leaves).
    pub fn reply_values(
        &self,
        op: &BridgedOperation,
        response: &ResponseMessage,
    ) -> Result<ReplyValues, ConvertError> {
        let mismatch = |message: String| ConvertError::Mismatch {
            path: String::new(),
            message,
        };
        let message = &response.message[..];
        let read;
        let (payload_range, scope) = match &response.body {
            Some((range, scope)) => (range.clone(), scope),
            None => {
                let envelope = read_envelope(message, None, &Limits::DEFAULT)
                    .map_err(|e| mismatch(e.to_string()))?;
                read = (envelope.body.payload.clone(), envelope.body_scope());
                (read.0.clone(), &read.1)
            }
        };
        let payload = message
            .get(payload_range)
            .ok_or_else(|| mismatch("the body is out of the message".into()))?;
        let converter = Converter::new(&self.contract.loaded.schema);
        if let Some(mut values) = op.simple.reply_values(&converter, message, payload) {
            let result = if op.idl.result == TypeCode::Void {
                Value::Null
            } else if values.is_empty() {
                return Err(mismatch("the response has no result".into()));
            } else {
                values.remove(0)
            };
            return Ok(ReplyValues {
                result,
                out: values,
            });
        }
        let value = MessageCodec::new(&self.contract.loaded, &op.wsdl)
            .decode(Direction::Output, payload, scope)
            .map_err(|e| mismatch(e.to_string()))?;
        let shape = self.contract.shape(&op.wsdl, false)?;
        let complex = match (&shape, value) {
            (MessageShape::Parts(slots), value)
                if op.wsdl.style == ithaca_wsdl::wsdl11::Style::Document && slots.len() == 1 =>
            {
                let name = slots.first().map(|s| s.name.clone());
                ithaca_wsdl::value::Complex {
                    fields: name
                        .map(|name| ithaca_wsdl::value::Field { name, value })
                        .into_iter()
                        .collect(),
                    ..Default::default()
                }
            }
            (_, XmlValue::Complex(complex)) => complex,
            (_, XmlValue::Nil) => ithaca_wsdl::value::Complex::default(),
            _ => return Err(mismatch("the response is not element content".into())),
        };
        let mut members: Vec<(&str, &TypeCode)> = Vec::new();
        if op.idl.result != TypeCode::Void {
            members.push(("_return", &op.idl.result));
        }
        for p in &op.idl.params {
            if matches!(
                p.dir,
                ithaca_idl::front::ast::ParamDir::Out | ithaca_idl::front::ast::ParamDir::InOut
            ) {
                members.push((p.name.as_str(), &p.ty));
            }
        }
        let mut values = converter
            .fields_from_xml(shape.slots(), &members, &complex, "", 0)?
            .into_iter();
        let result = if op.idl.result == TypeCode::Void {
            Value::Null
        } else {
            values.next().unwrap_or(Value::Null)
        };
        Ok(ReplyValues {
            result,
            out: values.collect(),
        })
    }

    /// The IDL user exception a declared SOAP fault maps to (`message` is
    /// the whole fault message).
    pub fn declared_exception(
        &self,
        op: &BridgedOperation,
        fault: &ithaca_wsdl::Fault,
        message: &[u8],
    ) -> Option<UserException> {
        let detail = fault.detail.as_deref()?.trim();
        let scope = read_envelope(message, None, &Limits::DEFAULT)
            .map(|e| e.body_scope())
            .unwrap_or_default();
        let schema = &self.contract.loaded.schema;
        let converter = Converter::new(schema);
        for declared in &op.wsdl.faults {
            let Some(element) = &declared.element else {
                continue;
            };
            let Ok(value) = decode_element(
                schema,
                detail.as_bytes(),
                &scope,
                element,
                &ValueLimits::DEFAULT,
            ) else {
                continue;
            };
            let wanted = idl_identifier(&element.local);
            let Some(tc) = op
                .idl
                .exceptions
                .iter()
                .find(|tc| matches!(tc, TypeCode::Except { name, .. } if *name == wanted))
            else {
                continue;
            };
            let TypeCode::Except { id, .. } = tc else {
                continue;
            };
            let ty = schema
                .element(element)
                .and_then(|d| converter.element_type(d));
            match converter.from_xml(tc, &value, ty, &format!("/{}", element.local), 0) {
                Ok(members) => {
                    return Some(UserException {
                        id: id.clone(),
                        members,
                    });
                }
                Err(error) => self.log(
                    op,
                    "the fault detail does not fit the IDL exception",
                    &error,
                ),
            }
        }
        None
    }
}

fn system(name: &str, code: u32, completed: CompletionStatus) -> Outcome {
    Outcome::system(name, ITHACA_VMCID | code, completed)
}

impl Servant for SoapObjectServant {
    fn repository_id(&self) -> &str {
        &self.contract.repository_id
    }

    fn is_a(&self, repository_id: &str) -> bool {
        repository_id == self.contract.repository_id
            || repository_id == "IDL:omg.org/CORBA/Object:1.0"
            || self.contract.bases.iter().any(|b| b == repository_id)
    }

    fn invoke(&self, call: Call) -> ServantFuture<'_> {
        Box::pin(self.answer(call))
    }
}
