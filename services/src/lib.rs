//! Services that ship with Ithaca and run inside `ithaca serve`.
//!
//! Each service here is its contract (a WSDL kept in `wsdl/` and compiled
//! in) plus the logic of its operations as plain functions from the bytes
//! of a request body element to the bytes of a response body element. The
//! gateway (`ithaca_gateway::soap`) hosts them: it reads and checks the
//! envelope, dispatches, validates against the contract and writes the
//! response envelope, so nothing here touches HTTP or SOAP envelopes.
//!
//! - [`echo`]: the EchoService, the benchmark contract (document/literal
//!   wrapped `echoString(text) -> result`), hosted by default at
//!   `/services/EchoService` (SOAP 1.1) and `/services/EchoService/soap12`
//!   (SOAP 1.2).
//! - [`sector_status`]: the air-traffic sector-status service, replicated
//!   primary/backup and routed by the membership view (its table and
//!   replication state machine; the gateway hosts it).
//!
//! - [`bank`]: the bank of the WS-AT bank-transfer example (`Credit`,
//!   `Debit` with the `InsufficientFunds` fault, `Balance`, `Total`), its
//!   accounts in PostgreSQL; hosted per `[[bank]]` at `/services/NAME`.
//! - [`transfer`]: the transfer service that moves money between two
//!   banks inside one WS-AtomicTransaction (`Transfer`, with the
//!   `InsufficientFunds` fault, and `Balance`/`Total` pass-throughs);
//!   hosted at `/services/TransferService` when `[transfer]` is enabled.

pub mod bank;
pub mod echo;
pub mod sector_status;
pub mod transfer;
