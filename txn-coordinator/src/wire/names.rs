//! The two WS-TX versions Ithaca speaks and the URIs that tell them apart:
//! namespaces, WS-Addressing, Action URIs, protocol identifiers and the
//! WS-AT notifications.

use crate::engine::Protocol;

/// WS-Coordination 1.1/1.2 (OASIS, 2006/06).
pub const WSCOOR_2006: &str = "http://docs.oasis-open.org/ws-tx/wscoor/2006/06";
/// WS-AtomicTransaction 1.1/1.2 (OASIS, 2006/06); also its CoordinationType.
pub const WSAT_2006: &str = "http://docs.oasis-open.org/ws-tx/wsat/2006/06";
/// WS-Addressing 1.0 (W3C, 2005/08), spoken with the 2006/06 version.
pub const WSA_2005: &str = "http://www.w3.org/2005/08/addressing";
/// WS-Coordination 1.0 (2004/10).
pub const WSCOOR_2004: &str = "http://schemas.xmlsoap.org/ws/2004/10/wscoor";
/// WS-AtomicTransaction 1.0 (2004/10); also its CoordinationType.
pub const WSAT_2004: &str = "http://schemas.xmlsoap.org/ws/2004/10/wsat";
/// WS-Addressing member submission (2004/08), spoken with the 2004/10
/// version.
pub const WSA_2004: &str = "http://schemas.xmlsoap.org/ws/2004/08/addressing";

/// The anonymous address of WS-Addressing 1.0: "reply on the HTTP response".
pub const ANONYMOUS_2005: &str = "http://www.w3.org/2005/08/addressing/anonymous";
/// The anonymous address of WS-Addressing 2004/08.
pub const ANONYMOUS_2004: &str = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous";
/// WS-Addressing 1.0's "none" address: messages to it are dropped.
pub const NONE_2005: &str = "http://www.w3.org/2005/08/addressing/none";

/// A version of WS-Coordination and WS-AtomicTransaction, each tied to its
/// version of WS-Addressing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WsTxVersion {
    /// WS-Coordination/WS-AT 1.0 (2004/10) with WS-Addressing 2004/08, as
    /// WCF/MSDTC ("WSAtomicTransactionOctober2004") and Metro speak it.
    Oct2004,
    /// WS-Coordination/WS-AT 1.1 and 1.2 (2006/06) with WS-Addressing 1.0.
    Jun2006,
}

impl WsTxVersion {
    /// Both versions, newest first.
    pub const ALL: [Self; 2] = [Self::Jun2006, Self::Oct2004];

    /// The WS-Coordination namespace.
    pub const fn wscoor(self) -> &'static str {
        match self {
            Self::Oct2004 => WSCOOR_2004,
            Self::Jun2006 => WSCOOR_2006,
        }
    }

    /// The WS-AtomicTransaction namespace, which is also the
    /// `CoordinationType` of atomic transactions.
    pub const fn wsat(self) -> &'static str {
        match self {
            Self::Oct2004 => WSAT_2004,
            Self::Jun2006 => WSAT_2006,
        }
    }

    /// The WS-Addressing namespace.
    pub const fn wsa(self) -> &'static str {
        match self {
            Self::Oct2004 => WSA_2004,
            Self::Jun2006 => WSA_2005,
        }
    }

    /// The anonymous address of this version's WS-Addressing.
    pub const fn anonymous(self) -> &'static str {
        match self {
            Self::Oct2004 => ANONYMOUS_2004,
            Self::Jun2006 => ANONYMOUS_2005,
        }
    }

    /// The version whose WS-Coordination or WS-AT namespace is `namespace`.
    pub fn from_namespace(namespace: &str) -> Option<Self> {
        match namespace {
            WSCOOR_2006 | WSAT_2006 => Some(Self::Jun2006),
            WSCOOR_2004 | WSAT_2004 => Some(Self::Oct2004),
            _ => None,
        }
    }

    /// The version whose WS-Addressing namespace is `namespace`.
    pub fn from_addressing(namespace: &str) -> Option<Self> {
        match namespace {
            WSA_2005 => Some(Self::Jun2006),
            WSA_2004 => Some(Self::Oct2004),
            _ => None,
        }
    }

    /// The `ProtocolIdentifier` URI of `protocol` in this version.
    pub fn protocol_uri(self, protocol: Protocol) -> String {
        let local = match protocol {
            Protocol::Completion => "Completion",
            Protocol::Volatile2Pc => "Volatile2PC",
            Protocol::Durable2Pc => "Durable2PC",
        };
        format!("{}/{local}", self.wsat())
    }

    /// The protocol and version a `ProtocolIdentifier` names.
    pub fn protocol_from_uri(uri: &str) -> Option<(Protocol, Self)> {
        let protocol = Protocol::from_uri(uri)?;
        let version = if uri.starts_with(WSAT_2006) {
            Self::Jun2006
        } else {
            Self::Oct2004
        };
        Some((protocol, version))
    }

    /// Whether `uri` is an anonymous address of either WS-Addressing
    /// version (a reply then travels on the HTTP response).
    pub fn is_anonymous(uri: &str) -> bool {
        uri == ANONYMOUS_2005 || uri == ANONYMOUS_2004
    }
}

/// The WS-AT notifications: the one-way messages of the Completion and
/// two-phase-commit protocols, all of type `wsat:Notification`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Notification {
    /// Coordinator → participant: prepare.
    Prepare,
    /// Participant → coordinator: voted to commit.
    Prepared,
    /// Participant → coordinator: voted read-only and left.
    ReadOnly,
    /// Participant → coordinator, or coordinator → initiator: aborted.
    Aborted,
    /// Initiator → coordinator, or coordinator → participant: commit.
    Commit,
    /// Initiator → coordinator, or coordinator → participant: roll back.
    Rollback,
    /// Participant → coordinator, or coordinator → initiator: committed.
    Committed,
    /// Participant → coordinator, 2004/10 only: "I recovered, tell me the
    /// outcome again". Never written in the 2006/06 version.
    Replay,
}

impl Notification {
    /// Every notification, in schema order.
    pub const ALL: [Self; 8] = [
        Self::Prepare,
        Self::Prepared,
        Self::Aborted,
        Self::ReadOnly,
        Self::Commit,
        Self::Rollback,
        Self::Committed,
        Self::Replay,
    ];

    /// The element's local name (its namespace is the version's WS-AT one).
    pub const fn local_name(self) -> &'static str {
        match self {
            Self::Prepare => "Prepare",
            Self::Prepared => "Prepared",
            Self::ReadOnly => "ReadOnly",
            Self::Aborted => "Aborted",
            Self::Commit => "Commit",
            Self::Rollback => "Rollback",
            Self::Committed => "Committed",
            Self::Replay => "Replay",
        }
    }

    /// The notification named `local`.
    pub fn from_local_name(local: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|n| n.local_name() == local)
    }

    /// Whether `version` has this notification (Replay is 2004/10 only).
    pub fn exists_in(self, version: WsTxVersion) -> bool {
        self != Self::Replay || version == WsTxVersion::Oct2004
    }

    /// The WS-Addressing Action of this notification in `version`.
    pub fn action(self, version: WsTxVersion) -> String {
        format!("{}/{}", version.wsat(), self.local_name())
    }
}

/// The WS-Coordination Action URI `local` (`Register`,
/// `CreateCoordinationContextResponse`, `fault`…) in `version`.
pub(crate) fn wscoor_action(version: WsTxVersion, local: &str) -> String {
    format!("{}/{local}", version.wscoor())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_identifiers_round_trip_in_both_versions() {
        for version in WsTxVersion::ALL {
            for protocol in [
                Protocol::Completion,
                Protocol::Volatile2Pc,
                Protocol::Durable2Pc,
            ] {
                let uri = version.protocol_uri(protocol);
                assert_eq!(
                    WsTxVersion::protocol_from_uri(&uri),
                    Some((protocol, version))
                );
            }
        }
        assert_eq!(
            WsTxVersion::protocol_from_uri("http://docs.oasis-open.org/ws-tx/wsat/2006/06/Nope"),
            None
        );
    }

    #[test]
    fn replay_exists_only_in_2004() {
        assert!(Notification::Replay.exists_in(WsTxVersion::Oct2004));
        assert!(!Notification::Replay.exists_in(WsTxVersion::Jun2006));
        assert_eq!(
            Notification::Prepare.action(WsTxVersion::Jun2006),
            "http://docs.oasis-open.org/ws-tx/wsat/2006/06/Prepare"
        );
    }
}
