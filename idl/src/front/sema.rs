//! The semantic pass: scopes, name resolution, the IDL naming rules,
//! constant evaluation, repository ids, and the resolved [`Model`].

use std::collections::{HashMap, HashSet};

use super::ast::*;
use super::diag::{Diags, Loc, SourceMap};
use super::lexer::Pragma;
use super::model::*;

/// The deepest scope/type nesting the semantic pass follows.
const MAX_DEPTH: u32 = 256;
/// The most interfaces (or valuetypes) one may inherit from, transitively.
const MAX_BASES: usize = 256;

#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum ScopeKind {
    Global,
    Module,
    Interface,
    Value,
    Struct,
    Union,
    Exception,
    Operation,
}

#[derive(Clone, Debug)]
enum EKind {
    Decl(DeclId),
    Instance(&'static str),
    Op(&'static str),
    Use,
}

#[derive(Clone, Debug)]
struct Entry {
    name: String,
    kind: EKind,
    loc: Loc,
}

#[derive(Debug)]
struct Scope {
    parent: Option<usize>,
    decl: Option<DeclId>,
    kind: ScopeKind,
    entries: HashMap<String, Entry>,
}

#[derive(Clone, Debug, Default)]
struct IdInfo {
    prefix: String,
    explicit: Option<String>,
    version: Option<String>,
    type_prefix: Option<String>,
}

#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum TypeUse {
    Member,
    Sequence,
    Alias,
}

#[derive(Clone, Debug)]
enum CKind {
    Int {
        min: i128,
        max: i128,
        name: &'static str,
        bits: u32,
        signed: bool,
    },
    Float {
        max: f64,
        name: &'static str,
    },
    Fixed,
    Char,
    WChar,
    Str(Option<u32>),
    WStr(Option<u32>),
    Bool,
    Enum(DeclId),
}

pub(crate) struct Sema<'a> {
    model: Model,
    diags: &'a mut Diags,
    map: &'a SourceMap,
    scopes: Vec<Scope>,
    decl_scope: HashMap<DeclId, usize>,
    ids: Vec<IdInfo>,
    prefix: String,
    file_prefixes: Vec<String>,
    defining: Vec<DeclId>,
    /// Declarations that made it into a scope (a clash leaves orphans).
    declared: HashSet<DeclId>,
    /// Transitive bases of each defined interface or valuetype.
    base_cache: HashMap<DeclId, Vec<DeclId>>,
    depth: u32,
}

fn key(s: &str) -> String {
    s.to_ascii_lowercase()
}

impl<'a> Sema<'a> {
    pub(crate) fn new(diags: &'a mut Diags, map: &'a SourceMap) -> Self {
        let mut s = Self {
            model: Model::default(),
            diags,
            map,
            scopes: vec![Scope {
                parent: None,
                decl: None,
                kind: ScopeKind::Global,
                entries: HashMap::new(),
            }],
            decl_scope: HashMap::new(),
            ids: Vec::new(),
            prefix: String::new(),
            file_prefixes: Vec::new(),
            defining: Vec::new(),
            declared: HashSet::new(),
            base_cache: HashMap::new(),
            depth: 0,
        };
        // omniidl predeclares CORBA::TypeCode.
        let loc = Loc::default();
        let corba = s.new_decl(0, "CORBA", loc, DeclKind::Module);
        s.insert(0, "CORBA", EKind::Decl(corba), loc);
        let sc = s.new_scope(0, Some(corba), ScopeKind::Module);
        if let Some(i) = s.ids.get_mut(corba.0 as usize) {
            i.prefix = "omg.org".into();
        }
        let tc = s.new_decl(sc, "TypeCode", loc, DeclKind::Builtin(Type::TypeCode));
        if let Some(i) = s.ids.get_mut(tc.0 as usize) {
            i.prefix = "omg.org".into();
        }
        s.insert(sc, "TypeCode", EKind::Decl(tc), loc);
        s
    }

    pub(crate) fn run(mut self, spec: &Specification) -> Model {
        self.defs(0, &spec.definitions);
        self.check_forwards();
        self.finish_ids();
        self.model
    }

    // ----- scopes and declarations ------------------------------------------------

    fn new_scope(&mut self, parent: usize, decl: Option<DeclId>, kind: ScopeKind) -> usize {
        self.scopes.push(Scope {
            parent: Some(parent),
            decl,
            kind,
            entries: HashMap::new(),
        });
        let id = self.scopes.len() - 1;
        if let Some(d) = decl {
            self.decl_scope.insert(d, id);
        }
        id
    }

    fn new_decl(&mut self, scope: usize, name: &str, loc: Loc, kind: DeclKind) -> DeclId {
        let parent = self.scopes.get(scope).and_then(|s| s.decl);
        let scoped_name = match parent.and_then(|p| self.model.get(p)) {
            Some(p) => format!("{}::{name}", p.scoped_name),
            None => name.to_owned(),
        };
        let id = DeclId(u32::try_from(self.model.decls.len()).unwrap_or(u32::MAX));
        self.model.decls.push(Decl {
            name: name.to_owned(),
            scoped_name,
            repo_id: String::new(),
            parent,
            loc,
            file: self.map.name(loc.file).to_owned(),
            kind,
        });
        self.ids.push(IdInfo {
            prefix: self.prefix.clone(),
            ..IdInfo::default()
        });
        id
    }

    fn decl_mut(&mut self, id: DeclId) -> Option<&mut Decl> {
        self.model.decls.get_mut(id.0 as usize)
    }

    fn kind_of(&self, id: DeclId) -> Option<&DeclKind> {
        self.model.get(id).map(|d| &d.kind)
    }

    fn insert(&mut self, scope: usize, name: &str, kind: EKind, loc: Loc) {
        if let EKind::Decl(id) = kind {
            self.declared.insert(id);
        }
        if let Some(s) = self.scopes.get_mut(scope) {
            s.entries.insert(
                key(name),
                Entry {
                    name: name.to_owned(),
                    kind,
                    loc,
                },
            );
        }
    }

    fn describe_decl(&self, id: DeclId) -> &'static str {
        match self.kind_of(id) {
            Some(DeclKind::Module) => "module",
            Some(DeclKind::Interface { defined: false, .. }) => "forward interface",
            Some(DeclKind::Interface { .. }) => "interface",
            Some(DeclKind::Value { defined: false, .. }) => "forward valuetype",
            Some(DeclKind::Value { .. }) => "valuetype",
            Some(DeclKind::ValueBox(_)) => "value box",
            Some(DeclKind::Struct { defined: false, .. }) => "forward struct",
            Some(DeclKind::Struct { .. }) => "struct",
            Some(DeclKind::Union { defined: false, .. }) => "forward union",
            Some(DeclKind::Union { .. }) => "union",
            Some(DeclKind::Enum(_)) => "enum",
            Some(DeclKind::Enumerator { .. }) => "enumerator",
            Some(DeclKind::Alias(_)) => "typedef declarator",
            Some(DeclKind::Const { .. }) => "constant",
            Some(DeclKind::Exception(_)) => "exception",
            Some(DeclKind::Native) => "native",
            Some(DeclKind::Builtin(_)) | None => "type",
        }
    }

    fn describe_entry(&self, e: &Entry) -> &'static str {
        match e.kind {
            EKind::Decl(id) => self.describe_decl(id),
            EKind::Instance(s) | EKind::Op(s) => s,
            EKind::Use => "use",
        }
    }

    fn loc_note(&self, loc: Loc) -> String {
        format!("{}:{}", self.map.name(loc.file), loc.line)
    }

    /// Declares a new name in a scope, checking every clash rule.
    fn declare(&mut self, scope: usize, name: &Ident, kind: EKind, what: &str) -> bool {
        let k = key(&name.name);
        let existing = self
            .scopes
            .get(scope)
            .and_then(|s| s.entries.get(&k))
            .cloned();
        if let Some(e) = existing {
            let msg = match e.kind {
                EKind::Use => format!(
                    "Declaration of {what} '{}' clashes with use of identifier '{}' (used at {})",
                    name.name,
                    e.name,
                    self.loc_note(e.loc)
                ),
                EKind::Instance(_)
                    if what == "member" || what == "parameter" || what == "state member" =>
                {
                    format!(
                        "Instance identifier '{}' clashes with {} '{}'",
                        name.name,
                        self.describe_entry(&e),
                        e.name
                    )
                }
                _ => format!(
                    "Declaration of {what} '{}' clashes with earlier declaration of {} '{}' ({})",
                    name.name,
                    self.describe_entry(&e),
                    e.name,
                    self.loc_note(e.loc)
                ),
            };
            self.diags.error(name.loc, msg);
            return false;
        }
        if let Some(e) = self.find_inherited(scope, &k)
            && let EKind::Op(d) | EKind::Instance(d) = e.kind
        {
            self.diags.error(
                name.loc,
                format!(
                    "Declaration of {what} '{}' clashes with inherited {d} '{}'",
                    name.name, e.name
                ),
            );
            return false;
        }
        // The name of a scope may not be reused directly inside it.
        if let Some(d) = self.scopes.get(scope).and_then(|s| s.decl) {
            let parent_name = self
                .model
                .get(d)
                .map(|d| d.name.clone())
                .unwrap_or_default();
            if key(&parent_name) == k {
                let msg = if matches!(kind, EKind::Instance(_)) {
                    format!(
                        "Instance identifier '{}' clashes with name of enclosing scope '{parent_name}'",
                        name.name
                    )
                } else {
                    format!(
                        "Declaration of {what} '{}' clashes with name of enclosing scope '{parent_name}'",
                        name.name
                    )
                };
                self.diags.error(name.loc, msg);
                return false;
            }
        }
        self.insert(scope, &name.name, kind, name.loc);
        true
    }

    fn bases_of(&self, id: DeclId) -> Vec<DeclId> {
        match self.kind_of(id) {
            Some(DeclKind::Interface { bases, .. }) => bases.clone(),
            Some(DeclKind::Value {
                bases, supports, ..
            }) => bases.iter().chain(supports.iter()).copied().collect(),
            _ => Vec::new(),
        }
    }

    /// All interfaces/values a scope inherits from, transitively (bounded).
    /// Everything an interface or valuetype inherits from, transitively
    /// (computed once, when it is defined).
    fn all_bases(&self, id: DeclId) -> &[DeclId] {
        self.base_cache.get(&id).map_or(&[], Vec::as_slice)
    }

    /// Computes and caches the transitive bases of a just-defined
    /// interface or valuetype from its direct bases (already cached).
    fn compute_bases(&mut self, id: DeclId, loc: Loc) {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for b in self.bases_of(id) {
            for x in std::iter::once(b).chain(self.all_bases(b).iter().copied()) {
                if x != id && seen.insert(x) {
                    out.push(x);
                }
            }
        }
        if out.len() > MAX_BASES {
            out.truncate(MAX_BASES);
            self.diags.error(
                loc,
                format!("More than {MAX_BASES} inherited interfaces or valuetypes"),
            );
        }
        self.base_cache.insert(id, out);
    }

    fn find_inherited(&self, scope: usize, k: &str) -> Option<Entry> {
        let s = self.scopes.get(scope)?;
        if !matches!(s.kind, ScopeKind::Interface | ScopeKind::Value) {
            return None;
        }
        let d = s.decl?;
        for b in self.all_bases(d) {
            if let Some(sc) = self.decl_scope.get(b)
                && let Some(e) = self.scopes.get(*sc).and_then(|s| s.entries.get(k))
                && !matches!(e.kind, EKind::Use)
            {
                return Some(e.clone());
            }
        }
        None
    }

    fn find_in(&self, scope: usize, k: &str) -> Option<Entry> {
        if let Some(e) = self.scopes.get(scope).and_then(|s| s.entries.get(k))
            && !matches!(e.kind, EKind::Use)
        {
            return Some(e.clone());
        }
        self.find_inherited(scope, k)
    }

    fn add_use(&mut self, scope: usize, id: &Ident) {
        let mut scope = scope;
        for _ in 0..MAX_DEPTH {
            let k = key(&id.name);
            let Some(s) = self.scopes.get(scope) else {
                return;
            };
            if let Some(e) = s.entries.get(&k) {
                if e.name != id.name {
                    let msg = format!(
                        "Use of identifier '{}' clashes with {} '{}'",
                        id.name,
                        self.describe_entry(e),
                        e.name
                    );
                    self.diags.error(id.loc, msg);
                }
                return;
            }
            let nested = s.kind == ScopeKind::Operation;
            let parent = s.parent;
            self.insert(scope, &id.name, EKind::Use, id.loc);
            match (nested, parent) {
                (true, Some(p)) => scope = p,
                _ => return,
            }
        }
    }

    fn lookup(&mut self, scope: usize, sn: &ScopedName) -> Option<Entry> {
        self.lookup_impl(scope, sn, true)
    }

    /// Looks a name up without recording a use of it: omniidl records no
    /// use for inheritance, `supports` and `raises` names.
    fn lookup_decl_quiet(&mut self, scope: usize, sn: &ScopedName) -> Option<DeclId> {
        match self.lookup_impl(scope, sn, false)?.kind {
            EKind::Decl(id) => Some(id),
            _ => {
                self.diags.error(
                    sn.loc,
                    format!("'{sn}' is not a declaration that can be used here"),
                );
                None
            }
        }
    }

    fn lookup_impl(&mut self, scope: usize, sn: &ScopedName, record_use: bool) -> Option<Entry> {
        let first = sn.parts.first()?;
        let k = key(&first.name);
        let mut found = None;
        if sn.absolute {
            found = self.find_in(0, &k);
        } else {
            let mut s = Some(scope);
            let mut n = 0;
            while let Some(si) = s {
                if let Some(e) = self.find_in(si, &k) {
                    found = Some(e);
                    break;
                }
                s = self.scopes.get(si).and_then(|x| x.parent);
                n += 1;
                if n > MAX_DEPTH as usize {
                    break;
                }
            }
        }
        let Some(mut e) = found else {
            self.diags.error(
                sn.loc,
                format!("Error in look-up of '{sn}': '{}' not found", first.name),
            );
            return None;
        };
        if e.name != first.name {
            self.diags.error(
                first.loc,
                format!(
                    "Error in look-up of '{sn}': '{}' differs in case from '{}'",
                    first.name, e.name
                ),
            );
            return None;
        }
        for part in sn.parts.iter().skip(1) {
            let sc = match e.kind {
                EKind::Decl(id) => self.decl_scope.get(&id).copied(),
                _ => None,
            };
            let Some(sc) = sc else {
                self.diags.error(
                    sn.loc,
                    format!("Error in look-up of '{sn}': '{}' is not a scope", e.name),
                );
                return None;
            };
            let Some(next) = self.find_in(sc, &key(&part.name)) else {
                self.diags.error(
                    sn.loc,
                    format!("Error in look-up of '{sn}': '{}' not found", part.name),
                );
                return None;
            };
            if next.name != part.name {
                self.diags.error(
                    part.loc,
                    format!(
                        "Error in look-up of '{sn}': '{}' differs in case from '{}'",
                        part.name, next.name
                    ),
                );
                return None;
            }
            e = next;
        }
        if !sn.absolute && record_use {
            self.add_use(scope, first);
        }
        Some(e)
    }

    fn lookup_decl(&mut self, scope: usize, sn: &ScopedName) -> Option<DeclId> {
        match self.lookup(scope, sn)?.kind {
            EKind::Decl(id) => Some(id),
            _ => {
                self.diags.error(
                    sn.loc,
                    format!("'{sn}' is not a declaration that can be used here"),
                );
                None
            }
        }
    }

    // ----- definitions ------------------------------------------------------------

    fn defs(&mut self, scope: usize, defs: &[Definition]) {
        for d in defs {
            self.def(scope, d);
        }
    }

    fn with_prefix_scope<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> T {
        let saved = self.prefix.clone();
        let files = self.file_prefixes.len();
        self.depth += 1;
        let r = if self.depth > MAX_DEPTH {
            None
        } else {
            Some(())
        };
        let out = f(self);
        let _ = r;
        self.depth -= 1;
        self.prefix = saved;
        self.file_prefixes.truncate(files);
        out
    }

    fn def(&mut self, scope: usize, d: &Definition) -> Option<DeclId> {
        if self.depth > MAX_DEPTH {
            self.diags.error(d.loc, "definitions nested too deeply");
            return None;
        }
        match &d.kind {
            DefKind::Pragma(p) => {
                self.pragma(scope, p, d.loc);
                None
            }
            DefKind::Module { name, body } => {
                let existing = self
                    .scopes
                    .get(scope)
                    .and_then(|s| s.entries.get(&key(&name.name)))
                    .cloned();
                let (id, sc) = match existing {
                    Some(Entry {
                        kind: EKind::Decl(id),
                        name: n,
                        ..
                    }) if n == name.name && matches!(self.kind_of(id), Some(DeclKind::Module)) => {
                        (id, self.decl_scope.get(&id).copied().unwrap_or(0))
                    }
                    _ => {
                        let id = self.new_decl(scope, &name.name, name.loc, DeclKind::Module);
                        if !self.declare(scope, name, EKind::Decl(id), "module") {
                            return None;
                        }
                        (id, self.new_scope(scope, Some(id), ScopeKind::Module))
                    }
                };
                self.with_prefix_scope(|s| s.defs(sc, body));
                Some(id)
            }
            DefKind::InterfaceForward { kind, name } => {
                let existing = self.existing(scope, name);
                if let Some(id) = existing
                    && let Some(DeclKind::Interface { kind: k, .. }) = self.kind_of(id)
                {
                    if k != kind {
                        self.diags.error(
                            name.loc,
                            format!(
                                "Forward declaration of '{}' does not match its kind",
                                name.name
                            ),
                        );
                    }
                    return Some(id);
                }
                let id = self.new_decl(
                    scope,
                    &name.name,
                    name.loc,
                    DeclKind::Interface {
                        kind: *kind,
                        bases: Vec::new(),
                        operations: Vec::new(),
                        attributes: Vec::new(),
                        defined: false,
                    },
                );
                self.declare(scope, name, EKind::Decl(id), "forward interface");
                Some(id)
            }
            DefKind::Interface {
                kind,
                name,
                bases,
                body,
            } => self.interface(scope, *kind, name, bases, body),
            DefKind::ValueForward { kind, name } => {
                if let Some(id) = self.existing(scope, name)
                    && let Some(DeclKind::Value { kind: k, .. }) = self.kind_of(id)
                {
                    if (*k == ValueKind::Abstract) != (*kind == ValueKind::Abstract) {
                        self.diags.error(
                            name.loc,
                            format!(
                                "Forward declaration of valuetype '{}' does not match its kind",
                                name.name
                            ),
                        );
                    }
                    return Some(id);
                }
                let id = self.new_decl(
                    scope,
                    &name.name,
                    name.loc,
                    empty_value(*kind, false, false),
                );
                self.declare(scope, name, EKind::Decl(id), "forward valuetype");
                Some(id)
            }
            DefKind::Value {
                kind,
                name,
                truncatable,
                bases,
                supports,
                body,
            } => self.value(scope, *kind, name, *truncatable, bases, supports, body),
            DefKind::ValueBox { name, ty } => {
                let t = self.resolve_type(scope, ty, TypeUse::Alias);
                if let Type::Named(id) = self.model.unalias(&t)
                    && matches!(self.kind_of(*id), Some(DeclKind::Value { .. }))
                {
                    self.diags
                        .error(ty.loc(), "A value box cannot contain a valuetype");
                }
                let id = self.new_decl(scope, &name.name, name.loc, DeclKind::ValueBox(t));
                self.declare(scope, name, EKind::Decl(id), "value box");
                Some(id)
            }
            DefKind::StateMember(_) | DefKind::Factory { .. } if self.in_abstract_value(scope) => {
                self.diags.error(
                    d.loc,
                    "Abstract valuetypes may not have state members or factories",
                );
                None
            }
            DefKind::StateMember(m) => {
                let fields = self.fields(scope, std::slice::from_ref(m), "state member");
                let owner = self.scopes.get(scope).and_then(|s| s.decl);
                if let Some(Decl {
                    kind: DeclKind::Value { state, .. },
                    ..
                }) = owner.and_then(|o| self.decl_mut(o))
                {
                    state.extend(fields);
                }
                None
            }
            DefKind::Factory {
                name,
                params,
                raises,
            } => {
                let op = Operation {
                    oneway: false,
                    ret: None,
                    name: name.clone(),
                    params: params.clone(),
                    raises: raises.clone(),
                    context: Vec::new(),
                };
                if let Some(o) = self.operation(scope, &op, "initialiser") {
                    let owner = self.scopes.get(scope).and_then(|s| s.decl);
                    if let Some(Decl {
                        kind: DeclKind::Value { factories, .. },
                        ..
                    }) = owner.and_then(|o| self.decl_mut(o))
                    {
                        factories.push(o);
                    }
                }
                None
            }
            DefKind::StructForward { name } => self.forward_constr(scope, name, true),
            DefKind::UnionForward { name } => self.forward_constr(scope, name, false),
            DefKind::Struct { name, members } => {
                let id = self.start_constr(scope, name, true)?;
                let sc = self.new_scope(scope, Some(id), ScopeKind::Struct);
                self.defining.push(id);
                let fields = self.with_prefix_scope(|s| s.fields(sc, members, "member"));
                self.defining.pop();
                if let Some(d) = self.decl_mut(id) {
                    d.kind = DeclKind::Struct {
                        members: fields,
                        defined: true,
                    };
                }
                Some(id)
            }
            DefKind::Exception { name, members } => {
                let id =
                    self.new_decl(scope, &name.name, name.loc, DeclKind::Exception(Vec::new()));
                if !self.declare(scope, name, EKind::Decl(id), "exception") {
                    return None;
                }
                let sc = self.new_scope(scope, Some(id), ScopeKind::Exception);
                let fields = self.with_prefix_scope(|s| s.fields(sc, members, "member"));
                if let Some(d) = self.decl_mut(id) {
                    d.kind = DeclKind::Exception(fields);
                }
                Some(id)
            }
            DefKind::Union {
                name,
                switch,
                cases,
            } => self.union(scope, name, switch, cases),
            DefKind::Enum { name, members } => {
                let id = self.new_decl(scope, &name.name, name.loc, DeclKind::Enum(Vec::new()));
                if !self.declare(scope, name, EKind::Decl(id), "enum") {
                    return None;
                }
                let mut list = Vec::new();
                for (i, m) in members.iter().enumerate() {
                    let e = self.new_decl(
                        scope,
                        &m.name,
                        m.loc,
                        DeclKind::Enumerator {
                            owner: id,
                            value: u32::try_from(i).unwrap_or(u32::MAX),
                        },
                    );
                    if self.declare(scope, m, EKind::Decl(e), "enumerator") {
                        list.push(e);
                    }
                }
                if let Some(d) = self.decl_mut(id) {
                    d.kind = DeclKind::Enum(list);
                }
                Some(id)
            }
            DefKind::Typedef { ty, declarators } => {
                let t = self.resolve_type(scope, ty, TypeUse::Alias);
                let mut last = None;
                for dcl in declarators {
                    let t = self.with_dims(scope, t.clone(), &dcl.dims);
                    let id = self.new_decl(scope, &dcl.name.name, dcl.name.loc, DeclKind::Alias(t));
                    if self.declare(scope, &dcl.name, EKind::Decl(id), "typedef declarator") {
                        last = Some(id);
                    }
                }
                last
            }
            DefKind::Native { name } => {
                let id = self.new_decl(scope, &name.name, name.loc, DeclKind::Native);
                self.declare(scope, name, EKind::Decl(id), "native")
                    .then_some(id)
            }
            DefKind::Const { ty, name, value } => {
                let t = self.resolve_type(scope, ty, TypeUse::Alias);
                let v = self.const_value(scope, &t, value, ty.loc())?;
                let id = self.new_decl(
                    scope,
                    &name.name,
                    name.loc,
                    DeclKind::Const { ty: t, value: v },
                );
                self.declare(scope, name, EKind::Decl(id), "constant")
                    .then_some(id)
            }
            DefKind::Attribute(a) => {
                self.attribute(scope, a);
                None
            }
            DefKind::Operation(op) => {
                if let Some(o) = self.operation(scope, op, "operation") {
                    let owner = self.scopes.get(scope).and_then(|s| s.decl);
                    if let Some(
                        DeclKind::Interface { operations, .. } | DeclKind::Value { operations, .. },
                    ) = owner.and_then(|o| self.decl_mut(o)).map(|d| &mut d.kind)
                    {
                        operations.push(o)
                    }
                }
                None
            }
            DefKind::TypeId { name, id } => {
                if let Some(d) = self.lookup_decl(scope, name)
                    && let Some(info) = self.ids.get_mut(d.0 as usize)
                {
                    if info.explicit.as_ref().is_some_and(|e| e != id) {
                        self.diags
                            .error(d_loc(name), format!("Repository id of '{name}' set twice"));
                    }
                    info.explicit = Some(id.clone());
                }
                None
            }
            DefKind::TypePrefix { name, prefix } => {
                if let Some(d) = self.lookup_decl(scope, name) {
                    if !matches!(
                        self.kind_of(d),
                        Some(
                            DeclKind::Module | DeclKind::Interface { .. } | DeclKind::Value { .. }
                        )
                    ) {
                        self.diags.error(name.loc, format!("typeprefix applies to modules, interfaces and valuetypes, not '{name}'"));
                    } else if let Some(info) = self.ids.get_mut(d.0 as usize) {
                        info.type_prefix = Some(prefix.clone());
                    }
                }
                None
            }
            DefKind::Import { .. } => {
                self.diags
                    .warning(d.loc, "import is parsed but not acted upon");
                None
            }
        }
    }

    fn in_abstract_value(&self, scope: usize) -> bool {
        let owner = self.scopes.get(scope).and_then(|s| s.decl);
        matches!(
            owner.and_then(|o| self.kind_of(o)),
            Some(DeclKind::Value {
                kind: ValueKind::Abstract,
                ..
            })
        )
    }

    fn existing(&self, scope: usize, name: &Ident) -> Option<DeclId> {
        match self.scopes.get(scope)?.entries.get(&key(&name.name))? {
            Entry {
                kind: EKind::Decl(id),
                name: n,
                ..
            } if *n == name.name => Some(*id),
            _ => None,
        }
    }

    fn pragma(&mut self, scope: usize, p: &Pragma, loc: Loc) {
        match p {
            Pragma::Prefix(s) => self.prefix = s.clone(),
            Pragma::EnterFile(_) => {
                self.file_prefixes.push(std::mem::take(&mut self.prefix));
            }
            Pragma::ExitFile => {
                self.prefix = self.file_prefixes.pop().unwrap_or_default();
            }
            Pragma::Id(parts, abs, id) | Pragma::Version(parts, abs, id) => {
                let sn = ScopedName {
                    absolute: *abs,
                    parts: parts
                        .iter()
                        .map(|n| Ident {
                            name: n.clone(),
                            loc,
                        })
                        .collect(),
                    loc,
                };
                let Some(d) = self.lookup_decl(scope, &sn) else {
                    return;
                };
                let is_id = matches!(p, Pragma::Id(..));
                if is_id && !valid_repo_id(id) {
                    self.diags.warning(
                        loc,
                        format!("Repository id of '{sn}' set to invalid string '{id}'"),
                    );
                }
                if let Some(info) = self.ids.get_mut(d.0 as usize) {
                    if is_id {
                        if info.explicit.as_ref().is_some_and(|e| e != id) || info.version.is_some()
                        {
                            self.diags.error(loc, format!("Cannot set repository id of '{sn}' to '{id}': it is already set"));
                            return;
                        }
                        info.explicit = Some(id.clone());
                    } else if info.explicit.is_some()
                        || info.version.as_ref().is_some_and(|v| v != id)
                    {
                        self.diags.error(loc, format!("Cannot set version of '{sn}' to '{id}': the repository id is already set"));
                    } else {
                        info.version = Some(id.clone());
                    }
                }
            }
        }
    }

    fn forward_constr(&mut self, scope: usize, name: &Ident, is_struct: bool) -> Option<DeclId> {
        if let Some(id) = self.existing(scope, name) {
            match (self.kind_of(id), is_struct) {
                (Some(DeclKind::Struct { .. }), true) | (Some(DeclKind::Union { .. }), false) => {
                    return Some(id);
                }
                _ => {}
            }
        }
        let kind = if is_struct {
            DeclKind::Struct {
                members: Vec::new(),
                defined: false,
            }
        } else {
            DeclKind::Union {
                discriminator: Type::Error,
                branches: Vec::new(),
                defined: false,
            }
        };
        let id = self.new_decl(scope, &name.name, name.loc, kind);
        let what = if is_struct {
            "forward struct"
        } else {
            "forward union"
        };
        self.declare(scope, name, EKind::Decl(id), what)
            .then_some(id)
    }

    /// Starts the definition of a struct or union, completing a forward
    /// declaration if there is one.
    fn start_constr(&mut self, scope: usize, name: &Ident, is_struct: bool) -> Option<DeclId> {
        if let Some(id) = self.existing(scope, name) {
            let fwd = match self.kind_of(id) {
                Some(DeclKind::Struct { defined: false, .. }) => is_struct,
                Some(DeclKind::Union { defined: false, .. }) => !is_struct,
                _ => false,
            };
            if fwd {
                let prefix = self.prefix.clone();
                if let Some(i) = self.ids.get_mut(id.0 as usize) {
                    i.prefix = prefix;
                }
                if let Some(d) = self.decl_mut(id) {
                    d.loc = name.loc;
                }
                return Some(id);
            }
        }
        let kind = if is_struct {
            DeclKind::Struct {
                members: Vec::new(),
                defined: false,
            }
        } else {
            DeclKind::Union {
                discriminator: Type::Error,
                branches: Vec::new(),
                defined: false,
            }
        };
        let id = self.new_decl(scope, &name.name, name.loc, kind);
        let what = if is_struct { "struct" } else { "union" };
        self.declare(scope, name, EKind::Decl(id), what)
            .then_some(id)
    }

    fn fields(&mut self, scope: usize, members: &[Member], what: &'static str) -> Vec<Field> {
        let mut out = Vec::new();
        for m in members {
            let t = self.resolve_type(scope, &m.ty, TypeUse::Member);
            for dcl in &m.declarators {
                let t = self.with_dims(scope, t.clone(), &dcl.dims);
                if self.declare(scope, &dcl.name, EKind::Instance(what), what) {
                    out.push(Field {
                        name: dcl.name.name.clone(),
                        ty: t,
                        public: m.public,
                    });
                }
            }
        }
        out
    }

    fn with_dims(&mut self, scope: usize, t: Type, dims: &[Expr]) -> Type {
        if dims.is_empty() {
            return t;
        }
        let mut sizes = Vec::new();
        for d in dims {
            sizes.push(self.positive(scope, d).unwrap_or(1));
        }
        Type::Array(Box::new(t), sizes)
    }

    fn interface(
        &mut self,
        scope: usize,
        kind: InterfaceKind,
        name: &Ident,
        bases: &[ScopedName],
        body: &[Definition],
    ) -> Option<DeclId> {
        let mut id = None;
        if let Some(e) = self.existing(scope, name)
            && let Some(DeclKind::Interface {
                defined: false,
                kind: k,
                ..
            }) = self.kind_of(e)
        {
            if *k != kind {
                self.diags.error(
                    name.loc,
                    format!(
                        "Declaration of interface '{}' does not match its forward declaration",
                        name.name
                    ),
                );
            }
            id = Some(e);
        }
        let id = match id {
            Some(id) => {
                let prefix = self.prefix.clone();
                if let Some(i) = self.ids.get_mut(id.0 as usize) {
                    i.prefix = prefix;
                }
                if let Some(d) = self.decl_mut(id) {
                    d.loc = name.loc;
                }
                id
            }
            None => {
                let id = self.new_decl(
                    scope,
                    &name.name,
                    name.loc,
                    DeclKind::Interface {
                        kind,
                        bases: Vec::new(),
                        operations: Vec::new(),
                        attributes: Vec::new(),
                        defined: false,
                    },
                );
                if !self.declare(scope, name, EKind::Decl(id), "interface") {
                    return None;
                }
                id
            }
        };
        // Base names are looked up from the new scope, so their uses land
        // there, not in the enclosing scope (as in omniidl).
        let sc = self.new_scope(scope, Some(id), ScopeKind::Interface);
        let mut base_ids = Vec::new();
        for b in bases {
            let Some(bid) = self.lookup_decl_quiet(sc, b) else {
                continue;
            };
            let bid = self.unalias_decl(bid);
            match self.kind_of(bid) {
                Some(DeclKind::Interface {
                    defined, kind: bk, ..
                }) => {
                    let (defined, bk) = (*defined, *bk);
                    if !defined {
                        let sn = self
                            .model
                            .get(bid)
                            .map(|d| d.scoped_name.clone())
                            .unwrap_or_default();
                        self.diags.error(
                            b.loc,
                            format!("Inherited interface '{sn}' must be fully defined"),
                        );
                        continue;
                    }
                    if kind == InterfaceKind::Abstract && bk != InterfaceKind::Abstract {
                        self.diags.error(
                            b.loc,
                            format!(
                                "Abstract interface '{}' may only inherit from abstract interfaces",
                                name.name
                            ),
                        );
                    }
                    if kind == InterfaceKind::Plain && bk == InterfaceKind::Local {
                        self.diags.error(b.loc, format!("Unconstrained interface '{}' cannot inherit from local interface '{b}'", name.name));
                    }
                    if bid == id || base_ids.contains(&bid) {
                        self.diags.error(
                            b.loc,
                            format!(
                                "Interface '{}' inherits from '{b}' more than once",
                                name.name
                            ),
                        );
                        continue;
                    }
                    base_ids.push(bid);
                }
                _ => self.diags.error(
                    b.loc,
                    format!("'{b}' used in inheritance specification is not an interface"),
                ),
            }
        }
        if let Some(Decl {
            kind: DeclKind::Interface { bases, defined, .. },
            ..
        }) = self.decl_mut(id)
        {
            *bases = base_ids.clone();
            *defined = true;
        }
        self.compute_bases(id, name.loc);
        self.check_inherited_clashes(id, name.loc);
        self.with_prefix_scope(|s| s.defs(sc, body));
        Some(id)
    }

    fn unalias_decl(&self, id: DeclId) -> DeclId {
        let t = Type::Named(id);
        match self.model.unalias(&t) {
            Type::Named(d) => *d,
            _ => id,
        }
    }

    /// Two bases may not bring operations or attributes of the same name.
    fn check_inherited_clashes(&mut self, id: DeclId, loc: Loc) {
        // With one direct base, any clash was reported when it was defined.
        if self.bases_of(id).len() < 2 {
            return;
        }
        let mut seen: HashMap<String, (String, DeclId)> = HashMap::new();
        for b in self.all_bases(id).to_vec() {
            let Some(sc) = self.decl_scope.get(&b).copied() else {
                continue;
            };
            let Some(s) = self.scopes.get(sc) else {
                continue;
            };
            let mut names: Vec<(String, String)> = s
                .entries
                .iter()
                .filter(|(_, e)| matches!(e.kind, EKind::Op(_)))
                .map(|(k, e)| (k.clone(), e.name.clone()))
                .collect();
            names.sort();
            for (k, n) in names {
                if let Some((other, from)) = seen.get(&k) {
                    if *from != b {
                        let a = self
                            .model
                            .get(*from)
                            .map(|d| d.scoped_name.clone())
                            .unwrap_or_default();
                        let bn = self
                            .model
                            .get(b)
                            .map(|d| d.scoped_name.clone())
                            .unwrap_or_default();
                        self.diags.error(loc, format!("'{n}' inherited from '{bn}' clashes with '{other}' inherited from '{a}'"));
                    }
                } else {
                    seen.insert(k, (n, b));
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn value(
        &mut self,
        scope: usize,
        kind: ValueKind,
        name: &Ident,
        truncatable: bool,
        bases: &[ScopedName],
        supports: &[ScopedName],
        body: &[Definition],
    ) -> Option<DeclId> {
        let id = match self.existing(scope, name) {
            Some(e)
                if matches!(
                    self.kind_of(e),
                    Some(DeclKind::Value { defined: false, .. })
                ) =>
            {
                if let Some(DeclKind::Value { kind: k, .. }) = self.kind_of(e)
                    && (*k == ValueKind::Abstract) != (kind == ValueKind::Abstract)
                {
                    self.diags.error(
                        name.loc,
                        format!(
                            "Declaration of valuetype '{}' does not match its forward declaration",
                            name.name
                        ),
                    );
                }
                e
            }
            _ => {
                let id = self.new_decl(
                    scope,
                    &name.name,
                    name.loc,
                    empty_value(kind, truncatable, false),
                );
                if !self.declare(scope, name, EKind::Decl(id), "valuetype") {
                    return None;
                }
                id
            }
        };
        // Base names are looked up from the new scope, so their uses land
        // there, not in the enclosing scope (as in omniidl).
        let sc = self.new_scope(scope, Some(id), ScopeKind::Value);
        let mut base_ids = Vec::new();
        for b in bases {
            let Some(bid) = self.lookup_decl_quiet(sc, b) else {
                continue;
            };
            match self.kind_of(bid) {
                Some(DeclKind::Value {
                    defined: true,
                    kind: bk,
                    ..
                }) => {
                    let concrete = *bk != ValueKind::Abstract;
                    if truncatable && base_ids.is_empty() && !concrete {
                        self.diags.error(
                            b.loc,
                            format!("truncatable base valuetype '{b}' must not be abstract"),
                        );
                    }
                    if base_ids.contains(&bid) {
                        self.diags.error(
                            b.loc,
                            format!(
                                "Cannot specify '{b}' as a direct base valuetype more than once"
                            ),
                        );
                    } else if concrete && !base_ids.is_empty() {
                        self.diags.error(
                            b.loc,
                            format!("In declaration of valuetype '{}', inherited valuetype '{b}' is non-abstract but is not specified first", name.name),
                        );
                    } else if concrete && kind == ValueKind::Abstract {
                        self.diags.error(b.loc, format!("Abstract valuetype '{}' cannot inherit from non-abstract valuetype '{b}'", name.name));
                    } else {
                        base_ids.push(bid);
                    }
                }
                Some(DeclKind::Value { .. }) => self.diags.error(
                    b.loc,
                    format!("Inherited valuetype '{b}' must be fully defined"),
                ),
                _ => self.diags.error(
                    b.loc,
                    format!("'{b}' used in inheritance specification is not a valuetype"),
                ),
            }
        }
        let mut sup_ids = Vec::new();
        for b in supports {
            let Some(bid) = self.lookup_decl_quiet(sc, b) else {
                continue;
            };
            match self.kind_of(bid) {
                Some(DeclKind::Interface { defined: true, .. }) if sup_ids.contains(&bid) => {
                    self.diags.error(
                        b.loc,
                        format!("Cannot specify '{b}' as a direct base interface more than once"),
                    );
                }
                Some(DeclKind::Interface {
                    defined: true,
                    kind: ik,
                    ..
                }) => {
                    let concrete = *ik != InterfaceKind::Abstract;
                    let seen_concrete = sup_ids.iter().any(|s| {
                        matches!(self.kind_of(*s), Some(DeclKind::Interface { kind: k, .. }) if *k != InterfaceKind::Abstract)
                    });
                    if concrete && (seen_concrete || !sup_ids.is_empty()) {
                        self.diags.error(
                            b.loc,
                            format!("In declaration of valuetype '{}', supported interface '{b}' is non-abstract but is not specified first", name.name),
                        );
                    }
                    sup_ids.push(bid);
                }
                _ => self.diags.error(
                    b.loc,
                    format!("'{b}' used in supports specification is not a defined interface"),
                ),
            }
        }
        if let Some(d) = self.decl_mut(id) {
            let mut k = empty_value(kind, truncatable, true);
            if let DeclKind::Value {
                bases, supports, ..
            } = &mut k
            {
                *bases = base_ids;
                *supports = sup_ids;
            }
            d.kind = k;
            d.loc = name.loc;
        }
        self.compute_bases(id, name.loc);
        self.check_inherited_clashes(id, name.loc);
        self.with_prefix_scope(|s| s.defs(sc, body));
        Some(id)
    }

    fn union(
        &mut self,
        scope: usize,
        name: &Ident,
        switch: &TypeSpec,
        cases: &[UnionCase],
    ) -> Option<DeclId> {
        let id = self.start_constr(scope, name, false)?;
        let sc = self.new_scope(scope, Some(id), ScopeKind::Union);
        self.defining.push(id);
        let (disc, branches) = self.with_prefix_scope(|s| {
            let disc = s.resolve_type(sc, switch, TypeUse::Member);
            let ck = match s.model.unalias(&disc).clone() {
                t @ (Type::Short
                | Type::Long
                | Type::LongLong
                | Type::UShort
                | Type::ULong
                | Type::ULongLong
                | Type::Char
                | Type::Boolean) => s.ckind(&t),
                Type::Named(e) if matches!(s.kind_of(e), Some(DeclKind::Enum(_))) => {
                    Some(CKind::Enum(e))
                }
                Type::Error => None,
                _ => {
                    s.diags
                        .error(switch.loc(), "Invalid union discriminator type");
                    None
                }
            };
            let mut seen: HashSet<String> = HashSet::new();
            let mut default_seen = false;
            let mut branches = Vec::new();
            for c in cases {
                let mut labels = Vec::new();
                for l in &c.labels {
                    match l {
                        CaseLabel::Default(loc) => {
                            if default_seen {
                                s.diags.error(*loc, "Union has more than one default label");
                            }
                            default_seen = true;
                            labels.push(Label::Default);
                        }
                        CaseLabel::Value(e) => {
                            let Some(k) = ck.clone() else { continue };
                            if let Some(v) = s.eval(sc, e, &k) {
                                if !seen.insert(format!("{v:?}")) {
                                    s.diags.error(e.loc, "Duplicate union case label");
                                }
                                labels.push(Label::Value(v));
                            }
                        }
                    }
                }
                let t = s.resolve_type(sc, &c.ty, TypeUse::Member);
                let t = s.with_dims(sc, t, &c.declarator.dims);
                if s.declare(sc, &c.declarator.name, EKind::Instance("member"), "member") {
                    branches.push(UnionBranch {
                        labels,
                        name: c.declarator.name.name.clone(),
                        ty: t,
                    });
                }
            }
            if default_seen {
                let all = match &ck {
                    Some(CKind::Bool) => Some(2),
                    Some(CKind::Enum(e)) => match s.kind_of(*e) {
                        Some(DeclKind::Enum(list)) => Some(list.len()),
                        _ => None,
                    },
                    Some(CKind::Char) | Some(CKind::Int { bits: 8, .. }) => Some(256),
                    _ => None,
                };
                if all.is_some_and(|n| seen.len() >= n) {
                    s.diags.error(name.loc, format!("Error in union '{}': cannot declare default case since all cases are explicitly listed", name.name));
                }
            }
            (disc, branches)
        });
        self.defining.pop();
        if let Some(d) = self.decl_mut(id) {
            d.kind = DeclKind::Union {
                discriminator: disc,
                branches,
                defined: true,
            };
        }
        Some(id)
    }

    /// Whether a type is or contains a local interface (bounded walk).
    fn is_local_type(&self, t: &Type, seen: &mut HashSet<DeclId>) -> bool {
        match t {
            Type::Sequence(e, _) | Type::Array(e, _) => self.is_local_type(e, seen),
            Type::Named(id) => {
                if !seen.insert(*id) || seen.len() > 10_000 {
                    return false;
                }
                match self.kind_of(*id) {
                    Some(DeclKind::Interface { kind, .. }) => *kind == InterfaceKind::Local,
                    Some(DeclKind::Alias(t) | DeclKind::ValueBox(t)) => self.is_local_type(t, seen),
                    Some(DeclKind::Struct { members, .. } | DeclKind::Exception(members)) => {
                        members.iter().any(|m| self.is_local_type(&m.ty, seen))
                    }
                    Some(DeclKind::Union { branches, .. }) => {
                        branches.iter().any(|b| self.is_local_type(&b.ty, seen))
                    }
                    _ => false,
                }
            }
            _ => false,
        }
    }

    /// In an unconstrained interface, operations and attributes may not
    /// use local types.
    fn check_local(&mut self, scope: usize, t: &Type, loc: Loc, what: String) {
        let owner = self.scopes.get(scope).and_then(|s| s.decl);
        let Some(owner) = owner else { return };
        let Some(DeclKind::Interface {
            kind: InterfaceKind::Plain,
            ..
        }) = self.kind_of(owner)
        else {
            return;
        };
        if self.is_local_type(t, &mut HashSet::new()) {
            let iname = self
                .model
                .get(owner)
                .map(|d| d.name.clone())
                .unwrap_or_default();
            self.diags.error(
                loc,
                format!("In unconstrained interface '{iname}', {what} has a local type"),
            );
        }
    }

    fn raises_list(&mut self, scope: usize, names: &[ScopedName]) -> Vec<DeclId> {
        let mut out = Vec::new();
        for n in names {
            let Some(id) = self.lookup_decl_quiet(scope, n) else {
                continue;
            };
            if matches!(self.kind_of(id), Some(DeclKind::Exception(_))) {
                if !out.contains(&id) {
                    out.push(id);
                }
            } else {
                self.diags.error(
                    n.loc,
                    format!("'{n}' used in raises expression is not an exception"),
                );
            }
        }
        out
    }

    fn operation(
        &mut self,
        scope: usize,
        op: &Operation,
        what: &'static str,
    ) -> Option<OperationDef> {
        let ret = op
            .ret
            .as_ref()
            .map(|t| self.resolve_type(scope, t, TypeUse::Member));
        if !self.declare(scope, &op.name, EKind::Op(what), what) {
            return None;
        }
        let osc = self.new_scope(scope, None, ScopeKind::Operation);
        let mut params = Vec::new();
        for p in &op.params {
            let t = self.resolve_type(osc, &p.ty, TypeUse::Member);
            if self.declare(osc, &p.name, EKind::Instance("parameter"), "parameter") {
                params.push(ParamDef {
                    name: p.name.name.clone(),
                    dir: p.dir,
                    ty: t,
                });
            }
        }
        let raises = self.raises_list(osc, &op.raises);
        if let Some(t) = &ret {
            self.check_local(
                scope,
                t,
                op.name.loc,
                format!("operation '{}' return type", op.name.name),
            );
        }
        for p in &params {
            let what = format!("operation '{}' parameter '{}'", op.name.name, p.name);
            self.check_local(scope, &p.ty, op.name.loc, what);
        }
        if op.oneway {
            if ret.is_some() {
                self.diags.error(
                    op.name.loc,
                    format!("Oneway operation '{}' does not return void", op.name.name),
                );
            }
            if op.params.iter().any(|p| p.dir != ParamDir::In) {
                self.diags.error(
                    op.name.loc,
                    format!(
                        "Oneway operation '{}' has out or inout parameters",
                        op.name.name
                    ),
                );
            }
            if !op.raises.is_empty() {
                self.diags.error(
                    op.name.loc,
                    format!(
                        "Oneway operation '{}' may not have a raises expression",
                        op.name.name
                    ),
                );
            }
        }
        Some(OperationDef {
            name: op.name.name.clone(),
            oneway: op.oneway,
            ret,
            params,
            raises,
            context: op.context.clone(),
            loc: op.name.loc,
        })
    }

    fn attribute(&mut self, scope: usize, a: &Attribute) {
        let t = self.resolve_type(scope, &a.ty, TypeUse::Member);
        let get_raises = self.raises_list(scope, &a.get_raises);
        let set_raises = self.raises_list(scope, &a.set_raises);
        let mut defs = Vec::new();
        for n in &a.names {
            self.check_local(scope, &t, n.loc, format!("attribute '{}'", n.name));
            if self.declare(scope, n, EKind::Op("attribute"), "attribute") {
                defs.push(AttributeDef {
                    name: n.name.clone(),
                    readonly: a.readonly,
                    ty: t.clone(),
                    get_raises: get_raises.clone(),
                    set_raises: set_raises.clone(),
                    loc: n.loc,
                });
            }
        }
        let owner = self.scopes.get(scope).and_then(|s| s.decl);
        if let Some(DeclKind::Interface { attributes, .. } | DeclKind::Value { attributes, .. }) =
            owner.and_then(|o| self.decl_mut(o)).map(|d| &mut d.kind)
        {
            attributes.extend(defs)
        }
    }

    // ----- types ------------------------------------------------------------------

    fn resolve_type(&mut self, scope: usize, ts: &TypeSpec, usage: TypeUse) -> Type {
        if self.depth > MAX_DEPTH {
            return Type::Error;
        }
        self.depth += 1;
        let t = self.resolve_type_inner(scope, ts, usage);
        self.depth -= 1;
        t
    }

    fn resolve_type_inner(&mut self, scope: usize, ts: &TypeSpec, usage: TypeUse) -> Type {
        match ts {
            TypeSpec::Base(b, _) => match b {
                BaseType::Short => Type::Short,
                BaseType::Long => Type::Long,
                BaseType::LongLong => Type::LongLong,
                BaseType::UShort => Type::UShort,
                BaseType::ULong => Type::ULong,
                BaseType::ULongLong => Type::ULongLong,
                BaseType::Float => Type::Float,
                BaseType::Double => Type::Double,
                BaseType::LongDouble => Type::LongDouble,
                BaseType::Char => Type::Char,
                BaseType::WChar => Type::WChar,
                BaseType::Boolean => Type::Boolean,
                BaseType::Octet => Type::Octet,
                BaseType::Any => Type::Any,
                BaseType::Object => Type::Object,
                BaseType::ValueBase => Type::ValueBase,
            },
            TypeSpec::Named(sn) => {
                let Some(e) = self.lookup(scope, sn) else {
                    return Type::Error;
                };
                let EKind::Decl(id) = e.kind else {
                    self.diags.error(sn.loc, format!("'{sn}' is not a type"));
                    return Type::Error;
                };
                match self.kind_of(id) {
                    Some(
                        DeclKind::Struct { defined: false, .. }
                        | DeclKind::Union { defined: false, .. },
                    ) => {
                        let being_defined = self.defining.contains(&id);
                        let ok = usage == TypeUse::Sequence;
                        if !ok {
                            let what = self.describe_decl(id);
                            let sn2 = self
                                .model
                                .get(id)
                                .map(|d| d.scoped_name.clone())
                                .unwrap_or_default();
                            let msg = if being_defined {
                                format!(
                                    "Recursive use of '{sn2}' is only allowed inside a sequence"
                                )
                            } else {
                                format!(
                                    "Cannot use {what} '{sn2}' before it is fully defined (only in a sequence)"
                                )
                            };
                            self.diags.error(sn.loc, msg);
                            return Type::Error;
                        }
                        Type::Named(id)
                    }
                    Some(DeclKind::Builtin(t)) => t.clone(),
                    Some(
                        DeclKind::Struct { .. }
                        | DeclKind::Union { .. }
                        | DeclKind::Enum(_)
                        | DeclKind::Alias(_)
                        | DeclKind::Interface { .. }
                        | DeclKind::Value { .. }
                        | DeclKind::ValueBox(_)
                        | DeclKind::Native,
                    ) => Type::Named(id),
                    _ => {
                        self.diags.error(sn.loc, format!("'{sn}' is not a type"));
                        Type::Error
                    }
                }
            }
            TypeSpec::Sequence(elem, bound, _) => {
                let e = self.resolve_type(scope, elem, TypeUse::Sequence);
                let b = bound.as_ref().and_then(|b| self.positive(scope, b));
                Type::Sequence(Box::new(e), b)
            }
            TypeSpec::String(b, _) => {
                Type::String(b.as_ref().and_then(|b| self.positive(scope, b)))
            }
            TypeSpec::WString(b, _) => {
                Type::WString(b.as_ref().and_then(|b| self.positive(scope, b)))
            }
            TypeSpec::Fixed(None, _) => Type::Fixed(None),
            TypeSpec::Fixed(Some((d, s)), loc) => {
                let d = self.positive(scope, d).unwrap_or(1);
                let k = CKind::Int {
                    min: 0,
                    max: 31,
                    name: "fixed scale",
                    bits: 16,
                    signed: false,
                };
                let s = match self.eval(scope, s, &k) {
                    Some(ConstValue::Int(v)) => u32::try_from(v).unwrap_or(0),
                    _ => 0,
                };
                if d > 31 {
                    self.diags
                        .error(*loc, "Fixed point values may not have more than 31 digits");
                }
                if s > d {
                    self.diags.error(
                        *loc,
                        "Fixed point scale factor is greater than the number of digits",
                    );
                }
                Type::Fixed(Some((
                    u16::try_from(d.min(31)).unwrap_or(31),
                    u16::try_from(s.min(31)).unwrap_or(0),
                )))
            }
            TypeSpec::Constructed(def) => match self.def(scope, def) {
                Some(id) => Type::Named(id),
                None => Type::Error,
            },
        }
    }

    // ----- constants --------------------------------------------------------------

    fn ckind(&self, t: &Type) -> Option<CKind> {
        let int = |min: i128, max: i128, name, bits, signed| {
            Some(CKind::Int {
                min,
                max,
                name,
                bits,
                signed,
            })
        };
        match self.model.unalias(t) {
            Type::Short => int(
                i128::from(i16::MIN),
                i128::from(i16::MAX),
                "short",
                16,
                true,
            ),
            Type::Long => int(i128::from(i32::MIN), i128::from(i32::MAX), "long", 32, true),
            Type::LongLong => int(
                i128::from(i64::MIN),
                i128::from(i64::MAX),
                "long long",
                64,
                true,
            ),
            Type::UShort => int(0, i128::from(u16::MAX), "unsigned short", 16, false),
            Type::ULong => int(0, i128::from(u32::MAX), "unsigned long", 32, false),
            Type::ULongLong => int(0, i128::from(u64::MAX), "unsigned long long", 64, false),
            Type::Octet => int(0, 255, "octet", 8, false),
            Type::Float => Some(CKind::Float {
                max: f64::from(f32::MAX),
                name: "float",
            }),
            Type::Double | Type::LongDouble => Some(CKind::Float {
                max: f64::MAX,
                name: "double",
            }),
            Type::Fixed(_) => Some(CKind::Fixed),
            Type::Char => Some(CKind::Char),
            Type::WChar => Some(CKind::WChar),
            Type::Boolean => Some(CKind::Bool),
            Type::String(b) => Some(CKind::Str(*b)),
            Type::WString(b) => Some(CKind::WStr(*b)),
            Type::Named(id) if matches!(self.kind_of(*id), Some(DeclKind::Enum(_))) => {
                Some(CKind::Enum(*id))
            }
            _ => None,
        }
    }

    fn const_value(&mut self, scope: usize, t: &Type, e: &Expr, tloc: Loc) -> Option<ConstValue> {
        if *t == Type::Error {
            return None;
        }
        let Some(k) = self.ckind(t) else {
            self.diags.error(tloc, "Invalid type for a constant");
            return None;
        };
        self.eval(scope, e, &k)
    }

    /// A bound or dimension: a positive `unsigned long`.
    fn positive(&mut self, scope: usize, e: &Expr) -> Option<u32> {
        let k = CKind::Int {
            min: 0,
            max: i128::from(u32::MAX),
            name: "unsigned long",
            bits: 32,
            signed: false,
        };
        match self.eval(scope, e, &k)? {
            ConstValue::Int(v) if v >= 1 => u32::try_from(v).ok(),
            _ => {
                self.diags.error(e.loc, "Size must be at least 1");
                None
            }
        }
    }

    /// Looks up a name used in a constant expression.
    fn const_ref(&mut self, scope: usize, sn: &ScopedName) -> Option<(DeclId, DeclKind)> {
        let id = self.lookup_decl(scope, sn)?;
        let k = self.kind_of(id)?.clone();
        Some((id, k))
    }

    fn eval(&mut self, scope: usize, e: &Expr, k: &CKind) -> Option<ConstValue> {
        match k {
            CKind::Int {
                min,
                max,
                name,
                bits,
                signed,
            } => {
                let v = self.eval_int(scope, e, *bits, *signed, 0)?;
                if v > *max {
                    self.diags
                        .error(e.loc, format!("Value too large for {name}"));
                    return None;
                }
                if v < *min {
                    self.diags
                        .error(e.loc, format!("Value too small for {name}"));
                    return None;
                }
                Some(ConstValue::Int(v))
            }
            CKind::Float { max, name } => {
                let v = self.eval_float(scope, e, name, 0)?;
                if v.is_finite() && v.abs() > *max {
                    // omniidl accepts these (they become infinities).
                    self.diags
                        .warning(e.loc, format!("Value too large for {name}"));
                }
                Some(ConstValue::Float(v))
            }
            CKind::Fixed => self.eval_fixed(scope, e, 0).map(ConstValue::Fixed),
            _ => self.eval_simple(scope, e, k),
        }
    }

    fn eval_simple(&mut self, scope: usize, e: &Expr, k: &CKind) -> Option<ConstValue> {
        let lit = match &e.kind {
            ExprKind::Name(sn) => {
                let (id, dk) = self.const_ref(scope, sn)?;
                match dk {
                    DeclKind::Const { value, .. } => value,
                    DeclKind::Enumerator { .. } => ConstValue::Enum(id),
                    _ => {
                        self.diags.error(e.loc, format!("'{sn}' is not a constant"));
                        return None;
                    }
                }
            }
            ExprKind::Char(c) => ConstValue::Char(*c),
            ExprKind::WChar(c) => ConstValue::WChar(*c),
            ExprKind::String(s) => ConstValue::String(s.clone()),
            ExprKind::WString(s) => ConstValue::WString(s.clone()),
            ExprKind::Bool(b) => ConstValue::Bool(*b),
            ExprKind::Int(_) => return self.mismatch(e, "integer literal", k),
            ExprKind::Float(_) => return self.mismatch(e, "floating literal", k),
            ExprKind::Fixed(_) => return self.mismatch(e, "fixed-point literal", k),
            ExprKind::Unary(..) | ExprKind::Binary(..) => {
                self.diags
                    .error(e.loc, "Operators cannot be used on this type of constant");
                return None;
            }
        };
        let ok = match (k, &lit) {
            (CKind::Char, ConstValue::Char(c)) => {
                if *c > 255 {
                    self.diags
                        .error(e.loc, "Character literal out of range for char");
                    return None;
                }
                true
            }
            (CKind::WChar, ConstValue::WChar(_)) | (CKind::Bool, ConstValue::Bool(_)) => true,
            (CKind::Str(b), ConstValue::String(s)) | (CKind::WStr(b), ConstValue::WString(s)) => {
                if let Some(b) = b
                    && s.chars().count() > *b as usize
                {
                    self.diags.error(
                        e.loc,
                        "String literal is longer than the bound of the string type",
                    );
                    return None;
                }
                true
            }
            (CKind::Enum(owner), ConstValue::Enum(id)) => {
                let ok = matches!(self.kind_of(*id), Some(DeclKind::Enumerator { owner: o, .. }) if o == owner);
                if !ok {
                    let en = self
                        .model
                        .get(*owner)
                        .map(|d| d.scoped_name.clone())
                        .unwrap_or_default();
                    self.diags
                        .error(e.loc, format!("Enumerator is not a member of enum '{en}'"));
                    return None;
                }
                true
            }
            _ => false,
        };
        if ok {
            Some(lit)
        } else {
            let what = match lit {
                ConstValue::Char(_) => "character literal",
                ConstValue::WChar(_) => "wide character literal",
                ConstValue::String(_) => "string literal",
                ConstValue::WString(_) => "wide string literal",
                ConstValue::Bool(_) => "boolean",
                ConstValue::Enum(_) => "enumerator",
                ConstValue::Int(_) => "integer",
                ConstValue::Float(_) => "floating value",
                ConstValue::Fixed(_) => "fixed-point value",
            };
            self.mismatch(e, what, k)
        }
    }

    fn mismatch(&mut self, e: &Expr, what: &str, k: &CKind) -> Option<ConstValue> {
        let target = match k {
            CKind::Int { name, .. } | CKind::Float { name, .. } => match *name {
                "double" => "a double",
                "float" => "a float",
                _ => "an integer",
            },
            CKind::Fixed => "a fixed-point value",
            CKind::Char => "a character",
            CKind::WChar => "a wide character",
            CKind::Str(_) => "a string",
            CKind::WStr(_) => "a wide string",
            CKind::Bool => "a boolean",
            CKind::Enum(_) => "an enumerator",
        };
        self.diags
            .error(e.loc, format!("Cannot interpret {what} as {target}"));
        None
    }

    fn eval_int(
        &mut self,
        scope: usize,
        e: &Expr,
        bits: u32,
        signed: bool,
        depth: u32,
    ) -> Option<i128> {
        if depth > MAX_DEPTH {
            self.diags.error(e.loc, "expression nested too deeply");
            return None;
        }
        // Like omniidl, evaluate in the 32-bit domain (-2^31 ..= 2^32-1)
        // for types up to `unsigned long` and in the 64-bit domain for
        // `long long`; leaving the domain is an overflow.
        let (lo, hi, dom) = if bits <= 32 {
            (-(1i128 << 31), (1i128 << 32) - 1, "unsigned long")
        } else {
            (-(1i128 << 63), (1i128 << 64) - 1, "unsigned long long")
        };
        let overflow = |s: &mut Self, what: &str| {
            s.diags.error(e.loc, format!("Result of {what} overflows"));
            None
        };
        match &e.kind {
            ExprKind::Int(v) => {
                let v = i128::from(*v);
                if v > hi {
                    self.diags
                        .error(e.loc, format!("Integer literal is too large for {dom}"));
                    return None;
                }
                Some(v)
            }
            ExprKind::Name(sn) => {
                let (_, dk) = self.const_ref(scope, sn)?;
                match dk {
                    DeclKind::Const {
                        value: ConstValue::Int(v),
                        ..
                    } => Some(v),
                    DeclKind::Const { .. } => {
                        self.diags
                            .error(e.loc, format!("'{sn}' is not an integer constant"));
                        None
                    }
                    _ => {
                        self.diags.error(e.loc, format!("'{sn}' is not a constant"));
                        None
                    }
                }
            }
            ExprKind::Unary(op, a) => {
                let a = self.eval_int(scope, a, bits, signed, depth + 1)?;
                match op {
                    UnaryOp::Plus => Some(a),
                    UnaryOp::Neg => match a.checked_neg() {
                        Some(v) if v >= lo => Some(v),
                        _ => overflow(self, "negation"),
                    },
                    UnaryOp::Not => {
                        if signed {
                            Some(!a)
                        } else {
                            let mask = if bits >= 127 {
                                i128::MAX
                            } else {
                                (1i128 << bits) - 1
                            };
                            Some(!a & mask)
                        }
                    }
                }
            }
            ExprKind::Binary(op, a, b) => {
                let a = self.eval_int(scope, a, bits, signed, depth + 1)?;
                let b = self.eval_int(scope, b, bits, signed, depth + 1)?;
                let r = match op {
                    BinaryOp::Or => Some(a | b),
                    BinaryOp::Xor => Some(a ^ b),
                    BinaryOp::And => Some(a & b),
                    BinaryOp::Add => a.checked_add(b),
                    BinaryOp::Sub => a.checked_sub(b),
                    BinaryOp::Mul => a.checked_mul(b),
                    BinaryOp::Div | BinaryOp::Mod => {
                        if b == 0 {
                            self.diags.error(e.loc, "Divide by zero");
                            return None;
                        }
                        if *op == BinaryOp::Div {
                            a.checked_div(b)
                        } else {
                            a.checked_rem(b)
                        }
                    }
                    BinaryOp::Shl | BinaryOp::Shr => {
                        if !(0..64).contains(&b) {
                            self.diags
                                .error(e.loc, "Shift operand must be between 0 and 63");
                            return None;
                        }
                        let s = u32::try_from(b).unwrap_or(0);
                        if *op == BinaryOp::Shl {
                            a.checked_shl(s)
                        } else {
                            a.checked_shr(s)
                        }
                    }
                };
                let what = match op {
                    BinaryOp::Add => "addition",
                    BinaryOp::Sub => "subtraction",
                    BinaryOp::Mul => "multiplication",
                    BinaryOp::Div => "division",
                    BinaryOp::Mod => "modulo",
                    BinaryOp::Shl | BinaryOp::Shr => "shift",
                    BinaryOp::Or | BinaryOp::Xor | BinaryOp::And => "bitwise operation",
                };
                match r {
                    Some(v) if (lo..=hi).contains(&v) => Some(v),
                    Some(v) if matches!(op, BinaryOp::Shl) => Some(v & hi),
                    _ => overflow(self, what),
                }
            }
            ExprKind::Float(_) => {
                self.diags
                    .error(e.loc, "Cannot interpret floating literal as an integer");
                None
            }
            ExprKind::Fixed(_) => {
                self.diags
                    .error(e.loc, "Cannot interpret fixed-point literal as an integer");
                None
            }
            ExprKind::Char(_) | ExprKind::WChar(_) => {
                self.diags
                    .error(e.loc, "Cannot interpret character literal as an integer");
                None
            }
            ExprKind::String(_) | ExprKind::WString(_) => {
                self.diags
                    .error(e.loc, "Cannot interpret string literal as an integer");
                None
            }
            ExprKind::Bool(_) => {
                self.diags
                    .error(e.loc, "Cannot interpret boolean as an integer");
                None
            }
        }
    }

    fn eval_float(&mut self, scope: usize, e: &Expr, name: &str, depth: u32) -> Option<f64> {
        if depth > MAX_DEPTH {
            self.diags.error(e.loc, "expression nested too deeply");
            return None;
        }
        match &e.kind {
            ExprKind::Float(v) => Some(*v),
            ExprKind::Name(sn) => {
                let (_, dk) = self.const_ref(scope, sn)?;
                match dk {
                    DeclKind::Const {
                        value: ConstValue::Float(v),
                        ..
                    } => Some(v),
                    _ => {
                        self.diags
                            .error(e.loc, format!("'{sn}' is not a floating-point constant"));
                        None
                    }
                }
            }
            ExprKind::Unary(op, a) => {
                let a = self.eval_float(scope, a, name, depth + 1)?;
                match op {
                    UnaryOp::Plus => Some(a),
                    UnaryOp::Neg => Some(-a),
                    UnaryOp::Not => {
                        self.diags
                            .error(e.loc, "Operator ~ cannot be used on floating-point values");
                        None
                    }
                }
            }
            ExprKind::Binary(op, a, b) => {
                let a = self.eval_float(scope, a, name, depth + 1)?;
                let b = self.eval_float(scope, b, name, depth + 1)?;
                match op {
                    BinaryOp::Add => Some(a + b),
                    BinaryOp::Sub => Some(a - b),
                    BinaryOp::Mul => Some(a * b),
                    BinaryOp::Div => {
                        if b == 0.0 {
                            self.diags.error(e.loc, "Divide by zero");
                            return None;
                        }
                        Some(a / b)
                    }
                    _ => {
                        self.diags
                            .error(e.loc, "Only + - * / can be used on floating-point values");
                        None
                    }
                }
            }
            ExprKind::Int(_) => {
                self.diags.error(
                    e.loc,
                    format!("Cannot interpret integer literal as a {name}"),
                );
                None
            }
            _ => {
                self.diags
                    .error(e.loc, format!("Cannot interpret this literal as a {name}"));
                None
            }
        }
    }

    fn eval_fixed(&mut self, scope: usize, e: &Expr, depth: u32) -> Option<String> {
        if depth > MAX_DEPTH {
            self.diags.error(e.loc, "expression nested too deeply");
            return None;
        }
        match &e.kind {
            ExprKind::Fixed(s) => Some(s.clone()),
            ExprKind::Name(sn) => {
                let (_, dk) = self.const_ref(scope, sn)?;
                match dk {
                    DeclKind::Const {
                        value: ConstValue::Fixed(v),
                        ..
                    } => Some(v),
                    _ => {
                        self.diags
                            .error(e.loc, format!("'{sn}' is not a fixed-point constant"));
                        None
                    }
                }
            }
            ExprKind::Unary(UnaryOp::Neg, a) => {
                let a = self.eval_fixed(scope, a, depth + 1)?;
                Some(match a.strip_prefix('-') {
                    Some(p) => p.to_owned(),
                    None => format!("-{a}"),
                })
            }
            ExprKind::Unary(UnaryOp::Plus, a) => self.eval_fixed(scope, a, depth + 1),
            ExprKind::Binary(op, a, b) => {
                let a = self.eval_fixed(scope, a, depth + 1)?;
                let b = self.eval_fixed(scope, b, depth + 1)?;
                let (x, y) = (
                    a.parse::<f64>().unwrap_or(0.0),
                    b.parse::<f64>().unwrap_or(0.0),
                );
                let v = match op {
                    BinaryOp::Add => x + y,
                    BinaryOp::Sub => x - y,
                    BinaryOp::Mul => x * y,
                    BinaryOp::Div if y != 0.0 => x / y,
                    BinaryOp::Div => {
                        self.diags.error(e.loc, "Divide by zero");
                        return None;
                    }
                    _ => {
                        self.diags
                            .error(e.loc, "Only + - * / can be used on fixed-point values");
                        return None;
                    }
                };
                Some(format!("{v}"))
            }
            ExprKind::Int(_) => {
                self.diags.error(
                    e.loc,
                    "Cannot interpret integer literal as a fixed-point value",
                );
                None
            }
            _ => {
                self.diags.error(
                    e.loc,
                    "Cannot interpret this literal as a fixed-point value",
                );
                None
            }
        }
    }

    /// Forward-declared structs and unions must be defined somewhere;
    /// interfaces and valuetypes only get a warning (as in omniidl).
    fn check_forwards(&mut self) {
        let mut found = Vec::new();
        for (i, d) in self.model.decls.iter().enumerate() {
            if !self
                .declared
                .contains(&DeclId(u32::try_from(i).unwrap_or(u32::MAX)))
            {
                continue;
            }
            let (what, error) = match d.kind {
                DeclKind::Struct { defined: false, .. } => ("struct", true),
                DeclKind::Union { defined: false, .. } => ("union", true),
                DeclKind::Interface { defined: false, .. } => ("interface", false),
                DeclKind::Value { defined: false, .. } => ("valuetype", false),
                _ => continue,
            };
            let msg = format!(
                "Forward declared {what} '{}' was never fully defined",
                d.scoped_name
            );
            found.push((d.loc, msg, error));
        }
        for (loc, msg, error) in found {
            if error {
                self.diags.error(loc, msg);
            } else {
                self.diags.warning(loc, msg);
            }
        }
    }

    // ----- repository ids ---------------------------------------------------------

    fn finish_ids(&mut self) {
        let n = self.model.decls.len();
        for i in 0..n {
            let id = DeclId(u32::try_from(i).unwrap_or(u32::MAX));
            let rid = self.repo_id(id);
            if let Some(d) = self.decl_mut(id) {
                d.repo_id = rid;
            }
        }
    }

    fn repo_id(&self, id: DeclId) -> String {
        let Some(info) = self.ids.get(id.0 as usize) else {
            return String::new();
        };
        if let Some(e) = &info.explicit {
            return e.clone();
        }
        // The nearest typeprefix on an enclosing scope wins over #pragma prefix.
        let mut parts = Vec::new();
        let mut prefix = info.prefix.clone();
        let mut cur = Some(id);
        let mut found_tp = false;
        let mut guard = 0;
        while let Some(c) = cur {
            let Some(d) = self.model.get(c) else { break };
            if !found_tp
                && let Some(tp) = self
                    .ids
                    .get(c.0 as usize)
                    .and_then(|i| i.type_prefix.clone())
                && (c != id
                    || matches!(
                        d.kind,
                        DeclKind::Module | DeclKind::Interface { .. } | DeclKind::Value { .. }
                    ))
            {
                prefix = tp;
                found_tp = true;
            }
            // An enclosing scope with an explicit id contributes its id's
            // body instead of the remaining scopes (CORBA 10.7.5).
            parts.push(d.name.clone());
            cur = d.parent;
            guard += 1;
            if guard > MAX_DEPTH {
                break;
            }
        }
        parts.reverse();
        let version = info.version.clone().unwrap_or_else(|| "1.0".into());
        let body = parts.join("/");
        if prefix.is_empty() {
            format!("IDL:{body}:{version}")
        } else {
            format!("IDL:{prefix}/{body}:{version}")
        }
    }
}

fn d_loc(sn: &ScopedName) -> Loc {
    sn.loc
}

fn empty_value(kind: ValueKind, truncatable: bool, defined: bool) -> DeclKind {
    DeclKind::Value {
        kind,
        truncatable,
        bases: Vec::new(),
        supports: Vec::new(),
        state: Vec::new(),
        operations: Vec::new(),
        attributes: Vec::new(),
        factories: Vec::new(),
        defined,
    }
}

fn valid_repo_id(id: &str) -> bool {
    match id.split_once(':') {
        Some(("IDL", rest)) => rest.rsplit_once(':').is_some_and(|(_, v)| {
            let mut p = v.split('.');
            let num = |s: Option<&str>| {
                s.is_some_and(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()))
            };
            num(p.next()) && num(p.next()) && p.next().is_none()
        }),
        Some((_, _)) => true,
        None => false,
    }
}
