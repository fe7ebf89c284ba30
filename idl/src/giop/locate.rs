//! The LocateRequest and LocateReply messages.

use super::{AddressingDisposition, SystemException, TargetAddress};
use crate::cdr::{CdrReader, CdrWriter};
use crate::error::{Error, Result};
use crate::ior::Ior;
use crate::version::GiopVersion;

/// A LocateRequest: does the server have this object?
///
/// 1.0 and 1.1: `request_id, object_key`; 1.2: `request_id, TargetAddress`.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct LocateRequest {
    /// Identifies the request on its connection.
    pub request_id: u32,
    /// The object asked about; only [`TargetAddress::KeyAddr`] before GIOP 1.2.
    pub target: TargetAddress,
}

impl LocateRequest {
    /// Reads a locate request.
    pub fn read(r: &mut CdrReader) -> Result<Self> {
        let request_id = r.read_ulong()?;
        let target = TargetAddress::read(r)?;
        Ok(Self { request_id, target })
    }

    /// Writes the locate request.
    pub fn write(&self, w: &mut CdrWriter<'_>) -> Result<()> {
        w.write_ulong(self.request_id);
        self.target.write(w)
    }
}

/// A LocateReply: `request_id, locate_status`, then a body for some statuses.
///
/// Unlike Request and Reply, the GIOP 1.2 LocateReply body is not aligned on 8.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct LocateReply {
    /// The id of the LocateRequest this answers.
    pub request_id: u32,
    /// Where the object is.
    pub status: LocateStatus,
}

/// The `locate_status` of a LocateReply and the body that goes with it.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum LocateStatus {
    /// 0: the server does not know the object.
    UnknownObject,
    /// 1: the object is here; requests may be sent on this connection.
    ObjectHere,
    /// 2: the object is reachable through this reference.
    ObjectForward(Ior),
    /// 3: as ObjectForward, and the client may replace the reference (GIOP 1.2).
    ObjectForwardPerm(Ior),
    /// 4: locating the object raised a system exception (GIOP 1.2).
    LocSystemException(SystemException),
    /// 5: the client should resend with this kind of target address (GIOP 1.2).
    LocNeedsAddressingMode(AddressingDisposition),
}

impl LocateStatus {
    /// The `locate_status` value on the wire.
    pub fn code(&self) -> u32 {
        match self {
            Self::UnknownObject => 0,
            Self::ObjectHere => 1,
            Self::ObjectForward(_) => 2,
            Self::ObjectForwardPerm(_) => 3,
            Self::LocSystemException(_) => 4,
            Self::LocNeedsAddressingMode(_) => 5,
        }
    }
}

impl LocateReply {
    /// Reads a locate reply; the body must end with the status's data.
    pub fn read(r: &mut CdrReader) -> Result<Self> {
        let request_id = r.read_ulong()?;
        let code = r.read_ulong()?;
        if (3..=5).contains(&code) && r.version() < GiopVersion::V1_2 {
            return Err(r.version().not_allowed("this locate status"));
        }
        let status = match code {
            0 => LocateStatus::UnknownObject,
            1 => LocateStatus::ObjectHere,
            2 => LocateStatus::ObjectForward(Ior::read(r)?),
            3 => LocateStatus::ObjectForwardPerm(Ior::read(r)?),
            4 => LocateStatus::LocSystemException(SystemException::read(r)?),
            5 => LocateStatus::LocNeedsAddressingMode(AddressingDisposition::read(r)?),
            other => {
                return Err(Error::InvalidEnum {
                    what: "locate status",
                    value: other,
                });
            }
        };
        r.finish()?;
        Ok(Self { request_id, status })
    }

    /// Writes the locate reply.
    pub fn write(&self, w: &mut CdrWriter<'_>) -> Result<()> {
        if self.status.code() >= 3 && w.version() < GiopVersion::V1_2 {
            return Err(w.version().not_allowed("this locate status"));
        }
        w.write_ulong(self.request_id);
        w.write_ulong(self.status.code());
        match &self.status {
            LocateStatus::UnknownObject | LocateStatus::ObjectHere => Ok(()),
            LocateStatus::ObjectForward(ior) | LocateStatus::ObjectForwardPerm(ior) => ior.write(w),
            LocateStatus::LocSystemException(exception) => exception.write(w),
            LocateStatus::LocNeedsAddressingMode(disposition) => {
                disposition.write(w);
                Ok(())
            }
        }
    }
}
