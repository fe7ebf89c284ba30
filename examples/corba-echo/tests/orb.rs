//! Ithaca's ORB client against Ithaca's ORB server, over every GIOP version
//! and byte order: results, user and system exceptions, oneway, built-in
//! operations, LocateRequest, and messages over 4 MiB each way.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use bytes::Bytes;
use ithaca_corba_echo::{ADD_LIMIT, AddResult, ECHO_KEY, EchoClient, Point, echo_server};
use ithaca_idl::GiopVersion;
use ithaca_idl::cdr::ByteOrder;
use ithaca_idl::giop::{CompletionStatus, LocateStatus};
use ithaca_idl::orb::{ClientConfig, OrbClient, ReplyBody};

const VERSIONS: [GiopVersion; 3] = [GiopVersion::V1_0, GiopVersion::V1_1, GiopVersion::V1_2];
const ORDERS: [ByteOrder; 2] = [ByteOrder::BigEndian, ByteOrder::LittleEndian];

fn points(n: i32) -> Vec<Point> {
    (0..n)
        .map(|i| Point {
            x: i,
            y: i * 2,
            label: format!("p{i}"),
        })
        .collect()
}

#[tokio::test]
async fn every_operation_in_every_version_and_byte_order() {
    let (server, servant) = echo_server("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = server.local_addr();
    for version in VERSIONS {
        for byte_order in ORDERS {
            let config = ClientConfig {
                version,
                byte_order,
                max_fragment_size: None,
                ..ClientConfig::default()
            };
            let what = format!("{version:?} {byte_order:?}");
            let orb = OrbClient::connect(addr, config).await.unwrap();
            let mut client = EchoClient::new(orb, Bytes::from_static(ECHO_KEY));
            assert_eq!(
                client.echo_string("héllo wörld").await.unwrap(),
                "héllo wörld",
                "{what}"
            );
            assert_eq!(client.echo_string("").await.unwrap(), "", "{what}");
            assert_eq!(
                client.add(2, 40).await.unwrap(),
                AddResult::Sum(42),
                "{what}"
            );
            assert_eq!(
                client.add(ADD_LIMIT, 1).await.unwrap(),
                AddResult::Overflow(ADD_LIMIT),
                "{what}"
            );
            let items = points(7);
            let mut reversed = items.clone();
            reversed.reverse();
            assert_eq!(client.reverse(&items).await.unwrap(), reversed, "{what}");
            assert_eq!(client.reverse(&[]).await.unwrap(), vec![], "{what}");
            let pings = servant.pings();
            client.ping().await.unwrap();
            // The oneway is processed before the next request on the connection.
            assert_eq!(
                client.echo_string("after ping").await.unwrap(),
                "after ping"
            );
            assert_eq!(servant.pings(), pings + 1, "{what}");
        }
    }
    server.shutdown().await;
}

#[tokio::test]
async fn built_ins_unknown_objects_and_bad_operations() {
    let (server, _servant) = echo_server("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let mut orb = OrbClient::connect(server.local_addr(), ClientConfig::default())
        .await
        .unwrap();

    for (id, expected) in [
        ("IDL:IthacaBench/Echo:1.0", true),
        ("IDL:omg.org/CORBA/Object:1.0", true),
        ("IDL:Other/Thing:1.0", false),
    ] {
        let ReplyBody::Return(mut r) = orb
            .invoke(ECHO_KEY, "_is_a", |w| w.write_string(id))
            .await
            .unwrap()
        else {
            panic!("_is_a failed");
        };
        assert_eq!(r.read_boolean().unwrap(), expected, "{id}");
    }
    let ReplyBody::Return(mut r) = orb
        .invoke(ECHO_KEY, "_non_existent", |_| Ok(()))
        .await
        .unwrap()
    else {
        panic!("_non_existent failed");
    };
    assert!(!r.read_boolean().unwrap());

    let ReplyBody::System(e) = orb
        .invoke(b"Nope", "echoString", |w| w.write_string("x"))
        .await
        .unwrap()
    else {
        panic!("an unknown key must raise a system exception");
    };
    assert_eq!(e.exception_id, "IDL:omg.org/CORBA/OBJECT_NOT_EXIST:1.0");
    assert_eq!((e.minor, e.completed), (0x4F4D_0001, CompletionStatus::No));

    let ReplyBody::System(e) = orb
        .invoke(ECHO_KEY, "frobnicate", |_| Ok(()))
        .await
        .unwrap()
    else {
        panic!("an unknown operation must raise a system exception");
    };
    assert_eq!(e.exception_id, "IDL:omg.org/CORBA/BAD_OPERATION:1.0");
    assert_eq!(e.completed, CompletionStatus::No);

    // Arguments that do not decode: a string length past the end.
    let ReplyBody::System(e) = orb
        .invoke(ECHO_KEY, "echoString", |w| {
            w.write_ulong(1_000_000);
            Ok(())
        })
        .await
        .unwrap()
    else {
        panic!("undecodable arguments must raise MARSHAL");
    };
    assert_eq!(e.exception_id, "IDL:omg.org/CORBA/MARSHAL:1.0");

    assert_eq!(
        orb.locate(ECHO_KEY).await.unwrap(),
        LocateStatus::ObjectHere
    );
    assert_eq!(
        orb.locate(b"Nope").await.unwrap(),
        LocateStatus::UnknownObject
    );
    // The connection is still good after all of that.
    let mut client = EchoClient::new(orb, Bytes::from_static(ECHO_KEY));
    assert_eq!(
        client.echo_string("still here").await.unwrap(),
        "still here"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn messages_over_4_mib_are_fragmented_and_reassembled_both_ways() {
    let server = ithaca_idl::orb::OrbServer::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let mut server_config =
        ithaca_idl::connection::ConnectionConfig::new(ithaca_idl::connection::Role::Server);
    server_config.max_fragment_size = Some(64 * 1024);
    let server = server.with_config(server_config);
    server.register(
        Bytes::from_static(ECHO_KEY),
        std::sync::Arc::new(ithaca_corba_echo::EchoServant::default()),
    );
    let server = server.spawn();
    let config = ClientConfig {
        max_fragment_size: Some(64 * 1024),
        ..ClientConfig::default()
    };
    let orb = OrbClient::connect(server.local_addr(), config)
        .await
        .unwrap();
    let mut client = EchoClient::new(orb, Bytes::from_static(ECHO_KEY));
    let big: String = (0..5 * 1024 * 1024)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let echoed = tokio::time::timeout(Duration::from_secs(60), client.echo_string(&big))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(echoed.len(), big.len());
    assert!(echoed == big);
    let many = points(200_000);
    let reversed = client.reverse(&many).await.unwrap();
    assert_eq!(reversed.len(), many.len());
    assert_eq!(reversed[0], many[many.len() - 1]);
    server.shutdown().await;
}

#[tokio::test]
async fn corbaloc_urls_reach_the_object() {
    let (server, _servant) = echo_server("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let url = format!("corbaloc:iiop:1.2@{}/Echo", server.local_addr());
    let mut client = EchoClient::connect(&url, ClientConfig::default())
        .await
        .unwrap();
    assert_eq!(
        client.echo_string("via corbaloc").await.unwrap(),
        "via corbaloc"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn the_task_per_connection_driver_serves_the_same() {
    let server = ithaca_idl::orb::OrbServer::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
        .with_threading(ithaca_idl::orb::Threading::Tasks);
    server.register(
        Bytes::from_static(ECHO_KEY),
        std::sync::Arc::new(ithaca_corba_echo::EchoServant::default()),
    );
    let server = server.spawn();
    for version in VERSIONS {
        let config = ClientConfig {
            version,
            ..ClientConfig::default()
        };
        let orb = OrbClient::connect(server.local_addr(), config)
            .await
            .unwrap();
        let mut client = EchoClient::new(orb, Bytes::from_static(ECHO_KEY));
        assert_eq!(client.echo_string("task").await.unwrap(), "task");
        assert_eq!(
            client.add(ADD_LIMIT, 1).await.unwrap(),
            AddResult::Overflow(ADD_LIMIT)
        );
        client.ping().await.unwrap();
        assert_eq!(client.reverse(&points(3)).await.unwrap().len(), 3);
    }
    server.shutdown().await;
}
