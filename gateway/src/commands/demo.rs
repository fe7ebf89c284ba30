//! `ithaca demo …`: the scenarios of the quick start, run against a
//! gateway (or, for `--chaos`, against processes the demo starts itself)
//! with a readable report.
//!
//! - `ithaca demo bank` ([`super::demo_bank`]): money transfers through
//!   the TransferService under WS-AtomicTransaction, money conserved.
//! - `ithaca demo atc` ([`super::demo_atc`]): the control tower, a
//!   replicated sector-status service under a partition.

use std::process::ExitCode;

/// `ithaca demo …`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum DemoCommand {
    /// The bank: transfers between two banks through the TransferService,
    /// each inside one WS-AtomicTransaction; reports throughput and checks
    /// that money is conserved (`--chaos`: kill -9 of banks and the
    /// coordinator under load; see examples/bank/README.md).
    Bank(super::demo_bank::BankArgs),
    /// The control tower: a sector-status primary and backup under a
    /// partition, with failover on TCP timeouts (the split brain) and with
    /// the membership oracle (no two different answers); starts its own
    /// processes (see examples/atc/README.md).
    Atc(super::demo_atc::AtcArgs),
}

/// Runs a `demo` command.
pub(crate) fn run(command: DemoCommand) -> ExitCode {
    match command {
        DemoCommand::Bank(args) => super::demo_bank::run(&args),
        DemoCommand::Atc(args) => super::demo_atc::run(&args),
    }
}
