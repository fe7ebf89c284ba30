//! `corba_echo_client [--busy-poll MICROS] REF N MODE`: calls
//! `IthacaBench::Echo` N times in MODE (echo, add or reverse) on REF (a
//! corbaloc URL) and prints `calls/s=X`.
//!
//! The calls are made the way omniORB's anchor client (`client.cc`) makes
//! them, with the same arguments, from one thread that blocks on the socket
//! ([`BlockingEchoClient`]), so the comparison is between the two ORBs and
//! not between a runtime and a plain thread. Before the clock starts it
//! does what `client.cc` does: checks the contract (echoString, add and
//! its Overflow, reverse, ping) and makes 1 000 warm-up `echoString`
//! calls, so neither client times its connection's first calls.
//!
//! `--busy-poll MICROS` sets [`ClientConfig::busy_poll`]: each call polls
//! for its reply that long before blocking. omniORB's client does not do
//! this, so a run with it compares a polling client with a sleeping one;
//! without it (the default) both wait the same way.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use ithaca_corba_echo::{ADD_LIMIT, AddResult, BlockingEchoClient, Point};
use ithaca_idl::orb::ClientConfig;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1).peekable();
    let usage = "usage: corba_echo_client [--busy-poll MICROS] REF N MODE";
    let mut config = ClientConfig::default();
    if args.peek().map(String::as_str) == Some("--busy-poll") {
        args.next();
        let micros: u64 = args
            .next()
            .context(usage)?
            .parse()
            .context("--busy-poll takes a number of microseconds")?;
        config.busy_poll = Some(Duration::from_micros(micros));
    }
    let reference = args.next().context(usage)?;
    let calls: u64 = args
        .next()
        .context(usage)?
        .parse()
        .context("N must be a number")?;
    let mode = args.next().unwrap_or_else(|| "echo".to_owned());
    if !matches!(mode.as_str(), "echo" | "add" | "reverse") {
        bail!("unknown mode {mode}: use echo, add or reverse");
    }
    let mut client = BlockingEchoClient::connect(&reference, config)
        .with_context(|| format!("cannot connect to {reference}"))?;
    // The same arguments as the omniORB anchor client's timed loop.
    let points: Vec<Point> = (0..100)
        .map(|i| Point {
            x: i,
            y: -i,
            label: "point".to_owned(),
        })
        .collect();
    check_contract(&mut client, &points)?;
    for _ in 0..1000 {
        client.echo_string("warm-up")?;
    }
    let started = Instant::now();
    for i in 0..calls {
        match mode.as_str() {
            "add" => {
                client.add((i % 1000) as i32, 1)?;
            }
            "reverse" => {
                client.reverse(&points)?;
            }
            _ => {
                client.echo_string("hello from the benchmark, a short payload")?;
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    println!("calls/s={:.0}", calls as f64 / seconds.max(1e-9));
    Ok(())
}

/// The checks `client.cc` makes before timing anything.
fn check_contract(client: &mut BlockingEchoClient, points: &[Point]) -> anyhow::Result<()> {
    let text = "hello from the benchmark";
    if client.echo_string(text)? != text {
        bail!("echoString answered another text");
    }
    if !matches!(client.add(2, 40)?, AddResult::Sum(42)) {
        bail!("add(2, 40) is not 42");
    }
    if !matches!(client.add(999_999, 2)?, AddResult::Overflow(ADD_LIMIT)) {
        bail!("add(999999, 2) did not raise Overflow({ADD_LIMIT})");
    }
    let reversed = client.reverse(points)?;
    if reversed.len() != points.len() || reversed.first() != points.last() {
        bail!("reverse answered the wrong points");
    }
    client.ping()
}
