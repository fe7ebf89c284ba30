//! A sans-IO GIOP connection: request ids, outstanding requests,
//! fragmentation and the rules for closing.
//!
//! [`Connection`] never touches a socket. The driver feeds it the bytes it
//! reads with [`handle_input`](Connection::handle_input), writes out what
//! [`poll_transmit`](Connection::poll_transmit) returns, and hands the
//! application what [`poll_event`](Connection::poll_event) returns. The
//! application sends with `send_*` and [`close`](Connection::close).
//!
//! A client numbers its requests and remembers those awaiting a reply; a
//! reply to an unknown or cancelled request is dropped, as the
//! specification allows. A server remembers the requests it owes a reply
//! and answers each in the request's GIOP version. Broken framing (bad
//! magic, unsupported version, oversized or unreassemblable messages,
//! messages the role forbids) queues a MessageError and closes the
//! connection; a message whose body cannot be decoded is reported as
//! [`Event::Malformed`] and the connection goes on.

mod reassembly;

use std::collections::{HashMap, HashSet, VecDeque};

use bytes::{Bytes, BytesMut};

use crate::cdr::{ByteOrder, CdrReader};
use crate::error::{Error, Result};
use crate::giop::{
    CancelRequest, DEFAULT_MAX_MESSAGE_SIZE, Frame, GIOP_HEADER_LEN, GiopCodec, LocateReply,
    LocateRequest, Message, MessageBody, MessageType, Reply, Request, ServiceContext,
    TargetAddress,
};
use crate::version::GiopVersion;
use reassembly::Reassembly;

/// Which end of the connection this is.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum Role {
    /// Sends requests and receives replies.
    Client,
    /// Receives requests and sends replies.
    Server,
}

/// Settings of a [`Connection`].
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct ConnectionConfig {
    /// Client or server.
    pub role: Role,
    /// The version a client sends; the highest version a server accepts.
    pub version: GiopVersion,
    /// The byte order of the messages this end sends.
    pub byte_order: ByteOrder,
    /// The largest message accepted from the peer, whole or reassembled.
    pub max_message_size: u32,
    /// GIOP 1.2 messages larger than this are sent in fragments; `None`
    /// sends every message whole.
    pub max_fragment_size: Option<usize>,
    /// How many fragmented messages may be in progress at once.
    pub max_fragmented_in_progress: usize,
}

impl ConnectionConfig {
    /// A configuration with the defaults: GIOP 1.2, little-endian, 64 MiB
    /// messages, no outgoing fragmentation, 16 fragmented messages at once.
    pub fn new(role: Role) -> Self {
        Self {
            role,
            version: GiopVersion::V1_2,
            byte_order: ByteOrder::LittleEndian,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            max_fragment_size: None,
            max_fragmented_in_progress: 16,
        }
    }
}

/// Something the application must deal with.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Event {
    /// A whole message for the application: a Request, LocateRequest or
    /// CancelRequest for a server, a Reply or LocateReply to an outstanding
    /// request for a client. Fragmented messages arrive reassembled.
    Message(Message),
    /// A message could not be decoded. A server answers a request with a
    /// known id with a MARSHAL system exception.
    Malformed {
        /// The request id, when it could be read.
        request_id: Option<u32>,
        /// What was wrong.
        error: Error,
    },
    /// The peer sent CloseConnection; the connection is closed. The listed
    /// requests were not processed and may be sent again elsewhere.
    PeerClosed {
        /// Our requests still awaiting a reply, in increasing id order.
        unanswered: Vec<u32>,
    },
    /// The peer answered something we sent with MessageError; the
    /// connection is closed.
    PeerRejected,
    /// The incoming stream broke; a MessageError has been queued and the
    /// connection is closed.
    ProtocolError(Error),
}

/// The sans-IO state of one GIOP connection.
#[derive(Debug)]
pub struct Connection {
    config: ConnectionConfig,
    codec: GiopCodec,
    inbound: BytesMut,
    transmit: VecDeque<Bytes>,
    events: VecDeque<Event>,
    next_request_id: u32,
    /// Client: requests awaiting a reply or locate reply.
    outstanding: HashSet<u32>,
    /// Server: requests owed a reply, with the version to answer in.
    owed: HashMap<u32, GiopVersion>,
    reassembly: Reassembly,
    closed: bool,
}

impl Connection {
    /// Creates a connection.
    pub fn new(config: ConnectionConfig) -> Self {
        let max_message_size = usize::try_from(config.max_message_size).unwrap_or(usize::MAX);
        Self {
            codec: GiopCodec::new().with_max_message_size(config.max_message_size),
            inbound: BytesMut::new(),
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            next_request_id: 0,
            outstanding: HashSet::new(),
            owed: HashMap::new(),
            reassembly: Reassembly::new(max_message_size, config.max_fragmented_in_progress),
            closed: false,
            config,
        }
    }

    /// Takes bytes read from the peer and decodes every whole message in them.
    pub fn handle_input(&mut self, data: &[u8]) {
        if self.closed {
            return;
        }
        self.inbound.extend_from_slice(data);
        while !self.closed {
            match self.codec.decode_frame(&mut self.inbound) {
                Ok(Some(frame)) => self.handle_frame(frame),
                Ok(None) => break,
                Err(error) => self.fail(error),
            }
        }
    }

    /// Sends a request; its `request_id` is replaced by a fresh one, which
    /// is returned. A reply is expected unless the flags say oneway.
    pub fn send_request(&mut self, mut request: Request) -> Result<u32> {
        self.check_can_send(Role::Client)?;
        let request_id = self.fresh_request_id();
        request.request_id = request_id;
        let expects_reply = request.response_flags.response_expected();
        self.queue(
            MessageBody::Request(request),
            self.config.version,
            request_id,
        )?;
        if expects_reply {
            self.outstanding.insert(request_id);
        }
        Ok(request_id)
    }

    /// Asks whether the server has an object; returns the request id.
    pub fn send_locate_request(&mut self, target: TargetAddress) -> Result<u32> {
        self.check_can_send(Role::Client)?;
        let request_id = self.fresh_request_id();
        let locate = LocateRequest { request_id, target };
        self.queue(
            MessageBody::LocateRequest(locate),
            self.config.version,
            request_id,
        )?;
        self.outstanding.insert(request_id);
        Ok(request_id)
    }

    /// Tells the server the client no longer waits for a reply.
    pub fn cancel_request(&mut self, request_id: u32) -> Result<()> {
        self.check_can_send(Role::Client)?;
        if !self.outstanding.remove(&request_id) {
            return Ok(());
        }
        let cancel = CancelRequest { request_id };
        self.queue(
            MessageBody::CancelRequest(cancel),
            self.config.version,
            request_id,
        )
    }

    /// Answers a request, in the GIOP version the request came in.
    pub fn send_reply(&mut self, reply: Reply) -> Result<()> {
        self.check_can_send(Role::Server)?;
        let version = self.take_owed(reply.request_id)?;
        let request_id = reply.request_id;
        self.queue(MessageBody::Reply(reply), version, request_id)
    }

    /// Answers a locate request, in the GIOP version it came in.
    pub fn send_locate_reply(&mut self, reply: LocateReply) -> Result<()> {
        self.check_can_send(Role::Server)?;
        let version = self.take_owed(reply.request_id)?;
        let request_id = reply.request_id;
        self.queue(MessageBody::LocateReply(reply), version, request_id)
    }

    /// Closes the connection in an orderly way.
    ///
    /// A server, or either side in GIOP 1.2, sends CloseConnection first;
    /// a GIOP 1.0 or 1.1 client just stops.
    pub fn close(&mut self) {
        if self.closed {
            return;
        }
        if self.config.role == Role::Server || self.config.version == GiopVersion::V1_2 {
            self.queue_whole(MessageBody::CloseConnection, self.config.version);
        }
        self.closed = true;
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The next bytes to write to the peer.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.transmit.pop_front()
    }

    /// Whether the connection is closed; queued bytes may still need sending.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// The client's requests still awaiting a reply.
    pub fn outstanding_requests(&self) -> usize {
        self.outstanding.len()
    }

    /// The requests the server still owes a reply.
    pub fn owed_replies(&self) -> usize {
        self.owed.len()
    }

    /// Whether a fragmented message is waiting for more fragments.
    pub fn is_reassembling(&self) -> bool {
        !self.reassembly.is_empty()
    }

    fn handle_frame(&mut self, frame: Frame) {
        let header = frame.header;
        if header.version > self.config.version {
            return self.fail(Error::UnsupportedVersion {
                major: 1,
                minor: header.version.minor(),
            });
        }
        let whole = if header.message_type == MessageType::Fragment {
            self.reassembly.push(&frame)
        } else if header.more_fragments {
            self.reassembly.start(&frame).map(|()| None)
        } else {
            Ok(Some(frame))
        };
        match whole {
            Ok(Some(frame)) => self.handle_whole_frame(frame),
            Ok(None) => {}
            Err(error) => self.fail(error),
        }
    }

    fn handle_whole_frame(&mut self, frame: Frame) {
        let header = frame.header;
        let request_id = peek_request_id(&frame);
        match frame.into_message() {
            Ok(message) => self.handle_message(message),
            Err(error) => self.malformed(request_id, header.message_type, header.version, error),
        }
    }

    fn handle_message(&mut self, message: Message) {
        let role = self.config.role;
        match (&message.body, role) {
            (MessageBody::Request(request), Role::Server) => {
                if request.response_flags.response_expected() {
                    self.owed.insert(request.request_id, message.version);
                }
            }
            (MessageBody::LocateRequest(locate), Role::Server) => {
                self.owed.insert(locate.request_id, message.version);
            }
            (MessageBody::CancelRequest(cancel), Role::Server) => {
                self.owed.remove(&cancel.request_id);
            }
            (MessageBody::Reply(Reply { request_id, .. }), Role::Client)
            | (MessageBody::LocateReply(LocateReply { request_id, .. }), Role::Client) => {
                if !self.outstanding.remove(request_id) {
                    // A reply to a cancelled (or unknown) request is dropped.
                    return;
                }
            }
            (MessageBody::CloseConnection, _) => {
                let mut unanswered: Vec<u32> = self.outstanding.drain().collect();
                unanswered.sort_unstable();
                self.closed = true;
                self.events.push_back(Event::PeerClosed { unanswered });
                return;
            }
            (MessageBody::MessageError, _) => {
                self.closed = true;
                self.events.push_back(Event::PeerRejected);
                return;
            }
            (
                MessageBody::Request(_)
                | MessageBody::LocateRequest(_)
                | MessageBody::CancelRequest(_),
                Role::Client,
            ) => {
                return self.fail(Error::ProtocolViolation("a client received a request"));
            }
            (MessageBody::Reply(_) | MessageBody::LocateReply(_), Role::Server) => {
                return self.fail(Error::ProtocolViolation("a server received a reply"));
            }
            (MessageBody::Fragment(_) | MessageBody::FirstFragment(_), _) => {
                return self.fail(Error::Reassembly(
                    "a reassembled message is itself fragmented",
                ));
            }
        }
        self.events.push_back(Event::Message(message));
    }

    /// Reports a message whose body could not be decoded. A server owes a
    /// reply (MARSHAL) to a request whose id is known; a client no longer
    /// waits for a reply it could not read.
    fn malformed(
        &mut self,
        request_id: Option<u32>,
        message_type: MessageType,
        version: GiopVersion,
        error: Error,
    ) {
        if let Some(id) = request_id {
            match (self.config.role, message_type) {
                (Role::Server, MessageType::Request | MessageType::LocateRequest) => {
                    self.owed.insert(id, version);
                }
                (Role::Client, MessageType::Reply | MessageType::LocateReply) => {
                    self.outstanding.remove(&id);
                }
                _ => {}
            }
        }
        self.events
            .push_back(Event::Malformed { request_id, error });
    }

    /// Queues a MessageError, closes the connection and reports why.
    fn fail(&mut self, error: Error) {
        self.inbound.clear();
        self.queue_whole(MessageBody::MessageError, self.config.version);
        self.closed = true;
        self.events.push_back(Event::ProtocolError(error));
    }

    fn check_can_send(&self, role: Role) -> Result<()> {
        if self.closed {
            return Err(Error::ConnectionClosed);
        }
        if self.config.role != role {
            return Err(Error::ProtocolViolation(match role {
                Role::Client => "only a client sends requests",
                Role::Server => "only a server sends replies",
            }));
        }
        Ok(())
    }

    fn take_owed(&mut self, request_id: u32) -> Result<GiopVersion> {
        self.owed
            .remove(&request_id)
            .ok_or(Error::ProtocolViolation(
                "no request with this id awaits a reply",
            ))
    }

    /// The next request id not awaiting a reply.
    fn fresh_request_id(&mut self) -> u32 {
        loop {
            let id = self.next_request_id;
            self.next_request_id = self.next_request_id.wrapping_add(1);
            if !self.outstanding.contains(&id) {
                return id;
            }
        }
    }

    /// Encodes a message and queues it, in fragments when it is a large
    /// GIOP 1.2 message and fragmentation is configured.
    fn queue(&mut self, body: MessageBody, version: GiopVersion, request_id: u32) -> Result<()> {
        let message = Message::new(version, self.config.byte_order, body);
        let mut buf = BytesMut::new();
        message.encode(&mut buf)?;
        let encoded = buf.freeze();
        match self.config.max_fragment_size {
            Some(limit)
                if version == GiopVersion::V1_2
                    && encoded.len() > limit
                    && message.body.message_type().can_fragment(version) =>
            {
                let mut out = BytesMut::new();
                for piece in reassembly::fragment(&message, request_id, encoded, limit)? {
                    piece.encode(&mut out)?;
                    self.transmit.push_back(out.split().freeze());
                }
            }
            _ => self.transmit.push_back(encoded),
        }
        Ok(())
    }

    /// Queues a header-only message, which always encodes.
    fn queue_whole(&mut self, body: MessageBody, version: GiopVersion) {
        let mut buf = BytesMut::new();
        if Message::new(version, self.config.byte_order, body)
            .encode(&mut buf)
            .is_ok()
        {
            self.transmit.push_back(buf.freeze());
        }
    }
}

/// The request id of a message whose body could not be decoded, when it
/// can still be read: it comes first, or after the service contexts in
/// GIOP 1.0 and 1.1 requests and replies.
fn peek_request_id(frame: &Frame) -> Option<u32> {
    let header = frame.header;
    let mut r = CdrReader::new(frame.body.clone(), header.byte_order, header.version)
        .with_alignment_offset(GIOP_HEADER_LEN);
    match header.message_type {
        MessageType::Request | MessageType::Reply if header.version < GiopVersion::V1_2 => {
            ServiceContext::read_list(&mut r).ok()?;
            r.read_ulong().ok()
        }
        MessageType::CloseConnection | MessageType::MessageError => None,
        _ => r.read_ulong().ok(),
    }
}

#[cfg(test)]
mod tests;
