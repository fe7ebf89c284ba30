//! Diagnostics reported by the WSDL and XSD loader.
//!
//! The loader never fails wholesale: it builds as much of the model as it
//! can and reports every problem as a [`Diagnostic`] with the file, line
//! and column it was found at.

use std::fmt;

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Something is unusual but the model is complete (for example a
    /// remote import that was refused, so its namespace is handled laxly).
    Warning,
    /// Something is wrong: a reference does not resolve, a document could
    /// not be read, a construct is malformed.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Warning => "warning",
            Self::Error => "error",
        })
    }
}

/// Where a diagnostic was found: a document and a 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Location {
    /// The document, as the loader named it (a path or a URL).
    pub file: String,
    /// The 1-based line; 0 when the position is unknown.
    pub line: u32,
    /// The 1-based column, in characters; 0 when unknown.
    pub column: u32,
}

impl Location {
    /// A location covering a whole document (line and column unknown).
    pub fn file(file: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            line: 0,
            column: 0,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            f.write_str(&self.file)
        } else {
            write!(f, "{}:{}:{}", self.file, self.line, self.column)
        }
    }
}

/// What kind of problem a diagnostic reports, so that callers and tests
/// can match on it without parsing the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DiagnosticKind {
    /// A document could not be read (missing file, I/O error).
    Io,
    /// A document is not well-formed XML, holds a DOCTYPE, or is not UTF-8.
    Xml,
    /// A document, or the set of documents, breaks a [`LoadLimits`](crate::LoadLimits) bound.
    Limit,
    /// A remote location was refused because no resolver allows it.
    RemoteRefused,
    /// A document's root is neither `wsdl:definitions` nor `xs:schema`.
    NotWsdl,
    /// A QName-valued attribute uses a prefix that is not declared; the
    /// name is read in the conventional namespace of a well-known prefix
    /// (`xsd`, `soap`, `wsdl`…) or else the target namespace (a warning).
    UndeclaredPrefix,
    /// An element or attribute name uses a prefix that is not bound, so the
    /// document is not namespace-well-formed; it is re-read with the prefix
    /// bound to its conventional namespace or a placeholder (a warning).
    UnboundPrefix,
    /// A reference names a component that no loaded document defines, in
    /// a namespace whose schema or definitions were loaded (a warning; the
    /// component is handled as unknown content, laxly). References into
    /// the XML Schema namespace itself stay errors.
    Undefined,
    /// A reference (type, element, group, message, binding…) does not
    /// resolve.
    Unresolved,
    /// A reference into a namespace whose schema was not loaded (its
    /// import was refused or had no location); the component is handled
    /// laxly.
    NamespaceNotLoaded,
    /// A global component is defined twice; the first definition is kept.
    Duplicate,
    /// A required attribute is missing or an attribute has a bad value.
    BadAttribute,
    /// An XSD pattern facet could not be compiled.
    BadPattern,
    /// A construct that is valid but not supported (WSDL notification and
    /// solicit-response operations, `xs:redefine`).
    Unsupported,
    /// A circular type derivation or group definition.
    Circular,
    /// A structural rule of WSDL 1.1 or its SOAP binding is broken.
    Structure,
}

/// One problem found while loading, with where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// How serious it is.
    pub severity: Severity,
    /// What kind of problem it is.
    pub kind: DiagnosticKind,
    /// Where it was found.
    pub location: Location,
    /// What is wrong, in words.
    pub message: String,
}

impl Diagnostic {
    /// Builds an error.
    pub fn error(kind: DiagnosticKind, location: Location, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            kind,
            location,
            message: message.into(),
        }
    }

    /// Builds a warning.
    pub fn warning(kind: DiagnosticKind, location: Location, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            kind,
            location,
            message: message.into(),
        }
    }

    /// Tells whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Tells whether strict checking counts this as an error: every error,
    /// and the warnings for what the loader tolerates the way lenient
    /// toolkits do (unbound and undeclared prefixes, references defined
    /// nowhere, a misplaced XML declaration). Validators such as CXF's
    /// reject those documents.
    pub fn fails_strict(&self) -> bool {
        self.is_error()
            || matches!(
                self.kind,
                DiagnosticKind::UnboundPrefix
                    | DiagnosticKind::UndeclaredPrefix
                    | DiagnosticKind::Undefined
                    | DiagnosticKind::Xml
            )
    }
}

/// Writes `file:line:col: severity: message`.
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.location, self.severity, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_file_line_col() {
        let d = Diagnostic::error(
            DiagnosticKind::Unresolved,
            Location {
                file: "a.wsdl".into(),
                line: 3,
                column: 7,
            },
            "unknown type {urn:x}T",
        );
        assert_eq!(d.to_string(), "a.wsdl:3:7: error: unknown type {urn:x}T");
        let w = Diagnostic::warning(DiagnosticKind::Io, Location::file("b.xsd"), "x");
        assert_eq!(w.to_string(), "b.xsd: warning: x");
        assert!(!w.is_error());
    }
}
