//! Test harnesses shared by Ithaca's test suites.
//!
//! - [`pg`]: throwaway PostgreSQL clusters (`initdb` + `pg_ctl` on 127.0.0.1
//!   and a free port, prepared transactions enabled), a fresh database per
//!   test, everything stopped and deleted on drop, on panic, and even when
//!   the test process is killed.
//! - [`interop`]: where the third-party clients installed by
//!   `scripts/install-test-deps.sh` live (the Python venv, node modules).
//! - [`free_port`]: a port on 127.0.0.1 that nothing listens on right now.
//! - [`faultproxy`]: a TCP or UDP forwarder that blocks (both ways or one
//!   way), delays and drops traffic on command, for tests of real processes.
//! - [`membership_history`]: reads member processes' records of views and
//!   serving intervals and checks the primary/backup invariants.
//! - [`sector_history`]: finds contradicting answers (double bookings,
//!   stale reads) in what the sector-status controllers were told.
//!
//! A test that needs PostgreSQL and cannot get it fails with a message that
//! says what to install; it never skips.
//!
//! # Example
//!
//! ```no_run
//! let db = ithaca_testkit::pg::database().expect("PostgreSQL for tests");
//! println!("connect to {}", db.url());
//! // The database is dropped with `db`; the cluster when the process exits.
//! ```

pub mod faultproxy;
pub mod interop;
pub mod membership_history;
pub mod pg;
pub mod sector_history;

use std::net::{Ipv4Addr, TcpListener};

/// A TCP port on 127.0.0.1 that was free a moment ago. Another process may
/// take it before the caller binds it, so callers retry on `AddrInUse`.
pub fn free_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}
