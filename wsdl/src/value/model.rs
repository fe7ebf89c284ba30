//! The value tree: what an element of a schema-typed message holds.
//!
//! A [`Value`] is the content of one element (or of one SOAP accessor):
//! nothing (`xsi:nil`), a simple value typed by its built-in root, a
//! complex value with ordered named fields and attributes, a SOAP-encoded
//! array, or raw XML for wildcard (`xs:any`, `xs:anyType`) content.

use crate::qname::QName;
use crate::xsd::builtin::BuiltinType;

/// The content of one element or accessor.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `xsi:nil="true"`: the element is present and has no value.
    Nil,
    /// Character data of a simple type.
    Simple(Simple),
    /// Element content: fields, attributes, and perhaps simple content.
    Complex(Complex),
    /// A SOAP-encoded array (`SOAP-ENC:Array`, SOAP 1.1 section 5.4.2).
    Array(Array),
    /// Wildcard content (`xs:any`, `xs:anyType` without `xsi:type`): one
    /// whole element as self-contained XML (every prefix it uses is
    /// declared on it), kept as received and written back verbatim.
    Raw(String),
}

impl Value {
    /// A string value.
    pub fn string(text: impl Into<String>) -> Self {
        Self::Simple(Simple::String(text.into()))
    }

    /// A signed integer value (for `xs:long`, `xs:int`, `xs:short`,
    /// `xs:byte` and the unbounded integer types when they fit).
    pub fn int(value: i64) -> Self {
        Self::Simple(Simple::Int(value))
    }

    /// A boolean value.
    pub fn boolean(value: bool) -> Self {
        Self::Simple(Simple::Boolean(value))
    }

    /// A complex value with these fields, in order, and nothing else.
    pub fn complex(fields: impl IntoIterator<Item = Field>) -> Self {
        Self::Complex(Complex {
            fields: fields.into_iter().collect(),
            ..Complex::default()
        })
    }

    /// The simple value, if this is one.
    pub fn as_simple(&self) -> Option<&Simple> {
        match self {
            Self::Simple(simple) => Some(simple),
            _ => None,
        }
    }

    /// The complex value, if this is one.
    pub fn as_complex(&self) -> Option<&Complex> {
        match self {
            Self::Complex(complex) => Some(complex),
            _ => None,
        }
    }

    /// The text of a string-like simple value.
    pub fn as_str(&self) -> Option<&str> {
        self.as_simple().and_then(Simple::as_str)
    }

    /// The value of an integer that fits in an `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        match self.as_simple()? {
            Simple::Int(value) => Some(*value),
            Simple::UInt(value) => i64::try_from(*value).ok(),
            _ => None,
        }
    }

    /// The first field named `local` (any namespace) of a complex value.
    pub fn field(&self, local: &str) -> Option<&Self> {
        self.as_complex().and_then(|c| c.field(local))
    }

    /// The items of a SOAP-encoded array.
    pub fn items(&self) -> Option<&[Self]> {
        match self {
            Self::Array(array) => Some(&array.items),
            _ => None,
        }
    }

    /// Tells whether this is `xsi:nil`.
    pub fn is_nil(&self) -> bool {
        matches!(self, Self::Nil)
    }
}

/// One named field of a complex value: an element (or accessor) and its
/// content. Repeated elements are repeated fields, in document order.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The element's expanded name (accessors of rpc style and local
    /// elements of unqualified form have no namespace).
    pub name: QName,
    /// Its content.
    pub value: Value,
}

impl Field {
    /// A field in no namespace (an rpc accessor or an unqualified local
    /// element).
    pub fn unqualified(local: impl Into<String>, value: Value) -> Self {
        Self {
            name: QName::unqualified(local),
            value,
        }
    }

    /// A field with a namespace-qualified name.
    pub fn qualified(namespace: impl Into<String>, local: impl Into<String>, value: Value) -> Self {
        Self {
            name: QName::new(namespace, local),
            value,
        }
    }
}

/// A declared attribute and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    /// The attribute's expanded name.
    pub name: QName,
    /// Its typed value.
    pub value: Simple,
}

/// The value of an element of complex type.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Complex {
    /// The actual type when it is not the declared one: the `xsi:type`
    /// received, or to send (always written in SOAP encoding).
    pub type_name: Option<QName>,
    /// The declared attributes present, in document order.
    pub attributes: Vec<Attribute>,
    /// Attributes matched by an `xs:anyAttribute` wildcard, as text.
    pub any_attributes: Vec<(QName, String)>,
    /// The child elements, in document order.
    pub fields: Vec<Field>,
    /// The character data of a type with simple content.
    pub content: Option<Simple>,
}

impl Complex {
    /// The first field named `local`, in any namespace.
    pub fn field(&self, local: &str) -> Option<&Value> {
        self.fields
            .iter()
            .find(|f| f.name.local == local)
            .map(|f| &f.value)
    }

    /// Every field named `local`, in order (a repeated element).
    pub fn fields_named<'a>(&'a self, local: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.fields
            .iter()
            .filter(move |f| f.name.local == local)
            .map(|f| &f.value)
    }

    /// The attribute named `local`, in any namespace.
    pub fn attribute(&self, local: &str) -> Option<&Simple> {
        self.attributes
            .iter()
            .find(|a| a.name.local == local)
            .map(|a| &a.value)
    }
}

/// A SOAP-encoded array of one dimension.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Array {
    /// The item type from `SOAP-ENC:arrayType` (received), or to announce
    /// (when `None`, the encoder uses the array type's declared item
    /// type).
    pub item_type: Option<QName>,
    /// The items, in order.
    pub items: Vec<Value>,
}

/// A simple value, typed by the built-in root of its simple type.
///
/// Integers of the bounded types are numbers; the unbounded integer types
/// (`xs:integer`, `xs:nonNegativeInteger`…) give [`Simple::Int`] when the
/// value fits an `i64`, [`Simple::UInt`] when it fits a `u64`, and
/// [`Simple::BigInt`] otherwise, so no value is ever rounded.
#[derive(Debug, Clone, PartialEq)]
pub enum Simple {
    /// `xs:string` and the string-like types (`normalizedString`, `token`,
    /// `anyURI`, `language`, `Name`, `NCName`, `ID`, `IDREF`, `ENTITY`,
    /// `NMTOKEN`, `anySimpleType`), after the type's whitespace facet.
    String(String),
    /// `xs:boolean`.
    Boolean(bool),
    /// A signed integer (`xs:long`, `xs:int`, `xs:short`, `xs:byte`, and
    /// the unbounded types when the value fits).
    Int(i64),
    /// An unsigned integer (`xs:unsignedLong` and smaller, and the
    /// unbounded types when the value fits a `u64` but not an `i64`).
    UInt(u64),
    /// An integer that fits neither an `i64` nor a `u64`, in canonical
    /// form (no `+`, no leading zeros).
    BigInt(String),
    /// `xs:decimal`, in canonical form: no `+`, no leading zeros before
    /// the point, no trailing zeros after it, no point for an integral
    /// value, and `0` rather than `-0`.
    Decimal(String),
    /// `xs:float`.
    Float(f32),
    /// `xs:double`.
    Double(f64),
    /// A date, time or duration type (`dateTime`, `date`, `time`,
    /// `duration`, `gYear`…), validated and kept as written (after
    /// whitespace collapsing), with its built-in type.
    Lexical(BuiltinType, String),
    /// `xs:base64Binary` or `xs:hexBinary`, decoded.
    Bytes(Vec<u8>),
    /// `xs:QName` (and `xs:NOTATION`), resolved against the namespaces in
    /// scope.
    QName(QName),
    /// A list type's items (`xs:list`, `xs:NMTOKENS`, `xs:IDREFS`,
    /// `xs:ENTITIES`).
    List(Vec<Self>),
}

impl Simple {
    /// The text of a string-like value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(text) | Self::Lexical(_, text) => Some(text),
            _ => None,
        }
    }
}
