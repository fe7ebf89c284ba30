//! Helpers for the gateway's integration tests: in-process gateways, a real
//! HTTP client (hyper) and a raw HTTP/1.1 client that shows exactly which
//! bytes came back.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use ithaca_gateway::config::Config;
use ithaca_gateway::{Gateway, Router, RunningGateway};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// An in-process gateway on a free port with its own data directory.
pub struct TestGateway {
    pub gateway: RunningGateway,
    pub data: tempfile::TempDir,
}

impl TestGateway {
    pub async fn start(routes: Router, tweak: impl FnOnce(&mut Config)) -> Self {
        let data = tempfile::tempdir().unwrap();
        let mut config = Config::default();
        config.server.listen = "127.0.0.1:0".parse().unwrap();
        config.storage.data_dir = data.path().join("data");
        tweak(&mut config);
        let gateway = Gateway::new(config).routes(&routes).start().await.unwrap();
        Self { gateway, data }
    }

    pub fn addr(&self) -> SocketAddr {
        self.gateway.server_addr()
    }
}

/// A response read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
    pub version: http::Version,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One request on a new HTTP/1.1 connection.
pub async fn http1(addr: SocketAddr, request: http::Request<Full<Bytes>>) -> Reply {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let response = sender.send_request(request).await.unwrap();
    collect(response).await
}

/// One request on a new h2c (prior knowledge) connection.
pub async fn h2c(addr: SocketAddr, request: http::Request<Full<Bytes>>) -> Reply {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let response = sender.send_request(request).await.unwrap();
    collect(response).await
}

pub async fn collect(response: http::Response<hyper::body::Incoming>) -> Reply {
    let (parts, body) = response.into_parts();
    Reply {
        status: parts.status.as_u16(),
        headers: parts.headers,
        version: parts.version,
        body: body.collect().await.unwrap().to_bytes(),
    }
}

pub fn get(path: &str) -> http::Request<Full<Bytes>> {
    http::Request::get(path)
        .header("host", "ithaca.test")
        .body(Full::new(Bytes::new()))
        .unwrap()
}

pub fn post(path: &str, body: impl Into<Bytes>) -> http::Request<Full<Bytes>> {
    http::Request::post(path)
        .header("host", "ithaca.test")
        .body(Full::new(body.into()))
        .unwrap()
}

/// What a raw HTTP/1.1 exchange produced.
#[derive(Debug, PartialEq, Eq)]
pub enum RawOutcome {
    /// A complete response with this status.
    Complete(u16),
    /// The connection closed or failed before any response byte: the server
    /// never accepted the request.
    Refused,
    /// Some response bytes, then the connection ended: a lost request.
    Truncated(usize),
}

/// Sends `request` bytes on a new connection and reads one response,
/// telling a complete response from a refused or truncated one.
pub async fn raw_exchange(addr: SocketAddr, request: &[u8]) -> RawOutcome {
    let Ok(mut stream) = TcpStream::connect(addr).await else {
        return RawOutcome::Refused;
    };
    if stream.write_all(request).await.is_err() {
        return RawOutcome::Refused;
    }
    read_response(&mut stream).await
}

/// Reads one `Content-Length` response from `stream`.
pub async fn read_response(stream: &mut TcpStream) -> RawOutcome {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(outcome) = parse_complete(&buf) {
            return outcome;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) if buf.is_empty() => return RawOutcome::Refused,
            Ok(0) | Err(_) => return RawOutcome::Truncated(buf.len()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn parse_complete(buf: &[u8]) -> Option<RawOutcome> {
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&buf[..head_end]).ok()?;
    let status: u16 = head.split(' ').nth(1)?.parse().ok()?;
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    (buf.len() >= head_end + length).then_some(RawOutcome::Complete(status))
}

/// Waits until `check` holds, or panics after `timeout`.
pub async fn eventually(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !check() {
        assert!(start.elapsed() < timeout, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
