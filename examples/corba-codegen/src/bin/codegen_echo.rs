//! `codegen_echo PORT`: serves `IthacaBench::Echo` with the generated
//! skeleton under the key `Echo` on 127.0.0.1:PORT until killed: the
//! generated counterpart of examples/corba-echo's `corba_echo`, for
//! `bench/corba-echo.sh`-style comparisons.

use std::sync::Arc;

use anyhow::Context;
use ithaca_corba_codegen::BenchServant;
use ithaca_corba_codegen::bench_idl::ithaca_bench::EchoSkeleton;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .context("usage: codegen_echo PORT")?
        .parse()
        .context("PORT must be a number")?;
    let server = ithaca_idl::orb::OrbServer::bind(([127, 0, 0, 1], port).into()).await?;
    server.register("Echo", Arc::new(EchoSkeleton::new(BenchServant::default())));
    let server = server.spawn();
    println!("corbaloc:iiop:1.2@{}/Echo", server.local_addr());
    tokio::signal::ctrl_c().await?;
    server.shutdown().await;
    Ok(())
}
