//! Sample instances: a schema-valid element for a global element
//! declaration, as mock services answer (SoapUI does the same).
//!
//! The generator writes each element with the smallest content its type
//! allows, plus one occurrence of each optional particle while the nesting
//! is shallow, so that a sample shows the shape of the data:
//!
//! - a simple value is the first enumeration value, else a candidate made
//!   for the built-in type, the bounds, the length facets or the patterns
//!   (a simple generator follows the pattern's first alternatives), and the
//!   first candidate that [`SchemaSet::validate_simple`] accepts is kept;
//! - `fixed` and `default` values are used as written;
//! - a sequence or `all` gives each particle in order, a choice its first
//!   branch, a particle `max(minOccurs, 1)` occurrences (only `minOccurs`
//!   past [`SampleLimits::optional_depth`]);
//! - an abstract element is replaced by the first concrete member of its
//!   substitution group, an abstract type by the first concrete type
//!   derived from it, written with `xsi:type`;
//! - wildcards (`xs:any`) give nothing, `xs:anyType` and lax types an
//!   empty element;
//! - recursion is bounded by [`SampleLimits::max_depth`] and the size by
//!   [`SampleLimits::max_elements`].
//!
//! Elements are written with default namespace declarations (`xmlns=`)
//! where their namespace changes, so a sample needs no prefixes except for
//! qualified attributes and `xsi:type`.

use std::collections::BTreeSet;

use crate::qname::QName;
use crate::wsdl11::{Definitions, OperationInfo, Style};

use super::builtin::BuiltinType;
use super::instance::XSI_NS;
use super::model::{
    AttributeUse, AttributeUseKind, ComplexContent, ComplexType, Compositor, Derivation,
    ElementDecl, Facets, ModelGroup, NamespaceConstraint, Particle, ProcessContents, SimpleVariety,
    Term, TypeDef, TypeRef, Wildcard,
};
use super::set::{MAX_DERIVATION_CHAIN, ResolvedType, SchemaSet};

/// Bounds on one sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleLimits {
    /// The deepest element nesting written; deeper required content is
    /// left out (the sample is then incomplete).
    pub max_depth: usize,
    /// Below this depth optional particles are written once; deeper, only
    /// what `minOccurs` requires.
    pub optional_depth: usize,
    /// The most elements in one sample.
    pub max_elements: usize,
}

impl SampleLimits {
    /// The defaults: depth 32, optional content down to depth 6, 2000
    /// elements.
    pub const DEFAULT: Self = Self {
        max_depth: 32,
        optional_depth: 6,
        max_elements: 2000,
    };
}

impl Default for SampleLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The namespace of the elements written for wildcards that admit any
/// namespace (or any other than the target's).
const SAMPLE_NS: &str = "urn:ithaca:sample";

/// The most chained references (attribute groups, model groups, derived
/// types) followed while building one sample.
const MAX_REFERENCES: usize = 64;

struct Writer<'s> {
    schema: &'s SchemaSet,
    limits: SampleLimits,
    out: String,
    elements: usize,
}

impl SchemaSet {
    /// A sample instance of the global element `name`, or `None` when no
    /// such element is declared. Simple values are the first enumeration
    /// value or a candidate (from the built-in type, bounds, lengths and
    /// patterns) that the simple-type validator accepts; a choice gives
    /// its first branch; optional particles appear once while shallow;
    /// abstract elements and types are replaced by a concrete substitute
    /// (types with `xsi:type`); required wildcards get one element of an
    /// admitted namespace; recursion and size are bounded by `limits`.
    pub fn sample_element(&self, name: &QName, limits: &SampleLimits) -> Option<String> {
        let decl = self.element(name)?;
        let mut writer = Writer {
            schema: self,
            limits: *limits,
            out: String::new(),
            elements: 0,
        };
        writer.element(decl, None, None, 0);
        Some(writer.out)
    }

    /// A sample element named `name` (written without a namespace when
    /// `name` has none) whose content is of type `type_ref`, as rpc-style
    /// accessors and `type=` message parts are written.
    pub fn sample_typed(&self, name: &QName, type_ref: &TypeRef, limits: &SampleLimits) -> String {
        let decl = ElementDecl {
            name: name.clone(),
            type_ref: Some(type_ref.clone()),
            nillable: false,
            is_abstract: false,
            substitution_group: None,
            default: None,
            fixed: None,
            location: crate::diagnostic::Location::default(),
        };
        let mut writer = Writer {
            schema: self,
            limits: *limits,
            out: String::new(),
            elements: 0,
        };
        writer.element(&decl, None, None, 0);
        writer.out
    }

    /// A value valid for the simple type `type_ref` (or the simple content
    /// of a complex type).
    pub fn sample_value(&self, type_ref: &TypeRef) -> String {
        let writer = Writer {
            schema: self,
            limits: SampleLimits::DEFAULT,
            out: String::new(),
            elements: 0,
        };
        writer.simple_value(type_ref)
    }
}

impl SchemaSet {
    /// A sample of the SOAP body content of one operation's input
    /// (`output == false`) or output: for document style the sample of
    /// each body part (its element, or an unqualified element named after
    /// the part for a `type=` part), for rpc style the operation wrapper
    /// (prefix `m`, or none when it has no namespace) with one unqualified
    /// accessor per part. Empty when the
    /// operation has no such message.
    pub fn sample_body(
        &self,
        definitions: &Definitions,
        operation: &OperationInfo,
        output: bool,
        limits: &SampleLimits,
    ) -> String {
        let body = if output {
            operation.output.as_ref()
        } else {
            operation.input.as_ref()
        };
        let Some(body) = body else {
            return String::new();
        };
        let Some(message) = definitions.messages.get(&body.message) else {
            return String::new();
        };
        let mut parts = String::new();
        for part in body.parts.iter().filter_map(|name| message.part(name)) {
            if let Some(element) = &part.element {
                match self.sample_element(element, limits) {
                    Some(sample) => parts.push_str(&sample),
                    None => {
                        let mut writer = Writer {
                            schema: self,
                            limits: *limits,
                            out: String::new(),
                            elements: 0,
                        };
                        writer.empty_element(element, None);
                        parts.push_str(&writer.out);
                    }
                }
            } else if let Some(type_name) = &part.type_name {
                let accessor = QName {
                    namespace: None,
                    local: part.name.clone(),
                };
                parts.push_str(&self.sample_typed(
                    &accessor,
                    &TypeRef::Named(type_name.clone()),
                    limits,
                ));
            }
        }
        match (operation.style, &body.body_name) {
            (Style::Rpc, Some(wrapper)) => match &wrapper.namespace {
                Some(namespace) => {
                    let mut out = String::from("<m:");
                    out.push_str(&wrapper.local);
                    out.push_str(" xmlns:m=\"");
                    escape(namespace, &mut out);
                    out.push_str("\">");
                    out.push_str(&parts);
                    out.push_str("</m:");
                    out.push_str(&wrapper.local);
                    out.push('>');
                    out
                }
                // A wrapper in no namespace (no `namespace` on soap:body).
                None => format!("<{} xmlns=\"\">{parts}</{}>", wrapper.local, wrapper.local),
            },
            _ => parts,
        }
    }
}

impl<'s> Writer<'s> {
    /// Writes one element. `parent_ns` is the default namespace in scope;
    /// `name_override` names the element when it stands for another
    /// (substitution).
    fn element(
        &mut self,
        decl: &'s ElementDecl,
        parent_ns: Option<&str>,
        name_override: Option<&QName>,
        depth: usize,
    ) {
        if depth > self.limits.max_depth || self.elements >= self.limits.max_elements {
            return;
        }
        // An abstract element stands for a concrete member of its group.
        let decl = if decl.is_abstract {
            match self.concrete_member(&decl.name) {
                Some(member) => member,
                None => decl,
            }
        } else {
            decl
        };
        self.elements += 1;
        let name = name_override.unwrap_or(&decl.name);
        let type_ref = self.type_of(decl);
        let resolved = type_ref.as_ref().and_then(|t| self.schema.resolve_type(t));
        // An abstract complex type is written as a concrete derived type.
        let (resolved, xsi_type) = match resolved {
            Some(ResolvedType::Complex(complex)) if complex.is_abstract => {
                match complex.name.as_ref().and_then(|n| self.concrete_derived(n)) {
                    Some((type_name, derived)) => {
                        (Some(ResolvedType::Complex(derived)), Some(type_name))
                    }
                    None => (resolved, None),
                }
            }
            other => (other, None),
        };
        self.out.push('<');
        self.out.push_str(&name.local);
        let namespace = name.namespace.as_deref();
        if namespace != parent_ns {
            self.out.push_str(" xmlns=\"");
            escape(namespace.unwrap_or(""), &mut self.out);
            self.out.push('"');
        }
        if let Some(type_name) = &xsi_type {
            self.out.push_str(" xmlns:xsi=\"");
            self.out.push_str(XSI_NS);
            self.out.push('"');
            match &type_name.namespace {
                Some(ns) => {
                    self.out.push_str(" xmlns:st=\"");
                    escape(ns, &mut self.out);
                    self.out.push_str("\" xsi:type=\"st:");
                }
                None => self.out.push_str(" xsi:type=\""),
            }
            self.out.push_str(&type_name.local);
            self.out.push('"');
        }
        if let Some(ResolvedType::Complex(complex)) = resolved {
            self.attributes(complex);
        }
        self.out.push('>');
        let fixed = decl.fixed.as_ref().or(decl.default.as_ref());
        match resolved {
            Some(ResolvedType::Complex(complex)) => {
                self.complex_content(complex, namespace, depth, fixed)
            }
            Some(ResolvedType::Builtin(_) | ResolvedType::Simple(_)) => {
                let value = match (fixed, &type_ref) {
                    (Some(value), _) => value.clone(),
                    (None, Some(type_ref)) => self.simple_value(type_ref),
                    (None, None) => String::new(),
                };
                escape(&value, &mut self.out);
            }
            Some(ResolvedType::AnyType | ResolvedType::Lax) | None => {
                if let Some(value) = fixed {
                    escape(value, &mut self.out);
                }
            }
        }
        self.out.push_str("</");
        self.out.push_str(&name.local);
        self.out.push('>');
    }

    /// The type of an element: its own, else its substitution group
    /// head's, else `xs:anyType` (`None`).
    fn type_of(&self, decl: &ElementDecl) -> Option<TypeRef> {
        let mut current = decl;
        for _ in 0..MAX_REFERENCES {
            if let Some(type_ref) = &current.type_ref {
                return Some(type_ref.clone());
            }
            current = self.schema.element(current.substitution_group.as_ref()?)?;
        }
        None
    }

    /// The first non-abstract member of the substitution group of `head`
    /// (searching members' own groups too), by name.
    fn concrete_member(&self, head: &QName) -> Option<&'s ElementDecl> {
        let mut queue = vec![head.clone()];
        let mut seen = BTreeSet::new();
        while let Some(next) = queue.pop() {
            if seen.len() > MAX_REFERENCES || !seen.insert(next.clone()) {
                continue;
            }
            for member in self.schema.substitution_group(&next) {
                let Some(decl) = self.schema.element(member) else {
                    continue;
                };
                if !decl.is_abstract {
                    return Some(decl);
                }
                queue.push(member.clone());
            }
        }
        None
    }

    /// The first named, non-abstract complex type (by name) that derives
    /// from the type `base`.
    fn concrete_derived(&self, base: &QName) -> Option<(QName, &'s ComplexType)> {
        let mut candidates: Vec<(&QName, &ComplexType)> = self
            .schema
            .types
            .iter()
            .filter_map(|(name, def)| match def {
                TypeDef::Complex(complex) if !complex.is_abstract => Some((name, complex)),
                _ => None,
            })
            .collect();
        candidates.sort_by(|a, b| a.0.cmp(b.0));
        candidates
            .into_iter()
            .find(|(_, complex)| self.derives_from(ResolvedType::Complex(complex), base))
            .map(|(name, complex)| (name.clone(), complex))
    }

    fn derives_from(&self, start: ResolvedType<'s>, base: &QName) -> bool {
        let mut current = start;
        for _ in 0..=MAX_DERIVATION_CHAIN {
            let Some(next) = SchemaSet::base_of(current) else {
                return false;
            };
            if next == &TypeRef::Named(base.clone()) {
                return true;
            }
            match self.schema.resolve_type(next) {
                Some(resolved) => current = resolved,
                None => return false,
            }
        }
        false
    }

    /// Writes the required attributes of a complex type and its bases.
    fn attributes(&mut self, complex: &'s ComplexType) {
        let mut uses: Vec<&'s AttributeUse> = Vec::new();
        let mut prohibited: BTreeSet<&QName> = BTreeSet::new();
        let mut current = Some(complex);
        for _ in 0..=MAX_DERIVATION_CHAIN {
            let Some(complex) = current else { break };
            for attribute in &complex.attributes {
                if attribute.use_kind == AttributeUseKind::Prohibited {
                    prohibited.insert(&attribute.name);
                } else {
                    uses.push(attribute);
                }
            }
            self.group_attributes(&complex.attribute_groups, &mut uses);
            current = match SchemaSet::base_of(ResolvedType::Complex(complex))
                .and_then(|base| self.schema.resolve_type(base))
            {
                Some(ResolvedType::Complex(base)) => Some(base),
                _ => None,
            };
        }
        let mut written: BTreeSet<&QName> = BTreeSet::new();
        let mut prefixes = 0;
        for attribute in uses {
            if attribute.use_kind != AttributeUseKind::Required
                || prohibited.contains(&attribute.name)
                || !written.insert(&attribute.name)
            {
                continue;
            }
            let global = attribute
                .is_ref
                .then(|| self.schema.attribute(&attribute.name))
                .flatten();
            let value = attribute
                .fixed
                .as_ref()
                .or(attribute.default.as_ref())
                .or(global.and_then(|g| g.fixed.as_ref().or(g.default.as_ref())))
                .cloned()
                .unwrap_or_else(|| {
                    attribute
                        .type_ref
                        .as_ref()
                        .or(global.and_then(|g| g.type_ref.as_ref()))
                        .map_or_else(|| "x".to_owned(), |t| self.simple_value(t))
                });
            self.out.push(' ');
            match attribute.name.namespace.as_deref() {
                None => {}
                Some(crate::version::XML_NS) => self.out.push_str("xml:"),
                Some(ns) => {
                    self.out.push_str(&format!("xmlns:a{prefixes}=\""));
                    escape(ns, &mut self.out);
                    self.out.push_str(&format!("\" a{prefixes}:"));
                    prefixes += 1;
                }
            }
            self.out.push_str(&attribute.name.local);
            self.out.push_str("=\"");
            escape(&value, &mut self.out);
            self.out.push('"');
        }
    }

    fn group_attributes(&self, groups: &'s [QName], uses: &mut Vec<&'s AttributeUse>) {
        let mut queue: Vec<&QName> = groups.iter().collect();
        let mut seen = BTreeSet::new();
        while let Some(name) = queue.pop() {
            if seen.len() > MAX_REFERENCES || !seen.insert(name) {
                continue;
            }
            if let Some(group) = self.schema.attribute_group(name) {
                uses.extend(
                    group
                        .attributes
                        .iter()
                        .filter(|a| a.use_kind != AttributeUseKind::Prohibited),
                );
                queue.extend(group.attribute_groups.iter());
            }
        }
    }

    /// Writes the content of a complex type.
    fn complex_content(
        &mut self,
        complex: &'s ComplexType,
        namespace: Option<&str>,
        depth: usize,
        fixed: Option<&String>,
    ) {
        match &complex.content {
            ComplexContent::Simple { .. } => {
                let value = match fixed {
                    Some(value) => value.clone(),
                    None => self.simple_content_value(complex),
                };
                escape(&value, &mut self.out);
            }
            ComplexContent::Elements { .. } => {
                // Extensions add their particle after the base's.
                let mut chain: Vec<&'s ComplexType> = vec![complex];
                let mut current = complex;
                for _ in 0..MAX_DERIVATION_CHAIN {
                    match &current.content {
                        ComplexContent::Elements {
                            derivation: Some((Derivation::Extension, base)),
                            ..
                        } => match self.schema.resolve_type(base) {
                            Some(ResolvedType::Complex(base)) => {
                                chain.push(base);
                                current = base;
                            }
                            _ => break,
                        },
                        _ => break,
                    }
                }
                for step in chain.into_iter().rev() {
                    if let ComplexContent::Elements {
                        particle: Some(particle),
                        ..
                    } = &step.content
                    {
                        self.particle(particle, namespace, depth + 1, 0);
                    }
                }
            }
        }
    }

    /// The value of a complex type with simple content: its enumeration,
    /// else a value of the simple type at the root of its derivation.
    fn simple_content_value(&self, complex: &'s ComplexType) -> String {
        let mut current = complex;
        for _ in 0..=MAX_DERIVATION_CHAIN {
            let ComplexContent::Simple { base, facets, .. } = &current.content else {
                return String::new();
            };
            if let Some(first) = facets.enumeration.first() {
                return first.clone();
            }
            match self.schema.resolve_type(base) {
                Some(ResolvedType::Complex(next)) => current = next,
                Some(_) => return self.simple_value(base),
                None => return String::new(),
            }
        }
        String::new()
    }

    /// Writes a particle: `max(minOccurs, 1)` occurrences while shallow,
    /// else `minOccurs`.
    fn particle(
        &mut self,
        particle: &'s Particle,
        namespace: Option<&str>,
        depth: usize,
        hops: usize,
    ) {
        let min = usize::try_from(particle.occurs.min).unwrap_or(usize::MAX);
        let allowed = particle.occurs.max != Some(0);
        // Wildcards are written only as often as they must be.
        let optional = !matches!(particle.term, Term::Any(_));
        let count = if depth <= self.limits.optional_depth && allowed && optional {
            min.max(1)
        } else {
            min
        }
        .min(self.limits.max_elements);
        for _ in 0..count {
            if self.elements >= self.limits.max_elements {
                return;
            }
            self.term(&particle.term, namespace, depth, hops);
        }
    }

    fn term(&mut self, term: &'s Term, namespace: Option<&str>, depth: usize, hops: usize) {
        match term {
            Term::Element(decl) => self.element(decl, namespace, None, depth),
            Term::ElementRef(name) => match self.schema.element(name) {
                Some(decl) => self.element(decl, namespace, None, depth),
                // Defined nowhere (or in a namespace not loaded): the
                // validator takes it laxly, so an empty element will do.
                None => self.empty_element(name, namespace),
            },
            Term::Group(group) => self.group(group, namespace, depth, hops),
            Term::GroupRef(name) => {
                if hops < MAX_REFERENCES
                    && let Some(model) = self.schema.group(name).and_then(|g| g.model.as_ref())
                {
                    self.group(model, namespace, depth, hops + 1);
                }
            }
            Term::Any(wildcard) => self.wildcard(wildcard, namespace, depth),
        }
    }

    /// Writes one element a required wildcard admits: a global element of
    /// an admitted namespace when the wildcard is strict, else an empty
    /// element in the first admitted namespace (or a placeholder one).
    fn wildcard(&mut self, wildcard: &'s Wildcard, namespace: Option<&str>, depth: usize) {
        let admitted: Option<Option<&str>> = match &wildcard.namespaces {
            NamespaceConstraint::List(list) => list.first().map(Option::as_deref),
            NamespaceConstraint::Any | NamespaceConstraint::Other(_) => None,
        };
        if wildcard.process_contents == ProcessContents::Strict
            && let Some(target) = admitted
        {
            let mut globals: Vec<&'s ElementDecl> = self
                .schema
                .elements
                .values()
                .filter(|e| e.name.namespace.as_deref() == target && !e.is_abstract)
                .collect();
            globals.sort_by(|a, b| a.name.cmp(&b.name));
            if let Some(first) = globals.first() {
                self.element(first, namespace, None, depth);
                return;
            }
        }
        let name = QName {
            namespace: match admitted {
                Some(ns) => ns.map(str::to_owned),
                None => Some(SAMPLE_NS.to_owned()),
            },
            local: "any".to_owned(),
        };
        self.empty_element(&name, namespace);
    }

    fn empty_element(&mut self, name: &QName, parent_ns: Option<&str>) {
        self.elements += 1;
        self.out.push('<');
        self.out.push_str(&name.local);
        if name.namespace.as_deref() != parent_ns {
            self.out.push_str(" xmlns=\"");
            escape(name.namespace.as_deref().unwrap_or(""), &mut self.out);
            self.out.push('"');
        }
        self.out.push_str("/>");
    }

    fn group(&mut self, group: &'s ModelGroup, namespace: Option<&str>, depth: usize, hops: usize) {
        match group.compositor {
            Compositor::Sequence | Compositor::All => {
                for particle in &group.particles {
                    self.particle(particle, namespace, depth, hops);
                }
            }
            Compositor::Choice => {
                if let Some(first) = group.particles.first() {
                    self.particle(first, namespace, depth, hops);
                }
            }
        }
    }

    /// A value the simple type accepts: the first candidate that
    /// validates, else the first candidate.
    fn simple_value(&self, type_ref: &TypeRef) -> String {
        let candidates = self.candidates(type_ref, 0);
        candidates
            .iter()
            .find(|value| self.schema.validate_simple(type_ref, value).is_ok())
            .or(candidates.first())
            .cloned()
            .unwrap_or_default()
    }

    /// Candidate values for a simple type, most specific first.
    fn candidates(&self, type_ref: &TypeRef, nesting: usize) -> Vec<String> {
        let mut out = Vec::new();
        let mut steps: Vec<&Facets> = Vec::new();
        let mut current = self.schema.resolve_type(type_ref);
        let mut root: Vec<String> = Vec::new();
        let mut root_builtin = None;
        let mut is_list = false;
        for _ in 0..=MAX_DERIVATION_CHAIN {
            match current {
                Some(ResolvedType::Builtin(builtin)) => {
                    root = builtin_samples(builtin);
                    root_builtin = Some(builtin);
                    is_list = matches!(
                        builtin,
                        BuiltinType::NmTokens | BuiltinType::IdRefs | BuiltinType::Entities
                    );
                    break;
                }
                Some(ResolvedType::Simple(simple)) => match &simple.variety {
                    SimpleVariety::Restriction { base, facets } => {
                        steps.push(facets);
                        current = self.schema.resolve_type(base);
                    }
                    SimpleVariety::List { item } => {
                        is_list = true;
                        if nesting < 4 {
                            root = self.candidates(item, nesting + 1);
                        }
                        break;
                    }
                    SimpleVariety::Union { members } => {
                        if nesting < 4 {
                            for member in members {
                                root.extend(self.candidates(member, nesting + 1));
                            }
                        }
                        break;
                    }
                },
                Some(ResolvedType::Complex(complex)) => match &complex.content {
                    ComplexContent::Simple { base, facets, .. } => {
                        steps.push(facets);
                        current = self.schema.resolve_type(base);
                    }
                    ComplexContent::Elements { .. } => break,
                },
                Some(ResolvedType::AnyType | ResolvedType::Lax) | None => {
                    root = vec!["x".to_owned()];
                    break;
                }
            }
        }
        // The most derived enumeration lists every allowed value.
        if let Some(facets) = steps.iter().find(|f| !f.enumeration.is_empty()) {
            out.extend(facets.enumeration.iter().cloned());
        }
        for facets in &steps {
            for pattern in &facets.patterns {
                out.extend(pattern_sample(pattern.as_str()));
            }
            for bound in [&facets.min_inclusive, &facets.max_inclusive]
                .into_iter()
                .flatten()
            {
                out.push(bound.clone());
            }
            for bound in [&facets.min_exclusive, &facets.max_exclusive]
                .into_iter()
                .flatten()
            {
                out.extend(nudge(bound));
            }
        }
        out.extend(root.iter().cloned());
        // Fit the length facets: pad or cut the root candidates.
        let length = steps.iter().find_map(|f| f.length);
        let min = steps.iter().find_map(|f| f.min_length);
        let max = steps.iter().find_map(|f| f.max_length);
        let total = steps.iter().find_map(|f| f.total_digits);
        if let Some(target) = length.or(min).or(max) {
            let target = usize::try_from(target.min(4096)).unwrap_or(1);
            // Binary lengths count octets; list lengths count items.
            match root_builtin {
                Some(BuiltinType::HexBinary) => out.push("00".repeat(target)),
                Some(BuiltinType::Base64Binary) => out.push(base64_zeros(target)),
                _ => {}
            }
            if is_list && let Some(item) = root.first() {
                out.push(vec![item.as_str(); target.max(1)].join(" "));
            }
            for candidate in root.iter().take(2) {
                let mut fitted: String = candidate.chars().cycle().take(target).collect();
                if candidate.is_empty() {
                    fitted = "a".repeat(target);
                }
                out.push(fitted);
            }
            out.push("1".repeat(target.max(1)));
        }
        if let Some(digits) = total
            && digits > 0
        {
            out.push("1".to_owned());
        }
        out
    }
}

/// Sample values of a built-in type, the plainest first.
fn builtin_samples(builtin: BuiltinType) -> Vec<String> {
    use BuiltinType as B;
    let values: &[&str] = match builtin {
        B::AnySimpleType | B::String | B::NormalizedString | B::Token => &["sample", "a"],
        B::Boolean => &["true"],
        B::Decimal | B::Float | B::Double => &["1.5", "1", "0"],
        B::Duration => &["P1D"],
        B::DateTime => &["2024-01-01T00:00:00Z"],
        B::Time => &["12:00:00Z"],
        B::Date => &["2024-01-01"],
        B::GYearMonth => &["2024-01"],
        B::GYear => &["2024"],
        B::GMonthDay => &["--01-01"],
        B::GDay => &["---01"],
        B::GMonth => &["--01"],
        B::HexBinary => &["00", ""],
        B::Base64Binary => &["AA==", ""],
        B::AnyUri => &["http://example.com/", "a"],
        B::QName | B::Notation => &["sample"],
        B::Language => &["en"],
        B::NmToken | B::NmTokens | B::Name | B::NcName => &["sample", "a"],
        B::Id | B::IdRef | B::IdRefs | B::Entity | B::Entities => &["id1"],
        B::Integer | B::Long | B::Int | B::Short | B::Byte => &["1", "0", "-1"],
        B::NonNegativeInteger
        | B::UnsignedLong
        | B::UnsignedInt
        | B::UnsignedShort
        | B::UnsignedByte
        | B::PositiveInteger => &["1", "0"],
        B::NonPositiveInteger => &["0", "-1"],
        B::NegativeInteger => &["-1"],
    };
    values.iter().map(|v| (*v).to_owned()).collect()
}

/// The Base64 form of `octets` zero bytes.
fn base64_zeros(octets: usize) -> String {
    let mut out = "AAAA".repeat(octets / 3);
    match octets % 3 {
        1 => out.push_str("AA=="),
        2 => out.push_str("AAA="),
        _ => {}
    }
    out
}

/// Values just inside an exclusive bound: one more and one less for
/// integers, the bound plus and minus a small fraction otherwise.
fn nudge(bound: &str) -> Vec<String> {
    if let Ok(n) = bound.trim().parse::<i128>() {
        return vec![
            n.saturating_add(1).to_string(),
            n.saturating_sub(1).to_string(),
        ];
    }
    if let Ok(x) = bound.trim().parse::<f64>()
        && x.is_finite()
    {
        let step = (x.abs() * 1e-6).max(1e-6);
        return vec![format!("{}", x + step), format!("{}", x - step)];
    }
    Vec::new()
}

/// The longest string a pattern sample may have.
const MAX_PATTERN_SAMPLE: usize = 256;

/// A string matching the pattern's first alternatives: literals as
/// written, classes by a member, each quantified atom its minimum number
/// of times (once for `+`). `None` when the pattern uses what this simple
/// generator does not follow; the caller then tries other candidates.
fn pattern_sample(pattern: &str) -> Option<String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut pos = 0;
    let out = sample_branch(&chars, &mut pos, 0)?;
    (out.chars().count() <= MAX_PATTERN_SAMPLE).then_some(out)
}

/// Samples a branch up to `|` or `)`; skips the other alternatives.
fn sample_branch(chars: &[char], pos: &mut usize, depth: usize) -> Option<String> {
    if depth > 16 {
        return None;
    }
    let mut out = String::new();
    while let Some(&c) = chars.get(*pos) {
        if c == ')' {
            break;
        }
        if c == '|' {
            // Skip the other alternatives of this group.
            let mut level = 0usize;
            while let Some(&c) = chars.get(*pos) {
                match c {
                    '\\' => *pos += 1,
                    '[' => {
                        skip_class(chars, pos)?;
                        continue;
                    }
                    '(' => level += 1,
                    ')' if level == 0 => break,
                    ')' => level -= 1,
                    _ => {}
                }
                *pos += 1;
            }
            break;
        }
        let atom = match c {
            '(' => {
                *pos += 1;
                if chars.get(*pos) == Some(&'?') {
                    return None;
                }
                let inner = sample_branch(chars, pos, depth + 1)?;
                if chars.get(*pos) != Some(&')') {
                    return None;
                }
                *pos += 1;
                inner
            }
            '[' => {
                let member = class_member(chars, *pos)?;
                skip_class(chars, pos)?;
                member.to_string()
            }
            '\\' => {
                *pos += 1;
                let escaped = *chars.get(*pos)?;
                *pos += 1;
                match escaped {
                    'd' => "1".to_owned(),
                    'w' | 'c' | 'i' | 'p' => {
                        if escaped == 'p' {
                            skip_braces(chars, pos)?;
                        }
                        "a".to_owned()
                    }
                    's' => " ".to_owned(),
                    'n' => "\n".to_owned(),
                    't' => "\t".to_owned(),
                    'r' => "\r".to_owned(),
                    'D' | 'W' | 'S' | 'C' | 'I' | 'P' => {
                        if escaped == 'P' {
                            skip_braces(chars, pos)?;
                        }
                        "-".to_owned()
                    }
                    other => other.to_string(),
                }
            }
            '.' => {
                *pos += 1;
                "a".to_owned()
            }
            other => {
                *pos += 1;
                other.to_string()
            }
        };
        let times = quantifier(chars, pos)?;
        for _ in 0..times {
            out.push_str(&atom);
            if out.len() > MAX_PATTERN_SAMPLE * 4 {
                return None;
            }
        }
    }
    Some(out)
}

/// Reads a quantifier after an atom; returns how many times to repeat it.
fn quantifier(chars: &[char], pos: &mut usize) -> Option<usize> {
    match chars.get(*pos) {
        Some('?' | '*') => {
            *pos += 1;
            Some(0)
        }
        Some('+') => {
            *pos += 1;
            Some(1)
        }
        Some('{') => {
            let start = *pos + 1;
            let end = start + chars.get(start..)?.iter().position(|&c| c == '}')?;
            let inside: String = chars.get(start..end)?.iter().collect();
            *pos = end + 1;
            let min = inside.split(',').next()?.trim().parse::<usize>().ok()?;
            (min <= MAX_PATTERN_SAMPLE).then_some(min)
        }
        _ => Some(1),
    }
}

/// Skips `{…}` after `\p` or `\P`.
fn skip_braces(chars: &[char], pos: &mut usize) -> Option<()> {
    if chars.get(*pos) != Some(&'{') {
        return None;
    }
    *pos += chars.get(*pos..)?.iter().position(|&c| c == '}')? + 1;
    Some(())
}

/// Moves past a character class starting at `pos` (nested subtractions
/// included).
fn skip_class(chars: &[char], pos: &mut usize) -> Option<()> {
    let mut level = 0usize;
    while let Some(&c) = chars.get(*pos) {
        match c {
            '\\' => *pos += 1,
            '[' => level += 1,
            ']' => {
                level = level.checked_sub(1)?;
                if level == 0 {
                    *pos += 1;
                    return Some(());
                }
            }
            _ => {}
        }
        *pos += 1;
    }
    None
}

/// A member of the character class at `start`: the first literal or the
/// start of the first range; `None` for negated classes.
fn class_member(chars: &[char], start: usize) -> Option<char> {
    let first = *chars.get(start + 1)?;
    match first {
        '^' => None,
        '\\' => match *chars.get(start + 2)? {
            'd' => Some('1'),
            'w' | 'c' | 'i' | 'p' => Some('a'),
            's' => Some(' '),
            'n' => Some('\n'),
            't' => Some('\t'),
            'r' => Some('\r'),
            c if !c.is_ascii_alphanumeric() => Some(c),
            _ => None,
        },
        '[' | ']' => None,
        c => Some(c),
    }
}

fn escape(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xsd::InstanceLimits;
    use crate::{LoadOptions, load_bytes};

    const SCHEMA: &str = r###"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"
        xmlns:t="urn:t" targetNamespace="urn:t" elementFormDefault="qualified">
      <xs:simpleType name="Color"><xs:restriction base="xs:string">
        <xs:enumeration value="red"/><xs:enumeration value="green"/>
      </xs:restriction></xs:simpleType>
      <xs:simpleType name="Code"><xs:restriction base="xs:string">
        <xs:pattern value="[A-Z]{3}-\d{2,4}(x|y)?"/>
      </xs:restriction></xs:simpleType>
      <xs:simpleType name="Small"><xs:restriction base="xs:int">
        <xs:minExclusive value="10"/><xs:maxInclusive value="20"/>
      </xs:restriction></xs:simpleType>
      <xs:simpleType name="Fixed5"><xs:restriction base="xs:string">
        <xs:length value="5"/>
      </xs:restriction></xs:simpleType>
      <xs:complexType name="Shape" abstract="true">
        <xs:sequence><xs:element name="id" type="xs:int"/></xs:sequence>
      </xs:complexType>
      <xs:complexType name="Circle"><xs:complexContent>
        <xs:extension base="t:Shape"><xs:sequence>
          <xs:element name="radius" type="xs:double"/>
        </xs:sequence><xs:attribute name="unit" type="t:Color" use="required"/></xs:extension>
      </xs:complexContent></xs:complexType>
      <xs:complexType name="Node"><xs:sequence>
        <xs:element name="value" type="xs:string"/>
        <xs:element name="next" type="t:Node" minOccurs="0"/>
      </xs:sequence></xs:complexType>
      <xs:complexType name="Price"><xs:simpleContent>
        <xs:extension base="xs:decimal"><xs:attribute name="currency" type="xs:string" use="required"/></xs:extension>
      </xs:simpleContent></xs:complexType>
      <xs:element name="event" abstract="true" type="t:Node"/>
      <xs:element name="click" substitutionGroup="t:event" type="t:Node"/>
      <xs:element name="order">
        <xs:complexType><xs:sequence>
          <xs:element name="color" type="t:Color"/>
          <xs:element name="code" type="t:Code" maxOccurs="unbounded"/>
          <xs:element name="small" type="t:Small"/>
          <xs:element name="fixed5" type="t:Fixed5"/>
          <xs:element name="shape" type="t:Shape"/>
          <xs:element name="list" type="t:Node"/>
          <xs:element name="price" type="t:Price"/>
          <xs:element ref="t:event"/>
          <xs:choice><xs:element name="a" type="xs:date"/><xs:element name="b" type="xs:int"/></xs:choice>
          <xs:element name="plain" form="unqualified" type="xs:boolean"/>
          <xs:any namespace="##other" minOccurs="0"/>
          <xs:element name="version" type="xs:string" fixed="1.0"/>
        </xs:sequence></xs:complexType>
      </xs:element>
    </xs:schema>"###;

    #[test]
    fn the_sample_is_valid_and_shows_the_shape() {
        let loaded = load_bytes("s.xsd", SCHEMA.as_bytes(), &LoadOptions::default());
        assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics);
        let name = QName::new("urn:t", "order");
        let sample = loaded
            .schema
            .sample_element(&name, &SampleLimits::default())
            .unwrap();
        loaded
            .schema
            .validate_element(&sample, &[], Some(&name), &InstanceLimits::default())
            .unwrap_or_else(|v| panic!("{sample}\n{v:?}"));
        for part in [
            r#"<order xmlns="urn:t">"#,
            "<color>red</color>",
            "<code>AAA-11</code>",
            "<small>20</small>",
            "<fixed5>sampl</fixed5>",
            r#"xsi:type="st:Circle""#,
            r#"unit="red""#,
            "<click>",
            "<a>2024-01-01</a>",
            r#"<plain xmlns="">true</plain>"#,
            "<version>1.0</version>",
            r#"<price currency="sample">1.5</price>"#,
        ] {
            assert!(sample.contains(part), "{part} not in {sample}");
        }
        assert!(!sample.contains("<b>"), "{sample}");
        assert!(
            loaded
                .schema
                .sample_element(&QName::new("urn:t", "nope"), &SampleLimits::default())
                .is_none()
        );
    }

    #[test]
    fn recursion_and_size_are_bounded() {
        let loaded = load_bytes("s.xsd", SCHEMA.as_bytes(), &LoadOptions::default());
        let limits = SampleLimits {
            max_depth: 4,
            optional_depth: 3,
            max_elements: 10,
        };
        let sample = loaded
            .schema
            .sample_element(&QName::new("urn:t", "order"), &limits)
            .unwrap();
        assert!(sample.matches("<value>").count() <= 4, "{sample}");
    }

    #[test]
    fn pattern_samples() {
        assert_eq!(pattern_sample(r"[A-Z]{3}-\d{2}").as_deref(), Some("AAA-11"));
        assert_eq!(pattern_sample(r"(ab|cd)+x?").as_deref(), Some("ab"));
        assert_eq!(
            pattern_sample(r"\p{L}+@[a-z]+\.com").as_deref(),
            Some("a@a.com")
        );
        assert_eq!(pattern_sample(r"[^a]"), None);
        assert_eq!(pattern_sample(r"a{100000}"), None);
        assert_eq!(pattern_sample(r"(((("), None);
    }
}
