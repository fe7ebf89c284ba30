//! The IIOP client: one connection, invocations one at a time.

use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::OrbError;
use crate::GiopVersion;
use crate::cdr::{ByteOrder, CdrReader, CdrWriter};
use crate::connection::{Connection, ConnectionConfig, Event, Role};
use crate::giop::{
    LocateStatus, Message, MessageBody, ReplyStatus, Request, ResponseFlags, SystemException,
    TargetAddress,
};
use crate::ior::{Corbaloc, CorbalocAddress, Ior};

/// How a client connection speaks.
#[derive(Clone, Copy, Debug)]
pub struct ClientConfig {
    /// The GIOP version of requests.
    pub version: GiopVersion,
    /// The byte order of requests.
    pub byte_order: ByteOrder,
    /// GIOP 1.2 requests larger than this go in fragments; `None` never
    /// fragments.
    pub max_fragment_size: Option<usize>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            version: GiopVersion::V1_2,
            byte_order: ByteOrder::LittleEndian,
            max_fragment_size: None,
        }
    }
}

/// What a reply carried.
#[derive(Debug)]
pub enum ReplyBody {
    /// NO_EXCEPTION: a reader over the result and out arguments.
    Return(CdrReader),
    /// USER_EXCEPTION: the exception's repository id, and a reader over
    /// its members.
    UserException {
        /// The exception's repository id.
        id: String,
        /// Its members.
        members: CdrReader,
    },
    /// SYSTEM_EXCEPTION.
    System(SystemException),
    /// LOCATION_FORWARD or LOCATION_FORWARD_PERM: retry on this reference.
    Forward(Ior),
    /// A oneway request: no reply.
    None,
}

/// A connection to one IIOP server.
#[derive(Debug)]
pub struct OrbClient {
    stream: TcpStream,
    connection: Connection,
    config: ClientConfig,
    read_buf: BytesMut,
}

impl OrbClient {
    /// Connects to `addr`.
    pub async fn connect(addr: SocketAddr, config: ClientConfig) -> Result<Self, OrbError> {
        let stream = TcpStream::connect(addr).await?;
        let _ = stream.set_nodelay(true);
        let mut connection_config = ConnectionConfig::new(Role::Client);
        connection_config.version = config.version;
        connection_config.byte_order = config.byte_order;
        connection_config.max_fragment_size = config.max_fragment_size;
        Ok(Self {
            stream,
            connection: Connection::new(connection_config),
            config,
            read_buf: BytesMut::with_capacity(16 * 1024),
        })
    }

    /// Connects to the first IIOP address of a `corbaloc:` URL and returns
    /// the client and the object key.
    pub async fn connect_corbaloc(
        url: &str,
        config: ClientConfig,
    ) -> Result<(Self, Bytes), OrbError> {
        let corbaloc = Corbaloc::parse(url)?;
        let (host, port) = corbaloc
            .addresses
            .iter()
            .find_map(|a| match a {
                CorbalocAddress::Iiop { host, port, .. } => Some((host.clone(), *port)),
                CorbalocAddress::Rir => None,
            })
            .ok_or(OrbError::NoAddress("corbaloc with rir: only"))?;
        let addr = tokio::net::lookup_host((host.as_str(), port))
            .await?
            .next()
            .ok_or(OrbError::NoAddress("the host name does not resolve"))?;
        Ok((Self::connect(addr, config).await?, corbaloc.key))
    }

    /// Invokes `operation` on the object under `key`; `args` writes the in
    /// and inout arguments. Waits for the reply.
    pub async fn invoke(
        &mut self,
        key: &[u8],
        operation: &str,
        args: impl FnOnce(&mut CdrWriter<'_>) -> crate::Result<()>,
    ) -> Result<ReplyBody, OrbError> {
        self.call(key, operation, args, true).await
    }

    /// Sends a oneway request; returns once it is written.
    pub async fn invoke_oneway(
        &mut self,
        key: &[u8],
        operation: &str,
        args: impl FnOnce(&mut CdrWriter<'_>) -> crate::Result<()>,
    ) -> Result<(), OrbError> {
        self.call(key, operation, args, false).await.map(drop)
    }

    /// Asks the server whether it has the object under `key`.
    pub async fn locate(&mut self, key: &[u8]) -> Result<LocateStatus, OrbError> {
        let request_id = self
            .connection
            .send_locate_request(TargetAddress::KeyAddr(Bytes::copy_from_slice(key)))?;
        self.flush().await?;
        loop {
            match self.next_message().await? {
                MessageBody::LocateReply(reply) if reply.request_id == request_id => {
                    return Ok(reply.status);
                }
                _ => continue,
            }
        }
    }

    async fn call(
        &mut self,
        key: &[u8],
        operation: &str,
        args: impl FnOnce(&mut CdrWriter<'_>) -> crate::Result<()>,
        response_expected: bool,
    ) -> Result<ReplyBody, OrbError> {
        let mut request = Request {
            request_id: 0,
            response_flags: if response_expected {
                ResponseFlags::SyncWithTarget
            } else {
                ResponseFlags::from_response_expected(false)
            },
            target: TargetAddress::KeyAddr(Bytes::copy_from_slice(key)),
            operation: operation.to_owned(),
            service_contexts: Vec::new(),
            requesting_principal: Bytes::new(),
            body: Bytes::new(),
        };
        let offset = match self.config.version {
            GiopVersion::V1_2 => 0,
            GiopVersion::V1_0 | GiopVersion::V1_1 => {
                // The id is a fixed-size field, so 0 gives the same offset.
                Message::new(
                    self.config.version,
                    self.config.byte_order,
                    MessageBody::Request(request.clone()),
                )
                .body_offset()?
                .unwrap_or(crate::giop::GIOP_HEADER_LEN)
            }
        };
        let mut body = BytesMut::with_capacity(64);
        {
            let mut writer = CdrWriter::new(&mut body, self.config.byte_order, self.config.version)
                .with_alignment_offset(offset);
            args(&mut writer)?;
        }
        request.body = body.freeze();
        let request_id = self.connection.send_request(request)?;
        self.flush().await?;
        if !response_expected {
            return Ok(ReplyBody::None);
        }
        let message = self.next_reply_message(request_id).await?;
        reply_body(message)
    }

    async fn flush(&mut self) -> Result<(), OrbError> {
        while let Some(bytes) = self.connection.poll_transmit() {
            self.stream.write_all(&bytes).await?;
        }
        Ok(())
    }

    /// Reads until the reply to `request_id` arrives; returns the whole
    /// message (its version and byte order are needed to read the body).
    async fn next_reply_message(&mut self, request_id: u32) -> Result<Message, OrbError> {
        loop {
            while let Some(event) = self.connection.poll_event() {
                match event {
                    Event::Message(message) => {
                        if let MessageBody::Reply(reply) = &message.body
                            && reply.request_id == request_id
                        {
                            return Ok(message);
                        }
                    }
                    Event::Malformed { error, .. } | Event::ProtocolError(error) => {
                        self.flush().await?;
                        return Err(OrbError::Giop(error));
                    }
                    Event::PeerClosed { .. } | Event::PeerRejected => return Err(OrbError::Closed),
                }
            }
            self.fill().await?;
        }
    }

    async fn next_message(&mut self) -> Result<MessageBody, OrbError> {
        loop {
            if let Some(event) = self.connection.poll_event() {
                return match event {
                    Event::Message(message) => Ok(message.body),
                    Event::Malformed { error, .. } | Event::ProtocolError(error) => {
                        Err(OrbError::Giop(error))
                    }
                    Event::PeerClosed { .. } | Event::PeerRejected => Err(OrbError::Closed),
                };
            }
            self.fill().await?;
        }
    }

    async fn fill(&mut self) -> Result<(), OrbError> {
        self.read_buf.clear();
        match self.stream.read_buf(&mut self.read_buf).await? {
            0 => Err(OrbError::Closed),
            _ => {
                self.connection.handle_input(&self.read_buf);
                Ok(())
            }
        }
    }
}

fn reply_body(message: Message) -> Result<ReplyBody, OrbError> {
    let (version, byte_order) = (message.version, message.byte_order);
    let reader = |message: &Message, body: &Bytes| -> Result<CdrReader, OrbError> {
        Ok(match version {
            GiopVersion::V1_2 => CdrReader::new(body.clone(), byte_order, version),
            GiopVersion::V1_0 | GiopVersion::V1_1 => message
                .body_reader()?
                .unwrap_or_else(|| CdrReader::new(body.clone(), byte_order, version)),
        })
    };
    let MessageBody::Reply(reply) = &message.body else {
        return Err(OrbError::Closed);
    };
    Ok(match &reply.status {
        ReplyStatus::NoException(body) => ReplyBody::Return(reader(&message, body)?),
        ReplyStatus::UserException(body) => {
            let mut members = reader(&message, body)?;
            let id = members.read_string()?;
            ReplyBody::UserException { id, members }
        }
        ReplyStatus::SystemException(exception) => ReplyBody::System(exception.clone()),
        ReplyStatus::LocationForward(ior) | ReplyStatus::LocationForwardPerm(ior) => {
            ReplyBody::Forward(ior.clone())
        }
        ReplyStatus::NeedsAddressingMode(_) => ReplyBody::System(SystemException::standard(
            "NO_IMPLEMENT",
            SystemException::OMG_VMCID,
            crate::giop::CompletionStatus::No,
        )),
    })
}
