//! What generated code calls at run time: the CDR traits every generated
//! type implements, the user and system exception types of generated
//! stubs and skeletons, and the few checks that are not one CDR call
//! (bounds, `fixed`, `any`).
//!
//! Generated code refers to these items by their full path
//! (`::ithaca_idl::codegen::runtime::…`), so a crate that includes generated
//! code only needs `ithaca-idl` (and `bytes`) as dependencies.

use std::fmt;

use crate::cdr::{CdrReader, CdrWriter};
use crate::dynamic::{self, Fixed, TypeCode, Value};
use crate::error::{Error, Result};
use crate::giop::{CompletionStatus, LocateStatus, SystemException};
use crate::orb::{Call, OrbError, Outcome, ReplyBody};

pub use bytes::Bytes;

/// A type generated code can write as CDR.
pub trait CdrEncode {
    /// Writes the value.
    fn encode(&self, w: &mut CdrWriter<'_>) -> Result<()>;
}

/// A type generated code can read from CDR.
pub trait CdrDecode: Sized {
    /// Reads a value, checking bounds, enum ranges and union
    /// discriminators.
    fn decode(r: &mut CdrReader) -> Result<Self>;
}

/// An IDL user exception: its members as CDR, and its repository id, which
/// precedes the members in a reply.
pub trait UserException: CdrEncode + CdrDecode + std::error::Error {
    /// The exception's repository id (`IDL:Mod/Name:1.0`).
    const REPOSITORY_ID: &'static str;
}

/// A CORBA system exception, raised by the peer or by the local ORB
/// (a connection that failed is `COMM_FAILURE`, a reply that cannot be
/// read is `MARSHAL`).
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct SystemError {
    /// The exception as it travels in a reply.
    pub exception: SystemException,
    /// What went wrong locally, when the local ORB raised it (never sent).
    pub detail: Option<String>,
}

impl SystemError {
    /// A standard system exception (`"BAD_PARAM"`) with an OMG minor code.
    pub fn standard(name: &str, minor_code: u32, completed: CompletionStatus) -> Self {
        Self {
            exception: SystemException::standard(
                name,
                SystemException::OMG_VMCID | minor_code,
                completed,
            ),
            detail: None,
        }
    }

    /// The exception's name (`MARSHAL`), from its repository id.
    pub fn name(&self) -> &str {
        let id = &self.exception.exception_id;
        id.rsplit('/')
            .next()
            .and_then(|tail| tail.split(':').next())
            .unwrap_or(id)
    }

    /// `MARSHAL` for data that could not be encoded or decoded.
    pub fn marshal(error: &Error, completed: CompletionStatus) -> Self {
        Self {
            detail: Some(error.to_string()),
            ..Self::standard("MARSHAL", 0, completed)
        }
    }

    /// What a failed invocation becomes: `COMM_FAILURE` when the connection
    /// failed or closed, `MARSHAL` when a message could not be read.
    pub fn from_orb_error(error: &OrbError) -> Self {
        let (name, completed) = match error {
            OrbError::Giop(_) => ("MARSHAL", CompletionStatus::Maybe),
            OrbError::NoAddress(_) => ("INV_OBJREF", CompletionStatus::No),
            OrbError::TooManyForwards(_) => ("TRANSIENT", CompletionStatus::No),
            _ => ("COMM_FAILURE", CompletionStatus::Maybe),
        };
        Self {
            detail: Some(error.to_string()),
            ..Self::standard(name, 0, completed)
        }
    }

    /// What a reply other than a normal return or a known user exception
    /// becomes: the system exception it carried, `UNKNOWN` for a user
    /// exception the operation does not declare, `TRANSIENT` for a
    /// location forward (generated stubs follow forwards through
    /// [`invoke`], so they only see this for a forward to nowhere).
    pub fn from_reply(reply: ReplyBody) -> Self {
        match reply {
            ReplyBody::System(exception) => Self {
                exception,
                detail: None,
            },
            ReplyBody::UserException { id, .. } => Self {
                detail: Some(format!("undeclared user exception {id}")),
                ..Self::standard("UNKNOWN", 1, CompletionStatus::Maybe)
            },
            ReplyBody::Forward(ior) => Self {
                detail: Some(format!("location forward to {}", ior.type_id)),
                ..Self::standard("TRANSIENT", 0, CompletionStatus::No)
            },
            ReplyBody::Return(_) | ReplyBody::None => Self {
                detail: Some("unexpected reply".to_owned()),
                ..Self::standard("INTERNAL", 0, CompletionStatus::Maybe)
            },
        }
    }

    /// The outcome a skeleton answers with.
    pub fn into_outcome(self) -> Outcome {
        Outcome::System(self.exception)
    }
}

impl From<SystemException> for SystemError {
    fn from(exception: SystemException) -> Self {
        Self {
            exception,
            detail: None,
        }
    }
}

impl fmt::Display for SystemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "corba system exception {} (minor {:#x}, completed {:?})",
            self.name(),
            self.exception.minor,
            self.exception.completed
        )?;
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SystemError {}

/// A user exception as a skeleton's outcome: its repository id and members.
pub fn user_exception_outcome<E: UserException>(call: &Call, exception: &E) -> Outcome {
    call.user_exception(E::REPOSITORY_ID, |w| exception.encode(w))
}

/// The value of an IDL `any`: a TypeCode and a value of that type.
#[derive(Clone, Debug, PartialEq)]
pub struct Any {
    /// The type of the value.
    pub type_code: TypeCode,
    /// The value.
    pub value: Value,
}

impl Any {
    /// An `any` holding `value` of type `type_code`.
    pub fn new(type_code: TypeCode, value: Value) -> Self {
        Self { type_code, value }
    }
}

impl Default for Any {
    /// The empty `any` (`tk_null`).
    fn default() -> Self {
        Self {
            type_code: TypeCode::Null,
            value: Value::Null,
        }
    }
}

impl CdrEncode for Any {
    fn encode(&self, w: &mut CdrWriter<'_>) -> Result<()> {
        self.type_code.write(w)?;
        dynamic::encode(&self.type_code, &self.value, w)
    }
}

impl CdrDecode for Any {
    fn decode(r: &mut CdrReader) -> Result<Self> {
        match dynamic::decode(&TypeCode::Any, r)? {
            Value::Any(type_code, value) => Ok(Self {
                type_code: *type_code,
                value: *value,
            }),
            other => Err(Error::TypeMismatch(format!(
                "an any decoded as a {}",
                other.kind_name()
            ))),
        }
    }
}

/// Reads a `fixed<digits, scale>`.
pub fn read_fixed(r: &mut CdrReader, digits: u16, scale: u16) -> Result<Fixed> {
    match dynamic::decode(&fixed_type(digits, scale)?, r)? {
        Value::Fixed(f) => Ok(f),
        other => Err(Error::TypeMismatch(format!(
            "a fixed decoded as a {}",
            other.kind_name()
        ))),
    }
}

/// Writes a `fixed<digits, scale>`, refusing a value that does not fit.
pub fn write_fixed(w: &mut CdrWriter<'_>, value: &Fixed, digits: u16, scale: u16) -> Result<()> {
    dynamic::encode(&fixed_type(digits, scale)?, &Value::Fixed(value.clone()), w)
}

fn fixed_type(digits: u16, scale: u16) -> Result<TypeCode> {
    let scale = i16::try_from(scale)
        .map_err(|_| Error::InvalidTypeCode(format!("fixed<{digits},{scale}>")))?;
    Ok(TypeCode::Fixed { digits, scale })
}

/// Fails unless a bounded sequence or string of `len` elements fits its
/// bound.
pub fn check_bound(what: &'static str, len: usize, bound: u32) -> Result<()> {
    let limit = usize::try_from(bound).unwrap_or(usize::MAX);
    if len > limit {
        return Err(Error::LimitExceeded {
            what,
            value: len,
            limit,
        });
    }
    Ok(())
}

/// Reads a `string<bound>` (the bound counts characters).
pub fn read_bounded_string(r: &mut CdrReader, bound: u32) -> Result<String> {
    let s = r.read_string()?;
    check_bound("bounded string", s.chars().count(), bound)?;
    Ok(s)
}

/// Writes a `string<bound>`.
pub fn write_bounded_string(w: &mut CdrWriter<'_>, s: &str, bound: u32) -> Result<()> {
    check_bound("bounded string", s.chars().count(), bound)?;
    w.write_string(s)
}

/// Reads a `wstring<bound>` (the bound counts UTF-16 code units).
pub fn read_bounded_wstring(r: &mut CdrReader, bound: u32) -> Result<String> {
    let s = r.read_wstring()?;
    check_bound("bounded wstring", s.encode_utf16().count(), bound)?;
    Ok(s)
}

/// Writes a `wstring<bound>`.
pub fn write_bounded_wstring(w: &mut CdrWriter<'_>, s: &str, bound: u32) -> Result<()> {
    check_bound("bounded wstring", s.encode_utf16().count(), bound)?;
    w.write_wstring(s)
}

/// Fails unless an array that must have `expected` elements has them
/// (arrays too large for a Rust array are `Vec`s).
pub fn check_array_len(len: usize, expected: usize) -> Result<()> {
    if len == expected {
        Ok(())
    } else {
        Err(Error::TypeMismatch(format!(
            "an array of {len} elements where {expected} are declared"
        )))
    }
}

/// Converts a decoded vector into a fixed-size array.
pub fn into_array<T, const N: usize>(items: Vec<T>) -> Result<[T; N]> {
    let len = items.len();
    <[T; N]>::try_from(items).map_err(|_| {
        Error::TypeMismatch(format!("an array of {len} elements where {N} are declared"))
    })
}

/// The error of a union whose discriminator does not select the variant
/// it is stored in.
pub fn bad_discriminator(union: &'static str) -> Error {
    Error::TypeMismatch(format!(
        "the discriminator of a {union} does not select its member"
    ))
}

/// The error of an enum value outside its range.
pub fn bad_enum(what: &'static str, value: u32) -> Error {
    Error::InvalidEnum { what, value }
}

/// Invokes `operation` on the object under `key` the way generated
/// clients do: LOCATION_FORWARD and LOCATION_FORWARD_PERM replies are
/// followed, each by connecting `orb` to the forwarded reference
/// ([`OrbClient::connect_profile`](crate::orb::OrbClient::connect_profile))
/// and sending the request again (`args` writes it each time), up to
/// [`ClientConfig::max_forwards`](crate::orb::ClientConfig::max_forwards)
/// hops, as [`Orb`](crate::orb::Orb) does; then `TRANSIENT`. The client
/// stays on the object it was forwarded to for later calls.
pub async fn invoke(
    orb: &mut crate::orb::OrbClient,
    key: &mut Bytes,
    operation: &str,
    args: impl Fn(&mut CdrWriter<'_>) -> Result<()>,
) -> std::result::Result<ReplyBody, SystemError> {
    let max_forwards = orb.config().max_forwards;
    for _ in 0..=max_forwards {
        let reply = orb
            .invoke(key, operation, &args)
            .await
            .map_err(|e| SystemError::from_orb_error(&e))?;
        match reply {
            ReplyBody::Forward(to) => {
                let profile = forwarded_profile(&to)?;
                *orb = crate::orb::OrbClient::connect_profile(&profile, *orb.config())
                    .await
                    .map_err(|e| SystemError::from_orb_error(&e))?;
                *key = profile.object_key;
            }
            reply => return Ok(reply),
        }
    }
    Err(SystemError::from_orb_error(&OrbError::TooManyForwards(
        max_forwards,
    )))
}

/// Sends a LocateRequest for the object under `key`, following
/// OBJECT_FORWARD and OBJECT_FORWARD_PERM answers as [`invoke`] follows
/// location forwards (the client stays on the object it was forwarded
/// to): true when the object is there, false when the server does not
/// know it.
pub async fn locate(
    orb: &mut crate::orb::OrbClient,
    key: &mut Bytes,
) -> std::result::Result<bool, SystemError> {
    let max_forwards = orb.config().max_forwards;
    for _ in 0..=max_forwards {
        let status = orb
            .locate(key)
            .await
            .map_err(|e| SystemError::from_orb_error(&e))?;
        match located(status)? {
            Located::Answer(here) => return Ok(here),
            Located::Forward(to) => {
                let profile = forwarded_profile(&to)?;
                *orb = crate::orb::OrbClient::connect_profile(&profile, *orb.config())
                    .await
                    .map_err(|e| SystemError::from_orb_error(&e))?;
                *key = profile.object_key;
            }
        }
    }
    Err(SystemError::from_orb_error(&OrbError::TooManyForwards(
        max_forwards,
    )))
}

/// Answers `_is_a` the way generated clients ask it (through [`invoke`],
/// so forwards are followed): true iff the object implements
/// `repository_id`.
pub async fn is_a(
    orb: &mut crate::orb::OrbClient,
    key: &mut Bytes,
    repository_id: &str,
) -> std::result::Result<bool, SystemError> {
    let reply = invoke(orb, key, "_is_a", |w| w.write_string(repository_id)).await?;
    is_a_answer(reply)
}

/// What a `_is_a` reply says.
fn is_a_answer(reply: ReplyBody) -> std::result::Result<bool, SystemError> {
    match reply {
        ReplyBody::Return(mut r) => r
            .read_boolean()
            .map_err(|e| SystemError::marshal(&e, CompletionStatus::Yes)),
        other => Err(SystemError::from_reply(other)),
    }
}

/// The IIOP profile of a reference a forward named (`INV_OBJREF` without
/// one).
fn forwarded_profile(
    to: &crate::ior::Ior,
) -> std::result::Result<crate::ior::IiopProfile, SystemError> {
    match to.iiop_profile() {
        Some(Ok(profile)) if !to.is_nil() => Ok(profile),
        Some(Err(e)) => Err(SystemError::marshal(&e, CompletionStatus::No)),
        Some(Ok(_)) | None => Err(SystemError {
            detail: Some("a forward to a reference with no IIOP profile".to_owned()),
            ..SystemError::standard("INV_OBJREF", 0, CompletionStatus::No)
        }),
    }
}

/// What a LocateReply means to a generated client.
enum Located {
    /// Whether the object is there.
    Answer(bool),
    /// Ask again at this reference.
    Forward(crate::ior::Ior),
}

fn located(status: LocateStatus) -> std::result::Result<Located, SystemError> {
    match status {
        LocateStatus::ObjectHere => Ok(Located::Answer(true)),
        LocateStatus::UnknownObject => Ok(Located::Answer(false)),
        LocateStatus::ObjectForward(to) | LocateStatus::ObjectForwardPerm(to) => {
            Ok(Located::Forward(to))
        }
        LocateStatus::LocSystemException(exception) => Err(SystemError {
            exception,
            detail: None,
        }),
        // Generated clients address objects by key only.
        LocateStatus::LocNeedsAddressingMode(_) => Err(SystemError {
            detail: Some("the server wants another addressing mode than the object key".to_owned()),
            ..SystemError::standard("NO_IMPLEMENT", 0, CompletionStatus::No)
        }),
    }
}

/// Connects to the first IIOP address of an object reference and returns
/// the client and the object key.
pub async fn connect_ior(
    ior: &crate::ior::Ior,
    config: crate::orb::ClientConfig,
) -> std::result::Result<(crate::orb::OrbClient, Bytes), SystemError> {
    let profile = match ior.iiop_profile() {
        Some(Ok(profile)) => profile,
        Some(Err(e)) => return Err(SystemError::marshal(&e, CompletionStatus::No)),
        None => {
            return Err(SystemError {
                detail: Some("the reference has no IIOP profile".to_owned()),
                ..SystemError::standard("INV_OBJREF", 0, CompletionStatus::No)
            });
        }
    };
    let addr = tokio::net::lookup_host((profile.host.as_str(), profile.port))
        .await
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| SystemError {
            detail: Some(format!("{} does not resolve", profile.host)),
            ..SystemError::standard("TRANSIENT", 0, CompletionStatus::No)
        })?;
    let orb = crate::orb::OrbClient::connect(addr, config)
        .await
        .map_err(|e| SystemError::from_orb_error(&e))?;
    Ok((orb, profile.object_key))
}

/// [`invoke`] on a [`BlockingOrbClient`](crate::orb::BlockingOrbClient):
/// forwards followed the same way, on the calling thread.
pub fn invoke_blocking(
    orb: &mut crate::orb::BlockingOrbClient,
    key: &mut Bytes,
    operation: &str,
    args: impl Fn(&mut CdrWriter<'_>) -> Result<()>,
) -> std::result::Result<ReplyBody, SystemError> {
    let max_forwards = orb.config().max_forwards;
    for _ in 0..=max_forwards {
        let reply = orb
            .invoke(key, operation, &args)
            .map_err(|e| SystemError::from_orb_error(&e))?;
        match reply {
            ReplyBody::Forward(to) => {
                let profile = forwarded_profile(&to)?;
                *orb = crate::orb::BlockingOrbClient::connect_profile(&profile, *orb.config())
                    .map_err(|e| SystemError::from_orb_error(&e))?;
                *key = profile.object_key;
            }
            reply => return Ok(reply),
        }
    }
    Err(SystemError::from_orb_error(&OrbError::TooManyForwards(
        max_forwards,
    )))
}

/// [`locate`] on a [`BlockingOrbClient`](crate::orb::BlockingOrbClient).
pub fn locate_blocking(
    orb: &mut crate::orb::BlockingOrbClient,
    key: &mut Bytes,
) -> std::result::Result<bool, SystemError> {
    let max_forwards = orb.config().max_forwards;
    for _ in 0..=max_forwards {
        let status = orb
            .locate(key)
            .map_err(|e| SystemError::from_orb_error(&e))?;
        match located(status)? {
            Located::Answer(here) => return Ok(here),
            Located::Forward(to) => {
                let profile = forwarded_profile(&to)?;
                *orb = crate::orb::BlockingOrbClient::connect_profile(&profile, *orb.config())
                    .map_err(|e| SystemError::from_orb_error(&e))?;
                *key = profile.object_key;
            }
        }
    }
    Err(SystemError::from_orb_error(&OrbError::TooManyForwards(
        max_forwards,
    )))
}

/// [`is_a`] on a [`BlockingOrbClient`](crate::orb::BlockingOrbClient).
pub fn is_a_blocking(
    orb: &mut crate::orb::BlockingOrbClient,
    key: &mut Bytes,
    repository_id: &str,
) -> std::result::Result<bool, SystemError> {
    let reply = invoke_blocking(orb, key, "_is_a", |w| w.write_string(repository_id))?;
    is_a_answer(reply)
}

/// [`connect_ior`] for a [`BlockingOrbClient`](crate::orb::BlockingOrbClient).
pub fn connect_ior_blocking(
    ior: &crate::ior::Ior,
    config: crate::orb::ClientConfig,
) -> std::result::Result<(crate::orb::BlockingOrbClient, Bytes), SystemError> {
    use std::net::ToSocketAddrs as _;
    let profile = match ior.iiop_profile() {
        Some(Ok(profile)) => profile,
        Some(Err(e)) => return Err(SystemError::marshal(&e, CompletionStatus::No)),
        None => {
            return Err(SystemError {
                detail: Some("the reference has no IIOP profile".to_owned()),
                ..SystemError::standard("INV_OBJREF", 0, CompletionStatus::No)
            });
        }
    };
    let addr = (profile.host.as_str(), profile.port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| SystemError {
            detail: Some(format!("{} does not resolve", profile.host)),
            ..SystemError::standard("TRANSIENT", 0, CompletionStatus::No)
        })?;
    let orb = crate::orb::BlockingOrbClient::connect(addr, config)
        .map_err(|e| SystemError::from_orb_error(&e))?;
    Ok((orb, profile.object_key))
}
