//! The TCP side of an oracle node: Join, Leave and view fetches, one frame
//! in and one frame out, over connections bounded in number and time.
//!
//! Join and Leave are committed through the node's group commit (the
//! `batch` module: the joins and leaves arriving while a commit is in
//! flight share the next view change) before they are answered. A Join for
//! the incarnation the view already holds is answered with the current view
//! without a new commit, so a member may retry a join whose answer it lost.
//! A JoinReply carries the committed view's JSON as encoded once for the
//! whole batch. A compact join (`JoinCompact`) is answered with
//! `JoinAccepted`: the view id, the incarnation and the lease, and the view
//! only while its JSON is at most [`crate::wire::JOIN_VIEW_INLINE_MAX`]
//! bytes, so in a large group a join costs a few dozen bytes, not the
//! whole view.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Semaphore, watch};

use crate::consensus::{Consensus, ConsensusError, NodeInfo, OracleNodeId, Role};
use crate::view::{Incarnation, MemberId, ServiceName, ViewCommand, ViewError};
use crate::wire::frame::{PREFIX_LEN, frame_len};
use crate::wire::{JOIN_VIEW_INLINE_MAX, Message, RejectCode};

use super::batch::ViewChanges;
use super::handler::EncodedView;
use super::stats::NodeCounters;
use super::transport::StreamListener;

/// What the TCP side shares with its connection tasks.
pub(crate) struct RequestContext {
    pub(crate) consensus: Arc<dyn Consensus>,
    pub(crate) changes: ViewChanges,
    pub(crate) views: watch::Receiver<Arc<EncodedView>>,
    pub(crate) member_addresses: BTreeMap<OracleNodeId, String>,
    pub(crate) counters: Arc<NodeCounters>,
    pub(crate) request_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    /// The lease the oracle grants (named in compact join answers).
    pub(crate) lease: Duration,
}

/// Accepts connections until `shutdown` turns true.
pub(crate) async fn serve<L: StreamListener>(
    listener: L,
    context: Arc<RequestContext>,
    max_connections: usize,
    mut shutdown: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(max_connections.max(1)));
    loop {
        let permit = tokio::select! {
            _ = shutdown.changed() => return,
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return,
            },
        };
        let accepted = tokio::select! {
            _ = shutdown.changed() => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, _)) = accepted else {
            continue;
        };
        let context = Arc::clone(&context);
        let shutdown = shutdown.clone();
        L::set_nodelay(&stream);
        tokio::spawn(async move {
            let _permit = permit;
            connection(stream, &context, shutdown).await;
        });
    }
}

async fn connection<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    context: &RequestContext,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let mut prefix = [0u8; PREFIX_LEN];
        let read = tokio::select! {
            _ = shutdown.changed() => return,
            read = tokio::time::timeout(context.idle_timeout, stream.read_exact(&mut prefix)) => read,
        };
        if !matches!(read, Ok(Ok(_))) {
            return;
        }
        let Ok(len) = frame_len(prefix) else {
            context.counters.malformed.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let mut body = vec![0u8; len];
        match tokio::time::timeout(context.request_timeout, stream.read_exact(&mut body)).await {
            Ok(Ok(_)) => {}
            _ => return,
        }
        let reply = answer(&body, context).await;
        let mut frame = Vec::with_capacity(reply.len().saturating_add(PREFIX_LEN));
        // The reply was built within MAX_FRAME, so its length fits a u32.
        frame.extend_from_slice(&u32::try_from(reply.len()).unwrap_or(u32::MAX).to_be_bytes());
        frame.extend_from_slice(&reply);
        match tokio::time::timeout(context.request_timeout, stream.write_all(&frame)).await {
            Ok(Ok(())) => {}
            _ => return,
        }
    }
}

fn encode(message: &Message<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    if message.encode(&mut out).is_err() {
        out.clear();
        // A fixed, always-encodable answer.
        let _ = Message::Rejected {
            request_id: message.request_id(),
            code: RejectCode::LimitExceeded,
            reason: "the answer does not fit in one frame",
        }
        .encode(&mut out);
    }
    out
}

fn rejected(request_id: u64, code: RejectCode, reason: &str) -> Vec<u8> {
    let reason: String = reason.chars().take(200).collect();
    encode(&Message::Rejected {
        request_id,
        code,
        reason: &reason,
    })
}

/// The code a refused view change maps to.
pub(crate) fn reject_code(error: &ViewError) -> RejectCode {
    match error {
        ViewError::StaleIncarnation { .. } => RejectCode::StaleIncarnation,
        ViewError::UnknownMember { .. } => RejectCode::UnknownMember,
        ViewError::LimitExceeded { .. } | ViewError::AddressTooLong { .. } => {
            RejectCode::LimitExceeded
        }
        ViewError::InBatch { error, .. } => reject_code(error),
        _ => RejectCode::Invalid,
    }
}

impl RequestContext {
    fn hint(&self, leader: Option<&NodeInfo>) -> Option<String> {
        leader.and_then(|leader| self.member_addresses.get(&leader.id).cloned())
    }

    fn not_leader(&self, request_id: u64, leader: Option<&NodeInfo>) -> Vec<u8> {
        self.counters.not_leader.fetch_add(1, Ordering::Relaxed);
        let hint = self.hint(leader);
        encode(&Message::NotLeader {
            request_id,
            leader: hint.as_deref(),
        })
    }

    /// `Some(answer)` when this node is not the leader.
    fn check_leader(&self, request_id: u64) -> Option<Vec<u8>> {
        let status = self.consensus.leadership().borrow().clone();
        (status.role != Role::Leader).then(|| self.not_leader(request_id, status.leader.as_ref()))
    }

    fn refused(&self, request_id: u64, error: ConsensusError) -> Vec<u8> {
        match error {
            ConsensusError::NotLeader { leader } => self.not_leader(request_id, leader.as_ref()),
            ConsensusError::Rejected(error) => {
                self.counters.rejected.fetch_add(1, Ordering::Relaxed);
                rejected(request_id, reject_code(&error), &error.to_string())
            }
            other => rejected(request_id, RejectCode::Unavailable, &other.to_string()),
        }
    }
}

/// Answers one request frame.
pub(crate) async fn answer(body: &[u8], context: &RequestContext) -> Vec<u8> {
    let message = match Message::decode(body) {
        Ok(message) => message,
        Err(error) => {
            context.counters.malformed.fetch_add(1, Ordering::Relaxed);
            return rejected(0, RejectCode::Invalid, &error.to_string());
        }
    };
    match message {
        Message::Join {
            request_id,
            member,
            incarnation,
            address,
            roles,
        } => {
            let request = JoinRequest {
                request_id,
                incarnation,
                compact: false,
            };
            join(context, request, member, address, &roles).await
        }
        Message::JoinCompact {
            request_id,
            member,
            incarnation,
            address,
            roles,
        } => {
            let request = JoinRequest {
                request_id,
                incarnation,
                compact: true,
            };
            join(context, request, member, address, &roles).await
        }
        Message::Leave {
            request_id,
            member,
            incarnation,
        } => leave(context, request_id, member, incarnation).await,
        Message::ViewRequest { request_id, known } => {
            let current = context.views.borrow().clone();
            let json = (current.id() > known).then_some(current.json.as_slice());
            let mut out = Vec::new();
            match crate::wire::encode_view_reply(&mut out, request_id, json) {
                Ok(()) => out,
                Err(error) => rejected(request_id, RejectCode::LimitExceeded, &error.to_string()),
            }
        }
        other => {
            context.counters.malformed.fetch_add(1, Ordering::Relaxed);
            rejected(
                other.request_id(),
                RejectCode::Unsupported,
                "only Join, JoinCompact, Leave and ViewRequest are served over TCP",
            )
        }
    }
}

/// What a join answer depends on besides the member's fields.
#[derive(Clone, Copy)]
struct JoinRequest {
    request_id: u64,
    incarnation: Incarnation,
    /// Answer with `JoinAccepted` (the view inline only when small).
    compact: bool,
}

/// The answer to a join committed in (or already held by) `view`: the
/// whole view's JSON as encoded once per view change, or the compact form.
fn join_answer(context: &RequestContext, request: JoinRequest, view: &EncodedView) -> Vec<u8> {
    let mut out = Vec::new();
    let encoded = if request.compact {
        let inline = (view.json.len() <= JOIN_VIEW_INLINE_MAX).then_some(view.json.as_slice());
        crate::wire::encode_join_accepted(
            &mut out,
            request.request_id,
            view.id(),
            request.incarnation,
            context.lease,
            inline,
        )
    } else {
        crate::wire::encode_join_reply(&mut out, request.request_id, &view.json)
    };
    match encoded {
        Ok(()) => out,
        Err(error) => rejected(
            request.request_id,
            RejectCode::LimitExceeded,
            &error.to_string(),
        ),
    }
}

async fn join(
    context: &RequestContext,
    request: JoinRequest,
    member: &str,
    address: &str,
    roles: &[&str],
) -> Vec<u8> {
    let JoinRequest {
        request_id,
        incarnation,
        ..
    } = request;
    let parsed = MemberId::new(member).and_then(|member| {
        roles
            .iter()
            .map(|role| ServiceName::new(*role))
            .collect::<Result<BTreeSet<_>, _>>()
            .map(|roles| (member, roles))
    });
    let (member, roles) = match parsed {
        Ok(parsed) => parsed,
        Err(error) => {
            context.counters.rejected.fetch_add(1, Ordering::Relaxed);
            return rejected(request_id, RejectCode::Invalid, &error.to_string());
        }
    };
    if let Some(answer) = context.check_leader(request_id) {
        return answer;
    }
    let current = context.views.borrow().clone();
    if let Some(info) = current.view.member(&member)
        && info.incarnation == incarnation
        && info.address == address
        && info.roles == roles
    {
        return join_answer(context, request, &current);
    }
    let command = ViewCommand::Join {
        member,
        incarnation,
        address: address.to_owned(),
        roles,
    };
    match context.changes.submit(command).await {
        Ok(view) => {
            context
                .counters
                .joins_committed
                .fetch_add(1, Ordering::Relaxed);
            join_answer(context, request, &view)
        }
        Err(error) => context.refused(request_id, error),
    }
}

async fn leave(
    context: &RequestContext,
    request_id: u64,
    member: &str,
    incarnation: Incarnation,
) -> Vec<u8> {
    let member = match MemberId::new(member) {
        Ok(member) => member,
        Err(error) => {
            context.counters.rejected.fetch_add(1, Ordering::Relaxed);
            return rejected(request_id, RejectCode::Invalid, &error.to_string());
        }
    };
    if let Some(answer) = context.check_leader(request_id) {
        return answer;
    }
    match context
        .changes
        .submit(ViewCommand::Leave {
            member,
            incarnation,
        })
        .await
    {
        Ok(view) => {
            context
                .counters
                .leaves_committed
                .fetch_add(1, Ordering::Relaxed);
            encode(&Message::LeaveReply {
                request_id,
                view_id: view.id(),
            })
        }
        Err(error) => context.refused(request_id, error),
    }
}
