//! The HTTP responses of the SOAP path: envelopes, faults in either
//! version with their status, and plain-text refusals for requests that
//! are not SOAP at all.

use std::sync::OnceLock;

use http::header::{ALLOW, CONTENT_TYPE};
use http::{HeaderValue, StatusCode};
use ithaca_wsdl::{EnvelopeWriter, Fault, FaultCode, SoapVersion, write_fault};

use bytes::Bytes;

use super::handler::{MAX_HEADER_BLOCK_BYTES, MAX_HEADER_BLOCKS};
use crate::body::{Response, full, text_response};

/// The bytes of an envelope of one version before and after its body
/// content. `EnvelopeWriter` copies the payload verbatim, so writing it
/// once around a marker byte that the writer never emits itself gives
/// them, and each response is then two copies instead of a writer run.
struct Template {
    head: Vec<u8>,
    tail: Vec<u8>,
}

impl Template {
    fn new(version: SoapVersion) -> Option<Self> {
        let xml = EnvelopeWriter::new(version).to_vec(b"\0").ok()?;
        let at = xml.iter().position(|&b| b == 0)?;
        Some(Self {
            head: xml.get(..at)?.to_vec(),
            tail: xml.get(at + 1..)?.to_vec(),
        })
    }

    fn of(version: SoapVersion) -> Option<&'static Self> {
        static SOAP11: OnceLock<Option<Template>> = OnceLock::new();
        static SOAP12: OnceLock<Option<Template>> = OnceLock::new();
        let cell = match version {
            SoapVersion::Soap11 => &SOAP11,
            SoapVersion::Soap12 => &SOAP12,
        };
        cell.get_or_init(|| Self::new(version)).as_ref()
    }
}

/// `200 OK` with an envelope of `version` around `payload`.
pub(crate) fn envelope(version: SoapVersion, payload: &[u8]) -> Response {
    if let Some(template) = Template::of(version) {
        let mut xml = Vec::with_capacity(template.head.len() + payload.len() + template.tail.len());
        xml.extend_from_slice(&template.head);
        xml.extend_from_slice(payload);
        xml.extend_from_slice(&template.tail);
        return soap_response(StatusCode::OK, version, xml);
    }
    match EnvelopeWriter::new(version).to_vec(payload) {
        Ok(xml) => soap_response(StatusCode::OK, version, xml),
        Err(error) => fault(
            version,
            &Fault::new(
                FaultCode::Receiver,
                format!("internal error: cannot write the response: {error}"),
            ),
        ),
    }
}

/// `200 OK` with an envelope of `version` whose `Header` holds `headers`
/// (each checked to be one bounded, well-formed element binding its own
/// prefixes) around `payload`; without headers, [`envelope`]. A block that
/// fails the check answers a Receiver fault naming it.
pub(crate) fn envelope_with_headers(
    version: SoapVersion,
    headers: &[Bytes],
    payload: &[u8],
) -> Response {
    if headers.is_empty() {
        return envelope(version, payload);
    }
    let refuse = |reason: String| {
        tracing::warn!(%reason, "a handler answered a bad output header block");
        fault(
            version,
            &Fault::new(
                FaultCode::Receiver,
                format!("internal error: the service answered a bad header block: {reason}"),
            ),
        )
    };
    if headers.len() > MAX_HEADER_BLOCKS {
        return refuse(format!(
            "{} header blocks, more than {MAX_HEADER_BLOCKS}",
            headers.len()
        ));
    }
    let mut writer = EnvelopeWriter::new(version);
    for (index, block) in headers.iter().enumerate() {
        if let Err(reason) = check_header_block(block) {
            return refuse(format!("block {}: {reason}", index + 1));
        }
        writer = writer.header_block(block);
    }
    match writer.to_vec(payload) {
        Ok(xml) => soap_response(StatusCode::OK, version, xml),
        Err(error) => refuse(error.to_string()),
    }
}

/// Checks that `block` is one element, well-formed, with every prefix bound
/// inside it, no DTD, and within the size bound.
fn check_header_block(block: &[u8]) -> Result<(), String> {
    header_block_name(block).map(|_| ())
}

/// The expanded name of the header block `block`, once it passes the
/// checks of [`check_header_block`].
pub(crate) fn header_block_name(block: &[u8]) -> Result<ithaca_wsdl::QName, String> {
    if block.len() > MAX_HEADER_BLOCK_BYTES {
        return Err(format!(
            "{} bytes, more than {MAX_HEADER_BLOCK_BYTES}",
            block.len()
        ));
    }
    let text = std::str::from_utf8(block).map_err(|_| "not UTF-8".to_owned())?;
    if text.trim_start().starts_with("<?") {
        return Err("an XML declaration is not an element".to_owned());
    }
    let options = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit: u32::try_from(MAX_HEADER_BLOCK_BYTES).unwrap_or(u32::MAX),
        ..roxmltree::ParsingOptions::default()
    };
    let document = roxmltree::Document::parse_with_options(text, options)
        .map_err(|error| format!("not one well-formed element: {error}"))?;
    let root = document.root_element().tag_name();
    Ok(ithaca_wsdl::QName {
        namespace: root.namespace().map(str::to_owned),
        local: root.name().to_owned(),
    })
}

/// The fault as an envelope of `version`, with the HTTP status its code
/// takes in that version (SOAP 1.1: 500; SOAP 1.2: 400 for Sender, else
/// 500).
pub(crate) fn fault(version: SoapVersion, fault: &Fault) -> Response {
    fault_with_status(version, fault, fault.http_status(version))
}

/// The fault as an envelope of `version`, with a status chosen by the
/// caller (`415` for a SOAP request in an unsupported charset).
pub(crate) fn fault_with_status(version: SoapVersion, fault: &Fault, status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match write_fault(version, fault) {
        Ok(xml) => {
            let mut response = soap_response(status, version, xml);
            if fault.code != FaultCode::Receiver {
                response.extensions_mut().insert(crate::body::ClientCaused);
            }
            response
        }
        Err(error) => {
            // Only names given by a handler (subcodes, not-understood
            // blocks) can fail to write; answer a plain Receiver fault.
            tracing::warn!(%error, "cannot write a fault; answering a plain one");
            let plain = Fault::new(
                FaultCode::Receiver,
                "internal error: cannot write the fault",
            );
            match write_fault(version, &plain) {
                Ok(xml) => soap_response(StatusCode::INTERNAL_SERVER_ERROR, version, xml),
                Err(_) => text_response(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n"),
            }
        }
    }
}

/// `202 Accepted` with no body: the answer to a one-way operation.
pub(crate) fn accepted() -> Response {
    let mut response = http::Response::new(crate::body::Body::empty());
    *response.status_mut() = StatusCode::ACCEPTED;
    response
}

/// A plain-text refusal (no SOAP version is known, or the request is not
/// SOAP).
pub(crate) fn plain(status: StatusCode, text: &str) -> Response {
    text_response(status, format!("{text}\n"))
}

/// `405 Method Not Allowed`.
pub(crate) fn method_not_allowed() -> Response {
    let mut response = plain(
        StatusCode::METHOD_NOT_ALLOWED,
        "send SOAP requests with POST; GET ?wsdl returns the contract",
    );
    response
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static("GET, POST"));
    response
}

/// The contract for `GET ?wsdl`.
pub(crate) fn wsdl(text: String) -> Response {
    let mut response = http::Response::new(full(text));
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/xml; charset=utf-8"),
    );
    response
}

fn soap_response(status: StatusCode, version: SoapVersion, xml: Vec<u8>) -> Response {
    let mut response = http::Response::new(full(xml));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static(version.content_type()),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_statuses_follow_the_version() {
        let sender = Fault::new(FaultCode::Sender, "x");
        assert_eq!(fault(SoapVersion::Soap11, &sender).status(), 500);
        assert_eq!(fault(SoapVersion::Soap12, &sender).status(), 400);
        let receiver = Fault::new(FaultCode::Receiver, "x");
        assert_eq!(fault(SoapVersion::Soap12, &receiver).status(), 500);
        let response = fault(SoapVersion::Soap12, &sender);
        assert_eq!(
            response.headers()[CONTENT_TYPE],
            "application/soap+xml; charset=utf-8"
        );
    }

    #[test]
    fn the_template_writes_what_the_envelope_writer_writes() {
        use http_body_util::BodyExt;
        let payload = br#"<m:r xmlns:m="urn:m">x &amp; y</m:r>"#;
        for version in [SoapVersion::Soap11, SoapVersion::Soap12] {
            let response = envelope(version, payload);
            let body = block_on(response.into_body().collect()).unwrap().to_bytes();
            let expected = EnvelopeWriter::new(version).to_vec(payload).unwrap();
            assert_eq!(body.as_ref(), expected.as_slice());
        }
    }

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    fn body_of(response: Response) -> String {
        use http_body_util::BodyExt;
        let body = block_on(response.into_body().collect()).unwrap().to_bytes();
        String::from_utf8(body.to_vec()).unwrap()
    }

    #[test]
    fn header_blocks_go_into_the_header_of_either_version() {
        let payload = br#"<m:trackResponse xmlns:m="urn:m"/>"#;
        let echo = Bytes::from_static(br#"<m:sessionEcho xmlns:m="urn:m"><m:user>alice</m:user><m:ticket>42</m:ticket></m:sessionEcho>"#);
        let trace = Bytes::from_static(br#"<t:trace xmlns:t="urn:t" t:n="1"/>"#);
        for (version, ns) in [
            (
                SoapVersion::Soap11,
                "http://schemas.xmlsoap.org/soap/envelope/",
            ),
            (
                SoapVersion::Soap12,
                "http://www.w3.org/2003/05/soap-envelope",
            ),
        ] {
            let response = envelope_with_headers(version, &[echo.clone(), trace.clone()], payload);
            assert_eq!(response.status(), 200);
            assert_eq!(response.headers()[CONTENT_TYPE], version.content_type());
            let xml = body_of(response);
            let envelope =
                ithaca_wsdl::read_envelope(xml.as_bytes(), None, &ithaca_wsdl::Limits::default())
                    .unwrap();
            assert_eq!(envelope.version, version);
            let blocks = envelope.header_blocks();
            assert_eq!(blocks.len(), 2);
            assert_eq!(
                xml.get(blocks[0].range.clone()).unwrap().as_bytes(),
                echo.as_ref()
            );
            assert_eq!(
                xml.get(blocks[1].range.clone()).unwrap().as_bytes(),
                trace.as_ref()
            );
            let doc = roxmltree::Document::parse(&xml).unwrap();
            let header = doc
                .descendants()
                .find(|n| n.has_tag_name((ns, "Header")))
                .unwrap();
            let echoed = header.first_element_child().unwrap();
            assert!(echoed.has_tag_name(("urn:m", "sessionEcho")));
            let user = echoed.first_element_child().unwrap();
            assert_eq!(
                (user.tag_name().namespace(), user.text()),
                (Some("urn:m"), Some("alice"))
            );
            assert!(xml.contains(r#"<m:trackResponse xmlns:m="urn:m"/>"#));
        }
    }

    #[test]
    fn no_header_blocks_writes_the_plain_envelope() {
        let payload = br#"<m:r xmlns:m="urn:m"/>"#;
        let with = body_of(envelope_with_headers(SoapVersion::Soap11, &[], payload));
        assert_eq!(with, body_of(envelope(SoapVersion::Soap11, payload)));
        assert!(!with.contains("Header"));
    }

    #[test]
    fn bad_header_blocks_answer_receiver_faults() {
        let too_big = Bytes::from(format!("<a>{}</a>", "x".repeat(MAX_HEADER_BLOCK_BYTES)));
        let cases: Vec<Bytes> = vec![
            Bytes::from_static(b"<a><b></a>"),
            Bytes::from_static(b"<u:a/>"),
            Bytes::from_static(b"<a/><b/>"),
            Bytes::from_static(b"text"),
            Bytes::from_static(b"<!DOCTYPE a [<!ENTITY e \"x\">]><a>&e;</a>"),
            Bytes::from_static(b"<?xml version=\"1.0\"?><a/>"),
            too_big,
        ];
        for version in [SoapVersion::Soap11, SoapVersion::Soap12] {
            for block in &cases {
                let response = envelope_with_headers(version, std::slice::from_ref(block), b"<r/>");
                assert_eq!(response.status(), 500, "{block:?}");
                let xml = body_of(response);
                assert!(xml.contains("bad header block"), "{xml}");
            }
            let many = vec![Bytes::from_static(b"<a/>"); MAX_HEADER_BLOCKS + 1];
            assert_eq!(envelope_with_headers(version, &many, b"<r/>").status(), 500);
        }
    }

    #[test]
    fn an_unwritable_fault_becomes_a_plain_receiver_fault() {
        let mut bad = Fault::new(FaultCode::Sender, "x");
        bad.subcodes = vec![ithaca_wsdl::QName::new("urn:x", "not a name")];
        assert_eq!(fault(SoapVersion::Soap12, &bad).status(), 500);
    }
}
