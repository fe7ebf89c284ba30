//! Dynamic values of any IDL type, and their CDR encoding driven by a
//! [`TypeCode`].

use std::fmt;

use bytes::{Bytes, BytesMut};

use super::factories::ValueFactories;
use super::typecode::{MAX_FIXED_DIGITS, TypeCode, check_fixed};
use super::valuetype::{Header, NO_VALUE_FACTORY, Sort, ValueReader, ValueWriter};
use crate::cdr::{CdrReader, CdrWriter, LongDouble};
use crate::error::{Error, Result};
use crate::ior::Ior;

/// A value of any IDL type.
///
/// Aliases are transparent: a value of a typedef is a value of the type it
/// stands for. Struct and exception members carry their names (checked
/// against the TypeCode when encoding). Floats compare as Rust floats, so a
/// NaN is not equal to itself.
#[derive(Clone, Debug, PartialEq)]
#[allow(missing_docs)]
pub enum Value {
    /// `tk_null`, and the value of a `void` result.
    Null,
    Short(i16),
    Long(i32),
    LongLong(i64),
    UShort(u16),
    ULong(u32),
    ULongLong(u64),
    Float(f32),
    Double(f64),
    LongDouble(LongDouble),
    Boolean(bool),
    Char(char),
    WChar(char),
    Octet(u8),
    String(String),
    WString(String),
    Fixed(Fixed),
    /// An enumerator, by its position in the enum.
    Enum(u32),
    /// A struct or exception: members in order, with their names.
    Struct(Vec<(String, Self)>),
    /// A union: the discriminator, and the selected member (none when the
    /// discriminator selects no case and there is no default).
    Union {
        discriminator: Box<Self>,
        member: Option<Box<Self>>,
    },
    /// A sequence (of anything but octets).
    Sequence(Vec<Self>),
    /// A `sequence<octet>` (or `Principal`). Encoding also accepts a
    /// [`Value::Sequence`] of [`Value::Octet`]s for it.
    Octets(Bytes),
    /// An array (one dimension; nested for several).
    Array(Vec<Self>),
    /// An `any`: its TypeCode and value.
    Any(Box<TypeCode>, Box<Self>),
    /// A `TypeCode`.
    TypeCode(Box<TypeCode>),
    /// An object reference (nil: [`Ior::default`]).
    ObjRef(Ior),
    /// A value box: `None` is the null value.
    ValueBox(Option<Box<Self>>),
    /// A valuetype's state members (its bases' first); `None` is null.
    Valuetype(Option<Vec<(String, Self)>>),
    /// The same valuetype or value box as one marshalled earlier in the
    /// same stream (a shared reference, or a cycle back to a value still
    /// being marshalled): the `n`th non-null value, counting from 0 in the
    /// order the values start (depth first, a value before its members),
    /// over every value [`decode_many`]/[`encode_many`] read or write
    /// together (one GIOP body). Sent as an indirection.
    ValueRef(u32),
    /// A valuetype of a type derived from the formal one (a `Circle` where
    /// a `Shape` is expected): its repository id and state members (bases'
    /// first). Read and written through [`ValueFactories`] that know the
    /// type.
    DerivedValuetype {
        id: String,
        members: Vec<(String, Self)>,
    },
}

/// A `fixed` value: decimal digits and a scale.
///
/// The value is `(-1)^negative * digits * 10^-scale`. Decoded values are
/// normalised: no leading zeros (zero is `"0"`, never negative) and the
/// scale of their TypeCode.
#[derive(Clone, Debug, Default, Eq, Hash, PartialEq)]
pub struct Fixed {
    /// Whether the value is below zero.
    pub negative: bool,
    /// The unscaled decimal digits, ASCII `0`–`9`.
    pub digits: String,
    /// How many of the digits are after the decimal point.
    pub scale: u16,
}

impl Fixed {
    /// Parses `-123.45` (an optional sign, digits, an optional point).
    pub fn parse(text: &str) -> Option<Self> {
        let (negative, rest) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let (int, frac) = rest.split_once('.').unwrap_or((rest, ""));
        if int.is_empty() && frac.is_empty()
            || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
            || int.len() + frac.len() > usize::from(MAX_FIXED_DIGITS) * 2
        {
            return None;
        }
        let scale = u16::try_from(frac.len()).ok()?;
        let mut f = Self {
            negative,
            digits: format!("{int}{frac}"),
            scale,
        };
        f.normalise();
        Some(f)
    }

    fn normalise(&mut self) {
        let trimmed = self.digits.trim_start_matches('0');
        self.digits = if trimmed.is_empty() {
            "0".to_owned()
        } else {
            trimmed.to_owned()
        };
        if self.digits == "0" {
            self.negative = false;
        }
    }

    /// The digits rescaled to `scale`, without leading zeros; `None` if
    /// that would drop non-zero digits.
    fn digits_at_scale(&self, scale: u16) -> Option<String> {
        if !self.digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let mut digits = self.digits.clone();
        if scale >= self.scale {
            digits.extend(std::iter::repeat_n('0', usize::from(scale - self.scale)));
        } else {
            let drop = usize::from(self.scale - scale);
            let keep = digits.len().saturating_sub(drop);
            if digits
                .get(keep..)
                .is_some_and(|t| t.bytes().any(|b| b != b'0'))
            {
                return None;
            }
            digits.truncate(keep);
        }
        let trimmed = digits.trim_start_matches('0');
        Some(trimmed.to_owned())
    }
}

impl fmt::Display for Fixed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.negative {
            f.write_str("-")?;
        }
        let scale = usize::from(self.scale);
        if !self.digits.bytes().all(|b| b.is_ascii_digit()) {
            // Not a valid fixed value; show it as it is.
            return write!(f, "{}e-{scale}", self.digits);
        }
        let padded = if self.digits.len() <= scale {
            format!(
                "{}{}",
                "0".repeat(scale + 1 - self.digits.len()),
                self.digits
            )
        } else {
            self.digits.clone()
        };
        let (int, frac) = padded.split_at(padded.len() - scale);
        if frac.is_empty() {
            f.write_str(int)
        } else {
            write!(f, "{int}.{frac}")
        }
    }
}

/// Limits on one decoded value.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct DecodeLimits {
    /// How deeply constructed values may nest.
    pub max_depth: u32,
    /// How many value nodes one call may produce (memory bound; each node
    /// takes a few tens of bytes).
    pub max_values: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self {
            max_depth: DEFAULT_VALUE_DEPTH,
            max_values: DEFAULT_MAX_VALUES,
        }
    }
}

/// The default nesting limit of values.
pub const DEFAULT_VALUE_DEPTH: u32 = 64;
/// The default limit on value nodes per decode: about 64 MiB of [`Value`]s
/// at most (octet sequences are one node, whatever their length).
pub const DEFAULT_MAX_VALUES: usize = 1 << 20;

fn mismatch(tc: &TypeCode, v: &Value) -> Error {
    Error::TypeMismatch(format!(
        "a {} value for a typecode of kind {}",
        v.kind_name(),
        tc.kind()
    ))
}

impl Value {
    /// A short name of the value's variant, for messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::Short(_) => "short",
            Self::Long(_) => "long",
            Self::LongLong(_) => "long long",
            Self::UShort(_) => "unsigned short",
            Self::ULong(_) => "unsigned long",
            Self::ULongLong(_) => "unsigned long long",
            Self::Float(_) => "float",
            Self::Double(_) => "double",
            Self::LongDouble(_) => "long double",
            Self::Boolean(_) => "boolean",
            Self::Char(_) => "char",
            Self::WChar(_) => "wchar",
            Self::Octet(_) => "octet",
            Self::String(_) => "string",
            Self::WString(_) => "wstring",
            Self::Fixed(_) => "fixed",
            Self::Enum(_) => "enum",
            Self::Struct(_) => "struct",
            Self::Union { .. } => "union",
            Self::Sequence(_) => "sequence",
            Self::Octets(_) => "octets",
            Self::Array(_) => "array",
            Self::Any(..) => "any",
            Self::TypeCode(_) => "typecode",
            Self::ObjRef(_) => "object reference",
            Self::ValueBox(_) => "value box",
            Self::Valuetype(_) => "valuetype",
            Self::ValueRef(_) => "shared value reference",
            Self::DerivedValuetype { .. } => "derived valuetype",
        }
    }
}

/// Decodes a value of type `tc` with the default [`DecodeLimits`].
pub fn decode(tc: &TypeCode, r: &mut CdrReader) -> Result<Value> {
    decode_with(tc, r, DecodeLimits::default())
}

/// Decodes a value of type `tc` within `limits`.
pub fn decode_with(tc: &TypeCode, r: &mut CdrReader, limits: DecodeLimits) -> Result<Value> {
    Decoder::new(limits).decode(tc, r, &mut Vec::new(), 0)
}

/// Decodes consecutive values of the types `tcs`, such as the arguments of
/// one request or reply body, within `limits` (counted over all of them).
///
/// They share one valuetype scope: a value may be a shared reference
/// ([`Value::ValueRef`]) to a value of an earlier one, as ORBs send a
/// value passed as two arguments.
pub fn decode_many(
    tcs: &[&TypeCode],
    r: &mut CdrReader,
    limits: DecodeLimits,
) -> Result<Vec<Value>> {
    decode_many_with(tcs, r, limits, &ValueFactories::new())
}

/// [`decode_many`] with value factories: a value of a type derived from
/// the formal one that `factories` knows is read as a
/// [`Value::DerivedValuetype`] (truncated to the most derived type it
/// knows when the value is truncatable).
pub fn decode_many_with(
    tcs: &[&TypeCode],
    r: &mut CdrReader,
    limits: DecodeLimits,
    factories: &ValueFactories,
) -> Result<Vec<Value>> {
    let mut ctx = Decoder::new(limits);
    ctx.factories = Some(factories);
    tcs.iter()
        .map(|tc| ctx.decode(tc, r, &mut Vec::new(), 0))
        .collect()
}

/// Decodes a value at a given depth (union labels inside TypeCodes).
pub(crate) fn decode_with_depth(tc: &TypeCode, r: &mut CdrReader, depth: u32) -> Result<Value> {
    let mut ctx = Decoder::new(DecodeLimits {
        max_depth: DEFAULT_VALUE_DEPTH,
        max_values: 16,
    });
    ctx.decode(tc, r, &mut Vec::new(), depth)
}

/// Encodes `value` as a value of type `tc`, checking that it matches
/// (kinds, bounds, enum ranges, union discriminators, member names).
pub fn encode(tc: &TypeCode, value: &Value, w: &mut CdrWriter<'_>) -> Result<()> {
    Encoder::new().encode(tc, value, w, &mut Vec::new(), 0)
}

/// Encodes consecutive values (the arguments of one request or reply
/// body) in one valuetype scope, the inverse of [`decode_many`]: a
/// [`Value::ValueRef`] may refer to a value of an earlier item.
pub fn encode_many(items: &[(&TypeCode, &Value)], w: &mut CdrWriter<'_>) -> Result<()> {
    encode_many_with(items, w, &ValueFactories::new())
}

/// [`encode_many`] with value factories, which must know the type of
/// every [`Value::DerivedValuetype`].
pub fn encode_many_with(
    items: &[(&TypeCode, &Value)],
    w: &mut CdrWriter<'_>,
    factories: &ValueFactories,
) -> Result<()> {
    let mut ctx = Encoder::new();
    ctx.factories = Some(factories);
    items
        .iter()
        .try_for_each(|(tc, v)| ctx.encode(tc, v, w, &mut Vec::new(), 0))
}

/// Encodes a value at a given depth (union labels inside TypeCodes).
pub(crate) fn encode_with_depth(
    tc: &TypeCode,
    value: &Value,
    w: &mut CdrWriter<'_>,
    depth: u32,
) -> Result<()> {
    Encoder::new().encode(tc, value, w, &mut Vec::new(), depth)
}

/// Decodes a TypeCode and then a value of it from `bytes`, an
/// encapsulation (byte-order octet first) holding an `any`; everything must
/// be used. The fuzzing entry point of the dynamic codec.
pub fn decode_any_encapsulation(bytes: &[u8]) -> Result<Value> {
    let mut r =
        CdrReader::from_encapsulation(Bytes::copy_from_slice(bytes), crate::GiopVersion::V1_2)?;
    let v = decode(&TypeCode::Any, &mut r)?;
    r.finish()?;
    Ok(v)
}

/// Encodes an `any` holding `value` of type `tc` as an encapsulation in
/// the given byte order (the inverse of [`decode_any_encapsulation`]).
pub fn encode_any_encapsulation(
    tc: &TypeCode,
    value: &Value,
    byte_order: crate::cdr::ByteOrder,
) -> Result<Bytes> {
    let mut buf = BytesMut::new();
    let mut w = CdrWriter::new(&mut buf, byte_order, crate::GiopVersion::V1_2);
    w.write_octet(byte_order.flag());
    tc.write(&mut w)?;
    encode(tc, value, &mut w)?;
    Ok(buf.freeze())
}

/// The key a discriminator value selects union cases by; `None` if the
/// value is not of the (unaliased) discriminator type `disc`.
pub(crate) fn discriminator_key(disc: &TypeCode, v: &Value) -> Option<i128> {
    Some(match (disc, v) {
        (TypeCode::Short, Value::Short(x)) => i128::from(*x),
        (TypeCode::Long, Value::Long(x)) => i128::from(*x),
        (TypeCode::LongLong, Value::LongLong(x)) => i128::from(*x),
        (TypeCode::UShort, Value::UShort(x)) => i128::from(*x),
        (TypeCode::ULong, Value::ULong(x)) => i128::from(*x),
        (TypeCode::ULongLong, Value::ULongLong(x)) => i128::from(*x),
        (TypeCode::Boolean, Value::Boolean(x)) => i128::from(*x),
        (TypeCode::Char, Value::Char(x)) | (TypeCode::WChar, Value::WChar(x)) => {
            i128::from(u32::from(*x))
        }
        (TypeCode::Enum { members, .. }, Value::Enum(x))
            if usize::try_from(*x).is_ok_and(|x| x < members.len()) =>
        {
            i128::from(*x)
        }
        _ => return None,
    })
}

/// The least number of bytes a value of `tc` takes (alignment aside).
fn min_size(tc: &TypeCode, depth: u32) -> usize {
    if depth > DEFAULT_VALUE_DEPTH {
        return 0;
    }
    match tc {
        TypeCode::Null | TypeCode::Void | TypeCode::Recursive(_) => 0,
        TypeCode::Boolean | TypeCode::Char | TypeCode::Octet | TypeCode::WChar => 1,
        TypeCode::Short | TypeCode::UShort => 2,
        TypeCode::Long | TypeCode::ULong | TypeCode::Float | TypeCode::Enum { .. } => 4,
        TypeCode::LongLong | TypeCode::ULongLong | TypeCode::Double => 8,
        TypeCode::LongDouble => 16,
        TypeCode::String(_)
        | TypeCode::WString(_)
        | TypeCode::Sequence { .. }
        | TypeCode::Principal
        | TypeCode::Any
        | TypeCode::TypeCode
        | TypeCode::Value { .. }
        | TypeCode::ValueBox { .. } => 4,
        TypeCode::ObjRef { .. }
        | TypeCode::AbstractInterface { .. }
        | TypeCode::LocalInterface { .. }
        | TypeCode::Native { .. } => 8,
        TypeCode::Fixed { digits, .. } => usize::from(*digits / 2 + 1),
        TypeCode::Struct { members, .. } => members
            .iter()
            .fold(0usize, |n, m| n.saturating_add(min_size(&m.ty, depth + 1))),
        TypeCode::Except { members, .. } => members
            .iter()
            .fold(4usize, |n, m| n.saturating_add(min_size(&m.ty, depth + 1))),
        TypeCode::Union { discriminator, .. } => min_size(discriminator, depth + 1),
        TypeCode::Array { element, length } => usize::try_from(*length)
            .unwrap_or(usize::MAX)
            .saturating_mul(min_size(element, depth + 1)),
        TypeCode::Alias { original, .. } => min_size(original, depth + 1),
    }
}

/// Finds the enclosing TypeCode a recursive node names.
fn resolve<'t>(id: &str, enclosing: &[&'t TypeCode]) -> Result<&'t TypeCode> {
    enclosing
        .iter()
        .rev()
        .find(|tc| tc.id() == Some(id))
        .copied()
        .ok_or_else(|| {
            Error::InvalidTypeCode(format!("recursive typecode {id} has no enclosing type"))
        })
}

/// Whether values of `tc` are one primitive on the wire, which chunked
/// valuetype state never splits (strings, octet sequences, object
/// references and TypeCodes included).
fn is_leaf(tc: &TypeCode) -> bool {
    matches!(
        tc,
        TypeCode::Short
            | TypeCode::Long
            | TypeCode::LongLong
            | TypeCode::UShort
            | TypeCode::ULong
            | TypeCode::ULongLong
            | TypeCode::Float
            | TypeCode::Double
            | TypeCode::LongDouble
            | TypeCode::Boolean
            | TypeCode::Char
            | TypeCode::WChar
            | TypeCode::Octet
            | TypeCode::String(_)
            | TypeCode::WString(_)
            | TypeCode::Fixed { .. }
            | TypeCode::Principal
            | TypeCode::Enum { .. }
            | TypeCode::TypeCode
            | TypeCode::ObjRef { .. }
            | TypeCode::LocalInterface { .. }
            | TypeCode::AbstractInterface { .. }
            | TypeCode::Native { .. }
    )
}

/// The repository ids a value of `tc` is sent with: its own, then its
/// bases' as long as each is truncatable to the next.
fn truncatable_ids<'t>(tc: &'t TypeCode, enclosing: &[&'t TypeCode]) -> Result<Vec<&'t str>> {
    let mut ids = Vec::new();
    let mut cur = tc;
    for _ in 0..DEFAULT_VALUE_DEPTH {
        match cur.unalias() {
            TypeCode::Value {
                id, modifier, base, ..
            } => {
                ids.push(id.as_str());
                if *modifier != 3 {
                    return Ok(ids);
                }
                cur = base;
            }
            TypeCode::Recursive(id) => cur = resolve(id, enclosing)?,
            _ => return Ok(ids),
        }
    }
    Err(Error::DepthLimitExceeded(DEFAULT_VALUE_DEPTH))
}

struct Decoder<'f> {
    max_depth: u32,
    budget: usize,
    limit: usize,
    values: ValueReader,
    factories: Option<&'f ValueFactories>,
}

impl Decoder<'_> {
    fn new(limits: DecodeLimits) -> Self {
        Self {
            max_depth: limits.max_depth,
            budget: limits.max_values,
            limit: limits.max_values,
            values: ValueReader::default(),
            factories: None,
        }
    }

    fn spend(&mut self, n: usize) -> Result<()> {
        match self.budget.checked_sub(n) {
            Some(rest) => {
                self.budget = rest;
                Ok(())
            }
            None => Err(Error::LimitExceeded {
                what: "decoded values",
                value: self.limit.saturating_add(n.saturating_sub(self.budget)),
                limit: self.limit,
            }),
        }
    }

    /// Reads an element count, checked against the bound, the bytes that
    /// remain and the value budget, before anything is allocated.
    fn count(
        &mut self,
        r: &mut CdrReader,
        element: &TypeCode,
        raw: u32,
        bound: u32,
    ) -> Result<usize> {
        if bound != 0 && raw > bound {
            return Err(Error::LimitExceeded {
                what: "sequence length",
                value: usize::try_from(raw).unwrap_or(usize::MAX),
                limit: usize::try_from(bound).unwrap_or(usize::MAX),
            });
        }
        let n = usize::try_from(raw).map_err(|_| Error::LengthOverflow(usize::MAX))?;
        let min = min_size(element, 0);
        if min > 0 && n.saturating_mul(min) > r.remaining() {
            return Err(Error::LengthExceedsInput {
                length: raw,
                remaining: r.remaining(),
            });
        }
        self.spend(n)?;
        Ok(n)
    }

    fn decode<'t>(
        &mut self,
        tc: &'t TypeCode,
        r: &mut CdrReader,
        enclosing: &mut Vec<&'t TypeCode>,
        depth: u32,
    ) -> Result<Value> {
        if depth > self.max_depth {
            return Err(Error::DepthLimitExceeded(self.max_depth));
        }
        self.spend(1)?;
        let leaf = self.values.chunking() && is_leaf(tc);
        if leaf {
            self.values.enter_leaf(r)?;
        }
        let v = self.decode_inner(tc, r, enclosing, depth)?;
        if leaf {
            self.values.leave_leaf(r)?;
        }
        Ok(v)
    }

    fn decode_inner<'t>(
        &mut self,
        tc: &'t TypeCode,
        r: &mut CdrReader,
        enclosing: &mut Vec<&'t TypeCode>,
        depth: u32,
    ) -> Result<Value> {
        Ok(match tc {
            TypeCode::Null | TypeCode::Void => Value::Null,
            TypeCode::Short => Value::Short(r.read_short()?),
            TypeCode::Long => Value::Long(r.read_long()?),
            TypeCode::LongLong => Value::LongLong(r.read_longlong()?),
            TypeCode::UShort => Value::UShort(r.read_ushort()?),
            TypeCode::ULong => Value::ULong(r.read_ulong()?),
            TypeCode::ULongLong => Value::ULongLong(r.read_ulonglong()?),
            TypeCode::Float => Value::Float(r.read_float()?),
            TypeCode::Double => Value::Double(r.read_double()?),
            TypeCode::LongDouble => Value::LongDouble(r.read_long_double()?),
            TypeCode::Boolean => Value::Boolean(r.read_boolean()?),
            TypeCode::Char => Value::Char(r.read_char()?),
            TypeCode::WChar => Value::WChar(r.read_wchar()?),
            TypeCode::Octet => Value::Octet(r.read_octet()?),
            TypeCode::String(bound) => {
                let s = r.read_string()?;
                check_bound("string", s.chars().count(), *bound)?;
                Value::String(s)
            }
            TypeCode::WString(bound) => {
                let s = r.read_wstring()?;
                check_bound("wstring", s.chars().count(), *bound)?;
                Value::WString(s)
            }
            TypeCode::Fixed { digits, scale } => Value::Fixed(read_fixed(r, *digits, *scale)?),
            TypeCode::Principal => Value::Octets(r.read_octet_sequence()?),
            TypeCode::Enum { members, .. } => {
                let v = r.read_ulong()?;
                if usize::try_from(v).map_or(true, |v| v >= members.len()) {
                    return Err(Error::InvalidEnum {
                        what: "enum",
                        value: v,
                    });
                }
                Value::Enum(v)
            }
            TypeCode::Struct { members, .. } => {
                enclosing.push(tc);
                let out = self.members(members, r, enclosing, depth);
                enclosing.pop();
                Value::Struct(out?)
            }
            TypeCode::Except { id, members, .. } => {
                self.values.enter_leaf(r)?;
                let found = r.read_string()?;
                self.values.leave_leaf(r)?;
                if found != *id {
                    return Err(Error::TypeMismatch(format!(
                        "exception {found} where {id} was expected"
                    )));
                }
                enclosing.push(tc);
                let out = self.members(members, r, enclosing, depth);
                enclosing.pop();
                Value::Struct(out?)
            }
            TypeCode::Union {
                discriminator,
                cases,
                ..
            } => {
                enclosing.push(tc);
                let out = self.union(discriminator, cases, r, enclosing, depth);
                enclosing.pop();
                out?
            }
            TypeCode::Sequence { element, bound } => {
                self.values.enter_leaf(r)?;
                let raw = r.read_ulong()?;
                if matches!(**element, TypeCode::Octet) {
                    check_bound(
                        "sequence",
                        usize::try_from(raw).unwrap_or(usize::MAX),
                        *bound,
                    )?;
                    let n = usize::try_from(raw).map_err(|_| Error::LengthOverflow(usize::MAX))?;
                    let bytes = r.read_octets(n)?;
                    self.values.leave_leaf(r)?;
                    return Ok(Value::Octets(bytes));
                }
                self.values.leave_leaf(r)?;
                let n = self.count(r, element, raw, *bound)?;
                let mut items = Vec::with_capacity(n.min(r.remaining().saturating_add(64)));
                for _ in 0..n {
                    items.push(self.decode(element, r, enclosing, depth + 1)?);
                }
                Value::Sequence(items)
            }
            TypeCode::Array { element, length } => {
                let n = self.count(r, element, *length, 0)?;
                let mut items = Vec::with_capacity(n.min(r.remaining().saturating_add(64)));
                for _ in 0..n {
                    items.push(self.decode(element, r, enclosing, depth + 1)?);
                }
                Value::Array(items)
            }
            TypeCode::Alias { original, .. } => {
                return self.decode(original, r, enclosing, depth + 1);
            }
            TypeCode::Any => {
                self.values.enter_leaf(r)?;
                let inner_tc = r.nested(TypeCode::read)?;
                self.values.leave_leaf(r)?;
                let v = self.decode(&inner_tc, r, &mut Vec::new(), depth + 1)?;
                Value::Any(Box::new(inner_tc), Box::new(v))
            }
            TypeCode::TypeCode => Value::TypeCode(Box::new(r.nested(TypeCode::read)?)),
            TypeCode::ObjRef { .. } | TypeCode::LocalInterface { .. } => {
                Value::ObjRef(Ior::read(r)?)
            }
            TypeCode::AbstractInterface { .. } => {
                // A boolean: TRUE then an object reference, FALSE then a value.
                if r.read_boolean()? {
                    Value::ObjRef(Ior::read(r)?)
                } else {
                    return Err(Error::Unsupported("abstract interface holding a valuetype"));
                }
            }
            TypeCode::Native { .. } => {
                return Err(Error::Unsupported("native types cannot be marshalled"));
            }
            TypeCode::ValueBox { id, boxed, .. } => {
                match self.values.read_header(r, &Sort::Boxed(id.clone()))? {
                    Header::Null => Value::ValueBox(None),
                    Header::Shared(index) => Value::ValueRef(index),
                    Header::Value { ids, chunked } => {
                        if ids.first().is_some_and(|first| first != id) {
                            return Err(Error::Unsupported(NO_VALUE_FACTORY));
                        }
                        let inner = self.decode(boxed, r, enclosing, depth + 1)?;
                        self.values
                            .end_value(r, chunked, false, depth, self.max_depth)?;
                        Value::ValueBox(Some(Box::new(inner)))
                    }
                }
            }
            TypeCode::Value { id, .. } => match self.values.read_header(r, &Sort::Valuetype)? {
                Header::Null => Value::Valuetype(None),
                Header::Shared(index) => Value::ValueRef(index),
                Header::Value { ids, chunked } => {
                    // The first id the receiver knows: the formal type, or
                    // a type derived from it the factories know. Ids before
                    // it are more derived types, truncated (their state
                    // skipped), which needs chunking.
                    let factories = self.factories;
                    let known = ids.iter().position(|x| {
                        x == id || factories.is_some_and(|f| f.get(x).is_some() && f.fits(x, id))
                    });
                    let (at, actual) = match known {
                        None if ids.is_empty() => (0, None),
                        None => return Err(Error::Unsupported(NO_VALUE_FACTORY)),
                        Some(at) => (
                            at,
                            ids.get(at)
                                .filter(|x| *x != id)
                                .and_then(|x| factories.and_then(|f| f.get(x))),
                        ),
                    };
                    let truncate = at > 0;
                    if truncate && !chunked {
                        return Err(Error::Unsupported(NO_VALUE_FACTORY));
                    }
                    match actual {
                        None => {
                            enclosing.push(tc);
                            let members = self.state(tc, r, enclosing, depth);
                            enclosing.pop();
                            let members = members?;
                            self.values
                                .end_value(r, chunked, truncate, depth, self.max_depth)?;
                            Value::Valuetype(Some(members))
                        }
                        Some(derived) => {
                            let mut own = vec![derived];
                            let members = self.state(derived, r, &mut own, depth)?;
                            self.values
                                .end_value(r, chunked, truncate, depth, self.max_depth)?;
                            Value::DerivedValuetype {
                                id: derived.id().unwrap_or_default().to_owned(),
                                members,
                            }
                        }
                    }
                }
            },
            TypeCode::Recursive(id) => {
                let target = resolve(id, enclosing)?;
                return self.decode(target, r, enclosing, depth + 1);
            }
        })
    }

    /// Reads the state members of the valuetype `tc` (already on the
    /// `enclosing` stack), its bases' first.
    fn state<'t>(
        &mut self,
        tc: &'t TypeCode,
        r: &mut CdrReader,
        enclosing: &mut Vec<&'t TypeCode>,
        depth: u32,
    ) -> Result<Vec<(String, Value)>> {
        let mut chain = Vec::new();
        value_chain(tc, enclosing, &mut chain)?;
        let mut out = Vec::with_capacity(chain.len());
        for m in chain {
            out.push((m.name.clone(), self.decode(&m.ty, r, enclosing, depth + 1)?));
        }
        Ok(out)
    }

    fn members<'t>(
        &mut self,
        members: &'t [super::typecode::Member],
        r: &mut CdrReader,
        enclosing: &mut Vec<&'t TypeCode>,
        depth: u32,
    ) -> Result<Vec<(String, Value)>> {
        let mut out = Vec::with_capacity(members.len());
        for m in members {
            out.push((m.name.clone(), self.decode(&m.ty, r, enclosing, depth + 1)?));
        }
        Ok(out)
    }

    fn union<'t>(
        &mut self,
        discriminator: &'t TypeCode,
        cases: &'t [super::typecode::UnionCase],
        r: &mut CdrReader,
        enclosing: &mut Vec<&'t TypeCode>,
        depth: u32,
    ) -> Result<Value> {
        let disc_tc = discriminator.unalias();
        let disc = self.decode(disc_tc, r, enclosing, depth + 1)?;
        let key = discriminator_key(disc_tc, &disc).ok_or(Error::InvalidEnum {
            what: "union discriminator",
            value: 0,
        })?;
        let case = select_case(disc_tc, cases, key);
        let member = match case {
            Some(case) => Some(Box::new(self.decode(&case.ty, r, enclosing, depth + 1)?)),
            None => None,
        };
        Ok(Value::Union {
            discriminator: Box::new(disc),
            member,
        })
    }
}

/// The state members of a valuetype, its concrete bases' first.
fn value_chain<'t>(
    tc: &'t TypeCode,
    enclosing: &[&'t TypeCode],
    out: &mut Vec<&'t super::typecode::ValueMember>,
) -> Result<()> {
    let mut chain = Vec::new();
    let mut cur = tc;
    for _ in 0..DEFAULT_VALUE_DEPTH {
        match cur.unalias() {
            TypeCode::Value {
                modifier,
                base,
                members,
                ..
            } => {
                if *modifier == 1 {
                    return Err(Error::Unsupported("custom valuetype"));
                }
                chain.push(members);
                cur = base;
            }
            TypeCode::Recursive(id) => cur = resolve(id, enclosing)?,
            TypeCode::Null => {
                for members in chain.into_iter().rev() {
                    out.extend(members.iter());
                }
                return Ok(());
            }
            _ => {
                return Err(Error::InvalidTypeCode(
                    "valuetype base is not a valuetype".into(),
                ));
            }
        }
    }
    Err(Error::DepthLimitExceeded(DEFAULT_VALUE_DEPTH))
}

/// The case a discriminator key selects: a labelled one, else the default.
fn select_case<'t>(
    disc: &TypeCode,
    cases: &'t [super::typecode::UnionCase],
    key: i128,
) -> Option<&'t super::typecode::UnionCase> {
    cases
        .iter()
        .find(|c| {
            c.label
                .as_ref()
                .is_some_and(|l| discriminator_key(disc, l) == Some(key))
        })
        .or_else(|| cases.iter().find(|c| c.label.is_none()))
}

fn check_bound(what: &'static str, len: usize, bound: u32) -> Result<()> {
    let bound = usize::try_from(bound).unwrap_or(usize::MAX);
    if bound != 0 && len > bound {
        return Err(Error::LimitExceeded {
            what,
            value: len,
            limit: bound,
        });
    }
    Ok(())
}

fn read_fixed(r: &mut CdrReader, digits: u16, scale: i16) -> Result<Fixed> {
    check_fixed(digits, scale)?;
    let len = usize::from(digits / 2 + 1);
    let bytes = r.read_octets(len)?;
    let mut nibbles: Vec<u8> = bytes.iter().flat_map(|b| [b >> 4, b & 0x0f]).collect();
    let sign = nibbles.pop().unwrap_or(0);
    let negative = match sign {
        0xC | 0xA | 0xE | 0xF => false,
        0xD | 0xB => true,
        other => {
            return Err(Error::InvalidEnum {
                what: "fixed sign nibble",
                value: u32::from(other),
            });
        }
    };
    let mut text = String::with_capacity(nibbles.len());
    for n in nibbles {
        if n > 9 {
            return Err(Error::InvalidEnum {
                what: "fixed digit",
                value: u32::from(n),
            });
        }
        text.push(char::from(b'0' + n));
    }
    let mut f = Fixed {
        negative,
        digits: text,
        scale: u16::try_from(scale).unwrap_or(0),
    };
    f.normalise();
    Ok(f)
}

fn write_fixed(w: &mut CdrWriter<'_>, f: &Fixed, digits: u16, scale: i16) -> Result<()> {
    check_fixed(digits, scale)?;
    let scale = u16::try_from(scale).unwrap_or(0);
    let text = f
        .digits_at_scale(scale)
        .ok_or_else(|| Error::TypeMismatch(format!("{f} does not fit fixed<{digits},{scale}>")))?;
    let total = usize::from(digits);
    if text.len() > total {
        return Err(Error::TypeMismatch(format!(
            "{f} does not fit fixed<{digits},{scale}>"
        )));
    }
    // Digits padded to an odd count, so that with the sign they fill whole octets.
    let width = total + usize::from(digits.is_multiple_of(2));
    let mut nibbles: Vec<u8> = std::iter::repeat_n(0u8, width - text.len())
        .chain(text.bytes().map(|b| b - b'0'))
        .collect();
    let zero = text.is_empty();
    nibbles.push(if f.negative && !zero { 0xD } else { 0xC });
    for pair in nibbles.chunks(2) {
        let hi = pair.first().copied().unwrap_or(0);
        let lo = pair.get(1).copied().unwrap_or(0);
        w.write_octet(hi << 4 | lo);
    }
    Ok(())
}

struct Encoder<'f> {
    max_depth: u32,
    values: ValueWriter,
    factories: Option<&'f ValueFactories>,
}

impl Encoder<'_> {
    fn new() -> Self {
        Self {
            max_depth: DEFAULT_VALUE_DEPTH,
            values: ValueWriter::default(),
            factories: None,
        }
    }

    fn encode<'t>(
        &mut self,
        tc: &'t TypeCode,
        v: &Value,
        w: &mut CdrWriter<'_>,
        enclosing: &mut Vec<&'t TypeCode>,
        depth: u32,
    ) -> Result<()> {
        if depth > self.max_depth {
            return Err(Error::DepthLimitExceeded(self.max_depth));
        }
        if self.values.chunking() && is_leaf(tc) {
            self.values.enter_leaf(w);
        }
        match (tc, v) {
            (TypeCode::Null | TypeCode::Void, Value::Null) => {}
            (TypeCode::Short, Value::Short(x)) => w.write_short(*x),
            (TypeCode::Long, Value::Long(x)) => w.write_long(*x),
            (TypeCode::LongLong, Value::LongLong(x)) => w.write_longlong(*x),
            (TypeCode::UShort, Value::UShort(x)) => w.write_ushort(*x),
            (TypeCode::ULong, Value::ULong(x)) => w.write_ulong(*x),
            (TypeCode::ULongLong, Value::ULongLong(x)) => w.write_ulonglong(*x),
            (TypeCode::Float, Value::Float(x)) => w.write_float(*x),
            (TypeCode::Double, Value::Double(x)) => w.write_double(*x),
            (TypeCode::LongDouble, Value::LongDouble(x)) => w.write_long_double(*x),
            (TypeCode::Boolean, Value::Boolean(x)) => w.write_boolean(*x),
            (TypeCode::Char, Value::Char(x)) => w.write_char(*x)?,
            (TypeCode::WChar, Value::WChar(x)) => w.write_wchar(*x)?,
            (TypeCode::Octet, Value::Octet(x)) => w.write_octet(*x),
            (TypeCode::String(bound), Value::String(s)) => {
                check_bound("string", s.chars().count(), *bound)?;
                w.write_string(s)?;
            }
            (TypeCode::WString(bound), Value::WString(s)) => {
                check_bound("wstring", s.chars().count(), *bound)?;
                w.write_wstring(s)?;
            }
            (TypeCode::Fixed { digits, scale }, Value::Fixed(f)) => {
                write_fixed(w, f, *digits, *scale)?
            }
            (TypeCode::Principal, Value::Octets(b)) => w.write_octet_sequence(b)?,
            (TypeCode::Enum { members, .. }, Value::Enum(x)) => {
                if usize::try_from(*x).map_or(true, |x| x >= members.len()) {
                    return Err(Error::InvalidEnum {
                        what: "enum",
                        value: *x,
                    });
                }
                w.write_ulong(*x);
            }
            (TypeCode::Struct { members, .. }, Value::Struct(values)) => {
                enclosing.push(tc);
                let out = self.members(members, values, w, enclosing, depth);
                enclosing.pop();
                out?;
            }
            (TypeCode::Except { id, members, .. }, Value::Struct(values)) => {
                self.values.enter_leaf(w);
                w.write_string(id)?;
                enclosing.push(tc);
                let out = self.members(members, values, w, enclosing, depth);
                enclosing.pop();
                out?;
            }
            (
                TypeCode::Union {
                    discriminator,
                    cases,
                    ..
                },
                Value::Union {
                    discriminator: disc,
                    member,
                },
            ) => {
                let disc_tc = discriminator.unalias();
                let key =
                    discriminator_key(disc_tc, disc).ok_or_else(|| mismatch(disc_tc, disc))?;
                enclosing.push(tc);
                let out = (|| {
                    self.encode(disc_tc, disc, w, enclosing, depth + 1)?;
                    match (select_case(disc_tc, cases, key), member) {
                        (Some(case), Some(m)) => self.encode(&case.ty, m, w, enclosing, depth + 1),
                        (None, None) => Ok(()),
                        (Some(case), None) => Err(Error::TypeMismatch(format!(
                            "union discriminator selects {} but no member is given",
                            case.name
                        ))),
                        (None, Some(_)) => Err(Error::TypeMismatch(
                            "union discriminator selects no member but one is given".into(),
                        )),
                    }
                })();
                enclosing.pop();
                out?;
            }
            (TypeCode::Sequence { element, bound }, Value::Octets(b))
                if matches!(**element, TypeCode::Octet) =>
            {
                check_bound("sequence", b.len(), *bound)?;
                self.values.enter_leaf(w);
                w.write_octet_sequence(b)?;
            }
            (
                TypeCode::Sequence { element, bound },
                Value::Sequence(items) | Value::Array(items),
            ) => {
                check_bound("sequence", items.len(), *bound)?;
                self.values.enter_leaf(w);
                w.write_length(items.len())?;
                for item in items {
                    self.encode(element, item, w, enclosing, depth + 1)?;
                }
            }
            (TypeCode::Array { element, length }, Value::Array(items) | Value::Sequence(items)) => {
                if usize::try_from(*length).ok() != Some(items.len()) {
                    return Err(Error::TypeMismatch(format!(
                        "array of {length} given {} elements",
                        items.len()
                    )));
                }
                for item in items {
                    self.encode(element, item, w, enclosing, depth + 1)?;
                }
            }
            (TypeCode::Array { element, length }, Value::Octets(b))
                if matches!(**element, TypeCode::Octet) =>
            {
                if usize::try_from(*length).ok() != Some(b.len()) {
                    return Err(Error::TypeMismatch(format!(
                        "array of {length} given {} octets",
                        b.len()
                    )));
                }
                self.values.enter_leaf(w);
                w.write_octets(b);
            }
            (TypeCode::Alias { original, .. }, v) => {
                self.encode(original, v, w, enclosing, depth + 1)?;
            }
            (TypeCode::Any, Value::Any(inner_tc, inner)) => {
                self.values.enter_leaf(w);
                inner_tc.write(w)?;
                self.encode(inner_tc, inner, w, &mut Vec::new(), depth + 1)?;
            }
            (TypeCode::TypeCode, Value::TypeCode(inner)) => inner.write(w)?,
            (TypeCode::ObjRef { .. } | TypeCode::LocalInterface { .. }, Value::ObjRef(ior)) => {
                ior.write(w)?;
            }
            (TypeCode::AbstractInterface { .. }, Value::ObjRef(ior)) => {
                w.write_boolean(true);
                ior.write(w)?;
            }
            (TypeCode::ValueBox { .. }, Value::ValueBox(None))
            | (TypeCode::Value { .. }, Value::Valuetype(None)) => self.values.write_null(w),
            (TypeCode::ValueBox { id, .. }, Value::ValueRef(index)) => {
                self.values
                    .write_shared(w, *index, &Sort::Boxed(id.clone()))?;
            }
            (TypeCode::Value { .. }, Value::ValueRef(index)) => {
                self.values.write_shared(w, *index, &Sort::Valuetype)?;
            }
            (TypeCode::ValueBox { id, boxed, .. }, Value::ValueBox(Some(inner))) => {
                let chunked =
                    self.values
                        .begin_value(w, &[id.as_str()], false, Sort::Boxed(id.clone()))?;
                self.encode(boxed, inner, w, enclosing, depth + 1)?;
                self.values.end_value(w, chunked)?;
            }
            (TypeCode::Value { modifier, .. }, Value::Valuetype(Some(values))) => {
                if *modifier == 2 {
                    return Err(Error::Unsupported(
                        "a value of an abstract valuetype (its concrete type is not known)",
                    ));
                }
                self.state(tc, values, w, enclosing, depth)?;
            }
            (
                TypeCode::Value { id: formal, .. },
                Value::DerivedValuetype {
                    id,
                    members: values,
                },
            ) => {
                let factories = self.factories;
                let actual = factories
                    .filter(|f| f.fits(id, formal))
                    .and_then(|f| f.get(id))
                    .ok_or_else(|| {
                        Error::TypeMismatch(format!(
                            "valuetype {id} is not known as a type derived from {formal}"
                        ))
                    })?;
                self.state(actual, values, w, &mut Vec::new(), depth)?;
            }
            (TypeCode::Recursive(id), v) => {
                let target = resolve(id, enclosing)?;
                self.encode(target, v, w, enclosing, depth + 1)?;
            }
            (tc, v) => return Err(mismatch(tc, v)),
        }
        Ok(())
    }

    /// Writes a valuetype of type `tc`: tag, ids, state members (bases'
    /// first), end tag when chunked.
    fn state<'t>(
        &mut self,
        tc: &'t TypeCode,
        values: &[(String, Value)],
        w: &mut CdrWriter<'_>,
        enclosing: &mut Vec<&'t TypeCode>,
        depth: u32,
    ) -> Result<()> {
        let TypeCode::Value { id, modifier, .. } = tc else {
            return Err(Error::InvalidTypeCode(format!(
                "a valuetype of kind {}",
                tc.kind()
            )));
        };
        if *modifier == 1 {
            return Err(Error::Unsupported("custom valuetype"));
        }
        let mut chain = Vec::new();
        value_chain(tc, enclosing, &mut chain)?;
        if chain.len() != values.len() {
            return Err(Error::TypeMismatch(format!(
                "valuetype {id} has {} members, {} given",
                chain.len(),
                values.len()
            )));
        }
        let ids = truncatable_ids(tc, enclosing)?;
        let chunked = self
            .values
            .begin_value(w, &ids, *modifier == 3, Sort::Valuetype)?;
        enclosing.push(tc);
        let out = chain.iter().zip(values).try_for_each(|(m, (name, v))| {
            if *name != m.name {
                return Err(Error::TypeMismatch(format!(
                    "member {name} where {} was expected",
                    m.name
                )));
            }
            self.encode(&m.ty, v, w, enclosing, depth + 1)
        });
        enclosing.pop();
        out?;
        self.values.end_value(w, chunked)
    }

    fn members<'t>(
        &mut self,
        members: &'t [super::typecode::Member],
        values: &[(String, Value)],
        w: &mut CdrWriter<'_>,
        enclosing: &mut Vec<&'t TypeCode>,
        depth: u32,
    ) -> Result<()> {
        if members.len() != values.len() {
            return Err(Error::TypeMismatch(format!(
                "{} members where {} were expected",
                values.len(),
                members.len()
            )));
        }
        for (m, (name, v)) in members.iter().zip(values) {
            if *name != m.name {
                return Err(Error::TypeMismatch(format!(
                    "member {name} where {} was expected",
                    m.name
                )));
            }
            self.encode(&m.ty, v, w, enclosing, depth + 1)?;
        }
        Ok(())
    }
}
