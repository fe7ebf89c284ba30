//! The one-pass path of the SOAP front, for operations whose parameters
//! and results are all simple IDL types (integers, `octet`, `boolean`,
//! `char`/`wchar`, bounded or unbounded `string`/`wstring`, enums, and
//! typedefs of these).
//!
//! The request wrapper's children are read straight from the message
//! bytes (no value tree, no namespace scope copied) and each text handed
//! to the same [`Converter`] rule as on the general path; the reply's
//! values are written as the response element's bytes, whose start and
//! end tags were made once at start-up.
//!
//! The path only answers requests it reads without doubt. Anything else
//! (attributes, comments, nested or unknown elements, a default namespace
//! declaration anywhere in the message, a value the converter refuses, a
//! character XML cannot carry) makes it answer `None`, and the caller
//! takes the general path, which gives the same values or the precise
//! fault. So the two paths can differ in speed only.

use std::fmt::Write as _;

use super::values::Converter;
use crate::bridge::flat_xml::{
    declares_default_namespace, for_each_child, only_whitespace_around, push_text,
};
use crate::bridge::mapping::{IDL_MAPPED_NS, OperationMapping, ParamMode, xml_escape};
use ithaca_idl::dynamic::{Operation, TypeCode, Value as IdlValue};
use ithaca_wsdl::value::{Simple, Value as XmlValue};

/// The most parameters the one-pass path reads (wider operations take the
/// general path).
const MAX_SIMPLE_PARAMS: usize = 64;

/// One parameter or result on the one-pass path.
#[derive(Debug)]
struct Slot {
    /// The element's (unqualified) name.
    name: String,
    /// Its IDL type.
    tc: TypeCode,
    /// `/{wrapper}/{name}`, for the converter's messages.
    path: String,
}

/// What the one-pass path of one operation needs, made at start-up.
#[derive(Debug)]
pub(crate) struct SimplePlan {
    /// The `in` and `inout` parameters, in order.
    inputs: Vec<Slot>,
    /// `_return` (unless `void`), then the `inout` and `out` parameters.
    outputs: Vec<Slot>,
    /// The response element's start tag, binding its namespace.
    open: String,
    /// Its end tag.
    close: String,
}

impl SimplePlan {
    /// The plan of `operation` mapped as `mapping`; `None` when a
    /// parameter or the result is not a simple type, or the mapping is
    /// not the one this path reads (unqualified children of a wrapper).
    pub(crate) fn new(operation: &Operation, mapping: &OperationMapping) -> Option<Self> {
        if mapping.params.len() != operation.params.len()
            || operation.params.len() > MAX_SIMPLE_PARAMS
        {
            return None;
        }
        let request = &mapping.request_element;
        let mut inputs = Vec::new();
        let mut outputs = Vec::new();
        let response = mapping.response_element.as_deref();
        if let Some(element) = response
            && !matches!(operation.result, TypeCode::Void)
        {
            outputs.push(Slot {
                name: "_return".to_owned(),
                tc: simple(&operation.result)?.clone(),
                path: format!("/{element}/_return"),
            });
        }
        for (mapped, param) in mapping.params.iter().zip(&operation.params) {
            let tc = simple(&param.ty)?;
            if mapped.mode != ParamMode::Out {
                inputs.push(Slot {
                    name: mapped.name.clone(),
                    tc: tc.clone(),
                    path: format!("/{request}/{}", mapped.name),
                });
            }
            if mapped.mode != ParamMode::In
                && let Some(element) = response
            {
                outputs.push(Slot {
                    name: mapped.name.clone(),
                    tc: tc.clone(),
                    path: format!("/{element}/{}", mapped.name),
                });
            }
        }
        let (open, close) = match response {
            Some(element) => (
                format!(
                    "<tns:{element} xmlns:tns=\"{}\">",
                    xml_escape(IDL_MAPPED_NS)
                ),
                format!("</tns:{element}>"),
            ),
            None => (String::new(), String::new()),
        };
        let names_are_plain = inputs
            .iter()
            .chain(&outputs)
            .all(|s| !s.name.is_empty() && !s.name.contains(':'));
        names_are_plain.then_some(Self {
            inputs,
            outputs,
            open,
            close,
        })
    }

    /// The `in` and `inout` arguments of a request, read from `message`
    /// (the whole envelope) whose body holds the wrapper `body` and
    /// nothing else but whitespace (`payload` is the body's content).
    pub(crate) fn arguments(
        &self,
        converter: &Converter<'_>,
        message: &[u8],
        payload: &[u8],
        body: &[u8],
    ) -> Option<Vec<IdlValue>> {
        // A default namespace would put the unqualified children in it;
        // the general path sorts that out.
        if declares_default_namespace(message) || !only_whitespace_around(payload, body) {
            return None;
        }
        let mut args = Vec::with_capacity(self.inputs.len());
        let mut slots = self.inputs.iter();
        let read = for_each_child(body, self.inputs.len(), &mut |name, text| {
            let slot = slots.next().filter(|slot| slot.name == name)?;
            args.push(converter.text_to_idl(&slot.tc, text, &slot.path).ok()?);
            Some(())
        })?;
        (read == self.inputs.len()).then_some(args)
    }

    /// The response element for a reply's result and `out`/`inout`
    /// values, or `None` when the general path must write it.
    pub(crate) fn response(
        &self,
        converter: &Converter<'_>,
        result: &IdlValue,
        out: &[IdlValue],
    ) -> Option<Vec<u8>> {
        let values = self
            .outputs
            .first()
            .filter(|s| s.name == "_return")
            .map(|_| result)
            .into_iter()
            .chain(out);
        let mut xml = String::with_capacity(self.open.len() + self.close.len() + 64);
        xml.push_str(&self.open);
        let mut written = 0;
        for (slot, value) in self.outputs.iter().zip(values) {
            xml.push('<');
            xml.push_str(&slot.name);
            xml.push('>');
            // A string is written as it is (what `to_xml` would answer,
            // without the copy).
            if let (TypeCode::String(_), IdlValue::String(text))
            | (TypeCode::WString(_), IdlValue::WString(text)) = (&slot.tc, value)
            {
                push_text(&mut xml, text)?;
                xml.push_str("</");
                xml.push_str(&slot.name);
                xml.push('>');
                written += 1;
                continue;
            }
            let XmlValue::Simple(simple) = converter.to_xml(&slot.tc, value, &slot.path).ok()?
            else {
                return None;
            };
            match simple {
                Simple::String(text) => push_text(&mut xml, &text)?,
                Simple::Int(n) => write!(xml, "{n}").ok()?,
                Simple::UInt(n) => write!(xml, "{n}").ok()?,
                Simple::Boolean(b) => xml.push_str(if b { "true" } else { "false" }),
                _ => return None,
            }
            xml.push_str("</");
            xml.push_str(&slot.name);
            xml.push('>');
            written += 1;
        }
        if written != self.outputs.len() {
            return None;
        }
        xml.push_str(&self.close);
        Some(xml.into_bytes())
    }
}

/// The type itself when it is simple (through typedefs), else `None`.
fn simple(tc: &TypeCode) -> Option<&TypeCode> {
    let mut tc = tc;
    for _ in 0..16 {
        match tc {
            TypeCode::Alias { original, .. } => tc = original,
            TypeCode::Short
            | TypeCode::Long
            | TypeCode::LongLong
            | TypeCode::UShort
            | TypeCode::ULong
            | TypeCode::ULongLong
            | TypeCode::Octet
            | TypeCode::Boolean
            | TypeCode::Char
            | TypeCode::WChar
            | TypeCode::String(_)
            | TypeCode::WString(_)
            | TypeCode::Enum { .. } => return Some(tc),
            _ => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use ithaca_wsdl::value::{Direction, MessageCodec};
    use ithaca_wsdl::{Limits, read_envelope};
    use proptest::prelude::*;

    use super::super::{BridgedInterface, CorbaObjectConfig, arguments};
    use super::*;

    fn rich() -> BridgedInterface {
        let idl = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/bridge/soapfront/Rich.idl"
        );
        let mut config = CorbaObjectConfig::new("Rich", idl, "IOR:");
        config.interface = Some("Bridge::Rich".to_owned());
        BridgedInterface::load(&config).unwrap()
    }

    fn request(operation: &str, children: &str) -> String {
        format!(
            "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\" \
             xmlns:b=\"{IDL_MAPPED_NS}\"><soap:Body><b:Bridge.Rich.{operation}>{children}\
             </b:Bridge.Rich.{operation}></soap:Body></soap:Envelope>"
        )
    }

    /// The one-pass arguments (`None`: left to the general path) and the
    /// general path's, for one request.
    fn both(
        interface: &BridgedInterface,
        operation: &str,
        message: &str,
    ) -> (Option<Vec<IdlValue>>, Result<Vec<IdlValue>, String>) {
        let plan = interface.plan(operation).unwrap();
        let converter = Converter::new(&interface.types);
        let message = message.as_bytes();
        let envelope = read_envelope(message, None, &Limits::DEFAULT).unwrap();
        let payload = message.get(envelope.body.payload.clone()).unwrap();
        let body = envelope
            .body
            .first_child
            .as_ref()
            .and_then(|c| message.get(c.range.clone()))
            .unwrap();
        let fast = plan
            .simple
            .as_ref()
            .unwrap()
            .arguments(&converter, message, payload, body);
        let general = MessageCodec::new(&interface.loaded, &plan.wsdl)
            .decode(Direction::Input, payload, &envelope.body_scope())
            .map_err(|e| e.to_string())
            .and_then(|value| arguments(&converter, plan, &value).map_err(|e| e.to_string()));
        (fast, general)
    }

    #[test]
    fn simple_operations_take_the_one_pass_path_and_others_do_not() {
        let interface = rich();
        for simple in ["add", "nickname", "notify", "notifications", "_get_counter"] {
            assert!(interface.plan(simple).unwrap().simple.is_some(), "{simple}");
        }
        for general in ["echoRecord", "split", "echoAny", "echoObject", "pay"] {
            assert!(
                interface.plan(general).unwrap().simple.is_none(),
                "{general}"
            );
        }
        let (fast, general) = both(&interface, "add", &request("add", "<a>40</a><b>2</b>"));
        assert_eq!(fast, Some(vec![IdlValue::Long(40), IdlValue::Long(2)]));
        assert_eq!(general, Ok(fast.unwrap()));
    }

    #[test]
    fn refusals_are_left_to_the_general_path() {
        let interface = rich();
        // The general path's value decoder checks the children's order
        // too, as the schema validator does.
        for (children, refused) in [
            ("<a>4294967296</a><b>2</b>", true),
            ("<b>2</b><a>1</a>", true),
            ("<a>1</a>", true),
            ("<a>1</a><b>2</b><c>3</c>", true),
            ("<a>x</a><b>2</b>", true),
        ] {
            let (fast, general) = both(&interface, "add", &request("add", children));
            assert_eq!(fast, None, "{children}");
            assert_eq!(general.is_err(), refused, "{children}: {general:?}");
        }
        let (fast, general) = both(
            &interface,
            "nickname",
            &request("nickname", "<n>nine chars</n>"),
        );
        assert_eq!(fast, None);
        assert!(general.is_err());
    }

    #[test]
    fn responses_are_what_the_general_path_writes() {
        let interface = rich();
        let plan = interface.plan("nickname").unwrap();
        let converter = Converter::new(&interface.types);
        let codec = MessageCodec::new(&interface.loaded, &plan.wsdl);
        let result = IdlValue::String("a<&>\r".to_owned());
        let fast = plan
            .simple
            .as_ref()
            .unwrap()
            .response(&converter, &result, &[])
            .unwrap();
        let reply = ithaca_idl::dynamic::ReplyValues {
            result,
            out: Vec::new(),
        };
        let general = codec
            .encode(
                Direction::Output,
                &super::super::response(&converter, plan, &reply).unwrap(),
            )
            .unwrap();
        let decode = |xml: &[u8]| codec.decode(Direction::Output, xml, &[]).unwrap();
        assert_eq!(decode(&fast), decode(&general));
    }

    proptest! {
        #[test]
        fn both_paths_read_the_same_integers(a in any::<i64>(), b in any::<i32>(), pad in "[ \t\n]{0,2}") {
            let interface = rich();
            let children = format!("<a>{pad}{a}{pad}</a><b>{b}</b>");
            let (fast, general) = both(&interface, "add", &request("add", &children));
            if let Some(fast) = fast {
                prop_assert_eq!(Ok(fast), general);
            } else {
                prop_assert!(general.is_err());
            }
        }

        #[test]
        fn both_paths_read_the_same_strings(text in "[a-z<>&'\" \r\n\t\u{e9}\u{4e2d}\u{1f600}]{0,12}") {
            let interface = rich();
            let escaped = text
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('\r', "&#xD;");
            let (fast, general) = both(&interface, "nickname", &request("nickname", &format!("<n>{escaped}</n>")));
            match fast {
                Some(fast) => prop_assert_eq!(Ok(fast), general),
                None => prop_assert!(general.is_err()),
            }
        }
    }
}
