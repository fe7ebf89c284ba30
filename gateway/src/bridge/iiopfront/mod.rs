//! The IIOP front: SOAP services published as CORBA objects on the
//! gateway's IIOP listener (issue 7 item 4, DSI style).
//!
//! For each `[[bridge.soap]]` object, the service's WSDL is mapped to IDL
//! by `wsdl_to_idl` (the IDL `ithaca wsdl2idl` prints, which CORBA clients
//! compile) and served by a [`SoapObjectServant`]: GIOP requests are
//! decoded with the IDL's TypeCodes, converted to the WSDL's messages
//! ([`values`]) and sent as SOAP calls, in-process to a service this
//! gateway hosts or over HTTP to a remote one ([`Backend`]).
//!
//! [`IiopFront::start`] binds the listener and registers every object;
//! [`IiopFront::objects`] says what is published (name, repository id,
//! IOR, corbaloc URL, backend), which `ithaca serve` prints and
//! `GET /bridge/objects` returns; with `[bridge.iiop] naming`, each object
//! is also bound under its name in that CosNaming service.
//!
//! An incoming CosTransactions PropagationContext becomes a WS-AT
//! CoordinationContext header on the SOAP call ([`transaction`]).

pub mod backend;
pub mod contract;
pub mod servant;
pub mod simple_path;
pub mod transaction;
pub mod values;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use ithaca_idl::cdr::ByteOrder;
use ithaca_idl::naming::{NamingClient, object_ior};
use ithaca_idl::orb::{ClientConfig, OrbServer, RunningOrbServer};
use serde::Serialize;

pub use backend::{Backend, BackendError, ResponseMessage, SoapAnswer};
pub use contract::{BridgedContract, ContractError};
pub use servant::{ITHACA_VMCID, SoapObjectServant};

use crate::body::{Request, Response, full, text_response};
use crate::config::{BridgeConfig, SoapObjectConfig};
use crate::router::Router;
use crate::soap::client::SoapClient;

/// A service hosted by `ithaca serve` that `[[bridge.soap]] service = …`
/// may name: its WSDL and where it is mounted.
#[derive(Clone, Copy, Debug)]
pub struct HostedService {
    /// The WSDL service name (`EchoService`).
    pub name: &'static str,
    /// The WSDL's file name, for messages.
    pub wsdl_name: &'static str,
    /// The WSDL text.
    pub wsdl: &'static str,
    /// The path of its SOAP 1.1 port on the gateway.
    pub path: &'static str,
}

/// The services `ithaca serve` hosts that can be bridged by name.
pub fn hosted_services() -> Vec<HostedService> {
    vec![
        HostedService {
            name: ithaca_services::echo::SERVICE,
            wsdl_name: ithaca_services::echo::WSDL_NAME,
            wsdl: ithaca_services::echo::WSDL,
            path: crate::soap::builtin::ECHO_SERVICE_PATH,
        },
        HostedService {
            name: ithaca_services::transfer::SERVICE,
            wsdl_name: ithaca_services::transfer::WSDL_NAME,
            wsdl: ithaca_services::transfer::WSDL,
            path: crate::transfer::PATH,
        },
    ]
}

/// Why the IIOP front could not start.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// An object's contract could not be loaded or mapped.
    #[error("bridge.soap {name:?}: {source}")]
    Contract {
        /// The object.
        name: String,
        /// Why.
        source: ContractError,
    },
    /// An object's configuration is unusable.
    #[error("bridge.soap {name:?}: {message}")]
    Object {
        /// The object.
        name: String,
        /// Why.
        message: String,
    },
    /// The listener could not be bound.
    #[error("bridge.iiop.listen {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// An object could not be bound in the naming service.
    #[error("bridge.iiop.naming: {0}")]
    Naming(String),
}

/// One published object, as `GET /bridge/objects` lists it.
#[derive(Clone, Debug, Serialize)]
pub struct PublishedObject {
    /// The configured name (also its CosNaming name).
    pub name: String,
    /// The IDL interface's repository id.
    pub interface: String,
    /// The stringified IOR.
    pub ior: String,
    /// The corbaloc URL (GIOP 1.2).
    pub corbaloc: String,
    /// Where its calls go.
    pub backend: String,
}

/// The running IIOP listener and what it publishes.
#[derive(Debug)]
pub struct IiopFront {
    server: RunningOrbServer,
    objects: Arc<Vec<PublishedObject>>,
}

impl IiopFront {
    /// Starts the listener of `config` with its objects, calling hosted
    /// services through `hosted`; `None` when no listener is configured.
    pub async fn start(
        config: &BridgeConfig,
        hosted: &Router,
    ) -> Result<Option<Self>, BridgeError> {
        let Some(addr) = config.iiop.listen.filter(|_| config.iiop.enabled) else {
            return Ok(None);
        };
        let timeout = Duration::from_millis(config.iiop.call_timeout_ms);
        let mut servants = Vec::with_capacity(config.soap.len());
        for object in &config.soap {
            let (contract, backend) = object_parts(object, hosted, timeout).await?;
            servants.push((object, contract, backend));
        }
        let server = OrbServer::bind(addr)
            .await
            .map_err(|source| BridgeError::Bind { addr, source })?;
        let bound = server.local_addr();
        let host = config
            .iiop
            .public_host
            .clone()
            .unwrap_or_else(|| bound.ip().to_string());
        let mut objects = Vec::with_capacity(servants.len());
        for (object, contract, backend) in servants {
            let key = object.key().to_owned();
            let ior = object_ior(
                &contract.repository_id,
                &host,
                bound.port(),
                key.clone().into_bytes(),
            )
            .and_then(|ior| ior.to_ior_string(ByteOrder::BigEndian))
            .map_err(|e| BridgeError::Object {
                name: object.name.clone(),
                message: e.to_string(),
            })?;
            objects.push(PublishedObject {
                name: object.name.clone(),
                interface: contract.repository_id.clone(),
                ior,
                corbaloc: format!(
                    "corbaloc:iiop:1.2@{}:{}/{}",
                    bracket_host(&host),
                    bound.port(),
                    percent_encode(key.as_bytes())
                ),
                backend: backend.describe(),
            });
            for (operation, error) in contract.unconverted_operations() {
                tracing::warn!(
                    object = %object.name,
                    operation = %operation,
                    "bridge.soap: {operation} of {} cannot be converted ({error}); \
                     its calls answer MARSHAL (minor IT|5) or BAD_PARAM (minor IT|2)",
                    object.name
                );
            }
            let servant = SoapObjectServant::new(object.name.clone(), contract, backend);
            server.register(key.into_bytes(), Arc::new(servant));
        }
        let front = Self {
            server: server.spawn(),
            objects: Arc::new(objects),
        };
        if let Some(naming) = &config.iiop.naming {
            front.bind_names(naming).await?;
        }
        Ok(Some(front))
    }

    /// Binds (rebinds) every object under its name in the naming service
    /// at `naming`.
    async fn bind_names(&self, naming: &str) -> Result<(), BridgeError> {
        let config = ClientConfig {
            call_timeout: Some(Duration::from_secs(5)),
            ..ClientConfig::default()
        };
        let connect = NamingClient::connect_reference(naming, config);
        let mut client = tokio::time::timeout(Duration::from_secs(5), connect)
            .await
            .map_err(|_| BridgeError::Naming(format!("{naming}: no answer within 5s")))?
            .map_err(|e| BridgeError::Naming(format!("{naming}: {e}")))?;
        for object in self.objects.iter() {
            let name = object
                .name
                .parse()
                .map_err(|e| BridgeError::Naming(format!("name {:?}: {e}", object.name)))?;
            let ior = ithaca_idl::ior::Ior::from_ior_string(&object.ior)
                .map_err(|e| BridgeError::Naming(e.to_string()))?;
            client
                .rebind(&name, &ior)
                .await
                .map_err(|e| BridgeError::Naming(format!("binding {:?}: {e}", object.name)))?;
        }
        Ok(())
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// The published objects.
    pub fn objects(&self) -> &[PublishedObject] {
        &self.objects
    }

    /// `GET /bridge/objects` (an admin route): the published objects as
    /// JSON.
    pub fn routes(&self) -> Router {
        let objects = self.objects.clone();
        Router::new().admin_route(
            "/bridge/objects",
            "bridge_objects",
            move |request: Request| {
                let objects = objects.clone();
                async move { objects_response(&request, &objects) }
            },
        )
    }

    /// Stops the listener (its connections close).
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

fn objects_response(request: &Request, objects: &[PublishedObject]) -> Response {
    if request.method() != http::Method::GET {
        let mut response = text_response(StatusCode::METHOD_NOT_ALLOWED, "use GET\n");
        response
            .headers_mut()
            .insert(http::header::ALLOW, http::HeaderValue::from_static("GET"));
        return response;
    }
    match serde_json::to_vec_pretty(objects) {
        Ok(bytes) => {
            let mut response = http::Response::new(full(bytes));
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            response
        }
        Err(error) => text_response(StatusCode::INTERNAL_SERVER_ERROR, format!("{error}\n")),
    }
}

/// The contract and backend of one configured object.
async fn object_parts(
    object: &SoapObjectConfig,
    hosted: &Router,
    timeout: Duration,
) -> Result<(Arc<BridgedContract>, Backend), BridgeError> {
    let contract_error = |source| BridgeError::Contract {
        name: object.name.clone(),
        source,
    };
    let object_error = |message: String| BridgeError::Object {
        name: object.name.clone(),
        message,
    };
    let port = object.port.as_deref();
    match (&object.service, &object.wsdl) {
        (Some(service), _) => {
            let known = hosted_services();
            let service = known.iter().find(|s| s.name == service).ok_or_else(|| {
                object_error(format!(
                    "no hosted service {service:?} (hosted: {})",
                    known.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
                ))
            })?;
            let contract =
                BridgedContract::load(service.wsdl_name, service.wsdl.as_bytes(), None, port)
                    .map_err(contract_error)?;
            let path = match contract.soap_version {
                ithaca_wsdl::SoapVersion::Soap11 => service.path.to_owned(),
                ithaca_wsdl::SoapVersion::Soap12 => format!("{}/soap12", service.path),
            };
            let backend = Backend::Hosted {
                router: hosted.clone(),
                path,
                version: contract.soap_version,
                timeout,
            };
            Ok((Arc::new(contract), backend))
        }
        (None, Some(wsdl)) => {
            let contract = load_file_contract(wsdl, port).map_err(contract_error)?;
            let url = object
                .url
                .clone()
                .or_else(|| contract.address.clone())
                .ok_or_else(|| object_error("no url, and the WSDL port has no address".into()))?;
            let client = SoapClient::new(&url, contract.soap_version)
                .map_err(|e| object_error(e.to_string()))?
                .with_timeout(timeout)
                .with_max_response_size(backend::MAX_RESPONSE_SIZE);
            Ok((Arc::new(contract), Backend::Remote(Box::new(client))))
        }
        (None, None) => Err(object_error("set wsdl or service".into())),
    }
}

fn load_file_contract(path: &Path, port: Option<&str>) -> Result<BridgedContract, ContractError> {
    let text = std::fs::read(path)
        .map_err(|e| ContractError::Wsdl(format!("cannot read {}: {e}", path.display())))?;
    BridgedContract::load(&path.display().to_string(), &text, Some(path), port)
}

fn bracket_host(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

/// %-escapes an object key for a corbaloc URL (RFC 2396 unreserved and
/// the corbaloc punctuation stay as they are).
fn percent_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b";/:?@&=+$,-_.!~*'()".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
