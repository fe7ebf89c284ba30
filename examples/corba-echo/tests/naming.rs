//! CosNaming interop with omniORB 4.2 (Debian's omniorb-nameserver,
//! omniidl, libomniorb4-dev):
//!
//! - Ithaca's naming client binds Ithaca's Echo object in **omniNames**,
//!   lists and resolves it (binding iterator included), sees omniNames'
//!   user exceptions, then calls the object through a `corbaname:` URL;
//! - an omniORB C++ client (`omniorb/naming_client.cc`) and omniORB's
//!   `nameclt` use **Ithaca's** naming service: corbaname: resolution,
//!   NamingContextExt, binding iterators, user exceptions.
//!
//! Run `scripts/install-test-deps.sh` first. Every process started here is
//! killed by pid when its guard drops.

#![allow(clippy::unwrap_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use ithaca_corba_echo::{ECHO_KEY, ECHO_REPOSITORY_ID, EchoClient, EchoServant};
use ithaca_idl::naming::{
    BindingType, Name, NamingClient, NamingError, NamingService, NotFoundReason, object_ior,
    resolve_reference,
};
use ithaca_idl::orb::{ClientConfig, OrbServer};

use support::HINT;

/// Builds `naming_client` once; returns its directory.
fn programs() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        support::build(&support::Peers {
            dir: "omniorb-naming",
            files: &["IthacaBench.idl"],
            idl: &["IthacaBench.idl"],
            omniidl_args: &[],
            package: "omniORB4",
            programs: &[("naming_client", &["IthacaBenchSK.cc"])],
        })
    })
}

/// Starts omniNames on a free 127.0.0.1 port with a fresh data directory.
///
/// Another test may bind the "free" port first (port 0 binds race with
/// `free_port`); omniNames then exits at once, and a new port is tried.
async fn omni_names() -> (support::Process, u16) {
    for _ in 0..5 {
        let port = ithaca_testkit::free_port().unwrap();
        let data = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("omninames-{port}"));
        let _ = std::fs::remove_dir_all(&data);
        std::fs::create_dir_all(&data).unwrap();
        let child = Command::new("omniNames")
            .args(["-start", &port.to_string(), "-always", "-datadir"])
            .arg(&data)
            .arg("-errlog")
            .arg(data.join("errlog"))
            .args(["-ORBendPoint", &format!("giop:tcp:127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("omniNames: {e}; {HINT}"));
        let mut process = support::Process(child);
        for _ in 0..200 {
            if process.0.try_wait().unwrap().is_some() {
                break;
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                // Still running once listening: the port is omniNames'.
                tokio::time::sleep(Duration::from_millis(200)).await;
                if process.0.try_wait().unwrap().is_none() {
                    return (process, port);
                }
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    panic!("omniNames did not start");
}

fn name(text: &str) -> Name {
    text.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn ithaca_names_its_echo_object_in_omninames() {
    let (_names, port) = omni_names().await;
    let (server, _servant) = ithaca_corba_echo::echo_server("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let echo_port = server.local_addr().port();
    let echo = object_ior(ECHO_REPOSITORY_ID, "127.0.0.1", echo_port, ECHO_KEY).unwrap();
    let config = ClientConfig::default();

    let mut root =
        NamingClient::connect_reference(&format!("corbaloc::127.0.0.1:{port}/NameService"), config)
            .await
            .unwrap();
    let context = root.bind_new_context(&name("ithaca.test")).await.unwrap();
    assert!(!context.is_nil());
    assert!(matches!(
        root.bind_new_context(&name("ithaca.test")).await,
        Err(NamingError::AlreadyBound)
    ));
    root.bind(&name("ithaca.test/echo.obj"), &echo)
        .await
        .unwrap();
    assert!(matches!(
        root.bind(&name("ithaca.test/echo.obj"), &echo).await,
        Err(NamingError::AlreadyBound)
    ));
    root.rebind(&name("ithaca.test/echo.obj"), &echo)
        .await
        .unwrap();

    // list: the root has the context, the context has the object.
    let listed = root.list().await.unwrap();
    assert!(
        listed
            .iter()
            .any(|b| b.name == name("ithaca.test") && b.binding_type == BindingType::Context),
        "{listed:?}"
    );
    let mut sub = NamingClient::connect_ior(&context, config).await.unwrap();
    let listed = sub.list().await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].name, name("echo.obj"));
    assert_eq!(listed[0].binding_type, BindingType::Object);

    // omniNames hands out a binding iterator beyond how_many.
    for i in 0..30 {
        sub.bind(&name(&format!("extra{i:02}")), &echo)
            .await
            .unwrap();
    }
    let listed = sub.list_with(10, 1000).await.unwrap();
    assert_eq!(listed.len(), 31);
    let mut names: Vec<String> = listed.iter().map(|b| b.name.to_string()).collect();
    names.sort();
    assert_eq!(names.first().map(String::as_str), Some("echo.obj"));
    assert_eq!(names.last().map(String::as_str), Some("extra29"));

    // resolve gives back the reference bound.
    let resolved = root.resolve(&name("ithaca.test/echo.obj")).await.unwrap();
    assert_eq!(resolved.type_id, ECHO_REPOSITORY_ID);
    let profile = resolved.iiop_profile().unwrap().unwrap();
    assert_eq!(
        (profile.host.as_str(), profile.port),
        ("127.0.0.1", echo_port)
    );
    assert_eq!(&profile.object_key[..], ECHO_KEY);

    // omniNames' user exceptions, typed.
    match root.resolve(&name("ithaca.test/missing/x")).await {
        Err(NamingError::NotFound {
            why: NotFoundReason::MissingNode,
            rest_of_name,
        }) => assert_eq!(rest_of_name, name("missing/x")),
        other => panic!("{other:?}"),
    }
    match root.resolve(&name("ithaca.test/echo.obj/x")).await {
        Err(NamingError::NotFound {
            why: NotFoundReason::NotContext,
            rest_of_name,
        }) => assert_eq!(rest_of_name, name("echo.obj/x")),
        other => panic!("{other:?}"),
    }
    assert!(matches!(sub.destroy().await, Err(NamingError::NotEmpty)));

    // Call the object through corbaname: (GIOP 1.0 to omniNames, as
    // omniORB does, then the IOR's GIOP 1.2 to the object).
    let url = format!("corbaname::127.0.0.1:{port}#ithaca.test/echo.obj");
    let target = resolve_reference(&url, config).await.unwrap();
    let mut client = EchoClient::new(target.connect(config).await.unwrap(), target.key);
    assert_eq!(
        client.echo_string("through omniNames").await.unwrap(),
        "through omniNames"
    );

    // unbind, then it is gone.
    root.unbind(&name("ithaca.test/echo.obj")).await.unwrap();
    assert!(matches!(
        root.resolve(&name("ithaca.test/echo.obj")).await,
        Err(NamingError::NotFound { .. })
    ));
    assert!(resolve_reference(&url, config).await.is_err());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn omniorb_clients_use_the_ithaca_naming_service() {
    let dir = programs();
    let server = OrbServer::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let addr = server.local_addr();
    let naming = NamingService::install(&server, "127.0.0.1", addr.port());
    server.register(
        Bytes::from_static(ECHO_KEY),
        Arc::new(EchoServant::default()),
    );
    let server = server.spawn();
    let echo = object_ior(ECHO_REPOSITORY_ID, "127.0.0.1", addr.port(), ECHO_KEY).unwrap();
    naming
        .bind(&name("ithaca/echo.obj"), echo.clone(), true)
        .unwrap();

    let output = tokio::task::spawn_blocking({
        let client = dir.join("naming_client");
        move || {
            Command::new(client)
                .args([
                    &format!("corbaname::{addr}#ithaca/echo.obj"),
                    &format!("corbaloc::{addr}/NameService"),
                    "ithaca/echo.obj",
                ])
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for check in [
        "ok narrow corbaname",
        "ok echoString via corbaname",
        "ok narrow NamingContextExt",
        "ok resolve_str",
        "ok to_name and to_string",
        "ok bind_new_context",
        "ok AlreadyBound",
        "ok list with a binding iterator",
        "ok NotFound",
        "ok unbind",
    ] {
        assert!(
            stdout.lines().any(|l| l == check),
            "{check:?} missing:\n{stdout}"
        );
    }
    // What the omniORB client bound is in the service.
    assert_eq!(
        naming.resolve(&name("from_omniorb.ctx/one.obj")).unwrap(),
        echo
    );
    assert!(naming.resolve(&name("from_omniorb.ctx/two.obj")).is_err());

    // omniORB's own command-line naming client, too.
    let nameclt = |args: &[&str]| {
        let init = format!("NameService=corbaloc::{addr}/NameService");
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        async move {
            tokio::task::spawn_blocking(move || {
                Command::new("nameclt")
                    .args(["-ORBInitRef", &init])
                    .args(&args)
                    .output()
                    .unwrap_or_else(|e| panic!("nameclt: {e}; {HINT}"))
            })
            .await
            .unwrap()
        }
    };
    let listed = nameclt(&["list", "from_omniorb.ctx"]).await;
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.status.success(), "{text}");
    assert!(
        text.contains("one.obj") && text.contains("three.obj"),
        "{text}"
    );
    let bound = nameclt(&["bind", "ithaca/again.obj", &echo.to_string()]).await;
    assert!(
        bound.status.success(),
        "{}",
        String::from_utf8_lossy(&bound.stderr)
    );
    assert_eq!(naming.resolve(&name("ithaca/again.obj")).unwrap(), echo);
    let resolved = nameclt(&["resolve", "ithaca/echo.obj"]).await;
    let text = String::from_utf8_lossy(&resolved.stdout);
    assert!(resolved.status.success() && text.contains("IOR:"), "{text}");
    server.shutdown().await;
}

/// Ithaca's stringified-name parser and printer agree with omniNames'
/// `NamingContextExt::to_name` and `to_string`, accepted or refused.
#[tokio::test(flavor = "multi_thread")]
async fn stringified_names_agree_with_omninames() {
    use ithaca_idl::orb::ReplyBody;

    let (_names, port) = omni_names().await;
    let mut root = NamingClient::connect_reference(
        &format!("corbaloc::127.0.0.1:{port}/NameService"),
        ClientConfig::default(),
    )
    .await
    .unwrap();
    let key = root.target().key.clone();
    for text in [
        "a", "a.b", "a/b.c/d", ".", ".k", "a\\.b", "a\\/b", "a\\\\b", "é.ü", "a.", "..", "a.b.c",
        "", "/", "a/", "/a", "a//b", "a\\", "a\\x",
    ] {
        let reply = root
            .orb()
            .invoke(&key, "to_name", |w| w.write_string(text))
            .await
            .unwrap();
        match (reply, Name::to_name(text)) {
            (ReplyBody::Return(mut r), Ok(ours)) => {
                let theirs = Name::read(&mut r).unwrap();
                assert_eq!(theirs, ours, "{text:?}");
                let reply = root
                    .orb()
                    .invoke(&key, "to_string", |w| ours.write(w))
                    .await
                    .unwrap();
                let ReplyBody::Return(mut r) = reply else {
                    panic!("{text:?}: {reply:?}")
                };
                assert_eq!(r.read_string().unwrap(), ours.to_string(), "{text:?}");
            }
            (ReplyBody::UserException { id, .. }, Err(_)) => {
                assert_eq!(id, ithaca_idl::naming::INVALID_NAME_ID, "{text:?}");
            }
            (theirs, ours) => panic!("{text:?}: omniNames {theirs:?}, Ithaca {ours:?}"),
        }
    }
}
