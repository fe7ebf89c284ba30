//! A whole GIOP message: header fields and a typed body.

use bytes::{BufMut, Bytes, BytesMut};

use super::{
    GIOP_HEADER_LEN, GiopHeader, LocateReply, LocateRequest, MessageType, Reply, ReplyStatus,
    Request,
};
use crate::cdr::{ByteOrder, CdrReader, CdrWriter};
use crate::error::{Error, Result};
use crate::version::GiopVersion;

/// A decoded GIOP message.
///
/// The header's flags and size are derived from the body when encoding:
/// the more-fragments flag is set exactly for [`MessageBody::FirstFragment`]
/// and for a [`Fragment`] that says more follow.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Message {
    /// The GIOP version of the message.
    pub version: GiopVersion,
    /// The byte order of the header's size and of the body.
    pub byte_order: ByteOrder,
    /// What the message says.
    pub body: MessageBody,
}

/// The body of a GIOP message, by message type in spec order.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum MessageBody {
    /// 0: an invocation.
    Request(Request),
    /// 1: the answer to an invocation.
    Reply(Reply),
    /// 2: the client gives up on a request.
    CancelRequest(CancelRequest),
    /// 3: does the server have this object?
    LocateRequest(LocateRequest),
    /// 4: the answer to a LocateRequest.
    LocateReply(LocateReply),
    /// 5: the sender will close the connection; no body.
    CloseConnection,
    /// 6: the sender could not parse a message; no body.
    MessageError,
    /// 7: a continuation of a fragmented message.
    Fragment(Fragment),
    /// The first part of a fragmented Request, Reply, LocateRequest or
    /// LocateReply, kept raw until its Fragments arrive.
    FirstFragment(FirstFragment),
}

/// A CancelRequest: `{ unsigned long request_id; }`.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub struct CancelRequest {
    /// The request the client no longer waits for.
    pub request_id: u32,
}

/// A Fragment message: the next piece of a fragmented message.
#[derive(Clone, Debug, Eq, Hash, PartialEq)]
pub struct Fragment {
    /// The request id of the GIOP 1.2 fragment header; GIOP 1.1 has none.
    pub request_id: Option<u32>,
    /// Whether further fragments follow.
    pub more_fragments: bool,
    /// The fragment's share of the message.
    pub data: Bytes,
}

/// The first part of a fragmented message, whose header may be incomplete.
#[derive(Clone, Debug, Eq, Hash, PartialEq)]
pub struct FirstFragment {
    /// The type of the message being fragmented.
    pub message_type: MessageType,
    /// The bytes after the GIOP header.
    pub data: Bytes,
}

impl MessageBody {
    /// The message type of this body.
    pub fn message_type(&self) -> MessageType {
        match self {
            Self::Request(_) => MessageType::Request,
            Self::Reply(_) => MessageType::Reply,
            Self::CancelRequest(_) => MessageType::CancelRequest,
            Self::LocateRequest(_) => MessageType::LocateRequest,
            Self::LocateReply(_) => MessageType::LocateReply,
            Self::CloseConnection => MessageType::CloseConnection,
            Self::MessageError => MessageType::MessageError,
            Self::Fragment(_) => MessageType::Fragment,
            Self::FirstFragment(first) => first.message_type,
        }
    }

    /// Whether the header's more-fragments flag is set for this body.
    pub fn more_fragments(&self) -> bool {
        match self {
            Self::Fragment(fragment) => fragment.more_fragments,
            Self::FirstFragment(_) => true,
            _ => false,
        }
    }
}

impl Message {
    /// Builds a message.
    pub fn new(version: GiopVersion, byte_order: ByteOrder, body: MessageBody) -> Self {
        Self {
            version,
            byte_order,
            body,
        }
    }

    /// Decodes the body that followed `header`.
    ///
    /// `body` must be exactly the `message_size` bytes after the header.
    /// Fixed-layout messages must not carry extra bytes.
    pub fn decode(header: &GiopHeader, body: Bytes) -> Result<Self> {
        let mut r = CdrReader::new(body, header.byte_order, header.version)
            .with_alignment_offset(GIOP_HEADER_LEN);
        let body = if header.more_fragments && header.message_type != MessageType::Fragment {
            MessageBody::FirstFragment(FirstFragment {
                message_type: header.message_type,
                data: r.read_rest(),
            })
        } else {
            Self::decode_body(header, &mut r)?
        };
        Ok(Self {
            version: header.version,
            byte_order: header.byte_order,
            body,
        })
    }

    fn decode_body(header: &GiopHeader, r: &mut CdrReader) -> Result<MessageBody> {
        let body = match header.message_type {
            MessageType::Request => return Request::read(r).map(MessageBody::Request),
            MessageType::Reply => return Reply::read(r).map(MessageBody::Reply),
            MessageType::LocateReply => return LocateReply::read(r).map(MessageBody::LocateReply),
            MessageType::CancelRequest => MessageBody::CancelRequest(CancelRequest {
                request_id: r.read_ulong()?,
            }),
            MessageType::LocateRequest => MessageBody::LocateRequest(LocateRequest::read(r)?),
            MessageType::CloseConnection => MessageBody::CloseConnection,
            MessageType::MessageError => MessageBody::MessageError,
            MessageType::Fragment => {
                let request_id = match header.version {
                    GiopVersion::V1_2 => Some(r.read_ulong()?),
                    _ => None,
                };
                MessageBody::Fragment(Fragment {
                    request_id,
                    more_fragments: header.more_fragments,
                    data: r.read_rest(),
                })
            }
        };
        r.finish()?;
        Ok(body)
    }

    /// The offset from the start of the GIOP header of the undecoded body of
    /// a Request, or of a Reply with NO_EXCEPTION or USER_EXCEPTION status;
    /// `None` for other messages.
    ///
    /// This is the alignment offset for reading or writing that body. In
    /// GIOP 1.2 it is a multiple of 8; in 1.0 and 1.1 it depends on the
    /// header, so a sender builds the message with an empty body, asks for
    /// the offset, and encodes the arguments with
    /// [`CdrWriter::with_alignment_offset`].
    pub fn body_offset(&self) -> Result<Option<usize>> {
        let header_only = match &self.body {
            MessageBody::Request(request) => MessageBody::Request(Request {
                body: Bytes::new(),
                ..request.clone()
            }),
            MessageBody::Reply(reply) => {
                let status = match reply.status {
                    ReplyStatus::NoException(_) => ReplyStatus::NoException(Bytes::new()),
                    ReplyStatus::UserException(_) => ReplyStatus::UserException(Bytes::new()),
                    _ => return Ok(None),
                };
                MessageBody::Reply(Reply {
                    status,
                    ..reply.clone()
                })
            }
            _ => return Ok(None),
        };
        let mut scratch = BytesMut::new();
        Self::new(self.version, self.byte_order, header_only).encode(&mut scratch)?;
        Ok(Some(match self.version {
            GiopVersion::V1_2 => scratch.len().next_multiple_of(8),
            GiopVersion::V1_0 | GiopVersion::V1_1 => scratch.len(),
        }))
    }

    /// A reader over the undecoded body of a Request, or of a Reply with
    /// NO_EXCEPTION or USER_EXCEPTION status, aligned as on the wire.
    pub fn body_reader(&self) -> Result<Option<CdrReader>> {
        let body = match &self.body {
            MessageBody::Request(request) => request.body.clone(),
            MessageBody::Reply(Reply {
                status: ReplyStatus::NoException(body) | ReplyStatus::UserException(body),
                ..
            }) => body.clone(),
            _ => return Ok(None),
        };
        let offset = self.body_offset()?.unwrap_or(GIOP_HEADER_LEN);
        Ok(Some(
            CdrReader::new(body, self.byte_order, self.version).with_alignment_offset(offset),
        ))
    }

    /// Appends the encoded message, header included, to `dst`.
    ///
    /// On error `dst` is left as it was.
    pub fn encode(&self, dst: &mut BytesMut) -> Result<()> {
        let start = dst.len();
        let result = self.encode_unchecked(dst, start);
        if result.is_err() {
            dst.truncate(start);
        }
        result
    }

    fn encode_unchecked(&self, dst: &mut BytesMut, start: usize) -> Result<()> {
        let message_type = self.body.message_type();
        let more_fragments = self.body.more_fragments();
        if !message_type.exists_in(self.version) {
            return Err(self.version.not_allowed("the fragment message"));
        }
        if more_fragments && !message_type.can_fragment(self.version) {
            return Err(Error::UnexpectedFragmentFlag(message_type.value()));
        }
        dst.put_bytes(0, GIOP_HEADER_LEN);
        let mut w = CdrWriter::new(dst, self.byte_order, self.version)
            .with_alignment_offset(GIOP_HEADER_LEN);
        match &self.body {
            MessageBody::Request(request) => request.write(&mut w)?,
            MessageBody::Reply(reply) => reply.write(&mut w)?,
            MessageBody::CancelRequest(cancel) => w.write_ulong(cancel.request_id),
            MessageBody::LocateRequest(locate) => locate.write(&mut w)?,
            MessageBody::LocateReply(locate) => locate.write(&mut w)?,
            MessageBody::CloseConnection | MessageBody::MessageError => {}
            MessageBody::Fragment(fragment) => {
                match (self.version, fragment.request_id) {
                    (GiopVersion::V1_2, Some(id)) => w.write_ulong(id),
                    (GiopVersion::V1_2, None) => {
                        return Err(self.version.not_allowed("a fragment without a request id"));
                    }
                    (_, None) => {}
                    (_, Some(_)) => return Err(self.version.not_allowed("a fragment header")),
                }
                w.write_octets(&fragment.data);
            }
            MessageBody::FirstFragment(first) => w.write_octets(&first.data),
        }
        let size = dst.len() - start - GIOP_HEADER_LEN;
        let message_size = u32::try_from(size).map_err(|_| Error::LengthOverflow(size))?;
        let header = GiopHeader {
            version: self.version,
            byte_order: self.byte_order,
            more_fragments,
            message_type,
            message_size,
        };
        if let Some(slot) = dst.get_mut(start..start + GIOP_HEADER_LEN) {
            slot.copy_from_slice(&header.encode());
        }
        Ok(())
    }
}
