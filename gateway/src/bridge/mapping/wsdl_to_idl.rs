//! WSDL 1.1 to IDL, after OMG "WSDL/SOAP to CORBA Interworking" 1.0.
//!
//! A module per target namespace (or, for a WSDL made by
//! [`idl_to_wsdl`](super::idl_to_wsdl), the modules of the original scoped
//! names); `sequence`/`all` → struct; `choice` → a union over a generated
//! discriminator enum; occurrences → `sequence<T>` (optional:
//! `sequence<T,1>`); enumerations → enum; faults → exceptions; each port
//! type → an interface whose operations take the wrapped request
//! children as `in` parameters and give the response children as `out`
//! parameters (`inout` when a child of the same name and type is in both,
//! the return value for `_return`). Names are made IDL identifiers and
//! identifiers of one scope that differ only in case are renamed (`_2`,
//! `_3`, … in document order).

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::Path;

use ithaca_wsdl::wsdl11::{Definitions, OperationKind};
use ithaca_wsdl::xsd::builtin::BuiltinType;
use ithaca_wsdl::xsd::model::{
    AttributeUseKind, ComplexContent, ComplexType, Compositor, Derivation, ModelGroup, Occurs,
    Particle, SimpleVariety, Term, TypeRef,
};
use ithaca_wsdl::xsd::{ResolvedType, SchemaSet};
use ithaca_wsdl::{LoadOptions, QName, load_file};

use super::idl_names::{Scopes, sanitize};
use super::{BRIDGE_NS, IDL_MAPPED_NS, MappingDiagnostic, MappingError, Severity};

/// The deepest nesting of types, groups and derivations followed.
const MAX_DEPTH: usize = 64;

/// How to map a WSDL.
#[derive(Clone, Debug, Default)]
pub struct WsdlToIdlOptions {
    /// Map `xs:string` and its derivatives to `string` instead of the
    /// specification's `wstring`.
    pub narrow_strings: bool,
}

/// The IDL made from a WSDL.
#[derive(Clone, Debug)]
pub struct IdlMapping {
    /// The IDL text.
    pub idl: String,
    /// What was mapped with a loss, or left out.
    pub diagnostics: Vec<MappingDiagnostic>,
}

/// Maps the WSDL at `path` (and what it imports) to IDL.
///
/// # Errors
///
/// [`MappingError::Diagnostics`] when the WSDL does not load.
pub fn wsdl_to_idl(path: &Path, options: &WsdlToIdlOptions) -> Result<IdlMapping, MappingError> {
    let loaded = load_file(path, &LoadOptions::default());
    if loaded.has_errors() {
        return Err(MappingError::Diagnostics(
            loaded
                .errors()
                .map(|d| MappingDiagnostic {
                    severity: Severity::Error,
                    file: d.location.file.clone(),
                    line: d.location.line,
                    col: d.location.column,
                    message: d.message.clone(),
                })
                .collect(),
        ));
    }
    let annotations = std::fs::read_to_string(path)
        .map(|text| Annotations::read(&text))
        .unwrap_or_default();
    let mut mapper = Mapper {
        schema: &loaded.schema,
        options,
        annotations,
        file: path.display().to_string(),
        decls: Vec::new(),
        scopes: Scopes::default(),
        modules: HashMap::new(),
        named: HashMap::new(),
        anonymous: HashMap::new(),
        open: HashMap::new(),
        forwarded: HashSet::new(),
        exceptions: HashMap::new(),
        interfaces: HashMap::new(),
        pragmas: Vec::new(),
        diagnostics: Vec::new(),
    };
    mapper.run(&loaded.definitions);
    Ok(IdlMapping {
        idl: mapper.render(),
        diagnostics: mapper.diagnostics,
    })
}

/// Ithaca's `idl:` annotations on a WSDL made from IDL.
#[derive(Default)]
struct Annotations {
    /// `idl:repositoryId` by the annotated component's `name`.
    repo_ids: HashMap<String, String>,
    /// `idl:bases` of each port type.
    bases: HashMap<String, Vec<String>>,
    /// `idl:declaredIn` of each (port type, operation).
    declared_in: HashMap<(String, String), String>,
}

impl Annotations {
    fn read(text: &str) -> Self {
        let mut out = Self::default();
        let Ok(doc) = roxmltree::Document::parse(text) else {
            return out;
        };
        for node in doc.descendants().filter(roxmltree::Node::is_element) {
            let Some(name) = node.attribute("name") else {
                continue;
            };
            if let Some(id) = node.attribute((BRIDGE_NS, "repositoryId")) {
                out.repo_ids.insert(name.to_owned(), id.to_owned());
            }
            if let Some(bases) = node.attribute((BRIDGE_NS, "bases")) {
                out.bases.insert(
                    name.to_owned(),
                    bases.split_whitespace().map(str::to_owned).collect(),
                );
            }
            if let Some(owner) = node.attribute((BRIDGE_NS, "declaredIn"))
                && let Some(port_type) = node.parent_element().and_then(|p| p.attribute("name"))
            {
                out.declared_in
                    .insert((port_type.to_owned(), name.to_owned()), owner.to_owned());
            }
        }
        out
    }
}

/// One declaration, in the module it belongs to.
struct Out {
    module: Vec<String>,
    text: String,
}

/// A parameter or member: IDL type spelling, XML local name and IDL name.
#[derive(Clone)]
struct Member {
    ty: String,
    xml: String,
}

struct Mapper<'s> {
    schema: &'s SchemaSet,
    options: &'s WsdlToIdlOptions,
    annotations: Annotations,
    file: String,
    decls: Vec<Out>,
    scopes: Scopes,
    /// Raw module path → IDL module path.
    modules: HashMap<Vec<String>, Vec<String>>,
    /// Named XSD types already mapped → IDL scoped name.
    named: HashMap<QName, String>,
    /// Anonymous XSD types already mapped (by index).
    anonymous: HashMap<usize, String>,
    /// Structs and unions being written: scoped name → (`struct`/`union`,
    /// module, local name).
    open: HashMap<String, (&'static str, Vec<String>, String)>,
    forwarded: HashSet<String>,
    /// Fault elements → exception scoped names.
    exceptions: HashMap<QName, String>,
    /// Port type local names → interface scoped names.
    interfaces: HashMap<QName, String>,
    /// `#pragma ID` lines for repository ids given by annotations.
    pragmas: Vec<(String, String)>,
    diagnostics: Vec<MappingDiagnostic>,
}

fn scoped(module: &[String], name: &str) -> String {
    let mut s = String::new();
    for m in module {
        let _ = write!(s, "::{m}");
    }
    let _ = write!(s, "::{name}");
    s
}

/// The module of a namespace: its text without the scheme, as an
/// identifier (`urn:acme:orders` → `acme_orders`).
fn namespace_module(namespace: Option<&str>) -> String {
    let Some(ns) = namespace else {
        return "NoNamespace".to_owned();
    };
    let rest = ns
        .strip_prefix("http://")
        .or_else(|| ns.strip_prefix("https://"))
        .or_else(|| ns.strip_prefix("urn:"))
        .unwrap_or(ns);
    let rest = rest.strip_prefix("www.").unwrap_or(rest);
    sanitize(rest.trim_end_matches('/'))
}

fn wrap_occurs(ty: String, occurs: Occurs) -> String {
    match (occurs.min, occurs.max) {
        (1, Some(1)) => ty,
        (_, Some(n)) => format!("sequence<{ty}, {n}>"),
        (_, None) => format!("sequence<{ty}>"),
    }
}

impl<'s> Mapper<'s> {
    fn warn(&mut self, location: &ithaca_wsdl::Location, message: String) {
        self.diagnostics.push(MappingDiagnostic {
            severity: Severity::Warning,
            file: if location.file.is_empty() {
                self.file.clone()
            } else {
                location.file.clone()
            },
            line: location.line,
            col: location.column,
            message,
        });
    }

    /// The IDL module path for a raw path, claiming each module name in
    /// its parent scope once.
    fn module(&mut self, raw: &[String]) -> Vec<String> {
        if let Some(m) = self.modules.get(raw) {
            return m.clone();
        }
        let parent = match raw.split_last() {
            Some((_, init)) => self.module(init),
            None => return Vec::new(),
        };
        let last = raw.last().map_or("x", String::as_str);
        let name = self.scopes.claim(&scoped(&parent, ""), last);
        let mut path = parent;
        path.push(name);
        self.modules.insert(raw.to_vec(), path.clone());
        path
    }

    /// Where a global name goes: module path and IDL identifier.
    fn place(&mut self, name: &QName) -> (Vec<String>, String) {
        let (raw, local): (Vec<String>, &str) = if name.namespace.as_deref() == Some(IDL_MAPPED_NS)
        {
            let mut parts: Vec<String> = name.local.split('.').map(str::to_owned).collect();
            let local = parts.pop().unwrap_or_default();
            let module = self.module(&parts);
            let id = self.scopes.claim(&scoped(&module, ""), &local);
            return (module, id);
        } else {
            (
                vec![namespace_module(name.namespace.as_deref())],
                name.local.as_str(),
            )
        };
        let module = self.module(&raw);
        let id = self.scopes.claim(&scoped(&module, ""), local);
        (module, id)
    }

    fn push(&mut self, module: Vec<String>, text: String) {
        self.decls.push(Out { module, text });
    }

    fn pragma_for(&mut self, xsd_name: &QName, scoped_name: &str) {
        if xsd_name.namespace.as_deref() == Some(IDL_MAPPED_NS)
            && let Some(id) = self.annotations.repo_ids.get(&xsd_name.local)
        {
            self.pragmas.push((scoped_name.to_owned(), id.clone()));
        }
    }

    fn run(&mut self, defs: &Definitions) {
        // Port types whose bases are mapped first, so that an interface
        // follows the interfaces it inherits from.
        let names: Vec<QName> = defs.port_types.keys().cloned().collect();
        let mut done = HashSet::new();
        for name in &names {
            self.port_type(defs, name, &mut done, 0);
        }
    }

    fn port_type(
        &mut self,
        defs: &Definitions,
        name: &QName,
        done: &mut HashSet<QName>,
        depth: usize,
    ) {
        if depth > MAX_DEPTH || !done.insert(name.clone()) {
            return;
        }
        let Some(pt) = defs.port_types.get(name) else {
            return;
        };
        let mut bases = Vec::new();
        for base in self
            .annotations
            .bases
            .get(&name.local)
            .cloned()
            .unwrap_or_default()
        {
            let q = QName {
                namespace: name.namespace.clone(),
                local: base,
            };
            if defs.port_types.contains_key(&q) {
                self.port_type(defs, &q, done, depth + 1);
                if let Some(b) = self.interfaces.get(&q) {
                    bases.push(b.clone());
                }
            }
        }
        let (module, id) = self.place(name);
        let iface = scoped(&module, &id);
        self.interfaces.insert(name.clone(), iface.clone());
        self.pragma_for(name, &iface);
        let scope = iface.clone();
        self.scopes.reserve(&scope, &id);
        let mut body = String::new();
        // In document order, so the output is the same on every run.
        let mut getters: Vec<(String, String)> = Vec::new();
        let mut setters: HashSet<String> = HashSet::new();
        let mut ops = Vec::new();
        for op in &pt.operations {
            if self
                .annotations
                .declared_in
                .contains_key(&(name.local.clone(), op.name.clone()))
                && !bases.is_empty()
            {
                continue;
            }
            if !matches!(
                op.kind,
                OperationKind::OneWay | OperationKind::RequestResponse
            ) {
                self.warn(
                    &op.location,
                    format!(
                        "operation {} is a notification or solicit-response operation, which \
                         WSDL2C does not map",
                        op.name
                    ),
                );
                continue;
            }
            let inputs = op
                .input
                .as_ref()
                .map(|m| self.message_members(defs, &m.message, &op.name))
                .unwrap_or_default();
            let outputs = op
                .output
                .as_ref()
                .map(|m| self.message_members(defs, &m.message, &op.name))
                .unwrap_or_default();
            // Attributes, as C2WSDL writes them.
            if let Some(attr) = op.name.strip_prefix("_get_")
                && inputs.is_empty()
                && outputs.len() == 1
                && outputs.first().is_some_and(|m| m.xml == "_return")
                && op.faults.is_empty()
            {
                if let Some(m) = outputs.first() {
                    getters.push((attr.to_owned(), m.ty.clone()));
                }
                continue;
            }
            if let Some(attr) = op.name.strip_prefix("_set_")
                && inputs.len() == 1
                && outputs.is_empty()
                && op.faults.is_empty()
            {
                setters.insert(attr.to_owned());
                continue;
            }
            ops.push((op, inputs, outputs));
        }
        for (attr, ty) in &getters {
            let ty = self.declarator_type(ty.clone(), &module, &format!("{id}_{attr}"));
            let n = self.scopes.claim(&scope, attr);
            let ro = if setters.contains(attr) {
                ""
            } else {
                "readonly "
            };
            let _ = writeln!(body, "  {ro}attribute {ty} {n};");
        }
        for (op, inputs, outputs) in ops {
            let op_name = self.scopes.claim(&scope, &op.name);
            let op_scope = format!("{scope}::{op_name}");
            let mut params = Vec::new();
            let mut ret = "void".to_owned();
            let mut outs: Vec<Member> = Vec::new();
            for mut o in outputs {
                o.ty = self.declarator_type(o.ty, &module, &format!("{id}_{}_{}", op.name, o.xml));
                if o.xml == "_return" && ret == "void" {
                    ret = o.ty;
                } else {
                    outs.push(o);
                }
            }
            for mut i in inputs {
                i.ty = self.declarator_type(i.ty, &module, &format!("{id}_{}_{}", op.name, i.xml));
                let inout = outs.iter().position(|o| o.xml == i.xml && o.ty == i.ty);
                let dir = match inout {
                    Some(pos) => {
                        outs.remove(pos);
                        "inout"
                    }
                    None => "in",
                };
                let n = self.scopes.claim(&op_scope, &i.xml);
                params.push(format!("{dir} {} {n}", i.ty));
            }
            for o in outs {
                let n = self.scopes.claim(&op_scope, &o.xml);
                params.push(format!("out {} {n}", o.ty));
            }
            let mut raises = Vec::new();
            for f in &op.faults {
                if let Some(e) = self.fault(defs, &f.message) {
                    raises.push(e);
                }
            }
            let oneway = op.kind == OperationKind::OneWay;
            let raises = if raises.is_empty() || oneway {
                String::new()
            } else {
                format!(" raises ({})", raises.join(", "))
            };
            let _ = writeln!(
                body,
                "  {}{ret} {op_name}({}){raises};",
                if oneway { "oneway " } else { "" },
                params.join(", ")
            );
        }
        let inherits = if bases.is_empty() {
            String::new()
        } else {
            format!(" : {}", bases.join(", "))
        };
        self.push(module, format!("interface {id}{inherits} {{\n{body}}};"));
    }

    /// A type IDL accepts for a parameter, result or attribute:
    /// anonymous sequences and `fixed` are not, so they get a typedef
    /// (`<Interface>_<name>`) in the interface's module.
    fn declarator_type(&mut self, ty: String, module: &[String], hint: &str) -> String {
        if !(ty.starts_with("sequence<") || ty.starts_with("fixed<")) {
            return ty;
        }
        let id = self.scopes.claim(&scoped(module, ""), hint);
        self.push(module.to_vec(), format!("typedef {ty} {id};"));
        scoped(module, &id)
    }

    /// The parameters a message carries: the children of a wrapper
    /// element, or one per part.
    fn message_members(&mut self, defs: &Definitions, message: &QName, op: &str) -> Vec<Member> {
        let Some(msg) = defs.messages.get(message) else {
            return Vec::new();
        };
        if let [part] = msg.parts.as_slice()
            && let Some(element) = &part.element
            && let Some(members) = self.wrapper_children(element, op)
        {
            return members;
        }
        let mut out = Vec::new();
        for part in &msg.parts {
            let ty = if let Some(element) = &part.element {
                self.element_type(element, op)
            } else if let Some(t) = &part.type_name {
                self.type_ref(&TypeRef::Named(t.clone()), &[], op, 0)
            } else {
                "any".to_owned()
            };
            out.push(Member {
                ty,
                xml: part.name.clone(),
            });
        }
        out
    }

    /// The children of a wrapper element: its type is a sequence of local
    /// elements without attributes.
    fn wrapper_children(&mut self, element: &QName, op: &str) -> Option<Vec<Member>> {
        let schema = self.schema;
        let decl = schema.element(element)?;
        let ty = decl.type_ref.as_ref()?;
        let ResolvedType::Complex(ct) = schema.resolve_type(ty)? else {
            return None;
        };
        if !ct.attributes.is_empty() || !ct.attribute_groups.is_empty() {
            return None;
        }
        let ComplexContent::Elements {
            derivation: None,
            particle,
        } = &ct.content
        else {
            return None;
        };
        let Some(particle) = particle else {
            return Some(Vec::new());
        };
        let Term::Group(group) = &particle.term else {
            return None;
        };
        if group.compositor == Compositor::Choice || particle.occurs != Occurs::ONCE {
            return None;
        }
        let module = vec![namespace_module(element.namespace.as_deref())];
        let mut out = Vec::new();
        for p in &group.particles {
            let (xml, ty) = match &p.term {
                Term::Element(e) => (
                    e.name.local.clone(),
                    self.decl_type(
                        e.type_ref.as_ref(),
                        &module,
                        &format!("{op}_{}", e.name.local),
                    ),
                ),
                Term::ElementRef(r) => (r.local.clone(), self.element_type(r, op)),
                _ => return None,
            };
            out.push(Member {
                ty: wrap_occurs(ty, p.occurs),
                xml,
            });
        }
        Some(out)
    }

    /// The IDL type of a global element's content.
    fn element_type(&mut self, element: &QName, hint: &str) -> String {
        let schema = self.schema;
        let Some(decl) = schema.element(element) else {
            return "any".to_owned();
        };
        let raw = vec![namespace_module(element.namespace.as_deref())];
        let module = self.module(&raw);
        match &decl.type_ref {
            Some(TypeRef::Anonymous(i)) => {
                self.anonymous_type(*i, &module, &format!("{}_{hint}", element.local), 0)
            }
            other => self.decl_type(other.as_ref(), &module, hint),
        }
    }

    fn decl_type(&mut self, ty: Option<&TypeRef>, module: &[String], hint: &str) -> String {
        match ty {
            Some(t) => self.type_ref(t, module, hint, 0),
            None => "any".to_owned(),
        }
    }

    fn string(&self) -> &'static str {
        if self.options.narrow_strings {
            "string"
        } else {
            "wstring"
        }
    }

    fn builtin(&self, b: BuiltinType) -> String {
        use BuiltinType as B;
        match b {
            B::Boolean => "boolean",
            B::Byte | B::Short => "short",
            B::Int => "long",
            B::Long | B::Integer | B::NonPositiveInteger | B::NegativeInteger => "long long",
            B::UnsignedByte => "octet",
            B::UnsignedShort => "unsigned short",
            B::UnsignedInt => "unsigned long",
            B::UnsignedLong | B::NonNegativeInteger | B::PositiveInteger => "unsigned long long",
            B::Float => "float",
            B::Double => "double",
            B::Decimal => "fixed<31,10>",
            B::Base64Binary | B::HexBinary => "sequence<octet>",
            _ => self.string(),
        }
        .to_owned()
    }

    /// The IDL type of a type reference.
    fn type_ref(&mut self, t: &TypeRef, module: &[String], hint: &str, depth: usize) -> String {
        if depth > MAX_DEPTH {
            return "any".to_owned();
        }
        match t {
            TypeRef::Anonymous(i) => self.anonymous_type(*i, module, hint, depth + 1),
            TypeRef::Named(name) => self.named_type(name, depth + 1),
        }
    }

    fn named_type(&mut self, name: &QName, depth: usize) -> String {
        if name.namespace.as_deref() == Some(IDL_MAPPED_NS) {
            match name.local.as_str() {
                "CORBA.char" => return "char".to_owned(),
                "CORBA.wchar" => return "wchar".to_owned(),
                "CORBA.Any" => return "any".to_owned(),
                "CORBA.ObjectReference" => return "Object".to_owned(),
                "CORBA.TypeCode" => return self.string().to_owned(),
                _ => {}
            }
        }
        if let Some(s) = self.named.get(name) {
            let s = s.clone();
            self.forward_if_open(&s);
            return s;
        }
        let schema = self.schema;
        match schema.resolve_named_type(name) {
            Some(ResolvedType::Builtin(b)) => self.builtin(b),
            Some(ResolvedType::AnyType | ResolvedType::Lax) | None => "any".to_owned(),
            Some(ResolvedType::Simple(st)) => {
                let (module, id) = self.place(name);
                let s = scoped(&module, &id);
                self.named.insert(name.clone(), s.clone());
                self.pragma_for(name, &s);
                self.simple_decl(&st.variety, &module, &id, depth);
                s
            }
            Some(ResolvedType::Complex(ct)) => {
                let (module, id) = self.place(name);
                let s = scoped(&module, &id);
                self.named.insert(name.clone(), s.clone());
                self.pragma_for(name, &s);
                self.complex_decl(ct, &module, &id, depth);
                s
            }
        }
    }

    fn anonymous_type(&mut self, i: usize, module: &[String], hint: &str, depth: usize) -> String {
        if let Some(s) = self.anonymous.get(&i) {
            let s = s.clone();
            self.forward_if_open(&s);
            return s;
        }
        let schema = self.schema;
        let Some(def) = schema.anonymous_type(i) else {
            return "any".to_owned();
        };
        match def {
            ithaca_wsdl::xsd::model::TypeDef::Simple(st) => {
                // Anonymous simple types are spelled inline, except
                // enumerations, which need a declaration.
                if let SimpleVariety::Restriction { facets, .. } = &st.variety
                    && !facets.enumeration.is_empty()
                {
                    let id = self.scopes.claim(&scoped(module, ""), hint);
                    let s = scoped(module, &id);
                    self.anonymous.insert(i, s.clone());
                    self.simple_decl(&st.variety, module, &id, depth);
                    return s;
                }
                self.simple_spelling(&st.variety, module, hint, depth)
            }
            ithaca_wsdl::xsd::model::TypeDef::Complex(ct) => {
                let id = self.scopes.claim(&scoped(module, ""), hint);
                let s = scoped(module, &id);
                self.anonymous.insert(i, s.clone());
                self.complex_decl(ct, module, &id, depth);
                s
            }
        }
    }

    /// Writes a forward declaration of a struct or union that is being
    /// written and is used (recursively) before its end.
    fn forward_if_open(&mut self, s: &str) {
        if let Some((kind, module, id)) = self.open.get(s).cloned()
            && self.forwarded.insert(s.to_owned())
        {
            self.push(module, format!("{kind} {id};"));
        }
    }

    /// The IDL spelling of a simple type's value space.
    fn simple_spelling(
        &mut self,
        variety: &SimpleVariety,
        module: &[String],
        hint: &str,
        depth: usize,
    ) -> String {
        match variety {
            SimpleVariety::Restriction { base, facets } => {
                let base_ty = self.type_ref(base, module, hint, depth + 1);
                let stringy = base_ty == "wstring" || base_ty == "string";
                if stringy && let Some(n) = facets.max_length.or(facets.length) {
                    return format!("{base_ty}<{n}>");
                }
                if base_ty.starts_with("fixed")
                    && let Some(d) = facets.total_digits
                {
                    let s = facets.fraction_digits.unwrap_or(0).min(d);
                    return format!("fixed<{},{s}>", d.clamp(1, 31));
                }
                if base_ty.starts_with("fixed")
                    && let Some(s) = facets.fraction_digits
                {
                    return format!("fixed<31,{}>", s.min(31));
                }
                base_ty
            }
            SimpleVariety::List { item } => {
                let item = self.type_ref(item, module, hint, depth + 1);
                format!("sequence<{item}>")
            }
            SimpleVariety::Union { .. } => self.string().to_owned(),
        }
    }

    fn simple_decl(&mut self, variety: &SimpleVariety, module: &[String], id: &str, depth: usize) {
        if let SimpleVariety::Restriction { facets, .. } = variety
            && !facets.enumeration.is_empty()
        {
            let mut values = Vec::new();
            let mut seen = HashSet::new();
            for v in &facets.enumeration {
                if !seen.insert(v.clone()) {
                    continue;
                }
                // Enumerators live in the enclosing module's scope, where
                // a clash is renamed like any other.
                values.push(self.scopes.claim(&scoped(module, ""), v));
            }
            self.push(
                module.to_vec(),
                format!("enum {id} {{ {} }};", values.join(", ")),
            );
            return;
        }
        let spelling = self.simple_spelling(variety, module, id, depth);
        self.push(module.to_vec(), format!("typedef {spelling} {id};"));
    }

    /// Writes the declaration of a complex type: a sequence typedef for
    /// C2WSDL's `item` pattern, a union for a choice, a struct otherwise.
    fn complex_decl(&mut self, ct: &ComplexType, module: &[String], id: &str, depth: usize) {
        let s = scoped(module, id);
        // C2WSDL sequences and arrays: one repeated `item` element.
        if ct.attributes.is_empty()
            && let ComplexContent::Elements {
                derivation: None,
                particle: Some(p),
            } = &ct.content
            && let Term::Group(g) = &p.term
            && g.compositor == Compositor::Sequence
            && let [item] = g.particles.as_slice()
            && let Term::Element(e) = &item.term
            && e.name.local == "item"
            && item.occurs.max != Some(1)
        {
            self.open
                .insert(s.clone(), ("struct", module.to_vec(), id.to_owned()));
            let t = self.decl_type(e.type_ref.as_ref(), module, &format!("{id}_item"));
            self.open.remove(&s);
            let text = match (item.occurs.min, item.occurs.max) {
                (n, Some(m)) if n == m && n > 0 => format!("typedef {t} {id}[{n}];"),
                _ => format!("typedef {} {id};", wrap_occurs(t, item.occurs)),
            };
            self.push(module.to_vec(), text);
            return;
        }
        let top_choice = ct.attributes.is_empty()
            && matches!(
                &ct.content,
                ComplexContent::Elements {
                    derivation: None,
                    particle: Some(Particle {
                        occurs: Occurs::ONCE,
                        term: Term::Group(ModelGroup {
                            compositor: Compositor::Choice,
                            ..
                        })
                    })
                }
            );
        if top_choice
            && let ComplexContent::Elements {
                particle:
                    Some(Particle {
                        term: Term::Group(g),
                        ..
                    }),
                ..
            } = &ct.content
        {
            self.open
                .insert(s.clone(), ("union", module.to_vec(), id.to_owned()));
            let text = self.union_text(g, module, id, depth);
            self.open.remove(&s);
            self.push(module.to_vec(), text);
            return;
        }
        self.open
            .insert(s.clone(), ("struct", module.to_vec(), id.to_owned()));
        let mut members = Vec::new();
        self.collect_members(ct, module, id, &mut members, depth);
        self.open.remove(&s);
        self.scopes.reserve(&s, id);
        let mut body = String::new();
        for m in &members {
            let n = self.scopes.claim(&s, &m.xml);
            let _ = writeln!(body, "  {} {n};", m.ty);
        }
        if members.is_empty() {
            body.push_str("  boolean empty;\n");
        }
        self.push(module.to_vec(), format!("struct {id} {{\n{body}}};"));
    }

    fn union_text(&mut self, g: &ModelGroup, module: &[String], id: &str, depth: usize) -> String {
        let mut branches = Vec::new();
        for (k, p) in g.particles.iter().enumerate() {
            let (xml, ty) = self.particle_member(p, module, id, k, depth);
            branches.push((xml, ty));
        }
        let kind_id = self.scopes.claim(&scoped(module, ""), &format!("{id}Kind"));
        let mut labels = Vec::new();
        for (xml, _) in &branches {
            labels.push(
                self.scopes
                    .claim(&scoped(module, ""), &format!("{id}_{xml}")),
            );
        }
        self.push(
            module.to_vec(),
            format!("enum {kind_id} {{ {} }};", labels.join(", ")),
        );
        let s = scoped(module, id);
        self.scopes.reserve(&s, id);
        let mut body = String::new();
        for ((xml, ty), label) in branches.iter().zip(&labels) {
            let n = self.scopes.claim(&s, xml);
            let _ = writeln!(body, "  case {}: {ty} {n};", scoped(module, label));
        }
        format!(
            "union {id} switch ({}) {{\n{body}}};",
            scoped(module, &kind_id)
        )
    }

    /// One member for a particle: an element, or a generated struct or
    /// union for a nested group, or `any` for a wildcard.
    fn particle_member(
        &mut self,
        p: &Particle,
        module: &[String],
        owner: &str,
        index: usize,
        depth: usize,
    ) -> (String, String) {
        let (xml, ty) = match &p.term {
            Term::Element(e) => (
                e.name.local.clone(),
                self.decl_type(
                    e.type_ref.as_ref(),
                    module,
                    &format!("{owner}_{}", e.name.local),
                ),
            ),
            Term::ElementRef(r) => (r.local.clone(), self.element_type(r, owner)),
            Term::Group(g) => (
                format!("group{index}"),
                self.group_type(g, module, owner, index, depth),
            ),
            Term::GroupRef(r) => {
                let schema = self.schema;
                let ty = match schema.group(r).and_then(|g| g.model.as_ref()) {
                    Some(g) => self.group_type(g, module, owner, index, depth),
                    None => "any".to_owned(),
                };
                (r.local.clone(), ty)
            }
            Term::Any(_) => ("any".to_owned(), "any".to_owned()),
        };
        (xml, wrap_occurs(ty, p.occurs))
    }

    fn group_type(
        &mut self,
        g: &ModelGroup,
        module: &[String],
        owner: &str,
        index: usize,
        depth: usize,
    ) -> String {
        if depth > MAX_DEPTH {
            return "any".to_owned();
        }
        let suffix = if g.compositor == Compositor::Choice {
            "choice"
        } else {
            "group"
        };
        let id = self
            .scopes
            .claim(&scoped(module, ""), &format!("{owner}_{suffix}{index}"));
        let s = scoped(module, &id);
        if g.compositor == Compositor::Choice {
            let text = self.union_text(g, module, &id, depth + 1);
            self.push(module.to_vec(), text);
        } else {
            let mut members = Vec::new();
            self.group_members(g, module, &id, &mut members, depth + 1);
            self.scopes.reserve(&s, &id);
            let mut body = String::new();
            for m in &members {
                let n = self.scopes.claim(&s, &m.xml);
                let _ = writeln!(body, "  {} {n};", m.ty);
            }
            if members.is_empty() {
                body.push_str("  boolean empty;\n");
            }
            self.push(module.to_vec(), format!("struct {id} {{\n{body}}};"));
        }
        s
    }

    fn group_members(
        &mut self,
        g: &ModelGroup,
        module: &[String],
        owner: &str,
        out: &mut Vec<Member>,
        depth: usize,
    ) {
        for (k, p) in g.particles.iter().enumerate() {
            // A nested sequence or all that occurs once adds its members.
            if let Term::Group(inner) = &p.term
                && inner.compositor != Compositor::Choice
                && p.occurs == Occurs::ONCE
                && depth < MAX_DEPTH
            {
                self.group_members(inner, module, owner, out, depth + 1);
                continue;
            }
            let (xml, ty) = self.particle_member(p, module, owner, k, depth);
            out.push(Member { ty, xml });
        }
    }

    /// The members of a complex type: its base's (for an extension), its
    /// own particle's, its character data (`value`) and its attributes.
    fn collect_members(
        &mut self,
        ct: &ComplexType,
        module: &[String],
        owner: &str,
        out: &mut Vec<Member>,
        depth: usize,
    ) {
        if depth > MAX_DEPTH {
            return;
        }
        let schema = self.schema;
        match &ct.content {
            ComplexContent::Elements {
                derivation,
                particle,
            } => {
                if let Some((Derivation::Extension, base)) = derivation
                    && let Some(ResolvedType::Complex(b)) = schema.resolve_type(base)
                {
                    self.collect_members(b, module, owner, out, depth + 1);
                }
                if let Some(p) = particle {
                    if let Term::Group(g) = &p.term
                        && p.occurs == Occurs::ONCE
                        && g.compositor != Compositor::Choice
                    {
                        self.group_members(g, module, owner, out, depth + 1);
                    } else {
                        let (xml, ty) = self.particle_member(p, module, owner, 0, depth + 1);
                        out.push(Member { ty, xml });
                    }
                }
            }
            ComplexContent::Simple { base, .. } => {
                let ty = self.type_ref(base, module, &format!("{owner}_value"), depth + 1);
                let ty = if ty.starts_with("::") && self.open.contains_key(&ty) {
                    self.string().to_owned()
                } else {
                    ty
                };
                out.push(Member {
                    ty,
                    xml: "value".to_owned(),
                });
            }
        }
        for a in &ct.attributes {
            if a.use_kind == AttributeUseKind::Prohibited {
                continue;
            }
            let ty = self.decl_type(
                a.type_ref.as_ref(),
                module,
                &format!("{owner}_{}", a.name.local),
            );
            let ty = if a.use_kind == AttributeUseKind::Required {
                ty
            } else {
                format!("sequence<{ty}, 1>")
            };
            out.push(Member {
                ty,
                xml: a.name.local.clone(),
            });
        }
        for g in &ct.attribute_groups {
            let Some(group) = schema.attribute_group(g) else {
                continue;
            };
            for a in &group.attributes {
                let ty = self.decl_type(
                    a.type_ref.as_ref(),
                    module,
                    &format!("{owner}_{}", a.name.local),
                );
                let ty = if a.use_kind == AttributeUseKind::Required {
                    ty
                } else {
                    format!("sequence<{ty}, 1>")
                };
                out.push(Member {
                    ty,
                    xml: a.name.local.clone(),
                });
            }
        }
    }

    /// The exception of a fault message (its one part's element).
    fn fault(&mut self, defs: &Definitions, message: &QName) -> Option<String> {
        let msg = defs.messages.get(message)?;
        let part = msg.parts.first()?;
        let element = part.element.clone().or_else(|| part.type_name.clone())?;
        if let Some(e) = self.exceptions.get(&element) {
            return Some(e.clone());
        }
        let schema = self.schema;
        let (module, id) = self.place(&element);
        let s = scoped(&module, &id);
        self.exceptions.insert(element.clone(), s.clone());
        self.pragma_for(&element, &s);
        self.scopes.reserve(&s, &id);
        let mut members = Vec::new();
        let type_ref = match &part.element {
            Some(e) => schema.element(e).and_then(|d| d.type_ref.clone()),
            None => Some(TypeRef::Named(element.clone())),
        };
        match type_ref.as_ref().and_then(|t| schema.resolve_type(t)) {
            Some(ResolvedType::Complex(ct)) => {
                self.collect_members(ct, &module, &id, &mut members, 0);
            }
            _ => {
                let ty = self.decl_type(type_ref.as_ref(), &module, &format!("{id}_value"));
                members.push(Member {
                    ty,
                    xml: "value".to_owned(),
                });
            }
        }
        let mut body = String::new();
        for m in &members {
            let n = self.scopes.claim(&s, &m.xml);
            let _ = writeln!(body, "  {} {n};", m.ty);
        }
        self.push(module, format!("exception {id} {{\n{body}}};"));
        Some(s)
    }

    /// The IDL text: declarations grouped into their modules (a module is
    /// reopened when its declarations are not consecutive), then the
    /// `#pragma ID`s that restore annotated repository ids.
    fn render(&self) -> String {
        let mut out = String::from(
            "// Made by ithaca wsdl2idl after OMG WSDL/SOAP to CORBA Interworking 1.0.\n",
        );
        let mut current: Option<&[String]> = None;
        let close = |out: &mut String, module: &[String]| {
            for _ in module {
                out.push_str("};\n");
            }
        };
        for d in &self.decls {
            if current != Some(d.module.as_slice()) {
                if let Some(m) = current {
                    close(&mut out, m);
                }
                out.push('\n');
                for m in &d.module {
                    let _ = writeln!(out, "module {m} {{");
                }
                current = Some(d.module.as_slice());
            }
            out.push_str(&d.text);
            out.push('\n');
        }
        if let Some(m) = current {
            close(&mut out, m);
        }
        if !self.pragmas.is_empty() {
            out.push('\n');
        }
        for (name, id) in &self.pragmas {
            let name = name.trim_start_matches("::");
            let _ = writeln!(out, "#pragma ID {name} \"{id}\"");
        }
        out
    }
}
