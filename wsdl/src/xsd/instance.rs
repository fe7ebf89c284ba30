//! Validation of an element's XML against its declaration in a
//! [`SchemaSet`], streaming.
//!
//! The fragment (for example a body payload handed out by
//! [`read_envelope`](crate::read_envelope)) is read once by the crate's
//! checked pull parser under the namespace bindings in scope where it was
//! cut, and checked as its events arrive, with no tree: element content
//! against the content model (sequence, choice, all, min/max occurrences,
//! element references and substitution groups, wildcards with
//! `processContents`; see `stream_match`), attributes (use, fixed, type,
//! `anyAttribute`), text against simple types, `xsi:nil` against
//! `nillable`, `xsi:type` against derivation and abstract types. The
//! state is a stack of open elements and one path buffer, so the happy
//! path allocates nothing per element. Violations are reported in
//! document order of the elements they concern, the element's own before
//! its children's, as a tree walk would. An rpc/literal request is
//! checked the same way against an [`RpcWrapper`] built from the
//! operation's input message. Work is bounded by [`InstanceLimits`].

use std::cell::Cell;
use std::fmt;

use quick_xml::events::BytesStart;

use crate::diagnostic::Location;
use crate::error::ReadError;
use crate::limits::Limits;
use crate::qname::{NamespaceBinding, QName};
use crate::scan::{Scanner, Token, attribute_value, is_xml_whitespace};
use crate::wsdl11::{Definitions, OperationInfo, ParameterStyle, Use};

use super::builtin::XSD_NS;
use super::model::{
    AttributeUse, AttributeUseKind, ComplexContent, ComplexType, Compositor, ElementDecl,
    ModelGroup, Occurs, Particle, ProcessContents, Term, TypeRef, Wildcard,
};
use super::set::{MAX_DERIVATION_CHAIN, ResolvedType, SchemaSet};
use super::stream_match::{
    Assigned, Budget, ChildName, Matcher, MatcherBuffers, Outcome, Segment, recycle, substitutable,
};
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

/// The body an rpc/literal operation expects: a wrapper element named
/// after the operation, in the `soap:body` namespace, holding one
/// unqualified accessor per part, in the order of the parts (WSDL 1.1
/// §3.5, WS-I Basic Profile R2729 and R2735).
///
/// A part given by `type` is checked against that type; a part given by
/// `element` is checked against that element's type, nillability and
/// value constraints.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcWrapper {
    decl: ElementDecl,
    content: ComplexType,
}

impl RpcWrapper {
    /// Builds the wrapper of an rpc/literal operation's input. `None` when
    /// the operation is not rpc/literal, has no input, or its input message
    /// or a bound part is missing (the loader reported it).
    pub fn for_input(
        definitions: &Definitions,
        schema: &SchemaSet,
        operation: &OperationInfo,
    ) -> Option<Self> {
        if operation.parameter_style != ParameterStyle::Rpc || operation.use_kind != Use::Literal {
            return None;
        }
        let input = operation.input.as_ref()?;
        let name = input.body_name.clone()?;
        let message = definitions.messages.get(&input.message)?;
        let mut particles = Vec::with_capacity(input.parts.len());
        for part_name in &input.parts {
            let part = message.part(part_name)?;
            let accessor = QName::unqualified(part_name.clone());
            let decl = match (&part.element, &part.type_name) {
                (Some(element), _) => {
                    let global = schema.element(element);
                    ElementDecl {
                        name: accessor,
                        type_ref: global.and_then(|g| g.type_ref.clone()),
                        nillable: global.is_some_and(|g| g.nillable),
                        is_abstract: false,
                        substitution_group: None,
                        default: global.and_then(|g| g.default.clone()),
                        fixed: global.and_then(|g| g.fixed.clone()),
                        location: part.location.clone(),
                    }
                }
                (None, type_name) => ElementDecl {
                    name: accessor,
                    type_ref: type_name.clone().map(TypeRef::Named),
                    nillable: false,
                    is_abstract: false,
                    substitution_group: None,
                    default: None,
                    fixed: None,
                    location: part.location.clone(),
                },
            };
            particles.push(Particle {
                occurs: Occurs::ONCE,
                term: Term::Element(Box::new(decl)),
            });
        }
        let particle = (!particles.is_empty()).then_some(Particle {
            occurs: Occurs::ONCE,
            term: Term::Group(ModelGroup {
                compositor: Compositor::Sequence,
                particles,
            }),
        });
        Some(Self {
            decl: ElementDecl {
                name,
                type_ref: None,
                nillable: false,
                is_abstract: false,
                substitution_group: None,
                default: None,
                fixed: None,
                location: Location::default(),
            },
            content: ComplexType {
                name: None,
                is_abstract: false,
                mixed: false,
                content: ComplexContent::Elements {
                    derivation: None,
                    particle,
                },
                attributes: Vec::new(),
                attribute_groups: Vec::new(),
                // Attributes on the wrapper carry no part.
                any_attribute: Some(Wildcard {
                    namespaces: super::model::NamespaceConstraint::Any,
                    process_contents: ProcessContents::Skip,
                }),
                location: Location::default(),
            },
        })
    }

    /// The wrapper element's name: the operation's name in the
    /// `soap:body` namespace.
    pub fn name(&self) -> &QName {
        &self.decl.name
    }
}

/// What the fragment's root element is checked against.
#[derive(Clone, Copy)]
enum Target<'s> {
    /// A global element: the one given, else the one named like the root.
    Element(Option<&'s QName>),
    /// An rpc/literal wrapper.
    Rpc(&'s RpcWrapper),
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
        Validator::new(self, *limits).run(xml, namespaces, Target::Element(declaration))
    }

    /// Validates the XML of an rpc/literal request's body element against
    /// the operation's [`RpcWrapper`], as
    /// [`validate_element`](Self::validate_element) does for a global
    /// element.
    pub fn validate_rpc(
        &self,
        xml: &str,
        namespaces: &[NamespaceBinding],
        wrapper: &RpcWrapper,
        limits: &InstanceLimits,
    ) -> Result<(), Vec<Violation>> {
        Validator::new(self, *limits).run(xml, namespaces, Target::Rpc(wrapper))
    }
}

/// A validation of one body element that runs inside another reader's
/// pass, fed with that reader's events instead of parsing the element
/// again (see [`crate::read_envelope_validating`]).
///
/// Made by [`SchemaSet::body_validator`] or
/// [`SchemaSet::rpc_body_validator`]; the envelope reader feeds it the
/// first body child's events and returns its verdict, which is what
/// [`SchemaSet::validate_element`] or [`SchemaSet::validate_rpc`] would
/// give for the same element's bytes and namespace bindings. The instance
/// limits hold as they do there: the element's depth and element count
/// are counted from the element itself, and its size is checked against
/// [`InstanceLimits::max_bytes`] when it ends.
pub struct BodyValidator<'s> {
    validator: Validator<'s>,
    target: Target<'s>,
    /// Elements open below (and including) the validated element.
    depth: usize,
    /// Elements seen so far.
    elements: u64,
    /// Whether a limit stopped the validation (its refusal is recorded).
    stopped: bool,
}

impl<'s> BodyValidator<'s> {
    /// The element's start tag (or one of its descendants').
    pub(crate) fn start(&mut self, scanner: &Scanner<'_>, start: &BytesStart<'_>) {
        if self.stopped {
            return;
        }
        self.depth += 1;
        self.elements += 1;
        let limits = self.validator.limits;
        if self.depth > limits.max_depth {
            self.stop(format!("elements nest deeper than {}", limits.max_depth));
            return;
        }
        if self.elements > u64::from(limits.max_nodes) {
            self.stop(format!(
                "the element holds more than {} elements",
                limits.max_nodes
            ));
            return;
        }
        self.validator.start(scanner, start, self.target);
    }

    /// An end tag (the synthetic one of an empty-element tag included).
    pub(crate) fn end(&mut self) {
        if self.stopped {
            return;
        }
        self.depth = self.depth.saturating_sub(1);
        self.validator.end();
    }

    /// Character data, references resolved.
    pub(crate) fn text(&mut self, text: &str) {
        if !self.stopped {
            self.validator.text(text);
        }
    }

    fn stop(&mut self, message: String) {
        self.stopped = true;
        self.validator.refusal = Some(message);
    }

    /// The verdict, once the element of `len` bytes has ended.
    pub(crate) fn finish(mut self, len: usize) -> Result<(), Vec<Violation>> {
        let max_bytes = self.validator.limits.max_bytes;
        if len > max_bytes {
            return fail(format!("the element is larger than {max_bytes} bytes"));
        }
        if let Some(message) = self.validator.refusal.take() {
            return fail(message);
        }
        if self.validator.violations.is_empty() {
            Ok(())
        } else {
            Err(std::mem::take(&mut self.validator.violations))
        }
    }
}

impl fmt::Debug for BodyValidator<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BodyValidator")
            .field("depth", &self.depth)
            .field("elements", &self.elements)
            .finish_non_exhaustive()
    }
}

impl SchemaSet {
    /// A [`BodyValidator`] for the global element `declaration` (when
    /// given, else the global element named like the body element), to
    /// hand to [`crate::read_envelope_validating`].
    pub fn body_validator<'s>(
        &'s self,
        declaration: Option<&'s QName>,
        limits: &InstanceLimits,
    ) -> BodyValidator<'s> {
        self.incremental(Target::Element(declaration), limits)
    }

    /// A [`BodyValidator`] for an rpc/literal request's wrapper, as
    /// [`body_validator`](Self::body_validator) is for a global element.
    pub fn rpc_body_validator<'s>(
        &'s self,
        wrapper: &'s RpcWrapper,
        limits: &InstanceLimits,
    ) -> BodyValidator<'s> {
        self.incremental(Target::Rpc(wrapper), limits)
    }

    fn incremental<'s>(&'s self, target: Target<'s>, limits: &InstanceLimits) -> BodyValidator<'s> {
        BodyValidator {
            validator: Validator::new(self, *limits),
            target,
            depth: 0,
            elements: 0,
            stopped: false,
        }
    }
}

/// How an open element's content is checked.
#[derive(Clone, Copy)]
enum Kind<'s> {
    /// Not checked: `xs:anyType`, a lax type, an element that already
    /// failed before its content.
    Skip,
    /// `xsi:nil="true"` on a nillable element: must stay empty.
    Nil { reported: bool },
    /// Character data of a simple type (or a complex type with simple
    /// content), collected in the validator's text buffer.
    Simple {
        resolved: ResolvedType<'s>,
        decl: &'s ElementDecl,
        /// Where the value's violation goes: before the attribute
        /// violations of an element of simple type.
        insert_at: Option<usize>,
        /// A child element was found (and reported).
        has_children: bool,
    },
    /// Element content, matched child by child.
    Complex {
        segment: Segment,
        mixed: bool,
        /// Where the element's own content violations start, after its
        /// attributes'.
        content_mark: usize,
        text_reported: bool,
        failed: bool,
    },
}

/// An element being read.
struct Open<'s> {
    kind: Kind<'s>,
    /// The length of the path before this element.
    path_len: usize,
}

struct Validator<'s> {
    schema: &'s SchemaSet,
    limits: InstanceLimits,
    violations: Vec<Violation>,
    budget: Budget,
    matcher: Matcher<'s>,
    open: Vec<Open<'s>>,
    /// How many elements deep the reader is inside a subtree that is not
    /// checked.
    skip: usize,
    /// The path of the innermost open element, such as `/a/b`.
    path: String,
    /// The character data of the innermost element of simple content.
    text: String,
    /// A refusal of the whole fragment, reported once it is known to be
    /// well-formed.
    refusal: Option<String>,
}

/// The buffers of a validation, empty, kept on each thread between
/// validations so that validating a request allocates none of them.
#[derive(Default)]
struct Scratch {
    matcher: MatcherBuffers,
    open: Vec<Open<'static>>,
    path: String,
    text: String,
}

/// The most bytes a string buffer, and the most entries the vectors, may
/// hold to be kept in [`SCRATCH`]: a large request's buffers are freed.
const SCRATCH_MAX_BYTES: usize = 16 * 1024;
/// See [`SCRATCH_MAX_BYTES`].
const SCRATCH_MAX_ENTRIES: usize = 1024;

thread_local! {
    /// The buffers the last validation on this thread left.
    static SCRATCH: Cell<Option<Scratch>> = const { Cell::new(None) };
}

impl Drop for Validator<'_> {
    fn drop(&mut self) {
        let matcher = std::mem::take(&mut self.matcher).into_buffers();
        let open = recycle(std::mem::take(&mut self.open));
        let mut path = std::mem::take(&mut self.path);
        let mut text = std::mem::take(&mut self.text);
        if path.capacity() > SCRATCH_MAX_BYTES
            || text.capacity() > SCRATCH_MAX_BYTES
            || open.capacity() > SCRATCH_MAX_ENTRIES
            || !matcher.capacity_within(SCRATCH_MAX_ENTRIES)
        {
            return;
        }
        path.clear();
        text.clear();
        let scratch = Scratch {
            matcher,
            open,
            path,
            text,
        };
        // Gone when the thread is ending: then they are simply freed.
        let _ = SCRATCH.try_with(|cell| cell.set(Some(scratch)));
    }
}

fn is_true(value: &str) -> bool {
    matches!(value.trim_matches(is_xml_whitespace), "true" | "1")
}

fn fail(message: String) -> Result<(), Vec<Violation>> {
    Err(vec![Violation {
        path: "/".to_owned(),
        message,
    }])
}

impl<'s> Validator<'s> {
    fn new(schema: &'s SchemaSet, limits: InstanceLimits) -> Self {
        let scratch = SCRATCH
            .try_with(Cell::take)
            .ok()
            .flatten()
            .unwrap_or_else(|| Scratch {
                // Most paths fit: one allocation instead of a few regrowths.
                path: String::with_capacity(64),
                ..Scratch::default()
            });
        Self {
            schema,
            limits,
            violations: Vec::new(),
            budget: Budget {
                steps: 0,
                max_steps: limits.max_steps,
            },
            matcher: Matcher::with_buffers(scratch.matcher),
            open: recycle(scratch.open),
            skip: 0,
            path: scratch.path,
            text: scratch.text,
            refusal: None,
        }
    }

    fn run(
        mut self,
        xml: &str,
        namespaces: &[NamespaceBinding],
        target: Target<'s>,
    ) -> Result<(), Vec<Violation>> {
        let limits = self.limits;
        if xml.len() > limits.max_bytes {
            return fail(format!(
                "the element is larger than {} bytes",
                limits.max_bytes
            ));
        }
        // The fragment was already read under the message's limits; these
        // only keep a direct caller within the instance limits.
        let scan_limits = Limits {
            max_size: limits.max_bytes,
            max_depth: limits.max_depth,
            max_elements: usize::try_from(limits.max_nodes).unwrap_or(usize::MAX),
            max_attributes: 1024,
            max_attribute_len: limits.max_bytes,
            max_text_len: limits.max_bytes,
            max_namespace_bindings: 1024,
        };
        let mut scanner = match Scanner::new(xml.as_bytes(), scan_limits) {
            Ok(scanner) => scanner,
            Err(error) => return fail(self.describe(error)),
        };
        scanner.declare_outer(namespaces);
        loop {
            match scanner.next_token() {
                Ok(Token::Start(element)) => self.start(&scanner, &element.start, target),
                Ok(Token::End { .. }) => self.end(),
                Ok(Token::Text { text, .. }) => self.text(&text),
                Ok(Token::Eof) => break,
                Err(error) => return fail(self.describe(error)),
            }
        }
        if let Some(message) = self.refusal.take() {
            return fail(message);
        }
        if self.violations.is_empty() {
            Ok(())
        } else {
            Err(std::mem::take(&mut self.violations))
        }
    }

    /// The message for a fragment the reader refused.
    fn describe(&self, error: ReadError) -> String {
        match error {
            ReadError::TooDeep { .. } => {
                format!("elements nest deeper than {}", self.limits.max_depth)
            }
            ReadError::Empty => "expected exactly one element".to_owned(),
            ReadError::Malformed { message, .. } if message == "a second root element" => {
                "expected exactly one element".to_owned()
            }
            ReadError::TooManyElements { limit } => {
                format!("the element holds more than {limit} elements")
            }
            other => format!("not well-formed XML: {other}"),
        }
    }

    fn violation(&mut self, path: String, message: impl Into<String>) {
        if self.violations.len() < self.limits.max_violations {
            self.violations.push(Violation {
                path,
                message: message.into(),
            });
        }
    }

    /// Records a violation where a tree walk would have found it.
    fn insert_violation(&mut self, at: usize, path: String, message: String) {
        let at = at.min(self.violations.len());
        self.violations.insert(at, Violation { path, message });
        self.violations.truncate(self.limits.max_violations);
    }

    fn full(&self) -> bool {
        self.violations.len() >= self.limits.max_violations
    }

    fn start(&mut self, scanner: &Scanner<'_>, start: &BytesStart<'_>, target: Target<'s>) {
        if self.skip > 0 {
            self.skip += 1;
            return;
        }
        let name = ChildName {
            namespace: scanner.element_namespace(start),
            local: start.local_name().into_inner(),
        };
        let Some(parent) = self.open.last().map(|open| open.kind) else {
            self.root(scanner, start, name, target);
            return;
        };
        match parent {
            Kind::Skip => self.skip = 1,
            Kind::Nil { reported } => {
                if !reported {
                    self.set_parent_kind(Kind::Nil { reported: true });
                    self.violation(
                        self.path.clone(),
                        "an element with xsi:nil=\"true\" must be empty",
                    );
                }
                self.skip = 1;
            }
            Kind::Simple {
                resolved,
                decl,
                insert_at,
                has_children,
            } => {
                if !has_children {
                    self.set_parent_kind(Kind::Simple {
                        resolved,
                        decl,
                        insert_at,
                        has_children: true,
                    });
                    let message = "element content is not allowed in a simple type".to_owned();
                    match insert_at {
                        Some(at) => self.insert_violation(at, self.path.clone(), message),
                        None => self.violation(self.path.clone(), message),
                    }
                }
                self.skip = 1;
            }
            Kind::Complex {
                segment, failed, ..
            } => {
                if failed || self.full() {
                    self.skip = 1;
                    return;
                }
                match self
                    .matcher
                    .offer(self.schema, &mut self.budget, segment, Some(name))
                {
                    Outcome::Consumed(assigned) => self.child(scanner, start, name, assigned),
                    Outcome::Failed(message) => {
                        self.content_failed(message);
                        self.skip = 1;
                    }
                    Outcome::Complete => self.skip = 1,
                }
            }
        }
    }

    fn set_parent_kind(&mut self, kind: Kind<'s>) {
        if let Some(open) = self.open.last_mut() {
            open.kind = kind;
        }
    }

    /// The innermost element's children do not match its content model:
    /// what its children reported gives way to the mismatch, and the rest
    /// of its content is not checked.
    fn content_failed(&mut self, message: String) {
        let Some(Open {
            kind:
                Kind::Complex {
                    content_mark,
                    text_reported,
                    failed,
                    ..
                },
            ..
        }) = self.open.last_mut()
        else {
            return;
        };
        *failed = true;
        let keep = *content_mark + usize::from(*text_reported);
        self.violations.truncate(keep);
        self.violation(self.path.clone(), message);
    }

    /// Starts a child the content model assigned.
    fn child(
        &mut self,
        scanner: &Scanner<'_>,
        start: &BytesStart<'_>,
        name: ChildName<'_>,
        assigned: Assigned<'s>,
    ) {
        let schema = self.schema;
        let decl = match assigned {
            // A member of a substitution group stands for its head.
            Assigned::Decl(d) if name.is(&d.name) => Some(d),
            Assigned::Decl(_) => schema.element(&name.to_qname()),
            Assigned::Wildcard(w) => match w.process_contents {
                ProcessContents::Skip => None,
                ProcessContents::Lax => schema.element(&name.to_qname()),
                ProcessContents::Strict => {
                    let owned = name.to_qname();
                    let found = schema.element(&owned);
                    if found.is_none() && schema.has_namespace(name.namespace) {
                        self.violation(
                            format!("{}/{}", self.path, name.local),
                            format!(
                                "no global element {owned} is declared for this strict wildcard"
                            ),
                        );
                    }
                    found
                }
            },
        };
        match decl {
            Some(decl) => self.element(scanner, start, name.local, decl, None),
            None => self.skip = 1,
        }
    }

    fn root(
        &mut self,
        scanner: &Scanner<'_>,
        start: &BytesStart<'_>,
        name: ChildName<'_>,
        target: Target<'s>,
    ) {
        let schema = self.schema;
        match target {
            Target::Rpc(wrapper) => {
                if !name.is(&wrapper.decl.name) {
                    self.refusal = Some(format!(
                        "expected the element {}, found {name}",
                        wrapper.decl.name
                    ));
                    self.skip = 1;
                    return;
                }
                let content = ResolvedType::Complex(&wrapper.content);
                self.element(scanner, start, name.local, &wrapper.decl, Some(content));
            }
            Target::Element(declaration) => {
                let owned;
                let wanted = match declaration {
                    Some(wanted) => wanted,
                    None => {
                        owned = name.to_qname();
                        &owned
                    }
                };
                let Some(decl) = schema.element(wanted) else {
                    if schema.has_namespace(wanted.namespace.as_deref()) {
                        self.refusal = Some(format!("no global element {wanted} is declared"));
                    }
                    self.skip = 1;
                    return;
                };
                if !name.is(&decl.name) && !substitutable(schema, &decl.name, name) {
                    self.refusal =
                        Some(format!("expected the element {}, found {name}", decl.name));
                    self.skip = 1;
                    return;
                }
                self.element(scanner, start, name.local, decl, None);
            }
        }
    }

    /// Opens an element checked against `decl` (and, for an rpc wrapper,
    /// the type given).
    fn element(
        &mut self,
        scanner: &Scanner<'_>,
        start: &BytesStart<'_>,
        local: &str,
        decl: &'s ElementDecl,
        type_given: Option<ResolvedType<'s>>,
    ) {
        let path_len = self.path.len();
        self.path.push('/');
        self.path.push_str(local);
        let kind = self.kind_of(scanner, start, decl, type_given);
        self.open.push(Open { kind, path_len });
    }

    fn kind_of(
        &mut self,
        scanner: &Scanner<'_>,
        start: &BytesStart<'_>,
        decl: &'s ElementDecl,
        type_given: Option<ResolvedType<'s>>,
    ) -> Kind<'s> {
        let schema = self.schema;
        if self.full() {
            return Kind::Skip;
        }
        if decl.is_abstract {
            self.violation(
                self.path.clone(),
                format!("the element {} is abstract", decl.name),
            );
            return Kind::Skip;
        }
        let mut xsi_type = None;
        let mut xsi_nil = false;
        for attribute in start.attributes().flatten() {
            let (namespace, local) = scanner.attribute_name(attribute.key);
            if namespace == Some(XSI_NS) {
                match local.as_ref() {
                    "type" => xsi_type = attribute_value(&attribute),
                    "nil" => xsi_nil = attribute_value(&attribute).is_some_and(|v| is_true(&v)),
                    _ => {}
                }
            }
        }
        let resolved = match type_given {
            Some(given) => Some(given),
            None => {
                let declared = self.declared_type(decl);
                let mut named = None;
                if let Some(xsi_type) = xsi_type {
                    let Some(name) = scanner.resolve_content_qname(&xsi_type) else {
                        self.violation(
                            self.path.clone(),
                            format!(
                                "the prefix of xsi:type \"{}\" is not declared",
                                shorten(&xsi_type)
                            ),
                        );
                        return Kind::Skip;
                    };
                    let type_ref = TypeRef::Named(name);
                    if schema.resolve_type(&type_ref).is_none() {
                        self.violation(
                            self.path.clone(),
                            format!("xsi:type names the unknown type \"{}\"", shorten(&xsi_type)),
                        );
                        return Kind::Skip;
                    }
                    if let Some(declared) = declared
                        && !self.derives_from(&type_ref, declared)
                    {
                        self.violation(
                            self.path.clone(),
                            format!(
                                "xsi:type \"{}\" does not derive from the declared type",
                                shorten(&xsi_type)
                            ),
                        );
                        return Kind::Skip;
                    }
                    named = Some(type_ref);
                }
                match named.as_ref().or(declared) {
                    Some(type_ref) => schema.resolve_type(type_ref),
                    None => Some(ResolvedType::AnyType),
                }
            }
        };
        if xsi_nil {
            if decl.nillable {
                return Kind::Nil { reported: false };
            }
            self.violation(
                self.path.clone(),
                format!("the element {} is not nillable", decl.name),
            );
            return Kind::Skip;
        }
        let Some(resolved) = resolved else {
            return Kind::Skip;
        };
        match resolved {
            ResolvedType::AnyType | ResolvedType::Lax => Kind::Skip,
            ResolvedType::Builtin(_) | ResolvedType::Simple(_) => {
                let insert_at = Some(self.violations.len());
                self.no_attributes(scanner, start);
                self.text.clear();
                Kind::Simple {
                    resolved,
                    decl,
                    insert_at,
                    has_children: false,
                }
            }
            ResolvedType::Complex(complex) => {
                if complex.is_abstract {
                    self.violation(
                        self.path.clone(),
                        "the element's type is abstract; give a derived type with xsi:type",
                    );
                    return Kind::Skip;
                }
                self.attributes(scanner, start, complex);
                if matches!(complex.content, ComplexContent::Simple { .. }) {
                    self.text.clear();
                    return Kind::Simple {
                        resolved,
                        decl,
                        insert_at: None,
                        has_children: false,
                    };
                }
                let segment = self.matcher.open(schema, complex);
                let mut mixed = complex.mixed;
                if let ComplexContent::Elements {
                    derivation: Some((_, base)),
                    ..
                } = &complex.content
                    && matches!(
                        schema.resolve_type(base),
                        Some(ResolvedType::AnyType | ResolvedType::Lax)
                    )
                    && self.matcher.particle_count(segment) == 0
                    && complex.attributes.is_empty()
                {
                    mixed = true;
                }
                Kind::Complex {
                    segment,
                    mixed,
                    content_mark: self.violations.len(),
                    text_reported: false,
                    failed: false,
                }
            }
        }
    }

    fn end(&mut self) {
        if self.skip > 0 {
            self.skip -= 1;
            return;
        }
        let Some(open) = self.open.pop() else {
            return;
        };
        match open.kind {
            Kind::Simple {
                resolved,
                decl,
                insert_at,
                has_children: false,
            } => {
                let text = std::mem::take(&mut self.text);
                self.simple_value(resolved, decl, &text, insert_at);
                self.text = text;
                self.text.clear();
            }
            Kind::Complex {
                segment,
                failed,
                content_mark,
                text_reported,
                ..
            } => {
                if !failed
                    && let Outcome::Failed(message) =
                        self.matcher
                            .offer(self.schema, &mut self.budget, segment, None)
                {
                    self.violations
                        .truncate(content_mark + usize::from(text_reported));
                    self.violation(self.path.clone(), message);
                }
                self.matcher.close(segment);
            }
            Kind::Simple { .. } | Kind::Skip | Kind::Nil { .. } => {}
        }
        self.path.truncate(open.path_len);
    }

    fn text(&mut self, text: &str) {
        if self.skip > 0 {
            return;
        }
        let Some(open) = self.open.last_mut() else {
            return;
        };
        let significant = || !text.chars().all(is_xml_whitespace);
        match &mut open.kind {
            Kind::Simple {
                has_children: false,
                ..
            } => self.text.push_str(text),
            Kind::Nil { reported } if !*reported && significant() => {
                *reported = true;
                self.violation(
                    self.path.clone(),
                    "an element with xsi:nil=\"true\" must be empty",
                );
            }
            Kind::Complex {
                mixed: false,
                text_reported,
                content_mark,
                ..
            } if !*text_reported && significant() => {
                *text_reported = true;
                let at = *content_mark;
                self.insert_violation(
                    at,
                    self.path.clone(),
                    "character data is not allowed in element-only content".to_owned(),
                );
            }
            _ => {}
        }
    }

    fn simple_value(
        &mut self,
        resolved: ResolvedType<'s>,
        decl: &ElementDecl,
        text: &str,
        insert_at: Option<usize>,
    ) {
        if text.is_empty() && (decl.default.is_some() || decl.fixed.is_some()) {
            return;
        }
        let message = match self.schema.check_simple(resolved, text, 0) {
            Err(message) => message,
            Ok(()) => match &decl.fixed {
                Some(fixed) if text.trim() != fixed.trim() => format!(
                    "value \"{}\" differs from the fixed value \"{}\"",
                    shorten(text),
                    shorten(fixed)
                ),
                _ => return,
            },
        };
        match insert_at {
            Some(at) => self.insert_violation(at, self.path.clone(), message),
            None => self.violation(self.path.clone(), message),
        }
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
        if matches!(base, TypeRef::Named(name) if name.is(XSD_NS, "anyType")) {
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

    fn no_attributes(&mut self, scanner: &Scanner<'_>, start: &BytesStart<'_>) {
        for attribute in start.attributes().flatten() {
            if attribute.key.as_namespace_binding().is_some() {
                continue;
            }
            let (namespace, local) = scanner.attribute_name(attribute.key);
            if namespace == Some(XSI_NS) {
                continue;
            }
            self.violation(
                format!("{}/@{}", self.path, local.into_inner()),
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
        self.schema
            .attribute_uses(complex, |base| self.schema.resolve_type(base))
    }

    fn attributes(
        &mut self,
        scanner: &Scanner<'_>,
        start: &BytesStart<'_>,
        complex: &'s ComplexType,
    ) {
        let (uses, wildcard) = self.attribute_uses(complex);
        for attribute in start.attributes().flatten() {
            if attribute.key.as_namespace_binding().is_some() {
                continue;
            }
            let (namespace, local) = scanner.attribute_name(attribute.key);
            if namespace == Some(XSI_NS) {
                continue;
            }
            let local = local.into_inner();
            let attribute_path = || format!("{}/@{local}", self.path);
            let value = attribute_value(&attribute).unwrap_or_default();
            let found = uses
                .iter()
                .find(|u| u.name.local == local && u.name.namespace.as_deref() == namespace);
            match found {
                Some(u) if u.use_kind == AttributeUseKind::Prohibited => {
                    let path = attribute_path();
                    self.violation(path, "the attribute is prohibited");
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
                        && let Err(message) = self.schema.validate_simple(type_ref, &value)
                    {
                        let path = attribute_path();
                        self.violation(path, message);
                        continue;
                    }
                    if let Some(fixed) = &u.fixed
                        && value.trim() != fixed.trim()
                    {
                        let path = attribute_path();
                        self.violation(
                            path,
                            format!(
                                "value \"{}\" differs from the fixed value \"{}\"",
                                shorten(&value),
                                shorten(fixed)
                            ),
                        );
                    }
                }
                None => {
                    if !wildcard.is_some_and(|w| w.namespaces.admits(namespace))
                        && namespace != Some(crate::version::XML_NS)
                    {
                        let path = attribute_path();
                        self.violation(path, "the attribute is not allowed here");
                    }
                }
            }
        }
        for u in uses {
            if u.use_kind != AttributeUseKind::Required {
                continue;
            }
            let present = start.attributes().flatten().any(|attribute| {
                let (namespace, local) = scanner.attribute_name(attribute.key);
                attribute.key.as_namespace_binding().is_none()
                    && local.as_ref() == u.name.local
                    && namespace == u.name.namespace.as_deref()
            });
            if !present {
                self.violation(
                    self.path.clone(),
                    format!("the required attribute {} is missing", u.name),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LoadOptions, Loaded, load_bytes};

    const RPC_WSDL: &str = r#"<definitions xmlns="http://schemas.xmlsoap.org/wsdl/"
    xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
    xmlns:xs="http://www.w3.org/2001/XMLSchema"
    xmlns:tns="urn:ithaca:test:calc" targetNamespace="urn:ithaca:test:calc" name="Calc">
  <types>
    <xs:schema targetNamespace="urn:ithaca:test:calc">
      <xs:simpleType name="Small">
        <xs:restriction base="xs:int"><xs:maxInclusive value="100"/></xs:restriction>
      </xs:simpleType>
      <xs:complexType name="Point">
        <xs:sequence>
          <xs:element name="x" type="xs:int"/>
          <xs:element name="y" type="xs:int"/>
        </xs:sequence>
      </xs:complexType>
      <xs:element name="label" type="xs:string" nillable="true"/>
    </xs:schema>
  </types>
  <message name="addRequest">
    <part name="a" type="tns:Small"/>
    <part name="b" type="xs:int"/>
    <part name="origin" type="tns:Point"/>
    <part name="note" element="tns:label"/>
  </message>
  <message name="addResponse"><part name="sum" type="xs:int"/></message>
  <message name="logRequest"><part name="line" type="xs:string"/></message>
  <portType name="Calc">
    <operation name="add"><input message="tns:addRequest"/><output message="tns:addResponse"/></operation>
    <operation name="log"><input message="tns:logRequest"/></operation>
  </portType>
  <binding name="CalcBinding" type="tns:Calc">
    <soap:binding style="rpc" transport="http://schemas.xmlsoap.org/soap/http"/>
    <operation name="add">
      <soap:operation soapAction="urn:calc#add"/>
      <input><soap:body use="literal" namespace="urn:ithaca:test:calc:rpc"/></input>
      <output><soap:body use="literal" namespace="urn:ithaca:test:calc:rpc"/></output>
    </operation>
    <operation name="log">
      <soap:operation soapAction="urn:calc#log"/>
      <input><soap:body use="encoded" namespace="urn:ithaca:test:calc:rpc"
        encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"/></input>
    </operation>
  </binding>
  <service name="CalcService">
    <port name="CalcPort" binding="tns:CalcBinding">
      <soap:address location="http://localhost/calc"/>
    </port>
  </service>
</definitions>"#;

    fn calc() -> Loaded {
        let loaded = load_bytes("calc.wsdl", RPC_WSDL.as_bytes(), &LoadOptions::default());
        assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics);
        loaded
    }

    fn wrapper(loaded: &Loaded, operation: &str) -> Option<RpcWrapper> {
        let operations = loaded.definitions.operations(&loaded.schema);
        let op = operations.iter().find(|op| op.name == operation).unwrap();
        RpcWrapper::for_input(&loaded.definitions, &loaded.schema, op)
    }

    fn rpc(xml: &str) -> String {
        let loaded = calc();
        let wrapper = wrapper(&loaded, "add").unwrap();
        let scope = [NamespaceBinding {
            prefix: Some("r".to_owned()),
            uri: "urn:ithaca:test:calc:rpc".to_owned(),
        }];
        match loaded
            .schema
            .validate_rpc(xml, &scope, &wrapper, &InstanceLimits::default())
        {
            Ok(()) => "ok".to_owned(),
            Err(violations) => violations
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }

    #[test]
    fn rpc_literal_requests_are_checked_part_by_part() {
        let valid =
            "<r:add><a>5</a><b>-3</b><origin><x>1</x><y>2</y></origin><note>hi</note></r:add>";
        assert_eq!(rpc(valid), "ok");
        assert_eq!(
            rpc(
                "<r:add>\n  <a>5</a> <b>1</b><origin><x>1</x><y>2</y></origin><note xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:nil=\"true\"/>\n</r:add>"
            ),
            "ok",
            "whitespace between accessors, and a nillable element part"
        );
        assert_eq!(
            rpc(
                "<r:add><a>500</a><b>x</b><origin><x>1</x><y>q</y></origin><note>hi</note></r:add>"
            ),
            "/add/a: value \"500\" is outside maxInclusive 100\n\
             /add/b: value \"x\" is not a valid xs:int\n\
             /add/origin/y: value \"q\" is not a valid xs:int"
        );
        assert_eq!(
            rpc("<r:add><a>5</a><b>1</b><origin><x>1</x><y>2</y></origin></r:add>"),
            "/add: missing element note"
        );
        assert_eq!(
            rpc("<r:add><b>1</b><a>5</a></r:add>"),
            "/add: unexpected element b; expected a"
        );
        assert_eq!(
            rpc("<r:add><r:a>5</r:a></r:add>"),
            "/add: unexpected element {urn:ithaca:test:calc:rpc}a; expected a",
            "accessors are unqualified"
        );
        assert_eq!(
            rpc(
                "<r:add><a>5</a><b>1</b><origin><x>1</x><y>2</y></origin><note>hi</note><extra/></r:add>"
            ),
            "/add: unexpected element extra"
        );
        assert_eq!(
            rpc("<r:subtract/>"),
            "/: expected the element {urn:ithaca:test:calc:rpc}add, found {urn:ithaca:test:calc:rpc}subtract"
        );
        assert_eq!(
            rpc("<add><a>5</a></add>"),
            "/: expected the element {urn:ithaca:test:calc:rpc}add, found add"
        );
    }

    #[test]
    fn encoded_operations_have_no_wrapper() {
        let loaded = calc();
        assert!(wrapper(&loaded, "log").is_none());
        assert_eq!(
            wrapper(&loaded, "add").unwrap().name(),
            &QName::new("urn:ithaca:test:calc:rpc", "add")
        );
    }

    const LIST_XSD: &str = r#"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"
    targetNamespace="urn:l" xmlns:l="urn:l" elementFormDefault="qualified">
  <xs:element name="list">
    <xs:complexType>
      <xs:sequence>
        <xs:element name="item" type="xs:int" maxOccurs="unbounded"/>
        <xs:element name="end" type="xs:string"/>
      </xs:sequence>
    </xs:complexType>
  </xs:element>
</xs:schema>"#;

    fn list(xml: &str) -> Result<(), Vec<Violation>> {
        let loaded = load_bytes("l.xsd", LIST_XSD.as_bytes(), &LoadOptions::default());
        let name = QName::new("urn:l", "list");
        loaded
            .schema
            .validate_element(xml, &[], Some(&name), &InstanceLimits::default())
    }

    #[test]
    fn long_repetitions_stream_in_linear_time() {
        let mut xml = String::from(r#"<l:list xmlns:l="urn:l">"#);
        for i in 0..50_000 {
            xml.push_str(&format!("<l:item>{i}</l:item>"));
        }
        xml.push_str("<l:end>.</l:end></l:list>");
        assert_eq!(list(&xml), Ok(()));
        let bad = xml.replace("<l:item>49999</l:item>", "<l:item>z</l:item>");
        let violations = list(&bad).unwrap_err();
        assert_eq!(
            violations[0].to_string(),
            r#"/list/item: value "z" is not a valid xs:int"#
        );
    }

    #[test]
    fn violations_keep_tree_order_when_text_comes_after_children() {
        // The character data is seen after the child's violation, yet it is
        // reported first, as a walk of the tree would.
        let violations =
            list(r#"<l:list xmlns:l="urn:l"><l:item>x</l:item><l:end/>text</l:list>"#).unwrap_err();
        let messages: Vec<String> = violations.iter().map(ToString::to_string).collect();
        assert_eq!(
            messages,
            [
                "/list: character data is not allowed in element-only content",
                r#"/list/item: value "x" is not a valid xs:int"#,
            ]
        );
        // A content mismatch replaces what the children reported.
        let violations =
            list(r#"<l:list xmlns:l="urn:l"><l:item>x</l:item></l:list>"#).unwrap_err();
        assert_eq!(violations.len(), 1);
        assert_eq!(
            violations[0].to_string(),
            "/list: missing element {urn:l}end"
        );
    }

    #[test]
    fn refusals_of_the_whole_fragment() {
        let first = |xml: &str| list(xml).unwrap_err()[0].to_string();
        assert_eq!(first(""), "/: expected exactly one element");
        assert_eq!(
            first(r#"<l:list xmlns:l="urn:l"/><l:list xmlns:l="urn:l"/>"#),
            "/: expected exactly one element"
        );
        assert!(
            first("<l:list xmlns:l=\"urn:l\"><!DOCTYPE x></l:list>")
                .starts_with("/: not well-formed XML")
        );
        assert!(
            first("<l:list xmlns:l=\"urn:l\">&ent;</l:list>").starts_with("/: not well-formed XML")
        );
        assert!(first("<x:list/>").starts_with("/: not well-formed XML"));
        let limits = InstanceLimits {
            max_nodes: 3,
            ..InstanceLimits::default()
        };
        let loaded = load_bytes("l.xsd", LIST_XSD.as_bytes(), &LoadOptions::default());
        let xml = r#"<l:list xmlns:l="urn:l"><l:item>1</l:item><l:item>2</l:item><l:item>3</l:item><l:end/></l:list>"#;
        let violations = loaded
            .schema
            .validate_element(xml, &[], None, &limits)
            .unwrap_err();
        assert_eq!(
            violations[0].message,
            "the element holds more than 3 elements"
        );
    }
}
