//! One SOAP service seen as a CORBA interface: its WSDL loaded, the IDL
//! `wsdl_to_idl` derives from it analysed into TypeCodes, and each GIOP
//! operation paired with the WSDL operation of the chosen port.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use ithaca_idl::dynamic::Operation;
use ithaca_idl::front::{self, model::DeclKind};
use ithaca_wsdl::wsdl11::{OperationInfo, Style};
use ithaca_wsdl::xsd::ResolvedType;
use ithaca_wsdl::{LoadOptions, Loaded, QName, SoapVersion, load_bytes};

use super::simple_path::SimplePlan;
use super::values::{ChildElement, ConvertError, Converter, SlotKind};
use crate::bridge::mapping::{WsdlToIdlOptions, idl_identifier, wsdl_to_idl};

/// Why a SOAP service cannot be published as a CORBA object.
#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    /// The WSDL could not be read or loaded.
    #[error("{0}")]
    Wsdl(String),
    /// `wsdl_to_idl` refused it, or its IDL did not analyse.
    #[error("the IDL derived from the WSDL: {0}")]
    Idl(String),
    /// The service, port or interface asked for is not there.
    #[error("{0}")]
    NotFound(String),
}

/// Where a message's parameters live in the SOAP body.
#[derive(Clone, Debug)]
pub enum MessageShape<'s> {
    /// Document/literal wrapped: the children of the one part's element.
    Wrapped(Vec<ChildElement<'s>>),
    /// One element or accessor per part (rpc style, or several parts).
    Parts(Vec<ChildElement<'s>>),
}

impl<'s> MessageShape<'s> {
    /// The slots of the parameters.
    pub fn slots(&self) -> &[ChildElement<'s>] {
        match self {
            Self::Wrapped(slots) | Self::Parts(slots) => slots,
        }
    }
}

/// A GIOP operation and the WSDL operation it is sent as.
#[derive(Clone, Debug)]
pub struct BridgedOperation {
    /// The IDL signature (TypeCodes).
    pub idl: Operation,
    /// The WSDL operation on the chosen port's binding.
    pub wsdl: OperationInfo,
    /// Its one-pass path, made when the contract is loaded.
    pub simple: SimplePlan,
}

/// A SOAP service as a CORBA interface.
#[derive(Debug)]
pub struct BridgedContract {
    /// The loaded WSDL.
    pub loaded: Arc<Loaded>,
    /// The IDL text `wsdl_to_idl` produced (what CORBA clients compile).
    pub idl: String,
    /// The interface's scoped name (`ithaca_bench_echo::EchoPortType`).
    pub interface: String,
    /// Its repository id.
    pub repository_id: String,
    /// The repository ids of its bases.
    pub bases: Vec<String>,
    /// The operations by GIOP name.
    pub operations: HashMap<String, BridgedOperation>,
    /// The port's `soap:address`.
    pub address: Option<String>,
    /// The port's SOAP version.
    pub soap_version: SoapVersion,
}

impl BridgedContract {
    /// Loads the WSDL `text` (named `name` in messages; imports resolved
    /// next to `base_dir` when given) and pairs the IDL interface of the
    /// port `port` (or the first SOAP port) with its operations.
    pub fn load(
        name: &str,
        text: &[u8],
        file: Option<&Path>,
        port: Option<&str>,
    ) -> Result<Self, ContractError> {
        let loaded = match file {
            Some(path) => ithaca_wsdl::load_file(path, &LoadOptions::default()),
            None => load_bytes(name, text, &LoadOptions::default()),
        };
        if loaded.has_errors() {
            let first = loaded
                .errors()
                .next()
                .map(|d| format!("{}:{}: {}", d.location.file, d.location.line, d.message))
                .unwrap_or_default();
            return Err(ContractError::Wsdl(format!(
                "{name} does not load: {first}"
            )));
        }
        let idl = idl_of(name, text, file)?;
        let analysed = front::analyze_str(&idl);
        if let Some(error) = analysed
            .diagnostics
            .iter()
            .find(|d| d.severity == front::Severity::Error)
        {
            return Err(ContractError::Idl(error.message.clone()));
        }
        let model = analysed.model;

        let definitions = &loaded.definitions;
        let (chosen_port, service_port) = definitions
            .services
            .iter()
            .flat_map(|s| s.ports.iter())
            .filter(|p| port.is_none_or(|wanted| p.name == wanted))
            .find(|p| {
                definitions
                    .bindings
                    .get(&p.binding)
                    .is_some_and(|b| b.soap.is_some())
            })
            .map(|p| (p.binding.clone(), p.clone()))
            .ok_or_else(|| {
                ContractError::NotFound(match port {
                    Some(port) => format!("{name} has no SOAP port {port:?}"),
                    None => format!("{name} has no SOAP port"),
                })
            })?;
        let wsdl_ops: Vec<OperationInfo> = definitions
            .operations(&loaded.schema)
            .into_iter()
            .filter(|o| o.binding == chosen_port)
            .collect();
        let port_type = wsdl_ops
            .first()
            .map(|o| o.port_type.clone())
            .ok_or_else(|| {
                ContractError::NotFound(format!("{name}: the port has no operations"))
            })?;
        let wanted = idl_identifier(&port_type.local);
        let decl = model
            .decls
            .iter()
            .find(|d| matches!(d.kind, DeclKind::Interface { .. }) && d.name == wanted)
            .ok_or_else(|| {
                ContractError::NotFound(format!(
                    "{name}: no IDL interface {wanted} for the port type {}",
                    port_type.local
                ))
            })?;
        let interface = decl.scoped_name.clone();
        let repository_id = decl.repo_id.clone();
        let bases = model
            .find_id(&interface)
            .map(|id| {
                model
                    .all_bases(id)
                    .into_iter()
                    .filter_map(|b| model.get(b).map(|d| d.repo_id.clone()))
                    .collect()
            })
            .unwrap_or_default();
        let idl_ops = Operation::all_from_model(&model, &interface)
            .map_err(|e| ContractError::Idl(e.to_string()))?;
        let mut operations = HashMap::new();
        for idl_op in idl_ops {
            let Some(wsdl_op) = wsdl_ops.iter().find(|o| o.name == idl_op.name).or_else(|| {
                wsdl_ops
                    .iter()
                    .find(|o| idl_identifier(&o.name) == idl_op.name)
            }) else {
                continue;
            };
            operations.insert(
                idl_op.name.clone(),
                BridgedOperation {
                    idl: idl_op,
                    wsdl: wsdl_op.clone(),
                    simple: SimplePlan::default(),
                },
            );
        }
        let mut contract = Self {
            loaded: Arc::new(loaded),
            idl,
            interface,
            repository_id,
            bases,
            operations,
            address: service_port.address.clone(),
            soap_version: service_port.soap_version.unwrap_or(SoapVersion::Soap11),
        };
        let plans: Vec<(String, SimplePlan)> = contract
            .operations
            .iter()
            .map(|(name, op)| (name.clone(), SimplePlan::new(&contract, &op.idl, &op.wsdl)))
            .collect();
        for (name, plan) in plans {
            if let Some(op) = contract.operations.get_mut(&name) {
                op.simple = plan;
            }
        }
        Ok(contract)
    }

    /// The operations whose messages hold a construct the conversions
    /// refuse (wildcards, `xs:anyType`, …), by GIOP name, with the first
    /// such construct: calls to them answer a system exception, so
    /// start-up reports them.
    pub fn unconverted_operations(&self) -> Vec<(String, ConvertError)> {
        let converter = Converter::new(&self.loaded.schema);
        let mut out = Vec::new();
        for (name, op) in &self.operations {
            let check = |input: bool| -> Result<(), ConvertError> {
                let shape = self.shape(&op.wsdl, input)?;
                let mut seen = Vec::new();
                for slot in shape.slots() {
                    let path = format!("/{}", slot.name.local);
                    match &slot.kind {
                        SlotKind::Choice(branches) => {
                            for branch in branches {
                                converter.check_type(branch.ty, &path, &mut seen, 0)?;
                            }
                        }
                        _ => converter.check_type(slot.ty, &path, &mut seen, 0)?,
                    }
                }
                Ok(())
            };
            if let Err(error) = check(true).and_then(|()| check(false)) {
                out.push((name.clone(), error));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Where the parameters of `op`'s input (`input`) or output message
    /// are, after `wsdl_to_idl`'s wrapper rule.
    pub fn shape<'s>(
        &'s self,
        op: &OperationInfo,
        input: bool,
    ) -> Result<MessageShape<'s>, ConvertError> {
        let converter = Converter::new(&self.loaded.schema);
        let definitions = &self.loaded.definitions;
        let info = if input { &op.input } else { &op.output };
        let Some(info) = info else {
            return Ok(MessageShape::Parts(Vec::new()));
        };
        let message = definitions.messages.get(&info.message);
        let parts: Vec<_> = info
            .parts
            .iter()
            .filter_map(|name| message.and_then(|m| m.part(name)))
            .collect();
        if op.style == Style::Document
            && let [part] = parts.as_slice()
            && let Some(element) = &part.element
            && let Some(decl) = self.loaded.schema.element(element)
            && let Some(ty @ ResolvedType::Complex(_)) = converter.element_type(decl)
            && let Ok(children) = converter.children(Some(ty), "/")
            && children.iter().all(ChildElement::is_element)
        {
            return Ok(MessageShape::Wrapped(children));
        }
        let mut slots = Vec::with_capacity(parts.len());
        for part in parts {
            let (name, ty) = match &part.element {
                Some(element) => {
                    let decl = self.loaded.schema.element(element);
                    (
                        if op.style == Style::Rpc {
                            QName::unqualified(part.name.clone())
                        } else {
                            element.clone()
                        },
                        decl.and_then(|d| converter.element_type(d)),
                    )
                }
                None => (
                    QName::unqualified(part.name.clone()),
                    part.type_name
                        .as_ref()
                        .and_then(|t| self.loaded.schema.resolve_named_type(t)),
                ),
            };
            slots.push(ChildElement {
                name,
                ty,
                occurs: ithaca_wsdl::xsd::model::Occurs::ONCE,
                kind: SlotKind::Element,
            });
        }
        Ok(MessageShape::Parts(slots))
    }
}

/// The IDL `ithaca wsdl2idl` gives for the WSDL (written to a scratch file
/// when it is not one already, since the mapping reads files).
fn idl_of(name: &str, text: &[u8], file: Option<&Path>) -> Result<String, ContractError> {
    let options = WsdlToIdlOptions::default();
    let mapped = match file {
        Some(path) => wsdl_to_idl(path, &options),
        None => {
            // One directory per call: contracts may load concurrently.
            static SCRATCH: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let serial = SCRATCH.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let dir = std::env::temp_dir().join(format!(
                "ithaca-iiopfront-{}-{serial}-{}",
                std::process::id(),
                idl_identifier(name)
            ));
            std::fs::create_dir_all(&dir)
                .map_err(|e| ContractError::Wsdl(format!("scratch directory: {e}")))?;
            let path = dir.join("service.wsdl");
            let written = std::fs::write(&path, text);
            let mapped = written
                .map_err(|e| ContractError::Wsdl(format!("scratch file: {e}")))
                .map(|()| wsdl_to_idl(&path, &options));
            let _ = std::fs::remove_dir_all(&dir);
            mapped?
        }
    };
    match mapped {
        Ok(mapping) => Ok(mapping.idl),
        Err(crate::bridge::mapping::MappingError::Diagnostics(diagnostics)) => {
            Err(ContractError::Idl(
                diagnostics
                    .first()
                    .map(ToString::to_string)
                    .unwrap_or_else(|| "the mapping failed".into()),
            ))
        }
        Err(error) => Err(ContractError::Idl(error.to_string())),
    }
}
