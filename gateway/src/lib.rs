//! The Ithaca gateway: one process that hosts SOAP services, bridges to
//! CORBA, coordinates WS-AtomicTransaction and keeps the membership view.
//!
//! This crate is the HTTP runtime and the `ithaca` command. It owns:
//!
//! - [`config`]: the TOML configuration with environment and flag overrides;
//! - [`Gateway`] / [`RunningGateway`]: listeners (HTTP/1.1, h2c, TLS),
//!   connections and graceful shutdown;
//! - [`layers`]: the tower middleware every request passes through (metrics,
//!   request ids, tracing, load shedding, timeouts, body limits);
//! - [`admin`]: `/healthz`, `/readyz` and `/metrics`;
//! - [`store`]: the embedded SQLite store and the optional PostgreSQL one;
//! - [`soap`]: hosted SOAP services (a WSDL contract and its handlers).
//! - [`ui`]: the operator page at `/ui/` and its JSON.
//!
//! Hosted services plug in as [`Router`] routes.
//!
//! # Example
//!
//! Start a gateway on a free port with a temporary data directory, call an
//! application route, and shut it down:
//!
//! ```
//! use ithaca_gateway::body::{text_response, Request};
//! use ithaca_gateway::config::Config;
//! use ithaca_gateway::{Gateway, Router};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let data = std::env::temp_dir().join(format!("ithaca-doc-{}", std::process::id()));
//! let mut config = Config::default();
//! config.server.listen = "127.0.0.1:0".parse()?;
//! config.storage.data_dir = data.clone();
//!
//! let hello = Router::new().route("/hello", "hello", |_request: Request| async {
//!     text_response(http::StatusCode::OK, "hello\n")
//! });
//! let gateway = Gateway::new(config).routes(&hello).start().await?;
//! println!("serving on {}", gateway.server_addr());
//!
//! let outcome = gateway.shutdown().await;
//! assert_eq!(outcome.abandoned_connections, 0);
//! # std::fs::remove_dir_all(data)?;
//! # Ok(())
//! # }
//! ```

pub mod admin;
pub mod bank;
pub mod body;
pub mod bridge;
pub mod config;
pub mod conn_io;
pub mod error;
pub mod layers;
pub mod membership;
pub mod metrics;
pub mod readiness;
pub mod router;
pub mod sector_status;
pub mod serve;
pub mod server;
pub mod soap;
pub mod store;
pub mod tls;
pub mod transfer;
pub mod ui;
pub mod wsat;

pub use error::StartError;
pub use router::Router;
pub use server::{DrainOutcome, Gateway, ListenerInfo, RunningGateway};
