//! Incremental matching of an element's children against its content
//! model, one child at a time, as a streaming validator sees them.
//!
//! The matcher decides, for each child as it arrives, which particle of
//! the content model takes it (an element declaration or a wildcard), so
//! that the child can be validated while it streams; at the end tag it
//! tells whether the model is complete. Matching is greedy with one child
//! of lookahead and never backtracks, which is exact for schemas that obey
//! the Unique Particle Attribution rule, as XSD requires. The recursion
//! over particles and model groups is kept on an explicit stack of frames
//! shared by every open element (an element's frames sit above its
//! parent's while it is open), so nothing is allocated per element once
//! the stack has grown.

use std::fmt;

use crate::qname::QName;

use super::model::{
    ComplexContent, ComplexType, Compositor, Derivation, ElementDecl, ModelGroup, Particle,
    ProcessContents, Term, Wildcard,
};
use super::set::{MAX_DERIVATION_CHAIN, ResolvedType, SchemaSet};

/// The deepest nesting of model groups followed.
const MAX_GROUP_DEPTH: usize = 64;

/// An element's expanded name as read, borrowed from the reader.
#[derive(Debug, Clone, Copy)]
pub(super) struct ChildName<'a> {
    /// The namespace URI, `None` for no namespace.
    pub(super) namespace: Option<&'a str>,
    /// The local name.
    pub(super) local: &'a str,
}

impl ChildName<'_> {
    /// Tells whether this is `name`.
    pub(super) fn is(&self, name: &QName) -> bool {
        self.local == name.local && self.namespace == name.namespace.as_deref()
    }

    /// An owned copy, for lookups by name.
    pub(super) fn to_qname(self) -> QName {
        QName {
            namespace: self.namespace.map(str::to_owned),
            local: self.local.to_owned(),
        }
    }
}

/// Writes the name as [`QName`] does.
impl fmt::Display for ChildName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.namespace {
            Some(ns) => write!(f, "{{{ns}}}{}", self.local),
            None => f.write_str(self.local),
        }
    }
}

/// What a child element was matched to.
#[derive(Clone, Copy)]
pub(super) enum Assigned<'s> {
    /// An element declaration (the child may be a member of its
    /// substitution group).
    Decl(&'s ElementDecl),
    /// A wildcard.
    Wildcard(&'s Wildcard),
}

/// The wildcard standing for an element reference into a namespace whose
/// schema was not loaded.
pub(super) static LAX_ANY: Wildcard = Wildcard {
    namespaces: super::model::NamespaceConstraint::Any,
    process_contents: ProcessContents::Lax,
};

/// What offering a child (or the end tag) to the matcher gave.
pub(super) enum Outcome<'s> {
    /// The child is taken by this particle.
    Consumed(Assigned<'s>),
    /// The end tag came and the content model is complete.
    Complete,
    /// The children do not match; the message says why.
    Failed(String),
}

/// The shared step budget of one validation.
pub(super) struct Budget {
    pub(super) steps: usize,
    pub(super) max_steps: usize,
}

impl Budget {
    fn step(&mut self) -> Result<(), String> {
        self.steps += 1;
        if self.steps > self.max_steps {
            return Err("the content is too costly to validate".to_owned());
        }
        Ok(())
    }
}

/// Where one element's matcher state starts in the shared stacks.
#[derive(Debug, Clone, Copy)]
pub(super) struct Segment {
    frames: usize,
    counts: usize,
    particles: usize,
}

/// One level of the matching recursion.
enum Frame<'s> {
    /// The element's particles, in order (those of base types first).
    Top {
        index: usize,
        end: usize,
        /// Children taken so far.
        pos: usize,
    },
    /// A particle repeating its term up to `maxOccurs` times.
    Particle {
        particle: &'s Particle,
        start: usize,
        count: u32,
        depth: usize,
    },
    /// A sequence at its `index`-th particle.
    Sequence {
        model: &'s ModelGroup,
        index: usize,
        start: usize,
        depth: usize,
    },
    /// A choice trying its `index`-th particle.
    Choice {
        model: &'s ModelGroup,
        index: usize,
        emptiable: bool,
        depth: usize,
    },
    /// An `all` group; `counts` is where its per-particle counts start.
    All {
        model: &'s ModelGroup,
        start: usize,
        counts: usize,
    },
}

/// What a frame does next.
enum Action<'s> {
    Call(Frame<'s>),
    CallGroup(&'s ModelGroup, usize),
    Return(MatchResult),
    Suspend(Outcome<'s>),
}

/// `Ok(None)`: the term cannot start here and is not satisfied;
/// `Ok(Some(n))`: satisfied after `n` children; `Err`: started but could
/// not complete.
type MatchResult = Result<Option<usize>, String>;

/// The matcher state of every open element with element content.
#[derive(Default)]
pub(super) struct Matcher<'s> {
    frames: Vec<Frame<'s>>,
    counts: Vec<u32>,
    particles: Vec<&'s Particle>,
}

/// A matcher's buffers, empty, kept between validations (see
/// [`Matcher::into_buffers`]).
#[derive(Default)]
pub(super) struct MatcherBuffers {
    frames: Vec<Frame<'static>>,
    counts: Vec<u32>,
    particles: Vec<&'static Particle>,
}

impl MatcherBuffers {
    /// Whether the buffers together hold at most `max` entries.
    pub(super) fn capacity_within(&self, max: usize) -> bool {
        self.frames
            .capacity()
            .saturating_add(self.counts.capacity())
            .saturating_add(self.particles.capacity())
            <= max
    }
}

/// The allocation of `vec`, emptied, as a vector of another element type
/// (of the same size and alignment, the lifetimes of a borrowed schema
/// being the case here): the standard library's in-place collection keeps
/// the buffer, so a buffer can outlive the borrow its elements had.
/// Correct whatever the types: when the buffer cannot be kept, the result
/// is a new empty vector.
pub(super) fn recycle<T, U>(mut vec: Vec<T>) -> Vec<U> {
    vec.clear();
    vec.into_iter().filter_map(|_| None).collect()
}

impl<'s> Matcher<'s> {
    /// A matcher working in the buffers a previous one left.
    pub(super) fn with_buffers(buffers: MatcherBuffers) -> Self {
        let MatcherBuffers {
            frames,
            mut counts,
            particles,
        } = buffers;
        counts.clear();
        Self {
            frames: recycle(frames),
            counts,
            particles: recycle(particles),
        }
    }

    /// The matcher's buffers, emptied, for [`Matcher::with_buffers`].
    pub(super) fn into_buffers(self) -> MatcherBuffers {
        let Self {
            frames,
            mut counts,
            particles,
        } = self;
        counts.clear();
        MatcherBuffers {
            frames: recycle(frames),
            counts,
            particles: recycle(particles),
        }
    }

    /// Starts matching the children of an element of type `complex`.
    pub(super) fn open(&mut self, schema: &'s SchemaSet, complex: &'s ComplexType) -> Segment {
        let segment = Segment {
            frames: self.frames.len(),
            counts: self.counts.len(),
            particles: self.particles.len(),
        };
        content_particles(schema, complex, &mut self.particles, 0);
        self.frames.push(Frame::Top {
            index: segment.particles,
            end: self.particles.len(),
            pos: 0,
        });
        segment
    }

    /// How many particles (its own and inherited) the element whose
    /// matching started at `segment` has.
    pub(super) fn particle_count(&self, segment: Segment) -> usize {
        self.particles.len().saturating_sub(segment.particles)
    }

    /// Ends the element whose matching started at `segment`.
    pub(super) fn close(&mut self, segment: Segment) {
        self.frames.truncate(segment.frames);
        self.counts.truncate(segment.counts);
        self.particles.truncate(segment.particles);
    }

    /// Offers the next child (`None` at the end tag) to the innermost open
    /// element, whose matching started at `segment`.
    pub(super) fn offer(
        &mut self,
        schema: &'s SchemaSet,
        budget: &mut Budget,
        segment: Segment,
        child: Option<ChildName<'_>>,
    ) -> Outcome<'s> {
        let mut pos = match self.frames.get(segment.frames) {
            Some(Frame::Top { pos, .. }) => *pos,
            _ => return Outcome::Failed("internal error: content matcher".to_owned()),
        };
        let outcome = self.run(schema, budget, segment, child, &mut pos);
        if let Some(Frame::Top { pos: kept, .. }) = self.frames.get_mut(segment.frames) {
            *kept = pos;
        }
        outcome
    }

    fn run(
        &mut self,
        schema: &'s SchemaSet,
        budget: &mut Budget,
        segment: Segment,
        child: Option<ChildName<'_>>,
        pos: &mut usize,
    ) -> Outcome<'s> {
        let mut returned: Option<MatchResult> = None;
        loop {
            if self.frames.len() <= segment.frames {
                return Outcome::Failed("internal error: content matcher".to_owned());
            }
            let action = self.step(schema, budget, child, *pos, returned.take());
            match action {
                Action::Call(frame) => self.frames.push(frame),
                Action::CallGroup(model, depth) => {
                    let frame = group_frame(model, *pos, depth, self);
                    self.frames.push(frame);
                }
                Action::Return(result) => {
                    if let Some(Frame::All { counts, .. }) = self.frames.pop() {
                        // An `all` group's counts live as long as its frame.
                        self.counts.truncate(counts);
                    }
                    if self.frames.len() <= segment.frames {
                        return Outcome::Failed("internal error: content matcher".to_owned());
                    }
                    returned = Some(result);
                }
                Action::Suspend(outcome) => {
                    if matches!(outcome, Outcome::Consumed(_)) {
                        *pos += 1;
                    }
                    return outcome;
                }
            }
        }
    }

    /// Runs the top frame until it calls, returns or suspends. `returned`
    /// is the result of the frame it called, if it just returned.
    fn step(
        &mut self,
        schema: &'s SchemaSet,
        budget: &mut Budget,
        child: Option<ChildName<'_>>,
        pos: usize,
        returned: Option<MatchResult>,
    ) -> Action<'s> {
        let Some(frame) = self.frames.last_mut() else {
            return Action::Suspend(Outcome::Failed(
                "internal error: content matcher".to_owned(),
            ));
        };
        match frame {
            Frame::Top { index, end, .. } => {
                if let Some(result) = returned {
                    let particle = self.particles.get(*index).copied();
                    match result {
                        Ok(Some(_)) => *index += 1,
                        Ok(None) => {
                            let message = particle
                                .map_or_else(String::new, |p| mismatch_at(schema, p, child));
                            return Action::Suspend(Outcome::Failed(message));
                        }
                        Err(message) => return Action::Suspend(Outcome::Failed(message)),
                    }
                }
                if *index < *end
                    && let Some(particle) = self.particles.get(*index).copied()
                {
                    return Action::Call(Frame::Particle {
                        particle,
                        start: pos,
                        count: 0,
                        depth: 0,
                    });
                }
                match child {
                    Some(child) => {
                        Action::Suspend(Outcome::Failed(format!("unexpected element {child}")))
                    }
                    None => Action::Suspend(Outcome::Complete),
                }
            }
            Frame::Particle {
                particle,
                start,
                count,
                depth,
            } => {
                let particle: &'s Particle = particle;
                let occurs = particle.occurs;
                let mut done = false;
                if let Some(result) = returned {
                    match result {
                        Err(message) => return Action::Return(Err(message)),
                        Ok(None) => done = true,
                        Ok(Some(0)) => {
                            *count = (*count).max(occurs.min);
                            done = true;
                        }
                        Ok(Some(_)) => *count += 1,
                    }
                }
                if !done && occurs.max.is_none_or(|max| *count < max) {
                    if let Err(message) = budget.step() {
                        return Action::Return(Err(message));
                    }
                    if *depth > MAX_GROUP_DEPTH {
                        return Action::Return(
                            Err("the content model nests too deeply".to_owned()),
                        );
                    }
                    match leaf(schema, &particle.term, child) {
                        Leaf::Taken(assigned) => {
                            *count += 1;
                            return Action::Suspend(Outcome::Consumed(assigned));
                        }
                        Leaf::NotTaken => {}
                        Leaf::Empty => *count = (*count).max(occurs.min),
                        Leaf::Group(model) => return Action::CallGroup(model, *depth + 1),
                    }
                }
                if *count < occurs.min {
                    if pos == *start {
                        return Action::Return(Ok(None));
                    }
                    return Action::Return(Err(mismatch_at(schema, particle, child)));
                }
                Action::Return(Ok(Some(pos - *start)))
            }
            Frame::Sequence {
                model,
                index,
                start,
                depth,
            } => {
                let model: &'s ModelGroup = model;
                if let Some(result) = returned {
                    match result {
                        Err(message) => return Action::Return(Err(message)),
                        Ok(None) => {
                            if pos == *start {
                                return Action::Return(Ok(None));
                            }
                            let message = model
                                .particles
                                .get(*index)
                                .map_or_else(String::new, |p| mismatch_at(schema, p, child));
                            return Action::Return(Err(message));
                        }
                        Ok(Some(_)) => *index += 1,
                    }
                }
                match model.particles.get(*index) {
                    Some(particle) => Action::Call(Frame::Particle {
                        particle,
                        start: pos,
                        count: 0,
                        depth: *depth,
                    }),
                    None => Action::Return(Ok(Some(pos - *start))),
                }
            }
            Frame::Choice {
                model,
                index,
                emptiable,
                depth,
            } => {
                let model: &'s ModelGroup = model;
                if let Some(result) = returned {
                    match result {
                        Err(message) => return Action::Return(Err(message)),
                        Ok(Some(0)) => *emptiable = true,
                        Ok(Some(n)) => return Action::Return(Ok(Some(n))),
                        Ok(None) => {}
                    }
                    *index += 1;
                }
                match model.particles.get(*index) {
                    Some(particle) => Action::Call(Frame::Particle {
                        particle,
                        start: pos,
                        count: 0,
                        depth: *depth,
                    }),
                    None => Action::Return(Ok(emptiable.then_some(0))),
                }
            }
            Frame::All {
                model,
                start,
                counts,
            } => {
                let model: &'s ModelGroup = model;
                let (start, counts) = (*start, *counts);
                if let Some(child) = child {
                    if let Err(message) = budget.step() {
                        return Action::Return(Err(message));
                    }
                    for (index, particle) in model.particles.iter().enumerate() {
                        let Some(count) = self.counts.get_mut(counts + index) else {
                            continue;
                        };
                        if particle.occurs.max.is_some_and(|max| *count >= max) {
                            continue;
                        }
                        let assigned = match &particle.term {
                            Term::Element(d) if matches_decl(schema, &d.name, child) => {
                                Assigned::Decl(d)
                            }
                            Term::ElementRef(q) if matches_decl(schema, q, child) => {
                                match schema.element(q) {
                                    Some(decl) => Assigned::Decl(decl),
                                    None => Assigned::Wildcard(&LAX_ANY),
                                }
                            }
                            _ => continue,
                        };
                        *count += 1;
                        return Action::Suspend(Outcome::Consumed(assigned));
                    }
                }
                for (index, particle) in model.particles.iter().enumerate() {
                    let count = self.counts.get(counts + index).copied().unwrap_or(0);
                    if count < particle.occurs.min {
                        if pos == start {
                            return Action::Return(Ok(None));
                        }
                        return Action::Return(Err(format!(
                            "missing element {}",
                            first_names(schema, particle, 0)
                        )));
                    }
                }
                Action::Return(Ok(Some(pos - start)))
            }
        }
    }
}

/// The frame that matches a model group from `pos`.
fn group_frame<'s>(
    model: &'s ModelGroup,
    pos: usize,
    depth: usize,
    matcher: &mut Matcher<'s>,
) -> Frame<'s> {
    match model.compositor {
        Compositor::Sequence => Frame::Sequence {
            model,
            index: 0,
            start: pos,
            depth,
        },
        Compositor::Choice => Frame::Choice {
            model,
            index: 0,
            emptiable: model.particles.is_empty(),
            depth,
        },
        Compositor::All => {
            let counts = matcher.counts.len();
            matcher
                .counts
                .extend(std::iter::repeat_n(0, model.particles.len()));
            Frame::All {
                model,
                start: pos,
                counts,
            }
        }
    }
}

/// What a term does with the child at hand.
enum Leaf<'s> {
    /// An element term took the child.
    Taken(Assigned<'s>),
    /// An element term did not (or there is no child).
    NotTaken,
    /// A reference to a group that is not there: satisfied, empty.
    Empty,
    /// A model group, to be matched by its own frame.
    Group(&'s ModelGroup),
}

fn leaf<'s>(schema: &'s SchemaSet, term: &'s Term, child: Option<ChildName<'_>>) -> Leaf<'s> {
    match term {
        Term::Element(decl) => match child {
            Some(child) if matches_decl(schema, &decl.name, child) => {
                Leaf::Taken(Assigned::Decl(decl))
            }
            _ => Leaf::NotTaken,
        },
        Term::ElementRef(name) => match child {
            Some(child) if matches_decl(schema, name, child) => match schema.element(name) {
                Some(decl) => Leaf::Taken(Assigned::Decl(decl)),
                None => Leaf::Taken(Assigned::Wildcard(&LAX_ANY)),
            },
            _ => Leaf::NotTaken,
        },
        Term::Any(wildcard) => match child {
            Some(child) if wildcard.namespaces.admits(child.namespace) => {
                Leaf::Taken(Assigned::Wildcard(wildcard))
            }
            _ => Leaf::NotTaken,
        },
        Term::GroupRef(name) => match schema.group(name).and_then(|g| g.model.as_ref()) {
            Some(model) => Leaf::Group(model),
            None => Leaf::Empty,
        },
        Term::Group(model) => Leaf::Group(model),
    }
}

/// Tells whether a child named `child` matches the declaration named
/// `decl_name`: the same name, or a member of its substitution group.
/// The most matching steps [`check_children`] takes for one element (the
/// streaming validator's default budget).
const CHECK_MAX_STEPS: usize = 10_000_000;

/// Checks the names of an element's children, in document order, against
/// the content model of its type `complex` (order, occurrences, choices,
/// required elements), as the streaming validator does: `Err((Some(i),
/// why))` when child `i` does not fit, `Err((None, why))` when the content
/// ends incomplete.
pub(crate) fn check_children<'q>(
    schema: &SchemaSet,
    complex: &ComplexType,
    children: impl IntoIterator<Item = &'q QName>,
) -> Result<(), (Option<usize>, String)> {
    let mut matcher = Matcher::default();
    let mut budget = Budget {
        steps: 0,
        max_steps: CHECK_MAX_STEPS,
    };
    let segment = matcher.open(schema, complex);
    for (index, name) in children.into_iter().enumerate() {
        let child = ChildName {
            namespace: name.namespace.as_deref(),
            local: &name.local,
        };
        match matcher.offer(schema, &mut budget, segment, Some(child)) {
            Outcome::Consumed(_) => {}
            Outcome::Failed(message) => return Err((Some(index), message)),
            Outcome::Complete => {
                return Err((Some(index), format!("unexpected element {name}")));
            }
        }
    }
    match matcher.offer(schema, &mut budget, segment, None) {
        Outcome::Failed(message) => Err((None, message)),
        Outcome::Complete | Outcome::Consumed(_) => Ok(()),
    }
}

pub(super) fn matches_decl(schema: &SchemaSet, decl_name: &QName, child: ChildName<'_>) -> bool {
    child.is(decl_name) || substitutable(schema, decl_name, child)
}

/// Tells whether `member` is in the substitution group of `head`,
/// directly or not.
pub(super) fn substitutable(schema: &SchemaSet, head: &QName, member: ChildName<'_>) -> bool {
    // A head without direct members has no members at all; this spares
    // the lookup (and the owned name it needs) in the common case.
    if schema.substitution_group(head).is_empty() {
        return false;
    }
    let member = member.to_qname();
    let mut current = schema.element(&member);
    for _ in 0..MAX_DERIVATION_CHAIN {
        let Some(decl) = current else { return false };
        match &decl.substitution_group {
            Some(h) if h == head => return true,
            Some(h) => current = schema.element(h),
            None => return false,
        }
    }
    false
}

/// Why `particle` does not match at the child at hand: an unexpected
/// element, or a missing one at the end tag.
fn mismatch_at(schema: &SchemaSet, particle: &Particle, child: Option<ChildName<'_>>) -> String {
    let expected = first_names(schema, particle, 0);
    match child {
        Some(child) => format!("unexpected element {child}; expected {expected}"),
        None => format!("missing element {expected}"),
    }
}

/// Describes the elements a particle can start with, for messages.
fn first_names(schema: &SchemaSet, particle: &Particle, depth: usize) -> String {
    if depth > 16 {
        return "more content".to_owned();
    }
    match &particle.term {
        Term::Element(d) => d.name.to_string(),
        Term::ElementRef(q) => q.to_string(),
        Term::Any(_) => "any element".to_owned(),
        Term::GroupRef(q) => match schema.group(q).and_then(|g| g.model.as_ref()) {
            Some(m) => m
                .particles
                .first()
                .map_or_else(String::new, |p| first_names(schema, p, depth + 1)),
            None => q.to_string(),
        },
        Term::Group(m) => match m.compositor {
            Compositor::Choice => m
                .particles
                .iter()
                .map(|p| first_names(schema, p, depth + 1))
                .collect::<Vec<_>>()
                .join(" or "),
            _ => m
                .particles
                .first()
                .map_or_else(String::new, |p| first_names(schema, p, depth + 1)),
        },
    }
}

/// The particles of a complex type's element content, base types' first
/// for extensions.
fn content_particles<'s>(
    schema: &'s SchemaSet,
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
            && let Some(ResolvedType::Complex(base)) = schema.resolve_type(base)
        {
            content_particles(schema, base, out, depth + 1);
        }
        if let Some(p) = particle {
            out.push(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recycling_keeps_the_allocation() {
        let value = 7u32;
        let mut borrowed: Vec<&u32> = Vec::with_capacity(10);
        borrowed.push(&value);
        let buffer = borrowed.as_ptr().cast::<u8>();
        let kept: Vec<&'static u32> = recycle(borrowed);
        assert!(kept.is_empty());
        assert_eq!(kept.capacity(), 10);
        assert_eq!(kept.as_ptr().cast::<u8>(), buffer);
    }
}
