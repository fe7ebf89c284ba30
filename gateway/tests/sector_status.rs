//! The sector-status service with the membership oracle, on real
//! processes (`ithaca serve`: one oracle, a primary and a backup):
//! answers carry the view they were served in, the backup routes clients
//! to the primary with NotPrimary, conflicts are declared faults naming the
//! holder, stale views are rejected (by the backup's fence and for
//! clients), and after `kill -9` of the primary the backup takes over with
//! every acknowledged write.

#![allow(clippy::unwrap_used)]

mod sector_status_common;

use std::time::{Duration, Instant};

use sector_status_common::{Answer, Call, Gateway, SoapClient, TIMING, free_port, scratch, until};

/// The replication token both members share.
const TOKEN: &str = "tower-secret-1";

struct Trio {
    _oracle: Gateway,
    primary: Gateway,
    backup: Gateway,
}

fn member_config(member: &str, oracle: std::net::SocketAddr) -> String {
    format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n[membership]\nenabled = false\n{TIMING}\
         [sector_status]\nenabled = true\nmode = \"oracle\"\nmember = \"{member}\"\noracles = \"{oracle}\"\ntoken = \"{TOKEN}\"\n"
    )
}

async fn trio(dir: &std::path::Path) -> Trio {
    let oracle = Gateway::start(
        "oracle",
        dir,
        &format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[membership]\nenabled = true\nlisten = \"127.0.0.1:{}\"\n{TIMING}",
            free_port()
        ),
    )
    .await;
    let members = oracle.members.unwrap();
    let primary = Gateway::start("P", dir, &member_config("P", members)).await;
    let client = SoapClient::default();
    let endpoint = primary.endpoint();
    until("P to serve", Duration::from_secs(20), || {
        let (client, endpoint) = (client.clone(), endpoint.clone());
        async move {
            matches!(
                client
                    .call(
                        &endpoint,
                        &Call::GetSector {
                            sector: "S1".into()
                        },
                        None
                    )
                    .await,
                Answer::Sector { .. }
            )
        }
    })
    .await;
    let backup = Gateway::start("B", dir, &member_config("B", members)).await;
    let endpoint = backup.endpoint();
    let joined = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    until("B to join as backup", Duration::from_secs(20), || {
        let (client, endpoint, joined) = (client.clone(), endpoint.clone(), joined.clone());
        async move {
            match client
                .call(
                    &endpoint,
                    &Call::GetSector {
                        sector: "S1".into(),
                    },
                    None,
                )
                .await
            {
                Answer::NotPrimary {
                    primary: Some(ref p),
                    view: Some(view),
                    ..
                } if p == "P" => {
                    joined.store(view, std::sync::atomic::Ordering::Relaxed);
                    true
                }
                _ => false,
            }
        }
    })
    .await;
    // B's view names it as P's backup; wait until P serves in that view
    // too (its member may install views a heartbeat later), so the tests'
    // writes are acknowledged by the backup.
    let joined = joined.load(std::sync::atomic::Ordering::Relaxed);
    let endpoint = primary.endpoint();
    until(
        "P to serve in the view with B",
        Duration::from_secs(20),
        || {
            let (client, endpoint) = (client.clone(), endpoint.clone());
            async move {
                matches!(
                    client.call(&endpoint, &Call::GetSector { sector: "S1".into() }, None).await,
                    Answer::Sector { view, .. } if view >= joined
                )
            }
        },
    )
    .await;
    Trio {
        _oracle: oracle,
        primary,
        backup,
    }
}

fn reserve(sector: &str, flight: &str, from: u64, until: u64) -> Call {
    Call::Reserve {
        sector: sector.into(),
        flight: flight.into(),
        from,
        until,
    }
}

/// POSTs a replication message to a member, as a (deposed) peer would.
async fn replicate(base: &str, json: &str, token: Option<&str>) -> (u16, String) {
    use http_body_util::{BodyExt, Full};
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<bytes::Bytes>>();
    let mut request = http::Request::post(format!("{base}/services/SectorStatus/replication"))
        .header("content-type", "application/json");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let request = request
        .body(Full::new(bytes::Bytes::from(json.to_owned())))
        .unwrap();
    let response = client.request(request).await.unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_primary_serves_the_backup_routes_and_views_fence_stale_writers() {
    let dir = scratch();
    let trio = trio(dir.path()).await;
    let client = SoapClient::default();
    let p = trio.primary.endpoint();
    let b = trio.backup.endpoint();

    // The primary serves, stamping its view.
    let Answer::Reserved { view, by } = client
        .call(&p, &reserve("EGLL-N", "BA117", 600, 900), None)
        .await
    else {
        panic!("the primary did not reserve");
    };
    assert_eq!(by, "P");
    assert!(view > 0);

    // The backup names the primary, its address and the view.
    let answer = client
        .call(&b, &reserve("EGLL-N", "AF12", 100, 200), None)
        .await;
    let Answer::NotPrimary {
        view: Some(seen),
        primary: Some(primary),
        address: Some(address),
    } = answer
    else {
        panic!("the backup did not route: {answer:?}");
    };
    assert_eq!(primary, "P");
    assert!(seen >= view);
    // The address is where the primary serves: following it works.
    let followed = client
        .call(&address, &reserve("EGLL-N", "AF12", 100, 200), None)
        .await;
    assert!(
        matches!(followed, Answer::Reserved { ref by, .. } if by == "P"),
        "{followed:?}"
    );

    // A conflict is the declared fault naming the holder.
    let answer = client
        .call(&p, &reserve("EGLL-N", "LH3", 800, 1000), None)
        .await;
    assert_eq!(
        answer,
        Answer::Conflict {
            holder: "BA117".into(),
            from: 600,
            until: 900,
            view
        }
    );

    // Reads, over SOAP 1.2 as well.
    let answer = client
        .call12(
            &p,
            &Call::WhoIsIn {
                sector: "EGLL-N".into(),
                at: 700,
            },
        )
        .await;
    assert_eq!(
        answer,
        Answer::Flights {
            view,
            by: "P".into(),
            flights: vec!["BA117".into()]
        }
    );
    let answer = client
        .call(
            &p,
            &Call::GetSector {
                sector: "EGLL-N".into(),
            },
            None,
        )
        .await;
    let Answer::Sector { reservations, .. } = answer else {
        panic!("{answer:?}");
    };
    assert_eq!(
        reservations,
        vec![("AF12".into(), 100, 200), ("BA117".into(), 600, 900)]
    );
    let answer = client
        .call(
            &p,
            &Call::Release {
                sector: "EGLL-N".into(),
                flight: "AF12".into(),
            },
            None,
        )
        .await;
    assert!(
        matches!(answer, Answer::Released { released: true, .. }),
        "{answer:?}"
    );

    // A client that has seen a newer view than the member's is refused.
    let answer = client
        .call(
            &p,
            &Call::WhoIsIn {
                sector: "EGLL-N".into(),
                at: 700,
            },
            Some(view + 100),
        )
        .await;
    assert_eq!(
        answer,
        Answer::StaleView {
            presented: view + 100,
            current: view
        }
    );

    // The backup's fence rejects a write stamped with an older view, and
    // its table is untouched.
    let evil = r#"{"kind":"replicate","view":0,"seq":99,"op":{"op":"reserve","sector":"EGLL-N","flight":"EVIL","from":0,"until":10000}}"#;
    let (status, stale) = replicate(&trio.backup.base, evil, Some(TOKEN)).await;
    assert_eq!(status, 200);
    assert!(stale.contains(r#""kind":"stale""#), "{stale}");
    // Without the shared token nothing is even read.
    let (status, refused) = replicate(&trio.backup.base, evil, None).await;
    assert_eq!(status, 401, "{refused}");
    let (status, _) = replicate(&trio.backup.base, evil, Some("guess")).await;
    assert_eq!(status, 401);
    // Malformed replication messages get a clear 400, never a panic.
    let (status, malformed) = replicate(
        &trio.backup.base,
        r#"{"kind":"replicate","view":"#,
        Some(TOKEN),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        malformed.contains("invalid replication message"),
        "{malformed}"
    );
    let answer = client
        .call(
            &p,
            &Call::WhoIsIn {
                sector: "EGLL-N".into(),
                at: 50,
            },
            None,
        )
        .await;
    assert!(
        matches!(answer, Answer::Flights { ref flights, .. } if flights.is_empty()),
        "{answer:?}"
    );

    // zeep, through the example controller client: a reservation, the
    // declared Conflict fault, and routing from the backup.
    match ithaca_testkit::interop::python() {
        Ok(python) => {
            let script = ithaca_testkit::interop::repo_root().join("examples/atc/controller.py");
            let run = |args: Vec<String>| {
                let output = std::process::Command::new(&python)
                    .arg(&script)
                    .args(&args)
                    .output()
                    .unwrap();
                let text = String::from_utf8_lossy(&output.stdout).into_owned();
                println!("controller.py {}: {text}", args.join(" "));
                (
                    output.status.code(),
                    text,
                    String::from_utf8_lossy(&output.stderr).into_owned(),
                )
            };
            let args = |list: &[&str]| list.iter().map(ToString::to_string).collect::<Vec<_>>();
            let (code, text, err) = run(args(&[&p, "reserve", "LFPG-E", "AF66", "0", "60"]));
            assert_eq!(code, Some(0), "{text}{err}");
            assert!(
                text.contains(&format!("reserved AF66 in LFPG-E [0, 60) view {view} by P")),
                "{text}"
            );
            let (code, text, err) = run(args(&[&b, "reserve", "LFPG-E", "KL9", "30", "90"]));
            assert_eq!(code, Some(1), "{text}{err}");
            assert!(text.contains("not-primary: following P"), "{text}");
            assert!(
                text.contains("conflict: AF66 holds LFPG-E [0, 60)"),
                "{text}"
            );
            let (code, text, err) = run(args(&[&b, "who", "LFPG-E", "10"]));
            assert_eq!(code, Some(0), "{text}{err}");
            assert!(text.contains("in LFPG-E at 10: AF66"), "{text}");
        }
        Err(missing) => println!("zeep skipped: {missing}"),
    }

    // Bad input: a clear Client fault.
    let answer = client
        .call(&p, &reserve("EGLL-N", "BA 1", 1, 2), None)
        .await;
    assert!(
        matches!(answer, Answer::Fault(ref reason) if reason.contains("flight")),
        "{answer:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backup_takes_over_after_kill_9_with_every_acknowledged_write() {
    let dir = scratch();
    let mut trio = trio(dir.path()).await;
    let client = SoapClient::default();
    let p = trio.primary.endpoint();
    let mut acknowledged = Vec::new();
    let mut first_view = 0;
    for n in 0..20u64 {
        let flight = format!("F{n}");
        if let Answer::Reserved { view, .. } = client
            .call(&p, &reserve("S1", &flight, n * 10, n * 10 + 10), None)
            .await
        {
            first_view = view;
            acknowledged.push((flight, n * 10, n * 10 + 10));
        }
    }
    assert_eq!(
        acknowledged.len(),
        20,
        "every write is acknowledged while both run"
    );

    trio.primary.kill().await;
    let killed = Instant::now();
    let b = trio.backup.endpoint();
    let (reservations, new_view) = loop {
        assert!(
            killed.elapsed() < Duration::from_secs(20),
            "the backup did not take over: {}",
            trio.backup.log()
        );
        if let Answer::Sector {
            reservations,
            view,
            by,
        } = client
            .call(
                &b,
                &Call::GetSector {
                    sector: "S1".into(),
                },
                None,
            )
            .await
            && by == "B"
        {
            break (reservations, view);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    println!(
        "the backup served {:?} after kill -9, in view {new_view} (was {first_view})",
        killed.elapsed()
    );
    assert!(new_view > first_view);
    assert_eq!(reservations, acknowledged, "an acknowledged write was lost");
    // And it takes writes alone (the dead primary left the view).
    let answer = client
        .call(&b, &reserve("S1", "NEW", 5_000, 5_100), None)
        .await;
    assert!(
        matches!(answer, Answer::Reserved { ref by, .. } if by == "B"),
        "{answer:?}"
    );
}

/// `min_backups = 1`: a primary alone refuses writes (nothing written, a
/// Receiver fault saying why) but answers reads; once a backup has joined
/// it acknowledges them, and after `kill -9` of the primary the promoted
/// backup holds every write acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_min_backups_a_lone_primary_refuses_writes_and_none_is_lost() {
    let dir = scratch();
    let oracle = Gateway::start(
        "oracle",
        dir.path(),
        &format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[membership]\nenabled = true\nlisten = \"127.0.0.1:{}\"\n{TIMING}",
            free_port()
        ),
    )
    .await;
    let members = oracle.members.unwrap();
    let config = |member: &str| format!("{}min_backups = 1\n", member_config(member, members));
    let mut primary = Gateway::start("P", dir.path(), &config("P")).await;
    let client = SoapClient::default();
    let p = primary.endpoint();
    let lone = loop {
        match client.call(&p, &reserve("S9", "LONE1", 0, 60), None).await {
            Answer::NotPrimary { .. } | Answer::Unreachable(_) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => break other,
        }
    };
    let Answer::Fault(reason) = lone else {
        panic!("a lone primary acknowledged a write: {lone:?}");
    };
    assert!(reason.contains("not enough backups"), "{reason}");
    assert!(reason.contains("min_backups"), "{reason}");
    // Reads are still answered, and nothing was written.
    let Answer::Sector { reservations, .. } = client
        .call(
            &p,
            &Call::GetSector {
                sector: "S9".into(),
            },
            None,
        )
        .await
    else {
        panic!("the lone primary does not answer reads");
    };
    assert!(reservations.is_empty(), "{reservations:?}");

    let backup = Gateway::start("B", dir.path(), &config("B")).await;
    let started = Instant::now();
    let mut acknowledged = Vec::new();
    while acknowledged.len() < 5 {
        let flight = format!("F{}", acknowledged.len());
        let from = 100 * acknowledged.len() as u64;
        match client
            .call(&p, &reserve("S9", &flight, from, from + 50), None)
            .await
        {
            Answer::Reserved { .. } => acknowledged.push(flight),
            other => {
                assert!(
                    started.elapsed() < Duration::from_secs(20),
                    "writes still refused with a backup: {other:?}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    primary.kill().await;
    let b = backup.endpoint();
    let held = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    until("B to serve as primary", Duration::from_secs(20), || {
        let (client, b, held) = (client.clone(), b.clone(), held.clone());
        async move {
            match client
                .call(
                    &b,
                    &Call::GetSector {
                        sector: "S9".into(),
                    },
                    None,
                )
                .await
            {
                Answer::Sector {
                    by, reservations, ..
                } if by == "B" => {
                    *held.lock().unwrap() = reservations;
                    true
                }
                _ => false,
            }
        }
    })
    .await;
    let held: Vec<String> = held
        .lock()
        .unwrap()
        .iter()
        .map(|(flight, ..)| flight.clone())
        .collect();
    assert_eq!(
        held, acknowledged,
        "the promoted backup lost acknowledged writes"
    );
}
