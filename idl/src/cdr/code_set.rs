//! Transmission code sets for `char`/`string` and the UTF-16 rules for
//! `wchar`/`wstring`.
//!
//! Code-set negotiation ([`crate::codeset`]) picks the transmission code
//! set for narrow characters; ISO-8859-1 is the GIOP default and what
//! omniORB uses. Wide characters are UTF-16 when a wide code set was
//! negotiated; without one, `wchar` and `wstring` cannot be sent at all.

use crate::error::{Error, Result};

/// The transmission code set of `char` and `string` values.
#[derive(Clone, Copy, Debug, Default, Eq, Hash, PartialEq)]
pub enum CharCodeSet {
    /// ISO 8859-1 (Latin-1), OSF registry id `0x00010001`: the GIOP default.
    #[default]
    Iso8859_1,
    /// UTF-8, OSF registry id `0x05010001`.
    Utf8,
}

impl CharCodeSet {
    /// The OSF code set registry id of ISO-8859-1.
    pub const ISO_8859_1_ID: u32 = 0x0001_0001;
    /// The OSF code set registry id of UTF-8.
    pub const UTF_8_ID: u32 = 0x0501_0001;

    /// The OSF code set registry id of this code set.
    pub fn registry_id(self) -> u32 {
        match self {
            Self::Iso8859_1 => Self::ISO_8859_1_ID,
            Self::Utf8 => Self::UTF_8_ID,
        }
    }

    /// The code set with this OSF registry id, if it is one we support.
    pub fn from_registry_id(id: u32) -> Option<Self> {
        match id {
            Self::ISO_8859_1_ID => Some(Self::Iso8859_1),
            Self::UTF_8_ID => Some(Self::Utf8),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Iso8859_1 => "iso-8859-1",
            Self::Utf8 => "utf-8",
        }
    }

    /// Decodes the bytes of a string (without its NUL).
    pub(crate) fn decode(self, bytes: &[u8]) -> Result<String> {
        match self {
            Self::Iso8859_1 => Ok(bytes.iter().map(|&b| char::from(b)).collect()),
            Self::Utf8 => std::str::from_utf8(bytes)
                .map(str::to_owned)
                .map_err(|_| Error::InvalidCharacters(self.name())),
        }
    }

    /// Appends the bytes of `s` (without a NUL) to `out`.
    pub(crate) fn encode(self, s: &str, out: &mut Vec<u8>) -> Result<()> {
        match self {
            Self::Iso8859_1 => {
                for c in s.chars() {
                    let byte = u8::try_from(u32::from(c))
                        .map_err(|_| Error::UnencodableCharacter(c, self.name()))?;
                    out.push(byte);
                }
            }
            Self::Utf8 => out.extend_from_slice(s.as_bytes()),
        }
        Ok(())
    }

    /// Decodes a single-octet `char`.
    pub(crate) fn decode_char(self, byte: u8) -> Result<char> {
        match self {
            Self::Iso8859_1 => Ok(char::from(byte)),
            Self::Utf8 if byte.is_ascii() => Ok(char::from(byte)),
            Self::Utf8 => Err(Error::InvalidCharacters(self.name())),
        }
    }

    /// Encodes a `char` into its single octet.
    pub(crate) fn encode_char(self, c: char) -> Result<u8> {
        let limit = match self {
            Self::Iso8859_1 => 0xFF,
            Self::Utf8 => 0x7F,
        };
        match u8::try_from(u32::from(c)) {
            Ok(byte) if byte <= limit => Ok(byte),
            _ => Err(Error::UnencodableCharacter(c, self.name())),
        }
    }
}

/// The transmission code set of `wchar` and `wstring` values.
#[derive(Clone, Copy, Debug, Default, Eq, Hash, PartialEq)]
pub enum WcharCodeSet {
    /// UTF-16, OSF registry id `0x00010109`: the GIOP fallback for wide
    /// characters and what omniORB uses.
    #[default]
    Utf16,
}

impl WcharCodeSet {
    /// The OSF code set registry id of UTF-16.
    pub const UTF_16_ID: u32 = 0x0001_0109;

    /// The OSF code set registry id of this code set.
    pub fn registry_id(self) -> u32 {
        match self {
            Self::Utf16 => Self::UTF_16_ID,
        }
    }

    /// The code set with this OSF registry id, if it is one we support.
    pub fn from_registry_id(id: u32) -> Option<Self> {
        match id {
            Self::UTF_16_ID => Some(Self::Utf16),
            _ => None,
        }
    }
}

/// The name of the wide transmission code set, for error messages.
pub(crate) const UTF_16: &str = "utf-16";

/// Decodes UTF-16 code units into a string, refusing lone surrogates.
pub(crate) fn decode_utf16(units: impl IntoIterator<Item = u16>) -> Result<String> {
    char::decode_utf16(units)
        .collect::<std::result::Result<String, _>>()
        .map_err(|_| Error::InvalidCharacters(UTF_16))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin1_maps_every_byte() {
        let bytes: Vec<u8> = (0..=255).collect();
        let s = CharCodeSet::Iso8859_1.decode(&bytes).unwrap();
        let mut out = Vec::new();
        CharCodeSet::Iso8859_1.encode(&s, &mut out).unwrap();
        assert_eq!(out, bytes);
    }

    #[test]
    fn latin1_refuses_wider_characters() {
        let mut out = Vec::new();
        assert_eq!(
            CharCodeSet::Iso8859_1.encode("€", &mut out),
            Err(Error::UnencodableCharacter('€', "iso-8859-1"))
        );
        assert_eq!(
            CharCodeSet::Iso8859_1.encode_char('€'),
            Err(Error::UnencodableCharacter('€', "iso-8859-1"))
        );
    }

    #[test]
    fn utf8_refuses_invalid_bytes_and_wide_chars() {
        assert_eq!(
            CharCodeSet::Utf8.decode(&[0xC3, 0x28]),
            Err(Error::InvalidCharacters("utf-8"))
        );
        assert_eq!(CharCodeSet::Utf8.decode("é".as_bytes()).unwrap(), "é");
        assert!(CharCodeSet::Utf8.decode_char(0x80).is_err());
        assert!(CharCodeSet::Utf8.encode_char('é').is_err());
        assert_eq!(CharCodeSet::Utf8.encode_char('a'), Ok(b'a'));
    }

    #[test]
    fn registry_ids_round_trip() {
        for set in [CharCodeSet::Iso8859_1, CharCodeSet::Utf8] {
            assert_eq!(CharCodeSet::from_registry_id(set.registry_id()), Some(set));
        }
        assert_eq!(CharCodeSet::from_registry_id(0x0001_0109), None);
    }

    #[test]
    fn lone_surrogates_are_refused() {
        assert!(decode_utf16([0xD800]).is_err());
        assert_eq!(decode_utf16([0xD83D, 0xDE00]).unwrap(), "😀");
    }
}
