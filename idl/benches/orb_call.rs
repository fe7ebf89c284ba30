//! A whole CORBA call over loopback TCP, in one process: Ithaca's ORB
//! server (thread per connection, the default) answering `echoString` and
//! `add` from the benchmark contract, called through the blocking client
//! ([`BlockingOrbClient`], what `corba_echo_client` uses) and through the
//! async client ([`OrbClient`]). Each iteration is one request and its
//! reply; most of the time is the two system calls and the loopback round
//! trip on each side, so compare runs of the same machine only.

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use ithaca_idl::orb::{
    BlockingOrbClient, Call, ClientConfig, OrbClient, OrbServer, Outcome, ReplyBody, Servant,
    ServantFuture,
};

const TEXT: &str = "hello from the benchmark, a short payload";

/// `echoString` and `add` of `IthacaBench::Echo`.
struct Echo;

impl Servant for Echo {
    fn repository_id(&self) -> &str {
        "IDL:IthacaBench/Echo:1.0"
    }

    fn invoke(&self, mut call: Call) -> ServantFuture<'_> {
        let outcome = match call.operation() {
            "echoString" => match call.args().read_string() {
                Ok(text) => call.reply(|w| w.write_string(&text)),
                Err(e) => Outcome::marshal(e),
            },
            "add" => {
                let args = call.args();
                match args.read_long().and_then(|a| Ok((a, args.read_long()?))) {
                    Ok((a, b)) => call.reply(|w| {
                        w.write_long(a.wrapping_add(b));
                        Ok(())
                    }),
                    Err(e) => Outcome::marshal(e),
                }
            }
            _ => Outcome::bad_operation(),
        };
        Box::pin(std::future::ready(outcome))
    }
}

fn serve(runtime: &tokio::runtime::Runtime) -> SocketAddr {
    runtime.block_on(async {
        let server = OrbServer::bind("127.0.0.1:0".parse().expect("an address"))
            .await
            .expect("binds");
        server.register("Echo", Arc::new(Echo));
        let addr = server.local_addr();
        // The server serves as long as the runtime lives.
        std::mem::forget(server.spawn());
        addr
    })
}

fn expect_return(reply: ReplyBody) -> ithaca_idl::cdr::CdrReader {
    match reply {
        ReplyBody::Return(reader) => reader,
        other => panic!("unexpected reply {other:?}"),
    }
}

fn loopback_calls(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    let addr = serve(&runtime);
    let mut group = c.benchmark_group("orb_call");

    let mut blocking = BlockingOrbClient::connect(addr, ClientConfig::default()).expect("connects");
    group.bench_function("blocking_echo_string", |b| {
        b.iter(|| {
            let mut r = expect_return(
                blocking
                    .invoke(b"Echo", "echoString", |w| w.write_string(black_box(TEXT)))
                    .expect("calls"),
            );
            r.read_string().expect("a string")
        })
    });
    group.bench_function("blocking_add", |b| {
        b.iter(|| {
            let mut r = expect_return(
                blocking
                    .invoke(b"Echo", "add", |w| {
                        w.write_long(black_box(40));
                        w.write_long(2);
                        Ok(())
                    })
                    .expect("calls"),
            );
            r.read_long().expect("a long")
        })
    });

    let client_runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let mut client = client_runtime
        .block_on(OrbClient::connect(addr, ClientConfig::default()))
        .expect("connects");
    group.bench_function("async_echo_string", |b| {
        b.iter(|| {
            client_runtime.block_on(async {
                let mut r = expect_return(
                    client
                        .invoke(b"Echo", "echoString", |w| w.write_string(black_box(TEXT)))
                        .await
                        .expect("calls"),
                );
                r.read_string().expect("a string")
            })
        })
    });
    group.finish();
}

criterion_group!(benches, loopback_calls);
criterion_main!(benches);
