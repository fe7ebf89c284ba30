//! Interoperable Object References (IORs).
//!
//! An [`Ior`] names an object: its repository id and one or more tagged
//! profiles telling how to reach it. The IIOP profile (tag 0) is decoded by
//! [`IiopProfile`], with typed access to the ORB type, code sets and
//! alternate addresses components; other profiles stay opaque. An `Ior`
//! parses from and prints as the stringified `IOR:` form, and a
//! [`Corbaloc`] URL turns into an `Ior` with one IIOP profile per address.

mod corbaloc;
mod iiop_profile;
mod stringified;
pub(crate) mod url_escape;

use bytes::Bytes;

use crate::cdr::{CdrReader, CdrWriter};
use crate::error::Result;

pub use corbaloc::{Corbaloc, CorbalocAddress, DEFAULT_CORBALOC_PORT};
pub use iiop_profile::{CodeSetComponent, CodeSetComponentInfo, IiopProfile, TaggedComponent};

/// An object reference: `struct IOR { string type_id; sequence<TaggedProfile> profiles; }`.
#[derive(Clone, Debug, Default, Eq, Hash, PartialEq)]
pub struct Ior {
    /// The repository id of the object's most derived interface, or empty.
    pub type_id: String,
    /// How to reach the object, in order of preference.
    pub profiles: Vec<TaggedProfile>,
}

impl Ior {
    /// Whether this is the nil reference: no type id and no profiles.
    pub fn is_nil(&self) -> bool {
        self.type_id.is_empty() && self.profiles.is_empty()
    }

    /// The first IIOP profile, decoded; `None` if there is none.
    pub fn iiop_profile(&self) -> Option<Result<IiopProfile>> {
        self.profiles
            .iter()
            .find(|p| p.tag == TaggedProfile::TAG_INTERNET_IOP)
            .map(IiopProfile::from_tagged_profile)
    }

    /// Reads an IOR from a CDR stream.
    pub fn read(r: &mut CdrReader) -> Result<Self> {
        r.nested(|r| {
            let type_id = r.read_string()?;
            let profiles = r.read_sequence(8, TaggedProfile::read)?;
            Ok(Self { type_id, profiles })
        })
    }

    /// Writes the IOR to a CDR stream.
    pub fn write(&self, w: &mut CdrWriter<'_>) -> Result<()> {
        w.write_string(&self.type_id)?;
        w.write_sequence(&self.profiles, |w, p| p.write(w))
    }
}

/// `struct TaggedProfile { ProfileId tag; sequence<octet> profile_data; }`.
#[derive(Clone, Debug, Default, Eq, Hash, PartialEq)]
pub struct TaggedProfile {
    /// The profile id, such as [`TAG_INTERNET_IOP`](Self::TAG_INTERNET_IOP).
    pub tag: u32,
    /// The profile's bytes; an encapsulation for IIOP.
    pub profile_data: Bytes,
}

impl TaggedProfile {
    /// The IIOP profile.
    pub const TAG_INTERNET_IOP: u32 = 0;
    /// The multiple-components profile.
    pub const TAG_MULTIPLE_COMPONENTS: u32 = 1;

    /// Reads a tagged profile from a CDR stream.
    pub fn read(r: &mut CdrReader) -> Result<Self> {
        let tag = r.read_ulong()?;
        let profile_data = r.read_octet_sequence()?;
        Ok(Self { tag, profile_data })
    }

    /// Writes the tagged profile to a CDR stream.
    pub fn write(&self, w: &mut CdrWriter<'_>) -> Result<()> {
        w.write_ulong(self.tag);
        w.write_octet_sequence(&self.profile_data)
    }
}
