//! The membership oracle hosted by `ithaca serve`.
//!
//! [`MembershipHost::start`] starts an oracle node (the openraft-backed
//! [`ithaca_membership::consensus::start`], single-node by default, its
//! log in `DATA_DIR/membership`) and the member-facing runtime
//! ([`ithaca_membership::node::MembershipNode`]: heartbeats over UDP,
//! join, leave and views over TCP). [`MembershipHost::routes`] are the
//! admin endpoints over HTTP (see [`http`]); [`MembershipHost::soap_routes`]
//! host the SOAP `MembershipService` (see [`soap`]); a task copies the node's
//! counters and detector snapshot into the `ithaca_membership_*` metrics
//! every second.
//!
//! The member side: [`member`] records a hosted `Member`'s history and
//! copies its state into the `ithaca_member_*` metrics (what `ithaca
//! membership member` runs); [`load`] simulates many members heartbeating
//! one oracle (`ithaca membership load`).

pub mod http;
pub mod load;
pub mod member;
pub mod soap;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ithaca_membership::DetectorConfig;
use ithaca_membership::consensus::{self, Consensus, OracleConfig};
use ithaca_membership::node::{MembershipNode, NodeConfig};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::MembershipConfig;
use crate::router::Router;

/// The data directory's sub-directory for the oracle's log.
pub const DATA_SUBDIR: &str = "membership";

/// Why the membership oracle could not start; the message names the key.
#[derive(Debug, thiserror::Error)]
pub enum MembershipStartError {
    /// The peer list is invalid.
    #[error("membership.oracle_peers: {0}")]
    Peers(String),
    /// The oracle node could not start (data directory, consensus listener).
    #[error("membership oracle: {0}")]
    Oracle(String),
    /// The member-facing listener could not start.
    #[error("membership.listen: {0}")]
    Node(String),
}

/// A running oracle node with its member-facing side.
pub struct MembershipHost {
    consensus: Arc<dyn Consensus>,
    node: MembershipNode,
    streams: watch::Sender<bool>,
    metrics: JoinHandle<()>,
}

impl std::fmt::Debug for MembershipHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MembershipHost")
            .field("listen", &self.node.local_addr())
            .finish_non_exhaustive()
    }
}

impl MembershipHost {
    /// Starts the oracle node and its member-facing side.
    pub async fn start(
        config: &MembershipConfig,
        data_dir: &Path,
    ) -> Result<Self, MembershipStartError> {
        let peers = consensus::parse_oracle_peers(&config.oracle_peers)
            .map_err(|e| MembershipStartError::Peers(e.to_string()))?;
        let mut oracle =
            OracleConfig::single_node(config.oracle_listen, data_dir.join(DATA_SUBDIR));
        oracle.node_id = config.oracle_id;
        oracle.peers = peers;
        let node = consensus::start(oracle)
            .await
            .map_err(|e| MembershipStartError::Oracle(e.to_string()))?;
        let consensus: Arc<dyn Consensus> = Arc::new(node);
        Self::with_consensus(config, consensus).await
    }

    /// Starts the member-facing side over an already running consensus
    /// node (tests use an in-memory one).
    pub async fn with_consensus(
        config: &MembershipConfig,
        consensus: Arc<dyn Consensus>,
    ) -> Result<Self, MembershipStartError> {
        let timing = config.timing();
        let detector = DetectorConfig {
            timing,
            stall_threshold: timing.heartbeat_interval,
            ..DetectorConfig::default()
        };
        let mut node_config = NodeConfig::new(config.listen, detector);
        node_config.tick_interval = (timing.heartbeat_interval / 10)
            .clamp(Duration::from_millis(1), Duration::from_millis(20));
        let node = match MembershipNode::start(node_config, Arc::clone(&consensus)).await {
            Ok(node) => node,
            Err(error) => {
                let _ = consensus.shutdown().await;
                return Err(MembershipStartError::Node(error.to_string()));
            }
        };
        let metrics = tokio::spawn(http::record_metrics(
            node.snapshots(),
            Arc::clone(&consensus),
            NodeCountersSource(node.counters_handle()),
        ));
        Ok(Self {
            consensus,
            node,
            streams: watch::Sender::new(false),
            metrics,
        })
    }

    /// Where members heartbeat (UDP) and join (TCP).
    pub fn member_addr(&self) -> SocketAddr {
        self.node.local_addr()
    }

    /// The consensus node.
    pub fn consensus(&self) -> &Arc<dyn Consensus> {
        &self.consensus
    }

    /// The admin routes: `/membership/view`, `/membership/members`,
    /// `/membership/watch`, `/membership/oracle-status`.
    pub fn routes(&self) -> Router {
        http::routes(http::State {
            consensus: Arc::clone(&self.consensus),
            views: self.node.views(),
            snapshots: self.node.snapshots(),
            counters: NodeCountersSource(self.node.counters_handle()),
            member_addr: self.node.local_addr(),
            streams_closed: self.streams.subscribe(),
        })
    }

    /// The SOAP `MembershipService` routes (`/services/MembershipService`
    /// and its SOAP 1.2 port), publishing `?wsdl` under `public_url` when
    /// set.
    pub fn soap_routes(&self, public_url: Option<&str>) -> Result<Router, crate::soap::SetupError> {
        soap::routes(
            soap::Backend {
                consensus: Arc::clone(&self.consensus),
                views: self.node.views(),
                member_addr: self.node.local_addr(),
            },
            public_url,
        )
    }

    /// Ends every open watch stream (call it before draining HTTP
    /// connections, which would otherwise wait for them).
    pub fn close_streams(&self) {
        self.streams.send_replace(true);
    }

    /// Stops the member-facing side and the oracle node.
    pub async fn shutdown(self) {
        self.close_streams();
        self.metrics.abort();
        self.node.shutdown().await;
        if let Err(error) = self.consensus.shutdown().await {
            tracing::warn!(%error, "membership oracle did not shut down cleanly");
        }
    }
}

/// Shared access to a node's counters.
#[derive(Clone, Debug)]
pub struct NodeCountersSource(Arc<ithaca_membership::node::NodeCounters>);

impl NodeCountersSource {
    /// The counters now.
    pub fn read(&self) -> ithaca_membership::node::CounterValues {
        self.0.read()
    }
}
