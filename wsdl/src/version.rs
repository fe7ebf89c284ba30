//! The two SOAP versions and the constants that tell them apart.

use std::fmt;

/// The namespace of the SOAP 1.1 envelope.
pub const SOAP11_ENVELOPE_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// The namespace of the SOAP 1.2 envelope.
pub const SOAP12_ENVELOPE_NS: &str = "http://www.w3.org/2003/05/soap-envelope";
/// The SOAP 1.1 actor URI meaning "the next SOAP node on the path".
pub const SOAP11_ACTOR_NEXT: &str = "http://schemas.xmlsoap.org/soap/actor/next";
/// The SOAP 1.2 role URI meaning "the next SOAP node on the path".
pub const SOAP12_ROLE_NEXT: &str = "http://www.w3.org/2003/05/soap-envelope/role/next";
/// The SOAP 1.2 role URI that no SOAP node ever plays.
pub const SOAP12_ROLE_NONE: &str = "http://www.w3.org/2003/05/soap-envelope/role/none";
/// The SOAP 1.2 role URI of the ultimate receiver of a message.
pub const SOAP12_ROLE_ULTIMATE_RECEIVER: &str =
    "http://www.w3.org/2003/05/soap-envelope/role/ultimateReceiver";
/// The namespace bound to the `xml` prefix, used for `xml:lang`.
pub const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// A version of the SOAP envelope, told apart by the envelope's namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SoapVersion {
    /// SOAP 1.1 (W3C Note, 2000), carried over HTTP as `text/xml`.
    Soap11,
    /// SOAP 1.2 (W3C Recommendation, 2003/2007), carried over HTTP as
    /// `application/soap+xml`.
    Soap12,
}

impl SoapVersion {
    /// Finds the version whose envelope namespace is `namespace`.
    pub fn from_namespace(namespace: &str) -> Option<Self> {
        match namespace {
            SOAP11_ENVELOPE_NS => Some(Self::Soap11),
            SOAP12_ENVELOPE_NS => Some(Self::Soap12),
            _ => None,
        }
    }

    /// The namespace of this version's envelope elements and attributes.
    pub const fn namespace(self) -> &'static str {
        match self {
            Self::Soap11 => SOAP11_ENVELOPE_NS,
            Self::Soap12 => SOAP12_ENVELOPE_NS,
        }
    }

    /// The media type of this version's messages over HTTP.
    pub const fn media_type(self) -> &'static str {
        match self {
            Self::Soap11 => "text/xml",
            Self::Soap12 => "application/soap+xml",
        }
    }

    /// The full `Content-Type` header value the writers of this crate
    /// produce for this version (always UTF-8).
    pub const fn content_type(self) -> &'static str {
        match self {
            Self::Soap11 => "text/xml; charset=utf-8",
            Self::Soap12 => "application/soap+xml; charset=utf-8",
        }
    }

    /// The name of the header attribute that targets a block at a node:
    /// `actor` in SOAP 1.1 and `role` in SOAP 1.2.
    pub const fn role_attribute(self) -> &'static str {
        match self {
            Self::Soap11 => "actor",
            Self::Soap12 => "role",
        }
    }
}

impl fmt::Display for SoapVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Soap11 => "1.1",
            Self::Soap12 => "1.2",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_round_trips() {
        for version in [SoapVersion::Soap11, SoapVersion::Soap12] {
            assert_eq!(
                SoapVersion::from_namespace(version.namespace()),
                Some(version)
            );
        }
        assert_eq!(SoapVersion::from_namespace("urn:other"), None);
        // The SOAP 1.1 namespace ends with a slash; without it, it is another URI.
        assert_eq!(
            SoapVersion::from_namespace("http://schemas.xmlsoap.org/soap/envelope"),
            None
        );
    }

    #[test]
    fn display_and_media_types() {
        assert_eq!(SoapVersion::Soap11.to_string(), "1.1");
        assert_eq!(SoapVersion::Soap12.to_string(), "1.2");
        assert_eq!(SoapVersion::Soap11.media_type(), "text/xml");
        assert_eq!(SoapVersion::Soap12.media_type(), "application/soap+xml");
        assert_eq!(SoapVersion::Soap11.role_attribute(), "actor");
        assert_eq!(SoapVersion::Soap12.role_attribute(), "role");
    }
}
