//! `GET …?wsdl`: the contract as loaded, with each port's `soap:address`
//! (or `soap12:address`) `location` rewritten to where the gateway serves
//! that port, as seen by the client that asked.
//!
//! The document is parsed once, when the service is built, to find the
//! byte range of every address; a request only splices URLs into those
//! ranges.

use std::ops::Range;

use http::header::HOST;
use ithaca_wsdl::wsdl11::{WSDL11_NS, WSDL11_SOAP11_NS, WSDL11_SOAP12_NS};

use crate::body::Request;

/// The longest `Host` header used in a published address.
const MAX_HOST_LEN: usize = 255;

/// The contract's text and where its port addresses are.
#[derive(Debug)]
pub(crate) struct Publication {
    text: String,
    /// The `location` value of each port's SOAP address, with the port's
    /// name, in document order.
    slots: Vec<(Range<usize>, String)>,
}

impl Publication {
    /// Finds the port addresses of a WSDL document.
    pub(crate) fn new(bytes: &[u8]) -> Result<Self, String> {
        let text = std::str::from_utf8(bytes)
            .map_err(|e| format!("the document is not UTF-8: {e}"))?
            .to_owned();
        let options = roxmltree::ParsingOptions {
            allow_dtd: false,
            ..roxmltree::ParsingOptions::default()
        };
        let document = roxmltree::Document::parse_with_options(&text, options)
            .map_err(|e| format!("the document is not well-formed XML: {e}"))?;
        let mut slots = Vec::new();
        for address in document.descendants().filter(|node| {
            node.tag_name().name() == "address"
                && matches!(
                    node.tag_name().namespace(),
                    Some(WSDL11_SOAP11_NS | WSDL11_SOAP12_NS)
                )
        }) {
            let Some(port) = address.parent_element().filter(|parent| {
                parent.tag_name().name() == "port"
                    && parent.tag_name().namespace() == Some(WSDL11_NS)
            }) else {
                continue;
            };
            let Some(port_name) = port.attribute("name") else {
                continue;
            };
            let Some(location) = address.attributes().find(|attribute| {
                attribute.name() == "location" && attribute.namespace().is_none()
            }) else {
                continue;
            };
            let range = location.range_value();
            // roxmltree documents the range as exact below its size limits;
            // check it all the same, as a wrong splice would break the XML.
            let quoted = range.start > 0
                && text.get(range.start - 1..range.start) == text.get(range.end..range.end + 1)
                && matches!(text.get(range.end..range.end + 1), Some("\"" | "'"));
            if !quoted || text.get(range.clone()).is_none() {
                return Err(format!(
                    "cannot locate the address of the port `{port_name}` in the document"
                ));
            }
            slots.push((range, port_name.to_owned()));
        }
        Ok(Self { text, slots })
    }

    /// The document with the address of each port for which `address`
    /// returns a URL replaced by that URL; other addresses are left as
    /// written.
    pub(crate) fn render(&self, address: impl Fn(&str) -> Option<String>) -> String {
        let mut out = String::with_capacity(self.text.len() + 64 * self.slots.len());
        let mut copied = 0;
        for (range, port) in &self.slots {
            let Some(url) = address(port) else { continue };
            out.push_str(self.text.get(copied..range.start).unwrap_or_default());
            escape_attribute(&url, &mut out);
            copied = range.end;
        }
        out.push_str(self.text.get(copied..).unwrap_or_default());
        out
    }
}

/// Where a client reaches the gateway: `public_url` when one is
/// configured, else `http://` or `https://` and the request's `Host` header
/// (or, in HTTP/2, its authority). `Ok(None)` when the request names no
/// host; `Err` when its `Host` is not a valid host and port.
pub(crate) fn base_url(request: &Request, public_url: Option<&str>) -> Result<Option<String>, ()> {
    if let Some(public) = public_url {
        return Ok(Some(public.trim_end_matches('/').to_owned()));
    }
    let host = match request.headers().get(HOST) {
        Some(value) => Some(value.to_str().map_err(|_| ())?),
        None => request.uri().authority().map(http::uri::Authority::as_str),
    };
    let Some(host) = host else { return Ok(None) };
    let valid = !host.is_empty()
        && host.len() <= MAX_HOST_LEN
        && host.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~' | b':' | b'[' | b']')
        });
    if !valid {
        return Err(());
    }
    let scheme = match request.uri().scheme_str() {
        Some("https") => "https",
        _ => "http",
    };
    Ok(Some(format!("{scheme}://{host}")))
}

/// Whether the query asks for the contract: `?wsdl`, in any case.
pub(crate) fn wants_wsdl(query: Option<&str>) -> bool {
    query.is_some_and(|query| query.eq_ignore_ascii_case("wsdl"))
}

fn escape_attribute(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::full;

    const WSDL: &str = r#"<?xml version="1.0"?>
<d:definitions xmlns:d="http://schemas.xmlsoap.org/wsdl/"
    xmlns:s="http://schemas.xmlsoap.org/wsdl/soap/" xmlns:s12="http://schemas.xmlsoap.org/wsdl/soap12/">
  <d:service name="S">
    <d:port name="A" binding="x"><s:address location="http://old/a"/></d:port>
    <d:port name="B" binding="y"><s12:address location = 'http://old/b' /></d:port>
    <d:port name="C" binding="z"><other:address xmlns:other="urn:o" location="keep"/></d:port>
  </d:service>
</d:definitions>"#;

    #[test]
    fn rewrites_each_soap_address() {
        let publication = Publication::new(WSDL.as_bytes()).unwrap();
        assert_eq!(publication.slots.len(), 2);
        let out = publication.render(|port| match port {
            "A" => Some("http://h:1/a&b".to_owned()),
            "B" => Some("http://h:1/b".to_owned()),
            _ => None,
        });
        assert!(
            out.contains(r#"<s:address location="http://h:1/a&amp;b"/>"#),
            "{out}"
        );
        assert!(
            out.contains(r#"<s12:address location = 'http://h:1/b' />"#),
            "{out}"
        );
        assert!(out.contains(r#"location="keep""#));
        let untouched = publication.render(|_| None);
        assert_eq!(untouched, WSDL);
    }

    #[test]
    fn refuses_what_cannot_be_published() {
        assert!(Publication::new(b"\xff\xfe").is_err());
        assert!(Publication::new(b"<a>").is_err());
        assert!(Publication::new(b"<!DOCTYPE a [<!ENTITY e 'x'>]><a>&e;</a>").is_err());
    }

    fn request(host: Option<&str>, uri: &str) -> Request {
        let mut builder = http::Request::get(uri);
        if let Some(host) = host {
            builder = builder.header(HOST, host);
        }
        builder.body(full("")).unwrap()
    }

    #[test]
    fn base_url_comes_from_the_host_header_or_the_configured_url() {
        let base = |host, uri| base_url(&request(host, uri), None);
        assert_eq!(
            base(Some("gw.example:8080"), "/s?wsdl"),
            Ok(Some("http://gw.example:8080".into()))
        );
        assert_eq!(
            base(Some("[::1]:80"), "/s"),
            Ok(Some("http://[::1]:80".into()))
        );
        assert_eq!(
            base(None, "https://h2.example/s?wsdl"),
            Ok(Some("https://h2.example".into()))
        );
        assert_eq!(base(None, "/s?wsdl"), Ok(None));
        assert_eq!(base(Some("evil\"><x"), "/s"), Err(()));
        assert_eq!(base(Some(""), "/s"), Err(()));
        assert_eq!(
            base_url(
                &request(Some("ignored"), "/s"),
                Some("https://public.example/gw/")
            ),
            Ok(Some("https://public.example/gw".into()))
        );
    }

    #[test]
    fn only_wsdl_queries_ask_for_the_contract() {
        assert!(wants_wsdl(Some("wsdl")));
        assert!(wants_wsdl(Some("WSDL")));
        assert!(!wants_wsdl(Some("wsdl=1")));
        assert!(!wants_wsdl(None));
    }
}
