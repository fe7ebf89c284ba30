//! The Reply message and system exceptions.

use bytes::Bytes;

use super::request::{read_aligned_body, write_aligned_body};
use super::{AddressingDisposition, ServiceContext};
use crate::cdr::{CdrReader, CdrWriter};
use crate::error::{Error, Result};
use crate::ior::Ior;
use crate::version::GiopVersion;

/// A Reply: the server's answer to the Request with the same id.
///
/// Header layouts: 1.0 and 1.1 `service_context, request_id, reply_status`;
/// 1.2 `request_id, reply_status, service_context`, then the body aligned
/// on 8 (no padding when the body is empty).
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Reply {
    /// The id of the Request this answers.
    pub request_id: u32,
    /// Service contexts.
    pub service_contexts: Vec<ServiceContext>,
    /// The reply status and what it carries.
    pub status: ReplyStatus,
}

/// The `reply_status` of a Reply and the body that goes with it.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum ReplyStatus {
    /// 0: the result and the out and inout arguments, undecoded.
    NoException(Bytes),
    /// 1: the exception's repository id and members, undecoded.
    UserException(Bytes),
    /// 2: a CORBA system exception.
    SystemException(SystemException),
    /// 3: the client should retry the request on this reference.
    LocationForward(Ior),
    /// 4: as LocationForward, and the client may replace the reference (GIOP 1.2).
    LocationForwardPerm(Ior),
    /// 5: the client should resend with this kind of target address (GIOP 1.2).
    NeedsAddressingMode(AddressingDisposition),
}

impl ReplyStatus {
    /// The `reply_status` value on the wire.
    pub fn code(&self) -> u32 {
        match self {
            Self::NoException(_) => 0,
            Self::UserException(_) => 1,
            Self::SystemException(_) => 2,
            Self::LocationForward(_) => 3,
            Self::LocationForwardPerm(_) => 4,
            Self::NeedsAddressingMode(_) => 5,
        }
    }

    /// Reads the body for status `code`; the reader is at the body's start
    /// (before the GIOP 1.2 alignment).
    fn read_body(code: u32, r: &mut CdrReader) -> Result<Self> {
        let version = r.version();
        match code {
            0 => return read_opaque_body(r).map(Self::NoException),
            1 => return read_opaque_body(r).map(Self::UserException),
            4 | 5 if version < GiopVersion::V1_2 => {
                return Err(version.not_allowed("this reply status"));
            }
            2..=5 => {}
            other => {
                return Err(Error::InvalidEnum {
                    what: "reply status",
                    value: other,
                });
            }
        }
        if version == GiopVersion::V1_2 {
            r.align(8)?;
        }
        let status = match code {
            2 => Self::SystemException(SystemException::read(r)?),
            3 => Self::LocationForward(Ior::read(r)?),
            4 => Self::LocationForwardPerm(Ior::read(r)?),
            _ => Self::NeedsAddressingMode(AddressingDisposition::read(r)?),
        };
        // A decoded body must use every byte: garbage after it is an error.
        r.finish()?;
        Ok(status)
    }

    fn write_body(&self, w: &mut CdrWriter<'_>) -> Result<()> {
        let version = w.version();
        if let Self::NoException(body) | Self::UserException(body) = self {
            if version == GiopVersion::V1_2 {
                write_aligned_body(w, body);
            } else {
                w.write_octets(body);
            }
            return Ok(());
        }
        if version == GiopVersion::V1_2 {
            w.align(8);
        } else if matches!(
            self,
            Self::LocationForwardPerm(_) | Self::NeedsAddressingMode(_)
        ) {
            return Err(version.not_allowed("this reply status"));
        }
        match self {
            Self::NoException(_) | Self::UserException(_) => Ok(()),
            Self::SystemException(exception) => exception.write(w),
            Self::LocationForward(ior) | Self::LocationForwardPerm(ior) => ior.write(w),
            Self::NeedsAddressingMode(disposition) => {
                disposition.write(w);
                Ok(())
            }
        }
    }
}

/// Takes an undecoded reply body: 8-aligned in GIOP 1.2, right after
/// the header before.
fn read_opaque_body(r: &mut CdrReader) -> Result<Bytes> {
    if r.version() == GiopVersion::V1_2 {
        read_aligned_body(r)
    } else {
        Ok(r.read_rest())
    }
}

impl Reply {
    /// Reads a reply.
    pub fn read(r: &mut CdrReader) -> Result<Self> {
        if r.version() == GiopVersion::V1_2 {
            let request_id = r.read_ulong()?;
            let code = r.read_ulong()?;
            let service_contexts = ServiceContext::read_list(r)?;
            let status = ReplyStatus::read_body(code, r)?;
            return Ok(Self {
                request_id,
                service_contexts,
                status,
            });
        }
        let service_contexts = ServiceContext::read_list(r)?;
        let request_id = r.read_ulong()?;
        let code = r.read_ulong()?;
        let status = ReplyStatus::read_body(code, r)?;
        Ok(Self {
            request_id,
            service_contexts,
            status,
        })
    }

    /// Writes the reply.
    pub fn write(&self, w: &mut CdrWriter<'_>) -> Result<()> {
        if w.version() == GiopVersion::V1_2 {
            w.write_ulong(self.request_id);
            w.write_ulong(self.status.code());
            ServiceContext::write_list(&self.service_contexts, w)?;
        } else {
            ServiceContext::write_list(&self.service_contexts, w)?;
            w.write_ulong(self.request_id);
            w.write_ulong(self.status.code());
        }
        self.status.write_body(w)
    }
}

/// A CORBA system exception as marshalled in a Reply or LocateReply:
/// `{ string exception_id; unsigned long minor_code_value; unsigned long completion_status; }`.
#[derive(Clone, Debug, Eq, Hash, PartialEq)]
pub struct SystemException {
    /// The repository id, such as `IDL:omg.org/CORBA/OBJECT_NOT_EXIST:1.0`.
    pub exception_id: String,
    /// The minor code: a vendor id (high 20 bits) and a code.
    pub minor: u32,
    /// Whether the operation ran.
    pub completed: CompletionStatus,
}

impl SystemException {
    /// The OMG's vendor minor code set id (`"OM"`), for standard minor codes.
    pub const OMG_VMCID: u32 = 0x4F4D_0000;

    /// A standard system exception: `name` such as `"MARSHAL"` becomes
    /// `IDL:omg.org/CORBA/MARSHAL:1.0`.
    pub fn standard(name: &str, minor: u32, completed: CompletionStatus) -> Self {
        Self {
            exception_id: format!("IDL:omg.org/CORBA/{name}:1.0"),
            minor,
            completed,
        }
    }

    /// Reads the exception.
    pub fn read(r: &mut CdrReader) -> Result<Self> {
        let exception_id = r.read_string()?;
        let minor = r.read_ulong()?;
        let completed = CompletionStatus::from_value(r.read_ulong()?)?;
        Ok(Self {
            exception_id,
            minor,
            completed,
        })
    }

    /// Writes the exception.
    pub fn write(&self, w: &mut CdrWriter<'_>) -> Result<()> {
        w.write_string(&self.exception_id)?;
        w.write_ulong(self.minor);
        w.write_ulong(self.completed.value());
        Ok(())
    }
}

/// Whether an operation that raised a system exception had run.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum CompletionStatus {
    /// 0: the operation completed before the exception.
    Yes,
    /// 1: the operation never started.
    No,
    /// 2: the operation may or may not have run.
    Maybe,
}

impl CompletionStatus {
    /// The wire value.
    pub fn value(self) -> u32 {
        match self {
            Self::Yes => 0,
            Self::No => 1,
            Self::Maybe => 2,
        }
    }

    /// The completion status with this wire value.
    pub fn from_value(value: u32) -> Result<Self> {
        match value {
            0 => Ok(Self::Yes),
            1 => Ok(Self::No),
            2 => Ok(Self::Maybe),
            other => Err(Error::InvalidEnum {
                what: "completion status",
                value: other,
            }),
        }
    }
}
