//! `corbaname:` URLs (Interoperable Naming Service).
//!
//! `corbaname:<corbaloc addresses>[/<key>][#<stringified name>]` names an
//! object by a naming context (reached like a `corbaloc:` URL, key
//! `NameService` by default) and a name to resolve in it. The name after
//! `#` is `%`-escaped like a URL, then parsed as an INS stringified name;
//! without it the URL names the context itself.

use std::fmt;
use std::str::FromStr;

use bytes::Bytes;

use super::name::Name;
use crate::error::{Error, Result};
use crate::ior::{Corbaloc, CorbalocAddress};

/// The object key of a naming service when a `corbaname:` URL names none.
pub const DEFAULT_NAMING_KEY: &str = "NameService";

/// The longest `corbaname:` URL accepted, in bytes.
pub const MAX_URL_LEN: usize = 64 * 1024;

/// A parsed `corbaname:` URL.
#[derive(Clone, Debug, Eq, Hash, PartialEq)]
pub struct Corbaname {
    /// Where the naming context is: its addresses and object key (never
    /// empty; `NameService` unless the URL names another).
    pub context: Corbaloc,
    /// The name to resolve in the context; `None` names the context itself.
    pub name: Option<Name>,
}

impl Corbaname {
    /// Parses a `corbaname:` URL (case-insensitive prefix, surrounding
    /// whitespace ignored).
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        if text.len() > MAX_URL_LEN {
            return Err(Error::InvalidReference("corbaname url too long"));
        }
        let rest = text
            .get(..10)
            .filter(|prefix| prefix.eq_ignore_ascii_case("corbaname:"))
            .and_then(|_| text.get(10..))
            .ok_or(Error::InvalidReference("missing corbaname: prefix"))?;
        let (location, fragment) = match rest.split_once('#') {
            Some((location, fragment)) => (location, Some(fragment)),
            None => (rest, None),
        };
        let mut context = Corbaloc::parse(&format!("corbaloc:{location}"))?;
        if context.key.is_empty() {
            context.key = Bytes::from_static(DEFAULT_NAMING_KEY.as_bytes());
        }
        let name = match fragment {
            None | Some("") => None,
            Some(fragment) => {
                let decoded = String::from_utf8(crate::ior::url_escape::percent_decode(
                    fragment,
                    "invalid %-escape in corbaname name",
                )?)
                .map_err(|_| Error::InvalidReference("corbaname name is not utf-8"))?;
                Some(Name::to_name(&decoded).map_err(|e| Error::InvalidReference(e.0))?)
            }
        };
        Ok(Self { context, name })
    }

    /// Whether the naming context is an initial reference (`corbaname:rir:`).
    pub fn is_rir(&self) -> bool {
        self.context.addresses.contains(&CorbalocAddress::Rir)
    }
}

/// Escapes a stringified name for use after `#`
/// (`CosNaming::NamingContextExt::to_url`).
pub fn escape_url_name(string_name: &str) -> String {
    crate::ior::url_escape::percent_encode(string_name.as_bytes())
}

/// Writes the canonical form: the context as canonical corbaloc addresses
/// and key, then `#` and the escaped name if there is one.
impl fmt::Display for Corbaname {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let context = self.context.to_string();
        let location = context.strip_prefix("corbaloc:").unwrap_or(&context);
        write!(f, "corbaname:{location}")?;
        if let Some(name) = &self.name {
            write!(f, "#{}", escape_url_name(&name.to_string()))?;
        }
        Ok(())
    }
}

impl FromStr for Corbaname {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::ior::DEFAULT_CORBALOC_PORT;
    use crate::naming::NameComponent;
    use crate::version::Version;

    #[test]
    fn omniorb_style_urls() {
        let url: Corbaname = "corbaname::127.0.0.1:12350#Account".parse().unwrap();
        assert_eq!(
            url.context.addresses,
            [CorbalocAddress::Iiop {
                version: Version::new(1, 0),
                host: "127.0.0.1".into(),
                port: 12350
            }]
        );
        assert_eq!(&url.context.key[..], b"NameService");
        assert_eq!(url.name, Some(Name::simple("Account")));
        assert!(!url.is_rir());

        let url: Corbaname = "CORBANAME:iiop:1.2@host/Other#a/b.kind".parse().unwrap();
        assert_eq!(
            url.context.addresses,
            [CorbalocAddress::Iiop {
                version: Version::new(1, 2),
                host: "host".into(),
                port: DEFAULT_CORBALOC_PORT
            }]
        );
        assert_eq!(&url.context.key[..], b"Other");
        assert_eq!(
            url.name,
            Some(Name(vec![
                NameComponent::new("a", ""),
                NameComponent::new("b", "kind")
            ]))
        );
        assert_eq!(
            url.to_string(),
            "corbaname:iiop:1.2@host:2809/Other#a/b.kind"
        );

        let url: Corbaname = "corbaname:rir:#x".parse().unwrap();
        assert!(url.is_rir());
        assert_eq!(&url.context.key[..], b"NameService");
        let url: Corbaname = "corbaname:rir:/NameService".parse().unwrap();
        assert!(url.is_rir());
        assert_eq!(url.name, None);
        let url: Corbaname = "corbaname::h:1#".parse().unwrap();
        assert_eq!(url.name, None);
        assert_eq!(url.to_string(), "corbaname:iiop:1.0@h:1/NameService");
    }

    #[test]
    fn escapes_in_the_name() {
        let url: Corbaname = "corbaname::h#a%20b/c%5C.d.k%C3%A9".parse().unwrap();
        assert_eq!(
            url.name,
            Some(Name(vec![
                NameComponent::new("a b", ""),
                NameComponent::new("c.d", "ké")
            ]))
        );
        assert_eq!(
            url.to_string(),
            "corbaname:iiop:1.0@h:2809/NameService#a%20b/c%5C.d.k%C3%A9"
        );
        assert_eq!(url.to_string().parse::<Corbaname>(), Ok(url));
    }

    #[test]
    fn malformed_urls_are_refused() {
        for text in [
            "corbaloc::h/NameService",
            "corbaname:",
            "corbaname:ssliop:h#a",
            "corbaname::h:x#a",
            "corbaname::h#a%2",
            "corbaname::h#a%zz",
            "corbaname::h#%FF",
            "corbaname::h#a//b",
            "corbaname::h#a.b.c",
            "corbaname::h#a\\q",
            "corbaname:rir:h#a",
        ] {
            assert!(Corbaname::parse(text).is_err(), "{text} was accepted");
        }
        let long = format!("corbaname::h#{}", "a".repeat(MAX_URL_LEN));
        assert!(Corbaname::parse(&long).is_err());
    }

    proptest! {
        #[test]
        fn canonical_form_round_trips(
            host in "[a-z0-9.-]{1,12}",
            port in any::<u16>(),
            components in proptest::collection::vec(("[ -~é]{0,6}", "[ -~]{0,6}"), 0..4),
        ) {
            let name = (!components.is_empty()).then(|| {
                Name(components.into_iter().map(|(id, kind)| NameComponent { id, kind }).collect())
            });
            let url = Corbaname {
                context: Corbaloc::parse(&format!("corbaloc::{host}:{port}/NameService")).unwrap(),
                name,
            };
            prop_assert_eq!(url.to_string().parse::<Corbaname>(), Ok(url));
        }

        #[test]
        fn arbitrary_text_never_panics(text in "corbaname:[ -~é]{0,40}") {
            let _ = Corbaname::parse(&text);
        }
    }
}
