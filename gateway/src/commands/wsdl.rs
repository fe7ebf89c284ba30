//! `ithaca wsdl check FILE...`: loads each WSDL or XSD file with its local
//! imports and includes, prints every diagnostic as
//! `file:line:col: severity: message` and one line per SOAP operation.
//! Like lenient toolkits, it accepts with a warning an unbound or
//! undeclared prefix and a reference defined nowhere; `--strict` fails on
//! those too.
//!
//! `ithaca wsdl describe FILE [--json]`: the services, SOAP ports and
//! operations of one contract; with `--json`, one JSON document
//! `{"services":[{"name","ports":[{"name","binding","soap_version",
//! "address","operations":[{"name","style","use","soap_action","input",
//! "output","faults"}]}]}]}` with every QName written `{namespace}local`
//! (`input`/`output` are the body's first child, the rpc wrapper for rpc
//! style; each fault is its detail element, or its message when its part
//! has a type).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use ithaca_wsdl::wsdl11::OperationInfo;
use ithaca_wsdl::{LoadOptions, Loaded, load_file};
use serde::Serialize;

/// Checks each file; exit status 1 when any has an error (with `strict`,
/// also when any has a warning about something tolerated).
pub(crate) fn check(files: &[PathBuf], strict: bool) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    let mut out = std::io::stdout().lock();
    for path in files {
        let started = Instant::now();
        let loaded = load_file(path, &LoadOptions::default());
        let elapsed = started.elapsed();
        for diagnostic in &loaded.diagnostics {
            eprintln!("{diagnostic}");
        }
        let name = path.display();
        for op in loaded.definitions.operations(&loaded.schema) {
            let body = op
                .input
                .as_ref()
                .and_then(|input| input.body_name.as_ref())
                .map_or_else(|| "-".to_owned(), ToString::to_string);
            writeln!(
                out,
                "{name}: operation {} {} SOAP {} {}/{} {:?} body {body}",
                op.binding, op.name, op.soap_version, op.style, op.use_kind, op.parameter_style,
            )?;
        }
        let errors = loaded.errors().count();
        writeln!(
            out,
            "{name}: {} documents, {errors} errors, {} warnings, loaded in {:.1} ms",
            loaded.documents.len(),
            loaded.diagnostics.len() - errors,
            elapsed.as_secs_f64() * 1000.0
        )?;
        failed |= if strict {
            loaded.has_strict_errors()
        } else {
            loaded.has_errors()
        };
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The JSON document `ithaca wsdl describe --json` prints.
#[derive(Debug, Serialize)]
struct Description {
    services: Vec<ServiceDescription>,
}

#[derive(Debug, Serialize)]
struct ServiceDescription {
    name: String,
    ports: Vec<PortDescription>,
}

#[derive(Debug, Serialize)]
struct PortDescription {
    name: String,
    binding: String,
    soap_version: String,
    address: Option<String>,
    operations: Vec<OperationDescription>,
}

#[derive(Debug, Serialize)]
struct OperationDescription {
    name: String,
    style: String,
    #[serde(rename = "use")]
    use_kind: String,
    soap_action: Option<String>,
    input: Option<String>,
    output: Option<String>,
    faults: Vec<String>,
}

/// The SOAP ports of every service of a loaded contract, with their
/// operations. Ports whose binding is not a SOAP binding (HTTP, JMS…) are
/// left out.
fn describe_loaded(loaded: &Loaded) -> Description {
    let definitions = &loaded.definitions;
    let operations = definitions.operations(&loaded.schema);
    let services = definitions
        .services
        .iter()
        .map(|service| ServiceDescription {
            name: service.name.to_string(),
            ports: service
                .ports
                .iter()
                .filter_map(|port| {
                    let soap = definitions.bindings.get(&port.binding)?.soap.as_ref()?;
                    Some(PortDescription {
                        name: port.name.clone(),
                        binding: port.binding.to_string(),
                        soap_version: soap.version.to_string(),
                        address: port.address.clone(),
                        operations: operations
                            .iter()
                            .filter(|op| op.binding == port.binding)
                            .map(describe_operation)
                            .collect(),
                    })
                })
                .collect(),
        })
        .collect();
    Description { services }
}

fn describe_operation(op: &OperationInfo) -> OperationDescription {
    let body = |info: Option<&ithaca_wsdl::wsdl11::BodyInfo>| {
        info.and_then(|i| i.body_name.as_ref())
            .map(ToString::to_string)
    };
    OperationDescription {
        name: op.name.clone(),
        style: op.style.to_string(),
        use_kind: op.use_kind.to_string(),
        soap_action: op.soap_action.clone(),
        input: body(op.input.as_ref()),
        output: body(op.output.as_ref()),
        faults: op
            .faults
            .iter()
            .map(|fault| fault.element.as_ref().unwrap_or(&fault.message).to_string())
            .collect(),
    }
}

/// Prints the services, ports and operations of one contract: as JSON
/// with `json`, else as an indented outline. Diagnostics go to stderr;
/// exit status 1 when the contract has errors (nothing is printed then).
pub(crate) fn describe(path: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let loaded = load_file(path, &LoadOptions::default());
    for diagnostic in &loaded.diagnostics {
        eprintln!("{diagnostic}");
    }
    if loaded.has_errors() {
        return Ok(ExitCode::FAILURE);
    }
    let description = describe_loaded(&loaded);
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer(&mut out, &description)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    for service in &description.services {
        writeln!(out, "service {}", service.name)?;
        for port in &service.ports {
            writeln!(
                out,
                "  port {} (SOAP {}, binding {}) at {}",
                port.name,
                port.soap_version,
                port.binding,
                port.address.as_deref().unwrap_or("-")
            )?;
            for op in &port.operations {
                writeln!(
                    out,
                    "    {} {}/{} action {:?} in {} out {}{}",
                    op.name,
                    op.style,
                    op.use_kind,
                    op.soap_action.as_deref().unwrap_or(""),
                    op.input.as_deref().unwrap_or("-"),
                    op.output.as_deref().unwrap_or("-"),
                    if op.faults.is_empty() {
                        String::new()
                    } else {
                        format!(" faults {}", op.faults.join(" "))
                    }
                )?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
