//! WS-Coordination 1.2 and WS-AtomicTransaction 1.2: the two-phase-commit
//! coordinator that `ithaca serve` hosts, its durable log (SQLite embedded,
//! PostgreSQL in production) and a participant library for PostgreSQL.
//!
//! Status: nothing is implemented yet (the WS-AT issue). This crate exists so
//! that the workspace layout is the final one.
