//! TypeCodes built from the IDL front end's resolved [`Model`].

use crate::error::{Error, Result};
use crate::front::ast::{InterfaceKind, ValueKind};
use crate::front::model::{ConstValue, DeclId, DeclKind, Label, Model, Type};

use super::typecode::{
    MAX_TYPECODE_DEPTH, MAX_TYPECODE_NODES, Member, TypeCode, UnionCase, ValueMember, check_fixed,
    check_union,
};
use super::value::Value;

fn bad(what: impl Into<String>) -> Error {
    Error::InvalidTypeCode(what.into())
}

impl TypeCode {
    /// The TypeCode of the declaration with this scoped name (`A::B`,
    /// with or without a leading `::`): a struct, union, enum, typedef,
    /// exception, interface, valuetype or value box.
    pub fn from_model(model: &Model, scoped_name: &str) -> Result<Self> {
        let id = model
            .find_id(scoped_name)
            .ok_or_else(|| bad(format!("{scoped_name} is not declared")))?;
        Self::from_type(model, &Type::Named(id))
    }

    /// The TypeCode of a resolved type of the model (a parameter's, a
    /// member's, ...).
    pub fn from_type(model: &Model, ty: &Type) -> Result<Self> {
        let tc = Builder {
            model,
            open: Vec::new(),
            nodes: 0,
        }
        .build(ty, 0)?;
        Ok(tc)
    }
}

struct Builder<'m> {
    model: &'m Model,
    /// Structs, unions and valuetypes being built (for recursion).
    open: Vec<DeclId>,
    nodes: usize,
}

impl Builder<'_> {
    fn build(&mut self, ty: &Type, depth: u32) -> Result<TypeCode> {
        if depth > MAX_TYPECODE_DEPTH {
            return Err(Error::DepthLimitExceeded(MAX_TYPECODE_DEPTH));
        }
        self.nodes += 1;
        if self.nodes > MAX_TYPECODE_NODES {
            return Err(Error::LimitExceeded {
                what: "typecode nodes",
                value: self.nodes,
                limit: MAX_TYPECODE_NODES,
            });
        }
        Ok(match ty {
            Type::Short => TypeCode::Short,
            Type::Long => TypeCode::Long,
            Type::LongLong => TypeCode::LongLong,
            Type::UShort => TypeCode::UShort,
            Type::ULong => TypeCode::ULong,
            Type::ULongLong => TypeCode::ULongLong,
            Type::Float => TypeCode::Float,
            Type::Double => TypeCode::Double,
            Type::LongDouble => TypeCode::LongDouble,
            Type::Char => TypeCode::Char,
            Type::WChar => TypeCode::WChar,
            Type::Boolean => TypeCode::Boolean,
            Type::Octet => TypeCode::Octet,
            Type::Any => TypeCode::Any,
            Type::TypeCode => TypeCode::TypeCode,
            Type::Object => TypeCode::ObjRef {
                id: "IDL:omg.org/CORBA/Object:1.0".into(),
                name: "Object".into(),
            },
            Type::ValueBase => TypeCode::Value {
                id: "IDL:omg.org/CORBA/ValueBase:1.0".into(),
                name: "ValueBase".into(),
                modifier: 2,
                base: Box::new(TypeCode::Null),
                members: Vec::new(),
            },
            Type::String(bound) => TypeCode::String(bound.unwrap_or(0)),
            Type::WString(bound) => TypeCode::WString(bound.unwrap_or(0)),
            Type::Fixed(Some((digits, scale))) => {
                let scale = i16::try_from(*scale).map_err(|_| bad("fixed scale too large"))?;
                check_fixed(*digits, scale)?;
                TypeCode::Fixed {
                    digits: *digits,
                    scale,
                }
            }
            Type::Fixed(None) => return Err(bad("fixed without digits and scale")),
            Type::Sequence(element, bound) => TypeCode::Sequence {
                element: Box::new(self.build(element, depth + 1)?),
                bound: bound.unwrap_or(0),
            },
            Type::Array(element, dims) => {
                let mut tc = self.build(element, depth + 1)?;
                for length in dims.iter().rev() {
                    tc = TypeCode::Array {
                        element: Box::new(tc),
                        length: *length,
                    };
                }
                tc
            }
            Type::Named(id) => self.named(*id, depth)?,
            Type::Error => return Err(bad("a type that did not resolve")),
        })
    }

    fn named(&mut self, id: DeclId, depth: u32) -> Result<TypeCode> {
        let model = self.model;
        let decl = model
            .get(id)
            .ok_or_else(|| bad(format!("declaration {} does not exist", id.0)))?;
        let rid = decl.repo_id.clone();
        let name = decl.name.clone();
        if self.open.contains(&id) {
            return Ok(TypeCode::Recursive(rid));
        }
        let undefined = || bad(format!("{} is only forward-declared", decl.scoped_name));
        Ok(match &decl.kind {
            DeclKind::Struct { members, defined } => {
                if !defined {
                    return Err(undefined());
                }
                self.open.push(id);
                let members = self.fields(members.iter().map(|f| (&f.name, &f.ty)), depth);
                self.open.pop();
                TypeCode::Struct {
                    id: rid,
                    name,
                    members: members?,
                }
            }
            DeclKind::Exception(members) => {
                self.open.push(id);
                let members = self.fields(members.iter().map(|f| (&f.name, &f.ty)), depth);
                self.open.pop();
                TypeCode::Except {
                    id: rid,
                    name,
                    members: members?,
                }
            }
            DeclKind::Union {
                discriminator,
                branches,
                defined,
            } => {
                if !defined {
                    return Err(undefined());
                }
                self.open.push(id);
                let body = (|| {
                    let disc = self.build(discriminator, depth + 1)?;
                    let mut cases = Vec::new();
                    for b in branches {
                        let ty = self.build(&b.ty, depth + 1)?;
                        for label in &b.labels {
                            let label = match label {
                                Label::Default => None,
                                Label::Value(v) => Some(self.label(disc.unalias(), v)?),
                            };
                            cases.push(UnionCase {
                                label,
                                name: b.name.clone(),
                                ty: ty.clone(),
                            });
                        }
                    }
                    check_union(&disc, &cases)?;
                    Ok::<_, Error>((disc, cases))
                })();
                self.open.pop();
                let (disc, cases) = body?;
                TypeCode::Union {
                    id: rid,
                    name,
                    discriminator: Box::new(disc),
                    cases,
                }
            }
            DeclKind::Enum(list) => TypeCode::Enum {
                id: rid,
                name,
                members: list
                    .iter()
                    .map(|e| model.get(*e).map(|d| d.name.clone()).unwrap_or_default())
                    .collect(),
            },
            DeclKind::Alias(ty) => TypeCode::Alias {
                id: rid,
                name,
                original: Box::new(self.build(ty, depth + 1)?),
            },
            DeclKind::Interface { kind, .. } => match kind {
                InterfaceKind::Plain => TypeCode::ObjRef { id: rid, name },
                InterfaceKind::Abstract => TypeCode::AbstractInterface { id: rid, name },
                InterfaceKind::Local => TypeCode::LocalInterface { id: rid, name },
            },
            DeclKind::ValueBox(ty) => TypeCode::ValueBox {
                id: rid,
                name,
                boxed: Box::new(self.build(ty, depth + 1)?),
            },
            DeclKind::Value {
                kind,
                truncatable,
                bases,
                state,
                defined,
                ..
            } => {
                if !defined {
                    return Err(undefined());
                }
                let modifier = match (kind, truncatable) {
                    (ValueKind::Custom, _) => 1,
                    (ValueKind::Abstract, _) => 2,
                    (ValueKind::Concrete, true) => 3,
                    (ValueKind::Concrete, false) => 0,
                };
                self.open.push(id);
                let body = (|| {
                    // The concrete base is the first base that is not abstract.
                    let concrete = bases.iter().find(|b| {
                        matches!(
                            model.get(**b).map(|d| &d.kind),
                            Some(DeclKind::Value {
                                kind: ValueKind::Concrete | ValueKind::Custom,
                                ..
                            })
                        )
                    });
                    let base = match concrete {
                        Some(b) => self.named(*b, depth + 1)?,
                        None => TypeCode::Null,
                    };
                    let mut members = Vec::new();
                    for f in state {
                        members.push(ValueMember {
                            name: f.name.clone(),
                            ty: self.build(&f.ty, depth + 1)?,
                            visibility: i16::from(f.public),
                        });
                    }
                    Ok::<_, Error>((base, members))
                })();
                self.open.pop();
                let (base, members) = body?;
                TypeCode::Value {
                    id: rid,
                    name,
                    modifier,
                    base: Box::new(base),
                    members,
                }
            }
            DeclKind::Native => TypeCode::Native { id: rid, name },
            DeclKind::Builtin(ty) => self.build(ty, depth + 1)?,
            DeclKind::Module | DeclKind::Enumerator { .. } | DeclKind::Const { .. } => {
                return Err(bad(format!("{} is not a type", decl.scoped_name)));
            }
        })
    }

    fn fields<'a>(
        &mut self,
        fields: impl Iterator<Item = (&'a String, &'a Type)>,
        depth: u32,
    ) -> Result<Vec<Member>> {
        fields
            .map(|(name, ty)| Ok(Member::new(name.clone(), self.build(ty, depth + 1)?)))
            .collect()
    }

    /// A union label as a value of the (unaliased) discriminator type.
    fn label(&self, disc: &TypeCode, v: &ConstValue) -> Result<Value> {
        let out_of_range = || bad(format!("union label {v:?} does not fit the discriminator"));
        Ok(match (disc, v) {
            (TypeCode::Short, ConstValue::Int(i)) => {
                Value::Short(i16::try_from(*i).map_err(|_| out_of_range())?)
            }
            (TypeCode::Long, ConstValue::Int(i)) => {
                Value::Long(i32::try_from(*i).map_err(|_| out_of_range())?)
            }
            (TypeCode::LongLong, ConstValue::Int(i)) => {
                Value::LongLong(i64::try_from(*i).map_err(|_| out_of_range())?)
            }
            (TypeCode::UShort, ConstValue::Int(i)) => {
                Value::UShort(u16::try_from(*i).map_err(|_| out_of_range())?)
            }
            (TypeCode::ULong, ConstValue::Int(i)) => {
                Value::ULong(u32::try_from(*i).map_err(|_| out_of_range())?)
            }
            (TypeCode::ULongLong, ConstValue::Int(i)) => {
                Value::ULongLong(u64::try_from(*i).map_err(|_| out_of_range())?)
            }
            (TypeCode::Boolean, ConstValue::Bool(b)) => Value::Boolean(*b),
            (TypeCode::Char, ConstValue::Char(c)) => {
                Value::Char(char::from_u32(*c).ok_or_else(out_of_range)?)
            }
            (TypeCode::WChar, ConstValue::WChar(c) | ConstValue::Char(c)) => {
                Value::WChar(char::from_u32(*c).ok_or_else(out_of_range)?)
            }
            (TypeCode::Enum { .. }, ConstValue::Enum(e)) => {
                match self.model.get(*e).map(|d| &d.kind) {
                    Some(DeclKind::Enumerator { value, .. }) => Value::Enum(*value),
                    _ => return Err(out_of_range()),
                }
            }
            _ => return Err(out_of_range()),
        })
    }
}
