//! Common Data Representation (CDR), the marshalling format of GIOP.
//!
//! [`CdrReader`] decodes and [`CdrWriter`] encodes the primitive CDR types,
//! strings, wide strings, sequences and encapsulations. Both honour the two
//! CDR rules that trip implementations up:
//!
//! - Alignment is relative to an origin that is not the start of the buffer
//!   being read: for a GIOP message it is the first byte of the 12-byte
//!   GIOP header, so a reader over a message body starts at alignment offset
//!   12 ([`CdrReader::with_alignment_offset`]). Inside an encapsulation the
//!   origin is the encapsulation's byte-order octet.
//! - Padding is skipped, never checked: omniORB leaves garbage in it. Writers
//!   always pad with zeros.
//!
//! Every length read from the input is checked against the bytes that remain
//! before anything is allocated, nesting is bounded by a depth limit, and no
//! input can make a reader panic.

mod code_set;
mod reader;
mod writer;

pub use code_set::{CharCodeSet, WcharCodeSet};
pub use reader::CdrReader;
pub use writer::CdrWriter;

/// The default limit on nested encapsulations and constructed values.
pub const DEFAULT_MAX_DEPTH: u32 = 64;

/// The byte order of a CDR stream.
#[derive(Clone, Copy, Debug, Default, Eq, Hash, PartialEq)]
pub enum ByteOrder {
    /// Most significant byte first (flag value 0).
    #[default]
    BigEndian,
    /// Least significant byte first (flag value 1).
    LittleEndian,
}

impl ByteOrder {
    /// The byte order of the machine running this code.
    pub const NATIVE: Self = if cfg!(target_endian = "little") {
        Self::LittleEndian
    } else {
        Self::BigEndian
    };

    /// Reads the byte-order flag of a GIOP header or encapsulation (bit 0).
    pub fn from_flag(flag: u8) -> Self {
        if flag & 1 == 1 {
            Self::LittleEndian
        } else {
            Self::BigEndian
        }
    }

    /// The flag value for this byte order: 0 for big-endian, 1 for little-endian.
    pub fn flag(self) -> u8 {
        match self {
            Self::BigEndian => 0,
            Self::LittleEndian => 1,
        }
    }
}

/// An IDL `long double`: an IEEE 754 binary128 value kept as raw bits.
///
/// Rust has no stable 128-bit float, so the value is carried as its 16
/// bytes in big-endian order; readers and writers swap them for
/// little-endian streams.
#[derive(Clone, Copy, Debug, Default, Eq, Hash, PartialEq)]
pub struct LongDouble(pub [u8; 16]);

#[cfg(test)]
mod proptests;
