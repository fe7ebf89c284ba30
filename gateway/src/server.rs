//! Listeners, connections and graceful shutdown.
//!
//! Each listener runs an accept loop; each connection runs on its own task
//! with hyper-util's auto builder (HTTP/1.1 with keep-alive, h2c by prior
//! knowledge, h2 over TLS by ALPN). On shutdown the accept loops stop (new
//! connections are refused), every connection is told to finish its
//! in-flight requests and close, and [`RunningGateway::shutdown`] waits for
//! them up to the drain deadline.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Wake, Waker};
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio_rustls::TlsAcceptor;

use crate::body;
use crate::config::{Config, ServerConfig};
use crate::conn_io::StallGuard;
use crate::error::StartError;
use crate::layers::{self, GatewayService, StackLimits};
use crate::readiness::Readiness;
use crate::router::Router;
use crate::store::Stores;
use crate::{admin, tls};

/// One bound listener, as reported to the operator.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct ListenerInfo {
    /// `server` or `admin`.
    pub role: &'static str,
    /// The address actually bound (port 0 resolved).
    pub addr: SocketAddr,
    /// Whether it speaks TLS.
    pub tls: bool,
    /// Whether the admin endpoints are served here.
    pub admin: bool,
}

impl ListenerInfo {
    /// `http://ADDR` or `https://ADDR`.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }
}

/// The outcome of a graceful shutdown.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct DrainOutcome {
    /// Connections still open when the drain deadline passed (0: clean).
    pub abandoned_connections: usize,
}

/// A gateway to be started: configuration plus the application routes.
#[derive(Debug)]
pub struct Gateway {
    config: Config,
    app: Router,
}

impl Gateway {
    /// A gateway with no application routes yet.
    pub fn new(config: Config) -> Self {
        Self {
            config,
            app: Router::new(),
        }
    }

    /// Adds application routes (hosted services).
    pub fn routes(mut self, router: &Router) -> Self {
        self.app = self.app.merge(router);
        self
    }

    /// Opens the stores, binds every listener and starts serving.
    pub async fn start(self) -> Result<RunningGateway, StartError> {
        let config = self.config;
        let stores = Stores::open(&config.storage).await?;
        let mut readiness = Readiness::new();
        stores.register(&mut readiness);
        // The WS-AT coordinator's endpoints, when `[wsat] enabled`.
        let wsat = crate::wsat::WsatHost::from_config(&config, stores.data_dir()).await?;
        if let Some(host) = &wsat {
            readiness.add(Arc::new(host.readiness_check()));
        }
        let app = match &wsat {
            Some(host) => self.app.merge(host.routes()),
            None => self.app,
        };
        let metrics = crate::metrics::install();
        let upkeep = metrics.clone().map(crate::metrics::spawn_upkeep);
        let token = admin_token(&config)?;
        let admin_routes = admin::routes(readiness.clone(), metrics);
        // The coordinator's transactions (`ithaca txn list|show`), when hosted.
        let admin_routes = match &wsat {
            Some(host) => admin_routes.merge(&admin::txn_routes(host.service().clone())),
            None => admin_routes,
        };
        // The operator page (`/ui/`) and its JSON, with the admin routes.
        let page = crate::ui::OperatorPage::new(&config, &app);
        let admin_routes = admin_routes
            .merge(&page.routes())
            .require_admin_token(token.clone());

        let server = &config.server;
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let (conn_tx, conn_rx) = mpsc::channel::<()>(1);
        let connections = Arc::new(Semaphore::new(server.max_connections));
        let limits = StackLimits {
            max_body_size: server.max_body_size.as_usize(),
            request_timeout: server.request_timeout.get(),
            concurrency: Arc::new(Semaphore::new(server.max_concurrent_requests)),
        };

        // Bind everything before serving anything, so a bad address fails
        // the start as a whole.
        let mut plans = Vec::new();
        let separate_admin = config.admin.listen.is_some();
        let main_router = if separate_admin {
            app.clone().require_admin_token(token.clone())
        } else {
            app.clone()
                .merge(&admin_routes)
                .require_admin_token(token.clone())
        };
        let main_tls = match (&server.tls_cert, &server.tls_key) {
            (Some(cert), Some(key)) => Some(tls::server_config(
                cert,
                key,
                "server.tls_cert",
                "server.tls_key",
                server.http2,
            )?),
            _ => None,
        };
        plans.push((
            "server",
            "server.listen",
            server.listen,
            main_tls,
            main_router,
            !separate_admin,
        ));
        if let Some(addr) = config.admin.listen {
            let admin_tls = match (&config.admin.tls_cert, &config.admin.tls_key) {
                (Some(cert), Some(key)) => Some(tls::server_config(
                    cert,
                    key,
                    "admin.tls_cert",
                    "admin.tls_key",
                    server.http2,
                )?),
                _ => None,
            };
            plans.push(("admin", "admin.listen", addr, admin_tls, admin_routes, true));
        }

        let mut bound = Vec::new();
        for (role, key, addr, tls_config, router, serves_admin) in plans {
            let listener = bind(addr).map_err(|source| StartError::Bind { addr, key, source })?;
            let local =
                listener
                    .local_addr()
                    .map_err(|source| StartError::Bind { addr, key, source })?;
            bound.push((
                ListenerInfo {
                    role,
                    addr: local,
                    tls: tls_config.is_some(),
                    admin: serves_admin,
                },
                listener,
                tls_config,
                router,
            ));
        }

        let mut listeners = Vec::new();
        let mut accept_tasks = Vec::new();
        for (info, listener, tls_config, router) in bound {
            if info.role == "server" {
                page.set_server_url(&info.url());
            }
            let service = layers::stack(router, &limits);
            let acceptor = AcceptLoop {
                listener,
                tls: tls_config.map(TlsAcceptor::from),
                service,
                http: Arc::new(HttpSettings::new(server)),
                connections: connections.clone(),
                shutdown: shutdown_rx.clone(),
                conn_tx: conn_tx.clone(),
            };
            accept_tasks.push(tokio::spawn(acceptor.run()));
            listeners.push(info);
        }
        drop(conn_tx);

        Ok(RunningGateway {
            listeners,
            readiness,
            stores,
            shutdown_tx,
            conn_rx,
            accept_tasks,
            upkeep,
            wsat,
            drain_timeout: server.drain_timeout.get(),
        })
    }
}

/// Reads the admin token from config or its file.
fn admin_token(config: &Config) -> Result<Option<Arc<str>>, StartError> {
    if let Some(token) = &config.admin.token {
        return Ok(Some(Arc::from(token.as_str())));
    }
    let Some(path) = &config.admin.token_file else {
        return Ok(None);
    };
    let problem = |problem: String| StartError::AdminToken {
        path: path.clone(),
        problem,
    };
    let text = std::fs::read_to_string(path).map_err(|e| problem(format!("cannot read: {e}")))?;
    let token = text.lines().next().unwrap_or("").trim();
    if token.len() < 16 || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(problem(
            "the first line must be a token of at least 16 printable ASCII characters".to_owned(),
        ));
    }
    Ok(Some(Arc::from(token)))
}

fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    // Let a restarted gateway bind while old connections sit in TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// A gateway that is serving.
#[derive(Debug)]
pub struct RunningGateway {
    listeners: Vec<ListenerInfo>,
    readiness: Readiness,
    stores: Stores,
    shutdown_tx: watch::Sender<bool>,
    conn_rx: mpsc::Receiver<()>,
    accept_tasks: Vec<tokio::task::JoinHandle<()>>,
    upkeep: Option<tokio::task::JoinHandle<()>>,
    wsat: Option<crate::wsat::WsatHost>,
    drain_timeout: Duration,
}

impl RunningGateway {
    /// The bound listeners.
    pub fn listeners(&self) -> &[ListenerInfo] {
        &self.listeners
    }

    /// The address of the main listener.
    pub fn server_addr(&self) -> SocketAddr {
        self.listeners
            .first()
            .map_or_else(|| ([0, 0, 0, 0], 0).into(), |l| l.addr)
    }

    /// The address where the admin endpoints are served.
    pub fn admin_addr(&self) -> SocketAddr {
        self.listeners
            .iter()
            .find(|l| l.role == "admin")
            .map_or_else(|| self.server_addr(), |l| l.addr)
    }

    /// The readiness checks behind `/readyz`.
    pub fn readiness(&self) -> &Readiness {
        &self.readiness
    }

    /// The open stores.
    pub fn stores(&self) -> &Stores {
        &self.stores
    }

    /// The WS-AT coordinator, when `[wsat] enabled`.
    pub fn wsat(&self) -> Option<&crate::wsat::WsatHost> {
        self.wsat.as_ref()
    }

    /// Stops accepting, lets in-flight requests finish for at most the drain
    /// deadline, then closes the stores.
    pub async fn shutdown(mut self) -> DrainOutcome {
        self.readiness.start_draining();
        // Ignore the error: it only means every receiver is gone already.
        let _ = self.shutdown_tx.send(true);
        for task in self.accept_tasks.drain(..) {
            let _ = task.await;
        }
        let deadline = tokio::time::sleep(self.drain_timeout);
        tokio::pin!(deadline);
        let abandoned = tokio::select! {
            // `recv` returns `None` once every connection task has ended.
            _ = self.conn_rx.recv() => 0,
            () = &mut deadline => {
                let open = self.conn_rx.sender_strong_count();
                tracing::warn!(open, "drain deadline passed; closing the remaining connections");
                open
            }
        };
        if let Some(upkeep) = self.upkeep.take() {
            upkeep.abort();
        }
        if let Some(wsat) = &self.wsat {
            wsat.shutdown().await;
        }
        self.stores.close().await;
        DrainOutcome {
            abandoned_connections: abandoned,
        }
    }
}

/// Connection-level HTTP settings, shared by a listener's connections.
#[derive(Debug)]
struct HttpSettings {
    builder: auto::Builder<TokioExecutor>,
    header_read_timeout: Duration,
    write_stall_timeout: Duration,
    max_body_size: usize,
}

impl HttpSettings {
    fn new(server: &ServerConfig) -> Self {
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .keep_alive(server.keep_alive)
            .header_read_timeout(server.header_read_timeout.get());
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_concurrent_streams(256)
            .keep_alive_interval(Some(Duration::from_secs(20)))
            .keep_alive_timeout(Duration::from_secs(20));
        if !server.http2 {
            builder = builder.http1_only();
        }
        Self {
            builder,
            header_read_timeout: server.header_read_timeout.get(),
            write_stall_timeout: server.write_stall_timeout.get(),
            max_body_size: server.max_body_size.as_usize(),
        }
    }
}

struct AcceptLoop {
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    service: GatewayService,
    http: Arc<HttpSettings>,
    connections: Arc<Semaphore>,
    shutdown: watch::Receiver<bool>,
    conn_tx: mpsc::Sender<()>,
}

impl AcceptLoop {
    async fn run(mut self) {
        loop {
            let permit = tokio::select! {
                permit = self.connections.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => return,
                },
                _ = self.shutdown.changed() => return,
            };
            let accepted = tokio::select! {
                accepted = self.listener.accept() => accepted,
                _ = self.shutdown.changed() => return,
            };
            let (stream, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: back off briefly
                    // instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let connection = Connection {
                stream,
                peer,
                tls: self.tls.clone(),
                service: self.service.clone(),
                http: self.http.clone(),
                shutdown: self.shutdown.clone(),
            };
            let conn_tx = self.conn_tx.clone();
            tokio::spawn(async move {
                let _open = OpenConnection::start();
                connection.serve().await;
                drop(permit);
                drop(conn_tx);
            });
        }
    }
}

/// Keeps the open-connections gauge right however the task ends.
struct OpenConnection;

impl OpenConnection {
    fn start() -> Self {
        metrics::gauge!(crate::metrics::CONNECTIONS).increment(1.0);
        Self
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        metrics::gauge!(crate::metrics::CONNECTIONS).decrement(1.0);
    }
}

struct Connection {
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    service: GatewayService,
    http: Arc<HttpSettings>,
    shutdown: watch::Receiver<bool>,
}

impl Connection {
    async fn serve(self) {
        let guarded = StallGuard::new(
            self.stream,
            self.http.write_stall_timeout,
            self.http.header_read_timeout,
        );
        match self.tls.clone() {
            None => serve_io(guarded, self.service, self.http, self.shutdown, self.peer).await,
            Some(acceptor) => {
                let handshake =
                    tokio::time::timeout(self.http.header_read_timeout, acceptor.accept(guarded));
                let mut shutdown = self.shutdown.clone();
                let stream = tokio::select! {
                    result = handshake => match result {
                        Ok(Ok(stream)) => stream,
                        Ok(Err(error)) => {
                            tracing::debug!(peer = %self.peer, %error, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(peer = %self.peer, "TLS handshake timed out");
                            return;
                        }
                    },
                    _ = shutdown.changed() => return,
                };
                // The handshake's ClientHello was the first byte below; a
                // client that then sends no request gets the same deadline.
                let stream = StallGuard::new(
                    stream,
                    self.http.write_stall_timeout,
                    self.http.header_read_timeout,
                );
                serve_io(stream, self.service, self.http, self.shutdown, self.peer).await;
            }
        }
    }
}

async fn serve_io<I>(
    io: I,
    service: GatewayService,
    http: Arc<HttpSettings>,
    mut shutdown: watch::Receiver<bool>,
    peer: SocketAddr,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let max_body_size = http.max_body_size;
    let hyper_service = hyper::service::service_fn(move |request: http::Request<Incoming>| {
        let request = request.map(|incoming| body::limited_incoming(incoming, max_body_size));
        let response = service.serve(request);
        async move { Ok::<_, std::convert::Infallible>(response.await) }
    });
    let connection = http
        .builder
        .serve_connection_with_upgrades(TokioIo::new(io), hyper_service);
    tokio::pin!(connection);
    let mut signal = ShutdownSignal::new(&mut shutdown);
    let result = std::future::poll_fn(|cx| {
        if signal.fired(cx) {
            connection.as_mut().graceful_shutdown();
        }
        connection.as_mut().poll(cx)
    })
    .await;
    if let Err(error) = result {
        tracing::debug!(%peer, %error, "connection ended with an error");
    }
}

/// The shutdown signal as one connection task watches it: the watch's
/// `changed` future is polled only on the connection task's first poll
/// and when the watch itself woke the task, not on every wake-up of the
/// connection (several per request: reads, writes, the response), which
/// `select!` over both would do.
struct ShutdownSignal<'w> {
    changed: Pin<Box<dyn Future<Output = Result<(), watch::error::RecvError>> + Send + 'w>>,
    flag: Arc<WakeFlag>,
    /// Wakes `flag`, which wakes the task.
    waker: Waker,
    /// Whether `changed` must be polled on the next poll.
    pending_poll: bool,
    /// Whether the signal fired (it fires once).
    done: bool,
}

/// The waker of a [`ShutdownSignal`]'s `changed` future: records that it
/// was woken and wakes the connection's task.
struct WakeFlag {
    woken: AtomicBool,
    task: Mutex<Option<Waker>>,
}

impl Wake for WakeFlag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        let task = match self.task.lock() {
            Ok(task) => task.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        if let Some(task) = task {
            task.wake();
        }
    }
}

impl<'w> ShutdownSignal<'w> {
    fn new(shutdown: &'w mut watch::Receiver<bool>) -> Self {
        let flag = Arc::new(WakeFlag {
            woken: AtomicBool::new(false),
            task: Mutex::new(None),
        });
        Self {
            changed: Box::pin(shutdown.changed()),
            waker: Waker::from(flag.clone()),
            flag,
            pending_poll: true,
            done: false,
        }
    }

    /// Whether the shutdown was signalled (or the gateway is gone) since
    /// the last call; true at most once.
    fn fired(&mut self, cx: &mut Context<'_>) -> bool {
        if self.done {
            return false;
        }
        {
            let mut task = match self.flag.task.lock() {
                Ok(task) => task,
                Err(poisoned) => poisoned.into_inner(),
            };
            if !task.as_ref().is_some_and(|task| task.will_wake(cx.waker())) {
                *task = Some(cx.waker().clone());
            }
        }
        let woken = self.flag.woken.swap(false, Ordering::AcqRel);
        if !(woken || std::mem::take(&mut self.pending_poll)) {
            return false;
        }
        let mut own = Context::from_waker(&self.waker);
        if self.changed.as_mut().poll(&mut own).is_ready() {
            self.done = true;
        }
        self.done
    }
}
