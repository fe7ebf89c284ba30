//! `corba_echo PORT`: serves `IthacaBench::Echo` under the key `Echo` on
//! 127.0.0.1:PORT until killed.

use anyhow::Context;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .context("usage: corba_echo PORT")?
        .parse()
        .context("PORT must be a number")?;
    let (server, _servant) = ithaca_corba_echo::echo_server(([127, 0, 0, 1], port).into()).await?;
    println!("corbaloc:iiop:1.2@{}/Echo", server.local_addr());
    tokio::signal::ctrl_c().await?;
    server.shutdown().await;
    Ok(())
}
