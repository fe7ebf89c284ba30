//! XSD, WSDL 1.1 and SOAP 1.1/1.2 for the Ithaca gateway.
//!
//! This crate is the SOAP side of Ithaca. It is sans-IO: every function
//! takes bytes (or strings) and returns values or bytes, so the gateway
//! decides how messages travel.
//!
//! # What exists now
//!
//! - [`read_envelope`]: a streaming reader of SOAP 1.1 and 1.2 envelopes on
//!   quick-xml's namespace-aware reader, with no tree per request. It tells
//!   the [`SoapVersion`] from the envelope namespace (checked against the
//!   HTTP [`ContentType`] when given), collects the [`HeaderBlock`]s with
//!   their `mustUnderstand`, role and byte range, and finds the body's first
//!   child (for dispatch) and the byte range of the body payload, so that
//!   callers pass parts on without copying. It refuses any DOCTYPE, bounds
//!   everything by [`Limits`], and returns a [`ReadError`] that maps to
//!   exactly one [`FaultCode`].
//! - [`ContentType::parse`] and [`parse_soap_action`] for the HTTP headers
//!   that announce a SOAP message, including SOAP 1.2's `action` parameter.
//! - [`Fault`], [`write_fault`] and [`read_fault`]: SOAP faults in both
//!   versions (SOAP 1.2 subcodes, reasons in several languages, node, role,
//!   detail, `NotUnderstood` and `Upgrade` header blocks) and the HTTP
//!   status each fault is sent with.
//! - [`EnvelopeWriter`] and [`write_envelope`]: response envelopes around a
//!   payload given as bytes.
//! - [`xsd::builtin`]: lexical validation of the XSD built-in simple types.
//!
//! # What is still to come
//!
//! The XSD schema model (restrictions, complex types, imports), the
//! WSDL 1.1 model and loader, validation of payloads against a schema, the
//! value tree and codecs for document/literal, rpc/literal and rpc/encoded,
//! `?wsdl` publication and code generation.
//!
//! # Bad input
//!
//! The readers take untrusted bytes. They never panic, never expand an
//! entity, and bound memory and time by [`Limits`]. The functions fit as
//! fuzz targets as they are: [`read_envelope`] and [`read_fault`] over
//! `&[u8]`, [`ContentType::parse`] and [`parse_soap_action`] over `&str`,
//! and [`xsd::builtin::BuiltinType::validate`]. The messages in
//! `tests/fixtures/` make a seed corpus.
//!
//! # Example
//!
//! ```
//! use ithaca_wsdl::{ContentType, Limits, QName, read_envelope};
//!
//! let request = br#"<?xml version="1.0" encoding="utf-8"?>
//! <s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">
//!   <s:Header>
//!     <t:Trace xmlns:t="urn:trace" s:mustUnderstand="true">42</t:Trace>
//!   </s:Header>
//!   <s:Body><e:echo xmlns:e="urn:echo"><text>hi</text></e:echo></s:Body>
//! </s:Envelope>"#;
//! let content_type = ContentType::parse(r#"application/soap+xml; action="urn:echo""#)?;
//! let envelope = read_envelope(request, Some(&content_type), &Limits::default())?;
//!
//! assert_eq!(content_type.action.as_deref(), Some("urn:echo"));
//! assert_eq!(envelope.body_name(), Some(&QName::new("urn:echo", "echo")));
//! let block = &envelope.header_blocks()[0];
//! assert!(block.must_understand);
//! assert_eq!(&request[block.range.clone()], br#"<t:Trace xmlns:t="urn:trace" s:mustUnderstand="true">42</t:Trace>"#);
//! let payload = &request[envelope.body.payload.clone()];
//! assert_eq!(payload, br#"<e:echo xmlns:e="urn:echo"><text>hi</text></e:echo>"#);
//!
//! // A node that does not understand the Trace block must answer with a
//! // MustUnderstand fault.
//! let error = envelope.check_must_understand(&[], |_| false).unwrap_err();
//! assert_eq!(error.fault_code(), ithaca_wsdl::FaultCode::MustUnderstand);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod content_type;
mod envelope;
mod error;
mod fault;
mod limits;
mod names;
mod qname;
mod scan;
mod version;
mod xml_out;
pub mod xsd;

pub use content_type::{ContentType, parse_soap_action};
pub use envelope::{
    Body, BodyEntry, Envelope, EnvelopeWriter, Header, HeaderBlock, read_envelope, write_envelope,
};
pub use error::{ContentTypeError, LexicalError, ReadError, WriteError};
pub use fault::{Fault, FaultCode, Reason, read_fault, write_fault};
pub use limits::Limits;
pub use qname::{NamespaceBinding, QName};
pub use version::{
    SOAP11_ACTOR_NEXT, SOAP11_ENVELOPE_NS, SOAP12_ENVELOPE_NS, SOAP12_ROLE_NEXT, SOAP12_ROLE_NONE,
    SOAP12_ROLE_ULTIMATE_RECEIVER, SoapVersion, XML_NS,
};
