//! The 12-byte GIOP message header.

use crate::cdr::ByteOrder;
use crate::error::{Error, Result};
use crate::version::{GiopVersion, Version};

/// The four octets every GIOP message starts with.
pub const GIOP_MAGIC: [u8; 4] = *b"GIOP";

/// The size of the GIOP header, which is also the alignment offset of the
/// first byte of every message body.
pub const GIOP_HEADER_LEN: usize = 12;

/// The default limit on `message_size`: 64 MiB.
pub const DEFAULT_MAX_MESSAGE_SIZE: u32 = 64 * 1024 * 1024;

/// The eight GIOP message types, in the order of their wire values.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum MessageType {
    /// 0: a client invokes an operation.
    Request,
    /// 1: a server answers a Request.
    Reply,
    /// 2: a client no longer waits for a reply.
    CancelRequest,
    /// 3: a client asks whether the server has an object.
    LocateRequest,
    /// 4: a server answers a LocateRequest.
    LocateReply,
    /// 5: the sender is about to close the connection.
    CloseConnection,
    /// 6: the sender could not make sense of a message.
    MessageError,
    /// 7: the continuation of a fragmented message (GIOP 1.1 and later).
    Fragment,
}

impl MessageType {
    /// The value of the `message_type` octet.
    pub fn value(self) -> u8 {
        match self {
            Self::Request => 0,
            Self::Reply => 1,
            Self::CancelRequest => 2,
            Self::LocateRequest => 3,
            Self::LocateReply => 4,
            Self::CloseConnection => 5,
            Self::MessageError => 6,
            Self::Fragment => 7,
        }
    }

    /// The message type with this wire value.
    pub fn from_value(value: u8) -> Result<Self> {
        Ok(match value {
            0 => Self::Request,
            1 => Self::Reply,
            2 => Self::CancelRequest,
            3 => Self::LocateRequest,
            4 => Self::LocateReply,
            5 => Self::CloseConnection,
            6 => Self::MessageError,
            7 => Self::Fragment,
            other => return Err(Error::UnknownMessageType(other)),
        })
    }

    /// Whether a message of this type may have the more-fragments flag set.
    ///
    /// GIOP 1.1 fragments Request and Reply; GIOP 1.2 adds LocateRequest
    /// and LocateReply. Fragment messages carry the flag in both.
    pub fn can_fragment(self, version: GiopVersion) -> bool {
        match (self, version) {
            (_, GiopVersion::V1_0) => false,
            (Self::Request | Self::Reply | Self::Fragment, _) => true,
            (Self::LocateRequest | Self::LocateReply, GiopVersion::V1_2) => true,
            _ => false,
        }
    }

    /// Whether this message type exists in `version`.
    pub fn exists_in(self, version: GiopVersion) -> bool {
        self != Self::Fragment || version != GiopVersion::V1_0
    }
}

/// A decoded and validated GIOP message header.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub struct GiopHeader {
    /// The protocol version of the message.
    pub version: GiopVersion,
    /// The byte order of the header's size field and of the body.
    pub byte_order: ByteOrder,
    /// Whether more fragments of this message follow.
    pub more_fragments: bool,
    /// The kind of message.
    pub message_type: MessageType,
    /// The number of bytes after the header.
    pub message_size: u32,
}

impl GiopHeader {
    /// Decodes and validates a header.
    ///
    /// The checks come in the order a peer needs them: magic, version (1.3
    /// and later are refused), message type, fragment flag, then size
    /// against `max_message_size`. In GIOP 1.0 the flags octet is the
    /// byte-order boolean; only its low bit is used. In later versions bit 0
    /// is the byte order, bit 1 the more-fragments flag, and the reserved
    /// bits are ignored.
    pub fn decode(bytes: &[u8; GIOP_HEADER_LEN], max_message_size: u32) -> Result<Self> {
        let [
            m0,
            m1,
            m2,
            m3,
            major,
            minor,
            flags,
            message_type,
            s0,
            s1,
            s2,
            s3,
        ] = *bytes;
        if [m0, m1, m2, m3] != GIOP_MAGIC {
            return Err(Error::BadMagic([m0, m1, m2, m3]));
        }
        let version = GiopVersion::from_version(Version::new(major, minor))?;
        let byte_order = ByteOrder::from_flag(flags);
        let more_fragments = version != GiopVersion::V1_0 && flags & 0b10 != 0;
        let kind = MessageType::from_value(message_type)?;
        if !kind.exists_in(version) {
            return Err(Error::MessageTypeNotInVersion {
                message_type,
                major,
                minor,
            });
        }
        if more_fragments && !kind.can_fragment(version) {
            return Err(Error::UnexpectedFragmentFlag(message_type));
        }
        let size = [s0, s1, s2, s3];
        let message_size = match byte_order {
            ByteOrder::BigEndian => u32::from_be_bytes(size),
            ByteOrder::LittleEndian => u32::from_le_bytes(size),
        };
        if message_size > max_message_size {
            return Err(Error::MessageTooLarge {
                size: message_size,
                limit: max_message_size,
            });
        }
        Ok(Self {
            version,
            byte_order,
            more_fragments,
            message_type: kind,
            message_size,
        })
    }

    /// Encodes the header.
    pub fn encode(&self) -> [u8; GIOP_HEADER_LEN] {
        let Version { major, minor } = self.version.version();
        let flags = self.byte_order.flag() | if self.more_fragments { 0b10 } else { 0 };
        let [s0, s1, s2, s3] = match self.byte_order {
            ByteOrder::BigEndian => self.message_size.to_be_bytes(),
            ByteOrder::LittleEndian => self.message_size.to_le_bytes(),
        };
        let [m0, m1, m2, m3] = GIOP_MAGIC;
        [
            m0,
            m1,
            m2,
            m3,
            major,
            minor,
            flags,
            self.message_type.value(),
            s0,
            s1,
            s2,
            s3,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(bytes: [u8; 12]) -> Result<GiopHeader> {
        GiopHeader::decode(&bytes, DEFAULT_MAX_MESSAGE_SIZE)
    }

    #[test]
    fn golden_request_header() {
        // From trace-ior-giop12.txt: GIOP 1.2, little-endian Request of 60 bytes.
        let bytes = *b"GIOP\x01\x02\x01\x00\x3c\x00\x00\x00";
        let h = header(bytes).unwrap();
        assert_eq!(
            h,
            GiopHeader {
                version: GiopVersion::V1_2,
                byte_order: ByteOrder::LittleEndian,
                more_fragments: false,
                message_type: MessageType::Request,
                message_size: 60,
            }
        );
        assert_eq!(h.encode(), bytes);
    }

    #[test]
    fn big_endian_sizes() {
        let h = header(*b"GIOP\x01\x01\x00\x01\x00\x00\x01\x00").unwrap();
        assert_eq!(h.byte_order, ByteOrder::BigEndian);
        assert_eq!(h.message_size, 256);
    }

    #[test]
    fn bad_magic_is_refused() {
        assert_eq!(
            header(*b"GIOQ\x01\x00\x00\x00\x00\x00\x00\x00"),
            Err(Error::BadMagic(*b"GIOQ"))
        );
    }

    #[test]
    fn giop_1_3_and_later_are_refused() {
        assert_eq!(
            header(*b"GIOP\x01\x03\x00\x00\x00\x00\x00\x00"),
            Err(Error::UnsupportedVersion { major: 1, minor: 3 })
        );
        assert_eq!(
            header(*b"GIOP\x02\x00\x00\x00\x00\x00\x00\x00"),
            Err(Error::UnsupportedVersion { major: 2, minor: 0 })
        );
        assert!(
            header(*b"GIOP\x01\x03\x00\x00\x00\x00\x00\x00")
                .unwrap_err()
                .is_message_error()
        );
    }

    #[test]
    fn unknown_types_and_fragments_where_they_do_not_exist() {
        assert_eq!(
            header(*b"GIOP\x01\x02\x00\x08\x00\x00\x00\x00"),
            Err(Error::UnknownMessageType(8))
        );
        assert_eq!(
            header(*b"GIOP\x01\x00\x00\x07\x00\x00\x00\x00"),
            Err(Error::MessageTypeNotInVersion {
                message_type: 7,
                major: 1,
                minor: 0
            })
        );
        // LocateRequest fragments only from 1.2; CloseConnection never.
        assert_eq!(
            header(*b"GIOP\x01\x01\x02\x03\x00\x00\x00\x00"),
            Err(Error::UnexpectedFragmentFlag(3))
        );
        assert!(
            header(*b"GIOP\x01\x02\x02\x03\x00\x00\x00\x00")
                .unwrap()
                .more_fragments
        );
        assert_eq!(
            header(*b"GIOP\x01\x02\x02\x05\x00\x00\x00\x00"),
            Err(Error::UnexpectedFragmentFlag(5))
        );
        // In GIOP 1.0 bit 1 means nothing.
        assert!(
            !header(*b"GIOP\x01\x00\x02\x00\x00\x00\x00\x00")
                .unwrap()
                .more_fragments
        );
    }

    #[test]
    fn size_limit_is_enforced() {
        let bytes = *b"GIOP\x01\x02\x01\x00\x01\x00\x00\x01";
        assert_eq!(
            GiopHeader::decode(&bytes, 1024),
            Err(Error::MessageTooLarge {
                size: 0x0100_0001,
                limit: 1024
            })
        );
        assert_eq!(header(bytes).unwrap().message_size, 0x0100_0001);
        let huge = *b"GIOP\x01\x02\x01\x00\xff\xff\xff\xff";
        assert!(matches!(header(huge), Err(Error::MessageTooLarge { .. })));
    }

    #[test]
    fn every_type_round_trips() {
        for value in 0..8 {
            let kind = MessageType::from_value(value).unwrap();
            assert_eq!(kind.value(), value);
        }
    }
}
