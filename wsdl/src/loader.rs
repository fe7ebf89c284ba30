//! Loads a WSDL 1.1 or XSD document and everything it imports.
//!
//! `wsdl:import`, `xs:import` and `xs:include` are resolved relative to the
//! importing document, from local files only: a location with a URI scheme
//! other than `file:` is refused with a warning unless the caller supplies a
//! [`Resolver`] that allows it. Each document is read once (cycles and
//! repeated imports are harmless); every size, count and depth is bounded
//! by [`LoadLimits`]; any DOCTYPE is refused.
//!
//! Like the lenient toolkits real contracts are written against, the
//! loader tolerates, with a warning, a prefix used without a declaration
//! and an XML declaration after leading whitespace;
//! [`Loaded::has_strict_errors`] counts those warnings as errors.

use std::collections::{HashSet, VecDeque};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use roxmltree::{Document, ParsingOptions};

use crate::diagnostic::{Diagnostic, DiagnosticKind, Location};
use crate::wsdl11::reader::read_definitions;
use crate::wsdl11::{Definitions, WSDL11_NS};
use crate::xmldoc::{Doc, is};
use crate::xsd::SchemaSet;
use crate::xsd::builtin::XSD_NS;
use crate::xsd::reader::{Directive, DirectiveKind, read_schema};

/// Bounds on what the loader reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadLimits {
    /// The largest document, in bytes.
    pub max_document_bytes: usize,
    /// The most bytes over every document loaded.
    pub max_total_bytes: usize,
    /// The most documents (the root included).
    pub max_documents: usize,
    /// The deepest element nesting in one document.
    pub max_depth: usize,
    /// The most XML nodes (elements, text, comments…) in one document.
    pub max_nodes: u32,
    /// The longest chain of imports and includes from the root.
    pub max_import_depth: usize,
}

impl LoadLimits {
    /// The default limits: 16 MiB per document, 64 MiB in all, 512
    /// documents, nesting depth 256, 4 million nodes per document and
    /// import chains of 64.
    pub const DEFAULT: Self = Self {
        max_document_bytes: 16 * 1024 * 1024,
        max_total_bytes: 64 * 1024 * 1024,
        max_documents: 512,
        max_depth: 256,
        max_nodes: 4_000_000,
        max_import_depth: 64,
    };
}

impl Default for LoadLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Fetches documents the loader does not read itself: remote locations
/// (any URI scheme other than `file:`) and, for documents loaded from
/// memory, relative locations.
pub trait Resolver {
    /// Returns the bytes of the document at `uri` (an absolute URI, or a
    /// location relative to nothing for documents loaded from memory), or
    /// why it cannot. Implementations decide which locations they allow.
    fn fetch(&self, uri: &str) -> Result<Vec<u8>, String>;
}

/// Options for [`load_file`] and [`load_bytes`].
#[derive(Clone, Default)]
pub struct LoadOptions {
    /// Bounds on what is read.
    pub limits: LoadLimits,
    /// Fetches remote locations; `None` refuses them.
    pub resolver: Option<Arc<dyn Resolver + Send + Sync>>,
}

impl std::fmt::Debug for LoadOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadOptions")
            .field("limits", &self.limits)
            .field("resolver", &self.resolver.as_ref().map(|_| "…"))
            .finish()
    }
}

/// What kind of document the root is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    /// A `wsdl:definitions` document.
    Wsdl,
    /// An `xs:schema` document.
    Schema,
}

/// A document the loader read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedDocument {
    /// Its name: a path or a URI.
    pub location: String,
    /// What it is.
    pub kind: DocumentKind,
    /// Its size in bytes.
    pub size: usize,
}

/// The result of loading: the model, as complete as the documents allow,
/// and the diagnostics.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// The WSDL components (empty when the root is a schema).
    pub definitions: Definitions,
    /// The schema components of every schema read.
    pub schema: SchemaSet,
    /// The documents read, the root first.
    pub documents: Vec<LoadedDocument>,
    /// Every problem found, in the order found.
    pub diagnostics: Vec<Diagnostic>,
}

impl Loaded {
    /// Tells whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// Tells whether strict checking fails: an error, or a warning about
    /// something tolerated (see [`Diagnostic::fails_strict`]).
    pub fn has_strict_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::fails_strict)
    }

    /// The errors only.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }

    /// The kind of the root document, when it could be read.
    pub fn root_kind(&self) -> Option<DocumentKind> {
        self.documents.first().map(|d| d.kind)
    }
}

/// Loads the WSDL or XSD document at `path` and what it imports.
pub fn load_file(path: impl AsRef<Path>, options: &LoadOptions) -> Loaded {
    let path = path.as_ref();
    let mut loader = Loader::new(options);
    loader.queue.push_back(Pending {
        source: Source::File(path.to_path_buf()),
        hint: false,
        includes_into: None,
        chameleon: None,
        expect: Expect::Any,
        depth: 0,
        referrer: None,
    });
    loader.run()
}

/// Loads a WSDL or XSD document from memory; `name` is used in
/// diagnostics. Imports are fetched through the resolver of `options` only
/// (never from the file system), so this is the entry point for fuzzing.
pub fn load_bytes(name: &str, bytes: &[u8], options: &LoadOptions) -> Loaded {
    let mut loader = Loader::new(options);
    loader.queue.push_back(Pending {
        source: Source::Memory(name.to_owned(), bytes.to_vec()),
        hint: false,
        includes_into: None,
        chameleon: None,
        expect: Expect::Any,
        depth: 0,
        referrer: None,
    });
    loader.run()
}

#[derive(Debug, Clone)]
enum Source {
    File(PathBuf),
    Uri(String),
    Memory(String, Vec<u8>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Any,
    Schema,
}

#[derive(Debug)]
struct Pending {
    source: Source,
    /// Whether the document is only named by an `xs:import` hint, so that
    /// failing to use it is a warning (its namespace is then lax).
    hint: bool,
    /// For an `xs:include`, the namespace it adds to; when a remote
    /// include is refused, that namespace is marked incomplete.
    includes_into: Option<String>,
    chameleon: Option<String>,
    expect: Expect,
    depth: usize,
    referrer: Option<Location>,
}

struct Loader<'o> {
    options: &'o LoadOptions,
    queue: VecDeque<Pending>,
    seen: HashSet<(String, Option<String>)>,
    total_bytes: usize,
    loaded: Loaded,
}

/// Tells whether `location` starts with a URI scheme (two characters or
/// more, so that `C:\x` is a path).
fn scheme(location: &str) -> Option<&str> {
    let (scheme, _) = location.split_once(':')?;
    let mut chars = scheme.chars();
    let first = chars.next()?;
    (scheme.len() > 1
        && first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
    .then_some(scheme)
}

/// Joins a relative reference to an absolute URI (RFC 3986 §5.2, without
/// query and fragment handling beyond dropping them from the base).
fn join_uri(base: &str, reference: &str) -> String {
    if scheme(reference).is_some() {
        return reference.to_owned();
    }
    let base = base.split(['?', '#']).next().unwrap_or(base);
    let (prefix, path) = match base.find("://") {
        Some(i) => {
            let after = i + 3;
            let path_start = base
                .get(after..)
                .and_then(|rest| rest.find('/'))
                .map_or(base.len(), |p| after + p);
            (
                base.get(..path_start).unwrap_or(base),
                base.get(path_start..).unwrap_or(""),
            )
        }
        None => match base.split_once(':') {
            Some((s, rest)) => (base.get(..s.len() + 1).unwrap_or(""), rest),
            None => ("", base),
        },
    };
    if reference.starts_with('/') {
        return format!("{prefix}{}", normalize_segments(reference));
    }
    let dir = path.rfind('/').map_or("", |i| path.get(..=i).unwrap_or(""));
    format!(
        "{prefix}{}",
        normalize_segments(&format!("{dir}{reference}"))
    )
}

fn normalize_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "." => {}
            ".." => {
                if out.len() > 1 {
                    out.pop();
                }
            }
            s => out.push(s),
        }
    }
    out.join("/")
}

/// Removes `.` segments and folds `name/..` pairs, without touching the
/// file system (so that diagnostics name files plainly).
fn normalize_path(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out: Vec<Component<'_>> = Vec::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.last(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out.iter().collect()
}

/// A percent-decoded `file:` URI path.
fn file_uri_path(uri: &str) -> Option<PathBuf> {
    let rest = uri.strip_prefix("file:")?;
    let rest = rest
        .strip_prefix("//localhost")
        .or_else(|| rest.strip_prefix("//"))
        .unwrap_or(rest);
    Some(PathBuf::from(percent_decode(rest)))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%'
            && let Some(hex) = s.get(i + 1..i + 3)
            && let Ok(v) = u8::from_str_radix(hex, 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl<'o> Loader<'o> {
    fn new(options: &'o LoadOptions) -> Self {
        Self {
            options,
            queue: VecDeque::new(),
            seen: HashSet::new(),
            total_bytes: 0,
            loaded: Loaded::default(),
        }
    }

    fn run(mut self) -> Loaded {
        while let Some(pending) = self.queue.pop_front() {
            self.load_one(pending);
        }
        let mut diagnostics = std::mem::take(&mut self.loaded.diagnostics);
        self.loaded.schema.link(&mut diagnostics);
        self.loaded.definitions.link(&mut diagnostics);
        self.loaded.diagnostics = diagnostics;
        self.loaded
    }

    fn diagnose(&mut self, diagnostic: Diagnostic) {
        self.loaded.diagnostics.push(diagnostic);
    }

    /// Reports a problem with a document: an error, or a warning when the
    /// document was only named by an `xs:import` hint.
    fn report(&mut self, hint: bool, kind: DiagnosticKind, at: Location, message: String) {
        self.diagnose(if hint {
            Diagnostic::warning(
                kind,
                at,
                message + " (an xs:import location is a hint; the namespace is handled laxly)",
            )
        } else {
            Diagnostic::error(kind, at, message)
        });
    }

    /// The identity of a source, so that each document is read once.
    fn key(source: &Source) -> String {
        match source {
            Source::File(path) => std::fs::canonicalize(path)
                .map_or_else(|_| path.display().to_string(), |p| p.display().to_string()),
            Source::Uri(uri) => uri.clone(),
            Source::Memory(name, _) => format!("memory:{name}"),
        }
    }

    /// Reads the bytes of a source; returns its display name and bytes.
    fn fetch(&mut self, source: &Source, at: &Location, hint: bool) -> Option<(String, Vec<u8>)> {
        let limit = self.options.limits.max_document_bytes;
        match source {
            Source::Memory(name, bytes) => Some((name.clone(), bytes.clone())),
            Source::File(path) => {
                let name = path.display().to_string();
                let read = std::fs::File::open(path).and_then(|file| {
                    let mut bytes = Vec::new();
                    file.take(limit as u64 + 1).read_to_end(&mut bytes)?;
                    Ok(bytes)
                });
                match read {
                    Ok(bytes) => Some((name, bytes)),
                    Err(error) => {
                        self.report(
                            hint,
                            DiagnosticKind::Io,
                            at.clone(),
                            format!("cannot read {name}: {error}"),
                        );
                        None
                    }
                }
            }
            Source::Uri(uri) => match &self.options.resolver {
                Some(resolver) => match resolver.fetch(uri) {
                    Ok(bytes) => Some((uri.clone(), bytes)),
                    Err(reason) => {
                        self.diagnose(Diagnostic::warning(
                            DiagnosticKind::RemoteRefused,
                            at.clone(),
                            format!("the location {uri} was not loaded: {reason}"),
                        ));
                        None
                    }
                },
                None => {
                    self.diagnose(Diagnostic::warning(
                        DiagnosticKind::RemoteRefused,
                        at.clone(),
                        format!(
                            "the location {uri} was not loaded: only local files are read unless a resolver allows others"
                        ),
                    ));
                    None
                }
            },
        }
    }

    fn load_one(&mut self, pending: Pending) {
        let at = pending.referrer.clone().unwrap_or_else(|| {
            Location::file(match &pending.source {
                Source::File(path) => path.display().to_string(),
                Source::Uri(uri) => uri.clone(),
                Source::Memory(name, _) => name.clone(),
            })
        });
        let limits = self.options.limits;
        if self.loaded.documents.len() >= limits.max_documents {
            self.diagnose(Diagnostic::error(
                DiagnosticKind::Limit,
                at,
                format!(
                    "more than {} documents; the rest are not loaded",
                    limits.max_documents
                ),
            ));
            self.queue.clear();
            return;
        }
        let key = Self::key(&pending.source);
        if !self.seen.insert((key.clone(), pending.chameleon.clone())) {
            return;
        }
        let hint = pending.hint;
        let Some((name, bytes)) = self.fetch(&pending.source, &at, hint) else {
            if let (Source::Uri(_), Some(namespace)) = (&pending.source, &pending.includes_into) {
                self.loaded
                    .schema
                    .incomplete_namespaces
                    .insert(namespace.clone());
            }
            return;
        };
        let root_location = if pending.referrer.is_none() {
            Location::file(&name)
        } else {
            at.clone()
        };
        if bytes.len() > limits.max_document_bytes {
            self.diagnose(Diagnostic::error(
                DiagnosticKind::Limit,
                root_location,
                format!("{name} is larger than {} bytes", limits.max_document_bytes),
            ));
            return;
        }
        self.total_bytes += bytes.len();
        if self.total_bytes > limits.max_total_bytes {
            self.diagnose(Diagnostic::error(
                DiagnosticKind::Limit,
                root_location,
                format!(
                    "the documents exceed {} bytes in all",
                    limits.max_total_bytes
                ),
            ));
            self.queue.clear();
            return;
        }
        let text = match std::str::from_utf8(&bytes) {
            Ok(text) => text.strip_prefix('\u{FEFF}').unwrap_or(text),
            Err(error) => {
                self.report(
                    hint,
                    DiagnosticKind::Xml,
                    Location::file(&name),
                    format!(
                        "{name} is not UTF-8 (invalid byte at {})",
                        error.valid_up_to()
                    ),
                );
                return;
            }
        };
        let parsing = || parsing_options(limits.max_nodes);
        let repaired: String;
        let first = Document::parse_with_options(text, parsing());
        let repair = match &first {
            Err(error) if repairable(error) => repair(text, limits.max_nodes),
            _ => None,
        };
        let xml = match (first, repair) {
            (Ok(xml), _) => xml,
            (Err(_), Some(repair)) => {
                for (pos, message) in repair.notes {
                    self.diagnose(Diagnostic::warning(
                        if message.starts_with("the prefix") {
                            DiagnosticKind::UnboundPrefix
                        } else {
                            DiagnosticKind::Xml
                        },
                        Location {
                            file: name.clone(),
                            line: pos.row,
                            column: pos.col,
                        },
                        message,
                    ));
                }
                repaired = repair.text;
                match Document::parse_with_options(&repaired, parsing()) {
                    Ok(xml) => xml,
                    Err(error) => {
                        let pos = error.pos();
                        self.report(
                            hint,
                            DiagnosticKind::Xml,
                            Location {
                                file: name.clone(),
                                line: pos.row,
                                column: pos.col,
                            },
                            format!("not well-formed XML: {error}"),
                        );
                        return;
                    }
                }
            }
            (Err(error), None) => {
                let pos = error.pos();
                self.report(
                    hint,
                    DiagnosticKind::Xml,
                    Location {
                        file: name.clone(),
                        line: pos.row,
                        column: pos.col,
                    },
                    format!("not well-formed XML: {error}"),
                );
                return;
            }
        };
        let doc = Doc::new(&name, &xml);
        if let Some(deep) = too_deep(&xml, limits.max_depth) {
            self.diagnose(Diagnostic::error(
                DiagnosticKind::Limit,
                doc.location(deep),
                format!("elements nest deeper than {}", limits.max_depth),
            ));
            return;
        }
        let root = xml.root_element();
        let base = match &pending.source {
            Source::File(path) => {
                Base::Dir(path.parent().map(Path::to_path_buf).unwrap_or_default())
            }
            Source::Uri(uri) => Base::Uri(uri.clone()),
            Source::Memory(..) => Base::None,
        };
        let size = bytes.len();
        if is(root, WSDL11_NS, "definitions") && pending.expect == Expect::Any {
            self.loaded.documents.push(LoadedDocument {
                location: name.clone(),
                kind: DocumentKind::Wsdl,
                size,
            });
            let is_root = pending.referrer.is_none();
            let directives = read_definitions(
                &doc,
                root,
                is_root,
                &mut self.loaded.definitions,
                &mut self.loaded.schema,
                &mut self.loaded.diagnostics,
            );
            for import in directives.imports {
                self.follow(
                    &base,
                    &import.location,
                    Follow {
                        chameleon: None,
                        expect: Expect::Any,
                        depth: pending.depth,
                        at: import.at,
                        hint: false,
                        includes_into: None,
                    },
                );
            }
            for directive in directives.schemas {
                self.follow_schema(&base, directive, pending.depth);
            }
        } else if is(root, XSD_NS, "schema") {
            let declared = root.attribute("targetNamespace").unwrap_or("");
            if let Some(including) = &pending.includes_into
                && !declared.is_empty()
                && declared != including
            {
                self.diagnose(Diagnostic::error(
                    DiagnosticKind::Structure,
                    at.clone(),
                    format!(
                        "the included schema {name} has the target namespace `{declared}`, not `{including}`"
                    ),
                ));
                return;
            }
            // A schema with its own target namespace is the same document
            // whichever namespace included it.
            if pending.chameleon.is_some() && !declared.is_empty() && !self.seen.insert((key, None))
            {
                return;
            }
            self.loaded.documents.push(LoadedDocument {
                location: name.clone(),
                kind: DocumentKind::Schema,
                size,
            });
            let directives = read_schema(
                &doc,
                root,
                pending.chameleon.as_deref(),
                &mut self.loaded.schema,
                &mut self.loaded.diagnostics,
            );
            for directive in directives {
                self.follow_schema(&base, directive, pending.depth);
            }
        } else {
            let found = root.tag_name();
            let location = doc.location(root);
            self.report(
                hint,
                DiagnosticKind::NotWsdl,
                location,
                format!(
                    "the root element {{{}}}{} is not {}",
                    found.namespace().unwrap_or(""),
                    found.name(),
                    if pending.expect == Expect::Schema {
                        "xs:schema"
                    } else {
                        "wsdl:definitions or xs:schema"
                    }
                ),
            );
        }
    }

    fn follow_schema(&mut self, base: &Base, directive: Directive, depth: usize) {
        let Some(location) = directive.schema_location else {
            return;
        };
        let (chameleon, hint) = match directive.kind {
            DirectiveKind::Include => (directive.target_namespace, false),
            DirectiveKind::Import(_) => (None, true),
        };
        let includes_into = (!hint).then(|| chameleon.clone().unwrap_or_default());
        self.follow(
            base,
            &location,
            Follow {
                chameleon,
                expect: Expect::Schema,
                depth,
                at: directive.location,
                hint,
                includes_into,
            },
        );
    }

    fn follow(&mut self, base: &Base, location: &str, how: Follow) {
        let Follow {
            chameleon,
            expect,
            depth,
            at,
            hint,
            includes_into,
        } = how;
        let location = location.trim();
        if location.is_empty() {
            return;
        }
        if depth + 1 > self.options.limits.max_import_depth {
            self.diagnose(Diagnostic::error(
                DiagnosticKind::Limit,
                at,
                format!(
                    "imports nest deeper than {}; {location} is not loaded",
                    self.options.limits.max_import_depth
                ),
            ));
            return;
        }
        let source = match (scheme(location), base) {
            (Some(s), _) if s.eq_ignore_ascii_case("file") => match file_uri_path(location) {
                Some(path) => Source::File(path),
                None => return,
            },
            (Some(_), _) => Source::Uri(location.to_owned()),
            (None, Base::Dir(dir)) => {
                let relative =
                    percent_decode(location.split(['?', '#']).next().unwrap_or(location));
                Source::File(normalize_path(&dir.join(relative)))
            }
            (None, Base::Uri(uri)) => Source::Uri(join_uri(uri, location)),
            (None, Base::None) => Source::Uri(location.to_owned()),
        };
        self.queue.push_back(Pending {
            source,
            hint,
            includes_into,
            chameleon,
            expect,
            depth: depth + 1,
            referrer: Some(at),
        });
    }
}

/// How to follow a directive.
struct Follow {
    chameleon: Option<String>,
    expect: Expect,
    depth: usize,
    at: Location,
    hint: bool,
    includes_into: Option<String>,
}

enum Base {
    Dir(PathBuf),
    Uri(String),
    None,
}

/// The text of a document made namespace-well-formed the way the loader
/// reads it: an unbound prefix bound on the root element to its
/// conventional namespace (or `urn:ithaca:unbound-prefix:PREFIX`) and an
/// XML declaration after leading whitespace blanked. `None` when the
/// document needs no repair or has other problems. Publishing the repaired
/// text lets strict clients read what the loader accepted.
pub fn repair_xml(text: &str) -> Option<String> {
    let nodes = LoadLimits::DEFAULT.max_nodes;
    match Document::parse_with_options(text, parsing_options(nodes)) {
        Err(error) if repairable(&error) => repair(text, nodes).map(|r| r.text),
        _ => None,
    }
}

/// How every document is parsed: no DTD, at most `max_nodes` nodes.
fn parsing_options<'input>(max_nodes: u32) -> ParsingOptions<'input> {
    ParsingOptions {
        allow_dtd: false,
        nodes_limit: max_nodes,
        ..ParsingOptions::default()
    }
}

/// The most problems [`repair`] fixes in one document.
const MAX_REPAIRS: usize = 32;

/// A document re-written so that it parses, and what was changed.
struct Repair {
    text: String,
    /// Where each problem was and what was done about it.
    notes: Vec<(roxmltree::TextPos, String)>,
}

/// Tells whether [`repair`] may fix a parse error.
fn repairable(error: &roxmltree::Error) -> bool {
    matches!(
        error,
        roxmltree::Error::UnknownNamespace(..) | roxmltree::Error::UnexpectedDeclaration(_)
    )
}

/// Fixes what lenient parsers (libxml2 in recovery mode, sax) accept: a
/// prefix used without a declaration (bound on the root element to its
/// conventional namespace, else `urn:ithaca:unbound-prefix:PREFIX`) and an
/// XML declaration after leading whitespace (blanked, keeping every line
/// and column). Returns `None` when the document has another problem or
/// more than [`MAX_REPAIRS`] of these.
fn repair(text: &str, max_nodes: u32) -> Option<Repair> {
    let mut fixed = text.to_owned();
    let mut notes = Vec::new();
    for _ in 0..MAX_REPAIRS {
        let error = Document::parse_with_options(&fixed, parsing_options(max_nodes)).err();
        let Some(error) = error else {
            return Some(Repair { text: fixed, notes });
        };
        match error {
            roxmltree::Error::UnknownNamespace(prefix, pos) => {
                let namespace = crate::xmldoc::conventional_namespace(&prefix).map_or_else(
                    || format!("urn:ithaca:unbound-prefix:{prefix}"),
                    str::to_owned,
                );
                let at = root_name_end(&fixed)?;
                let declaration = format!(" xmlns:{prefix}=\"{namespace}\"");
                if !crate::names::is_ncname(&prefix) || fixed.contains(&declaration) {
                    return None;
                }
                fixed.insert_str(at, &declaration);
                notes.push((
                    pos,
                    format!(
                        "the prefix `{prefix}` is not bound (the document is not namespace-well-formed); it is read as `{namespace}`"
                    ),
                ));
            }
            roxmltree::Error::UnexpectedDeclaration(pos) => {
                let start = byte_offset(&fixed, pos)?;
                let before = fixed.get(..start)?;
                if !before.trim_start_matches('\u{FEFF}').trim().is_empty()
                    || !fixed.get(start..)?.starts_with("<?xml")
                {
                    return None;
                }
                let end = start + fixed.get(start..)?.find("?>")? + 2;
                let blank: String = fixed
                    .get(start..end)?
                    .chars()
                    .map(|c| if c == '\n' { '\n' } else { ' ' })
                    .collect();
                fixed.replace_range(start..end, &blank);
                notes.push((
                    pos,
                    "the XML declaration does not start the document; it is ignored".to_owned(),
                ));
            }
            _ => return None,
        }
    }
    None
}

/// The byte offset of a 1-based row and column (in characters).
fn byte_offset(text: &str, pos: roxmltree::TextPos) -> Option<usize> {
    let mut line_start = 0;
    for _ in 1..pos.row {
        line_start += text.get(line_start..)?.find('\n')? + 1;
    }
    let line = text.get(line_start..)?;
    let column = line
        .char_indices()
        .nth(usize::try_from(pos.col).ok()?.checked_sub(1)?)
        .map_or(line.len(), |(i, _)| i);
    Some(line_start + column)
}

/// The byte offset just after the root element's name in its start tag.
fn root_name_end(text: &str) -> Option<usize> {
    let mut at = 0;
    loop {
        let rest = text.get(at..)?;
        let open = rest.find('<')?;
        let after = rest.get(open + 1..)?;
        if after.starts_with('?') {
            at += open + after.find("?>")? + 3;
        } else if after.starts_with("!--") {
            at += open + after.find("-->")? + 4;
        } else if after.starts_with('!') {
            return None;
        } else {
            let name_len = after
                .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
                .unwrap_or(after.len());
            return Some(at + open + 1 + name_len);
        }
    }
}

/// Finds an element nested deeper than `max_depth`, iteratively.
fn too_deep<'a, 'input>(
    xml: &'a Document<'input>,
    max_depth: usize,
) -> Option<roxmltree::Node<'a, 'input>> {
    let mut stack = vec![(xml.root_element(), 1usize)];
    while let Some((node, depth)) = stack.pop() {
        if depth > max_depth {
            return Some(node);
        }
        for child in node.children().filter(roxmltree::Node::is_element) {
            stack.push((child, depth + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repairs_unbound_prefixes_and_a_late_declaration() {
        let text =
            "\n<?xml version=\"1.0\"?>\n<d:a xmlns:d=\"urn:d\"><xsd:b/><q:c q:x=\"1\"/></d:a>";
        let fixed = repair(text, 1000).unwrap();
        assert!(Document::parse(&fixed.text).is_ok());
        assert!(
            fixed
                .text
                .contains(r#"xmlns:xsd="http://www.w3.org/2001/XMLSchema""#)
        );
        assert!(
            fixed
                .text
                .contains(r#"xmlns:q="urn:ithaca:unbound-prefix:q""#)
        );
        assert_eq!(fixed.notes.len(), 3, "{:?}", fixed.notes);
        assert_eq!(fixed.text.lines().count(), text.lines().count());
        assert!(repair(r"<a><b></a>", 1000).is_none());
        assert!(repair(r"<a/>x<?xml version='1.0'?>", 1000).is_none());
    }

    #[test]
    fn schemes_and_joins() {
        assert_eq!(scheme("http://x/y"), Some("http"));
        assert_eq!(scheme("C:\\dir\\a.xsd"), None);
        assert_eq!(scheme("a.xsd"), None);
        assert_eq!(join_uri("http://h/a/b.wsdl", "c.xsd"), "http://h/a/c.xsd");
        assert_eq!(join_uri("http://h/a/b.wsdl", "../c.xsd"), "http://h/c.xsd");
        assert_eq!(join_uri("http://h/a/b.wsdl", "/c.xsd"), "http://h/c.xsd");
        assert_eq!(join_uri("urn:x", "https://o/c.xsd"), "https://o/c.xsd");
        assert_eq!(
            file_uri_path("file:///tmp/a%20b.xsd"),
            Some(PathBuf::from("/tmp/a b.xsd"))
        );
        assert_eq!(
            normalize_path(Path::new("a/./b/../c.xsd")),
            PathBuf::from("a/c.xsd")
        );
        assert_eq!(
            normalize_path(Path::new("../x/../../y")),
            PathBuf::from("../../y")
        );
    }
}
