//! Code-set negotiation (CORBA 3.0 §13.10.2): which transmission code sets
//! a connection uses for `char`/`string` and `wchar`/`wstring`.
//!
//! A server names the code sets it handles in the `TAG_CODE_SETS`
//! component of its IIOP profiles: a native code set and conversion code
//! sets, for narrow and for wide characters. A client picks the
//! transmission code sets from that component and its own
//! ([`CodeSetPolicy::negotiate`], the table of §13.10.2.6), then tells the
//! server with the CodeSets service context on the first request of the
//! connection ([`CodeSets::to_context`]); the server reads it back with
//! [`CodeSets::from_context`] and both ends use the result for every
//! message of that connection.
//!
//! The rules, in order, for each of char and wchar data:
//!
//! 1. the client's native code set is the server's native code set: use it;
//! 2. the client's native code set is one the server converts from: use the
//!    client's;
//! 3. the server's native code set is one the client converts to: use the
//!    server's;
//! 4. a conversion code set both have: use the first the client lists;
//! 5. otherwise the fallback, UTF-8 for char and UTF-16 for wchar, when the
//!    client supports it; else CODESET_INCOMPATIBLE.
//!
//! Without a `TAG_CODE_SETS` component (or in GIOP 1.0, which has no
//! negotiation) char data is ISO-8859-1 and there is no wide code set:
//! sending a `wchar` is then an error (INV_OBJREF on a client, BAD_PARAM on
//! a server, MARSHAL in GIOP 1.0). Ithaca supports ISO-8859-1 and UTF-8 for
//! char data and UTF-16 for wchar data.

use std::fmt;

use crate::cdr::{ByteOrder, CharCodeSet, WcharCodeSet};
use crate::error::Result;
use crate::giop::{CodeSetContext, ServiceContext};
use crate::ior::{CodeSetComponent, CodeSetComponentInfo, TaggedComponent};

/// The OSF registry id of ISO 8859-1.
pub const ISO_8859_1: u32 = CharCodeSet::ISO_8859_1_ID;
/// The OSF registry id of UTF-8.
pub const UTF_8: u32 = CharCodeSet::UTF_8_ID;
/// The OSF registry id of UTF-16.
pub const UTF_16: u32 = WcharCodeSet::UTF_16_ID;
/// The OSF registry id of UCS-2 level 1 (named in some IORs; not
/// supported here).
pub const UCS_2: u32 = 0x0001_0100;

/// The code sets a connection transmits characters in.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub struct CodeSets {
    /// For `char` and `string`.
    pub char_data: CharCodeSet,
    /// For `wchar` and `wstring`; `None` when none was negotiated.
    pub wchar_data: Option<WcharCodeSet>,
}

impl Default for CodeSets {
    /// What applies without negotiation: ISO-8859-1, no wide code set.
    fn default() -> Self {
        Self::UNNEGOTIATED
    }
}

impl CodeSets {
    /// What applies without negotiation (GIOP 1.0, a reference without
    /// `TAG_CODE_SETS`, a client that sent no CodeSets context):
    /// ISO-8859-1 for char data and no wide code set.
    pub const UNNEGOTIATED: Self = Self {
        char_data: CharCodeSet::Iso8859_1,
        wchar_data: None,
    };

    /// Reads a client's CodeSets service context, as a server does.
    ///
    /// A wchar code set of 0 means the client sends no wide characters. A
    /// code set Ithaca does not support is a [`CodeSetError`] (the server
    /// answers CODESET_INCOMPATIBLE).
    pub fn from_context(context: &CodeSetContext) -> std::result::Result<Self, CodeSetError> {
        let char_data = CharCodeSet::from_registry_id(context.char_data)
            .ok_or(CodeSetError::Unsupported(context.char_data))?;
        let wchar_data = match context.wchar_data {
            0 => None,
            id => Some(WcharCodeSet::from_registry_id(id).ok_or(CodeSetError::Unsupported(id))?),
        };
        Ok(Self {
            char_data,
            wchar_data,
        })
    }

    /// The CodeSets context that announces these code sets.
    pub fn to_context(&self) -> CodeSetContext {
        CodeSetContext {
            char_data: self.char_data.registry_id(),
            wchar_data: self.wchar_data.map_or(0, WcharCodeSet::registry_id),
        }
    }

    /// The CodeSets context as a service context in `byte_order`.
    pub fn to_service_context(&self, byte_order: ByteOrder) -> ServiceContext {
        self.to_context().to_service_context(byte_order)
    }
}

/// Why no transmission code set could be chosen.
#[derive(Clone, Copy, Debug, Eq, PartialEq, thiserror::Error)]
pub enum CodeSetError {
    /// The peer named a code set Ithaca cannot convert (OSF registry id).
    #[error("unsupported code set {0:#010x}")]
    Unsupported(u32),
    /// Neither a common code set nor the fallback works for char data.
    #[error("no char code set in common with the server (native {0:#010x})")]
    IncompatibleChar(u32),
}

impl CodeSetError {
    /// The system exception that reports it: `CODESET_INCOMPATIBLE`.
    pub const EXCEPTION: &'static str = "CODESET_INCOMPATIBLE";
}

/// The code sets one ORB supports: which char code set it prefers (native),
/// and the conversions it offers. Wide data is always UTF-16.
#[derive(Clone, Copy, Debug, Default, Eq, Hash, PartialEq)]
pub struct CodeSetPolicy {
    /// The native char code set; the other supported one is offered as a
    /// conversion code set. ISO-8859-1 by default, as omniORB.
    pub native_char: CharCodeSet,
}

impl CodeSetPolicy {
    /// A policy with this native char code set.
    pub fn new(native_char: CharCodeSet) -> Self {
        Self { native_char }
    }

    /// What this ORB announces in its references' `TAG_CODE_SETS`.
    pub fn component_info(&self) -> CodeSetComponentInfo {
        let other = match self.native_char {
            CharCodeSet::Iso8859_1 => CharCodeSet::Utf8,
            CharCodeSet::Utf8 => CharCodeSet::Iso8859_1,
        };
        CodeSetComponentInfo {
            for_char_data: CodeSetComponent {
                native_code_set: self.native_char.registry_id(),
                conversion_code_sets: vec![other.registry_id()],
            },
            for_wchar_data: CodeSetComponent {
                native_code_set: UTF_16,
                conversion_code_sets: Vec::new(),
            },
        }
    }

    /// The `TAG_CODE_SETS` component for references this ORB publishes.
    pub fn tagged_component(&self, byte_order: ByteOrder) -> Result<TaggedComponent> {
        self.component_info().to_tagged_component(byte_order)
    }

    /// The transmission code sets for talking to a server that announced
    /// `server` (`None`: its reference had no `TAG_CODE_SETS`).
    pub fn negotiate(
        &self,
        server: Option<&CodeSetComponentInfo>,
    ) -> std::result::Result<CodeSets, CodeSetError> {
        let Some(server) = server else {
            return Ok(CodeSets::UNNEGOTIATED);
        };
        let ours = self.component_info();
        let char_id = choose(&ours.for_char_data, &server.for_char_data, UTF_8).ok_or(
            CodeSetError::IncompatibleChar(server.for_char_data.native_code_set),
        )?;
        let char_data =
            CharCodeSet::from_registry_id(char_id).ok_or(CodeSetError::Unsupported(char_id))?;
        // A server that names no wide code set (native 0, no conversions)
        // takes no wide data; otherwise UTF-16, which every wide-capable
        // ORB must accept as the fallback.
        let wchar_data = if server.for_wchar_data.native_code_set == 0
            && server.for_wchar_data.conversion_code_sets.is_empty()
        {
            None
        } else {
            choose(&ours.for_wchar_data, &server.for_wchar_data, UTF_16)
                .and_then(WcharCodeSet::from_registry_id)
        };
        Ok(CodeSets {
            char_data,
            wchar_data,
        })
    }
}

/// One row of the negotiation table: the transmission code set for a
/// client and server, or `None` when even the fallback is not one the
/// client supports.
pub fn choose(client: &CodeSetComponent, server: &CodeSetComponent, fallback: u32) -> Option<u32> {
    let client_supports =
        |id: u32| client.native_code_set == id || client.conversion_code_sets.contains(&id);
    if client.native_code_set == server.native_code_set {
        return Some(client.native_code_set);
    }
    if server
        .conversion_code_sets
        .contains(&client.native_code_set)
    {
        return Some(client.native_code_set);
    }
    if client
        .conversion_code_sets
        .contains(&server.native_code_set)
    {
        return Some(server.native_code_set);
    }
    if let Some(common) = client
        .conversion_code_sets
        .iter()
        .find(|id| server.conversion_code_sets.contains(id))
    {
        return Some(*common);
    }
    client_supports(fallback).then_some(fallback)
}

impl CodeSetComponentInfo {
    /// Encodes the `TAG_CODE_SETS` component.
    pub fn to_tagged_component(&self, byte_order: ByteOrder) -> Result<TaggedComponent> {
        TaggedComponent::encapsulated(TaggedComponent::TAG_CODE_SETS, byte_order, |w| {
            for component in [&self.for_char_data, &self.for_wchar_data] {
                w.write_ulong(component.native_code_set);
                w.write_sequence(&component.conversion_code_sets, |w, id| {
                    w.write_ulong(*id);
                    Ok(())
                })?;
            }
            Ok(())
        })
    }
}

impl fmt::Display for CodeSets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let char_name = match self.char_data {
            CharCodeSet::Iso8859_1 => "ISO-8859-1",
            CharCodeSet::Utf8 => "UTF-8",
        };
        match self.wchar_data {
            Some(WcharCodeSet::Utf16) => write!(f, "char {char_name}, wchar UTF-16"),
            None => write!(f, "char {char_name}, no wchar"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn component(native: u32, conversions: &[u32]) -> CodeSetComponent {
        CodeSetComponent {
            native_code_set: native,
            conversion_code_sets: conversions.to_vec(),
        }
    }

    const EBCDIC: u32 = 0x1001_0025;
    const SJIS: u32 = 0x0003_0001;

    #[test]
    fn the_negotiation_table() {
        let cases: &[(&str, CodeSetComponent, CodeSetComponent, Option<u32>)] = &[
            (
                "same native",
                component(ISO_8859_1, &[]),
                component(ISO_8859_1, &[]),
                Some(ISO_8859_1),
            ),
            (
                "server converts from the client's native",
                component(UTF_8, &[ISO_8859_1]),
                component(ISO_8859_1, &[UTF_8]),
                Some(UTF_8),
            ),
            (
                "client converts to the server's native",
                component(EBCDIC, &[ISO_8859_1]),
                component(ISO_8859_1, &[]),
                Some(ISO_8859_1),
            ),
            (
                "a conversion code set in common, the client's first",
                component(EBCDIC, &[SJIS, UTF_8]),
                component(ISO_8859_1, &[UTF_8, SJIS]),
                Some(SJIS),
            ),
            (
                "the fallback when the client has it",
                component(ISO_8859_1, &[UTF_8]),
                component(EBCDIC, &[]),
                Some(UTF_8),
            ),
            (
                "nothing in common and no fallback",
                component(ISO_8859_1, &[]),
                component(EBCDIC, &[]),
                None,
            ),
        ];
        for (what, client, server, expected) in cases {
            assert_eq!(choose(client, server, UTF_8), *expected, "{what}");
        }
    }

    fn omniorb() -> CodeSetComponentInfo {
        CodeSetComponentInfo {
            for_char_data: component(ISO_8859_1, &[UTF_8]),
            for_wchar_data: component(UTF_16, &[]),
        }
    }

    #[test]
    fn against_omniorb_each_native_char_code_set_is_kept() {
        let latin1 = CodeSetPolicy::default().negotiate(Some(&omniorb()));
        assert_eq!(
            latin1,
            Ok(CodeSets {
                char_data: CharCodeSet::Iso8859_1,
                wchar_data: Some(WcharCodeSet::Utf16),
            })
        );
        let utf8 = CodeSetPolicy::new(CharCodeSet::Utf8).negotiate(Some(&omniorb()));
        assert_eq!(utf8.map(|c| c.char_data), Ok(CharCodeSet::Utf8));
    }

    #[test]
    fn no_component_means_latin1_and_no_wchar() {
        assert_eq!(
            CodeSetPolicy::default().negotiate(None),
            Ok(CodeSets::UNNEGOTIATED)
        );
        let no_wide = CodeSetComponentInfo {
            for_wchar_data: component(0, &[]),
            ..omniorb()
        };
        assert_eq!(
            CodeSetPolicy::default()
                .negotiate(Some(&no_wide))
                .map(|c| c.wchar_data),
            Ok(None)
        );
    }

    #[test]
    fn a_server_with_another_wide_native_set_gets_the_utf16_fallback() {
        let ucs2 = CodeSetComponentInfo {
            for_wchar_data: component(UCS_2, &[]),
            ..omniorb()
        };
        assert_eq!(
            CodeSetPolicy::default()
                .negotiate(Some(&ucs2))
                .map(|c| c.wchar_data),
            Ok(Some(WcharCodeSet::Utf16))
        );
    }

    #[test]
    fn an_incompatible_server_is_refused() {
        let ebcdic = CodeSetComponentInfo {
            for_char_data: component(EBCDIC, &[]),
            ..omniorb()
        };
        // The fallback UTF-8 is ours, so it is chosen; the server must
        // then convert (every ORB that converts supports UTF-8).
        assert_eq!(
            CodeSetPolicy::default()
                .negotiate(Some(&ebcdic))
                .map(|c| c.char_data),
            Ok(CharCodeSet::Utf8)
        );
        assert_eq!(
            CodeSets::from_context(&CodeSetContext {
                char_data: EBCDIC,
                wchar_data: UTF_16,
            }),
            Err(CodeSetError::Unsupported(EBCDIC))
        );
    }

    #[test]
    fn contexts_round_trip() {
        for sets in [
            CodeSets::UNNEGOTIATED,
            CodeSets {
                char_data: CharCodeSet::Utf8,
                wchar_data: Some(WcharCodeSet::Utf16),
            },
        ] {
            assert_eq!(CodeSets::from_context(&sets.to_context()), Ok(sets));
        }
    }

    proptest::proptest! {
        /// Whatever the server announces, the choice is one the client can
        /// produce (its native, a conversion code set or the fallback), and
        /// one the server takes unless only the fallback was left.
        #[test]
        fn the_choice_is_always_one_the_client_supports(
            client_native in 0u32..6,
            client_conversions in proptest::collection::vec(0u32..6, 0..4),
            server_native in 0u32..6,
            server_conversions in proptest::collection::vec(0u32..6, 0..4),
        ) {
            let client = component(client_native, &client_conversions);
            let server = component(server_native, &server_conversions);
            let fallback = 5;
            if let Some(chosen) = choose(&client, &server, fallback) {
                let client_has = chosen == client_native || client_conversions.contains(&chosen);
                let server_has = chosen == server_native || server_conversions.contains(&chosen);
                proptest::prop_assert!(client_has || chosen == fallback);
                proptest::prop_assert!(server_has || chosen == fallback);
            } else {
                proptest::prop_assert!(client_native != fallback && !client_conversions.contains(&fallback));
            }
            if client_native == server_native {
                proptest::prop_assert_eq!(choose(&client, &server, fallback), Some(client_native));
            }
        }
    }

    #[test]
    fn the_published_component_matches_omniorbs_layout() {
        let component = CodeSetPolicy::default()
            .tagged_component(ByteOrder::LittleEndian)
            .unwrap();
        // omniORB 4.2.5's TAG_CODE_SETS (from the golden IOR): ISO-8859-1
        // native, UTF-8 conversion, UTF-16 native wide.
        assert_eq!(
            &component.component_data[..],
            b"\x01\x00\x00\x00\x01\x00\x01\x00\x01\x00\x00\x00\x01\x00\x01\x05\
              \x09\x01\x01\x00\x00\x00\x00\x00"
        );
        assert_eq!(component.tag, TaggedComponent::TAG_CODE_SETS);
    }
}
