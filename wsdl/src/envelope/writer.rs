//! The writer of response envelopes.

use crate::error::WriteError;
use crate::names::is_ncname;
use crate::qname::NamespaceBinding;
use crate::version::SoapVersion;
use crate::xml_out::XmlOut;

/// Prefixes tried, in order, for the envelope namespace; the first one no
/// caller-given binding uses wins.
const ENVELOPE_PREFIXES: [&str; 4] = ["soap", "soapenv", "env", "s"];

/// Writes a SOAP envelope around a payload given as bytes.
///
/// The payload (and each header block) is copied verbatim: the caller
/// vouches that it is well-formed XML content whose prefixes are bound
/// either inside it or by the namespaces given to
/// [`EnvelopeWriter::namespaces`].
///
/// ```
/// use ithaca_wsdl::{EnvelopeWriter, SoapVersion};
///
/// let xml = EnvelopeWriter::new(SoapVersion::Soap12)
///     .to_vec(br#"<m:echoResponse xmlns:m="urn:echo"/>"#)?;
/// assert!(xml.starts_with(b"<?xml"));
/// # Ok::<(), ithaca_wsdl::WriteError>(())
/// ```
#[derive(Debug, Clone)]
pub struct EnvelopeWriter<'a> {
    version: SoapVersion,
    namespaces: &'a [NamespaceBinding],
    header_blocks: Vec<&'a [u8]>,
}

impl<'a> EnvelopeWriter<'a> {
    /// Starts an envelope of the given version.
    pub fn new(version: SoapVersion) -> Self {
        Self {
            version,
            namespaces: &[],
            header_blocks: Vec::new(),
        }
    }

    /// Declares these namespaces on the `Envelope` element, for payloads
    /// and header blocks that use prefixes bound outside them.
    pub fn namespaces(mut self, namespaces: &'a [NamespaceBinding]) -> Self {
        self.namespaces = namespaces;
        self
    }

    /// Adds a header block, given as the raw bytes of one element.
    pub fn header_block(mut self, block: &'a [u8]) -> Self {
        self.header_blocks.push(block);
        self
    }

    /// Appends the envelope with `payload` as the body's content to `out`.
    pub fn write_to(&self, payload: &[u8], out: &mut Vec<u8>) -> Result<(), WriteError> {
        let prefix = self.envelope_prefix()?;
        let envelope = format!("{prefix}:Envelope");
        let header = format!("{prefix}:Header");
        let body = format!("{prefix}:Body");
        let xmlns_env = format!("xmlns:{prefix}");
        let declarations: Vec<(String, &str)> = self
            .namespaces
            .iter()
            .map(|binding| {
                let key = match &binding.prefix {
                    Some(prefix) => format!("xmlns:{prefix}"),
                    None => "xmlns".to_owned(),
                };
                (key, binding.uri.as_str())
            })
            .collect();
        let mut attributes: Vec<(&str, &str)> = vec![(&xmlns_env, self.version.namespace())];
        attributes.extend(declarations.iter().map(|(key, uri)| (key.as_str(), *uri)));

        let mut xml = XmlOut::new(out);
        xml.declaration()?;
        xml.start(&envelope, &attributes)?;
        if !self.header_blocks.is_empty() {
            xml.start(&header, &[])?;
            for block in &self.header_blocks {
                xml.raw(block)?;
            }
            xml.end(&header)?;
        }
        xml.start(&body, &[])?;
        xml.raw(payload)?;
        xml.end(&body)?;
        xml.end(&envelope)
    }

    /// Writes the envelope with `payload` as the body's content.
    pub fn to_vec(&self, payload: &[u8]) -> Result<Vec<u8>, WriteError> {
        let mut out = Vec::with_capacity(payload.len() + 160);
        self.write_to(payload, &mut out)?;
        Ok(out)
    }

    /// Picks a prefix for the envelope namespace that no given binding
    /// uses, after checking the given prefixes are names.
    fn envelope_prefix(&self) -> Result<String, WriteError> {
        for binding in self.namespaces {
            if let Some(prefix) = &binding.prefix
                && (!is_ncname(prefix) || prefix.to_ascii_lowercase().starts_with("xml"))
            {
                return Err(WriteError::InvalidName(prefix.clone()));
            }
        }
        let taken = |candidate: &str| {
            self.namespaces
                .iter()
                .any(|binding| binding.prefix.as_deref() == Some(candidate))
        };
        if let Some(prefix) = ENVELOPE_PREFIXES.iter().find(|candidate| !taken(candidate)) {
            return Ok((*prefix).to_owned());
        }
        // Every usual prefix is taken; number one. There are at most as
        // many candidates to skip as there are bindings.
        let mut index = 0usize;
        loop {
            let candidate = format!("soap{index}");
            if !taken(&candidate) {
                return Ok(candidate);
            }
            index = index.saturating_add(1);
        }
    }
}

/// Writes a SOAP envelope of `version` with `payload` as the body's
/// content and no header.
pub fn write_envelope(version: SoapVersion, payload: &[u8]) -> Result<Vec<u8>, WriteError> {
    EnvelopeWriter::new(version).to_vec(payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;

    fn text(bytes: &[u8]) -> String {
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[test]
    fn writes_soap11_and_soap12_envelopes() {
        let payload = br#"<m:r xmlns:m="urn:m">x</m:r>"#;
        expect![[r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><m:r xmlns:m="urn:m">x</m:r></soap:Body></soap:Envelope>"#]]
            .assert_eq(&text(&write_envelope(SoapVersion::Soap11, payload).unwrap()));
        expect![[r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body><m:r xmlns:m="urn:m">x</m:r></soap:Body></soap:Envelope>"#]]
            .assert_eq(&text(&write_envelope(SoapVersion::Soap12, payload).unwrap()));
    }

    #[test]
    fn writes_header_blocks_and_namespaces() {
        let namespaces = [
            NamespaceBinding {
                prefix: Some("soap".into()),
                uri: "urn:not-the-envelope".into(),
            },
            NamespaceBinding {
                prefix: None,
                uri: "urn:d&\"".into(),
            },
        ];
        let xml = EnvelopeWriter::new(SoapVersion::Soap11)
            .namespaces(&namespaces)
            .header_block(b"<soap:h/>")
            .to_vec(b"")
            .unwrap();
        expect![[r#"<?xml version="1.0" encoding="utf-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:soap="urn:not-the-envelope" xmlns="urn:d&amp;&quot;"><soapenv:Header><soap:h/></soapenv:Header><soapenv:Body></soapenv:Body></soapenv:Envelope>"#]]
            .assert_eq(&text(&xml));
    }

    #[test]
    fn picks_a_free_prefix_when_all_usual_ones_are_taken() {
        let namespaces: Vec<NamespaceBinding> = ["soap", "soapenv", "env", "s", "soap0"]
            .iter()
            .map(|prefix| NamespaceBinding {
                prefix: Some((*prefix).into()),
                uri: "urn:x".into(),
            })
            .collect();
        let xml = EnvelopeWriter::new(SoapVersion::Soap12)
            .namespaces(&namespaces)
            .to_vec(b"")
            .unwrap();
        assert!(text(&xml).contains("<soap1:Envelope xmlns:soap1="));
    }

    #[test]
    fn refuses_invalid_prefixes() {
        for prefix in ["1x", "a:b", "xmlfoo", ""] {
            let namespaces = [NamespaceBinding {
                prefix: Some(prefix.into()),
                uri: "urn:x".into(),
            }];
            let err = EnvelopeWriter::new(SoapVersion::Soap12)
                .namespaces(&namespaces)
                .to_vec(b"")
                .unwrap_err();
            assert!(matches!(err, WriteError::InvalidName(_)), "{prefix}");
            assert_eq!(err.fault_code(), crate::FaultCode::Receiver);
        }
    }
}
