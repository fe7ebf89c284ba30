//! `GET …?wsdl`: the contract as loaded, with each port's `soap:address`
//! (or `soap12:address`) `location` rewritten to where the gateway serves
//! that port, as seen by the client that asked; `GET …?wsdl=N` and
//! `GET …?xsd=N`: the WSDL and XSD documents the contract imports and
//! includes, numbered in the order they are first reached.
//!
//! In every published document, each `wsdl:import` `location` and each
//! `xs:import`/`xs:include`/`xs:redefine` `schemaLocation` that names a
//! local document is rewritten to the `?wsdl=N` or `?xsd=N` URL of that
//! document on the same port path, so a client that follows imports over
//! HTTP (zeep, wsimport, svcutil) reads the whole contract from the
//! gateway. Remote locations are published as written.
//!
//! The documents are read and parsed once, when the contract is loaded,
//! to find the byte range of every address and location; a request only
//! splices URLs into those ranges. Documents the loader had to repair
//! (unbound prefixes, a late XML declaration) are published repaired.

use std::collections::HashMap;
use std::io::Read;
use std::ops::Range;
use std::path::{Path, PathBuf};

use http::StatusCode;
use http::header::HOST;
use ithaca_wsdl::wsdl11::{WSDL11_NS, WSDL11_SOAP11_NS, WSDL11_SOAP12_NS};
use ithaca_wsdl::xsd::builtin::XSD_NS;
use ithaca_wsdl::{LoadLimits, repair_xml};

use super::reply;
use crate::body::{Request, Response};

/// The longest `Host` header used in a published address.
const MAX_HOST_LEN: usize = 255;

/// Older XML Schema namespaces, read as the 2001 one.
const LEGACY_XSD_NS: &[&str] = &[
    "http://www.w3.org/1999/XMLSchema",
    "http://www.w3.org/2000/10/XMLSchema",
];

/// What a published document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DocumentKind {
    /// A WSDL document: the contract (`?wsdl`) or an imported one
    /// (`?wsdl=N`).
    Wsdl,
    /// A schema document (`?xsd=N`).
    Xsd,
}

/// What is spliced into a range of a published document.
#[derive(Debug)]
enum SlotValue {
    /// The address of the port with this key (see [`port_key`]).
    Address(String),
    /// The URL of the published document at this index.
    Document(usize),
}

/// One published document: its text and where to splice URLs.
#[derive(Debug)]
struct Published {
    kind: DocumentKind,
    /// `N` of `?wsdl=N` / `?xsd=N`; 0 for the contract itself.
    number: usize,
    text: String,
    /// The ranges to rewrite, in document order.
    slots: Slots,
}

/// The contract's documents and where their addresses and locations are.
#[derive(Debug)]
pub(crate) struct Publication {
    /// The contract first, then the documents it reaches.
    documents: Vec<Published>,
}

/// Import locations found in a document: each range and the location as
/// written.
type Locations = Vec<(Range<usize>, String)>;

/// The ranges of a document to rewrite.
type Slots = Vec<(Range<usize>, SlotValue)>;

/// A document read but not yet followed.
struct Queued {
    /// Its index in the publication.
    index: usize,
    locations: Locations,
    path: PathBuf,
}

/// A location found in a document, before the documents it names are
/// numbered.
enum Found {
    Address(String),
    Location(String),
}

impl Publication {
    /// The publication of a contract held in memory: its imports cannot
    /// be followed, so their locations are published as written.
    pub(crate) fn new(bytes: &[u8]) -> Result<Self, String> {
        let text = decode(bytes)?;
        let (text, found) = scan(text)?;
        let slots = found
            .into_iter()
            .filter_map(|(range, found)| match found {
                Found::Address(port) => Some((range, SlotValue::Address(port))),
                Found::Location(_) => None,
            })
            .collect();
        Ok(Self {
            documents: vec![Published {
                kind: DocumentKind::Wsdl,
                number: 0,
                text,
                slots,
            }],
        })
    }

    /// The publication of the contract in the file at `path` (whose bytes
    /// are `bytes`) and of every local document it imports or includes,
    /// transitively, bounded by the loader's default limits. A location
    /// that cannot be read is published as written (the loader reported
    /// it).
    pub(crate) fn from_file(path: &Path, bytes: &[u8]) -> Result<Self, String> {
        let limits = LoadLimits::DEFAULT;
        let mut documents: Vec<Published> = Vec::new();
        let mut index: HashMap<PathBuf, usize> = HashMap::new();
        let mut pending: Vec<Queued> = Vec::new();
        let mut total = bytes.len();
        let mut counts = [0usize; 2];

        let root = canonical(path);
        let (text, found) = scan(decode(bytes)?)?;
        let (slots, locations) = split(found);
        documents.push(Published {
            kind: DocumentKind::Wsdl,
            number: 0,
            text,
            slots,
        });
        index.insert(root.clone(), 0);
        pending.push(Queued {
            index: 0,
            locations,
            path: root,
        });
        let mut cursor = 0;
        while let Some(queued) = pending.get(cursor) {
            cursor += 1;
            let doc = queued.index;
            let locations = queued.locations.clone();
            let dir = queued
                .path
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default();
            for (range, location) in locations {
                let Some(target) = local_path(&dir, &location) else {
                    continue;
                };
                let target = canonical(&target);
                let target_index = match index.get(&target) {
                    Some(&i) => i,
                    None => {
                        if documents.len() >= limits.max_documents {
                            continue;
                        }
                        let Some(bytes) = read_bounded(&target, limits.max_document_bytes) else {
                            continue;
                        };
                        total += bytes.len();
                        if total > limits.max_total_bytes {
                            continue;
                        }
                        let Ok(text) = decode(&bytes) else { continue };
                        let Ok((text, found)) = scan(text) else {
                            continue;
                        };
                        let Some(kind) = root_kind(&text) else {
                            continue;
                        };
                        let slot = usize::from(kind == DocumentKind::Xsd);
                        let Some(count) = counts.get_mut(slot) else {
                            continue;
                        };
                        *count += 1;
                        let number = *count;
                        let (slots, locations) = split(found);
                        let new_index = documents.len();
                        documents.push(Published {
                            kind,
                            number,
                            text,
                            // Imported WSDLs may hold services too.
                            slots: if kind == DocumentKind::Wsdl {
                                slots
                            } else {
                                Vec::new()
                            },
                        });
                        index.insert(target.clone(), new_index);
                        pending.push(Queued {
                            index: new_index,
                            locations,
                            path: target,
                        });
                        new_index
                    }
                };
                if let Some(document) = documents.get_mut(doc) {
                    document
                        .slots
                        .push((range, SlotValue::Document(target_index)));
                }
            }
        }
        for document in &mut documents {
            document.slots.sort_by_key(|(range, _)| range.start);
        }
        Ok(Self { documents })
    }

    /// The published document `kind`/`number` (`Wsdl`/0 is the contract),
    /// with each port address for which `address` returns a URL replaced
    /// by that URL, and each local import location by `document_url` of
    /// the document it names. `None` when there is no such document.
    pub(crate) fn render(
        &self,
        kind: DocumentKind,
        number: usize,
        address: impl Fn(&str) -> Option<String>,
        document_url: impl Fn(DocumentKind, usize) -> String,
    ) -> Option<String> {
        let document = self
            .documents
            .iter()
            .find(|d| d.kind == kind && d.number == number)?;
        let text = &document.text;
        let mut out = String::with_capacity(text.len() + 64 * document.slots.len());
        let mut copied = 0;
        for (range, value) in &document.slots {
            let url = match value {
                SlotValue::Address(port) => address(port),
                SlotValue::Document(index) => self
                    .documents
                    .get(*index)
                    .map(|target| document_url(target.kind, target.number)),
            };
            let Some(url) = url else { continue };
            if range.start < copied {
                continue;
            }
            out.push_str(text.get(copied..range.start).unwrap_or_default());
            escape_attribute(&url, &mut out);
            copied = range.end;
        }
        out.push_str(text.get(copied..).unwrap_or_default());
        Some(out)
    }

    /// The number of documents published besides the contract.
    #[cfg(test)]
    fn imported(&self) -> usize {
        self.documents.len().saturating_sub(1)
    }
}

/// Answers `GET path?wsdl`, `?wsdl=N` or `?xsd=N` for the port at the
/// request's path: the document with addresses and import locations
/// pointing at this gateway (`public_url` when configured, else the
/// request's `Host`). `port_paths` maps [`port_key`]s to the paths the
/// gateway serves those ports at; other ports keep their addresses. `400`
/// for a bad `Host`, `404` for no such document.
pub(crate) fn respond(
    publication: &Publication,
    request: &Request,
    public_url: Option<&str>,
    port_paths: &[(String, String)],
) -> Response {
    let Some((kind, number)) = requested(request.uri().query()) else {
        return reply::plain(StatusCode::NOT_FOUND, "no such document");
    };
    let Ok(base) = base_url(request, public_url) else {
        return reply::plain(StatusCode::BAD_REQUEST, "invalid Host header");
    };
    let own_path = request.uri().path();
    let rendered = publication.render(
        kind,
        number,
        |port| {
            let base = base.as_deref()?;
            let (_, path) = port_paths.iter().find(|(name, _)| name == port)?;
            Some(format!("{base}{path}"))
        },
        |kind, number| {
            let query = match (kind, number) {
                (DocumentKind::Wsdl, 0) => "wsdl".to_owned(),
                (DocumentKind::Wsdl, n) => format!("wsdl={n}"),
                (DocumentKind::Xsd, n) => format!("xsd={n}"),
            };
            format!("{}{own_path}?{query}", base.as_deref().unwrap_or(""))
        },
    );
    match rendered {
        Some(text) => reply::wsdl(text),
        None => reply::plain(StatusCode::NOT_FOUND, "no such document"),
    }
}

/// Which document a query asks for: `wsdl` (the contract), `wsdl=N` or
/// `xsd=N`, keys in any case.
fn requested(query: Option<&str>) -> Option<(DocumentKind, usize)> {
    let query = query?;
    if query.eq_ignore_ascii_case("wsdl") {
        return Some((DocumentKind::Wsdl, 0));
    }
    let (key, value) = query.split_once('=')?;
    if value.is_empty() || value.len() > 6 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let number: usize = value.parse().ok()?;
    let kind = if key.eq_ignore_ascii_case("wsdl") {
        DocumentKind::Wsdl
    } else if key.eq_ignore_ascii_case("xsd") {
        DocumentKind::Xsd
    } else {
        return None;
    };
    (number > 0).then_some((kind, number))
}

fn decode(bytes: &[u8]) -> Result<String, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("the document is not UTF-8: {e}"))?;
    Ok(text.strip_prefix('\u{FEFF}').unwrap_or(text).to_owned())
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The local file a location names, relative to `dir`: a relative
/// reference or a `file:` URI; `None` for other schemes.
fn local_path(dir: &Path, location: &str) -> Option<PathBuf> {
    let location = location.trim();
    if location.is_empty() {
        return None;
    }
    if let Some(rest) = location.strip_prefix("file://") {
        return Some(PathBuf::from(
            rest.strip_prefix("localhost").unwrap_or(rest),
        ));
    }
    if let Some((scheme, _)) = location.split_once(':')
        && scheme.len() > 1
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    {
        return None;
    }
    let relative = location.split(['?', '#']).next().unwrap_or(location);
    Some(dir.join(relative))
}

fn read_bounded(path: &Path, limit: usize) -> Option<Vec<u8>> {
    let file = std::fs::File::open(path).ok()?;
    let mut bytes = Vec::new();
    file.take(limit as u64 + 1).read_to_end(&mut bytes).ok()?;
    (bytes.len() <= limit).then_some(bytes)
}

/// Whether a document is WSDL or XSD, from its root element.
fn root_kind(text: &str) -> Option<DocumentKind> {
    let document = parse(text).ok()?;
    let root = document.root_element();
    match (root.tag_name().namespace(), root.tag_name().name()) {
        (Some(WSDL11_NS), "definitions") => Some(DocumentKind::Wsdl),
        (Some(ns), "schema") if is_xsd(ns) => Some(DocumentKind::Xsd),
        _ => None,
    }
}

fn is_xsd(namespace: &str) -> bool {
    namespace == XSD_NS || LEGACY_XSD_NS.contains(&namespace)
}

fn parse(text: &str) -> Result<roxmltree::Document<'_>, roxmltree::Error> {
    let options = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit: LoadLimits::DEFAULT.max_nodes,
        ..roxmltree::ParsingOptions::default()
    };
    roxmltree::Document::parse_with_options(text, options)
}

fn split(found: Vec<(Range<usize>, Found)>) -> (Slots, Locations) {
    let mut slots = Vec::new();
    let mut locations = Vec::new();
    for (range, found) in found {
        match found {
            Found::Address(port) => slots.push((range, SlotValue::Address(port))),
            Found::Location(location) => locations.push((range, location)),
        }
    }
    (slots, locations)
}

/// Parses a document (repairing it the way the loader does when needed)
/// and finds its port addresses and import locations.
#[expect(
    clippy::type_complexity,
    reason = "the text and its found ranges, used once by each caller"
)]
fn scan(text: String) -> Result<(String, Vec<(Range<usize>, Found)>), String> {
    let text = match parse(&text) {
        Ok(_) => text,
        Err(error) => repair_xml(&text)
            .ok_or_else(|| format!("the document is not well-formed XML: {error}"))?,
    };
    let document = parse(&text).map_err(|e| format!("the document is not well-formed XML: {e}"))?;
    let mut found = Vec::new();
    for node in document.descendants().filter(roxmltree::Node::is_element) {
        let name = node.tag_name();
        let (attribute, what) = match (name.namespace(), name.name()) {
            (Some(WSDL11_SOAP11_NS | WSDL11_SOAP12_NS), "address") => {
                let Some(port) = node.parent_element().filter(|p| {
                    p.tag_name().name() == "port" && p.tag_name().namespace() == Some(WSDL11_NS)
                }) else {
                    continue;
                };
                let Some(port_name) = port.attribute("name") else {
                    continue;
                };
                let service = port
                    .parent_element()
                    .filter(|s| s.tag_name().namespace() == Some(WSDL11_NS))
                    .and_then(|s| s.attribute("name"))
                    .unwrap_or_default();
                ("location", Some(port_key(service, port_name)))
            }
            (Some(WSDL11_NS), "import") => ("location", None),
            (Some(ns), "import" | "include" | "redefine") if is_xsd(ns) => ("schemaLocation", None),
            _ => continue,
        };
        let Some(value) = node
            .attributes()
            .find(|a| a.name() == attribute && a.namespace().is_none())
        else {
            continue;
        };
        let range = value.range_value();
        // roxmltree documents the range as exact below its size limits;
        // check it all the same, as a wrong splice would break the XML.
        let quoted = range.start > 0
            && text.get(range.start - 1..range.start) == text.get(range.end..range.end + 1)
            && matches!(text.get(range.end..range.end + 1), Some("\"" | "'"));
        if !quoted || text.get(range.clone()).is_none() {
            return Err(format!(
                "cannot locate the {attribute} of line {} in the document",
                document.text_pos_at(node.range().start).row
            ));
        }
        found.push((
            range,
            match what {
                Some(port) => Found::Address(port),
                None => Found::Location(value.value().to_owned()),
            },
        ));
    }
    Ok((text, found))
}

/// The key of a port in a publication's address slots and in the
/// `port_paths` given to [`respond`]: `SERVICE:PORT` with the local names
/// of the `wsdl:service` and its `wsdl:port` (NCNames, so the colon cannot
/// be part of either), so that ports of two services with one name stay
/// apart.
pub(crate) fn port_key(service: &str, port: &str) -> String {
    format!("{service}:{port}")
}

/// Where a client reaches the gateway: `public_url` when one is
/// configured, else `http://` or `https://` and the request's `Host` header
/// (or, in HTTP/2, its authority). `Ok(None)` when the request names no
/// host; `Err` when its `Host` is not a valid host and port.
pub(crate) fn base_url(request: &Request, public_url: Option<&str>) -> Result<Option<String>, ()> {
    if let Some(public) = public_url {
        return Ok(Some(public.trim_end_matches('/').to_owned()));
    }
    let host = match request.headers().get(HOST) {
        Some(value) => Some(value.to_str().map_err(|_| ())?),
        None => request.uri().authority().map(http::uri::Authority::as_str),
    };
    let Some(host) = host else { return Ok(None) };
    let valid = !host.is_empty()
        && host.len() <= MAX_HOST_LEN
        && host.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~' | b':' | b'[' | b']')
        });
    if !valid {
        return Err(());
    }
    let scheme = match request.uri().scheme_str() {
        Some("https") => "https",
        _ => "http",
    };
    Ok(Some(format!("{scheme}://{host}")))
}

/// Whether the query asks for a published document: `?wsdl` (the
/// contract), `?wsdl=N` or `?xsd=N`, keys in any case.
pub(crate) fn wants_wsdl(query: Option<&str>) -> bool {
    requested(query).is_some()
}

fn escape_attribute(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::full;

    const WSDL: &str = r#"<?xml version="1.0"?>
<d:definitions xmlns:d="http://schemas.xmlsoap.org/wsdl/"
    xmlns:s="http://schemas.xmlsoap.org/wsdl/soap/" xmlns:s12="http://schemas.xmlsoap.org/wsdl/soap12/">
  <d:service name="S">
    <d:port name="A" binding="x"><s:address location="http://old/a"/></d:port>
    <d:port name="B" binding="y"><s12:address location = 'http://old/b' /></d:port>
    <d:port name="C" binding="z"><other:address xmlns:other="urn:o" location="keep"/></d:port>
  </d:service>
</d:definitions>"#;

    fn main_document(
        publication: &Publication,
        address: impl Fn(&str) -> Option<String>,
    ) -> String {
        publication
            .render(DocumentKind::Wsdl, 0, address, |_, n| format!("doc{n}"))
            .unwrap()
    }

    #[test]
    fn rewrites_each_soap_address() {
        let publication = Publication::new(WSDL.as_bytes()).unwrap();
        assert_eq!(publication.documents[0].slots.len(), 2);
        let out = main_document(&publication, |port| match port {
            "S:A" => Some("http://h:1/a&b".to_owned()),
            "S:B" => Some("http://h:1/b".to_owned()),
            _ => None,
        });
        assert!(
            out.contains(r#"<s:address location="http://h:1/a&amp;b"/>"#),
            "{out}"
        );
        assert!(
            out.contains(r#"<s12:address location = 'http://h:1/b' />"#),
            "{out}"
        );
        assert!(out.contains(r#"location="keep""#));
        let untouched = main_document(&publication, |_| None);
        assert_eq!(untouched, WSDL);
        assert!(
            publication
                .render(DocumentKind::Xsd, 1, |_| None, |_, _| String::new())
                .is_none()
        );
    }

    #[test]
    fn follows_local_imports_and_includes() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write(
            "main.wsdl",
            r#"<definitions xmlns="http://schemas.xmlsoap.org/wsdl/">
  <import namespace="urn:a" location="abstract.wsdl"/>
  <types><xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
    <xs:import namespace="urn:t" schemaLocation="sub/types.xsd"/>
    <xs:import namespace="urn:r" schemaLocation="http://remote.example/r.xsd"/>
  </xs:schema></types>
</definitions>"#,
        );
        write(
            "abstract.wsdl",
            r#"<definitions xmlns="http://schemas.xmlsoap.org/wsdl/">
  <types><xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
    <xs:import namespace="urn:t" schemaLocation="./sub/types.xsd"/>
  </xs:schema></types>
</definitions>"#,
        );
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        write(
            "sub/types.xsd",
            r#"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:t">
  <xs:include schemaLocation="more.xsd"/>
</xs:schema>"#,
        );
        write(
            "sub/more.xsd",
            r#"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:t">
  <xs:include schemaLocation="types.xsd"/>
</xs:schema>"#,
        );
        let main = dir.path().join("main.wsdl");
        let publication = Publication::from_file(&main, &std::fs::read(&main).unwrap()).unwrap();
        assert_eq!(publication.imported(), 3);
        let url = |kind, n| match kind {
            DocumentKind::Wsdl => format!("U?wsdl={n}"),
            DocumentKind::Xsd => format!("U?xsd={n}"),
        };
        let render = |kind, n| publication.render(kind, n, |_| None, url).unwrap();
        let main = render(DocumentKind::Wsdl, 0);
        assert!(main.contains(r#"location="U?wsdl=1""#), "{main}");
        assert!(main.contains(r#"schemaLocation="U?xsd=1""#), "{main}");
        assert!(main.contains("http://remote.example/r.xsd"), "{main}");
        let imported = render(DocumentKind::Wsdl, 1);
        assert!(
            imported.contains(r#"schemaLocation="U?xsd=1""#),
            "{imported}"
        );
        let types = render(DocumentKind::Xsd, 1);
        assert!(types.contains(r#"schemaLocation="U?xsd=2""#), "{types}");
        let more = render(DocumentKind::Xsd, 2);
        assert!(more.contains(r#"schemaLocation="U?xsd=1""#), "{more}");
    }

    #[test]
    fn refuses_what_cannot_be_published() {
        assert!(Publication::new(b"\xff\xfe").is_err());
        assert!(Publication::new(b"<a>").is_err());
        assert!(Publication::new(b"<!DOCTYPE a [<!ENTITY e 'x'>]><a>&e;</a>").is_err());
    }

    fn request(host: Option<&str>, uri: &str) -> Request {
        let mut builder = http::Request::get(uri);
        if let Some(host) = host {
            builder = builder.header(HOST, host);
        }
        builder.body(full("")).unwrap()
    }

    #[test]
    fn base_url_comes_from_the_host_header_or_the_configured_url() {
        let base = |host, uri| base_url(&request(host, uri), None);
        assert_eq!(
            base(Some("gw.example:8080"), "/s?wsdl"),
            Ok(Some("http://gw.example:8080".into()))
        );
        assert_eq!(
            base(Some("[::1]:80"), "/s"),
            Ok(Some("http://[::1]:80".into()))
        );
        assert_eq!(
            base(None, "https://h2.example/s?wsdl"),
            Ok(Some("https://h2.example".into()))
        );
        assert_eq!(base(None, "/s?wsdl"), Ok(None));
        assert_eq!(base(Some("evil\"><x"), "/s"), Err(()));
        assert_eq!(base(Some(""), "/s"), Err(()));
        assert_eq!(
            base_url(
                &request(Some("ignored"), "/s"),
                Some("https://public.example/gw/")
            ),
            Ok(Some("https://public.example/gw".into()))
        );
    }

    #[test]
    fn only_document_queries_ask_for_documents() {
        assert!(wants_wsdl(Some("wsdl")));
        assert!(wants_wsdl(Some("WSDL")));
        assert!(wants_wsdl(Some("wsdl=1")));
        assert!(wants_wsdl(Some("XSD=12")));
        assert!(!wants_wsdl(Some("wsdl=0")));
        assert!(!wants_wsdl(Some("xsd=")));
        assert!(!wants_wsdl(Some("xsd=1x")));
        assert!(!wants_wsdl(Some("wsdl=99999999")));
        assert!(!wants_wsdl(Some("other=1")));
        assert!(!wants_wsdl(None));
    }
}
