//! Oracle-to-oracle transport: openraft's RPCs over TCP, one request and one
//! answer per exchange, each a length-prefixed JSON frame.
//!
//! - A frame is `[len: u32 big-endian][JSON]`, at most [`MAX_FRAME_LEN`]
//!   bytes; a larger announced length closes the connection.
//! - Every RPC has a deadline (the smaller of openraft's soft TTL and
//!   [`super::RaftTiming::rpc_timeout`]; snapshots get openraft's hard TTL)
//!   covering connect, write and answer; a miss drops the connection.
//! - A client keeps at most one connection per peer, reused only while every
//!   exchange on it succeeds; any error or timeout drops it. If a reused
//!   connection turns out dead (closed or reset before an answer arrives),
//!   the request is retried once on a fresh connection within the same
//!   deadline, so a peer's restart never costs a failed RPC (the dead
//!   keep-alive connection behind openraft issue #1770).
//! - Outbound connections bind to the listener's IP when it is a specific
//!   address, so peers and firewalls see one address per node.
//! - The server bounds concurrent connections and closes idle ones.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use openraft::errors::{NetworkError, RPCError, ReplicationClosed, StreamingError, Unreachable};
use openraft::network::{RPCOption, RaftNetworkFactory, v2::RaftNetworkV2};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, TransferLeaderRequest,
    TransferLeaderResponse, VoteRequest, VoteResponse,
};
use openraft::type_config::alias::{SnapshotMetaOf, SnapshotOf, VoteOf};
use openraft::{BasicNode, Raft};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

use super::state_machine::ViewStore;
use super::types::OracleTypes;

/// Largest frame accepted, in bytes (a snapshot of the largest view fits).
pub(crate) const MAX_FRAME_LEN: usize = 64 * 1024 * 1024;
/// Most concurrent inbound connections one node serves.
pub(crate) const MAX_CONNECTIONS: usize = 64;
/// An inbound connection idle this long is closed.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

type OracleRaft = Raft<OracleTypes, ViewStore>;

/// One RPC on the wire.
#[derive(Debug, Serialize, Deserialize)]
enum RpcRequest {
    AppendEntries(AppendEntriesRequest<OracleTypes>),
    Vote(VoteRequest<OracleTypes>),
    PreVote(VoteRequest<OracleTypes>),
    FullSnapshot {
        vote: VoteOf<OracleTypes>,
        meta: SnapshotMetaOf<OracleTypes>,
        data: Vec<u8>,
    },
    TransferLeader(TransferLeaderRequest<OracleTypes>),
}

/// The answer to one RPC: the callee's result, its error as text.
#[derive(Debug, Serialize, Deserialize)]
enum RpcResponse {
    AppendEntries(Result<AppendEntriesResponse<OracleTypes>, String>),
    Vote(Result<VoteResponse<OracleTypes>, String>),
    FullSnapshot(Result<SnapshotResponse<OracleTypes>, String>),
    TransferLeader(Result<TransferLeaderResponse<OracleTypes>, String>),
}

async fn write_frame<T: Serialize>(stream: &mut TcpStream, message: &T) -> io::Result<()> {
    let body = serde_json::to_vec(message).map_err(io::Error::other)?;
    if body.len() > MAX_FRAME_LEN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "frame of {} bytes exceeds the {MAX_FRAME_LEN}-byte limit",
                body.len()
            ),
        ));
    }
    let len = u32::try_from(body.len()).map_err(io::Error::other)?;
    let mut out = Vec::with_capacity(body.len() + 4);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&body);
    stream.write_all(&out).await?;
    stream.flush().await
}

/// Reads one frame; `Ok(None)` on a clean end of stream before a frame.
async fn read_frame<T: DeserializeOwned>(stream: &mut TcpStream) -> io::Result<Option<T>> {
    let mut len = [0u8; 4];
    match stream.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME_LEN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes exceeds the {MAX_FRAME_LEN}-byte limit"),
        ));
    }
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).await?;
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Serves oracle RPCs from `listener` into `raft` until the task is aborted;
/// aborting it also ends every connection it accepted (they live in its
/// `JoinSet`), so a stopped node never answers through an old connection.
///
/// Nothing is accepted during the first `quiet` (connections wait in the
/// backlog): a restarted node has lost the in-memory leader lease that makes
/// it refuse votes, so it must not answer before any lease it may have held
/// has run out, or it could help elect a second leader while the first is
/// still certain (openraft notes the same in `StorageHelper`).
pub(crate) async fn serve(listener: TcpListener, raft: OracleRaft, quiet: Duration) {
    tokio::time::sleep(quiet).await;
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        tracing::warn!(error = %e, "oracle listener: accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                if connections.len() >= MAX_CONNECTIONS {
                    tracing::warn!(%peer, "oracle listener: too many connections, refusing one");
                    continue;
                }
                let raft = raft.clone();
                connections.spawn(async move {
                    if let Err(e) = serve_connection(stream, &raft).await {
                        tracing::debug!(%peer, error = %e, "oracle connection closed");
                    }
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn serve_connection(mut stream: TcpStream, raft: &OracleRaft) -> io::Result<()> {
    stream.set_nodelay(true)?;
    loop {
        let request = match tokio::time::timeout(IDLE_TIMEOUT, read_frame(&mut stream)).await {
            Err(_) => return Ok(()),
            Ok(read) => match read? {
                None => return Ok(()),
                Some(request) => request,
            },
        };
        let response = match request {
            RpcRequest::AppendEntries(rpc) => RpcResponse::AppendEntries(
                raft.append_entries(rpc).await.map_err(|e| e.to_string()),
            ),
            RpcRequest::Vote(rpc) => {
                RpcResponse::Vote(raft.vote(rpc).await.map_err(|e| e.to_string()))
            }
            RpcRequest::PreVote(rpc) => {
                RpcResponse::Vote(raft.pre_vote(rpc).await.map_err(|e| e.to_string()))
            }
            RpcRequest::FullSnapshot { vote, meta, data } => {
                let snapshot = SnapshotOf::<OracleTypes, Vec<u8>> {
                    meta,
                    snapshot: data,
                };
                RpcResponse::FullSnapshot(
                    raft.install_full_snapshot(vote, snapshot)
                        .await
                        .map_err(|e| e.to_string()),
                )
            }
            RpcRequest::TransferLeader(rpc) => RpcResponse::TransferLeader(
                raft.handle_transfer_leader(rpc)
                    .await
                    .map_err(|e| e.to_string()),
            ),
        };
        let failed = matches!(
            &response,
            RpcResponse::AppendEntries(Err(_))
                | RpcResponse::Vote(Err(_))
                | RpcResponse::FullSnapshot(Err(_))
                | RpcResponse::TransferLeader(Err(_))
        );
        write_frame(&mut stream, &response).await?;
        if failed {
            // The local node is stopping or failed: make peers reconnect.
            return Ok(());
        }
    }
}

/// Creates one [`PeerClient`] per peer for openraft.
#[derive(Debug, Clone)]
pub(crate) struct PeerNetwork {
    /// Outbound connections bind to this IP, when set.
    pub(crate) bind_ip: Option<IpAddr>,
    /// The deadline of every ordinary RPC.
    pub(crate) rpc_timeout: Duration,
}

impl RaftNetworkFactory<OracleTypes> for PeerNetwork {
    type Network = PeerClient;

    async fn new_client(&mut self, target: u64, node: &BasicNode) -> PeerClient {
        PeerClient {
            target,
            address: node.addr.clone(),
            bind_ip: self.bind_ip,
            rpc_timeout: self.rpc_timeout,
            connection: None,
        }
    }
}

/// The connection to one peer (see the module docs for its reuse rules).
#[derive(Debug)]
pub(crate) struct PeerClient {
    target: u64,
    address: String,
    bind_ip: Option<IpAddr>,
    rpc_timeout: Duration,
    connection: Option<TcpStream>,
}

/// How one exchange failed.
enum CallError {
    /// No answer within the deadline.
    Timeout,
    /// The peer could not be reached.
    Unreachable(io::Error),
    /// The connection broke or carried garbage.
    Network(io::Error),
    /// The peer answered with an error (its node is stopping or failed).
    Remote(String),
}

impl CallError {
    fn into_rpc(self, target: u64, address: &str, deadline: Duration) -> RPCError<OracleTypes> {
        match self {
            Self::Timeout => RPCError::Unreachable(Unreachable::from_string(format!(
                "oracle node {target} at {address}: no answer within {} ms",
                deadline.as_millis()
            ))),
            Self::Unreachable(e) => RPCError::Unreachable(Unreachable::from_string(format!(
                "oracle node {target} at {address}: {e}"
            ))),
            Self::Network(e) => RPCError::Network(NetworkError::from_string(format!(
                "oracle node {target} at {address}: {e}"
            ))),
            Self::Remote(e) => RPCError::Unreachable(Unreachable::from_string(format!(
                "oracle node {target} at {address} failed: {e}"
            ))),
        }
    }
}

fn is_dead_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

impl PeerClient {
    async fn connect(&self) -> io::Result<TcpStream> {
        let mut last = io::Error::new(io::ErrorKind::NotFound, "address resolves to nothing");
        for addr in tokio::net::lookup_host(self.address.as_str()).await? {
            match self.connect_one(addr).await {
                Ok(stream) => return Ok(stream),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    async fn connect_one(&self, addr: SocketAddr) -> io::Result<TcpStream> {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        if let Some(ip) = self.bind_ip.filter(|ip| ip.is_ipv4() == addr.is_ipv4()) {
            socket.bind(SocketAddr::new(ip, 0))?;
        }
        let stream = socket.connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }

    /// One exchange on `stream`.
    async fn exchange(stream: &mut TcpStream, request: &RpcRequest) -> io::Result<RpcResponse> {
        write_frame(stream, request).await?;
        read_frame(stream)
            .await?
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed"))
    }

    async fn call_inner(&mut self, request: &RpcRequest) -> Result<RpcResponse, CallError> {
        if let Some(mut stream) = self.connection.take() {
            match Self::exchange(&mut stream, request).await {
                Ok(response) => {
                    self.connection = Some(stream);
                    return Ok(response);
                }
                // A dead reused connection: retry once on a fresh one.
                Err(e) if is_dead_connection(&e) => {}
                Err(e) => return Err(CallError::Network(e)),
            }
        }
        let mut stream = self.connect().await.map_err(CallError::Unreachable)?;
        let response = Self::exchange(&mut stream, request)
            .await
            .map_err(CallError::Network)?;
        self.connection = Some(stream);
        Ok(response)
    }

    async fn call(
        &mut self,
        request: RpcRequest,
        deadline: Duration,
    ) -> Result<RpcResponse, CallError> {
        match tokio::time::timeout(deadline, self.call_inner(&request)).await {
            Ok(result) => {
                if result.is_err() {
                    self.connection = None;
                }
                result
            }
            Err(_) => {
                self.connection = None;
                Err(CallError::Timeout)
            }
        }
    }

    fn deadline(&self, option: &RPCOption) -> Duration {
        option.soft_ttl().min(self.rpc_timeout)
    }

    fn unexpected(&self) -> CallError {
        CallError::Network(io::Error::new(
            io::ErrorKind::InvalidData,
            "answer does not match the request",
        ))
    }
}

impl RaftNetworkV2<OracleTypes> for PeerClient {
    type SnapshotData = Vec<u8>;

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<OracleTypes>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<OracleTypes>, RPCError<OracleTypes>> {
        let deadline = self.deadline(&option);
        let result = match self.call(RpcRequest::AppendEntries(rpc), deadline).await {
            Ok(RpcResponse::AppendEntries(answer)) => answer.map_err(CallError::Remote),
            Ok(_) => Err(self.unexpected()),
            Err(e) => Err(e),
        };
        result.map_err(|e| e.into_rpc(self.target, &self.address, deadline))
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<OracleTypes>,
        option: RPCOption,
    ) -> Result<VoteResponse<OracleTypes>, RPCError<OracleTypes>> {
        let deadline = self.deadline(&option);
        let result = match self.call(RpcRequest::Vote(rpc), deadline).await {
            Ok(RpcResponse::Vote(answer)) => answer.map_err(CallError::Remote),
            Ok(_) => Err(self.unexpected()),
            Err(e) => Err(e),
        };
        result.map_err(|e| e.into_rpc(self.target, &self.address, deadline))
    }

    async fn pre_vote(
        &mut self,
        rpc: VoteRequest<OracleTypes>,
        option: RPCOption,
    ) -> Result<VoteResponse<OracleTypes>, RPCError<OracleTypes>> {
        let deadline = self.deadline(&option);
        let result = match self.call(RpcRequest::PreVote(rpc), deadline).await {
            Ok(RpcResponse::Vote(answer)) => answer.map_err(CallError::Remote),
            Ok(_) => Err(self.unexpected()),
            Err(e) => Err(e),
        };
        result.map_err(|e| e.into_rpc(self.target, &self.address, deadline))
    }

    async fn full_snapshot(
        &mut self,
        vote: VoteOf<OracleTypes>,
        snapshot: SnapshotOf<OracleTypes, Vec<u8>>,
        cancel: impl Future<Output = ReplicationClosed> + Send + 'static,
        option: RPCOption,
    ) -> Result<SnapshotResponse<OracleTypes>, StreamingError<OracleTypes>> {
        let deadline = option.hard_ttl();
        let request = RpcRequest::FullSnapshot {
            vote,
            meta: snapshot.meta,
            data: snapshot.snapshot,
        };
        let target = self.target;
        let address = self.address.clone();
        tokio::select! {
            closed = cancel => {
                self.connection = None;
                Err(StreamingError::Closed(closed))
            }
            result = self.call(request, deadline) => {
                let result = match result {
                    Ok(RpcResponse::FullSnapshot(answer)) => answer.map_err(CallError::Remote),
                    Ok(_) => Err(self.unexpected()),
                    Err(e) => Err(e),
                };
                result.map_err(|e| match e.into_rpc(target, &address, deadline) {
                    RPCError::Network(e) => StreamingError::Network(e),
                    RPCError::Unreachable(e) => StreamingError::Unreachable(e),
                    other => StreamingError::Network(NetworkError::from_string(other.to_string())),
                })
            }
        }
    }

    async fn transfer_leader(
        &mut self,
        rpc: TransferLeaderRequest<OracleTypes>,
        option: RPCOption,
    ) -> Result<TransferLeaderResponse<OracleTypes>, RPCError<OracleTypes>> {
        let deadline = self.deadline(&option);
        let result = match self.call(RpcRequest::TransferLeader(rpc), deadline).await {
            Ok(RpcResponse::TransferLeader(answer)) => answer.map_err(CallError::Remote),
            Ok(_) => Err(self.unexpected()),
            Err(e) => Err(e),
        };
        result.map_err(|e| e.into_rpc(self.target, &self.address, deadline))
    }
}
