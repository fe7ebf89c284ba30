//! The error type of the crate.
//!
//! Every failure to decode or encode CDR data, a GIOP message or an object
//! reference is an [`Error`]. Decoding never panics: malformed input always
//! ends up here. [`Error::is_message_error`] tells a connection whether the
//! peer should get a GIOP MessageError (the framing itself is broken) or a
//! MARSHAL system exception (one message's contents are broken).

/// A `Result` whose error is this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while encoding or decoding CDR, GIOP or IORs.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input ended before the value being read was complete.
    #[error("unexpected end of input: {needed} more bytes needed at offset {offset}")]
    UnexpectedEnd {
        /// Offset (from the start of the buffer being read) where the read began.
        offset: usize,
        /// Number of bytes that were missing.
        needed: usize,
    },
    /// A boolean octet was neither 0 nor 1.
    #[error("invalid boolean octet {0:#04x}")]
    InvalidBoolean(u8),
    /// A sequence, string or octet count announced more bytes than remain.
    #[error("length {length} exceeds the {remaining} bytes that remain")]
    LengthExceedsInput {
        /// The announced length, in elements.
        length: u32,
        /// The number of bytes left in the input.
        remaining: usize,
    },
    /// A string did not end with a NUL octet or contained one before its end.
    #[error("string is not NUL-terminated or contains an interior NUL")]
    InvalidStringTerminator,
    /// String bytes were not valid in the transmission code set.
    #[error("string is not valid {0}")]
    InvalidCharacters(&'static str),
    /// A character cannot be represented in the transmission code set.
    #[error("character {0:?} cannot be encoded in {1}")]
    UnencodableCharacter(char, &'static str),
    /// A wide string's octet length was odd or otherwise malformed.
    #[error("invalid wide string length {0}")]
    InvalidWideLength(u32),
    /// A `wchar` or `wstring` was sent or received on a connection that
    /// negotiated no wide transmission code set (the peer's reference, or
    /// the client's CodeSets context, named none).
    #[error("no wchar transmission code set was negotiated")]
    NoWcharCodeSet,
    /// A value is too long for its 32-bit CDR length prefix.
    #[error("length {0} does not fit in a cdr ulong")]
    LengthOverflow(usize),
    /// Nesting (encapsulations or constructed types) went deeper than allowed.
    #[error("nesting deeper than the limit of {0}")]
    DepthLimitExceeded(u32),
    /// An encapsulation was empty, so it had no byte-order octet.
    #[error("encapsulation has no byte-order octet")]
    EmptyEncapsulation,
    /// An encapsulation's byte-order octet was neither 0 nor 1.
    #[error("invalid encapsulation byte-order octet {0:#04x}")]
    InvalidByteOrder(u8),
    /// Bytes remained after a value that should have used the whole input.
    #[error("{0} unexpected bytes after the end of the value")]
    TrailingBytes(usize),
    /// A GIOP header did not start with the magic `GIOP`.
    #[error("bad giop magic {0:02x?}")]
    BadMagic([u8; 4]),
    /// A GIOP version this crate does not speak (1.3 and later, or not 1.x).
    #[error("unsupported giop version {major}.{minor}")]
    UnsupportedVersion {
        /// Major version number from the header.
        major: u8,
        /// Minor version number from the header.
        minor: u8,
    },
    /// A GIOP header announced a message larger than the configured limit.
    #[error("message size {size} exceeds the limit of {limit} bytes")]
    MessageTooLarge {
        /// The announced body size.
        size: u32,
        /// The configured limit.
        limit: u32,
    },
    /// A GIOP header carried an unknown message type.
    #[error("unknown giop message type {0}")]
    UnknownMessageType(u8),
    /// A message type that does not exist in the message's GIOP version.
    #[error("message type {message_type} does not exist in giop {major}.{minor}")]
    MessageTypeNotInVersion {
        /// The message type from the header.
        message_type: u8,
        /// Major version of the message.
        major: u8,
        /// Minor version of the message.
        minor: u8,
    },
    /// A feature that does not exist in the GIOP version in use.
    #[error("{what} is not allowed in giop {major}.{minor}")]
    NotInVersion {
        /// What was found.
        what: &'static str,
        /// Major version of the message.
        major: u8,
        /// Minor version of the message.
        minor: u8,
    },
    /// The more-fragments flag was set on a message that cannot be fragmented.
    #[error("message type {0} cannot be fragmented")]
    UnexpectedFragmentFlag(u8),
    /// A union discriminator or enumeration had a value outside its range.
    #[error("invalid {what} value {value}")]
    InvalidEnum {
        /// The name of the enumeration or union.
        what: &'static str,
        /// The value found on the wire.
        value: u32,
    },
    /// A value was larger than the limit set for its kind.
    #[error("{what} of {value} exceeds the limit of {limit}")]
    LimitExceeded {
        /// What was limited.
        what: &'static str,
        /// The value found.
        value: usize,
        /// The configured limit.
        limit: usize,
    },
    /// Fragments did not fit together into a message.
    #[error("fragment reassembly failed: {0}")]
    Reassembly(&'static str),
    /// The peer sent a message its role or the connection's state forbids.
    #[error("protocol violation: {0}")]
    ProtocolViolation(&'static str),
    /// The connection is closed; nothing more can be sent on it.
    #[error("connection closed")]
    ConnectionClosed,
    /// A stringified object reference was malformed.
    #[error("invalid object reference: {0}")]
    InvalidReference(&'static str),
    /// A TypeCode was malformed on the wire, or could not be built from
    /// an IDL type.
    #[error("invalid typecode: {0}")]
    InvalidTypeCode(String),
    /// A dynamic value did not match the TypeCode it was encoded with.
    #[error("value does not match its typecode: {0}")]
    TypeMismatch(String),
    /// The data uses a feature the dynamic codec does not implement yet
    /// (chunked or shared valuetypes).
    #[error("unsupported: {0}")]
    Unsupported(&'static str),
}

impl Error {
    /// Whether this error breaks the framing of a GIOP connection.
    ///
    /// Such errors are answered with a GIOP MessageError and the connection
    /// is closed; every other decoding error concerns one message and is
    /// answered with a MARSHAL system exception.
    pub fn is_message_error(&self) -> bool {
        matches!(
            self,
            Self::BadMagic(_)
                | Self::UnsupportedVersion { .. }
                | Self::MessageTooLarge { .. }
                | Self::UnknownMessageType(_)
                | Self::MessageTypeNotInVersion { .. }
                | Self::UnexpectedFragmentFlag(_)
                | Self::Reassembly(_)
                | Self::ProtocolViolation(_)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_errors_call_for_message_error() {
        assert!(Error::BadMagic(*b"GIOQ").is_message_error());
        assert!(Error::UnknownMessageType(9).is_message_error());
        assert!(Error::MessageTooLarge { size: 2, limit: 1 }.is_message_error());
        assert!(Error::Reassembly("x").is_message_error());
        assert!(!Error::InvalidBoolean(2).is_message_error());
        assert!(!Error::TrailingBytes(1).is_message_error());
        assert!(
            !Error::UnexpectedEnd {
                offset: 0,
                needed: 1
            }
            .is_message_error()
        );
    }

    #[test]
    fn messages_are_lowercase() {
        let samples = [
            Error::UnsupportedVersion { major: 1, minor: 3 },
            Error::InvalidBoolean(2),
            Error::LengthExceedsInput {
                length: 9,
                remaining: 1,
            },
            Error::DepthLimitExceeded(64),
            Error::ConnectionClosed,
        ];
        for error in samples {
            let text = error.to_string();
            assert_eq!(text, text.to_lowercase(), "{text}");
            assert!(!text.ends_with('.'));
        }
    }
}
