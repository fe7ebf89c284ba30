//! The SOAP `MembershipService` (contract `membership.wsdl`), so members
//! written in any language take part: Join, Heartbeat, Leave, GetView and
//! WatchView (a long poll), hosted with dynamic handlers.
//!
//! A SOAP heartbeat takes exactly the path of a UDP one: the handler sends
//! the heartbeat datagram to this node's own member port on loopback and
//! answers with the node's reply, so the arrival is stamped at the socket
//! and recorded by the one task that owns the failure detector. The lease
//! in the answer counts from when the member sent its request, as for
//! every member.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ithaca_membership::consensus::{Consensus, ConsensusError};
use ithaca_membership::node::EncodedView;
use ithaca_membership::wire::{HeartbeatStatus, MAX_DATAGRAM, Message};
use ithaca_membership::{Incarnation, MemberId, ServiceName, View, ViewCommand, ViewId};
use ithaca_wsdl::value::{Field, Value};
use tokio::net::UdpSocket;
use tokio::sync::watch;

use crate::router::Router;
use crate::soap::{Contract, DynamicError, DynamicRequest, SetupError, SoapError, SoapService};

/// The contract, as published at `/services/MembershipService?wsdl`.
pub const WSDL: &str = include_str!("membership.wsdl");
/// The contract's file name.
pub const WSDL_NAME: &str = "membership.wsdl";
/// Where the SOAP 1.1 port is served (SOAP 1.2 at `…/soap12`).
pub const PATH: &str = "/services/MembershipService";
/// The longest WatchView wait.
pub const MAX_WATCH: Duration = Duration::from_secs(60);
/// How long a SOAP heartbeat waits for the node's answer.
const HEARTBEAT_WAIT: Duration = Duration::from_secs(1);

/// What the handlers use.
#[derive(Clone)]
pub(crate) struct Backend {
    pub(crate) consensus: Arc<dyn Consensus>,
    pub(crate) views: watch::Receiver<Arc<EncodedView>>,
    pub(crate) member_addr: SocketAddr,
}

/// Builds the service's routes, its `?wsdl` published under `public_url`
/// when set.
pub(crate) fn routes(backend: Backend, public_url: Option<&str>) -> Result<Router, SetupError> {
    let contract = Contract::from_bytes(WSDL_NAME, WSDL)?;
    let mut builder = SoapService::builder(contract);
    if let Some(url) = public_url {
        builder = builder.public_url(url);
    }
    let join = backend.clone();
    let heartbeat = backend.clone();
    let leave = backend.clone();
    let get = backend.clone();
    let watch_views = backend;
    builder
        .dynamic_operation("Join", move |request: DynamicRequest| {
            let backend = join.clone();
            async move { backend.join(request.value()).await }
        })
        .dynamic_operation("Heartbeat", move |request: DynamicRequest| {
            let backend = heartbeat.clone();
            async move { backend.heartbeat(request.value()).await }
        })
        .dynamic_operation("Leave", move |request: DynamicRequest| {
            let backend = leave.clone();
            async move { backend.leave(request.value()).await }
        })
        .dynamic_operation("GetView", move |_request: DynamicRequest| {
            let view = Arc::clone(&get.views.borrow());
            async move {
                Ok::<_, DynamicError>(Value::complex([Field::unqualified(
                    "view",
                    view_value(&view.view),
                )]))
            }
        })
        .dynamic_operation("WatchView", move |request: DynamicRequest| {
            let views = watch_views.views.clone();
            async move { watch_view(views, request.value()).await }
        })
        .build()
}

fn text<'a>(value: &'a Value, field: &str) -> Result<&'a str, SoapError> {
    value
        .field(field)
        .and_then(Value::as_str)
        .ok_or_else(|| SoapError::sender(format!("{field} is missing")))
}

fn number(value: &Value, field: &str) -> Result<u64, SoapError> {
    value
        .field(field)
        .and_then(Value::as_i64)
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| SoapError::sender(format!("{field} must be a number from 0")))
}

fn to_long(n: u64) -> Value {
    Value::int(i64::try_from(n).unwrap_or(i64::MAX))
}

fn refused(error: &ConsensusError) -> DynamicError {
    match error {
        ConsensusError::Rejected(error) => SoapError::sender(error.to_string()).into(),
        other => SoapError::receiver(other.to_string()).into(),
    }
}

/// The view as the contract's `View` type.
fn view_value(view: &View) -> Value {
    let mut fields = vec![Field::unqualified("viewId", to_long(view.id().0))];
    for (member, info) in view.members() {
        let mut member_fields = vec![
            Field::unqualified("member", Value::string(member.as_str())),
            Field::unqualified("incarnation", to_long(info.incarnation.0)),
            Field::unqualified("address", Value::string(info.address.clone())),
        ];
        member_fields.extend(
            info.roles
                .iter()
                .map(|role| Field::unqualified("role", Value::string(role.as_str()))),
        );
        fields.push(Field::unqualified("member", Value::complex(member_fields)));
    }
    let mut services: Vec<&ServiceName> = view.primaries().keys().collect();
    for info in view.members().values() {
        services.extend(info.roles.iter());
    }
    services.sort();
    services.dedup();
    for service in services {
        let mut service_fields = vec![Field::unqualified("name", Value::string(service.as_str()))];
        if let Some(primary) = view.primary(service) {
            service_fields.push(Field::unqualified(
                "primary",
                Value::string(primary.as_str()),
            ));
        }
        service_fields.extend(
            view.backups(service)
                .iter()
                .map(|backup| Field::unqualified("backup", Value::string(backup.as_str()))),
        );
        fields.push(Field::unqualified(
            "service",
            Value::complex(service_fields),
        ));
    }
    Value::complex(fields)
}

impl Backend {
    async fn join(&self, request: &Value) -> Result<Value, DynamicError> {
        let member = MemberId::new(text(request, "member")?)
            .map_err(|e| DynamicError::from(SoapError::sender(e.to_string())))?;
        let incarnation = Incarnation(number(request, "incarnation")?);
        let address = text(request, "address").unwrap_or_default().to_owned();
        let roles = request
            .as_complex()
            .map(|complex| {
                complex
                    .fields_named("role")
                    .filter_map(Value::as_str)
                    .map(ServiceName::new)
                    .collect::<Result<_, _>>()
            })
            .transpose()
            .map_err(|e| DynamicError::from(SoapError::sender(e.to_string())))?
            .unwrap_or_default();
        let current = Arc::clone(&self.views.borrow());
        let view = match current.view.member(&member) {
            // A retried join of the incarnation already in the view.
            Some(info)
                if info.incarnation == incarnation
                    && info.address == address
                    && info.roles == roles =>
            {
                View::clone(&current.view)
            }
            _ => self
                .consensus
                .propose(ViewCommand::Join {
                    member,
                    incarnation,
                    address,
                    roles,
                })
                .await
                .map_err(|e| refused(&e))?,
        };
        Ok(Value::complex([Field::unqualified(
            "view",
            view_value(&view),
        )]))
    }

    async fn leave(&self, request: &Value) -> Result<Value, DynamicError> {
        let member = MemberId::new(text(request, "member")?)
            .map_err(|e| DynamicError::from(SoapError::sender(e.to_string())))?;
        let incarnation = Incarnation(number(request, "incarnation")?);
        let view = self
            .consensus
            .propose(ViewCommand::Leave {
                member,
                incarnation,
            })
            .await
            .map_err(|e| refused(&e))?;
        Ok(Value::complex([Field::unqualified(
            "viewId",
            to_long(view.id().0),
        )]))
    }

    async fn heartbeat(&self, request: &Value) -> Result<Value, DynamicError> {
        let member = text(request, "member")?;
        let incarnation = Incarnation(number(request, "incarnation")?);
        let seen_view = ViewId(number(request, "seenViewId")?);
        let mut datagram = Vec::with_capacity(MAX_DATAGRAM);
        Message::Heartbeat {
            member,
            incarnation,
            request_id: 1,
            seen_view,
        }
        .encode(&mut datagram)
        .map_err(|e| DynamicError::from(SoapError::sender(e.to_string())))?;
        let answer = self
            .exchange(&datagram)
            .await
            .map_err(|e| DynamicError::from(SoapError::receiver(e)))?;
        let message = Message::decode(&answer)
            .map_err(|e| DynamicError::from(SoapError::receiver(e.to_string())))?;
        let (status, lease, view_id) = match message {
            Message::HeartbeatReply {
                view_id, status, ..
            } => match status {
                HeartbeatStatus::Granted { lease } => ("granted", lease, view_id),
                HeartbeatStatus::NotGranted => ("not-granted", Duration::ZERO, view_id),
                HeartbeatStatus::NotMember => ("not-member", Duration::ZERO, view_id),
            },
            Message::NotLeader { .. } => ("not-leader", Duration::ZERO, self.views.borrow().id()),
            Message::Rejected { reason, .. } => {
                return Err(SoapError::sender(reason.to_owned()).into());
            }
            _ => return Err(SoapError::receiver("unexpected answer from the oracle").into()),
        };
        let lease_ms = u64::try_from(lease.as_millis()).unwrap_or(u64::MAX);
        Ok(Value::complex([
            Field::unqualified("status", Value::string(status)),
            Field::unqualified("leaseMs", to_long(lease_ms)),
            Field::unqualified("viewId", to_long(view_id.0)),
        ]))
    }

    /// One heartbeat round trip to this node's member port on loopback.
    async fn exchange(&self, datagram: &[u8]) -> Result<Vec<u8>, String> {
        let mut target = self.member_addr;
        if target.ip().is_unspecified() {
            target.set_ip(match target.ip() {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
            });
        }
        let local = SocketAddr::new(target.ip(), 0);
        let socket = UdpSocket::bind(local).await.map_err(|e| e.to_string())?;
        socket
            .send_to(datagram, target)
            .await
            .map_err(|e| e.to_string())?;
        let mut buffer = vec![0u8; 65_536];
        let received = tokio::time::timeout(HEARTBEAT_WAIT, socket.recv_from(&mut buffer))
            .await
            .map_err(|_| "the oracle node did not answer the heartbeat".to_owned())?
            .map_err(|e| e.to_string())?;
        buffer.truncate(received.0);
        Ok(buffer)
    }
}

async fn watch_view(
    mut views: watch::Receiver<Arc<EncodedView>>,
    request: &Value,
) -> Result<Value, DynamicError> {
    let known = ViewId(number(request, "knownViewId")?);
    let wait = Duration::from_millis(number(request, "timeoutMs")?).min(MAX_WATCH);
    let newer = async {
        loop {
            let view = Arc::clone(&views.borrow_and_update());
            if view.id() > known {
                return Some(view);
            }
            if views.changed().await.is_err() {
                return None;
            }
        }
    };
    let view = match tokio::time::timeout(wait, newer).await {
        Ok(Some(view)) => view,
        _ => Arc::clone(&views.borrow()),
    };
    Ok(Value::complex([Field::unqualified(
        "view",
        view_value(&view.view),
    )]))
}
