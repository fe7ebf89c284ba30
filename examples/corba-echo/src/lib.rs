//! `IthacaBench::Echo`, the CORBA benchmark contract, on Ithaca's ORB:
//!
//! ```idl
//! module IthacaBench {
//!   struct Point { long x; long y; string label; };
//!   typedef sequence<Point> Points;
//!   exception Overflow { long limit; };
//!   interface Echo {
//!     string echoString(in string text);
//!     long add(in long a, in long b) raises (Overflow);  // a + b > 1000000
//!     Points reverse(in Points items);
//!     oneway void ping();
//!   };
//! };
//! ```
//!
//! [`EchoServant`] implements it DSI-style (arguments read from CDR, results
//! written to CDR; no generated code yet), [`EchoClient`] calls it from
//! async code and [`BlockingEchoClient`] from a plain thread. The
//! examples `corba_echo --listen ADDR` and `corba_echo_client REF N MODE` are what
//! `bench/corba-echo.sh` runs against omniORB.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use ithaca_idl::cdr::{CdrReader, CdrWriter};
use ithaca_idl::orb::{
    BlockingOrbClient, Call, ClientConfig, OrbClient, OrbError, Outcome, ReplyBody, Servant,
    ServantFuture,
};

/// The interface's repository id.
pub const ECHO_REPOSITORY_ID: &str = "IDL:IthacaBench/Echo:1.0";
/// The user exception's repository id.
pub const OVERFLOW_REPOSITORY_ID: &str = "IDL:IthacaBench/Overflow:1.0";
/// `add` raises Overflow above this sum.
pub const ADD_LIMIT: i32 = 1_000_000;
/// The object key the benchmark uses.
pub const ECHO_KEY: &[u8] = b"Echo";

/// `IthacaBench::Point`.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Point {
    /// x.
    pub x: i32,
    /// y.
    pub y: i32,
    /// A label.
    pub label: String,
}

impl Point {
    fn read(r: &mut CdrReader) -> ithaca_idl::Result<Self> {
        Ok(Self {
            x: r.read_long()?,
            y: r.read_long()?,
            label: r.read_string()?,
        })
    }

    fn write(&self, w: &mut CdrWriter<'_>) -> ithaca_idl::Result<()> {
        w.write_long(self.x);
        w.write_long(self.y);
        w.write_string(&self.label)
    }
}

fn read_points(r: &mut CdrReader) -> ithaca_idl::Result<Vec<Point>> {
    // Each Point takes at least 12 bytes (two longs and a string length).
    let len = r.read_length(12)?;
    let mut points = Vec::with_capacity(len);
    for _ in 0..len {
        points.push(Point::read(r)?);
    }
    Ok(points)
}

fn write_points(w: &mut CdrWriter<'_>, points: &[Point]) -> ithaca_idl::Result<()> {
    w.write_length(points.len())?;
    points.iter().try_for_each(|p| p.write(w))
}

/// The servant. Counts pings so tests can see oneway calls arrive.
#[derive(Debug, Default)]
pub struct EchoServant {
    pings: AtomicU64,
}

impl EchoServant {
    /// How many `ping`s arrived.
    pub fn pings(&self) -> u64 {
        self.pings.load(Ordering::Relaxed)
    }
}

impl Servant for EchoServant {
    fn repository_id(&self) -> &str {
        ECHO_REPOSITORY_ID
    }

    fn invoke(&self, call: Call) -> ServantFuture<'_> {
        Box::pin(std::future::ready(self.answer(call)))
    }

    /// Every operation answers at once: no future per call.
    fn invoke_now(&self, call: Call) -> Result<Outcome, Call> {
        Ok(self.answer(call))
    }
}

impl EchoServant {
    /// Runs one operation of `IthacaBench::Echo`.
    fn answer(&self, mut call: Call) -> Outcome {
        match call.operation() {
            "echoString" => match call.args().read_string() {
                Ok(text) => call.reply(|w| w.write_string(&text)),
                Err(e) => Outcome::marshal(e),
            },
            "add" => {
                let args = call.args();
                match args.read_long().and_then(|a| Ok((a, args.read_long()?))) {
                    Ok((a, b)) => match a.checked_add(b).filter(|sum| *sum <= ADD_LIMIT) {
                        Some(sum) => call.reply(|w| {
                            w.write_long(sum);
                            Ok(())
                        }),
                        None => call.user_exception(OVERFLOW_REPOSITORY_ID, |w| {
                            w.write_long(ADD_LIMIT);
                            Ok(())
                        }),
                    },
                    Err(e) => Outcome::marshal(e),
                }
            }
            "reverse" => match read_points(call.args()) {
                Ok(mut points) => {
                    points.reverse();
                    call.reply(|w| write_points(w, &points))
                }
                Err(e) => Outcome::marshal(e),
            },
            "ping" => {
                self.pings.fetch_add(1, Ordering::Relaxed);
                call.reply(|_| Ok(()))
            }
            _ => Outcome::bad_operation(),
        }
    }
}

/// Registers an [`EchoServant`] under [`ECHO_KEY`] on a new server.
pub async fn echo_server(
    addr: std::net::SocketAddr,
) -> std::io::Result<(ithaca_idl::orb::RunningOrbServer, Arc<EchoServant>)> {
    let server = ithaca_idl::orb::OrbServer::bind(addr).await?;
    let servant = Arc::new(EchoServant::default());
    server.register(Bytes::from_static(ECHO_KEY), servant.clone());
    Ok((server.spawn(), servant))
}

/// What a call to `add` gave.
#[derive(Debug, Eq, PartialEq)]
pub enum AddResult {
    /// The sum.
    Sum(i32),
    /// `Overflow { limit }`.
    Overflow(i32),
}

/// A typed client of `IthacaBench::Echo`.
#[derive(Debug)]
pub struct EchoClient {
    orb: OrbClient,
    key: Bytes,
}

/// A reply that was not what the contract allows.
fn unexpected(reply: ReplyBody) -> anyhow::Error {
    match reply {
        ReplyBody::System(e) => anyhow::anyhow!(
            "system exception {} minor {:#x} completed {:?}",
            e.exception_id,
            e.minor,
            e.completed
        ),
        other => anyhow::anyhow!("unexpected reply {other:?}"),
    }
}

/// The `echoString` result.
fn echo_result(reply: ReplyBody) -> anyhow::Result<String> {
    match reply {
        ReplyBody::Return(mut r) => Ok(r.read_string()?),
        other => Err(unexpected(other)),
    }
}

/// Writes the arguments of `add`.
fn add_args(a: i32, b: i32) -> impl FnOnce(&mut CdrWriter<'_>) -> ithaca_idl::Result<()> {
    move |w| {
        w.write_long(a);
        w.write_long(b);
        Ok(())
    }
}

/// The `add` result: the sum or `Overflow`.
fn add_result(reply: ReplyBody) -> anyhow::Result<AddResult> {
    match reply {
        ReplyBody::Return(mut r) => Ok(AddResult::Sum(r.read_long()?)),
        ReplyBody::UserException { id, mut members } if id == OVERFLOW_REPOSITORY_ID => {
            Ok(AddResult::Overflow(members.read_long()?))
        }
        other => Err(unexpected(other)),
    }
}

/// The `reverse` result.
fn reverse_result(reply: ReplyBody) -> anyhow::Result<Vec<Point>> {
    match reply {
        ReplyBody::Return(mut r) => Ok(read_points(&mut r)?),
        other => Err(unexpected(other)),
    }
}

impl EchoClient {
    /// Connects to a `corbaloc:` URL.
    pub async fn connect(url: &str, config: ClientConfig) -> Result<Self, OrbError> {
        let (orb, key) = OrbClient::connect_corbaloc(url, config).await?;
        Ok(Self { orb, key })
    }

    /// Wraps a connected ORB client and object key.
    pub fn new(orb: OrbClient, key: Bytes) -> Self {
        Self { orb, key }
    }

    /// `echoString`.
    pub async fn echo_string(&mut self, text: &str) -> anyhow::Result<String> {
        echo_result(
            self.orb
                .invoke(&self.key, "echoString", |w| w.write_string(text))
                .await?,
        )
    }

    /// `add`.
    pub async fn add(&mut self, a: i32, b: i32) -> anyhow::Result<AddResult> {
        add_result(self.orb.invoke(&self.key, "add", add_args(a, b)).await?)
    }

    /// `reverse`.
    pub async fn reverse(&mut self, items: &[Point]) -> anyhow::Result<Vec<Point>> {
        reverse_result(
            self.orb
                .invoke(&self.key, "reverse", |w| write_points(w, items))
                .await?,
        )
    }

    /// `ping` (oneway).
    pub async fn ping(&mut self) -> anyhow::Result<()> {
        Ok(self
            .orb
            .invoke_oneway(&self.key, "ping", |_| Ok(()))
            .await?)
    }

    /// The underlying ORB client, for raw invocations.
    pub fn orb(&mut self) -> &mut OrbClient {
        &mut self.orb
    }

    /// The object key.
    pub fn key(&self) -> &Bytes {
        &self.key
    }
}

/// A typed client of `IthacaBench::Echo` for synchronous callers, on
/// [`BlockingOrbClient`]: each call blocks the calling thread on the
/// socket, as omniORB's stubs do. `corba_echo_client` uses it.
#[derive(Debug)]
pub struct BlockingEchoClient {
    orb: BlockingOrbClient,
    key: Bytes,
}

impl BlockingEchoClient {
    /// Connects to a `corbaloc:` URL.
    pub fn connect(url: &str, config: ClientConfig) -> Result<Self, OrbError> {
        let (orb, key) = BlockingOrbClient::connect_corbaloc(url, config)?;
        Ok(Self { orb, key })
    }

    /// `echoString`.
    pub fn echo_string(&mut self, text: &str) -> anyhow::Result<String> {
        echo_result(
            self.orb
                .invoke(&self.key, "echoString", |w| w.write_string(text))?,
        )
    }

    /// `add`.
    pub fn add(&mut self, a: i32, b: i32) -> anyhow::Result<AddResult> {
        add_result(self.orb.invoke(&self.key, "add", add_args(a, b))?)
    }

    /// `reverse`.
    pub fn reverse(&mut self, items: &[Point]) -> anyhow::Result<Vec<Point>> {
        reverse_result(
            self.orb
                .invoke(&self.key, "reverse", |w| write_points(w, items))?,
        )
    }

    /// `ping` (oneway).
    pub fn ping(&mut self) -> anyhow::Result<()> {
        Ok(self.orb.invoke_oneway(&self.key, "ping", |_| Ok(()))?)
    }

    /// The underlying ORB client, for raw invocations.
    pub fn orb(&mut self) -> &mut BlockingOrbClient {
        &mut self.orb
    }

    /// The object key.
    pub fn key(&self) -> &Bytes {
        &self.key
    }
}
