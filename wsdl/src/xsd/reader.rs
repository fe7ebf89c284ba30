//! Reads `xs:schema` elements into a [`SchemaSet`].

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use roxmltree::Node;

use crate::diagnostic::{Diagnostic, DiagnosticKind, Location};
use crate::qname::QName;
use crate::xmldoc::{Doc, elements, namespace_of};

use super::builtin::{WhiteSpace, XSD_NS};
use super::model::{
    ArrayType, AttributeGroup, AttributeUse, AttributeUseKind, ComplexContent, ComplexType,
    ComponentKind, Compositor, Derivation, ElementDecl, Facets, GroupDef, ModelGroup,
    NamespaceConstraint, Occurs, Particle, ProcessContents, Reference, SimpleType, SimpleVariety,
    Term, TypeDef, TypeRef, Wildcard,
};
use super::pattern::Pattern;
use super::set::{SchemaInfo, SchemaSet, WSDL_NS};

/// A schema document this one points to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DirectiveKind {
    /// `xs:import` of a namespace.
    Import(Option<String>),
    /// `xs:include` (and `xs:redefine`, read as an include).
    Include,
}

/// An `xs:import`, `xs:include` or `xs:redefine` found while reading.
#[derive(Debug, Clone)]
pub(crate) struct Directive {
    pub(crate) kind: DirectiveKind,
    pub(crate) schema_location: Option<String>,
    pub(crate) location: Location,
    /// The target namespace of the schema holding the directive (an
    /// included document without one takes it).
    pub(crate) target_namespace: Option<String>,
}

/// Tells whether `node` is `xs:{local}`.
fn is_xs(node: Node<'_, '_>, local: &str) -> bool {
    crate::xmldoc::is(node, XSD_NS, local)
}

/// Reads one `xs:schema` element.
///
/// `chameleon` is the target namespace an including schema gives a
/// document that has none. Returns the imports and includes to follow.
pub(crate) fn read_schema(
    doc: &Doc<'_, '_>,
    schema: Node<'_, '_>,
    chameleon: Option<&str>,
    set: &mut SchemaSet,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<Directive> {
    let declared = schema
        .attribute("targetNamespace")
        .filter(|ns| !ns.is_empty())
        .map(str::to_owned);
    let is_chameleon = declared.is_none() && chameleon.is_some();
    let target_namespace = declared.or_else(|| chameleon.map(str::to_owned));
    let mut reader = Reader {
        doc,
        target_namespace,
        chameleon: is_chameleon,
        element_qualified: schema.attribute("elementFormDefault") == Some("qualified"),
        attribute_qualified: schema.attribute("attributeFormDefault") == Some("qualified"),
        set,
        diagnostics,
    };
    reader.set.schemas.push(SchemaInfo {
        target_namespace: reader.target_namespace.clone(),
        element_form_qualified: reader.element_qualified,
        attribute_form_qualified: reader.attribute_qualified,
        location: doc.location(schema),
    });
    reader
        .set
        .loaded_namespaces
        .insert(reader.target_namespace.clone().unwrap_or_default());
    let mut directives = Vec::new();
    for child in elements(schema) {
        if namespace_of(child) != Some(XSD_NS) {
            continue;
        }
        match child.tag_name().name() {
            "import" => directives.push(Directive {
                kind: DirectiveKind::Import(
                    child
                        .attribute("namespace")
                        .filter(|ns| !ns.is_empty())
                        .map(str::to_owned),
                ),
                schema_location: child.attribute("schemaLocation").map(str::to_owned),
                location: doc.location(child),
                target_namespace: reader.target_namespace.clone(),
            }),
            "include" | "redefine" => {
                if child.tag_name().name() == "redefine" {
                    reader.diagnostics.push(Diagnostic::warning(
                        DiagnosticKind::Unsupported,
                        doc.location(child),
                        "xs:redefine is read as xs:include; its redefinitions are ignored",
                    ));
                }
                match child.attribute("schemaLocation") {
                    Some(location) => directives.push(Directive {
                        kind: DirectiveKind::Include,
                        schema_location: Some(location.to_owned()),
                        location: doc.location(child),
                        target_namespace: reader.target_namespace.clone(),
                    }),
                    None => reader.diagnostics.push(Diagnostic::warning(
                        DiagnosticKind::BadAttribute,
                        doc.location(child),
                        "xs:include has no `schemaLocation`; it is ignored",
                    )),
                }
            }
            "element" => reader.global_element(child),
            "complexType" | "simpleType" => {
                let Some(name) = reader.global_name(child) else {
                    continue;
                };
                let def = reader.type_def(child, Some(name.clone()));
                if let Some(def) = def {
                    reader.insert_type(name, def, child);
                }
            }
            "group" => reader.global_group(child),
            "attributeGroup" => reader.global_attribute_group(child),
            "attribute" => {
                if let Some(attribute) = reader.attribute(child, true) {
                    let name = attribute.name.clone();
                    if let Some(name) = insert_new(&mut reader.set.attributes, name, attribute) {
                        reader.duplicate("attribute", &name, child);
                    }
                }
            }
            _ => {}
        }
    }
    directives
}

/// Inserts `value` unless `name` is taken; returns the name when it was.
fn insert_new<V>(map: &mut HashMap<QName, V>, name: QName, value: V) -> Option<QName> {
    match map.entry(name) {
        Entry::Occupied(entry) => Some(entry.key().clone()),
        Entry::Vacant(entry) => {
            entry.insert(value);
            None
        }
    }
}

struct Reader<'r, 'a, 'input> {
    doc: &'r Doc<'a, 'input>,
    target_namespace: Option<String>,
    chameleon: bool,
    element_qualified: bool,
    attribute_qualified: bool,
    set: &'r mut SchemaSet,
    diagnostics: &'r mut Vec<Diagnostic>,
}

impl Reader<'_, '_, '_> {
    fn missing(&mut self, node: Node<'_, '_>, attribute: &str) {
        self.diagnostics.push(Diagnostic::error(
            DiagnosticKind::BadAttribute,
            self.doc.location(node),
            format!(
                "xs:{} needs a `{attribute}` attribute",
                node.tag_name().name()
            ),
        ));
    }

    fn missing_child(&mut self, node: Node<'_, '_>, child: &str) {
        self.diagnostics.push(Diagnostic::error(
            DiagnosticKind::BadAttribute,
            self.doc.location(node),
            format!("xs:{} needs an {child} child", node.tag_name().name()),
        ));
    }

    fn bad_value(&mut self, node: Node<'_, '_>, attribute: &str, value: &str) {
        self.diagnostics.push(Diagnostic::error(
            DiagnosticKind::BadAttribute,
            self.doc.location(node),
            format!(
                "`{value}` is not a valid value for `{attribute}` on xs:{}",
                node.tag_name().name()
            ),
        ));
    }

    fn duplicate(&mut self, what: &str, name: &QName, node: Node<'_, '_>) {
        self.diagnostics.push(Diagnostic::warning(
            DiagnosticKind::Duplicate,
            self.doc.location(node),
            format!("the {what} {name} is defined more than once; the first definition is kept"),
        ));
    }

    fn in_target(&self, local: &str) -> QName {
        QName {
            namespace: self.target_namespace.clone(),
            local: local.to_owned(),
        }
    }

    /// The name of a global component, in the target namespace.
    fn global_name(&mut self, node: Node<'_, '_>) -> Option<QName> {
        match node.attribute("name").map(str::trim) {
            Some(name) if crate::names::is_ncname(name) => Some(self.in_target(name)),
            Some(name) => {
                self.bad_value(node, "name", name);
                None
            }
            None => {
                self.missing(node, "name");
                None
            }
        }
    }

    /// Resolves a QName-valued attribute value, applying chameleon
    /// namespace conversion.
    fn qname(&mut self, node: Node<'_, '_>, value: &str) -> Option<QName> {
        let mut name = self.doc.resolve_qname(node, value, self.diagnostics)?;
        if self.chameleon && name.namespace.is_none() {
            name.namespace.clone_from(&self.target_namespace);
        }
        Some(name)
    }

    /// Resolves a QName-valued attribute and records the reference.
    fn reference(
        &mut self,
        node: Node<'_, '_>,
        attribute: &str,
        kind: ComponentKind,
    ) -> Option<QName> {
        let value = node.attribute(attribute)?;
        let name = self.qname(node, value)?;
        self.set.references.push(Reference {
            kind,
            name: name.clone(),
            location: self.doc.location(node),
        });
        Some(name)
    }

    fn flag(&mut self, node: Node<'_, '_>, attribute: &str) -> bool {
        match node.attribute(attribute).map(str::trim) {
            None | Some("false" | "0") => false,
            Some("true" | "1") => true,
            Some(other) => {
                let other = other.to_owned();
                self.bad_value(node, attribute, &other);
                false
            }
        }
    }

    fn occurs(&mut self, node: Node<'_, '_>) -> Occurs {
        let min = match node.attribute("minOccurs").map(str::trim) {
            None => 1,
            Some(v) => v.parse::<u32>().unwrap_or_else(|_| {
                let v = v.to_owned();
                self.bad_value(node, "minOccurs", &v);
                1
            }),
        };
        let max = match node.attribute("maxOccurs").map(str::trim) {
            None => Some(1),
            Some("unbounded") => None,
            Some(v) => match v.parse::<u32>() {
                Ok(max) => Some(max),
                Err(_) => {
                    let v = v.to_owned();
                    self.bad_value(node, "maxOccurs", &v);
                    Some(1)
                }
            },
        };
        if max.is_some_and(|max| max < min) {
            self.diagnostics.push(Diagnostic::error(
                DiagnosticKind::BadAttribute,
                self.doc.location(node),
                "maxOccurs is less than minOccurs",
            ));
        }
        Occurs { min, max }
    }

    fn insert_type(&mut self, name: QName, def: TypeDef, node: Node<'_, '_>) {
        if let Some(name) = insert_new(&mut self.set.types, name, def) {
            self.duplicate("type", &name, node);
        }
    }

    fn anonymous(&mut self, def: TypeDef) -> TypeRef {
        self.set.anonymous.push(def);
        // Just pushed, so the list is not empty.
        TypeRef::Anonymous(self.set.anonymous.len() - 1)
    }

    /// Reads a `simpleType` or `complexType`.
    fn type_def(&mut self, node: Node<'_, '_>, name: Option<QName>) -> Option<TypeDef> {
        if is_xs(node, "simpleType") {
            self.simple_type(node, name).map(TypeDef::Simple)
        } else {
            Some(TypeDef::Complex(self.complex_type(node, name)))
        }
    }

    /// The type of an element or attribute: `type=` or an anonymous child.
    fn declared_type(&mut self, node: Node<'_, '_>) -> Option<TypeRef> {
        if let Some(name) = self.reference(node, "type", ComponentKind::Type) {
            return Some(TypeRef::Named(name));
        }
        let child = elements(node).find(|c| is_xs(*c, "simpleType") || is_xs(*c, "complexType"))?;
        let def = self.type_def(child, None)?;
        Some(self.anonymous(def))
    }

    fn element_decl(&mut self, node: Node<'_, '_>, name: QName) -> ElementDecl {
        let substitution_group = self.reference(node, "substitutionGroup", ComponentKind::Element);
        ElementDecl {
            name,
            type_ref: self.declared_type(node),
            nillable: self.flag(node, "nillable"),
            is_abstract: self.flag(node, "abstract"),
            substitution_group,
            default: node.attribute("default").map(str::to_owned),
            fixed: node.attribute("fixed").map(str::to_owned),
            location: self.doc.location(node),
        }
    }

    fn global_element(&mut self, node: Node<'_, '_>) {
        let Some(name) = self.global_name(node) else {
            return;
        };
        let decl = self.element_decl(node, name.clone());
        if let Some(name) = insert_new(&mut self.set.elements, name, decl) {
            self.duplicate("element", &name, node);
        }
    }

    fn local_name(&mut self, node: Node<'_, '_>, qualified_default: bool) -> Option<QName> {
        let local = match node.attribute("name").map(str::trim) {
            Some(local) if crate::names::is_ncname(local) => local,
            Some(local) => {
                let local = local.to_owned();
                self.bad_value(node, "name", &local);
                return None;
            }
            None => {
                self.missing(node, "name");
                return None;
            }
        };
        let qualified = match node.attribute("form") {
            Some("qualified") => true,
            Some("unqualified") => false,
            Some(other) => {
                let other = other.to_owned();
                self.bad_value(node, "form", &other);
                qualified_default
            }
            None => qualified_default,
        };
        Some(if qualified {
            self.in_target(local)
        } else {
            QName::unqualified(local)
        })
    }

    /// Reads a particle (`element`, `group`, `sequence`, `choice`, `all`,
    /// `any`) inside a model group or type.
    fn particle(&mut self, node: Node<'_, '_>) -> Option<Particle> {
        let occurs = self.occurs(node);
        let term = match node.tag_name().name() {
            "element" => {
                if node.has_attribute("ref") {
                    Term::ElementRef(self.reference(node, "ref", ComponentKind::Element)?)
                } else {
                    let name = self.local_name(node, self.element_qualified)?;
                    Term::Element(Box::new(self.element_decl(node, name)))
                }
            }
            "group" => match self.reference(node, "ref", ComponentKind::Group) {
                Some(name) => Term::GroupRef(name),
                None => {
                    if !node.has_attribute("ref") {
                        self.missing(node, "ref");
                    }
                    return None;
                }
            },
            "sequence" | "choice" | "all" => Term::Group(self.model_group(node)?),
            "any" => Term::Any(self.wildcard(node)),
            _ => return None,
        };
        Some(Particle { occurs, term })
    }

    fn model_group(&mut self, node: Node<'_, '_>) -> Option<ModelGroup> {
        let compositor = match node.tag_name().name() {
            "sequence" => Compositor::Sequence,
            "choice" => Compositor::Choice,
            "all" => Compositor::All,
            _ => return None,
        };
        let particles = elements(node)
            .filter(|c| namespace_of(*c) == Some(XSD_NS))
            .filter_map(|c| self.particle(c))
            .collect();
        Some(ModelGroup {
            compositor,
            particles,
        })
    }

    fn wildcard(&mut self, node: Node<'_, '_>) -> Wildcard {
        let namespaces = match node.attribute("namespace").map(str::trim) {
            None | Some("##any") => NamespaceConstraint::Any,
            Some("##other") => NamespaceConstraint::Other(self.target_namespace.clone()),
            Some(list) => NamespaceConstraint::List(
                list.split_ascii_whitespace()
                    .map(|item| match item {
                        "##local" => None,
                        "##targetNamespace" => self.target_namespace.clone(),
                        other => Some(other.to_owned()),
                    })
                    .collect(),
            ),
        };
        let process_contents = match node.attribute("processContents") {
            None | Some("strict") => ProcessContents::Strict,
            Some("lax") => ProcessContents::Lax,
            Some("skip") => ProcessContents::Skip,
            Some(other) => {
                let other = other.to_owned();
                self.bad_value(node, "processContents", &other);
                ProcessContents::Strict
            }
        };
        Wildcard {
            namespaces,
            process_contents,
        }
    }

    fn global_group(&mut self, node: Node<'_, '_>) {
        let Some(name) = self.global_name(node) else {
            return;
        };
        let model = elements(node)
            .find(|c| is_xs(*c, "sequence") || is_xs(*c, "choice") || is_xs(*c, "all"))
            .and_then(|c| self.model_group(c));
        let def = GroupDef {
            name: name.clone(),
            model,
            location: self.doc.location(node),
        };
        if let Some(name) = insert_new(&mut self.set.groups, name, def) {
            self.duplicate("group", &name, node);
        }
    }

    /// Reads an `xs:attribute`, global or local.
    fn attribute(&mut self, node: Node<'_, '_>, global: bool) -> Option<AttributeUse> {
        let use_kind = match node.attribute("use") {
            None | Some("optional") => AttributeUseKind::Optional,
            Some("required") => AttributeUseKind::Required,
            Some("prohibited") => AttributeUseKind::Prohibited,
            Some(other) => {
                let other = other.to_owned();
                self.bad_value(node, "use", &other);
                AttributeUseKind::Optional
            }
        };
        let (name, is_ref, type_ref) = if node.has_attribute("ref") && !global {
            (
                self.reference(node, "ref", ComponentKind::Attribute)?,
                true,
                None,
            )
        } else {
            let name = if global {
                self.global_name(node)?
            } else {
                self.local_name(node, self.attribute_qualified)?
            };
            (name, false, self.declared_type(node))
        };
        Some(AttributeUse {
            name,
            is_ref,
            type_ref,
            use_kind,
            default: node.attribute("default").map(str::to_owned),
            fixed: node.attribute("fixed").map(str::to_owned),
            array_type: self.array_type(node),
            location: self.doc.location(node),
        })
    }

    /// Reads `wsdl:arrayType="prefix:Type[]"`.
    fn array_type(&mut self, node: Node<'_, '_>) -> Option<ArrayType> {
        let value = node.attribute((WSDL_NS, "arrayType"))?.trim();
        let split = value.find('[').unwrap_or(value.len());
        let (item, dimensions) = value.split_at(split);
        let item = self.qname(node, item)?;
        self.set.references.push(Reference {
            kind: ComponentKind::Type,
            name: item.clone(),
            location: self.doc.location(node),
        });
        Some(ArrayType {
            item,
            dimensions: dimensions.to_owned(),
        })
    }

    /// Reads the attribute declarations among the children of `node`.
    fn attributes(
        &mut self,
        node: Node<'_, '_>,
    ) -> (Vec<AttributeUse>, Vec<QName>, Option<Wildcard>) {
        let mut attributes = Vec::new();
        let mut groups = Vec::new();
        let mut any = None;
        for child in elements(node) {
            if is_xs(child, "attribute") {
                if let Some(attribute) = self.attribute(child, false) {
                    attributes.push(attribute);
                }
            } else if is_xs(child, "attributeGroup") {
                if let Some(name) = self.reference(child, "ref", ComponentKind::AttributeGroup) {
                    groups.push(name);
                }
            } else if is_xs(child, "anyAttribute") {
                any = Some(self.wildcard(child));
            }
        }
        (attributes, groups, any)
    }

    fn global_attribute_group(&mut self, node: Node<'_, '_>) {
        let Some(name) = self.global_name(node) else {
            return;
        };
        let (attributes, attribute_groups, any_attribute) = self.attributes(node);
        let group = AttributeGroup {
            name: name.clone(),
            attributes,
            attribute_groups,
            any_attribute,
            location: self.doc.location(node),
        };
        if let Some(name) = insert_new(&mut self.set.attribute_groups, name, group) {
            self.duplicate("attribute group", &name, node);
        }
    }

    /// The first model group or group reference among the children.
    fn content_particle(&mut self, node: Node<'_, '_>) -> Option<Particle> {
        let child = elements(node).find(|c| {
            is_xs(*c, "sequence") || is_xs(*c, "choice") || is_xs(*c, "all") || is_xs(*c, "group")
        })?;
        self.particle(child)
    }

    fn complex_type(&mut self, node: Node<'_, '_>, name: Option<QName>) -> ComplexType {
        let is_abstract = self.flag(node, "abstract");
        let mut mixed = self.flag(node, "mixed");
        let location = self.doc.location(node);
        let simple = elements(node).find(|c| is_xs(*c, "simpleContent"));
        let complex = elements(node).find(|c| is_xs(*c, "complexContent"));
        let (content, attribute_source) = if let Some(simple) = simple {
            let derivation_node =
                elements(simple).find(|c| is_xs(*c, "extension") || is_xs(*c, "restriction"));
            match derivation_node {
                Some(d) => {
                    let derivation = if is_xs(d, "extension") {
                        Derivation::Extension
                    } else {
                        Derivation::Restriction
                    };
                    let base = self.base(d);
                    let facets = self.facets(d);
                    (
                        ComplexContent::Simple {
                            derivation,
                            base,
                            facets,
                        },
                        Some(d),
                    )
                }
                None => {
                    self.missing_child(simple, "xs:extension or xs:restriction");
                    (
                        ComplexContent::Elements {
                            derivation: None,
                            particle: None,
                        },
                        None,
                    )
                }
            }
        } else if let Some(complex) = complex {
            if self.flag(complex, "mixed") {
                mixed = true;
            }
            let derivation_node =
                elements(complex).find(|c| is_xs(*c, "extension") || is_xs(*c, "restriction"));
            match derivation_node {
                Some(d) => {
                    let derivation = if is_xs(d, "extension") {
                        Derivation::Extension
                    } else {
                        Derivation::Restriction
                    };
                    let base = self.base(d);
                    let particle = self.content_particle(d);
                    (
                        ComplexContent::Elements {
                            derivation: Some((derivation, base)),
                            particle,
                        },
                        Some(d),
                    )
                }
                None => {
                    self.missing_child(complex, "xs:extension or xs:restriction");
                    (
                        ComplexContent::Elements {
                            derivation: None,
                            particle: None,
                        },
                        None,
                    )
                }
            }
        } else {
            (
                ComplexContent::Elements {
                    derivation: None,
                    particle: self.content_particle(node),
                },
                Some(node),
            )
        };
        let (attributes, attribute_groups, any_attribute) = match attribute_source {
            Some(source) => self.attributes(source),
            None => (Vec::new(), Vec::new(), None),
        };
        ComplexType {
            name,
            is_abstract,
            mixed,
            content,
            attributes,
            attribute_groups,
            any_attribute,
            location,
        }
    }

    /// The `base=` of a derivation, or its anonymous `simpleType` child;
    /// `xs:anyType` when neither is given.
    fn base(&mut self, node: Node<'_, '_>) -> TypeRef {
        if let Some(name) = self.reference(node, "base", ComponentKind::Type) {
            return TypeRef::Named(name);
        }
        if let Some(child) = elements(node).find(|c| is_xs(*c, "simpleType"))
            && let Some(def) = self.simple_type(child, None)
        {
            return self.anonymous(TypeDef::Simple(def));
        }
        if !node.has_attribute("base") {
            self.missing(node, "base");
        }
        TypeRef::Named(QName::new(XSD_NS, "anyType"))
    }

    fn simple_type(&mut self, node: Node<'_, '_>, name: Option<QName>) -> Option<SimpleType> {
        let location = self.doc.location(node);
        let Some(child) = elements(node)
            .find(|c| is_xs(*c, "restriction") || is_xs(*c, "list") || is_xs(*c, "union"))
        else {
            self.missing_child(node, "xs:restriction, xs:list or xs:union");
            return None;
        };
        let variety = match child.tag_name().name() {
            "restriction" => {
                let base = self.base(child);
                let facets = self.facets(child);
                SimpleVariety::Restriction {
                    base,
                    facets: Box::new(facets),
                }
            }
            "list" => {
                let item =
                    if let Some(name) = self.reference(child, "itemType", ComponentKind::Type) {
                        TypeRef::Named(name)
                    } else if let Some(inline) = elements(child).find(|c| is_xs(*c, "simpleType"))
                        && let Some(def) = self.simple_type(inline, None)
                    {
                        self.anonymous(TypeDef::Simple(def))
                    } else {
                        self.missing(child, "itemType");
                        return None;
                    };
                SimpleVariety::List { item }
            }
            _ => {
                let mut members = Vec::new();
                if let Some(list) = child.attribute("memberTypes") {
                    for value in list.split_ascii_whitespace() {
                        if let Some(name) = self.qname(child, value) {
                            self.set.references.push(Reference {
                                kind: ComponentKind::Type,
                                name: name.clone(),
                                location: self.doc.location(child),
                            });
                            members.push(TypeRef::Named(name));
                        }
                    }
                }
                for inline in elements(child).filter(|c| is_xs(*c, "simpleType")) {
                    if let Some(def) = self.simple_type(inline, None) {
                        members.push(self.anonymous(TypeDef::Simple(def)));
                    }
                }
                SimpleVariety::Union { members }
            }
        };
        Some(SimpleType {
            name,
            variety,
            location,
        })
    }

    fn count_facet(&mut self, node: Node<'_, '_>) -> Option<u64> {
        let value = node.attribute("value")?.trim();
        match value.parse::<u64>() {
            Ok(n) => Some(n),
            Err(_) => {
                let value = value.to_owned();
                self.bad_value(node, "value", &value);
                None
            }
        }
    }

    fn facets(&mut self, node: Node<'_, '_>) -> Facets {
        let mut facets = Facets::default();
        for child in elements(node) {
            if namespace_of(child) != Some(XSD_NS) {
                continue;
            }
            let value = child.attribute("value");
            let name = child.tag_name().name();
            let is_facet = matches!(
                name,
                "enumeration"
                    | "pattern"
                    | "length"
                    | "minLength"
                    | "maxLength"
                    | "minInclusive"
                    | "maxInclusive"
                    | "minExclusive"
                    | "maxExclusive"
                    | "totalDigits"
                    | "fractionDigits"
                    | "whiteSpace"
            );
            if !is_facet {
                continue;
            }
            let Some(value) = value else {
                self.missing(child, "value");
                continue;
            };
            match name {
                "enumeration" => facets.enumeration.push(value.to_owned()),
                "pattern" => match Pattern::new(value) {
                    Ok(pattern) => facets.patterns.push(pattern),
                    Err(error) => {
                        let message = format!("the pattern `{value}` cannot be used: {error}");
                        let location = self.doc.location(child);
                        self.diagnostics.push(if error.unsupported {
                            Diagnostic::warning(
                                DiagnosticKind::BadPattern,
                                location,
                                message + "; it is not checked",
                            )
                        } else {
                            Diagnostic::error(DiagnosticKind::BadPattern, location, message)
                        });
                    }
                },
                "length" => facets.length = self.count_facet(child),
                "minLength" => facets.min_length = self.count_facet(child),
                "maxLength" => facets.max_length = self.count_facet(child),
                "totalDigits" => {
                    facets.total_digits = self
                        .count_facet(child)
                        .map(|n| n.min(u64::from(u32::MAX)) as u32)
                }
                "fractionDigits" => {
                    facets.fraction_digits = self
                        .count_facet(child)
                        .map(|n| n.min(u64::from(u32::MAX)) as u32)
                }
                "minInclusive" => facets.min_inclusive = Some(value.trim().to_owned()),
                "maxInclusive" => facets.max_inclusive = Some(value.trim().to_owned()),
                "minExclusive" => facets.min_exclusive = Some(value.trim().to_owned()),
                "maxExclusive" => facets.max_exclusive = Some(value.trim().to_owned()),
                _ => {
                    facets.white_space = match value.trim() {
                        "preserve" => Some(WhiteSpace::Preserve),
                        "replace" => Some(WhiteSpace::Replace),
                        "collapse" => Some(WhiteSpace::Collapse),
                        other => {
                            let other = other.to_owned();
                            self.bad_value(child, "value", &other);
                            None
                        }
                    }
                }
            }
        }
        facets
    }
}
