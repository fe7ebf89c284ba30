//! The `[bridge]` section: the CORBA⇄SOAP bridge hosted by `ithaca serve`.
//!
//! `[bridge.iiop]` is the gateway's IIOP listener; each `[[bridge.soap]]`
//! table publishes one SOAP service (hosted here or remote) as a CORBA
//! object on it, with the IDL that `ithaca wsdl2idl` derives from its WSDL
//! (see docs/bridging-corba-and-soap.md).

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The CORBA⇄SOAP bridge.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BridgeConfig {
    /// The IIOP listener that serves the bridged objects.
    pub iiop: IiopListenerConfig,
    /// SOAP services published as CORBA objects on the IIOP listener.
    pub soap: Vec<SoapObjectConfig>,
    /// CORBA objects hosted as SOAP services (`[[bridge.corba]]`), each at
    /// `/services/NAME`.
    pub corba: Vec<crate::bridge::soapfront::CorbaObjectConfig>,
}

/// The port of the IIOP listener when `[bridge.iiop] listen` is unset
/// (CORBA's registered port; `ithaca serve` falls back to a free port,
/// saying so, when it is taken).
pub const DEFAULT_IIOP_PORT: u16 = 2809;

/// The objects the embedded defaults publish: (name, hosted service).
pub const DEFAULT_SOAP_OBJECTS: [(&str, &str); 2] =
    [("Echo", "EchoService"), ("Transfer", "TransferService")];

impl Default for BridgeConfig {
    fn default() -> Self {
        Self {
            iiop: IiopListenerConfig::default(),
            soap: DEFAULT_SOAP_OBJECTS
                .iter()
                .map(|(name, service)| SoapObjectConfig {
                    name: (*name).to_owned(),
                    service: Some((*service).to_owned()),
                    ..SoapObjectConfig::default()
                })
                .collect(),
            corba: Vec::new(),
        }
    }
}

impl BridgeConfig {
    /// Whether `[[bridge.soap]]` is the embedded default list (then
    /// `ithaca serve` leaves out the objects whose service it does not
    /// host, instead of refusing to start).
    pub fn soap_is_default(&self) -> bool {
        self.soap == Self::default().soap
    }

    /// The IIOP listen address: `listen`, or 127.0.0.1 and
    /// [`DEFAULT_IIOP_PORT`] when unset; `None` when the listener is
    /// disabled.
    pub fn iiop_addr(&self) -> Option<SocketAddr> {
        self.iiop.enabled.then(|| {
            self.iiop
                .listen
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], DEFAULT_IIOP_PORT)))
        })
    }
}

/// The gateway's IIOP listener.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct IiopListenerConfig {
    /// Run the listener.
    pub enabled: bool,
    /// Address and port to listen on; unset, `ithaca serve` listens on
    /// 127.0.0.1:[`DEFAULT_IIOP_PORT`] (or a free port when that is
    /// taken). Port 0 picks a free port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// The host name put into published IORs and corbaloc URLs (default:
    /// the listen address's IP).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_host: Option<String>,
    /// A CosNaming service (`corbaloc:iiop:HOST:PORT/NameService`) in which
    /// each object is bound under its name at start-up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub naming: Option<String>,
    /// How long one bridged SOAP call may take, in milliseconds, before the
    /// CORBA client gets TRANSIENT.
    pub call_timeout_ms: u64,
}

impl Default for IiopListenerConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: None,
            public_host: None,
            naming: None,
            call_timeout_ms: 10_000,
        }
    }
}

/// One SOAP service published as a CORBA object.
#[derive(Clone, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SoapObjectConfig {
    /// The object's name: its CosNaming name and the `name` in
    /// `GET /bridge/objects`.
    pub name: String,
    /// The service's WSDL file (a remote service, or any service).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wsdl: Option<PathBuf>,
    /// A service hosted by this gateway, by its WSDL service name (instead
    /// of `wsdl`): calls go to it in-process.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The remote SOAP endpoint (default: the WSDL port's address).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The WSDL port to call, when the service has several.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    /// The object key in IORs and corbaloc URLs (default: `name`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_key: Option<String>,
}

impl SoapObjectConfig {
    /// The object key this object is served under.
    pub fn key(&self) -> &str {
        self.object_key.as_deref().unwrap_or(&self.name)
    }
}

impl BridgeConfig {
    /// Checks the rules types cannot express, naming the key at fault.
    pub(super) fn validate(&self) -> Result<(), (&'static str, String)> {
        if let Some(naming) = &self.iiop.naming
            && !naming.starts_with("corbaloc:")
            && !naming.starts_with("IOR:")
        {
            return Err((
                "bridge.iiop.naming",
                "must be a corbaloc: URL or an IOR: string".into(),
            ));
        }
        if self.iiop.call_timeout_ms == 0 {
            return Err(("bridge.iiop.call_timeout_ms", "must be at least 1".into()));
        }
        let mut keys = std::collections::BTreeSet::new();
        let mut corba_names = std::collections::BTreeSet::new();
        for object in &self.corba {
            object.validate()?;
            if !corba_names.insert(object.name.as_str()) {
                return Err((
                    "bridge.corba.name",
                    format!("service {:?} is configured twice", object.name),
                ));
            }
        }
        for object in &self.soap {
            if object.name.is_empty() || object.name.len() > 200 {
                return Err(("bridge.soap.name", "must be 1 to 200 characters".into()));
            }
            match (&object.wsdl, &object.service) {
                (None, None) => {
                    return Err((
                        "bridge.soap.wsdl",
                        format!(
                            "object {:?}: set wsdl (a WSDL file) or service (a hosted service)",
                            object.name
                        ),
                    ));
                }
                (Some(_), Some(_)) => {
                    return Err((
                        "bridge.soap.service",
                        format!("object {:?}: set wsdl or service, not both", object.name),
                    ));
                }
                _ => {}
            }
            if let Some(url) = &object.url
                && !(url.starts_with("http://") || url.starts_with("https://"))
            {
                return Err((
                    "bridge.soap.url",
                    format!(
                        "object {:?}: must be an http:// or https:// URL",
                        object.name
                    ),
                ));
            }
            let key = object.key();
            if key.is_empty() || key.len() > 200 || !keys.insert(key.to_owned()) {
                return Err((
                    "bridge.soap.object_key",
                    format!(
                        "object {:?}: object keys must be 1 to 200 characters and unique",
                        object.name
                    ),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{ConfigLoader, Origin};

    fn load(text: &str) -> Result<super::BridgeConfig, String> {
        ConfigLoader::new()
            .text(text, Origin::File("ithaca.toml".into()))
            .and_then(ConfigLoader::build)
            .map(|config| config.bridge)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn soap_objects_are_read_with_their_defaults() {
        let bridge = load(
            "[bridge.iiop]\nlisten = \"127.0.0.1:2809\"\n\n[[bridge.soap]]\nname = \"Echo\"\nservice = \"EchoService\"\n",
        )
        .unwrap();
        assert_eq!(bridge.iiop.listen, Some("127.0.0.1:2809".parse().unwrap()));
        assert!(bridge.iiop.enabled);
        assert_eq!(bridge.soap.len(), 1);
        assert_eq!(bridge.soap[0].key(), "Echo");
    }

    #[test]
    fn bad_objects_name_the_key() {
        let both = "[[bridge.soap]]\nname = \"E\"\nservice = \"S\"\nwsdl = \"e.wsdl\"\n";
        assert!(load(both).unwrap_err().contains("bridge.soap.service"));
        let neither = "[[bridge.soap]]\nname = \"E\"\n";
        assert!(load(neither).unwrap_err().contains("bridge.soap.wsdl"));
        let twice = "[[bridge.soap]]\nname = \"A\"\nservice = \"S\"\nobject_key = \"K\"\n\n[[bridge.soap]]\nname = \"B\"\nservice = \"S\"\nobject_key = \"K\"\n";
        assert!(load(twice).unwrap_err().contains("bridge.soap.object_key"));
        let url = "[[bridge.soap]]\nname = \"E\"\nwsdl = \"e.wsdl\"\nurl = \"ftp://x\"\n";
        assert!(load(url).unwrap_err().contains("bridge.soap.url"));
        let naming = "[bridge.iiop]\nnaming = \"NameService\"\n";
        assert!(load(naming).unwrap_err().contains("bridge.iiop.naming"));
        let unknown = "[[bridge.soap]]\nname = \"E\"\nservice = \"S\"\nhost = \"x\"\n";
        assert!(load(unknown).unwrap_err().contains("host"));
    }
}
