//! IDL to WSDL 1.1, after OMG "CORBA to WSDL/SOAP Interworking" 1.2.1.
//!
//! One WSDL per IDL file, target namespace [`IDL_MAPPED_NS`], every name
//! the IDL scoped name with `.` for `::` (`Bank.Account`). Per interface
//! of the main file: a port type with every operation and attribute
//! (`_get_x`/`_set_x`), inherited ones flattened in; request and response
//! wrapper elements (`Bank.Account.deposit`, `…Response` holding `_return`
//! then the `inout` and `out` parameters); document/literal bindings for
//! SOAP 1.1 and 1.2; a service with both ports. Types: struct →
//! `complexType` sequence, union → `discriminator` then a choice, enum →
//! restricted `xs:string`, sequences and arrays → repeated `item`
//! elements, bounded strings → `maxLength`, `fixed` → `xs:decimal` with
//! digits, exceptions → a type, a detail element and a `wsdl:fault`,
//! object references → `CORBA.ObjectReference` (the IOR), `any` →
//! `CORBA.Any` (TypeCode repository id and an `xs:anyType` value).

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use ithaca_idl::front::ast::{InterfaceKind, ParamDir};
use ithaca_idl::front::model::{Decl, DeclId, DeclKind, Model, OperationDef, Type};
use ithaca_idl::front::{self, Dialect, Loc, Options, SourceMap};

use super::{
    BRIDGE_NS, IDL_MAPPED_NS, MappingDiagnostic, MappingError, MappingTable, OperationMapping,
    ParamMapping, ParamMode, Severity, TypeMapping, xml_escape,
};

/// The deepest type nesting followed (arrays of sequences of …).
const MAX_TYPE_DEPTH: usize = 64;

/// How to map an IDL file.
#[derive(Clone, Debug, Default)]
pub struct IdlToWsdlOptions {
    /// `-I` directories for `#include`.
    pub include_dirs: Vec<PathBuf>,
    /// The address of every port (`--address URL`); with several
    /// interfaces, `URL/M.I`. Default `http://localhost:8080/services/M.I`.
    pub address: Option<String>,
    /// Map what can be mapped and report the rest, instead of failing
    /// when any construct cannot be mapped.
    pub partial: bool,
}

/// The WSDL made from an IDL file.
#[derive(Clone, Debug)]
pub struct WsdlMapping {
    /// The WSDL 1.1 document.
    pub wsdl: String,
    /// Which IDL operation and type every WSDL operation and XSD type
    /// maps.
    pub table: MappingTable,
    /// Warnings (documented losses), and with
    /// [`IdlToWsdlOptions::partial`] the errors of what was left out.
    pub diagnostics: Vec<MappingDiagnostic>,
}

/// Maps the IDL file at `path` to WSDL. The IDL is read as CORBA 3 IDL,
/// or as omniidl reads it when only that dialect accepts it.
///
/// # Errors
///
/// [`MappingError::Diagnostics`] when the IDL has errors, or when some
/// construct cannot be mapped and `options.partial` is false.
pub fn idl_to_wsdl(path: &Path, options: &IdlToWsdlOptions) -> Result<WsdlMapping, MappingError> {
    let front_options = Options {
        include_dirs: options.include_dirs.clone(),
        dialect: Dialect::Corba3,
        ..Options::default()
    };
    let mut output = front::analyze_file(path, &front_options);
    if output.has_errors() {
        // IDL written for omniidl may use the CORBA 3 words (`factory`,
        // `typeid`) as identifiers: accept it in omniidl's dialect.
        let omniidl = Options {
            dialect: Dialect::Omniidl,
            ..front_options
        };
        let retry = front::analyze_file(path, &omniidl);
        if !retry.has_errors() {
            output = retry;
        }
    }
    if output.has_errors() {
        return Err(MappingError::Diagnostics(
            output
                .diagnostics
                .iter()
                .filter(|d| d.is_error())
                .map(|d| MappingDiagnostic {
                    severity: Severity::Error,
                    file: d.file.clone(),
                    line: d.line,
                    col: d.col,
                    message: d.message.clone(),
                })
                .collect(),
        ));
    }
    let main_file = path.display().to_string();
    let mut mapper = Mapper::new(&output.model, &output.sources);
    mapper.map(&main_file, options);
    let has_errors = mapper.diagnostics.iter().any(MappingDiagnostic::is_error);
    if has_errors && !options.partial {
        return Err(MappingError::Diagnostics(mapper.diagnostics));
    }
    let wsdl = mapper.document(options);
    Ok(WsdlMapping {
        wsdl,
        table: mapper.table,
        diagnostics: mapper.diagnostics,
    })
}

/// An XSD type used somewhere: a named type or an anonymous definition.
enum TypeUse {
    /// `type="prefix:name"`.
    Ref(String),
    /// An anonymous `simpleType` or `complexType`: the element name
    /// (`simpleType`) and its content.
    Inline(&'static str, String),
}

/// Why a type cannot be mapped: the message and where.
struct Unmappable {
    message: String,
    file: String,
    loc: Loc,
}

struct Mapper<'m> {
    model: &'m Model,
    sources: &'m SourceMap,
    /// Global schema components by name (sorted output).
    components: BTreeMap<String, String>,
    /// Declarations whose XSD type is written or being written.
    emitted: HashSet<DeclId>,
    /// `CORBA.*` helper types needed.
    helpers: HashSet<&'static str>,
    messages: BTreeMap<String, String>,
    port_types: Vec<String>,
    bindings: Vec<String>,
    services: Vec<String>,
    table: MappingTable,
    diagnostics: Vec<MappingDiagnostic>,
    warned_long_double: bool,
}

/// The XSD name of a declaration: its scoped name with `.` for `::`.
fn xsd_name(decl: &Decl) -> String {
    decl.scoped_name.replace("::", ".")
}

impl<'m> Mapper<'m> {
    fn new(model: &'m Model, sources: &'m SourceMap) -> Self {
        Self {
            model,
            sources,
            components: BTreeMap::new(),
            emitted: HashSet::new(),
            helpers: HashSet::new(),
            messages: BTreeMap::new(),
            port_types: Vec::new(),
            bindings: Vec::new(),
            services: Vec::new(),
            table: MappingTable::default(),
            diagnostics: Vec::new(),
            warned_long_double: false,
        }
    }

    fn report(&mut self, severity: Severity, file: &str, loc: Loc, message: String) {
        self.diagnostics.push(MappingDiagnostic {
            severity,
            file: file.to_owned(),
            line: loc.line,
            col: loc.col,
            message,
        });
    }

    fn unmappable(&mut self, u: Unmappable) {
        self.report(Severity::Error, &u.file, u.loc, u.message);
    }

    fn decl_unmappable(decl: &Decl, message: String) -> Unmappable {
        Unmappable {
            message,
            file: decl.file.clone(),
            loc: decl.loc,
        }
    }

    fn map(&mut self, main_file: &str, options: &IdlToWsdlOptions) {
        let model = self.model;
        let in_main = |d: &Decl| d.file == main_file && d.loc.line > 0;
        let interfaces: Vec<DeclId> = model
            .decls
            .iter()
            .enumerate()
            .filter(|(_, d)| in_main(d))
            .filter(|(_, d)| matches!(d.kind, DeclKind::Interface { defined: true, .. }))
            .filter_map(|(i, _)| u32::try_from(i).ok().map(DeclId))
            .collect();
        // Types declared in the main file are mapped even when no
        // operation uses them.
        for (i, decl) in model.decls.iter().enumerate() {
            let Ok(i) = u32::try_from(i) else { break };
            if !in_main(decl) {
                continue;
            }
            match &decl.kind {
                DeclKind::Struct { defined: true, .. }
                | DeclKind::Union { defined: true, .. }
                | DeclKind::Enum(_)
                | DeclKind::Exception(_)
                | DeclKind::Alias(_) => {
                    if let Err(u) = self.named_type(DeclId(i), 0) {
                        self.unmappable(u);
                    }
                }
                DeclKind::Value { .. } | DeclKind::ValueBox(_) => {
                    self.report(
                        Severity::Error,
                        &decl.file,
                        decl.loc,
                        format!(
                            "valuetype ::{} is not mapped: C2WSDL's valuetype mapping (shared \
                             values by xsd:ID) is not implemented",
                            decl.scoped_name
                        ),
                    );
                }
                DeclKind::Native => {
                    self.report(
                        Severity::Error,
                        &decl.file,
                        decl.loc,
                        format!(
                            "native type ::{} is not mapped: native types have no C2WSDL mapping",
                            decl.scoped_name
                        ),
                    );
                }
                _ => {}
            }
        }
        let several = interfaces.len() > 1;
        for id in interfaces {
            self.interface(id, several, options);
        }
    }

    fn interface(&mut self, id: DeclId, several: bool, options: &IdlToWsdlOptions) {
        let model = self.model;
        let Some(decl) = model.get(id) else { return };
        let DeclKind::Interface { kind, bases, .. } = &decl.kind else {
            return;
        };
        if *kind == InterfaceKind::Local {
            self.report(
                Severity::Error,
                &decl.file,
                decl.loc,
                format!(
                    "local interface ::{} is not mapped: local interfaces cannot be invoked \
                     remotely, so C2WSDL maps no port type for them",
                    decl.scoped_name
                ),
            );
            return;
        }
        let name = xsd_name(decl);
        let mut ops_xml = String::new();
        let mut binding_ops = String::new();
        for owner in std::iter::once(id).chain(model.all_bases(id)) {
            let Some(owner_decl) = model.get(owner) else {
                continue;
            };
            let DeclKind::Interface {
                operations,
                attributes,
                ..
            } = &owner_decl.kind
            else {
                continue;
            };
            for attribute in attributes {
                let getter = OperationDef {
                    name: format!("_get_{}", attribute.name),
                    oneway: false,
                    ret: Some(attribute.ty.clone()),
                    params: Vec::new(),
                    raises: attribute.get_raises.clone(),
                    context: Vec::new(),
                    loc: attribute.loc,
                };
                self.operation(decl, owner_decl, &getter, &mut ops_xml, &mut binding_ops);
                if !attribute.readonly {
                    let setter = OperationDef {
                        name: format!("_set_{}", attribute.name),
                        oneway: false,
                        ret: None,
                        params: vec![ithaca_idl::front::model::ParamDef {
                            name: "value".to_owned(),
                            dir: ParamDir::In,
                            ty: attribute.ty.clone(),
                        }],
                        raises: attribute.set_raises.clone(),
                        context: Vec::new(),
                        loc: attribute.loc,
                    };
                    self.operation(decl, owner_decl, &setter, &mut ops_xml, &mut binding_ops);
                }
            }
            for op in operations {
                self.operation(decl, owner_decl, op, &mut ops_xml, &mut binding_ops);
            }
        }
        let base_names: Vec<String> = bases
            .iter()
            .filter_map(|b| model.get(*b))
            .map(xsd_name)
            .collect();
        let bases_attr = if base_names.is_empty() {
            String::new()
        } else {
            format!(" idl:bases=\"{}\"", xml_escape(&base_names.join(" ")))
        };
        self.port_types.push(format!(
            "  <wsdl:portType name=\"{n}\" idl:repositoryId=\"{r}\"{bases_attr}>\n{ops_xml}  </wsdl:portType>\n",
            n = xml_escape(&name),
            r = xml_escape(&decl.repo_id),
        ));
        for (suffix, soap_ns) in [("SoapBinding", "soap"), ("Soap12Binding", "soap12")] {
            self.bindings.push(format!(
                "  <wsdl:binding name=\"{n}{suffix}\" type=\"tns:{n}\">\n    \
                 <{soap_ns}:binding style=\"document\" transport=\"http://schemas.xmlsoap.org/soap/http\"/>\n{ops}  </wsdl:binding>\n",
                n = xml_escape(&name),
                ops = binding_ops.replace("SOAPNS", soap_ns),
            ));
        }
        let address = match (&options.address, several) {
            (Some(a), false) => a.clone(),
            (Some(a), true) => format!("{}/{name}", a.trim_end_matches('/')),
            (None, _) => format!("http://localhost:8080/services/{name}"),
        };
        self.services.push(format!(
            "  <wsdl:service name=\"{n}Service\">\n    \
             <wsdl:port name=\"{n}Port\" binding=\"tns:{n}SoapBinding\">\n      \
             <soap:address location=\"{a}\"/>\n    </wsdl:port>\n    \
             <wsdl:port name=\"{n}Soap12Port\" binding=\"tns:{n}Soap12Binding\">\n      \
             <soap12:address location=\"{a}/soap12\"/>\n    </wsdl:port>\n  </wsdl:service>\n",
            n = xml_escape(&name),
            a = xml_escape(address.trim_end_matches('/')),
        ));
    }

    /// Maps one operation of `iface` declared in `owner` into the port
    /// type and binding text; on an unmappable signature reports it and
    /// leaves the operation out.
    fn operation(
        &mut self,
        iface: &Decl,
        owner: &Decl,
        op: &OperationDef,
        ops_xml: &mut String,
        binding_ops: &mut String,
    ) {
        let file = self.sources.name(op.loc.file).to_owned();
        if !op.context.is_empty() {
            self.report(
                Severity::Error,
                &file,
                op.loc,
                format!(
                    "operation ::{}::{} has a context clause: CORBA contexts have no \
                     C2WSDL mapping, the operation is not mapped",
                    owner.scoped_name, op.name
                ),
            );
            return;
        }
        let wrapper = format!("{}.{}", xsd_name(owner), op.name);
        let first_time = !self.messages.contains_key(&wrapper);
        let mut request = String::new();
        let mut response = String::new();
        let mut params = Vec::new();
        let mut failed = None;
        if let Some(ret) = &op.ret {
            match self.type_use(ret, 0) {
                Ok(t) => response.push_str(&element("_return", &t, 1, Some(1), 10)),
                Err(u) => failed = Some(u),
            }
        }
        for p in &op.params {
            let t = match self.type_use(&p.ty, 0) {
                Ok(t) => t,
                Err(u) => {
                    failed = Some(u);
                    break;
                }
            };
            let el = element(&p.name, &t, 1, Some(1), 10);
            let mode = match p.dir {
                ParamDir::In => {
                    request.push_str(&el);
                    ParamMode::In
                }
                ParamDir::Out => {
                    response.push_str(&el);
                    ParamMode::Out
                }
                ParamDir::InOut => {
                    request.push_str(&el);
                    response.push_str(&el);
                    ParamMode::InOut
                }
            };
            params.push(ParamMapping {
                name: p.name.clone(),
                mode,
                idl_type: self.model.type_name(&p.ty),
            });
        }
        let mut raises = Vec::new();
        let mut fault_names = Vec::new();
        for e in &op.raises {
            if failed.is_some() {
                break;
            }
            match self.named_type(*e, 0) {
                Ok(_) => {
                    if let Some(d) = self.model.get(*e) {
                        raises.push(d.repo_id.clone());
                        fault_names.push(xsd_name(d));
                    }
                }
                Err(u) => failed = Some(u),
            }
        }
        if let Some(mut u) = failed {
            u.file.clone_from(&file);
            u.loc = op.loc;
            u.message = format!(
                "operation ::{}::{} is not mapped: {}",
                owner.scoped_name, op.name, u.message
            );
            self.unmappable(u);
            return;
        }
        if first_time {
            self.components
                .insert(format!("e:{wrapper}"), wrapper_element(&wrapper, &request));
            self.messages.insert(
                wrapper.clone(),
                message(&wrapper, &format!("tns:{wrapper}"), "parameters"),
            );
            if !op.oneway {
                let resp = format!("{wrapper}Response");
                self.components
                    .insert(format!("e:{resp}"), wrapper_element(&resp, &response));
                self.messages.insert(
                    resp.clone(),
                    message(&resp, &format!("tns:{resp}"), "parameters"),
                );
            }
        }
        let declared = if owner.scoped_name == iface.scoped_name {
            String::new()
        } else {
            format!(" idl:declaredIn=\"{}\"", xml_escape(&xsd_name(owner)))
        };
        let n = xml_escape(&op.name);
        let w = xml_escape(&wrapper);
        let _ = write!(
            ops_xml,
            "    <wsdl:operation name=\"{n}\"{declared}>\n      <wsdl:input message=\"tns:{w}\"/>\n"
        );
        let _ = write!(
            binding_ops,
            "    <wsdl:operation name=\"{n}\">\n      <SOAPNS:operation soapAction=\"\" style=\"document\"/>\n      \
             <wsdl:input><SOAPNS:body use=\"literal\"/></wsdl:input>\n"
        );
        if !op.oneway {
            let _ = writeln!(ops_xml, "      <wsdl:output message=\"tns:{w}Response\"/>");
            let _ = writeln!(
                binding_ops,
                "      <wsdl:output><SOAPNS:body use=\"literal\"/></wsdl:output>"
            );
        }
        for f in &fault_names {
            let f = xml_escape(f);
            let _ = writeln!(
                ops_xml,
                "      <wsdl:fault name=\"{f}\" message=\"tns:{f}\"/>"
            );
            let _ = writeln!(
                binding_ops,
                "      <wsdl:fault name=\"{f}\"><SOAPNS:fault name=\"{f}\" use=\"literal\"/></wsdl:fault>"
            );
        }
        ops_xml.push_str("    </wsdl:operation>\n");
        binding_ops.push_str("    </wsdl:operation>\n");
        self.table.operations.push(OperationMapping {
            port_type: xsd_name(iface),
            operation: op.name.clone(),
            interface: format!("::{}", iface.scoped_name),
            interface_repo_id: iface.repo_id.clone(),
            declared_in_repo_id: owner.repo_id.clone(),
            oneway: op.oneway,
            params,
            result: op.ret.as_ref().map(|t| self.model.type_name(t)),
            request_element: wrapper.clone(),
            response_element: (!op.oneway).then(|| format!("{wrapper}Response")),
            raises,
        });
    }

    /// The XSD type of an IDL type.
    fn type_use(&mut self, ty: &Type, depth: usize) -> Result<TypeUse, Unmappable> {
        if depth > MAX_TYPE_DEPTH {
            return Err(Unmappable {
                message: format!("types nest deeper than {MAX_TYPE_DEPTH}"),
                file: String::new(),
                loc: Loc::default(),
            });
        }
        let builtin = |name: &str| Ok(TypeUse::Ref(format!("xs:{name}")));
        match ty {
            Type::Short => builtin("short"),
            Type::Long => builtin("int"),
            Type::LongLong => builtin("long"),
            Type::UShort => builtin("unsignedShort"),
            Type::ULong => builtin("unsignedInt"),
            Type::ULongLong => builtin("unsignedLong"),
            Type::Float => builtin("float"),
            Type::Double => builtin("double"),
            Type::LongDouble => {
                if !self.warned_long_double {
                    self.warned_long_double = true;
                    self.diagnostics.push(MappingDiagnostic {
                        severity: Severity::Warning,
                        file: String::new(),
                        line: 0,
                        col: 0,
                        message: "long double is mapped to xs:double, which keeps 53 bits of \
                                  precision"
                            .to_owned(),
                    });
                }
                builtin("double")
            }
            Type::Boolean => builtin("boolean"),
            Type::Octet => builtin("unsignedByte"),
            Type::Char => Ok(self.helper("CORBA.char")),
            Type::WChar => Ok(self.helper("CORBA.wchar")),
            Type::Any => Ok(self.helper("CORBA.Any")),
            Type::Object => Ok(self.helper("CORBA.ObjectReference")),
            Type::TypeCode => Ok(self.helper("CORBA.TypeCode")),
            Type::ValueBase => Err(Unmappable {
                message: "ValueBase is not mapped: C2WSDL's valuetype mapping is not implemented"
                    .to_owned(),
                file: String::new(),
                loc: Loc::default(),
            }),
            Type::String(None) | Type::WString(None) => builtin("string"),
            Type::String(Some(n)) | Type::WString(Some(n)) => Ok(TypeUse::Inline(
                "simpleType",
                format!(
                    "<xs:restriction base=\"xs:string\"><xs:maxLength value=\"{n}\"/></xs:restriction>"
                ),
            )),
            Type::Fixed(None) => builtin("decimal"),
            Type::Fixed(Some((d, s))) => Ok(TypeUse::Inline(
                "simpleType",
                format!(
                    "<xs:restriction base=\"xs:decimal\"><xs:totalDigits value=\"{d}\"/>\
                     <xs:fractionDigits value=\"{s}\"/></xs:restriction>"
                ),
            )),
            Type::Sequence(item, bound) => {
                if matches!(self.model.unalias(item), Type::Octet) {
                    return Ok(match bound {
                        None => TypeUse::Ref("xs:base64Binary".to_owned()),
                        Some(n) => TypeUse::Inline(
                            "simpleType",
                            format!(
                                "<xs:restriction base=\"xs:base64Binary\"><xs:maxLength value=\"{n}\"/></xs:restriction>"
                            ),
                        ),
                    });
                }
                let t = self.type_use(item, depth + 1)?;
                Ok(TypeUse::Inline(
                    "complexType",
                    format!(
                        "<xs:sequence>{}</xs:sequence>",
                        element("item", &t, 0, *bound, 0).trim()
                    ),
                ))
            }
            Type::Array(item, dims) => {
                let Some((first, rest)) = dims.split_first() else {
                    return self.type_use(item, depth + 1);
                };
                let inner = if rest.is_empty() {
                    self.type_use(item, depth + 1)?
                } else {
                    self.type_use(&Type::Array(item.clone(), rest.to_vec()), depth + 1)?
                };
                Ok(TypeUse::Inline(
                    "complexType",
                    format!(
                        "<xs:sequence>{}</xs:sequence>",
                        element("item", &inner, *first, Some(*first), 0).trim()
                    ),
                ))
            }
            Type::Named(id) => self.named_type(*id, depth + 1),
            Type::Error => Err(Unmappable {
                message: "a type that did not resolve".to_owned(),
                file: String::new(),
                loc: Loc::default(),
            }),
        }
    }

    fn helper(&mut self, name: &'static str) -> TypeUse {
        if self.helpers.insert(name) {
            let (idl, body) = match name {
                "CORBA.char" => (
                    "char",
                    "<xs:simpleType name=\"CORBA.char\"><xs:restriction base=\"xs:string\">\
                     <xs:length value=\"1\"/></xs:restriction></xs:simpleType>",
                ),
                "CORBA.wchar" => (
                    "wchar",
                    "<xs:simpleType name=\"CORBA.wchar\"><xs:restriction base=\"xs:string\">\
                     <xs:length value=\"1\"/></xs:restriction></xs:simpleType>",
                ),
                "CORBA.TypeCode" => (
                    "CORBA::TypeCode",
                    "<xs:simpleType name=\"CORBA.TypeCode\"><xs:restriction base=\"xs:string\"/></xs:simpleType>",
                ),
                "CORBA.Any" => (
                    "any",
                    "<xs:complexType name=\"CORBA.Any\"><xs:sequence>\
                     <xs:element name=\"type\" type=\"xs:string\"/>\
                     <xs:element name=\"value\" type=\"xs:anyType\" nillable=\"true\"/>\
                     </xs:sequence></xs:complexType>",
                ),
                _ => (
                    "Object",
                    "<xs:complexType name=\"CORBA.ObjectReference\"><xs:sequence>\
                     <xs:element name=\"url\" type=\"xs:string\" nillable=\"true\"/>\
                     </xs:sequence></xs:complexType>",
                ),
            };
            self.components.insert(format!("t:{name}"), body.to_owned());
            self.table.types.push(TypeMapping {
                xsd_type: name.to_owned(),
                idl_type: idl.to_owned(),
                repo_id: String::new(),
                kind: "builtin",
            });
        }
        TypeUse::Ref(format!("tns:{name}"))
    }

    /// The XSD type of a named IDL type, writing its definition the first
    /// time.
    fn named_type(&mut self, id: DeclId, depth: usize) -> Result<TypeUse, Unmappable> {
        let model = self.model;
        let Some(decl) = model.get(id) else {
            return Err(Unmappable {
                message: "an unknown declaration".to_owned(),
                file: String::new(),
                loc: Loc::default(),
            });
        };
        let name = xsd_name(decl);
        let reference = || Ok(TypeUse::Ref(format!("tns:{name}")));
        match &decl.kind {
            DeclKind::Interface { kind, .. } => {
                if *kind == InterfaceKind::Local {
                    return Err(Self::decl_unmappable(
                        decl,
                        format!(
                            "a reference to local interface ::{} cannot cross the bridge \
                             (local objects have no IOR)",
                            decl.scoped_name
                        ),
                    ));
                }
                return Ok(self.helper("CORBA.ObjectReference"));
            }
            DeclKind::Builtin(t) => return self.type_use(t, depth),
            DeclKind::Value { .. } | DeclKind::ValueBox(_) => {
                return Err(Self::decl_unmappable(
                    decl,
                    format!(
                        "valuetype ::{} is not mapped: C2WSDL's valuetype mapping (shared \
                         values by xsd:ID) is not implemented",
                        decl.scoped_name
                    ),
                ));
            }
            DeclKind::Native => {
                return Err(Self::decl_unmappable(
                    decl,
                    format!("native type ::{} has no C2WSDL mapping", decl.scoped_name),
                ));
            }
            DeclKind::Alias(target) => {
                // Aliases of types that need a definition of their own
                // (sequences, arrays, bounded strings, fixed) get a named
                // type; others stand for their target.
                let needs_name = matches!(
                    target,
                    Type::Sequence(..)
                        | Type::Array(..)
                        | Type::String(Some(_))
                        | Type::WString(Some(_))
                        | Type::Fixed(Some(_))
                );
                if !needs_name {
                    return self.type_use(target, depth + 1);
                }
            }
            DeclKind::Struct { .. }
            | DeclKind::Union { .. }
            | DeclKind::Enum(_)
            | DeclKind::Exception(_) => {}
            _ => {
                return Err(Self::decl_unmappable(
                    decl,
                    format!("::{} is not a type", decl.scoped_name),
                ));
            }
        }
        if self.emitted.contains(&id) {
            return reference();
        }
        self.emitted.insert(id);
        let repo = xml_escape(&decl.repo_id);
        let n = xml_escape(&name);
        let result = self.definition(decl, depth);
        let (kind, text) = match result {
            Ok(pair) => pair,
            Err(mut u) => {
                self.emitted.remove(&id);
                if u.file.is_empty() {
                    u.file.clone_from(&decl.file);
                    u.loc = decl.loc;
                }
                return Err(u);
            }
        };
        let (tag, body) = match text {
            TypeUse::Inline(tag, body) => (tag, body),
            // Only `typedef sequence<octet>` (xs:base64Binary) names a
            // built-in simple type here: a restriction of it.
            TypeUse::Ref(r) => ("simpleType", format!("<xs:restriction base=\"{r}\"/>")),
        };
        self.components.insert(
            format!("t:{name}"),
            format!("<xs:{tag} name=\"{n}\" idl:repositoryId=\"{repo}\">{body}</xs:{tag}>"),
        );
        if kind == "exception" {
            self.components.insert(
                format!("e:{name}"),
                format!("<xs:element name=\"{n}\" type=\"tns:{n}\"/>"),
            );
            self.messages.insert(
                name.clone(),
                message(&name, &format!("tns:{name}"), "exception"),
            );
        }
        self.table.types.push(TypeMapping {
            xsd_type: name.clone(),
            idl_type: format!("::{}", decl.scoped_name),
            repo_id: decl.repo_id.clone(),
            kind,
        });
        reference()
    }

    /// The content of the XSD type of a struct, union, enum, exception or
    /// alias.
    fn definition(
        &mut self,
        decl: &Decl,
        depth: usize,
    ) -> Result<(&'static str, TypeUse), Unmappable> {
        let model = self.model;
        match &decl.kind {
            DeclKind::Struct { members, .. } | DeclKind::Exception(members) => {
                let mut body = String::from("<xs:sequence>");
                for m in members {
                    let t = self.type_use(&m.ty, depth + 1)?;
                    body.push_str(element(&m.name, &t, 1, Some(1), 0).trim());
                }
                body.push_str("</xs:sequence>");
                let kind = if matches!(decl.kind, DeclKind::Exception(_)) {
                    "exception"
                } else {
                    "struct"
                };
                Ok((kind, TypeUse::Inline("complexType", body)))
            }
            DeclKind::Union {
                discriminator,
                branches,
                ..
            } => {
                let d = self.type_use(discriminator, depth + 1)?;
                let mut body = String::from("<xs:sequence>");
                body.push_str(element("discriminator", &d, 1, Some(1), 0).trim());
                body.push_str("<xs:choice minOccurs=\"0\">");
                for b in branches {
                    let t = self.type_use(&b.ty, depth + 1)?;
                    body.push_str(element(&b.name, &t, 1, Some(1), 0).trim());
                }
                body.push_str("</xs:choice></xs:sequence>");
                Ok(("union", TypeUse::Inline("complexType", body)))
            }
            DeclKind::Enum(enumerators) => {
                let mut body = String::from("<xs:restriction base=\"xs:string\">");
                for e in enumerators.iter().filter_map(|e| model.get(*e)) {
                    let _ = write!(body, "<xs:enumeration value=\"{}\"/>", xml_escape(&e.name));
                }
                body.push_str("</xs:restriction>");
                Ok(("enum", TypeUse::Inline("simpleType", body)))
            }
            DeclKind::Alias(target) => Ok(("typedef", self.type_use(target, depth + 1)?)),
            _ => Err(Self::decl_unmappable(
                decl,
                format!("::{} is not a type", decl.scoped_name),
            )),
        }
    }

    fn document(&self, _options: &IdlToWsdlOptions) -> String {
        let mut out = String::new();
        let _ = write!(
            out,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <!-- Made by ithaca idl2wsdl after OMG CORBA to WSDL/SOAP Interworking 1.2.1. -->\n\
             <wsdl:definitions name=\"IDL-Mapped\" targetNamespace=\"{IDL_MAPPED_NS}\"\n    \
             xmlns:wsdl=\"http://schemas.xmlsoap.org/wsdl/\"\n    \
             xmlns:soap=\"http://schemas.xmlsoap.org/wsdl/soap/\"\n    \
             xmlns:soap12=\"http://schemas.xmlsoap.org/wsdl/soap12/\"\n    \
             xmlns:xs=\"http://www.w3.org/2001/XMLSchema\"\n    \
             xmlns:idl=\"{BRIDGE_NS}\"\n    \
             xmlns:tns=\"{IDL_MAPPED_NS}\">\n  <wsdl:types>\n    \
             <xs:schema targetNamespace=\"{IDL_MAPPED_NS}\" elementFormDefault=\"unqualified\">\n"
        );
        for component in self.components.values() {
            let _ = writeln!(out, "      {component}");
        }
        out.push_str("    </xs:schema>\n  </wsdl:types>\n");
        for m in self.messages.values() {
            out.push_str(m);
        }
        for p in &self.port_types {
            out.push_str(p);
        }
        for b in &self.bindings {
            out.push_str(b);
        }
        for s in &self.services {
            out.push_str(s);
        }
        out.push_str("</wsdl:definitions>\n");
        out
    }
}

/// A local element of type `t` occurring `min..max` times (`None`:
/// unbounded).
fn element(name: &str, t: &TypeUse, min: u32, max: Option<u32>, indent: usize) -> String {
    let mut occurs = String::new();
    if min != 1 {
        let _ = write!(occurs, " minOccurs=\"{min}\"");
    }
    match max {
        Some(1) => {}
        Some(n) => {
            let _ = write!(occurs, " maxOccurs=\"{n}\"");
        }
        None => occurs.push_str(" maxOccurs=\"unbounded\""),
    }
    let n = xml_escape(name);
    let pad = " ".repeat(indent);
    match t {
        TypeUse::Ref(r) => format!("{pad}<xs:element name=\"{n}\" type=\"{r}\"{occurs}/>\n"),
        TypeUse::Inline(tag, body) => {
            format!(
                "{pad}<xs:element name=\"{n}\"{occurs}><xs:{tag}>{body}</xs:{tag}></xs:element>\n"
            )
        }
    }
}

fn wrapper_element(name: &str, children: &str) -> String {
    let n = xml_escape(name);
    let children: String = children.lines().map(str::trim).collect();
    format!(
        "<xs:element name=\"{n}\"><xs:complexType><xs:sequence>{children}</xs:sequence></xs:complexType></xs:element>"
    )
}

fn message(name: &str, element: &str, part: &str) -> String {
    format!(
        "  <wsdl:message name=\"{}\">\n    <wsdl:part name=\"{part}\" element=\"{}\"/>\n  </wsdl:message>\n",
        xml_escape(name),
        xml_escape(element)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map_text(idl: &str, partial: bool) -> Result<WsdlMapping, MappingError> {
        let dir = tempfile::tempdir().map_err(|e| MappingError::Read {
            path: "tmp".into(),
            source: e,
        })?;
        let path = dir.path().join("t.idl");
        std::fs::write(&path, idl).map_err(|e| MappingError::Read {
            path: "t.idl".into(),
            source: e,
        })?;
        idl_to_wsdl(
            &path,
            &IdlToWsdlOptions {
                partial,
                ..IdlToWsdlOptions::default()
            },
        )
    }

    #[test]
    fn integer_types_map_to_exact_xsd_ranges() -> Result<(), MappingError> {
        let m = map_text(
            "module M { interface I { long long f(in unsigned long a, in octet b, in char c, \
             in unsigned short d, in short e, in unsigned long long g, in long h); }; };",
            false,
        )?;
        for needle in [
            r#"name="_return" type="xs:long""#,
            r#"name="a" type="xs:unsignedInt""#,
            r#"name="b" type="xs:unsignedByte""#,
            r#"name="c" type="tns:CORBA.char""#,
            r#"name="d" type="xs:unsignedShort""#,
            r#"name="e" type="xs:short""#,
            r#"name="g" type="xs:unsignedLong""#,
            r#"name="h" type="xs:int""#,
        ] {
            assert!(m.wsdl.contains(needle), "{needle} in {}", m.wsdl);
        }
        let op = m
            .table
            .operation("M.I", "f")
            .ok_or_else(|| MappingError::Diagnostics(Vec::new()))?;
        assert_eq!(op.interface_repo_id, "IDL:M/I:1.0");
        assert_eq!(op.result.as_deref(), Some("long long"));
        assert_eq!(op.params.len(), 7);
        Ok(())
    }

    #[test]
    fn valuetype_parameter_is_a_named_diagnostic_and_partial_maps_the_rest() {
        let idl = "module M { valuetype V { public long x; };\n  interface I {\n    void ok(in long a);\n    void bad(in V note);\n  };\n};\n";
        let Err(MappingError::Diagnostics(diags)) = map_text(idl, false) else {
            panic!("expected diagnostics");
        };
        assert!(
            diags
                .iter()
                .any(|d| d.message.contains("operation ::M::I::bad")
                    && d.message.contains("valuetype ::M::V")),
            "{diags:?}"
        );
        let Ok(m) = map_text(idl, true) else {
            panic!("partial mapping fails");
        };
        assert!(m.table.operation("M.I", "ok").is_some());
        assert!(m.table.operation("M.I", "bad").is_none());
        assert!(m.diagnostics.iter().any(MappingDiagnostic::is_error));
    }
}
