//! Values across the bridge: XSD values ([`ithaca_wsdl::value::Value`],
//! shaped as `idl_to_wsdl` maps IDL types) to IDL dynamic values
//! ([`ithaca_idl::dynamic::Value`], typed by a [`TypeCode`]) and back.
//!
//! The shapes are exactly those of `bridge::mapping::idl_to_wsdl` (see
//! docs/bridging-corba-and-soap.md):
//!
//! | IDL | XSD value |
//! |---|---|
//! | integers, `octet` | the exact XSD integer type; a value outside the IDL range is refused |
//! | `float`, `double`, `long double` | `xs:float`, `xs:double` (`long double` through a double) |
//! | `char`, `wchar` | a string of exactly one character |
//! | `string<N>`, `wstring<N>` | a string of at most N characters, no NUL |
//! | `fixed<d,s>` | `xs:decimal` with at most `d-s` integer and `s` fraction digits, never rounded |
//! | `enum` | the enumerator's name |
//! | struct, exception | one element per member, in order |
//! | union | `discriminator`, then the element of the branch it selects (none when it selects none) |
//! | `sequence<T,N>`, `T[N]` | repeated `item` elements (at most N / exactly N) |
//! | `sequence<octet>` | `xs:base64Binary` |
//! | `any` | `type` (a repository id, or a basic type's IDL name) and `value` (its content, `xsi:type` on basic types) |
//! | `TypeCode` | its repository id, or a basic type's IDL name |
//! | object reference | `url`: the stringified IOR (`corbaloc:` accepted), nil for a nil reference |
//!
//! Every refusal is a [`ConversionError`] naming the element path and the
//! rule, such as `/add/a: 4294967296 is out of range for IDL long
//! (-2147483648 to 2147483647)`; nothing is ever truncated or rounded
//! (except `long double`, which the mapping documents as a double).

use std::collections::HashMap;
use std::fmt::Write as _;

use ithaca_idl::cdr::LongDouble;
use ithaca_idl::dynamic::{Fixed, TypeCode, UnionCase, Value as IdlValue};
use ithaca_idl::front::model::{DeclKind, Model};
use ithaca_idl::ior::{Corbaloc, Ior};
use ithaca_wsdl::value::{Complex, Field, Simple, Value as XmlValue};

/// The deepest value nesting converted.
pub const MAX_CONVERSION_DEPTH: usize = 64;

/// The largest `any` content (XML text) converted.
const MAX_ANY_XML: usize = 1 << 20;

const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";
const XS_NS: &str = "http://www.w3.org/2001/XMLSchema";

/// A value that cannot cross the bridge: where, and by which rule.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[error("{path}: {rule}")]
pub struct ConversionError {
    /// The element path (`/op/param/member`).
    pub path: String,
    /// The rule the value breaks.
    pub rule: String,
}

fn refuse(path: &str, rule: impl Into<String>) -> ConversionError {
    ConversionError {
        path: if path.is_empty() {
            "/".to_owned()
        } else {
            path.to_owned()
        },
        rule: rule.into(),
    }
}

/// A named IDL type, for the `type` of an `any` and for TypeCode values.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedType {
    /// Its XSD type name (`M.S`) when the mapping writes one, for
    /// `xsi:type` on `any` content.
    pub xsd_name: Option<String>,
    /// Its TypeCode.
    pub tc: TypeCode,
}

/// The named types of an IDL model by repository id: what an `any` or a
/// `TypeCode` received from a SOAP client may name.
#[derive(Clone, Debug, Default)]
pub struct TypeRegistry {
    types: HashMap<String, NamedType>,
}

impl TypeRegistry {
    /// Every struct, union, enum, exception and typedef of `model`.
    pub fn from_model(model: &Model) -> Self {
        let mut types = HashMap::new();
        for decl in &model.decls {
            let named_in_xsd = match &decl.kind {
                DeclKind::Struct { defined: true, .. }
                | DeclKind::Union { defined: true, .. }
                | DeclKind::Enum(_)
                | DeclKind::Exception(_) => true,
                DeclKind::Alias(_) => false,
                _ => continue,
            };
            let Ok(tc) = TypeCode::from_model(model, &decl.scoped_name) else {
                continue;
            };
            types.insert(
                decl.repo_id.clone(),
                NamedType {
                    xsd_name: named_in_xsd.then(|| decl.scoped_name.replace("::", ".")),
                    tc,
                },
            );
        }
        Self { types }
    }

    /// The type with this repository id.
    pub fn get(&self, repository_id: &str) -> Option<&NamedType> {
        self.types.get(repository_id)
    }

    /// The TypeCode that `text` names: a basic type's IDL name (`long`,
    /// `unsigned long long`, `string`…) or a repository id of the model.
    pub fn type_named(&self, text: &str) -> Option<TypeCode> {
        basic_type(text).or_else(|| self.get(text).map(|t| t.tc.clone()))
    }
}

/// The basic types an `any` or `TypeCode` may name by IDL name.
fn basic_type(name: &str) -> Option<TypeCode> {
    Some(match name {
        "null" => TypeCode::Null,
        "void" => TypeCode::Void,
        "short" => TypeCode::Short,
        "long" => TypeCode::Long,
        "long long" => TypeCode::LongLong,
        "unsigned short" => TypeCode::UShort,
        "unsigned long" => TypeCode::ULong,
        "unsigned long long" => TypeCode::ULongLong,
        "float" => TypeCode::Float,
        "double" => TypeCode::Double,
        "long double" => TypeCode::LongDouble,
        "boolean" => TypeCode::Boolean,
        "char" => TypeCode::Char,
        "wchar" => TypeCode::WChar,
        "octet" => TypeCode::Octet,
        "any" => TypeCode::Any,
        "TypeCode" => TypeCode::TypeCode,
        "string" => TypeCode::String(0),
        "wstring" => TypeCode::WString(0),
        "Object" => TypeCode::ObjRef {
            id: "IDL:omg.org/CORBA/Object:1.0".to_owned(),
            name: "Object".to_owned(),
        },
        _ => return None,
    })
}

/// The name a TypeCode is sent by in an `any`'s `type` or as a TypeCode
/// value: its repository id, or a basic type's IDL name; `None` for an
/// anonymous constructed type (a bare `sequence<long>`), which has no name
/// a client could send back.
fn type_text(tc: &TypeCode) -> Option<String> {
    if let Some(id) = tc.id().filter(|id| !id.is_empty()) {
        return Some(id.to_owned());
    }
    Some(
        match tc {
            TypeCode::Null => "null",
            TypeCode::Void => "void",
            TypeCode::Short => "short",
            TypeCode::Long => "long",
            TypeCode::LongLong => "long long",
            TypeCode::UShort => "unsigned short",
            TypeCode::ULong => "unsigned long",
            TypeCode::ULongLong => "unsigned long long",
            TypeCode::Float => "float",
            TypeCode::Double => "double",
            TypeCode::LongDouble => "long double",
            TypeCode::Boolean => "boolean",
            TypeCode::Char => "char",
            TypeCode::WChar => "wchar",
            TypeCode::Octet => "octet",
            TypeCode::Any => "any",
            TypeCode::TypeCode => "TypeCode",
            TypeCode::String(0) => "string",
            TypeCode::WString(0) => "wstring",
            _ => return None,
        }
        .to_owned(),
    )
}

/// The XSD built-in type of a basic TypeCode, for `xsi:type` on `any`
/// content.
fn xsd_builtin(tc: &TypeCode) -> Option<&'static str> {
    Some(match tc {
        TypeCode::Short => "short",
        TypeCode::Long => "int",
        TypeCode::LongLong => "long",
        TypeCode::UShort => "unsignedShort",
        TypeCode::ULong => "unsignedInt",
        TypeCode::ULongLong => "unsignedLong",
        TypeCode::Float => "float",
        TypeCode::Double | TypeCode::LongDouble => "double",
        TypeCode::Boolean => "boolean",
        TypeCode::Octet => "unsignedByte",
        TypeCode::String(_) | TypeCode::WString(_) | TypeCode::Char | TypeCode::WChar => "string",
        _ => return None,
    })
}

/// Converts values of one IDL model both ways.
#[derive(Clone, Copy, Debug)]
pub struct Converter<'r> {
    types: &'r TypeRegistry,
}

impl<'r> Converter<'r> {
    /// A converter whose `any` and `TypeCode` values may name the types of
    /// `types`.
    pub fn new(types: &'r TypeRegistry) -> Self {
        Self { types }
    }

    /// The IDL value of type `tc` an XSD value stands for; `path` names the
    /// element in errors.
    pub fn to_idl(
        &self,
        tc: &TypeCode,
        value: &XmlValue,
        path: &str,
    ) -> Result<IdlValue, ConversionError> {
        self.idl(tc, value, path, &mut Vec::new())
    }

    /// [`Converter::to_idl`] of an element's text: the same value or
    /// refusal, without copying the text into an IDL `string` or
    /// `wstring`.
    pub fn text_to_idl(
        &self,
        tc: &TypeCode,
        text: String,
        path: &str,
    ) -> Result<IdlValue, ConversionError> {
        match tc {
            TypeCode::String(bound) => {
                check_bounded(&text, path, *bound, "string")?;
                Ok(IdlValue::String(text))
            }
            TypeCode::WString(bound) => {
                check_bounded(&text, path, *bound, "wstring")?;
                Ok(IdlValue::WString(text))
            }
            _ => self.to_idl(tc, &XmlValue::Simple(Simple::String(text)), path),
        }
    }

    /// The XSD value an IDL value of type `tc` is sent as.
    pub fn to_xml(
        &self,
        tc: &TypeCode,
        value: &IdlValue,
        path: &str,
    ) -> Result<XmlValue, ConversionError> {
        self.xml(tc, value, path, &mut Vec::new())
    }

    fn idl<'t>(
        &self,
        tc: &'t TypeCode,
        value: &XmlValue,
        path: &str,
        enclosing: &mut Vec<&'t TypeCode>,
    ) -> Result<IdlValue, ConversionError> {
        if enclosing.len() > MAX_CONVERSION_DEPTH {
            return Err(refuse(
                path,
                format!("values nest deeper than {MAX_CONVERSION_DEPTH}"),
            ));
        }
        let tc = resolve(tc, enclosing, path)?;
        Ok(match tc {
            TypeCode::Alias { original, .. } => {
                enclosing.push(tc);
                let v = self.idl(original, value, path, enclosing);
                enclosing.pop();
                v?
            }
            TypeCode::Null | TypeCode::Void => IdlValue::Null,
            TypeCode::Short => IdlValue::Short(int_in(value, path, "short")?),
            TypeCode::Long => IdlValue::Long(int_in(value, path, "long")?),
            TypeCode::LongLong => IdlValue::LongLong(int_in(value, path, "long long")?),
            TypeCode::UShort => IdlValue::UShort(int_in(value, path, "unsigned short")?),
            TypeCode::ULong => IdlValue::ULong(int_in(value, path, "unsigned long")?),
            TypeCode::ULongLong => IdlValue::ULongLong(int_in(value, path, "unsigned long long")?),
            TypeCode::Octet => IdlValue::Octet(int_in(value, path, "octet")?),
            TypeCode::Float => {
                let v = float_of(value, path)?;
                #[allow(clippy::cast_possible_truncation)]
                let f = v as f32;
                if v.is_finite() && !f.is_finite() {
                    return Err(refuse(path, format!("{v} is out of range for IDL float")));
                }
                IdlValue::Float(f)
            }
            TypeCode::Double => IdlValue::Double(float_of(value, path)?),
            TypeCode::LongDouble => IdlValue::LongDouble(f64_to_quad(float_of(value, path)?)),
            TypeCode::Boolean => IdlValue::Boolean(bool_of(value, path)?),
            TypeCode::Char => IdlValue::Char(one_char(value, path, "char")?),
            TypeCode::WChar => IdlValue::WChar(one_char(value, path, "wchar")?),
            TypeCode::String(bound) => IdlValue::String(bounded(value, path, *bound, "string")?),
            TypeCode::WString(bound) => IdlValue::WString(bounded(value, path, *bound, "wstring")?),
            TypeCode::Fixed { digits, scale } => {
                IdlValue::Fixed(fixed_of(value, path, *digits, *scale)?)
            }
            TypeCode::Enum { members, name, .. } => {
                let text = text_of(value, path)?;
                let position = members.iter().position(|m| m == text).ok_or_else(|| {
                    refuse(
                        path,
                        format!("\"{text}\" is not an enumerator of IDL enum {name}"),
                    )
                })?;
                IdlValue::Enum(u32::try_from(position).map_err(|_| refuse(path, "enum too large"))?)
            }
            TypeCode::Struct { members, .. } | TypeCode::Except { members, .. } => {
                let complex = complex_of(value, path)?;
                if complex.fields.len() != members.len() {
                    return Err(refuse(
                        path,
                        format!(
                            "{} elements where the IDL type has {} members",
                            complex.fields.len(),
                            members.len()
                        ),
                    ));
                }
                enclosing.push(tc);
                let mut out = Vec::with_capacity(members.len());
                for (member, field) in members.iter().zip(&complex.fields) {
                    let child = format!("{path}/{}", member.name);
                    if field.name.local != member.name {
                        enclosing.pop();
                        return Err(refuse(
                            &child,
                            format!(
                                "expected the member element `{}`, found `{}`",
                                member.name, field.name.local
                            ),
                        ));
                    }
                    match self.idl(&member.ty, &field.value, &child, enclosing) {
                        Ok(v) => out.push((member.name.clone(), v)),
                        Err(e) => {
                            enclosing.pop();
                            return Err(e);
                        }
                    }
                }
                enclosing.pop();
                IdlValue::Struct(out)
            }
            TypeCode::Union {
                discriminator,
                cases,
                ..
            } => {
                let complex = complex_of(value, path)?;
                let mut fields = complex.fields.iter();
                let disc_path = format!("{path}/discriminator");
                let disc_field = fields
                    .next()
                    .filter(|f| f.name.local == "discriminator")
                    .ok_or_else(|| refuse(&disc_path, "the union's discriminator is missing"))?;
                let disc = self.idl(discriminator, &disc_field.value, &disc_path, enclosing)?;
                let branch = fields.next();
                if let Some(extra) = fields.next() {
                    return Err(refuse(
                        &format!("{path}/{}", extra.name.local),
                        "a union holds at most one branch",
                    ));
                }
                let selected = selected_case(discriminator, cases, &disc);
                let member = match (selected, branch) {
                    (None, None) => None,
                    (Some(case), Some(field)) if case.name == field.name.local => {
                        let child = format!("{path}/{}", case.name);
                        enclosing.push(tc);
                        let v = self.idl(&case.ty, &field.value, &child, enclosing);
                        enclosing.pop();
                        Some(Box::new(v?))
                    }
                    (Some(case), Some(field)) => {
                        return Err(refuse(
                            &format!("{path}/{}", field.name.local),
                            format!(
                                "the discriminator selects the branch `{}`, not `{}`",
                                case.name, field.name.local
                            ),
                        ));
                    }
                    (Some(case), None) => {
                        return Err(refuse(
                            path,
                            format!(
                                "the discriminator selects the branch `{}`, which is missing",
                                case.name
                            ),
                        ));
                    }
                    (None, Some(field)) => {
                        return Err(refuse(
                            &format!("{path}/{}", field.name.local),
                            "the discriminator selects no branch, so none may be given",
                        ));
                    }
                };
                IdlValue::Union {
                    discriminator: Box::new(disc),
                    member,
                }
            }
            TypeCode::Sequence { element, bound } => {
                if matches!(
                    resolve(element, enclosing, path)?.unalias(),
                    TypeCode::Octet
                ) {
                    let bytes = bytes_of(value, path)?;
                    if *bound > 0 && bytes.len() > usize::try_from(*bound).unwrap_or(usize::MAX) {
                        return Err(refuse(
                            path,
                            format!(
                                "{} octets exceed the bound of sequence<octet,{bound}>",
                                bytes.len()
                            ),
                        ));
                    }
                    return Ok(IdlValue::Octets(bytes.into()));
                }
                let items = self.items(element, value, path, enclosing)?;
                if *bound > 0 && items.len() > usize::try_from(*bound).unwrap_or(usize::MAX) {
                    return Err(refuse(
                        path,
                        format!(
                            "{} items exceed the bound of sequence<…,{bound}>",
                            items.len()
                        ),
                    ));
                }
                IdlValue::Sequence(items)
            }
            TypeCode::Array { element, length } => {
                let items = self.items(element, value, path, enclosing)?;
                if items.len() != usize::try_from(*length).unwrap_or(usize::MAX) {
                    return Err(refuse(
                        path,
                        format!(
                            "{} items where the IDL array has exactly {length}",
                            items.len()
                        ),
                    ));
                }
                IdlValue::Array(items)
            }
            TypeCode::Any => {
                let complex = complex_of(value, path)?;
                let type_path = format!("{path}/type");
                let type_name = complex
                    .field("type")
                    .ok_or_else(|| refuse(&type_path, "the any's type is missing"))
                    .and_then(|t| text_of(t, &type_path))?;
                let content_tc = self.types.type_named(type_name).ok_or_else(|| {
                    refuse(
                        &type_path,
                        format!(
                            "\"{type_name}\" is neither a basic IDL type nor a repository id \
                             of this IDL"
                        ),
                    )
                })?;
                let value_path = format!("{path}/value");
                let content = match complex.field("value") {
                    None | Some(XmlValue::Nil) => match content_tc {
                        TypeCode::Null | TypeCode::Void => XmlValue::Nil,
                        _ => return Err(refuse(&value_path, "the any's value is missing")),
                    },
                    Some(XmlValue::Raw(xml)) => untyped_tree(xml, &value_path)?,
                    Some(other) => other.clone(),
                };
                // The content's TypeCode is a type universe of its own.
                let inner = self.idl(&content_tc, &content, &value_path, &mut Vec::new())?;
                IdlValue::Any(Box::new(content_tc), Box::new(inner))
            }
            TypeCode::TypeCode => {
                let text = text_of(value, path)?;
                let named = self.types.type_named(text).ok_or_else(|| {
                    refuse(
                        path,
                        format!(
                            "\"{text}\" is neither a basic IDL type nor a repository id of \
                             this IDL"
                        ),
                    )
                })?;
                IdlValue::TypeCode(Box::new(named))
            }
            TypeCode::ObjRef { .. } => {
                let url_path = format!("{path}/url");
                let url = match value {
                    XmlValue::Nil => None,
                    other => match complex_of(other, path)?.field("url") {
                        None | Some(XmlValue::Nil) => None,
                        Some(url) => Some(text_of(url, &url_path)?.trim()),
                    },
                };
                IdlValue::ObjRef(match url {
                    None | Some("") => Ior::default(),
                    Some(text) => reference(text).map_err(|rule| refuse(&url_path, rule))?,
                })
            }
            other => {
                return Err(refuse(
                    path,
                    format!(
                        "IDL values of TypeCode kind {} cannot cross the bridge",
                        other.kind()
                    ),
                ));
            }
        })
    }

    fn items<'t>(
        &self,
        element: &'t TypeCode,
        value: &XmlValue,
        path: &str,
        enclosing: &mut Vec<&'t TypeCode>,
    ) -> Result<Vec<IdlValue>, ConversionError> {
        let complex = match value {
            // An empty sequence may come as an element with no content.
            XmlValue::Simple(Simple::String(text)) if text.trim().is_empty() => {
                return Ok(Vec::new());
            }
            other => complex_of(other, path)?,
        };
        let mut out = Vec::with_capacity(complex.fields.len());
        for (i, field) in complex.fields.iter().enumerate() {
            let child = format!("{path}/item[{}]", i + 1);
            if field.name.local != "item" {
                return Err(refuse(
                    &child,
                    format!("expected `item`, found `{}`", field.name.local),
                ));
            }
            out.push(self.idl(element, &field.value, &child, enclosing)?);
        }
        Ok(out)
    }

    fn xml<'t>(
        &self,
        tc: &'t TypeCode,
        value: &IdlValue,
        path: &str,
        enclosing: &mut Vec<&'t TypeCode>,
    ) -> Result<XmlValue, ConversionError> {
        if enclosing.len() > MAX_CONVERSION_DEPTH {
            return Err(refuse(
                path,
                format!("values nest deeper than {MAX_CONVERSION_DEPTH}"),
            ));
        }
        let tc = resolve(tc, enclosing, path)?;
        let mismatch = || {
            refuse(
                path,
                format!(
                    "a {} value where the IDL type has TypeCode kind {}",
                    value.kind_name(),
                    tc.kind()
                ),
            )
        };
        let simple = |s: Simple| Ok(XmlValue::Simple(s));
        match (tc, value) {
            (TypeCode::Alias { original, .. }, v) => {
                enclosing.push(tc);
                let out = self.xml(original, v, path, enclosing);
                enclosing.pop();
                out
            }
            (TypeCode::Null | TypeCode::Void, _) => Ok(XmlValue::Nil),
            (TypeCode::Short, IdlValue::Short(v)) => simple(Simple::Int(i64::from(*v))),
            (TypeCode::Long, IdlValue::Long(v)) => simple(Simple::Int(i64::from(*v))),
            (TypeCode::LongLong, IdlValue::LongLong(v)) => simple(Simple::Int(*v)),
            (TypeCode::UShort, IdlValue::UShort(v)) => simple(Simple::UInt(u64::from(*v))),
            (TypeCode::ULong, IdlValue::ULong(v)) => simple(Simple::UInt(u64::from(*v))),
            (TypeCode::ULongLong, IdlValue::ULongLong(v)) => simple(Simple::UInt(*v)),
            (TypeCode::Octet, IdlValue::Octet(v)) => simple(Simple::UInt(u64::from(*v))),
            (TypeCode::Float, IdlValue::Float(v)) => simple(Simple::Float(*v)),
            (TypeCode::Double, IdlValue::Double(v)) => simple(Simple::Double(*v)),
            (TypeCode::LongDouble, IdlValue::LongDouble(v)) => {
                simple(Simple::Double(quad_to_f64(*v)))
            }
            (TypeCode::Boolean, IdlValue::Boolean(v)) => simple(Simple::Boolean(*v)),
            (TypeCode::Char, IdlValue::Char(c)) | (TypeCode::WChar, IdlValue::WChar(c)) => {
                simple(Simple::String(c.to_string()))
            }
            (TypeCode::String(_), IdlValue::String(s))
            | (TypeCode::WString(_), IdlValue::WString(s)) => simple(Simple::String(s.clone())),
            (TypeCode::Fixed { .. }, IdlValue::Fixed(f)) => {
                simple(Simple::Decimal(canonical_decimal(f)))
            }
            (TypeCode::Enum { members, .. }, IdlValue::Enum(i)) => {
                let name = usize::try_from(*i)
                    .ok()
                    .and_then(|i| members.get(i))
                    .ok_or_else(|| refuse(path, format!("enumerator {i} is out of range")))?;
                simple(Simple::String(name.clone()))
            }
            (
                TypeCode::Struct { members, .. } | TypeCode::Except { members, .. },
                IdlValue::Struct(values),
            ) => {
                if members.len() != values.len() {
                    return Err(mismatch());
                }
                enclosing.push(tc);
                let mut fields = Vec::with_capacity(members.len());
                for (member, (_, v)) in members.iter().zip(values) {
                    let child = format!("{path}/{}", member.name);
                    match self.xml(&member.ty, v, &child, enclosing) {
                        Ok(x) => fields.push(Field::unqualified(member.name.clone(), x)),
                        Err(e) => {
                            enclosing.pop();
                            return Err(e);
                        }
                    }
                }
                enclosing.pop();
                Ok(XmlValue::complex(fields))
            }
            (
                TypeCode::Union {
                    discriminator: disc_tc,
                    cases,
                    ..
                },
                IdlValue::Union {
                    discriminator,
                    member,
                },
            ) => {
                let disc = self.xml(
                    disc_tc,
                    discriminator,
                    &format!("{path}/discriminator"),
                    enclosing,
                )?;
                let mut fields = vec![Field::unqualified("discriminator", disc)];
                if let (Some(case), Some(member)) =
                    (selected_case(disc_tc, cases, discriminator), member)
                {
                    let child = format!("{path}/{}", case.name);
                    enclosing.push(tc);
                    let x = self.xml(&case.ty, member, &child, enclosing);
                    enclosing.pop();
                    fields.push(Field::unqualified(case.name.clone(), x?));
                }
                Ok(XmlValue::complex(fields))
            }
            (TypeCode::Sequence { element, .. }, IdlValue::Octets(bytes))
                if matches!(element.unalias(), TypeCode::Octet) =>
            {
                simple(Simple::Bytes(bytes.to_vec()))
            }
            (TypeCode::Sequence { element, .. }, IdlValue::Sequence(items))
                if matches!(element.unalias(), TypeCode::Octet) =>
            {
                let bytes = items
                    .iter()
                    .map(|i| match i {
                        IdlValue::Octet(b) => Ok(*b),
                        _ => Err(mismatch()),
                    })
                    .collect::<Result<Vec<u8>, _>>()?;
                simple(Simple::Bytes(bytes))
            }
            (TypeCode::Sequence { element, .. }, IdlValue::Sequence(items))
            | (TypeCode::Array { element, .. }, IdlValue::Array(items)) => {
                let mut fields = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let child = format!("{path}/item[{}]", i + 1);
                    fields.push(Field::unqualified(
                        "item",
                        self.xml(element, item, &child, enclosing)?,
                    ));
                }
                Ok(XmlValue::complex(fields))
            }
            (TypeCode::Any, IdlValue::Any(content_tc, content)) => {
                let type_name = type_text(content_tc).ok_or_else(|| {
                    refuse(
                        &format!("{path}/type"),
                        format!(
                            "an any holding an anonymous type (TypeCode kind {}) has no name \
                             a SOAP client could send back; declare it with a typedef",
                            content_tc.kind()
                        ),
                    )
                })?;
                let value_path = format!("{path}/value");
                let inner = self.xml(content_tc, content, &value_path, &mut Vec::new())?;
                let xsi_type = xsd_builtin(content_tc.unalias())
                    .map(|b| (XS_NS, b.to_owned()))
                    .or_else(|| {
                        content_tc
                            .id()
                            .and_then(|id| self.types.get(id))
                            .and_then(|t| t.xsd_name.clone())
                            .map(|n| (crate::bridge::mapping::IDL_MAPPED_NS, n))
                    });
                let raw = match inner {
                    XmlValue::Nil => XmlValue::Nil,
                    inner => XmlValue::Raw(raw_element("value", &inner, xsi_type.as_ref())),
                };
                Ok(XmlValue::complex([
                    Field::unqualified("type", XmlValue::string(type_name)),
                    Field::unqualified("value", raw),
                ]))
            }
            (TypeCode::TypeCode, IdlValue::TypeCode(named)) => {
                let text = type_text(named).ok_or_else(|| {
                    refuse(
                        path,
                        format!(
                            "an anonymous TypeCode (kind {}) has no name a SOAP client could \
                             send back",
                            named.kind()
                        ),
                    )
                })?;
                simple(Simple::String(text))
            }
            (TypeCode::ObjRef { .. }, IdlValue::ObjRef(ior)) => {
                let url = if ior.is_nil() {
                    XmlValue::Nil
                } else {
                    XmlValue::string(ior.to_string())
                };
                Ok(XmlValue::complex([Field::unqualified("url", url)]))
            }
            _ => Err(mismatch()),
        }
    }
}

/// A recursive TypeCode's enclosing struct or union.
fn resolve<'t>(
    tc: &'t TypeCode,
    enclosing: &[&'t TypeCode],
    path: &str,
) -> Result<&'t TypeCode, ConversionError> {
    let TypeCode::Recursive(id) = tc else {
        return Ok(tc);
    };
    enclosing
        .iter()
        .rev()
        .copied()
        .find(|t| t.id() == Some(id.as_str()))
        .ok_or_else(|| {
            refuse(
                path,
                format!("a recursive TypeCode for {id} outside its type"),
            )
        })
}

/// The case a discriminator value selects: its label, or else `default`.
fn selected_case<'c>(
    disc_tc: &TypeCode,
    cases: &'c [UnionCase],
    disc: &IdlValue,
) -> Option<&'c UnionCase> {
    let key = discriminator_key(disc_tc.unalias(), disc)?;
    cases
        .iter()
        .find(|c| {
            c.label
                .as_ref()
                .and_then(|l| discriminator_key(disc_tc.unalias(), l))
                == Some(key)
        })
        .or_else(|| cases.iter().find(|c| c.label.is_none()))
}

fn discriminator_key(disc: &TypeCode, v: &IdlValue) -> Option<i128> {
    Some(match (disc, v) {
        (TypeCode::Short, IdlValue::Short(x)) => i128::from(*x),
        (TypeCode::Long, IdlValue::Long(x)) => i128::from(*x),
        (TypeCode::LongLong, IdlValue::LongLong(x)) => i128::from(*x),
        (TypeCode::UShort, IdlValue::UShort(x)) => i128::from(*x),
        (TypeCode::ULong, IdlValue::ULong(x)) => i128::from(*x),
        (TypeCode::ULongLong, IdlValue::ULongLong(x)) => i128::from(*x),
        (TypeCode::Boolean, IdlValue::Boolean(x)) => i128::from(*x),
        (TypeCode::Char, IdlValue::Char(x)) | (TypeCode::WChar, IdlValue::WChar(x)) => {
            i128::from(u32::from(*x))
        }
        (TypeCode::Enum { .. }, IdlValue::Enum(x)) => i128::from(*x),
        _ => return None,
    })
}

/// An integer of an IDL integer type, refused when out of its range.
fn int_in<T>(value: &XmlValue, path: &str, idl: &str) -> Result<T, ConversionError>
where
    T: TryFrom<i128> + Bounded,
{
    let n: i128 = match value {
        XmlValue::Simple(Simple::Int(v)) => i128::from(*v),
        XmlValue::Simple(Simple::UInt(v)) => i128::from(*v),
        XmlValue::Simple(Simple::BigInt(text)) => {
            return Err(refuse(
                path,
                format!(
                    "{text} is out of range for IDL {idl} ({} to {})",
                    T::MIN_TEXT,
                    T::MAX_TEXT
                ),
            ));
        }
        XmlValue::Simple(Simple::String(text)) => text
            .trim()
            .parse::<i128>()
            .map_err(|_| refuse(path, format!("\"{text}\" is not an integer (IDL {idl})")))?,
        other => return Err(wrong_kind(other, path, &format!("an integer (IDL {idl})"))),
    };
    T::try_from(n).map_err(|_| {
        refuse(
            path,
            format!(
                "{n} is out of range for IDL {idl} ({} to {})",
                T::MIN_TEXT,
                T::MAX_TEXT
            ),
        )
    })
}

/// The range of an integer type, for messages.
trait Bounded {
    const MIN_TEXT: &'static str;
    const MAX_TEXT: &'static str;
}

macro_rules! bounded_int {
    ($($t:ty => $min:expr, $max:expr;)*) => {
        $(impl Bounded for $t {
            const MIN_TEXT: &'static str = $min;
            const MAX_TEXT: &'static str = $max;
        })*
    };
}

bounded_int! {
    i16 => "-32768", "32767";
    i32 => "-2147483648", "2147483647";
    i64 => "-9223372036854775808", "9223372036854775807";
    u8 => "0", "255";
    u16 => "0", "65535";
    u32 => "0", "4294967295";
    u64 => "0", "18446744073709551615";
}

fn wrong_kind(value: &XmlValue, path: &str, expected: &str) -> ConversionError {
    let found = match value {
        XmlValue::Nil => "nil".to_owned(),
        XmlValue::Simple(s) => format!("{s:?}").chars().take(60).collect(),
        XmlValue::Complex(_) => "element content".to_owned(),
        XmlValue::Array(_) => "a SOAP-encoded array".to_owned(),
        XmlValue::Raw(_) => "untyped XML".to_owned(),
    };
    refuse(path, format!("expected {expected}, found {found}"))
}

fn float_of(value: &XmlValue, path: &str) -> Result<f64, ConversionError> {
    match value {
        XmlValue::Simple(Simple::Float(v)) => Ok(f64::from(*v)),
        XmlValue::Simple(Simple::Double(v)) => Ok(*v),
        #[allow(clippy::cast_precision_loss)]
        XmlValue::Simple(Simple::Int(v)) => Ok(*v as f64),
        XmlValue::Simple(Simple::String(text) | Simple::Decimal(text)) => match text.trim() {
            "INF" => Ok(f64::INFINITY),
            "-INF" => Ok(f64::NEG_INFINITY),
            "NaN" => Ok(f64::NAN),
            t => t
                .parse::<f64>()
                .map_err(|_| refuse(path, format!("\"{text}\" is not a floating-point number"))),
        },
        other => Err(wrong_kind(other, path, "a floating-point number")),
    }
}

fn bool_of(value: &XmlValue, path: &str) -> Result<bool, ConversionError> {
    match value {
        XmlValue::Simple(Simple::Boolean(v)) => Ok(*v),
        XmlValue::Simple(Simple::String(text)) => match text.trim() {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => Err(refuse(path, format!("\"{text}\" is not a boolean"))),
        },
        other => Err(wrong_kind(other, path, "a boolean")),
    }
}

fn text_of<'v>(value: &'v XmlValue, path: &str) -> Result<&'v str, ConversionError> {
    match value {
        XmlValue::Simple(Simple::String(text) | Simple::Lexical(_, text)) => Ok(text),
        other => Err(wrong_kind(other, path, "a string")),
    }
}

fn one_char(value: &XmlValue, path: &str, idl: &str) -> Result<char, ConversionError> {
    let text = text_of(value, path)?;
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if c != '\0' => Ok(c),
        _ => Err(refuse(
            path,
            format!(
                "an IDL {idl} is exactly one character (not NUL), got {} characters",
                text.chars().count()
            ),
        )),
    }
}

fn bounded(value: &XmlValue, path: &str, bound: u32, idl: &str) -> Result<String, ConversionError> {
    let text = text_of(value, path)?;
    check_bounded(text, path, bound, idl)?;
    Ok(text.to_owned())
}

/// Whether an IDL `string` or `wstring` (`idl`) of `bound` characters (0:
/// unbounded) can hold `text`.
fn check_bounded(text: &str, path: &str, bound: u32, idl: &str) -> Result<(), ConversionError> {
    if text.contains('\0') {
        return Err(refuse(
            path,
            format!("an IDL {idl} cannot hold a NUL character"),
        ));
    }
    if bound > 0 {
        let count = text.chars().count();
        if count > usize::try_from(bound).unwrap_or(usize::MAX) {
            return Err(refuse(
                path,
                format!("{count} characters exceed the bound of IDL {idl}<{bound}>"),
            ));
        }
    }
    Ok(())
}

fn bytes_of(value: &XmlValue, path: &str) -> Result<Vec<u8>, ConversionError> {
    match value {
        XmlValue::Simple(Simple::Bytes(bytes)) => Ok(bytes.clone()),
        // An empty element.
        XmlValue::Complex(c) if c.fields.is_empty() && c.content.is_none() => Ok(Vec::new()),
        XmlValue::Simple(Simple::String(text)) => base64_decode(text.trim())
            .ok_or_else(|| refuse(path, "not valid base64 (IDL sequence<octet>)")),
        other => Err(wrong_kind(
            other,
            path,
            "base64 binary (IDL sequence<octet>)",
        )),
    }
}

fn complex_of<'v>(value: &'v XmlValue, path: &str) -> Result<&'v Complex, ConversionError> {
    match value {
        XmlValue::Complex(complex) => Ok(complex),
        // An element with no content read without a schema.
        XmlValue::Simple(Simple::String(text)) if text.trim().is_empty() => Ok(&EMPTY),
        other => Err(wrong_kind(other, path, "element content")),
    }
}

static EMPTY: Complex = Complex {
    type_name: None,
    attributes: Vec::new(),
    any_attributes: Vec::new(),
    fields: Vec::new(),
    content: None,
};

/// A `fixed<digits,scale>` value, refused (never rounded) when it has
/// more integer or fraction digits than the type.
fn fixed_of(
    value: &XmlValue,
    path: &str,
    digits: u16,
    scale: i16,
) -> Result<Fixed, ConversionError> {
    let text: String = match value {
        XmlValue::Simple(Simple::Decimal(text) | Simple::String(text)) => text.trim().to_owned(),
        XmlValue::Simple(Simple::Int(v)) => v.to_string(),
        XmlValue::Simple(Simple::UInt(v)) => v.to_string(),
        other => return Err(wrong_kind(other, path, "a decimal (IDL fixed)")),
    };
    let fixed =
        Fixed::parse(&text).ok_or_else(|| refuse(path, format!("\"{text}\" is not a decimal")))?;
    let scale_u = u16::try_from(scale.max(0)).unwrap_or(0);
    // Significant fraction digits and integer digits of the value.
    let (int_part, frac_part) = {
        let s = canonical_decimal(&fixed);
        let unsigned = s.trim_start_matches('-').to_owned();
        match unsigned.split_once('.') {
            Some((i, f)) => (i.to_owned(), f.to_owned()),
            None => (unsigned, String::new()),
        }
    };
    let int_digits = if int_part == "0" { 0 } else { int_part.len() };
    let max_int = usize::from(digits.saturating_sub(scale_u));
    if frac_part.len() > usize::from(scale_u) || int_digits > max_int {
        return Err(refuse(
            path,
            format!(
                "{text} does not fit IDL fixed<{digits},{scale}> (at most {max_int} integer and \
                 {scale_u} fraction digits; values are never rounded)"
            ),
        ));
    }
    // At the TypeCode's scale, as the CDR encoder expects.
    let mut unscaled = format!("{int_part}{frac_part}");
    unscaled.extend(std::iter::repeat_n(
        '0',
        usize::from(scale_u) - frac_part.len(),
    ));
    let trimmed = unscaled.trim_start_matches('0');
    Ok(Fixed {
        negative: fixed.negative && !trimmed.is_empty(),
        digits: if trimmed.is_empty() {
            "0".to_owned()
        } else {
            trimmed.to_owned()
        },
        scale: scale_u,
    })
}

/// The canonical `xs:decimal` form of a fixed value: no trailing fraction
/// zeros, no point for an integral value, no `-0`.
fn canonical_decimal(fixed: &Fixed) -> String {
    let text = fixed.to_string();
    let (sign, unsigned) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text.as_str()),
    };
    let unsigned = match unsigned.split_once('.') {
        Some((int, frac)) => {
            let frac = frac.trim_end_matches('0');
            let int = if int.is_empty() { "0" } else { int };
            if frac.is_empty() {
                int.to_owned()
            } else {
                format!("{int}.{frac}")
            }
        }
        None => unsigned.to_owned(),
    };
    let unsigned = {
        let (int, rest) = unsigned.split_once('.').unwrap_or((&unsigned, ""));
        let int = int.trim_start_matches('0');
        let int = if int.is_empty() { "0" } else { int };
        if rest.is_empty() {
            int.to_owned()
        } else {
            format!("{int}.{rest}")
        }
    };
    if unsigned == "0" {
        unsigned
    } else {
        format!("{sign}{unsigned}")
    }
}

/// An object reference from `IOR:…` or `corbaloc:…` text.
fn reference(text: &str) -> Result<Ior, String> {
    if text
        .get(..9)
        .is_some_and(|p| p.eq_ignore_ascii_case("corbaloc:"))
    {
        return Corbaloc::parse(text)
            .and_then(|c| c.to_ior())
            .map_err(|e| format!("not a usable corbaloc URL: {e}"));
    }
    Ior::from_ior_string(text).map_err(|e| format!("not a stringified object reference: {e}"))
}

/// IEEE 754 binary64 to binary128 (big-endian bytes), exactly.
fn f64_to_quad(v: f64) -> LongDouble {
    let bits = v.to_bits();
    let sign = u128::from(bits >> 63);
    let exp = i32::try_from((bits >> 52) & 0x7ff).unwrap_or(0);
    let mant = u128::from(bits & ((1u64 << 52) - 1));
    let (qexp, qmant): (u128, u128) = if exp == 0x7ff {
        (0x7fff, mant << 60)
    } else if exp == 0 {
        if mant == 0 {
            (0, 0)
        } else {
            // A subnormal double, mant * 2^-1074: normalise it.
            let top = i32::try_from(127 - mant.leading_zeros()).unwrap_or(0);
            let fraction = (mant << u32::try_from(112 - top).unwrap_or(0)) & ((1u128 << 112) - 1);
            (u128::try_from(top - 1074 + 16383).unwrap_or(0), fraction)
        }
    } else {
        (u128::try_from(exp - 1023 + 16383).unwrap_or(0), mant << 60)
    };
    LongDouble(((sign << 127) | (qexp << 112) | qmant).to_be_bytes())
}

/// IEEE 754 binary128 to binary64: the precision the mapping keeps
/// (`long double` is `xs:double`); extra mantissa bits are dropped and
/// exponents beyond the double's range give infinity or zero.
fn quad_to_f64(v: LongDouble) -> f64 {
    let q = u128::from_be_bytes(v.0);
    let sign = u64::try_from(q >> 127).unwrap_or(0);
    let exp = i32::try_from((q >> 112) & 0x7fff).unwrap_or(0);
    let mant = u64::try_from((q >> 60) & ((1u128 << 52) - 1)).unwrap_or(0);
    let bits = if exp == 0x7fff {
        (0x7ffu64 << 52) | mant | u64::from(q & ((1u128 << 112) - 1) != 0 && mant == 0)
    } else if exp == 0 {
        0
    } else {
        let e = exp - 16383 + 1023;
        if e >= 0x7ff {
            0x7ffu64 << 52
        } else if e <= -52 {
            0
        } else if e <= 0 {
            // A subnormal double.
            ((1u64 << 52) | mant) >> u32::try_from(1 - e).unwrap_or(63)
        } else {
            (u64::try_from(e).unwrap_or(0) << 52) | mant
        }
    };
    f64::from_bits((sign << 63) | bits)
}

/// Reads `any` content (one element, self-contained XML) into an untyped
/// value: element children become fields, a leaf its text, `xsi:nil`
/// nil. DTDs are refused by the parser.
fn untyped_tree(xml: &str, path: &str) -> Result<XmlValue, ConversionError> {
    if xml.len() > MAX_ANY_XML {
        return Err(refuse(path, "the any's value is too large"));
    }
    let doc = roxmltree::Document::parse(xml)
        .map_err(|e| refuse(path, format!("the any's value is not well-formed XML: {e}")))?;
    untyped_node(doc.root_element(), path, 0)
}

fn untyped_node(
    node: roxmltree::Node<'_, '_>,
    path: &str,
    depth: usize,
) -> Result<XmlValue, ConversionError> {
    if depth > MAX_CONVERSION_DEPTH {
        return Err(refuse(
            path,
            format!("values nest deeper than {MAX_CONVERSION_DEPTH}"),
        ));
    }
    if node
        .attribute((XSI_NS, "nil"))
        .is_some_and(|v| matches!(v.trim(), "true" | "1"))
    {
        return Ok(XmlValue::Nil);
    }
    let children: Vec<_> = node
        .children()
        .filter(roxmltree::Node::is_element)
        .collect();
    if children.is_empty() {
        let text: String = node
            .children()
            .filter(|c| c.is_text())
            .filter_map(|c| c.text())
            .collect();
        return Ok(XmlValue::Simple(Simple::String(text)));
    }
    let mut fields = Vec::with_capacity(children.len());
    for child in children {
        let name = child.tag_name().name();
        let value = untyped_node(child, &format!("{path}/{name}"), depth + 1)?;
        fields.push(Field::unqualified(name, value));
    }
    Ok(XmlValue::complex(fields))
}

/// Writes a value as the element `name`, self-contained (its namespaces
/// declared on it), with `xsi:type` when given: `any` content.
fn raw_element(name: &str, value: &XmlValue, xsi_type: Option<&(&str, String)>) -> String {
    let mut out = String::new();
    let _ = write!(out, "<{name} xmlns:xsi=\"{XSI_NS}\"");
    if let Some((ns, local)) = xsi_type {
        let _ = write!(out, " xmlns:t=\"{ns}\" xsi:type=\"t:{local}\"");
    }
    write_content(&mut out, name, value);
    out
}

/// Writes the rest of a start tag (its `>`), the content and the end tag.
fn write_content(out: &mut String, name: &str, value: &XmlValue) {
    match value {
        XmlValue::Nil => out.push_str(" xsi:nil=\"true\"/>"),
        XmlValue::Simple(simple) => {
            out.push('>');
            out.push_str(&escape(&lexical(simple)));
            let _ = write!(out, "</{name}>");
        }
        XmlValue::Complex(complex) => {
            out.push('>');
            for field in &complex.fields {
                let child = &field.name.local;
                let _ = write!(out, "<{child}");
                write_content(out, child, &field.value);
            }
            let _ = write!(out, "</{name}>");
        }
        XmlValue::Raw(xml) => {
            // Nested any content: its element inside this one.
            out.push('>');
            out.push_str(xml);
            let _ = write!(out, "</{name}>");
        }
        XmlValue::Array(_) => {
            let _ = write!(out, "></{name}>");
        }
    }
}

/// The lexical form of the simple values this module makes.
fn lexical(simple: &Simple) -> String {
    match simple {
        Simple::String(s) | Simple::Decimal(s) | Simple::BigInt(s) | Simple::Lexical(_, s) => {
            s.clone()
        }
        Simple::Boolean(b) => b.to_string(),
        Simple::Int(v) => v.to_string(),
        Simple::UInt(v) => v.to_string(),
        Simple::Float(v) => xsd_float(f64::from(*v), v.to_string()),
        Simple::Double(v) => xsd_float(*v, v.to_string()),
        Simple::Bytes(b) => base64_encode(b),
        Simple::QName(q) => q.local.clone(),
        Simple::List(items) => items.iter().map(lexical).collect::<Vec<_>>().join(" "),
    }
}

fn xsd_float(v: f64, text: String) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "INF" } else { "-INF" }.to_owned()
    } else {
        text
    }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                let index = usize::try_from((n >> shift) & 63).unwrap_or(0);
                out.push(char::from(BASE64.get(index).copied().unwrap_or(b'A')));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let symbols: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !symbols.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(symbols.len() / 4 * 3);
    for quad in symbols.chunks(4) {
        let mut n = 0u32;
        let mut pad = 0;
        for &s in quad {
            let v = match s {
                b'=' => {
                    pad += 1;
                    0
                }
                _ if pad > 0 => return None,
                _ => u32::try_from(BASE64.iter().position(|&c| c == s)?).ok()?,
            };
            n = (n << 6) | v;
        }
        let bytes = n.to_be_bytes();
        let take = 3usize.checked_sub(pad)?;
        out.extend(bytes.get(1..1 + take)?);
    }
    Some(out)
}

#[cfg(test)]
mod tests;
