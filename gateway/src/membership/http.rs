//! The membership admin endpoints and metrics.
//!
//! - `GET /membership/view`: the committed view as JSON (the serde form of
//!   [`ithaca_membership::View`]: `id`, `members`, `primaries`, `backups`,
//!   `tombstones`), the same bytes members receive;
//! - `GET /membership/members`: one object per member with its roles, its
//!   place in each service and, on the oracle leader, its failure detector
//!   health (phi, silence, heartbeats);
//! - `GET /membership/watch`: server-sent events, one `view` event per
//!   committed view (the current one first), each `data:` line the view's
//!   JSON with its id as the event id;
//! - `GET /membership/oracle-status`: the oracle node's status (role,
//!   term, leader, log indexes, voters) and the heartbeat counters.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use http_body::Frame;
use ithaca_membership::consensus::Consensus;
use ithaca_membership::node::{EncodedView, NodeSnapshot};
use serde::Serialize;
use tokio::sync::{mpsc, watch};

use super::NodeCountersSource;
use crate::body::{Body, Request, Response, full, text_response};
use crate::metrics as names;
use crate::router::Router;

/// Most committed views buffered for one slow watch client before it is
/// disconnected.
const WATCH_BUFFER: usize = 16;

/// What the handlers read.
#[derive(Clone)]
pub(crate) struct State {
    pub(crate) consensus: Arc<dyn Consensus>,
    pub(crate) views: watch::Receiver<Arc<EncodedView>>,
    pub(crate) snapshots: watch::Receiver<Arc<NodeSnapshot>>,
    pub(crate) counters: NodeCountersSource,
    pub(crate) member_addr: SocketAddr,
    pub(crate) streams_closed: watch::Receiver<bool>,
}

/// Whether this node leads the oracle with certainty now: the consensus
/// leader whose last quorum acknowledgement still rules out another leader
/// (or a single voter). A leader cut off from its peers keeps the Raft role
/// until it hears a higher term, but stops being certain within one
/// election timeout, so operators never see two nodes reporting themselves
/// leader for long.
fn leads_with_certainty(consensus: &dyn Consensus) -> bool {
    consensus
        .leadership()
        .borrow()
        .is_certain_leader_at(Instant::now())
}

fn only_get(request: &Request) -> Option<Response> {
    (request.method() != http::Method::GET).then(|| {
        let mut response = text_response(StatusCode::METHOD_NOT_ALLOWED, "use GET\n");
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET"));
        response
    })
}

fn json_response(bytes: impl Into<Bytes>) -> Response {
    let mut response = http::Response::new(full(bytes.into()));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn to_json(value: &impl Serialize) -> Response {
    match serde_json::to_vec_pretty(value) {
        Ok(bytes) => json_response(bytes),
        Err(error) => text_response(StatusCode::INTERNAL_SERVER_ERROR, format!("{error}\n")),
    }
}

pub(crate) fn routes(state: State) -> Router {
    let view = state.clone();
    let members = state.clone();
    let watch_state = state.clone();
    let status = state;
    Router::new()
        .admin_route(
            "/membership/view",
            "membership_view",
            move |request: Request| {
                let json = view.views.borrow().json.clone();
                async move { only_get(&request).unwrap_or_else(|| json_response(json)) }
            },
        )
        .admin_route(
            "/membership/members",
            "membership_members",
            move |request: Request| {
                let report = members_report(&members);
                async move { only_get(&request).unwrap_or_else(|| to_json(&report)) }
            },
        )
        .admin_route(
            "/membership/watch",
            "membership_watch",
            move |request: Request| {
                let state = watch_state.clone();
                async move { only_get(&request).unwrap_or_else(|| watch_stream(&state)) }
            },
        )
        .admin_route(
            "/membership/oracle-status",
            "membership_oracle_status",
            move |request: Request| {
                let report = OracleReport {
                    member_listen: status.member_addr.to_string(),
                    oracle: status.consensus.status(),
                    heartbeats: status.counters.read(),
                };
                async move { only_get(&request).unwrap_or_else(|| to_json(&report)) }
            },
        )
}

#[derive(Serialize)]
struct OracleReport {
    member_listen: String,
    oracle: ithaca_membership::consensus::OracleStatus,
    heartbeats: ithaca_membership::node::CounterValues,
}

#[derive(Serialize)]
struct MembersReport {
    view_id: u64,
    oracle_leader: bool,
    suspicion_timeout_ms: u128,
    removals_held: bool,
    members: Vec<MemberReport>,
}

#[derive(Serialize)]
struct MemberReport {
    member: String,
    incarnation: u64,
    address: String,
    roles: Vec<String>,
    primary_for: Vec<String>,
    backup_for: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    phi: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    silent_for_ms: Option<u128>,
    #[serde(skip_serializing_if = "Option::is_none")]
    heartbeats: Option<u64>,
}

fn members_report(state: &State) -> MembersReport {
    let view = Arc::clone(&state.views.borrow());
    let snapshot = Arc::clone(&state.snapshots.borrow());
    let view = &view.view;
    let members = view
        .members()
        .iter()
        .map(|(member, info)| {
            // The snapshot lists members in id order.
            let health = snapshot
                .health
                .binary_search_by(|health| health.member.cmp(member))
                .ok()
                .and_then(|index| snapshot.health.get(index))
                .filter(|health| health.incarnation == info.incarnation);
            MemberReport {
                member: member.to_string(),
                incarnation: info.incarnation.0,
                address: info.address.clone(),
                roles: info.roles.iter().map(ToString::to_string).collect(),
                primary_for: view.primary_for(member).map(ToString::to_string).collect(),
                backup_for: info
                    .roles
                    .iter()
                    .filter(|service| view.backups(service).contains(member))
                    .map(ToString::to_string)
                    .collect(),
                phi: health.map(|health| health.phi),
                silent_for_ms: health.map(|health| health.silent_for.as_millis()),
                heartbeats: health.map(|health| health.heartbeats),
            }
        })
        .collect();
    MembersReport {
        view_id: view.id().0,
        oracle_leader: snapshot.leader && leads_with_certainty(state.consensus.as_ref()),
        suspicion_timeout_ms: snapshot.suspicion_timeout.as_millis(),
        removals_held: snapshot.removals_held,
        members,
    }
}

/// A server-sent events body fed by a channel.
struct EventStream {
    events: mpsc::Receiver<Bytes>,
}

impl http_body::Body for EventStream {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.events
            .poll_recv(cx)
            .map(|event| event.map(|bytes| Ok(Frame::data(bytes))))
    }
}

fn event(view: &EncodedView) -> Bytes {
    let mut text = Vec::with_capacity(view.json.len().saturating_add(48));
    text.extend_from_slice(format!("event: view\nid: {}\ndata: ", view.id().0).as_bytes());
    // The JSON is compact (one line), as `data:` needs.
    text.extend_from_slice(&view.json);
    text.extend_from_slice(b"\n\n");
    Bytes::from(text)
}

fn watch_stream(state: &State) -> Response {
    let (sender, events) = mpsc::channel(WATCH_BUFFER);
    let mut views = state.views.clone();
    let mut closed = state.streams_closed.clone();
    tokio::spawn(async move {
        let first = Arc::clone(&views.borrow_and_update());
        if sender.send(event(&first)).await.is_err() {
            return;
        }
        let mut keepalive = tokio::time::interval(Duration::from_secs(15));
        keepalive.tick().await;
        loop {
            tokio::select! {
                _ = closed.changed() => return,
                changed = views.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let view = Arc::clone(&views.borrow_and_update());
                    // A client that cannot keep up is dropped, not buffered.
                    if sender.try_send(event(&view)).is_err() {
                        return;
                    }
                }
                _ = keepalive.tick() => {
                    if sender.try_send(Bytes::from_static(b": keep-alive\n\n")).is_err() {
                        return;
                    }
                }
            }
        }
    });
    let mut response = http::Response::new(Body::new(EventStream { events }));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// Copies the node's state into the `ithaca_membership_*` metrics every
/// second, until aborted.
pub(crate) async fn record_metrics(
    mut snapshots: watch::Receiver<Arc<NodeSnapshot>>,
    consensus: Arc<dyn Consensus>,
    counters: NodeCountersSource,
) {
    let mut every = tokio::time::interval(Duration::from_secs(1));
    loop {
        every.tick().await;
        let snapshot = Arc::clone(&snapshots.borrow_and_update());
        let status = consensus.status();
        let values = counters.read();
        #[allow(clippy::cast_precision_loss)] // gauges of counts and ids
        {
            metrics::gauge!(names::MEMBERSHIP_VIEW_ID).set(snapshot.view_id.0 as f64);
            metrics::gauge!(names::MEMBERSHIP_MEMBERS).set(snapshot.members as f64);
            metrics::gauge!(names::MEMBERSHIP_SUSPECTED).set(snapshot.suspected as f64);
            metrics::gauge!(names::MEMBERSHIP_LEADER_ID).set(
                status
                    .leader
                    .as_ref()
                    .map_or(0.0, |leader| leader.id as f64),
            );
        }
        let leads = snapshot.leader && leads_with_certainty(consensus.as_ref());
        metrics::gauge!(names::MEMBERSHIP_IS_LEADER).set(if leads { 1.0 } else { 0.0 });
        metrics::gauge!(names::MEMBERSHIP_REMOVALS_HELD).set(if snapshot.removals_held {
            1.0
        } else {
            0.0
        });
        let phi_max = snapshot
            .health
            .iter()
            .map(|health| health.phi)
            .fold(0.0, f64::max);
        metrics::gauge!(names::MEMBERSHIP_PHI_MAX).set(phi_max);
        for (band, low, high) in [
            ("lt1", f64::NEG_INFINITY, 1.0),
            ("1to3", 1.0, 3.0),
            ("3to8", 3.0, 8.0),
            ("ge8", 8.0, f64::INFINITY),
        ] {
            #[allow(clippy::cast_precision_loss)] // a member count
            let count = snapshot
                .health
                .iter()
                .filter(|health| health.phi >= low && health.phi < high)
                .count() as f64;
            metrics::gauge!(names::MEMBERSHIP_MEMBERS_BY_PHI, "band" => band).set(count);
        }
        for (outcome, value) in [
            ("granted", values.granted),
            ("not_granted", values.not_granted),
            ("not_member", values.not_member),
            ("not_leader", values.not_leader),
            ("rejected", values.rejected),
            ("malformed", values.malformed),
        ] {
            metrics::counter!(names::MEMBERSHIP_HEARTBEATS, "outcome" => outcome).absolute(value);
        }
        metrics::counter!(names::MEMBERSHIP_REMOVALS).absolute(values.removals_committed);
        metrics::counter!(names::MEMBERSHIP_JOINS).absolute(values.joins_committed);
        metrics::counter!(names::MEMBERSHIP_LOCAL_STALLS).absolute(values.local_stalls);
    }
}
