//! The components of an XSD schema set, as the loader builds them.
//!
//! Every QName-valued attribute (`type=`, `ref=`, `base=`,
//! `substitutionGroup=`, `itemType=`, `memberTypes=`) is resolved against
//! the namespaces in scope where it was written, so the model holds
//! expanded [`QName`]s only. References between components are kept by
//! name and looked up in the [`SchemaSet`](super::SchemaSet) when used,
//! which makes recursive types free.

use crate::diagnostic::Location;
use crate::qname::QName;

use super::builtin::WhiteSpace;
use super::pattern::Pattern;

/// A reference to a type definition.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TypeRef {
    /// A named type: a built-in type in the XSD namespace or a global
    /// `simpleType`/`complexType`.
    Named(QName),
    /// An anonymous type, by its index in the schema set.
    Anonymous(usize),
}

/// How many times a particle may occur; `max: None` is `unbounded`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Occurs {
    /// `minOccurs` (default 1).
    pub min: u32,
    /// `maxOccurs`, `None` for `unbounded` (default 1).
    pub max: Option<u32>,
}

impl Occurs {
    /// Exactly once, the default.
    pub const ONCE: Self = Self {
        min: 1,
        max: Some(1),
    };
}

/// An element declaration, global or local.
#[derive(Debug, Clone, PartialEq)]
pub struct ElementDecl {
    /// The element's expanded name (local elements are qualified or not
    /// according to `form`/`elementFormDefault`).
    pub name: QName,
    /// Its type; `None` means the type of the substitution group head, or
    /// `xs:anyType` when there is no head.
    pub type_ref: Option<TypeRef>,
    /// `nillable="true"`.
    pub nillable: bool,
    /// `abstract="true"`: the element may not appear itself, only members
    /// of its substitution group.
    pub is_abstract: bool,
    /// The head of the substitution group this element belongs to.
    pub substitution_group: Option<QName>,
    /// The `default` value constraint.
    pub default: Option<String>,
    /// The `fixed` value constraint.
    pub fixed: Option<String>,
    /// Where the declaration is written.
    pub location: Location,
}

/// The compositor of a model group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compositor {
    /// `xs:sequence`: the particles in order.
    Sequence,
    /// `xs:choice`: one of the particles.
    Choice,
    /// `xs:all`: each particle at most once, in any order.
    All,
}

/// A model group: a compositor and its particles.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelGroup {
    /// How the particles combine.
    pub compositor: Compositor,
    /// The particles, in document order.
    pub particles: Vec<Particle>,
}

/// Which namespaces a wildcard admits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamespaceConstraint {
    /// `##any`.
    Any,
    /// `##other`: any namespace other than the target namespace (and other
    /// than no namespace).
    Other(Option<String>),
    /// A list of namespaces; `None` stands for `##local`.
    List(Vec<Option<String>>),
}

impl NamespaceConstraint {
    /// Tells whether a name in `namespace` is admitted.
    pub fn admits(&self, namespace: Option<&str>) -> bool {
        match self {
            Self::Any => true,
            Self::Other(target) => namespace.is_some() && namespace != target.as_deref(),
            Self::List(list) => list.iter().any(|n| n.as_deref() == namespace),
        }
    }
}

/// `processContents` of a wildcard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProcessContents {
    /// Validate against a declaration, which must exist.
    Strict,
    /// Validate when a declaration exists.
    Lax,
    /// Do not validate; keep as raw XML.
    Skip,
}

/// An `xs:any` or `xs:anyAttribute` wildcard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wildcard {
    /// The admitted namespaces.
    pub namespaces: NamespaceConstraint,
    /// How matched content is validated.
    pub process_contents: ProcessContents,
}

/// What a particle contains.
#[derive(Debug, Clone, PartialEq)]
pub enum Term {
    /// A local element declaration.
    Element(Box<ElementDecl>),
    /// A reference to a global element (`<xs:element ref=…>`).
    ElementRef(QName),
    /// A nested model group.
    Group(ModelGroup),
    /// A reference to a named model group (`<xs:group ref=…>`).
    GroupRef(QName),
    /// An element wildcard.
    Any(Wildcard),
}

/// A term with its occurrence bounds.
#[derive(Debug, Clone, PartialEq)]
pub struct Particle {
    /// `minOccurs`/`maxOccurs`.
    pub occurs: Occurs,
    /// What occurs.
    pub term: Term,
}

/// `use` of an attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttributeUseKind {
    /// `optional` (the default).
    Optional,
    /// `required`.
    Required,
    /// `prohibited`.
    Prohibited,
}

/// An attribute declaration or reference, with its use.
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeUse {
    /// The attribute's expanded name (for a reference, the referenced
    /// global attribute's name).
    pub name: QName,
    /// Whether this is a reference to a global attribute.
    pub is_ref: bool,
    /// The attribute's simple type; `None` for `xs:anySimpleType` or, for
    /// a reference, the global declaration's type.
    pub type_ref: Option<TypeRef>,
    /// `use`.
    pub use_kind: AttributeUseKind,
    /// The `default` value constraint.
    pub default: Option<String>,
    /// The `fixed` value constraint.
    pub fixed: Option<String>,
    /// `wsdl:arrayType` on a reference to `soapenc:arrayType`: the item
    /// type and dimensions of a SOAP-encoded array.
    pub array_type: Option<ArrayType>,
    /// Where it is written.
    pub location: Location,
}

/// The `wsdl:arrayType` of a SOAP-encoded array type, such as
/// `xsd:string[]` or `tns:Point[,][]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArrayType {
    /// The item type.
    pub item: QName,
    /// The rank and size brackets as written, such as `[]` or `[,][]`.
    pub dimensions: String,
}

/// A named attribute group.
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeGroup {
    /// The group's name.
    pub name: QName,
    /// Its attributes.
    pub attributes: Vec<AttributeUse>,
    /// The attribute groups it references.
    pub attribute_groups: Vec<QName>,
    /// Its attribute wildcard.
    pub any_attribute: Option<Wildcard>,
    /// Where it is written.
    pub location: Location,
}

/// A named model group (`<xs:group name=…>`).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupDef {
    /// The group's name.
    pub name: QName,
    /// Its model group (`None` when the definition is empty).
    pub model: Option<ModelGroup>,
    /// Where it is written.
    pub location: Location,
}

/// The constraining facets of a simple type restriction step.
///
/// Several patterns in one step are alternatives (any may match);
/// patterns of different derivation steps must all match.
#[derive(Debug, Clone, Default)]
pub struct Facets {
    /// `enumeration` values, as written.
    pub enumeration: Vec<String>,
    /// `pattern` values, compiled.
    pub patterns: Vec<Pattern>,
    /// `length`.
    pub length: Option<u64>,
    /// `minLength`.
    pub min_length: Option<u64>,
    /// `maxLength`.
    pub max_length: Option<u64>,
    /// `minInclusive`.
    pub min_inclusive: Option<String>,
    /// `maxInclusive`.
    pub max_inclusive: Option<String>,
    /// `minExclusive`.
    pub min_exclusive: Option<String>,
    /// `maxExclusive`.
    pub max_exclusive: Option<String>,
    /// `totalDigits`.
    pub total_digits: Option<u32>,
    /// `fractionDigits`.
    pub fraction_digits: Option<u32>,
    /// `whiteSpace`.
    pub white_space: Option<WhiteSpace>,
}

impl PartialEq for Facets {
    fn eq(&self, other: &Self) -> bool {
        self.enumeration == other.enumeration
            && self.patterns.len() == other.patterns.len()
            && self
                .patterns
                .iter()
                .zip(&other.patterns)
                .all(|(a, b)| a.as_str() == b.as_str())
            && self.length == other.length
            && self.min_length == other.min_length
            && self.max_length == other.max_length
            && self.min_inclusive == other.min_inclusive
            && self.max_inclusive == other.max_inclusive
            && self.min_exclusive == other.min_exclusive
            && self.max_exclusive == other.max_exclusive
            && self.total_digits == other.total_digits
            && self.fraction_digits == other.fraction_digits
            && self.white_space == other.white_space
    }
}

impl Facets {
    /// Tells whether no facet is set.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// The variety of a simple type.
#[derive(Debug, Clone, PartialEq)]
pub enum SimpleVariety {
    /// A restriction of `base` by `facets`.
    Restriction {
        /// The base type.
        base: TypeRef,
        /// The facets added by this step.
        facets: Box<Facets>,
    },
    /// A whitespace-separated list of `item` values.
    List {
        /// The item type.
        item: TypeRef,
    },
    /// A value of any of the member types, tried in order.
    Union {
        /// The member types.
        members: Vec<TypeRef>,
    },
}

/// A simple type definition.
#[derive(Debug, Clone, PartialEq)]
pub struct SimpleType {
    /// The name, `None` for an anonymous type.
    pub name: Option<QName>,
    /// Its variety.
    pub variety: SimpleVariety,
    /// Where it is written.
    pub location: Location,
}

/// How a complex type derives from its base.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Derivation {
    /// `xs:extension`.
    Extension,
    /// `xs:restriction`.
    Restriction,
}

/// The content of a complex type.
#[derive(Debug, Clone, PartialEq)]
pub enum ComplexContent {
    /// Element content (or empty when `particle` is `None`), possibly
    /// derived from a base complex type (`xs:complexContent`).
    Elements {
        /// The derivation and base, when there is one.
        derivation: Option<(Derivation, TypeRef)>,
        /// The particle this type adds (for an extension) or has (for a
        /// restriction or no derivation).
        particle: Option<Particle>,
    },
    /// Character data of a simple type (`xs:simpleContent`).
    Simple {
        /// The derivation.
        derivation: Derivation,
        /// The base type (simple, or complex with simple content).
        base: TypeRef,
        /// Facets of a restriction.
        facets: Facets,
    },
}

/// A complex type definition.
#[derive(Debug, Clone, PartialEq)]
pub struct ComplexType {
    /// The name, `None` for an anonymous type.
    pub name: Option<QName>,
    /// `abstract="true"`.
    pub is_abstract: bool,
    /// `mixed="true"`.
    pub mixed: bool,
    /// The content.
    pub content: ComplexContent,
    /// The attributes this type declares.
    pub attributes: Vec<AttributeUse>,
    /// The attribute groups it references.
    pub attribute_groups: Vec<QName>,
    /// Its attribute wildcard.
    pub any_attribute: Option<Wildcard>,
    /// Where it is written.
    pub location: Location,
}

/// A type definition.
#[derive(Debug, Clone, PartialEq)]
#[expect(
    clippy::large_enum_variant,
    reason = "definitions live in maps, one per type; boxing would only add indirection"
)]
pub enum TypeDef {
    /// A simple type.
    Simple(SimpleType),
    /// A complex type.
    Complex(ComplexType),
}

impl TypeDef {
    /// The type's name, `None` when anonymous.
    pub fn name(&self) -> Option<&QName> {
        match self {
            Self::Simple(t) => t.name.as_ref(),
            Self::Complex(t) => t.name.as_ref(),
        }
    }

    /// Where the type is written.
    pub fn location(&self) -> &Location {
        match self {
            Self::Simple(t) => &t.location,
            Self::Complex(t) => &t.location,
        }
    }
}

/// What kind of component a reference names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ComponentKind {
    /// A type (`type=`, `base=`, `itemType=`, `memberTypes=`).
    Type,
    /// A global element (`ref=`, `substitutionGroup=`, WSDL `element=`).
    Element,
    /// A global attribute.
    Attribute,
    /// A named model group.
    Group,
    /// A named attribute group.
    AttributeGroup,
}

impl ComponentKind {
    /// The kind in words, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Type => "type",
            Self::Element => "element",
            Self::Attribute => "attribute",
            Self::Group => "group",
            Self::AttributeGroup => "attribute group",
        }
    }
}

/// A reference recorded while reading, checked once every document is
/// loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reference {
    pub(crate) kind: ComponentKind,
    pub(crate) name: QName,
    pub(crate) location: Location,
}
