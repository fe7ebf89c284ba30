//! A bounded element tree read from a payload with the checked
//! namespace-aware scanner: what the typed decoder walks.
//!
//! The payload is a fragment cut from a larger document (a SOAP body), so
//! the namespace bindings in scope where it was cut are declared on a
//! synthetic wrapper element around it; the wrapper is node 0 and the
//! payload's top-level elements are its children. SOAP encoding needs a
//! tree rather than a single pass: an accessor's `href` may point to an
//! element that comes later in the body.

use std::ops::Range;

use crate::error::ReadError;
use crate::limits::Limits;
use crate::qname::{NamespaceBinding, QName};
use crate::scan::{Scanner, Token, attribute_value, declared_namespaces};
use crate::version::XML_NS;

/// The local name of the synthetic wrapper.
const WRAPPER: &str = "_ithaca-value";

/// One element of the tree.
#[derive(Debug)]
pub(crate) struct Node {
    /// The element's expanded name.
    pub(crate) name: QName,
    /// Its attributes other than namespace declarations, names resolved.
    pub(crate) attributes: Vec<(QName, String)>,
    /// Its own character data (not its descendants'), concatenated.
    pub(crate) text: String,
    /// Its child elements, as node indices.
    pub(crate) children: Vec<usize>,
    /// The namespace scope in force inside it.
    scope: usize,
    /// Whether it declares namespaces itself (its scope is its own).
    declares: bool,
    /// Its bytes in the wrapped input, start tag to end tag.
    range: Range<usize>,
    /// The length of its tag name as written (prefix included).
    raw_name_len: usize,
    /// The prefixes its name, its attributes' names and its QName-like
    /// attribute values (`xsi:type`) use; `None` for the default
    /// namespace of an unprefixed name.
    prefixes: Vec<Option<String>>,
}

impl Node {
    /// The value of the attribute with this expanded name.
    pub(crate) fn attribute(&self, namespace: Option<&str>, local: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(name, _)| name.namespace.as_deref() == namespace && name.local == local)
            .map(|(_, value)| value.as_str())
    }
}

/// The namespace declarations of one element, and the scope around it.
#[derive(Debug)]
struct Scope {
    parent: Option<usize>,
    bindings: Vec<NamespaceBinding>,
}

/// A payload as a tree of elements.
#[derive(Debug)]
pub(crate) struct Tree {
    input: String,
    nodes: Vec<Node>,
    scopes: Vec<Scope>,
}

impl Tree {
    /// Reads `xml` (one element or several, as in a SOAP body) with the
    /// bindings `scope` in force around it, under `limits`.
    pub(crate) fn read(
        xml: &[u8],
        scope: &[NamespaceBinding],
        limits: &Limits,
    ) -> Result<Self, ReadError> {
        if xml.len() > limits.max_size {
            return Err(ReadError::TooLarge {
                size: xml.len(),
                limit: limits.max_size,
            });
        }
        let xml = std::str::from_utf8(xml).map_err(|error| ReadError::InvalidUtf8 {
            position: error.valid_up_to(),
        })?;
        let mut input = String::with_capacity(xml.len() + 64);
        input.push('<');
        input.push_str(WRAPPER);
        for binding in scope {
            let uri = crate::xml_out::escape(&binding.uri, true);
            match &binding.prefix {
                Some(prefix)
                    if crate::names::is_ncname(prefix) && prefix != "xml" && prefix != "xmlns" =>
                {
                    input.push_str(&format!(" xmlns:{prefix}=\"{uri}\""));
                }
                Some(_) => {}
                None => input.push_str(&format!(" xmlns=\"{uri}\"")),
            }
        }
        input.push('>');
        let offset = input.len();
        input.push_str(xml);
        input.push_str("</");
        input.push_str(WRAPPER);
        input.push('>');
        // The wrapper adds one level and one element.
        let mut wrapped_limits = *limits;
        wrapped_limits.max_size = limits.max_size.saturating_add(input.len() - xml.len());
        wrapped_limits.max_depth = limits.max_depth.saturating_add(1);
        wrapped_limits.max_elements = limits.max_elements.saturating_add(1);
        let (nodes, scopes) = build(&input, &wrapped_limits).map_err(|e| shift(e, offset))?;
        Ok(Self {
            input,
            nodes,
            scopes,
        })
    }

    /// The node at `index`; indices come from this tree, so a miss is
    /// only possible for index 0 of an empty tree, which `read` never
    /// makes.
    pub(crate) fn node(&self, index: usize) -> Option<&Node> {
        self.nodes.get(index)
    }

    /// The top-level elements of the payload.
    pub(crate) fn top_level(&self) -> &[usize] {
        self.nodes.first().map_or(&[], |n| n.children.as_slice())
    }

    /// Every node, for building an index of `id`s.
    pub(crate) fn nodes(&self) -> impl Iterator<Item = (usize, &Node)> {
        self.nodes.iter().enumerate().skip(1)
    }

    /// The namespace URI bound to `prefix` (`None`: the default
    /// namespace) inside `node`; `None` when unbound (or, for the default
    /// namespace, undeclared).
    pub(crate) fn namespace_of(&self, node: &Node, prefix: Option<&str>) -> Option<&str> {
        if prefix == Some("xml") {
            return Some(XML_NS);
        }
        let mut current = Some(node.scope);
        let mut steps = 0usize;
        while let Some(index) = current {
            let scope = self.scopes.get(index)?;
            if let Some(binding) = scope
                .bindings
                .iter()
                .rev()
                .find(|b| b.prefix.as_deref() == prefix)
            {
                return Some(binding.uri.as_str()).filter(|uri| !uri.is_empty());
            }
            current = scope.parent;
            steps += 1;
            if steps > self.scopes.len() {
                return None;
            }
        }
        None
    }

    /// Resolves a QName written in content or in an attribute value (such
    /// as `xsi:type="xsd:int"`) inside `node`; an unprefixed name takes
    /// the default namespace. `None` when it is not a QName or its prefix
    /// is unbound.
    pub(crate) fn resolve_qname(&self, node: &Node, value: &str) -> Option<QName> {
        let value = value.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r'));
        if !crate::names::is_qname(value) {
            return None;
        }
        match value.split_once(':') {
            Some((prefix, local)) => Some(QName {
                namespace: Some(self.namespace_of(node, Some(prefix))?.to_owned()),
                local: local.to_owned(),
            }),
            None => Some(QName {
                namespace: self.namespace_of(node, None).map(str::to_owned),
                local: value.to_owned(),
            }),
        }
    }

    /// The element's XML, self-contained: each prefix used in it (by
    /// element and attribute names and `xsi:type`-like values) that it
    /// does not declare itself is declared on its start tag.
    pub(crate) fn raw(&self, node: &Node) -> String {
        let Some(xml) = self.input.get(node.range.clone()) else {
            return String::new();
        };
        let own: Vec<Option<&str>> = if node.declares {
            self.scopes
                .get(node.scope)
                .map(|s| s.bindings.iter().map(|b| b.prefix.as_deref()).collect())
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let mut used: Vec<Option<&str>> = Vec::new();
        let mut stack = vec![node];
        let mut visited = 0usize;
        while let Some(current) = stack.pop() {
            visited += 1;
            if visited > self.nodes.len() {
                break;
            }
            for prefix in &current.prefixes {
                let prefix = prefix.as_deref();
                if !used.contains(&prefix) && !own.contains(&prefix) {
                    used.push(prefix);
                }
            }
            stack.extend(current.children.iter().filter_map(|&c| self.nodes.get(c)));
        }
        let mut extra = String::new();
        for prefix in used {
            let Some(uri) = self.namespace_of(node, prefix) else {
                continue;
            };
            if prefix == Some("xml") {
                continue;
            }
            let uri = crate::xml_out::escape(uri, true);
            match prefix {
                Some(prefix) => extra.push_str(&format!(" xmlns:{prefix}=\"{uri}\"")),
                None => extra.push_str(&format!(" xmlns=\"{uri}\"")),
            }
        }
        let at = node.raw_name_len.saturating_add(1).min(xml.len());
        match (xml.get(..at), xml.get(at..)) {
            (Some(head), Some(tail)) => format!("{head}{extra}{tail}"),
            _ => xml.to_owned(),
        }
    }
}

/// Reads every element of `input` into nodes and scopes.
fn build(input: &str, limits: &Limits) -> Result<(Vec<Node>, Vec<Scope>), ReadError> {
    let mut scanner = Scanner::new(input.as_bytes(), *limits)?;
    let mut nodes: Vec<Node> = Vec::new();
    let mut scopes: Vec<Scope> = Vec::new();
    // The open elements, innermost last.
    let mut open: Vec<usize> = Vec::new();
    loop {
        match scanner.next_token()? {
            Token::Start(element) => {
                let name = scanner.element_name(&element.start);
                let parent_scope = open
                    .last()
                    .and_then(|&i| nodes.get(i))
                    .map(|n: &Node| n.scope);
                let declared = declared_namespaces(&element.start);
                let declares = !declared.is_empty() || parent_scope.is_none();
                let scope = if declares {
                    scopes.push(Scope {
                        parent: parent_scope,
                        bindings: declared,
                    });
                    scopes.len() - 1
                } else {
                    parent_scope.unwrap_or(0)
                };
                let mut attributes = Vec::new();
                let start_name = element.start.name();
                let raw_name: &str = start_name.as_ref();
                let raw_name_len = raw_name.len();
                let mut prefixes = vec![prefix_of(raw_name)];
                for attribute in element.start.attributes().flatten() {
                    if attribute.key.as_namespace_binding().is_some() {
                        continue;
                    }
                    let key: &str = attribute.key.as_ref();
                    let value = attribute_value(&attribute)
                        .map(|v| v.into_owned())
                        .unwrap_or_default();
                    if key.contains(':') {
                        prefixes.push(prefix_of(key));
                    }
                    if let Some((prefix, local)) = value.trim().split_once(':')
                        && crate::names::is_ncname(prefix)
                        && crate::names::is_ncname(local)
                    {
                        prefixes.push(Some(prefix.to_owned()));
                    }
                    attributes.push((key.to_owned(), value));
                }
                let index = nodes.len();
                nodes.push(Node {
                    name,
                    attributes: Vec::new(),
                    text: String::new(),
                    children: Vec::new(),
                    scope,
                    declares,
                    range: element.range.start..element.range.end,
                    raw_name_len,
                    prefixes,
                });
                // Resolve attribute names now that the scope exists.
                let resolved: Vec<(QName, String)> = {
                    let tree_view = View {
                        scopes: &scopes,
                        scope,
                    };
                    attributes
                        .into_iter()
                        .map(|(key, value)| (tree_view.attribute_name(&key), value))
                        .collect()
                };
                if let Some(node) = nodes.get_mut(index) {
                    node.attributes = resolved;
                }
                if let Some(parent) = open.last().and_then(|&i| nodes.get_mut(i)) {
                    parent.children.push(index);
                }
                open.push(index);
            }
            Token::End { range } => {
                if let Some(index) = open.pop()
                    && let Some(node) = nodes.get_mut(index)
                {
                    node.range.end = range.end.max(node.range.end);
                }
            }
            Token::Text { text, .. } => {
                if let Some(node) = open.last().and_then(|&i| nodes.get_mut(i)) {
                    node.text.push_str(&text);
                }
            }
            Token::Eof => break,
        }
    }
    Ok((nodes, scopes))
}

/// The prefix of a name as written; `None` when unprefixed.
fn prefix_of(name: &str) -> Option<String> {
    name.split_once(':').map(|(prefix, _)| prefix.to_owned())
}

/// Scope lookups while the tree is being built.
struct View<'t> {
    scopes: &'t [Scope],
    scope: usize,
}

impl View<'_> {
    fn attribute_name(&self, key: &str) -> QName {
        let Some((prefix, local)) = key.split_once(':') else {
            return QName::unqualified(key);
        };
        if prefix == "xml" {
            return QName::new(XML_NS, local);
        }
        let mut current = Some(self.scope);
        let mut steps = 0usize;
        while let Some(index) = current {
            let Some(scope) = self.scopes.get(index) else {
                break;
            };
            if let Some(binding) = scope
                .bindings
                .iter()
                .rev()
                .find(|b| b.prefix.as_deref() == Some(prefix))
            {
                return QName::new(binding.uri.clone(), local);
            }
            current = scope.parent;
            steps += 1;
            if steps > self.scopes.len() {
                break;
            }
        }
        // The scanner refuses unbound prefixes, so this is not reached.
        QName::unqualified(local)
    }
}

/// Moves byte positions of an error from the wrapped input back to the
/// payload's, and states limits as the caller gave them (the wrapper adds
/// one level and one element).
fn shift(error: ReadError, offset: usize) -> ReadError {
    let at = |position: usize| position.saturating_sub(offset);
    match error {
        ReadError::Malformed { position, message } => ReadError::Malformed {
            position: at(position),
            // quick-xml quotes the markup at fault, line ends included;
            // messages stay on one line.
            message: super::error::one_line(&message),
        },
        ReadError::Truncated { position } => ReadError::Truncated {
            position: at(position),
        },
        ReadError::TooDeep { limit, position } => ReadError::TooDeep {
            limit: limit.saturating_sub(1),
            position: at(position),
        },
        ReadError::TooManyElements { limit } => ReadError::TooManyElements {
            limit: limit.saturating_sub(1),
        },
        ReadError::TooManyAttributes { limit, position } => ReadError::TooManyAttributes {
            limit,
            position: at(position),
        },
        ReadError::TooManyNamespaces { limit, position } => ReadError::TooManyNamespaces {
            limit,
            position: at(position),
        },
        ReadError::AttributeTooLong { limit, position } => ReadError::AttributeTooLong {
            limit,
            position: at(position),
        },
        ReadError::TextTooLong { limit, position } => ReadError::TextTooLong {
            limit,
            position: at(position),
        },
        ReadError::Doctype { position } => ReadError::Doctype {
            position: at(position),
        },
        ReadError::UndeclaredEntity { name, position } => ReadError::UndeclaredEntity {
            name: super::error::one_line(&name),
            position: at(position),
        },
        ReadError::InvalidCharacter { position } => ReadError::InvalidCharacter {
            position: at(position),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_names_with_the_outer_scope() {
        let scope = [NamespaceBinding {
            prefix: Some("m".to_owned()),
            uri: "urn:m".to_owned(),
        }];
        let tree = Tree::read(
            br#"<m:a x="1" m:y="2"><b xmlns:n="urn:n">t<c/>u</b></m:a><m:d id="r"/>"#,
            &scope,
            &Limits::default(),
        )
        .unwrap();
        let top = tree.top_level().to_vec();
        assert_eq!(top.len(), 2);
        let a = tree.node(top[0]).unwrap();
        assert_eq!(a.name, QName::new("urn:m", "a"));
        assert_eq!(a.attribute(None, "x"), Some("1"));
        assert_eq!(a.attribute(Some("urn:m"), "y"), Some("2"));
        let b = tree.node(a.children[0]).unwrap();
        assert_eq!(b.text, "tu");
        assert_eq!(tree.resolve_qname(b, "n:z"), Some(QName::new("urn:n", "z")));
        assert_eq!(tree.raw(b), r#"<b xmlns:n="urn:n">t<c/>u</b>"#);
        let c = tree.node(b.children[0]).unwrap();
        assert_eq!(tree.raw(c), r#"<c/>"#);
        let d = tree.node(top[1]).unwrap();
        assert_eq!(tree.raw(d), r#"<m:d xmlns:m="urn:m" id="r"/>"#);
    }

    #[test]
    fn refuses_doctype_and_unbound_prefixes() {
        let limits = Limits::default();
        assert_eq!(
            Tree::read(b"<!DOCTYPE a><a/>", &[], &limits).unwrap_err(),
            ReadError::Doctype { position: 0 }
        );
        let shallow = Limits {
            max_depth: 2,
            ..Limits::default()
        };
        assert_eq!(
            Tree::read(b"<a><b><c/></b></a>", &[], &shallow).unwrap_err(),
            ReadError::TooDeep {
                limit: 2,
                position: 6
            }
        );
        assert!(Tree::read(b"<p:a/>", &[], &limits).is_err());
        let error = Tree::read(b"<a><b></b\n<!x></a>", &[], &limits).unwrap_err();
        assert!(!error.to_string().contains('\n'), "{error}");
        assert!(Tree::read(b"<a>&ent;</a>", &[], &limits).is_err());
    }
}
