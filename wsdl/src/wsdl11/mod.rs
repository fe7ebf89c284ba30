//! The WSDL 1.1 model: definitions, messages, port types, SOAP 1.1 and
//! SOAP 1.2 bindings and services, plus what the gateway derives from them
//! for each operation ([`OperationInfo`]).

mod model;
pub(crate) mod reader;

pub use model::{
    Binding, BindingFault, BindingMessage, BindingOperation, Definitions, Message, Operation,
    OperationKind, OperationMessage, Part, Port, PortType, Service, SoapBinding, SoapBody,
    SoapHeader, SoapHeaderFault, Style, Use, WSDL11_NS, WSDL11_SOAP11_NS, WSDL11_SOAP12_NS,
};

use crate::diagnostic::{Diagnostic, DiagnosticKind};
use crate::qname::QName;
use crate::version::SoapVersion;
use crate::xsd::model::{ComplexContent, Compositor, Term};
use crate::xsd::{ResolvedType, SchemaSet};

/// How the parameters of an operation sit in the SOAP body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParameterStyle {
    /// document/literal with a single element part named after the
    /// operation whose type is a sequence of elements: the "wrapped"
    /// convention of JAX-WS and .NET.
    Wrapped,
    /// document style otherwise: the body holds the parts' elements as
    /// they are.
    Bare,
    /// rpc style: the body holds a wrapper named after the operation, in
    /// the `soap:body` namespace, with one accessor per part.
    Rpc,
}

/// A body part of a message as bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyInfo {
    /// The message.
    pub message: QName,
    /// The names of the parts in the body, in order.
    pub parts: Vec<String>,
    /// The qualified name of the body's first child, the key for dispatch:
    /// the element of the (first) body part for document style, the
    /// operation wrapper for rpc style. `None` for an empty body.
    pub body_name: Option<QName>,
    /// The header blocks the message binds (part elements, or part names
    /// in the header's namespace for type parts).
    pub headers: Vec<QName>,
}

/// A declared fault of an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultInfo {
    /// The fault's name.
    pub name: String,
    /// Its message.
    pub message: QName,
    /// The element of its single part, which becomes the fault's detail
    /// entry.
    pub element: Option<QName>,
}

/// A `soap:headerfault` of an operation: a header block that carries the
/// detail of a fault about one of the operation's `soap:header` blocks
/// (WSDL 1.1 §3.7), written in the fault message's `Header`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderFaultInfo {
    /// The header block the fault is about (the `soap:header` it is
    /// declared in).
    pub header: QName,
    /// The message holding the header fault part.
    pub message: QName,
    /// The part.
    pub part: String,
    /// The header fault block's name: the part's element, or, for a type
    /// part, the part name in the `soap:headerfault`'s namespace.
    pub block: QName,
    /// Whether the part is an element part (a type part has no global
    /// element declaring the block).
    pub is_element: bool,
    /// `use` of the `soap:headerfault`.
    pub use_kind: Use,
}

/// What the gateway needs to know about one operation of a SOAP binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationInfo {
    /// The binding.
    pub binding: QName,
    /// The bound port type.
    pub port_type: QName,
    /// The operation's name.
    pub name: String,
    /// The SOAP version of the binding.
    pub soap_version: SoapVersion,
    /// The style (operation, else binding, else document).
    pub style: Style,
    /// The use of the input body (else the output's, else literal).
    pub use_kind: Use,
    /// `soapAction`.
    pub soap_action: Option<String>,
    /// The transmission primitive.
    pub kind: OperationKind,
    /// Wrapped, bare or rpc.
    pub parameter_style: ParameterStyle,
    /// The input, when the operation has one.
    pub input: Option<BodyInfo>,
    /// The output, when the operation has one.
    pub output: Option<BodyInfo>,
    /// The declared faults.
    pub faults: Vec<FaultInfo>,
    /// The declared header faults of the input's and output's
    /// `soap:header`s, in binding order, each block name once.
    pub header_faults: Vec<HeaderFaultInfo>,
}

impl Definitions {
    /// The service with this local name.
    pub fn service(&self, local: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.name.local == local)
    }

    /// Derives an [`OperationInfo`] for every operation of every SOAP
    /// binding, bindings in name order, operations in document order.
    /// Operations whose port type or messages do not resolve are skipped
    /// (the loader reported them).
    pub fn operations(&self, schema: &SchemaSet) -> Vec<OperationInfo> {
        let mut out = Vec::new();
        for binding in self.bindings.values() {
            let Some(soap) = &binding.soap else { continue };
            let Some(port_type) = self.port_types.get(&binding.port_type) else {
                continue;
            };
            for bop in &binding.operations {
                let Some(op) = port_type.operation(&bop.name) else {
                    continue;
                };
                if matches!(
                    op.kind,
                    OperationKind::Notification | OperationKind::SolicitResponse
                ) {
                    continue;
                }
                out.push(self.operation_info(schema, binding, soap, bop, op));
            }
        }
        out
    }

    fn operation_info(
        &self,
        schema: &SchemaSet,
        binding: &Binding,
        soap: &SoapBinding,
        bop: &BindingOperation,
        op: &Operation,
    ) -> OperationInfo {
        let style = bop.style.or(soap.style).unwrap_or(Style::Document);
        let use_kind = [&bop.input, &bop.output]
            .into_iter()
            .flatten()
            .find_map(|m| m.body.as_ref().map(|b| b.use_kind))
            .unwrap_or(Use::Literal);
        let input = op
            .input
            .as_ref()
            .map(|m| self.body_info(&m.message, bop.input.as_ref(), style, &op.name, false));
        let output = op
            .output
            .as_ref()
            .map(|m| self.body_info(&m.message, bop.output.as_ref(), style, &op.name, true));
        let parameter_style = match style {
            Style::Rpc => ParameterStyle::Rpc,
            Style::Document => {
                if use_kind == Use::Literal && self.is_wrapped(schema, op, input.as_ref()) {
                    ParameterStyle::Wrapped
                } else {
                    ParameterStyle::Bare
                }
            }
        };
        let faults = op
            .faults
            .iter()
            .map(|f| FaultInfo {
                name: f.name.clone().unwrap_or_default(),
                message: f.message.clone(),
                element: self
                    .messages
                    .get(&f.message)
                    .and_then(|m| m.parts.first())
                    .and_then(|p| p.element.clone()),
            })
            .collect();
        let header_faults = self.header_faults(bop);
        OperationInfo {
            binding: binding.name.clone(),
            port_type: binding.port_type.clone(),
            name: op.name.clone(),
            soap_version: soap.version,
            style,
            use_kind,
            soap_action: bop.soap_action.clone(),
            kind: op.kind,
            parameter_style,
            input,
            output,
            faults,
            header_faults,
        }
    }

    /// The `soap:headerfault`s of a binding operation's input and output
    /// headers whose message parts resolve, each block name once.
    fn header_faults(&self, bop: &BindingOperation) -> Vec<HeaderFaultInfo> {
        let mut out: Vec<HeaderFaultInfo> = Vec::new();
        for header in bop.input.iter().chain(&bop.output).flat_map(|m| &m.headers) {
            let Some(header_part) = self
                .messages
                .get(&header.message)
                .and_then(|m| m.part(&header.part))
            else {
                continue;
            };
            let header_name = header_part.element.clone().unwrap_or_else(|| QName {
                namespace: header.namespace.clone(),
                local: header_part.name.clone(),
            });
            for fault in &header.header_faults {
                let Some(part) = self
                    .messages
                    .get(&fault.message)
                    .and_then(|m| m.part(&fault.part))
                else {
                    continue;
                };
                let block = part.element.clone().unwrap_or_else(|| QName {
                    namespace: fault.namespace.clone(),
                    local: part.name.clone(),
                });
                if out.iter().any(|known| known.block == block) {
                    continue;
                }
                out.push(HeaderFaultInfo {
                    header: header_name.clone(),
                    message: fault.message.clone(),
                    part: fault.part.clone(),
                    is_element: part.element.is_some(),
                    block,
                    use_kind: fault.use_kind,
                });
            }
        }
        out
    }

    fn body_info(
        &self,
        message_name: &QName,
        bound: Option<&BindingMessage>,
        style: Style,
        operation: &str,
        is_output: bool,
    ) -> BodyInfo {
        let message = self.messages.get(message_name);
        let headers_here: Vec<&SoapHeader> = bound
            .map(|b| b.headers.iter().collect())
            .unwrap_or_default();
        let parts: Vec<String> = match bound
            .and_then(|b| b.body.as_ref())
            .and_then(|b| b.parts.clone())
        {
            Some(parts) => parts,
            None => message
                .map(|m| {
                    m.parts
                        .iter()
                        .filter(|p| {
                            !headers_here
                                .iter()
                                .any(|h| &h.message == message_name && h.part == p.name)
                        })
                        .map(|p| p.name.clone())
                        .collect()
                })
                .unwrap_or_default(),
        };
        let body_name = match style {
            Style::Rpc => {
                let namespace = bound
                    .and_then(|b| b.body.as_ref())
                    .and_then(|b| b.namespace.clone())
                    .filter(|ns| !ns.is_empty());
                let local = if is_output {
                    format!("{operation}Response")
                } else {
                    operation.to_owned()
                };
                Some(QName { namespace, local })
            }
            Style::Document => parts
                .iter()
                .find_map(|name| message.and_then(|m| m.part(name)))
                .and_then(|p| p.element.clone()),
        };
        let headers = headers_here
            .iter()
            .filter_map(|h| {
                let part = self.messages.get(&h.message)?.part(&h.part)?;
                part.element.clone().or_else(|| {
                    Some(QName {
                        namespace: h.namespace.clone(),
                        local: part.name.clone(),
                    })
                })
            })
            .collect();
        BodyInfo {
            message: message_name.clone(),
            parts,
            body_name,
            headers,
        }
    }

    /// The wrapped convention: one body part, an element named after the
    /// operation, whose type is a complex type holding a sequence of
    /// elements (or nothing) and no attributes.
    fn is_wrapped(&self, schema: &SchemaSet, op: &Operation, input: Option<&BodyInfo>) -> bool {
        let Some(input) = input else { return false };
        let [part_name] = input.parts.as_slice() else {
            return false;
        };
        let Some(part) = self
            .messages
            .get(&input.message)
            .and_then(|m| m.part(part_name))
        else {
            return false;
        };
        let Some(element_name) = &part.element else {
            return false;
        };
        if element_name.local != op.name {
            return false;
        }
        let Some(element) = schema.element(element_name) else {
            return false;
        };
        let Some(type_ref) = &element.type_ref else {
            return false;
        };
        let Some(ResolvedType::Complex(complex)) = schema.resolve_type(type_ref) else {
            return false;
        };
        if !complex.attributes.is_empty() || !complex.attribute_groups.is_empty() {
            return false;
        }
        match &complex.content {
            ComplexContent::Elements {
                derivation: None,
                particle: None,
            } => true,
            ComplexContent::Elements {
                derivation: None,
                particle: Some(particle),
            } => match &particle.term {
                Term::Group(group) => {
                    group.compositor == Compositor::Sequence
                        && group
                            .particles
                            .iter()
                            .all(|p| matches!(p.term, Term::Element(_) | Term::ElementRef(_)))
                }
                _ => false,
            },
            _ => false,
        }
    }

    /// Checks the references between WSDL components.
    pub(crate) fn link(&self, diagnostics: &mut Vec<Diagnostic>) {
        for port_type in self.port_types.values() {
            for op in &port_type.operations {
                for m in op.input.iter().chain(&op.output).chain(&op.faults) {
                    if !self.messages.contains_key(&m.message) {
                        diagnostics.push(Diagnostic::warning(
                            DiagnosticKind::Undefined,
                            m.location.clone(),
                            format!("unknown message {} (defined nowhere)", m.message),
                        ));
                    }
                }
            }
        }
        for binding in self.bindings.values() {
            let Some(port_type) = self.port_types.get(&binding.port_type) else {
                diagnostics.push(Diagnostic::warning(
                    DiagnosticKind::Undefined,
                    binding.location.clone(),
                    format!("unknown port type {} (defined nowhere)", binding.port_type),
                ));
                continue;
            };
            for bop in &binding.operations {
                let Some(op) = port_type.operation(&bop.name) else {
                    diagnostics.push(Diagnostic::warning(
                        DiagnosticKind::Unresolved,
                        bop.location.clone(),
                        format!(
                            "the binding operation `{}` is not an operation of the port type {}; it is ignored",
                            bop.name, port_type.name
                        ),
                    ));
                    continue;
                };
                for fault in &bop.faults {
                    if !op
                        .faults
                        .iter()
                        .any(|f| f.name.as_deref() == Some(&fault.name))
                    {
                        diagnostics.push(Diagnostic::warning(
                            DiagnosticKind::Unresolved,
                            fault.location.clone(),
                            format!(
                                "the binding fault `{}` is not a fault of the operation `{}`; it is ignored",
                                fault.name, op.name
                            ),
                        ));
                    }
                }
                for header in bop.input.iter().chain(&bop.output).flat_map(|m| &m.headers) {
                    self.check_part(&header.message, &header.part, &header.location, diagnostics);
                    for fault in &header.header_faults {
                        self.check_part(&fault.message, &fault.part, &fault.location, diagnostics);
                    }
                }
                if binding.soap.is_some() {
                    let pairs = [(&bop.input, &op.input), (&bop.output, &op.output)];
                    for (bound, abstract_message) in pairs {
                        let (Some(bound), Some(abstract_message)) = (bound, abstract_message)
                        else {
                            continue;
                        };
                        let Some(parts) = bound.body.as_ref().and_then(|b| b.parts.as_ref()) else {
                            continue;
                        };
                        for part in parts {
                            self.check_part(
                                &abstract_message.message,
                                part,
                                &bop.location,
                                diagnostics,
                            );
                        }
                    }
                }
            }
        }
        for binding in self.bindings.values() {
            self.check_basic_profile(binding, diagnostics);
        }
        for service in &self.services {
            for port in &service.ports {
                if !self.bindings.contains_key(&port.binding) {
                    diagnostics.push(Diagnostic::warning(
                        DiagnosticKind::Undefined,
                        port.location.clone(),
                        format!("unknown binding {} (defined nowhere)", port.binding),
                    ));
                }
            }
        }
    }

    /// Warns about what the WS-I Basic Profile forbids and toolkits
    /// stumble on: mixed styles in one binding (R2705), document/literal
    /// parts given by type (R2204), rpc/literal parts given by element
    /// (R2203), and operations whose requests share a body element, which
    /// cannot be dispatched by the body alone (R2710).
    fn check_basic_profile(&self, binding: &Binding, diagnostics: &mut Vec<Diagnostic>) {
        let Some(soap) = &binding.soap else { return };
        let Some(port_type) = self.port_types.get(&binding.port_type) else {
            return;
        };
        let styles: std::collections::BTreeSet<Style> = binding
            .operations
            .iter()
            .map(|op| op.style.or(soap.style).unwrap_or(Style::Document))
            .collect();
        if styles.len() > 1 {
            diagnostics.push(Diagnostic::warning(
                DiagnosticKind::Structure,
                binding.location.clone(),
                format!(
                    "the binding {} mixes document and rpc operations (WS-I BP R2705)",
                    binding.name
                ),
            ));
        }
        let mut bodies: std::collections::BTreeMap<QName, &str> = std::collections::BTreeMap::new();
        for bop in &binding.operations {
            let Some(op) = port_type.operation(&bop.name) else {
                continue;
            };
            let style = bop.style.or(soap.style).unwrap_or(Style::Document);
            let pairs = [
                (&op.input, &bop.input, false),
                (&op.output, &bop.output, true),
            ];
            for (abstract_message, bound, is_output) in pairs {
                let Some(abstract_message) = abstract_message else {
                    continue;
                };
                let literal = bound
                    .as_ref()
                    .and_then(|b| b.body.as_ref())
                    .is_none_or(|b| b.use_kind == Use::Literal);
                let info = self.body_info(
                    &abstract_message.message,
                    bound.as_ref(),
                    style,
                    &op.name,
                    is_output,
                );
                if let Some(message) = self.messages.get(&abstract_message.message)
                    && literal
                {
                    for part in info.parts.iter().filter_map(|name| message.part(name)) {
                        let wrong = match style {
                            Style::Document => part.element.is_none() && part.type_name.is_some(),
                            Style::Rpc => part.element.is_some(),
                        };
                        if wrong {
                            diagnostics.push(Diagnostic::warning(
                                DiagnosticKind::Structure,
                                part.location.clone(),
                                match style {
                                    Style::Document => format!(
                                        "the part `{}` is bound by document/literal but gives a type, not an element (WS-I BP R2204)",
                                        part.name
                                    ),
                                    Style::Rpc => format!(
                                        "the part `{}` is bound by rpc/literal but gives an element, not a type (WS-I BP R2203)",
                                        part.name
                                    ),
                                },
                            ));
                        }
                    }
                }
                if !is_output && let Some(body) = info.body_name {
                    if let Some(other) = bodies.get(&body) {
                        diagnostics.push(Diagnostic::warning(
                            DiagnosticKind::Structure,
                            bop.location.clone(),
                            format!(
                                "the operations `{other}` and `{}` of the binding {} share the request body element {body}; only SOAPAction can tell them apart (WS-I BP R2710)",
                                op.name, binding.name
                            ),
                        ));
                    } else {
                        bodies.insert(body, &op.name);
                    }
                }
            }
        }
    }

    fn check_part(
        &self,
        message: &QName,
        part: &str,
        location: &crate::diagnostic::Location,
        diagnostics: &mut Vec<Diagnostic>,
    ) {
        match self.messages.get(message) {
            None => diagnostics.push(Diagnostic::warning(
                DiagnosticKind::Undefined,
                location.clone(),
                format!("unknown message {message} (defined nowhere)"),
            )),
            Some(m) if m.part(part).is_none() => diagnostics.push(Diagnostic::warning(
                DiagnosticKind::Unresolved,
                location.clone(),
                format!("the message {message} has no part `{part}`; the binding of that part is ignored"),
            )),
            Some(_) => {}
        }
    }
}
