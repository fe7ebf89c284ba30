//! Ithaca's CosNaming client against Ithaca's naming service over IIOP:
//! bind, resolve, list (with the iterator), unbind, nested contexts, every
//! user exception on the wire, corbaname: resolution, and bad input.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use bytes::Bytes;
use ithaca_idl::GiopVersion;
use ithaca_idl::cdr::ByteOrder;
use ithaca_idl::naming::{
    BindingType, NamingClient, NamingError, NamingLimits, NamingService, NotFoundReason,
    ObjectTarget, object_ior, resolve_reference,
};
use ithaca_idl::naming::{Name, NameComponent};
use ithaca_idl::orb::{
    Call, ClientConfig, OrbServer, Outcome, ReplyBody, RunningOrbServer, Servant, ServantFuture,
};

struct Hello;

impl Servant for Hello {
    fn repository_id(&self) -> &str {
        "IDL:Demo/Hello:1.0"
    }
    fn invoke(&self, call: Call) -> ServantFuture<'_> {
        let outcome = match call.operation() {
            "hello" => call.reply(|w| w.write_string("hello")),
            _ => Outcome::bad_operation(),
        };
        Box::pin(std::future::ready(outcome))
    }
}

async fn start(limits: NamingLimits) -> (RunningOrbServer, NamingService) {
    let server = OrbServer::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let addr = server.local_addr();
    let naming = NamingService::install_with_limits(&server, "127.0.0.1", addr.port(), limits);
    server.register(Bytes::from_static(b"Hello"), Arc::new(Hello));
    (server.spawn(), naming)
}

fn name(text: &str) -> Name {
    text.parse().unwrap()
}

fn configs() -> Vec<ClientConfig> {
    [GiopVersion::V1_0, GiopVersion::V1_1, GiopVersion::V1_2]
        .into_iter()
        .flat_map(|version| {
            [ByteOrder::BigEndian, ByteOrder::LittleEndian].map(|byte_order| ClientConfig {
                version,
                byte_order,
                max_fragment_size: None,
                ..ClientConfig::default()
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn bind_resolve_list_unbind_in_every_version_and_byte_order() {
    let (server, _naming) = start(NamingLimits::default()).await;
    let addr = server.local_addr();
    let hello = object_ior(
        "IDL:Demo/Hello:1.0",
        "127.0.0.1",
        addr.port(),
        &b"Hello"[..],
    )
    .unwrap();
    for (i, config) in configs().into_iter().enumerate() {
        let what = format!("{:?} {:?}", config.version, config.byte_order);
        let url = format!("corbaloc:iiop:{}@{addr}/NameService", config.version);
        let mut client = NamingClient::connect_reference(&url, config).await.unwrap();
        let dir = name(&format!("run{i}.dir"));
        let context = client.bind_new_context(&dir).await.unwrap();
        assert_eq!(
            context.type_id,
            "IDL:omg.org/CosNaming/NamingContextExt:1.0"
        );
        let inner = name(&format!("run{i}.dir/sub/hello.obj"));
        client
            .bind_new_context(&name(&format!("run{i}.dir/sub")))
            .await
            .unwrap();
        client.bind(&inner, &hello).await.unwrap();
        assert_eq!(client.resolve(&inner).await.unwrap(), hello, "{what}");
        assert!(matches!(
            client.bind(&inner, &hello).await,
            Err(NamingError::AlreadyBound)
        ));
        client.rebind(&inner, &hello).await.unwrap();

        // The context's own reference works as a client too.
        let mut sub = NamingClient::connect_ior(
            &client
                .resolve(&name(&format!("run{i}.dir/sub")))
                .await
                .unwrap(),
            config,
        )
        .await
        .unwrap();
        assert_eq!(sub.resolve(&name("hello.obj")).await.unwrap(), hello);
        let listed = sub.list().await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].name, name("hello.obj"));
        assert_eq!(listed[0].binding_type, BindingType::Object);

        // The object resolved through corbaname: answers.
        let target = resolve_reference(
            &format!(
                "corbaname:iiop:{}@{addr}#run{i}.dir/sub/hello.obj",
                config.version
            ),
            config,
        )
        .await
        .unwrap();
        assert_eq!(&target.key[..], b"Hello");
        let mut orb = target.connect(config).await.unwrap();
        let ReplyBody::Return(mut r) = orb.invoke(&target.key, "hello", |_| Ok(())).await.unwrap()
        else {
            panic!("{what}")
        };
        assert_eq!(r.read_string().unwrap(), "hello");

        // NotFound with the rest of the name, on the wire.
        match client.resolve(&name(&format!("run{i}.dir/nope/x"))).await {
            Err(NamingError::NotFound {
                why: NotFoundReason::MissingNode,
                rest_of_name,
            }) => assert_eq!(rest_of_name, name("nope/x"), "{what}"),
            other => panic!("{what}: {other:?}"),
        }
        match client
            .resolve(&name(&format!("run{i}.dir/sub/hello.obj/x")))
            .await
        {
            Err(NamingError::NotFound {
                why: NotFoundReason::NotContext,
                rest_of_name,
            }) => assert_eq!(rest_of_name, name("hello.obj/x"), "{what}"),
            other => panic!("{what}: {other:?}"),
        }
        assert!(matches!(
            client.destroy().await,
            Err(NamingError::System(e)) if e.exception_id.ends_with("NO_PERMISSION:1.0")
        ));
        client.unbind(&inner).await.unwrap();
        assert!(matches!(
            client.unbind(&inner).await,
            Err(NamingError::NotFound {
                why: NotFoundReason::MissingNode,
                ..
            })
        ));
        // An empty context can be destroyed, after which it is gone.
        let mut sub = NamingClient::connect_ior(
            &client
                .resolve(&name(&format!("run{i}.dir/sub")))
                .await
                .unwrap(),
            config,
        )
        .await
        .unwrap();
        sub.destroy().await.unwrap();
        client
            .unbind(&name(&format!("run{i}.dir/sub")))
            .await
            .unwrap();
        let mut dir_client = NamingClient::connect_ior(&context, config).await.unwrap();
        assert!(matches!(dir_client.destroy().await, Ok(())));
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn long_listings_go_through_the_binding_iterator() {
    let (server, naming) = start(NamingLimits::default()).await;
    let addr = server.local_addr();
    let hello = object_ior(
        "IDL:Demo/Hello:1.0",
        "127.0.0.1",
        addr.port(),
        &b"Hello"[..],
    )
    .unwrap();
    for i in 0..25 {
        naming
            .bind(&name(&format!("many/item{i:02}.obj")), hello.clone(), true)
            .unwrap();
    }
    let url = format!("corbaname::{addr}#many");
    let mut client = NamingClient::connect_reference(&url, ClientConfig::default())
        .await
        .unwrap();
    for chunk in [1, 7, 25, 100] {
        let listed = client.list_with(chunk, 1000).await.unwrap();
        let names: Vec<String> = listed.iter().map(|b| b.name.to_string()).collect();
        let expected: Vec<String> = (0..25).map(|i| format!("item{i:02}.obj")).collect();
        assert_eq!(names, expected, "chunk {chunk}");
    }
    // A listing longer than the caller allows is an error, not a cut.
    assert!(client.list_with(5, 10).await.is_err());
    // Iterators were destroyed: the raw list gives a fresh one each time
    // and next_n on a destroyed one is OBJECT_NOT_EXIST.
    let target = client.target().clone();
    let orb = client.orb();
    let ReplyBody::Return(mut r) = orb
        .invoke(&target.key, "list", |w| {
            w.write_ulong(2);
            Ok(())
        })
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(
        ithaca_idl::naming::Binding::read_list(&mut r, 10)
            .unwrap()
            .len(),
        2
    );
    let iterator = ithaca_idl::ior::Ior::read(&mut r).unwrap();
    let it = ObjectTarget::from_ior(&iterator).await.unwrap();
    let ReplyBody::Return(mut r) = orb.invoke(&it.key, "next_one", |_| Ok(())).await.unwrap()
    else {
        panic!()
    };
    assert!(r.read_boolean().unwrap());
    assert_eq!(
        ithaca_idl::naming::Binding::read(&mut r).unwrap().name,
        name("item02.obj")
    );
    let ReplyBody::System(e) = orb
        .invoke(&it.key, "next_n", |w| {
            w.write_ulong(0);
            Ok(())
        })
        .await
        .unwrap()
    else {
        panic!()
    };
    assert!(e.exception_id.ends_with("BAD_PARAM:1.0"));
    orb.invoke(&it.key, "destroy", |_| Ok(())).await.unwrap();
    let ReplyBody::System(e) = orb.invoke(&it.key, "next_one", |_| Ok(())).await.unwrap() else {
        panic!()
    };
    assert!(e.exception_id.ends_with("OBJECT_NOT_EXIST:1.0"), "{e:?}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn user_and_system_exceptions_on_the_wire() {
    let (server, naming) = start(NamingLimits {
        max_bindings: 4,
        ..NamingLimits::default()
    })
    .await;
    let addr = server.local_addr();
    let mut client = NamingClient::connect_reference(
        &format!("corbaloc::{addr}/NameService"),
        ClientConfig::default(),
    )
    .await
    .unwrap();
    let key = client.target().key.clone();
    let orb = client.orb();

    // An empty name is InvalidName (the client refuses it before sending).
    let ReplyBody::UserException { id, .. } = orb
        .invoke(&key, "resolve", |w| Name::default().write(w))
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(id, "IDL:omg.org/CosNaming/NamingContext/InvalidName:1.0");
    // A name with too many components or a truncated body is MARSHAL.
    let ReplyBody::System(e) = orb
        .invoke(&key, "resolve", |w| {
            w.write_ulong(1000);
            Ok(())
        })
        .await
        .unwrap()
    else {
        panic!()
    };
    assert!(e.exception_id.ends_with("MARSHAL:1.0"));
    let ReplyBody::System(e) = orb.invoke(&key, "frob", |_| Ok(())).await.unwrap() else {
        panic!()
    };
    assert!(e.exception_id.ends_with("BAD_OPERATION:1.0"));
    // _is_a knows the naming interfaces.
    for (id, expected) in [
        ("IDL:omg.org/CosNaming/NamingContext:1.0", true),
        ("IDL:omg.org/CosNaming/NamingContextExt:1.0", true),
        ("IDL:omg.org/CosNaming/BindingIterator:1.0", false),
    ] {
        let ReplyBody::Return(mut r) = orb
            .invoke(&key, "_is_a", |w| w.write_string(id))
            .await
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(r.read_boolean().unwrap(), expected, "{id}");
    }
    // NamingContextExt helpers.
    let ReplyBody::Return(mut r) = orb
        .invoke(&key, "to_name", |w| w.write_string("a\\.b.c/d"))
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(
        Name::read(&mut r).unwrap(),
        Name(vec![
            NameComponent::new("a.b", "c"),
            NameComponent::new("d", "")
        ])
    );
    let ReplyBody::Return(mut r) = orb
        .invoke(&key, "to_url", |w| {
            w.write_string(":h:1")?;
            w.write_string("a b/c")
        })
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(r.read_string().unwrap(), "corbaname::h:1#a%20b/c");
    let ReplyBody::UserException { id, .. } = orb
        .invoke(&key, "to_url", |w| {
            w.write_string("ftp:h")?;
            w.write_string("a")
        })
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(
        id,
        "IDL:omg.org/CosNaming/NamingContextExt/InvalidAddress:1.0"
    );

    // The limits: the fifth binding is NO_RESOURCES, and nothing breaks.
    let object = object_ior("IDL:X:1.0", "127.0.0.1", 1, &b"x"[..]).unwrap();
    for i in 0..4 {
        naming
            .bind(&name(&format!("o{i}")), object.clone(), false)
            .unwrap();
    }
    match client.bind(&name("o4"), &object).await {
        Err(NamingError::System(e)) => assert!(e.exception_id.ends_with("NO_RESOURCES:1.0")),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        client
            .bind_context(&name("nil"), &ithaca_idl::ior::Ior::default())
            .await,
        Err(NamingError::System(_))
    ));
    assert_eq!(client.list().await.unwrap().len(), 4);
    // rebind over a context binding is NotFound(not_object) and vice versa.
    client.unbind(&name("o3")).await.unwrap();
    let ctx = client.bind_new_context(&name("ctx")).await.unwrap();
    assert!(matches!(
        client.rebind(&name("ctx"), &object).await,
        Err(NamingError::NotFound {
            why: NotFoundReason::NotObject,
            ..
        })
    ));
    assert!(matches!(
        client.rebind_context(&name("o0"), &ctx).await,
        Err(NamingError::NotFound {
            why: NotFoundReason::NotContext,
            ..
        })
    ));
    // A context bound under a second name is the same context.
    client.unbind(&name("o0")).await.unwrap();
    client.unbind(&name("o1")).await.unwrap();
    client.bind_context(&name("alias"), &ctx).await.unwrap();
    client.bind(&name("alias/inside"), &object).await.unwrap();
    assert_eq!(client.resolve(&name("ctx/inside")).await.unwrap(), object);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn foreign_contexts_raise_cannot_proceed() {
    let (first, _a) = start(NamingLimits::default()).await;
    let (second, b) = start(NamingLimits::default()).await;
    let object = object_ior("IDL:X:1.0", "127.0.0.1", 1, &b"x"[..]).unwrap();
    b.bind(&name("deep/thing"), object.clone(), true).unwrap();
    let mut client = NamingClient::connect_reference(
        &format!("corbaloc::{}/NameService", first.local_addr()),
        ClientConfig::default(),
    )
    .await
    .unwrap();
    client
        .bind_context(&name("far"), &b.root_ior().unwrap())
        .await
        .unwrap();
    match client.resolve(&name("far/deep/thing")).await {
        Err(NamingError::CannotProceed {
            context,
            rest_of_name,
        }) => {
            assert_eq!(context, b.root_ior().unwrap());
            assert_eq!(rest_of_name, name("deep/thing"));
            let mut there = NamingClient::connect_ior(&context, ClientConfig::default())
                .await
                .unwrap();
            assert_eq!(there.resolve(&rest_of_name).await.unwrap(), object);
        }
        other => panic!("{other:?}"),
    }
    first.shutdown().await;
    second.shutdown().await;
}

/// The request omniORB sent for `corbaname::HOST:PORT#Account` (from the
/// golden trace in `shared/corpus/giop/`), sent as-is to Ithaca's naming
/// service: the name decodes, and the reply carries the bound reference.
#[tokio::test(flavor = "multi_thread")]
async fn omniorbs_traced_resolve_request_is_answered() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/corpus/giop/trace-corbaname-resolve.txt");
    let Ok(trace) = std::fs::read_to_string(&path) else {
        println!("corpus tier skipped: {} is absent", path.display());
        return;
    };
    // The first message: a "sendChunk ... N bytes" line, a bare "omniORB:"
    // line, then hex in the first 39 columns of each dump line.
    let mut lines = trace.lines().skip_while(|l| !l.contains("sendChunk: to"));
    let size: usize = lines
        .next()
        .unwrap()
        .trim_end_matches(" bytes")
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    lines.next();
    let mut request = Vec::with_capacity(size);
    while request.len() < size {
        let line = lines.next().unwrap();
        let hex: String = line.get(..39).unwrap_or(line).split_whitespace().collect();
        for pair in hex.as_bytes().chunks(2) {
            request.push(u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap());
        }
    }
    let mut wire = bytes::BytesMut::from(&request[..]);
    let message = ithaca_idl::giop::decode(&mut wire).unwrap().unwrap();
    assert_eq!(message.version, GiopVersion::V1_0);
    let mut args = message.body_reader().unwrap().unwrap();
    assert_eq!(Name::read(&mut args).unwrap(), Name::simple("Account"));

    let (server, naming) = start(NamingLimits::default()).await;
    let account = object_ior("IDL:Bank/Account:1.0", "127.0.0.1", 12345, &b"Account"[..]).unwrap();
    naming
        .bind(&Name::simple("Account"), account.clone(), false)
        .unwrap();
    let mut stream = tokio::net::TcpStream::connect(server.local_addr())
        .await
        .unwrap();
    stream.write_all(&request).await.unwrap();
    let mut reply = bytes::BytesMut::new();
    let message = loop {
        if let Some(message) = ithaca_idl::giop::decode(&mut reply).unwrap() {
            break message;
        }
        assert_ne!(stream.read_buf(&mut reply).await.unwrap(), 0, "closed");
    };
    let ithaca_idl::giop::MessageBody::Reply(body) = &message.body else {
        panic!("{message:?}")
    };
    assert!(
        matches!(body.status, ithaca_idl::giop::ReplyStatus::NoException(_)),
        "{body:?}"
    );
    let mut r = message.body_reader().unwrap().unwrap();
    assert_eq!(ithaca_idl::ior::Ior::read(&mut r).unwrap(), account);
    server.shutdown().await;
}

#[test]
fn naming_futures_and_handles_are_send() {
    fn send<T: Send>(_: &T) {}
    fn send_sync<T: Send + Sync>() {}
    send_sync::<NamingService>();
    send_sync::<NamingClient>();
    let config = ClientConfig::default();
    send(&resolve_reference("corbaname::h#a", config));
    send(&NamingClient::connect_reference("corbaname::h", config));
    send(&ithaca_idl::naming::connect_reference("IOR:", config));
}
