//! The schema set: every component of every loaded schema document, by
//! expanded name.

use std::collections::{BTreeSet, HashMap};

use crate::diagnostic::{Diagnostic, DiagnosticKind, Location};
use crate::qname::QName;

use super::builtin::{BuiltinType, XSD_NS};
use super::model::{
    AttributeGroup, AttributeUse, ComplexContent, ComplexType, ComponentKind, ElementDecl,
    GroupDef, ModelGroup, Reference, SimpleType, SimpleVariety, Term, TypeDef, TypeRef, Wildcard,
};

/// The SOAP 1.1 encoding namespace (SOAP section 5).
pub const SOAP11_ENCODING_NS: &str = "http://schemas.xmlsoap.org/soap/encoding/";
/// The SOAP 1.2 encoding namespace.
pub const SOAP12_ENCODING_NS: &str = "http://www.w3.org/2003/05/soap-encoding";
/// The WSDL 1.1 namespace (for `wsdl:arrayType`).
pub(crate) const WSDL_NS: &str = "http://schemas.xmlsoap.org/wsdl/";

/// The most attribute groups followed from one complex type.
const MAX_ATTRIBUTE_GROUPS: usize = 256;

/// The most derivation steps followed from a type to its root.
pub(crate) const MAX_DERIVATION_CHAIN: usize = 64;

/// Namespaces whose components this crate knows without a schema
/// document: references into them resolve laxly when no document for
/// them was loaded.
fn is_well_known(namespace: Option<&str>) -> bool {
    matches!(
        namespace,
        Some(SOAP11_ENCODING_NS | SOAP12_ENCODING_NS | WSDL_NS | crate::version::XML_NS)
    )
}

/// Information about one schema document (or inline `xs:schema`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaInfo {
    /// The target namespace (after chameleon include), `None` for none.
    pub target_namespace: Option<String>,
    /// `elementFormDefault="qualified"`.
    pub element_form_qualified: bool,
    /// `attributeFormDefault="qualified"`.
    pub attribute_form_qualified: bool,
    /// Where the `xs:schema` element is.
    pub location: Location,
}

/// A resolved type: what a [`TypeRef`] designates.
#[derive(Debug, Clone, Copy)]
pub enum ResolvedType<'s> {
    /// `xs:anyType`: any content, any attributes.
    AnyType,
    /// A built-in simple type.
    Builtin(BuiltinType),
    /// A user-defined simple type.
    Simple(&'s SimpleType),
    /// A user-defined complex type.
    Complex(&'s ComplexType),
    /// A type in a namespace whose schema was not loaded (or a SOAP
    /// encoding type): anything is accepted.
    Lax,
}

/// Every component of a set of schema documents, by expanded name.
#[derive(Debug, Clone, Default)]
pub struct SchemaSet {
    pub(crate) schemas: Vec<SchemaInfo>,
    pub(crate) elements: HashMap<QName, ElementDecl>,
    pub(crate) types: HashMap<QName, TypeDef>,
    pub(crate) anonymous: Vec<TypeDef>,
    pub(crate) groups: HashMap<QName, GroupDef>,
    pub(crate) attribute_groups: HashMap<QName, AttributeGroup>,
    pub(crate) attributes: HashMap<QName, AttributeUse>,
    pub(crate) substitutions: HashMap<QName, Vec<QName>>,
    /// Namespaces with at least one loaded schema document; `""` for no
    /// namespace.
    pub(crate) loaded_namespaces: BTreeSet<String>,
    /// Namespaces with an `xs:include` that was refused (remote): their
    /// missing components are handled laxly.
    pub(crate) incomplete_namespaces: BTreeSet<String>,
    pub(crate) references: Vec<Reference>,
}

impl SchemaSet {
    /// An empty schema set.
    pub fn new() -> Self {
        Self::default()
    }

    /// The schema documents (and inline schemas) read, in load order.
    pub fn schemas(&self) -> &[SchemaInfo] {
        &self.schemas
    }

    /// The target namespaces of the loaded schemas (`""` stands for no
    /// namespace).
    pub fn namespaces(&self) -> impl Iterator<Item = &str> {
        self.loaded_namespaces.iter().map(String::as_str)
    }

    /// The global element with this name.
    pub fn element(&self, name: &QName) -> Option<&ElementDecl> {
        self.elements.get(name)
    }

    /// Every global element, in no particular order.
    pub fn elements(&self) -> impl Iterator<Item = &ElementDecl> {
        self.elements.values()
    }

    /// The named type definition with this name (not the built-in types;
    /// see [`SchemaSet::resolve_type`]).
    pub fn type_def(&self, name: &QName) -> Option<&TypeDef> {
        self.types.get(name)
    }

    /// Every named type definition, in no particular order.
    pub fn types(&self) -> impl Iterator<Item = &TypeDef> {
        self.types.values()
    }

    /// The named model group with this name.
    pub fn group(&self, name: &QName) -> Option<&GroupDef> {
        self.groups.get(name)
    }

    /// The named attribute group with this name.
    pub fn attribute_group(&self, name: &QName) -> Option<&AttributeGroup> {
        self.attribute_groups.get(name)
    }

    /// The global attribute with this name.
    pub fn attribute(&self, name: &QName) -> Option<&AttributeUse> {
        self.attributes.get(name)
    }

    /// The members of the substitution group headed by `head` (direct
    /// members only).
    pub fn substitution_group(&self, head: &QName) -> &[QName] {
        self.substitutions.get(head).map_or(&[], Vec::as_slice)
    }

    /// Tells whether a schema for `namespace` was loaded.
    pub fn has_namespace(&self, namespace: Option<&str>) -> bool {
        self.loaded_namespaces.contains(namespace.unwrap_or(""))
    }

    /// Resolves a type reference: a built-in type, `xs:anyType`, a named
    /// or anonymous definition, or [`ResolvedType::Lax`] for a type in a
    /// namespace that was not loaded. `None` when the type is unknown.
    pub fn resolve_type(&self, type_ref: &TypeRef) -> Option<ResolvedType<'_>> {
        match type_ref {
            TypeRef::Anonymous(index) => self.anonymous.get(*index).map(Self::view),
            TypeRef::Named(name) => self.resolve_named_type(name),
        }
    }

    fn view(def: &TypeDef) -> ResolvedType<'_> {
        match def {
            TypeDef::Simple(t) => ResolvedType::Simple(t),
            TypeDef::Complex(t) => ResolvedType::Complex(t),
        }
    }

    /// Resolves a type by name (see [`SchemaSet::resolve_type`]).
    pub fn resolve_named_type(&self, name: &QName) -> Option<ResolvedType<'_>> {
        if let Some(def) = self.types.get(name) {
            return Some(Self::view(def));
        }
        let namespace = name.namespace.as_deref();
        if namespace == Some(XSD_NS) {
            return match name.local.as_str() {
                "anyType" => Some(ResolvedType::AnyType),
                local => BuiltinType::from_local_name(local).map(ResolvedType::Builtin),
            };
        }
        if namespace.is_none()
            && let Some(builtin) = BuiltinType::from_local_name(&name.local)
        {
            // An unprefixed built-in name with no default namespace, as
            // old WSDLs write (`type="string"`); `link` warned.
            return Some(ResolvedType::Builtin(builtin));
        }
        if !self.has_namespace(namespace)
            || self.incomplete_namespaces.contains(namespace.unwrap_or(""))
        {
            // Already reported by `link` when the namespace is not a
            // well-known one.
            return Some(ResolvedType::Lax);
        }
        None
    }

    /// The anonymous type definition at `index`.
    pub fn anonymous_type(&self, index: usize) -> Option<&TypeDef> {
        self.anonymous.get(index)
    }

    /// Builds the substitution groups and checks every recorded reference
    /// and derivation, reporting what does not resolve.
    pub(crate) fn link(&mut self, diagnostics: &mut Vec<Diagnostic>) {
        let mut substitutions: HashMap<QName, Vec<QName>> = HashMap::new();
        let mut members: Vec<(&QName, &QName)> = self
            .elements
            .values()
            .filter_map(|e| e.substitution_group.as_ref().map(|head| (head, &e.name)))
            .collect();
        members.sort();
        for (head, member) in members {
            substitutions
                .entry(head.clone())
                .or_default()
                .push(member.clone());
        }
        self.substitutions = substitutions;

        let references = std::mem::take(&mut self.references);
        let mut reported = BTreeSet::new();
        for reference in &references {
            if self.resolves(reference.kind, &reference.name) {
                continue;
            }
            let namespace = reference.name.namespace.as_deref();
            if reference.kind == ComponentKind::Type
                && namespace.is_none()
                && BuiltinType::from_local_name(&reference.name.local).is_some()
            {
                diagnostics.push(Diagnostic::warning(
                    DiagnosticKind::Unresolved,
                    reference.location.clone(),
                    format!(
                        "the type `{}` has no namespace; it is read as xs:{}",
                        reference.name.local, reference.name.local
                    ),
                ));
                continue;
            }
            let known_namespace = self.has_namespace(namespace) || namespace == Some(XSD_NS);
            let incomplete = self.incomplete_namespaces.contains(namespace.unwrap_or(""));
            if !known_namespace || incomplete {
                if is_well_known(namespace) {
                    continue;
                }
                // One warning per namespace is enough.
                if reported.insert(namespace.unwrap_or("").to_owned()) {
                    diagnostics.push(Diagnostic::warning(
                        DiagnosticKind::NamespaceNotLoaded,
                        reference.location.clone(),
                        format!(
                            "the schema for the namespace `{}` was not (completely) loaded; its missing components (such as the {} {}) are handled laxly",
                            namespace.unwrap_or(""),
                            reference.kind.describe(),
                            reference.name
                        ),
                    ));
                }
                continue;
            }
            // The XML Schema namespace is complete: a name missing there
            // is a mistake. Elsewhere the definition may simply be missing
            // from an abridged contract, which lenient toolkits accept.
            diagnostics.push(if namespace == Some(XSD_NS) {
                Diagnostic::error(
                    DiagnosticKind::Unresolved,
                    reference.location.clone(),
                    format!("unknown {} {}", reference.kind.describe(), reference.name),
                )
            } else {
                Diagnostic::warning(
                    DiagnosticKind::Undefined,
                    reference.location.clone(),
                    format!(
                        "unknown {} {} (defined nowhere; handled laxly)",
                        reference.kind.describe(),
                        reference.name
                    ),
                )
            });
        }
        self.references = references;
        self.check_derivations(diagnostics);
        self.check_group_cycles(diagnostics);
    }

    /// Reports model groups and attribute groups that contain themselves
    /// through references (XSD 1.0 forbids such cycles).
    fn check_group_cycles(&self, diagnostics: &mut Vec<Diagnostic>) {
        fn refs_of<'m>(model: &'m ModelGroup, out: &mut Vec<&'m QName>, depth: usize) {
            if depth > MAX_DERIVATION_CHAIN {
                return;
            }
            for particle in &model.particles {
                match &particle.term {
                    Term::GroupRef(name) => out.push(name),
                    Term::Group(inner) => refs_of(inner, out, depth + 1),
                    _ => {}
                }
            }
        }
        let mut names: Vec<&QName> = self.groups.keys().collect();
        names.sort();
        for name in names {
            let mut stack: Vec<&QName> = Vec::new();
            if let Some(model) = self.groups.get(name).and_then(|g| g.model.as_ref()) {
                refs_of(model, &mut stack, 0);
            }
            let mut seen: BTreeSet<&QName> = BTreeSet::new();
            while let Some(next) = stack.pop() {
                if next == name {
                    if let Some(group) = self.groups.get(name) {
                        diagnostics.push(Diagnostic::error(
                            DiagnosticKind::Circular,
                            group.location.clone(),
                            format!("the group {name} contains itself"),
                        ));
                    }
                    break;
                }
                if seen.len() > 10_000 || !seen.insert(next) {
                    continue;
                }
                if let Some(model) = self.groups.get(next).and_then(|g| g.model.as_ref()) {
                    refs_of(model, &mut stack, 0);
                }
            }
        }
        let mut names: Vec<&QName> = self.attribute_groups.keys().collect();
        names.sort();
        for name in names {
            let mut stack: Vec<&QName> = self
                .attribute_groups
                .get(name)
                .map(|g| g.attribute_groups.iter().collect())
                .unwrap_or_default();
            let mut seen: BTreeSet<&QName> = BTreeSet::new();
            while let Some(next) = stack.pop() {
                if next == name {
                    if let Some(group) = self.attribute_groups.get(name) {
                        diagnostics.push(Diagnostic::error(
                            DiagnosticKind::Circular,
                            group.location.clone(),
                            format!("the attribute group {name} contains itself"),
                        ));
                    }
                    break;
                }
                if seen.len() > 10_000 || !seen.insert(next) {
                    continue;
                }
                if let Some(group) = self.attribute_groups.get(next) {
                    stack.extend(group.attribute_groups.iter());
                }
            }
        }
    }

    /// Tells whether a reference of this kind resolves (laxly or not).
    pub(crate) fn resolves(&self, kind: ComponentKind, name: &QName) -> bool {
        let namespace = name.namespace.as_deref();
        let lax = !self.has_namespace(namespace) && is_well_known(namespace);
        match kind {
            ComponentKind::Type => {
                self.types.contains_key(name)
                    || lax
                    || (namespace == Some(XSD_NS)
                        && (name.local == "anyType"
                            || BuiltinType::from_local_name(&name.local).is_some()))
            }
            ComponentKind::Element => self.elements.contains_key(name) || lax,
            ComponentKind::Attribute => {
                self.attributes.contains_key(name)
                    || lax
                    || (namespace == Some(crate::version::XML_NS))
            }
            ComponentKind::Group => self.groups.contains_key(name) || lax,
            ComponentKind::AttributeGroup => self.attribute_groups.contains_key(name) || lax,
        }
    }

    /// The base type of a type definition, when it derives from one.
    pub(crate) fn base_of(def: ResolvedType<'_>) -> Option<&TypeRef> {
        match def {
            ResolvedType::Simple(SimpleType {
                variety: SimpleVariety::Restriction { base, .. },
                ..
            }) => Some(base),
            ResolvedType::Complex(ComplexType {
                content:
                    ComplexContent::Elements {
                        derivation: Some((_, base)),
                        ..
                    }
                    | ComplexContent::Simple { base, .. },
                ..
            }) => Some(base),
            _ => None,
        }
    }

    /// The attribute uses of a complex type (its own, those of its attribute
    /// groups, then those of its base types, a name declared twice kept
    /// once, nearest first) and its attribute wildcard. `resolve` resolves
    /// base types, so callers with their own resolution rules (SOAP-encoded
    /// names) walk the same chain.
    pub(crate) fn attribute_uses<'s>(
        &'s self,
        complex: &'s ComplexType,
        resolve: impl Fn(&TypeRef) -> Option<ResolvedType<'s>>,
    ) -> (Vec<&'s AttributeUse>, Option<&'s Wildcard>) {
        let mut uses: Vec<&AttributeUse> = Vec::new();
        let mut wildcard = None;
        let mut current = Some(complex);
        let mut chain = 0;
        while let Some(t) = current {
            chain += 1;
            if chain > MAX_DERIVATION_CHAIN {
                break;
            }
            let mut own: Vec<&AttributeUse> = t.attributes.iter().collect();
            let mut group_queue: Vec<&QName> = t.attribute_groups.iter().collect();
            let mut seen_groups = 0;
            while let Some(name) = group_queue.pop() {
                seen_groups += 1;
                if seen_groups > MAX_ATTRIBUTE_GROUPS {
                    break;
                }
                if let Some(group) = self.attribute_group(name) {
                    own.extend(group.attributes.iter());
                    group_queue.extend(group.attribute_groups.iter());
                    if wildcard.is_none() {
                        wildcard = group.any_attribute.as_ref();
                    }
                }
            }
            for u in own {
                if !uses.iter().any(|existing| existing.name == u.name) {
                    uses.push(u);
                }
            }
            if wildcard.is_none() {
                wildcard = t.any_attribute.as_ref();
            }
            current = match Self::base_of(ResolvedType::Complex(t)).and_then(&resolve) {
                Some(ResolvedType::Complex(next)) => Some(next),
                _ => None,
            };
        }
        (uses, wildcard)
    }

    /// Reports named types whose derivation chain loops.
    fn check_derivations(&self, diagnostics: &mut Vec<Diagnostic>) {
        let mut names: Vec<&QName> = self.types.keys().collect();
        names.sort();
        for name in names {
            let Some(start) = self.types.get(name) else {
                continue;
            };
            let mut current = Self::view(start);
            for _ in 0..=MAX_DERIVATION_CHAIN {
                let Some(base) = Self::base_of(current) else {
                    break;
                };
                if base == &TypeRef::Named(name.clone()) {
                    diagnostics.push(Diagnostic::error(
                        DiagnosticKind::Circular,
                        start.location().clone(),
                        format!("the type {name} derives from itself"),
                    ));
                    break;
                }
                match self.resolve_type(base) {
                    Some(next) => current = next,
                    None => break,
                }
            }
        }
    }
}
