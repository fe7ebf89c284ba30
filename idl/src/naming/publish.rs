//! References for objects an [`OrbServer`](crate::orb::OrbServer) serves:
//! an IOR with one IIOP 1.2 profile naming the published host and port.

use bytes::Bytes;

use crate::cdr::ByteOrder;
use crate::ior::{IiopProfile, Ior};
use crate::version::Version;

/// An IOR for the object of type `repository_id` served under `key` at
/// `host:port`: one IIOP 1.2 profile, no components, encapsulated
/// big-endian.
///
/// `host` is what clients connect to: the published name or address (behind
/// NAT or in a container, not necessarily the address the server binds).
pub fn object_ior(
    repository_id: &str,
    host: &str,
    port: u16,
    key: impl Into<Bytes>,
) -> crate::Result<Ior> {
    let profile = IiopProfile {
        version: Version::new(1, 2),
        host: host.to_owned(),
        port,
        object_key: key.into(),
        components: Vec::new(),
    };
    Ok(Ior {
        type_id: repository_id.to_owned(),
        profiles: vec![profile.to_tagged_profile(ByteOrder::BigEndian)?],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_published_reference_names_host_port_and_key() {
        let ior = object_ior(
            "IDL:Demo/Greeter:1.0",
            "gateway.example",
            2809,
            &b"Greeter"[..],
        )
        .unwrap();
        assert_eq!(ior.type_id, "IDL:Demo/Greeter:1.0");
        let profile = ior.iiop_profile().unwrap().unwrap();
        assert_eq!(profile.version, Version::new(1, 2));
        assert_eq!(
            (profile.host.as_str(), profile.port),
            ("gateway.example", 2809)
        );
        assert_eq!(&profile.object_key[..], b"Greeter");
        let text = ior.to_string();
        assert_eq!(text.parse::<Ior>(), Ok(ior));
    }
}
