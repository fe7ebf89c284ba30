//! The sockets an oracle node's runtime uses, behind a small trait, so the
//! same runtime runs on the operating system's network or on a simulated
//! one.
//!
//! [`Transport`] binds the heartbeat socket ([`DatagramSocket`]) and the
//! request listener ([`StreamListener`]). [`TokioTransport`], tokio's real
//! sockets, is what [`super::MembershipNode::start`] uses; a deterministic
//! simulation passes its own implementation to
//! [`super::MembershipNode::start_on`] (`membership/tests/sim_support/`
//! implements it on turmoil's simulated UDP and TCP). Choosing the transport
//! is a value passed at start-up, not a Cargo feature, so a simulation in
//! one test can never switch another crate's sockets.
//!
//! Timers and the clock need no trait: the runtime arms tokio timers and
//! reads [`crate::MonotonicClock`], both of which follow a paused
//! (simulated) tokio clock.

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncWrite};

/// A source of sockets for the oracle node runtime (see the module docs).
pub trait Transport: Send + Sync + 'static {
    /// The heartbeat socket.
    type Datagram: DatagramSocket;
    /// A connection accepted by the request listener.
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// The request listener.
    type Listener: StreamListener<Stream = Self::Stream>;

    /// Binds a datagram socket on `address` (port 0 picks a free port).
    fn bind_datagram(
        &self,
        address: SocketAddr,
    ) -> impl Future<Output = io::Result<Self::Datagram>> + Send;

    /// Binds a stream listener on `address`.
    fn bind_listener(
        &self,
        address: SocketAddr,
    ) -> impl Future<Output = io::Result<Self::Listener>> + Send;
}

/// A bound datagram socket, as the heartbeat task uses it: wait until
/// readable, then drain without blocking, answering each datagram at once.
pub trait DatagramSocket: Send + Sync + 'static {
    /// The bound address.
    fn local_addr(&self) -> io::Result<SocketAddr>;

    /// Resolves when a datagram may be waiting.
    fn readable(&self) -> impl Future<Output = io::Result<()>> + Send;

    /// Takes one waiting datagram, or fails with
    /// [`io::ErrorKind::WouldBlock`] when none is waiting.
    fn try_recv_from(&self, buffer: &mut [u8]) -> io::Result<(usize, SocketAddr)>;

    /// Sends one datagram without waiting, or fails (a full send buffer
    /// included).
    fn try_send_to(&self, datagram: &[u8], target: SocketAddr) -> io::Result<usize>;

    /// Asks the kernel for `bytes` of receive and of send buffer, and
    /// returns the receive buffer in force afterwards as the kernel reports
    /// it (Linux caps the request at `net.core.rmem_max` / `wmem_max` and
    /// reports twice what it grants, its bookkeeping included). The default
    /// does nothing and reports 0: a simulated socket has no kernel buffer.
    ///
    /// The heartbeat socket needs room for a burst: at 50 000 heartbeats a
    /// second, Linux's default 208 KiB holds about 4 ms of them, and a
    /// datagram arriving at a full buffer is dropped before anyone sees it
    /// (counted only in `/proc/net/snmp` as `RcvbufErrors`).
    fn set_buffer_sizes(&self, bytes: usize) -> io::Result<usize> {
        let _ = bytes;
        Ok(0)
    }
}

/// A bound stream listener.
pub trait StreamListener: Send + Sync + 'static {
    /// An accepted connection.
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    /// Accepts the next connection.
    fn accept(&self) -> impl Future<Output = io::Result<(Self::Stream, SocketAddr)>> + Send;

    /// Disables Nagle's algorithm on an accepted connection, where the
    /// transport has it (a best effort: failures are ignored).
    fn set_nodelay(stream: &Self::Stream) {
        let _ = stream;
    }
}

/// tokio's sockets on the operating system's network: the production
/// transport.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioTransport;

impl Transport for TokioTransport {
    type Datagram = tokio::net::UdpSocket;
    type Stream = tokio::net::TcpStream;
    type Listener = tokio::net::TcpListener;

    fn bind_datagram(
        &self,
        address: SocketAddr,
    ) -> impl Future<Output = io::Result<Self::Datagram>> + Send {
        tokio::net::UdpSocket::bind(address)
    }

    fn bind_listener(
        &self,
        address: SocketAddr,
    ) -> impl Future<Output = io::Result<Self::Listener>> + Send {
        tokio::net::TcpListener::bind(address)
    }
}

impl DatagramSocket for tokio::net::UdpSocket {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        Self::local_addr(self)
    }

    fn readable(&self) -> impl Future<Output = io::Result<()>> + Send {
        Self::readable(self)
    }

    fn try_recv_from(&self, buffer: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        Self::try_recv_from(self, buffer)
    }

    fn try_send_to(&self, datagram: &[u8], target: SocketAddr) -> io::Result<usize> {
        Self::try_send_to(self, datagram, target)
    }

    fn set_buffer_sizes(&self, bytes: usize) -> io::Result<usize> {
        let socket = socket2::SockRef::from(self);
        socket.set_recv_buffer_size(bytes)?;
        socket.set_send_buffer_size(bytes)?;
        socket.recv_buffer_size()
    }
}

impl StreamListener for tokio::net::TcpListener {
    type Stream = tokio::net::TcpStream;

    fn accept(&self) -> impl Future<Output = io::Result<(Self::Stream, SocketAddr)>> + Send {
        Self::accept(self)
    }

    fn set_nodelay(stream: &Self::Stream) {
        let _ = stream.set_nodelay(true);
    }
}
