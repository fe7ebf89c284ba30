//! Generated clients follow location forwards: an object moved to another
//! server (an Ithaca `ForwardingServant` in front, the generated servant
//! behind) answers LOCATION_FORWARD, LOCATION_FORWARD_PERM or, to a
//! LocateRequest, OBJECT_FORWARD; the async and the blocking generated
//! clients retry there, stay there for later calls, and give up with
//! `TRANSIENT` after `ClientConfig::max_forwards` hops, as `Orb` does.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ithaca_corba_codegen::bench_idl::ithaca_bench::{
    EchoBlockingClient, EchoClient, EchoSkeleton, Overflow, echo,
};
use ithaca_corba_codegen::{ADD_LIMIT, BenchServant};
use ithaca_idl::GiopVersion;
use ithaca_idl::codegen::runtime::SystemError;
use ithaca_idl::ior::Ior;
use ithaca_idl::naming::object_ior;
use ithaca_idl::orb::{
    BlockingOrbClient, Call, ClientConfig, Forward, ForwardingServant, OrbClient, OrbServer,
    Outcome, RunningOrbServer, Servant, ServantFuture, Threading,
};

/// A [`ForwardingServant`] that counts the requests and LocateRequests it
/// forwarded.
struct Counted {
    inner: ForwardingServant,
    forwarded: Arc<AtomicUsize>,
}

impl Servant for Counted {
    fn repository_id(&self) -> &str {
        self.inner.repository_id()
    }

    fn invoke(&self, call: Call) -> ServantFuture<'_> {
        self.inner.invoke(call)
    }

    fn invoke_now(&self, call: Call) -> Result<Outcome, Call> {
        self.inner.invoke_now(call)
    }

    fn forwarded_to(&self) -> Option<Forward> {
        self.forwarded.fetch_add(1, Ordering::SeqCst);
        self.inner.forwarded_to()
    }
}

/// An object that is here (its LocateRequests answer OBJECT_HERE) but
/// forwards each call, permanently, with [`Outcome::Forward`].
struct ForwardsEachCall {
    to: Ior,
}

impl Servant for ForwardsEachCall {
    fn repository_id(&self) -> &str {
        echo::REPOSITORY_ID
    }

    fn invoke(&self, _call: Call) -> ServantFuture<'_> {
        Box::pin(std::future::ready(Outcome::Forward(Forward {
            to: self.to.clone(),
            permanent: true,
        })))
    }
}

/// The object's home server, and a front server where it used to live.
struct Moved {
    home: RunningOrbServer,
    front: RunningOrbServer,
    /// Requests the front forwarded under `Moved` and `MovedPerm`.
    forwarded: Arc<AtomicUsize>,
    /// Requests the front forwarded under `Loop` (to itself).
    looped: Arc<AtomicUsize>,
}

fn reference(server: &OrbServer, key: &'static [u8]) -> Ior {
    let addr = server.local_addr();
    object_ior(
        echo::REPOSITORY_ID,
        &addr.ip().to_string(),
        addr.port(),
        key,
    )
    .unwrap()
}

async fn moved() -> Moved {
    moved_with(Threading::default()).await
}

/// [`moved`] with the front server's connections run by `threading`.
async fn moved_with(threading: Threading) -> Moved {
    let home = OrbServer::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    home.register(
        "Echo",
        Arc::new(EchoSkeleton::from_arc(Arc::new(BenchServant::default()))),
    );
    let echo = reference(&home, b"Echo");
    let front = OrbServer::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
        .with_threading(threading);
    let forwarded = Arc::new(AtomicUsize::new(0));
    let looped = Arc::new(AtomicUsize::new(0));
    for (key, permanent) in [(&b"Moved"[..], false), (&b"MovedPerm"[..], true)] {
        front.register(
            key,
            Arc::new(Counted {
                inner: ForwardingServant::new(echo.clone(), permanent),
                forwarded: forwarded.clone(),
            }),
        );
    }
    front.register("EachCall", Arc::new(ForwardsEachCall { to: echo.clone() }));
    let itself = reference(&front, b"Loop");
    front.register(
        "Loop",
        Arc::new(Counted {
            inner: ForwardingServant::new(itself, false),
            forwarded: looped.clone(),
        }),
    );
    Moved {
        home: home.spawn(),
        front: front.spawn(),
        forwarded,
        looped,
    }
}

fn config(version: GiopVersion) -> ClientConfig {
    ClientConfig {
        version,
        ..ClientConfig::default()
    }
}

const VERSIONS: [GiopVersion; 3] = [GiopVersion::V1_0, GiopVersion::V1_1, GiopVersion::V1_2];

#[tokio::test(flavor = "multi_thread")]
async fn the_async_client_follows_location_forwards_and_stays_there() {
    let moved = moved().await;
    for version in VERSIONS {
        for key in ["Moved", "MovedPerm"] {
            let what = format!("{version:?} {key}");
            let orb = OrbClient::connect(moved.front.local_addr(), config(version))
                .await
                .unwrap();
            let before = moved.forwarded.load(Ordering::SeqCst);
            let mut echo = EchoClient::new(orb, key);
            assert_eq!(echo.echo_string("moved").await.unwrap(), "moved", "{what}");
            assert_eq!(&echo.key()[..], b"Echo", "{what}: rebound to the object");
            assert_eq!(moved.forwarded.load(Ordering::SeqCst), before + 1, "{what}");
            // Later calls, user exceptions included, go straight home.
            assert_eq!(echo.add(2, 3).await.unwrap(), 5, "{what}");
            assert_eq!(
                echo.add(ADD_LIMIT, 1).await,
                Err(echo::AddError::Overflow(Overflow { limit: ADD_LIMIT })),
                "{what}"
            );
            assert_eq!(moved.forwarded.load(Ordering::SeqCst), before + 1, "{what}");
        }
        // `_is_a` is forwarded too, so narrowing a moved object works.
        let orb = OrbClient::connect(moved.front.local_addr(), config(version))
            .await
            .unwrap();
        let mut echo = EchoClient::narrow(orb, "Moved")
            .await
            .unwrap()
            .expect("the moved object is an Echo");
        assert_eq!(echo.echo_string("narrowed").await.unwrap(), "narrowed");
    }
    moved.front.shutdown().await;
    moved.home.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn locate_follows_object_forward() {
    let moved = moved().await;
    for version in VERSIONS {
        for key in ["Moved", "MovedPerm"] {
            let orb = OrbClient::connect(moved.front.local_addr(), config(version))
                .await
                .unwrap();
            let mut echo = EchoClient::new(orb, key);
            assert!(echo.locate().await.unwrap(), "{version:?} {key}");
            assert_eq!(&echo.key()[..], b"Echo", "{version:?} {key}");
            assert_eq!(echo.echo_string("here").await.unwrap(), "here");
        }
        let orb = OrbClient::connect(moved.front.local_addr(), config(version))
            .await
            .unwrap();
        let mut unknown = EchoClient::new(orb, "Nobody");
        assert!(!unknown.locate().await.unwrap(), "{version:?}");
    }
    moved.front.shutdown().await;
    moved.home.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_forwarding_loop_ends_in_transient_after_the_hop_limit() {
    let moved = moved().await;
    for max_forwards in [8, 2] {
        let config = ClientConfig {
            max_forwards,
            ..ClientConfig::default()
        };
        let before = moved.looped.load(Ordering::SeqCst);
        let orb = OrbClient::connect(moved.front.local_addr(), config)
            .await
            .unwrap();
        let mut echo = EchoClient::new(orb, "Loop");
        let error = echo.echo_string("round").await.unwrap_err();
        assert_eq!(error.name(), "TRANSIENT", "{error:?}");
        // The first request and one per hop allowed.
        assert_eq!(
            moved.looped.load(Ordering::SeqCst) - before,
            usize::from(max_forwards) + 1
        );
        let before = moved.looped.load(Ordering::SeqCst);
        assert_eq!(echo.locate().await.unwrap_err().name(), "TRANSIENT");
        assert_eq!(
            moved.looped.load(Ordering::SeqCst) - before,
            usize::from(max_forwards) + 1
        );
    }
    assert_eq!(ClientConfig::default().max_forwards, 8);
    moved.front.shutdown().await;
    moved.home.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_blocking_client_follows_forwards_the_same_way() {
    let moved = moved().await;
    let front = moved.front.local_addr();
    let forwarded = moved.forwarded.clone();
    let looped = moved.looped.clone();
    let result = tokio::task::spawn_blocking(move || {
        for version in VERSIONS {
            for key in ["Moved", "MovedPerm"] {
                let before = forwarded.load(Ordering::SeqCst);
                let orb = BlockingOrbClient::connect(front, config(version)).unwrap();
                let mut echo = EchoBlockingClient::new(orb, key);
                assert_eq!(echo.echo_string("moved")?, "moved");
                assert_eq!(&echo.key()[..], b"Echo");
                assert_eq!(echo.add(20, 22).map_err(|e| e.to_string()), Ok(42));
                assert_eq!(forwarded.load(Ordering::SeqCst), before + 1);

                let orb = BlockingOrbClient::connect(front, config(version)).unwrap();
                let mut located = EchoBlockingClient::new(orb, key);
                assert!(located.locate()?);
                assert_eq!(&located.key()[..], b"Echo");
            }
            let orb = BlockingOrbClient::connect(front, config(version)).unwrap();
            assert!(EchoBlockingClient::narrow(orb, "Moved")?.is_some());
        }
        let before = looped.load(Ordering::SeqCst);
        let orb = BlockingOrbClient::connect(front, ClientConfig::default()).unwrap();
        let mut echo = EchoBlockingClient::new(orb, "Loop");
        assert_eq!(echo.echo_string("round").unwrap_err().name(), "TRANSIENT");
        assert_eq!(looped.load(Ordering::SeqCst) - before, 9);
        Ok::<_, SystemError>(())
    })
    .await
    .unwrap();
    result.unwrap();
    moved.front.shutdown().await;
    moved.home.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_servant_can_forward_single_calls() {
    for threading in [Threading::ThreadPerConnection, Threading::Tasks] {
        single_calls_forwarded(threading).await;
    }
}

async fn single_calls_forwarded(threading: Threading) {
    let moved = moved_with(threading).await;
    for version in VERSIONS {
        let orb = OrbClient::connect(moved.front.local_addr(), config(version))
            .await
            .unwrap();
        let mut echo = EchoClient::new(orb, "EachCall");
        // The object is here for a LocateRequest: no forward, no rebinding.
        assert!(echo.locate().await.unwrap());
        assert_eq!(&echo.key()[..], b"EachCall");
        // A call is forwarded (LOCATION_FORWARD_PERM in GIOP 1.2, the plain
        // forward before) and answered at home.
        assert_eq!(
            echo.echo_string("once").await.unwrap(),
            "once",
            "{version:?}"
        );
        assert_eq!(&echo.key()[..], b"Echo", "{version:?}");
    }
    moved.front.shutdown().await;
    moved.home.shutdown().await;
}
