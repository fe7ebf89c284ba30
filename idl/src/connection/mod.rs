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

mod ids;
mod reassembly;

pub(crate) use ids::IdMap;

use std::collections::VecDeque;

use bytes::{BufMut, Bytes, BytesMut};

use crate::cdr::{ByteOrder, CdrReader, CdrWriter};
use crate::codeset::{CodeSetError, CodeSets};
use crate::error::{Error, Result};
use crate::giop::{
    CancelRequest, CodeSetContext, DEFAULT_MAX_MESSAGE_SIZE, Frame, GIOP_HEADER_LEN, GiopCodec,
    GiopHeader, KeyRequestHeader, LocateReply, LocateRequest, Message, MessageBody, MessageType,
    Reply, ReplyStatus, Request, ResponseFlags, ServiceContext, TargetAddress,
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
    /// Where outgoing messages are encoded; each queued message is split
    /// off it, and its space is reused once the driver has dropped it.
    outbound: BytesMut,
    transmit: VecDeque<Bytes>,
    events: VecDeque<Event>,
    next_request_id: u32,
    /// Client: requests awaiting a reply or locate reply.
    /// (No hashing, no allocation per call, and no worst case whatever
    /// ids the peer picks: see [`IdMap`].)
    outstanding: IdMap<()>,
    /// Server: requests owed a reply, with the version to answer in.
    owed: IdMap<GiopVersion>,
    reassembly: Reassembly,
    closed: bool,
    /// Client: the transmission code sets it chose; server: what the
    /// first CodeSets context said (`None`: nothing negotiated yet).
    code_sets: Option<std::result::Result<CodeSets, CodeSetError>>,
    /// Client: whether a request has carried the CodeSets context.
    code_sets_announced: bool,
}

impl Connection {
    /// Creates a connection.
    pub fn new(config: ConnectionConfig) -> Self {
        let max_message_size = usize::try_from(config.max_message_size).unwrap_or(usize::MAX);
        Self {
            codec: GiopCodec::new().with_max_message_size(config.max_message_size),
            inbound: BytesMut::new(),
            outbound: BytesMut::new(),
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            next_request_id: 0,
            outstanding: IdMap::new(),
            owed: IdMap::new(),
            reassembly: Reassembly::new(max_message_size, config.max_fragmented_in_progress),
            closed: false,
            code_sets: None,
            code_sets_announced: false,
            config,
        }
    }

    /// Takes bytes read from the peer and decodes every whole message in them.
    pub fn handle_input(&mut self, data: &[u8]) {
        if self.closed {
            return;
        }
        reserve_buffer(&mut self.inbound, data.len());
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
        self.announce_code_sets(&mut request);
        let expects_reply = request.response_flags.response_expected();
        self.queue(
            MessageBody::Request(request),
            self.config.version,
            request_id,
        )?;
        if expects_reply {
            self.outstanding.insert(request_id, ());
        }
        Ok(request_id)
    }

    /// Sends a request to the object under `object_key`, `write_args`
    /// writing the in and inout arguments straight into the outgoing
    /// buffer: the same message as [`send_request`](Self::send_request)
    /// with a [`TargetAddress::KeyAddr`] target, without building a
    /// [`Request`] or a separate body. Returns the request id.
    ///
    /// The writer follows the connection's GIOP version, byte order and
    /// code sets and counts alignment from the start of the message, so
    /// the arguments are aligned as on the wire in every version. If
    /// `write_args` or the encoding fails, nothing is sent.
    pub fn send_request_with(
        &mut self,
        object_key: &[u8],
        operation: &str,
        response_flags: ResponseFlags,
        write_args: impl FnOnce(&mut CdrWriter<'_>) -> Result<()>,
    ) -> Result<u32> {
        self.send_request_with_contexts(object_key, operation, response_flags, &[], write_args)
    }

    /// [`send_request_with`](Self::send_request_with) with these service
    /// contexts in the request, after the CodeSets context when it is
    /// still to be announced (such as a CosTransactions
    /// `PropagationContext`). Returns the request id.
    pub fn send_request_with_contexts(
        &mut self,
        object_key: &[u8],
        operation: &str,
        response_flags: ResponseFlags,
        contexts: &[ServiceContext],
        write_args: impl FnOnce(&mut CdrWriter<'_>) -> Result<()>,
    ) -> Result<u32> {
        self.check_can_send(Role::Client)?;
        let (version, byte_order) = (self.config.version, self.config.byte_order);
        let code_sets = self.code_sets(version).unwrap_or_default();
        let code_set_context = self.pending_code_set_context();
        // Only the first request of a connection carries both.
        let service_contexts: std::borrow::Cow<'_, [ServiceContext]> =
            match (&code_set_context, contexts) {
                (None, contexts) => contexts.into(),
                (Some(code_sets), []) => std::slice::from_ref(code_sets).into(),
                (Some(code_sets), contexts) => std::iter::once(code_sets.clone())
                    .chain(contexts.iter().cloned())
                    .collect::<Vec<_>>()
                    .into(),
            };
        let contexts_size: usize = service_contexts
            .iter()
            .map(|c| c.context_data.len() + 8)
            .sum();
        let request_id = self.fresh_request_id();
        let header = KeyRequestHeader {
            request_id,
            response_flags,
            object_key,
            operation,
            service_contexts: &service_contexts,
        };
        reserve_buffer(
            &mut self.outbound,
            object_key.len() + operation.len() + contexts_size + 128,
        );
        let start = self.outbound.len();
        let encoded = encode_message(&mut self.outbound, version, byte_order, |w| {
            let mut w = w
                .with_char_code_set(code_sets.char_data)
                .with_wchar_code_set(code_sets.wchar_data);
            header.write(&mut w)?;
            if version == GiopVersion::V1_2 {
                // The body is 8-aligned, with no padding when it is empty.
                let before_padding = w.written();
                w.align(8);
                let padded = w.written();
                write_args(&mut w)?;
                if w.written() == padded {
                    w.truncate(before_padding);
                }
                Ok(())
            } else {
                write_args(&mut w)
            }
        });
        if let Err(error) = encoded {
            self.outbound.truncate(start);
            return Err(error);
        }
        if code_set_context.is_some() {
            self.code_sets_announced = true;
        }
        // Everything before `start` was split off by earlier sends.
        let encoded = self.outbound.split().freeze();
        let pieces = match self.config.max_fragment_size {
            Some(limit) if version == GiopVersion::V1_2 && encoded.len() > limit => {
                reassembly::fragment_encoded(
                    version,
                    byte_order,
                    MessageType::Request,
                    request_id,
                    &encoded,
                    limit,
                )
            }
            _ => Vec::new(),
        };
        if pieces.is_empty() {
            self.transmit.push_back(encoded);
        } else {
            for piece in pieces {
                reserve_buffer(&mut self.outbound, piece_size_hint(&piece));
                piece.encode(&mut self.outbound)?;
                self.transmit.push_back(self.outbound.split().freeze());
            }
        }
        if response_flags.response_expected() {
            self.outstanding.insert(request_id, ());
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
        self.outstanding.insert(request_id, ());
        Ok(request_id)
    }

    /// Tells the server the client no longer waits for a reply.
    pub fn cancel_request(&mut self, request_id: u32) -> Result<()> {
        self.check_can_send(Role::Client)?;
        if self.outstanding.remove(request_id).is_none() {
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

    /// Client: sets the transmission code sets chosen for this connection
    /// (see [`crate::codeset`]). The first GIOP 1.1 or 1.2 request sent
    /// afterwards carries them in a CodeSets service context; set them
    /// before the first request.
    pub fn set_code_sets(&mut self, code_sets: CodeSets) {
        self.code_sets = Some(Ok(code_sets));
    }

    /// The transmission code sets of messages in `version`: ISO-8859-1
    /// and no wide code set in GIOP 1.0 or before anything is negotiated;
    /// an error when the client's CodeSets context named a code set this
    /// side does not support (a server answers CODESET_INCOMPATIBLE).
    pub fn code_sets(&self, version: GiopVersion) -> std::result::Result<CodeSets, CodeSetError> {
        match (version, self.code_sets) {
            (GiopVersion::V1_0, _) | (_, None) => Ok(CodeSets::UNNEGOTIATED),
            (_, Some(negotiated)) => negotiated,
        }
    }

    /// Client: the CodeSets context the next request will carry, if it is
    /// still to be announced. A driver that encodes GIOP 1.0/1.1 bodies
    /// before sending puts it in the request first, since it moves the
    /// body and so its alignment; `send_request` adds it otherwise.
    pub fn pending_code_set_context(&self) -> Option<ServiceContext> {
        if self.code_sets_announced
            || self.config.role != Role::Client
            || self.config.version == GiopVersion::V1_0
        {
            return None;
        }
        match self.code_sets {
            Some(Ok(code_sets)) => Some(code_sets.to_service_context(self.config.byte_order)),
            _ => None,
        }
    }

    /// Client: adds the CodeSets context to the first GIOP 1.1+ request.
    fn announce_code_sets(&mut self, request: &mut Request) {
        if self.code_sets_announced || self.config.version == GiopVersion::V1_0 {
            return;
        }
        if let Some(Ok(code_sets)) = self.code_sets {
            if !request
                .service_contexts
                .iter()
                .any(|c| c.context_id == ServiceContext::CODE_SETS)
            {
                request
                    .service_contexts
                    .push(code_sets.to_service_context(self.config.byte_order));
            }
            self.code_sets_announced = true;
        }
    }

    /// Server: records the code sets of the first CodeSets context of the
    /// connection (later ones are ignored, as the specification says).
    fn record_code_sets(&mut self, version: GiopVersion, contexts: &[ServiceContext]) {
        if self.code_sets.is_some() || version == GiopVersion::V1_0 {
            return;
        }
        let context = contexts
            .iter()
            .find(|c| c.context_id == ServiceContext::CODE_SETS)
            .and_then(|c| CodeSetContext::from_service_context(c).ok());
        if let Some(context) = context {
            self.code_sets = Some(CodeSets::from_context(&context));
        }
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
                let (version, contexts) = (message.version, &request.service_contexts);
                self.record_code_sets(version, contexts);
                if request.response_flags.response_expected() {
                    self.owed.insert(request.request_id, message.version);
                }
            }
            (MessageBody::LocateRequest(locate), Role::Server) => {
                self.owed.insert(locate.request_id, message.version);
            }
            (MessageBody::CancelRequest(cancel), Role::Server) => {
                self.owed.remove(cancel.request_id);
            }
            (MessageBody::Reply(Reply { request_id, .. }), Role::Client)
            | (MessageBody::LocateReply(LocateReply { request_id, .. }), Role::Client) => {
                if self.outstanding.remove(*request_id).is_none() {
                    // A reply to a cancelled (or unknown) request is dropped.
                    return;
                }
            }
            (MessageBody::CloseConnection, _) => {
                let unanswered = self.outstanding.take_sorted();
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
                    self.outstanding.remove(id);
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
        self.owed.remove(request_id).ok_or(Error::ProtocolViolation(
            "no request with this id awaits a reply",
        ))
    }

    /// The next request id not awaiting a reply.
    fn fresh_request_id(&mut self) -> u32 {
        loop {
            let id = self.next_request_id;
            self.next_request_id = self.next_request_id.wrapping_add(1);
            if !self.outstanding.contains(id) {
                return id;
            }
        }
    }

    /// Encodes a message and queues it, in fragments when it is a large
    /// GIOP 1.2 message and fragmentation is configured.
    fn queue(&mut self, body: MessageBody, version: GiopVersion, request_id: u32) -> Result<()> {
        let message = Message::new(version, self.config.byte_order, body);
        reserve_buffer(&mut self.outbound, encoded_size_hint(&message.body));
        message.encode(&mut self.outbound)?;
        let encoded = self.outbound.split().freeze();
        match self.config.max_fragment_size {
            Some(limit)
                if version == GiopVersion::V1_2
                    && encoded.len() > limit
                    && message.body.message_type().can_fragment(version) =>
            {
                for piece in reassembly::fragment(&message, request_id, encoded, limit)? {
                    reserve_buffer(&mut self.outbound, piece_size_hint(&piece));
                    piece.encode(&mut self.outbound)?;
                    self.transmit.push_back(self.outbound.split().freeze());
                }
            }
            _ => self.transmit.push_back(encoded),
        }
        Ok(())
    }

    /// Queues a header-only message, which always encodes.
    fn queue_whole(&mut self, body: MessageBody, version: GiopVersion) {
        reserve_buffer(&mut self.outbound, GIOP_HEADER_LEN);
        if Message::new(version, self.config.byte_order, body)
            .encode(&mut self.outbound)
            .is_ok()
        {
            self.transmit.push_back(self.outbound.split().freeze());
        }
    }
}

/// The smallest block the connection's buffers grow by: enough for the
/// typical request or reply, so that most messages need no allocation.
const BUFFER_BLOCK: usize = 4 * 1024;

/// Makes room for `additional` bytes at the end of `buf`, growing by at
/// least [`BUFFER_BLOCK`]. Once every message split off earlier has been
/// dropped, `BytesMut` takes its space back instead of allocating.
fn reserve_buffer(buf: &mut BytesMut, additional: usize) {
    if buf.capacity() - buf.len() < additional {
        buf.reserve(additional.max(BUFFER_BLOCK));
    }
}

/// Encodes one Request into `buf` after what it holds: the header, then
/// what `write_body` writes with a writer whose alignment origin is the
/// header's first byte, then the header's size field.
fn encode_message(
    buf: &mut BytesMut,
    version: GiopVersion,
    byte_order: ByteOrder,
    write_body: impl FnOnce(CdrWriter<'_>) -> Result<()>,
) -> Result<()> {
    let start = buf.len();
    buf.put_bytes(0, GIOP_HEADER_LEN);
    write_body(CdrWriter::new(buf, byte_order, version).with_alignment_offset(GIOP_HEADER_LEN))?;
    let size = buf.len() - start - GIOP_HEADER_LEN;
    let message_size = u32::try_from(size).map_err(|_| Error::LengthOverflow(size))?;
    let header = GiopHeader {
        version,
        byte_order,
        more_fragments: false,
        message_type: MessageType::Request,
        message_size,
    };
    if let Some(slot) = buf.get_mut(start..start + GIOP_HEADER_LEN) {
        slot.copy_from_slice(&header.encode());
    }
    Ok(())
}

/// The size of an encoded fragment: its data and a fragment header.
fn piece_size_hint(piece: &Message) -> usize {
    encoded_size_hint(&piece.body)
}

/// Roughly how many bytes `body` encodes to: its undecoded payload and a
/// header's worth more.
fn encoded_size_hint(body: &MessageBody) -> usize {
    let payload = match body {
        MessageBody::Request(request) => request.body.len() + request.operation.len(),
        MessageBody::Reply(Reply {
            status: ReplyStatus::NoException(body) | ReplyStatus::UserException(body),
            ..
        }) => body.len(),
        MessageBody::Fragment(fragment) => fragment.data.len(),
        MessageBody::FirstFragment(first) => first.data.len(),
        _ => 0,
    };
    payload + 128
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
