//! From a payload's element tree to values, guided by the schema: the
//! literal rules (XSD) and SOAP 1.1 section 5 encoding (`xsi:type`,
//! `SOAP-ENC:Array`, multi-reference `href`/`id`).

use std::collections::HashMap;

use crate::qname::QName;
use crate::xsd::model::{AttributeUseKind, ComplexContent, ComplexType};
use crate::xsd::{ResolvedType, SOAP11_ENCODING_NS, SOAP12_ENCODING_NS, XSI_NS};

use super::error::ValueError;
use super::limits::ValueLimits;
use super::model::{Array, Attribute, Complex, Field, Simple, Value};
use super::tree::{Node, Tree};
use super::types::{Declared, Types, is_any, is_soap_array};

/// The SOAP 1.1 envelope namespace (for `encodingStyle` on any element).
const SOAP11_ENV: &str = crate::version::SOAP11_ENVELOPE_NS;
const SOAP12_ENV: &str = crate::version::SOAP12_ENVELOPE_NS;

/// Walks a tree and builds values.
pub(crate) struct Decoder<'s, 't> {
    pub(crate) types: Types<'s>,
    tree: &'t Tree,
    limits: ValueLimits,
    /// SOAP 1.1 section 5 rules (`href`, arrays, lenient accessor names).
    encoded: bool,
    /// Elements carrying an `id`, by id (SOAP encoding only).
    ids: HashMap<&'t str, usize>,
    /// The `href` targets being decoded, to refuse cycles.
    active: Vec<usize>,
    values: usize,
    references: usize,
}

impl<'s, 't> Decoder<'s, 't> {
    pub(crate) fn new(
        types: Types<'s>,
        tree: &'t Tree,
        limits: ValueLimits,
        encoded: bool,
    ) -> Result<Self, ValueError> {
        let mut ids = HashMap::new();
        if encoded {
            for (index, node) in tree.nodes() {
                if let Some(id) = node.attribute(None, "id")
                    && ids.insert(id, index).is_some()
                {
                    return Err(ValueError::invalid(
                        &format!("/{}", node.name.local),
                        format!("the id \"{id}\" is used twice"),
                    ));
                }
            }
        }
        Ok(Self {
            types,
            tree,
            limits,
            encoded,
            ids,
            active: Vec::new(),
            values: 0,
            references: 0,
        })
    }

    /// Decodes the element at `index` as `declared`.
    pub(crate) fn element(
        &mut self,
        index: usize,
        declared: Declared<'s>,
        path: &str,
        depth: usize,
    ) -> Result<Value, ValueError> {
        let tree = self.tree;
        let Some(node) = tree.node(index) else {
            return Err(ValueError::invalid(path, "internal error: no such node"));
        };
        if depth > self.limits.max_depth {
            return Err(ValueError::limit(
                path,
                format!("values nest deeper than {}", self.limits.max_depth),
            ));
        }
        self.values += 1;
        if self.values > self.limits.max_values {
            return Err(ValueError::limit(
                path,
                format!(
                    "the message holds more than {} values",
                    self.limits.max_values
                ),
            ));
        }
        if self.encoded
            && let Some(href) = node.attribute(None, "href")
        {
            return self.reference(href, declared, path, depth);
        }
        if let Some(nil) = node.attribute(Some(XSI_NS), "nil")
            && matches!(nil.trim(), "true" | "1")
        {
            if !declared.nillable && !self.encoded {
                return Err(ValueError::invalid(path, "the element is not nillable"));
            }
            if let Some(&child) = node.children.first() {
                let name = tree
                    .node(child)
                    .map(|c| c.name.to_string())
                    .unwrap_or_default();
                return Err(ValueError::invalid(
                    path,
                    format!("a nil element has content (the element {name})"),
                ));
            }
            return Ok(Value::Nil);
        }

        // The actual type: `xsi:type` when given, except that a simple
        // declared type wins (clients send `xsi:type="xsd:string"` for
        // anything).
        let mut ty = declared.ty;
        let mut actual_name = None;
        if let Some(written) = node.attribute(Some(XSI_NS), "type") {
            let Some(name) = tree.resolve_qname(node, written) else {
                return Err(ValueError::invalid(
                    path,
                    format!("the xsi:type \"{written}\" is not a QName with a bound prefix"),
                ));
            };
            if is_soap_array(&name) {
                let declared_item = self.types.array_of(declared.ty);
                if !self.encoded && declared_item.is_none() {
                    return Err(ValueError::invalid(
                        path,
                        "a SOAP-encoded array where the schema declares none",
                    ));
                }
                return self.array(node, declared_item.flatten(), path, depth);
            }
            let declared_is_simple = matches!(
                declared.ty,
                Some(ResolvedType::Builtin(_) | ResolvedType::Simple(_))
            );
            if !declared_is_simple {
                match self.types.resolve_name(&name) {
                    Some(ResolvedType::Builtin(_) | ResolvedType::Simple(_))
                        if matches!(declared.ty, Some(ResolvedType::Complex(_))) =>
                    {
                        return Err(ValueError::invalid(
                            path,
                            format!(
                                "the xsi:type {name} is a simple type; the element's type is complex"
                            ),
                        ));
                    }
                    Some(resolved) => {
                        ty = Some(resolved).filter(|t| !is_any(*t));
                        actual_name = Some(name);
                    }
                    None => {
                        return Err(ValueError::invalid(
                            path,
                            format!("the xsi:type {name} is not a known type"),
                        ));
                    }
                }
            }
        }
        if let Some(item) = self.types.array_of(ty) {
            return self.array(node, item, path, depth);
        }
        match ty {
            None => self.untyped(node, actual_name, path, depth),
            Some(ResolvedType::Complex(complex)) => {
                self.complex(node, complex, actual_name, path, depth)
            }
            Some(simple) => {
                self.no_children(node, path)?;
                self.check_attributes_of_simple(node, path)?;
                let value = self
                    .types
                    .decode_simple(Some(simple), &node.text, &|q| tree.resolve_qname(node, q))
                    .map_err(|message| ValueError::invalid(path, message))?;
                Ok(Value::Simple(value))
            }
        }
    }

    /// Follows `href="#id"` (SOAP 1.1 section 5.4.1).
    fn reference(
        &mut self,
        href: &str,
        declared: Declared<'s>,
        path: &str,
        depth: usize,
    ) -> Result<Value, ValueError> {
        let Some(id) = href.strip_prefix('#') else {
            return Err(ValueError::unsupported(
                path,
                format!("the href \"{href}\" is not a reference within the message"),
            ));
        };
        let Some(&target) = self.ids.get(id) else {
            return Err(ValueError::invalid(
                path,
                format!("the href \"{href}\" names no element of the message"),
            ));
        };
        if self.active.contains(&target) {
            return Err(ValueError::unsupported(
                path,
                format!("the href \"{href}\" makes a cycle of references"),
            ));
        }
        self.references += 1;
        if self.references > self.limits.max_references {
            return Err(ValueError::limit(
                path,
                format!(
                    "the message follows more than {} references",
                    self.limits.max_references
                ),
            ));
        }
        self.active.push(target);
        // The referenced element stands for this one: the value counted
        // for the accessor is not counted twice.
        self.values = self.values.saturating_sub(1);
        let result = self.element(target, declared, path, depth + 1);
        self.active.pop();
        result
    }

    /// An element with no type information: raw XML in literal use; in
    /// SOAP encoding, a struct of untyped fields or a string (a complex
    /// value with text content when an `xsi:type` of no known structure
    /// was given, so that it is sent back with that type).
    fn untyped(
        &mut self,
        node: &'t Node,
        type_name: Option<QName>,
        path: &str,
        depth: usize,
    ) -> Result<Value, ValueError> {
        if !self.encoded {
            return Ok(Value::Raw(self.tree.raw(node)));
        }
        if node.children.is_empty() {
            let text = Simple::String(node.text.clone());
            return Ok(match type_name {
                None => Value::Simple(text),
                Some(type_name) => Value::Complex(Complex {
                    type_name: Some(type_name),
                    content: Some(text),
                    ..Complex::default()
                }),
            });
        }
        let mut fields = Vec::with_capacity(node.children.len());
        for &child in &node.children {
            let Some(child_node) = self.tree.node(child) else {
                continue;
            };
            let child_path = format!("{path}/{}", child_node.name.local);
            let value = self.element(child, Declared::ANY, &child_path, depth + 1)?;
            fields.push(Field {
                name: child_node.name.clone(),
                value,
            });
        }
        Ok(Value::Complex(Complex {
            type_name,
            fields,
            ..Complex::default()
        }))
    }

    fn no_children(&self, node: &Node, path: &str) -> Result<(), ValueError> {
        if let Some(child) = node.children.first().and_then(|&c| self.tree.node(c)) {
            return Err(ValueError::invalid(
                path,
                format!("expected a simple value, found the element {}", child.name),
            ));
        }
        Ok(())
    }

    /// Attributes the codec handles itself and never reports.
    fn is_infrastructure(&self, name: &QName) -> bool {
        match name.namespace.as_deref() {
            Some(XSI_NS | SOAP11_ENV | SOAP12_ENV) => true,
            Some(SOAP11_ENCODING_NS | SOAP12_ENCODING_NS) => self.encoded,
            Some(_) => false,
            None => self.encoded && matches!(name.local.as_str(), "id" | "href"),
        }
    }

    fn check_attributes_of_simple(&self, node: &Node, path: &str) -> Result<(), ValueError> {
        if self.encoded {
            return Ok(());
        }
        for (name, _) in &node.attributes {
            if !self.is_infrastructure(name) {
                return Err(ValueError::invalid(
                    &format!("{path}/@{}", name.local),
                    "attributes are not allowed on an element of simple type",
                ));
            }
        }
        Ok(())
    }

    fn complex(
        &mut self,
        node: &'t Node,
        complex: &'s ComplexType,
        type_name: Option<QName>,
        path: &str,
        depth: usize,
    ) -> Result<Value, ValueError> {
        let tree = self.tree;
        let mut value = Complex {
            type_name,
            ..Complex::default()
        };
        let (uses, wildcard) = self.types.attributes(complex);
        for (name, text) in &node.attributes {
            if self.is_infrastructure(name) {
                continue;
            }
            let attribute_path = format!("{path}/@{}", name.local);
            match uses.iter().find(|u| u.name == *name) {
                Some(u) if u.use_kind == AttributeUseKind::Prohibited => {
                    return Err(ValueError::invalid(
                        &attribute_path,
                        "the attribute is prohibited",
                    ));
                }
                Some(u) => {
                    let ty = self.types.attribute_type(u);
                    let simple = self
                        .types
                        .decode_simple(ty, text, &|q| tree.resolve_qname(node, q))
                        .map_err(|message| ValueError::invalid(&attribute_path, message))?;
                    value.attributes.push(Attribute {
                        name: name.clone(),
                        value: simple,
                    });
                }
                None if wildcard
                    .is_some_and(|w| w.namespaces.admits(name.namespace.as_deref()))
                    || name.namespace.as_deref() == Some(crate::version::XML_NS) =>
                {
                    value.any_attributes.push((name.clone(), text.clone()));
                }
                None if self.encoded => {}
                None => {
                    return Err(ValueError::invalid(
                        &attribute_path,
                        "the attribute is not allowed here",
                    ));
                }
            }
        }
        for u in &uses {
            if u.use_kind == AttributeUseKind::Required
                && !node.attributes.iter().any(|(name, _)| *name == u.name)
            {
                return Err(ValueError::invalid(
                    path,
                    format!("the required attribute {} is missing", u.name),
                ));
            }
        }
        if let ComplexContent::Simple { .. } = complex.content {
            self.no_children(node, path)?;
            let simple = self
                .types
                .decode_simple(Some(ResolvedType::Complex(complex)), &node.text, &|q| {
                    tree.resolve_qname(node, q)
                })
                .map_err(|message| ValueError::invalid(path, message))?;
            value.content = Some(simple);
            return Ok(Value::Complex(value));
        }
        if !complex.mixed && !node.text.trim_matches(is_space).is_empty() {
            return Err(ValueError::invalid(
                path,
                "character data is not allowed in element content",
            ));
        }
        let map = self.types.content(complex);
        value.fields.reserve(node.children.len());
        for &child in &node.children {
            let Some(child_node) = tree.node(child) else {
                continue;
            };
            let child_path = format!("{path}/{}", child_node.name.local);
            let field_value = match map.find(&child_node.name, self.encoded) {
                Some(decl) => {
                    let declared = self.types.declared(decl);
                    self.element(child, declared, &child_path, depth + 1)?
                }
                None if map.admits(child_node.name.namespace.as_deref()) => {
                    self.values += 1;
                    Value::Raw(tree.raw(child_node))
                }
                None => {
                    let expected: Vec<String> =
                        map.elements.iter().map(|(n, _)| n.to_string()).collect();
                    return Err(ValueError::invalid(
                        &child_path,
                        if expected.is_empty() {
                            format!(
                                "unexpected element {}; the type has no elements",
                                child_node.name
                            )
                        } else {
                            format!(
                                "unexpected element {}; expected one of {}",
                                child_node.name,
                                expected.join(", ")
                            )
                        },
                    ));
                }
            };
            value.fields.push(Field {
                name: child_node.name.clone(),
                value: field_value,
            });
        }
        // Every child is one the type declares; literal content must also
        // follow the model's order and occurrences, as validation checks
        // (SOAP encoding lets accessors come in any order).
        if !self.encoded
            && let Err((index, message)) = crate::xsd::check_children(
                self.types.schema,
                complex,
                value.fields.iter().map(|f| &f.name),
            )
        {
            let at = index
                .and_then(|i| value.fields.get(i))
                .map_or_else(|| path.to_owned(), |f| format!("{path}/{}", f.name.local));
            return Err(ValueError::invalid(&at, message));
        }
        Ok(Value::Complex(value))
    }

    /// A SOAP-encoded array (SOAP 1.1 section 5.4.2): one dimension, all
    /// items transmitted.
    fn array(
        &mut self,
        node: &'t Node,
        declared_item: Option<QName>,
        path: &str,
        depth: usize,
    ) -> Result<Value, ValueError> {
        let tree = self.tree;
        for encoding in [SOAP11_ENCODING_NS, SOAP12_ENCODING_NS] {
            if node.attribute(Some(encoding), "offset").is_some() {
                return Err(ValueError::unsupported(
                    path,
                    "partially transmitted arrays (SOAP-ENC:offset) are not supported",
                ));
            }
        }
        let mut item_type = declared_item;
        let mut size = None;
        if let Some(array_type) = node.attribute(Some(SOAP11_ENCODING_NS), "arrayType") {
            let array_type = array_type.trim_matches(is_space);
            let (name, dimensions) = array_type
                .find('[')
                .and_then(|at| Some((array_type.get(..at)?, array_type.get(at..)?)))
                .ok_or_else(|| {
                    ValueError::invalid(
                        path,
                        format!("the SOAP-ENC:arrayType \"{array_type}\" has no dimensions"),
                    )
                })?;
            if dimensions.matches('[').count() > 1 {
                return Err(ValueError::unsupported(
                    path,
                    format!(
                        "arrays of arrays (SOAP-ENC:arrayType \"{array_type}\") are not supported"
                    ),
                ));
            }
            let inner = dimensions
                .strip_prefix('[')
                .and_then(|d| d.strip_suffix(']'))
                .ok_or_else(|| {
                    ValueError::invalid(
                        path,
                        format!("the SOAP-ENC:arrayType \"{array_type}\" is malformed"),
                    )
                })?
                .trim_matches(is_space);
            if inner.contains(',') {
                return Err(ValueError::unsupported(
                    path,
                    format!(
                        "multi-dimensional arrays (SOAP-ENC:arrayType \"{array_type}\") are not supported"
                    ),
                ));
            }
            if !inner.is_empty() {
                let n: usize = inner.parse().map_err(|_| {
                    ValueError::invalid(path, format!("the array size \"{inner}\" is not a number"))
                })?;
                size = Some(n);
            }
            let name = tree.resolve_qname(node, name).ok_or_else(|| {
                ValueError::invalid(
                    path,
                    format!("the item type \"{name}\" is not a QName with a bound prefix"),
                )
            })?;
            item_type = Some(name);
        }
        if let Some(n) = size
            && n > self.limits.max_array_items
        {
            return Err(ValueError::limit(
                path,
                format!(
                    "the array declares {n} items, more than the limit of {}",
                    self.limits.max_array_items
                ),
            ));
        }
        if node.children.len() > self.limits.max_array_items {
            return Err(ValueError::limit(
                path,
                format!(
                    "the array holds more than {} items",
                    self.limits.max_array_items
                ),
            ));
        }
        for (position, &child) in node.children.iter().enumerate() {
            if tree
                .node(child)
                .is_some_and(|c| c.attribute(Some(SOAP11_ENCODING_NS), "position").is_some())
            {
                return Err(ValueError::unsupported(
                    &format!("{path}/item[{}]", position + 1),
                    "sparse arrays (SOAP-ENC:position) are not supported",
                ));
            }
        }
        if let Some(n) = size
            && n != node.children.len()
        {
            return Err(ValueError::invalid(
                path,
                format!(
                    "the array declares {n} items but holds {}",
                    node.children.len()
                ),
            ));
        }
        let item_declared = match &item_type {
            Some(name) if is_soap_array(name) => Declared::ANY,
            Some(name) => Declared {
                ty: Some(self.types.resolve_name(name).ok_or_else(|| {
                    ValueError::invalid(path, format!("the item type {name} is not a known type"))
                })?)
                .filter(|t| !is_any(*t)),
                nillable: true,
            },
            None => Declared::ANY,
        };
        let mut items = Vec::with_capacity(node.children.len());
        for (position, &child) in node.children.iter().enumerate() {
            let Some(child_node) = tree.node(child) else {
                continue;
            };
            let item_path = format!("{path}/{}[{}]", child_node.name.local, position + 1);
            items.push(self.element(child, item_declared, &item_path, depth + 1)?);
        }
        Ok(Value::Array(Array { item_type, items }))
    }
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}
