//! The streaming envelope reader.

use std::ops::Range;

use quick_xml::events::BytesStart;

use crate::content_type::ContentType;
use crate::envelope::{Body, BodyEntry, Envelope, EnvelopeRanges, Header, HeaderBlock};
use crate::error::ReadError;
use crate::limits::Limits;
use crate::qname::QName;
use crate::scan::{Scanner, Token, is_xml_whitespace};
use crate::version::SoapVersion;
use crate::xsd::{BodyValidator, Violation};

/// Reads a SOAP 1.1 or SOAP 1.2 envelope from `input` in one streaming
/// pass, without building a tree.
///
/// The version comes from the envelope's namespace; when `content_type` is
/// given, the version it announces must match. The whole input is checked
/// (well-formedness, namespaces, every limit in `limits`), including the
/// header blocks and body payload it only records as byte ranges.
///
/// Any failure is a [`ReadError`], and each maps to one SOAP fault code
/// through [`ReadError::fault_code`]. This function never panics, whatever
/// the input.
pub fn read_envelope(
    input: &[u8],
    content_type: Option<&ContentType>,
    limits: &Limits,
) -> Result<Envelope, ReadError> {
    read_envelope_validating(input, content_type, limits, |_| None).map(|(envelope, _)| envelope)
}

/// The verdict of a body validation: every violation found, as
/// [`SchemaSet::validate_element`](crate::xsd::SchemaSet::validate_element)
/// reports them.
pub type BodyValidation = Result<(), Vec<Violation>>;

/// Reads an envelope as [`read_envelope`] does and, in the same pass,
/// validates the body's first child element.
///
/// When the reader meets the body's first child, it calls `choose` with
/// its name (a caller dispatches on it); the [`BodyValidator`] returned,
/// if any, is fed that element's events as they are read, so the body is
/// tokenised once. The verdict is `None` when the body has no child or
/// `choose` returned `None`. Reading errors come first: a verdict is only
/// returned with a well-formed envelope.
pub fn read_envelope_validating<'s>(
    input: &[u8],
    content_type: Option<&ContentType>,
    limits: &Limits,
    choose: impl FnOnce(&QName) -> Option<BodyValidator<'s>>,
) -> Result<(Envelope, Option<BodyValidation>), ReadError> {
    read_envelope_ranges_validating(input, content_type, limits, choose)
        .map(|(ranges, verdict)| (ranges.into_envelope(input), verdict))
}

/// Reads an envelope as [`read_envelope_validating`] does, leaving the
/// namespace declarations of the `Envelope`, `Header` and `Body` elements
/// in the input instead of copying them: the result refers to `input` by
/// byte ranges only, and reading it allocates nothing for an envelope
/// without header blocks but the body's first child's name.
/// [`EnvelopeRanges::envelope`] makes the full [`Envelope`] when needed.
pub fn read_envelope_ranges_validating<'s>(
    input: &[u8],
    content_type: Option<&ContentType>,
    limits: &Limits,
    choose: impl FnOnce(&QName) -> Option<BodyValidator<'s>>,
) -> Result<(EnvelopeRanges, Option<BodyValidation>), ReadError> {
    let mut choose = Some(choose);
    let mut verdict = None;
    let mut scanner = Scanner::new(input, *limits)?;
    let root = loop {
        match scanner.next_token()? {
            Token::Start(element) => break element,
            // The scanner returns no text outside the root and no end tag
            // before a start tag; nothing else can come first.
            Token::Text { .. } | Token::End { .. } => continue,
            Token::Eof => return Err(ReadError::Empty),
        }
    };
    let version = envelope_version(&scanner, &root.start)?;
    if let Some(content_type) = content_type
        && content_type.version != version
    {
        return Err(ReadError::ContentTypeMismatch {
            announced: content_type.version,
            found: version,
        });
    }
    let namespace = version.namespace();
    let envelope_tag = root.range.clone();
    let mut header: Option<(Header, Range<usize>)> = None;
    let mut body: Option<(Body, Range<usize>)> = None;
    loop {
        match scanner.next_token()? {
            Token::Text { text, position } => expect_whitespace(&text, position)?,
            Token::Start(element) => {
                let position = element.range.start;
                if body.is_none()
                    && header.is_none()
                    && scanner.element_is(&element.start, namespace, "Header")
                {
                    let tag = element.range.clone();
                    header = Some((read_header(&mut scanner, version)?, tag));
                } else if body.is_none() && scanner.element_is(&element.start, namespace, "Body") {
                    let tag = element.range.clone();
                    let read =
                        read_body(&mut scanner, element.range.end, &mut choose, &mut verdict)?;
                    body = Some((read, tag));
                } else if body.is_some()
                    && version == SoapVersion::Soap11
                    && scanner.element_namespace(&element.start).is_some()
                {
                    // SOAP 1.1 lets namespace-qualified elements follow the
                    // Body; they are checked and skipped.
                    scanner.skip_element()?;
                } else {
                    return Err(ReadError::UnexpectedElement {
                        name: scanner.element_name(&element.start),
                        position,
                    });
                }
            }
            Token::End { .. } => break,
            Token::Eof => {
                return Err(ReadError::Truncated {
                    position: input.len(),
                });
            }
        }
    }
    // The root is closed; the scanner refuses anything but whitespace,
    // comments and processing instructions after it.
    while !matches!(scanner.next_token()?, Token::Eof) {}
    let (body, body_tag) = body.ok_or(ReadError::MissingBody)?;
    let (header, header_tag) = match header {
        Some((header, tag)) => (Some(header), Some(tag)),
        None => (None, None),
    };
    let ranges = EnvelopeRanges {
        envelope: Envelope {
            version,
            namespaces: Vec::new(),
            header,
            body,
        },
        envelope_tag,
        header_tag,
        body_tag,
    };
    Ok((ranges, verdict))
}

/// Finds the SOAP version of the root element, or fails with
/// `VersionMismatch`.
fn envelope_version(
    scanner: &Scanner<'_>,
    root: &BytesStart<'_>,
) -> Result<SoapVersion, ReadError> {
    // Checked without allocating; the name is only built for the error.
    let version = scanner
        .element_namespace(root)
        .and_then(SoapVersion::from_namespace);
    match version {
        Some(version) if root.local_name().as_ref() == "Envelope" => Ok(version),
        _ => Err(ReadError::VersionMismatch {
            found: scanner.element_name(root),
        }),
    }
}

fn read_header(scanner: &mut Scanner<'_>, version: SoapVersion) -> Result<Header, ReadError> {
    let mut blocks = Vec::new();
    loop {
        match scanner.next_token()? {
            Token::Text { text, position } => expect_whitespace(&text, position)?,
            Token::Start(element) => {
                let start = element.range.start;
                let block = header_block(scanner, version, &element.start, start)?;
                let end = scanner.skip_element()?.end;
                blocks.push(HeaderBlock {
                    range: start..end,
                    ..block
                });
            }
            Token::End { .. } => {
                return Ok(Header {
                    blocks,
                    namespaces: Vec::new(),
                });
            }
            Token::Eof => {
                return Err(ReadError::Truncated {
                    position: scanner.position(),
                });
            }
        }
    }
}

/// Reads the name and SOAP attributes of a header block; the caller fills
/// in its range.
fn header_block(
    scanner: &Scanner<'_>,
    version: SoapVersion,
    start: &BytesStart<'_>,
    position: usize,
) -> Result<HeaderBlock, ReadError> {
    let name = scanner.element_name(start);
    if name.namespace.is_none() {
        return Err(ReadError::UnqualifiedHeaderBlock {
            local: name.local,
            position,
        });
    }
    let namespace = version.namespace();
    let must_understand = match scanner.attribute(start, namespace, "mustUnderstand") {
        Some(value) => parse_soap_boolean(version, "mustUnderstand", &value)?,
        None => false,
    };
    let relay = match (version, scanner.attribute(start, namespace, "relay")) {
        (SoapVersion::Soap12, Some(value)) => parse_soap_boolean(version, "relay", &value)?,
        _ => false,
    };
    let role = scanner
        .attribute(start, namespace, version.role_attribute())
        .map(|value| value.trim_matches(is_xml_whitespace).to_owned());
    Ok(HeaderBlock {
        name,
        must_understand,
        role,
        relay,
        range: position..position,
    })
}

/// Parses a SOAP boolean attribute: `0` or `1` in SOAP 1.1 (as its schema
/// and WS-I Basic Profile R1013 require), any `xs:boolean` in SOAP 1.2.
fn parse_soap_boolean(version: SoapVersion, local: &str, value: &str) -> Result<bool, ReadError> {
    match (version, value.trim_matches(is_xml_whitespace)) {
        (_, "1") | (SoapVersion::Soap12, "true") => Ok(true),
        (_, "0") | (SoapVersion::Soap12, "false") => Ok(false),
        _ => Err(ReadError::InvalidAttribute {
            name: QName::new(version.namespace(), local),
            value: value.to_owned(),
        }),
    }
}

/// Reads the `Body`'s content. The first child is validated by the
/// validator `choose` gives for its name, if any (`choose` is taken), its
/// verdict left in `verdict`; every other child is checked and skipped.
fn read_body<'s, F>(
    scanner: &mut Scanner<'_>,
    payload_start: usize,
    choose: &mut Option<F>,
    verdict: &mut Option<BodyValidation>,
) -> Result<Body, ReadError>
where
    F: FnOnce(&QName) -> Option<BodyValidator<'s>>,
{
    let mut first_child = None;
    let mut child_count = 0usize;
    loop {
        match scanner.next_token()? {
            Token::Text { text, position } => expect_whitespace(&text, position)?,
            Token::Start(element) => {
                child_count = child_count.saturating_add(1);
                let start = element.range.start;
                if first_child.is_some() {
                    scanner.skip_element()?;
                    continue;
                }
                let name = scanner.element_name(&element.start);
                let validator = choose.take().and_then(|choose| choose(&name));
                let end = match validator {
                    None => scanner.skip_element()?.end,
                    Some(mut validator) => {
                        validator.start(scanner, &element.start);
                        let end = validate_element(scanner, &mut validator)?.end;
                        *verdict = Some(validator.finish(end.saturating_sub(start)));
                        end
                    }
                };
                first_child = Some(BodyEntry {
                    name,
                    range: start..end,
                });
            }
            Token::End { range } => {
                return Ok(Body {
                    payload: payload_range(payload_start, &range),
                    first_child,
                    child_count,
                    namespaces: Vec::new(),
                });
            }
            Token::Eof => {
                return Err(ReadError::Truncated {
                    position: scanner.position(),
                });
            }
        }
    }
}

/// Reads up to the end of the element whose start tag was just read and
/// fed to `validator`, feeding it every token, and returns the range of
/// the element's end tag, as [`Scanner::skip_element`] does.
fn validate_element(
    scanner: &mut Scanner<'_>,
    validator: &mut BodyValidator<'_>,
) -> Result<Range<usize>, ReadError> {
    let mut depth = 1usize;
    loop {
        match scanner.next_token()? {
            Token::Start(element) => {
                depth = depth.saturating_add(1);
                validator.start(scanner, &element.start);
            }
            Token::End { range } => {
                validator.end();
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Ok(range);
                }
            }
            Token::Text { text, .. } => validator.text(&text),
            Token::Eof => {
                return Err(ReadError::Truncated {
                    position: scanner.position(),
                });
            }
        }
    }
}

/// The payload of an element whose start tag ends at `start` and whose end
/// tag is `end`; an empty-element tag has an empty end range at its end.
fn payload_range(start: usize, end: &Range<usize>) -> Range<usize> {
    if end.start < start {
        start..start
    } else {
        start..end.start
    }
}

fn expect_whitespace(text: &str, position: usize) -> Result<(), ReadError> {
    if text.chars().all(is_xml_whitespace) {
        Ok(())
    } else {
        Err(ReadError::UnexpectedText { position })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::FaultCode;
    use crate::qname::NamespaceBinding;
    use crate::version::{SOAP11_ENVELOPE_NS, SOAP12_ENVELOPE_NS};

    const S11: &str = r#"xmlns:s="http://schemas.xmlsoap.org/soap/envelope/""#;
    const S12: &str = r#"xmlns:s="http://www.w3.org/2003/05/soap-envelope""#;

    fn read(input: &str) -> Result<Envelope, ReadError> {
        read_envelope(input.as_bytes(), None, &Limits::default())
    }

    fn read_with(input: &str, limits: Limits) -> Result<Envelope, ReadError> {
        read_envelope(input.as_bytes(), None, &limits)
    }

    fn envelope(ns: &str, content: &str) -> String {
        format!("<s:Envelope {ns}>{content}</s:Envelope>")
    }

    fn slice<'a>(input: &'a str, range: &Range<usize>) -> &'a str {
        &input[range.clone()]
    }

    #[test]
    fn reads_a_minimal_soap11_envelope() {
        let input = envelope(
            S11,
            r#"<s:Body><m:echo xmlns:m="urn:m">hi</m:echo></s:Body>"#,
        );
        let envelope = read(&input).unwrap();
        assert_eq!(envelope.version, SoapVersion::Soap11);
        assert!(envelope.header.is_none());
        assert_eq!(envelope.body_name(), Some(&QName::new("urn:m", "echo")));
        assert_eq!(
            slice(&input, &envelope.body.payload),
            r#"<m:echo xmlns:m="urn:m">hi</m:echo>"#
        );
        let entry = envelope.body.first_child.as_ref().unwrap();
        assert_eq!(
            slice(&input, &entry.range),
            r#"<m:echo xmlns:m="urn:m">hi</m:echo>"#
        );
        assert_eq!(envelope.body.child_count, 1);
        assert_eq!(
            envelope.namespaces,
            vec![NamespaceBinding {
                prefix: Some("s".into()),
                uri: SOAP11_ENVELOPE_NS.into()
            }]
        );
        assert!(!envelope.is_fault());
    }

    #[test]
    fn reads_a_soap12_envelope_with_headers() {
        let input = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<!-- leading comment -->
<s:Envelope {S12} xmlns:h="urn:h">
  <s:Header xmlns:x="urn:x">
    <h:A s:mustUnderstand="true" s:role="urn:r" s:relay="1">a</h:A>
    <h:B s:mustUnderstand=" 0 "/>
    <x:C s:mustUnderstand="1"><inner/></x:C>
  </s:Header>
  <s:Body xmlns="urn:body">
    <op><x/></op>
    <second/>
  </s:Body>
</s:Envelope>
<?trailing pi?>
"#
        );
        let envelope = read(&input).unwrap();
        assert_eq!(envelope.version, SoapVersion::Soap12);
        let header = envelope.header.as_ref().unwrap();
        assert_eq!(header.blocks.len(), 3);
        let a = &header.blocks[0];
        assert_eq!(a.name, QName::new("urn:h", "A"));
        assert!(a.must_understand);
        assert!(a.relay);
        assert_eq!(a.role.as_deref(), Some("urn:r"));
        assert_eq!(
            slice(&input, &a.range),
            r#"<h:A s:mustUnderstand="true" s:role="urn:r" s:relay="1">a</h:A>"#
        );
        let b = &header.blocks[1];
        assert!(!b.must_understand);
        assert_eq!(slice(&input, &b.range), r#"<h:B s:mustUnderstand=" 0 "/>"#);
        let c = &header.blocks[2];
        assert_eq!(c.name, QName::new("urn:x", "C"));
        assert_eq!(
            slice(&input, &c.range),
            r#"<x:C s:mustUnderstand="1"><inner/></x:C>"#
        );
        assert_eq!(
            header.namespaces,
            vec![NamespaceBinding {
                prefix: Some("x".into()),
                uri: "urn:x".into()
            }]
        );
        assert_eq!(envelope.header_scope().len(), 3);
        assert_eq!(envelope.body_name(), Some(&QName::new("urn:body", "op")));
        assert_eq!(envelope.body.child_count, 2);
        assert_eq!(
            envelope.body.namespaces,
            vec![NamespaceBinding {
                prefix: None,
                uri: "urn:body".into()
            }]
        );
        assert_eq!(envelope.body_scope().len(), 3);
        assert!(
            slice(&input, &envelope.body.payload)
                .trim()
                .starts_with("<op><x/></op>")
        );
    }

    #[test]
    fn prefixes_do_not_matter() {
        for prefix in ["soap", "SOAP-ENV", "env", "a"] {
            let input = format!(
                r#"<{prefix}:Envelope xmlns:{prefix}="{SOAP11_ENVELOPE_NS}"><{prefix}:Body/></{prefix}:Envelope>"#
            );
            let envelope = read(&input).unwrap();
            assert_eq!(envelope.version, SoapVersion::Soap11);
            assert!(envelope.body.payload.is_empty());
            assert_eq!(envelope.body.first_child, None);
        }
        let input = format!(
            r#"<Envelope xmlns="{SOAP12_ENVELOPE_NS}"><Body><x xmlns=""/></Body></Envelope>"#
        );
        let envelope = read(&input).unwrap();
        assert_eq!(envelope.body_name(), Some(&QName::unqualified("x")));
    }

    #[test]
    fn ranges_account_for_a_byte_order_mark() {
        let input = format!("\u{FEFF}{}", envelope(S11, "<s:Body><a/></s:Body>"));
        let envelope = read(&input).unwrap();
        assert_eq!(slice(&input, &envelope.body.payload), "<a/>");
    }

    #[test]
    fn soap11_allows_qualified_elements_after_the_body() {
        let input = envelope(
            S11,
            r#"<s:Body/><x:trailer xmlns:x="urn:x"><y/></x:trailer>"#,
        );
        assert!(read(&input).is_ok());
        let input = envelope(S11, "<s:Body/><trailer/>");
        assert!(matches!(
            read(&input),
            Err(ReadError::UnexpectedElement { .. })
        ));
        let input = envelope(S12, r#"<s:Body/><x:trailer xmlns:x="urn:x"/>"#);
        assert!(matches!(
            read(&input),
            Err(ReadError::UnexpectedElement { .. })
        ));
    }

    #[test]
    fn detects_a_fault_body() {
        let input = envelope(S12, "<s:Body><s:Fault/></s:Body>");
        assert!(read(&input).unwrap().is_fault());
    }

    #[test]
    fn content_type_must_match_the_envelope() {
        let input = envelope(S11, "<s:Body/>");
        let soap12 = ContentType::parse("application/soap+xml").unwrap();
        let soap11 = ContentType::parse("text/xml").unwrap();
        let err = read_envelope(input.as_bytes(), Some(&soap12), &Limits::default()).unwrap_err();
        assert_eq!(
            err,
            ReadError::ContentTypeMismatch {
                announced: SoapVersion::Soap12,
                found: SoapVersion::Soap11
            }
        );
        assert_eq!(err.fault_code(), FaultCode::Sender);
        assert_eq!(err.http_status(SoapVersion::Soap12), 400);
        assert_eq!(err.http_status(SoapVersion::Soap11), 500);
        assert!(read_envelope(input.as_bytes(), Some(&soap11), &Limits::default()).is_ok());
    }

    #[test]
    fn wrong_envelope_namespace_is_a_version_mismatch() {
        for input in [
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope"><s:Body/></s:Envelope>"#,
            r#"<s:Envelope xmlns:s="http://www.w3.org/2001/12/soap-envelope"><s:Body/></s:Envelope>"#,
            "<Envelope><Body/></Envelope>",
            &format!(r#"<s:Body {S11}/>"#),
            r#"<foo/>"#,
        ] {
            let err = read(input).unwrap_err();
            assert!(
                matches!(err, ReadError::VersionMismatch { .. }),
                "{input}: {err:?}"
            );
            assert_eq!(err.fault_code(), FaultCode::VersionMismatch);
        }
    }

    #[test]
    fn missing_body_is_refused() {
        for content in [
            "",
            "<s:Header/>",
            "<s:Header><h:x xmlns:h=\"urn:h\"/></s:Header>",
        ] {
            let err = read(&envelope(S11, content)).unwrap_err();
            assert_eq!(err, ReadError::MissingBody);
        }
        let err = read(&format!("<s:Envelope {S12}/>")).unwrap_err();
        assert_eq!(err, ReadError::MissingBody);
        assert_eq!(err.fault_code(), FaultCode::Sender);
    }

    #[test]
    fn structure_errors() {
        let cases = [
            "<s:Body/><s:Body/>",
            "<s:Body/><s:Header/>",
            "<s:Header/><s:Header/><s:Body/>",
            "<s:Other/><s:Body/>",
            "<x/><s:Body/>",
        ];
        for content in cases {
            let err = read(&envelope(S12, content)).unwrap_err();
            assert!(
                matches!(err, ReadError::UnexpectedElement { .. }),
                "{content}: {err:?}"
            );
        }
        for content in [
            "text<s:Body/>",
            "<s:Header>text</s:Header><s:Body/>",
            "<s:Body>text</s:Body>",
            "<s:Body/>&amp;",
        ] {
            let err = read(&envelope(S12, content)).unwrap_err();
            assert!(
                matches!(err, ReadError::UnexpectedText { .. }),
                "{content}: {err:?}"
            );
        }
        let err = read(&envelope(S12, "<s:Header><plain/></s:Header><s:Body/>")).unwrap_err();
        assert!(
            matches!(err, ReadError::UnqualifiedHeaderBlock { ref local, .. } if local == "plain")
        );
    }

    #[test]
    fn must_understand_lexical_forms_depend_on_the_version() {
        let block = |ns: &str, value: &str| {
            envelope(
                ns,
                &format!(
                    r#"<s:Header><h:x xmlns:h="urn:h" s:mustUnderstand="{value}"/></s:Header><s:Body/>"#
                ),
            )
        };
        assert!(read(&block(S11, "1")).unwrap().header_blocks()[0].must_understand);
        assert!(!read(&block(S11, "0")).unwrap().header_blocks()[0].must_understand);
        for bad in ["true", "false", "yes", "", "2"] {
            let err = read(&block(S11, bad)).unwrap_err();
            assert!(matches!(err, ReadError::InvalidAttribute { .. }), "{bad}");
            assert_eq!(err.fault_code(), FaultCode::Sender);
        }
        for (value, expected) in [
            ("true", true),
            ("1", true),
            ("false", false),
            ("0", false),
            ("\ttrue\n", true),
        ] {
            assert_eq!(
                read(&block(S12, value)).unwrap().header_blocks()[0].must_understand,
                expected
            );
        }
        for bad in ["TRUE", "yes", ""] {
            assert!(matches!(
                read(&block(S12, bad)),
                Err(ReadError::InvalidAttribute { .. })
            ));
        }
        // An unqualified mustUnderstand is not SOAP's and is ignored.
        let input = envelope(
            S12,
            r#"<s:Header><h:x xmlns:h="urn:h" mustUnderstand="1"/></s:Header><s:Body/>"#,
        );
        assert!(!read(&input).unwrap().header_blocks()[0].must_understand);
        // relay is a SOAP 1.2 attribute; in SOAP 1.1 it is ignored.
        let input = envelope(
            S11,
            r#"<s:Header><h:x xmlns:h="urn:h" s:relay="bad"/></s:Header><s:Body/>"#,
        );
        assert!(!read(&input).unwrap().header_blocks()[0].relay);
        let input = envelope(
            S12,
            r#"<s:Header><h:x xmlns:h="urn:h" s:relay="bad"/></s:Header><s:Body/>"#,
        );
        assert!(read(&input).is_err());
    }

    #[test]
    fn actor_and_role_depend_on_the_version() {
        let input = envelope(
            S11,
            r#"<s:Header><h:x xmlns:h="urn:h" s:actor="http://schemas.xmlsoap.org/soap/actor/next" s:role="urn:ignored"/></s:Header><s:Body/>"#,
        );
        let envelope = read(&input).unwrap();
        assert_eq!(
            envelope.header_blocks()[0].role.as_deref(),
            Some(crate::version::SOAP11_ACTOR_NEXT)
        );
    }

    #[test]
    fn must_understand_check_lists_blocks_in_order() {
        let input = envelope(
            S12,
            r#"<s:Header xmlns:h="urn:h">
                <h:a s:mustUnderstand="1"/>
                <h:b s:mustUnderstand="1"/>
                <h:c/>
                <h:d s:mustUnderstand="1" s:role="http://www.w3.org/2003/05/soap-envelope/role/none"/>
                <h:e s:mustUnderstand="1" s:role="urn:elsewhere"/>
                <h:f s:mustUnderstand="1"/>
            </s:Header><s:Body/>"#,
        );
        let envelope = read(&input).unwrap();
        let err = envelope
            .check_must_understand(&[], |name| name.local == "b")
            .unwrap_err();
        assert_eq!(
            err,
            ReadError::NotUnderstood(vec![QName::new("urn:h", "a"), QName::new("urn:h", "f")])
        );
        assert_eq!(err.fault_code(), FaultCode::MustUnderstand);
        let err = envelope
            .check_must_understand(&["urn:elsewhere"], |name| name.local != "e")
            .unwrap_err();
        assert_eq!(
            err,
            ReadError::NotUnderstood(vec![QName::new("urn:h", "e")])
        );
        assert!(envelope.check_must_understand(&[], |_| true).is_ok());
    }

    #[test]
    fn empty_input_is_refused() {
        for input in ["", "   ", "<?xml version='1.0'?>", "<!-- only -->"] {
            assert_eq!(read(input).unwrap_err(), ReadError::Empty, "{input:?}");
        }
    }

    #[test]
    fn truncated_input_is_refused() {
        let full = envelope(
            S11,
            r#"<s:Body><m:e xmlns:m="urn:m" a="1">x</m:e></s:Body>"#,
        );
        for cut in 1..full.len() {
            let err = read(&full[..cut]).unwrap_err();
            assert!(
                matches!(
                    err,
                    ReadError::Truncated { .. } | ReadError::Malformed { .. }
                ),
                "{cut}: {err:?}"
            );
            assert_eq!(err.fault_code(), FaultCode::Sender);
        }
        assert!(matches!(
            read(&full[..full.len() - 3]),
            Err(ReadError::Truncated { .. })
        ));
        assert!(matches!(
            read("<s:Envelope"),
            Err(ReadError::Truncated { .. })
        ));
    }

    #[test]
    fn doctype_is_refused_and_never_expanded() {
        let laughs = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>&lol2;</s:Body></s:Envelope>"#;
        assert!(matches!(read(laughs), Err(ReadError::Doctype { .. })));
        let external = r#"<!DOCTYPE e SYSTEM "file:///etc/passwd"><e/>"#;
        assert_eq!(
            read(external).unwrap_err(),
            ReadError::Doctype { position: 0 }
        );
    }

    #[test]
    fn undeclared_entities_are_refused() {
        let input = envelope(S11, "<s:Body><a>&ext;</a></s:Body>");
        assert!(
            matches!(read(&input), Err(ReadError::UndeclaredEntity { ref name, .. }) if name == "ext")
        );
        let input = envelope(S11, r#"<s:Body><a b="&ext;"/></s:Body>"#);
        assert!(matches!(
            read(&input),
            Err(ReadError::UndeclaredEntity { .. })
        ));
        let input = envelope(
            S11,
            r#"<s:Body><a b="&amp;&#65;&#x42;&lt;">&lt;&gt;&amp;&apos;&quot;&#x10FFFF;</a></s:Body>"#,
        );
        assert!(read(&input).is_ok());
    }

    #[test]
    fn invalid_characters_are_refused() {
        let input = envelope(S11, "<s:Body><a>\u{1}</a></s:Body>");
        assert!(matches!(
            read(&input),
            Err(ReadError::InvalidCharacter { .. })
        ));
        let input = envelope(S11, "<s:Body><a>\u{FFFF}</a></s:Body>");
        assert!(matches!(
            read(&input),
            Err(ReadError::InvalidCharacter { .. })
        ));
        for reference in [
            "&#0;",
            "&#1;",
            "&#xFFFE;",
            "&#xD800;",
            "&#x110000;",
            "&#xZZ;",
        ] {
            let input = envelope(S11, &format!("<s:Body><a>{reference}</a></s:Body>"));
            assert!(
                matches!(read(&input), Err(ReadError::InvalidCharacter { .. })),
                "{reference}"
            );
            let input = envelope(S11, &format!(r#"<s:Body><a b="{reference}"/></s:Body>"#));
            assert!(
                matches!(read(&input), Err(ReadError::InvalidCharacter { .. })),
                "{reference}"
            );
        }
    }

    #[test]
    fn invalid_utf8_is_refused() {
        let mut input = envelope(S11, "<s:Body><a>xx</a></s:Body>").into_bytes();
        let at = input.iter().position(|&b| b == b'x').unwrap();
        input[at] = 0xFF;
        let err = read_envelope(&input, None, &Limits::default()).unwrap_err();
        assert_eq!(err, ReadError::InvalidUtf8 { position: at });
        // UTF-16 is refused as invalid UTF-8.
        let utf16: Vec<u8> = "<a/>".encode_utf16().flat_map(u16::to_le_bytes).collect();
        let mut bom = vec![0xFF, 0xFE];
        bom.extend(utf16);
        assert!(matches!(
            read_envelope(&bom, None, &Limits::default()),
            Err(ReadError::InvalidUtf8 { position: 0 })
        ));
    }

    #[test]
    fn other_encodings_are_refused() {
        let input = format!(
            r#"<?xml version="1.0" encoding="ISO-8859-1"?>{}"#,
            envelope(S11, "<s:Body/>")
        );
        assert_eq!(
            read(&input).unwrap_err(),
            ReadError::UnsupportedEncoding {
                encoding: "ISO-8859-1".into()
            }
        );
        let input = format!(
            r#"<?xml version="1.0" encoding="utf-8"?>{}"#,
            envelope(S11, "<s:Body/>")
        );
        assert!(read(&input).is_ok());
    }

    #[test]
    fn malformed_xml_is_refused() {
        let cases = [
            "<s:Body></s:Bdy>",
            "<s:Body><a b='1' b='2'/></s:Body>",
            "<s:Body><a b/></s:Body>",
            "<s:Body><a b='<'/></s:Body>",
            "<s:Body><p:a/></s:Body>",
            "<s:Body><a p:b='1'/></s:Body>",
            "<s:Body><!-- a -- b --></s:Body>",
            "<s:Body>a & b</s:Body>",
            "<s:Body><a b='&amp'/></s:Body>",
            "<s:Body><![CDATA[x]]></s:Body>",
            "<s:Body><?xml version='1.0'?></s:Body>",
            "<s:Body><a xmlns:xml='urn:wrong'/></s:Body>",
            "<s:Body><1a/></s:Body>",
            "<s:Body><a:b:c xmlns:a='urn:a'/></s:Body>",
            "<s:Body><a 1b='x'/></s:Body>",
        ];
        for content in cases {
            let err = read(&envelope(S11, content)).unwrap_err();
            assert!(
                matches!(
                    err,
                    ReadError::Malformed { .. } | ReadError::UnexpectedText { .. }
                ),
                "{content}: {err:?}"
            );
            assert_eq!(err.fault_code(), FaultCode::Sender);
        }
        let body = envelope(S11, "<s:Body/>");
        for input in [
            format!("{body}<second/>"),
            format!("{body}text"),
            format!("text{body}"),
            format!("<!-- c --><?xml version='1.0'?>{body}"),
            format!("{body}</extra>"),
        ] {
            let err = read(&input).unwrap_err();
            assert!(
                matches!(err, ReadError::Malformed { .. }),
                "{input}: {err:?}"
            );
        }
    }

    #[test]
    fn duplicated_attributes_are_refused_however_many_there_are() {
        let names: Vec<String> = (0..12).map(|i| format!("a{i}='{i}'")).collect();
        let distinct = format!("<s:Body><e {}/></s:Body>", names.join(" "));
        assert!(read(&envelope(S11, &distinct)).is_ok());
        for at in [1, 7, 8, 9, 11] {
            let mut attributes = names.clone();
            attributes.insert(at, "a0='again'".to_owned());
            let content = format!("<s:Body><e {}/></s:Body>", attributes.join(" "));
            let err = read(&envelope(S11, &content)).unwrap_err();
            assert!(matches!(err, ReadError::Malformed { .. }), "{at}: {err:?}");
        }
    }

    #[test]
    fn the_ranges_model_gives_the_same_envelope_and_scopes() {
        let inputs = [
            envelope(
                S11,
                r#"<s:Body><m:echo xmlns:m="urn:m">hi</m:echo></s:Body>"#,
            ),
            format!(
                "\u{FEFF}<s:Envelope\t{S12}\n xmlns:h='urn:h' a=\"x>/\" b='y/'>\
                 <s:Header xmlns:x=\"urn:x\" xmlns=''/>\
                 <s:Body\txmlns=\"urn:b\"\n><op/></s:Body></s:Envelope>"
            ),
            format!(
                "<s:Envelope {S12}><s:Header\txmlns:x='urn:x'><x:A>1</x:A></s:Header>\
                 <s:Body xmlns:s='http://www.w3.org/2003/05/soap-envelope' xmlns:m='urn:m'/>\
                 </s:Envelope>"
            ),
        ];
        for input in inputs {
            let bytes = input.as_bytes();
            let full = read(&input).unwrap();
            let (ranges, verdict) =
                read_envelope_ranges_validating(bytes, None, &Limits::default(), |_| None).unwrap();
            assert!(verdict.is_none());
            assert_eq!(ranges.envelope(bytes), full, "{input}");
            assert_eq!(ranges.body_scope(bytes), full.body_scope(), "{input}");
            assert_eq!(ranges.header_scope(bytes), full.header_scope(), "{input}");
            assert_eq!(ranges.version(), full.version);
            assert_eq!(
                ranges.body(),
                &Body {
                    namespaces: Vec::new(),
                    ..full.body.clone()
                }
            );
            assert_eq!(ranges.body_name(), full.body_name());
            assert_eq!(ranges.header_blocks(), full.header_blocks());
            assert_eq!(ranges.is_fault(), full.is_fault());
        }
        let second = read(&inputs_with_declarations()).unwrap();
        assert_eq!(second.namespaces.len(), 3);
    }

    fn inputs_with_declarations() -> String {
        format!("<s:Envelope {S11} xmlns:a='urn:a' xmlns='urn:d'><s:Body/></s:Envelope>")
    }

    #[test]
    fn size_limit() {
        let input = envelope(S11, "<s:Body/>");
        let limits = Limits {
            max_size: input.len() - 1,
            ..Limits::default()
        };
        assert_eq!(
            read_with(&input, limits).unwrap_err(),
            ReadError::TooLarge {
                size: input.len(),
                limit: input.len() - 1
            }
        );
        let limits = Limits {
            max_size: input.len(),
            ..Limits::default()
        };
        assert!(read_with(&input, limits).is_ok());
    }

    #[test]
    fn depth_limit() {
        let nested = |depth: usize| {
            let open: String = (0..depth).map(|_| "<a>").collect();
            let close: String = (0..depth).map(|_| "</a>").collect();
            envelope(S11, &format!("<s:Body>{open}{close}</s:Body>"))
        };
        // Envelope and Body take two levels.
        assert!(read(&nested(62)).is_ok());
        assert!(matches!(
            read(&nested(63)),
            Err(ReadError::TooDeep { limit: 64, .. })
        ));
        let limits = Limits {
            max_depth: 3,
            ..Limits::default()
        };
        assert!(read_with(&nested(1), limits).is_ok());
        assert!(matches!(
            read_with(&nested(2), limits),
            Err(ReadError::TooDeep { limit: 3, .. })
        ));
        // Empty-element tags count too.
        let input = envelope(S11, "<s:Body><a><b/></a></s:Body>");
        assert!(matches!(
            read_with(&input, limits),
            Err(ReadError::TooDeep { .. })
        ));
    }

    #[test]
    fn element_count_limit() {
        let input = envelope(S11, "<s:Body><a/><a/><a/></s:Body>");
        let limits = |max_elements| Limits {
            max_elements,
            ..Limits::default()
        };
        assert!(read_with(&input, limits(5)).is_ok());
        assert_eq!(
            read_with(&input, limits(4)).unwrap_err(),
            ReadError::TooManyElements { limit: 4 }
        );
    }

    #[test]
    fn attribute_count_limit() {
        let input = envelope(S11, r#"<s:Body><a x="1" y="2" z="3"/></s:Body>"#);
        let limits = |max_attributes| Limits {
            max_attributes,
            ..Limits::default()
        };
        assert!(read_with(&input, limits(3)).is_ok());
        assert!(matches!(
            read_with(&input, limits(2)),
            Err(ReadError::TooManyAttributes { limit: 2, .. })
        ));
    }

    #[test]
    fn attribute_length_limit() {
        let input = envelope(S11, r#"<s:Body><a x="12345"/></s:Body>"#);
        let limits = |max_attribute_len| Limits {
            max_attribute_len,
            ..Limits::default()
        };
        assert!(read_with(&input, limits(51)).is_ok());
        // The envelope namespace's value is 41 bytes long and counts too.
        assert_eq!(SOAP11_ENVELOPE_NS.len(), 41);
        assert!(read_with(&input, limits(41)).is_ok());
        assert!(matches!(
            read_with(&input, limits(40)),
            Err(ReadError::AttributeTooLong { limit: 40, .. })
        ));
        let input = envelope(
            S11,
            &format!(r#"<s:Body><a x="{}"/></s:Body>"#, "v".repeat(100)),
        );
        assert!(matches!(
            read_with(&input, limits(99)),
            Err(ReadError::AttributeTooLong { limit: 99, .. })
        ));
        assert!(read_with(&input, limits(100)).is_ok());
    }

    #[test]
    fn text_length_limit() {
        let limits = |max_text_len| Limits {
            max_text_len,
            ..Limits::default()
        };
        let input = envelope(S11, &format!("<s:Body><a>{}</a></s:Body>", "t".repeat(10)));
        assert!(read_with(&input, limits(10)).is_ok());
        assert!(matches!(
            read_with(&input, limits(9)),
            Err(ReadError::TextTooLong { limit: 9, .. })
        ));
        // References count as written and do not reset the run.
        let input = envelope(S11, "<s:Body><a>ab&amp;cd&#65;</a></s:Body>");
        assert!(read_with(&input, limits(14)).is_ok());
        assert!(matches!(
            read_with(&input, limits(13)),
            Err(ReadError::TextTooLong { .. })
        ));
        // Comments are bounded as well.
        let input = envelope(S11, &format!("<s:Body><!--{}--></s:Body>", "c".repeat(20)));
        assert!(matches!(
            read_with(&input, limits(10)),
            Err(ReadError::TextTooLong { .. })
        ));
    }

    #[test]
    fn namespace_binding_limit() {
        let declarations: String = (0..5)
            .map(|i| format!(r#" xmlns:p{i}="urn:{i}""#))
            .collect();
        let input = envelope(S11, &format!("<s:Body><a{declarations}/></s:Body>"));
        let limits = |max_namespace_bindings| Limits {
            max_namespace_bindings,
            ..Limits::default()
        };
        assert!(read_with(&input, limits(6)).is_ok());
        assert!(matches!(
            read_with(&input, limits(5)),
            Err(ReadError::TooManyNamespaces { limit: 5, .. })
        ));
    }

    #[test]
    fn errors_have_lowercase_messages() {
        let errors = [
            ReadError::Empty,
            ReadError::MissingBody,
            ReadError::Doctype { position: 0 },
            ReadError::TooDeep {
                limit: 1,
                position: 0,
            },
        ];
        for error in errors {
            let message = error.to_string();
            assert!(message.starts_with(|c: char| c.is_lowercase()), "{message}");
        }
    }

    /// A schema of our own for the one-pass validation tests: `op` holds
    /// one to three `n` (int) and an optional `s`, and may carry `a`
    /// (boolean).
    const SCHEMA: &str = r#"<definitions xmlns="http://schemas.xmlsoap.org/wsdl/"
    xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:t">
  <types>
    <xs:schema targetNamespace="urn:t">
      <xs:element name="op">
        <xs:complexType>
          <xs:sequence>
            <xs:element name="n" type="xs:int" maxOccurs="3"/>
            <xs:element name="s" type="xs:string" minOccurs="0" nillable="true"/>
          </xs:sequence>
          <xs:attribute name="a" type="xs:boolean"/>
        </xs:complexType>
      </xs:element>
    </xs:schema>
  </types>
</definitions>"#;

    fn schema() -> crate::Loaded {
        crate::load_bytes("t.wsdl", SCHEMA.as_bytes(), &crate::LoadOptions::default())
    }

    /// The verdict of the one-pass validation, and that of validating the
    /// first child's bytes on their own (what the gateway did before),
    /// which must agree.
    fn both_verdicts(
        input: &str,
        limits: &crate::xsd::InstanceLimits,
    ) -> (Option<BodyValidation>, Option<BodyValidation>) {
        let loaded = schema();
        let element = QName::new("urn:t", "op");
        let mut seen = None;
        let (envelope, one_pass) =
            read_envelope_validating(input.as_bytes(), None, &Limits::default(), |name| {
                seen = Some(name.clone());
                Some(loaded.schema.body_validator(Some(&element), limits))
            })
            .unwrap();
        assert_eq!(envelope, read(input).unwrap(), "the envelope read differs");
        assert_eq!(seen.as_ref(), envelope.body_name());
        let separate = envelope.body.first_child.as_ref().map(|entry| {
            let xml = slice(input, &entry.range);
            loaded
                .schema
                .validate_element(xml, &envelope.body_scope(), Some(&element), limits)
        });
        (one_pass, separate)
    }

    fn body(content: &str) -> String {
        envelope(
            &format!(
                r#"{S11} xmlns:t="urn:t" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance""#
            ),
            &format!("<s:Body>{content}</s:Body>"),
        )
    }

    #[test]
    fn the_body_is_validated_in_the_same_pass_with_the_same_verdict() {
        let limits = crate::xsd::InstanceLimits::default();
        let cases = [
            ("<t:op><n>1</n></t:op>", true),
            (r#"<t:op a="true"><n>1</n><n>2</n><s>x</s></t:op>"#, true),
            (r#"<t:op><n>1</n><s xsi:nil="true"/></t:op>"#, true),
            (r#"<o:op xmlns:o="urn:t"><n>1</n></o:op>"#, true),
            ("<t:op><n>x</n></t:op>", false),
            ("<t:op><s>x</s></t:op>", false),
            (r#"<t:op a="maybe"><n>1</n></t:op>"#, false),
            ("<t:op><n>1</n><n>2</n><n>3</n><n>4</n></t:op>", false),
            ("<t:op><n>1</n>text</t:op>", false),
            ("<t:other/>", false),
            ("<t:op><n>1</n></t:op><t:op/>", true),
        ];
        for (content, valid) in cases {
            let (one_pass, separate) = both_verdicts(&body(content), &limits);
            assert_eq!(one_pass, separate, "{content}");
            assert_eq!(one_pass.map(|v| v.is_ok()), Some(valid), "{content}");
        }
        // No body child: `choose` is not called and there is no verdict.
        let (one_pass, separate) = both_verdicts(&body(""), &limits);
        assert_eq!((one_pass, separate), (None, None));
    }

    #[test]
    fn instance_limits_hold_in_the_same_pass() {
        use crate::xsd::InstanceLimits;
        let valid = "<t:op><n>1</n><s>x</s></t:op>";
        let cases = [
            (
                InstanceLimits {
                    max_depth: 1,
                    ..Default::default()
                },
                valid,
            ),
            (
                InstanceLimits {
                    max_nodes: 2,
                    ..Default::default()
                },
                valid,
            ),
            (
                InstanceLimits {
                    max_bytes: 10,
                    ..Default::default()
                },
                valid,
            ),
            (
                InstanceLimits {
                    max_violations: 1,
                    ..Default::default()
                },
                r#"<t:op a="maybe"><n>x</n></t:op>"#,
            ),
        ];
        for (limits, content) in cases {
            let (one_pass, separate) = both_verdicts(&body(content), &limits);
            assert!(
                matches!(&one_pass, Some(Err(violations)) if violations.len() == 1),
                "{limits:?}: {one_pass:?}"
            );
            assert_eq!(one_pass, separate, "{limits:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn one_pass_and_separate_validation_agree(
            attribute in proptest::option::of("(true|0|maybe)"),
            children in proptest::collection::vec(("(n|s|x)", "[0-9a-z -]{0,3}"), 0..6),
            nil in proptest::bool::ANY,
        ) {
            let mut content = String::from("<t:op");
            if let Some(value) = attribute {
                content.push_str(&format!(r#" a="{value}""#));
            }
            content.push('>');
            for (name, value) in &children {
                if nil && name == "s" {
                    content.push_str(r#"<s xsi:nil="true"/>"#);
                } else {
                    content.push_str(&format!("<{name}>{value}</{name}>"));
                }
            }
            content.push_str("</t:op>");
            let limits = crate::xsd::InstanceLimits::default();
            let (one_pass, separate) = both_verdicts(&body(&content), &limits);
            proptest::prop_assert_eq!(one_pass, separate);
        }
    }
}
