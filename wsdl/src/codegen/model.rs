//! The Rust shape of a schema: which structs, choice enums and value
//! enums the generated code holds, built from the XSD model on demand
//! (only the types the WSDL's messages reach).

use std::collections::{HashMap, HashSet};

use crate::diagnostic::Location;
use crate::qname::QName;
use crate::xsd::builtin::BuiltinType;
use crate::xsd::model::{
    AttributeUse, AttributeUseKind, ComplexContent, ComplexType, Compositor, Derivation,
    ElementDecl, ModelGroup, Occurs, Particle, SimpleVariety, Term, TypeRef,
};
use crate::xsd::{ResolvedType, SchemaSet};

use super::names::{NameSet, field_name, type_name};

/// The deepest nesting of groups, derivations and attribute groups the
/// generator follows.
const MAX_NESTING: usize = 64;

/// The run-time type of content kept as raw XML (`xs:anyType`, mixed
/// content).
const ANY_XML: &str = "::ithaca_wsdl::typed::AnyXml";

/// Whether a complex type, or a base it extends or restricts, has mixed
/// content.
fn is_mixed(schema: &SchemaSet, complex: &ComplexType, depth: usize) -> bool {
    if complex.mixed {
        return true;
    }
    if depth > MAX_NESTING {
        return false;
    }
    match &complex.content {
        ComplexContent::Elements {
            derivation: Some((Derivation::Extension, base)),
            ..
        } => match schema.resolve_type(base) {
            Some(ResolvedType::Complex(base)) => is_mixed(schema, base, depth + 1),
            _ => false,
        },
        _ => false,
    }
}

/// Whether a complex type derives (by extension or restriction, at any
/// depth) from SOAP 1.1 encoding's `Array`.
fn is_soap_encoded_array(schema: &SchemaSet, complex: &ComplexType, depth: usize) -> bool {
    if depth > MAX_NESTING {
        return false;
    }
    let ComplexContent::Elements {
        derivation: Some((_, base)),
        ..
    } = &complex.content
    else {
        return false;
    };
    if let TypeRef::Named(name) = base
        && name.local == "Array"
        && name.namespace.as_deref() == Some(crate::xsd::SOAP11_ENCODING_NS)
    {
        return true;
    }
    match schema.resolve_type(base) {
        Some(ResolvedType::Complex(base)) => is_soap_encoded_array(schema, base, depth + 1),
        _ => false,
    }
}

/// How a field's value is typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TypeUse {
    /// A simple value: a Rust path such as `i32`,
    /// `::ithaca_wsdl::typed::Decimal` or a generated enum.
    Simple(String),
    /// A generated struct.
    Struct(String),
    /// A SOAP-encoded array (a restriction of `soapenc:Array`): the Rust
    /// path `::std::vec::Vec<Item>`, read and written by the runtime's
    /// `read_array` / `write_array`.
    Array(String),
}

impl TypeUse {
    pub(crate) fn rust(&self) -> &str {
        match self {
            Self::Simple(path) | Self::Struct(path) | Self::Array(path) => path,
        }
    }
}

/// An element child of a struct.
#[derive(Debug, Clone)]
pub(crate) struct ElementField {
    pub(crate) field: String,
    pub(crate) namespace: String,
    pub(crate) local: String,
    pub(crate) ty: TypeUse,
    pub(crate) min: u32,
    pub(crate) max: Option<u32>,
    pub(crate) nillable: bool,
    pub(crate) boxed: bool,
}

impl ElementField {
    pub(crate) fn is_vec(&self) -> bool {
        self.max != Some(1)
    }
}

/// An attribute of a struct.
#[derive(Debug, Clone)]
pub(crate) struct AttributeField {
    pub(crate) field: String,
    pub(crate) namespace: String,
    pub(crate) local: String,
    pub(crate) ty: String,
    pub(crate) required: bool,
}

/// A choice among elements, held as a generated enum, or the occurrences
/// of a repeated sequence, held as a generated group struct (both read
/// and written through `matches`, `read` and `write_content`).
#[derive(Debug, Clone)]
pub(crate) struct ChoiceField {
    pub(crate) field: String,
    pub(crate) enum_name: String,
    pub(crate) min: u32,
    pub(crate) max: Option<u32>,
    /// Whether `enum_name` is a group struct (a repeated sequence).
    pub(crate) group: bool,
}

/// What a struct holds, in document order.
#[derive(Debug, Clone)]
pub(crate) enum Member {
    Element(ElementField),
    Choice(ChoiceField),
}

/// A generated struct: a complex type or an element's anonymous type.
#[derive(Debug, Clone)]
pub(crate) struct StructDef {
    pub(crate) name: String,
    pub(crate) doc: String,
    pub(crate) attributes: Vec<AttributeField>,
    pub(crate) members: Vec<Member>,
    /// The type of the character data of a simple-content type.
    pub(crate) simple_content: Option<String>,
    /// Whether unknown child elements are skipped (the type has a
    /// wildcard).
    pub(crate) allow_any: bool,
    /// Whether this is a group: one occurrence of a repeated sequence or
    /// a choice branch of several elements, read from and written into
    /// its parent's content rather than as an element of its own.
    pub(crate) group: bool,
    names: NameSet,
}

/// One variant of a choice enum.
#[derive(Debug, Clone)]
pub(crate) struct Variant {
    pub(crate) name: String,
    pub(crate) namespace: String,
    pub(crate) local: String,
    pub(crate) ty: TypeUse,
    pub(crate) boxed: bool,
    /// Whether the branch is a sequence of elements, `ty` its group
    /// struct (`namespace` and `local` are then its first element's).
    pub(crate) group: bool,
}

/// A generated choice enum.
#[derive(Debug, Clone)]
pub(crate) struct ChoiceDef {
    pub(crate) name: String,
    pub(crate) owner: String,
    pub(crate) variants: Vec<Variant>,
}

/// A generated enumeration of a simple type's values.
#[derive(Debug, Clone)]
pub(crate) struct EnumDef {
    pub(crate) name: String,
    pub(crate) doc: String,
    /// (variant, XML value)
    pub(crate) values: Vec<(String, String)>,
}

/// A generated union of simple types: the lexical form, kept as written
/// once one member type accepts it.
#[derive(Debug, Clone)]
pub(crate) struct UnionDef {
    pub(crate) name: String,
    pub(crate) doc: String,
    /// The Rust types of the members, in the schema's order.
    pub(crate) members: Vec<String>,
}

/// Every generated type, with the names they use.
pub(crate) struct Model<'s> {
    schema: &'s SchemaSet,
    pub(crate) structs: Vec<StructDef>,
    pub(crate) choices: Vec<ChoiceDef>,
    pub(crate) enums: Vec<EnumDef>,
    pub(crate) unions: Vec<UnionDef>,
    pub(crate) names: NameSet,
    memo: HashMap<TypeRef, TypeUse>,
    element_memo: HashMap<QName, TypeUse>,
    /// The element whose type is being resolved, for the doc of its
    /// anonymous type.
    element: Option<QName>,
    /// Where the complex type being built is written, for errors about
    /// its model groups (which carry no location of their own).
    building: Option<Location>,
    /// Problems found: `file:line:col: message`.
    pub(crate) errors: Vec<String>,
}

/// The Rust type of a built-in XSD type.
pub(crate) fn builtin_rust(builtin: BuiltinType) -> &'static str {
    use BuiltinType as B;
    match builtin {
        B::Boolean => "bool",
        B::Byte => "i8",
        B::Short => "i16",
        B::Int => "i32",
        B::Long => "i64",
        B::UnsignedByte => "u8",
        B::UnsignedShort => "u16",
        B::UnsignedInt => "u32",
        B::UnsignedLong => "u64",
        B::Float => "f32",
        B::Double => "f64",
        B::Decimal => "::ithaca_wsdl::typed::Decimal",
        B::Integer
        | B::NonPositiveInteger
        | B::NegativeInteger
        | B::NonNegativeInteger
        | B::PositiveInteger => "::ithaca_wsdl::typed::Integer",
        B::Date => "::ithaca_wsdl::typed::Date",
        B::DateTime => "::ithaca_wsdl::typed::DateTime",
        B::Time => "::ithaca_wsdl::typed::Time",
        B::Duration => "::ithaca_wsdl::typed::Duration",
        B::Base64Binary => "::ithaca_wsdl::typed::Base64Binary",
        B::HexBinary => "::ithaca_wsdl::typed::HexBinary",
        _ => "::std::string::String",
    }
}

fn describe(location: &Location) -> String {
    location.to_string()
}

impl<'s> Model<'s> {
    pub(crate) fn new(schema: &'s SchemaSet, reserved: &[&str]) -> Self {
        Self {
            schema,
            structs: Vec::new(),
            choices: Vec::new(),
            enums: Vec::new(),
            unions: Vec::new(),
            names: NameSet::with_reserved(reserved),
            memo: HashMap::new(),
            element_memo: HashMap::new(),
            element: None,
            building: None,
            errors: Vec::new(),
        }
    }

    fn error(&mut self, location: &Location, message: String) {
        self.errors
            .push(format!("{}: {message}", describe(location)));
    }

    /// The type of a global element's content (a message part's element).
    pub(crate) fn element_use(&mut self, name: &QName, at: &Location) -> Option<TypeUse> {
        if let Some(found) = self.element_memo.get(name) {
            return Some(found.clone());
        }
        let Some(decl) = self.schema.element(name) else {
            self.error(at, format!("unknown element {name}"));
            return None;
        };
        let decl = decl.clone();
        let found = self.decl_use(&decl, &type_name(&name.local, "Element"))?;
        if let TypeUse::Array(_) = found {
            self.error(
                &decl.location,
                format!(
                    "unsupported: the global element {name} has a SOAP-encoded array type (arrays map to Vec as rpc/encoded parts and struct fields only)"
                ),
            );
            return None;
        }
        self.element_memo.insert(name.clone(), found.clone());
        Some(found)
    }

    fn decl_use(&mut self, decl: &ElementDecl, context: &str) -> Option<TypeUse> {
        let type_ref = match &decl.type_ref {
            Some(type_ref) => type_ref.clone(),
            None => {
                let head = decl
                    .substitution_group
                    .as_ref()
                    .and_then(|h| self.schema.element(h))
                    .and_then(|h| h.type_ref.clone());
                match head {
                    Some(type_ref) => type_ref,
                    // No type is xs:anyType: kept as raw XML.
                    None => return Some(TypeUse::Struct(ANY_XML.to_owned())),
                }
            }
        };
        self.element = Some(decl.name.clone());
        self.type_use(&type_ref, context, &decl.location)
    }

    /// The Rust type of any type reference; `context` names an anonymous
    /// type.
    pub(crate) fn type_use(
        &mut self,
        type_ref: &TypeRef,
        context: &str,
        at: &Location,
    ) -> Option<TypeUse> {
        let element = self.element.take();
        if let Some(found) = self.memo.get(type_ref) {
            return Some(found.clone());
        }
        match self.schema.resolve_type(type_ref) {
            None | Some(ResolvedType::Lax) => {
                self.error(
                    at,
                    format!("unsupported: a type from a schema that was not loaded ({type_ref:?})"),
                );
                None
            }
            Some(ResolvedType::AnyType) => Some(TypeUse::Struct(ANY_XML.to_owned())),
            // Mixed content (character data between elements) has no
            // struct shape: kept as raw XML.
            Some(ResolvedType::Complex(complex)) if is_mixed(self.schema, complex, 0) => {
                Some(TypeUse::Struct(ANY_XML.to_owned()))
            }
            Some(ResolvedType::Complex(complex))
                if is_soap_encoded_array(self.schema, complex, 0) =>
            {
                let found = self.array_use(complex, context)?;
                self.memo.insert(type_ref.clone(), found.clone());
                Some(found)
            }
            Some(ResolvedType::Builtin(_) | ResolvedType::Simple(_)) => self
                .simple_use(type_ref, context, at, 0)
                .map(TypeUse::Simple),
            Some(ResolvedType::Complex(complex)) => {
                let base = complex.name.as_ref().map_or(context, |n| n.local.as_str());
                let name = self.names.unique(type_name(base, "Type"));
                let found = TypeUse::Struct(name.clone());
                self.memo.insert(type_ref.clone(), found.clone());
                let doc = match &complex.name {
                    Some(n) => format!("The complex type `{n}`."),
                    None => match &element {
                        Some(element) => format!("The content of the element `{element}`."),
                        None => format!("The anonymous type of `{context}`."),
                    },
                };
                let def = self.build_struct(complex, name, doc);
                self.structs.push(def);
                Some(found)
            }
        }
    }

    /// The Rust type of a SOAP-encoded array type: `Vec` of its item type,
    /// which its `wsdl:arrayType` names (or, without one, the type of the
    /// element its restriction's sequence declares). Multi-dimensional
    /// arrays and arrays of arrays are refused: they have no `Vec` shape
    /// that says which dimension is which.
    fn array_use(&mut self, complex: &ComplexType, context: &str) -> Option<TypeUse> {
        let described = complex
            .name
            .as_ref()
            .map_or_else(|| format!("in {context}"), |n| n.to_string());
        let ComplexContent::Elements {
            derivation: Some((Derivation::Restriction, TypeRef::Named(base))),
            particle,
        } = &complex.content
        else {
            self.error(
                &complex.location,
                format!(
                    "unsupported: the SOAP-encoded array type {described} does not restrict soapenc:Array directly (serve it with dynamic handlers)"
                ),
            );
            return None;
        };
        if base.local != "Array" {
            self.error(
                &complex.location,
                format!(
                    "unsupported: the SOAP-encoded array type {described} derives from another array type (serve it with dynamic handlers)"
                ),
            );
            return None;
        }
        let from_attribute = complex
            .attributes
            .iter()
            .find_map(|a| a.array_type.as_ref());
        let item = match from_attribute {
            Some(array_type) => {
                let dims = array_type.dimensions.trim();
                if dims.matches('[').count() != 1 || dims.contains(',') {
                    self.error(
                        &complex.location,
                        format!(
                            "unsupported: the SOAP-encoded array type {described} has wsdl:arrayType \"{}{dims}\"; only one-dimensional arrays map to Vec (multi-dimensional arrays and arrays of arrays are refused, not flattened; serve them with dynamic handlers)",
                            array_type.item.local
                        ),
                    );
                    return None;
                }
                Some(array_type.item.clone())
            }
            None => particle.as_ref().and_then(|particle| {
                let term = match &particle.term {
                    Term::Group(group) => group.particles.first().map(|p| &p.term),
                    term => Some(term),
                }?;
                match term {
                    Term::Element(decl) => match &decl.type_ref {
                        Some(TypeRef::Named(name)) => Some(name.clone()),
                        _ => None,
                    },
                    _ => None,
                }
            }),
        };
        let Some(item) = item else {
            self.error(
                &complex.location,
                format!(
                    "unsupported: the SOAP-encoded array type {described} declares no item type (no wsdl:arrayType and no item element)"
                ),
            );
            return None;
        };
        let item_context = format!("{}Item", type_name(context, "Array"));
        let item_use = self.type_use(
            &TypeRef::Named(item.clone()),
            &item_context,
            &complex.location,
        )?;
        if let TypeUse::Array(_) = item_use {
            self.error(
                &complex.location,
                format!(
                    "unsupported: the SOAP-encoded array type {described} holds arrays ({item}); arrays of arrays are refused (serve them with dynamic handlers)"
                ),
            );
            return None;
        }
        Some(TypeUse::Array(format!(
            "::std::vec::Vec<{}>",
            item_use.rust()
        )))
    }

    /// The Rust type of a simple type.
    fn simple_use(
        &mut self,
        type_ref: &TypeRef,
        context: &str,
        at: &Location,
        depth: usize,
    ) -> Option<String> {
        if depth > MAX_NESTING {
            self.error(at, "simple type derivation too deep".to_owned());
            return None;
        }
        if let Some(TypeUse::Simple(found)) = self.memo.get(type_ref) {
            return Some(found.clone());
        }
        match self.schema.resolve_type(type_ref) {
            Some(ResolvedType::Builtin(builtin)) => Some(builtin_rust(builtin).to_owned()),
            Some(ResolvedType::AnyType | ResolvedType::Lax) => {
                Some("::std::string::String".to_owned())
            }
            Some(ResolvedType::Simple(simple)) => {
                let found = match &simple.variety {
                    SimpleVariety::Restriction { base, facets }
                        if !facets.enumeration.is_empty() =>
                    {
                        let base_name = simple.name.as_ref().map_or(context, |n| n.local.as_str());
                        let name = self.names.unique(type_name(base_name, "Value"));
                        let mut variants = NameSet::default();
                        let values = facets
                            .enumeration
                            .iter()
                            .map(|v| (variants.unique(type_name(v, "Empty")), v.clone()))
                            .collect();
                        let _ = base;
                        let doc = match &simple.name {
                            Some(n) => format!("The values of `{n}`."),
                            None => format!("The values of `{context}`."),
                        };
                        self.enums.push(EnumDef {
                            name: name.clone(),
                            doc,
                            values,
                        });
                        name
                    }
                    SimpleVariety::Restriction { base, .. } => {
                        self.simple_use(base, context, at, depth + 1)?
                    }
                    SimpleVariety::List { item } => {
                        let item = self.simple_use(item, context, at, depth + 1)?;
                        format!("::std::vec::Vec<{item}>")
                    }
                    SimpleVariety::Union { members } => {
                        let base_name = simple.name.as_ref().map_or(context, |n| n.local.as_str());
                        let name = self.names.unique(type_name(base_name, "Union"));
                        let mut rust_members = Vec::new();
                        for member in members {
                            let member = self.simple_use(member, context, at, depth + 1)?;
                            if !rust_members.contains(&member) {
                                rust_members.push(member);
                            }
                        }
                        let doc = match &simple.name {
                            Some(n) => format!("A value of the union `{n}`"),
                            None => format!("A value of the union in `{context}`"),
                        };
                        self.unions.push(UnionDef {
                            name: name.clone(),
                            doc,
                            members: rust_members,
                        });
                        name
                    }
                };
                self.memo
                    .insert(type_ref.clone(), TypeUse::Simple(found.clone()));
                Some(found)
            }
            Some(ResolvedType::Complex(_)) => {
                self.error(
                    at,
                    format!("a complex type is used as a simple type ({type_ref:?})"),
                );
                None
            }
            None => {
                self.error(at, format!("unknown type {type_ref:?}"));
                None
            }
        }
    }

    fn build_struct(&mut self, complex: &ComplexType, name: String, doc: String) -> StructDef {
        let mut def = StructDef {
            name,
            doc,
            attributes: Vec::new(),
            members: Vec::new(),
            simple_content: None,
            allow_any: false,
            group: false,
            names: NameSet::default(),
        };
        let outer = self.building.replace(complex.location.clone());
        self.collect_complex(complex, &mut def, 0);
        self.building = outer;
        def
    }

    fn collect_complex(&mut self, complex: &ComplexType, def: &mut StructDef, depth: usize) {
        if depth > MAX_NESTING {
            self.error(&complex.location, "type derivation too deep".to_owned());
            return;
        }
        match &complex.content {
            ComplexContent::Elements {
                derivation,
                particle,
            } => {
                if let Some((Derivation::Extension, base)) = derivation {
                    match self.schema.resolve_type(base) {
                        Some(ResolvedType::Complex(base)) => {
                            self.collect_complex(base, def, depth + 1);
                        }
                        Some(ResolvedType::AnyType) => {}
                        _ => self.error(
                            &complex.location,
                            "unsupported: extension of a type that is not complex".to_owned(),
                        ),
                    }
                }
                self.collect_attributes(&complex.attributes, &complex.attribute_groups, def, 0);
                if let Some(particle) = particle {
                    self.collect_particle(particle, def, false, 0);
                }
            }
            ComplexContent::Simple { base, .. } => {
                match self.schema.resolve_type(base) {
                    Some(ResolvedType::Complex(base)) => {
                        self.collect_complex(base, def, depth + 1);
                    }
                    _ => {
                        let context = def.name.clone();
                        def.simple_content = self.simple_use(base, &context, &complex.location, 0);
                    }
                }
                self.collect_attributes(&complex.attributes, &complex.attribute_groups, def, 0);
            }
        }
    }

    fn collect_attributes(
        &mut self,
        attributes: &[AttributeUse],
        groups: &[QName],
        def: &mut StructDef,
        depth: usize,
    ) {
        if depth > MAX_NESTING {
            return;
        }
        for attribute in attributes {
            if attribute.use_kind == AttributeUseKind::Prohibited {
                continue;
            }
            let type_ref = if attribute.is_ref {
                self.schema
                    .attribute(&attribute.name)
                    .and_then(|a| a.type_ref.clone())
            } else {
                attribute.type_ref.clone()
            };
            let context = format!("{}{}", def.name, type_name(&attribute.name.local, "Attr"));
            let ty = match type_ref {
                Some(type_ref) => self
                    .simple_use(&type_ref, &context, &attribute.location, 0)
                    .unwrap_or_else(|| "::std::string::String".to_owned()),
                None => "::std::string::String".to_owned(),
            };
            let field = def
                .names
                .unique(field_name(&attribute.name.local, "attribute"));
            def.attributes.push(AttributeField {
                field,
                namespace: attribute.name.namespace.clone().unwrap_or_default(),
                local: attribute.name.local.clone(),
                ty,
                required: attribute.use_kind == AttributeUseKind::Required,
            });
        }
        for group in groups {
            if let Some(group) = self.schema.attribute_group(group) {
                let group = group.clone();
                self.collect_attributes(&group.attributes, &group.attribute_groups, def, depth + 1);
            }
        }
    }

    fn collect_particle(
        &mut self,
        particle: &Particle,
        def: &mut StructDef,
        optional: bool,
        depth: usize,
    ) {
        if depth > MAX_NESTING {
            return;
        }
        let occurs = Occurs {
            min: if optional { 0 } else { particle.occurs.min },
            max: particle.occurs.max,
        };
        match &particle.term {
            Term::Element(decl) => self.element_member(decl, occurs, def),
            Term::ElementRef(name) => {
                if let Some(decl) = self.schema.element(name) {
                    let decl = decl.clone();
                    self.element_member(&decl, occurs, def);
                }
            }
            Term::Group(group) => self.collect_group(group, occurs, def, depth),
            Term::GroupRef(name) => {
                if let Some(model) = self.schema.group(name).and_then(|g| g.model.clone()) {
                    self.collect_group(&model, occurs, def, depth);
                }
            }
            Term::Any(_) => def.allow_any = true,
        }
    }

    fn collect_group(
        &mut self,
        group: &ModelGroup,
        occurs: Occurs,
        def: &mut StructDef,
        depth: usize,
    ) {
        match group.compositor {
            Compositor::Sequence | Compositor::All => {
                if occurs.max != Some(1) {
                    // Each occurrence becomes an item of a group struct.
                    let Some(group_name) = self.group_struct(group, &def.name, depth) else {
                        return;
                    };
                    let field = def.names.unique("group".to_owned());
                    def.members.push(Member::Choice(ChoiceField {
                        field,
                        enum_name: group_name,
                        min: occurs.min,
                        max: occurs.max,
                        group: true,
                    }));
                    return;
                }
                for particle in &group.particles {
                    self.collect_particle(particle, def, occurs.min == 0, depth + 1);
                }
            }
            Compositor::Choice => {
                let enum_name = self.names.unique(format!("{}Choice", def.name));
                let mut variant_names = NameSet::default();
                let mut variants = Vec::new();
                for particle in &group.particles {
                    // A branch of several elements: a group struct.
                    let branch = match &particle.term {
                        Term::Group(model) => Some(model.clone()),
                        Term::GroupRef(name) => {
                            self.schema.group(name).and_then(|g| g.model.clone())
                        }
                        _ => None,
                    };
                    if let Some(branch) = branch
                        && branch.compositor == Compositor::Sequence
                        && particle.occurs.max == Some(1)
                    {
                        let Some(group_name) = self.group_struct(&branch, &def.name, depth) else {
                            continue;
                        };
                        // Named after its elements: `first`, `last` → `FirstLast`.
                        let locals: Vec<(String, String)> = self
                            .structs
                            .iter()
                            .find(|s| s.name == group_name)
                            .map(|s| {
                                s.members
                                    .iter()
                                    .filter_map(|m| match m {
                                        Member::Element(e) => {
                                            Some((e.namespace.clone(), e.local.clone()))
                                        }
                                        Member::Choice(_) => None,
                                    })
                                    .collect()
                            })
                            .unwrap_or_default();
                        let joined: String = locals
                            .iter()
                            .map(|(_, local)| type_name(local, "Item"))
                            .collect();
                        let first = locals.into_iter().next().unwrap_or_default();
                        variants.push(Variant {
                            name: variant_names.unique(type_name(&joined, "Group")),
                            namespace: first.0,
                            local: first.1,
                            ty: TypeUse::Struct(group_name),
                            boxed: false,
                            group: true,
                        });
                        continue;
                    }
                    let decl = match &particle.term {
                        Term::Element(decl) => Some((**decl).clone()),
                        Term::ElementRef(name) => self.schema.element(name).cloned(),
                        _ => None,
                    };
                    let Some(decl) = decl else {
                        self.error(
                            &Location::file("schema"),
                            format!(
                                "unsupported: a choice in {} whose branch is not an element",
                                def.name
                            ),
                        );
                        continue;
                    };
                    if particle.occurs.max != Some(1) {
                        self.error(
                            &decl.location,
                            format!("unsupported: a repeated element {} in a choice", decl.name),
                        );
                        continue;
                    }
                    let context = format!("{}{}", def.name, type_name(&decl.name.local, "Item"));
                    let Some(ty) = self.decl_use(&decl, &context) else {
                        continue;
                    };
                    if let TypeUse::Array(_) = ty {
                        self.error(
                            &decl.location,
                            format!(
                                "unsupported: the choice branch {} has a SOAP-encoded array type",
                                decl.name
                            ),
                        );
                        continue;
                    }
                    variants.push(Variant {
                        name: variant_names.unique(type_name(&decl.name.local, "Item")),
                        namespace: decl.name.namespace.clone().unwrap_or_default(),
                        local: decl.name.local.clone(),
                        ty,
                        boxed: false,
                        group: false,
                    });
                }
                self.choices.push(ChoiceDef {
                    name: enum_name.clone(),
                    owner: def.name.clone(),
                    variants,
                });
                let field = def.names.unique("choice".to_owned());
                def.members.push(Member::Choice(ChoiceField {
                    field,
                    enum_name,
                    min: occurs.min,
                    max: occurs.max,
                    group: false,
                }));
            }
        }
    }

    /// The group struct of a sequence whose particles are all elements:
    /// one occurrence of a repeated sequence, or a choice branch of
    /// several elements, in the content of `owner`. Other sequences are
    /// refused.
    fn group_struct(&mut self, group: &ModelGroup, owner: &str, depth: usize) -> Option<String> {
        let elements_only = group
            .particles
            .iter()
            .all(|p| matches!(p.term, Term::Element(_) | Term::ElementRef(_)));
        if !elements_only || group.particles.is_empty() {
            let at = self
                .building
                .clone()
                .unwrap_or_else(|| Location::file("schema"));
            self.error(
                &at,
                format!(
                    "unsupported: a repeated sequence or choice branch in {owner} that holds other than elements"
                ),
            );
            return None;
        }
        let name = self.names.unique(format!("{owner}Group"));
        let mut def = StructDef {
            name: name.clone(),
            doc: format!("One occurrence of a sequence of elements in [`{owner}`]."),
            attributes: Vec::new(),
            members: Vec::new(),
            simple_content: None,
            allow_any: false,
            group: true,
            names: NameSet::default(),
        };
        for particle in &group.particles {
            self.collect_particle(particle, &mut def, false, depth + 1);
        }
        self.structs.push(def);
        Some(name)
    }

    fn element_member(&mut self, decl: &ElementDecl, occurs: Occurs, def: &mut StructDef) {
        if occurs.max == Some(0) {
            return;
        }
        let context = format!("{}{}", def.name, type_name(&decl.name.local, "Item"));
        let Some(ty) = self.decl_use(decl, &context) else {
            return;
        };
        let field = def.names.unique(field_name(&decl.name.local, "element"));
        def.members.push(Member::Element(ElementField {
            field,
            namespace: decl.name.namespace.clone().unwrap_or_default(),
            local: decl.name.local.clone(),
            ty,
            min: occurs.min,
            max: occurs.max,
            nillable: decl.nillable,
            boxed: false,
        }));
    }

    /// Boxes every singular reference from a struct to a struct that
    /// reaches it back, so that recursive types have a size.
    pub(crate) fn box_recursion(&mut self) {
        let mut edges: HashMap<String, HashSet<String>> = HashMap::new();
        let choice_owner: HashMap<String, String> = self
            .choices
            .iter()
            .map(|c| (c.name.clone(), c.owner.clone()))
            .collect();
        for def in &self.structs {
            let entry = edges.entry(def.name.clone()).or_default();
            for member in &def.members {
                if let Member::Element(e) = member
                    && let TypeUse::Struct(target) = &e.ty
                {
                    entry.insert(target.clone());
                }
            }
        }
        for choice in &self.choices {
            let entry = edges.entry(choice.owner.clone()).or_default();
            for variant in &choice.variants {
                if let TypeUse::Struct(target) = &variant.ty {
                    entry.insert(target.clone());
                }
            }
        }
        let reaches = |from: &str, to: &str| -> bool {
            let mut seen = HashSet::new();
            let mut stack = vec![from.to_owned()];
            while let Some(next) = stack.pop() {
                if next == to {
                    return true;
                }
                if seen.insert(next.clone())
                    && let Some(targets) = edges.get(&next)
                {
                    stack.extend(targets.iter().cloned());
                }
            }
            false
        };
        for def in &mut self.structs {
            let owner = def.name.clone();
            for member in &mut def.members {
                if let Member::Element(e) = member
                    && let TypeUse::Struct(target) = &e.ty
                    && !e.is_vec()
                    && reaches(target, &owner)
                {
                    e.boxed = true;
                }
            }
        }
        for choice in &mut self.choices {
            let owner = choice.owner.clone();
            let _ = &choice_owner;
            for variant in &mut choice.variants {
                if let TypeUse::Struct(target) = &variant.ty
                    && reaches(target, &owner)
                {
                    variant.boxed = true;
                }
            }
        }
    }

    /// A synthetic struct for an rpc wrapper: one unqualified element per
    /// part.
    pub(crate) fn rpc_struct(
        &mut self,
        name: &str,
        doc: String,
        parts: &[(String, Option<QName>, Option<QName>)],
        at: &Location,
    ) -> Option<TypeUse> {
        let name = self.names.unique(type_name(name, "Wrapper"));
        let mut def = StructDef {
            name: name.clone(),
            doc,
            attributes: Vec::new(),
            members: Vec::new(),
            simple_content: None,
            allow_any: false,
            group: false,
            names: NameSet::default(),
        };
        for (part, element, type_name_) in parts {
            let (namespace, local, ty) = match (element, type_name_) {
                (Some(element), _) => (
                    element.namespace.clone().unwrap_or_default(),
                    element.local.clone(),
                    self.element_use(element, at)?,
                ),
                (None, Some(type_ref)) => (
                    String::new(),
                    part.clone(),
                    self.type_use(
                        &TypeRef::Named(type_ref.clone()),
                        &format!("{name}{}", type_name(part, "Part")),
                        at,
                    )?,
                ),
                (None, None) => continue,
            };
            let field = def.names.unique(field_name(part, "part"));
            def.members.push(Member::Element(ElementField {
                field,
                namespace,
                local,
                ty,
                min: 1,
                max: Some(1),
                nillable: false,
                boxed: false,
            }));
        }
        self.structs.push(def);
        Some(TypeUse::Struct(name))
    }
}
