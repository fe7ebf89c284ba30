//! What a server-side object implements, and the call it receives.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;

use bytes::{Bytes, BytesMut};

use crate::GiopVersion;
use crate::cdr::{ByteOrder, CdrReader, CdrWriter};
use crate::codeset::CodeSets;
use crate::giop::{CompletionStatus, SystemException};
use crate::ior::Ior;

/// Free room below which the reply buffer takes a new block first.
const REPLY_BUFFER_MIN_ROOM: usize = 64;
/// The block the reply buffer reserves.
const REPLY_BUFFER_BLOCK: usize = 4096;
/// A reply buffer grown past this by a large body is not kept.
const REPLY_BUFFER_MAX_KEPT: usize = 64 * 1024;

thread_local! {
    /// Where [`Call`] encodes reply bodies on this thread: each body is
    /// split off it, and its block is reused once they are all dropped
    /// (the connection copies a body into its message and drops it).
    static REPLY_BUFFER: RefCell<BytesMut> = RefCell::new(BytesMut::new());
}

/// The future a servant returns.
pub type ServantFuture<'a> = Pin<Box<dyn Future<Output = Outcome> + Send + 'a>>;

/// A CORBA object implementation, dispatched by operation name.
pub trait Servant: Send + Sync + 'static {
    /// The most derived interface's repository id (`IDL:Mod/Iface:1.0`),
    /// used to answer `_is_a`.
    fn repository_id(&self) -> &str;

    /// Whether the object also implements `repository_id` (a base
    /// interface). The default accepts only [`Servant::repository_id`] and
    /// `IDL:omg.org/CORBA/Object:1.0`.
    fn is_a(&self, repository_id: &str) -> bool {
        repository_id == self.repository_id() || repository_id == "IDL:omg.org/CORBA/Object:1.0"
    }

    /// Runs one operation.
    fn invoke(&self, call: Call) -> ServantFuture<'_>;

    /// Runs one operation on the spot, without a future, when the servant
    /// can answer without waiting; or hands the call back (`Err`), and the
    /// server then runs [`Servant::invoke`]. The server tries this first
    /// for every operation: a servant that never waits answers here and
    /// saves the boxed future and its polling per call. The default hands
    /// every call back.
    fn invoke_now(&self, call: Call) -> Result<Outcome, Call> {
        Err(call)
    }

    /// Where the object has moved, if it has: the server then answers
    /// every request for it (the built-in `_is_a` and `_non_existent`
    /// included) with LOCATION_FORWARD and every LocateRequest with
    /// OBJECT_FORWARD (the `_PERM` forms when [`Forward::permanent`], in
    /// GIOP 1.2), and never calls [`Servant::invoke`]. The default:
    /// `None`, the object is here. A servant can also forward one call
    /// at a time by answering [`Outcome::Forward`].
    fn forwarded_to(&self) -> Option<Forward> {
        None
    }
}

/// A location forward: where clients should send their requests instead.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Forward {
    /// The reference to use.
    pub to: Ior,
    /// LOCATION_FORWARD_PERM / OBJECT_FORWARD_PERM (GIOP 1.2; sent as the
    /// plain forward to GIOP 1.0 and 1.1 clients): the client may replace
    /// its reference for good.
    pub permanent: bool,
}

/// An object that lives elsewhere: every request and LocateRequest for it
/// is answered with a forward to its new reference (a moved or migrated
/// object, a locator in front of a pool of servers).
#[derive(Clone, Debug)]
pub struct ForwardingServant {
    repository_id: String,
    forward: Forward,
}

impl ForwardingServant {
    /// Forwards to `to` (LOCATION_FORWARD, or LOCATION_FORWARD_PERM when
    /// `permanent`).
    pub fn new(to: Ior, permanent: bool) -> Self {
        Self {
            repository_id: to.type_id.clone(),
            forward: Forward { to, permanent },
        }
    }
}

impl Servant for ForwardingServant {
    fn repository_id(&self) -> &str {
        &self.repository_id
    }

    fn invoke(&self, _call: Call) -> ServantFuture<'_> {
        Box::pin(std::future::ready(Outcome::Forward(self.forward.clone())))
    }

    fn invoke_now(&self, _call: Call) -> Result<Outcome, Call> {
        Ok(Outcome::Forward(self.forward.clone()))
    }

    fn forwarded_to(&self) -> Option<Forward> {
        Some(self.forward.clone())
    }
}

/// One incoming invocation: the operation, its arguments as CDR, and what
/// is needed to encode the reply the way the client expects.
#[derive(Debug)]
pub struct Call {
    operation: String,
    args: CdrReader,
    response_expected: bool,
    reply_version: GiopVersion,
    reply_byte_order: ByteOrder,
    reply_offset: usize,
    code_sets: CodeSets,
    /// Boxed (a thin pointer, none without contexts), so that a call,
    /// which servants hand back by value, stays small.
    #[allow(clippy::box_collection)]
    service_contexts: Option<Box<Vec<crate::giop::ServiceContext>>>,
}

impl Call {
    pub(crate) fn new(
        operation: String,
        args: CdrReader,
        response_expected: bool,
        reply_version: GiopVersion,
        reply_byte_order: ByteOrder,
        reply_offset: usize,
    ) -> Self {
        Self {
            operation,
            args,
            response_expected,
            reply_version,
            reply_byte_order,
            reply_offset,
            code_sets: CodeSets {
                char_data: crate::cdr::CharCodeSet::Iso8859_1,
                wchar_data: Some(crate::cdr::WcharCodeSet::Utf16),
            },
            service_contexts: None,
        }
    }

    /// Sets the service contexts the request carried.
    pub(crate) fn with_service_contexts(
        mut self,
        contexts: Vec<crate::giop::ServiceContext>,
    ) -> Self {
        self.service_contexts = (!contexts.is_empty()).then(|| Box::new(contexts));
        self
    }

    /// The service contexts the request carried (the CodeSets context
    /// included when the client announced its code sets on this request),
    /// such as a CosTransactions `PropagationContext` (id 0).
    pub fn service_contexts(&self) -> &[crate::giop::ServiceContext] {
        self.service_contexts.as_deref().map_or(&[], Vec::as_slice)
    }

    /// Sets the transmission code sets the connection negotiated, for the
    /// reply.
    pub(crate) fn with_code_sets(mut self, code_sets: CodeSets) -> Self {
        self.code_sets = code_sets;
        self
    }

    /// The transmission code sets of the connection the call came on.
    pub fn code_sets(&self) -> CodeSets {
        self.code_sets
    }

    /// The operation name (`echoString`, `_get_balance`).
    pub fn operation(&self) -> &str {
        &self.operation
    }

    /// The in and inout arguments, in order.
    pub fn args(&mut self) -> &mut CdrReader {
        &mut self.args
    }

    /// Whether the client waits for a reply (false for oneway operations).
    pub fn response_expected(&self) -> bool {
        self.response_expected
    }

    /// The GIOP version of the request (and of its reply).
    pub fn version(&self) -> GiopVersion {
        self.reply_version
    }

    /// Encodes a reply body. It is written into this thread's reply
    /// buffer and split off it ([`REPLY_BUFFER`]), so a reply costs no
    /// allocation once the previous ones have been sent and dropped.
    fn body(
        &self,
        encode: impl FnOnce(&mut CdrWriter<'_>) -> crate::Result<()>,
    ) -> crate::Result<Bytes> {
        REPLY_BUFFER.with(|cell| match cell.try_borrow_mut() {
            Ok(mut buf) => {
                if buf.capacity() - buf.len() < REPLY_BUFFER_MIN_ROOM {
                    // Reclaims the whole block when every reply split off
                    // it has been dropped, else allocates a new one.
                    buf.reserve(REPLY_BUFFER_BLOCK);
                }
                match self.encode_into(&mut buf, encode) {
                    // A large body takes the whole buffer with it, so the
                    // thread does not keep a large allocation.
                    Ok(()) if buf.capacity() > REPLY_BUFFER_MAX_KEPT => {
                        Ok(std::mem::take(&mut *buf).freeze())
                    }
                    Ok(()) => Ok(buf.split().freeze()),
                    Err(error) => {
                        buf.clear();
                        Err(error)
                    }
                }
            }
            // A reply encoded while encoding another: its own buffer.
            Err(_) => {
                let mut buf = BytesMut::with_capacity(REPLY_BUFFER_MIN_ROOM);
                self.encode_into(&mut buf, encode)?;
                Ok(buf.freeze())
            }
        })
    }

    fn encode_into(
        &self,
        buf: &mut BytesMut,
        encode: impl FnOnce(&mut CdrWriter<'_>) -> crate::Result<()>,
    ) -> crate::Result<()> {
        let mut writer = CdrWriter::new(buf, self.reply_byte_order, self.reply_version)
            .with_alignment_offset(self.reply_offset)
            .with_char_code_set(self.code_sets.char_data)
            .with_wchar_code_set(self.code_sets.wchar_data);
        encode(&mut writer)
    }

    /// A normal reply: `encode` writes the result, then the out and inout
    /// arguments, in order.
    pub fn reply(&self, encode: impl FnOnce(&mut CdrWriter<'_>) -> crate::Result<()>) -> Outcome {
        match self.body(encode) {
            Ok(body) => Outcome::Return(body),
            Err(error) => Outcome::marshal_completed(error, CompletionStatus::Yes),
        }
    }

    /// A user exception: its repository id, then `encode` writes its members.
    pub fn user_exception(
        &self,
        repository_id: &str,
        encode: impl FnOnce(&mut CdrWriter<'_>) -> crate::Result<()>,
    ) -> Outcome {
        let body = self.body(|w| {
            w.write_string(repository_id)?;
            encode(w)
        });
        match body {
            Ok(body) => Outcome::UserException(body),
            Err(error) => Outcome::marshal_completed(error, CompletionStatus::Yes),
        }
    }
}

/// How an invocation ended.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Outcome {
    /// The operation returned; the encoded result and out arguments.
    Return(Bytes),
    /// The operation raised a user exception; its encoded id and members.
    UserException(Bytes),
    /// A system exception.
    System(SystemException),
    /// The object is elsewhere: LOCATION_FORWARD(_PERM) to this reference,
    /// which the client retries the call on.
    Forward(Forward),
}

impl Outcome {
    /// `MARSHAL`: the arguments could not be read (completed: no).
    pub fn marshal(error: crate::Error) -> Self {
        Self::marshal_completed(error, CompletionStatus::No)
    }

    /// CORBA system exceptions carry no text, so the error itself is not
    /// sent; the exception id, minor code and completion status are. Wide
    /// characters on a connection that negotiated no wide code set are
    /// BAD_PARAM (minor 23), as the specification says; a valuetype of a
    /// type the contract does not know is MARSHAL minor 1 (no value
    /// factory); anything else is MARSHAL.
    fn marshal_completed(error: crate::Error, completed: CompletionStatus) -> Self {
        let (name, minor) = match error {
            crate::Error::NoWcharCodeSet => ("BAD_PARAM", SystemException::OMG_VMCID | 23),
            // A valuetype of a type the contract does not name: "unable to
            // locate value factory".
            crate::Error::Unsupported(what) if what == crate::dynamic::NO_VALUE_FACTORY => {
                ("MARSHAL", SystemException::OMG_VMCID | 1)
            }
            _ => ("MARSHAL", SystemException::OMG_VMCID),
        };
        Self::System(SystemException::standard(name, minor, completed))
    }

    /// `BAD_OPERATION`: the object has no such operation.
    pub fn bad_operation() -> Self {
        Self::System(SystemException::standard(
            "BAD_OPERATION",
            SystemException::OMG_VMCID,
            CompletionStatus::No,
        ))
    }

    /// Any standard system exception by name (`"NO_IMPLEMENT"`).
    pub fn system(name: &str, minor: u32, completed: CompletionStatus) -> Self {
        Self::System(SystemException::standard(name, minor, completed))
    }
}
