//! What a server-side object implements, and the call it receives.

use std::future::Future;
use std::pin::Pin;

use bytes::{Bytes, BytesMut};

use crate::GiopVersion;
use crate::cdr::{ByteOrder, CdrReader, CdrWriter};
use crate::giop::{CompletionStatus, SystemException};

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
        }
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

    fn body(
        &self,
        encode: impl FnOnce(&mut CdrWriter<'_>) -> crate::Result<()>,
    ) -> crate::Result<Bytes> {
        let mut buf = BytesMut::with_capacity(64);
        let mut writer = CdrWriter::new(&mut buf, self.reply_byte_order, self.reply_version)
            .with_alignment_offset(self.reply_offset);
        encode(&mut writer)?;
        Ok(buf.freeze())
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
}

impl Outcome {
    /// `MARSHAL`: the arguments could not be read (completed: no).
    pub fn marshal(error: crate::Error) -> Self {
        Self::marshal_completed(error, CompletionStatus::No)
    }

    /// CORBA system exceptions carry no text, so the error itself is not
    /// sent; the exception id, minor code and completion status are.
    fn marshal_completed(_error: crate::Error, completed: CompletionStatus) -> Self {
        Self::System(SystemException::standard(
            "MARSHAL",
            SystemException::OMG_VMCID,
            completed,
        ))
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
