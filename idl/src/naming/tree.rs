//! The in-memory naming graph behind [`NamingService`](super::NamingService):
//! contexts by id, each a sorted map from name component to what it is
//! bound to. Sans-IO; every operation follows the `CosNaming` rules and
//! fails with the exception the spec names, and every growth is bounded by
//! [`NamingLimits`].

use std::collections::{BTreeMap, HashMap};

use super::binding::{Binding, BindingType};
use super::error::{NamingError, NotFoundReason};
use super::name::{Name, NameComponent};
use crate::giop::{CompletionStatus, SystemException};
use crate::ior::Ior;

/// Bounds on what a naming service stores.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct NamingLimits {
    /// Contexts, the root included.
    pub max_contexts: usize,
    /// Bindings in all contexts together.
    pub max_bindings: usize,
    /// Approximate bytes of names and references stored.
    pub max_stored_bytes: usize,
    /// Encoded size of one bound reference.
    pub max_reference_bytes: usize,
    /// Binding iterators alive at once (the oldest is dropped beyond).
    pub max_iterators: usize,
}

impl Default for NamingLimits {
    fn default() -> Self {
        Self {
            max_contexts: 4096,
            max_bindings: 65_536,
            max_stored_bytes: 64 * 1024 * 1024,
            max_reference_bytes: 64 * 1024,
            max_iterators: 64,
        }
    }
}

/// The id of the root context.
pub(crate) const ROOT: u64 = 0;

/// What a name is bound to.
#[derive(Clone, Debug, Eq, PartialEq)]
pub(crate) enum Bound {
    /// An object.
    Object(Ior),
    /// A context of this service.
    Local(u64),
    /// A context elsewhere.
    Foreign(Ior),
}

impl Bound {
    fn binding_type(&self) -> BindingType {
        match self {
            Self::Object(_) => BindingType::Object,
            Self::Local(_) | Self::Foreign(_) => BindingType::Context,
        }
    }

    fn size(&self) -> usize {
        match self {
            Self::Object(ior) | Self::Foreign(ior) => reference_size(ior),
            Self::Local(_) => 8,
        }
    }
}

/// Roughly the encoded size of a reference.
pub(crate) fn reference_size(ior: &Ior) -> usize {
    ior.profiles.iter().fold(ior.type_id.len() + 16, |sum, p| {
        sum.saturating_add(p.profile_data.len() + 8)
    })
}

/// What a name resolved to.
#[derive(Clone, Debug, Eq, PartialEq)]
pub(crate) enum Resolved {
    /// An object, or a foreign context.
    Reference(Ior),
    /// A context of this service.
    Local(u64),
}

/// The naming graph.
#[derive(Debug)]
pub(crate) struct Tree {
    contexts: HashMap<u64, BTreeMap<NameComponent, Bound>>,
    next_id: u64,
    bindings: usize,
    stored_bytes: usize,
    limits: NamingLimits,
}

fn system(name: &str, completed: CompletionStatus) -> NamingError {
    NamingError::System(SystemException::standard(
        name,
        SystemException::OMG_VMCID,
        completed,
    ))
}

fn rest(name: &Name, from: usize) -> Name {
    Name(name.0.get(from..).unwrap_or_default().to_vec())
}

fn entry_size(component: &NameComponent, bound: &Bound) -> usize {
    component.id.len() + component.kind.len() + 32 + bound.size()
}

impl Tree {
    pub(crate) fn new(limits: NamingLimits) -> Self {
        let mut contexts = HashMap::new();
        contexts.insert(ROOT, BTreeMap::new());
        Self {
            contexts,
            next_id: ROOT + 1,
            bindings: 0,
            stored_bytes: 0,
            limits,
        }
    }

    pub(crate) fn limits(&self) -> NamingLimits {
        self.limits
    }

    pub(crate) fn exists(&self, context: u64) -> bool {
        self.contexts.contains_key(&context)
    }

    /// Walks the context path `name[..name.len() - 1]` from `start` and
    /// returns the context that holds the last component.
    fn parent(&self, start: u64, name: &Name) -> Result<u64, NamingError> {
        name.validate().map_err(|_| NamingError::InvalidName)?;
        if !self.exists(start) {
            return Err(system("OBJECT_NOT_EXIST", CompletionStatus::No));
        }
        let mut current = start;
        let path = name.0.len().saturating_sub(1);
        for (i, component) in name.0.iter().take(path).enumerate() {
            let bindings = self.contexts.get(&current).ok_or(NamingError::NotFound {
                why: NotFoundReason::MissingNode,
                rest_of_name: rest(name, i),
            })?;
            current = match bindings.get(component) {
                Some(Bound::Local(id)) if self.exists(*id) => *id,
                None | Some(Bound::Local(_)) => {
                    return Err(NamingError::NotFound {
                        why: NotFoundReason::MissingNode,
                        rest_of_name: rest(name, i),
                    });
                }
                Some(Bound::Object(_)) => {
                    return Err(NamingError::NotFound {
                        why: NotFoundReason::NotContext,
                        rest_of_name: rest(name, i),
                    });
                }
                Some(Bound::Foreign(context)) => {
                    return Err(NamingError::CannotProceed {
                        context: context.clone(),
                        rest_of_name: rest(name, i + 1),
                    });
                }
            };
        }
        Ok(current)
    }

    fn last(name: &Name) -> Result<&NameComponent, NamingError> {
        name.0.last().ok_or(NamingError::InvalidName)
    }

    /// `resolve`.
    pub(crate) fn resolve(&self, start: u64, name: &Name) -> Result<Resolved, NamingError> {
        let parent = self.parent(start, name)?;
        let last = Self::last(name)?;
        let missing = || NamingError::NotFound {
            why: NotFoundReason::MissingNode,
            rest_of_name: Name(vec![last.clone()]),
        };
        match self.contexts.get(&parent).and_then(|b| b.get(last)) {
            Some(Bound::Object(ior) | Bound::Foreign(ior)) => Ok(Resolved::Reference(ior.clone())),
            Some(Bound::Local(id)) if self.exists(*id) => Ok(Resolved::Local(*id)),
            Some(Bound::Local(_)) | None => Err(missing()),
        }
    }

    /// `bind`, `rebind`, `bind_context` and `rebind_context`.
    pub(crate) fn bind(
        &mut self,
        start: u64,
        name: &Name,
        bound: Bound,
        rebind: bool,
    ) -> Result<(), NamingError> {
        let parent = self.parent(start, name)?;
        let last = Self::last(name)?.clone();
        if let Bound::Object(ior) | Bound::Foreign(ior) = &bound
            && reference_size(ior) > self.limits.max_reference_bytes
        {
            return Err(system("IMP_LIMIT", CompletionStatus::No));
        }
        let new_size = entry_size(&last, &bound);
        let bindings = self.contexts.get(&parent).ok_or(NamingError::InvalidName)?;
        let old_size = match bindings.get(&last) {
            Some(_) if !rebind => return Err(NamingError::AlreadyBound),
            Some(old) if old.binding_type() != bound.binding_type() => {
                return Err(NamingError::NotFound {
                    why: match bound.binding_type() {
                        BindingType::Object => NotFoundReason::NotObject,
                        BindingType::Context => NotFoundReason::NotContext,
                    },
                    rest_of_name: Name(vec![last]),
                });
            }
            Some(old) => Some(entry_size(&last, old)),
            None => None,
        };
        let bindings_after = self.bindings + usize::from(old_size.is_none());
        let bytes_after = (self.stored_bytes + new_size).saturating_sub(old_size.unwrap_or(0));
        if bindings_after > self.limits.max_bindings || bytes_after > self.limits.max_stored_bytes {
            return Err(system("NO_RESOURCES", CompletionStatus::No));
        }
        if let Some(bindings) = self.contexts.get_mut(&parent) {
            bindings.insert(last, bound);
            self.bindings = bindings_after;
            self.stored_bytes = bytes_after;
        }
        Ok(())
    }

    /// `unbind`.
    pub(crate) fn unbind(&mut self, start: u64, name: &Name) -> Result<(), NamingError> {
        let parent = self.parent(start, name)?;
        let last = Self::last(name)?;
        let removed = self
            .contexts
            .get_mut(&parent)
            .and_then(|bindings| bindings.remove(last));
        match removed {
            Some(bound) => {
                self.bindings = self.bindings.saturating_sub(1);
                self.stored_bytes = self.stored_bytes.saturating_sub(entry_size(last, &bound));
                Ok(())
            }
            None => Err(NamingError::NotFound {
                why: NotFoundReason::MissingNode,
                rest_of_name: Name(vec![last.clone()]),
            }),
        }
    }

    /// `new_context`.
    pub(crate) fn new_context(&mut self) -> Result<u64, NamingError> {
        if self.contexts.len() >= self.limits.max_contexts {
            return Err(system("NO_RESOURCES", CompletionStatus::No));
        }
        let id = self.next_id;
        self.next_id += 1;
        self.contexts.insert(id, BTreeMap::new());
        Ok(id)
    }

    /// `bind_new_context`: checks the name first, so a failure creates
    /// nothing.
    pub(crate) fn bind_new_context(&mut self, start: u64, name: &Name) -> Result<u64, NamingError> {
        let parent = self.parent(start, name)?;
        let last = Self::last(name)?;
        if self
            .contexts
            .get(&parent)
            .is_some_and(|b| b.contains_key(last))
        {
            return Err(NamingError::AlreadyBound);
        }
        let id = self.new_context()?;
        if let Err(error) = self.bind(start, name, Bound::Local(id), false) {
            self.contexts.remove(&id);
            return Err(error);
        }
        Ok(id)
    }

    /// `destroy`: only empty contexts, never the root.
    pub(crate) fn destroy(&mut self, context: u64) -> Result<(), NamingError> {
        match self.contexts.get(&context) {
            None => Err(system("OBJECT_NOT_EXIST", CompletionStatus::No)),
            Some(_) if context == ROOT => Err(system("NO_PERMISSION", CompletionStatus::No)),
            Some(bindings) if !bindings.is_empty() => Err(NamingError::NotEmpty),
            Some(_) => {
                self.contexts.remove(&context);
                Ok(())
            }
        }
    }

    /// Every binding of the context, sorted.
    #[cfg(test)]
    pub(crate) fn list(&self, context: u64) -> Result<Vec<Binding>, NamingError> {
        self.list_after(context, None, usize::MAX)
    }

    /// Up to `count` bindings of the context in order, after the component
    /// `after` (from the start with `None`): the cursor of a binding
    /// iterator, which so holds no copy of the listing.
    pub(crate) fn list_after(
        &self,
        context: u64,
        after: Option<&NameComponent>,
        count: usize,
    ) -> Result<Vec<Binding>, NamingError> {
        use std::ops::Bound as B;
        let bindings = self
            .contexts
            .get(&context)
            .ok_or(system("OBJECT_NOT_EXIST", CompletionStatus::No))?;
        let range = match after {
            Some(after) => bindings.range::<NameComponent, _>((B::Excluded(after), B::Unbounded)),
            None => bindings.range::<NameComponent, _>(..),
        };
        Ok(range
            .take(count)
            .map(|(component, bound)| Binding::new(component.clone(), bound.binding_type()))
            .collect())
    }
}

/// The first string of a snapshot.
const SNAPSHOT_MAGIC: &str = "ithaca-naming";
/// The snapshot format version.
const SNAPSHOT_VERSION: u32 = 1;

/// What a snapshot entry is bound to.
const SNAPSHOT_OBJECT: u8 = 0;
const SNAPSHOT_LOCAL: u8 = 1;
const SNAPSHOT_FOREIGN: u8 = 2;

impl Tree {
    /// The whole graph as bytes: a big-endian CDR encapsulation holding a
    /// magic string, a format version, the next context id, then each
    /// context (id, then its bindings: name component, what it is bound to
    /// and the reference or context id). Strings are UTF-8. Binding
    /// iterators are not kept.
    pub(crate) fn snapshot(&self) -> crate::Result<bytes::Bytes> {
        use crate::cdr::{ByteOrder, CdrWriter, CharCodeSet};
        let mut buf = bytes::BytesMut::new();
        let mut w = CdrWriter::new(&mut buf, ByteOrder::BigEndian, crate::GiopVersion::V1_2)
            .with_char_code_set(CharCodeSet::Utf8);
        w.write_octet(ByteOrder::BigEndian.flag());
        w.write_string(SNAPSHOT_MAGIC)?;
        w.write_ulong(SNAPSHOT_VERSION);
        w.write_ulonglong(self.next_id);
        let mut ids: Vec<&u64> = self.contexts.keys().collect();
        ids.sort_unstable();
        w.write_length(ids.len())?;
        for id in ids {
            let bindings = self.contexts.get(id).map_or(0, BTreeMap::len);
            w.write_ulonglong(*id);
            w.write_length(bindings)?;
            for (component, bound) in self.contexts.get(id).into_iter().flatten() {
                component.write(&mut w)?;
                match bound {
                    Bound::Object(ior) => {
                        w.write_octet(SNAPSHOT_OBJECT);
                        ior.write(&mut w)?;
                    }
                    Bound::Local(context) => {
                        w.write_octet(SNAPSHOT_LOCAL);
                        w.write_ulonglong(*context);
                    }
                    Bound::Foreign(ior) => {
                        w.write_octet(SNAPSHOT_FOREIGN);
                        ior.write(&mut w)?;
                    }
                }
            }
        }
        Ok(buf.freeze())
    }

    /// Rebuilds a graph from a [`snapshot`](Self::snapshot), checking it
    /// against `limits` as if every binding had been made again.
    pub(crate) fn restore(data: bytes::Bytes, limits: NamingLimits) -> crate::Result<Self> {
        use crate::cdr::{CdrReader, CharCodeSet};
        let bad = |what: &'static str| crate::Error::InvalidReference(what);
        let mut r = CdrReader::from_encapsulation(data, crate::GiopVersion::V1_2)?
            .with_char_code_set(CharCodeSet::Utf8);
        if r.read_string()? != SNAPSHOT_MAGIC {
            return Err(bad("not a naming snapshot"));
        }
        if r.read_ulong()? != SNAPSHOT_VERSION {
            return Err(bad("unknown naming snapshot version"));
        }
        let mut tree = Self::new(limits);
        tree.next_id = r.read_ulonglong()?;
        tree.contexts.clear();
        // Each context takes at least 12 bytes.
        let contexts = r.read_length(12)?;
        if contexts > limits.max_contexts {
            return Err(crate::Error::LimitExceeded {
                what: "naming contexts",
                value: contexts,
                limit: limits.max_contexts,
            });
        }
        for _ in 0..contexts {
            let id = r.read_ulonglong()?;
            if id >= tree.next_id && id != ROOT {
                return Err(bad("context id beyond the next id"));
            }
            let mut bindings = BTreeMap::new();
            // A binding takes at least two empty strings and a tag.
            for _ in 0..r.read_length(11)? {
                let component = NameComponent::read(&mut r)?;
                let bound = match r.read_octet()? {
                    SNAPSHOT_OBJECT => Bound::Object(Ior::read(&mut r)?),
                    SNAPSHOT_LOCAL => Bound::Local(r.read_ulonglong()?),
                    SNAPSHOT_FOREIGN => Bound::Foreign(Ior::read(&mut r)?),
                    _ => return Err(bad("unknown binding in a naming snapshot")),
                };
                tree.bindings += 1;
                tree.stored_bytes = tree
                    .stored_bytes
                    .saturating_add(entry_size(&component, &bound));
                if tree.bindings > limits.max_bindings
                    || tree.stored_bytes > limits.max_stored_bytes
                {
                    return Err(crate::Error::LimitExceeded {
                        what: "naming bindings",
                        value: tree.bindings,
                        limit: limits.max_bindings,
                    });
                }
                bindings.insert(component, bound);
            }
            if tree.contexts.insert(id, bindings).is_some() {
                return Err(bad("a context twice in a naming snapshot"));
            }
        }
        r.finish()?;
        if !tree.contexts.contains_key(&ROOT) {
            return Err(bad("no root context in the naming snapshot"));
        }
        Ok(tree)
    }

    /// The ids of every context, the root included.
    pub(crate) fn context_ids(&self) -> Vec<u64> {
        self.contexts.keys().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_round_trip() {
        let mut tree = Tree::new(NamingLimits::default());
        let ctx = tree.bind_new_context(ROOT, &name("a.dir")).unwrap();
        tree.bind(ROOT, &name("a.dir/é"), Bound::Object(object(1)), false)
            .unwrap();
        tree.bind(ROOT, &name("far"), Bound::Foreign(object(2)), false)
            .unwrap();
        let spare = tree.new_context().unwrap();
        let restored = Tree::restore(tree.snapshot().unwrap(), NamingLimits::default()).unwrap();
        assert_eq!(restored.contexts, tree.contexts);
        assert_eq!(restored.next_id, tree.next_id);
        assert_eq!(restored.bindings, tree.bindings);
        assert_eq!(restored.stored_bytes, tree.stored_bytes);
        let mut ids = restored.context_ids();
        ids.sort_unstable();
        assert_eq!(ids, [ROOT, ctx, spare]);
    }

    #[test]
    fn bad_snapshots_are_refused() {
        let tree = Tree::new(NamingLimits::default());
        let good = tree.snapshot().unwrap();
        for cut in 0..good.len() {
            assert!(Tree::restore(good.slice(..cut), NamingLimits::default()).is_err());
        }
        let small = NamingLimits {
            max_bindings: 0,
            ..NamingLimits::default()
        };
        let mut tree = Tree::new(NamingLimits::default());
        tree.bind(ROOT, &name("x"), Bound::Object(object(1)), false)
            .unwrap();
        assert!(Tree::restore(tree.snapshot().unwrap(), small).is_err());
        assert!(Tree::restore(bytes::Bytes::from_static(b"\x00junk"), small).is_err());
    }
    use crate::naming::object_ior;

    fn name(text: &str) -> Name {
        Name::to_name(text).unwrap()
    }

    fn object(n: u16) -> Ior {
        object_ior("IDL:X:1.0", "h", n, &b"k"[..]).unwrap()
    }

    #[test]
    fn bind_resolve_nested_and_errors() {
        let mut tree = Tree::new(NamingLimits::default());
        let a = tree.bind_new_context(ROOT, &name("a")).unwrap();
        tree.bind(ROOT, &name("a/x.obj"), Bound::Object(object(1)), false)
            .unwrap();
        assert_eq!(
            tree.resolve(ROOT, &name("a/x.obj")).unwrap(),
            Resolved::Reference(object(1))
        );
        assert_eq!(tree.resolve(ROOT, &name("a")).unwrap(), Resolved::Local(a));
        assert_eq!(
            tree.resolve(a, &name("x.obj")).unwrap(),
            Resolved::Reference(object(1))
        );
        assert!(matches!(
            tree.bind(ROOT, &name("a/x.obj"), Bound::Object(object(2)), false),
            Err(NamingError::AlreadyBound)
        ));
        tree.bind(ROOT, &name("a/x.obj"), Bound::Object(object(2)), true)
            .unwrap();
        // rebind may not change the binding's type.
        assert!(matches!(
            tree.bind(ROOT, &name("a"), Bound::Object(object(2)), true),
            Err(NamingError::NotFound {
                why: NotFoundReason::NotObject,
                ..
            })
        ));
        match tree.resolve(ROOT, &name("a/b/c")) {
            Err(NamingError::NotFound {
                why: NotFoundReason::MissingNode,
                rest_of_name,
            }) => assert_eq!(rest_of_name, name("b/c")),
            other => panic!("{other:?}"),
        }
        match tree.resolve(ROOT, &name("a/x.obj/c")) {
            Err(NamingError::NotFound {
                why: NotFoundReason::NotContext,
                rest_of_name,
            }) => assert_eq!(rest_of_name, name("x.obj/c")),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            tree.resolve(ROOT, &Name::default()),
            Err(NamingError::InvalidName)
        ));
        assert!(matches!(tree.destroy(a), Err(NamingError::NotEmpty)));
        tree.unbind(ROOT, &name("a/x.obj")).unwrap();
        assert!(matches!(
            tree.unbind(ROOT, &name("a/x.obj")),
            Err(NamingError::NotFound { .. })
        ));
        tree.destroy(a).unwrap();
        // The binding of the destroyed context dangles: missing node.
        assert!(matches!(
            tree.resolve(ROOT, &name("a")),
            Err(NamingError::NotFound {
                why: NotFoundReason::MissingNode,
                ..
            })
        ));
        assert!(matches!(tree.destroy(ROOT), Err(NamingError::System(_))));
        assert_eq!(tree.list(ROOT).unwrap().len(), 1);
    }

    #[test]
    fn cursors_survive_changes_to_the_context() {
        let mut tree = Tree::new(NamingLimits::default());
        for id in ["a", "b", "c", "d"] {
            tree.bind(ROOT, &name(id), Bound::Object(object(1)), false)
                .unwrap();
        }
        let first = tree.list_after(ROOT, None, 2).unwrap();
        let cursor = first[1].name.0[0].clone();
        assert_eq!(cursor, NameComponent::new("b", ""));
        // The cursor's own binding and the next one go away.
        tree.unbind(ROOT, &name("b")).unwrap();
        tree.unbind(ROOT, &name("c")).unwrap();
        let rest = tree.list_after(ROOT, Some(&cursor), 10).unwrap();
        assert_eq!(
            rest,
            [Binding::new(
                NameComponent::new("d", ""),
                BindingType::Object
            )]
        );
        assert!(tree.list_after(77, None, 1).is_err());
    }

    #[test]
    fn foreign_contexts_cannot_proceed() {
        let mut tree = Tree::new(NamingLimits::default());
        tree.bind(ROOT, &name("far"), Bound::Foreign(object(9)), false)
            .unwrap();
        match tree.resolve(ROOT, &name("far/b/c")) {
            Err(NamingError::CannotProceed {
                context,
                rest_of_name,
            }) => {
                assert_eq!(context, object(9));
                assert_eq!(rest_of_name, name("b/c"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn limits_hold() {
        let mut tree = Tree::new(NamingLimits {
            max_contexts: 2,
            max_bindings: 3,
            ..NamingLimits::default()
        });
        tree.bind_new_context(ROOT, &name("c")).unwrap();
        assert!(matches!(
            tree.bind_new_context(ROOT, &name("d")),
            Err(NamingError::System(_))
        ));
        // The failed bind_new_context left nothing behind.
        assert_eq!(tree.list(ROOT).unwrap().len(), 1);
        tree.bind(ROOT, &name("x"), Bound::Object(object(1)), false)
            .unwrap();
        tree.bind(ROOT, &name("y"), Bound::Object(object(1)), false)
            .unwrap();
        assert!(matches!(
            tree.bind(ROOT, &name("z"), Bound::Object(object(1)), false),
            Err(NamingError::System(_))
        ));
        // Replacing does not count twice.
        tree.bind(ROOT, &name("y"), Bound::Object(object(2)), true)
            .unwrap();
        tree.unbind(ROOT, &name("y")).unwrap();
        tree.bind(ROOT, &name("z"), Bound::Object(object(1)), false)
            .unwrap();
    }
}
