//! `corba_echo --listen ADDR` (or `corba_echo PORT`, for 127.0.0.1:PORT):
//! serves `IthacaBench::Echo` under the key `Echo` until interrupted, and
//! prints its corbaloc URL.
//!
//! ```sh
//! cargo run --release --example corba_echo -- --listen 127.0.0.1:2809
//! ```

use std::net::SocketAddr;

use anyhow::{Context, bail};

const USAGE: &str = "usage: corba_echo --listen ADDR | corba_echo PORT";

/// The listening address from the command line.
fn listen_address() -> anyhow::Result<SocketAddr> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [flag, addr] if flag == "--listen" => addr
            .parse()
            .with_context(|| format!("--listen {addr}: not an address like 127.0.0.1:2809")),
        [port] => {
            let port: u16 = port.parse().context("PORT must be a number")?;
            Ok(([127, 0, 0, 1], port).into())
        }
        _ => bail!(USAGE),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let listen = listen_address()?;
    let (server, _servant) = ithaca_corba_echo::echo_server(listen).await?;
    println!("corbaloc:iiop:1.2@{}/Echo", server.local_addr());
    tokio::signal::ctrl_c().await?;
    server.shutdown().await;
    Ok(())
}
