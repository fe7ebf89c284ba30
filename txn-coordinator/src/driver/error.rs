//! [`DriverError`]: what the driver's API refuses, each variant naming the
//! WS-Coordination or WS-AT fault the wire layer answers with.

use crate::engine::Fault;
use crate::log::LogError;
use crate::record::TxId;

/// Why a [`super::CoordinatorService`] call was refused.
///
/// The first seven variants map one to one onto the WS-C / WS-AT faults
/// ([`DriverError::fault_kind`]); the rest are operational conditions with
/// no protocol fault of their own (the wire layer answers them with a
/// server-side SOAP fault, or an HTTP 503 when [`DriverError::is_retryable`]).
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// `wscoor:InvalidState`: the message is not valid in the
    /// transaction's current state.
    #[error("the message is not valid in the transaction's current state")]
    InvalidState,
    /// `wscoor:InvalidProtocol`: an unknown or unsupported protocol.
    #[error("invalid or unsupported coordination protocol")]
    InvalidProtocol,
    /// `wscoor:InvalidParameters`: a parameter is invalid (an endpoint
    /// reference too large or without address, an expiry already past).
    #[error("invalid parameters: {reason}")]
    InvalidParameters {
        /// What is wrong.
        reason: String,
    },
    /// `wscoor:CannotCreateContext`: activation failed (store down, at
    /// capacity, still recovering, fenced or shut down).
    #[error("cannot create a coordination context: {reason}")]
    CannotCreateContext {
        /// Why.
        reason: String,
    },
    /// `wscoor:CannotRegisterParticipant`: registration refused (unknown
    /// transaction, too late, too many participants).
    #[error("cannot register the participant: {reason}")]
    CannotRegisterParticipant {
        /// Why.
        reason: String,
    },
    /// `wsat:InconsistentInternalState`: reserved for a participant's own
    /// use; the driver never returns it but maps it for completeness.
    #[error("inconsistent internal state")]
    InconsistentInternalState,
    /// `wsat:UnknownTransaction`: the coordinator has no knowledge of the
    /// transaction.
    #[error("unknown transaction {0}")]
    UnknownTransaction(TxId),
    /// The coordinator has not finished loading its log after a restart:
    /// nothing about an unknown transaction can be answered yet. The sender
    /// should retry (participants resend Prepared by themselves).
    #[error("the coordinator is still loading its log after a restart; retry later")]
    Recovering,
    /// Another instance has taken this instance's transactions over with a
    /// newer fencing token: this instance must stop coordinating.
    #[error("this coordinator instance has been fenced off: {0}")]
    Fenced(String),
    /// A takeover was refused by the authority.
    #[error("takeover refused: {0}")]
    TakeoverRefused(String),
    /// The log failed (start-up claim, takeover load).
    #[error(transparent)]
    Log(#[from] LogError),
    /// The service has been shut down.
    #[error("the coordinator has shut down")]
    ShutDown,
}

impl DriverError {
    /// The protocol fault to answer with, or `None` for the operational
    /// variants (answer those with a server fault or HTTP 503).
    pub fn fault_kind(&self) -> Option<Fault> {
        match self {
            Self::InvalidState => Some(Fault::InvalidState),
            Self::InvalidProtocol => Some(Fault::InvalidProtocol),
            Self::InvalidParameters { .. } => Some(Fault::InvalidParameters),
            Self::CannotCreateContext { .. } => Some(Fault::CannotCreateContext),
            Self::CannotRegisterParticipant { .. } => Some(Fault::CannotRegisterParticipant),
            Self::InconsistentInternalState => Some(Fault::InconsistentInternalState),
            Self::UnknownTransaction(_) => Some(Fault::UnknownTransaction),
            Self::Recovering
            | Self::Fenced(_)
            | Self::TakeoverRefused(_)
            | Self::Log(_)
            | Self::ShutDown => None,
        }
    }

    /// Whether the same request may succeed later without change (the
    /// coordinator is recovering, or its store is down).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Recovering => true,
            Self::Log(error) => !error.is_fenced(),
            _ => false,
        }
    }

    /// The error for an engine fault.
    pub(crate) fn from_fault(fault: Fault, tx: &TxId, reason: &str) -> Self {
        match fault {
            Fault::InvalidState => Self::InvalidState,
            Fault::InvalidProtocol => Self::InvalidProtocol,
            Fault::InvalidParameters => Self::InvalidParameters {
                reason: reason.to_owned(),
            },
            Fault::CannotCreateContext => Self::CannotCreateContext {
                reason: reason.to_owned(),
            },
            Fault::CannotRegisterParticipant => Self::CannotRegisterParticipant {
                reason: reason.to_owned(),
            },
            Fault::InconsistentInternalState => Self::InconsistentInternalState,
            Fault::UnknownTransaction => Self::UnknownTransaction(tx.clone()),
        }
    }
}
