//! A `CosNaming::NamingContext` client on [`OrbClient`]: `resolve`, `bind`,
//! `rebind`, `bind_context`, `rebind_context`, `new_context`,
//! `bind_new_context`, `unbind`, `destroy` and `list` (following the
//! binding iterator), marshalled by hand.

use bytes::Bytes;

use super::binding::{Binding, MAX_BINDINGS_PER_REPLY};
use super::error::NamingError;
use super::name::Name;
use super::resolve::ObjectTarget;
use crate::cdr::{CdrReader, CdrWriter};
use crate::ior::Ior;
use crate::orb::{ClientConfig, OrbClient, ReplyBody};

/// How many bindings `list` asks for per call by default.
pub const DEFAULT_LIST_CHUNK: u32 = 256;
/// The most bindings [`NamingClient::list`] collects by default.
pub const DEFAULT_MAX_LIST: usize = 100_000;
/// The most LOCATION_FORWARDs one call follows.
const MAX_FORWARDS: usize = 4;

/// A client of one naming context.
#[derive(Debug)]
pub struct NamingClient {
    orb: OrbClient,
    target: ObjectTarget,
    config: ClientConfig,
}

impl NamingClient {
    /// Connects to the naming context at `target`; requests use the
    /// target's GIOP version and `config`'s byte order and fragment size.
    pub async fn connect(target: ObjectTarget, config: ClientConfig) -> Result<Self, NamingError> {
        let orb = target.connect(config).await?;
        Ok(Self {
            orb,
            target,
            config,
        })
    }

    /// Connects to the naming context an `IOR:`, `corbaloc:` or
    /// `corbaname:` reference names (a `corbaname:` URL with a name must
    /// name a context).
    pub async fn connect_reference(text: &str, config: ClientConfig) -> Result<Self, NamingError> {
        let target = super::resolve::resolve_reference(text, config).await?;
        Self::connect(target, config).await
    }

    /// Connects to the naming context an IOR names.
    pub async fn connect_ior(ior: &Ior, config: ClientConfig) -> Result<Self, NamingError> {
        Self::connect(ObjectTarget::from_ior(ior).await?, config).await
    }

    /// Where the context is.
    pub fn target(&self) -> &ObjectTarget {
        &self.target
    }

    /// The underlying connection, for other invocations.
    pub fn orb(&mut self) -> &mut OrbClient {
        &mut self.orb
    }

    /// `Object resolve(in Name n)`.
    pub async fn resolve(&mut self, name: &Name) -> Result<Ior, NamingError> {
        check(name)?;
        let mut r = self.call("resolve", &|w| name.write(w)).await?;
        Ok(Ior::read(&mut r)?)
    }

    /// Resolves an INS stringified name (`a/b.kind`), parsed locally.
    pub async fn resolve_str(&mut self, name: &str) -> Result<Ior, NamingError> {
        let name = Name::to_name(name).map_err(|_| NamingError::InvalidName)?;
        self.resolve(&name).await
    }

    /// `void bind(in Name n, in Object obj)`.
    pub async fn bind(&mut self, name: &Name, object: &Ior) -> Result<(), NamingError> {
        self.name_and_reference("bind", name, object).await
    }

    /// `void rebind(in Name n, in Object obj)`.
    pub async fn rebind(&mut self, name: &Name, object: &Ior) -> Result<(), NamingError> {
        self.name_and_reference("rebind", name, object).await
    }

    /// `void bind_context(in Name n, in NamingContext nc)`.
    pub async fn bind_context(&mut self, name: &Name, context: &Ior) -> Result<(), NamingError> {
        self.name_and_reference("bind_context", name, context).await
    }

    /// `void rebind_context(in Name n, in NamingContext nc)`.
    pub async fn rebind_context(&mut self, name: &Name, context: &Ior) -> Result<(), NamingError> {
        self.name_and_reference("rebind_context", name, context)
            .await
    }

    /// `NamingContext bind_new_context(in Name n)`.
    pub async fn bind_new_context(&mut self, name: &Name) -> Result<Ior, NamingError> {
        check(name)?;
        let mut r = self.call("bind_new_context", &|w| name.write(w)).await?;
        Ok(Ior::read(&mut r)?)
    }

    /// `NamingContext new_context()`: a context bound to no name.
    pub async fn new_context(&mut self) -> Result<Ior, NamingError> {
        let mut r = self.call("new_context", &|_| Ok(())).await?;
        Ok(Ior::read(&mut r)?)
    }

    /// `void unbind(in Name n)`.
    pub async fn unbind(&mut self, name: &Name) -> Result<(), NamingError> {
        check(name)?;
        self.call("unbind", &|w| name.write(w)).await.map(drop)
    }

    /// `void destroy()`: destroys this (empty) context.
    pub async fn destroy(&mut self) -> Result<(), NamingError> {
        self.call("destroy", &|_| Ok(())).await.map(drop)
    }

    /// Every binding of the context, [`DEFAULT_LIST_CHUNK`] at a time, at
    /// most [`DEFAULT_MAX_LIST`].
    pub async fn list(&mut self) -> Result<Vec<Binding>, NamingError> {
        self.list_with(DEFAULT_LIST_CHUNK, DEFAULT_MAX_LIST).await
    }

    /// `list(how_many, out bl, out bi)`, then `next_n(how_many)` on the
    /// iterator until it is exhausted or `max` bindings arrived, then
    /// `destroy` on the iterator. More than `max` bindings is an error
    /// (`IMP_LIMIT`), so a listing is never silently cut short.
    pub async fn list_with(
        &mut self,
        how_many: u32,
        max: usize,
    ) -> Result<Vec<Binding>, NamingError> {
        let how_many = how_many.max(1);
        let chunk = usize::try_from(how_many).unwrap_or(usize::MAX);
        let cap = chunk.min(MAX_BINDINGS_PER_REPLY);
        let mut r = self
            .call("list", &|w| {
                w.write_ulong(how_many);
                Ok(())
            })
            .await?;
        let mut bindings = Binding::read_list(&mut r, cap.min(max))?;
        let iterator = Ior::read(&mut r)?;
        if iterator.is_nil() {
            return Ok(bindings);
        }
        let target = ObjectTarget::from_ior(&iterator).await?;
        let mut other = if target.addr == self.target.addr {
            None
        } else {
            Some(target.connect(self.config).await?)
        };
        let orb = other.as_mut().unwrap_or(&mut self.orb);
        let result = next_all(orb, &target.key, how_many, cap, max, &mut bindings).await;
        // Release the iterator whatever happened; a failure to do so is
        // the server's problem, not the listing's.
        let _ = orb.invoke(&target.key, "destroy", |_| Ok(())).await;
        result.map(|()| bindings)
    }

    async fn name_and_reference(
        &mut self,
        operation: &str,
        name: &Name,
        reference: &Ior,
    ) -> Result<(), NamingError> {
        check(name)?;
        self.call(operation, &|w| {
            name.write(w)?;
            reference.write(w)
        })
        .await
        .map(drop)
    }

    /// Invokes `operation` on the context, follows LOCATION_FORWARD (a few
    /// times at most), and maps user and system exceptions to errors.
    async fn call(
        &mut self,
        operation: &str,
        args: &(dyn Fn(&mut CdrWriter<'_>) -> crate::Result<()> + Sync),
    ) -> Result<CdrReader, NamingError> {
        for _ in 0..=MAX_FORWARDS {
            let reply = self.orb.invoke(&self.target.key, operation, args).await?;
            match reply {
                ReplyBody::Return(r) => return Ok(r),
                ReplyBody::UserException { id, mut members } => {
                    return Err(NamingError::from_user_exception(&id, &mut members)?);
                }
                ReplyBody::System(exception) => return Err(NamingError::System(exception)),
                ReplyBody::Forward(ior) => {
                    let target = ObjectTarget::from_ior(&ior).await?;
                    self.orb = target.connect(self.config).await?;
                    self.target = target;
                }
                ReplyBody::None => return Err(NamingError::Orb(crate::orb::OrbError::Closed)),
            }
        }
        Err(NamingError::System(crate::giop::SystemException::standard(
            "TRANSIENT",
            crate::giop::SystemException::OMG_VMCID,
            crate::giop::CompletionStatus::No,
        )))
    }
}

fn check(name: &Name) -> Result<(), NamingError> {
    name.validate().map_err(|_| NamingError::InvalidName)
}

/// Calls `next_n` until the iterator says it is exhausted.
async fn next_all(
    orb: &mut OrbClient,
    key: &Bytes,
    how_many: u32,
    cap: usize,
    max: usize,
    bindings: &mut Vec<Binding>,
) -> Result<(), NamingError> {
    loop {
        let reply = orb
            .invoke(key, "next_n", |w| {
                w.write_ulong(how_many);
                Ok(())
            })
            .await?;
        let mut r = match reply {
            ReplyBody::Return(r) => r,
            ReplyBody::UserException { id, .. } => {
                return Err(NamingError::UnknownUserException(id));
            }
            ReplyBody::System(exception) => return Err(NamingError::System(exception)),
            ReplyBody::Forward(_) | ReplyBody::None => {
                return Err(NamingError::Orb(crate::orb::OrbError::NoAddress(
                    "the binding iterator moved",
                )));
            }
        };
        let more = r.read_boolean()?;
        let room = max.saturating_sub(bindings.len());
        let chunk = Binding::read_list(&mut r, cap.min(room.max(1)))?;
        if chunk.len() > room {
            return Err(NamingError::System(crate::giop::SystemException::standard(
                "IMP_LIMIT",
                crate::giop::SystemException::OMG_VMCID,
                crate::giop::CompletionStatus::Yes,
            )));
        }
        bindings.extend(chunk);
        if !more {
            return Ok(());
        }
    }
}
