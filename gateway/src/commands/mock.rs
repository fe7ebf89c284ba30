//! `ithaca mock FILE.wsdl [--listen ADDR]`: hosts every SOAP port of every
//! service of a contract and answers each operation with a schema-valid
//! sample response, as SoapUI's mock services do.
//!
//! Each port is mounted at the path of its `soap:address` (or
//! `/mock/SERVICE/PORT` when the address has no usable path or the path is
//! taken), requests are validated against the schema, `?wsdl` publishes
//! the contract with the mock's address for every port of every service
//! (not only the port asked), and the sample of each
//! operation's output comes from `ithaca_wsdl`'s sample generator (see
//! `SchemaSet::sample_element`), built once at start-up.

use std::collections::BTreeSet;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use ithaca_gateway::Gateway;
use ithaca_gateway::Router;
use ithaca_gateway::config::Config;
use ithaca_gateway::soap::{Contract, SoapRequest, SoapService};
use ithaca_wsdl::wsdl11::OperationInfo;
use ithaca_wsdl::xsd::SampleLimits;

/// The address `ithaca mock` listens on unless `--listen` says otherwise.
pub(crate) const DEFAULT_LISTEN: &str = "127.0.0.1:8088";

/// One mocked port: where it is mounted.
struct MockedPort {
    service: String,
    port: String,
    version: String,
    path: String,
}

/// Hosts the contract at `file` until SIGTERM or SIGINT.
pub(crate) fn mock(file: &Path, listen: &str) -> anyhow::Result<ExitCode> {
    let listen: SocketAddr = listen
        .parse()
        .with_context(|| format!("--listen {listen}: not an address such as 127.0.0.1:8088"))?;
    let contract = match Contract::from_file(file) {
        Ok(contract) => contract,
        Err(error) => {
            eprintln!("ithaca: {error}");
            return Ok(ExitCode::FAILURE);
        }
    };
    for diagnostic in &contract.loaded().diagnostics {
        eprintln!("{diagnostic}");
    }
    let (routes, ports) = routes(&contract)?;
    if ports.is_empty() {
        eprintln!("ithaca: {}: no service has a SOAP port", file.display());
        return Ok(ExitCode::FAILURE);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let data_dir = std::env::temp_dir().join(format!("ithaca-mock-{}", std::process::id()));
    let outcome = runtime.block_on(run(listen, data_dir.clone(), &routes, &ports));
    // The mock keeps nothing: its data directory only satisfies the store.
    let _ = std::fs::remove_dir_all(&data_dir);
    outcome
}

async fn run(
    listen: SocketAddr,
    data_dir: PathBuf,
    routes: &Router,
    ports: &[MockedPort],
) -> anyhow::Result<ExitCode> {
    let mut config = Config::default();
    config.server.listen = listen;
    config.storage.data_dir = data_dir;
    let gateway = match Gateway::new(config).routes(routes).start().await {
        Ok(gateway) => gateway,
        Err(error) => {
            eprintln!("ithaca: {error}");
            return Ok(ExitCode::from(2));
        }
    };
    let base = format!("http://{}", gateway.server_addr());
    // Listen for signals before announcing anything (see `serve`).
    let mut signals = crate::ShutdownSignals::install().context("cannot listen for signals")?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "ithaca mock is running on {base}")?;
    for port in ports {
        writeln!(
            out,
            "  mock: {} {} SOAP {} {base}{}  (contract: {base}{}?wsdl)",
            port.service, port.port, port.version, port.path, port.path
        )?;
    }
    writeln!(out, "stop with Ctrl-C or SIGTERM")?;
    out.flush()?;
    drop(out);
    let signal = signals.next().await;
    tracing::info!(signal, "mock: shutting down");
    gateway.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

/// The routes of every service with SOAP ports, and where each port is.
///
/// Every service's `?wsdl` publishes the mock's address for every mocked
/// port of the contract, its own and those of the other services.
fn routes(contract: &Contract) -> anyhow::Result<(Router, Vec<MockedPort>)> {
    let loaded = contract.loaded();
    let definitions = &loaded.definitions;
    let operations = definitions.operations(&loaded.schema);

    // Where each port of each service is mounted.
    let mut ports: Vec<MockedPort> = Vec::new();
    let mut bindings: Vec<&ithaca_wsdl::QName> = Vec::new();
    let mut taken: BTreeSet<String> = BTreeSet::new();
    let mut hosted: BTreeSet<&str> = BTreeSet::new();
    for service in &definitions.services {
        let name = &service.name.local;
        // Two services with one local name cannot both be picked by name.
        if !hosted.insert(name) {
            continue;
        }
        for port in &service.ports {
            let Some(soap) = definitions
                .bindings
                .get(&port.binding)
                .and_then(|b| b.soap.as_ref())
            else {
                continue;
            };
            let path = address_path(port.address.as_deref())
                .filter(|path| !taken.contains(path))
                .unwrap_or_else(|| {
                    format!("/mock/{}/{}", path_segment(name), path_segment(&port.name))
                });
            let path = if taken.contains(&path) {
                format!("{path}/{}", ports.len())
            } else {
                path
            };
            taken.insert(path.clone());
            ports.push(MockedPort {
                service: name.clone(),
                port: port.name.clone(),
                version: soap.version.to_string(),
                path,
            });
            bindings.push(&port.binding);
        }
    }

    let mut router = Router::new();
    let mut built: BTreeSet<&str> = BTreeSet::new();
    for mocked in &ports {
        let name = mocked.service.as_str();
        if !built.insert(name) {
            continue;
        }
        let mut builder = SoapService::builder(contract.clone())
            .service(name)
            .base_path(&format!("/mock/{}", path_segment(name)));
        let mut mine: Vec<&OperationInfo> = Vec::new();
        for (port, binding) in ports.iter().zip(&bindings) {
            if port.service == name {
                builder = builder.port_path(&port.port, &port.path);
                mine.extend(operations.iter().filter(|op| op.binding == **binding));
            } else {
                builder = builder.publish_port_of(&port.service, &port.port, &port.path);
            }
        }
        let mut answered: BTreeSet<&str> = BTreeSet::new();
        for op in mine {
            if !answered.insert(&op.name) {
                continue;
            }
            let response: Arc<[u8]> = loaded
                .schema
                .sample_body(definitions, op, true, &SampleLimits::default())
                .into_bytes()
                .into();
            builder = builder.operation(&op.name, move |_request: SoapRequest| {
                let response = response.clone();
                async move { Ok(response.to_vec()) }
            });
        }
        let service_routes = builder
            .build()
            .with_context(|| format!("cannot host the service {name}"))?;
        router = router.merge(&service_routes);
    }
    Ok((router, ports))
}

/// The path of an address URL (`http://host:port/path?query` →
/// `/path`), when it has a usable one.
fn address_path(address: Option<&str>) -> Option<String> {
    let address = address?.trim();
    let after_scheme = address.split_once("://")?.1;
    let path = after_scheme.get(after_scheme.find('/')?..)?;
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let path = path.trim_end_matches('/');
    let usable = path.len() > 1
        && path.len() <= 512
        && path.bytes().all(|b| {
            b.is_ascii_graphic() && !matches!(b, b'"' | b'<' | b'>' | b'\\' | b'{' | b'}')
        });
    usable.then(|| path.to_owned())
}

/// A name made safe as one path segment.
fn path_segment(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_come_from_addresses() {
        assert_eq!(
            address_path(Some("http://localhost:8080/a/b?x=1")),
            Some("/a/b".to_owned())
        );
        assert_eq!(address_path(Some("http://localhost:8080/")), None);
        assert_eq!(address_path(Some("http://localhost")), None);
        assert_eq!(address_path(Some("REPLACE_WITH_ACTUAL_URL")), None);
        assert_eq!(address_path(Some("http://h/a b")), None);
        assert_eq!(address_path(None), None);
        assert_eq!(path_segment("My Service/1"), "My_Service_1");
    }
}
