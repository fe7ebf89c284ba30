//! Stringified object references: `IOR:` followed by the hex digits of an
//! encapsulated IOR.

use std::fmt;
use std::str::FromStr;

use bytes::{Bytes, BytesMut};

use super::Ior;
use crate::cdr::{ByteOrder, CdrReader, CdrWriter};
use crate::error::{Error, Result};
use crate::version::GiopVersion;

impl Ior {
    /// Stringifies the reference with its encapsulation in `byte_order`.
    pub fn to_ior_string(&self, byte_order: ByteOrder) -> Result<String> {
        let mut buf = BytesMut::new();
        let mut w = CdrWriter::new(&mut buf, byte_order, GiopVersion::V1_2);
        w.write_octet(byte_order.flag());
        self.write(&mut w)?;
        let mut text = String::with_capacity(4 + buf.len() * 2);
        text.push_str("IOR:");
        for byte in &buf[..] {
            for nibble in [byte >> 4, byte & 0xF] {
                text.push(char::from_digit(u32::from(nibble), 16).unwrap_or('0'));
            }
        }
        Ok(text)
    }

    /// Parses `IOR:<hex>`; the prefix is case-insensitive, surrounding
    /// whitespace is ignored and nothing may follow the reference.
    pub fn from_ior_string(text: &str) -> Result<Self> {
        let text = text.trim();
        let hex = match text.get(..4) {
            Some(prefix) if prefix.eq_ignore_ascii_case("IOR:") => text.get(4..).unwrap_or(""),
            _ => return Err(Error::InvalidReference("missing IOR: prefix")),
        };
        let (pairs, odd) = hex.as_bytes().as_chunks::<2>();
        if !odd.is_empty() {
            return Err(Error::InvalidReference("odd number of hex digits"));
        }
        let bytes = pairs
            .iter()
            .map(|&[high, low]| Some(hex_value(high)? << 4 | hex_value(low)?))
            .collect::<Option<Vec<u8>>>()
            .ok_or(Error::InvalidReference("not a hex digit"))?;
        let mut r = CdrReader::from_encapsulation(Bytes::from(bytes), GiopVersion::V1_2)?;
        let ior = Self::read(&mut r)?;
        r.finish()?;
        Ok(ior)
    }
}

fn hex_value(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// Stringifies in big-endian, the CDR default byte order.
impl fmt::Display for Ior {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self
            .to_ior_string(ByteOrder::BigEndian)
            .map_err(|_| fmt::Error)?;
        f.write_str(&text)
    }
}

impl FromStr for Ior {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::from_ior_string(s)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::ior::TaggedProfile;

    #[test]
    fn nil_reference() {
        let nil = Ior::default();
        assert!(nil.is_nil());
        let text = nil.to_ior_string(ByteOrder::BigEndian).unwrap();
        assert_eq!(text, "IOR:00000000000000010000000000000000");
        assert_eq!(text.parse::<Ior>(), Ok(nil));
    }

    #[test]
    fn prefix_case_whitespace_and_digits() {
        assert_eq!(
            "  ior:00000000000000010000000000000000\n".parse::<Ior>(),
            Ok(Ior::default())
        );
        assert_eq!(
            "IOR:0000000000000001000000000000000".parse::<Ior>(),
            Err(Error::InvalidReference("odd number of hex digits"))
        );
        assert_eq!(
            "IOR:0g".parse::<Ior>(),
            Err(Error::InvalidReference("not a hex digit"))
        );
        assert_eq!(
            "corbaloc::host/key".parse::<Ior>(),
            Err(Error::InvalidReference("missing IOR: prefix"))
        );
        assert_eq!("IOR:".parse::<Ior>(), Err(Error::EmptyEncapsulation));
        assert_eq!(
            "IOR:0000000000000001000000000000000000".parse::<Ior>(),
            Err(Error::TrailingBytes(1))
        );
        // Multi-byte characters where hex digits belong.
        assert!("IOR:é0".parse::<Ior>().is_err());
    }

    proptest! {
        #[test]
        fn stringified_references_round_trip(
            type_id in "[ -~]{0,20}",
            profiles in proptest::collection::vec((any::<u32>(), proptest::collection::vec(any::<u8>(), 0..20)), 0..3),
            little_endian in any::<bool>(),
        ) {
            let ior = Ior {
                type_id,
                profiles: profiles
                    .into_iter()
                    .map(|(tag, data)| TaggedProfile { tag, profile_data: Bytes::from(data) })
                    .collect(),
            };
            let order = if little_endian { ByteOrder::LittleEndian } else { ByteOrder::BigEndian };
            let text = ior.to_ior_string(order).unwrap();
            prop_assert_eq!(text.parse::<Ior>(), Ok(ior));
        }

        #[test]
        fn arbitrary_strings_never_panic(text in "(IOR:)?[0-9a-fA-F]{0,80}") {
            let _ = text.parse::<Ior>();
        }
    }
}
