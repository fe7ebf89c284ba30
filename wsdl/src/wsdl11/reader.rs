//! Reads `wsdl:definitions` documents into [`Definitions`].

use roxmltree::Node;

use crate::diagnostic::{Diagnostic, DiagnosticKind, Location};
use crate::qname::QName;
use crate::version::SoapVersion;
use crate::xmldoc::{Doc, elements, is, namespace_of};
use crate::xsd::builtin::XSD_NS;
use crate::xsd::model::{ComponentKind, Reference};
use crate::xsd::reader::{Directive, read_schema};
use crate::xsd::set::SchemaSet;

use super::model::{
    Binding, BindingFault, BindingMessage, BindingOperation, Definitions, Message, Operation,
    OperationKind, OperationMessage, Part, Port, PortType, Service, SoapBinding, SoapBody,
    SoapHeader, SoapHeaderFault, Style, Use, WSDL11_NS, WSDL11_SOAP11_NS, WSDL11_SOAP12_NS,
};

/// A `wsdl:import` found while reading.
#[derive(Debug, Clone)]
pub(crate) struct WsdlImport {
    pub(crate) location: String,
    pub(crate) at: Location,
}

/// What a WSDL document points to.
#[derive(Debug, Default)]
pub(crate) struct WsdlDirectives {
    pub(crate) imports: Vec<WsdlImport>,
    pub(crate) schemas: Vec<Directive>,
}

fn soap_version(node: Node<'_, '_>) -> Option<SoapVersion> {
    match node.tag_name().namespace() {
        Some(WSDL11_SOAP11_NS) => Some(SoapVersion::Soap11),
        Some(WSDL11_SOAP12_NS) => Some(SoapVersion::Soap12),
        _ => None,
    }
}

fn is_soap(node: Node<'_, '_>, local: &str) -> bool {
    node.is_element() && soap_version(node).is_some() && node.tag_name().name() == local
}

fn is_wsdl(node: Node<'_, '_>, local: &str) -> bool {
    is(node, WSDL11_NS, local)
}

struct Reader<'r, 'a, 'input> {
    doc: &'r Doc<'a, 'input>,
    target_namespace: Option<String>,
    defs: &'r mut Definitions,
    set: &'r mut SchemaSet,
    diagnostics: &'r mut Vec<Diagnostic>,
}

/// Reads one `wsdl:definitions` element and its inline schemas.
pub(crate) fn read_definitions(
    doc: &Doc<'_, '_>,
    root: Node<'_, '_>,
    is_root: bool,
    defs: &mut Definitions,
    set: &mut SchemaSet,
    diagnostics: &mut Vec<Diagnostic>,
) -> WsdlDirectives {
    let target_namespace = root
        .attribute("targetNamespace")
        .filter(|ns| !ns.is_empty())
        .map(str::to_owned);
    if is_root {
        defs.target_namespace.clone_from(&target_namespace);
        defs.name = root.attribute("name").map(str::to_owned);
    }
    let mut reader = Reader {
        doc,
        target_namespace,
        defs,
        set,
        diagnostics,
    };
    let mut directives = WsdlDirectives::default();
    for child in elements(root) {
        if namespace_of(child) != Some(WSDL11_NS) {
            continue;
        }
        match child.tag_name().name() {
            "import" => match child.attribute("location") {
                Some(location) => directives.imports.push(WsdlImport {
                    location: location.to_owned(),
                    at: doc.location(child),
                }),
                None => reader.missing(child, "location"),
            },
            "types" => {
                for schema in elements(child).filter(|n| is(*n, XSD_NS, "schema")) {
                    let found = read_schema(doc, schema, None, reader.set, reader.diagnostics);
                    directives.schemas.extend(found);
                }
            }
            "message" => reader.message(child),
            "portType" => reader.port_type(child),
            "binding" => reader.binding(child),
            "service" => reader.service(child),
            _ => {}
        }
    }
    directives
}

impl Reader<'_, '_, '_> {
    fn missing(&mut self, node: Node<'_, '_>, attribute: &str) {
        self.diagnostics.push(Diagnostic::error(
            DiagnosticKind::BadAttribute,
            self.doc.location(node),
            format!(
                "{}:{} needs a `{attribute}` attribute",
                if soap_version(node).is_some() {
                    "soap"
                } else {
                    "wsdl"
                },
                node.tag_name().name()
            ),
        ));
    }

    fn name(&mut self, node: Node<'_, '_>) -> Option<QName> {
        match node.attribute("name") {
            Some(local) => Some(QName {
                namespace: self.target_namespace.clone(),
                local: local.to_owned(),
            }),
            None => {
                self.missing(node, "name");
                None
            }
        }
    }

    fn duplicate(&mut self, what: &str, name: &QName, node: Node<'_, '_>) {
        self.diagnostics.push(Diagnostic::warning(
            DiagnosticKind::Duplicate,
            self.doc.location(node),
            format!("the {what} {name} is defined more than once; the first definition is kept"),
        ));
    }

    fn qname_attribute(&mut self, node: Node<'_, '_>, attribute: &str) -> Option<QName> {
        let Some(value) = node.attribute(attribute) else {
            self.missing(node, attribute);
            return None;
        };
        self.doc.resolve_qname(node, value, self.diagnostics)
    }

    fn message(&mut self, node: Node<'_, '_>) {
        let Some(name) = self.name(node) else { return };
        let mut parts = Vec::new();
        for part in elements(node).filter(|n| is_wsdl(*n, "part")) {
            let Some(part_name) = part.attribute("name") else {
                self.missing(part, "name");
                continue;
            };
            let location = self.doc.location(part);
            let element = match part.attribute("element") {
                Some(value) => self.doc.resolve_qname(part, value, self.diagnostics),
                None => None,
            };
            let type_name = match part.attribute("type") {
                Some(value) => self.doc.resolve_qname(part, value, self.diagnostics),
                None => None,
            };
            if let Some(element) = &element {
                self.set.references.push(Reference {
                    kind: ComponentKind::Element,
                    name: element.clone(),
                    location: location.clone(),
                });
            }
            if let Some(type_name) = &type_name {
                self.set.references.push(Reference {
                    kind: ComponentKind::Type,
                    name: type_name.clone(),
                    location: location.clone(),
                });
            }
            if element.is_none()
                && type_name.is_none()
                && !part.has_attribute("element")
                && !part.has_attribute("type")
            {
                self.diagnostics.push(Diagnostic::error(
                    DiagnosticKind::BadAttribute,
                    location.clone(),
                    format!("the part `{part_name}` has neither `element` nor `type`"),
                ));
            }
            parts.push(Part {
                name: part_name.to_owned(),
                element,
                type_name,
                location,
            });
        }
        if self.defs.messages.contains_key(&name) {
            self.duplicate("message", &name, node);
            return;
        }
        self.defs.messages.insert(
            name.clone(),
            Message {
                name,
                parts,
                location: self.doc.location(node),
            },
        );
    }

    fn operation_message(&mut self, node: Node<'_, '_>) -> Option<OperationMessage> {
        let message = self.qname_attribute(node, "message")?;
        Some(OperationMessage {
            name: node.attribute("name").map(str::to_owned),
            message,
            location: self.doc.location(node),
        })
    }

    fn port_type(&mut self, node: Node<'_, '_>) {
        let Some(name) = self.name(node) else { return };
        let mut operations = Vec::new();
        for op in elements(node).filter(|n| is_wsdl(*n, "operation")) {
            let Some(op_name) = op.attribute("name") else {
                self.missing(op, "name");
                continue;
            };
            let mut input = None;
            let mut output = None;
            let mut faults = Vec::new();
            let mut first = None;
            for child in elements(op) {
                let local = child.tag_name().name();
                if !is_wsdl(child, local) {
                    continue;
                }
                match local {
                    "input" => {
                        first.get_or_insert("input");
                        input = self.operation_message(child);
                    }
                    "output" => {
                        first.get_or_insert("output");
                        output = self.operation_message(child);
                    }
                    "fault" => {
                        if let Some(fault) = self.operation_message(child) {
                            if fault.name.is_none() {
                                self.missing(child, "name");
                            }
                            faults.push(fault);
                        }
                    }
                    _ => {}
                }
            }
            let has_input = elements(op).any(|n| is_wsdl(n, "input"));
            let has_output = elements(op).any(|n| is_wsdl(n, "output"));
            let kind = match (has_input, has_output, first) {
                (true, true, Some("output")) => OperationKind::SolicitResponse,
                (true, true, _) => OperationKind::RequestResponse,
                (true, false, _) => OperationKind::OneWay,
                (false, true, _) => OperationKind::Notification,
                (false, false, _) => {
                    self.diagnostics.push(Diagnostic::error(
                        DiagnosticKind::Structure,
                        self.doc.location(op),
                        format!("the operation `{op_name}` has neither input nor output"),
                    ));
                    OperationKind::OneWay
                }
            };
            if matches!(
                kind,
                OperationKind::SolicitResponse | OperationKind::Notification
            ) {
                self.diagnostics.push(Diagnostic::warning(
                    DiagnosticKind::Unsupported,
                    self.doc.location(op),
                    format!(
                        "the operation `{op_name}` is a {} operation, which SOAP over HTTP does not support; it is ignored when serving",
                        if kind == OperationKind::Notification {
                            "notification"
                        } else {
                            "solicit-response"
                        }
                    ),
                ));
            }
            operations.push(Operation {
                name: op_name.to_owned(),
                kind,
                input,
                output,
                faults,
                location: self.doc.location(op),
            });
        }
        if self.defs.port_types.contains_key(&name) {
            self.duplicate("port type", &name, node);
            return;
        }
        self.defs.port_types.insert(
            name.clone(),
            PortType {
                name,
                operations,
                location: self.doc.location(node),
            },
        );
    }

    fn style(&mut self, node: Node<'_, '_>) -> Option<Style> {
        match node.attribute("style") {
            None => None,
            Some("document") => Some(Style::Document),
            Some("rpc") => Some(Style::Rpc),
            Some(other) => {
                self.diagnostics.push(Diagnostic::warning(
                    DiagnosticKind::BadAttribute,
                    self.doc.location(node),
                    format!("`{other}` is not a binding style (document or rpc); it is ignored"),
                ));
                None
            }
        }
    }

    fn use_kind(&mut self, node: Node<'_, '_>) -> Use {
        match node.attribute("use") {
            None | Some("literal") => Use::Literal,
            Some("encoded") => Use::Encoded,
            Some(other) => {
                self.diagnostics.push(Diagnostic::error(
                    DiagnosticKind::BadAttribute,
                    self.doc.location(node),
                    format!("`{other}` is not a use (literal or encoded)"),
                ));
                Use::Literal
            }
        }
    }

    fn binding_message(&mut self, node: Node<'_, '_>) -> BindingMessage {
        let mut message = BindingMessage {
            name: node.attribute("name").map(str::to_owned),
            ..BindingMessage::default()
        };
        // soap:body and soap:header may sit directly under the message or
        // inside mime:multipartRelated/mime:part.
        let mut candidates: Vec<Node<'_, '_>> = elements(node).collect();
        let mut index = 0;
        while let Some(child) = candidates.get(index).copied() {
            index += 1;
            if child.tag_name().name() == "multipartRelated" || child.tag_name().name() == "part" {
                message.mime = true;
                if candidates.len() < 10_000 {
                    candidates.extend(elements(child));
                }
                continue;
            }
            if is_soap(child, "body") {
                message.body = Some(SoapBody {
                    parts: child
                        .attribute("parts")
                        .map(|p| p.split_ascii_whitespace().map(str::to_owned).collect()),
                    use_kind: self.use_kind(child),
                    namespace: child.attribute("namespace").map(str::to_owned),
                    encoding_style: child.attribute("encodingStyle").map(str::to_owned),
                });
            } else if is_soap(child, "header") {
                let Some(header_message) = self.qname_attribute(child, "message") else {
                    continue;
                };
                let Some(part) = child.attribute("part") else {
                    self.missing(child, "part");
                    continue;
                };
                let mut header_faults = Vec::new();
                for fault in elements(child).filter(|n| is_soap(*n, "headerfault")) {
                    let Some(fault_message) = self.qname_attribute(fault, "message") else {
                        continue;
                    };
                    let Some(fault_part) = fault.attribute("part") else {
                        self.missing(fault, "part");
                        continue;
                    };
                    header_faults.push(SoapHeaderFault {
                        message: fault_message,
                        part: fault_part.to_owned(),
                        use_kind: self.use_kind(fault),
                        namespace: fault.attribute("namespace").map(str::to_owned),
                        location: self.doc.location(fault),
                    });
                }
                message.headers.push(SoapHeader {
                    message: header_message,
                    part: part.to_owned(),
                    use_kind: self.use_kind(child),
                    namespace: child.attribute("namespace").map(str::to_owned),
                    encoding_style: child.attribute("encodingStyle").map(str::to_owned),
                    header_faults,
                    location: self.doc.location(child),
                });
            }
        }
        message
    }

    fn binding(&mut self, node: Node<'_, '_>) {
        let Some(name) = self.name(node) else { return };
        let Some(port_type) = self.qname_attribute(node, "type") else {
            return;
        };
        let mut soap = elements(node)
            .find(|n| is_soap(*n, "binding"))
            .map(|b| SoapBinding {
                version: soap_version(b).unwrap_or(SoapVersion::Soap11),
                style: self.style(b),
                transport: b.attribute("transport").map(str::to_owned),
            });
        if soap.is_none() {
            // SOAP extension elements on the operations without a
            // soap:binding: read it as a SOAP binding, and say so.
            let version = node
                .descendants()
                .filter(|n| is_soap(*n, "operation") || is_soap(*n, "body"))
                .find_map(soap_version);
            if let Some(version) = version {
                self.diagnostics.push(Diagnostic::warning(
                    DiagnosticKind::Structure,
                    self.doc.location(node),
                    "the binding has SOAP operations but no soap:binding; it is read as a SOAP binding",
                ));
                soap = Some(SoapBinding {
                    version,
                    style: None,
                    transport: None,
                });
            }
        }
        let mut operations = Vec::new();
        for op in elements(node).filter(|n| is_wsdl(*n, "operation")) {
            let Some(op_name) = op.attribute("name") else {
                self.missing(op, "name");
                continue;
            };
            let soap_operation = elements(op).find(|n| is_soap(*n, "operation"));
            let mut faults = Vec::new();
            for fault in elements(op).filter(|n| is_wsdl(*n, "fault")) {
                let soap_fault = elements(fault).find(|n| is_soap(*n, "fault"));
                let Some(fault_name) = fault
                    .attribute("name")
                    .or_else(|| soap_fault.and_then(|f| f.attribute("name")))
                else {
                    self.missing(fault, "name");
                    continue;
                };
                faults.push(BindingFault {
                    name: fault_name.to_owned(),
                    use_kind: soap_fault.map_or(Use::Literal, |f| self.use_kind(f)),
                    namespace: soap_fault
                        .and_then(|f| f.attribute("namespace"))
                        .map(str::to_owned),
                    location: self.doc.location(fault),
                });
            }
            let input = elements(op)
                .find(|n| is_wsdl(*n, "input"))
                .map(|n| self.binding_message(n));
            let output = elements(op)
                .find(|n| is_wsdl(*n, "output"))
                .map(|n| self.binding_message(n));
            operations.push(BindingOperation {
                name: op_name.to_owned(),
                soap_action: soap_operation
                    .and_then(|n| n.attribute("soapAction"))
                    .map(str::to_owned),
                style: soap_operation.and_then(|n| self.style(n)),
                input,
                output,
                faults,
                location: self.doc.location(op),
            });
        }
        if self.defs.bindings.contains_key(&name) {
            self.duplicate("binding", &name, node);
            return;
        }
        self.defs.bindings.insert(
            name.clone(),
            Binding {
                name,
                port_type,
                soap,
                operations,
                location: self.doc.location(node),
            },
        );
    }

    fn service(&mut self, node: Node<'_, '_>) {
        let Some(name) = self.name(node) else { return };
        let mut ports = Vec::new();
        for port in elements(node).filter(|n| is_wsdl(*n, "port")) {
            let Some(port_name) = port.attribute("name") else {
                self.missing(port, "name");
                continue;
            };
            let Some(binding) = self.qname_attribute(port, "binding") else {
                continue;
            };
            let address = elements(port).find(|n| n.tag_name().name() == "address");
            ports.push(Port {
                name: port_name.to_owned(),
                binding,
                address: address
                    .and_then(|a| a.attribute("location"))
                    .map(str::to_owned),
                soap_version: address.and_then(soap_version),
                location: self.doc.location(port),
            });
        }
        if self.defs.services.iter().any(|s| s.name == name) {
            self.duplicate("service", &name, node);
            return;
        }
        self.defs.services.push(Service {
            name,
            ports,
            location: self.doc.location(node),
        });
    }
}
