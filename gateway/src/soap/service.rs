//! The hosting API: a contract plus handlers becomes gateway routes.

use std::collections::HashSet;
use std::sync::Arc;

use ithaca_wsdl::value::ValueLimits;
use ithaca_wsdl::wsdl11::OperationKind;
use ithaca_wsdl::xsd::InstanceLimits;
use ithaca_wsdl::{Limits, QName, SoapVersion};

use super::contract::Contract;
use super::dispatch::{Key, Table};
use super::dynamic::{DynamicHandler, DynamicOperation};
use super::endpoint::{Endpoint, EndpointHandler, Operation, Shared};
use super::error::SetupError;
use super::handler::OperationHandler;
use crate::router::Router;

/// A SOAP service hosted by the gateway: one `wsdl:service` of a
/// [`Contract`] and a handler per operation. See [`SoapService::builder`].
#[derive(Debug, Clone, Copy)]
pub struct SoapService;

impl SoapService {
    /// Starts hosting `contract`.
    ///
    /// By default the first `wsdl:service` is hosted under
    /// `/services/NAME`: its first SOAP 1.1 port at that path, its first
    /// SOAP 1.2 port at `/services/NAME/soap12` (or at `/services/NAME`
    /// when it has no SOAP 1.1 port), any other port at
    /// `/services/NAME/PORT`. Requests are validated against the schema.
    pub fn builder(contract: Contract) -> SoapServiceBuilder {
        SoapServiceBuilder {
            contract,
            service: None,
            base_path: None,
            port_paths: Vec::new(),
            published_elsewhere: Vec::new(),
            handlers: Vec::new(),
            validate: true,
            limits: Limits::DEFAULT,
            instance_limits: InstanceLimits::DEFAULT,
            understood: Vec::new(),
            roles: Vec::new(),
            public_url: None,
        }
    }
}

/// Configures a [`SoapService`]; [`SoapServiceBuilder::build`] gives the
/// [`Router`] to pass to [`Gateway::routes`](crate::Gateway::routes).
///
/// ```
/// use ithaca_gateway::soap::{Contract, SoapError, SoapRequest, SoapService};
///
/// let contract = Contract::from_bytes("echo.wsdl", ithaca_services::echo::WSDL)?;
/// let router = SoapService::builder(contract)
///     .operation("echoString", |request: SoapRequest| async move {
///         ithaca_services::echo::echo_string(request.body())
///             .map_err(|e| SoapError::sender(e.to_string()))
///     })
///     .build()?;
/// assert!(router.lookup("/services/EchoService").is_some());
/// assert!(router.lookup("/services/EchoService/soap12").is_some());
/// # Ok::<(), ithaca_gateway::soap::SetupError>(())
/// ```
pub struct SoapServiceBuilder {
    contract: Contract,
    service: Option<String>,
    base_path: Option<String>,
    port_paths: Vec<(String, String)>,
    /// Ports of other services of the contract, as `port_key`s, and the
    /// paths they are served at by other routes.
    published_elsewhere: Vec<(String, String)>,
    handlers: Vec<(String, Arc<dyn OperationHandler>)>,
    validate: bool,
    limits: Limits,
    instance_limits: InstanceLimits,
    understood: Vec<QName>,
    roles: Vec<String>,
    public_url: Option<String>,
}

impl std::fmt::Debug for SoapServiceBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoapServiceBuilder")
            .field("contract", &self.contract.name())
            .field("service", &self.service)
            .field("base_path", &self.base_path)
            .field(
                "handlers",
                &self
                    .handlers
                    .iter()
                    .map(|(name, _)| name)
                    .collect::<Vec<_>>(),
            )
            .field("validate", &self.validate)
            .finish_non_exhaustive()
    }
}

impl SoapServiceBuilder {
    /// Hosts the `wsdl:service` with this local name instead of the first.
    pub fn service(mut self, name: &str) -> Self {
        self.service = Some(name.to_owned());
        self
    }

    /// Mounts the service under `path` instead of `/services/NAME`.
    pub fn base_path(mut self, path: &str) -> Self {
        self.base_path = Some(path.trim_end_matches('/').to_owned());
        self
    }

    /// Mounts the port named `port` at exactly `path`.
    pub fn port_path(mut self, port: &str, path: &str) -> Self {
        self.port_paths.push((port.to_owned(), path.to_owned()));
        self
    }

    /// Publishes, in this service's `?wsdl`, the address of the port `port`
    /// of another service `service` of the contract as `path` on this
    /// gateway (where another [`SoapService`] serves it), instead of the
    /// address the contract gives. Without this, `?wsdl` rewrites only the
    /// addresses of this service's ports.
    pub fn publish_port_of(mut self, service: &str, port: &str, path: &str) -> Self {
        self.published_elsewhere
            .push((super::publish::port_key(service, port), path.to_owned()));
        self
    }

    /// Registers the handler of the operation named `name` (in every
    /// binding of the service). An operation without a handler answers a
    /// Server / Receiver fault.
    pub fn operation(mut self, name: &str, handler: impl OperationHandler) -> Self {
        self.handlers.push((name.to_owned(), Arc::new(handler)));
        self
    }

    /// Registers a dynamic handler for the operation named `name`: it gets
    /// the request decoded into a value and answers a value, each encoded
    /// by the binding the request came through (document/literal,
    /// rpc/literal or rpc/encoded); see [`DynamicHandler`]. Values are
    /// decoded under [`ValueLimits::DEFAULT`] with the XML limits set so
    /// far by [`SoapServiceBuilder::limits`].
    pub fn dynamic_operation(self, name: &str, handler: impl DynamicHandler) -> Self {
        let limits = ValueLimits {
            xml: self.limits,
            ..ValueLimits::DEFAULT
        };
        let operation = DynamicOperation::new(self.contract.loaded_arc(), name, handler, limits);
        self.operation(name, operation)
    }

    /// Turns schema validation of requests on (the default) or off.
    pub fn validation(mut self, on: bool) -> Self {
        self.validate = on;
        self
    }

    /// Bounds on request envelopes (default [`Limits::DEFAULT`]).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Bounds on request validation (default [`InstanceLimits::DEFAULT`]).
    pub fn instance_limits(mut self, limits: InstanceLimits) -> Self {
        self.instance_limits = limits;
        self
    }

    /// Declares a header block the handlers understand, so that it may be
    /// sent with `mustUnderstand`. The header blocks the contract binds
    /// (`soap:header`) are understood without this.
    pub fn understands(mut self, header: QName) -> Self {
        self.understood.push(header);
        self
    }

    /// A role (SOAP 1.2) or actor (SOAP 1.1) URI this service plays besides
    /// the ultimate receiver.
    pub fn role(mut self, uri: &str) -> Self {
        self.roles.push(uri.to_owned());
        self
    }

    /// The base URL `?wsdl` publishes (such as `https://api.example.com`,
    /// behind a reverse proxy), instead of `http://` and the request's
    /// `Host`. Port paths are appended to it.
    pub fn public_url(mut self, url: &str) -> Self {
        self.public_url = Some(url.to_owned());
        self
    }

    /// Builds the routes: one per SOAP port.
    pub fn build(self) -> Result<Router, SetupError> {
        let loaded = self.contract.loaded_arc();
        let definitions = &loaded.definitions;
        let service = match &self.service {
            Some(name) => definitions.service(name),
            None => definitions.services.first(),
        }
        .ok_or_else(|| SetupError::NoSuchService {
            name: self.contract.name().to_owned(),
            service: self.service.clone().unwrap_or_default(),
        })?;
        let service_name = service.name.local.clone();
        let operations = definitions.operations(&loaded.schema);

        // The SOAP ports and where each is mounted.
        let ports: Vec<(&str, &QName, SoapVersion)> = service
            .ports
            .iter()
            .filter_map(|port| {
                let soap = definitions.bindings.get(&port.binding)?.soap.as_ref()?;
                Some((port.name.as_str(), &port.binding, soap.version))
            })
            .collect();
        if ports.is_empty() {
            return Err(SetupError::NoSoapPort {
                service: service_name,
            });
        }
        let base = self
            .base_path
            .clone()
            .unwrap_or_else(|| format!("/services/{service_name}"));
        let has_soap11 = ports.iter().any(|(_, _, v)| *v == SoapVersion::Soap11);
        let mut first_of = [true, true];
        let mut paths: Vec<(String, String)> = Vec::new();
        for (name, _, version) in &ports {
            let slot = usize::from(*version == SoapVersion::Soap12);
            let default = if first_of.get(slot).copied().unwrap_or(false) {
                match version {
                    SoapVersion::Soap11 => base.clone(),
                    SoapVersion::Soap12 if has_soap11 => format!("{base}/soap12"),
                    SoapVersion::Soap12 => base.clone(),
                }
            } else {
                format!("{base}/{name}")
            };
            if let Some(first) = first_of.get_mut(slot) {
                *first = false;
            }
            let path = self
                .port_paths
                .iter()
                .find(|(port, _)| port == name)
                .map_or(default, |(_, path)| path.clone());
            if !path.starts_with('/') || path.contains(['?', '#']) {
                return Err(SetupError::InvalidPath { path });
            }
            if paths.iter().any(|(_, taken)| *taken == path) {
                return Err(SetupError::DuplicatePath {
                    service: service_name,
                    path,
                });
            }
            paths.push(((*name).to_owned(), path));
        }

        // Handlers must name operations of this service's bindings.
        let bound = |operation: &&ithaca_wsdl::wsdl11::OperationInfo| {
            ports
                .iter()
                .any(|(_, binding, _)| *binding == &operation.binding)
        };
        for (name, _) in &self.handlers {
            if !operations.iter().filter(bound).any(|op| &op.name == name) {
                return Err(SetupError::NoSuchOperation {
                    service: service_name,
                    operation: name.clone(),
                });
            }
        }
        let mut understood: HashSet<QName> = self.understood.iter().cloned().collect();
        for operation in operations.iter().filter(bound) {
            if let Some(input) = &operation.input {
                understood.extend(input.headers.iter().cloned());
            }
        }

        let shared = Arc::new(Shared {
            service: service_name.clone(),
            loaded: loaded.clone(),
            publication: self.contract.publication(),
            port_paths: paths
                .iter()
                .map(|(port, path)| (super::publish::port_key(&service_name, port), path.clone()))
                .chain(self.published_elsewhere.iter().cloned())
                .collect(),
            public_url: self.public_url.clone(),
            validate: self.validate,
            limits: self.limits,
            instance_limits: self.instance_limits,
            understood,
            roles: self.roles.clone(),
        });
        let mut router = Router::new();
        for ((port, binding, version), (_, path)) in ports.iter().zip(&paths) {
            let mine: Vec<&ithaca_wsdl::wsdl11::OperationInfo> = operations
                .iter()
                .filter(|op| &op.binding == *binding)
                .collect();
            let keys = mine
                .iter()
                .map(|op| Key {
                    name: op.name.clone(),
                    action: op.soap_action.clone(),
                    body: op.input.as_ref().and_then(|i| i.body_name.clone()),
                })
                .collect();
            let runtime = mine
                .iter()
                .map(|op| Operation {
                    name: Arc::from(op.name.as_str()),
                    one_way: op.kind == OperationKind::OneWay,
                    validate_as: super::endpoint::body_check(&loaded, op),
                    body_parts: op.input.as_ref().map_or(0, |i| i.parts.len()),
                    faults: op.faults.iter().map(|f| f.name.clone()).collect(),
                    header_faults: op.header_faults.iter().map(|f| f.block.clone()).collect(),
                    handler: self
                        .handlers
                        .iter()
                        .find(|(name, _)| *name == op.name)
                        .map(|(_, handler)| handler.clone()),
                })
                .collect();
            let endpoint = Endpoint {
                shared: shared.clone(),
                version: *version,
                table: Table::new(keys),
                operations: runtime,
            };
            // Route names label metrics; they are made once per port at
            // start-up, so leaking them is bounded.
            let route_name: &'static str =
                Box::leak(format!("soap:{}/{port}", shared.service).into_boxed_str());
            router = router.route(path, route_name, EndpointHandler(Arc::new(endpoint)));
        }
        Ok(router)
    }
}
