//! XML plumbing for the codec: escaping, text content with references,
//! and raw elements kept as self-contained XML (captured with the
//! namespace bindings they inherit, checked when given by a caller).

use std::borrow::Cow;

use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::name::{PrefixDeclaration, ResolveResult};
use quick_xml::{NsReader, XmlVersion};

use crate::wire::WireError;

/// The most elements a fragment given to [`split_fragment`] may hold.
const MAX_FRAGMENT_ELEMENTS: usize = 1024;
/// The deepest nesting a fragment given to [`split_fragment`] may have.
const MAX_FRAGMENT_DEPTH: usize = 32;

/// Appends `text` escaped for character data or a double-quoted attribute.
///
/// Runs of bytes that need no escaping are copied at once (every byte
/// escaped is ASCII, so a run never splits a character).
pub(crate) fn escape_into(out: &mut String, text: &str) {
    let mut rest = text;
    while let Some(at) = rest.bytes().position(needs_escape) {
        let (plain, tail) = rest.split_at(at);
        out.push_str(plain);
        let mut chars = tail.chars();
        out.push_str(match chars.next() {
            Some('&') => "&amp;",
            Some('<') => "&lt;",
            Some('>') => "&gt;",
            Some('"') => "&quot;",
            _ => "&#13;",
        });
        rest = chars.as_str();
    }
    out.push_str(rest);
}

/// Whether [`escape_into`] replaces the byte.
fn needs_escape(byte: u8) -> bool {
    matches!(byte, b'&' | b'<' | b'>' | b'"' | b'\r')
}

/// The text of a predefined entity or character reference.
pub(crate) fn resolve_reference(reference: &BytesRef<'_>) -> Result<Cow<'static, str>, WireError> {
    if let Ok(Some(c)) = reference.resolve_char_ref() {
        return Ok(Cow::Owned(c.to_string()));
    }
    let text = match &**reference {
        "lt" => "<",
        "gt" => ">",
        "amp" => "&",
        "apos" => "'",
        "quot" => "\"",
        _ => {
            return Err(WireError::malformed(
                "an entity other than the predefined ones",
            ));
        }
    };
    Ok(Cow::Borrowed(text))
}

/// Reads the simple content of the element just started (up to and
/// including its end tag): text, CDATA and references, at most `max`
/// bytes, no child element.
pub(crate) fn read_text(
    reader: &mut NsReader<&[u8]>,
    what: &'static str,
    max: usize,
) -> Result<String, WireError> {
    let mut text = String::new();
    loop {
        let piece: Cow<'_, str> = match reader.read_event().map_err(WireError::xml)? {
            // Both borrow the input (copied only when line ends change).
            Event::Text(t) => t.xml10_content(),
            Event::CData(c) => c.xml10_content(),
            Event::GeneralRef(r) => resolve_reference(&r)?,
            Event::Comment(_) | Event::PI(_) => Cow::Borrowed(""),
            Event::End(_) => break,
            Event::Start(_) | Event::Empty(_) => return Err(WireError::Unexpected(what)),
            Event::Eof | Event::Decl(_) | Event::DocType(_) => {
                return Err(WireError::malformed("unexpected end or declaration"));
            }
        };
        if text.len().saturating_add(piece.len()) > max {
            return Err(WireError::TooLong(what));
        }
        if text.is_empty() {
            // The usual case, one piece: no second copy.
            text = piece.into_owned();
        } else {
            text.push_str(&piece);
        }
    }
    Ok(text)
}

/// Adds to `used` the prefixes (`None`: the default namespace) that
/// element and attribute names use in `content`, the raw text of an
/// element's content.
fn content_prefixes<'c>(content: &'c str, used: &mut Vec<Option<&'c str>>) {
    if !content.contains('<') {
        // Text only (the usual reference parameter): no names.
        return;
    }
    let mut note = |prefix: Option<&'c str>| {
        if !used.contains(&prefix) {
            used.push(prefix);
        }
    };
    let mut reader = quick_xml::Reader::from_str(content);
    while let Ok(event) = reader.read_event() {
        match event {
            Event::Start(tag) | Event::Empty(tag) => {
                note(qname_prefix(content, tag.name().into_inner()));
                for attribute in tag.attributes().flatten() {
                    if attribute.key.as_namespace_binding().is_none()
                        && attribute.key.prefix().is_some()
                    {
                        note(qname_prefix(content, attribute.key.into_inner()));
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
}

/// The prefix of the qualified name `name` (a slice of `content`), as a
/// slice of `content` again so that it outlives the reader's events.
fn qname_prefix<'c>(content: &'c str, name: &str) -> Option<&'c str> {
    let colon = name.find(':')?;
    let offset = (name.as_ptr() as usize).checked_sub(content.as_ptr() as usize)?;
    content.get(offset..offset.checked_add(colon)?)
}

/// The namespace bindings in scope at the element being captured, copied
/// into one buffer (they are gone from the reader once its end tag is
/// read): each as the range of its prefix (`None`: the default
/// namespace) and of its namespace in `text`.
#[derive(Default)]
struct Scope {
    text: String,
    bindings: Vec<(Option<std::ops::Range<usize>>, std::ops::Range<usize>)>,
}

impl Scope {
    fn of(reader: &NsReader<&[u8]>) -> Self {
        let mut scope = Self::default();
        for (prefix, namespace) in reader.resolver().bindings() {
            let prefix = match prefix {
                PrefixDeclaration::Default => None,
                PrefixDeclaration::Named(prefix) => Some(scope.push(prefix)),
            };
            let namespace = scope.push(namespace.into_inner());
            scope.bindings.push((prefix, namespace));
        }
        scope
    }

    fn push(&mut self, text: &str) -> std::ops::Range<usize> {
        let start = self.text.len();
        self.text.push_str(text);
        start..self.text.len()
    }

    fn get(&self, range: &std::ops::Range<usize>) -> &str {
        self.text.get(range.clone()).unwrap_or_default()
    }

    /// The bindings whose prefix is in `used`, in prefix order (the
    /// default namespace first).
    fn used(&self, used: &[Option<&str>]) -> Vec<(Option<&str>, &str)> {
        let mut kept: Vec<(Option<&str>, &str)> = self
            .bindings
            .iter()
            .map(|(prefix, namespace)| (prefix.as_ref().map(|p| self.get(p)), self.get(namespace)))
            .filter(|(prefix, _)| used.contains(prefix))
            .collect();
        kept.sort_by(|a, b| a.0.cmp(&b.0));
        kept
    }
}

/// Captures the element whose start tag the reader just returned
/// (`empty` for `<x/>`) as self-contained XML in the codec's canonical
/// form: its start tag rewritten to declare, in prefix order, each
/// namespace binding in scope (its own or inherited) whose prefix an
/// element or attribute name in it uses, then its other attributes
/// except those for which `drop` answers true; its content copied
/// verbatim. Leaves the reader after its end tag.
///
/// Prefixes used only inside attribute values or text (QName content)
/// must be declared on the element itself or inside it to survive.
pub(crate) fn capture_element<'i>(
    reader: &mut NsReader<&'i [u8]>,
    input: &'i [u8],
    start: &BytesStart<'i>,
    empty: bool,
    max: usize,
    what: &'static str,
    mut drop: impl FnMut(&ResolveResult<'_>, &str) -> bool,
) -> Result<String, WireError> {
    let name = start.name().into_inner();
    let scope = Scope::of(reader);
    let mut used: Vec<Option<&str>> = Vec::with_capacity(4);
    used.push(start.name().prefix().map(|p| p.into_inner()));
    let mut out = String::with_capacity(256);
    out.push('<');
    out.push_str(name);
    // The attributes are written after the declarations, which are known
    // only once the content is read.
    let mut attributes = String::new();
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|e| WireError::malformed(&e.to_string()))?;
        if attribute.key.as_namespace_binding().is_some() {
            continue;
        }
        let (resolved, local) = reader.resolver().resolve_attribute(attribute.key);
        if drop(&resolved, local.as_ref()) {
            continue;
        }
        if let Some(prefix) = attribute.key.prefix() {
            let prefix = Some(prefix.into_inner());
            if !used.contains(&prefix) {
                used.push(prefix);
            }
        }
        let value = attribute
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|e| WireError::malformed(&e.to_string()))?;
        attributes.push(' ');
        attributes.push_str(attribute.key.into_inner());
        attributes.push_str("=\"");
        escape_into(&mut attributes, &value);
        attributes.push('"');
    }
    let content = if empty {
        None
    } else {
        let span = reader.read_to_end(start.name()).map_err(WireError::xml)?;
        let from = usize::try_from(span.start).unwrap_or(usize::MAX);
        let to = usize::try_from(span.end).unwrap_or(usize::MAX);
        let content = input
            .get(from..to)
            .ok_or_else(|| WireError::malformed("an element past the end of the input"))?;
        if content.len() > max {
            return Err(WireError::TooLong(what));
        }
        let content = std::str::from_utf8(content)
            .map_err(|_| WireError::malformed("content that is not UTF-8"))?;
        content_prefixes(content, &mut used);
        Some(content)
    };
    for (prefix, uri) in scope.used(&used) {
        match prefix {
            None => out.push_str(" xmlns=\""),
            Some(prefix) => {
                out.push_str(" xmlns:");
                out.push_str(prefix);
                out.push_str("=\"");
            }
        }
        escape_into(&mut out, uri);
        out.push('"');
    }
    out.push_str(&attributes);
    match content {
        None => out.push_str("/>"),
        Some(content) => {
            out.push('>');
            out.push_str(content);
            out.push_str("</");
            out.push_str(name);
            out.push('>');
        }
    }
    if out.len() > max {
        return Err(WireError::TooLong(what));
    }
    Ok(out)
}

/// Splits a fragment of concatenated, self-contained elements (text
/// between them may only be whitespace) into its elements, checking each
/// is well-formed and binds every prefix it uses.
pub(crate) fn split_fragment(fragment: &str) -> Result<Vec<String>, WireError> {
    let mut reader = NsReader::from_str(fragment);
    let config = reader.config_mut();
    config.check_end_names = true;
    config.allow_unmatched_ends = false;
    config.allow_dangling_amp = false;
    let mut elements = Vec::new();
    let mut depth = 0usize;
    let mut count = 0usize;
    let mut begin = 0usize;
    loop {
        let before = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let (resolved, event) = reader.read_resolved_event().map_err(WireError::xml)?;
        if matches!(resolved, ResolveResult::Unknown(_)) {
            return Err(WireError::malformed(
                "an unbound prefix in a reference parameter",
            ));
        }
        match event {
            Event::Start(start) | Event::Empty(start) => {
                check_attribute_prefixes(&reader, &start)?;
                count += 1;
                if count > MAX_FRAGMENT_ELEMENTS {
                    return Err(WireError::TooLong("reference parameters"));
                }
                if depth == 0 {
                    begin = before;
                }
                // The raw text of the tag tells an empty-element tag.
                let end = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
                let empty = fragment
                    .get(before..end)
                    .is_some_and(|tag| tag.trim_end().ends_with("/>"));
                if !empty {
                    depth += 1;
                    if depth > MAX_FRAGMENT_DEPTH {
                        return Err(WireError::TooLong("reference parameter nesting"));
                    }
                } else if depth == 0 {
                    elements.push(slice(fragment, begin, end)?);
                }
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    let end = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
                    elements.push(slice(fragment, begin, end)?);
                }
            }
            Event::Text(text) => {
                if depth == 0 && !text.xml10_content().trim().is_empty() {
                    return Err(WireError::malformed("text between reference parameters"));
                }
            }
            Event::GeneralRef(reference) => {
                resolve_reference(&reference)?;
                if depth == 0 {
                    return Err(WireError::malformed("text between reference parameters"));
                }
            }
            Event::CData(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::Decl(_) | Event::DocType(_) => {
                return Err(WireError::malformed(
                    "a declaration in a reference parameter",
                ));
            }
            Event::Eof => break,
        }
    }
    if depth != 0 {
        return Err(WireError::malformed("an unclosed reference parameter"));
    }
    Ok(elements)
}

fn check_attribute_prefixes(
    reader: &NsReader<&[u8]>,
    start: &BytesStart<'_>,
) -> Result<(), WireError> {
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|e| WireError::malformed(&e.to_string()))?;
        let (resolved, _) = reader.resolver().resolve_attribute(attribute.key);
        if matches!(resolved, ResolveResult::Unknown(_)) {
            return Err(WireError::malformed(
                "an unbound prefix in a reference parameter",
            ));
        }
    }
    Ok(())
}

fn slice(fragment: &str, begin: usize, end: usize) -> Result<String, WireError> {
    fragment
        .get(begin..end)
        .map(str::to_owned)
        .ok_or_else(|| WireError::malformed("a reference parameter out of range"))
}
