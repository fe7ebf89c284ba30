//! How an oracle node is configured: its id, listener, data directory, the
//! initial voters (`--oracle-peers id=host:port,...`) and the Raft timing.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::{NodeInfo, OracleNodeId};

/// Most oracle nodes a peer list may name (voters are 1, 3, 5 or 7).
pub const MAX_ORACLE_PEERS: usize = 7;
/// Longest `host:port` accepted for an oracle node, in bytes.
pub const MAX_PEER_ADDRESS_LEN: usize = 255;

/// What a node does when its data directory holds no log yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Bootstrap {
    /// Initialise the group with the configured voters (every listed node
    /// may do this: they all propose the same configuration). With no peers
    /// this node becomes a single-node oracle. A node that already has a log
    /// ignores this.
    #[default]
    Initialize,
    /// Wait to be added by the leader ([`super::Consensus::change_oracle_membership`]):
    /// for a node joining a running group, or one whose data was lost.
    Join,
}

/// Raft timing. Keep `heartbeat < election_timeout_min < election_timeout_max`
/// and the election timeout about ten round trips or more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RaftTiming {
    /// How often the leader sends heartbeats (and thereby refreshes its
    /// quorum acknowledgement).
    pub heartbeat: Duration,
    /// Shortest election timeout; also the basis of the leader's certainty
    /// window.
    pub election_timeout_min: Duration,
    /// Longest election timeout.
    pub election_timeout_max: Duration,
    /// Deadline of every oracle-to-oracle request (connect, write, answer).
    pub rpc_timeout: Duration,
    /// How long [`super::Consensus::propose`] waits for a majority.
    pub commit_timeout: Duration,
    /// Clock-rate drift bound ρ in parts per million: the certainty window
    /// is `election_timeout_min · (1 − ρ)`.
    pub drift_ppm: u32,
}

impl Default for RaftTiming {
    /// 50 ms heartbeats, 150–300 ms elections, 100 ms RPC deadline, 5 s
    /// commit deadline, ρ = 1 %.
    fn default() -> Self {
        Self {
            heartbeat: Duration::from_millis(50),
            election_timeout_min: Duration::from_millis(150),
            election_timeout_max: Duration::from_millis(300),
            rpc_timeout: Duration::from_millis(100),
            commit_timeout: Duration::from_secs(5),
            drift_ppm: 10_000,
        }
    }
}

impl RaftTiming {
    /// Checks the relations between the durations.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.heartbeat.is_zero() || self.heartbeat >= self.election_timeout_min {
            return Err(ConfigError::Timing(
                "heartbeat must be positive and shorter than election_timeout_min",
            ));
        }
        if self.election_timeout_min >= self.election_timeout_max {
            return Err(ConfigError::Timing(
                "election_timeout_min must be shorter than election_timeout_max",
            ));
        }
        if self.rpc_timeout.is_zero() || self.commit_timeout.is_zero() {
            return Err(ConfigError::Timing(
                "rpc_timeout and commit_timeout must be positive",
            ));
        }
        if self.drift_ppm >= 1_000_000 {
            return Err(ConfigError::Timing("drift_ppm must be below 1000000"));
        }
        Ok(())
    }

    /// The window after a quorum acknowledgement during which no other
    /// leader can exist: `election_timeout_min · (1 − ρ)`.
    #[must_use]
    pub fn certainty_window(&self) -> Duration {
        let kept = 1_000_000u64.saturating_sub(u64::from(self.drift_ppm));
        let nanos = u64::try_from(self.election_timeout_min.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(
            u64::try_from(u128::from(nanos) * u128::from(kept) / 1_000_000).unwrap_or(u64::MAX),
        )
    }
}

/// Everything an oracle node needs to start.
#[derive(Debug, Clone)]
pub struct OracleConfig {
    /// This node's id.
    pub node_id: OracleNodeId,
    /// Where this node's consensus listener binds (port 0 picks one; the
    /// bound address is in [`super::Consensus::status`]).
    pub listen: SocketAddr,
    /// The address other nodes use to reach this one; `None` means the bound
    /// listener address.
    pub advertise: Option<String>,
    /// Directory for the log, vote and snapshot (created when missing).
    pub data_dir: PathBuf,
    /// The initial voters, this node included; empty means a single-node
    /// oracle of this node alone.
    pub peers: Vec<NodeInfo>,
    /// What to do on an empty data directory.
    pub bootstrap: Bootstrap,
    /// Raft timing.
    pub timing: RaftTiming,
}

impl OracleConfig {
    /// A single-node oracle listening on `listen`, storing in `data_dir`.
    #[must_use]
    pub fn single_node(listen: SocketAddr, data_dir: impl Into<PathBuf>) -> Self {
        Self {
            node_id: 1,
            listen,
            advertise: None,
            data_dir: data_dir.into(),
            peers: Vec::new(),
            bootstrap: Bootstrap::Initialize,
            timing: RaftTiming::default(),
        }
    }

    /// Checks the configuration: timing, and that a non-empty peer list
    /// names this node, has no duplicate ids and an odd size.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.timing.validate()?;
        if !self.peers.is_empty() {
            check_peers(&self.peers)?;
            if !self.peers.iter().any(|peer| peer.id == self.node_id) {
                return Err(ConfigError::SelfMissing { node: self.node_id });
            }
            if self.peers.len().is_multiple_of(2) && self.bootstrap == Bootstrap::Initialize {
                return Err(ConfigError::EvenVoters {
                    count: self.peers.len(),
                });
            }
        }
        Ok(())
    }
}

/// Why an oracle configuration or peer list was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A peer list entry is not `id=host:port`.
    #[error("oracle peer {entry:?}: expected id=host:port")]
    PeerSyntax {
        /// The entry as written.
        entry: String,
    },
    /// A peer id is not a positive integer.
    #[error("oracle peer {entry:?}: the id must be a positive integer")]
    PeerId {
        /// The entry as written.
        entry: String,
    },
    /// A peer address is empty, too long, or has no valid port.
    #[error("oracle peer {entry:?}: the address must be host:port with a port from 1 to 65535")]
    PeerAddress {
        /// The entry as written.
        entry: String,
    },
    /// Two peers have the same id.
    #[error("oracle peer id {id} appears twice")]
    DuplicateId {
        /// The id.
        id: OracleNodeId,
    },
    /// More than [`MAX_ORACLE_PEERS`] peers.
    #[error("{count} oracle peers, the limit is {MAX_ORACLE_PEERS}")]
    TooManyPeers {
        /// How many were given.
        count: usize,
    },
    /// An even number of voters (tolerates no more failures than one fewer
    /// and can tie).
    #[error("{count} oracle voters: use an odd number (1, 3, 5 or 7)")]
    EvenVoters {
        /// How many were given.
        count: usize,
    },
    /// The peer list does not name this node.
    #[error("the oracle peer list does not name this node ({node})")]
    SelfMissing {
        /// This node's id.
        node: OracleNodeId,
    },
    /// The timing values are inconsistent.
    #[error("oracle timing: {0}")]
    Timing(&'static str),
}

/// Parses `--oracle-peers`: comma-separated `id=host:port` entries
/// (whitespace around entries ignored), e.g. `1=10.0.0.1:7400,2=10.0.0.2:7400`.
pub fn parse_oracle_peers(list: &str) -> Result<Vec<NodeInfo>, ConfigError> {
    let mut peers = Vec::new();
    for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        if peers.len() == MAX_ORACLE_PEERS {
            return Err(ConfigError::TooManyPeers {
                count: list.split(',').filter(|e| !e.trim().is_empty()).count(),
            });
        }
        let (id, address) = entry
            .split_once('=')
            .ok_or_else(|| ConfigError::PeerSyntax {
                entry: entry.to_owned(),
            })?;
        let id: OracleNodeId =
            id.trim()
                .parse()
                .ok()
                .filter(|id| *id > 0)
                .ok_or_else(|| ConfigError::PeerId {
                    entry: entry.to_owned(),
                })?;
        let address = address.trim();
        if !valid_address(address) {
            return Err(ConfigError::PeerAddress {
                entry: entry.to_owned(),
            });
        }
        peers.push(NodeInfo {
            id,
            address: address.to_owned(),
        });
    }
    check_peers(&peers)?;
    Ok(peers)
}

fn valid_address(address: &str) -> bool {
    if address.is_empty() || address.len() > MAX_PEER_ADDRESS_LEN {
        return false;
    }
    let Some((host, port)) = address.rsplit_once(':') else {
        return false;
    };
    !host.is_empty()
        && !host
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        && port.parse::<u16>().is_ok_and(|port| port > 0)
}

fn check_peers(peers: &[NodeInfo]) -> Result<(), ConfigError> {
    if peers.len() > MAX_ORACLE_PEERS {
        return Err(ConfigError::TooManyPeers { count: peers.len() });
    }
    let mut seen = std::collections::BTreeSet::new();
    for peer in peers {
        if !seen.insert(peer.id) {
            return Err(ConfigError::DuplicateId { id: peer.id });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_lists_parse_into_nodes() {
        let peers = parse_oracle_peers(" 1=127.0.0.1:7401, 2=oracle-b:7402,3=[::1]:7403 ")
            .unwrap_or_else(|e| panic!("{e}"));
        let ids: Vec<_> = peers.iter().map(|p| p.id).collect();
        assert_eq!(ids, [1, 2, 3]);
        assert_eq!(peers.get(2).map(|p| p.address.as_str()), Some("[::1]:7403"));
    }

    #[test]
    fn bad_peer_lists_name_the_entry() {
        for (list, want) in [
            ("1:127.0.0.1:1", "expected id=host:port"),
            ("x=h:1", "positive integer"),
            ("0=h:1", "positive integer"),
            ("1=h", "host:port"),
            ("1=h:0", "host:port"),
            ("1=:80", "host:port"),
            ("1=h:1,1=g:2", "appears twice"),
            (
                "1=a:1,2=a:1,3=a:1,4=a:1,5=a:1,6=a:1,7=a:1,8=a:1",
                "limit is 7",
            ),
        ] {
            let err = parse_oracle_peers(list).map_or_else(|e| e.to_string(), |_| String::new());
            assert!(err.contains(want), "{list}: {err}");
        }
    }

    #[test]
    fn configs_need_an_odd_voter_set_naming_this_node() {
        let mut config = OracleConfig::single_node(
            "127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}")),
            "/nonexistent",
        );
        assert_eq!(config.validate(), Ok(()));
        config.peers = parse_oracle_peers("2=a:1,3=a:2,4=a:3").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.validate(), Err(ConfigError::SelfMissing { node: 1 }));
        config.peers = parse_oracle_peers("1=a:1,2=a:2").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.validate(), Err(ConfigError::EvenVoters { count: 2 }));
    }

    #[test]
    fn the_certainty_window_shrinks_by_the_drift_bound() {
        let timing = RaftTiming::default();
        assert_eq!(timing.certainty_window(), Duration::from_micros(148_500));
    }
}
