//! The IIOP profile (`TAG_INTERNET_IOP`) and its tagged components.

use bytes::{Bytes, BytesMut};

use super::TaggedProfile;
use crate::cdr::{ByteOrder, CdrReader, CdrWriter};
use crate::error::{Error, Result};
use crate::version::{GiopVersion, Version};

/// The body of an IIOP profile: where the object lives and its key.
///
/// IIOP 1.0 profiles are `ProfileBody_1_0 { Version iiop_version; string
/// host; unsigned short port; sequence<octet> object_key; }`; from 1.1 on
/// `ProfileBody_1_1` adds `sequence<TaggedComponent> components`. The
/// profile's version is the highest GIOP minor version the server accepts.
#[derive(Clone, Debug, Eq, Hash, PartialEq)]
pub struct IiopProfile {
    /// The IIOP version of the profile.
    pub version: Version,
    /// The host name or address clients connect to.
    pub host: String,
    /// The TCP port.
    pub port: u16,
    /// The opaque object key to put in requests.
    pub object_key: Bytes,
    /// Tagged components; always empty in IIOP 1.0 profiles.
    pub components: Vec<TaggedComponent>,
}

impl IiopProfile {
    /// Decodes the profile of a [`TaggedProfile`] with tag `TAG_INTERNET_IOP`.
    pub fn from_tagged_profile(profile: &TaggedProfile) -> Result<Self> {
        if profile.tag != TaggedProfile::TAG_INTERNET_IOP {
            return Err(Error::InvalidReference("not an iiop profile"));
        }
        Self::decode(profile.profile_data.clone())
    }

    /// Decodes a profile body from its encapsulation.
    pub fn decode(data: Bytes) -> Result<Self> {
        let mut r = CdrReader::from_encapsulation(data, GiopVersion::V1_2)?;
        let version = Version::new(r.read_octet()?, r.read_octet()?);
        if version.major != 1 {
            return Err(Error::InvalidReference("unsupported iiop major version"));
        }
        let host = r.read_string()?;
        let port = r.read_ushort()?;
        let object_key = r.read_octet_sequence()?;
        let components = if version.minor >= 1 {
            r.read_sequence(8, TaggedComponent::read)?
        } else {
            Vec::new()
        };
        r.finish()?;
        Ok(Self {
            version,
            host,
            port,
            object_key,
            components,
        })
    }

    /// Encodes the profile body as an encapsulation in `byte_order`.
    pub fn encode(&self, byte_order: ByteOrder) -> Result<Bytes> {
        if self.version.major != 1 {
            return Err(Error::InvalidReference("unsupported iiop major version"));
        }
        if self.version.minor == 0 && !self.components.is_empty() {
            return Err(Error::InvalidReference(
                "iiop 1.0 profiles have no components",
            ));
        }
        let mut buf = BytesMut::new();
        let mut w = CdrWriter::new(&mut buf, byte_order, GiopVersion::V1_2);
        w.write_octet(byte_order.flag());
        w.write_octet(self.version.major);
        w.write_octet(self.version.minor);
        w.write_string(&self.host)?;
        w.write_ushort(self.port);
        w.write_octet_sequence(&self.object_key)?;
        if self.version.minor >= 1 {
            w.write_sequence(&self.components, |w, c| c.write(w))?;
        }
        Ok(buf.freeze())
    }

    /// Encodes the profile as a [`TaggedProfile`].
    pub fn to_tagged_profile(&self, byte_order: ByteOrder) -> Result<TaggedProfile> {
        Ok(TaggedProfile {
            tag: TaggedProfile::TAG_INTERNET_IOP,
            profile_data: self.encode(byte_order)?,
        })
    }

    /// The ORB type from a `TAG_ORB_TYPE` component (omniORB: `0x41545400`).
    pub fn orb_type(&self) -> Option<Result<u32>> {
        self.component(TaggedComponent::TAG_ORB_TYPE).map(|c| {
            let mut r = c.reader()?;
            let orb_type = r.read_ulong()?;
            r.finish()?;
            Ok(orb_type)
        })
    }

    /// The code sets the server supports, from a `TAG_CODE_SETS` component.
    pub fn code_sets(&self) -> Option<Result<CodeSetComponentInfo>> {
        self.component(TaggedComponent::TAG_CODE_SETS).map(|c| {
            let mut r = c.reader()?;
            let info = CodeSetComponentInfo {
                for_char_data: CodeSetComponent::read(&mut r)?,
                for_wchar_data: CodeSetComponent::read(&mut r)?,
            };
            r.finish()?;
            Ok(info)
        })
    }

    /// Further addresses of the same server, from `TAG_ALTERNATE_IIOP_ADDRESS` components.
    pub fn alternate_addresses(&self) -> Result<Vec<(String, u16)>> {
        self.components
            .iter()
            .filter(|c| c.tag == TaggedComponent::TAG_ALTERNATE_IIOP_ADDRESS)
            .map(|c| {
                let mut r = c.reader()?;
                let address = (r.read_string()?, r.read_ushort()?);
                r.finish()?;
                Ok(address)
            })
            .collect()
    }

    fn component(&self, tag: u32) -> Option<&TaggedComponent> {
        self.components.iter().find(|c| c.tag == tag)
    }
}

/// `struct TaggedComponent { ComponentId tag; sequence<octet> component_data; }`.
#[derive(Clone, Debug, Default, Eq, Hash, PartialEq)]
pub struct TaggedComponent {
    /// The component id.
    pub tag: u32,
    /// The component's bytes, usually an encapsulation.
    pub component_data: Bytes,
}

impl TaggedComponent {
    /// The vendor of the ORB that made the reference.
    pub const TAG_ORB_TYPE: u32 = 0;
    /// The code sets the server supports.
    pub const TAG_CODE_SETS: u32 = 1;
    /// Policies the client should apply.
    pub const TAG_POLICIES: u32 = 2;
    /// A further host and port for the same server.
    pub const TAG_ALTERNATE_IIOP_ADDRESS: u32 = 3;
    /// SSL transport parameters.
    pub const TAG_SSL_SEC_TRANS: u32 = 20;
    /// CSIv2 security mechanisms.
    pub const TAG_CSI_SEC_MECH_LIST: u32 = 33;

    /// Reads a component.
    pub fn read(r: &mut CdrReader) -> Result<Self> {
        let tag = r.read_ulong()?;
        let component_data = r.read_octet_sequence()?;
        Ok(Self {
            tag,
            component_data,
        })
    }

    /// Writes the component.
    pub fn write(&self, w: &mut CdrWriter<'_>) -> Result<()> {
        w.write_ulong(self.tag);
        w.write_octet_sequence(&self.component_data)
    }

    /// Builds a component whose data is an encapsulation written by `write_contents`.
    pub fn encapsulated(
        tag: u32,
        byte_order: ByteOrder,
        write_contents: impl FnOnce(&mut CdrWriter<'_>) -> Result<()>,
    ) -> Result<Self> {
        let mut buf = BytesMut::new();
        let mut w = CdrWriter::new(&mut buf, byte_order, GiopVersion::V1_2);
        w.write_octet(byte_order.flag());
        write_contents(&mut w)?;
        Ok(Self {
            tag,
            component_data: buf.freeze(),
        })
    }

    /// A reader over the component's encapsulation.
    pub fn reader(&self) -> Result<CdrReader> {
        CdrReader::from_encapsulation(self.component_data.clone(), GiopVersion::V1_2)
    }
}

/// The `TAG_CODE_SETS` component: native and conversion code sets.
#[derive(Clone, Debug, Eq, Hash, PartialEq)]
pub struct CodeSetComponentInfo {
    /// Code sets for `char` and `string`.
    pub for_char_data: CodeSetComponent,
    /// Code sets for `wchar` and `wstring`.
    pub for_wchar_data: CodeSetComponent,
}

/// `struct CodeSetComponent { CodeSetId native_code_set; sequence<CodeSetId> conversion_code_sets; }`.
#[derive(Clone, Debug, Eq, Hash, PartialEq)]
pub struct CodeSetComponent {
    /// The server's native code set.
    pub native_code_set: u32,
    /// Code sets the server can convert from and to.
    pub conversion_code_sets: Vec<u32>,
}

impl CodeSetComponent {
    fn read(r: &mut CdrReader) -> Result<Self> {
        Ok(Self {
            native_code_set: r.read_ulong()?,
            conversion_code_sets: r.read_sequence(4, CdrReader::read_ulong)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The profile of the omniORB server behind the golden traces.
    const OMNIORB_PROFILE: &[u8] = b"\x01\x01\x02\x00\x0a\x00\x00\x00127.0.0.1\x00\x39\x30\
        \x07\x00\x00\x00Account\x00\x02\x00\x00\x00\
        \x00\x00\x00\x00\x08\x00\x00\x00\x01\x00\x00\x00\x00\x54\x54\x41\
        \x01\x00\x00\x00\x1c\x00\x00\x00\x01\x00\x00\x00\x01\x00\x01\x00\x01\x00\x00\x00\
        \x01\x00\x01\x05\x09\x01\x01\x00\x01\x00\x00\x00\x09\x01\x01\x00";

    #[test]
    fn golden_omniorb_profile() {
        let profile = IiopProfile::decode(Bytes::from_static(OMNIORB_PROFILE)).unwrap();
        assert_eq!(profile.version, Version::new(1, 2));
        assert_eq!(profile.host, "127.0.0.1");
        assert_eq!(profile.port, 12345);
        assert_eq!(&profile.object_key[..], b"Account");
        assert_eq!(profile.orb_type(), Some(Ok(0x4154_5400)));
        let code_sets = profile.code_sets().unwrap().unwrap();
        assert_eq!(code_sets.for_char_data.native_code_set, 0x0001_0001);
        assert_eq!(code_sets.for_char_data.conversion_code_sets, [0x0501_0001]);
        assert_eq!(code_sets.for_wchar_data.native_code_set, 0x0001_0109);
        assert_eq!(profile.alternate_addresses(), Ok(Vec::new()));
        // omniORB's "Account" key is followed by a zero pad byte, so the
        // encoding is byte-exact.
        assert_eq!(
            &profile.encode(ByteOrder::LittleEndian).unwrap()[..],
            OMNIORB_PROFILE
        );
    }

    #[test]
    fn iiop_1_0_profiles_have_no_components() {
        let profile = IiopProfile {
            version: Version::new(1, 0),
            host: "example.org".into(),
            port: 2809,
            object_key: Bytes::from_static(b"NameService"),
            components: Vec::new(),
        };
        let data = profile.encode(ByteOrder::BigEndian).unwrap();
        assert_eq!(IiopProfile::decode(data), Ok(profile.clone()));
        let with_component = IiopProfile {
            components: vec![TaggedComponent::default()],
            ..profile
        };
        assert!(with_component.encode(ByteOrder::BigEndian).is_err());
    }

    #[test]
    fn alternate_addresses_are_decoded() {
        let alternate = TaggedComponent::encapsulated(
            TaggedComponent::TAG_ALTERNATE_IIOP_ADDRESS,
            ByteOrder::BigEndian,
            |w| {
                w.write_string("10.0.0.2")?;
                w.write_ushort(4000);
                Ok(())
            },
        )
        .unwrap();
        let profile = IiopProfile {
            version: Version::new(1, 2),
            host: "10.0.0.1".into(),
            port: 4000,
            object_key: Bytes::new(),
            components: vec![alternate],
        };
        assert_eq!(
            profile.alternate_addresses(),
            Ok(vec![("10.0.0.2".into(), 4000)])
        );
        assert_eq!(profile.orb_type(), None);
    }

    #[test]
    fn malformed_profiles_are_refused() {
        assert!(IiopProfile::decode(Bytes::from_static(b"\x00\x02\x00")).is_err());
        assert!(IiopProfile::decode(Bytes::new()).is_err());
        // Trailing garbage after a 1.0 body.
        let mut data = IiopProfile {
            version: Version::new(1, 0),
            host: "h".into(),
            port: 1,
            object_key: Bytes::new(),
            components: Vec::new(),
        }
        .encode(ByteOrder::BigEndian)
        .unwrap()
        .to_vec();
        data.push(0);
        assert!(IiopProfile::decode(Bytes::from(data)).is_err());
        let other = TaggedProfile {
            tag: 1,
            profile_data: Bytes::new(),
        };
        assert!(IiopProfile::from_tagged_profile(&other).is_err());
    }
}
