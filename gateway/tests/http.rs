//! The gateway's HTTP behaviour, driven over real sockets: protocols, limits,
//! load shedding, timeouts, TLS, admin tokens and graceful shutdown.

#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use ithaca_gateway::Router;
use ithaca_gateway::body::{Body, Request, read_to_bytes, text_response};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

/// Echoes the request body; answers 413 past the limit like every handler
/// that reads a body must.
fn echo_route(limit: usize) -> Router {
    Router::new().route("/echo", "echo", move |request: Request| async move {
        match read_to_bytes(request.into_body(), limit).await {
            Ok(bytes) => http::Response::new(ithaca_gateway::body::full(bytes)),
            Err(ithaca_gateway::body::BodyError::TooLarge { .. }) => {
                text_response(StatusCode::PAYLOAD_TOO_LARGE, "too large\n")
            }
            Err(e) => text_response(StatusCode::BAD_REQUEST, e.to_string()),
        }
    })
}

/// Sleeps for `delay`, then answers 200.
fn slow_route(delay: Duration) -> Router {
    Router::new().route("/slow", "slow", move |_request: Request| async move {
        tokio::time::sleep(delay).await;
        text_response(StatusCode::OK, "slept\n")
    })
}

#[tokio::test]
async fn admin_endpoints_answer_over_http1_and_h2c() {
    let gw = TestGateway::start(Router::new(), |_| {}).await;
    let health = http1(gw.addr(), get("/healthz")).await;
    assert_eq!((health.status, health.text().as_str()), (200, "ok\n"));
    let ready = http1(gw.addr(), get("/readyz")).await;
    assert_eq!((ready.status, ready.text().as_str()), (200, "sqlite: ok\n"));
    let metrics = h2c(gw.addr(), get("/metrics")).await;
    assert_eq!(metrics.version, http::Version::HTTP_2);
    assert_eq!(metrics.status, 200);
    assert_eq!(
        metrics.headers["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    assert!(metrics.text().contains("ithaca_build_info{version=\""));
    assert!(
        metrics.text().contains(
            "ithaca_http_requests_total{route=\"healthz\",method=\"GET\",status=\"200\"}"
        )
    );
    let missing = http1(gw.addr(), get("/nope")).await;
    assert_eq!(missing.status, 404);
    let wrong_method = http1(gw.addr(), post("/healthz", "")).await;
    assert_eq!(wrong_method.status, 405);
    gw.gateway.shutdown().await;
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let gw = TestGateway::start(Router::new(), |_| {}).await;
    let a = http1(gw.addr(), get("/healthz")).await;
    let b = http1(gw.addr(), get("/healthz")).await;
    let (a, b) = (&a.headers["x-request-id"], &b.headers["x-request-id"]);
    assert_ne!(a, b);
    let mut request = get("/healthz");
    request
        .headers_mut()
        .insert("x-request-id", "client-chosen-42".parse().unwrap());
    let kept = http1(gw.addr(), request).await;
    assert_eq!(kept.headers["x-request-id"], "client-chosen-42");
    let mut request = get("/healthz");
    request
        .headers_mut()
        .insert("x-request-id", "bad id with spaces".parse().unwrap());
    let replaced = http1(gw.addr(), request).await;
    assert_ne!(replaced.headers["x-request-id"], "bad id with spaces");
    gw.gateway.shutdown().await;
}

#[tokio::test]
async fn bodies_over_the_limit_get_413() {
    let limit = 1024;
    let gw = TestGateway::start(echo_route(limit), |c| {
        c.server.max_body_size = ithaca_gateway::config::ByteSize(limit as u64);
    })
    .await;
    // At the limit: echoed.
    let ok = http1(gw.addr(), post("/echo", vec![b'x'; limit])).await;
    assert_eq!((ok.status, ok.body.len()), (200, limit));
    // Declared too large: refused before the body is read.
    let declared = http1(gw.addr(), post("/echo", vec![b'x'; limit + 1])).await;
    assert_eq!(declared.status, 413);
    // Chunked, no length: refused while reading.
    let request = format!(
        "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{}\r\n0\r\n\r\n",
        limit + 10,
        "y".repeat(limit + 10)
    );
    assert_eq!(
        raw_exchange(gw.addr(), request.as_bytes()).await,
        RawOutcome::Complete(413)
    );
    // Over h2 (no Content-Length sent by the client for a streamed body).
    let h2 = h2c(gw.addr(), post("/echo", vec![b'z'; limit * 4])).await;
    assert_eq!(h2.status, 413);
    gw.gateway.shutdown().await;
}

#[tokio::test]
async fn overload_is_shed_with_503() {
    let gate = Arc::new(Semaphore::new(0));
    let entered = Arc::new(AtomicUsize::new(0));
    let routes = {
        let (gate, entered) = (gate.clone(), entered.clone());
        Router::new().route("/wait", "wait", move |_request: Request| {
            let (gate, entered) = (gate.clone(), entered.clone());
            async move {
                entered.fetch_add(1, Ordering::SeqCst);
                let _permit = gate.acquire().await.unwrap();
                text_response(StatusCode::OK, "done\n")
            }
        })
    };
    let gw = TestGateway::start(routes, |c| c.server.max_concurrent_requests = 2).await;
    let addr = gw.addr();
    let busy: Vec<_> = (0..2)
        .map(|_| tokio::spawn(http1(addr, get("/wait"))))
        .collect();
    eventually(
        "two requests are in progress",
        Duration::from_secs(5),
        || entered.load(Ordering::SeqCst) == 2,
    )
    .await;
    // A third request is shed at once, with a hint to retry.
    let shed = tokio::time::timeout(Duration::from_secs(2), http1(addr, get("/wait")))
        .await
        .expect("a shed request is answered at once");
    assert_eq!(shed.status, 503);
    assert_eq!(shed.headers["retry-after"], "1");
    // Admin endpoints share the limit, so they are shed too.
    assert_eq!(http1(addr, get("/healthz")).await.status, 503);
    gate.add_permits(2);
    for request in busy {
        assert_eq!(request.await.unwrap().status, 200);
    }
    // Capacity is back.
    assert_eq!(http1(addr, get("/healthz")).await.status, 200);
    gw.gateway.shutdown().await;
}

#[tokio::test]
async fn slow_handlers_and_stalled_bodies_time_out_with_504() {
    let routes = slow_route(Duration::from_secs(30)).merge(&echo_route(1 << 20));
    let gw = TestGateway::start(routes, |c| {
        c.server.request_timeout = "300ms".parse().unwrap();
    })
    .await;
    let started = std::time::Instant::now();
    let slow = http1(gw.addr(), get("/slow")).await;
    assert_eq!(slow.status, 504);
    assert!(started.elapsed() < Duration::from_secs(5));
    // A client that promises 100 bytes and sends 10 does not hold the
    // handler past the timeout.
    let outcome = raw_exchange(
        gw.addr(),
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n0123456789",
    )
    .await;
    assert_eq!(outcome, RawOutcome::Complete(504));
    gw.gateway.shutdown().await;
}

#[tokio::test]
async fn slowloris_and_idle_connections_are_closed() {
    let gw = TestGateway::start(Router::new(), |c| {
        c.server.header_read_timeout = "300ms".parse().unwrap();
    })
    .await;
    // Headers that never finish.
    let mut stream = TcpStream::connect(gw.addr()).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buf)).await;
    assert!(
        closed.is_ok(),
        "the server keeps a slowloris connection open"
    );
    // An idle keep-alive connection after a request.
    let mut stream = TcpStream::connect(gw.addr()).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(read_response(&mut stream).await, RawOutcome::Complete(200));
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest)).await;
    assert!(
        closed.is_ok(),
        "the server keeps an idle connection open forever"
    );
    // A connection that sends nothing at all.
    let mut silent = TcpStream::connect(gw.addr()).await.unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(5), silent.read_to_end(&mut rest)).await;
    assert!(
        closed.is_ok(),
        "the server keeps a silent connection open forever"
    );
    gw.gateway.shutdown().await;
}

#[tokio::test]
async fn keep_alive_serves_several_requests_on_one_connection() {
    let gw = TestGateway::start(Router::new(), |_| {}).await;
    let mut stream = TcpStream::connect(gw.addr()).await.unwrap();
    for _ in 0..3 {
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            .await
            .unwrap();
        assert_eq!(read_response(&mut stream).await, RawOutcome::Complete(200));
    }
    gw.gateway.shutdown().await;
}

/// A body that never ends and reports when it is dropped.
struct Endless {
    dropped: Arc<AtomicBool>,
}

impl http_body::Body for Endless {
    type Data = Bytes;
    type Error = ithaca_gateway::body::BoxError;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        std::task::Poll::Ready(Some(Ok(http_body::Frame::data(Bytes::from(vec![
            b'x';
            64 * 1024
        ])))))
    }
}

impl Drop for Endless {
    fn drop(&mut self) {
        self.dropped.store(true, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn a_client_that_stops_reading_is_cut_off() {
    let dropped = Arc::new(AtomicBool::new(false));
    let routes = {
        let dropped = dropped.clone();
        Router::new().route("/endless", "endless", move |_request: Request| {
            let dropped = dropped.clone();
            async move { http::Response::new(Body::new(Endless { dropped })) }
        })
    };
    let gw = TestGateway::start(routes, |c| {
        c.server.write_stall_timeout = "300ms".parse().unwrap();
    })
    .await;
    let mut stream = TcpStream::connect(gw.addr()).await.unwrap();
    stream
        .write_all(b"GET /endless HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    // Never read: socket buffers fill, the server's writes stall.
    eventually(
        "the server gives up on the stalled connection",
        Duration::from_secs(10),
        || dropped.load(Ordering::SeqCst),
    )
    .await;
    drop(stream);
    gw.gateway.shutdown().await;
}

#[tokio::test]
async fn admin_token_is_enforced_when_configured() {
    let routes = slow_route(Duration::ZERO);
    let token = "0123456789abcdef-secret";
    let gw = TestGateway::start(routes, |c| c.admin.token = Some(token.into())).await;
    assert_eq!(http1(gw.addr(), get("/metrics")).await.status, 401);
    let mut request = get("/metrics");
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    assert_eq!(http1(gw.addr(), request).await.status, 200);
    // Application routes need no admin token.
    assert_eq!(http1(gw.addr(), get("/slow")).await.status, 200);
    gw.gateway.shutdown().await;
}

#[tokio::test]
async fn a_separate_admin_listener_serves_only_admin_routes() {
    let gw = TestGateway::start(slow_route(Duration::ZERO), |c| {
        c.admin.listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let (server, admin) = (gw.gateway.server_addr(), gw.gateway.admin_addr());
    assert_ne!(server, admin);
    assert_eq!(http1(admin, get("/healthz")).await.status, 200);
    assert_eq!(http1(admin, get("/slow")).await.status, 404);
    assert_eq!(http1(server, get("/slow")).await.status, 200);
    assert_eq!(http1(server, get("/healthz")).await.status, 404);
    gw.gateway.shutdown().await;
}

#[tokio::test]
async fn graceful_shutdown_finishes_every_accepted_request() {
    let started = Arc::new(AtomicUsize::new(0));
    let routes = {
        let started = started.clone();
        Router::new().route("/work", "work", move |_request: Request| {
            let started = started.clone();
            async move {
                started.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(300)).await;
                text_response(StatusCode::OK, "x".repeat(10_000))
            }
        })
    };
    let gw = TestGateway::start(routes, |c| c.server.drain_timeout = "10s".parse().unwrap()).await;
    let addr = gw.addr();
    let load = Load::start(addr, b"GET /work HTTP/1.1\r\nHost: t\r\n\r\n", 16);
    eventually("requests are in flight", Duration::from_secs(5), || {
        started.load(Ordering::SeqCst) >= 16
    })
    .await;
    let outcome = gw.gateway.shutdown().await;
    assert_eq!(outcome.abandoned_connections, 0);
    let complete = load.finish(&[200]).await;
    // Every request a handler started was answered in full.
    assert_eq!(complete, started.load(Ordering::SeqCst));
    // And the listener is closed.
    assert_eq!(
        raw_exchange(addr, b"GET /work HTTP/1.1\r\nHost: t\r\n\r\n").await,
        RawOutcome::Refused
    );
}

#[tokio::test]
async fn the_drain_deadline_bounds_shutdown() {
    let routes = slow_route(Duration::from_secs(60));
    let gw = TestGateway::start(routes, |c| {
        c.server.drain_timeout = "300ms".parse().unwrap();
        c.server.request_timeout = "120s".parse().unwrap();
    })
    .await;
    let addr = gw.addr();
    let stuck =
        tokio::spawn(
            async move { raw_exchange(addr, b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n").await },
        );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = std::time::Instant::now();
    let outcome = gw.gateway.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(outcome.abandoned_connections, 1);
    stuck.abort();
}

#[tokio::test]
async fn readyz_fails_while_draining() {
    let gw = TestGateway::start(Router::new(), |_| {}).await;
    gw.gateway.readiness().start_draining();
    let ready = http1(gw.addr(), get("/readyz")).await;
    assert_eq!(ready.status, 503);
    assert!(ready.text().contains("draining"));
    gw.gateway.shutdown().await;
}

#[tokio::test]
async fn a_second_gateway_on_the_same_data_dir_is_refused() {
    let gw = TestGateway::start(Router::new(), |_| {}).await;
    let mut config = ithaca_gateway::config::Config::default();
    config.server.listen = "127.0.0.1:0".parse().unwrap();
    config.storage.data_dir = gw.data.path().join("data");
    let error = ithaca_gateway::Gateway::new(config)
        .start()
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("in use by another ithaca process"),
        "{error}"
    );
    gw.gateway.shutdown().await;
}

mod tls {
    use super::*;
    use rustls::pki_types::ServerName;

    struct Pki {
        dir: tempfile::TempDir,
        cert_der: rustls::pki_types::CertificateDer<'static>,
    }

    fn make_pki() -> Pki {
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cert.pem"), certified.cert.pem()).unwrap();
        std::fs::write(
            dir.path().join("key.pem"),
            certified.signing_key.serialize_pem(),
        )
        .unwrap();
        Pki {
            dir,
            cert_der: certified.cert.der().clone(),
        }
    }

    async fn connect(
        addr: std::net::SocketAddr,
        pki: &Pki,
        alpn: &[&[u8]],
    ) -> tokio_rustls::client::TlsStream<TcpStream> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(pki.cert_der.clone()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = TcpStream::connect(addr).await.unwrap();
        connector
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_listener_with_a_certificate_speaks_tls_with_h2_and_http1() {
        let pki = make_pki();
        let (cert, key) = (
            pki.dir.path().join("cert.pem"),
            pki.dir.path().join("key.pem"),
        );
        let gw = TestGateway::start(Router::new(), |c| {
            c.server.tls_cert = Some(cert);
            c.server.tls_key = Some(key);
            c.server.header_read_timeout = "500ms".parse().unwrap();
        })
        .await;
        assert!(gw.gateway.listeners()[0].tls);

        // h2 by ALPN.
        let stream = connect(gw.addr(), &pki, &[b"h2", b"http/1.1"]).await;
        assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        let (mut sender, conn) = hyper::client::conn::http2::handshake(
            hyper_util::rt::TokioExecutor::new(),
            hyper_util::rt::TokioIo::new(stream),
        )
        .await
        .unwrap();
        tokio::spawn(conn);
        let reply = collect(
            sender
                .send_request(get("https://localhost/healthz"))
                .await
                .unwrap(),
        )
        .await;
        assert_eq!((reply.status, reply.version), (200, http::Version::HTTP_2));

        // HTTP/1.1 by ALPN.
        let stream = connect(gw.addr(), &pki, &[b"http/1.1"]).await;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .unwrap();
        tokio::spawn(conn);
        let reply = collect(sender.send_request(get("/readyz")).await.unwrap()).await;
        assert_eq!((reply.status, reply.text().as_str()), (200, "sqlite: ok\n"));

        // A client that completes the handshake and then sends nothing is
        // closed after the header timeout like a plain-text one.
        let mut silent = connect(gw.addr(), &pki, &[b"http/1.1"]).await;
        let mut rest = Vec::new();
        let closed =
            tokio::time::timeout(Duration::from_secs(5), silent.read_to_end(&mut rest)).await;
        assert!(closed.is_ok(), "a silent TLS client holds its connection");

        // Plain text on a TLS port gets no HTTP answer.
        let outcome = raw_exchange(gw.addr(), b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n").await;
        assert!(matches!(
            outcome,
            RawOutcome::Refused | RawOutcome::Truncated(_)
        ));
        gw.gateway.shutdown().await;
    }

    #[tokio::test]
    async fn the_admin_listener_takes_its_own_certificate() {
        let pki = make_pki();
        let (cert, key) = (
            pki.dir.path().join("cert.pem"),
            pki.dir.path().join("key.pem"),
        );
        let gw = TestGateway::start(Router::new(), |c| {
            c.admin.listen = Some("127.0.0.1:0".parse().unwrap());
            c.admin.tls_cert = Some(cert);
            c.admin.tls_key = Some(key);
        })
        .await;
        let listeners = gw.gateway.listeners();
        assert_eq!((listeners[0].role, listeners[0].tls), ("server", false));
        assert_eq!((listeners[1].role, listeners[1].tls), ("admin", true));
        let stream = connect(gw.gateway.admin_addr(), &pki, &[b"http/1.1"]).await;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .unwrap();
        tokio::spawn(conn);
        let reply = collect(sender.send_request(get("/healthz")).await.unwrap()).await;
        assert_eq!(reply.status, 200);
        gw.gateway.shutdown().await;
    }

    #[tokio::test]
    async fn unusable_certificates_fail_the_start_with_the_key_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cert.pem"), "not a certificate").unwrap();
        let mut config = ithaca_gateway::config::Config::default();
        config.server.listen = "127.0.0.1:0".parse().unwrap();
        config.storage.data_dir = dir.path().join("data");
        config.server.tls_cert = Some(dir.path().join("cert.pem"));
        config.server.tls_key = Some(dir.path().join("key.pem"));
        let error = ithaca_gateway::Gateway::new(config)
            .start()
            .await
            .unwrap_err();
        let message = error.to_string();
        assert!(
            message.starts_with("TLS setup failed (server.tls_cert = "),
            "{message}"
        );
    }
}
