//! A checked, namespace-aware XML event source shared by the readers.
//!
//! [`Scanner`] wraps quick-xml's `NsReader` over a byte slice and enforces
//! everything the readers rely on: UTF-8 only, no DOCTYPE, no entity other
//! than XML's predefined ones, namespace well-formedness, a single root
//! element, and every limit in [`Limits`]. Readers built on it only deal
//! with the SOAP structure.
//!
//! The namespace scope is a quick-xml `NamespaceResolver` the scanner
//! keeps itself (pushed on each start tag, popped after each end tag, as
//! `NsReader` does) so that its buffers can be reused: when a scanner is
//! dropped, its resolver goes back to a one-slot pool of the thread and
//! the next scanner on that thread starts from it, reset, instead of
//! allocating a new one. A resolver that took outer bindings
//! ([`Scanner::declare_outer`]) or holds more than [`POOLED_SCOPE_BYTES`]
//! of declarations is not kept.

use std::borrow::Cow;
use std::cell::Cell;
use std::ops::Range;
use std::sync::LazyLock;

use quick_xml::XmlVersion;
use quick_xml::errors::{Error as XmlError, IllFormedError, SyntaxError};
use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{NamespaceError, NamespaceResolver, ResolveResult};
use quick_xml::reader::Reader;

use crate::error::ReadError;
use crate::limits::Limits;
use crate::names::is_qname;
use crate::qname::{NamespaceBinding, QName};

/// The UTF-8 byte order mark, which the scanner skips.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// One step through a document, as the readers see it.
#[derive(Debug)]
pub(crate) enum Token<'i> {
    /// A start tag, or an empty-element tag (which is always followed by
    /// an [`Token::End`] with an empty range).
    Start(Element<'i>),
    /// An end tag; `range` covers the tag itself.
    End {
        /// The bytes of the end tag in the input.
        range: Range<usize>,
    },
    /// A piece of character data, with references resolved.
    Text {
        /// The characters, line ends normalised.
        text: Cow<'i, str>,
        /// Where the piece starts in the input.
        position: usize,
    },
    /// The end of the document, reached with every element closed.
    Eof,
}

/// A start tag seen by the scanner.
#[derive(Debug)]
pub(crate) struct Element<'i> {
    /// The tag as quick-xml parsed it.
    pub(crate) start: BytesStart<'i>,
    /// The bytes of the start tag in the input.
    pub(crate) range: Range<usize>,
}

/// Where the scanner stands relative to the root element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Root {
    Before,
    Inside,
    After,
}

/// The most bytes of namespace declarations (prefixes and URIs) a
/// scanner may have read for its resolver to be pooled when it is dropped.
pub(crate) const POOLED_SCOPE_BYTES: usize = 4096;

thread_local! {
    /// The namespace resolver the last scanner on this thread left, for
    /// the next one.
    static POOLED_RESOLVER: Cell<Option<NamespaceResolver>> = const { Cell::new(None) };
}

/// A namespace resolver taken from the thread's pool (or made), returned
/// to it on drop when [`PooledResolver::keep`] still allows it.
struct PooledResolver {
    /// `None` only once dropped.
    resolver: Option<NamespaceResolver>,
    /// Bytes of namespace declarations pushed so far.
    declared: usize,
    /// Whether the resolver may go back to the pool.
    keep: bool,
}

impl PooledResolver {
    fn take(max_bindings: usize) -> Self {
        let mut resolver = POOLED_RESOLVER
            .try_with(Cell::take)
            .ok()
            .flatten()
            .unwrap_or_default();
        // Back to the document's start: only the `xml` and `xmlns`
        // bindings (level 0) stay.
        resolver.set_level(0);
        resolver.set_max_namespace_bindings(max_bindings);
        Self {
            resolver: Some(resolver),
            declared: 0,
            keep: true,
        }
    }

    fn get(&self) -> &NamespaceResolver {
        /// Never used: the resolver is only absent once dropped.
        static ABSENT: LazyLock<NamespaceResolver> = LazyLock::new(NamespaceResolver::default);
        self.resolver.as_ref().unwrap_or(&ABSENT)
    }

    fn get_mut(&mut self) -> &mut NamespaceResolver {
        self.resolver.get_or_insert_with(NamespaceResolver::default)
    }
}

impl Drop for PooledResolver {
    fn drop(&mut self) {
        if self.keep && self.declared <= POOLED_SCOPE_BYTES {
            let resolver = self.resolver.take();
            // Gone when the thread is ending: then it is simply freed.
            let _ = POOLED_RESOLVER.try_with(|pool| pool.set(resolver));
        }
    }
}

/// A checked, namespace-aware pull parser over a byte slice.
pub(crate) struct Scanner<'i> {
    reader: Reader<&'i [u8]>,
    /// The namespace bindings in scope.
    resolver: PooledResolver,
    /// Whether the resolver's innermost scope is to be popped before the
    /// next event (an end tag was returned).
    pending_pop: bool,
    /// How many bytes (a byte order mark) precede what the reader sees.
    base: usize,
    len: usize,
    limits: Limits,
    depth: usize,
    elements: usize,
    text_run: usize,
    root: Root,
    /// Whether an empty-element tag was just returned, so that the next
    /// token is its synthetic end.
    pending_empty_end: Option<usize>,
    seen_event: bool,
}

impl<'i> Scanner<'i> {
    /// Prepares to scan `input`, checking its size and encoding first.
    pub(crate) fn new(input: &'i [u8], limits: Limits) -> Result<Self, ReadError> {
        if input.len() > limits.max_size {
            return Err(ReadError::TooLarge {
                size: input.len(),
                limit: limits.max_size,
            });
        }
        check_characters(input)?;
        let (base, body) = match input.strip_prefix(BOM) {
            Some(rest) => (BOM.len(), rest),
            None => (0, input),
        };
        let mut reader = Reader::from_reader(body);
        let config = reader.config_mut();
        config.check_comments = true;
        config.check_end_names = true;
        config.allow_unmatched_ends = false;
        config.allow_dangling_amp = false;
        config.expand_empty_elements = false;
        config.trim_text(false);
        Ok(Self {
            reader,
            resolver: PooledResolver::take(limits.max_namespace_bindings),
            pending_pop: false,
            base,
            len: input.len(),
            limits,
            depth: 0,
            elements: 0,
            text_run: 0,
            root: Root::Before,
            pending_empty_end: None,
            seen_event: false,
        })
    }

    /// The byte offset in the input just after the last token.
    pub(crate) fn position(&self) -> usize {
        self.base
            .saturating_add(usize::try_from(self.reader.buffer_position()).unwrap_or(usize::MAX))
    }

    /// Puts `bindings` in scope before the input's first element, for a
    /// fragment cut from a larger document. Bindings that may not be
    /// declared (the `xml` and `xmlns` prefixes, names that are not
    /// NCNames) are left out, as are those past the binding limit.
    pub(crate) fn declare_outer(&mut self, bindings: &[NamespaceBinding]) {
        use quick_xml::name::{Namespace, PrefixDeclaration};
        // Bindings at the document's level cannot be reset: not pooled.
        self.resolver.keep = false;
        let resolver = self.resolver.get_mut();
        for binding in bindings {
            let prefix = match binding.prefix.as_deref() {
                None => PrefixDeclaration::Default,
                Some(prefix) if crate::names::is_ncname(prefix) => PrefixDeclaration::Named(prefix),
                Some(_) => continue,
            };
            // A refused binding (a reserved prefix) stays out of scope.
            let _ = resolver.add(prefix, Namespace(&binding.uri));
        }
    }

    /// Resolves an attribute's name against the bindings now in scope: its
    /// namespace URI (`None` for an unprefixed attribute) and local name.
    pub(crate) fn attribute_name<'k>(
        &self,
        key: quick_xml::name::QName<'k>,
    ) -> (Option<&str>, quick_xml::name::LocalName<'k>) {
        let (resolved, local) = self.resolver.get().resolve_attribute(key);
        (bound_namespace(&resolved), local)
    }

    /// Reads the next token.
    pub(crate) fn next_token(&mut self) -> Result<Token<'i>, ReadError> {
        if let Some(at) = self.pending_empty_end.take() {
            self.close_element();
            return Ok(Token::End { range: at..at });
        }
        loop {
            if self.pending_pop {
                self.resolver.get_mut().pop();
                self.pending_pop = false;
            }
            let before = self.position();
            let event = self
                .reader
                .read_event()
                .map_err(|error| self.map_error(error, before))?;
            let after = self.position();
            let first = !self.seen_event;
            self.seen_event = true;
            match event {
                Event::Start(start) => {
                    let element = self.open_element(start, before..after)?;
                    return Ok(Token::Start(element));
                }
                Event::Empty(start) => {
                    // Its scope ends with it, before the next event.
                    self.pending_pop = true;
                    let element = self.open_element(start, before..after)?;
                    self.pending_empty_end = Some(after);
                    return Ok(Token::Start(element));
                }
                Event::End(_) => {
                    self.pending_pop = true;
                    self.text_run = 0;
                    self.close_element();
                    return Ok(Token::End {
                        range: before..after,
                    });
                }
                Event::Text(text) => {
                    let text = text.xml10_content();
                    if let Some(token) = self.text(text, before, after)? {
                        return Ok(token);
                    }
                }
                Event::CData(data) => {
                    let text = data.xml10_content();
                    if self.root != Root::Inside {
                        return Err(malformed(before, "character data outside the root element"));
                    }
                    self.grow_text(before, after)?;
                    return Ok(Token::Text {
                        text,
                        position: before,
                    });
                }
                Event::GeneralRef(reference) => {
                    if self.root != Root::Inside {
                        return Err(malformed(before, "a reference outside the root element"));
                    }
                    self.grow_text(before, after)?;
                    let text = resolve_reference(&reference, before, after)?;
                    return Ok(Token::Text {
                        text,
                        position: before,
                    });
                }
                Event::Comment(_) | Event::PI(_) => {
                    self.text_run = 0;
                    self.check_run(after.saturating_sub(before), after)?;
                }
                Event::Decl(decl) => {
                    if !first || before != self.base {
                        return Err(malformed(
                            before,
                            "an XML declaration must start the document",
                        ));
                    }
                    if is_common_declaration(&decl) {
                        continue;
                    }
                    decl.version()
                        .map_err(|error| malformed(before, &error.to_string()))?;
                    if let Some(encoding) = decl.encoding() {
                        let encoding =
                            encoding.map_err(|error| malformed(before, &error.to_string()))?;
                        if !encoding.eq_ignore_ascii_case("utf-8")
                            && !encoding.eq_ignore_ascii_case("utf8")
                        {
                            return Err(ReadError::UnsupportedEncoding {
                                encoding: encoding.into_owned(),
                            });
                        }
                    }
                }
                Event::DocType(_) => return Err(ReadError::Doctype { position: before }),
                Event::Eof => {
                    return match self.root {
                        Root::Before => Err(ReadError::Empty),
                        Root::Inside => Err(ReadError::Truncated { position: self.len }),
                        Root::After => Ok(Token::Eof),
                    };
                }
            }
        }
    }

    /// Resolves an element's name against the bindings now in scope.
    ///
    /// Call it on the element of the last [`Token::Start`] before reading
    /// the next token; the scanner already refused unbound prefixes.
    pub(crate) fn element_name(&self, start: &BytesStart<'_>) -> QName {
        let (resolved, local) = self.resolver.get().resolve_element(start.name());
        QName {
            namespace: bound_namespace(&resolved).map(str::to_owned),
            local: local.as_ref().to_owned(),
        }
    }

    /// Tells whether an element is in `namespace` with local name `local`,
    /// without allocating.
    pub(crate) fn element_is(&self, start: &BytesStart<'_>, namespace: &str, local: &str) -> bool {
        let (resolved, name) = self.resolver.get().resolve_element(start.name());
        name.as_ref() == local && bound_namespace(&resolved) == Some(namespace)
    }

    /// The namespace URI of an element, if it has one.
    pub(crate) fn element_namespace(&self, start: &BytesStart<'_>) -> Option<&str> {
        let (resolved, _) = self.resolver.get().resolve_element(start.name());
        bound_namespace(&resolved)
    }

    /// Resolves a prefixed name written in content, such as the value of a
    /// SOAP fault code, against the bindings now in scope.
    pub(crate) fn resolve_content_qname(&self, value: &str) -> Option<QName> {
        let value = value.trim_matches(is_xml_whitespace);
        let (prefix, local) = match value.split_once(':') {
            Some((prefix, local)) => (Some(prefix), local),
            None => (None, value),
        };
        if local.is_empty() || local.contains(':') || prefix.is_some_and(str::is_empty) {
            return None;
        }
        // An unprefixed QName in content takes the default namespace, as an
        // element name does.
        let (resolved, _) = self
            .resolver
            .get()
            .resolve_element(quick_xml::name::QName(value));
        let namespace = match resolved {
            ResolveResult::Bound(ns) => Some(ns.0.to_owned()).filter(|uri| !uri.is_empty()),
            ResolveResult::Unbound => None,
            ResolveResult::Unknown(_) => return None,
        };
        Some(QName {
            namespace,
            local: local.to_owned(),
        })
    }

    /// Looks up an attribute in `namespace` with local name `local` and
    /// returns its value with references resolved.
    pub(crate) fn attribute<'s>(
        &self,
        start: &'s BytesStart<'i>,
        namespace: &str,
        local: &str,
    ) -> Option<Cow<'s, str>> {
        let resolver = self.resolver.get();
        start.attributes().flatten().find_map(|attribute| {
            let (resolved, name) = resolver.resolve_attribute(attribute.key);
            (name.as_ref() == local && bound_namespace(&resolved) == Some(namespace))
                .then(|| attribute_value(&attribute))
                .flatten()
        })
    }

    /// Reads up to the end of the element whose start tag was just read
    /// and returns the range of its end tag (empty, just after the tag, for
    /// an empty-element tag).
    pub(crate) fn skip_element(&mut self) -> Result<Range<usize>, ReadError> {
        let mut depth = 1usize;
        loop {
            match self.next_token()? {
                Token::Start(_) => depth = depth.saturating_add(1),
                Token::End { range } => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return Ok(range);
                    }
                }
                Token::Text { .. } => {}
                Token::Eof => return Err(ReadError::Truncated { position: self.len }),
            }
        }
    }

    /// Checks a start tag and opens its namespace scope, in one pass over
    /// its attributes: each namespace declaration is added to the
    /// resolver as it is met (what `NsReader` does in a pass of its own
    /// before returning the tag), every attribute is checked, and the
    /// prefixes of the element and of its other attributes are resolved
    /// once all of the tag's declarations are in scope.
    fn open_element(
        &mut self,
        start: BytesStart<'i>,
        range: Range<usize>,
    ) -> Result<Element<'i>, ReadError> {
        self.text_run = 0;
        let position = range.start;
        // The tag's scope, popped after its end tag like `NsReader`'s.
        let level = self.resolver.get().level();
        let Some(inner) = level.checked_add(1) else {
            return Err(ReadError::TooDeep {
                limit: usize::from(u16::MAX),
                position,
            });
        };
        self.resolver.get_mut().set_level(inner);
        match self.root {
            Root::Before => self.root = Root::Inside,
            Root::Inside => {}
            Root::After => return Err(malformed(position, "a second root element")),
        }
        self.elements = self.elements.saturating_add(1);
        if self.elements > self.limits.max_elements {
            return Err(ReadError::TooManyElements {
                limit: self.limits.max_elements,
            });
        }
        self.depth = self.depth.saturating_add(1);
        if self.depth > self.limits.max_depth {
            return Err(ReadError::TooDeep {
                limit: self.limits.max_depth,
                position,
            });
        }
        if !is_qname(start.name().as_ref()) {
            return Err(malformed(position, "an element name that is not a QName"));
        }
        // Duplicate names are found here, without the allocation of
        // quick-xml's own check, for the first `SEEN` attributes; a tag
        // with more goes through quick-xml's check once more. The same
        // list keeps the prefixed names to resolve after the pass.
        const SEEN: usize = 8;
        let mut seen: [&str; SEEN] = [""; SEEN];
        let mut count = 0usize;
        // Whether an attribute other than a declaration has a prefix.
        let mut prefixed = false;
        // Bytes of namespace declarations, for the resolver's pooling.
        let mut declared = 0usize;
        let mut attributes = start.attributes();
        attributes.with_checks(false);
        for attribute in attributes {
            let attribute = attribute.map_err(|error| malformed(position, &error.to_string()))?;
            let key = attribute.key.into_inner();
            if count < SEEN {
                if seen
                    .get(..count)
                    .is_some_and(|earlier| earlier.contains(&key))
                {
                    return Err(duplicated_attribute(&start, position));
                }
                if let Some(slot) = seen.get_mut(count) {
                    *slot = key;
                }
            } else if count == SEEN
                && let Some(error) = start.attributes().find_map(Result::err)
            {
                return Err(malformed(position, &error.to_string()));
            }
            count = count.saturating_add(1);
            if count > self.limits.max_attributes {
                return Err(ReadError::TooManyAttributes {
                    limit: self.limits.max_attributes,
                    position,
                });
            }
            if !is_qname(attribute.key.as_ref()) {
                return Err(malformed(position, "an attribute name that is not a QName"));
            }
            let value = attribute.value;
            if value.len() > self.limits.max_attribute_len {
                return Err(ReadError::AttributeTooLong {
                    limit: self.limits.max_attribute_len,
                    position,
                });
            }
            if value.contains('<') {
                return Err(malformed(position, "`<` in an attribute value"));
            }
            if value.contains('&') {
                check_attribute_references(&value, position)?;
            }
            if let Some(prefix) = attribute.key.as_namespace_binding() {
                declared = declared
                    .saturating_add(attribute.key.as_ref().len())
                    .saturating_add(value.len());
                // The raw value, as `NsReader` binds it.
                if let Err(error) = self
                    .resolver
                    .get_mut()
                    .add(prefix, quick_xml::name::Namespace(&value))
                {
                    return Err(self.map_error(XmlError::Namespace(error), position));
                }
            } else if attribute.key.prefix().is_some() {
                prefixed = true;
            }
        }
        self.resolver.declared = self.resolver.declared.saturating_add(declared);
        let resolver = self.resolver.get();
        if let (ResolveResult::Unknown(prefix), _) = resolver.resolve_element(start.name()) {
            return Err(malformed(position, &format!("unbound prefix `{prefix}`")));
        }
        if prefixed {
            // Every prefixed attribute that is not a declaration, now that
            // the whole tag's declarations are in scope.
            let mut rest = start.attributes();
            rest.with_checks(false);
            for attribute in rest.flatten() {
                if attribute.key.as_namespace_binding().is_none()
                    && let (ResolveResult::Unknown(prefix), _) =
                        resolver.resolve_attribute(attribute.key)
                {
                    return Err(malformed(position, &format!("unbound prefix `{prefix}`")));
                }
            }
        }
        Ok(Element { start, range })
    }

    fn close_element(&mut self) {
        self.depth = self.depth.saturating_sub(1);
        if self.depth == 0 {
            self.root = Root::After;
        }
    }

    fn text(
        &mut self,
        text: Cow<'i, str>,
        before: usize,
        after: usize,
    ) -> Result<Option<Token<'i>>, ReadError> {
        if self.root != Root::Inside {
            if text.chars().all(is_xml_whitespace) {
                return Ok(None);
            }
            return Err(malformed(before, "character data outside the root element"));
        }
        self.grow_text(before, after)?;
        Ok(Some(Token::Text {
            text,
            position: before,
        }))
    }

    fn grow_text(&mut self, before: usize, after: usize) -> Result<(), ReadError> {
        self.text_run = self.text_run.saturating_add(after.saturating_sub(before));
        self.check_run(self.text_run, after)
    }

    fn check_run(&self, len: usize, position: usize) -> Result<(), ReadError> {
        if len > self.limits.max_text_len {
            return Err(ReadError::TextTooLong {
                limit: self.limits.max_text_len,
                position,
            });
        }
        Ok(())
    }

    fn map_error(&self, error: XmlError, before: usize) -> ReadError {
        match error {
            XmlError::Syntax(SyntaxError::InvalidBangMarkup) => {
                malformed(before, &SyntaxError::InvalidBangMarkup.to_string())
            }
            // Every other syntax error is markup left open at the end of
            // the input.
            XmlError::Syntax(_) | XmlError::IllFormed(IllFormedError::MissingEndTag(_)) => {
                ReadError::Truncated { position: self.len }
            }
            XmlError::Namespace(NamespaceError::TooManyBindings(limit)) => {
                ReadError::TooManyNamespaces {
                    limit,
                    position: before,
                }
            }
            XmlError::Encoding(_) => ReadError::InvalidUtf8 { position: before },
            other => malformed(before, &other.to_string()),
        }
    }
}

/// The XML declarations most documents start with (version 1.0, UTF-8 or
/// no encoding, in either quote), written exactly so: they pass the
/// checks of the general path (a version, an encoding that is UTF-8), so
/// they are accepted with one comparison instead of parsing the
/// declaration's attributes twice.
fn is_common_declaration(content: &str) -> bool {
    matches!(
        content,
        r#"xml version="1.0" encoding="UTF-8""#
            | r#"xml version="1.0" encoding="utf-8""#
            | r#"xml version='1.0' encoding='UTF-8'"#
            | r#"xml version='1.0' encoding='utf-8'"#
            | r#"xml version="1.0""#
            | r#"xml version='1.0'"#
    )
}

/// The error for a start tag with a duplicated attribute name, as
/// quick-xml's own check words it.
#[cold]
fn duplicated_attribute(start: &BytesStart<'_>, position: usize) -> ReadError {
    match start.attributes().find_map(Result::err) {
        Some(error) => malformed(position, &error.to_string()),
        None => malformed(position, "a duplicated attribute"),
    }
}

/// Declarations of namespaces (`xmlns`, `xmlns:p`) made on an element
/// that the scanner returned (so its attributes are already checked).
pub(crate) fn declared_namespaces(start: &BytesStart<'_>) -> Vec<NamespaceBinding> {
    let mut attributes = start.attributes();
    attributes.with_checks(false);
    attributes
        .flatten()
        .filter_map(|attribute| {
            use quick_xml::name::PrefixDeclaration;
            let prefix = match attribute.key.as_namespace_binding()? {
                PrefixDeclaration::Default => None,
                PrefixDeclaration::Named(prefix) => Some(prefix.to_owned()),
            };
            let uri = attribute_value(&attribute)?.into_owned();
            Some(NamespaceBinding { prefix, uri })
        })
        .collect()
}

/// The namespace declarations of a start tag the scanner read before:
/// `tag` is its bytes, `<` to `>` (or `/>`). Anything else gives none.
pub(crate) fn declared_namespaces_in_tag(tag: &[u8]) -> Vec<NamespaceBinding> {
    let Ok(tag) = std::str::from_utf8(tag) else {
        return Vec::new();
    };
    let Some(content) = tag
        .strip_prefix('<')
        .and_then(|rest| rest.strip_suffix('>'))
    else {
        return Vec::new();
    };
    let content = content.strip_suffix('/').unwrap_or(content);
    let name_len = content
        .find(|c: char| is_xml_whitespace(c))
        .unwrap_or(content.len());
    declared_namespaces(&BytesStart::from_content(content, name_len))
}

/// The value of an attribute with references resolved and whitespace
/// normalised, as XML 1.0 defines for attributes of type CDATA.
pub(crate) fn attribute_value<'a>(attribute: &Attribute<'a>) -> Option<Cow<'a, str>> {
    attribute.normalized_value(XmlVersion::Implicit1_0).ok()
}

fn bound_namespace<'a>(resolved: &ResolveResult<'a>) -> Option<&'a str> {
    match resolved {
        ResolveResult::Bound(ns) => Some(ns.0).filter(|uri| !uri.is_empty()),
        _ => None,
    }
}

fn malformed(position: usize, message: &str) -> ReadError {
    ReadError::Malformed {
        position,
        message: message.to_owned(),
    }
}

/// Tells whether `c` is whitespace as XML defines it.
pub(crate) fn is_xml_whitespace(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// Tells whether `c` is a character XML 1.0 allows in a document.
pub(crate) fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Checks that `input` is UTF-8 and holds only characters XML 1.0 allows.
fn check_characters(input: &[u8]) -> Result<(), ReadError> {
    let text = std::str::from_utf8(input).map_err(|error| ReadError::InvalidUtf8 {
        position: error.valid_up_to(),
    })?;
    // In valid UTF-8, a control character is a single byte below 0x20 and
    // U+FFFE and U+FFFF are EF BF BE and EF BF BF; every other character
    // of valid UTF-8 is allowed by XML 1.0.
    let bytes = text.as_bytes();
    // A branch-free pass (which the compiler vectorises) rules out almost
    // every input; only inputs with a suspect byte take the exact loop.
    let suspect = bytes.iter().fold(false, |found, &byte| {
        found | (byte < 0x20 && byte != b'\t' && byte != b'\n' && byte != b'\r') | (byte == 0xEF)
    });
    if !suspect {
        return Ok(());
    }
    for (position, &byte) in bytes.iter().enumerate() {
        let bad = match byte {
            b'\t' | b'\n' | b'\r' => false,
            0..0x20 => true,
            0xEF => {
                bytes.get(position + 1) == Some(&0xBF)
                    && matches!(bytes.get(position + 2), Some(0xBE | 0xBF))
            }
            _ => false,
        };
        if bad {
            return Err(ReadError::InvalidCharacter { position });
        }
    }
    Ok(())
}

/// Resolves a reference found in character data: one of XML's five
/// predefined entities or a character reference to an allowed character.
fn resolve_reference<'i>(
    reference: &quick_xml::events::BytesRef<'i>,
    before: usize,
    after: usize,
) -> Result<Cow<'i, str>, ReadError> {
    if reference.is_char_ref() {
        return match reference.resolve_char_ref() {
            Ok(Some(c)) if is_xml_char(c) => Ok(Cow::Owned(c.to_string())),
            _ => Err(ReadError::InvalidCharacter { position: before }),
        };
    }
    let name: &str = reference;
    match quick_xml::escape::resolve_predefined_entity(name) {
        Some(text) => Ok(Cow::Borrowed(text)),
        None => Err(ReadError::UndeclaredEntity {
            name: name.to_owned(),
            position: after,
        }),
    }
}

/// Checks the references in an attribute value the same way as those in
/// character data.
fn check_attribute_references(value: &str, position: usize) -> Result<(), ReadError> {
    let mut rest = value;
    while let Some(start) = rest.find('&') {
        let after_amp = rest.get(start + 1..).unwrap_or_default();
        let Some(end) = after_amp.find(';') else {
            return Err(malformed(
                position,
                "unterminated reference in an attribute value",
            ));
        };
        let name = after_amp.get(..end).unwrap_or_default();
        let reference = quick_xml::events::BytesRef::new(name);
        resolve_reference(&reference, position, position)?;
        rest = after_amp.get(end + 1..).unwrap_or_default();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_all(input: &str) -> Result<(), ReadError> {
        let mut scanner = Scanner::new(input.as_bytes(), Limits::default())?;
        while !matches!(scanner.next_token()?, Token::Eof) {}
        Ok(())
    }

    #[test]
    fn common_declarations_pass_the_general_checks_too() {
        for declaration in [
            r#"<?xml version="1.0" encoding="UTF-8"?>"#,
            r#"<?xml version="1.0" encoding="utf-8"?>"#,
            r#"<?xml version='1.0' encoding='UTF-8'?>"#,
            r#"<?xml version='1.0' encoding='utf-8'?>"#,
            r#"<?xml version="1.0"?>"#,
            r#"<?xml version='1.0'?>"#,
        ] {
            let mut reader = Reader::from_str(declaration);
            let Ok(Event::Decl(decl)) = reader.read_event() else {
                panic!("{declaration} is no declaration");
            };
            assert!(is_common_declaration(&decl), "{declaration}");
            assert!(decl.version().is_ok(), "{declaration}");
            if let Some(encoding) = decl.encoding() {
                assert!(encoding.unwrap().eq_ignore_ascii_case("utf-8"));
            }
            scan_all(&format!("{declaration}<r/>")).unwrap();
        }
        // Anything else takes the general path, with its errors.
        assert!(!is_common_declaration(
            r#"xml version="1.0" encoding="latin1""#
        ));
        assert!(matches!(
            scan_all(r#"<?xml version="1.0" encoding="latin1"?><r/>"#),
            Err(ReadError::UnsupportedEncoding { .. })
        ));
        assert!(scan_all(r#"<?xml encoding="UTF-8"?><r/>"#).is_err());
        assert!(scan_all(r#"<r/><?xml version="1.0"?>"#).is_err());
    }

    #[test]
    fn a_pooled_resolver_keeps_no_binding_of_an_earlier_document() {
        scan_all(r#"<a:r xmlns:a="urn:a" xmlns="urn:d"><a:x/></a:r>"#).unwrap();
        // The next document on this thread starts with `a` unbound.
        assert!(matches!(
            scan_all("<a:r/>"),
            Err(ReadError::Malformed { .. })
        ));
        // A document that stops half-way leaves its scopes open; the next
        // one starts clean all the same.
        assert!(scan_all(r#"<b:r xmlns:b="urn:b"><b:x>"#).is_err());
        assert!(matches!(
            scan_all("<b:r/>"),
            Err(ReadError::Malformed { .. })
        ));
        // Outer bindings hold for their scanner only.
        let mut scanner = Scanner::new(b"<c:r/>", Limits::default()).unwrap();
        scanner.declare_outer(&[NamespaceBinding {
            prefix: Some("c".into()),
            uri: "urn:c".into(),
        }]);
        while !matches!(scanner.next_token().unwrap(), Token::Eof) {}
        drop(scanner);
        assert!(matches!(
            scan_all("<c:r/>"),
            Err(ReadError::Malformed { .. })
        ));
    }

    #[test]
    fn scopes_end_with_their_elements() {
        // The default namespace of an empty element does not reach its
        // sibling, nor that of a closed element the next one.
        let input = br#"<r><x xmlns="urn:x"/><y/><z xmlns="urn:z"></z><w/></r>"#;
        let mut scanner = Scanner::new(input, Limits::default()).unwrap();
        let mut names = Vec::new();
        loop {
            match scanner.next_token().unwrap() {
                Token::Start(element) => names.push(scanner.element_name(&element.start)),
                Token::Eof => break,
                _ => {}
            }
        }
        assert_eq!(
            names,
            vec![
                QName::unqualified("r"),
                QName::new("urn:x", "x"),
                QName::unqualified("y"),
                QName::new("urn:z", "z"),
                QName::unqualified("w"),
            ]
        );
    }

    #[test]
    fn the_binding_limit_is_each_scanners_own() {
        let input = r#"<r xmlns:a="urn:a" xmlns:b="urn:b" xmlns:c="urn:c"/>"#;
        let limits = Limits {
            max_namespace_bindings: 2,
            ..Limits::default()
        };
        let mut scanner = Scanner::new(input.as_bytes(), limits).unwrap();
        assert!(matches!(
            scanner.next_token(),
            Err(ReadError::TooManyNamespaces { .. })
        ));
        drop(scanner);
        scan_all(input).unwrap();
    }
}
