//! WS-Coordination, WS-AtomicTransaction and WS-Addressing on the wire: a
//! sans-IO codec between SOAP envelopes and [`Message`] values.
//!
//! Both versions in use are spoken: WS-Coordination/WS-AT 1.1 and 1.2
//! (namespace 2006/06, with WS-Addressing 1.0) and 1.0 (2004/10, with the
//! WS-Addressing 2004/08 member submission, `Replay` included), each over
//! SOAP 1.1 and SOAP 1.2 ([`WsTxVersion`]).
//!
//! - [`decode`] reads an envelope: `ithaca_wsdl::read_envelope` checks it
//!   first (no DTD, only the predefined entities, every `Limits` bound),
//!   then one streaming pass over quick-xml's namespace-aware reader takes
//!   the WS-Addressing headers ([`Addressing`]: To, Action, MessageID,
//!   RelatesTo, ReplyTo, FaultTo, From), the reference parameters echoed
//!   as headers, a `CoordinationContext` header and the [`Body`]: the
//!   activation and registration requests and responses, the eight WS-AT
//!   [`Notification`]s, and every WS-C/WS-AT fault ([`FaultKind`]) in its
//!   SOAP 1.1 (`faultcode`) or SOAP 1.2 (`Subcode`) shape. Strings, counts
//!   and raw XML kept are bounded by [`WireLimits`].
//! - [`Message::encode`] writes one, with the Action of its body.
//! - [`EndpointReference`]s keep reference parameters as self-contained
//!   XML elements, echoed as header blocks marked
//!   `wsa:IsReferenceParameter="true"` in WS-Addressing 1.0 and plain in
//!   2004/08.
//! - [`CorrelationKey`] signs the reference parameter Ithaca puts into the
//!   endpoint references it hands out (transaction, participant, protocol
//!   under an HMAC-SHA-256) and verifies what comes back, so that a forged
//!   or missing one is refused before the engine sees the message.
//!
//! ```
//! use ithaca_txn::wire::{self, Body, Message, Notification, WireLimits, WsTxVersion};
//! use ithaca_wsdl::{Limits, SoapVersion};
//!
//! let mut message = Message::new(
//!     SoapVersion::Soap11,
//!     WsTxVersion::Jun2006,
//!     Body::Notification(Notification::Prepared),
//! );
//! message.addressing.message_id = Some("urn:uuid:42".into());
//! let xml = message.encode()?;
//! let read = wire::decode(&xml, None, &Limits::default(), &WireLimits::default())?;
//! assert_eq!(read.body, Body::Notification(Notification::Prepared));
//! assert_eq!(
//!     read.addressing.action.as_deref(),
//!     Some("http://docs.oasis-open.org/ws-tx/wsat/2006/06/Prepared")
//! );
//! # Ok::<(), ithaca_txn::wire::WireError>(())
//! ```

mod correlation;
mod model;
mod names;
mod read;
mod write;
mod xml;

#[cfg(test)]
mod tests;

use ithaca_wsdl::ReadError;

pub use correlation::{
    CORRELATION_ELEMENT, CORRELATION_NS, Correlation, CorrelationError, CorrelationKey,
};
pub use model::{
    Addressing, Body, CoordinationContext, CreateCoordinationContext, EndpointReference, FaultKind,
    Message, Register, WireFault,
};
pub use names::{
    ANONYMOUS_2004, ANONYMOUS_2005, NONE_2005, Notification, WSA_2004, WSA_2005, WSAT_2004,
    WSAT_2006, WSCOOR_2004, WSCOOR_2006, WsTxVersion,
};
pub use read::decode;

/// Bounds on what [`decode`] keeps, on top of the envelope reader's
/// `Limits`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WireLimits {
    /// The longest URI or other text value (addresses, identifiers,
    /// MessageID, Action), in bytes.
    pub max_uri_len: usize,
    /// The most reference parameters in one endpoint reference or echoed
    /// in one message.
    pub max_reference_parameters: usize,
    /// The largest reference parameter, as self-contained XML.
    pub max_reference_parameter_len: usize,
    /// The most extension elements in one CoordinationContext.
    pub max_extensions: usize,
    /// The largest extension element.
    pub max_extension_len: usize,
    /// The longest fault reason.
    pub max_reason_len: usize,
}

impl Default for WireLimits {
    /// 2 KiB per URI, 16 reference parameters of at most 4 KiB each, 16
    /// context extensions of at most 16 KiB each, 4 KiB of fault reason.
    fn default() -> Self {
        Self {
            max_uri_len: 2048,
            max_reference_parameters: 16,
            max_reference_parameter_len: 4096,
            max_extensions: 16,
            max_extension_len: 16 * 1024,
            max_reason_len: 4096,
        }
    }
}

/// Why a message could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The envelope itself was refused (malformed, DOCTYPE, a limit, the
    /// wrong SOAP version): answer the SOAP fault its code names.
    #[error(transparent)]
    Envelope(ReadError),
    /// The XML inside the envelope was malformed.
    #[error("malformed XML: {0}")]
    Malformed(String),
    /// The body is not a WS-Coordination or WS-AT message.
    #[error("the body is not a WS-Coordination or WS-AtomicTransaction message")]
    NotWsTx,
    /// A required element is missing.
    #[error("{0} is missing")]
    Missing(&'static str),
    /// An element or value is not valid.
    #[error("{0} is not valid")]
    Invalid(&'static str),
    /// An element appears where only text may.
    #[error("{0} may not contain elements")]
    Unexpected(&'static str),
    /// A string or element is longer than its limit.
    #[error("{0} is too long")]
    TooLong(&'static str),
    /// An element repeats, or more of them than the limit came.
    #[error("too many {0}")]
    TooMany(&'static str),
    /// The message does not exist in the version asked for (Replay in
    /// 2006/06).
    #[error("{0} does not exist in this WS-AT version")]
    NotInVersion(&'static str),
    /// The `wsa:Action` header names another message than the body holds.
    #[error("the wsa:Action {action:?} does not match the body, whose Action is {expected:?}")]
    ActionMismatch {
        /// The header's Action (cut to its first 256 bytes).
        action: String,
        /// The Action of the body element.
        expected: String,
    },
}

impl WireError {
    pub(crate) fn malformed(what: &str) -> Self {
        Self::Malformed(what.to_owned())
    }

    pub(crate) fn xml(error: quick_xml::Error) -> Self {
        Self::Malformed(error.to_string())
    }

    /// The WS-Coordination fault to answer a message that failed to
    /// decode with this error, or `None` when the envelope itself was
    /// refused (answer the SOAP fault of [`ReadError::fault_code`]).
    pub fn fault(&self) -> Option<FaultKind> {
        match self {
            Self::Envelope(_) => None,
            _ => Some(FaultKind::InvalidParameters),
        }
    }
}
