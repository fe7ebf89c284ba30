//! Flat wrapper elements, read and written in one pass: a wrapper
//! element whose children are unqualified elements without attributes
//! holding only character data (`<m:op xmlns:m="…"><a>1</a><b>x</b></m:op>`),
//! the shape of document/literal wrapped messages of simple parameters.
//!
//! Both fronts of the bridge use it for their one-pass paths. Every
//! reader here answers `None` for anything outside that shape, so that
//! the caller falls back to its general path (which reads any message
//! the contract allows, and gives the precise fault for the others).

use quick_xml::Reader;
use quick_xml::events::Event;

/// Whether `xml` may declare a default namespace (`xmlns=` or
/// `xmlns =`): a conservative byte search. It looks at each `=` (few in a
/// message, found eight bytes at a time) and whether `xmlns` and
/// whitespace come right before it.
pub(crate) fn declares_default_namespace(xml: &[u8]) -> bool {
    let mut from = 0;
    while let Some(at) = xml.get(from..).and_then(|rest| find_byte(rest, b'=')) {
        let at = from + at;
        if xml
            .get(..at)
            .is_some_and(|before| before.trim_ascii_end().ends_with(b"xmlns"))
        {
            return true;
        }
        from = at + 1;
    }
    false
}

/// The first position of `needle` in `haystack`, comparing a word of
/// eight bytes at a time (a byte-wise scan costs several instructions a
/// byte; this about one).
fn find_byte(haystack: &[u8], needle: u8) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let pattern = ONES * u64::from(needle);
    let mut chunks = haystack.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        // A zero byte in `x` (a byte equal to `needle`) sets its high bit
        // here; other bytes never do.
        let x = u64::from_le_bytes(word) ^ pattern;
        if x.wrapping_sub(ONES) & !x & HIGHS != 0 {
            return chunk.iter().position(|&b| b == needle).map(|i| offset + i);
        }
        offset += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == needle)
        .map(|i| offset + i)
}

/// Whether `payload` is `body` with only whitespace around it.
pub(crate) fn only_whitespace_around(payload: &[u8], body: &[u8]) -> bool {
    let trimmed = payload.trim_ascii();
    trimmed.len() == body.len() && !body.is_empty()
}

/// A flat wrapper element as read.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct FlatElement {
    /// The wrapper's local name.
    pub(crate) local: String,
    /// The namespace its prefix is bound to, when the wrapper declares it
    /// itself (`None` otherwise, or without a prefix).
    pub(crate) namespace: Option<String>,
    /// The children, as (name, text) pairs in document order.
    pub(crate) children: Vec<(String, String)>,
}

/// The element `xml` (one element, start to end tag) when each child is
/// an unqualified element without attributes holding only character data
/// and the wrapper has no attribute but prefix declarations; at most
/// `max` children.
pub(crate) fn read_children(xml: &[u8], max: usize) -> Option<FlatElement> {
    let mut children = Vec::new();
    let mut element = read_flat(xml, max, true, &mut |name, text| {
        children.push((name.to_owned(), text));
        Some(())
    })?;
    element.children = children;
    Some(element)
}

/// Reads `xml` as [`read_children`] does, handing each child's name and
/// text to `visit` in document order instead of collecting them (`None`
/// from `visit` stops the reading with `None`); answers how many children
/// there were. Nothing is allocated but the texts.
pub(crate) fn for_each_child(
    xml: &[u8],
    max: usize,
    visit: &mut dyn FnMut(&str, String) -> Option<()>,
) -> Option<usize> {
    let mut count = 0;
    read_flat(xml, max, false, &mut |name, text| {
        count += 1;
        visit(name, text)
    })?;
    Some(count)
}

/// The reader of [`read_children`] and [`for_each_child`]: the wrapper's
/// name and namespace are filled in only when `wrapper_names` is set; the
/// children go to `visit`.
fn read_flat(
    xml: &[u8],
    max: usize,
    wrapper_names: bool,
    visit: &mut dyn FnMut(&str, String) -> Option<()>,
) -> Option<FlatElement> {
    let text = std::str::from_utf8(xml).ok()?;
    let mut reader = Reader::from_str(text);
    let config = reader.config_mut();
    config.check_end_names = true;
    config.expand_empty_elements = false;
    let mut element = FlatElement::default();
    let (wrapper, empty) = match reader.read_event().ok()? {
        Event::Start(wrapper) => (wrapper, false),
        Event::Empty(wrapper) => (wrapper, true),
        _ => return None,
    };
    let name = wrapper.name();
    let (prefix, local) = match name.as_ref().split_once(':') {
        Some((prefix, local)) => (Some(prefix), local),
        None => (None, name.as_ref()),
    };
    if wrapper_names {
        element.local = local.to_owned();
    }
    // Prefix declarations only: they cannot touch unqualified children.
    // Anything else is the general path's.
    for attribute in wrapper.attributes() {
        let attribute = attribute.ok()?;
        let declared = attribute.key.as_ref().strip_prefix("xmlns:")?;
        if Some(declared) == prefix {
            // A namespace name with references is the general path's.
            let value: &str = attribute.value.as_ref();
            if value.contains('&') {
                return None;
            }
            if wrapper_names {
                element.namespace = Some(value.to_owned());
            }
        }
    }
    if empty {
        return Some(element);
    }
    let mut children = 0;
    loop {
        match reader.read_event().ok()? {
            Event::Text(t) if t.as_ref().bytes().all(|b| b.is_ascii_whitespace()) => {}
            Event::Start(child) => {
                if children >= max || child.attributes().next().is_some() {
                    return None;
                }
                let name = child.name();
                if name.as_ref().contains(':') {
                    return None;
                }
                let content = read_text(&mut reader)?;
                children += 1;
                visit(name.as_ref(), content)?;
            }
            Event::Empty(child) => {
                if children >= max || child.attributes().next().is_some() {
                    return None;
                }
                let name = child.name();
                if name.as_ref().contains(':') {
                    return None;
                }
                children += 1;
                visit(name.as_ref(), String::new())?;
            }
            Event::End(_) => break,
            _ => return None,
        }
    }
    match reader.read_event().ok()? {
        Event::Eof => Some(element),
        _ => None,
    }
}

/// The character data of the element just opened, through its end tag.
fn read_text(reader: &mut Reader<&[u8]>) -> Option<String> {
    let mut text = String::new();
    loop {
        match reader.read_event().ok()? {
            Event::Text(t) => text.push_str(&t.xml10_content()),
            Event::CData(t) => text.push_str(&t.xml10_content()),
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref().ok()? {
                    Some(c) => c,
                    None => match r.as_ref() {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "apos" => '\'',
                        "quot" => '"',
                        _ => return None,
                    },
                };
                if !is_xml_char(c) {
                    return None;
                }
                text.push(c);
            }
            Event::End(_) => return Some(text),
            _ => return None,
        }
    }
}

/// Appends `text` escaped for element content; `None` when it holds a
/// character XML 1.0 cannot carry.
pub(crate) fn push_text(out: &mut String, text: &str) -> Option<()> {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c if is_xml_char(c) => out.push(c),
            _ => return None,
        }
    }
    Some(())
}

/// XML 1.0's `Char` production.
pub(crate) fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_are_read_with_their_text() {
        let body = b"<b:op xmlns:b=\"urn:b\">\n  <a>1 &amp; 2&#x41;<![CDATA[<x>]]></a><c/></b:op>";
        let element = read_children(body, 4);
        assert_eq!(
            element,
            Some(FlatElement {
                local: "op".to_owned(),
                namespace: Some("urn:b".to_owned()),
                children: vec![
                    ("a".to_owned(), "1 & 2A<x>".to_owned()),
                    ("c".to_owned(), String::new())
                ]
            })
        );
    }

    #[test]
    fn anything_unusual_is_left_to_the_general_path() {
        for body in [
            &b"<b:op xmlns:b=\"urn:b\"><a x=\"1\">1</a></b:op>"[..],
            b"<b:op xmlns:b=\"urn:b\"><p:a xmlns:p=\"urn:p\">1</p:a></b:op>",
            b"<b:op xmlns:b=\"urn:b\"><a><n/></a></b:op>",
            b"<b:op xmlns:b=\"urn:b\"><!-- c --><a>1</a></b:op>",
            b"<b:op xmlns:b=\"urn:b\">text<a>1</a></b:op>",
            b"<b:op xmlns:b=\"urn:b\"><a>&unknown;</a></b:op>",
            b"<b:op xmlns:b=\"urn:b\"><a>&#1;</a></b:op>",
            b"<b:op xmlns:b=\"urn:b\"><a>1</b></b:op>",
            b"<b:op xmlns:b=\"urn:b\" other=\"1\"><a>1</a></b:op>",
            b"<b:op xmlns:b=\"urn:b\"><a>1</a><a>2</a><a>3</a></b:op>",
            b"<b:op xmlns:b=\"urn:b\"><a>1</a>",
        ] {
            assert_eq!(
                read_children(body, 2),
                None,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    proptest::proptest! {
        /// The word-at-a-time search finds what a byte-wise one does.
        #[test]
        fn bytes_are_found_as_a_plain_search_finds_them(
            haystack in proptest::collection::vec(proptest::sample::select(b"=x \x80\xffa".to_vec()), 0..40),
            needle in proptest::sample::select(b"=x\x80".to_vec()),
        ) {
            proptest::prop_assert_eq!(
                find_byte(&haystack, needle),
                haystack.iter().position(|&b| b == needle)
            );
        }

        /// The search answers as the plain definition: `xmlns`, optional
        /// whitespace, `=`.
        #[test]
        fn default_namespace_search_matches_its_definition(
            xml in "[xmlns= \t:a\"]{0,40}",
        ) {
            let plain = (0..xml.len()).any(|i| {
                xml[i..].starts_with("xmlns")
                    && xml[i + 5..].trim_start_matches([' ', '\t']).starts_with('=')
            });
            proptest::prop_assert_eq!(declares_default_namespace(xml.as_bytes()), plain);
        }
    }

    #[test]
    fn default_namespaces_are_found() {
        assert!(declares_default_namespace(b"<e xmlns=\"urn:x\">"));
        assert!(declares_default_namespace(b"<e xmlns \n= ''>"));
        assert!(!declares_default_namespace(
            b"<e xmlns:p=\"urn:x\">xmlns</e>"
        ));
    }

    #[test]
    fn text_is_escaped_and_non_xml_characters_refused() {
        let mut out = String::new();
        assert_eq!(push_text(&mut out, "a<b>&c\r\n"), Some(()));
        assert_eq!(out, "a&lt;b&gt;&amp;c&#xD;\n");
        assert_eq!(push_text(&mut String::new(), "nul\u{1}"), None);
        assert_eq!(push_text(&mut String::new(), "\u{FFFF}"), None);
    }
}
