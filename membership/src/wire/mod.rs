//! The membership wire protocol, sans-IO: a compact, versioned binary codec
//! for the messages members and oracle nodes exchange.
//!
//! Two transports carry it, for two kinds of traffic:
//!
//! - **UDP datagrams** carry heartbeats and their replies. A heartbeat never
//!   touches the consensus log; the oracle leader answers it from memory,
//!   stamping its arrival on the monotonic clock right after the `recv`
//!   returns, before anything else happens to it. A lost datagram costs one
//!   heartbeat, which the lease arithmetic already allows for (two
//!   heartbeats fit in a lease), so retransmission would only add latency.
//!   Every datagram the oracle sends fits in [`MAX_DATAGRAM`] bytes.
//! - **TCP frames** (a `u32` big-endian length, then one message; see
//!   [`frame`]) carry Join, Leave and view fetches. Join and Leave go through
//!   the majority-replicated log, take a commit round trip and need one
//!   definite answer, which a datagram that may be lost or duplicated cannot
//!   give without a retransmission protocol of its own. A view of thousands
//!   of members is hundreds of kilobytes, far beyond one datagram. A
//!   heartbeat reply therefore carries the view inline only when it fits in
//!   a datagram; otherwise it carries the oracle's view id and the member
//!   fetches the view over TCP.
//!   A join is answered the same way: [`Message::JoinCompact`] gets a
//!   [`Message::JoinAccepted`] with the view inline only up to
//!   [`JOIN_VIEW_INLINE_MAX`] bytes, so a join costs O(1) bytes in a large
//!   group.
//!
//! Every message starts with the magic bytes `IM`, the protocol
//! [`VERSION`] and a message kind. Integers are big-endian. Strings carry
//! their byte length first and must be UTF-8; every length and count is
//! bounded before anything is allocated. Views travel as the JSON form of
//! [`crate::View`] (the same serde schema as the consensus log and the HTTP
//! API), so decoding one re-checks every view invariant. See [`codec`].

pub mod codec;
pub mod frame;

pub use codec::{
    HEADER_LEN, HeartbeatStatus, JOIN_VIEW_INLINE_MAX, MAGIC, MAX_DATAGRAM, MAX_FRAME,
    MAX_REASON_LEN, Message, RejectCode, VERSION, WireError, encode_heartbeat_reply,
    encode_join_accepted, encode_join_reply, encode_view_reply, view_json,
};
