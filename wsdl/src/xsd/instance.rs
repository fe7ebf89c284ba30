//! Validation of an element's XML against its declaration in a
//! [`SchemaSet`].
//!
//! The fragment (for example a body payload handed out by
//! [`read_envelope`](crate::read_envelope)) is parsed with roxmltree under
//! the namespace bindings in scope, then checked: element content against
//! the content model (sequence, choice, all, min/max occurrences, element
//! references and substitution groups, wildcards with `processContents`),
//! attributes (use, fixed, type, `anyAttribute`), text against simple
//! types, `xsi:nil` against `nillable`, `xsi:type` against derivation and
//! abstract types. Content models are matched greedily, which is exact for
//! schemas that obey the Unique Particle Attribution rule, as XSD requires.
//! Work is bounded by [`InstanceLimits`].

use std::fmt;

use roxmltree::{Document, Node, ParsingOptions};

use crate::qname::{NamespaceBinding, QName};

use super::builtin::XSD_NS;
use super::model::{
    AttributeUse, AttributeUseKind, ComplexContent, ComplexType, Compositor, Derivation,
    ElementDecl, ModelGroup, Particle, ProcessContents, Term, TypeRef, Wildcard,
};
use super::set::{MAX_DERIVATION_CHAIN, ResolvedType, SchemaSet};
use super::value::shorten;

/// The XML Schema instance namespace (`xsi:type`, `xsi:nil`).
pub const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// Bounds on one instance validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstanceLimits {
    /// The largest fragment, in bytes.
    pub max_bytes: usize,
    /// The deepest element nesting.
    pub max_depth: usize,
    /// The most XML nodes.
    pub max_nodes: u32,
    /// The most violations reported before stopping.
    pub max_violations: usize,
    /// The most content-model matching steps.
    pub max_steps: usize,
}

impl InstanceLimits {
    /// The defaults: 16 MiB, depth 64, 1 million nodes, 16 violations,
    /// 10 million steps.
    pub const DEFAULT: Self = Self {
        max_bytes: 16 * 1024 * 1024,
        max_depth: 64,
        max_nodes: 1_000_000,
        max_violations: 16,
        max_steps: 10_000_000,
    };
}

impl Default for InstanceLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// One way an instance breaks its schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The path of the element (or `/@attribute`) with local names, such as
    /// `/echoString/count`.
    pub path: String,
    /// The rule violated, such as `value "x" is not a valid xs:int`.
    pub message: String,
}

/// Writes `path: message`.
impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

struct Validator<'s> {
    schema: &'s SchemaSet,
    limits: InstanceLimits,
    violations: Vec<Violation>,
    steps: usize,
}

/// What a child element was matched to.
#[derive(Clone, Copy)]
enum Assigned<'s> {
    Decl(&'s ElementDecl),
    Wildcard(&'s Wildcard),
}

/// A content-model matching failure after part of a term was consumed.
struct Mismatch {
    message: String,
}

type MatchResult = Result<Option<usize>, Mismatch>;

fn element_name(node: Node<'_, '_>) -> QName {
    QName {
        namespace: node.tag_name().namespace().map(str::to_owned),
        local: node.tag_name().name().to_owned(),
    }
}

fn is_true(value: &str) -> bool {
    matches!(value.trim(), "true" | "1")
}

impl SchemaSet {
    /// Validates the XML of one element against its declaration: the
    /// global element `declaration` when given, else the global element
    /// named like the fragment's root. `namespaces` are the bindings in
    /// scope where the fragment was cut from (see
    /// [`NamespaceBinding`]). Returns every violation found, up to
    /// [`InstanceLimits::max_violations`].
    pub fn validate_element(
        &self,
        xml: &str,
        namespaces: &[NamespaceBinding],
        declaration: Option<&QName>,
        limits: &InstanceLimits,
    ) -> Result<(), Vec<Violation>> {
        let fail = |message: String| {
            Err(vec![Violation {
                path: "/".to_owned(),
                message,
            }])
        };
        if xml.len() > limits.max_bytes {
            return fail(format!(
                "the element is larger than {} bytes",
                limits.max_bytes
            ));
        }
        let mut wrapped = String::with_capacity(xml.len() + 64);
        wrapped.push_str("<_w");
        for binding in namespaces {
            let uri = binding
                .uri
                .replace('&', "&amp;")
                .replace('"', "&quot;")
                .replace('<', "&lt;");
            match &binding.prefix {
                Some(prefix)
                    if crate::names::is_ncname(prefix) && prefix != "xml" && prefix != "xmlns" =>
                {
                    wrapped.push_str(&format!(" xmlns:{prefix}=\"{uri}\""));
                }
                Some(_) => {}
                None => wrapped.push_str(&format!(" xmlns=\"{uri}\"")),
            }
        }
        wrapped.push('>');
        wrapped.push_str(xml);
        wrapped.push_str("</_w>");
        let options = ParsingOptions {
            allow_dtd: false,
            nodes_limit: limits.max_nodes,
            ..ParsingOptions::default()
        };
        let document = match Document::parse_with_options(&wrapped, options) {
            Ok(document) => document,
            Err(error) => return fail(format!("not well-formed XML: {error}")),
        };
        let mut elements = document.root_element().children().filter(Node::is_element);
        let (Some(root), None) = (elements.next(), elements.next()) else {
            return fail("expected exactly one element".to_owned());
        };
        let mut stack = vec![(root, 1usize)];
        while let Some((node, depth)) = stack.pop() {
            if depth > limits.max_depth {
                return fail(format!("elements nest deeper than {}", limits.max_depth));
            }
            stack.extend(
                node.children()
                    .filter(Node::is_element)
                    .map(|c| (c, depth + 1)),
            );
        }
        let name = declaration.cloned().unwrap_or_else(|| element_name(root));
        let Some(decl) = self.element(&name) else {
            if !self.has_namespace(name.namespace.as_deref()) {
                return Ok(());
            }
            return fail(format!("no global element {name} is declared"));
        };
        let mut validator = Validator {
            schema: self,
            limits: *limits,
            violations: Vec::new(),
            steps: 0,
        };
        if element_name(root) != decl.name
            && !validator.substitutable(&decl.name, &element_name(root))
        {
            return fail(format!(
                "expected the element {}, found {}",
                decl.name,
                element_name(root)
            ));
        }
        let path = format!("/{}", root.tag_name().name());
        validator.element(root, decl, &path);
        if validator.violations.is_empty() {
            Ok(())
        } else {
            Err(validator.violations)
        }
    }
}

impl<'s> Validator<'s> {
    fn violation(&mut self, path: &str, message: impl Into<String>) {
        if self.violations.len() < self.limits.max_violations {
            self.violations.push(Violation {
                path: path.to_owned(),
                message: message.into(),
            });
        }
    }

    fn full(&self) -> bool {
        self.violations.len() >= self.limits.max_violations
    }

    fn step(&mut self) -> Result<(), Mismatch> {
        self.steps += 1;
        if self.steps > self.limits.max_steps {
            return Err(Mismatch {
                message: "the content is too costly to validate".to_owned(),
            });
        }
        Ok(())
    }

    /// Tells whether `member` is in the substitution group of `head`,
    /// directly or not.
    fn substitutable(&self, head: &QName, member: &QName) -> bool {
        let mut current = self.schema.element(member);
        for _ in 0..MAX_DERIVATION_CHAIN {
            let Some(decl) = current else { return false };
            match &decl.substitution_group {
                Some(h) if h == head => return true,
                Some(h) => current = self.schema.element(h),
                None => return false,
            }
        }
        false
    }

    /// The type of an element declaration, following the substitution
    /// group head when it has none.
    fn declared_type(&self, decl: &'s ElementDecl) -> Option<&'s TypeRef> {
        let mut current = decl;
        for _ in 0..MAX_DERIVATION_CHAIN {
            if let Some(t) = &current.type_ref {
                return Some(t);
            }
            current = self.schema.element(current.substitution_group.as_ref()?)?;
        }
        None
    }

    /// Tells whether `derived` is `base` or derives from it.
    fn derives_from(&self, derived: &TypeRef, base: &TypeRef) -> bool {
        if base == &TypeRef::Named(QName::new(XSD_NS, "anyType")) {
            return true;
        }
        let mut current = derived.clone();
        for _ in 0..=MAX_DERIVATION_CHAIN {
            if &current == base {
                return true;
            }
            let Some(resolved) = self.schema.resolve_type(&current) else {
                return false;
            };
            match SchemaSet::base_of(resolved) {
                Some(next) => current = next.clone(),
                None => return false,
            }
        }
        false
    }

    fn element(&mut self, node: Node<'_, '_>, decl: &'s ElementDecl, path: &str) {
        if self.full() {
            return;
        }
        if decl.is_abstract {
            self.violation(path, format!("the element {} is abstract", decl.name));
            return;
        }
        let mut type_ref = self.declared_type(decl).cloned();
        if let Some(xsi_type) = node.attribute((XSI_NS, "type")) {
            let (prefix, local) = match xsi_type.trim().split_once(':') {
                Some((p, l)) => (Some(p), l),
                None => (None, xsi_type.trim()),
            };
            let Some(namespace) = (match prefix {
                Some(p) => node.lookup_namespace_uri(Some(p)).map(Some),
                None => Some(node.lookup_namespace_uri(None)),
            }) else {
                self.violation(
                    path,
                    format!(
                        "the prefix of xsi:type \"{}\" is not declared",
                        shorten(xsi_type)
                    ),
                );
                return;
            };
            let named = TypeRef::Named(QName {
                namespace: namespace.filter(|ns| !ns.is_empty()).map(str::to_owned),
                local: local.to_owned(),
            });
            if self.schema.resolve_type(&named).is_none() {
                self.violation(
                    path,
                    format!("xsi:type names the unknown type \"{}\"", shorten(xsi_type)),
                );
                return;
            }
            if let Some(declared) = &type_ref
                && !self.derives_from(&named, declared)
            {
                self.violation(
                    path,
                    format!(
                        "xsi:type \"{}\" does not derive from the declared type",
                        shorten(xsi_type)
                    ),
                );
                return;
            }
            type_ref = Some(named);
        }
        if let Some(nil) = node.attribute((XSI_NS, "nil"))
            && is_true(nil)
        {
            if !decl.nillable {
                self.violation(path, format!("the element {} is not nillable", decl.name));
            } else if node
                .children()
                .any(|c| c.is_element() || c.text().is_some_and(|t| !t.trim().is_empty()))
            {
                self.violation(path, "an element with xsi:nil=\"true\" must be empty");
            }
            return;
        }
        let resolved = match &type_ref {
            Some(t) => match self.schema.resolve_type(t) {
                Some(r) => r,
                None => return,
            },
            None => ResolvedType::AnyType,
        };
        match resolved {
            ResolvedType::AnyType | ResolvedType::Lax => {}
            ResolvedType::Builtin(_) | ResolvedType::Simple(_) => {
                self.simple_element(node, resolved, decl, path);
                self.no_attributes(node, path);
            }
            ResolvedType::Complex(complex) => {
                if complex.is_abstract {
                    self.violation(
                        path,
                        "the element's type is abstract; give a derived type with xsi:type",
                    );
                    return;
                }
                self.attributes(node, complex, path);
                self.complex_content(node, resolved, complex, decl, path);
            }
        }
    }

    fn text_of(node: Node<'_, '_>) -> String {
        node.children()
            .filter(Node::is_text)
            .filter_map(|n| n.text())
            .collect()
    }

    fn simple_element(
        &mut self,
        node: Node<'_, '_>,
        resolved: ResolvedType<'_>,
        decl: &ElementDecl,
        path: &str,
    ) {
        if node.children().any(|c| c.is_element()) {
            self.violation(path, "element content is not allowed in a simple type");
            return;
        }
        let text = Self::text_of(node);
        if text.is_empty() && (decl.default.is_some() || decl.fixed.is_some()) {
            return;
        }
        if let Err(message) = self.schema.check_simple(resolved, &text, 0) {
            self.violation(path, message);
            return;
        }
        if let Some(fixed) = &decl.fixed
            && text.trim() != fixed.trim()
        {
            self.violation(
                path,
                format!(
                    "value \"{}\" differs from the fixed value \"{}\"",
                    shorten(&text),
                    shorten(fixed)
                ),
            );
        }
    }

    fn no_attributes(&mut self, node: Node<'_, '_>, path: &str) {
        for attribute in node.attributes() {
            if attribute.namespace() == Some(XSI_NS) {
                continue;
            }
            self.violation(
                &format!("{path}/@{}", attribute.name()),
                "attributes are not allowed on an element of simple type",
            );
        }
    }

    /// Collects the attribute uses and wildcard of a complex type, its
    /// attribute groups and its base types.
    fn attribute_uses(
        &self,
        complex: &'s ComplexType,
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
            let mut group_queue: Vec<&QName> = t.attribute_groups.iter().collect();
            let mut own: Vec<&AttributeUse> = t.attributes.iter().collect();
            let mut seen_groups = 0;
            while let Some(name) = group_queue.pop() {
                seen_groups += 1;
                if seen_groups > 256 {
                    break;
                }
                if let Some(group) = self.schema.attribute_group(name) {
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
            let base = match &t.content {
                ComplexContent::Elements {
                    derivation: Some((_, base)),
                    ..
                }
                | ComplexContent::Simple { base, .. } => Some(base),
                ComplexContent::Elements {
                    derivation: None, ..
                } => None,
            };
            current = match base.and_then(|b| self.schema.resolve_type(b)) {
                Some(ResolvedType::Complex(next)) => Some(next),
                _ => None,
            };
        }
        (uses, wildcard)
    }

    fn attributes(&mut self, node: Node<'_, '_>, complex: &'s ComplexType, path: &str) {
        let (uses, wildcard) = self.attribute_uses(complex);
        for attribute in node.attributes() {
            let namespace = attribute.namespace();
            if namespace == Some(XSI_NS) {
                continue;
            }
            let attribute_path = format!("{path}/@{}", attribute.name());
            let name = QName {
                namespace: namespace.map(str::to_owned),
                local: attribute.name().to_owned(),
            };
            match uses.iter().find(|u| u.name == name) {
                Some(u) if u.use_kind == AttributeUseKind::Prohibited => {
                    self.violation(&attribute_path, "the attribute is prohibited");
                }
                Some(u) => {
                    let type_ref = if u.is_ref {
                        self.schema
                            .attribute(&u.name)
                            .and_then(|g| g.type_ref.as_ref())
                    } else {
                        u.type_ref.as_ref()
                    };
                    if let Some(type_ref) = type_ref
                        && let Err(message) =
                            self.schema.validate_simple(type_ref, attribute.value())
                    {
                        self.violation(&attribute_path, message);
                        continue;
                    }
                    if let Some(fixed) = &u.fixed
                        && attribute.value().trim() != fixed.trim()
                    {
                        self.violation(
                            &attribute_path,
                            format!(
                                "value \"{}\" differs from the fixed value \"{}\"",
                                shorten(attribute.value()),
                                shorten(fixed)
                            ),
                        );
                    }
                }
                None => {
                    if !wildcard.is_some_and(|w| w.namespaces.admits(namespace))
                        && namespace != Some(crate::version::XML_NS)
                    {
                        self.violation(&attribute_path, "the attribute is not allowed here");
                    }
                }
            }
        }
        for u in uses {
            if u.use_kind == AttributeUseKind::Required
                && node
                    .attribute((
                        u.name.namespace.as_deref().unwrap_or(""),
                        u.name.local.as_str(),
                    ))
                    .is_none()
                && !(u.name.namespace.is_none() && node.attribute(u.name.local.as_str()).is_some())
            {
                self.violation(
                    path,
                    format!("the required attribute {} is missing", u.name),
                );
            }
        }
    }

    /// The particles of a complex type's element content, base types'
    /// first for extensions.
    fn content_particles(
        &self,
        complex: &'s ComplexType,
        out: &mut Vec<&'s Particle>,
        depth: usize,
    ) {
        if depth > MAX_DERIVATION_CHAIN {
            return;
        }
        if let ComplexContent::Elements {
            derivation,
            particle,
        } = &complex.content
        {
            if let Some((Derivation::Extension, base)) = derivation
                && let Some(ResolvedType::Complex(base)) = self.schema.resolve_type(base)
            {
                self.content_particles(base, out, depth + 1);
            }
            if let Some(p) = particle {
                out.push(p);
            }
        }
    }

    fn complex_content(
        &mut self,
        node: Node<'_, '_>,
        resolved: ResolvedType<'s>,
        complex: &'s ComplexType,
        decl: &ElementDecl,
        path: &str,
    ) {
        let is_simple = matches!(complex.content, ComplexContent::Simple { .. });
        if is_simple {
            self.simple_element(node, resolved, decl, path);
            return;
        }
        let mut mixed = complex.mixed;
        let mut particles = Vec::new();
        self.content_particles(complex, &mut particles, 0);
        if let ComplexContent::Elements {
            derivation: Some((_, base)),
            ..
        } = &complex.content
            && matches!(
                self.schema.resolve_type(base),
                Some(ResolvedType::AnyType | ResolvedType::Lax)
            )
            && particles.is_empty()
            && complex.attributes.is_empty()
        {
            mixed = true;
        }
        if !mixed
            && node
                .children()
                .any(|c| c.is_text() && c.text().is_some_and(|t| !t.trim().is_empty()))
        {
            self.violation(
                path,
                "character data is not allowed in element-only content",
            );
        }
        let children: Vec<Node<'_, '_>> = node.children().filter(Node::is_element).collect();
        let mut pos = 0;
        let mut assigned: Vec<Assigned<'s>> = Vec::with_capacity(children.len());
        for particle in &particles {
            match self.particle(particle, &children, &mut pos, &mut assigned, 0) {
                Ok(Some(_)) => {}
                Ok(None) => {
                    let mismatch = self.mismatch_at(particle, &children, pos);
                    self.violation(path, mismatch.message);
                    return;
                }
                Err(mismatch) => {
                    self.violation(path, mismatch.message);
                    return;
                }
            }
        }
        if let Some(child) = children.get(pos) {
            self.violation(path, format!("unexpected element {}", element_name(*child)));
            return;
        }
        for (child, assignment) in children.iter().zip(assigned) {
            let child_path = format!("{path}/{}", child.tag_name().name());
            let name = element_name(*child);
            match assignment {
                Assigned::Decl(d) => {
                    // A member of a substitution group stands for its head.
                    let actual = if d.name == name {
                        Some(d)
                    } else {
                        self.schema.element(&name)
                    };
                    if let Some(actual) = actual {
                        self.element(*child, actual, &child_path);
                    }
                }
                Assigned::Wildcard(w) => {
                    match w.process_contents {
                        ProcessContents::Skip => {}
                        ProcessContents::Lax => {
                            if let Some(d) = self.schema.element(&name) {
                                self.element(*child, d, &child_path);
                            }
                        }
                        ProcessContents::Strict => match self.schema.element(&name) {
                            Some(d) => self.element(*child, d, &child_path),
                            None if self.schema.has_namespace(name.namespace.as_deref()) => {
                                self.violation(&child_path, format!("no global element {name} is declared for this strict wildcard"));
                            }
                            None => {}
                        },
                    }
                }
            }
            if self.full() {
                return;
            }
        }
    }

    /// Describes the elements a particle can start with, for messages.
    fn first_names(&self, particle: &Particle) -> String {
        self.first_names_at(particle, 0)
    }

    fn first_names_at(&self, particle: &Particle, depth: usize) -> String {
        if depth > 16 {
            return "more content".to_owned();
        }
        match &particle.term {
            Term::Element(d) => d.name.to_string(),
            Term::ElementRef(q) => q.to_string(),
            Term::Any(_) => "any element".to_owned(),
            Term::GroupRef(q) => match self.schema.group(q).and_then(|g| g.model.as_ref()) {
                Some(m) => m
                    .particles
                    .first()
                    .map_or_else(String::new, |p| self.first_names_at(p, depth + 1)),
                None => q.to_string(),
            },
            Term::Group(m) => match m.compositor {
                Compositor::Choice => m
                    .particles
                    .iter()
                    .map(|p| self.first_names_at(p, depth + 1))
                    .collect::<Vec<_>>()
                    .join(" or "),
                _ => m
                    .particles
                    .first()
                    .map_or_else(String::new, |p| self.first_names_at(p, depth + 1)),
            },
        }
    }

    /// Matches a particle at `pos`: `Ok(None)` when it cannot start there
    /// and is not satisfied, `Ok(Some(n))` when satisfied after consuming
    /// `n` elements, `Err` when it started but could not complete.
    fn particle(
        &mut self,
        particle: &'s Particle,
        children: &[Node<'_, '_>],
        pos: &mut usize,
        assigned: &mut Vec<Assigned<'s>>,
        depth: usize,
    ) -> MatchResult {
        let start = *pos;
        let mut count: u32 = 0;
        let occurs = particle.occurs;
        while occurs.max.is_none_or(|max| count < max) {
            self.step()?;
            match self.term(&particle.term, children, pos, assigned, depth)? {
                None => break,
                Some(0) => {
                    count = count.max(occurs.min);
                    break;
                }
                Some(_) => count += 1,
            }
        }
        if count < occurs.min {
            if *pos == start {
                return Ok(None);
            }
            return Err(self.mismatch_at(particle, children, *pos));
        }
        Ok(Some(*pos - start))
    }

    /// Why `particle` does not match at child `pos`: an unexpected element,
    /// or a missing one when the children ran out.
    fn mismatch_at(&self, particle: &Particle, children: &[Node<'_, '_>], pos: usize) -> Mismatch {
        let expected = self.first_names(particle);
        Mismatch {
            message: match children.get(pos) {
                Some(child) => format!(
                    "unexpected element {}; expected {expected}",
                    element_name(*child)
                ),
                None => format!("missing element {expected}"),
            },
        }
    }

    fn matches_decl(&self, decl_name: &QName, child: Node<'_, '_>) -> bool {
        let name = element_name(child);
        &name == decl_name || self.substitutable(decl_name, &name)
    }

    fn term(
        &mut self,
        term: &'s Term,
        children: &[Node<'_, '_>],
        pos: &mut usize,
        assigned: &mut Vec<Assigned<'s>>,
        depth: usize,
    ) -> MatchResult {
        if depth > 64 {
            return Err(Mismatch {
                message: "the content model nests too deeply".to_owned(),
            });
        }
        match term {
            Term::Element(decl) => {
                let Some(child) = children.get(*pos) else {
                    return Ok(None);
                };
                if self.matches_decl(&decl.name, *child) {
                    assigned.push(Assigned::Decl(decl));
                    *pos += 1;
                    Ok(Some(1))
                } else {
                    Ok(None)
                }
            }
            Term::ElementRef(name) => {
                let Some(child) = children.get(*pos) else {
                    return Ok(None);
                };
                if !self.matches_decl(name, *child) {
                    return Ok(None);
                }
                match self.schema.element(name) {
                    Some(decl) => assigned.push(Assigned::Decl(decl)),
                    None => assigned.push(Assigned::Wildcard(&LAX_ANY)),
                }
                *pos += 1;
                Ok(Some(1))
            }
            Term::Any(wildcard) => {
                let Some(child) = children.get(*pos) else {
                    return Ok(None);
                };
                if wildcard.namespaces.admits(child.tag_name().namespace()) {
                    assigned.push(Assigned::Wildcard(wildcard));
                    *pos += 1;
                    Ok(Some(1))
                } else {
                    Ok(None)
                }
            }
            Term::GroupRef(name) => match self.schema.group(name).and_then(|g| g.model.as_ref()) {
                Some(model) => self.model_group(model, children, pos, assigned, depth + 1),
                None => Ok(Some(0)),
            },
            Term::Group(model) => self.model_group(model, children, pos, assigned, depth + 1),
        }
    }

    fn model_group(
        &mut self,
        model: &'s ModelGroup,
        children: &[Node<'_, '_>],
        pos: &mut usize,
        assigned: &mut Vec<Assigned<'s>>,
        depth: usize,
    ) -> MatchResult {
        let start = *pos;
        match model.compositor {
            Compositor::Sequence => {
                for particle in &model.particles {
                    if self
                        .particle(particle, children, pos, assigned, depth)?
                        .is_none()
                    {
                        if *pos == start {
                            return Ok(None);
                        }
                        return Err(self.mismatch_at(particle, children, *pos));
                    }
                }
                Ok(Some(*pos - start))
            }
            Compositor::Choice => {
                let mut emptiable = model.particles.is_empty();
                for particle in &model.particles {
                    match self.particle(particle, children, pos, assigned, depth)? {
                        Some(0) => emptiable = true,
                        Some(n) => return Ok(Some(n)),
                        None => {}
                    }
                }
                Ok(emptiable.then_some(0))
            }
            Compositor::All => {
                let mut used = vec![0u32; model.particles.len()];
                'children: while let Some(child) = children.get(*pos) {
                    self.step()?;
                    for (index, particle) in model.particles.iter().enumerate() {
                        let Some(count) = used.get_mut(index) else {
                            continue;
                        };
                        if particle.occurs.max.is_some_and(|max| *count >= max) {
                            continue;
                        }
                        let hit = match &particle.term {
                            Term::Element(d) => self.matches_decl(&d.name, *child),
                            Term::ElementRef(q) => self.matches_decl(q, *child),
                            _ => false,
                        };
                        if hit {
                            *count += 1;
                            self.term(&particle.term, children, pos, assigned, depth)?;
                            continue 'children;
                        }
                    }
                    break;
                }
                for (particle, count) in model.particles.iter().zip(&used) {
                    if *count < particle.occurs.min {
                        if *pos == start {
                            return Ok(None);
                        }
                        return Err(Mismatch {
                            message: format!("missing element {}", self.first_names(particle)),
                        });
                    }
                }
                Ok(Some(*pos - start))
            }
        }
    }
}

/// The wildcard standing for an element reference into a namespace whose
/// schema was not loaded.
static LAX_ANY: Wildcard = Wildcard {
    namespaces: super::model::NamespaceConstraint::Any,
    process_contents: ProcessContents::Lax,
};
