//! Request and reply bodies of one interface operation, encoded and
//! decoded from its signature, so servants and clients can be written
//! generically (DSI/DII style).

use crate::cdr::{CdrReader, CdrWriter};
use crate::error::{Error, Result};
use crate::front::ast::ParamDir;
use crate::front::model::{DeclKind, Model, Type};

use super::factories::{ValueFactories, value_ids};
use super::typecode::TypeCode;
use super::value::{DecodeLimits, Value, decode, decode_many_with, encode, encode_many_with};

/// A parameter of an operation.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    /// Its name.
    pub name: String,
    /// `in`, `out` or `inout`.
    pub dir: ParamDir,
    /// Its type.
    pub ty: TypeCode,
}

/// An operation's signature as TypeCodes: what goes in a request body
/// (`in` and `inout` arguments), in a reply body (the result, then `out`
/// and `inout` arguments) and in a user exception (its repository id, then
/// its members).
#[derive(Clone, Debug, PartialEq)]
pub struct Operation {
    /// The name sent in GIOP requests (`_get_x`/`_set_x` for attributes).
    pub name: String,
    /// Whether it is `oneway`.
    pub oneway: bool,
    /// The result type; [`TypeCode::Void`] for `void`.
    pub result: TypeCode,
    /// The parameters, in order.
    pub params: Vec<Param>,
    /// The user exceptions it may raise ([`TypeCode::Except`]s).
    pub exceptions: Vec<TypeCode>,
    /// The contract's valuetypes derived from those the signature
    /// carries, so such values are read and written as what they are
    /// ([`Value::DerivedValuetype`]).
    pub factories: ValueFactories,
}

/// A decoded reply: the result and the `out`/`inout` arguments in order.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplyValues {
    /// The result ([`Value::Null`] for `void`).
    pub result: Value,
    /// The `out` and `inout` arguments, in parameter order.
    pub out: Vec<Value>,
}

/// A decoded user exception.
#[derive(Clone, Debug, PartialEq)]
pub struct UserException {
    /// Its repository id.
    pub id: String,
    /// Its members (a [`Value::Struct`]).
    pub members: Value,
}

fn is_in(dir: ParamDir) -> bool {
    matches!(dir, ParamDir::In | ParamDir::InOut)
}

fn is_out(dir: ParamDir) -> bool {
    matches!(dir, ParamDir::Out | ParamDir::InOut)
}

impl Operation {
    /// The operation `name` of interface `interface` (a scoped name), its
    /// own or inherited. Attributes are found as `_get_NAME` and
    /// `_set_NAME`.
    pub fn from_model(model: &Model, interface: &str, name: &str) -> Result<Self> {
        let iface = model
            .find_id(interface)
            .filter(|id| {
                matches!(
                    model.get(*id).map(|d| &d.kind),
                    Some(DeclKind::Interface { .. } | DeclKind::Value { .. })
                )
            })
            .ok_or_else(|| Error::InvalidTypeCode(format!("{interface} is not an interface")))?;
        let tc = |ty: &Type| TypeCode::from_type(model, ty);
        let excepts = |ids: &[crate::front::model::DeclId]| -> Result<Vec<TypeCode>> {
            ids.iter().map(|id| tc(&Type::Named(*id))).collect()
        };
        if let Some(op) = model
            .all_operations(iface)
            .into_iter()
            .find(|o| o.name == name)
        {
            let params = op
                .params
                .iter()
                .map(|p| {
                    Ok(Param {
                        name: p.name.clone(),
                        dir: p.dir,
                        ty: tc(&p.ty)?,
                    })
                })
                .collect::<Result<_>>()?;
            return Self {
                name: op.name.clone(),
                oneway: op.oneway,
                result: op.ret.as_ref().map_or(Ok(TypeCode::Void), tc)?,
                params,
                exceptions: excepts(&op.raises)?,
                factories: ValueFactories::new(),
            }
            .with_factories(model);
        }
        let attr = |prefix: &str| {
            let attr_name = name.strip_prefix(prefix)?;
            model
                .all_attributes(iface)
                .into_iter()
                .find(|a| a.name == attr_name)
        };
        if let Some(a) = attr("_get_") {
            return Self {
                name: name.to_owned(),
                oneway: false,
                result: tc(&a.ty)?,
                params: Vec::new(),
                exceptions: excepts(&a.get_raises)?,
                factories: ValueFactories::new(),
            }
            .with_factories(model);
        }
        if let Some(a) = attr("_set_").filter(|a| !a.readonly) {
            return Self {
                name: name.to_owned(),
                oneway: false,
                result: TypeCode::Void,
                params: vec![Param {
                    name: a.name.clone(),
                    dir: ParamDir::In,
                    ty: tc(&a.ty)?,
                }],
                exceptions: excepts(&a.set_raises)?,
                factories: ValueFactories::new(),
            }
            .with_factories(model);
        }
        Err(Error::InvalidTypeCode(format!(
            "{interface} has no operation {name}"
        )))
    }

    /// Fills [`factories`](Self::factories) from the model.
    fn with_factories(mut self, model: &Model) -> Result<Self> {
        let mut roots = std::collections::BTreeSet::new();
        let types = std::iter::once(&self.result)
            .chain(self.params.iter().map(|p| &p.ty))
            .chain(&self.exceptions);
        for ty in types {
            value_ids(ty, &mut roots);
        }
        self.factories = ValueFactories::from_model(model, roots)?;
        Ok(self)
    }

    /// Every operation a client may invoke on `interface`: its own and
    /// inherited operations and the `_get_`/`_set_` of its attributes.
    pub fn all_from_model(model: &Model, interface: &str) -> Result<Vec<Self>> {
        let iface = model
            .find_id(interface)
            .ok_or_else(|| Error::InvalidTypeCode(format!("{interface} is not declared")))?;
        let mut names: Vec<String> = model
            .all_operations(iface)
            .iter()
            .map(|o| o.name.clone())
            .collect();
        for a in model.all_attributes(iface) {
            names.push(format!("_get_{}", a.name));
            if !a.readonly {
                names.push(format!("_set_{}", a.name));
            }
        }
        names
            .iter()
            .map(|n| Self::from_model(model, interface, n))
            .collect()
    }

    /// Server side: reads the `in` and `inout` arguments of a request body,
    /// in parameter order.
    ///
    /// The arguments share one valuetype scope: a value passed as two
    /// arguments arrives once and then as a [`Value::ValueRef`].
    pub fn decode_request(&self, r: &mut CdrReader) -> Result<Vec<Value>> {
        let types: Vec<&TypeCode> = self
            .params
            .iter()
            .filter(|p| is_in(p.dir))
            .map(|p| &p.ty)
            .collect();
        decode_many_with(&types, r, DecodeLimits::default(), &self.factories)
    }

    /// Client side: writes the `in` and `inout` arguments (in parameter
    /// order) of a request body.
    pub fn encode_request(&self, args: &[Value], w: &mut CdrWriter<'_>) -> Result<()> {
        let params: Vec<&Param> = self.params.iter().filter(|p| is_in(p.dir)).collect();
        if params.len() != args.len() {
            return Err(Error::TypeMismatch(format!(
                "{} takes {} in/inout arguments, {} given",
                self.name,
                params.len(),
                args.len()
            )));
        }
        let items: Vec<(&TypeCode, &Value)> = params.iter().map(|p| &p.ty).zip(args).collect();
        encode_many_with(&items, w, &self.factories)
    }

    /// Server side: writes the result and the `out`/`inout` arguments of a
    /// reply body. `result` is [`Value::Null`] for `void`.
    pub fn encode_reply(&self, result: &Value, out: &[Value], w: &mut CdrWriter<'_>) -> Result<()> {
        let params: Vec<&Param> = self.params.iter().filter(|p| is_out(p.dir)).collect();
        if params.len() != out.len() {
            return Err(Error::TypeMismatch(format!(
                "{} has {} out/inout arguments, {} given",
                self.name,
                params.len(),
                out.len()
            )));
        }
        let items: Vec<(&TypeCode, &Value)> = std::iter::once((&self.result, result))
            .chain(params.iter().map(|p| &p.ty).zip(out))
            .collect();
        encode_many_with(&items, w, &self.factories)
    }

    /// Client side: reads a reply body.
    pub fn decode_reply(&self, r: &mut CdrReader) -> Result<ReplyValues> {
        let types: Vec<&TypeCode> = std::iter::once(&self.result)
            .chain(self.params.iter().filter(|p| is_out(p.dir)).map(|p| &p.ty))
            .collect();
        let mut values =
            decode_many_with(&types, r, DecodeLimits::default(), &self.factories)?.into_iter();
        let result = values.next().unwrap_or(Value::Null);
        Ok(ReplyValues {
            result,
            out: values.collect(),
        })
    }

    /// The TypeCode of one of the operation's user exceptions.
    pub fn exception(&self, repository_id: &str) -> Option<&TypeCode> {
        self.exceptions
            .iter()
            .find(|e| e.id() == Some(repository_id))
    }

    /// Server side: writes a user exception body (repository id, then
    /// members). The exception must be one the operation raises.
    pub fn encode_exception(&self, exception: &UserException, w: &mut CdrWriter<'_>) -> Result<()> {
        let tc = self.exception(&exception.id).ok_or_else(|| {
            Error::TypeMismatch(format!("{} does not raise {}", self.name, exception.id))
        })?;
        encode(tc, &exception.members, w)
    }

    /// Server side: writes only the members of a user exception, for
    /// [`Call::user_exception`](crate::orb::Call::user_exception), which
    /// writes the repository id itself.
    pub fn encode_exception_members(
        &self,
        exception: &UserException,
        w: &mut CdrWriter<'_>,
    ) -> Result<()> {
        let tc = self.exception(&exception.id).ok_or_else(|| {
            Error::TypeMismatch(format!("{} does not raise {}", self.name, exception.id))
        })?;
        encode(&members_only(tc), &exception.members, w)
    }

    /// Client side: reads the members of the user exception `id` (its
    /// repository id already read, as in
    /// [`ReplyBody::UserException`](crate::orb::ReplyBody::UserException)).
    pub fn decode_exception_members(&self, id: &str, r: &mut CdrReader) -> Result<UserException> {
        let tc = self
            .exception(id)
            .ok_or_else(|| Error::TypeMismatch(format!("{} does not raise {id}", self.name)))?;
        let members = decode(&members_only(tc), r)?;
        Ok(UserException {
            id: id.to_owned(),
            members,
        })
    }

    /// Client side: reads a user exception body. An exception the
    /// operation does not declare is an error.
    pub fn decode_exception(&self, r: &mut CdrReader) -> Result<UserException> {
        // Peek at the id: the exception's value starts with it.
        let id = r.clone().read_string()?;
        let tc = self
            .exception(&id)
            .ok_or_else(|| Error::TypeMismatch(format!("{} does not raise {id}", self.name)))?;
        let members = decode(tc, r)?;
        Ok(UserException { id, members })
    }
}

/// An exception's TypeCode as a struct: its members without the
/// repository id in front.
fn members_only(tc: &TypeCode) -> TypeCode {
    match tc {
        TypeCode::Except { id, name, members } => TypeCode::Struct {
            id: id.clone(),
            name: name.clone(),
            members: members.clone(),
        },
        other => other.clone(),
    }
}
