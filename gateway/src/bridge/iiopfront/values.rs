//! Converting values between a GIOP request (dynamic CDR [`Value`]s typed
//! by the IDL that `wsdl_to_idl` derived) and the SOAP message shapes of
//! the WSDL they came from (`ithaca_wsdl` value trees).
//!
//! The walk is driven by both sides at once, after `wsdl_to_idl`'s rules:
//! an IDL struct member is the element of the XSD complex type whose name
//! it is (as `wsdl_to_idl` spells identifiers); an element with
//! `maxOccurs` > 1 or `minOccurs="0"` is a `sequence<T>` /
//! `sequence<T,1>` of its occurrences; a complex type whose one element is
//! a repeated `item` is a sequence or array of those items; an enumeration
//! is an enum (enumerators matched by name); `xs:base64Binary` and
//! `xs:hexBinary` are `sequence<octet>`; an empty complex type is a struct
//! with one member `boolean empty`; an attribute is a struct member after
//! the elements' (`sequence<T,1>` when optional); a complex type that is
//! one `xs:choice` is an IDL union over a generated enum with one case per
//! branch, and a choice inside a sequence is the member `group<i>` of such
//! a union type (`i` its position in the sequence). Wildcards, a choice
//! that is repeated or optional, and groups inside a choice are refused
//! ([`ConvertError::Unsupported`]).
//!
//! Nothing is truncated: a value that does not fit the target type (an
//! IDL `short` into an `xs:byte`, an `xs:integer` beyond 64 bits into an
//! IDL `long long`, a string longer than its bound) is a
//! [`ConvertError::OutOfRange`], which the servant answers with
//! `BAD_PARAM`. The depth of the walk is bounded by [`MAX_DEPTH`].

use bytes::Bytes;
use ithaca_idl::dynamic::{Fixed, TypeCode, Value};
use ithaca_wsdl::QName;
use ithaca_wsdl::value::{Attribute, Complex, Field, Simple, Value as XmlValue};
use ithaca_wsdl::xsd::builtin::BuiltinType;
use ithaca_wsdl::xsd::model::{
    AttributeUseKind, ComplexContent, ComplexType, Compositor, Derivation, ElementDecl, ModelGroup,
    Occurs, Particle, SimpleVariety, Term,
};
use ithaca_wsdl::xsd::{ResolvedType, SchemaSet};

use crate::bridge::mapping::idl_identifier;

/// The deepest nesting of values (and of type derivations) converted.
pub const MAX_DEPTH: usize = 64;

/// Why a value could not be converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    /// The value does not fit the target type (range, bound, facet).
    #[error("{path}: {message}")]
    OutOfRange {
        /// Where in the message.
        path: String,
        /// What does not fit.
        message: String,
    },
    /// The value's shape is not the one the contract gives.
    #[error("{path}: {message}")]
    Mismatch {
        /// Where in the message.
        path: String,
        /// What differs.
        message: String,
    },
    /// A construct the bridge does not convert (wildcards and `any`, a
    /// repeated or optional `xs:choice`, a group inside a choice, simple
    /// content).
    #[error("{path}: not supported by the IIOP front: {message}")]
    Unsupported {
        /// Where in the message.
        path: String,
        /// What.
        message: String,
    },
}

fn out_of_range(path: &str, message: impl Into<String>) -> ConvertError {
    ConvertError::OutOfRange {
        path: path.to_owned(),
        message: message.into(),
    }
}

fn mismatch(path: &str, message: impl Into<String>) -> ConvertError {
    ConvertError::Mismatch {
        path: path.to_owned(),
        message: message.into(),
    }
}

fn unsupported(path: &str, message: impl Into<String>) -> ConvertError {
    ConvertError::Unsupported {
        path: path.to_owned(),
        message: message.into(),
    }
}

/// What an IDL member of a complex type stands for in XML.
#[derive(Clone, Debug, Default)]
pub enum SlotKind<'s> {
    /// A child element (occurring as `occurs` says).
    #[default]
    Element,
    /// An attribute (`occurs.min` 0 when optional).
    Attribute,
    /// An `xs:choice` occurring once: an IDL union whose cases are these
    /// branches (child elements), in order.
    Choice(Vec<ChildElement<'s>>),
}

/// One element a complex type may hold, its bounds and type (or one of
/// its attributes, or a choice of elements: see [`SlotKind`]).
#[derive(Clone, Debug)]
pub struct ChildElement<'s> {
    /// The element's expanded name (a choice's: `group<i>`).
    pub name: QName,
    /// Its type (`None`: `xs:anyType`).
    pub ty: Option<ResolvedType<'s>>,
    /// Its occurrence bounds.
    pub occurs: Occurs,
    /// Element, attribute or choice.
    pub kind: SlotKind<'s>,
}

impl ChildElement<'_> {
    /// Whether the IDL side holds a sequence of its occurrences.
    fn is_repeated(&self) -> bool {
        self.occurs.max != Some(1) || self.occurs.min == 0
    }

    /// Whether it is a plain child element.
    pub fn is_element(&self) -> bool {
        matches!(self.kind, SlotKind::Element)
    }

    /// The IDL identifier of its member or parameter.
    fn idl_name(&self) -> String {
        idl_identifier(&self.name.local)
    }
}

/// Converts values for one WSDL's schema.
#[derive(Clone, Copy, Debug)]
pub struct Converter<'s> {
    schema: &'s SchemaSet,
}

impl<'s> Converter<'s> {
    /// A converter for the types of `schema`.
    pub fn new(schema: &'s SchemaSet) -> Self {
        Self { schema }
    }

    /// The type of an element declaration.
    pub fn element_type(&self, decl: &'s ElementDecl) -> Option<ResolvedType<'s>> {
        match &decl.type_ref {
            Some(type_ref) => self.schema.resolve_type(type_ref),
            None => Some(ResolvedType::AnyType),
        }
    }

    /// The elements of a complex type, base type's first, nested sequences
    /// flattened (`wsdl_to_idl`'s struct members, in order).
    pub fn children(
        &self,
        ty: Option<ResolvedType<'s>>,
        path: &str,
    ) -> Result<Vec<ChildElement<'s>>, ConvertError> {
        let mut out = Vec::new();
        if let Some(ResolvedType::Complex(complex)) = ty {
            self.complex_children(complex, &mut out, path, 0)?;
        }
        Ok(out)
    }

    fn complex_children(
        &self,
        complex: &'s ComplexType,
        out: &mut Vec<ChildElement<'s>>,
        path: &str,
        depth: usize,
    ) -> Result<(), ConvertError> {
        if depth > MAX_DEPTH {
            return Err(out_of_range(path, "the type derivation is too deep"));
        }
        let ComplexContent::Elements {
            derivation,
            particle,
        } = &complex.content
        else {
            return Err(unsupported(path, "types with simple content"));
        };
        if let Some((Derivation::Extension, base)) = derivation
            && let Some(ResolvedType::Complex(base)) = self.schema.resolve_type(base)
        {
            self.complex_children(base, out, path, depth + 1)?;
        }
        if let Some(particle) = particle {
            self.particle_children(particle, Occurs::ONCE, 0, out, path, depth + 1)?;
        }
        let groups = complex
            .attribute_groups
            .iter()
            .filter_map(|name| self.schema.attribute_group(name))
            .flat_map(|group| group.attributes.iter());
        for attribute in complex.attributes.iter().chain(groups) {
            if attribute.use_kind == AttributeUseKind::Prohibited {
                continue;
            }
            let type_ref = match (&attribute.type_ref, attribute.is_ref) {
                (Some(type_ref), _) => Some(type_ref),
                (None, true) => self
                    .schema
                    .attribute(&attribute.name)
                    .and_then(|global| global.type_ref.as_ref()),
                (None, false) => None,
            };
            out.push(ChildElement {
                name: attribute.name.clone(),
                ty: type_ref.and_then(|t| self.schema.resolve_type(t)),
                occurs: Occurs {
                    min: u32::from(attribute.use_kind == AttributeUseKind::Required),
                    max: Some(1),
                },
                kind: SlotKind::Attribute,
            });
        }
        Ok(())
    }

    /// The first construct under the type `ty` (of an element at `path`)
    /// that the conversions refuse: a wildcard, `xs:anyType` (IDL `any`),
    /// a repeated or optional choice, a group inside a choice, simple
    /// content. `seen` holds the complex types already walked (recursive
    /// types are walked once).
    pub fn check_type(
        &self,
        ty: Option<ResolvedType<'s>>,
        path: &str,
        seen: &mut Vec<*const ComplexType>,
        depth: usize,
    ) -> Result<(), ConvertError> {
        if depth > MAX_DEPTH {
            return Err(out_of_range(path, "the type is nested too deeply"));
        }
        let complex = match ty {
            Some(ResolvedType::AnyType) => {
                return Err(unsupported(path, "xs:anyType (IDL any)"));
            }
            Some(ResolvedType::Complex(complex)) => complex,
            _ => return Ok(()),
        };
        let key: *const ComplexType = complex;
        if seen.contains(&key) {
            return Ok(());
        }
        seen.push(key);
        for child in self.children(ty, path)? {
            match &child.kind {
                SlotKind::Attribute => {}
                SlotKind::Element => {
                    let path = format!("{path}/{}", child.name.local);
                    self.check_type(child.ty, &path, seen, depth + 1)?;
                }
                SlotKind::Choice(branches) => {
                    for branch in branches {
                        let path = format!("{path}/{}", branch.name.local);
                        self.check_type(branch.ty, &path, seen, depth + 1)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// The branches of a complex type that is one `xs:choice` (what
    /// `wsdl_to_idl` maps to a union), or `None`.
    pub fn top_choice(
        &self,
        ty: Option<ResolvedType<'s>>,
        path: &str,
    ) -> Result<Option<Vec<ChildElement<'s>>>, ConvertError> {
        let Some(ResolvedType::Complex(complex)) = ty else {
            return Ok(None);
        };
        if let ComplexContent::Elements {
            derivation: None,
            particle:
                Some(Particle {
                    occurs: Occurs::ONCE,
                    term: Term::Group(group),
                }),
        } = &complex.content
            && group.compositor == Compositor::Choice
            && complex.attributes.is_empty()
        {
            return self.choice_branches(group, path).map(Some);
        }
        Ok(None)
    }

    /// The branches of a choice: elements only.
    fn choice_branches(
        &self,
        group: &'s ModelGroup,
        path: &str,
    ) -> Result<Vec<ChildElement<'s>>, ConvertError> {
        let mut branches = Vec::with_capacity(group.particles.len());
        for particle in &group.particles {
            let decl = match &particle.term {
                Term::Element(decl) => decl,
                Term::ElementRef(name) => self
                    .schema
                    .element(name)
                    .ok_or_else(|| mismatch(path, format!("no element {name} is declared")))?,
                Term::Any(_) => return Err(unsupported(path, "element wildcards (xs:any)")),
                Term::Group(_) | Term::GroupRef(_) => {
                    return Err(unsupported(path, "a group inside an xs:choice"));
                }
            };
            branches.push(ChildElement {
                name: decl.name.clone(),
                ty: self.element_type(decl),
                occurs: particle.occurs,
                kind: SlotKind::Element,
            });
        }
        Ok(branches)
    }

    fn particle_children(
        &self,
        particle: &'s Particle,
        outer: Occurs,
        index: usize,
        out: &mut Vec<ChildElement<'s>>,
        path: &str,
        depth: usize,
    ) -> Result<(), ConvertError> {
        if depth > MAX_DEPTH {
            return Err(out_of_range(path, "the content model is too deep"));
        }
        let occurs = Occurs {
            min: particle.occurs.min.min(outer.min),
            max: match (particle.occurs.max, outer.max) {
                (Some(1), other) | (other, Some(1)) => other,
                _ => None,
            },
        };
        let group = match &particle.term {
            Term::Element(decl) => {
                out.push(ChildElement {
                    name: decl.name.clone(),
                    ty: self.element_type(decl),
                    occurs,
                    kind: SlotKind::Element,
                });
                return Ok(());
            }
            Term::ElementRef(name) => {
                let decl = self
                    .schema
                    .element(name)
                    .ok_or_else(|| mismatch(path, format!("no element {name} is declared")))?;
                out.push(ChildElement {
                    name: decl.name.clone(),
                    ty: self.element_type(decl),
                    occurs,
                    kind: SlotKind::Element,
                });
                return Ok(());
            }
            Term::Group(group) => group,
            Term::GroupRef(name) => self
                .schema
                .group(name)
                .and_then(|g| g.model.as_ref())
                .ok_or_else(|| mismatch(path, format!("no group {name} is declared")))?,
            Term::Any(_) => return Err(unsupported(path, "element wildcards (xs:any)")),
        };
        if group.compositor == Compositor::Choice {
            if occurs != Occurs::ONCE {
                return Err(unsupported(path, "a repeated or optional xs:choice"));
            }
            out.push(ChildElement {
                name: QName::unqualified(format!("group{index}")),
                ty: None,
                occurs,
                kind: SlotKind::Choice(self.choice_branches(group, path)?),
            });
            return Ok(());
        }
        for (index, particle) in group.particles.iter().enumerate() {
            self.particle_children(particle, occurs, index, out, path, depth + 1)?;
        }
        Ok(())
    }

    /// The element of `children` that the IDL member or parameter `name`
    /// stands for.
    pub fn child<'c>(children: &'c [ChildElement<'s>], name: &str) -> Option<&'c ChildElement<'s>> {
        children
            .iter()
            .find(|c| c.name.local == name)
            .or_else(|| children.iter().find(|c| c.idl_name() == name))
    }

    // ---- IDL to XML --------------------------------------------------

    /// The fields of a complex value holding `members` (IDL names, types,
    /// values), for an element whose type has `children` (elements and
    /// choices only: a message's parameters).
    pub fn fields_to_xml(
        &self,
        children: &[ChildElement<'s>],
        members: &[(&str, &TypeCode, &Value)],
        path: &str,
        depth: usize,
    ) -> Result<Vec<Field>, ConvertError> {
        let complex = self.complex_to_xml(children, members, path, depth)?;
        if let Some(attribute) = complex.attributes.first() {
            return Err(mismatch(
                path,
                format!("the attribute {} is not a parameter", attribute.name.local),
            ));
        }
        Ok(complex.fields)
    }

    /// The complex value (child elements and attributes) holding `members`
    /// (IDL names, types, values), for an element whose type has
    /// `children`.
    pub fn complex_to_xml(
        &self,
        children: &[ChildElement<'s>],
        members: &[(&str, &TypeCode, &Value)],
        path: &str,
        depth: usize,
    ) -> Result<Complex, ConvertError> {
        let mut fields = Vec::with_capacity(members.len());
        let mut attributes = Vec::new();
        for child in children {
            let idl_name = child.idl_name();
            let Some((_, tc, value)) = members
                .iter()
                .find(|(name, _, _)| *name == child.name.local || *name == idl_name)
            else {
                return Err(mismatch(
                    path,
                    format!("no IDL member for the element {}", child.name.local),
                ));
            };
            let child_path = format!("{path}/{}", child.name.local);
            if let SlotKind::Choice(branches) = &child.kind {
                fields.extend(self.union_to_fields(branches, tc, value, &child_path, depth + 1)?);
                continue;
            }
            if matches!(child.kind, SlotKind::Attribute) {
                let one = if child.is_repeated() {
                    let mut items = sequence_items(tc, value, &child_path)?;
                    if items.len() > 1 {
                        return Err(out_of_range(&child_path, "an attribute occurs once"));
                    }
                    if items.is_empty() && child.occurs.min > 0 {
                        return Err(out_of_range(&child_path, "a required attribute is missing"));
                    }
                    items.pop()
                } else {
                    Some(((*tc).clone(), (*value).clone()))
                };
                if let Some((tc, value)) = one {
                    let XmlValue::Simple(simple) =
                        self.to_xml(&tc, &value, child.ty, &child_path, depth + 1)?
                    else {
                        return Err(mismatch(&child_path, "an attribute needs a simple value"));
                    };
                    attributes.push(Attribute {
                        name: child.name.clone(),
                        value: simple,
                    });
                }
                continue;
            }
            if child.is_repeated() {
                let items = sequence_items(tc, value, &child_path)?;
                if items.len() < child.occurs.min as usize {
                    return Err(out_of_range(
                        &child_path,
                        format!(
                            "{} values given, at least {} needed",
                            items.len(),
                            child.occurs.min
                        ),
                    ));
                }
                if let Some(max) = child.occurs.max
                    && items.len() > max as usize
                {
                    return Err(out_of_range(
                        &child_path,
                        format!("{} values given, at most {max} allowed", items.len()),
                    ));
                }
                for (item_tc, item) in items {
                    fields.push(Field {
                        name: child.name.clone(),
                        value: self.to_xml(&item_tc, &item, child.ty, &child_path, depth + 1)?,
                    });
                }
            } else {
                fields.push(Field {
                    name: child.name.clone(),
                    value: self.to_xml(tc, value, child.ty, &child_path, depth + 1)?,
                });
            }
        }
        Ok(Complex {
            attributes,
            fields,
            ..Complex::default()
        })
    }

    /// The element(s) of the branch an IDL union value selects.
    fn union_to_fields(
        &self,
        branches: &[ChildElement<'s>],
        tc: &TypeCode,
        value: &Value,
        path: &str,
        depth: usize,
    ) -> Result<Vec<Field>, ConvertError> {
        let TypeCode::Union { cases, .. } = tc.unalias() else {
            return Err(mismatch(path, "an xs:choice needs an IDL union"));
        };
        let Value::Union {
            discriminator,
            member,
        } = value
        else {
            return Err(mismatch(path, "expected an IDL union value"));
        };
        let case = cases
            .iter()
            .find(|c| c.label.as_ref() == Some(discriminator.as_ref()))
            .or_else(|| cases.iter().find(|c| c.label.is_none()))
            .ok_or_else(|| out_of_range(path, "the discriminator selects no branch"))?;
        let member = member
            .as_deref()
            .ok_or_else(|| mismatch(path, "the union value has no member"))?;
        let branch = Self::child(branches, &case.name)
            .ok_or_else(|| mismatch(path, format!("no branch for the case {}", case.name)))?;
        let complex = self.complex_to_xml(
            std::slice::from_ref(branch),
            &[(case.name.as_str(), &case.ty, member)],
            path,
            depth,
        )?;
        Ok(complex.fields)
    }

    /// The IDL union value of the choice whose `branches` are among the
    /// elements of `complex`.
    fn union_from_fields(
        &self,
        branches: &[ChildElement<'s>],
        tc: &TypeCode,
        complex: &Complex,
        path: &str,
        depth: usize,
    ) -> Result<Value, ConvertError> {
        let TypeCode::Union { cases, .. } = tc.unalias() else {
            return Err(mismatch(path, "an xs:choice needs an IDL union"));
        };
        // The branch whose element is there, or else one that may be empty.
        let branch = complex
            .fields
            .iter()
            .find_map(|f| branches.iter().find(|b| b.name.local == f.name.local))
            .or_else(|| branches.iter().find(|b| b.occurs.min == 0))
            .ok_or_else(|| mismatch(path, "no element of the xs:choice is present"))?;
        let idl_name = branch.idl_name();
        let case = cases
            .iter()
            .find(|c| c.name == branch.name.local || c.name == idl_name)
            .ok_or_else(|| {
                mismatch(
                    path,
                    format!("no union case for the element {}", branch.name.local),
                )
            })?;
        let discriminator = case
            .label
            .clone()
            .ok_or_else(|| mismatch(path, "a choice branch needs a case label"))?;
        let mut values = self.fields_from_xml(
            std::slice::from_ref(branch),
            &[(case.name.as_str(), &case.ty)],
            complex,
            path,
            depth,
        )?;
        let member = values
            .pop()
            .ok_or_else(|| mismatch(path, "the branch has no value"))?;
        Ok(Value::Union {
            discriminator: Box::new(discriminator),
            member: Some(Box::new(member)),
        })
    }

    /// One IDL value as the content of an element of type `ty`.
    pub fn to_xml(
        &self,
        tc: &TypeCode,
        value: &Value,
        ty: Option<ResolvedType<'s>>,
        path: &str,
        depth: usize,
    ) -> Result<XmlValue, ConvertError> {
        if depth > MAX_DEPTH {
            return Err(out_of_range(path, "the value is nested too deeply"));
        }
        let tc = tc.unalias();
        let simple = |s: Simple| Ok(XmlValue::Simple(s));
        match (tc, value) {
            (
                TypeCode::Struct { members, .. } | TypeCode::Except { members, .. },
                Value::Struct(values),
            ) => {
                let children = self.children(ty, path)?;
                if children.is_empty() {
                    return Ok(XmlValue::complex([]));
                }
                let named: Vec<(&str, &TypeCode, &Value)> = members
                    .iter()
                    .zip(values)
                    .map(|(m, (_, v))| (m.name.as_str(), &m.ty, v))
                    .collect();
                Ok(XmlValue::Complex(
                    self.complex_to_xml(&children, &named, path, depth)?,
                ))
            }
            (TypeCode::Union { .. }, Value::Union { .. }) => {
                let branches = self
                    .top_choice(ty, path)?
                    .ok_or_else(|| mismatch(path, "an IDL union needs an xs:choice type"))?;
                Ok(XmlValue::complex(
                    self.union_to_fields(&branches, tc, value, path, depth)?,
                ))
            }
            (TypeCode::Sequence { element, .. } | TypeCode::Array { element, .. }, _)
                if element.unalias() == &TypeCode::Octet && is_binary(self.schema, ty) =>
            {
                match value {
                    Value::Octets(bytes) => simple(Simple::Bytes(bytes.to_vec())),
                    Value::Sequence(items) | Value::Array(items) => simple(Simple::Bytes(
                        items
                            .iter()
                            .map(|v| match v {
                                Value::Octet(b) => Ok(*b),
                                _ => Err(mismatch(path, "an octet sequence holds a non-octet")),
                            })
                            .collect::<Result<_, _>>()?,
                    )),
                    _ => Err(mismatch(path, "expected an octet sequence")),
                }
            }
            (TypeCode::Sequence { .. } | TypeCode::Array { .. }, _) => {
                let children = self.children(ty, path)?;
                let [item] = children.as_slice() else {
                    return Err(mismatch(
                        path,
                        "a sequence needs a type whose one element is a repeated item",
                    ));
                };
                let named = [(item.name.local.as_str(), tc, value)];
                Ok(XmlValue::complex(self.fields_to_xml(
                    std::slice::from_ref(item),
                    &named,
                    path,
                    depth,
                )?))
            }
            (TypeCode::Enum { members, .. }, Value::Enum(index)) => {
                let name = members.get(*index as usize).ok_or_else(|| {
                    out_of_range(path, format!("enumerator {index} does not exist"))
                })?;
                let text = enumeration_values(self.schema, ty)
                    .into_iter()
                    .find(|v| v == name || idl_identifier(v) == *name)
                    .unwrap_or_else(|| name.clone());
                simple(Simple::String(text))
            }
            (_, Value::Short(v)) => simple(Simple::Int(i64::from(*v))),
            (_, Value::Long(v)) => simple(Simple::Int(i64::from(*v))),
            (_, Value::LongLong(v)) => simple(Simple::Int(*v)),
            (_, Value::UShort(v)) => simple(Simple::UInt(u64::from(*v))),
            (_, Value::ULong(v)) => simple(Simple::UInt(u64::from(*v))),
            (_, Value::ULongLong(v)) => simple(Simple::UInt(*v)),
            (_, Value::Octet(v)) => simple(Simple::UInt(u64::from(*v))),
            (_, Value::Boolean(v)) => simple(Simple::Boolean(*v)),
            (_, Value::Float(v)) => simple(Simple::Float(*v)),
            (_, Value::Double(v)) => simple(Simple::Double(*v)),
            (_, Value::String(s) | Value::WString(s)) => simple(Simple::String(s.clone())),
            (_, Value::Char(c) | Value::WChar(c)) => simple(Simple::String(c.to_string())),
            (_, Value::Fixed(f)) => simple(Simple::Decimal(f.to_string())),
            (_, Value::ObjRef(ior)) => {
                let text = ior
                    .to_ior_string(ithaca_idl::cdr::ByteOrder::BigEndian)
                    .map_err(|e| mismatch(path, e.to_string()))?;
                Ok(XmlValue::complex([Field::unqualified(
                    "url",
                    XmlValue::string(text),
                )]))
            }
            (_, other) => Err(unsupported(
                path,
                format!("IDL values of kind {}", other.kind_name()),
            )),
        }
    }

    // ---- XML to IDL --------------------------------------------------

    /// The IDL values of `members` (names and types) read from a complex
    /// value whose type has `children`.
    pub fn fields_from_xml(
        &self,
        children: &[ChildElement<'s>],
        members: &[(&str, &TypeCode)],
        complex: &Complex,
        path: &str,
        depth: usize,
    ) -> Result<Vec<Value>, ConvertError> {
        let mut out = Vec::with_capacity(members.len());
        for (name, tc) in members {
            let Some(child) = Self::child(children, name) else {
                if children.is_empty() && *name == "empty" {
                    out.push(Value::Boolean(false));
                    continue;
                }
                return Err(mismatch(
                    path,
                    format!("no element for the IDL member {name}"),
                ));
            };
            let child_path = format!("{path}/{}", child.name.local);
            if let SlotKind::Choice(branches) = &child.kind {
                out.push(self.union_from_fields(branches, tc, complex, &child_path, depth + 1)?);
                continue;
            }
            let attributes: Vec<XmlValue>;
            let found: Vec<&XmlValue> = if matches!(child.kind, SlotKind::Attribute) {
                attributes = complex
                    .attributes
                    .iter()
                    .filter(|a| a.name.local == child.name.local)
                    .map(|a| XmlValue::Simple(a.value.clone()))
                    .collect();
                attributes.iter().collect()
            } else {
                complex
                    .fields
                    .iter()
                    .filter(|f| f.name.local == child.name.local)
                    .map(|f| &f.value)
                    .collect()
            };
            if child.is_repeated() {
                let (element, bound, fixed) = match tc.unalias() {
                    TypeCode::Sequence { element, bound } => (element.as_ref(), *bound, false),
                    TypeCode::Array { element, length } => (element.as_ref(), *length, true),
                    _ => return Err(mismatch(&child_path, "a repeated element needs a sequence")),
                };
                if (bound != 0 && found.len() > bound as usize)
                    || (fixed && found.len() != bound as usize)
                {
                    return Err(out_of_range(
                        &child_path,
                        format!("{} occurrences do not fit the bound {bound}", found.len()),
                    ));
                }
                let items = found
                    .into_iter()
                    .map(|v| self.from_xml(element, v, child.ty, &child_path, depth + 1))
                    .collect::<Result<Vec<_>, _>>()?;
                out.push(if fixed {
                    Value::Array(items)
                } else {
                    Value::Sequence(items)
                });
            } else {
                let [value] = found.as_slice() else {
                    return Err(mismatch(
                        &child_path,
                        format!("expected one element, found {}", found.len()),
                    ));
                };
                out.push(self.from_xml(tc, value, child.ty, &child_path, depth + 1)?);
            }
        }
        Ok(out)
    }

    /// One element's content as an IDL value of type `tc`.
    pub fn from_xml(
        &self,
        tc: &TypeCode,
        value: &XmlValue,
        ty: Option<ResolvedType<'s>>,
        path: &str,
        depth: usize,
    ) -> Result<Value, ConvertError> {
        if depth > MAX_DEPTH {
            return Err(out_of_range(path, "the value is nested too deeply"));
        }
        let tc = tc.unalias();
        match tc {
            TypeCode::Struct { members, .. } | TypeCode::Except { members, .. } => {
                let empty = Complex::default();
                let complex = match value {
                    XmlValue::Complex(complex) => complex,
                    XmlValue::Nil => &empty,
                    _ => return Err(mismatch(path, "expected element content")),
                };
                let children = self.children(ty, path)?;
                let named: Vec<(&str, &TypeCode)> =
                    members.iter().map(|m| (m.name.as_str(), &m.ty)).collect();
                let values = self.fields_from_xml(&children, &named, complex, path, depth)?;
                Ok(Value::Struct(
                    members.iter().map(|m| m.name.clone()).zip(values).collect(),
                ))
            }
            TypeCode::Union { .. } => {
                let empty = Complex::default();
                let complex = match value {
                    XmlValue::Complex(complex) => complex,
                    XmlValue::Nil => &empty,
                    _ => return Err(mismatch(path, "expected element content")),
                };
                let branches = self
                    .top_choice(ty, path)?
                    .ok_or_else(|| mismatch(path, "an IDL union needs an xs:choice type"))?;
                self.union_from_fields(&branches, tc, complex, path, depth)
            }
            TypeCode::Sequence { element, bound } if element.unalias() == &TypeCode::Octet => {
                match value {
                    XmlValue::Simple(Simple::Bytes(bytes)) => {
                        if *bound != 0 && bytes.len() > *bound as usize {
                            return Err(out_of_range(
                                path,
                                format!("{} octets exceed the bound {bound}", bytes.len()),
                            ));
                        }
                        Ok(Value::Octets(Bytes::copy_from_slice(bytes)))
                    }
                    _ => self.items_from_xml(tc, value, ty, path, depth),
                }
            }
            TypeCode::Sequence { .. } | TypeCode::Array { .. } => {
                self.items_from_xml(tc, value, ty, path, depth)
            }
            TypeCode::Enum { members, .. } => {
                let text = simple_text(value, path)?;
                members
                    .iter()
                    .position(|m| m == text || *m == idl_identifier(text))
                    .and_then(|i| u32::try_from(i).ok())
                    .map(Value::Enum)
                    .ok_or_else(|| out_of_range(path, format!("{text:?} is not an enumerator")))
            }
            TypeCode::ObjRef { .. } => {
                let url = match value {
                    XmlValue::Complex(c) => c.field("url").and_then(XmlValue::as_str),
                    _ => None,
                }
                .ok_or_else(|| mismatch(path, "expected an object reference (url)"))?;
                ithaca_idl::ior::Ior::from_ior_string(url)
                    .map(Value::ObjRef)
                    .map_err(|e| out_of_range(path, e.to_string()))
            }
            _ => self.simple_from_xml(tc, value, path),
        }
    }

    fn items_from_xml(
        &self,
        tc: &TypeCode,
        value: &XmlValue,
        ty: Option<ResolvedType<'s>>,
        path: &str,
        depth: usize,
    ) -> Result<Value, ConvertError> {
        let children = self.children(ty, path)?;
        let [item] = children.as_slice() else {
            return Err(mismatch(
                path,
                "a sequence needs a type whose one element is a repeated item",
            ));
        };
        let empty = Complex::default();
        let complex = match value {
            XmlValue::Complex(complex) => complex,
            XmlValue::Nil => &empty,
            _ => return Err(mismatch(path, "expected item elements")),
        };
        let mut values = self.fields_from_xml(
            std::slice::from_ref(item),
            &[(item.name.local.as_str(), tc)],
            complex,
            path,
            depth,
        )?;
        values
            .pop()
            .ok_or_else(|| mismatch(path, "expected item elements"))
    }

    fn simple_from_xml(
        &self,
        tc: &TypeCode,
        value: &XmlValue,
        path: &str,
    ) -> Result<Value, ConvertError> {
        let XmlValue::Simple(simple) = value else {
            return Err(mismatch(
                path,
                format!("expected a simple value for IDL {}", tc_name(tc)),
            ));
        };
        let range = |what: &dyn std::fmt::Display| {
            out_of_range(path, format!("{what} does not fit IDL {}", tc_name(tc)))
        };
        let int: Option<i128> = match simple {
            Simple::Int(v) => Some(i128::from(*v)),
            Simple::UInt(v) => Some(i128::from(*v)),
            _ => None,
        };
        if let Some(v) = int {
            return match tc {
                TypeCode::Short => i16::try_from(v).map(Value::Short).map_err(|_| range(&v)),
                TypeCode::Long => i32::try_from(v).map(Value::Long).map_err(|_| range(&v)),
                TypeCode::LongLong => i64::try_from(v).map(Value::LongLong).map_err(|_| range(&v)),
                TypeCode::UShort => u16::try_from(v).map(Value::UShort).map_err(|_| range(&v)),
                TypeCode::ULong => u32::try_from(v).map(Value::ULong).map_err(|_| range(&v)),
                TypeCode::ULongLong => u64::try_from(v)
                    .map(Value::ULongLong)
                    .map_err(|_| range(&v)),
                TypeCode::Octet => u8::try_from(v).map(Value::Octet).map_err(|_| range(&v)),
                TypeCode::Fixed { digits, scale } => {
                    fixed_value(&v.to_string(), *digits, *scale).ok_or_else(|| range(&v))
                }
                _ => Err(mismatch(
                    path,
                    format!("an integer for IDL {}", tc_name(tc)),
                )),
            };
        }
        match (tc, simple) {
            (_, Simple::BigInt(text)) => Err(range(text)),
            (TypeCode::Boolean, Simple::Boolean(b)) => Ok(Value::Boolean(*b)),
            (TypeCode::Float, Simple::Float(f)) => Ok(Value::Float(*f)),
            (TypeCode::Double, Simple::Double(f)) => Ok(Value::Double(*f)),
            (TypeCode::Double, Simple::Float(f)) => Ok(Value::Double(f64::from(*f))),
            (TypeCode::Fixed { digits, scale }, Simple::Decimal(text)) => {
                fixed_value(text, *digits, *scale).ok_or_else(|| range(text))
            }
            (TypeCode::String(bound) | TypeCode::WString(bound), _) => {
                let text = simple_string(simple)
                    .ok_or_else(|| mismatch(path, format!("a string for IDL {}", tc_name(tc))))?;
                if *bound != 0 && text.chars().count() > *bound as usize {
                    return Err(range(&format!(
                        "a string of {} characters",
                        text.chars().count()
                    )));
                }
                Ok(match tc {
                    TypeCode::String(_) => Value::String(text),
                    _ => Value::WString(text),
                })
            }
            (TypeCode::Char | TypeCode::WChar, _) => {
                let text = simple_string(simple).unwrap_or_default();
                let mut chars = text.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) if matches!(tc, TypeCode::Char) => Ok(Value::Char(c)),
                    (Some(c), None) => Ok(Value::WChar(c)),
                    _ => Err(range(&format!("{text:?}"))),
                }
            }
            _ => Err(mismatch(
                path,
                format!("an XML {} for IDL {}", simple_kind(simple), tc_name(tc)),
            )),
        }
    }
}

/// The elements of an IDL sequence or array value, with their type.
fn sequence_items(
    tc: &TypeCode,
    value: &Value,
    path: &str,
) -> Result<Vec<(TypeCode, Value)>, ConvertError> {
    let element = match tc.unalias() {
        TypeCode::Sequence { element, .. } | TypeCode::Array { element, .. } => element.as_ref(),
        _ => return Err(mismatch(path, "a repeated element needs an IDL sequence")),
    };
    match value {
        Value::Sequence(items) | Value::Array(items) => Ok(items
            .iter()
            .map(|item| (element.clone(), item.clone()))
            .collect()),
        Value::Octets(bytes) => Ok(bytes
            .iter()
            .map(|b| (TypeCode::Octet, Value::Octet(*b)))
            .collect()),
        _ => Err(mismatch(path, "expected an IDL sequence")),
    }
}

fn fixed_value(text: &str, digits: u16, scale: i16) -> Option<Value> {
    let fixed = Fixed::parse(text)?;
    let scale = u16::try_from(scale).ok()?;
    if fixed.scale > scale {
        return None;
    }
    let integral = fixed.digits.len().saturating_sub(usize::from(fixed.scale));
    if fixed.digits != "0" && integral > usize::from(digits.saturating_sub(scale)) {
        return None;
    }
    Some(Value::Fixed(fixed))
}

fn simple_text<'v>(value: &'v XmlValue, path: &str) -> Result<&'v str, ConvertError> {
    value
        .as_str()
        .ok_or_else(|| mismatch(path, "expected text"))
}

fn simple_string(simple: &Simple) -> Option<String> {
    match simple {
        Simple::String(s) | Simple::Lexical(_, s) | Simple::Decimal(s) | Simple::BigInt(s) => {
            Some(s.clone())
        }
        Simple::QName(q) => Some(q.local.clone()),
        _ => None,
    }
}

fn simple_kind(simple: &Simple) -> &'static str {
    match simple {
        Simple::String(_) => "string",
        Simple::Boolean(_) => "boolean",
        Simple::Int(_) | Simple::UInt(_) | Simple::BigInt(_) => "integer",
        Simple::Decimal(_) => "decimal",
        Simple::Float(_) | Simple::Double(_) => "floating-point number",
        Simple::Lexical(..) => "date or duration",
        Simple::Bytes(_) => "binary value",
        Simple::QName(_) => "QName",
        Simple::List(_) => "list",
    }
}

fn tc_name(tc: &TypeCode) -> &'static str {
    match tc {
        TypeCode::Short => "short",
        TypeCode::Long => "long",
        TypeCode::LongLong => "long long",
        TypeCode::UShort => "unsigned short",
        TypeCode::ULong => "unsigned long",
        TypeCode::ULongLong => "unsigned long long",
        TypeCode::Octet => "octet",
        TypeCode::Boolean => "boolean",
        TypeCode::Float => "float",
        TypeCode::Double => "double",
        TypeCode::Fixed { .. } => "fixed",
        TypeCode::String(_) => "string",
        TypeCode::WString(_) => "wstring",
        TypeCode::Char => "char",
        TypeCode::WChar => "wchar",
        _ => "value",
    }
}

/// Whether `ty` is (derived from) `xs:base64Binary` or `xs:hexBinary`.
fn is_binary<'s>(schema: &'s SchemaSet, ty: Option<ResolvedType<'s>>) -> bool {
    matches!(
        builtin_root(schema, ty),
        Some(BuiltinType::Base64Binary | BuiltinType::HexBinary)
    )
}

/// The built-in type a simple type derives from.
fn builtin_root<'s>(
    schema: &'s SchemaSet,
    mut ty: Option<ResolvedType<'s>>,
) -> Option<BuiltinType> {
    for _ in 0..MAX_DEPTH {
        match ty? {
            ResolvedType::Builtin(builtin) => return Some(builtin),
            ResolvedType::Simple(simple) => match &simple.variety {
                SimpleVariety::Restriction { base, .. } => ty = schema.resolve_type(base),
                _ => return None,
            },
            _ => return None,
        }
    }
    None
}

/// The `enumeration` values of a simple type (and of its bases).
fn enumeration_values<'s>(schema: &'s SchemaSet, mut ty: Option<ResolvedType<'s>>) -> Vec<String> {
    for _ in 0..MAX_DEPTH {
        let Some(ResolvedType::Simple(simple)) = ty else {
            return Vec::new();
        };
        let SimpleVariety::Restriction { base, facets } = &simple.variety else {
            return Vec::new();
        };
        if !facets.enumeration.is_empty() {
            return facets.enumeration.clone();
        }
        ty = schema.resolve_type(base);
    }
    Vec::new()
}
