//! From a reference's text to where to send requests: `IOR:`, `corbaloc:`
//! and `corbaname:` (resolved through the naming service it names).

use std::collections::HashMap;
use std::net::SocketAddr;

use bytes::Bytes;

use super::client::NamingClient;
use super::error::NamingError;
use super::url::Corbaname;
use crate::GiopVersion;
use crate::codeset::CodeSetPolicy;
use crate::error::Error;
use crate::ior::{CodeSetComponentInfo, Corbaloc, CorbalocAddress, Ior};
use crate::orb::{ClientConfig, OrbClient, OrbError};

/// The most initial references a [`Resolver`] holds.
const MAX_INITIAL_REFERENCES: usize = 64;

/// Where an object is: an address, its object key and the GIOP version to
/// speak to it.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct ObjectTarget {
    /// The server's address.
    pub addr: SocketAddr,
    /// The object key.
    pub key: Bytes,
    /// The GIOP version: the IIOP profile's (at most 1.2) for an IOR, the
    /// URL's (1.0 by default) for corbaloc.
    pub version: GiopVersion,
    /// The code sets the server announces: the IOR's `TAG_CODE_SETS`
    /// (`None` without one); for corbaloc, which carries none, what Ithaca
    /// and omniORB servers announce.
    pub code_sets: Option<CodeSetComponentInfo>,
}

impl ObjectTarget {
    /// The first IIOP profile of `ior` whose host resolves.
    pub async fn from_ior(ior: &Ior) -> Result<Self, NamingError> {
        if ior.is_nil() {
            return Err(NamingError::Reference(Error::InvalidReference(
                "nil object reference",
            )));
        }
        let profile = ior
            .iiop_profile()
            .ok_or(NamingError::Reference(Error::InvalidReference(
                "no iiop profile in the reference",
            )))?
            .map_err(NamingError::Reference)?;
        let version = if profile.version.major == 1 && profile.version.minor >= 2 {
            GiopVersion::V1_2
        } else {
            GiopVersion::from_version(profile.version).map_err(NamingError::Reference)?
        };
        let code_sets = profile
            .code_sets()
            .transpose()
            .map_err(NamingError::Reference)?;
        Ok(Self {
            addr: lookup(&profile.host, profile.port).await?,
            key: profile.object_key,
            version,
            code_sets,
        })
    }

    /// The first IIOP address of a corbaloc URL whose host resolves.
    pub async fn from_corbaloc(corbaloc: &Corbaloc) -> Result<Self, NamingError> {
        let mut last = OrbError::NoAddress("no iiop address in the corbaloc url");
        for address in &corbaloc.addresses {
            let CorbalocAddress::Iiop {
                version,
                host,
                port,
            } = address
            else {
                continue;
            };
            let version = GiopVersion::from_version(*version).map_err(NamingError::Reference)?;
            match lookup(host, *port).await {
                Ok(addr) => {
                    return Ok(Self {
                        addr,
                        key: corbaloc.key.clone(),
                        version,
                        code_sets: Some(CodeSetPolicy::default().component_info()),
                    });
                }
                Err(NamingError::Orb(error)) => last = error,
                Err(other) => return Err(other),
            }
        }
        Err(NamingError::Orb(last))
    }

    /// Opens a connection speaking the target's GIOP version, with the
    /// byte order and fragment size of `config`.
    pub async fn connect(&self, config: ClientConfig) -> Result<OrbClient, OrbError> {
        OrbClient::connect_with_code_sets(
            self.addr,
            ClientConfig {
                version: self.version,
                ..config
            },
            self.code_sets.as_ref(),
        )
        .await
    }
}

async fn lookup(host: &str, port: u16) -> Result<SocketAddr, NamingError> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| NamingError::Orb(OrbError::Io(e)))?
        .next()
        .ok_or(NamingError::Orb(OrbError::NoAddress(
            "the host name does not resolve",
        )))
}

/// Turns reference text into an [`ObjectTarget`], with initial references
/// for `rir:` URLs.
#[derive(Clone, Debug, Default)]
pub struct Resolver {
    config: ClientConfig,
    initial_references: HashMap<String, Ior>,
}

impl Resolver {
    /// A resolver whose naming calls use `config` (byte order, fragments).
    pub fn new(config: ClientConfig) -> Self {
        Self {
            config,
            initial_references: HashMap::new(),
        }
    }

    /// Sets the initial reference `id` (such as `NameService`) that
    /// `corbaloc:rir:/id` and `corbaname:rir:` URLs mean. At most 64.
    pub fn with_initial_reference(mut self, id: &str, ior: Ior) -> Self {
        if self.initial_references.len() < MAX_INITIAL_REFERENCES
            || self.initial_references.contains_key(id)
        {
            self.initial_references.insert(id.to_owned(), ior);
        }
        self
    }

    /// Resolves `IOR:…`, `corbaloc:…` or `corbaname:…`; a `corbaname:` URL
    /// with a name costs a `resolve` call on its naming context.
    pub async fn resolve(&self, text: &str) -> Result<ObjectTarget, NamingError> {
        let text = text.trim();
        let scheme = text
            .split_once(':')
            .map(|(scheme, _)| scheme.to_ascii_lowercase())
            .unwrap_or_default();
        match scheme.as_str() {
            "ior" => {
                let ior = Ior::from_ior_string(text).map_err(NamingError::Reference)?;
                ObjectTarget::from_ior(&ior).await
            }
            "corbaloc" => {
                let corbaloc = Corbaloc::parse(text).map_err(NamingError::Reference)?;
                self.corbaloc_target(&corbaloc).await
            }
            "corbaname" => {
                let url = Corbaname::parse(text).map_err(NamingError::Reference)?;
                let context = self.corbaloc_target(&url.context).await?;
                match &url.name {
                    None => Ok(context),
                    Some(name) => {
                        let mut client = NamingClient::connect(context, self.config).await?;
                        let ior = client.resolve(name).await?;
                        ObjectTarget::from_ior(&ior).await
                    }
                }
            }
            _ => Err(NamingError::Reference(Error::InvalidReference(
                "not an IOR:, corbaloc: or corbaname: reference",
            ))),
        }
    }

    async fn corbaloc_target(&self, corbaloc: &Corbaloc) -> Result<ObjectTarget, NamingError> {
        if corbaloc.addresses.contains(&CorbalocAddress::Rir) {
            let id = std::str::from_utf8(&corbaloc.key).unwrap_or("");
            let ior = self
                .initial_references
                .get(id)
                .ok_or(NamingError::Reference(Error::InvalidReference(
                    "unknown initial reference",
                )))?;
            return ObjectTarget::from_ior(ior).await;
        }
        ObjectTarget::from_corbaloc(corbaloc).await
    }
}

/// Resolves `IOR:…`, `corbaloc:…` or `corbaname:…` text to an address and
/// object key (no initial references: `rir:` fails).
pub async fn resolve_reference(
    text: &str,
    config: ClientConfig,
) -> Result<ObjectTarget, NamingError> {
    Resolver::new(config).resolve(text).await
}

/// Resolves a reference and connects to it: the client and the object key.
pub async fn connect_reference(
    text: &str,
    config: ClientConfig,
) -> Result<(OrbClient, Bytes), NamingError> {
    let target = resolve_reference(text, config).await?;
    Ok((target.connect(config).await?, target.key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::naming::object_ior;

    #[tokio::test(flavor = "current_thread")]
    async fn iors_and_corbaloc_resolve_without_the_network() {
        let config = ClientConfig::default();
        let ior = object_ior("IDL:X:1.0", "127.0.0.1", 4000, &b"key"[..]).unwrap();
        let target = resolve_reference(&ior.to_string(), config).await.unwrap();
        assert_eq!(target.addr, "127.0.0.1:4000".parse().unwrap());
        assert_eq!(&target.key[..], b"key");
        assert_eq!(target.version, GiopVersion::V1_2);

        let target = resolve_reference("corbaloc::127.0.0.1:5/a%2Fb", config)
            .await
            .unwrap();
        assert_eq!(target.addr, "127.0.0.1:5".parse().unwrap());
        assert_eq!(&target.key[..], b"a/b");
        assert_eq!(target.version, GiopVersion::V1_0);

        let target = resolve_reference("corbaname::127.0.0.1:7", config)
            .await
            .unwrap();
        assert_eq!(&target.key[..], b"NameService");

        for bad in [
            "corbaloc:rir:/NameService",
            "corbaname:rir:#a",
            "http://x",
            "IOR:00",
            "corbaloc::1.3@127.0.0.1/x",
            &Ior::default().to_string(),
        ] {
            assert!(resolve_reference(bad, config).await.is_err(), "{bad}");
        }

        let resolver = Resolver::new(config).with_initial_reference("NameService", ior);
        let target = resolver.resolve("corbaname:rir:").await.unwrap();
        assert_eq!(target.addr, "127.0.0.1:4000".parse().unwrap());
        let target = resolver.resolve("corbaloc:rir:/NameService").await.unwrap();
        assert_eq!(&target.key[..], b"key");
    }
}
