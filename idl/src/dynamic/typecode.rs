//! The CORBA TypeCode model and its CDR form.
//!
//! A [`TypeCode`] describes one IDL type at run time. Recursive types
//! (a struct holding a sequence of itself) are trees whose recursive
//! occurrences are [`TypeCode::Recursive`] nodes naming an enclosing
//! struct, union or valuetype by repository id, as `create_recursive_tc`
//! does; on the wire they become indirections (`0xffffffff` and a negative
//! offset).

use std::collections::HashMap;

use crate::cdr::{CdrReader, CdrWriter};
use crate::error::{Error, Result};

use super::value::Value;

/// How deeply TypeCodes may nest, on the wire and when built from a model.
pub const MAX_TYPECODE_DEPTH: u32 = 64;

/// How many nodes one decoded TypeCode may have (indirections to complete
/// TypeCodes are expanded, so this bounds the memory they can claim).
pub const MAX_TYPECODE_NODES: usize = 100_000;

/// The indirection marker that stands for a TCKind on the wire.
const INDIRECTION: u32 = 0xffff_ffff;

/// The most digits a `fixed` may have.
pub const MAX_FIXED_DIGITS: u16 = 31;

/// A member of a struct or exception TypeCode.
#[derive(Clone, Debug, PartialEq)]
pub struct Member {
    /// The member's name.
    pub name: String,
    /// Its type.
    pub ty: TypeCode,
}

impl Member {
    /// A member with this name and type.
    pub fn new(name: impl Into<String>, ty: TypeCode) -> Self {
        Self {
            name: name.into(),
            ty,
        }
    }
}

/// A case of a union TypeCode.
#[derive(Clone, Debug, PartialEq)]
pub struct UnionCase {
    /// The label: a value of the discriminator type, or `None` for `default`.
    pub label: Option<Value>,
    /// The member's name.
    pub name: String,
    /// Its type.
    pub ty: TypeCode,
}

/// A state member of a valuetype TypeCode.
#[derive(Clone, Debug, PartialEq)]
pub struct ValueMember {
    /// The member's name.
    pub name: String,
    /// Its type.
    pub ty: TypeCode,
    /// `PRIVATE_MEMBER` (0) or `PUBLIC_MEMBER` (1).
    pub visibility: i16,
}

/// A CORBA TypeCode.
///
/// Names and repository ids are kept as they appear on the wire (either
/// may be empty there). Bounds of 0 mean unbounded.
#[derive(Clone, Debug, PartialEq)]
#[allow(missing_docs)]
pub enum TypeCode {
    Null,
    Void,
    Short,
    Long,
    LongLong,
    UShort,
    ULong,
    ULongLong,
    Float,
    Double,
    LongDouble,
    Boolean,
    Char,
    WChar,
    Octet,
    Any,
    TypeCode,
    /// The obsolete `Principal`: a `sequence<octet>`.
    Principal,
    /// `string<bound>`, 0 for unbounded.
    String(u32),
    /// `wstring<bound>`, 0 for unbounded.
    WString(u32),
    /// `fixed<digits, scale>`.
    Fixed {
        digits: u16,
        scale: i16,
    },
    /// An object reference.
    ObjRef {
        id: String,
        name: String,
    },
    Struct {
        id: String,
        name: String,
        members: Vec<Member>,
    },
    Except {
        id: String,
        name: String,
        members: Vec<Member>,
    },
    Union {
        id: String,
        name: String,
        discriminator: Box<Self>,
        cases: Vec<UnionCase>,
    },
    Enum {
        id: String,
        name: String,
        members: Vec<String>,
    },
    /// `sequence<element, bound>`, 0 for unbounded.
    Sequence {
        element: Box<Self>,
        bound: u32,
    },
    /// One array dimension; `T[2][3]` is an array of 2 arrays of 3.
    Array {
        element: Box<Self>,
        length: u32,
    },
    Alias {
        id: String,
        name: String,
        original: Box<Self>,
    },
    Value {
        id: String,
        name: String,
        /// `VM_NONE` 0, `VM_CUSTOM` 1, `VM_ABSTRACT` 2, `VM_TRUNCATABLE` 3.
        modifier: i16,
        /// The concrete base valuetype, or [`TypeCode::Null`].
        base: Box<Self>,
        members: Vec<ValueMember>,
    },
    ValueBox {
        id: String,
        name: String,
        boxed: Box<Self>,
    },
    Native {
        id: String,
        name: String,
    },
    AbstractInterface {
        id: String,
        name: String,
    },
    LocalInterface {
        id: String,
        name: String,
    },
    /// A recursive occurrence of the enclosing struct, union or valuetype
    /// with this repository id.
    Recursive(String),
}

/// The TCKind numbers.
mod kind {
    pub(super) const NULL: u32 = 0;
    pub(super) const VOID: u32 = 1;
    pub(super) const SHORT: u32 = 2;
    pub(super) const LONG: u32 = 3;
    pub(super) const USHORT: u32 = 4;
    pub(super) const ULONG: u32 = 5;
    pub(super) const FLOAT: u32 = 6;
    pub(super) const DOUBLE: u32 = 7;
    pub(super) const BOOLEAN: u32 = 8;
    pub(super) const CHAR: u32 = 9;
    pub(super) const OCTET: u32 = 10;
    pub(super) const ANY: u32 = 11;
    pub(super) const TYPECODE: u32 = 12;
    pub(super) const PRINCIPAL: u32 = 13;
    pub(super) const OBJREF: u32 = 14;
    pub(super) const STRUCT: u32 = 15;
    pub(super) const UNION: u32 = 16;
    pub(super) const ENUM: u32 = 17;
    pub(super) const STRING: u32 = 18;
    pub(super) const SEQUENCE: u32 = 19;
    pub(super) const ARRAY: u32 = 20;
    pub(super) const ALIAS: u32 = 21;
    pub(super) const EXCEPT: u32 = 22;
    pub(super) const LONGLONG: u32 = 23;
    pub(super) const ULONGLONG: u32 = 24;
    pub(super) const LONGDOUBLE: u32 = 25;
    pub(super) const WCHAR: u32 = 26;
    pub(super) const WSTRING: u32 = 27;
    pub(super) const FIXED: u32 = 28;
    pub(super) const VALUE: u32 = 29;
    pub(super) const VALUE_BOX: u32 = 30;
    pub(super) const NATIVE: u32 = 31;
    pub(super) const ABSTRACT_INTERFACE: u32 = 32;
    pub(super) const LOCAL_INTERFACE: u32 = 33;
}

fn bad(what: impl Into<String>) -> Error {
    Error::InvalidTypeCode(what.into())
}

impl TypeCode {
    /// The TCKind number of this TypeCode (`tk_struct` = 15, ...);
    /// `0xffffffff` for [`TypeCode::Recursive`].
    pub fn kind(&self) -> u32 {
        use kind::*;
        match self {
            Self::Null => NULL,
            Self::Void => VOID,
            Self::Short => SHORT,
            Self::Long => LONG,
            Self::LongLong => LONGLONG,
            Self::UShort => USHORT,
            Self::ULong => ULONG,
            Self::ULongLong => ULONGLONG,
            Self::Float => FLOAT,
            Self::Double => DOUBLE,
            Self::LongDouble => LONGDOUBLE,
            Self::Boolean => BOOLEAN,
            Self::Char => CHAR,
            Self::WChar => WCHAR,
            Self::Octet => OCTET,
            Self::Any => ANY,
            Self::TypeCode => TYPECODE,
            Self::Principal => PRINCIPAL,
            Self::String(_) => STRING,
            Self::WString(_) => WSTRING,
            Self::Fixed { .. } => FIXED,
            Self::ObjRef { .. } => OBJREF,
            Self::Struct { .. } => STRUCT,
            Self::Except { .. } => EXCEPT,
            Self::Union { .. } => UNION,
            Self::Enum { .. } => ENUM,
            Self::Sequence { .. } => SEQUENCE,
            Self::Array { .. } => ARRAY,
            Self::Alias { .. } => ALIAS,
            Self::Value { .. } => VALUE,
            Self::ValueBox { .. } => VALUE_BOX,
            Self::Native { .. } => NATIVE,
            Self::AbstractInterface { .. } => ABSTRACT_INTERFACE,
            Self::LocalInterface { .. } => LOCAL_INTERFACE,
            Self::Recursive(_) => INDIRECTION,
        }
    }

    /// The repository id of a named TypeCode (struct, union, enum, alias,
    /// exception, object reference, valuetype, ...), or of the type a
    /// recursive node refers to.
    pub fn id(&self) -> Option<&str> {
        match self {
            Self::ObjRef { id, .. }
            | Self::Struct { id, .. }
            | Self::Except { id, .. }
            | Self::Union { id, .. }
            | Self::Enum { id, .. }
            | Self::Alias { id, .. }
            | Self::Value { id, .. }
            | Self::ValueBox { id, .. }
            | Self::Native { id, .. }
            | Self::AbstractInterface { id, .. }
            | Self::LocalInterface { id, .. }
            | Self::Recursive(id) => Some(id),
            _ => None,
        }
    }

    /// The simple name of a named TypeCode.
    pub fn name(&self) -> Option<&str> {
        match self {
            Self::ObjRef { name, .. }
            | Self::Struct { name, .. }
            | Self::Except { name, .. }
            | Self::Union { name, .. }
            | Self::Enum { name, .. }
            | Self::Alias { name, .. }
            | Self::Value { name, .. }
            | Self::ValueBox { name, .. }
            | Self::Native { name, .. }
            | Self::AbstractInterface { name, .. }
            | Self::LocalInterface { name, .. } => Some(name),
            _ => None,
        }
    }

    /// Follows aliases to the type they stand for.
    pub fn unalias(&self) -> &Self {
        let mut tc = self;
        // Aliases are trees, so this ends; the bound only guards the loop.
        for _ in 0..=MAX_TYPECODE_DEPTH {
            match tc {
                Self::Alias { original, .. } => tc = original,
                _ => return tc,
            }
        }
        tc
    }

    /// Encodes this TypeCode as it is sent on the wire.
    ///
    /// Recursive nodes become indirections to their enclosing TypeCode;
    /// one that names no enclosing struct, union or valuetype is an error.
    pub fn write(&self, w: &mut CdrWriter<'_>) -> Result<()> {
        let mut enc = TcWriter { stack: Vec::new() };
        enc.write(self, w, 0, 0)
    }

    /// Decodes a TypeCode, resolving indirections.
    ///
    /// An indirection to an enclosing TypeCode becomes a
    /// [`TypeCode::Recursive`] node; one to a complete TypeCode read
    /// earlier is replaced by a copy of it. Nesting is bounded by
    /// [`MAX_TYPECODE_DEPTH`] and size by [`MAX_TYPECODE_NODES`].
    pub fn read(r: &mut CdrReader) -> Result<Self> {
        let mut dec = TcReader {
            open: Vec::new(),
            done: HashMap::new(),
            nodes: 0,
            cached: 0,
        };
        dec.read(r, 0, 0)
    }

    /// Decodes a TypeCode that must use the whole of `bytes` (an
    /// encapsulation: byte-order octet first). A fuzzing entry point.
    pub fn from_encapsulation(bytes: &[u8]) -> Result<Self> {
        let mut r = CdrReader::from_encapsulation(
            bytes::Bytes::copy_from_slice(bytes),
            crate::GiopVersion::V1_2,
        )?;
        let tc = Self::read(&mut r)?;
        r.finish()?;
        Ok(tc)
    }

    /// Counts this TypeCode's nodes, giving up (with `None`) beyond `limit`.
    pub(crate) fn node_count(&self, limit: usize) -> Option<usize> {
        let mut count = 0usize;
        let mut todo: Vec<&Self> = vec![self];
        while let Some(tc) = todo.pop() {
            count += 1;
            if count > limit {
                return None;
            }
            match tc {
                Self::Struct { members, .. } | Self::Except { members, .. } => {
                    todo.extend(members.iter().map(|m| &m.ty));
                }
                Self::Union {
                    discriminator,
                    cases,
                    ..
                } => {
                    todo.push(discriminator);
                    todo.extend(cases.iter().map(|c| &c.ty));
                }
                Self::Sequence { element, .. } | Self::Array { element, .. } => todo.push(element),
                Self::Alias { original, .. } => todo.push(original),
                Self::ValueBox { boxed, .. } => todo.push(boxed),
                Self::Value { base, members, .. } => {
                    todo.push(base);
                    todo.extend(members.iter().map(|m| &m.ty));
                }
                _ => {}
            }
        }
        Some(count)
    }
}

/// Checks that a union's discriminator type is allowed and its labels are
/// values of it, distinct, with at most one default.
pub(crate) fn check_union(discriminator: &TypeCode, cases: &[UnionCase]) -> Result<()> {
    let disc = discriminator.unalias();
    if !is_discriminator_type(disc) {
        return Err(bad(
            "union discriminator is not an integer, char, boolean or enum",
        ));
    }
    let mut defaults = 0;
    let mut seen = std::collections::HashSet::new();
    for case in cases {
        match &case.label {
            None => defaults += 1,
            Some(label) => {
                let key = super::value::discriminator_key(disc, label).ok_or_else(|| {
                    bad(format!(
                        "union label of case {} is not a discriminator value",
                        case.name
                    ))
                })?;
                if !seen.insert(key) {
                    return Err(bad(format!("duplicate union label {key}")));
                }
            }
        }
    }
    if defaults > 1 {
        return Err(bad("union has more than one default case"));
    }
    Ok(())
}

fn is_discriminator_type(tc: &TypeCode) -> bool {
    matches!(
        tc,
        TypeCode::Short
            | TypeCode::Long
            | TypeCode::LongLong
            | TypeCode::UShort
            | TypeCode::ULong
            | TypeCode::ULongLong
            | TypeCode::Boolean
            | TypeCode::Char
            | TypeCode::WChar
            | TypeCode::Enum { .. }
    )
}

/// Writes TypeCodes, remembering where each enclosing struct, union and
/// valuetype started so recursive nodes can point back to it.
struct TcWriter {
    /// Repository id and absolute position of each enclosing TypeCode.
    stack: Vec<(String, usize)>,
}

impl TcWriter {
    /// `base` is the absolute position of the first byte `w` writes.
    fn write(
        &mut self,
        tc: &TypeCode,
        w: &mut CdrWriter<'_>,
        base: usize,
        depth: u32,
    ) -> Result<()> {
        if depth > MAX_TYPECODE_DEPTH {
            return Err(Error::DepthLimitExceeded(MAX_TYPECODE_DEPTH));
        }
        w.align(4);
        let start = base + w.written();
        if let TypeCode::Recursive(id) = tc {
            let target = self
                .stack
                .iter()
                .rev()
                .find(|(open, _)| open == id)
                .map(|(_, pos)| *pos)
                .ok_or_else(|| bad(format!("recursive typecode {id} has no enclosing type")))?;
            w.write_ulong(INDIRECTION);
            let here = start + 4;
            let offset =
                i64::try_from(target).unwrap_or(i64::MAX) - i64::try_from(here).unwrap_or(i64::MAX);
            let offset = i32::try_from(offset).map_err(|_| bad("indirection offset overflows"))?;
            w.write_long(offset);
            return Ok(());
        }
        w.write_ulong(tc.kind());
        match tc {
            TypeCode::String(bound) | TypeCode::WString(bound) => w.write_ulong(*bound),
            TypeCode::Fixed { digits, scale } => {
                w.write_ushort(*digits);
                w.write_short(*scale);
            }
            TypeCode::ObjRef { id, name }
            | TypeCode::Native { id, name }
            | TypeCode::AbstractInterface { id, name }
            | TypeCode::LocalInterface { id, name } => self.encaps(w, base, |_, w, _| {
                w.write_string(id)?;
                w.write_string(name)
            })?,
            TypeCode::Struct { id, name, members } | TypeCode::Except { id, name, members } => {
                self.stack.push((id.clone(), start));
                let result = self.encaps(w, base, |this, w, base| {
                    w.write_string(id)?;
                    w.write_string(name)?;
                    w.write_length(members.len())?;
                    for m in members {
                        w.write_string(&m.name)?;
                        this.write(&m.ty, w, base, depth + 1)?;
                    }
                    Ok(())
                });
                self.stack.pop();
                result?;
            }
            TypeCode::Union {
                id,
                name,
                discriminator,
                cases,
            } => {
                check_union(discriminator, cases)?;
                self.stack.push((id.clone(), start));
                let result = self.encaps(w, base, |this, w, base| {
                    w.write_string(id)?;
                    w.write_string(name)?;
                    this.write(discriminator, w, base, depth + 1)?;
                    let default = cases.iter().position(|c| c.label.is_none());
                    let default = match default {
                        Some(i) => i32::try_from(i).map_err(|_| bad("too many union cases"))?,
                        None => -1,
                    };
                    w.write_long(default);
                    w.write_length(cases.len())?;
                    for case in cases {
                        match &case.label {
                            Some(label) => {
                                super::value::encode_with_depth(
                                    discriminator,
                                    label,
                                    w,
                                    depth + 1,
                                )?;
                            }
                            None => w.write_octet(0),
                        }
                        w.write_string(&case.name)?;
                        this.write(&case.ty, w, base, depth + 1)?;
                    }
                    Ok(())
                });
                self.stack.pop();
                result?;
            }
            TypeCode::Enum { id, name, members } => self.encaps(w, base, |_, w, _| {
                w.write_string(id)?;
                w.write_string(name)?;
                w.write_length(members.len())?;
                members.iter().try_for_each(|m| w.write_string(m))
            })?,
            TypeCode::Sequence { element, bound: n } | TypeCode::Array { element, length: n } => {
                self.encaps(w, base, |this, w, base| {
                    this.write(element, w, base, depth + 1)?;
                    w.write_ulong(*n);
                    Ok(())
                })?;
            }
            TypeCode::Alias { id, name, original } => self.encaps(w, base, |this, w, base| {
                w.write_string(id)?;
                w.write_string(name)?;
                this.write(original, w, base, depth + 1)
            })?,
            TypeCode::ValueBox { id, name, boxed } => self.encaps(w, base, |this, w, base| {
                w.write_string(id)?;
                w.write_string(name)?;
                this.write(boxed, w, base, depth + 1)
            })?,
            TypeCode::Value {
                id,
                name,
                modifier,
                base: concrete,
                members,
            } => {
                self.stack.push((id.clone(), start));
                let result = self.encaps(w, base, |this, w, base| {
                    w.write_string(id)?;
                    w.write_string(name)?;
                    w.write_short(*modifier);
                    this.write(concrete, w, base, depth + 1)?;
                    w.write_length(members.len())?;
                    for m in members {
                        w.write_string(&m.name)?;
                        this.write(&m.ty, w, base, depth + 1)?;
                        w.write_short(m.visibility);
                    }
                    Ok(())
                });
                self.stack.pop();
                result?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Writes an encapsulation whose contents know their absolute position.
    fn encaps(
        &mut self,
        w: &mut CdrWriter<'_>,
        base: usize,
        f: impl FnOnce(&mut Self, &mut CdrWriter<'_>, usize) -> Result<()>,
    ) -> Result<()> {
        w.align(4);
        let inner_base = base + w.written() + 4;
        w.write_encapsulation(|inner| f(self, inner, inner_base))
    }
}

/// Reads TypeCodes, remembering where each one started.
struct TcReader {
    /// Enclosing struct/union/valuetype TypeCodes being read: absolute
    /// position and repository id.
    open: Vec<(usize, String)>,
    /// Complete TypeCodes by absolute position, for indirections to them.
    done: HashMap<usize, TypeCode>,
    /// Nodes created so far.
    nodes: usize,
    /// Nodes held by the copies in `done`.
    cached: usize,
}

impl TcReader {
    fn count(&mut self, n: usize) -> Result<()> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > MAX_TYPECODE_NODES {
            return Err(Error::LimitExceeded {
                what: "typecode nodes",
                value: self.nodes,
                limit: MAX_TYPECODE_NODES,
            });
        }
        Ok(())
    }

    /// `base` is the absolute position of byte 0 of `r`'s buffer.
    fn read(&mut self, r: &mut CdrReader, base: usize, depth: u32) -> Result<TypeCode> {
        use kind::*;
        if depth > MAX_TYPECODE_DEPTH {
            return Err(Error::DepthLimitExceeded(MAX_TYPECODE_DEPTH));
        }
        self.count(1)?;
        r.align(4)?;
        let start = base + r.position();
        let tk = r.read_ulong()?;
        let tc = match tk {
            INDIRECTION => {
                let here = base + r.position();
                let offset = r.read_long()?;
                // The offset counts from the offset field itself and must
                // point backwards (a forward offset could loop).
                if offset >= -4 {
                    return Err(bad(format!(
                        "indirection offset {offset} does not point back"
                    )));
                }
                let target = i64::try_from(here).unwrap_or(i64::MAX) + i64::from(offset);
                let target =
                    usize::try_from(target).map_err(|_| bad("indirection before the start"))?;
                if let Some((_, id)) = self.open.iter().find(|(pos, _)| *pos == target) {
                    return Ok(TypeCode::Recursive(id.clone()));
                }
                let tc = self
                    .done
                    .get(&target)
                    .cloned()
                    .ok_or_else(|| bad(format!("indirection to {target} names no typecode")))?;
                let n = tc
                    .node_count(MAX_TYPECODE_NODES)
                    .ok_or(Error::LimitExceeded {
                        what: "typecode nodes",
                        value: MAX_TYPECODE_NODES + 1,
                        limit: MAX_TYPECODE_NODES,
                    })?;
                self.count(n)?;
                return Ok(tc);
            }
            NULL => TypeCode::Null,
            VOID => TypeCode::Void,
            SHORT => TypeCode::Short,
            LONG => TypeCode::Long,
            USHORT => TypeCode::UShort,
            ULONG => TypeCode::ULong,
            FLOAT => TypeCode::Float,
            DOUBLE => TypeCode::Double,
            BOOLEAN => TypeCode::Boolean,
            CHAR => TypeCode::Char,
            OCTET => TypeCode::Octet,
            ANY => TypeCode::Any,
            TYPECODE => TypeCode::TypeCode,
            PRINCIPAL => TypeCode::Principal,
            LONGLONG => TypeCode::LongLong,
            ULONGLONG => TypeCode::ULongLong,
            LONGDOUBLE => TypeCode::LongDouble,
            WCHAR => TypeCode::WChar,
            STRING => TypeCode::String(r.read_ulong()?),
            WSTRING => TypeCode::WString(r.read_ulong()?),
            FIXED => {
                let digits = r.read_ushort()?;
                let scale = r.read_short()?;
                check_fixed(digits, scale)?;
                TypeCode::Fixed { digits, scale }
            }
            OBJREF | NATIVE | ABSTRACT_INTERFACE | LOCAL_INTERFACE => {
                let (mut e, _) = self.encaps(r, base)?;
                let id = e.read_string()?;
                let name = e.read_string()?;
                match tk {
                    OBJREF => TypeCode::ObjRef { id, name },
                    NATIVE => TypeCode::Native { id, name },
                    ABSTRACT_INTERFACE => TypeCode::AbstractInterface { id, name },
                    _ => TypeCode::LocalInterface { id, name },
                }
            }
            STRUCT | EXCEPT => {
                let (mut e, eb) = self.encaps(r, base)?;
                let id = e.read_string()?;
                let name = e.read_string()?;
                self.open.push((start, id.clone()));
                let members = e.read_sequence(8, |e| {
                    let name = e.read_string()?;
                    let ty = self.read(e, eb, depth + 1)?;
                    Ok(Member { name, ty })
                });
                self.open.pop();
                let members = members?;
                if tk == STRUCT {
                    TypeCode::Struct { id, name, members }
                } else {
                    TypeCode::Except { id, name, members }
                }
            }
            UNION => {
                let (mut e, eb) = self.encaps(r, base)?;
                let id = e.read_string()?;
                let name = e.read_string()?;
                self.open.push((start, id.clone()));
                let body = self.union_body(&mut e, eb, depth);
                self.open.pop();
                let (discriminator, cases) = body?;
                TypeCode::Union {
                    id,
                    name,
                    discriminator: Box::new(discriminator),
                    cases,
                }
            }
            ENUM => {
                let (mut e, _) = self.encaps(r, base)?;
                let id = e.read_string()?;
                let name = e.read_string()?;
                let members = e.read_sequence(4, CdrReader::read_string)?;
                self.count(members.len())?;
                TypeCode::Enum { id, name, members }
            }
            SEQUENCE | ARRAY => {
                let (mut e, eb) = self.encaps(r, base)?;
                let element = Box::new(self.read(&mut e, eb, depth + 1)?);
                let n = e.read_ulong()?;
                if tk == SEQUENCE {
                    TypeCode::Sequence { element, bound: n }
                } else {
                    TypeCode::Array { element, length: n }
                }
            }
            ALIAS | VALUE_BOX => {
                let (mut e, eb) = self.encaps(r, base)?;
                let id = e.read_string()?;
                let name = e.read_string()?;
                let inner = Box::new(self.read(&mut e, eb, depth + 1)?);
                if tk == ALIAS {
                    TypeCode::Alias {
                        id,
                        name,
                        original: inner,
                    }
                } else {
                    TypeCode::ValueBox {
                        id,
                        name,
                        boxed: inner,
                    }
                }
            }
            VALUE => {
                let (mut e, eb) = self.encaps(r, base)?;
                let id = e.read_string()?;
                let name = e.read_string()?;
                let modifier = e.read_short()?;
                self.open.push((start, id.clone()));
                let rest = (|| {
                    let concrete = self.read(&mut e, eb, depth + 1)?;
                    let members = e.read_sequence(10, |e| {
                        let name = e.read_string()?;
                        let ty = self.read(e, eb, depth + 1)?;
                        let visibility = e.read_short()?;
                        Ok(ValueMember {
                            name,
                            ty,
                            visibility,
                        })
                    })?;
                    Ok::<_, Error>((concrete, members))
                })();
                self.open.pop();
                let (concrete, members) = rest?;
                TypeCode::Value {
                    id,
                    name,
                    modifier,
                    base: Box::new(concrete),
                    members,
                }
            }
            other => {
                return Err(Error::InvalidEnum {
                    what: "TCKind",
                    value: other,
                });
            }
        };
        // Keep a copy for indirections to it, within a budget: copies of
        // nested TypeCodes would otherwise cost depth times their size.
        let room = MAX_TYPECODE_NODES.saturating_sub(self.cached);
        if let Some(n) = tc.node_count(room) {
            self.cached += n;
            self.done.insert(start, tc.clone());
        }
        Ok(tc)
    }

    fn union_body(
        &mut self,
        e: &mut CdrReader,
        eb: usize,
        depth: u32,
    ) -> Result<(TypeCode, Vec<UnionCase>)> {
        let discriminator = self.read(e, eb, depth + 1)?;
        let default = e.read_long()?;
        let count = e.read_length(6)?;
        let disc = discriminator.unalias().clone();
        if !is_discriminator_type(&disc) {
            return Err(bad(
                "union discriminator is not an integer, char, boolean or enum",
            ));
        }
        let mut cases = Vec::with_capacity(count);
        for i in 0..count {
            let label = if i32::try_from(i).ok() == Some(default) {
                e.read_octet()?;
                None
            } else {
                Some(super::value::decode_with_depth(&disc, e, depth + 1)?)
            };
            let name = e.read_string()?;
            let ty = self.read(e, eb, depth + 1)?;
            cases.push(UnionCase { label, name, ty });
        }
        if default >= 0 && usize::try_from(default).is_ok_and(|d| d >= count) {
            return Err(bad(format!("union default index {default} out of range")));
        }
        check_union(&discriminator, &cases)?;
        Ok((discriminator, cases))
    }

    /// Opens the encapsulation of a complex TypeCode; returns its reader
    /// and the absolute position of its first byte.
    fn encaps(&mut self, r: &mut CdrReader, base: usize) -> Result<(CdrReader, usize)> {
        r.align(4)?;
        let inner_base = base + r.position() + 4;
        let e = r.read_encapsulation()?;
        Ok((e, inner_base))
    }
}

/// Checks the parameters of a `fixed` TypeCode.
pub(crate) fn check_fixed(digits: u16, scale: i16) -> Result<()> {
    if digits == 0 || digits > MAX_FIXED_DIGITS {
        return Err(bad(format!("fixed with {digits} digits")));
    }
    if scale < 0 || i32::from(scale) > i32::from(digits) {
        return Err(bad(format!("fixed<{digits},{scale}> has a bad scale")));
    }
    Ok(())
}
