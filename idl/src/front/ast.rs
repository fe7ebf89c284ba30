//! The syntax tree produced by the parser, before names are resolved.

use super::diag::Loc;
use super::lexer::Pragma;

/// An identifier and where it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    /// The identifier, without the escaping underscore.
    pub name: String,
    /// Where it starts.
    pub loc: Loc,
}

/// A possibly qualified name such as `::A::B`.
#[derive(Clone, Debug, PartialEq)]
pub struct ScopedName {
    /// Starts with `::`.
    pub absolute: bool,
    /// The components.
    pub parts: Vec<Ident>,
    /// Where it starts.
    pub loc: Loc,
}

impl std::fmt::Display for ScopedName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.absolute {
            f.write_str("::")?;
        }
        for (i, p) in self.parts.iter().enumerate() {
            if i > 0 {
                f.write_str("::")?;
            }
            f.write_str(&p.name)?;
        }
        Ok(())
    }
}

/// Basic (built-in) types.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Hash)]
#[allow(missing_docs)]
pub enum BaseType {
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
}

/// A type as written.
#[derive(Clone, Debug, PartialEq)]
pub enum TypeSpec {
    /// A built-in type.
    Base(BaseType, Loc),
    /// A named type.
    Named(ScopedName),
    /// `sequence<T>` or `sequence<T, N>`.
    Sequence(Box<Self>, Option<Box<Expr>>, Loc),
    /// `string` or `string<N>`.
    String(Option<Box<Expr>>, Loc),
    /// `wstring` or `wstring<N>`.
    WString(Option<Box<Expr>>, Loc),
    /// `fixed<digits, scale>`, or plain `fixed` in a constant type.
    Fixed(Option<(Box<Expr>, Box<Expr>)>, Loc),
    /// A struct, union or enum defined in place.
    Constructed(Box<Definition>),
}

impl TypeSpec {
    /// Where the type starts.
    pub fn loc(&self) -> Loc {
        match self {
            Self::Base(_, l)
            | Self::Sequence(_, _, l)
            | Self::String(_, l)
            | Self::WString(_, l)
            | Self::Fixed(_, l) => *l,
            Self::Named(n) => n.loc,
            Self::Constructed(d) => d.loc,
        }
    }
}

/// A declarator: a name with optional array dimensions.
#[derive(Clone, Debug, PartialEq)]
pub struct Declarator {
    /// The name.
    pub name: Ident,
    /// `[N]` dimensions.
    pub dims: Vec<Expr>,
}

/// Unary operators.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[allow(missing_docs)]
pub enum UnaryOp {
    Neg,
    Plus,
    Not,
}

/// Binary operators.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[allow(missing_docs)]
pub enum BinaryOp {
    Or,
    Xor,
    And,
    Shl,
    Shr,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

/// A constant expression.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where it starts.
    pub loc: Loc,
}

/// The forms of a constant expression.
#[derive(Clone, Debug, PartialEq)]
#[allow(missing_docs)]
pub enum ExprKind {
    Int(u64),
    Float(f64),
    Fixed(String),
    Char(u32),
    WChar(u32),
    String(String),
    WString(String),
    Bool(bool),
    Name(ScopedName),
    Unary(UnaryOp, Box<Expr>),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
}

/// A member of a struct or exception, or a valuetype state member.
#[derive(Clone, Debug, PartialEq)]
pub struct Member {
    /// The type.
    pub ty: TypeSpec,
    /// The names.
    pub declarators: Vec<Declarator>,
    /// For valuetype state members: `public` (true) or `private`.
    pub public: bool,
}

/// A union case label.
#[derive(Clone, Debug, PartialEq)]
pub enum CaseLabel {
    /// `case expr:`
    Value(Expr),
    /// `default:`
    Default(Loc),
}

/// One case of a union.
#[derive(Clone, Debug, PartialEq)]
pub struct UnionCase {
    /// One or more labels.
    pub labels: Vec<CaseLabel>,
    /// The element type.
    pub ty: TypeSpec,
    /// The element name.
    pub declarator: Declarator,
}

/// Parameter direction.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[allow(missing_docs)]
pub enum ParamDir {
    In,
    Out,
    InOut,
}

/// An operation parameter.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    /// Direction.
    pub dir: ParamDir,
    /// Type.
    pub ty: TypeSpec,
    /// Name.
    pub name: Ident,
}

/// An operation.
#[derive(Clone, Debug, PartialEq)]
pub struct Operation {
    /// `oneway`.
    pub oneway: bool,
    /// Return type; `None` for `void`.
    pub ret: Option<TypeSpec>,
    /// Name.
    pub name: Ident,
    /// Parameters.
    pub params: Vec<Param>,
    /// `raises (…)`.
    pub raises: Vec<ScopedName>,
    /// `context (…)`.
    pub context: Vec<String>,
}

/// An attribute declaration (one or more names).
#[derive(Clone, Debug, PartialEq)]
pub struct Attribute {
    /// `readonly`.
    pub readonly: bool,
    /// Type.
    pub ty: TypeSpec,
    /// Names.
    pub names: Vec<Ident>,
    /// `raises` (readonly) or `getraises`.
    pub get_raises: Vec<ScopedName>,
    /// `setraises`.
    pub set_raises: Vec<ScopedName>,
}

/// Kinds of interface.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[allow(missing_docs)]
pub enum InterfaceKind {
    Plain,
    Abstract,
    Local,
}

/// Kinds of valuetype.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[allow(missing_docs)]
pub enum ValueKind {
    Concrete,
    Abstract,
    Custom,
}

/// A definition, with where it starts.
#[derive(Clone, Debug, PartialEq)]
pub struct Definition {
    /// What it is.
    pub kind: DefKind,
    /// Where it starts.
    pub loc: Loc,
}

/// The definitions of IDL.
#[derive(Clone, Debug, PartialEq)]
#[allow(missing_docs)]
pub enum DefKind {
    Module {
        name: Ident,
        body: Vec<Definition>,
    },
    Interface {
        kind: InterfaceKind,
        name: Ident,
        bases: Vec<ScopedName>,
        body: Vec<Definition>,
    },
    InterfaceForward {
        kind: InterfaceKind,
        name: Ident,
    },
    Value {
        kind: ValueKind,
        name: Ident,
        truncatable: bool,
        bases: Vec<ScopedName>,
        supports: Vec<ScopedName>,
        body: Vec<Definition>,
    },
    ValueForward {
        kind: ValueKind,
        name: Ident,
    },
    ValueBox {
        name: Ident,
        ty: TypeSpec,
    },
    StateMember(Member),
    Factory {
        name: Ident,
        params: Vec<Param>,
        raises: Vec<ScopedName>,
    },
    Struct {
        name: Ident,
        members: Vec<Member>,
    },
    StructForward {
        name: Ident,
    },
    Union {
        name: Ident,
        switch: TypeSpec,
        cases: Vec<UnionCase>,
    },
    UnionForward {
        name: Ident,
    },
    Enum {
        name: Ident,
        members: Vec<Ident>,
    },
    Typedef {
        ty: TypeSpec,
        declarators: Vec<Declarator>,
    },
    Native {
        name: Ident,
    },
    Const {
        ty: TypeSpec,
        name: Ident,
        value: Expr,
    },
    Exception {
        name: Ident,
        members: Vec<Member>,
    },
    Attribute(Attribute),
    Operation(Operation),
    TypeId {
        name: ScopedName,
        id: String,
    },
    TypePrefix {
        name: ScopedName,
        prefix: String,
    },
    Import {
        what: String,
    },
    Pragma(Pragma),
}

/// A whole preprocessed specification.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Specification {
    /// The top-level definitions, in order (with pragmas and file markers).
    pub definitions: Vec<Definition>,
}
