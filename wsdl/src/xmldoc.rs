//! Helpers over a parsed roxmltree document: positions for diagnostics
//! and QName resolution with the namespaces in scope (an undeclared
//! prefix is tolerated with a warning, as lenient toolkits do).

use roxmltree::{Document, Node};

use crate::diagnostic::{Diagnostic, DiagnosticKind, Location};
use crate::qname::QName;
use crate::xsd::builtin::XSD_NS;

/// Older XML Schema namespaces some WSDLs still use; they are read as the
/// 2001 namespace.
const LEGACY_XSD_NS: &[&str] = &[
    "http://www.w3.org/1999/XMLSchema",
    "http://www.w3.org/2000/10/XMLSchema",
];

/// Maps a legacy XML Schema namespace to the 2001 one.
pub(crate) fn normalize_namespace(ns: &str) -> &str {
    if LEGACY_XSD_NS.contains(&ns) {
        XSD_NS
    } else {
        ns
    }
}

/// A parsed document and the name diagnostics give it.
pub(crate) struct Doc<'a, 'input> {
    pub(crate) name: &'a str,
    pub(crate) xml: &'a Document<'input>,
    /// The byte offset of the start of each line, for positions in
    /// logarithmic time.
    line_starts: Vec<usize>,
}

impl<'a, 'input> Doc<'a, 'input> {
    /// Wraps a parsed document.
    pub(crate) fn new(name: &'a str, xml: &'a Document<'input>) -> Self {
        let text = xml.input_text();
        let mut line_starts = vec![0];
        line_starts.extend(
            text.bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| i + 1),
        );
        Self {
            name,
            xml,
            line_starts,
        }
    }

    /// The location of a node's start.
    pub(crate) fn location(&self, node: Node<'_, '_>) -> Location {
        let pos = node.range().start;
        let line = self.line_starts.partition_point(|&start| start <= pos);
        let start = self
            .line_starts
            .get(line.saturating_sub(1))
            .copied()
            .unwrap_or(0);
        let column = self
            .xml
            .input_text()
            .get(start..pos)
            .map_or(0, |s| s.chars().count())
            + 1;
        Location {
            file: self.name.to_owned(),
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: u32::try_from(column).unwrap_or(u32::MAX),
        }
    }

    /// Resolves a QName-valued attribute with the namespaces in scope at
    /// `node`. An unprefixed name takes the default namespace, as XSD
    /// specifies for QName values. Reports an undeclared prefix or a
    /// malformed name and returns `None`.
    pub(crate) fn resolve_qname(
        &self,
        node: Node<'_, '_>,
        value: &str,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Option<QName> {
        let value = value.trim();
        let (prefix, local) = match value.split_once(':') {
            Some((prefix, local)) => (Some(prefix), local),
            None => (None, value),
        };
        if !crate::names::is_ncname(local) || prefix.is_some_and(|p| !crate::names::is_ncname(p)) {
            diagnostics.push(Diagnostic::error(
                DiagnosticKind::BadAttribute,
                self.location(node),
                format!("`{value}` is not a valid QName"),
            ));
            return None;
        }
        let namespace = match prefix {
            Some("xml") => Some(crate::version::XML_NS),
            Some(prefix) => match node.lookup_namespace_uri(Some(prefix)) {
                Some(ns) => Some(ns),
                None => {
                    // Lenient toolkits resolve such names by local name;
                    // read them in the namespace the prefix conventionally
                    // stands for, else the target namespace.
                    let guess = conventional_namespace(prefix).or_else(|| {
                        node.ancestors()
                            .find_map(|a| a.attribute("targetNamespace"))
                            .filter(|ns| !ns.is_empty())
                    });
                    diagnostics.push(Diagnostic::warning(
                        DiagnosticKind::UndeclaredPrefix,
                        self.location(node),
                        format!(
                            "the prefix `{prefix}` in `{value}` is not declared; it is read as {}",
                            guess.map_or_else(|| "no namespace".to_owned(), |ns| format!("`{ns}`"))
                        ),
                    ));
                    guess
                }
            },
            None => node.lookup_namespace_uri(None).filter(|ns| !ns.is_empty()),
        };
        Some(QName {
            namespace: namespace.map(|ns| normalize_namespace(ns).to_owned()),
            local: local.to_owned(),
        })
    }
}

/// The namespace a prefix conventionally stands for in WSDL and XSD
/// documents, for documents that use it without declaring it.
pub(crate) fn conventional_namespace(prefix: &str) -> Option<&'static str> {
    Some(match prefix {
        "xs" | "xsd" => XSD_NS,
        "wsdl" => crate::wsdl11::WSDL11_NS,
        "soap" => crate::wsdl11::WSDL11_SOAP11_NS,
        "soap12" => crate::wsdl11::WSDL11_SOAP12_NS,
        "soapenc" | "SOAP-ENC" => crate::xsd::SOAP11_ENCODING_NS,
        "xsi" => crate::xsd::XSI_NS,
        "mime" => "http://schemas.xmlsoap.org/wsdl/mime/",
        "http" => "http://schemas.xmlsoap.org/wsdl/http/",
        "xmime" => "http://www.w3.org/2005/05/xmlmime",
        _ => return None,
    })
}

/// Tells whether `node` is an element named `{namespace}local`.
pub(crate) fn is(node: Node<'_, '_>, namespace: &str, local: &str) -> bool {
    node.is_element()
        && node.tag_name().name() == local
        && node
            .tag_name()
            .namespace()
            .is_some_and(|ns| normalize_namespace(ns) == namespace)
}

/// The element's namespace, legacy XSD namespaces normalised.
pub(crate) fn namespace_of<'n>(node: Node<'n, '_>) -> Option<&'n str> {
    node.tag_name().namespace().map(normalize_namespace)
}

/// The element children of `node`.
pub(crate) fn elements<'a, 'input>(
    node: Node<'a, 'input>,
) -> impl Iterator<Item = Node<'a, 'input>> {
    node.children().filter(Node::is_element)
}
