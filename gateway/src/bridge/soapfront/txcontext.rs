//! WS-AtomicTransaction to CORBA: the CosTransactions `PropagationContext`
//! a bridged call carries when its SOAP request carried a WS-Coordination
//! 1.2 (2006/06) `CoordinationContext` header.
//!
//! The mapping (see docs/bridging-corba-and-soap.md, *Transactions*):
//!
//! - the service context id is 0 (`TransactionService`), its data a CDR
//!   encapsulation of `CosTransactions::PropagationContext`;
//! - `timeout` is the context's `Expires` in seconds, rounded up (0, no
//!   timeout, when it has none);
//! - `current.otid` is `{ formatID = 0x49544841 ("ITHA"), bqual_length = 0,
//!   tid = the UTF-8 bytes of wscoor:Identifier }`; `current.coord` and
//!   `current.term` are nil (Ithaca runs no OTS coordinator), `parents` is
//!   empty;
//! - `implementation_specific_data` is an `any` holding a string: the whole
//!   `CoordinationContext` element, self-contained (every prefix it uses
//!   declared on it), so an Ithaca endpoint on the CORBA side can register
//!   with the WS-AT coordinator (its `RegistrationService` EPR and
//!   reference parameters are in it) or forward the context to SOAP again.

use bytes::{Bytes, BytesMut};
use ithaca_idl::GiopVersion;
use ithaca_idl::cdr::{ByteOrder, CdrReader, CdrWriter};
use ithaca_idl::dynamic::{self, Member, TypeCode, Value};
use ithaca_idl::giop::ServiceContext;
use ithaca_idl::ior::Ior;
use ithaca_wsdl::QName;

/// The WS-Coordination 1.2 namespace (2006/06).
pub const WSCOOR_2006_NS: &str = "http://docs.oasis-open.org/ws-tx/wscoor/2006/06";

/// The `TransactionService` service context id.
pub const TRANSACTION_SERVICE_ID: u32 = 0;

/// The otid `formatID` of transactions that come from WS-AT contexts
/// (`"ITHA"`).
pub const WSAT_FORMAT_ID: i32 = 0x4954_4841;

/// The longest `wscoor:Identifier` carried (bytes).
pub const MAX_IDENTIFIER_LEN: usize = 1024;

/// The largest `CoordinationContext` header carried (bytes).
pub const MAX_CONTEXT_LEN: usize = 64 * 1024;

/// The header block's name.
pub fn coordination_context_name() -> QName {
    QName::new(WSCOOR_2006_NS, "CoordinationContext")
}

/// Why a `CoordinationContext` header cannot be carried.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
pub enum TxContextError {
    /// The header is not a usable WS-Coordination 1.2 context.
    #[error("the CoordinationContext header is not usable: {0}")]
    Header(String),
    /// A service context is not a PropagationContext this module reads.
    #[error("the TransactionService context does not decode: {0}")]
    Decode(String),
}

/// What a `PropagationContext` made from a WS-AT context holds.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct WsatPropagation {
    /// Seconds the transaction may live (0: no timeout).
    pub timeout: u32,
    /// The otid's `tid`: the `wscoor:Identifier`.
    pub identifier: String,
    /// The otid's `formatID`.
    pub format_id: i32,
    /// The `CoordinationContext` element, self-contained.
    pub context_xml: String,
}

impl WsatPropagation {
    /// Reads a `CoordinationContext` header block. `scope` are the
    /// namespace bindings in scope around it (the envelope's).
    pub fn from_header(
        block: &[u8],
        scope: &[ithaca_wsdl::NamespaceBinding],
    ) -> Result<Self, TxContextError> {
        let bad = |m: &str| TxContextError::Header(m.to_owned());
        if block.len() > MAX_CONTEXT_LEN {
            return Err(bad("larger than 64 KiB"));
        }
        let text = std::str::from_utf8(block).map_err(|_| bad("not UTF-8"))?;
        // The block alone may use prefixes the envelope declares: parse it
        // inside a wrapper that declares them.
        let mut declarations = String::new();
        for binding in scope {
            match &binding.prefix {
                Some(prefix) => declarations.push_str(&format!(
                    " xmlns:{prefix}=\"{}\"",
                    crate::bridge::mapping::xml_escape(&binding.uri)
                )),
                None => declarations.push_str(&format!(
                    " xmlns=\"{}\"",
                    crate::bridge::mapping::xml_escape(&binding.uri)
                )),
            }
        }
        let wrapped = format!("<ithaca-scope{declarations}>{text}</ithaca-scope>");
        let doc = roxmltree::Document::parse(&wrapped)
            .map_err(|e| TxContextError::Header(format!("not well-formed: {e}")))?;
        let context = doc
            .root_element()
            .first_element_child()
            .filter(|n| n.has_tag_name((WSCOOR_2006_NS, "CoordinationContext")))
            .ok_or_else(|| bad("not a wscoor 2006/06 CoordinationContext"))?;
        let child = |local: &str| {
            context
                .children()
                .find(|n| n.has_tag_name((WSCOOR_2006_NS, local)))
        };
        let identifier = child("Identifier")
            .and_then(|n| n.text())
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| bad("no wscoor:Identifier"))?;
        if identifier.len() > MAX_IDENTIFIER_LEN {
            return Err(bad("wscoor:Identifier is longer than 1024 bytes"));
        }
        let timeout = match child("Expires").and_then(|n| n.text()) {
            None => 0,
            Some(text) => {
                let ms: u64 = text
                    .trim()
                    .parse()
                    .map_err(|_| bad("wscoor:Expires is not a number of milliseconds"))?;
                u32::try_from(ms.div_ceil(1000)).unwrap_or(u32::MAX)
            }
        };
        // The element again, with the declarations it relies on.
        let own = wrapped.get(context.range()).unwrap_or_default();
        let context_xml = self_contained(own, &context);
        Ok(Self {
            timeout,
            identifier: identifier.to_owned(),
            format_id: WSAT_FORMAT_ID,
            context_xml,
        })
    }

    /// The service context (id 0) carrying this as a `PropagationContext`.
    pub fn service_context(&self) -> Result<ServiceContext, TxContextError> {
        let nil = Value::ObjRef(Ior::default());
        let value = Value::Struct(vec![
            ("timeout".into(), Value::ULong(self.timeout)),
            (
                "current".into(),
                Value::Struct(vec![
                    ("coord".into(), nil.clone()),
                    ("term".into(), nil),
                    (
                        "otid".into(),
                        Value::Struct(vec![
                            ("formatID".into(), Value::Long(self.format_id)),
                            ("bqual_length".into(), Value::Long(0)),
                            (
                                "tid".into(),
                                Value::Octets(Bytes::copy_from_slice(self.identifier.as_bytes())),
                            ),
                        ]),
                    ),
                ]),
            ),
            ("parents".into(), Value::Sequence(Vec::new())),
            (
                "implementation_specific_data".into(),
                Value::Any(
                    Box::new(TypeCode::String(0)),
                    Box::new(Value::String(self.context_xml.clone())),
                ),
            ),
        ]);
        let mut buf = BytesMut::new();
        let mut w = CdrWriter::new(&mut buf, ByteOrder::BigEndian, GiopVersion::V1_2);
        w.write_octet(ByteOrder::BigEndian.flag());
        dynamic::encode(&propagation_context_tc(), &value, &mut w)
            .map_err(|e| TxContextError::Header(e.to_string()))?;
        Ok(ServiceContext {
            context_id: TRANSACTION_SERVICE_ID,
            context_data: buf.freeze(),
        })
    }

    /// Reads the `TransactionService` context of a request back (what an
    /// Ithaca CORBA endpoint receiving a bridged call does).
    pub fn from_service_context(context: &ServiceContext) -> Result<Self, TxContextError> {
        let decode = |e: ithaca_idl::Error| TxContextError::Decode(e.to_string());
        if context.context_id != TRANSACTION_SERVICE_ID {
            return Err(TxContextError::Decode(format!(
                "service context {} is not TransactionService (0)",
                context.context_id
            )));
        }
        let mut r = CdrReader::from_encapsulation(context.context_data.clone(), GiopVersion::V1_2)
            .map_err(decode)?;
        let value = dynamic::decode(&propagation_context_tc(), &mut r).map_err(decode)?;
        let field = |v: &Value, name: &str| -> Option<Value> {
            match v {
                Value::Struct(members) => members
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.clone()),
                _ => None,
            }
        };
        let missing = || TxContextError::Decode("unexpected PropagationContext shape".into());
        let Some(Value::ULong(timeout)) = field(&value, "timeout") else {
            return Err(missing());
        };
        let otid = field(&value, "current")
            .and_then(|c| field(&c, "otid"))
            .ok_or_else(missing)?;
        let Some(Value::Long(format_id)) = field(&otid, "formatID") else {
            return Err(missing());
        };
        let tid = match field(&otid, "tid") {
            Some(Value::Octets(b)) => b.to_vec(),
            _ => return Err(missing()),
        };
        let identifier = String::from_utf8(tid)
            .map_err(|_| TxContextError::Decode("the otid's tid is not UTF-8".into()))?;
        let context_xml = match field(&value, "implementation_specific_data") {
            Some(Value::Any(_, inner)) => match *inner {
                Value::String(s) => s,
                _ => String::new(),
            },
            _ => String::new(),
        };
        Ok(Self {
            timeout,
            identifier,
            format_id,
            context_xml,
        })
    }
}

/// `CosTransactions::PropagationContext` (CORBA OTS 1.4 §10.6).
pub fn propagation_context_tc() -> TypeCode {
    let objref = |name: &str| TypeCode::ObjRef {
        id: format!("IDL:omg.org/CosTransactions/{name}:1.0"),
        name: name.to_owned(),
    };
    let otid = TypeCode::Struct {
        id: "IDL:omg.org/CosTransactions/otid_t:1.0".into(),
        name: "otid_t".into(),
        members: vec![
            Member::new("formatID", TypeCode::Long),
            Member::new("bqual_length", TypeCode::Long),
            Member::new(
                "tid",
                TypeCode::Sequence {
                    element: Box::new(TypeCode::Octet),
                    bound: 0,
                },
            ),
        ],
    };
    let trans_identity = TypeCode::Struct {
        id: "IDL:omg.org/CosTransactions/TransIdentity:1.0".into(),
        name: "TransIdentity".into(),
        members: vec![
            Member::new("coord", objref("Coordinator")),
            Member::new("term", objref("Terminator")),
            Member::new("otid", otid),
        ],
    };
    TypeCode::Struct {
        id: "IDL:omg.org/CosTransactions/PropagationContext:1.0".into(),
        name: "PropagationContext".into(),
        members: vec![
            Member::new("timeout", TypeCode::ULong),
            Member::new("current", trans_identity.clone()),
            Member::new(
                "parents",
                TypeCode::Sequence {
                    element: Box::new(trans_identity),
                    bound: 0,
                },
            ),
            Member::new("implementation_specific_data", TypeCode::Any),
        ],
    }
}

/// The element's text with every namespace in scope that it does not
/// declare itself declared on its start tag.
fn self_contained(own: &str, node: &roxmltree::Node<'_, '_>) -> String {
    let Some(name_end) = own
        .char_indices()
        .skip(1)
        .find(|(_, c)| c.is_whitespace() || *c == '>' || *c == '/')
        .map(|(i, _)| i)
    else {
        return own.to_owned();
    };
    let (head, rest) = own.split_at(name_end);
    let mut declarations = String::new();
    for ns in node.namespaces() {
        let declared_here = match ns.name() {
            Some(prefix) => rest
                .split('>')
                .next()
                .is_some_and(|tag| tag.contains(&format!("xmlns:{prefix}="))),
            None => rest
                .split('>')
                .next()
                .is_some_and(|tag| tag.contains("xmlns=")),
        };
        if declared_here || ns.name() == Some("xml") {
            continue;
        }
        let uri = crate::bridge::mapping::xml_escape(ns.uri());
        match ns.name() {
            Some(prefix) => declarations.push_str(&format!(" xmlns:{prefix}=\"{uri}\"")),
            None => declarations.push_str(&format!(" xmlns=\"{uri}\"")),
        }
    }
    format!("{head}{declarations}{rest}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTEXT: &str = "<wscoor:CoordinationContext soap:mustUnderstand=\"1\">\
        <wscoor:Identifier>urn:uuid:0f6c-tx-1</wscoor:Identifier>\
        <wscoor:Expires>2500</wscoor:Expires>\
        <wscoor:CoordinationType>http://docs.oasis-open.org/ws-tx/wsat/2006/06</wscoor:CoordinationType>\
        <wscoor:RegistrationService><wsa:Address>http://c/wsat/registration</wsa:Address>\
        <wsa:ReferenceParameters><i:tx xmlns:i=\"urn:i\">abc</i:tx></wsa:ReferenceParameters>\
        </wscoor:RegistrationService></wscoor:CoordinationContext>";

    fn scope() -> Vec<ithaca_wsdl::NamespaceBinding> {
        [
            ("wscoor", WSCOOR_2006_NS),
            ("wsa", "http://www.w3.org/2005/08/addressing"),
            ("soap", "http://schemas.xmlsoap.org/soap/envelope/"),
        ]
        .into_iter()
        .map(|(p, u)| ithaca_wsdl::NamespaceBinding {
            prefix: Some(p.to_owned()),
            uri: u.to_owned(),
        })
        .collect()
    }

    #[test]
    fn a_context_becomes_a_propagation_context_and_back() {
        let p = WsatPropagation::from_header(CONTEXT.as_bytes(), &scope()).unwrap();
        assert_eq!(p.timeout, 3);
        assert_eq!(p.identifier, "urn:uuid:0f6c-tx-1");
        assert!(
            p.context_xml
                .contains(&format!("xmlns:wscoor=\"{WSCOOR_2006_NS}\""))
        );
        // The carried element parses alone.
        let doc = roxmltree::Document::parse(&p.context_xml).unwrap();
        assert!(
            doc.root_element()
                .has_tag_name((WSCOOR_2006_NS, "CoordinationContext"))
        );
        let sc = p.service_context().unwrap();
        assert_eq!(sc.context_id, 0);
        assert_eq!(WsatPropagation::from_service_context(&sc).unwrap(), p);
    }

    #[test]
    fn unusable_contexts_are_refused() {
        for bad in [
            "<wscoor:CoordinationContext/>",
            "<x:Other xmlns:x=\"urn:x\"/>",
            "<wscoor:CoordinationContext><wscoor:Identifier>a</wscoor:Identifier>\
             <wscoor:Expires>soon</wscoor:Expires></wscoor:CoordinationContext>",
            "<!DOCTYPE x><x/>",
        ] {
            assert!(
                WsatPropagation::from_header(bad.as_bytes(), &scope()).is_err(),
                "{bad}"
            );
        }
    }
}
