//! Writes the Rust source of each port type: the server trait, its
//! registration on a `SoapServiceBuilder`, a fault enum per operation
//! (declared faults with their detail, declared header faults with their
//! header block, any other SOAP fault), a
//! header struct per operation input or output that binds `soap:header`
//! parts, and the client.
//!
//! An operation with header parts takes its input header blocks as a
//! second argument (`…InputHeaders`, one optional field per part) and
//! answers its output header blocks beside its output
//! (`(Output, …OutputHeaders)`); operations without keep the plain
//! signatures.
//!
//! rpc/encoded operations are registered through the gateway's section 5
//! codec (`typed::encoded_handler`) and called through it
//! (`SoapClient::call_encoded` / `send_one_way_encoded`, naming the
//! binding and operation); the client of a port type with any of them
//! holds an `EncodedContract`, so its `new` takes the `Contract` too.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::diagnostic::Location;
use crate::loader::Loaded;
use crate::qname::QName;
use crate::wsdl11::{OperationInfo, OperationKind, ParameterStyle, Use};

use super::Options;
use super::emit::{RT, lit};
use super::model::{Model, TypeUse};
use super::names::{field_name, type_name};

/// One operation, typed.
struct TypedOperation {
    name: String,
    /// Whether the operation is rpc/encoded: served and called through the
    /// SOAP section 5 codec.
    encoded: bool,
    method: String,
    action: Option<String>,
    input: (String, String, TypeUse),
    output: Option<(String, String, TypeUse)>,
    fault_enum: String,
    /// (variant, wsdl fault name, element namespace, element local, type)
    faults: Vec<(String, String, String, String, TypeUse)>,
    /// The `soap:headerfault`s: (variant, header the fault is about,
    /// block namespace, block local, type).
    header_faults: Vec<(String, String, String, String, TypeUse)>,
    /// The input's `soap:header` parts, when it binds any.
    input_headers: Option<HeaderStruct>,
    /// The output's `soap:header` parts, when it binds any.
    output_headers: Option<HeaderStruct>,
}

/// The generated struct of an input's or output's header blocks.
struct HeaderStruct {
    /// Its Rust name.
    name: String,
    /// (field, element namespace, element local, type), in the order the
    /// binding declares them.
    fields: Vec<(String, String, String, TypeUse)>,
}

/// One port type with its operations.
pub(crate) struct TypedPort {
    name: QName,
    trait_name: String,
    client_name: String,
    serve_fn: String,
    /// The binding whose operations these are.
    binding: QName,
    operations: Vec<TypedOperation>,
}

fn qname_parts(name: &QName) -> (String, String) {
    (
        name.namespace.clone().unwrap_or_default(),
        name.local.clone(),
    )
}

/// Builds the typed port types: the operations of the first SOAP binding
/// of each port type.
pub(crate) fn collect(loaded: &Loaded, model: &mut Model<'_>) -> Vec<TypedPort> {
    let operations = loaded.definitions.operations(&loaded.schema);
    let mut by_port: BTreeMap<QName, (QName, Vec<&OperationInfo>)> = BTreeMap::new();
    for op in &operations {
        let entry = by_port
            .entry(op.port_type.clone())
            .or_insert_with(|| (op.binding.clone(), Vec::new()));
        if entry.0 == op.binding {
            entry.1.push(op);
        }
    }
    let mut ports = Vec::new();
    for (port_type, (binding, ops)) in by_port {
        let trait_name = model.names.unique(type_name(&port_type.local, "Port"));
        let client_name = model.names.unique(format!("{trait_name}Client"));
        let serve_fn = format!(
            "serve_{}",
            field_name(&port_type.local, "port").trim_start_matches("r#")
        );
        let location = loaded
            .definitions
            .port_types
            .get(&port_type)
            .map(|p| p.location.clone())
            .unwrap_or_else(|| Location::file("wsdl"));
        let mut typed = Vec::new();
        let mut methods = super::names::NameSet::with_reserved(&["new", "soap"]);
        for op in ops {
            if let Some(t) = operation(loaded, model, op, &location, &mut methods) {
                typed.push(t);
            }
        }
        ports.push(TypedPort {
            name: port_type,
            trait_name,
            client_name,
            serve_fn,
            binding,
            operations: typed,
        });
    }
    ports
}

fn operation(
    loaded: &Loaded,
    model: &mut Model<'_>,
    op: &OperationInfo,
    at: &Location,
    methods: &mut super::names::NameSet,
) -> Option<TypedOperation> {
    let encoded = op.use_kind == Use::Encoded;
    if encoded && op.style != crate::wsdl11::Style::Rpc {
        model.errors.push(format!(
            "{at}: unsupported: the operation {} is document/encoded",
            op.name
        ));
        return None;
    }
    let message_parts = |message: &QName| -> Vec<(String, Option<QName>, Option<QName>)> {
        loaded
            .definitions
            .messages
            .get(message)
            .map(|m| {
                m.parts
                    .iter()
                    .map(|p| (p.name.clone(), p.element.clone(), p.type_name.clone()))
                    .collect()
            })
            .unwrap_or_default()
    };
    let side = |model: &mut Model<'_>, info: &crate::wsdl11::BodyInfo, suffix: &str| {
        let all = message_parts(&info.message);
        let parts: Vec<_> = all
            .into_iter()
            .filter(|(name, _, _)| info.parts.contains(name))
            .collect();
        match op.parameter_style {
            ParameterStyle::Rpc => {
                let name = info.body_name.clone()?;
                let (ns, local) = qname_parts(&name);
                let ty = model.rpc_struct(
                    &format!("{}{suffix}", op.name),
                    format!("The rpc wrapper `{name}` of `{}`.", op.name),
                    &parts,
                    at,
                )?;
                Some((ns, local, ty))
            }
            ParameterStyle::Wrapped | ParameterStyle::Bare => match parts.as_slice() {
                [(_, Some(element), _)] => {
                    let ty = model.element_use(element, at)?;
                    let (ns, local) = qname_parts(element);
                    Some((ns, local, ty))
                }
                _ => {
                    model.errors.push(format!(
                        "{at}: unsupported: the operation {} needs exactly one element part in its body",
                        op.name
                    ));
                    None
                }
            },
        }
    };
    let input = side(model, op.input.as_ref()?, "Request")?;
    let output = match (&op.output, op.kind) {
        (Some(info), OperationKind::RequestResponse) => Some(side(model, info, "Response")?),
        _ => None,
    };
    let headers = |model: &mut Model<'_>, info: Option<&crate::wsdl11::BodyInfo>, suffix: &str| {
        let info = info?;
        if info.headers.is_empty() {
            return Some(None);
        }
        let mut fields = Vec::new();
        let mut names = super::names::NameSet::with_reserved(&[]);
        for header in &info.headers {
            if loaded.schema.element(header).is_none() {
                model.errors.push(format!(
                    "{at}: unsupported: the header {header} of {} is not a global element (a type part)",
                    op.name
                ));
                return None;
            }
            let ty = model.element_use(header, at)?;
            let (ns, local) = qname_parts(header);
            fields.push((names.unique(field_name(&local, "header")), ns, local, ty));
        }
        let name = model
            .names
            .unique(format!("{}{suffix}", type_name(&op.name, "Op")));
        Some(Some(HeaderStruct { name, fields }))
    };
    if encoded
        && [&op.input, &op.output]
            .into_iter()
            .flatten()
            .any(|side| !side.headers.is_empty())
    {
        model.errors.push(format!(
            "{at}: unsupported: the rpc/encoded operation {} binds soap:header parts",
            op.name
        ));
        return None;
    }
    let input_headers = headers(model, op.input.as_ref(), "InputHeaders")?;
    let output_headers = match op.kind {
        OperationKind::RequestResponse => headers(model, op.output.as_ref(), "OutputHeaders")?,
        _ => None,
    };
    let method = methods.unique(field_name(&op.name, "call"));
    let fault_enum = model
        .names
        .unique(format!("{}Fault", type_name(&op.name, "Op")));
    let mut variants = super::names::NameSet::with_reserved(&["Soap"]);
    let mut faults = Vec::new();
    for fault in &op.faults {
        let Some(element) = &fault.element else {
            model.errors.push(format!(
                "{at}: unsupported: the fault {} of {} has no element part",
                fault.name, op.name
            ));
            continue;
        };
        let ty = model.element_use(element, at)?;
        let (ns, local) = qname_parts(element);
        faults.push((
            variants.unique(type_name(&fault.name, "Declared")),
            fault.name.clone(),
            ns,
            local,
            ty,
        ));
    }
    let mut header_faults = Vec::new();
    for fault in &op.header_faults {
        if !fault.is_element || loaded.schema.element(&fault.block).is_none() {
            model.errors.push(format!(
                "{at}: unsupported: the header fault {} of {} is not a global element (a type part)",
                fault.block, op.name
            ));
            return None;
        }
        let ty = model.element_use(&fault.block, at)?;
        let (ns, local) = qname_parts(&fault.block);
        header_faults.push((
            variants.unique(type_name(&local, "HeaderFault")),
            fault.header.to_string(),
            ns,
            local,
            ty,
        ));
    }
    Some(TypedOperation {
        name: op.name.clone(),
        encoded,
        method,
        action: op.soap_action.clone().filter(|a| !a.is_empty()),
        input,
        output,
        fault_enum,
        faults,
        header_faults,
        input_headers,
        output_headers,
    })
}

pub(crate) fn emit(ports: &[TypedPort], options: &Options, out: &mut String) {
    for port in ports {
        for op in &port.operations {
            emit_fault(op, options, out);
            for (headers, side) in [(&op.input_headers, "input"), (&op.output_headers, "output")] {
                if let Some(headers) = headers {
                    emit_headers(headers, &op.name, side, out);
                }
            }
        }
        if options.server {
            emit_trait(port, out);
        }
        if options.client {
            emit_client(port, out);
        }
    }
}

/// The Rust type of the output: the response type, `()` for a one-way
/// operation, and a tuple with the output header struct when there is one.
fn output_type(op: &TypedOperation) -> String {
    let body = op
        .output
        .as_ref()
        .map_or_else(|| "()".to_owned(), |(_, _, ty)| ty.rust().to_owned());
    match &op.output_headers {
        Some(headers) => format!("({body}, {})", headers.name),
        None => body,
    }
}

/// Whether the operation binds header parts on either side.
fn has_headers(op: &TypedOperation) -> bool {
    op.input_headers.is_some() || op.output_headers.is_some()
}

/// The struct of one side's header blocks and its `HeaderSet` impl.
fn emit_headers(headers: &HeaderStruct, operation: &str, side: &str, out: &mut String) {
    let name = &headers.name;
    let _ = writeln!(
        out,
        "/// The SOAP header blocks of the {side} of `{operation}` (its `soap:header`\n/// parts); `None` for a block not sent.\n#[derive(Debug, Clone, PartialEq, Default)]\npub struct {name} {{"
    );
    for (field, ns, local, ty) in &headers.fields {
        let _ = writeln!(
            out,
            "    /// The header block `{{{ns}}}{local}`.\n    pub {field}: ::std::option::Option<{}>,",
            ty.rust()
        );
    }
    out.push_str("}\n\n");
    let _ = writeln!(
        out,
        "impl {RT}::HeaderSet for {name} {{\n    fn read_block(&mut self, r: &mut {RT}::XmlReader<'_>) -> ::std::result::Result<bool, {RT}::DecodeError> {{"
    );
    for (field, ns, local, _) in &headers.fields {
        let _ = writeln!(
            out,
            "        if r.is({}, {}) {{\n            self.{field} = ::std::option::Option::Some({RT}::XmlRead::read_xml(r)?);\n            return ::std::result::Result::Ok(true);\n        }}",
            lit(ns),
            lit(local)
        );
    }
    out.push_str("        ::std::result::Result::Ok(false)\n    }\n\n");
    let _ = writeln!(
        out,
        "    fn write_blocks(&self) -> ::std::vec::Vec<::std::vec::Vec<u8>> {{\n        let mut blocks = ::std::vec::Vec::new();"
    );
    for (field, ns, local, _) in &headers.fields {
        let _ = writeln!(
            out,
            "        if let ::std::option::Option::Some(block) = &self.{field} {{\n            blocks.push({RT}::to_element(block, {}, {}));\n        }}",
            lit(ns),
            lit(local)
        );
    }
    out.push_str("        blocks\n    }\n}\n\n");
}

/// The type of the input header argument: the struct, or `()`.
fn input_headers_type(op: &TypedOperation) -> &str {
    op.input_headers.as_ref().map_or("()", |h| h.name.as_str())
}

fn emit_fault(op: &TypedOperation, options: &Options, out: &mut String) {
    let name = &op.fault_enum;
    let _ = writeln!(
        out,
        "/// The faults of `{}`: its declared faults, or any other SOAP fault.",
        op.name
    );
    let _ = writeln!(
        out,
        "#[derive(Debug, Clone, PartialEq)]\npub enum {name} {{"
    );
    for (variant, fault, ns, local, ty) in &op.faults {
        let _ = writeln!(
            out,
            "    /// The declared fault `{fault}` (detail `{{{ns}}}{local}`).\n    {variant}({RT}::DeclaredFault<{}>),",
            ty.rust()
        );
    }
    for (variant, header, ns, local, ty) in &op.header_faults {
        let _ = writeln!(
            out,
            "    /// The header fault `{{{ns}}}{local}` (a `soap:headerfault` about the\n    /// header `{header}`), its block in the fault's `Header`.\n    {variant}({RT}::HeaderFault<{}>),",
            ty.rust()
        );
    }
    out.push_str("    /// Any other SOAP fault.\n    Soap(::ithaca_wsdl::Fault),\n}\n\n");
    let _ = writeln!(
        out,
        "impl ::std::fmt::Display for {name} {{\n    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {{\n        match self {{"
    );
    for (variant, fault, ..) in &op.faults {
        let _ = writeln!(
            out,
            "            Self::{variant}(fault) => ::std::write!(f, \"{{}} ({})\", fault.reason),",
            fault
                .replace('"', "'")
                .replace('{', "{{")
                .replace('}', "}}")
        );
    }
    for (variant, _, _, local, _) in &op.header_faults {
        let _ = writeln!(
            out,
            "            Self::{variant}(fault) => ::std::write!(f, \"{{}} (header fault {})\", fault.reason),",
            local
        );
    }
    out.push_str(
        "            Self::Soap(fault) => f.write_str(fault.reason()),\n        }\n    }\n}\n\n",
    );
    let _ = writeln!(out, "impl ::std::error::Error for {name} {{}}\n");
    let _ = writeln!(
        out,
        "impl ::std::convert::From<::ithaca_wsdl::Fault> for {name} {{\n    fn from(fault: ::ithaca_wsdl::Fault) -> Self {{\n        Self::Soap(fault)\n    }}\n}}\n"
    );
    let _ = writeln!(out, "impl {name} {{");
    if options.server {
        out.push_str("    /// The SOAP error a server answers for this fault.\n    pub fn into_soap_error(self) -> ::ithaca_gateway::soap::SoapError {\n        match self {\n");
        for (variant, fault, ns, local, _) in &op.faults {
            let _ = writeln!(
                out,
                "            Self::{variant}(fault) => ::ithaca_gateway::soap::SoapError::declared(\n                {},\n                fault.reason,\n                ::std::string::String::from_utf8_lossy(&{RT}::to_element(&fault.detail, {}, {})).into_owned(),\n            ),",
                lit(fault),
                lit(ns),
                lit(local)
            );
        }
        for (variant, _, ns, local, _) in &op.header_faults {
            let _ = writeln!(
                out,
                "            Self::{variant}(fault) => ::ithaca_gateway::soap::SoapError::header_fault(\n                fault.code,\n                fault.reason,\n                ::std::string::String::from_utf8_lossy(&{RT}::to_element(&fault.block, {}, {})).into_owned(),\n            ),",
                lit(ns),
                lit(local)
            );
        }
        out.push_str("            Self::Soap(fault) => ::ithaca_gateway::soap::SoapError::from(fault),\n        }\n    }\n\n");
    }
    let _ = writeln!(
        out,
        "    /// Reads a fault response: the declared header fault whose block\n    /// the `Header` holds, else the declared fault whose element the\n    /// detail holds, else the fault as it is.\n    pub fn from_response(fault: ::ithaca_wsdl::Fault, message: &[u8]) -> Self {{"
    );
    for (variant, _, ns, local, ty) in &op.header_faults {
        let _ = writeln!(
            out,
            "        let block = {RT}::read_header_block(message, &::ithaca_wsdl::Limits::DEFAULT, {}, {})\n            .ok()\n            .flatten()\n            .and_then(|mut r| <{} as {RT}::XmlRead>::read_xml(&mut r).ok());\n        if let ::std::option::Option::Some(block) = block {{\n            return Self::{variant}({RT}::HeaderFault {{\n                code: fault.code,\n                reason: fault.reason().to_owned(),\n                block,\n            }});\n        }}",
            lit(ns),
            lit(local),
            ty.rust()
        );
    }
    if op.faults.is_empty() {
        out.push_str("        let _ = message;\n");
    } else {
        let _ = writeln!(
            out,
            "        let ::std::result::Result::Ok(::std::option::Option::Some((mut r, ns, local))) =\n            {RT}::read_fault_detail(message, &::ithaca_wsdl::Limits::DEFAULT)\n        else {{\n            return Self::Soap(fault);\n        }};"
        );
        for (variant, _, ns, local, _) in &op.faults {
            let _ = writeln!(
                out,
                "            if ns == {} && local == {} {{\n                if let ::std::result::Result::Ok(detail) = {RT}::XmlRead::read_xml(&mut r) {{\n                    return Self::{variant}({RT}::DeclaredFault {{\n                        reason: fault.reason().to_owned(),\n                        detail,\n                    }});\n                }}\n                return Self::Soap(fault);\n            }}",
                lit(ns),
                lit(local)
            );
        }
    }
    out.push_str("        Self::Soap(fault)\n    }\n}\n\n");
}

fn emit_trait(port: &TypedPort, out: &mut String) {
    let t = &port.trait_name;
    let _ = writeln!(
        out,
        "/// The operations of the port type `{}`: implement them and host\n/// them with [`{}`].",
        port.name, port.serve_fn
    );
    let _ = writeln!(
        out,
        "pub trait {t}: ::std::marker::Send + ::std::marker::Sync + 'static {{"
    );
    for op in &port.operations {
        let headers_arg = op
            .input_headers
            .as_ref()
            .map(|h| format!("        headers: {},\n", h.name))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "    /// The operation `{}`.\n    fn {}(\n        &self,\n        input: {},\n{headers_arg}    ) -> impl ::std::future::Future<Output = ::std::result::Result<{}, {}>> + ::std::marker::Send;",
            op.name,
            op.method,
            op.input.2.rust(),
            output_type(op),
            op.fault_enum
        );
    }
    out.push_str("}\n\n");
    let _ = writeln!(
        out,
        "/// Registers every operation of `service` on `builder`: requests are\n/// decoded into the generated types, responses and faults encoded back.\npub fn {}<S: {t}>(\n    builder: ::ithaca_gateway::soap::SoapServiceBuilder,\n    service: ::std::sync::Arc<S>,\n) -> ::ithaca_gateway::soap::SoapServiceBuilder {{",
        port.serve_fn
    );
    if port.operations.is_empty() {
        out.push_str("    let _ = service;\n");
    } else {
        out.push_str("    let mut builder = builder;\n");
    }
    for op in &port.operations {
        let response = match &op.output {
            Some((ns, local, _)) => {
                format!("::std::option::Option::Some(({}, {}))", lit(ns), lit(local))
            }
            None => "::std::option::Option::None".to_owned(),
        };
        if has_headers(op) {
            // Both sides as the runtime sees them: `()` for a side without
            // header parts, the output paired with its header struct.
            let call_args = if op.input_headers.is_some() {
                "input, headers"
            } else {
                "input"
            };
            let wrap = if op.output_headers.is_some() {
                ""
            } else {
                ".map(|output| (output, ()))"
            };
            let _ = writeln!(
                out,
                "    let s = ::std::sync::Arc::clone(&service);\n    builder = builder.operation(\n        {},\n        ::ithaca_gateway::soap::typed::handler_with_headers({response}, move |input: {}, headers: {}| {{\n            let s = ::std::sync::Arc::clone(&s);\n            let _ = &headers;\n            async move {{ s.{}({call_args}).await{wrap}.map_err({}::into_soap_error) }}\n        }}),\n    );",
                lit(&op.name),
                op.input.2.rust(),
                input_headers_type(op),
                op.method,
                op.fault_enum
            );
            continue;
        }
        if op.encoded {
            let _ = writeln!(
                out,
                "    let s = ::std::sync::Arc::clone(&service);\n    builder = builder.dynamic_operation(\n        {},\n        ::ithaca_gateway::soap::typed::encoded_handler({response}, move |input: {}| {{\n            let s = ::std::sync::Arc::clone(&s);\n            async move {{ s.{}(input).await.map_err({}::into_soap_error) }}\n        }}),\n    );",
                lit(&op.name),
                op.input.2.rust(),
                op.method,
                op.fault_enum
            );
            continue;
        }
        let _ = writeln!(
            out,
            "    let s = ::std::sync::Arc::clone(&service);\n    builder = builder.operation(\n        {},\n        ::ithaca_gateway::soap::typed::handler({response}, move |input: {}| {{\n            let s = ::std::sync::Arc::clone(&s);\n            async move {{ s.{}(input).await.map_err({}::into_soap_error) }}\n        }}),\n    );",
            lit(&op.name),
            op.input.2.rust(),
            op.method,
            op.fault_enum
        );
    }
    out.push_str("    builder\n}\n\n");
}

fn emit_client(port: &TypedPort, out: &mut String) {
    let c = &port.client_name;
    let encoded = port.operations.iter().any(|op| op.encoded);
    if encoded {
        // SOAP 1.1 section 5 needs the schema at run time: the client
        // holds the contract loaded from the same WSDL.
        let _ = writeln!(
            out,
            "/// A client of the port type `{}`: one method per operation. Its\n/// rpc/encoded operations are encoded by SOAP 1.1 section 5 with the\n/// contract given to [`{c}::new`].\n#[derive(Debug, Clone)]\npub struct {c} {{\n    soap: ::ithaca_gateway::soap::client::SoapClient,\n    contract: ::ithaca_gateway::soap::client::EncodedContract,\n}}\n",
            port.name
        );
        let _ = writeln!(
            out,
            "impl {c} {{\n    /// A client calling through `soap` (its endpoint, SOAP version and\n    /// limits), encoding with `contract`: the contract loaded from the\n    /// WSDL this code was generated from.\n    pub fn new(\n        soap: ::ithaca_gateway::soap::client::SoapClient,\n        contract: &::ithaca_gateway::soap::Contract,\n    ) -> Self {{\n        Self {{\n            soap,\n            contract: ::ithaca_gateway::soap::client::EncodedContract::new(contract),\n        }}\n    }}\n\n    /// The SOAP client underneath.\n    pub fn soap(&self) -> &::ithaca_gateway::soap::client::SoapClient {{\n        &self.soap\n    }}"
        );
    } else {
        let _ = writeln!(
            out,
            "/// A client of the port type `{}`: one method per operation.\n#[derive(Debug, Clone)]\npub struct {c} {{\n    soap: ::ithaca_gateway::soap::client::SoapClient,\n}}\n",
            port.name
        );
        let _ = writeln!(
            out,
            "impl {c} {{\n    /// A client calling through `soap` (its endpoint, SOAP version and\n    /// limits).\n    pub fn new(soap: ::ithaca_gateway::soap::client::SoapClient) -> Self {{\n        Self {{ soap }}\n    }}\n\n    /// The SOAP client underneath.\n    pub fn soap(&self) -> &::ithaca_gateway::soap::client::SoapClient {{\n        &self.soap\n    }}"
        );
    }
    let binding = format!(
        "({}, {})",
        lit(port.binding.namespace.as_deref().unwrap_or("")),
        lit(&port.binding.local)
    );
    for op in &port.operations {
        let action = op.action.as_ref().map_or_else(
            || "::std::option::Option::None".to_owned(),
            |a| format!("::std::option::Option::Some({})", lit(a)),
        );
        let (ns, local, ty) = &op.input;
        let headers_arg = op
            .input_headers
            .as_ref()
            .map(|h| format!("        headers: &{},\n", h.name))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "\n    /// Calls `{}`.\n    pub async fn {}(\n        &self,\n        input: &{},\n{headers_arg}    ) -> ::std::result::Result<{}, ::ithaca_gateway::soap::client::CallError<{}>> {{\n        let body = {RT}::to_element(input, {}, {});",
            op.name,
            op.method,
            ty.rust(),
            output_type(op),
            op.fault_enum,
            lit(ns),
            lit(local)
        );
        if op.encoded {
            let call = if op.output.is_some() {
                "call_encoded"
            } else {
                "send_one_way_encoded"
            };
            let _ = writeln!(
                out,
                "        self.soap\n            .{call}(\n                &self.contract,\n                {binding},\n                {},\n                {action},\n                body,\n                {}::from_response,\n            )\n            .await\n    }}",
                lit(&op.name),
                op.fault_enum
            );
            continue;
        }
        if has_headers(op) {
            let headers = if op.input_headers.is_some() {
                "headers"
            } else {
                "&()"
            };
            let call = match (&op.output, &op.output_headers) {
                (Some(_), Some(_)) => format!(
                    "        self.soap\n            .call_typed_with_headers({action}, {headers}, body, {}::from_response)\n            .await",
                    op.fault_enum
                ),
                (Some(_), None) => format!(
                    "        self.soap\n            .call_typed_with_headers({action}, {headers}, body, {}::from_response)\n            .await\n            .map(|(output, ()): (_, ())| output)",
                    op.fault_enum
                ),
                (None, _) => format!(
                    "        self.soap\n            .send_one_way_with_headers({action}, {headers}, body, {}::from_response)\n            .await",
                    op.fault_enum
                ),
            };
            let _ = writeln!(out, "{call}\n    }}");
            continue;
        }
        if op.output.is_some() {
            let _ = writeln!(
                out,
                "        self.soap\n            .call_typed({action}, body, {}::from_response)\n            .await\n    }}",
                op.fault_enum
            );
        } else {
            let _ = writeln!(
                out,
                "        self.soap\n            .send_one_way({action}, body, {}::from_response)\n            .await\n    }}",
                op.fault_enum
            );
        }
    }
    out.push_str("}\n\n");
}
