//! The IIOP server: accept loop, per-connection driver, dispatch by key.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::servant::{Call, Forward, Outcome, Servant};
use crate::GiopVersion;
use crate::cdr::{ByteOrder, CdrReader, CdrWriter};
use crate::codeset::{CodeSetError, CodeSets};
use crate::connection::{Connection, ConnectionConfig, Event, Role};
use crate::giop::{
    CompletionStatus, LocateReply, LocateStatus, Message, MessageBody, Reply, ReplyStatus, Request,
    SystemException,
};

/// The objects by key. Ordered: a lookup is a few short key comparisons,
/// cheaper per call than hashing the key.
type Registry = Arc<RwLock<BTreeMap<Bytes, Arc<dyn Servant>>>>;

/// How an [`OrbServer`] runs its connections.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub enum Threading {
    /// One OS thread per connection with blocking socket I/O, as omniORB
    /// does by default: the lowest latency per call (no readiness
    /// notification between a reply and the next request). Servant futures
    /// run on that thread, inside the runtime's context: polled in place,
    /// and through the runtime's handle only when they wait.
    #[default]
    ThreadPerConnection,
    /// One tokio task per connection: the lightest for very many mostly
    /// idle connections.
    Tasks,
}

/// A bound IIOP listener and its objects, not yet serving.
pub struct OrbServer {
    listener: TcpListener,
    objects: Registry,
    config: ConnectionConfig,
    threading: Threading,
}

impl std::fmt::Debug for OrbServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrbServer")
            .field("addr", &self.listener.local_addr().ok())
            .finish_non_exhaustive()
    }
}

impl OrbServer {
    /// Binds `addr` (port 0 picks a free port).
    pub async fn bind(addr: SocketAddr) -> std::io::Result<Self> {
        Ok(Self {
            listener: TcpListener::bind(addr).await?,
            objects: Arc::new(RwLock::new(BTreeMap::new())),
            config: ConnectionConfig::new(Role::Server),
            threading: Threading::default(),
        })
    }

    /// Chooses how connections run (thread per connection by default).
    pub fn with_threading(mut self, threading: Threading) -> Self {
        self.threading = threading;
        self
    }

    /// Sets the connection settings (byte order of replies, size limits,
    /// fragmentation of large GIOP 1.2 replies).
    pub fn with_config(mut self, config: ConnectionConfig) -> Self {
        self.config = ConnectionConfig {
            role: Role::Server,
            ..config
        };
        self
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// Makes `servant` reachable under `key` (`corbaloc:iiop:HOST:PORT/KEY`).
    pub fn register(&self, key: impl Into<Bytes>, servant: Arc<dyn Servant>) {
        if let Ok(mut objects) = self.objects.write() {
            objects.insert(key.into(), servant);
        }
    }

    /// A handle that adds (`Some`) or removes (`None`) the object under a
    /// key, also once the server runs: for servants that create objects,
    /// such as naming contexts and binding iterators. It holds the object
    /// table weakly, so it does nothing once the server is gone and a
    /// servant may keep it without keeping the server alive.
    pub fn registrar(
        &self,
    ) -> impl Fn(Bytes, Option<Arc<dyn Servant>>) + Clone + Send + Sync + 'static {
        let objects = Arc::downgrade(&self.objects);
        move |key, servant| {
            if let Some(objects) = objects.upgrade()
                && let Ok(mut objects) = objects.write()
            {
                match servant {
                    Some(servant) => objects.insert(key, servant),
                    None => objects.remove(&key),
                };
            }
        }
    }

    /// Serves on a background task until [`RunningOrbServer::shutdown`].
    pub fn spawn(self) -> RunningOrbServer {
        let (stop, stopped) = watch::channel(false);
        let addr = self.local_addr();
        let objects = self.objects.clone();
        let task = tokio::spawn(accept_loop(
            self.listener,
            self.objects,
            self.config,
            self.threading,
            stopped,
        ));
        RunningOrbServer {
            addr,
            objects,
            stop,
            task,
        }
    }
}

/// A serving ORB.
pub struct RunningOrbServer {
    addr: SocketAddr,
    objects: Registry,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for RunningOrbServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningOrbServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl RunningOrbServer {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Registers another object while serving.
    pub fn register(&self, key: impl Into<Bytes>, servant: Arc<dyn Servant>) {
        if let Ok(mut objects) = self.objects.write() {
            objects.insert(key.into(), servant);
        }
    }

    /// Stops accepting and closes every connection with CloseConnection
    /// once its current request is answered.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

async fn accept_loop(
    listener: TcpListener,
    objects: Registry,
    config: ConnectionConfig,
    threading: Threading,
    mut stopped: watch::Receiver<bool>,
) {
    let mut tasks = tokio::task::JoinSet::new();
    let mut threads = Vec::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped.changed() => break,
        };
        let Ok((stream, _peer)) = accepted else {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let dispatcher = Dispatcher {
            connection: Connection::new(config),
            objects: objects.clone(),
            byte_order: config.byte_order,
        };
        match threading {
            Threading::Tasks => {
                tasks.spawn(dispatcher.run_async(stream, stopped.clone()));
            }
            Threading::ThreadPerConnection => {
                if let Some(thread) = spawn_connection_thread(stream, dispatcher) {
                    threads.push(thread);
                }
            }
        }
        // Forget threads whose connection has ended.
        threads.retain(|(_, handle)| !handle.is_finished());
    }
    drop(listener);
    // A blocked read returns once its socket's read side is shut down; the
    // thread then sends CloseConnection and ends.
    for (stream, _) in &threads {
        let _ = stream.shutdown(std::net::Shutdown::Read);
    }
    let _ = tokio::task::spawn_blocking(move || {
        for (_, handle) in threads {
            let _ = handle.join();
        }
    })
    .await;
    while tasks.join_next().await.is_some() {}
}

/// Moves a connection to its own OS thread; returns a handle on the socket
/// (to shut it down) and the thread, or `None` if either failed (the
/// connection is then dropped, which the client sees as a close).
fn spawn_connection_thread(
    stream: TcpStream,
    dispatcher: Dispatcher,
) -> Option<(std::net::TcpStream, std::thread::JoinHandle<()>)> {
    let stream = stream.into_std().ok()?;
    stream.set_nonblocking(false).ok()?;
    let control = stream.try_clone().ok()?;
    let runtime = tokio::runtime::Handle::current();
    let thread = std::thread::Builder::new()
        .name("ithaca-orb-conn".to_owned())
        .spawn(move || dispatcher.run_blocking(stream, &runtime))
        .ok()?;
    Some((control, thread))
}

/// Runs `future` to completion on the calling thread, which must have
/// entered `runtime`'s context. It is polled once in place first: a servant
/// that does not wait (the common case) then costs no trip through the
/// runtime; one that waits is handed to [`Handle::block_on`], which polls
/// it again with a real waker.
///
/// [`Handle::block_on`]: tokio::runtime::Handle::block_on
fn complete_on_this_thread<F: Future>(future: F, runtime: &tokio::runtime::Handle) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut context) {
        std::task::Poll::Ready(output) => output,
        std::task::Poll::Pending => runtime.block_on(future),
    }
}

/// One connection's protocol state and the objects it may reach; the
/// drivers below only move bytes in and out of it.
struct Dispatcher {
    connection: Connection,
    objects: Registry,
    byte_order: ByteOrder,
}

impl Dispatcher {
    /// Moves what the connection wants sent into `out`.
    fn drain_transmit(&mut self, out: &mut BytesMut) {
        while let Some(bytes) = self.connection.poll_transmit() {
            out.extend_from_slice(&bytes);
        }
    }

    /// The blocking driver: one thread, blocking reads and writes.
    fn run_blocking(mut self, mut stream: std::net::TcpStream, runtime: &tokio::runtime::Handle) {
        use std::io::{Read, Write};
        // Servant futures may use tokio (timers, channels) when polled here.
        let _runtime_context = runtime.enter();
        let mut read_buf = vec![0u8; 16 * 1024];
        let mut out = BytesMut::with_capacity(16 * 1024);
        loop {
            while let Some(event) = self.connection.poll_event() {
                self.handle_blocking(event, runtime);
            }
            self.drain_transmit(&mut out);
            if !out.is_empty() {
                if stream.write_all(&out).is_err() {
                    return;
                }
                out.clear();
            }
            if self.connection.is_closed() {
                return;
            }
            match stream.read(&mut read_buf) {
                // The read side was shut down (server stopping) or the
                // client left: close in an orderly way, once.
                Ok(0) | Err(_) => {
                    self.connection.close();
                    self.drain_transmit(&mut out);
                    let _ = stream.write_all(&out);
                    return;
                }
                Ok(n) => self
                    .connection
                    .handle_input(read_buf.get(..n).unwrap_or_default()),
            }
        }
    }

    /// The async driver: one tokio task.
    async fn run_async(mut self, mut stream: TcpStream, mut stopped: watch::Receiver<bool>) {
        let mut read_buf = BytesMut::with_capacity(16 * 1024);
        let mut out = BytesMut::with_capacity(16 * 1024);
        loop {
            while let Some(event) = self.connection.poll_event() {
                self.handle(event).await;
            }
            self.drain_transmit(&mut out);
            if !out.is_empty() {
                if stream.write_all(&out).await.is_err() {
                    return;
                }
                out.clear();
            }
            if self.connection.is_closed() {
                return;
            }
            read_buf.clear();
            let read = tokio::select! {
                read = stream.read_buf(&mut read_buf) => read,
                _ = stopped.changed() => {
                    self.connection.close();
                    continue;
                }
            };
            match read {
                Ok(0) | Err(_) => return,
                Ok(_) => self.connection.handle_input(&read_buf),
            }
        }
    }

    /// Handles one event as far as it can without waiting: everything but
    /// a servant's [`Servant::invoke`], which it returns to be run (the
    /// async driver awaits it, the blocking one completes it in place).
    fn handle_now(&mut self, event: Event) -> Step {
        match event {
            Event::Message(message) => return self.handle_message(message),
            Event::Malformed {
                request_id: Some(request_id),
                ..
            } => {
                let exception = SystemException::standard(
                    "MARSHAL",
                    SystemException::OMG_VMCID,
                    CompletionStatus::No,
                );
                let _ = self.connection.send_reply(Reply {
                    request_id,
                    service_contexts: Vec::new(),
                    status: ReplyStatus::SystemException(exception),
                });
            }
            // Unanswerable or fatal: the connection has done what the spec
            // says (MessageError, close); nothing more to send.
            Event::Malformed { .. }
            | Event::PeerClosed { .. }
            | Event::PeerRejected
            | Event::ProtocolError(_) => {}
        }
        Step::Done
    }

    /// The async driver's handling: [`Dispatcher::handle_now`], then the
    /// servant's future awaited.
    async fn handle(&mut self, event: Event) {
        if let Step::Invoke {
            servant,
            call,
            reply_to,
            version,
        } = self.handle_now(event)
        {
            let outcome = servant.invoke(call).await;
            self.answer(reply_to, reply_status(outcome, version));
        }
    }

    /// The blocking driver's handling: as [`Dispatcher::handle`], with the
    /// servant's future completed on this thread.
    fn handle_blocking(&mut self, event: Event, runtime: &tokio::runtime::Handle) {
        if let Step::Invoke {
            servant,
            call,
            reply_to,
            version,
        } = self.handle_now(event)
        {
            let outcome = complete_on_this_thread(servant.invoke(call), runtime);
            self.answer(reply_to, reply_status(outcome, version));
        }
    }

    /// Sends the reply to `reply_to` (`None`: a oneway request, no reply).
    fn answer(&mut self, reply_to: Option<u32>, status: ReplyStatus) {
        if let Some(request_id) = reply_to {
            let _ = self.connection.send_reply(Reply {
                request_id,
                service_contexts: Vec::new(),
                status,
            });
        }
    }

    fn servant(&self, key: &Bytes) -> Option<Arc<dyn Servant>> {
        self.objects.read().ok()?.get(key).cloned()
    }

    fn handle_message(&mut self, message: Message) -> Step {
        let version = message.version;
        let request_byte_order = message.byte_order;
        match message.body {
            MessageBody::Request(mut request) => {
                let args = match version {
                    // 1.2 bodies start on a multiple of 8: counting from 0
                    // aligns the same way, and saves re-encoding the header.
                    GiopVersion::V1_2 => Ok(CdrReader::new(
                        std::mem::take(&mut request.body),
                        request_byte_order,
                        version,
                    )),
                    GiopVersion::V1_0 | GiopVersion::V1_1 => {
                        let message = Message::new(
                            version,
                            request_byte_order,
                            MessageBody::Request(request.clone()),
                        );
                        message.body_reader().map(|r| {
                            r.unwrap_or_else(|| {
                                CdrReader::new(Bytes::new(), request_byte_order, version)
                            })
                        })
                    }
                };
                let reply_to = request
                    .response_flags
                    .response_expected()
                    .then_some(request.request_id);
                let status = match (args, self.connection.code_sets(version)) {
                    (Ok(args), Ok(code_sets)) => {
                        let args = args
                            .with_char_code_set(code_sets.char_data)
                            .with_wchar_code_set(code_sets.wchar_data);
                        match self.dispatch(&mut request, args, version, code_sets) {
                            Ok(status) => status,
                            Err((servant, call)) => {
                                return Step::Invoke {
                                    servant,
                                    call,
                                    reply_to,
                                    version,
                                };
                            }
                        }
                    }
                    (_, Err(_)) => ReplyStatus::SystemException(SystemException::standard(
                        CodeSetError::EXCEPTION,
                        SystemException::OMG_VMCID,
                        CompletionStatus::No,
                    )),
                    (Err(_), _) => ReplyStatus::SystemException(SystemException::standard(
                        "MARSHAL",
                        SystemException::OMG_VMCID,
                        CompletionStatus::No,
                    )),
                };
                self.answer(reply_to, status);
            }
            MessageBody::LocateRequest(locate) => {
                let servant = locate.target.object_key().and_then(|key| self.servant(key));
                let status = match servant.map(|servant| servant.forwarded_to()) {
                    Some(Some(Forward { to, permanent }))
                        if permanent && version == GiopVersion::V1_2 =>
                    {
                        LocateStatus::ObjectForwardPerm(to)
                    }
                    Some(Some(Forward { to, .. })) => LocateStatus::ObjectForward(to),
                    Some(None) => LocateStatus::ObjectHere,
                    None => LocateStatus::UnknownObject,
                };
                let _ = self.connection.send_locate_reply(LocateReply {
                    request_id: locate.request_id,
                    status,
                });
            }
            // Replies are computed one at a time, so there is never one to
            // cancel; the other messages never reach a server's application.
            _ => {}
        }
        Step::Done
    }

    /// Runs the request's operation as far as it can without waiting: the
    /// built-in operations, or the servant's [`Servant::invoke_now`]; a
    /// servant that hands the call back is returned with it (`Err`), to
    /// run [`Servant::invoke`]. The operation name moves into the [`Call`].
    #[allow(clippy::type_complexity, clippy::result_large_err)]
    fn dispatch(
        &self,
        request: &mut Request,
        mut args: CdrReader,
        version: GiopVersion,
        code_sets: CodeSets,
    ) -> Result<ReplyStatus, (Arc<dyn Servant>, Call)> {
        let servant = request
            .target
            .object_key()
            .and_then(|key| self.servant(key));
        let Some(servant) = servant else {
            return Ok(ReplyStatus::SystemException(SystemException::standard(
                "OBJECT_NOT_EXIST",
                SystemException::OMG_VMCID | 1,
                CompletionStatus::No,
            )));
        };
        // A moved object forwards every request, built-ins included.
        if let Some(forward) = servant.forwarded_to() {
            return Ok(reply_status(Outcome::Forward(forward), version));
        }
        let Ok(reply_offset) = reply_body_offset(request.request_id, version, self.byte_order)
        else {
            return Ok(marshal_status());
        };
        // `_is_a` reads its argument here; the call needs no copy of it.
        let is_a = match request.operation.as_str() {
            "_is_a" => Some(args.read_string()),
            _ => None,
        };
        let call = Call::new(
            std::mem::take(&mut request.operation),
            args,
            request.response_flags.response_expected(),
            version,
            self.byte_order,
            reply_offset,
        )
        .with_code_sets(code_sets)
        .with_service_contexts(std::mem::take(&mut request.service_contexts));
        let outcome = match (call.operation(), is_a) {
            (_, Some(Ok(id))) => {
                let is_a = servant.is_a(&id);
                call.reply(|w: &mut CdrWriter<'_>| {
                    w.write_boolean(is_a);
                    Ok(())
                })
            }
            (_, Some(Err(error))) => Outcome::marshal(error),
            ("_non_existent" | "_not_existent", None) => call.reply(|w| {
                w.write_boolean(false);
                Ok(())
            }),
            // There is no interface repository to return a reference into:
            // NO_IMPLEMENT, as omniORB answers without one.
            ("_interface", None) => Outcome::system(
                "NO_IMPLEMENT",
                SystemException::OMG_VMCID | 3,
                CompletionStatus::No,
            ),
            _ => match servant.invoke_now(call) {
                Ok(outcome) => outcome,
                Err(call) => return Err((servant, call)),
            },
        };
        Ok(reply_status(outcome, version))
    }
}

/// What handling a message left to do.
enum Step {
    /// Nothing: any reply is queued.
    Done,
    /// The servant's [`Servant::invoke`] must run; its outcome answers
    /// `reply_to` (`None`: oneway).
    Invoke {
        servant: Arc<dyn Servant>,
        call: Call,
        reply_to: Option<u32>,
        version: GiopVersion,
    },
}

/// The reply status an outcome makes in a reply of `version` (a
/// permanent forward is GIOP 1.2 only: older clients get the plain one).
fn reply_status(outcome: Outcome, version: GiopVersion) -> ReplyStatus {
    match outcome {
        Outcome::Return(body) => ReplyStatus::NoException(body),
        Outcome::UserException(body) => ReplyStatus::UserException(body),
        Outcome::System(exception) => ReplyStatus::SystemException(exception),
        Outcome::Forward(Forward { to, permanent })
            if permanent && version == GiopVersion::V1_2 =>
        {
            ReplyStatus::LocationForwardPerm(to)
        }
        Outcome::Forward(Forward { to, .. }) => ReplyStatus::LocationForward(to),
    }
}

fn marshal_status() -> ReplyStatus {
    ReplyStatus::SystemException(SystemException::standard(
        "MARSHAL",
        SystemException::OMG_VMCID,
        CompletionStatus::Yes,
    ))
}

/// Where a NO_EXCEPTION reply body starts, for alignment: any multiple of 8
/// in GIOP 1.2 (0 will do), right after the header in 1.0 and 1.1.
fn reply_body_offset(
    request_id: u32,
    version: GiopVersion,
    byte_order: ByteOrder,
) -> crate::Result<usize> {
    match version {
        GiopVersion::V1_2 => Ok(0),
        GiopVersion::V1_0 | GiopVersion::V1_1 => {
            let reply = Message::new(
                version,
                byte_order,
                MessageBody::Reply(Reply {
                    request_id,
                    service_contexts: Vec::new(),
                    status: ReplyStatus::NoException(Bytes::new()),
                }),
            );
            Ok(reply.body_offset()?.unwrap_or(crate::giop::GIOP_HEADER_LEN))
        }
    }
}
