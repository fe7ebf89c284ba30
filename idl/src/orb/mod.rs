//! The ORB runtime: thin tokio drivers around the sans-IO
//! [`Connection`](crate::connection::Connection).
//!
//! - [`OrbServer`] accepts IIOP connections and dispatches each request by
//!   object key to a registered [`Servant`] (DSI-style: the servant reads its
//!   arguments from CDR and writes its results, no generated skeletons). It
//!   answers `_is_a`, `_non_existent`, `_interface` (`NO_IMPLEMENT`: no
//!   interface repository) and LocateRequests itself, an unknown key with
//!   `OBJECT_NOT_EXIST` and a body it cannot read with `MARSHAL`. An
//!   object that has moved ([`ForwardingServant`],
//!   [`Servant::forwarded_to`]) is answered with LOCATION_FORWARD and
//!   OBJECT_FORWARD; [`Outcome::Forward`] forwards one call.
//! - [`OrbClient`] holds one connection to a server and invokes operations
//!   on it (DII-style), over GIOP 1.0, 1.1 or 1.2 in either byte order,
//!   with the code sets negotiated from the target's reference and
//!   per-call deadlines.
//! - [`Orb`] invokes operations on object references: one connection per
//!   endpoint shared by concurrent calls, or a bounded pool of them
//!   ([`Orb::with_connections_per_endpoint`]), and location forwards
//!   followed.
//! - [`BlockingOrbClient`] is [`OrbClient`] for synchronous callers: each
//!   call blocks the calling thread on the socket (one `send`, one `recv`),
//!   as omniORB's stubs do, without a runtime.
//!
//! This is the only part of the crate that does I/O; everything it needs to
//! decide lives in the sans-IO modules.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use ithaca_idl::orb::{Call, ClientConfig, OrbClient, OrbServer, Outcome, ReplyBody, Servant, ServantFuture};
//!
//! struct Greeter;
//!
//! impl Servant for Greeter {
//!     fn repository_id(&self) -> &str {
//!         "IDL:Demo/Greeter:1.0"
//!     }
//!     fn invoke(&self, mut call: Call) -> ServantFuture<'_> {
//!         Box::pin(async move {
//!             match call.operation() {
//!                 "greet" => {
//!                     let name = match call.args().read_string() {
//!                         Ok(name) => name,
//!                         Err(e) => return Outcome::marshal(e),
//!                     };
//!                     call.reply(|w| w.write_string(&format!("hello, {name}")))
//!                 }
//!                 _ => Outcome::bad_operation(),
//!             }
//!         })
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = OrbServer::bind("127.0.0.1:0".parse()?).await?;
//! server.register("Greeter", Arc::new(Greeter));
//! let addr = server.local_addr();
//! let running = server.spawn();
//!
//! let mut client = OrbClient::connect(addr, ClientConfig::default()).await?;
//! let reply = client
//!     .invoke(b"Greeter", "greet", |w| w.write_string("ada"))
//!     .await?;
//! let ReplyBody::Return(mut result) = reply else { panic!("{reply:?}") };
//! assert_eq!(result.read_string()?, "hello, ada");
//! running.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod blocking_client;
mod client;
mod servant;
mod server;

pub use blocking_client::BlockingOrbClient;
pub use client::{
    BoundObject, ClientConfig, DEFAULT_MAX_FORWARDS, MAX_CONNECTIONS_PER_ENDPOINT, Orb, OrbClient,
    ReplyBody,
};
pub use servant::{Call, Forward, ForwardingServant, Outcome, Servant, ServantFuture};
pub use server::{OrbServer, RunningOrbServer, Threading};

/// Why an ORB call or connection failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OrbError {
    /// The socket failed.
    #[error("connection failed: {0}")]
    Io(#[from] std::io::Error),
    /// A message could not be encoded or decoded.
    #[error("GIOP error: {0}")]
    Giop(#[from] crate::Error),
    /// The connection closed before the reply arrived.
    #[error("the connection closed before the reply arrived")]
    Closed,
    /// The reference names no IIOP address this client can use.
    #[error("no usable IIOP address in the reference: {0}")]
    NoAddress(&'static str),
    /// The call's deadline passed before its reply arrived (CORBA
    /// `TIMEOUT`).
    #[error("the call timed out")]
    Timeout,
    /// No transmission code set could be agreed with the server (CORBA
    /// `CODESET_INCOMPATIBLE`).
    #[error("code-set negotiation failed: {0}")]
    CodeSets(#[from] crate::codeset::CodeSetError),
    /// A `wchar` or `wstring` argument for a server whose reference names no
    /// wide code set, or over GIOP 1.0 (CORBA `INV_OBJREF`).
    #[error("the server's reference names no wchar code set")]
    NoWideCodeSet,
    /// LOCATION_FORWARD replies went on for more hops than allowed.
    #[error("more than {0} location forwards")]
    TooManyForwards(u8),
}

impl OrbError {
    /// The CORBA system exception a caller reports for this failure:
    /// `TIMEOUT`, `CODESET_INCOMPATIBLE`, `INV_OBJREF`, `MARSHAL`,
    /// `TRANSIENT` (no connection, too many forwards) or `COMM_FAILURE`.
    pub fn system_exception(&self) -> crate::giop::SystemException {
        use crate::giop::{CompletionStatus, SystemException};
        let (name, completed) = match self {
            Self::Timeout => ("TIMEOUT", CompletionStatus::Maybe),
            Self::CodeSets(_) => ("CODESET_INCOMPATIBLE", CompletionStatus::No),
            Self::NoWideCodeSet | Self::NoAddress(_) => ("INV_OBJREF", CompletionStatus::No),
            Self::Giop(_) => ("MARSHAL", CompletionStatus::Maybe),
            Self::TooManyForwards(_) => ("TRANSIENT", CompletionStatus::No),
            Self::Io(error) if error.kind() == std::io::ErrorKind::ConnectionRefused => {
                ("TRANSIENT", CompletionStatus::No)
            }
            Self::Io(_) | Self::Closed => ("COMM_FAILURE", CompletionStatus::Maybe),
        };
        SystemException::standard(name, SystemException::OMG_VMCID, completed)
    }
}
