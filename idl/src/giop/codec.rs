//! Framing: splitting a byte stream into GIOP messages and back.

use bytes::{Bytes, BytesMut};

use super::{DEFAULT_MAX_MESSAGE_SIZE, GIOP_HEADER_LEN, GiopHeader, Message};
use crate::error::{Error, Result};

/// One GIOP message as it came off the wire: a validated header and its
/// undecoded body.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Frame {
    /// The validated header.
    pub header: GiopHeader,
    /// Exactly `header.message_size` bytes.
    pub body: Bytes,
}

impl Frame {
    /// Decodes the body into a [`Message`].
    pub fn into_message(self) -> Result<Message> {
        Message::decode(&self.header, self.body)
    }
}

/// A GIOP framer with a limit on the size of incoming messages.
///
/// `decode` returns `Ok(None)` while a message is incomplete and consumes
/// nothing until a whole message is there. The header is validated as soon
/// as its 12 bytes have arrived, so a bad magic, an unsupported version or
/// an oversized message is reported without waiting for (or buffering) the
/// body. An error from the header means the stream can no longer be framed:
/// the connection should send MessageError and close. An error from the body
/// ([`Error::is_message_error`] is false) concerns one message, which has
/// been consumed, and the connection can go on.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct GiopCodec {
    max_message_size: u32,
}

impl Default for GiopCodec {
    fn default() -> Self {
        Self::new()
    }
}

impl GiopCodec {
    /// A codec with the default limit of [`DEFAULT_MAX_MESSAGE_SIZE`].
    pub fn new() -> Self {
        Self {
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
        }
    }

    /// Sets the largest `message_size` accepted from the peer.
    pub fn with_max_message_size(mut self, max_message_size: u32) -> Self {
        self.max_message_size = max_message_size;
        self
    }

    /// The largest `message_size` accepted from the peer.
    pub fn max_message_size(&self) -> u32 {
        self.max_message_size
    }

    /// Splits the next whole message off `src` without decoding its body.
    pub fn decode_frame(&self, src: &mut BytesMut) -> Result<Option<Frame>> {
        let Some(head) = src.first_chunk::<GIOP_HEADER_LEN>() else {
            return Ok(None);
        };
        let header = GiopHeader::decode(head, self.max_message_size)?;
        let body_len =
            usize::try_from(header.message_size).map_err(|_| Error::LengthOverflow(usize::MAX))?;
        let total = GIOP_HEADER_LEN.saturating_add(body_len);
        if src.len() < total {
            return Ok(None);
        }
        let mut frame = src.split_to(total).freeze();
        let body = frame.split_off(GIOP_HEADER_LEN);
        Ok(Some(Frame { header, body }))
    }

    /// Splits the next whole message off `src` and decodes it.
    pub fn decode(&self, src: &mut BytesMut) -> Result<Option<Message>> {
        self.decode_frame(src)?.map(Frame::into_message).transpose()
    }

    /// Appends the encoded message to `dst`.
    pub fn encode(&self, message: &Message, dst: &mut BytesMut) -> Result<()> {
        message.encode(dst)
    }
}

/// Splits the next whole message off `src` with the default size limit.
pub fn decode(src: &mut BytesMut) -> Result<Option<Message>> {
    GiopCodec::new().decode(src)
}

/// Appends the encoded message to `dst`.
pub fn encode(message: &Message, dst: &mut BytesMut) -> Result<()> {
    message.encode(dst)
}
