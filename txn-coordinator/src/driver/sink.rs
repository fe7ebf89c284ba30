//! The outgoing side: [`NotificationSink`], the one-way messages the
//! coordinator sends ([`Notification`]), and [`SendError`].

use std::future::Future;
use std::pin::Pin;

use crate::engine::{Fault, Protocol};
use crate::record::{EndpointRef, ParticipantId, TxId};

/// Which one-way message to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Message {
    /// 2PC, to a participant: `Prepare`.
    Prepare,
    /// 2PC, to a participant: `Commit`.
    Commit,
    /// 2PC, to a participant: `Rollback`.
    Rollback,
    /// Completion, to the initiator (or, from a subordinate transaction,
    /// to its superior): `Committed`.
    Committed,
    /// Completion, to the initiator (or, from a subordinate transaction,
    /// to its superior): `Aborted`.
    Aborted,
    /// From a subordinate transaction to its superior: `Prepared`.
    Prepared,
    /// From a subordinate transaction to its superior: `ReadOnly`.
    ReadOnly,
    /// From a subordinate transaction recovered after a restart to its
    /// superior: `Replay` to a WS-AT 1.0 (2004/10) superior, `Prepared` to
    /// a 1.2 one.
    Replay,
    /// A fault, one-way, to the sender of a message the coordinator could
    /// not accept (`InvalidState`, `UnknownTransaction`, ...).
    Fault(Fault),
}

/// One outgoing one-way message and what the wire layer needs to address
/// it: the transaction and participant (put back into the reference
/// parameters or headers of the message) and the protocol of the
/// registration it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The transaction.
    pub tx: TxId,
    /// The registration the message goes to, when known (a fault to the
    /// sender of a message for an unknown transaction has none);
    /// [`ParticipantId::SUPERIOR`] for a subordinate transaction's
    /// message to its superior (its `wsa:ReplyTo` is then the
    /// subordinate's participant endpoint).
    pub participant: Option<ParticipantId>,
    /// That registration's protocol, when known (for a presumed-abort
    /// answer: the protocol endpoint the message arrived at).
    pub protocol: Option<Protocol>,
    /// The message.
    pub message: Message,
    /// 1 for the first attempt of this send, 2 for its first retry, ...
    /// (every attempt must still get a new `wsa:MessageID`).
    pub attempt: u32,
}

/// Why a send failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SendError {
    /// The peer could not be reached or did not accept the message
    /// (connection refused, timeout, 5xx): retried with backoff.
    #[error("peer unreachable: {0}")]
    Unreachable(String),
    /// The peer refused the message for good (4xx, a SOAP fault): not
    /// retried by the driver (the engine's own resend timer still runs).
    #[error("peer rejected the message: {0}")]
    Rejected(String),
}

impl SendError {
    /// Whether the driver retries this send.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unreachable(_))
    }
}

/// The future a [`NotificationSink`] returns.
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<(), SendError>> + Send + 'a>>;

/// Where the coordinator's one-way messages go: the wire layer's HTTP
/// client in the gateway, [`super::testing::RecordingSink`] in tests.
///
/// Object safe: the driver holds an `Arc<dyn NotificationSink>`. A send
/// should be bounded in time (the driver retries, with backoff, sends that
/// fail with [`SendError::Unreachable`]); every call, retries included, is
/// a new message with a new `wsa:MessageID`.
pub trait NotificationSink: Send + Sync {
    /// Sends `notification` to the endpoint `to` (its address, with its
    /// reference parameters echoed as headers).
    fn send<'a>(&'a self, to: &'a EndpointRef, notification: Notification) -> SendFuture<'a>;
}
