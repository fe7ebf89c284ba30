//! The member's TCP requests to the oracle (join, leave, view fetch) and
//! its idea of which oracle node leads.
//!
//! Each request opens a connection, writes one frame and reads one answer
//! under a deadline; "not leader" answers redirect to the node they name,
//! failures move on to the next configured oracle, a bounded number of
//! times.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::view::{Incarnation, MemberId, ServiceName, View, ViewId};
use crate::wire::frame::{PREFIX_LEN, encode_frame, frame_len};
use crate::wire::{Message, RejectCode, WireError};

use super::ClientError;

/// Most join attempts when the view keeps knowing a higher incarnation.
const MAX_JOIN_ATTEMPTS: usize = 4;

/// What a committed join told the member.
#[derive(Debug)]
pub(super) struct Admission {
    /// The incarnation admitted.
    pub(super) incarnation: Incarnation,
    /// The view that committed it.
    pub(super) view_id: ViewId,
    /// That view, when the answer carried it (a small group, or an oracle
    /// that answered the plain join).
    pub(super) view: Option<View>,
    /// The oracle's lease, when it said.
    pub(super) lease: Option<Duration>,
}

/// The configured oracle nodes and the one believed to lead.
#[derive(Debug)]
pub(super) struct Oracles {
    addresses: Vec<SocketAddr>,
    leader: Mutex<SocketAddr>,
    next: AtomicUsize,
    request_ids: AtomicU64,
    timeout: Duration,
}

impl Oracles {
    /// `addresses` must not be empty (checked by the caller).
    pub(super) fn new(addresses: Vec<SocketAddr>, timeout: Duration) -> Self {
        let first = addresses
            .first()
            .copied()
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
        Self {
            addresses,
            leader: Mutex::new(first),
            next: AtomicUsize::new(1),
            request_ids: AtomicU64::new(1),
            timeout,
        }
    }

    /// The node believed to lead.
    pub(super) fn leader(&self) -> SocketAddr {
        *self.leader.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set_leader(&self, address: SocketAddr) {
        *self.leader.lock().unwrap_or_else(PoisonError::into_inner) = address;
    }

    /// Moves on to the next configured node.
    pub(super) fn rotate(&self) {
        let index = self.next.fetch_add(1, Ordering::Relaxed);
        if let Some(address) = self
            .addresses
            .get(index.checked_rem(self.addresses.len()).unwrap_or(0))
        {
            self.set_leader(*address);
        }
    }

    /// Follows a "not leader" answer: to the named node, else the next one.
    pub(super) fn redirect(&self, hint: Option<&str>) {
        match hint.and_then(|hint| hint.parse::<SocketAddr>().ok()) {
            Some(address) if address != self.leader() => self.set_leader(address),
            _ => self.rotate(),
        }
    }

    fn request_id(&self) -> u64 {
        self.request_ids.fetch_add(1, Ordering::Relaxed)
    }

    /// Sends `message` to the leader, following redirects; returns the
    /// answer's bytes (never a "not leader"). Keeps trying, with a short
    /// growing pause, until the request deadline: an oracle that is
    /// electing a leader answers "not leader" for a moment.
    async fn request(&self, message: &Message<'_>) -> Result<Vec<u8>, ClientError> {
        let mut frame = Vec::new();
        encode_frame(message, &mut frame)?;
        let deadline = tokio::time::Instant::now() + self.timeout;
        let mut pause = Duration::from_millis(10);
        let mut tried = 0;
        loop {
            let last;
            tried += 1;
            let target = self.leader();
            match exchange(target, &frame, self.timeout).await {
                Ok(answer) => match Message::decode(&answer) {
                    Ok(Message::NotLeader { leader, .. }) => {
                        last = format!("{target} is not the leader");
                        self.redirect(leader);
                    }
                    Ok(_) => return Ok(answer),
                    Err(error) => return Err(error.into()),
                },
                Err(error) => {
                    last = format!("{target}: {error}");
                    self.rotate();
                }
            }
            if tokio::time::Instant::now() + pause >= deadline {
                return Err(ClientError::NoLeader { tried, last });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(200));
        }
    }

    /// Joins at `incarnation` or, when the view remembers this id at that
    /// incarnation or higher, at the next one above it. Asks for the
    /// compact answer (the view only when small); an oracle that predates
    /// it is asked again with the plain join.
    pub(super) async fn join(
        &self,
        member: &MemberId,
        incarnation: Incarnation,
        address: &str,
        roles: &BTreeSet<ServiceName>,
    ) -> Result<Admission, ClientError> {
        let roles: Vec<&str> = roles.iter().map(ServiceName::as_str).collect();
        let mut incarnation = incarnation;
        let mut compact = true;
        for _ in 0..MAX_JOIN_ATTEMPTS {
            let request_id = self.request_id();
            let message = if compact {
                Message::JoinCompact {
                    request_id,
                    member: member.as_str(),
                    incarnation,
                    address,
                    roles: roles.clone(),
                }
            } else {
                Message::Join {
                    request_id,
                    member: member.as_str(),
                    incarnation,
                    address,
                    roles: roles.clone(),
                }
            };
            let answer = self.request(&message).await?;
            match Message::decode(&answer)? {
                Message::JoinAccepted {
                    view_id,
                    lease,
                    view,
                    ..
                } => {
                    return Ok(Admission {
                        incarnation,
                        view_id,
                        view: view.map(|view| *view),
                        lease: Some(lease),
                    });
                }
                Message::JoinReply { view, .. } => {
                    return Ok(Admission {
                        incarnation,
                        view_id: view.id(),
                        view: Some(*view),
                        lease: None,
                    });
                }
                // An oracle older than the compact join.
                Message::Rejected {
                    code: RejectCode::Invalid,
                    reason,
                    ..
                } if compact && reason.contains("kind 11") => compact = false,
                Message::Rejected {
                    code: RejectCode::StaleIncarnation,
                    ..
                } => {
                    let view = self.fetch_view(ViewId::INITIAL).await?.unwrap_or_default();
                    let known = view
                        .member(member)
                        .map(|info| info.incarnation)
                        .into_iter()
                        .chain(view.tombstones().get(member).map(|t| t.incarnation))
                        .max()
                        .unwrap_or(incarnation)
                        .max(incarnation);
                    incarnation = Incarnation(known.0.saturating_add(1));
                }
                other => return Err(refusal(&other)),
            }
        }
        Err(ClientError::Rejected {
            code: RejectCode::StaleIncarnation,
            reason: "the view kept knowing a newer incarnation".to_owned(),
        })
    }

    /// Leaves; returns the view id that removed the member.
    pub(super) async fn leave(
        &self,
        member: &MemberId,
        incarnation: Incarnation,
    ) -> Result<ViewId, ClientError> {
        let answer = self
            .request(&Message::Leave {
                request_id: self.request_id(),
                member: member.as_str(),
                incarnation,
            })
            .await?;
        match Message::decode(&answer)? {
            Message::LeaveReply { view_id, .. } => Ok(view_id),
            other => Err(refusal(&other)),
        }
    }

    /// The leader's view when newer than `known`.
    pub(super) async fn fetch_view(&self, known: ViewId) -> Result<Option<View>, ClientError> {
        let answer = self
            .request(&Message::ViewRequest {
                request_id: self.request_id(),
                known,
            })
            .await?;
        match Message::decode(&answer)? {
            Message::ViewReply { view, .. } => Ok(view.map(|view| *view)),
            other => Err(refusal(&other)),
        }
    }
}

fn refusal(message: &Message<'_>) -> ClientError {
    match message {
        Message::Rejected { code, reason, .. } => ClientError::Rejected {
            code: *code,
            reason: (*reason).to_owned(),
        },
        _ => ClientError::Wire(WireError::BadValue {
            what: "answer kind",
        }),
    }
}

/// One request and its answer over a fresh connection, under `timeout`.
async fn exchange(target: SocketAddr, frame: &[u8], timeout: Duration) -> Result<Vec<u8>, String> {
    let work = async {
        let mut stream = TcpStream::connect(target)
            .await
            .map_err(|e| e.to_string())?;
        let _ = stream.set_nodelay(true);
        stream.write_all(frame).await.map_err(|e| e.to_string())?;
        let mut prefix = [0u8; PREFIX_LEN];
        stream
            .read_exact(&mut prefix)
            .await
            .map_err(|e| e.to_string())?;
        let len = frame_len(prefix).map_err(|e| e.to_string())?;
        let mut body = vec![0u8; len];
        stream
            .read_exact(&mut body)
            .await
            .map_err(|e| e.to_string())?;
        Ok(body)
    };
    tokio::time::timeout(timeout, work)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {} ms", timeout.as_millis())))
}
