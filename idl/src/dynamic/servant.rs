//! A servant and a client call written once for any interface: arguments
//! and results are [`Value`]s, marshalled through the operation's
//! TypeCodes (DSI and DII style).

use std::collections::HashMap;
use std::fmt;

use crate::error::{Error, Result};
use crate::front::model::{DeclKind, Model};
use crate::giop::SystemException;
use crate::ior::Ior;
use crate::orb::{Call, OrbClient, OrbError, Outcome, ReplyBody, Servant, ServantFuture};

use super::operation::{Operation, ReplyValues, UserException};
use super::value::Value;

/// What a [`DynamicServant`]'s handler gets: the operation and its `in` and
/// `inout` arguments in order; it returns the result and the `out` and
/// `inout` arguments, or a user exception the operation raises.
pub type Handler =
    dyn Fn(&Operation, Vec<Value>) -> std::result::Result<ReplyValues, UserException> + Send + Sync;

/// A servant for any interface of a model: requests are decoded with the
/// operation's TypeCodes, handed to a function, and its answer encoded
/// back. Unknown operations get BAD_OPERATION, undecodable arguments
/// MARSHAL (completed: no), answers that do not match the signature
/// MARSHAL (completed: yes).
pub struct DynamicServant {
    repository_id: String,
    bases: Vec<String>,
    operations: HashMap<String, Operation>,
    handler: Box<Handler>,
}

impl fmt::Debug for DynamicServant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamicServant")
            .field("repository_id", &self.repository_id)
            .field("operations", &self.operations.len())
            .finish_non_exhaustive()
    }
}

impl DynamicServant {
    /// A servant of `interface` (a scoped name) whose operations, own and
    /// inherited, and attributes are answered by `handler`.
    pub fn new(
        model: &Model,
        interface: &str,
        handler: impl Fn(&Operation, Vec<Value>) -> std::result::Result<ReplyValues, UserException>
        + Send
        + Sync
        + 'static,
    ) -> Result<Self> {
        let id = model
            .find_id(interface)
            .ok_or_else(|| Error::InvalidTypeCode(format!("{interface} is not declared")))?;
        let decl = model
            .get(id)
            .filter(|d| matches!(d.kind, DeclKind::Interface { .. }))
            .ok_or_else(|| Error::InvalidTypeCode(format!("{interface} is not an interface")))?;
        let bases = model
            .all_bases(id)
            .into_iter()
            .filter_map(|b| model.get(b).map(|d| d.repo_id.clone()))
            .collect();
        let operations = Operation::all_from_model(model, interface)?
            .into_iter()
            .map(|op| (op.name.clone(), op))
            .collect();
        Ok(Self {
            repository_id: decl.repo_id.clone(),
            bases,
            operations,
            handler: Box::new(handler),
        })
    }

    /// The operation called `name`, if the interface has it.
    pub fn operation(&self, name: &str) -> Option<&Operation> {
        self.operations.get(name)
    }

    fn answer(&self, call: &mut Call) -> Outcome {
        let Some(op) = self.operations.get(call.operation()) else {
            return Outcome::bad_operation();
        };
        let args = match op.decode_request(call.args()) {
            Ok(args) => args,
            Err(e) => return Outcome::marshal(e),
        };
        match (self.handler)(op, args) {
            Ok(reply) => call.reply(|w| op.encode_reply(&reply.result, &reply.out, w)),
            Err(exception) => call.user_exception(&exception.id, |w| {
                op.encode_exception_members(&exception, w)
            }),
        }
    }
}

impl Servant for DynamicServant {
    fn repository_id(&self) -> &str {
        &self.repository_id
    }

    fn is_a(&self, repository_id: &str) -> bool {
        repository_id == self.repository_id
            || repository_id == "IDL:omg.org/CORBA/Object:1.0"
            || self.bases.iter().any(|b| b == repository_id)
    }

    fn invoke(&self, mut call: Call) -> ServantFuture<'_> {
        let outcome = self.answer(&mut call);
        Box::pin(std::future::ready(outcome))
    }
}

/// How a dynamic invocation ended.
#[derive(Clone, Debug, PartialEq)]
pub enum DynamicReply {
    /// The result and the `out`/`inout` arguments.
    Return(ReplyValues),
    /// A user exception the operation declares.
    UserException(UserException),
    /// A system exception.
    System(SystemException),
    /// LOCATION_FORWARD: retry on this reference.
    Forward(Ior),
    /// A oneway operation: no reply.
    None,
}

/// Invokes `op` on the object `key` with its `in` and `inout` arguments
/// (in order), DII style; oneway operations return [`DynamicReply::None`]
/// once the request is written.
pub async fn invoke(
    orb: &mut OrbClient,
    key: &[u8],
    op: &Operation,
    args: &[Value],
) -> std::result::Result<DynamicReply, OrbError> {
    if op.oneway {
        orb.invoke_oneway(key, &op.name, |w| op.encode_request(args, w))
            .await?;
        return Ok(DynamicReply::None);
    }
    let reply = orb
        .invoke(key, &op.name, |w| op.encode_request(args, w))
        .await?;
    Ok(match reply {
        ReplyBody::Return(mut r) => DynamicReply::Return(op.decode_reply(&mut r)?),
        ReplyBody::UserException { id, mut members } => {
            DynamicReply::UserException(op.decode_exception_members(&id, &mut members)?)
        }
        ReplyBody::System(e) => DynamicReply::System(e),
        ReplyBody::Forward(ior) => DynamicReply::Forward(ior),
        ReplyBody::None => DynamicReply::None,
    })
}
