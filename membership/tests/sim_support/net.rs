//! The oracle node runtime's [`Transport`] on turmoil's simulated sockets,
//! and the small request helpers the simulated members and clients use.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use ithaca_membership::node::{DatagramSocket, StreamListener, Transport};
use ithaca_membership::wire::Message;
use ithaca_membership::wire::frame::{PREFIX_LEN, encode_frame, frame_len};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// turmoil's UDP and TCP: what the real `MembershipNode` binds in the
/// simulation.
#[derive(Debug, Clone, Copy, Default)]
pub struct TurmoilTransport;

/// turmoil's UDP socket, wrapped so the crate's trait can be implemented.
pub struct SimUdp(pub turmoil::net::UdpSocket);

/// turmoil's TCP listener, wrapped likewise.
pub struct SimListener(pub turmoil::net::TcpListener);

impl Transport for TurmoilTransport {
    type Datagram = SimUdp;
    type Stream = turmoil::net::TcpStream;
    type Listener = SimListener;

    async fn bind_datagram(&self, address: SocketAddr) -> io::Result<Self::Datagram> {
        turmoil::net::UdpSocket::bind(address).await.map(SimUdp)
    }

    async fn bind_listener(&self, address: SocketAddr) -> io::Result<Self::Listener> {
        turmoil::net::TcpListener::bind(address)
            .await
            .map(SimListener)
    }
}

impl DatagramSocket for SimUdp {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }

    fn readable(&self) -> impl Future<Output = io::Result<()>> + Send {
        self.0.readable()
    }

    fn try_recv_from(&self, buffer: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.0.try_recv_from(buffer)
    }

    fn try_send_to(&self, datagram: &[u8], target: SocketAddr) -> io::Result<usize> {
        self.0.try_send_to(datagram, target)
    }
}

impl StreamListener for SimListener {
    type Stream = turmoil::net::TcpStream;

    fn accept(&self) -> impl Future<Output = io::Result<(Self::Stream, SocketAddr)>> + Send {
        self.0.accept()
    }
}

/// One request frame to `target` over a fresh simulated TCP connection and
/// its answer's bytes, under `timeout` (turmoil's TCP does not retransmit,
/// so every exchange needs a deadline).
pub async fn exchange(
    target: SocketAddr,
    message: &Message<'_>,
    timeout: Duration,
) -> Result<Vec<u8>, String> {
    let mut frame = Vec::new();
    encode_frame(message, &mut frame).map_err(|e| e.to_string())?;
    let work = async {
        let mut stream = turmoil::net::TcpStream::connect(target)
            .await
            .map_err(|e| e.to_string())?;
        stream.write_all(&frame).await.map_err(|e| e.to_string())?;
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
        .unwrap_or_else(|_| Err("timed out".to_owned()))
}
