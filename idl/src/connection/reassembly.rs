//! Joining fragmented GIOP messages.
//!
//! A fragmented message starts with a message whose more-fragments flag is
//! set ([`MessageBody::FirstFragment`]) and continues with Fragment messages
//! until one has the flag clear. GIOP 1.1 allows one fragmented message at a
//! time; GIOP 1.2 interleaves them, keyed by the request id that starts
//! every fragmentable 1.2 message and every 1.2 fragment header.
//!
//! The pieces are concatenated and decoded as one body whose alignment
//! counts from the first message's header. That is exact for senders that
//! follow GIOP 1.2's rule that every non-final fragment is a multiple of 8
//! bytes long (with the 16-byte fragment header, each piece then starts at
//! the same alignment it has in the whole message).

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};

use crate::cdr::{ByteOrder, CdrReader};
use crate::error::{Error, Result};
use crate::giop::{
    FirstFragment, Fragment, Frame, GIOP_HEADER_LEN, GiopHeader, Message, MessageBody, MessageType,
};
use crate::version::GiopVersion;

/// Fragmented messages being put back together.
#[derive(Debug)]
pub(crate) struct Reassembly {
    in_progress: HashMap<Option<u32>, Partial>,
    max_message_size: usize,
    max_in_progress: usize,
}

/// The pieces of one message received so far.
#[derive(Debug)]
struct Partial {
    version: GiopVersion,
    byte_order: ByteOrder,
    message_type: MessageType,
    data: BytesMut,
}

impl Reassembly {
    pub(crate) fn new(max_message_size: usize, max_in_progress: usize) -> Self {
        Self {
            in_progress: HashMap::new(),
            max_message_size,
            max_in_progress,
        }
    }

    /// Starts a fragmented message with the body of its first part.
    pub(crate) fn start(&mut self, first: &Frame) -> Result<()> {
        let GiopHeader {
            version,
            byte_order,
            message_type,
            ..
        } = first.header;
        let key = match version {
            GiopVersion::V1_2 => Some(
                CdrReader::new(first.body.clone(), byte_order, version)
                    .with_alignment_offset(GIOP_HEADER_LEN)
                    .read_ulong()?,
            ),
            GiopVersion::V1_0 | GiopVersion::V1_1 => None,
        };
        if self.in_progress.contains_key(&key) {
            return Err(Error::Reassembly(
                "a fragmented message with this id is already in progress",
            ));
        }
        if self.in_progress.len() >= self.max_in_progress {
            return Err(Error::LimitExceeded {
                what: "fragmented messages in progress",
                value: self.in_progress.len() + 1,
                limit: self.max_in_progress,
            });
        }
        let data = BytesMut::from(&first.body[..]);
        self.in_progress.insert(
            key,
            Partial {
                version,
                byte_order,
                message_type,
                data,
            },
        );
        Ok(())
    }

    /// Adds a Fragment; returns the whole message, as one frame, once the
    /// last fragment arrives.
    pub(crate) fn push(&mut self, fragment: &Frame) -> Result<Option<Frame>> {
        let GiopHeader {
            version,
            byte_order,
            more_fragments,
            ..
        } = fragment.header;
        let mut r = CdrReader::new(fragment.body.clone(), byte_order, version)
            .with_alignment_offset(GIOP_HEADER_LEN);
        let key = match version {
            GiopVersion::V1_2 => Some(r.read_ulong()?),
            GiopVersion::V1_0 | GiopVersion::V1_1 => None,
        };
        let data = r.read_rest();
        let partial = self
            .in_progress
            .get_mut(&key)
            .ok_or(Error::Reassembly("a fragment continues no message"))?;
        if partial.version != version || partial.byte_order != byte_order {
            return Err(Error::Reassembly(
                "a fragment changes the version or byte order",
            ));
        }
        let size = partial.data.len().saturating_add(data.len());
        if size > self.max_message_size {
            return Err(Error::LimitExceeded {
                what: "reassembled message size",
                value: size,
                limit: self.max_message_size,
            });
        }
        partial.data.extend_from_slice(&data);
        if more_fragments {
            return Ok(None);
        }
        let Some(partial) = self.in_progress.remove(&key) else {
            return Ok(None);
        };
        let message_size =
            u32::try_from(partial.data.len()).map_err(|_| Error::LengthOverflow(size))?;
        Ok(Some(Frame {
            header: GiopHeader {
                version: partial.version,
                byte_order: partial.byte_order,
                more_fragments: false,
                message_type: partial.message_type,
                message_size,
            },
            body: partial.data.freeze(),
        }))
    }

    /// Whether a fragmented message is waiting for more pieces.
    pub(crate) fn is_empty(&self) -> bool {
        self.in_progress.is_empty()
    }
}

/// Splits an encoded GIOP 1.2 message into fragments of at most
/// `max_fragment_size` bytes (rounded down to a multiple of 8, at least 32).
///
/// Every piece but the last is a multiple of 8 bytes long, so no primitive
/// is split and each piece keeps its alignment.
pub(crate) fn fragment(
    message: &Message,
    request_id: u32,
    encoded: Bytes,
    max_fragment_size: usize,
) -> Result<Vec<Message>> {
    let pieces = fragment_encoded(
        message.version,
        message.byte_order,
        message.body.message_type(),
        request_id,
        &encoded,
        max_fragment_size,
    );
    if pieces.is_empty() {
        // Nothing to split after all: send the message whole.
        return Ok(vec![message.clone()]);
    }
    Ok(pieces)
}

/// [`fragment`] for a message known only by its encoding and type: the
/// pieces, or nothing when the message fits in one.
pub(crate) fn fragment_encoded(
    version: GiopVersion,
    byte_order: ByteOrder,
    message_type: MessageType,
    request_id: u32,
    encoded: &Bytes,
    max_fragment_size: usize,
) -> Vec<Message> {
    let piece = (max_fragment_size / 8 * 8).max(32);
    let body = encoded.slice(GIOP_HEADER_LEN.min(encoded.len())..);
    let first_len = (piece - GIOP_HEADER_LEN).min(body.len());
    if first_len == body.len() {
        return Vec::new();
    }
    let mut pieces = vec![Message::new(
        version,
        byte_order,
        MessageBody::FirstFragment(FirstFragment {
            message_type,
            data: body.slice(..first_len),
        }),
    )];
    // Later pieces carry a 16-byte header (GIOP header and request id).
    let chunk = piece - 16;
    let mut at = first_len;
    while at < body.len() {
        let end = at.saturating_add(chunk).min(body.len());
        pieces.push(Message::new(
            version,
            byte_order,
            MessageBody::Fragment(Fragment {
                request_id: Some(request_id),
                more_fragments: end < body.len(),
                data: body.slice(at..end),
            }),
        ));
        at = end;
    }
    pieces
}
