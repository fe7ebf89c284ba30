//! Generated clients call generated servants over real loopback IIOP
//! connections: every operation, attribute and type of `Bench.idl` and
//! `Rich.idl`, user and system exceptions, oneway, narrowing and inherited
//! operations, in every GIOP version and byte order.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use ithaca_corba_codegen::bench_idl::ithaca_bench::{
    EchoClient, EchoSkeleton, Overflow, Point, echo,
};
use ithaca_corba_codegen::rich_idl::rich::inner::{BaseBlockingClient, BaseClient};
use ithaca_corba_codegen::rich_idl::rich::{
    self, Maybe, Mood, Shape, StoreBlockingClient, StoreClient, StoreSkeleton, Value, Wide, store,
};
use ithaca_corba_codegen::{ADD_LIMIT, BenchServant, StoreServant, sample_record};
use ithaca_idl::GiopVersion;
use ithaca_idl::cdr::ByteOrder;
use ithaca_idl::codegen::runtime::{Any, SystemError};
use ithaca_idl::dynamic::{Fixed, TypeCode, Value as Dyn};
use ithaca_idl::orb::{ClientConfig, OrbClient, OrbServer, ReplyBody, RunningOrbServer};

struct Served {
    server: RunningOrbServer,
    bench: Arc<BenchServant>,
    store: Arc<StoreServant>,
}

async fn serve() -> Served {
    let server = OrbServer::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let addr = server.local_addr();
    let reference = ithaca_idl::naming::object_ior(
        rich::store::REPOSITORY_ID,
        &addr.ip().to_string(),
        addr.port(),
        &b"Store"[..],
    )
    .unwrap();
    let bench = Arc::new(BenchServant::default());
    let store = Arc::new(StoreServant::new("shop", reference));
    server.register("Echo", Arc::new(EchoSkeleton::from_arc(bench.clone())));
    server.register("Store", Arc::new(StoreSkeleton::from_arc(store.clone())));
    Served {
        server: server.spawn(),
        bench,
        store,
    }
}

async fn orb(served: &Served, config: ClientConfig) -> OrbClient {
    OrbClient::connect(served.server.local_addr(), config)
        .await
        .unwrap()
}

fn configs() -> Vec<ClientConfig> {
    let mut out = Vec::new();
    for version in [GiopVersion::V1_0, GiopVersion::V1_1, GiopVersion::V1_2] {
        for byte_order in [ByteOrder::BigEndian, ByteOrder::LittleEndian] {
            out.push(ClientConfig {
                version,
                byte_order,
                ..ClientConfig::default()
            });
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bench_contract_works_in_every_giop_version_and_byte_order() {
    let served = serve().await;
    for (i, config) in configs().into_iter().enumerate() {
        let what = format!("{:?} {:?}", config.version, config.byte_order);
        let mut echo = EchoClient::narrow(orb(&served, config).await, "Echo")
            .await
            .unwrap()
            .expect(&what);
        assert_eq!(echo.echo_string("h\u{e9}llo").await.unwrap(), "h\u{e9}llo");
        assert_eq!(echo.add(2, 3).await.unwrap(), 5, "{what}");
        assert_eq!(
            echo.add(ADD_LIMIT, 1).await,
            Err(echo::AddError::Overflow(Overflow { limit: ADD_LIMIT })),
            "{what}"
        );
        let points = vec![
            Point {
                x: 1,
                y: 2,
                label: "a".into(),
            },
            Point {
                x: 3,
                y: 4,
                label: String::new(),
            },
        ];
        let mut reversed = points.clone();
        reversed.reverse();
        assert_eq!(echo.reverse(&points).await.unwrap(), reversed, "{what}");
        assert_eq!(echo.reverse(&[]).await.unwrap(), vec![], "{what}");
        echo.ping().await.unwrap();
        // The oneway ping arrives before the next reply on the connection.
        echo.echo_string("").await.unwrap();
        assert_eq!(served.bench.pings(), i as u64 + 1, "{what}");
    }
    served.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_rich_type_round_trips_in_every_giop_version_and_byte_order() {
    let served = serve().await;
    let record = sample_record();
    for config in configs() {
        let what = format!("{:?} {:?}", config.version, config.byte_order);
        let mut store = StoreClient::new(orb(&served, config).await, "Store");
        assert_eq!(store.echo_record(&record).await.unwrap(), record, "{what}");

        let mut other = record.clone();
        other.outline = Shape::Note("away".into());
        other.val = Value::Name("seven".into());
        other.opt = Maybe::NoMember(false);
        other.extra = Any::default();
        other.few = vec![];
        assert_eq!(store.echo_record(&other).await.unwrap(), other, "{what}");
    }
    served.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn operations_with_inout_out_and_raises() {
    let served = serve().await;
    let mut store = StoreClient::new(orb(&served, ClientConfig::default()).await, "Store");
    let mut p = rich::Point { x: 1, y: 2 };
    let reply = store.swap(&mut p, Mood::Busy).await.unwrap();
    assert_eq!(p, rich::Point { x: 2, y: 3 }, "inout written back");
    assert_eq!(
        reply,
        store::SwapReply {
            result: Value::Big(3, 2.5),
            r#where: Shape::At(Mood::Busy, rich::Point { x: 1, y: 2 }),
        }
    );
    assert_eq!(
        store.swap(&mut p, Mood::Away).await,
        Err(store::SwapError::Rejected(rich::Rejected {
            reason: "away".into(),
            why: Mood::Away,
        }))
    );
    assert_eq!(p, rich::Point { x: 2, y: 3 }, "untouched by an exception");
    assert_eq!(
        store.reject("no", 7).await,
        Err(store::RejectError::Limit(rich::Limit { max: 7 }))
    );
    let Err(store::RejectError::Rejected(e)) = store.reject("no", 0).await else {
        panic!("Rejected expected")
    };
    assert_eq!(e.reason, "no");
    assert_eq!(e.to_string(), "user exception Rich::Rejected");

    let any = Any::new(
        TypeCode::Sequence {
            element: Box::new(TypeCode::String(0)),
            bound: 0,
        },
        Dyn::Sequence(vec![Dyn::String("x".into()), Dyn::String("y".into())]),
    );
    assert_eq!(store.echo_any(&any).await.unwrap(), any);
    let wide = Wide {
        text: "\u{65e5}\u{672c} w".into(),
        letter: '\u{20ac}',
    };
    assert_eq!(store.echo_wide(&wide).await.unwrap(), wide);
    let cash = Fixed::parse("-12345678.25").unwrap();
    assert_eq!(
        store.twice(&cash).await.unwrap(),
        Fixed::parse("-24691356.50").unwrap()
    );
    // Ten digits is all Rich::Amount holds.
    let big = Fixed::parse("99999999.99").unwrap();
    assert_eq!(
        store.twice(&big).await.unwrap_err().name(),
        "DATA_CONVERSION"
    );

    store.notify("one").await.unwrap();
    store.notify("two").await.unwrap();
    assert_eq!(store.notifications().await.unwrap(), 2);
    assert_eq!(served.store.notes(), ["one", "two"]);

    let me = store.whoami().await.unwrap();
    assert_eq!(me.type_id, rich::store::REPOSITORY_ID);
    let mut again = StoreClient::from_ior(&me, ClientConfig::default())
        .await
        .unwrap();
    assert_eq!(again.notifications().await.unwrap(), 2);
    served.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn inherited_operations_attributes_and_narrowing() {
    let served = serve().await;
    let mut store = StoreClient::narrow(orb(&served, ClientConfig::default()).await, "Store")
        .await
        .unwrap()
        .unwrap();
    // Inherited from Rich::Inner::Base, through the derived client.
    assert_eq!(store.name().await.unwrap(), "shop");
    store.set_counter(40).await.unwrap();
    assert_eq!(store.increment(2).await.unwrap(), 42);
    assert_eq!(store.counter().await.unwrap(), 42);
    assert!(
        store
            .is_a("IDL:ithaca.example/Rich/Inner/Base:1.0")
            .await
            .unwrap()
    );
    assert!(store.is_a("IDL:omg.org/CORBA/Object:1.0").await.unwrap());
    assert!(!store.is_a("IDL:IthacaBench/Echo:1.0").await.unwrap());

    // The base's own client on the derived object.
    let (orb, key) = store.into_parts();
    let mut base = BaseClient::narrow(orb, key).await.unwrap().unwrap();
    assert_eq!(base.counter().await.unwrap(), 42);

    // Not an Echo.
    let (orb, key) = base.into_parts();
    assert!(EchoClient::narrow(orb, key).await.unwrap().is_none());
    served.server.shutdown().await;
}

fn system_name(e: &SystemError) -> &str {
    e.name()
}

#[tokio::test(flavor = "multi_thread")]
async fn system_exceptions_reach_the_caller() {
    let served = serve().await;
    let mut store = StoreClient::new(orb(&served, ClientConfig::default()).await, "Store");
    // Raised by the servant.
    store.set_counter(i32::MAX).await.unwrap();
    let e = store.increment(1).await.unwrap_err();
    assert_eq!(system_name(&e), "BAD_PARAM");
    // Unknown operation, unreadable arguments, unknown object.
    match store
        .orb()
        .invoke(b"Store", "noSuchOperation", |_| Ok(()))
        .await
    {
        Ok(ReplyBody::System(e)) => {
            assert_eq!(e.exception_id, "IDL:omg.org/CORBA/BAD_OPERATION:1.0");
        }
        other => panic!("{other:?}"),
    }
    match store
        .orb()
        .invoke(b"Store", "echoRecord", |w| {
            w.write_short(1);
            Ok(())
        })
        .await
    {
        Ok(ReplyBody::System(e)) => assert_eq!(e.exception_id, "IDL:omg.org/CORBA/MARSHAL:1.0"),
        other => panic!("{other:?}"),
    }
    // An enum value out of range is refused (swap's third argument).
    match store
        .orb()
        .invoke(b"Store", "swap", |w| {
            w.write_long(1);
            w.write_long(2);
            w.write_ulong(3);
            Ok(())
        })
        .await
    {
        Ok(ReplyBody::System(e)) => assert_eq!(e.exception_id, "IDL:omg.org/CORBA/MARSHAL:1.0"),
        other => panic!("{other:?}"),
    }
    let (orb, _) = store.into_parts();
    let mut missing = StoreClient::new(orb, "Missing");
    let e = missing.notifications().await.unwrap_err();
    assert_eq!(system_name(&e), "OBJECT_NOT_EXIST");
    served.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bounds_and_discriminators_are_checked_before_sending() {
    let served = serve().await;
    let mut store = StoreClient::new(orb(&served, ClientConfig::default()).await, "Store");
    let mut record = sample_record();
    record.tag = "seventeen letters".into();
    let e = store.echo_record(&record).await.unwrap_err();
    assert_eq!(system_name(&e), "MARSHAL", "{e}");

    let mut record = sample_record();
    record.few = vec![1, 2, 3, 4, 5];
    assert_eq!(
        system_name(&store.echo_record(&record).await.unwrap_err()),
        "MARSHAL"
    );

    let mut record = sample_record();
    record.outline = Shape::At(Mood::Away, rich::Point { x: 0, y: 0 });
    assert_eq!(
        system_name(&store.echo_record(&record).await.unwrap_err()),
        "MARSHAL"
    );

    let mut record = sample_record();
    record.val = Value::Flag(2, false);
    assert_eq!(
        system_name(&store.echo_record(&record).await.unwrap_err()),
        "MARSHAL"
    );

    // The connection is still usable.
    assert_eq!(
        store.echo_record(&sample_record()).await.unwrap(),
        sample_record()
    );
    tokio::time::timeout(Duration::from_secs(5), served.server.shutdown())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_blocking_client_calls_the_same_servants() {
    let served = serve().await;
    let addr = served.server.local_addr();
    let url = format!("corbaloc:iiop:{addr}/Store");
    let record = sample_record();
    let result = tokio::task::spawn_blocking(move || {
        let mut store = StoreBlockingClient::connect_corbaloc(&url, ClientConfig::default())?;
        assert_eq!(store.echo_record(&record)?, record);
        let mut p = rich::Point { x: 1, y: 2 };
        let reply = store.swap(&mut p, Mood::Calm).map_err(|e| e.to_string());
        assert_eq!(reply.unwrap().result, Value::Small(1));
        assert_eq!(p, rich::Point { x: 2, y: 3 });
        store.notify("blocking")?;
        assert_eq!(store.notifications()?, 1);
        let (orb, key) = store.into_parts();
        assert!(BaseBlockingClient::narrow(orb, key)?.is_some());
        Ok::<_, SystemError>(())
    })
    .await
    .unwrap();
    result.unwrap();
    served.server.shutdown().await;
}

#[test]
fn constants_are_generated() {
    assert_eq!(rich::MAX_FEW, 4);
    assert_eq!(rich::VERSION, "1.0");
    assert_eq!(rich::RATIO, 0.25);
    assert_eq!(rich::LETTER, 'R');
    assert_eq!(Mood::from_ordinal(2), Some(Mood::Away));
    assert_eq!(Mood::from_ordinal(3), None);
    assert_eq!(
        rich::Record::REPOSITORY_ID,
        "IDL:ithaca.example/Rich/Record:1.0"
    );
}
