//! A thin layer over quick-xml's `Writer` that escapes everything it is
//! given, for the writers of this crate.
//!
//! Text is escaped so that a conforming reader gets exactly the characters
//! back: `&`, `<` and `>` always, carriage returns as `&#xD;` (else a reader
//! would turn them into line feeds), and in attribute values also `"`,
//! tabs and line feeds (else attribute normalisation would turn them into
//! spaces). Characters XML 1.0 cannot carry at all become U+FFFD.

use std::borrow::Cow;

use quick_xml::Writer;
use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::name::QName as XmlName;

use crate::error::WriteError;
use crate::scan::is_xml_char;

/// An XML writer into a byte vector.
pub(crate) struct XmlOut<'w> {
    writer: Writer<&'w mut Vec<u8>>,
}

impl<'w> XmlOut<'w> {
    pub(crate) fn new(out: &'w mut Vec<u8>) -> Self {
        Self {
            writer: Writer::new(out),
        }
    }

    /// Writes `<?xml version="1.0" encoding="utf-8"?>`.
    pub(crate) fn declaration(&mut self) -> Result<(), WriteError> {
        self.writer
            .write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))?;
        Ok(())
    }

    /// Writes a start tag; attribute values are given unescaped.
    pub(crate) fn start(
        &mut self,
        name: &str,
        attributes: &[(&str, &str)],
    ) -> Result<(), WriteError> {
        let tag = tag(name, attributes);
        self.writer.write_event(Event::Start(tag))?;
        Ok(())
    }

    /// Writes an empty-element tag; attribute values are given unescaped.
    pub(crate) fn empty(
        &mut self,
        name: &str,
        attributes: &[(&str, &str)],
    ) -> Result<(), WriteError> {
        let tag = tag(name, attributes);
        self.writer.write_event(Event::Empty(tag))?;
        Ok(())
    }

    /// Writes an end tag.
    pub(crate) fn end(&mut self, name: &str) -> Result<(), WriteError> {
        self.writer.write_event(Event::End(BytesEnd::new(name)))?;
        Ok(())
    }

    /// Writes character data, escaping it.
    pub(crate) fn text(&mut self, text: &str) -> Result<(), WriteError> {
        let escaped = escape(text, false);
        self.writer
            .write_event(Event::Text(BytesText::from_escaped(escaped)))?;
        Ok(())
    }

    /// Writes an element holding only character data.
    pub(crate) fn text_element(
        &mut self,
        name: &str,
        attributes: &[(&str, &str)],
        text: &str,
    ) -> Result<(), WriteError> {
        self.start(name, attributes)?;
        self.text(text)?;
        self.end(name)
    }

    /// Writes bytes the caller vouches are well-formed XML content.
    pub(crate) fn raw(&mut self, bytes: &[u8]) -> Result<(), WriteError> {
        self.writer.get_mut().extend_from_slice(bytes);
        Ok(())
    }
}

fn tag<'a>(name: &'a str, attributes: &[(&'a str, &'a str)]) -> BytesStart<'a> {
    let mut tag = BytesStart::new(name);
    for &(key, value) in attributes {
        tag.push_attribute(Attribute {
            key: XmlName(key),
            value: escape(value, true),
        });
    }
    tag
}

/// Escapes `text` for element content, or for a double-quoted attribute
/// value when `attribute` is true.
pub(crate) fn escape(text: &str, attribute: bool) -> Cow<'_, str> {
    let needs_escape = |c: char| {
        matches!(c, '&' | '<' | '>' | '\r')
            || (attribute && matches!(c, '"' | '\t' | '\n'))
            || !is_xml_char(c)
    };
    if !text.contains(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '\r' => escaped.push_str("&#xD;"),
            '"' if attribute => escaped.push_str("&quot;"),
            '\t' if attribute => escaped.push_str("&#x9;"),
            '\n' if attribute => escaped.push_str("&#xA;"),
            c if !is_xml_char(c) => escaped.push('\u{FFFD}'),
            c => escaped.push(c),
        }
    }
    Cow::Owned(escaped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_text_and_attributes() {
        assert_eq!(escape("plain", false), "plain");
        assert_eq!(escape("a<b>&c\r\n\"", false), "a&lt;b&gt;&amp;c&#xD;\n\"");
        assert_eq!(escape("a\"b\tc\nd", true), "a&quot;b&#x9;c&#xA;d");
        assert_eq!(
            escape("nul\u{0}ffff\u{FFFF}", false),
            "nul\u{FFFD}ffff\u{FFFD}"
        );
    }
}
