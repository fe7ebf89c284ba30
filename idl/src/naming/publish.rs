//! References for objects an [`OrbServer`](crate::orb::OrbServer) serves:
//! an IOR with one IIOP 1.2 profile naming the published host and port,
//! and the code sets the server handles (`TAG_CODE_SETS`).

use bytes::Bytes;

use crate::cdr::ByteOrder;
use crate::codeset::CodeSetPolicy;
use crate::ior::{IiopProfile, Ior};
use crate::version::Version;

/// An IOR for the object of type `repository_id` served under `key` at
/// `host:port`: one IIOP 1.2 profile with a `TAG_CODE_SETS` component
/// (ISO-8859-1 native with UTF-8 for char data, UTF-16 for wchar data, as
/// [`OrbServer`](crate::orb::OrbServer) accepts), encapsulated big-endian.
///
/// `host` is what clients connect to: the published name or address (behind
/// NAT or in a container, not necessarily the address the server binds).
pub fn object_ior(
    repository_id: &str,
    host: &str,
    port: u16,
    key: impl Into<Bytes>,
) -> crate::Result<Ior> {
    object_ior_with_code_sets(repository_id, host, port, key, CodeSetPolicy::default())
}

/// As [`object_ior`], announcing `code_sets` (a server that prefers UTF-8
/// for char data announces `CodeSetPolicy::new(CharCodeSet::Utf8)`).
pub fn object_ior_with_code_sets(
    repository_id: &str,
    host: &str,
    port: u16,
    key: impl Into<Bytes>,
    code_sets: CodeSetPolicy,
) -> crate::Result<Ior> {
    let profile = IiopProfile {
        version: Version::new(1, 2),
        host: host.to_owned(),
        port,
        object_key: key.into(),
        components: vec![code_sets.tagged_component(ByteOrder::BigEndian)?],
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
        let code_sets = profile.code_sets().unwrap().unwrap();
        assert_eq!(code_sets, CodeSetPolicy::default().component_info());
        let text = ior.to_string();
        assert_eq!(text.parse::<Ior>(), Ok(ior));
    }
}
