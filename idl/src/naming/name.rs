//! `CosNaming::Name`: a sequence of `NameComponent { id, kind }`, its CDR
//! encoding and the stringified form of the Interoperable Naming Service
//! (`a/b.kind`, with `\` escaping `/`, `.` and `\`).

use std::fmt;
use std::str::FromStr;

use crate::cdr::{CdrReader, CdrWriter};

/// The most components a name may have (parsed, read from CDR or served).
pub const MAX_NAME_COMPONENTS: usize = 64;
/// The longest `id` or `kind`, in bytes.
pub const MAX_COMPONENT_LEN: usize = 1024;

/// Why a name or stringified name is invalid (`CosNaming::NamingContext::InvalidName`).
#[derive(Clone, Copy, Debug, Eq, PartialEq, thiserror::Error)]
#[error("invalid name: {0}")]
pub struct InvalidName(pub &'static str);

/// `struct NameComponent { Istring id; Istring kind; }`.
#[derive(Clone, Debug, Default, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct NameComponent {
    /// The identifier.
    pub id: String,
    /// The kind, often empty.
    pub kind: String,
}

impl NameComponent {
    /// A component from its id and kind.
    pub fn new(id: impl Into<String>, kind: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            kind: kind.into(),
        }
    }

    fn check(&self) -> Result<(), InvalidName> {
        if self.id.len() > MAX_COMPONENT_LEN || self.kind.len() > MAX_COMPONENT_LEN {
            return Err(InvalidName("name component too long"));
        }
        Ok(())
    }

    /// Reads a component from CDR.
    pub fn read(r: &mut CdrReader) -> crate::Result<Self> {
        let id = r.read_string()?;
        let kind = r.read_string()?;
        let component = Self { id, kind };
        let len = component.id.len().max(component.kind.len());
        if len > MAX_COMPONENT_LEN {
            return Err(limit("name component length", len, MAX_COMPONENT_LEN));
        }
        Ok(component)
    }

    /// Writes the component to CDR.
    pub fn write(&self, w: &mut CdrWriter<'_>) -> crate::Result<()> {
        w.write_string(&self.id)?;
        w.write_string(&self.kind)
    }
}

fn limit(what: &'static str, value: usize, limit: usize) -> crate::Error {
    crate::Error::LimitExceeded { what, value, limit }
}

/// `typedef sequence<NameComponent> Name`.
///
/// A name read from the wire or parsed from text has at most
/// [`MAX_NAME_COMPONENTS`] components of at most [`MAX_COMPONENT_LEN`]
/// bytes each. The empty name exists as a value (it is what an exhausted
/// `rest_of_name` looks like) but naming operations refuse it.
#[derive(Clone, Debug, Default, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct Name(pub Vec<NameComponent>);

impl Name {
    /// A name of one component with an empty kind.
    pub fn simple(id: impl Into<String>) -> Self {
        Self(vec![NameComponent::new(id, "")])
    }

    /// The components.
    pub fn components(&self) -> &[NameComponent] {
        &self.0
    }

    /// Whether the name has no component.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The number of components.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Checks that a naming operation may use this name: at least one
    /// component, and within the limits.
    pub fn validate(&self) -> Result<(), InvalidName> {
        if self.0.is_empty() {
            return Err(InvalidName("empty name"));
        }
        if self.0.len() > MAX_NAME_COMPONENTS {
            return Err(InvalidName("too many name components"));
        }
        self.0.iter().try_for_each(NameComponent::check)
    }

    /// Parses the INS stringified form (`CosNaming::NamingContextExt::to_name`).
    ///
    /// Components are separated by `/`; the first unescaped `.` of a
    /// component separates its id from its kind; `\` escapes `/`, `.` and
    /// `\`. `.` alone is the component with empty id and kind, `.k` has an
    /// empty id, and `a` (no dot) an empty kind. Empty components, a
    /// trailing `.`, a second unescaped `.`, a dangling or unknown escape
    /// and the empty string are invalid.
    pub fn to_name(text: &str) -> Result<Self, InvalidName> {
        if text.is_empty() {
            return Err(InvalidName("empty name"));
        }
        let mut components = Vec::new();
        let mut id = String::new();
        let mut kind = String::new();
        // Whether the current component has seen its unescaped '.'.
        let mut dotted = false;
        // Whether the current component has any character at all.
        let mut started = false;
        let mut chars = text.chars();
        let finish = |id: &mut String,
                      kind: &mut String,
                      dotted: bool,
                      started: bool,
                      components: &mut Vec<NameComponent>|
         -> Result<(), InvalidName> {
            if !started {
                return Err(InvalidName("empty name component"));
            }
            if dotted && kind.is_empty() && !id.is_empty() {
                return Err(InvalidName("trailing '.' in a name component"));
            }
            if components.len() >= MAX_NAME_COMPONENTS {
                return Err(InvalidName("too many name components"));
            }
            let component = NameComponent {
                id: std::mem::take(id),
                kind: std::mem::take(kind),
            };
            component.check()?;
            components.push(component);
            Ok(())
        };
        while let Some(c) = chars.next() {
            match c {
                '/' => {
                    finish(&mut id, &mut kind, dotted, started, &mut components)?;
                    dotted = false;
                    started = false;
                }
                '.' if dotted => return Err(InvalidName("second '.' in a name component")),
                '.' => {
                    dotted = true;
                    started = true;
                }
                '\\' => {
                    let escaped = match chars.next() {
                        Some(e @ ('/' | '.' | '\\')) => e,
                        Some(_) => return Err(InvalidName("unknown escape in a name")),
                        None => return Err(InvalidName("dangling '\\' at the end of a name")),
                    };
                    started = true;
                    if dotted { &mut kind } else { &mut id }.push(escaped);
                }
                c => {
                    started = true;
                    if dotted { &mut kind } else { &mut id }.push(c);
                }
            }
            if id.len() > MAX_COMPONENT_LEN || kind.len() > MAX_COMPONENT_LEN {
                return Err(InvalidName("name component too long"));
            }
        }
        finish(&mut id, &mut kind, dotted, started, &mut components)?;
        Ok(Self(components))
    }

    /// The INS stringified form (`CosNaming::NamingContextExt::to_string`);
    /// the empty name has none.
    pub fn to_string_name(&self) -> Result<String, InvalidName> {
        if self.0.is_empty() {
            return Err(InvalidName("empty name"));
        }
        Ok(self.to_string())
    }

    /// Reads a `Name` from CDR, at most [`MAX_NAME_COMPONENTS`] components.
    pub fn read(r: &mut CdrReader) -> crate::Result<Self> {
        // A component is at least two string lengths and two NULs.
        let len = r.read_length(10)?;
        if len > MAX_NAME_COMPONENTS {
            return Err(limit("name components", len, MAX_NAME_COMPONENTS));
        }
        let mut components = Vec::with_capacity(len);
        for _ in 0..len {
            components.push(NameComponent::read(r)?);
        }
        Ok(Self(components))
    }

    /// Writes the name to CDR.
    pub fn write(&self, w: &mut CdrWriter<'_>) -> crate::Result<()> {
        w.write_sequence(&self.0, |w, c| c.write(w))
    }
}

fn escape(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    for c in text.chars() {
        if matches!(c, '/' | '.' | '\\') {
            f.write_str("\\")?;
        }
        write!(f, "{c}")?;
    }
    Ok(())
}

/// Writes the INS stringified form; the empty name writes nothing.
impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, component) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("/")?;
            }
            component.fmt(f)?;
        }
        Ok(())
    }
}

/// `id`, `id.kind`, `.kind`, or `.` when both are empty.
impl fmt::Display for NameComponent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        escape(f, &self.id)?;
        if !self.kind.is_empty() || self.id.is_empty() {
            f.write_str(".")?;
            escape(f, &self.kind)?;
        }
        Ok(())
    }
}

impl FromStr for Name {
    type Err = InvalidName;

    fn from_str(s: &str) -> Result<Self, InvalidName> {
        Self::to_name(s)
    }
}

impl From<Vec<NameComponent>> for Name {
    fn from(components: Vec<NameComponent>) -> Self {
        Self(components)
    }
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;
    use proptest::prelude::*;

    use super::*;
    use crate::GiopVersion;
    use crate::cdr::ByteOrder;

    fn nc(id: &str, kind: &str) -> NameComponent {
        NameComponent::new(id, kind)
    }

    #[test]
    fn ins_examples() {
        let cases: &[(&str, &[(&str, &str)])] = &[
            ("a", &[("a", "")]),
            ("a.b", &[("a", "b")]),
            ("a/b.kind/c", &[("a", ""), ("b", "kind"), ("c", "")]),
            (".", &[("", "")]),
            (".k", &[("", "k")]),
            ("./x", &[("", ""), ("x", "")]),
            ("a\\/b", &[("a/b", "")]),
            ("a\\.b.c\\.d", &[("a.b", "c.d")]),
            ("a\\\\", &[("a\\", "")]),
            ("grüße.déjà vu", &[("grüße", "déjà vu")]),
        ];
        for (text, components) in cases {
            let name = Name::to_name(text).unwrap();
            let expected: Vec<_> = components.iter().map(|(i, k)| nc(i, k)).collect();
            assert_eq!(name.0, expected, "{text}");
            assert_eq!(name.to_string(), *text, "{text}");
        }
    }

    #[test]
    fn invalid_stringified_names() {
        for (text, why) in [
            ("", "empty name"),
            ("/", "empty name component"),
            ("a/", "empty name component"),
            ("/a", "empty name component"),
            ("a//b", "empty name component"),
            ("a.b.c", "second '.' in a name component"),
            ("..", "second '.' in a name component"),
            ("a.", "trailing '.' in a name component"),
            ("a\\", "dangling '\\' at the end of a name"),
            ("a\\x", "unknown escape in a name"),
        ] {
            assert_eq!(Name::to_name(text), Err(InvalidName(why)), "{text:?}");
        }
        let many = vec!["x"; MAX_NAME_COMPONENTS + 1].join("/");
        assert_eq!(
            Name::to_name(&many),
            Err(InvalidName("too many name components"))
        );
        let long = "x".repeat(MAX_COMPONENT_LEN + 1);
        assert_eq!(
            Name::to_name(&long),
            Err(InvalidName("name component too long"))
        );
        assert_eq!(
            Name::default().to_string_name(),
            Err(InvalidName("empty name"))
        );
        assert_eq!(Name::default().validate(), Err(InvalidName("empty name")));
    }

    #[test]
    fn cdr_round_trip_and_limits() {
        let name = Name(vec![nc("a", ""), nc("b", "k")]);
        for order in [ByteOrder::BigEndian, ByteOrder::LittleEndian] {
            let mut buf = BytesMut::new();
            name.write(&mut CdrWriter::new(&mut buf, order, GiopVersion::V1_0))
                .unwrap();
            let mut r = CdrReader::new(buf.freeze(), order, GiopVersion::V1_0);
            assert_eq!(Name::read(&mut r).unwrap(), name);
            r.finish().unwrap();
        }
        let too_many = Name(vec![nc("", ""); MAX_NAME_COMPONENTS + 1]);
        let mut buf = BytesMut::new();
        too_many
            .write(&mut CdrWriter::new(
                &mut buf,
                ByteOrder::BigEndian,
                GiopVersion::V1_2,
            ))
            .unwrap();
        let mut r = CdrReader::new(buf.freeze(), ByteOrder::BigEndian, GiopVersion::V1_2);
        assert!(Name::read(&mut r).is_err());
        // A count larger than the bytes that remain allocates nothing.
        let mut r = CdrReader::new(
            bytes::Bytes::from_static(b"\xff\xff\xff\xff"),
            ByteOrder::BigEndian,
            GiopVersion::V1_2,
        );
        assert!(Name::read(&mut r).is_err());
    }

    proptest! {
        #[test]
        fn stringified_names_round_trip(
            components in proptest::collection::vec(("[a-z./\\\\é]{0,6}", "[a-z./\\\\]{0,6}"), 1..6),
        ) {
            let name = Name(components.into_iter().map(|(id, kind)| NameComponent { id, kind }).collect());
            let text = name.to_string();
            prop_assert_eq!(Name::to_name(&text), Ok(name));
        }

        #[test]
        fn arbitrary_text_never_panics(text in "[a-z./\\\\é]{0,30}") {
            if let Ok(name) = Name::to_name(&text) {
                prop_assert_eq!(Name::to_name(&name.to_string()), Ok(name));
            }
        }
    }
}
