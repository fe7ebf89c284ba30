//! The Request message.

use bytes::Bytes;

use super::{ServiceContext, TargetAddress};
use crate::cdr::{ByteOrder, CdrReader, CdrWriter};
use crate::error::{Error, Result};
use crate::version::GiopVersion;

/// A Request: a client invokes `operation` on `target`.
///
/// The three header layouts are:
/// - 1.0: `service_context, request_id, boolean response_expected,
///   object_key, operation, requesting_principal`;
/// - 1.1: the same with `octet reserved[3]` after `response_expected`;
/// - 1.2: `request_id, octet response_flags, reserved[3], TargetAddress,
///   operation, service_context`, then the body aligned on 8 (omitted
///   padding is accepted when there is no body, as omniORB sends it).
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Request {
    /// Identifies the request on its connection.
    pub request_id: u32,
    /// Whether and when the client wants a reply.
    pub response_flags: ResponseFlags,
    /// The target object; only [`TargetAddress::KeyAddr`] before GIOP 1.2.
    pub target: TargetAddress,
    /// The operation name, unscoped (`_get_x`/`_set_x` for attributes).
    pub operation: String,
    /// Service contexts, such as code sets or transactions.
    pub service_contexts: Vec<ServiceContext>,
    /// The requesting principal of GIOP 1.0 and 1.1; must be empty in 1.2.
    pub requesting_principal: Bytes,
    /// The marshalled in and inout arguments, undecoded.
    pub body: Bytes,
}

impl Request {
    /// Reads a request header and takes the rest as the body.
    pub fn read(r: &mut CdrReader) -> Result<Self> {
        let version = r.version();
        if version == GiopVersion::V1_2 {
            let request_id = r.read_ulong()?;
            let response_flags = ResponseFlags::from_octet(r.read_octet()?)?;
            r.skip(3)?;
            let target = TargetAddress::read(r)?;
            let operation = r.read_string()?;
            let service_contexts = ServiceContext::read_list(r)?;
            let body = read_aligned_body(r)?;
            return Ok(Self {
                request_id,
                response_flags,
                target,
                operation,
                service_contexts,
                requesting_principal: Bytes::new(),
                body,
            });
        }
        let service_contexts = ServiceContext::read_list(r)?;
        let request_id = r.read_ulong()?;
        let response_flags = ResponseFlags::from_response_expected(r.read_boolean()?);
        if version == GiopVersion::V1_1 {
            r.skip(3)?;
        }
        let target = TargetAddress::read(r)?;
        let operation = r.read_string()?;
        let requesting_principal = r.read_octet_sequence()?;
        let body = r.read_rest();
        Ok(Self {
            request_id,
            response_flags,
            target,
            operation,
            service_contexts,
            requesting_principal,
            body,
        })
    }

    /// Writes the request header and body.
    pub fn write(&self, w: &mut CdrWriter<'_>) -> Result<()> {
        let version = w.version();
        if version == GiopVersion::V1_2 {
            if !self.requesting_principal.is_empty() {
                return Err(version.not_allowed("a requesting principal"));
            }
            w.write_ulong(self.request_id);
            w.write_octet(self.response_flags.octet());
            w.write_octets(&[0; 3]);
            self.target.write(w)?;
            w.write_string(&self.operation)?;
            ServiceContext::write_list(&self.service_contexts, w)?;
            write_aligned_body(w, &self.body);
            return Ok(());
        }
        ServiceContext::write_list(&self.service_contexts, w)?;
        w.write_ulong(self.request_id);
        w.write_boolean(self.response_flags.response_expected());
        if version == GiopVersion::V1_1 {
            w.write_octets(&[0; 3]);
        }
        self.target.write(w)?;
        w.write_string(&self.operation)?;
        w.write_octet_sequence(&self.requesting_principal)?;
        w.write_octets(&self.body);
        Ok(())
    }
}

/// The header of a Request to an object key, borrowed from the caller: a
/// client encodes it and then its arguments straight into the outgoing
/// buffer, without building a [`Request`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct KeyRequestHeader<'a> {
    pub(crate) request_id: u32,
    pub(crate) response_flags: ResponseFlags,
    pub(crate) object_key: &'a [u8],
    pub(crate) operation: &'a str,
    pub(crate) service_contexts: &'a [ServiceContext],
}

impl KeyRequestHeader<'_> {
    /// Writes the header as [`Request::write`] does for a
    /// [`TargetAddress::KeyAddr`] target with no requesting principal; the
    /// body goes right after it (8-aligned in GIOP 1.2 unless empty).
    pub(crate) fn write(&self, w: &mut CdrWriter<'_>) -> Result<()> {
        if w.version() == GiopVersion::V1_2 {
            // The fixed part in one piece when it starts 4-aligned (it
            // does after a GIOP header): request id, flags, reserved,
            // KeyAddr, padding, key length.
            if w.padding(4) == 0
                && let Ok(key_len) = u32::try_from(self.object_key.len())
            {
                let (id, key_len) = match w.byte_order() {
                    ByteOrder::BigEndian => (self.request_id.to_be_bytes(), key_len.to_be_bytes()),
                    ByteOrder::LittleEndian => {
                        (self.request_id.to_le_bytes(), key_len.to_le_bytes())
                    }
                };
                let [i0, i1, i2, i3] = id;
                let [k0, k1, k2, k3] = key_len;
                let flags = self.response_flags.octet();
                w.write_octets(&[i0, i1, i2, i3, flags, 0, 0, 0, 0, 0, 0, 0, k0, k1, k2, k3]);
                w.write_octets(self.object_key);
                w.write_string(self.operation)?;
                return ServiceContext::write_list(self.service_contexts, w);
            }
            w.write_ulong(self.request_id);
            w.write_octet(self.response_flags.octet());
            w.write_octets(&[0; 3]);
            super::AddressingDisposition::KeyAddr.write(w);
            w.write_octet_sequence(self.object_key)?;
            w.write_string(self.operation)?;
            return ServiceContext::write_list(self.service_contexts, w);
        }
        ServiceContext::write_list(self.service_contexts, w)?;
        w.write_ulong(self.request_id);
        w.write_boolean(self.response_flags.response_expected());
        if w.version() == GiopVersion::V1_1 {
            w.write_octets(&[0; 3]);
        }
        w.write_octet_sequence(self.object_key)?;
        w.write_string(self.operation)?;
        // The empty requesting principal.
        w.write_octet_sequence(&[])
    }
}

/// Takes a GIOP 1.2 body: aligned on 8, with the padding optional when the
/// body is empty.
pub(crate) fn read_aligned_body(r: &mut CdrReader) -> Result<Bytes> {
    if r.remaining() == 0 {
        return Ok(Bytes::new());
    }
    r.align(8)?;
    Ok(r.read_rest())
}

/// Writes a GIOP 1.2 body: aligned on 8, with no padding when it is empty.
pub(crate) fn write_aligned_body(w: &mut CdrWriter<'_>, body: &[u8]) {
    if !body.is_empty() {
        w.align(8);
        w.write_octets(body);
    }
}

/// The `response_flags` of GIOP 1.2, or `response_expected` before it.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum ResponseFlags {
    /// `0x00`: oneway (SYNC_NONE or SYNC_WITH_TRANSPORT); no reply is sent.
    /// `response_expected = FALSE` before GIOP 1.2.
    NoResponse,
    /// `0x01`: SYNC_WITH_SERVER; an empty reply once the server has the request.
    SyncWithServer,
    /// `0x03`: a normal twoway call (SYNC_WITH_TARGET).
    /// `response_expected = TRUE` before GIOP 1.2.
    SyncWithTarget,
}

impl ResponseFlags {
    /// Decodes the GIOP 1.2 octet.
    pub fn from_octet(value: u8) -> Result<Self> {
        match value {
            0x00 => Ok(Self::NoResponse),
            0x01 => Ok(Self::SyncWithServer),
            0x03 => Ok(Self::SyncWithTarget),
            other => Err(Error::InvalidEnum {
                what: "response flags",
                value: u32::from(other),
            }),
        }
    }

    /// Maps the `response_expected` boolean of GIOP 1.0 and 1.1.
    pub fn from_response_expected(expected: bool) -> Self {
        if expected {
            Self::SyncWithTarget
        } else {
            Self::NoResponse
        }
    }

    /// The GIOP 1.2 octet.
    pub fn octet(self) -> u8 {
        match self {
            Self::NoResponse => 0x00,
            Self::SyncWithServer => 0x01,
            Self::SyncWithTarget => 0x03,
        }
    }

    /// Whether the server sends a Reply.
    pub fn response_expected(self) -> bool {
        self != Self::NoResponse
    }
}
