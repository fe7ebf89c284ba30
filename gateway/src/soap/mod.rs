//! Hosting SOAP services: a WSDL contract plus a handler per operation,
//! served on gateway routes.
//!
//! - [`Contract`]: a WSDL loaded and checked with `ithaca_wsdl`, with its
//!   text kept for `?wsdl`.
//! - [`SoapService::builder`]: picks a `wsdl:service`, mounts each of its
//!   SOAP ports at a path (`/services/NAME`, `/services/NAME/soap12`),
//!   takes the handlers and returns a [`Router`](crate::Router).
//! - [`SoapRequest`], [`OperationHandler`], [`SoapError`]: what a handler
//!   sees and answers.
//! - [`builtin`]: the services of `ithaca_services`, as `ithaca serve`
//!   hosts them.
//!
//! The request path (see `endpoint.rs`): `POST` only (`GET ?wsdl`
//! publishes the contract with each port address rewritten to the URL the
//! client used); the content type gives the SOAP version (`415` in plain
//! text for a non-SOAP type, a SOAP 1.1 VersionMismatch fault for the other
//! version than the port's); the body is read under the gateway's limit
//! (`413`); the envelope is read by the streaming reader of `ithaca_wsdl`
//! (no tree per request), whose errors map to their faults (DOCTYPE and
//! undeclared entities refused, never expanded); `mustUnderstand` headers
//! the service does not understand answer MustUnderstand; dispatch goes by
//! SOAP action and body QName (the rules are in `dispatch.rs`); the body is
//! validated against the operation's input element unless validation is
//! off (Client / Sender fault naming the element path and rule); the
//! handler's bytes go back in an envelope of the request's version, its
//! errors as Server / Receiver faults or declared faults with their detail;
//! one-way operations answer `202` with no body; a handler that panics
//! answers a Server / Receiver fault. Faults carry the HTTP
//! status of their version's binding: SOAP 1.1 500, SOAP 1.2 400 for
//! Sender and 500 otherwise.
//!
//! # Example
//!
//! ```
//! use ithaca_gateway::soap::{Contract, SoapError, SoapRequest, SoapService};
//! use ithaca_gateway::{Gateway, config::Config};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let contract = Contract::from_bytes("echo.wsdl", ithaca_services::echo::WSDL)?;
//! let echo = SoapService::builder(contract)
//!     .operation("echoString", |request: SoapRequest| async move {
//!         ithaca_services::echo::echo_string(request.body())
//!             .map_err(|e| SoapError::sender(e.to_string()))
//!     })
//!     .build()?;
//!
//! let data = std::env::temp_dir().join(format!("ithaca-soap-doc-{}", std::process::id()));
//! let mut config = Config::default();
//! config.server.listen = "127.0.0.1:0".parse()?;
//! config.storage.data_dir = data.clone();
//! let gateway = Gateway::new(config).routes(&echo).start().await?;
//! println!("http://{}/services/EchoService?wsdl", gateway.server_addr());
//! gateway.shutdown().await;
//! # std::fs::remove_dir_all(data)?;
//! # Ok(())
//! # }
//! ```

pub mod builtin;
mod contract;
mod dispatch;
mod endpoint;
mod error;
mod guard;
mod handler;
mod publish;
mod reply;
mod service;

pub use contract::Contract;
pub use error::SetupError;
pub use handler::{HandlerFuture, OperationHandler, SoapError, SoapRequest};
pub use service::{SoapService, SoapServiceBuilder};
