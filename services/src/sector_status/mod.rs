//! The air-traffic sector-status service: for each sector, which flights
//! may be there and when ("is anyone flying in sector X?"), replicated
//! primary/backup and routed by the membership view.
//!
//! The contract ([`WSDL`], document/literal wrapped, SOAP 1.1 and 1.2) has
//! four operations:
//!
//! - `Reserve(sector, flight, from, until)`: hold the sector for the flight
//!   during `[from, until)` (whole seconds). Refused with the declared
//!   `Conflict` fault, naming the holder, when another flight's interval
//!   overlaps.
//! - `Release(sector, flight)`: drop the flight's reservation.
//! - `WhoIsIn(sector, at)`: the flights that may be in the sector at `at`.
//! - `GetSector(sector)`: every reservation of the sector.
//!
//! Every answer carries the view id it was served in (`viewId`) and the
//! member that served it (`servedBy`). A member that may not serve answers
//! the declared `NotPrimary` fault, naming the primary and the view when it
//! knows them; a request whose `knownViewId` is newer than the member's view
//! gets `StaleView`.
//!
//! The logic is in two pure parts, without I/O:
//!
//! - [`table`]: the sector table and its writes ([`WriteOp`]);
//! - [`replication`]: the [`Replica`] state machine for primary/backup
//!   replication stamped with view ids and admitted through a
//!   [`Fence`](ithaca_membership::Fence), and its JSON messages.
//!
//! The gateway hosts it (`ithaca_gateway::sector_status`): it decides who
//! is primary (the membership oracle, or the baseline TCP-timeout mode),
//! carries replication over HTTP and maps the contract's values.
//!
//! ```
//! use ithaca_services::sector_status::{Replica, WriteOp};
//! use ithaca_membership::ViewId;
//!
//! let mut primary = Replica::new();
//! let mut backup = Replica::new();
//! let install = primary.become_primary(ViewId(4)).unwrap();
//! backup.handle(&install);
//! let op = WriteOp::Reserve { sector: "EGLL-N".into(), flight: "BA117".into(), from: 600, until: 900 };
//! let (_, request) = primary.prepare(&op)?;
//! let reply = backup.handle(&request.unwrap());
//! assert_eq!(reply, ithaca_services::sector_status::ReplicationReply::Ack { view: ViewId(4), seq: 1 });
//! primary.commit(&op)?;
//! assert_eq!(primary.table().who_is_in("EGLL-N", 700), vec!["BA117"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod replication;
pub mod table;

pub use replication::{
    BackupVerdict, MessageError, PrepareError, Replica, ReplicaRole, ReplicationReply,
    ReplicationRequest,
};
pub use table::{Reservation, SectorTable, TableError, WriteOp, WriteOutcome};

/// The contract, as served at `GET …/SectorStatus?wsdl` (with its addresses
/// rewritten by the gateway).
pub const WSDL: &str = include_str!("../../wsdl/sector-status.wsdl");

/// The file name under which [`WSDL`] appears in diagnostics.
pub const WSDL_NAME: &str = "sector-status.wsdl";

/// The target namespace of the contract and of its elements.
pub const NAMESPACE: &str = "urn:ithaca:atc:sector-status";

/// The `wsdl:service` name.
pub const SERVICE: &str = "SectorStatusService";

/// The service name in the membership view (members hosting it take this
/// role).
pub const MEMBERSHIP_SERVICE: &str = "sector-status";

/// The operations, in contract order.
pub const OPERATIONS: [&str; 4] = ["Reserve", "Release", "WhoIsIn", "GetSector"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contract_loads_with_both_bindings_and_declared_faults() {
        let loaded = ithaca_wsdl::load_bytes(WSDL_NAME, WSDL.as_bytes(), &Default::default());
        assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics);
        let operations = loaded.definitions.operations(&loaded.schema);
        assert_eq!(operations.len(), 8, "four operations in two bindings");
        for name in OPERATIONS {
            let bound: Vec<_> = operations.iter().filter(|o| o.name == name).collect();
            assert_eq!(bound.len(), 2, "{name}");
            for operation in bound {
                let action = format!("{NAMESPACE}#{name}");
                assert_eq!(operation.soap_action.as_deref(), Some(action.as_str()));
            }
        }
        assert!(loaded.definitions.service(SERVICE).is_some());
    }
}
