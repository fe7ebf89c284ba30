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
//! - [`load_file`] and [`load_bytes`]: the WSDL 1.1 / XSD loader. It reads
//!   a document with roxmltree (any DOCTYPE refused), follows
//!   `wsdl:import`, `xs:import` and `xs:include` relative to the importing
//!   document, from local files only unless a [`Resolver`] in
//!   [`LoadOptions`] allows other locations, reads each document once
//!   (cycles and repeated imports are harmless), bounds sizes, counts and
//!   depths by [`LoadLimits`], and never fails wholesale: it returns a
//!   [`Loaded`] model with every problem as a [`Diagnostic`] carrying
//!   `file:line:col`. An `xs:import` location is a hint: when it cannot be
//!   used, its namespace is handled laxly with a warning, as are remote
//!   locations that were refused.
//!   Like lenient toolkits, it also accepts with a warning a prefix bound
//!   or declared nowhere and a reference defined nowhere (outside the XSD
//!   namespace); [`Loaded::has_strict_errors`] counts those as errors.
//!   [`repair_xml`] gives the text as the loader read it.
//! - [`xsd::SchemaSet::sample_element`] and
//!   [`xsd::SchemaSet::sample_body`]: schema-valid sample instances of an
//!   element or of an operation's body, as mock services answer.
//! - [`xsd::SchemaSet`]: the XSD model used at run time. Global elements,
//!   types, groups, attribute groups and attributes by expanded name (see
//!   [`xsd::model`]); every `type=`, `ref=`, `base=`, `itemType=`,
//!   `memberTypes=` and `substitutionGroup=` resolved against the
//!   namespaces in scope; chameleon includes; `elementFormDefault`,
//!   `attributeFormDefault` and `form`; simple type restrictions with
//!   every facet, lists and unions; complex types with nested
//!   sequence/choice/all and occurrences, simple and complex content
//!   derived by extension or restriction, abstract types, substitution
//!   groups, nillable elements, wildcards with `processContents`, and
//!   recursive types. Unresolved references and circular definitions are
//!   diagnostics. [`xsd::pattern`] is a bounded, non-backtracking engine
//!   for XSD patterns (its module documents the subset and the Unicode
//!   approximations).
//! - [`xsd::SchemaSet::validate_simple`] and
//!   [`xsd::SchemaSet::validate_element`]: validation of a value or of an
//!   element's XML (such as a body payload from [`read_envelope`]) against
//!   the schema, reporting the element path and the rule violated, for
//!   example `/echoString/count: value "x" is not a valid xs:int`.
//! - [`wsdl11::Definitions`]: the WSDL 1.1 model (messages and parts, port
//!   types with request-response and one-way operations, SOAP 1.1 and
//!   SOAP 1.2 bindings with `soap:body`, `soap:header`, `soap:headerfault`
//!   and `soap:fault`, services, ports and addresses), and
//!   [`wsdl11::Definitions::operations`], which derives per operation the
//!   SOAP version, style, use, `soapAction`, wrapped/bare/rpc parameter
//!   style, the body QName used for dispatch, header blocks and declared
//!   faults. Notification and solicit-response operations are reported as
//!   unsupported.
//! - [`value`]: the schema-typed value tree ([`value::Value`]) and its
//!   codecs: [`value::MessageCodec`] decodes and encodes the body of an
//!   operation's request or response for document/literal (wrapped or
//!   bare), rpc/literal and rpc/encoded (SOAP 1.1 section 5: `xsi:type`,
//!   `SOAP-ENC:Array`, multi-reference `href`/`id`), with every depth,
//!   count and size bounded and errors naming the element path.
//! - [`codegen`]: Rust code from a WSDL (types with streaming readers and
//!   writers, a server trait, a fault enum per operation and a client per
//!   port type), for `build.rs` and `ithaca codegen`; [`typed`] is the
//!   run-time support that code calls.
//!
//! # What is still to come
//!
//! Applying attribute and element defaults to decoded values, identity
//! constraints
//! (`key`/`keyref`/`unique`, ignored today), `xs:redefine` (read as an
//! include) and WS-I Basic Profile checks.
//!
//! # Bad input
//!
//! The readers take untrusted bytes. They never panic, never expand an
//! entity, and bound memory and time by [`Limits`] (envelopes),
//! [`LoadLimits`] (WSDL and XSD documents) and [`xsd::InstanceLimits`]
//! (instance validation). The functions fit as fuzz targets as they are:
//! [`read_envelope`] and [`read_fault`] over `&[u8]`,
//! [`ContentType::parse`] and [`parse_soap_action`] over `&str`,
//! [`xsd::builtin::BuiltinType::validate`], [`load_bytes`] (which never
//! touches the file system) and [`xsd::pattern::Pattern::new`]. The files
//! in `tests/fixtures/` and `tests/fixtures/wsdl/` make seed corpora.
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
//!
//! Loading a WSDL and validating a payload against it:
//!
//! ```
//! use ithaca_wsdl::wsdl11::ParameterStyle;
//! use ithaca_wsdl::xsd::InstanceLimits;
//! use ithaca_wsdl::{LoadOptions, QName, load_bytes};
//!
//! let wsdl = br#"<definitions xmlns="http://schemas.xmlsoap.org/wsdl/"
//!     xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
//!     xmlns:xs="http://www.w3.org/2001/XMLSchema"
//!     xmlns:tns="urn:echo" targetNamespace="urn:echo">
//!   <types>
//!     <xs:schema targetNamespace="urn:echo" elementFormDefault="qualified">
//!       <xs:element name="echoString">
//!         <xs:complexType><xs:sequence>
//!           <xs:element name="text" type="xs:string"/>
//!           <xs:element name="count" type="xs:int"/>
//!         </xs:sequence></xs:complexType>
//!       </xs:element>
//!     </xs:schema>
//!   </types>
//!   <message name="in"><part name="parameters" element="tns:echoString"/></message>
//!   <portType name="Echo">
//!     <operation name="echoString"><input message="tns:in"/></operation>
//!   </portType>
//!   <binding name="EchoSoap" type="tns:Echo">
//!     <soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
//!     <operation name="echoString">
//!       <soap:operation soapAction="urn:echo"/>
//!       <input><soap:body use="literal"/></input>
//!     </operation>
//!   </binding>
//! </definitions>"#;
//! let loaded = load_bytes("echo.wsdl", wsdl, &LoadOptions::default());
//! assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics);
//!
//! let operations = loaded.definitions.operations(&loaded.schema);
//! let echo = &operations[0];
//! assert_eq!(echo.parameter_style, ParameterStyle::Wrapped);
//! let body = echo.input.as_ref().and_then(|i| i.body_name.clone());
//! assert_eq!(body, Some(QName::new("urn:echo", "echoString")));
//!
//! let payload = r#"<e:echoString xmlns:e="urn:echo"><e:text>hi</e:text><e:count>x</e:count></e:echoString>"#;
//! let violations = loaded
//!     .schema
//!     .validate_element(payload, &[], None, &InstanceLimits::default())
//!     .unwrap_err();
//! assert_eq!(
//!     violations[0].to_string(),
//!     r#"/echoString/count: value "x" is not a valid xs:int"#
//! );
//! ```

pub mod codegen;
mod content_type;
mod diagnostic;
mod envelope;
mod error;
mod fault;
mod limits;
mod loader;
mod names;
mod qname;
mod scan;
pub mod value;
mod version;
pub mod wsdl11;
mod xml_out;
mod xmldoc;
pub mod xsd;

/// The run-time support of code generated by [`codegen`]: the streaming
/// XML reader and writer, simple values and their XSD lexical mappings.
pub mod typed {
    pub use crate::codegen::runtime::*;
}

pub use content_type::{ContentType, parse_soap_action};
pub use diagnostic::{Diagnostic, DiagnosticKind, Location, Severity};
pub use envelope::{
    Body, BodyEntry, BodyValidation, Envelope, EnvelopeRanges, EnvelopeWriter, Header, HeaderBlock,
    read_envelope, read_envelope_ranges_validating, read_envelope_validating, write_envelope,
};
pub use error::{ContentTypeError, LexicalError, ReadError, WriteError};
pub use fault::{Fault, FaultCode, Reason, read_fault, write_fault};
pub use limits::Limits;
pub use loader::{
    DocumentKind, LoadLimits, LoadOptions, Loaded, LoadedDocument, Resolver, load_bytes, load_file,
    repair_xml,
};
pub use qname::{NamespaceBinding, QName};
pub use version::{
    SOAP11_ACTOR_NEXT, SOAP11_ENVELOPE_NS, SOAP12_ENVELOPE_NS, SOAP12_ROLE_NEXT, SOAP12_ROLE_NONE,
    SOAP12_ROLE_ULTIMATE_RECEIVER, SoapVersion, XML_NS,
};
