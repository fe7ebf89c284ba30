//! TCP framing, sans-IO: each message is preceded by its length as a
//! big-endian `u32`, bounded by [`MAX_FRAME`].
//!
//! A reader takes the 4-byte prefix, checks it with [`frame_len`], then
//! reads exactly that many bytes and decodes them with
//! [`super::Message::decode`]. A writer appends with [`encode_frame`].

use super::codec::{MAX_FRAME, Message, WireError};

/// Bytes in the length prefix.
pub const PREFIX_LEN: usize = 4;

/// The length announced by a frame prefix, refused when zero or above
/// [`MAX_FRAME`] (checked before anything is allocated for the body).
pub fn frame_len(prefix: [u8; PREFIX_LEN]) -> Result<usize, WireError> {
    let len = usize::try_from(u32::from_be_bytes(prefix)).unwrap_or(usize::MAX);
    if len == 0 {
        return Err(WireError::Truncated { what: "frame" });
    }
    if len > MAX_FRAME {
        return Err(WireError::TooLong {
            what: "frame",
            len,
            limit: MAX_FRAME,
        });
    }
    Ok(len)
}

/// Appends `message` to `out` as one frame (nothing is appended on error).
pub fn encode_frame(message: &Message<'_>, out: &mut Vec<u8>) -> Result<(), WireError> {
    let start = out.len();
    out.extend_from_slice(&[0; PREFIX_LEN]);
    if let Err(error) = message.encode(out) {
        out.truncate(start);
        return Err(error);
    }
    let body = out.len().saturating_sub(start + PREFIX_LEN);
    match u32::try_from(body).ok().filter(|_| body <= MAX_FRAME) {
        Some(len) => {
            if let Some(prefix) = out.get_mut(start..start + PREFIX_LEN) {
                prefix.copy_from_slice(&len.to_be_bytes());
            }
            Ok(())
        }
        None => {
            out.truncate(start);
            Err(WireError::TooLong {
                what: "frame",
                len: body,
                limit: MAX_FRAME,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::ViewId;

    #[test]
    fn a_frame_announces_its_body() {
        let mut out = Vec::new();
        let message = Message::ViewRequest {
            request_id: 5,
            known: ViewId(2),
        };
        encode_frame(&message, &mut out).unwrap();
        let len = frame_len(out[..4].try_into().unwrap()).unwrap();
        assert_eq!(len, out.len() - 4);
        assert_eq!(Message::decode(&out[4..]).unwrap(), message);
    }

    #[test]
    fn empty_and_oversized_frames_are_refused() {
        assert!(frame_len([0; 4]).is_err());
        let error = frame_len(u32::MAX.to_be_bytes()).unwrap_err();
        assert!(error.to_string().contains("frame"), "{error}");
    }
}
