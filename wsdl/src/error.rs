//! The errors of this crate.
//!
//! Every error a reader can return maps to exactly one SOAP fault code
//! through its `fault_code` method, so that the gateway answers any bad
//! request with the right fault.

use thiserror::Error;

use crate::fault::FaultCode;
use crate::qname::QName;
use crate::version::SoapVersion;

/// Why an envelope (or a fault inside one) could not be read.
///
/// Positions are byte offsets into the input as given.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReadError {
    /// The input holds no element at all.
    #[error("the message is empty")]
    Empty,
    /// The input is larger than [`Limits::max_size`](crate::Limits::max_size).
    #[error("the message is {size} bytes, more than the limit of {limit}")]
    TooLarge {
        /// The size of the input.
        size: usize,
        /// The limit it broke.
        limit: usize,
    },
    /// Elements nest deeper than [`Limits::max_depth`](crate::Limits::max_depth).
    #[error("elements nest deeper than the limit of {limit} at byte {position}")]
    TooDeep {
        /// The limit that was broken.
        limit: usize,
        /// Where the offending element starts.
        position: usize,
    },
    /// The document has more elements than
    /// [`Limits::max_elements`](crate::Limits::max_elements).
    #[error("the message has more than {limit} elements")]
    TooManyElements {
        /// The limit that was broken.
        limit: usize,
    },
    /// One element has more attributes than
    /// [`Limits::max_attributes`](crate::Limits::max_attributes).
    #[error("an element has more than {limit} attributes at byte {position}")]
    TooManyAttributes {
        /// The limit that was broken.
        limit: usize,
        /// Where the offending element starts.
        position: usize,
    },
    /// More namespace bindings are in scope than
    /// [`Limits::max_namespace_bindings`](crate::Limits::max_namespace_bindings).
    #[error("more than {limit} namespace bindings are in scope at byte {position}")]
    TooManyNamespaces {
        /// The limit that was broken.
        limit: usize,
        /// Where the offending element starts.
        position: usize,
    },
    /// An attribute value is longer than
    /// [`Limits::max_attribute_len`](crate::Limits::max_attribute_len).
    #[error("an attribute value is longer than {limit} bytes at byte {position}")]
    AttributeTooLong {
        /// The limit that was broken.
        limit: usize,
        /// Where the offending element starts.
        position: usize,
    },
    /// A run of character data is longer than
    /// [`Limits::max_text_len`](crate::Limits::max_text_len).
    #[error("character data is longer than {limit} bytes at byte {position}")]
    TextTooLong {
        /// The limit that was broken.
        limit: usize,
        /// Where the offending text ends.
        position: usize,
    },
    /// The input holds a document type declaration, which is refused
    /// outright so that no entity is ever declared or expanded.
    #[error("document type declarations are not allowed (byte {position})")]
    Doctype {
        /// Where the declaration starts.
        position: usize,
    },
    /// The input refers to an entity that is not one of XML's five
    /// predefined entities; it is refused, never expanded.
    #[error("reference to the undeclared entity `{name}` at byte {position}")]
    UndeclaredEntity {
        /// The entity's name.
        name: String,
        /// Where the reference ends.
        position: usize,
    },
    /// The input is not valid UTF-8.
    #[error("invalid UTF-8 at byte {position}")]
    InvalidUtf8 {
        /// The first byte that is not valid UTF-8.
        position: usize,
    },
    /// The input holds a character XML 1.0 does not allow, written either
    /// directly or as a character reference.
    #[error("a character not allowed in XML at byte {position}")]
    InvalidCharacter {
        /// Where the character (or the reference) is.
        position: usize,
    },
    /// The XML declaration names an encoding other than UTF-8.
    #[error("the encoding `{encoding}` is not supported; send UTF-8")]
    UnsupportedEncoding {
        /// The encoding named by the declaration.
        encoding: String,
    },
    /// The input is not well-formed (namespace-aware) XML.
    #[error("malformed XML at byte {position}: {message}")]
    Malformed {
        /// Where the problem was found.
        position: usize,
        /// What is wrong, in words.
        message: String,
    },
    /// The input ends before the document does.
    #[error("the message ends unexpectedly at byte {position}")]
    Truncated {
        /// The length of the input.
        position: usize,
    },
    /// The root element is not a SOAP 1.1 or SOAP 1.2 `Envelope`.
    #[error("the root element {found} is not a SOAP 1.1 or 1.2 Envelope")]
    VersionMismatch {
        /// The name of the root element that was found.
        found: QName,
    },
    /// The envelope's version differs from the one the HTTP content type
    /// announced.
    #[error("the content type announces SOAP {announced} but the envelope is SOAP {found}")]
    ContentTypeMismatch {
        /// The version the content type announced.
        announced: SoapVersion,
        /// The version of the envelope.
        found: SoapVersion,
    },
    /// The envelope has no `Body`.
    #[error("the envelope has no Body")]
    MissingBody,
    /// An element stands where the SOAP envelope structure does not allow
    /// it, such as a second `Body` or a `Header` after the `Body`.
    #[error("unexpected element {name} at byte {position}")]
    UnexpectedElement {
        /// The element's name.
        name: QName,
        /// Where the element starts.
        position: usize,
    },
    /// Character data other than whitespace stands where the SOAP envelope
    /// structure allows only elements.
    #[error("unexpected character data at byte {position}")]
    UnexpectedText {
        /// Where the character data starts.
        position: usize,
    },
    /// A header block is not namespace-qualified, as both SOAP versions
    /// require.
    #[error("the header block `{local}` is not namespace-qualified (byte {position})")]
    UnqualifiedHeaderBlock {
        /// The block's local name.
        local: String,
        /// Where the block starts.
        position: usize,
    },
    /// A SOAP attribute (`mustUnderstand`, `relay`) has a value outside its
    /// lexical space for the envelope's version.
    #[error("the attribute {name} has the invalid value `{value}`")]
    InvalidAttribute {
        /// The attribute's name.
        name: QName,
        /// The value that was found.
        value: String,
    },
    /// A SOAP fault in the body does not have the structure its version
    /// requires.
    #[error("invalid SOAP fault: {message}")]
    InvalidFault {
        /// What is wrong, in words.
        message: String,
    },
    /// Header blocks targeted at this node and marked `mustUnderstand` were
    /// not understood.
    #[error("header blocks not understood: {}", display_names(.0))]
    NotUnderstood(Vec<QName>),
}

fn display_names(names: &[QName]) -> String {
    names
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl ReadError {
    /// The SOAP fault code that answers this error.
    ///
    /// A root element that is not an envelope of a known version answers
    /// `VersionMismatch`; header blocks not understood answer
    /// `MustUnderstand`; every other error is the sender's (SOAP 1.1
    /// `Client`, SOAP 1.2 `Sender`).
    pub fn fault_code(&self) -> FaultCode {
        match self {
            Self::VersionMismatch { .. } => FaultCode::VersionMismatch,
            Self::NotUnderstood(_) => FaultCode::MustUnderstand,
            _ => FaultCode::Sender,
        }
    }

    /// The HTTP status of the fault that answers this error when sent as
    /// `version` (see [`FaultCode::http_status`]).
    pub fn http_status(&self, version: SoapVersion) -> u16 {
        self.fault_code().http_status(version)
    }
}

/// Why an HTTP `Content-Type` (or `SOAPAction`) header was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ContentTypeError {
    /// The header does not follow the media type grammar of RFC 9110.
    #[error("malformed content type: {message}")]
    Malformed {
        /// What is wrong, in words.
        message: String,
    },
    /// The media type is neither `text/xml` (SOAP 1.1) nor
    /// `application/soap+xml` (SOAP 1.2).
    #[error("unsupported media type `{media_type}`")]
    UnsupportedMediaType {
        /// The media type that was found, lower-cased.
        media_type: String,
    },
    /// The `charset` parameter names an encoding other than UTF-8.
    #[error("unsupported charset `{charset}`; send UTF-8")]
    UnsupportedCharset {
        /// The charset that was found.
        charset: String,
    },
}

impl ContentTypeError {
    /// The SOAP fault code that answers this error: always the sender's.
    pub fn fault_code(&self) -> FaultCode {
        FaultCode::Sender
    }

    /// The HTTP status that answers this error: 415 Unsupported Media Type
    /// for a media type or charset this crate does not read, 400 Bad
    /// Request for a malformed header.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::Malformed { .. } => 400,
            Self::UnsupportedMediaType { .. } | Self::UnsupportedCharset { .. } => 415,
        }
    }
}

/// Why a message could not be written.
#[derive(Debug, Error)]
pub enum WriteError {
    /// The output sink failed.
    #[error("cannot write the message: {0}")]
    Io(#[from] std::io::Error),
    /// A name to be written is not a valid XML name.
    #[error("`{0}` is not a valid XML name")]
    InvalidName(String),
}

impl WriteError {
    /// The SOAP fault code that answers this error: a failure to write a
    /// reply is the receiver's (SOAP 1.1 `Server`, SOAP 1.2 `Receiver`).
    pub fn fault_code(&self) -> FaultCode {
        FaultCode::Receiver
    }
}

/// Why a string is not in the lexical space of an XSD built-in type.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("`{value}` is not a valid xs:{type_name}: {reason}")]
pub struct LexicalError {
    /// The local name of the type, such as `int`.
    pub type_name: &'static str,
    /// The offending value after whitespace processing, shortened to at
    /// most 64 characters.
    pub value: String,
    /// What is wrong, in words.
    pub reason: &'static str,
}

impl LexicalError {
    /// The SOAP fault code that answers this error when it is found in a
    /// request: always the sender's.
    pub fn fault_code(&self) -> FaultCode {
        FaultCode::Sender
    }
}
