//! The WSDL 1.1 components and their SOAP binding extensions.

use std::collections::BTreeMap;
use std::fmt;

use crate::diagnostic::Location;
use crate::qname::QName;
use crate::version::SoapVersion;

/// The WSDL 1.1 namespace.
pub const WSDL11_NS: &str = "http://schemas.xmlsoap.org/wsdl/";
/// The namespace of the WSDL 1.1 SOAP 1.1 binding.
pub const WSDL11_SOAP11_NS: &str = "http://schemas.xmlsoap.org/wsdl/soap/";
/// The namespace of the WSDL 1.1 SOAP 1.2 binding.
pub const WSDL11_SOAP12_NS: &str = "http://schemas.xmlsoap.org/wsdl/soap12/";

/// The binding style of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Style {
    /// `document`: the body holds the message parts as they are.
    Document,
    /// `rpc`: the body holds a wrapper named after the operation.
    Rpc,
}

impl fmt::Display for Style {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Document => "document",
            Self::Rpc => "rpc",
        })
    }
}

/// How message parts are serialised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Use {
    /// `literal`: parts follow their schema.
    Literal,
    /// `encoded`: parts follow an encoding (SOAP section 5).
    Encoded,
}

impl fmt::Display for Use {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Literal => "literal",
            Self::Encoded => "encoded",
        })
    }
}

/// One part of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The part's name.
    pub name: String,
    /// The global element the part is (`element=`).
    pub element: Option<QName>,
    /// The type of the part (`type=`).
    pub type_name: Option<QName>,
    /// Where it is written.
    pub location: Location,
}

/// A `wsdl:message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The message's name.
    pub name: QName,
    /// Its parts, in order.
    pub parts: Vec<Part>,
    /// Where it is written.
    pub location: Location,
}

impl Message {
    /// The part with this name.
    pub fn part(&self, name: &str) -> Option<&Part> {
        self.parts.iter().find(|p| p.name == name)
    }
}

/// The transmission primitive of a port type operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OperationKind {
    /// An input only.
    OneWay,
    /// An input, then an output.
    RequestResponse,
    /// An output, then an input (not supported over SOAP/HTTP).
    SolicitResponse,
    /// An output only (not supported over SOAP/HTTP).
    Notification,
}

/// An input, output or fault of a port type operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationMessage {
    /// The `name` attribute (required for faults).
    pub name: Option<String>,
    /// The message it refers to.
    pub message: QName,
    /// Where it is written.
    pub location: Location,
}

/// A port type operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    /// The operation's name.
    pub name: String,
    /// Its transmission primitive.
    pub kind: OperationKind,
    /// The input message.
    pub input: Option<OperationMessage>,
    /// The output message.
    pub output: Option<OperationMessage>,
    /// The declared faults.
    pub faults: Vec<OperationMessage>,
    /// Where it is written.
    pub location: Location,
}

/// A `wsdl:portType`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortType {
    /// The port type's name.
    pub name: QName,
    /// Its operations, in order.
    pub operations: Vec<Operation>,
    /// Where it is written.
    pub location: Location,
}

impl PortType {
    /// The operation with this name (the first, when overloaded).
    pub fn operation(&self, name: &str) -> Option<&Operation> {
        self.operations.iter().find(|o| o.name == name)
    }
}

/// `soap:binding` (or `soap12:binding`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoapBinding {
    /// The SOAP version, from the binding's namespace.
    pub version: SoapVersion,
    /// The default style of the binding's operations.
    pub style: Option<Style>,
    /// The transport URI.
    pub transport: Option<String>,
}

/// `soap:body`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoapBody {
    /// The parts in the body; `None` means every part not bound to a
    /// header.
    pub parts: Option<Vec<String>>,
    /// `use`.
    pub use_kind: Use,
    /// `namespace` (the rpc wrapper's namespace).
    pub namespace: Option<String>,
    /// `encodingStyle`.
    pub encoding_style: Option<String>,
}

/// `soap:headerfault`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoapHeaderFault {
    /// The message holding the header fault part.
    pub message: QName,
    /// The part.
    pub part: String,
    /// `use`.
    pub use_kind: Use,
    /// `namespace`.
    pub namespace: Option<String>,
    /// Where it is written.
    pub location: Location,
}

/// `soap:header`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoapHeader {
    /// The message holding the header part.
    pub message: QName,
    /// The part.
    pub part: String,
    /// `use`.
    pub use_kind: Use,
    /// `namespace`.
    pub namespace: Option<String>,
    /// `encodingStyle`.
    pub encoding_style: Option<String>,
    /// The header faults.
    pub header_faults: Vec<SoapHeaderFault>,
    /// Where it is written.
    pub location: Location,
}

/// The input or output of a binding operation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BindingMessage {
    /// The `name` attribute.
    pub name: Option<String>,
    /// `soap:body`, when present.
    pub body: Option<SoapBody>,
    /// The `soap:header`s.
    pub headers: Vec<SoapHeader>,
    /// Whether the message is bound with MIME multipart (`mime:multipartRelated`).
    pub mime: bool,
}

/// A fault of a binding operation (`wsdl:fault` + `soap:fault`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingFault {
    /// The fault's name, matching a port type operation fault.
    pub name: String,
    /// `use` of the `soap:fault`.
    pub use_kind: Use,
    /// `namespace` of the `soap:fault`.
    pub namespace: Option<String>,
    /// Where it is written.
    pub location: Location,
}

/// A binding operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingOperation {
    /// The operation's name.
    pub name: String,
    /// `soapAction` of `soap:operation`.
    pub soap_action: Option<String>,
    /// `style` of `soap:operation`.
    pub style: Option<Style>,
    /// The input binding.
    pub input: Option<BindingMessage>,
    /// The output binding.
    pub output: Option<BindingMessage>,
    /// The fault bindings.
    pub faults: Vec<BindingFault>,
    /// Where it is written.
    pub location: Location,
}

/// A `wsdl:binding`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The binding's name.
    pub name: QName,
    /// The port type it binds.
    pub port_type: QName,
    /// `soap:binding`, `None` for a non-SOAP binding (HTTP, JMS…).
    pub soap: Option<SoapBinding>,
    /// Its operations.
    pub operations: Vec<BindingOperation>,
    /// Where it is written.
    pub location: Location,
}

/// A `wsdl:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    /// The port's name.
    pub name: String,
    /// Its binding.
    pub binding: QName,
    /// `location` of `soap:address`/`soap12:address`.
    pub address: Option<String>,
    /// The SOAP version of the address element, when it is a SOAP one.
    pub soap_version: Option<SoapVersion>,
    /// Where it is written.
    pub location: Location,
}

/// A `wsdl:service`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// The service's name.
    pub name: QName,
    /// Its ports.
    pub ports: Vec<Port>,
    /// Where it is written.
    pub location: Location,
}

/// Every WSDL 1.1 component of the loaded documents, by expanded name.
///
/// Components from imported WSDL documents are merged in, each under its
/// own document's target namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Definitions {
    /// The root document's `targetNamespace`.
    pub target_namespace: Option<String>,
    /// The root document's `name`.
    pub name: Option<String>,
    /// The messages.
    pub messages: BTreeMap<QName, Message>,
    /// The port types.
    pub port_types: BTreeMap<QName, PortType>,
    /// The bindings.
    pub bindings: BTreeMap<QName, Binding>,
    /// The services, in document order.
    pub services: Vec<Service>,
}
