//! How a Request or LocateRequest names its target object.

use bytes::Bytes;

use crate::cdr::{CdrReader, CdrWriter};
use crate::error::{Error, Result};
use crate::ior::{Ior, TaggedProfile};
use crate::version::GiopVersion;

/// The target of a Request or LocateRequest.
///
/// GIOP 1.0 and 1.1 only have object keys; GIOP 1.2 sends the
/// `union TargetAddress switch (AddressingDisposition)`.
#[derive(Clone, Debug, Eq, Hash, PartialEq)]
pub enum TargetAddress {
    /// 0: the object key from the server's profile.
    KeyAddr(Bytes),
    /// 1: the whole profile the client used.
    ProfileAddr(TaggedProfile),
    /// 2: the whole object reference and which of its profiles was used.
    ReferenceAddr(IorAddressingInfo),
}

/// `struct IORAddressingInfo { unsigned long selected_profile_index; IOR ior; }`.
#[derive(Clone, Debug, Eq, Hash, PartialEq)]
pub struct IorAddressingInfo {
    /// The index in `ior.profiles` of the profile the client used.
    pub selected_profile_index: u32,
    /// The object reference.
    pub ior: Ior,
}

impl TargetAddress {
    /// The addressing disposition of this target.
    pub fn disposition(&self) -> AddressingDisposition {
        match self {
            Self::KeyAddr(_) => AddressingDisposition::KeyAddr,
            Self::ProfileAddr(_) => AddressingDisposition::ProfileAddr,
            Self::ReferenceAddr(_) => AddressingDisposition::ReferenceAddr,
        }
    }

    /// The object key, when the target is addressed by key.
    pub fn object_key(&self) -> Option<&Bytes> {
        match self {
            Self::KeyAddr(key) => Some(key),
            _ => None,
        }
    }

    /// Reads a target with the rules of the reader's GIOP version.
    pub fn read(r: &mut CdrReader) -> Result<Self> {
        if r.version() < GiopVersion::V1_2 {
            return r.read_octet_sequence().map(Self::KeyAddr);
        }
        let disposition = AddressingDisposition::read(r)?;
        Ok(match disposition {
            AddressingDisposition::KeyAddr => Self::KeyAddr(r.read_octet_sequence()?),
            AddressingDisposition::ProfileAddr => Self::ProfileAddr(TaggedProfile::read(r)?),
            AddressingDisposition::ReferenceAddr => {
                let selected_profile_index = r.read_ulong()?;
                let ior = Ior::read(r)?;
                Self::ReferenceAddr(IorAddressingInfo {
                    selected_profile_index,
                    ior,
                })
            }
        })
    }

    /// Writes the target; GIOP 1.0 and 1.1 can only carry object keys.
    pub fn write(&self, w: &mut CdrWriter<'_>) -> Result<()> {
        if w.version() < GiopVersion::V1_2 {
            let key = self.object_key().ok_or_else(|| {
                w.version()
                    .not_allowed("a target address other than an object key")
            })?;
            return w.write_octet_sequence(key);
        }
        self.disposition().write(w);
        match self {
            Self::KeyAddr(key) => w.write_octet_sequence(key),
            Self::ProfileAddr(profile) => profile.write(w),
            Self::ReferenceAddr(info) => {
                w.write_ulong(info.selected_profile_index);
                info.ior.write(w)
            }
        }
    }
}

/// `typedef short AddressingDisposition`: which form of [`TargetAddress`] to use.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum AddressingDisposition {
    /// 0: by object key.
    KeyAddr,
    /// 1: by tagged profile.
    ProfileAddr,
    /// 2: by full object reference.
    ReferenceAddr,
}

impl AddressingDisposition {
    /// Reads the `short` discriminator.
    pub fn read(r: &mut CdrReader) -> Result<Self> {
        let value = r.read_short()?;
        Ok(match value {
            0 => Self::KeyAddr,
            1 => Self::ProfileAddr,
            2 => Self::ReferenceAddr,
            other => {
                return Err(Error::InvalidEnum {
                    what: "addressing disposition",
                    value: u32::from(other.cast_unsigned()),
                });
            }
        })
    }

    /// Writes the `short` discriminator.
    pub fn write(self, w: &mut CdrWriter<'_>) {
        w.write_short(match self {
            Self::KeyAddr => 0,
            Self::ProfileAddr => 1,
            Self::ReferenceAddr => 2,
        });
    }
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;

    use super::*;
    use crate::cdr::ByteOrder;

    #[test]
    fn golden_key_addr_with_garbage_padding() {
        // From trace-ior-giop12.txt (LocateRequest body after the request id,
        // at offset 16): disposition 0, two garbage pad bytes, "Account".
        let bytes = Bytes::from_static(b"\x00\x00\x54\x72\x07\x00\x00\x00Account");
        let mut r = CdrReader::new(bytes, ByteOrder::LittleEndian, GiopVersion::V1_2)
            .with_alignment_offset(16);
        let target = TargetAddress::read(&mut r).unwrap();
        assert_eq!(
            target,
            TargetAddress::KeyAddr(Bytes::from_static(b"Account"))
        );
        assert_eq!(r.finish(), Ok(()));
    }

    #[test]
    fn old_versions_only_carry_keys() {
        let mut buf = BytesMut::new();
        let mut w = CdrWriter::new(&mut buf, ByteOrder::BigEndian, GiopVersion::V1_1);
        let target = TargetAddress::ProfileAddr(TaggedProfile::default());
        assert!(matches!(
            target.write(&mut w),
            Err(Error::NotInVersion { .. })
        ));
    }

    #[test]
    fn unknown_dispositions_are_refused() {
        let bytes = Bytes::from_static(&[0, 3]);
        let mut r = CdrReader::new(bytes, ByteOrder::BigEndian, GiopVersion::V1_2);
        assert_eq!(
            TargetAddress::read(&mut r),
            Err(Error::InvalidEnum {
                what: "addressing disposition",
                value: 3
            })
        );
    }
}
