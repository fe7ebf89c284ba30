//! The fault writer.

use crate::error::WriteError;
use crate::fault::{Fault, FaultCode};
use crate::names::is_ncname;
use crate::qname::QName;
use crate::version::{SOAP11_ENVELOPE_NS, SOAP12_ENVELOPE_NS, SoapVersion};
use crate::xml_out::XmlOut;

/// The prefix of the envelope namespace in written faults.
const ENV: &str = "soap";

/// Writes a complete envelope of `version` whose body is `fault`.
///
/// SOAP 1.2 `MustUnderstand` faults carry one `NotUnderstood` header block
/// per name in [`Fault::not_understood`]; `VersionMismatch` faults carry an
/// `Upgrade` header block listing the envelopes this crate reads, as SOAP
/// 1.2 Part 1 §5.4.7 and Appendix A describe. [`Fault::header_blocks`]
/// are written first in the `Header`, as they are (the caller checks they
/// are well-formed elements). The HTTP status to send with it is
/// [`Fault::http_status`].
///
/// ```
/// use ithaca_wsdl::{Fault, FaultCode, SoapVersion, write_fault};
///
/// let fault = Fault::new(FaultCode::Sender, "no such operation");
/// let xml = write_fault(SoapVersion::Soap11, &fault)?;
/// let xml = String::from_utf8(xml).unwrap();
/// assert!(xml.contains("<faultcode>soap:Client</faultcode>"));
/// assert_eq!(fault.http_status(SoapVersion::Soap11), 500);
/// # Ok::<(), ithaca_wsdl::WriteError>(())
/// ```
pub fn write_fault(version: SoapVersion, fault: &Fault) -> Result<Vec<u8>, WriteError> {
    let mut out = Vec::with_capacity(512);
    let mut xml = XmlOut::new(&mut out);
    let namespace = version.namespace();
    xml.declaration()?;
    xml.start("soap:Envelope", &[("xmlns:soap", namespace)])?;
    write_fault_header(&mut xml, version, fault)?;
    xml.start("soap:Body", &[])?;
    xml.start("soap:Fault", &[])?;
    match version {
        SoapVersion::Soap11 => write_soap11_fault(&mut xml, fault)?,
        SoapVersion::Soap12 => write_soap12_fault(&mut xml, fault)?,
    }
    xml.end("soap:Fault")?;
    xml.end("soap:Body")?;
    xml.end("soap:Envelope")?;
    Ok(out)
}

fn write_fault_header(
    xml: &mut XmlOut<'_>,
    version: SoapVersion,
    fault: &Fault,
) -> Result<(), WriteError> {
    let not_understood = version == SoapVersion::Soap12 && !fault.not_understood.is_empty();
    let upgrade = fault.code == FaultCode::VersionMismatch;
    if !not_understood && !upgrade && fault.header_blocks.is_empty() {
        return Ok(());
    }
    xml.start("soap:Header", &[])?;
    for block in &fault.header_blocks {
        xml.raw(block.as_bytes())?;
    }
    if not_understood {
        for name in &fault.not_understood {
            let (declaration, lexical) = lexical_qname(name, version)?;
            let mut attributes = vec![("qname", lexical.as_str())];
            if let Some((key, uri)) = &declaration {
                attributes.push((key.as_str(), uri.as_str()));
            }
            xml.empty("soap:NotUnderstood", &attributes)?;
        }
    }
    if upgrade {
        // The Upgrade block belongs to SOAP 1.2 even inside a SOAP 1.1
        // envelope, as in SOAP 1.2 Part 1, Appendix A.
        xml.start("up:Upgrade", &[("xmlns:up", SOAP12_ENVELOPE_NS)])?;
        for supported in [SOAP12_ENVELOPE_NS, SOAP11_ENVELOPE_NS] {
            xml.empty(
                "up:SupportedEnvelope",
                &[("qname", "e:Envelope"), ("xmlns:e", supported)],
            )?;
        }
        xml.end("up:Upgrade")?;
    }
    xml.end("soap:Header")
}

fn write_soap11_fault(xml: &mut XmlOut<'_>, fault: &Fault) -> Result<(), WriteError> {
    let code = format!("{ENV}:{}", fault.code.local_name(SoapVersion::Soap11));
    xml.text_element("faultcode", &[], &code)?;
    xml.text_element("faultstring", &[], fault.reason())?;
    if let Some(node) = &fault.node {
        xml.text_element("faultactor", &[], node)?;
    }
    if let Some(detail) = &fault.detail {
        xml.start("detail", &[])?;
        xml.raw(detail.as_bytes())?;
        xml.end("detail")?;
    }
    Ok(())
}

fn write_soap12_fault(xml: &mut XmlOut<'_>, fault: &Fault) -> Result<(), WriteError> {
    let version = SoapVersion::Soap12;
    xml.start("soap:Code", &[])?;
    let code = format!("{ENV}:{}", fault.code.local_name(version));
    xml.text_element("soap:Value", &[], &code)?;
    for subcode in &fault.subcodes {
        xml.start("soap:Subcode", &[])?;
        let (declaration, lexical) = lexical_qname(subcode, version)?;
        let attributes: Vec<(&str, &str)> = declaration
            .iter()
            .map(|(key, uri)| (key.as_str(), uri.as_str()))
            .collect();
        xml.text_element("soap:Value", &attributes, &lexical)?;
    }
    for _ in &fault.subcodes {
        xml.end("soap:Subcode")?;
    }
    xml.end("soap:Code")?;
    xml.start("soap:Reason", &[])?;
    for reason in &fault.reasons {
        xml.text_element("soap:Text", &[("xml:lang", &reason.lang)], &reason.text)?;
    }
    xml.end("soap:Reason")?;
    if let Some(node) = &fault.node {
        xml.text_element("soap:Node", &[], node)?;
    }
    if let Some(role) = &fault.role {
        xml.text_element("soap:Role", &[], role)?;
    }
    if let Some(detail) = &fault.detail {
        xml.start("soap:Detail", &[])?;
        xml.raw(detail.as_bytes())?;
        xml.end("soap:Detail")?;
    }
    Ok(())
}

/// The lexical form of a QName-valued text or attribute, with the
/// declaration (`xmlns:q`, URI) it needs on the element that holds it.
fn lexical_qname(
    name: &QName,
    version: SoapVersion,
) -> Result<(Option<(String, String)>, String), WriteError> {
    if !is_ncname(&name.local) {
        return Err(WriteError::InvalidName(name.local.clone()));
    }
    match name.namespace.as_deref() {
        None | Some("") => Ok((None, name.local.clone())),
        Some(namespace) if namespace == version.namespace() => {
            Ok((None, format!("{ENV}:{}", name.local)))
        }
        Some(namespace) => Ok((
            Some(("xmlns:q".to_owned(), namespace.to_owned())),
            format!("q:{}", name.local),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::Reason;
    use expect_test::expect;

    fn text(version: SoapVersion, fault: &Fault) -> String {
        String::from_utf8(write_fault(version, fault).unwrap()).unwrap()
    }

    fn full_fault() -> Fault {
        Fault {
            code: FaultCode::Sender,
            subcodes: vec![QName::new("urn:m", "Timeout"), QName::unqualified("Late")],
            reasons: vec![
                Reason {
                    lang: "en".into(),
                    text: "too <late> & \"gone\"".into(),
                },
                Reason {
                    lang: "fr".into(),
                    text: "trop tard".into(),
                },
            ],
            node: Some("urn:node".into()),
            role: Some("urn:role".into()),
            detail: Some(r#"<m:d xmlns:m="urn:m">1</m:d>"#.into()),
            not_understood: vec![],
            header_blocks: vec![],
        }
    }

    #[test]
    fn writes_a_soap11_fault() {
        expect![[r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault><faultcode>soap:Client</faultcode><faultstring>too &lt;late&gt; &amp; "gone"</faultstring><faultactor>urn:node</faultactor><detail><m:d xmlns:m="urn:m">1</m:d></detail></soap:Fault></soap:Body></soap:Envelope>"#]]
            .assert_eq(&text(SoapVersion::Soap11, &full_fault()));
    }

    #[test]
    fn writes_a_soap12_fault() {
        expect![[r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body><soap:Fault><soap:Code><soap:Value>soap:Sender</soap:Value><soap:Subcode><soap:Value xmlns:q="urn:m">q:Timeout</soap:Value><soap:Subcode><soap:Value>Late</soap:Value></soap:Subcode></soap:Subcode></soap:Code><soap:Reason><soap:Text xml:lang="en">too &lt;late&gt; &amp; "gone"</soap:Text><soap:Text xml:lang="fr">trop tard</soap:Text></soap:Reason><soap:Node>urn:node</soap:Node><soap:Role>urn:role</soap:Role><soap:Detail><m:d xmlns:m="urn:m">1</m:d></soap:Detail></soap:Fault></soap:Body></soap:Envelope>"#]]
            .assert_eq(&text(SoapVersion::Soap12, &full_fault()));
    }

    #[test]
    fn writes_not_understood_blocks_in_soap12_only() {
        let mut fault = Fault::new(FaultCode::MustUnderstand, "not understood");
        fault.not_understood = vec![
            QName::new("urn:h", "Security"),
            QName::new(SOAP12_ENVELOPE_NS, "Odd"),
        ];
        expect![[r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Header><soap:NotUnderstood qname="q:Security" xmlns:q="urn:h"/><soap:NotUnderstood qname="soap:Odd"/></soap:Header><soap:Body><soap:Fault><soap:Code><soap:Value>soap:MustUnderstand</soap:Value></soap:Code><soap:Reason><soap:Text xml:lang="en">not understood</soap:Text></soap:Reason></soap:Fault></soap:Body></soap:Envelope>"#]]
            .assert_eq(&text(SoapVersion::Soap12, &fault));
        assert!(!text(SoapVersion::Soap11, &fault).contains("NotUnderstood"));
    }

    #[test]
    fn writes_header_fault_blocks_in_both_versions() {
        let mut fault = Fault::new(FaultCode::Sender, "bad session");
        fault.header_blocks = vec![r#"<h:refused xmlns:h="urn:h">expired</h:refused>"#.into()];
        for version in [SoapVersion::Soap11, SoapVersion::Soap12] {
            let xml = text(version, &fault);
            assert!(
                xml.contains(r#"<soap:Header><h:refused xmlns:h="urn:h">expired</h:refused></soap:Header><soap:Body>"#),
                "{xml}"
            );
            assert!(!xml.contains("etail"), "{xml}");
        }
    }

    #[test]
    fn version_mismatch_carries_an_upgrade_block() {
        let fault = Fault::new(FaultCode::VersionMismatch, "wrong envelope");
        for version in [SoapVersion::Soap11, SoapVersion::Soap12] {
            let xml = text(version, &fault);
            assert!(xml.contains(r#"<up:Upgrade xmlns:up="http://www.w3.org/2003/05/soap-envelope"><up:SupportedEnvelope qname="e:Envelope" xmlns:e="http://www.w3.org/2003/05/soap-envelope"/><up:SupportedEnvelope qname="e:Envelope" xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"/></up:Upgrade>"#), "{xml}");
        }
    }

    #[test]
    fn escapes_control_characters_and_carriage_returns() {
        let fault = Fault::new(FaultCode::Receiver, "a\u{1}b\r\nc");
        let xml = text(SoapVersion::Soap11, &fault);
        assert!(
            xml.contains("<faultstring>a\u{FFFD}b&#xD;\nc</faultstring>"),
            "{xml}"
        );
        assert!(xml.contains("<faultcode>soap:Server</faultcode>"));
    }

    #[test]
    fn refuses_invalid_subcode_names() {
        let mut fault = Fault::new(FaultCode::Sender, "x");
        fault.subcodes = vec![QName::new("urn:x", "not a name")];
        assert!(matches!(
            write_fault(SoapVersion::Soap12, &fault),
            Err(WriteError::InvalidName(_))
        ));
    }
}
