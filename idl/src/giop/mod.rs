//! The General Inter-ORB Protocol: message headers, the eight message types
//! of GIOP 1.0, 1.1 and 1.2, and framing.
//!
//! [`GiopCodec`] (or the free functions [`decode`] and [`encode`]) turns a
//! byte stream into [`Message`]s and back. Each message type has its own
//! module with the per-version header layouts. Bodies of requests and
//! replies (arguments, results, user exceptions) stay undecoded [`Bytes`]:
//! decoding them needs the operation's types.
//!
//! Alignment inside a body counts from the start of the GIOP header, so a
//! reader over [`Request::body`] in GIOP 1.0 or 1.1 needs the body's offset
//! from the header; in GIOP 1.2 bodies start on a multiple of 8.
//!
//! [`Bytes`]: bytes::Bytes

mod codec;
mod header;
mod locate;
mod message;
mod reply;
mod request;
mod service_context;
mod target_address;

pub use codec::{Frame, GiopCodec, decode, encode};
pub use header::{DEFAULT_MAX_MESSAGE_SIZE, GIOP_HEADER_LEN, GIOP_MAGIC, GiopHeader, MessageType};
pub use locate::{LocateReply, LocateRequest, LocateStatus};
pub use message::{CancelRequest, FirstFragment, Fragment, Message, MessageBody};
pub use reply::{CompletionStatus, Reply, ReplyStatus, SystemException};
pub(crate) use request::KeyRequestHeader;
pub use request::{Request, ResponseFlags};
pub use service_context::{CodeSetContext, ServiceContext};
pub use target_address::{AddressingDisposition, IorAddressingInfo, TargetAddress};

#[cfg(test)]
mod tests;
