//! IDL types as Rust types, and the CDR code that reads and writes them.
//!
//! Everything here returns Rust source text. Encoding code is written
//! against a writer named `w`, decoding code against a reader named `r`;
//! both run inside functions returning `ithaca_idl::Result`, so they use
//! `?`. Aliases are followed to the type they stand for, so the bounds of
//! a typedef'd `string<8>` are checked wherever it is used.

use std::collections::HashSet;

use super::Generator;
use crate::front::model::{DeclId, DeclKind, Type};

/// The runtime module, as generated code names it.
pub(crate) const RT: &str = "::ithaca_idl::codegen::runtime";

/// Arrays with more elements than this are `Vec`s with a checked length
/// instead of Rust arrays (which would live on the stack).
pub(crate) const MAX_RUST_ARRAY: u64 = 1024;

/// How generated code holds the value being written.
#[derive(Clone, Debug)]
pub(crate) enum Val {
    /// A place of the Rust type itself (`self.x`, a local, a literal).
    Place(String),
    /// A name bound to a reference to it (`&T`, `&mut T`, `&str`, `&[T]`).
    Ref(String),
}

impl Val {
    /// The value as a shared reference.
    fn as_ref(&self) -> String {
        match self {
            Self::Place(p) => format!("&{p}"),
            Self::Ref(r) => r.clone(),
        }
    }

    /// The value itself (for `Copy` types).
    fn copied(&self) -> String {
        match self {
            Self::Place(p) => p.clone(),
            Self::Ref(r) => format!("*{r}"),
        }
    }

    /// An expression to call methods on (auto-deref does the rest).
    fn receiver(&self) -> String {
        match self {
            Self::Place(p) | Self::Ref(p) => p.clone(),
        }
    }
}

/// Why a type cannot be generated.
pub(crate) type Unsupported = String;

impl Generator<'_> {
    /// The Rust type of an IDL type, as seen from module `cur`.
    pub(crate) fn rust_type(&self, ty: &Type, cur: &[String]) -> Result<String, Unsupported> {
        Ok(match ty {
            Type::Short => "i16".into(),
            Type::Long => "i32".into(),
            Type::LongLong => "i64".into(),
            Type::UShort => "u16".into(),
            Type::ULong => "u32".into(),
            Type::ULongLong => "u64".into(),
            Type::Float => "f32".into(),
            Type::Double => "f64".into(),
            Type::LongDouble => "::ithaca_idl::cdr::LongDouble".into(),
            Type::Char | Type::WChar => "char".into(),
            Type::Boolean => "bool".into(),
            Type::Octet => "u8".into(),
            Type::Any => format!("{RT}::Any"),
            Type::Object => "::ithaca_idl::ior::Ior".into(),
            Type::TypeCode => "::ithaca_idl::dynamic::TypeCode".into(),
            Type::String(_) | Type::WString(_) => "::std::string::String".into(),
            Type::Fixed(_) => "::ithaca_idl::dynamic::Fixed".into(),
            Type::Sequence(elem, _) => {
                format!("::std::vec::Vec<{}>", self.rust_type(elem, cur)?)
            }
            Type::Array(elem, dims) => {
                let mut out = self.rust_type(elem, cur)?;
                let rust_array = array_is_rust(dims);
                for d in dims.iter().rev() {
                    out = if rust_array {
                        format!("[{out}; {d}]")
                    } else {
                        format!("::std::vec::Vec<{out}>")
                    };
                }
                out
            }
            Type::Named(id) => self.named_type(*id, cur)?,
            Type::ValueBase => return Err("ValueBase".into()),
            Type::Error => return Err("a type with errors".into()),
        })
    }

    fn named_type(&self, id: DeclId, cur: &[String]) -> Result<String, Unsupported> {
        let decl = self
            .model
            .get(id)
            .ok_or_else(|| "an unknown type".to_owned())?;
        match &decl.kind {
            DeclKind::Struct { .. }
            | DeclKind::Union { .. }
            | DeclKind::Enum(_)
            | DeclKind::Exception(_)
            | DeclKind::Alias(_) => Ok(self.path_to(id, cur)),
            DeclKind::Interface { .. } => Ok("::ithaca_idl::ior::Ior".into()),
            DeclKind::Builtin(t) => self.rust_type(t, cur),
            DeclKind::Value { .. } | DeclKind::ValueBox(_) => {
                Err(format!("valuetype {}", decl.scoped_name))
            }
            DeclKind::Native => Err(format!("native type {}", decl.scoped_name)),
            _ => Err(format!("{} as a type", decl.scoped_name)),
        }
    }

    /// The type a client passes an `in` argument as: small types by value,
    /// strings as `&str`, sequences as slices, the rest by reference.
    pub(crate) fn client_in_type(&self, ty: &Type, cur: &[String]) -> Result<String, Unsupported> {
        let t = self.model.unalias(ty);
        Ok(match t {
            _ if self.by_value(t) => self.rust_type(ty, cur)?,
            Type::String(_) | Type::WString(_) => "&str".into(),
            Type::Sequence(elem, _) => format!("&[{}]", self.rust_type(elem, cur)?),
            _ => format!("&{}", self.rust_type(ty, cur)?),
        })
    }

    /// Whether a client passes an `in` argument of this type by value.
    pub(crate) fn by_value(&self, ty: &Type) -> bool {
        let t = self.model.unalias(ty);
        is_copy(t)
            || matches!(t, Type::Named(id) if matches!(self.model.get(*id).map(|d| &d.kind), Some(DeclKind::Enum(_))))
    }

    /// Statements writing `v`, a value of type `ty`.
    pub(crate) fn encode(
        &self,
        ty: &Type,
        v: &Val,
        depth: usize,
        cur: &[String],
    ) -> Result<String, Unsupported> {
        let t = self.model.unalias(ty);
        let c = v.copied();
        let rf = v.as_ref();
        let rc = v.receiver();
        Ok(match t {
            Type::Short => format!("w.write_short({c});"),
            Type::Long => format!("w.write_long({c});"),
            Type::LongLong => format!("w.write_longlong({c});"),
            Type::UShort => format!("w.write_ushort({c});"),
            Type::ULong => format!("w.write_ulong({c});"),
            Type::ULongLong => format!("w.write_ulonglong({c});"),
            Type::Float => format!("w.write_float({c});"),
            Type::Double => format!("w.write_double({c});"),
            Type::LongDouble => format!("w.write_long_double({c});"),
            Type::Char => format!("w.write_char({c})?;"),
            Type::WChar => format!("w.write_wchar({c})?;"),
            Type::Boolean => format!("w.write_boolean({c});"),
            Type::Octet => format!("w.write_octet({c});"),
            Type::String(None) => format!("w.write_string({rf})?;"),
            Type::String(Some(n)) => format!("{RT}::write_bounded_string(w, {rf}, {n})?;"),
            Type::WString(None) => format!("w.write_wstring({rf})?;"),
            Type::WString(Some(n)) => format!("{RT}::write_bounded_wstring(w, {rf}, {n})?;"),
            Type::Fixed(Some((d, s))) => format!("{RT}::write_fixed(w, {rf}, {d}, {s})?;"),
            Type::Fixed(None) => return Err("fixed without digits and scale".into()),
            Type::Any => format!("{RT}::CdrEncode::encode({rf}, w)?;"),
            Type::Object => format!("{rc}.write(w)?;"),
            Type::TypeCode => format!("{rc}.write(w)?;"),
            Type::Sequence(elem, bound) => {
                let check = bound.map_or_else(String::new, |n| {
                    format!("{RT}::check_bound(\"bounded sequence\", {rc}.len(), {n})?; ")
                });
                if matches!(self.model.unalias(elem), Type::Octet) {
                    format!("{check}w.write_octet_sequence({rf})?;")
                } else {
                    let e = format!("e{depth}");
                    let inner = self.encode(elem, &Val::Ref(e.clone()), depth + 1, cur)?;
                    format!(
                        "{check}w.write_length({rc}.len())?; for {e} in {rc}.iter() {{ {inner} }}"
                    )
                }
            }
            Type::Array(elem, dims) => self.encode_array(elem, dims, v, depth, cur)?,
            Type::Named(id) => match self.model.get(*id).map(|d| &d.kind) {
                Some(DeclKind::Interface { .. }) => format!("{rc}.write(w)?;"),
                Some(DeclKind::Builtin(inner)) => self.encode(inner, v, depth, cur)?,
                _ => {
                    self.named_type(*id, cur)?;
                    format!("{RT}::CdrEncode::encode({rf}, w)?;")
                }
            },
            Type::ValueBase => return Err("ValueBase".into()),
            Type::Error => return Err("a type with errors".into()),
        })
    }

    fn encode_array(
        &self,
        elem: &Type,
        dims: &[u32],
        v: &Val,
        depth: usize,
        cur: &[String],
    ) -> Result<String, Unsupported> {
        let Some((first, rest)) = dims.split_first() else {
            return self.encode(elem, v, depth, cur);
        };
        let e = format!("e{depth}");
        let inner = if rest.is_empty() {
            self.encode(elem, &Val::Ref(e.clone()), depth + 1, cur)?
        } else {
            self.encode_array_dims(elem, rest, &e, depth + 1, cur, dims)?
        };
        let rc = v.receiver();
        let check = if array_is_rust(dims) {
            String::new()
        } else {
            format!("{RT}::check_array_len({rc}.len(), {first})?; ")
        };
        Ok(format!("{check}for {e} in {rc}.iter() {{ {inner} }}"))
    }

    fn encode_array_dims(
        &self,
        elem: &Type,
        dims: &[u32],
        name: &str,
        depth: usize,
        cur: &[String],
        all: &[u32],
    ) -> Result<String, Unsupported> {
        let Some((first, rest)) = dims.split_first() else {
            return self.encode(elem, &Val::Ref(name.to_owned()), depth, cur);
        };
        let e = format!("e{depth}");
        let inner = self.encode_array_dims(elem, rest, &e, depth + 1, cur, all)?;
        let check = if array_is_rust(all) {
            String::new()
        } else {
            format!("{RT}::check_array_len({name}.len(), {first})?; ")
        };
        Ok(format!("{check}for {e} in {name}.iter() {{ {inner} }}"))
    }

    /// An expression reading a value of type `ty`.
    pub(crate) fn decode(
        &self,
        ty: &Type,
        depth: usize,
        cur: &[String],
    ) -> Result<String, Unsupported> {
        let t = self.model.unalias(ty);
        Ok(match t {
            Type::Short => "r.read_short()?".into(),
            Type::Long => "r.read_long()?".into(),
            Type::LongLong => "r.read_longlong()?".into(),
            Type::UShort => "r.read_ushort()?".into(),
            Type::ULong => "r.read_ulong()?".into(),
            Type::ULongLong => "r.read_ulonglong()?".into(),
            Type::Float => "r.read_float()?".into(),
            Type::Double => "r.read_double()?".into(),
            Type::LongDouble => "r.read_long_double()?".into(),
            Type::Char => "r.read_char()?".into(),
            Type::WChar => "r.read_wchar()?".into(),
            Type::Boolean => "r.read_boolean()?".into(),
            Type::Octet => "r.read_octet()?".into(),
            Type::String(None) => "r.read_string()?".into(),
            Type::String(Some(n)) => format!("{RT}::read_bounded_string(r, {n})?"),
            Type::WString(None) => "r.read_wstring()?".into(),
            Type::WString(Some(n)) => format!("{RT}::read_bounded_wstring(r, {n})?"),
            Type::Fixed(Some((d, s))) => format!("{RT}::read_fixed(r, {d}, {s})?"),
            Type::Fixed(None) => return Err("fixed without digits and scale".into()),
            Type::Any => format!("<{RT}::Any as {RT}::CdrDecode>::decode(r)?"),
            Type::Object => "::ithaca_idl::ior::Ior::read(r)?".into(),
            Type::TypeCode => "::ithaca_idl::dynamic::TypeCode::read(r)?".into(),
            Type::Sequence(elem, bound) => {
                let n = format!("n{depth}");
                let check = bound.map_or_else(String::new, |b| {
                    format!("{RT}::check_bound(\"bounded sequence\", {n}, {b})?; ")
                });
                if matches!(self.model.unalias(elem), Type::Octet) {
                    let check = bound.map_or_else(String::new, |b| {
                        format!("{RT}::check_bound(\"bounded sequence\", {n}.len(), {b})?; ")
                    });
                    format!("{{ let {n} = r.read_octet_sequence()?; {check}{n}.to_vec() }}")
                } else {
                    let min = self.min_size(elem, &mut HashSet::new());
                    let v = format!("v{depth}");
                    let inner = self.decode(elem, depth + 1, cur)?;
                    format!(
                        "{{ let {n} = r.read_length({min})?; {check}let mut {v} = ::std::vec::Vec::with_capacity({n}); for _ in 0..{n} {{ {v}.push({inner}); }} {v} }}"
                    )
                }
            }
            Type::Array(elem, dims) => {
                self.decode_array(elem, dims, depth, cur, array_is_rust(dims))?
            }
            Type::Named(id) => match self.model.get(*id).map(|d| &d.kind) {
                Some(DeclKind::Interface { .. }) => "::ithaca_idl::ior::Ior::read(r)?".into(),
                Some(DeclKind::Builtin(inner)) => self.decode(inner, depth, cur)?,
                _ => {
                    let path = self.named_type(*id, cur)?;
                    format!("<{path} as {RT}::CdrDecode>::decode(r)?")
                }
            },
            Type::ValueBase => return Err("ValueBase".into()),
            Type::Error => return Err("a type with errors".into()),
        })
    }

    fn decode_array(
        &self,
        elem: &Type,
        dims: &[u32],
        depth: usize,
        cur: &[String],
        rust_array: bool,
    ) -> Result<String, Unsupported> {
        let Some((first, rest)) = dims.split_first() else {
            return self.decode(elem, depth, cur);
        };
        let inner = self.decode_array(elem, rest, depth + 1, cur, rust_array)?;
        let v = format!("v{depth}");
        let items = format!(
            "{{ let mut {v} = ::std::vec::Vec::with_capacity({first}); for _ in 0..{first} {{ {v}.push({inner}); }} {v} }}"
        );
        Ok(if rust_array {
            format!("{RT}::into_array::<_, {first}>({items})?")
        } else {
            items
        })
    }

    /// The fewest bytes a value of `ty` takes in CDR (ignoring alignment):
    /// the per-element minimum a sequence's count is checked against.
    pub(crate) fn min_size(&self, ty: &Type, seen: &mut HashSet<DeclId>) -> usize {
        match self.model.unalias(ty) {
            Type::Octet | Type::Boolean | Type::Char => 1,
            Type::WChar | Type::Short | Type::UShort => 2,
            Type::Long | Type::ULong | Type::Float => 4,
            Type::LongLong | Type::ULongLong | Type::Double => 8,
            Type::LongDouble => 16,
            Type::String(_) | Type::WString(_) | Type::Sequence(..) | Type::Any => 4,
            Type::TypeCode => 4,
            Type::Object => 8,
            Type::Fixed(Some((d, _))) => usize::from(*d / 2 + 1),
            Type::Array(elem, dims) => {
                let n: usize = dims
                    .iter()
                    .map(|d| usize::try_from(*d).unwrap_or(1))
                    .fold(1, usize::saturating_mul);
                n.saturating_mul(self.min_size(elem, seen)).max(1)
            }
            Type::Named(id) => {
                if !seen.insert(*id) {
                    return 1;
                }
                let size = match self.model.get(*id).map(|d| &d.kind) {
                    Some(DeclKind::Struct { members, .. } | DeclKind::Exception(members)) => {
                        members
                            .iter()
                            .map(|m| self.min_size(&m.ty, seen))
                            .fold(0, usize::saturating_add)
                    }
                    Some(DeclKind::Union { discriminator, .. }) => {
                        self.min_size(discriminator, seen)
                    }
                    Some(DeclKind::Enum(_)) => 4,
                    Some(DeclKind::Interface { .. }) => 8,
                    _ => 1,
                };
                seen.remove(id);
                size.max(1)
            }
            _ => 1,
        }
    }
}

/// Types a client passes by value and whose values are `Copy`.
fn is_copy(t: &Type) -> bool {
    matches!(
        t,
        Type::Short
            | Type::Long
            | Type::LongLong
            | Type::UShort
            | Type::ULong
            | Type::ULongLong
            | Type::Float
            | Type::Double
            | Type::LongDouble
            | Type::Char
            | Type::WChar
            | Type::Boolean
            | Type::Octet
    )
}

/// Whether an array with these dimensions is a (nested) Rust array.
pub(crate) fn array_is_rust(dims: &[u32]) -> bool {
    dims.iter()
        .map(|d| u64::from(*d))
        .try_fold(1u64, u64::checked_mul)
        .is_some_and(|n| n <= MAX_RUST_ARRAY)
}
