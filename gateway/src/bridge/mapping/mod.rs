//! Interface mappings between OMG IDL and WSDL 1.1.
//!
//! - [`idl_to_wsdl`]: an IDL file to a WSDL 1.1 document (document/literal
//!   wrapped, SOAP 1.1 and SOAP 1.2 bindings) and a [`MappingTable`] that
//!   says, for every WSDL operation and XSD type, which IDL operation,
//!   repository id, parameter modes and IDL type it came from.
//! - [`wsdl_to_idl`]: a WSDL 1.1 document to IDL text: a module per
//!   target namespace, structs, unions, enums, exceptions and one
//!   interface per port type.
//!
//! Both report what they cannot express as [`MappingDiagnostic`]s with
//! `file:line:col`, naming the construct and the rule. The mapping choices
//! are documented in `docs/bridging-corba-and-soap.md`.

mod idl_names;
mod idl_to_wsdl;
mod wsdl_to_idl;

use std::fmt;

pub(crate) use idl_names::sanitize as idl_identifier;
pub use idl_to_wsdl::{IdlToWsdlOptions, WsdlMapping, idl_to_wsdl};
pub use wsdl_to_idl::{IdlMapping, WsdlToIdlOptions, wsdl_to_idl};

/// The target namespace of every WSDL made from IDL (C2WSDL's "IDL-Mapped"
/// namespace); names inside it are IDL scoped names with `.` for `::`.
pub const IDL_MAPPED_NS: &str = "http://www.omg.org/IDL-Mapped/";

/// The namespace of Ithaca's annotations on WSDLs made from IDL
/// (`idl:repositoryId`, `idl:bases`, `idl:declaredIn`), which let
/// [`wsdl_to_idl`] give back the original repository ids and inheritance.
pub const BRIDGE_NS: &str = "urn:ithaca:bridge:idl";

/// How serious a [`MappingDiagnostic`] is.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Severity {
    /// Mapped, but with a documented loss (such as `long double` to
    /// `xs:double`).
    Warning,
    /// Not mapped.
    Error,
}

/// One problem found while mapping, at a place in the input.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct MappingDiagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The input file.
    pub file: String,
    /// 1-based line, 0 when unknown.
    pub line: u32,
    /// 1-based column, 0 when unknown.
    pub col: u32,
    /// What cannot be mapped and by which rule, in one line.
    pub message: String,
}

impl MappingDiagnostic {
    /// Whether this diagnostic means something was not mapped.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for MappingDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{}:{}:{}: {severity}: {}",
            self.file, self.line, self.col, self.message
        )
    }
}

/// Why a mapping produced nothing.
#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    /// The input is not valid IDL or WSDL, or uses constructs the mapping
    /// cannot express (and partial output was not asked for).
    #[error("{} problem(s) prevent the mapping", .0.len())]
    Diagnostics(Vec<MappingDiagnostic>),
    /// The input file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// A parameter's passing mode, as IDL declares it.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum ParamMode {
    /// `in`: in the request wrapper only.
    In,
    /// `out`: in the response wrapper only.
    Out,
    /// `inout`: in both wrappers.
    InOut,
}

/// One parameter of a mapped operation.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct ParamMapping {
    /// The IDL parameter name, which is also the wrapper child element's
    /// local name.
    pub name: String,
    /// Its mode.
    pub mode: ParamMode,
    /// The IDL type, spelled as IDL writes it (`sequence<::M::S,4>`).
    pub idl_type: String,
}

/// One WSDL operation and the IDL operation it invokes.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct OperationMapping {
    /// The port type (`M.I`, the interface's scoped name with `.`).
    pub port_type: String,
    /// The WSDL operation name, also the GIOP operation name
    /// (`_get_x`/`_set_x` for attributes).
    pub operation: String,
    /// The scoped name of the interface the port type maps (`::M::I`).
    pub interface: String,
    /// Its repository id.
    pub interface_repo_id: String,
    /// The repository id of the interface that declares the operation
    /// (a base, for an inherited one).
    pub declared_in_repo_id: String,
    /// One-way (no response message).
    pub oneway: bool,
    /// Parameters in IDL order.
    pub params: Vec<ParamMapping>,
    /// The IDL return type, `None` for `void`; carried as the response
    /// child `_return`.
    pub result: Option<String>,
    /// The request wrapper element's local name (in [`IDL_MAPPED_NS`]).
    pub request_element: String,
    /// The response wrapper element's local name, `None` when one-way.
    pub response_element: Option<String>,
    /// The repository ids of the user exceptions it raises; each is the
    /// fault (and detail element) named by the exception's scoped name.
    pub raises: Vec<String>,
}

/// One XSD type made from an IDL type.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct TypeMapping {
    /// The XSD type's local name in [`IDL_MAPPED_NS`].
    pub xsd_type: String,
    /// The IDL type it came from (`::M::S`, or `char`, `any`, `Object`
    /// for the `CORBA.*` helper types).
    pub idl_type: String,
    /// Its repository id (empty for primitive helpers).
    pub repo_id: String,
    /// `struct`, `union`, `enum`, `exception`, `typedef` or `builtin`.
    pub kind: &'static str,
}

/// What the runtime bridge needs to convert values between the two sides.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct MappingTable {
    /// Every WSDL operation, per port type, in document order.
    pub operations: Vec<OperationMapping>,
    /// Every XSD type made from an IDL type.
    pub types: Vec<TypeMapping>,
}

impl MappingTable {
    /// The mapping of one operation of one port type.
    pub fn operation(&self, port_type: &str, operation: &str) -> Option<&OperationMapping> {
        self.operations
            .iter()
            .find(|o| o.port_type == port_type && o.operation == operation)
    }
}

/// Escapes text for an XML attribute value or character data.
pub(crate) fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}
