//! The IIOP server: accept loop, per-connection driver, dispatch by key.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::servant::{Call, Outcome, Servant};
use crate::GiopVersion;
use crate::cdr::{ByteOrder, CdrReader, CdrWriter};
use crate::connection::{Connection, ConnectionConfig, Event, Role};
use crate::giop::{
    CompletionStatus, LocateReply, LocateStatus, Message, MessageBody, Reply, ReplyStatus, Request,
    SystemException,
};

type Registry = Arc<RwLock<HashMap<Bytes, Arc<dyn Servant>>>>;

/// How an [`OrbServer`] runs its connections.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub enum Threading {
    /// One OS thread per connection with blocking socket I/O, as omniORB
    /// does by default: the lowest latency per call (no readiness
    /// notification between a reply and the next request). Servant futures
    /// run on that thread through the runtime's handle.
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
            objects: Arc::new(RwLock::new(HashMap::new())),
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
        let mut read_buf = vec![0u8; 16 * 1024];
        let mut out = BytesMut::with_capacity(16 * 1024);
        loop {
            while let Some(event) = self.connection.poll_event() {
                runtime.block_on(self.handle(event));
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

    async fn handle(&mut self, event: Event) {
        match event {
            Event::Message(message) => self.handle_message(message).await,
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
    }

    fn servant(&self, key: &Bytes) -> Option<Arc<dyn Servant>> {
        self.objects.read().ok()?.get(key).cloned()
    }

    async fn handle_message(&mut self, message: Message) {
        let version = message.version;
        let request_byte_order = message.byte_order;
        match message.body {
            MessageBody::Request(request) => {
                let args = match version {
                    // 1.2 bodies start on a multiple of 8: counting from 0
                    // aligns the same way, and saves re-encoding the header.
                    GiopVersion::V1_2 => Ok(CdrReader::new(
                        request.body.clone(),
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
                let status = match args {
                    Ok(args) => self.dispatch(&request, args, version).await,
                    Err(_) => ReplyStatus::SystemException(SystemException::standard(
                        "MARSHAL",
                        SystemException::OMG_VMCID,
                        CompletionStatus::No,
                    )),
                };
                if request.response_flags.response_expected() {
                    let _ = self.connection.send_reply(Reply {
                        request_id: request.request_id,
                        service_contexts: Vec::new(),
                        status,
                    });
                }
            }
            MessageBody::LocateRequest(locate) => {
                let status = match locate.target.object_key() {
                    Some(key) if self.servant(key).is_some() => LocateStatus::ObjectHere,
                    _ => LocateStatus::UnknownObject,
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
    }

    async fn dispatch(
        &self,
        request: &Request,
        mut args: CdrReader,
        version: GiopVersion,
    ) -> ReplyStatus {
        let servant = request
            .target
            .object_key()
            .and_then(|key| self.servant(key));
        let Some(servant) = servant else {
            return ReplyStatus::SystemException(SystemException::standard(
                "OBJECT_NOT_EXIST",
                SystemException::OMG_VMCID | 1,
                CompletionStatus::No,
            ));
        };
        let Ok(reply_offset) = reply_body_offset(request.request_id, version, self.byte_order)
        else {
            return marshal_status();
        };
        let call = Call::new(
            request.operation.clone(),
            args.clone(),
            request.response_flags.response_expected(),
            version,
            self.byte_order,
            reply_offset,
        );
        let outcome = match request.operation.as_str() {
            "_is_a" => match args.read_string() {
                Ok(id) => {
                    let is_a = servant.is_a(&id);
                    call.reply(|w: &mut CdrWriter<'_>| {
                        w.write_boolean(is_a);
                        Ok(())
                    })
                }
                Err(error) => Outcome::marshal(error),
            },
            "_non_existent" | "_not_existent" => call.reply(|w| {
                w.write_boolean(false);
                Ok(())
            }),
            _ => servant.invoke(call).await,
        };
        match outcome {
            Outcome::Return(body) => ReplyStatus::NoException(body),
            Outcome::UserException(body) => ReplyStatus::UserException(body),
            Outcome::System(exception) => ReplyStatus::SystemException(exception),
        }
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
