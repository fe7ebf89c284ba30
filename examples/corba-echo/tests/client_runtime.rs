//! The ORB client runtime against Ithaca servers: per-call deadlines (the
//! connection stays usable and a late reply is dropped), `Orb`'s pooled
//! connections, LOCATION_FORWARD / LOCATION_FORWARD_PERM / OBJECT_FORWARD
//! followed with a bound on hops, `_interface` (NO_IMPLEMENT) and
//! code-set negotiation with Ithaca's own server; concurrent calls on one
//! shared connection (on a multi-thread and a current-thread runtime) and
//! a connection the server closed replaced before the next call.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ithaca_corba_echo::{ECHO_KEY, ECHO_REPOSITORY_ID, echo_server};
use ithaca_idl::cdr::{ByteOrder, CharCodeSet, WcharCodeSet};
use ithaca_idl::codeset::CodeSetPolicy;
use ithaca_idl::connection::{Connection, ConnectionConfig, Event, Role};
use ithaca_idl::giop::{LocateReply, LocateStatus, MessageBody, Reply, ReplyStatus};
use ithaca_idl::ior::Ior;
use ithaca_idl::naming::object_ior;
use ithaca_idl::orb::{
    Call, ClientConfig, Orb, OrbClient, OrbError, OrbServer, Outcome, ReplyBody, Servant,
    ServantFuture, Threading,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Answers `slow` after 600 ms and `fast` at once, both with the text they
/// got; `wide` echoes a wstring.
struct Sleepy;

impl Servant for Sleepy {
    fn repository_id(&self) -> &str {
        "IDL:Test/Sleepy:1.0"
    }

    fn invoke(&self, mut call: Call) -> ServantFuture<'_> {
        Box::pin(async move {
            let wide = call.operation() == "wide";
            let text = if wide {
                call.args().read_wstring()
            } else {
                call.args().read_string()
            };
            let text = match text {
                Ok(text) => text,
                Err(error) => return Outcome::marshal(error),
            };
            match call.operation() {
                "slow" => tokio::time::sleep(Duration::from_millis(600)).await,
                "fast" | "wide" => {}
                _ => return Outcome::bad_operation(),
            }
            if wide {
                call.reply(|w| w.write_wstring(&text))
            } else {
                call.reply(|w| w.write_string(&text))
            }
        })
    }
}

async fn sleepy_server(threading: Threading) -> ithaca_idl::orb::RunningOrbServer {
    let server = OrbServer::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
        .with_threading(threading);
    server.register(&b"Sleepy"[..], Arc::new(Sleepy));
    server.spawn()
}

fn text_of(reply: ReplyBody) -> String {
    match reply {
        ReplyBody::Return(mut r) => r.read_string().unwrap(),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_past_its_deadline_times_out_and_the_connection_goes_on() {
    for threading in [Threading::ThreadPerConnection, Threading::Tasks] {
        let server = sleepy_server(threading).await;
        let config = ClientConfig {
            call_timeout: Some(Duration::from_millis(150)),
            ..ClientConfig::default()
        };
        let mut client = OrbClient::connect(server.local_addr(), config)
            .await
            .unwrap();
        let started = Instant::now();
        let late = client
            .invoke(b"Sleepy", "slow", |w| w.write_string("late"))
            .await;
        assert!(matches!(late, Err(OrbError::Timeout)), "{late:?}");
        assert!(started.elapsed() < Duration::from_millis(500));
        assert_eq!(
            late.unwrap_err().system_exception().exception_id,
            "IDL:omg.org/CORBA/TIMEOUT:1.0"
        );
        // The same connection answers the next call; the late reply to
        // the cancelled one is dropped, not taken for this one.
        assert!(client.is_usable());
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let reply = client
            .invoke_until(b"Sleepy", "fast", |w| w.write_string("next"), deadline)
            .await
            .unwrap();
        assert_eq!(text_of(reply), "next", "{threading:?}");
        let reply = client
            .invoke(b"Sleepy", "fast", |w| w.write_string("again"))
            .await
            .unwrap();
        assert_eq!(text_of(reply), "again", "{threading:?}");
        server.shutdown().await;
    }
}

/// A server that answers every request with a forward to `to` (itself
/// when `None`), and every LocateRequest with OBJECT_FORWARD, counting the
/// connections it accepts; `permanent` sends the _PERM statuses.
async fn forwarder(to: Option<Ior>, permanent: bool) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let to = to.unwrap_or_else(|| reference(addr, b"Loop"));
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let to = to.clone();
            tokio::spawn(async move {
                let mut connection = Connection::new(ConnectionConfig::new(Role::Server));
                let mut buf = vec![0u8; 4096];
                loop {
                    while let Some(event) = connection.poll_event() {
                        let Event::Message(message) = event else {
                            continue;
                        };
                        match message.body {
                            MessageBody::Request(request) => {
                                let status = if permanent {
                                    ReplyStatus::LocationForwardPerm(to.clone())
                                } else {
                                    ReplyStatus::LocationForward(to.clone())
                                };
                                let _ = connection.send_reply(Reply {
                                    request_id: request.request_id,
                                    service_contexts: Vec::new(),
                                    status,
                                });
                            }
                            MessageBody::LocateRequest(locate) => {
                                let status = if permanent {
                                    LocateStatus::ObjectForwardPerm(to.clone())
                                } else {
                                    LocateStatus::ObjectForward(to.clone())
                                };
                                let _ = connection.send_locate_reply(LocateReply {
                                    request_id: locate.request_id,
                                    status,
                                });
                            }
                            _ => {}
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

fn reference(addr: std::net::SocketAddr, key: &'static [u8]) -> Ior {
    object_ior(ECHO_REPOSITORY_ID, "127.0.0.1", addr.port(), key).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn location_forwards_are_followed_with_pooled_connections() {
    let (server, _servant) = echo_server("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let echo = reference(server.local_addr(), ECHO_KEY);
    for permanent in [false, true] {
        let (addr, accepted) = forwarder(Some(echo.clone()), permanent).await;
        let moved = reference(addr, b"Moved");
        let orb = Orb::new(ClientConfig::default());
        for text in ["one", "two", "three"] {
            let (reply, answered_by) = orb
                .invoke(&moved, "echoString", |w| w.write_string(text))
                .await
                .unwrap();
            assert_eq!(text_of(reply), text);
            assert_eq!(answered_by, echo);
        }
        // One connection to each endpoint, reused by every call.
        assert_eq!(accepted.load(Ordering::SeqCst), 1, "permanent {permanent}");
        assert_eq!(orb.connections(), 2);
        let (status, found) = orb.locate(&moved).await.unwrap();
        assert_eq!(status, LocateStatus::ObjectHere);
        assert_eq!(found, echo);
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn forwarding_loops_are_cut_off() {
    // A forwarder that forwards to itself.
    let (addr, accepted) = forwarder(None, false).await;
    let config = ClientConfig {
        max_forwards: 3,
        ..ClientConfig::default()
    };
    let orb = Orb::new(config);
    let looped = orb
        .invoke(&reference(addr, b"Loop"), "echoString", |w| {
            w.write_string("x")
        })
        .await;
    assert!(
        matches!(looped, Err(OrbError::TooManyForwards(3))),
        "{looped:?}"
    );
    let looped = orb.locate(&reference(addr, b"Loop")).await;
    assert!(
        matches!(looped, Err(OrbError::TooManyForwards(3))),
        "{looped:?}"
    );
    // Every hop reused the one pooled connection.
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

/// A server that collects `batch` requests, then answers them in reverse
/// order, each with its own body (a string argument comes back as the
/// string result), counting the connections it accepts.
async fn reverse_echo_server(batch: usize) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut connection = Connection::new(ConnectionConfig::new(Role::Server));
                let mut held = Vec::new();
                let mut buf = vec![0u8; 4096];
                loop {
                    while let Some(event) = connection.poll_event() {
                        if let Event::Message(message) = event
                            && let MessageBody::Request(request) = message.body
                        {
                            held.push(request);
                        }
                    }
                    if held.len() >= batch {
                        for request in held.drain(..).rev() {
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

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_calls_share_one_connection() {
    // The server answers only once it holds 8 requests, last first: the
    // calls complete only if they are all in flight on the connection at
    // once, and each must get its own reply.
    let (addr, accepted) = reverse_echo_server(8).await;
    let target = reference(addr, b"Echo");
    let orb = Orb::new(ClientConfig {
        call_timeout: Some(Duration::from_secs(10)),
        ..ClientConfig::default()
    });
    for round in 0..2 {
        let mut calls = tokio::task::JoinSet::new();
        for i in 0..8 {
            let (orb, target) = (orb.clone(), target.clone());
            calls.spawn(async move {
                let text = format!("call {round}.{i}");
                let (reply, _) = orb
                    .invoke(&target, "echoString", |w| w.write_string(&text))
                    .await
                    .unwrap();
                assert_eq!(text_of(reply), text);
            });
        }
        while let Some(done) = calls.join_next().await {
            done.unwrap();
        }
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
    assert_eq!(orb.connections(), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn concurrent_calls_share_one_connection_on_a_current_thread_runtime() {
    // The same as above on one thread: whichever call reads hands the
    // others their replies.
    let (addr, accepted) = reverse_echo_server(4).await;
    let target = reference(addr, b"Echo");
    let orb = Orb::new(ClientConfig {
        call_timeout: Some(Duration::from_secs(10)),
        ..ClientConfig::default()
    });
    for round in 0..3 {
        let mut calls = tokio::task::JoinSet::new();
        for i in 0..4 {
            let (orb, target) = (orb.clone(), target.clone());
            calls.spawn(async move {
                let text = format!("call {round}.{i}");
                let (reply, _) = orb
                    .invoke(&target, "echoString", |w| w.write_string(&text))
                    .await
                    .unwrap();
                assert_eq!(text_of(reply), text);
            });
        }
        while let Some(done) = calls.join_next().await {
            done.unwrap();
        }
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
    assert_eq!(orb.connections(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connection_the_server_closed_is_replaced_before_the_next_call() {
    let (server, _servant) = echo_server("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = server.local_addr();
    let target = reference(addr, ECHO_KEY);
    let orb = Orb::new(ClientConfig::default());
    let (reply, _) = orb
        .invoke(&target, "echoString", |w| w.write_string("before"))
        .await
        .unwrap();
    assert_eq!(text_of(reply), "before");
    // The server closes its connections (CloseConnection) and another one
    // takes its place on the same address.
    server.shutdown().await;
    let (server, _servant) = echo_server(addr).await.unwrap();
    // Nothing reads between calls: the close is found when the pooled
    // connection is looked at, and the call goes on a new one.
    let mut found_closed = false;
    for _ in 0..100 {
        if orb.connections() == 0 {
            found_closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(found_closed, "the closed connection still counts as usable");
    let (reply, _) = orb
        .invoke(&target, "echoString", |w| w.write_string("after"))
        .await
        .unwrap();
    assert_eq!(text_of(reply), "after");
    assert_eq!(orb.connections(), 1);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_orb_call_past_its_deadline_leaves_the_shared_connection_usable() {
    let server = sleepy_server(Threading::Tasks).await;
    let target = reference(server.local_addr(), b"Sleepy");
    // `slow` takes 600 ms and the server answers a connection's requests
    // in turn: `fast` waits about 150 ms behind it, within its deadline.
    let orb = Orb::new(ClientConfig {
        call_timeout: Some(Duration::from_millis(450)),
        ..ClientConfig::default()
    });
    let late = orb
        .invoke(&target, "slow", |w| w.write_string("late"))
        .await;
    assert!(matches!(late, Err(OrbError::Timeout)), "{late:?}");
    let (reply, _) = orb
        .invoke(&target, "fast", |w| w.write_string("next"))
        .await
        .unwrap();
    assert_eq!(text_of(reply), "next");
    assert_eq!(orb.connections(), 1);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn interface_is_not_implemented_without_a_repository() {
    let (server, _servant) = echo_server("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let mut client = OrbClient::connect(server.local_addr(), ClientConfig::default())
        .await
        .unwrap();
    match client
        .invoke(ECHO_KEY, "_interface", |_| Ok(()))
        .await
        .unwrap()
    {
        ReplyBody::System(e) => {
            assert_eq!(e.exception_id, "IDL:omg.org/CORBA/NO_IMPLEMENT:1.0");
            assert_eq!(e.minor, 0x4F4D_0003);
        }
        other => panic!("{other:?}"),
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn code_sets_are_negotiated_with_an_ithaca_server() {
    let server = sleepy_server(Threading::default()).await;
    let addr = server.local_addr();
    let published = object_ior(
        "IDL:Test/Sleepy:1.0",
        "127.0.0.1",
        addr.port(),
        &b"Sleepy"[..],
    )
    .unwrap();
    let profile = published.iiop_profile().unwrap().unwrap();

    // ISO-8859-1 by default: Latin-1 text goes, other text cannot.
    let mut latin1 = OrbClient::connect_profile(&profile, ClientConfig::default())
        .await
        .unwrap();
    assert_eq!(latin1.code_sets().char_data, CharCodeSet::Iso8859_1);
    let reply = latin1
        .invoke(b"Sleepy", "fast", |w| w.write_string("grüße"))
        .await
        .unwrap();
    assert_eq!(text_of(reply), "grüße");
    assert!(matches!(
        latin1
            .invoke(b"Sleepy", "fast", |w| w.write_string("日本語"))
            .await,
        Err(OrbError::Giop(_))
    ));

    // A client that prefers UTF-8 gets it (the server converts from it).
    let utf8 = ClientConfig {
        code_sets: CodeSetPolicy::new(CharCodeSet::Utf8),
        ..ClientConfig::default()
    };
    let mut client = OrbClient::connect_profile(&profile, utf8).await.unwrap();
    assert_eq!(client.code_sets().char_data, CharCodeSet::Utf8);
    assert_eq!(client.code_sets().wchar_data, Some(WcharCodeSet::Utf16));
    for text in ["日本語 ✓", "ascii"] {
        let reply = client
            .invoke(b"Sleepy", "fast", |w| w.write_string(text))
            .await
            .unwrap();
        assert_eq!(text_of(reply), text);
        let reply = client
            .invoke(b"Sleepy", "wide", |w| w.write_wstring(text))
            .await
            .unwrap();
        match reply {
            ReplyBody::Return(mut r) => assert_eq!(r.read_wstring().unwrap(), text),
            other => panic!("{other:?}"),
        }
    }

    // A reference without TAG_CODE_SETS: no wide characters can be sent.
    let bare = Ior::from_ior_string(
        &ithaca_idl::ior::Corbaloc::parse(&format!("corbaloc:iiop:1.2@{addr}/Sleepy"))
            .unwrap()
            .to_ior()
            .unwrap()
            .to_ior_string(ByteOrder::BigEndian)
            .unwrap(),
    )
    .unwrap();
    let bare = bare.iiop_profile().unwrap().unwrap();
    let mut client = OrbClient::connect_profile(&bare, ClientConfig::default())
        .await
        .unwrap();
    assert_eq!(client.code_sets().wchar_data, None);
    let refused = client
        .invoke(b"Sleepy", "wide", |w| w.write_wstring("x"))
        .await;
    assert!(
        matches!(refused, Err(OrbError::NoWideCodeSet)),
        "{refused:?}"
    );
    assert_eq!(
        refused.unwrap_err().system_exception().exception_id,
        "IDL:omg.org/CORBA/INV_OBJREF:1.0"
    );
    server.shutdown().await;
}
