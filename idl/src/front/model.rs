//! The resolved type model: every declaration with its scoped name,
//! repository id and fully resolved types. This is what the CDR codec, the
//! gateway's `describe` command and code generation read.

use super::ast::{InterfaceKind, ParamDir, ValueKind};
use super::diag::Loc;

/// Index of a declaration in [`Model::decls`].
#[derive(Clone, Copy, Debug, Eq, PartialEq, Hash, Ord, PartialOrd)]
pub struct DeclId(pub u32);

/// A resolved type.
#[derive(Clone, Debug, PartialEq)]
#[allow(missing_docs)]
pub enum Type {
    Short,
    Long,
    LongLong,
    UShort,
    ULong,
    ULongLong,
    Float,
    Double,
    LongDouble,
    Char,
    WChar,
    Boolean,
    Octet,
    Any,
    Object,
    ValueBase,
    TypeCode,
    /// `string` with its bound.
    String(Option<u32>),
    /// `wstring` with its bound.
    WString(Option<u32>),
    /// `fixed<digits, scale>`; `None` for the unparameterised `fixed` of a constant.
    Fixed(Option<(u16, u16)>),
    /// `sequence<T, N>`.
    Sequence(Box<Self>, Option<u32>),
    /// An array of the element type with these dimensions.
    Array(Box<Self>, Vec<u32>),
    /// A named type: struct, union, enum, typedef, interface, valuetype,
    /// value box, native or exception.
    Named(DeclId),
    /// A type that could not be resolved (an error was reported).
    Error,
}

/// The value of a constant.
#[derive(Clone, Debug, PartialEq)]
#[allow(missing_docs)]
pub enum ConstValue {
    Int(i128),
    Float(f64),
    /// Decimal digits, possibly with a point.
    Fixed(String),
    Char(u32),
    WChar(u32),
    String(String),
    WString(String),
    Bool(bool),
    /// An enumerator.
    Enum(DeclId),
}

/// A struct, exception or valuetype member.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    /// Name.
    pub name: String,
    /// Type (arrays included).
    pub ty: Type,
    /// For valuetype state members: public or private.
    pub public: bool,
}

/// A union case label.
#[derive(Clone, Debug, PartialEq)]
pub enum Label {
    /// A value of the discriminator type.
    Value(ConstValue),
    /// `default`.
    Default,
}

/// A union branch.
#[derive(Clone, Debug, PartialEq)]
pub struct UnionBranch {
    /// Its labels.
    pub labels: Vec<Label>,
    /// Element name.
    pub name: String,
    /// Element type.
    pub ty: Type,
}

/// An operation parameter.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamDef {
    /// Name.
    pub name: String,
    /// Direction.
    pub dir: ParamDir,
    /// Type.
    pub ty: Type,
}

/// An operation of an interface or valuetype.
#[derive(Clone, Debug, PartialEq)]
pub struct OperationDef {
    /// Name (unscoped, as sent in GIOP requests).
    pub name: String,
    /// `oneway`.
    pub oneway: bool,
    /// Return type; `None` for `void`.
    pub ret: Option<Type>,
    /// Parameters.
    pub params: Vec<ParamDef>,
    /// Exceptions it raises.
    pub raises: Vec<DeclId>,
    /// Context strings.
    pub context: Vec<String>,
    /// Where it is declared.
    pub loc: Loc,
}

/// An attribute of an interface or valuetype.
#[derive(Clone, Debug, PartialEq)]
pub struct AttributeDef {
    /// Name.
    pub name: String,
    /// `readonly`.
    pub readonly: bool,
    /// Type.
    pub ty: Type,
    /// Exceptions of the getter.
    pub get_raises: Vec<DeclId>,
    /// Exceptions of the setter.
    pub set_raises: Vec<DeclId>,
    /// Where it is declared.
    pub loc: Loc,
}

/// What a declaration is.
#[derive(Clone, Debug, PartialEq)]
pub enum DeclKind {
    /// A module.
    Module,
    /// An interface (possibly only forward-declared: `defined` is false).
    Interface {
        /// Plain, abstract or local.
        kind: InterfaceKind,
        /// Direct bases.
        bases: Vec<DeclId>,
        /// Its own operations.
        operations: Vec<OperationDef>,
        /// Its own attributes.
        attributes: Vec<AttributeDef>,
        /// Whether the body has been seen.
        defined: bool,
    },
    /// A valuetype.
    Value {
        /// Concrete, abstract or custom.
        kind: ValueKind,
        /// `truncatable` base.
        truncatable: bool,
        /// Base valuetypes.
        bases: Vec<DeclId>,
        /// Supported interfaces.
        supports: Vec<DeclId>,
        /// State members.
        state: Vec<Field>,
        /// Operations.
        operations: Vec<OperationDef>,
        /// Attributes.
        attributes: Vec<AttributeDef>,
        /// Factories (initialisers), as operations without return type.
        factories: Vec<OperationDef>,
        /// Whether the body has been seen.
        defined: bool,
    },
    /// A value box.
    ValueBox(Type),
    /// A struct.
    Struct {
        /// Members.
        members: Vec<Field>,
        /// Whether the body has been seen.
        defined: bool,
    },
    /// A union.
    Union {
        /// Discriminator type.
        discriminator: Type,
        /// Branches.
        branches: Vec<UnionBranch>,
        /// Whether the body has been seen.
        defined: bool,
    },
    /// An enum, with its enumerators in order.
    Enum(Vec<DeclId>),
    /// An enumerator of an enum, with its ordinal.
    Enumerator {
        /// The enum.
        owner: DeclId,
        /// Position in the enum.
        value: u32,
    },
    /// A typedef.
    Alias(Type),
    /// A constant.
    Const {
        /// Its type.
        ty: Type,
        /// Its value.
        value: ConstValue,
    },
    /// An exception.
    Exception(Vec<Field>),
    /// A native type.
    Native,
    /// A built-in type predeclared in module CORBA (`CORBA::TypeCode`).
    Builtin(Type),
}

/// One declaration.
#[derive(Clone, Debug, PartialEq)]
pub struct Decl {
    /// Its identifier.
    pub name: String,
    /// Its fully scoped name, `A::B::C` (no leading `::`).
    pub scoped_name: String,
    /// Its repository id.
    pub repo_id: String,
    /// The enclosing declaration (module, interface, ...), if any.
    pub parent: Option<DeclId>,
    /// Where it was (last) declared.
    pub loc: Loc,
    /// The file it was declared in, by name.
    pub file: String,
    /// What it is.
    pub kind: DeclKind,
}

/// Everything a specification declares, names resolved.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Model {
    /// All declarations, in order of first declaration.
    pub decls: Vec<Decl>,
}

impl Model {
    /// The declaration with this id.
    pub fn get(&self, id: DeclId) -> Option<&Decl> {
        self.decls.get(id.0 as usize)
    }

    /// Finds a declaration by scoped name (`A::B`, with or without the
    /// leading `::`).
    pub fn find(&self, scoped_name: &str) -> Option<&Decl> {
        let n = scoped_name.strip_prefix("::").unwrap_or(scoped_name);
        self.decls.iter().find(|d| d.scoped_name == n)
    }

    /// All interfaces (or valuetypes and supported interfaces) a
    /// declaration inherits from, directly or not, each once, nearest
    /// first.
    pub fn all_bases(&self, id: DeclId) -> Vec<DeclId> {
        let direct = |d: DeclId| -> Vec<DeclId> {
            match self.get(d).map(|d| &d.kind) {
                Some(DeclKind::Interface { bases, .. }) => bases.clone(),
                Some(DeclKind::Value {
                    bases, supports, ..
                }) => bases.iter().chain(supports).copied().collect(),
                _ => Vec::new(),
            }
        };
        let mut out: Vec<DeclId> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut queue: std::collections::VecDeque<DeclId> = direct(id).into();
        while let Some(b) = queue.pop_front() {
            if b == id || out.len() >= 10_000 || !seen.insert(b) {
                continue;
            }
            out.push(b);
            queue.extend(direct(b));
        }
        out
    }

    /// The operations a client may invoke on an interface: its own, then
    /// those of every base (each base once).
    pub fn all_operations(&self, id: DeclId) -> Vec<&OperationDef> {
        let mut out = Vec::new();
        for d in std::iter::once(id).chain(self.all_bases(id)) {
            if let Some(
                DeclKind::Interface { operations, .. } | DeclKind::Value { operations, .. },
            ) = self.get(d).map(|d| &d.kind)
            {
                out.extend(operations.iter());
            }
        }
        out
    }

    /// The attributes of an interface, its own and inherited.
    pub fn all_attributes(&self, id: DeclId) -> Vec<&AttributeDef> {
        let mut out = Vec::new();
        for d in std::iter::once(id).chain(self.all_bases(id)) {
            if let Some(
                DeclKind::Interface { attributes, .. } | DeclKind::Value { attributes, .. },
            ) = self.get(d).map(|d| &d.kind)
            {
                out.extend(attributes.iter());
            }
        }
        out
    }

    /// The id of a declaration found by scoped name, as for [`Model::find`].
    pub fn find_id(&self, scoped_name: &str) -> Option<DeclId> {
        let n = scoped_name.strip_prefix("::").unwrap_or(scoped_name);
        let i = self.decls.iter().position(|d| d.scoped_name == n)?;
        u32::try_from(i).ok().map(DeclId)
    }

    /// Follows typedefs to the type they stand for (bounded, so a cycle
    /// cannot hang).
    pub fn unalias<'a>(&'a self, mut ty: &'a Type) -> &'a Type {
        for _ in 0..1000 {
            match ty {
                Type::Named(id) => match self.get(*id).map(|d| &d.kind) {
                    Some(DeclKind::Alias(t)) => ty = t,
                    _ => return ty,
                },
                _ => return ty,
            }
        }
        ty
    }
}

impl Model {
    /// Spells a type the way IDL would, with scoped names for named types.
    pub fn type_name(&self, ty: &Type) -> String {
        match ty {
            Type::Short => "short".into(),
            Type::Long => "long".into(),
            Type::LongLong => "long long".into(),
            Type::UShort => "unsigned short".into(),
            Type::ULong => "unsigned long".into(),
            Type::ULongLong => "unsigned long long".into(),
            Type::Float => "float".into(),
            Type::Double => "double".into(),
            Type::LongDouble => "long double".into(),
            Type::Char => "char".into(),
            Type::WChar => "wchar".into(),
            Type::Boolean => "boolean".into(),
            Type::Octet => "octet".into(),
            Type::Any => "any".into(),
            Type::Object => "Object".into(),
            Type::ValueBase => "ValueBase".into(),
            Type::TypeCode => "CORBA::TypeCode".into(),
            Type::String(None) => "string".into(),
            Type::String(Some(n)) => format!("string<{n}>"),
            Type::WString(None) => "wstring".into(),
            Type::WString(Some(n)) => format!("wstring<{n}>"),
            Type::Fixed(None) => "fixed".into(),
            Type::Fixed(Some((d, s))) => format!("fixed<{d},{s}>"),
            Type::Sequence(t, None) => format!("sequence<{}>", self.type_name(t)),
            Type::Sequence(t, Some(n)) => format!("sequence<{},{n}>", self.type_name(t)),
            Type::Array(t, dims) => {
                let d: String = dims.iter().map(|n| format!("[{n}]")).collect();
                format!("{}{d}", self.type_name(t))
            }
            Type::Named(id) => self
                .get(*id)
                .map_or_else(|| "?".into(), |d| format!("::{}", d.scoped_name)),
            Type::Error => "<error>".into(),
        }
    }

    fn value_text(&self, v: &ConstValue) -> String {
        match v {
            ConstValue::Int(i) => i.to_string(),
            ConstValue::Float(f) => format!("{f:?}"),
            ConstValue::Fixed(s) => format!("{s}d"),
            ConstValue::Char(c) | ConstValue::WChar(c) => {
                format!("{:?}", char::from_u32(*c).unwrap_or('?'))
            }
            ConstValue::String(s) | ConstValue::WString(s) => format!("{s:?}"),
            ConstValue::Bool(b) => (if *b { "TRUE" } else { "FALSE" }).into(),
            ConstValue::Enum(id) => self
                .get(*id)
                .map_or_else(|| "?".into(), |d| format!("::{}", d.scoped_name)),
        }
    }

    fn ids(&self, ids: &[DeclId]) -> String {
        ids.iter()
            .filter_map(|i| self.get(*i))
            .map(|d| d.scoped_name.clone())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// A one-declaration-per-line text dump of the model (without the
    /// predeclared `CORBA::TypeCode`), for tests and debugging.
    pub fn dump(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        for d in &self.decls {
            let head = |what: &str| format!("{what} {} {}", d.scoped_name, d.repo_id);
            let line = match &d.kind {
                DeclKind::Builtin(_) => continue,
                DeclKind::Module if d.scoped_name == "CORBA" && d.loc == Loc::default() => continue,
                DeclKind::Module => head("module"),
                DeclKind::Interface {
                    kind,
                    bases,
                    operations,
                    attributes,
                    defined,
                } => {
                    let mut s = head(match (kind, defined) {
                        (_, false) => "interface(forward)",
                        (InterfaceKind::Plain, _) => "interface",
                        (InterfaceKind::Abstract, _) => "abstract interface",
                        (InterfaceKind::Local, _) => "local interface",
                    });
                    if !bases.is_empty() {
                        let _ = write!(s, " : {}", self.ids(bases));
                    }
                    for a in attributes {
                        let _ = write!(
                            s,
                            "\n  {}attribute {} {}",
                            if a.readonly { "readonly " } else { "" },
                            self.type_name(&a.ty),
                            a.name
                        );
                    }
                    for o in operations {
                        let _ = write!(s, "\n  {}", self.op_text(o));
                    }
                    s
                }
                DeclKind::Value {
                    kind,
                    bases,
                    supports,
                    state,
                    operations,
                    factories,
                    defined,
                    ..
                } => {
                    let mut s = head(if *defined {
                        "valuetype"
                    } else {
                        "valuetype(forward)"
                    });
                    let _ = write!(s, " {kind:?}");
                    if !bases.is_empty() {
                        let _ = write!(s, " : {}", self.ids(bases));
                    }
                    if !supports.is_empty() {
                        let _ = write!(s, " supports {}", self.ids(supports));
                    }
                    for f in state {
                        let _ = write!(
                            s,
                            "\n  {} {} {}",
                            if f.public { "public" } else { "private" },
                            self.type_name(&f.ty),
                            f.name
                        );
                    }
                    for o in factories {
                        let _ = write!(s, "\n  factory {}", self.op_text(o));
                    }
                    for o in operations {
                        let _ = write!(s, "\n  {}", self.op_text(o));
                    }
                    s
                }
                DeclKind::ValueBox(t) => format!("{} = {}", head("valuebox"), self.type_name(t)),
                DeclKind::Struct { members, defined } => {
                    let mut s = head(if *defined {
                        "struct"
                    } else {
                        "struct(forward)"
                    });
                    for f in members {
                        let _ = write!(s, "\n  {} {}", self.type_name(&f.ty), f.name);
                    }
                    s
                }
                DeclKind::Exception(members) => {
                    let mut s = head("exception");
                    for f in members {
                        let _ = write!(s, "\n  {} {}", self.type_name(&f.ty), f.name);
                    }
                    s
                }
                DeclKind::Union {
                    discriminator,
                    branches,
                    defined,
                } => {
                    let mut s = head(if *defined { "union" } else { "union(forward)" });
                    let _ = write!(s, " switch({})", self.type_name(discriminator));
                    for b in branches {
                        let labels: Vec<String> = b
                            .labels
                            .iter()
                            .map(|l| match l {
                                Label::Value(v) => self.value_text(v),
                                Label::Default => "default".into(),
                            })
                            .collect();
                        let _ = write!(
                            s,
                            "\n  case {}: {} {}",
                            labels.join(", "),
                            self.type_name(&b.ty),
                            b.name
                        );
                    }
                    s
                }
                DeclKind::Enum(list) => format!("{} {{{}}}", head("enum"), self.ids(list)),
                DeclKind::Enumerator { .. } => continue,
                DeclKind::Alias(t) => format!("{} = {}", head("typedef"), self.type_name(t)),
                DeclKind::Const { ty, value } => format!(
                    "{} : {} = {}",
                    head("const"),
                    self.type_name(ty),
                    self.value_text(value)
                ),
                DeclKind::Native => head("native"),
            };
            out.push_str(&line);
            out.push('\n');
        }
        out
    }

    fn op_text(&self, o: &OperationDef) -> String {
        let params: Vec<String> = o
            .params
            .iter()
            .map(|p| {
                let dir = match p.dir {
                    ParamDir::In => "in",
                    ParamDir::Out => "out",
                    ParamDir::InOut => "inout",
                };
                format!("{dir} {} {}", self.type_name(&p.ty), p.name)
            })
            .collect();
        let ret = o
            .ret
            .as_ref()
            .map_or_else(|| "void".into(), |t| self.type_name(t));
        let mut s = format!(
            "{}{ret} {}({})",
            if o.oneway { "oneway " } else { "" },
            o.name,
            params.join(", ")
        );
        if !o.raises.is_empty() {
            s.push_str(&format!(" raises({})", self.ids(&o.raises)));
        }
        s
    }
}
