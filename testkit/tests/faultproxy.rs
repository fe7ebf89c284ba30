//! The fault proxy forwards TCP and UDP, and blocks, delays and drops on
//! command.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Duration;

use ithaca_testkit::faultproxy::{Direction, FaultProxy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::time::{Instant, timeout};

fn any() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// A TCP echo server; returns its address.
async fn tcp_echo() -> SocketAddr {
    let listener = TcpListener::bind(any()).await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let mut buffer = [0u8; 1024];
                loop {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(len) => {
                            if stream.write_all(&buffer[..len]).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    address
}

/// A UDP echo server; returns its address.
async fn udp_echo() -> SocketAddr {
    let socket = UdpSocket::bind(any()).await.unwrap();
    let address = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buffer = [0u8; 2048];
        loop {
            let (len, from) = socket.recv_from(&mut buffer).await.unwrap();
            let _ = socket.send_to(&buffer[..len], from).await;
        }
    });
    address
}

async fn round_trip(stream: &mut TcpStream, text: &[u8], within: Duration) -> Option<Vec<u8>> {
    stream.write_all(text).await.ok()?;
    let mut answer = vec![0u8; text.len()];
    timeout(within, stream.read_exact(&mut answer))
        .await
        .ok()?
        .ok()?;
    Some(answer)
}

async fn udp_round_trip(socket: &UdpSocket, text: &[u8], within: Duration) -> Option<Vec<u8>> {
    socket.send(text).await.ok()?;
    let mut answer = vec![0u8; 2048];
    let len = timeout(within, socket.recv(&mut answer)).await.ok()?.ok()?;
    answer.truncate(len);
    Some(answer)
}

#[tokio::test]
async fn tcp_forwards_and_a_block_holds_bytes_until_heal() {
    let proxy = FaultProxy::tcp(any(), tcp_echo().await).await.unwrap();
    let mut stream = TcpStream::connect(proxy.local_addr()).await.unwrap();
    assert_eq!(
        round_trip(&mut stream, b"hello", Duration::from_secs(5))
            .await
            .as_deref(),
        Some(&b"hello"[..])
    );

    proxy.block();
    assert_eq!(
        round_trip(&mut stream, b"held!", Duration::from_millis(300)).await,
        None,
        "nothing crosses a blocked proxy"
    );
    proxy.heal();
    let mut late = vec![0u8; 5];
    timeout(Duration::from_secs(5), stream.read_exact(&mut late))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&late, b"held!", "held bytes arrive after heal, in order");
    let stats = proxy.stats();
    assert_eq!(stats.forwarded_to_target, 10);
    assert_eq!(stats.forwarded_from_target, 10);
    assert_eq!(stats.sessions, 1);
}

#[tokio::test]
async fn tcp_one_way_block_lets_requests_in_but_no_answer_out() {
    let proxy = FaultProxy::tcp(any(), tcp_echo().await).await.unwrap();
    let mut stream = TcpStream::connect(proxy.local_addr()).await.unwrap();
    proxy.block_direction(Direction::FromTarget);
    assert_eq!(
        round_trip(&mut stream, b"ping", Duration::from_millis(300)).await,
        None
    );
    assert_eq!(
        proxy.stats().forwarded_to_target,
        4,
        "the request got through"
    );
    proxy.unblock_direction(Direction::FromTarget);
    let mut late = vec![0u8; 4];
    timeout(Duration::from_secs(5), stream.read_exact(&mut late))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&late, b"ping");
}

#[tokio::test]
async fn tcp_connection_made_during_a_block_waits_for_the_target() {
    let proxy = FaultProxy::tcp(any(), tcp_echo().await).await.unwrap();
    proxy.block_direction(Direction::ToTarget);
    let mut stream = TcpStream::connect(proxy.local_addr()).await.unwrap();
    assert_eq!(
        round_trip(&mut stream, b"syn", Duration::from_millis(300)).await,
        None
    );
    proxy.heal();
    let mut late = vec![0u8; 3];
    timeout(Duration::from_secs(5), stream.read_exact(&mut late))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&late, b"syn");
}

#[tokio::test]
async fn tcp_reset_and_shutdown_close_connections() {
    let proxy = FaultProxy::tcp(any(), tcp_echo().await).await.unwrap();
    let mut stream = TcpStream::connect(proxy.local_addr()).await.unwrap();
    assert!(
        round_trip(&mut stream, b"a", Duration::from_secs(5))
            .await
            .is_some()
    );
    proxy.reset_connections();
    let mut buffer = [0u8; 1];
    let read = timeout(Duration::from_secs(5), stream.read(&mut buffer))
        .await
        .unwrap();
    assert!(matches!(read, Ok(0) | Err(_)), "the connection was closed");

    let mut again = TcpStream::connect(proxy.local_addr()).await.unwrap();
    assert!(
        round_trip(&mut again, b"b", Duration::from_secs(5))
            .await
            .is_some()
    );
    let address = proxy.local_addr();
    proxy.shutdown().await;
    let read = timeout(Duration::from_secs(5), again.read(&mut buffer))
        .await
        .unwrap();
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "shutdown closes open connections"
    );
    assert!(
        TcpStream::connect(address).await.is_err(),
        "and the listener"
    );
}

#[tokio::test]
async fn tcp_latency_delays_each_direction() {
    let proxy = FaultProxy::tcp(any(), tcp_echo().await).await.unwrap();
    let mut stream = TcpStream::connect(proxy.local_addr()).await.unwrap();
    round_trip(&mut stream, b"warm", Duration::from_secs(5))
        .await
        .unwrap();
    proxy.set_latency(Duration::from_millis(100));
    let start = Instant::now();
    round_trip(&mut stream, b"slow", Duration::from_secs(5))
        .await
        .unwrap();
    assert!(
        start.elapsed() >= Duration::from_millis(200),
        "100 ms each way"
    );
}

#[tokio::test]
async fn udp_forwards_replies_to_each_client() {
    let proxy = FaultProxy::udp(any(), udp_echo().await).await.unwrap();
    let first = UdpSocket::bind(any()).await.unwrap();
    let second = UdpSocket::bind(any()).await.unwrap();
    first.connect(proxy.local_addr()).await.unwrap();
    second.connect(proxy.local_addr()).await.unwrap();
    let within = Duration::from_secs(5);
    assert_eq!(
        udp_round_trip(&first, b"one", within).await.as_deref(),
        Some(&b"one"[..])
    );
    assert_eq!(
        udp_round_trip(&second, b"two", within).await.as_deref(),
        Some(&b"two"[..])
    );
    assert_eq!(proxy.stats().sessions, 2);
}

#[tokio::test]
async fn udp_blocks_drop_datagrams_both_ways_and_one_way() {
    let proxy = FaultProxy::udp(any(), udp_echo().await).await.unwrap();
    let client = UdpSocket::bind(any()).await.unwrap();
    client.connect(proxy.local_addr()).await.unwrap();
    let short = Duration::from_millis(200);
    assert!(
        udp_round_trip(&client, b"x", Duration::from_secs(5))
            .await
            .is_some()
    );

    proxy.block();
    assert_eq!(udp_round_trip(&client, b"x", short).await, None);
    proxy.heal();
    proxy.block_direction(Direction::FromTarget);
    let before = proxy.stats().forwarded_to_target;
    assert_eq!(udp_round_trip(&client, b"x", short).await, None);
    assert_eq!(
        proxy.stats().forwarded_to_target,
        before + 1,
        "one way still flows"
    );
    proxy.heal();
    assert!(
        udp_round_trip(&client, b"back", Duration::from_secs(5))
            .await
            .is_some(),
        "a dropped datagram is gone, the next one passes"
    );
    assert_eq!(proxy.stats().dropped, 2);
}

#[tokio::test]
async fn udp_drop_probability_and_latency() {
    let proxy = FaultProxy::udp(any(), udp_echo().await).await.unwrap();
    let client = UdpSocket::bind(any()).await.unwrap();
    client.connect(proxy.local_addr()).await.unwrap();
    proxy.set_drop_probability(1.0);
    for _ in 0..20 {
        assert_eq!(
            udp_round_trip(&client, b"x", Duration::from_millis(20)).await,
            None
        );
    }
    proxy.set_drop_probability(0.5);
    let mut answered = 0;
    for _ in 0..200 {
        if udp_round_trip(&client, b"x", Duration::from_millis(50))
            .await
            .is_some()
        {
            answered += 1;
        }
    }
    // Each round trip survives two coin flips: about 50 of 200.
    assert!((15..=100).contains(&answered), "{answered} of 200 answered");

    proxy.heal();
    proxy.set_latency(Duration::from_millis(80));
    // Drain late answers from the lossy phase.
    let mut buffer = [0u8; 64];
    while timeout(Duration::from_millis(100), client.recv(&mut buffer))
        .await
        .is_ok()
    {}
    let start = Instant::now();
    assert!(
        udp_round_trip(&client, b"y", Duration::from_secs(5))
            .await
            .is_some()
    );
    assert!(
        start.elapsed() >= Duration::from_millis(160),
        "80 ms each way"
    );
}
