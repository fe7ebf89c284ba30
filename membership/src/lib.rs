//! Failure detection and one authoritative membership view: heartbeats, a
//! majority-backed view oracle, leases and fencing tokens.
//!
//! Status: nothing is implemented yet (the membership issue). This crate
//! exists so that the workspace layout is the final one.
