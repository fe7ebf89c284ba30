//! The EchoService: Ithaca's SOAP benchmark contract.
//!
//! The contract ([`WSDL`]) has one document/literal wrapped operation,
//! `echoString`, bound to SOAP 1.1 and SOAP 1.2 with the SOAPAction
//! [`SOAP_ACTION`]. The request element is `{urn:ithaca:bench:echo}echoString`
//! holding one unqualified `text` element; the response is
//! `{urn:ithaca:bench:echo}echoStringResponse` holding `result`, the same
//! string.
//!
//! [`echo_string`] is the whole operation on bytes: it reads `text`
//! (character references, the predefined entities and CDATA sections
//! decoded, line ends normalised as XML requires) and writes the response
//! element with the string escaped again.
//!
//! ```
//! use ithaca_services::echo;
//!
//! let request = br#"<e:echoString xmlns:e="urn:ithaca:bench:echo"><text>a &lt; b<![CDATA[ & <c>]]></text></e:echoString>"#;
//! let response = echo::echo_string(request)?;
//! assert_eq!(
//!     std::str::from_utf8(&response).unwrap(),
//!     r#"<e:echoStringResponse xmlns:e="urn:ithaca:bench:echo"><result>a &lt; b &amp; &lt;c&gt;</result></e:echoStringResponse>"#
//! );
//! # Ok::<(), echo::EchoError>(())
//! ```

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::Event;
use quick_xml::reader::Reader;

/// The contract, as served at `GET …/EchoService?wsdl` (with its addresses
/// rewritten by the gateway).
pub const WSDL: &str = include_str!("../wsdl/echo.wsdl");

/// The file name under which [`WSDL`] appears in diagnostics.
pub const WSDL_NAME: &str = "echo.wsdl";

/// The target namespace of the contract and of its elements.
pub const NAMESPACE: &str = "urn:ithaca:bench:echo";

/// The `wsdl:service` name.
pub const SERVICE: &str = "EchoService";

/// The one operation.
pub const OPERATION: &str = "echoString";

/// The SOAPAction of [`OPERATION`] in both bindings.
pub const SOAP_ACTION: &str = "urn:ithaca:bench:echo#echoString";

/// The request element's local name (in [`NAMESPACE`]).
pub const REQUEST_ELEMENT: &str = "echoString";

/// Why a request element could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EchoError {
    /// The element is not UTF-8.
    #[error("the request is not UTF-8")]
    NotUtf8,
    /// The element is not well-formed XML.
    #[error("the request is not well-formed XML: {0}")]
    Malformed(String),
    /// The root element is not `echoString`.
    #[error("expected the element echoString, found `{0}`")]
    WrongElement(String),
    /// `echoString` has no `text` child.
    #[error("echoString has no text element")]
    MissingText,
    /// `text` holds an element, but it is an `xs:string`.
    #[error("the text element must hold only characters, found the element `{0}`")]
    ElementInText(String),
    /// `text` refers to an entity other than XML's five predefined ones.
    #[error("reference to the undeclared entity `{0}`")]
    UndeclaredEntity(String),
}

/// Answers one `echoString` request: `request` is the bytes of the
/// `echoString` element (its prefixes may be bound outside it; only local
/// names are read), the result the bytes of the `echoStringResponse`
/// element, which binds its own namespace.
pub fn echo_string(request: &[u8]) -> Result<Vec<u8>, EchoError> {
    let text = read_text(request)?;
    let mut out = Vec::with_capacity(text.len() + 96);
    write_response(&text, &mut out);
    Ok(out)
}

/// Reads the string in `echoString/text`.
///
/// Character data, character references, the predefined entities and
/// CDATA sections are joined in document order; comments and processing
/// instructions are skipped; line ends are normalised to `\n` except those
/// written as character references.
pub fn read_text(request: &[u8]) -> Result<String, EchoError> {
    let xml = std::str::from_utf8(request).map_err(|_| EchoError::NotUtf8)?;
    let mut reader = Reader::from_str(xml);
    // Depth 1 is echoString, depth 2 its children.
    let mut depth = 0usize;
    let mut text: Option<String> = None;
    let mut in_text = false;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| EchoError::Malformed(e.to_string()))?;
        match event {
            Event::Start(start) | Event::Empty(start)
                if depth == 0 && local(start.local_name().as_ref()) != REQUEST_ELEMENT =>
            {
                return Err(EchoError::WrongElement(local(start.name().as_ref())));
            }
            Event::Start(start) => {
                depth += 1;
                if in_text {
                    return Err(EchoError::ElementInText(local(start.name().as_ref())));
                }
                if depth == 2 && text.is_none() && start.local_name().as_ref() == "text" {
                    in_text = true;
                    text = Some(String::new());
                }
            }
            Event::Empty(start) => {
                if in_text {
                    return Err(EchoError::ElementInText(local(start.name().as_ref())));
                }
                if depth == 0 {
                    // `<echoString/>`: no text at all.
                    break;
                }
                if depth == 1 && text.is_none() && start.local_name().as_ref() == "text" {
                    text = Some(String::new());
                }
            }
            Event::End(_) => {
                if depth == 2 {
                    in_text = false;
                }
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    break;
                }
            }
            Event::Text(chars) if in_text => {
                if let Some(text) = text.as_mut() {
                    text.push_str(&chars.xml10_content());
                }
            }
            Event::CData(chars) if in_text => {
                if let Some(text) = text.as_mut() {
                    text.push_str(&chars.xml10_content());
                }
            }
            Event::GeneralRef(reference) if in_text => {
                let resolved = match reference.resolve_char_ref() {
                    Ok(Some(c)) => c,
                    Ok(None) => {
                        let Some(entity) = resolve_predefined_entity(&reference) else {
                            return Err(EchoError::UndeclaredEntity(reference.to_string()));
                        };
                        if let Some(text) = text.as_mut() {
                            text.push_str(entity);
                        }
                        continue;
                    }
                    Err(e) => return Err(EchoError::Malformed(e.to_string())),
                };
                if let Some(text) = text.as_mut() {
                    text.push(resolved);
                }
            }
            // Outside `text` a reference is still checked, never expanded.
            Event::GeneralRef(reference)
                if !reference.is_char_ref() && resolve_predefined_entity(&reference).is_none() =>
            {
                return Err(EchoError::UndeclaredEntity(reference.to_string()));
            }
            Event::DocType(_) => {
                return Err(EchoError::Malformed(
                    "document type declarations are not allowed".to_owned(),
                ));
            }
            Event::Eof => {
                if depth > 0 {
                    return Err(EchoError::Malformed("the element is not closed".to_owned()));
                }
                break;
            }
            _ => {}
        }
    }
    text.ok_or(EchoError::MissingText)
}

/// Appends the `echoStringResponse` element holding `text` (escaped) to
/// `out`.
pub fn write_response(text: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(br#"<e:echoStringResponse xmlns:e="urn:ithaca:bench:echo"><result>"#);
    escape_text(text, out);
    out.extend_from_slice(b"</result></e:echoStringResponse>");
}

/// Escapes character data: `&`, `<`, `>`, and carriage returns (as `&#xD;`,
/// so that they survive line-end normalisation on the way back).
fn escape_text(text: &str, out: &mut Vec<u8>) {
    let bytes = text.as_bytes();
    let mut start = 0;
    for (index, byte) in bytes.iter().enumerate() {
        let escaped: &[u8] = match byte {
            b'&' => b"&amp;",
            b'<' => b"&lt;",
            b'>' => b"&gt;",
            b'\r' => b"&#xD;",
            _ => continue,
        };
        out.extend_from_slice(bytes.get(start..index).unwrap_or_default());
        out.extend_from_slice(escaped);
        start = index + 1;
    }
    out.extend_from_slice(bytes.get(start..).unwrap_or_default());
}

/// The local part of a possibly prefixed name, for messages.
fn local(name: &str) -> String {
    match name.rsplit_once(':') {
        Some((_, local)) => local.to_owned(),
        None => name.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn request(inner: &str) -> String {
        format!(r#"<e:echoString xmlns:e="urn:ithaca:bench:echo">{inner}</e:echoString>"#)
    }

    #[test]
    fn reads_plain_text() {
        assert_eq!(
            read_text(request("<text>hi</text>").as_bytes()),
            Ok("hi".into())
        );
    }

    #[test]
    fn decodes_references_and_cdata() {
        let xml = request(
            "<text>&lt;a&gt; &amp; &quot;&apos; &#65;&#x42; <![CDATA[<raw> &amp;]]></text>",
        );
        assert_eq!(
            read_text(xml.as_bytes()),
            Ok(r#"<a> & "' AB <raw> &amp;"#.into())
        );
    }

    #[test]
    fn normalises_line_ends_but_keeps_referenced_carriage_returns() {
        let xml = request("<text>a\r\nb&#13;c</text>");
        assert_eq!(read_text(xml.as_bytes()), Ok("a\nb\rc".into()));
    }

    #[test]
    fn empty_and_missing_text() {
        assert_eq!(read_text(request("<text/>").as_bytes()), Ok(String::new()));
        assert_eq!(
            read_text(request("<text></text>").as_bytes()),
            Ok(String::new())
        );
        assert_eq!(
            read_text(request("").as_bytes()),
            Err(EchoError::MissingText)
        );
        assert_eq!(
            read_text(br#"<e:echoString xmlns:e="urn:x"/>"#),
            Err(EchoError::MissingText)
        );
        assert_eq!(
            read_text(request("<other>x</other>").as_bytes()),
            Err(EchoError::MissingText)
        );
    }

    #[test]
    fn refuses_what_is_not_an_echo_request() {
        assert_eq!(
            read_text(b"<e:other xmlns:e=\"urn:x\"/>"),
            Err(EchoError::WrongElement("other".into()))
        );
        assert_eq!(
            read_text(request("<text>a<b/>c</text>").as_bytes()),
            Err(EchoError::ElementInText("b".into()))
        );
        assert_eq!(
            read_text(request("<text>&bomb;</text>").as_bytes()),
            Err(EchoError::UndeclaredEntity("bomb".into()))
        );
        assert!(matches!(
            read_text(request("<text>x</wrong>").as_bytes()),
            Err(EchoError::Malformed(_))
        ));
        assert!(matches!(
            read_text(b"<echoString><text>x</text>"),
            Err(EchoError::Malformed(_))
        ));
        assert_eq!(read_text(&[0xff, 0xfe]), Err(EchoError::NotUtf8));
    }

    #[test]
    fn writes_an_escaped_response() {
        let mut out = Vec::new();
        write_response("a<b>&\r\n\"'", &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"<e:echoStringResponse xmlns:e="urn:ithaca:bench:echo"><result>a&lt;b&gt;&amp;&#xD;
"'</result></e:echoStringResponse>"#
        );
    }

    #[test]
    fn the_contract_loads_and_has_both_bindings() {
        let loaded = ithaca_wsdl::load_bytes(WSDL_NAME, WSDL.as_bytes(), &Default::default());
        assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics);
        let operations = loaded.definitions.operations(&loaded.schema);
        assert_eq!(operations.len(), 2);
        for operation in &operations {
            assert_eq!(operation.name, OPERATION);
            assert_eq!(operation.soap_action.as_deref(), Some(SOAP_ACTION));
            let body = operation.input.as_ref().and_then(|i| i.body_name.clone());
            assert_eq!(
                body,
                Some(ithaca_wsdl::QName::new(NAMESPACE, REQUEST_ELEMENT))
            );
        }
        assert!(loaded.definitions.service(SERVICE).is_some());
    }

    proptest! {
        #[test]
        fn any_string_round_trips(text in "[\\PC\t\n\r]{0,64}") {
            // XML cannot carry these characters at all.
            prop_assume!(!text.chars().any(|c| matches!(c, '\u{FFFE}' | '\u{FFFF}') || ('\u{1}'..='\u{8}').contains(&c)));
            let mut element = Vec::new();
            write_response(&text, &mut element);
            let element = String::from_utf8(element).unwrap();
            // Re-read the response as if it were a request.
            let as_request = element
                .replace("echoStringResponse", "echoString")
                .replace("result>", "text>");
            prop_assert_eq!(read_text(as_request.as_bytes()), Ok(text.clone()));
            prop_assert_eq!(echo_string(as_request.as_bytes()).map(|r| String::from_utf8(r).unwrap()), Ok(element));
        }
    }
}
