//! The services that ship with Ithaca (`ithaca_services`), hosted.

use super::contract::Contract;
use super::error::SetupError;
use super::handler::{SoapError, SoapRequest};
use super::service::SoapService;
use crate::router::Router;

/// Where `ithaca serve` hosts the EchoService's SOAP 1.1 port; its SOAP
/// 1.2 port is at this path followed by `/soap12`.
pub const ECHO_SERVICE_PATH: &str = "/services/EchoService";

/// The EchoService ([`ithaca_services::echo`]) at [`ECHO_SERVICE_PATH`],
/// validation on.
pub fn echo_service() -> Result<Router, SetupError> {
    echo_service_at(None)
}

/// The EchoService, its `?wsdl` published under `public_url` when given.
fn echo_service_at(public_url: Option<&str>) -> Result<Router, SetupError> {
    use ithaca_services::echo;
    let contract = Contract::from_bytes(echo::WSDL_NAME, echo::WSDL)?;
    let builder = SoapService::builder(contract);
    let builder = match public_url {
        Some(url) => builder.public_url(url),
        None => builder,
    };
    builder
        .service(echo::SERVICE)
        .base_path(ECHO_SERVICE_PATH)
        // The echo is synchronous: it answers before the future is made,
        // so the future (boxed per request) holds the answer, not the
        // request.
        .operation(echo::OPERATION, |request: SoapRequest| {
            std::future::ready(
                echo::echo_string(request.body())
                    .map_err(|error| SoapError::sender(error.to_string())),
            )
        })
        .build()
}

/// Every built-in service, as `ithaca serve` hosts them.
pub fn services() -> Result<Router, SetupError> {
    echo_service()
}

/// Every built-in service, publishing `?wsdl` under `public_url` (the
/// `server.public_url` setting) when given.
pub fn services_published_at(public_url: Option<&str>) -> Result<Router, SetupError> {
    echo_service_at(public_url)
}
