//! The one-pass path of the IIOP front, for document/literal wrapped
//! operations whose wrapper children are single elements of plain
//! built-in types: the request element is written straight from the IDL
//! arguments, and a response whose children are all `xs:string` is read
//! straight from the message (no value tree, no envelope read twice).
//!
//! Each value still goes through the same [`Converter`] rule as on the
//! general path. Anything the path does not read or write without doubt
//! (another shape, a refused value, a character XML cannot carry,
//! attributes, a default namespace declaration) answers `None`, and the
//! servant takes the general path, which gives the same bytes and values
//! or the precise exception: the two paths differ in speed only.

use ithaca_idl::dynamic::{Operation, TypeCode, Value};
use ithaca_idl::front::ast::ParamDir;
use ithaca_wsdl::QName;
use ithaca_wsdl::value::{Simple, Value as XmlValue};
use ithaca_wsdl::wsdl11::{OperationInfo, Style, Use};
use ithaca_wsdl::xsd::ResolvedType;
use ithaca_wsdl::xsd::builtin::BuiltinType;
use ithaca_wsdl::xsd::model::Occurs;

use super::contract::{BridgedContract, MessageShape};
use super::values::{ChildElement, Converter};
use crate::bridge::flat_xml::{
    declares_default_namespace, only_whitespace_around, push_text, read_children,
};
use crate::bridge::mapping::{idl_identifier, xml_escape};

/// The most children the one-pass path handles.
const MAX_CHILDREN: usize = 64;

/// One child element of a flat wrapper.
#[derive(Clone, Debug)]
struct FlatChild {
    /// Its (unqualified) name.
    name: String,
    /// Its built-in type.
    builtin: BuiltinType,
    /// The IDL member it carries: its position in the member list (the
    /// `in`/`inout` arguments, or `_return` then `out`/`inout`).
    member: usize,
    /// The member's IDL type.
    tc: TypeCode,
    /// `/{name}`, for the converter's messages.
    path: String,
}

/// What the one-pass path of one operation needs, made when the contract
/// is loaded.
#[derive(Clone, Debug, Default)]
pub struct SimplePlan {
    /// The request element's start tag (binding its namespace), end tag
    /// and children in document order; `None`: the general path writes it.
    request: Option<(String, String, Vec<FlatChild>)>,
    /// The response element's namespace and local name, its children in
    /// document order and the number of IDL members they carry; `None`:
    /// the general path reads it.
    response: Option<(QName, Vec<FlatChild>, usize)>,
}

impl SimplePlan {
    /// The plan of `idl` sent as `wsdl` with `contract`'s schema.
    pub(crate) fn new(contract: &BridgedContract, idl: &Operation, wsdl: &OperationInfo) -> Self {
        if wsdl.style != Style::Document || wsdl.use_kind != Use::Literal {
            return Self::default();
        }
        let inputs: Vec<(&str, &TypeCode)> = idl
            .params
            .iter()
            .filter(|p| matches!(p.dir, ParamDir::In | ParamDir::InOut))
            .map(|p| (p.name.as_str(), &p.ty))
            .collect();
        let mut outputs: Vec<(&str, &TypeCode)> = Vec::new();
        if idl.result != TypeCode::Void {
            outputs.push(("_return", &idl.result));
        }
        outputs.extend(
            idl.params
                .iter()
                .filter(|p| matches!(p.dir, ParamDir::Out | ParamDir::InOut))
                .map(|p| (p.name.as_str(), &p.ty)),
        );
        let request = wsdl
            .input
            .as_ref()
            .and_then(|body| body.body_name.as_ref())
            .and_then(|element| {
                let MessageShape::Wrapped(children) = contract.shape(wsdl, true).ok()? else {
                    return None;
                };
                let children = flat_children(&children, &inputs, false)?;
                let namespace = element.namespace.as_deref()?;
                Some((
                    format!(
                        "<tns:{} xmlns:tns=\"{}\">",
                        element.local,
                        xml_escape(namespace)
                    ),
                    format!("</tns:{}>", element.local),
                    children,
                ))
            });
        let response = wsdl
            .output
            .as_ref()
            .and_then(|body| body.body_name.clone())
            .filter(|_| !idl.oneway)
            .and_then(|element| {
                let MessageShape::Wrapped(children) = contract.shape(wsdl, false).ok()? else {
                    return None;
                };
                let children = flat_children(&children, &outputs, true)?;
                Some((element, children, outputs.len()))
            });
        Self { request, response }
    }

    /// The request element for `args` (the `in` and `inout` arguments).
    pub(crate) fn request_body(
        &self,
        converter: &Converter<'_>,
        args: &[Value],
    ) -> Option<Vec<u8>> {
        let (open, close, children) = self.request.as_ref()?;
        let mut xml = String::with_capacity(open.len() + close.len() + 64);
        xml.push_str(open);
        for child in children {
            let value = args.get(child.member)?;
            let ty = Some(ResolvedType::Builtin(child.builtin));
            let XmlValue::Simple(simple) = converter
                .to_xml(&child.tc, value, ty, &child.path, 1)
                .ok()?
            else {
                return None;
            };
            xml.push('<');
            xml.push_str(&child.name);
            xml.push('>');
            match simple {
                Simple::String(text) if child.builtin == BuiltinType::String => {
                    push_text(&mut xml, &text)?;
                }
                Simple::Int(n) if is_integer(child.builtin) => xml.push_str(&n.to_string()),
                Simple::UInt(n) if is_integer(child.builtin) => xml.push_str(&n.to_string()),
                Simple::Boolean(b) if child.builtin == BuiltinType::Boolean => {
                    xml.push_str(if b { "true" } else { "false" });
                }
                _ => return None,
            }
            xml.push_str("</");
            xml.push_str(&child.name);
            xml.push('>');
        }
        xml.push_str(close);
        Some(xml.into_bytes())
    }

    /// The result and `out`/`inout` values of a response whose body
    /// (`payload`, in `message`) holds the wrapper `body`.
    pub(crate) fn reply_values(
        &self,
        converter: &Converter<'_>,
        message: &[u8],
        payload: &[u8],
    ) -> Option<Vec<Value>> {
        let (element, children, members) = self.response.as_ref()?;
        let body = payload.trim_ascii();
        if declares_default_namespace(message) || !only_whitespace_around(payload, body) {
            return None;
        }
        let wrapper = read_children(body, children.len())?;
        if wrapper.local != element.local
            || wrapper.namespace.as_deref() != element.namespace.as_deref()
            || wrapper.children.len() != children.len()
        {
            return None;
        }
        let texts = wrapper.children;
        let mut values: Vec<Option<Value>> = vec![None; *members];
        for (child, (name, text)) in children.iter().zip(texts) {
            if name != child.name {
                return None;
            }
            let xml = XmlValue::Simple(Simple::String(text));
            let ty = Some(ResolvedType::Builtin(BuiltinType::String));
            let value = converter
                .from_xml(&child.tc, &xml, ty, &child.path, 1)
                .ok()?;
            *values.get_mut(child.member)? = Some(value);
        }
        values.into_iter().collect()
    }
}

/// The children of a wrapper as flat children carrying `members`: each
/// unqualified, once, of a plain built-in type (`xs:string` only when
/// `strings_only`), every member carried exactly once.
fn flat_children(
    children: &[ChildElement<'_>],
    members: &[(&str, &TypeCode)],
    strings_only: bool,
) -> Option<Vec<FlatChild>> {
    if children.len() != members.len() || children.len() > MAX_CHILDREN {
        return None;
    }
    let mut flat = Vec::with_capacity(children.len());
    for child in children {
        if !child.is_element() || child.name.namespace.is_some() || child.occurs != Occurs::ONCE {
            return None;
        }
        let Some(ResolvedType::Builtin(builtin)) = child.ty else {
            return None;
        };
        let plain = builtin == BuiltinType::String
            || (!strings_only && (builtin == BuiltinType::Boolean || is_integer(builtin)));
        if !plain {
            return None;
        }
        let idl_name = idl_identifier(&child.name.local);
        let member = members
            .iter()
            .position(|(name, _)| *name == child.name.local || *name == idl_name)?;
        let tc = members.get(member).map(|(_, tc)| (*tc).clone())?;
        flat.push(FlatChild {
            name: child.name.local.clone(),
            builtin,
            member,
            tc,
            path: format!("/{}", child.name.local),
        });
    }
    let mut seen: Vec<usize> = flat.iter().map(|c| c.member).collect();
    seen.sort_unstable();
    seen.dedup();
    (seen.len() == members.len()).then_some(flat)
}

/// The built-in integer types whose values are plain decimal numbers.
fn is_integer(builtin: BuiltinType) -> bool {
    matches!(
        builtin,
        BuiltinType::Byte
            | BuiltinType::Short
            | BuiltinType::Int
            | BuiltinType::Long
            | BuiltinType::UnsignedByte
            | BuiltinType::UnsignedShort
            | BuiltinType::UnsignedInt
            | BuiltinType::UnsignedLong
    )
}
