//! The blocking IIOP client: one connection, invocations one at a time, on
//! the calling thread.
//!
//! [`BlockingOrbClient`] is [`OrbClient`](super::OrbClient) for a
//! synchronous caller, the way omniORB's stubs work: a call writes the
//! request and blocks in `recv` on the socket until the reply is there, so
//! each call costs one `send` and one `recv`, with no readiness
//! notification (`epoll_wait`) and no runtime in between. It speaks the
//! same GIOP (1.0–1.2, either byte order, GIOP 1.2 fragmentation) and
//! negotiates code sets the same way; there is no pooling, and forwards
//! are followed by generated clients (see [`Orb`](super::Orb) for both on
//! references).
//!
//! With [`ClientConfig::busy_poll`] set, a call polls the socket for its
//! reply (non-blocking `recv`s) for up to that long before it blocks: the
//! calling thread then never sleeps on a reply that comes within the
//! window, which saves a wake-up per call (on loopback and in VMs the
//! larger part of a round trip's latency) and costs a busy CPU while
//! waiting.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::OrbError;
use super::client::{
    ClientConfig, MAX_ADDRESSES_TRIED, ReplyBody, connection_code_sets, profile_version, reply_body,
};
use crate::cdr::CdrWriter;
use crate::codeset::{CodeSetPolicy, CodeSets};
use crate::connection::{Connection, ConnectionConfig, Event, Role};
use crate::giop::{LocateStatus, Message, MessageBody, ResponseFlags, TargetAddress};
use crate::ior::{CodeSetComponentInfo, Corbaloc, CorbalocAddress, IiopProfile};

/// The size of the buffer replies are read into.
const READ_BUFFER_SIZE: usize = 16 * 1024;

/// A blocking connection to one IIOP server.
#[derive(Debug)]
pub struct BlockingOrbClient {
    stream: TcpStream,
    connection: Connection,
    config: ClientConfig,
    code_sets: CodeSets,
    read_buf: Vec<u8>,
    /// The socket timeout last set, to skip the system call when the next
    /// read or write wants the same.
    socket_timeout: Option<Duration>,
    /// Whether the socket is in non-blocking mode, which it is after a
    /// [busy poll](ClientConfig::busy_poll) found its reply (it stays so
    /// until something has to block, to spare two system calls per call).
    nonblocking: bool,
    /// A write was cut off by a deadline: the stream may hold half a
    /// message, so nothing more can be sent on it.
    broken: bool,
}

impl BlockingOrbClient {
    /// Connects to `addr`.
    ///
    /// As [`OrbClient::connect`](super::OrbClient::connect): without a
    /// reference the client assumes the code sets Ithaca and omniORB
    /// servers announce and tells the server its choice on the first GIOP
    /// 1.1+ request.
    pub fn connect(addr: SocketAddr, config: ClientConfig) -> Result<Self, OrbError> {
        let assumed = CodeSetPolicy::default().component_info();
        Self::connect_with_code_sets(addr, config, Some(&assumed))
    }

    /// Connects to the object of an IIOP profile, as
    /// [`OrbClient::connect_profile`](super::OrbClient::connect_profile):
    /// its host or else its alternate addresses, at most its GIOP version,
    /// with the code sets its `TAG_CODE_SETS` component allows.
    pub fn connect_profile(profile: &IiopProfile, config: ClientConfig) -> Result<Self, OrbError> {
        let config = ClientConfig {
            version: profile_version(profile, config.version),
            ..config
        };
        let code_sets = profile.code_sets().transpose()?;
        let mut addresses = vec![(profile.host.clone(), profile.port)];
        addresses.extend(profile.alternate_addresses()?);
        let mut last = OrbError::NoAddress("no address in the profile");
        for (host, port) in addresses.iter().take(MAX_ADDRESSES_TRIED) {
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let addr = match (host, *port).to_socket_addrs() {
                Ok(mut addrs) => match addrs.next() {
                    Some(addr) => addr,
                    None => {
                        last = OrbError::NoAddress("the host name does not resolve");
                        continue;
                    }
                },
                Err(error) => {
                    last = OrbError::Io(error);
                    continue;
                }
            };
            match Self::connect_with_code_sets(addr, config, code_sets.as_ref()) {
                Ok(client) => return Ok(client),
                Err(error @ OrbError::CodeSets(_)) => return Err(error),
                Err(error) => last = error,
            }
        }
        Err(last)
    }

    /// Connects to `addr`, a server whose reference announced `code_sets`
    /// (`None`: no `TAG_CODE_SETS`, so char data is ISO-8859-1 and wide
    /// characters cannot be sent).
    pub fn connect_with_code_sets(
        addr: SocketAddr,
        config: ClientConfig,
        code_sets: Option<&CodeSetComponentInfo>,
    ) -> Result<Self, OrbError> {
        let code_sets = config.code_sets.negotiate(code_sets)?;
        let stream = match config.call_timeout {
            Some(timeout) => TcpStream::connect_timeout(&addr, timeout)?,
            None => TcpStream::connect(addr)?,
        };
        stream.set_nodelay(true)?;
        let mut connection_config = ConnectionConfig::new(Role::Client);
        connection_config.version = config.version;
        connection_config.byte_order = config.byte_order;
        connection_config.max_fragment_size = config.max_fragment_size;
        let mut connection = Connection::new(connection_config);
        connection.set_code_sets(code_sets);
        Ok(Self {
            stream,
            connection,
            config,
            code_sets: connection_code_sets(config.version, code_sets),
            read_buf: vec![0; READ_BUFFER_SIZE],
            socket_timeout: None,
            nonblocking: false,
            broken: false,
        })
    }

    /// Connects to the first IIOP address of a `corbaloc:` URL and returns
    /// the client and the object key.
    pub fn connect_corbaloc(url: &str, config: ClientConfig) -> Result<(Self, Bytes), OrbError> {
        let corbaloc = Corbaloc::parse(url)?;
        let (host, port) = corbaloc
            .addresses
            .iter()
            .find_map(|a| match a {
                CorbalocAddress::Iiop { host, port, .. } => Some((host.clone(), *port)),
                CorbalocAddress::Rir => None,
            })
            .ok_or(OrbError::NoAddress("corbaloc with rir: only"))?;
        let addr = (host.as_str(), port)
            .to_socket_addrs()?
            .next()
            .ok_or(OrbError::NoAddress("the host name does not resolve"))?;
        Ok((Self::connect(addr, config)?, corbaloc.key))
    }

    /// The transmission code sets this connection uses.
    pub fn code_sets(&self) -> CodeSets {
        self.code_sets
    }

    /// The configuration the connection was opened with.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Whether the connection can still carry calls.
    pub fn is_usable(&self) -> bool {
        !self.broken && !self.connection.is_closed()
    }

    /// Invokes `operation` on the object under `key`; `args` writes the in
    /// and inout arguments. Blocks until the reply arrives, at most the
    /// configured [`call_timeout`](ClientConfig::call_timeout); past it the
    /// request is cancelled and the call fails with [`OrbError::Timeout`].
    pub fn invoke(
        &mut self,
        key: &[u8],
        operation: &str,
        args: impl FnOnce(&mut CdrWriter<'_>) -> crate::Result<()>,
    ) -> Result<ReplyBody, OrbError> {
        self.call(key, operation, args, true)
    }

    /// Sends a oneway request; returns once it is written.
    pub fn invoke_oneway(
        &mut self,
        key: &[u8],
        operation: &str,
        args: impl FnOnce(&mut CdrWriter<'_>) -> crate::Result<()>,
    ) -> Result<(), OrbError> {
        self.call(key, operation, args, false).map(drop)
    }

    /// Asks the server whether it has the object under `key`.
    pub fn locate(&mut self, key: &[u8]) -> Result<LocateStatus, OrbError> {
        self.check_usable()?;
        let deadline = self.deadline();
        let request_id = self
            .connection
            .send_locate_request(TargetAddress::KeyAddr(Bytes::copy_from_slice(key)))?;
        self.flush(deadline)?;
        loop {
            match self.next_event(request_id, deadline)? {
                Event::Message(Message {
                    body: MessageBody::LocateReply(reply),
                    ..
                }) if reply.request_id == request_id => return Ok(reply.status),
                _ => continue,
            }
        }
    }

    fn check_usable(&self) -> Result<(), OrbError> {
        if self.is_usable() {
            Ok(())
        } else {
            Err(OrbError::Closed)
        }
    }

    fn deadline(&self) -> Option<Instant> {
        self.config.call_timeout.map(|t| Instant::now() + t)
    }

    fn call(
        &mut self,
        key: &[u8],
        operation: &str,
        args: impl FnOnce(&mut CdrWriter<'_>) -> crate::Result<()>,
        response_expected: bool,
    ) -> Result<ReplyBody, OrbError> {
        self.check_usable()?;
        let deadline = self.deadline();
        // The request and its arguments are encoded straight into the
        // connection's outgoing buffer.
        let request_id = self
            .connection
            .send_request_with(
                key,
                operation,
                ResponseFlags::from_response_expected(response_expected),
                args,
            )
            .map_err(|error| match error {
                crate::Error::NoWcharCodeSet => OrbError::NoWideCodeSet,
                other => OrbError::Giop(other),
            })?;
        self.flush(deadline)?;
        if !response_expected {
            return Ok(ReplyBody::None);
        }
        loop {
            if let Event::Message(message) = self.next_event(request_id, deadline)?
                && let MessageBody::Reply(reply) = &message.body
                && reply.request_id == request_id
            {
                return reply_body(message, self.code_sets);
            }
        }
    }

    /// Writes what the connection has queued. A write that fails or that
    /// the deadline cuts off leaves the connection unusable.
    fn flush(&mut self, deadline: Option<Instant>) -> Result<(), OrbError> {
        while let Some(bytes) = self.connection.poll_transmit() {
            if let Err(error) = self.write_message(&bytes, deadline) {
                self.broken = true;
                return Err(timed_out(error));
            }
        }
        Ok(())
    }

    /// Writes all of `bytes`, until `deadline`. On a socket left
    /// non-blocking by a busy poll a full send buffer switches it back to
    /// blocking (a request the buffer takes whole, the common case, costs
    /// no switch).
    fn write_message(
        &mut self,
        mut bytes: &[u8],
        deadline: Option<Instant>,
    ) -> Result<(), OrbError> {
        if !self.nonblocking {
            self.set_socket_timeout(deadline)?;
            return Ok(self.stream.write_all(bytes)?);
        }
        while !bytes.is_empty() {
            match self.stream.write(bytes) {
                Ok(0) => return Err(OrbError::Io(ErrorKind::WriteZero.into())),
                Ok(n) => bytes = bytes.get(n..).unwrap_or_default(),
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(error) if error.kind() == ErrorKind::WouldBlock => {
                    self.set_blocking()?;
                    self.set_socket_timeout(deadline)?;
                    return Ok(self.stream.write_all(bytes)?);
                }
                Err(error) => return Err(error.into()),
            }
        }
        Ok(())
    }

    /// Reads what has arrived into the read buffer, waiting until
    /// `deadline`: first [polling](ClientConfig::busy_poll) without
    /// sleeping when configured, then blocked in `recv`.
    fn read_some(&mut self, deadline: Option<Instant>) -> Result<usize, OrbError> {
        if let Some(spin) = self.config.busy_poll {
            let started = Instant::now();
            let until = deadline.map_or(started + spin, |d| d.min(started + spin));
            if !self.nonblocking {
                self.stream.set_nonblocking(true)?;
                self.nonblocking = true;
            }
            loop {
                match self.stream.read(&mut self.read_buf) {
                    Ok(n) => return Ok(n),
                    Err(error)
                        if matches!(
                            error.kind(),
                            ErrorKind::WouldBlock | ErrorKind::Interrupted
                        ) => {}
                    Err(error) => return Err(error.into()),
                }
                if Instant::now() >= until {
                    break;
                }
                std::hint::spin_loop();
            }
            self.set_blocking()?;
        }
        self.set_socket_timeout(deadline)?;
        Ok(self.stream.read(&mut self.read_buf)?)
    }

    /// Puts the socket back in blocking mode.
    fn set_blocking(&mut self) -> Result<(), OrbError> {
        if self.nonblocking {
            self.stream.set_nonblocking(false)?;
            self.nonblocking = false;
        }
        Ok(())
    }

    /// The next event of the connection, reading from the socket (until
    /// `deadline`) while there is none. A protocol error, the peer closing
    /// or a timeout ends the wait with an error; a timeout cancels
    /// `request_id` first.
    fn next_event(
        &mut self,
        request_id: u32,
        deadline: Option<Instant>,
    ) -> Result<Event, OrbError> {
        loop {
            match self.connection.poll_event() {
                Some(Event::Malformed { error, .. } | Event::ProtocolError(error)) => {
                    // Send the MessageError the connection may have queued.
                    let _ = self.flush(deadline);
                    return Err(OrbError::Giop(error));
                }
                Some(Event::PeerClosed { .. } | Event::PeerRejected) => {
                    return Err(OrbError::Closed);
                }
                Some(event) => return Ok(event),
                None => {}
            }
            match self.read_some(deadline).map_err(timed_out) {
                Ok(0) => return Err(OrbError::Closed),
                Ok(n) => self
                    .connection
                    .handle_input(self.read_buf.get(..n).unwrap_or_default()),
                Err(OrbError::Timeout) => {
                    self.cancel(request_id);
                    return Err(OrbError::Timeout);
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Gives up on a request: CancelRequest, so a late reply is dropped.
    fn cancel(&mut self, request_id: u32) {
        if self.connection.cancel_request(request_id).is_ok() {
            // Best effort, and briefly.
            let _ = self.flush(Some(Instant::now() + Duration::from_millis(100)));
        }
    }

    /// Makes the next socket operation give up at `deadline` (or never).
    #[inline]
    fn set_socket_timeout(&mut self, deadline: Option<Instant>) -> Result<(), OrbError> {
        // No deadline and none set: the common case, nothing to do.
        if deadline.is_none() && self.socket_timeout.is_none() {
            return Ok(());
        }
        let timeout = match deadline {
            None => None,
            // A zero timeout means "never" to the socket: use the smallest
            // non-zero one instead.
            Some(deadline) => Some(
                deadline
                    .checked_duration_since(Instant::now())
                    .filter(|left| !left.is_zero())
                    .ok_or(OrbError::Timeout)?,
            ),
        };
        if timeout != self.socket_timeout {
            self.stream.set_read_timeout(timeout)?;
            self.stream.set_write_timeout(timeout)?;
            self.socket_timeout = timeout;
        }
        Ok(())
    }
}

/// A socket timeout is the call's deadline passing.
fn timed_out(error: OrbError) -> OrbError {
    match error {
        OrbError::Io(io) if matches!(io.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            OrbError::Timeout
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::GiopVersion;
    use crate::cdr::ByteOrder;
    use crate::orb::{Call, OrbServer, Outcome, Servant, ServantFuture};

    /// Echoes a string, sleeps on `slow`, answers `_is_a`.
    struct Echo;

    impl Servant for Echo {
        fn repository_id(&self) -> &str {
            "IDL:Test/Echo:1.0"
        }

        fn invoke(&self, mut call: Call) -> ServantFuture<'_> {
            Box::pin(async move {
                match call.operation() {
                    "echo" => match call.args().read_string() {
                        Ok(text) => call.reply(|w| w.write_string(&text)),
                        Err(e) => Outcome::marshal(e),
                    },
                    "slow" => {
                        tokio::time::sleep(Duration::from_millis(300)).await;
                        call.reply(|_| Ok(()))
                    }
                    _ => Outcome::bad_operation(),
                }
            })
        }
    }

    /// Answers `now` on the spot ([`Servant::invoke_now`]) and hands every
    /// other call back, to be answered by [`Servant::invoke`].
    struct NowOrLater;

    impl Servant for NowOrLater {
        fn repository_id(&self) -> &str {
            "IDL:Test/NowOrLater:1.0"
        }

        fn invoke(&self, call: Call) -> ServantFuture<'_> {
            Box::pin(async move {
                tokio::task::yield_now().await;
                call.reply(|w| w.write_string(&format!("later: {}", call.operation())))
            })
        }

        fn invoke_now(&self, call: Call) -> Result<Outcome, Call> {
            match call.operation() {
                "now" => Ok(call.reply(|w| w.write_string("now"))),
                _ => Err(call),
            }
        }
    }

    /// A server on its own runtime thread, for blocking callers.
    fn server() -> (tokio::runtime::Runtime, SocketAddr) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let addr = runtime.block_on(async {
            let server = OrbServer::bind("127.0.0.1:0".parse().unwrap())
                .await
                .unwrap();
            server.register("Echo", Arc::new(Echo));
            server.register("NowOrLater", Arc::new(NowOrLater));
            let addr = server.local_addr();
            // The server lives as long as the runtime.
            std::mem::forget(server.spawn());
            addr
        });
        (runtime, addr)
    }

    fn echo(client: &mut BlockingOrbClient, text: &str) -> String {
        match client
            .invoke(b"Echo", "echo", |w| w.write_string(text))
            .unwrap()
        {
            ReplyBody::Return(mut r) => r.read_string().unwrap(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn calls_in_every_version_and_byte_order() {
        let (_runtime, addr) = server();
        for version in [GiopVersion::V1_0, GiopVersion::V1_1, GiopVersion::V1_2] {
            for byte_order in [ByteOrder::BigEndian, ByteOrder::LittleEndian] {
                let config = ClientConfig {
                    version,
                    byte_order,
                    ..ClientConfig::default()
                };
                let mut client = BlockingOrbClient::connect(addr, config).unwrap();
                for i in 0..3 {
                    let text = format!("hello {i} in {version:?} {byte_order:?}");
                    assert_eq!(echo(&mut client, &text), text);
                }
            }
        }
    }

    #[test]
    fn servants_answer_on_the_spot_or_through_their_future() {
        let (_runtime, addr) = server();
        let mut client = BlockingOrbClient::connect(addr, ClientConfig::default()).unwrap();
        let mut call =
            |operation: &str| match client.invoke(b"NowOrLater", operation, |_| Ok(())).unwrap() {
                ReplyBody::Return(mut r) => r.read_string().unwrap(),
                other => panic!("{other:?}"),
            };
        for _ in 0..3 {
            assert_eq!(call("now"), "now");
            assert_eq!(call("wait"), "later: wait");
        }
    }

    #[test]
    fn replies_large_and_small_in_turn_are_whole() {
        let (_runtime, addr) = server();
        let mut client = BlockingOrbClient::connect(addr, ClientConfig::default()).unwrap();
        // Past the reply buffer's block and past what a thread keeps.
        for size in [10, 5_000, 100_000, 7, 70_000, 3] {
            let text = "y".repeat(size);
            assert_eq!(echo(&mut client, &text), text);
        }
    }

    #[test]
    fn large_requests_go_in_fragments() {
        let (_runtime, addr) = server();
        let config = ClientConfig {
            max_fragment_size: Some(64),
            ..ClientConfig::default()
        };
        let mut client = BlockingOrbClient::connect(addr, config).unwrap();
        let text = "x".repeat(10_000);
        assert_eq!(echo(&mut client, &text), text);
    }

    #[test]
    fn exceptions_locate_oneway_and_corbaloc() {
        let (_runtime, addr) = server();
        let url = format!("corbaloc:iiop:1.2@{addr}/Echo");
        let (mut client, key) =
            BlockingOrbClient::connect_corbaloc(&url, ClientConfig::default()).unwrap();
        assert_eq!(&key[..], b"Echo");
        match client.invoke(&key, "nope", |_| Ok(())).unwrap() {
            ReplyBody::System(e) => {
                assert_eq!(e.exception_id, "IDL:omg.org/CORBA/BAD_OPERATION:1.0");
            }
            other => panic!("{other:?}"),
        }
        match client.invoke(b"Nobody", "echo", |_| Ok(())).unwrap() {
            ReplyBody::System(e) => {
                assert_eq!(e.exception_id, "IDL:omg.org/CORBA/OBJECT_NOT_EXIST:1.0");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(client.locate(&key).unwrap(), LocateStatus::ObjectHere);
        assert_eq!(
            client.locate(b"Nobody").unwrap(),
            LocateStatus::UnknownObject
        );
        client
            .invoke_oneway(&key, "echo", |w| w.write_string("one way"))
            .unwrap();
        // The connection goes on after a oneway call.
        assert_eq!(echo(&mut client, "after"), "after");
    }

    #[test]
    fn a_call_past_its_deadline_times_out_and_the_connection_goes_on() {
        let (_runtime, addr) = server();
        let config = ClientConfig {
            call_timeout: Some(Duration::from_millis(100)),
            ..ClientConfig::default()
        };
        let mut client = BlockingOrbClient::connect(addr, config).unwrap();
        let started = Instant::now();
        assert!(matches!(
            client.invoke(b"Echo", "slow", |_| Ok(())),
            Err(OrbError::Timeout)
        ));
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(client.is_usable());
        // The late reply to the cancelled request is dropped.
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(echo(&mut client, "still here"), "still here");
    }

    #[test]
    fn busy_polling_calls_are_whole_and_fall_back_to_blocking() {
        let (_runtime, addr) = server();
        let config = ClientConfig {
            busy_poll: Some(Duration::from_millis(2)),
            ..ClientConfig::default()
        };
        let mut client = BlockingOrbClient::connect(addr, config).unwrap();
        // Small and large replies, requests past the socket's send buffer
        // (written on a non-blocking socket), replies that come within the
        // polling window and after it (the slow call blocks).
        for size in [10, 5_000, 3_000_000, 7] {
            let text = "z".repeat(size);
            assert_eq!(echo(&mut client, &text), text);
        }
        match client.invoke(b"Echo", "slow", |_| Ok(())).unwrap() {
            ReplyBody::Return(_) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(echo(&mut client, "after blocking"), "after blocking");
        client
            .invoke_oneway(b"Echo", "echo", |w| w.write_string("one way"))
            .unwrap();
        assert_eq!(echo(&mut client, "after oneway"), "after oneway");
    }

    #[test]
    fn a_busy_polling_call_still_times_out() {
        let (_runtime, addr) = server();
        let config = ClientConfig {
            call_timeout: Some(Duration::from_millis(100)),
            busy_poll: Some(Duration::from_millis(50)),
            ..ClientConfig::default()
        };
        let mut client = BlockingOrbClient::connect(addr, config).unwrap();
        assert!(matches!(
            client.invoke(b"Echo", "slow", |_| Ok(())),
            Err(OrbError::Timeout)
        ));
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(echo(&mut client, "still here"), "still here");
        // A polling window longer than the deadline ends at the deadline.
        let config = ClientConfig {
            call_timeout: Some(Duration::from_millis(100)),
            busy_poll: Some(Duration::from_secs(5)),
            ..ClientConfig::default()
        };
        let mut client = BlockingOrbClient::connect(addr, config).unwrap();
        let started = Instant::now();
        assert!(matches!(
            client.invoke(b"Echo", "slow", |_| Ok(())),
            Err(OrbError::Timeout)
        ));
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn a_server_that_is_gone_is_an_error_not_a_hang() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let closer = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            drop(stream);
        });
        let mut client = BlockingOrbClient::connect(addr, ClientConfig::default()).unwrap();
        closer.join().unwrap();
        assert!(client.invoke(b"Echo", "echo", |_| Ok(())).is_err());
    }
}
