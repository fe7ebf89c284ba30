//! Value factories for the dynamic codec: the concrete valuetypes a
//! receiver can build, by repository id, so a value of a type derived from
//! the formal one (`in Shape s` receiving a `Circle`) is read as what it
//! is rather than refused, and can be sent back.
//!
//! [`Operation::from_model`](super::Operation::from_model) fills one with
//! every concrete valuetype of the contract that derives (directly or not,
//! through concrete or abstract bases) from a valuetype its signature can
//! carry, and from those types' members in turn.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::Result;
use crate::front::ast::ValueKind;
use crate::front::model::{DeclId, DeclKind, Model};

use super::typecode::TypeCode;

/// The repository id of `CORBA::ValueBase`, which every valuetype derives
/// from.
pub const VALUE_BASE_ID: &str = "IDL:omg.org/CORBA/ValueBase:1.0";

/// The concrete valuetypes a receiver knows, by repository id, each with
/// the ids of all its bases (abstract ones included).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ValueFactories {
    types: BTreeMap<String, Known>,
}

#[derive(Clone, Debug, PartialEq)]
struct Known {
    tc: TypeCode,
    bases: BTreeSet<String>,
}

impl ValueFactories {
    /// No factories: only values of the formal types (or truncatable to
    /// them) can be read.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a valuetype's TypeCode and the repository ids of all its
    /// bases (its concrete base chain is taken from the TypeCode; pass
    /// abstract bases here). Anything but a [`TypeCode::Value`] is
    /// ignored.
    pub fn insert(&mut self, tc: TypeCode, abstract_bases: impl IntoIterator<Item = String>) {
        let TypeCode::Value { id, .. } = &tc else {
            return;
        };
        let id = id.clone();
        let mut bases: BTreeSet<String> = abstract_bases.into_iter().collect();
        let mut cur = &tc;
        for _ in 0..super::typecode::MAX_TYPECODE_DEPTH {
            match cur {
                TypeCode::Value { base, .. } => {
                    if let Some(b) = base.id() {
                        bases.insert(b.to_owned());
                    }
                    cur = base;
                }
                _ => break,
            }
        }
        self.types.insert(id, Known { tc, bases });
    }

    /// The TypeCode of a known valuetype.
    pub fn get(&self, id: &str) -> Option<&TypeCode> {
        self.types.get(id).map(|k| &k.tc)
    }

    /// Whether the known valuetype `id` may stand where `formal` is
    /// expected: it is `formal`, derives from it, or `formal` is
    /// `ValueBase`.
    pub fn fits(&self, id: &str, formal: &str) -> bool {
        id == formal
            || formal == VALUE_BASE_ID
            || self.types.get(id).is_some_and(|k| k.bases.contains(formal))
    }

    /// How many valuetypes are known.
    pub fn len(&self) -> usize {
        self.types.len()
    }

    /// Whether none are.
    pub fn is_empty(&self) -> bool {
        self.types.is_empty()
    }

    /// The concrete valuetypes of `model` that derive from one of the
    /// valuetypes `roots` (repository ids) names, then from the
    /// valuetypes their members carry, and so on.
    pub fn from_model(model: &Model, roots: impl IntoIterator<Item = String>) -> Result<Self> {
        let mut wanted: BTreeSet<String> = roots.into_iter().collect();
        let mut out = Self::new();
        if wanted.is_empty() {
            return Ok(out);
        }
        let concrete: Vec<(DeclId, &str, Vec<String>)> = model
            .decls
            .iter()
            .enumerate()
            .filter_map(|(i, d)| match &d.kind {
                DeclKind::Value {
                    kind: ValueKind::Concrete,
                    defined: true,
                    ..
                } => {
                    let id = DeclId(u32::try_from(i).ok()?);
                    let bases = model
                        .all_bases(id)
                        .into_iter()
                        .filter_map(|b| model.get(b))
                        .filter(|b| matches!(b.kind, DeclKind::Value { .. }))
                        .map(|b| b.repo_id.clone())
                        .collect();
                    Some((id, d.repo_id.as_str(), bases))
                }
                _ => None,
            })
            .collect();
        // Each round adds at least one type, or stops.
        loop {
            let before = out.len();
            for (id, repo_id, bases) in &concrete {
                if out.types.contains_key(*repo_id) {
                    continue;
                }
                let derives = wanted.contains(VALUE_BASE_ID)
                    || wanted.contains(*repo_id)
                    || bases.iter().any(|b| wanted.contains(b));
                if !derives {
                    continue;
                }
                let tc = TypeCode::from_type(model, &crate::front::model::Type::Named(*id))?;
                value_ids(&tc, &mut wanted);
                out.insert(tc, bases.iter().cloned());
            }
            if out.len() == before {
                return Ok(out);
            }
        }
    }
}

/// Adds the repository ids of every valuetype `tc` can carry to `out`.
pub(crate) fn value_ids(tc: &TypeCode, out: &mut BTreeSet<String>) {
    let mut todo = vec![tc];
    let mut seen = 0usize;
    while let Some(tc) = todo.pop() {
        seen += 1;
        if seen > super::typecode::MAX_TYPECODE_NODES {
            return;
        }
        match tc {
            TypeCode::Value {
                id, base, members, ..
            } => {
                out.insert(id.clone());
                todo.push(base);
                todo.extend(members.iter().map(|m| &m.ty));
            }
            TypeCode::Struct { members, .. } | TypeCode::Except { members, .. } => {
                todo.extend(members.iter().map(|m| &m.ty));
            }
            TypeCode::Union { cases, .. } => todo.extend(cases.iter().map(|c| &c.ty)),
            TypeCode::Sequence { element, .. } | TypeCode::Array { element, .. } => {
                todo.push(element);
            }
            TypeCode::Alias { original, .. } => todo.push(original),
            TypeCode::ValueBox { boxed, .. } => todo.push(boxed),
            _ => {}
        }
    }
}
