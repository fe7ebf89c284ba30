//! SOAP faults: the model shared by both versions, the fault codes with
//! their HTTP status codes, a writer and a reader.
//!
//! One [`Fault`] value writes as either version. SOAP 1.1 has fewer
//! fields, so writing as SOAP 1.1 keeps the code, the first reason, the
//! node (as `faultactor`) and the detail, and drops the subcodes, the
//! other reasons, the role and the `NotUnderstood` header blocks. Header
//! blocks of a header fault ([`Fault::header_blocks`]) are written in both.

mod reader;
mod writer;

pub use reader::read_fault;
pub use writer::write_fault;

use crate::error::ReadError;
use crate::qname::QName;
use crate::version::SoapVersion;

/// The class of a SOAP fault: SOAP 1.2's `Code/Value`, or SOAP 1.1's
/// `faultcode` in the envelope namespace.
///
/// Variants are in the order of SOAP 1.2 Part 1, §5.4.6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultCode {
    /// The root element was not an envelope of a version the node speaks.
    VersionMismatch,
    /// A header block targeted at the node and marked `mustUnderstand` was
    /// not understood.
    MustUnderstand,
    /// A header block or body element used an encoding style the node
    /// does not support (SOAP 1.2 only; SOAP 1.1 writes it as `Client`).
    DataEncodingUnknown,
    /// The message was wrong and should not be resent unchanged (SOAP 1.1
    /// `Client`).
    Sender,
    /// The node failed for reasons other than the message's content (SOAP
    /// 1.1 `Server`).
    Receiver,
}

impl FaultCode {
    /// The local name of this code in the envelope namespace of `version`.
    pub const fn local_name(self, version: SoapVersion) -> &'static str {
        match (self, version) {
            (Self::VersionMismatch, _) => "VersionMismatch",
            (Self::MustUnderstand, _) => "MustUnderstand",
            (Self::DataEncodingUnknown, SoapVersion::Soap12) => "DataEncodingUnknown",
            (Self::DataEncodingUnknown | Self::Sender, SoapVersion::Soap11) => "Client",
            (Self::Sender, SoapVersion::Soap12) => "Sender",
            (Self::Receiver, SoapVersion::Soap11) => "Server",
            (Self::Receiver, SoapVersion::Soap12) => "Receiver",
        }
    }

    /// Finds the code with this local name in the envelope namespace of
    /// `version`. SOAP 1.1 dotted codes such as `Client.Authentication`
    /// give the code before the first dot.
    pub fn from_local_name(version: SoapVersion, local: &str) -> Option<Self> {
        let local = match version {
            SoapVersion::Soap11 => local.split('.').next().unwrap_or(local),
            SoapVersion::Soap12 => local,
        };
        // DataEncodingUnknown comes last so that SOAP 1.1's `Client` reads
        // as Sender.
        [
            Self::VersionMismatch,
            Self::MustUnderstand,
            Self::Sender,
            Self::Receiver,
            Self::DataEncodingUnknown,
        ]
        .into_iter()
        .find(|code| code.local_name(version) == local)
    }

    /// The HTTP status of a response carrying a fault with this code.
    ///
    /// SOAP 1.1's HTTP binding (§6.2) answers every fault with 500. SOAP
    /// 1.2's HTTP binding (Part 2, §7.5.2.2) answers `Sender` with 400 and
    /// every other code with 500.
    pub const fn http_status(self, version: SoapVersion) -> u16 {
        match (self, version) {
            (Self::Sender, SoapVersion::Soap12) => 400,
            _ => 500,
        }
    }
}

/// One human-readable explanation of a fault, in one language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    /// The language, as in `xml:lang` (such as `en`); empty if unknown.
    pub lang: String,
    /// The explanation.
    pub text: String,
}

/// A SOAP fault, as written in or read from a response body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// The class of the fault.
    pub code: FaultCode,
    /// SOAP 1.2's chain of `Subcode/Value`s, outermost first.
    pub subcodes: Vec<QName>,
    /// The explanations, at least one; SOAP 1.1 carries only the first (as
    /// `faultstring`).
    pub reasons: Vec<Reason>,
    /// The URI of the node that faulted: SOAP 1.2's `Node`, SOAP 1.1's
    /// `faultactor`.
    pub node: Option<String>,
    /// The role the node was playing (SOAP 1.2's `Role` only).
    pub role: Option<String>,
    /// The content of the `detail` (SOAP 1.1) or `Detail` (SOAP 1.2)
    /// element as raw XML, which must be well-formed content that binds
    /// its own prefixes.
    pub detail: Option<String>,
    /// The header blocks that were not understood, written as SOAP 1.2
    /// `NotUnderstood` header blocks with a `MustUnderstand` fault.
    pub not_understood: Vec<QName>,
    /// Header blocks of the fault message, each one element as raw XML
    /// binding its own prefixes, written in the envelope's `Header` in
    /// either version: the detail of a fault about a header block
    /// (a WSDL `soap:headerfault`), which SOAP 1.1 §4.4 puts in header
    /// entries instead of `detail`. The reader gathers every header
    /// block other than SOAP 1.2's `NotUnderstood` and `Upgrade` here,
    /// as sent (prefixes bound on the envelope stay unbound).
    pub header_blocks: Vec<String>,
}

impl Fault {
    /// A fault with a code and one English reason.
    pub fn new(code: FaultCode, reason: impl Into<String>) -> Self {
        Self {
            code,
            subcodes: Vec::new(),
            reasons: vec![Reason {
                lang: "en".to_owned(),
                text: reason.into(),
            }],
            node: None,
            role: None,
            detail: None,
            not_understood: Vec::new(),
            header_blocks: Vec::new(),
        }
    }

    /// The HTTP status of a response carrying this fault as `version`.
    pub fn http_status(&self, version: SoapVersion) -> u16 {
        self.code.http_status(version)
    }

    /// The first reason's text, which SOAP 1.1 writes as `faultstring`.
    pub fn reason(&self) -> &str {
        self.reasons
            .first()
            .map_or("", |reason| reason.text.as_str())
    }
}

/// The fault that answers a request that could not be read: the error's
/// fault code, its message as the reason, and the names of the header
/// blocks not understood.
impl From<&ReadError> for Fault {
    fn from(error: &ReadError) -> Self {
        let mut fault = Self::new(error.fault_code(), error.to_string());
        if let ReadError::NotUnderstood(names) = error {
            fault.not_understood = names.clone();
        }
        fault
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SoapVersion::{Soap11, Soap12};

    #[test]
    fn http_status_follows_the_bindings() {
        for code in [
            FaultCode::VersionMismatch,
            FaultCode::MustUnderstand,
            FaultCode::DataEncodingUnknown,
            FaultCode::Sender,
            FaultCode::Receiver,
        ] {
            assert_eq!(code.http_status(Soap11), 500);
            let soap12 = if code == FaultCode::Sender { 400 } else { 500 };
            assert_eq!(code.http_status(Soap12), soap12);
        }
    }

    #[test]
    fn local_names_round_trip() {
        assert_eq!(FaultCode::Sender.local_name(Soap11), "Client");
        assert_eq!(FaultCode::Receiver.local_name(Soap11), "Server");
        assert_eq!(FaultCode::DataEncodingUnknown.local_name(Soap11), "Client");
        assert_eq!(
            FaultCode::from_local_name(Soap11, "Client.Authentication"),
            Some(FaultCode::Sender)
        );
        assert_eq!(FaultCode::from_local_name(Soap12, "Sender.X"), None);
        assert_eq!(FaultCode::from_local_name(Soap12, "Client"), None);
        assert_eq!(FaultCode::from_local_name(Soap11, "Sender"), None);
        for code in [
            FaultCode::VersionMismatch,
            FaultCode::MustUnderstand,
            FaultCode::Receiver,
        ] {
            for version in [Soap11, Soap12] {
                assert_eq!(
                    FaultCode::from_local_name(version, code.local_name(version)),
                    Some(code)
                );
            }
        }
    }

    #[test]
    fn read_errors_become_faults() {
        let error = ReadError::NotUnderstood(vec![QName::new("urn:h", "H")]);
        let fault = Fault::from(&error);
        assert_eq!(fault.code, FaultCode::MustUnderstand);
        assert_eq!(fault.not_understood, vec![QName::new("urn:h", "H")]);
        assert_eq!(fault.reason(), "header blocks not understood: {urn:h}H");
        let fault = Fault::from(&ReadError::MissingBody);
        assert_eq!(fault.code, FaultCode::Sender);
        assert_eq!(fault.http_status(Soap12), 400);
        assert_eq!(fault.http_status(Soap11), 500);
    }
}
