//! Services that ship with Ithaca and run inside `ithaca serve`.
//!
//! Planned here: the EchoService (the benchmark target), the bank and transfer
//! services of the WS-AT scenario, and the sector-status service of the
//! membership scenario.
//!
//! Status: nothing is implemented yet. The gateway hosts no services until the
//! SOAP hosting issue lands; this crate exists so that the workspace layout is
//! the final one.
