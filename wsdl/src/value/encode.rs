//! From values to XML, guided by the schema: element names as declared
//! (qualified or not per `form`/`elementFormDefault`), every prefix
//! declared where it is first needed, `xsi:type` where the actual type is
//! not the declared one (always, in SOAP encoding), `xsi:nil`, and
//! SOAP-encoded arrays.

use crate::qname::QName;
use crate::xml_out::escape;
use crate::xsd::builtin::XSD_NS;
use crate::xsd::model::{AttributeUseKind, ComplexContent, ComplexType};
use crate::xsd::{ResolvedType, SOAP11_ENCODING_NS, XSI_NS};

use super::error::ValueError;
use super::model::{Array, Complex, Simple, Value};
use super::simple::inferred_type;
use super::types::{Declared, Types, is_any, type_name};

/// The prefixes the encoder gives well-known namespaces.
fn well_known_prefix(namespace: &str) -> Option<&'static str> {
    match namespace {
        XSI_NS => Some("xsi"),
        XSD_NS => Some("xsd"),
        SOAP11_ENCODING_NS => Some("SOAP-ENC"),
        crate::version::SOAP11_ENVELOPE_NS => Some("SOAP-ENV"),
        _ => None,
    }
}

/// A start tag being written: declarations and attributes collect until
/// it is finished.
pub(crate) struct Tag {
    name: String,
    declarations: Vec<(String, String)>,
    attributes: String,
}

/// Writes values as XML.
pub(crate) struct Encoder<'s> {
    pub(crate) types: Types<'s>,
    pub(crate) out: String,
    encoded: bool,
    /// The prefixes declared by each open element, innermost last.
    scopes: Vec<Vec<(String, String)>>,
    next_prefix: usize,
    max_depth: usize,
}

impl<'s> Encoder<'s> {
    pub(crate) fn new(types: Types<'s>, encoded: bool, max_depth: usize) -> Self {
        Self {
            types,
            out: String::new(),
            encoded,
            scopes: Vec::new(),
            next_prefix: 1,
            max_depth,
        }
    }

    /// The prefix bound to `namespace`, declaring it on `tag` when no
    /// open element does.
    fn prefix(&mut self, tag: &mut Tag, namespace: &str) -> String {
        let in_scope = self
            .scopes
            .iter()
            .rev()
            .flatten()
            .chain(tag.declarations.iter())
            .find(|(_, uri)| uri == namespace)
            .map(|(prefix, _)| prefix.clone());
        if let Some(prefix) = in_scope {
            return prefix;
        }
        let prefix = match well_known_prefix(namespace) {
            Some(prefix) => prefix.to_owned(),
            None => {
                let prefix = format!("ns{}", self.next_prefix);
                self.next_prefix += 1;
                prefix
            }
        };
        tag.declarations
            .push((prefix.clone(), namespace.to_owned()));
        prefix
    }

    /// The prefixed form of `name` (in no namespace: the local name, as
    /// the encoder never binds a default namespace).
    pub(crate) fn qualified(&mut self, tag: &mut Tag, name: &QName) -> String {
        match &name.namespace {
            Some(namespace) => {
                let prefix = self.prefix(tag, namespace);
                format!("{prefix}:{}", name.local)
            }
            None => name.local.clone(),
        }
    }

    /// Opens a start tag for `name`.
    pub(crate) fn begin(&mut self, name: &QName) -> Tag {
        let mut tag = Tag {
            name: String::new(),
            declarations: Vec::new(),
            attributes: String::new(),
        };
        tag.name = self.qualified(&mut tag, name);
        tag
    }

    /// Adds an attribute (value unescaped).
    pub(crate) fn attribute(&mut self, tag: &mut Tag, name: &QName, value: &str) {
        let key = self.qualified(tag, name);
        tag.attributes.push(' ');
        tag.attributes.push_str(&key);
        tag.attributes.push_str("=\"");
        tag.attributes.push_str(&escape(value, true));
        tag.attributes.push('"');
    }

    /// Declares `namespace` on `tag` whether or not it is in use.
    pub(crate) fn declare(&mut self, tag: &mut Tag, namespace: &str) {
        let _ = self.prefix(tag, namespace);
    }

    /// Writes the start tag; `empty` writes `/>` and closes it.
    pub(crate) fn finish(&mut self, tag: Tag, empty: bool) -> String {
        self.out.push('<');
        self.out.push_str(&tag.name);
        for (prefix, uri) in &tag.declarations {
            self.out.push_str(" xmlns:");
            self.out.push_str(prefix);
            self.out.push_str("=\"");
            self.out.push_str(&escape(uri, true));
            self.out.push('"');
        }
        self.out.push_str(&tag.attributes);
        if empty {
            self.out.push_str("/>");
        } else {
            self.out.push('>');
            self.scopes.push(tag.declarations);
        }
        tag.name
    }

    /// Writes the end tag of the innermost open element.
    pub(crate) fn end(&mut self, name: &str) {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
        self.scopes.pop();
    }

    /// Writes the element `name` holding `value` of type `declared`.
    pub(crate) fn element(
        &mut self,
        name: &QName,
        declared: Declared<'s>,
        value: &Value,
        path: &str,
        depth: usize,
    ) -> Result<(), ValueError> {
        if depth > self.max_depth {
            return Err(ValueError::unencodable(
                path,
                format!("values nest deeper than {}", self.max_depth),
            ));
        }
        match value {
            Value::Raw(xml) => {
                self.out.push_str(xml);
                Ok(())
            }
            Value::Nil => {
                if !declared.nillable && !self.encoded {
                    return Err(ValueError::unencodable(path, "the element is not nillable"));
                }
                let mut tag = self.begin(name);
                self.attribute(&mut tag, &QName::new(XSI_NS, "nil"), "true");
                self.finish(tag, true);
                Ok(())
            }
            Value::Array(array) => self.array(name, declared, array, path, depth),
            Value::Simple(simple) => self.simple(name, declared, simple, path),
            Value::Complex(complex) => self.complex(name, declared, complex, path, depth),
        }
    }

    fn simple(
        &mut self,
        name: &QName,
        declared: Declared<'s>,
        value: &Simple,
        path: &str,
    ) -> Result<(), ValueError> {
        let ty = match declared.ty {
            Some(ResolvedType::Complex(complex))
                if !matches!(complex.content, ComplexContent::Simple { .. }) =>
            {
                return Err(ValueError::unencodable(
                    path,
                    "a simple value given for an element of complex type",
                ));
            }
            ty => ty,
        };
        let mut tag = self.begin(name);
        if self.encoded {
            let written = ty
                .and_then(type_name)
                .unwrap_or_else(|| QName::new(XSD_NS, inferred_type(value).local_name()));
            let type_text = self.qualified(&mut tag, &written);
            self.attribute(&mut tag, &QName::new(XSI_NS, "type"), &type_text);
        }
        let text = self.simple_text(&mut tag, ty, value, path)?;
        let tag_name = self.finish(tag, text.is_empty());
        if !text.is_empty() {
            self.out.push_str(&escape(&text, false));
            self.end(&tag_name);
        }
        Ok(())
    }

    fn simple_text(
        &mut self,
        tag: &mut Tag,
        ty: Option<ResolvedType<'s>>,
        value: &Simple,
        path: &str,
    ) -> Result<String, ValueError> {
        let mut declarations = std::mem::take(&mut tag.declarations);
        let schema = self.types.schema;
        let types = std::mem::replace(&mut self.types, Types::new(schema));
        let result = {
            let mut prefix = |name: &QName| {
                let mut scratch = Tag {
                    name: String::new(),
                    declarations: std::mem::take(&mut declarations),
                    attributes: String::new(),
                };
                let text = self.qualified(&mut scratch, name);
                declarations = scratch.declarations;
                text
            };
            types.encode_simple(ty, value, &mut prefix)
        };
        self.types = types;
        tag.declarations = declarations;
        result.map_err(|message| ValueError::unencodable(path, message))
    }

    fn complex(
        &mut self,
        name: &QName,
        declared: Declared<'s>,
        value: &Complex,
        path: &str,
        depth: usize,
    ) -> Result<(), ValueError> {
        let mut tag = self.begin(name);
        let mut ty = declared.ty;
        let mut written_type = None;
        if let Some(actual) = &value.type_name {
            ty = Some(self.types.resolve_name(actual).ok_or_else(|| {
                ValueError::unencodable(path, format!("the type {actual} is not a known type"))
            })?)
            .filter(|t| !is_any(*t));
            written_type = Some(actual.clone());
        } else if self.encoded {
            written_type = ty.and_then(type_name);
        }
        if let Some(written) = written_type {
            let type_text = self.qualified(&mut tag, &written);
            self.attribute(&mut tag, &QName::new(XSI_NS, "type"), &type_text);
        }
        let complex = match ty {
            Some(ResolvedType::Complex(complex)) => Some(complex),
            None => None,
            Some(_) => {
                return Err(ValueError::unencodable(
                    path,
                    "a complex value given for an element of simple type",
                ));
            }
        };
        let Some(complex) = complex else {
            return self.untyped_complex(tag, value, path, depth);
        };
        self.attributes(&mut tag, complex, value, path)?;
        if let ComplexContent::Simple { .. } = complex.content {
            let text = match &value.content {
                Some(content) => self.simple_text(
                    &mut tag,
                    Some(ResolvedType::Complex(complex)),
                    content,
                    path,
                )?,
                None => String::new(),
            };
            if !value.fields.is_empty() {
                return Err(ValueError::unencodable(
                    path,
                    "fields given for a type with simple content",
                ));
            }
            let tag_name = self.finish(tag, text.is_empty());
            if !text.is_empty() {
                self.out.push_str(&escape(&text, false));
                self.end(&tag_name);
            }
            return Ok(());
        }
        if value.content.is_some() {
            return Err(ValueError::unencodable(
                path,
                "simple content given for a type with element content",
            ));
        }
        let map = self.types.content(complex);
        let tag_name = self.finish(tag, value.fields.is_empty());
        if value.fields.is_empty() {
            return Ok(());
        }
        for field in &value.fields {
            let field_path = format!("{path}/{}", field.name.local);
            match map.find(&field.name, self.encoded) {
                Some(decl) => {
                    let declared = self.types.declared(decl);
                    self.element(&decl.name, declared, &field.value, &field_path, depth + 1)?;
                }
                None if matches!(field.value, Value::Raw(_))
                    && map.admits(field.name.namespace.as_deref()) =>
                {
                    self.element(
                        &field.name,
                        Declared::ANY,
                        &field.value,
                        &field_path,
                        depth + 1,
                    )?;
                }
                None => {
                    return Err(ValueError::unencodable(
                        &field_path,
                        format!("the type has no element {}", field.name),
                    ));
                }
            }
        }
        self.end(&tag_name);
        Ok(())
    }

    fn attributes(
        &mut self,
        tag: &mut Tag,
        complex: &'s ComplexType,
        value: &Complex,
        path: &str,
    ) -> Result<(), ValueError> {
        let (uses, wildcard) = self.types.attributes(complex);
        for attribute in &value.attributes {
            let attribute_path = format!("{path}/@{}", attribute.name.local);
            let Some(u) = uses
                .iter()
                .find(|u| u.name == attribute.name && u.use_kind != AttributeUseKind::Prohibited)
            else {
                return Err(ValueError::unencodable(
                    &attribute_path,
                    "the type declares no such attribute",
                ));
            };
            let ty = self.types.attribute_type(u);
            let text = self.simple_text(tag, ty, &attribute.value, &attribute_path)?;
            self.attribute(tag, &attribute.name, &text);
        }
        for (name, text) in &value.any_attributes {
            if !wildcard.is_some_and(|w| w.namespaces.admits(name.namespace.as_deref()))
                && name.namespace.as_deref() != Some(crate::version::XML_NS)
            {
                return Err(ValueError::unencodable(
                    &format!("{path}/@{}", name.local),
                    "the type admits no such attribute",
                ));
            }
            self.attribute(tag, name, text);
        }
        for u in uses {
            if u.use_kind == AttributeUseKind::Required
                && !value.attributes.iter().any(|a| a.name == u.name)
            {
                return Err(ValueError::unencodable(
                    path,
                    format!("the required attribute {} is missing", u.name),
                ));
            }
        }
        Ok(())
    }

    /// A complex value of no known type: its fields, each written with
    /// the type its value suggests.
    fn untyped_complex(
        &mut self,
        tag: Tag,
        value: &Complex,
        path: &str,
        depth: usize,
    ) -> Result<(), ValueError> {
        if !value.attributes.is_empty() || (value.content.is_some() && !value.fields.is_empty()) {
            return Err(ValueError::unencodable(
                path,
                "attributes, or both fields and content, given for a value of unknown type",
            ));
        }
        let mut tag = tag;
        for (name, text) in &value.any_attributes {
            self.attribute(&mut tag, name, text);
        }
        let text = match &value.content {
            Some(content) => self.simple_text(&mut tag, None, content, path)?,
            None => String::new(),
        };
        let tag_name = self.finish(tag, value.fields.is_empty() && text.is_empty());
        if !text.is_empty() {
            self.out.push_str(&escape(&text, false));
            self.end(&tag_name);
            return Ok(());
        }
        if value.fields.is_empty() {
            return Ok(());
        }
        for field in &value.fields {
            let field_path = format!("{path}/{}", field.name.local);
            self.element(
                &field.name,
                Declared::ANY,
                &field.value,
                &field_path,
                depth + 1,
            )?;
        }
        self.end(&tag_name);
        Ok(())
    }

    fn array(
        &mut self,
        name: &QName,
        declared: Declared<'s>,
        array: &Array,
        path: &str,
        depth: usize,
    ) -> Result<(), ValueError> {
        let declared_item = self.types.array_of(declared.ty);
        if declared_item.is_none() && !self.encoded {
            return Err(ValueError::unencodable(
                path,
                "an array given for an element that is not a SOAP-encoded array",
            ));
        }
        let item_type = array
            .item_type
            .clone()
            .or_else(|| declared_item.clone().flatten())
            .or_else(|| {
                array
                    .items
                    .iter()
                    .find_map(|item| item.as_simple())
                    .map(|s| QName::new(XSD_NS, inferred_type(s).local_name()))
            })
            .unwrap_or_else(|| QName::new(XSD_NS, "anyType"));
        let item_declared = Declared {
            ty: self.types.resolve_name(&item_type).filter(|t| !is_any(*t)),
            nillable: true,
        };
        let mut tag = self.begin(name);
        let array_name = match declared.ty.and_then(type_name) {
            Some(declared_name) if !self.encoded => declared_name,
            _ => QName::new(SOAP11_ENCODING_NS, "Array"),
        };
        if self.encoded || declared.ty.and_then(type_name).is_none() {
            let type_text = self.qualified(&mut tag, &array_name);
            self.attribute(&mut tag, &QName::new(XSI_NS, "type"), &type_text);
        }
        let item_text = self.qualified(&mut tag, &item_type);
        self.attribute(
            &mut tag,
            &QName::new(SOAP11_ENCODING_NS, "arrayType"),
            &format!("{item_text}[{}]", array.items.len()),
        );
        let tag_name = self.finish(tag, array.items.is_empty());
        if array.items.is_empty() {
            return Ok(());
        }
        let item_name = QName::unqualified("item");
        for (position, item) in array.items.iter().enumerate() {
            let item_path = format!("{path}/item[{}]", position + 1);
            self.element(&item_name, item_declared, item, &item_path, depth + 1)?;
        }
        self.end(&tag_name);
        Ok(())
    }
}
