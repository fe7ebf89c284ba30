//! Expanded XML names: a namespace URI and a local name.

use std::fmt;

/// An expanded XML name, the pair of a namespace URI and a local name.
///
/// Prefixes are lexical accidents of a document and are never kept: two
/// names are equal exactly when their namespace URIs and local names are.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QName {
    /// The namespace URI, or `None` for a name in no namespace.
    pub namespace: Option<String>,
    /// The local part of the name.
    pub local: String,
}

impl QName {
    /// Builds a name in the given namespace.
    pub fn new(namespace: impl Into<String>, local: impl Into<String>) -> Self {
        Self {
            namespace: Some(namespace.into()),
            local: local.into(),
        }
    }

    /// Builds a name in no namespace.
    pub fn unqualified(local: impl Into<String>) -> Self {
        Self {
            namespace: None,
            local: local.into(),
        }
    }

    /// Tells whether this name has the given namespace URI and local name.
    pub fn is(&self, namespace: &str, local: &str) -> bool {
        self.namespace.as_deref() == Some(namespace) && self.local == local
    }
}

/// Writes the name in James Clark notation, `{namespace}local`, or just
/// `local` when the name is in no namespace.
impl fmt::Display for QName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{{{ns}}}{}", self.local),
            None => f.write_str(&self.local),
        }
    }
}

/// A namespace declaration found on an element: `xmlns:prefix="uri"`, or
/// `xmlns="uri"` when `prefix` is `None`.
///
/// Readers report the declarations in scope at a byte range they hand out,
/// so that a later parser of that range alone can resolve its prefixes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NamespaceBinding {
    /// The declared prefix, or `None` for the default namespace.
    pub prefix: Option<String>,
    /// The namespace URI; empty when the declaration undeclares the default
    /// namespace (`xmlns=""`).
    pub uri: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_uses_clark_notation() {
        assert_eq!(QName::new("urn:a", "b").to_string(), "{urn:a}b");
        assert_eq!(QName::unqualified("b").to_string(), "b");
    }

    #[test]
    fn is_compares_namespace_and_local_name() {
        let name = QName::new("urn:a", "b");
        assert!(name.is("urn:a", "b"));
        assert!(!name.is("urn:a", "c"));
        assert!(!name.is("urn:x", "b"));
        assert!(!QName::unqualified("b").is("", "b"));
    }
}
