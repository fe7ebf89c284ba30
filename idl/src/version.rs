//! GIOP protocol versions.
//!
//! [`GiopVersion`] is the closed set of versions this crate speaks (1.0, 1.1
//! and 1.2); it decides the layout of message headers and the CDR rules for
//! wide strings. [`Version`] is any `major.minor` pair as it appears on the
//! wire, for example in an IIOP profile, which may name versions we do not
//! speak.

use std::fmt;

use crate::error::{Error, Result};

/// A GIOP version this crate can encode and decode.
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub enum GiopVersion {
    /// GIOP 1.0: no fragments, no wide characters.
    V1_0,
    /// GIOP 1.1: adds Fragment, reserved octets in Request, wide characters.
    V1_1,
    /// GIOP 1.2: new Request and Reply layouts with TargetAddress and 8-aligned bodies.
    V1_2,
}

impl GiopVersion {
    /// The version numbers as sent on the wire.
    pub fn version(self) -> Version {
        match self {
            Self::V1_0 => Version::new(1, 0),
            Self::V1_1 => Version::new(1, 1),
            Self::V1_2 => Version::new(1, 2),
        }
    }

    /// The minor version number.
    pub fn minor(self) -> u8 {
        self.version().minor
    }

    /// Maps a wire version to a supported one; 1.3 and later are refused.
    pub fn from_version(version: Version) -> Result<Self> {
        match (version.major, version.minor) {
            (1, 0) => Ok(Self::V1_0),
            (1, 1) => Ok(Self::V1_1),
            (1, 2) => Ok(Self::V1_2),
            (major, minor) => Err(Error::UnsupportedVersion { major, minor }),
        }
    }

    /// The error for `what` being used in this version.
    pub(crate) fn not_allowed(self, what: &'static str) -> Error {
        Error::NotInVersion {
            what,
            major: 1,
            minor: self.minor(),
        }
    }
}

impl fmt::Display for GiopVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.version().fmt(f)
    }
}

/// A `major.minor` protocol version as it appears on the wire.
#[derive(Clone, Copy, Debug, Default, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct Version {
    /// The major version number.
    pub major: u8,
    /// The minor version number.
    pub minor: u8,
}

impl Version {
    /// Builds a version from its two numbers.
    pub const fn new(major: u8, minor: u8) -> Self {
        Self { major, minor }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supported_versions_map_both_ways() {
        for v in [GiopVersion::V1_0, GiopVersion::V1_1, GiopVersion::V1_2] {
            assert_eq!(GiopVersion::from_version(v.version()), Ok(v));
        }
        assert_eq!(GiopVersion::V1_2.to_string(), "1.2");
    }

    #[test]
    fn later_and_other_versions_are_refused() {
        for (major, minor) in [(1, 3), (1, 4), (2, 0), (0, 9), (255, 255)] {
            assert_eq!(
                GiopVersion::from_version(Version::new(major, minor)),
                Err(Error::UnsupportedVersion { major, minor })
            );
        }
    }
}
