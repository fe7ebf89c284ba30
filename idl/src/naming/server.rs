//! A small CosNaming server: `NamingContextExt` servants over the
//! in-memory [`Tree`], and `BindingIterator` servants for long listings.
//!
//! The root context is served under the key `NameService` (so
//! `corbaloc::HOST:PORT/NameService` and `corbaname::HOST:PORT#name` reach
//! it), further contexts under `NamingContext/<n>` and iterators under
//! `BindingIterator/<n>`; the service registers and removes them on the
//! [`OrbServer`] as they come and go.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use super::binding::{Binding, MAX_BINDINGS_PER_REPLY};
use super::error::NamingError;
use super::name::{Name, NameComponent};
use super::publish::object_ior;
use super::store::NamingStore;
use super::tree::{Bound, NamingLimits, ROOT, Resolved, Tree};
use super::url::{Corbaname, DEFAULT_NAMING_KEY, escape_url_name};
use crate::cdr::CdrWriter;
use crate::giop::{CompletionStatus, SystemException};
use crate::ior::{Corbaloc, Ior};
use crate::orb::{Call, OrbServer, Outcome, Servant, ServantFuture};

/// `IDL:omg.org/CosNaming/NamingContext:1.0`.
pub const NAMING_CONTEXT_ID: &str = "IDL:omg.org/CosNaming/NamingContext:1.0";
/// `IDL:omg.org/CosNaming/NamingContextExt:1.0`.
pub const NAMING_CONTEXT_EXT_ID: &str = "IDL:omg.org/CosNaming/NamingContextExt:1.0";
/// `IDL:omg.org/CosNaming/BindingIterator:1.0`.
pub const BINDING_ITERATOR_ID: &str = "IDL:omg.org/CosNaming/BindingIterator:1.0";

const CONTEXT_KEY_PREFIX: &str = "NamingContext/";
const ITERATOR_KEY_PREFIX: &str = "BindingIterator/";

type Registrar = Box<dyn Fn(Bytes, Option<Arc<dyn Servant>>) + Send + Sync>;

struct State {
    tree: Tree,
    /// The last snapshot saved (persistent services), to undo a change
    /// that could not be saved.
    saved: Bytes,
    /// Live binding iterators: the context listed and the last component
    /// handed out.
    iterators: HashMap<u64, Cursor>,
    /// Iterator ids, oldest first, for eviction.
    iterator_order: VecDeque<u64>,
    next_iterator: u64,
}

/// Where a binding iterator stands.
struct Cursor {
    context: u64,
    after: Option<NameComponent>,
}

struct Shared {
    state: Mutex<State>,
    registrar: Registrar,
    host: String,
    port: u16,
    /// Where every change goes before it is answered, if anywhere.
    store: Option<Box<dyn NamingStore>>,
}

impl Shared {
    fn lock(&self) -> Result<std::sync::MutexGuard<'_, State>, NamingError> {
        self.state.lock().map_err(|_| system("INTERNAL"))
    }

    /// Changes the tree and, for a persistent service, saves it before
    /// returning; if saving fails the change is undone (from the last
    /// saved snapshot) and the caller gets PERSIST_STORE.
    fn change<T>(
        &self,
        change: impl FnOnce(&mut Tree) -> Result<T, NamingError>,
    ) -> Result<T, NamingError> {
        let mut state = self.lock()?;
        let result = change(&mut state.tree)?;
        if let Some(store) = &self.store {
            let saved = state
                .tree
                .snapshot()
                .map_err(NamingError::Reference)
                .and_then(|snapshot| {
                    store
                        .save(&snapshot)
                        .map(|()| snapshot)
                        .map_err(|_| system_completed("PERSIST_STORE", CompletionStatus::No))
                });
            match saved {
                Ok(snapshot) => state.saved = snapshot,
                Err(error) => {
                    let limits = state.tree.limits();
                    if let Ok(tree) = Tree::restore(state.saved.clone(), limits) {
                        state.tree = tree;
                    }
                    return Err(error);
                }
            }
        }
        Ok(result)
    }

    fn context_key(id: u64) -> Bytes {
        if id == ROOT {
            Bytes::from_static(DEFAULT_NAMING_KEY.as_bytes())
        } else {
            Bytes::from(format!("{CONTEXT_KEY_PREFIX}{id}"))
        }
    }

    fn context_ior(&self, id: u64) -> Result<Ior, NamingError> {
        Ok(object_ior(
            NAMING_CONTEXT_EXT_ID,
            &self.host,
            self.port,
            Self::context_key(id),
        )?)
    }

    /// A local context if `ior` names one of ours, else a foreign one.
    fn context_binding(&self, ior: Ior) -> Bound {
        let local = ior.iiop_profile().and_then(Result::ok).and_then(|profile| {
            if profile.host != self.host || profile.port != self.port {
                return None;
            }
            if profile.object_key == DEFAULT_NAMING_KEY.as_bytes() {
                return Some(ROOT);
            }
            std::str::from_utf8(&profile.object_key)
                .ok()?
                .strip_prefix(CONTEXT_KEY_PREFIX)?
                .parse()
                .ok()
        });
        match local {
            Some(id) => Bound::Local(id),
            None => Bound::Foreign(ior),
        }
    }

    fn register_context(self: &Arc<Self>, id: u64) {
        let servant = Arc::new(ContextServant {
            id,
            shared: self.clone(),
        });
        (self.registrar)(Self::context_key(id), Some(servant));
    }
}

fn system(name: &str) -> NamingError {
    system_completed(name, CompletionStatus::No)
}

fn system_completed(name: &str, completed: CompletionStatus) -> NamingError {
    NamingError::System(SystemException::standard(
        name,
        SystemException::OMG_VMCID,
        completed,
    ))
}

/// A CosNaming service on an [`OrbServer`]: the root context under
/// `NameService`, and Rust access to the same tree so Ithaca can name its
/// own objects without a round trip.
///
/// It follows the CosNaming rules: `NotFound` carries the rest of the name
/// from the failing component on, `rebind` over a binding of the other
/// type is `NotFound` (`not_object` or `not_context`), and walking through
/// a context of another server raises `CannotProceed` with that context
/// (the client continues there). Unlike omniNames it refuses to `destroy`
/// the root context (`NO_PERMISSION`), and growth beyond its
/// [`NamingLimits`] is `NO_RESOURCES` or `IMP_LIMIT`. Binding iterators
/// are cursors over the live context; the oldest is dropped beyond
/// [`NamingLimits::max_iterators`]. Bindings live in memory, or also in a
/// [`NamingStore`] ([`NamingService::install_persistent`]); iterators are
/// never persisted.
///
/// ```
/// use std::sync::Arc;
/// use ithaca_idl::naming::{Name, NamingClient, NamingService, object_ior, resolve_reference};
/// use ithaca_idl::orb::{ClientConfig, OrbServer};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = OrbServer::bind("127.0.0.1:0".parse()?).await?;
/// let addr = server.local_addr();
/// let naming = NamingService::install(&server, &addr.ip().to_string(), addr.port());
/// let running = server.spawn();
///
/// // Name an object in-process, then find it over IIOP.
/// let echo = object_ior("IDL:Demo/Echo:1.0", "127.0.0.1", 4000, &b"Echo"[..])?;
/// naming.bind(&"demo.ctx/echo".parse()?, echo.clone(), true)?;
/// let url = format!("corbaloc::{addr}/NameService");
/// let mut client = NamingClient::connect_reference(&url, ClientConfig::default()).await?;
/// assert_eq!(client.resolve(&"demo.ctx/echo".parse()?).await?, echo);
/// let target = resolve_reference(&format!("corbaname::{addr}#demo.ctx/echo"), ClientConfig::default()).await?;
/// assert_eq!(&target.key[..], b"Echo");
/// running.shutdown().await;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct NamingService {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for NamingService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NamingService")
            .field("host", &self.shared.host)
            .field("port", &self.shared.port)
            .finish_non_exhaustive()
    }
}

impl NamingService {
    /// Installs a naming service with default [`NamingLimits`] on `server`;
    /// the references it hands out name `host:port` (the published address).
    pub fn install(server: &OrbServer, host: &str, port: u16) -> Self {
        Self::install_with_limits(server, host, port, NamingLimits::default())
    }

    /// Installs a naming service with the given limits.
    pub fn install_with_limits(
        server: &OrbServer,
        host: &str,
        port: u16,
        limits: NamingLimits,
    ) -> Self {
        Self::start(server, host, port, Tree::new(limits), Bytes::new(), None)
    }

    /// Installs a persistent naming service: its bindings are loaded from
    /// `store` (empty if it holds nothing yet), and every change is saved
    /// there before it is answered (a failed save is undone and answered
    /// with PERSIST_STORE). References handed out before a restart stay
    /// valid as long as the service comes back on the same published
    /// address. Fails if the stored snapshot cannot be read or is invalid.
    pub fn install_persistent(
        server: &OrbServer,
        host: &str,
        port: u16,
        limits: NamingLimits,
        store: impl NamingStore,
    ) -> std::io::Result<Self> {
        let invalid = |error: crate::Error| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("invalid naming snapshot: {error}"),
            )
        };
        let (tree, saved) = match store.load()? {
            Some(data) => (Tree::restore(data.clone(), limits).map_err(invalid)?, data),
            None => {
                let tree = Tree::new(limits);
                let snapshot = tree.snapshot().map_err(invalid)?;
                store.save(&snapshot)?;
                (tree, snapshot)
            }
        };
        Ok(Self::start(
            server,
            host,
            port,
            tree,
            saved,
            Some(Box::new(store)),
        ))
    }

    fn start(
        server: &OrbServer,
        host: &str,
        port: u16,
        tree: Tree,
        saved: Bytes,
        store: Option<Box<dyn NamingStore>>,
    ) -> Self {
        let contexts = tree.context_ids();
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                tree,
                saved,
                iterators: HashMap::new(),
                iterator_order: VecDeque::new(),
                next_iterator: 0,
            }),
            registrar: Box::new(server.registrar()),
            host: host.to_owned(),
            port,
            store,
        });
        for id in contexts {
            shared.register_context(id);
        }
        Self { shared }
    }

    /// Checks a snapshot as [`install_persistent`](Self::install_persistent)
    /// would load it, with default limits; returns how many contexts it
    /// holds. The fuzzing entry point of the snapshot decoder.
    pub fn check_snapshot(data: Bytes) -> crate::Result<usize> {
        Tree::restore(data, NamingLimits::default()).map(|tree| tree.context_ids().len())
    }

    /// The root context's reference.
    pub fn root_ior(&self) -> Result<Ior, NamingError> {
        self.shared.context_ior(ROOT)
    }

    /// Binds `object` under `name` (relative to the root), creating the
    /// missing contexts on the way when `create_contexts` is set; an
    /// existing binding of the last component is replaced.
    pub fn bind(&self, name: &Name, object: Ior, create_contexts: bool) -> Result<(), NamingError> {
        name.validate().map_err(|_| NamingError::InvalidName)?;
        let mut created = Vec::new();
        let result = self.shared.change(|tree| {
            if create_contexts {
                for end in 1..name.len() {
                    let prefix = Name(name.0.get(..end).unwrap_or_default().to_vec());
                    if tree.resolve(ROOT, &prefix).is_err() {
                        created.push(tree.bind_new_context(ROOT, &prefix)?);
                    }
                }
            }
            tree.bind(ROOT, name, Bound::Object(object), true)
        });
        // Contexts created before a failure stay bound, so they must be
        // reachable too.
        for id in created {
            self.shared.register_context(id);
        }
        result
    }

    /// Resolves `name` (relative to the root) to a reference.
    pub fn resolve(&self, name: &Name) -> Result<Ior, NamingError> {
        let resolved = self.shared.lock()?.tree.resolve(ROOT, name)?;
        match resolved {
            Resolved::Reference(ior) => Ok(ior),
            Resolved::Local(id) => self.shared.context_ior(id),
        }
    }

    /// Removes the binding of `name` (relative to the root).
    pub fn unbind(&self, name: &Name) -> Result<(), NamingError> {
        self.shared.change(|tree| tree.unbind(ROOT, name))
    }
}

/// One naming context.
struct ContextServant {
    id: u64,
    shared: Arc<Shared>,
}

enum Reply {
    Nothing,
    Reference(Ior),
    Text(String),
    Name(Name),
    List(Vec<Binding>, Ior),
}

impl ContextServant {
    fn run(&self, call: &mut Call) -> Result<Reply, NamingError> {
        let operation = call.operation().to_owned();
        let args = call.args();
        let shared = &self.shared;
        match operation.as_str() {
            "resolve" | "resolve_str" => {
                let name = if operation == "resolve" {
                    Name::read(args)?
                } else {
                    Name::to_name(&args.read_string()?).map_err(|_| NamingError::InvalidName)?
                };
                let resolved = shared.lock()?.tree.resolve(self.id, &name)?;
                Ok(Reply::Reference(match resolved {
                    Resolved::Reference(ior) => ior,
                    Resolved::Local(id) => shared.context_ior(id)?,
                }))
            }
            "bind" | "rebind" | "bind_context" | "rebind_context" => {
                let name = Name::read(args)?;
                let reference = Ior::read(args)?;
                let bound = if operation.ends_with("context") {
                    if reference.is_nil() {
                        return Err(system("BAD_PARAM"));
                    }
                    shared.context_binding(reference)
                } else {
                    Bound::Object(reference)
                };
                let rebind = operation.starts_with("rebind");
                shared.change(|tree| tree.bind(self.id, &name, bound, rebind))?;
                Ok(Reply::Nothing)
            }
            "unbind" => {
                let name = Name::read(args)?;
                shared.change(|tree| tree.unbind(self.id, &name))?;
                Ok(Reply::Nothing)
            }
            "new_context" => {
                let id = shared.change(Tree::new_context)?;
                shared.register_context(id);
                Ok(Reply::Reference(shared.context_ior(id)?))
            }
            "bind_new_context" => {
                let name = Name::read(args)?;
                let id = shared.change(|tree| tree.bind_new_context(self.id, &name))?;
                shared.register_context(id);
                Ok(Reply::Reference(shared.context_ior(id)?))
            }
            "destroy" => {
                shared.change(|tree| tree.destroy(self.id))?;
                (shared.registrar)(Shared::context_key(self.id), None);
                Ok(Reply::Nothing)
            }
            "list" => {
                let how_many = usize::try_from(args.read_ulong()?).unwrap_or(usize::MAX);
                self.list(how_many.min(MAX_BINDINGS_PER_REPLY))
            }
            "to_string" => {
                let name = Name::read(args)?;
                let text = name
                    .to_string_name()
                    .map_err(|_| NamingError::InvalidName)?;
                Ok(Reply::Text(text))
            }
            "to_name" => {
                let text = args.read_string()?;
                Ok(Reply::Name(
                    Name::to_name(&text).map_err(|_| NamingError::InvalidName)?,
                ))
            }
            "to_url" => {
                let address = args.read_string()?;
                let string_name = args.read_string()?;
                Name::to_name(&string_name).map_err(|_| NamingError::InvalidName)?;
                if address.is_empty() || Corbaloc::parse(&format!("corbaloc:{address}")).is_err() {
                    return Err(NamingError::InvalidAddress);
                }
                let url = format!("corbaname:{address}#{}", escape_url_name(&string_name));
                // What we hand out, we can read back.
                Corbaname::parse(&url).map_err(|_| NamingError::InvalidAddress)?;
                Ok(Reply::Text(url))
            }
            _ => Err(system("BAD_OPERATION")),
        }
    }

    fn list(&self, how_many: usize) -> Result<Reply, NamingError> {
        let shared = &self.shared;
        let (head, iterator, evicted) = {
            let mut state = shared.lock()?;
            let head = state.tree.list_after(self.id, None, how_many)?;
            let after = head.last().and_then(|b| b.name.0.first()).cloned();
            let more = !state
                .tree
                .list_after(self.id, after.as_ref(), 1)?
                .is_empty();
            if !more {
                return Ok(Reply::List(head, Ior::default()));
            }
            let id = state.next_iterator;
            state.next_iterator += 1;
            state.iterators.insert(
                id,
                Cursor {
                    context: self.id,
                    after,
                },
            );
            state.iterator_order.push_back(id);
            let mut evicted = Vec::new();
            while state.iterator_order.len() > state.tree.limits().max_iterators.max(1) {
                if let Some(old) = state.iterator_order.pop_front() {
                    state.iterators.remove(&old);
                    evicted.push(old);
                }
            }
            (head, id, evicted)
        };
        for old in evicted {
            (shared.registrar)(iterator_key(old), None);
        }
        (shared.registrar)(
            iterator_key(iterator),
            Some(Arc::new(IteratorServant {
                id: iterator,
                shared: shared.clone(),
            })),
        );
        let ior = object_ior(
            BINDING_ITERATOR_ID,
            &shared.host,
            shared.port,
            iterator_key(iterator),
        )?;
        Ok(Reply::List(head, ior))
    }
}

fn iterator_key(id: u64) -> Bytes {
    Bytes::from(format!("{ITERATOR_KEY_PREFIX}{id}"))
}

fn outcome(call: &Call, result: Result<Reply, NamingError>) -> Outcome {
    match result {
        Ok(Reply::Nothing) => call.reply(|_| Ok(())),
        Ok(Reply::Reference(ior)) => call.reply(|w| ior.write(w)),
        Ok(Reply::Text(text)) => call.reply(|w| w.write_string(&text)),
        Ok(Reply::Name(name)) => call.reply(|w| name.write(w)),
        Ok(Reply::List(bindings, iterator)) => call.reply(|w| {
            Binding::write_list(&bindings, w)?;
            iterator.write(w)
        }),
        Err(NamingError::System(exception)) => Outcome::System(exception),
        Err(NamingError::Orb(crate::orb::OrbError::Giop(error))) => Outcome::marshal(error),
        Err(error) => match error.user_exception_id() {
            Some(id) => call.user_exception(id, |w: &mut CdrWriter<'_>| error.write_members(w)),
            None => Outcome::system(
                "INTERNAL",
                SystemException::OMG_VMCID,
                CompletionStatus::Maybe,
            ),
        },
    }
}

impl Servant for ContextServant {
    fn repository_id(&self) -> &str {
        NAMING_CONTEXT_EXT_ID
    }

    fn is_a(&self, repository_id: &str) -> bool {
        [
            NAMING_CONTEXT_EXT_ID,
            NAMING_CONTEXT_ID,
            "IDL:omg.org/CORBA/Object:1.0",
        ]
        .contains(&repository_id)
    }

    fn invoke(&self, mut call: Call) -> ServantFuture<'_> {
        let result = self.run(&mut call);
        Box::pin(std::future::ready(outcome(&call, result)))
    }
}

/// One binding iterator: a cursor over the bindings of a context that
/// `list` did not return (changes to the context show through).
struct IteratorServant {
    id: u64,
    shared: Arc<Shared>,
}

impl IteratorServant {
    /// Takes up to `count` bindings and moves the cursor past them.
    fn take(&self, count: usize) -> Result<Vec<Binding>, NamingError> {
        let mut guard = self.shared.lock()?;
        let state = &mut *guard;
        let cursor = state
            .iterators
            .get_mut(&self.id)
            .ok_or(system("OBJECT_NOT_EXIST"))?;
        // A destroyed context has nothing more to list.
        let chunk = state
            .tree
            .list_after(cursor.context, cursor.after.as_ref(), count)
            .unwrap_or_default();
        if let Some(last) = chunk.last().and_then(|b| b.name.0.first()) {
            cursor.after = Some(last.clone());
        }
        Ok(chunk)
    }

    fn run(&self, call: &mut Call) -> Outcome {
        match call.operation() {
            "next_one" => match self.take(1) {
                Ok(mut one) => {
                    let binding = one.pop();
                    call.reply(|w| {
                        w.write_boolean(binding.is_some());
                        match &binding {
                            Some(binding) => binding.write(w),
                            // An empty binding goes with `false`.
                            None => Binding {
                                name: Name::default(),
                                binding_type: super::BindingType::Object,
                            }
                            .write(w),
                        }
                    })
                }
                Err(error) => outcome(call, Err(error)),
            },
            "next_n" => {
                let how_many = match call.args().read_ulong() {
                    Ok(0) => return outcome(call, Err(system("BAD_PARAM"))),
                    Ok(n) => usize::try_from(n).unwrap_or(usize::MAX),
                    Err(error) => return Outcome::marshal(error),
                };
                match self.take(how_many.min(MAX_BINDINGS_PER_REPLY)) {
                    Ok(chunk) => call.reply(|w| {
                        w.write_boolean(!chunk.is_empty());
                        Binding::write_list(&chunk, w)
                    }),
                    Err(error) => outcome(call, Err(error)),
                }
            }
            "destroy" => {
                if let Ok(mut state) = self.shared.lock() {
                    state.iterators.remove(&self.id);
                    state.iterator_order.retain(|id| *id != self.id);
                }
                (self.shared.registrar)(iterator_key(self.id), None);
                call.reply(|_| Ok(()))
            }
            _ => Outcome::bad_operation(),
        }
    }
}

impl Servant for IteratorServant {
    fn repository_id(&self) -> &str {
        BINDING_ITERATOR_ID
    }

    fn invoke(&self, mut call: Call) -> ServantFuture<'_> {
        let outcome = self.run(&mut call);
        Box::pin(std::future::ready(outcome))
    }
}
