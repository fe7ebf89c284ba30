//! The IIOP client: [`OrbClient`] is one connection with invocations one
//! at a time (code sets negotiated, per-call deadlines); [`Orb`] invokes on
//! object references over a small pool of connections per endpoint (one
//! by default), a busy connection shared by concurrent calls (multiplexed
//! by request id), following LOCATION_FORWARD replies and OBJECT_FORWARD
//! locate replies.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::OrbError;
use crate::GiopVersion;
use crate::cdr::{ByteOrder, CdrReader, CdrWriter};
use crate::codeset::{CodeSetPolicy, CodeSets};
use crate::connection::{Connection, ConnectionConfig, Event, IdMap, Role};
use crate::giop::{
    LocateStatus, Message, MessageBody, ReplyStatus, Request, ResponseFlags, SystemException,
    TargetAddress,
};
use crate::ior::{CodeSetComponentInfo, Corbaloc, CorbalocAddress, IiopProfile, Ior};

/// How a client connection speaks.
#[derive(Clone, Copy, Debug)]
pub struct ClientConfig {
    /// The GIOP version of requests (for a reference: at most its IIOP
    /// profile's).
    pub version: GiopVersion,
    /// The byte order of requests.
    pub byte_order: ByteOrder,
    /// GIOP 1.2 requests larger than this go in fragments; `None` never
    /// fragments.
    pub max_fragment_size: Option<usize>,
    /// The char code sets this client prefers and converts (code-set
    /// negotiation; ISO-8859-1 native and UTF-8 by default, as omniORB).
    pub code_sets: CodeSetPolicy,
    /// How long a twoway call may take, from the request being written to
    /// the reply being read; `None` waits for ever. A call past its
    /// deadline fails with [`OrbError::Timeout`] (CORBA `TIMEOUT`).
    pub call_timeout: Option<Duration>,
    /// How many LOCATION_FORWARD hops [`Orb`] follows for one call.
    pub max_forwards: u8,
    /// [`BlockingOrbClient`](super::BlockingOrbClient) only: how long a
    /// call polls the socket for its reply, without sleeping, before it
    /// blocks in `recv`; `None` (the default) blocks at once. Polling for
    /// about one round trip saves the sleep and wake-up of the calling
    /// thread per call (the lowest latency, fewer context switches) at the
    /// price of keeping a CPU busy while the call waits: for
    /// latency-critical callers with a core to spare, not as a default.
    pub busy_poll: Option<Duration>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            version: GiopVersion::V1_2,
            byte_order: ByteOrder::LittleEndian,
            max_fragment_size: None,
            code_sets: CodeSetPolicy::default(),
            call_timeout: None,
            max_forwards: DEFAULT_MAX_FORWARDS,
            busy_poll: None,
        }
    }
}

/// The default bound on LOCATION_FORWARD hops per call.
pub const DEFAULT_MAX_FORWARDS: u8 = 8;

/// What a reply carried.
#[derive(Debug)]
pub enum ReplyBody {
    /// NO_EXCEPTION: a reader over the result and out arguments.
    Return(CdrReader),
    /// USER_EXCEPTION: the exception's repository id, and a reader over
    /// its members.
    UserException {
        /// The exception's repository id.
        id: String,
        /// Its members.
        members: CdrReader,
    },
    /// SYSTEM_EXCEPTION.
    System(SystemException),
    /// LOCATION_FORWARD or LOCATION_FORWARD_PERM: retry on this reference.
    Forward(Ior),
    /// A oneway request: no reply.
    None,
}

/// A connection to one IIOP server.
#[derive(Debug)]
pub struct OrbClient {
    stream: TcpStream,
    connection: Connection,
    config: ClientConfig,
    code_sets: CodeSets,
    read_buf: BytesMut,
    /// A write was cut off by a deadline: the stream may hold half a
    /// message, so nothing more can be sent on it.
    broken: bool,
}

impl OrbClient {
    /// Connects to `addr`.
    ///
    /// Without a reference there is no `TAG_CODE_SETS` to negotiate with;
    /// the client assumes what Ithaca and omniORB servers announce
    /// (ISO-8859-1 with UTF-8, UTF-16 for wide characters) and tells the
    /// server its choice on the first GIOP 1.1+ request.
    pub async fn connect(addr: SocketAddr, config: ClientConfig) -> Result<Self, OrbError> {
        let assumed = CodeSetPolicy::default().component_info();
        Self::connect_with_code_sets(addr, config, Some(&assumed)).await
    }

    /// Connects to `addr`, a server whose reference announced `code_sets`
    /// (`None`: its reference had no `TAG_CODE_SETS`, so char data is
    /// ISO-8859-1 and wide characters cannot be sent).
    pub async fn connect_with_code_sets(
        addr: SocketAddr,
        config: ClientConfig,
        code_sets: Option<&CodeSetComponentInfo>,
    ) -> Result<Self, OrbError> {
        let code_sets = config.code_sets.negotiate(code_sets)?;
        let stream = TcpStream::connect(addr).await?;
        let _ = stream.set_nodelay(true);
        let mut connection_config = ConnectionConfig::new(Role::Client);
        connection_config.version = config.version;
        connection_config.byte_order = config.byte_order;
        connection_config.max_fragment_size = config.max_fragment_size;
        let mut connection = Connection::new(connection_config);
        connection.set_code_sets(code_sets);
        Ok(Self {
            stream,
            connection,
            config,
            code_sets: connection_code_sets(config.version, code_sets),
            read_buf: BytesMut::with_capacity(16 * 1024),
            broken: false,
        })
    }

    /// Connects to the object of an IIOP profile: its host (or, if that
    /// fails, its alternate addresses), at most its GIOP version, with
    /// the code sets its `TAG_CODE_SETS` component allows.
    pub async fn connect_profile(
        profile: &IiopProfile,
        config: ClientConfig,
    ) -> Result<Self, OrbError> {
        let config = ClientConfig {
            version: profile_version(profile, config.version),
            ..config
        };
        let code_sets = profile.code_sets().transpose()?;
        let mut addresses = vec![(profile.host.clone(), profile.port)];
        addresses.extend(profile.alternate_addresses()?);
        let mut last = OrbError::NoAddress("no address in the profile");
        for (host, port) in addresses.iter().take(MAX_ADDRESSES_TRIED) {
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let addr = match tokio::net::lookup_host((host, *port)).await {
                Ok(mut addrs) => match addrs.next() {
                    Some(addr) => addr,
                    None => {
                        last = OrbError::NoAddress("the host name does not resolve");
                        continue;
                    }
                },
                Err(error) => {
                    last = OrbError::Io(error);
                    continue;
                }
            };
            match Self::connect_with_code_sets(addr, config, code_sets.as_ref()).await {
                Ok(client) => return Ok(client),
                Err(error @ OrbError::CodeSets(_)) => return Err(error),
                Err(error) => last = error,
            }
        }
        Err(last)
    }

    /// The transmission code sets this connection uses.
    pub fn code_sets(&self) -> CodeSets {
        self.code_sets
    }

    /// The configuration the connection was opened with.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Whether the connection can still carry calls.
    pub fn is_usable(&self) -> bool {
        !self.broken && !self.connection.is_closed()
    }

    /// Connects to the first IIOP address of a `corbaloc:` URL and returns
    /// the client and the object key.
    pub async fn connect_corbaloc(
        url: &str,
        config: ClientConfig,
    ) -> Result<(Self, Bytes), OrbError> {
        let corbaloc = Corbaloc::parse(url)?;
        let (host, port) = corbaloc
            .addresses
            .iter()
            .find_map(|a| match a {
                CorbalocAddress::Iiop { host, port, .. } => Some((host.clone(), *port)),
                CorbalocAddress::Rir => None,
            })
            .ok_or(OrbError::NoAddress("corbaloc with rir: only"))?;
        let addr = tokio::net::lookup_host((host.as_str(), port))
            .await?
            .next()
            .ok_or(OrbError::NoAddress("the host name does not resolve"))?;
        Ok((Self::connect(addr, config).await?, corbaloc.key))
    }

    /// Invokes `operation` on the object under `key`; `args` writes the in
    /// and inout arguments. Waits for the reply, at most the configured
    /// [`call_timeout`](ClientConfig::call_timeout).
    pub async fn invoke(
        &mut self,
        key: &[u8],
        operation: &str,
        args: impl FnOnce(&mut CdrWriter<'_>) -> crate::Result<()>,
    ) -> Result<ReplyBody, OrbError> {
        let deadline = self.config.call_timeout.map(|t| Instant::now() + t);
        self.call(key, operation, args, true, deadline).await
    }

    /// Invokes `operation` and waits for the reply until `deadline`.
    ///
    /// Past the deadline the call fails with [`OrbError::Timeout`]: the
    /// request is cancelled (CancelRequest) and the connection stays usable,
    /// a late reply being dropped; if the deadline cut a request off while
    /// it was being written, the connection is unusable from then on.
    pub async fn invoke_until(
        &mut self,
        key: &[u8],
        operation: &str,
        args: impl FnOnce(&mut CdrWriter<'_>) -> crate::Result<()>,
        deadline: Instant,
    ) -> Result<ReplyBody, OrbError> {
        self.call(key, operation, args, true, Some(deadline)).await
    }

    /// Sends a oneway request; returns once it is written.
    pub async fn invoke_oneway(
        &mut self,
        key: &[u8],
        operation: &str,
        args: impl FnOnce(&mut CdrWriter<'_>) -> crate::Result<()>,
    ) -> Result<(), OrbError> {
        let deadline = self.config.call_timeout.map(|t| Instant::now() + t);
        self.call(key, operation, args, false, deadline)
            .await
            .map(drop)
    }

    /// Asks the server whether it has the object under `key`.
    pub async fn locate(&mut self, key: &[u8]) -> Result<LocateStatus, OrbError> {
        self.check_usable()?;
        let deadline = self.config.call_timeout.map(|t| Instant::now() + t);
        let request_id = self
            .connection
            .send_locate_request(TargetAddress::KeyAddr(Bytes::copy_from_slice(key)))?;
        self.flush_until(deadline).await?;
        let wait = async {
            loop {
                match self.next_message().await? {
                    MessageBody::LocateReply(reply) if reply.request_id == request_id => {
                        return Ok(reply.status);
                    }
                    _ => continue,
                }
            }
        };
        match deadline {
            None => wait.await,
            Some(deadline) => match tokio::time::timeout_at(deadline, wait).await {
                Ok(result) => result,
                Err(_) => {
                    self.cancel(request_id).await;
                    Err(OrbError::Timeout)
                }
            },
        }
    }

    fn check_usable(&self) -> Result<(), OrbError> {
        if self.is_usable() {
            Ok(())
        } else {
            Err(OrbError::Closed)
        }
    }

    /// Gives up on a request: CancelRequest, so a late reply is dropped.
    async fn cancel(&mut self, request_id: u32) {
        if self.connection.cancel_request(request_id).is_ok() {
            // Best effort, and briefly: a server that does not read gets
            // the connection marked broken.
            let deadline = Instant::now() + Duration::from_millis(100);
            let _ = self.flush_until(Some(deadline)).await;
        }
    }

    async fn call(
        &mut self,
        key: &[u8],
        operation: &str,
        args: impl FnOnce(&mut CdrWriter<'_>) -> crate::Result<()>,
        response_expected: bool,
        deadline: Option<Instant>,
    ) -> Result<ReplyBody, OrbError> {
        self.check_usable()?;
        let request = build_request(
            &self.config,
            self.code_sets,
            self.connection
                .pending_code_set_context()
                .into_iter()
                .collect(),
            key,
            operation,
            args,
            response_expected,
        )?;
        let request_id = self.connection.send_request(request)?;
        self.flush_until(deadline).await?;
        if !response_expected {
            return Ok(ReplyBody::None);
        }
        let message = match deadline {
            None => self.next_reply_message(request_id).await?,
            Some(deadline) => {
                match tokio::time::timeout_at(deadline, self.next_reply_message(request_id)).await {
                    Ok(message) => message?,
                    Err(_) => {
                        self.cancel(request_id).await;
                        return Err(OrbError::Timeout);
                    }
                }
            }
        };
        reply_body(message, self.code_sets)
    }

    async fn flush(&mut self) -> Result<(), OrbError> {
        while let Some(bytes) = self.connection.poll_transmit() {
            if let Err(error) = self.stream.write_all(&bytes).await {
                self.broken = true;
                return Err(error.into());
            }
        }
        Ok(())
    }

    /// Writes what the connection has queued, until `deadline`. A write
    /// the deadline cuts off leaves the connection unusable.
    async fn flush_until(&mut self, deadline: Option<Instant>) -> Result<(), OrbError> {
        let Some(deadline) = deadline else {
            return self.flush().await;
        };
        match tokio::time::timeout_at(deadline, self.flush()).await {
            Ok(result) => result,
            Err(_) => {
                self.broken = true;
                Err(OrbError::Timeout)
            }
        }
    }

    /// Reads until the reply to `request_id` arrives; returns the whole
    /// message (its version and byte order are needed to read the body).
    async fn next_reply_message(&mut self, request_id: u32) -> Result<Message, OrbError> {
        loop {
            while let Some(event) = self.connection.poll_event() {
                match event {
                    Event::Message(message) => {
                        if let MessageBody::Reply(reply) = &message.body
                            && reply.request_id == request_id
                        {
                            return Ok(message);
                        }
                    }
                    Event::Malformed { error, .. } | Event::ProtocolError(error) => {
                        self.flush().await?;
                        return Err(OrbError::Giop(error));
                    }
                    Event::PeerClosed { .. } | Event::PeerRejected => return Err(OrbError::Closed),
                }
            }
            self.fill().await?;
        }
    }

    async fn next_message(&mut self) -> Result<MessageBody, OrbError> {
        loop {
            if let Some(event) = self.connection.poll_event() {
                return match event {
                    Event::Message(message) => Ok(message.body),
                    Event::Malformed { error, .. } | Event::ProtocolError(error) => {
                        Err(OrbError::Giop(error))
                    }
                    Event::PeerClosed { .. } | Event::PeerRejected => Err(OrbError::Closed),
                };
            }
            self.fill().await?;
        }
    }

    async fn fill(&mut self) -> Result<(), OrbError> {
        self.read_buf.clear();
        match self.stream.read_buf(&mut self.read_buf).await? {
            0 => Err(OrbError::Closed),
            _ => {
                self.connection.handle_input(&self.read_buf);
                Ok(())
            }
        }
    }
}

/// A request for `operation` on `key` with the arguments `args` writes,
/// encoded for the connection's version, byte order and code sets, with
/// `service_contexts` (the CodeSets context still to be announced first);
/// they go in before the body is encoded, since in GIOP 1.0/1.1 they move
/// the body and so its alignment.
fn build_request(
    config: &ClientConfig,
    code_sets: CodeSets,
    service_contexts: Vec<crate::giop::ServiceContext>,
    key: &[u8],
    operation: &str,
    args: impl FnOnce(&mut CdrWriter<'_>) -> crate::Result<()>,
    response_expected: bool,
) -> Result<Request, OrbError> {
    let mut request = Request {
        request_id: 0,
        response_flags: if response_expected {
            ResponseFlags::SyncWithTarget
        } else {
            ResponseFlags::from_response_expected(false)
        },
        target: TargetAddress::KeyAddr(Bytes::copy_from_slice(key)),
        operation: operation.to_owned(),
        service_contexts,
        requesting_principal: Bytes::new(),
        body: Bytes::new(),
    };
    let offset = match config.version {
        GiopVersion::V1_2 => 0,
        GiopVersion::V1_0 | GiopVersion::V1_1 => {
            // The id is a fixed-size field, so 0 gives the same offset.
            Message::new(
                config.version,
                config.byte_order,
                MessageBody::Request(request.clone()),
            )
            .body_offset()?
            .unwrap_or(crate::giop::GIOP_HEADER_LEN)
        }
    };
    let mut body = BytesMut::with_capacity(64);
    {
        let mut writer = CdrWriter::new(&mut body, config.byte_order, config.version)
            .with_alignment_offset(offset)
            .with_char_code_set(code_sets.char_data)
            .with_wchar_code_set(code_sets.wchar_data);
        args(&mut writer).map_err(|error| match error {
            crate::Error::NoWcharCodeSet => OrbError::NoWideCodeSet,
            other => OrbError::Giop(other),
        })?;
    }
    request.body = body.freeze();
    Ok(request)
}

/// The code sets in force on a connection of `version`: GIOP 1.0 has no
/// negotiation.
pub(super) fn connection_code_sets(version: GiopVersion, negotiated: CodeSets) -> CodeSets {
    match version {
        GiopVersion::V1_0 => CodeSets::UNNEGOTIATED,
        GiopVersion::V1_1 | GiopVersion::V1_2 => negotiated,
    }
}

/// The GIOP version to speak to a profile: the configured one, at most the
/// profile's.
pub(super) fn profile_version(profile: &IiopProfile, configured: GiopVersion) -> GiopVersion {
    let offered = match profile.version.minor {
        0 => GiopVersion::V1_0,
        1 => GiopVersion::V1_1,
        _ => GiopVersion::V1_2,
    };
    offered.min(configured)
}

/// How many addresses of one profile are tried.
pub(super) const MAX_ADDRESSES_TRIED: usize = 8;

pub(super) fn reply_body(message: Message, code_sets: CodeSets) -> Result<ReplyBody, OrbError> {
    let (version, byte_order) = (message.version, message.byte_order);
    let reader = |message: &Message, body: &Bytes| -> Result<CdrReader, OrbError> {
        let reader = match version {
            GiopVersion::V1_2 => CdrReader::new(body.clone(), byte_order, version),
            GiopVersion::V1_0 | GiopVersion::V1_1 => message
                .body_reader()?
                .unwrap_or_else(|| CdrReader::new(body.clone(), byte_order, version)),
        };
        Ok(reader
            .with_char_code_set(code_sets.char_data)
            .with_wchar_code_set(code_sets.wchar_data))
    };
    let MessageBody::Reply(reply) = &message.body else {
        return Err(OrbError::Closed);
    };
    Ok(match &reply.status {
        ReplyStatus::NoException(body) => ReplyBody::Return(reader(&message, body)?),
        ReplyStatus::UserException(body) => {
            let mut members = reader(&message, body)?;
            let id = members.read_string()?;
            ReplyBody::UserException { id, members }
        }
        ReplyStatus::SystemException(exception) => ReplyBody::System(exception.clone()),
        ReplyStatus::LocationForward(ior) | ReplyStatus::LocationForwardPerm(ior) => {
            ReplyBody::Forward(ior.clone())
        }
        ReplyStatus::NeedsAddressingMode(_) => ReplyBody::System(SystemException::standard(
            "NO_IMPLEMENT",
            SystemException::OMG_VMCID,
            crate::giop::CompletionStatus::No,
        )),
    })
}

/// The most endpoints whose connections an [`Orb`] keeps.
const MAX_POOLED_ENDPOINTS: usize = 256;

/// Where pooled connections go: a server address as the reference names
/// it, the GIOP version spoken and the code sets it announced.
#[derive(Clone, Debug, Eq, Hash, PartialEq)]
struct Endpoint {
    host: String,
    port: u16,
    version: GiopVersion,
    code_sets: Option<CodeSetComponentInfo>,
}

impl Endpoint {
    fn of(profile: &IiopProfile, config: &ClientConfig) -> Result<Self, OrbError> {
        Ok(Self {
            host: profile.host.clone(),
            port: profile.port,
            version: profile_version(profile, config.version),
            code_sets: profile.code_sets().transpose()?,
        })
    }
}

/// The connections an [`Orb`] keeps to one endpoint.
#[derive(Debug, Default)]
struct Pool {
    muxes: Mutex<Vec<Arc<Mux>>>,
}

impl Pool {
    /// How many of its connections are known to be open.
    fn usable(&self) -> usize {
        self.muxes
            .lock()
            .map(|m| m.iter().filter(|m| m.is_usable()).count())
            .unwrap_or(0)
    }

    fn is_empty(&self) -> bool {
        self.muxes.lock().map(|m| m.is_empty()).unwrap_or(true)
    }
}

/// An object reference read once for many calls ([`Orb::bind`]): its
/// IIOP profile, the endpoint its calls go to and that endpoint's kept
/// connections, so that a call with [`Orb::invoke_bound`] neither reads
/// the reference again nor looks its connections up. Connections that
/// close are replaced as with [`Orb::invoke`]; LOCATION_FORWARD replies
/// are followed per call (the binding keeps naming the reference it was
/// made from). Cloning is cheap.
#[derive(Clone, Debug)]
pub struct BoundObject {
    inner: Arc<Binding>,
}

#[derive(Debug)]
struct Binding {
    target: Ior,
    profile: IiopProfile,
    pool: Arc<Pool>,
}

impl BoundObject {
    /// The reference the binding was made from.
    pub fn target(&self) -> &Ior {
        &self.inner.target
    }

    /// The object key requests carry.
    pub fn object_key(&self) -> &[u8] {
        &self.inner.profile.object_key
    }
}

/// Invokes operations on object references, DII style.
///
/// Connections to an endpoint (host, port, GIOP version, code sets) are
/// opened on first use and kept: every later call to that endpoint reuses
/// one. By default there is one per endpoint, and concurrent calls share
/// it, multiplexed by request id (a call waiting for its reply reads for
/// all and hands each reply to its caller; there is no reader task, so a
/// lone call reads its own reply on its own task). With
/// [`Orb::with_connections_per_endpoint`] up to that many are kept: a call
/// takes a connection no other call is using, opens another while the
/// endpoint has fewer than the bound, and only then shares the least busy
/// one. Many servers (omniORB's thread-per-connection model among them)
/// answer the calls of one connection on one thread, or a bounded number
/// at a time, so on one shared connection concurrent callers can queue
/// behind a slow call. A connection that closes or breaks is replaced on the
/// next call. LOCATION_FORWARD and
/// LOCATION_FORWARD_PERM replies, and OBJECT_FORWARD locate replies, are
/// followed up to [`ClientConfig::max_forwards`] hops, then the call fails
/// with [`OrbError::TooManyForwards`]. Every call has the configured
/// deadline; a late reply is dropped. A caller that calls one object many
/// times binds it once ([`Orb::bind`]) and calls [`Orb::invoke_bound`],
/// with a deadline of its own over the whole call if it likes. Cloning
/// gives another handle on the same connections.
#[derive(Clone, Debug)]
pub struct Orb {
    config: ClientConfig,
    connections: Arc<Mutex<HashMap<Endpoint, Arc<Pool>>>>,
    /// Held while a connection is being opened, so concurrent first calls
    /// to an endpoint open one connection at a time, not one each.
    opening: Arc<tokio::sync::Mutex<()>>,
    /// The most connections kept per endpoint (at least 1).
    per_endpoint: usize,
}

/// The most connections [`Orb::with_connections_per_endpoint`] allows per
/// endpoint.
pub const MAX_CONNECTIONS_PER_ENDPOINT: usize = 64;

/// Which pooled connection a call takes.
enum Pick {
    /// One no other call uses (claimed for this call).
    Idle(Lease),
    /// Every connection is busy and the endpoint has room for another.
    Open,
    /// Every connection is busy and the pool is full: share the least
    /// busy one (claimed for this call).
    Share(Lease),
}

/// A pooled connection claimed by one call; dropping it releases the
/// claim.
#[derive(Debug)]
struct Lease(Arc<Mux>);

impl Lease {
    fn claim(mux: &Arc<Mux>) -> Self {
        mux.in_flight.fetch_add(1, Ordering::Relaxed);
        Self(mux.clone())
    }
}

impl std::ops::Deref for Lease {
    type Target = Mux;
    fn deref(&self) -> &Mux {
        &self.0
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Runs `future` until `deadline` (`None`: for ever); `None` past it.
/// The timer is made only when the future does not finish on its first
/// poll, so what is ready at once (a write the socket takes, a reply
/// already read by another caller) costs no timer.
async fn until<F: std::future::Future>(deadline: Option<Instant>, future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    let first = std::future::poll_fn(|cx| std::task::Poll::Ready(future.as_mut().poll(cx))).await;
    if let std::task::Poll::Ready(output) = first {
        return Some(output);
    }
    match deadline {
        None => Some(future.await),
        Some(deadline) => tokio::time::timeout_at(deadline, future).await.ok(),
    }
}

/// The earlier of two optional deadlines.
fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

impl Orb {
    /// An ORB whose connections use `config`.
    pub fn new(config: ClientConfig) -> Self {
        Self {
            config,
            connections: Arc::new(Mutex::new(HashMap::new())),
            opening: Arc::new(tokio::sync::Mutex::new(())),
            per_endpoint: 1,
        }
    }

    /// Keeps up to `n` connections per endpoint (1 to
    /// [`MAX_CONNECTIONS_PER_ENDPOINT`]; values outside are clamped), so
    /// up to `n` concurrent calls each have a connection of their own.
    pub fn with_connections_per_endpoint(mut self, n: usize) -> Self {
        self.per_endpoint = n.clamp(1, MAX_CONNECTIONS_PER_ENDPOINT);
        self
    }

    /// The most connections kept per endpoint.
    pub fn connections_per_endpoint(&self) -> usize {
        self.per_endpoint
    }

    /// The configuration of its connections.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Reads `target` for calls with [`Orb::invoke_bound`]: its IIOP
    /// profile and the connections kept to its endpoint. Fails as a call
    /// to it would (a nil reference, no IIOP profile, a malformed one,
    /// code sets that cannot be read).
    pub fn bind(&self, target: &Ior) -> Result<BoundObject, OrbError> {
        self.bind_owned(target.clone())
    }

    fn bind_owned(&self, target: Ior) -> Result<BoundObject, OrbError> {
        let profile = iiop_profile(&target)?;
        let endpoint = Endpoint::of(&profile, &self.config)?;
        let pool = self.pool(endpoint);
        Ok(BoundObject {
            inner: Arc::new(Binding {
                target,
                profile,
                pool,
            }),
        })
    }

    /// The kept connections of `endpoint`. Past [`MAX_POOLED_ENDPOINTS`],
    /// pools no binding holds and without connections are forgotten
    /// first; if none is, the endpoint's connections are not kept.
    fn pool(&self, endpoint: Endpoint) -> Arc<Pool> {
        let Ok(mut connections) = self.connections.lock() else {
            return Arc::default();
        };
        if let Some(pool) = connections.get(&endpoint) {
            return pool.clone();
        }
        if connections.len() >= MAX_POOLED_ENDPOINTS {
            connections.retain(|_, pool| Arc::strong_count(pool) > 1 || !pool.is_empty());
            if connections.len() >= MAX_POOLED_ENDPOINTS {
                return Arc::default();
            }
        }
        connections.entry(endpoint).or_default().clone()
    }

    /// Invokes `operation` on the object `target` names; `args` writes the
    /// in and inout arguments (again on each forward hop). Returns the
    /// reply and the reference that answered it (the last one forwarded
    /// to).
    pub async fn invoke(
        &self,
        target: &Ior,
        operation: &str,
        args: impl Fn(&mut CdrWriter<'_>) -> crate::Result<()>,
    ) -> Result<(ReplyBody, Ior), OrbError> {
        self.call(target, operation, &[], &args, true).await
    }

    /// Sends a oneway request to the object `target` names.
    pub async fn invoke_oneway(
        &self,
        target: &Ior,
        operation: &str,
        args: impl Fn(&mut CdrWriter<'_>) -> crate::Result<()>,
    ) -> Result<(), OrbError> {
        self.call(target, operation, &[], &args, false)
            .await
            .map(drop)
    }

    /// [`Orb::invoke`] (or, with `response_expected` false, a oneway
    /// request) with these service contexts in the request (after the
    /// CodeSets context the connection may still have to announce), such
    /// as a CosTransactions `PropagationContext` (id 0).
    pub async fn invoke_with_contexts(
        &self,
        target: &Ior,
        operation: &str,
        contexts: &[crate::giop::ServiceContext],
        response_expected: bool,
        args: impl Fn(&mut CdrWriter<'_>) -> crate::Result<()>,
    ) -> Result<(ReplyBody, Ior), OrbError> {
        self.call(target, operation, contexts, &args, response_expected)
            .await
    }

    /// [`Orb::invoke_with_contexts`] on a bound object, within `deadline`
    /// as well as the configured [`call_timeout`](ClientConfig::call_timeout)
    /// per hop. `deadline` covers the whole call: waiting for and opening
    /// a connection, every forward hop, the reply. Past it the call fails
    /// with [`OrbError::Timeout`] (a request already sent is cancelled).
    /// Returns the reply and, when a LOCATION_FORWARD was followed, the
    /// reference that answered.
    pub async fn invoke_bound(
        &self,
        object: &BoundObject,
        operation: &str,
        contexts: &[crate::giop::ServiceContext],
        response_expected: bool,
        deadline: Option<Instant>,
        args: impl Fn(&mut CdrWriter<'_>) -> crate::Result<()>,
    ) -> Result<(ReplyBody, Option<Ior>), OrbError> {
        self.call_bound(
            object,
            operation,
            contexts,
            &args,
            response_expected,
            deadline,
        )
        .await
    }

    /// Asks where the object `target` names is, following OBJECT_FORWARD
    /// answers; returns the last answer and the reference it came from.
    pub async fn locate(&self, target: &Ior) -> Result<(LocateStatus, Ior), OrbError> {
        let mut object = self.bind(target)?;
        for _ in 0..=self.config.max_forwards {
            let deadline = self
                .config
                .call_timeout
                .and_then(|t| Instant::now().checked_add(t));
            let mux = self.connection(&object, deadline).await?;
            match mux.locate(object.object_key(), deadline).await? {
                LocateStatus::ObjectForward(next) | LocateStatus::ObjectForwardPerm(next) => {
                    object = self.bind_owned(next)?;
                }
                status => return Ok((status, object.target().clone())),
            }
        }
        Err(OrbError::TooManyForwards(self.config.max_forwards))
    }

    /// How many open connections the ORB keeps.
    pub fn connections(&self) -> usize {
        let pools: Vec<Arc<Pool>> = match self.connections.lock() {
            Ok(connections) => connections.values().cloned().collect(),
            Err(_) => return 0,
        };
        pools.iter().map(|pool| pool.usable()).sum()
    }

    async fn call(
        &self,
        target: &Ior,
        operation: &str,
        contexts: &[crate::giop::ServiceContext],
        args: &(impl Fn(&mut CdrWriter<'_>) -> crate::Result<()> + ?Sized),
        response_expected: bool,
    ) -> Result<(ReplyBody, Ior), OrbError> {
        let object = self.bind(target)?;
        let (reply, forwarded) = self
            .call_bound(&object, operation, contexts, args, response_expected, None)
            .await?;
        Ok((reply, forwarded.unwrap_or_else(|| target.clone())))
    }

    async fn call_bound(
        &self,
        object: &BoundObject,
        operation: &str,
        contexts: &[crate::giop::ServiceContext],
        args: &(impl Fn(&mut CdrWriter<'_>) -> crate::Result<()> + ?Sized),
        response_expected: bool,
        deadline: Option<Instant>,
    ) -> Result<(ReplyBody, Option<Ior>), OrbError> {
        // A forwarded hop reads its reference afresh: the binding keeps
        // naming the reference it was made from.
        let mut forwarded: Option<BoundObject> = None;
        for _ in 0..=self.config.max_forwards {
            let hop = forwarded.as_ref().unwrap_or(object);
            let hop_deadline = match self.config.call_timeout {
                Some(timeout) => earliest(deadline, Instant::now().checked_add(timeout)),
                None => deadline,
            };
            let mux = self.connection(hop, hop_deadline).await?;
            let reply = mux
                .call(
                    hop.object_key(),
                    operation,
                    contexts,
                    args,
                    response_expected,
                    hop_deadline,
                )
                .await?;
            match reply {
                ReplyBody::Forward(next) => forwarded = Some(self.bind_owned(next)?),
                reply => return Ok((reply, forwarded.map(|f| f.target().clone()))),
            }
        }
        Err(OrbError::TooManyForwards(self.config.max_forwards))
    }

    /// A connection to the object's endpoint, claimed for one call: an
    /// idle kept one, else a new one while the endpoint has room, else
    /// the least busy one. Waiting for and opening a connection end at
    /// `deadline`.
    async fn connection(
        &self,
        object: &BoundObject,
        deadline: Option<Instant>,
    ) -> Result<Lease, OrbError> {
        let pool = &object.inner.pool;
        match self.pick(pool) {
            Pick::Idle(lease) | Pick::Share(lease) => return Ok(lease),
            Pick::Open => {}
        }
        until(deadline, self.open(object))
            .await
            .unwrap_or(Err(OrbError::Timeout))
    }

    /// Opens a connection to the object's endpoint (one at a time), unless
    /// another call made one available meanwhile.
    async fn open(&self, object: &BoundObject) -> Result<Lease, OrbError> {
        let pool = &object.inner.pool;
        let _opening = self.opening.lock().await;
        // Another call may have opened one, or finished with one, while
        // this one waited.
        match self.pick(pool) {
            Pick::Idle(lease) | Pick::Share(lease) => return Ok(lease),
            Pick::Open => {}
        }
        let mux = Arc::new(Mux::open(
            OrbClient::connect_profile(&object.inner.profile, self.config).await?,
        ));
        let lease = Lease::claim(&mux);
        if let Ok(mut muxes) = pool.muxes.lock() {
            muxes.retain(|m| !m.is_dead());
            if muxes.len() < self.per_endpoint {
                muxes.push(mux);
            }
        }
        Ok(lease)
    }

    /// Which kept connection of `pool` a call takes. A connection found
    /// closed is dropped from the pool on the way.
    fn pick(&self, pool: &Pool) -> Pick {
        loop {
            let lease = {
                let Ok(mut muxes) = pool.muxes.lock() else {
                    return Pick::Open;
                };
                muxes.retain(|m| !m.is_dead());
                // Claimed under the pool's lock, so two calls never take
                // the same idle connection.
                if let Some(idle) = muxes.iter().find(|m| m.in_flight() == 0) {
                    Pick::Idle(Lease::claim(idle))
                } else if muxes.len() < self.per_endpoint {
                    return Pick::Open;
                } else if let Some(busy) = muxes.iter().min_by_key(|m| m.in_flight()) {
                    Pick::Share(Lease::claim(busy))
                } else {
                    return Pick::Open;
                }
            };
            // What the server sent since the last call (a close) is looked
            // at outside the pool's lock; a closed connection is dropped by
            // the next `retain` and another one picked.
            match &lease {
                Pick::Idle(l) | Pick::Share(l) if !l.is_usable() => continue,
                _ => return lease,
            }
        }
    }
}

/// What a caller waits for: the reply message, or `None` if the connection
/// went away first.
type ReplySlot = tokio::sync::oneshot::Sender<Option<Message>>;

/// The state a multiplexed connection's callers share.
#[derive(Debug)]
struct MuxState {
    connection: Connection,
    /// Callers waiting for the reply to each request id (no hashing and,
    /// once warm, no allocation per call: see [`IdMap`]).
    waiting: IdMap<ReplySlot>,
    dead: bool,
}

/// The messages a send queued: almost always one, which needs no vector.
#[derive(Debug, Default)]
struct Outgoing {
    first: Option<Bytes>,
    rest: Vec<Bytes>,
}

impl Outgoing {
    fn chunks(&self) -> impl Iterator<Item = &Bytes> {
        self.first.iter().chain(&self.rest)
    }
}

impl MuxState {
    /// Ends every wait: the connection is gone.
    fn die(&mut self) {
        self.dead = true;
        self.waiting = IdMap::new();
    }

    fn take_transmit(&mut self) -> Outgoing {
        let first = self.connection.poll_transmit();
        let rest = match first {
            Some(_) => std::iter::from_fn(|| self.connection.poll_transmit()).collect(),
            None => Vec::new(),
        };
        Outgoing { first, rest }
    }

    /// Feeds what was read to the connection and hands each reply to the
    /// caller waiting for it (a reply nobody waits for, such as one to a
    /// cancelled request, is dropped). `None` input is the peer closing.
    fn receive(&mut self, input: Option<&[u8]>) {
        let Some(input) = input else {
            return self.die();
        };
        self.connection.handle_input(input);
        while let Some(event) = self.connection.poll_event() {
            match event {
                Event::Message(message) => {
                    let id = match &message.body {
                        MessageBody::Reply(reply) => reply.request_id,
                        MessageBody::LocateReply(reply) => reply.request_id,
                        _ => continue,
                    };
                    if let Some(slot) = self.waiting.remove(id) {
                        let _ = slot.send(Some(message));
                    }
                }
                Event::Malformed {
                    request_id: Some(id),
                    ..
                } => {
                    if let Some(slot) = self.waiting.remove(id) {
                        let _ = slot.send(None);
                    }
                }
                Event::Malformed { .. } => {}
                Event::PeerClosed { .. } | Event::PeerRejected | Event::ProtocolError(_) => {
                    return self.die();
                }
            }
        }
    }
}

/// The read half of a multiplexed connection and its buffer: whoever holds
/// it reads for every caller.
#[derive(Debug)]
struct ReadSide {
    half: tokio::net::tcp::OwnedReadHalf,
    buf: BytesMut,
}

/// One connection shared by concurrent calls, multiplexed by request id.
///
/// Senders take the write half in turn (so the bytes of one message are
/// never interleaved with another's). There is no reader task: a caller
/// waiting for its reply takes the read half and reads itself (the
/// leader/follower pattern), handing every reply it reads to the caller
/// waiting for it, until its own has come; then the next waiting caller
/// reads. A lone caller thus reads its reply on its own task, with no
/// hand-over from another task, and concurrent callers still get their
/// replies in any order. Between calls, [`Mux::is_usable`] looks (without
/// waiting) for what the server may have sent meanwhile, so a connection
/// the server closed is noticed before it is reused.
#[derive(Debug)]
struct Mux {
    state: Mutex<MuxState>,
    writer: tokio::sync::Mutex<tokio::net::tcp::OwnedWriteHalf>,
    reader: tokio::sync::Mutex<ReadSide>,
    code_sets: CodeSets,
    /// How many calls hold a [`Lease`] on it.
    in_flight: AtomicUsize,
}

impl Mux {
    /// Shares a freshly opened client connection.
    fn open(client: OrbClient) -> Self {
        let OrbClient {
            stream,
            connection,
            code_sets,
            read_buf,
            ..
        } = client;
        let (read_half, write_half) = stream.into_split();
        Self {
            state: Mutex::new(MuxState {
                connection,
                waiting: IdMap::new(),
                dead: false,
            }),
            writer: tokio::sync::Mutex::new(write_half),
            reader: tokio::sync::Mutex::new(ReadSide {
                half: read_half,
                buf: read_buf,
            }),
            code_sets,
            in_flight: AtomicUsize::new(0),
        }
    }

    /// How many calls use it now.
    fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Whether the connection is known to be gone (without reading).
    fn is_dead(&self) -> bool {
        self.state
            .lock()
            .map(|s| s.dead || s.connection.is_closed())
            .unwrap_or(true)
    }

    /// Whether the connection can carry another call. When no caller is
    /// reading, what has arrived since the last call (the server closing,
    /// a CloseConnection, a late reply) is read first, without waiting.
    fn is_usable(&self) -> bool {
        if let Ok(mut side) = self.reader.try_lock() {
            let ReadSide { half, buf } = &mut *side;
            buf.clear();
            let input = match half.try_read_buf(buf) {
                Ok(0) => Some(None),
                Ok(_) => Some(Some(&buf[..])),
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => None,
                Err(_) => Some(None),
            };
            if let (Some(input), Ok(mut state)) = (input, self.state.lock()) {
                state.receive(input);
            }
        }
        self.state
            .lock()
            .map(|s| !s.dead && !s.connection.is_closed())
            .unwrap_or(false)
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, MuxState>, OrbError> {
        self.state.lock().map_err(|_| OrbError::Closed)
    }

    /// Reads once for every waiting caller (the reader's holder only).
    async fn read_for_all(&self, side: &mut ReadSide) {
        side.buf.clear();
        let read = side.half.read_buf(&mut side.buf).await;
        if let Ok(mut state) = self.lock() {
            match read {
                Ok(0) | Err(_) => state.receive(None),
                Ok(_) => state.receive(Some(&side.buf)),
            }
        }
    }

    /// Queues a message with `send` (which returns its request id), writes
    /// it, and returns the id and the receiver of its reply.
    async fn send(
        &self,
        expects_reply: bool,
        deadline: Option<Instant>,
        send: impl FnOnce(&mut MuxState) -> Result<u32, OrbError>,
    ) -> Result<(u32, tokio::sync::oneshot::Receiver<Option<Message>>), OrbError> {
        let (slot, reply) = tokio::sync::oneshot::channel();
        let mut writer = self.writer.lock().await;
        let (id, bytes) = {
            let mut state = self.lock()?;
            if state.dead {
                return Err(OrbError::Closed);
            }
            let id = send(&mut state)?;
            if expects_reply {
                state.waiting.insert(id, slot);
            }
            (id, state.take_transmit())
        };
        let write = async {
            for chunk in bytes.chunks() {
                writer.write_all(chunk).await?;
            }
            Ok::<(), std::io::Error>(())
        };
        let written = match until(deadline, write).await {
            Some(written) => written.map_err(OrbError::from),
            None => Err(OrbError::Timeout),
        };
        if let Err(error) = written {
            // Half a message may be on the wire: nobody can use it now.
            if let Ok(mut state) = self.lock() {
                state.die();
            }
            return Err(error);
        }
        Ok((id, reply))
    }

    /// Waits for a reply until `deadline`; past it, cancels the request.
    /// While no other caller reads, this one reads (for everyone).
    async fn wait(
        &self,
        id: u32,
        reply: tokio::sync::oneshot::Receiver<Option<Message>>,
        deadline: Option<Instant>,
    ) -> Result<Message, OrbError> {
        let Some(received) = until(deadline, self.receive(reply)).await else {
            self.cancel(id).await;
            return Err(OrbError::Timeout);
        };
        match received {
            Some(Some(message)) => Ok(message),
            // The reply could not be decoded.
            Some(None) => Err(OrbError::Giop(crate::Error::ProtocolViolation(
                "the reply could not be decoded",
            ))),
            // The connection closed.
            None => Err(OrbError::Closed),
        }
    }

    /// The reply `reply` is to receive: handed over by the caller reading,
    /// or read by this one once it gets the read half. `None`: the
    /// connection went away.
    async fn receive(
        &self,
        mut reply: tokio::sync::oneshot::Receiver<Option<Message>>,
    ) -> Option<Option<Message>> {
        use tokio::sync::oneshot::error::TryRecvError;
        loop {
            tokio::select! {
                biased;
                received = &mut reply => return received.ok(),
                mut side = self.reader.lock() => {
                    // The reply may have come while this call queued.
                    match reply.try_recv() {
                        Ok(received) => return Some(received),
                        Err(TryRecvError::Closed) => return None,
                        Err(TryRecvError::Empty) => {}
                    }
                    self.read_for_all(&mut side).await;
                }
            }
        }
    }

    /// CancelRequest, so a late reply is dropped; best effort and brief.
    async fn cancel(&self, id: u32) {
        let bytes = match self.lock() {
            Ok(mut state) => {
                state.waiting.remove(id);
                if state.connection.cancel_request(id).is_err() {
                    return;
                }
                state.take_transmit()
            }
            Err(_) => return,
        };
        let deadline = Instant::now() + Duration::from_millis(100);
        let write = async {
            let mut writer = self.writer.lock().await;
            for chunk in bytes.chunks() {
                writer.write_all(chunk).await?;
            }
            Ok::<(), std::io::Error>(())
        };
        if !matches!(tokio::time::timeout_at(deadline, write).await, Ok(Ok(())))
            && let Ok(mut state) = self.lock()
        {
            state.die();
        }
    }

    /// One request on this connection, its reply awaited until
    /// `deadline`.
    async fn call(
        &self,
        key: &[u8],
        operation: &str,
        contexts: &[crate::giop::ServiceContext],
        args: &(impl Fn(&mut CdrWriter<'_>) -> crate::Result<()> + ?Sized),
        response_expected: bool,
        deadline: Option<Instant>,
    ) -> Result<ReplyBody, OrbError> {
        let flags = if response_expected {
            ResponseFlags::SyncWithTarget
        } else {
            ResponseFlags::from_response_expected(false)
        };
        let (id, reply) = self
            .send(response_expected, deadline, |state| {
                // The arguments go straight into the connection's buffer.
                state
                    .connection
                    .send_request_with_contexts(key, operation, flags, contexts, |w| args(w))
                    .map_err(|error| match error {
                        crate::Error::NoWcharCodeSet => OrbError::NoWideCodeSet,
                        other => OrbError::Giop(other),
                    })
            })
            .await?;
        if !response_expected {
            return Ok(ReplyBody::None);
        }
        reply_body(self.wait(id, reply, deadline).await?, self.code_sets)
    }

    async fn locate(
        &self,
        key: &[u8],
        deadline: Option<Instant>,
    ) -> Result<LocateStatus, OrbError> {
        let (id, reply) = self
            .send(true, deadline, |state| {
                Ok(state
                    .connection
                    .send_locate_request(TargetAddress::KeyAddr(Bytes::copy_from_slice(key)))?)
            })
            .await?;
        match self.wait(id, reply, deadline).await?.body {
            MessageBody::LocateReply(reply) => Ok(reply.status),
            _ => Err(OrbError::Closed),
        }
    }
}

fn iiop_profile(ior: &Ior) -> Result<IiopProfile, OrbError> {
    if ior.is_nil() {
        return Err(OrbError::NoAddress("nil object reference"));
    }
    Ok(ior
        .iiop_profile()
        .ok_or(OrbError::NoAddress("no iiop profile in the reference"))??)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Version;

    fn profile(minor: u8) -> IiopProfile {
        IiopProfile {
            version: Version::new(1, minor),
            host: "127.0.0.1".into(),
            port: 1,
            object_key: Bytes::new(),
            components: Vec::new(),
        }
    }

    #[test]
    fn the_profile_caps_the_giop_version() {
        assert_eq!(
            profile_version(&profile(0), GiopVersion::V1_2),
            GiopVersion::V1_0
        );
        assert_eq!(
            profile_version(&profile(1), GiopVersion::V1_2),
            GiopVersion::V1_1
        );
        assert_eq!(
            profile_version(&profile(3), GiopVersion::V1_2),
            GiopVersion::V1_2
        );
        assert_eq!(
            profile_version(&profile(2), GiopVersion::V1_0),
            GiopVersion::V1_0
        );
    }

    #[test]
    fn giop_1_0_has_no_negotiated_code_sets() {
        let negotiated = CodeSetPolicy::default()
            .negotiate(Some(&CodeSetPolicy::default().component_info()))
            .unwrap();
        assert_eq!(
            connection_code_sets(GiopVersion::V1_0, negotiated),
            CodeSets::UNNEGOTIATED
        );
        assert_eq!(
            connection_code_sets(GiopVersion::V1_2, negotiated),
            negotiated
        );
    }

    /// A server that answers the first request of each connection only
    /// once `together` connections each hold one (so calls complete only
    /// if each went on a connection of its own), then echoes at once;
    /// returns its address and how many connections it accepted.
    async fn rendezvous_server(
        together: usize,
    ) -> (SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
        use crate::giop::Reply;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let barrier = Arc::new(tokio::sync::Barrier::new(together));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let barrier = barrier.clone();
                tokio::spawn(async move {
                    let mut connection = Connection::new(ConnectionConfig::new(Role::Server));
                    let mut first = true;
                    let mut buf = vec![0u8; 4096];
                    loop {
                        while let Some(event) = connection.poll_event() {
                            if let Event::Message(message) = event
                                && let MessageBody::Request(request) = message.body
                            {
                                if first {
                                    first = false;
                                    barrier.wait().await;
                                }
                                let _ = connection.send_reply(Reply {
                                    request_id: request.request_id,
                                    service_contexts: Vec::new(),
                                    status: ReplyStatus::NoException(request.body),
                                });
                            }
                        }
                        while let Some(bytes) = connection.poll_transmit() {
                            if stream.write_all(&bytes).await.is_err() {
                                return;
                            }
                        }
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => connection.handle_input(&buf[..n]),
                        }
                    }
                });
            }
        });
        (addr, accepted)
    }

    async fn echo_calls(orb: &Orb, target: &Ior, calls: usize, round: usize) {
        let mut set = tokio::task::JoinSet::new();
        for i in 0..calls {
            let (orb, target) = (orb.clone(), target.clone());
            set.spawn(async move {
                let text = format!("call {round}.{i}");
                let (reply, _) = orb
                    .invoke(&target, "echoString", |w| w.write_string(&text))
                    .await
                    .unwrap();
                match reply {
                    ReplyBody::Return(mut r) => assert_eq!(r.read_string().unwrap(), text),
                    other => panic!("{other:?}"),
                }
            });
        }
        while let Some(done) = set.join_next().await {
            done.unwrap();
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn concurrent_calls_take_pooled_connections_of_their_own_up_to_the_bound() {
        let (addr, accepted) = rendezvous_server(4).await;
        let target =
            crate::naming::object_ior("IDL:Echo:1.0", "127.0.0.1", addr.port(), &b"Echo"[..])
                .unwrap();
        let orb = Orb::new(ClientConfig {
            call_timeout: Some(Duration::from_secs(10)),
            ..ClientConfig::default()
        })
        .with_connections_per_endpoint(4);
        assert_eq!(orb.connections_per_endpoint(), 4);
        // Four calls at once: each on its own connection, or the server
        // never answers.
        echo_calls(&orb, &target, 4, 0).await;
        assert_eq!(accepted.load(Ordering::SeqCst), 4);
        assert_eq!(orb.connections(), 4);
        // More calls than the bound share the kept connections; calls one
        // at a time reuse them; none is opened beyond the bound.
        echo_calls(&orb, &target, 12, 1).await;
        for round in 2..5 {
            echo_calls(&orb, &target, 1, round).await;
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 4);
        assert_eq!(orb.connections(), 4);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_bound_object_is_called_on_kept_connections_and_forwards_per_call() {
        use crate::orb::{ForwardingServant, OrbServer};
        let (addr, accepted) = rendezvous_server(1).await;
        let echo =
            crate::naming::object_ior("IDL:Echo:1.0", "127.0.0.1", addr.port(), &b"Echo"[..])
                .unwrap();
        let orb = Orb::new(ClientConfig::default()).with_connections_per_endpoint(2);
        let bound = orb.bind(&echo).unwrap();
        assert_eq!(bound.object_key(), b"Echo");
        assert_eq!(bound.target(), &echo);
        let deadline = Instant::now().checked_add(Duration::from_secs(10));
        for text in ["one", "two", "three"] {
            let (reply, forwarded) = orb
                .invoke_bound(&bound, "echoString", &[], true, deadline, |w| {
                    w.write_string(text)
                })
                .await
                .unwrap();
            match reply {
                ReplyBody::Return(mut r) => assert_eq!(r.read_string().unwrap(), text),
                other => panic!("{other:?}"),
            }
            assert_eq!(forwarded, None);
        }
        // Calls one at a time reuse one kept connection, which
        // `Orb::invoke` on the same reference shares.
        echo_calls(&orb, &echo, 1, 0).await;
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
        assert_eq!(orb.connections(), 1);

        // A moved object: every call through the binding is forwarded.
        let server = OrbServer::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        server.register(
            "Moved",
            Arc::new(ForwardingServant::new(echo.clone(), false)),
        );
        let moved = crate::naming::object_ior(
            "IDL:Echo:1.0",
            "127.0.0.1",
            server.local_addr().port(),
            &b"Moved"[..],
        )
        .unwrap();
        let running = server.spawn();
        let bound = orb.bind(&moved).unwrap();
        for _ in 0..2 {
            let (reply, forwarded) = orb
                .invoke_bound(&bound, "echoString", &[], true, deadline, |w| {
                    w.write_string("moved")
                })
                .await
                .unwrap();
            assert!(matches!(reply, ReplyBody::Return(_)), "{reply:?}");
            assert_eq!(forwarded.as_ref(), Some(&echo));
            assert_eq!(bound.target(), &moved);
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
        running.shutdown().await;
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_bound_call_ends_at_its_deadline_and_the_next_one_waits_again() {
        // Connections land in the backlog; nothing ever answers.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let target = crate::naming::object_ior(
            "IDL:Echo:1.0",
            "127.0.0.1",
            silent.local_addr().unwrap().port(),
            &b"Echo"[..],
        )
        .unwrap();
        let orb = Orb::new(ClientConfig::default());
        let bound = orb.bind(&target).unwrap();
        for _ in 0..2 {
            let started = Instant::now();
            let deadline = started.checked_add(Duration::from_millis(200));
            let result = orb
                .invoke_bound(&bound, "echoString", &[], true, deadline, |w| {
                    w.write_string("x")
                })
                .await;
            assert!(matches!(result, Err(OrbError::Timeout)), "{result:?}");
            let took = started.elapsed();
            assert!(took >= Duration::from_millis(200), "{took:?}");
            assert!(took < Duration::from_secs(5), "{took:?}");
        }
        // The request cancelled, the connection stays usable.
        assert_eq!(orb.connections(), 1);
        // A per-hop `call_timeout` shorter than the deadline ends it first.
        let orb = Orb::new(ClientConfig {
            call_timeout: Some(Duration::from_millis(100)),
            ..ClientConfig::default()
        });
        let bound = orb.bind(&target).unwrap();
        let started = Instant::now();
        let result = orb
            .invoke_bound(
                &bound,
                "echoString",
                &[],
                true,
                started.checked_add(Duration::from_secs(30)),
                |w| w.write_string("x"),
            )
            .await;
        assert!(matches!(result, Err(OrbError::Timeout)), "{result:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
        drop(silent);
    }

    #[test]
    fn a_reference_without_an_iiop_profile_does_not_bind() {
        let orb = Orb::new(ClientConfig::default());
        assert!(matches!(
            orb.bind(&Ior::default()),
            Err(OrbError::NoAddress(_))
        ));
    }

    #[test]
    fn the_bound_is_clamped() {
        let orb = Orb::new(ClientConfig::default());
        assert_eq!(orb.connections_per_endpoint(), 1);
        assert_eq!(
            orb.clone()
                .with_connections_per_endpoint(0)
                .connections_per_endpoint(),
            1
        );
        assert_eq!(
            orb.with_connections_per_endpoint(1000)
                .connections_per_endpoint(),
            MAX_CONNECTIONS_PER_ENDPOINT
        );
    }
}
