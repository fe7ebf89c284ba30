//! The user exceptions of `CosNaming::NamingContext` and the typed error
//! of naming operations.

use crate::cdr::{CdrReader, CdrWriter};
use crate::giop::SystemException;
use crate::ior::Ior;
use crate::orb::OrbError;

use super::name::Name;

/// `IDL:omg.org/CosNaming/NamingContext/NotFound:1.0`.
pub const NOT_FOUND_ID: &str = "IDL:omg.org/CosNaming/NamingContext/NotFound:1.0";
/// `IDL:omg.org/CosNaming/NamingContext/CannotProceed:1.0`.
pub const CANNOT_PROCEED_ID: &str = "IDL:omg.org/CosNaming/NamingContext/CannotProceed:1.0";
/// `IDL:omg.org/CosNaming/NamingContext/InvalidName:1.0`.
pub const INVALID_NAME_ID: &str = "IDL:omg.org/CosNaming/NamingContext/InvalidName:1.0";
/// `IDL:omg.org/CosNaming/NamingContext/AlreadyBound:1.0`.
pub const ALREADY_BOUND_ID: &str = "IDL:omg.org/CosNaming/NamingContext/AlreadyBound:1.0";
/// `IDL:omg.org/CosNaming/NamingContext/NotEmpty:1.0`.
pub const NOT_EMPTY_ID: &str = "IDL:omg.org/CosNaming/NamingContext/NotEmpty:1.0";
/// `IDL:omg.org/CosNaming/NamingContextExt/InvalidAddress:1.0`.
pub const INVALID_ADDRESS_ID: &str = "IDL:omg.org/CosNaming/NamingContextExt/InvalidAddress:1.0";

/// `enum NotFoundReason { missing_node, not_context, not_object }`.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum NotFoundReason {
    /// A component of the name is not bound.
    MissingNode,
    /// A component that should name a context names an object.
    NotContext,
    /// A component that should name an object names a context.
    NotObject,
}

impl NotFoundReason {
    /// Reads the enum (a `ulong`).
    pub fn read(r: &mut CdrReader) -> crate::Result<Self> {
        match r.read_ulong()? {
            0 => Ok(Self::MissingNode),
            1 => Ok(Self::NotContext),
            2 => Ok(Self::NotObject),
            value => Err(crate::Error::InvalidEnum {
                what: "CosNaming::NamingContext::NotFoundReason",
                value,
            }),
        }
    }

    /// Writes the enum.
    pub fn write(self, w: &mut CdrWriter<'_>) {
        w.write_ulong(match self {
            Self::MissingNode => 0,
            Self::NotContext => 1,
            Self::NotObject => 2,
        });
    }
}

/// What a naming operation can fail with: the `CosNaming` user exceptions
/// with their members, system exceptions, and local failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NamingError {
    /// `NotFound { why, rest_of_name }`.
    #[error("name not found ({why:?}); rest of name {rest_of_name:?}")]
    NotFound {
        /// Why.
        why: NotFoundReason,
        /// The unresolved part of the name, from the failing component on.
        rest_of_name: Name,
    },
    /// `CannotProceed { cxt, rest_of_name }`: the client may continue at `context`.
    #[error("the naming service cannot proceed; rest of name {rest_of_name:?}")]
    CannotProceed {
        /// The context to continue at.
        context: Ior,
        /// What remains to resolve there.
        rest_of_name: Name,
    },
    /// `InvalidName`.
    #[error("invalid name")]
    InvalidName,
    /// `AlreadyBound`.
    #[error("the name is already bound")]
    AlreadyBound,
    /// `NotEmpty` (from `destroy`).
    #[error("the naming context is not empty")]
    NotEmpty,
    /// `NamingContextExt::InvalidAddress` (from `to_url`).
    #[error("invalid address")]
    InvalidAddress,
    /// A user exception no naming operation raises.
    #[error("unexpected user exception {0}")]
    UnknownUserException(String),
    /// A CORBA system exception.
    #[error("system exception {} minor {:#x}", .0.exception_id, .0.minor)]
    System(SystemException),
    /// The reference or URL could not be used.
    #[error("{0}")]
    Reference(crate::Error),
    /// The call failed on the connection or in marshalling.
    #[error(transparent)]
    Orb(#[from] OrbError),
}

impl From<crate::Error> for NamingError {
    fn from(error: crate::Error) -> Self {
        Self::Orb(OrbError::Giop(error))
    }
}

impl NamingError {
    /// Decodes a user exception by repository id.
    pub fn from_user_exception(id: &str, members: &mut CdrReader) -> crate::Result<Self> {
        Ok(match id {
            NOT_FOUND_ID => Self::NotFound {
                why: NotFoundReason::read(members)?,
                rest_of_name: Name::read(members)?,
            },
            CANNOT_PROCEED_ID => Self::CannotProceed {
                context: Ior::read(members)?,
                rest_of_name: Name::read(members)?,
            },
            INVALID_NAME_ID => Self::InvalidName,
            ALREADY_BOUND_ID => Self::AlreadyBound,
            NOT_EMPTY_ID => Self::NotEmpty,
            INVALID_ADDRESS_ID => Self::InvalidAddress,
            other => Self::UnknownUserException(other.to_owned()),
        })
    }

    /// The repository id of the user exception this error is, if it is one
    /// of the `CosNaming` exceptions.
    pub fn user_exception_id(&self) -> Option<&'static str> {
        Some(match self {
            Self::NotFound { .. } => NOT_FOUND_ID,
            Self::CannotProceed { .. } => CANNOT_PROCEED_ID,
            Self::InvalidName => INVALID_NAME_ID,
            Self::AlreadyBound => ALREADY_BOUND_ID,
            Self::NotEmpty => NOT_EMPTY_ID,
            Self::InvalidAddress => INVALID_ADDRESS_ID,
            _ => return None,
        })
    }

    /// Writes the members of the user exception (after its id).
    pub fn write_members(&self, w: &mut CdrWriter<'_>) -> crate::Result<()> {
        match self {
            Self::NotFound { why, rest_of_name } => {
                why.write(w);
                rest_of_name.write(w)
            }
            Self::CannotProceed {
                context,
                rest_of_name,
            } => {
                context.write(w)?;
                rest_of_name.write(w)
            }
            _ => Ok(()),
        }
    }
}
