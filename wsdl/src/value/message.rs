//! Whole messages of an operation: the body of a document/literal
//! (wrapped or bare), rpc/literal or rpc/encoded request or response as
//! one [`Value`], and back.
//!
//! The value of a message is:
//! - document style with one body part: the value of the part's element
//!   (for the wrapped convention, the wrapper's fields are the
//!   parameters);
//! - document style with several parts: a complex value with one field
//!   per part element;
//! - rpc style: a complex value with one unqualified field per part,
//!   named after the part, in part order (the accessors inside the
//!   `operation`/`operationResponse` wrapper).

use crate::loader::Loaded;
use crate::qname::{NamespaceBinding, QName};
use crate::version::SoapVersion;
use crate::wsdl11::{OperationInfo, Part, Style, Use};
use crate::xsd::{SOAP11_ENCODING_NS, SchemaSet, XSI_NS};

use super::decode::Decoder;
use super::encode::Encoder;
use super::error::ValueError;
use super::limits::ValueLimits;
use super::model::{Complex, Field, Value};
use super::tree::Tree;
use super::types::{Declared, Types, is_any};

/// Which message of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// The request.
    Input,
    /// The response.
    Output,
}

/// How one message of an operation sits in the body.
struct Shape<'a> {
    style: Style,
    encoded: bool,
    wrapper: Option<QName>,
    parts: Vec<&'a Part>,
}

/// The codec of one operation's messages.
///
/// ```
/// use ithaca_wsdl::value::{Direction, MessageCodec, Value};
/// use ithaca_wsdl::{LoadOptions, NamespaceBinding, load_bytes};
///
/// let wsdl = br#"<definitions xmlns="http://schemas.xmlsoap.org/wsdl/"
///     xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
///     xmlns:xsd="http://www.w3.org/2001/XMLSchema"
///     xmlns:tns="urn:calc" targetNamespace="urn:calc">
///   <message name="addIn"><part name="a" type="xsd:int"/><part name="b" type="xsd:int"/></message>
///   <message name="addOut"><part name="sum" type="xsd:int"/></message>
///   <portType name="Calc">
///     <operation name="add"><input message="tns:addIn"/><output message="tns:addOut"/></operation>
///   </portType>
///   <binding name="CalcRpc" type="tns:Calc">
///     <soap:binding style="rpc" transport="http://schemas.xmlsoap.org/soap/http"/>
///     <operation name="add">
///       <input><soap:body use="encoded" namespace="urn:calc"
///         encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"/></input>
///       <output><soap:body use="encoded" namespace="urn:calc"
///         encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"/></output>
///     </operation>
///   </binding>
/// </definitions>"#;
/// let loaded = load_bytes("calc.wsdl", wsdl, &LoadOptions::default());
/// let operations = loaded.definitions.operations(&loaded.schema);
/// let codec = MessageCodec::new(&loaded, &operations[0]);
///
/// // The body's content, and the bindings the envelope made around it.
/// let body = br##"<c:add xmlns:c="urn:calc">
///   <a xsi:type="xsd:int">2</a><b href="#b1"/></c:add>
///   <multiRef id="b1" xsi:type="xsd:int">40</multiRef>"##;
/// let scope = [
///     NamespaceBinding { prefix: Some("xsi".into()), uri: "http://www.w3.org/2001/XMLSchema-instance".into() },
///     NamespaceBinding { prefix: Some("xsd".into()), uri: "http://www.w3.org/2001/XMLSchema".into() },
/// ];
/// let request = codec.decode(Direction::Input, body, &scope)?;
/// let sum = request.field("a").and_then(Value::as_i64).unwrap_or(0)
///     + request.field("b").and_then(Value::as_i64).unwrap_or(0);
///
/// let reply = codec.encode(
///     Direction::Output,
///     &Value::complex([ithaca_wsdl::value::Field::unqualified("sum", Value::int(sum))]),
/// )?;
/// let reply = String::from_utf8(reply)?;
/// assert!(reply.contains(r#"<sum xsi:type="xsd:int">42</sum>"#), "{reply}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct MessageCodec<'a> {
    loaded: &'a Loaded,
    operation: &'a OperationInfo,
    limits: ValueLimits,
    /// Whether messages are read and written as literal whatever the
    /// binding's `use` (see [`MessageCodec::as_literal`]).
    literal: bool,
}

impl<'a> MessageCodec<'a> {
    /// The codec of `operation`, one of `loaded.definitions.operations(…)`.
    pub fn new(loaded: &'a Loaded, operation: &'a OperationInfo) -> Self {
        Self {
            loaded,
            operation,
            limits: ValueLimits::DEFAULT,
            literal: false,
        }
    }

    /// Reads and writes the messages as if the binding's `use` were
    /// literal: for an rpc/encoded operation, the wrapper and accessors as
    /// rpc/literal puts them (no `xsi:type`, arrays and multi-references
    /// inline as the schema's elements). Generated code serves rpc/encoded
    /// operations through it: an encoded request decoded into a value is
    /// written literal for the generated reader, and the literal output
    /// the generated writer gives is read back and encoded.
    #[must_use]
    pub fn as_literal(mut self) -> Self {
        self.literal = true;
        self
    }

    /// Decodes under `limits` instead of [`ValueLimits::DEFAULT`].
    pub fn with_limits(mut self, limits: ValueLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The operation.
    pub fn operation(&self) -> &'a OperationInfo {
        self.operation
    }

    fn shape(&self, direction: Direction) -> Result<Shape<'a>, ValueError> {
        let op = self.operation;
        let definitions = &self.loaded.definitions;
        let info = match direction {
            Direction::Input => op.input.as_ref(),
            Direction::Output => op.output.as_ref(),
        };
        let Some(info) = info else {
            return Err(ValueError::unsupported(
                "",
                format!(
                    "the operation `{}` has no {} message",
                    op.name,
                    match direction {
                        Direction::Input => "input",
                        Direction::Output => "output",
                    }
                ),
            ));
        };
        let body = definitions
            .bindings
            .get(&op.binding)
            .and_then(|b| b.operations.iter().find(|o| o.name == op.name))
            .and_then(|o| match direction {
                Direction::Input => o.input.as_ref(),
                Direction::Output => o.output.as_ref(),
            })
            .and_then(|m| m.body.as_ref());
        let encoded = !self.literal && body.map_or(op.use_kind, |b| b.use_kind) == Use::Encoded;
        if encoded {
            if op.soap_version == SoapVersion::Soap12 {
                return Err(ValueError::unsupported(
                    "",
                    "SOAP 1.2 encoding is not supported (rpc/encoded works over SOAP 1.1)",
                ));
            }
            if let Some(style) = body.and_then(|b| b.encoding_style.as_deref())
                && !style
                    .split_ascii_whitespace()
                    .any(|s| s == SOAP11_ENCODING_NS)
            {
                return Err(ValueError::unsupported(
                    "",
                    format!("the encodingStyle \"{style}\" is not supported"),
                ));
            }
        }
        let message = definitions.messages.get(&info.message);
        let parts = info
            .parts
            .iter()
            .filter_map(|name| message.and_then(|m| m.part(name)))
            .collect();
        Ok(Shape {
            style: op.style,
            encoded,
            wrapper: (op.style == Style::Rpc)
                .then(|| info.body_name.clone())
                .flatten(),
            parts,
        })
    }

    /// Decodes a message's body content (`payload`: everything in the
    /// SOAP `Body`, or just its first child for literal use), with the
    /// namespace bindings `scope` in force around it.
    pub fn decode(
        &self,
        direction: Direction,
        payload: &[u8],
        scope: &[NamespaceBinding],
    ) -> Result<Value, ValueError> {
        let shape = self.shape(direction)?;
        let tree = Tree::read(payload, scope, &self.limits.xml)?;
        let types = Types::new(&self.loaded.schema);
        let mut decoder = Decoder::new(types, &tree, self.limits, shape.encoded)?;
        let top = tree.top_level();
        match shape.style {
            Style::Document => {
                let mut fields = Vec::with_capacity(shape.parts.len());
                for (position, part) in shape.parts.iter().enumerate() {
                    let Some(&index) = top.get(position) else {
                        return Err(ValueError::invalid(
                            "/",
                            format!("the body lacks the part `{}`", part.name),
                        ));
                    };
                    let (name, declared) = part_declaration(&decoder.types, part, false);
                    let found = tree
                        .node(index)
                        .map(|n| n.name.clone())
                        .unwrap_or_else(|| QName::unqualified(""));
                    if part.element.is_some()
                        && found != name
                        && !substitutes(&self.loaded.schema, &name, &found)
                    {
                        return Err(ValueError::invalid(
                            &format!("/{}", found.local),
                            format!("expected the element {name}, found {found}"),
                        ));
                    }
                    let value =
                        decoder.element(index, declared, &format!("/{}", found.local), 1)?;
                    fields.push(Field { name: found, value });
                }
                if let Some(&extra) = top.get(shape.parts.len())
                    && !shape.encoded
                {
                    let name = tree
                        .node(extra)
                        .map(|n| n.name.to_string())
                        .unwrap_or_default();
                    return Err(ValueError::invalid(
                        "/",
                        format!("unexpected element {name} after the message's parts"),
                    ));
                }
                match <[Field; 1]>::try_from(fields) {
                    Ok([field]) => Ok(field.value),
                    Err(fields) => Ok(Value::Complex(Complex {
                        fields,
                        ..Complex::default()
                    })),
                }
            }
            Style::Rpc => {
                let Some(&wrapper_index) = top.first() else {
                    return Err(ValueError::invalid("/", "the body is empty"));
                };
                let Some(wrapper) = tree.node(wrapper_index) else {
                    return Err(ValueError::invalid("/", "the body is empty"));
                };
                let path = format!("/{}", wrapper.name.local);
                if let Some(expected) = &shape.wrapper
                    && (expected.local != wrapper.name.local
                        || (expected.namespace.is_some()
                            && expected.namespace != wrapper.name.namespace))
                {
                    return Err(ValueError::invalid(
                        &path,
                        format!("expected the element {expected}, found {}", wrapper.name),
                    ));
                }
                if !shape.encoded && top.len() > 1 {
                    return Err(ValueError::invalid(
                        "/",
                        format!(
                            "the body holds {} elements; rpc/literal takes one",
                            top.len()
                        ),
                    ));
                }
                let mut used = vec![false; wrapper.children.len()];
                let mut fields = Vec::with_capacity(shape.parts.len());
                for part in &shape.parts {
                    let (name, declared) = part_declaration(&decoder.types, part, true);
                    let found = wrapper.children.iter().enumerate().find(|(i, c)| {
                        !used.get(*i).copied().unwrap_or(true)
                            && tree.node(**c).is_some_and(|n| {
                                if part.element.is_some() {
                                    n.name == name
                                } else {
                                    n.name.local == part.name
                                }
                            })
                    });
                    let Some((i, &child)) = found else {
                        return Err(ValueError::invalid(
                            &path,
                            format!("the accessor of the part `{}` is missing", part.name),
                        ));
                    };
                    if let Some(slot) = used.get_mut(i) {
                        *slot = true;
                    }
                    let value =
                        decoder.element(child, declared, &format!("{path}/{}", part.name), 2)?;
                    fields.push(Field::unqualified(part.name.clone(), value));
                }
                if let Some(i) = used.iter().position(|u| !u) {
                    let name = wrapper
                        .children
                        .get(i)
                        .and_then(|&c| tree.node(c))
                        .map(|n| n.name.to_string())
                        .unwrap_or_default();
                    return Err(ValueError::invalid(
                        &path,
                        format!("unexpected accessor {name}; the operation has no such part"),
                    ));
                }
                Ok(Value::Complex(Complex {
                    fields,
                    ..Complex::default()
                }))
            }
        }
    }

    /// Encodes a message's value as the body content to send (one element
    /// for document style and for rpc style, which is the wrapper).
    pub fn encode(&self, direction: Direction, value: &Value) -> Result<Vec<u8>, ValueError> {
        let shape = self.shape(direction)?;
        let types = Types::new(&self.loaded.schema);
        let mut encoder = Encoder::new(types, shape.encoded, self.limits.max_depth);
        match shape.style {
            Style::Document => {
                if let [part] = shape.parts.as_slice() {
                    let (name, declared) = part_declaration(&encoder.types, part, false);
                    encoder.element(&name, declared, value, &format!("/{}", name.local), 1)?;
                } else {
                    let Value::Complex(complex) = value else {
                        return Err(ValueError::unencodable(
                            "/",
                            "a message of several parts needs a complex value, one field per part",
                        ));
                    };
                    for part in &shape.parts {
                        let (name, declared) = part_declaration(&encoder.types, part, false);
                        let field = complex
                            .fields
                            .iter()
                            .find(|f| f.name == name || f.name.local == part.name)
                            .ok_or_else(|| {
                                ValueError::unencodable(
                                    "/",
                                    format!("the value has no field for the part `{}`", part.name),
                                )
                            })?;
                        encoder.element(
                            &name,
                            declared,
                            &field.value,
                            &format!("/{}", name.local),
                            1,
                        )?;
                    }
                }
            }
            Style::Rpc => {
                let wrapper = shape.wrapper.clone().unwrap_or_else(|| {
                    QName::unqualified(match direction {
                        Direction::Input => self.operation.name.clone(),
                        Direction::Output => format!("{}Response", self.operation.name),
                    })
                });
                let path = format!("/{}", wrapper.local);
                let empty = Complex::default();
                let complex = match value {
                    Value::Complex(complex) => complex,
                    _ if shape.parts.is_empty() => &empty,
                    _ => {
                        return Err(ValueError::unencodable(
                            &path,
                            "an rpc message needs a complex value, one field per part",
                        ));
                    }
                };
                let mut tag = encoder.begin(&wrapper);
                if shape.encoded {
                    encoder.declare(&mut tag, XSI_NS);
                    encoder.declare(&mut tag, crate::xsd::builtin::XSD_NS);
                    encoder.declare(&mut tag, SOAP11_ENCODING_NS);
                    encoder.attribute(
                        &mut tag,
                        &QName::new(crate::version::SOAP11_ENVELOPE_NS, "encodingStyle"),
                        SOAP11_ENCODING_NS,
                    );
                }
                let tag_name = encoder.finish(tag, shape.parts.is_empty());
                if !shape.parts.is_empty() {
                    for part in &shape.parts {
                        let (name, declared) = part_declaration(&encoder.types, part, true);
                        let field = complex
                            .fields
                            .iter()
                            .find(|f| f.name.local == part.name || f.name == name)
                            .ok_or_else(|| {
                                ValueError::unencodable(
                                    &path,
                                    format!("the value has no field for the part `{}`", part.name),
                                )
                            })?;
                        encoder.element(
                            &name,
                            declared,
                            &field.value,
                            &format!("{path}/{}", part.name),
                            2,
                        )?;
                    }
                    encoder.end(&tag_name);
                }
            }
        }
        Ok(encoder.out.into_bytes())
    }

    /// Encodes the detail entry of the declared fault `fault`: its
    /// message's element holding `detail` (always literal, as WS-I and
    /// SOAP 1.1 section 4.4 have it).
    pub fn encode_fault_detail(&self, fault: &str, detail: &Value) -> Result<String, ValueError> {
        let Some(info) = self.operation.faults.iter().find(|f| f.name == fault) else {
            return Err(ValueError::unencodable(
                "",
                format!(
                    "the operation `{}` declares no fault `{fault}`",
                    self.operation.name
                ),
            ));
        };
        let Some(element) = &info.element else {
            return Err(ValueError::unencodable(
                "",
                format!("the fault `{fault}` has no element part to carry its detail"),
            ));
        };
        encode_element(&self.loaded.schema, element, detail)
    }
}

/// The accessor name and expected type of a part: an element part is its
/// global element; a type part is an element named after the part (in no
/// namespace) of that type.
fn part_declaration<'s>(types: &Types<'s>, part: &Part, _rpc: bool) -> (QName, Declared<'s>) {
    if let Some(element) = &part.element {
        let declared = types
            .schema
            .element(element)
            .map_or(Declared::ANY, |decl| types.declared(decl));
        return (element.clone(), declared);
    }
    let ty = part
        .type_name
        .as_ref()
        .and_then(|t| types.resolve_name(t))
        .filter(|t| !is_any(*t));
    (
        QName::unqualified(part.name.clone()),
        Declared { ty, nillable: true },
    )
}

/// Whether `member` may stand for `head` through substitution groups.
fn substitutes(schema: &SchemaSet, head: &QName, member: &QName) -> bool {
    let mut queue = vec![head];
    let mut seen = 0;
    while let Some(next) = queue.pop() {
        seen += 1;
        if seen > 1024 {
            return false;
        }
        for candidate in schema.substitution_group(next) {
            if candidate == member {
                return true;
            }
            queue.push(candidate);
        }
    }
    false
}

/// Decodes one element (`xml`, with the bindings `scope` in force around
/// it) as the global element `element` of `schema`, with literal rules.
pub fn decode_element(
    schema: &SchemaSet,
    xml: &[u8],
    scope: &[NamespaceBinding],
    element: &QName,
    limits: &ValueLimits,
) -> Result<Value, ValueError> {
    let tree = Tree::read(xml, scope, &limits.xml)?;
    let types = Types::new(schema);
    let Some(decl) = schema.element(element) else {
        return Err(ValueError::invalid(
            "/",
            format!("no global element {element} is declared"),
        ));
    };
    let declared = types.declared(decl);
    let mut decoder = Decoder::new(types, &tree, *limits, false)?;
    let (Some(&index), None) = (tree.top_level().first(), tree.top_level().get(1)) else {
        return Err(ValueError::invalid("/", "expected exactly one element"));
    };
    let found = tree
        .node(index)
        .map(|n| n.name.clone())
        .unwrap_or_else(|| QName::unqualified(""));
    let path = format!("/{}", found.local);
    if found != *element && !substitutes(schema, element, &found) {
        return Err(ValueError::invalid(
            &path,
            format!("expected the element {element}, found {found}"),
        ));
    }
    decoder.element(index, declared, &path, 1)
}

/// Encodes `value` as the global element `element` of `schema`, with
/// literal rules; the XML declares every prefix it uses.
pub fn encode_element(
    schema: &SchemaSet,
    element: &QName,
    value: &Value,
) -> Result<String, ValueError> {
    let types = Types::new(schema);
    let Some(decl) = schema.element(element) else {
        return Err(ValueError::unencodable(
            "/",
            format!("no global element {element} is declared"),
        ));
    };
    let declared = types.declared(decl);
    let mut encoder = Encoder::new(types, false, ValueLimits::DEFAULT.max_depth);
    encoder.element(element, declared, value, &format!("/{}", element.local), 1)?;
    Ok(encoder.out)
}
