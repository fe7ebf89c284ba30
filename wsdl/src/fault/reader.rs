//! The fault reader, for clients of SOAP services.

use std::ops::Range;

use quick_xml::events::BytesStart;

use crate::error::ReadError;
use crate::fault::{Fault, FaultCode, Reason};
use crate::limits::Limits;
use crate::qname::QName;
use crate::scan::{Element, Scanner, Token, attribute_value, is_xml_whitespace};
use crate::version::{SoapVersion, XML_NS};

/// Reads the SOAP fault in the body of the envelope in `input`.
///
/// The envelope is read with the same checks and `limits` as
/// [`read_envelope`](crate::read_envelope); the version comes from its
/// namespace. A body whose first child is not a `Fault` of that version,
/// and a `Fault` without the structure its version requires, give
/// [`ReadError::InvalidFault`]. SOAP 1.2 `NotUnderstood` header blocks are
/// gathered into [`Fault::not_understood`]; other header blocks (such as
/// a `soap:headerfault`'s), but SOAP 1.2's `Upgrade`, into
/// [`Fault::header_blocks`] as raw XML.
///
/// A SOAP 1.1 `faultcode` outside the envelope namespace is read as
/// `Receiver`, with the code itself as the only subcode.
pub fn read_fault(input: &[u8], limits: &Limits) -> Result<(SoapVersion, Fault), ReadError> {
    let mut scanner = Scanner::new(input, *limits)?;
    let root = loop {
        match scanner.next_token()? {
            Token::Start(element) => break element,
            Token::Text { .. } | Token::End { .. } => {}
            Token::Eof => return Err(ReadError::Empty),
        }
    };
    let name = scanner.element_name(&root.start);
    let version = match name
        .namespace
        .as_deref()
        .and_then(SoapVersion::from_namespace)
    {
        Some(version) if name.local == "Envelope" => version,
        _ => return Err(ReadError::VersionMismatch { found: name }),
    };
    let namespace = version.namespace();
    let mut not_understood = Vec::new();
    let mut header_blocks = Vec::new();
    let mut fault = None;
    loop {
        match scanner.next_token()? {
            Token::Start(element) if scanner.element_is(&element.start, namespace, "Header") => {
                read_header(
                    &mut scanner,
                    input,
                    version,
                    &mut not_understood,
                    &mut header_blocks,
                )?;
            }
            Token::Start(element)
                if fault.is_none() && scanner.element_is(&element.start, namespace, "Body") =>
            {
                fault = Some(read_body_fault(&mut scanner, input, version)?);
            }
            Token::Start(_) => {
                scanner.skip_element()?;
            }
            Token::Text { .. } => {}
            Token::End { .. } | Token::Eof => break,
        }
    }
    while !matches!(scanner.next_token()?, Token::Eof) {}
    let mut fault = fault.ok_or(ReadError::MissingBody)?;
    fault.not_understood = not_understood;
    fault.header_blocks = header_blocks;
    Ok((version, fault))
}

/// Reads a `Header`, keeping the names SOAP 1.2 `NotUnderstood` blocks
/// carry and the other blocks (but SOAP 1.2's `Upgrade`) as raw XML.
fn read_header(
    scanner: &mut Scanner<'_>,
    input: &[u8],
    version: SoapVersion,
    names: &mut Vec<QName>,
    blocks: &mut Vec<String>,
) -> Result<(), ReadError> {
    loop {
        match scanner.next_token()? {
            Token::Start(element) => {
                if version == SoapVersion::Soap12
                    && scanner.element_is(&element.start, version.namespace(), "NotUnderstood")
                {
                    let qname = qname_attribute(scanner, &element.start)?;
                    names.push(qname);
                    scanner.skip_element()?;
                } else if scanner.element_is(
                    &element.start,
                    SoapVersion::Soap12.namespace(),
                    "Upgrade",
                ) {
                    scanner.skip_element()?;
                } else {
                    let end = scanner.skip_element()?;
                    let block = input
                        .get(element.range.start..end.end.max(element.range.start))
                        .and_then(|bytes| std::str::from_utf8(bytes).ok())
                        .ok_or_else(|| invalid("a header block is not text"))?;
                    blocks.push(block.to_owned());
                }
            }
            Token::Text { .. } => {}
            Token::End { .. } => return Ok(()),
            Token::Eof => return Err(invalid("the header is not closed")),
        }
    }
}

fn qname_attribute(scanner: &Scanner<'_>, start: &BytesStart<'_>) -> Result<QName, ReadError> {
    let value = start
        .attributes()
        .flatten()
        .find(|attribute| attribute.key.as_ref() == "qname")
        .and_then(|attribute| attribute_value(&attribute).map(|value| value.into_owned()))
        .ok_or_else(|| invalid("NotUnderstood without a qname attribute"))?;
    scanner
        .resolve_content_qname(&value)
        .ok_or_else(|| invalid("NotUnderstood with an invalid qname"))
}

fn read_body_fault(
    scanner: &mut Scanner<'_>,
    input: &[u8],
    version: SoapVersion,
) -> Result<Fault, ReadError> {
    let mut fault = None;
    loop {
        match scanner.next_token()? {
            Token::Start(element) => {
                if fault.is_none()
                    && scanner.element_is(&element.start, version.namespace(), "Fault")
                {
                    fault = Some(match version {
                        SoapVersion::Soap11 => read_soap11_fault(scanner, input)?,
                        SoapVersion::Soap12 => read_soap12_fault(scanner, input)?,
                    });
                } else if fault.is_none() {
                    return Err(invalid("the body does not start with a Fault"));
                } else {
                    scanner.skip_element()?;
                }
            }
            Token::Text { .. } => {}
            Token::End { .. } => return fault.ok_or_else(|| invalid("the body is empty")),
            Token::Eof => return Err(invalid("the body is not closed")),
        }
    }
}

fn read_soap11_fault(scanner: &mut Scanner<'_>, input: &[u8]) -> Result<Fault, ReadError> {
    let namespace = SoapVersion::Soap11.namespace();
    let mut code = None;
    let mut subcodes = Vec::new();
    let mut reason = None;
    let mut node = None;
    let mut detail = None;
    loop {
        match scanner.next_token()? {
            Token::Start(element) => {
                // The children are unqualified; some stacks put them in the
                // envelope namespace, which is accepted too.
                let local = match scanner.element_namespace(&element.start) {
                    None | Some(crate::version::SOAP11_ENVELOPE_NS) => {
                        scanner.element_name(&element.start).local
                    }
                    Some(_) => String::new(),
                };
                match local.as_str() {
                    "faultcode" if code.is_none() => {
                        let text = read_text(scanner)?;
                        let name = scanner
                            .resolve_content_qname(&text)
                            .ok_or_else(|| invalid("faultcode is not a QName"))?;
                        let known = (name.namespace.as_deref() == Some(namespace))
                            .then(|| FaultCode::from_local_name(SoapVersion::Soap11, &name.local))
                            .flatten();
                        code = Some(match known {
                            Some(known) => known,
                            None => {
                                subcodes.push(name);
                                FaultCode::Receiver
                            }
                        });
                    }
                    "faultstring" if reason.is_none() => {
                        let lang = lang(scanner, &element);
                        let text = read_text(scanner)?;
                        reason = Some(Reason { lang, text });
                    }
                    "faultactor" if node.is_none() => {
                        node = Some(trimmed(read_text(scanner)?));
                    }
                    "detail" if detail.is_none() => {
                        detail = Some(read_raw(scanner, input, &element)?);
                    }
                    _ => return Err(invalid("unexpected element in a SOAP 1.1 Fault")),
                }
            }
            Token::Text { text, .. } => expect_whitespace(&text)?,
            Token::End { .. } => break,
            Token::Eof => return Err(invalid("the fault is not closed")),
        }
    }
    Ok(Fault {
        code: code.ok_or_else(|| invalid("SOAP 1.1 Fault without faultcode"))?,
        subcodes,
        reasons: vec![reason.ok_or_else(|| invalid("SOAP 1.1 Fault without faultstring"))?],
        node,
        role: None,
        detail,
        not_understood: Vec::new(),
        header_blocks: Vec::new(),
    })
}

fn read_soap12_fault(scanner: &mut Scanner<'_>, input: &[u8]) -> Result<Fault, ReadError> {
    let namespace = SoapVersion::Soap12.namespace();
    let mut code = None;
    let mut subcodes = Vec::new();
    let mut reasons = None;
    let mut node = None;
    let mut role = None;
    let mut detail = None;
    loop {
        match scanner.next_token()? {
            Token::Start(element) => {
                let local = if scanner.element_namespace(&element.start) == Some(namespace) {
                    scanner.element_name(&element.start).local
                } else {
                    String::new()
                };
                match local.as_str() {
                    "Code" if code.is_none() => {
                        let value = read_code(scanner, &mut subcodes)?;
                        let known = (value.namespace.as_deref() == Some(namespace))
                            .then(|| FaultCode::from_local_name(SoapVersion::Soap12, &value.local))
                            .flatten();
                        code = Some(known.ok_or_else(|| invalid("unknown SOAP 1.2 fault code"))?);
                    }
                    "Reason" if reasons.is_none() => reasons = Some(read_reasons(scanner)?),
                    "Node" if node.is_none() => node = Some(trimmed(read_text(scanner)?)),
                    "Role" if role.is_none() => role = Some(trimmed(read_text(scanner)?)),
                    "Detail" if detail.is_none() => {
                        detail = Some(read_raw(scanner, input, &element)?);
                    }
                    _ => return Err(invalid("unexpected element in a SOAP 1.2 Fault")),
                }
            }
            Token::Text { text, .. } => expect_whitespace(&text)?,
            Token::End { .. } => break,
            Token::Eof => return Err(invalid("the fault is not closed")),
        }
    }
    let reasons = reasons.ok_or_else(|| invalid("SOAP 1.2 Fault without Reason"))?;
    if reasons.is_empty() {
        return Err(invalid("SOAP 1.2 Reason without Text"));
    }
    Ok(Fault {
        code: code.ok_or_else(|| invalid("SOAP 1.2 Fault without Code"))?,
        subcodes,
        reasons,
        node,
        role,
        detail,
        not_understood: Vec::new(),
        header_blocks: Vec::new(),
    })
}

/// Reads a `Code` or `Subcode`: its `Value`, returned, and the chain of
/// nested subcode values, appended to `subcodes`. The nesting is bounded
/// by the scanner's depth limit.
fn read_code(scanner: &mut Scanner<'_>, subcodes: &mut Vec<QName>) -> Result<QName, ReadError> {
    let namespace = SoapVersion::Soap12.namespace();
    let mut value = None;
    let mut nested = false;
    loop {
        match scanner.next_token()? {
            Token::Start(element) => {
                if value.is_none() && scanner.element_is(&element.start, namespace, "Value") {
                    let text = read_text(scanner)?;
                    value = Some(
                        scanner
                            .resolve_content_qname(&text)
                            .ok_or_else(|| invalid("a fault code Value is not a QName"))?,
                    );
                } else if value.is_some()
                    && !nested
                    && scanner.element_is(&element.start, namespace, "Subcode")
                {
                    nested = true;
                    // Deeper levels are appended while this one is read, so
                    // this level goes where the chain stood before it.
                    let at = subcodes.len();
                    let subcode = read_code(scanner, subcodes)?;
                    subcodes.insert(at, subcode);
                } else {
                    return Err(invalid("unexpected element in a fault Code"));
                }
            }
            Token::Text { text, .. } => expect_whitespace(&text)?,
            Token::End { .. } => {
                return value.ok_or_else(|| invalid("a fault Code without Value"));
            }
            Token::Eof => return Err(invalid("the fault code is not closed")),
        }
    }
}

fn read_reasons(scanner: &mut Scanner<'_>) -> Result<Vec<Reason>, ReadError> {
    let mut reasons = Vec::new();
    loop {
        match scanner.next_token()? {
            Token::Start(element)
                if scanner.element_is(&element.start, SoapVersion::Soap12.namespace(), "Text") =>
            {
                let lang = lang(scanner, &element);
                let text = read_text(scanner)?;
                reasons.push(Reason { lang, text });
            }
            Token::Start(_) => return Err(invalid("unexpected element in a fault Reason")),
            Token::Text { text, .. } => expect_whitespace(&text)?,
            Token::End { .. } => return Ok(reasons),
            Token::Eof => return Err(invalid("the fault reason is not closed")),
        }
    }
}

fn lang(scanner: &Scanner<'_>, element: &Element<'_>) -> String {
    scanner
        .attribute(&element.start, XML_NS, "lang")
        .map(|lang| lang.into_owned())
        .unwrap_or_default()
}

/// Reads the character data of the element whose start tag was just read.
fn read_text(scanner: &mut Scanner<'_>) -> Result<String, ReadError> {
    let mut text = String::new();
    loop {
        match scanner.next_token()? {
            Token::Text { text: piece, .. } => text.push_str(&piece),
            Token::End { .. } => return Ok(text),
            Token::Start(_) => return Err(invalid("an element where only text is allowed")),
            Token::Eof => return Err(invalid("text is not closed")),
        }
    }
}

/// Reads the content of the element whose start tag was just read as raw
/// XML.
fn read_raw(
    scanner: &mut Scanner<'_>,
    input: &[u8],
    element: &Element<'_>,
) -> Result<String, ReadError> {
    let end: Range<usize> = scanner.skip_element()?;
    let start = element.range.end;
    let content = input
        .get(start..end.start.max(start))
        .and_then(|bytes| std::str::from_utf8(bytes).ok())
        .ok_or_else(|| invalid("the detail is not text"))?;
    Ok(content.to_owned())
}

fn trimmed(text: String) -> String {
    text.trim_matches(is_xml_whitespace).to_owned()
}

fn expect_whitespace(text: &str) -> Result<(), ReadError> {
    if text.chars().all(is_xml_whitespace) {
        Ok(())
    } else {
        Err(invalid("unexpected character data in a Fault"))
    }
}

fn invalid(message: &str) -> ReadError {
    ReadError::InvalidFault {
        message: message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::{SOAP11_ENVELOPE_NS, SOAP12_ENVELOPE_NS};

    fn read(input: &str) -> Result<(SoapVersion, Fault), ReadError> {
        read_fault(input.as_bytes(), &Limits::default())
    }

    fn soap11(fault: &str) -> String {
        format!(
            r#"<SOAP-ENV:Envelope xmlns:SOAP-ENV="{SOAP11_ENVELOPE_NS}"><SOAP-ENV:Body><SOAP-ENV:Fault>{fault}</SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>"#
        )
    }

    fn soap12(header: &str, fault: &str) -> String {
        format!(
            r#"<env:Envelope xmlns:env="{SOAP12_ENVELOPE_NS}"><env:Header>{header}</env:Header><env:Body><env:Fault>{fault}</env:Fault></env:Body></env:Envelope>"#
        )
    }

    #[test]
    fn reads_a_soap11_fault() {
        let input = soap11(
            r#"
            <faultcode>SOAP-ENV:Client.Authentication</faultcode>
            <faultstring xml:lang="en">bad &amp; wrong</faultstring>
            <faultactor> urn:actor </faultactor>
            <detail><m:e xmlns:m="urn:m">1</m:e></detail>"#,
        );
        let (version, fault) = read(&input).unwrap();
        assert_eq!(version, SoapVersion::Soap11);
        assert_eq!(fault.code, FaultCode::Sender);
        assert!(fault.subcodes.is_empty());
        assert_eq!(
            fault.reasons,
            vec![Reason {
                lang: "en".into(),
                text: "bad & wrong".into()
            }]
        );
        assert_eq!(fault.node.as_deref(), Some("urn:actor"));
        assert_eq!(
            fault.detail.as_deref(),
            Some(r#"<m:e xmlns:m="urn:m">1</m:e>"#)
        );
    }

    #[test]
    fn reads_a_custom_soap11_fault_code() {
        let input = soap11(
            r#"<faultcode xmlns:c="urn:codes">c:Custom</faultcode><faultstring>x</faultstring><detail/>"#,
        );
        let (_, fault) = read(&input).unwrap();
        assert_eq!(fault.code, FaultCode::Receiver);
        assert_eq!(fault.subcodes, vec![QName::new("urn:codes", "Custom")]);
        assert_eq!(fault.detail.as_deref(), Some(""));
    }

    #[test]
    fn accepts_qualified_soap11_fault_children() {
        let input = soap11(
            "<SOAP-ENV:faultcode>SOAP-ENV:Server</SOAP-ENV:faultcode><SOAP-ENV:faultstring>x</SOAP-ENV:faultstring>",
        );
        assert_eq!(read(&input).unwrap().1.code, FaultCode::Receiver);
    }

    #[test]
    fn reads_a_soap12_fault() {
        let input = soap12(
            r#"<env:NotUnderstood qname="h:Sec" xmlns:h="urn:h"/><other:x xmlns:other="urn:o"/>"#,
            r#"
            <env:Code>
              <env:Value>env:MustUnderstand</env:Value>
              <env:Subcode>
                <env:Value xmlns:a="urn:a">a:One</env:Value>
                <env:Subcode><env:Value xmlns:b="urn:b">b:Two</env:Value></env:Subcode>
              </env:Subcode>
            </env:Code>
            <env:Reason>
              <env:Text xml:lang="en">no</env:Text>
              <env:Text xml:lang="de">nein</env:Text>
            </env:Reason>
            <env:Node>urn:node</env:Node>
            <env:Role>urn:role</env:Role>
            <env:Detail a="1"><x/>text</env:Detail>"#,
        );
        let (version, fault) = read(&input).unwrap();
        assert_eq!(version, SoapVersion::Soap12);
        assert_eq!(fault.code, FaultCode::MustUnderstand);
        assert_eq!(
            fault.subcodes,
            vec![QName::new("urn:a", "One"), QName::new("urn:b", "Two")]
        );
        assert_eq!(fault.reasons.len(), 2);
        assert_eq!(fault.reasons[1].lang, "de");
        assert_eq!(fault.reasons[1].text, "nein");
        assert_eq!(fault.node.as_deref(), Some("urn:node"));
        assert_eq!(fault.role.as_deref(), Some("urn:role"));
        assert_eq!(fault.detail.as_deref(), Some("<x/>text"));
        assert_eq!(fault.not_understood, vec![QName::new("urn:h", "Sec")]);
    }

    #[test]
    fn refuses_invalid_faults() {
        let cases = [
            soap11("<faultstring>x</faultstring>"),
            soap11("<faultcode>SOAP-ENV:Client</faultcode>"),
            soap11("<faultcode>nope:Client</faultcode><faultstring>x</faultstring>"),
            soap11("<faultcode>SOAP-ENV:Client</faultcode><faultstring>x</faultstring><other/>"),
            soap11("<faultcode><b/></faultcode><faultstring>x</faultstring>"),
            soap11("text<faultcode>SOAP-ENV:Client</faultcode><faultstring>x</faultstring>"),
            soap12("", "<env:Reason><env:Text>x</env:Text></env:Reason>"),
            soap12("", "<env:Code><env:Value>env:Sender</env:Value></env:Code>"),
            soap12(
                "",
                "<env:Code><env:Value>env:Sender</env:Value></env:Code><env:Reason/>",
            ),
            soap12(
                "",
                "<env:Code><env:Value>env:Client</env:Value></env:Code><env:Reason><env:Text>x</env:Text></env:Reason>",
            ),
            soap12(
                "",
                "<env:Code><env:Subcode/></env:Code><env:Reason><env:Text>x</env:Text></env:Reason>",
            ),
            soap12(
                "",
                "<env:Code/><env:Reason><env:Text>x</env:Text></env:Reason>",
            ),
            soap12(
                "",
                "<env:Code><env:Value>env:Sender</env:Value></env:Code><env:Reason><env:Other/></env:Reason>",
            ),
            soap12(
                "<env:NotUnderstood/>",
                "<env:Code><env:Value>env:Sender</env:Value></env:Code><env:Reason><env:Text>x</env:Text></env:Reason>",
            ),
            format!(
                r#"<e:Envelope xmlns:e="{SOAP12_ENVELOPE_NS}"><e:Body><x/></e:Body></e:Envelope>"#
            ),
            format!(r#"<e:Envelope xmlns:e="{SOAP12_ENVELOPE_NS}"><e:Body/></e:Envelope>"#),
        ];
        for input in &cases {
            let err = read(input).unwrap_err();
            assert!(
                matches!(err, ReadError::InvalidFault { .. }),
                "{input}: {err:?}"
            );
        }
        assert!(matches!(
            read("<x/>"),
            Err(ReadError::VersionMismatch { .. })
        ));
        let no_body = format!(r#"<e:Envelope xmlns:e="{SOAP12_ENVELOPE_NS}"/>"#);
        assert_eq!(read(&no_body).unwrap_err(), ReadError::MissingBody);
        assert!(matches!(
            read(&soap11("<faultcode>")),
            Err(ReadError::Malformed { .. })
        ));
    }
}
