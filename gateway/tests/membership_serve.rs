//! `ithaca serve` hosts the membership oracle: members written with the
//! Rust client join it over loopback, and operators read it through
//! `GET /membership/view`, `/membership/members`, the server-sent events
//! of `/membership/watch`, `ithaca membership …` and `/metrics`. Runs the
//! real binary with its real (single-node, openraft) oracle.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use ithaca_membership::client::{Member, MemberConfig};
use ithaca_membership::{MemberId, ServiceName};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_ithaca");

struct Served {
    child: Child,
    base: String,
    server: SocketAddr,
    members: SocketAddr,
}

async fn serve(data_dir: &std::path::Path) -> Served {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env("ITHACA_LOG__FILTER", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut base, mut members) = (None, None);
    let read = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(url) = line.strip_prefix("listening: server ") {
                base = Some(url.trim().to_owned());
            }
            if let Some(rest) = line.strip_prefix("membership: ") {
                let address = rest.split("udp+tcp ").nth(1).unwrap();
                members = Some(address.split_whitespace().next().unwrap().parse().unwrap());
            }
            if line.starts_with("stop with") {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), read)
        .await
        .expect("ithaca serve did not start");
    let base: String = base.expect("no server line");
    let server = base.trim_start_matches("http://").parse().unwrap();
    Served {
        child,
        base,
        server,
        members: members.expect("no membership line"),
    }
}

async fn get(server: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(server).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).await.unwrap();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (status, body.to_owned())
}

async fn get_json(server: SocketAddr, path: &str) -> serde_json::Value {
    let (status, body) = get(server, path).await;
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
}

fn member(name: &str, oracle: SocketAddr) -> MemberConfig {
    MemberConfig::new(
        MemberId::new(name).unwrap(),
        format!("{name}.test:7000"),
        vec![oracle],
    )
    .role(ServiceName::new("atc").unwrap())
}

async fn until(what: &str, limit: Duration, mut check: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Reads the SSE stream until an event with `id: N` arrives; returns its data.
async fn next_event(stream: &mut TcpStream, buffer: &mut String, id: u64) -> String {
    let marker = format!("id: {id}\ndata: ");
    let read = async {
        loop {
            if let Some(at) = buffer.find(&marker) {
                let rest = &buffer[at + marker.len()..];
                if let Some(end) = rest.find('\n') {
                    return rest[..end].to_owned();
                }
            }
            let mut chunk = [0u8; 4096];
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "the watch stream ended");
            buffer.push_str(&String::from_utf8_lossy(&chunk[..n]));
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .unwrap_or_else(|_| panic!("no event {id}; got {buffer}"))
}

fn cli(args: &[&str]) -> std::process::Output {
    std::process::Command::new(BIN)
        .args(args)
        .env("ITHACA_LOG__FILTER", "warn")
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_join_the_hosted_oracle_and_operators_see_every_view() {
    let dir = tempfile::tempdir().unwrap();
    let mut served = serve(dir.path()).await;

    let view = get_json(served.server, "/membership/view").await;
    assert_eq!(view["id"], 0);

    // A watch stream opened before anyone joins sees every view in order.
    let mut watch = TcpStream::connect(served.server).await.unwrap();
    watch
        .write_all(b"GET /membership/watch HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    let mut events = String::new();
    next_event(&mut watch, &mut events, 0).await;
    assert!(events.contains("text/event-stream"), "{events}");

    let a = Member::join(member("a", served.members)).await.unwrap();
    let data = next_event(&mut watch, &mut events, 1).await;
    let first: serde_json::Value = serde_json::from_str(&data).unwrap();
    assert_eq!(first["primaries"]["atc"], "a");
    let b = Member::join(member("b", served.members)).await.unwrap();
    let data = next_event(&mut watch, &mut events, 2).await;
    let second: serde_json::Value = serde_json::from_str(&data).unwrap();
    assert_eq!(second["backups"]["atc"][0], "b");
    until("leases", Duration::from_secs(5), async || {
        a.can_act() && b.can_act()
    })
    .await;
    assert!(a.is_primary(&ServiceName::new("atc").unwrap()));

    let view = get_json(served.server, "/membership/view").await;
    assert_eq!(view["id"], 2);
    assert_eq!(view["members"]["a"]["incarnation"], 1);
    assert_eq!(view["members"]["b"]["address"], "b.test:7000");

    let members = get_json(served.server, "/membership/members").await;
    assert_eq!(members["oracle_leader"], true);
    assert_eq!(members["suspicion_timeout_ms"], 2600);
    let listed = members["members"].as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["primary_for"][0], "atc");
    assert_eq!(listed[1]["backup_for"][0], "atc");

    let status = get_json(served.server, "/membership/oracle-status").await;
    assert_eq!(status["oracle"]["role"], "leader");
    assert_eq!(status["oracle"]["view_id"], 2);
    assert!(status["heartbeats"]["granted"].as_u64().unwrap() >= 1);

    // The command line reads the same endpoints.
    let output = cli(&["membership", "view", "--admin", &served.base]);
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("view 2: 2 member(s)"), "{text}");
    assert!(text.contains("service atc: primary a backups b"), "{text}");
    let output = cli(&["membership", "members", "--admin", &served.base]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && text.contains("b.test:7000"),
        "{text}"
    );
    let output = cli(&[
        "membership",
        "oracle-status",
        "--admin",
        &served.base,
        "--json",
    ]);
    assert!(output.status.success(), "{output:?}");
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["oracle"]["role"], "leader");
    let output = cli(&["membership", "view", "--admin", "http://127.0.0.1:1"]);
    assert_eq!(output.status.code(), Some(1));

    // Metrics, refreshed every second.
    let server = served.server;
    until("membership metrics", Duration::from_secs(5), async || {
        let (_, text) = get(server, "/metrics").await;
        text.contains("ithaca_membership_view_id 2")
            && text.contains("ithaca_membership_members 2")
            && text.contains("ithaca_membership_is_leader 1")
    })
    .await;
    let (_, text) = get(server, "/metrics").await;
    assert!(
        text.contains("ithaca_membership_heartbeats_total{outcome=\"granted\"}"),
        "{text}"
    );

    // A silent member is removed and its backup promoted.
    drop(a);
    until("a's removal", Duration::from_secs(8), async || {
        let view = get_json(server, "/membership/view").await;
        view["members"].get("a").is_none()
    })
    .await;
    let view = get_json(server, "/membership/view").await;
    assert_eq!(view["id"], 3);
    assert_eq!(view["primaries"]["atc"], "b");
    until("b as primary", Duration::from_secs(3), async || {
        b.is_primary(&ServiceName::new("atc").unwrap())
    })
    .await;

    // SIGTERM with a watch stream open: the stream ends, the drain is quick.
    let pid = served.child.id().unwrap().to_string();
    let stopped = Instant::now();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(10), served.child.wait())
        .await
        .expect("serve did not exit")
        .unwrap();
    assert!(status.success());
    assert!(stopped.elapsed() < Duration::from_secs(5));

    // The oracle's log survives the restart: view ids never go back.
    let served = serve(dir.path()).await;
    let view = get_json(served.server, "/membership/view").await;
    assert!(view["id"].as_u64().unwrap() >= 3, "{view}");
}

#[test]
fn unsafe_timing_and_bad_peers_are_refused_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ithaca.toml");
    std::fs::write(
        &file,
        "[membership]\nlease_ms = 2000\nsuspicion_timeout_ms = 2100\n",
    )
    .unwrap();
    let output = cli(&["config", "check", file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let text = String::from_utf8_lossy(&output.stderr);
    assert!(text.contains("membership.suspicion_timeout_ms"), "{text}");
    assert!(text.contains("2220 ms"), "{text}");
    assert_eq!(text.trim().lines().count(), 1, "{text}");

    let output = cli(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        dir.path().join("data").to_str().unwrap(),
        "--oracle-peers",
        "2=127.0.0.1:1,3=127.0.0.1:2,4=127.0.0.1:3",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let text = String::from_utf8_lossy(&output.stderr);
    assert!(text.contains("--oracle-peers"), "{text}");
    assert!(text.contains("membership.oracle_peers"), "{text}");
}
