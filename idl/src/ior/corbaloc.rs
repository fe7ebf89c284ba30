//! `corbaloc:` URLs (Interoperable Naming Service).
//!
//! `corbaloc:[iiop]:[major.minor@]host[:port][,…]/key` names an object by
//! address and key; `corbaloc:rir:/name` names an initial reference. The
//! version defaults to 1.0, which is why corbaloc clients such as omniORB
//! speak GIOP 1.0, and the port to 2809.

use std::fmt;
use std::str::FromStr;

use bytes::Bytes;

use super::url_escape::{percent_decode, percent_encode};
use super::{IiopProfile, Ior};
use crate::cdr::ByteOrder;
use crate::error::{Error, Result};
use crate::version::Version;

/// The port a corbaloc IIOP address uses when it names none.
pub const DEFAULT_CORBALOC_PORT: u16 = 2809;

/// A parsed `corbaloc:` URL.
#[derive(Clone, Debug, Eq, Hash, PartialEq)]
pub struct Corbaloc {
    /// The addresses to try, in order; never empty.
    pub addresses: Vec<CorbalocAddress>,
    /// The object key, with `%xx` escapes decoded.
    pub key: Bytes,
}

/// One address of a `corbaloc:` URL.
#[derive(Clone, Debug, Eq, Hash, PartialEq)]
pub enum CorbalocAddress {
    /// `rir:`: the key names one of the ORB's initial references.
    Rir,
    /// `iiop:` or `:`: a server reachable over IIOP.
    Iiop {
        /// The GIOP version to speak (default 1.0).
        version: Version,
        /// The host name or address, without IPv6 brackets.
        host: String,
        /// The TCP port (default 2809).
        port: u16,
    },
}

impl Corbaloc {
    /// Parses a `corbaloc:` URL.
    pub fn parse(text: &str) -> Result<Self> {
        let rest = strip_prefix_ignore_case(text.trim(), "corbaloc:")
            .ok_or(Error::InvalidReference("missing corbaloc: prefix"))?;
        let (list, key) = rest.split_once('/').unwrap_or((rest, ""));
        let addresses = list
            .split(',')
            .map(parse_address)
            .collect::<Result<Vec<_>>>()?;
        if addresses.len() > 1 && addresses.contains(&CorbalocAddress::Rir) {
            return Err(Error::InvalidReference(
                "rir: must be the only corbaloc address",
            ));
        }
        Ok(Self {
            addresses,
            key: Bytes::from(percent_decode(key, "invalid %-escape in corbaloc key")?),
        })
    }

    /// An object reference with one IIOP profile per IIOP address.
    ///
    /// The type id is left empty: a corbaloc URL does not say it, which is
    /// why clients ask the object with `_is_a` first.
    pub fn to_ior(&self) -> Result<Ior> {
        let profiles = self
            .addresses
            .iter()
            .filter_map(|address| match address {
                CorbalocAddress::Rir => None,
                CorbalocAddress::Iiop {
                    version,
                    host,
                    port,
                } => Some(IiopProfile {
                    version: *version,
                    host: host.clone(),
                    port: *port,
                    object_key: self.key.clone(),
                    components: Vec::new(),
                }),
            })
            .map(|profile| profile.to_tagged_profile(ByteOrder::BigEndian))
            .collect::<Result<Vec<_>>>()?;
        if profiles.is_empty() {
            return Err(Error::InvalidReference(
                "no iiop address in the corbaloc url",
            ));
        }
        Ok(Ior {
            type_id: String::new(),
            profiles,
        })
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        text.get(prefix.len()..)
    } else {
        None
    }
}

fn parse_address(text: &str) -> Result<CorbalocAddress> {
    if let Some(rest) = strip_prefix_ignore_case(text, "rir:") {
        return if rest.is_empty() {
            Ok(CorbalocAddress::Rir)
        } else {
            Err(Error::InvalidReference("rir: takes no address"))
        };
    }
    let address = strip_prefix_ignore_case(text, "iiop:")
        .or_else(|| text.strip_prefix(':'))
        .ok_or(Error::InvalidReference("unsupported corbaloc protocol"))?;
    let (version, host_port) = match address.split_once('@') {
        Some((version, host_port)) => (parse_version(version)?, host_port),
        None => (Version::new(1, 0), address),
    };
    let (host, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
        let (host, after) = bracketed
            .split_once(']')
            .ok_or(Error::InvalidReference("unclosed ipv6 address"))?;
        match after {
            "" => (host, None),
            _ => (
                host,
                Some(
                    after
                        .strip_prefix(':')
                        .ok_or(Error::InvalidReference("junk after ipv6 address"))?,
                ),
            ),
        }
    } else {
        match host_port.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    let port = match port {
        None => DEFAULT_CORBALOC_PORT,
        Some(port) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => port
            .parse()
            .map_err(|_| Error::InvalidReference("port out of range"))?,
        Some(_) => return Err(Error::InvalidReference("port is not a number")),
    };
    let host = if host.is_empty() { "localhost" } else { host };
    Ok(CorbalocAddress::Iiop {
        version,
        host: host.to_owned(),
        port,
    })
}

fn parse_version(text: &str) -> Result<Version> {
    let invalid = || Error::InvalidReference("invalid corbaloc version");
    let (major, minor) = text.split_once('.').ok_or_else(invalid)?;
    let number = |s: &str| -> Result<u8> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        s.parse().map_err(|_| invalid())
    };
    Ok(Version::new(number(major)?, number(minor)?))
}

impl fmt::Display for Corbaloc {
    /// Writes the canonical form: explicit protocol, version and port.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("corbaloc:")?;
        for (i, address) in self.addresses.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            match address {
                CorbalocAddress::Rir => f.write_str("rir:")?,
                CorbalocAddress::Iiop {
                    version,
                    host,
                    port,
                } if host.contains(':') => write!(f, "iiop:{version}@[{host}]:{port}")?,
                CorbalocAddress::Iiop {
                    version,
                    host,
                    port,
                } => write!(f, "iiop:{version}@{host}:{port}")?,
            }
        }
        f.write_str("/")?;
        f.write_str(&percent_encode(&self.key))
    }
}

impl FromStr for Corbaloc {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn iiop(major: u8, minor: u8, host: &str, port: u16) -> CorbalocAddress {
        CorbalocAddress::Iiop {
            version: Version::new(major, minor),
            host: host.into(),
            port,
        }
    }

    #[test]
    fn omniorb_examples() {
        let loc: Corbaloc = "corbaloc::127.0.0.1:12345/Account".parse().unwrap();
        assert_eq!(loc.addresses, [iiop(1, 0, "127.0.0.1", 12345)]);
        assert_eq!(&loc.key[..], b"Account");
        let loc: Corbaloc = "corbaloc:iiop:1.2@127.0.0.1:12345/Echo".parse().unwrap();
        assert_eq!(loc.addresses, [iiop(1, 2, "127.0.0.1", 12345)]);
        assert_eq!(loc.to_string(), "corbaloc:iiop:1.2@127.0.0.1:12345/Echo");
        let loc: Corbaloc = "corbaloc:rir:/NameService".parse().unwrap();
        assert_eq!(loc.addresses, [CorbalocAddress::Rir]);
        assert_eq!(&loc.key[..], b"NameService");
    }

    #[test]
    fn defaults_several_addresses_ipv6_and_escapes() {
        let loc: Corbaloc = "CORBALOC::host,iiop:[::1]:99,:1.1@/a%2fb%00c/d"
            .parse()
            .unwrap();
        assert_eq!(
            loc.addresses,
            [
                iiop(1, 0, "host", DEFAULT_CORBALOC_PORT),
                iiop(1, 0, "::1", 99),
                iiop(1, 1, "localhost", DEFAULT_CORBALOC_PORT),
            ]
        );
        assert_eq!(&loc.key[..], b"a/b\0c/d");
        assert_eq!(
            loc.to_string(),
            "corbaloc:iiop:1.0@host:2809,iiop:1.0@[::1]:99,iiop:1.1@localhost:2809/a/b%00c/d"
        );
    }

    #[test]
    fn malformed_urls_are_refused() {
        for text in [
            "corbaname::host#name",
            "corbaloc:ssliop:host/key",
            "corbaloc::host:99999/key",
            "corbaloc::host:/key",
            "corbaloc::host:+1/key",
            "corbaloc::1.x@host/key",
            "corbaloc::1.2.3@host/key",
            "corbaloc::[::1/key",
            "corbaloc::[::1]x/key",
            "corbaloc::host/key%4",
            "corbaloc::host/key%zz",
            "corbaloc:rir:,:host/key",
            "corbaloc:rir:host/key",
            "corbaloc:/key",
        ] {
            assert!(Corbaloc::parse(text).is_err(), "{text} was accepted");
        }
    }

    #[test]
    fn corbaloc_becomes_an_ior() {
        let loc: Corbaloc = "corbaloc:iiop:1.2@h1:1,:h2:2/key".parse().unwrap();
        let ior = loc.to_ior().unwrap();
        assert_eq!(ior.type_id, "");
        assert_eq!(ior.profiles.len(), 2);
        let first = ior.iiop_profile().unwrap().unwrap();
        assert_eq!(first.version, Version::new(1, 2));
        assert_eq!((first.host.as_str(), first.port), ("h1", 1));
        assert_eq!(&first.object_key[..], b"key");
        let rir: Corbaloc = "corbaloc:rir:/NameService".parse().unwrap();
        assert!(rir.to_ior().is_err());
    }

    proptest! {
        #[test]
        fn canonical_form_round_trips(
            hosts in proptest::collection::vec(("[a-z0-9.-]{1,12}|[0-9a-f:]{2,10}", 0u8..3, any::<u16>()), 1..4),
            key in proptest::collection::vec(any::<u8>(), 0..16),
        ) {
            let loc = Corbaloc {
                addresses: hosts
                    .into_iter()
                    .map(|(host, minor, port)| iiop(1, minor, &host, port))
                    .collect(),
                key: Bytes::from(key),
            };
            prop_assert_eq!(loc.to_string().parse::<Corbaloc>(), Ok(loc));
        }

        #[test]
        fn arbitrary_text_never_panics(text in "corbaloc:[ -~é]{0,40}") {
            let _ = Corbaloc::parse(&text);
        }
    }
}
