//! CORBA objects hosted as SOAP services (the SOAP front of the bridge).
//!
//! Each `[[bridge.corba]]` table ([`CorbaObjectConfig`]) names an IDL
//! file, one of its interfaces and a CORBA object (`IOR:`, `corbaloc:` or
//! `corbaname:`). [`SoapFront::builder`] maps the IDL to WSDL with
//! `bridge::mapping::idl_to_wsdl` and hosts the interface's service at
//! `/services/NAME` (SOAP 1.2 at `/services/NAME/soap12`), `?wsdl`
//! publishing the generated contract. Each request, validated against the
//! generated schema and decoded into a value, is converted by
//! [`values`] to IDL values and sent as a GIOP request, DII style, through
//! one pooled [`Orb`] per object (up to `connections` connections per
//! endpoint, 4 by default: a call takes one no other call is using, as
//! omniORB's own clients do, so a server that answers a connection's
//! calls one at a time does not make a slow call hold up the others;
//! past the bound calls share the least busy one; LOCATION_FORWARD
//! followed) with the object's deadline over the whole call, connection
//! included:
//!
//! - a reply becomes the response (`_return`, then `inout` and `out`);
//! - a user exception becomes its declared fault, its members in the
//!   detail;
//! - a system exception, or a failure to reach the object, becomes a
//!   Server / Receiver fault whose detail is
//!   `<corba:SystemException xmlns:corba="urn:ithaca:bridge:corba">`
//!   holding `id` (the exception's repository id), `minor` and
//!   `completed` (`COMPLETED_YES`, `COMPLETED_NO`, `COMPLETED_MAYBE`);
//!   an object that does not answer within the deadline is `TIMEOUT`;
//! - a value the IDL type cannot hold is a Client / Sender fault naming the
//!   element and the rule ([`values::ConversionError`]).
//!
//! A `corbaname:` target is resolved through its naming service on first
//! use, and resolved again once when a call fails with `TRANSIENT` or
//! `OBJECT_NOT_EXIST` (the object may have moved and been rebound).
//!
//! A request carrying a WS-Coordination 1.2 `CoordinationContext` header
//! goes out with a CosTransactions `PropagationContext` service context
//! ([`txcontext`]).

mod simple_path;
pub mod txcontext;
pub mod values;

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use ithaca_idl::dynamic::{Operation, ReplyValues, TypeCode};
use ithaca_idl::front::{self, Dialect, Options};
use ithaca_idl::giop::{CompletionStatus, ServiceContext, SystemException};
use ithaca_idl::ior::{Corbaloc, Ior};
use ithaca_idl::naming::{Corbaname, NamingClient, ObjectTarget};
use ithaca_idl::orb::{BoundObject, ClientConfig, Orb, OrbError, ReplyBody};
use ithaca_wsdl::value::{Direction, Field, MessageCodec, Value as XmlValue, ValueLimits};
use ithaca_wsdl::wsdl11::OperationInfo;
use ithaca_wsdl::{Fault, FaultCode, Loaded, QName};
use serde::{Deserialize, Serialize};

use crate::bridge::mapping::{
    IdlToWsdlOptions, MappingError, OperationMapping, ParamMode, idl_to_wsdl,
};
use crate::config::HumanDuration;
use crate::router::Router;
use crate::soap::{
    Contract, HandlerFuture, OperationHandler, SetupError, SoapError, SoapRequest, SoapService,
    SoapServiceBuilder,
};
use simple_path::SimplePlan;
use txcontext::{WsatPropagation, coordination_context_name};
use values::{Converter, TypeRegistry};

/// The namespace of the detail element of system-exception faults.
pub const SYSTEM_EXCEPTION_NS: &str = "urn:ithaca:bridge:corba";

/// One CORBA object hosted as a SOAP service: a `[[bridge.corba]]` table.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CorbaObjectConfig {
    /// The service's name: it is hosted at `/services/NAME`.
    pub name: String,
    /// The IDL file that declares the object's interface.
    pub idl: PathBuf,
    /// `#include` directories for the IDL file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<PathBuf>,
    /// The interface's scoped name (`Bench::Echo`); optional when the
    /// file declares one interface.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    /// The object: `IOR:…`, `corbaloc:…` or `corbaname:…`.
    pub target: String,
    /// How long one bridged call may take, connecting included, before
    /// the SOAP client gets a `TIMEOUT` fault (default 5 s).
    #[serde(default = "default_deadline")]
    pub deadline: HumanDuration,
    /// The most GIOP connections kept to the object's server (1 to 64,
    /// default 4): concurrent calls each take one of their own up to
    /// this bound, then share the least busy one.
    #[serde(default = "default_connections")]
    pub connections: usize,
}

fn default_deadline() -> HumanDuration {
    HumanDuration(Duration::from_secs(5))
}

/// The default bound on GIOP connections per bridged object's server.
pub const DEFAULT_CONNECTIONS: usize = 4;

fn default_connections() -> usize {
    DEFAULT_CONNECTIONS
}

impl CorbaObjectConfig {
    /// A configuration with the default deadline.
    pub fn new(name: &str, idl: impl Into<PathBuf>, target: &str) -> Self {
        Self {
            name: name.to_owned(),
            idl: idl.into(),
            include: Vec::new(),
            interface: None,
            target: target.to_owned(),
            deadline: default_deadline(),
            connections: DEFAULT_CONNECTIONS,
        }
    }

    /// Checks what types cannot say, naming the key at fault.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let valid_name = !self.name.is_empty()
            && self.name.len() <= 200
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !valid_name {
            return Err((
                "bridge.corba.name",
                format!(
                    "{:?}: 1 to 200 ASCII letters, digits, `.`, `_` or `-`",
                    self.name
                ),
            ));
        }
        if self.idl.as_os_str().is_empty() {
            return Err((
                "bridge.corba.idl",
                format!("service {:?}: the IDL file is required", self.name),
            ));
        }
        let scheme = self
            .target
            .trim()
            .split_once(':')
            .map(|(s, _)| s.to_ascii_lowercase());
        if !matches!(scheme.as_deref(), Some("ior" | "corbaloc" | "corbaname")) {
            return Err((
                "bridge.corba.target",
                format!(
                    "service {:?}: must be an IOR:, corbaloc: or corbaname: reference",
                    self.name
                ),
            ));
        }
        if self.deadline.get().is_zero() {
            return Err((
                "bridge.corba.deadline",
                format!("service {:?}: must be more than 0", self.name),
            ));
        }
        if !(1..=ithaca_idl::orb::MAX_CONNECTIONS_PER_ENDPOINT).contains(&self.connections) {
            return Err((
                "bridge.corba.connections",
                format!(
                    "service {:?}: must be 1 to {}",
                    self.name,
                    ithaca_idl::orb::MAX_CONNECTIONS_PER_ENDPOINT
                ),
            ));
        }
        Ok(())
    }
}

/// Why a CORBA object cannot be hosted. Each is found at start-up.
#[derive(Debug, thiserror::Error)]
pub enum FrontError {
    /// The IDL does not load or does not map to WSDL.
    #[error("service {name}: {}: {detail}", .idl.display())]
    Mapping {
        /// The service.
        name: String,
        /// The IDL file.
        idl: PathBuf,
        /// The diagnostics, one a line.
        detail: String,
    },
    /// The interface is not in the IDL, or the file has several and none
    /// was named.
    #[error("service {name}: {detail}")]
    Interface {
        /// The service.
        name: String,
        /// What is wrong.
        detail: String,
    },
    /// The target reference does not parse.
    #[error("service {name}: bad target reference: {detail}")]
    Target {
        /// The service.
        name: String,
        /// Why.
        detail: String,
    },
    /// The generated contract could not be hosted.
    #[error("service {name}: {source}")]
    Setup {
        /// The service.
        name: String,
        /// Why.
        #[source]
        source: SetupError,
    },
}

/// Builds the SOAP services of `[[bridge.corba]]` tables.
#[derive(Debug, Clone, Copy)]
pub struct SoapFront;

impl SoapFront {
    /// The routes of every object, `?wsdl` published under `public_url`
    /// when given.
    pub fn routes(
        objects: &[CorbaObjectConfig],
        public_url: Option<&str>,
    ) -> Result<Router, FrontError> {
        let mut router = Router::new();
        for object in objects {
            let builder = Self::builder(object)?;
            let builder = match public_url {
                Some(url) => builder.public_url(url),
                None => builder,
            };
            let routes = builder.build().map_err(|source| FrontError::Setup {
                name: object.name.clone(),
                source,
            })?;
            router = router.merge(&routes);
        }
        Ok(router)
    }

    /// The service of one object with its handlers registered; call
    /// [`SoapServiceBuilder::build`] for its routes.
    pub fn builder(config: &CorbaObjectConfig) -> Result<SoapServiceBuilder, FrontError> {
        let name = config.name.clone();
        let interface = BridgedInterface::load(config)?;
        let target = Target::parse(&config.target).map_err(|detail| FrontError::Target {
            name: name.clone(),
            detail,
        })?;
        let deadline = config.deadline.get();
        let orb = Orb::new(ClientConfig {
            call_timeout: Some(deadline),
            ..ClientConfig::default()
        })
        .with_connections_per_endpoint(config.connections);
        let object = Arc::new(BridgedObject {
            target: target.bind(&orb),
            orb,
            deadline,
        });
        let mut builder = SoapService::builder(interface.contract.clone())
            .service(&format!("{}Service", interface.port_type))
            .base_path(&format!("/services/{name}"))
            .understands(coordination_context_name());
        let interface = Arc::new(interface);
        for (operation, plan) in &interface.operations {
            builder = builder.operation(
                operation,
                BridgedOperation {
                    object: object.clone(),
                    interface: interface.clone(),
                    plan: plan.clone(),
                },
            );
        }
        Ok(builder)
    }
}

/// One CORBA interface as the SOAP front serves it, without its ORB: the
/// WSDL `idl_to_wsdl` generates from its IDL and, per operation, how
/// requests become GIOP arguments and replies become responses (planned
/// once, when it is loaded). [`SoapFront::builder`] hosts one; tests and
/// fuzz targets drive the conversions alone.
#[derive(Debug)]
pub struct BridgedInterface {
    contract: Contract,
    loaded: Arc<Loaded>,
    port_type: String,
    types: TypeRegistry,
    operations: Vec<(String, Arc<OperationPlan>)>,
}

impl BridgedInterface {
    /// Maps the IDL of `config` (its `idl`, `include` and `interface`;
    /// the target is not used) and plans every operation.
    pub fn load(config: &CorbaObjectConfig) -> Result<Self, FrontError> {
        let name = config.name.clone();
        let mapping = idl_to_wsdl(
            &config.idl,
            &IdlToWsdlOptions {
                include_dirs: config.include.clone(),
                address: None,
                partial: false,
            },
        )
        .map_err(|e| FrontError::Mapping {
            name: name.clone(),
            idl: config.idl.clone(),
            detail: match e {
                MappingError::Diagnostics(d) => d
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n"),
                other => other.to_string(),
            },
        })?;
        let model = analyze(&config.idl, &config.include);
        let port_type = pick_interface(config, &mapping.table.operations)?;
        let interface = port_type.replace('.', "::");
        let types = TypeRegistry::from_model(&model);
        let contract = Contract::from_bytes(&format!("{name}.wsdl"), mapping.wsdl.as_bytes())
            .map_err(|source| FrontError::Setup {
                name: name.clone(),
                source,
            })?;
        let loaded = contract.loaded_arc();
        let wsdl_operations = loaded.definitions.operations(&loaded.schema);
        let mut operations = Vec::new();
        for mapping in mapping
            .table
            .operations
            .iter()
            .filter(|o| o.port_type == port_type)
        {
            let operation =
                Operation::from_model(&model, &interface, &mapping.operation).map_err(|e| {
                    FrontError::Interface {
                        name: name.clone(),
                        detail: format!("operation {}: {e}", mapping.operation),
                    }
                })?;
            // Both bindings carry the same document/literal messages: the
            // SOAP 1.1 form serves requests of either version.
            let wsdl = wsdl_operations
                .iter()
                .filter(|o| o.name == mapping.operation && o.port_type.local == port_type)
                .min_by_key(|o| o.soap_version != ithaca_wsdl::SoapVersion::Soap11)
                .cloned()
                .ok_or_else(|| FrontError::Interface {
                    name: name.clone(),
                    detail: format!("operation {}: not in the generated WSDL", mapping.operation),
                })?;
            let plan = OperationPlan::new(operation, mapping.clone(), wsdl, &types);
            operations.push((mapping.operation.clone(), Arc::new(plan)));
        }
        Ok(Self {
            contract,
            loaded,
            port_type,
            types,
            operations,
        })
    }

    /// The generated contract.
    pub fn contract(&self) -> &Contract {
        &self.contract
    }

    /// The WSDL (and GIOP) names of the operations.
    pub fn operations(&self) -> impl Iterator<Item = &str> {
        self.operations.iter().map(|(name, _)| name.as_str())
    }

    /// The repository ids of the user exceptions `operation` raises.
    pub fn exceptions(&self, operation: &str) -> Vec<String> {
        self.plan(operation)
            .map(|plan| {
                plan.operation
                    .exceptions
                    .iter()
                    .filter_map(|e| e.id().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The GIOP arguments of a SOAP request `message` (a whole envelope)
    /// for `operation`, as a bridged call makes them; a refusal is the
    /// fault the client gets.
    pub fn request_arguments(
        &self,
        operation: &str,
        message: &[u8],
    ) -> Result<Vec<ithaca_idl::dynamic::Value>, SoapError> {
        let plan = self
            .plan(operation)
            .ok_or_else(|| SoapError::sender(format!("no operation {operation}")))?;
        let envelope = ithaca_wsdl::read_envelope(message, None, &ithaca_wsdl::Limits::DEFAULT)
            .map_err(|e| SoapError::sender(e.to_string()))?;
        let payload = message
            .get(envelope.body.payload.clone())
            .unwrap_or_default();
        let body = envelope
            .body
            .first_child
            .as_ref()
            .and_then(|child| message.get(child.range.clone()))
            .unwrap_or_default();
        plan.arguments(&self.types, &self.loaded, message, payload, body, &|| {
            envelope.body_scope()
        })
    }

    /// The SOAP response (the response element's bytes) or fault for a
    /// GIOP reply to `operation`, as a bridged call makes it.
    pub fn reply(&self, operation: &str, reply: ReplyBody) -> Result<Vec<u8>, SoapError> {
        let plan = self
            .plan(operation)
            .ok_or_else(|| SoapError::receiver(format!("no operation {operation}")))?;
        plan.reply(&self.types, &self.loaded, reply)
    }

    fn plan(&self, operation: &str) -> Option<&OperationPlan> {
        self.operations
            .iter()
            .find(|(name, _)| name == operation)
            .map(|(_, plan)| plan.as_ref())
    }
}

/// The IDL model, read as `idl_to_wsdl` reads it (CORBA 3, or omniidl's
/// dialect when only that accepts the file).
fn analyze(idl: &Path, include: &[PathBuf]) -> front::model::Model {
    let options = Options {
        include_dirs: include.to_vec(),
        dialect: Dialect::Corba3,
        ..Options::default()
    };
    let output = front::analyze_file(idl, &options);
    if output.has_errors() {
        let retry = front::analyze_file(
            idl,
            &Options {
                dialect: Dialect::Omniidl,
                ..options
            },
        );
        if !retry.has_errors() {
            return retry.model;
        }
    }
    output.model
}

/// The port type of the configured interface, or of the file's only one.
fn pick_interface(
    config: &CorbaObjectConfig,
    operations: &[OperationMapping],
) -> Result<String, FrontError> {
    let mut port_types: Vec<&str> = operations.iter().map(|o| o.port_type.as_str()).collect();
    port_types.dedup();
    port_types.sort_unstable();
    port_types.dedup();
    match &config.interface {
        Some(wanted) => {
            let wanted = wanted.trim_start_matches("::").replace("::", ".");
            port_types
                .iter()
                .find(|p| **p == wanted)
                .map(|p| (*p).to_owned())
                .ok_or_else(|| FrontError::Interface {
                    name: config.name.clone(),
                    detail: format!(
                        "the IDL has no interface {wanted:?} with operations (it has: {})",
                        port_types.join(", ")
                    ),
                })
        }
        None => match port_types.as_slice() {
            [one] => Ok((*one).to_owned()),
            [] => Err(FrontError::Interface {
                name: config.name.clone(),
                detail: "the IDL declares no interface with operations".to_owned(),
            }),
            several => Err(FrontError::Interface {
                name: config.name.clone(),
                detail: format!(
                    "the IDL declares several interfaces ({}): set `interface`",
                    several.join(", ")
                ),
            }),
        },
    }
}

/// Where calls go.
#[derive(Debug)]
enum Target {
    /// An IOR, or a corbaloc URL made into one.
    Fixed(Ior),
    /// A corbaname URL, resolved on first use and again after a failure.
    Named {
        url: Corbaname,
        resolved: Mutex<Option<BoundObject>>,
    },
}

/// Where calls go, read once for many calls: a fixed reference bound at
/// start-up (its profile, endpoint and kept connections), or a name bound
/// each time it is resolved.
#[derive(Debug)]
enum BoundTarget {
    /// A fixed reference: bound, or (a reference no call can use) kept
    /// as it is, so that each call fails as it would.
    Fixed(Result<BoundObject, Ior>),
    /// A corbaname URL and the object it last resolved to.
    Named {
        url: Corbaname,
        resolved: Mutex<Option<BoundObject>>,
    },
}

impl Target {
    fn bind(self, orb: &Orb) -> BoundTarget {
        match self {
            Self::Fixed(ior) => BoundTarget::Fixed(orb.bind(&ior).map_err(|_| ior)),
            Self::Named { url, resolved } => BoundTarget::Named { url, resolved },
        }
    }
}

impl Target {
    fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let scheme = text
            .split_once(':')
            .map(|(s, _)| s.to_ascii_lowercase())
            .unwrap_or_default();
        match scheme.as_str() {
            "ior" => Ior::from_ior_string(text)
                .map(Self::Fixed)
                .map_err(|e| e.to_string()),
            "corbaloc" => Corbaloc::parse(text)
                .and_then(|c| c.to_ior())
                .map(Self::Fixed)
                .map_err(|e| e.to_string()),
            "corbaname" => Corbaname::parse(text)
                .map(|url| Self::Named {
                    url,
                    resolved: Mutex::new(None),
                })
                .map_err(|e| e.to_string()),
            _ => Err("not an IOR:, corbaloc: or corbaname: reference".to_owned()),
        }
    }
}

/// One operation: its IDL signature, its WSDL mapping and its faults,
/// with what each call needs made once at start-up.
#[derive(Debug)]
struct OperationPlan {
    operation: Operation,
    mapping: OperationMapping,
    /// The WSDL operation whose messages requests and responses use.
    wsdl: OperationInfo,
    /// Exception repository id → `wsdl:fault` name.
    fault_names: Vec<(String, String)>,
    /// `/{request}/{param}` of each `in` and `inout` parameter, in order.
    input_paths: Vec<String>,
    /// `/{response}/_return`.
    return_path: String,
    /// `/{response}/{param}` of each `inout` and `out` parameter, in order.
    output_paths: Vec<String>,
    /// The one-pass path, when every parameter and the result are simple.
    simple: Option<SimplePlan>,
}

impl OperationPlan {
    fn new(
        operation: Operation,
        mapping: OperationMapping,
        wsdl: OperationInfo,
        types: &TypeRegistry,
    ) -> Self {
        let fault_names = operation
            .exceptions
            .iter()
            .filter_map(|e| {
                let id = e.id()?;
                let fault = types.get(id)?.xsd_name.clone()?;
                Some((id.to_owned(), fault))
            })
            .collect();
        let request = &mapping.request_element;
        let response = mapping.response_element.clone().unwrap_or_default();
        let input_paths = mapping
            .params
            .iter()
            .filter(|m| m.mode != ParamMode::Out)
            .map(|m| format!("/{request}/{}", m.name))
            .collect();
        let output_paths = mapping
            .params
            .iter()
            .filter(|m| m.mode != ParamMode::In)
            .map(|m| format!("/{response}/{}", m.name))
            .collect();
        let simple = SimplePlan::new(&operation, &mapping);
        Self {
            return_path: format!("/{response}/_return"),
            operation,
            mapping,
            wsdl,
            fault_names,
            input_paths,
            output_paths,
            simple,
        }
    }
}

/// The handler of one bridged operation, as the SOAP path calls it.
struct BridgedOperation {
    object: Arc<BridgedObject>,
    interface: Arc<BridgedInterface>,
    plan: Arc<OperationPlan>,
}

impl OperationHandler for BridgedOperation {
    fn call(&self, request: SoapRequest) -> HandlerFuture {
        let object = self.object.clone();
        let interface = self.interface.clone();
        let plan = self.plan.clone();
        Box::pin(async move { object.call(&interface, &plan, &request).await })
    }
}

impl OperationPlan {
    /// The `in` and `inout` arguments of a request: `message` is the whole
    /// envelope, `payload` the body's content, `body` its first child and
    /// `scope` the namespaces in scope in the body.
    fn arguments(
        &self,
        types: &TypeRegistry,
        loaded: &Loaded,
        message: &[u8],
        payload: &[u8],
        body: &[u8],
        scope: &dyn Fn() -> Vec<ithaca_wsdl::NamespaceBinding>,
    ) -> Result<Vec<ithaca_idl::dynamic::Value>, SoapError> {
        let converter = Converter::new(types);
        if let Some(args) = self
            .simple
            .as_ref()
            .and_then(|simple| simple.arguments(&converter, message, payload, body))
        {
            return Ok(args);
        }
        let value = MessageCodec::new(loaded, &self.wsdl)
            .with_limits(ValueLimits::DEFAULT)
            .decode(Direction::Input, payload, &scope())
            .map_err(|error| {
                SoapError::from(Fault::new(
                    error.fault_code(),
                    format!("the request does not match the contract: {error}"),
                ))
            })?;
        arguments(&converter, self, &value)
    }

    /// The response element, or the fault, for a GIOP reply.
    fn reply(
        &self,
        types: &TypeRegistry,
        loaded: &Loaded,
        reply: ReplyBody,
    ) -> Result<Vec<u8>, SoapError> {
        let converter = Converter::new(types);
        let codec = MessageCodec::new(loaded, &self.wsdl).with_limits(ValueLimits::DEFAULT);
        match reply {
            _ if self.operation.oneway => Ok(Vec::new()),
            ReplyBody::None => Ok(Vec::new()),
            ReplyBody::Return(mut body) => {
                let reply = self.operation.decode_reply(&mut body).map_err(|e| {
                    system_fault(
                        &SystemException::standard(
                            "MARSHAL",
                            SystemException::OMG_VMCID,
                            CompletionStatus::Yes,
                        ),
                        &format!("the reply does not decode: {e}"),
                    )
                })?;
                if let Some(xml) = self
                    .simple
                    .as_ref()
                    .and_then(|simple| simple.response(&converter, &reply.result, &reply.out))
                {
                    return Ok(xml);
                }
                let value = response(&converter, self, &reply)?;
                codec.encode(Direction::Output, &value).map_err(|error| {
                    tracing::warn!(operation = %self.wsdl.name, %error, "a bridged response does not fit the contract");
                    SoapError::from(Fault::new(
                        FaultCode::Receiver,
                        format!("internal error: the response does not match the contract: {error}"),
                    ))
                })
            }
            ReplyBody::UserException { id, mut members } => {
                let exception = self
                    .operation
                    .decode_exception_members(&id, &mut members)
                    .map_err(|e| {
                        system_fault(
                            &SystemException::standard(
                                "UNKNOWN",
                                SystemException::OMG_VMCID | 1,
                                CompletionStatus::Maybe,
                            ),
                            &format!("the object raised a user exception the operation does not declare: {e}"),
                        )
                    })?;
                let fault = self
                    .fault_names
                    .iter()
                    .find(|(rid, _)| *rid == id)
                    .map(|(_, f)| f.clone());
                let (Some(fault), Some(tc)) = (fault, self.operation.exception(&id)) else {
                    return Err(SoapError::receiver(format!(
                        "the CORBA object raised {id}, which has no fault in the contract"
                    )));
                };
                let detail = converter
                    .to_xml(tc, &exception.members, &format!("/{fault}"))
                    .map_err(|e| {
                        SoapError::receiver(format!("the exception {id} cannot be sent: {e}"))
                    })?;
                match codec.encode_fault_detail(&fault, &detail) {
                    Ok(xml) => Err(SoapError::declared(
                        fault,
                        format!("CORBA user exception {id}"),
                        xml,
                    )),
                    Err(error) => {
                        tracing::warn!(operation = %self.wsdl.name, %fault, %error, "a bridged fault detail does not fit the contract");
                        Err(SoapError::receiver(format!(
                            "internal error: the fault `{fault}` does not match the contract: {error}"
                        )))
                    }
                }
            }
            ReplyBody::System(exception) => Err(system_fault(&exception, "")),
            ReplyBody::Forward(_) => Err(system_fault(
                &SystemException::standard(
                    "TRANSIENT",
                    SystemException::OMG_VMCID,
                    CompletionStatus::No,
                ),
                "too many location forwards",
            )),
        }
    }
}

/// One hosted object: its ORB, its target and its deadline.
#[derive(Debug)]
struct BridgedObject {
    orb: Orb,
    target: BoundTarget,
    deadline: Duration,
}

/// How a GIOP call ended, before it becomes a SOAP answer.
enum Outcome {
    Reply(ReplyBody),
    Failed(OrbError),
}

impl BridgedObject {
    async fn call(
        &self,
        interface: &BridgedInterface,
        plan: &OperationPlan,
        request: &SoapRequest,
    ) -> Result<Vec<u8>, SoapError> {
        let args = plan.arguments(
            &interface.types,
            &interface.loaded,
            request.message(),
            &request.payload(),
            request.body(),
            &|| request.body_scope(),
        )?;
        let contexts = transaction_contexts(request)?;
        // One deadline over the whole call (name resolution, connection,
        // forwards, reply), checked by the ORB where it waits: no timer of
        // its own, and none at all for what is ready at once.
        let deadline = tokio::time::Instant::now().checked_add(self.deadline);
        match self.invoke_retrying(plan, &args, &contexts, deadline).await {
            Outcome::Failed(OrbError::Timeout) => Err(system_fault(
                &SystemException::standard(
                    "TIMEOUT",
                    SystemException::OMG_VMCID,
                    CompletionStatus::Maybe,
                ),
                &format!("no reply from the CORBA object within {:?}", self.deadline),
            )),
            Outcome::Failed(error) => Err(system_fault(
                &error.system_exception(),
                &format!("the CORBA object cannot be reached: {error}"),
            )),
            Outcome::Reply(reply) => plan.reply(&interface.types, &interface.loaded, reply),
        }
    }

    /// Calls, and for a `corbaname:` target that failed as if it had moved,
    /// resolves the name again and calls once more.
    async fn invoke_retrying(
        &self,
        plan: &OperationPlan,
        args: &[ithaca_idl::dynamic::Value],
        contexts: &[ServiceContext],
        deadline: Option<Instant>,
    ) -> Outcome {
        let first = self.invoke(plan, args, contexts, false, deadline).await;
        if !matches!(self.target, BoundTarget::Named { .. }) || !moved(&first) {
            return first;
        }
        self.invoke(plan, args, contexts, true, deadline).await
    }

    async fn invoke(
        &self,
        plan: &OperationPlan,
        args: &[ithaca_idl::dynamic::Value],
        contexts: &[ServiceContext],
        fresh: bool,
        deadline: Option<Instant>,
    ) -> Outcome {
        let object = match self.bound_target(fresh, deadline).await {
            Ok(object) => object,
            Err(error) => return Outcome::Failed(error),
        };
        let op = &plan.operation;
        match self
            .orb
            .invoke_bound(&object, &op.name, contexts, !op.oneway, deadline, |w| {
                op.encode_request(args, w)
            })
            .await
        {
            Ok((reply, _)) => Outcome::Reply(reply),
            Err(error) => Outcome::Failed(error),
        }
    }

    /// The object to call: fixed, or the name resolved (again when
    /// `fresh`) by `deadline`.
    async fn bound_target(
        &self,
        fresh: bool,
        deadline: Option<Instant>,
    ) -> Result<Cow<'_, BoundObject>, OrbError> {
        match &self.target {
            BoundTarget::Fixed(Ok(object)) => Ok(Cow::Borrowed(object)),
            // Fails as a call to it would.
            BoundTarget::Fixed(Err(ior)) => self.orb.bind(ior).map(Cow::Owned),
            BoundTarget::Named { url, resolved } => {
                if !fresh && let Some(object) = resolved.lock().ok().and_then(|r| r.clone()) {
                    return Ok(Cow::Owned(object));
                }
                let resolve = resolve_name(url, *self.orb.config());
                let ior = match deadline {
                    None => resolve.await?,
                    Some(deadline) => tokio::time::timeout_at(deadline, resolve)
                        .await
                        .map_err(|_| OrbError::Timeout)??,
                };
                let object = self.orb.bind(&ior)?;
                if let Ok(mut slot) = resolved.lock() {
                    *slot = Some(object.clone());
                }
                Ok(Cow::Owned(object))
            }
        }
    }
}

/// Resolves a corbaname URL through its naming context.
async fn resolve_name(url: &Corbaname, config: ClientConfig) -> Result<Ior, OrbError> {
    let naming_error = |e: ithaca_idl::naming::NamingError| match e {
        ithaca_idl::naming::NamingError::Orb(error) => error,
        other => OrbError::NoAddress(naming_failure(&other)),
    };
    let context = ObjectTarget::from_corbaloc(&url.context)
        .await
        .map_err(naming_error)?;
    match &url.name {
        None => url.context.to_ior().map_err(OrbError::Giop),
        Some(name) => {
            let mut client = NamingClient::connect(context, config)
                .await
                .map_err(naming_error)?;
            client.resolve(name).await.map_err(naming_error)
        }
    }
}

/// A static description of a naming failure that is not a transport one
/// (the name is not bound, or the reply is not a reference).
fn naming_failure(error: &ithaca_idl::naming::NamingError) -> &'static str {
    tracing::debug!(%error, "corbaname resolution failed");
    "the corbaname name does not resolve"
}

/// Whether a failure means the object may have moved: TRANSIENT or
/// OBJECT_NOT_EXIST, from the object or from the transport.
fn moved(outcome: &Outcome) -> bool {
    let id = match outcome {
        Outcome::Reply(ReplyBody::System(e)) => e.exception_id.clone(),
        Outcome::Failed(e) => e.system_exception().exception_id,
        Outcome::Reply(_) => return false,
    };
    id.ends_with("/TRANSIENT:1.0") || id.ends_with("/OBJECT_NOT_EXIST:1.0")
}

/// The `in` and `inout` arguments of the request, in order.
fn arguments(
    converter: &Converter<'_>,
    plan: &OperationPlan,
    value: &XmlValue,
) -> Result<Vec<ithaca_idl::dynamic::Value>, SoapError> {
    let complex = value.as_complex();
    let mut args = Vec::new();
    let params = plan.mapping.params.iter().zip(&plan.operation.params);
    let inputs = params.filter(|(m, _)| m.mode != ParamMode::Out);
    for ((mapped, param), path) in inputs.zip(&plan.input_paths) {
        let field = complex
            .and_then(|c| c.field(&mapped.name))
            .ok_or_else(|| SoapError::sender(format!("{path}: the parameter is missing")))?;
        let arg = converter
            .to_idl(&param.ty, field, path)
            .map_err(|e| SoapError::sender(e.to_string()))?;
        args.push(arg);
    }
    Ok(args)
}

/// The response wrapper's content: `_return`, then `inout` and `out`.
fn response(
    converter: &Converter<'_>,
    plan: &OperationPlan,
    reply: &ReplyValues,
) -> Result<XmlValue, SoapError> {
    let unsendable = |e: values::ConversionError| {
        SoapError::receiver(format!("the CORBA reply cannot be sent: {e}"))
    };
    let mut fields = Vec::new();
    if !matches!(plan.operation.result, TypeCode::Void) {
        let value = converter
            .to_xml(&plan.operation.result, &reply.result, &plan.return_path)
            .map_err(unsendable)?;
        fields.push(Field::unqualified("_return", value));
    }
    let outs = plan
        .mapping
        .params
        .iter()
        .zip(&plan.operation.params)
        .filter(|(m, _)| m.mode != ParamMode::In);
    for (((mapped, param), value), path) in outs.zip(&reply.out).zip(&plan.output_paths) {
        let value = converter
            .to_xml(&param.ty, value, path)
            .map_err(unsendable)?;
        fields.push(Field::unqualified(mapped.name.clone(), value));
    }
    Ok(XmlValue::complex(fields))
}

/// The `TransactionService` context for a request with a WS-AT context.
fn transaction_contexts(soap: &SoapRequest) -> Result<Vec<ServiceContext>, SoapError> {
    static NAME: std::sync::OnceLock<QName> = std::sync::OnceLock::new();
    if soap.header_blocks().is_empty() {
        return Ok(Vec::new());
    }
    let name = NAME.get_or_init(coordination_context_name);
    let Some(block) = soap.header_blocks().iter().find(|b| b.name == *name) else {
        return Ok(Vec::new());
    };
    let bytes = soap.header_block_bytes(block);
    let refuse = |e: txcontext::TxContextError| SoapError::sender(e.to_string());
    let propagation = WsatPropagation::from_header(bytes, &soap.body_scope()).map_err(refuse)?;
    Ok(vec![propagation.service_context().map_err(refuse)?])
}

/// A Server / Receiver fault for a system exception, its id, minor code
/// and completion status in the detail.
fn system_fault(exception: &SystemException, why: &str) -> SoapError {
    let name = exception
        .exception_id
        .strip_prefix("IDL:omg.org/CORBA/")
        .and_then(|n| n.strip_suffix(":1.0"))
        .unwrap_or(&exception.exception_id);
    let completed = match exception.completed {
        CompletionStatus::Yes => "COMPLETED_YES",
        CompletionStatus::No => "COMPLETED_NO",
        CompletionStatus::Maybe => "COMPLETED_MAYBE",
    };
    let mut reason = format!(
        "CORBA system exception {name} (minor {:#010x}, {completed})",
        exception.minor
    );
    if !why.is_empty() {
        reason.push_str(": ");
        reason.push_str(why);
    }
    let mut fault = Fault::new(FaultCode::Receiver, reason);
    fault.detail = Some(format!(
        "<corba:SystemException xmlns:corba=\"{SYSTEM_EXCEPTION_NS}\"><id>{}</id>\
         <minor>{}</minor><completed>{completed}</completed></corba:SystemException>",
        crate::bridge::mapping::xml_escape(&exception.exception_id),
        exception.minor
    ));
    SoapError::Fault(Box::new(fault))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_default_to_four_and_are_bounded() {
        let config: CorbaObjectConfig = toml::from_str(
            "name = \"Bench\"\nidl = \"Bench.idl\"\ntarget = \"corbaloc::1.2@127.0.0.1:2809/Echo\"\n",
        )
        .unwrap();
        assert_eq!(config.connections, DEFAULT_CONNECTIONS);
        assert_eq!(config.validate(), Ok(()));
        for bad in [0, ithaca_idl::orb::MAX_CONNECTIONS_PER_ENDPOINT + 1] {
            let config = CorbaObjectConfig {
                connections: bad,
                ..config.clone()
            };
            let (key, message) = config.validate().unwrap_err();
            assert_eq!(key, "bridge.corba.connections");
            assert!(message.contains("must be 1 to 64"), "{message}");
        }
        let one: CorbaObjectConfig =
            toml::from_str("name = \"B\"\nidl = \"B.idl\"\ntarget = \"IOR:00\"\nconnections = 1\n")
                .unwrap();
        assert_eq!(one.connections, 1);
        assert_eq!(one.validate(), Ok(()));
    }
}
