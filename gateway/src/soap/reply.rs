//! The HTTP responses of the SOAP path: envelopes, faults in either
//! version with their status, and plain-text refusals for requests that
//! are not SOAP at all.

use std::sync::OnceLock;

use http::header::{ALLOW, CONTENT_TYPE};
use http::{HeaderValue, StatusCode};
use ithaca_wsdl::{EnvelopeWriter, Fault, FaultCode, SoapVersion, write_fault};

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

    #[test]
    fn an_unwritable_fault_becomes_a_plain_receiver_fault() {
        let mut bad = Fault::new(FaultCode::Sender, "x");
        bad.subcodes = vec![ithaca_wsdl::QName::new("urn:x", "not a name")];
        assert_eq!(fault(SoapVersion::Soap12, &bad).status(), 500);
    }
}
