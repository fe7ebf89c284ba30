//! `corba_echo_client REF N MODE`: calls `IthacaBench::Echo` N times in
//! MODE (echo, add or reverse) on REF (a corbaloc URL) and prints
//! `calls/s=X`.

use std::time::Instant;

use anyhow::{Context, bail};
use ithaca_corba_echo::{EchoClient, Point};
use ithaca_idl::orb::ClientConfig;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: corba_echo_client REF N MODE";
    let reference = args.next().context(usage)?;
    let calls: u64 = args
        .next()
        .context(usage)?
        .parse()
        .context("N must be a number")?;
    let mode = args.next().unwrap_or_else(|| "echo".to_owned());
    let mut client = EchoClient::connect(&reference, ClientConfig::default()).await?;
    let points: Vec<Point> = (0..10)
        .map(|i| Point {
            x: i,
            y: -i,
            label: format!("point {i}"),
        })
        .collect();
    let started = Instant::now();
    for i in 0..calls {
        match mode.as_str() {
            "echo" => {
                client.echo_string("hello from the benchmark").await?;
            }
            "add" => {
                client.add(i as i32 % 1000, 1).await?;
            }
            "reverse" => {
                client.reverse(&points).await?;
            }
            other => bail!("unknown mode {other}: use echo, add or reverse"),
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    println!("calls/s={:.0}", calls as f64 / seconds.max(1e-9));
    Ok(())
}
