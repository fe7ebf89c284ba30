//! Questions about the schema that both directions of the codec ask: the
//! element declarations and wildcards a complex type admits, its
//! attribute uses, the type of an element declaration, the built-in root
//! of a simple type, SOAP-encoded array types, and type names.

use std::collections::HashMap;

use crate::qname::QName;
use crate::xsd::builtin::{BuiltinType, XSD_NS};
use crate::xsd::model::{
    AttributeUse, ComplexContent, ComplexType, Derivation, ElementDecl, ModelGroup, Particle,
    SimpleVariety, Term, TypeRef, Wildcard,
};
use crate::xsd::{ResolvedType, SOAP11_ENCODING_NS, SOAP12_ENCODING_NS, SchemaSet};

/// The most steps followed along a derivation chain, group references or
/// substitution groups.
const MAX_CHAIN: usize = 64;

/// The expected type of an element: its resolved type (`None` for
/// `xs:anyType` or unknown), whether it may be nil, and the type's name
/// when it has one (for `xsi:type` and `SOAP-ENC:arrayType`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Declared<'s> {
    pub(crate) ty: Option<ResolvedType<'s>>,
    pub(crate) nillable: bool,
}

impl<'s> Declared<'s> {
    /// Any content (`xs:anyType`), nillable.
    pub(crate) const ANY: Self = Self {
        ty: None,
        nillable: true,
    };
}

/// The element declarations and wildcards a complex type admits, from the
/// whole content model (base types included), in document order.
#[derive(Debug, Default)]
pub(crate) struct ContentMap<'s> {
    pub(crate) elements: Vec<(QName, &'s ElementDecl)>,
    pub(crate) wildcards: Vec<&'s Wildcard>,
}

impl<'s> ContentMap<'s> {
    /// The declaration an element named `name` matches; with `by_local`,
    /// a declaration with the same local name in another namespace also
    /// matches (SOAP-encoded accessors are often qualified either way).
    pub(crate) fn find(&self, name: &QName, by_local: bool) -> Option<&'s ElementDecl> {
        self.elements
            .iter()
            .find(|(n, _)| n == name)
            .or_else(|| {
                by_local
                    .then(|| self.elements.iter().find(|(n, _)| n.local == name.local))
                    .flatten()
            })
            .map(|(_, decl)| *decl)
    }

    /// Whether a wildcard admits an element in `namespace`.
    pub(crate) fn admits(&self, namespace: Option<&str>) -> bool {
        self.wildcards
            .iter()
            .any(|w| w.namespaces.admits(namespace))
    }
}

/// Schema lookups with a cache of content maps.
pub(crate) struct Types<'s> {
    pub(crate) schema: &'s SchemaSet,
    maps: HashMap<*const ComplexType, std::rc::Rc<ContentMap<'s>>>,
}

impl<'s> Types<'s> {
    pub(crate) fn new(schema: &'s SchemaSet) -> Self {
        Self {
            schema,
            maps: HashMap::new(),
        }
    }

    /// Resolves a type name, reading the SOAP encoding's simple types
    /// (`SOAP-ENC:int`…) as the built-in types of the same name.
    pub(crate) fn resolve_name(&self, name: &QName) -> Option<ResolvedType<'s>> {
        if matches!(
            name.namespace.as_deref(),
            Some(SOAP11_ENCODING_NS | SOAP12_ENCODING_NS)
        ) {
            if name.local == "base64" {
                return Some(ResolvedType::Builtin(BuiltinType::Base64Binary));
            }
            if let Some(builtin) = BuiltinType::from_local_name(&name.local) {
                return Some(ResolvedType::Builtin(builtin));
            }
        }
        self.schema.resolve_named_type(name)
    }

    pub(crate) fn resolve(&self, type_ref: &TypeRef) -> Option<ResolvedType<'s>> {
        match type_ref {
            TypeRef::Named(name) => self.resolve_name(name),
            TypeRef::Anonymous(_) => self.schema.resolve_type(type_ref),
        }
    }

    /// The expected type of an element declaration: its own type, else
    /// its substitution group head's, else `xs:anyType`.
    pub(crate) fn declared(&self, decl: &'s ElementDecl) -> Declared<'s> {
        let mut current = decl;
        for _ in 0..MAX_CHAIN {
            if let Some(type_ref) = &current.type_ref {
                return Declared {
                    ty: self.resolve(type_ref).filter(|t| !is_any(*t)),
                    nillable: decl.nillable,
                };
            }
            match current
                .substitution_group
                .as_ref()
                .and_then(|head| self.schema.element(head))
            {
                Some(head) => current = head,
                None => break,
            }
        }
        Declared {
            ty: None,
            nillable: decl.nillable,
        }
    }

    /// The content map of a complex type (cached).
    pub(crate) fn content(&mut self, complex: &'s ComplexType) -> std::rc::Rc<ContentMap<'s>> {
        let key: *const ComplexType = complex;
        if let Some(map) = self.maps.get(&key) {
            return map.clone();
        }
        let mut map = ContentMap::default();
        self.collect_type(complex, &mut map, 0);
        let map = std::rc::Rc::new(map);
        self.maps.insert(key, map.clone());
        map
    }

    fn collect_type(&self, complex: &'s ComplexType, map: &mut ContentMap<'s>, depth: usize) {
        if depth > MAX_CHAIN {
            return;
        }
        if let ComplexContent::Elements {
            derivation,
            particle,
        } = &complex.content
        {
            if let Some((Derivation::Extension, base)) = derivation
                && let Some(ResolvedType::Complex(base)) = self.resolve(base)
            {
                self.collect_type(base, map, depth + 1);
            }
            if let Some(particle) = particle {
                self.collect_particle(particle, map, depth + 1);
            }
        }
    }

    fn collect_particle(&self, particle: &'s Particle, map: &mut ContentMap<'s>, depth: usize) {
        if depth > MAX_CHAIN {
            return;
        }
        match &particle.term {
            Term::Element(decl) => self.add_element(decl.name.clone(), decl, map, depth),
            Term::ElementRef(name) => {
                if let Some(decl) = self.schema.element(name) {
                    self.add_element(name.clone(), decl, map, depth);
                }
            }
            Term::Group(group) => self.collect_group(group, map, depth + 1),
            Term::GroupRef(name) => {
                if let Some(group) = self.schema.group(name).and_then(|g| g.model.as_ref()) {
                    self.collect_group(group, map, depth + 1);
                }
            }
            Term::Any(wildcard) => map.wildcards.push(wildcard),
        }
    }

    fn collect_group(&self, group: &'s ModelGroup, map: &mut ContentMap<'s>, depth: usize) {
        for particle in &group.particles {
            self.collect_particle(particle, map, depth);
        }
    }

    fn add_element(
        &self,
        name: QName,
        decl: &'s ElementDecl,
        map: &mut ContentMap<'s>,
        depth: usize,
    ) {
        if depth > MAX_CHAIN || map.elements.len() > 10_000 {
            return;
        }
        if !map.elements.iter().any(|(n, _)| *n == name) {
            map.elements.push((name.clone(), decl));
        }
        for member in self.schema.substitution_group(&name) {
            if let Some(member_decl) = self.schema.element(member) {
                self.add_element(member.clone(), member_decl, map, depth + 1);
            }
        }
    }

    /// The attribute uses (own, from attribute groups and from base
    /// types) and the attribute wildcard of a complex type.
    pub(crate) fn attributes(
        &self,
        complex: &'s ComplexType,
    ) -> (Vec<&'s AttributeUse>, Option<&'s Wildcard>) {
        self.schema
            .attribute_uses(complex, |base| self.resolve(base))
    }

    /// The simple type of an attribute use (a reference takes the global
    /// attribute's type).
    pub(crate) fn attribute_type(&self, attribute: &'s AttributeUse) -> Option<ResolvedType<'s>> {
        let type_ref = if attribute.is_ref {
            self.schema
                .attribute(&attribute.name)
                .and_then(|g| g.type_ref.as_ref())
        } else {
            attribute.type_ref.as_ref()
        };
        type_ref.and_then(|t| self.resolve(t))
    }

    /// When `complex` is a SOAP-encoded array type (a restriction of
    /// `SOAP-ENC:Array`), its declared item type (`None` inside when the
    /// schema does not say).
    pub(crate) fn array_item(&self, complex: &'s ComplexType) -> Option<Option<QName>> {
        let ComplexContent::Elements {
            derivation: Some((_, TypeRef::Named(base))),
            particle,
        } = &complex.content
        else {
            return None;
        };
        if !is_soap_array(base) {
            return None;
        }
        let from_attribute = complex
            .attributes
            .iter()
            .find_map(|a| a.array_type.as_ref())
            .filter(|a| a.dimensions.matches('[').count() == 1 && !a.dimensions.contains(','))
            .map(|a| a.item.clone());
        let from_particle = || {
            let particle = particle.as_ref()?;
            let element = match &particle.term {
                Term::Group(group) => group.particles.first().map(|p| &p.term),
                term => Some(term),
            }?;
            match element {
                Term::Element(decl) => match &decl.type_ref {
                    Some(TypeRef::Named(name)) => Some(name.clone()),
                    _ => None,
                },
                _ => None,
            }
        };
        Some(from_attribute.or_else(from_particle))
    }

    /// Tells whether a type is, or restricts, `SOAP-ENC:Array`, and gives
    /// its declared item type.
    pub(crate) fn array_of(&self, ty: Option<ResolvedType<'s>>) -> Option<Option<QName>> {
        match ty? {
            ResolvedType::Complex(complex) => self.array_item(complex),
            _ => None,
        }
    }
}

/// Tells whether `name` is the SOAP encoding's `Array` type.
pub(crate) fn is_soap_array(name: &QName) -> bool {
    name.local == "Array"
        && matches!(
            name.namespace.as_deref(),
            Some(SOAP11_ENCODING_NS | SOAP12_ENCODING_NS)
        )
}

/// Tells whether a resolved type accepts anything.
pub(crate) fn is_any(ty: ResolvedType<'_>) -> bool {
    matches!(ty, ResolvedType::AnyType | ResolvedType::Lax)
}

/// The name of a resolved type, when it has one.
pub(crate) fn type_name(ty: ResolvedType<'_>) -> Option<QName> {
    match ty {
        ResolvedType::AnyType => Some(QName::new(XSD_NS, "anyType")),
        ResolvedType::Builtin(builtin) => Some(QName::new(XSD_NS, builtin.local_name())),
        ResolvedType::Simple(t) => t.name.clone(),
        ResolvedType::Complex(t) => t.name.clone(),
        ResolvedType::Lax => None,
    }
}

/// What a simple type's restriction chain bottoms out in.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Root<'s> {
    /// A built-in type.
    Builtin(BuiltinType),
    /// A list of the item type.
    List(&'s TypeRef),
    /// A union of the member types.
    Union(&'s [TypeRef]),
    /// Anything (`xs:anySimpleType`, a lax type).
    Any,
}

impl<'s> Types<'s> {
    /// The root of a simple type, or of a complex type's simple content;
    /// `None` for element content.
    pub(crate) fn root(&self, ty: ResolvedType<'s>) -> Option<Root<'s>> {
        let mut current = ty;
        for _ in 0..=MAX_CHAIN {
            match current {
                ResolvedType::AnyType | ResolvedType::Lax => return Some(Root::Any),
                ResolvedType::Builtin(BuiltinType::AnySimpleType) => return Some(Root::Any),
                ResolvedType::Builtin(builtin) => return Some(Root::Builtin(builtin)),
                ResolvedType::Simple(t) => match &t.variety {
                    SimpleVariety::Restriction { base, .. } => current = self.resolve(base)?,
                    SimpleVariety::List { item } => return Some(Root::List(item)),
                    SimpleVariety::Union { members } => return Some(Root::Union(members)),
                },
                ResolvedType::Complex(t) => match &t.content {
                    ComplexContent::Simple { base, .. } => current = self.resolve(base)?,
                    ComplexContent::Elements { .. } => return None,
                },
            }
        }
        Some(Root::Any)
    }
}
