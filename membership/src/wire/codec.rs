//! The membership messages and their binary encoding.
//!
//! Layout of every message: `I` `M` (magic), the version byte, the kind
//! byte, then the kind's fields in the order of the [`Message`] variant,
//! big-endian. Strings are a length (one byte for names, two for addresses
//! and reasons) and UTF-8 bytes; views are a `u32` length and the view's JSON.
//! [`Message::decode`] takes exactly one message and refuses trailing bytes.
//!
//! Decoding borrows the strings of the input, so the oracle's heartbeat
//! path reads a datagram without allocating.

use std::time::Duration;

use crate::view::{Incarnation, MAX_ADDRESS_LEN, MAX_NAME_LEN, MAX_ROLES_PER_MEMBER, View, ViewId};

/// The first two bytes of every message.
pub const MAGIC: [u8; 2] = *b"IM";
/// The protocol version this codec speaks.
pub const VERSION: u8 = 1;
/// Magic, version and kind.
pub const HEADER_LEN: usize = 4;
/// The largest datagram the oracle and the client send: below a 1500-byte
/// Ethernet MTU once IP and UDP headers are added, so it is never
/// fragmented on a LAN.
pub const MAX_DATAGRAM: usize = 1_400;
/// The largest TCP frame (one message) either side reads or writes.
pub const MAX_FRAME: usize = 64 * 1024 * 1024;
/// The longest rejection reason, in bytes.
pub const MAX_REASON_LEN: usize = 512;

const KIND_HEARTBEAT: u8 = 1;
const KIND_HEARTBEAT_REPLY: u8 = 2;
const KIND_JOIN: u8 = 3;
const KIND_JOIN_REPLY: u8 = 4;
const KIND_LEAVE: u8 = 5;
const KIND_LEAVE_REPLY: u8 = 6;
const KIND_VIEW_REQUEST: u8 = 7;
const KIND_VIEW_REPLY: u8 = 8;
const KIND_NOT_LEADER: u8 = 9;
const KIND_REJECTED: u8 = 10;
const KIND_JOIN_COMPACT: u8 = 11;
const KIND_JOIN_ACCEPTED: u8 = 12;

/// The largest view JSON a [`Message::JoinAccepted`] carries inline; above
/// it the answer is the compact form (the view id and the member's own
/// admission) and the member fetches the view when it needs it, so a join
/// costs the oracle O(1) bytes in a large group.
pub const JOIN_VIEW_INLINE_MAX: usize = 16 * 1024;

/// Why bytes are not a valid message, or a message cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The input ends inside a field.
    #[error("message truncated in {what}")]
    Truncated {
        /// The field being read.
        what: &'static str,
    },
    /// The input does not start with the magic bytes `IM`.
    #[error("not a membership message (bad magic bytes)")]
    BadMagic,
    /// The sender speaks another protocol version.
    #[error("unsupported membership protocol version {version} (this side speaks {VERSION})")]
    UnsupportedVersion {
        /// The version received.
        version: u8,
    },
    /// The kind byte names no message.
    #[error("unknown membership message kind {kind}")]
    UnknownKind {
        /// The kind received.
        kind: u8,
    },
    /// A string, view or message is longer than its limit.
    #[error("{what} is {len} bytes long, the limit is {limit}")]
    TooLong {
        /// The field.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// A list holds more items than its limit.
    #[error("{count} {what}, the limit is {limit}")]
    TooMany {
        /// The list.
        what: &'static str,
        /// Its count.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// A string is not UTF-8.
    #[error("{what} is not UTF-8")]
    NotUtf8 {
        /// The field.
        what: &'static str,
    },
    /// A field holds a value outside its range.
    #[error("invalid {what}")]
    BadValue {
        /// The field.
        what: &'static str,
    },
    /// An embedded view is not valid JSON or breaks a view invariant.
    #[error("invalid view: {0}")]
    BadView(String),
    /// Bytes follow the message.
    #[error("{count} bytes after the end of the message")]
    TrailingBytes {
        /// How many.
        count: usize,
    },
}

/// What a heartbeat reply says about the lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeartbeatStatus {
    /// A lease was granted, counted by the member from when it sent the
    /// heartbeat (whole milliseconds on the wire).
    Granted {
        /// The lease length.
        lease: Duration,
    },
    /// The member is in the view but the oracle grants no lease now (its
    /// own leadership is not certain).
    NotGranted,
    /// The sender is not in the view at that incarnation: it must (re)join.
    NotMember,
}

/// Why a request was refused. The view is unchanged by a refused request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectCode {
    /// The incarnation is not the one the view holds or is not newer than a
    /// removed one.
    StaleIncarnation,
    /// The member is not in the view.
    UnknownMember,
    /// The request claims a view newer than the oracle has committed.
    ViewFromFuture,
    /// A field is invalid (a bad name, a role the member does not hold).
    Invalid,
    /// A size limit of the view would be exceeded.
    LimitExceeded,
    /// The oracle could not commit the change (no majority, shutting down).
    Unavailable,
    /// The request's message kind is not served on this transport.
    Unsupported,
}

impl RejectCode {
    fn to_byte(self) -> u8 {
        match self {
            Self::StaleIncarnation => 1,
            Self::UnknownMember => 2,
            Self::ViewFromFuture => 3,
            Self::Invalid => 4,
            Self::LimitExceeded => 5,
            Self::Unavailable => 6,
            Self::Unsupported => 7,
        }
    }

    fn from_byte(byte: u8) -> Result<Self, WireError> {
        Ok(match byte {
            1 => Self::StaleIncarnation,
            2 => Self::UnknownMember,
            3 => Self::ViewFromFuture,
            4 => Self::Invalid,
            5 => Self::LimitExceeded,
            6 => Self::Unavailable,
            7 => Self::Unsupported,
            _ => {
                return Err(WireError::BadValue {
                    what: "rejection code",
                });
            }
        })
    }

    /// A short, stable name (for logs, metrics and SOAP faults).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::StaleIncarnation => "stale-incarnation",
            Self::UnknownMember => "unknown-member",
            Self::ViewFromFuture => "view-from-future",
            Self::Invalid => "invalid",
            Self::LimitExceeded => "limit-exceeded",
            Self::Unavailable => "unavailable",
            Self::Unsupported => "unsupported",
        }
    }
}

/// One membership message. Strings borrow from the decoded input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message<'a> {
    /// Member → oracle leader, every heartbeat interval, over UDP.
    Heartbeat {
        /// The sender.
        member: &'a str,
        /// Its incarnation.
        incarnation: Incarnation,
        /// Correlates the reply.
        request_id: u64,
        /// The newest view the sender has seen.
        seen_view: ViewId,
    },
    /// Oracle leader → member, over UDP.
    HeartbeatReply {
        /// The heartbeat answered.
        request_id: u64,
        /// The oracle's newest committed view id.
        view_id: ViewId,
        /// The lease decision.
        status: HeartbeatStatus,
        /// The view, when the member's is older and it fits in a datagram;
        /// otherwise the member fetches view `view_id` over TCP.
        view: Option<Box<View>>,
    },
    /// Member → oracle leader over TCP: join (or rejoin with a higher
    /// incarnation).
    Join {
        /// Correlates the reply.
        request_id: u64,
        /// Who joins.
        member: &'a str,
        /// Its new incarnation.
        incarnation: Incarnation,
        /// Where it serves.
        address: &'a str,
        /// The services it can host.
        roles: Vec<&'a str>,
    },
    /// Member → oracle leader over TCP: the same join, asking for the
    /// compact answer ([`Message::JoinAccepted`]) instead of
    /// [`Message::JoinReply`]'s whole view. Added to protocol version 1 as
    /// kinds 11 and 12: an oracle that predates them refuses the request as
    /// an unknown kind, and members that send [`Message::Join`] still get
    /// the whole view.
    JoinCompact {
        /// Correlates the reply.
        request_id: u64,
        /// Who joins.
        member: &'a str,
        /// Its new incarnation.
        incarnation: Incarnation,
        /// Where it serves.
        address: &'a str,
        /// The services it can host.
        roles: Vec<&'a str>,
    },
    /// The answer to [`Message::JoinCompact`]: the committed view's id, the
    /// incarnation admitted and the lease the oracle grants, with the view
    /// itself only when its JSON is at most [`JOIN_VIEW_INLINE_MAX`] bytes
    /// (otherwise the member fetches it with [`Message::ViewRequest`]).
    JoinAccepted {
        /// The join answered.
        request_id: u64,
        /// The committed view that holds the member.
        view_id: ViewId,
        /// The incarnation admitted.
        incarnation: Incarnation,
        /// The lease the oracle grants on each heartbeat (whole
        /// milliseconds on the wire).
        lease: Duration,
        /// The view, when small enough.
        view: Option<Box<View>>,
    },
    /// The committed view that holds the joined member.
    JoinReply {
        /// The join answered.
        request_id: u64,
        /// The committed view.
        view: Box<View>,
    },
    /// Member → oracle leader over TCP: leave of its own accord.
    Leave {
        /// Correlates the reply.
        request_id: u64,
        /// Who leaves.
        member: &'a str,
        /// The incarnation that leaves.
        incarnation: Incarnation,
    },
    /// The leave was committed in this view.
    LeaveReply {
        /// The leave answered.
        request_id: u64,
        /// The committed view without the member.
        view_id: ViewId,
    },
    /// Anyone → oracle node over TCP: the newest committed view.
    ViewRequest {
        /// Correlates the reply.
        request_id: u64,
        /// The newest view the asker has.
        known: ViewId,
    },
    /// The node's newest committed view, or `None` when it is not newer than
    /// the asker's.
    ViewReply {
        /// The request answered.
        request_id: u64,
        /// The view.
        view: Option<Box<View>>,
    },
    /// This oracle node is not the leader; ask the one named, if known.
    NotLeader {
        /// The request answered.
        request_id: u64,
        /// The leader's member-facing address (`host:port`), when known.
        leader: Option<&'a str>,
    },
    /// The request was refused with no effect on the view.
    Rejected {
        /// The request answered.
        request_id: u64,
        /// Why.
        code: RejectCode,
        /// A one-line explanation.
        reason: &'a str,
    },
}

impl Message<'_> {
    /// The request id the message carries or answers.
    #[must_use]
    pub fn request_id(&self) -> u64 {
        match self {
            Self::Heartbeat { request_id, .. }
            | Self::HeartbeatReply { request_id, .. }
            | Self::Join { request_id, .. }
            | Self::JoinReply { request_id, .. }
            | Self::JoinCompact { request_id, .. }
            | Self::JoinAccepted { request_id, .. }
            | Self::Leave { request_id, .. }
            | Self::LeaveReply { request_id, .. }
            | Self::ViewRequest { request_id, .. }
            | Self::ViewReply { request_id, .. }
            | Self::NotLeader { request_id, .. }
            | Self::Rejected { request_id, .. } => *request_id,
        }
    }

    /// Appends the encoded message to `out` (nothing is appended on error).
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        all_or_nothing(out, |out| self.encode_inner(out))
    }

    fn encode_inner(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        match self {
            Self::Heartbeat {
                member,
                incarnation,
                request_id,
                seen_view,
            } => {
                header(out, KIND_HEARTBEAT);
                put_name(out, "member id", member)?;
                out.extend_from_slice(&incarnation.0.to_be_bytes());
                out.extend_from_slice(&request_id.to_be_bytes());
                out.extend_from_slice(&seen_view.0.to_be_bytes());
            }
            Self::HeartbeatReply {
                request_id,
                view_id,
                status,
                view,
            } => {
                let json = view.as_deref().map(view_json).transpose()?;
                return encode_heartbeat_reply(
                    out,
                    *request_id,
                    *view_id,
                    *status,
                    json.as_deref(),
                    MAX_FRAME,
                );
            }
            Self::Join {
                request_id,
                member,
                incarnation,
                address,
                roles,
            } => {
                header(out, KIND_JOIN);
                put_join(out, *request_id, member, *incarnation, address, roles)?;
            }
            Self::JoinCompact {
                request_id,
                member,
                incarnation,
                address,
                roles,
            } => {
                header(out, KIND_JOIN_COMPACT);
                put_join(out, *request_id, member, *incarnation, address, roles)?;
            }
            Self::JoinAccepted {
                request_id,
                view_id,
                incarnation,
                lease,
                view,
            } => {
                let json = view.as_deref().map(view_json).transpose()?;
                encode_join_accepted(
                    out,
                    *request_id,
                    *view_id,
                    *incarnation,
                    *lease,
                    json.as_deref(),
                )?;
            }
            Self::JoinReply { request_id, view } => {
                encode_join_reply(out, *request_id, &view_json(view)?)?;
            }
            Self::Leave {
                request_id,
                member,
                incarnation,
            } => {
                header(out, KIND_LEAVE);
                out.extend_from_slice(&request_id.to_be_bytes());
                put_name(out, "member id", member)?;
                out.extend_from_slice(&incarnation.0.to_be_bytes());
            }
            Self::LeaveReply {
                request_id,
                view_id,
            } => {
                header(out, KIND_LEAVE_REPLY);
                out.extend_from_slice(&request_id.to_be_bytes());
                out.extend_from_slice(&view_id.0.to_be_bytes());
            }
            Self::ViewRequest { request_id, known } => {
                header(out, KIND_VIEW_REQUEST);
                out.extend_from_slice(&request_id.to_be_bytes());
                out.extend_from_slice(&known.0.to_be_bytes());
            }
            Self::ViewReply { request_id, view } => {
                let json = view.as_deref().map(view_json).transpose()?;
                encode_view_reply(out, *request_id, json.as_deref())?;
            }
            Self::NotLeader { request_id, leader } => {
                header(out, KIND_NOT_LEADER);
                out.extend_from_slice(&request_id.to_be_bytes());
                match leader {
                    None => out.push(0),
                    Some(leader) => {
                        out.push(1);
                        put_text(out, "leader address", leader, MAX_ADDRESS_LEN)?;
                    }
                }
            }
            Self::Rejected {
                request_id,
                code,
                reason,
            } => {
                header(out, KIND_REJECTED);
                out.extend_from_slice(&request_id.to_be_bytes());
                out.push(code.to_byte());
                put_text(out, "reason", reason, MAX_REASON_LEN)?;
            }
        }
        Ok(())
    }
}

impl<'a> Message<'a> {
    /// Decodes exactly one message from `bytes`.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, WireError> {
        let mut reader = Reader { bytes };
        let magic = reader.take(2, "magic")?;
        if magic != MAGIC {
            return Err(WireError::BadMagic);
        }
        let version = reader.u8("version")?;
        if version != VERSION {
            return Err(WireError::UnsupportedVersion { version });
        }
        let kind = reader.u8("kind")?;
        let message = match kind {
            KIND_HEARTBEAT => Self::Heartbeat {
                member: reader.name("member id")?,
                incarnation: Incarnation(reader.u64("incarnation")?),
                request_id: reader.u64("request id")?,
                seen_view: ViewId(reader.u64("seen view id")?),
            },
            KIND_HEARTBEAT_REPLY => {
                let request_id = reader.u64("request id")?;
                let view_id = ViewId(reader.u64("view id")?);
                let status = match reader.u8("lease status")? {
                    0 => HeartbeatStatus::Granted {
                        lease: Duration::from_millis(u64::from(reader.u32("lease")?)),
                    },
                    1 => HeartbeatStatus::NotGranted,
                    2 => HeartbeatStatus::NotMember,
                    _ => {
                        return Err(WireError::BadValue {
                            what: "lease status",
                        });
                    }
                };
                let view = reader.optional_view()?;
                Self::HeartbeatReply {
                    request_id,
                    view_id,
                    status,
                    view,
                }
            }
            KIND_JOIN | KIND_JOIN_COMPACT => {
                let request_id = reader.u64("request id")?;
                let member = reader.name("member id")?;
                let incarnation = Incarnation(reader.u64("incarnation")?);
                let address = reader.text("address", MAX_ADDRESS_LEN)?;
                let count = usize::from(reader.u8("role count")?);
                if count > MAX_ROLES_PER_MEMBER {
                    return Err(WireError::TooMany {
                        what: "roles",
                        count,
                        limit: MAX_ROLES_PER_MEMBER,
                    });
                }
                let mut roles = Vec::with_capacity(count);
                for _ in 0..count {
                    roles.push(reader.name("role")?);
                }
                if kind == KIND_JOIN {
                    Self::Join {
                        request_id,
                        member,
                        incarnation,
                        address,
                        roles,
                    }
                } else {
                    Self::JoinCompact {
                        request_id,
                        member,
                        incarnation,
                        address,
                        roles,
                    }
                }
            }
            KIND_JOIN_ACCEPTED => {
                let request_id = reader.u64("request id")?;
                let view_id = ViewId(reader.u64("view id")?);
                let incarnation = Incarnation(reader.u64("incarnation")?);
                let lease = Duration::from_millis(u64::from(reader.u32("lease")?));
                // Inline only when small (flag, length and JSON), checked
                // before the JSON is parsed.
                let inline_len = reader.bytes.len().saturating_sub(5);
                if reader.bytes.first() == Some(&1) && inline_len > JOIN_VIEW_INLINE_MAX {
                    return Err(WireError::TooLong {
                        what: "inline view",
                        len: inline_len,
                        limit: JOIN_VIEW_INLINE_MAX,
                    });
                }
                let view = reader.optional_view()?;
                if let Some(view) = &view
                    && view.id() != view_id
                {
                    return Err(WireError::BadValue {
                        what: "view id of the inline view",
                    });
                }
                Self::JoinAccepted {
                    request_id,
                    view_id,
                    incarnation,
                    lease,
                    view,
                }
            }
            KIND_JOIN_REPLY => Self::JoinReply {
                request_id: reader.u64("request id")?,
                view: reader.view()?,
            },
            KIND_LEAVE => Self::Leave {
                request_id: reader.u64("request id")?,
                member: reader.name("member id")?,
                incarnation: Incarnation(reader.u64("incarnation")?),
            },
            KIND_LEAVE_REPLY => Self::LeaveReply {
                request_id: reader.u64("request id")?,
                view_id: ViewId(reader.u64("view id")?),
            },
            KIND_VIEW_REQUEST => Self::ViewRequest {
                request_id: reader.u64("request id")?,
                known: ViewId(reader.u64("known view id")?),
            },
            KIND_VIEW_REPLY => Self::ViewReply {
                request_id: reader.u64("request id")?,
                view: reader.optional_view()?,
            },
            KIND_NOT_LEADER => {
                let request_id = reader.u64("request id")?;
                let leader = match reader.u8("leader flag")? {
                    0 => None,
                    1 => Some(reader.text("leader address", MAX_ADDRESS_LEN)?),
                    _ => {
                        return Err(WireError::BadValue {
                            what: "leader flag",
                        });
                    }
                };
                Self::NotLeader { request_id, leader }
            }
            KIND_REJECTED => Self::Rejected {
                request_id: reader.u64("request id")?,
                code: RejectCode::from_byte(reader.u8("rejection code")?)?,
                reason: reader.text("reason", MAX_REASON_LEN)?,
            },
            kind => return Err(WireError::UnknownKind { kind }),
        };
        if !reader.bytes.is_empty() {
            return Err(WireError::TrailingBytes {
                count: reader.bytes.len(),
            });
        }
        Ok(message)
    }
}

/// Appends a heartbeat reply to `out` with the view already encoded as JSON
/// (the oracle encodes each committed view once, not once per reply).
/// Fails, appending nothing, when the message would exceed `limit` bytes.
pub fn encode_heartbeat_reply(
    out: &mut Vec<u8>,
    request_id: u64,
    view_id: ViewId,
    status: HeartbeatStatus,
    view_json: Option<&[u8]>,
    limit: usize,
) -> Result<(), WireError> {
    all_or_nothing(out, |out| {
        let start = out.len();
        header(out, KIND_HEARTBEAT_REPLY);
        out.extend_from_slice(&request_id.to_be_bytes());
        out.extend_from_slice(&view_id.0.to_be_bytes());
        match status {
            HeartbeatStatus::Granted { lease } => {
                out.push(0);
                let millis = u32::try_from(lease.as_millis()).unwrap_or(u32::MAX);
                out.extend_from_slice(&millis.to_be_bytes());
            }
            HeartbeatStatus::NotGranted => out.push(1),
            HeartbeatStatus::NotMember => out.push(2),
        }
        put_optional_view(out, view_json)?;
        let len = out.len().saturating_sub(start);
        if len > limit {
            return Err(WireError::TooLong {
                what: "heartbeat reply",
                len,
                limit,
            });
        }
        Ok(())
    })
}

/// Appends a view reply with the view already encoded as JSON.
pub fn encode_view_reply(
    out: &mut Vec<u8>,
    request_id: u64,
    view_json: Option<&[u8]>,
) -> Result<(), WireError> {
    all_or_nothing(out, |out| {
        header(out, KIND_VIEW_REPLY);
        out.extend_from_slice(&request_id.to_be_bytes());
        put_optional_view(out, view_json)
    })
}

/// Appends a [`Message::JoinReply`] whose view is already encoded as JSON
/// (the oracle encodes each committed view once and answers every join of
/// the batch that produced it with the same bytes).
pub fn encode_join_reply(
    out: &mut Vec<u8>,
    request_id: u64,
    view_json: &[u8],
) -> Result<(), WireError> {
    all_or_nothing(out, |out| {
        header(out, KIND_JOIN_REPLY);
        out.extend_from_slice(&request_id.to_be_bytes());
        put_view(out, view_json)
    })
}

/// Appends a [`Message::JoinAccepted`] whose view, if any, is already
/// encoded as JSON. Fails, appending nothing, when that JSON is longer
/// than [`JOIN_VIEW_INLINE_MAX`].
pub fn encode_join_accepted(
    out: &mut Vec<u8>,
    request_id: u64,
    view_id: ViewId,
    incarnation: Incarnation,
    lease: Duration,
    view_json: Option<&[u8]>,
) -> Result<(), WireError> {
    if let Some(json) = view_json
        && json.len() > JOIN_VIEW_INLINE_MAX
    {
        return Err(WireError::TooLong {
            what: "inline view",
            len: json.len(),
            limit: JOIN_VIEW_INLINE_MAX,
        });
    }
    all_or_nothing(out, |out| {
        header(out, KIND_JOIN_ACCEPTED);
        out.extend_from_slice(&request_id.to_be_bytes());
        out.extend_from_slice(&view_id.0.to_be_bytes());
        out.extend_from_slice(&incarnation.0.to_be_bytes());
        let millis = u32::try_from(lease.as_millis()).unwrap_or(u32::MAX);
        out.extend_from_slice(&millis.to_be_bytes());
        put_optional_view(out, view_json)
    })
}

/// Runs `write` on `out`; when it fails, `out` is left as it was.
fn all_or_nothing(
    out: &mut Vec<u8>,
    write: impl FnOnce(&mut Vec<u8>) -> Result<(), WireError>,
) -> Result<(), WireError> {
    let start = out.len();
    let result = write(out);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// The join fields shared by [`Message::Join`] and [`Message::JoinCompact`].
fn put_join(
    out: &mut Vec<u8>,
    request_id: u64,
    member: &str,
    incarnation: Incarnation,
    address: &str,
    roles: &[&str],
) -> Result<(), WireError> {
    out.extend_from_slice(&request_id.to_be_bytes());
    put_name(out, "member id", member)?;
    out.extend_from_slice(&incarnation.0.to_be_bytes());
    put_text(out, "address", address, MAX_ADDRESS_LEN)?;
    if roles.len() > MAX_ROLES_PER_MEMBER {
        return Err(WireError::TooMany {
            what: "roles",
            count: roles.len(),
            limit: MAX_ROLES_PER_MEMBER,
        });
    }
    // Fits: at most MAX_ROLES_PER_MEMBER (64) roles.
    out.push(u8::try_from(roles.len()).unwrap_or(u8::MAX));
    for role in roles {
        put_name(out, "role", role)?;
    }
    Ok(())
}

/// The JSON form of a view, as messages carry it.
pub fn view_json(view: &View) -> Result<Vec<u8>, WireError> {
    serde_json::to_vec(view).map_err(|error| WireError::BadView(error.to_string()))
}

fn header(out: &mut Vec<u8>, kind: u8) {
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    out.push(kind);
}

fn put_name(out: &mut Vec<u8>, what: &'static str, name: &str) -> Result<(), WireError> {
    if name.len() > MAX_NAME_LEN {
        return Err(WireError::TooLong {
            what,
            len: name.len(),
            limit: MAX_NAME_LEN,
        });
    }
    // Fits: MAX_NAME_LEN (128) < 256.
    out.push(u8::try_from(name.len()).unwrap_or(u8::MAX));
    out.extend_from_slice(name.as_bytes());
    Ok(())
}

fn put_text(
    out: &mut Vec<u8>,
    what: &'static str,
    text: &str,
    limit: usize,
) -> Result<(), WireError> {
    let len = u16::try_from(text.len())
        .ok()
        .filter(|_| text.len() <= limit)
        .ok_or(WireError::TooLong {
            what,
            len: text.len(),
            limit,
        })?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(text.as_bytes());
    Ok(())
}

fn put_view(out: &mut Vec<u8>, json: &[u8]) -> Result<(), WireError> {
    let len = u32::try_from(json.len())
        .ok()
        .filter(|_| json.len() <= MAX_FRAME)
        .ok_or(WireError::TooLong {
            what: "view",
            len: json.len(),
            limit: MAX_FRAME,
        })?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(json);
    Ok(())
}

fn put_optional_view(out: &mut Vec<u8>, json: Option<&[u8]>) -> Result<(), WireError> {
    match json {
        None => {
            out.push(0);
            Ok(())
        }
        Some(json) => {
            out.push(1);
            put_view(out, json)
        }
    }
}

/// A cursor over untrusted bytes; every read checks what remains.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], WireError> {
        if self.bytes.len() < n {
            return Err(WireError::Truncated { what });
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], WireError> {
        let bytes = self.take(N, what)?;
        <[u8; N]>::try_from(bytes).map_err(|_| WireError::Truncated { what })
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, WireError> {
        Ok(self.array::<1>(what)?[0])
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, WireError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, WireError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, WireError> {
        Ok(u64::from_be_bytes(self.array(what)?))
    }

    fn utf8(bytes: &'a [u8], what: &'static str) -> Result<&'a str, WireError> {
        std::str::from_utf8(bytes).map_err(|_| WireError::NotUtf8 { what })
    }

    fn name(&mut self, what: &'static str) -> Result<&'a str, WireError> {
        let len = usize::from(self.u8(what)?);
        if len > MAX_NAME_LEN {
            return Err(WireError::TooLong {
                what,
                len,
                limit: MAX_NAME_LEN,
            });
        }
        let bytes = self.take(len, what)?;
        Self::utf8(bytes, what)
    }

    fn text(&mut self, what: &'static str, limit: usize) -> Result<&'a str, WireError> {
        let len = usize::from(self.u16(what)?);
        if len > limit {
            return Err(WireError::TooLong { what, len, limit });
        }
        let bytes = self.take(len, what)?;
        Self::utf8(bytes, what)
    }

    fn view(&mut self) -> Result<Box<View>, WireError> {
        let len = usize::try_from(self.u32("view length")?).unwrap_or(usize::MAX);
        if len > MAX_FRAME {
            return Err(WireError::TooLong {
                what: "view",
                len,
                limit: MAX_FRAME,
            });
        }
        let json = self.take(len, "view")?;
        serde_json::from_slice::<View>(json)
            .map(Box::new)
            .map_err(|error| WireError::BadView(error.to_string()))
    }

    fn optional_view(&mut self) -> Result<Option<Box<View>>, WireError> {
        match self.u8("view flag")? {
            0 => Ok(None),
            1 => self.view().map(Some),
            _ => Err(WireError::BadValue { what: "view flag" }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::{MemberId, ServiceName, ViewCommand};
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn sample_view(members: &[(String, u64, Vec<String>)]) -> View {
        let mut view = View::new();
        for (name, incarnation, roles) in members {
            let (Ok(member), Ok(roles)) = (
                MemberId::new(name.clone()),
                roles
                    .iter()
                    .map(|r| ServiceName::new(r.clone()))
                    .collect::<Result<BTreeSet<_>, _>>(),
            ) else {
                continue;
            };
            if let Ok(next) = view.apply(&ViewCommand::Join {
                member,
                incarnation: Incarnation(*incarnation),
                address: format!("{name}:7000"),
                roles,
            }) {
                view = next;
            }
        }
        view
    }

    fn name() -> impl Strategy<Value = String> {
        "[a-z][a-z0-9.-]{0,20}"
    }

    fn text(max: usize) -> impl Strategy<Value = String> {
        proptest::collection::vec(any::<char>(), 0..max).prop_map(|chars| {
            let mut text: String = chars.into_iter().collect();
            while text.len() > MAX_ADDRESS_LEN {
                text.pop();
            }
            text
        })
    }

    fn view() -> impl Strategy<Value = View> {
        proptest::collection::vec(
            (name(), 1..5u64, proptest::collection::vec("svc[a-c]", 0..3)),
            0..5,
        )
        .prop_map(|members| sample_view(&members))
    }

    fn status() -> impl Strategy<Value = HeartbeatStatus> {
        prop_oneof![
            (0..u64::from(u32::MAX)).prop_map(|ms| HeartbeatStatus::Granted {
                lease: Duration::from_millis(ms)
            }),
            Just(HeartbeatStatus::NotGranted),
            Just(HeartbeatStatus::NotMember),
        ]
    }

    fn code() -> impl Strategy<Value = RejectCode> {
        (1..=7u8).prop_map(|b| RejectCode::from_byte(b).unwrap_or(RejectCode::Invalid))
    }

    /// The owned parts a message is built from.
    #[derive(Debug, Clone)]
    struct Parts {
        kind: u8,
        a: String,
        b: String,
        roles: Vec<String>,
        n1: u64,
        n2: u64,
        n3: u64,
        flag: bool,
        status: HeartbeatStatus,
        code: RejectCode,
        view: View,
    }

    fn parts() -> impl Strategy<Value = Parts> {
        (
            (
                1..=12u8,
                name(),
                text(40),
                proptest::collection::vec(name(), 0..6),
            ),
            (any::<u64>(), any::<u64>(), any::<u64>(), any::<bool>()),
            (status(), code(), view()),
        )
            .prop_map(
                |((kind, a, b, roles), (n1, n2, n3, flag), (status, code, view))| Parts {
                    kind,
                    a,
                    b,
                    roles,
                    n1,
                    n2,
                    n3,
                    flag,
                    status,
                    code,
                    view,
                },
            )
    }

    fn message(p: &Parts) -> Message<'_> {
        let view = || Box::new(p.view.clone());
        match p.kind {
            1 => Message::Heartbeat {
                member: &p.a,
                incarnation: Incarnation(p.n1),
                request_id: p.n2,
                seen_view: ViewId(p.n3),
            },
            2 => Message::HeartbeatReply {
                request_id: p.n1,
                view_id: ViewId(p.n2),
                status: p.status,
                view: p.flag.then(view),
            },
            3 => Message::Join {
                request_id: p.n1,
                member: &p.a,
                incarnation: Incarnation(p.n2),
                address: &p.b,
                roles: p.roles.iter().map(String::as_str).collect(),
            },
            4 => Message::JoinReply {
                request_id: p.n1,
                view: view(),
            },
            5 => Message::Leave {
                request_id: p.n1,
                member: &p.a,
                incarnation: Incarnation(p.n2),
            },
            6 => Message::LeaveReply {
                request_id: p.n1,
                view_id: ViewId(p.n2),
            },
            7 => Message::ViewRequest {
                request_id: p.n1,
                known: ViewId(p.n2),
            },
            8 => Message::ViewReply {
                request_id: p.n1,
                view: p.flag.then(view),
            },
            11 => Message::JoinCompact {
                request_id: p.n1,
                member: &p.a,
                incarnation: Incarnation(p.n2),
                address: &p.b,
                roles: p.roles.iter().map(String::as_str).collect(),
            },
            12 => Message::JoinAccepted {
                request_id: p.n1,
                view_id: p.view.id(),
                incarnation: Incarnation(p.n2),
                lease: Duration::from_millis(p.n3 % u64::from(u32::MAX)),
                view: p.flag.then(view),
            },
            9 => Message::NotLeader {
                request_id: p.n1,
                leader: p.flag.then_some(p.b.as_str()),
            },
            _ => Message::Rejected {
                request_id: p.n1,
                code: p.code,
                reason: &p.b,
            },
        }
    }

    proptest! {
        #[test]
        fn decode_inverts_encode(p in parts()) {
            let message = message(&p);
            let mut bytes = Vec::new();
            message.encode(&mut bytes).unwrap();
            prop_assert_eq!(Message::decode(&bytes).unwrap(), message);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = Message::decode(&bytes);
        }

        #[test]
        fn every_truncation_of_a_message_is_an_error(p in parts()) {
            let message = message(&p);
            let mut bytes = Vec::new();
            message.encode(&mut bytes).unwrap();
            for len in 0..bytes.len() {
                prop_assert!(Message::decode(&bytes[..len]).is_err());
            }
        }
    }

    #[test]
    fn a_heartbeat_is_compact() {
        let mut bytes = Vec::new();
        Message::Heartbeat {
            member: "gw-1",
            incarnation: Incarnation(3),
            request_id: 9,
            seen_view: ViewId(4),
        }
        .encode(&mut bytes)
        .unwrap();
        assert_eq!(bytes.len(), HEADER_LEN + 1 + 4 + 24);
        assert_eq!(&bytes[..4], b"IM\x01\x01");
    }

    #[test]
    fn bad_headers_and_fields_are_named() {
        assert_eq!(Message::decode(b"XX\x01\x01"), Err(WireError::BadMagic));
        assert_eq!(
            Message::decode(b"IM\x02\x01"),
            Err(WireError::UnsupportedVersion { version: 2 })
        );
        assert_eq!(
            Message::decode(b"IM\x01\x63"),
            Err(WireError::UnknownKind { kind: 0x63 })
        );
        let mut long = b"IM\x01\x01\xff".to_vec();
        long.extend_from_slice(&[b'a'; 255]);
        assert_eq!(
            Message::decode(&long),
            Err(WireError::TooLong {
                what: "member id",
                len: 255,
                limit: MAX_NAME_LEN
            })
        );
        let mut trailing = Vec::new();
        Message::LeaveReply {
            request_id: 1,
            view_id: ViewId(2),
        }
        .encode(&mut trailing)
        .unwrap();
        trailing.push(0);
        assert_eq!(
            Message::decode(&trailing),
            Err(WireError::TrailingBytes { count: 1 })
        );
        let error = Message::Heartbeat {
            member: &"m".repeat(200),
            incarnation: Incarnation(1),
            request_id: 1,
            seen_view: ViewId(0),
        }
        .encode(&mut Vec::new())
        .unwrap_err();
        assert!(error.to_string().contains("member id"), "{error}");
    }

    #[test]
    fn an_inconsistent_view_is_refused() {
        let mut bytes = Vec::new();
        header(&mut bytes, KIND_VIEW_REPLY);
        bytes.extend_from_slice(&1u64.to_be_bytes());
        let json =
            br#"{"id":1,"members":{},"primaries":{"s":"ghost"},"backups":{},"tombstones":{}}"#;
        put_optional_view(&mut bytes, Some(json)).unwrap();
        assert!(matches!(
            Message::decode(&bytes),
            Err(WireError::BadView(_))
        ));
    }

    #[test]
    fn oversized_heartbeat_replies_are_refused_whole() {
        let mut out = vec![7];
        let json = vec![b' '; MAX_DATAGRAM];
        let error = encode_heartbeat_reply(
            &mut out,
            1,
            ViewId(1),
            HeartbeatStatus::NotGranted,
            Some(&json),
            MAX_DATAGRAM,
        )
        .unwrap_err();
        assert!(matches!(error, WireError::TooLong { .. }));
        assert_eq!(out, vec![7]);
    }

    #[test]
    fn a_compact_join_answer_carries_the_view_only_when_small() {
        let mut small = Vec::new();
        encode_join_accepted(
            &mut small,
            3,
            ViewId(9),
            Incarnation(2),
            Duration::from_secs(2),
            None,
        )
        .unwrap();
        assert_eq!(small.len(), HEADER_LEN + 8 + 8 + 8 + 4 + 1);
        assert_eq!(
            Message::decode(&small).unwrap(),
            Message::JoinAccepted {
                request_id: 3,
                view_id: ViewId(9),
                incarnation: Incarnation(2),
                lease: Duration::from_secs(2),
                view: None,
            }
        );
        let large = vec![b' '; JOIN_VIEW_INLINE_MAX + 1];
        let error = encode_join_accepted(
            &mut small,
            3,
            ViewId(9),
            Incarnation(2),
            Duration::from_secs(2),
            Some(&large),
        )
        .unwrap_err();
        assert!(matches!(error, WireError::TooLong { .. }));
        // A peer that sends one anyway is refused before its JSON is read.
        let mut forged = Vec::new();
        header(&mut forged, KIND_JOIN_ACCEPTED);
        forged.extend_from_slice(&[0; 28]);
        put_optional_view(&mut forged, Some(&large)).unwrap();
        assert!(matches!(
            Message::decode(&forged),
            Err(WireError::TooLong {
                what: "inline view",
                ..
            })
        ));
        // The inline view must be the one the answer names.
        let mut mismatched = Vec::new();
        Message::JoinAccepted {
            request_id: 1,
            view_id: ViewId(0),
            incarnation: Incarnation(1),
            lease: Duration::from_secs(2),
            view: Some(Box::new(View::new())),
        }
        .encode(&mut mismatched)
        .unwrap();
        mismatched[HEADER_LEN + 15] = 1;
        assert!(matches!(
            Message::decode(&mismatched),
            Err(WireError::BadValue { .. })
        ));
    }

    #[test]
    fn the_compact_join_seeds_decode() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/membership_wire");
        for seed in [
            "seed-join-compact",
            "seed-join-accepted",
            "seed-join-accepted-inline",
        ] {
            let Ok(bytes) = std::fs::read(dir.join(seed)) else {
                continue;
            };
            assert!(Message::decode(&bytes).is_ok(), "{seed}");
        }
    }
}
